//! Multipart uploads: parts are sealed blobs under the upload's data key; completing an upload
//! is one metadata commit that turns the chosen parts into the object's extents (no copying) and
//! releases the rest.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use md5::Digest as _;
use redb::ReadableTable;
use tarn_common::limits::s3 as limits;
use tarn_store::record::Record;
use tarn_store::{BlobId, StoreError};

use crate::checksum::{Checksum, ChecksumAlgorithm, ChecksumType, Hasher, combine_crc, decode_checksum};
use crate::ingest::{ChecksumInput, Ingested};
use crate::list::{common_prefix, skip_past};
use crate::object::{Found, PutOutcome, WriteConditions, commit_version, validate_key, validate_meta};
use crate::record::{self, DataRef, ObjectMeta, ObjectRecord, PARTS, PartRecord, UPLOADS, UploadRecord};
use crate::sse::{CustomerKey, SseRequest};
use crate::{BodyStream, Objects, ObjectsError, Result, bucket_in};

/// A part named in CompleteMultipartUpload.
#[derive(Clone, Debug)]
pub struct CompletedPart {
    pub part_number: i32,
    pub etag: String,
    pub checksum: Option<String>,
}

#[derive(Clone, Debug)]
pub struct PartOutcome {
    /// Quoted.
    pub etag: String,
    pub checksum: Option<(ChecksumAlgorithm, String)>,
    pub last_modified_ns: i64,
}

#[derive(Clone, Debug)]
pub struct PartsPage {
    pub upload: UploadRecord,
    pub parts: Vec<(u32, PartRecord)>,
    pub is_truncated: bool,
    pub next_part_number_marker: Option<u32>,
}

#[derive(Clone, Debug)]
pub struct UploadSummary {
    pub key: String,
    pub upload_id: String,
    pub upload: UploadRecord,
}

#[derive(Clone, Debug, Default)]
pub struct UploadsPage {
    pub uploads: Vec<UploadSummary>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    pub next_key_marker: Option<String>,
    pub next_upload_id_marker: Option<String>,
}

fn check_part_number(part_number: i32) -> Result<u32> {
    if (1..=limits::PART_NUMBER_MAX).contains(&part_number) {
        Ok(u32::try_from(part_number).expect("positive"))
    } else {
        Err(ObjectsError::InvalidArgument("Part number must be an integer between 1 and 10000, inclusive".into()))
    }
}

fn read_upload(txn: &redb::ReadTransaction, bucket: &str, key: &str, upload_id: &str) -> Result<UploadRecord> {
    if txn.open_table(record::BUCKETS)?.get(bucket)?.is_none() {
        return Err(ObjectsError::NoSuchBucket);
    }
    let uploads = txn.open_table(UPLOADS)?;
    let value = uploads.get((bucket, key, upload_id))?.ok_or(ObjectsError::NoSuchUpload)?;
    Ok(UploadRecord::decode(value.value())?)
}

impl Objects {
    /// A multipart upload in progress.
    pub fn upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<UploadRecord> {
        read_upload(&self.store.read()?, bucket, key, upload_id)
    }

