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
}
