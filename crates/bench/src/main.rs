//! `tarn-bench`: a compiled S3 load generator (SigV4-signed, UNSIGNED-PAYLOAD, keep-alive
//! connections) plus the disk's own baselines, so every figure can be reported as a ratio
//! against something measured in the same run.
//!
//! ```text
//! tarn-bench put  --endpoint http://127.0.0.1:4566 --bucket b --size 4096 --conns 64 --seconds 10
//! tarn-bench get  --endpoint ... --bucket b --size 4096 --conns 64 --seconds 10
//! tarn-bench get-url --url http://127.0.0.1:8080/4k.bin --conns 64 --seconds 10   (nginx ceiling)
//! tarn-bench disk --dir /path --seconds 5                                          (fsync'd 4 KiB writes/s, sequential MB/s)
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::{Parser, Subcommand};
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sha2::{Digest, Sha256};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(clap::Args, Clone)]
struct Target {
    #[arg(long, default_value = "http://127.0.0.1:4566")]
    endpoint: String,
    #[arg(long, default_value = "bench")]
    bucket: String,
    #[arg(long, env = "AWS_ACCESS_KEY_ID", default_value = "")]
    access_key: String,
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", default_value = "")]
    secret_key: String,
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Object size in bytes.
    #[arg(long, default_value_t = 4096)]
    size: usize,
    /// Concurrent connections.
    #[arg(long, default_value_t = 1)]
    conns: usize,
    /// How long to run.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Distinct keys written or read.
    #[arg(long, default_value_t = 1000)]
    keys: usize,
    /// Stop after this many requests in total (0: run for --seconds).
    #[arg(long, default_value_t = 0)]
    requests: u64,
}

#[derive(Subcommand)]
enum Cmd {
    /// PUT objects of --size bytes.
    Put(Target),
    /// GET objects written by `put` (run `put` first with the same --keys and --size).
    Get(Target),
    /// Create the bucket.
    Mb(Target),
    /// GET one URL (no signing): the HTTP ceiling of the machine.
    GetUrl {
        #[arg(long)]
        url: String,
        #[arg(long, default_value_t = 1)]
        conns: usize,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
    },
    /// The disk's own rates: fsync'd 4 KiB writes per second and sequential write MB/s.
    Disk {
        #[arg(long)]
        dir: std::path::PathBuf,
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Bytes written for the sequential test.
        #[arg(long, default_value_t = 1 << 30)]
        bytes: u64,
    },
}

fn main() {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    match cli.command {
        Cmd::Put(t) => rt.block_on(load(t, Op::Put)),
        Cmd::Get(t) => rt.block_on(load(t, Op::Get)),
        Cmd::Mb(t) => rt.block_on(async move {
            let client = client();
            let signer = Signer::new(&t);
            let status = send(&client, &signer, &t, "PUT", &format!("/{}", t.bucket), Bytes::new()).await;
            println!("create bucket: {status}");
        }),
        Cmd::GetUrl { url, conns, seconds } => rt.block_on(get_url(url, conns, seconds)),
        Cmd::Disk { dir, seconds, bytes } => disk(&dir, seconds, bytes),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Put,
    Get,
}

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

fn client() -> HttpClient {
    let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new()).pool_max_idle_per_host(1024).build(connector)
}

struct Signer {
    key: String,
    secret: String,
    region: String,
    host: String,
}

impl Signer {
    fn new(t: &Target) -> Self {
        let host = t.endpoint.trim_start_matches("http://").trim_end_matches('/').to_string();
        Self { key: t.access_key.clone(), secret: t.secret_key.clone(), region: t.region.clone(), host }
    }

    fn sign(&self, method: &str, path: &str, date: &str) -> String {
        let payload = "UNSIGNED-PAYLOAD";
        let canonical = format!(
            "{method}\n{path}\n\nhost:{}\nx-amz-content-sha256:{payload}\nx-amz-date:{date}\n\nhost;x-amz-content-sha256;x-amz-date\n{payload}",
            self.host
        );
        let day = &date[..8];
        let scope = format!("{day}/{}/s3/aws4_request", self.region);
        let to_sign =
            format!("AWS4-HMAC-SHA256\n{date}\n{scope}\n{}", hex::encode(Sha256::digest(canonical.as_bytes())));
        let mut k = hmac(format!("AWS4{}", self.secret).as_bytes(), day.as_bytes());
        k = hmac(&k, self.region.as_bytes());
        k = hmac(&k, b"s3");
        k = hmac(&k, b"aws4_request");
        let sig = hex::encode(hmac(&k, to_sign.as_bytes()));
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={sig}",
            self.key
        )
    }
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("hmac key");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn amz_date() -> String {
    let f = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::OffsetDateTime::now_utc().format(&f).unwrap()
}

