//! Identities provisioned at start from a file (`tarn serve --iam-file iam.json`), so a test
//! suite or CI starts with known users, keys, groups, roles and policies:
//!
//! ```json
//! {
//!   "policies": [{"name": "read-lake", "path": "/", "document": {"Version": "2012-10-17", "Statement": [...]}}],
//!   "groups":   [{"name": "readers", "policies": ["read-lake"], "inline": {"extra": {...}}}],
//!   "roles":    [{"name": "crawler", "trust": {...}, "policies": ["read-lake"], "max_session_secs": 3600}],
//!   "users":    [{"name": "ci", "groups": ["readers"], "policies": [], "inline": {},
//!                 "tags": {"team": "ml"},
//!                 "keys": [{"access_key_id": "AKIA...", "secret_access_key": "..."}]}]
//! }
//! ```
//!
//! Policies are named by name (this account's) or ARN. Applying is idempotent and additive:
//! what the file names is created, attached, put or updated to say what the file says (a
//! managed policy whose document changed gets a new default version); what it does not name
//! is left as it is. The whole file is one change: a file with an error changes nothing and
//! the server does not start.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::directory::{Directory, DirectoryError, Holder, Sealer};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    #[serde(default)]
    pub policies: Vec<PolicyEntry>,
    #[serde(default)]
    pub groups: Vec<Holding>,
    #[serde(default)]
    pub roles: Vec<RoleEntry>,
    #[serde(default)]
    pub users: Vec<UserEntry>,
    /// Other accounts, each with its root key pair and its own identities.
    #[serde(default)]
    pub accounts: Vec<AccountEntry>,
}

/// Another account on the same server: its id (12 digits), its root user's key pair, and its
/// identities in the shape of the file's own.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountEntry {
    pub id: String,
    pub root: KeyEntry,
    #[serde(default)]
    pub policies: Vec<PolicyEntry>,
    #[serde(default)]
    pub groups: Vec<Holding>,
    #[serde(default)]
    pub roles: Vec<RoleEntry>,
    #[serde(default)]
    pub users: Vec<UserEntry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyEntry {
    pub name: String,
    #[serde(default)]
    pub path: Option<String>,
    pub document: Value,
    #[serde(default)]
    pub description: Option<String>,
}

