//! Request metrics in Prometheus text format: a counter by (service, operation, status) and a
//! latency histogram by service.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS_SECONDS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
}

#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS_SECONDS.len()],
    count: u64,
    sum_seconds: f64,
}

impl Metrics {
    pub fn record(&self, service: &str, operation: &str, status: u16, elapsed: Duration) {
        let mut inner = self.inner.lock().expect("metrics lock poisoned");
        *inner.requests.entry((service.to_string(), operation.to_string(), status)).or_default() += 1;
        let h = inner.latency.entry(service.to_string()).or_default();
        let secs = elapsed.as_secs_f64();
        for (i, bound) in BUCKETS_SECONDS.iter().enumerate() {
            if secs <= *bound {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum_seconds += secs;
    }

    #[must_use]
    pub fn render(&self) -> String {
        let inner = self.inner.lock().expect("metrics lock poisoned");
        let mut out = String::new();
        out.push_str("# HELP tarn_requests_total Requests handled, by service, operation and HTTP status.\n");
        out.push_str("# TYPE tarn_requests_total counter\n");
        for ((service, operation, status), n) in &inner.requests {
            let _ = writeln!(
                out,
                "tarn_requests_total{{service=\"{service}\",operation=\"{operation}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP tarn_request_duration_seconds Request latency, by service.\n");
        out.push_str("# TYPE tarn_request_duration_seconds histogram\n");
        for (service, h) in &inner.latency {
            for (i, bound) in BUCKETS_SECONDS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "tarn_request_duration_seconds_bucket{{service=\"{service}\",le=\"{bound}\"}} {}",
                    h.counts[i]
                );
            }
            let _ =
                writeln!(out, "tarn_request_duration_seconds_bucket{{service=\"{service}\",le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "tarn_request_duration_seconds_sum{{service=\"{service}\"}} {}", h.sum_seconds);
            let _ = writeln!(out, "tarn_request_duration_seconds_count{{service=\"{service}\"}} {}", h.count);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.record("s3", "PutObject", 200, Duration::from_millis(3));
        m.record("s3", "PutObject", 200, Duration::from_millis(30));
        let text = m.render();
        assert!(text.contains("tarn_requests_total{service=\"s3\",operation=\"PutObject\",status=\"200\"} 2"));
        assert!(text.contains("tarn_request_duration_seconds_bucket{service=\"s3\",le=\"0.005\"} 1"));
        assert!(text.contains("tarn_request_duration_seconds_bucket{service=\"s3\",le=\"0.05\"} 2"));
        assert!(text.contains("tarn_request_duration_seconds_count{service=\"s3\"} 2"));
    }
}
