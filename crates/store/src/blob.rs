//! Sealed blobs: an object's bytes, cut into 64 KiB chunks and sealed under its data key.
//!
//! A blob lives either inline in the `inline_blobs` table (small objects: one metadata commit,
//! no file, so concurrent small PUTs share one fsync) or in its own file `blobs/<id>` (large
//! objects and multipart parts: streamed to disk, fsync'd before the metadata commit that makes
//! it visible). A file is `header (16 bytes) || sealed chunks`; see docs/formats.md.

use std::fs::{self, File};

use bytes::Bytes;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::StoreError;
use crate::crypto::{CHUNK_PLAIN_LEN, CHUNK_SEALED_LEN, DataKey, chunk_count};

/// Identifies a blob, inline or on disk. Random, so concurrent writers never collide.
pub type BlobId = u128;

const FILE_MAGIC: &[u8; 4] = b"TBLB";
const FILE_VERSION: u8 = 1;
/// Bytes before the first sealed chunk of a blob file.
pub const FILE_HEADER_LEN: u64 = 16;
/// Chunks read and opened per blocking read.
pub(crate) const READ_BATCH_CHUNKS: u64 = 16;

/// Where one run of an object's bytes lives.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Extent {
    pub blob: BlobId,
    pub inline: bool,
    pub plain_len: u64,
    pub nonce_prefix: [u8; 8],
}

#[must_use]
pub fn new_blob_id() -> BlobId {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    u128::from_be_bytes(bytes)
}

#[must_use]
pub fn blob_file_name(id: BlobId) -> String {
    format!("{id:032x}")
}

/// Seals plaintext as it arrives. A full chunk is held back until more bytes arrive, so the last
/// chunk (the one sealed by [`Sealer::finish`]) is always the one flagged last.
pub struct Sealer {
    key: DataKey,
    prefix: [u8; 8],
    index: u32,
    pending: Vec<u8>,
    sealed: Vec<u8>,
    plain_len: u64,
}

impl Sealer {
    #[must_use]
    pub fn new(key: DataKey) -> Self {
        let mut prefix = [0u8; 8];
        rand::rng().fill_bytes(&mut prefix);
        Self { key, prefix, index: 0, pending: Vec::with_capacity(CHUNK_PLAIN_LEN), sealed: Vec::new(), plain_len: 0 }
    }

    #[must_use]
    pub fn nonce_prefix(&self) -> [u8; 8] {
        self.prefix
    }

    #[must_use]
    pub fn plain_len(&self) -> u64 {
        self.plain_len
    }

    pub fn push(&mut self, mut data: &[u8]) {
        self.plain_len += data.len() as u64;
        while !data.is_empty() {
            if self.pending.len() == CHUNK_PLAIN_LEN {
                // more bytes follow, so the held-back chunk is not the last
                self.key.seal_chunk(self.prefix, self.index, false, &self.pending, &mut self.sealed);
                self.index += 1;
                self.pending.clear();
            }
            let take = (CHUNK_PLAIN_LEN - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
        }
    }

    /// Sealed bytes ready so far.
    pub fn take_sealed(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.sealed)
    }

    /// Sealed bytes ready so far, left in place (see [`Sealer::clear_sealed`]).
    #[must_use]
    pub fn sealed(&self) -> &[u8] {
        &self.sealed
    }

    /// Forgets the sealed bytes, keeping their buffer for the next ones.
    pub fn clear_sealed(&mut self) {
        self.sealed.clear();
    }

    /// Seals the final chunk and returns the remaining sealed bytes.
    #[must_use]
    pub fn finish(mut self) -> Vec<u8> {
        self.key.seal_chunk(self.prefix, self.index, true, &self.pending, &mut self.sealed);
        self.sealed
    }
}

/// The `blobs/` directory.
#[derive(Clone)]
pub struct BlobDir {
    dir: Arc<PathBuf>,
}

