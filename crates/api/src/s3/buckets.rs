//! Buckets: create, head, delete, list, location, versioning, and the bucket policy.

#![allow(clippy::wildcard_imports)]

use super::*;

pub(super) async fn create_bucket(
    s3: &TarnS3,
    req: S3Request<CreateBucketInput>,
) -> S3Result<S3Response<CreateBucketOutput>> {
    let input = req.input;
    if let Some(constraint) = input.create_bucket_configuration.as_ref().and_then(|c| c.location_constraint.as_ref())
        && constraint.as_str() != s3.objects.region()
    {
        return Err(s3_error!(
            IllegalLocationConstraintException,
            "The {} location constraint is incompatible for the region specific endpoint this request was sent to.",
            constraint.as_str()
        ));
    }
    super::acl::check_create_bucket(&input)?;
    // the bucket belongs to the caller's account
    let account = s3.caller_account(&req.extensions);
    let owner = account.as_deref().filter(|a| *a != s3.gate.iam.account_id());
    s3.objects.create_bucket_for(&input.bucket, owner).await.map_err(err)?;
    Ok(S3Response::new(CreateBucketOutput { location: Some(format!("/{}", input.bucket)) }))
}

pub(super) async fn head_bucket(
    s3: &TarnS3,
    req: S3Request<HeadBucketInput>,
) -> S3Result<S3Response<HeadBucketOutput>> {
    let b = s3.objects.bucket(&req.input.bucket).map_err(err)?;
    Ok(S3Response::new(HeadBucketOutput { bucket_region: Some(b.region), ..Default::default() }))
}

pub(super) async fn delete_bucket(
    s3: &TarnS3,
    req: S3Request<DeleteBucketInput>,
) -> S3Result<S3Response<DeleteBucketOutput>> {
    s3.objects.delete_bucket(&req.input.bucket).await.map_err(err)?;
    Ok(S3Response::new(DeleteBucketOutput {}))
}

pub(super) async fn list_buckets(
    s3: &TarnS3,
    req: S3Request<ListBucketsInput>,
) -> S3Result<S3Response<ListBucketsOutput>> {
    let prefix = req.input.prefix.clone();
    // the caller's account's buckets
    let account = s3.caller_account(&req.extensions).unwrap_or_else(|| s3.gate.iam.account_id().to_string());
    let home = account == s3.gate.iam.account_id();
    let buckets = s3
        .objects
        .list_buckets()
        .map_err(err)?
        .into_iter()
        .filter(|b| prefix.as_deref().is_none_or(|p| b.name.starts_with(p)))
        .filter(|b| match s3.objects.bucket_owner(&b.name) {
            Some(owner) => owner == account,
            None => home,
        })
        .map(|b| Bucket {
            bucket_region: Some(b.region),
            creation_date: Some(timestamp(b.created_ns)),
            name: Some(b.name),
        })
        .collect();
    Ok(S3Response::new(ListBucketsOutput {
        buckets: Some(buckets),
        owner: Some(s3.owner_of(&account)),
        prefix,
        ..Default::default()
    }))
}

pub(super) async fn get_bucket_location(
    s3: &TarnS3,
    req: S3Request<GetBucketLocationInput>,
) -> S3Result<S3Response<GetBucketLocationOutput>> {
    let b = s3.objects.bucket(&req.input.bucket).map_err(err)?;
    // us-east-1 buckets answer an empty LocationConstraint, as S3 does
    let location_constraint = (b.region != "us-east-1").then(|| BucketLocationConstraint::from(b.region));
    Ok(S3Response::new(GetBucketLocationOutput { location_constraint }))
}

pub(super) async fn get_bucket_versioning(
    s3: &TarnS3,
    req: S3Request<GetBucketVersioningInput>,
) -> S3Result<S3Response<GetBucketVersioningOutput>> {
    let b = s3.objects.bucket(&req.input.bucket).map_err(err)?;
    let status = match b.versioning {
        Versioning::Unversioned => None,
        Versioning::Enabled => Some(BucketVersioningStatus::from_static(BucketVersioningStatus::ENABLED)),
        Versioning::Suspended => Some(BucketVersioningStatus::from_static(BucketVersioningStatus::SUSPENDED)),
    };
    Ok(S3Response::new(GetBucketVersioningOutput { status, mfa_delete: None }))
}

pub(super) async fn put_bucket_versioning(
    s3: &TarnS3,
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
    s3.objects.set_versioning(&input.bucket, enabled).await.map_err(err)?;
    Ok(S3Response::new(PutBucketVersioningOutput {}))
}

