//! The S3 API: s3s parses and serializes the wire; this maps each operation onto `tarn-objects`,
//! one module per resource (`buckets`, `objects`, `listing`, `multipart`) and one for the
//! domain errors' S3 codes (`errors`); the helpers they share live here.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http::HeaderMap;
use s3s::dto::*;
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};
use tarn_common::limits::s3 as limits;
use tarn_objects::checksum::{self as cks, ChecksumAlgorithm as Alg, ChecksumType as CkType};
use tarn_objects::{
    ChecksumInput, CopySource as DomainCopySource, Found, GetTarget, ListParams, ObjectMeta, ObjectRecord, Objects,
    PutOutcome, PutRequest, Sse, SseRequest, Versioning, VersionsParams, WriteConditions, etag_matches,
};
use time::OffsetDateTime;

/// The customer key (SSE-C) an input's `sse_customer_*` members name, checked.
macro_rules! customer_key {
    ($input:expr) => {
        customer_key(
            $input.sse_customer_algorithm.as_ref(),
            $input.sse_customer_key.as_ref(),
            $input.sse_customer_key_md5.as_ref(),
        )
    };
}

/// The customer key a copy's source needs (`copy_source_sse_customer_*`), checked.
macro_rules! copy_source_customer_key {
    ($input:expr) => {
        customer_key(
            $input.copy_source_sse_customer_algorithm.as_ref(),
            $input.copy_source_sse_customer_key.as_ref(),
            $input.copy_source_sse_customer_key_md5.as_ref(),
        )
    };
}

/// The encryption a write's input asks for: its SSE headers, or SSE-C's (PutObject, CopyObject,
/// CreateMultipartUpload).
macro_rules! write_sse {
    ($s3:expr, $req:expr, $input:expr) => {
        with_customer_key(
            $s3.write_sse(
                &$req.extensions,
                &$input.bucket,
                $input.server_side_encryption.as_ref(),
                $input.ssekms_key_id.as_ref(),
                $input.ssekms_encryption_context.as_ref(),
                $input.bucket_key_enabled,
            )?,
            customer_key!($input)?,
        )
    };
}

mod acl;
mod buckets;
mod errors;
mod listing;
mod multipart;
mod objects;

use errors::to_s3_error;

/// The S3 service over the object store.
pub struct TarnS3 {
    objects: Objects,
    owner_id: String,
    gate: crate::authz::Gate,
}

impl TarnS3 {
    #[must_use]
    pub fn new(objects: Objects, gate: crate::authz::Gate) -> Self {
        let owner_id = format!("{:0>64}", gate.iam.account_id());
        Self { objects, owner_id, gate }
    }

    /// Whether the request's caller (left in its extensions by the access hook) may do
    /// `action` on the bucket or one of its objects: the one authorizer, with the bucket's
    /// policy.
    fn allowed(&self, ext: &http::Extensions, action: &str, bucket: &str, key: Option<&str>) -> S3Result<()> {
        let Some(caller) = ext.get::<std::sync::Arc<crate::S3Caller>>() else {
            return Err(s3_error!(AccessDenied, "Access Denied"));
        };
        self.gate
            .s3(&caller.principal, action, bucket, key, &caller.context)
            .map_err(|_| s3_error!(AccessDenied, "Access Denied"))
    }

    /// A copy reads its source: the caller needs s3:GetObject on it.
    fn authorize_copy_source(&self, ext: &http::Extensions, bucket: &str, key: &str, versioned: bool) -> S3Result<()> {
        let action = if versioned { "s3:GetObjectVersion" } else { "s3:GetObject" };
        self.allowed(ext, action, bucket, Some(key))
    }

    fn caller(ext: &http::Extensions) -> Option<&crate::S3Caller> {
        ext.get::<std::sync::Arc<crate::S3Caller>>().map(std::convert::AsRef::as_ref)
    }

    /// What a write of `bucket` asks for, from its headers (the bucket's default bucket-key
    /// switch applies to an SSE-KMS request that does not say).
    fn write_sse(
        &self,
        ext: &http::Extensions,
        bucket: &str,
        algorithm: Option<&ServerSideEncryption>,
        kms_key_id: Option<&String>,
        context: Option<&String>,
        bucket_key: Option<bool>,
    ) -> S3Result<SseRequest> {
        let account = Self::caller(ext).map(|c| c.principal.account_id.clone()).unwrap_or_default();
        let default_bucket_key = bucket_key.is_none()
            && algorithm.is_some()
            && self.objects.bucket_encryption(bucket).is_ok_and(|d| d.algorithm.starts_with("aws:kms") && d.bucket_key);
        sse_request(&account, default_bucket_key, algorithm, kms_key_id, context, bucket_key)
    }

