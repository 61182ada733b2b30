//! Limits as AWS documents them for S3 (see the S3 user guide, "Amazon S3 multipart upload limits"
//! and "Working with object metadata").

/// Largest object a single PUT may carry: 5 GiB.
pub const PUT_OBJECT_SIZE_MAX: u64 = 5 * 1024 * 1024 * 1024;
/// Largest object overall: 5 TiB.
pub const OBJECT_SIZE_MAX: u64 = 5 * 1024 * 1024 * 1024 * 1024;
/// Smallest part of a multipart upload, except the last one: 5 MiB.
pub const PART_SIZE_MIN: u64 = 5 * 1024 * 1024;
/// Largest part of a multipart upload: 5 GiB.
pub const PART_SIZE_MAX: u64 = 5 * 1024 * 1024 * 1024;
/// Part numbers run from 1 to 10,000.
pub const PART_NUMBER_MAX: i32 = 10_000;
/// Object keys are at most 1024 bytes of UTF-8.
pub const KEY_LENGTH_MAX: usize = 1024;
/// User-defined metadata (names plus values, as sent) is at most 2 KiB.
pub const USER_METADATA_SIZE_MAX: usize = 2 * 1024;
/// A request's header section (names plus values) is at most 8 KiB.
pub const HEADER_SECTION_SIZE_MAX: usize = 8 * 1024;
/// ListObjects, ListObjectVersions, ListParts and ListMultipartUploads return at most 1000 entries.
pub const LIST_PAGE_SIZE_MAX: usize = 1000;
/// DeleteObjects takes at most 1000 keys.
pub const DELETE_OBJECTS_KEYS_MAX: usize = 1000;
/// Bucket names are 3 to 63 characters.
pub const BUCKET_NAME_LENGTH_MIN: usize = 3;
/// Bucket names are 3 to 63 characters.
pub const BUCKET_NAME_LENGTH_MAX: usize = 63;
/// Presigned SigV4 URLs live at most seven days.
pub const PRESIGNED_EXPIRES_MAX_SECONDS: u64 = 604_800;
/// Requests signed more than 15 minutes away from the server's clock are refused.
pub const CLOCK_SKEW_MAX_SECONDS: i64 = 15 * 60;
