//! The audit records of API calls, in CloudTrail's format (docs/architecture.md, "The audit
//! trail"): what the protocol layers note about a request ([`AuditSlot`]) and the record
//! [`crate::Api::handle`] makes of it when the call ends.

use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};
use tarn_iam::{Identity, Principal};
use tarn_wire::Doc;
use tarn_wire::model::{Kind, ServiceModel, ShapeId};

/// Response elements larger than this are left out of a record, as CloudTrail leaves out
/// large ones.
const RESPONSE_ELEMENTS_MAX: usize = 4096;

/// What the protocol layers know of a request that the record needs.
#[derive(Default)]
pub(crate) struct AuditNote {
    pub request_parameters: Option<Value>,
    pub response_elements: Option<Value>,
    /// (type, ARN, account) of the resources the call touched.
    pub resources: Vec<(String, String, Option<String>)>,
    pub error: Option<(String, String)>,
    pub data_event: bool,
    /// The account the call's resources belong to (a bucket's owner), when not the caller's.
    pub recipient: Option<String>,
    /// KMS operations the service asked for the caller (S3 asking for a data key or opening
    /// one): each becomes its own KMS record, invoked by the service, as CloudTrail shows them.
    pub key_uses: Vec<KeyUse>,
}

/// A KMS operation a service did for a caller.
pub(crate) struct KeyUse {
    /// `GenerateDataKey` or `Decrypt`.
    pub operation: &'static str,
    pub key_arn: String,
    pub context: std::collections::BTreeMap<String, String>,
}

/// Slot in a request's extensions for its [`AuditNote`].
#[derive(Clone, Default)]
pub(crate) struct AuditSlot(pub Arc<Mutex<AuditNote>>);