    /// Resolves what a write of `bucket/key` will be sealed with and, for a KMS key, asks
    /// whether the caller may have a data key made under it (kms:GenerateDataKey).
    async fn resolve_write_sse(
        &self,
        ext: &http::Extensions,
        bucket: &str,
        key: &str,
        request: SseRequest,
    ) -> S3Result<SseRequest> {
        let resolved = self.objects.resolve_sse(bucket, request).await.map_err(err)?;
        if let SseRequest::Kms { key: Some(arn), context, bucket_key, .. } = &resolved {
            let mut context = context.clone();
            let object = (!bucket_key).then_some(key);
            context.insert(tarn_objects::S3_ARN_CONTEXT.into(), tarn_objects::s3_arn(bucket, object));
            // with a bucket key, S3 asks KMS once per bucket key, not per object: not recorded
            self.allowed_key(ext, "GenerateDataKey", arn, &context, !bucket_key)?;
        }
        Ok(resolved)
    }

    /// Reading a stored SSE-KMS object (or writing a part of an SSE-KMS upload) opens its
    /// data key: the caller needs kms:Decrypt on its key, and a signature.
    fn allowed_to_open(&self, ext: &http::Extensions, sse: &Sse) -> S3Result<()> {
        let Sse::Kms(k) = sse else { return Ok(()) };
        let anonymous = Self::caller(ext).is_none_or(|c| c.principal.identity == tarn_iam::Identity::Anonymous);
        if anonymous {
            return Err(s3_error!(
                InvalidArgument,
                "Requests specifying Server Side Encryption with AWS KMS managed keys require AWS Signature Version 4."
            ));
        }
        let context = k.context.iter().cloned().collect();
        self.allowed_key(ext, "Decrypt", &k.key_arn, &context, k.bucket_key.is_none())
    }

    /// Whether the caller may do `kms:<operation>` with the key `arn` (its policies, the key
    /// policy, grants under `context`): S3 answers a refusal 403 AccessDenied.
    /// An allowed use is noted for the call's audit record (`record`) as the KMS call S3 makes.
    fn allowed_key(
        &self,
        ext: &http::Extensions,
        operation: &'static str,
        arn: &str,
        context: &std::collections::BTreeMap<String, String>,
        record: bool,
    ) -> S3Result<()> {
        let Some(caller) = Self::caller(ext) else {
            return Err(s3_error!(AccessDenied, "Access Denied"));
        };
        if !self.gate.iam.is_home_root(&caller.principal) {
            let account = arn.split(':').nth(4).unwrap_or_default();
            let Some(key) = self.gate.key_access(account, arn) else {
                return Err(errors::kms_error(&tarn_kms::KmsError::NotFound(format!("Key '{arn}' does not exist"))));
            };
            self.gate
                .key(&caller.principal, &format!("kms:{operation}"), operation, &key, &caller.context, context)
                .map_err(|d| S3Error::with_message(S3ErrorCode::AccessDenied, d.message))?;
        }
        if record {
            crate::audit::AuditSlot::note(ext, |n| {
                n.key_uses.push(crate::audit::KeyUse { operation, key_arn: arn.to_string(), context: context.clone() });
            });
        }
        Ok(())
    }

    fn owner(&self) -> Owner {
        Owner { display_name: Some("tarn".into()), id: Some(self.owner_id.clone()) }
    }

    /// The canonical owner of `account`'s resources.
    fn owner_of(&self, account: &str) -> Owner {
        if account == self.gate.iam.account_id() {
            return self.owner();
        }
        Owner { display_name: Some("tarn".into()), id: Some(format!("{account:0>64}")) }
    }

