//! The query protocol (STS, IAM): requests are form fields named by the shape
//! (`Tags.member.1.Key=...`, `Attributes.entry.1.value=...`), answers are XML documents
//! `<{Operation}Response><{Operation}Result>...</...><ResponseMetadata>...`.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::ServiceError;
use crate::doc::Doc;
use crate::model::{Kind, OperationModel, ServiceModel, ShapeId};

/// Reads form fields into the request `Doc` of `shape` (scalars as text; [`crate::check`]
/// with [`crate::Scalars::Text`] types them).
#[must_use]
pub fn decode(model: &ServiceModel, shape: ShapeId, params: &[(String, String)]) -> Doc {
    build(model, shape, "", params).unwrap_or_default()
}

fn build(model: &ServiceModel, shape: ShapeId, key: &str, params: &[(String, String)]) -> Option<Doc> {
    let s = model.shape(shape);
    match &s.kind {
        Kind::Structure { members } => {
            let mut entries = Vec::new();
            for m in *members {
                let child = if key.is_empty() { m.wire_name.to_string() } else { format!("{key}.{}", m.wire_name) };
                if let Some(v) = build(model, m.shape, &child, params) {
                    entries.push((Cow::Borrowed(m.wire_name), v));
                }
            }
            (key.is_empty() || !entries.is_empty()).then_some(Doc::Map(entries))
        }
        Kind::List { member, member_name, flattened } => {
            // `Key=` with an empty value is how the query protocol writes an empty list
            if params.iter().any(|(k, v)| k == key && v.is_empty()) {
                return Some(Doc::List(Vec::new()));
            }
            let base = if *flattened { format!("{key}.") } else { format!("{key}.{member_name}.") };
            let mut indices: Vec<u32> = params
                .iter()
                .filter_map(|(k, _)| k.strip_prefix(&base))
                .filter_map(|rest| rest.split('.').next()?.parse().ok())
                .collect();
            indices.sort_unstable();
            indices.dedup();
            if indices.is_empty() {
                return None;
            }
            Some(Doc::List(
                indices.into_iter().filter_map(|i| build(model, *member, &format!("{base}{i}"), params)).collect(),
            ))
        }
        Kind::Map { value, key_name, value_name, flattened, .. } => {
            let base = if *flattened { format!("{key}.") } else { format!("{key}.entry.") };
            let mut indices: Vec<u32> = params
                .iter()
                .filter_map(|(k, _)| k.strip_prefix(&base))
                .filter_map(|rest| rest.split('.').next()?.parse().ok())
                .collect();
            indices.sort_unstable();
            indices.dedup();
            if indices.is_empty() {
                return None;
            }
            let mut entries = Vec::new();
            for i in indices {
                let k =
                    params.iter().find(|(name, _)| *name == format!("{base}{i}.{key_name}")).map(|(_, v)| v.clone());
                let v = build(model, *value, &format!("{base}{i}.{value_name}"), params);
                if let (Some(k), Some(v)) = (k, v) {
                    entries.push((Cow::Owned(k), v));
                }
            }
            Some(Doc::Map(entries))
        }
        _ => params.iter().find(|(k, _)| k == key).map(|(_, v)| Doc::Str(v.clone())),
    }
}

/// The XML answer of `op`: its output (a `Doc` keyed by member names) under the result
/// wrapper, and the request id.
#[must_use]
pub fn encode(model: &ServiceModel, op: &OperationModel, output: &Doc, request_id: &str) -> String {
    let mut out = String::with_capacity(512);
    let _ = write!(out, "<{}Response xmlns=\"{}\">", op.name, escape(model.xml_namespace));
    if let Some(shape) = op.output {
        let wrapper =
            if op.result_wrapper.is_empty() { format!("{}Result", op.name) } else { op.result_wrapper.to_string() };
        let _ = write!(out, "<{wrapper}>");
        members(model, shape, output, &mut out);
        let _ = write!(out, "</{wrapper}>");
    }
    let _ = write!(
        out,
        "<ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{}Response>",
        escape(request_id),
        op.name
    );
    out
}

fn members(model: &ServiceModel, shape: ShapeId, doc: &Doc, out: &mut String) {
    let Kind::Structure { members } = &model.shape(shape).kind else { return };
    for m in *members {
        if let Some(v) = doc.get(m.name) {
            element(model, m.shape, m.wire_name, v, out);
        }
    }
}

fn element(model: &ServiceModel, shape: ShapeId, name: &str, v: &Doc, out: &mut String) {
    match (&model.shape(shape).kind, v) {
        (Kind::List { member, member_name, flattened }, Doc::List(items)) => {
            if *flattened {
                for item in items {
                    element(model, *member, name, item, out);
                }
            } else {
                let _ = write!(out, "<{name}>");
                for item in items {
                    element(model, *member, member_name, item, out);
                }
                let _ = write!(out, "</{name}>");
            }
        }
        (Kind::Map { value, key_name, value_name, .. }, Doc::Map(entries)) => {
            let _ = write!(out, "<{name}>");
            for (k, item) in entries {
                let _ = write!(out, "<entry><{key_name}>{}</{key_name}>", escape(k));
                element(model, *value, value_name, item, out);
                out.push_str("</entry>");
            }
            let _ = write!(out, "</{name}>");
        }
        (Kind::Structure { .. }, _) => {
            let _ = write!(out, "<{name}>");
            members(model, shape, v, out);
            let _ = write!(out, "</{name}>");
        }
        (_, scalar) => {
            let _ = write!(out, "<{name}>{}</{name}>", escape(&scalar_text(scalar)));
        }
    }
}

fn scalar_text(v: &Doc) -> String {
    match v {
        Doc::Null => String::new(),
        Doc::Bool(b) => b.to_string(),
        Doc::Int(i) => i.to_string(),
        Doc::Float(f) => f.to_string(),
        Doc::Str(s) => s.clone(),
        Doc::Blob(b) => base64_simd::STANDARD.encode_to_string(b),
        Doc::Time(t) => t.iso8601(),
        Doc::List(_) | Doc::Map(_) => String::new(),
    }
}

/// The query protocol's error document.
#[must_use]
pub fn error(model: &ServiceModel, e: &ServiceError, request_id: &str) -> String {
    format!(
        "<ErrorResponse xmlns=\"{}\"><Error><Type>{}</Type><Code>{}</Code><Message>{}</Message></Error>\
         <RequestId>{}</RequestId></ErrorResponse>",
        escape(model.xml_namespace),
        if e.sender { "Sender" } else { "Receiver" },
        escape(&e.code),
        escape(e.message.as_deref().unwrap_or_default()),
        escape(request_id)
    )
}

/// Escapes text for XML content or an attribute value.
#[must_use]
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}
