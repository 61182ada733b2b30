//! The SQL conformance corpus: every `crates/query/sql/*.slt` file, in sqllogictest's format
//! (the one DataFusion's own tests use), run against tarn's [`Engine`]. The records pin the
//! Athena and Trino behaviour tarn implements; each section of a file names the AWS or Trino
//! page it follows.
//!
//! How a file runs:
//! - Each file gets a fresh engine over a temporary store, with a bucket `data` and a Glue
//!   database `db`, which is the session's database (Athena's QueryExecutionContext). Records
//!   run in order; a failing record is reported with its file and line and the file goes on,
//!   so one run shows every difference.
//! - A statement goes to [`Engine::execute_with`] as Athena's StartQueryExecution would give
//!   it: DDL in Hive syntax, queries in Trino syntax. A CTAS without `external_location` writes
//!   under `s3://data/results/tables/<n>/`, one folder per statement, as Athena writes under its
//!   output location.
//! - Values are rendered as tarn's Athena results render them: timestamps as
//!   `2024-01-02 03:04:05.000`, dates as `2024-01-02`, booleans as `true`/`false`. NULL is
//!   `NULL` and the empty string is `(empty)`, sqllogictest's usual spellings.
//! - Column types are checked: `I` for integers, `R` for floating point and decimals, `T` for
//!   everything else (strings, booleans, dates, timestamps, nested values).
//! - Results compare with runs of whitespace made one; `rowsort` where the order is not
//!   defined. sqllogictest's `<slt:ignore>` marker skips what Athena itself varies (the table
//!   properties of SHOW CREATE TABLE).
//!
//! Fixtures: a statement whose text starts with `PUT` is not SQL but an object put into a
//! bucket by this runner (Athena reads tables from S3; the objects are put there first):
//!
//! ```text
//! statement ok
//! PUT s3://data/events/a.csv
//! 1,one,\N
//! 2,two,2.5
//! ```
//!
//! The object's bytes are the lines after the first, each ended by `\n`; no lines make an empty
//! object. Words after the URL change that:
//! - `NOEOL`: the last line has no `\n`.
//! - `ESCAPED`: `\xHH` (two hex digits) is the byte HH, for delimiters such as `\x01`; other
//!   backslashes (LazySimpleSerDe's `\N`) stay as written.
//! - `PARQUET` or `ORC`: the lines are a table to write as a Parquet or ORC file. The first
//!   line is the columns, `name:type` separated by commas, with Hive's type names and the
//!   column names' case kept as written (files written by Spark or pandas keep `UserId`);
//!   each further line is a row, values separated by commas, `NULL` for a null.
//!
//! Set `TARN_SLT=name` to run only the files whose name contains `name`, and
//! `TARN_SLT_COMPLETE=1` to rewrite the expected results with what tarn answers (then check
//! every changed line against Athena's documentation before keeping it).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use sqllogictest::{DBOutput, DefaultColumnType, Record, Runner};
use tarn_catalog::{Catalog, Database};
use tarn_objects::Objects;

use crate::QueryError;
use crate::engine::Engine;

/// The corpus may grow but not shrink below this many records (statements and queries).
const MIN_RECORDS: usize = 600;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sql")
}

/// The corpus files, by name (those whose name contains `TARN_SLT`, when set).
fn corpus_files() -> Vec<PathBuf> {
    let filter = std::env::var("TARN_SLT").unwrap_or_default();
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("crates/query/sql")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.contains(&filter)))
        .collect();
    files.sort();
    files
}

/// One file's engine: a temporary store with the bucket `data` and the database `db`.
struct Fixture {
    _dir: tempfile::TempDir,
    engine: Engine,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = tarn_store::Store::open(dir.path()).expect("a store");
    let objects = Objects::open(store.clone(), "us-east-1").await.expect("objects");
    objects.create_bucket("data").await.expect("the bucket data");
    let catalog = Catalog::open(store, "000000000000").await.expect("a catalog");
    catalog.create_database(Database { name: "db".into(), ..Database::default() }).await.expect("the database db");
    let engine = Engine::new(objects, catalog).expect("an engine");
    Fixture { _dir: dir, engine }
}

