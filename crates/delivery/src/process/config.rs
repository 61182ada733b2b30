//! The processors' configuration: the processor types and parameter names AWS defines, which
//! parameters each type takes, and the checks every parameter value passes.

/// Longest processor parameter value (AWS: `ProcessorParameter.ParameterValue`).
use tarn_common::limits::firehose::PARAMETER_VALUE_MAX as MAX_PARAMETER_VALUE_CHARS;

/// The processor types of AWS's `ProcessorType` enum.
pub(super) const PROCESSOR_TYPES: [&str; 6] = [
    "RecordDeAggregation",
    "Decompression",
    "CloudWatchLogProcessing",
    "Lambda",
    "MetadataExtraction",
    "AppendDelimiterToRecord",
];

/// The parameter names of AWS's `ProcessorParameterName` enum.
const PARAMETER_NAMES: [&str; 11] = [
    "LambdaArn",
    "NumberOfRetries",
    "MetadataExtractionQuery",
    "JsonParsingEngine",
    "RoleArn",
    "BufferSizeInMBs",
    "BufferIntervalInSeconds",
    "SubRecordType",
    "Delimiter",
    "CompressionFormat",
    "DataMessageExtraction",
];

/// The parameters each processor type takes.
fn parameters_of(kind: &str) -> &'static [&'static str] {
    match kind {
        "RecordDeAggregation" => &["SubRecordType", "Delimiter"],
        "Decompression" => &["CompressionFormat"],
        "CloudWatchLogProcessing" => &["DataMessageExtraction"],
        "Lambda" => &["LambdaArn", "NumberOfRetries", "RoleArn", "BufferSizeInMBs", "BufferIntervalInSeconds"],
        "MetadataExtraction" => &["MetadataExtractionQuery", "JsonParsingEngine"],
        "AppendDelimiterToRecord" => &["Delimiter"],
        _ => &[],
    }
}

/// An invalid processing configuration; becomes an `InvalidArgumentException`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// One processor as configured (`Type` + `Parameters` name/value pairs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessorConfig {
    pub kind: String,
    pub parameters: Vec<(String, String)>,
}

impl ProcessorConfig {
    pub fn new(kind: impl Into<String>, parameters: &[(&str, &str)]) -> Self {
        ProcessorConfig {
            kind: kind.into(),
            parameters: parameters.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
        }
    }
}

/// The validated parameters of one processor.
pub(super) struct Params<'a> {
    kind: &'a str,
    values: Vec<(&'a str, &'a str)>,
}

impl<'a> Params<'a> {
    pub(super) fn validate(p: &'a ProcessorConfig) -> Result<Self, ConfigError> {
        let kind = p.kind.as_str();
        let allowed = parameters_of(kind);
        let mut values: Vec<(&str, &str)> = Vec::with_capacity(p.parameters.len());
        for (name, value) in &p.parameters {
            if !PARAMETER_NAMES.contains(&name.as_str()) {
                return Err(ConfigError(format!(
                    "Processor parameter name '{name}' is not valid; valid names: {}",
                    PARAMETER_NAMES.join(", ")
                )));
            }
            if !allowed.contains(&name.as_str()) {
                return Err(ConfigError(format!(
                    "Processor parameter {name} is not valid for processor type {kind}; \
                     valid parameters: {}",
                    allowed.join(", ")
                )));
            }
            if values.iter().any(|(n, _)| n == name) {
                return Err(ConfigError(format!(
                    "Processor parameter {name} is specified more than once for processor type \
                     {kind}"
                )));
            }
            if value.trim().is_empty() {
                return Err(ConfigError(format!(
                    "Processor parameter {name} of processor type {kind} must not be empty"
                )));
            }
            if value.chars().count() > MAX_PARAMETER_VALUE_CHARS {
                return Err(ConfigError(format!(
                    "Processor parameter {name} of processor type {kind} is longer than \
                     {MAX_PARAMETER_VALUE_CHARS} characters"
                )));
            }
            values.push((name.as_str(), value.as_str()));
        }
        Ok(Params { kind, values })
    }

    pub(super) fn get(&self, name: &str) -> Option<&'a str> {
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    pub(super) fn required(&self, name: &str) -> Result<&'a str, ConfigError> {
        self.get(name).ok_or_else(|| {
            ConfigError(format!("Processor parameter {name} is required for processor type {}", self.kind))
        })
    }
}

pub(super) fn parse_bool(kind: &str, name: &str, value: &str) -> Result<bool, ConfigError> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(ConfigError(format!(
            "Processor parameter {name} of processor type {kind} must be true or false, got \
             '{value}'"
        )))
    }
}
