//! Encryption at rest: a master key in `keys/master.key` wraps one random data key per object
//! (or per multipart upload), and the data key seals the object's bytes in fixed-size chunks with
//! AES-256-GCM.
//!
//! Chunk nonces are `nonce_prefix (8 random bytes per blob) || chunk index (u32 BE)`, and the
//! associated data binds the chunk index and whether the chunk is the last one, so a reader
//! detects reordered, substituted or truncated chunks, not just flipped bits.

use std::fs;
use std::io::Write;
use std::path::Path;

use rand::RngCore;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, Tag, UnboundKey};

use crate::{StoreError, fsync_dir};

/// Plaintext bytes per sealed chunk.
pub const CHUNK_PLAIN_LEN: usize = 64 * 1024;
/// Bytes the GCM tag adds to every chunk.
pub const TAG_LEN: usize = 16;
/// Sealed bytes per full chunk.
pub const CHUNK_SEALED_LEN: usize = CHUNK_PLAIN_LEN + TAG_LEN;

const WRAP_NONCE_LEN: usize = 12;
const MASTER_KEY_FILE: &str = "master.key";
/// A known value wrapped under the master key when the data dir was created: a start with a
/// different `master.key` fails at once instead of answering every read with an error.
const MASTER_CHECK_FILE: &str = "master.key.check";
const MASTER_CHECK_AAD: &[u8] = b"tarn-master-key-check";

/// The key that wraps every data key. Lives in `keys/master.key`, mode 0600.
#[derive(Clone)]
pub struct MasterKey {
    cipher: LessSafeKey,
}

impl MasterKey {
    /// Loads the master key from `keys_dir`, creating it (durably) on first start.
    pub fn load_or_create(keys_dir: &Path) -> Result<Self, StoreError> {
        fs::create_dir_all(keys_dir)?;
        let path = keys_dir.join(MASTER_KEY_FILE);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                rand::rng().fill_bytes(&mut key);
                let tmp = keys_dir.join("master.key.tmp");
                let mut file = open_private(&tmp)?;
                file.write_all(&key)?;
                file.sync_all()?;
                fs::rename(&tmp, &path)?;
                fsync_dir(keys_dir)?;
                key.to_vec()
            }
            Err(err) => return Err(err.into()),
        };
        let cipher = aes_256_gcm(&bytes)
            .ok_or_else(|| StoreError::Corrupt(format!("master key in {} is not 32 bytes", path.display())))?;
        let key = Self { cipher };
        key.check(keys_dir)?;
        Ok(key)
    }

    /// Verifies (or, on first start, records) that this is the key the data dir was written under.
    fn check(&self, keys_dir: &Path) -> Result<(), StoreError> {
        let path = keys_dir.join(MASTER_CHECK_FILE);
        match fs::read(&path) {
            Ok(sealed) => {
                let wrong = || {
                    StoreError::Corrupt(format!(
                        "{} is not the master key this data dir was written with ({} does not verify)",
                        keys_dir.join(MASTER_KEY_FILE).display(),
                        path.display()
                    ))
                };
                if sealed.len() != WRAP_NONCE_LEN + TAG_LEN {
                    return Err(wrong());
                }
                let (nonce, tag) = sealed.split_at(WRAP_NONCE_LEN);
                let nonce: [u8; WRAP_NONCE_LEN] = nonce.try_into().expect("length checked");
                let tag: [u8; TAG_LEN] = tag.try_into().expect("length checked");
                let mut empty: [u8; 0] = [];
                self.cipher
                    .open_in_place_separate_tag(
                        Nonce::assume_unique_for_key(nonce),
                        Aad::from(MASTER_CHECK_AAD),
                        Tag::from(tag),
                        &mut empty,
                        0..,
                    )
                    .map(|_| ())
                    .map_err(|_| wrong())
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let mut nonce = [0u8; WRAP_NONCE_LEN];
                rand::rng().fill_bytes(&mut nonce);
                let mut empty: [u8; 0] = [];
                let tag = self
                    .cipher
                    .seal_in_place_separate_tag(
                        Nonce::assume_unique_for_key(nonce),
                        Aad::from(MASTER_CHECK_AAD),
                        &mut empty,
                    )
                    .expect("aes-gcm over no bytes cannot fail");
                let tmp = keys_dir.join("master.key.check.tmp");
                let mut file = open_private(&tmp)?;
                file.write_all(&nonce)?;
                file.write_all(tag.as_ref())?;
                file.sync_all()?;
                fs::rename(&tmp, &path)?;
                fsync_dir(keys_dir)?;
                Ok(())
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Creates a fresh data key and returns it with its wrapped (sealed) form for the record.
    #[must_use]
    pub fn new_data_key(&self) -> (DataKey, Vec<u8>) {
        wrap_new(&self.cipher)
    }

    /// Unwraps a data key stored in a record.
    pub fn unwrap_data_key(&self, wrapped: &[u8]) -> Result<DataKey, StoreError> {
        unwrap(&self.cipher, wrapped)
            .ok_or_else(|| StoreError::Corrupt("data key does not unwrap under the master key".into()))
    }
}

/// A key that wraps data keys as the master key does, from 32 bytes held elsewhere (a bucket
/// key that KMS keeps, a customer's SSE-C key).
#[derive(Clone)]
pub struct KeyWrapper {
    cipher: LessSafeKey,
}

impl KeyWrapper {
    /// `None` unless `bytes` is 32 bytes long.
    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Some(Self { cipher: aes_256_gcm(bytes)? })
    }

    /// A fresh data key and its wrapped form.
    #[must_use]
    pub fn new_data_key(&self) -> (DataKey, Vec<u8>) {
        wrap_new(&self.cipher)
    }

    /// The data key `wrapped` holds, or `None` when it was not wrapped by this key.
    #[must_use]
    pub fn unwrap_data_key(&self, wrapped: &[u8]) -> Option<DataKey> {
        unwrap(&self.cipher, wrapped)
    }
}

fn wrap_new(cipher: &LessSafeKey) -> (DataKey, Vec<u8>) {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    let mut nonce = [0u8; WRAP_NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    let mut sealed = key.to_vec();
    let tag = cipher
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(b"tarn-data-key"), &mut sealed)
        .expect("aes-gcm encryption of 32 bytes cannot fail");
    let mut wrapped = Vec::with_capacity(WRAP_NONCE_LEN + 32 + TAG_LEN);
    wrapped.extend_from_slice(&nonce);
    wrapped.extend_from_slice(&sealed);
    wrapped.extend_from_slice(tag.as_ref());
    let data_key = DataKey::from_bytes(&key);
    key.fill(0);
    sealed.fill(0);
    (data_key, wrapped)
}

fn unwrap(cipher: &LessSafeKey, wrapped: &[u8]) -> Option<DataKey> {
    if wrapped.len() != WRAP_NONCE_LEN + 32 + TAG_LEN {
        return None;
    }
    let (nonce, rest) = wrapped.split_at(WRAP_NONCE_LEN);
    let (sealed, tag) = rest.split_at(32);
    let mut key = sealed.to_vec();
    let nonce: [u8; WRAP_NONCE_LEN] = nonce.try_into().ok()?;
    let tag: [u8; TAG_LEN] = tag.try_into().ok()?;
    cipher
        .open_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(b"tarn-data-key"),
            Tag::from(tag),
            &mut key,
            0..,
        )
        .ok()?;
    let data_key = DataKey::from_bytes(&key);
    key.fill(0);
    Some(data_key)
}

