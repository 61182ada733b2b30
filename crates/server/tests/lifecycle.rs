//! Process lifecycle: root credentials generated on first start and kept across restarts, a
//! half-configured environment refused, `--region`, graceful shutdown with a request in flight,
//! multipart uploads surviving a crash, blob files released after replace/abort/complete/delete,
//! and the master key actually wrapping every object's data key.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketLocationConstraint, CompletedMultipartUpload, CompletedPart, CreateBucketConfiguration};
use tarn_testkit::{TestServer, pseudo_random_bytes, sign};

const BIN: &str = env!("CARGO_BIN_EXE_tarn");
const MIB: usize = 1024 * 1024;
/// Released blob files are removed 2 s after the commit that released them; wait a bit longer.
const RELEASE_WAIT: Duration = Duration::from_secs(3);

use tarn_testkit::failure;

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &[u8]) {
    s3.put_object().bucket(bucket).key(key).body(ByteStream::from(body.to_vec())).send().await.expect("put_object");
}

async fn get_bytes(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<u8> {
    let out = s3.get_object().bucket(bucket).key(key).send().await.expect("get_object");
    out.body.collect().await.expect("read body").into_bytes().to_vec()
}

fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    hex_lower(&md5::Md5::digest(data))
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The ETag S3 gives a multipart object: MD5 of the parts' binary MD5s, dash, part count.
fn multipart_etag(parts: &[&[u8]]) -> String {
    use md5::Digest;
    let mut all = Vec::new();
    for p in parts {
        all.extend_from_slice(&md5::Md5::digest(p));
    }
    format!("\"{}-{}\"", md5_hex(&all), parts.len())
}

fn completed(parts: &[(i32, &str)]) -> CompletedMultipartUpload {
    CompletedMultipartUpload::builder()
        .set_parts(Some(
            parts.iter().map(|(n, e)| CompletedPart::builder().part_number(*n).e_tag(*e).build()).collect(),
        ))
        .build()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

/// Names of the files in `DIR/blobs`.
fn blob_files(data_dir: &Path) -> Vec<String> {
    let dir = data_dir.join("blobs");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Request head of a raw SigV4-signed request with an unsigned payload (test root credentials).
fn signed_head(addr: SocketAddr, method: &str, path: &str, extra: &str) -> String {
    let head = sign::request_head(addr, method, path, "", "UNSIGNED-PAYLOAD", &[]);
    format!("{head}{extra}Connection: close\r\n\r\n")
}

#[tokio::test]
async fn generated_root_credentials_are_kept_and_required() {
    let mut srv = TestServer::start_with(BIN, &[], &[], false);
    let stdout = srv.stdout();
    let (key, secret) = srv.printed_credentials().unwrap_or_else(|| panic!("no export lines in stdout:\n{stdout}"));
    assert!(key.starts_with("AKIA"), "access key id {key:?}");
    assert_eq!(key.len(), 20, "access key id {key:?}");
    assert!(key.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()), "access key id {key:?}");
    assert_eq!(secret.len(), 40, "secret {secret:?}");
    assert_ne!(key, tarn_testkit::ACCESS_KEY_ID);

    let s3 = tarn_testkit::s3_client_with(&srv.endpoint(), true, &key, &secret);
    s3.create_bucket().bucket("gen").send().await.expect("create_bucket with the generated credentials");
    let body = pseudo_random_bytes(11, 5000);
    put(&s3, "gen", "hello.bin", &body).await;
    assert_eq!(get_bytes(&s3, "gen", "hello.bin").await, body);

    let keys = srv.data_dir().join("keys");
    let creds_file = keys.join("root-credentials.json");
    let master = keys.join("master.key");
    assert_eq!(mode(&creds_file), 0o600, "{}", creds_file.display());
    assert_eq!(mode(&master), 0o600, "{}", master.display());
    assert_eq!(std::fs::metadata(&master).unwrap().len(), 32);
    let stored = std::fs::read_to_string(&creds_file).unwrap();
    assert!(stored.contains(&key) && stored.contains(&secret), "credentials file does not hold the pair: {stored}");

    // the test credentials are not configured here, so they are unknown
    let stranger = srv.s3();
    assert_eq!(failure(stranger.list_buckets().send().await), ("InvalidAccessKeyId".to_string(), 403));

    // a restart (still without the env) loads the same pair and prints it again
    srv.restart();
    assert_eq!(srv.printed_credentials(), Some((key.clone(), secret.clone())), "stdout:\n{}", srv.stdout());
    assert_eq!(mode(&creds_file), 0o600);
    let s3 = tarn_testkit::s3_client_with(&srv.endpoint(), true, &key, &secret);
    assert_eq!(get_bytes(&s3, "gen", "hello.bin").await, body);

    // a different key id is refused; the right id with a wrong secret too
    let other = tarn_testkit::s3_client_with(&srv.endpoint(), true, "AKIAOTHERKEY00000000", &secret);
    assert_eq!(
        failure(other.get_object().bucket("gen").key("hello.bin").send().await),
        ("InvalidAccessKeyId".into(), 403)
    );
    let wrong_secret = tarn_testkit::s3_client_with(&srv.endpoint(), true, &key, &"x".repeat(40));
    assert_eq!(
        failure(wrong_secret.get_object().bucket("gen").key("hello.bin").send().await),
        ("SignatureDoesNotMatch".into(), 403)
    );
}

#[test]
fn half_configured_root_env_exits_non_zero() {
    for (set, unset) in [
        (("TARN_ROOT_ACCESS_KEY_ID", "AKIAHALFCONFIGURED00"), "TARN_ROOT_SECRET_ACCESS_KEY"),
        (("TARN_ROOT_SECRET_ACCESS_KEY", "halfConfiguredSecret00000000000000000000"), "TARN_ROOT_ACCESS_KEY_ID"),
    ] {
        let temp = tarn_testkit::tempfile::tempdir().unwrap();
        let data_dir = temp.path().join("data");
        let addr = tarn_testkit::free_addr();
        let started = Instant::now();
        let mut child = Command::new(BIN)
            .args(["serve", "--data-dir"])
            .arg(&data_dir)
            .args(["--listen", &addr.to_string()])
            .env(set.0, set.1)
            .env_remove(unset)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if started.elapsed() > Duration::from_secs(10) {
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let Some(status) = status else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tarn with only {} set kept running for 10 s", set.0);
        };
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!status.success(), "only {} set: exited with {status}", set.0);
        assert_eq!(status.code(), Some(1), "only {} set: {status}; stderr: {stderr}", set.0);
        assert!(stderr.contains("tarn:"), "only {} set: no error on stderr: {stderr}", set.0);
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("export AWS_ACCESS_KEY_ID"),
            "no credentials may be printed"
        );
        assert!(!data_dir.join("keys/root-credentials.json").exists(), "no credentials may be generated");
        assert!(TcpStream::connect(addr).is_err(), "nothing may listen on {addr}");
        eprintln!("only {} set: exit {status} after {:?}", set.0, started.elapsed());
    }
}

