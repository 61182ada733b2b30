//! SQL over the PostgreSQL wire protocol with tokio-postgres: SCRAM login with the access key,
//! DDL and queries on the same catalog Athena uses, typed results, errors.

use tarn_testkit::{ACCESS_KEY_ID, SECRET_ACCESS_KEY, TestServer};
use tokio_postgres::types::Type;
use tokio_postgres::{NoTls, SimpleQueryMessage};

async fn connect(
    server: &TestServer,
    db: &str,
    password: &str,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let conn = format!(
        "host={} port={} user={ACCESS_KEY_ID} password={password} dbname={db}",
        server.pg_addr.ip(),
        server.pg_addr.port()
    );
    let (client, connection) = tokio_postgres::connect(&conn, NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_over_the_postgres_wire() {
    let server = TestServer::start(env!("CARGO_BIN_EXE_tarn"));
    let s3 = server.s3();
    s3.create_bucket().bucket("pgdata").send().await.expect("create bucket");
    s3.put_object()
        .bucket("pgdata")
        .key("orders/part-0.csv")
        .body(b"1,apple,2.5,2026-11-01\n2,pear,1.0,2026-11-02\n3,fig,4.0,2026-11-03\n".to_vec().into())
        .send()
        .await
        .expect("put");

    // a wrong password is refused
    let refused = connect(&server, "default", "not-the-secret").await;
    assert!(refused.is_err(), "a wrong password must fail");

    let client = connect(&server, "default", SECRET_ACCESS_KEY).await.expect("SCRAM login with the access key");
    client.batch_execute("CREATE DATABASE shop").await.expect("CREATE DATABASE");
    client
        .batch_execute(
            "CREATE EXTERNAL TABLE shop.orders (id bigint, item string, price double, day date) \
             ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' LOCATION 's3://pgdata/orders/'",
        )
        .await
        .expect("CREATE EXTERNAL TABLE");

    // extended protocol, binary results, typed
    let row = client
        .query_one("SELECT count(*) AS n, sum(price) AS total, min(day) AS first FROM shop.orders", &[])
        .await
        .expect("query");
    assert_eq!(row.get::<_, i64>("n"), 3);
    assert!((row.get::<_, f64>("total") - 7.5).abs() < 1e-9);
    let rows = client.query("SELECT id, item FROM shop.orders WHERE price > 2 ORDER BY id", &[]).await.expect("query");
    let got: Vec<(i64, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(got, vec![(1, "apple".to_string()), (3, "fig".to_string())]);

    // parameters: tokio-postgres prepares (the server infers the types from the query) and binds
    // binary values
    let rows = client
        .query("SELECT id FROM shop.orders WHERE price > $1 AND item <> $2 ORDER BY id", &[&2.0f64, &"fig"])
        .await
        .expect("a query with parameters");
    assert_eq!(rows.iter().map(|r| r.get::<_, i64>(0)).collect::<Vec<_>>(), vec![1]);
    let stmt = client.prepare("SELECT item FROM shop.orders WHERE id = $1").await.expect("prepare");
    assert_eq!(stmt.params(), &[Type::INT8], "the parameter's type comes from the column it meets");
    let item: String = client.query_one(&stmt, &[&2i64]).await.expect("bound").get(0);
    assert_eq!(item, "pear");
    assert!(client.query(&stmt, &[&None::<i64>]).await.expect("NULL").is_empty(), "id = NULL matches nothing");
    // a client that declares text sends text; the server casts it to the column's type
    let stmt = client
        .prepare_typed("SELECT count(*) FROM shop.orders WHERE day >= $1 AND id < $2", &[Type::TEXT, Type::TEXT])
        .await
        .expect("prepare_typed");
    let n: i64 = client.query_one(&stmt, &[&"2026-11-02", &"3"]).await.expect("text parameters").get(0);
    assert_eq!(n, 1);
    let err = client.query(&stmt, &[&"not a date", &"3"]).await.expect_err("a value that does not cast");
    let message = err.as_db_error().map(|e| e.message().to_string()).unwrap_or_default();
    assert!(message.contains("$1"), "{message}");
    let err = client.query("CREATE DATABASE other$1", &[&"x"]).await.expect_err("no parameters in DDL");
    assert!(err.as_db_error().is_some(), "{err:?}");

    // simple protocol (psql's), text results, DDL output rows
    let msgs = client.simple_query("SHOW TABLES IN shop").await.expect("SHOW TABLES");
    let names: Vec<String> = msgs
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .collect();
    assert_eq!(names, vec!["orders"]);

    // errors carry SQLSTATE and leave the connection usable
    let err = client.simple_query("SELEC 1").await.expect_err("a syntax error");
    assert_eq!(err.code().map(|c| c.code()), Some("42601"), "{err:?}");
    let err = client.query("SELECT * FROM shop.nope", &[]).await.expect_err("a missing table");
    assert_eq!(err.code().map(|c| c.code()), Some("42P01"), "{err:?}");
    let message = err.as_db_error().map(|e| e.message().to_string()).unwrap_or_default();
    assert!(message.contains("nope"), "{message}");

    // the connection's database is the default schema
    let shop = connect(&server, "shop", SECRET_ACCESS_KEY).await.expect("login to shop");
    let n: i64 = shop.query_one("SELECT count(*) FROM orders", &[]).await.expect("unqualified name").get(0);
    assert_eq!(n, 3);

    // a corrupt Parquet file fails the query naming the object
    s3.put_object()
        .bucket("pgdata")
        .key("broken/part-7.parquet")
        .body(b"PAR1 this is not a parquet file".to_vec().into())
        .send()
        .await
        .expect("put");
    client
        .batch_execute("CREATE EXTERNAL TABLE shop.broken (id bigint) STORED AS PARQUET LOCATION 's3://pgdata/broken/'")
        .await
        .expect("CREATE EXTERNAL TABLE");
    let err = client.query("SELECT count(*) FROM shop.broken", &[]).await.expect_err("a corrupt Parquet file");
    let message = err.as_db_error().map(|e| e.message().to_string()).unwrap_or_default();
    assert!(message.contains("s3://pgdata/broken/part-7.parquet"), "{message}");

    // a bucket policy that denies s3:GetObject on a table's location denies the query over it
    let deny = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*",
        "Action": "s3:GetObject", "Resource": "arn:aws:s3:::pgdata/orders/*"}]}"#;
    s3.put_bucket_policy().bucket("pgdata").policy(deny).send().await.expect("put bucket policy");
    let err = client.query("SELECT count(*) FROM shop.orders", &[]).await.expect_err("a denied read");
    assert_eq!(err.code().map(|c| c.code()), Some("42501"), "insufficient privilege: {err:?}");
    let message = err.as_db_error().map(|e| e.message().to_string()).unwrap_or_default();
    assert!(message.contains("s3://pgdata/orders"), "{message}");
    s3.delete_bucket_policy().bucket("pgdata").send().await.expect("delete bucket policy");
    let n: i64 = client.query_one("SELECT count(*) FROM shop.orders", &[]).await.expect("allowed again").get(0);
    assert_eq!(n, 3);
}

