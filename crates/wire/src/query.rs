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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind as K, Location as L, Member as M, OperationModel, Protocol, Shape as S, ValidationStyle};

    /// IAM-like shapes: a structure with a flattened-free list of structures, a list of
    /// strings, a map and a nested structure.
    static SHAPES: [S; 8] = [
        /* 0 */
        S {
            name: "Input",
            kind: K::Structure {
                members: &[
                    M {
                        name: "Attrs",
                        wire_name: "Attrs",
                        shape: 5,
                        required: false,
                        location: L::Body,
                        flattened: false,
                        idempotency_token: false,
                    },
                    M {
                        name: "Count",
                        wire_name: "Count",
                        shape: 3,
                        required: false,
                        location: L::Body,
                        flattened: false,
                        idempotency_token: false,
                    },
                    M {
                        name: "Keys",
                        wire_name: "Keys",
                        shape: 4,
                        required: false,
                        location: L::Body,
                        flattened: false,
                        idempotency_token: false,
                    },
                    M {
                        name: "Name",
                        wire_name: "Name",
                        shape: 1,
                        required: true,
                        location: L::Body,
                        flattened: false,
                        idempotency_token: false,
                    },
                    M {
                        name: "Tags",
                        wire_name: "Tags",
                        shape: 6,
                        required: false,
                        location: L::Body,
                        flattened: false,
                        idempotency_token: false,
                    },
                ],
            },
            min: None,
            max: None,
            pattern: None,
            enum_values: &[],
            sensitive: false,
        },
        /* 1 */
        S {
            name: "Name",
            kind: K::String,
            min: Some(1.0),
            max: Some(8.0),
            pattern: None,
            enum_values: &[],
            sensitive: false,
        },
        /* 2 */
        S {
            name: "Tag",
            kind: K::Structure {
                members: &[
                    M {
                        name: "Key",
                        wire_name: "Key",
                        shape: 1,
                        required: true,
                        location: L::Body,
                        flattened: false,
                        idempotency_token: false,
                    },
                    M {
                        name: "Value",
                        wire_name: "Value",
                        shape: 1,
                        required: false,
                        location: L::Body,
                        flattened: false,
                        idempotency_token: false,
                    },
                ],
            },
            min: None,
            max: None,
            pattern: None,
            enum_values: &[],
            sensitive: false,
        },
        /* 3 */
        S {
            name: "Count",
            kind: K::Integer,
            min: Some(1.0),
            max: None,
            pattern: None,
            enum_values: &[],
            sensitive: false,
        },
        /* 4 */
        S {
            name: "Keys",
            kind: K::List { member: 1, member_name: "member", flattened: false },
            min: None,
            max: None,
            pattern: None,
            enum_values: &[],
            sensitive: false,
        },
        /* 5 */
        S {
            name: "Attrs",
            kind: K::Map { key: 1, value: 1, key_name: "key", value_name: "value", flattened: false },
            min: None,
            max: None,
            pattern: None,
            enum_values: &[],
            sensitive: false,
        },
        /* 6 */
        S {
            name: "Tags",
            kind: K::List { member: 2, member_name: "member", flattened: false },
            min: None,
            max: Some(2.0),
            pattern: None,
            enum_values: &[],
            sensitive: false,
        },
        /* 7 */
        S {
            name: "Output",
            kind: K::Structure {
                members: &[
                    M {
                        name: "Items",
                        wire_name: "Items",
                        shape: 4,
                        required: false,
                        location: L::Body,
                        flattened: false,
                        idempotency_token: false,
                    },
                    M {
                        name: "Name",
                        wire_name: "Name",
                        shape: 1,
                        required: false,
                        location: L::Body,
                        flattened: false,
                        idempotency_token: false,
                    },
                ],
            },
            min: None,
            max: None,
            pattern: None,
            enum_values: &[],
            sensitive: false,
        },
    ];

    static COMPILED: crate::PatternCache<0> = crate::PatternCache::new();

    static OPERATIONS: [OperationModel; 1] = [OperationModel {
        name: "Tag",
        method: "POST",
        uri: "/",
        input: Some(0),
        output: Some(7),
        result_wrapper: "TagResult",
        status: 200,
        served: true,
    }];

    static MODEL: ServiceModel = ServiceModel {
        name: "test",
        service: crate::generated::Service::Sts,
        service_id: "Test",
        signing_name: "test",
        api_version: "2010-05-08",
        protocol: Protocol::Query,
        target_prefixes: &[],
        json_version: "",
        xml_namespace: "https://test.amazonaws.com/doc/2010-05-08/",
        shapes: &SHAPES,
        patterns: &[],
        compiled: &COMPILED.0,
        operations: &OPERATIONS,
        errors: &[],
        renames: false,
        validation: ValidationStyle { code: "ValidationError", status: 400, message_key: "Message", fields: &[] },
    };

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect()
    }

    #[test]
    fn form_fields_become_the_shapes_members() {
        let form = params(&[
            ("Action", "Tag"),
            ("Name", "alice"),
            ("Count", "3"),
            ("Keys.member.2", "b"),
            ("Keys.member.1", "a"),
            ("Tags.member.1.Key", "team"),
            ("Tags.member.1.Value", "ml"),
            ("Attrs.entry.1.key", "k"),
            ("Attrs.entry.1.value", "v"),
        ]);
        let mut doc = decode(&MODEL, 0, &form);
        crate::prepare(&MODEL, &OPERATIONS[0], &mut doc, crate::Scalars::Text).unwrap();
        assert_eq!(doc.get("Name"), Some(&Doc::Str("alice".into())));
        assert_eq!(doc.get("Count"), Some(&Doc::Int(3)), "text typed by the shape");
        assert_eq!(doc.get("Keys"), Some(&Doc::List(vec![Doc::Str("a".into()), Doc::Str("b".into())])), "by index");
        let tags = doc.get("Tags").unwrap();
        let Doc::List(tags) = tags else { panic!() };
        assert_eq!(tags[0].get("Key"), Some(&Doc::Str("team".into())));
        assert_eq!(doc.get("Attrs").and_then(|a| a.get("k")), Some(&Doc::Str("v".into())));
        // `Keys=` is an empty list
        let doc = decode(&MODEL, 0, &params(&[("Name", "x"), ("Keys", "")]));
        assert_eq!(doc.get("Keys"), Some(&Doc::List(Vec::new())));
    }

    #[test]
    fn violations_use_the_query_services_code_and_paths() {
        let form = params(&[("Tags.member.1.Value", "v"), ("Count", "0")]);
        let mut doc = decode(&MODEL, 0, &form);
        let e = crate::prepare(&MODEL, &OPERATIONS[0], &mut doc, crate::Scalars::Text).unwrap_err();
        assert_eq!(e.code, "ValidationError");
        assert_eq!(
            e.message.as_deref(),
            Some(
                "3 validation errors detected: Value '0' at 'count' failed to satisfy constraint: Member must have \
                 value greater than or equal to 1; Value null at 'name' failed to satisfy constraint: Member must not \
                 be null; Value null at 'tags.1.member.key' failed to satisfy constraint: Member must not be null"
            )
        );
        let mut doc = decode(&MODEL, 0, &params(&[("Name", "x"), ("Count", "many")]));
        let e = crate::prepare(&MODEL, &OPERATIONS[0], &mut doc, crate::Scalars::Text).unwrap_err();
        assert_eq!(e.code, "SerializationException");
    }

    #[test]
    fn answers_in_the_query_protocols_xml() {
        let out = Doc::Map(vec![
            ("Name".into(), Doc::Str("a&b".into())),
            ("Items".into(), Doc::List(vec![Doc::Str("x".into()), Doc::Str("y".into())])),
        ]);
        assert_eq!(
            encode(&MODEL, &OPERATIONS[0], &out, "req-1"),
            "<TagResponse xmlns=\"https://test.amazonaws.com/doc/2010-05-08/\"><TagResult><Items><member>x</member>\
             <member>y</member></Items><Name>a&amp;b</Name></TagResult><ResponseMetadata><RequestId>req-1</RequestId>\
             </ResponseMetadata></TagResponse>"
        );
        let e = ServiceError::common("NoSuchEntity", 404, "The user with name x cannot be found.");
        assert_eq!(
            error(&MODEL, &e, "req-2"),
            "<ErrorResponse xmlns=\"https://test.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type>\
             <Code>NoSuchEntity</Code><Message>The user with name x cannot be found.</Message></Error>\
             <RequestId>req-2</RequestId></ErrorResponse>"
        );
    }
}