#[tokio::test]
async fn region_flag_sets_bucket_region() {
    let srv = TestServer::start_with(BIN, &["--region", "eu-west-1"], &[], true);
    assert!(srv.stdout().contains("export AWS_DEFAULT_REGION=eu-west-1"), "stdout:\n{}", srv.stdout());
    let s3 = srv.s3_in_region("eu-west-1");
    s3.create_bucket().bucket("euro").send().await.expect("create_bucket in eu-west-1");
    let loc = s3.get_bucket_location().bucket("euro").send().await.unwrap();
    assert_eq!(loc.location_constraint(), Some(&BucketLocationConstraint::EuWest1));
    assert_eq!(loc.location_constraint().map(BucketLocationConstraint::as_str), Some("eu-west-1"));
    let head = s3.head_bucket().bucket("euro").send().await.unwrap();
    assert_eq!(head.bucket_region(), Some("eu-west-1"));

    // an explicit matching constraint is accepted too
    s3.create_bucket()
        .bucket("euro-explicit")
        .create_bucket_configuration(
            CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::EuWest1).build(),
        )
        .send()
        .await
        .expect("create_bucket with LocationConstraint eu-west-1");
    let loc = s3.get_bucket_location().bucket("euro-explicit").send().await.unwrap();
    assert_eq!(loc.location_constraint().map(BucketLocationConstraint::as_str), Some("eu-west-1"));

    assert_eq!(failure(s3.create_bucket().bucket("euro").send().await), ("BucketAlreadyOwnedByYou".to_string(), 409));
    assert_eq!(
        failure(
            s3.create_bucket()
                .bucket("elsewhere")
                .create_bucket_configuration(
                    CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::UsWest2).build(),
                )
                .send()
                .await
        ),
        ("IllegalLocationConstraintException".to_string(), 400)
    );
    // the refused bucket was not created
    let names: Vec<String> =
        s3.list_buckets().send().await.unwrap().buckets().iter().filter_map(|b| b.name().map(str::to_string)).collect();
    assert_eq!(names, ["euro", "euro-explicit"]);
}

