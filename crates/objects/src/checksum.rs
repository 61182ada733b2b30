//! The checksums S3 computes and verifies: MD5 (ETag, Content-MD5) and the flexible checksums
//! CRC32, CRC32C, CRC64NVME, SHA1 and SHA256 (`x-amz-checksum-*`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use md5::Digest as _;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChecksumAlgorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl ChecksumAlgorithm {
    /// Parses AWS's spelling (`CRC32`, `crc32`, ...).
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_uppercase().as_str() {
            "CRC32" => Some(Self::Crc32),
            "CRC32C" => Some(Self::Crc32c),
            "CRC64NVME" => Some(Self::Crc64Nvme),
            "SHA1" => Some(Self::Sha1),
            "SHA256" => Some(Self::Sha256),
            _ => None,
        }
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Crc64Nvme => "CRC64NVME",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }

    /// The header that carries this checksum, e.g. `x-amz-checksum-crc32`.
    #[must_use]
    pub fn header_name(self) -> String {
        format!("x-amz-checksum-{}", self.as_str().to_ascii_lowercase())
    }

    /// Length of the raw digest in bytes.
    #[must_use]
    pub fn digest_len(self) -> usize {
        match self {
            Self::Crc32 | Self::Crc32c => 4,
            Self::Crc64Nvme => 8,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }
}

/// Whether a checksum covers the whole object or is a checksum of part checksums.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChecksumType {
    FullObject,
    Composite,
}

impl ChecksumType {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FullObject => "FULL_OBJECT",
            Self::Composite => "COMPOSITE",
        }
    }
}

/// A stored checksum: algorithm, base64 value (composite ones end in `-N`), and type.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Checksum {
    pub algorithm: ChecksumAlgorithm,
    pub value: String,
    pub kind: ChecksumType,
}

/// A running flexible checksum.
pub enum Hasher {
    Crc(ChecksumAlgorithm, crc_fast::Digest),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl Hasher {
    #[must_use]
    pub fn new(algorithm: ChecksumAlgorithm) -> Self {
        use crc_fast::CrcAlgorithm as A;
        match algorithm {
            ChecksumAlgorithm::Crc32 => Self::Crc(algorithm, crc_fast::Digest::new(A::Crc32IsoHdlc)),
            ChecksumAlgorithm::Crc32c => Self::Crc(algorithm, crc_fast::Digest::new(A::Crc32Iscsi)),
            ChecksumAlgorithm::Crc64Nvme => Self::Crc(algorithm, crc_fast::Digest::new(A::Crc64Nvme)),
            ChecksumAlgorithm::Sha1 => Self::Sha1(sha1::Sha1::new()),
            ChecksumAlgorithm::Sha256 => Self::Sha256(sha2::Sha256::new()),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Self::Crc(_, d) => d.update(data),
            Self::Sha1(h) => h.update(data),
            Self::Sha256(h) => h.update(data),
        }
    }

    #[must_use]
    pub fn algorithm(&self) -> ChecksumAlgorithm {
        match self {
            Self::Crc(a, _) => *a,
            Self::Sha1(_) => ChecksumAlgorithm::Sha1,
            Self::Sha256(_) => ChecksumAlgorithm::Sha256,
        }
    }

    /// Raw digest bytes (big-endian for CRCs, as S3 encodes them).
    #[must_use]
    pub fn finalize_raw(self) -> Vec<u8> {
        match self {
            Self::Crc(a, d) => {
                let v = d.finalize();
                if a == ChecksumAlgorithm::Crc64Nvme {
                    v.to_be_bytes().to_vec()
                } else {
                    u32::try_from(v).expect("32-bit crc").to_be_bytes().to_vec()
                }
            }
            Self::Sha1(h) => h.finalize().to_vec(),
            Self::Sha256(h) => h.finalize().to_vec(),
        }
    }

    #[must_use]
    pub fn finalize_base64(self) -> String {
        B64.encode(self.finalize_raw())
    }
}

/// Checksum of a whole buffer, base64.
#[must_use]
pub fn checksum_base64(algorithm: ChecksumAlgorithm, data: &[u8]) -> String {
    let mut h = Hasher::new(algorithm);
    h.update(data);
    h.finalize_base64()
}

/// CRC of `a || b` from the CRCs of `a` and `b` (for full-object checksums of multipart uploads).
#[must_use]
pub fn combine_crc(algorithm: ChecksumAlgorithm, crc_a: &[u8], crc_b: &[u8], len_b: u64) -> Option<Vec<u8>> {
    use crc_fast::CrcAlgorithm as A;
    let (alg, width) = match algorithm {
        ChecksumAlgorithm::Crc32 => (A::Crc32IsoHdlc, 4),
        ChecksumAlgorithm::Crc32c => (A::Crc32Iscsi, 4),
        ChecksumAlgorithm::Crc64Nvme => (A::Crc64Nvme, 8),
        _ => return None,
    };
    let read = |b: &[u8]| -> Option<u64> {
        if b.len() != width {
            return None;
        }
        Some(b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
    };
    let combined = crc_fast::checksum_combine(alg, read(crc_a)?, read(crc_b)?, len_b);
    Some(if width == 4 {
        u32::try_from(combined).ok()?.to_be_bytes().to_vec()
    } else {
        combined.to_be_bytes().to_vec()
    })
}

/// Decodes a base64 checksum value, checking its length for the algorithm.
#[must_use]
pub fn decode_checksum(algorithm: ChecksumAlgorithm, value: &str) -> Option<Vec<u8>> {
    let raw = B64.decode(value).ok()?;
    (raw.len() == algorithm.digest_len()).then_some(raw)
}

/// MD5 of a buffer.
#[must_use]
pub fn md5(data: &[u8]) -> [u8; 16] {
    md5::Md5::digest(data).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // "hello world" checksums as S3 reports them
        assert_eq!(checksum_base64(ChecksumAlgorithm::Crc32, b"hello world"), "DUoRhQ==");
        assert_eq!(checksum_base64(ChecksumAlgorithm::Crc32c, b"hello world"), "yZRlqg==");
        assert_eq!(checksum_base64(ChecksumAlgorithm::Sha1, b"hello world"), "Kq5sNclPz7QV2+lfQIuc6R7oRu0=");
        assert_eq!(
            checksum_base64(ChecksumAlgorithm::Sha256, b"hello world"),
            "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="
        );
    }

    #[test]
    fn crc_combination_matches_whole() {
        for alg in [ChecksumAlgorithm::Crc32, ChecksumAlgorithm::Crc32c, ChecksumAlgorithm::Crc64Nvme] {
            let a = b"the quick brown fox ";
            let b = b"jumps over the lazy dog";
            let whole = [&a[..], &b[..]].concat();
            let mut ha = Hasher::new(alg);
            ha.update(a);
            let mut hb = Hasher::new(alg);
            hb.update(b);
            let mut hw = Hasher::new(alg);
            hw.update(&whole);
            let combined = combine_crc(alg, &ha.finalize_raw(), &hb.finalize_raw(), b.len() as u64).unwrap();
            assert_eq!(combined, hw.finalize_raw(), "{alg:?}");
        }
    }
}
