//! TPC-H at scale factor 0.01 as the acceptance test of tarn's SQL: the 8 tables generated with
//! tpchgen-arrow, written as Parquet into a bucket, registered with Athena DDL, and the 22
//! queries run through Athena (boto3) and the PostgreSQL wire (tokio-postgres), each compared
//! with reference answers that DuckDB computed over the same files (tests/tpch/answers/).
//!
//! With `TPCH_DUMP_DIR` set, the test also writes the files to `$TPCH_DUMP_DIR/<table>/part-0.parquet`,
//! which is how the reference answers were made: DuckDB 2.0.1 (not a test dependency), a view
//! `CREATE VIEW <table> AS SELECT * FROM read_parquet('$TPCH_DUMP_DIR/<table>/part-0.parquet')`
//! per table, then `COPY (<qNN.sql>) TO 'qNN.csv' (HEADER)` for each query.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::properties::WriterProperties;
use tarn_testkit::python::run_script;
use tarn_testkit::{ACCESS_KEY_ID, SECRET_ACCESS_KEY, TestServer};
use tokio_postgres::{NoTls, SimpleQueryMessage};
use tpchgen::generators::{
    CustomerGenerator, LineItemGenerator, NationGenerator, OrderGenerator, PartGenerator, PartSuppGenerator,
    RegionGenerator, SupplierGenerator,
};
use tpchgen_arrow::arrow::datatypes::{DataType, SchemaRef};
use tpchgen_arrow::arrow::error::ArrowError;
use tpchgen_arrow::{
    CustomerArrow, LineItemArrow, NationArrow, OrderArrow, PartArrow, PartSuppArrow, RegionArrow, SupplierArrow,
};

const SCALE_FACTOR: f64 = 0.01;
const BUCKET: &str = "tpch";
/// Several row groups per large table, so the readers' row-group pruning has something to do.
const ROW_GROUP_ROWS: usize = 10_000;
/// Relative tolerance for numbers.
const TOLERANCE: f64 = 1e-6;
const QUERIES: usize = 22;
/// Rows per table at SF 0.01, as the reference answers were computed over.
const ROWS: &[(&str, usize)] = &[
    ("nation", 25),
    ("region", 5),
    ("part", 2_000),
    ("supplier", 100),
    ("partsupp", 8_000),
    ("customer", 1_500),
    ("orders", 15_000),
    ("lineitem", 60_175),
];

/// Queries whose ORDER BY leaves ties, so that engines may order the tied rows differently:
/// their rows are compared after sorting both sides. None at SF 0.01 (checked with DuckDB over
/// the same files: no two result rows of any query share their ORDER BY keys, and no LIMIT cuts
/// through a tie); a query goes here if a change of data makes it tie.
const TIED: &[&str] = &[];

fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

/// One generated table: its Arrow schema and the Parquet file's bytes.
struct Generated {
    name: &'static str,
    schema: SchemaRef,
    rows: usize,
    parquet: Vec<u8>,
}

fn to_parquet<I>(name: &'static str, schema: SchemaRef, batches: I) -> Generated
where
    I: Iterator<Item = Result<RecordBatch, ArrowError>>,
{
    let props = WriterProperties::builder().set_max_row_group_row_count(Some(ROW_GROUP_ROWS)).build();
    let mut parquet = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut parquet, schema.clone(), Some(props)).expect("parquet writer");
    let mut rows = 0;
    for batch in batches {
        let batch = batch.unwrap_or_else(|e| panic!("generating {name}: {e}"));
        rows += batch.num_rows();
        writer.write(&batch).unwrap_or_else(|e| panic!("writing {name}: {e}"));
    }
    writer.close().unwrap_or_else(|e| panic!("closing {name}: {e}"));
    Generated { name, schema, rows, parquet }
}

