//! A delivery stream's durable buffer: a segment log of incoming records, appended in groups
//! (one write and one fdatasync for whatever puts are waiting), optionally sealed with the
//! stream's data key. Records appended but not yet read by the delivery task also stay in
//! memory (up to [`HOT_BYTES_MAX`]), so the common case of delivery keeping up reads nothing
//! back from the file; the log stays the truth for retries and after a restart.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tarn_store::segment::{GroupQueue, SegmentLog};
use tarn_store::{DataKey, StoreError};
use tokio::sync::Notify;

/// Buffer segment files roll over at this size; delivered segments are deleted whole.
const SEGMENT_BYTES_MAX: u64 = 32 * 1024 * 1024;

/// Bytes of durable, not yet read records a stream keeps in memory.
pub const HOT_BYTES_MAX: usize = 64 * 1024 * 1024;

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

/// Durable records not yet read, numbered `first..first + recs.len()` without gaps.
#[derive(Default)]
struct Hot {
    first: u64,
    recs: VecDeque<(i64, bytes::Bytes)>,
    bytes: usize,
}

impl Hot {
    fn end(&self) -> u64 {
        self.first + self.recs.len() as u64
    }

    /// Takes a just-appended batch if it continues what is held (or nothing is held) and fits.
    fn push(&mut self, numbered: &[(u64, i64)], payloads: &[bytes::Bytes]) {
        let Some(&(first, _)) = numbered.first() else { return };
        let size: usize = payloads.iter().map(bytes::Bytes::len).sum();
        if self.recs.is_empty() {
            self.first = first;
        }
        if first != self.end() || self.bytes + size > HOT_BYTES_MAX {
            return;
        }
        self.recs.extend(numbered.iter().zip(payloads).map(|(&(_, ts), p)| (ts, p.clone())));
        self.bytes += size;
    }

    /// Takes the records from `from` on, up to `max_records` and about `max_bytes` (at least
    /// one), if `from` is the first held; forgets any held below it.
    fn take(&mut self, from: u64, max_records: usize, max_bytes: usize) -> Option<Vec<(u64, i64, bytes::Bytes)>> {
        self.drop_before(from);
        if self.first != from || self.recs.is_empty() {
            return None;
        }
        let mut taken = Vec::new();
        let mut size = 0;
        while taken.len() < max_records.max(1) && (taken.is_empty() || size < max_bytes) {
            let Some((ts, payload)) = self.recs.pop_front() else { break };
            self.bytes -= payload.len();
            size += payload.len();
            taken.push((self.first, ts, payload));
            self.first += 1;
        }
        Some(taken)
    }

    /// Forgets the records numbered below `n`.
    fn drop_before(&mut self, n: u64) {
        while self.first < n {
            let Some((_, p)) = self.recs.pop_front() else {
                self.first = n;
                return;
            };
            self.bytes -= p.len();
            self.first += 1;
        }
    }
}

