//! The JSON services' request checking, table-driven from AWS's own models: for every operation
//! tarn serves, every required member and every length, range, pattern and enum constraint of
//! its input's members, a request that violates it gets AWS's code and message from a real
//! server (over JSON, and for Kinesis over CBOR too), and a member of the wrong type gets a
//! SerializationException in AWS's words. The expected answers are written here from the rules
//! AWS follows (kinesalite's recordings of Kinesis, Athena measured in 2026), independently of
//! the server's validator; only the constraints come from the models.
//!
//! Also: the signature-error matrix of the JSON services, unknown operations and services, and
//! CORS preflights.

use std::borrow::Cow;

use serde_json::Value;
use tarn_testkit::{RawResponse, TestServer, raw_request, sign};
use tarn_wire::Doc;
use tarn_wire::model::{Kind, ServiceModel, Shape};

fn server() -> TestServer {
    TestServer::start(env!("CARGO_BIN_EXE_tarn"))
}

/// What a service answers a constraint violation with: (code, further members).
fn style(model: &ServiceModel) -> (&'static str, &'static [(&'static str, &'static str)]) {
    match model.name {
        "athena" => ("InvalidRequestException", &[("AthenaErrorCode", "INVALID_INPUT")]),
        _ => ("ValidationException", &[]),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Wire {
    Json,
    Cbor,
}

fn send(srv: &TestServer, model: &ServiceModel, op: &str, body: &Doc, wire: Wire) -> RawResponse {
    let (content_type, bytes) = match wire {
        Wire::Json => ("application/x-amz-json-1.1", tarn_wire::doc::to_json(body)),
        Wire::Cbor => ("application/x-amz-cbor-1.1", tarn_wire::doc::to_cbor(body)),
    };
    let target = format!("{}.{op}", model.target_prefixes[0]);
    let request = sign::json_request(
        srv.addr,
        model.signing_name,
        &target,
        content_type,
        &bytes,
        tarn_testkit::ACCESS_KEY_ID,
        tarn_testkit::SECRET_ACCESS_KEY,
        &sign::amz_date_now(),
        None,
        true,
    );
    raw_request(srv.addr, &request).unwrap()
}

/// The answer's document, whichever format it came in.
fn answer_doc(resp: &RawResponse, wire: Wire) -> Value {
    match wire {
        Wire::Json => serde_json::from_slice(&resp.body).unwrap_or(Value::Null),
        Wire::Cbor => {
            let doc = tarn_wire::doc::from_cbor(&resp.body).unwrap_or(Doc::Null);
            serde_json::from_slice(&tarn_wire::doc::to_json(&doc)).unwrap_or(Value::Null)
        }
    }
}

fn message_of(v: &Value) -> Option<&str> {
    v.get("message").or_else(|| v.get("Message")).and_then(Value::as_str)
}

fn lower_first(name: &str) -> String {
    let mut c = name.chars();
    c.next().map(|f| f.to_lowercase().chain(c).collect()).unwrap_or_default()
}

fn java_length(s: &str) -> usize {
    s.encode_utf16().count()
}

fn bound(b: f64) -> String {
    #[allow(clippy::cast_possible_truncation)]
    let i = b as i64;
    if b.fract() == 0.0 { i.to_string() } else { b.to_string() }
}

/// AWS's value printing: strings as they are, lists `[a, b]`, maps `{k=v}`, blobs as Java
/// prints a ByteBuffer.
fn shown(value: &Doc) -> String {
    match value {
        Doc::Str(s) => s.clone(),
        Doc::Int(i) => i.to_string(),
        Doc::Float(f) => format!("{f:?}"),
        Doc::Bool(b) => b.to_string(),
        Doc::Blob(b) => format!("java.nio.HeapByteBuffer[pos=0 lim={0} cap={0}]", b.len()),
        Doc::List(items) => format!("[{}]", items.iter().map(shown).collect::<Vec<_>>().join(", ")),
        Doc::Map(entries) => {
            format!("{{{}}}", entries.iter().map(|(k, v)| format!("{k}={}", shown(v))).collect::<Vec<_>>().join(", "))
        }
        other => panic!("no value of this kind is generated: {other:?}"),
    }
}

fn pattern_fails(model: &ServiceModel, shape: &Shape, s: &str) -> bool {
    let Some(p) = shape.pattern else { return false };
    let pattern = &model.patterns[usize::from(p)];
    let Some(rust) = pattern.rust else { return false };
    let not = pattern.not_prefix.map(|r| regex::Regex::new(r).unwrap());
    !regex::Regex::new(rust).unwrap().is_match(s) || not.is_some_and(|n| n.is_match(s))
}

/// The constraints of `shape` that `value` breaks, in AWS's words and order: enum, pattern,
/// minimum, maximum.
fn broken(model: &ServiceModel, shape: &Shape, value: &Doc) -> Vec<String> {
    let mut failed = Vec::new();
    let (len, number) = match value {
        Doc::Str(s) => (Some(java_length(s)), None),
        Doc::List(items) => (Some(items.len()), None),
        Doc::Map(entries) => (Some(entries.len()), None),
        Doc::Blob(b) => (Some(b.len()), None),
        #[allow(clippy::cast_precision_loss)]
        Doc::Int(i) => (None, Some(*i as f64)),
        Doc::Float(f) => (None, Some(*f)),
        _ => (None, None),
    };
    if let Doc::Str(s) = value {
        if !shape.enum_values.is_empty() && !shape.enum_values.contains(&s.as_str()) {
            failed.push(format!("Member must satisfy enum value set: [{}]", shape.enum_values.join(", ")));
        }
        if pattern_fails(model, shape, s) {
            let p = &model.patterns[usize::from(shape.pattern.unwrap())];
            failed.push(format!("Member must satisfy regular expression pattern: {}", p.source));
        }
    }
    let (noun, n) = match (len, number) {
        #[allow(clippy::cast_precision_loss)]
        (Some(l), _) => ("length", Some(l as f64)),
        (None, Some(x)) => ("value", Some(x)),
        _ => ("", None),
    };
    if let Some(n) = n {
        if shape.min.is_some_and(|m| n < m) {
            failed.push(format!("Member must have {noun} greater than or equal to {}", bound(shape.min.unwrap())));
        }
        if shape.max.is_some_and(|m| n > m) {
            failed.push(format!("Member must have {noun} less than or equal to {}", bound(shape.max.unwrap())));
        }
    }
    failed
}

/// Every constraint of a list element's or map value's shape, as AWS lists them in `[...]`.
fn all_constraints(model: &ServiceModel, shape: &Shape) -> String {
    let numeric = matches!(shape.kind, Kind::Integer | Kind::Long | Kind::Float | Kind::Double);
    let noun = if numeric { "value" } else { "length" };
    let mut parts = Vec::new();
    if let Some(max) = shape.max {
        parts.push(format!("Member must have {noun} less than or equal to {}", bound(max)));
    }
    if let Some(min) = shape.min {
        parts.push(format!("Member must have {noun} greater than or equal to {}", bound(min)));
    }
    if let Some(p) = shape.pattern {
        parts
            .push(format!("Member must satisfy regular expression pattern: {}", model.patterns[usize::from(p)].source));
    }
    if !shape.enum_values.is_empty() {
        parts.push(format!("Member must satisfy enum value set: [{}]", shape.enum_values.join(", ")));
    }
    parts.join(", ")
}

/// How a list of structures prints: Java's default `toString` of each element, class name
/// and identity hash (tarn derives the hash from the element's content).
fn shown_list_of_structures(model: &ServiceModel, element: &Shape, items: &[Doc]) -> String {
    let each: Vec<String> = items
        .iter()
        .map(|item| {
            let hash =
                tarn_wire::doc::to_json(item).iter().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(*b)));
            format!("com.amazonaws.{}.{}@{hash:x}", model.name, element.name)
        })
        .collect();
    format!("[{}]", each.join(", "))
}

