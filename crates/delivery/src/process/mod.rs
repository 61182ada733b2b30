//! Data Firehose's built-in record processors (`ProcessingConfiguration.Processors`), as used for
//! S3 delivery with dynamic partitioning.
//!
//! Supported processor types (names as AWS's `ProcessorType` enum):
//!
//! - `Decompression` (`CompressionFormat` = `GZIP`, the default): gunzips the record, as AWS
//!   does for CloudWatch Logs subscription data.
//! - `CloudWatchLogProcessing` (`DataMessageExtraction` = `true`; needs `Decompression`): keeps
//!   only the `message` of each log event of a `DATA_MESSAGE` envelope, one per line; control
//!   messages (`CONTROL_MESSAGE`) and envelopes without log events are dropped.
//! - `RecordDeAggregation` (`SubRecordType` = `JSON` | `DELIMITED`, `Delimiter` base64-encoded):
//!   splits a record into consecutive JSON objects (optionally separated by whitespace) or on a
//!   delimiter. At most [`MAX_SUB_RECORDS`] sub-records per record: a record with more, or
//!   (JSON) one that is not a sequence of JSON objects, continues whole, as AWS does (the
//!   `MetadataExtraction` that usually follows then fails it as "Non JSON record provided").
//!   Kinesis Producer Library aggregation is not deaggregated.
//! - `MetadataExtraction` (`MetadataExtractionQuery`, `JsonParsingEngine` = `JQ-1.6`): runs the
//!   jq program (compiled once, by jaq) on each record; it must yield one object whose values
//!   are strings, numbers or booleans: the partition keys for `!{partitionKeyFromQuery:KEY}`.
//! - `AppendDelimiterToRecord` (optional `Delimiter`, base64-encoded like RecordDeAggregation's,
//!   default `"\n"`): applied when records are written, see [`Pipeline::delimiter`].
//! - `Lambda` is refused (tarn has no Lambda), unless processing is disabled.
//!
//! AWS applies the processors in a fixed order, whatever their order in the list: decompression,
//! message extraction, deaggregation, (Lambda), partition-key extraction; the delimiter is
//! appended at write time ("Deaggregation -> Data transformation via Lambda -> Partitioning
//! keys", AWS: "Apply dynamic partitioning to aggregated data").
//!
//! The jq engine is jaq (jq 1.6's language and standard library, with jaq's few documented
//! differences); numbers in partition keys are printed as jq 1.6 prints them (as doubles:
//! `1.0` -> `1`, `0.00001` -> `1e-05`). Queries cannot read the server's environment (`env` is
//! `{}`, `$ENV` is undefined), write to its stderr, or load modules. Queries are not bounded in
//! time or recursion depth: one that never ends stalls its stream's delivery. The usual query
//! shape, an object literal `{k: .a.b, y: .ts | strftime("%Y")}`, is evaluated key by key, with
//! plain paths and numeric `strftime` formats done natively (same results as jq, checked by the
//! tests); records are parsed once, with serde_json (nesting bounded at 128 levels).
//!
//! Per-record failures carry an error code for the error document written under the
//! ErrorOutputPrefix: [`METADATA_EXTRACTION_FAILED`] is AWS's; the decompression and CloudWatch
//! Logs codes are tarn's (AWS does not document them), in AWS's `Component.Reason` style.
//!
//! `config` validates the processors' parameters, `split` takes records apart (gunzip,
//! CloudWatch Logs envelopes, deaggregation), `delimiter` decodes the `Delimiter` parameters,
//! `jq` extracts partition keys and `pipeline` puts them together in AWS's order.

mod config;
mod delimiter;
mod jq;
mod pipeline;
mod split;

use std::collections::BTreeMap;
use std::fmt;

pub use config::{ConfigError, ProcessorConfig};
pub use pipeline::Pipeline;

/// Error code of a record whose partition keys could not be extracted (AWS's code).
pub const METADATA_EXTRACTION_FAILED: &str = "DynamicPartitioning.MetadataExtractionFailed";
/// Error code of a record that `Decompression` could not gunzip (tarn's code).
pub const DECOMPRESSION_FAILED: &str = "Decompression.MalformedData";
/// Error code of a decompressed record that is not a CloudWatch Logs envelope (tarn's code).
pub const CLOUDWATCH_LOGS_PROCESSING_FAILED: &str = "CloudWatchLogProcessing.MalformedData";

/// Most sub-records `RecordDeAggregation` makes of one record (AWS's cap).
pub use tarn_common::limits::firehose::SUB_RECORDS_MAX as MAX_SUB_RECORDS;
/// Most bytes one record may decompress to; beyond, the record fails (a gzip bomb guard).
pub const MAX_DECOMPRESSED_BYTES: u64 = 64 << 20;

/// Why one record could not be processed: the `errorCode` and `errorMessage` of its error
/// document.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordFailure {
    pub code: &'static str,
    pub message: String,
}

impl RecordFailure {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        RecordFailure { code, message: message.into() }
    }

    fn extraction(message: impl Into<String>) -> Self {
        RecordFailure::new(METADATA_EXTRACTION_FAILED, message)
    }

    /// The `!{firehose:error-output-type}` of the failed record's error object:
    /// `metadata-extraction-failed` and `decompression-failed` as AWS names them,
    /// `processing-failed` otherwise.
    pub fn error_output_type(&self) -> &'static str {
        match self.code {
            METADATA_EXTRACTION_FAILED => "metadata-extraction-failed",
            DECOMPRESSION_FAILED => "decompression-failed",
            _ => "processing-failed",
        }
    }
}

impl fmt::Display for RecordFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// What a record becomes: output records, each with its partition keys.
pub type Processed = Vec<(Vec<u8>, BTreeMap<String, String>)>;

#[cfg(test)]
mod tests;
