//! Checks and validation on the generated models, against answers recorded from AWS (Kinesis's
//! as kinesalite's suite recorded them, Athena's as measured in 2026).

use crate::generated::{athena, kinesis};
use crate::model::ServiceModel;
use crate::{Doc, Scalars, ServiceError, prepare};

fn run(model: &ServiceModel, op: &str, body: &str) -> Result<Doc, ServiceError> {
    let mut doc = crate::doc::from_json(body.as_bytes()).expect("test bodies are JSON");
    let op = model.operation(op).expect("an operation of the model");
    prepare(model, op, &mut doc, Scalars::Typed).map(|()| doc)
}

fn failure(model: &ServiceModel, op: &str, body: &str) -> (String, Option<String>) {
    match run(model, op, body) {
        Ok(_) => panic!("{op}: the request must be refused"),
        Err(e) => (e.code.to_string(), e.message),
    }
}

fn validation(model: &ServiceModel, op: &str, body: &str) -> String {
    let (code, message) = failure(model, op, body);
    assert_eq!(code, model.validation.code, "{message:?}");
    message.expect("validation errors carry a message")
}

fn serialization(model: &ServiceModel, op: &str, body: &str) -> Option<String> {
    let (code, message) = failure(model, op, body);
    assert_eq!(code, "SerializationException", "{message:?}");
    message
}

