//! What a delivery stream is: its stored document, its progress, and the typed view of its
//! S3 destination that the delivery task works from.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::DeliveryError;
use crate::compress::Compression;
use crate::convert::{OrcCompression, OrcOptions, OutputFormat, ParquetCompression, ParquetOptions};
use crate::prefix::PrefixTemplate;
use crate::process::{Pipeline, ProcessorConfig};

/// The only destination id a stream has (AWS numbers destinations; tarn has one per stream).
pub const DESTINATION_ID: &str = "destinationId-000000000001";

/// A delivery stream as stored (redb `firehose_streams`, version byte + JSON).
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct StreamDoc {
    pub name: String,
    /// Distinguishes a stream from an earlier one of the same name (its buffer directory).
    pub incarnation: u64,
    /// `DirectPut` or `KinesisStreamAsSource`.
    pub stream_type: String,
    pub version_id: u64,
    pub created_ns: i64,
    pub updated_ns: i64,
    #[serde(default)]
    pub source: Option<KinesisSourceDoc>,
    /// The destination as `ExtendedS3DestinationConfiguration`, with defaults filled in.
    pub destination: Value,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub encryption: Option<EncryptionDoc>,
    /// KinesisStreamAsSource: the buffer's data key, wrapped by the master key (hex). Records
    /// read from the source are sealed in the buffer, as the stream kept them sealed (streams
    /// made before this field keep a plain buffer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_buffer_key: Option<String>,
    /// Set while DELETING: the task delivers nothing more and the record goes.
    #[serde(default)]
    pub deleting: bool,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct KinesisSourceDoc {
    pub stream_arn: String,
    pub stream_name: String,
    pub role_arn: String,
    /// Reading starts at records that arrived from this time on (AWS starts at LATEST).
    pub start_ms: i64,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct EncryptionDoc {
    /// `AWS_OWNED_CMK` or `CUSTOMER_MANAGED_CMK`.
    pub key_type: String,
    pub key_arn: Option<String>,
    /// `ENABLED` or `DISABLED`.
    pub status: String,
    /// The buffer's data key, wrapped by the master key (hex); empty when a customer key
    /// keeps it (`kms_blob`).
    pub wrapped_key: String,
    /// CUSTOMER_MANAGED_CMK: the master-wrapped data key as a KMS ciphertext blob under
    /// `key_arn` (hex), so the buffer opens only while that key may be used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_blob: Option<String>,
}

/// How far a stream's records have gone (redb `firehose_progress`).
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct Progress {
    /// Every buffered record numbered below this is delivered (or sent to the error prefix).
    pub delivered: u64,
    /// Kinesis source: per shard, the last sequence number appended to the buffer.
    #[serde(default)]
    pub shards: BTreeMap<String, ShardCheckpoint>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct ShardCheckpoint {
    pub last_sequence_number: Option<String>,
    /// The shard is closed and read to its end.
    #[serde(default)]
    pub finished: bool,
}

/// Format conversion settings, as configured.
#[derive(Clone, Debug)]
pub struct Conversion {
    pub database: String,
    pub table: String,
    pub case_insensitive: bool,
    pub column_to_json_key: BTreeMap<String, String>,
    pub dots_to_underscores: bool,
    pub output: OutputFormat,
}

/// Where S3BackupMode `Enabled` copies the source records (before any processing).
pub struct Backup {
    pub bucket: String,
    pub prefix: PrefixTemplate,
    pub compression: Compression,
}

/// The typed view of the destination the delivery task works from.
pub struct Destination {
    pub bucket: String,
    /// The role delivery acts as (RoleARN).
    pub role_arn: String,
    pub prefix: PrefixTemplate,
    pub error_prefix: Option<PrefixTemplate>,
    pub size_bytes: u64,
    pub interval_ms: u64,
    pub compression: Compression,
    pub pipeline: Pipeline,
    pub dynamic_partitioning: bool,
    /// How long a failing delivery is retried before its records go to the error prefix.
    pub retry_seconds: u64,
    pub conversion: Option<Conversion>,
    pub file_extension: Option<String>,
    pub backup: Option<Backup>,
}

fn invalid(message: impl Into<String>) -> DeliveryError {
    DeliveryError::InvalidArgument(message.into())
}

fn get_str<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn get_bool(v: &Value, key: &str) -> Option<bool> {
    v.get(key).and_then(Value::as_bool)
}

/// The bucket name of `arn:aws:s3:::bucket`.
pub fn bucket_of_arn(arn: &str) -> Result<String, DeliveryError> {
    let bucket = arn
        .strip_prefix("arn:")
        .and_then(|r| r.split_once(":s3:::"))
        .map(|(_, b)| b)
        .filter(|b| !b.is_empty() && !b.contains('/'))
        .ok_or_else(|| invalid(format!("BucketARN {arn} is not a valid S3 bucket ARN.")))?;
    Ok(bucket.to_string())
}

/// Turns a plain `S3DestinationConfiguration` into the extended shape (they share members).
#[must_use]
pub fn extend_plain_s3(v: &Value) -> Value {
    let mut out = v.clone();
    if let Some(o) = out.as_object_mut() {
        o.remove("S3BackupMode");
    }
    out
}

/// Fills AWS's defaults into a destination configuration, so DescribeDeliveryStream shows them.
#[must_use]
pub fn with_defaults(mut v: Value) -> Value {
    let conversion = v
        .get("DataFormatConversionConfiguration")
        .is_some_and(|c| get_bool(c, "Enabled").unwrap_or(true) && c.get("SchemaConfiguration").is_some());
    let dynamic = v.get("DynamicPartitioningConfiguration").and_then(|d| get_bool(d, "Enabled")).unwrap_or(false);
    let Some(o) = v.as_object_mut() else { return v };
    let hints = o.entry("BufferingHints").or_insert_with(|| json!({}));
    if let Some(h) = hints.as_object_mut() {
        let big = conversion || dynamic;
        h.entry("SizeInMBs").or_insert(json!(if big { 128 } else { 5 }));
        h.entry("IntervalInSeconds").or_insert(json!(300));
    }
    o.entry("CompressionFormat").or_insert(json!("UNCOMPRESSED"));
    o.entry("EncryptionConfiguration").or_insert(json!({ "NoEncryptionConfig": "NoEncryption" }));
    o.entry("S3BackupMode").or_insert(json!("Disabled"));
    o.entry("Prefix").or_insert(json!(""));
    v
}

/// Applies an `ExtendedS3DestinationUpdate` (members present replace the current ones).
#[must_use]
pub fn merge_update(current: &Value, update: &Value) -> Value {
    let mut out = current.clone();
    if let (Some(o), Some(u)) = (out.as_object_mut(), update.as_object()) {
        for (k, v) in u {
            // BufferingHints members given alone keep the other hint
            match (k.as_str(), o.get_mut(k), v.as_object()) {
                ("BufferingHints", Some(Value::Object(cur)), Some(new)) => {
                    for (hk, hv) in new {
                        cur.insert(hk.clone(), hv.clone());
                    }
                }
                _ => {
                    o.insert(k.clone(), v.clone());
                }
            }
        }
    }
    out
}

fn int_in(v: &Value, key: &str, min: i64, max: i64, path: &str) -> Result<Option<i64>, DeliveryError> {
    let Some(x) = v.get(key) else { return Ok(None) };
    let n = x.as_i64().ok_or_else(|| invalid(format!("{path}.{key} must be an integer.")))?;
    if n < min || n > max {
        return Err(DeliveryError::Validation(format!(
            "1 validation error detected: Value '{n}' at '{path}.{key}' failed to satisfy constraint: Member must have value {}",
            if n < min { format!("greater than or equal to {min}") } else { format!("less than or equal to {max}") }
        )));
    }
    Ok(Some(n))
}

fn processors_of(v: &Value) -> Result<(bool, Vec<ProcessorConfig>), DeliveryError> {
    let Some(pc) = v.get("ProcessingConfiguration") else { return Ok((false, Vec::new())) };
    let enabled = get_bool(pc, "Enabled").unwrap_or(false);
    let mut out = Vec::new();
    for p in pc.get("Processors").and_then(Value::as_array).into_iter().flatten() {
        let kind = get_str(p, "Type").ok_or_else(|| invalid("Processor Type is required."))?.to_string();
        let mut parameters = Vec::new();
        for param in p.get("Parameters").and_then(Value::as_array).into_iter().flatten() {
            let name = get_str(param, "ParameterName").ok_or_else(|| invalid("ParameterName is required."))?;
            let value = get_str(param, "ParameterValue").ok_or_else(|| invalid("ParameterValue is required."))?;
            parameters.push((name.to_string(), value.to_string()));
        }
        out.push(ProcessorConfig { kind, parameters });
    }
    Ok((enabled, out))
}

fn conversion_of(v: &Value) -> Result<Option<Conversion>, DeliveryError> {
    let Some(c) = v.get("DataFormatConversionConfiguration") else { return Ok(None) };
    if !get_bool(c, "Enabled").unwrap_or(true) {
        return Ok(None);
    }
    let schema = c
        .get("SchemaConfiguration")
        .ok_or_else(|| invalid("SchemaConfiguration is required when data format conversion is enabled."))?;
    let database = get_str(schema, "DatabaseName")
        .ok_or_else(|| invalid("SchemaConfiguration.DatabaseName is required."))?
        .to_string();
    let table =
        get_str(schema, "TableName").ok_or_else(|| invalid("SchemaConfiguration.TableName is required."))?.to_string();
    let input = c
        .get("InputFormatConfiguration")
        .and_then(|i| i.get("Deserializer"))
        .ok_or_else(|| invalid("InputFormatConfiguration.Deserializer is required."))?;
    let (mut case_insensitive, mut column_to_json_key, mut dots_to_underscores) = (true, BTreeMap::new(), false);
    if let Some(openx) = input.get("OpenXJsonSerDe") {
        case_insensitive = get_bool(openx, "CaseInsensitive").unwrap_or(true);
        dots_to_underscores = get_bool(openx, "ConvertDotsInJsonKeysToUnderscores").unwrap_or(false);
        if let Some(m) = openx.get("ColumnToJsonKeyMappings").and_then(Value::as_object) {
            for (k, v) in m {
                let key = v.as_str().ok_or_else(|| invalid("ColumnToJsonKeyMappings values must be strings."))?;
                column_to_json_key.insert(k.to_lowercase(), key.to_string());
            }
        }
    } else if input.get("HiveJsonSerDe").is_none() {
        return Err(invalid("The Deserializer needs OpenXJsonSerDe or HiveJsonSerDe."));
    }
    let serializer = c
        .get("OutputFormatConfiguration")
        .and_then(|o| o.get("Serializer"))
        .ok_or_else(|| invalid("OutputFormatConfiguration.Serializer is required."))?;
    let output = if let Some(p) = serializer.get("ParquetSerDe") {
        let compression = match get_str(p, "Compression").unwrap_or("SNAPPY") {
            "SNAPPY" => ParquetCompression::Snappy,
            "GZIP" => ParquetCompression::Gzip,
            "UNCOMPRESSED" => ParquetCompression::Uncompressed,
            other => return Err(invalid(format!("Unsupported Parquet compression {other}."))),
        };
        let block = int_in(p, "BlockSizeBytes", 64 * 1024 * 1024, i64::from(i32::MAX), "ParquetSerDe")?;
        let page = int_in(p, "PageSizeBytes", 64 * 1024, i64::from(i32::MAX), "ParquetSerDe")?;
        OutputFormat::Parquet(ParquetOptions {
            compression,
            page_size_bytes: page.map(|n| n as usize),
            block_size_bytes: block.map(|n| n as usize),
            enable_dictionary: get_bool(p, "EnableDictionaryCompression").unwrap_or(false),
            writer_v2: get_str(p, "WriterVersion") == Some("V2"),
        })
    } else if let Some(o) = serializer.get("OrcSerDe") {
        let compression = match get_str(o, "Compression").unwrap_or("SNAPPY") {
            "SNAPPY" => OrcCompression::Snappy,
            "ZLIB" => OrcCompression::Zlib,
            "NONE" => OrcCompression::None,
            other => return Err(invalid(format!("Unsupported ORC compression {other}."))),
        };
        let stripe = int_in(o, "StripeSizeBytes", 8 * 1024 * 1024, i64::from(i32::MAX), "OrcSerDe")?;
        OutputFormat::Orc(OrcOptions { compression, stripe_size_bytes: stripe.map(|n| n as usize) })
    } else {
        return Err(invalid("The Serializer needs ParquetSerDe or OrcSerDe."));
    };
    Ok(Some(Conversion { database, table, case_insensitive, column_to_json_key, dots_to_underscores, output }))
}

impl Destination {
    /// Validates a destination (with defaults filled in) as CreateDeliveryStream and
    /// UpdateDestination do, and compiles it.
    pub fn parse(v: &Value) -> Result<Self, DeliveryError> {
        let bucket_arn = get_str(v, "BucketARN").ok_or_else(|| invalid("BucketARN is required."))?;
        let bucket = bucket_of_arn(bucket_arn)?;
        let role_arn = get_str(v, "RoleARN").ok_or_else(|| invalid("RoleARN is required."))?.to_string();
        let hints = v.get("BufferingHints").cloned().unwrap_or_else(|| json!({}));
        let size_mb =
            int_in(&hints, "SizeInMBs", 1, 128, "extendedS3DestinationConfiguration.bufferingHints")?.unwrap_or(5);
        let interval =
            int_in(&hints, "IntervalInSeconds", 0, 900, "extendedS3DestinationConfiguration.bufferingHints")?
                .unwrap_or(300);
        let compression = match get_str(v, "CompressionFormat") {
            None => Compression::Uncompressed,
            Some(s) => Compression::parse(s).ok_or_else(|| {
                DeliveryError::Validation(format!(
                    "1 validation error detected: Value '{s}' at 'extendedS3DestinationConfiguration.compressionFormat' failed to satisfy constraint: Member must satisfy enum value set: [UNCOMPRESSED, GZIP, ZIP, Snappy, HADOOP_SNAPPY]"
                ))
            })?,
        };
        let dynamic = v.get("DynamicPartitioningConfiguration").and_then(|d| get_bool(d, "Enabled")).unwrap_or(false);
        let retry_seconds = v
            .get("DynamicPartitioningConfiguration")
            .and_then(|d| d.get("RetryOptions"))
            .map(|r| int_in(r, "DurationInSeconds", 0, 7200, "dynamicPartitioningConfiguration.retryOptions"))
            .transpose()?
            .flatten()
            .unwrap_or(300);
        let prefix_raw = get_str(v, "Prefix").unwrap_or("");
        let error_raw = get_str(v, "ErrorOutputPrefix").filter(|s| !s.is_empty());
        crate::prefix::validate(Some(prefix_raw).filter(|s| !s.is_empty()), error_raw, dynamic)
            .map_err(|e| invalid(e.0))?;
        let prefix = PrefixTemplate::parse(prefix_raw).map_err(|e| invalid(e.0))?;
        let error_prefix = error_raw.map(PrefixTemplate::parse).transpose().map_err(|e| invalid(e.0))?;
        let (enabled, processors) = processors_of(v)?;
        let pipeline = Pipeline::new(enabled, &processors).map_err(|e| invalid(e.0))?;
        if dynamic && prefix.uses("partitionKeyFromQuery") && !pipeline.extracts_keys() {
            return Err(invalid(
                "Prefix uses partitionKeyFromQuery, but no MetadataExtraction processor is configured.",
            ));
        }
        let conversion = conversion_of(v)?;
        if conversion.is_some() && compression != Compression::Uncompressed {
            return Err(invalid(
                "CompressionFormat must be UNCOMPRESSED when data format conversion is enabled; set the compression in the serializer instead.",
            ));
        }
        if (conversion.is_some() || dynamic) && size_mb < 64 {
            return Err(invalid(format!(
                "BufferingHints.SizeInMBs must be at least 64 when {} is enabled.",
                if dynamic { "dynamic partitioning" } else { "data format conversion" }
            )));
        }
        let file_extension = get_str(v, "FileExtension").filter(|s| !s.is_empty()).map(str::to_string);
        if let Some(ext) = &file_extension
            && (!ext.starts_with('.')
                || ext.len() > 128
                || !ext[1..].chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "!-_.*'()".contains(c)))
        {
            return Err(invalid(format!(
                "FileExtension {ext} is not valid: it must start with '.' and use [0-9a-z!-_.*'()]."
            )));
        }
        let backup = match get_str(v, "S3BackupMode").unwrap_or("Disabled") {
            "Disabled" => None,
            "Enabled" => {
                let b = v
                    .get("S3BackupConfiguration")
                    .ok_or_else(|| invalid("S3BackupConfiguration is required when S3BackupMode is Enabled."))?;
                let arn =
                    get_str(b, "BucketARN").ok_or_else(|| invalid("S3BackupConfiguration.BucketARN is required."))?;
                let prefix = PrefixTemplate::parse(get_str(b, "Prefix").unwrap_or("")).map_err(|e| invalid(e.0))?;
                if prefix.uses("partitionKeyFromQuery") || prefix.uses("partitionKeyFromLambda") {
                    return Err(invalid("The S3 backup Prefix cannot use partition keys."));
                }
                let compression = match get_str(b, "CompressionFormat") {
                    None => Compression::Uncompressed,
                    Some(c) => Compression::parse(c)
                        .ok_or_else(|| invalid(format!("S3BackupConfiguration.CompressionFormat {c} is not valid.")))?,
                };
                Some(Backup { bucket: bucket_of_arn(arn)?, prefix, compression })
            }
            other => {
                return Err(DeliveryError::Validation(format!(
                    "1 validation error detected: Value '{other}' at 'extendedS3DestinationConfiguration.s3BackupMode' failed to satisfy constraint: Member must satisfy enum value set: [Disabled, Enabled]"
                )));
            }
        };
        Ok(Self {
            backup,
            bucket,
            role_arn,
            prefix,
            error_prefix,
            size_bytes: u64::try_from(size_mb).unwrap_or(5) * 1024 * 1024,
            interval_ms: u64::try_from(interval).unwrap_or(300) * 1000,
            compression,
            pipeline,
            dynamic_partitioning: dynamic,
            // AWS retries a failing S3 delivery for 24 hours; with dynamic partitioning for
            // RetryOptions.DurationInSeconds (default 300)
            retry_seconds: if dynamic { u64::try_from(retry_seconds).unwrap_or(300) } else { 24 * 3600 },
            conversion,
            file_extension,
        })
    }

    /// The extension of delivered data objects.
    #[must_use]
    pub fn extension(&self) -> String {
        if let Some(ext) = &self.file_extension {
            return ext.clone();
        }
        match &self.conversion {
            Some(Conversion { output: OutputFormat::Parquet(_), .. }) => ".parquet".into(),
            Some(Conversion { output: OutputFormat::Orc(_), .. }) => ".orc".into(),
            None => self.compression.extension().into(),
        }
    }
}
