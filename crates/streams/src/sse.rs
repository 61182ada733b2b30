//! Server-side encryption of a stream's records under a KMS key (StartStreamEncryption).
//!
//! The stream record keeps KMS ciphertext blobs of its data keys; a sealed record names the
//! data key it was sealed under, so records stay readable across key changes and stops (see
//! docs/architecture.md, "Streams and delivery streams under KMS keys").

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};

use serde::{Deserialize, Serialize};
use tarn_kms::{Kms, KmsError};
use tarn_store::{DataKey, StoreError};

use crate::{Result, StreamRecord, Streams, StreamsError};

/// The first two bytes of a sealed record, where a plain one has its partition key's length
/// (at most 256).
const SEALED: [u8; 2] = [0xFF, 0xFF];
/// Marker, data key index, nonce (8 + 4).
const HEADER: usize = 2 + 1 + 12;
/// What sealing adds to a record: the header and the GCM tag.
pub(crate) const OVERHEAD: usize = HEADER + 16;
/// Data keys a stream may have made over its life (one per StartStreamEncryption).
const DATA_KEYS_MAX: usize = 255;
/// Opened data keys kept in memory, across streams.
const OPENED_MAX: usize = 1024;

/// A stream's encryption settings (the stream record's v2 part).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamSse {
    /// Whether new records are sealed.
    pub enabled: bool,
    /// The KeyId as the caller gave it to StartStreamEncryption (DescribeStream answers it).
    pub key_id: String,
    /// The key's ARN.
    pub key_arn: String,
    /// KMS ciphertext blobs of the stream's data keys, oldest first; a sealed record names
    /// its key by index. The last one seals new records.
    pub keys: Vec<Vec<u8>>,
}

/// The KMS and the data keys opened so far.
#[derive(Default)]
pub(crate) struct Keyring {
    kms: OnceLock<Kms>,
    /// Data key blob -> the opened key.
    opened: Mutex<HashMap<Vec<u8>, DataKey>>,
}

/// The encryption context of a stream's data keys.
fn context(arn: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("aws:kinesis:arn".to_string(), arn.to_string())])
}

fn kms_error(e: KmsError) -> StreamsError {
    match e {
        KmsError::Store(s) => StreamsError::Store(s),
        KmsError::Disabled(m) => StreamsError::KmsDisabled(format!("{m} is disabled.")),
        KmsError::InvalidState(m) => StreamsError::KmsInvalidState(m),
        KmsError::NotFound(m) => StreamsError::KmsNotFound(m),
        KmsError::InvalidKeyUsage(m) => StreamsError::InvalidArgument(m),
        KmsError::InvalidCiphertext => {
            StreamsError::Store(StoreError::Corrupt("a stream data key does not open under its KMS key".into()))
        }
        other => StreamsError::InvalidArgument(other.to_string()),
    }
}

fn too_many_keys(stream: &str) -> StreamsError {
    StreamsError::LimitExceeded(format!(
        "Stream {stream} has changed its encryption {DATA_KEYS_MAX} times, the most tarn keeps keys for."
    ))
}

/// Whether a stored record is sealed.
pub(crate) fn is_sealed(payload: &[u8]) -> bool {
    payload.starts_with(&SEALED)
}

/// The bytes a record counts against a shard's write quota: its data and partition key.
pub(crate) fn billed_len(payload: &[u8]) -> usize {
    let plain = if is_sealed(payload) { payload.len().saturating_sub(OVERHEAD) } else { payload.len() };
    plain.saturating_sub(2)
}

impl Streams {
    /// Gives the service its KMS (once, at start).
    pub fn set_kms(&self, kms: Kms) {
        let _ = self.keyring.kms.set(kms);
    }

    fn kms(&self) -> Result<&Kms> {
        self.keyring
            .kms
            .get()
            .ok_or_else(|| StreamsError::KmsNotFound("Key management is not available on this server.".into()))
    }

    /// StartStreamEncryption: new records are sealed under a fresh data key of `key_id` (an
    /// id, ARN, alias or alias ARN; `alias/aws/kinesis` is the account's AWS managed key).
    pub async fn start_encryption(&self, name: &str, key_id: &str) -> Result<()> {
        let kms = self.kms()?;
        let account = &self.config.account_id;
        let stream = self.describe(name)?;
        let key_arn = if key_id == "alias/aws/kinesis" || key_id.ends_with(":alias/aws/kinesis") {
            kms.managed_key(account, "kinesis").await.map_err(kms_error)?.arn
        } else {
            kms.encryption_key_arn(account, key_id).await.map_err(kms_error)?
        };
        // checked before KMS makes a key, and again in the commit
        if stream.sse.keys.len() >= DATA_KEYS_MAX {
            return Err(too_many_keys(name));
        }
        let (mut plain, blob, _) =
            kms.generate_data_key(account, &key_arn, 32, &context(&self.arn(name))).await.map_err(kms_error)?;
        let key = DataKey::from_secret(&plain)
            .ok_or_else(|| StreamsError::Store(StoreError::Bug("short data key".into())))?;
        plain.fill(0);
        let key_id = key_id.to_string();
        let kept = blob.clone();
        self.update_stream(name, move |rec| {
            if rec.sse.keys.len() >= DATA_KEYS_MAX {
                return Err(too_many_keys(&rec.name));
            }
            rec.sse.enabled = true;
            rec.sse.key_id = key_id;
            rec.sse.key_arn = key_arn;
            rec.sse.keys.push(kept);
            Ok(())
        })
        .await?;
        self.remember(blob, key);
        Ok(())
    }