/// A group: the policies attached to it and its inline ones.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holding {
    pub name: String,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub policies: Vec<String>,
    #[serde(default)]
    pub inline: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleEntry {
    pub name: String,
    #[serde(default)]
    pub path: Option<String>,
    pub trust: Value,
    #[serde(default)]
    pub policies: Vec<String>,
    #[serde(default)]
    pub inline: BTreeMap<String, Value>,
    #[serde(default)]
    pub max_session_secs: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserEntry {
    pub name: String,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub policies: Vec<String>,
    #[serde(default)]
    pub inline: BTreeMap<String, Value>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub keys: Vec<KeyEntry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// What applying a file did, for the start-up message.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub users: usize,
    pub groups: usize,
    pub roles: usize,
    pub policies: usize,
    pub keys: usize,
}

type Result<T> = std::result::Result<T, DirectoryError>;

fn invalid(what: impl Into<String>) -> DirectoryError {
    DirectoryError::InvalidInput(what.into())
}

/// Reads a provisioning file.
pub fn parse(text: &str) -> Result<File> {
    serde_json::from_str(text).map_err(|e| invalid(format!("the IAM file is not valid: {e}")))
}

fn policy_arn(dir: &Directory, name_or_arn: &str) -> Result<String> {
    if name_or_arn.starts_with("arn:") {
        return Ok(name_or_arn.to_string());
    }
    dir.policies
        .values()
        .find(|p| p.name == name_or_arn)
        .map(|p| p.arn.clone())
        .ok_or_else(|| invalid(format!("the IAM file names policy {name_or_arn}, which it does not define")))
}

/// Applies `file` to `dir` (see the module's documentation).
pub fn apply(dir: &mut Directory, sealer: &Sealer, file: &File) -> Result<Applied> {
    let mut applied = Applied::default();
    for p in &file.policies {
        let text = p.document.to_string();
        let path = p.path.as_deref().unwrap_or("/");
        let existing = dir.policies.values().find(|x| x.name.eq_ignore_ascii_case(&p.name) && x.path == path);
        match existing.map(|x| (x.arn.clone(), x.default_document().map(|d| d.text.clone()))) {
            None => {
                dir.create_policy(&p.name, Some(path), &text, p.description.as_deref(), &[])?;
                applied.policies += 1;
            }
            Some((arn, current)) if current.as_deref() != Some(text.as_str()) => {
                // a changed document becomes the new default version; the oldest other one
                // goes when the policy already keeps five
                let oldest = dir.policy(&arn).ok().and_then(|x| {
                    (x.versions.len() >= tarn_common::limits::iam::POLICY_VERSIONS_MAX)
                        .then(|| x.versions.keys().copied().find(|v| *v != x.default_version))
                        .flatten()
                });
                if let Some(v) = oldest {
                    dir.delete_policy_version(&arn, &format!("v{v}"))?;
                }
                dir.create_policy_version(&arn, &text, true)?;
                applied.policies += 1;
            }
            Some(_) => {}
        }
    }
    for g in &file.groups {
        if dir.group(&g.name).is_err() {
            dir.create_group(&g.name, g.path.as_deref())?;
            applied.groups += 1;
        }
        holdings(dir, Holder::Group, &g.name, &g.policies, &g.inline)?;
    }
    for r in &file.roles {
        let trust = r.trust.to_string();
        if dir.role(&r.name).is_err() {
            dir.create_role(&r.name, r.path.as_deref(), &trust, None, r.max_session_secs, &[], None)?;
            applied.roles += 1;
        } else {
            dir.update_trust(&r.name, &trust)?;
            if r.max_session_secs.is_some() {
                dir.update_role(&r.name, None, r.max_session_secs)?;
            }
        }
        holdings(dir, Holder::Role, &r.name, &r.policies, &r.inline)?;
    }
    for u in &file.users {
        let tags: Vec<(String, String)> = u.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        if dir.user(&u.name).is_err() {
            dir.create_user(&u.name, u.path.as_deref(), &tags, None)?;
            applied.users += 1;
        } else if !tags.is_empty() {
            dir.tag_user(&u.name, &tags)?;
        }
        for g in &u.groups {
            dir.add_user_to_group(g, &u.name)?;
        }
        holdings(dir, Holder::User, &u.name, &u.policies, &u.inline)?;
        for k in &u.keys {
            if add_key(dir, sealer, &u.name, k)? {
                applied.keys += 1;
            }
        }
    }
    Ok(applied)
}

fn holdings(
    dir: &mut Directory,
    holder: Holder,
    name: &str,
    policies: &[String],
    inline: &BTreeMap<String, Value>,
) -> Result<()> {
    for p in policies {
        let arn = policy_arn(dir, p)?;
        dir.attach(holder, name, &arn)?;
    }
    for (policy, doc) in inline {
        dir.put_inline(holder, name, policy, &doc.to_string())?;
    }
    Ok(())
}

/// Adds a key pair the file gives (true when it was not there yet); an id held by another
/// user, or given again with another secret, is refused.
fn add_key(dir: &mut Directory, sealer: &Sealer, user: &str, k: &KeyEntry) -> Result<bool> {
    let id = &k.access_key_id;
    let well_formed = id.len() >= 16 && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric());
    if !well_formed || crate::sessions::is_session_key(id) {
        return Err(invalid(format!(
            "access key id {id} is not a long-term key id (16..128 letters and digits, not ASIA...)"
        )));
    }
    if k.secret_access_key.len() < 16 {
        return Err(invalid(format!("the secret of access key {id} is shorter than 16 characters")));
    }
    let owner = dir.user(user)?.name.to_ascii_lowercase();
    if let Some(existing) = dir.keys.get(id) {
        if existing.user != owner || existing.secret != k.secret_access_key {
            return Err(invalid(format!("access key {id} already exists with another owner or secret")));
        }
        return Ok(false);
    }
    if dir.keys_of(user).len() >= tarn_common::limits::iam::ACCESS_KEYS_PER_USER {
        return Err(DirectoryError::LimitExceeded(format!(
            "Cannot exceed quota for AccessKeysPerUser: {}",
            tarn_common::limits::iam::ACCESS_KEYS_PER_USER
        )));
    }
    dir.insert_key(user, id.clone(), k.secret_access_key.clone(), sealer);
    Ok(true)
}

