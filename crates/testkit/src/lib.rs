//! Test support: a real `tarn` process on an ephemeral port with its own data dir, SDK clients
//! pointed at it, and a raw HTTP client (with a SigV4 signer) for requests no SDK would send.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub mod python;

pub use aws_sdk_kinesis;
pub use aws_sdk_s3;
pub use tempfile;

/// Root credentials every test server uses.
pub const ACCESS_KEY_ID: &str = "AKIATARNTESTKEY00001";
pub const SECRET_ACCESS_KEY: &str = "tarnTestSecretKey/0000000000000000000000";
pub const REGION: &str = "us-east-1";

/// A `tarn serve` child process. Killed on drop.
pub struct TestServer {
    binary: PathBuf,
    data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    child: Option<Child>,
    pub addr: SocketAddr,
    /// Where the PostgreSQL wire protocol listens.
    pub pg_addr: SocketAddr,
    /// Extra arguments after `serve --data-dir DIR --listen ADDR`, on every (re)start.
    extra_args: Vec<String>,
    /// Extra environment variables, on every (re)start.
    extra_env: Vec<(String, String)>,
    /// Whether `TARN_ROOT_ACCESS_KEY_ID` / `TARN_ROOT_SECRET_ACCESS_KEY` are set to the test
    /// credentials (otherwise both are removed from the child's environment).
    root_env: bool,
    /// Where the child's stdout goes: one file per start, in the temp dir.
    stdout_path: Option<PathBuf>,
    /// What the current run printed to stderr (its first 64 KiB).
    stderr_log: Option<Arc<Mutex<String>>>,
    starts: u32,
}

impl TestServer {
    /// Starts `binary` (a test's `env!("CARGO_BIN_EXE_tarn")`) on a fresh data dir.
    #[must_use]
    pub fn start(binary: &str) -> Self {
        let temp = tempfile::Builder::new().prefix("tarn-test-").tempdir().expect("temp dir");
        let data_dir = temp.path().join("data");
        let mut server = Self {
            binary: binary.into(),
            data_dir,
            _temp: Some(temp),
            child: None,
            addr: free_addr(),
            pg_addr: free_addr(),
            extra_args: Vec::new(),
            extra_env: Vec::new(),
            root_env: true,
            stdout_path: None,
            stderr_log: None,
            starts: 0,
        };
        server.spawn();
        server
    }

    /// Like [`TestServer::start`], with extra `args` after `serve --data-dir DIR --listen ADDR`
    /// (e.g. `["--region", "eu-west-1"]`) and extra `env`. With `with_root_env` false the child
    /// gets no `TARN_ROOT_*` variables at all, so it generates (or loads) root credentials in its
    /// data dir. The same args and env apply on every restart. The child's stdout is captured;
    /// see [`TestServer::stdout`].
    #[must_use]
    pub fn start_with(binary: &str, args: &[&str], env: &[(&str, &str)], with_root_env: bool) -> Self {
        let temp = tempfile::Builder::new().prefix("tarn-test-").tempdir().expect("temp dir");
        let data_dir = temp.path().join("data");
        let mut server = Self {
            binary: binary.into(),
            data_dir,
            _temp: Some(temp),
            child: None,
            addr: free_addr(),
            pg_addr: free_addr(),
            extra_args: args.iter().map(|a| (*a).to_string()).collect(),
            extra_env: env.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect(),
            root_env: with_root_env,
            stdout_path: None,
            stderr_log: None,
            starts: 0,
        };
        server.spawn();
        server
    }

    /// What the current (or last) run of the server printed to stderr so far (its logs; the
    /// first 64 KiB).
    #[must_use]
    pub fn stderr(&self) -> String {
        self.stderr_log.as_ref().and_then(|l| l.lock().ok().map(|s| s.clone())).unwrap_or_default()
    }

    /// What the current (or last) run of the server printed to stdout so far.
    #[must_use]
    pub fn stdout(&self) -> String {
        self.stdout_path.as_ref().and_then(|p| std::fs::read_to_string(p).ok()).unwrap_or_default()
    }

    /// The root credentials the current (or last) run printed as `export AWS_ACCESS_KEY_ID=...`
    /// and `export AWS_SECRET_ACCESS_KEY=...` lines, if it printed both.
    #[must_use]
    pub fn printed_credentials(&self) -> Option<(String, String)> {
        parse_printed_credentials(&self.stdout())
    }

