//! ACLs under S3 Object Ownership's *bucket owner enforced* setting, which every tarn bucket has
//! (S3's default for new buckets since April 2023): ACLs are disabled, policies alone decide
//! access, and the bucket owner owns every object. As S3 answers then: a write may carry no ACL
//! or the `bucket-owner-full-control` one (canned, or its grant-header form naming the owner),
//! anything else is refused with AccessControlListNotSupported; reading an ACL shows the owner
//! with full control; CreateBucket with an ACL other than `private` is
//! InvalidBucketAclWithObjectOwnership. The other ownership settings (ObjectWriter,
//! BucketOwnerPreferred) are refused with a clear message rather than ignored.

#![allow(clippy::wildcard_imports)]

use super::*;

const OWNER_FULL_CONTROL: &str = "bucket-owner-full-control";

fn not_supported() -> S3Error {
    s3_error!(AccessControlListNotSupported, "The bucket does not allow ACLs")
}

impl TarnS3 {
    /// The canonical owner of `bucket` (its account's).
    pub(super) fn bucket_owner(&self, bucket: &str) -> Owner {
        let account = self.objects.bucket_owner(bucket).unwrap_or_else(|| self.gate.iam.account_id().to_string());
        self.owner_of(&account)
    }
}

/// Whether the grant headers of a write say no more than "the bucket owner has full control".
fn only_owner_full_control(owner_id: &str, full_control: Option<&String>, others: &[Option<&String>]) -> bool {
    others.iter().all(Option::is_none)
        && full_control.is_none_or(|g| {
            g.split(',').all(|grantee| {
                let grantee = grantee.trim();
                grantee.strip_prefix("id=").map(|id| id.trim_matches('"')) == Some(owner_id)
            })
        })
}

/// [`check_write_acl`] with the ACL headers of a write's input (PutObject, CopyObject and
/// CreateMultipartUpload name them alike).
macro_rules! check_acl_headers {
    ($s3:expr, $input:expr) => {
        super::acl::check_write_acl(
            $s3,
            &$input.bucket,
            $input.acl.as_ref(),
            $input.grant_full_control.as_ref(),
            &[$input.grant_read.as_ref(), $input.grant_read_acp.as_ref(), $input.grant_write_acp.as_ref()],
        )?
    };
}
pub(super) use check_acl_headers;

/// A write's ACL (PutObject, CopyObject, CreateMultipartUpload): none, or the bucket owner's
/// full control.
pub(super) fn check_write_acl(
    s3: &TarnS3,
    bucket: &str,
    canned: Option<&ObjectCannedACL>,
    full_control: Option<&String>,
    others: &[Option<&String>],
) -> S3Result<()> {
    // the usual write names no ACL: nothing to look up
    if canned.is_none() && full_control.is_none() && others.iter().all(Option::is_none) {
        return Ok(());
    }
    check_set_acl(&s3.bucket_owner(bucket), canned.map(ObjectCannedACL::as_str), full_control, others, None)
}

/// CreateBucket: ACLs are disabled from the start, so only `private` (the default) may be asked
/// for, and only the bucket-owner-enforced setting.
pub(super) fn check_create_bucket(input: &CreateBucketInput) -> S3Result<()> {
    if let Some(ownership) = &input.object_ownership
        && ownership.as_str() != ObjectOwnership::BUCKET_OWNER_ENFORCED
    {
        return Err(s3_error!(
            InvalidArgument,
            "tarn keeps every bucket's Object Ownership at BucketOwnerEnforced (ACLs disabled); {} is not available",
            ownership.as_str()
        ));
    }
    let grants = [
        input.grant_full_control.as_ref(),
        input.grant_read.as_ref(),
        input.grant_read_acp.as_ref(),
        input.grant_write.as_ref(),
        input.grant_write_acp.as_ref(),
    ];
    if input.acl.as_ref().is_some_and(|a| a.as_str() != BucketCannedACL::PRIVATE) || grants.iter().any(Option::is_some)
    {
        return Err(s3_error!(
            InvalidBucketAclWithObjectOwnership,
            "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"
        ));
    }
    Ok(())
}

fn owner_grants(owner: &Owner) -> Grants {
    vec![Grant {
        grantee: Some(Grantee {
            display_name: owner.display_name.clone(),
            email_address: None,
            id: owner.id.clone(),
            type_: Type::from_static(Type::CANONICAL_USER),
            uri: None,
        }),
        permission: Some(Permission::from_static(Permission::FULL_CONTROL)),
    }]
}

/// The object (or version) an object ACL call names; a delete marker has none.
fn existing_object(s3: &TarnS3, bucket: &str, key: &str, version_id: Option<&str>) -> S3Result<()> {
    let found = s3.objects.lookup(bucket, key, &GetTarget::from_version_id(version_id)).map_err(err)?;
    if found.record.delete_marker {
        return Err(s3_error!(NoSuchKey, "The specified key does not exist."));
    }
    Ok(())
}