    pub async fn create_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        meta: ObjectMeta,
        checksum_algorithm: Option<ChecksumAlgorithm>,
        checksum_type: Option<ChecksumType>,
        sse: SseRequest,
    ) -> Result<String> {
        validate_key(key)?;
        validate_meta(&meta)?;
        if checksum_type == Some(ChecksumType::FullObject)
            && matches!(checksum_algorithm, Some(ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256))
        {
            return Err(ObjectsError::InvalidRequest(
                "The FULL_OBJECT checksum type cannot be used with the SHA1 or SHA256 checksum algorithm.".into(),
            ));
        }
        if checksum_type == Some(ChecksumType::Composite) && checksum_algorithm == Some(ChecksumAlgorithm::Crc64Nvme) {
            return Err(ObjectsError::InvalidRequest(
                "The COMPOSITE checksum type cannot be used with the CRC64NVME checksum algorithm.".into(),
            ));
        }
        if checksum_type.is_some() && checksum_algorithm.is_none() {
            return Err(ObjectsError::InvalidRequest(
                "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.".into(),
            ));
        }
        let (_, wrapped_key, sse) = self.new_data_key(bucket, key, sse).await?;
        let upload = UploadRecord {
            initiated_ns: tarn_common::now_unix_nanos(),
            meta,
            wrapped_key,
            checksum_algorithm,
            checksum_type,
            sse,
        };
        let (bucket, key) = (bucket.to_string(), key.to_string());
        self.store
            .write(move |txn| {
                if bucket_in(txn, &bucket)?.is_none() {
                    return Ok(Err(ObjectsError::NoSuchBucket));
                }
                let seq = tarn_store::next_counter(txn, "s3_upload_seq")?;
                let upload_id = record::make_upload_id(seq);
                txn.open_table(UPLOADS)?
                    .insert((bucket.as_str(), key.as_str(), upload_id.as_str()), upload.encode().as_slice())?;
                Ok(Ok(upload_id))
            })
            .await?
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: i32,
        body: BodyStream,
        declared_len: Option<u64>,
        content_md5: Option<[u8; 16]>,
        checksum: Option<ChecksumInput>,
        customer_key: Option<&CustomerKey>,
    ) -> Result<PartOutcome> {
        let number = check_part_number(part_number)?;
        let upload = read_upload(&self.store.read()?, bucket, key, upload_id)?;
        let checksum = match (checksum, upload.checksum_algorithm) {
            (Some(sent), Some(expected)) if sent.algorithm() != expected => {
                return Err(ObjectsError::InvalidRequest(format!(
                    "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
                    expected.as_str().to_ascii_lowercase(),
                    sent.algorithm().as_str().to_ascii_lowercase()
                )));
            }
            (Some(sent), _) => sent,
            (None, Some(expected)) => ChecksumInput::Compute(expected),
            (None, None) => ChecksumInput::Compute(ChecksumAlgorithm::Crc64Nvme),
        };
        let algorithm = checksum.algorithm();
        let data_key = self.open_data_key(&upload.sse, &upload.wrapped_key, customer_key)?;
        let ingested = self.ingest(body, data_key, limits::PART_SIZE_MAX, declared_len, content_md5, checksum).await?;
        self.commit_part(bucket, key, upload_id, number, ingested, algorithm).await
    }

    /// UploadPartCopy: bytes `[start, end)` of a found object become a part.
    pub async fn upload_part_copy(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: i32,
        source: Found,
        range: Option<(u64, u64)>,
        customer_key: Option<&CustomerKey>,
    ) -> Result<PartOutcome> {
        let number = check_part_number(part_number)?;
        let upload = read_upload(&self.store.read()?, bucket, key, upload_id)?;
        let (start, end) = range.unwrap_or((0, source.record.size));
        let stream = self.open_range(&source, start, end)?;
        let body: BodyStream =
            Box::pin(futures::StreamExt::map(stream, |r| r.map_err(|e| Box::new(e) as crate::BoxError)));
        let algorithm = upload.checksum_algorithm.unwrap_or(ChecksumAlgorithm::Crc64Nvme);
        let data_key = self.open_data_key(&upload.sse, &upload.wrapped_key, customer_key)?;
        let ingested = self
            .ingest(body, data_key, limits::PART_SIZE_MAX, Some(end - start), None, ChecksumInput::Compute(algorithm))
            .await?;
        drop(source);
        self.commit_part(bucket, key, upload_id, number, ingested, algorithm).await
    }

    async fn commit_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: u32,
        ingested: Ingested,
        algorithm: ChecksumAlgorithm,
    ) -> Result<PartOutcome> {
        let Ingested { extent, inline_sealed, md5, checksum, size } = ingested;
        let part = PartRecord {
            etag: hex::encode(md5),
            size,
            last_modified_ns: tarn_common::now_unix_nanos(),
            extent: extent.clone(),
            checksum: Some(format!("{}:{checksum}", algorithm.as_str())),
        };
        let outcome = PartOutcome {
            etag: format!("\"{}\"", part.etag),
            checksum: Some((algorithm, checksum)),
            last_modified_ns: part.last_modified_ns,
        };
        let (bucket, key, upload_id) = (bucket.to_string(), key.to_string(), upload_id.to_string());
        let result = self
            .store
            .write(move |txn| -> Result<Result<Vec<BlobId>>, StoreError> {
                if txn.open_table(UPLOADS)?.get((bucket.as_str(), key.as_str(), upload_id.as_str()))?.is_none() {
                    return Ok(Err(ObjectsError::NoSuchUpload));
                }
                let old = {
                    let mut parts = txn.open_table(PARTS)?;
                    let old =
                        parts.get((upload_id.as_str(), number))?.map(|v| PartRecord::decode(v.value())).transpose()?;
                    parts.insert((upload_id.as_str(), number), part.encode().as_slice())?;
                    old
                };
                let mut files = Vec::new();
                if let Some(old) = old {
                    files.extend(tarn_store::release_extent(txn, &old.extent)?);
                }
                tarn_store::register_extent(txn, &part.extent, inline_sealed.as_deref())?;
                Ok(Ok(files))
            })
            .await;
        match result {
            Ok(Ok(files)) => {
                self.store.blobs().release_later(files);
                Ok(outcome)
            }
            Ok(Err(err)) => {
                self.discard_extent(&extent).await;
                Err(err)
            }
            Err(err) => {
                self.discard_extent(&extent).await;
                Err(err.into())
            }
        }
    }

    async fn discard_extent(&self, extent: &tarn_store::Extent) {
        if !extent.inline {
            self.store.blobs().remove(vec![extent.blob]).await;
        }
    }

    pub async fn complete_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: Vec<CompletedPart>,
        conditions: WriteConditions,
    ) -> Result<PutOutcome> {
        if parts.is_empty() {
            return Err(ObjectsError::MalformedXml);
        }
        let mut numbers = Vec::with_capacity(parts.len());
        for part in &parts {
            let number = check_part_number(part.part_number)?;
            if numbers.last().is_some_and(|&prev| number <= prev) {
                return Err(ObjectsError::InvalidPartOrder);
            }
            numbers.push(number);
        }
        let (bucket, key, upload_id) = (bucket.to_string(), key.to_string(), upload_id.to_string());
        let (rec, files) =
            self.store.write(move |txn| complete_in(txn, &bucket, &key, &upload_id, &parts, &conditions)).await??;
        self.store.blobs().release_later(files);
        Ok(PutOutcome {
            etag: rec.quoted_etag(),
            version_id: rec.version_id.clone(),
            checksum: rec.checksum.clone(),
            size: rec.size,
            last_modified_ns: rec.last_modified_ns,
            sse: rec.sse.clone(),
        })
    }

    pub async fn abort_multipart_upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<()> {
        let (bucket, key, upload_id) = (bucket.to_string(), key.to_string(), upload_id.to_string());
        let files = self
            .store
            .write(move |txn| -> Result<Result<Vec<BlobId>>, StoreError> {
                if bucket_in(txn, &bucket)?.is_none() {
                    return Ok(Err(ObjectsError::NoSuchBucket));
                }
                if txn.open_table(UPLOADS)?.remove((bucket.as_str(), key.as_str(), upload_id.as_str()))?.is_none() {
                    return Ok(Err(ObjectsError::NoSuchUpload));
                }
                let removed = take_parts(txn, &upload_id)?;
                let mut files = Vec::new();
                for part in removed.values() {
                    files.extend(tarn_store::release_extent(txn, &part.extent)?);
                }
                Ok(Ok(files))
            })
            .await??;
        self.store.blobs().release_later(files);
        Ok(())
    }

    pub fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        marker: Option<u32>,
        max_parts: usize,
    ) -> Result<PartsPage> {
        let txn = self.store.read()?;
        let upload = read_upload(&txn, bucket, key, upload_id)?;
        let table = txn.open_table(PARTS)?;
        let mut page = PartsPage { upload, parts: Vec::new(), is_truncated: false, next_part_number_marker: None };
        for entry in table.range((upload_id, marker.unwrap_or(0).saturating_add(1))..=(upload_id, u32::MAX))? {
            let (k, v) = entry?;
            if page.parts.len() == max_parts {
                page.is_truncated = true;
                break;
            }
            page.parts.push((k.value().1, PartRecord::decode(v.value())?));
        }
        if page.is_truncated {
            page.next_part_number_marker = page.parts.last().map(|(n, _)| *n);
        }
        Ok(page)
    }

    pub fn list_multipart_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        key_marker: Option<&str>,
        upload_id_marker: Option<&str>,
        max_uploads: usize,
    ) -> Result<UploadsPage> {
        let txn = self.store.read()?;
        if txn.open_table(record::BUCKETS)?.get(bucket)?.is_none() {
            return Err(ObjectsError::NoSuchBucket);
        }
        let table = txn.open_table(UPLOADS)?;
        let key_marker = key_marker.filter(|k| !k.is_empty());
        let upload_id_marker = upload_id_marker.filter(|u| !u.is_empty());
        let mut page = UploadsPage::default();
        let mut cursor = match key_marker {
            Some(k) if k > prefix => k.to_string(),
            _ => prefix.to_string(),
        };
        let mut last: Option<(String, Option<String>)> = None;
        'seek: loop {
            for entry in table.range((bucket, cursor.as_str(), "")..)? {
                let (k, v) = entry?;
                let (b, key, upload_id) = k.value();
                if b != bucket || !key.starts_with(prefix) {
                    break 'seek;
                }
                if let Some(marker) = key_marker {
                    let skip = match upload_id_marker {
                        Some(um) => key < marker || (key == marker && upload_id <= um),
                        None => key <= marker,
                    };
                    if skip {
                        continue;
                    }
                }
                let full = page.uploads.len() + page.common_prefixes.len() == max_uploads;
                if let Some(cp) = common_prefix(key, prefix, delimiter) {
                    if key_marker.is_none_or(|m| cp > m) {
                        if full {
                            page.is_truncated = true;
                            break 'seek;
                        }
                        page.common_prefixes.push(cp.to_string());
                        last = Some((cp.to_string(), None));
                    }
                    cursor = skip_past(cp);
                    continue 'seek;
                }
                if full {
                    page.is_truncated = true;
                    break 'seek;
                }
                last = Some((key.to_string(), Some(upload_id.to_string())));
                page.uploads.push(UploadSummary {
                    key: key.to_string(),
                    upload_id: upload_id.to_string(),
                    upload: UploadRecord::decode(v.value())?,
                });
            }
            break;
        }
        if page.is_truncated
            && let Some((key, upload)) = last
        {
            page.next_key_marker = Some(key);
            page.next_upload_id_marker = upload;
        }
        Ok(page)
    }
}

