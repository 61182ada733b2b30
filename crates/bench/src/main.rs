//! `tarn-bench`: a compiled S3 load generator (SigV4-signed, UNSIGNED-PAYLOAD, keep-alive
//! connections) plus the disk's own baselines, so every figure can be reported as a ratio
//! against something measured in the same run.
//!
//! ```text
//! tarn-bench put  --endpoint http://127.0.0.1:4566 --bucket b --size 4096 --conns 64 --seconds 10
//! tarn-bench get  --endpoint ... --bucket b --size 4096 --conns 64 --seconds 10
//! tarn-bench get-url --url http://127.0.0.1:8080/4k.bin --conns 64 --seconds 10   (nginx ceiling)
//! tarn-bench disk --dir /path --seconds 5                                          (fsync'd 4 KiB writes/s, sequential MB/s)
//! tarn-bench kinesis-create --endpoint ... --stream s --shards 4                  (CreateStream, wait for ACTIVE)
//! tarn-bench kinesis-put --endpoint ... --stream s --producers 16 --batch 500 --size 1024 --seconds 10
//! tarn-bench kinesis-get --endpoint ... --stream s --seconds 60                    (every shard from TRIM_HORIZON)
//! ```
//!
//! The Kinesis commands speak JSON 1.1 (`X-Amz-Target: Kinesis_20131202.<Op>`), signed with SigV4
//! for service `kinesis` over the sha256 of the body.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::{Parser, Subcommand};

mod authz;
// the server's allocator, so `authz` measures what the server pays
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
mod firehose;
mod tpch;
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
    /// An extra header, signed, on every request (`name:value`; repeatable), e.g.
    /// `x-amz-server-side-encryption:aws:kms`.
    #[arg(long = "header")]
    headers: Vec<String>,
    /// PEM certificate(s) an `https://` endpoint is trusted by (tarn's `keys/tls-cert.pem`
    /// under `--tls-self-signed`).
    #[arg(long)]
    ca_file: Option<std::path::PathBuf>,
}

