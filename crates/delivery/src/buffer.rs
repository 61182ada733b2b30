//! A delivery stream's durable buffer: a segment log of incoming records, appended in groups
//! (one write and one fdatasync for whatever puts are waiting), optionally sealed with the
//! stream's data key.

use std::path::Path;
use std::sync::{Arc, Mutex};

use tarn_store::segment::{GroupQueue, SegmentLog};
use tarn_store::{DataKey, StoreError};
use tokio::sync::Notify;

/// Buffer segment files roll over at this size; delivered segments are deleted whole.
const SEGMENT_BYTES_MAX: u64 = 32 * 1024 * 1024;

const PLAIN: u8 = 0;
const SEALED: u8 = 1;

/// One buffered record as read back.
pub struct Buffered {
    pub n: u64,
    pub arrival_ms: i64,
    /// The stored payload (a slice of the page it was read with), or the opened one; the
    /// record's data starts at `start`.
    payload: bytes::Bytes,
    start: usize,
}

impl Buffered {
    /// The record's data.
    #[must_use]
    pub fn data(&self) -> &[u8] {
        &self.payload[self.start..]
    }
}

/// What is waiting to be delivered.
#[derive(Clone, Copy, Debug, Default)]
pub struct Pending {
    /// Records numbered below this are delivered.
    pub delivered: u64,
    /// The next record number.
    pub end: u64,
    /// Bytes of data in `[delivered, end)`.
    pub bytes: u64,
    /// Arrival time of the record numbered `delivered`, if there is one.
    pub oldest_ms: Option<i64>,
}

/// The data size of a stored payload, without its flag byte (and seal).
fn data_len(payload: &[u8]) -> u64 {
    let overhead = match payload.first() {
        Some(&SEALED) => 1 + 8 + 16,
        _ => 1,
    };
    payload.len().saturating_sub(overhead) as u64
}

pub struct Buffer {
    log: Mutex<SegmentLog>,
    queue: GroupQueue,
    /// The stream's data key once SSE was ever enabled (sealed records stay readable), and
    /// whether new records are sealed.
    key: Mutex<(Option<DataKey>, bool)>,
    pending: Mutex<Pending>,
    /// Wakes the delivery task: records arrived, the stream changed, or it is going away.
    pub wake: Notify,
}

impl Buffer {
    /// Opens the buffer; `delivered` is the stream's stored progress.
    pub fn open(dir: &Path, delivered: u64, key: Option<DataKey>, seal: bool) -> Result<Self, StoreError> {
        let log = SegmentLog::open(dir, SEGMENT_BYTES_MAX)?;
        let delivered = delivered.max(log.first_n());
        let end = log.next_n();
        // count what is waiting, page by page
        let mut bytes = 0u64;
        let mut from = delivered;
        while from < end {
            let page = log.read(from, 10_000, 8 * 1024 * 1024)?;
            let Some(last) = page.last() else { break };
            from = last.n + 1;
            bytes += page.iter().map(|r| data_len(&r.payload)).sum::<u64>();
        }
        let oldest_ms = log.timestamp_of(delivered);
        Ok(Self {
            log: Mutex::new(log),
            queue: GroupQueue::default(),
            key: Mutex::new((key, seal)),
            pending: Mutex::new(Pending { delivered, end, bytes, oldest_ms }),
            wake: Notify::new(),
        })
    }

    /// Turns sealing of new records on (with `key`) or off.
    pub fn set_sealing(&self, key: Option<DataKey>, seal: bool) {
        let mut k = self.key.lock().expect("key lock");
        if key.is_some() {
            k.0 = key;
        }
        k.1 = seal && k.0.is_some();
    }

    #[must_use]
    pub fn pending(&self) -> Pending {
        *self.pending.lock().expect("pending lock")
    }

