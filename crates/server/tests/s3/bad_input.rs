//! Requests no well-behaved SDK sends: each must get AWS's error and store nothing.

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use tarn_testkit::{raw_request, sign};

use crate::s3::auth::signed;
use crate::s3::{bucket, failure, get_bytes, put, server};

fn signed_head(
    srv: &tarn_testkit::TestServer,
    method: &str,
    path: &str,
    query: &str,
    payload_hash: &str,
    extra: &[(&str, &str)],
) -> String {
    sign::request_head(srv.addr, method, path, query, payload_hash, extra)
}

#[tokio::test]
async fn malformed_xml_is_refused() {
    let srv = server();
    let s3 = srv.s3();
    bucket(&s3, "bad").await;
    put(&s3, "bad", "a", b"keep me").await;
    let body = b"<Delete><Object><Key>a</Key></Objec";
    let resp = signed(&srv, "POST", "/bad", "delete=", &sign::amz_date_now(), body);
    assert_eq!((resp.status, resp.error_code().as_deref()), (400, Some("MalformedXML")), "{}", resp.body_text());
    assert_eq!(get_bytes(&s3, "bad", "a").await, b"keep me");
    let resp =
        signed(&srv, "PUT", "/bad", "versioning=", &sign::amz_date_now(), b"<VersioningConfiguration><Status>Enabled");
    assert_eq!((resp.status, resp.error_code().as_deref()), (400, Some("MalformedXML")));
    let id = s3.create_multipart_upload().bucket("bad").key("m").send().await.unwrap().upload_id().unwrap().to_string();
    let resp = signed(
        &srv,
        "POST",
        "/bad/m",
        &format!("uploadId={id}"),
        &sign::amz_date_now(),
        b"<CompleteMultipartUpload><Part>",
    );
    assert_eq!((resp.status, resp.error_code().as_deref()), (400, Some("MalformedXML")));
}

#[tokio::test]
async fn body_shorter_than_content_length_stores_nothing() {
    let srv = server();
    let s3 = srv.s3();
    bucket(&s3, "bad").await;
    put(&s3, "bad", "k", b"previous").await;
    for (key, declared, sent) in [("k", 1000usize, 500usize), ("new", 300_000, 200_000)] {
        let mut head = signed_head(&srv, "PUT", &format!("/bad/{key}"), "", "UNSIGNED-PAYLOAD", &[]);
        head.push_str(&format!("Content-Length: {declared}\r\n\r\n"));
        let mut stream = TcpStream::connect(srv.addr).unwrap();
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(&vec![b'z'; sent]).unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let resp = tarn_testkit::read_response(&mut stream).expect("tarn answers a short body");
        assert_eq!((resp.status, resp.error_code().as_deref()), (400, Some("IncompleteBody")), "{}", resp.body_text());
    }
    let files = std::fs::read_dir(srv.data_dir().join("blobs")).unwrap().count();
    assert_eq!(files, 0, "the partial 200 KB body left no blob file");
    assert_eq!(get_bytes(&s3, "bad", "k").await, b"previous");
    let (code, _) = failure(s3.get_object().bucket("bad").key("new").send().await);
    assert_eq!(code, "NoSuchKey");
}

#[tokio::test]
async fn chunk_signatures_are_verified() {
    let srv = server();
    let s3 = srv.s3();
    bucket(&s3, "bad").await;
    let data = tarn_testkit::pseudo_random_bytes(11, 100_000);
    for tamper in [false, true] {
        let key = if tamper { "tampered" } else { "good" };
        let date = sign::amz_date_now();
        let host = srv.addr.to_string();
        let decoded = data.len().to_string();
        let payload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
        let chunks: Vec<&[u8]> = data.chunks(64 * 1024).chain(std::iter::once(&[][..])).collect();
        let framed_len: usize = chunks
            .iter()
            .map(|c| format!("{:x}", c.len()).len() + ";chunk-signature=".len() + 64 + 2 + c.len() + 2)
            .sum();
        let framed_len_s = framed_len.to_string();
        let headers = [
            ("host", host.as_str()),
            ("x-amz-date", date.as_str()),
            ("x-amz-content-sha256", payload),
            ("x-amz-decoded-content-length", decoded.as_str()),
            ("content-encoding", "aws-chunked"),
            ("content-length", framed_len_s.as_str()),
        ];
        let (auth, seed) = sign::authorization(
            "PUT",
            &format!("/bad/{key}"),
            "",
            &headers,
            payload,
            tarn_testkit::ACCESS_KEY_ID,
            tarn_testkit::SECRET_ACCESS_KEY,
            &date,
        );
        let mut body = Vec::new();
        let mut previous = seed;
        for (i, chunk) in chunks.iter().enumerate() {
            let mut sig = sign::chunk_signature(tarn_testkit::SECRET_ACCESS_KEY, &date, &previous, chunk);
            previous = sig.clone();
            if tamper && i == 1 {
                sig = sig.replace(|c: char| c.is_ascii_digit(), "a");
            }
            body.extend_from_slice(format!("{:x};chunk-signature={sig}\r\n", chunk.len()).as_bytes());
            body.extend_from_slice(chunk);
            body.extend_from_slice(b"\r\n");
        }
        assert_eq!(body.len(), framed_len);
        let head = format!(
            "PUT /bad/{key} HTTP/1.1\r\nHost: {host}\r\nx-amz-date: {date}\r\nx-amz-content-sha256: {payload}\r\nx-amz-decoded-content-length: {decoded}\r\ncontent-encoding: aws-chunked\r\nContent-Length: {framed_len}\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"
        );
        let mut req = head.into_bytes();
        req.extend_from_slice(&body);
        let resp = raw_request(srv.addr, &req).unwrap();
        if tamper {
            assert_eq!(resp.status, 403, "{}", resp.body_text());
            assert_eq!(resp.error_code().as_deref(), Some("SignatureDoesNotMatch"));
            let (code, _) = failure(s3.get_object().bucket("bad").key(key).send().await);
            assert_eq!(code, "NoSuchKey");
        } else {
            assert_eq!(resp.status, 200, "{}", resp.body_text());
            assert_eq!(get_bytes(&s3, "bad", key).await, data);
        }
    }
}

