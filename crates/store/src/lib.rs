//! The only crate that knows the data dir: metadata in redb with group commit, sealed blob
//! files, the master key, and crash recovery (orphan blobs removed at start).
//!
//! ```text
//! tarn-data/
//!   meta.redb    every table, ACID; one fsync per commit, shared by every write in the batch
//!   blobs/<id>   sealed object bytes and multipart parts (header + 64 KiB AES-GCM chunks)
//!   keys/        master.key (0600): wraps each object's data key
//! ```
//!
//! A write becomes visible only through a metadata commit, and that commit happens only after
//! the blob file it references is fsync'd (file and directory). So a crash leaves at worst a blob
//! file no record references; [`Store::open`] deletes those.

pub mod blob;
pub mod commit;
pub mod crypto;
pub mod record;
pub mod segment;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::Stream;
use redb::{ReadableDatabase, ReadableTable, TableDefinition};

pub use blob::{BlobDir, BlobFileWriter, BlobId, Extent, Sealer};
pub use commit::Committer;
pub use crypto::{DataKey, KeyWrapper, MasterKey};
pub use redb;

/// redb's in-memory page cache.
const DB_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// Sealed bytes of small objects, keyed by blob id.
pub const INLINE_BLOBS: TableDefinition<u128, &[u8]> = TableDefinition::new("inline_blobs");
/// Every blob file some record references. A file in `blobs/` not listed here is an orphan.
pub const BLOB_FILES: TableDefinition<u128, u64> = TableDefinition::new("blob_files");
/// Monotonic counters (sequence numbers), by name.
pub const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("counters");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The disk or the OS failed; the caller may retry.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// Stored bytes fail their checks: a disk fault or tampering.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// The metadata database failed.
    #[error("metadata database error: {0}")]
    Db(String),
    /// The write batch this request was in did not commit.
    #[error("write batch did not commit: {0}")]
    Aborted(String),
    /// The store is shutting down.
    #[error("store is closed")]
    Closed,
    /// An invariant broke: likely a bug in tarn.
    #[error("internal error (likely a bug): {0}")]
    Bug(String),
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(err: $t) -> Self {
                StoreError::Db(err.to_string())
            }
        }
    )*};
}
from_redb!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// Opened data dir.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    db: Arc<redb::Database>,
    committer: Committer,
    blobs: BlobDir,
    master: MasterKey,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.committer.shutdown();
    }
}

