//! Multipart uploads: create, parts (and part copies), complete, abort, and their listings.

#![allow(clippy::wildcard_imports)]

use super::acl::check_acl_headers;
use super::*;

pub(super) async fn create_multipart_upload(
    s3: &TarnS3,
    req: S3Request<CreateMultipartUploadInput>,
) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
    let input = req.input;
    let sse = write_sse!(s3, req, input)?;
    check_acl_headers!(s3, input);
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
    let sse = s3.resolve_write_sse(&req.extensions, &input.bucket, &input.key, sse).await?;
    let upload_id =
        s3.objects.create_multipart_upload(&input.bucket, &input.key, meta, algorithm, kind, sse).await.map_err(err)?;
    let upload = s3.objects.upload(&input.bucket, &input.key, &upload_id).map_err(err)?;
    let sse = SseOut::of(&upload.sse);
    Ok(S3Response::new(CreateMultipartUploadOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        upload_id: Some(upload_id),
        server_side_encryption: sse.algorithm,
        ssekms_key_id: sse.kms_key_id,
        ssekms_encryption_context: sse.context,
        bucket_key_enabled: sse.bucket_key,
        sse_customer_algorithm: sse.customer_algorithm,
        sse_customer_key_md5: sse.customer_key_md5,
        checksum_algorithm: input.checksum_algorithm,
        checksum_type: input.checksum_type.or_else(|| {
            algorithm
                .map(|a| ChecksumType::from(if a == Alg::Crc64Nvme { "FULL_OBJECT" } else { "COMPOSITE" }.to_string()))
        }),
        ..Default::default()
    }))
}

pub(super) async fn upload_part(
    s3: &TarnS3,
    req: S3Request<UploadPartInput>,
) -> S3Result<S3Response<UploadPartOutput>> {
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
    let upload = s3.objects.upload(&input.bucket, &input.key, &input.upload_id).map_err(err)?;
    s3.allowed_to_open(&req.extensions, &upload.sse)?;
    let sse = SseOut::of(&upload.sse);
    let customer = customer_key!(input)?;
    let outcome = s3
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
            customer.as_ref(),
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
        server_side_encryption: sse.algorithm,
        ssekms_key_id: sse.kms_key_id,
        bucket_key_enabled: sse.bucket_key,
        sse_customer_algorithm: sse.customer_algorithm,
        sse_customer_key_md5: sse.customer_key_md5,
        checksum_crc32: c.crc32,
        checksum_crc32c: c.crc32c,
        checksum_crc64nvme: c.crc64nvme,
        checksum_sha1: c.sha1,
        checksum_sha256: c.sha256,
        ..Default::default()
    }))
}

pub(super) async fn upload_part_copy(
    s3: &TarnS3,
    req: S3Request<UploadPartCopyInput>,
) -> S3Result<S3Response<UploadPartCopyOutput>> {
    let input = req.input;
    let (src_bucket, src_key, target) = parse_copy_source(&input.copy_source)?;
    s3.authorize_copy_source(&req.extensions, &src_bucket, &src_key, matches!(target, GetTarget::Version(_)))?;
    let mut found = s3.objects.lookup(&src_bucket, &src_key, &target).map_err(err)?;
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
    let range = input.copy_source_range.as_deref().map(|r| parse_copy_range(r, rec.size)).transpose()?;
    let upload = s3.objects.upload(&input.bucket, &input.key, &input.upload_id).map_err(err)?;
    s3.allowed_to_open(&req.extensions, &rec.sse)?;
    s3.allowed_to_open(&req.extensions, &upload.sse)?;
    let sse = SseOut::of(&upload.sse);
    let customer = customer_key!(input)?;
    let outcome = s3
        .objects
        .upload_part_copy(
            &input.bucket,
            &input.key,
            &input.upload_id,
            input.part_number,
            found,
            range,
            customer.as_ref(),
        )
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
        server_side_encryption: sse.algorithm,
        ssekms_key_id: sse.kms_key_id,
        bucket_key_enabled: sse.bucket_key,
        sse_customer_algorithm: sse.customer_algorithm,
        sse_customer_key_md5: sse.customer_key_md5,
        ..Default::default()
    }))
}

pub(super) async fn complete_multipart_upload(
    s3: &TarnS3,
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
    let outcome = s3
        .objects
        .complete_multipart_upload(&input.bucket, &input.key, &input.upload_id, parts, conditions)
        .await
        .map_err(err)?;
    let c = put_outcome_checksums(&outcome);
    let sse = SseOut::of(&outcome.sse);
    Ok(S3Response::new(CompleteMultipartUploadOutput {
        bucket: Some(input.bucket.clone()),
        key: Some(input.key.clone()),
        location: Some(format!("/{}/{}", input.bucket, input.key)),
        e_tag: Some(etag_of(outcome.etag.trim_matches('"'))),
        version_id: outcome.version_id,
        server_side_encryption: sse.algorithm,
        ssekms_key_id: sse.kms_key_id,
        bucket_key_enabled: sse.bucket_key,
        checksum_crc32: c.crc32,
        checksum_crc32c: c.crc32c,
        checksum_crc64nvme: c.crc64nvme,
        checksum_sha1: c.sha1,
        checksum_sha256: c.sha256,
        checksum_type: c.kind,
        ..Default::default()
    }))
}

pub(super) async fn abort_multipart_upload(
    s3: &TarnS3,
    req: S3Request<AbortMultipartUploadInput>,
) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
    let input = req.input;
    s3.objects.abort_multipart_upload(&input.bucket, &input.key, &input.upload_id).await.map_err(err)?;
    Ok(S3Response::new(AbortMultipartUploadOutput::default()))
}

pub(super) async fn list_parts(s3: &TarnS3, req: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
    let input = req.input;
    let max = match input.max_parts {
        None => 1000,
        Some(n) if n < 0 => return Err(s3_error!(InvalidArgument, "max-parts cannot be negative")),
        Some(n) => usize::try_from(n).unwrap_or(0).min(1000),
    };
    let marker = input.part_number_marker.and_then(|m| u32::try_from(m).ok());
    let page = s3.objects.list_parts(&input.bucket, &input.key, &input.upload_id, marker, max).map_err(err)?;
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
        owner: Some(s3.owner()),
        initiator: Some(Initiator { display_name: Some("tarn".into()), id: Some(s3.owner_id.clone()) }),
        storage_class: Some(StorageClass::from(storage_class_of(&page.upload.meta))),
        checksum_algorithm: page.upload.checksum_algorithm.map(|a| ChecksumAlgorithm::from(a.as_str().to_string())),
        checksum_type: page.upload.checksum_type.map(|k| ChecksumType::from(k.as_str().to_string())),
        ..Default::default()
    }))
}

pub(super) async fn list_multipart_uploads(
    s3: &TarnS3,
    req: S3Request<ListMultipartUploadsInput>,
) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
    let input = req.input;
    let url = url_encoding(input.encoding_type.as_ref())?;
    let max = max_keys(input.max_uploads)?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let page = s3
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
            initiator: Some(Initiator { display_name: Some("tarn".into()), id: Some(s3.owner_id.clone()) }),
            owner: Some(s3.owner()),
            storage_class: Some(StorageClass::from(storage_class_of(&u.upload.meta))),
            checksum_algorithm: u.upload.checksum_algorithm.map(|a| ChecksumAlgorithm::from(a.as_str().to_string())),
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
