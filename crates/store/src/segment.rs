//! Segmented append logs: the storage of a Kinesis shard (and, later, of other ordered streams).
//!
//! A log is a directory of segment files named by the number of their first record
//! (`00000000000000000000.log`). Each record is one frame:
//!
//! ```text
//! len u32 LE (payload bytes) | crc32c u32 LE of (n | ts | payload) | n u64 LE | ts_ms i64 LE | payload
//! ```
//!
//! Appends are batched: one `write` and one `fdatasync` make a whole batch durable, so callers
//! that gather concurrent appends share the fsync. Record numbers are dense and increasing;
//! timestamps never decrease (a clock step back is clamped), so both can be binary-searched in
//! the in-memory index. On open, a frame that is short or fails its CRC at the end of the last
//! segment is a torn write from a crash: the file is truncated there. The same damage anywhere
//! else is corruption and refuses to open. Retention drops whole segment files, never rewrites.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::{StoreError, fsync_dir};

const FRAME_HEADER_LEN: usize = 4 + 4 + 8 + 8;
/// Payload bytes read with one positioned read (into one buffer the records then share): big
/// enough to cost few calls, small enough for the allocator to reuse its memory rather than
/// fault in fresh pages for every page read.
const RUN_BYTES: usize = 512 * 1024;
/// Largest payload a frame may carry (Kinesis records are at most 10 MiB).
pub const PAYLOAD_MAX: usize = 16 * 1024 * 1024;

/// One record as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    pub n: u64,
    pub ts_ms: i64,
    /// A slice of the page it was read with.
    pub payload: bytes::Bytes,
}

#[derive(Clone, Copy, Debug)]
struct IndexEntry {
    n: u64,
    ts_ms: i64,
    segment: usize,
    offset: u64,
}

struct Segment {
    first_n: u64,
    path: PathBuf,
    len: u64,
}

/// One append log.
pub struct SegmentLog {
    dir: PathBuf,
    segments: Vec<Segment>,
    current: Option<File>,
    index: Vec<IndexEntry>,
    next_n: u64,
    last_ts_ms: i64,
    segment_bytes_max: u64,
    /// The frames of an append are gathered here; kept between appends up to SCRATCH_KEEP.
    scratch: Vec<u8>,
}

/// Capacity of the append buffer kept for the next append (a typical group commit is a few
/// MiB: reusing it spares the allocator fresh pages on every append).
const SCRATCH_KEEP: usize = 8 * 1024 * 1024;

fn segment_name(first_n: u64) -> String {
    format!("{first_n:020}.log")
}

fn crc(n: u64, ts_ms: i64, payload: &[u8]) -> u32 {
    let mut d = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32Iscsi);
    d.update(&n.to_le_bytes());
    d.update(&ts_ms.to_le_bytes());
    d.update(payload);
    u32::try_from(d.finalize()).expect("32-bit crc")
}

