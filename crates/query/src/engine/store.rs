//! `object_store` over tarn's own object store: DataFusion reads and writes buckets in process,
//! with no HTTP loopback.
//!
//! One [`BucketStore`] per bucket; [`TarnRegistry`] hands them out for `s3://bucket` (and
//! `s3a://`) URLs. Reads stream from the snapshot a lookup took (a concurrent overwrite never
//! tears a read). Multipart writes spool their parts to a temp file in the data dir, then store
//! the object in one durable PUT, so memory stays bounded and no partial object is visible.

use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use dashmap_like::BucketMap;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, UploadPart,
};
use tarn_objects::{
    ChecksumInput, GetTarget, ListParams, ObjectRecord, Objects, ObjectsError, PutRequest, WriteConditions,
};
use tokio::io::AsyncWriteExt;
use url::Url;

use crate::engine::textcodec::Codec;

/// Turns an object key into an `object_store` path and back: `Path::from` escapes what a path
/// segment may not hold, and [`key_of`] undoes it.
#[must_use]
pub fn path_of(key: &str) -> Path {
    Path::from_iter(key.split('/').filter(|s| !s.is_empty()))
}

#[must_use]
pub fn key_of(path: &Path) -> String {
    percent_decode(path.as_ref())
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn to_os_error(bucket: &str, key: &str, err: ObjectsError) -> object_store::Error {
    match err {
        ObjectsError::NoSuchKey | ObjectsError::DeleteMarker { .. } | ObjectsError::NoSuchVersion => {
            object_store::Error::NotFound { path: format!("s3://{bucket}/{key}"), source: Box::new(err) }
        }
        ObjectsError::NoSuchBucket => {
            object_store::Error::NotFound { path: format!("s3://{bucket}"), source: Box::new(err) }
        }
        ObjectsError::PreconditionFailed => {
            object_store::Error::Precondition { path: format!("s3://{bucket}/{key}"), source: Box::new(err) }
        }
        other => object_store::Error::Generic { store: "tarn", source: Box::new(other) },
    }
}

fn meta_of(key: &str, rec: &ObjectRecord) -> ObjectMeta {
    ObjectMeta {
        location: path_of(key),
        last_modified: DateTime::<Utc>::from_timestamp_nanos(rec.last_modified_ns),
        size: rec.size,
        e_tag: Some(rec.quoted_etag()),
        version: rec.version_id.clone(),
    }
}

/// One bucket as an [`ObjectStore`].
#[derive(Clone)]
pub struct BucketStore {
    objects: Objects,
    /// The caller's account: reads are checked against the bucket's policy for its root.
    account: String,
    bucket: String,
    spool_dir: std::path::PathBuf,
    /// Bytes read, for a query's DataScannedInBytes.
    scanned: Arc<AtomicU64>,
    /// For text tables (`tarn-text://` URLs): compressed objects are decoded as they are read,
    /// by their extension's codec, else by this one (the table's `compressionType`).
    text: Option<Option<Codec>>,
    /// For CloudTrail tables (`tarn-cloudtrail://`): each file's `Records` become JSON rows.
    cloudtrail: bool,
    /// Who the statement runs as (None: the account root, checked against bucket policies).
    caller: Option<Arc<Caller>>,
    /// Where each object is recorded before it is written (a PostgreSQL transaction block).
    journal: Option<Arc<dyn WriteJournal>>,
}

/// Records an object's key before a statement writes it, so that the statement can be taken
/// back (a PostgreSQL transaction block's journal).
#[async_trait]
pub trait WriteJournal: Send + Sync {
    async fn will_write(&self, bucket: &str, key: &str) -> Result<(), String>;
}

impl fmt::Debug for BucketStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BucketStore(s3://{})", self.bucket)
    }
}

impl fmt::Display for BucketStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tarn(s3://{})", self.bucket)
    }
}

/// Who a statement runs as: its reads, listings and writes are that principal's S3 calls.
#[derive(Clone)]
pub struct Caller {
    pub iam: tarn_iam::Iam,
    pub principal: tarn_iam::Principal,
    /// Whether the statement came over a secure channel (aws:SecureTransport): a TLS
    /// PostgreSQL session; Athena, which reads S3 over TLS on its caller's behalf.
    pub secure: bool,
    /// The region Glue resources' ARNs name.
    pub region: String,
}