impl Store {
    /// Opens (or creates) the data dir and removes blob files no record references.
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        fs::create_dir_all(root)?;
        let master = MasterKey::load_or_create(&root.join("keys"))?;
        let blobs = BlobDir::open(root.join("blobs"))?;
        // the page cache is bounded: metadata and inline objects beyond it are read from disk
        let db = redb::Builder::new().set_cache_size(DB_CACHE_BYTES).create(root.join("meta.redb"))?;
        {
            let txn = db.begin_write()?;
            txn.open_table(INLINE_BLOBS)?;
            txn.open_table(BLOB_FILES)?;
            txn.open_table(COUNTERS)?;
            txn.commit()?;
        }
        fsync_dir(root)?;
        let db = Arc::new(db);
        let removed = remove_orphan_blob_files(&db, &blobs)?;
        if removed > 0 {
            tracing::info!(removed, "removed orphan blob files left by an interrupted write");
        }
        let committer = Committer::start(db.clone());
        Ok(Self { inner: Arc::new(Inner { root: root.to_path_buf(), db, committer, blobs, master }) })
    }

    #[must_use]
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// (transactions committed, writes committed) since start: writes / commits is the mean
    /// number of writes that shared one fsync.
    #[must_use]
    pub fn commit_stats(&self) -> (u64, u64) {
        self.inner.committer.stats()
    }

    /// Directory of the append log named by `path` (e.g. `["streams", stream, shard]`) under
    /// `streams/`-style subtrees of the data dir. Each element must be a plain name.
    #[must_use]
    pub fn log_dir(&self, path: &[&str]) -> PathBuf {
        let mut dir = self.inner.root.clone();
        for part in path {
            debug_assert!(
                !part.is_empty() && !part.contains('/') && *part != "." && *part != "..",
                "plain path element"
            );
            dir.push(part);
        }
        dir
    }

    #[must_use]
    pub fn master_key(&self) -> &MasterKey {
        &self.inner.master
    }

    /// A service's own data key, kept wrapped by the master key as `name` in `table` (made and
    /// stored durably on first use).
    pub async fn service_data_key(
        &self,
        table: redb::TableDefinition<'static, &'static str, &'static [u8]>,
        name: &'static str,
    ) -> Result<DataKey, StoreError> {
        let wrapped = {
            let txn = self.read()?;
            match txn.open_table(table) {
                Ok(t) => redb::ReadableTable::get(&t, name)?.map(|v| v.value().to_vec()),
                Err(redb::TableError::TableDoesNotExist(_)) => None,
                Err(e) => return Err(e.into()),
            }
        };
        if let Some(w) = wrapped {
            return self.master_key().unwrap_data_key(&w);
        }
        let (key, wrapped) = self.master_key().new_data_key();
        self.write(move |txn| {
            txn.open_table(table)?.insert(name, wrapped.as_slice())?;
            Ok(())
        })
        .await?;
        Ok(key)
    }

    #[must_use]
    pub fn blobs(&self) -> &BlobDir {
        &self.inner.blobs
    }

    /// A consistent snapshot for reading.
    pub fn read(&self) -> Result<redb::ReadTransaction, StoreError> {
        Ok(self.inner.db.begin_read()?)
    }

    /// Runs `f` in the next group commit and returns its result once the batch is durable.
    ///
    /// Contract: when `f` returns `Err`, it must not have changed anything it would want kept;
    /// the whole batch aborts, so the error should be reserved for storage failures. Domain
    /// outcomes (a missing key, a failed precondition) belong inside `R`.
    pub async fn write<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&redb::WriteTransaction) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        self.inner.committer.submit(f).await
    }

    /// Streams plaintext bytes `[start, end)` of the concatenation of `extents`.
    ///
    /// Inline extents are read from the snapshot `txn` up front; files are opened lazily.
    pub fn read_range(
        &self,
        txn: &redb::ReadTransaction,
        key: DataKey,
        extents: &[Extent],
        start: u64,
        end: u64,
    ) -> Result<impl Stream<Item = Result<Bytes, StoreError>> + Send + 'static + use<>, StoreError> {
        let plan = Self::plan(txn, extents, start, end)?;
        let state = ReadState {
            plan,
            step: 0,
            pos: None,
            key,
            blobs: self.inner.blobs.clone(),
            file: None,
            sealed: Vec::new(),
        };
        Ok(unfold_read_state(state))
    }

    /// Plans reading plaintext ranges of the concatenation of `extents`, each into one buffer
    /// (see [`RangesRead`]).
    pub fn read_ranges(
        &self,
        txn: &redb::ReadTransaction,
        key: DataKey,
        extents: &[Extent],
        ranges: &[(u64, u64)],
    ) -> Result<RangesRead, StoreError> {
        // one copy of each inline blob, shared by every range that reads it
        let mut inline = std::collections::HashMap::new();
        let plans = ranges
            .iter()
            .map(|&(start, end)| Self::plan_with(txn, extents, start, end, &mut inline))
            .collect::<Result<_, StoreError>>()?;
        Ok(RangesRead { plans, key, blobs: self.inner.blobs.clone() })
    }

    /// The steps that read plaintext `[start, end)` of the concatenation of `extents`; inline
    /// extents' bytes are taken from the snapshot `txn`.
    fn plan(
        txn: &redb::ReadTransaction,
        extents: &[Extent],
        start: u64,
        end: u64,
    ) -> Result<Vec<ReadStep>, StoreError> {
        Self::plan_with(txn, extents, start, end, &mut std::collections::HashMap::new())
    }

    /// [`Store::plan`], taking inline blobs' bytes from `loaded` where an earlier plan read them.
    fn plan_with(
        txn: &redb::ReadTransaction,
        extents: &[Extent],
        start: u64,
        end: u64,
        loaded: &mut std::collections::HashMap<BlobId, Arc<Vec<u8>>>,
    ) -> Result<Vec<ReadStep>, StoreError> {
        let mut plan = Vec::new();
        let mut offset = 0u64;
        let inline = txn.open_table(INLINE_BLOBS)?;
        for extent in extents {
            let (lo, hi) = (offset, offset + extent.plain_len);
            offset = hi;
            if hi <= start || lo >= end || extent.plain_len == 0 {
                continue;
            }
            let from = start.max(lo) - lo;
            let to = end.min(hi) - lo;
            let sealed = if extent.inline {
                if let Some(bytes) = loaded.get(&extent.blob) {
                    Some(Arc::clone(bytes))
                } else {
                    let value = inline
                        .get(extent.blob)?
                        .ok_or_else(|| StoreError::Corrupt(format!("inline blob {:032x} is missing", extent.blob)))?;
                    let bytes = Arc::new(value.value().to_vec());
                    loaded.insert(extent.blob, Arc::clone(&bytes));
                    Some(bytes)
                }
            } else {
                None
            };
            plan.push(ReadStep { extent: extent.clone(), from, to, sealed });
        }
        Ok(plan)
    }
}

