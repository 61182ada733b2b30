//! `tarn sql` against a running server: one statement in each output format, and the shell
//! reading statements from stdin.

use std::io::Write;
use std::process::{Command, Stdio};

use tarn_testkit::{ACCESS_KEY_ID, SECRET_ACCESS_KEY, TestServer};

fn tarn_sql(server: &TestServer, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tarn"));
    cmd.arg("sql")
        .args(["--pg", &server.pg_addr.to_string()])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run tarn sql");
    if let Some(input) = stdin {
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("tarn sql output")
}

#[test]
fn tarn_sql_runs_statements_in_every_format() {
    let server = TestServer::start(env!("CARGO_BIN_EXE_tarn"));
    let out = tarn_sql(&server, &["SELECT 1 AS one, 'a,b' AS two, CAST(NULL AS int) AS three"], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        text.contains(" one | two | three ") && text.contains(" 1   | a,b | NULL  ") && text.contains("(1 row)"),
        "{text}"
    );

    let out = tarn_sql(&server, &["--format", "csv", "SELECT 1 AS one, 'a,b' AS two"], None);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "one,two\n1,\"a,b\"\n");
    let out = tarn_sql(&server, &["--format", "json", "SELECT 1 AS one, CAST(NULL AS int) AS n"], None);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "{\"one\":\"1\",\"n\":null}\n");

    // the shell: statements end with ';', DDL then a query on what it made
    let script = "CREATE DATABASE shell;\nSHOW DATABASES\n  LIKE 'sh*';\nSELEC oops;\nSELECT 2 AS two;\n";
    let out = tarn_sql(&server, &["--format", "csv"], Some(script));
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("database_name\nshell\n"), "{text}");
    assert!(text.contains("two\n2\n"), "the shell goes on after an error: {text}");
    assert!(err.contains("ERROR: line 1:1"), "{err}");
    assert!(!out.status.success(), "a failed statement makes a non-interactive run fail");

    // a server that is not there is a clear error
    let mut gone = Command::new(env!("CARGO_BIN_EXE_tarn"));
    let out = gone
        .args(["sql", "--pg", "127.0.0.1:1", "SELECT 1"])
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach tarn's SQL port"));
}