impl AuditSlot {
    pub fn note(extensions: &http::Extensions, f: impl FnOnce(&mut AuditNote)) {
        if let Some(slot) = extensions.get::<Self>() {
            f(&mut slot.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        }
    }

    pub fn take(&self) -> AuditNote {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

/// A validated request or response document as CloudTrail shows it: every blob and every
/// member whose shape the model marks sensitive left out.
#[must_use]
pub fn redacted(model: &ServiceModel, shape: Option<ShapeId>, doc: &Doc) -> Value {
    match shape {
        Some(id) => value(model, id, doc),
        None => Value::Null,
    }
}

fn value(model: &ServiceModel, id: ShapeId, doc: &Doc) -> Value {
    let shape = model.shape(id);
    if shape.sensitive {
        return Value::String("HIDDEN_DUE_TO_SECURITY_REASONS".into());
    }
    match (&shape.kind, doc) {
        (Kind::Structure { members }, Doc::Map(entries)) => {
            let mut out = Map::new();
            for (k, v) in entries {
                let Some(m) = members.iter().find(|m| m.name == k.as_ref() || m.wire_name == k.as_ref()) else {
                    continue;
                };
                let member_shape = model.shape(m.shape);
                if matches!(member_shape.kind, Kind::Blob) {
                    continue;
                }
                out.insert(lower_first(m.name), value(model, m.shape, v));
            }
            Value::Object(out)
        }
        (Kind::List { member, .. }, Doc::List(items)) => {
            Value::Array(items.iter().map(|i| value(model, *member, i)).collect())
        }
        (Kind::Map { value: v, .. }, Doc::Map(entries)) => {
            Value::Object(entries.iter().map(|(k, d)| (k.to_string(), value(model, *v, d))).collect())
        }
        _ => plain(doc),
    }
}

/// CloudTrail writes member names lower camel case (`streamName`).
fn lower_first(name: &str) -> String {
    let mut c = name.chars();
    c.next().map(|f| f.to_ascii_lowercase().to_string() + c.as_str()).unwrap_or_default()
}

fn plain(doc: &Doc) -> Value {
    match doc {
        Doc::Null => Value::Null,
        Doc::Bool(b) => Value::Bool(*b),
        Doc::Int(i) => json!(i),
        Doc::Float(f) => json!(f),
        Doc::Str(s) => Value::String(s.clone()),
        Doc::Blob(_) => Value::Null,
        Doc::Time(t) => Value::String(iso(t.millis())),
        Doc::List(items) => Value::Array(items.iter().map(plain).collect()),
        Doc::Map(entries) => Value::Object(entries.iter().map(|(k, v)| (k.to_string(), plain(v))).collect()),
    }
}

/// The response elements to keep: small ones only.
#[must_use]
pub fn small(v: Value) -> Option<Value> {
    (v.to_string().len() <= RESPONSE_ELEMENTS_MAX).then_some(v).filter(|v| !v.is_null())
}

/// `2026-12-08T00:00:00Z` (CloudTrail's eventTime has whole seconds).
#[must_use]
pub fn iso(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // civil date from days since 1970-01-01 (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem / 60 % 60, rem % 60)
}

/// The `userIdentity` of a caller.
#[must_use]
pub fn user_identity(who: &Principal, access_key: Option<&str>) -> Value {
    let mut v = match &who.identity {
        Identity::Root => {
            json!({"type": "Root", "principalId": who.account_id, "arn": who.arn, "accountId": who.account_id})
        }
        Identity::User { name } => json!({
            "type": "IAMUser", "principalId": who.user_id, "arn": who.arn, "accountId": who.account_id, "userName": name,
        }),
        Identity::Session(s) => {
            let role_arn = if s.role.starts_with("arn:") {
                s.role.clone()
            } else {
                format!("arn:aws:iam::{}:role/{}", who.account_id, s.role)
            };
            let role_name = role_arn.rsplit('/').next().unwrap_or_default().to_string();
            json!({
                "type": "AssumedRole",
                "principalId": format!("{}:{}", who.user_id, s.session_name),
                "arn": who.arn,
                "accountId": who.account_id,
                "sessionContext": {"sessionIssuer": {
                    "type": "Role", "principalId": who.user_id, "arn": role_arn, "accountId": who.account_id,
                    "userName": role_name,
                }},
            })
        }
        Identity::Anonymous => json!({"type": "AWSAccount", "principalId": "", "accountId": "anonymous"}),
    };
    if let (Some(k), Some(obj)) = (access_key, v.as_object_mut()) {
        obj.insert("accessKeyId".into(), Value::String(k.to_string()));
    }
    v
}

/// Whether an operation only reads (CloudTrail's `readOnly`).
#[must_use]
pub fn read_only(service: &str, operation: &str) -> bool {
    const READS: [&str; 8] = ["Get", "List", "Describe", "Head", "Lookup", "Search", "Select", "BatchGet"];
    if READS.iter().any(|p| operation.starts_with(p)) {
        return true;
    }
    match service {
        // KMS's cryptographic calls change nothing
        "kms" => matches!(
            operation,
            "Encrypt"
                | "Decrypt"
                | "ReEncrypt"
                | "GenerateDataKey"
                | "GenerateDataKeyWithoutPlaintext"
                | "GenerateRandom"
                | "GenerateMac"
                | "VerifyMac"
        ),
        "sts" => true,
        _ => false,
    }
}

/// Whether a call is a data event (S3 object traffic, stream records), not a management one.
#[must_use]
pub fn data_event(service: &str, operation: &str) -> bool {
    match service {
        "s3" => matches!(
            operation,
            "GetObject"
                | "PutObject"
                | "HeadObject"
                | "DeleteObject"
                | "DeleteObjects"
                | "CopyObject"
                | "CreateMultipartUpload"
                | "UploadPart"
                | "UploadPartCopy"
                | "CompleteMultipartUpload"
                | "AbortMultipartUpload"
                | "ListParts"
                | "GetObjectAttributes"
                | "GetObjectAcl"
                | "PutObjectAcl"
                | "GetObjectTagging"
                | "PutObjectTagging"
                | "DeleteObjectTagging"
                | "RestoreObject"
                | "SelectObjectContent"
                | "ListObjects"
                | "ListObjectsV2"
                | "ListObjectVersions"
                | "ListMultipartUploads"
        ),
        "kinesis" => {
            matches!(operation, "PutRecord" | "PutRecords" | "GetRecords" | "GetShardIterator" | "SubscribeToShard")
        }
        "firehose" => matches!(operation, "PutRecord" | "PutRecordBatch"),
        _ => false,
    }
}

/// The CloudFormation-style type of a resource ARN (`AWS::Kinesis::Stream`).
#[must_use]
pub fn resource_type(arn: &str) -> Option<&'static str> {
    let mut parts = arn.splitn(6, ':');
    let (service, resource) = (parts.nth(2)?, parts.nth(2)?);
    let kind = resource.split(['/', ':']).next().unwrap_or_default();
    Some(match (service, kind) {
        ("kinesis", "stream") => "AWS::Kinesis::Stream",
        ("kinesis", _) => "AWS::Kinesis::StreamConsumer",
        ("firehose", _) => "AWS::KinesisFirehose::DeliveryStream",
        ("glue", "database") => "AWS::Glue::Database",
        ("glue", "table") => "AWS::Glue::Table",
        ("glue", "crawler") => "AWS::Glue::Crawler",
        ("glue", _) => "AWS::Glue::Catalog",
        ("athena", _) => "AWS::Athena::WorkGroup",
        ("kms", "alias") => "AWS::KMS::Alias",
        ("kms", _) => "AWS::KMS::Key",
        ("cloudtrail", _) => "AWS::CloudTrail::Trail",
        ("iam", "user") => "AWS::IAM::User",
        ("iam", "role") => "AWS::IAM::Role",
        ("iam", "group") => "AWS::IAM::Group",
        ("iam", "policy") => "AWS::IAM::Policy",
        ("redshift" | "redshift-serverless", _) => "AWS::Redshift::Cluster",
        _ => return None,
    })
}

/// An S3 request's parameters as CloudTrail shows them: the bucket, the key, the host and the
/// query's parameters (not its signature's).
#[must_use]
pub fn s3_parameters(bucket: Option<&str>, key: Option<&str>, host: Option<&str>, query: Option<&str>) -> Value {
    let mut out = Map::new();
    if let Some(b) = bucket {
        out.insert("bucketName".into(), Value::String(b.to_string()));
    }
    if let Some(k) = key {
        out.insert("key".into(), Value::String(k.to_string()));
    }
    if let Some(h) = host {
        out.insert("Host".into(), Value::String(h.to_string()));
    }
    for pair in query.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = percent_encoding::percent_decode_str(k).decode_utf8_lossy().into_owned();
        if k.starts_with("X-Amz-")
            || k.starts_with("x-amz-")
            || matches!(k.as_str(), "AWSAccessKeyId" | "Signature" | "Expires")
        {
            continue;
        }
        let v = percent_encoding::percent_decode_str(v).decode_utf8_lossy().into_owned();
        out.insert(k, Value::String(v));
    }
    Value::Object(out)
}

/// The error code and message of an error answer's body (JSON `__type`/`message`, or XML
/// `<Code>`/`<Message>`); for a body-less answer (HEAD), the status's name.
#[must_use]
pub fn error_of(status: u16, body: &[u8]) -> (String, String) {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        let code = v.get("__type").and_then(Value::as_str).unwrap_or_default();
        let code = code.rsplit('#').next().unwrap_or(code).to_string();
        let message = ["message", "Message"].iter().find_map(|k| v.get(*k).and_then(Value::as_str)).unwrap_or_default();
        if !code.is_empty() {
            return (code, message.to_string());
        }
    }
    let text = String::from_utf8_lossy(body);
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find(&format!("</{name}>"))? + start;
        Some(text[start..end].to_string())
    };
    match tag("Code") {
        Some(code) => (code, tag("Message").unwrap_or_default()),
        None => {
            let reason = http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Error");
            (reason.replace(' ', ""), String::new())
        }
    }
}