pub(super) async fn put_bucket_policy(
    s3: &TarnS3,
    req: S3Request<PutBucketPolicyInput>,
) -> S3Result<S3Response<PutBucketPolicyOutput>> {
    let account = s3.objects.bucket_owner(&req.input.bucket).unwrap_or_else(|| s3.gate.iam.account_id().to_string());
    s3.objects.put_bucket_policy(&req.input.bucket, &account, &req.input.policy).await.map_err(err)?;
    Ok(S3Response::new(PutBucketPolicyOutput {}))
}

pub(super) async fn get_bucket_policy(
    s3: &TarnS3,
    req: S3Request<GetBucketPolicyInput>,
) -> S3Result<S3Response<GetBucketPolicyOutput>> {
    let policy = s3.objects.get_bucket_policy(&req.input.bucket).map_err(err)?;
    Ok(S3Response::new(GetBucketPolicyOutput { policy: Some(policy) }))
}

pub(super) async fn delete_bucket_policy(
    s3: &TarnS3,
    req: S3Request<DeleteBucketPolicyInput>,
) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
    s3.objects.delete_bucket_policy(&req.input.bucket).await.map_err(err)?;
    Ok(S3Response::new(DeleteBucketPolicyOutput {}))
}

/// PutBucketEncryption: one rule, SSE-S3 (AES256) or SSE-KMS (with a key, else the account's
/// `aws/s3` key) and its bucket-key switch. As in S3, the key is looked up by the PUTs that use
/// it, not here.
pub(super) async fn put_bucket_encryption(
    s3: &TarnS3,
    req: S3Request<PutBucketEncryptionInput>,
) -> S3Result<S3Response<PutBucketEncryptionOutput>> {
    let config = req.input.server_side_encryption_configuration;
    let [rule] = config.rules.as_slice() else {
        return Err(s3_error!(MalformedXML, "A server-side encryption configuration has exactly one rule"));
    };
    let Some(default) = &rule.apply_server_side_encryption_by_default else {
        return Err(s3_error!(MalformedXML, "The rule has no ApplyServerSideEncryptionByDefault"));
    };
    let algorithm = default.sse_algorithm.as_str().to_string();
    let kms_key = default.kms_master_key_id.clone().filter(|k| !k.is_empty());
    match algorithm.as_str() {
        "AES256" if kms_key.is_some() => {
            return Err(s3_error!(
                InvalidArgument,
                "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse"
            ));
        }
        "AES256" => {}
        // as S3, the key is not looked up now: a PUT under a key that does not exist fails then
        "aws:kms" | "aws:kms:dsse" if default.kms_master_key_id.as_deref() == Some("") => {
            return Err(s3_error!(
                InvalidArgument,
                "if the default sse algorithm is aws:kms and a KMSMasterKeyID is specified, it must be non-empty"
            ));
        }
        "aws:kms" | "aws:kms:dsse" => {}
        other => return Err(s3_error!(MalformedXML, "Unknown SSEAlgorithm {other}")),
    }
    let rule =
        tarn_objects::DefaultEncryption { algorithm, kms_key, bucket_key: rule.bucket_key_enabled.unwrap_or(false) };
    s3.objects.put_bucket_encryption(&req.input.bucket, rule).await.map_err(err)?;
    Ok(S3Response::new(PutBucketEncryptionOutput {}))
}

/// GetBucketEncryption: the bucket's rule, else S3's default for every bucket (SSE-S3).
pub(super) async fn get_bucket_encryption(
    s3: &TarnS3,
    req: S3Request<GetBucketEncryptionInput>,
) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
    let rule = s3.objects.bucket_encryption(&req.input.bucket).map_err(err)?;
    let default = ServerSideEncryptionByDefault {
        kms_master_key_id: rule.kms_key,
        sse_algorithm: ServerSideEncryption::from(rule.algorithm),
    };
    let rule = ServerSideEncryptionRule {
        apply_server_side_encryption_by_default: Some(default),
        bucket_key_enabled: Some(rule.bucket_key),
    };
    Ok(S3Response::new(GetBucketEncryptionOutput {
        server_side_encryption_configuration: Some(ServerSideEncryptionConfiguration { rules: vec![rule] }),
    }))
}

/// DeleteBucketEncryption: back to S3's default (SSE-S3).
pub(super) async fn delete_bucket_encryption(
    s3: &TarnS3,
    req: S3Request<DeleteBucketEncryptionInput>,
) -> S3Result<S3Response<DeleteBucketEncryptionOutput>> {
    s3.objects.delete_bucket_encryption(&req.input.bucket).await.map_err(err)?;
    Ok(S3Response::new(DeleteBucketEncryptionOutput {}))
}