async fn send(client: &HttpClient, signer: &Signer, t: &Target, method: &str, path: &str, body: Bytes) -> u16 {
    let date = amz_date();
    let req = http::Request::builder()
        .method(method)
        .uri(format!("{}{path}", t.endpoint))
        .header("host", &signer.host)
        .header("x-amz-date", &date)
        .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
        .header("authorization", signer.sign(method, path, &date))
        .header("content-length", body.len())
        .body(Full::new(body))
        .unwrap();
    match client.request(req).await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let _ = resp.into_body().collect().await;
            status
        }
        Err(_) => 0,
    }
}

async fn load(t: Target, op: Op) {
    let client = client();
    let signer = Arc::new(Signer::new(&t));
    let body = Bytes::from((0..t.size).map(|i| (i * 31 % 251) as u8).collect::<Vec<u8>>());
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut latencies_all = Vec::new();
    let started = Instant::now();
    let mut handles = Vec::new();
    for conn in 0..t.conns {
        let (client, signer, t, body, done, failed, stop) =
            (client.clone(), signer.clone(), t.clone(), body.clone(), done.clone(), failed.clone(), stop.clone());
        handles.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut i = conn;
            while !stop.load(Ordering::Relaxed) {
                let n = done.fetch_add(1, Ordering::Relaxed);
                if t.requests > 0 && n >= t.requests {
                    break;
                }
                let path = format!("/{}/obj-{}", t.bucket, i % t.keys);
                i += t.conns;
                let t0 = Instant::now();
                let status = match op {
                    Op::Put => send(&client, &signer, &t, "PUT", &path, body.clone()).await,
                    Op::Get => send(&client, &signer, &t, "GET", &path, Bytes::new()).await,
                };
                latencies.push(t0.elapsed());
                if status != 200 {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies
        }));
    }
    if t.requests == 0 {
        tokio::time::sleep(Duration::from_secs_f64(t.seconds)).await;
        stop.store(true, Ordering::Relaxed);
    }
    for h in handles {
        latencies_all.extend(h.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    report(
        match op {
            Op::Put => "PUT",
            Op::Get => "GET",
        },
        t.size,
        t.conns,
        &mut latencies_all,
        failed.load(Ordering::Relaxed),
        elapsed,
    );
}

fn report(name: &str, size: usize, conns: usize, latencies: &mut [Duration], failed: u64, elapsed: f64) {
    latencies.sort_unstable();
    let n = latencies.len();
    let pct = |p: f64| {
        latencies.get(((n as f64 * p) as usize).min(n.saturating_sub(1))).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let rate = n as f64 / elapsed;
    println!(
        "{name} size={size} conns={conns} requests={n} failed={failed} rate={rate:.0}/s throughput={:.1}MB/s p50={:.2}ms p99={:.2}ms",
        rate * size as f64 / 1e6,
        pct(0.5),
        pct(0.99)
    );
}

async fn get_url(url: String, conns: usize, seconds: f64) {
    let client = client();
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..conns {
        let (client, url, stop) = (client.clone(), url.clone(), stop.clone());
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut failed = 0;
            let mut size = 0;
            while !stop.load(Ordering::Relaxed) {
                let t0 = Instant::now();
                let req = http::Request::get(&url).body(Full::new(Bytes::new())).unwrap();
                match client.request(req).await {
                    Ok(resp) if resp.status() == 200 => match resp.into_body().collect().await {
                        Ok(body) => size = body.to_bytes().len(),
                        Err(_) => failed += 1,
                    },
                    _ => failed += 1,
                }
                lat.push(t0.elapsed());
            }
            (lat, failed, size)
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let mut failed = 0;
    let mut size = 0;
    for h in handles {
        let (l, f, s) = h.await.unwrap();
        all.extend(l);
        failed += f;
        size = size.max(s);
    }
    report("GET-URL", size, conns, &mut all, failed, started.elapsed().as_secs_f64());
}

fn disk(dir: &std::path::Path, seconds: f64, bytes: u64) {
    use std::io::Write;
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("tarn-bench-disk.tmp");
    let mut f = std::fs::File::create(&path).unwrap();
    let block = vec![7u8; 4096];
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed().as_secs_f64() < seconds {
        f.write_all(&block).unwrap();
        f.sync_data().unwrap();
        n += 1;
    }
    let fsync_rate = n as f64 / started.elapsed().as_secs_f64();
    drop(f);
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![9u8; 1 << 20];
    let started = Instant::now();
    let mut written = 0u64;
    while written < bytes {
        f.write_all(&chunk).unwrap();
        written += chunk.len() as u64;
    }
    f.sync_all().unwrap();
    let seq = written as f64 / started.elapsed().as_secs_f64() / 1e6;
    drop(f);
    std::fs::remove_file(&path).unwrap();
    println!("DISK fsync_4k_writes={fsync_rate:.0}/s sequential_write={seq:.0}MB/s");
}
