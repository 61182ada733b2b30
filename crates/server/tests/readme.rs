//! The README's quickstart, pasted as a new user would paste it: every command of the `sh`
//! blocks from "## Quickstart with aws-cli" up to the next top-level section runs, in order, in
//! one shell, against a fresh server, with the aws-cli from PyPI (v1) and, where the machine
//! has one, aws-cli v2. A command whose comment says `fails: <Code>` must fail saying `<Code>`;
//! every other one must succeed. So the quickstart cannot drift from what tarn does.
//!
//! Two things differ from a user's terminal, both written here: `cargo run --release --` is the
//! tarn binary under test (a test does not build a release), and PostgreSQL's port is the test
//! server's, not 5439.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tarn_testkit::{ACCESS_KEY_ID, SECRET_ACCESS_KEY, TestServer, python};

const BIN: &str = env!("CARGO_BIN_EXE_tarn");

/// One command as a user pastes it: its lines (continuations and multi-line quotes joined)
/// and the comment at its end.
#[derive(Debug)]
struct Pasted {
    text: String,
    comment: String,
}

impl Pasted {
    /// The error code the README says this command fails with.
    fn expected_failure(&self) -> Option<&str> {
        let at = self.comment.find("fails:")?;
        self.comment[at + "fails:".len()..].split_whitespace().next()
    }
}

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md")).expect("README.md")
}

/// The `sh` blocks between `## Quickstart with aws-cli` and the next `## ` heading.
fn quickstart_blocks(readme: &str) -> Vec<String> {
    let start = readme.find("\n## Quickstart with aws-cli").expect("the README has a quickstart");
    let rest = &readme[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in rest[..end].lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(_), "```") => blocks.push(current.take().unwrap()),
            (Some(block), l) => {
                block.push_str(l);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

/// Splits a block into commands as bash reads them: a newline ends a command unless it is
/// escaped or inside quotes; `#` after a blank starts a comment.
fn commands(block: &str) -> Vec<Pasted> {
    let mut out = Vec::new();
    let (mut text, mut comment) = (String::new(), String::new());
    let (mut single, mut double, mut in_comment) = (false, false, false);
    let mut chars = block.chars().peekable();
    while let Some(c) = chars.next() {
        if in_comment {
            if c == '\n' {
                in_comment = false;
            } else {
                comment.push(c);
                continue;
            }
        }
        match c {
            '\\' if !single => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                    text.push(' ');
                } else {
                    text.push(c);
                    if let Some(n) = chars.next() {
                        text.push(n);
                    }
                }
                continue;
            }
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && (text.is_empty() || text.ends_with(char::is_whitespace)) => {
                in_comment = true;
                continue;
            }
            '\n' if !single && !double => {
                if !text.trim().is_empty() {
                    out.push(Pasted { text: text.trim().to_string(), comment: comment.trim().to_string() });
                }
                text.clear();
                comment.clear();
                continue;
            }
            _ => {}
        }
        text.push(c);
    }
    assert!(!single && !double, "a quote in the quickstart is never closed");
    if !text.trim().is_empty() {
        out.push(Pasted { text: text.trim().to_string(), comment: comment.trim().to_string() });
    }
    out
}

/// The quickstart as a bash script that records each command's exit status and stderr.
fn script(commands: &[Pasted], tarn: &str, pg_port: u16) -> String {
    let mut s = String::from("cd \"$WORK\"\n");
    for (i, c) in commands.iter().enumerate() {
        let text = c.text.replace("cargo run --release --", tarn).replace("-p 5439", &format!("-p {pg_port}"));
        // braces, not a subshell: assignments (`QID=$(...)`) and functions stay for later lines
        s.push_str(&format!("{{ {text}\n}} >\"out.{i}\" 2>\"err.{i}\"\necho \"{i} $?\" >> status\n"));
    }
    s
}

