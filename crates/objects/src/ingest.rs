//! Reading a request body into a sealed blob while hashing it, with every check done before the
//! blob becomes durable: size limits, declared length, Content-MD5 and flexible checksums.

use futures::StreamExt;
use md5::Digest as _;
use tarn_store::{DataKey, Extent, Sealer};

use crate::checksum::{ChecksumAlgorithm, Hasher, decode_checksum};
use crate::{BodyStream, INLINE_SIZE_MAX, Objects, ObjectsError, Result};

/// Where the expected flexible checksum comes from.
pub enum ChecksumInput {
    /// The client sent none: compute this algorithm and store it.
    Compute(ChecksumAlgorithm),
    /// `x-amz-checksum-<alg>` header: verify and store.
    Header(ChecksumAlgorithm, String),
    /// Sent as a trailer after an aws-chunked body: read once the body ends, verify and store.
    Trailer(ChecksumAlgorithm, Box<dyn FnOnce() -> Option<String> + Send>),
}

impl ChecksumInput {
    #[must_use]
    pub fn algorithm(&self) -> ChecksumAlgorithm {
        match self {
            Self::Compute(a) | Self::Header(a, _) | Self::Trailer(a, _) => *a,
        }
    }
}

/// A body stored (and fsync'd if it went to a file) but not yet referenced by any record.
pub(crate) struct Ingested {
    pub extent: Extent,
    pub inline_sealed: Option<Vec<u8>>,
    pub md5: [u8; 16],
    pub checksum: String,
    pub size: u64,
}

/// MD5 and the flexible checksum of a body. Small bodies hash inline; once a body outgrows
/// the inline size, hashing moves to its own thread so that it runs beside the sealing and
/// writing of the blob file instead of before it.
#[allow(clippy::large_enum_variant)] // one per request, on the stack of its task
enum Digests {
    Inline(md5::Md5, Hasher),
    Thread(tokio::sync::mpsc::Sender<bytes::Bytes>, tokio::task::JoinHandle<(md5::Md5, Hasher)>),
}

impl Digests {
    async fn update(&mut self, chunk: &bytes::Bytes) -> Result<()> {
        match self {
            Self::Inline(md5, hasher) => {
                md5.update(chunk);
                hasher.update(chunk);
            }
            Self::Thread(tx, _) => {
                if tx.send(chunk.clone()).await.is_err() {
                    return Err(tarn_store::StoreError::Bug("hashing thread stopped".into()).into());
                }
            }
        }
        Ok(())
    }