/// Plaintext ranges of one object version, planned against a snapshot, to be read whole: for
/// callers that want each range as one buffer (a Parquet reader's column chunks) rather than
/// as a stream of batches, so no batch is copied again to join them.
pub struct RangesRead {
    /// Each range's steps.
    plans: Vec<Vec<ReadStep>>,
    key: DataKey,
    blobs: BlobDir,
}

impl RangesRead {
    /// Reads every range into its own buffer. Blocks on file reads: run it off the async
    /// runtime. Memory: the ranges themselves plus one batch of sealed chunks.
    pub fn read(self) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut sealed = Vec::new();
        let mut out = Vec::with_capacity(self.plans.len());
        // each file blob is opened once for all the ranges
        let mut files: std::collections::HashMap<BlobId, Option<std::fs::File>> = std::collections::HashMap::new();
        for plan in &self.plans {
            let len: u64 = plan.iter().map(|step| step.to - step.from).sum();
            let mut buf = Vec::with_capacity(usize::try_from(len).expect("range fits memory"));
            for step in plan {
                let file = files.entry(step.extent.blob).or_default();
                blob::read_bytes_into(
                    &self.blobs,
                    file,
                    &self.key,
                    &step.extent,
                    step.sealed.as_ref().map(|s| s.as_slice()),
                    (step.from, step.to),
                    &mut sealed,
                    &mut buf,
                )?;
            }
            out.push(buf);
        }
        Ok(out)
    }
}

struct ReadStep {
    extent: Extent,
    from: u64,
    to: u64,
    sealed: Option<Arc<Vec<u8>>>,
}

struct ReadState {
    plan: Vec<ReadStep>,
    step: usize,
    pos: Option<u64>,
    key: DataKey,
    blobs: BlobDir,
    /// The open blob file of the current step, kept across batches.
    file: Option<std::fs::File>,
    /// The buffer sealed chunks are read into and opened in, kept across batches.
    sealed: Vec<u8>,
}

