use aws_sdk_s3::primitives::ByteStream;
use tarn_testkit::{RawResponse, raw_request, sign};

use crate::s3::{bucket, failure, put, server};

#[tokio::test]
async fn signature_failures_are_refused() {
    let srv = server();
    let s3 = srv.s3();
    bucket(&s3, "auth").await;
    put(&s3, "auth", "k", b"secret").await;
    let unknown =
        tarn_testkit::s3_client_with(&srv.endpoint(), true, "AKIAUNKNOWNKEY000000", tarn_testkit::SECRET_ACCESS_KEY);
    let (code, status) = failure(unknown.get_object().bucket("auth").key("k").send().await);
    assert_eq!((code.as_str(), status), ("InvalidAccessKeyId", 403));
    let wrong = tarn_testkit::s3_client_with(
        &srv.endpoint(),
        true,
        tarn_testkit::ACCESS_KEY_ID,
        "wrongwrongwrongwrongwrongwrongwrongwrong",
    );
    let (code, status) = failure(wrong.get_object().bucket("auth").key("k").send().await);
    assert_eq!((code.as_str(), status), ("SignatureDoesNotMatch", 403));
    let (code, _) =
        failure(wrong.put_object().bucket("auth").key("k2").body(ByteStream::from_static(b"x")).send().await);
    assert_eq!(code, "SignatureDoesNotMatch");
    let (code, _) = failure(s3.get_object().bucket("auth").key("k2").send().await);
    assert_eq!(code, "NoSuchKey", "a refused PUT stores nothing");

    // anonymous
    let anon = raw_request(srv.addr, b"GET /auth/k HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    assert_eq!((anon.status, anon.error_code().as_deref()), (403, Some("AccessDenied")));
    assert!(anon.header("x-amz-request-id").is_some());

    // 20 minutes of clock skew
    let skewed = sign::amz_date(time::OffsetDateTime::now_utc() - time::Duration::minutes(20));
    let resp = signed(&srv, "GET", "/auth/k", "", &skewed, b"");
    assert_eq!((resp.status, resp.error_code().as_deref()), (403, Some("RequestTimeTooSkewed")));
    // 10 minutes is within tolerance
    let near = sign::amz_date(time::OffsetDateTime::now_utc() - time::Duration::minutes(10));
    let resp = signed(&srv, "GET", "/auth/k", "", &near, b"");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, b"secret");
}

#[tokio::test]
async fn presigned_urls_v4_and_v2() {
    let srv = server();
    let s3 = srv.s3();
    bucket(&s3, "pre").await;
    put(&s3, "pre", "file.txt", b"presigned body").await;
    let cfg = aws_sdk_s3::presigning::PresigningConfig::expires_in(std::time::Duration::from_secs(300)).unwrap();
    let req = s3.get_object().bucket("pre").key("file.txt").presigned(cfg).await.unwrap();
    let uri: http::Uri = req.uri().parse().unwrap();
    let path_q = uri.path_and_query().unwrap().as_str();
    let resp = raw_request(
        srv.addr,
        format!("GET {path_q} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", srv.addr).as_bytes(),
    )
    .unwrap();
    assert_eq!(resp.status, 200, "{}", resp.body_text());
    assert_eq!(resp.body, b"presigned body");
    // tampered signature
    let sig_at = path_q.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let flipped = if &path_q[sig_at..=sig_at] == "0" { "1" } else { "0" };
    let tampered = format!("{}{flipped}{}", &path_q[..sig_at], &path_q[sig_at + 1..]);
    let resp = raw_request(
        srv.addr,
        format!("GET {tampered} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", srv.addr).as_bytes(),
    )
    .unwrap();
    assert_eq!(resp.status, 403);
    // expired: signed 2 hours ago for 60 s
    let cfg = aws_sdk_s3::presigning::PresigningConfig::builder()
        .start_time(std::time::SystemTime::now() - std::time::Duration::from_secs(7200))
        .expires_in(std::time::Duration::from_secs(60))
        .build()
        .unwrap();
    let req = s3.get_object().bucket("pre").key("file.txt").presigned(cfg).await.unwrap();
    let uri: http::Uri = req.uri().parse().unwrap();
    let resp = raw_request(
        srv.addr,
        format!("GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", uri.path_and_query().unwrap(), srv.addr)
            .as_bytes(),
    )
    .unwrap();
    assert_eq!((resp.status, resp.error_code().as_deref()), (403, Some("AccessDenied")));

    // X-Amz-Expires is capped at seven days
    let req = s3
        .get_object()
        .bucket("pre")
        .key("file.txt")
        .presigned(
            aws_sdk_s3::presigning::PresigningConfig::expires_in(std::time::Duration::from_secs(604_800)).unwrap(),
        )
        .await
        .unwrap();
    let week: http::Uri = req.uri().parse().unwrap();
    let week = week.path_and_query().unwrap().as_str().to_string();
    let resp = raw_request(
        srv.addr,
        format!("GET {week} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", srv.addr).as_bytes(),
    )
    .unwrap();
    assert_eq!(resp.status, 200, "seven days is allowed: {}", resp.body_text());
    let too_long = week.replace("X-Amz-Expires=604800", "X-Amz-Expires=604801");
    let resp = raw_request(
        srv.addr,
        format!("GET {too_long} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", srv.addr).as_bytes(),
    )
    .unwrap();
    assert!(resp.status == 400 || resp.status == 403, "{} {}", resp.status, resp.body_text());

    // SigV2 query auth, as boto3's presigner emits by default
    let expires = (time::OffsetDateTime::now_utc().unix_timestamp() + 300).to_string();
    let to_sign = format!("GET\n\n\n{expires}\n/pre/file.txt");
    let signature = sigv2(&to_sign);
    let enc = percent_encoding::utf8_percent_encode(&signature, percent_encoding::NON_ALPHANUMERIC).to_string();
    let url = format!("/pre/file.txt?AWSAccessKeyId={}&Signature={enc}&Expires={expires}", tarn_testkit::ACCESS_KEY_ID);
    let resp = raw_request(
        srv.addr,
        format!("GET {url} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", srv.addr).as_bytes(),
    )
    .unwrap();
    assert_eq!(resp.status, 200, "{}", resp.body_text());
    assert_eq!(resp.body, b"presigned body");
    let past = (time::OffsetDateTime::now_utc().unix_timestamp() - 10).to_string();
    let expired_sig = sigv2(&format!("GET\n\n\n{past}\n/pre/file.txt"));
    let expired_enc =
        percent_encoding::utf8_percent_encode(&expired_sig, percent_encoding::NON_ALPHANUMERIC).to_string();
    let expired =
        format!("/pre/file.txt?AWSAccessKeyId={}&Signature={expired_enc}&Expires={past}", tarn_testkit::ACCESS_KEY_ID);
    let resp = raw_request(
        srv.addr,
        format!("GET {expired} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", srv.addr).as_bytes(),
    )
    .unwrap();
    assert_eq!((resp.status, resp.error_code().as_deref()), (403, Some("AccessDenied")), "{}", resp.body_text());
    let bad = url.replace(
        &format!("Signature={}", &enc[..2]),
        &format!("Signature={}", if &enc[..2] == "AA" { "BB" } else { "AA" }),
    );
    let resp = raw_request(
        srv.addr,
        format!("GET {bad} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", srv.addr).as_bytes(),
    )
    .unwrap();
    assert_eq!(resp.status, 403);
}

