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

/// Bucket policies in the full grammar, Block Public Access and anonymous readers, through boto3.
#[test]
fn public_access_blocks_and_anonymous_readers_through_boto3() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/public_access.py");
    let mut server = TestServer::start(env!("CARGO_BIN_EXE_tarn"));
    let out = run_script(&mut server, &script, &[], Duration::from_secs(300));
    assert!(out.contains("public access: 0 failures"), "{out}");
}

/// Crawlers and Firehose act as their roles; iam:PassRole guards handing a role over.
#[test]
fn crawlers_and_firehose_act_as_their_roles_through_boto3() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/service_roles.py");
    let mut server = TestServer::start(env!("CARGO_BIN_EXE_tarn"));
    let out = run_script(&mut server, &script, &[], Duration::from_secs(300));
    assert!(out.contains("service roles: 0 failures"), "{out}");
}

/// Each request's log line names its caller (an ARN, or anonymous) and its source address.
#[tokio::test]
async fn the_request_log_names_the_caller_and_the_source() {
    let server = TestServer::start_with(env!("CARGO_BIN_EXE_tarn"), &[], &[("RUST_LOG", "info")], true);
    server.s3().list_buckets().send().await.expect("list buckets");
    let anonymous =
        tarn_testkit::raw_request(server.addr, b"GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .expect("raw request");
    assert_eq!(anonymous.status, 403);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let logged = |needle: &str| server.stderr().lines().any(|l| l.contains(needle) && l.contains("source=127.0.0.1:"));
    while !(logged("principal=arn:aws:iam::000000000000:root") && logged("principal=anonymous")) {
        assert!(std::time::Instant::now() < deadline, "log lines: {}", server.stderr());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `--iam-file` provisions users, keys, groups and policies at start, idempotently; a file with
/// an error stops the start and changes nothing.
#[tokio::test]
async fn identities_provisioned_from_a_file() {
    let dir = tarn_testkit::tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("iam.json");
    let doc = serde_json::json!({
        "policies": [{"name": "read-lake", "document": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::lake/*"}]}}],
        "groups": [{"name": "readers", "policies": ["read-lake"]}],
        "users": [{"name": "ci", "groups": ["readers"], "tags": {"team": "ml"},
                   "keys": [{"access_key_id": "AKIAPROVISIONED0001", "secret_access_key": "provisioned-secret-0000000000000000000001"}]}]
    });
    std::fs::write(&file, doc.to_string()).expect("write the file");
    let file_arg = file.to_str().expect("utf-8 path").to_string();
    let mut server = TestServer::start_with(env!("CARGO_BIN_EXE_tarn"), &["--iam-file", &file_arg], &[], true);
    assert!(server.stdout().contains("1 users, 1 groups, 0 roles, 1 policies, 1 keys"), "{}", server.stdout());
    let root = server.s3();
    root.create_bucket().bucket("lake").send().await.expect("create bucket");
    root.put_object().bucket("lake").key("a").body(b"x".to_vec().into()).send().await.expect("put");
    let endpoint = server.endpoint();
    let ci = tarn_testkit::s3_client_with(
        &endpoint,
        true,
        "AKIAPROVISIONED0001",
        "provisioned-secret-0000000000000000000001",
    );
    ci.get_object().bucket("lake").key("a").send().await.expect("the provisioned key reads through its group's policy");
    let (code, _) =
        tarn_testkit::failure(ci.put_object().bucket("lake").key("b").body(b"y".to_vec().into()).send().await);
    assert_eq!(code, "AccessDenied", "and may not write");
    // the same file again: nothing new, nothing broken
    server.restart();
    assert!(server.stdout().contains("0 users, 0 groups, 0 roles, 0 policies, 0 keys"), "{}", server.stdout());
    let ci = tarn_testkit::s3_client_with(
        &endpoint,
        true,
        "AKIAPROVISIONED0001",
        "provisioned-secret-0000000000000000000001",
    );
    ci.get_object().bucket("lake").key("a").send().await.expect("still reads after a restart");
    server.stop();
    // a file naming a policy it does not define stops the start
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"users": [{"name": "x", "policies": ["nope"]}]}"#).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tarn"))
        .args(["serve", "--data-dir"])
        .arg(server.data_dir())
        .args(["--listen", "127.0.0.1:0", "--pg-listen", "off", "--iam-file"])
        .arg(&bad)
        .env("TARN_ROOT_ACCESS_KEY_ID", tarn_testkit::ACCESS_KEY_ID)
        .env("TARN_ROOT_SECRET_ACCESS_KEY", tarn_testkit::SECRET_ACCESS_KEY)
        .output()
        .expect("run tarn");
    assert!(!out.status.success(), "a bad IAM file stops the start");
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"), "{}", String::from_utf8_lossy(&out.stderr));
}

/// SQL runs as its caller: over the PostgreSQL wire a user's session reads a table only when
/// the user's policies allow s3:GetObject and s3:ListBucket on its location.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_over_the_postgres_wire_reads_as_the_session_user() {
    let dir = tarn_testkit::tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("iam.json");
    let key = |n: u8| format!("AKIASQLUSER000000{n:03}");
    let secret = "sql-user-secret-0000000000000000000000000";
    let doc = serde_json::json!({
        "users": [
            {"name": "reader", "inline": {"lake": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
                 "Resource": ["arn:aws:s3:::sqlake", "arn:aws:s3:::sqlake/*"]},
                {"Effect": "Allow", "Action": "glue:GetTable", "Resource": "*"}]}},
             "keys": [{"access_key_id": key(1), "secret_access_key": secret}]},
            {"name": "nobody", "keys": [{"access_key_id": key(2), "secret_access_key": secret}]}
        ]
    });
    std::fs::write(&file, doc.to_string()).expect("write the file");
    let file_arg = file.to_str().expect("utf-8 path").to_string();
    let server = TestServer::start_with(env!("CARGO_BIN_EXE_tarn"), &["--iam-file", &file_arg], &[], true);
    let s3 = server.s3();
    s3.create_bucket().bucket("sqlake").send().await.expect("bucket");
    s3.put_object().bucket("sqlake").key("t/part-0.csv").body(b"1,a\n2,b\n".to_vec().into()).send().await.expect("put");
    let connect = |user: String, password: String| {
        let conn = format!(
            "host={} port={} user={user} password={password} dbname=default",
            server.pg_addr.ip(),
            server.pg_addr.port()
        );
        async move {
            let (client, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls).await?;
            tokio::spawn(connection);
            Ok::<_, tokio_postgres::Error>(client)
        }
    };
    let root = connect(tarn_testkit::ACCESS_KEY_ID.into(), tarn_testkit::SECRET_ACCESS_KEY.into()).await.expect("root");
    root.batch_execute("CREATE DATABASE lakedb").await.expect("create database");
    root.batch_execute(
        "CREATE EXTERNAL TABLE lakedb.t (id bigint, v string) \
         ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' LOCATION 's3://sqlake/t/'",
    )
    .await
    .expect("create table");
    let count = |rows: Vec<tokio_postgres::SimpleQueryMessage>| {
        rows.into_iter().find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
    };
    let reader = connect(key(1), secret.into()).await.expect("a user's key opens a session");
    let rows = reader.simple_query("SELECT count(*) FROM lakedb.t").await.expect("the reader may read the table");
    assert_eq!(count(rows).as_deref(), Some("2"));
    let nobody = connect(key(2), secret.into()).await.expect("a session opens");
    let refused =
        nobody.simple_query("SELECT count(*) FROM lakedb.t").await.expect_err("nobody may not read the table");
    let text = refused.as_db_error().map(ToString::to_string).unwrap_or_else(|| refused.to_string());
    assert!(text.contains("glue:GetTable"), "a table read is first a Glue GetTable of the caller's: {text}");
    let refused = nobody.simple_query("DROP DATABASE lakedb CASCADE").await.expect_err("nobody may not drop it");
    let text = refused.as_db_error().map(ToString::to_string).unwrap_or_else(|| refused.to_string());
    assert!(text.contains("glue:DeleteDatabase"), "{text}");
    let rows = reader.simple_query("SELECT count(*) FROM lakedb.t").await.expect("the database is still there");
    assert_eq!(count(rows).as_deref(), Some("2"));
}

/// Cross-account access (boto3): account 111122223333 from the IAM file beside the home
/// account; a bucket policy granting the other account's user works only when that user's own
/// policy allows it too; buckets, IAM directories and roles per account; across a restart.
#[test]
fn cross_account_access_needs_both_accounts_through_boto3() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/cross_account.py");
    let dir = tarn_testkit::tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("iam.json");
    let doc = serde_json::json!({"accounts": [{
        "id": "111122223333",
        "root": {"access_key_id": "AKIAOTHERACCOUNTROOT", "secret_access_key": "other-account-root-secret-000000000000001"},
        "users": [{"name": "bob",
                   "keys": [{"access_key_id": "AKIAOTHERACCOUNTBOB1", "secret_access_key": "other-account-bob-secret-0000000000000001"}]}]
    }]});
    std::fs::write(&file, doc.to_string()).expect("write the file");
    let file_arg = file.to_str().expect("utf-8 path").to_string();
    let mut server = TestServer::start_with(env!("CARGO_BIN_EXE_tarn"), &["--iam-file", &file_arg], &[], true);
    let out = run_script(&mut server, &script, &["setup"], Duration::from_secs(300));
    assert!(out.contains("cross-account setup: 0 failures"), "{out}");
    server.restart();
    let out = run_script(&mut server, &script, &["after-restart"], Duration::from_secs(120));
    assert!(out.contains("cross-account after restart: 0 failures"), "{out}");
}

/// Object Ownership (bucket owner enforced): ACL headers refused or accepted as S3 does, ACLs
/// read as the owner's full control, through boto3 and aws-cli.
#[test]
fn object_ownership_disables_acls_through_boto3() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/ownership.py");
    let mut server = TestServer::start(env!("CARGO_BIN_EXE_tarn"));
    let out = run_script(&mut server, &script, &[], Duration::from_secs(300));
    assert!(out.contains("ownership: 0 failures"), "{out}");
}

/// Account-wide Block Public Access (S3 Control) through boto3: it adds to each bucket's own
/// settings, needs its own actions, and survives a restart.
#[test]
fn account_public_access_block_through_boto3() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/account_public_access.py");
    let mut server = TestServer::start(env!("CARGO_BIN_EXE_tarn"));
    let out = run_script(&mut server, &script, &["keep"], Duration::from_secs(300));
    assert!(out.contains("account public access: 0 failures"), "{out}");
    server.restart();
    let check = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/account_public_access_after.py");
    let out = run_script(&mut server, &check, &[], Duration::from_secs(120));
    assert!(out.contains("account public access after restart: 0 failures"), "{out}");
}

/// aws:RequestTag, aws:TagKeys and aws:ResourceTag conditions on Kinesis and IAM (boto3).
#[test]
fn tag_condition_keys_through_boto3() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/tag_conditions.py");
    let mut server = TestServer::start(env!("CARGO_BIN_EXE_tarn"));
    let out = run_script(&mut server, &script, &[], Duration::from_secs(300));
    assert!(out.contains("tag conditions: 0 failures"), "{out}");
}