    /// Waits up to `timeout` for the process to exit by itself (no signal is sent); kills it
    /// if it does not. Returns its exit status if it exited in time.
    pub fn wait_for_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// Process id of the running server.
    #[must_use]
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sends SIGTERM and waits up to `timeout` for the process to exit by itself.
    pub fn terminate(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    #[must_use]
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    #[must_use]
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn spawn_once(&mut self) -> Result<(), String> {
        self.starts += 1;
        let stdout = match self._temp.as_ref() {
            Some(temp) => {
                let path = temp.path().join(format!("stdout-{}.log", self.starts));
                let file = std::fs::File::create(&path).expect("create stdout capture file");
                self.stdout_path = Some(path);
                Stdio::from(file)
            }
            None => Stdio::null(),
        };
        let mut cmd = Command::new(&self.binary);
        cmd.args(["serve", "--data-dir"])
            .arg(&self.data_dir)
            .args(["--listen", &self.addr.to_string()])
            .args(["--pg-listen", &self.pg_addr.to_string()])
            .args(&self.extra_args)
            .env("RUST_LOG", std::env::var("TARN_TEST_LOG").unwrap_or_else(|_| "warn,s3s=off".into()))
            // tests stop servers at once (a test of the grace period sets its own)
            .env("TARN_SHUTDOWN_GRACE_MS", "0");
        if self.root_env {
            cmd.env("TARN_ROOT_ACCESS_KEY_ID", ACCESS_KEY_ID).env("TARN_ROOT_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY);
        } else {
            cmd.env_remove("TARN_ROOT_ACCESS_KEY_ID").env_remove("TARN_ROOT_SECRET_ACCESS_KEY");
        }
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        let mut child = cmd.stdout(stdout).stderr(Stdio::piped()).spawn().expect("spawn tarn");
        let stderr = forward_stderr(child.stderr.take().expect("piped stderr"));
        self.stderr_log = Some(Arc::clone(&stderr));
        self.child = Some(child);
        self.wait_healthy(&stderr)
    }

    /// Spawns the server, and if a port it was given turned out to be taken (another process
    /// bound it after [`free_addr`] released it), tries again: on a first start with new ports,
    /// on a restart with the same ones a little later (clients hold the address).
    fn spawn(&mut self) {
        let first = self.starts == 0;
        for attempt in 0.. {
            match self.spawn_once() {
                Ok(()) => return,
                Err(why) if why.contains("Address already in use") && attempt < 20 => {
                    eprintln!("testkit: tarn could not bind its ports ({}, {}); trying again", self.addr, self.pg_addr);
                    if first {
                        self.addr = free_addr();
                        self.pg_addr = free_addr();
                    } else {
                        std::thread::sleep(Duration::from_millis(250));
                    }
                }
                Err(why) => panic!("{why}"),
            }
        }
    }

    fn wait_healthy(&mut self, stderr: &Arc<Mutex<String>>) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(resp) =
                raw_request(self.addr, b"GET /_tarn/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                && resp.status == 200
            {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                // the forwarding thread may still be copying the last lines
                std::thread::sleep(Duration::from_millis(50));
                let text = stderr.lock().map(|s| s.clone()).unwrap_or_default();
                return Err(format!("tarn exited before becoming healthy: {status}; stderr: {text}"));
            }
            assert!(Instant::now() < deadline, "tarn did not become healthy within 30 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the server process is still alive.
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Stops the server gracefully (SIGTERM) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            #[cfg(unix)]
            {
                let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
            }
            let deadline = Instant::now() + Duration::from_secs(30);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sets an environment variable for the next (re)start of the server.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.extra_env.retain(|(k, _)| k != key);
        self.extra_env.push((key.to_string(), value.to_string()));
    }

    /// Starts the server again on the same data dir and port.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Starts the server again after a [`TestServer::kill`].
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "server still running");
        self.spawn();
    }

    /// An S3 client from the AWS SDK for Rust, path-style.
    #[must_use]
    pub fn s3(&self) -> aws_sdk_s3::Client {
        s3_client(&self.endpoint(), true)
    }

    /// A path-style S3 client that signs for `region` (for servers started with `--region`).
    #[must_use]
    pub fn s3_in_region(&self, region: &str) -> aws_sdk_s3::Client {
        s3_client_in_region(&self.endpoint(), true, ACCESS_KEY_ID, SECRET_ACCESS_KEY, region)
    }

    /// A Kinesis client from the AWS SDK for Rust.
    #[must_use]
    pub fn kinesis(&self) -> aws_sdk_kinesis::Client {
        kinesis_client(&self.endpoint())
    }

    /// A Firehose client from the AWS SDK for Rust.
    #[must_use]
    pub fn firehose(&self) -> aws_sdk_firehose::Client {
        use aws_sdk_firehose::config::{BehaviorVersion, Credentials, Region};
        let config = aws_sdk_firehose::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(self.endpoint())
            .credentials_provider(Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None, None, "tarn-test"))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build();
        aws_sdk_firehose::Client::from_conf(config)
    }