fn generate() -> Vec<Generated> {
    let sf = SCALE_FACTOR;
    vec![
        to_parquet("nation", NationArrow::schema_ref(), NationArrow::new(NationGenerator::new(sf, 1, 1))),
        to_parquet("region", RegionArrow::schema_ref(), RegionArrow::new(RegionGenerator::new(sf, 1, 1))),
        to_parquet("part", PartArrow::schema_ref(), PartArrow::new(PartGenerator::new(sf, 1, 1))),
        to_parquet("supplier", SupplierArrow::schema_ref(), SupplierArrow::new(SupplierGenerator::new(sf, 1, 1))),
        to_parquet("partsupp", PartSuppArrow::schema_ref(), PartSuppArrow::new(PartSuppGenerator::new(sf, 1, 1))),
        to_parquet("customer", CustomerArrow::schema_ref(), CustomerArrow::new(CustomerGenerator::new(sf, 1, 1))),
        to_parquet("orders", OrderArrow::schema_ref(), OrderArrow::new(OrderGenerator::new(sf, 1, 1))),
        to_parquet("lineitem", LineItemArrow::schema_ref(), LineItemArrow::new(LineItemGenerator::new(sf, 1, 1))),
    ]
}

/// The Glue type a column of this Arrow type is declared with.
fn glue_type(t: &DataType) -> String {
    match t {
        DataType::Int32 => "int".into(),
        DataType::Int64 => "bigint".into(),
        DataType::Decimal128(p, s) => format!("decimal({p},{s})"),
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => "string".into(),
        DataType::Date32 => "date".into(),
        other => panic!("tpchgen-arrow produced a type this test does not map: {other}"),
    }
}

/// A query's result: column names and rows of text values (None is NULL).
#[derive(Debug, Clone, Default)]
struct ResultSet {
    header: Vec<String>,
    rows: Vec<Vec<Option<String>>>,
}

/// Outcome of one query on one path.
struct Run {
    result: Result<ResultSet, String>,
    ms: f64,
}

/// Reads a CSV file with a header (RFC 4180 quoting; an empty unquoted field is NULL).
fn read_csv(path: &Path) -> ResultSet {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut records: Vec<Vec<Option<String>>> = Vec::new();
    let mut record: Vec<Option<String>> = Vec::new();
    let mut field = String::new();
    let (mut quoted, mut in_quotes, mut at_start) = (false, false, true);
    let mut chars = text.chars().peekable();
    let end_field = |record: &mut Vec<Option<String>>, field: &mut String, quoted: bool| {
        let f = std::mem::take(field);
        record.push(if f.is_empty() && !quoted { None } else { Some(f) });
    };
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => {
                in_quotes = true;
                quoted = true;
            }
            ',' => {
                end_field(&mut record, &mut field, quoted);
                quoted = false;
            }
            '\r' => {}
            '\n' => {
                end_field(&mut record, &mut field, quoted);
                quoted = false;
                records.push(std::mem::take(&mut record));
                at_start = true;
                continue;
            }
            _ => field.push(c),
        }
        at_start = false;
    }
    if !at_start {
        end_field(&mut record, &mut field, quoted);
        records.push(record);
    }
    let mut records = records.into_iter();
    let header = records.next().unwrap_or_default().into_iter().map(Option::unwrap_or_default).collect();
    ResultSet { header, rows: records.collect() }
}