impl SegmentLog {
    /// Opens (or creates) the log in `dir`, truncating a torn tail left by a crash.
    pub fn open(dir: &Path, segment_bytes_max: u64) -> Result<Self, StoreError> {
        fs::create_dir_all(dir)?;
        let mut names: Vec<(u64, PathBuf)> = fs::read_dir(dir)?
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let first = name.strip_suffix(".log")?.parse::<u64>().ok()?;
                Some((first, e.path()))
            })
            .collect();
        names.sort();
        let mut log = Self {
            dir: dir.to_path_buf(),
            segments: Vec::new(),
            current: None,
            index: Vec::new(),
            next_n: names.first().map_or(0, |(first, _)| *first),
            last_ts_ms: i64::MIN,
            segment_bytes_max,
            scratch: Vec::new(),
        };
        let count = names.len();
        for (i, (first_n, path)) in names.into_iter().enumerate() {
            let last = i + 1 == count;
            if first_n != log.next_n {
                return Err(StoreError::Corrupt(format!(
                    "segment {} does not continue record {}",
                    path.display(),
                    log.next_n
                )));
            }
            let len = log.scan_segment(i, &path, last)?;
            log.segments.push(Segment { first_n, path, len });
        }
        if let Some(last) = log.segments.last() {
            log.current = Some(OpenOptions::new().append(true).open(&last.path)?);
        }
        Ok(log)
    }

    /// Reads every frame of a segment into the index; returns the valid length.
    fn scan_segment(&mut self, segment: usize, path: &Path, last: bool) -> Result<u64, StoreError> {
        let mut bytes = Vec::new();
        File::open(path)?.read_to_end(&mut bytes)?;
        let mut offset = 0usize;
        while offset < bytes.len() {
            match parse_frame(&bytes[offset..]) {
                Some((n, ts_ms, payload_len)) if n == self.next_n => {
                    self.index.push(IndexEntry { n, ts_ms, segment, offset: offset as u64 });
                    self.next_n += 1;
                    self.last_ts_ms = self.last_ts_ms.max(ts_ms);
                    offset += FRAME_HEADER_LEN + payload_len;
                }
                _ if last => {
                    tracing::warn!(segment = %path.display(), offset, "truncating a torn tail left by an interrupted append");
                    let file = OpenOptions::new().write(true).open(path)?;
                    file.set_len(offset as u64)?;
                    file.sync_all()?;
                    return Ok(offset as u64);
                }
                _ => {
                    return Err(StoreError::Corrupt(format!(
                        "segment {} is damaged at offset {offset}",
                        path.display()
                    )));
                }
            }
        }
        Ok(offset as u64)
    }

    /// Number the next appended record gets.
    #[must_use]
    pub fn next_n(&self) -> u64 {
        self.next_n
    }

    /// Number of the oldest record still kept.
    #[must_use]
    pub fn first_n(&self) -> u64 {
        self.index.first().map_or(self.next_n, |e| e.n)
    }

    /// Appends a batch durably (one write, one fdatasync); returns each record's (n, ts).
    pub fn append<P: AsRef<[u8]>>(&mut self, payloads: &[P], now_ms: i64) -> Result<Vec<(u64, i64)>, StoreError> {
        self.append_with(payloads, now_ms, true)
    }

    /// Appends a batch with one write and no fdatasync: in the kernel once this returns (a
    /// crash of the process loses none of it), on disk after the caller's next
    /// [`SegmentLog::sync_handle`] sync (a power loss may lose what was not synced yet).
    pub fn append_unsynced<P: AsRef<[u8]>>(
        &mut self,
        payloads: &[P],
        now_ms: i64,
    ) -> Result<Vec<(u64, i64)>, StoreError> {
        self.append_with(payloads, now_ms, false)
    }

    /// A handle on the segment being appended to, to fdatasync outside the log's lock.
    #[must_use]
    pub fn sync_handle(&self) -> Option<File> {
        self.current.as_ref()?.try_clone().ok()
    }

    fn append_with<P: AsRef<[u8]>>(
        &mut self,
        payloads: &[P],
        now_ms: i64,
        sync: bool,
    ) -> Result<Vec<(u64, i64)>, StoreError> {
        if payloads.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(p) = payloads.iter().find(|p| p.as_ref().len() > PAYLOAD_MAX) {
            return Err(StoreError::Bug(format!("a {} byte record exceeds the segment frame limit", p.as_ref().len())));
        }
        let needs_new = match self.segments.last() {
            None => true,
            Some(s) => s.len >= self.segment_bytes_max,
        };
        if needs_new {
            self.roll()?;
        }
        let ts_ms = now_ms.max(self.last_ts_ms);
        let segment = self.segments.len() - 1;
        let mut offset = self.segments[segment].len;
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        buf.reserve(payloads.iter().map(|p| p.as_ref().len() + FRAME_HEADER_LEN).sum());
        let mut out = Vec::with_capacity(payloads.len());
        let mut entries = Vec::with_capacity(payloads.len());
        let mut n = self.next_n;
        for payload in payloads {
            let payload = payload.as_ref();
            buf.extend_from_slice(&u32::try_from(payload.len()).expect("bounded by PAYLOAD_MAX").to_le_bytes());
            buf.extend_from_slice(&crc(n, ts_ms, payload).to_le_bytes());
            buf.extend_from_slice(&n.to_le_bytes());
            buf.extend_from_slice(&ts_ms.to_le_bytes());
            buf.extend_from_slice(payload);
            entries.push(IndexEntry { n, ts_ms, segment, offset });
            out.push((n, ts_ms));
            offset += (FRAME_HEADER_LEN + payload.len()) as u64;
            n += 1;
        }
        let Some(file) = self.current.as_mut() else {
            return Err(StoreError::Io(std::io::Error::other(
                "the log refused appends after a write it could not undo; reopen it",
            )));
        };
        let written = file.write_all(&buf).and_then(|()| if sync { file.sync_data() } else { Ok(()) });
        if let Err(err) = written {
            // cut what may have reached the file, so the next append and a later open see the
            // log as it was; if even that fails, refuse appends rather than number wrongly
            let good = self.segments[segment].len;
            if file.set_len(good).and_then(|()| file.sync_data()).is_err() {
                self.current = None;
            }
            return Err(err.into());
        }
        if buf.capacity() <= SCRATCH_KEEP {
            self.scratch = buf;
        }
        // visible only once durable
        self.segments[segment].len = offset;
        // record numbers rise by one per record, with no gap and no repeat, so sequence numbers
        // are monotonic per shard; the index stays sorted by number (reads binary-search it)
        debug_assert_eq!(n - self.next_n, payloads.len() as u64, "one number per record");
        debug_assert!(
            self.index.last().is_none_or(|last| entries.first().is_none_or(|first| first.n == last.n + 1)),
            "the batch continues the log's numbering"
        );
        debug_assert!(self.last_ts_ms <= ts_ms, "timestamps never go back within a shard");
        self.index.extend(entries);
        self.next_n = n;
        self.last_ts_ms = ts_ms;
        Ok(out)
    }

    fn roll(&mut self) -> Result<(), StoreError> {
        // what an unsynced append left in the segment being closed reaches the disk first
        if let Some(old) = &self.current {
            old.sync_data()?;
        }
        let path = self.dir.join(segment_name(self.next_n));
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        fsync_dir(&self.dir)?;
        self.segments.push(Segment { first_n: self.next_n, path, len: 0 });
        self.current = Some(file);
        Ok(())
    }

    /// Reads up to `max_records` records (and about `max_bytes` of payload, at least one record)
    /// starting at record `from`.
    pub fn read(&self, from: u64, max_records: usize, max_bytes: usize) -> Result<Vec<LogRecord>, StoreError> {
        let start = self.index.partition_point(|e| e.n < from);
        let entries = &self.index[start..self.index.len().min(start.saturating_add(max_records))];
        let mut out = Vec::with_capacity(entries.len().min(4096));
        let mut bytes = 0usize;
        let mut i = 0;
        // the frames of one segment are contiguous: each run of them (up to RUN_BYTES) is one
        // positioned read into one buffer, and the records are slices of it (no per-record allocation or copy)
        while i < entries.len() && (out.is_empty() || bytes < max_bytes) {
            let first = entries[i];
            let segment = &self.segments[first.segment];
            let mut j = i;
            let mut run_bytes = 0usize;
            while j < entries.len()
                && entries[j].segment == first.segment
                && (j == i || (bytes + run_bytes < max_bytes && run_bytes < RUN_BYTES))
            {
                let end = entries.get(j + 1).filter(|e| e.segment == first.segment).map_or(segment.len, |e| e.offset);
                run_bytes +=
                    usize::try_from(end - entries[j].offset).expect("a frame fits in memory") - FRAME_HEADER_LEN;
                j += 1;
            }
            let end = entries.get(j).filter(|e| e.segment == first.segment).map_or(segment.len, |e| e.offset);
            let len = usize::try_from(end - first.offset).expect("a run fits in memory");
            // read into spare capacity: no zeroing of memory about to be overwritten
            let mut buf = Vec::with_capacity(len);
            let mut file = File::open(&segment.path)?;
            file.seek(SeekFrom::Start(first.offset))?;
            file.take(len as u64).read_to_end(&mut buf)?;
            if buf.len() != len {
                return Err(StoreError::Corrupt(format!(
                    "segment {} ends before record {}",
                    segment.path.display(),
                    first.n
                )));
            }
            let buf = bytes::Bytes::from(buf);
            let mut at = 0usize;
            for entry in &entries[i..j] {
                let header = &buf[at..at + FRAME_HEADER_LEN];
                let len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
                let stored_crc = u32::from_le_bytes(header[4..8].try_into().expect("4 bytes"));
                let body = at + FRAME_HEADER_LEN;
                if body + len > buf.len() {
                    return Err(StoreError::Corrupt(format!("record {} runs past its segment", entry.n)));
                }
                let payload = buf.slice(body..body + len);
                if crc(entry.n, entry.ts_ms, &payload) != stored_crc {
                    return Err(StoreError::Corrupt(format!("record {} fails its checksum", entry.n)));
                }
                at = body + len;
                bytes += len;
                out.push(LogRecord { n: entry.n, ts_ms: entry.ts_ms, payload });
            }
            i = j;
        }
        Ok(out)
    }

    /// The first record at or after `ts_ms` (or `next_n` when there is none).
    #[must_use]
    pub fn first_at_or_after(&self, ts_ms: i64) -> u64 {
        let i = self.index.partition_point(|e| e.ts_ms < ts_ms);
        self.index.get(i).map_or(self.next_n, |e| e.n)
    }

    /// Timestamp of record `n`, if kept.
    #[must_use]
    pub fn timestamp_of(&self, n: u64) -> Option<i64> {
        let i = self.index.partition_point(|e| e.n < n);
        self.index.get(i).filter(|e| e.n == n).map(|e| e.ts_ms)
    }

    /// Drops whole segments whose newest record is older than `cutoff_ms` (retention). The
    /// segment being appended to is kept. Returns the number of files removed.
    pub fn drop_older_than(&mut self, cutoff_ms: i64) -> Result<usize, StoreError> {
        self.drop_front_while(|index, next_first| {
            let newest = index.iter().take_while(|e| e.n < next_first).map(|e| e.ts_ms).max();
            newest.is_none_or(|ts| ts < cutoff_ms)
        })
    }

    /// Drops whole segments whose records are all numbered below `n` (consumed by a reader
    /// that keeps its own position). The segment being appended to is kept, so record numbers
    /// continue across a restart. Returns the number of files removed.
    pub fn drop_before(&mut self, n: u64) -> Result<usize, StoreError> {
        self.drop_front_while(|_, next_first| next_first <= n)
    }

    /// Drops the oldest segment while `drop(index, first record of the next segment)` says so,
    /// never the one being appended to; one directory fsync at the end.
    fn drop_front_while(&mut self, mut drop: impl FnMut(&[IndexEntry], u64) -> bool) -> Result<usize, StoreError> {
        let mut removed = 0;
        while self.segments.len() > 1 {
            let next_first = self.segments[1].first_n;
            if !drop(&self.index, next_first) {
                break;
            }
            let seg = self.segments.remove(0);
            fs::remove_file(&seg.path)?;
            let cut = self.index.partition_point(|e| e.n < next_first);
            self.index.drain(..cut);
            for e in &mut self.index {
                e.segment -= 1;
            }
            removed += 1;
        }
        if removed > 0 {
            fsync_dir(&self.dir)?;
        }
        Ok(removed)
    }
}