impl ReadState {
    /// Produces the next batch of plaintext, or `None` at the end.
    async fn next_batch(&mut self) -> Option<Result<Bytes, StoreError>> {
        use crypto::CHUNK_PLAIN_LEN;
        let chunk = CHUNK_PLAIN_LEN as u64;
        loop {
            let step = self.plan.get(self.step)?;
            let pos = *self.pos.get_or_insert(step.from);
            if pos >= step.to {
                self.step += 1;
                self.pos = None;
                self.file = None;
                continue;
            }
            // up to the end of a batch of chunks, so that each read holds at most one batch
            let stop = step.to.min((pos / chunk + blob::READ_BATCH_CHUNKS) * chunk);
            let key = self.key.clone();
            let extent = step.extent.clone();
            let result = match &step.sealed {
                Some(sealed) => {
                    let mut plain = Vec::new();
                    blob::read_bytes_into(
                        &self.blobs,
                        &mut None,
                        &key,
                        &extent,
                        Some(sealed.as_slice()),
                        (pos, stop),
                        &mut self.sealed,
                        &mut plain,
                    )
                    .map(|()| plain)
                }
                None => {
                    let blobs = self.blobs.clone();
                    let mut file = self.file.take();
                    let mut sealed = std::mem::take(&mut self.sealed);
                    let read = tokio::task::spawn_blocking(move || {
                        let mut plain = Vec::new();
                        let result = blob::read_bytes_into(
                            &blobs,
                            &mut file,
                            &key,
                            &extent,
                            None,
                            (pos, stop),
                            &mut sealed,
                            &mut plain,
                        );
                        (file, sealed, result.map(|()| plain))
                    })
                    .await;
                    match read {
                        Ok((file, sealed, result)) => {
                            self.file = file;
                            self.sealed = sealed;
                            result
                        }
                        Err(err) => Err(StoreError::Bug(format!("blob read task failed: {err}"))),
                    }
                }
            };
            let plain = match result {
                Ok(plain) => plain,
                Err(err) => {
                    self.step = self.plan.len();
                    return Some(Err(err));
                }
            };
            self.pos = Some(stop);
            return Some(Ok(Bytes::from(plain)));
        }
    }
}

fn unfold_read_state(state: ReadState) -> impl Stream<Item = Result<Bytes, StoreError>> + Send + 'static {
    futures::stream::unfold(state, |mut state| async move {
        let item = state.next_batch().await?;
        Some((item, state))
    })
}

/// Next value of the named counter, starting at 1. Call inside a write transaction.
pub fn next_counter(txn: &redb::WriteTransaction, name: &str) -> Result<u64, StoreError> {
    let mut table = txn.open_table(COUNTERS)?;
    let next = table.get(name)?.map_or(0, |v| v.value()) + 1;
    table.insert(name, next)?;
    Ok(next)
}

/// Makes a blob durable-visible: inline bytes are stored, a file is registered as live.
pub fn register_extent(
    txn: &redb::WriteTransaction,
    extent: &Extent,
    inline_sealed: Option<&[u8]>,
) -> Result<(), StoreError> {
    // a blob is registered once: a second registration would let one release free what
    // another record still points at
    if extent.inline {
        let sealed = inline_sealed.ok_or_else(|| StoreError::Bug("inline extent without its bytes".into()))?;
        let mut table = txn.open_table(INLINE_BLOBS)?;
        let first = table.insert(extent.blob, sealed)?.is_none();
        debug_assert!(first, "inline blob {:032x} registered twice", extent.blob);
    } else {
        let mut table = txn.open_table(BLOB_FILES)?;
        let first = table.insert(extent.blob, extent.plain_len)?.is_none();
        debug_assert!(first, "blob file {:032x} registered twice", extent.blob);
    }
    Ok(())
}

/// Releases a blob in the transaction; returns the file to remove once the commit is durable.
pub fn release_extent(txn: &redb::WriteTransaction, extent: &Extent) -> Result<Option<BlobId>, StoreError> {
    if extent.inline {
        txn.open_table(INLINE_BLOBS)?.remove(extent.blob)?;
        Ok(None)
    } else {
        txn.open_table(BLOB_FILES)?.remove(extent.blob)?;
        Ok(Some(extent.blob))
    }
}

fn remove_orphan_blob_files(db: &redb::Database, blobs: &BlobDir) -> Result<usize, StoreError> {
    let txn = db.begin_read()?;
    let live = txn.open_table(BLOB_FILES)?;
    let mut removed = 0;
    for entry in fs::read_dir(blobs.dir())? {
        let entry = entry?;
        let name = entry.file_name();
        let keep = name
            .to_str()
            .and_then(|n| u128::from_str_radix(n, 16).ok())
            .is_some_and(|id| live.get(id).map(|v| v.is_some()).unwrap_or(true));
        if !keep {
            fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    if removed > 0 {
        fsync_dir(blobs.dir())?;
    }
    Ok(removed)
}

/// Makes a directory's entries (new, renamed or removed files) durable.
pub fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}