    fn encode(&self, data: &[u8]) -> Vec<u8> {
        let k = self.key.lock().expect("key lock");
        match (&k.0, k.1) {
            (Some(key), true) => {
                let mut nonce = [0u8; 8];
                rand::Rng::fill(&mut rand::rng(), &mut nonce);
                let mut out = Vec::with_capacity(data.len() + 9 + 16);
                out.push(SEALED);
                out.extend_from_slice(&nonce);
                key.seal_chunk(nonce, 0, true, data, &mut out);
                out
            }
            _ => {
                let mut out = Vec::with_capacity(data.len() + 1);
                out.push(PLAIN);
                out.extend_from_slice(data);
                out
            }
        }
    }

    /// (payload, where the data starts): plain records are not copied.
    fn decode(&self, payload: bytes::Bytes, n: u64) -> Result<(bytes::Bytes, usize), StoreError> {
        match payload.first() {
            Some(&PLAIN) => Ok((payload, 1)),
            Some(&SEALED) if payload.len() >= 9 => {
                let nonce: [u8; 8] = payload[1..9].try_into().expect("8 bytes");
                let mut sealed = payload[9..].to_vec();
                let k = self.key.lock().expect("key lock");
                let key = k.0.as_ref().ok_or_else(|| {
                    StoreError::Corrupt(format!("buffered record {n} is sealed, but the stream has no data key"))
                })?;
                key.open_chunk(nonce, 0, true, &mut sealed)?;
                Ok((sealed.into(), 0))
            }
            _ => Err(StoreError::Corrupt(format!("buffered record {n} has an unknown encoding"))),
        }
    }

    /// Appends records durably; returns each record's number and arrival time once the batch
    /// they were written in is fsync'd.
    pub async fn append(self: &Arc<Self>, records: Vec<Vec<u8>>) -> Result<Vec<(u64, i64)>, StoreError> {
        let encoded: Vec<Vec<u8>> = records.iter().map(|r| self.encode(r)).collect();
        let (rx, start) = self.queue.enqueue(encoded);
        if start {
            // fdatasync blocks: the flusher runs on the blocking pool
            let this = self.clone();
            tokio::task::spawn_blocking(move || this.flush_loop());
        }
        let numbered =
            rx.await.map_err(|_| StoreError::Bug("buffer flush stopped".into()))?.map_err(StoreError::Aborted)?;
        self.wake.notify_one();
        Ok(numbered)
    }

    /// Appends everything queued, batch by batch, and counts it as pending.
    fn flush_loop(&self) {
        self.queue.flush_loop(|payloads| {
            let now_ms = tarn_common::now_unix_nanos() / 1_000_000;
            let result = self.log.lock().expect("log lock").append(payloads, now_ms);
            match &result {
                Ok(numbered) => {
                    let mut p = self.pending.lock().expect("pending lock");
                    if p.oldest_ms.is_none() {
                        p.oldest_ms = numbered.first().map(|&(_, ts)| ts);
                    }
                    p.end = numbered.last().map_or(p.end, |&(n, _)| n + 1);
                    p.bytes += payloads.iter().map(|d| data_len(d)).sum::<u64>();
                }
                Err(err) => tracing::error!(%err, "firehose buffer append failed"),
            }
            result
        });
    }

    /// Reads up to about `max_bytes` of records starting at `from`.
    pub fn read(&self, from: u64, max_records: usize, max_bytes: usize) -> Result<Vec<Buffered>, StoreError> {
        let raw = self.log.lock().expect("log lock").read(from, max_records, max_bytes)?;
        raw.into_iter()
            .map(|r| {
                let (payload, start) = self.decode(r.payload, r.n)?;
                Ok(Buffered { n: r.n, arrival_ms: r.ts_ms, payload, start })
            })
            .collect()
    }

    /// Marks everything below `upto` delivered (after the progress commit) and deletes wholly
    /// delivered segments. `bytes` is the data size of the records newly delivered.
    pub fn delivered(&self, upto: u64, bytes: u64) {
        let mut log = self.log.lock().expect("log lock");
        {
            let mut p = self.pending.lock().expect("pending lock");
            p.delivered = upto.max(p.delivered);
            p.bytes = p.bytes.saturating_sub(bytes);
            p.oldest_ms = log.timestamp_of(p.delivered);
        }
        if let Err(err) = log.drop_before(upto) {
            tracing::warn!(%err, "could not delete delivered buffer segments");
        }
    }
}