/// SIGTERM with sessions open: the server stops taking connections, ends each session with
/// PostgreSQL's `FATAL 57P01` (which psql and tokio-postgres show as PostgreSQL's own message)
/// and exits well within the drain limit.
#[test]
fn sigterm_ends_open_sessions_cleanly() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    const DRAIN: Duration = Duration::from_secs(10);
    let mut server = TestServer::start_with(
        env!("CARGO_BIN_EXE_tarn"),
        &[],
        &[("TARN_SHUTDOWN_DRAIN_MS", &DRAIN.as_millis().to_string())],
        true,
    );
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();

    // a tokio-postgres session, idle after a query; its connection future reports how it ended
    let conn = format!(
        "host={} port={} user={ACCESS_KEY_ID} password={SECRET_ACCESS_KEY} dbname=default",
        server.pg_addr.ip(),
        server.pg_addr.port()
    );
    let (client, ended) = rt.block_on(async {
        let (client, connection) = tokio_postgres::connect(&conn, NoTls).await.expect("connect");
        let ended = tokio::spawn(connection);
        let one: i64 = client.query_one("SELECT 41 + 1", &[]).await.expect("query").get(0);
        assert_eq!(one, 42);
        (client, ended)
    });

    // a psql session, where the machine has psql (CI installs it)
    let psql = Command::new("psql").arg("--version").output().is_ok_and(|o| o.status.success());
    let mut psql_session = psql.then(|| {
        let mut child = Command::new("psql")
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=0", &conn])
            .env("PGCONNECT_TIMEOUT", "10")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn psql");
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"SELECT 6 * 7 AS answer;\n").unwrap();
        stdin.flush().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().expect("psql answers").unwrap();
        assert_eq!(first.trim(), "42", "psql ran its query");
        (child, stdin)
    });
    if !psql {
        eprintln!("psql is not installed here: the psql half of this test did not run");
    }

    let signalled = Instant::now();
    let status = server.terminate(DRAIN + Duration::from_secs(5)).expect("tarn exits after SIGTERM");
    let took = signalled.elapsed();
    assert!(status.success(), "exit status {status}");
    assert!(took < DRAIN, "the open sessions held the exit for {took:?}");
    eprintln!("tarn exited {took:?} after SIGTERM with two sessions open");

    // tokio-postgres: the connection ended with the server's FATAL, not a broken pipe
    let outcome = rt.block_on(async { tokio::time::timeout(Duration::from_secs(5), ended).await });
    let err = outcome.expect("the connection ended").expect("task").expect_err("ended by the server");
    let db = err.as_db_error().unwrap_or_else(|| panic!("not a server message: {err:?}"));
    assert_eq!(db.code(), &tokio_postgres::error::SqlState::ADMIN_SHUTDOWN);
    assert_eq!(db.severity(), "FATAL");
    assert_eq!(db.message(), "terminating connection due to administrator command");
    assert!(client.is_closed());

    // psql: the next command shows PostgreSQL's message
    if let Some((mut child, mut stdin)) = psql_session.take() {
        let _ = stdin.write_all(b"SELECT 1;\n");
        drop(stdin);
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        let _ = child.wait();
        assert!(stderr.contains("FATAL:  terminating connection due to administrator command"), "psql said: {stderr}");
    }
}

