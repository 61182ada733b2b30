//! Kinesis records end to end: PutRecord(s), every iterator type, per-key order and
//! exactly-once delivery under concurrent producers, iterator expiry, restart and SIGKILL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::primitives::{Blob, DateTime};
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType, StreamStatus};
use tarn_testkit::TestServer;

fn server() -> TestServer {
    TestServer::start(env!("CARGO_BIN_EXE_tarn"))
}

/// A server without provisioned throughput limits, for load tests.
fn server_unlimited() -> TestServer {
    TestServer::start_with(env!("CARGO_BIN_EXE_tarn"), &["--kinesis-enforce-limits=false"], &[], true)
}

async fn create(k: &aws_sdk_kinesis::Client, name: &str, shards: i32) {
    k.create_stream().stream_name(name).shard_count(shards).send().await.unwrap();
    wait_active(k, name).await;
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

async fn shard_ids(k: &aws_sdk_kinesis::Client, name: &str) -> Vec<String> {
    let out = k.list_shards().stream_name(name).send().await.unwrap();
    out.shards().iter().map(|s| s.shard_id().to_string()).collect()
}

/// Every record of a shard from an iterator, following NextShardIterator until caught up.
async fn drain(k: &aws_sdk_kinesis::Client, mut iterator: String) -> Vec<aws_sdk_kinesis::types::Record> {
    let mut out = Vec::new();
    loop {
        let page = k.get_records().shard_iterator(&iterator).limit(1000).send().await.unwrap();
        let n = page.records().len();
        out.extend(page.records().iter().cloned());
        iterator = page.next_shard_iterator().unwrap().to_string();
        if n == 0 {
            return out;
        }
    }
}

async fn iterator(
    k: &aws_sdk_kinesis::Client,
    stream: &str,
    shard: &str,
    kind: ShardIteratorType,
    seq: Option<&str>,
) -> String {
    k.get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard)
        .shard_iterator_type(kind)
        .set_starting_sequence_number(seq.map(str::to_string))
        .send()
        .await
        .unwrap()
        .shard_iterator()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn put_and_read_with_every_iterator_type() {
    let mut srv = server();
    let k = srv.kinesis();
    create(&k, "events", 2).await;
    let before = DateTime::from_secs(time::OffsetDateTime::now_utc().unix_timestamp() - 1);
    let mut sent = Vec::new();
    for i in 0..10 {
        let out = k
            .put_record()
            .stream_name("events")
            .partition_key("user-7")
            .data(Blob::new(format!("event {i}")))
            .send()
            .await
            .unwrap();
        sent.push((out.shard_id().to_string(), out.sequence_number().to_string()));
    }
    // one partition key, one shard, increasing sequence numbers
    assert!(sent.iter().all(|(s, _)| *s == sent[0].0));
    assert!(sent.windows(2).all(|w| w[0].1 < w[1].1 && w[0].1.len() == w[1].1.len()));
    let shard = sent[0].0.clone();

    let all = drain(&k, iterator(&k, "events", &shard, ShardIteratorType::TrimHorizon, None).await).await;
    let data: Vec<String> = all.iter().map(|r| String::from_utf8(r.data().as_ref().to_vec()).unwrap()).collect();
    assert_eq!(data, (0..10).map(|i| format!("event {i}")).collect::<Vec<_>>());
    assert!(all.iter().all(|r| r.partition_key() == Some("user-7") && r.approximate_arrival_timestamp().is_some()));

    let at =
        drain(&k, iterator(&k, "events", &shard, ShardIteratorType::AtSequenceNumber, Some(&sent[3].1)).await).await;
    assert_eq!(at.first().unwrap().sequence_number(), sent[3].1);
    assert_eq!(at.len(), 7);
    let after =
        drain(&k, iterator(&k, "events", &shard, ShardIteratorType::AfterSequenceNumber, Some(&sent[3].1)).await).await;
    assert_eq!(after.first().unwrap().sequence_number(), sent[4].1);
    let latest = iterator(&k, "events", &shard, ShardIteratorType::Latest, None).await;
    assert!(k.get_records().shard_iterator(&latest).send().await.unwrap().records().is_empty());
    k.put_record().stream_name("events").partition_key("user-7").data(Blob::new("after latest")).send().await.unwrap();
    let tail = k.get_records().shard_iterator(&latest).send().await.unwrap();
    assert_eq!(tail.records().len(), 1);
    assert_eq!(tail.records()[0].data().as_ref(), b"after latest");
    let by_time = k
        .get_shard_iterator()
        .stream_name("events")
        .shard_id(&shard)
        .shard_iterator_type(ShardIteratorType::AtTimestamp)
        .timestamp(before)
        .send()
        .await
        .unwrap();
    assert_eq!(drain(&k, by_time.shard_iterator().unwrap().to_string()).await.len(), 11);
    let future = k
        .get_shard_iterator()
        .stream_name("events")
        .shard_id(&shard)
        .shard_iterator_type(ShardIteratorType::AtTimestamp)
        .timestamp(DateTime::from_secs(4_000_000_000))
        .send()
        .await
        .unwrap();
    assert!(drain(&k, future.shard_iterator().unwrap().to_string()).await.is_empty());

    // Limit caps a page
    let it = iterator(&k, "events", &shard, ShardIteratorType::TrimHorizon, None).await;
    let page = k.get_records().shard_iterator(&it).limit(4).send().await.unwrap();
    assert_eq!(page.records().len(), 4);

    // ExplicitHashKey routes to the shard owning that hash
    let last_shard = shard_ids(&k, "events").await.pop().unwrap();
    let routed = k
        .put_record()
        .stream_name("events")
        .partition_key("any")
        .explicit_hash_key("340282366920938463463374607431768211455")
        .data(Blob::new("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(routed.shard_id(), last_shard);

    // errors
    let code = |e: &dyn ProvideErrorMetadata| e.code().unwrap_or("<none>").to_string();
    let e = k.put_record().stream_name("missing").partition_key("k").data(Blob::new("x")).send().await.unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
    let e = k
        .put_record()
        .stream_name("events")
        .partition_key("k")
        .data(Blob::new(vec![0u8; 1024 * 1024]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    for (bad, expected) in [
        ("-1", "ValidationException"),
        ("007", "ValidationException"),
        ("340282366920938463463374607431768211456", "InvalidArgumentException"),
    ] {
        let e = k
            .put_record()
            .stream_name("events")
            .partition_key("k")
            .explicit_hash_key(bad)
            .data(Blob::new("x"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), expected, "ExplicitHashKey {bad}");
    }
    let e = k
        .get_shard_iterator()
        .stream_name("events")
        .shard_id("shardId-000000000099")
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
    let e = k.get_records().shard_iterator("bm9wZQ==").send().await.unwrap_err();
    assert_eq!(code(&e), "InvalidArgumentException");
    // an iterator handed out more than five minutes ago has expired
    use base64::Engine as _;
    let stale = base64::engine::general_purpose::STANDARD.encode(format!("1\nevents\n{shard}\n0\n1000"));
    let e = k.get_records().shard_iterator(stale).send().await.unwrap_err();
    assert_eq!(code(&e), "ExpiredIteratorException");

    // records survive a restart with their sequence numbers
    srv.restart();
    let k = srv.kinesis();
    let again = drain(&k, iterator(&k, "events", &shard, ShardIteratorType::TrimHorizon, None).await).await;
    assert_eq!(again[5].sequence_number(), sent[5].1);
    assert_eq!(again.len(), 11);
}

/// 4 producers x 20,000 records over 64 partition keys into 4 shards: read back with each
/// iterator type, every key's records arrive in order and every record exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_producers_keep_per_key_order_exactly_once() {
    const PRODUCERS: usize = 4;
    const PER_PRODUCER: usize = 20_000;
    let srv = server_unlimited();
    let k = srv.kinesis();
    create(&k, "load", 4).await;
    // LATEST iterators taken before anything is written see everything written after
    let mut latest = HashMap::new();
    for shard in shard_ids(&k, "load").await {
        latest.insert(shard.clone(), iterator(&k, "load", &shard, ShardIteratorType::Latest, None).await);
    }
    let mut tasks = Vec::new();
    for p in 0..PRODUCERS {
        let k = k.clone();
        tasks.push(tokio::spawn(async move {
            for batch in 0..PER_PRODUCER / 500 {
                let entries: Vec<PutRecordsRequestEntry> = (0..500)
                    .map(|j| {
                        let i = batch * 500 + j;
                        let key = format!("key-{}", (p * 16 + i) % 64);
                        PutRecordsRequestEntry::builder()
                            .partition_key(&key)
                            .data(Blob::new(format!("{p}:{i}:{key}")))
                            .build()
                            .unwrap()
                    })
                    .collect();
                let out = k.put_records().stream_name("load").set_records(Some(entries)).send().await.unwrap();
                assert_eq!(out.failed_record_count(), Some(0));
                assert_eq!(out.records().len(), 500);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let shards = shard_ids(&k, "load").await;
    assert_eq!(shards.len(), 4);
    for kind in [
        ShardIteratorType::TrimHorizon,
        ShardIteratorType::AtSequenceNumber,
        ShardIteratorType::AfterSequenceNumber,
        ShardIteratorType::AtTimestamp,
        ShardIteratorType::Latest,
    ] {
        let mut seen: HashMap<(usize, usize), usize> = HashMap::new();
        let mut last_per_producer_key: HashMap<(usize, String), usize> = HashMap::new();
        let mut keys_per_shard: HashMap<String, String> = HashMap::new();
        for shard in &shards {
            let start = match kind {
                ShardIteratorType::AtSequenceNumber => {
                    let first = k.list_shards().stream_name("load").send().await.unwrap();
                    let s = first.shards().iter().find(|s| s.shard_id() == shard).unwrap();
                    iterator(
                        &k,
                        "load",
                        shard,
                        kind.clone(),
                        Some(s.sequence_number_range().unwrap().starting_sequence_number()),
                    )
                    .await
                }
                ShardIteratorType::AtTimestamp => k
                    .get_shard_iterator()
                    .stream_name("load")
                    .shard_id(shard)
                    .shard_iterator_type(kind.clone())
                    .timestamp(DateTime::from_secs(0))
                    .send()
                    .await
                    .unwrap()
                    .shard_iterator()
                    .unwrap()
                    .to_string(),
                ShardIteratorType::Latest => latest[shard].clone(),
                // read below from the first record's sequence number
                ShardIteratorType::AfterSequenceNumber => String::new(),
                _ => iterator(&k, "load", shard, kind.clone(), None).await,
            };
            let mut records = if start.is_empty() { Vec::new() } else { drain(&k, start).await };
            if kind == ShardIteratorType::AfterSequenceNumber {
                // after the first record, plus the first record itself, is the whole shard
                let first = drain(&k, iterator(&k, "load", shard, ShardIteratorType::TrimHorizon, None).await)
                    .await
                    .swap_remove(0);
                let after =
                    drain(&k, iterator(&k, "load", shard, kind.clone(), Some(first.sequence_number())).await).await;
                assert_eq!(after.first().map(|r| r.sequence_number() > first.sequence_number()), Some(true));
                records = std::iter::once(first).chain(after).collect();
            }
            for r in records {
                let text = String::from_utf8(r.data().as_ref().to_vec()).unwrap();
                let mut parts = text.split(':');
                let p: usize = parts.next().unwrap().parse().unwrap();
                let i: usize = parts.next().unwrap().parse().unwrap();
                let key = parts.next().unwrap().to_string();
                assert_eq!(r.partition_key(), Some(key.as_str()));
                *seen.entry((p, i)).or_default() += 1;
                // one producer's records of one key arrive in the order it sent them
                if let Some(prev) = last_per_producer_key.insert((p, key.clone()), i) {
                    assert!(prev < i, "{key}: record {i} of producer {p} came after {prev}");
                }
                let owner = keys_per_shard.entry(key.clone()).or_insert_with(|| shard.clone());
                assert_eq!(owner, shard, "{key} must map to one shard");
            }
        }
        assert_eq!(seen.len(), PRODUCERS * PER_PRODUCER, "{kind:?}: every record once");
        assert!(seen.values().all(|&n| n == 1), "{kind:?}: no duplicates");
    }
}

/// SIGKILL during concurrent PutRecords: after restart every acknowledged record is readable
/// with its original sequence number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_no_acknowledged_record() {
    let mut srv = server_unlimited();
    let k = srv.kinesis();
    create(&k, "crash", 2).await;
    let acked: Arc<Mutex<Vec<(String, String, String)>>> = Arc::default();
    let mut tasks = Vec::new();
    for p in 0..8 {
        let (k, acked) = (k.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0.. {
                let data = format!("p{p}-{i}");
                match k
                    .put_record()
                    .stream_name("crash")
                    .partition_key(format!("k{p}"))
                    .data(Blob::new(data.clone()))
                    .send()
                    .await
                {
                    Ok(out) => acked.lock().unwrap().push((
                        out.shard_id().to_string(),
                        out.sequence_number().to_string(),
                        data,
                    )),
                    Err(_) => return,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    srv.kill();
    for t in tasks {
        let _ = t.await;
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(acked.len() > 50, "the load should have been acknowledged before the kill ({})", acked.len());
    srv.start_again();
    let k = srv.kinesis();
    let mut stored: HashMap<String, String> = HashMap::new();
    for shard in shard_ids(&k, "crash").await {
        for r in drain(&k, iterator(&k, "crash", &shard, ShardIteratorType::TrimHorizon, None).await).await {
            stored.insert(r.sequence_number().to_string(), String::from_utf8(r.data().as_ref().to_vec()).unwrap());
        }
    }
    for (shard, seq, data) in &acked {
        assert_eq!(stored.get(seq), Some(data), "acknowledged record {seq} in {shard} is missing or changed");
    }
    eprintln!("kinesis crash: {} acknowledged, {} stored after restart", acked.len(), stored.len());
}

/// Split and merge while producers run: every acknowledged record is read exactly once, and
/// reading parents before children keeps each key's order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resharding_under_load_loses_and_duplicates_nothing() {
    let srv = server_unlimited();
    let k = srv.kinesis();
    create(&k, "reshard", 2).await;
    let acked: Arc<Mutex<Vec<(usize, usize, String)>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for p in 0..3usize {
        let (k, acked, stop) = (k.clone(), acked.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0usize;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let key = format!("k{}", i % 16);
                match k
                    .put_record()
                    .stream_name("reshard")
                    .partition_key(&key)
                    .data(Blob::new(format!("{p}:{i}:{key}")))
                    .send()
                    .await
                {
                    Ok(_) => acked.lock().unwrap().push((p, i, key)),
                    Err(e) => panic!("put failed during resharding: {e:?}"),
                }
                i += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let d = k.describe_stream().stream_name("reshard").send().await.unwrap();
    let s0 = d.stream_description().unwrap().shards()[0].clone();
    let start: u128 = s0.hash_key_range().unwrap().starting_hash_key().parse().unwrap();
    let end: u128 = s0.hash_key_range().unwrap().ending_hash_key().parse().unwrap();
    k.split_shard()
        .stream_name("reshard")
        .shard_to_split("shardId-000000000000")
        .new_starting_hash_key((start + (end - start) / 2).to_string())
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    wait_active(&k, "reshard").await;
    k.merge_shards()
        .stream_name("reshard")
        .shard_to_merge("shardId-000000000003")
        .adjacent_shard_to_merge("shardId-000000000001")
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());

    let d = k.describe_stream().stream_name("reshard").send().await.unwrap();
    let shards = d.stream_description().unwrap().shards();
    let ids: Vec<&str> = shards.iter().map(|s| s.shard_id()).collect();
    assert_eq!(
        ids,
        [
            "shardId-000000000000",
            "shardId-000000000001",
            "shardId-000000000002",
            "shardId-000000000003",
            "shardId-000000000004"
        ]
    );
    for closed in [0, 1, 3] {
        assert!(
            shards[closed].sequence_number_range().unwrap().ending_sequence_number().is_some(),
            "{} is closed",
            ids[closed]
        );
    }
    assert_eq!(shards[2].parent_shard_id(), Some("shardId-000000000000"));
    assert_eq!(shards[4].parent_shard_id(), Some("shardId-000000000003"));
    assert_eq!(shards[4].adjacent_parent_shard_id(), Some("shardId-000000000001"));
    let summary = k.describe_stream_summary().stream_name("reshard").send().await.unwrap();
    assert_eq!(summary.stream_description_summary().unwrap().open_shard_count(), 2);

    // a closed parent read to its end hands out no next iterator
    let it = iterator(&k, "reshard", "shardId-000000000000", ShardIteratorType::Latest, None).await;
    let end_page = k.get_records().shard_iterator(&it).send().await.unwrap();
    assert!(end_page.next_shard_iterator().is_none());
    // and names its children, as the KCL expects
    let children: Vec<(&str, Vec<&str>)> = end_page
        .child_shards()
        .iter()
        .map(|c| (c.shard_id(), c.parent_shards().iter().map(String::as_str).collect()))
        .collect();
    assert_eq!(
        children,
        [
            ("shardId-000000000002", vec!["shardId-000000000000"]),
            ("shardId-000000000003", vec!["shardId-000000000000"])
        ]
    );

    let mut seen: HashMap<(usize, usize), usize> = HashMap::new();
    let mut last: HashMap<(usize, String), usize> = HashMap::new();
    let ending: HashMap<&str, Option<&str>> =
        shards.iter().map(|s| (s.shard_id(), s.sequence_number_range().unwrap().ending_sequence_number())).collect();
    for id in &ids {
        let mut last_seq: Option<String> = None;
        let mut iterator = iterator(&k, "reshard", id, ShardIteratorType::TrimHorizon, None).await;
        loop {
            let page = k.get_records().shard_iterator(&iterator).send().await.unwrap();
            for r in page.records() {
                let text = String::from_utf8(r.data().as_ref().to_vec()).unwrap();
                let mut parts = text.split(':');
                let p: usize = parts.next().unwrap().parse().unwrap();
                let i: usize = parts.next().unwrap().parse().unwrap();
                let key = parts.next().unwrap().to_string();
                *seen.entry((p, i)).or_default() += 1;
                if let Some(prev) = last.insert((p, key.clone()), i) {
                    assert!(prev < i, "{key}: producer {p} record {i} read after {prev}");
                }
                last_seq = Some(r.sequence_number().to_string());
            }
            match page.next_shard_iterator() {
                Some(next) if !page.records().is_empty() => iterator = next.to_string(),
                _ => break,
            }
        }
        // a closed shard's EndingSequenceNumber is its last record
        if let (Some(Some(end)), Some(seq)) = (ending.get(*id), &last_seq) {
            assert_eq!(end, seq, "{id}: EndingSequenceNumber");
        }
    }
    assert!(acked.len() > 10, "producers should have run ({} acked)", acked.len());
    for (p, i, _) in &acked {
        assert_eq!(seen.get(&(*p, *i)), Some(&1), "record {p}:{i} must be read exactly once");
    }
    assert_eq!(seen.len(), acked.len(), "nothing unacknowledged appears");
    eprintln!("resharding under load: {} records across {} shards", acked.len(), ids.len());
}

/// Provisioned shards take 1,000 records or 1 MiB per second and serve 2 MiB per second, as
/// Kinesis does; beyond that, ProvisionedThroughputExceededException.
#[tokio::test]
async fn provisioned_throughput_is_enforced() {
    let srv = server();
    // SDKs retry throttling with backoff; this client must see the first refusal
    let k = srv.kinesis();
    let k = aws_sdk_kinesis::Client::from_conf(
        k.config().to_builder().retry_config(aws_sdk_kinesis::config::retry::RetryConfig::disabled()).build(),
    );
    create(&k, "limited", 1).await;
    // bytes: 500 records of 4 KiB in one call are 2 MiB against a 1 MiB per second allowance
    let batch: Vec<PutRecordsRequestEntry> = (0..500)
        .map(|i| {
            PutRecordsRequestEntry::builder()
                .partition_key(format!("k{i}"))
                .data(Blob::new(vec![1u8; 4096]))
                .build()
                .unwrap()
        })
        .collect();
    let out = k.put_records().stream_name("limited").set_records(Some(batch)).send().await.unwrap();
    let failed = out.failed_record_count().unwrap_or(0);
    assert!(failed >= 200, "2 MiB in one call exceeds 1 MiB/s ({failed} failed)");
    for r in out.records().iter().filter(|r| r.error_code().is_some()) {
        assert_eq!(r.error_code(), Some("ProvisionedThroughputExceededException"));
        assert!(r.sequence_number().is_none());
    }
    // records: 2,000 one-byte records within a second or so exceed 1,000 records/s
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let small = |n: usize| {
        (0..n)
            .map(|i| {
                PutRecordsRequestEntry::builder().partition_key(format!("k{i}")).data(Blob::new("x")).build().unwrap()
            })
            .collect::<Vec<_>>()
    };
    let mut total_failed = 0;
    for _ in 0..4 {
        let out = k.put_records().stream_name("limited").set_records(Some(small(500))).send().await.unwrap();
        total_failed += out.failed_record_count().unwrap_or(0);
    }
    assert!(total_failed >= 1, "2,000 records in a burst exceed 1,000 records/s");
    // a record of the maximum size fits a full allowance
    tokio::time::sleep(Duration::from_millis(1100)).await;
    k.put_record()
        .stream_name("limited")
        .partition_key("k")
        .data(Blob::new(vec![3u8; 1024 * 1024 - 1]))
        .send()
        .await
        .unwrap();
    let e = k
        .put_record()
        .stream_name("limited")
        .partition_key("k")
        .data(Blob::new(vec![3u8; 200 * 1024]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("ProvisionedThroughputExceededException"));
    // and the allowance comes back
    tokio::time::sleep(Duration::from_millis(1100)).await;
    k.put_record().stream_name("limited").partition_key("a").data(Blob::new("again")).send().await.unwrap();
}

/// MillisBehindLatest, PutRecords limits, and partition keys landing in the shard that owns
/// their MD5.
#[tokio::test]
async fn lag_batch_limits_and_key_routing() {
    use md5::Digest as _;
    let srv = server_unlimited();
    let k = srv.kinesis();
    create(&k, "lag", 3).await;
    for i in 0..3 {
        k.put_record().stream_name("lag").partition_key("same").data(Blob::new(format!("{i}"))).send().await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let shard = k
        .put_record()
        .stream_name("lag")
        .partition_key("same")
        .data(Blob::new("3"))
        .send()
        .await
        .unwrap()
        .shard_id()
        .to_string();
    let it = iterator(&k, "lag", &shard, ShardIteratorType::TrimHorizon, None).await;
    let first = k.get_records().shard_iterator(&it).limit(1).send().await.unwrap();
    let all = drain(&k, iterator(&k, "lag", &shard, ShardIteratorType::TrimHorizon, None).await).await;
    let ms = |r: &aws_sdk_kinesis::types::Record| r.approximate_arrival_timestamp().unwrap().to_millis().unwrap();
    // timestamps travel as fractional seconds: allow a millisecond of rounding
    let expected = ms(all.last().unwrap()) - ms(&all[0]);
    assert!(
        (first.millis_behind_latest().unwrap() - expected).abs() <= 1,
        "{:?} vs {expected}",
        first.millis_behind_latest()
    );
    assert!(first.millis_behind_latest().unwrap() >= 100);
    let caught_up = k.get_records().shard_iterator(first.next_shard_iterator().unwrap()).send().await.unwrap();
    assert_eq!(caught_up.millis_behind_latest(), Some(0));

    // PutRecords takes 1 to 500 records and at most 5 MiB
    let entry =
        |n: usize| PutRecordsRequestEntry::builder().partition_key("p").data(Blob::new(vec![0u8; n])).build().unwrap();
    let e = k
        .put_records()
        .stream_name("lag")
        .set_records(Some((0..501).map(|_| entry(1)).collect()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("ValidationException"));
    let e = k.put_records().stream_name("lag").set_records(Some(Vec::new())).send().await.unwrap_err();
    assert_eq!(e.code(), Some("ValidationException"));
    let e = k
        .put_records()
        .stream_name("lag")
        .set_records(Some((0..6).map(|_| entry(900 * 1024)).collect()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidArgumentException"));
    // an oversized record fails alone; the rest of the call succeeds
    let out = k
        .put_records()
        .stream_name("lag")
        .records(entry(10))
        .records(entry(1024 * 1024))
        .records(entry(10))
        .send()
        .await
        .unwrap();
    assert_eq!(out.failed_record_count(), Some(1));
    assert!(out.records()[1].error_code().is_some());
    assert!(out.records()[0].sequence_number().is_some() && out.records()[2].sequence_number().is_some());

    // every partition key lands in the shard whose hash key range holds its MD5
    let d = k.describe_stream().stream_name("lag").send().await.unwrap();
    let ranges: HashMap<String, (u128, u128)> = d
        .stream_description()
        .unwrap()
        .shards()
        .iter()
        .map(|s| {
            let r = s.hash_key_range().unwrap();
            (s.shard_id().to_string(), (r.starting_hash_key().parse().unwrap(), r.ending_hash_key().parse().unwrap()))
        })
        .collect();
    let mut used = std::collections::HashSet::new();
    for i in 0..60 {
        let key = format!("user-{i}");
        let out = k.put_record().stream_name("lag").partition_key(&key).data(Blob::new("x")).send().await.unwrap();
        let hash = u128::from_be_bytes(md5::Md5::digest(key.as_bytes()).into());
        let (lo, hi) = ranges[out.shard_id()];
        assert!(lo <= hash && hash <= hi, "{key} landed in {} which does not own its hash", out.shard_id());
        used.insert(out.shard_id().to_string());
    }
    assert_eq!(used.len(), 3, "60 keys spread over all three shards");
}

/// Iterators live five minutes: one issued 299 s ago works, one issued 301 s ago has expired.
#[tokio::test]
async fn iterator_lifetime_is_five_minutes() {
    use base64::Engine as _;
    let srv = server();
    let k = srv.kinesis();
    create(&k, "ttl", 1).await;
    // to the millisecond: whole seconds would age the 299 s iterator by up to one more second
    let now_ms = i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).expect("now");
    let token = |age_ms: i64| {
        base64::engine::general_purpose::STANDARD
            .encode(format!("1\nttl\nshardId-000000000000\n0\n{}", now_ms - age_ms))
    };
    k.get_records().shard_iterator(token(299_000)).send().await.expect("an iterator 299 s old is valid");
    let e = k.get_records().shard_iterator(token(301_000)).send().await.unwrap_err();
    assert_eq!(e.code(), Some("ExpiredIteratorException"));
}
