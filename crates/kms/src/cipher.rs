//! The bytes of KMS: ciphertext blobs that name their key and material version, sealed with
//! AES-256-GCM over the encryption context.

use std::collections::BTreeMap;

use rand::RngCore;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

/// The first byte of every blob tarn's KMS makes.
const FORMAT: u8 = 1;
/// A key id is a UUID in its 36-character text form.
pub const KEY_ID_LEN: usize = 36;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + KEY_ID_LEN + 4 + NONCE_LEN;

/// What a ciphertext blob names: its key and the key material's version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobHeader {
    pub key_id: String,
    pub version: u32,
}

/// The associated data: the key, the version and the encryption context, each pair sorted by
/// key (a BTreeMap) and length-prefixed, so no two contexts give the same bytes.
fn aad(key_id: &str, version: u32, context: &BTreeMap<String, String>) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(key_id.as_bytes());
    out.extend_from_slice(&version.to_be_bytes());
    for (k, v) in context {
        for part in [k, v] {
            out.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
    }
    out
}

/// A material's AES-256-GCM key.
pub fn cipher(material: &[u8]) -> Option<LessSafeKey> {
    Some(LessSafeKey::new(UnboundKey::new(&AES_256_GCM, material).ok()?))
}

/// Seals `plain` under `cipher` (the material `version` of `key_id`) as a self-describing blob.
pub fn seal(
    cipher: &LessSafeKey,
    key_id: &str,
    version: u32,
    context: &BTreeMap<String, String>,
    plain: &[u8],
) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    let mut out = Vec::with_capacity(HEADER_LEN + plain.len() + TAG_LEN);
    out.push(FORMAT);
    out.extend_from_slice(key_id.as_bytes());
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&nonce);
    let mut body = plain.to_vec();
    let tag = cipher
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(key_id, version, context)),
            &mut body,
        )
        .expect("AES-GCM sealing of at most a few KiB cannot fail");
    out.extend_from_slice(&body);
    out.extend_from_slice(tag.as_ref());
    out
}

/// The key and version a blob names, or None when it is not one of tarn's blobs.
#[must_use]
pub fn header(blob: &[u8]) -> Option<BlobHeader> {
    if blob.len() < HEADER_LEN + TAG_LEN || blob[0] != FORMAT {
        return None;
    }
    let key_id = std::str::from_utf8(&blob[1..=KEY_ID_LEN]).ok()?.to_string();
    let version = u32::from_be_bytes(blob[1 + KEY_ID_LEN..1 + KEY_ID_LEN + 4].try_into().ok()?);
    Some(BlobHeader { key_id, version })
}

/// Opens a blob whose header named `header`; None when it was not sealed under this material
/// with this context, or was changed.
pub fn open(
    cipher: &LessSafeKey,
    header: &BlobHeader,
    context: &BTreeMap<String, String>,
    blob: &[u8],
) -> Option<Vec<u8>> {
    let nonce: [u8; NONCE_LEN] = blob.get(1 + KEY_ID_LEN + 4..HEADER_LEN)?.try_into().ok()?;
    let mut body = blob.get(HEADER_LEN..)?.to_vec();
    let plain = cipher
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(&header.key_id, header.version, context)),
            &mut body,
        )
        .ok()?;
    Some(plain.to_vec())
}

/// `n` random bytes.
#[must_use]
pub fn random(n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    rand::rng().fill_bytes(&mut out);
    out
}

/// A random UUID (version 4) in its text form.
#[must_use]
pub fn uuid() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect()
    }

    #[test]
    fn a_blob_names_its_key_and_opens_only_with_its_context() {
        let material = random(32);
        let c = cipher(&material).unwrap();
        let id = uuid();
        assert_eq!(id.len(), KEY_ID_LEN);
        let context = ctx(&[("bucket", "b"), ("key", "k")]);
        let blob = seal(&c, &id, 3, &context, b"secret");
        let h = header(&blob).unwrap();
        assert_eq!(h, BlobHeader { key_id: id.clone(), version: 3 });
        assert_eq!(open(&c, &h, &context, &blob).as_deref(), Some(&b"secret"[..]));
        assert!(open(&c, &h, &ctx(&[("bucket", "b")]), &blob).is_none(), "another context");
        assert!(open(&c, &h, &ctx(&[("bucket", "bk"), ("ey", "k")]), &blob).is_none(), "pairs are length-prefixed");
        let mut flipped = blob.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(open(&c, &h, &context, &flipped).is_none(), "a flipped bit");
        let other = cipher(&random(32)).unwrap();
        assert!(open(&other, &h, &context, &blob).is_none(), "another material");
        assert!(header(&blob[..HEADER_LEN]).is_none(), "truncated");
        assert!(header(b"not a blob at all, not at all, not at all, not at all, no").is_none());
    }
}