/// An ACL set by PutBucketAcl or PutObjectAcl: accepted (and changing nothing) only when the
/// canned ACL, the grant headers and the body all say "the bucket owner has full control".
fn check_set_acl(
    owner: &Owner,
    canned: Option<&str>,
    full_control: Option<&String>,
    others: &[Option<&String>],
    body: Option<&AccessControlPolicy>,
) -> S3Result<()> {
    let owner_id = owner.id.as_deref().unwrap_or_default();
    let canned_ok = canned.is_none_or(|a| a == OWNER_FULL_CONTROL);
    if canned_ok
        && only_owner_full_control(owner_id, full_control, others)
        && body_is_owner_full_control(body, owner_id)
    {
        Ok(())
    } else {
        Err(not_supported())
    }
}

pub(super) async fn get_bucket_acl(
    s3: &TarnS3,
    req: S3Request<GetBucketAclInput>,
) -> S3Result<S3Response<GetBucketAclOutput>> {
    s3.objects.bucket(&req.input.bucket).map_err(err)?;
    let owner = s3.bucket_owner(&req.input.bucket);
    Ok(S3Response::new(GetBucketAclOutput { grants: Some(owner_grants(&owner)), owner: Some(owner) }))
}

pub(super) async fn get_object_acl(
    s3: &TarnS3,
    req: S3Request<GetObjectAclInput>,
) -> S3Result<S3Response<GetObjectAclOutput>> {
    let input = req.input;
    existing_object(s3, &input.bucket, &input.key, input.version_id.as_deref())?;
    let owner = s3.bucket_owner(&input.bucket);
    Ok(S3Response::new(GetObjectAclOutput {
        grants: Some(owner_grants(&owner)),
        owner: Some(owner),
        request_charged: None,
    }))
}

/// PutBucketAcl: only the bucket owner's full control, which changes nothing.
pub(super) async fn put_bucket_acl(
    s3: &TarnS3,
    req: S3Request<PutBucketAclInput>,
) -> S3Result<S3Response<PutBucketAclOutput>> {
    let input = req.input;
    s3.objects.bucket(&input.bucket).map_err(err)?;
    check_set_acl(
        &s3.bucket_owner(&input.bucket),
        input.acl.as_ref().map(BucketCannedACL::as_str),
        input.grant_full_control.as_ref(),
        &[
            input.grant_read.as_ref(),
            input.grant_read_acp.as_ref(),
            input.grant_write.as_ref(),
            input.grant_write_acp.as_ref(),
        ],
        input.access_control_policy.as_ref(),
    )?;
    Ok(S3Response::new(PutBucketAclOutput {}))
}

/// PutObjectAcl: only the bucket owner's full control, which changes nothing.
pub(super) async fn put_object_acl(
    s3: &TarnS3,
    req: S3Request<PutObjectAclInput>,
) -> S3Result<S3Response<PutObjectAclOutput>> {
    let input = req.input;
    existing_object(s3, &input.bucket, &input.key, input.version_id.as_deref())?;
    check_set_acl(
        &s3.bucket_owner(&input.bucket),
        input.acl.as_ref().map(ObjectCannedACL::as_str),
        input.grant_full_control.as_ref(),
        &[input.grant_read.as_ref(), input.grant_read_acp.as_ref(), input.grant_write_acp.as_ref()],
        input.access_control_policy.as_ref(),
    )?;
    Ok(S3Response::new(PutObjectAclOutput { request_charged: None }))
}

/// An ACL body that grants only the owner full control (or no body at all).
fn body_is_owner_full_control(policy: Option<&AccessControlPolicy>, owner_id: &str) -> bool {
    let Some(policy) = policy else { return true };
    policy.grants.as_deref().unwrap_or_default().iter().all(|g| {
        g.permission.as_ref().is_some_and(|p| p.as_str() == Permission::FULL_CONTROL)
            && g.grantee.as_ref().is_some_and(|e| e.id.as_deref() == Some(owner_id))
    })
}

pub(super) async fn get_bucket_ownership_controls(
    s3: &TarnS3,
    req: S3Request<GetBucketOwnershipControlsInput>,
) -> S3Result<S3Response<GetBucketOwnershipControlsOutput>> {
    s3.objects.bucket(&req.input.bucket).map_err(err)?;
    Ok(S3Response::new(GetBucketOwnershipControlsOutput {
        ownership_controls: Some(OwnershipControls {
            rules: vec![OwnershipControlsRule {
                object_ownership: ObjectOwnership::from_static(ObjectOwnership::BUCKET_OWNER_ENFORCED),
            }],
        }),
    }))
}
