//! IAM policies, parsed and evaluated: pure functions, no I/O, no clock (the time arrives as
//! `aws:CurrentTime` / `aws:EpochTime` in the request context).
//!
//! - [`Policy::parse_as`] reads the grammar AWS documents ("IAM JSON policy element
//!   reference"): `Version`, `Id`, `Statement` (one object or a list) with `Sid`, `Effect`,
//!   `Principal` / `NotPrincipal` (`*`, or `AWS`, `Service`, `Federated`, `CanonicalUser` lists),
//!   `Action` / `NotAction`, `Resource` / `NotResource`, `Condition` ([`condition`]). Identity
//!   policies may not name a principal; resource and trust policies must.
//! - [`Policy::decide`] says what one policy says about one request: an explicit `Deny`, an
//!   `Allow`, or nothing. Policy variables (`${aws:username}`) apply in 2012-10-17 policies.
//! - [`decide::authorize`] combines every policy that applies to a request as AWS's evaluation
//!   logic does: explicit Deny, then Allow from identity or resource policies (both, across
//!   accounts), narrowed by permissions boundaries and session policies.

pub mod condition;
pub mod context;
pub mod decide;
pub mod matching;

use serde_json::Value;

pub use context::{Context, Keys};
pub use decide::{Inputs, Verdict, authorize};
use matching::{Compiled, Pattern, arn_matches};

/// Why a policy document is refused (IAM's `MalformedPolicyDocument`, S3's `MalformedPolicy`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// What one policy says about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Deny,
    Allow,
    /// No statement matched.
    Silent,
}

/// Where a policy is attached, which decides what it may say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Attached to a user, group or role (or a session or boundary policy): no principal.
    Identity,
    /// Attached to a resource (a bucket policy): names its principals.
    Resource,
    /// A role's trust policy: names who may assume it; no resource.
    Trust,
}

/// Who makes a request, as a resource policy's `Principal` matches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// `arn:aws:iam::111122223333:user/alice`, `...:root`,
    /// `arn:aws:sts::111122223333:assumed-role/role/session`; empty when anonymous.
    pub arn: String,
    /// The caller's account; empty when anonymous.
    pub account: String,
    /// For a role session, the role's ARN (`arn:aws:iam::111122223333:role/role`).
    pub role_arn: Option<String>,
    /// For an AWS service acting itself (`s3.amazonaws.com`).
    pub service: Option<String>,
}

impl Caller {
    /// A caller named by an IAM or STS ARN.
    #[must_use]
    pub fn from_arn(arn: &str) -> Self {
        // the account is the fifth part, the resource the sixth (one pass over the bytes)
        let mut colons = [arn.len(); 5];
        for (n, (i, _)) in arn.bytes().enumerate().filter(|(_, b)| *b == b':').take(5).enumerate() {
            colons[n] = i;
        }
        let part = |n: usize| match n {
            4 if colons[4] < arn.len() => &arn[colons[3] + 1..colons[4]],
            4 if colons[3] < arn.len() => &arn[colons[3] + 1..],
            5 if colons[4] < arn.len() => &arn[colons[4] + 1..],
            _ => "",
        };
        let account = part(4).to_string();
        let role_arn = part(5)
            .strip_prefix("assumed-role/")
            .and_then(|rest| rest.split_once('/').map(|(role, _)| format!("arn:aws:iam::{account}:role/{role}")));
        Self { arn: arn.to_string(), account, role_arn, service: None }
    }

    /// An unsigned request.
    #[must_use]
    pub fn anonymous() -> Self {
        Self { arn: String::new(), account: String::new(), role_arn: None, service: None }
    }

    #[must_use]
    pub fn is_anonymous(&self) -> bool {
        self.arn.is_empty() && self.service.is_none()
    }

    #[must_use]
    pub fn is_root(&self) -> bool {
        self.arn.ends_with(":root") && self.arn.starts_with("arn:aws:iam::")
    }
}

impl AsRef<Policy> for Policy {
    fn as_ref(&self) -> &Policy {
        self
    }
}

/// One request as policies see it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub caller: &'a Caller,
    /// `s3:GetObject`.
    pub action: &'a str,
    /// The resource's ARN (`*` for actions on no resource).
    pub resource: &'a str,
    pub context: Keys<'a>,
}

