//! KMS through boto3 (tests/py/kms.py): keys, aliases, encryption contexts, states, rotation,
//! key policies and grants, with AWS's error codes; then no plaintext in the data dir.

use std::path::Path;
use std::time::Duration;

use tarn_testkit::TestServer;
use tarn_testkit::python::{LATEST_BOTO3, SMOKE, run_script_in};

#[test]
fn kms_keys_from_boto3_and_no_plaintext_on_disk() {
    let mut server = TestServer::start(env!("CARGO_BIN_EXE_tarn"));
    let canary = "tarn-kms-canary-5d1e0c";
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/kms.py");
    let out = run_script_in(&LATEST_BOTO3, &mut server, &script, &[canary], Duration::from_secs(300));
    assert!(out.contains("kms: 0 failures"), "{out}");
    server.stop();
    tarn_testkit::assert_in_no_file(server.data_dir(), &[("the plaintext".into(), canary.as_bytes().to_vec())]);
}

/// SSE-KMS through boto3 and aws-cli (tests/py/sse_kms.py); then no plaintext anywhere in the
/// data dir, and after a restart the objects still read back (their keys are durable).
#[test]
fn sse_kms_objects_from_boto3_and_aws_cli() {
    let mut server = TestServer::start(env!("CARGO_BIN_EXE_tarn"));
    let canary = "tarn-sse-kms-canary-9f3b27";
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/sse_kms.py");
    let out = run_script_in(&SMOKE, &mut server, &script, &[canary], Duration::from_secs(600));
    assert!(out.contains("sse_kms: 0 failures"), "{out}");
    server.stop();
    tarn_testkit::assert_in_no_file(server.data_dir(), &[("the plaintext".into(), canary.as_bytes().to_vec())]);
    server.start_again();
    let body = format!("{canary} object under a customer managed key. ").repeat(16);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let s3 = server.s3();
        for key in ["by-id", "bucket-key", "managed", "with-context", "after-rotation"] {
            let got = s3.get_object().bucket("vault").key(key).send().await.expect("GET after a restart");
            assert_eq!(got.server_side_encryption().map(|s| s.as_str()), Some("aws:kms"), "{key}");
            let bytes = got.body.collect().await.unwrap().into_bytes();
            assert_eq!(bytes.as_ref(), body.as_bytes(), "{key} after a restart");
        }
    });
}

/// Kinesis and Firehose at rest under KMS keys (tests/py/stream_sse.py); then no plaintext in
/// the data dir (shard logs and the Firehose buffer included), and after a restart the sealed
/// records still read back (their data keys are durable in the stream record).
#[test]
fn streams_and_firehose_buffers_under_kms_keys() {
    let mut server = TestServer::start(env!("CARGO_BIN_EXE_tarn"));
    let canary = "tarn-stream-sse-canary-4a7c19";
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/stream_sse.py");
    let out = run_script_in(&LATEST_BOTO3, &mut server, &script, &[canary], Duration::from_secs(300));
    assert!(out.contains("stream_sse: 0 failures"), "{out}");
    server.stop();
    // the delivered objects are SSE-S3 sealed too: nothing anywhere holds the plaintext
    tarn_testkit::assert_in_no_file(server.data_dir(), &[("the plaintext".into(), canary.as_bytes().to_vec())]);
    server.start_again();
    let out = run_script_in(&LATEST_BOTO3, &mut server, &script, &[canary, "after-restart"], Duration::from_secs(120));
    assert!(out.contains("stream_sse: 0 failures"), "{out}");
}

/// SSE-KMS writes (PUT, CreateMultipartUpload, UploadPart, copies in and out) under a disabled
/// and a pending-deletion key fail with S3's KMS codes and store nothing; then, with the
/// server's KMS clock past the deletion date (a restart with TARN_KMS_CLOCK_OFFSET_SECS), the
/// key is gone and its objects' reads fail with KMS.NotFoundException
/// (tests/py/sse_kms_states.py).
#[test]
fn sse_kms_under_unusable_and_deleted_keys() {
    let mut server = TestServer::start(env!("CARGO_BIN_EXE_tarn"));
    let canary = "tarn-kms-states-canary-7e21b4";
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/sse_kms_states.py");
    let out = run_script_in(&SMOKE, &mut server, &script, &[canary, "before"], Duration::from_secs(300));
    assert!(out.contains("sse_kms_states: 0 failures"), "{out}");
    server.stop();
    // eight days on: past the seven-day window
    server.set_env("TARN_KMS_CLOCK_OFFSET_SECS", &(8 * 86_400).to_string());
    server.start_again();
    let out = run_script_in(&SMOKE, &mut server, &script, &[canary, "after"], Duration::from_secs(120));
    assert!(out.contains("sse_kms_states: 0 failures"), "{out}");
    server.stop();
    tarn_testkit::assert_in_no_file(server.data_dir(), &[("the plaintext".into(), canary.as_bytes().to_vec())]);
}
