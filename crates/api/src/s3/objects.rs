//! Objects: PUT, GET, HEAD, DELETE (one and many) and copy.

#![allow(clippy::wildcard_imports)]

use super::acl::check_acl_headers;
use super::*;

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
            server_side_encryption: h.sse.algorithm,
            ssekms_key_id: h.sse.kms_key_id,
            bucket_key_enabled: h.sse.bucket_key,
            sse_customer_algorithm: h.sse.customer_algorithm,
            sse_customer_key_md5: h.sse.customer_key_md5,
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

pub(super) async fn put_object(s3: &TarnS3, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
    let headers = req.headers;
    let trailing = req.trailing_headers;
    let input = req.input;
    let sse = write_sse!(s3, req, input)?;
    check_acl_headers!(s3, input);
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
    let sse = s3.resolve_write_sse(&req.extensions, &input.bucket, &input.key, sse).await?;
    let outcome = s3
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
            sse,
        })
        .await
        .map_err(err)?;
    let c = put_outcome_checksums(&outcome);
    let sse = SseOut::of(&outcome.sse);
    Ok(S3Response::new(PutObjectOutput {
        e_tag: Some(etag_of(outcome.etag.trim_matches('"'))),
        version_id: outcome.version_id.clone(),
        server_side_encryption: sse.algorithm,
        ssekms_key_id: sse.kms_key_id,
        ssekms_encryption_context: sse.context,
        bucket_key_enabled: sse.bucket_key,
        sse_customer_algorithm: sse.customer_algorithm,
        sse_customer_key_md5: sse.customer_key_md5,
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

pub(super) async fn get_object(s3: &TarnS3, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
    let input = req.input;
    let target = GetTarget::from_version_id(input.version_id.as_deref());
    let mut found = s3.objects.lookup(&input.bucket, &input.key, &target).map_err(err)?;
    found.customer_key = customer_key!(input)?;
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
    s3.allowed_to_open(&req.extensions, &rec.sse)?;
    let stream = s3.objects.open_range(&found, start, end).map_err(err)?;
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

pub(super) async fn head_object(
    s3: &TarnS3,
    req: S3Request<HeadObjectInput>,
) -> S3Result<S3Response<HeadObjectOutput>> {
    let input = req.input;
    let target = GetTarget::from_version_id(input.version_id.as_deref());
    let mut found = s3.objects.lookup(&input.bucket, &input.key, &target).map_err(err)?;
    found.customer_key = customer_key!(input)?;
    // an SSE-C object answers HEAD only to its key
    s3.objects.check_customer_key(&found).map_err(err)?;
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

pub(super) async fn delete_object(
    s3: &TarnS3,
    req: S3Request<DeleteObjectInput>,
) -> S3Result<S3Response<DeleteObjectOutput>> {
    let input = req.input;
    let outcome =
        s3.objects.delete_object(&input.bucket, &input.key, input.version_id.as_deref()).await.map_err(err)?;
    Ok(S3Response::new(DeleteObjectOutput {
        delete_marker: outcome.delete_marker.then_some(true),
        version_id: outcome.version_id,
        ..Default::default()
    }))
}

pub(super) async fn delete_objects(
    s3: &TarnS3,
    req: S3Request<DeleteObjectsInput>,
) -> S3Result<S3Response<DeleteObjectsOutput>> {
    let input = req.input;
    if input.delete.objects.len() > limits::DELETE_OBJECTS_KEYS_MAX {
        return Err(s3_error!(
            MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema"
        ));
    }
    s3.objects.bucket(&input.bucket).map_err(err)?;
    let quiet = input.delete.quiet.unwrap_or(false);
    let mut deleted = Vec::new();
    let mut errors = Vec::new();
    for obj in input.delete.objects {
        // each key is its own DeleteObject(Version) for the caller's policies and the bucket's
        let action = if obj.version_id.is_some() { "s3:DeleteObjectVersion" } else { "s3:DeleteObject" };
        let result = match s3.allowed(&req.extensions, action, &input.bucket, Some(&obj.key)) {
            Ok(()) => s3.objects.delete_object(&input.bucket, &obj.key, obj.version_id.as_deref()).await,
            Err(_) => Err(tarn_objects::ObjectsError::AccessDenied),
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

pub(super) async fn copy_object(
    s3: &TarnS3,
    req: S3Request<CopyObjectInput>,
) -> S3Result<S3Response<CopyObjectOutput>> {
    let input = req.input;
    let changes_key = input.sse_customer_key.is_some();
    let sse = write_sse!(s3, req, input)?;
    check_acl_headers!(s3, input);
    let (src_bucket, src_key, target) = parse_copy_source(&input.copy_source)?;
    s3.authorize_copy_source(&req.extensions, &src_bucket, &src_key, matches!(target, GetTarget::Version(_)))?;
    let mut found: Found = s3.objects.lookup(&src_bucket, &src_key, &target).map_err(err)?;
    found.customer_key = copy_source_customer_key!(input)?;
    s3.objects.check_customer_key(&found).map_err(err)?;
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
        && input.server_side_encryption.is_none()
        && !changes_key
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
    s3.allowed_to_open(&req.extensions, &rec.sse)?;
    let sse = s3.resolve_write_sse(&req.extensions, &input.bucket, &input.key, sse).await?;
    let outcome = s3
        .objects
        .copy_object(
            DomainCopySource { found },
            input.bucket,
            input.key,
            meta,
            checksum_algorithm,
            WriteConditions::default(),
            sse,
        )
        .await
        .map_err(err)?;
    let c = put_outcome_checksums(&outcome);
    let sse = SseOut::of(&outcome.sse);
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
        server_side_encryption: sse.algorithm,
        ssekms_key_id: sse.kms_key_id,
        ssekms_encryption_context: sse.context,
        bucket_key_enabled: sse.bucket_key,
        sse_customer_algorithm: sse.customer_algorithm,
        sse_customer_key_md5: sse.customer_key_md5,
        ..Default::default()
    }))
}