impl Caller {
    /// Whether the caller may do Glue `action` on the catalog and, when named, the database
    /// and table (Glue asks for each: "Specifying AWS Glue resource ARNs").
    pub fn glue(&self, action: &str, database: Option<&str>, table: Option<&str>) -> Result<(), String> {
        let (region, account) = (&self.region, self.iam.account_id());
        let mut resources = vec![format!("arn:aws:glue:{region}:{account}:catalog")];
        if let Some(db) = database {
            resources.push(format!("arn:aws:glue:{region}:{account}:database/{db}"));
            if let Some(t) = table {
                resources.push(format!("arn:aws:glue:{region}:{account}:table/{db}/{t}"));
            }
        }
        let context = tarn_iam::policy::Context::new();
        for r in &resources {
            if !self.iam.authorize(&self.principal, action, r, &context, None, account).allowed() {
                return Err(format!(
                    "User: {} is not authorized to perform: {action} on resource: {r} because no identity-based policy allows the {action} action",
                    self.principal.arn
                ));
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Caller({})", self.principal.arn)
    }
}

impl BucketStore {
    #[must_use]
    pub fn new(
        objects: Objects,
        account: &str,
        bucket: &str,
        scanned: Arc<AtomicU64>,
        caller: Option<Arc<Caller>>,
    ) -> Self {
        let spool_dir = objects.store().root().join("tmp").join("query-spool");
        Self {
            objects,
            account: account.to_string(),
            bucket: bucket.to_string(),
            spool_dir,
            scanned,
            text: None,
            cloudtrail: false,
            caller,
            journal: None,
        }
    }

    /// Writes journalled first in `journal`.
    #[must_use]
    pub fn journalling(mut self, journal: Option<Arc<dyn WriteJournal>>) -> Self {
        self.journal = journal;
        self
    }

    /// The write of `key` is about to begin: the journal (if any) records it first.
    async fn before_write(&self, key: &str) -> object_store::Result<()> {
        match &self.journal {
            Some(j) => j.will_write(&self.bucket, key).await.map_err(|e| generic(e.into())),
            None => Ok(()),
        }
    }

    /// This store decoding compressed text objects (see [`crate::engine::textcodec`]), `default` where
    /// a key's extension names no codec.
    #[must_use]
    pub fn decoding_text(mut self, default: Option<Codec>) -> Self {
        self.text = Some(default);
        self
    }

    /// This store reading CloudTrail log files as rows (see
    /// [`crate::engine::textcodec::cloudtrail_rows`]).
    #[must_use]
    pub fn cloudtrail_records(mut self) -> Self {
        self.cloudtrail = true;
        self
    }

    /// The codec a read of `key` decodes with (None: read as stored).
    fn codec_of(&self, key: &str) -> object_store::Result<Option<Codec>> {
        let Some(default) = self.text else { return Ok(None) };
        let by_key = Codec::of_key(key).map_err(|m| object_store::Error::Generic {
            store: "tarn",
            source: format!("s3://{}/{key}: {m}", self.bucket).into(),
        })?;
        Ok(by_key.or(default))
    }

    /// Every read of a table's data is a GetObject (every listing a ListBucket, every write a
    /// PutObject) the caller must be allowed: a bucket policy's Deny fails the query naming
    /// the path.
    fn authorize(&self, action: &str, key: Option<&str>) -> object_store::Result<()> {
        let allowed = match &self.caller {
            // the statement's caller: its policies and the bucket's, over a secure channel on
            // its behalf (as Athena's reads are)
            Some(c) => {
                let mut context = tarn_iam::policy::Context::new();
                context.set("aws:SecureTransport", if c.secure { "true" } else { "false" });
                context.set("aws:CalledVia", "athena.amazonaws.com");
                self.objects.authorize_as(&c.iam, &c.principal, action, &self.bucket, key, &context)
            }
            None => {
                let principal = format!("arn:aws:iam::{}:root", self.account);
                self.objects.authorize(&principal, &self.account, action, &self.bucket, key)
            }
        };
        allowed.map_err(|_| {
            let path = match key {
                Some(k) => format!("s3://{}/{k}", self.bucket),
                None => format!("s3://{}", self.bucket),
            };
            object_store::Error::PermissionDenied {
                path: path.clone(),
                source: format!("Permission denied on S3 path: {path}: Access Denied ({action})").into(),
            }
        })
    }

    /// Reading an SSE-KMS object opens its data key: the statement's caller needs kms:Decrypt
    /// on the key (as S3's GET asks it).
    fn authorize_key_use(&self, key: &str, sse: &tarn_objects::Sse) -> object_store::Result<()> {
        let Some(c) = &self.caller else { return Ok(()) };
        let mut context = tarn_iam::policy::Context::new();
        context.set("aws:SecureTransport", if c.secure { "true" } else { "false" });
        context.set("aws:CalledVia", "athena.amazonaws.com");
        self.objects.authorize_read_key(&c.iam, &c.principal, sse, &context).map_err(|why| {
            let path = format!("s3://{}/{key}", self.bucket);
            object_store::Error::PermissionDenied {
                path: path.clone(),
                source: format!("Permission denied on S3 path: {path}: {why}").into(),
            }
        })
    }

    async fn put_stream(
        &self,
        key: String,
        body: tarn_objects::BodyStream,
        len: u64,
    ) -> object_store::Result<PutResult> {
        let req = PutRequest {
            bucket: self.bucket.clone(),
            key: key.clone(),
            meta: tarn_objects::ObjectMeta::default(),
            body,
            declared_len: Some(len),
            content_md5: None,
            checksum: ChecksumInput::Compute(tarn_objects::checksum::ChecksumAlgorithm::Crc64Nvme),
            conditions: WriteConditions::default(),
            sse: tarn_objects::SseRequest::BucketDefault,
        };
        let out = self.objects.put_object(req).await.map_err(|e| to_os_error(&self.bucket, &key, e))?;
        Ok(PutResult { e_tag: Some(out.etag), version: out.version_id })
    }

    fn list_page(
        &self,
        prefix: &str,
        delimiter: Option<&str>,
        after: Option<String>,
    ) -> object_store::Result<tarn_objects::ListPage> {
        let params =
            ListParams { prefix: prefix.to_string(), delimiter: delimiter.map(str::to_string), after, max_keys: 1000 };
        self.objects.list_objects(&self.bucket, &params).map_err(|e| to_os_error(&self.bucket, prefix, e))
    }
}

fn prefix_of(prefix: Option<&Path>) -> String {
    match prefix {
        Some(p) if !p.as_ref().is_empty() => format!("{}/", key_of(p)),
        _ => String::new(),
    }
}

#[async_trait]
impl ObjectStore for BucketStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        _opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.authorize("s3:PutObject", Some(&key_of(location)))?;
        self.before_write(&key_of(location)).await?;
        let len = payload.content_length() as u64;
        let chunks: Vec<Bytes> = payload.into_iter().collect();
        let body = futures::stream::iter(chunks.into_iter().map(Ok)).boxed();
        self.put_stream(key_of(location), body, len).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        _opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.authorize("s3:PutObject", Some(&key_of(location)))?;
        self.before_write(&key_of(location)).await?;
        std::fs::create_dir_all(&self.spool_dir).map_err(|e| generic(e.into()))?;
        let file = tempfile::NamedTempFile::new_in(&self.spool_dir).map_err(|e| generic(e.into()))?;
        let (std_file, path) = file.into_parts();
        Ok(Box::new(SpoolUpload {
            store: self.clone(),
            key: key_of(location),
            state: Arc::new(tokio::sync::Mutex::new(Spool { file: tokio::fs::File::from_std(std_file), len: 0 })),
            path: Arc::new(Mutex::new(Some(path))),
            next: 0,
        }))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> object_store::Result<GetResult> {
        let key = key_of(location);
        self.authorize("s3:GetObject", Some(&key))?;
        let target = GetTarget::from_version_id(options.version.as_deref());
        let found = self.objects.lookup(&self.bucket, &key, &target).map_err(|e| to_os_error(&self.bucket, &key, e))?;
        if !options.head {
            self.authorize_key_use(&key, &found.record.sse)?;
        }
        let meta = meta_of(&key, &found.record);
        options.check_preconditions(&meta)?;
        let size = found.record.size;
        let codec = if options.head { None } else { self.codec_of(&key)? };
        if codec.is_some() && options.range.is_some() {
            return Err(object_store::Error::NotSupported {
                source: format!("s3://{}/{key} is compressed: it is read whole, not by range", self.bucket).into(),
            });
        }
        let range = match &options.range {
            None => 0..size,
            Some(r) => {
                r.as_range(size).map_err(|e| object_store::Error::Generic { store: "tarn", source: Box::new(e) })?
            }
        };
        let payload = if options.head {
            futures::stream::empty().boxed()
        } else {
            let bucket = self.bucket.clone();
            let k = key.clone();
            let scanned = self.scanned.clone();
            self.objects
                .open_range(&found, range.start, range.end)
                .map_err(|e| to_os_error(&self.bucket, &key, e))?
                .map_ok(move |b| {
                    scanned.fetch_add(b.len() as u64, Ordering::Relaxed);
                    b
                })
                .map_err(move |e| object_store::Error::Generic {
                    store: "tarn",
                    source: format!("reading s3://{bucket}/{k}: {e}").into(),
                })
                .boxed()
        };
        let payload = match codec {
            Some(codec) => crate::engine::textcodec::decode(codec, payload, format!("s3://{}/{key}", self.bucket)),
            None => payload,
        };
        let payload = if self.cloudtrail && !options.head {
            crate::engine::textcodec::cloudtrail_rows(payload, format!("s3://{}/{key}", self.bucket))
        } else {
            payload
        };
        Ok(GetResult { payload: GetResultPayload::Stream(payload), meta, range, attributes: Default::default() })
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> object_store::Result<Vec<Bytes>> {
        // one snapshot for all ranges: they read the same version
        let key = key_of(location);
        self.authorize("s3:GetObject", Some(&key))?;
        if self.codec_of(&key)?.is_some() {
            return Err(object_store::Error::NotSupported {
                source: format!("s3://{}/{key} is compressed: it is read whole, not by range", self.bucket).into(),
            });
        }
        let found = self
            .objects
            .lookup(&self.bucket, &key, &GetTarget::Current)
            .map_err(|e| to_os_error(&self.bucket, &key, e))?;
        self.authorize_key_use(&key, &found.record.sse)?;
        let size = found.record.size;
        let spans: Vec<(u64, u64)> = ranges.iter().map(|r| (r.start.min(size), r.end.min(size))).collect();
        let read = self.objects.read_ranges(&found, &spans).map_err(|e| to_os_error(&self.bucket, &key, e))?;
        // each range is read into one buffer on the blocking pool: no batch copied twice
        let bufs = tokio::task::spawn_blocking(move || read.read())
            .await
            .map_err(|e| generic(format!("reading s3://{}/{key}: the read task failed: {e}", self.bucket).into()))?
            .map_err(|e| generic(format!("reading s3://{}/{key}: {e}", self.bucket).into()))?;
        let total: u64 = spans.iter().map(|(s, e)| e.saturating_sub(*s)).sum();
        self.scanned.fetch_add(total, Ordering::Relaxed);
        Ok(bufs.into_iter().map(Bytes::from).collect())
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        let this = self.clone();
        locations
            .and_then(move |path| {
                let this = this.clone();
                async move {
                    let key = key_of(&path);
                    this.authorize("s3:DeleteObject", Some(&key))?;
                    this.objects
                        .delete_object(&this.bucket, &key, None)
                        .await
                        .map_err(|e| to_os_error(&this.bucket, &key, e))?;
                    Ok(path)
                }
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        if let Err(e) = self.authorize("s3:ListBucket", None) {
            return futures::stream::once(async move { Err(e) }).boxed();
        }
        let this = self.clone();
        let prefix = prefix_of(prefix);
        futures::stream::unfold(Some(None::<String>), move |state| {
            let this = this.clone();
            let prefix = prefix.clone();
            async move {
                let after = state?;
                match this.list_page(&prefix, None, after) {
                    Err(e) => Some((vec![Err(e)], None)),
                    Ok(page) => {
                        let next = if page.is_truncated { page.next_marker.clone().map(Some) } else { None };
                        let metas = page.objects.iter().map(|o| Ok(meta_of(&o.key, &o.record))).collect();
                        Some((metas, next))
                    }
                }
            }
        })
        .flat_map(futures::stream::iter)
        .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.authorize("s3:ListBucket", None)?;
        let prefix = prefix_of(prefix);
        let mut out = ListResult { common_prefixes: Vec::new(), objects: Vec::new() };
        let mut after = None;
        loop {
            let page = self.list_page(&prefix, Some("/"), after)?;
            out.objects.extend(page.objects.iter().map(|o| meta_of(&o.key, &o.record)));
            out.common_prefixes.extend(page.common_prefixes.iter().map(|p| path_of(p)));
            if !page.is_truncated {
                return Ok(out);
            }
            after = page.next_marker;
        }
    }

    async fn copy_opts(&self, from: &Path, to: &Path, _options: CopyOptions) -> object_store::Result<()> {
        let (from, to) = (key_of(from), key_of(to));
        self.authorize("s3:GetObject", Some(&from))?;
        self.authorize("s3:PutObject", Some(&to))?;
        self.before_write(&to).await?;
        let found = self
            .objects
            .lookup(&self.bucket, &from, &GetTarget::Current)
            .map_err(|e| to_os_error(&self.bucket, &from, e))?;
        self.authorize_key_use(&from, &found.record.sse)?;
        self.objects
            .copy_object(
                tarn_objects::CopySource { found },
                self.bucket.clone(),
                to.clone(),
                None,
                None,
                WriteConditions::default(),
                tarn_objects::SseRequest::BucketDefault,
            )
            .await
            .map_err(|e| to_os_error(&self.bucket, &to, e))?;
        Ok(())
    }
}

fn generic(e: Box<dyn std::error::Error + Send + Sync>) -> object_store::Error {
    object_store::Error::Generic { store: "tarn", source: e }
}

struct Spool {
    file: tokio::fs::File,
    len: u64,
}

/// A multipart write spooled to a temp file; `complete` stores it with one durable PUT.
struct SpoolUpload {
    store: BucketStore,
    key: String,
    state: Arc<tokio::sync::Mutex<Spool>>,
    path: Arc<Mutex<Option<tempfile::TempPath>>>,
    /// Where the next part starts in the spool: parts are numbered as `put_part` is called
    /// (in the object's order), while their writes may run in any order (object_store's
    /// WriteMultipart spawns them as tasks), so each writes at its own offset.
    next: u64,
}

impl fmt::Debug for SpoolUpload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpoolUpload(s3://{}/{})", self.store.bucket, self.key)
    }
}

#[async_trait]
impl MultipartUpload for SpoolUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        use tokio::io::AsyncSeekExt;
        let at = self.next;
        self.next += data.content_length() as u64;
        let lock = self.state.clone();
        Box::pin(async move {
            let mut spool = lock.lock().await;
            spool.file.seek(std::io::SeekFrom::Start(at)).await.map_err(|e| generic(e.into()))?;
            let mut end = at;
            for chunk in data.iter() {
                spool.file.write_all(chunk).await.map_err(|e| generic(e.into()))?;
                end += chunk.len() as u64;
            }
            spool.len = spool.len.max(end);
            Ok(())
        })
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        let len = {
            let mut spool = self.state.lock().await;
            spool.file.flush().await.map_err(|e| generic(e.into()))?;
            if spool.len != self.next {
                return Err(generic(
                    format!("multipart upload incomplete: {} of {} bytes", spool.len, self.next).into(),
                ));
            }
            spool.len
        };
        let path = self.path.lock().map_err(|_| generic("spool poisoned".into()))?.take();
        let Some(path) = path else { return Err(generic("multipart upload already completed".into())) };
        let file = tokio::fs::File::open(&path).await.map_err(|e| generic(e.into()))?;
        let body = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024)
            .map_err(|e| Box::new(e) as tarn_objects::BoxError)
            .boxed();
        let result = self.store.put_stream(self.key.clone(), body, len).await;
        drop(path); // removes the spool file
        result
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        if let Ok(mut p) = self.path.lock() {
            p.take();
        }
        Ok(())
    }
}

