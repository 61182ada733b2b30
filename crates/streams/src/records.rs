//! Records: per-shard segment logs with group commit, partition-key routing, iterators.
//!
//! Each open shard has a [`SegmentLog`] in `streams/<stream>/<shard>/`. Appends to a shard queue
//! up; one blocking flush takes everything queued and makes it durable with one write and one
//! fdatasync, then answers every waiting PutRecord(s). A record's sequence number is its shard
//! index and its number in the shard log, so a lookup by sequence number is a binary search in
//! the log's index, and so is one by timestamp.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use md5::Digest as _;
use tarn_store::segment::{AppendReply, GroupQueue, SegmentLog};
use tarn_store::{Store, StoreError};

use crate::{Result, StreamRecord, StreamsError, sequence_number};

pub use tarn_common::limits::kinesis::{ITERATOR_TTL_MS, RECORD_BYTES_MAX};

/// What an append to a shard closed by resharding answers; PutRecord routes again.
const SHARD_CLOSED: &str = "shard is closed";

/// Per-shard write and read allowances, refilled continuously (a token bucket holding at most
/// one second's worth).
struct Throughput {
    at_ms: i64,
    write_records: f64,
    write_bytes: f64,
    read_bytes: f64,
}

const WRITE_RECORDS_PER_SECOND: f64 = 1000.0;
const WRITE_BYTES_PER_SECOND: f64 = 1024.0 * 1024.0;
const READ_BYTES_PER_SECOND: f64 = 2.0 * 1024.0 * 1024.0;

impl Throughput {
    fn full() -> Self {
        Self {
            at_ms: tarn_common::now_unix_nanos() / 1_000_000,
            write_records: WRITE_RECORDS_PER_SECOND,
            write_bytes: WRITE_BYTES_PER_SECOND,
            read_bytes: READ_BYTES_PER_SECOND,
        }
    }

    fn refill(&mut self) {
        let now = tarn_common::now_unix_nanos() / 1_000_000;
        #[allow(clippy::cast_precision_loss)]
        let secs = (now - self.at_ms).max(0) as f64 / 1000.0;
        self.at_ms = now;
        self.write_records = (self.write_records + secs * WRITE_RECORDS_PER_SECOND).min(WRITE_RECORDS_PER_SECOND);
        self.write_bytes = (self.write_bytes + secs * WRITE_BYTES_PER_SECOND).min(WRITE_BYTES_PER_SECOND);
        self.read_bytes = (self.read_bytes + secs * READ_BYTES_PER_SECOND).min(READ_BYTES_PER_SECOND);
    }

    /// Takes one record of `bytes` from the write allowance, if it has room.
    fn take_write(&mut self, bytes: usize) -> bool {
        self.refill();
        #[allow(clippy::cast_precision_loss)]
        let bytes = bytes as f64;
        if self.write_records >= 1.0 && self.write_bytes >= bytes {
            self.write_records -= 1.0;
            self.write_bytes -= bytes;
            true
        } else {
            false
        }
    }

    /// Whether a read may start (the allowance is not in debt), then charges what it read.
    fn can_read(&mut self) -> bool {
        self.refill();
        self.read_bytes > 0.0
    }

    fn charge_read(&mut self, bytes: usize) {
        #[allow(clippy::cast_precision_loss)]
        let bytes = bytes as f64;
        self.read_bytes -= bytes;
    }
}

/// One shard's log and its queue of appends waiting for the next flush.
struct ShardLog {
    throughput: Mutex<Throughput>,
    /// The log, and whether the shard is closed (by a split or merge). Both under one lock:
    /// an append checks `closed` and writes while holding it, so once a shard is closed no
    /// record can land after its ending sequence number.
    log: Mutex<(SegmentLog, bool)>,
    queue: GroupQueue,
}

impl ShardLog {
    /// Appends everything queued, batch by batch, until the queue is empty.
    fn flush_loop(&self) {
        self.queue.flush_loop(|payloads| {
            let now_ms = tarn_common::now_unix_nanos() / 1_000_000;
            let mut guard = self.log.lock().expect("log lock");
            let (log, closed) = &mut *guard;
            let result =
                if *closed { Err(StoreError::Aborted(SHARD_CLOSED.into())) } else { log.append(payloads, now_ms) };
            if let Err(err) = &result {
                tracing::error!(message = %err, "shard append failed");
            }
            result
        });
    }
}