    /// An S3 client using virtual-host addressing (`BUCKET.localhost:PORT`).
    #[must_use]
    pub fn s3_virtual_host(&self) -> aws_sdk_s3::Client {
        s3_client(&format!("http://localhost:{}", self.addr.port()), false)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A Kinesis client from the AWS SDK for Rust, with the test credentials.
#[must_use]
pub fn kinesis_client(endpoint: &str) -> aws_sdk_kinesis::Client {
    kinesis_client_with(endpoint, ACCESS_KEY_ID, SECRET_ACCESS_KEY)
}

/// A Kinesis client with the given credentials.
#[must_use]
pub fn kinesis_client_with(endpoint: &str, key: &str, secret: &str) -> aws_sdk_kinesis::Client {
    use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_kinesis::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(key, secret, None, None, "tarn-test"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_kinesis::Client::from_conf(config)
}

/// An S3 client with the test credentials.
#[must_use]
pub fn s3_client(endpoint: &str, path_style: bool) -> aws_sdk_s3::Client {
    s3_client_with(endpoint, path_style, ACCESS_KEY_ID, SECRET_ACCESS_KEY)
}

/// An S3 client with the given credentials.
#[must_use]
pub fn s3_client_with(endpoint: &str, path_style: bool, key: &str, secret: &str) -> aws_sdk_s3::Client {
    s3_client_in_region(endpoint, path_style, key, secret, REGION)
}

/// An S3 client with the given credentials that signs for `region`.
#[must_use]
pub fn s3_client_in_region(
    endpoint: &str,
    path_style: bool,
    key: &str,
    secret: &str,
    region: &str,
) -> aws_sdk_s3::Client {
    use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
    let http = aws_smithy_http_client::Builder::new().build_http();
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(key, secret, None, None, "tarn-test"))
        .force_path_style(path_style)
        .http_client(http)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// The `(access key id, secret)` from `export AWS_ACCESS_KEY_ID=...` and
/// `export AWS_SECRET_ACCESS_KEY=...` lines of `tarn serve`'s output, if both are there.
#[must_use]
pub fn parse_printed_credentials(stdout: &str) -> Option<(String, String)> {
    let value = |name: &str| {
        let prefix = format!("export {name}=");
        stdout.lines().find_map(|l| l.trim().strip_prefix(prefix.as_str()).map(|v| v.trim().to_string()))
    };
    Some((value("AWS_ACCESS_KEY_ID")?, value("AWS_SECRET_ACCESS_KEY")?))
}

/// Copies a child's stderr to this process's stderr as it comes, keeping the first 64 KiB for
/// error messages.
fn forward_stderr(mut from: ChildStderr) -> Arc<Mutex<String>> {
    let kept = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&kept);
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            let _ = std::io::stderr().write_all(&buf[..n]);
            if let Ok(mut kept) = sink.lock()
                && kept.len() < 64 * 1024
            {
                kept.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
    });
    kept
}

/// A free TCP port on 127.0.0.1 (bound, then released).
///
/// Ports come from 20000-32767, below Linux's default ephemeral range (32768-60999), so the
/// source port of some client connection cannot take a port between this check and the
/// server's bind; a process-wide counter (seeded from the pid) keeps the tests of one binary
/// from being handed the same port twice. The kernel picks if no port there is free.
#[must_use]
pub fn free_addr() -> SocketAddr {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 20_000;
    const SPAN: u32 = 32_768 - LOW;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let _ = NEXT.compare_exchange(
        u32::MAX,
        std::process::id().wrapping_mul(7919) % SPAN,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, Ordering::SeqCst) % SPAN;
        let Ok(port) = u16::try_from(LOW + n) else { continue };
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) {
            return listener.local_addr().expect("local addr");
        }
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind ephemeral port");
    listener.local_addr().expect("local addr")
}

/// A parsed HTTP/1.1 response.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    #[must_use]
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `<Code>` of an S3 XML error body.
    #[must_use]
    pub fn error_code(&self) -> Option<String> {
        let text = self.body_text();
        let start = text.find("<Code>")? + 6;
        let end = text[start..].find("</Code>")? + start;
        Some(text[start..end].to_string())
    }
}