    /// The account of the request's caller (left in its extensions by the access hook).
    fn caller_account(&self, ext: &http::Extensions) -> Option<String> {
        ext.get::<std::sync::Arc<crate::S3Caller>>().map(|c| c.principal.account_id.clone()).filter(|a| !a.is_empty())
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

/// The encryption headers a stored object (or upload) answers with.
#[derive(Default)]
struct SseOut {
    algorithm: Option<ServerSideEncryption>,
    kms_key_id: Option<String>,
    bucket_key: Option<bool>,
    context: Option<String>,
    customer_algorithm: Option<String>,
    customer_key_md5: Option<String>,
}

impl SseOut {
    fn of(sse: &Sse) -> Self {
        let mut out =
            Self { algorithm: Some(ServerSideEncryption::from(sse.algorithm().to_string())), ..Self::default() };
        match sse {
            Sse::S3 => {}
            Sse::Kms(k) => {
                out.kms_key_id = Some(k.key_arn.clone());
                out.bucket_key = k.bucket_key.is_some().then_some(true);
                let context: serde_json::Map<String, serde_json::Value> =
                    k.context.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
                out.context = Some(B64.encode(serde_json::Value::Object(context).to_string()));
            }
            Sse::Customer(c) => {
                // an SSE-C object reports the customer's algorithm, not x-amz-server-side-encryption
                out.algorithm = None;
                out.customer_algorithm = Some("AES256".into());
                out.customer_key_md5 = Some(c.key_md5.clone());
            }
        }
        out
    }
}

/// The encryption a write's headers ask for (`x-amz-server-side-encryption`, its KMS key,
/// context and bucket-key switch); none named: the bucket's default.
fn sse_request(
    account: &str,
    default_bucket_key: bool,
    algorithm: Option<&ServerSideEncryption>,
    kms_key_id: Option<&String>,
    context: Option<&String>,
    bucket_key: Option<bool>,
) -> S3Result<SseRequest> {
    let algorithm = algorithm.map(ServerSideEncryption::as_str);
    if !matches!(algorithm, Some("aws:kms" | "aws:kms:dsse")) && (kms_key_id.is_some() || context.is_some()) {
        return Err(s3_error!(
            InvalidArgument,
            "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms"
        ));
    }
    match algorithm {
        None => Ok(SseRequest::BucketDefault),
        Some("AES256") => Ok(SseRequest::S3),
        Some(kms @ ("aws:kms" | "aws:kms:dsse")) => {
            let context = match context {
                None => std::collections::BTreeMap::new(),
                Some(text) => parse_kms_context(text)?,
            };
            if account.is_empty() {
                return Err(s3_error!(
                    InvalidArgument,
                    "Requests specifying Server Side Encryption with AWS KMS managed keys require AWS Signature Version 4."
                ));
            }
            Ok(SseRequest::Kms {
                account: account.to_string(),
                key: kms_key_id.filter(|k| !k.is_empty()).cloned(),
                context,
                bucket_key: bucket_key.unwrap_or(default_bucket_key),
                dsse: kms == "aws:kms:dsse",
            })
        }
        Some(_) => Err(s3_error!(InvalidArgument, "The encryption method specified is not supported")),
    }
}

/// The customer's key an SSE-C request names (`x-amz-server-side-encryption-customer-*`, or the
/// copy source's), checked as S3 checks it: AES256, 32 bytes, the MD5 the client computed.
fn customer_key(
    algorithm: Option<&String>,
    key: Option<&String>,
    key_md5: Option<&String>,
) -> S3Result<Option<tarn_objects::CustomerKey>> {
    use md5::Digest as _;
    if algorithm.is_none() && key.is_none() && key_md5.is_none() {
        return Ok(None);
    }
    let Some(algorithm) = algorithm else {
        return Err(s3_error!(
            InvalidArgument,
            "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm."
        ));
    };
    if algorithm != "AES256" {
        let mut e = S3Error::with_message(
            S3ErrorCode::Custom("InvalidEncryptionAlgorithmError".into()),
            "The Encryption request you specified is not valid. Supported value: AES256.".to_string(),
        );
        e.set_status_code(http::StatusCode::BAD_REQUEST);
        return Err(e);
    }
    let Some(key) = key else {
        return Err(s3_error!(
            InvalidArgument,
            "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key."
        ));
    };
    let bytes = B64
        .decode(key.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        .ok_or_else(|| s3_error!(InvalidArgument, "The secret key was invalid for the specified algorithm."))?;
    let Some(key_md5) = key_md5 else {
        return Err(s3_error!(
            InvalidArgument,
            "Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key."
        ));
    };
    let computed = B64.encode(md5::Md5::digest(bytes));
    if key_md5.trim() != computed {
        return Err(s3_error!(
            InvalidArgument,
            "The calculated MD5 hash of the key did not match the hash that was provided."
        ));
    }
    Ok(Some(tarn_objects::CustomerKey { key: bytes, key_md5: computed }))
}

/// A write naming a customer's key: SSE-C, which no other encryption header may accompany.
fn with_customer_key(request: SseRequest, customer: Option<tarn_objects::CustomerKey>) -> S3Result<SseRequest> {
    match (customer, request) {
        (None, request) => Ok(request),
        (Some(c), SseRequest::BucketDefault) => Ok(SseRequest::Customer(c)),
        (Some(_), _) => Err(s3_error!(
            InvalidArgument,
            "Server Side Encryption with Customer provided key is incompatible with the encryption method specified"
        )),
    }
}

/// `x-amz-server-side-encryption-context`: base64 of a JSON object of strings.
fn parse_kms_context(text: &str) -> S3Result<std::collections::BTreeMap<String, String>> {
    let bad = || {
        s3_error!(
            InvalidArgument,
            "The header 'x-amz-server-side-encryption-context' shall be Base64-encoded UTF-8 string holding JSON which represents a string-string map"
        )
    };
    let bytes = B64.decode(text.trim()).map_err(|_| bad())?;
    serde_json::from_slice::<std::collections::BTreeMap<String, String>>(&bytes).map_err(|_| bad())
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
    sse: SseOut,
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
            sse: SseOut::of(&rec.sse),
        }
    }
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
        buckets::create_bucket(self, req).await
    }

