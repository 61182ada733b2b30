//! Who a request acts as, and whether it may: the one decision every service asks for.
//!
//! [`Iam::principal`] turns an access key into a [`Principal`] (the account's root, an IAM
//! user, or a role session); [`Iam::authorize`] gathers what applies to that principal from
//! the current directory snapshot (its identity policies, its permissions boundary, its session
//! policies), fills the request context's global keys, and asks the evaluator. No lock is held
//! while evaluating: the snapshot is an `Arc`.

use std::sync::Arc;

use crate::directory::{Directory, Iam, KeyStatus};
use crate::policy::{self, Caller, Context, Inputs, Policy, Verdict};

/// What a verified request acts as.
#[derive(Debug, Clone, PartialEq)]
pub enum Identity {
    /// The account's root user: everything its account owns, unless a policy denies it.
    Root,
    /// An IAM user, by name.
    User { name: String },
    /// A role session from STS AssumeRole.
    Session(Arc<Session>),
    /// An unsigned request.
    Anonymous,
}

/// A role session, as its sealed token carries it.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub role: String,
    pub session_name: String,
    pub source_identity: Option<String>,
    /// Unix seconds.
    pub expires: i64,
    /// The session policy, when AssumeRole was given one.
    pub policy: Option<Arc<Policy>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub account_id: String,
    pub arn: String,
    pub user_id: String,
    pub identity: Identity,
}

impl Principal {
    #[must_use]
    pub fn anonymous() -> Self {
        Self { account_id: String::new(), arn: String::new(), user_id: String::new(), identity: Identity::Anonymous }
    }

    #[must_use]
    pub fn is_root(&self) -> bool {
        self.identity == Identity::Root
    }
}

/// Why an access key does not authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRefusal {
    /// No such key (or an inactive one, which AWS reports the same way).
    Unknown,
    /// A session key whose token is missing, altered, or another key's.
    InvalidToken,
    /// A session key whose session is over.
    Expired,
}

impl Iam {
    /// The secret of an access key and the principal it acts as, in whichever account holds
    /// it; `None` for an unknown or inactive key.
    #[must_use]
    pub fn key(&self, access_key_id: &str) -> Option<(String, Principal)> {
        let ids = self.identities();
        if access_key_id == ids.root().access_key_id {
            return Some((ids.root().secret_access_key.clone(), root_principal(ids.account_id())));
        }
        self.with_accounts(|accounts| {
            accounts.dirs.values().find_map(|dir| {
                if let Some(root) = dir.root_key.as_ref().filter(|k| k.id == access_key_id) {
                    return Some((root.secret.clone(), root_principal(&dir.account_id)));
                }
                let key = dir.keys.get(access_key_id).filter(|k| k.status == KeyStatus::Active)?;
                let user = dir.users.get(&key.user)?;
                Some((
                    key.secret.clone(),
                    Principal {
                        account_id: dir.account_id.clone(),
                        arn: dir.user_arn(user),
                        user_id: user.id.clone(),
                        identity: Identity::User { name: user.name.clone() },
                    },
                ))
            })
        })
    }

    /// The secret of a long-term access key (a root's or an active user key's).
    #[must_use]
    pub fn key_secret(&self, access_key_id: &str) -> Option<String> {
        let ids = self.identities();
        if access_key_id == ids.root().access_key_id {
            return Some(ids.root().secret_access_key.clone());
        }
        self.with_accounts(|accounts| {
            accounts.dirs.values().find_map(|dir| {
                if let Some(root) = dir.root_key.as_ref().filter(|k| k.id == access_key_id) {
                    return Some(root.secret.clone());
                }
                let key = dir.keys.get(access_key_id).filter(|k| k.status == KeyStatus::Active)?;
                dir.users.contains_key(&key.user).then(|| key.secret.clone())
            })
        })
    }

    /// Whether `who` is the root user of the home account (the server's own), which every
    /// service's resources belong to.
    #[must_use]
    pub fn is_home_root(&self, who: &Principal) -> bool {
        who.is_root() && who.account_id == self.account_id()
    }