/// A query whose rows are still streaming at SIGTERM runs to its end (the client gets every
/// row), then the session ends with `FATAL 57P01`; a session still busy when the drain limit
/// passes is cut off and the process exits anyway. The client holds the query in flight by not
/// reading: the server cannot send more than the socket buffers hold.
#[test]
fn sigterm_finishes_a_query_in_flight_and_cuts_off_at_the_drain_limit() {
    use std::time::{Duration, Instant};

    use futures::StreamExt;

    const ROWS: i64 = 2_000_000;
    let sql = format!("SELECT value FROM generate_series(1, {ROWS})");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let start = |drain_ms: &str| {
        let server =
            TestServer::start_with(env!("CARGO_BIN_EXE_tarn"), &[], &[("TARN_SHUTDOWN_DRAIN_MS", drain_ms)], true);
        let conn = format!(
            "host={} port={} user={ACCESS_KEY_ID} password={SECRET_ACCESS_KEY} dbname=default",
            server.pg_addr.ip(),
            server.pg_addr.port()
        );
        let (client, ended) = rt.block_on(async {
            let (client, connection) = tokio_postgres::connect(&conn, NoTls).await.expect("connect");
            (client, tokio::spawn(connection))
        });
        (server, client, ended)
    };
    let terminate = |server: &TestServer| {
        let pid = server.pid().unwrap().to_string();
        assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        Instant::now()
    };

    // 1. the query in flight finishes: every row arrives after the signal
    let (mut server, client, ended) = start("30000");
    let rows = rt.block_on(async {
        let stream = client.query_raw(sql.as_str(), std::iter::empty::<i64>()).await.expect("query");
        futures::pin_mut!(stream);
        let first = stream.next().await.expect("a first row").expect("row");
        assert_eq!(first.get::<_, i64>(0), 1);
        let signalled = terminate(&server);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut n = 1i64;
        let mut last = 1i64;
        while let Some(row) = stream.next().await {
            last = row.expect("every row of the query in flight").get(0);
            n += 1;
        }
        (n, last, signalled)
    });
    assert_eq!((rows.0, rows.1), (ROWS, ROWS), "the query in flight was not finished");
    let outcome = rt.block_on(async { tokio::time::timeout(Duration::from_secs(10), ended).await });
    let err = outcome.expect("the connection ended").expect("task").expect_err("ended by the server");
    assert_eq!(err.as_db_error().map(|e| e.code().clone()), Some(tokio_postgres::error::SqlState::ADMIN_SHUTDOWN));
    let status = server.wait_for_exit(Duration::from_secs(30)).expect("tarn exits once the query is done");
    assert!(status.success(), "{status}");
    eprintln!("query in flight finished; exit {:?} after SIGTERM", rows.2.elapsed());

    // 2. a session that does not finish within the drain limit is cut off
    let (mut server, client, _ended) = start("1000");
    let signalled = rt.block_on(async {
        let stream = client.query_raw(sql.as_str(), std::iter::empty::<i64>()).await.expect("query");
        futures::pin_mut!(stream);
        stream.next().await.expect("a first row").expect("row");
        let signalled = terminate(&server);
        // hold the query in flight: read nothing more until the server is gone
        let status = tokio::task::block_in_place(|| server.wait_for_exit(Duration::from_secs(15)));
        assert!(status.is_some_and(|s| s.success()), "tarn did not exit after the drain limit: {status:?}");
        signalled
    });
    let took = signalled.elapsed();
    assert!(took < Duration::from_secs(10), "the busy session held the exit for {took:?}");
    assert!(
        took >= Duration::from_millis(1000),
        "exited after {took:?}, before the drain limit: was the query in flight?"
    );
    eprintln!("busy session cut off; exit {took:?} after SIGTERM with a 1 s drain limit");
}

