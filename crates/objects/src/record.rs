//! The records and tables of the object store (see docs/formats.md).

use redb::TableDefinition;
use serde::{Deserialize, Serialize};
use tarn_store::Extent;
use tarn_store::record::{self, Record};

use crate::checksum::{Checksum, ChecksumAlgorithm, ChecksumType};
pub use crate::sse::Sse;

/// `Record` v2 of a record whose v1 had no `sse`: v1's bytes followed by the `Sse` (v1 reads as
/// SSE-S3).
macro_rules! sse_record {
    ($ty:ty, $name:literal) => {
        impl Record for $ty {
            const VERSION: u8 = 2;
            const NAME: &'static str = $name;

            fn encode(&self) -> Vec<u8> {
                record::encode_extended(Self::VERSION, self, &self.sse)
            }

            fn decode(bytes: &[u8]) -> Result<Self, tarn_store::StoreError> {
                let (mut rec, sse): (Self, Sse) = record::decode_extended(bytes, Self::NAME, 1, Self::VERSION)?;
                rec.sse = sse;
                Ok(rec)
            }
        }
    };
}

/// Bucket name -> [`BucketRecord`].
pub const BUCKETS: TableDefinition<&str, &[u8]> = TableDefinition::new("s3_buckets");
/// (bucket, key) -> [`ObjectRecord`] of the current version, absent when the key has no current
/// version or its latest version is a delete marker. ListObjects reads only this table.
pub const CURRENT: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("s3_current");
/// (bucket, key, `u64::MAX - seq`) -> [`ObjectRecord`]: every version, newest first per key.
pub const VERSIONS: TableDefinition<(&str, &str, u64), &[u8]> = TableDefinition::new("s3_versions");
/// (bucket, key) -> seq of the key's `null` version, if it has one.
pub const NULL_VERSIONS: TableDefinition<(&str, &str), u64> = TableDefinition::new("s3_null_versions");
/// (bucket, key, upload id) -> [`UploadRecord`].
pub const UPLOADS: TableDefinition<(&str, &str, &str), &[u8]> = TableDefinition::new("s3_uploads");
/// (upload id, part number) -> [`PartRecord`].
pub const PARTS: TableDefinition<(&str, u32), &[u8]> = TableDefinition::new("s3_parts");

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Versioning {
    Unversioned,
    Enabled,
    Suspended,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct BucketRecord {
    pub created_ns: i64,
    pub region: String,
    pub versioning: Versioning,
}

impl Record for BucketRecord {
    const VERSION: u8 = 1;
    const NAME: &'static str = "bucket";
}

/// Headers stored with an object and returned on GET/HEAD.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectMeta {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub content_disposition: Option<String>,
    pub content_language: Option<String>,
    pub cache_control: Option<String>,
    pub expires: Option<String>,
    pub website_redirect_location: Option<String>,
    pub storage_class: Option<String>,
    /// `x-amz-meta-*` pairs, names lower-case without the prefix.
    pub user: Vec<(String, String)>,
}

impl ObjectMeta {
    /// Size of user metadata as S3 counts it against the 2 KiB limit.
    #[must_use]
    pub fn user_size(&self) -> usize {
        self.user.iter().map(|(k, v)| k.len() + v.len()).sum()
    }
}

/// Where an object's sealed bytes are and the key that opens them.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct DataRef {
    pub wrapped_key: Vec<u8>,
    pub extents: Vec<Extent>,
}

/// One version of one key (or a delete marker).
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct ObjectRecord {
    /// `None` is the `null` version.
    pub version_id: Option<String>,
    pub seq: u64,
    pub delete_marker: bool,
    pub last_modified_ns: i64,
    pub size: u64,
    /// Hex MD5 (or `md5-of-md5s-N` for multipart), without quotes.
    pub etag: String,
    pub meta: ObjectMeta,
    pub checksum: Option<Checksum>,
    /// Sizes of the parts, for objects made by multipart upload.
    pub part_sizes: Vec<u64>,
    pub data: Option<DataRef>,
    /// Who keeps the data key (v2; a v1 record is SSE-S3). Encoded after the other fields.
    #[serde(skip)]
    pub sse: Sse,
}

sse_record!(ObjectRecord, "object");

impl ObjectRecord {
    #[must_use]
    pub fn version_id_str(&self) -> &str {
        self.version_id.as_deref().unwrap_or("null")
    }

    #[must_use]
    pub fn quoted_etag(&self) -> String {
        format!("\"{}\"", self.etag)
    }
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct UploadRecord {
    pub initiated_ns: i64,
    pub meta: ObjectMeta,
    pub wrapped_key: Vec<u8>,
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    pub checksum_type: Option<ChecksumType>,
    /// Who keeps the upload's data key (v2; a v1 record is SSE-S3), encoded last.
    #[serde(skip)]
    pub sse: Sse,
}

sse_record!(UploadRecord, "upload");

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct PartRecord {
    pub etag: String,
    pub size: u64,
    pub last_modified_ns: i64,
    pub extent: Extent,
    pub checksum: Option<String>,
}

impl Record for PartRecord {
    const VERSION: u8 = 1;
    const NAME: &'static str = "part";
}

/// Key of a version in [`VERSIONS`]: newest first.
#[must_use]
pub fn version_rank(seq: u64) -> u64 {
    u64::MAX - seq
}

/// Version ids carry their sequence number (hex) followed by random characters, so a lookup by
/// version id is a point read. Clients treat them as opaque.
#[must_use]
pub fn make_version_id(seq: u64) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let tail: String = (0..16).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect();
    format!("{seq:016x}{tail}")
}

/// The sequence number inside a version id made by [`make_version_id`].
#[must_use]
pub fn parse_version_id(id: &str) -> Option<u64> {
    if id.len() != 32 || !id.is_ascii() {
        return None;
    }
    u64::from_str_radix(&id[..16], 16).ok()
}

/// Upload ids sort by creation, then random.
#[must_use]
pub fn make_upload_id(seq: u64) -> String {
    let mut bytes = [0u8; 12];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    format!("{seq:016x}{}", hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(sse: Sse) -> ObjectRecord {
        ObjectRecord {
            version_id: Some("v".into()),
            seq: 7,
            delete_marker: false,
            last_modified_ns: 1,
            size: 3,
            etag: "e".into(),
            meta: ObjectMeta::default(),
            checksum: None,
            part_sizes: vec![1, 2],
            data: Some(DataRef { wrapped_key: vec![9; 60], extents: Vec::new() }),
            sse,
        }
    }

    /// A v1 record (written before SSE-KMS) is v2's bytes without the tail: it still reads,
    /// as SSE-S3; a v2 record keeps how its key is kept.
    #[test]
    fn object_records_of_v1_read_as_sse_s3_and_v2_round_trips() {
        let v1 = record::encode_extended(1, &object(Sse::S3), &());
        let read = ObjectRecord::decode(&v1).unwrap();
        assert_eq!((read.sse, read.seq, read.part_sizes), (Sse::S3, 7, vec![1, 2]));
        let kms = Sse::Kms(crate::KmsSse {
            key_arn: "arn:aws:kms:us-east-1:000000000000:key/k".into(),
            context: vec![("aws:s3:arn".into(), "arn:aws:s3:::b/k".into())],
            bucket_key: Some(vec![1, 2, 3]),
            dsse: false,
        });
        let v2 = object(kms.clone()).encode();
        assert_eq!(v2[0], 2);
        assert_eq!(ObjectRecord::decode(&v2).unwrap().sse, kms);
        assert!(ObjectRecord::decode(&[3, 0]).is_err(), "an unknown version is refused");
    }
}
