//! Who keeps an object's data key: the master key (SSE-S3), a KMS key (SSE-KMS, with or without
//! a bucket key) or the customer (SSE-C). See docs/architecture.md, "Objects under KMS keys".

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tarn_kms::{Kms, KmsError};
use tarn_store::{DataKey, KeyWrapper, StoreError};

use crate::{Objects, ObjectsError, Result};

/// How long a bucket key made for writes is used before KMS is asked for a new one.
const BUCKET_KEY_LIFETIME: Duration = Duration::from_secs(600);
/// Opened bucket keys kept for reads.
const OPENED_BUCKET_KEYS_MAX: usize = 1024;
/// The context key S3 binds every SSE-KMS data key to.
pub const S3_ARN_CONTEXT: &str = "aws:s3:arn";

/// How a stored object's (or upload's) data key is kept; see the table in docs/architecture.md.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub enum Sse {
    /// Wrapped by the data dir's master key.
    #[default]
    S3,
    Kms(KmsSse),
    Customer(CustomerSse),
}

/// An SSE-KMS object's key: `wrapped_key` is a KMS blob of the data key under `context`, or,
/// with a bucket key, the data key wrapped by the bucket key whose blob is `bucket_key`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct KmsSse {
    pub key_arn: String,
    /// The whole encryption context of the blob (`aws:s3:arn` included), sorted by key.
    pub context: Vec<(String, String)>,
    pub bucket_key: Option<Vec<u8>>,
    /// `aws:kms:dsse` was asked for (reported back; sealed as `aws:kms`).
    pub dsse: bool,
}

/// An SSE-C object's key check: the data key is wrapped by the customer's key, which is kept
/// nowhere; a salted HMAC of it tells a wrong key from a damaged record.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct CustomerSse {
    /// Base64 MD5 of the customer's key, as S3 reports it.
    pub key_md5: String,
    pub salt: Vec<u8>,
    pub hmac: Vec<u8>,
}

impl Sse {
    /// `x-amz-server-side-encryption` of an object under this.
    #[must_use]
    pub fn algorithm(&self) -> &'static str {
        match self {
            Self::S3 | Self::Customer(_) => "AES256",
            Self::Kms(k) if k.dsse => "aws:kms:dsse",
            Self::Kms(_) => "aws:kms",
        }
    }

    #[must_use]
    pub fn kms(&self) -> Option<&KmsSse> {
        match self {
            Self::Kms(k) => Some(k),
            _ => None,
        }
    }

    #[must_use]
    pub fn customer(&self) -> Option<&CustomerSse> {
        match self {
            Self::Customer(c) => Some(c),
            _ => None,
        }
    }
}

/// A customer's SSE-C key, as a request carried it (checked against its MD5 by the caller).
#[derive(Clone)]
pub struct CustomerKey {
    pub key: [u8; 32],
    /// Base64 MD5 of `key`.
    pub key_md5: String,
}

impl Drop for CustomerKey {
    fn drop(&mut self) {
        self.key.fill(0);
    }
}

impl std::fmt::Debug for CustomerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CustomerKey({})", self.key_md5)
    }
}

/// The encryption a write asks for.
#[derive(Clone, Debug, Default)]
pub enum SseRequest {
    /// None named: the bucket's default encryption (SSE-S3 when it has none).
    #[default]
    BucketDefault,
    S3,
    /// SSE-KMS under `key` (an id, ARN or alias; none: the account's `aws/s3` key) of
    /// `account`, with the caller's extra encryption context.
    Kms {
        account: String,
        key: Option<String>,
        context: BTreeMap<String, String>,
        bucket_key: bool,
        dsse: bool,
    },
    Customer(CustomerKey),
}

/// A bucket key for writes: the key, its KMS blob, and when it was made.
type BucketKey = (KeyWrapper, Vec<u8>, Instant);

/// The KMS a store's objects are kept under, set once at start.
#[derive(Default)]
pub(crate) struct Keyring {
    kms: OnceLock<(Kms, String)>,
    /// (bucket, key ARN) -> a bucket key for writes, its blob, and when it was made.
    writing: Mutex<HashMap<(String, String), BucketKey>>,
    /// Bucket-key blob -> the opened bucket key.
    reading: Mutex<HashMap<Vec<u8>, KeyWrapper>>,
}

