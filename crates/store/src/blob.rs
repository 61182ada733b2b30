//! Sealed blobs: an object's bytes, cut into 64 KiB chunks and sealed under its data key.
//!
//! A blob lives either inline in the `inline_blobs` table (small objects: one metadata commit,
//! no file, so concurrent small PUTs share one fsync) or in its own file `blobs/<id>` (large
//! objects and multipart parts: streamed to disk, fsync'd before the metadata commit that makes
//! it visible). A file is `header (16 bytes) || sealed chunks`; see docs/formats.md.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
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
/// Sealed bytes gathered before one write to the file.
const WRITE_BATCH_BYTES: usize = 1024 * 1024;
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

    #[must_use]
    pub fn sealed_ready(&self) -> usize {
        self.sealed.len()
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
    pub async fn create(&self, key: DataKey) -> Result<BlobFileWriter, StoreError> {
        let id = new_blob_id();
        let path = self.path(id);
        let sealer = Sealer::new(key);
        let prefix = sealer.nonce_prefix();
        let file = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || -> std::io::Result<File> {
                let mut file = fs::OpenOptions::new().write(true).create_new(true).open(&path)?;
                let mut header = [0u8; FILE_HEADER_LEN as usize];
                header[..4].copy_from_slice(FILE_MAGIC);
                header[4] = FILE_VERSION;
                header[8..].copy_from_slice(&prefix);
                file.write_all(&header)?;
                Ok(file)
            })
            .await
            .map_err(|e| StoreError::Bug(format!("blob create task failed: {e}")))??
        };
        Ok(BlobFileWriter { id, path, dir: self.dir.clone(), file: Some(file), sealer: Some(sealer), finished: false })
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

    /// Reads plaintext bytes `[start, end)` of a file blob, in batches of chunks.
    pub(crate) fn read_file_range(
        &self,
        key: &DataKey,
        extent: &Extent,
        first_chunk: u64,
        chunks: u64,
    ) -> Result<Vec<u8>, StoreError> {
        let total = chunk_count(extent.plain_len);
        let path = self.path(extent.blob);
        let mut file = File::open(&path)
            .map_err(|err| StoreError::Corrupt(format!("blob file {} cannot be opened: {err}", path.display())))?;
        file.seek(SeekFrom::Start(FILE_HEADER_LEN + first_chunk * CHUNK_SEALED_LEN as u64))?;
        let mut out = Vec::with_capacity((chunks as usize) * CHUNK_PLAIN_LEN);
        let mut sealed = Vec::with_capacity(CHUNK_SEALED_LEN);
        for index in first_chunk..first_chunk + chunks {
            let last = index + 1 == total;
            let len = sealed_chunk_len(extent.plain_len, index);
            sealed.resize(len, 0);
            file.read_exact(&mut sealed).map_err(|err| {
                StoreError::Corrupt(format!("blob file {} is truncated at chunk {index}: {err}", path.display()))
            })?;
            key.open_chunk(
                extent.nonce_prefix,
                u32::try_from(index).expect("chunk index fits u32"),
                last,
                &mut sealed,
            )?;
            out.extend_from_slice(&sealed);
        }
        Ok(out)
    }
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

/// Opens a whole inline blob.
pub fn open_inline(key: &DataKey, extent: &Extent, sealed_all: &[u8]) -> Result<Vec<u8>, StoreError> {
    open_inline_range(key, extent, sealed_all, 0, chunk_count(extent.plain_len))
}

/// Opens plaintext chunks `[first_chunk, first_chunk + chunks)` of an inline blob.
pub(crate) fn open_inline_range(
    key: &DataKey,
    extent: &Extent,
    sealed_all: &[u8],
    first_chunk: u64,
    chunks: u64,
) -> Result<Vec<u8>, StoreError> {
    let total = chunk_count(extent.plain_len);
    let mut out = Vec::new();
    for index in first_chunk..first_chunk + chunks {
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

/// Streams plaintext into a new blob file.
pub struct BlobFileWriter {
    id: BlobId,
    path: PathBuf,
    dir: Arc<PathBuf>,
    file: Option<File>,
    sealer: Option<Sealer>,
    finished: bool,
}

impl BlobFileWriter {
    #[must_use]
    pub fn id(&self) -> BlobId {
        self.id
    }

    #[must_use]
    pub fn plain_len(&self) -> u64 {
        self.sealer.as_ref().map_or(0, Sealer::plain_len)
    }

    pub async fn write(&mut self, data: &[u8]) -> Result<(), StoreError> {
        let sealer = self.sealer.as_mut().expect("writer used after finish");
        sealer.push(data);
        if sealer.sealed_ready() >= WRITE_BATCH_BYTES {
            let sealed = sealer.take_sealed();
            self.write_sealed(sealed, false).await?;
        }
        Ok(())
    }

    async fn write_sealed(&mut self, sealed: Vec<u8>, sync: bool) -> Result<(), StoreError> {
        let mut file = self.file.take().expect("writer file present");
        let dir = self.dir.clone();
        let (file, result) = tokio::task::spawn_blocking(move || {
            let result = (|| {
                file.write_all(&sealed)?;
                if sync {
                    file.sync_data()?;
                    crate::fsync_dir(&dir)?;
                }
                Ok::<(), std::io::Error>(())
            })();
            (file, result)
        })
        .await
        .map_err(|e| StoreError::Bug(format!("blob write task failed: {e}")))?;
        self.file = Some(file);
        result?;
        Ok(())
    }

    /// Seals the last chunk, writes it and makes the file durable (file and directory fsync).
    pub async fn finish(mut self) -> Result<Extent, StoreError> {
        let sealer = self.sealer.take().expect("writer finished twice");
        let nonce_prefix = sealer.nonce_prefix();
        let plain_len = sealer.plain_len();
        let sealed = sealer.finish();
        self.write_sealed(sealed, true).await?;
        self.finished = true;
        Ok(Extent { blob: self.id, inline: false, plain_len, nonce_prefix })
    }
}

impl Drop for BlobFileWriter {
    fn drop(&mut self) {
        if !self.finished {
            // the upload failed or was cancelled: its bytes must never become visible
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            let plain = open_inline_range(&key, &extent, &sealed, 0, chunk_count(len as u64)).unwrap();
            assert_eq!(plain, data);
        }
    }
}
