//! PUT, GET, HEAD, DELETE and COPY of single objects, and the version bookkeeping they share.

use bytes::Bytes;
use futures::Stream;
use redb::{ReadableTable, Table};
use tarn_common::limits::s3 as limits;
use tarn_store::record::Record;
use tarn_store::{BlobId, StoreError};

use crate::checksum::{Checksum, ChecksumType};
use crate::ingest::{ChecksumInput, Ingested};
use crate::record::{
    self, CURRENT, DataRef, NULL_VERSIONS, ObjectMeta, ObjectRecord, VERSIONS, Versioning, parse_version_id,
    version_rank,
};
use crate::sse::{CustomerKey, SseRequest};
use crate::{BodyStream, Objects, ObjectsError, Result, bucket_in};

/// Preconditions on a write (`If-None-Match: *`, `If-Match: "etag"`).
#[derive(Clone, Debug, Default)]
pub struct WriteConditions {
    pub if_none_match_star: bool,
    pub if_match: Option<String>,
}

pub struct PutRequest {
    pub bucket: String,
    pub key: String,
    pub meta: ObjectMeta,
    pub body: BodyStream,
    pub declared_len: Option<u64>,
    pub content_md5: Option<[u8; 16]>,
    pub checksum: ChecksumInput,
    pub conditions: WriteConditions,
    /// The encryption asked for.
    pub sse: SseRequest,
}

#[derive(Clone, Debug)]
pub struct PutOutcome {
    /// Quoted, as S3 returns it.
    pub etag: String,
    pub version_id: Option<String>,
    pub checksum: Option<Checksum>,
    pub size: u64,
    pub last_modified_ns: i64,
    /// How the new version's data key is kept.
    pub sse: crate::Sse,
}

/// Which version a read addresses.
#[derive(Clone, Debug)]
pub enum GetTarget {
    Current,
    Version(String),
}

impl GetTarget {
    #[must_use]
    pub fn from_version_id(version_id: Option<&str>) -> Self {
        version_id.map_or(Self::Current, |v| Self::Version(v.to_string()))
    }
}

/// An object found by a read, with the snapshot its bytes are read from.
pub struct Found {
    pub record: ObjectRecord,
    txn: redb::ReadTransaction,
    /// The customer's key, for reading an SSE-C object.
    pub customer_key: Option<CustomerKey>,
}

/// The source of a copy.
pub struct CopySource {
    pub found: Found,
}

#[derive(Clone, Debug)]
pub struct DeleteOutcome {
    pub delete_marker: bool,
    pub version_id: Option<String>,
}

/// True when an `If-Match`/`If-None-Match` value names this ETag (or is `*`).
#[must_use]
pub fn etag_matches(condition: &str, etag: &str) -> bool {
    condition.split(',').map(str::trim).any(|c| c == "*" || c.trim_start_matches("W/").trim_matches('"') == etag)
}

pub(crate) fn validate_key(key: &str) -> Result<()> {
    if key.len() > limits::KEY_LENGTH_MAX {
        return Err(ObjectsError::KeyTooLong);
    }
    if key.is_empty() {
        return Err(ObjectsError::InvalidArgument("object keys must not be empty".into()));
    }
    Ok(())
}

pub(crate) fn validate_meta(meta: &ObjectMeta) -> Result<()> {
    if meta.user_size() > limits::USER_METADATA_SIZE_MAX {
        return Err(ObjectsError::MetadataTooLarge);
    }
    Ok(())
}

/// Tables a version change touches, opened once per write.
pub(crate) struct VersionTables<'t> {
    pub current: Table<'t, (&'static str, &'static str), &'static [u8]>,
    pub versions: Table<'t, (&'static str, &'static str, u64), &'static [u8]>,
    pub nulls: Table<'t, (&'static str, &'static str), u64>,
}

impl<'t> VersionTables<'t> {
    pub fn open(txn: &'t redb::WriteTransaction) -> Result<Self, StoreError> {
        Ok(Self {
            current: txn.open_table(CURRENT)?,
            versions: txn.open_table(VERSIONS)?,
            nulls: txn.open_table(NULL_VERSIONS)?,
        })
    }

