//! Python clients for tests: a venv with pinned aws-cli and boto3 (and what else the tests
//! import), made once under the target dir, and a runner for scripts against a test server.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::TestServer;

/// Pinned clients. awscli 1.46 vendors its own botocore (`awscli.botocore`, 1.43.x), so boto3
/// does not have to match it; boto3 1.44.8 requires botocore 1.44.x and s3transfer 0.19.x, pinned
/// here too so the install is the same on every machine.
pub const PINS: &[&str] = &["awscli==1.46.3", "boto3==1.44.8", "botocore==1.44.8", "s3transfer==0.19.3"];

/// A venv of pinned Python clients under the target dir.
pub struct Venv {
    pub dir: &'static str,
    pub pins: &'static [&'static str],
    /// What `import` must succeed for the venv to count as ready.
    pub imports: &'static str,
}

/// aws-cli and boto3, as most tests use them.
pub const SMOKE: Venv = Venv { dir: "smoke-venv", pins: PINS, imports: "import boto3, awscli" };

/// The newest boto3 (whose Athena speaks REST-JSON: botocore 1.44.13 moved it off JSON 1.1),
/// which cannot share a venv with aws-cli v1 (that pins an older botocore).
pub const LATEST_BOTO3: Venv = Venv {
    dir: "boto3-latest-venv",
    pins: &["boto3==1.44.18", "botocore==1.44.18", "s3transfer==0.19.3"],
    imports: "import boto3",
};

/// The PostgreSQL drivers Python users reach for: psycopg 3 and psycopg2, in their binary wheels,
/// with SQLAlchemy 2 and pandas over them.
pub const PG_CLIENTS: Venv = Venv {
    dir: "pg-clients-venv",
    pins: &[
        "psycopg==3.3.9",
        "psycopg-binary==3.3.9",
        "psycopg2-binary==2.9.13",
        "SQLAlchemy==2.0.59",
        "pandas==3.1.1",
        "numpy==2.4.6",
    ],
    imports: "import psycopg, psycopg2, sqlalchemy, pandas",
};

/// dbt with its PostgreSQL adapter (over psycopg2), pinned with the packages whose newer
/// releases change its behaviour. dbt-core 1.12 needs a parser fetched from GitHub at install
/// time, which these machines cannot reach; 1.11 installs from PyPI alone.
pub const DBT: Venv = Venv {
    dir: "dbt-venv",
    pins: &[
        "dbt-core==1.11.16",
        "dbt-postgres==1.11.0",
        "dbt-adapters==1.24.5",
        "dbt-common==1.39.0",
        "psycopg2-binary==2.9.13",
    ],
    imports: "import dbt.cli.main, dbt.adapters.postgres, psycopg2",
};

pub fn target_dir() -> PathBuf {
    // a test binary lives in <target>/<profile>/deps/
    let exe = std::env::current_exe().expect("current test executable");
    exe.ancestors().nth(3).expect("test binary sits in <target>/<profile>/deps").to_path_buf()
}

pub fn venv_bin(venv: &Path) -> PathBuf {
    if cfg!(windows) { venv.join("Scripts") } else { venv.join("bin") }
}

pub fn venv_python(venv: &Path) -> PathBuf {
    venv_bin(venv).join(if cfg!(windows) { "python.exe" } else { "python" })
}

pub fn describe(out: &Output) -> String {
    format!(
        "exit status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn run_checked(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: could not run {cmd:?}: {e}"));
    assert!(out.status.success(), "{what} failed: {cmd:?}\n{}", describe(&out));
}

/// Returns the venv with the pinned clients, creating it if needed.
///
/// Concurrent test processes serialise on an exclusive lock on `smoke-venv.lock`; the venv
/// counts as ready only once `smoke-venv/.installed` holds the pin list, which is written
/// after a successful install (venvs cannot be renamed into place: their scripts hold
/// absolute paths). A half-made or outdated venv is removed and made again.
pub fn ensure_venv() -> PathBuf {
    ensure(&SMOKE)
}

