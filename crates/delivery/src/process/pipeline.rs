//! The compiled processing pipeline of one destination: the processors validated together and
//! applied to each record in AWS's order.

use std::collections::BTreeMap;
use std::fmt;

use super::config::{ConfigError, PROCESSOR_TYPES, Params, ProcessorConfig, parse_bool};
use super::delimiter::decode_delimiter;
use super::jq::{Eval, JsonVal, Query};
use super::split::{SubRecords, cloudwatch_messages, gunzip, split_delimited, split_json};
use super::{Processed, RecordFailure};

/// The compiled pipeline of one delivery stream's destination.
pub struct Pipeline {
    enabled: bool,
    decompress: bool,
    extract_messages: bool,
    deaggregation: Option<SubRecords>,
    query: Option<Query>,
    delimiter: Option<Vec<u8>>,
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("enabled", &self.enabled)
            .field("decompress", &self.decompress)
            .field("extract_messages", &self.extract_messages)
            .field("deaggregation", &self.deaggregation)
            .field("query", &self.query.as_ref().map(|q| &q.text))
            .field("delimiter", &self.delimiter)
            .finish()
    }
}

impl Pipeline {
    /// Validates and compiles: unknown types or parameters, parameters of another type,
    /// duplicates, blank values, missing required parameters, a bad jq program, Lambda ->
    /// [`ConfigError`]. `enabled` = `ProcessingConfiguration.Enabled`; a disabled configuration
    /// is still validated (Lambda is then accepted, since it is never invoked) but
    /// [`Pipeline::apply`] passes records through and no delimiter is appended.
    pub fn new(enabled: bool, processors: &[ProcessorConfig]) -> Result<Self, ConfigError> {
        let mut pipeline = Pipeline {
            enabled,
            decompress: false,
            extract_messages: false,
            deaggregation: None,
            query: None,
            delimiter: None,
        };
        let mut seen: Vec<&str> = Vec::new();
        let mut cloudwatch = false;
        for p in processors {
            let kind = p.kind.as_str();
            if !PROCESSOR_TYPES.contains(&kind) {
                return Err(ConfigError(format!(
                    "Processor type '{kind}' is not valid; valid types: {}",
                    PROCESSOR_TYPES.join(", ")
                )));
            }
            if seen.contains(&kind) {
                return Err(ConfigError(format!("Processor type {kind} is specified more than once")));
            }
            seen.push(kind);
            let params = Params::validate(p)?;
            match kind {
                "Lambda" => {
                    params.required("LambdaArn")?;
                    if enabled {
                        return Err(ConfigError(
                            "Processor type Lambda is not supported: tarn has no Lambda to invoke; \
                             remove the Lambda processor or disable the processing configuration"
                                .into(),
                        ));
                    }
                }
                "Decompression" => {
                    let format = params.get("CompressionFormat").unwrap_or("GZIP");
                    if format != "GZIP" {
                        return Err(ConfigError(format!(
                            "Processor parameter CompressionFormat of processor type Decompression \
                             must be GZIP, got '{format}'"
                        )));
                    }
                    pipeline.decompress = true;
                }
                "CloudWatchLogProcessing" => {
                    let value = params.required("DataMessageExtraction")?;
                    pipeline.extract_messages = parse_bool(kind, "DataMessageExtraction", value)?;
                    cloudwatch = true;
                }
                "RecordDeAggregation" => {
                    pipeline.deaggregation = Some(match params.required("SubRecordType")? {
                        "JSON" => SubRecords::Json,
                        "DELIMITED" => {
                            let delimiter = params.get("Delimiter").ok_or_else(|| {
                                ConfigError(
                                    "Processor parameter Delimiter is required for processor type \
                                     RecordDeAggregation when SubRecordType is DELIMITED"
                                        .into(),
                                )
                            })?;
                            SubRecords::Delimited(decode_delimiter(kind, delimiter)?)
                        }
                        other => {
                            return Err(ConfigError(format!(
                                "Processor parameter SubRecordType of processor type \
                                 RecordDeAggregation must be JSON or DELIMITED, got '{other}'"
                            )));
                        }
                    });
                }
                "MetadataExtraction" => {
                    let engine = params.get("JsonParsingEngine").unwrap_or("JQ-1.6");
                    if engine != "JQ-1.6" {
                        return Err(ConfigError(format!(
                            "Processor parameter JsonParsingEngine of processor type \
                             MetadataExtraction must be JQ-1.6, got '{engine}'"
                        )));
                    }
                    pipeline.query = Some(Query::compile(params.required("MetadataExtractionQuery")?)?);
                }
                "AppendDelimiterToRecord" => {
                    pipeline.delimiter = Some(match params.get("Delimiter") {
                        Some(value) => decode_delimiter(kind, value)?,
                        None => b"\n".to_vec(),
                    });
                }
                _ => unreachable!("processor types are checked above"),
            }
        }
        if cloudwatch && !pipeline.decompress {
            return Err(ConfigError(
                "Processor type CloudWatchLogProcessing requires a Decompression processor".into(),
            ));
        }
        Ok(pipeline)
    }

