//! The S3 API: s3s parses and serializes the wire; this maps each operation onto `tarn-objects`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http::HeaderMap;
use s3s::dto::*;
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};
use tarn_common::limits;
use tarn_objects::checksum::{self as cks, ChecksumAlgorithm as Alg, ChecksumType as CkType};
use tarn_objects::{
    ChecksumInput, CopySource as DomainCopySource, Found, GetTarget, ListParams, ObjectMeta, ObjectRecord, Objects,
    PutOutcome, PutRequest, Versioning, VersionsParams, WriteConditions, etag_matches,
};
use time::OffsetDateTime;

use crate::s3_errors::to_s3_error;

/// The S3 service over the object store.
pub struct TarnS3 {
    objects: Objects,
    owner_id: String,
    account_id: String,
}

impl TarnS3 {
    #[must_use]
    pub fn new(objects: Objects, account_id: &str) -> Self {
        Self { objects, owner_id: format!("{account_id:0>64}"), account_id: account_id.to_string() }
    }

    /// A copy reads its source: the source bucket's policy must not deny s3:GetObject.
    fn authorize_copy_source(&self, bucket: &str, key: &str, versioned: bool) -> S3Result<()> {
        let principal = format!("arn:aws:iam::{}:root", self.account_id);
        let action = if versioned { "s3:GetObjectVersion" } else { "s3:GetObject" };
        self.objects.authorize(&principal, &self.account_id, action, bucket, Some(key)).map_err(err)
    }

    fn owner(&self) -> Owner {
        Owner { display_name: Some("tarn".into()), id: Some(self.owner_id.clone()) }
    }
}

fn err(e: tarn_objects::ObjectsError) -> S3Error {
    to_s3_error(e)
}

pub(crate) fn datetime(ns: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns)).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn timestamp(ns: i64) -> Timestamp {
    // S3 reports modification times with millisecond precision
    Timestamp::from(datetime(ns - ns.rem_euclid(1_000_000)))
}

/// RFC 7231 date, as in Last-Modified.
pub(crate) fn http_date(ns: i64) -> String {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    datetime(ns).format(&format).unwrap_or_default()
}

fn seconds(ts: &Timestamp) -> i64 {
    OffsetDateTime::from(ts.clone()).unix_timestamp()
}

fn etag_of(rec_etag: &str) -> ETag {
    ETag::Strong(rec_etag.to_string())
}

fn condition_str(c: &ETagCondition) -> String {
    match c {
        ETagCondition::Any => "*".to_string(),
        ETagCondition::ETag(e) => e.value().to_string(),
    }
}

fn sse() -> Option<ServerSideEncryption> {
    Some(ServerSideEncryption::from_static(ServerSideEncryption::AES256))
}

fn check_sse_request(sse: Option<&ServerSideEncryption>) -> S3Result<()> {
    match sse.map(ServerSideEncryption::as_str) {
        None | Some("AES256") => Ok(()),
        Some(other) => Err(s3_error!(
            InvalidArgument,
            "tarn encrypts every object with SSE-S3 (AES256); server-side encryption '{other}' is not available yet"
        )),
    }
}

fn parse_alg(a: &ChecksumAlgorithm) -> S3Result<Alg> {
    Alg::parse(a.as_str()).ok_or_else(|| s3_error!(InvalidRequest, "Checksum algorithm provided is unsupported."))
}

fn parse_content_md5(v: Option<&String>) -> S3Result<Option<[u8; 16]>> {
    let Some(v) = v else { return Ok(None) };
    let raw =
        B64.decode(v.trim()).map_err(|_| s3_error!(InvalidDigest, "The Content-MD5 you specified is not valid."))?;
    let raw: [u8; 16] =
        raw.try_into().map_err(|_| s3_error!(InvalidDigest, "The Content-MD5 you specified is not valid."))?;
    Ok(Some(raw))
}

/// The flexible checksum a write carries: a header value, a trailer, or nothing (then tarn
/// computes CRC64NVME, as S3 does for objects uploaded without one).
fn checksum_input(
    headers: &HeaderMap,
    trailing: Option<&s3s::TrailingHeaders>,
    algorithm: Option<&ChecksumAlgorithm>,
    values: [(Alg, Option<&String>); 5],
    default: Option<Alg>,
) -> S3Result<Option<ChecksumInput>> {
    let sent: Vec<_> = values.iter().filter_map(|(a, v)| v.map(|v| (*a, v.clone()))).collect();
    if sent.len() > 1 {
        return Err(s3_error!(
            InvalidRequest,
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
        ));
    }
    if let Some((alg, value)) = sent.into_iter().next() {
        return Ok(Some(ChecksumInput::Header(alg, value)));
    }
    if let Some(trailer) = headers.get("x-amz-trailer").and_then(|v| v.to_str().ok()) {
        let name = trailer.trim().to_ascii_lowercase();
        if let Some(alg) = name.strip_prefix("x-amz-checksum-").and_then(Alg::parse) {
            let handle = trailing.cloned();
            let header = alg.header_name();
            let read = move || {
                handle.and_then(|h| {
                    h.read(|map| map.get(&header).and_then(|v| v.to_str().ok()).map(str::to_string)).flatten()
                })
            };
            return Ok(Some(ChecksumInput::Trailer(alg, Box::new(read))));
        }
        return Err(s3_error!(InvalidRequest, "The value specified in the x-amz-trailer header is not supported"));
    }
    if let Some(a) = algorithm {
        return Ok(Some(ChecksumInput::Compute(parse_alg(a)?)));
    }
    Ok(default.map(ChecksumInput::Compute))
}

#[allow(clippy::too_many_arguments)]
fn meta_from(
    content_type: Option<ContentType>,
    content_encoding: Option<ContentEncoding>,
    content_disposition: Option<ContentDisposition>,
    content_language: Option<ContentLanguage>,
    cache_control: Option<CacheControl>,
    expires: Option<Timestamp>,
    website_redirect_location: Option<WebsiteRedirectLocation>,
    storage_class: Option<StorageClass>,
    metadata: Option<Metadata>,
) -> S3Result<ObjectMeta> {
    if let Some(class) = &storage_class
        && !matches!(
            class.as_str(),
            "STANDARD"
                | "REDUCED_REDUNDANCY"
                | "STANDARD_IA"
                | "ONEZONE_IA"
                | "INTELLIGENT_TIERING"
                | "GLACIER"
                | "DEEP_ARCHIVE"
                | "GLACIER_IR"
        )
    {
        return Err(s3_error!(InvalidStorageClass, "The storage class you specified is not valid"));
    }
    let mut user: Vec<(String, String)> =
        metadata.unwrap_or_default().into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect();
    user.sort();
    Ok(ObjectMeta {
        content_type: content_type.map(|c| c.to_string()),
        content_encoding,
        content_disposition,
        content_language,
        cache_control,
        expires: expires.map(|t| http_date(i64::try_from(OffsetDateTime::from(t).unix_timestamp_nanos()).unwrap_or(0))),
        website_redirect_location,
        storage_class: storage_class.map(|c| c.as_str().to_string()).filter(|c| c != "STANDARD"),
        user,
    })
}