/// tarn's engine as a sqllogictest database.
struct TarnDb {
    engine: Engine,
    /// Statements run so far: each CTAS writes to a folder of its own.
    statements: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl sqllogictest::AsyncDB for TarnDb {
    type Error = QueryError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, QueryError> {
        if let Some(put) = sql.strip_prefix("PUT ") {
            self.put(put).await?;
            return Ok(DBOutput::StatementComplete(0));
        }
        let n = self.statements.fetch_add(1, Ordering::Relaxed);
        let ctas = format!("s3://data/results/tables/{n}/");
        let out = self.engine.execute_with(sql, Some("db"), Some(&ctas)).await?;
        let schema = out.schema.clone();
        let batches: Vec<RecordBatch> = out.stream.try_collect().await?;
        if schema.fields().is_empty() {
            return Ok(DBOutput::StatementComplete(0));
        }
        let types = schema.fields().iter().map(|f| column_type(f.data_type())).collect();
        let mut rows = Vec::new();
        for batch in &batches {
            rows.extend(render(batch)?);
        }
        Ok(DBOutput::Rows { types, rows })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "tarn"
    }
}

impl TarnDb {
    /// `PUT s3://bucket/key [NOEOL] [ESCAPED] [PARQUET|ORC]` and the object's lines.
    async fn put(&self, text: &str) -> Result<(), QueryError> {
        let (header, body) = text.split_once('\n').unwrap_or((text, ""));
        let mut words = header.split_whitespace();
        let url = words.next().ok_or_else(|| QueryError::User("PUT needs an s3:// URL".into()))?;
        let (bucket, key) = url
            .strip_prefix("s3://")
            .and_then(|r| r.split_once('/'))
            .ok_or_else(|| QueryError::User(format!("PUT {url}: not s3://bucket/key")))?;
        let (mut eol, mut escaped, mut format) = (true, false, None);
        for word in words {
            match word {
                "NOEOL" => eol = false,
                "ESCAPED" => escaped = true,
                "PARQUET" | "ORC" => format = Some(word),
                other => return Err(QueryError::User(format!("PUT {url}: unknown option {other}"))),
            }
        }
        let bytes = match format {
            Some(format) => columnar(format, body)?,
            None => {
                let mut bytes = if escaped { unescape(body)? } else { body.as_bytes().to_vec() };
                if eol && !body.is_empty() {
                    bytes.push(b'\n');
                }
                bytes
            }
        };
        let store = self.engine.registry().bucket(bucket);
        store
            .put(&crate::engine::store::path_of(key), bytes.into())
            .await
            .map_err(|e| QueryError::Internal(format!("PUT {url}: {e}")))?;
        Ok(())
    }
}

/// `\xHH` as the byte HH; everything else as written.
fn unescape(text: &str) -> Result<Vec<u8>, QueryError> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') {
            let hex = text.get(i + 2..i + 4).unwrap_or("");
            let byte = u8::from_str_radix(hex, 16)
                .map_err(|_| QueryError::User(format!("PUT: '\\x{hex}' is not \\x and two hex digits")))?;
            out.push(byte);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// A Parquet or ORC file of the rows in `body` (a `name:type,...` line, then values).
fn columnar(format: &str, body: &str) -> Result<Vec<u8>, QueryError> {
    let bad = |m: String| QueryError::User(format!("PUT {format}: {m}"));
    let mut lines = body.lines();
    let header = lines.next().ok_or_else(|| bad("no column line".into()))?;
    let mut fields = Vec::new();
    for col in split_top_level(header) {
        let (name, ty) = col.split_once(':').ok_or_else(|| bad(format!("'{col}' is not name:type")))?;
        let ty = tarn_catalog::types::arrow_type(ty).map_err(bad)?;
        fields.push(Field::new(name.trim(), ty, true));
    }
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    if let Some(row) = rows.iter().find(|r| r.len() != fields.len()) {
        return Err(bad(format!("{} values for {} columns: {row:?}", row.len(), fields.len())));
    }
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        let text: StringArray = rows.iter().map(|r| Some(r[i]).filter(|v| *v != "NULL")).collect();
        let array = datafusion::arrow::compute::cast(&text, field.data_type())
            .map_err(|e| bad(format!("column {}: {e}", field.name())))?;
        columns.push(array);
    }
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| bad(e.to_string()))?;
    let mut buf = Vec::new();
    if format == "ORC" {
        let mut w = orc_rust::ArrowWriterBuilder::new(&mut buf, schema).try_build().map_err(|e| bad(e.to_string()))?;
        w.write(&batch).map_err(|e| bad(e.to_string()))?;
        w.close().map_err(|e| bad(e.to_string()))?;
    } else {
        let mut w =
            datafusion::parquet::arrow::ArrowWriter::try_new(&mut buf, schema, None).map_err(|e| bad(e.to_string()))?;
        w.write(&batch).map_err(|e| bad(e.to_string()))?;
        w.close().map_err(|e| bad(e.to_string()))?;
    }
    Ok(buf)
}