/// What a queued append is answered with: each record's (n, ts), or why the batch failed.
pub type AppendReply = tokio::sync::oneshot::Receiver<Result<Vec<(u64, i64)>, String>>;

type Queued = (Vec<bytes::Bytes>, tokio::sync::oneshot::Sender<Result<Vec<(u64, i64)>, String>>);

/// Group append for a [`SegmentLog`]: writers queue their records, and one flusher appends
/// whatever is queued in one batch (one write, one fdatasync), answers each writer, and repeats
/// until the queue is empty. Concurrent writers so share fsyncs (Kinesis shards, Firehose
/// buffers).
#[derive(Default)]
pub struct GroupQueue {
    queue: std::sync::Mutex<Vec<Queued>>,
    flushing: std::sync::atomic::AtomicBool,
}

impl GroupQueue {
    /// Queues one writer's records. When the second value is true, no flusher is running and
    /// the caller must start [`GroupQueue::flush_loop`] (on a blocking thread: it fsyncs).
    pub fn enqueue(&self, records: Vec<bytes::Bytes>) -> (AppendReply, bool) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.queue.lock().expect("queue lock").push((records, tx));
        let start = !self.flushing.swap(true, std::sync::atomic::Ordering::SeqCst);
        (rx, start)
    }

    /// Runs until the queue is empty: `append` makes one batch durable and numbers it (the
    /// payloads are shared, not copied: a caller may keep them).
    pub fn flush_loop(&self, mut append: impl FnMut(&[bytes::Bytes]) -> Result<Vec<(u64, i64)>, StoreError>) {
        use std::sync::atomic::Ordering;
        loop {
            let batch = std::mem::take(&mut *self.queue.lock().expect("queue lock"));
            if batch.is_empty() {
                self.flushing.store(false, Ordering::SeqCst);
                // a writer may have queued between the take and the store: pick it up
                if self.queue.lock().expect("queue lock").is_empty() || self.flushing.swap(true, Ordering::SeqCst) {
                    return;
                }
                continue;
            }
            let payloads: Vec<bytes::Bytes> = batch.iter().flat_map(|(recs, _)| recs.iter().cloned()).collect();
            match append(&payloads) {
                Ok(numbered) => {
                    let mut at = numbered.into_iter();
                    for (recs, reply) in batch {
                        let _ = reply.send(Ok(at.by_ref().take(recs.len()).collect()));
                    }
                }
                Err(err) => {
                    let message = err.to_string();
                    for (_, reply) in batch {
                        let _ = reply.send(Err(message.clone()));
                    }
                }
            }
        }
    }
}

