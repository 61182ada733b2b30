//! Per-stream delivery counters, named after Firehose's CloudWatch metrics, rendered as
//! Prometheus text on `/_tarn/metrics`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::buffer::Pending;

#[derive(Default, Debug)]
pub struct StreamMetrics {
    /// IncomingRecords / IncomingBytes / IncomingPutRequests.
    pub incoming_records: AtomicU64,
    pub incoming_bytes: AtomicU64,
    pub incoming_puts: AtomicU64,
    /// DeliveryToS3.Records / .Bytes, objects stored (DeliveryToS3.Success), failed attempts.
    pub delivered_records: AtomicU64,
    pub delivered_bytes: AtomicU64,
    pub delivered_objects: AtomicU64,
    pub delivery_failures: AtomicU64,
    /// SucceedConversion.Records / FailedConversion.Records.
    pub conversion_succeeded: AtomicU64,
    pub conversion_failed: AtomicU64,
    /// Records sent to the error prefix because a processor (jq extraction, ...) failed.
    pub processing_failed: AtomicU64,
}

impl StreamMetrics {
    pub fn incoming(&self, records: u64, bytes: u64) {
        self.incoming_records.fetch_add(records, Ordering::Relaxed);
        self.incoming_bytes.fetch_add(bytes, Ordering::Relaxed);
        self.incoming_puts.fetch_add(1, Ordering::Relaxed);
    }
}

fn counter(out: &mut String, name: &str, help: &str, rows: &[(String, u64)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} counter");
    for (stream, v) in rows {
        let _ = writeln!(out, "{name}{{delivery_stream=\"{stream}\"}} {v}");
    }
}

/// Renders every stream's counters and gauges.
#[must_use]
pub fn render(streams: &[(String, std::sync::Arc<StreamMetrics>, Pending)], now_ms: i64) -> String {
    let mut out = String::new();
    type Get = fn(&StreamMetrics) -> &AtomicU64;
    let counters: [(&str, &str, Get); 10] = [
        (
            "tarn_firehose_incoming_records_total",
            "Records accepted by PutRecord(Batch) or read from the Kinesis source (IncomingRecords).",
            |m| &m.incoming_records,
        ),
        ("tarn_firehose_incoming_bytes_total", "Bytes accepted (IncomingBytes).", |m| &m.incoming_bytes),
        ("tarn_firehose_incoming_put_requests_total", "Put calls accepted (IncomingPutRequests).", |m| {
            &m.incoming_puts
        }),
        (
            "tarn_firehose_delivery_to_s3_records_total",
            "Records delivered to the bucket (DeliveryToS3.Records).",
            |m| &m.delivered_records,
        ),
        ("tarn_firehose_delivery_to_s3_bytes_total", "Bytes of records delivered (DeliveryToS3.Bytes).", |m| {
            &m.delivered_bytes
        }),
        ("tarn_firehose_delivery_to_s3_objects_total", "Objects stored (DeliveryToS3.ObjectCount).", |m| {
            &m.delivered_objects
        }),
        ("tarn_firehose_delivery_to_s3_failures_total", "Delivery attempts that failed and will be retried.", |m| {
            &m.delivery_failures
        }),
        (
            "tarn_firehose_succeed_conversion_records_total",
            "Records converted to Parquet/ORC (SucceedConversion.Records).",
            |m| &m.conversion_succeeded,
        ),
        (
            "tarn_firehose_failed_conversion_records_total",
            "Records that did not fit the schema, sent to the error prefix (FailedConversion.Records).",
            |m| &m.conversion_failed,
        ),
        (
            "tarn_firehose_processing_failed_records_total",
            "Records a processor failed on, sent to the error prefix.",
            |m| &m.processing_failed,
        ),
    ];
    for (name, help, get) in counters {
        let rows: Vec<(String, u64)> =
            streams.iter().map(|(n, m, _)| (n.clone(), get(m).load(Ordering::Relaxed))).collect();
        counter(&mut out, name, help, &rows);
    }
    let _ = writeln!(out, "# HELP tarn_firehose_backlog_records Buffered records not yet delivered.");
    let _ = writeln!(out, "# TYPE tarn_firehose_backlog_records gauge");
    for (n, _, p) in streams {
        let _ = writeln!(out, "tarn_firehose_backlog_records{{delivery_stream=\"{n}\"}} {}", p.end - p.delivered);
    }
    let _ = writeln!(
        out,
        "# HELP tarn_firehose_data_freshness_seconds Age of the oldest undelivered record (DeliveryToS3.DataFreshness)."
    );
    let _ = writeln!(out, "# TYPE tarn_firehose_data_freshness_seconds gauge");
    for (n, _, p) in streams {
        let age = p.oldest_ms.map_or(0.0, |o| (now_ms - o).max(0) as f64 / 1000.0);
        let _ = writeln!(out, "tarn_firehose_data_freshness_seconds{{delivery_stream=\"{n}\"}} {age}");
    }
    out
}
