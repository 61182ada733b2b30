//! The IAM directory: users, groups, roles, managed policies and access keys of the local
//! account, each a JSON record in redb table `iam` (keyed `user/<name>`, `group/<name>`,
//! `role/<name>`, `policy/<arn>`, `key/<id>`; names case-folded, as IAM's are unique without
//! regard to case).
//!
//! Readers take an immutable snapshot ([`Directory`], one `Arc` clone); a change runs on a copy
//! of the current snapshot, writes the records it changed in one group commit, and only then
//! becomes the snapshot readers see. A change that refuses (NoSuchEntity, DeleteConflict,
//! LimitExceeded, MalformedPolicyDocument, ...) returns before anything is written, so nothing
//! is ever half-applied. Secret access keys are sealed (AES-256-GCM) under a data key wrapped
//! by the store's master key.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};
use tarn_common::limits::iam as limits;
use tarn_store::{Store, redb};

use crate::policy::{Context, Kind, Policy};

/// The redb table of the directory.
pub const IAM: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("iam");

const DATA_KEY: &str = "meta/data-key";
const SESSION_KEY: &str = "meta/session-key";

/// Why a directory change or lookup is refused; each maps onto one IAM error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    #[error("{0}")]
    NoSuchEntity(String),
    #[error("{0}")]
    EntityAlreadyExists(String),
    #[error("{0}")]
    DeleteConflict(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    MalformedPolicyDocument(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    PolicyNotAttachable(String),
    #[error("the directory could not be stored: {0}")]
    Store(String),
}

type Result<T> = std::result::Result<T, DirectoryError>;

/// A policy document as stored, with its parsed form.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Document {
    pub text: String,
    #[serde(skip)]
    pub parsed: Option<Arc<Policy>>,
}

impl PartialEq for Document {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Document {
    /// Parses `text` as a policy of `kind`, refusing it as IAM does.
    pub fn new(text: &str, kind: Kind) -> Result<Self> {
        let parsed = Policy::parse_as(text, kind).map_err(|e| DirectoryError::MalformedPolicyDocument(e.0))?;
        Ok(Self { text: text.to_string(), parsed: Some(Arc::new(parsed)) })
    }

