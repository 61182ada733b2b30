//! Every policy that bears on one request, combined as AWS's evaluation logic does ("Policy
//! evaluation logic", "Cross-account policy evaluation logic", "Permissions boundaries for IAM
//! entities", "Session policies"):
//!
//! 1. An explicit `Deny` in any of them refuses.
//! 2. The resource account's root user is allowed what nothing denies.
//! 3. Within one account, an `Allow` from the caller's identity policies allows; so does the
//!    resource policy's when it names the caller, the caller's role or everyone (one naming the
//!    account only delegates to the account's identity policies). Across accounts both the
//!    identity policies and the resource policy must allow.
//! 4. A permissions boundary and session policies only narrow: when present, each must allow
//!    too, except for a resource policy that names the caller's own ARN (a user, a role
//!    session), which grants past them.
//! 5. Otherwise the request is implicitly denied.

use super::{Decision, Grant, Policy, Request};

/// What applies to a request besides the request itself.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a, P: AsRef<Policy> = &'a Policy> {
    pub request: Request<'a>,
    /// The caller's identity policies (a user's own, its groups', or a role's).
    pub identity: &'a [P],
    /// The resource's policy, when the resource has one.
    pub resource_policy: Option<&'a Policy>,
    /// The account the resource belongs to.
    pub resource_account: &'a str,
    /// The caller's permissions boundary, if one is set.
    pub boundary: Option<&'a Policy>,
    /// The session policies of a role session (or a federated session), if any.
    pub session: &'a [&'a Policy],
    /// Which of `identity` allowed the caller's last request, tried first (the answer never
    /// depends on it: every Deny is looked for first, and one Allow is enough).
    pub hint: Option<&'a std::sync::atomic::AtomicUsize>,
}

/// The final answer, with why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// A statement says Deny.
    ExplicitDeny,
    /// Nothing allows it.
    ImplicitDeny,
}

impl Verdict {
    #[must_use]
    pub fn allowed(self) -> bool {
        self == Self::Allow
    }
}

/// Decides one request.
#[must_use]
pub fn authorize<P: AsRef<Policy>>(inputs: &Inputs<'_, P>) -> Verdict {
    let req = &inputs.request;
    let caller = req.caller;
    // any explicit Deny refuses, wherever it is: every identity policy's Deny statements first;
    // then one Allow is enough, looked for first where the last request found one
    if inputs.identity.iter().any(|p| p.as_ref().denies(req)) {
        return Verdict::ExplicitDeny;
    }
    let identity_allows = identity_allowed(inputs.identity, req, inputs.hint);
    let resource = inputs.resource_policy.map(|p| p.decide(req));
    if resource.is_some_and(|r| r.decision == Decision::Deny) {
        return Verdict::ExplicitDeny;
    }
    let boundary = inputs.boundary.map(|p| p.decide(req).decision);
    if boundary == Some(Decision::Deny) {
        return Verdict::ExplicitDeny;
    }
    let mut session_allows = false;
    for p in inputs.session {
        if session_allows {
            if p.denies(req) {
                return Verdict::ExplicitDeny;
            }
            continue;
        }
        match p.decide(req).decision {
            Decision::Deny => return Verdict::ExplicitDeny,
            Decision::Allow => session_allows = true,
            Decision::Silent => {}
        }
    }
    let same_account = !caller.account.is_empty() && caller.account == inputs.resource_account;
    if caller.is_root() && same_account {
        return Verdict::Allow;
    }
    let grant = resource.and_then(|r| r.grant);
    // a root user acts with every permission of its own account
    let identity_allows = caller.is_root() || identity_allows;
    let within_limits = boundary.is_none_or(|b| b == Decision::Allow) && (inputs.session.is_empty() || session_allows);
    let allowed = if caller.is_anonymous() || caller.service.is_some() {
        matches!(grant, Some(Grant::Everyone | Grant::Service))
    } else if same_account {
        match grant {
            // the caller's own ARN: past boundaries and session policies
            Some(Grant::Direct) => true,
            // the role, or everyone: granted, within the caller's limits
            Some(Grant::Role | Grant::Everyone) => within_limits,
            // the account (or nothing): the identity policies decide
            _ => identity_allows && within_limits,
        }
    } else {
        // across accounts both sides must allow: the caller's account through its identity
        // policies (within their limits), the resource through its policy
        identity_allows && within_limits && grant.is_some()
    };
    if allowed { Verdict::Allow } else { Verdict::ImplicitDeny }
}

/// Whether an `Allow` of one of `identity` applies (their Deny statements already asked): the
/// policy `hint` names first, then the others; the one that allows becomes the hint.
fn identity_allowed<P: AsRef<Policy>>(
    identity: &[P],
    req: &Request<'_>,
    hint: Option<&std::sync::atomic::AtomicUsize>,
) -> bool {
    use std::sync::atomic::Ordering::Relaxed;
    let first = hint.map_or(usize::MAX, |h| h.load(Relaxed));
    if identity.get(first).is_some_and(|p| p.as_ref().allows(req)) {
        return true;
    }
    let found = identity.iter().enumerate().find(|(i, p)| *i != first && p.as_ref().allows(req)).map(|(i, _)| i);
    if let (Some(i), Some(h)) = (found, hint) {
        h.store(i, Relaxed);
    }
    found.is_some()
}
