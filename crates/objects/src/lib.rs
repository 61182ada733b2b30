//! S3 semantics over the store: buckets, objects and their versions, multipart uploads,
//! checksums and encryption at rest. Speaks domain types; `tarn-api` maps them to the wire.
//!
//! A PUT, end to end:
//! ```text
//! body stream --> md5 + checksum --> Sealer (AES-256-GCM, 64 KiB chunks)
//!   <= 128 KiB: sealed bytes ride in the metadata commit (inline_blobs table)
//!   larger:     blobs/<id>, written as it arrives, fsync'd file + dir
//! --> group commit: version record + current pointer (+ inline bytes), one fsync per batch
//! --> acknowledged; the replaced version's blob is released in the same commit
//! ```

pub mod checksum;
mod ingest;
mod list;
mod multipart;
mod object;
pub mod record;
mod sse;

use std::pin::Pin;

use bytes::Bytes;
use futures::Stream;
use redb::ReadableTable;
use tarn_common::limits::s3 as limits;
use tarn_store::record::Record;
use tarn_store::{Store, StoreError};

pub use ingest::ChecksumInput;
pub use list::{ListPage, ListParams, ListedObject, VersionsPage, VersionsParams};
pub use multipart::{CompletedPart, PartOutcome, PartsPage, UploadSummary, UploadsPage};
pub use object::{CopySource, DeleteOutcome, Found, GetTarget, PutOutcome, PutRequest, WriteConditions, etag_matches};
pub use record::{BucketRecord, ObjectMeta, ObjectRecord, Versioning};
pub use sse::{CustomerKey, CustomerSse, KmsSse, S3_ARN_CONTEXT, Sse, SseRequest, names_managed_key, s3_arn};

/// A request body as it arrives.
pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, BoxError>> + Send>>;
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Objects up to this size are stored inline in the metadata commit.
pub const INLINE_SIZE_MAX: usize = 128 * 1024;

/// A bucket's default encryption: what a PUT that names none is sealed with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DefaultEncryption {
    /// `AES256` (SSE-S3), or `aws:kms` / `aws:kms:dsse` with a key.
    pub algorithm: String,
    pub kms_key: Option<String>,
    pub bucket_key: bool,
}