#[derive(Debug, Clone, PartialEq)]
enum Principals {
    Everyone,
    /// By type: `AWS` (accounts and ARNs), `Service`, `Federated`, `CanonicalUser`.
    Listed {
        aws: Vec<String>,
        service: Vec<String>,
        federated: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
struct Statement {
    effect: Effect,
    /// `Principal` or `NotPrincipal` (`true`); none in identity policies.
    principals: Option<(Principals, bool)>,
    actions: Vec<String>,
    /// The actions compiled (matched without regard to case).
    action_patterns: Vec<Pattern>,
    not_action: bool,
    /// None in trust policies.
    resources: Option<(Vec<Compiled>, bool)>,
    conditions: Vec<condition::Condition>,
}

/// A parsed policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    kind: Kind,
    /// Policy variables apply (Version 2012-10-17).
    variables: bool,
    statements: Vec<Statement>,
}

/// How a resource policy's `Principal` named the caller, which decides what its Allow grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// The caller's own ARN (a user, a role session): grants past boundaries and session
    /// policies.
    Direct,
    /// The role a session belongs to: grants to its sessions, within their limits.
    Role,
    /// `*`: anyone, anonymous callers too.
    Everyone,
    /// The caller's account (id or root ARN): delegates to that account, whose identity
    /// policies must allow too.
    Account,
    /// An AWS service principal.
    Service,
    /// The statement named no principal (an identity policy).
    Identity,
}

/// What one policy says about one request, and for an Allow how the principal was named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub decision: Decision,
    /// The widest grant among the Allow statements that applied (None unless allowed).
    pub grant: Option<Grant>,
}

fn strings(v: &Value, what: &str) -> Result<Vec<String>, PolicyError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|i| {
                i.as_str().map(str::to_string).ok_or_else(|| PolicyError(format!("{what} entries must be strings")))
            })
            .collect(),
        _ => Err(PolicyError(format!("{what} must be a string or a non-empty list of strings"))),
    }
}

fn principals(v: &Value) -> Result<Principals, PolicyError> {
    match v {
        Value::String(s) if s == "*" => Ok(Principals::Everyone),
        Value::Object(map) if !map.is_empty() => {
            let (mut aws, mut service, mut federated) = (Vec::new(), Vec::new(), Vec::new());
            for (kind, value) in map {
                let values = strings(value, &format!("Principal {kind}"))?;
                match kind.as_str() {
                    "AWS" => {
                        if values.iter().any(|p| p == "*") {
                            return Ok(Principals::Everyone);
                        }
                        for p in &values {
                            let account_id = p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit());
                            let arn = p.starts_with("arn:aws:iam::") || p.starts_with("arn:aws:sts::");
                            if !(account_id || arn) || (arn && p.contains(['*', '?'])) {
                                return Err(PolicyError("Invalid principal in policy".into()));
                            }
                        }
                        aws.extend(values);
                    }
                    "Service" => service.extend(values),
                    "Federated" => federated.extend(values),
                    // canonical user ids name S3 accounts; tarn has none to match
                    "CanonicalUser" => {}
                    _ => return Err(PolicyError("Invalid principal in policy".into())),
                }
            }
            Ok(Principals::Listed { aws, service, federated })
        }
        _ => Err(PolicyError("Invalid principal in policy".into())),
    }
}

/// An action is `*` or `vendor:Name` (wildcards allowed in the name).
fn check_action(a: &str) -> Result<(), PolicyError> {
    if a == "*" {
        return Ok(());
    }
    match a.split_once(':') {
        Some((vendor, name))
            if !vendor.is_empty()
                && vendor.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !name.is_empty() =>
        {
            Ok(())
        }
        _ => Err(PolicyError("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.".into())),
    }
}

const STATEMENT_FIELDS: [&str; 9] =
    ["Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"];