/// (n, ts, payload len) of a complete, checksummed frame at the start of `bytes`.
fn parse_frame(bytes: &[u8]) -> Option<(u64, i64, usize)> {
    let header = bytes.get(..FRAME_HEADER_LEN)?;
    let len = u32::from_le_bytes(header[..4].try_into().ok()?) as usize;
    if len > PAYLOAD_MAX {
        return None;
    }
    let stored = u32::from_le_bytes(header[4..8].try_into().ok()?);
    let n = u64::from_le_bytes(header[8..16].try_into().ok()?);
    let ts = i64::from_le_bytes(header[16..24].try_into().ok()?);
    let payload = bytes.get(FRAME_HEADER_LEN..FRAME_HEADER_LEN + len)?;
    (crc(n, ts, payload) == stored).then_some((n, ts, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(i: u64) -> Vec<u8> {
        format!("record-{i}-").repeat(1 + (i % 7) as usize).into_bytes()
    }

    #[test]
    fn append_read_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = SegmentLog::open(dir.path(), 1024).unwrap();
        for batch in 0..20u64 {
            let items: Vec<Vec<u8>> = (0..5).map(|j| payload(batch * 5 + j)).collect();
            let refs: Vec<&[u8]> = items.iter().map(Vec::as_slice).collect();
            let numbered = log.append(&refs, 1000 + i64::try_from(batch).unwrap()).unwrap();
            assert_eq!(numbered[0].0, batch * 5);
        }
        assert!(fs::read_dir(dir.path()).unwrap().count() > 1, "small segments roll over");
        let all = log.read(0, 1000, usize::MAX).unwrap();
        assert_eq!(all.len(), 100);
        assert!(all.iter().all(|r| r.payload == payload(r.n)));
        assert_eq!(log.read(42, 3, usize::MAX).unwrap().iter().map(|r| r.n).collect::<Vec<_>>(), [42, 43, 44]);
        assert_eq!(log.first_at_or_after(1007), 35);
        drop(log);
        let log = SegmentLog::open(dir.path(), 1024).unwrap();
        assert_eq!(log.next_n(), 100);
        assert_eq!(log.read(99, 10, usize::MAX).unwrap()[0].payload, payload(99));
    }

    #[test]
    fn reads_page_by_bytes_across_segments() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = SegmentLog::open(dir.path(), 300).unwrap();
        for batch in 0..40u64 {
            let items: Vec<Vec<u8>> = (0..3).map(|j| payload(batch * 3 + j)).collect();
            let refs: Vec<&[u8]> = items.iter().map(Vec::as_slice).collect();
            log.append(&refs, 1).unwrap();
        }
        // pages of about 200 bytes: each holds records until the bytes reach the limit (the
        // record that crosses it included), always at least one, and they join up exactly
        let mut from = 5;
        let mut seen = Vec::new();
        while from < 120 {
            let page = log.read(from, 1000, 200).unwrap();
            assert!(!page.is_empty());
            let sizes: Vec<usize> = page.iter().map(|r| r.payload.len()).collect();
            let before_last: usize = sizes[..sizes.len() - 1].iter().sum();
            assert!(before_last < 200, "{sizes:?}");
            assert!(page.iter().all(|r| r.payload == payload(r.n)));
            seen.extend(page.iter().map(|r| r.n));
            from = page.last().unwrap().n + 1;
        }
        assert_eq!(seen, (5..120).collect::<Vec<_>>());
        // a record count limit stops inside a segment
        assert_eq!(log.read(7, 4, usize::MAX).unwrap().iter().map(|r| r.n).collect::<Vec<_>>(), [7, 8, 9, 10]);
        // a frame damaged after open, in the middle of a run, fails the read and names it
        let first = dir.path().join(segment_name(0));
        let mut bytes = fs::read(&first).unwrap();
        let second_frame = FRAME_HEADER_LEN + payload(0).len();
        bytes[second_frame + FRAME_HEADER_LEN] ^= 1;
        fs::write(&first, bytes).unwrap();
        match log.read(0, 10, usize::MAX) {
            Err(StoreError::Corrupt(m)) => assert!(m.contains("record 1"), "{m}"),
            other => panic!("expected a checksum error, got {:?}", other.map(|r| r.len())),
        }
    }

    #[test]
    fn a_large_read_spans_several_runs() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = SegmentLog::open(dir.path(), 64 << 20).unwrap();
        let big = |i: u64| vec![u8::try_from(i % 251).unwrap(); 5000];
        let items: Vec<Vec<u8>> = (0..300).map(big).collect();
        let refs: Vec<&[u8]> = items.iter().map(Vec::as_slice).collect();
        log.append(&refs, 1).unwrap();
        // 1.5 MB in one segment: read in runs of RUN_BYTES, returned whole and in order
        let all = log.read(0, 1000, usize::MAX).unwrap();
        assert_eq!(all.len(), 300);
        assert!(all.iter().all(|r| r.payload == big(r.n)));
    }

    #[test]
    fn drop_before_keeps_unconsumed_segments_and_numbering() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = SegmentLog::open(dir.path(), 100).unwrap();
        for i in 0..30u64 {
            log.append(&[payload(i).as_slice()], 1).unwrap();
        }
        let files = fs::read_dir(dir.path()).unwrap().count();
        assert!(files > 3);
        assert_eq!(log.drop_before(0).unwrap(), 0);
        let removed = log.drop_before(17).unwrap();
        assert!(removed > 0);
        assert!(log.first_n() <= 17, "record 17 is not consumed and stays");
        assert_eq!(log.read(17, 1, usize::MAX).unwrap()[0].payload, payload(17));
        // consuming everything still keeps the segment being appended to
        log.drop_before(30).unwrap();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        drop(log);
        let mut log = SegmentLog::open(dir.path(), 100).unwrap();
        assert_eq!(log.next_n(), 30);
        assert_eq!(log.append(&[b"next"], 2).unwrap()[0].0, 30);
    }

    #[test]
    fn torn_tail_is_truncated_and_appends_continue() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = SegmentLog::open(dir.path(), 1 << 20).unwrap();
        log.append(&[&b"one"[..], b"two", b"three"], 5).unwrap();
        drop(log);
        let path = dir.path().join(segment_name(0));
        let full = fs::read(&path).unwrap();
        // a crash mid-append: the last frame is cut short
        fs::write(&path, &full[..full.len() - 2]).unwrap();
        let mut log = SegmentLog::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(log.next_n(), 2, "the torn third record is gone");
        log.append(&[b"three again"], 6).unwrap();
        let all = log.read(0, 10, usize::MAX).unwrap();
        assert_eq!(all.iter().map(|r| &r.payload[..]).collect::<Vec<_>>(), [b"one".as_slice(), b"two", b"three again"]);
        // a flipped bit in the tail frame is treated the same way
        drop(log);
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        fs::write(&path, &bytes).unwrap();
        let log = SegmentLog::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(log.next_n(), 2);
    }

    #[test]
    fn damage_before_the_tail_refuses_to_open() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = SegmentLog::open(dir.path(), 64).unwrap();
        for i in 0..10u64 {
            log.append(&[payload(i).as_slice()], 1).unwrap();
        }
        drop(log);
        let first = dir.path().join(segment_name(0));
        let mut bytes = fs::read(&first).unwrap();
        bytes[FRAME_HEADER_LEN] ^= 0xff;
        fs::write(&first, &bytes).unwrap();
        assert!(matches!(SegmentLog::open(dir.path(), 64), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn retention_drops_whole_old_segments() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = SegmentLog::open(dir.path(), 64).unwrap();
        for i in 0..10i64 {
            log.append(&[payload(u64::try_from(i).unwrap()).as_slice()], i * 1000).unwrap();
        }
        let files_before = fs::read_dir(dir.path()).unwrap().count();
        let removed = log.drop_older_than(5000).unwrap();
        assert!(removed > 0);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), files_before - removed);
        assert!(log.first_n() > 0 && log.first_n() <= 5, "records newer than the cutoff stay: first {}", log.first_n());
        let kept = log.read(0, 100, usize::MAX).unwrap();
        assert_eq!(kept.last().unwrap().n, 9);
        assert!(kept.iter().all(|r| r.payload == payload(r.n)));
        // timestamps never go backwards, even if the clock does
        let (_, ts) = log.append(&[b"late"], 1).unwrap()[0];
        assert_eq!(ts, 9000);
    }
}
