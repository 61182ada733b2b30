//! KMS keys (see docs/architecture.md, "Keys"): customer and AWS managed symmetric keys and
//! HMAC keys, their key materials sealed under the data dir's master key, aliases, grants, key
//! policies, rotation and key states. Self-describing ciphertexts ([`cipher`]).
//!
//! Every change is one group commit; the keys live in memory too (written through, after the
//! commit is durable).

pub mod cipher;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use redb::{ReadableTable, TableDefinition};
use ring::aead::LessSafeKey;
use serde::{Deserialize, Serialize};
use tarn_store::{DataKey, Store, StoreError};

pub use cipher::BlobHeader;

const KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("kms_keys");
const ALIASES: TableDefinition<&str, &[u8]> = TableDefinition::new("kms_aliases");
const GRANTS: TableDefinition<&str, &[u8]> = TableDefinition::new("kms_grants");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("kms_meta");
const DATA_KEY: &str = "data-key";

const DAY_MS: i64 = 86_400_000;
/// AWS's bounds of a pending deletion, in days.
pub const PENDING_WINDOW_DAYS: std::ops::RangeInclusive<i32> = 7..=30;
/// AWS's bounds and default of an automatic rotation period, in days.
pub const ROTATION_PERIOD_DAYS: std::ops::RangeInclusive<i32> = 90..=2560;
pub const ROTATION_PERIOD_DEFAULT: i32 = 365;
/// On-demand rotations a key may have (AWS: 10).
pub const ON_DEMAND_ROTATIONS_MAX: usize = 10;
/// Grants a key may have (AWS: 50,000).
pub const GRANTS_PER_KEY_MAX: usize = 50_000;

#[derive(Debug, thiserror::Error)]
pub enum KmsError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    /// The key is disabled.
    #[error("{0} is disabled.")]
    Disabled(String),
    /// The key's state does not allow the request (pending deletion, ...).
    #[error("{0}")]
    InvalidState(String),
    /// Not one of this server's ciphertexts, or not under this context.
    #[error("")]
    InvalidCiphertext,
    /// The KeyId given does not match the ciphertext's key.
    #[error("The key ID in the request does not identify a CMK that can perform this operation.")]
    IncorrectKey,
    #[error("{0}")]
    InvalidKeyUsage(String),
    #[error("{0}")]
    InvalidAliasName(String),
    #[error("{0}")]
    InvalidArn(String),
    #[error("{0}")]
    InvalidGrantToken(String),
    #[error("{0}")]
    InvalidGrantId(String),
    #[error("{0}")]
    InvalidMac(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Tag(String),
    /// The caller may not (retire a grant that is not theirs).
    #[error("{0}")]
    AccessDenied(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type Result<T> = std::result::Result<T, KmsError>;

/// What a key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeySpec {
    /// AES-256-GCM: Encrypt, Decrypt, ReEncrypt, GenerateDataKey.
    SymmetricDefault,
    /// HMAC-SHA-256: GenerateMac, VerifyMac.
    Hmac256,
}

impl KeySpec {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::SymmetricDefault => "SYMMETRIC_DEFAULT",
            Self::Hmac256 => "HMAC_256",
        }
    }

    #[must_use]
    pub fn usage(self) -> &'static str {
        match self {
            Self::SymmetricDefault => "ENCRYPT_DECRYPT",
            Self::Hmac256 => "GENERATE_VERIFY_MAC",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyState {
    Enabled,
    Disabled,
    PendingDeletion,
}

impl KeyState {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Enabled => "Enabled",
            Self::Disabled => "Disabled",
            Self::PendingDeletion => "PendingDeletion",
        }
    }
}

/// One version of a key's material.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Material {
    version: u32,
    /// Unix milliseconds.
    created: i64,
    /// `hex(prefix || sealed)` under the KMS data key.
    sealed: String,
    /// How it came: None for the first, else "AUTOMATIC" or "ON_DEMAND".
    #[serde(default)]
    rotation: Option<String>,
}

/// A key as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct KeyRecord {
    id: String,
    account: String,
    region: String,
    spec: KeySpec,
    state: KeyState,
    /// Whether AWS manages it (`aws/s3`), not the customer.
    aws_managed: bool,
    created: i64,
    description: String,
    policy: String,
    tags: BTreeMap<String, String>,
    /// Unix milliseconds of the deletion, while pending deletion.
    deletion: Option<i64>,
    pending_days: Option<i32>,
    /// Automatic rotation: its period in days, when enabled.
    rotation_days: Option<i32>,
    materials: Vec<Material>,
}

/// A key as callers see it (DescribeKey's KeyMetadata).
#[derive(Debug, Clone)]
pub struct KeyMetadata {
    pub id: String,
    pub arn: String,
    pub account: String,
    pub spec: KeySpec,
    pub state: KeyState,
    pub aws_managed: bool,
    /// Unix milliseconds.
    pub created: i64,
    pub description: String,
    pub deletion: Option<i64>,
    pub pending_days: Option<i32>,
}

impl KeyRecord {
    fn arn(&self) -> String {
        key_arn(&self.region, &self.account, &self.id)
    }

    fn metadata(&self) -> KeyMetadata {
        KeyMetadata {
            id: self.id.clone(),
            arn: self.arn(),
            account: self.account.clone(),
            spec: self.spec,
            state: self.state,
            aws_managed: self.aws_managed,
            created: self.created,
            description: self.description.clone(),
            deletion: self.deletion,
            pending_days: self.pending_days,
        }
    }
}

#[must_use]
pub fn key_arn(region: &str, account: &str, id: &str) -> String {
    format!("arn:aws:kms:{region}:{account}:key/{id}")
}

#[must_use]
pub fn alias_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:kms:{region}:{account}:{name}")
}

/// An alias as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Alias {
    pub account: String,
    /// `alias/...`.
    pub name: String,
    pub target: String,
    pub created: i64,
    pub updated: i64,
}