/// Sends raw bytes and reads the whole response (the request should say `Connection: close`).
pub fn raw_request(addr: SocketAddr, request: &[u8]) -> std::io::Result<RawResponse> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.write_all(request)?;
    read_response(&mut stream)
}

/// Reads one response from a stream until the server closes it.
pub fn read_response(stream: &mut TcpStream) -> std::io::Result<RawResponse> {
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf)?;
    parse_response(&buf)
        .ok_or_else(|| std::io::Error::other(format!("unparsable response: {:?}", String::from_utf8_lossy(&buf))))
}

fn parse_response(buf: &[u8]) -> Option<RawResponse> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..head_end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))).collect();
    let raw_body = &buf[head_end + 4..];
    let chunked = headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked { dechunk(raw_body) } else { raw_body.to_vec() };
    Some(RawResponse { status, headers, body })
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(pos) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(std::str::from_utf8(&data[..pos]).unwrap_or("0").trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = pos + 2;
        out.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = &data[(start + size + 2).min(data.len())..];
    }
    out
}

/// (error code, HTTP status) of a failed SDK call; panics if the call succeeded.
pub fn failure<E, T>(
    result: Result<T, aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>>,
) -> (String, u16)
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::fmt::Debug,
{
    use aws_sdk_s3::error::ProvideErrorMetadata as _;
    match result {
        Ok(_) => panic!("expected the call to fail"),
        Err(err) => {
            let status = err.raw_response().map_or(0, |r| r.status().as_u16());
            let code = err.code().map(str::to_string).unwrap_or_else(|| format!("<no code: {err:?}>"));
            (code, status)
        }
    }
}

/// SigV4 signing for hand-built S3 requests.
pub mod sign {
    use hmac::{Hmac, KeyInit, Mac};
    use sha2::{Digest, Sha256};

    type HmacSha256 = Hmac<Sha256>;

    fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
        let mut mac = HmacSha256::new_from_slice(key).expect("any key length");
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }

    #[must_use]
    pub fn sha256_hex(data: &[u8]) -> String {
        hex::encode(Sha256::digest(data))
    }

    /// `20261126T060000Z` for now.
    #[must_use]
    pub fn amz_date_now() -> String {
        let now = time::OffsetDateTime::now_utc();
        amz_date(now)
    }

    #[must_use]
    pub fn amz_date(t: time::OffsetDateTime) -> String {
        let f = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
        t.format(&f).expect("formats")
    }

    fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
        let k = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
        let k = hmac(&k, region.as_bytes());
        let k = hmac(&k, service.as_bytes());
        hmac(&k, b"aws4_request")
    }

    /// A signed S3 request's headers. `path` must already be URI-encoded as sent; `query` is
    /// the canonical (sorted, encoded) query string. `headers` must include `host`,
    /// `x-amz-date` and `x-amz-content-sha256`; all are signed. Returns (Authorization, seed
    /// signature).
    #[must_use]
    pub fn authorization(
        method: &str,
        path: &str,
        query: &str,
        headers: &[(&str, &str)],
        payload_hash: &str,
        key: &str,
        secret: &str,
        amz_date: &str,
    ) -> (String, String) {
        let mut hs: Vec<(String, String)> =
            headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string())).collect();
        hs.sort();
        let canonical_headers: String = hs.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        let signed: Vec<&str> = hs.iter().map(|(k, _)| k.as_str()).collect();
        let signed = signed.join(";");
        let canonical = format!("{method}\n{path}\n{query}\n{canonical_headers}\n{signed}\n{payload_hash}");
        let date = &amz_date[..8];
        let scope = format!("{date}/{}/s3/aws4_request", super::REGION);
        let to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", sha256_hex(canonical.as_bytes()));
        let signature = hex::encode(hmac(&signing_key(secret, date, super::REGION, "s3"), to_sign.as_bytes()));
        (format!("AWS4-HMAC-SHA256 Credential={key}/{scope}, SignedHeaders={signed}, Signature={signature}"), signature)
    }

    /// The head of a request signed now with the test root credentials: request line, Host,
    /// x-amz-date, x-amz-content-sha256 (`payload_hash`, e.g. `UNSIGNED-PAYLOAD`), every `extra`
    /// header (all signed), and Authorization. Ends with a header line: the caller adds
    /// Content-Length, Connection and the blank line.
    #[must_use]
    pub fn request_head(
        addr: std::net::SocketAddr,
        method: &str,
        path: &str,
        query: &str,
        payload_hash: &str,
        extra: &[(&str, &str)],
    ) -> String {
        let date = amz_date_now();
        let host = addr.to_string();
        let mut headers: Vec<(&str, &str)> =
            vec![("host", &host), ("x-amz-date", &date), ("x-amz-content-sha256", payload_hash)];
        headers.extend_from_slice(extra);
        let (auth, _) = authorization(
            method,
            path,
            query,
            &headers,
            payload_hash,
            super::ACCESS_KEY_ID,
            super::SECRET_ACCESS_KEY,
            &date,
        );
        let target = if query.is_empty() { path.to_string() } else { format!("{path}?{query}") };
        let mut head = format!(
            "{method} {target} HTTP/1.1\r\nHost: {host}\r\nx-amz-date: {date}\r\nx-amz-content-sha256: {payload_hash}\r\nAuthorization: {auth}\r\n"
        );
        for (k, v) in extra {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head
    }

    /// A whole `POST /` request of a JSON-protocol service (`X-Amz-Target: target`), signed
    /// for `service` with `key`/`secret` at `amz_date`; `authorization` replaces the computed
    /// Authorization header when given (None: the header is left out entirely when `sign`
    /// is false).
    #[allow(clippy::too_many_arguments)]
    #[must_use]
    pub fn json_request(
        addr: std::net::SocketAddr,
        service: &str,
        target: &str,
        content_type: &str,
        body: &[u8],
        key: &str,
        secret: &str,
        amz_date: &str,
        authorization: Option<&str>,
        sign: bool,
    ) -> Vec<u8> {
        let host = addr.to_string();
        let payload = sha256_hex(body);
        let mut hs: Vec<(&str, &str)> =
            vec![("content-type", content_type), ("host", &host), ("x-amz-date", amz_date), ("x-amz-target", target)];
        hs.sort_unstable();
        let canonical_headers: String = hs.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        let signed = hs.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(";");
        let canonical = format!("POST\n/\n\n{canonical_headers}\n{signed}\n{payload}");
        let date = &amz_date[..8];
        let scope = format!("{date}/{}/{service}/aws4_request", super::REGION);
        let to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", sha256_hex(canonical.as_bytes()));
        let signature = hex::encode(hmac(&signing_key(secret, date, super::REGION, service), to_sign.as_bytes()));
        let computed =
            format!("AWS4-HMAC-SHA256 Credential={key}/{scope}, SignedHeaders={signed}, Signature={signature}");
        let mut head = format!(
            "POST / HTTP/1.1\r\nHost: {host}\r\nx-amz-date: {amz_date}\r\nx-amz-target: {target}\r\ncontent-type: {content_type}\r\n"
        );
        match (authorization, sign) {
            (Some(a), _) => head.push_str(&format!("Authorization: {a}\r\n")),
            (None, true) => head.push_str(&format!("Authorization: {computed}\r\n")),
            (None, false) => {}
        }
        head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()));
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body);
        bytes
    }

    /// A whole request to a REST service (`method path?query`), signed for `service` as the
    /// SDKs sign them: every path segment URI-encoded once more in the canonical request, the
    /// query sorted and encoded, `host`, `x-amz-date` and `extra` headers signed.
    #[allow(clippy::too_many_arguments)]
    #[must_use]
    pub fn rest_request(
        addr: std::net::SocketAddr,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        service: &str,
        extra: &[(&str, &str)],
        body: &[u8],
        amz_date: &str,
    ) -> Vec<u8> {
        use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
        const SET: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
        let enc = |s: &str| utf8_percent_encode(s, SET).to_string();
        let host = addr.to_string();
        let payload = sha256_hex(body);
        let wire_path: String = path.split('/').map(enc).collect::<Vec<_>>().join("/");
        let canonical_path: String = wire_path.split('/').map(enc).collect::<Vec<_>>().join("/");
        let mut q: Vec<(String, String)> = query.iter().map(|(k, v)| (enc(k), enc(v))).collect();
        q.sort();
        let canonical_query = q.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
        let mut hs: Vec<(String, String)> =
            vec![("host".into(), host.clone()), ("x-amz-date".into(), amz_date.to_string())];
        hs.extend(extra.iter().map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_string())));
        hs.sort();
        let canonical_headers: String = hs.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        let signed = hs.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(";");
        let canonical =
            format!("{method}\n{canonical_path}\n{canonical_query}\n{canonical_headers}\n{signed}\n{payload}");
        let date = &amz_date[..8];
        let scope = format!("{date}/{}/{service}/aws4_request", super::REGION);
        let to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", sha256_hex(canonical.as_bytes()));
        let signature =
            hex::encode(hmac(&signing_key(super::SECRET_ACCESS_KEY, date, super::REGION, service), to_sign.as_bytes()));
        let target = if canonical_query.is_empty() { wire_path } else { format!("{wire_path}?{canonical_query}") };
        let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\nx-amz-date: {amz_date}\r\n");
        for (k, v) in extra {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!(
            "Authorization: AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}\r\n",
            super::ACCESS_KEY_ID
        ));
        head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()));
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body);
        bytes
    }

    /// The signature of one aws-chunked chunk (STREAMING-AWS4-HMAC-SHA256-PAYLOAD).
    #[must_use]
    pub fn chunk_signature(secret: &str, amz_date: &str, previous: &str, chunk: &[u8]) -> String {
        let date = &amz_date[..8];
        let scope = format!("{date}/{}/s3/aws4_request", super::REGION);
        let to_sign = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{amz_date}\n{scope}\n{previous}\n{}\n{}",
            sha256_hex(b""),
            sha256_hex(chunk)
        );
        hex::encode(hmac(&signing_key(secret, date, super::REGION, "s3"), to_sign.as_bytes()))
    }
}