    /// Decides one request: `action` on `resource` (an ARN, `*` for none), with what the
    /// request brings in `context` (the global keys are added here), under the resource's
    /// policy when it has one, owned by `resource_account`. The caller's own account's
    /// directory supplies its policies.
    #[must_use]
    pub fn authorize(
        &self,
        who: &Principal,
        action: &str,
        resource: &str,
        context: &Context,
        resource_policy: Option<&Policy>,
        resource_account: &str,
    ) -> Verdict {
        self.with_accounts(|accounts| {
            let dir = accounts.of(&who.account_id);
            if dir.account_id != who.account_id && who.identity != Identity::Anonymous {
                return Verdict::ImplicitDeny;
            }
            authorize_in(dir, who, action, resource, context, resource_policy, resource_account)
        })
    }
}

/// The root user of `account`.
fn root_principal(account: &str) -> Principal {
    Principal {
        arn: format!("arn:aws:iam::{account}:root"),
        user_id: account.to_string(),
        account_id: account.to_string(),
        identity: Identity::Root,
    }
}

/// [`Iam::authorize`] against one snapshot.
#[must_use]
pub fn authorize_in(
    dir: &Directory,
    who: &Principal,
    action: &str,
    resource: &str,
    context: &Context,
    resource_policy: Option<&Policy>,
    resource_account: &str,
) -> Verdict {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
    let clock = clock_keys(now);
    // keys of this request's principal that the snapshot does not keep
    let mut own = Context::new();
    let caller = match &who.identity {
        Identity::Anonymous => Caller::anonymous(),
        _ => Caller::from_arn(&who.arn),
    };
    // borrowed from the snapshot: nothing is copied per request
    let empty = Context::new();
    let mut identity: &[Arc<Policy>] = &[];
    let mut boundary = None;
    let mut principal = &empty;
    let mut session: Option<&Policy> = None;
    let mut hint = None;
    match &who.identity {
        Identity::Root => principal = dir.root_keys(),
        Identity::Anonymous => {
            own.set("aws:PrincipalType", "Anonymous");
        }
        Identity::User { name } => {
            let Some(user) = dir.effective_user(name) else { return Verdict::ImplicitDeny };
            principal = &user.keys;
            identity = &user.policies;
            boundary = user.boundary.as_deref();
            hint = Some(&*user.hint);
        }
        Identity::Session(s) => {
            let Some(role) = dir.effective_role(&s.role) else { return Verdict::ImplicitDeny };
            principal = &role.keys;
            identity = &role.policies;
            boundary = role.boundary.as_deref();
            hint = Some(&*role.hint);
            own.set("aws:userid", who.user_id.clone());
            if let Some(src) = &s.source_identity {
                own.set("aws:SourceIdentity", src.clone());
            }
            session = s.policy.as_deref();
        }
    }
    let request = policy::Request {
        caller: &caller,
        action,
        resource,
        context: policy::Keys::layered([&own, principal, context, &clock]),
    };
    policy::authorize(&Inputs {
        request,
        identity,
        resource_policy,
        resource_account,
        boundary,
        session: session.as_slice(),
        hint,
    })
}

/// aws:EpochTime and aws:CurrentTime for `now`, made once a second (every request reads them).
fn clock_keys(now: u64) -> Arc<Context> {
    static LAST: std::sync::Mutex<Option<(u64, Arc<Context>)>> = std::sync::Mutex::new(None);
    let mut last = LAST.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    match &*last {
        Some((at, keys)) if *at == now => keys.clone(),
        _ => {
            let mut keys = Context::new();
            keys.set("aws:EpochTime", now.to_string()).set("aws:CurrentTime", iso8601(now));
            let keys = Arc::new(keys);
            *last = Some((now, keys.clone()));
            keys
        }
    }
}

/// `2026-12-07T05:00:00Z` from Unix seconds.
#[must_use]
pub fn iso8601(secs: u64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp(i64::try_from(secs).unwrap_or(0))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .format(&format)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_of_known_instants() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_796_612_400), "2026-12-07T03:00:00Z");
    }
}