#[tokio::test]
async fn oversized_header_and_long_key() {
    let srv = server();
    let s3 = srv.s3();
    bucket(&s3, "bad").await;
    let big = "v".repeat(10 * 1024);
    let mut head = signed_head(&srv, "PUT", "/bad/hdr", "", &sign::sha256_hex(b"abc"), &[]);
    head.push_str(&format!("x-amz-meta-big: {big}\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"));
    let resp = raw_request(srv.addr, head.as_bytes()).unwrap();
    assert_eq!((resp.status, resp.error_code().as_deref()), (400, Some("RequestHeaderSectionTooLarge")));
    let (code, _) = failure(s3.get_object().bucket("bad").key("hdr").send().await);
    assert_eq!(code, "NoSuchKey");
    let key = "k".repeat(1100);
    let resp = signed(&srv, "PUT", &format!("/bad/{key}"), "", &sign::amz_date_now(), b"abc");
    assert_eq!((resp.status, resp.error_code().as_deref()), (400, Some("KeyTooLongError")), "{}", resp.body_text());
}

#[tokio::test]
async fn wrong_content_md5_stores_nothing() {
    let srv = server();
    let s3 = srv.s3();
    bucket(&s3, "bad").await;
    let mut head =
        signed_head(&srv, "PUT", "/bad/md5", "", "UNSIGNED-PAYLOAD", &[("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg==")]);
    head.push_str("Content-Length: 5\r\nConnection: close\r\n\r\nhello");
    let resp = raw_request(srv.addr, head.as_bytes()).unwrap();
    assert_eq!((resp.status, resp.error_code().as_deref()), (400, Some("BadDigest")));
    let (code, _) = failure(s3.get_object().bucket("bad").key("md5").send().await);
    assert_eq!(code, "NoSuchKey");
}

/// A client that drops its connection mid-PUT stores nothing, and the previous version stays
/// readable in full, including while 100 such uploads are abandoned under load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_uploads_leave_previous_version_intact() {
    let srv = server();
    let s3 = srv.s3();
    bucket(&s3, "bad").await;
    let previous = tarn_testkit::pseudo_random_bytes(21, 1024 * 1024);
    put(&s3, "bad", "k", &previous).await;
    let head = {
        let mut h = signed_head(&srv, "PUT", "/bad/k", "", "UNSIGNED-PAYLOAD", &[]);
        h.push_str("Content-Length: 4194304\r\n\r\n");
        h
    };
    let addr = srv.addr;
    let mut droppers = Vec::new();
    for worker in 0..4 {
        let head = head.clone();
        droppers.push(std::thread::spawn(move || {
            for attempt in 0..25 {
                let mut stream = TcpStream::connect(addr).unwrap();
                stream.write_all(head.as_bytes()).unwrap();
                let sent = 4096 * (1 + (worker * 25 + attempt) % 700);
                stream.write_all(&vec![0xAB; sent]).unwrap();
                drop(stream);
            }
        }));
    }
    let mut reads = 0;
    while droppers.iter().any(|d| !d.is_finished()) || reads < 5 {
        assert_eq!(get_bytes(&s3, "bad", "k").await, previous, "read {reads}");
        reads += 1;
    }
    for d in droppers {
        d.join().unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(get_bytes(&s3, "bad", "k").await, previous);
    // only the one acknowledged blob remains on disk (each abandoned writer removes its file as
    // its channel closes: on a loaded machine that can take longer than the sleep above)
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let files = loop {
        let files = std::fs::read_dir(srv.data_dir().join("blobs")).unwrap().count();
        if files == 1 || std::time::Instant::now() > deadline {
            break files;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(files, 1, "abandoned uploads must not leave blob files");
}

#[tokio::test]
async fn single_put_over_5_gib_is_refused_before_the_body() {
    let srv = server();
    let s3 = srv.s3();
    bucket(&s3, "bad").await;
    let mut head = signed_head(&srv, "PUT", "/bad/huge", "", "UNSIGNED-PAYLOAD", &[]);
    head.push_str("Content-Length: 5368709121\r\nConnection: close\r\n\r\n");
    let mut stream = TcpStream::connect(srv.addr).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    // tarn answers from the headers alone and may close before reading any of the body
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let resp = tarn_testkit::read_response(&mut stream).unwrap();
    assert_eq!((resp.status, resp.error_code().as_deref()), (400, Some("EntityTooLarge")), "{}", resp.body_text());
    let (code, _) = failure(s3.get_object().bucket("bad").key("huge").send().await);
    assert_eq!(code, "NoSuchKey");
}
