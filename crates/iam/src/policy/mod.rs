//! Resource policies (S3 bucket policies), parsed and evaluated: pure functions, no I/O.
//!
//! Evaluation follows AWS's order for one policy: an explicit `Deny` that matches wins; else a
//! matching `Allow` allows; else the policy is silent and the caller's identity decides (tarn's
//! one identity, the account root, is allowed everything it is not explicitly denied).
//!
//! Supported: `Version` 2012-10-17 / 2008-10-17, `Statement` as one object or a list, `Sid`,
//! `Effect`, `Principal` (`"*"`, `{"AWS": "*" | account id | ARN | [...]}`), `Action` /
//! `NotAction`, `Resource` / `NotResource`, with `*` and `?` wildcards. `NotPrincipal` and
//! `Condition` are refused (MalformedPolicy) rather than evaluated wrongly.

use serde_json::Value;

/// Why a policy document is refused (S3's `MalformedPolicy`).
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

#[derive(Debug, Clone, PartialEq)]
enum Principals {
    Everyone,
    Listed(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
struct Statement {
    effect: Effect,
    principals: Principals,
    actions: Vec<String>,
    not_action: bool,
    resources: Vec<String>,
    not_resource: bool,
}

/// A parsed policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    statements: Vec<Statement>,
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
        Value::Object(map) => {
            let mut listed = Vec::new();
            for (kind, value) in map {
                if kind != "AWS" {
                    return Err(PolicyError(format!("Principal type {kind} is not supported (use AWS)")));
                }
                let values = strings(value, "Principal AWS")?;
                if values.iter().any(|p| p == "*") {
                    return Ok(Principals::Everyone);
                }
                listed.extend(values);
            }
            Ok(Principals::Listed(listed))
        }
        _ => Err(PolicyError("Invalid principal in policy".into())),
    }
}

impl Policy {
    /// Parses a policy document, refusing what tarn would not evaluate faithfully.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let doc: Value =
            serde_json::from_str(text).map_err(|e| PolicyError(format!("Policies must be valid JSON: {e}")))?;
        let obj = doc.as_object().ok_or_else(|| PolicyError("Policies must be a JSON object".into()))?;
        if let Some(v) = obj.get("Version")
            && !matches!(v.as_str(), Some("2012-10-17" | "2008-10-17"))
        {
            return Err(PolicyError("The policy Version must be 2012-10-17 or 2008-10-17".into()));
        }
        let raw: Vec<&Value> = match obj.get("Statement") {
            Some(Value::Array(items)) if !items.is_empty() => items.iter().collect(),
            Some(v @ Value::Object(_)) => vec![v],
            _ => return Err(PolicyError("Missing required field Statement".into())),
        };
        let mut statements = Vec::new();
        for s in raw {
            let s = s.as_object().ok_or_else(|| PolicyError("Each Statement must be an object".into()))?;
            if s.contains_key("Condition") {
                return Err(PolicyError("Conditions are not supported by tarn".into()));
            }
            if s.contains_key("NotPrincipal") {
                return Err(PolicyError("NotPrincipal is not supported by tarn".into()));
            }
            let effect = match s.get("Effect").and_then(Value::as_str) {
                Some("Allow") => Effect::Allow,
                Some("Deny") => Effect::Deny,
                _ => return Err(PolicyError("Invalid effect: each Statement needs Effect Allow or Deny".into())),
            };
            let principals =
                principals(s.get("Principal").ok_or_else(|| PolicyError("Missing required field Principal".into()))?)?;
            let (actions, not_action) = match (s.get("Action"), s.get("NotAction")) {
                (Some(a), None) => (strings(a, "Action")?, false),
                (None, Some(a)) => (strings(a, "NotAction")?, true),
                _ => return Err(PolicyError("Each Statement needs exactly one of Action or NotAction".into())),
            };
            for a in &actions {
                if a != "*" && !a.to_ascii_lowercase().starts_with("s3:") {
                    return Err(PolicyError(format!("Policy has invalid action {a}")));
                }
            }
            let (resources, not_resource) = match (s.get("Resource"), s.get("NotResource")) {
                (Some(r), None) => (strings(r, "Resource")?, false),
                (None, Some(r)) => (strings(r, "NotResource")?, true),
                _ => return Err(PolicyError("Each Statement needs exactly one of Resource or NotResource".into())),
            };
            statements.push(Statement { effect, principals, actions, not_action, resources, not_resource });
        }
        Ok(Self { statements })
    }

    /// A policy that denies everything to everyone: what a stored policy that no longer parses
    /// becomes, so that a Deny never silently stops working.
    #[must_use]
    pub fn deny_all() -> Self {
        Self {
            statements: vec![Statement {
                effect: Effect::Deny,
                principals: Principals::Everyone,
                actions: vec!["*".into()],
                not_action: false,
                resources: vec!["*".into()],
                not_resource: false,
            }],
        }
    }

    /// Every resource the policy names (a bucket policy may name only its own bucket).
    #[must_use]
    pub fn resources(&self) -> Vec<&str> {
        self.statements.iter().flat_map(|s| s.resources.iter().map(String::as_str)).collect()
    }

    /// What the policy says about `principal` (an ARN, e.g. `arn:aws:iam::123456789012:root`,
    /// of account `account`) doing `action` (e.g. `s3:GetObject`) on `resource` (an ARN).
    #[must_use]
    pub fn evaluate(&self, principal: &str, account: &str, action: &str, resource: &str) -> Decision {
        let mut allowed = false;
        for s in &self.statements {
            let who = match &s.principals {
                Principals::Everyone => true,
                Principals::Listed(list) => {
                    list.iter().any(|p| p == principal || p == account || *p == format!("arn:aws:iam::{account}:root"))
                }
            };
            let what =
                s.actions.iter().any(|a| glob(&a.to_ascii_lowercase(), &action.to_ascii_lowercase())) != s.not_action;
            let on = s.resources.iter().any(|r| glob(r, resource)) != s.not_resource;
            if who && what && on {
                match s.effect {
                    Effect::Deny => return Decision::Deny,
                    Effect::Allow => allowed = true,
                }
            }
        }
        if allowed { Decision::Allow } else { Decision::Silent }
    }
}

