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

/// The generated tables against the pinned botocore models themselves, read here as plain
/// JSON (not through the generator's parser): every shape the tables hold has the model's
/// type, bounds, pattern text, enum values, members and required members, and every operation
/// its input and output. The table-driven server tests take their cases from these tables, so
/// this is what keeps a generator bug from passing both sides unnoticed.
#[test]
fn generated_tables_say_what_the_models_say() {
    use std::io::Read as _;

    use crate::model::Kind;

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let mut checked = 0usize;
    for model in crate::generated::SERVICES {
        let file = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                // a module's name is the model file's with `_` for `-` (redshift_data)
                let file = format!("{}-{}", model.name.replace('_', "-"), model.api_version);
                p.file_name().unwrap().to_string_lossy().starts_with(&file)
            })
            .unwrap_or_else(|| panic!("no pinned model for {} {}", model.name, model.api_version));
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&file).unwrap()).read_to_string(&mut text).unwrap();
        let raw: serde_json::Value = serde_json::from_str(&text).unwrap();
        let shapes = &raw["shapes"];
        let name_of = |id: u16| model.shape(id).name;
        for shape in model.shapes {
            let r = &shapes[shape.name];
            let what = format!("{}: shape {}", model.name, shape.name);
            assert!(r.is_object(), "{what} is not in the model");
            let ty = r["type"].as_str().unwrap();
            let kind_ok = match (&shape.kind, ty) {
                (Kind::String, "string")
                | (Kind::Integer, "integer")
                | (Kind::Long, "long")
                | (Kind::Float, "float")
                | (Kind::Double, "double")
                | (Kind::Boolean, "boolean")
                | (Kind::Blob, "blob")
                | (Kind::Timestamp, "timestamp")
                | (Kind::Structure { .. }, "structure")
                | (Kind::List { .. }, "list")
                | (Kind::Map { .. }, "map") => true,
                (Kind::Document, "structure") => r["document"].as_bool() == Some(true),
                // integers of other widths the model spells differently
                (Kind::Integer | Kind::Long, "short" | "byte") | (Kind::Double, "bigdecimal") => true,
                _ => false,
            };
            assert!(kind_ok, "{what}: the table says {:?}, the model {ty}", shape.kind);
            assert_eq!(shape.min, r["min"].as_f64(), "{what}: min");
            assert_eq!(shape.max, r["max"].as_f64(), "{what}: max");
            let pattern = shape.pattern.map(|p| model.patterns[usize::from(p)].source);
            assert_eq!(pattern, r["pattern"].as_str(), "{what}: pattern");
            let enums: Vec<&str> =
                r["enum"].as_array().map(|a| a.iter().map(|v| v.as_str().unwrap()).collect()).unwrap_or_default();
            let mut ours = shape.enum_values.to_vec();
            let mut theirs = enums.clone();
            ours.sort_unstable();
            theirs.sort_unstable();
            assert_eq!(ours, theirs, "{what}: enum values");
            assert_eq!(shape.sensitive, r["sensitive"].as_bool().unwrap_or(false), "{what}: sensitive");
            match &shape.kind {
                Kind::Structure { members } => {
                    let raw_members = r["members"].as_object().unwrap();
                    let mut ours: Vec<&str> = members.iter().map(|m| m.name).collect();
                    let mut theirs: Vec<&str> = raw_members.keys().map(String::as_str).collect();
                    ours.sort_unstable();
                    theirs.sort_unstable();
                    assert_eq!(ours, theirs, "{what}: members");
                    let required: Vec<&str> = r["required"]
                        .as_array()
                        .map(|a| a.iter().map(|v| v.as_str().unwrap()).collect())
                        .unwrap_or_default();
                    for m in *members {
                        assert_eq!(m.required, required.contains(&m.name), "{what}.{}: required", m.name);
                        assert_eq!(
                            name_of(m.shape),
                            raw_members[m.name]["shape"].as_str().unwrap(),
                            "{what}.{}: shape",
                            m.name
                        );
                    }
                }
                Kind::List { member, .. } => {
                    assert_eq!(name_of(*member), r["member"]["shape"].as_str().unwrap(), "{what}: element");
                }
                Kind::Map { key, value, .. } => {
                    assert_eq!(name_of(*key), r["key"]["shape"].as_str().unwrap(), "{what}: key");
                    assert_eq!(name_of(*value), r["value"]["shape"].as_str().unwrap(), "{what}: value");
                }
                _ => {}
            }
            checked += 1;
        }
        for op in model.operations {
            let r = &raw["operations"][op.name];
            assert!(r.is_object(), "{}: operation {} is not in the model", model.name, op.name);
            // the tables hold the shapes of the operations tarn serves
            if !op.served {
                continue;
            }
            assert_eq!(op.input.map(name_of), r["input"]["shape"].as_str(), "{}.{}: input", model.name, op.name);
            assert_eq!(op.output.map(name_of), r["output"]["shape"].as_str(), "{}.{}: output", model.name, op.name);
        }
        let all_ops = raw["operations"].as_object().unwrap().len();
        assert_eq!(model.operations.len(), all_ops, "{}: every operation of the model is in the table", model.name);
    }
    assert!(checked > 800, "only {checked} shapes checked");
}
