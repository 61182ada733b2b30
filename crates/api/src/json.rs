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

    /// The error document, in CBOR when the request was.
    pub fn to_response_as(&self, content_type: &'static str, cbor: bool) -> http::Response<s3s::Body> {
        let doc = json!({ "__type": self.kind, "message": self.message });
        let body = if cbor { Bytes::from(cbor::encode(&doc)) } else { Bytes::from(doc.to_string()) };
        let mut resp = http::Response::new(s3s::Body::from(body));
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

/// A successful answer already encoded.
pub fn ok_bytes(body: Vec<u8>, content_type: &'static str) -> http::Response<s3s::Body> {
    let mut resp = http::Response::new(s3s::Body::from(Bytes::from(body)));
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

/// The CBOR flavour of the JSON protocols (`application/x-amz-cbor-1.1`, the Java SDK's and the
/// KCL's default for Kinesis): the same members, with blobs as byte strings and timestamps as
/// tag 1. Requests are turned into the JSON shapes the handlers read (blobs -> base64 strings,
/// timestamps -> epoch seconds); answers go back the other way.
pub mod cbor {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as B64;
    use ciborium::value::Value as Cbor;
    use serde_json::Value;

    /// Members that carry blobs in Kinesis's model.
    const BLOB_MEMBERS: &[&str] = &["Data"];

    pub const CONTENT_TYPE: &str = "application/x-amz-cbor-1.1";

    #[must_use]
    pub fn is_cbor(content_type: Option<&str>) -> bool {
        content_type.is_some_and(|c| c.starts_with(CONTENT_TYPE))
    }

    /// Decodes a CBOR request body into the JSON value the handlers expect.
    pub fn decode(body: &[u8]) -> Result<Vec<u8>, String> {
        if body.is_empty() {
            return Ok(b"{}".to_vec());
        }
        let value: Cbor = ciborium::de::from_reader(body).map_err(|e| format!("the CBOR body does not decode: {e}"))?;
        serde_json::to_vec(&to_json(value)?).map_err(|e| e.to_string())
    }

    fn to_json(value: Cbor) -> Result<Value, String> {
        Ok(match value {
            Cbor::Null => Value::Null,
            Cbor::Bool(b) => Value::Bool(b),
            Cbor::Integer(i) => {
                let i: i128 = i.into();
                match i64::try_from(i) {
                    Ok(n) => Value::from(n),
                    Err(_) => Value::from(i.to_string()),
                }
            }
            Cbor::Float(f) => Value::from(f),
            Cbor::Bytes(b) => Value::from(B64.encode(b)),
            Cbor::Text(t) => Value::from(t),
            Cbor::Array(items) => Value::Array(items.into_iter().map(to_json).collect::<Result<_, _>>()?),
            Cbor::Map(entries) => {
                let mut map = serde_json::Map::new();
                for (k, v) in entries {
                    let Cbor::Text(k) = k else { return Err("CBOR map keys must be text".into()) };
                    map.insert(k, to_json(v)?);
                }
                Value::Object(map)
            }
            // tag 1: epoch date/time. The Java SDK and the KCL send integer milliseconds; a
            // float is taken as seconds. Handlers read epoch seconds.
            Cbor::Tag(1, inner) => match *inner {
                Cbor::Integer(ms) => {
                    let ms: i128 = ms.into();
                    #[allow(clippy::cast_precision_loss)]
                    Value::from(ms as f64 / 1000.0)
                }
                other => to_json(other)?,
            },
            Cbor::Tag(_, inner) => to_json(*inner)?,
            _ => return Err("unsupported CBOR value".into()),
        })
    }

    /// Encodes a handler's JSON answer as CBOR.
    #[must_use]
    pub fn encode(value: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::ser::into_writer(&from_json(None, value), &mut out).expect("writing CBOR to memory cannot fail");
        out
    }

    fn from_json(member: Option<&str>, value: &Value) -> Cbor {
        match value {
            Value::Null => Cbor::Null,
            Value::Bool(b) => Cbor::Bool(*b),
            Value::Number(n) => {
                if member.is_some_and(|m| m.ends_with("Timestamp")) {
                    // integer epoch milliseconds, as the Java SDK parses them
                    #[allow(clippy::cast_possible_truncation)]
                    let ms = (n.as_f64().unwrap_or_default() * 1000.0).round() as i64;
                    Cbor::Tag(1, Box::new(Cbor::Integer(ms.into())))
                } else if let Some(i) = n.as_i64() {
                    Cbor::Integer(i.into())
                } else if let Some(u) = n.as_u64() {
                    Cbor::Integer(u.into())
                } else {
                    Cbor::Float(n.as_f64().unwrap_or_default())
                }
            }
            Value::String(s) => {
                if member.is_some_and(|m| BLOB_MEMBERS.contains(&m))
                    && let Ok(bytes) = B64.decode(s)
                {
                    Cbor::Bytes(bytes)
                } else {
                    Cbor::Text(s.clone())
                }
            }
            Value::Array(items) => Cbor::Array(items.iter().map(|v| from_json(member, v)).collect()),
            Value::Object(map) => {
                Cbor::Map(map.iter().map(|(k, v)| (Cbor::Text(k.clone()), from_json(Some(k), v))).collect())
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn blobs_and_timestamps_round_trip() {
            // a request as the Java SDK sends it: Data as a byte string
            let request = Cbor::Map(vec![
                (Cbor::Text("StreamName".into()), Cbor::Text("s".into())),
                (Cbor::Text("Data".into()), Cbor::Bytes(b"hello".to_vec())),
                (Cbor::Text("Timestamp".into()), Cbor::Tag(1, Box::new(Cbor::Float(1.5)))),
            ]);
            let mut body = Vec::new();
            ciborium::ser::into_writer(&request, &mut body).unwrap();
            let json: Value = serde_json::from_slice(&decode(&body).unwrap()).unwrap();
            assert_eq!(json["Data"], "aGVsbG8=");
            assert_eq!(json["Timestamp"], 1.5);
            // the Java SDK's form: integer milliseconds
            let ms =
                Cbor::Map(vec![(Cbor::Text("Timestamp".into()), Cbor::Tag(1, Box::new(Cbor::Integer(1500.into()))))]);
            let mut body = Vec::new();
            ciborium::ser::into_writer(&ms, &mut body).unwrap();
            let json: Value = serde_json::from_slice(&decode(&body).unwrap()).unwrap();
            assert_eq!(json["Timestamp"], 1.5);
            let answer = serde_json::json!({"Records": [{"Data": "aGVsbG8=", "ApproximateArrivalTimestamp": 2.0, "SequenceNumber": "49"}]});
            let back: Cbor = ciborium::de::from_reader(encode(&answer).as_slice()).unwrap();
            let record = &back.as_map().unwrap()[0].1.as_array().unwrap()[0];
            let fields = record.as_map().unwrap();
            let get = |name: &str| &fields.iter().find(|(k, _)| k.as_text() == Some(name)).unwrap().1;
            assert_eq!(get("Data"), &Cbor::Bytes(b"hello".to_vec()));
            assert_eq!(get("ApproximateArrivalTimestamp"), &Cbor::Tag(1, Box::new(Cbor::Integer(2000.into()))));
            assert_eq!(get("SequenceNumber"), &Cbor::Text("49".into()));
        }
    }
}