/// The open shard logs of every stream.
pub(crate) struct ShardLogs {
    logs: Mutex<HashMap<(String, String), Arc<ShardLog>>>,
    segment_bytes_max: u64,
}

impl ShardLogs {
    pub(crate) fn new(segment_bytes_max: u64) -> Self {
        Self { logs: Mutex::default(), segment_bytes_max }
    }

    fn get(&self, store: &Store, stream: &str, shard: &str, closed: bool) -> Result<Arc<ShardLog>> {
        let mut logs = self.logs.lock().expect("logs lock");
        if let Some(log) = logs.get(&(stream.to_string(), shard.to_string())) {
            return Ok(log.clone());
        }
        let dir = store.log_dir(&["streams", stream, shard]);
        let log = Arc::new(ShardLog {
            throughput: Mutex::new(Throughput::full()),
            log: Mutex::new((SegmentLog::open(&dir, self.segment_bytes_max)?, closed)),
            queue: GroupQueue::default(),
        });
        logs.insert((stream.to_string(), shard.to_string()), log.clone());
        Ok(log)
    }

    /// Closes a shard to appends; returns the number of its last record, if any.
    pub(crate) fn close(&self, store: &Store, stream: &str, shard: &str) -> Result<Option<u64>> {
        let log = self.get(store, stream, shard, false)?;
        let mut guard = log.log.lock().expect("log lock");
        guard.1 = true;
        Ok(guard.0.next_n().checked_sub(1))
    }

    /// Applies retention to one shard's log.
    pub(crate) fn drop_older_than(
        &self,
        store: &Store,
        stream: &str,
        shard: &str,
        closed: bool,
        cutoff_ms: i64,
    ) -> Result<usize> {
        let log = self.get(store, stream, shard, closed)?;
        let mut guard = log.log.lock().expect("log lock");
        Ok(guard.0.drop_older_than(cutoff_ms)?)
    }

    /// Reopens a shard whose closing did not commit.
    pub(crate) fn reopen(&self, store: &Store, stream: &str, shard: &str) -> Result<()> {
        let log = self.get(store, stream, shard, false)?;
        log.log.lock().expect("log lock").1 = false;
        Ok(())
    }

    /// Forgets a deleted stream's logs and removes their files.
    pub(crate) fn remove_stream(&self, store: &Store, stream: &str) -> Result<()> {
        self.logs.lock().expect("logs lock").retain(|(s, _), _| s != stream);
        let dir = store.log_dir(&["streams", stream]);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::from(e).into()),
        }
    }
}

/// Encodes a record as stored: partition key length, partition key, data.
fn encode_record(partition_key: &str, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + partition_key.len() + data.len());
    out.extend_from_slice(&u16::try_from(partition_key.len()).expect("validated <= 256").to_le_bytes());
    out.extend_from_slice(partition_key.as_bytes());
    out.extend_from_slice(data);
    out
}

fn decode_record(payload: &[u8]) -> Result<(String, Vec<u8>)> {
    let corrupt = || StreamsError::Store(StoreError::Corrupt("record payload is malformed".into()));
    let len = usize::from(u16::from_le_bytes(payload.get(..2).ok_or_else(corrupt)?.try_into().expect("2 bytes")));
    let key = payload.get(2..2 + len).ok_or_else(corrupt)?;
    Ok((String::from_utf8_lossy(key).into_owned(), payload[2 + len..].to_vec()))
}

/// The 128-bit hash key a partition key maps to: its MD5 as a big-endian integer.
#[must_use]
pub fn hash_key(partition_key: &str) -> u128 {
    u128::from_be_bytes(md5::Md5::digest(partition_key.as_bytes()).into())
}

/// (shard index, record number) of a sequence number made by [`sequence_number`].
#[must_use]
pub fn parse_sequence_number(seq: &str) -> Option<(u32, u64)> {
    if seq.len() != 56 || !seq.starts_with("49") || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((seq[2..12].parse().ok()?, seq[12..].parse().ok()?))
}