impl crate::directory::Iam {
    /// Applies a provisioning file, every account it names, in one durable change.
    pub async fn provision(&self, mut file: File) -> Result<Applied> {
        let home = self.account_id().to_string();
        let others = std::mem::take(&mut file.accounts);
        let mut ids = vec![home.clone()];
        for a in &others {
            if a.id.len() != 12 || !a.id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid(format!("account id {} is not 12 digits", a.id)));
            }
            if ids.contains(&a.id) {
                return Err(invalid(format!("account {} is named twice (or is this server's own)", a.id)));
            }
            ids.push(a.id.clone());
        }
        let taken = self.with_accounts(|accounts| {
            // key ids are global: one may not name a key another account holds
            let mut held: BTreeMap<String, String> = BTreeMap::new();
            for (id, dir) in &accounts.dirs {
                for k in dir.keys.keys().chain(dir.root_key.as_ref().map(|r| &r.id)) {
                    held.insert(k.clone(), id.clone());
                }
            }
            held.insert(self.identities().root().access_key_id.clone(), home.clone());
            held
        });
        let accounts = ids.clone();
        self.change_accounts(&accounts, move |dirs, sealer| {
            let mut total = apply(dirs.get_mut(&home).expect("home"), sealer, &file)?;
            for a in &others {
                let dir = dirs.get_mut(&a.id).expect("every named account");
                check_root(dir, &a.root)?;
                if dir.root_key.is_none() {
                    dir.root_key =
                        Some(dir.new_root_key(a.root.access_key_id.clone(), a.root.secret_access_key.clone(), sealer));
                }
                let part = File {
                    policies: a.policies.clone(),
                    groups: a.groups.clone(),
                    roles: a.roles.clone(),
                    users: a.users.clone(),
                    accounts: Vec::new(),
                };
                let applied = apply(dir, sealer, &part)?;
                total.users += applied.users;
                total.groups += applied.groups;
                total.roles += applied.roles;
                total.policies += applied.policies;
                total.keys += applied.keys;
            }
            // a key id belongs to one account: none in this change, nor one left out of it
            let mut owner: BTreeMap<String, String> =
                taken.into_iter().filter(|(_, account)| !dirs.contains_key(account)).collect();
            for (id, dir) in dirs.iter() {
                for k in dir.keys.keys().chain(dir.root_key.as_ref().map(|r| &r.id)) {
                    if let Some(other) = owner.insert(k.clone(), id.clone()) {
                        return Err(invalid(format!("access key {k} is held by account {other} already")));
                    }
                }
            }
            Ok(total)
        })
        .await
    }
}

/// An account's root key as the file names it: well formed, and the one it had before if any.
fn check_root(dir: &Directory, k: &KeyEntry) -> Result<()> {
    let id = &k.access_key_id;
    if id.len() < 16
        || id.len() > 128
        || !id.bytes().all(|b| b.is_ascii_alphanumeric())
        || crate::sessions::is_session_key(id)
    {
        return Err(invalid(format!(
            "root access key id {id} of account {} is not a long-term key id",
            dir.account_id
        )));
    }
    if k.secret_access_key.len() < 16 {
        return Err(invalid(format!("the root secret of account {} is shorter than 16 characters", dir.account_id)));
    }
    match &dir.root_key {
        Some(existing) if existing.id != *id || existing.secret != k.secret_access_key => {
            Err(invalid(format!("account {} already has another root key pair", dir.account_id)))
        }
        _ => Ok(()),
    }
}