    fn current(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>, StoreError> {
        self.current.get((bucket, key))?.map(|v| ObjectRecord::decode(v.value())).transpose()
    }

    /// Removes the key's `null` version, if any, returning the record for release.
    fn take_null_version(&mut self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>, StoreError> {
        let Some(seq) = self.nulls.remove((bucket, key))?.map(|v| v.value()) else {
            return Ok(None);
        };
        let old = self.versions.remove((bucket, key, version_rank(seq)))?.map(|v| ObjectRecord::decode(v.value()));
        old.transpose()
    }

    /// Makes the newest remaining version (if not a delete marker) the current one.
    fn refresh_current(&mut self, bucket: &str, key: &str) -> Result<(), StoreError> {
        let newest = {
            let mut range = self.versions.range((bucket, key, 0)..=(bucket, key, u64::MAX))?;
            range.next().transpose()?.map(|(_, v)| ObjectRecord::decode(v.value())).transpose()?
        };
        match newest {
            Some(rec) if !rec.delete_marker => {
                self.current.insert((bucket, key), rec.encode().as_slice())?;
            }
            _ => {
                self.current.remove((bucket, key))?;
            }
        }
        Ok(())
    }
}

/// Releases a record's blobs; returns blob files to remove after the commit.
pub(crate) fn release_record(txn: &redb::WriteTransaction, rec: &ObjectRecord) -> Result<Vec<BlobId>, StoreError> {
    let mut files = Vec::new();
    if let Some(data) = &rec.data {
        for extent in &data.extents {
            files.extend(tarn_store::release_extent(txn, extent)?);
        }
    }
    Ok(files)
}

/// Commits a new version of `bucket/key` as the bucket's versioning state dictates. Checks the
/// bucket and the preconditions first and changes nothing when they fail.
///
/// `new_blob` is `Some` when the version's extents are new and must be registered (with the
/// sealed bytes of an inline extent); `None` when they are already registered (multipart parts).
pub(crate) fn commit_version(
    txn: &redb::WriteTransaction,
    bucket: &str,
    key: &str,
    mut rec: ObjectRecord,
    conditions: &WriteConditions,
    new_blob: Option<Option<&[u8]>>,
) -> Result<Result<(ObjectRecord, Vec<BlobId>)>, StoreError> {
    let Some(bucket_rec) = bucket_in(txn, bucket)? else {
        return Ok(Err(ObjectsError::NoSuchBucket));
    };
    let mut tables = VersionTables::open(txn)?;
    if conditions.if_none_match_star || conditions.if_match.is_some() {
        let current = tables.current(bucket, key)?;
        if conditions.if_none_match_star && current.is_some() {
            return Ok(Err(ObjectsError::PreconditionFailed));
        }
        if let Some(condition) = &conditions.if_match {
            match &current {
                None => return Ok(Err(ObjectsError::NoSuchKey)),
                Some(cur) if !etag_matches(condition, &cur.etag) => return Ok(Err(ObjectsError::PreconditionFailed)),
                Some(_) => {}
            }
        }
    }
    let seq = tarn_store::next_counter(txn, "s3_object_seq")?;
    rec.seq = seq;
    rec.last_modified_ns = tarn_common::now_unix_nanos();
    rec.version_id = (bucket_rec.versioning == Versioning::Enabled).then(|| record::make_version_id(seq));
    let mut released = Vec::new();
    if rec.version_id.is_none()
        && let Some(old) = tables.take_null_version(bucket, key)?
    {
        released.push(old);
    }
    let encoded = rec.encode();
    // versions sort newest first by rank: the new one must come before every version the key
    // already has (the sequence counter only rises)
    #[cfg(debug_assertions)]
    {
        let newest = tables.versions.range((bucket, key, 0)..=(bucket, key, u64::MAX))?.next().transpose()?;
        debug_assert!(
            newest.is_none_or(|(k, _)| version_rank(seq) < k.value().2),
            "a new version of {bucket}/{key} does not sort before the older ones"
        );
    }
    tables.versions.insert((bucket, key, version_rank(seq)), encoded.as_slice())?;
    if rec.version_id.is_none() {
        tables.nulls.insert((bucket, key), seq)?;
    }
    if rec.delete_marker {
        tables.current.remove((bucket, key))?;
    } else {
        tables.current.insert((bucket, key), encoded.as_slice())?;
    }
    drop(tables);
    let mut files = Vec::new();
    for old in &released {
        files.extend(release_record(txn, old)?);
    }
    if let Some(data) = &rec.data
        && let Some(sealed) = new_blob
    {
        for extent in &data.extents {
            tarn_store::register_extent(txn, extent, extent.inline.then_some(sealed).flatten())?;
        }
    }
    Ok(Ok((rec, files)))
}

impl Objects {
    pub async fn put_object(&self, req: PutRequest) -> Result<PutOutcome> {
        validate_key(&req.key)?;
        validate_meta(&req.meta)?;
        self.bucket(&req.bucket)?;
        let (data_key, wrapped_key, sse) = self.new_data_key(&req.bucket, &req.key, req.sse).await?;
        let algorithm = req.checksum.algorithm();
        let ingested = self
            .ingest(req.body, data_key, limits::PUT_OBJECT_SIZE_MAX, req.declared_len, req.content_md5, req.checksum)
            .await?;
        let Ingested { extent, inline_sealed, md5, checksum, size } = ingested;
        let rec = ObjectRecord {
            version_id: None,
            seq: 0,
            delete_marker: false,
            last_modified_ns: 0,
            size,
            etag: hex::encode(md5),
            meta: req.meta,
            checksum: Some(Checksum { algorithm, value: checksum, kind: ChecksumType::FullObject }),
            part_sizes: Vec::new(),
            data: Some(DataRef { wrapped_key, extents: vec![extent.clone()] }),
            sse,
        };
        self.commit_new_version(req.bucket, req.key, rec, req.conditions, inline_sealed, Some(extent)).await
    }

    /// Commits a version whose bytes are already stored; on failure the stored bytes are removed.
    pub(crate) async fn commit_new_version(
        &self,
        bucket: String,
        key: String,
        rec: ObjectRecord,
        conditions: WriteConditions,
        inline_sealed: Option<Vec<u8>>,
        fresh_file: Option<tarn_store::Extent>,
    ) -> Result<PutOutcome> {
        let result = self
            .store
            .write(move |txn| commit_version(txn, &bucket, &key, rec, &conditions, Some(inline_sealed.as_deref())))
            .await;
        match result {
            Ok(Ok((rec, released))) => {
                self.store.blobs().release_later(released);
                Ok(PutOutcome {
                    etag: rec.quoted_etag(),
                    version_id: rec.version_id.clone(),
                    checksum: rec.checksum.clone(),
                    size: rec.size,
                    last_modified_ns: rec.last_modified_ns,
                    sse: rec.sse.clone(),
                })
            }
            Ok(Err(err)) => {
                self.discard_fresh(fresh_file).await;
                Err(err)
            }
            Err(err) => {
                self.discard_fresh(fresh_file).await;
                Err(err.into())
            }
        }
    }

    async fn discard_fresh(&self, extent: Option<tarn_store::Extent>) {
        if let Some(extent) = extent
            && !extent.inline
        {
            self.store.blobs().remove(vec![extent.blob]).await;
        }
    }

    /// Finds the version a read addresses.
    pub fn lookup(&self, bucket: &str, key: &str, target: &GetTarget) -> Result<Found> {
        let txn = self.store.read()?;
        let buckets = txn.open_table(record::BUCKETS)?;
        if buckets.get(bucket)?.is_none() {
            return Err(ObjectsError::NoSuchBucket);
        }
        let record = match target {
            GetTarget::Current => {
                let current = txn.open_table(CURRENT)?;
                match current.get((bucket, key))? {
                    Some(v) => ObjectRecord::decode(v.value())?,
                    None => {
                        // the latest version may be a delete marker: say so, as S3 does
                        let versions = txn.open_table(VERSIONS)?;
                        let newest = versions.range((bucket, key, 0)..=(bucket, key, u64::MAX))?.next().transpose()?;
                        if let Some((_, v)) = newest {
                            let rec = ObjectRecord::decode(v.value())?;
                            if rec.delete_marker {
                                return Err(ObjectsError::DeleteMarker {
                                    version_id: rec.version_id_str().to_string(),
                                    by_version: false,
                                    last_modified_ns: rec.last_modified_ns,
                                });
                            }
                        }
                        return Err(ObjectsError::NoSuchKey);
                    }
                }
            }
            GetTarget::Version(id) => {
                let seq = if id == "null" {
                    let nulls = txn.open_table(NULL_VERSIONS)?;
                    nulls.get((bucket, key))?.map(|v| v.value()).ok_or(ObjectsError::NoSuchVersion)?
                } else {
                    parse_version_id(id)
                        .ok_or_else(|| ObjectsError::InvalidArgument("Invalid version id specified".into()))?
                };
                let versions = txn.open_table(VERSIONS)?;
                let rec = versions
                    .get((bucket, key, version_rank(seq)))?
                    .map(|v| ObjectRecord::decode(v.value()))
                    .transpose()?
                    .filter(|rec| rec.version_id_str() == id)
                    .ok_or(ObjectsError::NoSuchVersion)?;
                if rec.delete_marker {
                    return Err(ObjectsError::DeleteMarker {
                        version_id: rec.version_id_str().to_string(),
                        by_version: true,
                        last_modified_ns: rec.last_modified_ns,
                    });
                }
                rec
            }
        };
        Ok(Found { record, txn, customer_key: None })
    }

    /// Streams bytes `[start, end)` of a found object.
    pub fn open_range(
        &self,
        found: &Found,
        start: u64,
        end: u64,
    ) -> Result<impl Stream<Item = Result<Bytes, StoreError>> + Send + 'static + use<>> {
        let data = found.record.data.as_ref().ok_or_else(|| StoreError::Bug("object version without data".into()))?;
        let key = self.open_data_key(&found.record.sse, &data.wrapped_key, found.customer_key.as_ref())?;
        Ok(self.store.read_range(&found.txn, key, &data.extents, start, end)?)
    }

    /// Plans reading byte ranges `[start, end)` of a found object, each into one buffer; the
    /// caller runs [`tarn_store::RangesRead::read`] off the async runtime.
    pub fn read_ranges(&self, found: &Found, ranges: &[(u64, u64)]) -> Result<tarn_store::RangesRead> {
        let data = found.record.data.as_ref().ok_or_else(|| StoreError::Bug("object version without data".into()))?;
        let key = self.open_data_key(&found.record.sse, &data.wrapped_key, found.customer_key.as_ref())?;
        Ok(self.store.read_ranges(&found.txn, key, &data.extents, ranges)?)
    }

    /// Copies a found object to `bucket/key`, with its own metadata or `meta` (REPLACE).
    pub async fn copy_object(
        &self,
        source: CopySource,
        bucket: String,
        key: String,
        meta: Option<ObjectMeta>,
        checksum_algorithm: Option<crate::checksum::ChecksumAlgorithm>,
        conditions: WriteConditions,
        sse: SseRequest,
    ) -> Result<PutOutcome> {
        validate_key(&key)?;
        if let Some(meta) = &meta {
            validate_meta(meta)?;
        }
        self.bucket(&bucket)?;
        let src = &source.found.record;
        let size = src.size;
        let stream = self.open_range(&source.found, 0, size)?;
        let body: BodyStream =
            Box::pin(futures::StreamExt::map(stream, |r| r.map_err(|e| Box::new(e) as crate::BoxError)));
        let algorithm = checksum_algorithm
            .or_else(|| src.checksum.as_ref().map(|c| c.algorithm))
            .unwrap_or(crate::checksum::ChecksumAlgorithm::Crc64Nvme);
        let (data_key, wrapped_key, sse) = self.new_data_key(&bucket, &key, sse).await?;
        let ingested = self
            .ingest(body, data_key, limits::PUT_OBJECT_SIZE_MAX, Some(size), None, ChecksumInput::Compute(algorithm))
            .await?;
        let Ingested { extent, inline_sealed, md5, checksum, size } = ingested;
        // a copied multipart object keeps its ETag only when copied as-is; a copy is a new
        // single-part object, so its ETag is the MD5 of its bytes, as S3 computes it
        let rec = ObjectRecord {
            version_id: None,
            seq: 0,
            delete_marker: false,
            last_modified_ns: 0,
            size,
            etag: hex::encode(md5),
            meta: meta.unwrap_or_else(|| src.meta.clone()),
            checksum: Some(Checksum { algorithm, value: checksum, kind: ChecksumType::FullObject }),
            part_sizes: Vec::new(),
            data: Some(DataRef { wrapped_key, extents: vec![extent.clone()] }),
            sse,
        };
        drop(source);
        self.commit_new_version(bucket, key, rec, conditions, inline_sealed, Some(extent)).await
    }

    /// Deletes a key (adding a delete marker where versioning says so) or one version of it.
    pub async fn delete_object(&self, bucket: &str, key: &str, version_id: Option<&str>) -> Result<DeleteOutcome> {
        validate_key(key)?;
        let target_seq = match version_id {
            None => None,
            Some("null") => Some(None),
            Some(id) => Some(Some(
                parse_version_id(id)
                    .ok_or_else(|| ObjectsError::InvalidArgument("Invalid version id specified".into()))?,
            )),
        };
        let (bucket, key) = (bucket.to_string(), key.to_string());
        let version_id = version_id.map(str::to_string);
        let (outcome, files) = self
            .store
            .write(move |txn| -> Result<Result<(DeleteOutcome, Vec<BlobId>)>, StoreError> {
                let Some(bucket_rec) = bucket_in(txn, &bucket)? else {
                    return Ok(Err(ObjectsError::NoSuchBucket));
                };
                let (bucket, key) = (bucket.as_str(), key.as_str());
                match target_seq {
                    Some(seq) => delete_version(txn, bucket, key, seq, version_id.as_deref().unwrap_or("null")),
                    None => match bucket_rec.versioning {
                        Versioning::Unversioned => {
                            let mut tables = VersionTables::open(txn)?;
                            let old = tables.take_null_version(bucket, key)?;
                            tables.current.remove((bucket, key))?;
                            drop(tables);
                            let files = match old {
                                Some(old) => release_record(txn, &old)?,
                                None => Vec::new(),
                            };
                            Ok(Ok((DeleteOutcome { delete_marker: false, version_id: None }, files)))
                        }
                        Versioning::Enabled | Versioning::Suspended => {
                            let marker = ObjectRecord {
                                version_id: None,
                                seq: 0,
                                delete_marker: true,
                                last_modified_ns: 0,
                                size: 0,
                                etag: String::new(),
                                meta: ObjectMeta::default(),
                                checksum: None,
                                part_sizes: Vec::new(),
                                data: None,
                                sse: crate::Sse::S3,
                            };
                            let committed =
                                commit_version(txn, bucket, key, marker, &WriteConditions::default(), Some(None))?;
                            Ok(committed.map(|(rec, files)| {
                                // a suspended bucket's delete marker is the "null" version, and says so
                                (
                                    DeleteOutcome {
                                        delete_marker: true,
                                        version_id: Some(rec.version_id_str().to_string()),
                                    },
                                    files,
                                )
                            }))
                        }
                    },
                }
            })
            .await??;
        self.store.blobs().release_later(files);
        Ok(outcome)
    }
}

/// Permanently removes one version. Removing a version that does not exist succeeds, as in S3.
fn delete_version(
    txn: &redb::WriteTransaction,
    bucket: &str,
    key: &str,
    seq: Option<u64>,
    version_id: &str,
) -> Result<Result<(DeleteOutcome, Vec<BlobId>)>, StoreError> {
    let mut tables = VersionTables::open(txn)?;
    let seq = match seq {
        Some(seq) => Some(seq),
        None => tables.nulls.get((bucket, key))?.map(|v| v.value()),
    };
    let Some(seq) = seq else {
        return Ok(Ok((DeleteOutcome { delete_marker: false, version_id: Some(version_id.to_string()) }, Vec::new())));
    };
    let existing =
        tables.versions.get((bucket, key, version_rank(seq)))?.map(|v| ObjectRecord::decode(v.value())).transpose()?;
    let Some(rec) = existing.filter(|rec| rec.version_id_str() == version_id) else {
        return Ok(Ok((DeleteOutcome { delete_marker: false, version_id: Some(version_id.to_string()) }, Vec::new())));
    };
    tables.versions.remove((bucket, key, version_rank(seq)))?;
    if rec.version_id.is_none() {
        tables.nulls.remove((bucket, key))?;
    }
    tables.refresh_current(bucket, key)?;
    drop(tables);
    let files = release_record(txn, &rec)?;
    Ok(Ok((DeleteOutcome { delete_marker: rec.delete_marker, version_id: Some(version_id.to_string()) }, files)))
}