/// Removes every part of an upload, returning them by number.
fn take_parts(
    txn: &redb::WriteTransaction,
    upload_id: &str,
) -> Result<std::collections::BTreeMap<u32, PartRecord>, StoreError> {
    let mut table = txn.open_table(PARTS)?;
    let mut parts = std::collections::BTreeMap::new();
    let keys: Vec<u32> = table
        .range((upload_id, 0)..=(upload_id, u32::MAX))?
        .map(|e| e.map(|(k, _)| k.value().1))
        .collect::<Result<_, _>>()?;
    for number in keys {
        if let Some(v) = table.remove((upload_id, number))? {
            parts.insert(number, PartRecord::decode(v.value())?);
        }
    }
    Ok(parts)
}

fn complete_in(
    txn: &redb::WriteTransaction,
    bucket: &str,
    key: &str,
    upload_id: &str,
    requested: &[CompletedPart],
    conditions: &WriteConditions,
) -> Result<Result<(ObjectRecord, Vec<BlobId>)>, StoreError> {
    if bucket_in(txn, bucket)?.is_none() {
        return Ok(Err(ObjectsError::NoSuchBucket));
    }
    let upload = {
        let uploads = txn.open_table(UPLOADS)?;
        let Some(v) = uploads.get((bucket, key, upload_id))? else {
            return Ok(Err(ObjectsError::NoSuchUpload));
        };
        UploadRecord::decode(v.value())?
    };
    // Validate everything before changing anything.
    let stored: std::collections::BTreeMap<u32, PartRecord> = {
        let table = txn.open_table(PARTS)?;
        let mut map = std::collections::BTreeMap::new();
        for entry in table.range((upload_id, 0)..=(upload_id, u32::MAX))? {
            let (k, v) = entry?;
            map.insert(k.value().1, PartRecord::decode(v.value())?);
        }
        map
    };
    let invalid_part = || {
        ObjectsError::InvalidPart(
            "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not have matched the part's entity tag.".into(),
        )
    };
    let mut chosen = Vec::with_capacity(requested.len());
    for (i, want) in requested.iter().enumerate() {
        let number = u32::try_from(want.part_number).expect("validated");
        let Some(part) = stored.get(&number) else {
            return Ok(Err(invalid_part()));
        };
        if want.etag.trim().trim_matches('"') != part.etag {
            return Ok(Err(invalid_part()));
        }
        if let Some(sent) = &want.checksum
            && part.checksum.as_deref().and_then(|c| c.split_once(':')).map(|(_, v)| v) != Some(sent.as_str())
        {
            return Ok(Err(invalid_part()));
        }
        if i + 1 < requested.len() && part.size < limits::PART_SIZE_MIN {
            return Ok(Err(ObjectsError::EntityTooSmall));
        }
        chosen.push(part.clone());
    }
    let size: u64 = chosen.iter().map(|p| p.size).sum();
    if size > limits::OBJECT_SIZE_MAX {
        return Ok(Err(ObjectsError::EntityTooLarge));
    }
    let mut md5s = md5::Md5::new();
    for part in &chosen {
        md5s.update(hex::decode(&part.etag).unwrap_or_default());
    }
    let etag = format!("{}-{}", hex::encode(md5s.finalize()), chosen.len());
    let checksum = object_checksum(&upload, &chosen);
    let rec = ObjectRecord {
        version_id: None,
        seq: 0,
        delete_marker: false,
        last_modified_ns: 0,
        size,
        etag,
        meta: upload.meta.clone(),
        checksum,
        part_sizes: chosen.iter().map(|p| p.size).collect(),
        data: Some(DataRef {
            wrapped_key: upload.wrapped_key.clone(),
            extents: chosen.iter().map(|p| p.extent.clone()).collect(),
        }),
        sse: upload.sse.clone(),
    };
    let committed = match commit_version(txn, bucket, key, rec, conditions, None)? {
        Ok(committed) => committed,
        Err(err) => return Ok(Err(err)),
    };
    let (rec, mut files) = committed;
    txn.open_table(UPLOADS)?.remove((bucket, key, upload_id))?;
    let used: std::collections::BTreeSet<u32> =
        requested.iter().map(|p| u32::try_from(p.part_number).expect("validated")).collect();
    for (number, part) in take_parts(txn, upload_id)? {
        if !used.contains(&number) {
            files.extend(tarn_store::release_extent(txn, &part.extent)?);
        }
    }
    Ok(Ok((rec, files)))
}