fn user_metadata(meta: &ObjectMeta) -> Option<Metadata> {
    if meta.user.is_empty() {
        return None;
    }
    Some(meta.user.iter().cloned().collect())
}

fn storage_class_of(meta: &ObjectMeta) -> String {
    meta.storage_class.clone().unwrap_or_else(|| "STANDARD".to_string())
}

struct OutChecksums {
    crc32: Option<String>,
    crc32c: Option<String>,
    crc64nvme: Option<String>,
    sha1: Option<String>,
    sha256: Option<String>,
    kind: Option<ChecksumType>,
}

fn out_checksums(c: Option<&cks::Checksum>) -> OutChecksums {
    let mut out = OutChecksums { crc32: None, crc32c: None, crc64nvme: None, sha1: None, sha256: None, kind: None };
    if let Some(c) = c {
        let v = Some(c.value.clone());
        match c.algorithm {
            Alg::Crc32 => out.crc32 = v,
            Alg::Crc32c => out.crc32c = v,
            Alg::Crc64Nvme => out.crc64nvme = v,
            Alg::Sha1 => out.sha1 = v,
            Alg::Sha256 => out.sha256 = v,
        }
        out.kind = Some(ChecksumType::from(c.kind.as_str().to_string()));
    }
    out
}

/// The headers GET and HEAD share, computed once from the version and the request.
struct ObjectHeaders {
    content_length: Option<i64>,
    content_range: Option<String>,
    content_type: Option<ContentType>,
    content_encoding: Option<String>,
    content_disposition: Option<String>,
    content_language: Option<String>,
    cache_control: Option<String>,
    expires: Option<Timestamp>,
    e_tag: Option<ETag>,
    last_modified: Option<Timestamp>,
    metadata: Option<Metadata>,
    version_id: Option<String>,
    storage_class: Option<StorageClass>,
    website_redirect_location: Option<String>,
    parts_count: Option<i32>,
    checksums: OutChecksums,
}

impl ObjectHeaders {
    fn new(
        rec: &ObjectRecord,
        range: Option<(u64, u64)>,
        part_number: Option<i32>,
        mode: Option<&ChecksumMode>,
    ) -> Self {
        let (start, end) = range.unwrap_or((0, rec.size));
        let meta = &rec.meta;
        // whole-object checksums describe whole objects only
        let checksums = if range.is_none() && mode.is_some_and(|m| m.as_str() == "ENABLED") {
            out_checksums(rec.checksum.as_ref())
        } else {
            out_checksums(None)
        };
        Self {
            content_length: i64::try_from(end - start).ok(),
            content_range: range.map(|(s, e)| {
                if e > s { format!("bytes {s}-{}/{}", e - 1, rec.size) } else { format!("bytes */{}", rec.size) }
            }),
            content_type: meta.content_type.as_deref().and_then(|c| c.parse().ok()),
            content_encoding: meta.content_encoding.clone(),
            content_disposition: meta.content_disposition.clone(),
            content_language: meta.content_language.clone(),
            cache_control: meta.cache_control.clone(),
            expires: meta.expires.as_deref().and_then(|e| Timestamp::parse(TimestampFormat::HttpDate, e).ok()),
            e_tag: Some(etag_of(&rec.etag)),
            last_modified: Some(timestamp(rec.last_modified_ns)),
            metadata: user_metadata(meta),
            version_id: rec.version_id.clone(),
            storage_class: meta.storage_class.clone().map(StorageClass::from),
            website_redirect_location: meta.website_redirect_location.clone(),
            parts_count: (part_number.is_some() && !rec.part_sizes.is_empty())
                .then(|| i32::try_from(rec.part_sizes.len()).unwrap_or(i32::MAX)),
            checksums,
        }
    }
}

/// Builds a GetObjectOutput or HeadObjectOutput (same field names) from [`ObjectHeaders`].
macro_rules! object_output {
    ($ty:ident, $h:expr) => {{
        let h = $h;
        $ty {
            accept_ranges: Some("bytes".into()),
            content_length: h.content_length,
            content_range: h.content_range,
            content_type: h.content_type,
            content_encoding: h.content_encoding,
            content_disposition: h.content_disposition,
            content_language: h.content_language,
            cache_control: h.cache_control,
            expires: h.expires,
            e_tag: h.e_tag,
            last_modified: h.last_modified,
            metadata: h.metadata,
            version_id: h.version_id,
            server_side_encryption: sse(),
            storage_class: h.storage_class,
            website_redirect_location: h.website_redirect_location,
            parts_count: h.parts_count,
            checksum_crc32: h.checksums.crc32,
            checksum_crc32c: h.checksums.crc32c,
            checksum_crc64nvme: h.checksums.crc64nvme,
            checksum_sha1: h.checksums.sha1,
            checksum_sha256: h.checksums.sha256,
            checksum_type: h.checksums.kind,
            ..Default::default()
        }
    }};
}

/// 206 for a range or part read.
fn partial<T>(mut resp: S3Response<T>, range: Option<(u64, u64)>) -> S3Response<T> {
    if range.is_some() {
        resp.status = Some(http::StatusCode::PARTIAL_CONTENT);
    }
    resp
}

