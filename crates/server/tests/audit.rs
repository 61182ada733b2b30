//! The audit trail: a scripted session through boto3 (tests/py/audit_trail.py) recorded once per
//! call and delivered as CloudTrail files; and SIGKILL during a burst of calls loses no record
//! of an acknowledged call.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::operation::RequestId as _;
use tarn_testkit::TestServer;
use tarn_testkit::python::{LATEST_BOTO3, run_script_in};

#[test]
fn a_scripted_session_is_recorded_once_per_call_and_delivered() {
    let mut server =
        TestServer::start_with(env!("CARGO_BIN_EXE_tarn"), &["--cloudtrail-delivery-secs", "1"], &[], true);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/audit_trail.py");
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = readme.to_str().expect("utf-8 path");
    let out = run_script_in(&LATEST_BOTO3, &mut server, &script, &[readme], Duration::from_secs(300));
    assert!(out.contains("audit trail: 0 failures"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::await_holding_lock)] // the guard keeps other heavy tests out; nothing in this runtime waits on it
async fn sigkill_during_a_burst_loses_no_record_of_an_acknowledged_call() {
    let _exclusive = crate::exclusive();
    let mut srv = TestServer::start(env!("CARGO_BIN_EXE_tarn"));
    let s3 = srv.s3();
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut tasks = Vec::new();
    for worker in 0..16 {
        let (s3, acked) = (s3.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0.. {
                // CreateBucket: a management event, so LookupEvents finds it
                match s3.create_bucket().bucket(format!("burst-{worker}-{i}")).send().await {
                    Ok(out) => acked.lock().unwrap().push(out.request_id().expect("a request id").to_string()),
                    Err(_) => break,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    srv.kill();
    for t in tasks {
        let _ = t.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 50, "the burst made {} calls before the kill", acked.len());
    srv.start_again();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/audit_lookup_ids.py");
    let out = tokio::task::block_in_place(|| {
        run_script_in(&LATEST_BOTO3, &mut srv, &script, &["CreateBucket"], Duration::from_secs(300))
    });
    let recorded: std::collections::HashSet<&str> = out.lines().filter_map(|l| l.strip_prefix("id ")).collect();
    let lost: Vec<&String> = acked.iter().filter(|id| !recorded.contains(id.as_str())).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged calls have no record: {:?}",
        lost.len(),
        acked.len(),
        &lost[..lost.len().min(5)]
    );
}