/// Runs the quickstart with the `aws` found first on `path`; panics naming the first command
/// that did not do what the README says.
fn run_quickstart(label: &str, path: &str) {
    let mut srv = TestServer::start(BIN);
    let work = tempfile::tempdir().unwrap();
    let commands: Vec<Pasted> = quickstart_blocks(&readme()).iter().flat_map(|b| commands(b)).collect();
    assert!(commands.len() > 40, "the quickstart has {} commands: did the parse go wrong?", commands.len());
    let script = script(&commands, BIN, srv.pg_addr.port());
    std::fs::write(work.path().join("quickstart.sh"), &script).unwrap();
    let started = Instant::now();
    let mut child = Command::new("bash")
        .arg(work.path().join("quickstart.sh"))
        .env_clear()
        .env("PATH", path)
        .env("HOME", work.path())
        .env("WORK", work.path())
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
        .env("AWS_ENDPOINT_URL", srv.endpoint())
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", work.path().join("aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", work.path().join("aws-credentials"))
        .env("TARN_PG_LISTEN", srv.pg_addr.to_string())
        .spawn()
        .expect("bash");
    let deadline = started + Duration::from_secs(300);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "{label}: the quickstart did not finish in 300 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = std::fs::read_to_string(work.path().join("status")).unwrap_or_default();
    let codes: Vec<i32> =
        status.lines().map(|l| l.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(-1)).collect();
    let read =
        |what: &str, i: usize| std::fs::read_to_string(work.path().join(format!("{what}.{i}"))).unwrap_or_default();
    for (i, c) in commands.iter().enumerate() {
        let code = *codes.get(i).unwrap_or_else(|| panic!("{label}: command {i} never ran: {}", c.text));
        let (out, err) = (read("out", i), read("err", i));
        match c.expected_failure() {
            None => assert!(code == 0, "{label}: `{}` failed ({code}):\n{out}\n{err}", c.text),
            Some(want) => {
                assert!(code != 0, "{label}: `{}` should fail with {want} but succeeded:\n{out}", c.text);
                assert!(err.contains(want), "{label}: `{}` failed without saying {want}:\n{err}", c.text);
            }
        }
    }
    // the results the README promises in its comments
    let output_of = |needle: &str| {
        let i = commands.iter().position(|c| c.text.contains(needle)).unwrap_or_else(|| panic!("no `{needle}`"));
        read("out", i)
    };
    let commented = |comment: &str| {
        let i = commands.iter().position(|c| c.comment == comment).unwrap_or_else(|| panic!("no `# {comment}`"));
        read("out", i)
    };
    assert!(output_of("get-caller-identity").contains("000000000000"));
    assert_eq!(output_of("aws s3 cp s3://raw/events/dt=2026-11-26/events.csv -"), "id,label\n");
    let crawled = commented("READY, SUCCEEDED");
    assert!(crawled.contains("READY") && crawled.contains("SUCCEEDED"), "{crawled}");
    assert!(commented("SUCCEEDED").contains("SUCCEEDED"));
    assert!(output_of("get-query-results").contains("2026-11-26"));
    if psql_installed() {
        let pg = output_of("psql ");
        assert!(pg.contains("cat") && pg.contains("dog"), "{pg}");
    }
    let sql = output_of("sql -d ml");
    assert!(sql.contains("2026-11-25") && sql.contains("2026-11-26"), "{sql}");
    let delivered = output_of("s3://lake/clicks/");
    assert!(delivered.contains(".parquet"), "Firehose delivered nothing in time: {delivered}");
    eprintln!("{label}: {} quickstart commands as the README says, in {:?}", commands.len(), started.elapsed());
    srv.stop();
}

fn psql_installed() -> bool {
    Command::new("psql").arg("--version").output().is_ok_and(|o| o.status.success())
}

fn host_path() -> String {
    std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into())
}

#[test]
fn the_quickstart_parses_as_bash_does() {
    let cmds = commands(
        "aws a \\\n  --b c   # fails: Nope\nX=$(aws d \\\n  e)\naws f --p '{\"a\": 1,\n \"b\": \"#x\"}'\n\n# only a comment\n",
    );
    let texts: Vec<&str> = cmds.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts, ["aws a    --b c", "X=$(aws d    e)", "aws f --p '{\"a\": 1,\n \"b\": \"#x\"}'"]);
    assert_eq!(cmds[0].expected_failure(), Some("Nope"));
    assert_eq!(cmds[1].expected_failure(), None);
    let blocks = quickstart_blocks(&readme());
    assert!(blocks.len() >= 3, "the quickstart's sh blocks: {}", blocks.len());
}

/// With the aws-cli from PyPI (v1) always; with aws-cli v2 too where the machine has it (v2
/// is not on PyPI, and its installer's host is not reachable from every CI machine).
#[test]
fn the_readme_quickstart_works_pasted() {
    let venv = python::ensure_venv();
    let bin: PathBuf = python::venv_bin(&venv);
    run_quickstart("aws-cli v1 (PyPI)", &format!("{}:{}", bin.display(), host_path()));
    let v2 = Command::new("aws")
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).starts_with("aws-cli/2"));
    if v2 {
        run_quickstart("aws-cli v2", &host_path());
    } else {
        eprintln!("aws-cli v2 is not installed here: the quickstart was checked with v1 only");
    }
}