    async fn head_bucket(&self, req: S3Request<HeadBucketInput>) -> S3Result<S3Response<HeadBucketOutput>> {
        buckets::head_bucket(self, req).await
    }

    async fn delete_bucket(&self, req: S3Request<DeleteBucketInput>) -> S3Result<S3Response<DeleteBucketOutput>> {
        buckets::delete_bucket(self, req).await
    }

    async fn list_buckets(&self, req: S3Request<ListBucketsInput>) -> S3Result<S3Response<ListBucketsOutput>> {
        buckets::list_buckets(self, req).await
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        buckets::get_bucket_location(self, req).await
    }

    async fn get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        buckets::get_bucket_versioning(self, req).await
    }

    async fn put_bucket_versioning(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> S3Result<S3Response<PutBucketVersioningOutput>> {
        buckets::put_bucket_versioning(self, req).await
    }

    async fn put_bucket_policy(
        &self,
        req: S3Request<PutBucketPolicyInput>,
    ) -> S3Result<S3Response<PutBucketPolicyOutput>> {
        buckets::put_bucket_policy(self, req).await
    }

    async fn get_bucket_policy(
        &self,
        req: S3Request<GetBucketPolicyInput>,
    ) -> S3Result<S3Response<GetBucketPolicyOutput>> {
        buckets::get_bucket_policy(self, req).await
    }

    async fn delete_bucket_policy(
        &self,
        req: S3Request<DeleteBucketPolicyInput>,
    ) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
        buckets::delete_bucket_policy(self, req).await
    }

    async fn put_bucket_encryption(
        &self,
        req: S3Request<PutBucketEncryptionInput>,
    ) -> S3Result<S3Response<PutBucketEncryptionOutput>> {
        buckets::put_bucket_encryption(self, req).await
    }

    async fn get_bucket_encryption(
        &self,
        req: S3Request<GetBucketEncryptionInput>,
    ) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
        buckets::get_bucket_encryption(self, req).await
    }

    async fn delete_bucket_encryption(
        &self,
        req: S3Request<DeleteBucketEncryptionInput>,
    ) -> S3Result<S3Response<DeleteBucketEncryptionOutput>> {
        buckets::delete_bucket_encryption(self, req).await
    }

    async fn get_bucket_acl(&self, req: S3Request<GetBucketAclInput>) -> S3Result<S3Response<GetBucketAclOutput>> {
        acl::get_bucket_acl(self, req).await
    }

    async fn put_bucket_acl(&self, req: S3Request<PutBucketAclInput>) -> S3Result<S3Response<PutBucketAclOutput>> {
        acl::put_bucket_acl(self, req).await
    }

    async fn get_object_acl(&self, req: S3Request<GetObjectAclInput>) -> S3Result<S3Response<GetObjectAclOutput>> {
        acl::get_object_acl(self, req).await
    }

    async fn put_object_acl(&self, req: S3Request<PutObjectAclInput>) -> S3Result<S3Response<PutObjectAclOutput>> {
        acl::put_object_acl(self, req).await
    }

    async fn get_bucket_ownership_controls(
        &self,
        req: S3Request<GetBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<GetBucketOwnershipControlsOutput>> {
        acl::get_bucket_ownership_controls(self, req).await
    }

    async fn get_bucket_policy_status(
        &self,
        req: S3Request<GetBucketPolicyStatusInput>,
    ) -> S3Result<S3Response<GetBucketPolicyStatusOutput>> {
        let is_public = self.objects.policy_is_public(&req.input.bucket).map_err(err)?;
        Ok(S3Response::new(GetBucketPolicyStatusOutput {
            policy_status: Some(PolicyStatus { is_public: Some(is_public) }),
        }))
    }

    async fn put_public_access_block(
        &self,
        req: S3Request<PutPublicAccessBlockInput>,
    ) -> S3Result<S3Response<PutPublicAccessBlockOutput>> {
        let c = req.input.public_access_block_configuration;
        let block = tarn_objects::PublicAccessBlock {
            block_public_acls: c.block_public_acls.unwrap_or(false),
            ignore_public_acls: c.ignore_public_acls.unwrap_or(false),
            block_public_policy: c.block_public_policy.unwrap_or(false),
            restrict_public_buckets: c.restrict_public_buckets.unwrap_or(false),
        };
        self.objects.put_public_access_block(&req.input.bucket, block).await.map_err(err)?;
        Ok(S3Response::new(PutPublicAccessBlockOutput {}))
    }

    async fn get_public_access_block(
        &self,
        req: S3Request<GetPublicAccessBlockInput>,
    ) -> S3Result<S3Response<GetPublicAccessBlockOutput>> {
        let b = self.objects.get_public_access_block(&req.input.bucket).map_err(err)?;
        Ok(S3Response::new(GetPublicAccessBlockOutput {
            public_access_block_configuration: Some(PublicAccessBlockConfiguration {
                block_public_acls: Some(b.block_public_acls),
                ignore_public_acls: Some(b.ignore_public_acls),
                block_public_policy: Some(b.block_public_policy),
                restrict_public_buckets: Some(b.restrict_public_buckets),
            }),
        }))
    }

    async fn delete_public_access_block(
        &self,
        req: S3Request<DeletePublicAccessBlockInput>,
    ) -> S3Result<S3Response<DeletePublicAccessBlockOutput>> {
        self.objects.delete_public_access_block(&req.input.bucket).await.map_err(err)?;
        Ok(S3Response::new(DeletePublicAccessBlockOutput {}))
    }

    async fn put_object(&self, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        objects::put_object(self, req).await
    }

    async fn get_object(&self, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        objects::get_object(self, req).await
    }

    async fn head_object(&self, req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
        objects::head_object(self, req).await
    }

    async fn delete_object(&self, req: S3Request<DeleteObjectInput>) -> S3Result<S3Response<DeleteObjectOutput>> {
        objects::delete_object(self, req).await
    }

    async fn delete_objects(&self, req: S3Request<DeleteObjectsInput>) -> S3Result<S3Response<DeleteObjectsOutput>> {
        objects::delete_objects(self, req).await
    }

    async fn copy_object(&self, req: S3Request<CopyObjectInput>) -> S3Result<S3Response<CopyObjectOutput>> {
        objects::copy_object(self, req).await
    }

    async fn list_objects(&self, req: S3Request<ListObjectsInput>) -> S3Result<S3Response<ListObjectsOutput>> {
        listing::list_objects(self, req).await
    }

    async fn list_objects_v2(&self, req: S3Request<ListObjectsV2Input>) -> S3Result<S3Response<ListObjectsV2Output>> {
        listing::list_objects_v2(self, req).await
    }

    async fn list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        listing::list_object_versions(self, req).await
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        multipart::create_multipart_upload(self, req).await
    }

    async fn upload_part(&self, req: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
        multipart::upload_part(self, req).await
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        multipart::upload_part_copy(self, req).await
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        multipart::complete_multipart_upload(self, req).await
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        multipart::abort_multipart_upload(self, req).await
    }

    async fn list_parts(&self, req: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
        multipart::list_parts(self, req).await
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        multipart::list_multipart_uploads(self, req).await
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