fn kms_error(e: KmsError) -> ObjectsError {
    match e {
        KmsError::Store(s) => ObjectsError::Store(s),
        other => ObjectsError::Kms(other),
    }
}

/// `arn:aws:s3:::<bucket>` or `arn:aws:s3:::<bucket>/<key>`.
#[must_use]
pub fn s3_arn(bucket: &str, key: Option<&str>) -> String {
    match key {
        Some(k) => format!("arn:aws:s3:::{bucket}/{k}"),
        None => format!("arn:aws:s3:::{bucket}"),
    }
}

/// `alias/aws/s3` (or its ARN): the AWS managed key, which exists once named.
#[must_use]
pub fn names_managed_key(reference: &str) -> bool {
    reference == "alias/aws/s3" || (reference.starts_with("arn:") && reference.ends_with(":alias/aws/s3"))
}

fn customer_hmac(salt: &[u8], key: &[u8; 32]) -> Vec<u8> {
    ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, salt), key).as_ref().to_vec()
}

impl Objects {
    /// Serves SSE-KMS from `kms`; `home_account` owns buckets without a recorded owner.
    pub fn set_kms(&self, kms: Kms, home_account: &str) {
        let _ = self.keyring.kms.set((kms, home_account.to_string()));
    }

    fn kms(&self) -> Result<&Kms> {
        self.keyring.kms.get().map(|(k, _)| k).ok_or_else(|| {
            ObjectsError::InvalidArgument("this server keeps no KMS keys: SSE-KMS is not available".into())
        })
    }

    /// What a write of `bucket/key` will be sealed with: the bucket's default in place of
    /// [`SseRequest::BucketDefault`], and a KMS key named by its ARN (the `aws/s3` key made
    /// when none is named). The caller authorizes `kms:GenerateDataKey` on that ARN.
    pub async fn resolve_sse(&self, bucket: &str, request: SseRequest) -> Result<SseRequest> {
        let request = match request {
            SseRequest::BucketDefault => {
                let default = self.bucket_encryption(bucket)?;
                if default.algorithm.starts_with("aws:kms") {
                    let account = match self.bucket_owner(bucket) {
                        Some(owner) => owner,
                        None => self.keyring.kms.get().map(|(_, home)| home.clone()).unwrap_or_default(),
                    };
                    SseRequest::Kms {
                        account,
                        key: default.kms_key,
                        context: BTreeMap::new(),
                        bucket_key: default.bucket_key,
                        dsse: default.algorithm == "aws:kms:dsse",
                    }
                } else {
                    SseRequest::S3
                }
            }
            other => other,
        };
        let SseRequest::Kms { account, key, context, bucket_key, dsse } = request else { return Ok(request) };
        let kms = self.kms()?;
        let arn = match key {
            Some(reference) if !names_managed_key(&reference) => {
                kms.encryption_key_arn(&account, &reference).await.map_err(kms_error)?
            }
            _ => kms.managed_key(&account, "s3").await.map_err(kms_error)?.arn,
        };
        Ok(SseRequest::Kms { account, key: Some(arn), context, bucket_key, dsse })
    }