/// A random event id in a UUID's shape.
#[must_use]
pub fn event_id() -> String {
    let mut b: [u8; 16] = rand::random();
    // version 4, RFC 4122 variant
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// What a finished call's record needs from [`crate::Api::handle`].
pub(crate) struct Call<'a> {
    pub service: &'a str,
    pub operation: &'a str,
    pub region: &'a str,
    pub home_account: &'a str,
    pub who: &'a Principal,
    pub access_key: Option<&'a str>,
    pub source: Option<std::net::IpAddr>,
    pub user_agent: Option<&'a str>,
    pub request_id: &'a str,
    pub status: u16,
    pub tls: bool,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    event_version: &'static str,
    user_identity: UserIdentity<'a>,
    event_time: String,
    event_source: String,
    event_name: &'a str,
    aws_region: &'a str,
    #[serde(rename = "sourceIPAddress")]
    source_ip_address: String,
    user_agent: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<String>,
    request_parameters: Option<Value>,
    response_elements: Option<Value>,
    #[serde(rename = "requestID")]
    request_id: &'a str,
    #[serde(rename = "eventID")]
    event_id: String,
    read_only: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    resources: Vec<Resource<'a>>,
    event_type: &'static str,
    management_event: bool,
    recipient_account_id: String,
    event_category: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_details: Option<Value>,
}