fn line_in(model: &ServiceModel, shape: &Shape, value: Option<&Doc>, path: &str, constraint: &str) -> String {
    if let (Some(Doc::List(items)), Kind::List { member, .. }, false) = (value, &shape.kind, shape.sensitive) {
        let element = model.shape(*member);
        if matches!(element.kind, Kind::Structure { .. }) && !items.is_empty() {
            let text = shown_list_of_structures(model, element, items);
            return format!("Value '{text}' at '{path}' failed to satisfy constraint: {constraint}");
        }
    }
    line(shape, value, path, constraint)
}

fn line(shape: &Shape, value: Option<&Doc>, path: &str, constraint: &str) -> String {
    let value = match value {
        _ if shape.sensitive => "Value".to_string(),
        None => "Value null".to_string(),
        Some(v) => format!("Value '{}'", shown(v)),
    };
    format!("{value} at '{path}' failed to satisfy constraint: {constraint}")
}

/// What AWS reports for the (sparse) request `doc` of structure `id`: members alphabetical,
/// depth first.
fn expect_structure(model: &ServiceModel, id: u16, doc: &Doc, prefix: &str, out: &mut Vec<String>) {
    let Kind::Structure { members } = &model.shape(id).kind else { unreachable!() };
    for m in *members {
        let path = format!("{prefix}{}", lower_first(m.name));
        match doc.get(m.name) {
            None if m.required => out.push(line(model.shape(m.shape), None, &path, "Member must not be null")),
            None => {}
            Some(v) => expect_value(model, m.shape, v, &path, out),
        }
    }
}

fn expect_value(model: &ServiceModel, id: u16, v: &Doc, path: &str, out: &mut Vec<String>) {
    let shape = model.shape(id);
    for c in broken(model, shape, v) {
        out.push(line_in(model, shape, Some(v), path, &c));
    }
    match (&shape.kind, v) {
        (Kind::Structure { .. }, _) => expect_structure(model, id, v, &format!("{path}."), out),
        (Kind::List { member, .. }, Doc::List(items)) => {
            let element = model.shape(*member);
            match element.kind {
                Kind::Structure { .. } => {
                    for (i, item) in items.iter().enumerate() {
                        expect_structure(model, *member, item, &format!("{path}.{}.member.", i + 1), out);
                    }
                }
                Kind::List { .. } | Kind::Map { .. } => {
                    for (i, item) in items.iter().enumerate() {
                        expect_value(model, *member, item, &format!("{path}.{}.member", i + 1), out);
                    }
                }
                _ => {
                    if items.iter().any(|item| !broken(model, element, item).is_empty()) {
                        let c = format!("Member must satisfy constraint: [{}]", all_constraints(model, element));
                        out.push(line(shape, Some(v), path, &c));
                    }
                }
            }
        }
        _ => {}
    }
}