    fn compile(&mut self, kind: Kind) {
        // a stored document was checked when it was written; one that no longer parses (a
        // stricter grammar) grants nothing rather than stopping the server
        self.parsed = Policy::parse_as(&self.text, kind).ok().map(Arc::new);
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub path: String,
    pub id: String,
    pub created_ms: i64,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// Attached managed policies' ARNs, in attachment order.
    #[serde(default)]
    pub attached: Vec<String>,
    #[serde(default)]
    pub inline: BTreeMap<String, Document>,
    /// Groups, by case-folded name.
    #[serde(default)]
    pub groups: BTreeSet<String>,
    #[serde(default)]
    pub boundary: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    pub path: String,
    pub id: String,
    pub created_ms: i64,
    #[serde(default)]
    pub attached: Vec<String>,
    #[serde(default)]
    pub inline: BTreeMap<String, Document>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Role {
    pub name: String,
    pub path: String,
    pub id: String,
    pub created_ms: i64,
    pub trust: Document,
    #[serde(default)]
    pub description: Option<String>,
    pub max_session_secs: i64,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    #[serde(default)]
    pub attached: Vec<String>,
    #[serde(default)]
    pub inline: BTreeMap<String, Document>,
    #[serde(default)]
    pub boundary: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyVersion {
    pub document: Document,
    pub created_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManagedPolicy {
    pub name: String,
    pub path: String,
    pub id: String,
    pub arn: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    #[serde(default)]
    pub description: Option<String>,
    pub default_version: u32,
    pub next_version: u32,
    pub versions: BTreeMap<u32, PolicyVersion>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

impl ManagedPolicy {
    #[must_use]
    pub fn default_document(&self) -> Option<&Document> {
        self.versions.get(&self.default_version).map(|v| &v.document)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyStatus {
    Active,
    Inactive,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessKeyRecord {
    pub id: String,
    /// The owning user, case-folded.
    pub user: String,
    /// Random prefix (the nonce's) and the sealed secret, hex.
    pub sealed: String,
    #[serde(skip)]
    pub secret: String,
    pub status: KeyStatus,
    pub created_ms: i64,
}

/// One immutable state of the directory.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    pub account_id: String,
    pub users: BTreeMap<String, User>,
    pub groups: BTreeMap<String, Group>,
    pub roles: BTreeMap<String, Role>,
    /// By ARN.
    pub policies: BTreeMap<String, ManagedPolicy>,
    pub keys: BTreeMap<String, AccessKeyRecord>,
    /// Per user (case-folded name): what applies to each of its requests, compiled.
    effective_users: HashMap<String, Effective>,
    /// Per role (case-folded name): the same for its sessions.
    effective_roles: HashMap<String, Effective>,
    /// The root user's condition keys.
    root_keys: Context,
    /// The root user's key pair, for an account other than the home one (whose root key comes
    /// from the environment or the data dir): record `root`.
    pub root_key: Option<AccessKeyRecord>,
}

/// What a user or a role brings to each of its requests, worked out once per snapshot.
#[derive(Debug, Clone, Default)]
pub struct Effective {
    /// Every identity policy that applies: its own inline and attached ones (and, for a user,
    /// its groups').
    pub policies: Vec<Arc<Policy>>,
    /// Its permissions boundary, when it has one.
    pub boundary: Option<Arc<Policy>>,
    /// Which of `policies` allowed its last request (see `policy::decide`): a hint only.
    pub hint: Arc<std::sync::atomic::AtomicUsize>,
    /// Its own condition keys: `aws:PrincipalArn`, `aws:PrincipalAccount`,
    /// `aws:PrincipalType`, `aws:PrincipalTag/*` and, for a user, `aws:username` and
    /// `aws:userid` (a session's `aws:userid` names the session, so it comes with the session).
    pub keys: Context,
}

fn fold(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// IAM's unique ids: a four-letter prefix by kind and 17 upper-case alphanumerics.
fn unique_id(prefix: &str) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut rng = rand::rng();
    let tail: String = (0..17).map(|_| CHARS[rng.random_range(0..CHARS.len())] as char).collect();
    format!("{prefix}{tail}")
}

/// IAM's refusal to delete an entity something still hangs on.
fn conflict(what: &str) -> DirectoryError {
    DirectoryError::DeleteConflict(format!("Cannot delete entity, must {what} first."))
}

fn now_ms() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis())
        .unwrap_or(i64::MAX)
}

/// Characters of a policy document as IAM counts them against its quotas: white space aside.
#[must_use]
pub fn policy_size(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

fn check_path(path: &str) -> Result<()> {
    if !(path.starts_with('/') && path.ends_with('/')) {
        return Err(DirectoryError::InvalidInput(format!(
            "The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters. ({path})"
        )));
    }
    Ok(())
}

fn check_tags(tags: &[(String, String)]) -> Result<()> {
    if tags.len() > limits::TAGS_MAX {
        return Err(DirectoryError::LimitExceeded(format!(
            "The number of tags has reached the maximum limit of {}.",
            limits::TAGS_MAX
        )));
    }
    let mut seen = BTreeSet::new();
    for (k, _) in tags {
        if !seen.insert(k.to_ascii_lowercase()) {
            return Err(DirectoryError::InvalidInput(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.".into(),
            ));
        }
    }
    Ok(())
}

fn merge_tags(existing: &mut Vec<(String, String)>, new: &[(String, String)]) -> Result<()> {
    check_tags(new)?;
    for (k, v) in new {
        match existing.iter_mut().find(|(ek, _)| ek.eq_ignore_ascii_case(k)) {
            Some(slot) => *slot = (k.clone(), v.clone()),
            None => existing.push((k.clone(), v.clone())),
        }
    }
    check_tags(existing)
}

fn inline_total(inline: &BTreeMap<String, Document>) -> usize {
    inline.values().map(|d| policy_size(&d.text)).sum()
}

/// Who an inline policy belongs to, for its quota and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    User,
    Group,
    Role,
}

impl Holder {
    fn word(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Group => "group",
            Self::Role => "role",
        }
    }

    fn inline_max(self) -> usize {
        match self {
            Self::User => limits::USER_INLINE_SIZE_MAX,
            Self::Group => limits::GROUP_INLINE_SIZE_MAX,
            Self::Role => limits::ROLE_INLINE_SIZE_MAX,
        }
    }

    fn quota_name(self) -> &'static str {
        match self {
            Self::User => "PoliciesPerUser",
            Self::Group => "PoliciesPerGroup",
            Self::Role => "PoliciesPerRole",
        }
    }
}

impl Directory {
    // ---- ARNs ----

    #[must_use]
    pub fn user_arn(&self, u: &User) -> String {
        format!("arn:aws:iam::{}:user{}{}", self.account_id, u.path, u.name)
    }

    #[must_use]
    pub fn group_arn(&self, g: &Group) -> String {
        format!("arn:aws:iam::{}:group{}{}", self.account_id, g.path, g.name)
    }

    #[must_use]
    pub fn role_arn(&self, r: &Role) -> String {
        format!("arn:aws:iam::{}:role{}{}", self.account_id, r.path, r.name)
    }

    // ---- lookups ----

    pub fn user(&self, name: &str) -> Result<&User> {
        self.users
            .get(&fold(name))
            .ok_or_else(|| DirectoryError::NoSuchEntity(format!("The user with name {name} cannot be found.")))
    }

    pub fn group(&self, name: &str) -> Result<&Group> {
        self.groups
            .get(&fold(name))
            .ok_or_else(|| DirectoryError::NoSuchEntity(format!("The group with name {name} cannot be found.")))
    }

    pub fn role(&self, name: &str) -> Result<&Role> {
        self.roles
            .get(&fold(name))
            .ok_or_else(|| DirectoryError::NoSuchEntity(format!("The role with name {name} cannot be found.")))
    }

    pub fn policy(&self, arn: &str) -> Result<&ManagedPolicy> {
        self.policies
            .get(arn)
            .ok_or_else(|| DirectoryError::NoSuchEntity(format!("Policy {arn} does not exist or is not attachable.")))
    }

    fn user_mut(&mut self, name: &str) -> Result<&mut User> {
        self.user(name)?;
        Ok(self.users.get_mut(&fold(name)).expect("just found"))
    }

    fn group_mut(&mut self, name: &str) -> Result<&mut Group> {
        self.group(name)?;
        Ok(self.groups.get_mut(&fold(name)).expect("just found"))
    }

    fn role_mut(&mut self, name: &str) -> Result<&mut Role> {
        self.role(name)?;
        Ok(self.roles.get_mut(&fold(name)).expect("just found"))
    }

    fn policy_mut(&mut self, arn: &str) -> Result<&mut ManagedPolicy> {
        self.policy(arn)?;
        Ok(self.policies.get_mut(arn).expect("just found"))
    }

    /// The access keys of a user, oldest first.
    #[must_use]
    pub fn keys_of(&self, user: &str) -> Vec<&AccessKeyRecord> {
        let user = fold(user);
        let mut keys: Vec<&AccessKeyRecord> = self.keys.values().filter(|k| k.user == user).collect();
        keys.sort_by_key(|k| k.created_ms);
        keys
    }

    /// Users in a group, by name.
    #[must_use]
    pub fn members(&self, group: &str) -> Vec<&User> {
        let group = fold(group);
        self.users.values().filter(|u| u.groups.contains(&group)).collect()
    }

    /// How many users, groups and roles a managed policy is attached to.
    #[must_use]
    pub fn attachment_count(&self, arn: &str) -> usize {
        let a = |list: &Vec<String>| list.iter().any(|x| x == arn);
        self.users.values().filter(|u| a(&u.attached)).count()
            + self.groups.values().filter(|g| a(&g.attached)).count()
            + self.roles.values().filter(|r| a(&r.attached)).count()
    }

    /// Every identity policy that applies to a user: its own inline and attached ones and
    /// those of its groups.
    #[must_use]
    pub fn user_policies(&self, name: &str) -> &[Arc<Policy>] {
        self.effective_user(name).map_or(&[], |e| e.policies.as_slice())
    }

    /// Every identity policy of a role.
    #[must_use]
    pub fn role_policies(&self, name: &str) -> &[Arc<Policy>] {
        self.effective_role(name).map_or(&[], |e| e.policies.as_slice())
    }

    /// What applies to each request of a user.
    #[must_use]
    pub fn effective_user(&self, name: &str) -> Option<&Effective> {
        self.effective_users.get(&fold(name))
    }

    /// What applies to each request of a role's sessions.
    #[must_use]
    pub fn effective_role(&self, name: &str) -> Option<&Effective> {
        self.effective_roles.get(&fold(name))
    }

    /// The root user's condition keys.
    #[must_use]
    pub fn root_keys(&self) -> &Context {
        &self.root_keys
    }

    /// The default version of a managed policy used as a permissions boundary.
    #[must_use]
    /// A boundary that does not resolve (an AWS managed policy tarn does not hold, a document
    /// that no longer parses) allows nothing: it fails closed.
    pub fn boundary(&self, arn: Option<&String>) -> Option<Arc<Policy>> {
        let arn = arn?;
        Some(
            self.policies
                .get(arn)
                .and_then(|p| p.default_document())
                .and_then(|d| d.parsed.clone())
                .unwrap_or_else(|| Arc::new(Policy::deny_all())),
        )
    }

    fn managed(&self, arns: &[String], out: &mut Vec<Arc<Policy>>) {
        for arn in arns {
            if let Some(p) = self.policies.get(arn).and_then(|p| p.default_document()).and_then(|d| d.parsed.clone()) {
                out.push(p);
            }
        }
    }

    fn rebuild(&mut self) {
        let mut users = HashMap::with_capacity(self.users.len());
        for (key, u) in &self.users {
            let mut list: Vec<Arc<Policy>> = u.inline.values().filter_map(|d| d.parsed.clone()).collect();
            self.managed(&u.attached, &mut list);
            for g in u.groups.iter().filter_map(|g| self.groups.get(g)) {
                list.extend(g.inline.values().filter_map(|d| d.parsed.clone()));
                self.managed(&g.attached, &mut list);
            }
            let mut keys = self.principal_keys(self.user_arn(u), "User", &u.tags);
            keys.set("aws:username", u.name.clone()).set("aws:userid", u.id.clone());
            users.insert(
                key.clone(),
                Effective { policies: list, boundary: self.boundary(u.boundary.as_ref()), keys, hint: Arc::default() },
            );
        }
        let mut roles = HashMap::with_capacity(self.roles.len());
        for (key, r) in &self.roles {
            let mut list: Vec<Arc<Policy>> = r.inline.values().filter_map(|d| d.parsed.clone()).collect();
            self.managed(&r.attached, &mut list);
            // a role session's aws:PrincipalArn is the role's ARN, as AWS fills it
            let keys = self.principal_keys(self.role_arn(r), "AssumedRole", &r.tags);
            roles.insert(
                key.clone(),
                Effective { policies: list, boundary: self.boundary(r.boundary.as_ref()), keys, hint: Arc::default() },
            );
        }
        self.effective_users = users;
        self.effective_roles = roles;
        self.root_keys = self.principal_keys(format!("arn:aws:iam::{}:root", self.account_id), "Account", &[]);
        self.root_keys.set("aws:userid", self.account_id.clone());
    }

    fn principal_keys(&self, arn: String, kind: &str, tags: &[(String, String)]) -> Context {
        let mut keys = Context::new();
        keys.set("aws:PrincipalArn", arn)
            .set("aws:PrincipalAccount", self.account_id.clone())
            .set("aws:PrincipalType", kind);
        for (k, v) in tags {
            keys.set(&format!("aws:PrincipalTag/{k}"), v.clone());
        }
        keys
    }

    // ---- users ----

    pub fn create_user(
        &mut self,
        name: &str,
        path: Option<&str>,
        tags: &[(String, String)],
        boundary: Option<&str>,
    ) -> Result<User> {
        let path = path.unwrap_or("/");
        check_path(path)?;
        check_tags(tags)?;
        if self.users.contains_key(&fold(name)) {
            return Err(DirectoryError::EntityAlreadyExists(format!("User with name {name} already exists.")));
        }
        if self.users.len() >= limits::USERS_MAX {
            return Err(DirectoryError::LimitExceeded(format!(
                "Cannot exceed quota for UsersPerAccount: {}",
                limits::USERS_MAX
            )));
        }
        if let Some(b) = boundary {
            self.boundary_target(b)?;
        }
        let user = User {
            name: name.to_string(),
            path: path.to_string(),
            id: unique_id("AIDA"),
            created_ms: now_ms(),
            tags: tags.to_vec(),
            attached: Vec::new(),
            inline: BTreeMap::new(),
            groups: BTreeSet::new(),
            boundary: boundary.map(str::to_string),
        };
        self.users.insert(fold(name), user.clone());
        Ok(user)
    }

    fn boundary_target(&self, arn: &str) -> Result<()> {
        if self.policies.contains_key(arn) || arn.starts_with("arn:aws:iam::aws:policy/") {
            Ok(())
        } else {
            Err(DirectoryError::NoSuchEntity(format!("Scope ARN: {arn} does not exist or is not attachable.")))
        }
    }

    pub fn update_user(&mut self, name: &str, new_name: Option<&str>, new_path: Option<&str>) -> Result<()> {
        if let Some(p) = new_path {
            check_path(p)?;
        }
        self.user(name)?;
        if let Some(n) = new_name
            && fold(n) != fold(name)
            && self.users.contains_key(&fold(n))
        {
            return Err(DirectoryError::EntityAlreadyExists(format!("User with name {n} already exists.")));
        }
        let mut user = self.users.remove(&fold(name)).expect("checked");
        if let Some(p) = new_path {
            user.path = p.to_string();
        }
        if let Some(n) = new_name {
            user.name = n.to_string();
            for k in self.keys.values_mut().filter(|k| k.user == fold(name)) {
                k.user = fold(n);
            }
        }
        self.users.insert(fold(&user.name), user);
        Ok(())
    }

    /// Deletes a user that has nothing left attached, as IAM requires.
    pub fn delete_user(&mut self, name: &str) -> Result<()> {
        let user = self.user(name)?;
        if !self.keys_of(name).is_empty() {
            return Err(conflict("delete access keys"));
        }
        if !user.inline.is_empty() {
            return Err(conflict("delete policies"));
        }
        if !user.attached.is_empty() {
            return Err(conflict("detach all policies"));
        }
        if !user.groups.is_empty() {
            return Err(conflict("remove user from all groups"));
        }
        self.users.remove(&fold(name));
        Ok(())
    }

    pub fn tag_user(&mut self, name: &str, tags: &[(String, String)]) -> Result<()> {
        merge_tags(&mut self.user_mut(name)?.tags, tags)
    }

    pub fn untag_user(&mut self, name: &str, keys: &[String]) -> Result<()> {
        self.user_mut(name)?.tags.retain(|(k, _)| !keys.iter().any(|x| x.eq_ignore_ascii_case(k)));
        Ok(())
    }

    // ---- access keys ----

    /// A new key pair for a user (at most two each).
    pub fn create_access_key(&mut self, user: &str, sealer: &Sealer) -> Result<AccessKeyRecord> {
        self.user(user)?;
        if self.keys_of(user).len() >= limits::ACCESS_KEYS_PER_USER {
            return Err(DirectoryError::LimitExceeded(format!(
                "Cannot exceed quota for AccessKeysPerUser: {}",
                limits::ACCESS_KEYS_PER_USER
            )));
        }
        let pair = crate::generate_access_key();
        Ok(self.insert_key(user, pair.access_key_id, pair.secret_access_key, sealer))
    }

    /// Records an active key pair of `user` (checked by the caller), its secret sealed.
    pub(crate) fn insert_key(&mut self, user: &str, id: String, secret: String, sealer: &Sealer) -> AccessKeyRecord {
        let record = AccessKeyRecord {
            id,
            user: fold(user),
            sealed: sealer.seal(secret.as_bytes()),
            secret,
            status: KeyStatus::Active,
            created_ms: now_ms(),
        };
        self.keys.insert(record.id.clone(), record.clone());
        record
    }

    /// A root key pair for this (non-home) account, sealed as user keys are.
    pub(crate) fn new_root_key(&self, id: String, secret: String, sealer: &Sealer) -> AccessKeyRecord {
        AccessKeyRecord {
            id,
            user: String::new(),
            sealed: sealer.seal(secret.as_bytes()),
            secret,
            status: KeyStatus::Active,
            created_ms: now_ms(),
        }
    }

    fn key_of(&self, user: &str, id: &str) -> Result<&AccessKeyRecord> {
        self.user(user)?;
        self.keys
            .get(id)
            .filter(|k| k.user == fold(user))
            .ok_or_else(|| DirectoryError::NoSuchEntity(format!("The Access Key with id {id} cannot be found.")))
    }

    pub fn update_access_key(&mut self, user: &str, id: &str, status: KeyStatus) -> Result<()> {
        self.key_of(user, id)?;
        self.keys.get_mut(id).expect("checked").status = status;
        Ok(())
    }

    pub fn delete_access_key(&mut self, user: &str, id: &str) -> Result<()> {
        self.key_of(user, id)?;
        self.keys.remove(id);
        Ok(())
    }

    // ---- groups ----

    pub fn create_group(&mut self, name: &str, path: Option<&str>) -> Result<Group> {
        let path = path.unwrap_or("/");
        check_path(path)?;
        if self.groups.contains_key(&fold(name)) {
            return Err(DirectoryError::EntityAlreadyExists(format!("Group with name {name} already exists.")));
        }
        if self.groups.len() >= limits::GROUPS_MAX {
            return Err(DirectoryError::LimitExceeded(format!(
                "Cannot exceed quota for GroupsPerAccount: {}",
                limits::GROUPS_MAX
            )));
        }
        let group = Group {
            name: name.to_string(),
            path: path.to_string(),
            id: unique_id("AGPA"),
            created_ms: now_ms(),
            attached: Vec::new(),
            inline: BTreeMap::new(),
        };
        self.groups.insert(fold(name), group.clone());
        Ok(group)
    }

    pub fn delete_group(&mut self, name: &str) -> Result<()> {
        let group = self.group(name)?;
        if !self.members(name).is_empty() {
            return Err(conflict("remove users from group"));
        }
        if !group.inline.is_empty() {
            return Err(conflict("delete policies"));
        }
        if !group.attached.is_empty() {
            return Err(conflict("detach all policies"));
        }
        self.groups.remove(&fold(name));
        Ok(())
    }

    pub fn add_user_to_group(&mut self, group: &str, user: &str) -> Result<()> {
        self.group(group)?;
        let u = self.user_mut(user)?;
        if !u.groups.contains(&fold(group)) && u.groups.len() >= limits::GROUPS_PER_USER {
            return Err(DirectoryError::LimitExceeded(format!(
                "Cannot exceed quota for GroupsPerUser: {}",
                limits::GROUPS_PER_USER
            )));
        }
        u.groups.insert(fold(group));
        Ok(())
    }

    pub fn remove_user_from_group(&mut self, group: &str, user: &str) -> Result<()> {
        self.group(group)?;
        let u = self.user_mut(user)?;
        if !u.groups.remove(&fold(group)) {
            return Err(DirectoryError::NoSuchEntity(format!(
                "The user with name {user} cannot be found in group {group}."
            )));
        }
        Ok(())
    }

    // ---- roles ----

    pub fn create_role(
        &mut self,
        name: &str,
        path: Option<&str>,
        trust: &str,
        description: Option<&str>,
        max_session_secs: Option<i64>,
        tags: &[(String, String)],
        boundary: Option<&str>,
    ) -> Result<Role> {
        let path = path.unwrap_or("/");
        check_path(path)?;
        check_tags(tags)?;
        let max = max_session_secs.unwrap_or(limits::SESSION_DURATION_MIN);
        if !(limits::SESSION_DURATION_MIN..=limits::SESSION_DURATION_MAX).contains(&max) {
            return Err(DirectoryError::InvalidInput(format!(
                "The requested MaxSessionDuration ({max}) is outside the allowed range of {} to {} seconds.",
                limits::SESSION_DURATION_MIN,
                limits::SESSION_DURATION_MAX
            )));
        }
        if self.roles.contains_key(&fold(name)) {
            return Err(DirectoryError::EntityAlreadyExists(format!("Role with name {name} already exists.")));
        }
        if self.roles.len() >= limits::ROLES_MAX {
            return Err(DirectoryError::LimitExceeded(format!(
                "Cannot exceed quota for RolesPerAccount: {}",
                limits::ROLES_MAX
            )));
        }
        let trust = trust_document(trust)?;
        if let Some(b) = boundary {
            self.boundary_target(b)?;
        }
        let role = Role {
            name: name.to_string(),
            path: path.to_string(),
            id: unique_id("AROA"),
            created_ms: now_ms(),
            trust,
            description: description.map(str::to_string),
            max_session_secs: max,
            tags: tags.to_vec(),
            attached: Vec::new(),
            inline: BTreeMap::new(),
            boundary: boundary.map(str::to_string),
        };
        self.roles.insert(fold(name), role.clone());
        Ok(role)
    }

    pub fn update_role(&mut self, name: &str, description: Option<&str>, max_session_secs: Option<i64>) -> Result<()> {
        if let Some(max) = max_session_secs
            && !(limits::SESSION_DURATION_MIN..=limits::SESSION_DURATION_MAX).contains(&max)
        {
            return Err(DirectoryError::InvalidInput(format!(
                "The requested MaxSessionDuration ({max}) is outside the allowed range of {} to {} seconds.",
                limits::SESSION_DURATION_MIN,
                limits::SESSION_DURATION_MAX
            )));
        }
        let role = self.role_mut(name)?;
        if let Some(d) = description {
            role.description = Some(d.to_string());
        }
        if let Some(m) = max_session_secs {
            role.max_session_secs = m;
        }
        Ok(())
    }

    pub fn update_trust(&mut self, name: &str, trust: &str) -> Result<()> {
        let doc = trust_document(trust)?;
        self.role_mut(name)?.trust = doc;
        Ok(())
    }

    pub fn delete_role(&mut self, name: &str) -> Result<()> {
        let role = self.role(name)?;
        if !role.inline.is_empty() {
            return Err(conflict("delete policies"));
        }
        if !role.attached.is_empty() {
            return Err(conflict("detach all policies"));
        }
        self.roles.remove(&fold(name));
        Ok(())
    }

    pub fn tag_role(&mut self, name: &str, tags: &[(String, String)]) -> Result<()> {
        merge_tags(&mut self.role_mut(name)?.tags, tags)
    }

    pub fn untag_role(&mut self, name: &str, keys: &[String]) -> Result<()> {
        self.role_mut(name)?.tags.retain(|(k, _)| !keys.iter().any(|x| x.eq_ignore_ascii_case(k)));
        Ok(())
    }

    // ---- managed policies ----

    pub fn create_policy(
        &mut self,
        name: &str,
        path: Option<&str>,
        text: &str,
        description: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<ManagedPolicy> {
        let path = path.unwrap_or("/");
        check_path(path)?;
        check_tags(tags)?;
        let document = managed_document(text)?;
        let arn = format!("arn:aws:iam::{}:policy{}{}", self.account_id, path, name);
        if self.policies.values().any(|p| p.name.eq_ignore_ascii_case(name) && p.path == path) {
            return Err(DirectoryError::EntityAlreadyExists(format!(
                "A policy called {name} already exists. Duplicate names are not allowed."
            )));
        }
        if self.policies.len() >= limits::MANAGED_POLICIES_MAX {
            return Err(DirectoryError::LimitExceeded(format!(
                "Cannot exceed quota for PoliciesPerAccount: {}",
                limits::MANAGED_POLICIES_MAX
            )));
        }
        let now = now_ms();
        let policy = ManagedPolicy {
            name: name.to_string(),
            path: path.to_string(),
            id: unique_id("ANPA"),
            arn: arn.clone(),
            created_ms: now,
            updated_ms: now,
            description: description.map(str::to_string),
            default_version: 1,
            next_version: 2,
            versions: BTreeMap::from([(1, PolicyVersion { document, created_ms: now })]),
            tags: tags.to_vec(),
        };
        self.policies.insert(arn, policy.clone());
        Ok(policy)
    }

    pub fn delete_policy(&mut self, arn: &str) -> Result<()> {
        self.policy(arn)?;
        let as_boundary = self.users.values().any(|u| u.boundary.as_deref() == Some(arn))
            || self.roles.values().any(|r| r.boundary.as_deref() == Some(arn));
        if self.attachment_count(arn) > 0 || as_boundary {
            return Err(DirectoryError::DeleteConflict("Cannot delete a policy attached to entities.".into()));
        }
        let p = &self.policies[arn];
        if p.versions.len() > 1 {
            return Err(DirectoryError::DeleteConflict(
                "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.".into(),
            ));
        }
        self.policies.remove(arn);
        Ok(())
    }

    pub fn create_policy_version(&mut self, arn: &str, text: &str, set_default: bool) -> Result<u32> {
        let document = managed_document(text)?;
        let p = self.policy_mut(arn)?;
        if p.versions.len() >= limits::POLICY_VERSIONS_MAX {
            return Err(DirectoryError::LimitExceeded(format!(
                "A managed policy can have up to {} versions. Before you create a new version, you must delete an existing version.",
                limits::POLICY_VERSIONS_MAX
            )));
        }
        let v = p.next_version;
        let now = now_ms();
        p.next_version += 1;
        p.versions.insert(v, PolicyVersion { document, created_ms: now });
        p.updated_ms = now;
        if set_default {
            p.default_version = v;
        }
        Ok(v)
    }

    pub fn policy_version(&self, arn: &str, version: &str) -> Result<(u32, &PolicyVersion)> {
        let p = self.policy(arn)?;
        parse_version(version).and_then(|v| p.versions.get(&v).map(|pv| (v, pv))).ok_or_else(|| {
            DirectoryError::NoSuchEntity(format!("Policy {arn} version {version} does not exist or is not attachable."))
        })
    }

    pub fn delete_policy_version(&mut self, arn: &str, version: &str) -> Result<()> {
        let (v, _) = self.policy_version(arn, version)?;
        let p = self.policy_mut(arn)?;
        if p.default_version == v {
            return Err(DirectoryError::DeleteConflict("Cannot delete the default version of a policy.".into()));
        }
        p.versions.remove(&v);
        Ok(())
    }

    pub fn set_default_version(&mut self, arn: &str, version: &str) -> Result<()> {
        let (v, _) = self.policy_version(arn, version)?;
        let p = self.policy_mut(arn)?;
        p.default_version = v;
        p.updated_ms = now_ms();
        Ok(())
    }

    // ---- attachments ----

    /// Attaches a managed policy to a user, group or role.
    pub fn attach(&mut self, holder: Holder, name: &str, arn: &str) -> Result<()> {
        if !self.policies.contains_key(arn) {
            return Err(DirectoryError::NoSuchEntity(format!("Policy {arn} does not exist or is not attachable.")));
        }
        let list = self.attached_mut(holder, name)?;
        if list.iter().any(|a| a == arn) {
            return Ok(());
        }
        if list.len() >= limits::ATTACHED_POLICIES_MAX {
            return Err(DirectoryError::LimitExceeded(format!(
                "Cannot exceed quota for {}: {}",
                holder.quota_name(),
                limits::ATTACHED_POLICIES_MAX
            )));
        }
        list.push(arn.to_string());
        Ok(())
    }

    pub fn detach(&mut self, holder: Holder, name: &str, arn: &str) -> Result<()> {
        let list = self.attached_mut(holder, name)?;
        let before = list.len();
        list.retain(|a| a != arn);
        if list.len() == before {
            return Err(DirectoryError::NoSuchEntity(format!("Policy {arn} was not found.")));
        }
        Ok(())
    }

    fn attached_mut(&mut self, holder: Holder, name: &str) -> Result<&mut Vec<String>> {
        Ok(match holder {
            Holder::User => &mut self.user_mut(name)?.attached,
            Holder::Group => &mut self.group_mut(name)?.attached,
            Holder::Role => &mut self.role_mut(name)?.attached,
        })
    }

    /// The managed policies attached to a user, group or role.
    pub fn attached(&self, holder: Holder, name: &str) -> Result<&[String]> {
        Ok(match holder {
            Holder::User => &self.user(name)?.attached,
            Holder::Group => &self.group(name)?.attached,
            Holder::Role => &self.role(name)?.attached,
        })
    }

    // ---- inline policies ----

    pub fn inline(&self, holder: Holder, name: &str) -> Result<&BTreeMap<String, Document>> {
        Ok(match holder {
            Holder::User => &self.user(name)?.inline,
            Holder::Group => &self.group(name)?.inline,
            Holder::Role => &self.role(name)?.inline,
        })
    }

    pub fn inline_policy(&self, holder: Holder, name: &str, policy: &str) -> Result<&Document> {
        self.inline(holder, name)?.get(policy).ok_or_else(|| {
            DirectoryError::NoSuchEntity(format!("The {} policy with name {policy} cannot be found.", holder.word()))
        })
    }

    pub fn put_inline(&mut self, holder: Holder, name: &str, policy: &str, text: &str) -> Result<()> {
        let doc = Document::new(text, Kind::Identity)?;
        let inline = self.inline_mut(holder, name)?;
        let mut after = inline.clone();
        after.insert(policy.to_string(), doc);
        if inline_total(&after) > holder.inline_max() {
            return Err(DirectoryError::LimitExceeded(format!(
                "Maximum policy size of {} bytes exceeded for {} {name}",
                holder.inline_max(),
                holder.word()
            )));
        }
        *inline = after;
        Ok(())
    }

    fn inline_mut(&mut self, holder: Holder, name: &str) -> Result<&mut BTreeMap<String, Document>> {
        Ok(match holder {
            Holder::User => &mut self.user_mut(name)?.inline,
            Holder::Group => &mut self.group_mut(name)?.inline,
            Holder::Role => &mut self.role_mut(name)?.inline,
        })
    }

    pub fn delete_inline(&mut self, holder: Holder, name: &str, policy: &str) -> Result<()> {
        self.inline_policy(holder, name, policy)?;
        self.inline_mut(holder, name)?.remove(policy);
        Ok(())
    }

    // ---- storage ----

    /// Every record as stored: key -> JSON.
    fn records(&self) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        let json = |v: &dyn erased::Record| v.to_json();
        for (k, v) in &self.users {
            out.insert(format!("user/{k}"), json(v));
        }
        for (k, v) in &self.groups {
            out.insert(format!("group/{k}"), json(v));
        }
        for (k, v) in &self.roles {
            out.insert(format!("role/{k}"), json(v));
        }
        for (k, v) in &self.policies {
            out.insert(format!("policy/{k}"), json(v));
        }
        for (k, v) in &self.keys {
            out.insert(format!("key/{k}"), json(v));
        }
        if let Some(root) = &self.root_key {
            out.insert("root".to_string(), json(root));
        }
        out
    }
}

mod erased {
    /// A directory record that serializes to its stored JSON.
    pub trait Record {
        fn to_json(&self) -> Vec<u8>;
    }

    impl<T: serde::Serialize> Record for T {
        fn to_json(&self) -> Vec<u8> {
            serde_json::to_vec(self).expect("directory records serialize")
        }
    }
}

fn parse_version(v: &str) -> Option<u32> {
    v.strip_prefix('v').and_then(|n| n.parse().ok()).filter(|n| *n > 0)
}

fn managed_document(text: &str) -> Result<Document> {
    if policy_size(text) > limits::MANAGED_POLICY_SIZE_MAX {
        return Err(DirectoryError::LimitExceeded(format!(
            "Cannot exceed quota for PolicySize: {}",
            limits::MANAGED_POLICY_SIZE_MAX
        )));
    }
    Document::new(text, Kind::Identity)
}

fn trust_document(text: &str) -> Result<Document> {
    if policy_size(text) > limits::TRUST_POLICY_SIZE_MAX {
        return Err(DirectoryError::LimitExceeded(format!(
            "Cannot exceed quota for ACLSizePerRole: {}",
            limits::TRUST_POLICY_SIZE_MAX
        )));
    }
    Document::new(text, Kind::Trust)
}

/// Seals and opens secrets under the directory's data key.
pub struct Sealer {
    key: tarn_store::crypto::DataKey,
}

impl Sealer {
    /// `hex(prefix || sealed)`, the prefix being the nonce's random part.
    #[must_use]
    pub fn seal(&self, plain: &[u8]) -> String {
        let mut prefix = [0u8; 8];
        rand::rng().fill_bytes(&mut prefix);
        let mut out = Vec::new();
        self.key.seal_chunk(prefix, 0, true, plain, &mut out);
        let mut all = prefix.to_vec();
        all.extend_from_slice(&out);
        hex::encode(all)
    }

    pub fn open(&self, sealed: &str) -> Option<Vec<u8>> {
        let bytes = hex::decode(sealed).ok()?;
        if bytes.len() < 8 {
            return None;
        }
        let prefix: [u8; 8] = bytes[..8].try_into().ok()?;
        let mut body = bytes[8..].to_vec();
        self.key.open_chunk(prefix, 0, true, &mut body).ok()?;
        Some(body)
    }
}

static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Every account's directory: the home account's (the server's own, `--account-id`) and those
/// the IAM file declares.
#[derive(Debug, Clone, Default)]
pub struct Accounts {
    pub home: String,
    pub dirs: BTreeMap<String, Arc<Directory>>,
}

impl Accounts {
    /// The directory of `account`; the home account's when there is no such account.
    #[must_use]
    pub fn of(&self, account: &str) -> &Directory {
        self.dirs.get(account).or_else(|| self.dirs.get(&self.home)).expect("the home account's directory")
    }
}

/// The records of an account other than the home one are kept under `acct/<id>/`.
fn record_prefix(home: &str, account: &str) -> String {
    if account == home { String::new() } else { format!("acct/{account}/") }
}

/// The IAM directories: a snapshot for readers, changes made durable one at a time. A handle
/// acts on one account's directory (the home account's, or another's from [`Iam::scoped`]).
#[derive(Clone)]
pub struct Iam {
    inner: Arc<Inner>,
    account: Arc<str>,
}

struct Inner {
    store: Store,
    identities: crate::Identities,
    current: RwLock<Arc<Accounts>>,
    /// Counts changes (bumped under the write lock with each new snapshot), so a thread's
    /// cached snapshot is known current with one relaxed-contention load.
    generation: std::sync::atomic::AtomicU64,
    /// This directory among others in the process (tests open many), for the threads' caches.
    id: u64,
    writer: tokio::sync::Mutex<()>,
    sealer: Sealer,
    /// Key of the temporary credentials STS issues (derived secrets, sealed session tokens).
    session_key: [u8; 32],
    /// Seconds added to the system clock when sessions are issued and checked (tests move a
    /// session past its expiry with it; zero otherwise).
    clock_offset: std::sync::atomic::AtomicI64,
}

impl Iam {
    /// Loads the directory of the root identity's account from the store (creating its data
    /// key on first use).
    pub async fn open(store: Store, identities: crate::Identities) -> Result<Self> {
        let account_id = identities.account_id().to_string();
        let store_err = |e: tarn_store::StoreError| DirectoryError::Store(e.to_string());
        let (wrapped, session_sealed, rows) = {
            use redb::ReadableTable as _;
            let txn = store.read().map_err(store_err)?;
            match txn.open_table(IAM) {
                Ok(table) => {
                    let get = |k: &str| -> Result<Option<Vec<u8>>> {
                        Ok(table.get(k).map_err(|e| DirectoryError::Store(e.to_string()))?.map(|v| v.value().to_vec()))
                    };
                    let wrapped = get(DATA_KEY)?;
                    let session = get(SESSION_KEY)?;
                    let mut rows = Vec::new();
                    for row in table.iter().map_err(|e| DirectoryError::Store(e.to_string()))? {
                        let (k, v) = row.map_err(|e| DirectoryError::Store(e.to_string()))?;
                        if !k.value().starts_with("meta/") {
                            rows.push((k.value().to_string(), v.value().to_vec()));
                        }
                    }
                    (wrapped, session, rows)
                }
                Err(redb::TableError::TableDoesNotExist(_)) => (None, None, Vec::new()),
                Err(e) => return Err(DirectoryError::Store(e.to_string())),
            }
        };
        let master = store.master_key();
        let (key, session_key) = match (wrapped, session_sealed) {
            (Some(wrapped), Some(session)) => {
                let key = master.unwrap_data_key(&wrapped).map_err(store_err)?;
                let sealer = Sealer { key };
                let session = sealer
                    .open(std::str::from_utf8(&session).unwrap_or_default())
                    .and_then(|s| <[u8; 32]>::try_from(s.as_slice()).ok())
                    .ok_or_else(|| {
                        DirectoryError::Store("the session key does not open under the master key".into())
                    })?;
                (sealer.key, session)
            }
            _ => {
                let (key, wrapped) = master.new_data_key();
                let sealer = Sealer { key };
                let mut session = [0u8; 32];
                rand::rng().fill_bytes(&mut session);
                let sealed_session = sealer.seal(&session);
                store
                    .write(move |txn| {
                        let mut t = txn.open_table(IAM)?;
                        t.insert(DATA_KEY, wrapped.as_slice())?;
                        t.insert(SESSION_KEY, sealed_session.as_bytes())?;
                        Ok(())
                    })
                    .await
                    .map_err(store_err)?;
                (sealer.key, session)
            }
        };
        let sealer = Sealer { key };
        let mut dirs: BTreeMap<String, Directory> = BTreeMap::new();
        dirs.insert(account_id.clone(), Directory { account_id: account_id.clone(), ..Directory::default() });
        for (k, v) in rows {
            let corrupt = |e: serde_json::Error| DirectoryError::Store(format!("record {k} is not valid: {e}"));
            // another account's records: acct/<id>/<kind>/<name>
            let (account, rest) = match k.strip_prefix("acct/").and_then(|r| r.split_once('/')) {
                Some((account, rest)) => (account.to_string(), rest),
                None => (account_id.clone(), k.as_str()),
            };
            let dir = dirs
                .entry(account.clone())
                .or_insert_with(|| Directory { account_id: account.clone(), ..Directory::default() });
            let (kind, id) = rest.split_once('/').unwrap_or((rest, ""));
            let open_key = |mut key: AccessKeyRecord| -> Result<AccessKeyRecord> {
                key.secret = sealer
                    .open(&key.sealed)
                    .and_then(|s| String::from_utf8(s).ok())
                    .ok_or_else(|| DirectoryError::Store(format!("the secret of {} does not open", key.id)))?;
                Ok(key)
            };
            match kind {
                "user" => {
                    let mut u: User = serde_json::from_slice(&v).map_err(corrupt)?;
                    u.inline.values_mut().for_each(|d| d.compile(Kind::Identity));
                    dir.users.insert(id.to_string(), u);
                }
                "group" => {
                    let mut g: Group = serde_json::from_slice(&v).map_err(corrupt)?;
                    g.inline.values_mut().for_each(|d| d.compile(Kind::Identity));
                    dir.groups.insert(id.to_string(), g);
                }
                "role" => {
                    let mut r: Role = serde_json::from_slice(&v).map_err(corrupt)?;
                    r.trust.compile(Kind::Trust);
                    r.inline.values_mut().for_each(|d| d.compile(Kind::Identity));
                    dir.roles.insert(id.to_string(), r);
                }
                "policy" => {
                    let mut p: ManagedPolicy = serde_json::from_slice(&v).map_err(corrupt)?;
                    p.versions.values_mut().for_each(|pv| pv.document.compile(Kind::Identity));
                    dir.policies.insert(id.to_string(), p);
                }
                "key" => {
                    let key = open_key(serde_json::from_slice(&v).map_err(corrupt)?)?;
                    dir.keys.insert(id.to_string(), key);
                }
                "root" => dir.root_key = Some(open_key(serde_json::from_slice(&v).map_err(corrupt)?)?),
                _ => tracing::warn!(key = %k, "unknown record in the iam table"),
            }
        }
        let dirs = dirs
            .into_iter()
            .map(|(id, mut dir)| {
                dir.rebuild();
                (id, Arc::new(dir))
            })
            .collect();
        let accounts = Accounts { home: account_id.clone(), dirs };
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                identities,
                current: RwLock::new(Arc::new(accounts)),
                generation: std::sync::atomic::AtomicU64::new(0),
                id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                writer: tokio::sync::Mutex::new(()),
                sealer,
                session_key,
                clock_offset: std::sync::atomic::AtomicI64::new(0),
            }),
            account: Arc::from(account_id.as_str()),
        })
    }

