//! Tests of the conversion: every column type, key matching, coercion errors, Parquet and ORC
//! files read back, date-time and decimal parsing.

use ::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use ::parquet::file::reader::{FileReader, SerializedFileReader};
use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    TimestampMicrosecondType, TimestampNanosecondType,
};
use arrow_array::{ArrayRef, MapArray};
use arrow_schema::{DataType, TimeUnit};

use super::coerce::{DecimalError, parse_datetime, parse_decimal, timestamp_of};
use super::*;

fn spec(columns: &[(&str, &str)], output: OutputFormat) -> ConversionSpec {
    ConversionSpec {
        columns: columns.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect(),
        case_insensitive: true,
        column_to_json_key: BTreeMap::new(),
        dots_to_underscores: false,
        output,
    }
}

fn parquet() -> OutputFormat {
    OutputFormat::Parquet(ParquetOptions::default())
}

fn convert(spec: &ConversionSpec, records: &[&str]) -> (Vec<u8>, Vec<Result<(), RecordError>>) {
    let mut w = RecordWriter::new(spec, Vec::new()).unwrap();
    let results = records.iter().map(|r| w.push(r.as_bytes())).collect();
    (w.finish().unwrap(), results)
}

fn read_parquet(file: Vec<u8>) -> Vec<RecordBatch> {
    ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(file))
        .unwrap()
        .build()
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

fn one_batch(file: Vec<u8>) -> RecordBatch {
    let mut batches = read_parquet(file);
    assert_eq!(batches.len(), 1);
    batches.remove(0)
}

fn col<'a>(batch: &'a RecordBatch, name: &str) -> &'a ArrayRef {
    batch.column_by_name(name).unwrap()
}

fn micros(s: &str) -> i64 {
    parse_datetime(s).unwrap().micros()
}

const ALL: &[(&str, &str)] = &[
    ("b", "boolean"),
    ("t", "tinyint"),
    ("s", "smallint"),
    ("i", "int"),
    ("l", "bigint"),
    ("f", "float"),
    ("d", "double"),
    ("str", "string"),
    ("v", "varchar(10)"),
    ("dt", "date"),
    ("ts", "timestamp"),
    ("dec", "decimal(10,2)"),
    ("bin", "binary"),
];

#[test]
fn primitive_types_round_trip_through_parquet() {
    let records = [
        r#"{"b":true,"t":-5,"s":300,"i":70000,"l":9000000000,"f":1.5,"d":2.25,"str":"hé","v":"x",
                "dt":"2024-02-29","ts":"2024-02-29T12:34:56.789Z","dec":12.345,"bin":"raw"}"#,
        r#"{"b":"FALSE","t":"7","s":"-2","i":"12","l":"1e3","f":"3.5","d":"-0.5","str":42,"v":true,
                "dt":19000,"ts":1700000000,"dec":"-0.005","bin":""}"#,
        r#"{"b":null,"ts":1700000000123,"str":{"z":1,"a":[1,2]},"dec":"99999999.99"}"#,
        "{}",
    ];
    let (file, results) = convert(&spec(ALL, parquet()), &records);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let batch = one_batch(file);
    assert_eq!(batch.num_rows(), 4);

    let b = col(&batch, "b").as_boolean();
    assert!(b.value(0) && !b.value(1) && b.is_null(2) && b.is_null(3));
    let t = col(&batch, "t").as_primitive::<Int8Type>();
    assert_eq!((t.value(0), t.value(1)), (-5, 7));
    let s = col(&batch, "s").as_primitive::<Int16Type>();
    assert_eq!((s.value(0), s.value(1)), (300, -2));
    let i = col(&batch, "i").as_primitive::<Int32Type>();
    assert_eq!((i.value(0), i.value(1)), (70000, 12));
    assert!(i.is_null(2));
    let l = col(&batch, "l").as_primitive::<Int64Type>();
    assert_eq!((l.value(0), l.value(1)), (9_000_000_000, 1000));
    let f = col(&batch, "f").as_primitive::<Float32Type>();
    assert_eq!((f.value(0), f.value(1)), (1.5, 3.5));
    let d = col(&batch, "d").as_primitive::<Float64Type>();
    assert_eq!((d.value(0), d.value(1)), (2.25, -0.5));
    let st = col(&batch, "str").as_string::<i32>();
    assert_eq!(st.value(0), "hé");
    assert_eq!(st.value(1), "42");
    assert_eq!(st.value(2), r#"{"a":[1,2],"z":1}"#);
    assert!(st.is_null(3));
    let v = col(&batch, "v").as_string::<i32>();
    assert_eq!((v.value(0), v.value(1)), ("x", "true"));
    let dt = col(&batch, "dt").as_primitive::<Date32Type>();
    assert_eq!((dt.value(0), dt.value(1)), (19782, 19000));
    let ts = col(&batch, "ts").as_primitive::<TimestampMicrosecondType>();
    assert_eq!(ts.value(0), 1_709_210_096_789_000);
    assert_eq!(ts.value(1), 1_700_000_000_000_000);
    assert_eq!(ts.value(2), 1_700_000_000_123_000);
    let dec = col(&batch, "dec").as_primitive::<Decimal128Type>();
    assert_eq!(dec.data_type(), &DataType::Decimal128(10, 2));
    assert_eq!((dec.value(0), dec.value(1), dec.value(2)), (1235, -1, 9_999_999_999));
    let bin = col(&batch, "bin").as_binary::<i32>();
    assert_eq!((bin.value(0), bin.value(1)), (&b"raw"[..], &b""[..]));
    assert!(bin.is_null(2));
}

