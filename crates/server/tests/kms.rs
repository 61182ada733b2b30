//! KMS through boto3 (tests/py/kms.py): keys, aliases, encryption contexts, states, rotation,
//! key policies and grants, with AWS's error codes; then no plaintext in the data dir.

use std::path::Path;
use std::time::Duration;

use tarn_testkit::TestServer;
use tarn_testkit::python::{LATEST_BOTO3, run_script_in};

/// Every file under `dir`.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn kms_keys_from_boto3_and_no_plaintext_on_disk() {
    let mut server = TestServer::start(env!("CARGO_BIN_EXE_tarn"));
    let canary = "tarn-kms-canary-5d1e0c";
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/kms.py");
    let out = run_script_in(&LATEST_BOTO3, &mut server, &script, &[canary], Duration::from_secs(300));
    assert!(out.contains("kms: 0 failures"), "{out}");
    server.stop();
    let found: Vec<_> = files(server.data_dir())
        .into_iter()
        .filter(|f| std::fs::read(f).unwrap().windows(canary.len()).any(|w| w == canary.as_bytes()))
        .collect();
    assert!(found.is_empty(), "the plaintext is in {found:?}");
}