/// Writes a new file readable only by its owner.
fn open_private(path: &Path) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// An AES-256-GCM key (ring's, whose x86-64 and aarch64 code runs AES and GHASH stitched
/// together), or `None` if `bytes` is not 32 bytes long.
fn aes_256_gcm(bytes: &[u8]) -> Option<LessSafeKey> {
    Some(LessSafeKey::new(UnboundKey::new(&AES_256_GCM, bytes).ok()?))
}

/// A per-object key that seals chunks.
#[derive(Clone)]
pub struct DataKey {
    cipher: LessSafeKey,
}

impl DataKey {
    fn from_bytes(key: &[u8]) -> Self {
        Self { cipher: aes_256_gcm(key).expect("data keys are 32 bytes") }
    }

    /// The data key whose 32 bytes another keeper handed out (the plaintext of a KMS data key).
    #[must_use]
    pub fn from_secret(key: &[u8]) -> Option<Self> {
        Some(Self { cipher: aes_256_gcm(key)? })
    }

    /// Seals `plain` as chunk `index` of the blob whose nonce prefix is `prefix`, appending the
    /// sealed bytes (ciphertext then tag) to `out`.
    pub fn seal_chunk(&self, prefix: [u8; 8], index: u32, last: bool, plain: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(plain);
        let tag = self
            .cipher
            .seal_in_place_separate_tag(
                chunk_nonce(prefix, index),
                Aad::from(chunk_aad(index, last)),
                &mut out[start..],
            )
            .expect("aes-gcm encryption of one chunk cannot fail");
        out.extend_from_slice(tag.as_ref());
    }

    /// Opens a sealed chunk in place; on success `sealed` is truncated to the plaintext.
    pub fn open_chunk(&self, prefix: [u8; 8], index: u32, last: bool, sealed: &mut Vec<u8>) -> Result<(), StoreError> {
        let plain_len = self.open_chunk_in(prefix, index, last, sealed)?;
        sealed.truncate(plain_len);
        Ok(())
    }

