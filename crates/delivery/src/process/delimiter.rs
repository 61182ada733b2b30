//! Record delimiters: the base64-encoded `Delimiter` parameter of `RecordDeAggregation` and
//! `AppendDelimiterToRecord`.

use base64::Engine as _;

use super::config::ConfigError;

/// Decodes a base64-encoded `Delimiter` parameter.
pub(super) fn decode_delimiter(kind: &str, value: &str) -> Result<Vec<u8>, ConfigError> {
    let bad = || {
        ConfigError(format!(
            "Processor parameter Delimiter of processor type {kind} must be a base64-encoded \
             string (for example IyMjIw== for ####), got '{value}'"
        ))
    };
    let bytes = base64::engine::general_purpose::STANDARD.decode(value.trim()).map_err(|_| bad())?;
    if bytes.is_empty() {
        return Err(bad());
    }
    Ok(bytes)
}
