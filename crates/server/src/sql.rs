//! `tarn sql`: SQL against a running tarn, over its PostgreSQL wire port.
//!
//! Credentials come from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (or `TARN_ROOT_*`), else
//! from the data dir's generated root credentials. With no SQL argument it reads statements
//! from stdin, each ending with `;`, and prints each result.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use tokio_postgres::{NoTls, SimpleQueryMessage};

#[derive(clap::Args)]
pub struct SqlArgs {
    /// The statement to run; without it, an interactive shell reads statements from stdin.
    sql: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: OutputFormat,
    /// tarn's PostgreSQL wire address.
    #[arg(long, env = "TARN_PG_LISTEN", default_value = "127.0.0.1:5439")]
    pg: String,
    /// The default Glue database for unqualified table names.
    #[arg(long, short = 'd', default_value = "default")]
    database: String,
    /// Where to find generated root credentials when no access key is in the environment.
    #[arg(long, env = "TARN_DATA_DIR", default_value = "./tarn-data")]
    data_dir: PathBuf,
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq)]
enum OutputFormat {
    Table,
    Csv,
    Json,
}

fn credentials(data_dir: &std::path::Path) -> Result<(String, String), String> {
    let env = |a: &str, b: &str| std::env::var(a).or_else(|_| std::env::var(b)).ok();
    if let (Some(k), Some(s)) = (
        env("AWS_ACCESS_KEY_ID", "TARN_ROOT_ACCESS_KEY_ID"),
        env("AWS_SECRET_ACCESS_KEY", "TARN_ROOT_SECRET_ACCESS_KEY"),
    ) {
        return Ok((k, s));
    }
    let path = data_dir.join("keys/root-credentials.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!("no AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY set and {} unreadable: {e}", path.display())
    })?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let get = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    match (get("access_key_id"), get("secret_access_key")) {
        (Some(k), Some(s)) => Ok((k, s)),
        _ => Err(format!("{} does not hold a key pair", path.display())),
    }
}

/// Prints one result: column names and text rows (None = NULL).
fn print(
    format: OutputFormat,
    columns: &[String],
    rows: &[Vec<Option<String>>],
    out: &mut impl Write,
) -> std::io::Result<()> {
    match format {
        OutputFormat::Csv => {
            let field = |s: &str| {
                if s.contains([',', '"', '\n', '\r']) {
                    format!("\"{}\"", s.replace('"', "\"\""))
                } else {
                    s.to_string()
                }
            };
            writeln!(out, "{}", columns.iter().map(|c| field(c)).collect::<Vec<_>>().join(","))?;
            for r in rows {
                writeln!(
                    out,
                    "{}",
                    r.iter().map(|v| v.as_deref().map(field).unwrap_or_default()).collect::<Vec<_>>().join(",")
                )?;
            }
        }
        OutputFormat::Json => {
            // one object per row, members in column order, values as text (NULL as null)
            for r in rows {
                let members: Vec<String> = columns
                    .iter()
                    .zip(r)
                    .map(|(c, v)| {
                        let value = v.clone().map_or(serde_json::Value::Null, serde_json::Value::String);
                        format!("{}:{value}", serde_json::Value::String(c.clone()))
                    })
                    .collect();
                writeln!(out, "{{{}}}", members.join(","))?;
            }
        }
        OutputFormat::Table => {
            let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "NULL".into());
            let mut widths: Vec<usize> = columns.iter().map(|c| c.chars().count()).collect();
            for r in rows {
                for (w, v) in widths.iter_mut().zip(r) {
                    *w = (*w).max(shown(v).chars().count());
                }
            }
            let line = |cells: Vec<String>| -> String {
                cells.iter().zip(&widths).map(|(c, w)| format!(" {c:<w$} ")).collect::<Vec<_>>().join("|")
            };
            writeln!(out, "{}", line(columns.to_vec()))?;
            writeln!(out, "{}", widths.iter().map(|w| "-".repeat(w + 2)).collect::<Vec<_>>().join("+"))?;
            for r in rows {
                writeln!(out, "{}", line(r.iter().map(shown).collect()))?;
            }
            writeln!(out, "({} row{})", rows.len(), if rows.len() == 1 { "" } else { "s" })?;
        }
    }
    Ok(())
}

async fn run_one(client: &tokio_postgres::Client, sql: &str, format: OutputFormat) -> Result<(), String> {
    let messages = client.simple_query(sql).await.map_err(|e| match e.as_db_error() {
        Some(db) => format!("ERROR: {}", db.message()),
        None => format!("ERROR: {e}"),
    })?;
    let mut columns: Vec<String> = Vec::new();
    let mut rows: Vec<Vec<Option<String>>> = Vec::new();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for m in messages {
        match m {
            SimpleQueryMessage::RowDescription(desc) => {
                columns = desc.iter().map(|c| c.name().to_string()).collect();
            }
            SimpleQueryMessage::Row(row) => {
                if columns.is_empty() {
                    columns = row.columns().iter().map(|c| c.name().to_string()).collect();
                }
                rows.push((0..row.len()).map(|i| row.get(i).map(str::to_string)).collect());
            }
            SimpleQueryMessage::CommandComplete(_) => {
                if !columns.is_empty() {
                    print(format, &columns, &rows, &mut out).map_err(|e| e.to_string())?;
                } else if format == OutputFormat::Table {
                    writeln!(out, "OK").map_err(|e| e.to_string())?;
                }
                columns.clear();
                rows.clear();
            }
            _ => {}
        }
    }
    Ok(())
}

pub async fn run(args: SqlArgs) -> Result<(), Box<dyn std::error::Error>> {
    let (key, secret) = credentials(&args.data_dir)?;
    let (host, port) = args.pg.rsplit_once(':').ok_or_else(|| format!("--pg {}: expected HOST:PORT", args.pg))?;
    let mut config = tokio_postgres::Config::new();
    config.host(host).port(port.parse()?).user(&key).password(&secret).dbname(&args.database);
    let (client, connection) =
        config.connect(NoTls).await.map_err(|e| format!("cannot reach tarn's SQL port at {}: {e}", args.pg))?;
    tokio::spawn(connection);
    if let Some(sql) = args.sql {
        return run_one(&client, &sql, args.format).await.map_err(Into::into);
    }
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    let mut buffer = String::new();
    let prompt = |continued: bool| {
        if interactive {
            print!("{}", if continued { "  -> " } else { "tarn> " });
            let _ = std::io::stdout().flush();
        }
    };
    prompt(false);
    let mut failed = false;
    for line in stdin.lock().lines() {
        let line = line?;
        buffer.push_str(&line);
        buffer.push('\n');
        if line.trim_end().ends_with(';') {
            let sql = buffer.trim().trim_end_matches(';').to_string();
            buffer.clear();
            if !sql.is_empty()
                && let Err(e) = run_one(&client, &sql, args.format).await
            {
                eprintln!("{e}");
                failed = true;
            }
        }
        prompt(!buffer.trim().is_empty());
    }
    if !buffer.trim().is_empty()
        && let Err(e) = run_one(&client, buffer.trim(), args.format).await
    {
        eprintln!("{e}");
        failed = true;
    }
    if failed && !interactive {
        return Err("a statement failed".into());
    }
    Ok(())
}