/// Values of `shape` that break its constraints, one per bound it has.
fn breaking_values(model: &ServiceModel, shape: &Shape) -> Vec<Doc> {
    let mut out = Vec::new();
    match shape.kind {
        Kind::String => {
            if !shape.enum_values.is_empty() {
                out.push(Doc::Str("NOT_A_VALUE".into()));
            }
            // patterns Rust cannot express are left unchecked: nothing to expect of them
            if shape.pattern.is_some_and(|p| model.patterns[usize::from(p)].rust.is_none()) {
                return out;
            }
            if shape.min.is_some_and(|m| m >= 1.0) {
                out.push(Doc::Str(String::new()));
            }
            if let Some(max) = shape.max.filter(|m| *m < 100_000.0) {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                out.push(Doc::Str("a".repeat(max as usize + 1)));
            }
            if shape.pattern.is_some() && shape.enum_values.is_empty() {
                let fits = |c: &&str| {
                    #[allow(clippy::cast_precision_loss)]
                    let n = java_length(c) as f64;
                    shape.min.is_none_or(|m| n >= m) && shape.max.is_none_or(|m| n <= m)
                };
                if let Some(c) = ["a b", "!", "\u{7}", "~~", "a\nb", "0", "a"]
                    .into_iter()
                    .filter(fits)
                    .find(|c| pattern_fails(model, shape, c))
                {
                    out.push(Doc::Str(c.to_string()));
                }
            }
        }
        Kind::Integer | Kind::Long => {
            #[allow(clippy::cast_possible_truncation)]
            {
                if let Some(min) = shape.min.filter(|m| *m > -1e9) {
                    out.push(Doc::Int(min as i64 - 1));
                }
                if let Some(max) = shape.max.filter(|m| *m < 1e9) {
                    out.push(Doc::Int(max as i64 + 1));
                }
            }
        }
        Kind::Double | Kind::Float => {
            if let Some(min) = shape.min {
                out.push(Doc::Float(min - 1.0));
            }
            if let Some(max) = shape.max {
                out.push(Doc::Float(max + 1.0));
            }
        }
        Kind::List { member, .. } => {
            if shape.min.is_some_and(|m| m >= 1.0) {
                out.push(Doc::List(Vec::new()));
            }
            if let Some(max) = shape.max.filter(|m| *m <= 1000.0) {
                let element = match model.shape(member).kind {
                    Kind::Structure { .. } => Some(Doc::empty()),
                    Kind::String => Some(Doc::Str("a".into())),
                    _ => None,
                };
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                if let Some(e) = element {
                    out.push(Doc::List(vec![e; max as usize + 1]));
                }
            }
            // a list of constrained scalars: one element that breaks its constraints
            let element = model.shape(member);
            if matches!(element.kind, Kind::String | Kind::Integer | Kind::Long)
                && let Some(bad) = breaking_values(model, element).into_iter().next()
            {
                out.push(Doc::List(vec![bad]));
            }
        }
        Kind::Map { .. } if shape.min.is_some_and(|m| m >= 1.0) => out.push(Doc::Map(Vec::new())),
        Kind::Blob => {
            if shape.min.is_some_and(|m| m >= 1.0) {
                out.push(Doc::Blob(Vec::new()));
            }
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            if let Some(max) = shape.max.filter(|m| *m <= 65_536.0) {
                out.push(Doc::Blob(vec![0; max as usize + 1]));
            }
        }
        _ => {}
    }
    out
}

/// A value of the wrong JSON type for `shape`, and AWS's words for it.
fn mistyped(shape: &Shape) -> Option<(Doc, &'static str)> {
    Some(match shape.kind {
        Kind::String => (Doc::Int(1), "NUMBER_VALUE can not be converted to a String"),
        Kind::Integer => (Doc::Str("x".into()), "STRING_VALUE can not be converted to an Integer"),
        Kind::Long => (Doc::Str("x".into()), "STRING_VALUE can not be converted to a Long"),
        Kind::Double => (Doc::Str("x".into()), "STRING_VALUE can not be converted to a Double"),
        Kind::Float => (Doc::Str("x".into()), "STRING_VALUE can not be converted to a Float"),
        Kind::Boolean => (Doc::Str("x".into()), "STRING_VALUE can not be converted to a Boolean"),
        Kind::Blob => (Doc::Int(1), "NUMBER_VALUE can not be converted to a Blob"),
        Kind::Timestamp => (Doc::Bool(true), "TRUE_VALUE can not be converted to a Date"),
        Kind::List { .. } => (Doc::Str("x".into()), "Expected list or null"),
        Kind::Map { .. } => (Doc::Str("x".into()), "Expected map or null"),
        Kind::Structure { .. } => (Doc::Str("x".into()), "Expected null"),
        Kind::Document => return None,
    })
}

struct Expected {
    code: String,
    message: String,
    fields: Vec<(&'static str, &'static str)>,
}

