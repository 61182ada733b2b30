//! The records and tables of the object store (see docs/formats.md).

use redb::TableDefinition;
use serde::{Deserialize, Serialize};
use tarn_store::Extent;
use tarn_store::record::Record;

use crate::checksum::{Checksum, ChecksumAlgorithm, ChecksumType};

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
}

impl Record for ObjectRecord {
    const VERSION: u8 = 1;
    const NAME: &'static str = "object";
}

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
}

impl Record for UploadRecord {
    const VERSION: u8 = 1;
    const NAME: &'static str = "upload";
}

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