/// The object checksum of a completed upload: a checksum of the part checksums (`-N`), or for
/// CRCs of type FULL_OBJECT the CRC of the whole object, combined from the parts'.
fn object_checksum(upload: &UploadRecord, parts: &[PartRecord]) -> Option<Checksum> {
    let mut raws = Vec::with_capacity(parts.len());
    let mut algorithm = None;
    for part in parts {
        let (name, value) = part.checksum.as_deref()?.split_once(':')?;
        let alg = ChecksumAlgorithm::parse(name)?;
        if algorithm.is_some_and(|a| a != alg) {
            return None;
        }
        algorithm = Some(alg);
        raws.push((decode_checksum(alg, value)?, part.size));
    }
    let algorithm = algorithm?;
    let kind = upload.checksum_type.unwrap_or(
        if upload.checksum_algorithm.is_none() || algorithm == ChecksumAlgorithm::Crc64Nvme {
            ChecksumType::FullObject
        } else {
            ChecksumType::Composite
        },
    );
    match kind {
        ChecksumType::Composite => {
            let mut hasher = Hasher::new(algorithm);
            for (raw, _) in &raws {
                hasher.update(raw);
            }
            Some(Checksum { algorithm, value: format!("{}-{}", hasher.finalize_base64(), parts.len()), kind })
        }
        ChecksumType::FullObject => {
            let mut iter = raws.into_iter();
            let (mut acc, _) = iter.next()?;
            for (raw, len) in iter {
                acc = combine_crc(algorithm, &acc, &raw, len)?;
            }
            Some(Checksum { algorithm, value: B64.encode(acc), kind })
        }
    }
}