impl Policy {
    /// Parses a policy document of the given kind.
    pub fn parse_as(text: &str, kind: Kind) -> Result<Self, PolicyError> {
        let doc: Value = serde_json::from_str(text).map_err(|e| {
            PolicyError(format!("Syntax errors in policy: {} at position ({},{})", e, e.line(), e.column()))
        })?;
        let obj = doc.as_object().ok_or_else(|| PolicyError("Policies must be a JSON object".into()))?;
        for key in obj.keys() {
            if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
                return Err(PolicyError(format!("Syntax errors in policy: unknown field {key}")));
            }
        }
        let variables = match obj.get("Version") {
            None => false,
            Some(v) => match v.as_str() {
                Some("2012-10-17") => true,
                Some("2008-10-17") => false,
                _ => return Err(PolicyError("The policy Version must be 2012-10-17 or 2008-10-17".into())),
            },
        };
        let raw: Vec<&Value> = match obj.get("Statement") {
            Some(Value::Array(items)) if !items.is_empty() => items.iter().collect(),
            Some(v @ Value::Object(_)) => vec![v],
            _ => return Err(PolicyError("Missing required field Statement".into())),
        };
        let mut statements = Vec::with_capacity(raw.len());
        for s in raw {
            statements.push(Self::statement(s, kind)?);
        }
        Ok(Self { kind, variables, statements })
    }

    fn statement(s: &Value, kind: Kind) -> Result<Statement, PolicyError> {
        let s = s.as_object().ok_or_else(|| PolicyError("Each Statement must be an object".into()))?;
        if let Some(unknown) = s.keys().find(|k| !STATEMENT_FIELDS.contains(&k.as_str())) {
            return Err(PolicyError(format!("Syntax errors in policy: unknown field {unknown}")));
        }
        let effect = match s.get("Effect").and_then(Value::as_str) {
            Some("Allow") => Effect::Allow,
            Some("Deny") => Effect::Deny,
            _ => return Err(PolicyError("Invalid effect: each Statement needs Effect Allow or Deny".into())),
        };
        let principals = match (s.get("Principal"), s.get("NotPrincipal"), kind) {
            (Some(_), _, Kind::Identity) | (_, Some(_), Kind::Identity) => {
                return Err(PolicyError("Policy document should not specify a principal.".into()));
            }
            (Some(p), None, _) => Some((principals(p)?, false)),
            (None, Some(p), _) => Some((principals(p)?, true)),
            (None, None, Kind::Identity) => None,
            (None, None, _) => return Err(PolicyError("Missing required field Principal".into())),
            (Some(_), Some(_), _) => {
                return Err(PolicyError("A statement may hold Principal or NotPrincipal, not both".into()));
            }
        };
        let (actions, not_action) = match (s.get("Action"), s.get("NotAction")) {
            (Some(a), None) => (strings(a, "Action")?, false),
            (None, Some(a)) => (strings(a, "NotAction")?, true),
            _ => return Err(PolicyError("Each Statement needs exactly one of Action or NotAction".into())),
        };
        for a in &actions {
            check_action(a)?;
        }
        let resources = match (s.get("Resource"), s.get("NotResource"), kind) {
            (None, None, Kind::Trust) => None,
            (Some(r), None, _) => Some((strings(r, "Resource")?.iter().map(|r| Compiled::new(r)).collect(), false)),
            (None, Some(r), _) => Some((strings(r, "NotResource")?.iter().map(|r| Compiled::new(r)).collect(), true)),
            _ => return Err(PolicyError("Each Statement needs exactly one of Resource or NotResource".into())),
        };
        let conditions = match s.get("Condition") {
            Some(c) => condition::parse_block(c)?,
            None => Vec::new(),
        };
        let action_patterns = actions.iter().filter_map(|a| Pattern::compile(a, None)).collect();
        Ok(Statement { effect, principals, actions, action_patterns, not_action, resources, conditions })
    }

    /// An S3 bucket policy: a resource policy in the full grammar (Principal or NotPrincipal,
    /// Condition), on `s3:` actions only.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let policy = Self::parse_as(text, Kind::Resource)?;
        for a in policy.statements.iter().flat_map(|s| &s.actions) {
            if a != "*" && !a.to_ascii_lowercase().starts_with("s3:") {
                return Err(PolicyError(format!("Policy has invalid action {a}")));
            }
        }
        Ok(policy)
    }

    /// A policy that denies everything to everyone: what a stored policy that no longer parses
    /// becomes, so that a Deny never silently stops working.
    #[must_use]
    pub fn deny_all() -> Self {
        Self {
            kind: Kind::Resource,
            variables: false,
            statements: vec![Statement {
                effect: Effect::Deny,
                principals: Some((Principals::Everyone, false)),
                actions: vec!["*".into()],
                action_patterns: Pattern::compile("*", None).into_iter().collect(),
                not_action: false,
                resources: Some((vec![Compiled::new("*")], false)),
                conditions: Vec::new(),
            }],
        }
    }

    #[must_use]
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Whether the policy grants access to anyone ("The meaning of public" in S3's Block Public
    /// Access): an Allow to every principal (`*`, or through NotPrincipal) that no condition
    /// narrows to fixed callers (source addresses, accounts, ARNs, VPCs, organizations).
    #[must_use]
    pub fn is_public(&self) -> bool {
        self.statements.iter().any(|s| {
            let everyone = matches!(&s.principals, Some((Principals::Everyone, false) | (_, true)));
            s.effect == Effect::Allow && everyone && !s.conditions.iter().any(condition::Condition::fixes_the_caller)
        })
    }

    /// Every resource the policy names (a bucket policy may name only its own bucket).
    #[must_use]
    pub fn resources(&self) -> Vec<&str> {
        self.statements
            .iter()
            .filter_map(|s| s.resources.as_ref())
            .flat_map(|(r, _)| r.iter().map(|c| c.text.as_str()))
            .collect()
    }

    /// What the policy says about `principal` (an ARN, e.g. `arn:aws:iam::123456789012:root`,
    /// of account `account`) doing `action` (e.g. `s3:GetObject`) on `resource` (an ARN), with
    /// no request context.
    #[must_use]
    pub fn evaluate(&self, principal: &str, account: &str, action: &str, resource: &str) -> Decision {
        self.evaluate_in(principal, account, action, resource, &Context::new())
    }

    /// [`Policy::evaluate`] with the request's context (its condition keys).
    #[must_use]
    pub fn evaluate_in(
        &self,
        principal: &str,
        account: &str,
        action: &str,
        resource: &str,
        context: &Context,
    ) -> Decision {
        let mut caller = Caller::from_arn(principal);
        if caller.account.is_empty() {
            caller.account = account.to_string();
        }
        self.decide(&Request { caller: &caller, action, resource, context: context.into() }).decision
    }

    /// What the policy says about `req`: an explicit Deny wins over an Allow.
    #[must_use]
    pub fn decide(&self, req: &Request<'_>) -> Outcome {
        let mut grant: Option<Grant> = None;
        for s in &self.statements {
            let Some(how) = self.statement_applies(s, req) else { continue };
            match s.effect {
                Effect::Deny => return Outcome { decision: Decision::Deny, grant: None },
                Effect::Allow => grant = Some(grant.map_or(how, |g| wider(g, how))),
            }
        }
        match grant {
            Some(g) => Outcome { decision: Decision::Allow, grant: Some(g) },
            None => Outcome { decision: Decision::Silent, grant: None },
        }
    }

    /// Whether an `Allow` statement applies to `req` (its `Deny` statements are not asked).
    #[must_use]
    pub fn allows(&self, req: &Request<'_>) -> bool {
        self.statements.iter().any(|s| s.effect == Effect::Allow && self.statement_applies(s, req).is_some())
    }

    /// Whether a `Deny` statement applies to `req` (what is left to ask of a policy once the
    /// request is allowed by another: its `Allow` statements are skipped).
    #[must_use]
    pub fn denies(&self, req: &Request<'_>) -> bool {
        self.statements.iter().any(|s| s.effect == Effect::Deny && self.statement_applies(s, req).is_some())
    }

    /// `Some(how the principal matched)` when the statement applies to the request.
    fn statement_applies(&self, s: &Statement, req: &Request<'_>) -> Option<Grant> {
        let vars = self.variables.then_some(req.context);
        let grant = match &s.principals {
            None => Grant::Identity,
            Some((p, false)) => principal_matches(p, req.caller)?,
            // NotPrincipal excludes exactly the principals it lists: an account's root ARN
            // there spares the root user, not every user of the account
            Some((p, true)) => match principal_matches(p, req.caller) {
                Some(Grant::Direct | Grant::Role | Grant::Service) => return None,
                Some(Grant::Account) if req.caller.is_root() => return None,
                _ => Grant::Everyone,
            },
        };
        let action = s.action_patterns.iter().any(|p| p.matches(req.action, true));
        if action == s.not_action {
            return None;
        }
        if let Some((resources, not_resource)) = &s.resources {
            let hit = resources.iter().any(|r| r.pattern(vars).is_some_and(|p| arn_matches(&p, req.resource)));
            if hit == *not_resource {
                return None;
            }
        }
        s.conditions.iter().all(|c| c.holds(req.context, self.variables)).then_some(grant)
    }
}

