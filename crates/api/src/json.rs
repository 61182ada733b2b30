//! The JSON protocols (`X-Amz-Target: <Service>.<Operation>`, JSON 1.0/1.1 or CBOR bodies):
//! answers and errors in the shape AWS's JSON services write them, and the signature errors
//! in their words.

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use tarn_wire::{Doc, ServiceError};

use crate::sigv4::AuthError;

/// How a request body (and so its answer) is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/x-amz-json-1.0` or `-1.1`.
    Json(&'static str),
    Cbor,
}

pub const CBOR: &str = "application/x-amz-cbor-1.1";

impl Format {
    /// The request's format, from its Content-Type (JSON 1.1 by default).
    #[must_use]
    pub fn of(content_type: Option<&str>) -> Self {
        match content_type {
            Some(ct) if ct.starts_with(CBOR) => Format::Cbor,
            Some(ct) if ct.starts_with("application/x-amz-json-1.0") => Format::Json("application/x-amz-json-1.0"),
            _ => Format::Json("application/x-amz-json-1.1"),
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Json(ct) => ct,
            Format::Cbor => CBOR,
        }
    }

    /// Parses a request body; `None` when it is not a document of this format.
    #[must_use]
    pub fn parse(self, body: &[u8]) -> Option<Doc> {
        match self {
            Format::Json(_) => tarn_wire::doc::from_json(body),
            Format::Cbor => tarn_wire::doc::from_cbor(body).ok(),
        }
    }

    fn encode(self, doc: &Doc) -> Vec<u8> {
        match self {
            Format::Json(_) => tarn_wire::doc::to_json(doc),
            Format::Cbor => tarn_wire::doc::to_cbor(doc),
        }
    }
}

/// A JSON body as AWS checks it before the signature: a document that parses (checked
/// without building it) and is an object.
pub fn syntax(body: &[u8]) -> Result<(), ServiceError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if !matches!(first, Some(b'{' | b'[')) {
        return Err(ServiceError::serialization(None));
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(body).map_err(|_| ServiceError::serialization(None))?;
    if first == Some(&b'[') {
        return Err(ServiceError::serialization(Some("Start of list found where not expected".into())));
    }
    Ok(())
}

/// A successful answer.
pub fn ok(doc: &Doc, format: Format) -> http::Response<s3s::Body> {
    response(StatusCode::OK, format.content_type(), Bytes::from(format.encode(doc)))
}

/// An error answer: the document `{"__type", "message", ...}` and the `x-amzn-ErrorType`
/// header.
pub fn error(e: &ServiceError, format: Format) -> http::Response<s3s::Body> {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut resp = response(status, format.content_type(), Bytes::from(format.encode(&e.to_doc())));
    if let Ok(v) = HeaderValue::from_str(&e.code) {
        resp.headers_mut().insert("x-amzn-errortype", v);
    }
    resp
}

fn response(status: StatusCode, content_type: &'static str, body: Bytes) -> http::Response<s3s::Body> {
    let mut resp = http::Response::new(s3s::Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

fn amz_date(t: time::OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    t.format(&f).unwrap_or_default()
}

/// A failed signature check, as AWS's query-protocol services (STS, IAM) answer it: (status,
/// code, message).
pub fn query_auth_error(
    e: &AuthError,
    request_date: Option<&str>,
    now: time::OffsetDateTime,
) -> (u16, &'static str, String) {
    let json = auth_error(e, request_date, now);
    let message = json.message.unwrap_or_default();
    match e {
        AuthError::Missing => (403, "MissingAuthenticationToken", "Request is missing Authentication Token".into()),
        AuthError::Malformed(_) => (400, "IncompleteSignature", message),
        AuthError::UnknownAccessKey(_) => (403, "InvalidClientTokenId", message),
        AuthError::SignatureMismatch | AuthError::TimeTooSkewed | AuthError::Expired => {
            (403, "SignatureDoesNotMatch", message)
        }
    }
}

/// A failed signature check, as AWS's JSON services answer it (all 400).
pub fn auth_error(e: &AuthError, request_date: Option<&str>, now: time::OffsetDateTime) -> ServiceError {
    let (code, message) = match e {
        AuthError::Missing => ("MissingAuthenticationTokenException", "Missing Authentication Token".to_string()),
        AuthError::Malformed(m) if m.starts_with("Only one auth mechanism allowed") => (
            "InvalidSignatureException",
            "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.".to_string(),
        ),
        AuthError::Malformed(m) => ("IncompleteSignatureException", m.clone()),
        AuthError::UnknownAccessKey(_) => {
            ("UnrecognizedClientException", "The security token included in the request is invalid.".to_string())
        }
        AuthError::SignatureMismatch => (
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. Check your AWS \
             Secret Access Key and signing method. Consult the service documentation for details."
                .to_string(),
        ),
        AuthError::TimeTooSkewed | AuthError::Expired => {
            let skew = time::Duration::minutes(15);
            let sent = request_date.unwrap_or_default();
            let late = request_date
                .and_then(|d| {
                    time::PrimitiveDateTime::parse(
                        d,
                        time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"),
                    )
                    .ok()
                })
                .is_some_and(|d| d.assume_utc() > now);
            let message = if late {
                format!(
                    "Signature not yet current: {sent} is still later than {} ({} + 15 min.)",
                    amz_date(now + skew),
                    amz_date(now)
                )
            } else {
                format!(
                    "Signature expired: {sent} is now earlier than {} ({} - 15 min.)",
                    amz_date(now - skew),
                    amz_date(now)
                )
            };
            ("InvalidSignatureException", message)
        }
    };
    ServiceError::common(code, 400, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_type_and_header_in_either_format() {
        let e = ServiceError::common("ResourceNotFoundException", 400, "Stream s not found.");
        let resp = error(&e, Format::Json("application/x-amz-json-1.1"));
        assert_eq!(resp.status(), 400);
        assert_eq!(resp.headers()["x-amzn-errortype"], "ResourceNotFoundException");
        let resp = error(&ServiceError::unknown_operation(), Format::Cbor);
        assert_eq!(resp.headers()["content-type"], CBOR);
    }

    #[test]
    fn skew_messages_name_both_times() {
        let now = time::macros::datetime!(2026-12-07 01:00:00 UTC);
        let old = auth_error(&AuthError::TimeTooSkewed, Some("20261207T000000Z"), now);
        assert_eq!(
            old.message.as_deref(),
            Some(
                "Signature expired: 20261207T000000Z is now earlier than 20261207T004500Z (20261207T010000Z - 15 min.)"
            )
        );
        let new = auth_error(&AuthError::TimeTooSkewed, Some("20261207T020000Z"), now);
        assert_eq!(
            new.message.as_deref(),
            Some(
                "Signature not yet current: 20261207T020000Z is still later than 20261207T011500Z (20261207T010000Z + 15 min.)"
            )
        );
    }
}
