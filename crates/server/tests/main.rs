//! tarn's integration tests, one binary: each module drives real `tarn` processes through the
//! clients people use (the AWS SDK for Rust, boto3 and aws-cli, tokio-postgres and psql) or
//! checks the house rules. One binary links DataFusion and the SDKs once, not once per file.
//!
//! Run one area with a filter: `cargo test -p tarn-server --test integration s3::` (or `pg::`,
//! `kinesis::`, `readme::`, ...).

mod athena;
mod audit;
mod cli_smoke;
mod crash;
mod firehose;
mod glue;
mod house;
mod iam;
mod kinesis;
mod kinesis_records;
mod kms;
mod lifecycle;
mod memory;
mod pg;
mod readme;
mod s3;
mod sql_cli;
mod tls;
mod tpch;
mod wire;

/// Tests that load the whole machine (TPC-H, the crash test, 2 GiB through one server) and
/// tests that measure how the server behaves under load take this, so that none of them runs
/// beside another: on 2 cores, two of them at once would measure each other.
pub fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    static EXCLUSIVE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    EXCLUSIVE.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
