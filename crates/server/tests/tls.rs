//! TLS: HTTPS beside HTTP with a self-signed certificate made once in the data dir, its
//! fingerprint printed; aws:SecureTransport from the listener; the PostgreSQL wire's SSL.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tarn_testkit::{SECRET_ACCESS_KEY, TestServer, free_addr, python::run_script};

#[test]
fn https_listener_secure_transport_and_postgres_ssl() {
    let https = free_addr();
    let https_arg = https.to_string();
    let mut server = TestServer::start_with(
        env!("CARGO_BIN_EXE_tarn"),
        &["--tls-listen", &https_arg, "--tls-self-signed"],
        &[],
        true,
    );
    let ca = server.data_dir().join("keys/tls-cert.pem");
    assert!(ca.exists(), "the self-signed certificate is kept in the data dir");
    let printed = server.stdout();
    assert!(printed.contains("TLS certificate (generated"), "{printed}");
    assert!(printed.contains(&format!("https://{https}")), "{printed}");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/secure_transport.py");
    let endpoint = format!("https://localhost:{}", https.port());
    let out = run_script(&mut server, &script, &[&endpoint, ca.to_str().expect("utf-8")], Duration::from_secs(120));
    assert!(out.contains("secure transport: 0 failures"), "{out}");

    // the same certificate after a restart (made once)
    let before = std::fs::read(&ca).expect("certificate");
    server.restart();
    assert_eq!(std::fs::read(&ca).expect("certificate"), before, "the certificate is kept across restarts");
    assert!(server.stdout().contains("TLS certificate (loaded"), "{}", server.stdout());

    // psql with sslmode=require (and verify-full against the certificate), where psql exists
    if Command::new("psql").arg("--version").output().is_ok_and(|o| o.status.success()) {
        for mode in ["sslmode=require".to_string(), format!("sslmode=verify-full sslrootcert={}", ca.display())] {
            let conn = format!(
                "host=localhost port={} user={} dbname=default {mode}",
                server.pg_addr.port(),
                tarn_testkit::ACCESS_KEY_ID
            );
            let out = Command::new("psql")
                .arg(&conn)
                .args(["-At", "-c", "SELECT 41 + 1"])
                .env("PGPASSWORD", SECRET_ACCESS_KEY)
                .output()
                .expect("psql");
            assert!(out.status.success(), "psql {mode}: {}", String::from_utf8_lossy(&out.stderr));
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "42", "psql {mode}");
        }
        // without a certificate the wire refuses SSL, so sslmode=require fails
        let plain = TestServer::start(env!("CARGO_BIN_EXE_tarn"));
        let out = Command::new("psql")
            .arg(format!("host=127.0.0.1 port={} user=x dbname=default sslmode=require", plain.pg_addr.port()))
            .args(["-c", "SELECT 1"])
            .env("PGPASSWORD", "x")
            .output()
            .expect("psql");
        assert!(!out.status.success(), "sslmode=require against a server without TLS fails");
    } else {
        // CI installs psql and says so: there the half must run
        assert!(
            std::env::var_os("TARN_TEST_REQUIRE_PSQL").is_none(),
            "psql is not installed, and TARN_TEST_REQUIRE_PSQL says the PostgreSQL SSL half must run"
        );
        eprintln!("psql not installed: the PostgreSQL SSL half of this test did not run");
    }
}

/// SSE-C over HTTPS through boto3 (tests/py/sse_c.py); then neither the plaintext nor the
/// customer's keys (raw or base64) are in any file of the data dir.
#[test]
fn sse_c_over_tls_and_no_customer_key_on_disk() {
    use base64::Engine as _;
    let https = free_addr();
    let https_arg = https.to_string();
    let mut server = TestServer::start_with(
        env!("CARGO_BIN_EXE_tarn"),
        &["--tls-listen", &https_arg, "--tls-self-signed", "--cloudtrail-delivery-secs", "1"],
        &[],
        true,
    );
    let ca = server.data_dir().join("keys/tls-cert.pem");
    let canary = "tarn-sse-c-canary-4e81d2";
    let keys: Vec<Vec<u8>> = (0..2u64).map(|i| tarn_testkit::pseudo_random_bytes(0x55ec + i, 32)).collect();
    let hex: Vec<String> = keys.iter().map(|k| k.iter().map(|b| format!("{b:02x}")).collect()).collect();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/sse_c.py");
    let endpoint = format!("https://localhost:{}", https.port());
    let out = run_script(
        &mut server,
        &script,
        &[&endpoint, ca.to_str().expect("utf-8"), canary, &hex[0], &hex[1]],
        Duration::from_secs(300),
    );
    assert!(out.contains("sse-c: 0 failures"), "{out}");
    server.stop();
    let mut secrets: Vec<(String, Vec<u8>)> = vec![("the plaintext".into(), canary.as_bytes().to_vec())];
    for (i, key) in keys.iter().enumerate() {
        secrets.push((format!("customer key {i}"), key.clone()));
        secrets.push((
            format!("customer key {i} in base64"),
            base64::engine::general_purpose::STANDARD.encode(key).into_bytes(),
        ));
    }
    tarn_testkit::assert_in_no_file(server.data_dir(), &secrets);
}
