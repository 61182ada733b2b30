//! Domain errors of `tarn-objects` -> S3 error codes, statuses and headers, in one place.

use http::{HeaderMap, HeaderValue, StatusCode};
use s3s::{S3Error, S3ErrorCode};
use tarn_objects::ObjectsError;

use super::http_date;

pub fn to_s3_error(err: ObjectsError) -> S3Error {
    use ObjectsError as E;
    let msg = err.to_string();
    let with = |code: S3ErrorCode, message: &str| S3Error::with_message(code, message.to_string());
    match err {
        E::NoSuchBucket => with(S3ErrorCode::NoSuchBucket, "The specified bucket does not exist"),
        E::NoSuchBucketPolicy => with(S3ErrorCode::NoSuchBucketPolicy, "The bucket policy does not exist"),
        E::NoSuchPublicAccessBlock => {
            let mut e = with(
                S3ErrorCode::Custom("NoSuchPublicAccessBlockConfiguration".into()),
                "The public access block configuration was not found",
            );
            e.set_status_code(StatusCode::NOT_FOUND);
            e
        }
        E::MalformedPolicy(m) => with(S3ErrorCode::MalformedPolicy, &m),
        E::AccessDenied => with(S3ErrorCode::AccessDenied, "Access Denied"),
        E::BucketAlreadyOwnedByYou => with(
            S3ErrorCode::BucketAlreadyOwnedByYou,
            "Your previous request to create the named bucket succeeded and you already own it.",
        ),
        E::BucketAlreadyExists => with(
            S3ErrorCode::BucketAlreadyExists,
            "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.",
        ),
        E::BucketNotEmpty => with(S3ErrorCode::BucketNotEmpty, "The bucket you tried to delete is not empty"),
        E::InvalidBucketName(_) => with(S3ErrorCode::InvalidBucketName, "The specified bucket is not valid."),
        E::NoSuchKey => with(S3ErrorCode::NoSuchKey, "The specified key does not exist."),
        E::NoSuchVersion => with(S3ErrorCode::NoSuchVersion, "The specified version does not exist."),
        E::NoSuchUpload => with(
            S3ErrorCode::NoSuchUpload,
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
        ),
        E::DeleteMarker { version_id, by_version, last_modified_ns } => {
            let mut headers = HeaderMap::new();
            headers.insert("x-amz-delete-marker", HeaderValue::from_static("true"));
            if let Ok(v) = HeaderValue::from_str(&version_id) {
                headers.insert("x-amz-version-id", v);
            }
            let mut e = if by_version {
                if let Ok(v) = HeaderValue::from_str(&http_date(last_modified_ns)) {
                    headers.insert(http::header::LAST_MODIFIED, v);
                }
                with(S3ErrorCode::MethodNotAllowed, "The specified method is not allowed against this resource.")
            } else {
                with(S3ErrorCode::NoSuchKey, "The specified key does not exist.")
            };
            e.set_headers(headers);
            e
        }
        E::InvalidArgument(m) => with(S3ErrorCode::InvalidArgument, &m),
        E::InvalidRequest(m) | E::InvalidChecksum(m) => with(S3ErrorCode::InvalidRequest, &m),
        E::PreconditionFailed => {
            with(S3ErrorCode::PreconditionFailed, "At least one of the pre-conditions you specified did not hold")
        }
        E::NotModified(rec) => {
            let mut e = S3Error::new(S3ErrorCode::NotModified);
            e.set_status_code(StatusCode::NOT_MODIFIED);
            let mut headers = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(&rec.quoted_etag()) {
                headers.insert(http::header::ETAG, v);
            }
            if let Ok(v) = HeaderValue::from_str(&http_date(rec.last_modified_ns)) {
                headers.insert(http::header::LAST_MODIFIED, v);
            }
            e.set_headers(headers);
            e
        }
        E::InvalidRange { size } => {
            let mut e = with(S3ErrorCode::InvalidRange, "The requested range is not satisfiable");
            let mut headers = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                headers.insert(http::header::CONTENT_RANGE, v);
            }
            e.set_headers(headers);
            e
        }
        E::BadDigest(m) => with(S3ErrorCode::BadDigest, &m),
        E::InvalidDigest => with(S3ErrorCode::InvalidDigest, "The Content-MD5 you specified is not valid."),
        E::EntityTooLarge => with(S3ErrorCode::EntityTooLarge, "Your proposed upload exceeds the maximum allowed size"),
        E::EntityTooSmall => {
            with(S3ErrorCode::EntityTooSmall, "Your proposed upload is smaller than the minimum allowed size")
        }
        E::InvalidPart(m) => with(S3ErrorCode::InvalidPart, &m),
        E::InvalidPartOrder => with(
            S3ErrorCode::InvalidPartOrder,
            "The list of parts was not in ascending order. Parts must be ordered by part number.",
        ),
        E::MetadataTooLarge => {
            with(S3ErrorCode::MetadataTooLarge, "Your metadata headers exceed the maximum allowed metadata size.")
        }
        E::KeyTooLong => with(S3ErrorCode::KeyTooLongError, "Your key is too long"),
        // s3s reports a bad aws-chunked chunk signature as an error of the body stream
        E::IncompleteBody(m) if m.contains("AwsChunkedStreamError: SignatureMismatch") => with(
            S3ErrorCode::SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        ),
        E::IncompleteBody(m) if m.contains("UploadStreamError: Sha256Mismatch") => {
            let mut e = with(
                S3ErrorCode::Custom("XAmzContentSHA256Mismatch".into()),
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            );
            e.set_status_code(StatusCode::BAD_REQUEST);
            e
        }
        E::IncompleteBody(m) => with(S3ErrorCode::IncompleteBody, &m),
        E::MalformedXml => with(
            S3ErrorCode::MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema",
        ),
        E::Kms(k) => kms_error(&k),
        E::Store(inner) => {
            tracing::error!(error = %inner, "storage failure");
            let _ = msg;
            with(S3ErrorCode::InternalError, "We encountered an internal error. Please try again.")
        }
    }
}

/// A KMS refusal met while keeping or opening an SSE-KMS object's key, as S3 reports it: the
/// KMS exception's name behind `KMS.`, 400.
pub fn kms_error(err: &tarn_kms::KmsError) -> S3Error {
    use tarn_kms::KmsError as K;
    let (code, message) = match err {
        K::Disabled(_) => ("KMS.DisabledException", err.to_string()),
        K::InvalidState(m) => ("KMS.KMSInvalidStateException", m.clone()),
        K::NotFound(m) => ("KMS.NotFoundException", m.clone()),
        K::InvalidKeyUsage(m) => ("KMS.InvalidKeyUsageException", m.clone()),
        K::InvalidArn(m) => ("KMS.NotFoundException", m.clone()),
        K::InvalidCiphertext => ("KMS.InvalidCiphertextException", "The ciphertext is not valid.".to_string()),
        K::AccessDenied(m) => ("AccessDenied", m.clone()),
        K::LimitExceeded(m) => ("KMS.LimitExceededException", m.clone()),
        other => ("InvalidArgument", other.to_string()),
    };
    let mut e = S3Error::with_message(S3ErrorCode::Custom(code.into()), message);
    e.set_status_code(if code == "AccessDenied" { StatusCode::FORBIDDEN } else { StatusCode::BAD_REQUEST });
    e
}
