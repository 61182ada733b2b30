//! Crash consistency: a child `tarn` takes 32 concurrent PUT streams (new keys and overwrites,
//! small inline objects and large blob files), is SIGKILLed mid-way, and restarts. Every
//! acknowledged write must read back byte-identical (or be superseded by a later write of the
//! same key that was in flight), nothing partial is ever visible, LIST and GET agree, and no
//! orphan blob file survives the restart.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use tarn_testkit::{TestServer, pseudo_random_bytes};

const WORKERS: u64 = 32;
const KEYS_PER_WORKER: u64 = 4;

/// The body of write `seq` by `worker`: a self-describing header then deterministic bytes.
fn body(worker: u64, seq: u64) -> Vec<u8> {
    let len = match seq % 4 {
        0 => 1_000,
        1 => 40_000,
        2 => 200_000,
        _ => 900_000 + (worker * 7919 % 100_000) as usize,
    };
    let mut out = format!("w{worker:03}s{seq:06}|").into_bytes();
    out.extend(pseudo_random_bytes(worker << 32 | seq, len));
    out
}

fn parse_header(data: &[u8]) -> Option<(u64, u64)> {
    let text = std::str::from_utf8(data.get(..12)?).ok()?;
    let worker = text.get(1..4)?.parse().ok()?;
    let seq = text.get(5..11)?.parse().ok()?;
    Some((worker, seq))
}

#[derive(Default)]
struct KeyLog {
    acked: Option<u64>,
    in_flight: Option<u64>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::await_holding_lock)] // the guard keeps other heavy tests out; nothing in this runtime waits on it
async fn sigkill_during_concurrent_puts_loses_nothing_acknowledged() {
    let _exclusive = crate::exclusive();
    let mut srv = TestServer::start(env!("CARGO_BIN_EXE_tarn"));
    let s3 = srv.s3();
    s3.create_bucket().bucket("crash").send().await.unwrap();
    let log: Arc<Mutex<HashMap<String, KeyLog>>> = Arc::default();
    let mut tasks = Vec::new();
    for worker in 0..WORKERS {
        let s3 = s3.clone();
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let mut acks = 0u64;
            for seq in 0.. {
                let key = format!("w{worker:03}/k{}", seq % KEYS_PER_WORKER);
                log.lock().unwrap().entry(key.clone()).or_default().in_flight = Some(seq);
                let result =
                    s3.put_object().bucket("crash").key(&key).body(ByteStream::from(body(worker, seq))).send().await;
                match result {
                    Ok(_) => {
                        let mut log = log.lock().unwrap();
                        let entry = log.get_mut(&key).unwrap();
                        entry.acked = Some(seq);
                        entry.in_flight = None;
                        acks += 1;
                    }
                    Err(_) => return acks,
                }
            }
            acks
        }));
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    srv.kill();
    let mut acked_total = 0;
    for t in tasks {
        acked_total += t.await.unwrap();
    }
    assert!(acked_total > WORKERS, "the load should have acknowledged writes before the kill ({acked_total})");
    srv.start_again();
    let s3 = srv.s3();

    let log = std::mem::take(&mut *log.lock().unwrap());
    let mut listed = HashMap::new();
    let mut pages = s3.list_objects_v2().bucket("crash").into_paginator().send();
    while let Some(page) = pages.next().await {
        for obj in page.unwrap().contents() {
            listed.insert(obj.key().unwrap().to_string(), obj.size().unwrap());
        }
    }
    let mut checked = 0;
    for (key, entry) in log.iter() {
        let got = s3.get_object().bucket("crash").key(key).send().await;
        match got {
            Ok(out) => {
                let data = out.body.collect().await.unwrap().into_bytes();
                let (worker, seq) = parse_header(&data).unwrap_or_else(|| panic!("{key}: unreadable content"));
                assert_eq!(
                    data.as_ref(),
                    body(worker, seq).as_slice(),
                    "{key}: content is not byte-identical to write {seq}"
                );
                let allowed = [entry.acked, entry.in_flight];
                assert!(allowed.contains(&Some(seq)), "{key}: holds write {seq}, expected one of {allowed:?}");
                assert_eq!(listed.get(key).copied(), Some(data.len() as i64), "{key}: LIST and GET disagree");
                checked += 1;
            }
            Err(err) => {
                assert!(entry.acked.is_none(), "{key}: acknowledged write {:?} is missing: {err:?}", entry.acked);
                assert!(!listed.contains_key(key), "{key}: listed but not readable");
            }
        }
    }
    assert_eq!(listed.len(), checked, "LIST shows keys GET cannot read");
    // orphan blob files left by interrupted writes were removed at start: one file per large object
    let large = listed.values().filter(|&&size| size > 128 * 1024).count();
    let files = std::fs::read_dir(srv.data_dir().join("blobs")).unwrap().count();
    assert_eq!(files, large, "blob files on disk should be exactly those of the large objects");
    eprintln!("crash test: {acked_total} writes acknowledged before SIGKILL, {checked} keys verified after restart");
}