fn number(s: &str) -> Option<f64> {
    let s = s.trim();
    // a value like "13" is a number; keep phone numbers, dates and names as text
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E')) {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Digits after the decimal point.
fn scale(s: &str) -> usize {
    s.split_once('.').map_or(0, |(_, frac)| frac.bytes().take_while(u8::is_ascii_digit).count())
}

/// Numbers match within the relative [`TOLERANCE`]; or, when tarn returns a decimal with fewer
/// digits after the point than the reference has, within one unit of tarn's last digit: the
/// reference cut to the precision of tarn's type. (DuckDB's AVG of a decimal is a double; tarn's,
/// DataFusion's, is a decimal with 4 more digits of scale, truncated, so Q1's 0.05008133906964238
/// comes back as 0.050081.) An integer never matches a fraction this way.
fn numbers_match(want: &str, got: &str) -> bool {
    let (Some(a), Some(b)) = (number(want), number(got)) else { return false };
    let diff = (a - b).abs();
    if diff <= TOLERANCE * a.abs().max(b.abs()) || diff < 1e-12 {
        return true;
    }
    let (want_scale, got_scale) = (scale(want), scale(got));
    let exponent = i32::try_from(got_scale).unwrap_or(i32::MAX);
    got_scale >= 1 && want_scale > got_scale && diff < 10f64.powi(-exponent) * (1.0 + 1e-9)
}

fn cell_matches(want: Option<&str>, got: Option<&str>) -> bool {
    match (want, got) {
        (None, None) => true,
        (Some(w), Some(g)) => {
            let (w, g) = (w.trim_end_matches(' '), g.trim_end_matches(' '));
            if number(w).is_some() && number(g).is_some() { numbers_match(w, g) } else { w == g }
        }
        _ => false,
    }
}

fn cell_order(a: Option<&String>, b: Option<&String>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => match (number(a), number(b)) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            _ => a.trim_end_matches(' ').cmp(b.trim_end_matches(' ')),
        },
        (a, b) => a.is_some().cmp(&b.is_some()),
    }
}

fn sorted(rows: &[Vec<Option<String>>]) -> Vec<Vec<Option<String>>> {
    let mut rows = rows.to_vec();
    rows.sort_by(|x, y| {
        x.iter().zip(y).map(|(a, b)| cell_order(a.as_ref(), b.as_ref())).find(|o| o.is_ne()).unwrap_or(Ordering::Equal)
    });
    rows
}

fn show(row: &[Option<String>]) -> String {
    let cells: Vec<&str> = row.iter().map(|c| c.as_deref().unwrap_or("NULL")).collect();
    format!("[{}]", cells.join(" | "))
}