    /// A handle acting on `account`'s directory; `None` when there is no such account.
    #[must_use]
    pub fn scoped(&self, account: &str) -> Option<Self> {
        self.with_accounts(|a| a.dirs.contains_key(account))
            .then(|| Self { inner: self.inner.clone(), account: Arc::from(account) })
    }

    /// The account this handle acts on.
    #[must_use]
    pub fn scope(&self) -> &str {
        &self.account
    }

    /// The root key pair and the account.
    #[must_use]
    pub fn identities(&self) -> &crate::Identities {
        &self.inner.identities
    }

    #[must_use]
    pub fn account_id(&self) -> &str {
        self.inner.identities.account_id()
    }

    /// The current state of this handle's account, for reading.
    #[must_use]
    pub fn snapshot(&self) -> Arc<Directory> {
        let accounts = self.inner.current.read().expect("directory lock").clone();
        accounts.dirs.get(&*self.account).cloned().unwrap_or_else(|| Arc::new(accounts.of(&self.account).clone()))
    }

    /// [`Iam::with_accounts`] for this handle's account.
    pub fn with_snapshot<R>(&self, read: impl FnOnce(&Directory) -> R) -> R {
        self.with_accounts(|a| read(a.of(&self.account)))
    }

    /// Reads the current state of every account without touching the shared lock or reference
    /// count when this thread has read it before (the hot path of every request): each thread
    /// keeps the last state it saw and the generation it was current at.
    pub fn with_accounts<R>(&self, read: impl FnOnce(&Accounts) -> R) -> R {
        use std::sync::atomic::Ordering;
        thread_local! {
            static CACHED: std::cell::RefCell<Option<(u64, u64, Arc<Accounts>)>> =
                const { std::cell::RefCell::new(None) };
        }
        let generation = self.inner.generation.load(Ordering::Acquire);
        CACHED.with(|cell| {
            if let Ok(cached) = cell.try_borrow()
                && let Some((id, g, accounts)) = &*cached
                && *id == self.inner.id
                && *g == generation
            {
                return read(accounts);
            }
            let (g, accounts) = {
                let current = self.inner.current.read().expect("directory lock");
                (self.inner.generation.load(Ordering::Acquire), current.clone())
            };
            // a read nested in another keeps the outer one's state cached
            if let Ok(mut cached) = cell.try_borrow_mut() {
                *cached = Some((self.inner.id, g, accounts.clone()));
            }
            read(&accounts)
        })
    }

