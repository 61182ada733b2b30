//! Data Firehose end to end through the AWS SDK for Rust (`aws-sdk-firehose`) against a real
//! server: the control plane and its errors, DirectPut delivery with GZIP, the size and
//! interval hints, JSON -> Parquet with a catalog table's schema and schema-mismatched records
//! under the error prefix, dynamic partitioning by a jq key, a Kinesis source, a crash with
//! records buffered, and the stream -> files -> crawler -> Athena path with no hand steps.
//! Glue and Athena are driven by signed JSON requests (their SDK crates are very large).

use std::collections::{BTreeMap, HashMap};
use std::io::Read as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_firehose::error::ProvideErrorMetadata;
use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::{
    BufferingHints, CompressionFormat, DataFormatConversionConfiguration, DeliveryStreamStatus, DeliveryStreamType,
    Deserializer, DynamicPartitioningConfiguration, ExtendedS3DestinationConfiguration, ExtendedS3DestinationUpdate,
    InputFormatConfiguration, KinesisStreamSourceConfiguration, OpenXJsonSerDe, OutputFormatConfiguration,
    ParquetSerDe, ProcessingConfiguration, Processor, ProcessorParameter, ProcessorParameterName, ProcessorType,
    Record, S3BackupMode, S3DestinationConfiguration, SchemaConfiguration, Serializer, Tag,
};
use serde_json::{Value, json};
use tarn_testkit::{TestServer, raw_request};

const ROLE: &str = "arn:aws:iam::000000000000:role/firehose";

/// The tests that time flushes never overlap the crash test's load (8 producers flat out):
/// on 2 cores that load, not tarn, would decide their timing.
static TIMING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn server() -> TestServer {
    TestServer::start(env!("CARGO_BIN_EXE_tarn"))
}

fn code<T, E: ProvideErrorMetadata>(r: Result<T, E>) -> String {
    match r {
        Ok(_) => panic!("expected the call to fail"),
        Err(e) => e.code().unwrap_or("<none>").to_string(),
    }
}

/// A signed JSON 1.1 call (`X-Amz-Target: <target>`) to a service without an SDK crate here.
fn json_call(srv: &TestServer, service: &str, target: &str, body: &Value) -> (u16, Value) {
    let body = body.to_string();
    let date = tarn_testkit::sign::amz_date_now();
    let host = srv.addr.to_string();
    let auth = tarn_api::sigv4::sign_for_test(
        "POST",
        "/",
        &[
            ("host", &host),
            ("x-amz-date", &date),
            ("x-amz-target", target),
            ("content-type", "application/x-amz-json-1.1"),
        ],
        body.as_bytes(),
        tarn_testkit::ACCESS_KEY_ID,
        tarn_testkit::SECRET_ACCESS_KEY,
        "us-east-1",
        service,
        &date,
    );
    let req = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nx-amz-date: {date}\r\nx-amz-target: {target}\r\ncontent-type: application/x-amz-json-1.1\r\nAuthorization: {auth}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let resp = raw_request(srv.addr, req.as_bytes()).unwrap();
    let v = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    (resp.status, v)
}

fn glue(srv: &TestServer, op: &str, body: Value) -> Value {
    let (status, v) = json_call(srv, "glue", &format!("AWSGlue.{op}"), &body);
    assert_eq!(status, 200, "Glue {op} failed: {v}");
    v
}

fn athena(srv: &TestServer, op: &str, body: Value) -> Value {
    let (status, v) = json_call(srv, "athena", &format!("AmazonAthena.{op}"), &body);
    assert_eq!(status, 200, "Athena {op} failed: {v}");
    v
}

