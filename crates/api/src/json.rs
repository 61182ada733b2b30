//! The JSON 1.0/1.1 protocols (`X-Amz-Target: <Service>.<Operation>`): one place that verifies
//! SigV4, reads the body, routes to a service and writes AWS-shaped errors.

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use serde_json::{Value, json};

/// An error in the JSON protocols' shape: `{"__type": "...", "message": "..."}`.
#[derive(Debug)]
pub struct JsonError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub message: String,
}

impl JsonError {
    pub fn client(kind: &'static str, message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, kind, message: message.into() }
    }

    pub fn internal() -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            kind: "InternalFailure",
            message: "We encountered an internal error. Please try again.".into(),
        }
    }

    pub fn to_response(&self, content_type: &'static str) -> http::Response<s3s::Body> {
        let body = json!({ "__type": self.kind, "message": self.message }).to_string();
        let mut resp = http::Response::new(s3s::Body::from(Bytes::from(body)));
        *resp.status_mut() = self.status;
        resp.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Ok(v) = HeaderValue::from_str(self.kind) {
            resp.headers_mut().insert("x-amzn-errortype", v);
        }
        resp
    }
}

/// A successful JSON answer.
pub fn ok(value: &Value, content_type: &'static str) -> http::Response<s3s::Body> {
    let mut resp = http::Response::new(s3s::Body::from(Bytes::from(value.to_string())));
    resp.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// The content type to answer with: the request's JSON version, 1.1 by default.
pub fn content_type_for(request: Option<&str>) -> &'static str {
    match request {
        Some(ct) if ct.starts_with("application/x-amz-json-1.0") => "application/x-amz-json-1.0",
        _ => "application/x-amz-json-1.1",
    }
}