impl BlobDir {
    pub(crate) fn open(dir: PathBuf) -> Result<Self, StoreError> {
        fs::create_dir_all(&dir)?;
        Ok(Self { dir: Arc::new(dir) })
    }

    #[must_use]
    pub fn path(&self, id: BlobId) -> PathBuf {
        self.dir.join(blob_file_name(id))
    }

    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Starts a new blob file. Dropping the writer before [`BlobFileWriter::finish`] removes it.
    ///
    /// Sealing and writing run on a blocking thread fed through a bounded channel, so the
    /// caller's hashing of the next chunk overlaps the encryption and the disk write of the
    /// previous ones (a two-stage pipeline on two cores).
    pub async fn create(&self, key: DataKey) -> Result<BlobFileWriter, StoreError> {
        let id = new_blob_id();
        let path = self.path(id);
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(WRITE_QUEUE_CHUNKS);
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let dir = self.dir.clone();
        let thread_path = path.clone();
        tokio::task::spawn_blocking(move || {
            let result = write_blob_file(&thread_path, &dir, key, rx);
            if result.as_ref().map_or(true, Option::is_none) {
                // failed, or the writer was dropped before finish: no trace may remain
                let _ = fs::remove_file(&thread_path);
            }
            let _ = done_tx.send(result);
        });
        Ok(BlobFileWriter { id, tx: Some(tx), done: Some(done_rx), plain_len: 0 })
    }

    /// Removes blob files after the commit that released them. Best effort: a file left behind
    /// by a crash is an orphan, removed at the next start.
    pub async fn remove(&self, ids: Vec<BlobId>) {
        if ids.is_empty() {
            return;
        }
        let dir = self.dir.clone();
        let _ = tokio::task::spawn_blocking(move || {
            for id in ids {
                if let Err(err) = fs::remove_file(dir.join(blob_file_name(id))) {
                    tracing::warn!(blob = %blob_file_name(id), %err, "could not remove released blob file");
                }
            }
        })
        .await;
    }

    /// Removes released blob files after a grace period, without making the caller wait.
    ///
    /// A reader that looked up a version just before the commit that released it opens the
    /// file right after; the delay covers that window, and once open the reader keeps its
    /// handle (the bytes outlive the unlink). A crash before the removal leaves an orphan,
    /// which the next start deletes.
    pub fn release_later(&self, ids: Vec<BlobId>) {
        if ids.is_empty() {
            return;
        }
        let blobs = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(RELEASE_DELAY).await;
            blobs.remove(ids).await;
        });
    }
}

/// The blob file at `path`, opened on first use (the handle kept in `file`) and positioned at
/// sealed chunk `index`.
fn open_at_chunk<'f>(file: &'f mut Option<File>, path: &Path, index: u64) -> Result<&'f mut File, StoreError> {
    if file.is_none() {
        *file = Some(
            File::open(path)
                .map_err(|err| StoreError::Corrupt(format!("blob file {} cannot be opened: {err}", path.display())))?,
        );
    }
    let f = file.as_mut().expect("opened above");
    f.seek(SeekFrom::Start(FILE_HEADER_LEN + index * CHUNK_SEALED_LEN as u64))?;
    Ok(f)
}

