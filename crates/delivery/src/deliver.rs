//! The delivery task of one stream: decides when to flush, turns a range of buffered records
//! into objects (processors, partitions, Parquet/ORC or compression, error documents), stores
//! them and only then marks the range delivered.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::json;

use crate::buffer::Pending;
use crate::compress::Compressor;
use crate::convert::{ConversionSpec, RecordWriter};
use crate::model::{Conversion, Destination, StreamDoc};
use crate::upload::{Done, Target, Upload};
use crate::{Inner, Runtime, update_progress};

/// Largest read from the buffer at a time.
const PAGE_BYTES: usize = 8 * 1024 * 1024;
const PAGE_RECORDS: usize = 10_000;
/// Partitions one flush may write (AWS's active-partition quota per stream): each holds an
/// upload's chunks in flight and, when converting, a row group being built.
use tarn_common::limits::firehose::ACTIVE_PARTITIONS_MAX;
/// Retry cadence of a failed delivery: 1 s, doubling, at most 5 s (AWS retries S3 every 5 s).
const BACKOFF_FIRST_MS: u64 = 1000;
const BACKOFF_MAX_MS: u64 = 5000;

pub const CONVERSION_FAILED: &str = "format-conversion-failed";
/// Records whose delivery kept failing for the whole retry window (tarn's name: AWS documents
/// none for S3 destinations).
pub const DELIVERY_FAILED: &str = "s3-delivery-failed";

fn now_ms() -> i64 {
    tarn_common::now_unix_nanos() / 1_000_000
}

fn utc(ms: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// Runs until the stream is deleted.
pub(crate) async fn run(inner: Arc<Inner>, rt: Arc<Runtime>) {
    let mut backoff = BACKOFF_FIRST_MS;
    // since when the delivery of the oldest buffered records has been failing
    let mut failing_since: Option<std::time::Instant> = None;
    let mut last_failure = String::new();
    loop {
        if rt.stopped.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let p = rt.buffer.pending();
        let dest = rt.destination();
        if p.end <= p.delivered {
            rt.buffer.wake.notified().await;
            continue;
        }
        let age = u64::try_from(p.oldest_ms.map_or(0, |o| (now_ms() - o).max(0))).unwrap_or(0);
        if p.bytes < dest.size_bytes && age < dest.interval_ms {
            let wait = Duration::from_millis(dest.interval_ms - age);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = rt.buffer.wake.notified() => {}
            }
            continue;
        }
        // past the retry window the records go to the error prefix instead (which, if it
        // fails too, is retried for ever, blocking the stream, as AWS does)
        let give_up = failing_since
            .filter(|t| t.elapsed() >= Duration::from_secs(dest.retry_seconds))
            .map(|_| last_failure.clone());
        match flush(&inner, &rt, &dest, p, give_up).await {
            Ok(()) => {
                failing_since = None;
                backoff = BACKOFF_FIRST_MS;
                *rt.failure.lock().expect("failure lock") = None;
            }
            Err((kind, message)) => {
                let name = rt.doc().name;
                tracing::warn!(stream = %name, %message, retry_in_ms = backoff, "firehose delivery failed; will retry");
                rt.metrics.delivery_failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                failing_since.get_or_insert_with(std::time::Instant::now);
                last_failure.clone_from(&message);
                *rt.failure.lock().expect("failure lock") = Some((kind.to_string(), message));
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(backoff)) => {}
                    () = wait_stopped(&rt) => {}
                }
                backoff = (backoff * 2).min(BACKOFF_MAX_MS);
            }
        }
    }
}