#[test]
fn nested_types_round_trip_through_parquet() {
    let columns = [
        ("st", "struct<a:int,Inner:struct<x:string>,tags:array<string>>"),
        ("arr", "array<struct<x:double>>"),
        ("m", "map<string,bigint>"),
        ("mi", "map<int,array<int>>"),
    ];
    let records = [
        r#"{"st":{"A":1,"inner":{"X":"deep"},"tags":["p","q"],"extra":0},"arr":[{"x":1.5},null,{}],
                "m":{"k1":1,"k2":"2"},"mi":{"7":[1,null]}}"#,
        r#"{"st":null,"arr":[],"m":{},"mi":null}"#,
    ];
    let (file, results) = convert(&spec(&columns, parquet()), &records);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let batch = one_batch(file);

    let st = col(&batch, "st").as_struct();
    assert!(st.is_valid(0) && st.is_null(1));
    assert_eq!(st.column_by_name("a").unwrap().as_primitive::<Int32Type>().value(0), 1);
    let inner = st.column_by_name("Inner").unwrap().as_struct();
    assert_eq!(inner.column_by_name("x").unwrap().as_string::<i32>().value(0), "deep");
    let tags = st.column_by_name("tags").unwrap().as_list::<i32>();
    let tags0 = tags.value(0);
    let tags0 = tags0.as_string::<i32>();
    assert_eq!((tags0.len(), tags0.value(0), tags0.value(1)), (2, "p", "q"));

    let arr = col(&batch, "arr").as_list::<i32>();
    let first = arr.value(0);
    let first = first.as_struct();
    assert_eq!(first.len(), 3);
    assert!(first.is_valid(0) && first.is_null(1) && first.is_valid(2));
    let x = first.column(0).as_primitive::<Float64Type>();
    assert_eq!(x.value(0), 1.5);
    assert!(x.is_null(2));
    assert_eq!(arr.value(1).len(), 0);
    assert!(arr.is_valid(1));

    let m: &MapArray = col(&batch, "m").as_map();
    let m0 = m.value(0);
    assert_eq!(m0.column(0).as_string::<i32>().value(0), "k1");
    assert_eq!(m0.column(1).as_primitive::<Int64Type>().values().to_vec(), vec![1, 2]);
    assert_eq!(m.value(1).len(), 0);

    let mi = col(&batch, "mi").as_map();
    let mi0 = mi.value(0);
    assert_eq!(mi0.column(0).as_primitive::<Int32Type>().value(0), 7);
    let lists = mi0.column(1).as_list::<i32>();
    let l0 = lists.value(0);
    let l0 = l0.as_primitive::<Int32Type>();
    assert!(l0.value(0) == 1 && l0.is_null(1));
    assert!(mi.is_null(1));
}