    /// Whether records get partition keys (an enabled `MetadataExtraction`).
    pub fn extracts_keys(&self) -> bool {
        self.enabled && self.query.is_some()
    }

    /// The partition keys every record gets, when the query says so statically (an object
    /// literal with constant keys, the usual shape); `None` without `MetadataExtraction` or when
    /// only running the query tells.
    pub fn partition_key_names(&self) -> Option<Vec<String>> {
        match &self.query.as_ref()?.eval {
            Eval::Fields(fields) => {
                let mut names: Vec<String> = fields.iter().map(|(k, _)| k.clone()).collect();
                names.sort();
                names.dedup();
                Some(names)
            }
            Eval::Whole(_) => None,
        }
    }

    /// The `MetadataExtractionQuery` (also when processing is disabled).
    pub fn query(&self) -> Option<&str> {
        self.query.as_ref().map(|q| q.text.as_str())
    }

    /// Whether [`Pipeline::apply`] would hand every record back unchanged, with no keys (the
    /// delivery task then skips it and its copy).
    #[must_use]
    pub fn passes_through(&self) -> bool {
        !self.enabled
            || (!self.decompress && !self.extract_messages && self.deaggregation.is_none() && self.query.is_none())
    }

    /// Applies everything but the delimiter to one incoming record: 0..n output records, each
    /// with its partition keys (empty without `MetadataExtraction`), or a failure for the whole
    /// record (a sub-record that fails fails the record it came from).
    pub fn apply(&self, record: &[u8]) -> Result<Processed, RecordFailure> {
        if !self.enabled {
            return Ok(vec![(record.to_vec(), BTreeMap::new())]);
        }
        let decompressed;
        let mut data = record;
        if self.decompress {
            decompressed = gunzip(data)?;
            data = &decompressed;
        }
        let messages;
        if self.extract_messages {
            match cloudwatch_messages(data)? {
                Some(m) => {
                    messages = m;
                    data = &messages;
                }
                None => return Ok(Vec::new()),
            }
        }
        let keys = |piece: &[u8]| match &self.query {
            Some(q) => q.extract(piece),
            None => Ok(BTreeMap::new()),
        };
        let whole = |data: &[u8]| Ok(vec![(data.to_vec(), keys(data)?)]);
        match (&self.deaggregation, &self.query) {
            (None, _) => whole(data),
            (Some(SubRecords::Json), Some(q)) => match split_json::<JsonVal>(data) {
                // parsed once, for the split and the query
                Some(pieces) => pieces.into_iter().map(|(p, v)| Ok((p.to_vec(), q.extract_value(v.0)?))).collect(),
                None => whole(data),
            },
            (Some(SubRecords::Json), None) => match split_json::<serde::de::IgnoredAny>(data) {
                Some(pieces) => Ok(pieces.into_iter().map(|(p, _)| (p.to_vec(), BTreeMap::new())).collect()),
                None => whole(data),
            },
            (Some(SubRecords::Delimited(delimiter)), _) => match split_delimited(data, delimiter) {
                Some(pieces) => pieces.into_iter().map(|p| Ok((p.to_vec(), keys(p)?))).collect(),
                None => whole(data),
            },
        }
    }

    /// The delimiter to append after each record when writing, if `AppendDelimiterToRecord` is
    /// on.
    pub fn delimiter(&self) -> Option<&[u8]> {
        if self.enabled { self.delimiter.as_deref() } else { None }
    }
}
