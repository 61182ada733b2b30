//! Listing: ListObjects (v1 and v2) and ListObjectVersions.

#![allow(clippy::wildcard_imports)]

use super::*;

pub(super) async fn list_objects(
    s3: &TarnS3,
    req: S3Request<ListObjectsInput>,
) -> S3Result<S3Response<ListObjectsOutput>> {
    let input = req.input;
    let url = url_encoding(input.encoding_type.as_ref())?;
    let max = max_keys(input.max_keys)?;
    let params = ListParams {
        prefix: input.prefix.clone().unwrap_or_default(),
        delimiter: input.delimiter.clone().filter(|d| !d.is_empty()),
        after: input.marker.clone().filter(|m| !m.is_empty()),
        max_keys: max,
    };
    let page = s3.objects.list_objects(&input.bucket, &params).map_err(err)?;
    let contents: Vec<Object> = page.objects.into_iter().map(|o| s3.listed(o.key, &o.record, url)).collect();
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

pub(super) async fn list_objects_v2(
    s3: &TarnS3,
    req: S3Request<ListObjectsV2Input>,
) -> S3Result<S3Response<ListObjectsV2Output>> {
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
    let page = s3.objects.list_objects(&input.bucket, &params).map_err(err)?;
    let fetch_owner = input.fetch_owner.unwrap_or(false);
    let contents: Vec<Object> = page
        .objects
        .into_iter()
        .map(|o| {
            let mut obj = s3.listed(o.key, &o.record, url);
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

pub(super) async fn list_object_versions(
    s3: &TarnS3,
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
    let page = s3.objects.list_object_versions(&input.bucket, &params).map_err(err)?;
    let mut versions = Vec::new();
    let mut markers = Vec::new();
    for (key, rec, is_latest) in page.versions {
        if rec.delete_marker {
            markers.push(DeleteMarkerEntry {
                is_latest: Some(is_latest),
                key: Some(enc(url, key)),
                last_modified: Some(timestamp(rec.last_modified_ns)),
                owner: Some(s3.owner()),
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
                owner: Some(s3.owner()),
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
