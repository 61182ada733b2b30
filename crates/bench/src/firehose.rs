//! `firehose-put`: a click-stream of JSON records through PutRecordBatch, or the same records
//! as a JSON Lines file for the pyarrow baseline.

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::{Kinesis, SplitMix, percentiles};

const COUNTRIES: [&str; 8] = ["DE", "US", "FR", "JP", "BR", "IN", "GB", "NG"];

/// Record `i`: the same bytes on every run, about `size` bytes long. Columns (for the catalog
/// table): id bigint, user_id bigint, session string, url string, country string, ts bigint,
/// score double, payload string.
pub fn record(i: u64, size: usize) -> String {
    let mut r = SplitMix(i.wrapping_mul(0x2545_F491_4F6C_DD1D));
    let head = format!(
        "{{\"id\":{i},\"user_id\":{},\"session\":\"{:016x}{:016x}\",\"url\":\"/catalog/item/{}\",\"country\":\"{}\",\"ts\":{},\"score\":{:.4},\"payload\":\"",
        r.next() % 100_000,
        r.next(),
        r.next(),
        r.next() % 50_000,
        COUNTRIES[(r.next() % 8) as usize],
        1_764_000_000_000u64 + i,
        (r.next() % 10_000) as f64 / 10_000.0,
    );
    let pad = size.saturating_sub(head.len() + 2);
    let mut out = String::with_capacity(size);
    out.push_str(&head);
    let letters = b"abcdefghijklmnopqrstuvwxyz";
    for _ in 0..pad {
        out.push(letters[(r.next() % 26) as usize] as char);
    }
    out.push_str("\"}");
    out
}

pub fn dump(path: &std::path::Path, records: u64, size: usize) -> Result<(), String> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).map_err(|e| e.to_string())?);
    for i in 0..records {
        f.write_all(record(i, size).as_bytes()).map_err(|e| e.to_string())?;
        f.write_all(b"\n").map_err(|e| e.to_string())?;
    }
    f.flush().map_err(|e| e.to_string())?;
    println!("FIREHOSE-DUMP records={records} file={}", path.display());
    Ok(())
}

pub async fn put(k: Kinesis, producers: usize, batch: usize, records: u64, size: usize) -> Result<(), String> {
    if !(1..=500).contains(&batch) {
        return Err(format!("--batch must be 1..=500, not {batch}"));
    }
    let k = Arc::new(k);
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..producers {
        let (k, next) = (k.clone(), next.clone());
        handles.push(tokio::spawn(async move {
            let (mut acked, mut failed, mut latencies, mut first_error) = (0u64, 0u64, Vec::new(), None::<String>);
            loop {
                let from = next.fetch_add(batch as u64, Ordering::Relaxed);
                if from >= records {
                    break;
                }
                let to = (from + batch as u64).min(records);
                // the body written directly: the load generator shares the 2 cores with tarn
                let mut body = String::with_capacity((to - from) as usize * (size * 4 / 3 + 16) + 64);
                body.push_str("{\"DeliveryStreamName\":");
                body.push_str(&serde_json::to_string(&k.conn.stream).expect("a string"));
                body.push_str(",\"Records\":[");
                for i in from..to {
                    if i > from {
                        body.push(',');
                    }
                    body.push_str("{\"Data\":\"");
                    B64.encode_string(record(i, size), &mut body);
                    body.push_str("\"}");
                }
                body.push_str("]}");
                let body = bytes::Bytes::from(body);
                // a failed call is retried, as producers do: every record must get in once
                let mut attempt = 0;
                loop {
                    let t0 = Instant::now();
                    let res = k.call("PutRecordBatch", body.to_vec()).await.and_then(|b| {
                        serde_json::from_slice::<serde_json::Value>(&b)
                            .map_err(|e| crate::CallError { status: 200, body: e.to_string() })
                    });
                    latencies.push(t0.elapsed());
                    match res {
                        Ok(out) if out["FailedPutCount"].as_u64() == Some(0) => {
                            acked += to - from;
                            break;
                        }
                        Ok(out) => first_error.get_or_insert(format!("FailedPutCount {}", out["FailedPutCount"])),
                        Err(e) => first_error.get_or_insert(e.to_string()),
                    };
                    attempt += 1;
                    if attempt > 5 {
                        failed += to - from;
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(100 * attempt)).await;
                }
            }
            (acked, failed, latencies, first_error)
        }));
    }
    let (mut acked, mut failed, mut latencies, mut first_error) = (0, 0, Vec::new(), None);
    for h in handles {
        let (a, f, l, e) = h.await.map_err(|e| e.to_string())?;
        acked += a;
        failed += f;
        latencies.extend(l);
        if first_error.is_none() {
            first_error = e;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (p50, p99) = percentiles(&mut latencies);
    if let Some(e) = first_error {
        eprintln!("firehose-put: first error: {e}");
    }
    println!(
        "FIREHOSE-PUT producers={producers} records={acked} failed={failed} seconds={elapsed:.2} rate={:.0}/s throughput={:.1}MB/s p50={p50:.2}ms p99={p99:.2}ms batch={batch} size={size}",
        acked as f64 / elapsed,
        acked as f64 * size as f64 / elapsed / 1e6
    );
    Ok(())
}