/// A record as GetRecords returns it.
#[derive(Clone, Debug)]
pub struct StreamRecordOut {
    pub sequence_number: String,
    pub partition_key: String,
    pub data: Vec<u8>,
    pub arrival_ms: i64,
    /// Whether the record is stored sealed under the stream's KMS key.
    pub encrypted: bool,
}

/// How a shard iterator starts.
#[derive(Clone, Debug)]
pub enum IteratorStart {
    TrimHorizon,
    Latest,
    AtSequenceNumber(String),
    AfterSequenceNumber(String),
    AtTimestamp(i64),
}

struct Iterator {
    stream: String,
    shard: String,
    n: u64,
    issued_ms: i64,
}

fn encode_iterator(it: &Iterator) -> String {
    B64.encode(format!("1\n{}\n{}\n{}\n{}", it.stream, it.shard, it.n, it.issued_ms))
}

fn decode_iterator(token: &str) -> Option<Iterator> {
    let raw = String::from_utf8(B64.decode(token).ok()?).ok()?;
    let mut parts = raw.split('\n');
    if parts.next()? != "1" {
        return None;
    }
    let it = Iterator {
        stream: parts.next()?.to_string(),
        shard: parts.next()?.to_string(),
        n: parts.next()?.parse().ok()?,
        issued_ms: parts.next()?.parse().ok()?,
    };
    parts.next().is_none().then_some(it)
}

/// The stream a shard iterator reads (for authorizing GetRecords), if the token is one.
#[must_use]
pub fn iterator_stream(iterator: &str) -> Option<String> {
    decode_iterator(iterator).map(|it| it.stream)
}

fn shard_index(shard_id: &str) -> Option<u32> {
    shard_id.strip_prefix("shardId-")?.parse().ok()
}

/// What GetRecords answers.
pub struct RecordsPage {
    pub records: Vec<StreamRecordOut>,
    pub next_iterator: Option<String>,
    pub millis_behind_latest: i64,
    /// At the end of a closed shard: the shards that took over its hash keys (the KCL moves on
    /// to them), each with its parents and hash key range.
    pub child_shards: Vec<crate::ShardRecord>,
}

impl crate::Streams {
    fn open_shard_for(&self, stream: &StreamRecord, hash: u128) -> Result<String> {
        stream
            .shards
            .iter()
            .find(|s| s.ending_sequence_number.is_none() && s.starting_hash_key <= hash && hash <= s.ending_hash_key)
            .map(|s| s.id.clone())
            .ok_or_else(|| StreamsError::Store(StoreError::Bug(format!("no open shard covers hash key {hash}"))))
    }

    /// Validates one record and picks its shard; returns (shard id, stored payload).
    fn route(
        &self,
        stream: &StreamRecord,
        partition_key: &str,
        explicit_hash_key: Option<&str>,
        data: &[u8],
    ) -> Result<(String, Vec<u8>)> {
        if partition_key.is_empty() || partition_key.chars().count() > 256 {
            return Err(StreamsError::Validation(format!(
                "1 validation error detected: Value '{partition_key}' at 'partitionKey' failed to satisfy constraint: Member must have length between 1 and 256"
            )));
        }
        if data.len() + partition_key.len() > RECORD_BYTES_MAX {
            return Err(StreamsError::Validation(format!(
                "1 validation error detected: Value at 'data' failed to satisfy constraint: Member must have length less than or equal to {RECORD_BYTES_MAX}"
            )));
        }
        if let Some(h) = explicit_hash_key
            && !(h == "0"
                || (!h.is_empty() && h.len() <= 39 && !h.starts_with('0') && h.bytes().all(|b| b.is_ascii_digit())))
        {
            return Err(StreamsError::Validation(format!(
                "1 validation error detected: Value '{h}' at 'explicitHashKey' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{{0,38}})"
            )));
        }
        let hash = match explicit_hash_key {
            Some(h) => h.parse::<u128>().map_err(|_| {
                StreamsError::InvalidArgument(format!(
                    "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {h}"
                ))
            })?,
            None => hash_key(partition_key),
        };
        Ok((self.open_shard_for(stream, hash)?, self.seal(stream, encode_record(partition_key, data))?))
    }