/// Appends plaintext bytes `[from, to)` of a blob (offsets within it) to `out`: the chunks
/// that hold them are read in batches into `sealed`, a buffer kept across calls, opened there
/// and copied out once. `sealed_all` is an inline blob's stored bytes; a file blob is opened
/// on first use and its handle kept in `file`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn read_bytes_into(
    blobs: &BlobDir,
    file: &mut Option<File>,
    key: &DataKey,
    extent: &Extent,
    sealed_all: Option<&[u8]>,
    (from, to): (u64, u64),
    sealed: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<(), StoreError> {
    if from >= to {
        return Ok(());
    }
    let chunk = CHUNK_PLAIN_LEN as u64;
    let total = chunk_count(extent.plain_len);
    let last_chunk = (to - 1) / chunk;
    let mut index = from / chunk;
    let path = blobs.path(extent.blob);
    if sealed_all.is_none() {
        open_at_chunk(file, &path, index)?;
    }
    while index <= last_chunk {
        let batch = (last_chunk - index + 1).min(READ_BATCH_CHUNKS);
        let batch_len: usize = (index..index + batch).map(|i| sealed_chunk_len(extent.plain_len, i)).sum();
        match sealed_all {
            Some(all) => {
                let offset = usize::try_from(index).expect("fits") * CHUNK_SEALED_LEN;
                let Some(slice) = all.get(offset..offset + batch_len) else {
                    return Err(StoreError::Corrupt(format!("inline blob {:032x} is truncated", extent.blob)));
                };
                sealed.clear();
                sealed.extend_from_slice(slice);
            }
            None => {
                sealed.resize(batch_len, 0);
                file.as_mut().expect("opened above").read_exact(sealed).map_err(|err| {
                    StoreError::Corrupt(format!("blob file {} is truncated at chunk {index}: {err}", path.display()))
                })?;
            }
        }
        let mut rest: &mut [u8] = sealed;
        for _ in 0..batch {
            let (piece, tail) = rest.split_at_mut(sealed_chunk_len(extent.plain_len, index));
            rest = tail;
            let plain = key.open_chunk_in(
                extent.nonce_prefix,
                u32::try_from(index).expect("chunk index fits u32"),
                index + 1 == total,
                piece,
            )?;
            let start = index * chunk;
            let lo = usize::try_from(from.max(start) - start).expect("fits");
            let hi = usize::try_from(to.min(start + plain as u64) - start).expect("fits");
            out.extend_from_slice(&piece[lo..hi]);
            index += 1;
        }
    }
    Ok(())
}

fn sealed_chunk_len(plain_len: u64, index: u64) -> usize {
    let total = chunk_count(plain_len);
    if index + 1 < total {
        CHUNK_SEALED_LEN
    } else {
        let rest = plain_len - index * CHUNK_PLAIN_LEN as u64;
        usize::try_from(rest).expect("chunk fits usize") + crate::crypto::TAG_LEN
    }
}

/// Opens a whole inline blob (an empty one too: its one empty chunk is authenticated).
pub fn open_inline(key: &DataKey, extent: &Extent, sealed_all: &[u8]) -> Result<Vec<u8>, StoreError> {
    let total = chunk_count(extent.plain_len);
    let mut out = Vec::new();
    for index in 0..total {
        let offset = usize::try_from(index).expect("fits") * CHUNK_SEALED_LEN;
        let len = sealed_chunk_len(extent.plain_len, index);
        let Some(slice) = sealed_all.get(offset..offset + len) else {
            return Err(StoreError::Corrupt(format!("inline blob {:032x} is truncated", extent.blob)));
        };
        let mut sealed = slice.to_vec();
        key.open_chunk(extent.nonce_prefix, u32::try_from(index).expect("fits"), index + 1 == total, &mut sealed)?;
        out.extend_from_slice(&sealed);
    }
    Ok(out)
}

/// A large blob starts its write-back while it is still arriving: without this the kernel
/// holds gigabytes of dirty pages until the final fsync, which then waits for all of them.
const FLUSH_EVERY_BYTES: usize = 32 * 1024 * 1024;

/// Runs `fdatasync` on a second handle of a file being written, so the disk works while the
/// writer keeps filling the page cache; the final fsync then has little left to do.
struct Flusher {
    poke: std::sync::mpsc::SyncSender<()>,
    thread: std::thread::JoinHandle<std::io::Result<()>>,
}

impl Flusher {
    fn start(file: File) -> Self {
        let (poke, rx) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::spawn(move || {
            file.sync_data()?;
            while rx.recv().is_ok() {
                file.sync_data()?;
            }
            Ok(())
        });
        Self { poke, thread }
    }

    /// Asks for another flush; a no-op while one is pending.
    fn poke(&self) {
        let _ = self.poke.try_send(());
    }

