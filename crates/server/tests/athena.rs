//! Athena and SQL end to end: boto3 drives Glue, S3 and Athena against a real server.

use std::path::Path;
use std::time::Duration;

use tarn_testkit::TestServer;
use tarn_testkit::python::run_script;

fn script(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py").join(name)
}

#[test]
fn athena_queries_tables_in_the_catalog() {
    let mut server = TestServer::start(env!("CARGO_BIN_EXE_tarn"));
    let out = run_script(&mut server, &script("athena_basic.py"), &[], Duration::from_secs(300));
    assert!(out.contains("athena: 0 failures"), "{out}");
}

#[test]
fn bucket_policies_deny_s3_reads_and_the_queries_over_them() {
    let mut server = TestServer::start(env!("CARGO_BIN_EXE_tarn"));
    let out = run_script(&mut server, &script("bucket_policy.py"), &["setup"], Duration::from_secs(300));
    assert!(out.contains("bucket-policy setup: 0 failures"), "{out}");
    // the policy is durable: enforced the same after a restart
    server.restart();
    let out = run_script(&mut server, &script("bucket_policy.py"), &["after-restart"], Duration::from_secs(300));
    assert!(out.contains("bucket-policy after-restart: 0 failures"), "{out}");
}