/// Evaluates GET/HEAD preconditions in the order RFC 7232 and S3 use.
fn check_read_conditions(
    rec: &ObjectRecord,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    if_modified_since: Option<&Timestamp>,
    if_unmodified_since: Option<&Timestamp>,
) -> S3Result<()> {
    let modified_s = rec.last_modified_ns.div_euclid(1_000_000_000);
    if let Some(c) = if_match {
        if !etag_matches(&condition_str(c), &rec.etag) {
            return Err(err(tarn_objects::ObjectsError::PreconditionFailed));
        }
    } else if let Some(t) = if_unmodified_since
        && modified_s > seconds(t)
    {
        return Err(err(tarn_objects::ObjectsError::PreconditionFailed));
    }
    if let Some(c) = if_none_match {
        if etag_matches(&condition_str(c), &rec.etag) {
            return Err(err(tarn_objects::ObjectsError::NotModified(Box::new(rec.clone()))));
        }
    } else if let Some(t) = if_modified_since
        && modified_s <= seconds(t)
    {
        return Err(err(tarn_objects::ObjectsError::NotModified(Box::new(rec.clone()))));
    }
    Ok(())
}

/// Copy-source preconditions answer 412 whichever fails.
fn check_copy_conditions(
    rec: &ObjectRecord,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    if_modified_since: Option<&Timestamp>,
    if_unmodified_since: Option<&Timestamp>,
) -> S3Result<()> {
    check_read_conditions(rec, if_match, if_none_match, if_modified_since, if_unmodified_since).map_err(|e| {
        if *e.code() == S3ErrorCode::NotModified { err(tarn_objects::ObjectsError::PreconditionFailed) } else { e }
    })
}

/// Byte range `[start, end)` for a Range header or a partNumber.
fn resolve_range(rec: &ObjectRecord, range: Option<&Range>, part_number: Option<i32>) -> S3Result<Option<(u64, u64)>> {
    if let Some(n) = part_number {
        if range.is_some() {
            return Err(s3_error!(InvalidRequest, "Cannot specify both Range header and partNumber query parameter"));
        }
        let parts = rec.part_sizes.len().max(1);
        let idx = usize::try_from(n - 1).ok().filter(|&i| i < parts).ok_or_else(|| {
            let mut e = S3Error::with_message(
                S3ErrorCode::Custom("InvalidPartNumber".into()),
                "The requested partnumber is not satisfiable",
            );
            e.set_status_code(http::StatusCode::RANGE_NOT_SATISFIABLE);
            e
        })?;
        if rec.part_sizes.is_empty() {
            return Ok(None);
        }
        let start: u64 = rec.part_sizes[..idx].iter().sum();
        return Ok(Some((start, start + rec.part_sizes[idx])));
    }
    let Some(range) = range else { return Ok(None) };
    match range.check(rec.size) {
        Ok(r) => Ok(Some((r.start, r.end))),
        Err(_) => Err(err(tarn_objects::ObjectsError::InvalidRange { size: rec.size })),
    }
}

fn parse_copy_source(src: &CopySource) -> S3Result<(String, String, GetTarget)> {
    match src {
        CopySource::Bucket { bucket, key, version_id } => {
            Ok((bucket.to_string(), key.to_string(), GetTarget::from_version_id(version_id.as_deref())))
        }
        _ => Err(s3_error!(InvalidArgument, "access point and outpost copy sources are not supported")),
    }
}

fn parse_copy_range(v: &str, size: u64) -> S3Result<(u64, u64)> {
    let bad = || {
        s3_error!(
            InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy"
        )
    };
    let rest = v.strip_prefix("bytes=").ok_or_else(bad)?;
    let (a, b) = rest.split_once('-').ok_or_else(bad)?;
    let first: u64 = a.parse().map_err(|_| bad())?;
    let last: u64 = b.parse().map_err(|_| bad())?;
    if first > last || last >= size {
        return Err(s3_error!(InvalidArgument, "Range specified is not valid for source object of size: {size}"));
    }
    Ok((first, last + 1))
}

const URL_SAFE: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/');

fn enc(url: bool, s: String) -> String {
    if url { percent_encoding::utf8_percent_encode(&s, URL_SAFE).to_string() } else { s }
}

fn max_keys(v: Option<i32>) -> S3Result<usize> {
    match v {
        None => Ok(limits::LIST_PAGE_SIZE_MAX),
        Some(n) if n < 0 => Err(s3_error!(InvalidArgument, "max-keys cannot be negative")),
        Some(n) => Ok(usize::try_from(n).unwrap_or(0).min(limits::LIST_PAGE_SIZE_MAX)),
    }
}

fn url_encoding(e: Option<&EncodingType>) -> S3Result<bool> {
    match e.map(EncodingType::as_str) {
        None => Ok(false),
        Some("url") => Ok(true),
        Some(_) => Err(s3_error!(InvalidArgument, "Invalid Encoding Method specified in Request")),
    }
}

fn sync_body<S>(stream: S) -> StreamingBlob
where
    S: futures::Stream<Item = Result<bytes::Bytes, tarn_store::StoreError>> + Send + 'static,
{
    StreamingBlob::wrap(sync_wrapper::SyncStream::new(stream))
}

fn body_stream(blob: Option<StreamingBlob>) -> tarn_objects::BodyStream {
    match blob {
        Some(b) => Box::pin(b),
        None => Box::pin(futures::stream::empty()),
    }
}

fn put_outcome_checksums(o: &PutOutcome) -> OutChecksums {
    out_checksums(o.checksum.as_ref())
}

#[async_trait::async_trait]
impl S3 for TarnS3 {
    async fn create_bucket(&self, req: S3Request<CreateBucketInput>) -> S3Result<S3Response<CreateBucketOutput>> {
        let input = req.input;
        if let Some(constraint) =
            input.create_bucket_configuration.as_ref().and_then(|c| c.location_constraint.as_ref())
            && constraint.as_str() != self.objects.region()
        {
            return Err(s3_error!(
                IllegalLocationConstraintException,
                "The {} location constraint is incompatible for the region specific endpoint this request was sent to.",
                constraint.as_str()
            ));
        }
        self.objects.create_bucket(&input.bucket).await.map_err(err)?;
        Ok(S3Response::new(CreateBucketOutput { location: Some(format!("/{}", input.bucket)) }))
    }

    async fn head_bucket(&self, req: S3Request<HeadBucketInput>) -> S3Result<S3Response<HeadBucketOutput>> {
        let b = self.objects.bucket(&req.input.bucket).map_err(err)?;
        Ok(S3Response::new(HeadBucketOutput { bucket_region: Some(b.region), ..Default::default() }))
    }

    async fn delete_bucket(&self, req: S3Request<DeleteBucketInput>) -> S3Result<S3Response<DeleteBucketOutput>> {
        self.objects.delete_bucket(&req.input.bucket).await.map_err(err)?;
        Ok(S3Response::new(DeleteBucketOutput {}))
    }