/// What a grant lets its grantee do, and under which encryption contexts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantConstraints {
    pub context_subset: Option<BTreeMap<String, String>>,
    pub context_equals: Option<BTreeMap<String, String>>,
}

impl GrantConstraints {
    fn allow(&self, context: &BTreeMap<String, String>) -> bool {
        let subset = self.context_subset.as_ref().is_none_or(|s| s.iter().all(|(k, v)| context.get(k) == Some(v)));
        let equals = self.context_equals.as_ref().is_none_or(|e| e == context);
        subset && equals
    }
}

/// A grant as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Grant {
    pub id: String,
    pub key_id: String,
    pub account: String,
    pub name: Option<String>,
    pub grantee: String,
    pub retiring: Option<String>,
    pub issuing: String,
    pub operations: Vec<String>,
    pub constraints: GrantConstraints,
    pub created: i64,
    pub token: String,
}

/// A new key's settings (CreateKey).
#[derive(Debug, Clone, Default)]
pub struct NewKey {
    pub spec: Option<KeySpec>,
    pub description: String,
    pub policy: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// A rotation of a key's material (ListKeyRotations).
#[derive(Debug, Clone)]
pub struct Rotation {
    pub date: i64,
    pub kind: String,
}

/// GetKeyRotationStatus's answer.
#[derive(Debug, Clone)]
pub struct RotationStatus {
    pub enabled: bool,
    pub period_days: Option<i32>,
    pub next: Option<i64>,
}

/// The clock KMS reads (Unix milliseconds): the wall clock, or a test's.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

struct State {
    keys: HashMap<String, KeyRecord>,
    /// `<account>/<alias name>` -> alias.
    aliases: BTreeMap<String, Alias>,
    grants: BTreeMap<String, Grant>,
}

struct Inner {
    store: Store,
    region: String,
    sealer: DataKey,
    clock: Clock,
    state: RwLock<State>,
    /// Unsealed materials by (key id, version).
    ciphers: Mutex<HashMap<(String, u32), Arc<LessSafeKey>>>,
    hmacs: Mutex<HashMap<String, ring::hmac::Key>>,
    /// One change at a time: the disk and memory stay in step.
    writer: tokio::sync::Mutex<()>,
    /// One AWS managed key made at a time.
    managed: tokio::sync::Mutex<()>,
}

/// The keys of every account of the server.
#[derive(Clone)]
pub struct Kms {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Kms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kms")
    }
}

fn corrupt(e: impl std::fmt::Display) -> KmsError {
    KmsError::Store(StoreError::Corrupt(format!("kms record: {e}")))
}

fn rows(txn: &redb::ReadTransaction, table: TableDefinition<&str, &[u8]>) -> Result<Vec<(String, Vec<u8>)>> {
    match txn.open_table(table) {
        Ok(t) => {
            let mut out = Vec::new();
            for row in t.iter().map_err(StoreError::from)? {
                let (k, v) = row.map_err(StoreError::from)?;
                out.push((k.value().to_string(), v.value().to_vec()));
            }
            Ok(out)
        }
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(Vec::new()),
        Err(e) => Err(StoreError::from(e).into()),
    }
}

/// AWS's default key policy: the account's root may do everything, which lets the account's
/// IAM policies decide.
#[must_use]
pub fn default_policy(account: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [{
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
            "Action": "kms:*",
            "Resource": "*"
        }]
    })
    .to_string()
}

impl Kms {
    /// Opens the keys of the data dir (its KMS data key made on first use).
    pub async fn open(store: Store, region: &str) -> Result<Self> {
        let clock: Clock = Arc::new(|| tarn_common::now_unix_nanos() / 1_000_000);
        Self::open_with_clock(store, region, clock).await
    }