    #[must_use]
    pub fn session_key(&self) -> &[u8; 32] {
        &self.inner.session_key
    }

    /// Moves the sessions' clock by `secs` (see `tarn serve --session-clock-offset-secs`).
    pub fn set_clock_offset(&self, secs: i64) {
        self.inner.clock_offset.store(secs, std::sync::atomic::Ordering::Relaxed);
    }

    /// Unix seconds on the sessions' clock.
    #[must_use]
    pub fn now_secs(&self) -> i64 {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
        i64::try_from(now).unwrap_or(i64::MAX) + self.inner.clock_offset.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs `change` on a copy of this handle's account's directory; when it succeeds, the
    /// records it changed are committed (durable before this returns) and the copy becomes
    /// current.
    pub async fn change<R>(&self, change: impl FnOnce(&mut Directory, &Sealer) -> Result<R>) -> Result<R> {
        let accounts = [self.account.to_string()];
        let account = self.account.clone();
        self.change_accounts(&accounts, move |dirs, sealer| {
            change(dirs.get_mut(&*account).expect("the account is in the change"), sealer)
        })
        .await
    }

    /// Runs `change` on copies of the directories of `accounts` (an account not held yet starts
    /// empty) in one durable commit: all of it happens, or none.
    pub async fn change_accounts<R>(
        &self,
        accounts: &[String],
        change: impl FnOnce(&mut BTreeMap<String, Directory>, &Sealer) -> Result<R>,
    ) -> Result<R> {
        let _writer = self.inner.writer.lock().await;
        let old = self.inner.current.read().expect("directory lock").clone();
        let empty = |id: &str| Directory { account_id: id.to_string(), ..Directory::default() };
        let mut copies: BTreeMap<String, Directory> = accounts
            .iter()
            .map(|id| (id.clone(), old.dirs.get(id).map_or_else(|| empty(id), |d| (**d).clone())))
            .collect();
        let out = change(&mut copies, &self.inner.sealer)?;
        let mut writes: Vec<(String, Option<Vec<u8>>)> = Vec::new();
        for (id, new) in &copies {
            let before = old.dirs.get(id).map(|d| d.records()).unwrap_or_default();
            let after = new.records();
            let prefix = record_prefix(&old.home, id);
            for (k, v) in &after {
                if before.get(k) != Some(v) {
                    writes.push((format!("{prefix}{k}"), Some(v.clone())));
                }
            }
            for k in before.keys() {
                if !after.contains_key(k) {
                    writes.push((format!("{prefix}{k}"), None));
                }
            }
        }
        if !writes.is_empty() {
            self.inner
                .store
                .write(move |txn| {
                    let mut t = txn.open_table(IAM)?;
                    for (k, v) in &writes {
                        match v {
                            Some(bytes) => {
                                t.insert(k.as_str(), bytes.as_slice())?;
                            }
                            None => {
                                t.remove(k.as_str())?;
                            }
                        }
                    }
                    Ok(())
                })
                .await
                .map_err(|e| DirectoryError::Store(e.to_string()))?;
        }
        let mut next = (*old).clone();
        for (id, mut new) in copies {
            new.rebuild();
            next.dirs.insert(id, Arc::new(new));
        }
        {
            let mut current = self.inner.current.write().expect("directory lock");
            *current = Arc::new(next);
            self.inner.generation.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        }
        Ok(out)
    }
}
