//! botocore's `service-2.json`, read into what the emitter needs. Maps are ordered (serde_json's
//! default map is a BTreeMap), so every walk is deterministic.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::path::Path;

use serde_json::Value;

pub struct Model {
    pub protocol: String,
    pub json_version: String,
    pub target_prefix: String,
    pub api_version: String,
    pub service_id: String,
    pub signing_name: String,
    pub xml_namespace: String,
    pub operations: BTreeMap<String, Op>,
    pub shapes: BTreeMap<String, Shape>,
}

pub struct Op {
    pub name: String,
    pub method: String,
    pub uri: String,
    pub status: u16,
    pub input: Option<String>,
    pub output: Option<String>,
    pub result_wrapper: String,
}

pub struct Shape {
    pub name: String,
    pub kind: String,
    /// Structure members, sorted by name.
    pub members: Vec<MemberDef>,
    pub required: BTreeSet<String>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub pattern: Option<String>,
    pub enum_values: Vec<String>,
    pub sensitive: bool,
    /// A list's element.
    pub member: Option<MemberDef>,
    /// A map's key and value.
    pub key: Option<MemberDef>,
    pub value: Option<MemberDef>,
    pub flattened: bool,
    pub exception: bool,
    pub error_code: Option<String>,
    pub error_status: Option<u16>,
    pub sender_fault: bool,
    pub fault: bool,
    pub document: bool,
}

pub struct MemberDef {
    pub name: String,
    pub shape: String,
    pub location: Option<String>,
    pub location_name: Option<String>,
    pub flattened: bool,
    pub idempotency_token: bool,
}

fn s(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn b(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn member_def(name: &str, v: &Value) -> MemberDef {
    MemberDef {
        name: name.to_string(),
        shape: s(v, "shape").unwrap_or_else(|| panic!("member {name} has no shape")),
        location: s(v, "location"),
        location_name: s(v, "locationName"),
        flattened: b(v, "flattened"),
        idempotency_token: b(v, "idempotencyToken"),
    }
}

pub fn load(path: &Path) -> Model {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut text = String::new();
    flate2::read::GzDecoder::new(file).read_to_string(&mut text).expect("a gzip model");
    let json: Value = serde_json::from_str(&text).expect("a JSON model");
    let meta = &json["metadata"];
    let protocol = s(meta, "protocol").expect("metadata.protocol");
    let mut operations = BTreeMap::new();
    for (name, op) in json["operations"].as_object().expect("operations") {
        let http = &op["http"];
        operations.insert(
            name.clone(),
            Op {
                name: name.clone(),
                method: s(http, "method").unwrap_or_else(|| "POST".into()),
                uri: s(http, "requestUri").unwrap_or_else(|| "/".into()),
                status: http.get("responseCode").and_then(Value::as_u64).map_or(200, |c| c as u16),
                input: op.get("input").and_then(|i| s(i, "shape")),
                output: op.get("output").and_then(|o| s(o, "shape")),
                result_wrapper: op.get("output").and_then(|o| s(o, "resultWrapper")).unwrap_or_default(),
            },
        );
    }
    let mut shapes = BTreeMap::new();
    for (name, shape) in json["shapes"].as_object().expect("shapes") {
        let mut members: Vec<MemberDef> = shape
            .get("members")
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(n, v)| member_def(n, v)).collect())
            .unwrap_or_default();
        members.sort_by(|a, b| a.name.cmp(&b.name));
        let error = shape.get("error");
        shapes.insert(
            name.clone(),
            Shape {
                name: name.clone(),
                kind: s(shape, "type").expect("a shape type"),
                members,
                required: shape
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).map(str::to_string).collect())
                    .unwrap_or_default(),
                min: shape.get("min").and_then(Value::as_f64),
                max: shape.get("max").and_then(Value::as_f64),
                pattern: s(shape, "pattern"),
                enum_values: shape
                    .get("enum")
                    .and_then(Value::as_array)
                    .map(|e| e.iter().filter_map(Value::as_str).map(str::to_string).collect())
                    .unwrap_or_default(),
                sensitive: b(shape, "sensitive"),
                member: shape.get("member").map(|m| member_def("member", m)),
                key: shape.get("key").map(|m| member_def("key", m)),
                value: shape.get("value").map(|m| member_def("value", m)),
                flattened: b(shape, "flattened"),
                exception: b(shape, "exception"),
                error_code: error.and_then(|e| s(e, "code")),
                error_status: error.and_then(|e| e.get("httpStatusCode")).and_then(Value::as_u64).map(|c| c as u16),
                sender_fault: error.is_some_and(|e| b(e, "senderFault")),
                fault: b(shape, "fault"),
                document: b(shape, "document"),
            },
        );
    }
    Model {
        json_version: s(meta, "jsonVersion").unwrap_or_default(),
        target_prefix: s(meta, "targetPrefix").unwrap_or_default(),
        api_version: s(meta, "apiVersion").unwrap_or_default(),
        service_id: s(meta, "serviceId").unwrap_or_default(),
        signing_name: s(meta, "signingName").or_else(|| s(meta, "endpointPrefix")).unwrap_or_default(),
        xml_namespace: s(meta, "xmlNamespace").unwrap_or_default(),
        protocol,
        operations,
        shapes,
    }
}