    /// A fresh data key for an object (or upload) `bucket/key`, its kept form and how it is
    /// kept.
    pub(crate) async fn new_data_key(
        &self,
        bucket: &str,
        object_key: &str,
        request: SseRequest,
    ) -> Result<(DataKey, Vec<u8>, Sse)> {
        match self.resolve_sse(bucket, request).await? {
            SseRequest::BucketDefault | SseRequest::S3 => {
                let (data_key, wrapped) = self.store.master_key().new_data_key();
                Ok((data_key, wrapped, Sse::S3))
            }
            SseRequest::Customer(customer) => {
                let wrapper = KeyWrapper::from_bytes(&customer.key).expect("32 bytes");
                let (data_key, wrapped) = wrapper.new_data_key();
                let salt = tarn_kms::cipher::random(16);
                let hmac = customer_hmac(&salt, &customer.key);
                Ok((data_key, wrapped, Sse::Customer(CustomerSse { key_md5: customer.key_md5.clone(), salt, hmac })))
            }
            SseRequest::Kms { account, key, context, bucket_key, dsse } => {
                let kms = self.kms()?;
                let key_arn = key.expect("resolved to an ARN");
                if bucket_key {
                    let (wrapper, blob) = self.bucket_key_for_writes(kms, &account, bucket, &key_arn).await?;
                    let (data_key, wrapped) = wrapper.new_data_key();
                    let context = vec![(S3_ARN_CONTEXT.to_string(), s3_arn(bucket, None))];
                    return Ok((
                        data_key,
                        wrapped,
                        Sse::Kms(KmsSse { key_arn, context, bucket_key: Some(blob), dsse }),
                    ));
                }
                let mut context = context;
                context.insert(S3_ARN_CONTEXT.into(), s3_arn(bucket, Some(object_key)));
                let (mut plain, blob, key_arn) =
                    kms.generate_data_key(&account, &key_arn, 32, &context).await.map_err(kms_error)?;
                let data_key =
                    DataKey::from_secret(&plain).ok_or_else(|| StoreError::Bug("a 32-byte data key".into()))?;
                plain.fill(0);
                let context = context.into_iter().collect();
                Ok((data_key, blob, Sse::Kms(KmsSse { key_arn, context, bucket_key: None, dsse })))
            }
        }
    }

    async fn bucket_key_for_writes(
        &self,
        kms: &Kms,
        account: &str,
        bucket: &str,
        key_arn: &str,
    ) -> Result<(KeyWrapper, Vec<u8>)> {
        let slot = (bucket.to_string(), key_arn.to_string());
        let cached = self.keyring.writing.lock().unwrap_or_else(PoisonError::into_inner).get(&slot).cloned();
        if let Some((wrapper, blob, made)) = cached
            && made.elapsed() < BUCKET_KEY_LIFETIME
        {
            // a key disabled meanwhile stops writes at once
            kms.blob_key_usable(&blob).map_err(kms_error)?;
            return Ok((wrapper, blob));
        }
        let context = BTreeMap::from([(S3_ARN_CONTEXT.to_string(), s3_arn(bucket, None))]);
        let (mut plain, blob, _) = kms.generate_data_key(account, key_arn, 32, &context).await.map_err(kms_error)?;
        let wrapper = KeyWrapper::from_bytes(&plain).ok_or_else(|| StoreError::Bug("a 32-byte bucket key".into()))?;
        plain.fill(0);
        let mut writing = self.keyring.writing.lock().unwrap_or_else(PoisonError::into_inner);
        writing.retain(|_, (_, _, made)| made.elapsed() < BUCKET_KEY_LIFETIME);
        writing.insert(slot, (wrapper.clone(), blob.clone(), Instant::now()));
        Ok((wrapper, blob))
    }

    /// Opens the data key of a stored object or upload. An SSE-C object needs the customer's
    /// key (`customer`); every other kind refuses one.
    pub(crate) fn open_data_key(&self, sse: &Sse, wrapped: &[u8], customer: Option<&CustomerKey>) -> Result<DataKey> {
        match sse {
            Sse::S3 | Sse::Kms(_) if customer.is_some() => {
                Err(ObjectsError::InvalidRequest("The encryption parameters are not applicable to this object.".into()))
            }
            Sse::S3 => Ok(self.store.master_key().unwrap_data_key(wrapped)?),
            Sse::Customer(c) => {
                let Some(customer) = customer else {
                    return Err(ObjectsError::InvalidRequest(
                        "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object."
                            .into(),
                    ));
                };
                if customer_hmac(&c.salt, &customer.key) != c.hmac {
                    return Err(ObjectsError::AccessDenied);
                }
                let wrapper = KeyWrapper::from_bytes(&customer.key).expect("32 bytes");
                wrapper
                    .unwrap_data_key(wrapped)
                    .ok_or_else(|| ObjectsError::Store(StoreError::Corrupt("SSE-C data key does not unwrap".into())))
            }
            Sse::Kms(k) => {
                let kms = self.kms()?;
                if let Some(blob) = &k.bucket_key {
                    let wrapper = self.opened_bucket_key(kms, blob, &k.context)?;
                    return wrapper.unwrap_data_key(wrapped).ok_or_else(|| {
                        ObjectsError::Store(StoreError::Corrupt("data key does not unwrap under its bucket key".into()))
                    });
                }
                let context: BTreeMap<String, String> = k.context.iter().cloned().collect();
                let (mut plain, _) = kms.open_blob(wrapped, &context).map_err(kms_error)?;
                let data_key = DataKey::from_secret(&plain)
                    .ok_or_else(|| ObjectsError::Store(StoreError::Corrupt("a KMS data key is not 32 bytes".into())));
                plain.fill(0);
                data_key
            }
        }
    }