/// Runs a script of tests/py with the Python PostgreSQL clients against a fresh server that has
/// `bucket`; the script's output must end with `<name>: 0 failures`.
async fn pg_clients_script(script: &str, bucket: &str, name: &str) {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py").join(script);
    let mut server = TestServer::start(env!("CARGO_BIN_EXE_tarn"));
    server.s3().create_bucket().bucket(bucket).send().await.expect("create bucket");
    let (host, port) = (server.pg_addr.ip().to_string(), server.pg_addr.port().to_string());
    let out = tarn_testkit::python::run_script_in(
        &tarn_testkit::python::PG_CLIENTS,
        &mut server,
        &script,
        &[&host, &port, tarn_testkit::ACCESS_KEY_ID, tarn_testkit::SECRET_ACCESS_KEY],
        std::time::Duration::from_secs(300),
    );
    assert!(out.contains(&format!("{name}: 0 failures")), "{out}");
}

/// psycopg 3 and psycopg2 in their default (non-autocommit) mode: BEGIN, COMMIT, ROLLBACK,
/// SET/SHOW/RESET, several statements in one query, writes refused inside a transaction block
/// and run in autocommit (tests/py/pg_sessions.py).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psycopg_in_default_mode_through_transactions_and_settings() {
    pg_clients_script("pg_sessions.py", "pgsess", "pg sessions").await;
}

/// SQLAlchemy 2 over psycopg2 and psycopg 3, and pandas, as a notebook uses them: the inspector
/// browses schemas, tables, views and columns through tarn's pg_catalog; read_sql and
/// read_sql_table return native values; a savepoint recovers from an error; a long query is
/// cancelled (CancelRequest) and the session goes on; COPY TO STDOUT, Redshift's UNLOAD, COPY
/// from S3 and functions (tests/py/pg_catalog_clients.py).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlalchemy_and_pandas_browse_the_catalog_and_cancel() {
    pg_clients_script("pg_catalog_clients.py", "pgcat", "pg catalog clients").await;
}