async fn wait_stopped(rt: &Runtime) {
    while !rt.stopped.load(std::sync::atomic::Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One output object, being stored.
struct Output {
    done: Done,
}

/// What one flush produced.
struct Built {
    upto: u64,
    bytes: u64,
    records: u64,
    outputs: Vec<Output>,
    converted: u64,
    conversion_failed: u64,
    processing_failed: u64,
}

type FlushError = (&'static str, String);

async fn flush(
    inner: &Arc<Inner>,
    rt: &Arc<Runtime>,
    dest: &Arc<Destination>,
    p: Pending,
    give_up: Option<String>,
) -> Result<(), FlushError> {
    let doc = rt.doc();
    let spec = match (&dest.conversion, &give_up) {
        (Some(c), None) => Some(spec_of(&inner.catalog, c).map_err(|m| ("UNKNOWN_ERROR", m))?),
        _ => None,
    };
    let (buffer, dest2, doc2) = (rt.buffer.clone(), dest.clone(), doc.clone());
    let account = inner.config.account_id.clone();
    // delivery writes as the stream's role, when the directory has it
    let access = match inner.iam.get() {
        Some(iam) => iam
            .service_role(&dest.role_arn, "firehose.amazonaws.com")
            .map_err(|m| ("UNKNOWN_ERROR", format!("S3.AccessDenied: Access was denied. Ensure that the trust policy for the provided IAM role allows Firehose to assume the role: {m}")))?
            .map(|p| std::sync::Arc::new((iam.clone(), p))),
        None => None,
    };
    // the destination's KMSEncryptionConfig: every delivered object is SSE-KMS under that key
    let sse = match doc
        .destination
        .pointer("/EncryptionConfiguration/KMSEncryptionConfig/AWSKMSKeyARN")
        .and_then(serde_json::Value::as_str)
    {
        Some(arn) => tarn_objects::SseRequest::Kms {
            account: arn.split(':').nth(4).filter(|a| !a.is_empty()).unwrap_or(&account).to_string(),
            key: Some(arn.to_string()),
            context: std::collections::BTreeMap::new(),
            bucket_key: false,
            dsse: false,
        },
        None => tarn_objects::SseRequest::BucketDefault,
    };
    let uploads = Uploads {
        runtime: tokio::runtime::Handle::current(),
        objects: inner.objects.clone(),
        access,
        sse: Arc::new(sse),
    };
    let built = tokio::task::spawn_blocking(move || {
        build(&buffer, &dest2, spec, &doc2, p, &uploads, &account, give_up.as_deref())
    })
    .await
    .map_err(|e| ("UNKNOWN_ERROR", format!("the delivery worker failed: {e}")))?;
    let built = built.map_err(|m| ("UNKNOWN_ERROR", m))?;
    // every object of the flush is stored before its records count as delivered
    let objects = built.outputs.len() as u64;
    for o in built.outputs {
        o.done.await.map_err(|_| ("UNKNOWN_ERROR", "the object upload stopped".to_string()))?.map_err(|m| {
            match m.strip_prefix(crate::upload::ACCESS_DENIED) {
                // DeliveryStreamFailureType has no S3 kind: the details carry S3's error code
                // first, as Firehose's error logs do
                Some(rest) => ("UNKNOWN_ERROR", format!("S3.AccessDenied: {rest}")),
                None => ("UNKNOWN_ERROR", m),
            }
        })?;
    }
    let upto = built.upto;
    update_progress(&inner.store, &doc.name, doc.incarnation, move |pr| pr.delivered = pr.delivered.max(upto))
        .await
        .map_err(|e| ("UNKNOWN_ERROR", format!("recording delivery progress failed: {e}")))?;
    rt.buffer.delivered(built.upto, built.bytes);
    use std::sync::atomic::Ordering::Relaxed;
    let m = &rt.metrics;
    m.delivered_records.fetch_add(built.records, Relaxed);
    m.delivered_bytes.fetch_add(built.bytes, Relaxed);
    m.delivered_objects.fetch_add(objects, Relaxed);
    m.conversion_succeeded.fetch_add(built.converted, Relaxed);
    m.conversion_failed.fetch_add(built.conversion_failed, Relaxed);
    m.processing_failed.fetch_add(built.processing_failed, Relaxed);
    Ok(())
}

fn spec_of(catalog: &tarn_catalog::Catalog, c: &Conversion) -> Result<ConversionSpec, String> {
    let table = catalog
        .get_table(&c.database, &c.table)
        .map_err(|e| format!("Could not read the schema of table {}.{} from the catalog: {e}", c.database, c.table))?;
    let columns: Vec<(String, String)> =
        table.columns().iter().map(|col| (col.name.to_lowercase(), col.type_name().to_string())).collect();
    if columns.is_empty() {
        return Err(format!("Table {}.{} has no columns to convert records into.", c.database, c.table));
    }
    Ok(ConversionSpec {
        columns,
        case_insensitive: c.case_insensitive,
        column_to_json_key: c.column_to_json_key.clone(),
        dots_to_underscores: c.dots_to_underscores,
        output: c.output.clone(),
    })
}

/// How a flush starts its uploads.
struct Uploads {
    runtime: tokio::runtime::Handle,
    objects: tarn_objects::Objects,
    access: Option<std::sync::Arc<(tarn_iam::Iam, tarn_iam::Principal)>>,
    /// The encryption of every object the flush writes.
    sse: Arc<tarn_objects::SseRequest>,
}

impl Uploads {
    fn to(&self, bucket: &str, key: String) -> Upload {
        Upload::new(Target {
            runtime: self.runtime.clone(),
            objects: self.objects.clone(),
            bucket: bucket.to_string(),
            key,
            access: self.access.clone(),
            sse: self.sse.clone(),
        })
    }
}

enum Writer {
    Convert(Box<RecordWriter<Upload>>),
    Compress(Compressor<Upload>),
}

/// An open output object: a partition's data, or an error type's documents. Its key is made
/// when its first record arrives, from that record's arrival time (the oldest: the buffer is
/// in arrival order).
struct Sink {
    writer: Writer,
    rows: u64,
}

/// The error document of one failed record, as AWS writes it.
fn error_document(
    error_type: &str,
    code: &str,
    message: &str,
    arrival_ms: i64,
    raw: &[u8],
    conversion: Option<&Conversion>,
    account: &str,
) -> Vec<u8> {
    let now = now_ms();
    let mut doc = if error_type == CONVERSION_FAILED {
        json!({
            "attemptsMade": 1,
            "arrivalTimestamp": arrival_ms,
            "ErrorCode": code,
            "ErrorMessage": message,
            "attemptEndingTimestamp": now,
            "rawData": B64.encode(raw),
        })
    } else {
        json!({
            "attemptsMade": 1,
            "arrivalTimestamp": arrival_ms,
            "errorCode": code,
            "errorMessage": message,
            "attemptEndingTimestamp": now,
            "rawData": B64.encode(raw),
        })
    };
    if let Some(c) = conversion {
        doc["dataCatalogTable"] = json!({
            "catalogId": account,
            "databaseName": c.database,
            "tableName": c.table,
        });
    }
    let mut line = doc.to_string().into_bytes();
    line.push(b'\n');
    line
}

#[allow(clippy::too_many_lines)]
fn build(
    buffer: &crate::buffer::Buffer,
    dest: &Destination,
    spec: Option<ConversionSpec>,
    doc: &StreamDoc,
    p: Pending,
    uploads: &Uploads,
    account: &str,
    give_up: Option<&str>,
) -> Result<Built, String> {
    let mut sinks: BTreeMap<BTreeMap<String, String>, Sink> = BTreeMap::new();
    let mut errors: BTreeMap<&'static str, Sink> = BTreeMap::new();
    let mut built = Built {
        upto: p.delivered,
        bytes: 0,
        records: 0,
        outputs: Vec::new(),
        converted: 0,
        conversion_failed: 0,
        processing_failed: 0,
    };
    let needed_keys = dest.prefix.partition_keys();
    let passthrough = dest.pipeline.passes_through();
    let ext = dest.extension();
    let delimiter = dest.pipeline.delimiter().map(<[u8]>::to_vec);
    let mut backup: Option<Sink> = None;
    let mut from = p.delivered;
    let result: Result<(), String> = (|| {
        // an object holds about SizeInMBs: records past that wait for the next flush
        'pages: while from < p.end && built.bytes < dest.size_bytes.max(1) {
            let page = buffer.read(from, PAGE_RECORDS, PAGE_BYTES).map_err(|e| e.to_string())?;
            let Some(last) = page.last() else { break };
            from = last.n + 1;
            for rec in page {
                if built.bytes >= dest.size_bytes.max(1) {
                    break 'pages;
                }
                built.upto = rec.n + 1;
                built.bytes += rec.data().len() as u64;
                built.records += 1;
                if let Some(b) = &dest.backup {
                    if backup.is_none() {
                        let key = crate::prefix::object_key(
                            &b.prefix,
                            &doc.name,
                            doc.version_id,
                            utc(rec.arrival_ms),
                            None,
                            &BTreeMap::new(),
                            b.compression.extension(),
                        )
                        .map_err(|e| e.0)?;
                        let writer =
                            Compressor::new(b.compression, uploads.to(&b.bucket, key), &format!("{}.backup", doc.name))
                                .map_err(|e| e.to_string())?;
                        backup = Some(Sink { writer: Writer::Compress(writer), rows: 0 });
                    }
                    if let Some(Sink { writer: Writer::Compress(c), rows, .. }) = backup.as_mut() {
                        c.write_all(rec.data()).map_err(|e| e.to_string())?;
                        *rows += 1;
                    }
                }
                let mut fail = |error_type: &'static str, code: &str, message: &str, built: &mut Built| {
                    if error_type == CONVERSION_FAILED {
                        built.conversion_failed += 1;
                    } else {
                        built.processing_failed += 1;
                    }
                    let sink = match errors.entry(error_type) {
                        std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                        std::collections::btree_map::Entry::Vacant(v) => {
                            let key = error_object_key(dest, doc, error_type, utc(rec.arrival_ms), &BTreeMap::new())?;
                            let writer = Compressor::new(
                                crate::compress::Compression::Uncompressed,
                                uploads.to(&dest.bucket, key),
                                "",
                            )
                            .map_err(|e| e.to_string())?;
                            v.insert(Sink { writer: Writer::Compress(writer), rows: 0 })
                        }
                    };
                    let line = error_document(
                        error_type,
                        code,
                        message,
                        rec.arrival_ms,
                        rec.data(),
                        dest.conversion.as_ref().filter(|_| error_type == CONVERSION_FAILED),
                        account,
                    );
                    if let Writer::Compress(c) = &mut sink.writer {
                        c.write_all(&line).map_err(|e| e.to_string())?;
                    }
                    sink.rows += 1;
                    Ok::<(), String>(())
                };
                if let Some(reason) = give_up {
                    fail(DELIVERY_FAILED, "S3.DeliveryFailed", reason, &mut built)?;
                    continue;
                }
                // records pass through untouched unless a processor is configured
                let applied;
                let outs: Vec<(&[u8], BTreeMap<String, String>)> = if passthrough {
                    vec![(rec.data(), BTreeMap::new())]
                } else {
                    applied = match dest.pipeline.apply(rec.data()) {
                        Ok(outs) => outs,
                        Err(f) => {
                            fail(f.error_output_type(), f.code, &f.message, &mut built)?;
                            continue;
                        }
                    };
                    applied.iter().map(|(d, k)| (d.as_slice(), k.clone())).collect()
                };
                for (data, keys) in outs {
                    let keys = if dest.dynamic_partitioning { keys } else { BTreeMap::new() };
                    if let Some(missing) = needed_keys.iter().find(|k| !keys.contains_key(*k)) {
                        fail(
                            "metadata-extraction-failed",
                            crate::process::METADATA_EXTRACTION_FAILED,
                            &format!(
                                "The partition key {missing} used in the prefix was not extracted from the record."
                            ),
                            &mut built,
                        )?;
                        continue;
                    }
                    if dest.dynamic_partitioning && !sinks.contains_key(&keys) && sinks.len() >= ACTIVE_PARTITIONS_MAX {
                        fail(
                            "processing-failed",
                            "DynamicPartitioning.ActivePartitionsLimitExceeded",
                            &format!("A buffer may hold at most {ACTIVE_PARTITIONS_MAX} active partitions."),
                            &mut built,
                        )?;
                        continue;
                    }
                    // a partition whose keys make no valid object key (too long, say) is the
                    // records' fault, not the bucket's: they go to the error prefix
                    let sink = match sinks.entry(keys) {
                        std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                        std::collections::btree_map::Entry::Vacant(v) => {
                            let key = match crate::prefix::object_key(
                                &dest.prefix,
                                &doc.name,
                                doc.version_id,
                                utc(rec.arrival_ms),
                                None,
                                v.key(),
                                &ext,
                            ) {
                                Ok(key) => key,
                                Err(e) => {
                                    fail(
                                        "metadata-extraction-failed",
                                        crate::process::METADATA_EXTRACTION_FAILED,
                                        &format!("The partition keys do not make a valid prefix: {}", e.0),
                                        &mut built,
                                    )?;
                                    continue;
                                }
                            };
                            let out = uploads.to(&dest.bucket, key);
                            let writer = match &spec {
                                Some(spec) => {
                                    Writer::Convert(Box::new(RecordWriter::new(spec, out).map_err(|e| e.to_string())?))
                                }
                                None => Writer::Compress(
                                    Compressor::new(dest.compression, out, &format!("{}.data", doc.name))
                                        .map_err(|e| e.to_string())?,
                                ),
                            };
                            v.insert(Sink { writer, rows: 0 })
                        }
                    };
                    match &mut sink.writer {
                        Writer::Convert(w) => match w.push(data) {
                            Ok(()) => {
                                built.converted += 1;
                                sink.rows += 1;
                            }
                            Err(e) => fail(CONVERSION_FAILED, e.code, &e.message, &mut built)?,
                        },
                        Writer::Compress(c) => {
                            c.write_all(data).map_err(|e| e.to_string())?;
                            if let Some(d) = &delimiter {
                                c.write_all(d).map_err(|e| e.to_string())?;
                            }
                            sink.rows += 1;
                        }
                    }
                }
            }
        }
        Ok(())
    })();
    // a failed flush drops its sinks: their uploads end unfinished and store nothing
    result?;
    // a sink that took no record (its one record failed conversion, say) makes no object
    let finish = |sink: Sink| -> Result<Option<Output>, String> {
        let upload = match sink.writer {
            Writer::Convert(w) => w.finish().map_err(|e| e.to_string())?,
            Writer::Compress(c) => c.finish().map_err(|e| e.to_string())?,
        };
        if sink.rows == 0 {
            return Ok(None);
        }
        Ok(Some(Output { done: upload.finish().map_err(|e| e.to_string())? }))
    };
    let all = sinks.into_values().chain(backup).chain(errors.into_values());
    for sink in all {
        if let Some(output) = finish(sink)? {
            built.outputs.push(output);
        }
    }
    Ok(built)
}

/// Where failed records go: the ErrorOutputPrefix, else `<Prefix><error-output-type>/YYYY/MM/dd/HH/`.
fn error_object_key(
    dest: &Destination,
    doc: &StreamDoc,
    error_type: &str,
    ts: time::OffsetDateTime,
    keys: &BTreeMap<String, String>,
) -> Result<String, String> {
    let template = dest.error_prefix.as_ref().unwrap_or(&dest.prefix);
    crate::prefix::object_key(template, &doc.name, doc.version_id, ts, Some(error_type), keys, "").map_err(|e| e.0)
}
