//! End-to-end S3 tests: a real `tarn` process driven by the AWS SDK for Rust (and raw HTTP
//! where a test needs bytes no SDK would send).

mod auth;
mod bad_input;
mod buckets;
mod checksums;
mod list;
mod multipart;
mod objects;
mod sse_c;
mod versioning;

use aws_sdk_s3::primitives::ByteStream;
use tarn_testkit::TestServer;

pub fn server() -> TestServer {
    TestServer::start(env!("CARGO_BIN_EXE_tarn"))
}

pub use tarn_testkit::failure;

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