/// Of two grants, the one that grants more by itself.
fn wider(a: Grant, b: Grant) -> Grant {
    let rank = |g: Grant| match g {
        Grant::Direct => 0,
        Grant::Everyone | Grant::Service => 1,
        Grant::Role => 2,
        Grant::Identity => 3,
        Grant::Account => 4,
    };
    if rank(a) <= rank(b) { a } else { b }
}

/// How a `Principal` names the caller, if it does.
fn principal_matches(p: &Principals, caller: &Caller) -> Option<Grant> {
    match p {
        Principals::Everyone => Some(Grant::Everyone),
        Principals::Listed { aws, service, federated: _ } => {
            if let Some(svc) = &caller.service {
                return service.iter().any(|s| s == svc).then_some(Grant::Service);
            }
            if caller.is_anonymous() {
                return None;
            }
            let names_root = |entry: &str| {
                entry.strip_prefix("arn:aws:iam::").and_then(|r| r.strip_suffix(":root")) == Some(&caller.account)
            };
            let mut found = None;
            for entry in aws {
                let g = if *entry == caller.arn && !caller.is_root() {
                    Grant::Direct
                } else if caller.role_arn.as_deref() == Some(entry.as_str()) {
                    Grant::Role
                } else if *entry == caller.account || names_root(entry) {
                    // an account id or its root ARN names every principal of the account
                    // (whose own policies must then allow the request too)
                    Grant::Account
                } else {
                    continue;
                };
                found = Some(found.map_or(g, |f| wider(f, g)));
            }
            found
        }
    }
}

#[cfg(test)]
mod tests;