    fn into_thread(self) -> Self {
        match self {
            Self::Inline(mut md5, mut hasher) => {
                let (tx, mut rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(32);
                let handle = tokio::task::spawn_blocking(move || {
                    while let Some(chunk) = rx.blocking_recv() {
                        md5.update(&chunk);
                        hasher.update(&chunk);
                    }
                    (md5, hasher)
                });
                Self::Thread(tx, handle)
            }
            thread @ Self::Thread(..) => thread,
        }
    }

    async fn finish(self) -> Result<([u8; 16], Hasher)> {
        let (md5, hasher) = match self {
            Self::Inline(md5, hasher) => (md5, hasher),
            Self::Thread(tx, handle) => {
                drop(tx);
                handle.await.map_err(|e| tarn_store::StoreError::Bug(format!("hashing thread failed: {e}")))?
            }
        };
        Ok((md5.finalize().into(), hasher))
    }
}

enum Sink {
    /// Plaintext held until the body ends or outgrows [`INLINE_SIZE_MAX`].
    Buffer(Vec<u8>),
    File(tarn_store::BlobFileWriter),
}

impl Objects {
    /// Stores `body` sealed under `key`; fails, storing nothing, if any check fails.
    /// Reads and checks the body into `sink`; returns (md5, checksum, size) once every check passed.
    async fn ingest_checked(
        &self,
        mut body: BodyStream,
        key: &DataKey,
        sink: &mut Sink,
        size_max: u64,
        declared_len: Option<u64>,
        content_md5: Option<[u8; 16]>,
        checksum: ChecksumInput,
    ) -> Result<([u8; 16], String, u64)> {
        if declared_len.is_some_and(|len| len > size_max) {
            return Err(ObjectsError::EntityTooLarge);
        }
        let mut digests = Digests::Inline(md5::Md5::new(), Hasher::new(checksum.algorithm()));
        let mut size = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk =
                chunk.map_err(|err| ObjectsError::IncompleteBody(format!("the request body ended early: {err}")))?;
            size += chunk.len() as u64;
            if size > size_max {
                return Err(ObjectsError::EntityTooLarge);
            }
            if declared_len.is_some_and(|len| size > len) {
                return Err(ObjectsError::IncompleteBody("the request body is longer than its Content-Length".into()));
            }
            digests.update(&chunk).await?;
            match sink {
                Sink::Buffer(buffer) => {
                    buffer.extend_from_slice(&chunk);
                    if buffer.len() > INLINE_SIZE_MAX {
                        // too big to ride in the metadata commit: continue in a blob file
                        let mut writer = self.store.blobs().create(key.clone()).await?;
                        writer.write(bytes::Bytes::from(std::mem::take(buffer))).await?;
                        *sink = Sink::File(writer);
                        digests = digests.into_thread();
                    }
                }
                Sink::File(writer) => writer.write(chunk).await?,
            }
        }
        if let Some(len) = declared_len
            && size != len
        {
            return Err(ObjectsError::IncompleteBody(format!(
                "you did not provide the number of bytes specified by the Content-Length HTTP header ({size} of {len})"
            )));
        }
        let (md5, hasher) = digests.finish().await?;
        if let Some(expected) = content_md5
            && expected != md5
        {
            return Err(ObjectsError::BadDigest(
                "The Content-MD5 you specified did not match what we received.".into(),
            ));
        }
        let algorithm = checksum.algorithm();
        let computed = hasher.finalize_base64();
        let expected = match checksum {
            ChecksumInput::Compute(_) => None,
            ChecksumInput::Header(_, value) => Some(value),
            ChecksumInput::Trailer(_, read) => Some(read().ok_or_else(|| {
                ObjectsError::InvalidRequest(format!(
                    "the trailing checksum {} was declared but not sent",
                    algorithm.header_name()
                ))
            })?),
        };
        if let Some(expected) = expected {
            if decode_checksum(algorithm, &expected).is_none() {
                return Err(ObjectsError::InvalidChecksum(format!(
                    "Value for {} header is invalid.",
                    algorithm.header_name()
                )));
            }
            if expected != computed {
                return Err(ObjectsError::BadDigest(format!(
                    "The {} you specified did not match the calculated checksum.",
                    algorithm.as_str()
                )));
            }
        }
        Ok((md5, computed, size))
    }

    pub(crate) async fn ingest(
        &self,
        body: BodyStream,
        key: DataKey,
        size_max: u64,
        declared_len: Option<u64>,
        content_md5: Option<[u8; 16]>,
        checksum: ChecksumInput,
    ) -> Result<Ingested> {
        let mut sink = Sink::Buffer(Vec::new());
        let checked = self.ingest_checked(body, &key, &mut sink, size_max, declared_len, content_md5, checksum).await;
        let (md5, computed, size) = match checked {
            Ok(done) => done,
            Err(err) => {
                // remove a partial blob file before answering, so a refused request leaves nothing
                if let Sink::File(writer) = sink {
                    writer.abort().await;
                }
                return Err(err);
            }
        };
        let (extent, inline_sealed) = match sink {
            Sink::Buffer(buffer) => {
                let mut sealer = Sealer::new(key);
                sealer.push(&buffer);
                let prefix = sealer.nonce_prefix();
                let plain_len = sealer.plain_len();
                let mut sealed = sealer.take_sealed();
                sealed.extend(sealer.finish());
                let extent =
                    Extent { blob: tarn_store::blob::new_blob_id(), inline: true, plain_len, nonce_prefix: prefix };
                (extent, Some(sealed))
            }
            Sink::File(writer) => (writer.finish().await?, None),
        };
        Ok(Ingested { extent, inline_sealed, md5, checksum: computed, size })
    }
}