    /// [`Kms::open`] on a given clock (tests move it).
    pub async fn open_with_clock(store: Store, region: &str, clock: Clock) -> Result<Self> {
        let (keys, aliases, grants) = {
            let txn = store.read()?;
            (rows(&txn, KEYS)?, rows(&txn, ALIASES)?, rows(&txn, GRANTS)?)
        };
        let sealer = store.service_data_key(META, DATA_KEY).await?;
        let mut state = State { keys: HashMap::new(), aliases: BTreeMap::new(), grants: BTreeMap::new() };
        for (k, v) in keys {
            state.keys.insert(k, serde_json::from_slice(&v).map_err(corrupt)?);
        }
        for (k, v) in aliases {
            state.aliases.insert(k, serde_json::from_slice(&v).map_err(corrupt)?);
        }
        for (k, v) in grants {
            state.grants.insert(k, serde_json::from_slice(&v).map_err(corrupt)?);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                region: region.to_string(),
                sealer,
                clock,
                state: RwLock::new(state),
                ciphers: Mutex::default(),
                hmacs: Mutex::default(),
                writer: tokio::sync::Mutex::new(()),
                managed: tokio::sync::Mutex::new(()),
            }),
        })
    }

    #[must_use]
    pub fn region(&self) -> &str {
        &self.inner.region
    }

    fn now(&self) -> i64 {
        (self.inner.clock)()
    }

    fn state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.inner.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn state_mut(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.inner.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn seal_material(&self, material: &[u8]) -> String {
        let prefix: [u8; 8] = cipher::random(8).try_into().expect("8 bytes");
        let mut out = Vec::new();
        self.inner.sealer.seal_chunk(prefix, 0, true, material, &mut out);
        let mut all = prefix.to_vec();
        all.extend_from_slice(&out);
        hex::encode(all)
    }

    fn open_material(&self, sealed: &str) -> Result<Vec<u8>> {
        let bytes = hex::decode(sealed).map_err(corrupt)?;
        if bytes.len() < 8 {
            return Err(corrupt("sealed material too short"));
        }
        let prefix: [u8; 8] = bytes[..8].try_into().map_err(corrupt)?;
        let mut body = bytes[8..].to_vec();
        self.inner.sealer.open_chunk(prefix, 0, true, &mut body).map_err(KmsError::Store)?;
        Ok(body)
    }

    fn new_material(&self, version: u32, rotation: Option<&str>) -> Material {
        Material {
            version,
            created: self.now(),
            sealed: self.seal_material(&cipher::random(32)),
            rotation: rotation.map(str::to_string),
        }
    }

    /// Writes one record (`Some`) or removes it (`None`) durably, in its own group commit.
    async fn write_row<T: Serialize>(
        &self,
        table: TableDefinition<'static, &'static str, &'static [u8]>,
        key: &str,
        value: Option<&T>,
    ) -> Result<()> {
        let bytes = value.map(|v| serde_json::to_vec(v).map_err(corrupt)).transpose()?;
        let key = key.to_string();
        self.inner
            .store
            .write(move |txn| {
                let mut t = txn.open_table(table)?;
                match &bytes {
                    Some(b) => drop(t.insert(key.as_str(), b.as_slice())?),
                    None => drop(t.remove(key.as_str())?),
                }
                Ok(())
            })
            .await?;
        Ok(())
    }

    /// Writes `key` (and nothing else) durably, then into memory.
    async fn put_key(&self, key: KeyRecord) -> Result<()> {
        self.write_row(KEYS, &key.id, Some(&key)).await?;
        self.state_mut().keys.insert(key.id.clone(), key);
        Ok(())
    }

    // ---- finding keys -------------------------------------------------------------------

    /// The key id a reference names in `account`: a key id, a key ARN, an alias name or an
    /// alias ARN.
    fn resolve(&self, account: &str, reference: &str) -> Result<String> {
        let s = self.state();
        let not_found = |what: &str| KmsError::NotFound(what.to_string());
        if let Some(rest) = reference.strip_prefix("arn:") {
            // arn:aws:kms:<region>:<account>:key/<id> | alias/<name>
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            if parts.len() != 5 || parts[1] != "kms" {
                return Err(KmsError::InvalidArn(format!("Invalid arn {reference}")));
            }
            let (arn_account, resource) = (parts[3], parts[4]);
            // another account's keys are not served: a key is used and managed by its own
            // account (AWS would also let another account use it when the key policy allows)
            if arn_account != account {
                return Err(not_found(&format!("Key '{reference}' does not exist")));
            }
            if let Some(id) = resource.strip_prefix("key/") {
                return match s.keys.get(id) {
                    Some(k) if k.account == arn_account && k.region == parts[2] => Ok(id.to_string()),
                    _ => Err(not_found(&format!("Key '{reference}' does not exist"))),
                };
            }
            if resource.starts_with("alias/") {
                return s
                    .aliases
                    .get(&format!("{arn_account}/{resource}"))
                    .map(|a| a.target.clone())
                    .ok_or_else(|| not_found(&format!("Alias {reference} is not found.")));
            }
            return Err(KmsError::InvalidArn(format!("Invalid arn {reference}")));
        }
        if reference.starts_with("alias/") {
            return s.aliases.get(&format!("{account}/{reference}")).map(|a| a.target.clone()).ok_or_else(|| {
                not_found(&format!("Alias {} is not found.", alias_arn(&self.inner.region, account, reference)))
            });
        }
        match s.keys.get(reference) {
            Some(k) if k.account == account => Ok(reference.to_string()),
            _ => Err(not_found(&format!("Key '{}' does not exist", key_arn(&self.inner.region, account, reference)))),
        }
    }

    /// Whether a key's deletion date has passed.
    fn expired(&self, key: &KeyRecord) -> bool {
        key.state == KeyState::PendingDeletion && key.deletion.is_some_and(|d| d <= self.now())
    }

    /// The key a reference names, after a deletion whose date has passed is carried out.
    async fn key(&self, account: &str, reference: &str) -> Result<KeyRecord> {
        let id = self.resolve(account, reference)?;
        let key = self
            .state()
            .keys
            .get(&id)
            .cloned()
            .ok_or_else(|| KmsError::NotFound(format!("Key '{id}' does not exist")))?;
        if self.expired(&key) {
            self.delete_now(&key).await?;
            return Err(KmsError::NotFound(format!("Key '{}' does not exist", key.arn())));
        }
        Ok(key)
    }

    /// Deletes a key whose deletion date passed, with its aliases and grants.
    async fn delete_now(&self, key: &KeyRecord) -> Result<()> {
        let _w = self.inner.writer.lock().await;
        let id = key.id.clone();
        // another request may have deleted it, or cancelled the deletion, meanwhile
        let due = self.state().keys.get(&id).is_some_and(|k| self.expired(k));
        if !due {
            return Ok(());
        }
        let (aliases, grants): (Vec<String>, Vec<String>) = {
            let s = self.state();
            (
                s.aliases.iter().filter(|(_, a)| a.target == id).map(|(k, _)| k.clone()).collect(),
                s.grants.iter().filter(|(_, g)| g.key_id == id).map(|(k, _)| k.clone()).collect(),
            )
        };
        let (a2, g2, id2) = (aliases.clone(), grants.clone(), id.clone());
        self.inner
            .store
            .write(move |txn| {
                txn.open_table(KEYS)?.remove(id2.as_str())?;
                let mut t = txn.open_table(ALIASES)?;
                for a in &a2 {
                    t.remove(a.as_str())?;
                }
                let mut t = txn.open_table(GRANTS)?;
                for g in &g2 {
                    t.remove(g.as_str())?;
                }
                Ok(())
            })
            .await?;
        let mut s = self.state_mut();
        s.keys.remove(&id);
        for a in aliases {
            s.aliases.remove(&a);
        }
        for g in grants {
            s.grants.remove(&g);
        }
        self.inner.ciphers.lock().unwrap_or_else(PoisonError::into_inner).retain(|(k, _), _| *k != id);
        tracing::info!(key = %id, "KMS key deleted at the end of its waiting period");
        Ok(())
    }

    /// The ARN and policy of the key a reference names in `account` (for authorization).
    #[must_use]
    pub fn access_of(&self, account: &str, reference: &str) -> Option<(String, String)> {
        let id = self.resolve(account, reference).ok()?;
        self.state().keys.get(&id).map(|k| (k.arn(), k.policy.clone()))
    }

    /// The ARN, account and policy of the key a ciphertext blob names (for authorization).
    #[must_use]
    pub fn blob_access(&self, blob: &[u8]) -> Option<(String, String, String)> {
        let header = cipher::header(blob)?;
        self.state().keys.get(&header.key_id).map(|k| (k.arn(), k.account.clone(), k.policy.clone()))
    }

    // ---- the control plane --------------------------------------------------------------

    pub async fn create_key(&self, account: &str, new: NewKey) -> Result<KeyMetadata> {
        self.make_key(account, new, false).await
    }

    async fn make_key(&self, account: &str, new: NewKey, aws_managed: bool) -> Result<KeyMetadata> {
        let spec = new.spec.unwrap_or(KeySpec::SymmetricDefault);
        let key = KeyRecord {
            id: cipher::uuid(),
            account: account.to_string(),
            region: self.inner.region.clone(),
            spec,
            state: KeyState::Enabled,
            aws_managed,
            created: self.now(),
            description: new.description,
            policy: new.policy.unwrap_or_else(|| default_policy(account)),
            tags: new.tags,
            deletion: None,
            pending_days: None,
            rotation_days: None,
            materials: vec![self.new_material(1, None)],
        };
        let meta = key.metadata();
        let _w = self.inner.writer.lock().await;
        self.put_key(key).await?;
        Ok(meta)
    }

    /// The AWS managed key of a service (`aws/s3`), made on first use.
    pub async fn managed_key(&self, account: &str, service: &str) -> Result<KeyMetadata> {
        let alias = format!("alias/aws/{service}");
        if let Ok(id) = self.resolve(account, &alias) {
            return Ok(self.key(account, &id).await?.metadata());
        }
        // two first uses at once make one key
        let _made = self.inner.managed.lock().await;
        if let Ok(id) = self.resolve(account, &alias) {
            return Ok(self.key(account, &id).await?.metadata());
        }
        let new = NewKey {
            description: format!(
                "Default key that protects my {} data when no other key is defined",
                service.to_uppercase()
            ),
            ..NewKey::default()
        };
        let meta = self.make_key(account, new, true).await?;
        self.put_alias(account, &alias, &meta.id, true).await?;
        Ok(meta)
    }

    pub async fn describe(&self, account: &str, reference: &str) -> Result<KeyMetadata> {
        Ok(self.key(account, reference).await?.metadata())
    }

    /// ListKeys: (id, arn) of the account's keys, by id, after `marker`.
    pub fn list_keys(
        &self,
        account: &str,
        marker: Option<&str>,
        limit: usize,
    ) -> (Vec<(String, String)>, Option<String>) {
        let s = self.state();
        let mut keys: Vec<&KeyRecord> = s.keys.values().filter(|k| k.account == account).collect();
        keys.sort_by(|a, b| a.id.cmp(&b.id));
        let start = marker.map_or(0, |m| keys.partition_point(|k| k.id.as_str() <= m));
        let page: Vec<(String, String)> = keys[start..].iter().take(limit).map(|k| (k.id.clone(), k.arn())).collect();
        let next = (start + page.len() < keys.len()).then(|| page.last().map(|p| p.0.clone())).flatten();
        (page, next)
    }

    async fn change(
        &self,
        account: &str,
        reference: &str,
        f: impl FnOnce(&mut KeyRecord) -> Result<()>,
    ) -> Result<KeyRecord> {
        // read under the writer's lock: two changes of one key never start from one copy
        let w = self.inner.writer.lock().await;
        let id = self.resolve(account, reference)?;
        let mut key = self
            .state()
            .keys
            .get(&id)
            .cloned()
            .ok_or_else(|| KmsError::NotFound(format!("Key '{id}' does not exist")))?;
        if self.expired(&key) {
            drop(w);
            self.delete_now(&key).await?;
            return Err(KmsError::NotFound(format!("Key '{}' does not exist", key.arn())));
        }
        f(&mut key)?;
        self.put_key(key.clone()).await?;
        Ok(key)
    }

    fn refuse_managed(key: &KeyRecord) -> Result<()> {
        if key.aws_managed {
            return Err(KmsError::Unsupported(format!("{} is an AWS managed key", key.arn())));
        }
        Ok(())
    }

    fn pending(key: &KeyRecord) -> KmsError {
        KmsError::InvalidState(format!("{} is pending deletion.", key.arn()))
    }

    pub async fn set_enabled(&self, account: &str, reference: &str, enabled: bool) -> Result<()> {
        self.change(account, reference, |k| {
            Self::refuse_managed(k)?;
            if k.state == KeyState::PendingDeletion {
                return Err(Self::pending(k));
            }
            k.state = if enabled { KeyState::Enabled } else { KeyState::Disabled };
            Ok(())
        })
        .await
        .map(drop)
    }

    pub async fn update_description(&self, account: &str, reference: &str, description: String) -> Result<()> {
        self.change(account, reference, |k| {
            if k.state == KeyState::PendingDeletion {
                return Err(Self::pending(k));
            }
            k.description = description;
            Ok(())
        })
        .await
        .map(drop)
    }

    /// ScheduleKeyDeletion: (key, deletion date, window).
    pub async fn schedule_deletion(&self, account: &str, reference: &str, days: Option<i32>) -> Result<KeyMetadata> {
        let days = days.unwrap_or(30);
        if !PENDING_WINDOW_DAYS.contains(&days) {
            return Err(KmsError::Validation(format!(
                "PendingWindowInDays must be between {} and {} days",
                PENDING_WINDOW_DAYS.start(),
                PENDING_WINDOW_DAYS.end()
            )));
        }
        let now = self.now();
        let key = self
            .change(account, reference, |k| {
                Self::refuse_managed(k)?;
                if k.state == KeyState::PendingDeletion {
                    return Err(Self::pending(k));
                }
                k.state = KeyState::PendingDeletion;
                k.deletion = Some(now + i64::from(days) * DAY_MS);
                k.pending_days = Some(days);
                Ok(())
            })
            .await?;
        Ok(key.metadata())
    }

    /// CancelKeyDeletion: the key is Disabled, as AWS leaves it.
    pub async fn cancel_deletion(&self, account: &str, reference: &str) -> Result<String> {
        let key = self
            .change(account, reference, |k| {
                if k.state != KeyState::PendingDeletion {
                    return Err(KmsError::InvalidState(format!("{} is not pending deletion.", k.arn())));
                }
                k.state = KeyState::Disabled;
                k.deletion = None;
                k.pending_days = None;
                Ok(())
            })
            .await?;
        Ok(key.arn())
    }

    pub async fn policy(&self, account: &str, reference: &str) -> Result<String> {
        Ok(self.key(account, reference).await?.policy)
    }

    /// PutKeyPolicy (the caller has checked the document's grammar).
    pub async fn put_policy(&self, account: &str, reference: &str, policy: String) -> Result<()> {
        self.change(account, reference, |k| {
            Self::refuse_managed(k)?;
            if k.state == KeyState::PendingDeletion {
                return Err(Self::pending(k));
            }
            k.policy = policy;
            Ok(())
        })
        .await
        .map(drop)
    }

    pub async fn tags(&self, account: &str, reference: &str) -> Result<BTreeMap<String, String>> {
        Ok(self.key(account, reference).await?.tags)
    }

    pub async fn tag(&self, account: &str, reference: &str, tags: BTreeMap<String, String>) -> Result<()> {
        self.change(account, reference, |k| {
            Self::refuse_managed(k)?;
            if k.state == KeyState::PendingDeletion {
                return Err(Self::pending(k));
            }
            k.tags.extend(tags);
            if k.tags.len() > tarn_common::limits::kms::TAGS_MAX {
                return Err(KmsError::Tag(format!(
                    "A key may have at most {} tags",
                    tarn_common::limits::kms::TAGS_MAX
                )));
            }
            Ok(())
        })
        .await
        .map(drop)
    }

    pub async fn untag(&self, account: &str, reference: &str, keys: &[String]) -> Result<()> {
        self.change(account, reference, |k| {
            Self::refuse_managed(k)?;
            if k.state == KeyState::PendingDeletion {
                return Err(Self::pending(k));
            }
            for t in keys {
                k.tags.remove(t);
            }
            Ok(())
        })
        .await
        .map(drop)
    }

    // ---- rotation -----------------------------------------------------------------------

    pub async fn set_rotation(&self, account: &str, reference: &str, period_days: Option<i32>) -> Result<()> {
        if let Some(d) = period_days
            && !ROTATION_PERIOD_DAYS.contains(&d)
        {
            return Err(KmsError::Validation(format!(
                "RotationPeriodInDays must be between {} and {}",
                ROTATION_PERIOD_DAYS.start(),
                ROTATION_PERIOD_DAYS.end()
            )));
        }
        self.change(account, reference, |k| {
            Self::refuse_managed(k)?;
            Self::usable_state(k)?;
            if k.spec != KeySpec::SymmetricDefault {
                return Err(KmsError::Unsupported(format!("{} does not support automatic rotation", k.arn())));
            }
            k.rotation_days = period_days;
            Ok(())
        })
        .await
        .map(drop)
    }

    pub async fn rotation_status(&self, account: &str, reference: &str) -> Result<RotationStatus> {
        let k = self.key(account, reference).await?;
        let newest = k.materials.last().map_or(k.created, |m| m.created);
        Ok(RotationStatus {
            enabled: k.rotation_days.is_some(),
            period_days: k.rotation_days,
            next: k.rotation_days.map(|d| newest + i64::from(d) * DAY_MS),
        })
    }

    /// RotateKeyOnDemand: a new material version; older ones still decrypt.
    pub async fn rotate_now(&self, account: &str, reference: &str) -> Result<String> {
        let material = self.new_material(0, Some("ON_DEMAND"));
        let key = self
            .change(account, reference, move |k| {
                Self::refuse_managed(k)?;
                Self::usable_state(k)?;
                if k.spec != KeySpec::SymmetricDefault {
                    return Err(KmsError::Unsupported(format!("{} does not support rotation", k.arn())));
                }
                let on_demand = k.materials.iter().filter(|m| m.rotation.as_deref() == Some("ON_DEMAND")).count();
                if on_demand >= ON_DEMAND_ROTATIONS_MAX {
                    return Err(KmsError::LimitExceeded(format!(
                        "{} has reached the limit of {ON_DEMAND_ROTATIONS_MAX} on-demand rotations",
                        k.arn()
                    )));
                }
                let mut material = material;
                material.version = k.materials.last().map_or(1, |m| m.version + 1);
                k.materials.push(material);
                Ok(())
            })
            .await?;
        Ok(key.id)
    }

    pub async fn rotations(&self, account: &str, reference: &str) -> Result<Vec<Rotation>> {
        let k = self.key(account, reference).await?;
        Ok(k.materials
            .iter()
            .filter_map(|m| m.rotation.as_ref().map(|kind| Rotation { date: m.created, kind: kind.clone() }))
            .collect())
    }

    /// A key whose automatic rotation period has passed gets its next material (AUTOMATIC).
    async fn rotate_if_due(&self, key: KeyRecord) -> Result<KeyRecord> {
        let Some(days) = key.rotation_days else { return Ok(key) };
        let newest = key.materials.last().map_or(key.created, |m| m.created);
        if self.now() < newest + i64::from(days) * DAY_MS {
            return Ok(key);
        }
        let material = self.new_material(0, Some("AUTOMATIC"));
        self.change(&key.account.clone(), &key.id.clone(), move |k| {
            let newest = k.materials.last().map_or(k.created, |m| m.created);
            if material.created >= newest + i64::from(days) * DAY_MS {
                let mut material = material;
                material.version = k.materials.last().map_or(1, |m| m.version + 1);
                k.materials.push(material);
            }
            Ok(())
        })
        .await
    }

    // ---- aliases ------------------------------------------------------------------------

    fn check_alias_name(name: &str, creating: bool) -> Result<()> {
        let Some(rest) = name.strip_prefix("alias/") else {
            return Err(KmsError::Validation(format!("Alias must start with the prefix \"alias/\": {name}")));
        };
        if creating && rest.starts_with("aws/") {
            return Err(KmsError::InvalidAliasName(format!(
                "Alias {name} must not begin with the reserved prefix alias/aws/"
            )));
        }
        if rest.is_empty() || !rest.chars().all(|c| c.is_ascii_alphanumeric() || "/_-".contains(c)) {
            return Err(KmsError::Validation(format!(
                "1 validation error detected: Value '{name}' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
            )));
        }
        Ok(())
    }

    pub async fn create_alias(&self, account: &str, name: &str, target: &str) -> Result<()> {
        Self::check_alias_name(name, true)?;
        let key = self.key(account, target).await?;
        Self::refuse_managed(&key)?;
        if key.state == KeyState::PendingDeletion {
            return Err(Self::pending(&key));
        }
        self.put_alias(account, name, &key.id, false).await
    }

    async fn put_alias(&self, account: &str, name: &str, target: &str, replace: bool) -> Result<()> {
        let _w = self.inner.writer.lock().await;
        let now = self.now();
        let full = format!("{account}/{name}");
        let created = self.state().aliases.get(&full).map_or(now, |a| a.created);
        if !replace && self.state().aliases.contains_key(&full) {
            return Err(KmsError::AlreadyExists(format!(
                "An alias with the name {} already exists",
                alias_arn(&self.inner.region, account, name)
            )));
        }
        let alias = Alias {
            account: account.to_string(),
            name: name.to_string(),
            target: target.to_string(),
            created,
            updated: now,
        };
        self.write_row(ALIASES, &full, Some(&alias)).await?;
        self.state_mut().aliases.insert(full, alias);
        Ok(())
    }

    pub async fn update_alias(&self, account: &str, name: &str, target: &str) -> Result<()> {
        Self::check_alias_name(name, true)?;
        let old = self.resolve(account, name)?;
        let key = self.key(account, target).await?;
        Self::refuse_managed(&key)?;
        let old_spec = self.state().keys.get(&old).map(|k| k.spec);
        if old_spec.is_some_and(|s| s != key.spec) {
            return Err(KmsError::Validation(format!(
                "{} has a different key spec than the alias's current key",
                key.arn()
            )));
        }
        if key.state == KeyState::PendingDeletion {
            return Err(Self::pending(&key));
        }
        self.put_alias(account, name, &key.id, true).await
    }

    pub async fn delete_alias(&self, account: &str, name: &str) -> Result<()> {
        Self::check_alias_name(name, true)?;
        let full = format!("{account}/{name}");
        let _w = self.inner.writer.lock().await;
        if !self.state().aliases.contains_key(&full) {
            return Err(KmsError::NotFound(format!(
                "Alias {} is not found.",
                alias_arn(&self.inner.region, account, name)
            )));
        }
        self.write_row::<Alias>(ALIASES, &full, None).await?;
        self.state_mut().aliases.remove(&full);
        Ok(())
    }

    /// ListAliases: the account's aliases by name (those of one key when given), after `marker`.
    pub async fn list_aliases(
        &self,
        account: &str,
        key: Option<&str>,
        marker: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Alias>, Option<String>)> {
        let key_id = match key {
            Some(k) => Some(self.key(account, k).await?.id),
            None => None,
        };
        let s = self.state();
        let all: Vec<&Alias> = s
            .aliases
            .values()
            .filter(|a| a.account == account && key_id.as_ref().is_none_or(|k| &a.target == k))
            .filter(|a| marker.is_none_or(|m| a.name.as_str() > m))
            .collect();
        let page: Vec<Alias> = all.iter().take(limit).map(|a| (*a).clone()).collect();
        let next = (all.len() > page.len()).then(|| page.last().map(|a| a.name.clone())).flatten();
        Ok((page, next))
    }

    // ---- grants -------------------------------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    pub async fn create_grant(
        &self,
        account: &str,
        reference: &str,
        issuing: &str,
        grantee: String,
        retiring: Option<String>,
        operations: Vec<String>,
        constraints: GrantConstraints,
        name: Option<String>,
    ) -> Result<(String, String)> {
        let key = self.key(account, reference).await?;
        if key.state == KeyState::PendingDeletion {
            return Err(Self::pending(&key));
        }
        let _w = self.inner.writer.lock().await;
        {
            let s = self.state();
            // the same name and settings: the same grant, as AWS answers a retried CreateGrant
            if let Some(name) = &name
                && let Some(g) = s.grants.values().find(|g| {
                    g.key_id == key.id
                        && g.name.as_ref() == Some(name)
                        && g.grantee == grantee
                        && g.retiring == retiring
                        && g.operations == operations
                        && g.constraints == constraints
                })
            {
                return Ok((g.id.clone(), g.token.clone()));
            }
            if s.grants.values().filter(|g| g.key_id == key.id).count() >= GRANTS_PER_KEY_MAX {
                return Err(KmsError::LimitExceeded(format!("{} has too many grants", key.arn())));
            }
        }
        let grant = Grant {
            id: hex::encode(cipher::random(32)),
            key_id: key.id.clone(),
            account: account.to_string(),
            name,
            grantee,
            retiring,
            issuing: issuing.to_string(),
            operations,
            constraints,
            created: self.now(),
            token: hex::encode(cipher::random(48)),
        };
        self.write_row(GRANTS, &grant.id, Some(&grant)).await?;
        let out = (grant.id.clone(), grant.token.clone());
        self.state_mut().grants.insert(grant.id.clone(), grant);
        Ok(out)
    }

    /// ListGrants of a key (one grant, or one grantee's, when given), by id after `marker`.
    pub async fn list_grants(
        &self,
        account: &str,
        reference: &str,
        grant_id: Option<&str>,
        grantee: Option<&str>,
        marker: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Grant>, Option<String>)> {
        let key = self.key(account, reference).await?;
        let s = self.state();
        let all: Vec<&Grant> = s
            .grants
            .values()
            .filter(|g| g.key_id == key.id)
            .filter(|g| grant_id.is_none_or(|id| g.id == id) && grantee.is_none_or(|p| g.grantee == p))
            .filter(|g| marker.is_none_or(|m| g.id.as_str() > m))
            .collect();
        let page: Vec<Grant> = all.iter().take(limit).map(|g| (*g).clone()).collect();
        let next = (all.len() > page.len()).then(|| page.last().map(|g| g.id.clone())).flatten();
        Ok((page, next))
    }

    /// ListRetirableGrants: the grants a principal may retire.
    #[must_use]
    pub fn retirable_grants(&self, account: &str, principal: &str) -> Vec<Grant> {
        self.state()
            .grants
            .values()
            .filter(|g| g.account == account && g.retiring.as_deref() == Some(principal))
            .cloned()
            .collect()
    }

    async fn remove_grant(&self, id: &str) -> Result<()> {
        self.write_row::<Grant>(GRANTS, id, None).await?;
        self.state_mut().grants.remove(id);
        Ok(())
    }

    /// RetireGrant by its token, or by key and id; the caller must be its retiring principal or
    /// its grantee (the account's root may too).
    pub async fn retire_grant(
        &self,
        account: &str,
        caller: &str,
        token: Option<&str>,
        key: Option<&str>,
        grant_id: Option<&str>,
    ) -> Result<Option<String>> {
        let _w = self.inner.writer.lock().await;
        let grant = {
            let s = self.state();
            match (token, key, grant_id) {
                (Some(t), _, _) => s
                    .grants
                    .values()
                    .find(|g| g.token == t)
                    .cloned()
                    .ok_or_else(|| KmsError::InvalidGrantToken("Invalid grant token".into()))?,
                (None, Some(_), Some(id)) => {
                    s.grants.get(id).cloned().ok_or_else(|| KmsError::NotFound(format!("Grant ID {id} not found")))?
                }
                _ => {
                    return Err(KmsError::Validation(
                        "Either GrantToken, or both KeyId and GrantId, must be given".into(),
                    ));
                }
            }
        };
        if let Some(k) = key
            && self.resolve(account, k)? != grant.key_id
        {
            return Err(KmsError::InvalidGrantId(format!("Grant ID {} is not a grant of that key", grant.id)));
        }
        let root = format!("arn:aws:iam::{}:root", grant.account);
        if grant.retiring.as_deref() != Some(caller) && grant.grantee != caller && caller != root {
            return Err(KmsError::AccessDenied(format!("{caller} is not authorized to retire grant {}", grant.id)));
        }
        let key_arn = self.state().keys.get(&grant.key_id).map(KeyRecord::arn);
        self.remove_grant(&grant.id).await?;
        Ok(key_arn)
    }

    pub async fn revoke_grant(&self, account: &str, reference: &str, grant_id: &str) -> Result<()> {
        let key = self.key(account, reference).await?;
        let _w = self.inner.writer.lock().await;
        if self.state().grants.get(grant_id).is_none_or(|g| g.key_id != key.id) {
            return Err(KmsError::NotFound(format!("Grant ID {grant_id} not found")));
        }
        self.remove_grant(grant_id).await
    }

    /// Whether a grant lets `principal` do `operation` with the key under `context`.
    #[must_use]
    pub fn granted(&self, key_arn: &str, principal: &str, operation: &str, context: &BTreeMap<String, String>) -> bool {
        let Some(id) = key_arn.rsplit_once("key/").map(|(_, id)| id) else { return false };
        self.state().grants.values().any(|g| {
            g.key_id == id
                && g.grantee == principal
                && g.operations.iter().any(|o| o == operation)
                && g.constraints.allow(context)
        })
    }

    // ---- cryptography -------------------------------------------------------------------

    fn usable_state(key: &KeyRecord) -> Result<()> {
        match key.state {
            KeyState::Enabled => Ok(()),
            KeyState::Disabled => Err(KmsError::Disabled(key.arn())),
            KeyState::PendingDeletion => Err(Self::pending(key)),
        }
    }

    fn cipher_of(&self, key: &KeyRecord, version: u32) -> Result<Arc<LessSafeKey>> {
        let slot = (key.id.clone(), version);
        if let Some(c) = self.inner.ciphers.lock().unwrap_or_else(PoisonError::into_inner).get(&slot) {
            return Ok(c.clone());
        }
        let material = key.materials.iter().find(|m| m.version == version).ok_or(KmsError::InvalidCiphertext)?;
        let bytes = self.open_material(&material.sealed)?;
        let c = Arc::new(cipher::cipher(&bytes).ok_or_else(|| corrupt("key material is not 32 bytes"))?);
        self.inner.ciphers.lock().unwrap_or_else(PoisonError::into_inner).insert(slot, c.clone());
        Ok(c)
    }

    /// A symmetric key, usable now, for encryption (rotated first when due).
    async fn encryption_key(&self, account: &str, reference: &str) -> Result<KeyRecord> {
        let key = self.key(account, reference).await?;
        Self::usable_state(&key)?;
        if key.spec != KeySpec::SymmetricDefault {
            return Err(KmsError::InvalidKeyUsage(format!(
                "{} key usage is GENERATE_VERIFY_MAC which is not valid for this operation.",
                key.arn()
            )));
        }
        self.rotate_if_due(key).await
    }

    /// Encrypt: (ciphertext blob, key ARN).
    pub async fn encrypt(
        &self,
        account: &str,
        reference: &str,
        plain: &[u8],
        context: &BTreeMap<String, String>,
    ) -> Result<(Vec<u8>, String)> {
        let key = self.encryption_key(account, reference).await?;
        let material = key.materials.last().ok_or_else(|| corrupt("a key without material"))?;
        let c = self.cipher_of(&key, material.version)?;
        Ok((cipher::seal(&c, &key.id, material.version, context, plain), key.arn()))
    }

    /// Decrypt: (plaintext, key ARN). `reference`, when given, must name the blob's key.
    pub async fn decrypt(
        &self,
        account: &str,
        blob: &[u8],
        reference: Option<&str>,
        context: &BTreeMap<String, String>,
    ) -> Result<(Vec<u8>, String)> {
        let header = cipher::header(blob).ok_or(KmsError::InvalidCiphertext)?;
        let owner =
            self.state().keys.get(&header.key_id).map(|k| k.account.clone()).ok_or(KmsError::InvalidCiphertext)?;
        if let Some(r) = reference
            && self.resolve(account, r)? != header.key_id
        {
            return Err(KmsError::IncorrectKey);
        }
        // carries out a deletion whose date passed
        self.key(&owner, &header.key_id).await?;
        self.open_blob(blob, context)
    }

    /// Opens a blob of this server's (for services that keep data keys under KMS keys, as S3's
    /// SSE-KMS): (plaintext, key ARN). Synchronous and writes nothing: a key past its deletion
    /// date is NotFound here and deleted by the next [`Kms::decrypt`] or key lookup.
    pub fn open_blob(&self, blob: &[u8], context: &BTreeMap<String, String>) -> Result<(Vec<u8>, String)> {
        let header = cipher::header(blob).ok_or(KmsError::InvalidCiphertext)?;
        let key = self.state().keys.get(&header.key_id).cloned();
        let key = match key {
            Some(k) if !self.expired(&k) => k,
            _ => return Err(KmsError::NotFound(format!("Key '{}' does not exist", header.key_id))),
        };
        Self::usable_state(&key)?;
        if key.spec != KeySpec::SymmetricDefault {
            return Err(KmsError::InvalidCiphertext);
        }
        let c = self.cipher_of(&key, header.version)?;
        let plain = cipher::open(&c, &header, context, blob).ok_or(KmsError::InvalidCiphertext)?;
        Ok((plain, key.arn()))
    }

    /// Whether the key a blob names may be used now (enabled, not pending deletion, not
    /// deleted): a cached plaintext of one of its blobs is used only then.
    pub fn blob_key_usable(&self, blob: &[u8]) -> Result<()> {
        let header = cipher::header(blob).ok_or(KmsError::InvalidCiphertext)?;
        let s = self.state();
        match s.keys.get(&header.key_id) {
            Some(k) if !self.expired(k) => Self::usable_state(k),
            _ => Err(KmsError::NotFound(format!("Key '{}' does not exist", header.key_id))),
        }
    }

    /// The ARN of the key a reference names in `account`, if it is a symmetric encryption key
    /// (for services that encrypt under it).
    pub async fn encryption_key_arn(&self, account: &str, reference: &str) -> Result<String> {
        let key = self.key(account, reference).await?;
        if key.spec != KeySpec::SymmetricDefault {
            return Err(KmsError::InvalidKeyUsage(format!(
                "{} key usage is GENERATE_VERIFY_MAC which is not valid for this operation.",
                key.arn()
            )));
        }
        Ok(key.arn())
    }

    /// GenerateDataKey: (plaintext key, its blob, key ARN).
    pub async fn generate_data_key(
        &self,
        account: &str,
        reference: &str,
        bytes: usize,
        context: &BTreeMap<String, String>,
    ) -> Result<(Vec<u8>, Vec<u8>, String)> {
        let plain = cipher::random(bytes);
        let (blob, arn) = self.encrypt(account, reference, &plain, context).await?;
        Ok((plain, blob, arn))
    }

    // ---- HMAC ---------------------------------------------------------------------------

    async fn hmac_key(&self, account: &str, reference: &str) -> Result<(ring::hmac::Key, String)> {
        let key = self.key(account, reference).await?;
        Self::usable_state(&key)?;
        if key.spec != KeySpec::Hmac256 {
            return Err(KmsError::InvalidKeyUsage(format!(
                "{} key usage is ENCRYPT_DECRYPT which is not valid for this operation.",
                key.arn()
            )));
        }
        if let Some(k) = self.inner.hmacs.lock().unwrap_or_else(PoisonError::into_inner).get(&key.id) {
            return Ok((k.clone(), key.arn()));
        }
        let material = key.materials.last().ok_or_else(|| corrupt("a key without material"))?;
        let bytes = self.open_material(&material.sealed)?;
        let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &bytes);
        self.inner.hmacs.lock().unwrap_or_else(PoisonError::into_inner).insert(key.id.clone(), k.clone());
        Ok((k, key.arn()))
    }

    /// GenerateMac (HMAC_SHA_256): (mac, key ARN).
    pub async fn generate_mac(&self, account: &str, reference: &str, message: &[u8]) -> Result<(Vec<u8>, String)> {
        let (k, arn) = self.hmac_key(account, reference).await?;
        Ok((ring::hmac::sign(&k, message).as_ref().to_vec(), arn))
    }

    /// VerifyMac: the key ARN when the MAC is right.
    pub async fn verify_mac(&self, account: &str, reference: &str, message: &[u8], mac: &[u8]) -> Result<String> {
        let (k, arn) = self.hmac_key(account, reference).await?;
        ring::hmac::verify(&k, message, mac).map_err(|_| KmsError::InvalidMac(String::new()))?;
        Ok(arn)
    }
}

#[cfg(test)]
mod tests;
