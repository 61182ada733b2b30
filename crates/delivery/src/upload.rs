//! An output object streamed into the object store while it is being written: the bytes a
//! converter or compressor produces go, in chunks, through a small bounded channel into a
//! `put_object` running on the server's runtime. Nothing is spooled to disk first.
//!
//! The object is stored only if the upload is finished: an upload dropped unfinished (the
//! flush failed, or its sink turned out to hold no records) ends its body with an error, so
//! the put stores nothing.

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use tarn_objects::checksum::ChecksumAlgorithm;
use tarn_objects::{BoxError, ChecksumInput, Objects, PutRequest, WriteConditions};
use tokio::sync::{mpsc, oneshot};

/// Bytes gathered before they are handed to the put.
const CHUNK: usize = 256 * 1024;
/// Chunks in flight between the writer and the put: with the chunk being filled, an upload
/// holds at most about 768 KiB.
const CHANNEL_CHUNKS: usize = 2;

/// Where an upload goes, and the runtime its put runs on.
#[derive(Clone)]
pub(crate) struct Target {
    pub runtime: tokio::runtime::Handle,
    pub objects: Objects,
    pub bucket: String,
    pub key: String,
    /// The role the put acts as (a delivery stream's RoleARN), when the directory has it.
    pub access: Option<std::sync::Arc<(tarn_iam::Iam, tarn_iam::Principal)>>,
    /// How the object is encrypted (the destination's KMSEncryptionConfig, else the bucket's
    /// default).
    pub sse: Arc<tarn_objects::SseRequest>,
}

/// Starts the message of an upload its role may not make.
pub(crate) const ACCESS_DENIED: &str = "access denied: ";

/// The result of a finished upload: the put's error, in words, if it failed.
pub(crate) type Done = oneshot::Receiver<Result<(), String>>;

/// A `Write` whose bytes become one object. Blocking: use it off the async runtime (the
/// delivery's blocking worker, or a converter's encoding thread).
pub(crate) struct Upload {
    target: Target,
    buf: Vec<u8>,
    /// The put, once the first chunk is full: (its body's sender, its result).
    put: Option<(mpsc::Sender<Result<Bytes, BoxError>>, Done)>,
    finished: Arc<AtomicBool>,
}

impl Upload {
    /// An upload to `target`; the put starts with the first full chunk, or at `finish`.
    pub fn new(target: Target) -> Self {
        Self { target, buf: Vec::with_capacity(CHUNK), put: None, finished: Arc::new(AtomicBool::new(false)) }
    }

    fn start(&mut self) -> &mut (mpsc::Sender<Result<Bytes, BoxError>>, Done) {
        self.put.get_or_insert_with(|| {
            let (tx, rx) = mpsc::channel::<Result<Bytes, BoxError>>(CHANNEL_CHUNKS);
            let (done_tx, done_rx) = oneshot::channel();
            let finished = self.finished.clone();
            // the body ends cleanly only after `finish`; a dropped upload ends it with an error
            let body = futures::stream::unfold((rx, false), move |(mut rx, ended)| {
                let finished = finished.clone();
                async move {
                    if ended {
                        return None;
                    }
                    match rx.recv().await {
                        Some(item) => Some((item, (rx, false))),
                        None if finished.load(Ordering::SeqCst) => None,
                        None => Some((
                            Err::<Bytes, BoxError>("the delivery stopped before the object was complete".into()),
                            (rx, true),
                        )),
                    }
                }
            });
            let Target { runtime, objects, bucket, key, access, sse } = self.target.clone();
            runtime.spawn(async move {
                if let Some((iam, who)) = access.as_deref() {
                    let mut context = tarn_iam::policy::Context::new();
                    context.set("aws:SecureTransport", "true").set("aws:CalledVia", "firehose.amazonaws.com");
                    if objects.authorize_as(iam, who, "s3:PutObject", &bucket, Some(&key), &context).is_err() {
                        // the body is drained so the writer finishes; nothing is stored
                        let mut body = std::pin::pin!(body);
                        while futures::StreamExt::next(&mut body).await.is_some() {}
                        let _ = done_tx.send(Err(format!(
                            "{ACCESS_DENIED}Access was denied. Ensure that the trust policy for the provided IAM role allows Firehose to assume the role, and the access policy allows access to the S3 bucket. ({} may not s3:PutObject on s3://{bucket}/{key})",
                            who.arn
                        )));
                        return;
                    }
                }
                let req = PutRequest {
                    bucket: bucket.clone(),
                    key: key.clone(),
                    meta: tarn_objects::ObjectMeta::default(),
                    body: Box::pin(body),
                    declared_len: None,
                    content_md5: None,
                    checksum: ChecksumInput::Compute(ChecksumAlgorithm::Crc64Nvme),
                    conditions: WriteConditions::default(),
                    sse: (*sse).clone(),
                };
                let result = objects
                    .put_object(req)
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("Could not deliver s3://{bucket}/{key}: {e}"));
                let _ = done_tx.send(result);
            });
            (tx, done_rx)
        })
    }

    /// Hands the gathered bytes to the put, starting it if need be.
    fn send(&mut self) -> io::Result<()> {
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        let (tx, _) = self.start();
        if tx.blocking_send(Ok(chunk)).is_ok() {
            return Ok(());
        }
        // the put ended early: say why
        let why = self
            .put
            .take()
            .and_then(|(_, done)| done.blocking_recv().ok())
            .and_then(Result::err)
            .unwrap_or_else(|| format!("the upload of s3://{}/{} stopped", self.target.bucket, self.target.key));
        Err(io::Error::other(why))
    }

    /// Sends the last bytes and ends the body; the object is stored once the returned result
    /// says so.
    pub fn finish(mut self) -> io::Result<Done> {
        self.send()?;
        self.finished.store(true, Ordering::SeqCst);
        let (tx, done) = self.put.take().expect("started by send");
        drop(tx);
        Ok(done)
    }
}