mod dashmap_like {
    use std::collections::HashMap;
    use std::sync::{Arc, RwLock};

    use super::BucketStore;

    /// Bucket name -> its store, made on first use.
    #[derive(Default)]
    pub struct BucketMap(RwLock<HashMap<String, Arc<BucketStore>>>);

    impl BucketMap {
        pub fn get_or_make(&self, bucket: &str, make: impl FnOnce() -> BucketStore) -> Arc<BucketStore> {
            if let Some(s) = self.0.read().ok().and_then(|m| m.get(bucket).cloned()) {
                return s;
            }
            let mut m = self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner);
            m.entry(bucket.to_string()).or_insert_with(|| Arc::new(make())).clone()
        }
    }
}

/// The URL scheme of text tables' locations: `tarn-text://bucket/prefix/` reads the bucket
/// decoding compressed objects by extension, `tarn-text-gzip://` (any [`Codec::name`]) decodes
/// objects without a codec extension with that codec.
pub const TEXT_SCHEME: &str = "tarn-text";
/// The URL scheme of CloudTrail tables' locations: files decoded by extension, each file's
/// `Records` read as rows.
pub const CLOUDTRAIL_SCHEME: &str = "tarn-cloudtrail";

/// Resolves `s3://bucket/...` (and `s3a://`) to that bucket's [`BucketStore`], and
/// `tarn-text://` URLs to one decoding compressed text.
pub struct TarnRegistry {
    objects: Objects,
    account: String,
    buckets: BucketMap,
    scanned: Arc<AtomicU64>,
    caller: Option<Arc<Caller>>,
    journal: Option<Arc<dyn WriteJournal>>,
}

