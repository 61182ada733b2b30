//! Taking a record apart before its keys are extracted: gunzip (`Decompression`), the messages
//! of a CloudWatch Logs envelope (`CloudWatchLogProcessing`) and sub-records
//! (`RecordDeAggregation`: consecutive JSON objects or delimited pieces).

use std::io::Read;

use super::{
    CLOUDWATCH_LOGS_PROCESSING_FAILED, DECOMPRESSION_FAILED, MAX_DECOMPRESSED_BYTES, MAX_SUB_RECORDS, RecordFailure,
};

/// How `RecordDeAggregation` splits a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SubRecords {
    /// Consecutive JSON objects, with or without whitespace between them.
    Json,
    /// Pieces between occurrences of the (decoded) delimiter.
    Delimited(Vec<u8>),
}

/// Splits `data` into consecutive JSON objects, each with its parsed form `T`; `None` when it
/// is not such a sequence or has more than [`MAX_SUB_RECORDS`] of them.
pub(super) fn split_json<T: serde::de::DeserializeOwned>(data: &[u8]) -> Option<Vec<(&[u8], T)>> {
    let mut stream = serde_json::Deserializer::from_slice(data).into_iter::<T>();
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(skip) = data[at..].iter().position(|b| !b" \t\r\n".contains(b)) {
        let start = at + skip;
        if data[start] != b'{' || out.len() == MAX_SUB_RECORDS {
            return None;
        }
        let value = stream.next()?.ok()?;
        at = stream.byte_offset();
        out.push((&data[start..at], value));
    }
    if out.is_empty() { None } else { Some(out) }
}

/// Splits `data` on `delimiter`, leaving out empty pieces; `None` when there are more than
/// [`MAX_SUB_RECORDS`] pieces.
pub(super) fn split_delimited<'a>(data: &'a [u8], delimiter: &[u8]) -> Option<Vec<&'a [u8]>> {
    let mut out = Vec::new();
    let mut push = |piece: &'a [u8]| {
        if piece.is_empty() {
            return true;
        }
        out.push(piece);
        out.len() <= MAX_SUB_RECORDS
    };
    let (first, rest) = (delimiter[0], &delimiter[1..]);
    let mut start = 0;
    let mut i = 0;
    while i + delimiter.len() <= data.len() {
        if data[i] == first && data[i + 1..i + delimiter.len()] == *rest {
            if !push(&data[start..i]) {
                return None;
            }
            i += delimiter.len();
            start = i;
        } else {
            i += 1;
        }
    }
    if !push(&data[start..]) {
        return None;
    }
    Some(out)
}

pub(super) fn gunzip(data: &[u8]) -> Result<Vec<u8>, RecordFailure> {
    let mut out = Vec::with_capacity(data.len().saturating_mul(4).min(1 << 20));
    flate2::read::MultiGzDecoder::new(data).take(MAX_DECOMPRESSED_BYTES + 1).read_to_end(&mut out).map_err(|e| {
        RecordFailure::new(DECOMPRESSION_FAILED, format!("Unable to decompress the record as GZIP: {e}"))
    })?;
    if out.len() as u64 > MAX_DECOMPRESSED_BYTES {
        return Err(RecordFailure::new(
            DECOMPRESSION_FAILED,
            format!("The record decompresses to more than {MAX_DECOMPRESSED_BYTES} bytes"),
        ));
    }
    Ok(out)
}

#[derive(serde::Deserialize)]
struct CloudWatchLogsEnvelope {
    #[serde(rename = "messageType")]
    message_type: String,
    #[serde(rename = "logEvents", default)]
    log_events: Vec<CloudWatchLogEvent>,
}

#[derive(serde::Deserialize)]
struct CloudWatchLogEvent {
    message: String,
}

/// The messages of a CloudWatch Logs subscription envelope, one per line; `None` for a control
/// message or an envelope without log events.
pub(super) fn cloudwatch_messages(data: &[u8]) -> Result<Option<Vec<u8>>, RecordFailure> {
    let envelope: CloudWatchLogsEnvelope = serde_json::from_slice(data).map_err(|e| {
        RecordFailure::new(
            CLOUDWATCH_LOGS_PROCESSING_FAILED,
            format!("The record is not a CloudWatch Logs subscription message: {e}"),
        )
    })?;
    match envelope.message_type.as_str() {
        "DATA_MESSAGE" => {}
        "CONTROL_MESSAGE" => return Ok(None),
        other => {
            return Err(RecordFailure::new(
                CLOUDWATCH_LOGS_PROCESSING_FAILED,
                format!("Unknown CloudWatch Logs messageType '{other}'"),
            ));
        }
    }
    if envelope.log_events.is_empty() {
        return Ok(None);
    }
    let len = envelope.log_events.iter().map(|e| e.message.len() + 1).sum();
    let mut out = Vec::with_capacity(len);
    for (i, event) in envelope.log_events.iter().enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        out.extend_from_slice(event.message.as_bytes());
    }
    Ok(Some(out))
}
