//! Who may call tarn: access keys and their secrets.
//!
//! The account's root user has a key pair from `TARN_ROOT_ACCESS_KEY_ID` /
//! `TARN_ROOT_SECRET_ACCESS_KEY`, or else generated on first start and kept in
//! `keys/root-credentials.json` (mode 0600) in the data dir ([`Identities`]). Everyone else is
//! in the IAM directory ([`directory`]); [`access`] says who a key acts as and decides each
//! request with [`policy`]'s evaluator.

pub mod access;
pub mod directory;
pub mod policy;
pub mod provision;
pub mod sessions;

pub use access::{Identity, KeyRefusal, Principal, Session};
pub use directory::{DirectoryError, Iam};

use std::fs;
use std::io::Write;
use std::path::Path;

use rand::Rng;
use serde::{Deserialize, Serialize};

const ROOT_CREDENTIALS_FILE: &str = "root-credentials.json";

#[derive(Debug, thiserror::Error)]
pub enum IamError {
    #[error("i/o error on the credentials file: {0}")]
    Io(#[from] std::io::Error),
    #[error("credentials file is not valid: {0}")]
    Corrupt(String),
    #[error("access key id and secret must both be set or both be unset")]
    HalfConfigured,
}

/// An access key pair.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessKey {
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// Where the root key pair came from, for the start-up message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySource {
    Environment,
    DataDir,
    Generated,
}

/// The principals tarn knows.
#[derive(Clone, Debug)]
pub struct Identities {
    account_id: String,
    root: AccessKey,
}

impl Identities {
    /// Resolves the root key pair: explicit, else stored in `keys_dir`, else generated and stored.
    pub fn load(keys_dir: &Path, account_id: &str, explicit: Option<AccessKey>) -> Result<(Self, KeySource), IamError> {
        let (root, source) = match explicit {
            Some(key) => (key, KeySource::Environment),
            None => {
                let path = keys_dir.join(ROOT_CREDENTIALS_FILE);
                match fs::read(&path) {
                    Ok(bytes) => (
                        serde_json::from_slice(&bytes).map_err(|e| IamError::Corrupt(e.to_string()))?,
                        KeySource::DataDir,
                    ),
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                        let key = generate_access_key();
                        fs::create_dir_all(keys_dir)?;
                        write_private(&path, &serde_json::to_vec_pretty(&key).expect("serializes"))?;
                        (key, KeySource::Generated)
                    }
                    Err(err) => return Err(err.into()),
                }
            }
        };
        Ok((Self { account_id: account_id.to_string(), root }, source))
    }

    #[must_use]
    pub fn root(&self) -> &AccessKey {
        &self.root
    }

    #[must_use]
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// The secret for an access key id, if the key exists.
    #[must_use]
    pub fn secret_for(&self, access_key_id: &str) -> Option<&str> {
        (access_key_id == self.root.access_key_id).then_some(self.root.secret_access_key.as_str())
    }
}

/// A key pair in AWS's shapes: `AKIA` + 16 upper-case alphanumerics, and a 40-character secret.
#[must_use]
pub fn generate_access_key() -> AccessKey {
    const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const SECRET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut rng = rand::rng();
    let id: String = (0..16).map(|_| UPPER[rng.random_range(0..UPPER.len())] as char).collect();
    let secret: String = (0..40).map(|_| SECRET[rng.random_range(0..SECRET.len())] as char).collect();
    AccessKey { access_key_id: format!("AKIA{id}"), secret_access_key: secret }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&tmp, path)?;
    fs::File::open(path.parent().expect("file in a dir"))?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_root_key_persists_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let (first, source) = Identities::load(dir.path(), "000000000000", None).unwrap();
        assert_eq!(source, KeySource::Generated);
        assert!(first.root().access_key_id.starts_with("AKIA"));
        assert_eq!(first.root().access_key_id.len(), 20);
        assert_eq!(first.root().secret_access_key.len(), 40);
        let (second, source) = Identities::load(dir.path(), "000000000000", None).unwrap();
        assert_eq!(source, KeySource::DataDir);
        assert_eq!(first.root(), second.root());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(ROOT_CREDENTIALS_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(second.secret_for(&first.root().access_key_id), Some(first.root().secret_access_key.as_str()));
        assert_eq!(second.secret_for("AKIAUNKNOWN"), None);
    }
}