/// One step into a request: a member, or the first element of a list.
#[derive(Clone)]
enum Step {
    Member(&'static str),
    First,
}

/// `value` placed at `path` in an otherwise empty request.
fn sparse(path: &[Step], value: Doc) -> Doc {
    path.iter().rev().fold(value, |inner, step| match step {
        Step::Member(name) => Doc::Map(vec![(Cow::Borrowed(*name), inner)]),
        Step::First => Doc::List(vec![inner]),
    })
}

fn describe(path: &[Step]) -> String {
    path.iter()
        .map(|s| match s {
            Step::Member(n) => (*n).to_string(),
            Step::First => "[0]".into(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Every member reachable within `depth` structure levels (through lists of structures too),
/// with its shape.
fn reachable(model: &ServiceModel, id: u16, path: Vec<Step>, depth: usize, out: &mut Vec<(Vec<Step>, u16)>) {
    let Kind::Structure { members } = &model.shape(id).kind else { return };
    for m in *members {
        let mut here = path.clone();
        here.push(Step::Member(m.name));
        out.push((here.clone(), m.shape));
        if depth <= 1 {
            continue;
        }
        match &model.shape(m.shape).kind {
            Kind::Structure { .. } => reachable(model, m.shape, here, depth - 1, out),
            Kind::List { member, .. } if matches!(model.shape(*member).kind, Kind::Structure { .. }) => {
                let mut element = here;
                element.push(Step::First);
                reachable(model, *member, element, depth - 1, out);
            }
            _ => {}
        }
    }
}

/// The cases of one operation: (what is tried, request, expected answer).
fn cases(model: &ServiceModel, op: &str) -> Vec<(String, Doc, Expected)> {
    let op_model = model.operation(op).unwrap();
    let Some(input) = op_model.input else { return Vec::new() };
    let (code, fields) = style(model);
    let validation = |doc: &Doc| {
        let mut list = Vec::new();
        expect_structure(model, input, doc, "", &mut list);
        list.truncate(10);
        let n = list.len();
        (n > 0).then(|| Expected {
            code: code.into(),
            message: format!("{n} validation error{} detected: {}", if n == 1 { "" } else { "s" }, list.join("; ")),
            fields: fields.to_vec(),
        })
    };
    let mut out = Vec::new();
    if let Some(e) = validation(&Doc::empty()) {
        out.push(("every required member missing".into(), Doc::empty(), e));
    }
    let mut members = Vec::new();
    reachable(model, input, Vec::new(), 3, &mut members);
    for (path, shape_id) in members {
        let shape = model.shape(shape_id);
        for bad in breaking_values(model, shape) {
            let body = sparse(&path, bad);
            if let Some(e) = validation(&body) {
                out.push((format!("{} breaks a constraint", describe(&path)), body, e));
            }
        }
        if path.len() <= 2
            && let Some((wrong, words)) = mistyped(shape)
        {
            out.push((
                format!("{} of the wrong type", describe(&path)),
                sparse(&path, wrong),
                Expected { code: "SerializationException".into(), message: words.into(), fields: Vec::new() },
            ));
        }
    }
    out
}

fn check_answer(
    failures: &mut Vec<String>,
    what: &str,
    model: &ServiceModel,
    op: &str,
    expected: &Expected,
    status: u16,
    doc: &Value,
) {
    let code = doc.get("__type").and_then(Value::as_str).unwrap_or_default();
    let mut ok = status == 400 && code == expected.code && message_of(doc) == Some(&expected.message);
    for (k, v) in &expected.fields {
        ok &= doc.get(*k).and_then(Value::as_str) == Some(*v);
    }
    if !ok {
        failures.push(format!(
            "{} {op} ({what}): expected {} {:?}, got {status} {doc}",
            model.service_id, expected.code, expected.message
        ));
    }
}

fn run_service(srv: &TestServer, model: &'static ServiceModel, wire: Wire) -> usize {
    let mut checked = 0;
    let mut failures = Vec::new();
    for op in model.operations.iter().filter(|o| o.served) {
        for (what, body, expected) in cases(model, op.name) {
            let resp = send(srv, model, op.name, &body, wire);
            check_answer(&mut failures, &what, model, op.name, &expected, resp.status, &answer_doc(&resp, wire));
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{} of {checked} cases differ:\n{}", failures.len(), failures.join("\n"));
    checked
}

/// The same constraint cases over the REST-JSON binding: members bound to the URI, the query
/// string or headers go there as text, the rest in the body. Cases that leave a URI label
/// empty cannot be routed and are skipped; type mismatches are the JSON binding's.
fn run_rest(srv: &TestServer, model: &'static ServiceModel) -> usize {
    let mut checked = 0;
    let mut failures = Vec::new();
    for op in model.operations.iter().filter(|o| o.served) {
        let Kind::Structure { members } = &model.shape(op.input.unwrap()).kind else { unreachable!() };
        'case: for (what, body, expected) in cases(model, op.name) {
            if expected.code == "SerializationException" {
                continue;
            }
            let mut path = op.uri.split('?').next().unwrap().to_string();
            let mut query: Vec<(String, String)> = Vec::new();
            let mut rest = Vec::new();
            let Doc::Map(entries) = body else { unreachable!() };
            for (k, v) in entries {
                let m = members.iter().find(|m| m.name == k).unwrap();
                let text = |v: &Doc| match v {
                    Doc::Str(s) => Some(s.clone()),
                    Doc::Int(i) => Some(i.to_string()),
                    _ => None,
                };
                match m.location {
                    tarn_wire::model::Location::Uri => match text(&v) {
                        Some(t) if !t.is_empty() => path = path.replace(&format!("{{{}}}", m.wire_name), &t),
                        _ => continue 'case,
                    },
                    tarn_wire::model::Location::Query => match (&v, text(&v)) {
                        (_, Some(t)) => query.push((m.wire_name.to_string(), t)),
                        (Doc::List(items), None) => {
                            query.extend(items.iter().filter_map(text).map(|t| (m.wire_name.to_string(), t)));
                            if items.is_empty() {
                                continue 'case;
                            }
                        }
                        _ => continue 'case,
                    },
                    _ => rest.push((k, v)),
                }
            }
            if path.contains('{') {
                continue;
            }
            let json = tarn_wire::doc::to_json(&Doc::Map(rest));
            let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let request = sign::rest_request(
                srv.addr,
                op.method,
                &path,
                &query,
                model.signing_name,
                &[("content-type", "application/json")],
                &json,
                &sign::amz_date_now(),
            );
            let resp = raw_request(srv.addr, &request).unwrap();
            let doc: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
            check_answer(&mut failures, &format!("REST {what}"), model, op.name, &expected, resp.status, &doc);
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{} of {checked} cases differ:\n{}", failures.len(), failures.join("\n"));
    checked
}

#[test]
fn every_constraint_of_every_served_operation_answers_as_aws() {
    let srv = server();
    let mut total = 0;
    for model in [
        &tarn_wire::generated::kinesis::MODEL,
        &tarn_wire::generated::firehose::MODEL,
        &tarn_wire::generated::glue::MODEL,
        &tarn_wire::generated::athena::MODEL,
        &tarn_wire::generated::kms::MODEL,
    ] {
        let n = run_service(&srv, model, Wire::Json);
        assert!(n > 50, "{}: only {n} cases", model.service_id);
        total += n;
    }
    // the Java SDK's and the KCL's encoding
    total += run_service(&srv, &tarn_wire::generated::kinesis::MODEL, Wire::Cbor);
    // Athena as the newest SDKs send it
    let n = run_rest(&srv, &tarn_wire::generated::athena::MODEL);
    assert!(n > 50, "Athena REST: only {n} cases");
    eprintln!("{} cases checked", total + n);
}

fn target(srv: &TestServer, target: &str, body: &str, wire_type: &str) -> RawResponse {
    let request = sign::json_request(
        srv.addr,
        "kinesis",
        target,
        wire_type,
        body.as_bytes(),
        tarn_testkit::ACCESS_KEY_ID,
        tarn_testkit::SECRET_ACCESS_KEY,
        &sign::amz_date_now(),
        None,
        true,
    );
    raw_request(srv.addr, &request).unwrap()
}

#[test]
fn unknown_operations_services_and_bodies() {
    let srv = server();
    // an operation the model lacks, a service tarn lacks, no prefix: the bare code, as AWS
    for t in
        ["Kinesis_20131202.NoSuchThing", "DynamoDB_20120810.ListTables", "ListStreams", "kinesis_20131202.liststreams"]
    {
        let resp = target(&srv, t, "{}", "application/x-amz-json-1.1");
        let v: Value = serde_json::from_slice(&resp.body).unwrap();
        assert_eq!((resp.status, v["__type"].as_str()), (400, Some("UnknownOperationException")), "{t}: {v}");
        assert!(v.get("message").is_none(), "{t}: {v}");
    }
    // in CBOR when the request was
    let resp = target(&srv, "Kinesis_20131202.NoSuchThing", "", "application/x-amz-cbor-1.1");
    assert_eq!(resp.header("content-type"), Some("application/x-amz-cbor-1.1"));
    let doc = tarn_wire::doc::from_cbor(&resp.body).unwrap();
    assert_eq!(doc.get_str("__type"), Some("UnknownOperationException"));
    // an operation of the model tarn does not serve says so
    let resp = target(
        &srv,
        "Kinesis_20131202.EnableEnhancedMonitoring",
        r#"{"StreamName":"s","ShardLevelMetrics":["ALL"]}"#,
        "application/x-amz-json-1.1",
    );
    let v: Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(v["__type"], "UnknownOperationException", "{v}");
    assert!(v["message"].as_str().unwrap().contains("does not serve Kinesis EnableEnhancedMonitoring"), "{v}");
    // bodies that are not JSON documents: SerializationException without a message
    for body in ["", "{", "null", "\"x\"", "{\"Limit\": 1,}"] {
        let resp = target(&srv, "Kinesis_20131202.ListStreams", body, "application/x-amz-json-1.1");
        let v: Value = serde_json::from_slice(&resp.body).unwrap();
        assert_eq!(v["__type"], "SerializationException", "{body}: {v}");
        assert!(v.get("Message").is_none() && v.get("message").is_none(), "{body}: {v}");
    }
    let resp = target(&srv, "Kinesis_20131202.ListStreams", "[]", "application/x-amz-json-1.1");
    let v: Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(message_of(&v), Some("Start of list found where not expected"), "{v}");
    // errors carry the header SDKs read the code from
    assert_eq!(resp.header("x-amzn-errortype"), Some("SerializationException"));
}

/// A request of each JSON service tarn serves: (signing name, target, content type, body).
const JSON_CALLS: &[(&str, &str, &str, &str)] = &[
    ("kinesis", "Kinesis_20131202.ListStreams", "application/x-amz-json-1.1", "{}"),
    ("firehose", "Firehose_20150804.ListDeliveryStreams", "application/x-amz-json-1.1", "{}"),
    ("glue", "AWSGlue.GetDatabases", "application/x-amz-json-1.1", "{}"),
    ("athena", "AmazonAthena.ListWorkGroups", "application/x-amz-json-1.1", "{}"),
    // the KCL's encoding: an empty CBOR map
    ("kinesis", "Kinesis_20131202.ListStreams", "application/x-amz-cbor-1.1", "\u{a0}"),
];

/// Sends `call` signed as told; returns (status, the error document, x-amzn-ErrorType).
fn signed_with(
    srv: &TestServer,
    call: (&str, &str, &str, &str),
    amz_date: &str,
    authorization: Option<&str>,
    sign: bool,
    secret: &str,
    key: &str,
) -> (u16, Value, Option<String>) {
    let (service, target, content_type, body) = call;
    let request = sign::json_request(
        srv.addr,
        service,
        target,
        content_type,
        body.as_bytes(),
        key,
        secret,
        amz_date,
        authorization,
        sign,
    );
    let resp = raw_request(srv.addr, &request).unwrap();
    let wire = if content_type.contains("cbor") { Wire::Cbor } else { Wire::Json };
    (resp.status, answer_doc(&resp, wire), resp.header("x-amzn-errortype").map(str::to_string))
}

#[test]
fn signature_failures_answer_as_aws_json_services_do() {
    let srv = server();
    let (key, secret) = (tarn_testkit::ACCESS_KEY_ID, tarn_testkit::SECRET_ACCESS_KEY);
    let now = sign::amz_date_now();
    for &call in JSON_CALLS {
        let expect = |(status, v, header): (u16, Value, Option<String>), code: &str, message: &str| {
            assert_eq!(status, 400, "{call:?}: {v}");
            assert_eq!(v["__type"], code, "{call:?}: {v}");
            assert_eq!(message_of(&v), Some(message), "{call:?}: {v}");
            assert_eq!(header.as_deref(), Some(code), "{call:?}: the x-amzn-ErrorType header");
        };
        // no authentication at all
        expect(
            signed_with(&srv, call, &now, None, false, secret, key),
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        );
        // an algorithm SigV4 does not have
        let sha1 =
            "AWS4-HMAC-SHA1 Credential=x/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=00";
        expect(
            signed_with(&srv, call, &now, Some(sha1), false, secret, key),
            "IncompleteSignatureException",
            "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA1'",
        );
        // parts of the header missing
        for (partial, missing) in [
            (
                "AWS4-HMAC-SHA256 SignedHeaders=host",
                "'Credential' parameter. Authorization header requires 'Signature'",
            ),
            ("AWS4-HMAC-SHA256 Credential=a/20260101/us-east-1/kinesis/aws4_request, Signature=00", "'SignedHeaders'"),
        ] {
            expect(
                signed_with(&srv, call, &now, Some(partial), false, secret, key),
                "IncompleteSignatureException",
                &format!("Authorization header requires {missing} parameter. Authorization={partial}"),
            );
        }
        // a credential scope that is not one
        let scope =
            "AWS4-HMAC-SHA256 Credential=a/2026/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=00";
        let (_, v, _) = signed_with(&srv, call, &now, Some(scope), false, secret, key);
        assert_eq!(v["__type"], "IncompleteSignatureException", "{call:?}: {v}");
        // an unknown access key
        expect(
            signed_with(&srv, call, &now, None, true, secret, "AKIAUNKNOWNKEY000000"),
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        );
        // the wrong secret
        expect(
            signed_with(&srv, call, &now, None, true, "wrong-secret-wrong-secret-wrong-secret00", key),
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        );
        // signed 20 minutes ago, and 20 minutes ahead
        let old = sign::amz_date(time::OffsetDateTime::now_utc() - time::Duration::minutes(20));
        let (status, v, _) = signed_with(&srv, call, &old, None, true, secret, key);
        assert_eq!((status, v["__type"].as_str()), (400, Some("InvalidSignatureException")), "{v}");
        let m = message_of(&v).unwrap();
        assert!(
            m.starts_with(&format!("Signature expired: {old} is now earlier than ")) && m.ends_with(" - 15 min.)"),
            "{m}"
        );
        let ahead = sign::amz_date(time::OffsetDateTime::now_utc() + time::Duration::minutes(20));
        let (_, v, _) = signed_with(&srv, call, &ahead, None, true, secret, key);
        let m = message_of(&v).unwrap();
        assert!(
            m.starts_with(&format!("Signature not yet current: {ahead} is still later than "))
                && m.ends_with(" + 15 min.)"),
            "{m}"
        );
    }
    // no date at all: the error names what the header lacks
    let request = String::from_utf8(sign::json_request(
        srv.addr,
        "kinesis",
        "Kinesis_20131202.ListStreams",
        "application/x-amz-json-1.1",
        b"{}",
        key,
        secret,
        &now,
        None,
        true,
    ))
    .unwrap();
    let undated: String =
        request.split("\r\n").filter(|l| !l.starts_with("x-amz-date")).collect::<Vec<_>>().join("\r\n");
    let resp = raw_request(srv.addr, undated.as_bytes()).unwrap();
    let v: Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(v["__type"], "IncompleteSignatureException", "{v}");
    assert!(message_of(&v).unwrap().contains("requires existence of either a 'X-Amz-Date' or a 'Date' header"), "{v}");
    // a header and a presigned query together
    let both =
        request.replacen("POST / HTTP/1.1", "POST /?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00 HTTP/1.1", 1);
    let resp = raw_request(srv.addr, both.as_bytes()).unwrap();
    let v: Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(v["__type"], "InvalidSignatureException", "{v}");
    assert_eq!(
        message_of(&v),
        Some("Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header."),
        "{v}"
    );
    // REST-JSON (Athena): a tampered signature, and a stale date
    let good =
        String::from_utf8(sign::rest_request(srv.addr, "GET", "/workgroups", &[], "athena", &[], b"", &now)).unwrap();
    let at = good.find("Signature=").unwrap() + "Signature=".len();
    let tampered = format!("{}{}{}", &good[..at], "0".repeat(64), &good[at + 64..]);
    let resp = raw_request(srv.addr, tampered.as_bytes()).unwrap();
    let v: Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!((resp.status, v["__type"].as_str()), (400, Some("InvalidSignatureException")), "{v}");
    assert_eq!(resp.header("x-amzn-errortype"), Some("InvalidSignatureException"));
    let old = sign::amz_date(time::OffsetDateTime::now_utc() - time::Duration::minutes(20));
    let stale = sign::rest_request(srv.addr, "GET", "/workgroups", &[], "athena", &[], b"", &old);
    let resp = raw_request(srv.addr, &stale).unwrap();
    let v: Value = serde_json::from_slice(&resp.body).unwrap();
    assert!(message_of(&v).unwrap().starts_with("Signature expired: "), "{v}");
    let ok = raw_request(srv.addr, good.as_bytes()).unwrap();
    assert_eq!(ok.status, 200, "{}", ok.body_text());
}

#[test]
fn a_json_target_sent_with_another_method_is_refused() {
    let srv = server();
    let request = String::from_utf8(sign::json_request(
        srv.addr,
        "kinesis",
        "Kinesis_20131202.ListStreams",
        "application/x-amz-json-1.1",
        b"{}",
        tarn_testkit::ACCESS_KEY_ID,
        tarn_testkit::SECRET_ACCESS_KEY,
        &sign::amz_date_now(),
        None,
        true,
    ))
    .unwrap()
    .replacen("POST / HTTP/1.1", "GET / HTTP/1.1", 1);
    let resp = raw_request(srv.addr, request.as_bytes()).unwrap();
    let v: Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!((resp.status, v["__type"].as_str()), (403, Some("AccessDeniedException")), "{v}");
    assert_eq!(message_of(&v), Some("Unable to determine service/operation name to be authorized"));
}

#[test]
fn cors_preflights_of_browser_sdks() {
    let srv = server();
    let resp = raw_request(
        srv.addr,
        format!(
            "OPTIONS / HTTP/1.1\r\nHost: {}\r\nOrigin: http://localhost:3000\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type,x-amz-date,x-amz-target,authorization\r\nConnection: close\r\n\r\n",
            srv.addr
        )
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(resp.status, 200, "{}", resp.body_text());
    assert_eq!(resp.header("access-control-allow-origin"), Some("*"));
    assert_eq!(resp.header("access-control-allow-methods"), Some("POST"));
    assert_eq!(resp.header("access-control-allow-headers"), Some("content-type,x-amz-date,x-amz-target,authorization"));
    assert_eq!(resp.header("access-control-max-age"), Some("172800"));
    // the request itself then carries the origin's grant and the headers a browser may read
    let request = sign::json_request(
        srv.addr,
        "kinesis",
        "Kinesis_20131202.ListStreams",
        "application/x-amz-json-1.1",
        b"{}",
        tarn_testkit::ACCESS_KEY_ID,
        tarn_testkit::SECRET_ACCESS_KEY,
        &sign::amz_date_now(),
        None,
        true,
    );
    let text = String::from_utf8(request).unwrap().replacen("\r\n", "\r\nOrigin: http://localhost:3000\r\n", 1);
    let resp = raw_request(srv.addr, text.as_bytes()).unwrap();
    assert_eq!(resp.status, 200, "{}", resp.body_text());
    assert_eq!(resp.header("access-control-allow-origin"), Some("*"));
    assert!(resp.header("access-control-expose-headers").is_some_and(|h| h.contains("x-amzn-RequestId")));
}

#[test]
fn a_service_tarn_does_not_serve_answers_in_json_not_s3_xml() {
    let srv = server();
    let date = sign::amz_date_now();
    let host = srv.addr.to_string();
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={}/{}/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature={}",
        tarn_testkit::ACCESS_KEY_ID,
        &date[..8],
        "0".repeat(64)
    );
    let resp = raw_request(
        srv.addr,
        format!("GET /2015-03-31/functions/ HTTP/1.1\r\nHost: {host}\r\nx-amz-date: {date}\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(resp.status, 400);
    assert_eq!(resp.header("x-amzn-errortype"), Some("UnknownOperationException"));
    let v: Value = serde_json::from_slice(&resp.body).unwrap_or_else(|_| panic!("not JSON: {}", resp.body_text()));
    assert_eq!(v["message"], "tarn does not serve the lambda API");
}

/// Maps: a key or a value that breaks its shape's constraints is reported once for the whole
/// map (`Map keys must satisfy constraint: [...]`, the element's constraints maximum first), and
/// the map's own length is checked like a list's; the value is printed as Java prints a map.
#[test]
fn map_keys_values_and_sizes_answer_as_aws() {
    let srv = server();
    let ask = |body: String| {
        let resp = target(&srv, "Kinesis_20131202.AddTagsToStream", &body, "application/x-amz-json-1.1");
        let v: Value = serde_json::from_slice(&resp.body).unwrap();
        assert_eq!((resp.status, v["__type"].as_str()), (400, Some("ValidationException")), "{body}: {v}");
        message_of(&v).unwrap().to_string()
    };
    assert_eq!(
        ask(r#"{"StreamName":"s","Tags":{"":"v"}}"#.into()),
        "1 validation error detected: Value '{=v}' at 'tags' failed to satisfy constraint: Map keys must satisfy \
         constraint: [Member must have length less than or equal to 128, Member must have length greater than or \
         equal to 1]"
    );
    let long = "x".repeat(257);
    assert_eq!(
        ask(format!(r#"{{"StreamName":"s","Tags":{{"k":"{long}"}}}}"#)),
        format!(
            "1 validation error detected: Value '{{k={long}}}' at 'tags' failed to satisfy constraint: Map value must \
             satisfy constraint: [Member must have length less than or equal to 256, Member must have length greater \
             than or equal to 0]"
        )
    );
    let many: Vec<String> = (0..201).map(|i| format!(r#""k{i}":"v""#)).collect();
    let message = ask(format!(r#"{{"StreamName":"s","Tags":{{{}}}}}"#, many.join(",")));
    assert!(message.starts_with("1 validation error detected: Value '{k0=v, k1=v, "), "{message}");
    assert!(
        message
            .ends_with("}' at 'tags' failed to satisfy constraint: Member must have length less than or equal to 200"),
        "{message}"
    );
    // a key and a value both wrong, and the stream name too (its pattern and its length): four
    // lines, members in order
    let message = ask(format!(r#"{{"StreamName":"","Tags":{{"":"{long}"}}}}"#));
    assert!(message.starts_with("4 validation errors detected: Value '' at 'streamName' "), "{message}");
    assert!(message.contains("; Value '{="), "{message}");
    assert!(
        message.contains("Map keys must satisfy constraint") && message.contains("Map value must satisfy"),
        "{message}"
    );
}

/// What AWS answers before it looks at the signature: an unknown operation, a body that is not
/// a document. An unsigned request that passes both is then refused for its missing signature.
#[test]
fn unknown_operations_and_bad_bodies_are_answered_before_the_signature() {
    let srv = server();
    let unsigned = |target: &str, body: &str| {
        let request = sign::json_request(
            srv.addr,
            "kinesis",
            target,
            "application/x-amz-json-1.1",
            body.as_bytes(),
            tarn_testkit::ACCESS_KEY_ID,
            tarn_testkit::SECRET_ACCESS_KEY,
            &sign::amz_date_now(),
            None,
            false,
        );
        let resp = raw_request(srv.addr, &request).unwrap();
        let v: Value = serde_json::from_slice(&resp.body).unwrap();
        (resp.status, v["__type"].as_str().unwrap_or_default().to_string())
    };
    let bad_signature = |target: &str, body: &str| {
        let request = sign::json_request(
            srv.addr,
            "kinesis",
            target,
            "application/x-amz-json-1.1",
            body.as_bytes(),
            tarn_testkit::ACCESS_KEY_ID,
            "not-the-secret",
            &sign::amz_date_now(),
            None,
            true,
        );
        let resp = raw_request(srv.addr, &request).unwrap();
        let v: Value = serde_json::from_slice(&resp.body).unwrap();
        (resp.status, v["__type"].as_str().unwrap_or_default().to_string())
    };
    let code = |s: &str| (400, s.to_string());
    assert_eq!(unsigned("Kinesis_20131202.NoSuchThing", "{}"), code("UnknownOperationException"));
    assert_eq!(bad_signature("Kinesis_20131202.NoSuchThing", "{}"), code("UnknownOperationException"));
    assert_eq!(unsigned("Kinesis_20131202.ListStreams", "{"), code("SerializationException"));
    assert_eq!(bad_signature("Kinesis_20131202.ListStreams", "not json"), code("SerializationException"));
    assert_eq!(unsigned("Kinesis_20131202.ListStreams", "{}"), code("MissingAuthenticationTokenException"));
    assert_eq!(bad_signature("Kinesis_20131202.ListStreams", "{}"), code("InvalidSignatureException"));
    // a well-formed but invalid request is checked only after the signature
    assert_eq!(bad_signature("Kinesis_20131202.ListStreams", r#"{"Limit": 0}"#), code("InvalidSignatureException"));
}

/// STS (the query protocol) answers signature failures in its own codes and XML.
#[test]
fn sts_signature_failures_answer_as_aws() {
    let srv = server();
    let host = srv.addr.to_string();
    let body = b"Action=GetCallerIdentity&Version=2011-06-15";
    let send = |key: &str, secret: &str, authorization: Option<String>| {
        let date = sign::amz_date_now();
        let auth = authorization.unwrap_or_else(|| {
            tarn_api::sigv4::sign_for_test(
                "POST",
                "/",
                &[("host", &host), ("x-amz-date", &date), ("content-type", "application/x-www-form-urlencoded")],
                body,
                key,
                secret,
                "us-east-1",
                "sts",
                &date,
            )
        });
        let mut req = format!(
            "POST / HTTP/1.1\r\nHost: {host}\r\nx-amz-date: {date}\r\ncontent-type: application/x-www-form-urlencoded\r\nAuthorization: {auth}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(body);
        let resp = raw_request(srv.addr, &req).unwrap();
        let text = resp.body_text();
        assert!(text.contains("<ErrorResponse") && text.contains("<Type>Sender</Type>"), "{text}");
        (resp.status, resp.error_code().unwrap_or_default(), text)
    };
    let (status, code, text) = send(tarn_testkit::ACCESS_KEY_ID, "not-the-secret", None);
    assert_eq!((status, code.as_str()), (403, "SignatureDoesNotMatch"), "{text}");
    assert!(text.contains("The request signature we calculated does not match the signature you provided."), "{text}");
    let (status, code, text) = send("AKIAUNKNOWNKEY000000", "whatever", None);
    assert_eq!((status, code.as_str()), (403, "InvalidClientTokenId"), "{text}");
    assert!(text.contains("The security token included in the request is invalid."), "{text}");
    let (status, code, text) = send("", "", Some("AWS4-HMAC-SHA256 Credential=x".into()));
    assert_eq!((status, code.as_str()), (400, "IncompleteSignature"), "{text}");
}