/// A dbt project (tests/dbt: a seed, a view, a table, an incremental model, generic and
/// singular tests) through dbt-postgres: `dbt seed`, `dbt run` twice (the incremental model
/// appends), `dbt test` and `dbt docs generate` pass, and the rows are right
/// (tests/py/pg_dbt.py).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dbt_project_seeds_runs_tests_and_documents() {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/pg_dbt.py");
    let project = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dbt");
    let mut server = TestServer::start(env!("CARGO_BIN_EXE_tarn"));
    let (host, port) = (server.pg_addr.ip().to_string(), server.pg_addr.port().to_string());
    let out = tarn_testkit::python::run_script_in(
        &tarn_testkit::python::DBT,
        &mut server,
        &script,
        &[&host, &port, tarn_testkit::ACCESS_KEY_ID, tarn_testkit::SECRET_ACCESS_KEY, &project.to_string_lossy()],
        std::time::Duration::from_secs(600),
    );
    assert!(out.contains("dbt: 0 failures"), "{out}");
}

/// The tables the pgjdbc suite and its fixtures read: `readings` (every scalar type) and the
/// view `cheap`, in `default`, written through the wire in autocommit.
async fn jdbc_tables(server: &TestServer, bucket: &str) -> tokio_postgres::Client {
    server.s3().create_bucket().bucket(bucket).send().await.expect("create bucket");
    let client = connect(server, "default", SECRET_ACCESS_KEY).await.expect("connect");
    client
        .batch_execute(&format!(
            "CREATE EXTERNAL TABLE readings (id int, name string, price decimal(10,2), d date, ts timestamp, \
             ok boolean, score double) STORED AS PARQUET LOCATION 's3://{bucket}/readings/'; \
             INSERT INTO readings VALUES (1, 'a', 1.50, DATE '2024-01-02', TIMESTAMP '2024-01-02 03:04:05', true, 0.5), \
             (2, 'b', 2.25, DATE '2024-02-03', TIMESTAMP '2024-02-03 04:05:06', false, NULL); \
             CREATE VIEW cheap AS SELECT id, name FROM readings WHERE price < 2"
        ))
        .await
        .expect("make the tables");
    client
}

/// The catalog queries pgjdbc's DatabaseMetaData sends (tests/java/metadata_queries.sql,
/// captured from the driver) run as fixtures through tokio-postgres, so they are checked where
/// no Java is installed too: each runs (those marked `(gap)` are known not to yet, and are
/// checked to still fail, so the mark goes when they are fixed), and the listings name the
/// catalog's schema, tables and columns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgjdbc_metadata_queries_answer_from_the_glue_catalog() {
    let server = TestServer::start(env!("CARGO_BIN_EXE_tarn"));
    let client = jdbc_tables(&server, "jdbcfix").await;
    let text = include_str!("java/metadata_queries.sql");
    let mut ran = 0;
    for fixture in text.split("-- next\n") {
        let call = fixture.lines().rfind(|l| l.starts_with("-- pgjdbc: ")).expect("each fixture names its call");
        let sql: String = fixture.lines().filter(|l| !l.starts_with("--")).collect::<Vec<_>>().join("\n");
        let result = client.simple_query(&sql).await;
        if call.ends_with("(gap)") {
            assert!(result.is_err(), "{call} runs now: drop its (gap) mark and check its rows");
            continue;
        }
        let rows: Vec<Vec<String>> = result
            .unwrap_or_else(|e| panic!("{call}: {e:?}\n{sql}"))
            .into_iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(r) => {
                    Some((0..r.len()).map(|i| r.get(i).unwrap_or("NULL").to_string()).collect())
                }
                _ => None,
            })
            .collect();
        let has = |cells: &[&str]| rows.iter().any(|r| cells.iter().all(|c| r.iter().any(|v| v == c)));
        if call.contains("getSchemas()") {
            assert!(has(&["default"]), "{call}: {rows:?}");
        } else if call.contains("getTables(") {
            assert!(has(&["default", "readings", "TABLE"]) && has(&["default", "cheap", "VIEW"]), "{call}: {rows:?}");
        } else if call.contains(r#"getColumns(null, "default", "readings", null)"#) {
            let names: Vec<&str> = rows.iter().map(|r| r[2].as_str()).collect();
            assert_eq!(names, ["id", "name", "price", "d", "ts", "ok", "score"], "{call}: {rows:?}");
        } else if call.contains(r#"getColumns(null, "default", "cheap""#) {
            assert_eq!(rows.len(), 2, "{call}: {rows:?}");
        } else if call.contains("ResultSetMetaData") {
            // readings' oid in the fixture is the one a fresh catalog gives it, as here
            assert!(rows.iter().any(|r| r.iter().any(|v| v == "readings")), "{call}: {rows:?}");
        } else if call.contains("TypeInfoCache") {
            // every type with its oid, arrays marked (typinput = array_in)
            assert!(has(&["interval", "1186"]) && has(&["numeric", "1700"]), "{call}: {rows:?}");
            assert!(rows.iter().any(|r| r[0] == "t" && r[2] == "_int4"), "{call}: arrays are marked: {rows:?}");
            assert!(rows.iter().any(|r| r[0] == "f" && r[2] == "int4"), "{call}: {rows:?}");
        } else if call.contains("max_index_keys") {
            assert_eq!(rows, [["32"]], "{call}");
        } else if call.contains("getPrimaryKeys")
            || call.contains("getIndexInfo")
            || call.contains("ImportedKeys")
            || call.contains("ExportedKeys")
        {
            assert!(rows.is_empty(), "{call}: tarn has no keys or indexes: {rows:?}");
        }
        ran += 1;
    }
    assert!(ran >= 15, "the fixtures ran: {ran}");
}