fn sigv2(to_sign: &str) -> String {
    use base64::Engine as _;
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(tarn_testkit::SECRET_ACCESS_KEY.as_bytes()).unwrap();
    mac.update(to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[tokio::test]
async fn sts_get_caller_identity() {
    let srv = server();
    let body = b"Action=GetCallerIdentity&Version=2011-06-15";
    let date = sign::amz_date_now();
    let host = srv.addr.to_string();
    let auth = tarn_api::sigv4::sign_for_test(
        "POST",
        "/",
        &[("host", &host), ("x-amz-date", &date), ("content-type", "application/x-www-form-urlencoded; charset=utf-8")],
        body,
        tarn_testkit::ACCESS_KEY_ID,
        tarn_testkit::SECRET_ACCESS_KEY,
        "us-east-1",
        "sts",
        &date,
    );
    let req = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nx-amz-date: {date}\r\ncontent-type: application/x-www-form-urlencoded; charset=utf-8\r\nAuthorization: {auth}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    let resp = raw_request(srv.addr, &bytes).unwrap();
    assert_eq!(resp.status, 200, "{}", resp.body_text());
    let text = resp.body_text();
    assert!(text.contains("<Account>000000000000</Account>"), "{text}");
    assert!(text.contains("<Arn>arn:aws:iam::000000000000:root</Arn>"), "{text}");
    // unsigned STS calls are refused
    let req = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\ncontent-type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\nAction=GetCallerIdentity&Version=2011-06-15",
        body.len()
    );
    let resp = raw_request(srv.addr, req.as_bytes()).unwrap();
    assert_eq!(resp.status, 403);
    assert_eq!(resp.error_code().as_deref(), Some("MissingAuthenticationToken"), "{}", resp.body_text());
    // the operation is named in the metrics
    let metrics =
        raw_request(srv.addr, b"GET /_tarn/metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    assert!(
        metrics.body_text().contains("operation=\"GetCallerIdentity\",status=\"200\"} 1"),
        "{}",
        metrics.body_text()
    );
}

/// A SigV4-signed request with a single-chunk payload.
pub fn signed(
    srv: &tarn_testkit::TestServer,
    method: &str,
    path: &str,
    query: &str,
    amz_date: &str,
    body: &[u8],
) -> RawResponse {
    let host = srv.addr.to_string();
    let payload = sign::sha256_hex(body);
    let (auth, _) = sign::authorization(
        method,
        path,
        query,
        &[("host", &host), ("x-amz-date", amz_date), ("x-amz-content-sha256", &payload)],
        &payload,
        tarn_testkit::ACCESS_KEY_ID,
        tarn_testkit::SECRET_ACCESS_KEY,
        amz_date,
    );
    let target = if query.is_empty() { path.to_string() } else { format!("{path}?{query}") };
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {host}\r\nx-amz-date: {amz_date}\r\nx-amz-content-sha256: {payload}\r\nAuthorization: {auth}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    raw_request(srv.addr, &bytes).unwrap()
}