    fn stop(self) -> std::io::Result<()> {
        drop(self.poke);
        self.thread.join().unwrap_or_else(|_| Err(std::io::Error::other("flusher thread panicked")))
    }
}

/// How long a released blob file stays on disk for readers that already found it.
const RELEASE_DELAY: std::time::Duration = std::time::Duration::from_secs(2);

/// Chunks queued between the caller and the writer thread.
const WRITE_QUEUE_CHUNKS: usize = 32;

/// Bytes per direct write of a blob file (a multiple of [`DIRECT_ALIGN`]).
const DIRECT_BATCH: usize = 2 * 1024 * 1024;
/// File offsets, lengths and memory of direct writes are aligned to this.
const DIRECT_ALIGN: usize = 4096;

/// Where a blob file's bytes go: gathered into one 2 MiB batch, written when full. Where the
/// filesystem allows it (Linux, not tmpfs), batches are written with `O_DIRECT` from the
/// aligned buffer straight to the disk: a blob is written once and fsync'd anyway, and copying
/// it into the page cache first cost more CPU than sealing it (a kernel copy into fresh pages,
/// then their write-back). The last, partial batch is written padded and the file cut back to
/// its length. Elsewhere, or once a direct write is refused, batches are written buffered,
/// with early write-back.
struct BlobOut {
    path: PathBuf,
    file: File,
    direct: bool,
    /// The batch being gathered: `mem[start..start + DIRECT_BATCH]` is aligned.
    mem: Vec<u8>,
    start: usize,
    fill: usize,
    /// Bytes in the file so far.
    written: u64,
    flusher: Option<Flusher>,
    unflushed: usize,
}

impl BlobOut {
    fn create(path: &Path, try_direct: bool) -> std::io::Result<Self> {
        // created plainly first: a filesystem that refuses O_DIRECT may do so only after it
        // created the file, which would then be in the way of a plain create
        let plain = fs::OpenOptions::new().write(true).create_new(true).open(path)?;
        let (file, direct) = match if try_direct { Self::open_direct(path) } else { None } {
            Some(file) => (file, true),
            None => (plain, false),
        };
        let mem = vec![0u8; DIRECT_BATCH + DIRECT_ALIGN];
        let start = mem.as_ptr().align_offset(DIRECT_ALIGN);
        Ok(Self {
            path: path.to_path_buf(),
            file,
            direct,
            mem,
            start,
            fill: 0,
            written: 0,
            flusher: None,
            unflushed: 0,
        })
    }

    /// A second handle on the new, empty file, with `O_DIRECT`, if the filesystem takes it.
    #[cfg(target_os = "linux")]
    fn open_direct(path: &Path) -> Option<File> {
        use std::os::unix::fs::OpenOptionsExt as _;
        fs::OpenOptions::new().write(true).custom_flags(libc::O_DIRECT).open(path).ok()
    }

    #[cfg(not(target_os = "linux"))]
    fn open_direct(_: &Path) -> Option<File> {
        None
    }

    fn write(&mut self, mut data: &[u8]) -> std::io::Result<()> {
        while !data.is_empty() {
            let take = (DIRECT_BATCH - self.fill).min(data.len());
            let at = self.start + self.fill;
            self.mem[at..at + take].copy_from_slice(&data[..take]);
            self.fill += take;
            data = &data[take..];
            if self.fill == DIRECT_BATCH {
                self.write_batch()?;
            }
        }
        Ok(())
    }

