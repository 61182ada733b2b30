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
    /// The secret of an access key and the principal it acts as; `None` for an unknown or
    /// inactive key.
    #[must_use]
    pub fn key(&self, access_key_id: &str) -> Option<(String, Principal)> {
        let ids = self.identities();
        if access_key_id == ids.root().access_key_id {
            let account = ids.account_id().to_string();
            return Some((
                ids.root().secret_access_key.clone(),
                Principal {
                    arn: format!("arn:aws:iam::{account}:root"),
                    user_id: account.clone(),
                    account_id: account,
                    identity: Identity::Root,
                },
            ));
        }
        let dir = self.snapshot();
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
    }

    /// Decides one request: `action` on `resource` (an ARN, `*` for none), with what the
    /// request brings in `context` (the global keys are added here), under the resource's
    /// policy when it has one, owned by `resource_account`.
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
        let dir = self.snapshot();
        authorize_in(&dir, who, action, resource, context, resource_policy, resource_account)
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
    let mut cx = context.clone();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
    if cx.get("aws:EpochTime").is_none() {
        let (epoch, current) = clock_keys(now);
        cx.set("aws:EpochTime", epoch);
        cx.set("aws:CurrentTime", current);
    }
    let caller = match &who.identity {
        Identity::Anonymous => Caller::anonymous(),
        _ => {
            cx.set("aws:PrincipalArn", who.arn.clone());
            cx.set("aws:PrincipalAccount", who.account_id.clone());
            cx.set("aws:userid", who.user_id.clone());
            Caller::from_arn(&who.arn)
        }
    };
    // borrowed from the snapshot: no reference count moves per request
    let identity: &[Arc<Policy>];
    let mut boundary = None;
    let mut session: Vec<&Policy> = Vec::new();
    match &who.identity {
        Identity::Root => {
            cx.set("aws:PrincipalType", "Account");
            identity = &[];
        }
        Identity::Anonymous => {
            cx.set("aws:PrincipalType", "Anonymous");
            identity = &[];
        }
        Identity::User { name } => {
            cx.set("aws:PrincipalType", "User");
            cx.set("aws:username", name.clone());
            let Ok(user) = dir.user(name) else { return Verdict::ImplicitDeny };
            for (k, v) in &user.tags {
                cx.set(&format!("aws:PrincipalTag/{k}"), v.clone());
            }
            identity = dir.user_policies(name);
            boundary = dir.boundary(user.boundary.as_ref());
        }
        Identity::Session(s) => {
            cx.set("aws:PrincipalType", "AssumedRole");
            let Ok(role) = dir.role(&s.role) else { return Verdict::ImplicitDeny };
            for (k, v) in &role.tags {
                cx.set(&format!("aws:PrincipalTag/{k}"), v.clone());
            }
            if let Some(src) = &s.source_identity {
                cx.set("aws:SourceIdentity", src.clone());
            }
            identity = dir.role_policies(&s.role);
            boundary = dir.boundary(role.boundary.as_ref());
            if let Some(p) = &s.policy {
                session.push(p);
            }
        }
    }
    let identity_refs: Vec<&Policy> = identity.iter().map(AsRef::as_ref).collect();
    let request = policy::Request { caller: &caller, action, resource, context: &cx };
    policy::authorize(&Inputs {
        request,
        identity: &identity_refs,
        resource_policy,
        resource_account,
        boundary: boundary.as_deref(),
        session: &session,
    })
}

/// aws:EpochTime and aws:CurrentTime for `now`, formatted once per second (every request
/// carries them).
fn clock_keys(now: u64) -> (String, String) {
    static LAST: std::sync::Mutex<(u64, String, String)> =
        std::sync::Mutex::new((u64::MAX, String::new(), String::new()));
    let mut last = LAST.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if last.0 != now {
        *last = (now, now.to_string(), iso8601(now));
    }
    (last.1.clone(), last.2.clone())
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
