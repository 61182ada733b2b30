//! Bodies stream end to end: a 2 GiB PUT and a 2 GiB GET each grow the server's resident
//! memory by less than 64 MiB. The client streams from a reused buffer, so only the server's
//! memory is measured (VmHWM, the peak resident set, from /proc).

use std::io::{Read, Write};
use std::net::TcpStream;

use tarn_testkit::{TestServer, sign};

const SIZE: u64 = 2 * 1024 * 1024 * 1024;
const GROWTH_MAX: u64 = 64 * 1024 * 1024;

fn status_kib(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = text.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn head(srv: &TestServer, method: &str, path: &str, extra: &str) -> String {
    let head = sign::request_head(srv.addr, method, path, "", "UNSIGNED-PAYLOAD", &[]);
    format!("{head}{extra}Connection: close\r\n\r\n")
}

#[test]
fn two_gib_put_and_get_stay_within_64_mib_of_memory() {
    let _exclusive = crate::exclusive();
    let srv = TestServer::start(env!("CARGO_BIN_EXE_tarn"));
    let pid = srv.pid().unwrap();
    let resp =
        tarn_testkit::raw_request(srv.addr, head(&srv, "PUT", "/mem", "Content-Length: 0\r\n").as_bytes()).unwrap();
    assert_eq!(resp.status, 200);
    let baseline = status_kib(pid, "VmRSS:") * 1024;

    let mut stream = TcpStream::connect(srv.addr).unwrap();
    stream.write_all(head(&srv, "PUT", "/mem/big", &format!("Content-Length: {SIZE}\r\n")).as_bytes()).unwrap();
    let block = tarn_testkit::pseudo_random_bytes(99, 1 << 20);
    for _ in 0..SIZE >> 20 {
        stream.write_all(&block).unwrap();
    }
    let resp = tarn_testkit::read_response(&mut stream).unwrap();
    assert_eq!(resp.status, 200, "{}", resp.body_text());
    let after_put = status_kib(pid, "VmHWM:") * 1024;
    assert!(after_put < baseline + GROWTH_MAX, "PUT grew the peak RSS from {baseline} to {after_put} bytes");

    let mut stream = TcpStream::connect(srv.addr).unwrap();
    stream.write_all(head(&srv, "GET", "/mem/big", "").as_bytes()).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    let mut head_seen = false;
    let mut first = Vec::new();
    loop {
        let n = stream.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        if head_seen {
            // the body is the 1 MiB block repeated: check every byte against it
            let offset = (total % block.len() as u64) as usize;
            let mut checked = 0;
            while checked < n {
                let at = (offset + checked) % block.len();
                let take = (n - checked).min(block.len() - at);
                assert!(
                    buf[checked..checked + take] == block[at..at + take],
                    "GET returned wrong bytes near offset {total}"
                );
                checked += take;
            }
            total += n as u64;
        } else {
            first.extend_from_slice(&buf[..n]);
            if let Some(pos) = first.windows(4).position(|w| w == b"\r\n\r\n") {
                assert!(first.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&first[..pos]));
                let body = &first[pos + 4..];
                assert_eq!(body, &block[..body.len()]);
                total += body.len() as u64;
                head_seen = true;
            }
        }
    }
    assert_eq!(total, SIZE);
    let after_get = status_kib(pid, "VmHWM:") * 1024;
    assert!(after_get < baseline + GROWTH_MAX, "GET grew the peak RSS from {baseline} to {after_get} bytes");
    eprintln!(
        "rss: baseline {} MiB, peak after 2 GiB PUT {} MiB, after 2 GiB GET {} MiB",
        baseline >> 20,
        after_put >> 20,
        after_get >> 20
    );
}

#[test]
fn sigterm_stops_gracefully() {
    let mut srv = TestServer::start(env!("CARGO_BIN_EXE_tarn"));
    let status = srv.terminate(std::time::Duration::from_secs(10)).expect("tarn exits within 10 s of SIGTERM");
    assert!(status.success(), "{status}");
}
