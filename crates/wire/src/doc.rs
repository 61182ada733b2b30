//! `Doc`: one request or answer, whatever it came in or goes out as (JSON, CBOR, a query form,
//! REST bindings). Decoders build it loosely typed; [`crate::check`] normalises it against a
//! shape (base64 text becomes bytes, numbers become timestamps) before any handler sees it.

use std::borrow::Cow;

use crate::Timestamp;

/// A member name: borrowed for the names generated code writes, owned for decoded ones.
pub type Key = Cow<'static, str>;

#[derive(Debug, Clone, PartialEq)]
pub enum Doc {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Blob(Vec<u8>),
    Time(Timestamp),
    List(Vec<Doc>),
    Map(Vec<(Key, Doc)>),
}

impl Default for Doc {
    fn default() -> Self {
        Doc::Map(Vec::new())
    }
}

impl Doc {
    /// An empty structure: what an operation without output answers.
    #[must_use]
    pub fn empty() -> Self {
        Doc::Map(Vec::new())
    }

    /// The member `name` of a structure, if present (the last of repeated keys).
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Doc> {
        match self {
            Doc::Map(entries) => entries.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A string member's value.
    #[must_use]
    pub fn get_str(&self, name: &str) -> Option<&str> {
        match self.get(name) {
            Some(Doc::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// Takes the member `name` out of a structure.
    pub fn take(&mut self, name: &str) -> Option<Doc> {
        match self {
            Doc::Map(entries) => entries.iter().rposition(|(k, _)| k == name).map(|i| entries.swap_remove(i).1),
            _ => None,
        }
    }

    /// Sets (or replaces) the member `name` of a structure.
    pub fn set(&mut self, name: impl Into<Key>, value: Doc) {
        let name = name.into();
        if let Doc::Map(entries) = self {
            match entries.iter_mut().rev().find(|(k, _)| *k == name) {
                Some(slot) => slot.1 = value,
                None => entries.push((name, value)),
            }
        }
    }

    /// What the JSON protocols call this value's type, for error messages.
    #[must_use]
    pub fn kind_name(&self) -> &'static str {
        match self {
            Doc::Null => "null",
            Doc::Bool(_) => "boolean",
            Doc::Int(_) | Doc::Float(_) => "number",
            Doc::Str(_) => "string",
            Doc::Blob(_) => "blob",
            Doc::Time(_) => "timestamp",
            Doc::List(_) => "list",
            Doc::Map(_) => "structure",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JSON

/// Parses a JSON document. `None` when the bytes are not JSON (the JSON protocols answer that
/// with a SerializationException that carries no message, as AWS does).
#[must_use]
pub fn from_json(bytes: &[u8]) -> Option<Doc> {
    serde_json::from_slice(bytes).ok()
}

impl<'de> serde::Deserialize<'de> for Doc {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DocVisitor)
    }
}

struct DocVisitor;

impl<'de> serde::de::Visitor<'de> for DocVisitor {
    type Value = Doc;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Doc, E> {
        Ok(Doc::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Doc, E> {
        Ok(Doc::Int(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Doc, E> {
        #[allow(clippy::cast_precision_loss)]
        Ok(i64::try_from(v).map_or(Doc::Float(v as f64), Doc::Int))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Doc, E> {
        Ok(Doc::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Doc, E> {
        Ok(Doc::Str(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Doc, E> {
        Ok(Doc::Str(v))
    }

    fn visit_unit<E>(self) -> Result<Doc, E> {
        Ok(Doc::Null)
    }

    fn visit_none<E>(self) -> Result<Doc, E> {
        Ok(Doc::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Doc, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Doc::List(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Doc, A::Error> {
        let mut entries: Vec<(Key, Doc)> = Vec::with_capacity(map.size_hint().unwrap_or(0).min(256));
        // a repeated key stays: readers take the last one, as Jackson reads it (no search
        // here, which would be quadratic in a body's keys)
        while let Some((k, v)) = map.next_entry::<String, Doc>()? {
            entries.push((Cow::Owned(k), v));
        }
        Ok(Doc::Map(entries))
    }
}

/// Writes `doc` as JSON: blobs as base64, timestamps as epoch seconds.
pub fn write_json(doc: &Doc, out: &mut Vec<u8>) {
    match doc {
        Doc::Null => out.extend_from_slice(b"null"),
        Doc::Bool(true) => out.extend_from_slice(b"true"),
        Doc::Bool(false) => out.extend_from_slice(b"false"),
        Doc::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Doc::Float(f) => write_float(*f, out),
        Doc::Str(s) => write_json_str(s, out),
        Doc::Blob(b) => {
            out.push(b'"');
            let start = out.len();
            out.resize(start + base64_simd::STANDARD.encoded_length(b.len()), 0);
            let _ = base64_simd::STANDARD.encode(b, base64_simd::Out::from_slice(&mut out[start..]));
            out.push(b'"');
        }
        Doc::Time(t) => out.extend_from_slice(t.epoch_seconds_text().as_bytes()),
        Doc::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(item, out);
            }
            out.push(b']');
        }
        Doc::Map(entries) => {
            out.push(b'{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json_str(k, out);
                out.push(b':');
                write_json(v, out);
            }
            out.push(b'}');
        }
    }
}

/// `doc` as JSON bytes.
#[must_use]
pub fn to_json(doc: &Doc) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_json(doc, &mut out);
    out
}

fn write_float(f: f64, out: &mut Vec<u8>) {
    if f.is_finite() {
        // serde_json's formatting (ryu): the shortest text that reads back as the same f64
        out.extend_from_slice(serde_json::Number::from_f64(f).map(|n| n.to_string()).unwrap_or_default().as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

fn write_json_str(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0x00..=0x1f => None,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        match escape {
            Some(e) => out.extend_from_slice(e),
            None => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

// ---------------------------------------------------------------------------------------------
// CBOR (`application/x-amz-cbor-1.1`: the Java SDK's and the KCL's default for Kinesis)

/// Parses a CBOR document; `Err` names what was wrong.
pub fn from_cbor(bytes: &[u8]) -> Result<Doc, String> {
    let value: ciborium::value::Value =
        ciborium::de::from_reader(bytes).map_err(|e| format!("the CBOR body does not decode: {e}"))?;
    cbor_to_doc(value)
}

fn cbor_to_doc(value: ciborium::value::Value) -> Result<Doc, String> {
    use ciborium::value::Value as C;
    Ok(match value {
        C::Null => Doc::Null,
        C::Bool(b) => Doc::Bool(b),
        C::Integer(i) => {
            let i: i128 = i.into();
            #[allow(clippy::cast_precision_loss)]
            i64::try_from(i).map_or(Doc::Float(i as f64), Doc::Int)
        }
        C::Float(f) => Doc::Float(f),
        C::Bytes(b) => Doc::Blob(b),
        C::Text(t) => Doc::Str(t),
        C::Array(items) => Doc::List(items.into_iter().map(cbor_to_doc).collect::<Result<_, _>>()?),
        C::Map(entries) => {
            let mut out = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                let C::Text(k) = k else { return Err("CBOR map keys must be text".into()) };
                out.push((Cow::Owned(k), cbor_to_doc(v)?));
            }
            Doc::Map(out)
        }
        // tag 1, epoch date/time: the Java SDK and the KCL send integer milliseconds (a
        // float is read as seconds, the tag's own definition)
        C::Tag(1, inner) => match *inner {
            C::Integer(ms) => {
                let ms: i128 = ms.into();
                Doc::Time(Timestamp::from_millis(i64::try_from(ms).map_err(|_| "a timestamp out of range")?))
            }
            C::Float(s) => Doc::Time(Timestamp::from_seconds_f64(s)),
            other => cbor_to_doc(other)?,
        },
        C::Tag(_, inner) => cbor_to_doc(*inner)?,
        _ => return Err("an unsupported CBOR value".into()),
    })
}

/// `doc` as CBOR: blobs as byte strings, timestamps as tag 1 over integer milliseconds (what the
/// Java SDK parses).
#[must_use]
pub fn to_cbor(doc: &Doc) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    ciborium::ser::into_writer(&doc_to_cbor(doc), &mut out).expect("writing CBOR to memory cannot fail");
    out
}

fn doc_to_cbor(doc: &Doc) -> ciborium::value::Value {
    use ciborium::value::Value as C;
    match doc {
        Doc::Null => C::Null,
        Doc::Bool(b) => C::Bool(*b),
        Doc::Int(i) => C::Integer((*i).into()),
        Doc::Float(f) => C::Float(*f),
        Doc::Str(s) => C::Text(s.clone()),
        Doc::Blob(b) => C::Bytes(b.clone()),
        Doc::Time(t) => C::Tag(1, Box::new(C::Integer(t.millis().into()))),
        Doc::List(items) => C::Array(items.iter().map(doc_to_cbor).collect()),
        Doc::Map(entries) => C::Map(entries.iter().map(|(k, v)| (C::Text(k.to_string()), doc_to_cbor(v))).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_keeps_types() {
        let doc = from_json(br#"{"a":1,"b":[true,null,"x\n"],"c":{"d":1.5},"e":18446744073709551615}"#).unwrap();
        assert_eq!(doc.get("a"), Some(&Doc::Int(1)));
        assert_eq!(doc.get("c").and_then(|c| c.get("d")), Some(&Doc::Float(1.5)));
        assert!(matches!(doc.get("e"), Some(Doc::Float(_))));
        let text = String::from_utf8(to_json(&doc)).unwrap();
        assert_eq!(text, r#"{"a":1,"b":[true,null,"x\n"],"c":{"d":1.5},"e":1.8446744073709552e+19}"#);
        assert_eq!(from_json(b"{"), None);
        // a repeated key: the last one is the member's value
        assert_eq!(from_json(br#"{"a":1,"a":2}"#).unwrap().get("a"), Some(&Doc::Int(2)));
        assert_eq!(from_json(b"{\"a\":1,}"), None);
    }

    #[test]
    fn json_escapes_control_characters() {
        let mut out = Vec::new();
        write_json(&Doc::Str("a\u{1}\"\\b".into()), &mut out);
        assert_eq!(out, br#""a\u0001\"\\b""#);
    }

    #[test]
    fn blobs_and_timestamps_by_format() {
        let doc = Doc::Map(vec![
            (Cow::Borrowed("Data"), Doc::Blob(b"hello".to_vec())),
            (Cow::Borrowed("At"), Doc::Time(Timestamp::from_millis(1_500))),
        ]);
        assert_eq!(to_json(&doc), br#"{"Data":"aGVsbG8=","At":1.5}"#);
        let back = from_cbor(&to_cbor(&doc)).unwrap();
        assert_eq!(back, doc);
        // the Java SDK's integer milliseconds and a float of seconds
        let mut body = Vec::new();
        let tagged = ciborium::value::Value::Tag(1, Box::new(ciborium::value::Value::Float(2.25)));
        ciborium::ser::into_writer(&tagged, &mut body).unwrap();
        assert_eq!(from_cbor(&body).unwrap(), Doc::Time(Timestamp::from_millis(2_250)));
    }
}
