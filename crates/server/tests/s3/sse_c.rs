//! SSE-C used to be ignored: a PUT naming a customer key was stored under tarn's own key, and a
//! GET without the customer's key read it back in plaintext. S3 takes a customer's key only over
//! TLS, so over plain HTTP every request naming one is refused with S3's answer and nothing it
//! carried is stored (SSE-C over HTTPS: tests/tls.rs and tests/py/sse_c.py).

use aws_sdk_s3::primitives::ByteStream;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use tarn_testkit::{raw_request, sign};

use crate::s3::{bucket, failure, get_bytes, put, server};

const PLAINTEXT: &[u8] = b"sse-c plaintext marker 5b1c0e7a: must never be stored under tarn's own key";

fn customer_key() -> (String, String) {
    use md5::Digest;
    let key = [7u8; 32];
    (B64.encode(key), B64.encode(md5::Md5::digest(key)))
}

#[track_caller]
fn assert_refused<T, E>(result: Result<T, aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>>)
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::fmt::Debug,
{
    use aws_sdk_s3::error::ProvideErrorMetadata as _;
    let Err(err) = result else { panic!("an SSE-C request over plain HTTP was accepted") };
    let status = err.raw_response().map(|r| r.status().as_u16());
    assert_eq!(err.code(), Some("InvalidRequest"), "{err:?}");
    assert_eq!(
        err.message(),
        Some(
            "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection."
        )
    );
    assert_eq!(status, Some(400));
}