impl fmt::Debug for TarnRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TarnRegistry")
    }
}

impl TarnRegistry {
    #[must_use]
    pub fn new(objects: Objects, account: &str) -> Self {
        Self {
            objects,
            account: account.to_string(),
            buckets: BucketMap::default(),
            scanned: Arc::default(),
            caller: None,
            journal: None,
        }
    }

    /// The registry of a statement run as `caller` (None: as the account root).
    #[must_use]
    pub fn as_caller(mut self, caller: Option<Arc<Caller>>) -> Self {
        self.caller = caller;
        self
    }

    /// The registry of a statement whose writes are journalled first in `journal`.
    #[must_use]
    pub fn journalling(mut self, journal: Option<Arc<dyn WriteJournal>>) -> Self {
        self.journal = journal;
        self
    }

    #[must_use]
    pub fn bucket(&self, bucket: &str) -> Arc<BucketStore> {
        self.buckets.get_or_make(bucket, || {
            BucketStore::new(self.objects.clone(), &self.account, bucket, self.scanned.clone(), self.caller.clone())
                .journalling(self.journal.clone())
        })
    }

    /// A store of `bucket` of its own (not the shared one [`TarnRegistry::bucket`] hands out),
    /// for reads that decode what they read.
    fn unshared(&self, bucket: &str) -> BucketStore {
        BucketStore::new(self.objects.clone(), &self.account, bucket, self.scanned.clone(), self.caller.clone())
    }