    /// Writes the gathered batch at the end of the file: directly (padded to the alignment,
    /// which `finish` cuts off again), or buffered.
    fn write_batch(&mut self) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt as _;
        if self.direct {
            let padded = self.fill.next_multiple_of(DIRECT_ALIGN);
            self.mem[self.start + self.fill..self.start + padded].fill(0);
            match self.file.write_all_at(&self.mem[self.start..self.start + padded], self.written) {
                Ok(()) => {
                    self.written += self.fill as u64;
                    self.fill = 0;
                    return Ok(());
                }
                Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
                    // the filesystem took O_DIRECT at open but not this write: go on buffered,
                    // from where the file is known good
                    tracing::debug!(path = %self.path.display(), "direct write refused; writing buffered");
                    self.file = fs::OpenOptions::new().write(true).open(&self.path)?;
                    self.file.set_len(self.written)?;
                    self.direct = false;
                }
                Err(e) => return Err(e),
            }
        }
        self.file.write_all_at(&self.mem[self.start..self.start + self.fill], self.written)?;
        self.written += self.fill as u64;
        self.unflushed += self.fill;
        self.fill = 0;
        if self.unflushed >= FLUSH_EVERY_BYTES {
            self.unflushed = 0;
            match &self.flusher {
                Some(f) => f.poke(),
                None => self.flusher = Some(Flusher::start(self.file.try_clone()?)),
            }
        }
        Ok(())
    }

    /// Writes what is gathered and makes the file durable.
    fn finish(mut self) -> std::io::Result<()> {
        if self.fill > 0 {
            let direct = self.direct;
            self.write_batch()?;
            if direct && self.direct {
                // the padding goes again
                self.file.set_len(self.written)?;
            }
        }
        if let Some(f) = self.flusher.take() {
            f.stop()?;
        }
        self.file.sync_data()
    }
}

/// The writer thread: seal what arrives, write it in batches, and on the end-of-data marker
/// (an empty chunk) seal the last chunk and fsync file and directory. Returns `None` when the
/// channel closed without the marker (the upload was abandoned).
fn write_blob_file(
    path: &Path,
    dir: &Path,
    key: DataKey,
    mut rx: tokio::sync::mpsc::Receiver<Bytes>,
) -> Result<Option<Extent>, StoreError> {
    let mut out = BlobOut::create(path, true)?;
    let mut sealer = Sealer::new(key);
    let prefix = sealer.nonce_prefix();
    let mut header = [0u8; FILE_HEADER_LEN as usize];
    header[..4].copy_from_slice(FILE_MAGIC);
    header[4] = FILE_VERSION;
    header[8..].copy_from_slice(&prefix);
    out.write(&header)?;
    loop {
        let Some(chunk) = rx.blocking_recv() else {
            return Ok(None);
        };
        if chunk.is_empty() {
            break;
        }
        sealer.push(&chunk);
        out.write(sealer.sealed())?;
        sealer.clear_sealed();
    }
    let plain_len = sealer.plain_len();
    out.write(&sealer.finish())?;
    out.finish()?;
    crate::fsync_dir(dir)?;
    let id = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| u128::from_str_radix(n, 16).ok())
        .ok_or_else(|| StoreError::Bug("blob file name is not an id".into()))?;
    Ok(Some(Extent { blob: id, inline: false, plain_len, nonce_prefix: prefix }))
}

/// Streams plaintext into a new blob file.
pub struct BlobFileWriter {
    id: BlobId,
    tx: Option<tokio::sync::mpsc::Sender<Bytes>>,
    done: Option<tokio::sync::oneshot::Receiver<Result<Option<Extent>, StoreError>>>,
    plain_len: u64,
}

impl BlobFileWriter {
    #[must_use]
    pub fn id(&self) -> BlobId {
        self.id
    }

    #[must_use]
    pub fn plain_len(&self) -> u64 {
        self.plain_len
    }

    pub async fn write(&mut self, data: Bytes) -> Result<(), StoreError> {
        if data.is_empty() {
            return Ok(());
        }
        self.plain_len += data.len() as u64;
        let tx = self.tx.as_ref().expect("writer used after finish");
        if tx.send(data).await.is_err() {
            // the writer thread stopped: its result says why
            return Err(self
                .take_result()
                .await
                .err()
                .unwrap_or_else(|| StoreError::Bug("blob writer stopped".into())));
        }
        Ok(())
    }

