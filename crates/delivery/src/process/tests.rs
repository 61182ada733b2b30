//! Tests of the processors: configuration errors, jq extraction and its fast paths,
//! deaggregation, delimiters, CloudWatch Logs and disabled pipelines.

use std::io::Write;

use super::jq::{Eval, Field, Query, compile_jq, object_literal_entries, parse_json, path_strftime, plain_path};
use super::*;

fn extraction(query: &str) -> Pipeline {
    Pipeline::new(
        true,
        &[ProcessorConfig::new(
            "MetadataExtraction",
            &[("MetadataExtractionQuery", query), ("JsonParsingEngine", "JQ-1.6")],
        )],
    )
    .unwrap()
}

fn keys(p: &Pipeline, record: &str) -> Result<Vec<(String, String)>, RecordFailure> {
    let out = p.apply(record.as_bytes())?;
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, record.as_bytes());
    Ok(out[0].1.clone().into_iter().collect())
}

fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn config_error(enabled: bool, processors: &[ProcessorConfig]) -> String {
    Pipeline::new(enabled, processors).unwrap_err().0
}

fn records(out: Vec<(Vec<u8>, BTreeMap<String, String>)>) -> Vec<String> {
    out.into_iter().map(|(r, _)| String::from_utf8(r).unwrap()).collect()
}

#[test]
fn pipeline_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Pipeline>();
}

#[test]
fn extracts_nested_fields_and_time() {
    let p = extraction(
        r#"{customer_id: .customer_id, device: .type.device, year: .ts | strftime("%Y"), hour: .ts | strftime("%H")}"#,
    );
    assert!(p.extracts_keys());
    let record = r#"{"type":{"device":"mobile"},"customer_id":"1234567890","ts":1565382027}"#;
    assert_eq!(
        keys(&p, record).unwrap(),
        kv(&[("customer_id", "1234567890"), ("device", "mobile"), ("hour", "20"), ("year", "2019")])
    );
}