    /// Whether `who` may do `action` (`kms:<Operation>`) with the key `key_arn` of `key_account`
    /// under `key_policy`: its identity policies and the key's policy, or else a grant to it for
    /// `grant_operation` whose constraints `encryption_context` meets (never against an explicit
    /// Deny). The one decision of key use: the KMS API, S3's SSE-KMS and the query engine's reads
    /// all ask it. `Err` is the policies' verdict.
    #[allow(clippy::too_many_arguments)]
    pub fn authorize_key(
        &self,
        iam: &tarn_iam::Iam,
        who: &tarn_iam::Principal,
        action: &str,
        grant_operation: &str,
        key_arn: &str,
        key_account: &str,
        key_policy: Option<&tarn_iam::policy::Policy>,
        context: &tarn_iam::policy::Context,
        encryption_context: &BTreeMap<String, String>,
    ) -> std::result::Result<(), tarn_iam::policy::Verdict> {
        let verdict = iam.authorize(who, action, key_arn, context, key_policy, key_account);
        if verdict.allowed() {
            return Ok(());
        }
        let granted = verdict == tarn_iam::policy::Verdict::ImplicitDeny
            && self.kms().is_ok_and(|k| k.granted(key_arn, &who.arn, grant_operation, encryption_context));
        if granted { Ok(()) } else { Err(verdict) }
    }

    /// [`Objects::authorize_key`] of kms:Decrypt for reading a stored SSE-KMS object as `who`
    /// (the query engine's reads); Ok for every other object.
    pub fn authorize_read_key(
        &self,
        iam: &tarn_iam::Iam,
        who: &tarn_iam::Principal,
        sse: &Sse,
        context: &tarn_iam::policy::Context,
    ) -> std::result::Result<(), String> {
        let Sse::Kms(k) = sse else { return Ok(()) };
        if iam.is_home_root(who) {
            return Ok(());
        }
        let account = k.key_arn.split(':').nth(4).unwrap_or_default();
        let Some((_, policy)) = self.kms().ok().and_then(|kms| kms.access_of(account, &k.key_arn)) else {
            return Err(format!("the KMS key {} does not exist", k.key_arn));
        };
        let policy = tarn_iam::policy::Policy::parse_as(&policy, tarn_iam::policy::Kind::Resource).ok();
        let encryption_context: BTreeMap<String, String> = k.context.iter().cloned().collect();
        self.authorize_key(
            iam,
            who,
            "kms:Decrypt",
            "Decrypt",
            &k.key_arn,
            account,
            policy.as_ref(),
            context,
            &encryption_context,
        )
        .map_err(|_| {
            let who = if who.arn.is_empty() { "anonymous" } else { who.arn.as_str() };
            format!("User: {who} is not authorized to perform: kms:Decrypt on resource: {}", k.key_arn)
        })
    }

