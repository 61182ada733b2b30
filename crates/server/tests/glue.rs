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