/// `text` split at the commas outside parentheses and angle brackets (`decimal(10,2)`,
/// `map<string,int>`).
fn split_top_level(text: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0_i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' | '<' => depth += 1,
            ')' | '>' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// sqllogictest's letter for a column: integers, floating point and decimals, text.
fn column_type(t: &DataType) -> DefaultColumnType {
    match t {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => DefaultColumnType::Integer,
        DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => DefaultColumnType::FloatingPoint,
        _ => DefaultColumnType::Text,
    }
}

/// A batch's rows as text, each value as tarn's Athena results show it.
fn render(batch: &RecordBatch) -> Result<Vec<Vec<String>>, QueryError> {
    let options = FormatOptions::default()
        .with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.3f"))
        .with_timestamp_tz_format(Some("%Y-%m-%d %H:%M:%S%.3f %Z"));
    let formatters: Vec<ArrayFormatter> = batch
        .columns()
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
        .collect::<Result<_, _>>()
        .map_err(|e| QueryError::Internal(e.to_string()))?;
    let mut rows = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        let values = formatters
            .iter()
            .enumerate()
            .map(|(i, f)| {
                if batch.column(i).is_null(row) {
                    "NULL".to_string()
                } else {
                    let v = f.value(row).to_string();
                    if v.is_empty() { "(empty)".to_string() } else { v }
                }
            })
            .collect();
        rows.push(values);
    }
    Ok(rows)
}

fn records(file: &Path) -> Vec<Record<DefaultColumnType>> {
    sqllogictest::parse_file(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

fn is_record(r: &Record<DefaultColumnType>) -> bool {
    matches!(r, Record::Statement { .. } | Record::Query { .. })
}

/// Runs one file on a fresh engine; the failures, each naming the file and line.
async fn run_file(file: &Path) -> Vec<String> {
    let f = fixture().await;
    let engine = f.engine.clone();
    let statements = Arc::new(AtomicUsize::new(0));
    let mut runner = Runner::new(move || {
        let db = TarnDb { engine: engine.clone(), statements: statements.clone() };
        async move { Ok::<_, QueryError>(db) }
    });
    runner.with_column_validator(sqllogictest::strict_column_validator);
    if std::env::var_os("TARN_SLT_COMPLETE").is_some() {
        runner
            .update_test_file(
                file,
                " ",
                sqllogictest::default_validator,
                sqllogictest::default_normalizer,
                sqllogictest::strict_column_validator,
            )
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        return Vec::new();
    }
    let mut failures = Vec::new();
    for record in records(file) {
        if matches!(record, Record::Halt { .. }) {
            break;
        }
        if let Err(e) = runner.run_async(record).await {
            failures.push(e.display(false).to_string());
        }
    }
    failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus() {
    let files = corpus_files();
    assert!(!files.is_empty(), "no .slt files in {}", corpus_dir().display());
    let mut failures = Vec::new();
    for file in &files {
        failures.extend(run_file(file).await);
    }
    assert!(failures.is_empty(), "{} failed record(s):\n\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn the_corpus_does_not_shrink() {
    let mut total = 0;
    let mut per_file = Vec::new();
    for entry in std::fs::read_dir(corpus_dir()).expect("crates/query/sql") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|x| x == "slt") {
            let n = records(&path).iter().filter(|r| is_record(r)).count();
            per_file.push(format!("{}: {n}", path.display()));
            total += n;
        }
    }
    assert!(total >= MIN_RECORDS, "{total} records, fewer than {MIN_RECORDS}: {per_file:?}");
}