#[derive(serde::Serialize)]
struct Resource<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(rename = "ARN")]
    arn: &'a str,
    #[serde(rename = "accountId", skip_serializing_if = "Option::is_none")]
    account: Option<&'a str>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct UserIdentity<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    principal_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    arn: Option<&'a str>,
    account_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_key_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_context: Option<Value>,
    /// The service that made the call for the caller (a KMS use by S3).
    #[serde(skip_serializing_if = "Option::is_none")]
    invoked_by: Option<&'static str>,
}

fn identity<'a>(who: &'a Principal, access_key: Option<&'a str>) -> UserIdentity<'a> {
    let base = |kind, principal_id| UserIdentity {
        kind,
        principal_id,
        arn: Some(who.arn.as_str()),
        account_id: &who.account_id,
        access_key_id: access_key,
        user_name: None,
        session_context: None,
        invoked_by: None,
    };
    match &who.identity {
        Identity::Root => base("Root", who.account_id.clone()),
        Identity::User { name } => UserIdentity { user_name: Some(name), ..base("IAMUser", who.user_id.clone()) },
        Identity::Session(_) => {
            let full = user_identity(who, access_key);
            UserIdentity {
                session_context: full.get("sessionContext").cloned(),
                ..base("AssumedRole", full["principalId"].as_str().unwrap_or_default().to_string())
            }
        }
        Identity::Anonymous => UserIdentity {
            arn: None,
            account_id: "anonymous",
            access_key_id: None,
            ..base("AWSAccount", String::new())
        },
    }
}

/// The CloudTrail record of a call, as the JSON bytes the trail keeps (written in one pass:
/// this runs for every call).
pub(crate) fn record(call: &Call<'_>, note: AuditNote, now_ms: i64) -> Vec<u8> {
    let data = note.data_event || data_event(call.service, call.operation);
    let (error_code, error_message) = if call.status >= 400 {
        let (code, message) = note.error.unwrap_or_else(|| error_of(call.status, &[]));
        (Some(code), Some(message))
    } else {
        (None, None)
    };
    let record = Record {
        event_version: "1.09",
        user_identity: identity(call.who, call.access_key),
        event_time: iso(now_ms),
        event_source: format!("{}.amazonaws.com", call.service),
        event_name: call.operation,
        aws_region: call.region,
        source_ip_address: call.source.map_or_else(|| "AWS Internal".to_string(), |ip| ip.to_string()),
        user_agent: call.user_agent.unwrap_or_default(),
        error_code,
        error_message,
        request_parameters: note.request_parameters,
        response_elements: note.response_elements,
        request_id: call.request_id,
        event_id: event_id(),
        read_only: read_only(call.service, call.operation),
        resources: note
            .resources
            .iter()
            .map(|(kind, arn, account)| Resource { kind, arn, account: account.as_deref() })
            .collect(),
        event_type: "AwsApiCall",
        management_event: !data,
        recipient_account_id: note.recipient.clone().unwrap_or_else(|| {
            if call.who.account_id.is_empty() { call.home_account.to_string() } else { call.who.account_id.clone() }
        }),
        event_category: if data { "Data" } else { "Management" },
        tls_details: call.tls.then(|| json!({"tlsVersion": "TLSv1.3", "clientProvidedHostHeader": Value::Null})),
    };
    serde_json::to_vec(&record).expect("records serialize")
}

