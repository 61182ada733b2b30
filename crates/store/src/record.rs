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
