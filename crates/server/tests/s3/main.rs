//! End-to-end S3 tests: a real `tarn` process driven by the AWS SDK for Rust (and raw HTTP
//! where a test needs bytes no SDK would send).

mod auth;
mod bad_input;
mod buckets;
mod checksums;
mod list;
mod multipart;
mod objects;
mod versioning;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use tarn_testkit::TestServer;

pub fn server() -> TestServer {
    TestServer::start(env!("CARGO_BIN_EXE_tarn"))
}

/// (error code, HTTP status) of a failed SDK call.
pub fn failure<E: ProvideErrorMetadata + std::fmt::Debug, T>(
    result: Result<T, SdkError<E, aws_sdk_s3::config::http::HttpResponse>>,
) -> (String, u16) {
    match result {
        Ok(_) => panic!("expected the call to fail"),
        Err(err) => {
            let status = err.raw_response().map_or(0, |r| r.status().as_u16());
            let code = err.code().map(str::to_string).unwrap_or_else(|| format!("<no code: {err:?}>"));
            (code, status)
        }
    }
}

pub async fn put(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    body: &[u8],
) -> aws_sdk_s3::operation::put_object::PutObjectOutput {
    s3.put_object().bucket(bucket).key(key).body(ByteStream::from(body.to_vec())).send().await.expect("put_object")
}

pub async fn get_bytes(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<u8> {
    let out = s3.get_object().bucket(bucket).key(key).send().await.expect("get_object");
    out.body.collect().await.expect("read body").into_bytes().to_vec()
}

pub async fn bucket(s3: &aws_sdk_s3::Client, name: &str) {
    s3.create_bucket().bucket(name).send().await.expect("create_bucket");
}

pub fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    hex_lower(&md5::Md5::digest(data))
}

pub fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