/// The KMS record of a key use a service (`invoked_by`, e.g. `s3.amazonaws.com`) made for the
/// call `call`: its own event and request ids, the caller's identity, the key as its resource;
/// the S3 answer's `KMS.*` error, if the call failed on the key, as its error.
pub(crate) fn key_use_record(
    call: &Call<'_>,
    invoked_by: &'static str,
    key_use: &KeyUse,
    error: Option<&(String, String)>,
    now_ms: i64,
) -> Vec<u8> {
    let request_parameters = match key_use.operation {
        "GenerateDataKey" => {
            json!({"keyId": key_use.key_arn, "encryptionContext": key_use.context, "keySpec": "AES_256"})
        }
        _ => json!({"encryptionContext": key_use.context, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
    };
    let error = error.and_then(|(code, message)| code.strip_prefix("KMS.").map(|c| (c.to_string(), message.clone())));
    let request_id = event_id();
    let account = key_use.key_arn.split(':').nth(4).map(str::to_string);
    let record = Record {
        event_version: "1.09",
        user_identity: UserIdentity { invoked_by: Some(invoked_by), ..identity(call.who, call.access_key) },
        event_time: iso(now_ms),
        event_source: "kms.amazonaws.com".into(),
        event_name: key_use.operation,
        aws_region: call.region,
        source_ip_address: invoked_by.to_string(),
        user_agent: invoked_by,
        error_code: error.as_ref().map(|e| e.0.clone()),
        error_message: error.map(|e| e.1),
        request_parameters: Some(request_parameters),
        response_elements: None,
        request_id: &request_id,
        event_id: event_id(),
        read_only: true,
        resources: vec![Resource { kind: "AWS::KMS::Key", arn: &key_use.key_arn, account: account.as_deref() }],
        event_type: "AwsApiCall",
        management_event: true,
        recipient_account_id: account.clone().unwrap_or_else(|| call.home_account.to_string()),
        event_category: "Management",
        tls_details: None,
    };
    serde_json::to_vec(&record).expect("records serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_times_are_iso_seconds() {
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso(1_796_688_000_123), "2026-12-08T00:00:00Z");
        assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn error_codes_from_json_xml_and_bare_statuses() {
        let (c, m) = error_of(400, br#"{"__type":"com.amazon#ResourceNotFoundException","message":"gone"}"#);
        assert_eq!((c.as_str(), m.as_str()), ("ResourceNotFoundException", "gone"));
        let (c, m) = error_of(403, b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>");
        assert_eq!((c.as_str(), m.as_str()), ("AccessDenied", "Access Denied"));
        assert_eq!(error_of(404, b"").0, "NotFound");
    }

    #[test]
    fn resource_types_and_read_only() {
        assert_eq!(resource_type("arn:aws:kinesis:us-east-1:1:stream/s"), Some("AWS::Kinesis::Stream"));
        assert_eq!(resource_type("arn:aws:kms:us-east-1:1:key/k"), Some("AWS::KMS::Key"));
        assert_eq!(resource_type("arn:aws:glue:us-east-1:1:table/db/t"), Some("AWS::Glue::Table"));
        assert!(read_only("kms", "Decrypt") && read_only("s3", "ListBuckets") && !read_only("s3", "PutObject"));
        assert!(data_event("s3", "GetObject") && !data_event("s3", "CreateBucket"));
        let p = s3_parameters(Some("b"), Some("k"), Some("h"), Some("versionId=1&X-Amz-Signature=s"));
        assert_eq!(p, json!({"bucketName": "b", "key": "k", "Host": "h", "versionId": "1"}));
    }
}