impl Default for DefaultEncryption {
    fn default() -> Self {
        Self { algorithm: "AES256".into(), kms_key: None, bucket_key: false }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ObjectsError {
    #[error("the specified bucket does not exist")]
    NoSuchBucket,
    #[error("your previous request to create the named bucket succeeded and you already own it")]
    BucketAlreadyOwnedByYou,
    #[error("the requested bucket name is not available: another account holds it")]
    BucketAlreadyExists,
    #[error("the bucket you tried to delete is not empty")]
    BucketNotEmpty,
    #[error("the specified bucket is not valid: {0}")]
    InvalidBucketName(String),
    #[error("the specified key does not exist")]
    NoSuchKey,
    #[error("the specified version does not exist")]
    NoSuchVersion,
    #[error("the specified multipart upload does not exist")]
    NoSuchUpload,
    /// The key's current version is a delete marker (GET without version id: 404) or the
    /// requested version is one (405).
    #[error("the key is a delete marker")]
    DeleteMarker { version_id: String, by_version: bool, last_modified_ns: i64 },
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("at least one of the pre-conditions you specified did not hold")]
    PreconditionFailed,
    #[error("not modified")]
    NotModified(Box<ObjectRecord>),
    #[error("the requested range is not satisfiable")]
    InvalidRange { size: u64 },
    #[error("{0}")]
    BadDigest(String),
    #[error("the Content-MD5 you specified is not valid")]
    InvalidDigest,
    #[error("{0}")]
    InvalidChecksum(String),
    #[error("your proposed upload exceeds the maximum allowed size")]
    EntityTooLarge,
    #[error("your proposed upload is smaller than the minimum allowed size")]
    EntityTooSmall,
    #[error("{0}")]
    InvalidPart(String),
    #[error("the list of parts was not in ascending order; parts must be ordered by part number")]
    InvalidPartOrder,
    #[error("your metadata headers exceed the maximum allowed metadata size")]
    MetadataTooLarge,
    #[error("the XML you provided was not well-formed or did not validate against our published schema")]
    MalformedXml,
    #[error("your key is too long")]
    KeyTooLong,
    #[error("{0}")]
    IncompleteBody(String),
    #[error("the bucket does not have a bucket policy")]
    NoSuchBucketPolicy,
    #[error("the public access block configuration was not found")]
    NoSuchPublicAccessBlock,
    #[error("{0}")]
    MalformedPolicy(String),
    #[error("access denied")]
    AccessDenied,
    /// The KMS key an object is kept under refused (disabled, pending deletion, deleted, not
    /// found).
    #[error(transparent)]
    Kms(tarn_kms::KmsError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<redb::Error> for ObjectsError {
    fn from(err: redb::Error) -> Self {
        Self::Store(err.into())
    }
}
impl From<redb::StorageError> for ObjectsError {
    fn from(err: redb::StorageError) -> Self {
        Self::Store(err.into())
    }
}
impl From<redb::TableError> for ObjectsError {
    fn from(err: redb::TableError) -> Self {
        Self::Store(err.into())
    }
}
impl From<redb::TransactionError> for ObjectsError {
    fn from(err: redb::TransactionError) -> Self {
        Self::Store(err.into())
    }
}

pub type Result<T, E = ObjectsError> = std::result::Result<T, E>;

use tarn_iam::policy::{Decision, Policy};

/// Bucket as listed.
#[derive(Clone, Debug)]
pub struct BucketInfo {
    pub name: String,
    pub created_ns: i64,
    pub region: String,
    pub versioning: Versioning,
}

/// The object store.
#[derive(Clone)]
pub struct Objects {
    store: Store,
    region: String,
    /// Parsed bucket policies by bucket (absent: the bucket has none), kept in step with
    /// `s3_bucket_policies` by the calls that change it.
    policies: std::sync::Arc<std::sync::RwLock<std::collections::HashMap<String, std::sync::Arc<Policy>>>>,
    /// `s3_account_public_access_blocks`, kept in memory (changed with the table).
    account_blocks: std::sync::Arc<std::sync::RwLock<std::collections::HashMap<String, PublicAccessBlock>>>,
    /// `s3_bucket_owners`, kept in memory (buckets of other accounts only: empty on most
    /// servers), changed with the table under `policy_changes`.
    owners: std::sync::Arc<std::sync::RwLock<std::collections::HashMap<String, String>>>,
    /// Held across a policy change's commit and cache update (and bucket deletion), so the
    /// cache and the table agree.
    policy_changes: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// The KMS that keeps SSE-KMS data keys, and the bucket keys it made.
    keyring: sse::SharedKeyring,
}

/// Bucket policies, as sent (JSON text), by bucket.
const BUCKET_POLICIES: redb::TableDefinition<&str, &str> = redb::TableDefinition::new("s3_bucket_policies");
/// A bucket's default encryption (PutBucketEncryption), as JSON [`DefaultEncryption`].
const BUCKET_ENCRYPTION: redb::TableDefinition<&str, &str> = redb::TableDefinition::new("s3_bucket_encryption");

/// The owning account of each bucket that is not the home account's (absent: the home
/// account's, as every bucket was before there were other accounts).
const BUCKET_OWNERS: redb::TableDefinition<&str, &str> = redb::TableDefinition::new("s3_bucket_owners");

/// Block Public Access settings of whole accounts (S3 Control's), by account id (JSON
/// [`PublicAccessBlock`]); they add to each bucket's own.
const ACCOUNT_PUBLIC_ACCESS_BLOCKS: redb::TableDefinition<&str, &str> =
    redb::TableDefinition::new("s3_account_public_access_blocks");

/// Block Public Access settings, by bucket (JSON [`PublicAccessBlock`]).
const PUBLIC_ACCESS_BLOCKS: redb::TableDefinition<&str, &str> = redb::TableDefinition::new("s3_public_access_blocks");

/// A bucket's Block Public Access settings (S3's four switches).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    /// What S3 turns on for every new bucket (since April 2023).
    pub const ALL: Self = Self {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };
}

impl Objects {
    /// Opens the object store, creating its tables on first start.
    pub async fn open(store: Store, region: &str) -> Result<Self> {
        store
            .write(|txn| {
                txn.open_table(record::BUCKETS)?;
                txn.open_table(record::CURRENT)?;
                txn.open_table(record::VERSIONS)?;
                txn.open_table(record::NULL_VERSIONS)?;
                txn.open_table(record::UPLOADS)?;
                txn.open_table(record::PARTS)?;
                txn.open_table(BUCKET_POLICIES)?;
                txn.open_table(BUCKET_ENCRYPTION)?;
                txn.open_table(BUCKET_OWNERS)?;
                txn.open_table(ACCOUNT_PUBLIC_ACCESS_BLOCKS)?;
                // buckets made before tarn kept Block Public Access settings get S3's default
                // for new buckets (all on): a policy written when an Allow to `*` granted
                // nothing must not open a bucket to anonymous callers now
                let buckets = txn.open_table(record::BUCKETS)?;
                let mut blocks = txn.open_table(PUBLIC_ACCESS_BLOCKS)?;
                let mut missing = Vec::new();
                for entry in buckets.iter()? {
                    let (name, _) = entry?;
                    if blocks.get(name.value())?.is_none() {
                        missing.push(name.value().to_string());
                    }
                }
                let all = serde_json::to_string(&PublicAccessBlock::ALL).expect("serializes");
                for name in missing {
                    blocks.insert(name.as_str(), all.as_str())?;
                }
                Ok(())
            })
            .await?;
        let mut policies = std::collections::HashMap::new();
        let mut owners = std::collections::HashMap::new();
        let mut account_blocks = std::collections::HashMap::new();
        {
            let txn = store.read()?;
            for entry in txn.open_table(ACCOUNT_PUBLIC_ACCESS_BLOCKS)?.iter()? {
                let (account, text) = entry?;
                let block: PublicAccessBlock = serde_json::from_str(text.value()).map_err(|e| {
                    ObjectsError::Store(StoreError::Corrupt(format!(
                        "public access block of account {}: {e}",
                        account.value()
                    )))
                })?;
                account_blocks.insert(account.value().to_string(), block);
            }
            for entry in txn.open_table(BUCKET_OWNERS)?.iter()? {
                let (bucket, owner) = entry?;
                owners.insert(bucket.value().to_string(), owner.value().to_string());
            }
            for entry in txn.open_table(BUCKET_POLICIES)?.iter()? {
                let (bucket, text) = entry?;
                match Policy::parse(text.value()) {
                    Ok(p) => {
                        policies.insert(bucket.value().to_string(), std::sync::Arc::new(p));
                    }
                    Err(e) => {
                        tracing::error!(bucket = bucket.value(), %e, "a stored bucket policy no longer parses: denying every request to the bucket until it is replaced");
                        policies.insert(bucket.value().to_string(), std::sync::Arc::new(Policy::deny_all()));
                    }
                }
            }
        }
        Ok(Self {
            store,
            region: region.to_string(),
            policies: std::sync::Arc::new(std::sync::RwLock::new(policies)),
            owners: std::sync::Arc::new(std::sync::RwLock::new(owners)),
            account_blocks: std::sync::Arc::new(std::sync::RwLock::new(account_blocks)),
            policy_changes: std::sync::Arc::default(),
            keyring: std::sync::Arc::default(),
        })
    }

    /// The account that owns the bucket when it is not the home account; `None` for the home
    /// account's buckets and for names no bucket has.
    #[must_use]
    pub fn bucket_owner(&self, bucket: &str) -> Option<String> {
        let owners = self.owners.read().expect("owners lock");
        if owners.is_empty() {
            return None;
        }
        owners.get(bucket).cloned()
    }

    // ---- bucket policies ----

    /// PutBucketPolicy: the policy must parse and name only this bucket and its objects.
    /// `account` is the bucket's owner, whose account-wide Block Public Access applies too.
    pub async fn put_bucket_policy(&self, bucket: &str, account: &str, text: &str) -> Result<()> {
        self.bucket(bucket)?;
        let policy = Policy::parse(text).map_err(|e| ObjectsError::MalformedPolicy(e.0))?;
        let own = format!("arn:aws:s3:::{bucket}");
        if let Some(r) = policy.resources().into_iter().find(|r| *r != own && !r.starts_with(&format!("{own}/"))) {
            return Err(ObjectsError::MalformedPolicy(format!("Policy has invalid resource {r}")));
        }
        // BlockPublicPolicy (the bucket's or its account's) refuses a policy that would make
        // the bucket public
        if policy.is_public() && self.effective_public_access_block(bucket, account)?.block_public_policy {
            return Err(ObjectsError::AccessDenied);
        }
        let (b, t) = (bucket.to_string(), text.to_string());
        let _change = self.policy_changes.lock().await;
        let stored = self
            .store
            .write(move |txn| {
                if txn.open_table(record::BUCKETS)?.get(b.as_str())?.is_none() {
                    return Ok(false);
                }
                txn.open_table(BUCKET_POLICIES)?.insert(b.as_str(), t.as_str())?;
                Ok(true)
            })
            .await?;
        if !stored {
            return Err(ObjectsError::NoSuchBucket);
        }
        self.policies.write().expect("policies lock").insert(bucket.to_string(), std::sync::Arc::new(policy));
        Ok(())
    }

    /// PutBucketEncryption: the bucket's default encryption.
    pub async fn put_bucket_encryption(&self, bucket: &str, rule: DefaultEncryption) -> Result<()> {
        self.bucket(bucket)?;
        let (b, text) = (
            bucket.to_string(),
            serde_json::to_string(&rule)
                .map_err(|e| ObjectsError::Store(StoreError::Corrupt(format!("bucket encryption: {e}"))))?,
        );
        let stored = self
            .store
            .write(move |txn| {
                if txn.open_table(record::BUCKETS)?.get(b.as_str())?.is_none() {
                    return Ok(false);
                }
                txn.open_table(BUCKET_ENCRYPTION)?.insert(b.as_str(), text.as_str())?;
                Ok(true)
            })
            .await?;
        if stored { Ok(()) } else { Err(ObjectsError::NoSuchBucket) }
    }

    /// GetBucketEncryption: what was put, else S3's default for every bucket (SSE-S3, AES256).
    pub fn bucket_encryption(&self, bucket: &str) -> Result<DefaultEncryption> {
        self.bucket(bucket)?;
        let txn = self.store.read()?;
        let table = txn.open_table(BUCKET_ENCRYPTION)?;
        match table.get(bucket)? {
            Some(text) => serde_json::from_str(text.value())
                .map_err(|e| ObjectsError::Store(StoreError::Corrupt(format!("bucket encryption: {e}")))),
            None => Ok(DefaultEncryption::default()),
        }
    }

    /// DeleteBucketEncryption: back to S3's default (SSE-S3).
    pub async fn delete_bucket_encryption(&self, bucket: &str) -> Result<()> {
        self.bucket(bucket)?;
        let b = bucket.to_string();
        self.store
            .write(move |txn| {
                txn.open_table(BUCKET_ENCRYPTION)?.remove(b.as_str())?;
                Ok(())
            })
            .await?;
        Ok(())
    }

    /// GetBucketPolicy: the policy as it was sent.
    pub fn get_bucket_policy(&self, bucket: &str) -> Result<String> {
        self.bucket(bucket)?;
        let txn = self.store.read()?;
        let table = txn.open_table(BUCKET_POLICIES)?;
        let text = table.get(bucket)?.ok_or(ObjectsError::NoSuchBucketPolicy)?;
        Ok(text.value().to_string())
    }

    /// DeleteBucketPolicy (deleting none is not an error, as in S3).
    pub async fn delete_bucket_policy(&self, bucket: &str) -> Result<()> {
        self.bucket(bucket)?;
        let b = bucket.to_string();
        let _change = self.policy_changes.lock().await;
        self.store
            .write(move |txn| {
                txn.open_table(BUCKET_POLICIES)?.remove(b.as_str())?;
                Ok(())
            })
            .await?;
        self.policies.write().expect("policies lock").remove(bucket);
        Ok(())
    }

    /// The bucket's policy, parsed, when it has one.
    #[must_use]
    pub fn bucket_policy(&self, bucket: &str) -> Option<std::sync::Arc<Policy>> {
        self.policies.read().expect("policies lock").get(bucket).cloned()
    }

    /// Whether `who` may do `action` on the bucket (`key` None) or one of its objects: its IAM
    /// policies and the bucket's policy together, the one decision S3 makes (for services
    /// acting as a role: crawlers reading, Firehose writing).
    pub fn authorize_as(
        &self,
        iam: &tarn_iam::Iam,
        who: &tarn_iam::Principal,
        action: &str,
        bucket: &str,
        key: Option<&str>,
        context: &tarn_iam::policy::Context,
    ) -> Result<()> {
        let policy = self.bucket_policy(bucket);
        let owner = self.bucket_owner(bucket);
        let account = owner.as_deref().unwrap_or(iam.account_id());
        // the owning account's root, with no policy in the way: nothing could deny it
        if who.is_root() && who.account_id == account && policy.is_none() {
            return Ok(());
        }
        let resource = match key {
            Some(k) => format!("arn:aws:s3:::{bucket}/{k}"),
            None => format!("arn:aws:s3:::{bucket}"),
        };
        let verdict = iam.authorize(who, action, &resource, context, policy.as_deref(), account);
        if verdict.allowed() { Ok(()) } else { Err(ObjectsError::AccessDenied) }
    }

    /// The bucket's Block Public Access settings; `None` when it has none (a bucket made before
    /// tarn kept them, or one whose settings were deleted).
    pub fn public_access_block(&self, bucket: &str) -> Result<Option<PublicAccessBlock>> {
        let txn = self.store.read()?;
        let table = match txn.open_table(PUBLIC_ACCESS_BLOCKS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let Some(v) = table.get(bucket)? else { return Ok(None) };
        // `null`: the settings were deleted (DeletePublicAccessBlock)
        if v.value() == "null" {
            return Ok(None);
        }
        serde_json::from_str(v.value())
            .map(Some)
            .map_err(|e| ObjectsError::Store(StoreError::Corrupt(format!("public access block of {bucket}: {e}"))))
    }

    /// PutPublicAccessBlock.
    pub async fn put_public_access_block(&self, bucket: &str, block: PublicAccessBlock) -> Result<()> {
        self.bucket(bucket)?;
        let b = bucket.to_string();
        let text = serde_json::to_string(&block).expect("serializes");
        let stored = self
            .store
            .write(move |txn| {
                if txn.open_table(record::BUCKETS)?.get(b.as_str())?.is_none() {
                    return Ok(false);
                }
                txn.open_table(PUBLIC_ACCESS_BLOCKS)?.insert(b.as_str(), text.as_str())?;
                Ok(true)
            })
            .await?;
        if stored { Ok(()) } else { Err(ObjectsError::NoSuchBucket) }
    }

    /// GetPublicAccessBlock.
    pub fn get_public_access_block(&self, bucket: &str) -> Result<PublicAccessBlock> {
        self.bucket(bucket)?;
        self.public_access_block(bucket)?.ok_or(ObjectsError::NoSuchPublicAccessBlock)
    }

    /// DeletePublicAccessBlock.
    pub async fn delete_public_access_block(&self, bucket: &str) -> Result<()> {
        self.bucket(bucket)?;
        let b = bucket.to_string();
        self.store
            .write(move |txn| {
                // kept as `null`, so the start-up default for older buckets does not return
                txn.open_table(PUBLIC_ACCESS_BLOCKS)?.insert(b.as_str(), "null")?;
                Ok(())
            })
            .await?;
        Ok(())
    }

    /// GetBucketPolicyStatus: whether the bucket's policy makes it public.
    pub fn policy_is_public(&self, bucket: &str) -> Result<bool> {
        self.bucket(bucket)?;
        let policy = self.bucket_policy(bucket).ok_or(ObjectsError::NoSuchBucketPolicy)?;
        Ok(policy.is_public())
    }

    /// Whether the bucket's public access is restricted (RestrictPublicBuckets with a public
    /// policy): then only its own account's principals get in through the policy.
    pub fn public_access_restricted(&self, bucket: &str, account: &str) -> bool {
        self.bucket_policy(bucket).is_some_and(|p| p.is_public())
            && self.effective_public_access_block(bucket, account).is_ok_and(|b| b.restrict_public_buckets)
    }

    /// The settings in force for a bucket owned by `account`: each switch on when the bucket's
    /// or the account's is.
    pub fn effective_public_access_block(&self, bucket: &str, account: &str) -> Result<PublicAccessBlock> {
        let own = self.public_access_block(bucket)?.unwrap_or_default();
        let acct = self.account_public_access_block(account).unwrap_or_default();
        Ok(PublicAccessBlock {
            block_public_acls: own.block_public_acls || acct.block_public_acls,
            ignore_public_acls: own.ignore_public_acls || acct.ignore_public_acls,
            block_public_policy: own.block_public_policy || acct.block_public_policy,
            restrict_public_buckets: own.restrict_public_buckets || acct.restrict_public_buckets,
        })
    }

    /// The account's own Block Public Access settings (S3 Control), when it has them.
    #[must_use]
    pub fn account_public_access_block(&self, account: &str) -> Option<PublicAccessBlock> {
        self.account_blocks.read().expect("account blocks lock").get(account).copied()
    }

    /// PutPublicAccessBlock of S3 Control: the account's settings, durable before this returns.
    pub async fn put_account_public_access_block(&self, account: &str, block: PublicAccessBlock) -> Result<()> {
        let _change = self.policy_changes.lock().await;
        let (a, text) = (account.to_string(), serde_json::to_string(&block).expect("serializes"));
        self.store
            .write(move |txn| {
                txn.open_table(ACCOUNT_PUBLIC_ACCESS_BLOCKS)?.insert(a.as_str(), text.as_str())?;
                Ok(())
            })
            .await?;
        self.account_blocks.write().expect("account blocks lock").insert(account.to_string(), block);
        Ok(())
    }

    /// DeletePublicAccessBlock of S3 Control.
    pub async fn delete_account_public_access_block(&self, account: &str) -> Result<()> {
        let _change = self.policy_changes.lock().await;
        let a = account.to_string();
        self.store
            .write(move |txn| {
                txn.open_table(ACCOUNT_PUBLIC_ACCESS_BLOCKS)?.remove(a.as_str())?;
                Ok(())
            })
            .await?;
        self.account_blocks.write().expect("account blocks lock").remove(account);
        Ok(())
    }

    /// Whether the bucket's policy lets `principal` (an ARN of account `account`) do `action`
    /// on the bucket (`key` None) or one of its objects, for the SQL engine (which reads over
    /// a secure channel on the caller's behalf, as Athena does). Only an explicit Deny refuses:
    /// the engine's caller is the account root.
    pub fn authorize(
        &self,
        principal: &str,
        account: &str,
        action: &str,
        bucket: &str,
        key: Option<&str>,
    ) -> Result<()> {
        let policy = self.policies.read().expect("policies lock").get(bucket).cloned();
        let Some(policy) = policy else { return Ok(()) };
        let resource = match key {
            Some(k) => format!("arn:aws:s3:::{bucket}/{k}"),
            None => format!("arn:aws:s3:::{bucket}"),
        };
        let mut context = tarn_iam::policy::Context::new();
        context
            .set("aws:SecureTransport", "true")
            .set("aws:CalledVia", "athena.amazonaws.com")
            .set("aws:PrincipalArn", principal)
            .set("aws:PrincipalAccount", account);
        match policy.evaluate_in(principal, account, action, &resource, &context) {
            Decision::Deny => Err(ObjectsError::AccessDenied),
            Decision::Allow | Decision::Silent => Ok(()),
        }
    }

    #[must_use]
    pub fn store(&self) -> &Store {
        &self.store
    }

    #[must_use]
    pub fn region(&self) -> &str {
        &self.region
    }

    // ---- buckets ----

    /// CreateBucket for the home account.
    pub async fn create_bucket(&self, name: &str) -> Result<()> {
        self.create_bucket_for(name, None).await
    }

    /// CreateBucket: `owner` is the creating account when it is not the home account. A name
    /// another account holds is BucketAlreadyExists; re-creating one's own is a no-op in
    /// us-east-1 and BucketAlreadyOwnedByYou elsewhere, as in S3.
    pub async fn create_bucket_for(&self, name: &str, owner: Option<&str>) -> Result<()> {
        validate_bucket_name(name)?;
        let _change = self.policy_changes.lock().await;
        let name = name.to_string();
        let region = self.region.clone();
        let owner = owner.map(str::to_string);
        let owner_row = owner.clone();
        let bucket = name.clone();
        let created = self
            .store
            .write(move |txn| {
                let mut buckets = txn.open_table(record::BUCKETS)?;
                if buckets.get(name.as_str())?.is_some() {
                    let held = txn.open_table(BUCKET_OWNERS)?.get(name.as_str())?.map(|v| v.value().to_string());
                    return Ok(if held == owner_row { Some(false) } else { None });
                }
                if let Some(owner) = &owner_row {
                    txn.open_table(BUCKET_OWNERS)?.insert(name.as_str(), owner.as_str())?;
                }
                let rec = BucketRecord {
                    created_ns: tarn_common::now_unix_nanos(),
                    region,
                    versioning: Versioning::Unversioned,
                };
                buckets.insert(name.as_str(), rec.encode().as_slice())?;
                // a new bucket blocks public access, as S3's do
                let block = serde_json::to_string(&PublicAccessBlock::ALL).expect("serializes");
                txn.open_table(PUBLIC_ACCESS_BLOCKS)?.insert(name.as_str(), block.as_str())?;
                Ok(Some(true))
            })
            .await?;
        match created {
            None => Err(ObjectsError::BucketAlreadyExists),
            // As AWS: re-creating a bucket you own is a no-op in us-east-1 and an error elsewhere.
            Some(false) if self.region != "us-east-1" => Err(ObjectsError::BucketAlreadyOwnedByYou),
            Some(false) => Ok(()),
            Some(true) => {
                if let Some(owner) = owner {
                    self.owners.write().expect("owners lock").insert(bucket, owner);
                }
                Ok(())
            }
        }
    }

    pub fn bucket(&self, name: &str) -> Result<BucketInfo> {
        let txn = self.store.read()?;
        let buckets = txn.open_table(record::BUCKETS)?;
        let value = buckets.get(name)?.ok_or(ObjectsError::NoSuchBucket)?;
        let rec = BucketRecord::decode(value.value())?;
        Ok(BucketInfo {
            name: name.to_string(),
            created_ns: rec.created_ns,
            region: rec.region,
            versioning: rec.versioning,
        })
    }

    pub fn list_buckets(&self) -> Result<Vec<BucketInfo>> {
        let txn = self.store.read()?;
        let buckets = txn.open_table(record::BUCKETS)?;
        let mut out = Vec::new();
        for entry in buckets.iter()? {
            let (name, value) = entry?;
            let rec = BucketRecord::decode(value.value())?;
            out.push(BucketInfo {
                name: name.value().to_string(),
                created_ns: rec.created_ns,
                region: rec.region,
                versioning: rec.versioning,
            });
        }
        Ok(out)
    }

    pub async fn delete_bucket(&self, name: &str) -> Result<()> {
        let _change = self.policy_changes.lock().await;
        let name_for_cache = name.to_string();
        let name = name.to_string();
        self.store
            .write(move |txn| {
                let mut buckets = txn.open_table(record::BUCKETS)?;
                if buckets.get(name.as_str())?.is_none() {
                    return Ok(Err(ObjectsError::NoSuchBucket));
                }
                let versions = txn.open_table(record::VERSIONS)?;
                if versions
                    .range((name.as_str(), "", 0)..)?
                    .next()
                    .transpose()?
                    .is_some_and(|(k, _)| k.value().0 == name)
                {
                    return Ok(Err(ObjectsError::BucketNotEmpty));
                }
                let uploads = txn.open_table(record::UPLOADS)?;
                if uploads
                    .range((name.as_str(), "", "")..)?
                    .next()
                    .transpose()?
                    .is_some_and(|(k, _)| k.value().0 == name)
                {
                    return Ok(Err(ObjectsError::BucketNotEmpty));
                }
                buckets.remove(name.as_str())?;
                txn.open_table(BUCKET_POLICIES)?.remove(name.as_str())?;
                txn.open_table(BUCKET_ENCRYPTION)?.remove(name.as_str())?;
                txn.open_table(PUBLIC_ACCESS_BLOCKS)?.remove(name.as_str())?;
                txn.open_table(BUCKET_OWNERS)?.remove(name.as_str())?;
                Ok(Ok(()))
            })
            .await??;
        self.policies.write().expect("policies lock").remove(name_for_cache.as_str());
        self.owners.write().expect("owners lock").remove(name_for_cache.as_str());
        Ok(())
    }

    pub async fn set_versioning(&self, name: &str, enabled: bool) -> Result<()> {
        let name = name.to_string();
        self.store
            .write(move |txn| {
                let mut buckets = txn.open_table(record::BUCKETS)?;
                let Some(value) = buckets.get(name.as_str())? else {
                    return Ok(Err(ObjectsError::NoSuchBucket));
                };
                let mut rec = BucketRecord::decode(value.value())?;
                drop(value);
                rec.versioning = if enabled { Versioning::Enabled } else { Versioning::Suspended };
                buckets.insert(name.as_str(), rec.encode().as_slice())?;
                Ok(Ok(()))
            })
            .await?
    }
}

/// S3's bucket naming rules (general purpose buckets).
pub fn validate_bucket_name(name: &str) -> Result<()> {
    let bad = |why: &str| Err(ObjectsError::InvalidBucketName(format!("{name}: {why}")));
    if name.len() < limits::BUCKET_NAME_LENGTH_MIN || name.len() > limits::BUCKET_NAME_LENGTH_MAX {
        return bad("bucket names must be between 3 and 63 characters long");
    }
    if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-') {
        return bad("bucket names can consist only of lowercase letters, numbers, dots and hyphens");
    }
    let first = name.as_bytes()[0];
    let last = name.as_bytes()[name.len() - 1];
    if !(first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric()) {
        return bad("bucket names must begin and end with a letter or number");
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return bad("bucket names must not contain two adjacent periods");
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return bad("bucket names must not be formatted as an IP address");
    }
    if name.starts_with("xn--") || name.starts_with("sthree-") || name.starts_with("amzn-s3-demo-") {
        return bad("bucket names must not start with a reserved prefix");
    }
    if name.ends_with("-s3alias") || name.ends_with("--ol-s3") || name.ends_with(".mrap") || name.ends_with("--x-s3") {
        return bad("bucket names must not end with a reserved suffix");
    }
    Ok(())
}

/// Reads the bucket record inside a write transaction.
pub(crate) fn bucket_in(txn: &redb::WriteTransaction, name: &str) -> Result<Option<BucketRecord>, StoreError> {
    let buckets = txn.open_table(record::BUCKETS)?;
    let value = buckets.get(name)?;
    value.map(|v| BucketRecord::decode(v.value())).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        for good in ["abc", "my-bucket", "my.bucket.1", "a1b", &"a".repeat(63)] {
            assert!(validate_bucket_name(good).is_ok(), "{good}");
        }
        for bad in
            ["ab", "ABC", "-abc", "abc-", "a..b", "192.168.1.1", "xn--abc", "a_b", &"a".repeat(64), "abc-s3alias"]
        {
            assert!(validate_bucket_name(bad).is_err(), "{bad}");
        }
    }
}
