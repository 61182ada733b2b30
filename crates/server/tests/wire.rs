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
use tarn_wire::model::{Kind, Member, ServiceModel, Shape};

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

/// The violations AWS reports for `value` of `shape` at `path`, in its order: enum, pattern,
/// minimum, maximum.
fn violations(model: &ServiceModel, shape: &Shape, value: &Doc, path: &str) -> Vec<String> {
    let shown = if shape.sensitive {
        "Value".to_string()
    } else {
        let text = match value {
            Doc::Str(s) => s.clone(),
            Doc::Int(i) => i.to_string(),
            Doc::Float(f) => format!("{f:?}"),
            Doc::List(items) if items.is_empty() => "[]".into(),
            Doc::Map(entries) if entries.is_empty() => "{}".into(),
            Doc::Blob(b) => format!("java.nio.HeapByteBuffer[pos=0 lim={0} cap={0}]", b.len()),
            other => panic!("no violation is generated for {other:?}"),
        };
        format!("Value '{text}'")
    };
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
        if let Some(p) = shape.pattern {
            let pattern = &model.patterns[usize::from(p)];
            let re = regex::Regex::new(pattern.rust.expect("only translatable patterns are tried")).unwrap();
            let not = pattern.not_prefix.map(|r| regex::Regex::new(r).unwrap());
            if !re.is_match(s) || not.is_some_and(|n| n.is_match(s)) {
                failed.push(format!("Member must satisfy regular expression pattern: {}", pattern.source));
            }
        }
    }
    if let Some(len) = len {
        #[allow(clippy::cast_precision_loss)]
        let len = len as f64;
        if shape.min.is_some_and(|m| len < m) {
            failed.push(format!("Member must have length greater than or equal to {}", bound(shape.min.unwrap())));
        }
        if shape.max.is_some_and(|m| len > m) {
            failed.push(format!("Member must have length less than or equal to {}", bound(shape.max.unwrap())));
        }
    }
    if let Some(n) = number {
        if shape.min.is_some_and(|m| n < m) {
            failed.push(format!("Member must have value greater than or equal to {}", bound(shape.min.unwrap())));
        }
        if shape.max.is_some_and(|m| n > m) {
            failed.push(format!("Member must have value less than or equal to {}", bound(shape.max.unwrap())));
        }
    }
    failed.into_iter().map(|c| format!("{shown} at '{path}' failed to satisfy constraint: {c}")).collect()
}