    /// Bytes read through this registry's stores so far.
    #[must_use]
    pub fn scanned(&self) -> u64 {
        self.scanned.load(Ordering::Relaxed)
    }
}

impl datafusion::execution::object_store::ObjectStoreRegistry for TarnRegistry {
    fn register_store(&self, _url: &Url, _store: Arc<dyn ObjectStore>) -> Option<Arc<dyn ObjectStore>> {
        None
    }

    fn get_store(&self, url: &Url) -> datafusion::error::Result<Arc<dyn ObjectStore>> {
        match (url.scheme(), url.host_str()) {
            ("s3" | "s3a" | "s3n", Some(bucket)) => Ok(self.bucket(bucket)),
            (CLOUDTRAIL_SCHEME, Some(bucket)) => {
                Ok(Arc::new(self.unshared(bucket).decoding_text(None).cloudtrail_records()))
            }
            (scheme, Some(bucket)) if scheme.starts_with(TEXT_SCHEME) => {
                let default =
                    match scheme[TEXT_SCHEME.len()..].strip_prefix('-') {
                        None => None,
                        Some(name) => Some(Codec::of_name(name).ok_or_else(|| {
                            datafusion::error::DataFusionError::Internal(format!("no codec in '{url}'"))
                        })?),
                    };
                Ok(Arc::new(self.unshared(bucket).decoding_text(default)))
            }
            _ => Err(datafusion::error::DataFusionError::Plan(format!(
                "tarn reads tables from s3://BUCKET/ locations; '{url}' is not one"
            ))),
        }
    }

    fn deregister_store(&self, url: &Url) -> datafusion::error::Result<Arc<dyn ObjectStore>> {
        self.get_store(url)
    }
}