pub struct Buffer {
    log: Mutex<SegmentLog>,
    hot: Mutex<Hot>,
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
            hot: Mutex::default(),
            queue: GroupQueue::default(),
            key: Mutex::new((key, seal)),
            pending: Mutex::new(Pending { delivered, end, bytes, oldest_ms }),
            wake: Notify::new(),
        })
    }

    /// Whether the buffer holds its data key (a customer key that could not be used at start
    /// leaves it without one until it can).
    pub fn has_key(&self) -> bool {
        self.key.lock().expect("key lock").0.is_some()
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

    fn encode(&self, data: &[u8]) -> bytes::Bytes {
        let k = self.key.lock().expect("key lock");
        match (&k.0, k.1) {
            (Some(key), true) => {
                let mut nonce = [0u8; 8];
                rand::Rng::fill(&mut rand::rng(), &mut nonce);
                let mut out = Vec::with_capacity(data.len() + 9 + 16);
                out.push(SEALED);
                out.extend_from_slice(&nonce);
                key.seal_chunk(nonce, 0, true, data, &mut out);
                out.into()
            }
            _ => {
                let mut out = Vec::with_capacity(data.len() + 1);
                out.push(PLAIN);
                out.extend_from_slice(data);
                out.into()
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
        let encoded: Vec<bytes::Bytes> = records.iter().map(|r| self.encode(r)).collect();
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
                    self.hot.lock().expect("hot lock").push(numbered, payloads);
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

    /// Reads up to about `max_bytes` of records starting at `from` (at least one if there is
    /// one), from memory where they still are (and forgets them there: the delivery task reads
    /// forward, and a retry reads the log), otherwise from the log.
    pub fn read(&self, from: u64, max_records: usize, max_bytes: usize) -> Result<Vec<Buffered>, StoreError> {
        let held = self.hot.lock().expect("hot lock").take(from, max_records, max_bytes);
        let raw = match held {
            Some(held) => held,
            None => {
                let page = self.log.lock().expect("log lock").read(from, max_records, max_bytes)?;
                page.into_iter().map(|r| (r.n, r.ts_ms, r.payload)).collect()
            }
        };
        raw.into_iter()
            .map(|(n, ts, payload)| {
                let (payload, start) = self.decode(payload, n)?;
                Ok(Buffered { n, arrival_ms: ts, payload, start })
            })
            .collect()
    }

    /// Marks everything below `upto` delivered (after the progress commit) and deletes wholly
    /// delivered segments. `bytes` is the data size of the records newly delivered.
    pub fn delivered(&self, upto: u64, bytes: u64) {
        let mut log = self.log.lock().expect("log lock");
        {
            let mut p = self.pending.lock().expect("pending lock");
            // what was delivered was pending: the accounting never goes below zero
            debug_assert!(bytes <= p.bytes, "delivered {bytes} bytes of {} pending", p.bytes);
            debug_assert!(upto <= p.end, "delivered up to {upto}, past the end {}", p.end);
            p.delivered = upto.max(p.delivered);
            p.bytes = p.bytes.saturating_sub(bytes);
            p.oldest_ms = log.timestamp_of(p.delivered);
        }
        self.hot.lock().expect("hot lock").drop_before(upto);
        if let Err(err) = log.drop_before(upto) {
            tracing::warn!(%err, "could not delete delivered buffer segments");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datas(page: &[Buffered]) -> Vec<(u64, Vec<u8>)> {
        page.iter().map(|r| (r.n, r.data().to_vec())).collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_come_from_memory_then_the_log_alike() {
        let dir = tempfile::tempdir().unwrap();
        let buffer = Arc::new(Buffer::open(dir.path(), 0, None, false).unwrap());
        for batch in 0..3u8 {
            let records = (0..4u8).map(|i| vec![batch, i, 7]).collect();
            buffer.append(records).await.unwrap();
        }
        assert_eq!(buffer.hot.lock().unwrap().recs.len(), 12);
        // the delivery task's first pass: from memory, which it then leaves
        let first = buffer.read(0, 5, 1 << 20).unwrap();
        assert_eq!(first.len(), 5);
        let rest = buffer.read(5, 100, 1 << 20).unwrap();
        assert_eq!(rest.len(), 7);
        assert!(buffer.hot.lock().unwrap().recs.is_empty());
        // a retry of the same flush reads the log, and sees the same records
        let again = buffer.read(0, 100, 1 << 20).unwrap();
        let mut both = datas(&first);
        both.extend(datas(&rest));
        assert_eq!(datas(&again), both);
        assert_eq!(again[11].data(), &[2, 3, 7]);
        // new appends after a full drain are held again, numbered on
        buffer.append(vec![b"late".to_vec()]).await.unwrap();
        assert_eq!(buffer.hot.lock().unwrap().first, 12);
        assert_eq!(datas(&buffer.read(12, 10, 1 << 20).unwrap()), vec![(12, b"late".to_vec())]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_read_behind_memory_or_a_delivery_forgets_what_it_passed() {
        let dir = tempfile::tempdir().unwrap();
        let buffer = Arc::new(Buffer::open(dir.path(), 0, None, false).unwrap());
        buffer.append((0..10u8).map(|i| vec![i]).collect()).await.unwrap();
        // reading from the middle drops the records before it from memory
        let page = buffer.read(4, 3, 1 << 20).unwrap();
        assert_eq!(datas(&page), vec![(4, vec![4]), (5, vec![5]), (6, vec![6])]);
        assert_eq!(buffer.hot.lock().unwrap().first, 7);
        // the byte limit still returns one record
        assert_eq!(buffer.read(7, 10, 1).unwrap().len(), 1);
        buffer.delivered(9, 9);
        let hot = buffer.hot.lock().unwrap();
        assert_eq!((hot.first, hot.recs.len(), hot.bytes), (9, 1, 2));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sealed_records_open_alike_from_memory_and_from_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let master = tarn_store::MasterKey::load_or_create(&dir.path().join("keys")).unwrap();
        let (key, _) = master.new_data_key();
        let buffer = Arc::new(Buffer::open(&dir.path().join("buf"), 0, Some(key.clone()), true).unwrap());
        buffer.append(vec![b"secret one".to_vec(), b"secret two".to_vec()]).await.unwrap();
        // what is stored is sealed: the plaintext is not in the log
        let raw = buffer.log.lock().unwrap().read(0, 10, 1 << 20).unwrap();
        assert!(
            raw.iter().all(|r| r.payload.first() == Some(&SEALED) && !r.payload.windows(6).any(|w| w == b"secret"))
        );
        let from_memory = datas(&buffer.read(0, 10, 1 << 20).unwrap());
        assert_eq!(from_memory, vec![(0, b"secret one".to_vec()), (1, b"secret two".to_vec())]);
        assert_eq!(datas(&buffer.read(0, 10, 1 << 20).unwrap()), from_memory, "and from the log");
        // a restarted buffer reads them from the log with the stream's key
        drop(buffer);
        let reopened = Buffer::open(&dir.path().join("buf"), 0, Some(key), true).unwrap();
        assert_eq!(datas(&reopened.read(0, 10, 1 << 20).unwrap()), from_memory);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn records_that_did_not_fit_in_memory_are_read_from_the_log_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let buffer = Arc::new(Buffer::open(dir.path(), 0, None, false).unwrap());
        // batches of 21 records of 1 MiB: three fit in the 64 MiB, the fourth does not
        const MIB: usize = 1024 * 1024;
        let batch = |b: u8| (0..21).map(|_| vec![b; MIB]).collect::<Vec<_>>();
        for b in 0..4u8 {
            buffer.append(batch(b)).await.unwrap();
        }
        assert_eq!(buffer.hot.lock().unwrap().recs.len(), 63);
        // a small one after the gap is not held either (memory holds no gaps)
        buffer.append(vec![b"small".to_vec()]).await.unwrap();
        assert_eq!(buffer.hot.lock().unwrap().end(), 63);
        let mut seen = Vec::new();
        let mut from = 0;
        while from < 85 {
            let page = buffer.read(from, 10, 1).unwrap();
            from = page.last().unwrap().n + 1;
            seen.extend(page.iter().map(|r| (r.n, r.data()[0], r.data().len())));
        }
        let mut expected: Vec<(u64, u8, usize)> = (0..84u8).map(|i| (u64::from(i), i / 21, MIB)).collect();
        expected.push((84, b's', 5));
        assert_eq!(seen, expected);
        // with memory drained, new records are held again
        buffer.append(vec![b"next".to_vec()]).await.unwrap();
        assert_eq!(buffer.hot.lock().unwrap().first, 85);
        assert_eq!(buffer.hot.lock().unwrap().recs.len(), 1);
    }

    #[test]
    fn memory_holds_only_a_contiguous_run_within_its_budget() {
        let mut hot = Hot::default();
        let one = |n: u64| (vec![(n, 1i64)], vec![bytes::Bytes::from(vec![0u8; 1024])]);
        let (num, pay) = one(5);
        hot.push(&num, &pay);
        // a gap (records the memory did not take) is not bridged
        let (num, pay) = one(7);
        hot.push(&num, &pay);
        assert_eq!((hot.first, hot.recs.len()), (5, 1));
        let (num, pay) = one(6);
        hot.push(&num, &pay);
        assert_eq!(hot.end(), 7);
        // past the budget, nothing more is held
        let big = vec![bytes::Bytes::from(vec![0u8; HOT_BYTES_MAX])];
        hot.push(&[(7, 1)], &big);
        assert_eq!((hot.end(), hot.bytes), (7, 2048));
    }
}
