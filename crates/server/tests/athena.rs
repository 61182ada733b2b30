//! Athena and SQL end to end: boto3 drives Glue, S3 and Athena against a real server.

use std::path::Path;
use std::time::Duration;

use tarn_testkit::TestServer;
use tarn_testkit::python::{LATEST_BOTO3, run_script, run_script_in};

fn script(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py").join(name)
}

#[test]
fn athena_queries_tables_in_the_catalog() {
    let mut server = TestServer::start(env!("CARGO_BIN_EXE_tarn"));
    let out = run_script(&mut server, &script("athena_basic.py"), &[], Duration::from_secs(300));
    assert!(out.contains("athena: 0 failures"), "{out}");
}

/// The newest boto3 sends Athena's operations as REST-JSON (`POST /query-executions`, `GET
/// /query-executions/{id}/results`, ...): the same script passes over that binding.
#[test]
fn athena_over_rest_json_as_the_newest_boto3_sends_it() {
    let mut server = TestServer::start(env!("CARGO_BIN_EXE_tarn"));
    let out = run_script_in(
        &LATEST_BOTO3,
        &mut server,
        &script("athena_basic.py"),
        &["--protocol", "rest-json"],
        Duration::from_secs(300),
    );
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

/// Redshift's Data API through boto3's `redshift-data` client: statements run in the
/// background, results page with typed fields, errors, cancel, listings
/// (tests/py/redshift_data.py).
#[test]
fn redshift_data_api_runs_statements_from_boto3() {
    let mut server = TestServer::start(env!("CARGO_BIN_EXE_tarn"));
    let out = run_script_in(&LATEST_BOTO3, &mut server, &script("redshift_data.py"), &[], Duration::from_secs(300));
    assert!(out.contains("redshift-data: 0 failures"), "{out}");
}