#[test]
fn sigterm_drains_an_in_flight_put() {
    let mut srv = TestServer::start(BIN);
    let addr = srv.addr;
    let resp = tarn_testkit::raw_request(addr, signed_head(addr, "PUT", "/drain", "Content-Length: 0\r\n").as_bytes())
        .unwrap();
    assert_eq!(resp.status, 200, "{}", resp.body_text());

    let body = pseudo_random_bytes(44, MIB);
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    stream
        .write_all(signed_head(addr, "PUT", "/drain/inflight.bin", &format!("Content-Length: {MIB}\r\n")).as_bytes())
        .unwrap();
    stream.write_all(&body[..MIB / 2]).unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(200));

    let pid = srv.pid().unwrap();
    let signalled = Instant::now();
    let kill = Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    assert!(kill.success());
    std::thread::sleep(Duration::from_millis(300));

    // no new work is taken: a new connection is refused, or at least the health check fails
    match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
        Err(err) => eprintln!("new connection after SIGTERM: {err}"),
        Ok(mut probe) => {
            probe.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let sent = probe.write_all(b"GET /_tarn/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
            let answer = sent.and_then(|()| tarn_testkit::read_response(&mut probe));
            if let Ok(resp) = answer {
                assert_ne!(resp.status, 200, "health check still answered 200 after SIGTERM");
            }
        }
    }

    // the in-flight PUT completes
    stream.write_all(&body[MIB / 2..]).unwrap();
    let resp = tarn_testkit::read_response(&mut stream).unwrap();
    assert_eq!(resp.status, 200, "{}", resp.body_text());
    assert_eq!(resp.header("etag"), Some(format!("\"{}\"", md5_hex(&body)).as_str()));

    let status = srv.wait_for_exit(Duration::from_secs(10)).expect("tarn exits within 10 s of SIGTERM");
    assert!(status.success(), "exit status {status}");
    eprintln!("exited {status} {:?} after SIGTERM", signalled.elapsed());

    srv.start_again();
    let resp = tarn_testkit::raw_request(addr, signed_head(addr, "GET", "/drain/inflight.bin", "").as_bytes()).unwrap();
    assert_eq!(resp.status, 200, "{}", resp.body_text());
    assert_eq!(resp.body.len(), MIB);
    assert!(resp.body == body, "the drained PUT did not read back byte-identical");
}