async fn wait_active(f: &aws_sdk_firehose::Client, name: &str) {
    for _ in 0..200 {
        let d = f.describe_delivery_stream().delivery_stream_name(name).send().await.unwrap();
        if d.delivery_stream_description().unwrap().delivery_stream_status() == &DeliveryStreamStatus::Active {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{name} never became ACTIVE");
}

fn hints(size_mb: i32, interval_s: i32) -> BufferingHints {
    BufferingHints::builder().size_in_mbs(size_mb).interval_in_seconds(interval_s).build()
}

fn s3_dest(bucket: &str) -> aws_sdk_firehose::types::builders::ExtendedS3DestinationConfigurationBuilder {
    ExtendedS3DestinationConfiguration::builder().role_arn(ROLE).bucket_arn(format!("arn:aws:s3:::{bucket}"))
}

/// Keys under `prefix`, polling until at least `min` exist or `timeout` passes.
async fn wait_keys(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str, min: usize, timeout: Duration) -> Vec<String> {
    let start = Instant::now();
    loop {
        let keys = list_keys(s3, bucket, prefix).await;
        if keys.len() >= min || start.elapsed() > timeout {
            return keys;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn list_keys(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut token = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_string)));
        token = page.next_continuation_token().map(str::to_string);
        if token.is_none() {
            return keys;
        }
    }
}

async fn get(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<u8> {
    s3.get_object().bucket(bucket).key(key).send().await.unwrap().body.collect().await.unwrap().into_bytes().to_vec()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn control_plane_and_errors() {
    let srv = server();
    let f = srv.firehose();
    let created = f
        .create_delivery_stream()
        .delivery_stream_name("clicks")
        .extended_s3_destination_configuration(s3_dest("lake").prefix("clicks/").build().unwrap())
        .tags(Tag::builder().key("team").value("ml").build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(created.delivery_stream_arn(), Some("arn:aws:firehose:us-east-1:000000000000:deliverystream/clicks"));
    let d = f.describe_delivery_stream().delivery_stream_name("clicks").send().await.unwrap();
    let desc = d.delivery_stream_description().unwrap();
    assert_eq!(desc.delivery_stream_status(), &DeliveryStreamStatus::Creating);
    assert_eq!(desc.delivery_stream_type(), &DeliveryStreamType::DirectPut);
    assert_eq!(desc.version_id(), "1");
    let dest = &desc.destinations()[0];
    assert_eq!(dest.destination_id(), "destinationId-000000000001");
    let ext = dest.extended_s3_destination_description().unwrap();
    assert_eq!(ext.bucket_arn(), "arn:aws:s3:::lake");
    assert_eq!(ext.buffering_hints().unwrap().size_in_mbs(), Some(5), "AWS's default hints");
    assert_eq!(ext.buffering_hints().unwrap().interval_in_seconds(), Some(300));
    assert_eq!(ext.compression_format(), &CompressionFormat::Uncompressed);
    // puts wait for ACTIVE
    let early = f
        .put_record()
        .delivery_stream_name("clicks")
        .record(Record::builder().data(Blob::new("x")).build().unwrap())
        .send()
        .await;
    assert_eq!(code(early), "ResourceNotFoundException");
    wait_active(&f, "clicks").await;

    // record data must be base64: a batch with one bad record is refused whole, as AWS does
    let (status, v) = json_call(
        &srv,
        "firehose",
        "Firehose_20150804.PutRecordBatch",
        &json!({ "DeliveryStreamName": "clicks", "Records": [{ "Data": "aGk=" }, { "Data": "not base64!" }] }),
    );
    assert_eq!((status, v["__type"].as_str()), (400, Some("SerializationException")), "{v}");
    let (status, v) = json_call(
        &srv,
        "firehose",
        "Firehose_20150804.PutRecord",
        &json!({ "DeliveryStreamName": "clicks", "Record": { "Data": "aGk" } }),
    );
    assert_eq!((status, v["__type"].as_str()), (400, Some("SerializationException")), "unpadded: {v}");

    // creation errors
    let dup = f
        .create_delivery_stream()
        .delivery_stream_name("clicks")
        .extended_s3_destination_configuration(s3_dest("lake").build().unwrap())
        .send()
        .await;
    assert_eq!(code(dup), "ResourceInUseException");
    let no_dest = f.create_delivery_stream().delivery_stream_name("nodest").send().await;
    assert_eq!(code(no_dest), "InvalidArgumentException");
    let bad_name = f
        .create_delivery_stream()
        .delivery_stream_name("bad name!")
        .extended_s3_destination_configuration(s3_dest("lake").build().unwrap())
        .send()
        .await;
    assert_eq!(code(bad_name), "ValidationException");
    let big_buffer = f
        .create_delivery_stream()
        .delivery_stream_name("big")
        .extended_s3_destination_configuration(s3_dest("lake").buffering_hints(hints(129, 60)).build().unwrap())
        .send()
        .await;
    assert_eq!(code(big_buffer), "ValidationException");
    let expressions_without_error_prefix = f
        .create_delivery_stream()
        .delivery_stream_name("noerr")
        .extended_s3_destination_configuration(s3_dest("lake").prefix("year=!{timestamp:yyyy}/").build().unwrap())
        .send()
        .await;
    assert_eq!(code(expressions_without_error_prefix), "InvalidArgumentException");
    let bad_jq = f
        .create_delivery_stream()
        .delivery_stream_name("badjq")
        .extended_s3_destination_configuration(
            s3_dest("lake")
                .buffering_hints(hints(64, 60))
                .prefix("k=!{partitionKeyFromQuery:k}/")
                .error_output_prefix("err/!{firehose:error-output-type}/")
                .dynamic_partitioning_configuration(DynamicPartitioningConfiguration::builder().enabled(true).build())
                .processing_configuration(jq_processing("{k: .k", false))
                .build()
                .unwrap(),
        )
        .send()
        .await;
    assert_eq!(code(bad_jq), "InvalidArgumentException");
    let missing = f.describe_delivery_stream().delivery_stream_name("nope").send().await;
    assert_eq!(code(missing), "ResourceNotFoundException");

    // list with pagination
    for name in ["a-stream", "b-stream"] {
        f.create_delivery_stream()
            .delivery_stream_name(name)
            .extended_s3_destination_configuration(s3_dest("lake").build().unwrap())
            .send()
            .await
            .unwrap();
    }
    let page = f.list_delivery_streams().limit(2).send().await.unwrap();
    assert_eq!(page.delivery_stream_names(), ["a-stream", "b-stream"]);
    assert!(page.has_more_delivery_streams());
    let rest = f.list_delivery_streams().exclusive_start_delivery_stream_name("b-stream").send().await.unwrap();
    assert_eq!(rest.delivery_stream_names(), ["clicks"]);
    assert!(!rest.has_more_delivery_streams());

    // tags
    f.tag_delivery_stream()
        .delivery_stream_name("clicks")
        .tags(Tag::builder().key("env").value("dev").build().unwrap())
        .send()
        .await
        .unwrap();
    let tags = f.list_tags_for_delivery_stream().delivery_stream_name("clicks").send().await.unwrap();
    let pairs: Vec<(&str, Option<&str>)> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(pairs, [("env", Some("dev")), ("team", Some("ml"))]);
    f.untag_delivery_stream().delivery_stream_name("clicks").tag_keys("env").send().await.unwrap();
    let too_many: Vec<Tag> = (0..50).map(|i| Tag::builder().key(format!("k{i}")).value("v").build().unwrap()).collect();
    let over = f.tag_delivery_stream().delivery_stream_name("clicks").set_tags(Some(too_many)).send().await;
    assert_eq!(code(over), "LimitExceededException");

    // update destination: optimistic concurrency on the version id
    let update = ExtendedS3DestinationUpdate::builder().prefix("clicks-v2/").build();
    let stale = f
        .update_destination()
        .delivery_stream_name("clicks")
        .current_delivery_stream_version_id("7")
        .destination_id("destinationId-000000000001")
        .extended_s3_destination_update(update.clone())
        .send()
        .await;
    assert_eq!(code(stale), "ConcurrentModificationException");
    f.update_destination()
        .delivery_stream_name("clicks")
        .current_delivery_stream_version_id("1")
        .destination_id("destinationId-000000000001")
        .extended_s3_destination_update(update)
        .send()
        .await
        .unwrap();
    let d = f.describe_delivery_stream().delivery_stream_name("clicks").send().await.unwrap();
    let desc = d.delivery_stream_description().unwrap();
    assert_eq!(desc.version_id(), "2");
    let ext = desc.destinations()[0].extended_s3_destination_description().unwrap();
    assert_eq!(ext.prefix(), Some("clicks-v2/"));
    assert_eq!(ext.buffering_hints().unwrap().size_in_mbs(), Some(5), "members not updated stay");

    // put limits
    let records: Vec<Record> = (0..501).map(|_| Record::builder().data(Blob::new("r")).build().unwrap()).collect();
    let over = f.put_record_batch().delivery_stream_name("clicks").set_records(Some(records)).send().await;
    assert_eq!(code(over), "ValidationException");
    let big: Vec<Record> =
        (0..5).map(|_| Record::builder().data(Blob::new(vec![b'x'; 900_000])).build().unwrap()).collect();
    let over = f.put_record_batch().delivery_stream_name("clicks").set_records(Some(big)).send().await;
    assert_eq!(code(over), "InvalidArgumentException");
    let unknown = f
        .put_record()
        .delivery_stream_name("nope")
        .record(Record::builder().data(Blob::new("x")).build().unwrap())
        .send()
        .await;
    assert_eq!(code(unknown), "ResourceNotFoundException");

    // encryption of the buffer
    f.start_delivery_stream_encryption().delivery_stream_name("clicks").send().await.unwrap();
    let d = f.describe_delivery_stream().delivery_stream_name("clicks").send().await.unwrap();
    let enc = d.delivery_stream_description().unwrap().delivery_stream_encryption_configuration().unwrap();
    assert_eq!(enc.status().map(|s| s.as_str()), Some("ENABLED"));
    assert_eq!(enc.key_type().map(|k| k.as_str()), Some("AWS_OWNED_CMK"));
    let put = f
        .put_record_batch()
        .delivery_stream_name("clicks")
        .records(Record::builder().data(Blob::new("sealed")).build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(put.encrypted(), Some(true));
    assert_eq!(put.failed_put_count(), 0);
    f.stop_delivery_stream_encryption().delivery_stream_name("clicks").send().await.unwrap();
    let d = f.describe_delivery_stream().delivery_stream_name("clicks").send().await.unwrap();
    let enc = d.delivery_stream_description().unwrap().delivery_stream_encryption_configuration().unwrap();
    assert_eq!(enc.status().map(|s| s.as_str()), Some("DISABLED"));

    f.delete_delivery_stream().delivery_stream_name("clicks").send().await.unwrap();
    let gone = f.describe_delivery_stream().delivery_stream_name("clicks").send().await;
    assert_eq!(code(gone), "ResourceNotFoundException");
}

fn jq_processing(query: &str, append_newline: bool) -> ProcessingConfiguration {
    let mut b = ProcessingConfiguration::builder().enabled(true).processors(
        Processor::builder()
            .r#type(ProcessorType::MetadataExtraction)
            .parameters(
                ProcessorParameter::builder()
                    .parameter_name(ProcessorParameterName::MetadataExtractionQuery)
                    .parameter_value(query)
                    .build()
                    .unwrap(),
            )
            .parameters(
                ProcessorParameter::builder()
                    .parameter_name(ProcessorParameterName::JsonParsingEngine)
                    .parameter_value("JQ-1.6")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap(),
    );
    if append_newline {
        b = b.processors(Processor::builder().r#type(ProcessorType::AppendDelimiterToRecord).build().unwrap());
    }
    b.build()
}

#[tokio::test(flavor = "multi_thread")]
async fn gzip_delivery_and_the_interval_hint() {
    let _timing = TIMING.lock().await;
    let srv = server();
    let (f, s3) = (srv.firehose(), srv.s3());
    s3.create_bucket().bucket("lake").send().await.unwrap();
    f.create_delivery_stream()
        .delivery_stream_name("logs")
        .extended_s3_destination_configuration(
            s3_dest("lake")
                .prefix("logs/")
                .compression_format(CompressionFormat::Gzip)
                .buffering_hints(hints(5, 2))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    wait_active(&f, "logs").await;
    let mut expected = Vec::new();
    let mut ids = Vec::new();
    let first_put = Instant::now();
    for batch in 0..4 {
        let records: Vec<Record> = (0..100)
            .map(|i| {
                let line = format!("{{\"batch\":{batch},\"i\":{i}}}\n");
                expected.extend_from_slice(line.as_bytes());
                Record::builder().data(Blob::new(line)).build().unwrap()
            })
            .collect();
        let out = f.put_record_batch().delivery_stream_name("logs").set_records(Some(records)).send().await.unwrap();
        assert_eq!(out.failed_put_count(), 0);
        assert_eq!(out.request_responses().len(), 100);
        ids.extend(out.request_responses().iter().map(|r| r.record_id().unwrap().to_string()));
    }
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), 400, "record ids are unique");
    let keys = wait_keys(&s3, "lake", "logs/", 1, Duration::from_secs(10)).await;
    let waited = first_put.elapsed();
    assert_eq!(keys.len(), 1, "one object for one buffer: {keys:?}");
    // the interval hint (2 s) flushed it, not the size hint (5 MiB): not before the interval,
    // and within 1 s of it
    assert!(waited >= Duration::from_millis(1900), "delivered after {waited:?}, before the 2 s interval");
    assert!(waited < Duration::from_secs(3), "delivered {waited:?} after the first put");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(list_keys(&s3, "lake", "logs/").await.len(), 1, "one flush for one buffer");
    let key = &keys[0];
    let now = time::OffsetDateTime::now_utc();
    let hour_dir = format!("logs/{:04}/{:02}/{:02}/", now.year(), u8::from(now.month()), now.day());
    assert!(key.starts_with(&hour_dir), "AWS's default YYYY/MM/DD/HH layout: {key}");
    assert!(key.contains("/logs-1-"), "object name <stream>-<version>-...: {key}");
    assert!(key.ends_with(".gz"), "{key}");
    let body = get(&s3, "lake", key).await;
    assert_eq!(&body[..2], &[0x1f, 0x8b], "gzip magic");
    assert_eq!(gunzip(&body), expected, "records concatenated in order, byte for byte");

    // metrics count what was delivered
    let metrics = reqwest_metrics(&srv);
    assert!(metrics.contains("tarn_firehose_delivery_to_s3_records_total{delivery_stream=\"logs\"} 400"), "{metrics}");
    assert!(metrics.contains("tarn_firehose_incoming_records_total{delivery_stream=\"logs\"} 400"));

    // UpdateDestination changes live delivery: the next objects use the new prefix, format
    // and stream version
    f.update_destination()
        .delivery_stream_name("logs")
        .current_delivery_stream_version_id("1")
        .destination_id("destinationId-000000000001")
        .extended_s3_destination_update(
            ExtendedS3DestinationUpdate::builder()
                .prefix("logs-v2/")
                .compression_format(CompressionFormat::Uncompressed)
                .buffering_hints(hints(5, 1))
                .build(),
        )
        .send()
        .await
        .unwrap();
    f.put_record()
        .delivery_stream_name("logs")
        .record(Record::builder().data(Blob::new("after the update\n")).build().unwrap())
        .send()
        .await
        .unwrap();
    let keys = wait_keys(&s3, "lake", "logs-v2/", 1, Duration::from_secs(10)).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].contains("/logs-2-") && !keys[0].ends_with(".gz"), "{}", keys[0]);
    assert_eq!(get(&s3, "lake", &keys[0]).await, b"after the update\n");
}

fn reqwest_metrics(srv: &TestServer) -> String {
    let req = format!("GET /_tarn/metrics HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", srv.addr);
    raw_request(srv.addr, req.as_bytes()).unwrap().body_text()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_size_hint_flushes_before_the_interval() {
    let _timing = TIMING.lock().await;
    let srv = server();
    let (f, s3) = (srv.firehose(), srv.s3());
    s3.create_bucket().bucket("lake").send().await.unwrap();
    f.create_delivery_stream()
        .delivery_stream_name("sized")
        .extended_s3_destination_configuration(s3_dest("lake").buffering_hints(hints(1, 900)).build().unwrap())
        .send()
        .await
        .unwrap();
    wait_active(&f, "sized").await;
    // 3 batches of 100 numbered 4 KiB records: 1.2 MiB, over the 1 MiB hint; the interval is
    // 15 minutes
    let record = |i: usize| {
        let mut r = format!("{i:06}").into_bytes();
        r.resize(4096, b'a' + u8::try_from(i % 26).unwrap());
        r
    };
    let all: Vec<u8> = (0..300).flat_map(record).collect();
    for b in 0..3 {
        let records: Vec<Record> =
            (b * 100..b * 100 + 100).map(|i| Record::builder().data(Blob::new(record(i))).build().unwrap()).collect();
        f.put_record_batch().delivery_stream_name("sized").set_records(Some(records)).send().await.unwrap();
    }
    let keys = wait_keys(&s3, "lake", "", 1, Duration::from_secs(10)).await;
    assert!(!keys.is_empty(), "the size hint flushed a buffer without waiting for the interval");
    let first = get(&s3, "lake", &keys[0]).await;
    assert!(first.len() >= 1024 * 1024, "a full buffer of about SizeInMBs: {} bytes", first.len());
    assert!(first.len() < all.len(), "the records past the hint wait: {} bytes", first.len());
    assert!(first == all[..first.len()], "the first object holds the oldest records, in order");
    // the rest (under the size hint) waits for the 15-minute interval
    tokio::time::sleep(Duration::from_millis(700)).await;
    let keys = list_keys(&s3, "lake", "").await;
    assert_eq!(keys.len(), 1, "only the full buffer is delivered before the interval: {keys:?}");
    // a shorter interval lets the rest out: every record once, in order, across the two objects
    f.update_destination()
        .delivery_stream_name("sized")
        .current_delivery_stream_version_id("1")
        .destination_id("destinationId-000000000001")
        .extended_s3_destination_update(ExtendedS3DestinationUpdate::builder().buffering_hints(hints(1, 1)).build())
        .send()
        .await
        .unwrap();
    let mut keys = wait_keys(&s3, "lake", "", 2, Duration::from_secs(10)).await;
    keys.sort();
    let mut delivered = Vec::new();
    for k in &keys {
        delivered.extend(get(&s3, "lake", k).await);
    }
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(delivered == all, "{} of {} bytes delivered, in order and once", delivered.len(), all.len());
}

/// Runs `sql` through Athena (results under s3://results/q/) and returns GetQueryResults.
async fn athena_query(srv: &TestServer, sql: &str) -> Value {
    let q = athena(
        srv,
        "StartQueryExecution",
        json!({ "QueryString": sql, "ResultConfiguration": { "OutputLocation": "s3://results/q/" } }),
    );
    let id = q["QueryExecutionId"].as_str().unwrap().to_string();
    let start = Instant::now();
    loop {
        let e = athena(srv, "GetQueryExecution", json!({ "QueryExecutionId": id }));
        match e["QueryExecution"]["Status"]["State"].as_str().unwrap() {
            "SUCCEEDED" => break,
            "FAILED" | "CANCELLED" => panic!("query failed: {e}"),
            _ => {}
        }
        assert!(start.elapsed() < Duration::from_secs(30));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    athena(srv, "GetQueryResults", json!({ "QueryExecutionId": id }))
}

/// Registers `db.table` in the catalog with `columns` ((name, type)).
fn catalog_table(srv: &TestServer, db: &str, table: &str, columns: &[(&str, &str)], location: &str) {
    let (status, _) = json_call(srv, "glue", "AWSGlue.CreateDatabase", &json!({ "DatabaseInput": { "Name": db } }));
    assert!(status == 200 || status == 400);
    let cols: Vec<Value> = columns.iter().map(|(n, t)| json!({ "Name": n, "Type": t })).collect();
    glue(
        srv,
        "CreateTable",
        json!({
            "DatabaseName": db,
            "TableInput": {
                "Name": table,
                "StorageDescriptor": {
                    "Columns": cols,
                    "Location": location,
                    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                    "SerdeInfo": { "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe" }
                },
                "Parameters": { "classification": "parquet" }
            }
        }),
    );
}

fn parquet_conversion(db: &str, table: &str) -> DataFormatConversionConfiguration {
    DataFormatConversionConfiguration::builder()
        .enabled(true)
        .schema_configuration(SchemaConfiguration::builder().role_arn(ROLE).database_name(db).table_name(table).build())
        .input_format_configuration(
            InputFormatConfiguration::builder()
                .deserializer(Deserializer::builder().open_x_json_ser_de(OpenXJsonSerDe::builder().build()).build())
                .build(),
        )
        .output_format_configuration(
            OutputFormatConfiguration::builder()
                .serializer(Serializer::builder().parquet_ser_de(ParquetSerDe::builder().build()).build())
                .build(),
        )
        .build()
}

#[tokio::test(flavor = "multi_thread")]
async fn json_to_parquet_with_the_catalog_schema_and_errors_under_the_error_prefix() {
    let srv = server();
    let (f, s3) = (srv.firehose(), srv.s3());
    s3.create_bucket().bucket("lake").send().await.unwrap();
    catalog_table(
        &srv,
        "web",
        "events",
        &[("user_id", "bigint"), ("page", "string"), ("score", "double"), ("ok", "boolean")],
        "s3://lake/events/",
    );
    f.create_delivery_stream()
        .delivery_stream_name("events")
        .extended_s3_destination_configuration(
            s3_dest("lake")
                .prefix("events/")
                .error_output_prefix("errors/!{firehose:error-output-type}/")
                .buffering_hints(hints(64, 1))
                .data_format_conversion_configuration(parquet_conversion("web", "events"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    wait_active(&f, "events").await;
    let mut records: Vec<Record> = (0..50)
        .map(|i| {
            // keys in other cases match the lower-case columns (OpenX: case-insensitive)
            let doc = json!({ "User_Id": i, "page": format!("/p/{i}"), "score": f64::from(i) / 2.0, "ok": i % 2 == 0, "extra": "ignored" });
            Record::builder().data(Blob::new(doc.to_string())).build().unwrap()
        })
        .collect();
    records.push(Record::builder().data(Blob::new(r#"{"user_id": "not a number", "page": "/bad"}"#)).build().unwrap());
    records.push(Record::builder().data(Blob::new("this is not json")).build().unwrap());
    let out = f.put_record_batch().delivery_stream_name("events").set_records(Some(records)).send().await.unwrap();
    assert_eq!(out.failed_put_count(), 0);
    let data = wait_keys(&s3, "lake", "events/", 1, Duration::from_secs(10)).await;
    let errors = wait_keys(&s3, "lake", "errors/", 1, Duration::from_secs(10)).await;
    assert_eq!(data.len(), 1, "{data:?}");
    assert!(data[0].ends_with(".parquet"), "{}", data[0]);

    // the Parquet file has the table's schema and the 50 good rows
    let body = bytes::Bytes::from(get(&s3, "lake", &data[0]).await);
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(body).unwrap();
    let schema = reader.schema().clone();
    // the file's columns are the catalog table's, in order, with the matching types
    let table = glue(&srv, "GetTable", json!({ "DatabaseName": "web", "Name": "events" }));
    let catalog_cols: Vec<(String, String)> = table["Table"]["StorageDescriptor"]["Columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["Name"].as_str().unwrap().to_string(), c["Type"].as_str().unwrap().to_string()))
        .collect();
    let file_cols: Vec<(String, String)> = schema
        .fields()
        .iter()
        .map(|f| {
            let glue_type = match f.data_type() {
                arrow_schema::DataType::Int64 => "bigint",
                arrow_schema::DataType::Utf8 => "string",
                arrow_schema::DataType::Float64 => "double",
                arrow_schema::DataType::Boolean => "boolean",
                other => panic!("unexpected column type {other}"),
            };
            (f.name().clone(), glue_type.to_string())
        })
        .collect();
    assert_eq!(file_cols, catalog_cols);
    let mut rows = Vec::new();
    for batch in reader.build().unwrap() {
        let batch = batch.unwrap();
        let ids = batch.column(0).as_any().downcast_ref::<arrow_array::Int64Array>().unwrap();
        let pages = batch.column(1).as_any().downcast_ref::<arrow_array::StringArray>().unwrap();
        let scores = batch.column(2).as_any().downcast_ref::<arrow_array::Float64Array>().unwrap();
        let oks = batch.column(3).as_any().downcast_ref::<arrow_array::BooleanArray>().unwrap();
        for r in 0..batch.num_rows() {
            rows.push((ids.value(r), pages.value(r).to_string(), scores.value(r), oks.value(r)));
        }
    }
    assert_eq!(rows.len(), 50);
    for (i, row) in rows.iter().enumerate() {
        let i = i as i64;
        assert_eq!(row, &(i, format!("/p/{i}"), i as f64 / 2.0, i % 2 == 0));
    }

    // the two bad records are under the error prefix, with the error type in the path
    assert!(errors.iter().all(|k| k.starts_with("errors/format-conversion-failed/")), "{errors:?}");
    let mut docs = Vec::new();
    for key in &errors {
        let text = String::from_utf8(get(&s3, "lake", key).await).unwrap();
        docs.extend(text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()));
    }
    assert_eq!(docs.len(), 2, "{docs:?}");
    use base64::Engine as _;
    let raws: Vec<String> = docs
        .iter()
        .map(|d| {
            assert!(d["ErrorCode"].as_str().unwrap().starts_with("DataFormatConversion."), "{d}");
            assert!(d["arrivalTimestamp"].as_i64().unwrap() > 0);
            let raw = base64::engine::general_purpose::STANDARD.decode(d["rawData"].as_str().unwrap()).unwrap();
            String::from_utf8(raw).unwrap()
        })
        .collect();
    assert!(raws.contains(&"this is not json".to_string()));
    assert!(raws.iter().any(|r| r.contains("not a number")));
    let metrics = reqwest_metrics(&srv);
    assert!(metrics.contains("tarn_firehose_failed_conversion_records_total{delivery_stream=\"events\"} 2"));
    assert!(metrics.contains("tarn_firehose_succeed_conversion_records_total{delivery_stream=\"events\"} 50"));
}

#[tokio::test(flavor = "multi_thread")]
async fn json_to_orc() {
    let srv = server();
    let (f, s3) = (srv.firehose(), srv.s3());
    s3.create_bucket().bucket("lake").send().await.unwrap();
    catalog_table(&srv, "web", "hits", &[("id", "bigint"), ("path", "string")], "s3://lake/hits/");
    let mut conversion = parquet_conversion("web", "hits");
    conversion.output_format_configuration = Some(
        OutputFormatConfiguration::builder()
            .serializer(Serializer::builder().orc_ser_de(aws_sdk_firehose::types::OrcSerDe::builder().build()).build())
            .build(),
    );
    f.create_delivery_stream()
        .delivery_stream_name("hits")
        .extended_s3_destination_configuration(
            s3_dest("lake")
                .prefix("hits/")
                .error_output_prefix("errors/!{firehose:error-output-type}/")
                .buffering_hints(hints(64, 1))
                .data_format_conversion_configuration(conversion)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    wait_active(&f, "hits").await;
    let records: Vec<Record> = (0..20)
        .map(|i| {
            Record::builder().data(Blob::new(json!({ "id": i, "path": format!("/{i}") }).to_string())).build().unwrap()
        })
        .collect();
    f.put_record_batch().delivery_stream_name("hits").set_records(Some(records)).send().await.unwrap();
    let keys = wait_keys(&s3, "lake", "hits/", 1, Duration::from_secs(10)).await;
    assert_eq!(keys.len(), 1);
    assert!(keys[0].ends_with(".orc"), "{}", keys[0]);
    let body = get(&s3, "lake", &keys[0]).await;
    assert_eq!(&body[..3], b"ORC", "ORC magic");
    assert!((*body.last().unwrap() as usize) + 1 < body.len(), "a postscript length that fits");
    let metrics = reqwest_metrics(&srv);
    assert!(metrics.contains("tarn_firehose_succeed_conversion_records_total{delivery_stream=\"hits\"} 20"));

    // the delivered ORC (under the default time layout) is queryable through Athena
    s3.create_bucket().bucket("results").send().await.unwrap();
    athena_query(
        &srv,
        "CREATE EXTERNAL TABLE web.hits_orc (id bigint, path string) STORED AS ORC LOCATION 's3://lake/hits/'",
    )
    .await;
    let r = athena_query(&srv, "SELECT count(*), sum(id), min(path) FROM web.hits_orc WHERE id >= 10").await;
    let row = &r["ResultSet"]["Rows"][1]["Data"];
    assert_eq!((&row[0]["VarCharValue"], &row[1]["VarCharValue"]), (&json!("10"), &json!("145")), "{r}");
    assert_eq!(row[2]["VarCharValue"], "/10", "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn dynamic_partitioning_by_a_jq_key() {
    let srv = server();
    let (f, s3) = (srv.firehose(), srv.s3());
    s3.create_bucket().bucket("lake").send().await.unwrap();
    f.create_delivery_stream()
        .delivery_stream_name("orders")
        .extended_s3_destination_configuration(
            s3_dest("lake")
                .prefix("orders/customer=!{partitionKeyFromQuery:customer}/")
                .error_output_prefix("errors/!{firehose:error-output-type}/")
                .buffering_hints(hints(64, 1))
                .dynamic_partitioning_configuration(DynamicPartitioningConfiguration::builder().enabled(true).build())
                .processing_configuration(jq_processing("{customer: .customer.id}", true))
                .s3_backup_mode(S3BackupMode::Enabled)
                .s3_backup_configuration(
                    S3DestinationConfiguration::builder()
                        .role_arn(ROLE)
                        .bucket_arn("arn:aws:s3:::lake")
                        .prefix("backup/")
                        .compression_format(CompressionFormat::Gzip)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    wait_active(&f, "orders").await;
    let mut expected: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut raw = Vec::new();
    let mut records = Vec::new();
    for i in 0..30 {
        let customer = ["acme", "globex", "initech"][i % 3];
        let doc = json!({ "order": i, "customer": { "id": customer } }).to_string();
        expected.entry(customer.to_string()).or_default().push(doc.clone());
        raw.extend_from_slice(doc.as_bytes());
        records.push(Record::builder().data(Blob::new(doc)).build().unwrap());
    }
    records.push(Record::builder().data(Blob::new("{broken")).build().unwrap());
    raw.extend_from_slice(b"{broken");
    // a key value too long for an object key is the record's fault: error prefix, not a stall
    let long = json!({ "order": 99, "customer": { "id": "x".repeat(600) } }).to_string();
    records.push(Record::builder().data(Blob::new(long.clone())).build().unwrap());
    raw.extend_from_slice(long.as_bytes());
    f.put_record_batch().delivery_stream_name("orders").set_records(Some(records)).send().await.unwrap();
    let keys = wait_keys(&s3, "lake", "orders/", 3, Duration::from_secs(10)).await;
    assert_eq!(keys.len(), 3, "one object per partition: {keys:?}");
    for (customer, docs) in &expected {
        let key = keys.iter().find(|k| k.starts_with(&format!("orders/customer={customer}/"))).unwrap();
        assert!(!key.contains("/20"), "no default time layout under a partitioned prefix: {key}");
        let body = String::from_utf8(get(&s3, "lake", key).await).unwrap();
        let want: String = docs.iter().map(|d| format!("{d}\n")).collect();
        assert_eq!(body, want, "the partition's records in order, newline-delimited");
    }
    let errors = wait_keys(&s3, "lake", "errors/", 1, Duration::from_secs(10)).await;
    assert_eq!(errors.len(), 1);
    assert!(errors[0].starts_with("errors/metadata-extraction-failed/"), "{}", errors[0]);
    let text = String::from_utf8(get(&s3, "lake", &errors[0]).await).unwrap();
    let docs: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(docs.len(), 2, "{text}");
    assert_eq!(docs[0]["rawData"], json!("e2Jyb2tlbg=="), "{text}");
    assert_eq!(docs[0]["errorCode"], json!("DynamicPartitioning.MetadataExtractionFailed"));
    use base64::Engine as _;
    let long_back = base64::engine::general_purpose::STANDARD.decode(docs[1]["rawData"].as_str().unwrap()).unwrap();
    assert_eq!(long_back, long.as_bytes());
    // S3BackupMode Enabled: every source record, before processing, in the backup prefix
    let backup = wait_keys(&s3, "lake", "backup/", 1, Duration::from_secs(10)).await;
    assert_eq!(backup.len(), 1, "{backup:?}");
    assert!(backup[0].ends_with(".gz"), "{}", backup[0]);
    assert_eq!(gunzip(&get(&s3, "lake", &backup[0]).await), raw);
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_deliveries_retry_then_go_to_the_error_prefix() {
    let srv = server();
    let (f, s3) = (srv.firehose(), srv.s3());
    // the bucket does not exist yet: deliveries fail and are retried
    f.create_delivery_stream()
        .delivery_stream_name("late")
        .extended_s3_destination_configuration(
            s3_dest("late-bucket")
                .prefix("data/k=!{partitionKeyFromQuery:k}/")
                .error_output_prefix("errors/!{firehose:error-output-type}/")
                .buffering_hints(hints(64, 0))
                .dynamic_partitioning_configuration(
                    DynamicPartitioningConfiguration::builder()
                        .enabled(true)
                        .retry_options(aws_sdk_firehose::types::RetryOptions::builder().duration_in_seconds(2).build())
                        .build(),
                )
                .processing_configuration(jq_processing("{k: .k}", false))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    wait_active(&f, "late").await;
    let docs: Vec<String> = (0..5).map(|i| json!({ "k": "a", "i": i }).to_string()).collect();
    let records = docs.iter().map(|d| Record::builder().data(Blob::new(d.clone())).build().unwrap()).collect();
    f.put_record_batch().delivery_stream_name("late").set_records(Some(records)).send().await.unwrap();
    // the failure shows in DescribeDeliveryStream while it lasts
    let start = Instant::now();
    loop {
        let d = f.describe_delivery_stream().delivery_stream_name("late").send().await.unwrap();
        if let Some(fd) = d.delivery_stream_description().unwrap().failure_description() {
            assert!(fd.details().contains("late-bucket"), "{}", fd.details());
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no FailureDescription while delivery fails");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // past the 2 s retry window the records go to the error prefix, once the bucket takes writes
    tokio::time::sleep(Duration::from_secs(3)).await;
    s3.create_bucket().bucket("late-bucket").send().await.unwrap();
    let errors = wait_keys(&s3, "late-bucket", "errors/", 1, Duration::from_secs(15)).await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("errors/s3-delivery-failed/"), "{}", errors[0]);
    let text = String::from_utf8(get(&s3, "late-bucket", &errors[0]).await).unwrap();
    use base64::Engine as _;
    let raws: Vec<String> = text
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["errorCode"], "S3.DeliveryFailed", "{v}");
            String::from_utf8(base64::engine::general_purpose::STANDARD.decode(v["rawData"].as_str().unwrap()).unwrap())
                .unwrap()
        })
        .collect();
    assert_eq!(raws, docs, "no record lost");
    assert!(list_keys(&s3, "late-bucket", "data/").await.is_empty());
    let d = f.describe_delivery_stream().delivery_stream_name("late").send().await.unwrap();
    assert!(d.delivery_stream_description().unwrap().failure_description().is_none(), "cleared after success");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kinesis_stream_as_the_source() {
    let mut srv = server();
    let (f, s3, k) = (srv.firehose(), srv.s3(), srv.kinesis());
    s3.create_bucket().bucket("lake").send().await.unwrap();
    k.create_stream().stream_name("raw").shard_count(2).send().await.unwrap();
    for _ in 0..100 {
        let s = k.describe_stream_summary().stream_name("raw").send().await.unwrap();
        if s.stream_description_summary().unwrap().stream_status().as_str() == "ACTIVE" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let bad_source = f
        .create_delivery_stream()
        .delivery_stream_name("fromk")
        .delivery_stream_type(DeliveryStreamType::KinesisStreamAsSource)
        .kinesis_stream_source_configuration(
            KinesisStreamSourceConfiguration::builder()
                .kinesis_stream_arn("arn:aws:kinesis:us-east-1:000000000000:stream/missing")
                .role_arn(ROLE)
                .build()
                .unwrap(),
        )
        .extended_s3_destination_configuration(s3_dest("lake").build().unwrap())
        .send()
        .await;
    assert_eq!(code(bad_source), "InvalidArgumentException");
    f.create_delivery_stream()
        .delivery_stream_name("fromk")
        .delivery_stream_type(DeliveryStreamType::KinesisStreamAsSource)
        .kinesis_stream_source_configuration(
            KinesisStreamSourceConfiguration::builder()
                .kinesis_stream_arn("arn:aws:kinesis:us-east-1:000000000000:stream/raw")
                .role_arn(ROLE)
                .build()
                .unwrap(),
        )
        .extended_s3_destination_configuration(
            s3_dest("lake").prefix("fromk/").buffering_hints(hints(5, 1)).build().unwrap(),
        )
        .send()
        .await
        .unwrap();
    wait_active(&f, "fromk").await;
    let direct = f
        .put_record()
        .delivery_stream_name("fromk")
        .record(Record::builder().data(Blob::new("x")).build().unwrap())
        .send()
        .await;
    assert_eq!(code(direct), "InvalidArgumentException");
    let d = f.describe_delivery_stream().delivery_stream_name("fromk").send().await.unwrap();
    let src = d.delivery_stream_description().unwrap().source().unwrap().kinesis_stream_source_description().unwrap();
    assert_eq!(src.kinesis_stream_arn(), Some("arn:aws:kinesis:us-east-1:000000000000:stream/raw"));

    let mut sent = Vec::new();
    for i in 0..200 {
        let line = format!("event-{i}\n");
        k.put_record()
            .stream_name("raw")
            .partition_key(format!("user-{}", i % 7))
            .data(aws_sdk_kinesis::primitives::Blob::new(line.clone()))
            .send()
            .await
            .unwrap();
        sent.push(line);
    }
    let mut got: Vec<String> = Vec::new();
    let start = Instant::now();
    while got.len() < sent.len() && start.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        got.clear();
        for key in list_keys(&s3, "lake", "fromk/").await {
            let body = String::from_utf8(get(&s3, "lake", &key).await).unwrap();
            got.extend(body.split_inclusive('\n').map(str::to_string));
        }
    }
    let mut sorted_got = got.clone();
    sorted_got.sort();
    let mut sorted_sent = sent.clone();
    sorted_sent.sort();
    assert_eq!(sorted_got, sorted_sent, "every Kinesis record delivered exactly once");
    // per partition key, order holds
    for user in 0..7 {
        let seq: Vec<&String> = got
            .iter()
            .filter(|l| l.trim_start_matches("event-").trim().parse::<usize>().unwrap() % 7 == user)
            .collect();
        let nums: Vec<usize> = seq.iter().map(|l| l.trim_start_matches("event-").trim().parse().unwrap()).collect();
        let mut ordered = nums.clone();
        ordered.sort_unstable();
        assert_eq!(nums, ordered, "records of one partition key stay in order");
    }

    // after a restart the source resumes from its checkpoints: new records, no re-reads
    srv.restart();
    let (s3, k) = (srv.s3(), srv.kinesis());
    for i in 200..250 {
        let line = format!("event-{i}\n");
        k.put_record()
            .stream_name("raw")
            .partition_key(format!("user-{}", i % 7))
            .data(aws_sdk_kinesis::primitives::Blob::new(line.clone()))
            .send()
            .await
            .unwrap();
        sent.push(line);
    }
    let start = Instant::now();
    loop {
        got.clear();
        for key in list_keys(&s3, "lake", "fromk/").await {
            let body = String::from_utf8(get(&s3, "lake", &key).await).unwrap();
            got.extend(body.split_inclusive('\n').map(str::to_string));
        }
        if got.len() >= sent.len() || start.elapsed() > Duration::from_secs(15) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    got.sort();
    sent.sort();
    assert_eq!(got, sent, "after the restart: every record once");
}

#[test]
fn records_buffered_at_a_crash_are_delivered_after_restart() {
    let _timing = TIMING.blocking_lock();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let mut srv = server();
    let f = srv.firehose();
    let s3 = srv.s3();
    rt.block_on(async {
        s3.create_bucket().bucket("lake").send().await.unwrap();
        f.create_delivery_stream()
            .delivery_stream_name("crashy")
            .extended_s3_destination_configuration(
                s3_dest("lake").prefix("crashy/").buffering_hints(hints(128, 3)).build().unwrap(),
            )
            .send()
            .await
            .unwrap();
        wait_active(&f, "crashy").await;
    });
    // 8 producers put batches of uniquely numbered records until the server is killed
    let acked: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let sent: Arc<std::sync::Mutex<std::collections::HashSet<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let producers: Vec<_> = (0..8)
        .map(|p| {
            let (f, acked, sent, stop) = (f.clone(), acked.clone(), sent.clone(), stop.clone());
            rt.spawn(async move {
                let mut batch_no = 0;
                while !stop.load(Ordering::SeqCst) {
                    let lines: Vec<String> = (0..50).map(|i| format!("p{p}-b{batch_no}-r{i}\n")).collect();
                    sent.lock().unwrap().extend(lines.iter().cloned());
                    let records =
                        lines.iter().map(|l| Record::builder().data(Blob::new(l.clone())).build().unwrap()).collect();
                    match f.put_record_batch().delivery_stream_name("crashy").set_records(Some(records)).send().await {
                        Ok(out) if out.failed_put_count() == 0 => acked.lock().unwrap().extend(lines),
                        _ => {}
                    }
                    batch_no += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    let before = rt.block_on(list_keys(&s3, "lake", "crashy/"));
    assert!(before.is_empty(), "records must still be buffered at the kill: {before:?}");
    srv.kill();
    stop.store(true, Ordering::SeqCst);
    rt.block_on(async {
        for p in producers {
            let _ = p.await;
        }
    });
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 500, "the producers got records in before the kill: {}", acked.len());
    srv.start_again();
    let s3 = srv.s3();
    let got: HashMap<String, usize> = rt.block_on(async {
        let start = Instant::now();
        loop {
            let mut got: HashMap<String, usize> = HashMap::new();
            for key in list_keys(&s3, "lake", "crashy/").await {
                let body = String::from_utf8(get(&s3, "lake", &key).await).unwrap();
                for line in body.split_inclusive('\n') {
                    *got.entry(line.to_string()).or_default() += 1;
                }
            }
            if acked.iter().all(|l| got.contains_key(l)) || start.elapsed() > Duration::from_secs(20) {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    let sent = sent.lock().unwrap().clone();
    let foreign: Vec<&String> = got.keys().filter(|l| !sent.contains(*l)).collect();
    assert!(
        foreign.is_empty(),
        "only records the producers sent are delivered, whole: {:?}",
        &foreign[..foreign.len().min(3)]
    );
    let lost: Vec<&String> = acked.iter().filter(|l| !got.contains_key(*l)).collect();
    assert!(lost.is_empty(), "{} acknowledged records lost, e.g. {:?}", lost.len(), &lost[..lost.len().min(3)]);
    let duplicates: usize = got.values().map(|c| c - 1).sum();
    let acked_set: std::collections::HashSet<&String> = acked.iter().collect();
    let unacked_delivered = got.keys().filter(|l| !acked_set.contains(l)).count();
    let report = format!(
        "firehose crash test: {} records acknowledged, all delivered; {duplicates} duplicates; {unacked_delivered} delivered that were durable but not acknowledged before the kill",
        acked.len()
    );
    // straight to the process's stderr, past the test harness's capture, so CI logs show it
    let _ = std::io::Write::write_all(&mut std::io::stderr(), format!("{report}\n").as_bytes());
    // at least once allows a duplicate only for records whose object was stored before the
    // kill but not yet counted as delivered; no object existed at the kill (checked above, and
    // the 3 s interval had not passed), so none may be delivered twice
    assert_eq!(duplicates, 0, "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn delivered_parquet_is_crawled_and_queried_through_athena() {
    let srv = server();
    let (f, s3) = (srv.firehose(), srv.s3());
    s3.create_bucket().bucket("lake").send().await.unwrap();
    s3.create_bucket().bucket("results").send().await.unwrap();
    // the schema the stream converts with
    catalog_table(
        &srv,
        "schemas",
        "clicks",
        &[("user_id", "bigint"), ("url", "string"), ("ms", "bigint")],
        "s3://lake/none/",
    );
    f.create_delivery_stream()
        .delivery_stream_name("clicks")
        .extended_s3_destination_configuration(
            s3_dest("lake")
                .prefix("clicks/")
                .error_output_prefix("errors/!{firehose:error-output-type}/")
                .buffering_hints(hints(64, 1))
                .data_format_conversion_configuration(parquet_conversion("schemas", "clicks"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    wait_active(&f, "clicks").await;
    let mut total_ms = 0i64;
    for b in 0..4 {
        let records: Vec<Record> = (0..250)
            .map(|i| {
                let ms = b * 1000 + i;
                total_ms += ms;
                let doc = json!({ "user_id": i % 10, "url": format!("/u/{i}"), "ms": ms });
                Record::builder().data(Blob::new(doc.to_string())).build().unwrap()
            })
            .collect();
        f.put_record_batch().delivery_stream_name("clicks").set_records(Some(records)).send().await.unwrap();
    }
    // delivered files, then no hand steps: a crawler registers them, Athena reads them
    let start = Instant::now();
    loop {
        let keys = list_keys(&s3, "lake", "clicks/").await;
        let mut rows = 0;
        for key in &keys {
            let body = bytes::Bytes::from(get(&s3, "lake", key).await);
            let r = parquet::file::reader::SerializedFileReader::new(body).unwrap();
            rows += parquet::file::reader::FileReader::metadata(&r).file_metadata().num_rows();
        }
        if rows == 1000 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "only {rows} rows delivered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    glue(&srv, "CreateDatabase", json!({ "DatabaseInput": { "Name": "lake" } }));
    glue(
        &srv,
        "CreateCrawler",
        json!({
            "Name": "clicks-crawler",
            "Role": ROLE,
            "DatabaseName": "lake",
            "Targets": { "S3Targets": [{ "Path": "s3://lake/clicks/" }] }
        }),
    );
    glue(&srv, "StartCrawler", json!({ "Name": "clicks-crawler" }));
    let start = Instant::now();
    loop {
        let c = glue(&srv, "GetCrawler", json!({ "Name": "clicks-crawler" }));
        if c["Crawler"]["State"] == "READY" && c["Crawler"]["LastCrawl"]["Status"].is_string() {
            assert_eq!(c["Crawler"]["LastCrawl"]["Status"], "SUCCEEDED", "{c}");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "crawler did not finish: {c}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let tables = glue(&srv, "GetTables", json!({ "DatabaseName": "lake" }));
    let table = &tables["TableList"][0];
    assert_eq!(table["Name"], "clicks", "{tables}");
    let cols: Vec<(&str, &str)> = table["StorageDescriptor"]["Columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["Name"].as_str().unwrap(), c["Type"].as_str().unwrap()))
        .collect();
    assert_eq!(cols, [("user_id", "bigint"), ("url", "string"), ("ms", "bigint")]);
    let r =
        athena_query(&srv, "SELECT count(*) AS n, sum(ms) AS total, count(DISTINCT user_id) AS users FROM lake.clicks")
            .await;
    let row = &r["ResultSet"]["Rows"][1]["Data"];
    assert_eq!(row[0]["VarCharValue"], "1000", "{r}");
    assert_eq!(row[1]["VarCharValue"], total_ms.to_string());
    assert_eq!(row[2]["VarCharValue"], "10");
}

/// A destination's KMSEncryptionConfig is used: every delivered object is SSE-KMS under that key
/// (GET reports it and reads it back), and a disabled key stops delivery until it is enabled.
#[tokio::test]
async fn delivered_objects_are_sse_kms_under_the_destinations_key() {
    use aws_sdk_firehose::types::{EncryptionConfiguration, KmsEncryptionConfig};
    let _timing = TIMING.lock().await;
    let srv = server();
    let (f, s3) = (srv.firehose(), srv.s3());
    s3.create_bucket().bucket("sealed").send().await.unwrap();
    let (status, key) = json_call(&srv, "kms", "TrentService.CreateKey", &serde_json::json!({}));
    assert_eq!(status, 200, "{key}");
    let arn = key["KeyMetadata"]["Arn"].as_str().unwrap().to_string();
    let encryption = EncryptionConfiguration::builder()
        .kms_encryption_config(KmsEncryptionConfig::builder().awskms_key_arn(&arn).build().unwrap())
        .build();
    f.create_delivery_stream()
        .delivery_stream_name("sealed")
        .extended_s3_destination_configuration(
            s3_dest("sealed")
                .prefix("in/")
                .buffering_hints(hints(1, 1))
                .encryption_configuration(encryption)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    wait_active(&f, "sealed").await;
    let line = "{\"secret\": 1}\n";
    f.put_record()
        .delivery_stream_name("sealed")
        .record(Record::builder().data(Blob::new(line)).build().unwrap())
        .send()
        .await
        .unwrap();
    let keys = wait_keys(&s3, "sealed", "in/", 1, Duration::from_secs(10)).await;
    let got = s3.get_object().bucket("sealed").key(&keys[0]).send().await.unwrap();
    assert_eq!(got.server_side_encryption().map(|s| s.as_str()), Some("aws:kms"));
    assert_eq!(got.ssekms_key_id(), Some(arn.as_str()), "under the destination's key");
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), line.as_bytes());
    let (status, _) = json_call(&srv, "kms", "TrentService.DisableKey", &serde_json::json!({"KeyId": arn}));
    assert_eq!(status, 200);
    f.put_record()
        .delivery_stream_name("sealed")
        .record(Record::builder().data(Blob::new(line)).build().unwrap())
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(list_keys(&s3, "sealed", "in/").await.len(), 1, "nothing is delivered under a disabled key");
    let (status, _) = json_call(&srv, "kms", "TrentService.EnableKey", &serde_json::json!({"KeyId": arn}));
    assert_eq!(status, 200);
    let keys = wait_keys(&s3, "sealed", "in/", 2, Duration::from_secs(15)).await;
    assert_eq!(keys.len(), 2, "the held record is delivered once the key is enabled: {keys:?}");
}