    /// Whether a read may go on with the customer key it carries (or none): an SSE-C object
    /// needs its own key, any other object refuses one. Asks no KMS key (HEAD of an SSE-KMS
    /// object works while its key is disabled, as in S3).
    pub fn check_customer_key(&self, found: &crate::Found) -> Result<()> {
        let rec = &found.record;
        if found.customer_key.is_none() && !matches!(rec.sse, Sse::Customer(_)) {
            return Ok(());
        }
        let wrapped = rec.data.as_ref().map(|d| d.wrapped_key.as_slice()).unwrap_or_default();
        self.open_data_key(&rec.sse, wrapped, found.customer_key.as_ref()).map(drop)
    }

    fn opened_bucket_key(&self, kms: &Kms, blob: &[u8], context: &[(String, String)]) -> Result<KeyWrapper> {
        // a cached bucket key is used only while its KMS key may be used
        kms.blob_key_usable(blob).map_err(kms_error)?;
        if let Some(w) = self.keyring.reading.lock().unwrap_or_else(PoisonError::into_inner).get(blob) {
            return Ok(w.clone());
        }
        let context: BTreeMap<String, String> = context.iter().cloned().collect();
        let (mut plain, _) = kms.open_blob(blob, &context).map_err(kms_error)?;
        let wrapper = KeyWrapper::from_bytes(&plain)
            .ok_or_else(|| ObjectsError::Store(StoreError::Corrupt("a bucket key is not 32 bytes".into())));
        plain.fill(0);
        let wrapper = wrapper?;
        let mut reading = self.keyring.reading.lock().unwrap_or_else(PoisonError::into_inner);
        if reading.len() >= OPENED_BUCKET_KEYS_MAX {
            reading.clear();
        }
        reading.insert(blob.to_vec(), wrapper.clone());
        Ok(wrapper)
    }
}

/// Shared by clones of [`Objects`].
pub(crate) type SharedKeyring = Arc<Keyring>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChecksumInput, GetTarget, ObjectMeta, PutRequest, WriteConditions};
    use tarn_store::record::Record as _;

    /// What S3's answers cannot show: an SSE-C object's data key is kept by the customer's key
    /// alone. The master key does not open it (a regression that sealed SSE-C objects as SSE-S3
    /// and kept the key check would still answer 403 to a wrong key over the wire).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_sse_c_data_key_opens_under_the_customers_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = tarn_store::Store::open(dir.path()).unwrap();
        let objects = crate::Objects::open(store.clone(), "us-east-1").await.unwrap();
        objects.create_bucket("ssec").await.unwrap();
        let secret = [7u8; 32];
        let customer = || CustomerKey { key: secret, key_md5: "ignored-here".into() };
        let body = bytes::Bytes::from_static(b"under the customer's own key");
        objects
            .put_object(PutRequest {
                bucket: "ssec".into(),
                key: "c".into(),
                meta: ObjectMeta::default(),
                body: Box::pin(futures::stream::once(async move { Ok::<_, crate::BoxError>(body) })),
                declared_len: Some(28),
                content_md5: None,
                checksum: ChecksumInput::Compute(crate::checksum::ChecksumAlgorithm::Crc64Nvme),
                conditions: WriteConditions::default(),
                sse: SseRequest::Customer(customer()),
            })
            .await
            .unwrap();
        let found = objects.lookup("ssec", "c", &GetTarget::Current).unwrap();
        assert!(matches!(found.record.sse, Sse::Customer(_)), "{:?}", found.record.sse);
        let wrapped = &found.record.data.as_ref().unwrap().wrapped_key;
        assert!(store.master_key().unwrap_data_key(wrapped).is_err(), "the master key opens an SSE-C data key");
        assert!(KeyWrapper::from_bytes(&secret).unwrap().unwrap_data_key(wrapped).is_some());
        assert!(KeyWrapper::from_bytes(&[8u8; 32]).unwrap().unwrap_data_key(wrapped).is_none());
        // and the record keeps no copy of the key
        let record = found.record.encode();
        assert!(!record.windows(32).any(|w| w == secret), "the record holds the customer's key");
        assert!(objects.open_data_key(&found.record.sse, wrapped, Some(&customer())).is_ok());
        assert!(matches!(
            objects.open_data_key(&found.record.sse, wrapped, None),
            Err(ObjectsError::InvalidRequest(_))
        ));
    }
}