#[tokio::test]
async fn multipart_upload_survives_sigkill() {
    let mut srv = TestServer::start(BIN);
    let s3 = srv.s3();
    s3.create_bucket().bucket("mpu").send().await.unwrap();
    let part1 = pseudo_random_bytes(51, 6 * MIB);
    let part2 = pseudo_random_bytes(52, 100);
    let upload_id =
        s3.create_multipart_upload().bucket("mpu").key("k").send().await.unwrap().upload_id().unwrap().to_string();
    let mut etags = Vec::new();
    for (n, data) in [(1, &part1), (2, &part2)] {
        let out = s3
            .upload_part()
            .bucket("mpu")
            .key("k")
            .upload_id(&upload_id)
            .part_number(n)
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(out.e_tag(), Some(format!("\"{}\"", md5_hex(data)).as_str()));
        etags.push(out.e_tag().unwrap().to_string());
    }
    // the 6 MiB part is a blob file, the 100-byte part is inline
    assert_eq!(blob_files(srv.data_dir()).len(), 1, "{:?}", blob_files(srv.data_dir()));

    srv.kill();
    srv.start_again();

    let uploads = s3.list_multipart_uploads().bucket("mpu").send().await.unwrap();
    let listed: Vec<(Option<&str>, Option<&str>)> =
        uploads.uploads().iter().map(|u| (u.key(), u.upload_id())).collect();
    assert_eq!(listed, [(Some("k"), Some(upload_id.as_str()))]);
    let parts = s3.list_parts().bucket("mpu").key("k").upload_id(&upload_id).send().await.unwrap();
    let listed: Vec<(Option<i32>, Option<i64>, Option<&str>)> =
        parts.parts().iter().map(|p| (p.part_number(), p.size(), p.e_tag())).collect();
    assert_eq!(
        listed,
        [(Some(1), Some((6 * MIB) as i64), Some(etags[0].as_str())), (Some(2), Some(100), Some(etags[1].as_str()))]
    );
    assert_eq!(blob_files(srv.data_dir()).len(), 1, "the part file must survive the restart's orphan sweep");

    let done = s3
        .complete_multipart_upload()
        .bucket("mpu")
        .key("k")
        .upload_id(&upload_id)
        .multipart_upload(completed(&[(1, &etags[0]), (2, &etags[1])]))
        .send()
        .await
        .expect("complete after restart");
    assert_eq!(done.e_tag(), Some(multipart_etag(&[&part1, &part2]).as_str()));

    let got = s3.get_object().bucket("mpu").key("k").send().await.unwrap();
    assert_eq!(got.content_length(), Some((6 * MIB + 100) as i64));
    let bytes = got.body.collect().await.unwrap().into_bytes();
    let mut expected = part1.clone();
    expected.extend_from_slice(&part2);
    assert!(bytes[..] == expected[..], "completed object differs from its parts");
    assert!(s3.list_multipart_uploads().bucket("mpu").send().await.unwrap().uploads().is_empty());
}

#[tokio::test]
async fn replaced_aborted_and_unused_part_files_are_removed() {
    let srv = TestServer::start(BIN);
    let s3 = srv.s3();
    s3.create_bucket().bucket("parts").send().await.unwrap();
    let upload = |key: &'static str| {
        let s3 = s3.clone();
        async move {
            s3.create_multipart_upload().bucket("parts").key(key).send().await.unwrap().upload_id().unwrap().to_string()
        }
    };
    let part = |key: &'static str, id: String, n: i32, data: Vec<u8>| {
        let s3 = s3.clone();
        async move {
            let out = s3
                .upload_part()
                .bucket("parts")
                .key(key)
                .upload_id(id)
                .part_number(n)
                .body(ByteStream::from(data))
                .send()
                .await
                .unwrap();
            out.e_tag().unwrap().to_string()
        }
    };

    let a = upload("a").await;
    let first = pseudo_random_bytes(61, 6 * MIB);
    let p1 = pseudo_random_bytes(62, 6 * MIB);
    let p2 = pseudo_random_bytes(63, 6 * MIB);
    let p3 = pseudo_random_bytes(64, 6 * MIB);
    part("a", a.clone(), 1, first).await;
    let e1 = part("a", a.clone(), 1, p1.clone()).await; // replaces the first part 1
    assert_eq!(e1, format!("\"{}\"", md5_hex(&p1)));
    let _e2 = part("a", a.clone(), 2, p2).await;
    let e3 = part("a", a.clone(), 3, p3.clone()).await;

    let b = upload("b").await;
    part("b", b.clone(), 1, pseudo_random_bytes(65, 6 * MIB)).await;
    s3.abort_multipart_upload().bucket("parts").key("b").upload_id(&b).send().await.unwrap();

    let done = s3
        .complete_multipart_upload()
        .bucket("parts")
        .key("a")
        .upload_id(&a)
        .multipart_upload(completed(&[(1, &e1), (3, &e3)]))
        .send()
        .await
        .unwrap();
    assert_eq!(done.e_tag(), Some(multipart_etag(&[&p1, &p3]).as_str()));

    tokio::time::sleep(RELEASE_WAIT).await;
    let files = blob_files(srv.data_dir());
    assert_eq!(files.len(), 2, "only the completed object's two parts may remain: {files:?}");
    let mut expected = p1.clone();
    expected.extend_from_slice(&p3);
    assert!(get_bytes(&s3, "parts", "a").await == expected, "completed object differs from parts 1 and 3");

    s3.delete_object().bucket("parts").key("a").send().await.unwrap();
    tokio::time::sleep(RELEASE_WAIT).await;
    let files = blob_files(srv.data_dir());
    assert_eq!(files.len(), 0, "the deleted object's files must be removed: {files:?}");
    assert_eq!(failure(s3.get_object().bucket("parts").key("a").send().await), ("NoSuchKey".to_string(), 404));
}

