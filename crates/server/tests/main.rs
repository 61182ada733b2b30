//! tarn's integration tests, one binary: each module drives real `tarn` processes through the
//! clients people use (the AWS SDK for Rust, boto3 and aws-cli, tokio-postgres and psql) or
//! checks the house rules. One binary links DataFusion and the SDKs once, not once per file.
//!
//! Run one area with a filter: `cargo test -p tarn-server --test integration s3::` (or `pg::`,
//! `kinesis::`, `readme::`, ...).

mod athena;
mod cli_smoke;
mod crash;
mod firehose;
mod glue;
mod house;
mod kinesis;
mod kinesis_records;
mod lifecycle;
mod memory;
mod pg;
mod readme;
mod s3;
mod sql_cli;
mod tpch;
mod wire;