    async fn list_buckets(&self, req: S3Request<ListBucketsInput>) -> S3Result<S3Response<ListBucketsOutput>> {
        let prefix = req.input.prefix.clone();
        let buckets = self
            .objects
            .list_buckets()
            .map_err(err)?
            .into_iter()
            .filter(|b| prefix.as_deref().is_none_or(|p| b.name.starts_with(p)))
            .map(|b| Bucket {
                bucket_region: Some(b.region),
                creation_date: Some(timestamp(b.created_ns)),
                name: Some(b.name),
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            owner: Some(self.owner()),
            prefix,
            ..Default::default()
        }))
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        let b = self.objects.bucket(&req.input.bucket).map_err(err)?;
        // us-east-1 buckets answer an empty LocationConstraint, as S3 does
        let location_constraint = (b.region != "us-east-1").then(|| BucketLocationConstraint::from(b.region));
        Ok(S3Response::new(GetBucketLocationOutput { location_constraint }))
    }

    async fn get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        let b = self.objects.bucket(&req.input.bucket).map_err(err)?;
        let status = match b.versioning {
            Versioning::Unversioned => None,
            Versioning::Enabled => Some(BucketVersioningStatus::from_static(BucketVersioningStatus::ENABLED)),
            Versioning::Suspended => Some(BucketVersioningStatus::from_static(BucketVersioningStatus::SUSPENDED)),
        };
        Ok(S3Response::new(GetBucketVersioningOutput { status, mfa_delete: None }))
    }

    async fn put_bucket_versioning(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> S3Result<S3Response<PutBucketVersioningOutput>> {
        let input = req.input;
        let enabled = match input.versioning_configuration.status.as_ref().map(BucketVersioningStatus::as_str) {
            Some("Enabled") => true,
            Some("Suspended") => false,
            _ => {
                return Err(s3_error!(
                    MalformedXML,
                    "The XML you provided was not well-formed or did not validate against our published schema"
                ));
            }
        };
        self.objects.set_versioning(&input.bucket, enabled).await.map_err(err)?;
        Ok(S3Response::new(PutBucketVersioningOutput {}))
    }

    async fn put_bucket_policy(
        &self,
        req: S3Request<PutBucketPolicyInput>,
    ) -> S3Result<S3Response<PutBucketPolicyOutput>> {
        self.objects.put_bucket_policy(&req.input.bucket, &req.input.policy).await.map_err(err)?;
        Ok(S3Response::new(PutBucketPolicyOutput {}))
    }

    async fn get_bucket_policy(
        &self,
        req: S3Request<GetBucketPolicyInput>,
    ) -> S3Result<S3Response<GetBucketPolicyOutput>> {
        let policy = self.objects.get_bucket_policy(&req.input.bucket).map_err(err)?;
        Ok(S3Response::new(GetBucketPolicyOutput { policy: Some(policy) }))
    }

    async fn delete_bucket_policy(
        &self,
        req: S3Request<DeleteBucketPolicyInput>,
    ) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
        self.objects.delete_bucket_policy(&req.input.bucket).await.map_err(err)?;
        Ok(S3Response::new(DeleteBucketPolicyOutput {}))
    }

    async fn put_object(&self, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        let headers = req.headers;
        let trailing = req.trailing_headers;
        let input = req.input;
        check_sse_request(input.server_side_encryption.as_ref())?;
        let content_md5 = parse_content_md5(input.content_md5.as_ref())?;
        let checksum = checksum_input(
            &headers,
            trailing.as_ref(),
            input.checksum_algorithm.as_ref(),
            [
                (Alg::Crc32, input.checksum_crc32.as_ref()),
                (Alg::Crc32c, input.checksum_crc32c.as_ref()),
                (Alg::Crc64Nvme, input.checksum_crc64nvme.as_ref()),
                (Alg::Sha1, input.checksum_sha1.as_ref()),
                (Alg::Sha256, input.checksum_sha256.as_ref()),
            ],
            Some(Alg::Crc64Nvme),
        )?
        .expect("a default algorithm was given");
        let meta = meta_from(
            input.content_type,
            input.content_encoding,
            input.content_disposition,
            input.content_language,
            input.cache_control,
            input.expires,
            input.website_redirect_location,
            input.storage_class,
            input.metadata,
        )?;
        let declared_len = input.content_length.and_then(|l| u64::try_from(l).ok());
        let conditions = WriteConditions {
            if_none_match_star: match &input.if_none_match {
                Some(ETagCondition::Any) => true,
                Some(_) => return Err(s3_error!(NotImplemented, "If-None-Match on writes accepts only '*'")),
                None => false,
            },
            if_match: input.if_match.as_ref().map(condition_str),
        };
        let outcome = self
            .objects
            .put_object(PutRequest {
                bucket: input.bucket,
                key: input.key,
                meta,
                body: body_stream(input.body),
                declared_len,
                content_md5,
                checksum,
                conditions,
            })
            .await
            .map_err(err)?;
        let c = put_outcome_checksums(&outcome);
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(etag_of(outcome.etag.trim_matches('"'))),
            version_id: outcome.version_id.clone(),
            server_side_encryption: sse(),
            checksum_crc32: c.crc32,
            checksum_crc32c: c.crc32c,
            checksum_crc64nvme: c.crc64nvme,
            checksum_sha1: c.sha1,
            checksum_sha256: c.sha256,
            checksum_type: c.kind,
            size: i64::try_from(outcome.size).ok(),
            ..Default::default()
        }))
    }

    async fn get_object(&self, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        let input = req.input;
        let target = GetTarget::from_version_id(input.version_id.as_deref());
        let found = self.objects.lookup(&input.bucket, &input.key, &target).map_err(err)?;
        let rec = found.record.clone();
        check_read_conditions(
            &rec,
            input.if_match.as_ref(),
            input.if_none_match.as_ref(),
            input.if_modified_since.as_ref(),
            input.if_unmodified_since.as_ref(),
        )?;
        let range = resolve_range(&rec, input.range.as_ref(), input.part_number)?;
        let (start, end) = range.unwrap_or((0, rec.size));
        let stream = self.objects.open_range(&found, start, end).map_err(err)?;
        drop(found);
        let h = ObjectHeaders::new(&rec, range, input.part_number, input.checksum_mode.as_ref());
        let mut output = object_output!(GetObjectOutput, h);
        output.body = Some(sync_body(stream));
        // response-* query parameters override the stored headers, as S3 allows on GET
        output.content_type = input.response_content_type.or(output.content_type);
        output.content_encoding = input.response_content_encoding.or(output.content_encoding);
        output.content_disposition = input.response_content_disposition.or(output.content_disposition);
        output.content_language = input.response_content_language.or(output.content_language);
        output.cache_control = input.response_cache_control.or(output.cache_control);
        output.expires = input.response_expires.or(output.expires);
        Ok(partial(S3Response::new(output), range))
    }

    async fn head_object(&self, req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
        let input = req.input;
        let target = GetTarget::from_version_id(input.version_id.as_deref());
        let found = self.objects.lookup(&input.bucket, &input.key, &target).map_err(err)?;
        let rec = found.record;
        check_read_conditions(
            &rec,
            input.if_match.as_ref(),
            input.if_none_match.as_ref(),
            input.if_modified_since.as_ref(),
            input.if_unmodified_since.as_ref(),
        )?;
        let range = resolve_range(&rec, input.range.as_ref(), input.part_number)?;
        let h = ObjectHeaders::new(&rec, range, input.part_number, input.checksum_mode.as_ref());
        Ok(partial(S3Response::new(object_output!(HeadObjectOutput, h)), range))
    }

    async fn delete_object(&self, req: S3Request<DeleteObjectInput>) -> S3Result<S3Response<DeleteObjectOutput>> {
        let input = req.input;
        let outcome =
            self.objects.delete_object(&input.bucket, &input.key, input.version_id.as_deref()).await.map_err(err)?;
        Ok(S3Response::new(DeleteObjectOutput {
            delete_marker: outcome.delete_marker.then_some(true),
            version_id: outcome.version_id,
            ..Default::default()
        }))
    }

    async fn delete_objects(&self, req: S3Request<DeleteObjectsInput>) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let input = req.input;
        if input.delete.objects.len() > limits::DELETE_OBJECTS_KEYS_MAX {
            return Err(s3_error!(
                MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema"
            ));
        }
        self.objects.bucket(&input.bucket).map_err(err)?;
        let quiet = input.delete.quiet.unwrap_or(false);
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        let principal = format!("arn:aws:iam::{}:root", self.account_id);
        for obj in input.delete.objects {
            // each key is its own DeleteObject(Version) for the bucket policy
            let action = if obj.version_id.is_some() { "s3:DeleteObjectVersion" } else { "s3:DeleteObject" };
            let allowed = self.objects.authorize(&principal, &self.account_id, action, &input.bucket, Some(&obj.key));
            let result = match allowed {
                Ok(()) => self.objects.delete_object(&input.bucket, &obj.key, obj.version_id.as_deref()).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(outcome) => {
                    if !quiet {
                        let (version_id, delete_marker_version_id) = if obj.version_id.is_some() {
                            (obj.version_id.clone(), outcome.delete_marker.then(|| obj.version_id.clone()).flatten())
                        } else {
                            (None, outcome.version_id.clone().filter(|_| outcome.delete_marker))
                        };
                        deleted.push(DeletedObject {
                            key: Some(obj.key),
                            version_id,
                            delete_marker: outcome.delete_marker.then_some(true),
                            delete_marker_version_id,
                        });
                    }
                }
                Err(e) => {
                    let e = to_s3_error(e);
                    errors.push(Error {
                        code: Some(e.code().as_str().to_string()),
                        key: Some(obj.key),
                        message: e.message().map(str::to_string),
                        version_id: obj.version_id,
                    });
                }
            }
        }
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: (!deleted.is_empty()).then_some(deleted),
            errors: (!errors.is_empty()).then_some(errors),
            ..Default::default()
        }))
    }

    async fn copy_object(&self, req: S3Request<CopyObjectInput>) -> S3Result<S3Response<CopyObjectOutput>> {
        let input = req.input;
        check_sse_request(input.server_side_encryption.as_ref())?;
        let (src_bucket, src_key, target) = parse_copy_source(&input.copy_source)?;
        self.authorize_copy_source(&src_bucket, &src_key, matches!(target, GetTarget::Version(_)))?;
        let found: Found = self.objects.lookup(&src_bucket, &src_key, &target).map_err(err)?;
        let rec = found.record.clone();
        check_copy_conditions(
            &rec,
            input.copy_source_if_match.as_ref(),
            input.copy_source_if_none_match.as_ref(),
            input.copy_source_if_modified_since.as_ref(),
            input.copy_source_if_unmodified_since.as_ref(),
        )?;
        if rec.size > limits::PUT_OBJECT_SIZE_MAX {
            return Err(s3_error!(
                InvalidRequest,
                "The specified copy source is larger than the maximum allowable size for a copy source: {}",
                limits::PUT_OBJECT_SIZE_MAX
            ));
        }
        let replace = match input.metadata_directive.as_ref().map(MetadataDirective::as_str) {
            None | Some("COPY") => false,
            Some("REPLACE") => true,
            Some(_) => return Err(s3_error!(InvalidArgument, "Unknown metadata directive.")),
        };
        let storage_changes = input.storage_class.as_ref().is_some_and(|c| c.as_str() != storage_class_of(&rec.meta));
        let checksum_algorithm = input.checksum_algorithm.as_ref().map(parse_alg).transpose()?;
        let same_object = src_bucket == input.bucket && src_key == input.key && matches!(target, GetTarget::Current);
        if same_object
            && !replace
            && !storage_changes
            && checksum_algorithm.is_none()
            && input.website_redirect_location.is_none()
        {
            return Err(s3_error!(
                InvalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
            ));
        }
        let meta = if replace {
            Some(meta_from(
                input.content_type,
                input.content_encoding,
                input.content_disposition,
                input.content_language,
                input.cache_control,
                input.expires,
                input.website_redirect_location,
                input.storage_class,
                input.metadata,
            )?)
        } else if storage_changes || input.website_redirect_location.is_some() {
            let mut m = rec.meta.clone();
            if let Some(c) = input.storage_class {
                m.storage_class = Some(c.as_str().to_string()).filter(|c| c != "STANDARD");
            }
            if let Some(w) = input.website_redirect_location {
                m.website_redirect_location = Some(w);
            }
            Some(m)
        } else {
            None
        };
        let outcome = self
            .objects
            .copy_object(
                DomainCopySource { found },
                input.bucket,
                input.key,
                meta,
                checksum_algorithm,
                WriteConditions::default(),
            )
            .await
            .map_err(err)?;
        let c = put_outcome_checksums(&outcome);
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(etag_of(outcome.etag.trim_matches('"'))),
                last_modified: Some(timestamp(outcome.last_modified_ns)),
                checksum_crc32: c.crc32,
                checksum_crc32c: c.crc32c,
                checksum_crc64nvme: c.crc64nvme,
                checksum_sha1: c.sha1,
                checksum_sha256: c.sha256,
                checksum_type: c.kind,
            }),
            copy_source_version_id: rec.version_id.clone(),
            version_id: outcome.version_id,
            server_side_encryption: sse(),
            ..Default::default()
        }))
    }

    async fn list_objects(&self, req: S3Request<ListObjectsInput>) -> S3Result<S3Response<ListObjectsOutput>> {
        let input = req.input;
        let url = url_encoding(input.encoding_type.as_ref())?;
        let max = max_keys(input.max_keys)?;
        let params = ListParams {
            prefix: input.prefix.clone().unwrap_or_default(),
            delimiter: input.delimiter.clone().filter(|d| !d.is_empty()),
            after: input.marker.clone().filter(|m| !m.is_empty()),
            max_keys: max,
        };
        let page = self.objects.list_objects(&input.bucket, &params).map_err(err)?;
        let contents: Vec<Object> = page.objects.into_iter().map(|o| self.listed(o.key, &o.record, url)).collect();
        let common_prefixes: Vec<CommonPrefix> =
            page.common_prefixes.into_iter().map(|p| CommonPrefix { prefix: Some(enc(url, p)) }).collect();
        // S3 returns NextMarker only when a delimiter is given
        let next_marker = if params.delimiter.is_some() { page.next_marker.map(|m| enc(url, m)) } else { None };
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(input.bucket),
            prefix: Some(enc(url, params.prefix)),
            marker: Some(enc(url, input.marker.unwrap_or_default())),
            max_keys: Some(i32::try_from(max).unwrap_or(1000)),
            is_truncated: Some(page.is_truncated),
            contents: (!contents.is_empty()).then_some(contents),
            common_prefixes: (!common_prefixes.is_empty()).then_some(common_prefixes),
            delimiter: input.delimiter.map(|d| enc(url, d)),
            next_marker,
            encoding_type: input.encoding_type,
            ..Default::default()
        }))
    }

    async fn list_objects_v2(&self, req: S3Request<ListObjectsV2Input>) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = req.input;
        let url = url_encoding(input.encoding_type.as_ref())?;
        let max = max_keys(input.max_keys)?;
        let after = match input.continuation_token.as_deref() {
            Some(token) => {
                let raw = B64.decode(token).ok().and_then(|b| String::from_utf8(b).ok());
                Some(raw.ok_or_else(|| s3_error!(InvalidArgument, "The continuation token provided is incorrect"))?)
            }
            None => input.start_after.clone().filter(|s| !s.is_empty()),
        };
        let params = ListParams {
            prefix: input.prefix.clone().unwrap_or_default(),
            delimiter: input.delimiter.clone().filter(|d| !d.is_empty()),
            after,
            max_keys: max,
        };
        let page = self.objects.list_objects(&input.bucket, &params).map_err(err)?;
        let fetch_owner = input.fetch_owner.unwrap_or(false);
        let contents: Vec<Object> = page
            .objects
            .into_iter()
            .map(|o| {
                let mut obj = self.listed(o.key, &o.record, url);
                if !fetch_owner {
                    obj.owner = None;
                }
                obj
            })
            .collect();
        let common_prefixes: Vec<CommonPrefix> =
            page.common_prefixes.into_iter().map(|p| CommonPrefix { prefix: Some(enc(url, p)) }).collect();
        let key_count = contents.len() + common_prefixes.len();
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: Some(enc(url, params.prefix)),
            max_keys: Some(i32::try_from(max).unwrap_or(1000)),
            key_count: Some(i32::try_from(key_count).unwrap_or(i32::MAX)),
            continuation_token: input.continuation_token,
            is_truncated: Some(page.is_truncated),
            next_continuation_token: page.next_marker.map(|m| B64.encode(m.as_bytes())),
            contents: (!contents.is_empty()).then_some(contents),
            common_prefixes: (!common_prefixes.is_empty()).then_some(common_prefixes),
            delimiter: input.delimiter.map(|d| enc(url, d)),
            encoding_type: input.encoding_type,
            start_after: input.start_after.map(|s| enc(url, s)),
            ..Default::default()
        }))
    }

    async fn list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        let input = req.input;
        let url = url_encoding(input.encoding_type.as_ref())?;
        let max = max_keys(input.max_keys)?;
        let params = VersionsParams {
            prefix: input.prefix.clone().unwrap_or_default(),
            delimiter: input.delimiter.clone().filter(|d| !d.is_empty()),
            key_marker: input.key_marker.clone(),
            version_id_marker: input.version_id_marker.clone(),
            max_keys: max,
        };
        let page = self.objects.list_object_versions(&input.bucket, &params).map_err(err)?;
        let mut versions = Vec::new();
        let mut markers = Vec::new();
        for (key, rec, is_latest) in page.versions {
            if rec.delete_marker {
                markers.push(DeleteMarkerEntry {
                    is_latest: Some(is_latest),
                    key: Some(enc(url, key)),
                    last_modified: Some(timestamp(rec.last_modified_ns)),
                    owner: Some(self.owner()),
                    version_id: Some(rec.version_id_str().to_string()),
                });
            } else {
                versions.push(ObjectVersion {
                    checksum_algorithm: rec
                        .checksum
                        .as_ref()
                        .map(|c| vec![ChecksumAlgorithm::from(c.algorithm.as_str().to_string())]),
                    checksum_type: rec.checksum.as_ref().map(|c| ChecksumType::from(c.kind.as_str().to_string())),
                    e_tag: Some(etag_of(&rec.etag)),
                    is_latest: Some(is_latest),
                    key: Some(enc(url, key)),
                    last_modified: Some(timestamp(rec.last_modified_ns)),
                    owner: Some(self.owner()),
                    size: i64::try_from(rec.size).ok(),
                    storage_class: Some(ObjectVersionStorageClass::from(storage_class_of(&rec.meta))),
                    version_id: Some(rec.version_id_str().to_string()),
                    ..Default::default()
                });
            }
        }
        let common_prefixes: Vec<CommonPrefix> =
            page.common_prefixes.into_iter().map(|p| CommonPrefix { prefix: Some(enc(url, p)) }).collect();
        Ok(S3Response::new(ListObjectVersionsOutput {
            name: Some(input.bucket),
            prefix: Some(enc(url, params.prefix)),
            key_marker: Some(enc(url, input.key_marker.unwrap_or_default())),
            version_id_marker: Some(input.version_id_marker.unwrap_or_default()),
            max_keys: Some(i32::try_from(max).unwrap_or(1000)),
            is_truncated: Some(page.is_truncated),
            next_key_marker: page.next_key_marker.map(|k| enc(url, k)),
            next_version_id_marker: page.next_version_id_marker,
            versions: (!versions.is_empty()).then_some(versions),
            delete_markers: (!markers.is_empty()).then_some(markers),
            common_prefixes: (!common_prefixes.is_empty()).then_some(common_prefixes),
            delimiter: input.delimiter.map(|d| enc(url, d)),
            encoding_type: input.encoding_type,
            ..Default::default()
        }))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let input = req.input;
        check_sse_request(input.server_side_encryption.as_ref())?;
        let algorithm = input.checksum_algorithm.as_ref().map(parse_alg).transpose()?;
        let kind = match input.checksum_type.as_ref().map(ChecksumType::as_str) {
            None => None,
            Some("COMPOSITE") => Some(CkType::Composite),
            Some("FULL_OBJECT") => Some(CkType::FullObject),
            Some(other) => {
                return Err(s3_error!(InvalidRequest, "Value for x-amz-checksum-type header is invalid: {other}"));
            }
        };
        let meta = meta_from(
            input.content_type,
            input.content_encoding,
            input.content_disposition,
            input.content_language,
            input.cache_control,
            input.expires,
            input.website_redirect_location,
            input.storage_class,
            input.metadata,
        )?;
        let upload_id = self
            .objects
            .create_multipart_upload(&input.bucket, &input.key, meta, algorithm, kind)
            .await
            .map_err(err)?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(upload_id),
            server_side_encryption: sse(),
            checksum_algorithm: input.checksum_algorithm,
            checksum_type: input.checksum_type.or_else(|| {
                algorithm.map(|a| {
                    ChecksumType::from(if a == Alg::Crc64Nvme { "FULL_OBJECT" } else { "COMPOSITE" }.to_string())
                })
            }),
            ..Default::default()
        }))
    }

    async fn upload_part(&self, req: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
        let headers = req.headers;
        let trailing = req.trailing_headers;
        let input = req.input;
        let content_md5 = parse_content_md5(input.content_md5.as_ref())?;
        let checksum = checksum_input(
            &headers,
            trailing.as_ref(),
            input.checksum_algorithm.as_ref(),
            [
                (Alg::Crc32, input.checksum_crc32.as_ref()),
                (Alg::Crc32c, input.checksum_crc32c.as_ref()),
                (Alg::Crc64Nvme, input.checksum_crc64nvme.as_ref()),
                (Alg::Sha1, input.checksum_sha1.as_ref()),
                (Alg::Sha256, input.checksum_sha256.as_ref()),
            ],
            None,
        )?;
        let declared_len = input.content_length.and_then(|l| u64::try_from(l).ok());
        let outcome = self
            .objects
            .upload_part(
                &input.bucket,
                &input.key,
                &input.upload_id,
                input.part_number,
                body_stream(input.body),
                declared_len,
                content_md5,
                checksum,
            )
            .await
            .map_err(err)?;
        let c = out_checksums(
            outcome
                .checksum
                .map(|(algorithm, value)| cks::Checksum { algorithm, value, kind: CkType::FullObject })
                .as_ref(),
        );
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(etag_of(outcome.etag.trim_matches('"'))),
            server_side_encryption: sse(),
            checksum_crc32: c.crc32,
            checksum_crc32c: c.crc32c,
            checksum_crc64nvme: c.crc64nvme,
            checksum_sha1: c.sha1,
            checksum_sha256: c.sha256,
            ..Default::default()
        }))
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let input = req.input;
        let (src_bucket, src_key, target) = parse_copy_source(&input.copy_source)?;
        self.authorize_copy_source(&src_bucket, &src_key, matches!(target, GetTarget::Version(_)))?;
        let found = self.objects.lookup(&src_bucket, &src_key, &target).map_err(err)?;
        let rec = found.record.clone();
        check_copy_conditions(
            &rec,
            input.copy_source_if_match.as_ref(),
            input.copy_source_if_none_match.as_ref(),
            input.copy_source_if_modified_since.as_ref(),
            input.copy_source_if_unmodified_since.as_ref(),
        )?;
        let range = input.copy_source_range.as_deref().map(|r| parse_copy_range(r, rec.size)).transpose()?;
        let outcome = self
            .objects
            .upload_part_copy(&input.bucket, &input.key, &input.upload_id, input.part_number, found, range)
            .await
            .map_err(err)?;
        let c = out_checksums(
            outcome
                .checksum
                .map(|(algorithm, value)| cks::Checksum { algorithm, value, kind: CkType::FullObject })
                .as_ref(),
        );
        Ok(S3Response::new(UploadPartCopyOutput {
            copy_part_result: Some(CopyPartResult {
                e_tag: Some(etag_of(outcome.etag.trim_matches('"'))),
                last_modified: Some(timestamp(outcome.last_modified_ns)),
                checksum_crc32: c.crc32,
                checksum_crc32c: c.crc32c,
                checksum_crc64nvme: c.crc64nvme,
                checksum_sha1: c.sha1,
                checksum_sha256: c.sha256,
            }),
            copy_source_version_id: rec.version_id,
            server_side_encryption: sse(),
            ..Default::default()
        }))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let input = req.input;
        let parts = input
            .multipart_upload
            .and_then(|m| m.parts)
            .unwrap_or_default()
            .into_iter()
            .map(|p| tarn_objects::CompletedPart {
                part_number: p.part_number.unwrap_or(0),
                etag: p.e_tag.map(|e| e.value().to_string()).unwrap_or_default(),
                checksum: p
                    .checksum_crc32
                    .or(p.checksum_crc32c)
                    .or(p.checksum_crc64nvme)
                    .or(p.checksum_sha1)
                    .or(p.checksum_sha256),
            })
            .collect();
        let conditions = WriteConditions {
            if_none_match_star: match &input.if_none_match {
                Some(ETagCondition::Any) => true,
                Some(_) => return Err(s3_error!(NotImplemented, "If-None-Match on writes accepts only '*'")),
                None => false,
            },
            if_match: input.if_match.as_ref().map(condition_str),
        };
        let outcome = self
            .objects
            .complete_multipart_upload(&input.bucket, &input.key, &input.upload_id, parts, conditions)
            .await
            .map_err(err)?;
        let c = put_outcome_checksums(&outcome);
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(input.bucket.clone()),
            key: Some(input.key.clone()),
            location: Some(format!("/{}/{}", input.bucket, input.key)),
            e_tag: Some(etag_of(outcome.etag.trim_matches('"'))),
            version_id: outcome.version_id,
            server_side_encryption: sse(),
            checksum_crc32: c.crc32,
            checksum_crc32c: c.crc32c,
            checksum_crc64nvme: c.crc64nvme,
            checksum_sha1: c.sha1,
            checksum_sha256: c.sha256,
            checksum_type: c.kind,
            ..Default::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let input = req.input;
        self.objects.abort_multipart_upload(&input.bucket, &input.key, &input.upload_id).await.map_err(err)?;
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }

    async fn list_parts(&self, req: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
        let input = req.input;
        let max = match input.max_parts {
            None => 1000,
            Some(n) if n < 0 => return Err(s3_error!(InvalidArgument, "max-parts cannot be negative")),
            Some(n) => usize::try_from(n).unwrap_or(0).min(1000),
        };
        let marker = input.part_number_marker.and_then(|m| u32::try_from(m).ok());
        let page = self.objects.list_parts(&input.bucket, &input.key, &input.upload_id, marker, max).map_err(err)?;
        let parts: Vec<Part> = page
            .parts
            .into_iter()
            .map(|(n, p)| {
                let alg_value = p
                    .checksum
                    .as_deref()
                    .and_then(|c| c.split_once(':'))
                    .and_then(|(a, v)| Alg::parse(a).map(|a| (a, v.to_string())));
                let c = out_checksums(
                    alg_value
                        .map(|(algorithm, value)| cks::Checksum { algorithm, value, kind: CkType::FullObject })
                        .as_ref(),
                );
                Part {
                    e_tag: Some(etag_of(&p.etag)),
                    last_modified: Some(timestamp(p.last_modified_ns)),
                    part_number: i32::try_from(n).ok(),
                    size: i64::try_from(p.size).ok(),
                    checksum_crc32: c.crc32,
                    checksum_crc32c: c.crc32c,
                    checksum_crc64nvme: c.crc64nvme,
                    checksum_sha1: c.sha1,
                    checksum_sha256: c.sha256,
                }
            })
            .collect();
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(input.upload_id),
            max_parts: Some(i32::try_from(max).unwrap_or(1000)),
            part_number_marker: input.part_number_marker,
            next_part_number_marker: page.next_part_number_marker.and_then(|n| i32::try_from(n).ok()),
            is_truncated: Some(page.is_truncated),
            parts: (!parts.is_empty()).then_some(parts),
            owner: Some(self.owner()),
            initiator: Some(Initiator { display_name: Some("tarn".into()), id: Some(self.owner_id.clone()) }),
            storage_class: Some(StorageClass::from(storage_class_of(&page.upload.meta))),
            checksum_algorithm: page.upload.checksum_algorithm.map(|a| ChecksumAlgorithm::from(a.as_str().to_string())),
            checksum_type: page.upload.checksum_type.map(|k| ChecksumType::from(k.as_str().to_string())),
            ..Default::default()
        }))
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let input = req.input;
        let url = url_encoding(input.encoding_type.as_ref())?;
        let max = max_keys(input.max_uploads)?;
        let prefix = input.prefix.clone().unwrap_or_default();
        let page = self
            .objects
            .list_multipart_uploads(
                &input.bucket,
                &prefix,
                input.delimiter.as_deref(),
                input.key_marker.as_deref(),
                input.upload_id_marker.as_deref(),
                max,
            )
            .map_err(err)?;
        let uploads: Vec<MultipartUpload> = page
            .uploads
            .into_iter()
            .map(|u| MultipartUpload {
                key: Some(enc(url, u.key)),
                upload_id: Some(u.upload_id),
                initiated: Some(timestamp(u.upload.initiated_ns)),
                initiator: Some(Initiator { display_name: Some("tarn".into()), id: Some(self.owner_id.clone()) }),
                owner: Some(self.owner()),
                storage_class: Some(StorageClass::from(storage_class_of(&u.upload.meta))),
                checksum_algorithm: u
                    .upload
                    .checksum_algorithm
                    .map(|a| ChecksumAlgorithm::from(a.as_str().to_string())),
                checksum_type: u.upload.checksum_type.map(|k| ChecksumType::from(k.as_str().to_string())),
            })
            .collect();
        let common_prefixes: Vec<CommonPrefix> =
            page.common_prefixes.into_iter().map(|p| CommonPrefix { prefix: Some(enc(url, p)) }).collect();
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(input.bucket),
            prefix: Some(enc(url, prefix)),
            delimiter: input.delimiter.map(|d| enc(url, d)),
            key_marker: Some(enc(url, input.key_marker.unwrap_or_default())),
            upload_id_marker: Some(input.upload_id_marker.unwrap_or_default()),
            next_key_marker: page.next_key_marker.map(|k| enc(url, k)),
            next_upload_id_marker: page.next_upload_id_marker,
            max_uploads: Some(i32::try_from(max).unwrap_or(1000)),
            is_truncated: Some(page.is_truncated),
            uploads: (!uploads.is_empty()).then_some(uploads),
            common_prefixes: (!common_prefixes.is_empty()).then_some(common_prefixes),
            encoding_type: input.encoding_type,
            ..Default::default()
        }))
    }
}

impl TarnS3 {
    fn listed(&self, key: String, rec: &ObjectRecord, url: bool) -> Object {
        Object {
            checksum_algorithm: rec
                .checksum
                .as_ref()
                .map(|c| vec![ChecksumAlgorithm::from(c.algorithm.as_str().to_string())]),
            checksum_type: rec.checksum.as_ref().map(|c| ChecksumType::from(c.kind.as_str().to_string())),
            e_tag: Some(etag_of(&rec.etag)),
            key: Some(enc(url, key)),
            last_modified: Some(timestamp(rec.last_modified_ns)),
            owner: Some(self.owner()),
            size: i64::try_from(rec.size).ok(),
            storage_class: Some(ObjectStorageClass::from(storage_class_of(&rec.meta))),
            ..Default::default()
        }
    }
}