    /// Queues an append to a shard and makes sure a flush will take it.
    fn enqueue(&self, stream: &str, shard: &str, payload: Vec<u8>, limited: bool) -> Result<AppendReply> {
        // only open shards are routed to; a closed one refuses the append at flush time
        let log = self.shards.get(&self.store, stream, shard, false)?;
        // the quota counts data plus partition key, not what tarn stores with them
        if limited && !log.throughput.lock().expect("throughput lock").take_write(crate::sse::billed_len(&payload)) {
            return Err(StreamsError::ProvisionedThroughputExceeded(format!(
                "Rate exceeded for shard {shard} in stream {stream} under account {}.",
                self.config.account_id
            )));
        }
        let (rx, start) = log.queue.enqueue(vec![payload.into()]);
        if start {
            let flusher = log.clone();
            tokio::task::spawn_blocking(move || flusher.flush_loop());
        }
        Ok(rx)
    }

    async fn append(&self, stream: &str, shard: &str, payload: Vec<u8>, limited: bool) -> Result<String> {
        let rx = self.enqueue(stream, shard, payload, limited)?;
        let numbered = rx
            .await
            .map_err(|_| StreamsError::Store(StoreError::Bug("shard flush stopped".into())))?
            .map_err(|m| StreamsError::Store(StoreError::Aborted(m)))?;
        let (n, _) = numbered[0];
        let index =
            shard_index(shard).ok_or_else(|| StreamsError::Store(StoreError::Bug(format!("bad shard id {shard}"))))?;
        Ok(sequence_number(index, n))
    }