/// Compares a result with the reference answer; the error is a readable diff.
fn compare(query: &str, want: &ResultSet, got: &ResultSet) -> Result<(), String> {
    let mut problems = String::new();
    if want.header.len() != got.header.len() {
        return Err(format!(
            "{} columns {:?}, expected {} {:?}",
            got.header.len(),
            got.header,
            want.header.len(),
            want.header
        ));
    }
    for (i, (w, g)) in want.header.iter().zip(&got.header).enumerate() {
        // only names the query gives (DuckDB names an unnamed expression by its text)
        let named = w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if named && !w.eq_ignore_ascii_case(g) {
            let _ = writeln!(problems, "  column {i} is named {g:?}, expected {w:?}");
        }
    }
    if want.rows.len() != got.rows.len() {
        let _ = writeln!(problems, "  {} rows, expected {}", got.rows.len(), want.rows.len());
    }
    let (want_rows, got_rows) = if TIED.contains(&query) {
        (sorted(&want.rows), sorted(&got.rows))
    } else {
        (want.rows.clone(), got.rows.clone())
    };
    let mut shown = 0;
    for (i, (w, g)) in want_rows.iter().zip(&got_rows).enumerate() {
        let same = w.len() == g.len() && w.iter().zip(g).all(|(a, b)| cell_matches(a.as_deref(), b.as_deref()));
        if !same {
            if shown < 5 {
                let _ = writeln!(problems, "  row {i}:\n    expected {}\n    got      {}", show(w), show(g));
            }
            shown += 1;
        }
    }
    if shown > 5 {
        let _ = writeln!(problems, "  ... {} differing rows in all", shown);
    }
    if want.rows.len() != got.rows.len() {
        for (i, g) in got_rows.iter().enumerate().skip(want_rows.len()).take(3) {
            let _ = writeln!(problems, "  extra row {i}: {}", show(g));
        }
        for (i, w) in want_rows.iter().enumerate().skip(got_rows.len()).take(3) {
            let _ = writeln!(problems, "  missing row {i}: {}", show(w));
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

async fn pg_query(client: &tokio_postgres::Client, sql: &str) -> Result<ResultSet, String> {
    let messages = client.simple_query(sql).await.map_err(|e| match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    })?;
    let mut out = ResultSet::default();
    for m in messages {
        match m {
            SimpleQueryMessage::RowDescription(cols) => {
                out.header = cols.iter().map(|c| c.name().to_string()).collect();
            }
            SimpleQueryMessage::Row(row) => {
                if out.header.is_empty() {
                    out.header = row.columns().iter().map(|c| c.name().to_string()).collect();
                }
                out.rows.push((0..row.len()).map(|i| row.get(i).map(str::to_string)).collect());
            }
            _ => {}
        }
    }
    Ok(out)
}

async fn run_pg(server: &TestServer, queries: &[(String, String)]) -> BTreeMap<String, Run> {
    let conn = format!(
        "host={} port={} user={ACCESS_KEY_ID} password={SECRET_ACCESS_KEY} dbname=tpch",
        server.pg_addr.ip(),
        server.pg_addr.port()
    );
    let (client, connection) = tokio_postgres::connect(&conn, NoTls).await.expect("connect over the PostgreSQL wire");
    tokio::spawn(connection);
    let mut out = BTreeMap::new();
    for (name, sql) in queries {
        let started = Instant::now();
        let result = pg_query(&client, sql).await;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        out.insert(name.clone(), Run { result, ms });
    }
    out
}

fn athena_runs(json: &serde_json::Value) -> BTreeMap<String, Run> {
    let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
    json["queries"]
        .as_object()
        .expect("queries in the script's output")
        .iter()
        .map(|(name, q)| {
            let ms = q["ms"].as_f64().unwrap_or(0.0);
            let result = match q.get("error") {
                Some(e) => Err(e.as_str().unwrap_or_default().to_string()),
                None => Ok(ResultSet {
                    header: q["header"].as_array().map(|h| h.iter().filter_map(text).collect()).unwrap_or_default(),
                    rows: q["rows"]
                        .as_array()
                        .map(|rows| {
                            rows.iter()
                                .map(|r| r.as_array().map(|r| r.iter().map(text).collect()).unwrap_or_default())
                                .collect()
                        })
                        .unwrap_or_default(),
                }),
            };
            (name.clone(), Run { result, ms })
        })
        .collect()
}

#[test]
fn tpch_sf001_through_athena_and_the_postgres_wire() {
    let _exclusive = crate::exclusive();
    let started = Instant::now();
    let tables = generate();
    let generated = started.elapsed();
    let counts: Vec<(&str, usize)> = tables.iter().map(|t| (t.name, t.rows)).collect();
    assert_eq!(counts, ROWS, "tpchgen made other data than the reference answers were computed over");
    for t in &tables {
        // the files read back with the schema tpchgen-arrow gave them
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(t.parquet.clone())).expect("parquet footer");
        let file_schema = reader.schema().clone();
        let types = |s: &SchemaRef| s.fields().iter().map(|f| glue_type(f.data_type())).collect::<Vec<_>>();
        assert_eq!(types(&file_schema), types(&t.schema), "{}: the Parquet file's types", t.name);
    }
    if let Some(dir) = std::env::var_os("TPCH_DUMP_DIR") {
        for t in &tables {
            let dir = Path::new(&dir).join(t.name);
            std::fs::create_dir_all(&dir).expect("create dump dir");
            std::fs::write(dir.join("part-0.parquet"), &t.parquet).expect("dump parquet");
        }
        println!("tpch: wrote the Parquet files under {}", Path::new(&dir).display());
    }

    let queries_dir = tests_dir().join("tpch/queries");
    let answers_dir = tests_dir().join("tpch/answers");
    let queries: Vec<(String, String)> = (1..=QUERIES)
        .map(|i| {
            let name = format!("q{i:02}");
            let path = queries_dir.join(format!("{name}.sql"));
            let sql = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            (name, sql)
        })
        .collect();

    let mut server = TestServer::start(env!("CARGO_BIN_EXE_tarn"));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let upload = Instant::now();
    rt.block_on(async {
        let s3 = server.s3();
        s3.create_bucket().bucket(BUCKET).send().await.expect("create bucket tpch");
        for t in &tables {
            s3.put_object()
                .bucket(BUCKET)
                .key(format!("{}/part-0.parquet", t.name))
                .body(t.parquet.clone().into())
                .send()
                .await
                .unwrap_or_else(|e| panic!("PUT {}: {e:?}", t.name));
        }
    });
    let uploaded = upload.elapsed();
    let sizes: Vec<String> =
        tables.iter().map(|t| format!("{} {} rows {} KiB", t.name, t.rows, t.parquet.len() / 1024)).collect();
    println!(
        "tpch: SF {SCALE_FACTOR} generated in {:.0} ms, uploaded in {:.0} ms: {}",
        generated.as_secs_f64() * 1000.0,
        uploaded.as_secs_f64() * 1000.0,
        sizes.join(", ")
    );

    // Athena: DDL, then the 22 queries, in the Python script
    let out_dir = tarn_testkit::tempfile::tempdir().expect("temp dir");
    let out_json = out_dir.path().join("athena.json");
    let script = tests_dir().join("py/tpch_athena.py");
    run_script(
        &mut server,
        &script,
        &[queries_dir.to_str().expect("utf-8 path"), out_json.to_str().expect("utf-8 path")],
        Duration::from_secs(600),
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out_json).expect("the script's output")).expect("json");

    // the Glue columns the DDL made are the Parquet files' types
    for t in &tables {
        let declared: Vec<(String, String)> = json["columns"][t.name]
            .as_array()
            .unwrap_or_else(|| panic!("columns of {}", t.name))
            .iter()
            .map(|c| (c[0].as_str().unwrap_or_default().to_string(), c[1].as_str().unwrap_or_default().to_string()))
            .collect();
        let expected: Vec<(String, String)> =
            t.schema.fields().iter().map(|f| (f.name().clone(), glue_type(f.data_type()))).collect();
        assert_eq!(declared, expected, "{}: the table's Glue columns", t.name);
    }
    let athena = athena_runs(&json);

    let pg = rt.block_on(run_pg(&server, &queries));

    // compare
    let mut report = String::new();
    let mut failures = String::new();
    let (mut athena_ok, mut pg_ok) = (0, 0);
    let _ = writeln!(report, "query  athena ms  pg ms   rows  athena  pg");
    for (name, _) in &queries {
        let want = read_csv(&answers_dir.join(format!("{name}.csv")));
        let mut verdicts = Vec::new();
        for (path, runs, ok) in [("athena", &athena, &mut athena_ok), ("pg", &pg, &mut pg_ok)] {
            let verdict = match runs.get(name) {
                None => {
                    let _ = writeln!(failures, "{name} via {path}: did not run");
                    "missing"
                }
                Some(Run { result: Err(e), .. }) => {
                    let _ = writeln!(failures, "{name} via {path}: FAILED: {e}");
                    "error"
                }
                Some(Run { result: Ok(got), .. }) => match compare(name, &want, got) {
                    Ok(()) => {
                        *ok += 1;
                        "ok"
                    }
                    Err(diff) => {
                        let _ = writeln!(failures, "{name} via {path}: differs from the DuckDB answer\n{diff}");
                        "DIFF"
                    }
                },
            };
            verdicts.push(verdict);
        }
        let ms = |runs: &BTreeMap<String, Run>| runs.get(name).map_or(f64::NAN, |r| r.ms);
        let _ = writeln!(
            report,
            "{name}    {:>9.0}  {:>5.0}  {:>5}  {:<6}  {}",
            ms(&athena),
            ms(&pg),
            want.rows.len(),
            verdicts[0],
            verdicts[1]
        );
    }
    let total = |runs: &BTreeMap<String, Run>| runs.values().map(|r| r.ms).sum::<f64>();
    let _ = writeln!(report, "total  {:>9.0}  {:>5.0}", total(&athena), total(&pg));
    println!("{report}");
    if !failures.is_empty() {
        println!("{failures}");
    }
    let summary = format!("tpch: {athena_ok}/{QUERIES} athena, {pg_ok}/{QUERIES} pg");
    println!("{summary} ({:.1} s in all)", started.elapsed().as_secs_f64());
    assert!(athena_ok == QUERIES && pg_ok == QUERIES, "{summary}\n{failures}");
}
