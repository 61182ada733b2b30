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
    // Every request body is generated (records, base64, JSON) before the clock starts: the
    // load generator shares the 2 cores with tarn, and what is measured is tarn's intake.
    // Signing and sending stay timed, as a producer's SDK does them per call.
    let stream = serde_json::to_string(&k.conn.stream).expect("a string");
    let bodies: Arc<Vec<(u64, bytes::Bytes)>> = Arc::new(
        (0..records)
            .step_by(batch)
            .map(|from| {
                let to = (from + batch as u64).min(records);
                let mut body = String::with_capacity((to - from) as usize * (size * 4 / 3 + 16) + 64);
                body.push_str("{\"DeliveryStreamName\":");
                body.push_str(&stream);
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
                (to - from, bytes::Bytes::from(body))
            })
            .collect(),
    );
    let k = Arc::new(k);
    let next = Arc::new(AtomicU64::new(0));
    let started_unix =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    let started = Instant::now();
    let cpu0 = process_cpu_seconds();
    let mut handles = Vec::new();
    for _ in 0..producers {
        let (k, next, bodies) = (k.clone(), next.clone(), bodies.clone());
        handles.push(tokio::spawn(async move {
            let (mut acked, mut failed, mut latencies, mut first_error) = (0u64, 0u64, Vec::new(), None::<String>);
            while let Some((count, body)) = bodies.get(next.fetch_add(1, Ordering::Relaxed) as usize) {
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
                            acked += count;
                            break;
                        }
                        Ok(out) => first_error.get_or_insert(format!("FailedPutCount {}", out["FailedPutCount"])),
                        Err(e) => first_error.get_or_insert(e.to_string()),
                    };
                    attempt += 1;
                    if attempt > 5 {
                        failed += count;
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
        "FIREHOSE-PUT producers={producers} records={acked} failed={failed} started_unix={started_unix:.3} seconds={elapsed:.3} cpu={:.2} rate={:.0}/s throughput={:.1}MB/s p50={p50:.2}ms p99={p99:.2}ms batch={batch} size={size}",
        process_cpu_seconds() - cpu0,
        acked as f64 / elapsed,
        acked as f64 * size as f64 / elapsed / 1e6
    );
    Ok(())
}

/// User + system CPU seconds this process has used (Linux `/proc/self/stat`, 100 ticks a second);
/// 0 where that is not readable.
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // the fields after the command name, which is in parentheses and may hold spaces
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name
    (ticks(11) + ticks(12)) / 100.0
}