/// IAM's wildcard match: `*` any run of characters, `?` one character.
fn glob(pattern: &str, s: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (pattern.chars().collect(), s.chars().collect());
    let (mut pi, mut si, mut star, mut mark) = (0, 0, None, 0);
    while si < s.len() {
        // a `*` in the pattern is a wildcard even where the string has a `*` too
        if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if pi < p.len() && (p[pi] == '?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "arn:aws:iam::000000000000:root";

    #[test]
    fn deny_wins_and_wildcards_match() {
        let p = Policy::parse(
            r#"{"Version": "2012-10-17", "Statement": [
                {"Sid": "all", "Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::lake/*"},
                {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::lake/secret/*"}
            ]}"#,
        )
        .unwrap();
        assert_eq!(p.evaluate(ROOT, "000000000000", "s3:GetObject", "arn:aws:s3:::lake/secret/a.csv"), Decision::Deny);
        assert_eq!(p.evaluate(ROOT, "000000000000", "s3:GetObject", "arn:aws:s3:::lake/open/a.csv"), Decision::Allow);
        assert_eq!(p.evaluate(ROOT, "000000000000", "s3:PutObject", "arn:aws:s3:::lake/secret/a.csv"), Decision::Allow);
        assert_eq!(p.evaluate(ROOT, "000000000000", "s3:ListBucket", "arn:aws:s3:::lake"), Decision::Silent);
        assert_eq!(p.resources(), ["arn:aws:s3:::lake/*", "arn:aws:s3:::lake/secret/*"]);
    }

    #[test]
    fn principals_not_actions_and_not_resources() {
        let p = Policy::parse(
            r#"{"Statement": {"Effect": "Deny", "Principal": {"AWS": ["111111111111"]}, "NotAction": "s3:Get*", "NotResource": "arn:aws:s3:::lake/public/*"}}"#,
        )
        .unwrap();
        let other = "arn:aws:iam::111111111111:root";
        assert_eq!(p.evaluate(other, "111111111111", "s3:PutObject", "arn:aws:s3:::lake/x"), Decision::Deny);
        assert_eq!(p.evaluate(other, "111111111111", "s3:GetObject", "arn:aws:s3:::lake/x"), Decision::Silent);
        assert_eq!(p.evaluate(other, "111111111111", "s3:PutObject", "arn:aws:s3:::lake/public/x"), Decision::Silent);
        assert_eq!(p.evaluate(ROOT, "000000000000", "s3:PutObject", "arn:aws:s3:::lake/x"), Decision::Silent);
    }

    #[test]
    fn malformed_policies_are_refused() {
        for bad in [
            "not json",
            "[]",
            r#"{"Version": "2020-01-01", "Statement": []}"#,
            r#"{"Statement": []}"#,
            r#"{"Statement": [{"Effect": "Maybe", "Principal": "*", "Action": "s3:*", "Resource": "*"}]}"#,
            r#"{"Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]}"#,
            r#"{"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "ec2:*", "Resource": "*"}]}"#,
            r#"{"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*"}]}"#,
            r#"{"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*", "Condition": {}}]}"#,
        ] {
            assert!(Policy::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn globs() {
        assert!(glob("arn:aws:s3:::b/*", "arn:aws:s3:::b/x/y"));
        assert!(!glob("arn:aws:s3:::b/*", "arn:aws:s3:::b"));
        assert!(glob("s3:get*", "s3:getobject"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "ac"));
        assert!(glob("*", ""));
        assert!(glob("arn:aws:s3:::lake/secret/*", "arn:aws:s3:::lake/secret/*x"), "a '*' in a key is no escape");
        assert!(glob("a*b", "a*b"));
    }
}