/// A value of `shape` that breaks one of its constraints, if the shape has one this test knows
/// how to break at the top level.
fn breaking_value(model: &ServiceModel, shape: &Shape) -> Option<Doc> {
    match shape.kind {
        Kind::String => {
            if !shape.enum_values.is_empty() {
                return Some(Doc::Str("NOT_A_VALUE".into()));
            }
            if let Some(p) = shape.pattern {
                // patterns Rust cannot express are left unchecked: nothing to expect
                model.patterns[usize::from(p)].rust?;
            }
            if shape.min.is_some_and(|m| m >= 1.0) {
                return Some(Doc::Str(String::new()));
            }
            if let Some(max) = shape.max.filter(|m| *m < 100_000.0) {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                return Some(Doc::Str("a".repeat(max as usize + 1)));
            }
            let p = shape.pattern?;
            let re = regex::Regex::new(model.patterns[usize::from(p)].rust?).unwrap();
            ["a b", "!", "\u{7}", "~~", "0", "a"].into_iter().find(|c| !re.is_match(c)).map(|c| Doc::Str(c.to_string()))
        }
        Kind::Integer | Kind::Long =>
        {
            #[allow(clippy::cast_possible_truncation)]
            match (shape.min, shape.max) {
                (Some(min), _) if min > -1e9 => Some(Doc::Int(min as i64 - 1)),
                (_, Some(max)) if max < 1e9 => Some(Doc::Int(max as i64 + 1)),
                _ => None,
            }
        }
        Kind::List { .. } if shape.min.is_some_and(|m| m >= 1.0) => Some(Doc::List(Vec::new())),
        Kind::Map { .. } if shape.min.is_some_and(|m| m >= 1.0) => Some(Doc::Map(Vec::new())),
        Kind::Blob if shape.min.is_some_and(|m| m >= 1.0) => Some(Doc::Blob(Vec::new())),
        _ => None,
    }
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

/// The cases of one operation: (what is tried, request, expected answer).
fn cases(model: &ServiceModel, op: &str) -> Vec<(String, Doc, Expected)> {
    let op_model = model.operation(op).unwrap();
    let Some(input) = op_model.input else { return Vec::new() };
    let Kind::Structure { members } = &model.shape(input).kind else { unreachable!() };
    let (code, fields) = style(model);
    let required_null = |m: &Member| {
        let shape = model.shape(m.shape);
        let shown = if shape.sensitive { "Value" } else { "Value null" };
        format!("{shown} at '{}' failed to satisfy constraint: Member must not be null", lower_first(m.name))
    };
    let validation = |list: Vec<String>| {
        let list: Vec<String> = list.into_iter().take(10).collect();
        let n = list.len();
        Expected {
            code: code.into(),
            message: format!("{n} validation error{} detected: {}", if n == 1 { "" } else { "s" }, list.join("; ")),
            fields: fields.to_vec(),
        }
    };
    let mut out = Vec::new();
    let required: Vec<&Member> = members.iter().filter(|m| m.required).collect();
    if !required.is_empty() {
        out.push((
            "every required member missing".into(),
            Doc::empty(),
            validation(required.iter().map(|m| required_null(m)).collect()),
        ));
    }
    for m in *members {
        let shape = model.shape(m.shape);
        if let Some(bad) = breaking_value(model, shape) {
            let mut list = Vec::new();
            for other in *members {
                if other.name == m.name {
                    list.extend(violations(model, shape, &bad, &lower_first(m.name)));
                } else if other.required {
                    list.push(required_null(other));
                }
            }
            let body = Doc::Map(vec![(Cow::Borrowed(m.name), bad)]);
            out.push((format!("{} breaks a constraint", m.name), body, validation(list)));
        }
        if let Some((wrong, words)) = mistyped(shape) {
            let body = Doc::Map(vec![(Cow::Borrowed(m.name), wrong)]);
            out.push((
                format!("{} of the wrong type", m.name),
                body,
                Expected { code: "SerializationException".into(), message: words.into(), fields: Vec::new() },
            ));
        }
    }
    out
}

fn run_service(srv: &TestServer, model: &'static ServiceModel, wire: Wire) -> usize {
    let mut checked = 0;
    let mut failures = Vec::new();
    for op in model.operations.iter().filter(|o| o.served) {
        for (what, body, expected) in cases(model, op.name) {
            let resp = send(srv, model, op.name, &body, wire);
            let doc = answer_doc(&resp, wire);
            let code = doc.get("__type").and_then(Value::as_str).unwrap_or_default();
            let mut ok = resp.status == 400 && code == expected.code && message_of(&doc) == Some(&expected.message);
            for (k, v) in &expected.fields {
                ok &= doc.get(*k).and_then(Value::as_str) == Some(*v);
            }
            if !ok {
                failures.push(format!(
                    "{} {} ({what}): expected {} {:?}, got {} {}",
                    model.service_id, op.name, expected.code, expected.message, resp.status, doc
                ));
            }
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
    ] {
        let n = run_service(&srv, model, Wire::Json);
        assert!(n > 20, "{}: only {n} cases", model.service_id);
        total += n;
    }
    // the Java SDK's and the KCL's encoding
    total += run_service(&srv, &tarn_wire::generated::kinesis::MODEL, Wire::Cbor);
    eprintln!("{total} cases checked");
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
        "Kinesis_20131202.StartStreamEncryption",
        r#"{"StreamName":"s","EncryptionType":"KMS","KeyId":"k"}"#,
        "application/x-amz-json-1.1",
    );
    let v: Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(v["__type"], "UnknownOperationException", "{v}");
    assert!(v["message"].as_str().unwrap().contains("does not serve Kinesis StartStreamEncryption"), "{v}");
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

fn signed_with(
    srv: &TestServer,
    amz_date: &str,
    authorization: Option<&str>,
    sign: bool,
    secret: &str,
    key: &str,
) -> Value {
    let request = sign::json_request(
        srv.addr,
        "kinesis",
        "Kinesis_20131202.ListStreams",
        "application/x-amz-json-1.1",
        b"{}",
        key,
        secret,
        amz_date,
        authorization,
        sign,
    );
    let resp = raw_request(srv.addr, &request).unwrap();
    assert_eq!(resp.status, 400, "{}", resp.body_text());
    serde_json::from_slice(&resp.body).unwrap()
}

#[test]
fn signature_failures_answer_as_aws_json_services_do() {
    let srv = server();
    let (key, secret) = (tarn_testkit::ACCESS_KEY_ID, tarn_testkit::SECRET_ACCESS_KEY);
    let now = sign::amz_date_now();
    let expect = |v: Value, code: &str, message: &str| {
        assert_eq!(v["__type"], code, "{v}");
        assert_eq!(v["message"].as_str(), Some(message), "{v}");
    };
    // no authentication at all
    expect(
        signed_with(&srv, &now, None, false, secret, key),
        "MissingAuthenticationTokenException",
        "Missing Authentication Token",
    );
    // an algorithm SigV4 does not have
    let v = signed_with(
        &srv,
        &now,
        Some("AWS4-HMAC-SHA1 Credential=x/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=00"),
        false,
        secret,
        key,
    );
    expect(v, "IncompleteSignatureException", "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA1'");
    // parts of the header missing
    let partial = "AWS4-HMAC-SHA256 SignedHeaders=host";
    let v = signed_with(&srv, &now, Some(partial), false, secret, key);
    expect(
        v,
        "IncompleteSignatureException",
        &format!(
            "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization={partial}"
        ),
    );
    // an unknown access key
    let v = signed_with(&srv, &now, None, true, secret, "AKIAUNKNOWNKEY000000");
    expect(v, "UnrecognizedClientException", "The security token included in the request is invalid.");
    // the wrong secret
    let v = signed_with(&srv, &now, None, true, "wrong-secret-wrong-secret-wrong-secret00", key);
    expect(
        v,
        "InvalidSignatureException",
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
    );
    // signed 20 minutes ago
    let old = sign::amz_date(time::OffsetDateTime::now_utc() - time::Duration::minutes(20));
    let v = signed_with(&srv, &old, None, true, secret, key);
    assert_eq!(v["__type"], "InvalidSignatureException", "{v}");
    let m = v["message"].as_str().unwrap();
    assert!(
        m.starts_with(&format!("Signature expired: {old} is now earlier than ")) && m.ends_with(" - 15 min.)"),
        "{m}"
    );
    // and 20 minutes ahead
    let ahead = sign::amz_date(time::OffsetDateTime::now_utc() + time::Duration::minutes(20));
    let v = signed_with(&srv, &ahead, None, true, secret, key);
    let m = v["message"].as_str().unwrap();
    assert!(
        m.starts_with(&format!("Signature not yet current: {ahead} is still later than "))
            && m.ends_with(" + 15 min.)"),
        "{m}"
    );
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