/// Every file under `dir` (recursively): what a data-dir scan for leaked plaintext reads.
#[must_use]
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Fails naming the first (what, bytes) found in any file under `dir`: a data-dir scan for a
/// leaked plaintext or key.
///
/// The scan must have read something: a data dir without its metadata database, or an empty
/// one, would pass any scan (the wrong path, a server that wrote elsewhere), so it fails.
pub fn assert_in_no_file(dir: &Path, secrets: &[(String, Vec<u8>)]) {
    let files = files_under(dir);
    assert!(files.iter().any(|f| f.ends_with("meta.redb")), "{} is not a data dir: no meta.redb", dir.display());
    let mut scanned = 0usize;
    for file in files {
        let bytes = std::fs::read(&file).expect("read a data-dir file");
        scanned += bytes.len();
        for (what, secret) in secrets {
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_slice()), "{what} is in {}", file.display());
        }
    }
    assert!(scanned > 0, "the scan of {} read nothing", dir.display());
}

/// Deterministic pseudo-random bytes (xorshift), so failures replay.
#[must_use]
pub fn pseudo_random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::sign;

    const KEY: &str = "AKIAIOSFODNN7EXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const DATE: &str = "20130524T000000Z";

    /// AWS's S3 SigV4 example "GET Object" (the first 10 bytes of test.txt in examplebucket).
    #[test]
    fn s3_get_object_example_signature() {
        let empty = sign::sha256_hex(b"");
        let (auth, signature) = sign::authorization(
            "GET",
            "/test.txt",
            "",
            &[
                ("host", "examplebucket.s3.amazonaws.com"),
                ("range", "bytes=0-9"),
                ("x-amz-content-sha256", &empty),
                ("x-amz-date", DATE),
            ],
            &empty,
            KEY,
            SECRET,
            DATE,
        );
        assert_eq!(signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
        assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature="));
    }

    /// AWS's S3 SigV4 example of a chunked upload (STREAMING-AWS4-HMAC-SHA256-PAYLOAD): the seed
    /// signature and the signature of each chunk.
    #[test]
    fn s3_chunked_upload_example_signatures() {
        let payload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
        let (_, seed) = sign::authorization(
            "PUT",
            "/examplebucket/chunkObject.txt",
            "",
            &[
                ("host", "s3.amazonaws.com"),
                ("x-amz-date", DATE),
                ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
                ("x-amz-content-sha256", payload),
                ("content-encoding", "aws-chunked"),
                ("x-amz-decoded-content-length", "66560"),
                ("content-length", "66824"),
            ],
            payload,
            KEY,
            SECRET,
            DATE,
        );
        assert_eq!(seed, "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");
        let first = sign::chunk_signature(SECRET, DATE, &seed, &[b'a'; 65536]);
        assert_eq!(first, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648");
        let second = sign::chunk_signature(SECRET, DATE, &first, &[b'a'; 1024]);
        assert_eq!(second, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497");
        let last = sign::chunk_signature(SECRET, DATE, &second, b"");
        assert_eq!(last, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9");
    }
}