#[test]
fn numbers_and_booleans_are_rendered_as_json_text() {
    let p = extraction("{n: .n, f: .f, b: .b, d: .f * 2, big: .big, e: .e, neg: .neg}");
    let record = r#"{"n":42,"f":1.5,"b":true,"big":123456789012345678901234567890,"e":1e3,"neg":-0.25}"#;
    assert_eq!(
        keys(&p, record).unwrap(),
        kv(&[
            ("b", "true"),
            ("big", "123456789012345680000000000000"),
            ("d", "3"),
            ("e", "1000"),
            ("f", "1.5"),
            ("n", "42"),
            ("neg", "-0.25"),
        ])
    );
    let p = extraction("{ok: (.x > 1), flag: .flag}");
    assert_eq!(keys(&p, r#"{"x":2,"flag":false}"#).unwrap(), kv(&[("flag", "false"), ("ok", "true")]));
    // jq 1.6 prints numbers as doubles
    let p = extraction("{v: .v}");
    for (v, want) in [
        ("0", "0"),
        ("-7", "-7"),
        ("0.1", "0.1"),
        ("0.0001", "0.0001"),
        ("0.00001", "1e-05"),
        ("1.5e300", "1.5e+300"),
        ("1e15", "1000000000000000"),
        ("1e16", "1e+16"),
        ("12345678901234567", "12345678901234568"),
        ("12345678901234567890", "12345678901234567000"),
        ("1565382027", "1565382027"),
        ("1565382027.25", "1565382027.25"),
    ] {
        assert_eq!(keys(&p, &format!(r#"{{"v":{v}}}"#)).unwrap(), kv(&[("v", want)]), "{v}");
    }
    let p = extraction("{inf: infinite, ninf: -infinite, lit: 2.50}");
    assert_eq!(
        keys(&p, "{}").unwrap(),
        kv(&[("inf", "1.7976931348623157e+308"), ("lit", "2.5"), ("ninf", "-1.7976931348623157e+308")])
    );
}

#[test]
fn std_functions_work() {
    let p = extraction(
        r#"{y: (.ts | split("-")[0]), up: (.name | ascii_upcase), len: (.tags | length), sum: (.a + .b), j: (.tags | join("_")), t: (.name | test("^b"))}"#,
    );
    let record = r#"{"ts":"2024-05-06T07:08:09Z","name":"bob","tags":["x","y"],"a":2,"b":3}"#;
    assert_eq!(
        keys(&p, record).unwrap(),
        kv(&[("j", "x_y"), ("len", "2"), ("sum", "5"), ("t", "true"), ("up", "BOB"), ("y", "2024")])
    );
    let p = extraction(r#"{d: (.ts | fromdateiso8601 | strftime("%Y/%m/%d")), m: (.ms / 1000 | floor | tostring)}"#);
    assert_eq!(
        keys(&p, r#"{"ts":"2024-05-06T07:08:09Z","ms":1700000000123}"#).unwrap(),
        kv(&[("d", "2024/05/06"), ("m", "1700000000")])
    );
}

#[test]
fn extraction_failures() {
    let p = extraction("{customer_id: .customer_id}");
    let fail = |record: &str| {
        let e = p.apply(record.as_bytes()).unwrap_err();
        assert_eq!(e.code, METADATA_EXTRACTION_FAILED);
        e.message
    };
    assert_eq!(fail("not json"), "Non JSON record provided");
    assert_eq!(p.apply(b"x").unwrap_err().error_output_type(), "metadata-extraction-failed");
    assert_eq!(fail(r#"{"a":1}{"a":2}"#), "Non JSON record provided");
    assert_eq!(fail(""), "Non JSON record provided");
    // nesting is bounded: a hostile record cannot exhaust the stack
    assert_eq!(fail(&format!("{}{}", "[".repeat(100_000), "]".repeat(100_000))), "Non JSON record provided");
    assert!(fail(r#"{"other":1}"#).contains("null"), "missing key -> null");
    assert!(fail(r#"{"customer_id":{"x":1}}"#).contains("an object"));
    assert!(fail(r#"{"customer_id":[1]}"#).contains("an array"));
    assert!(fail(r#"[1,2]"#).contains("jq query failed"), "indexing an array with a key");
    // trailing whitespace after the object is fine
    assert_eq!(keys(&p, "{\"customer_id\":\"a\"}\n").unwrap(), kv(&[("customer_id", "a")]));

    let non_object = extraction(".customer_id");
    let e = non_object.apply(br#"{"customer_id":"a"}"#).unwrap_err();
    assert!(e.message.contains("must produce an object"), "{e}");
    let none = extraction("empty");
    assert!(none.apply(b"{}").unwrap_err().message.contains("no result"));
    let many = extraction("{a: .a}, {a: .a}");
    assert!(many.apply(br#"{"a":1}"#).unwrap_err().message.contains("more than one"));
    let errors = extraction(r#"{a: error("boom")}"#);
    assert!(errors.apply(b"{}").unwrap_err().message.contains("boom"));
    let halts = extraction("halt");
    assert_eq!(halts.apply(b"{}").unwrap_err().message, "jq query halted");
    let nan = extraction("{a: nan}");
    assert!(nan.apply(b"{}").unwrap_err().message.contains("NaN"));
}

#[test]
fn object_literal_fast_path() {
    let entries =
        |q: &str| object_literal_entries(q).map(|e| e.into_iter().map(|(k, v)| (k, v.to_string())).collect::<Vec<_>>());
    assert_eq!(
        entries(
            r#"{customer_id: .customer_id, "the year": .ts | strftime("%Y"), "a\tb": [.x, .y] | join(","), if: 1}"#
        ),
        Some(vec![
            ("customer_id".into(), ".customer_id".into()),
            ("the year".into(), r#".ts | strftime("%Y")"#.into()),
            ("a\tb".into(), r#"[.x, .y] | join(",")"#.into()),
            ("if".into(), "1".into()),
        ])
    );
    assert_eq!(entries(" { } "), Some(vec![]));
    for other in [
        "{(.k): .v}",
        r#"{"\(.k)": .v}"#,
        "{a}",
        "{$__loc__}",
        "{a: .a} | .",
        "{a: .a} + {b: .b}",
        "def f: .a; {a: f}",
        ".",
        "[.a]",
        "{a: .a,}",
    ] {
        assert_eq!(entries(other), None, "{other}");
    }

    // both ways of evaluating give the same keys and the same failures
    let queries = [
        "{a: .a, b: .b.c, n: (.n + 1), s: (.s | ascii_downcase)}",
        "{a: .a, b: .missing}",
        "{a: .a, many: (.n, .n)}",
        "{a: .a, none: empty}",
        "{a: .a, bad: (.s | error)}",
        r#"{"x y": .a, a: .b}"#,
        "{a: .a, a: .n}",
        "{}",
    ];
    let records = [r#"{"a":"A","b":{"c":true},"n":1.5,"s":"MiXeD"}"#, r#"{"a":1}"#, "[]", "null"];
    for q in queries {
        let fast = Query::compile(q).unwrap();
        assert!(matches!(fast.eval, Eval::Fields(_)), "{q}");
        let whole = Query { text: q.into(), eval: Eval::Whole(compile_jq(q).unwrap()) };
        for r in records {
            let (f, w) = (fast.extract(r.as_bytes()), whole.extract(r.as_bytes()));
            match (&f, &w) {
                (Ok(_), Ok(_)) => assert_eq!(f, w, "{q} on {r}"),
                (Err(a), Err(b)) => assert_eq!(a.code, b.code, "{q} on {r}"),
                _ => panic!("{q} on {r}: {f:?} vs {w:?}"),
            }
        }
    }
    let p = extraction("{a: .a, b: .b}");
    assert_eq!(p.partition_key_names(), Some(vec!["a".to_string(), "b".to_string()]));
    assert!(p.apply(br#"{"a":"x"}"#).unwrap_err().message.contains("partition key b is null"));
    assert_eq!(extraction("{a: .a} + {b: .b}").partition_key_names(), None);
    assert_eq!(Pipeline::new(true, &[]).unwrap().partition_key_names(), None);
    let p = extraction("{a: .a, n: (.n, .n)}");
    assert!(p.apply(br#"{"a":"x","n":1}"#).unwrap_err().message.contains("more than one result"));
}

#[test]
fn strftime_fast_path_matches_jq() {
    assert_eq!(plain_path(" .a.b_2 "), Some(vec!["a".into(), "b_2".into()]));
    for not_plain in [".", ".a.", ".a[0]", ".\"a\"", "..", ".a | .b", "a", ".a?", ".2x"] {
        assert_eq!(plain_path(not_plain), None, "{not_plain}");
    }
    assert_eq!(
        path_strftime(r#".event.ts|strftime("%Y/%m/%d %H:%M:%S %j %y 100%%")"#).map(|(p, f)| (p, f.len())),
        Some((vec!["event".into(), "ts".into()], 16))
    );
    assert!(path_strftime(r#".ts | strftime("%A")"#).is_none(), "unknown specifier: jq formats it");
    assert!(path_strftime(r#".ts | strftime(.fmt)"#).is_none());
    assert!(path_strftime(r#".ts | todate | strftime("%Y")"#).is_none());

    let formats =
        ["%Y", "%m", "%d", "%H", "%M", "%S", "%j", "%y", "year=%Y/month=%m/day=%d/hour=%H", "%Y-%m-%dT%H:%M:%SZ %%"];
    let values = [
        "0",
        "1565382027",
        "1565382027.999",
        "951782400",
        "4102444799",
        "253402300799",
        "253402300800",
        "-1",
        "-86400.5",
        "\"2019-08-09\"",
        "null",
        "[2019,7,9,20,20,27,5,220]",
        "true",
    ];
    for format in formats {
        let text = format!(r#".ts | strftime("{format}")"#);
        let fast = Field::compile(&text).unwrap();
        assert!(matches!(fast, Field::Strftime { .. }), "{text}");
        let jq = Field::Jq(compile_jq(&text).unwrap());
        for v in values {
            let input = parse_json(format!(r#"{{"ts":{v}}}"#).as_bytes()).unwrap();
            let (a, b) = (fast.render("k", &input), jq.render("k", &input));
            assert_eq!(a, b, "{text} on {v}");
        }
    }
    let p = extraction(
        r#"{year: .ts | strftime("%Y"), month: .ts|strftime("%m"), day: .ts | strftime("%d"), hour: .ts | strftime("%H")}"#,
    );
    assert_eq!(
        keys(&p, r#"{"ts":1565382027}"#).unwrap(),
        kv(&[("day", "09"), ("hour", "20"), ("month", "08"), ("year", "2019")])
    );
}

#[test]
fn query_is_sandboxed() {
    let p = extraction("{n: (env | length), d: (1 | debug | tostring), s: (2 | stderr | tostring)}");
    assert_eq!(keys(&p, "{}").unwrap(), kv(&[("d", "1"), ("n", "0"), ("s", "2")]));
    let e = config_error(
        true,
        &[ProcessorConfig::new("MetadataExtraction", &[("MetadataExtractionQuery", "{a: $ENV.HOME}")])],
    );
    assert!(e.contains("undefined variable"), "{e}");
    let e = config_error(
        true,
        &[ProcessorConfig::new(
            "MetadataExtraction",
            &[("MetadataExtractionQuery", r#"include "/etc/passwd"; {a: 1}"#)],
        )],
    );
    assert!(e.contains("Invalid MetadataExtractionQuery"), "{e}");
}

#[test]
fn config_errors() {
    let meta = |query: &str, engine: &str| {
        ProcessorConfig::new("MetadataExtraction", &[("MetadataExtractionQuery", query), ("JsonParsingEngine", engine)])
    };
    let e = config_error(true, &[meta("{a: .a", "JQ-1.6")]);
    assert!(e.starts_with("Invalid MetadataExtractionQuery '{a: .a'"), "{e}");
    let e = config_error(true, &[meta("{a: nosuchfunction}", "JQ-1.6")]);
    assert!(e.contains("undefined filter nosuchfunction"), "{e}");
    let e = config_error(true, &[meta("{a: .a}", "JQ-1.5")]);
    assert!(e.contains("must be JQ-1.6"), "{e}");
    let e = config_error(true, &[ProcessorConfig::new("MetadataExtraction", &[])]);
    assert!(e.contains("MetadataExtractionQuery is required"), "{e}");
    let e = config_error(true, &[meta("  ", "JQ-1.6")]);
    assert!(e.contains("must not be empty"), "{e}");

    let lambda = ProcessorConfig::new(
        "Lambda",
        &[("LambdaArn", "arn:aws:lambda:us-east-1:123456789012:function:f"), ("NumberOfRetries", "3")],
    );
    let e = config_error(true, std::slice::from_ref(&lambda));
    assert!(e.contains("Lambda is not supported"), "{e}");
    // a disabled configuration never invokes it
    let p = Pipeline::new(false, &[lambda]).unwrap();
    assert_eq!(p.apply(b"x").unwrap(), vec![(b"x".to_vec(), BTreeMap::new())]);

    let e = config_error(true, &[ProcessorConfig::new("Uppercase", &[])]);
    assert!(e.contains("Processor type 'Uppercase' is not valid"), "{e}");
    let e = config_error(true, &[ProcessorConfig::new("AppendDelimiterToRecord", &[("Separator", "Cg==")])]);
    assert!(e.contains("name 'Separator' is not valid"), "{e}");
    let e = config_error(true, &[ProcessorConfig::new("AppendDelimiterToRecord", &[("SubRecordType", "JSON")])]);
    assert!(e.contains("not valid for processor type AppendDelimiterToRecord"), "{e}");
    let e = config_error(
        true,
        &[ProcessorConfig::new("AppendDelimiterToRecord", &[]), ProcessorConfig::new("AppendDelimiterToRecord", &[])],
    );
    assert!(e.contains("more than once"), "{e}");
    let e = config_error(
        true,
        &[ProcessorConfig::new("RecordDeAggregation", &[("SubRecordType", "JSON"), ("SubRecordType", "JSON")])],
    );
    assert!(e.contains("more than once"), "{e}");
    let e = config_error(true, &[ProcessorConfig::new("RecordDeAggregation", &[("SubRecordType", "CSV")])]);
    assert!(e.contains("must be JSON or DELIMITED"), "{e}");
    let e = config_error(true, &[ProcessorConfig::new("RecordDeAggregation", &[("SubRecordType", "DELIMITED")])]);
    assert!(e.contains("Delimiter is required"), "{e}");
    let e = config_error(
        true,
        &[ProcessorConfig::new("RecordDeAggregation", &[("SubRecordType", "DELIMITED"), ("Delimiter", "##!")])],
    );
    assert!(e.contains("base64"), "{e}");
    let e =
        config_error(true, &[ProcessorConfig::new("CloudWatchLogProcessing", &[("DataMessageExtraction", "true")])]);
    assert!(e.contains("requires a Decompression processor"), "{e}");
    let e = config_error(true, &[ProcessorConfig::new("Decompression", &[("CompressionFormat", "ZIP")])]);
    assert!(e.contains("must be GZIP"), "{e}");
    // validated even when disabled
    let e = config_error(false, &[meta("{a:", "JQ-1.6")]);
    assert!(e.contains("Invalid MetadataExtractionQuery"), "{e}");
}

#[test]
fn json_deaggregation() {
    let p = Pipeline::new(
        true,
        &[
            // listed after MetadataExtraction: AWS's order applies regardless
            ProcessorConfig::new("MetadataExtraction", &[("MetadataExtractionQuery", "{a: .a}")]),
            ProcessorConfig::new("RecordDeAggregation", &[("SubRecordType", "JSON")]),
        ],
    )
    .unwrap();
    let out = p.apply(b"{\"a\":1}{\"a\":2}\n{\"a\":3}\r\n \t{\"a\":\"x}{\"}\n").unwrap();
    let got: Vec<(String, String)> =
        out.into_iter().map(|(r, k)| (String::from_utf8(r).unwrap(), k["a"].clone())).collect();
    assert_eq!(
        got,
        vec![
            (r#"{"a":1}"#.into(), "1".into()),
            (r#"{"a":2}"#.into(), "2".into()),
            (r#"{"a":3}"#.into(), "3".into()),
            (r#"{"a":"x}{"}"#.into(), "x}{".into()),
        ]
    );
    // not a sequence of objects: the record continues whole and extraction fails it
    for bad in [&br#"{"a":1}{"a":"#[..], br#"{"a":1} 2"#, b"", b"  "] {
        let e = p.apply(bad).unwrap_err();
        assert_eq!(e.message, "Non JSON record provided");
    }
    // an array of objects is not split (AWS: not a valid input); `.a` fails on it
    let e = p.apply(br#"[{"a":1},{"a":2}]"#).unwrap_err();
    assert_eq!(e.code, METADATA_EXTRACTION_FAILED);
    assert!(e.message.contains("cannot index"), "{e}");
    // without extraction, deaggregation alone
    let p = Pipeline::new(true, &[ProcessorConfig::new("RecordDeAggregation", &[("SubRecordType", "JSON")])]).unwrap();
    assert!(!p.extracts_keys());
    assert_eq!(records(p.apply(br#"{"a":1} {"b":[2]}"#).unwrap()), [r#"{"a":1}"#, r#"{"b":[2]}"#]);
    assert_eq!(records(p.apply(b"not json").unwrap()), ["not json"]);
    // at most 500 sub-records; beyond, the record is left whole
    let many = r#"{"a":1}"#.repeat(MAX_SUB_RECORDS);
    assert_eq!(p.apply(many.as_bytes()).unwrap().len(), MAX_SUB_RECORDS);
    let too_many = r#"{"a":1}"#.repeat(MAX_SUB_RECORDS + 1);
    assert_eq!(records(p.apply(too_many.as_bytes()).unwrap()), [too_many]);
}

#[test]
fn delimited_deaggregation() {
    // "IyMjIw==" is "####", AWS's example
    let p = Pipeline::new(
        true,
        &[ProcessorConfig::new("RecordDeAggregation", &[("SubRecordType", "DELIMITED"), ("Delimiter", "IyMjIw==")])],
    )
    .unwrap();
    assert_eq!(records(p.apply(b"a####b#c########d####").unwrap()), ["a", "b#c", "d"]);
    assert_eq!(records(p.apply(b"no delimiter").unwrap()), ["no delimiter"]);
    assert!(p.apply(b"####").unwrap().is_empty());
    let with_keys = Pipeline::new(
        true,
        &[
            ProcessorConfig::new("RecordDeAggregation", &[("SubRecordType", "DELIMITED"), ("Delimiter", "fA==")]),
            ProcessorConfig::new("MetadataExtraction", &[("MetadataExtractionQuery", "{k: .k}")]),
        ],
    )
    .unwrap();
    let out = with_keys.apply(br#"{"k":"x"}|{"k":"y"}"#).unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!((out[0].1["k"].as_str(), out[1].1["k"].as_str()), ("x", "y"));
    // one bad sub-record fails the record
    assert!(with_keys.apply(br#"{"k":"x"}|oops"#).is_err());
    let too_many = "x|".repeat(MAX_SUB_RECORDS + 1);
    let p = Pipeline::new(
        true,
        &[ProcessorConfig::new("RecordDeAggregation", &[("SubRecordType", "DELIMITED"), ("Delimiter", "fA==")])],
    )
    .unwrap();
    assert_eq!(p.apply(too_many.as_bytes()).unwrap().len(), 1);
}

#[test]
fn append_delimiter() {
    let p = Pipeline::new(true, &[ProcessorConfig::new("AppendDelimiterToRecord", &[])]).unwrap();
    assert_eq!(p.delimiter(), Some(&b"\n"[..]));
    assert_eq!(records(p.apply(b"abc").unwrap()), ["abc"], "the delimiter is appended at write time");
    let p = Pipeline::new(true, &[ProcessorConfig::new("AppendDelimiterToRecord", &[("Delimiter", "LA==")])]).unwrap();
    assert_eq!(p.delimiter(), Some(&b","[..]));
    let p = Pipeline::new(true, &[]).unwrap();
    assert_eq!(p.delimiter(), None);
}

#[test]
fn disabled_passes_records_through() {
    let processors = [
        ProcessorConfig::new("RecordDeAggregation", &[("SubRecordType", "JSON")]),
        ProcessorConfig::new("MetadataExtraction", &[("MetadataExtractionQuery", "{a: .a}")]),
        ProcessorConfig::new("AppendDelimiterToRecord", &[]),
    ];
    let p = Pipeline::new(false, &processors).unwrap();
    assert!(!p.extracts_keys());
    assert_eq!(p.delimiter(), None);
    assert_eq!(p.query(), Some("{a: .a}"));
    let record = b"{\"a\":1}{\"a\":2} not even json";
    assert_eq!(p.apply(record).unwrap(), vec![(record.to_vec(), BTreeMap::new())]);
    let p = Pipeline::new(true, &[]).unwrap();
    assert_eq!(p.apply(record).unwrap(), vec![(record.to_vec(), BTreeMap::new())]);
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

#[test]
fn cloudwatch_logs_decompression_and_message_extraction() {
    let envelope = r#"{"messageType":"DATA_MESSAGE","owner":"111111111111","logGroup":"g","logStream":"s",
            "subscriptionFilters":["f"],"logEvents":[
            {"id":"1","timestamp":1432826855000,"message":"{\"user\":\"a\"}"},
            {"id":"2","timestamp":1432826855000,"message":"{\"user\":\"b\"}"}]}"#;
    let decompress = ProcessorConfig::new("Decompression", &[("CompressionFormat", "GZIP")]);
    let p = Pipeline::new(true, std::slice::from_ref(&decompress)).unwrap();
    assert_eq!(records(p.apply(&gzip(envelope.as_bytes())).unwrap()), [envelope]);
    let e = p.apply(b"plain").unwrap_err();
    assert_eq!(e.code, DECOMPRESSION_FAILED);
    assert_eq!(e.error_output_type(), "decompression-failed");

    let p = Pipeline::new(
        true,
        &[
            ProcessorConfig::new("MetadataExtraction", &[("MetadataExtractionQuery", "{user: .user}")]),
            ProcessorConfig::new("RecordDeAggregation", &[("SubRecordType", "JSON")]),
            ProcessorConfig::new("CloudWatchLogProcessing", &[("DataMessageExtraction", "true")]),
            decompress.clone(),
        ],
    )
    .unwrap();
    let out = p.apply(&gzip(envelope.as_bytes())).unwrap();
    let got: Vec<(String, String)> =
        out.into_iter().map(|(r, k)| (String::from_utf8(r).unwrap(), k["user"].clone())).collect();
    assert_eq!(got, vec![(r#"{"user":"a"}"#.into(), "a".into()), (r#"{"user":"b"}"#.into(), "b".into())]);
    let control =
        r#"{"messageType":"CONTROL_MESSAGE","logEvents":[{"id":"","timestamp":1,"message":"CWL CONTROL MESSAGE"}]}"#;
    assert!(p.apply(&gzip(control.as_bytes())).unwrap().is_empty());
    let e = p.apply(&gzip(b"{\"a\":1}")).unwrap_err();
    assert_eq!(e.code, CLOUDWATCH_LOGS_PROCESSING_FAILED);

    let extraction_only = Pipeline::new(
        true,
        &[decompress, ProcessorConfig::new("CloudWatchLogProcessing", &[("DataMessageExtraction", "true")])],
    )
    .unwrap();
    assert_eq!(
        records(extraction_only.apply(&gzip(envelope.as_bytes())).unwrap()),
        ["{\"user\":\"a\"}\n{\"user\":\"b\"}"]
    );
}