impl Target {
    /// The extra headers, names lower-cased, sorted (as SigV4 signs them).
    fn extra_headers(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .headers
            .iter()
            .filter_map(|h| h.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        out.sort();
        out
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Write TPC-H tables as Parquet: DIR/<table>/part-0.parquet.
    TpchGen {
        #[arg(long, default_value_t = 1.0)]
        sf: f64,
        #[arg(long)]
        out: std::path::PathBuf,
    },
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
    /// Kinesis CreateStream, then wait until DescribeStreamSummary says ACTIVE.
    KinesisCreate {
        #[command(flatten)]
        conn: KinesisConn,
        #[arg(long, default_value_t = 4)]
        shards: u32,
        /// Give up waiting for ACTIVE after this many seconds.
        #[arg(long, default_value_t = 60.0)]
        timeout: f64,
    },
    /// Kinesis PutRecords from --producers concurrent loops of --batch records of --size bytes.
    KinesisPut {
        #[command(flatten)]
        conn: KinesisConn,
        /// Concurrent producers (one PutRecords in flight each).
        #[arg(long, default_value_t = 1)]
        producers: usize,
        /// Records per PutRecords call (1..=500).
        #[arg(long, default_value_t = 500)]
        batch: usize,
        /// Record size in bytes (before base64).
        #[arg(long, default_value_t = 1024)]
        size: usize,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
    },
    /// Kinesis GetRecords: one reader per shard from TRIM_HORIZON until caught up (or --seconds).
    KinesisGet {
        #[command(flatten)]
        conn: KinesisConn,
        /// Stop reading after this many seconds even if not caught up.
        #[arg(long, default_value_t = 60.0)]
        seconds: f64,
        /// GetRecords Limit.
        #[arg(long, default_value_t = 10_000)]
        limit: u32,
    },
    /// Firehose CreateDeliveryStream into --bucket (which must exist: `mb`), plain files, then
    /// wait until ACTIVE.
    FirehoseCreate {
        #[command(flatten)]
        conn: KinesisConn,
        #[arg(long, default_value = "bench")]
        bucket: String,
    },
    /// Firehose PutRecordBatch of --records JSON records of about --size bytes (a click-stream
    /// shape) from --producers loops; `--dump FILE` only writes the same records as JSON Lines.
    FirehosePut {
        #[command(flatten)]
        conn: KinesisConn,
        #[arg(long, default_value_t = 8)]
        producers: usize,
        #[arg(long, default_value_t = 500)]
        batch: usize,
        #[arg(long, default_value_t = 1_000_000)]
        records: u64,
        #[arg(long, default_value_t = 500)]
        size: usize,
        #[arg(long)]
        dump: Option<std::path::PathBuf>,
    },
    /// CloudTrail CreateTrail into --bucket (which must exist), with S3 data events selected,
    /// then StartLogging: the trail delivers every call as gzip JSON files into the bucket.
    TrailCreate {
        #[command(flatten)]
        conn: KinesisConn,
        #[arg(long, default_value = "bench-trail")]
        name: String,
        #[arg(long)]
        bucket: String,
    },
    /// What identity and authorization cost per S3 request, without the network: the root
    /// beside a user with 10 conditional policies (bench/iam.sh's setup), in nanoseconds.
    Authz {
        #[arg(long, default_value_t = 200_000)]
        iterations: usize,
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
        Cmd::TpchGen { sf, out } => {
            if let Err(e) = tpch::generate(sf, &out) {
                eprintln!("tpch-gen: {e}");
                std::process::exit(1);
            }
        }
        Cmd::Put(t) => rt.block_on(load(t, Op::Put)),
        Cmd::Get(t) => rt.block_on(load(t, Op::Get)),
        Cmd::Mb(t) => rt.block_on(async move {
            let client = client_trusting(t.ca_file.as_deref());
            let signer = Signer::new(&t);
            let status = send(&client, &signer, &t, "PUT", &format!("/{}", t.bucket), Bytes::new()).await;
            println!("create bucket: {status}");
        }),
        Cmd::GetUrl { url, conns, seconds } => rt.block_on(get_url(url, conns, seconds)),
        Cmd::Disk { dir, seconds, bytes } => disk(&dir, seconds, bytes),
        Cmd::Authz { iterations } => {
            if let Err(e) = authz::run(iterations) {
                eprintln!("authz: {e}");
                std::process::exit(1);
            }
        }
        Cmd::KinesisCreate { conn, shards, timeout } => {
            if let Err(e) = rt.block_on(kinesis_create(conn, shards, timeout)) {
                eprintln!("kinesis-create: {e}");
                std::process::exit(1);
            }
        }
        Cmd::KinesisPut { conn, producers, batch, size, seconds } => {
            if let Err(e) = rt.block_on(kinesis_put(conn, producers, batch, size, seconds)) {
                eprintln!("kinesis-put: {e}");
                std::process::exit(1);
            }
        }
        Cmd::FirehosePut { conn, producers, batch, records, size, dump } => {
            let result = match dump {
                Some(path) => firehose::dump(&path, records, size),
                None => rt.block_on(firehose::put(Kinesis::firehose(conn), producers, batch, records, size)),
            };
            if let Err(e) = result {
                eprintln!("firehose-put: {e}");
                std::process::exit(1);
            }
        }
        Cmd::FirehoseCreate { conn, bucket } => {
            if let Err(e) = rt.block_on(firehose_create(conn, bucket)) {
                eprintln!("firehose-create: {e}");
                std::process::exit(1);
            }
        }
        Cmd::TrailCreate { conn, name, bucket } => {
            if let Err(e) = rt.block_on(trail_create(conn, &name, &bucket)) {
                eprintln!("trail-create: {e}");
                std::process::exit(1);
            }
        }
        Cmd::KinesisGet { conn, seconds, limit } => {
            if let Err(e) = rt.block_on(kinesis_get(conn, seconds, limit)) {
                eprintln!("kinesis-get: {e}");
                std::process::exit(1);
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Put,
    Get,
}

type HttpClient = Client<hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>, Full<Bytes>>;

/// A keep-alive client for `http://` endpoints and, trusting the certificates of `ca_file`,
/// `https://` ones (HTTP/1.1 either way, as SDKs talk to S3).
fn client_trusting(ca_file: Option<&std::path::Path>) -> HttpClient {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::CertificateDer;
    use tokio_rustls::rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .unwrap_or_else(|e| panic!("--ca-file {}: {e}", path.display()));
        for cert in certs {
            roots.add(cert).unwrap_or_else(|e| panic!("--ca-file {}: {e}", path.display()));
        }
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.set_nodelay(true);
    http.enforce_http(false);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new()).pool_max_idle_per_host(1024).build(connector)
}

fn client() -> HttpClient {
    client_trusting(None)
}

struct Signer {
    key: String,
    secret: String,
    region: String,
    host: String,
}

impl Signer {
    fn new(t: &Target) -> Self {
        let host = without_scheme(&t.endpoint).trim_end_matches('/').to_string();
        Self { key: t.access_key.clone(), secret: t.secret_key.clone(), region: t.region.clone(), host }
    }

    fn sign(&self, method: &str, path: &str, date: &str, extra: &[(String, String)]) -> String {
        let payload = "UNSIGNED-PAYLOAD";
        let mut headers: Vec<(String, String)> = vec![
            ("host".into(), self.host.clone()),
            ("x-amz-content-sha256".into(), payload.into()),
            ("x-amz-date".into(), date.into()),
        ];
        headers.extend(extra.iter().cloned());
        headers.sort();
        let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        let signed: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
        let signed = signed.join(";");
        let canonical = format!("{method}\n{path}\n\n{canonical_headers}\n{signed}\n{payload}");
        let (scope, sig) = sigv4_signature(&self.secret, &self.region, "s3", date, &canonical);
        format!("AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={sig}", self.key)
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
    // a bucket's creation takes none of the object headers
    let extra = if path.matches('/').count() > 1 { t.extra_headers() } else { Vec::new() };
    let mut req = http::Request::builder()
        .method(method)
        .uri(format!("{}{path}", t.endpoint))
        .header("host", &signer.host)
        .header("x-amz-date", &date)
        .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
        .header("authorization", signer.sign(method, path, &date, &extra))
        .header("content-length", body.len());
    for (k, v) in &extra {
        req = req.header(k.as_str(), v.as_str());
    }
    let req = req.body(Full::new(body)).unwrap();
    match client.request(req).await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let _ = resp.into_body().collect().await;
            status
        }
        Err(_) => 0,
    }
}

/// `host:port` of an `http://` or `https://` endpoint.
fn without_scheme(endpoint: &str) -> &str {
    endpoint.trim_start_matches("https://").trim_start_matches("http://")
}

async fn load(t: Target, op: Op) {
    let client = client_trusting(t.ca_file.as_deref());
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

// ---------------------------------------------------------------- Kinesis (JSON 1.1)

const JSON_11: &str = "application/x-amz-json-1.1";

#[derive(clap::Args, Clone)]
struct KinesisConn {
    #[arg(long, default_value = "http://127.0.0.1:4566")]
    endpoint: String,
    #[arg(long, default_value = "bench")]
    stream: String,
    #[arg(long, env = "AWS_ACCESS_KEY_ID", default_value = "")]
    access_key: String,
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", default_value = "")]
    secret_key: String,
    #[arg(long, default_value = "us-east-1")]
    region: String,
}

/// A failed call: the HTTP status (0: no response) and the response body or transport error.
#[derive(Debug)]
struct CallError {
    status: u16,
    body: String,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let body: String = self.body.chars().take(300).collect();
        if self.status == 0 { write!(f, "no response: {body}") } else { write!(f, "HTTP {}: {body}", self.status) }
    }
}

/// A keep-alive JSON 1.1 client for one Kinesis endpoint, signing every request with SigV4
/// (service `kinesis`, payload hash = hex sha256 of the body).
#[derive(Clone)]
struct Kinesis {
    client: HttpClient,
    conn: Arc<KinesisConn>,
    host: String,
    url: String,
    /// SigV4 service name and `X-Amz-Target` prefix (Kinesis, or Firehose for `firehose-put`).
    service: &'static str,
    target_prefix: &'static str,
}

impl Kinesis {
    fn new(conn: KinesisConn) -> Self {
        let base = conn.endpoint.trim_end_matches('/');
        let host = without_scheme(base).to_string();
        let url = format!("{base}/");
        Self {
            client: client(),
            conn: Arc::new(conn),
            host,
            url,
            service: "kinesis",
            target_prefix: "Kinesis_20131202",
        }
    }

    fn firehose(conn: KinesisConn) -> Self {
        Self { service: "firehose", target_prefix: "Firehose_20150804", ..Self::new(conn) }
    }

    fn authorization(&self, target: &str, date: &str, body: &[u8]) -> String {
        const SIGNED: &str = "content-type;host;x-amz-date;x-amz-target";
        let payload = hex::encode(Sha256::digest(body));
        let canonical = format!(
            "POST\n/\n\ncontent-type:{JSON_11}\nhost:{}\nx-amz-date:{date}\nx-amz-target:{target}\n\n{SIGNED}\n{payload}",
            self.host
        );
        let (scope, sig) = sigv4_signature(&self.conn.secret_key, &self.conn.region, self.service, date, &canonical);
        format!("AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={SIGNED}, Signature={sig}", self.conn.access_key)
    }

    /// POSTs `body` as `Kinesis_20131202.<op>`; Ok is the body of a 200 response.
    async fn call(&self, op: &str, body: Vec<u8>) -> Result<Bytes, CallError> {
        let target = format!("{}.{op}", self.target_prefix);
        let date = amz_date();
        let auth = self.authorization(&target, &date, &body);
        let req = http::Request::builder()
            .method("POST")
            .uri(&self.url)
            .header("host", &self.host)
            .header("x-amz-date", &date)
            .header("x-amz-target", &target)
            .header("content-type", JSON_11)
            .header("authorization", auth)
            .header("content-length", body.len())
            .body(Full::new(Bytes::from(body)))
            .expect("request");
        let resp = self.client.request(req).await.map_err(|e| CallError { status: 0, body: e.to_string() })?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.map_err(|e| CallError { status, body: e.to_string() })?.to_bytes();
        if status == 200 {
            Ok(body)
        } else {
            Err(CallError { status, body: String::from_utf8_lossy(&body).into_owned() })
        }
    }

    async fn call_json(&self, op: &str, body: &serde_json::Value) -> Result<serde_json::Value, CallError> {
        let bytes = self.call(op, serde_json::to_vec(body).expect("json body")).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| CallError { status: 200, body: format!("{op} response is not JSON: {e}") })
    }
}

async fn trail_create(conn: KinesisConn, name: &str, bucket: &str) -> Result<(), CallError> {
    let trail = Kinesis {
        service: "cloudtrail",
        target_prefix: "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101",
        ..Kinesis::new(conn)
    };
    trail.call_json("CreateTrail", &serde_json::json!({"Name": name, "S3BucketName": bucket})).await?;
    let selectors = serde_json::json!({"TrailName": name, "EventSelectors": [{
        "ReadWriteType": "All", "IncludeManagementEvents": true,
        "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}]}]});
    trail.call_json("PutEventSelectors", &selectors).await?;
    trail.call_json("StartLogging", &serde_json::json!({"Name": name})).await?;
    println!("trail {name} logging into s3://{bucket}");
    Ok(())
}

/// SigV4 over a canonical request: (credential scope, hex signature).
fn sigv4_signature(secret: &str, region: &str, service: &str, date: &str, canonical: &str) -> (String, String) {
    let day = &date[..8];
    let scope = format!("{day}/{region}/{service}/aws4_request");
    let to_sign = format!("AWS4-HMAC-SHA256\n{date}\n{scope}\n{}", hex::encode(Sha256::digest(canonical.as_bytes())));
    let mut k = hmac(format!("AWS4{secret}").as_bytes(), day.as_bytes());
    k = hmac(&k, region.as_bytes());
    k = hmac(&k, service.as_bytes());
    k = hmac(&k, b"aws4_request");
    (scope, hex::encode(hmac(&k, to_sign.as_bytes())))
}

/// splitmix64: cheap, well-spread partition keys and payloads.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// (p50, p99) in ms.
fn percentiles(latencies: &mut [Duration]) -> (f64, f64) {
    latencies.sort_unstable();
    let n = latencies.len();
    let pct = |p: f64| latencies.get(((n as f64 * p) as usize).min(n.saturating_sub(1))).map_or(0.0, |d| ms(*d));
    (pct(0.5), pct(0.99))
}

async fn firehose_create(conn: KinesisConn, bucket: String) -> Result<(), String> {
    let f = Kinesis::firehose(conn);
    let name = f.conn.stream.clone();
    let started = Instant::now();
    let body = serde_json::json!({
        "DeliveryStreamName": name,
        "ExtendedS3DestinationConfiguration": {
            "RoleARN": "arn:aws:iam::000000000000:role/firehose",
            "BucketARN": format!("arn:aws:s3:::{bucket}"),
            "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 60},
        },
    });
    f.call_json("CreateDeliveryStream", &body).await.map_err(|e| format!("CreateDeliveryStream: {e}"))?;
    loop {
        let v = f
            .call_json("DescribeDeliveryStream", &serde_json::json!({ "DeliveryStreamName": name }))
            .await
            .map_err(|e| format!("DescribeDeliveryStream: {e}"))?;
        if v["DeliveryStreamDescription"]["DeliveryStreamStatus"] == "ACTIVE" {
            println!("FIREHOSE-CREATE stream={name} status=ACTIVE after={:.0}ms", ms(started.elapsed()));
            return Ok(());
        }
        if started.elapsed().as_secs() > 60 {
            return Err(format!("delivery stream {name} not ACTIVE after 60 s"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn kinesis_create(conn: KinesisConn, shards: u32, timeout: f64) -> Result<(), String> {
    let k = Kinesis::new(conn);
    let stream = k.conn.stream.clone();
    let started = Instant::now();
    match k.call_json("CreateStream", &serde_json::json!({ "StreamName": stream, "ShardCount": shards })).await {
        Ok(_) => {}
        Err(e) if e.body.contains("ResourceInUseException") => eprintln!("stream {stream} already exists"),
        Err(e) => return Err(format!("CreateStream: {e}")),
    }
    loop {
        let v = k
            .call_json("DescribeStreamSummary", &serde_json::json!({ "StreamName": stream }))
            .await
            .map_err(|e| format!("DescribeStreamSummary: {e}"))?;
        let summary = &v["StreamDescriptionSummary"];
        let status = summary["StreamStatus"].as_str().unwrap_or("?");
        if status == "ACTIVE" {
            println!(
                "KINESIS-CREATE stream={stream} shards={} status=ACTIVE after={:.0}ms",
                summary["OpenShardCount"],
                ms(started.elapsed())
            );
            return Ok(());
        }
        if started.elapsed().as_secs_f64() > timeout {
            return Err(format!("stream {stream} still {status} after {timeout}s"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordsBody<'a> {
    stream_name: &'a str,
    records: Vec<PutEntry<'a>>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct PutEntry<'a> {
    data: &'a str,
    partition_key: String,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordsOut {
    #[serde(default)]
    failed_record_count: u64,
    #[serde(default)]
    records: Vec<PutResultEntry>,
}

/// One entry of a PutRecords answer; ShardId and SequenceNumber are skipped unparsed.
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutResultEntry {
    error_code: Option<String>,
    error_message: Option<String>,
}

#[derive(Default)]
struct ProducerStats {
    latencies: Vec<Duration>,
    acked: u64,
    failed: u64,
    calls: u64,
    errors: u64,
    first_error: Option<String>,
}

async fn kinesis_put(
    conn: KinesisConn,
    producers: usize,
    batch: usize,
    size: usize,
    seconds: f64,
) -> Result<(), String> {
    if !(1..=500).contains(&batch) {
        return Err(format!("--batch must be 1..=500, not {batch}"));
    }
    let k = Kinesis::new(conn);
    // a pool of distinct payloads, base64-encoded once: the producers only pick and copy
    let seed = time::OffsetDateTime::now_utc().unix_timestamp_nanos() as u64;
    let mut rng = SplitMix(seed);
    let pool: Arc<Vec<String>> = Arc::new(
        (0..64)
            .map(|_| {
                let bytes: Vec<u8> = (0..size).map(|_| rng.next() as u8).collect();
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes)
            })
            .collect(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut handles = Vec::new();
    for p in 0..producers {
        let (k, pool, stop) = (k.clone(), pool.clone(), stop.clone());
        let mut rng = SplitMix(seed ^ (p as u64 + 1).wrapping_mul(0xA24B_AED4_963E_E407));
        handles.push(tokio::spawn(async move {
            let mut st = ProducerStats::default();
            while !stop.load(Ordering::Relaxed) {
                let records = (0..batch)
                    .map(|_| {
                        let r = rng.next();
                        PutEntry {
                            data: &pool[(r % pool.len() as u64) as usize],
                            partition_key: format!("pk-{r:016x}"),
                        }
                    })
                    .collect();
                let body = serde_json::to_vec(&PutRecordsBody { stream_name: &k.conn.stream, records })
                    .expect("PutRecords body");
                let t0 = Instant::now();
                let res = k.call("PutRecords", body).await;
                st.latencies.push(t0.elapsed());
                st.calls += 1;
                let err = match res {
                    Ok(bytes) => match serde_json::from_slice::<PutRecordsOut>(&bytes) {
                        Ok(out) if out.records.len() == batch => {
                            let failed = out.records.iter().filter(|r| r.error_code.is_some()).count() as u64;
                            st.acked += batch as u64 - failed;
                            st.failed += failed;
                            if failed != out.failed_record_count && st.first_error.is_none() {
                                st.first_error = Some(format!(
                                    "FailedRecordCount {} but {failed} records carry an ErrorCode",
                                    out.failed_record_count
                                ));
                            }
                            if st.first_error.is_none()
                                && let Some(r) = out.records.iter().find(|r| r.error_code.is_some())
                            {
                                st.first_error = Some(format!(
                                    "record failed: {}: {}",
                                    r.error_code.as_deref().unwrap_or(""),
                                    r.error_message.as_deref().unwrap_or("")
                                ));
                            }
                            None
                        }
                        Ok(out) => Some(format!("{} results for {batch} records", out.records.len())),
                        Err(e) => Some(format!("PutRecords response is not valid: {e}")),
                    },
                    Err(e) => {
                        if e.status == 0 {
                            // no server: do not spin
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                        Some(e.to_string())
                    }
                };
                if let Some(e) = err {
                    st.errors += 1;
                    st.failed += batch as u64;
                    st.first_error.get_or_insert(e);
                }
            }
            st
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = ProducerStats::default();
    for h in handles {
        let st = h.await.map_err(|e| e.to_string())?;
        all.latencies.extend(st.latencies);
        all.acked += st.acked;
        all.failed += st.failed;
        all.calls += st.calls;
        all.errors += st.errors;
        if all.first_error.is_none() {
            all.first_error = st.first_error;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (p50, p99) = percentiles(&mut all.latencies);
    let rate = all.acked as f64 / elapsed;
    if let Some(e) = &all.first_error {
        eprintln!("kinesis-put: first error: {e}");
    }
    println!(
        "KINESIS-PUT producers={producers} records={} failed={} rate={rate:.0}/s throughput={:.1}MB/s p50={p50:.2}ms p99={p99:.2}ms batch={batch} size={size} calls={} errors={}",
        all.acked,
        all.failed,
        rate * size as f64 / 1e6,
        all.calls,
        all.errors
    );
    Ok(())
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetRecordsOut<'a> {
    #[serde(borrow, default)]
    records: Vec<GetRecord<'a>>,
    next_shard_iterator: Option<String>,
    #[serde(default)]
    millis_behind_latest: i64,
}

/// One record of a GetRecords answer: only Data is looked at (its decoded length).
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetRecord<'a> {
    #[serde(borrow)]
    data: std::borrow::Cow<'a, str>,
}

/// The decoded length of padded base64, without decoding it.
fn base64_len(s: &str) -> Option<u64> {
    if !s.len().is_multiple_of(4) {
        return None;
    }
    let pad = s.bytes().rev().take_while(|&b| b == b'=').count();
    Some((s.len() / 4 * 3 - pad) as u64)
}

#[derive(Default)]
struct ReaderStats {
    latencies: Vec<Duration>,
    records: u64,
    bytes: u64,
    calls: u64,
    errors: u64,
    caught_up: bool,
    error: Option<String>,
}

async fn list_shards(k: &Kinesis) -> Result<Vec<String>, String> {
    let mut shards = Vec::new();
    let mut body = serde_json::json!({ "StreamName": k.conn.stream });
    loop {
        let v = k.call_json("ListShards", &body).await.map_err(|e| format!("ListShards: {e}"))?;
        for s in v["Shards"].as_array().into_iter().flatten() {
            shards.push(s["ShardId"].as_str().ok_or("ListShards: a shard without ShardId")?.to_string());
        }
        match v["NextToken"].as_str() {
            Some(token) => body = serde_json::json!({ "NextToken": token }),
            None => return Ok(shards),
        }
    }
}

async fn read_shard(k: Kinesis, shard: String, deadline: Instant, limit: u32) -> ReaderStats {
    let mut st = ReaderStats::default();
    let body =
        serde_json::json!({ "StreamName": k.conn.stream, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON" });
    let mut iterator = match k.call_json("GetShardIterator", &body).await {
        Ok(v) => match v["ShardIterator"].as_str() {
            Some(it) => it.to_string(),
            None => {
                st.error = Some(format!("GetShardIterator {shard}: no ShardIterator in {v}"));
                return st;
            }
        },
        Err(e) => {
            st.error = Some(format!("GetShardIterator {shard}: {e}"));
            return st;
        }
    };
    let mut retries = 0;
    while Instant::now() < deadline {
        let body = serde_json::to_vec(&serde_json::json!({ "ShardIterator": iterator, "Limit": limit }))
            .expect("GetRecords body");
        let t0 = Instant::now();
        let res = k.call("GetRecords", body).await;
        st.latencies.push(t0.elapsed());
        st.calls += 1;
        let bytes = match res {
            Ok(b) => b,
            Err(e) => {
                st.errors += 1;
                st.error.get_or_insert_with(|| format!("GetRecords {shard}: {e}"));
                retries += 1;
                if retries > 5 {
                    return st;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let out: GetRecordsOut = match serde_json::from_slice(&bytes) {
            Ok(o) => o,
            Err(e) => {
                st.errors += 1;
                st.error.get_or_insert_with(|| format!("GetRecords {shard}: response is not valid: {e}"));
                return st;
            }
        };
        retries = 0;
        st.records += out.records.len() as u64;
        for r in &out.records {
            match base64_len(&r.data) {
                Some(n) => st.bytes += n,
                None => {
                    st.errors += 1;
                    st.error.get_or_insert_with(|| format!("GetRecords {shard}: Data is not padded base64"));
                }
            }
        }
        if out.records.is_empty() && out.millis_behind_latest == 0 {
            st.caught_up = true;
            break;
        }
        match out.next_shard_iterator {
            Some(next) => iterator = next,
            None => {
                // a closed shard read to its end
                st.caught_up = true;
                break;
            }
        }
    }
    st
}

async fn kinesis_get(conn: KinesisConn, seconds: f64, limit: u32) -> Result<(), String> {
    let k = Kinesis::new(conn);
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let shards = list_shards(&k).await?;
    if shards.is_empty() {
        return Err(format!("stream {} has no shards", k.conn.stream));
    }
    let handles: Vec<_> =
        shards.iter().map(|s| tokio::spawn(read_shard(k.clone(), s.clone(), deadline, limit))).collect();
    let mut all = ReaderStats { caught_up: true, ..ReaderStats::default() };
    for (shard, h) in shards.iter().zip(handles) {
        let st = h.await.map_err(|e| e.to_string())?;
        eprintln!(
            "kinesis-get: {shard}: records={} calls={} errors={} caught_up={}",
            st.records,
            st.calls,
            st.errors,
            if st.caught_up { "yes" } else { "no" }
        );
        if let Some(e) = &st.error {
            eprintln!("kinesis-get: {shard}: first error: {e}");
        }
        all.latencies.extend(st.latencies);
        all.records += st.records;
        all.bytes += st.bytes;
        all.calls += st.calls;
        all.errors += st.errors;
        all.caught_up &= st.caught_up && st.error.is_none();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (p50, p99) = percentiles(&mut all.latencies);
    let rate = all.records as f64 / elapsed;
    println!(
        "KINESIS-GET records={} rate={rate:.0}/s throughput={:.1}MB/s shards={} calls={} errors={} caught_up={} elapsed={elapsed:.2}s p50={p50:.2}ms p99={p99:.2}ms",
        all.records,
        all.bytes as f64 / elapsed / 1e6,
        shards.len(),
        all.calls,
        all.errors,
        if all.caught_up { "yes" } else { "no" }
    );
    Ok(())
}