    /// Opens the sealed chunk `sealed` (ciphertext then tag) in place and returns the length
    /// of the plaintext now at its start.
    pub fn open_chunk_in(
        &self,
        prefix: [u8; 8],
        index: u32,
        last: bool,
        sealed: &mut [u8],
    ) -> Result<usize, StoreError> {
        if sealed.len() < TAG_LEN {
            return Err(StoreError::Corrupt(format!("sealed chunk {index} is shorter than its tag")));
        }
        let plain_len = sealed.len() - TAG_LEN;
        let (body, tag) = sealed.split_at_mut(plain_len);
        let tag: [u8; TAG_LEN] = (&*tag).try_into().expect("split at tag length");
        self.cipher
            .open_in_place_separate_tag(
                chunk_nonce(prefix, index),
                Aad::from(chunk_aad(index, last)),
                Tag::from(tag),
                body,
                0..,
            )
            .map_err(|_| StoreError::Corrupt(format!("chunk {index} fails authentication")))?;
        Ok(plain_len)
    }
}

fn chunk_nonce(prefix: [u8; 8], index: u32) -> Nonce {
    let mut nonce = [0u8; 12];
    nonce[..8].copy_from_slice(&prefix);
    nonce[8..].copy_from_slice(&index.to_be_bytes());
    Nonce::assume_unique_for_key(nonce)
}

fn chunk_aad(index: u32, last: bool) -> [u8; 5] {
    let mut aad = [0u8; 5];
    aad[..4].copy_from_slice(&index.to_be_bytes());
    aad[4] = u8::from(last);
    aad
}

/// Number of chunks a blob of `plain_len` bytes seals into (an empty blob still has one chunk,
/// so that its "last" flag authenticates its emptiness).
#[must_use]
pub fn chunk_count(plain_len: u64) -> u64 {
    plain_len.div_ceil(CHUNK_PLAIN_LEN as u64).max(1)
}

/// Sealed size of a blob of `plain_len` bytes (without the file header).
#[must_use]
pub fn sealed_len(plain_len: u64) -> u64 {
    plain_len + chunk_count(plain_len) * TAG_LEN as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_round_trip_and_detect_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let master = MasterKey::load_or_create(dir.path()).unwrap();
        let (key, wrapped) = master.new_data_key();
        let again = MasterKey::load_or_create(dir.path()).unwrap().unwrap_data_key(&wrapped).unwrap();
        let mut sealed = Vec::new();
        key.seal_chunk([7; 8], 3, true, b"hello", &mut sealed);
        let mut copy = sealed.clone();
        again.open_chunk([7; 8], 3, true, &mut copy).unwrap();
        assert_eq!(copy, b"hello");
        // wrong index, wrong last flag, flipped bit: all refused
        assert!(again.open_chunk([7; 8], 4, true, &mut sealed.clone()).is_err());
        assert!(again.open_chunk([7; 8], 3, false, &mut sealed.clone()).is_err());
        sealed[0] ^= 1;
        assert!(again.open_chunk([7; 8], 3, true, &mut sealed).is_err());
    }

    /// The sealed form of a chunk is the on-disk format: it must not change with the AES-GCM
    /// implementation. These bytes were sealed by the RustCrypto `aes-gcm` crate tarn used
    /// before ring.
    #[test]
    fn a_sealed_chunk_has_a_fixed_byte_form() {
        let key = DataKey::from_bytes(&[0x11; 32]);
        let mut sealed = Vec::new();
        key.seal_chunk([1, 2, 3, 4, 5, 6, 7, 8], 5, true, b"tarn chunk format", &mut sealed);
        let hex: String = sealed.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5de709b1165515d3153c2f474226b97d12066576f6ba4c6e2cbf326f68cdc65aa9");
        key.open_chunk([1, 2, 3, 4, 5, 6, 7, 8], 5, true, &mut sealed).unwrap();
        assert_eq!(sealed, b"tarn chunk format");
    }

    #[test]
    fn a_different_master_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        MasterKey::load_or_create(dir.path()).unwrap();
        MasterKey::load_or_create(dir.path()).expect("the same key verifies");
        fs::write(dir.path().join(MASTER_KEY_FILE), [9u8; 32]).unwrap();
        let err = MasterKey::load_or_create(dir.path()).err().expect("a foreign key must be refused");
        assert!(err.to_string().contains("not the master key"), "{err}");
    }

    #[test]
    fn sealed_sizes() {
        assert_eq!(chunk_count(0), 1);
        assert_eq!(sealed_len(0), 16);
        assert_eq!(chunk_count(CHUNK_PLAIN_LEN as u64), 1);
        assert_eq!(chunk_count(CHUNK_PLAIN_LEN as u64 + 1), 2);
    }
}
