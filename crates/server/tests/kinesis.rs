//! Kinesis control plane end to end: streams and shards through the AWS SDK for Rust, and raw
//! JSON 1.1 requests for the shapes an SDK would refuse to send.

use std::time::Duration;

use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::types::{StreamMode, StreamModeDetails, StreamStatus};
use tarn_testkit::{TestServer, raw_request};

fn server() -> TestServer {
    TestServer::start(env!("CARGO_BIN_EXE_tarn"))
}

fn code<T, E: ProvideErrorMetadata>(r: Result<T, E>) -> String {
    match r {
        Ok(_) => panic!("expected the call to fail"),
        Err(e) => e.code().unwrap_or("<none>").to_string(),
    }
}

async fn wait_active(k: &aws_sdk_kinesis::Client, name: &str) {
    for _ in 0..100 {
        let s = k.describe_stream_summary().stream_name(name).send().await.unwrap();
        if s.stream_description_summary().unwrap().stream_status() == &StreamStatus::Active {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{name} never became ACTIVE");
}

/// A JSON 1.1 request signed with the test credentials.
fn kinesis_raw(srv: &TestServer, operation: &str, body: &str) -> tarn_testkit::RawResponse {
    let date = tarn_testkit::sign::amz_date_now();
    let host = srv.addr.to_string();
    let target = format!("Kinesis_20131202.{operation}");
    let auth = tarn_api::sigv4::sign_for_test(
        "POST",
        "/",
        &[
            ("host", &host),
            ("x-amz-date", &date),
            ("x-amz-target", &target),
            ("content-type", "application/x-amz-json-1.1"),
        ],
        body.as_bytes(),
        tarn_testkit::ACCESS_KEY_ID,
        tarn_testkit::SECRET_ACCESS_KEY,
        "us-east-1",
        "kinesis",
        &date,
    );
    let req = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nx-amz-date: {date}\r\nx-amz-target: {target}\r\ncontent-type: application/x-amz-json-1.1\r\nAuthorization: {auth}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    raw_request(srv.addr, req.as_bytes()).unwrap()
}

fn json_type(resp: &tarn_testkit::RawResponse) -> String {
    let v: serde_json::Value =
        serde_json::from_slice(&resp.body).unwrap_or_else(|_| panic!("not JSON: {}", resp.body_text()));
    v["__type"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn stream_lifecycle() {
    let mut srv = server();
    let k = srv.kinesis();
    k.create_stream().stream_name("clicks").shard_count(3).send().await.unwrap();
    let first = k.describe_stream_summary().stream_name("clicks").send().await.unwrap();
    let status = first.stream_description_summary().unwrap().stream_status().clone();
    assert!(status == StreamStatus::Creating || status == StreamStatus::Active, "{status:?}");
    wait_active(&k, "clicks").await;

    let d = k.describe_stream().stream_name("clicks").send().await.unwrap();
    let desc = d.stream_description().unwrap();
    assert_eq!(desc.stream_arn(), "arn:aws:kinesis:us-east-1:000000000000:stream/clicks");
    assert_eq!(desc.retention_period_hours(), 24);
    assert!(!desc.has_more_shards());
    let shards = desc.shards();
    assert_eq!(
        shards.iter().map(|s| s.shard_id()).collect::<Vec<_>>(),
        ["shardId-000000000000", "shardId-000000000001", "shardId-000000000002"]
    );
    // the hash key ranges tile 0 ..= 2^128 - 1
    let ranges: Vec<(u128, u128)> = shards
        .iter()
        .map(|s| {
            let r = s.hash_key_range().unwrap();
            (r.starting_hash_key().parse().unwrap(), r.ending_hash_key().parse().unwrap())
        })
        .collect();
    assert_eq!(ranges[0].0, 0);
    assert_eq!(ranges[2].1, u128::MAX);
    assert_eq!(ranges[0].1 + 1, ranges[1].0);
    assert_eq!(ranges[1].1 + 1, ranges[2].0);
    for s in shards {
        let start = s.sequence_number_range().unwrap().starting_sequence_number();
        assert_eq!(start.len(), 56);
        assert!(start.bytes().all(|b| b.is_ascii_digit()));
    }
    // describe with a shard limit pages through shards
    let page = k.describe_stream().stream_name("clicks").limit(2).send().await.unwrap();
    assert!(page.stream_description().unwrap().has_more_shards());
    let rest = k
        .describe_stream()
        .stream_name("clicks")
        .exclusive_start_shard_id("shardId-000000000001")
        .send()
        .await
        .unwrap();
    assert_eq!(rest.stream_description().unwrap().shards().len(), 1);

    let summary = k
        .describe_stream_summary()
        .stream_arn("arn:aws:kinesis:us-east-1:000000000000:stream/clicks")
        .send()
        .await
        .unwrap();
    let summary = summary.stream_description_summary().unwrap();
    assert_eq!(summary.open_shard_count(), 3);
    assert_eq!(summary.stream_mode_details().unwrap().stream_mode(), &StreamMode::Provisioned);

    // ListShards with pagination
    let p1 = k.list_shards().stream_name("clicks").max_results(2).send().await.unwrap();
    assert_eq!(p1.shards().len(), 2);
    let p2 = k.list_shards().next_token(p1.next_token().unwrap()).send().await.unwrap();
    assert_eq!(p2.shards().iter().map(|s| s.shard_id()).collect::<Vec<_>>(), ["shardId-000000000002"]);
    assert!(p2.next_token().is_none());

    // ON_DEMAND streams start with four shards
    k.create_stream()
        .stream_name("auto")
        .stream_mode_details(StreamModeDetails::builder().stream_mode(StreamMode::OnDemand).build().unwrap())
        .send()
        .await
        .unwrap();
    let auto = k.describe_stream_summary().stream_name("auto").send().await.unwrap();
    assert_eq!(auto.stream_description_summary().unwrap().open_shard_count(), 4);

    // ListStreams, paginated
    let all = k.list_streams().send().await.unwrap();
    assert_eq!(all.stream_names(), ["auto", "clicks"]);
    assert!(!all.has_more_streams());
    let first = k.list_streams().limit(1).send().await.unwrap();
    assert_eq!(first.stream_names(), ["auto"]);
    assert!(first.has_more_streams());
    let second = k.list_streams().next_token(first.next_token().unwrap()).send().await.unwrap();
    assert_eq!(second.stream_names(), ["clicks"]);
    assert_eq!(second.stream_summaries()[0].stream_status(), &StreamStatus::Active);

    // streams survive a restart
    srv.restart();
    let k = srv.kinesis();
    let again = k.describe_stream().stream_name("clicks").send().await.unwrap();
    assert_eq!(again.stream_description().unwrap().shards().len(), 3);

    k.delete_stream().stream_name("auto").send().await.unwrap();
    assert_eq!(code(k.describe_stream().stream_name("auto").send().await), "ResourceNotFoundException");
    assert_eq!(k.list_streams().send().await.unwrap().stream_names(), ["clicks"]);
}

#[tokio::test]
async fn control_plane_errors() {
    let srv = server();
    let k = srv.kinesis();
    k.create_stream().stream_name("dup").shard_count(1).send().await.unwrap();
    assert_eq!(code(k.create_stream().stream_name("dup").shard_count(1).send().await), "ResourceInUseException");
    assert_eq!(code(k.describe_stream().stream_name("missing").send().await), "ResourceNotFoundException");
    assert_eq!(code(k.delete_stream().stream_name("missing").send().await), "ResourceNotFoundException");
    assert_eq!(code(k.create_stream().stream_name("zero").shard_count(0).send().await), "ValidationException");
    assert_eq!(code(k.create_stream().stream_name("bad name!").shard_count(1).send().await), "ValidationException");
    let on_demand = StreamModeDetails::builder().stream_mode(StreamMode::OnDemand).build().unwrap();
    assert_eq!(
        code(k.create_stream().stream_name("od").shard_count(2).stream_mode_details(on_demand).send().await),
        "InvalidArgumentException"
    );

    // an absurd shard count is refused by the quota before anything is allocated
    let resp = kinesis_raw(&srv, "CreateStream", r#"{"StreamName":"huge","ShardCount":100000000000}"#);
    assert_eq!(resp.status, 400);
    assert_eq!(json_type(&resp), "LimitExceededException");
    assert!(resp.body_text().contains("Current Limit: 500"), "{}", resp.body_text());
    // the quota counts the shards of every stream
    let resp = kinesis_raw(&srv, "CreateStream", r#"{"StreamName":"almost","ShardCount":500}"#);
    assert_eq!(json_type(&resp), "LimitExceededException", "1 shard is already in use");
    let resp = kinesis_raw(&srv, "CreateStream", r#"{"StreamName":"fits","ShardCount":499}"#);
    assert_eq!(resp.status, 200, "{}", resp.body_text());
    assert_eq!(resp.header("content-type"), Some("application/x-amz-json-1.1"));

    // protocol errors in AWS's JSON shape
    let resp = kinesis_raw(&srv, "CreateStream", "{not json");
    assert_eq!((resp.status, json_type(&resp).as_str()), (400, "SerializationException"));
    let resp = kinesis_raw(&srv, "CreateStream", r#"{"ShardCount":1}"#);
    assert_eq!(json_type(&resp), "ValidationException");
    let resp = kinesis_raw(&srv, "NoSuchOperation", "{}");
    assert_eq!(json_type(&resp), "UnknownOperationException");
    let unsigned = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nx-amz-target: Kinesis_20131202.ListStreams\r\ncontent-type: application/x-amz-json-1.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}",
        srv.addr
    );
    let resp = raw_request(srv.addr, unsigned.as_bytes()).unwrap();
    assert_eq!((resp.status, json_type(&resp).as_str()), (400, "MissingAuthenticationTokenException"));
    let wrong = tarn_testkit::kinesis_client_with(&srv.endpoint(), "AKIAUNKNOWN000000000", "x");
    assert_eq!(code(wrong.list_streams().send().await), "UnrecognizedClientException");
    let bad_secret = tarn_testkit::kinesis_client_with(&srv.endpoint(), tarn_testkit::ACCESS_KEY_ID, "not-the-secret");
    assert_eq!(code(bad_secret.list_streams().send().await), "InvalidSignatureException");
}

#[tokio::test]
async fn retention_tags_mode_and_consumers() {
    let srv = server();
    let k = srv.kinesis();
    k.create_stream().stream_name("admin").shard_count(1).send().await.unwrap();
    wait_active(&k, "admin").await;
    let arn = "arn:aws:kinesis:us-east-1:000000000000:stream/admin";
    let hours = |k: aws_sdk_kinesis::Client| async move {
        k.describe_stream_summary()
            .stream_name("admin")
            .send()
            .await
            .unwrap()
            .stream_description_summary()
            .unwrap()
            .retention_period_hours()
    };
    k.increase_stream_retention_period().stream_name("admin").retention_period_hours(48).send().await.unwrap();
    assert_eq!(hours(k.clone()).await, 48);
    assert_eq!(
        code(k.increase_stream_retention_period().stream_name("admin").retention_period_hours(30).send().await),
        "InvalidArgumentException"
    );
    assert_eq!(
        code(k.increase_stream_retention_period().stream_name("admin").retention_period_hours(8761).send().await),
        "InvalidArgumentException"
    );
    assert_eq!(
        code(k.decrease_stream_retention_period().stream_name("admin").retention_period_hours(23).send().await),
        "InvalidArgumentException"
    );
    assert_eq!(
        code(k.decrease_stream_retention_period().stream_name("admin").retention_period_hours(72).send().await),
        "InvalidArgumentException"
    );
    k.decrease_stream_retention_period().stream_name("admin").retention_period_hours(24).send().await.unwrap();
    assert_eq!(hours(k.clone()).await, 24);

    k.add_tags_to_stream().stream_name("admin").tags("team", "ml").tags("env", "dev").send().await.unwrap();
    k.add_tags_to_stream().stream_name("admin").tags("env", "prod").send().await.unwrap();
    let tags = k.list_tags_for_stream().stream_name("admin").send().await.unwrap();
    let pairs: Vec<_> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(pairs, [("env", Some("prod")), ("team", Some("ml"))]);
    k.remove_tags_from_stream().stream_name("admin").tag_keys("env").send().await.unwrap();
    assert_eq!(k.list_tags_for_stream().stream_name("admin").send().await.unwrap().tags().len(), 1);
    let mut too_many = k.add_tags_to_stream().stream_name("admin");
    for i in 0..50 {
        too_many = too_many.tags(format!("k{i}"), "v");
    }
    assert_eq!(code(too_many.send().await), "InvalidArgumentException");

    let on_demand = StreamModeDetails::builder().stream_mode(StreamMode::OnDemand).build().unwrap();
    k.update_stream_mode().stream_arn(arn).stream_mode_details(on_demand.clone()).send().await.unwrap();
    let mode = k.describe_stream_summary().stream_name("admin").send().await.unwrap();
    assert_eq!(
        mode.stream_description_summary().unwrap().stream_mode_details().unwrap().stream_mode(),
        &StreamMode::OnDemand
    );
    assert_eq!(
        code(k.update_stream_mode().stream_arn(arn).stream_mode_details(on_demand).send().await),
        "ResourceInUseException"
    );

    let c = k.register_stream_consumer().stream_arn(arn).consumer_name("app-1").send().await.unwrap();
    let consumer = c.consumer().unwrap();
    assert!(consumer.consumer_arn().starts_with("arn:aws:kinesis:us-east-1:000000000000:stream/admin/consumer/app-1:"));
    assert_eq!(
        code(k.register_stream_consumer().stream_arn(arn).consumer_name("app-1").send().await),
        "ResourceInUseException"
    );
    let listed = k.list_stream_consumers().stream_arn(arn).send().await.unwrap();
    assert_eq!(listed.consumers().iter().map(|c| c.consumer_name()).collect::<Vec<_>>(), ["app-1"]);
    let d = k.describe_stream_consumer().consumer_arn(consumer.consumer_arn()).send().await.unwrap();
    assert_eq!(d.consumer_description().unwrap().stream_arn(), arn);
    let summary = k.describe_stream_summary().stream_name("admin").send().await.unwrap();
    assert_eq!(summary.stream_description_summary().unwrap().consumer_count(), Some(1));
    // a stream with consumers is deleted only when asked to take them along
    assert_eq!(code(k.delete_stream().stream_name("admin").send().await), "ResourceInUseException");
    k.deregister_stream_consumer().stream_arn(arn).consumer_name("app-1").send().await.unwrap();
    assert_eq!(
        code(k.describe_stream_consumer().stream_arn(arn).consumer_name("app-1").send().await),
        "ResourceNotFoundException"
    );
    k.register_stream_consumer().stream_arn(arn).consumer_name("app-2").send().await.unwrap();
    k.delete_stream().stream_name("admin").enforce_consumer_deletion(true).send().await.unwrap();
    assert_eq!(code(k.describe_stream().stream_name("admin").send().await), "ResourceNotFoundException");
}

#[tokio::test]
async fn reshard_operations_and_errors() {
    // a wide CREATING/UPDATING window, so the test sees it even on a loaded machine
    let srv = TestServer::start_with(env!("CARGO_BIN_EXE_tarn"), &["--kinesis-status-delay-ms=2000"], &[], true);
    let k = srv.kinesis();
    k.create_stream().stream_name("rs").shard_count(2).send().await.unwrap();
    // resharding needs an ACTIVE stream
    let early = k.split_shard().stream_name("rs").shard_to_split("shardId-000000000000").new_starting_hash_key("1000");
    assert_eq!(code(early.send().await), "ResourceInUseException");
    wait_active(&k, "rs").await;
    // split keys outside the shard, merges of shards that do not touch, closed shards
    assert_eq!(
        code(
            k.split_shard()
                .stream_name("rs")
                .shard_to_split("shardId-000000000000")
                .new_starting_hash_key("0")
                .send()
                .await
        ),
        "InvalidArgumentException"
    );
    assert_eq!(
        code(
            k.split_shard()
                .stream_name("rs")
                .shard_to_split("shardId-000000000009")
                .new_starting_hash_key("5")
                .send()
                .await
        ),
        "ResourceNotFoundException"
    );
    k.split_shard()
        .stream_name("rs")
        .shard_to_split("shardId-000000000000")
        .new_starting_hash_key("1000")
        .send()
        .await
        .unwrap();
    let status = k.describe_stream_summary().stream_name("rs").send().await.unwrap();
    assert_eq!(status.stream_description_summary().unwrap().stream_status(), &StreamStatus::Updating);
    let during = k
        .merge_shards()
        .stream_name("rs")
        .shard_to_merge("shardId-000000000002")
        .adjacent_shard_to_merge("shardId-000000000003");
    assert_eq!(code(during.send().await), "ResourceInUseException", "no resharding while UPDATING");
    wait_active(&k, "rs").await;
    assert_eq!(
        code(
            k.split_shard()
                .stream_name("rs")
                .shard_to_split("shardId-000000000000")
                .new_starting_hash_key("2000")
                .send()
                .await
        ),
        "InvalidArgumentException",
        "a closed shard cannot be split again"
    );
    assert_eq!(
        code(
            k.merge_shards()
                .stream_name("rs")
                .shard_to_merge("shardId-000000000002")
                .adjacent_shard_to_merge("shardId-000000000001")
                .send()
                .await
        ),
        "InvalidArgumentException",
        "shard 2 covers [0, 999] and does not touch shard 1"
    );
    // uniform scaling: 3 open shards -> 6, every open shard closes, the new ones tile the space
    let out = k
        .update_shard_count()
        .stream_name("rs")
        .target_shard_count(6)
        .scaling_type(aws_sdk_kinesis::types::ScalingType::UniformScaling)
        .send()
        .await
        .unwrap();
    assert_eq!((out.current_shard_count(), out.target_shard_count()), (Some(3), Some(6)));
    wait_active(&k, "rs").await;
    let d = k.describe_stream().stream_name("rs").limit(100).send().await.unwrap();
    let open: Vec<(u128, u128)> = d
        .stream_description()
        .unwrap()
        .shards()
        .iter()
        .filter(|s| s.sequence_number_range().unwrap().ending_sequence_number().is_none())
        .map(|s| {
            (
                s.hash_key_range().unwrap().starting_hash_key().parse().unwrap(),
                s.hash_key_range().unwrap().ending_hash_key().parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(open.len(), 6);
    assert_eq!(open[0].0, 0);
    assert_eq!(open[5].1, u128::MAX);
    assert!(open.windows(2).all(|w| w[0].1 + 1 == w[1].0));
    assert_eq!(
        code(
            k.update_shard_count()
                .stream_name("rs")
                .target_shard_count(13)
                .scaling_type(aws_sdk_kinesis::types::ScalingType::UniformScaling)
                .send()
                .await
        ),
        "LimitExceededException",
        "more than double"
    );
    // records still flow after resharding
    let put = k
        .put_record()
        .stream_name("rs")
        .partition_key("after")
        .data(aws_sdk_kinesis::primitives::Blob::new("x"))
        .send()
        .await
        .unwrap();
    assert!(put.shard_id() >= "shardId-000000000005");
}

/// A CBOR request signed like the Java SDK's: `application/x-amz-cbor-1.1`, blobs as byte
/// strings, timestamps as tag 1.
fn kinesis_cbor(srv: &TestServer, operation: &str, body: &ciborium::value::Value) -> (u16, ciborium::value::Value) {
    let mut bytes = Vec::new();
    ciborium::ser::into_writer(body, &mut bytes).unwrap();
    let date = tarn_testkit::sign::amz_date_now();
    let host = srv.addr.to_string();
    let target = format!("Kinesis_20131202.{operation}");
    let auth = tarn_api::sigv4::sign_for_test(
        "POST",
        "/",
        &[
            ("host", &host),
            ("x-amz-date", &date),
            ("x-amz-target", &target),
            ("content-type", "application/x-amz-cbor-1.1"),
        ],
        &bytes,
        tarn_testkit::ACCESS_KEY_ID,
        tarn_testkit::SECRET_ACCESS_KEY,
        "us-east-1",
        "kinesis",
        &date,
    );
    let mut req = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nx-amz-date: {date}\r\nx-amz-target: {target}\r\ncontent-type: application/x-amz-cbor-1.1\r\nAuthorization: {auth}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        bytes.len()
    )
    .into_bytes();
    req.extend_from_slice(&bytes);
    let resp = raw_request(srv.addr, &req).unwrap();
    assert_eq!(resp.header("content-type"), Some("application/x-amz-cbor-1.1"));
    (resp.status, ciborium::de::from_reader(resp.body.as_slice()).expect("a CBOR answer"))
}

fn field<'a>(v: &'a ciborium::value::Value, name: &str) -> &'a ciborium::value::Value {
    &v.as_map()
        .expect("a map")
        .iter()
        .find(|(k, _)| k.as_text() == Some(name))
        .unwrap_or_else(|| panic!("{name} missing in {v:?}"))
        .1
}

#[tokio::test]
async fn cbor_protocol_as_the_java_sdk_sends_it() {
    use ciborium::value::Value as C;
    let srv = server();
    let map = |pairs: Vec<(&str, C)>| C::Map(pairs.into_iter().map(|(k, v)| (C::Text(k.into()), v)).collect());
    let (status, _) = kinesis_cbor(
        &srv,
        "CreateStream",
        &map(vec![("StreamName", C::Text("cbor".into())), ("ShardCount", C::Integer(1.into()))]),
    );
    assert_eq!(status, 200);
    let (status, put) = kinesis_cbor(
        &srv,
        "PutRecord",
        &map(vec![
            ("StreamName", C::Text("cbor".into())),
            ("PartitionKey", C::Text("pk".into())),
            ("Data", C::Bytes(vec![0, 1, 2, 255])),
        ]),
    );
    assert_eq!(status, 200);
    let seq = field(&put, "SequenceNumber").as_text().unwrap().to_string();
    let (_, it) = kinesis_cbor(
        &srv,
        "GetShardIterator",
        &map(vec![
            ("StreamName", C::Text("cbor".into())),
            ("ShardId", C::Text("shardId-000000000000".into())),
            ("ShardIteratorType", C::Text("AT_TIMESTAMP".into())),
            ("Timestamp", C::Tag(1, Box::new(C::Float(0.0)))),
        ]),
    );
    let iterator = field(&it, "ShardIterator").clone();
    let (status, records) = kinesis_cbor(&srv, "GetRecords", &map(vec![("ShardIterator", iterator)]));
    assert_eq!(status, 200);
    let first = &field(&records, "Records").as_array().unwrap()[0];
    assert_eq!(field(first, "Data"), &C::Bytes(vec![0, 1, 2, 255]), "blobs come back as byte strings");
    assert_eq!(field(first, "SequenceNumber").as_text(), Some(seq.as_str()));
    // timestamps come back as tag 1 with integer epoch milliseconds, as the Java SDK reads them
    let now_ms = i128::from(time::OffsetDateTime::now_utc().unix_timestamp()) * 1000;
    match field(first, "ApproximateArrivalTimestamp") {
        C::Tag(1, inner) => {
            let ms: i128 = inner.as_integer().expect("integer milliseconds").into();
            assert!((now_ms - ms).abs() < 60_000, "{ms} is not near {now_ms}");
        }
        other => panic!("not a tag-1 timestamp: {other:?}"),
    }
    // and a tag-1 integer in a request is milliseconds: a minute ago still finds the record
    let (_, it) = kinesis_cbor(
        &srv,
        "GetShardIterator",
        &map(vec![
            ("StreamName", C::Text("cbor".into())),
            ("ShardId", C::Text("shardId-000000000000".into())),
            ("ShardIteratorType", C::Text("AT_TIMESTAMP".into())),
            ("Timestamp", C::Tag(1, Box::new(C::Integer(i64::try_from(now_ms - 60_000).unwrap().into())))),
        ]),
    );
    let (_, again) =
        kinesis_cbor(&srv, "GetRecords", &map(vec![("ShardIterator", field(&it, "ShardIterator").clone())]));
    assert_eq!(field(&again, "Records").as_array().unwrap().len(), 1);
    // every other operation speaks CBOR as well
    let text = |s: &str| C::Text(s.into());
    let int = |n: i64| C::Integer(n.into());
    let arn = "arn:aws:kinesis:us-east-1:000000000000:stream/cbor";
    let stream = || ("StreamName", text("cbor"));
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let calls: Vec<(&str, C, &str)> = vec![
        ("DescribeStreamSummary", map(vec![stream()]), "StreamDescriptionSummary"),
        ("ListStreams", map(vec![]), "StreamNames"),
        ("ListShards", map(vec![stream()]), "Shards"),
        (
            "PutRecords",
            map(vec![
                stream(),
                ("Records", C::Array(vec![map(vec![("Data", C::Bytes(vec![9; 3])), ("PartitionKey", text("a"))])])),
            ]),
            "Records",
        ),
        ("IncreaseStreamRetentionPeriod", map(vec![stream(), ("RetentionPeriodHours", int(48))]), ""),
        ("DecreaseStreamRetentionPeriod", map(vec![stream(), ("RetentionPeriodHours", int(24))]), ""),
        ("AddTagsToStream", map(vec![stream(), ("Tags", map(vec![("team", text("ml"))]))]), ""),
        ("ListTagsForStream", map(vec![stream()]), "Tags"),
        ("RemoveTagsFromStream", map(vec![stream(), ("TagKeys", C::Array(vec![text("team")]))]), ""),
        ("RegisterStreamConsumer", map(vec![("StreamARN", text(arn)), ("ConsumerName", text("c1"))]), "Consumer"),
        ("ListStreamConsumers", map(vec![("StreamARN", text(arn))]), "Consumers"),
        (
            "DescribeStreamConsumer",
            map(vec![("StreamARN", text(arn)), ("ConsumerName", text("c1"))]),
            "ConsumerDescription",
        ),
        ("DeregisterStreamConsumer", map(vec![("StreamARN", text(arn)), ("ConsumerName", text("c1"))]), ""),
        (
            "SplitShard",
            map(vec![stream(), ("ShardToSplit", text("shardId-000000000000")), ("NewStartingHashKey", text("1000"))]),
            "",
        ),
    ];
    for (operation, body, expect) in calls {
        let (status, answer) = kinesis_cbor(&srv, operation, &body);
        assert_eq!(status, 200, "{operation}: {answer:?}");
        if !expect.is_empty() {
            field(&answer, expect);
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let (status, _) = kinesis_cbor(
        &srv,
        "MergeShards",
        &map(vec![
            stream(),
            ("ShardToMerge", text("shardId-000000000001")),
            ("AdjacentShardToMerge", text("shardId-000000000002")),
        ]),
    );
    assert_eq!(status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let (status, answer) = kinesis_cbor(
        &srv,
        "UpdateShardCount",
        &map(vec![stream(), ("TargetShardCount", int(2)), ("ScalingType", text("UNIFORM_SCALING"))]),
    );
    assert_eq!(status, 200, "{answer:?}");
    assert_eq!(field(&answer, "TargetShardCount"), &int(2));
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let (status, _) = kinesis_cbor(
        &srv,
        "UpdateStreamMode",
        &map(vec![("StreamARN", text(arn)), ("StreamModeDetails", map(vec![("StreamMode", text("ON_DEMAND"))]))]),
    );
    assert_eq!(status, 200);
    let (status, _) = kinesis_cbor(&srv, "DeleteStream", &map(vec![stream()]));
    assert_eq!(status, 200);
    // errors are CBOR too
    let (status, error) = kinesis_cbor(&srv, "DescribeStream", &map(vec![("StreamName", C::Text("missing".into()))]));
    assert_eq!(status, 400);
    assert_eq!(field(&error, "__type").as_text(), Some("ResourceNotFoundException"));
}

#[tokio::test]
async fn list_shards_filters() {
    use aws_sdk_kinesis::types::{ShardFilter, ShardFilterType};
    let srv = server();
    let k = srv.kinesis();
    k.create_stream().stream_name("f").shard_count(2).send().await.unwrap();
    wait_active(&k, "f").await;
    k.split_shard()
        .stream_name("f")
        .shard_to_split("shardId-000000000000")
        .new_starting_hash_key("1000")
        .send()
        .await
        .unwrap();
    let ids = |out: aws_sdk_kinesis::operation::list_shards::ListShardsOutput| {
        out.shards().iter().map(|s| s.shard_id().to_string()).collect::<Vec<_>>()
    };
    let latest = k
        .list_shards()
        .stream_name("f")
        .shard_filter(ShardFilter::builder().r#type(ShardFilterType::AtLatest).build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(ids(latest), ["shardId-000000000001", "shardId-000000000002", "shardId-000000000003"]);
    let after = k
        .list_shards()
        .stream_name("f")
        .shard_filter(
            ShardFilter::builder()
                .r#type(ShardFilterType::AfterShardId)
                .shard_id("shardId-000000000001")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(ids(after), ["shardId-000000000002", "shardId-000000000003"]);
    let horizon = k
        .list_shards()
        .stream_name("f")
        .shard_filter(ShardFilter::builder().r#type(ShardFilterType::AtTrimHorizon).build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(ids(horizon).len(), 4);
}

/// Everything a stream carries survives a restart: settings, consumers, closed parents and
/// their children, and the numbering of shards and records.
#[tokio::test]
async fn stream_state_survives_restart() {
    let mut srv = server();
    let k = srv.kinesis();
    k.create_stream().stream_name("keep").shard_count(1).send().await.unwrap();
    wait_active(&k, "keep").await;
    let arn = "arn:aws:kinesis:us-east-1:000000000000:stream/keep";
    k.increase_stream_retention_period().stream_name("keep").retention_period_hours(48).send().await.unwrap();
    k.add_tags_to_stream().stream_name("keep").tags("team", "ml").send().await.unwrap();
    k.register_stream_consumer().stream_arn(arn).consumer_name("reader").send().await.unwrap();
    let before = k
        .put_record()
        .stream_name("keep")
        .partition_key("k")
        .data(aws_sdk_kinesis::primitives::Blob::new("x"))
        .send()
        .await
        .unwrap();
    k.split_shard()
        .stream_name("keep")
        .shard_to_split("shardId-000000000000")
        .new_starting_hash_key("1000000")
        .send()
        .await
        .unwrap();
    srv.restart();
    let k = srv.kinesis();
    let s = k.describe_stream_summary().stream_name("keep").send().await.unwrap();
    let s = s.stream_description_summary().unwrap();
    assert_eq!(s.retention_period_hours(), 48);
    assert_eq!(s.consumer_count(), Some(1));
    assert_eq!(s.stream_status(), &StreamStatus::Active, "a restart finds every stream ACTIVE");
    let tags = k.list_tags_for_stream().stream_name("keep").send().await.unwrap();
    assert_eq!(tags.tags()[0].key(), "team");
    let d = k.describe_stream().stream_name("keep").send().await.unwrap();
    let shards = d.stream_description().unwrap().shards();
    assert_eq!(shards.len(), 3);
    assert!(shards[0].sequence_number_range().unwrap().ending_sequence_number().is_some());
    assert_eq!(shards[0].sequence_number_range().unwrap().ending_sequence_number(), Some(before.sequence_number()));
    assert_eq!(shards[1].parent_shard_id(), Some("shardId-000000000000"));
    // new shards and new records continue the numbering
    k.split_shard()
        .stream_name("keep")
        .shard_to_split("shardId-000000000002")
        .new_starting_hash_key("2000000")
        .send()
        .await
        .unwrap();
    let ids: Vec<String> = k
        .list_shards()
        .stream_name("keep")
        .send()
        .await
        .unwrap()
        .shards()
        .iter()
        .map(|s| s.shard_id().to_string())
        .collect();
    assert_eq!(ids.len(), 5);
    assert_eq!(ids[4], "shardId-000000000004");
    let after = k
        .put_record()
        .stream_name("keep")
        .partition_key("k")
        .explicit_hash_key("5")
        .data(aws_sdk_kinesis::primitives::Blob::new("y"))
        .send()
        .await
        .unwrap();
    assert_eq!(after.shard_id(), "shardId-000000000001");
}