#[tokio::test]
async fn objects_need_the_master_key_they_were_written_under() {
    let mut srv = TestServer::start(BIN);
    let s3 = srv.s3();
    s3.create_bucket().bucket("keys").send().await.unwrap();
    let big = pseudo_random_bytes(71, 300 * 1024);
    let small = pseudo_random_bytes(72, 1000);
    put(&s3, "keys", "big", &big).await;
    put(&s3, "keys", "small", &small).await;
    assert_eq!(blob_files(srv.data_dir()).len(), 1, "the 300 KiB object is a blob file, the 1000-byte one inline");

    srv.stop();
    let master = srv.data_dir().join("keys/master.key");
    let original = std::fs::read(&master).unwrap();
    assert_eq!(original.len(), 32);
    let mut other = pseudo_random_bytes(73, 32);
    if other == original {
        other[0] ^= 0xff;
    }
    std::fs::write(&master, &other).unwrap();
    assert_eq!(mode(&master), 0o600);

    // a start under a foreign master key is refused, with a message that names the key file
    let out = Command::new(BIN)
        .args(["serve", "--data-dir"])
        .arg(srv.data_dir())
        .args(["--listen", &tarn_testkit::free_addr().to_string()])
        .env("TARN_ROOT_ACCESS_KEY_ID", tarn_testkit::ACCESS_KEY_ID)
        .env("TARN_ROOT_SECRET_ACCESS_KEY", tarn_testkit::SECRET_ACCESS_KEY)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("master.key") && stderr.contains("not the master key"), "{stderr}");

    std::fs::write(&master, &original).unwrap();
    srv.start_again();
    let s3 = srv.s3();
    assert!(get_bytes(&s3, "keys", "big").await == big, "big object differs after restoring the master key");
    assert_eq!(get_bytes(&s3, "keys", "small").await, small);
}

/// SIGTERM with a grace period: the health check answers 503 while requests are still taken,
/// then the listener closes and the process exits.
#[test]
fn sigterm_turns_health_503_before_the_listener_closes() {
    let mut srv = TestServer::start_with(BIN, &[], &[("TARN_SHUTDOWN_GRACE_MS", "1500")], true);
    let addr = srv.addr;
    let health = || {
        tarn_testkit::raw_request(addr, b"GET /_tarn/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    };
    assert_eq!(health().unwrap().status, 200);
    let pid = srv.pid().unwrap();
    let signalled = Instant::now();
    assert!(Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap().success());
    std::thread::sleep(Duration::from_millis(300));
    // within the grace period: still accepting, and saying it is stopping
    let resp = health().expect("connections are still accepted during the grace period");
    assert_eq!(resp.status, 503, "{}", resp.body_text());
    // a request is still served
    let resp = tarn_testkit::raw_request(addr, signed_head(addr, "PUT", "/late", "Content-Length: 0\r\n").as_bytes())
        .expect("a request during the grace period");
    assert_eq!(resp.status, 200, "{}", resp.body_text());
    let status = srv.wait_for_exit(Duration::from_secs(10)).expect("tarn exits after the grace period");
    assert!(status.success(), "exit status {status}");
    let took = signalled.elapsed();
    assert!(took >= Duration::from_millis(1500), "exited after {took:?}, before the grace period ended");
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err(), "the listener is closed");
}
