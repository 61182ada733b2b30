//! Versioned metadata records: one version byte, then the postcard encoding of the record.
//!
//! A record type that changes shape gets a new version byte and a decoder for the old one, so a
//! data dir written by an older tarn keeps opening (docs/formats.md keeps the history).

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::StoreError;

/// A record stored in a redb table.
pub trait Record: Serialize + DeserializeOwned {
    /// Current on-disk version of this record type.
    const VERSION: u8;
    /// Human name for error messages.
    const NAME: &'static str;

    fn encode(&self) -> Vec<u8> {
        let out = vec![Self::VERSION];
        postcard::to_extend(self, out).expect("records serialize infallibly")
    }

    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        match bytes.split_first() {
            Some((&v, rest)) if v == Self::VERSION => postcard::from_bytes(rest)
                .map_err(|e| StoreError::Corrupt(format!("{} record does not decode: {e}", Self::NAME))),
            Some((&v, _)) => Err(StoreError::Corrupt(format!("{} record has unknown version {v}", Self::NAME))),
            None => Err(StoreError::Corrupt(format!("{} record is empty", Self::NAME))),
        }
    }
}

/// Encodes a record that grew a trailing part: `version || postcard(base) || postcard(ext)`.
/// Postcard is a plain concatenation, so the older version's bytes are a prefix of the shape
/// and an older record decodes with `ext` at its default ([`decode_extended`]).
pub fn encode_extended<B: Serialize, X: Serialize>(version: u8, base: &B, ext: &X) -> Vec<u8> {
    let out = postcard::to_extend(base, vec![version]).expect("records serialize infallibly");
    postcard::to_extend(ext, out).expect("records serialize infallibly")
}

/// Reads what [`encode_extended`] wrote as version `version`, or the older `base_version`
/// (the base alone: `ext` is its default).
pub fn decode_extended<B: DeserializeOwned, X: DeserializeOwned + Default>(
    bytes: &[u8],
    name: &str,
    base_version: u8,
    version: u8,
) -> Result<(B, X), StoreError> {
    let bad = |e: postcard::Error| StoreError::Corrupt(format!("{name} record does not decode: {e}"));
    match bytes.split_first() {
        Some((&v, rest)) if v == version => {
            let (base, rest) = postcard::take_from_bytes::<B>(rest).map_err(bad)?;
            let ext = postcard::from_bytes::<X>(rest).map_err(bad)?;
            Ok((base, ext))
        }
        Some((&v, rest)) if v == base_version => Ok((postcard::from_bytes(rest).map_err(bad)?, X::default())),
        Some((&v, _)) => Err(StoreError::Corrupt(format!("{name} record has unknown version {v}"))),
        None => Err(StoreError::Corrupt(format!("{name} record is empty"))),
    }
}

/// A JSON document behind version byte `1`: for records that keep an AWS API shape whose
/// members tarn does not all interpret (Glue, Athena), so unknown members round-trip.
pub fn json_encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = vec![1];
    serde_json::to_writer(&mut out, value).expect("JSON records serialize");
    out
}

/// Reads a [`json_encode`]d record; `what` names it in errors.
pub fn json_decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((1, rest)) => {
            serde_json::from_slice(rest).map_err(|e| StoreError::Corrupt(format!("{what} record does not decode: {e}")))
        }
        Some((v, _)) => Err(StoreError::Corrupt(format!("{what} record has unknown version {v}"))),
        None => Err(StoreError::Corrupt(format!("{what} record is empty"))),
    }
}

/// `From<redb::StorageError | TableError | TransactionError>` for a service error type that
/// wraps [`StoreError`] through `$wrap` (e.g. `Self::Store`).
#[macro_export]
macro_rules! from_redb_errors {
    ($target:ty, $wrap:expr) => {
        $crate::from_redb_errors!(@one $target, $wrap, redb::StorageError);
        $crate::from_redb_errors!(@one $target, $wrap, redb::TableError);
        $crate::from_redb_errors!(@one $target, $wrap, redb::TransactionError);
    };
    (@one $target:ty, $wrap:expr, $err:ty) => {
        impl From<$err> for $target {
            fn from(err: $err) -> Self {
                ($wrap)($crate::StoreError::from(err))
            }
        }
    };
}