#[test]
fn kinesis_violations_in_aws_words_and_order() {
    let m = &kinesis::MODEL;
    assert_eq!(
        validation(m, "PutRecords", "{}"),
        "1 validation error detected: Value null at 'records' failed to satisfy constraint: Member must not be null"
    );
    assert_eq!(
        validation(m, "PutRecords", r#"{"StreamName": "", "Records": []}"#),
        "3 validation errors detected: Value '[]' at 'records' failed to satisfy constraint: Member must have \
         length greater than or equal to 1; Value '' at 'streamName' failed to satisfy constraint: Member must \
         satisfy regular expression pattern: [a-zA-Z0-9_.-]+; Value '' at 'streamName' failed to satisfy \
         constraint: Member must have length greater than or equal to 1"
    );
    let long = "a".repeat(129);
    assert_eq!(
        validation(
            m,
            "PutRecords",
            &format!(r#"{{"StreamName": "{long}", "Records": [{{"PartitionKey": "a", "Data": ""}}]}}"#)
        ),
        format!(
            "1 validation error detected: Value '{long}' at 'streamName' failed to satisfy constraint: Member must \
             have length less than or equal to 128"
        )
    );
    // a list of structures: each element's members by path
    assert_eq!(
        validation(m, "PutRecords", r#"{"StreamName": "s", "Records": [{"Data": "", "PartitionKey": ""}]}"#),
        "1 validation error detected: Value '' at 'records.1.member.partitionKey' failed to satisfy constraint: \
         Member must have length greater than or equal to 1"
    );
    assert_eq!(
        validation(m, "CreateStream", r#"{"StreamName": "s", "ShardCount": 0}"#),
        "1 validation error detected: Value '0' at 'shardCount' failed to satisfy constraint: Member must have \
         value greater than or equal to 1"
    );
    assert_eq!(
        validation(
            m,
            "GetShardIterator",
            r#"{"StreamName": "s", "ShardId": "shardId-0", "ShardIteratorType": "NEWEST"}"#
        ),
        "1 validation error detected: Value 'NEWEST' at 'shardIteratorType' failed to satisfy constraint: Member \
         must satisfy enum value set: [AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP]"
    );
    // a blob one byte over the model's 10 MiB: printed as Java prints a ByteBuffer
    let mut doc = Doc::Map(vec![
        ("StreamName".into(), Doc::Str("s".into())),
        ("PartitionKey".into(), Doc::Str("k".into())),
        ("Data".into(), Doc::Blob(vec![0; 10 * 1024 * 1024 + 1])),
    ]);
    let op = m.operation("PutRecord").unwrap();
    let Err(e) = prepare(m, op, &mut doc, Scalars::Typed) else { panic!("an oversized record must be refused") };
    assert_eq!(
        e.message.as_deref(),
        Some(
            "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=10485761 cap=10485761]' at 'data' \
             failed to satisfy constraint: Member must have length less than or equal to 10485760"
        )
    );
}

#[test]
fn kinesis_type_mismatches_in_aws_words() {
    let m = &kinesis::MODEL;
    let cases = [
        (r#"{"StreamName": 1}"#, "NUMBER_VALUE can not be converted to a String"),
        (r#"{"StreamName": "s", "Limit": "1"}"#, "STRING_VALUE can not be converted to an Integer"),
        (r#"{"StreamName": "s", "Limit": true}"#, "TRUE_VALUE can not be converted to an Integer"),
        (r#"{"StreamName": "s", "Limit": [1]}"#, "Start of list found where not expected"),
        (r#"{"StreamName": "s", "Limit": {"a": 1}}"#, "Start of structure or map found where not expected."),
    ];
    for (body, expected) in cases {
        assert_eq!(serialization(m, "DescribeStream", body).as_deref(), Some(expected), "{body}");
    }
    assert_eq!(
        serialization(m, "PutRecord", r#"{"StreamName": "s", "PartitionKey": "k", "Data": "abc"}"#).as_deref(),
        Some(
            "'abc' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 3"
        )
    );
    assert_eq!(
        serialization(m, "PutRecords", r#"{"StreamName": "s", "Records": "x"}"#).as_deref(),
        Some("Expected list or null")
    );
    assert_eq!(
        serialization(m, "PutRecords", r#"{"StreamName": "s", "Records": ["x"]}"#).as_deref(),
        Some("Expected null")
    );
    assert_eq!(serialization(m, "AddTagsToStream", r#"{"Tags": "x"}"#).as_deref(), Some("Expected map or null"));
    // the body itself must be a structure
    assert_eq!(serialization(m, "ListStreams", "[]").as_deref(), Some("Start of list found where not expected"));
}

#[test]
fn requests_are_normalised_for_the_handlers() {
    let m = &kinesis::MODEL;
    let doc = run(
        m,
        "PutRecord",
        r#"{"StreamName": "s", "PartitionKey": "k", "Data": "aGVsbG8=", "Unknown": 1, "ExplicitHashKey": null}"#,
    )
    .unwrap();
    assert_eq!(doc.get("Data"), Some(&Doc::Blob(b"hello".to_vec())));
    assert_eq!(doc.get("Unknown"), None, "unknown members are dropped");
    assert_eq!(doc.get("ExplicitHashKey"), None, "null is absent");
    let doc = run(m, "GetShardIterator", r#"{"StreamName": "s", "ShardId": "shardId-0", "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": 1700000000.5}"#).unwrap();
    assert_eq!(doc.get("Timestamp"), Some(&Doc::Time(crate::Timestamp::from_millis(1_700_000_000_500))));
    let doc = run(m, "DescribeStream", r#"{"StreamName": "s", "Limit": 7.9}"#).unwrap();
    assert_eq!(doc.get("Limit"), Some(&Doc::Int(7)), "a decimal is truncated");
}

#[test]
fn at_most_ten_violations() {
    let m = &kinesis::MODEL;
    let records: Vec<String> = (0..12).map(|_| r#"{"Data": "", "PartitionKey": ""}"#.to_string()).collect();
    let message = validation(m, "PutRecords", &format!(r#"{{"StreamName": "s", "Records": [{}]}}"#, records.join(",")));
    assert!(message.starts_with("10 validation errors detected: "), "{message}");
    assert_eq!(message.matches("failed to satisfy constraint").count(), 10);
}

#[test]
fn athena_answers_violations_as_invalid_requests() {
    let m = &athena::MODEL;
    let Err(e) = run(m, "GetQueryExecution", "{}") else { panic!("refused") };
    assert_eq!(e.code, "InvalidRequestException");
    assert_eq!(
        e.message.as_deref(),
        Some(
            "1 validation error detected: Value null at 'queryExecutionId' failed to satisfy constraint: Member must not be null"
        )
    );
    let doc = e.to_doc();
    assert_eq!(doc.get_str("AthenaErrorCode"), Some("INVALID_INPUT"));
    assert!(doc.get("Message").is_some(), "Athena's key is `Message`");
    // beyond 32 bits: the bound is reported without the value, as Athena does
    assert_eq!(
        validation(m, "ListWorkGroups", r#"{"MaxResults": 99999999999}"#),
        "1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have value \
         less than or equal to 50"
    );
    assert_eq!(
        serialization(m, "ListWorkGroups", r#"{"MaxResults": "1"}"#).as_deref(),
        Some("STRING_VALUE can not be converted to an Integer")
    );
    assert_eq!(
        serialization(m, "GetWorkGroup", r#"{"WorkGroup": 1}"#).as_deref(),
        Some("NUMBER_VALUE can not be converted to a String")
    );
    assert_eq!(
        serialization(m, "StartQueryExecution", r#"{"QueryString": "SELECT", "ResultConfiguration": "x"}"#).as_deref(),
        Some("Expected null")
    );
    let doc =
        run(m, "StartQueryExecution", r#"{"QueryString": "SELECT ?", "ExecutionParameters": ["a", null]}"#).unwrap();
    assert_eq!(
        doc.get("ExecutionParameters"),
        Some(&Doc::List(vec![Doc::Str("a".into())])),
        "a null element is dropped"
    );
}
