//! Glue Data Catalog end to end through boto3 (tests/py/glue_*.py), across a restart.

use std::path::Path;
use std::time::Duration;

use tarn_testkit::TestServer;
use tarn_testkit::python::run_script;

fn script(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py").join(name)
}

#[test]
fn glue_catalog_through_boto3_survives_restart() {
    let mut server = TestServer::start(env!("CARGO_BIN_EXE_tarn"));
    let out = run_script(&mut server, &script("glue_catalog.py"), &[], Duration::from_secs(300));
    assert!(out.contains("glue: 0 failures"), "{out}");
    server.restart();
    let out = run_script(&mut server, &script("glue_after_restart.py"), &[], Duration::from_secs(120));
    assert!(out.contains("glue after restart: ok"), "{out}");
}

/// A small Parquet file (id bigint, label string, ratio double) for the crawler to read.
fn parquet_file(dir: &Path) -> std::path::PathBuf {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
    let batch = RecordBatch::try_from_iter([
        ("id", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef),
        ("label", Arc::new(StringArray::from(vec!["a", "b", "c"])) as ArrayRef),
        ("ratio", Arc::new(Float64Array::from(vec![0.5, 1.5, 2.5])) as ArrayRef),
    ])
    .expect("batch");
    let path = dir.join("part-0.parquet");
    let file = std::fs::File::create(&path).expect("create parquet file");
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");
    path
}

#[test]
fn crawlers_classify_partition_and_run_on_schedule() {
    let dir = tarn_testkit::tempfile::tempdir().expect("temp dir");
    let parquet = parquet_file(dir.path());
    let mut server = TestServer::start(env!("CARGO_BIN_EXE_tarn"));
    let out = run_script(
        &mut server,
        &script("crawler_e2e.py"),
        &[parquet.to_str().expect("utf-8 path")],
        Duration::from_secs(300),
    );
    assert!(out.contains("crawler: 0 failures"), "{out}");
    spectrum_reads_crawled_tables(&server);
}

/// Redshift Spectrum over the PostgreSQL wire: an external schema names the crawled Glue
/// database, and its tables read through it.
fn spectrum_reads_crawled_tables(server: &TestServer) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let conn = format!(
            "host={} port={} user={} password={} dbname=default",
            server.pg_addr.ip(),
            server.pg_addr.port(),
            tarn_testkit::ACCESS_KEY_ID,
            tarn_testkit::SECRET_ACCESS_KEY
        );
        let (client, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls).await.expect("connect");
        tokio::spawn(connection);
        client
            .batch_execute(
                "CREATE EXTERNAL SCHEMA spectrum FROM DATA CATALOG DATABASE 'lake' \
                 IAM_ROLE 'arn:aws:iam::000000000000:role/spectrum' REGION 'us-east-1'",
            )
            .await
            .expect("create external schema");
        let rows = client.simple_query("SELECT id, name FROM spectrum.csv_header ORDER BY id").await.expect("query");
        let names: Vec<String> = rows
            .iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => r.get(1).map(str::to_string),
                _ => None,
            })
            .collect();
        assert_eq!(names, ["alpha", "beta", "gamma", "delta"], "a crawled CSV table through the external schema");
        let count = client.query_one("SELECT count(*) FROM spectrum.parquet_t", &[]).await.expect("parquet");
        assert_eq!(count.get::<_, i64>(0), 3, "a crawled Parquet table through the external schema");
        // the same schema again: an error, unless IF NOT EXISTS
        let again = client.batch_execute("CREATE EXTERNAL SCHEMA spectrum FROM DATA CATALOG DATABASE 'lake'").await;
        assert!(again.is_err(), "an existing schema");
        client
            .batch_execute("CREATE EXTERNAL SCHEMA IF NOT EXISTS spectrum FROM DATA CATALOG DATABASE 'lake'")
            .await
            .expect("IF NOT EXISTS");
        // a database that does not exist, made on request
        let missing = client.batch_execute("CREATE EXTERNAL SCHEMA s2 FROM DATA CATALOG DATABASE 'nope'").await;
        let e = missing.expect_err("no such database");
        assert!(e.as_db_error().is_some_and(|d| d.message().contains("not found")), "{e:?}");
        client
            .batch_execute(
                "CREATE EXTERNAL SCHEMA s2 FROM DATA CATALOG DATABASE 'fresh' IAM_ROLE default \
                 CREATE EXTERNAL DATABASE IF NOT EXISTS",
            )
            .await
            .expect("create external database");
        let from_hive = client.batch_execute("CREATE EXTERNAL SCHEMA s3 FROM HIVE METASTORE DATABASE 'x'").await;
        assert!(from_hive.is_err(), "only the data catalog");
        // dropping the schema leaves the database and its tables
        client.batch_execute("DROP SCHEMA spectrum").await.expect("drop schema");
        let still = client.query_one("SELECT count(*) FROM lake.csv_header", &[]).await.expect("lake");
        assert_eq!(still.get::<_, i64>(0), 4);
    });
}