/// pgjdbc (Debian's libpostgresql-jdbc-java, with the JDK's javac) runs tests/java/PgJdbcSuite:
/// DatabaseMetaData browsing, native values of each type, prepared statements across
/// prepareThreshold settings and JVM zones, Statement.cancel and setQueryTimeout, commit,
/// rollback, savepoints and autosave. Skipped with a message where Java or the driver is not
/// installed, unless TARN_TEST_REQUIRE_JDBC is set (CI sets it where it can install them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgjdbc_browses_queries_prepares_cancels_and_commits() {
    let jar = std::path::Path::new("/usr/share/java/postgresql.jar");
    let javac = std::process::Command::new("javac").arg("-version").output().is_ok_and(|o| o.status.success());
    if !jar.exists() || !javac {
        assert!(
            std::env::var_os("TARN_TEST_REQUIRE_JDBC").is_none(),
            "TARN_TEST_REQUIRE_JDBC is set but javac or {} is missing (apt-get install default-jdk-headless libpostgresql-jdbc-java)",
            jar.display()
        );
        eprintln!("skipped: the pgjdbc suite needs javac and {} (Debian: libpostgresql-jdbc-java)", jar.display());
        return;
    }
    let server = TestServer::start(env!("CARGO_BIN_EXE_tarn"));
    server.s3().create_bucket().bucket("jdbc").send().await.expect("create bucket");
    let classes = tempfile::tempdir().expect("temp dir");
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/java/PgJdbcSuite.java");
    let compiled = std::process::Command::new("javac")
        .arg("-cp")
        .arg(jar)
        .arg("-d")
        .arg(classes.path())
        .arg(&source)
        .output()
        .expect("run javac");
    assert!(compiled.status.success(), "javac: {}", String::from_utf8_lossy(&compiled.stderr));
    let classpath = format!("{}:{}", classes.path().display(), jar.display());
    let (host, port) = (server.pg_addr.ip().to_string(), server.pg_addr.port().to_string());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("java")
            .args(["-cp", &classpath, "PgJdbcSuite", &host, &port, ACCESS_KEY_ID, SECRET_ACCESS_KEY, "jdbc"])
            .output()
            .expect("run java")
    })
    .await
    .expect("java finished");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("pgjdbc: 0 failures"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The number of rows of `table`, or None when it does not exist.
async fn count_rows(client: &tokio_postgres::Client, table: &str) -> Option<i64> {
    client.query_one(&format!("SELECT count(*) FROM {table}"), &[]).await.ok().map(|r| r.get(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_open_when_the_server_is_killed_rolls_back_at_start() {
    let mut server = TestServer::start(env!("CARGO_BIN_EXE_tarn"));
    let a = connect(&server, "default", SECRET_ACCESS_KEY).await.unwrap();
    a.batch_execute(
        "CREATE TABLE keep (id integer); INSERT INTO keep VALUES (1), (2);
         CREATE TABLE doomed (id integer); INSERT INTO doomed VALUES (7);
         CREATE TABLE old_name (id integer); INSERT INTO old_name VALUES (5);
         CREATE VIEW v AS SELECT 1 AS one;
         CREATE TABLE emptied (id integer); INSERT INTO emptied VALUES (1), (2), (3);",
    )
    .await
    .unwrap();
    // a block that reached COMMIT stays, whole
    a.batch_execute("BEGIN; CREATE TABLE committed_t AS SELECT 1 AS x; INSERT INTO keep VALUES (10); COMMIT;")
        .await
        .unwrap();
    // a block left open: every kind of write it journals
    a.batch_execute(
        "BEGIN;
         INSERT INTO keep VALUES (3), (4);
         CREATE TABLE fresh (id integer); INSERT INTO fresh VALUES (9);
         CREATE TABLE fresh_ctas AS SELECT 2 AS y;
         DROP TABLE doomed;
         ALTER TABLE old_name RENAME TO new_name;
         CREATE OR REPLACE VIEW v AS SELECT 2 AS two;
         TRUNCATE emptied;
         CREATE SCHEMA crash_schema;
         CREATE TABLE old_name (id integer, note text);",
    )
    .await
    .unwrap();
    // a COPY from a bucket in the open block
    let s3 = server.s3();
    s3.create_bucket().bucket("copysrc").send().await.unwrap();
    s3.put_object().bucket("copysrc").key("in.csv").body(b"20\n21\n".to_vec().into()).send().await.unwrap();
    a.batch_execute("COPY keep FROM 's3://copysrc/in.csv' IAM_ROLE default FORMAT AS CSV").await.unwrap();
    // a failed statement in its own block must not leave a record that drops what it did not make
    let b = connect(&server, "default", SECRET_ACCESS_KEY).await.unwrap();
    b.batch_execute("BEGIN").await.unwrap();
    let taken = b.batch_execute("CREATE TABLE keep (id integer)").await;
    assert!(taken.is_err(), "CREATE of a taken name must fail");
    // other sessions see the open block's writes (read uncommitted), so they really happened
    let c = connect(&server, "default", SECRET_ACCESS_KEY).await.unwrap();
    assert_eq!(count_rows(&c, "keep").await, Some(7));
    assert_eq!(count_rows(&c, "fresh").await, Some(1));
    assert_eq!(count_rows(&c, "doomed").await, None);
    assert_eq!(count_rows(&c, "new_name").await, Some(1));
    assert_eq!(count_rows(&c, "emptied").await, Some(0));
    let journals = server.data_dir().join("pg-journal");
    let open: Vec<_> = std::fs::read_dir(&journals).unwrap().collect();
    assert!(!open.is_empty(), "an open block that wrote has its journal: {open:?}");

    server.kill();
    drop((a, b, c));
    server.start_again();

    let c = connect(&server, "default", SECRET_ACCESS_KEY).await.unwrap();
    assert_eq!(
        count_rows(&c, "keep").await,
        Some(3),
        "the open block's INSERT and COPY are taken back, the committed INSERT stays"
    );
    assert_eq!(count_rows(&c, "committed_t").await, Some(1));
    assert_eq!(count_rows(&c, "fresh").await, None);
    assert_eq!(count_rows(&c, "fresh_ctas").await, None);
    assert_eq!(count_rows(&c, "doomed").await, Some(1), "the dropped table is back with its rows");
    assert_eq!(count_rows(&c, "new_name").await, None);
    let old: Vec<String> = c
        .query("SELECT column_name FROM information_schema.columns WHERE table_name = 'old_name'", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(old, ["id"], "the renamed table is back under its name, the re-made one gone");
    assert_eq!(count_rows(&c, "old_name").await, Some(1));
    let v: i64 = c.query_one("SELECT one FROM v", &[]).await.unwrap().get(0);
    assert_eq!(v, 1, "the replaced view's old definition is back");
    assert_eq!(count_rows(&c, "emptied").await, Some(3), "the truncated table has its rows back");
    let schemas: i64 = c
        .query_one("SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'crash_schema'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(schemas, 0);
    assert_eq!(std::fs::read_dir(&journals).unwrap().count(), 0, "recovered journals are removed");
    // the files of the tables the block made are gone from the warehouse
    let s3 = server.s3();
    let buckets = s3.list_buckets().send().await.unwrap();
    let warehouse = buckets
        .buckets()
        .iter()
        .filter_map(|b| b.name())
        .find(|n| n.starts_with("tarn-warehouse-"))
        .unwrap()
        .to_string();
    let listed = s3.list_objects_v2().bucket(&warehouse).prefix("default/").send().await.unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert!(keys.iter().all(|k| !k.starts_with("default/fresh")), "files of rolled-back tables remain: {keys:?}");
    assert!(keys.iter().any(|k| k.starts_with("default/doomed-")), "the dropped table's files must stay: {keys:?}");
}

/// A value's bytes as the server sent them in binary.
struct Raw(Vec<u8>);

impl<'a> tokio_postgres::types::FromSql<'a> for Raw {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(raw.to_vec()))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::INTERVAL
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intervals_go_out_in_postgres_forms() {
    let server = TestServer::start(env!("CARGO_BIN_EXE_tarn"));
    let client = connect(&server, "default", SECRET_ACCESS_KEY).await.unwrap();
    let sql = "SELECT INTERVAL '1 year 2 months 3 days 4 hours 5 minutes 6.5 seconds' AS a, \
               INTERVAL '-1 day 1 hour' AS b, INTERVAL '0 seconds' AS c, \
               TIMESTAMP '2024-01-03 00:00:00' - TIMESTAMP '2024-01-01 12:00:00' AS d";
    // text (the simple protocol): PostgreSQL's default IntervalStyle
    let msgs = client.simple_query(sql).await.unwrap();
    let row = msgs
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(r),
            _ => None,
        })
        .unwrap();
    let text: Vec<&str> = (0..4).map(|i| row.get(i).unwrap()).collect();
    assert_eq!(text[0], "1 year 2 mons 3 days 04:05:06.5");
    assert_eq!(text[1], "-1 days +01:00:00");
    assert_eq!(text[2], "00:00:00");
    assert_eq!(text[3], "1 day 12:00:00", "a timestamp difference is an interval");
    // binary (tokio-postgres's extended protocol): microseconds, days, months
    let row = client.query_one(sql, &[]).await.unwrap();
    for (i, (months, days, micros)) in
        [(14, 3, 14_706_500_000_i64), (0, -1, 3_600_000_000), (0, 0, 0)].into_iter().enumerate()
    {
        assert_eq!(row.columns()[i].type_(), &Type::INTERVAL);
        let Raw(bytes) = row.get(i);
        let mut want = micros.to_be_bytes().to_vec();
        want.extend_from_slice(&i32::to_be_bytes(days));
        want.extend_from_slice(&i32::to_be_bytes(months));
        assert_eq!(bytes, want, "column {i}");
    }
}

/// What a block cannot take back is refused inside one (25001), also when BEGIN came earlier in
/// the same simple query, and nothing of it happens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_a_block_cannot_take_back_are_refused_in_it() {
    let server = TestServer::start(env!("CARGO_BIN_EXE_tarn"));
    let c = connect(&server, "default", SECRET_ACCESS_KEY).await.unwrap();
    c.batch_execute("CREATE SCHEMA keepme").await.unwrap();
    // (refused as written: whether `parts` exists does not matter)
    let refused = [
        "DROP SCHEMA keepme",
        "UNLOAD ('SELECT 1') TO 's3://nowhere/out/' IAM_ROLE default",
        "MSCK REPAIR TABLE parts",
        "ALTER TABLE parts ADD PARTITION (dt='x') LOCATION 's3://tarn-warehouse-000000000000/parts/dt=x/'",
    ];
    for sql in refused {
        for batched in [false, true] {
            let sent = if batched {
                c.batch_execute(&format!("BEGIN; {sql}")).await
            } else {
                c.batch_execute("BEGIN").await.unwrap();
                c.batch_execute(sql).await
            };
            let e = sent.expect_err(sql);
            assert_eq!(e.code().map(|c| c.code()), Some("25001"), "{sql} (batched: {batched}): {e:?}");
            c.batch_execute("ROLLBACK").await.unwrap();
        }
    }
    let schemas: i64 = c
        .query_one("SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'keepme'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(schemas, 1, "the refused DROP SCHEMA did nothing");
}