impl Write for Upload {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    /// Bytes are handed on in whole chunks; `finish` sends the rest.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use futures::TryStreamExt as _;
    use tarn_objects::{GetTarget, ObjectsError};

    use super::*;

    async fn objects(dir: &std::path::Path) -> Objects {
        let store = tarn_store::Store::open(dir).unwrap();
        let objects = Objects::open(store, "us-east-1").await.unwrap();
        objects.create_bucket("out").await.unwrap();
        objects
    }

    fn target(objects: &Objects, bucket: &str, key: &str) -> Target {
        Target {
            runtime: tokio::runtime::Handle::current(),
            objects: objects.clone(),
            bucket: bucket.into(),
            key: key.into(),
            access: None,
            sse: Arc::default(),
        }
    }

    async fn read(objects: &Objects, key: &str) -> Result<Vec<u8>, ObjectsError> {
        let found = objects.lookup("out", key, &GetTarget::Current)?;
        let size = found.record.size;
        let chunks: Vec<Bytes> = objects.open_range(&found, 0, size)?.try_collect().await.unwrap();
        Ok(chunks.concat())
    }

    /// A body of several chunks, written in odd-sized pieces.
    fn body() -> Vec<u8> {
        (0..CHUNK * 3 + 1234).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_finished_upload_stores_every_byte() {
        let dir = tempfile::tempdir().unwrap();
        let objects = objects(dir.path()).await;
        let t = target(&objects, "out", "a/big");
        let done = tokio::task::spawn_blocking(move || {
            let mut up = Upload::new(t);
            for piece in body().chunks(10_007) {
                up.write_all(piece).unwrap();
            }
            up.finish().unwrap()
        })
        .await
        .unwrap();
        done.await.unwrap().unwrap();
        assert_eq!(read(&objects, "a/big").await.unwrap(), body());
        // a body under one chunk is sent whole at finish
        let t = target(&objects, "out", "a/small");
        let done = tokio::task::spawn_blocking(move || {
            let mut up = Upload::new(t);
            up.write_all(b"tiny").unwrap();
            up.finish().unwrap()
        })
        .await
        .unwrap();
        done.await.unwrap().unwrap();
        assert_eq!(read(&objects, "a/small").await.unwrap(), b"tiny");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_upload_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let objects = objects(dir.path()).await;
        let t = target(&objects, "out", "partial");
        tokio::task::spawn_blocking(move || {
            let mut up = Upload::new(t);
            // several chunks reach the put before the writer gives up
            up.write_all(&body()).unwrap();
            drop(up);
        })
        .await
        .unwrap();
        // the put ends on the body's error; give it time to, then look
        for _ in 0..50 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(matches!(read(&objects, "partial").await, Err(ObjectsError::NoSuchKey)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_put_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let objects = objects(dir.path()).await;
        let t = target(&objects, "gone", "k");
        let err = tokio::task::spawn_blocking(move || {
            let mut up = Upload::new(t);
            let mut failed = None;
            for piece in body().chunks(CHUNK) {
                if let Err(e) = up.write_all(piece) {
                    failed = Some(e);
                    break;
                }
            }
            match failed {
                Some(e) => e.to_string(),
                None => match up.finish() {
                    Err(e) => e.to_string(),
                    Ok(done) => done.blocking_recv().unwrap().unwrap_err(),
                },
            }
        })
        .await
        .unwrap();
        assert!(err.contains("s3://gone/k"), "{err}");
    }
}