/// Returns the venv `spec` describes, creating it if needed (see [`ensure_venv`]).
pub fn ensure(spec: &Venv) -> PathBuf {
    let target = target_dir();
    let venv = target.join(spec.dir);
    let marker = venv.join(".installed");
    let want = spec.pins.join("\n");
    let ready = || {
        fs::read_to_string(&marker).is_ok_and(|m| m == want)
            && Command::new(venv_python(&venv))
                .args(["-c", spec.imports])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
    };
    if ready() {
        return venv;
    }

    fs::create_dir_all(&target).expect("create target dir");
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(target.join(format!("{}.lock", spec.dir)))
        .expect("open the venv lock");
    lock.lock().expect("lock the venv lock");
    if ready() {
        return venv; // another process made it while we waited
    }

    let python = python3();
    let started = Instant::now();
    eprintln!("python venv: creating {} with {}", venv.display(), spec.pins.join(" "));
    if venv.exists() {
        fs::remove_dir_all(&venv).expect("remove a stale venv");
    }
    run_checked(
        Command::new(&python).arg("-m").arg("venv").arg(&venv),
        "creating the smoke-test venv (on Debian/Ubuntu, `apt-get install python3-venv`)",
    );
    run_checked(
        Command::new(venv_python(&venv))
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input"])
            .args(spec.pins),
        "pip install of the pinned AWS clients",
    );
    fs::write(&marker, &want).expect("write venv marker");
    eprintln!("python venv: venv ready in {:.1}s", started.elapsed().as_secs_f64());
    venv // the lock is released when `lock` drops
}

/// The host's python3, or a failing test that says what is missing.
pub fn python3() -> PathBuf {
    let python = PathBuf::from("python3");
    match Command::new(&python).arg("--version").output() {
        Ok(out) if out.status.success() => python,
        Ok(out) => panic!("`python3 --version` failed; the CLI smoke test needs python3 with venv\n{}", describe(&out)),
        Err(e) => panic!(
            "python3 not found ({e}): the CLI smoke test (tests/cli_smoke.rs) needs python3 with the venv module \
             on PATH to install aws-cli and boto3"
        ),
    }
}

/// Runs `script` (with `args`) in the venv against `server`, with the test root credentials,
/// and nothing from the host's AWS or Python setup. Panics with the script's output and the
/// reason when it fails, times out, or the server dies under it. Returns its stdout.
pub fn run_script(server: &mut TestServer, script: &Path, args: &[&str], timeout: Duration) -> String {
    run_script_in(&SMOKE, server, script, args, timeout)
}

/// [`run_script`] in the venv `spec` describes.
pub fn run_script_in(spec: &Venv, server: &mut TestServer, script: &Path, args: &[&str], timeout: Duration) -> String {
    let venv = ensure(spec);
    let dir = tempfile::Builder::new().prefix("tarn-py-").tempdir().expect("temp dir");
    let path = std::env::join_paths(
        std::iter::once(venv_bin(&venv)).chain(std::env::var_os("PATH").iter().flat_map(std::env::split_paths)),
    )
    .expect("PATH");
    let mut cmd = Command::new(venv_python(&venv));
    cmd.arg(script).args(args).current_dir(dir.path());
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        let upper = key.to_ascii_uppercase();
        if upper.starts_with("AWS_")
            || upper.starts_with("BOTO")
            || upper.starts_with("PYTHON")
            || upper.ends_with("_PROXY")
        {
            cmd.env_remove(&key);
        }
    }
    let stdout_path = dir.path().join("stdout");
    let stderr_path = dir.path().join("stderr");
    cmd.env("PATH", path)
        .env("VIRTUAL_ENV", &venv)
        .env("AWS_ENDPOINT_URL", server.endpoint())
        .env("AWS_ACCESS_KEY_ID", crate::ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", crate::SECRET_ACCESS_KEY)
        .env("AWS_DEFAULT_REGION", crate::REGION)
        .env("AWS_CONFIG_FILE", dir.path().join("no-aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("no-aws-credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("PYTHONUTF8", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("TMPDIR", dir.path())
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path).expect("create stdout file"))
        .stderr(File::create(&stderr_path).expect("create stderr file"));
    let started = Instant::now();
    let mut child = cmd.spawn().expect("run python script");
    let outcome = loop {
        if let Some(status) = child.try_wait().expect("poll script") {
            break Ok(status);
        }
        let problem = if started.elapsed() > timeout {
            Some(format!("{} did not finish within {timeout:?}", script.display()))
        } else if !server.is_running() {
            Some(format!("tarn exited while {} ran", script.display()))
        } else {
            None
        };
        if let Some(problem) = problem {
            let _ = child.kill();
            let _ = child.wait();
            break Err(problem);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = fs::read_to_string(&stdout_path).unwrap_or_default();
    let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
    println!("{stdout}");
    if !stderr.trim().is_empty() {
        println!("--- {} stderr ---\n{stderr}", script.display());
    }
    match outcome {
        Ok(status) if status.success() => stdout,
        Ok(status) => panic!("{} failed ({status}); its output is printed above", script.display()),
        Err(problem) => panic!("{problem}; output so far is printed above"),
    }
}