    /// StopStreamEncryption: new records are stored plain; sealed ones stay readable while
    /// their key is usable.
    pub async fn stop_encryption(&self, name: &str) -> Result<()> {
        self.update_stream(name, |rec| {
            rec.sse.enabled = false;
            Ok(())
        })
        .await
    }

    fn remember(&self, blob: Vec<u8>, key: DataKey) {
        let mut opened = self.keyring.opened.lock().expect("opened keys lock");
        if opened.len() >= OPENED_MAX {
            opened.clear();
        }
        opened.insert(blob, key);
    }

    /// The data key `blob` keeps, if its KMS key may be used now.
    fn data_key(&self, stream: &str, blob: &[u8]) -> Result<DataKey> {
        let kms = self.kms()?;
        kms.blob_key_usable(blob).map_err(kms_error)?;
        if let Some(key) = self.keyring.opened.lock().expect("opened keys lock").get(blob) {
            return Ok(key.clone());
        }
        let (mut plain, _) = kms.open_blob(blob, &context(&self.arn(stream))).map_err(kms_error)?;
        let key = DataKey::from_secret(&plain)
            .ok_or_else(|| StreamsError::Store(StoreError::Corrupt("a stream data key is not 32 bytes".into())))?;
        plain.fill(0);
        self.remember(blob.to_vec(), key.clone());
        Ok(key)
    }

    /// The record as stored: sealed under the stream's newest data key when encryption is on.
    pub(crate) fn seal(&self, stream: &StreamRecord, plain: Vec<u8>) -> Result<Vec<u8>> {
        if !stream.sse.enabled {
            return Ok(plain);
        }
        let (index, blob) = stream
            .sse
            .keys
            .iter()
            .enumerate()
            .next_back()
            .ok_or_else(|| StreamsError::Store(StoreError::Bug("an encrypted stream has no data key".into())))?;
        let key = self.data_key(&stream.name, blob)?;
        let mut nonce = [0u8; 12];
        rand::Rng::fill(&mut rand::rng(), &mut nonce);
        let prefix: [u8; 8] = nonce[..8].try_into().expect("8 bytes");
        let chunk = u32::from_be_bytes(nonce[8..].try_into().expect("4 bytes"));
        let mut out = Vec::with_capacity(plain.len() + OVERHEAD);
        out.extend_from_slice(&SEALED);
        out.push(u8::try_from(index).expect("at most 255 data keys"));
        out.extend_from_slice(&nonce);
        key.seal_chunk(prefix, chunk, true, &plain, &mut out);
        Ok(out)
    }

    /// A stored record's plain encoding (partition key length, key, data).
    pub(crate) fn unseal<'a>(&self, stream: &StreamRecord, payload: &'a [u8]) -> Result<Cow<'a, [u8]>> {
        if !is_sealed(payload) {
            return Ok(Cow::Borrowed(payload));
        }
        let corrupt = || StreamsError::Store(StoreError::Corrupt("a sealed record is malformed".into()));
        if payload.len() < OVERHEAD {
            return Err(corrupt());
        }
        let blob = stream.sse.keys.get(usize::from(payload[2])).ok_or_else(corrupt)?;
        let key = self.data_key(&stream.name, blob)?;
        let prefix: [u8; 8] = payload[3..11].try_into().expect("8 bytes");
        let chunk = u32::from_be_bytes(payload[11..15].try_into().expect("4 bytes"));
        let mut sealed = payload[HEADER..].to_vec();
        key.open_chunk(prefix, chunk, true, &mut sealed).map_err(StreamsError::Store)?;
        Ok(Cow::Owned(sealed))
    }

    /// Fails as a put to the stream would for its key's state (a disabled key, ...), before
    /// anything is queued.
    pub(crate) fn check_sealing(&self, stream: &StreamRecord) -> Result<()> {
        match stream.sse.keys.last() {
            Some(blob) if stream.sse.enabled => self.data_key(&stream.name, blob).map(drop),
            _ => Ok(()),
        }
    }
}