    /// PutRecord: the record is durable in its shard's log before this returns; (shard, sequence
    /// number, whether it was sealed). A record routed to a shard that a concurrent split or
    /// merge closed is routed again to its child.
    pub async fn put_record(
        &self,
        stream: &str,
        partition_key: &str,
        explicit_hash_key: Option<&str>,
        data: &[u8],
    ) -> Result<(String, String, bool)> {
        // a shard closes before the commit that names its children: route again until it is in
        for _ in 0..400 {
            let rec = self.describe(stream)?;
            self.check_sealing(&rec)?;
            let (shard, payload) = self.route(&rec, partition_key, explicit_hash_key, data)?;
            let limited = self.config.enforce_limits && rec.mode == crate::StreamMode::Provisioned;
            match self.append(stream, &shard, payload, limited).await {
                Err(StreamsError::Store(StoreError::Aborted(m))) if m == SHARD_CLOSED => {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
                other => return other.map(|seq| (shard, seq, rec.sse.enabled)),
            }
        }
        Err(StreamsError::ResourceInUse(format!("Stream {stream} is being resharded; retry the request.")))
    }

    /// PutRecords: every record is validated and routed, then all appends are queued at once
    /// (so a shard's group commit takes them together) and awaited. A record that fails gets
    /// its own error; the others still succeed.
    fn put_records_once(
        &self,
        stream: &str,
        records: &[(String, Option<String>, Vec<u8>)],
    ) -> Result<(bool, impl std::future::Future<Output = Vec<Appended>> + use<>)> {
        let rec = self.describe(stream)?;
        self.check_sealing(&rec)?;
        let limited = self.config.enforce_limits && rec.mode == crate::StreamMode::Provisioned;
        let mut pending = Vec::with_capacity(records.len());
        for (partition_key, explicit, data) in records {
            match self.route(&rec, partition_key, explicit.as_deref(), data) {
                Ok((shard, payload)) => {
                    // queued in request order, so a shard's records keep it
                    match self.enqueue(stream, &shard, payload, limited) {
                        Ok(rx) => pending.push(Ok((shard, rx))),
                        Err(e @ StreamsError::ProvisionedThroughputExceeded(_)) => pending.push(Err(e)),
                        Err(e) => return Err(e),
                    }
                }
                Err(StreamsError::Store(e)) => return Err(e.into()),
                Err(e) => pending.push(Err(e)),
            }
        }
        Ok((rec.sse.enabled, async move {
            let mut out = Vec::with_capacity(pending.len());
            for p in pending {
                out.push(match p {
                    Ok((shard, rx)) => match rx.await {
                        Ok(Ok(numbered)) => {
                            let (n, _) = numbered[0];
                            let index = shard_index(&shard).unwrap_or(0);
                            Appended::Done(shard, sequence_number(index, n))
                        }
                        Ok(Err(m)) if m == SHARD_CLOSED => Appended::ShardClosed,
                        Ok(Err(m)) => Appended::Failed(StreamsError::Internal(m)),
                        Err(_) => Appended::Failed(StreamsError::Internal("the shard's writer stopped".into())),
                    },
                    Err(e) => Appended::Failed(e),
                });
            }
            out
        }))
    }

    /// PutRecords, with records that a concurrent reshard refused routed again (in order) once
    /// the children are committed. Each record is its (shard, sequence number), or why it
    /// failed; and whether the stream sealed them.
    pub async fn put_records_rerouted(
        &self,
        stream: &str,
        records: Vec<(String, Option<String>, Vec<u8>)>,
    ) -> Result<(Vec<std::result::Result<(String, String), StreamsError>>, bool)> {
        let (sealed, put) = self.put_records_once(stream, &records)?;
        let mut results = put.await;
        for _ in 0..400 {
            let retry: Vec<usize> = results
                .iter()
                .enumerate()
                .filter(|(_, r)| matches!(r, Appended::ShardClosed))
                .map(|(i, _)| i)
                .collect();
            if retry.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            let again_records: Vec<_> = retry.iter().map(|&i| records[i].clone()).collect();
            let again = self.put_records_once(stream, &again_records)?.1.await;
            for (i, r) in retry.into_iter().zip(again) {
                results[i] = r;
            }
        }
        let results = results
            .into_iter()
            .map(|r| match r {
                Appended::Done(shard, seq) => Ok((shard, seq)),
                Appended::ShardClosed => {
                    Err(StreamsError::Internal("The shard was being resharded; retry the record.".to_string()))
                }
                Appended::Failed(e) => Err(e),
            })
            .collect();
        Ok((results, sealed))
    }

    /// GetShardIterator.
    pub fn get_shard_iterator(&self, stream: &str, shard_id: &str, start: IteratorStart) -> Result<String> {
        let rec = self.describe(stream)?;
        if !rec.shards.iter().any(|s| s.id == shard_id) {
            return Err(StreamsError::ResourceNotFound(format!(
                "Shard {shard_id} in stream {stream} under account {} does not exist",
                self.config.account_id
            )));
        }
        let index = shard_index(shard_id).unwrap_or(u32::MAX);
        let closed = rec.shards.iter().any(|s| s.id == shard_id && s.ending_sequence_number.is_some());
        let log = self.shards.get(&self.store, stream, shard_id, closed)?;
        let guard = log.log.lock().expect("log lock");
        let log = &guard.0;
        let seq_n = |seq: &str| -> Result<u64> {
            match parse_sequence_number(seq) {
                Some((i, n)) if i == index => Ok(n),
                _ => Err(StreamsError::InvalidArgument(format!(
                    "Invalid StartingSequenceNumber. It encodes {seq}, which is not a sequence number of shard {shard_id}."
                ))),
            }
        };
        let n = match start {
            IteratorStart::TrimHorizon => log.first_n(),
            IteratorStart::Latest => log.next_n(),
            IteratorStart::AtSequenceNumber(seq) => seq_n(&seq)?.max(log.first_n()),
            IteratorStart::AfterSequenceNumber(seq) => (seq_n(&seq)? + 1).max(log.first_n()),
            IteratorStart::AtTimestamp(ts_ms) => log.first_at_or_after(ts_ms),
        };
        let issued_ms = tarn_common::now_unix_nanos() / 1_000_000;
        Ok(encode_iterator(&Iterator { stream: stream.to_string(), shard: shard_id.to_string(), n, issued_ms }))
    }

    /// GetRecords: up to `limit` records (and about 10 MiB) from the iterator's position.
    pub fn get_records(&self, iterator: &str, limit: usize) -> Result<RecordsPage> {
        let it = decode_iterator(iterator)
            .ok_or_else(|| StreamsError::InvalidArgument(format!("Invalid ShardIterator: {iterator}")))?;
        let now_ms = tarn_common::now_unix_nanos() / 1_000_000;
        if now_ms - it.issued_ms > ITERATOR_TTL_MS {
            return Err(StreamsError::ExpiredIterator(format!(
                "Iterator expired. The iterator was created at time {} while right now it is {} which is further in the future than the tolerated delay of {ITERATOR_TTL_MS} milliseconds.",
                it.issued_ms, now_ms
            )));
        }
        let rec = self.describe(&it.stream)?;
        let Some(shard) = rec.shards.iter().find(|s| s.id == it.shard) else {
            return Err(StreamsError::ResourceNotFound(format!(
                "Shard {} in stream {} does not exist",
                it.shard, it.stream
            )));
        };
        let index = shard_index(&it.shard).unwrap_or(0);
        let log = self.shards.get(&self.store, &it.stream, &it.shard, shard.ending_sequence_number.is_some())?;
        let limited = self.config.enforce_limits && rec.mode == crate::StreamMode::Provisioned;
        if limited && !log.throughput.lock().expect("throughput lock").can_read() {
            return Err(StreamsError::ProvisionedThroughputExceeded(format!(
                "Rate exceeded for shard {} in stream {} under account {}.",
                it.shard, it.stream, self.config.account_id
            )));
        }
        let throughput = &log.throughput;
        let guard = log.log.lock().expect("log lock");
        let (log, closed) = (&guard.0, guard.1);
        let from = it.n.max(log.first_n());
        let read = log.read(from, limit, 10 * 1024 * 1024)?;
        let latest_ts = log.timestamp_of(log.next_n().saturating_sub(1));
        let at_end = read.last().map_or(from, |r| r.n + 1) >= log.next_n();
        drop(guard);
        if limited {
            throughput.lock().expect("throughput lock").charge_read(read.iter().map(|r| r.payload.len()).sum());
        }
        let mut records = Vec::with_capacity(read.len());
        for r in &read {
            let (partition_key, data) = decode_record(&self.unseal(&rec, &r.payload)?)?;
            records.push(StreamRecordOut {
                sequence_number: sequence_number(index, r.n),
                partition_key,
                data,
                arrival_ms: r.ts_ms,
                encrypted: crate::sse::is_sealed(&r.payload),
            });
        }
        let next_n = read.last().map_or(from, |r| r.n + 1);
        let millis_behind_latest = match (read.last(), latest_ts) {
            (Some(last), Some(latest)) if last.n + 1 < u64::MAX => (latest - last.ts_ms).max(0),
            _ => 0,
        };
        // a closed shard read to its end has no next iterator: readers move on to its children
        let finished = closed && at_end && records.is_empty();
        let child_shards = if finished {
            rec.shards
                .iter()
                .filter(|s| {
                    s.parent_shard_id.as_deref() == Some(&it.shard)
                        || s.adjacent_parent_shard_id.as_deref() == Some(&it.shard)
                })
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        let next_iterator = if finished {
            None
        } else {
            Some(encode_iterator(&Iterator { stream: it.stream, shard: it.shard, n: next_n, issued_ms: now_ms }))
        };
        Ok(RecordsPage { records, next_iterator, millis_behind_latest, child_shards })
    }
}

/// What became of one record of a PutRecords.
enum Appended {
    Done(String, String),
    /// A reshard closed its shard between routing and appending: route it again.
    ShardClosed,
    Failed(StreamsError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_round_trip() {
        let seq = sequence_number(7, 123_456);
        assert_eq!(parse_sequence_number(&seq), Some((7, 123_456)));
        assert_eq!(parse_sequence_number("12345"), None);
    }

    #[test]
    fn iterators_round_trip() {
        let it = Iterator { stream: "s.1".into(), shard: "shardId-000000000001".into(), n: 42, issued_ms: 7 };
        let back = decode_iterator(&encode_iterator(&it)).unwrap();
        assert_eq!(
            (back.stream.as_str(), back.shard.as_str(), back.n, back.issued_ms),
            ("s.1", "shardId-000000000001", 42, 7)
        );
        assert!(decode_iterator("not-an-iterator").is_none());
    }

    #[test]
    fn partition_keys_hash_with_md5() {
        // MD5("a") = 0cc175b9c0f1b6a831c399e269772661
        assert_eq!(hash_key("a"), 0x0cc1_75b9_c0f1_b6a8_31c3_99e2_6977_2661);
    }
}
