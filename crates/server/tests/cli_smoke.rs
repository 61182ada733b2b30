//! CLI smoke test: a real `tarn serve` driven by stock clients — the AWS CLI, boto3 and curl —
//! through `tests/smoke/s3_smoke.py`.
//!
//! The clients are installed on first use, at pinned versions, into a venv at
//! `<target dir>/smoke-venv` (so `cargo clean` removes it and every later run reuses it).
//! Needs only `python3` with the `venv` module and network access to PyPI for the first run;
//! a machine without python3 fails this test rather than skipping it.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ACCESS_KEY_ID: &str = "AKIASMOKETESTEXAMPLE";
const SECRET_ACCESS_KEY: &str = "smokeTestSecretKey0123456789abcdefghijKL";
/// How long the whole script may run before it is killed (it normally takes about a minute).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(600);
const HEALTH_TIMEOUT: Duration = Duration::from_secs(30);

use tarn_testkit::python::{ensure_venv, venv_bin, venv_python};

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

/// A running `tarn serve`: killed on drop; its work dir is removed unless the test failed.
struct Server {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
    log: PathBuf,
}

impl Server {
    fn start(dir: PathBuf) -> Server {
        let data = dir.join("data");
        fs::create_dir_all(&data).expect("create data dir");
        let log = dir.join("tarn.log");
        let log_file = File::create(&log).expect("create tarn.log");
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let child = Command::new(env!("CARGO_BIN_EXE_tarn"))
            .arg("serve")
            .arg("--data-dir")
            .arg(&data)
            .arg("--listen")
            .arg(addr.to_string())
            .args(["--pg-listen", "127.0.0.1:0"])
            .env("TARN_ROOT_ACCESS_KEY_ID", ACCESS_KEY_ID)
            .env("TARN_ROOT_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
            .env("TARN_REGION", "us-east-1")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("clone log handle"))
            .stderr(log_file)
            .spawn()
            .expect("spawn tarn");
        let mut server = Server { child, addr, dir, log };
        server.wait_healthy();
        server
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn log_tail(&self) -> String {
        let log = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    fn wait_healthy(&mut self) {
        let deadline = Instant::now() + HEALTH_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll tarn") {
                panic!("tarn exited ({status}) before it was healthy; log:\n{}", self.log_tail());
            }
            if health_ok(self.addr) {
                return;
            }
            assert!(Instant::now() < deadline, "tarn not healthy after {HEALTH_TIMEOUT:?}; log:\n{}", self.log_tail());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("cli_smoke: kept {} (tarn.log, data/) for inspection", self.dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// One raw `GET /_tarn/health`; true on a 200.
fn health_ok(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /_tarn/health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    response.starts_with(b"HTTP/1.1 200")
}

#[test]
fn aws_cli_boto3_and_curl_against_tarn() {
    let started = Instant::now();
    let venv = ensure_venv();
    let setup = started.elapsed();

    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-smoke-{}-{nanos}", std::process::id()));
    let mut server = Server::start(dir.clone());

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smoke/s3_smoke.py");
    let path = std::env::join_paths(
        std::iter::once(venv_bin(&venv)).chain(std::env::var_os("PATH").iter().flat_map(std::env::split_paths)),
    )
    .expect("PATH");
    let mut cmd = Command::new(venv_python(&venv));
    cmd.arg(&script).current_dir(&dir);
    // Nothing from the host's AWS setup, Python setup or proxies may leak in.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        let upper = key.to_ascii_uppercase();
        if upper.starts_with("AWS_")
            || upper.starts_with("BOTO")
            || upper.starts_with("PYTHON")
            || upper.ends_with("_PROXY")
            || upper == "VIRTUAL_ENV"
            || upper == "CURL_HOME"
        {
            cmd.env_remove(&key);
        }
    }
    let stdout_path = dir.join("smoke.stdout");
    let stderr_path = dir.join("smoke.stderr");
    cmd.env("PATH", path)
        .env("VIRTUAL_ENV", &venv)
        .env("AWS_ENDPOINT_URL", server.endpoint())
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", dir.join("no-aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("no-aws-credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env("CURL_HOME", &dir) // no ~/.curlrc
        .env("PYTHONUTF8", "1")
        .env("PYTHONIOENCODING", "utf-8")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("TMPDIR", &dir) // the script's scratch files (200 MiB at peak) go under target/tmp
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path).expect("create smoke.stdout"))
        .stderr(File::create(&stderr_path).expect("create smoke.stderr"));

    let script_started = Instant::now();
    let mut child = cmd.spawn().expect("run s3_smoke.py");
    // Stop early if the script hangs or tarn dies under it (every later request would only
    // fail after the clients' connection retries).
    let outcome = loop {
        if let Some(status) = child.try_wait().expect("poll s3_smoke.py") {
            break Ok(status);
        }
        let problem = if script_started.elapsed() > SCRIPT_TIMEOUT {
            Some(format!("s3_smoke.py did not finish within {SCRIPT_TIMEOUT:?}"))
        } else {
            server.child.try_wait().expect("poll tarn").map(|st| format!("tarn exited ({st}) while s3_smoke.py ran"))
        };
        if let Some(problem) = problem {
            let _ = child.kill();
            let _ = child.wait();
            break Err(problem);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let stdout = fs::read_to_string(&stdout_path).unwrap_or_default();
    let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
    // Captured by the test harness: shown on failure, or always with --nocapture.
    println!("{stdout}");
    if !stderr.trim().is_empty() {
        println!("--- s3_smoke.py stderr ---\n{stderr}");
    }
    println!("cli_smoke: venv {:.1}s, script {:.1}s", setup.as_secs_f64(), script_started.elapsed().as_secs_f64());

    let status = match outcome {
        Ok(status) => status,
        Err(problem) => panic!("{problem}; output so far is printed above; tarn log tail:\n{}", server.log_tail()),
    };
    let summary = stdout.lines().rev().find(|l| l.starts_with("smoke: ")).unwrap_or("(no summary line)");
    assert!(
        status.success(),
        "s3_smoke.py failed ({status}): {summary}\nfailures and output are printed above; tarn log tail:\n{}",
        server.log_tail()
    );
}
