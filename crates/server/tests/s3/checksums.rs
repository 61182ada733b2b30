//! Payload integrity as current clients send it: trailing checksums after aws-chunked bodies
//! (STREAMING-UNSIGNED-PAYLOAD-TRAILER, the default of boto3 >= 1.36 and aws-cli), signed
//! single-chunk payloads, and CRC64NVME.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode};
use tarn_testkit::{raw_request, sign};

use crate::s3::{bucket, failure, get_bytes, server};

fn trailer_put(
    srv: &tarn_testkit::TestServer,
    key: &str,
    data: &[u8],
    trailer_value: &str,
) -> tarn_testkit::RawResponse {
    let date = sign::amz_date_now();
    let host = srv.addr.to_string();
    let payload = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
    let mut body = format!("{:x}\r\n", data.len()).into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n0\r\nx-amz-checksum-crc32:{trailer_value}\r\n\r\n").as_bytes());
    let decoded = data.len().to_string();
    let framed = body.len().to_string();
    let path = format!("/trl/{key}");
    let headers = [
        ("host", host.as_str()),
        ("x-amz-date", date.as_str()),
        ("x-amz-content-sha256", payload),
        ("x-amz-decoded-content-length", decoded.as_str()),
        ("x-amz-trailer", "x-amz-checksum-crc32"),
        ("content-encoding", "aws-chunked"),
    ];
    let (auth, _) = sign::authorization(
        "PUT",
        &path,
        "",
        &headers,
        payload,
        tarn_testkit::ACCESS_KEY_ID,
        tarn_testkit::SECRET_ACCESS_KEY,
        &date,
    );
    let mut req = format!(
        "PUT {path} HTTP/1.1\r\nHost: {host}\r\nx-amz-date: {date}\r\nx-amz-content-sha256: {payload}\r\nx-amz-decoded-content-length: {decoded}\r\nx-amz-trailer: x-amz-checksum-crc32\r\ncontent-encoding: aws-chunked\r\nContent-Length: {framed}\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    req.extend_from_slice(&body);
    raw_request(srv.addr, &req).unwrap()
}

#[tokio::test]
async fn trailing_checksums_are_verified_and_stored() {
    let srv = server();
    let s3 = srv.s3();
    bucket(&s3, "trl").await;
    let resp = trailer_put(&srv, "good", b"hello world", "DUoRhQ==");
    assert_eq!(resp.status, 200, "{}", resp.body_text());
    assert_eq!(resp.header("x-amz-checksum-crc32"), Some("DUoRhQ=="));
    assert_eq!(get_bytes(&s3, "trl", "good").await, b"hello world", "the chunk framing is not part of the object");
    let head = s3.head_object().bucket("trl").key("good").checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
    assert_eq!(head.checksum_crc32(), Some("DUoRhQ=="));
    let resp = trailer_put(&srv, "bad", b"hello world", "AAAAAA==");
    assert_eq!((resp.status, resp.error_code().as_deref()), (400, Some("BadDigest")), "{}", resp.body_text());
    let (code, _) = failure(s3.get_object().bucket("trl").key("bad").send().await);
    assert_eq!(code, "NoSuchKey");
}

#[tokio::test]
async fn signed_payload_hash_is_verified() {
    let srv = server();
    let s3 = srv.s3();
    bucket(&s3, "sha").await;
    let date = sign::amz_date_now();
    let host = srv.addr.to_string();
    let claimed = sign::sha256_hex(b"what the client signed");
    let (auth, _) = sign::authorization(
        "PUT",
        "/sha/k",
        "",
        &[("host", &host), ("x-amz-date", &date), ("x-amz-content-sha256", &claimed)],
        &claimed,
        tarn_testkit::ACCESS_KEY_ID,
        tarn_testkit::SECRET_ACCESS_KEY,
        &date,
    );
    let body = b"different bytes on the wire";
    let mut req = format!(
        "PUT /sha/k HTTP/1.1\r\nHost: {host}\r\nx-amz-date: {date}\r\nx-amz-content-sha256: {claimed}\r\nAuthorization: {auth}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    let resp = raw_request(srv.addr, &req).unwrap();
    assert_eq!(resp.status, 400, "{}", resp.body_text());
    assert_eq!(resp.error_code().as_deref(), Some("XAmzContentSHA256Mismatch"));
    let (code, _) = failure(s3.get_object().bucket("sha").key("k").send().await);
    assert_eq!(code, "NoSuchKey");
}

#[tokio::test]
async fn crc64nvme_full_object_for_multipart() {
    let srv = server();
    let s3 = srv.s3();
    bucket(&s3, "c64").await;
    let put = s3
        .put_object()
        .bucket("c64")
        .key("one")
        .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
        .body(ByteStream::from_static(b"hello world"))
        .send()
        .await
        .unwrap();
    let single = put.checksum_crc64_nvme().unwrap().to_string();
    // a two-part upload of the same bytes has the same full-object CRC64NVME
    let id = s3
        .create_multipart_upload()
        .bucket("c64")
        .key("two")
        .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string();
    let first = vec![b'a'; 5 * 1024 * 1024];
    let whole = [first.as_slice(), b"tail"].concat();
    let p1 = s3
        .upload_part()
        .bucket("c64")
        .key("two")
        .upload_id(&id)
        .part_number(1)
        .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
        .body(ByteStream::from(first))
        .send()
        .await
        .unwrap();
    let p2 = s3
        .upload_part()
        .bucket("c64")
        .key("two")
        .upload_id(&id)
        .part_number(2)
        .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
        .body(ByteStream::from_static(b"tail"))
        .send()
        .await
        .unwrap();
    let parts = aws_sdk_s3::types::CompletedMultipartUpload::builder()
        .parts(aws_sdk_s3::types::CompletedPart::builder().part_number(1).e_tag(p1.e_tag().unwrap()).build())
        .parts(aws_sdk_s3::types::CompletedPart::builder().part_number(2).e_tag(p2.e_tag().unwrap()).build())
        .build();
    let done = s3
        .complete_multipart_upload()
        .bucket("c64")
        .key("two")
        .upload_id(&id)
        .multipart_upload(parts)
        .send()
        .await
        .unwrap();
    assert_eq!(done.checksum_type().map(|t| t.as_str()), Some("FULL_OBJECT"));
    let whole_put = s3
        .put_object()
        .bucket("c64")
        .key("whole")
        .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
        .body(ByteStream::from(whole))
        .send()
        .await
        .unwrap();
    assert_eq!(
        done.checksum_crc64_nvme(),
        whole_put.checksum_crc64_nvme(),
        "combined part CRCs equal the CRC of the whole"
    );
    assert_ne!(done.checksum_crc64_nvme(), Some(single.as_str()));
}

/// aws-chunked bodies that break their framing or their promises store nothing.
#[tokio::test]
async fn broken_aws_chunked_bodies_store_nothing() {
    let srv = server();
    let s3 = srv.s3();
    bucket(&s3, "trl").await;
    let data = b"hello world";
    let cases: [(&str, Vec<u8>, usize, &str); 3] = [
        // the final zero-length chunk and trailer never come
        (
            "truncated",
            format!("{:x}\r\n", data.len())
                .into_bytes()
                .into_iter()
                .chain(data.iter().copied())
                .chain(*b"\r\n")
                .collect(),
            data.len(),
            "x-amz-checksum-crc32",
        ),
        // x-amz-decoded-content-length promises more than the chunks carry
        (
            "short",
            [format!("{:x}\r\n", data.len()).as_bytes(), data, b"\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n"]
                .concat(),
            data.len() + 5,
            "x-amz-checksum-crc32",
        ),
        // a trailer is declared but not sent
        (
            "no-trailer",
            [format!("{:x}\r\n", data.len()).as_bytes(), data, b"\r\n0\r\n\r\n"].concat(),
            data.len(),
            "x-amz-checksum-crc32",
        ),
    ];
    for (key, body, decoded, trailer) in cases {
        let date = sign::amz_date_now();
        let host = srv.addr.to_string();
        let payload = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
        let decoded = decoded.to_string();
        let path = format!("/trl/{key}");
        let headers = [
            ("host", host.as_str()),
            ("x-amz-date", date.as_str()),
            ("x-amz-content-sha256", payload),
            ("x-amz-decoded-content-length", decoded.as_str()),
            ("x-amz-trailer", trailer),
            ("content-encoding", "aws-chunked"),
        ];
        let (auth, _) = sign::authorization(
            "PUT",
            &path,
            "",
            &headers,
            payload,
            tarn_testkit::ACCESS_KEY_ID,
            tarn_testkit::SECRET_ACCESS_KEY,
            &date,
        );
        let mut req = format!(
            "PUT {path} HTTP/1.1\r\nHost: {host}\r\nx-amz-date: {date}\r\nx-amz-content-sha256: {payload}\r\nx-amz-decoded-content-length: {decoded}\r\nx-amz-trailer: {trailer}\r\ncontent-encoding: aws-chunked\r\nContent-Length: {}\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(&body);
        let resp = raw_request(srv.addr, &req).unwrap();
        assert_eq!(resp.status, 400, "{key}: {}", resp.body_text());
        assert!(resp.error_code().is_some(), "{key}: an S3 error document");
        let (code, _) = failure(s3.get_object().bucket("trl").key(key).send().await);
        assert_eq!(code, "NoSuchKey", "{key}");
    }
}