#[test]
fn keys_match_case_insensitively_renamed_and_with_dots() {
    let mut s = spec(&[("userid", "int"), ("ts", "string"), ("a_b", "string"), ("x", "string")], parquet());
    s.column_to_json_key.insert("ts".into(), "timestamp".into());
    s.dots_to_underscores = true;
    let (file, _) = convert(
        &s,
        &[
            r#"{"UserId":5,"TimeStamp":"t1","a.b":"dotted","X":"upper","x":"lower"}"#,
            r#"{"userid":6,"ts":"ignored","a_b":"plain","a.b":"dotted"}"#,
        ],
    );
    let batch = one_batch(file);
    assert_eq!(col(&batch, "userid").as_primitive::<Int32Type>().values().to_vec(), vec![5, 6]);
    let ts = col(&batch, "ts").as_string::<i32>();
    assert!(ts.value(0) == "t1" && ts.is_null(1));
    let ab = col(&batch, "a_b").as_string::<i32>();
    assert_eq!((ab.value(0), ab.value(1)), ("dotted", "plain"));
    assert_eq!(col(&batch, "x").as_string::<i32>().value(0), "lower");

    // case-sensitive and without dot conversion
    let mut s = spec(&[("userid", "int"), ("a_b", "string")], parquet());
    s.case_insensitive = false;
    let (file, _) = convert(&s, &[r#"{"UserId":5,"a.b":"dotted"}"#]);
    let batch = one_batch(file);
    assert!(col(&batch, "userid").is_null(0) && col(&batch, "a_b").is_null(0));

    // keys in column order take a shortcut; the best match still wins wherever it is, and
    // a repeated key keeps its last value
    let s = spec(&[("id", "int"), ("name", "string")], parquet());
    let (file, _) = convert(
        &s,
        &[
            r#"{"id":1,"name":"a","ID":9,"Name":"z"}"#,
            r#"{"ID":9,"Name":"z","id":2,"name":"b"}"#,
            r#"{"id":1,"id":3,"name":"c"}"#,
            r#"{"name":"d","id":4}"#,
        ],
    );
    let batch = one_batch(file);
    assert_eq!(col(&batch, "id").as_primitive::<Int32Type>().values().to_vec(), vec![1, 2, 3, 4]);
    let names = col(&batch, "name").as_string::<i32>();
    assert_eq!((0..4).map(|i| names.value(i)).collect::<Vec<_>>(), ["a", "b", "c", "d"]);
}

#[test]
fn bad_records_are_rejected_and_not_written() {
    let columns = [
        ("i", "int"),
        ("t", "tinyint"),
        ("s", "string"),
        ("st", "struct<a:int>"),
        ("dec", "decimal(4,2)"),
        ("dt", "date"),
        ("ts", "timestamp"),
        ("arr", "array<int>"),
        ("bin", "binary"),
        ("m", "map<int,string>"),
        ("b", "boolean"),
    ];
    let good = r#"{"i":1}"#;
    let bad: &[(&str, &str, &str)] = &[
        ("not json", MALFORMED_DATA, "not valid JSON"),
        ("[1,2]", MALFORMED_DATA, "an array"),
        ("\"s\"", MALFORMED_DATA, "a string"),
        ("12", MALFORMED_DATA, "a number"),
        (r#"{"i":1} {"i":2}"#, MALFORMED_DATA, "not valid JSON"),
        (r#"{"i":"abc"}"#, TYPE_MISMATCH, "column i: cannot convert \"abc\" to int"),
        (r#"{"i":1.5}"#, TYPE_MISMATCH, "column i"),
        (r#"{"i":true}"#, TYPE_MISMATCH, "column i"),
        (r#"{"t":300}"#, TYPE_MISMATCH, "300 is out of range for tinyint"),
        (r#"{"s":{"a":1}, "i":"x"}"#, TYPE_MISMATCH, "column i"),
        (r#"{"st":[1]}"#, TYPE_MISMATCH, "column st"),
        (r#"{"st":{"A":"x"}}"#, TYPE_MISMATCH, "column st.a: cannot convert \"x\" to int"),
        (r#"{"dec":123.45}"#, TYPE_MISMATCH, "does not fit decimal(4,2)"),
        (r#"{"dec":"12a"}"#, TYPE_MISMATCH, "column dec"),
        (r#"{"dt":"2023-02-29"}"#, TYPE_MISMATCH, "column dt"),
        (r#"{"dt":"yesterday"}"#, TYPE_MISMATCH, "column dt"),
        (r#"{"ts":"2024-01-01 25:00:00"}"#, TYPE_MISMATCH, "column ts"),
        (r#"{"ts":true}"#, TYPE_MISMATCH, "column ts"),
        (r#"{"arr":[1,"x"]}"#, TYPE_MISMATCH, "column arr[1]"),
        (r#"{"arr":1}"#, TYPE_MISMATCH, "column arr"),
        (r#"{"bin":5}"#, TYPE_MISMATCH, "column bin"),
        (r#"{"m":{"x":"v"}}"#, TYPE_MISMATCH, "column m (key \"x\")"),
        (r#"{"b":1}"#, TYPE_MISMATCH, "column b"),
    ];
    let mut w = RecordWriter::new(&spec(&columns, parquet()), Vec::new()).unwrap();
    w.push(good.as_bytes()).unwrap();
    for (record, code, text) in bad {
        let err = w.push(record.as_bytes()).unwrap_err();
        assert_eq!(err.code, *code, "{record}: {err:?}");
        assert!(err.message.contains(text), "{record}: {}", err.message);
    }
    w.push(good.as_bytes()).unwrap();
    assert_eq!(w.rows(), 2);
    let batch = one_batch(w.finish().unwrap());
    assert_eq!(batch.num_rows(), 2);
    assert_eq!(col(&batch, "i").as_primitive::<Int32Type>().values().to_vec(), vec![1, 1]);
    assert_eq!(col(&batch, "st").null_count(), 2);
}

#[test]
fn many_rows_make_several_batches_and_row_groups() {
    let options = ParquetOptions { block_size_bytes: Some(256 << 10), ..Default::default() };
    let s = spec(&[("n", "bigint"), ("name", "string")], OutputFormat::Parquet(options));
    let mut w = RecordWriter::new(&s, Vec::new()).unwrap();
    for n in 0..50_000 {
        w.push(format!(r#"{{"n":{n},"name":"row number {n} with some text"}}"#).as_bytes()).unwrap();
    }
    assert_eq!(w.rows(), 50_000);
    let file = w.finish().unwrap();
    let reader = SerializedFileReader::new(bytes::Bytes::from(file.clone())).unwrap();
    assert!(reader.metadata().num_row_groups() > 1, "{}", reader.metadata().num_row_groups());
    let mut expected = 0i64;
    for batch in read_parquet(file) {
        for &n in col(&batch, "n").as_primitive::<Int64Type>().values() {
            assert_eq!(n, expected);
            expected += 1;
        }
    }
    assert_eq!(expected, 50_000);
}

#[test]
fn parquet_options_are_applied() {
    for (compression, expected) in [
        (ParquetCompression::Gzip, "GZIP"),
        (ParquetCompression::Uncompressed, "UNCOMPRESSED"),
        (ParquetCompression::Snappy, "SNAPPY"),
    ] {
        let options = ParquetOptions {
            compression,
            page_size_bytes: Some(64 << 10),
            enable_dictionary: true,
            writer_v2: compression == ParquetCompression::Gzip,
            ..Default::default()
        };
        let s = spec(&[("a", "string")], OutputFormat::Parquet(options));
        let (file, _) = convert(&s, &[r#"{"a":"x"}"#, r#"{"a":"y"}"#]);
        let reader = SerializedFileReader::new(bytes::Bytes::from(file.clone())).unwrap();
        let codec = reader.metadata().row_group(0).column(0).compression();
        assert!(format!("{codec:?}").starts_with(expected), "{codec:?}");
        let batch = one_batch(file);
        assert_eq!(col(&batch, "a").as_string::<i32>().value(1), "y");
    }
}

#[test]
fn the_writer_is_send() {
    fn send<T: Send>() {}
    send::<RecordWriter<std::fs::File>>();
}

#[test]
fn an_empty_file_is_valid() {
    let (file, _) = convert(&spec(&[("a", "int")], parquet()), &[]);
    assert!(read_parquet(file).iter().all(|b| b.num_rows() == 0));
    let (file, _) = convert(&spec(&[("a", "int")], OutputFormat::Orc(OrcOptions::default())), &[]);
    let reader = orc_rust::ArrowReaderBuilder::try_new(bytes::Bytes::from(file)).unwrap().build();
    assert_eq!(reader.total_row_count(), 0);
    // a writer dropped unfinished does not hang
    let mut w =
        RecordWriter::new(&spec(&[("a", "int")], OutputFormat::Orc(OrcOptions::default())), Vec::new()).unwrap();
    w.push(br#"{"a":1}"#).unwrap();
    drop(w);
}

#[test]
fn nested_keys_follow_the_same_rules() {
    let mut s = spec(&[("st", "struct<a_b:int,m:map<string,int>>")], parquet());
    s.dots_to_underscores = true;
    let (file, results) = convert(&s, &[r#"{"ST":{"A.B":1,"m":{"K.x":2}}}"#]);
    assert!(results[0].is_ok());
    let batch = one_batch(file);
    let st = col(&batch, "st").as_struct();
    assert_eq!(st.column(0).as_primitive::<Int32Type>().value(0), 1);
    let m = st.column(1).as_map().value(0);
    assert_eq!(m.column(0).as_string::<i32>().value(0), "K.x");
}

#[test]
fn schema_errors() {
    let bad = spec(&[("a", "nonsense")], parquet());
    assert!(matches!(RecordWriter::new(&bad, Vec::new()), Err(ConvertError::Schema(_))));
    assert!(matches!(arrow_schema(&spec(&[], parquet())), Err(ConvertError::Schema(_))));
    assert!(matches!(arrow_schema(&spec(&[("m", "map<array<int>,int>")], parquet())), Err(ConvertError::Schema(_))));
    let orc = OutputFormat::Orc(OrcOptions::default());
    for t in ["decimal(10,2)", "array<int>", "struct<a:int>", "map<string,int>"] {
        match RecordWriter::new(&spec(&[("a", "int"), ("c", t)], orc.clone()), Vec::new()) {
            Err(ConvertError::Schema(m)) => assert!(m.contains("column c"), "{m}"),
            _ => panic!("{t} accepted for ORC"),
        }
    }
    let schema = arrow_schema(&spec(ALL, parquet())).unwrap();
    assert_eq!(schema.fields().len(), ALL.len());
    assert!(schema.fields().iter().all(|f| f.is_nullable()));
}

#[test]
fn orc_round_trip() {
    let columns: Vec<(&str, &str)> = ALL.iter().copied().filter(|(n, _)| *n != "dec").collect();
    for compression in [OrcCompression::Snappy, OrcCompression::Zlib, OrcCompression::None] {
        let s = spec(&columns, OutputFormat::Orc(OrcOptions { compression, stripe_size_bytes: None }));
        let mut w = RecordWriter::new(&s, Vec::new()).unwrap();
        w.push(
            br#"{"b":true,"t":1,"s":2,"i":3,"l":4,"f":1.5,"d":2.5,"str":"a","v":"b","dt":"1970-01-02",
                    "ts":"2024-01-01T00:00:00+01:00","bin":"z"}"#,
        )
        .unwrap();
        assert!(w.push(br#"{"i":"x"}"#).is_err());
        for n in 0..20_000 {
            w.push(format!(r#"{{"i":{n}}}"#).as_bytes()).unwrap();
        }
        let file = w.finish().unwrap();
        let reader = orc_rust::ArrowReaderBuilder::try_new(bytes::Bytes::from(file)).unwrap().build();
        let batches = reader.collect::<Result<Vec<_>, _>>().unwrap();
        assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 20_001);
        let batch = &batches[0];
        assert!(col(batch, "b").as_boolean().value(0));
        assert_eq!(col(batch, "t").as_primitive::<Int8Type>().value(0), 1);
        assert_eq!(col(batch, "s").as_primitive::<Int16Type>().value(0), 2);
        let i = col(batch, "i").as_primitive::<Int32Type>();
        assert_eq!((i.value(0), i.value(1), i.value(2)), (3, 0, 1));
        assert_eq!(col(batch, "l").as_primitive::<Int64Type>().value(0), 4);
        assert!(col(batch, "l").is_null(1));
        assert_eq!(col(batch, "f").as_primitive::<Float32Type>().value(0), 1.5);
        assert_eq!(col(batch, "d").as_primitive::<Float64Type>().value(0), 2.5);
        assert_eq!(col(batch, "str").as_string::<i32>().value(0), "a");
        assert_eq!(col(batch, "dt").as_primitive::<Date32Type>().value(0), 1);
        let ts = col(batch, "ts");
        let ts = match ts.data_type() {
            DataType::Timestamp(TimeUnit::Nanosecond, _) => {
                ts.as_primitive::<TimestampNanosecondType>().value(0) / 1000
            }
            _ => ts.as_primitive::<TimestampMicrosecondType>().value(0),
        };
        assert_eq!(ts, micros("2023-12-31T23:00:00Z"));
        assert_eq!(col(batch, "bin").as_binary::<i32>().value(0), b"z");
    }
}

#[test]
fn timestamps_parse_like_openx() {
    assert_eq!(micros("1970-01-01"), 0);
    assert_eq!(micros("1970-01-01T00:00:01Z"), 1_000_000);
    assert_eq!(micros("1970-01-01 00:00:01.5"), 1_500_000);
    assert_eq!(micros("1970-01-01T01:00:00+01:00"), 0);
    assert_eq!(micros("1970-01-01T01:00:00+0100"), 0);
    assert_eq!(micros("1969-12-31T23:00:00-01"), 0);
    assert_eq!(micros("1970-01-01 00:00:00.123456789 UTC"), 123_456);
    assert_eq!(micros("1970-1-2T00:00"), 86_400_000_000);
    for bad in ["1970-01-01T", "1970-13-01", "70-01-01", "1970-01-01T00:00:60", "1970-01-01 00:00 +25:00"] {
        assert!(parse_datetime(bad).is_none(), "{bad}");
    }
    let ts = |v: serde_json::Value| {
        let text = v.to_string();
        timestamp_of(&Value::parse(text.as_bytes()).unwrap())
    };
    assert_eq!(ts(serde_json::json!(1)), Some(1_000_000));
    assert_eq!(ts(serde_json::json!(99_999_999_999i64)), Some(99_999_999_999_000_000));
    assert_eq!(ts(serde_json::json!(100_000_000_000i64)), Some(100_000_000_000_000));
    assert_eq!(ts(serde_json::json!(-5)), Some(-5_000_000));
    assert_eq!(ts(serde_json::json!(1.25)), Some(1_250_000));
    assert_eq!(ts(serde_json::json!("1700000000")), Some(1_700_000_000_000_000));
    assert_eq!(ts(serde_json::json!("2024-01-01")), Some(1_704_067_200_000_000));
    assert_eq!(ts(serde_json::json!(u64::MAX)), None);
}

#[test]
fn decimals_round_half_up_and_check_precision() {
    let d = |s: &str| parse_decimal(s, 10, 2);
    assert_eq!(d("12.345"), Ok(1235));
    assert_eq!(d("-12.345"), Ok(-1235));
    assert_eq!(d("12.344"), Ok(1234));
    assert_eq!(d("0.005"), Ok(1));
    assert_eq!(d("0.004"), Ok(0));
    assert_eq!(d("1e3"), Ok(100_000));
    assert_eq!(d("1.5E-1"), Ok(15));
    assert_eq!(d("000.10"), Ok(10));
    assert_eq!(d(".5"), Ok(50));
    assert_eq!(d("0"), Ok(0));
    assert_eq!(d("1e-400"), Ok(0));
    assert_eq!(d("99999999.99"), Ok(9_999_999_999));
    assert_eq!(d("99999999.995"), Err(DecimalError::Overflow));
    assert_eq!(d("1e300"), Err(DecimalError::Overflow));
    for bad in ["", "-", ".", "1e", "1.2.3", "abc", "1 2", "NaN"] {
        assert_eq!(d(bad), Err(DecimalError::NotANumber), "{bad}");
    }
    assert_eq!(parse_decimal("12345678901234567890123456789012345678", 38, 0).map(|v| v > 0), Ok(true));
    assert_eq!(parse_decimal("5", 3, 3), Err(DecimalError::Overflow));
    assert_eq!(parse_decimal("0.5", 3, 3), Ok(500));
}