#[tokio::test]
async fn sse_c_requests_are_refused_and_store_nothing() {
    let srv = server();
    let s3 = srv.s3();
    bucket(&s3, "ssec").await;
    put(&s3, "ssec", "plain", b"plain object").await;
    let (key, md5) = customer_key();

    let put_c = s3
        .put_object()
        .bucket("ssec")
        .key("secret")
        .body(ByteStream::from_static(PLAINTEXT))
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key)
        .sse_customer_key_md5(&md5)
        .send()
        .await;
    assert_refused(put_c);
    let (code, status) = failure(s3.head_object().bucket("ssec").key("secret").send().await);
    assert_eq!((code.as_str(), status), ("NotFound", 404), "a refused SSE-C PUT stores nothing");

    // reading with a customer key: refused, not served as if the key were right
    assert_refused(
        s3.get_object()
            .bucket("ssec")
            .key("plain")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key)
            .sse_customer_key_md5(&md5)
            .send()
            .await,
    );
    // a HEAD answer has no body, so only its status tells
    let head = s3
        .head_object()
        .bucket("ssec")
        .key("plain")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key)
        .sse_customer_key_md5(&md5)
        .send()
        .await;
    assert_eq!(failure(head).1, 400);

    // copies, to and from a customer key
    assert_refused(
        s3.copy_object()
            .bucket("ssec")
            .key("copy-to-c")
            .copy_source("ssec/plain")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key)
            .sse_customer_key_md5(&md5)
            .send()
            .await,
    );
    assert_refused(
        s3.copy_object()
            .bucket("ssec")
            .key("copy-from-c")
            .copy_source("ssec/plain")
            .copy_source_sse_customer_algorithm("AES256")
            .copy_source_sse_customer_key(&key)
            .copy_source_sse_customer_key_md5(&md5)
            .send()
            .await,
    );
    for k in ["copy-to-c", "copy-from-c"] {
        let (code, _) = failure(s3.head_object().bucket("ssec").key(k).send().await);
        assert_eq!(code, "NotFound", "{k}: a refused copy stores nothing");
    }

    // multipart: the upload and each part
    assert_refused(
        s3.create_multipart_upload()
            .bucket("ssec")
            .key("mp")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key)
            .sse_customer_key_md5(&md5)
            .send()
            .await,
    );
    let uploads = s3.list_multipart_uploads().bucket("ssec").send().await.unwrap();
    assert!(uploads.uploads().is_empty(), "a refused CreateMultipartUpload starts nothing");
    let upload = s3.create_multipart_upload().bucket("ssec").key("mp").send().await.unwrap();
    let upload_id = upload.upload_id().unwrap();
    assert_refused(
        s3.upload_part()
            .bucket("ssec")
            .key("mp")
            .upload_id(upload_id)
            .part_number(1)
            .body(ByteStream::from_static(PLAINTEXT))
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key)
            .sse_customer_key_md5(&md5)
            .send()
            .await,
    );
    // a part copied in under a customer key, or out of an object named with one
    for (to_customer_key, from_customer_key) in [(true, false), (false, true)] {
        let mut copy = s3
            .upload_part_copy()
            .bucket("ssec")
            .key("mp")
            .upload_id(upload_id)
            .part_number(1)
            .copy_source("ssec/plain");
        if to_customer_key {
            copy = copy.sse_customer_algorithm("AES256").sse_customer_key(&key).sse_customer_key_md5(&md5);
        }
        if from_customer_key {
            copy = copy
                .copy_source_sse_customer_algorithm("AES256")
                .copy_source_sse_customer_key(&key)
                .copy_source_sse_customer_key_md5(&md5);
        }
        assert_refused(copy.send().await);
    }
    let parts = s3.list_parts().bucket("ssec").key("mp").upload_id(upload_id).send().await.unwrap();
    assert!(parts.parts().is_empty(), "a refused part is not kept");
    // completing an upload while naming a customer key
    let part = s3
        .upload_part()
        .bucket("ssec")
        .key("mp")
        .upload_id(upload_id)
        .part_number(1)
        .body(ByteStream::from_static(b"a plain part"))
        .send()
        .await
        .unwrap();
    let completed = aws_sdk_s3::types::CompletedMultipartUpload::builder()
        .parts(aws_sdk_s3::types::CompletedPart::builder().part_number(1).e_tag(part.e_tag().unwrap()).build())
        .build();
    assert_refused(
        s3.complete_multipart_upload()
            .bucket("ssec")
            .key("mp")
            .upload_id(upload_id)
            .multipart_upload(completed)
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key)
            .sse_customer_key_md5(&md5)
            .send()
            .await,
    );
    let (code, _) = failure(s3.head_object().bucket("ssec").key("mp").send().await);
    assert_eq!(code, "NotFound", "a refused completion makes no object");

    // a presigned URL that names the key in its query
    let host = srv.addr.to_string();
    let date = sign::amz_date_now();
    let query = format!(
        "x-amz-server-side-encryption-customer-algorithm=AES256&x-amz-server-side-encryption-customer-key={}",
        percent_encoding::utf8_percent_encode(&key, percent_encoding::NON_ALPHANUMERIC)
    );
    let payload = sign::sha256_hex(PLAINTEXT);
    let (auth, _) = sign::authorization(
        "PUT",
        "/ssec/presigned",
        &query,
        &[("host", &host), ("x-amz-date", &date), ("x-amz-content-sha256", &payload)],
        &payload,
        tarn_testkit::ACCESS_KEY_ID,
        tarn_testkit::SECRET_ACCESS_KEY,
        &date,
    );
    let mut request = format!(
        "PUT /ssec/presigned?{query} HTTP/1.1\r\nHost: {host}\r\nx-amz-date: {date}\r\nx-amz-content-sha256: {payload}\r\nAuthorization: {auth}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        PLAINTEXT.len()
    )
    .into_bytes();
    request.extend_from_slice(PLAINTEXT);
    let resp = raw_request(srv.addr, &request).unwrap();
    assert_eq!((resp.status, resp.error_code().as_deref()), (400, Some("InvalidRequest")), "{}", resp.body_text());

    // what was stored is exactly what was stored before, and no file holds the plaintext
    let listed = s3.list_objects_v2().bucket("ssec").send().await.unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["plain"]);
    assert_eq!(get_bytes(&s3, "ssec", "plain").await, b"plain object");
    tarn_testkit::assert_in_no_file(srv.data_dir(), &[("the plaintext".into(), PLAINTEXT.to_vec())]);
}
