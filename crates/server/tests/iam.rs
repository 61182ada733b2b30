//! IAM end to end through boto3 (tests/py/iam_access.py): users, keys, groups, policies and
//! the authorizer behind S3, Kinesis, Glue, Athena, Firehose and IAM itself, across a restart.

use std::path::Path;
use std::time::Duration;

use tarn_testkit::TestServer;
use tarn_testkit::python::run_script;

#[test]
fn users_policies_and_the_one_authorizer_through_boto3() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/iam_access.py");
    let dir = tarn_testkit::tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state.json");
    let state = state.to_str().expect("utf-8 path");
    let mut server = TestServer::start(env!("CARGO_BIN_EXE_tarn"));
    let out = run_script(&mut server, &script, &["setup", state], Duration::from_secs(300));
    assert!(out.contains("iam setup: 0 failures"), "{out}");
    server.restart();
    let out = run_script(&mut server, &script, &["after-restart", state], Duration::from_secs(120));
    assert!(out.contains("iam after restart: 0 failures"), "{out}");
}

/// STS sessions through boto3; then, on a server restarted with its session clock 1,000 s later,
/// the 900 s sessions are expired.
#[test]
fn role_sessions_narrowed_and_expired_through_boto3() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/sts_sessions.py");
    let dir = tarn_testkit::tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state.json");
    let state = state.to_str().expect("utf-8 path");
    let mut server = TestServer::start(env!("CARGO_BIN_EXE_tarn"));
    let out = run_script(&mut server, &script, &["setup", state], Duration::from_secs(300));
    assert!(out.contains("sts setup: 0 failures"), "{out}");
    server.set_env("TARN_SESSION_CLOCK_OFFSET_SECS", "1000");
    server.restart();
    let out = run_script(&mut server, &script, &["expired", state], Duration::from_secs(120));
    assert!(out.contains("sts expired: 0 failures"), "{out}");
}