    async fn take_result(&mut self) -> Result<Extent, StoreError> {
        self.tx.take();
        let done = self.done.take().expect("result taken once");
        match done.await {
            Ok(Ok(Some(extent))) => Ok(extent),
            Ok(Ok(None)) => Err(StoreError::Bug("blob writer ended without its end marker".into())),
            Ok(Err(err)) => Err(err),
            Err(_) => Err(StoreError::Bug("blob writer thread vanished".into())),
        }
    }

    /// Abandons the blob and waits until its file is gone. (Dropping the writer abandons it too,
    /// but the file then disappears a moment later, on the writer thread.)
    pub async fn abort(mut self) {
        self.tx.take();
        if let Some(done) = self.done.take() {
            let _ = done.await;
        }
    }

    /// Seals the last chunk, writes it and makes the file durable (file and directory fsync).
    pub async fn finish(mut self) -> Result<Extent, StoreError> {
        let tx = self.tx.as_ref().expect("writer finished twice");
        // an empty chunk marks the end of the data
        let _ = tx.send(Bytes::new()).await;
        self.take_result().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(len: usize, seed: u8) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8 ^ seed).collect()
    }

    #[test]
    fn blob_files_hold_exactly_what_was_written_direct_or_buffered() {
        let dir = tempfile::tempdir().unwrap();
        let probe = dir.path().join("probe");
        fs::write(&probe, b"").unwrap();
        let direct_ok = BlobOut::open_direct(&probe).is_some();
        eprintln!("O_DIRECT on the test's filesystem: {direct_ok}");
        for try_direct in [true, false] {
            for len in [0, 1, DIRECT_ALIGN - 1, DIRECT_BATCH, DIRECT_BATCH + 1, 2 * DIRECT_BATCH + 12_345] {
                let path = dir.path().join(format!("{try_direct}-{len}"));
                let data = pattern(len, 7);
                let mut out = BlobOut::create(&path, try_direct).unwrap();
                // where this filesystem takes O_DIRECT, the writer uses it
                assert_eq!(out.direct, try_direct && direct_ok, "len {len}");
                // uneven pieces, as the sealer hands them over
                for piece in data.chunks(300_001) {
                    out.write(piece).unwrap();
                }
                out.finish().unwrap();
                assert_eq!(fs::read(&path).unwrap(), data, "direct {try_direct}, len {len}");
            }
        }
    }

    #[test]
    fn a_refused_direct_write_goes_on_buffered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        let mut out = BlobOut::create(&path, true).unwrap();
        if !out.direct {
            eprintln!("no O_DIRECT on the test's filesystem: nothing to refuse");
            return;
        }
        // a file offset off every block size: the kernel refuses the direct write (EINVAL),
        // and the writer goes on from there, buffered (the byte before it reads as zero)
        out.written = 1;
        let data = pattern(2 * DIRECT_BATCH + 777, 9);
        for piece in data.chunks(100_000) {
            out.write(piece).unwrap();
        }
        assert!(!out.direct, "the writer fell back to buffered writes");
        out.finish().unwrap();
        let mut expected = vec![0u8];
        expected.extend(&data);
        assert_eq!(fs::read(&path).unwrap(), expected);
    }

    /// A file blob of `data`, written in pieces of `piece` bytes under `dir`, with its key.
    async fn file_blob(dir: &Path, data: &[u8], piece: usize) -> (BlobDir, DataKey, Extent) {
        let master = crate::crypto::MasterKey::load_or_create(dir).unwrap();
        let (key, _) = master.new_data_key();
        let blobs = BlobDir::open(dir.join("blobs")).unwrap();
        let mut writer = blobs.create(key.clone()).await.unwrap();
        let id = writer.id();
        for piece in data.chunks(piece) {
            writer.write(Bytes::copy_from_slice(piece)).await.unwrap();
        }
        let extent = writer.finish().await.unwrap();
        assert_eq!(extent.blob, id);
        (blobs, key, extent)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_blob_reads_back_chunk_by_chunk() {
        let dir = tempfile::tempdir().unwrap();
        let data = pattern(3 * DIRECT_BATCH + 5_000, 3);
        let (blobs, key, extent) = file_blob(dir.path(), &data, 256 * 1024).await;
        let on_disk = fs::metadata(blobs.path(extent.blob)).unwrap().len();
        assert_eq!(on_disk, FILE_HEADER_LEN + crate::crypto::sealed_len(data.len() as u64));
        let mut plain = Vec::new();
        read_bytes_into(&blobs, &mut None, &key, &extent, None, (0, extent.plain_len), &mut Vec::new(), &mut plain)
            .unwrap();
        assert_eq!(plain, data);
    }

    /// Byte ranges read whole: any start and end, within one chunk, across chunks and across
    /// read batches, from a file blob and from an inline one; a flipped byte is an error.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn byte_ranges_read_into_one_buffer() {
        let dir = tempfile::tempdir().unwrap();
        let data = pattern(2 * DIRECT_BATCH + 70_000, 5);
        let (blobs, key, extent) = file_blob(dir.path(), &data, 200_000).await;
        let mut sealer = Sealer::new(key.clone());
        sealer.push(&data);
        let prefix = sealer.nonce_prefix();
        let mut inline_sealed = sealer.take_sealed();
        inline_sealed.extend(sealer.finish());
        let inline = Extent { blob: 1, inline: true, plain_len: data.len() as u64, nonce_prefix: prefix };
        let len = data.len() as u64;
        let chunk = CHUNK_PLAIN_LEN as u64;
        let batch = READ_BATCH_CHUNKS * chunk;
        let ranges = [
            (0, 0),
            (0, 1),
            (5, 5),
            (chunk - 1, chunk + 1),
            (chunk, 2 * chunk),
            (100, batch + 3),
            (batch - 7, 3 * batch + 11),
            (0, len),
            (len - 10, len),
        ];
        let (mut file, mut sealed) = (None, Vec::new());
        for (from, to) in ranges {
            let want = &data[from as usize..to as usize];
            let mut out = Vec::new();
            read_bytes_into(&blobs, &mut file, &key, &extent, None, (from, to), &mut sealed, &mut out).unwrap();
            assert!(out == want, "file blob, range {from}..{to}");
            out.clear();
            read_bytes_into(&blobs, &mut None, &key, &inline, Some(&inline_sealed), (from, to), &mut sealed, &mut out)
                .unwrap();
            assert!(out == want, "inline blob, range {from}..{to}");
        }
        inline_sealed[CHUNK_SEALED_LEN + 3] ^= 1;
        let err = read_bytes_into(
            &blobs,
            &mut None,
            &key,
            &inline,
            Some(&inline_sealed),
            (0, 3 * chunk),
            &mut sealed,
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("chunk 1 fails authentication"), "{err}");
    }

    #[test]
    fn sealer_chunks_exact_multiples_without_an_empty_tail() {
        let dir = tempfile::tempdir().unwrap();
        let master = crate::crypto::MasterKey::load_or_create(dir.path()).unwrap();
        let (key, _) = master.new_data_key();
        for len in [0usize, 1, CHUNK_PLAIN_LEN - 1, CHUNK_PLAIN_LEN, CHUNK_PLAIN_LEN + 1, 3 * CHUNK_PLAIN_LEN] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut sealer = Sealer::new(key.clone());
            for piece in data.chunks(1000) {
                sealer.push(piece);
            }
            let prefix = sealer.nonce_prefix();
            let mut sealed = sealer.take_sealed();
            sealed.extend(sealer.finish());
            assert_eq!(sealed.len() as u64, crate::crypto::sealed_len(len as u64), "len {len}");
            let extent = Extent { blob: 1, inline: true, plain_len: len as u64, nonce_prefix: prefix };
            let plain = open_inline(&key, &extent, &sealed).unwrap();
            assert_eq!(plain, data);
        }
    }
}
