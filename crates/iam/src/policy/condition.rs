//! The `Condition` element: every operator AWS defines, `...IfExists`, and the `ForAnyValue:` /
//! `ForAllValues:` set operators ("IAM JSON policy elements: Condition operators", "Conditions
//! with multiple context keys or values").
//!
//! One block holds operators, each naming keys, each with values: operators and keys are ANDed;
//! a key's values are ORed (NORed for a negated operator). A key the request lacks makes a
//! condition false, or true for a negated operator; `...IfExists` makes it true; `Null` tests
//! exactly that.

use std::net::IpAddr;

use serde_json::Value;

use super::PolicyError;
use super::context::{KeyName, Keys};
use super::matching::{Compiled, arn_matches};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    String,
    StringIgnoreCase,
    StringLike,
    Numeric(Cmp),
    Date(Cmp),
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Set {
    /// No set operator: a single-valued key (several values are treated as any of them).
    Single,
    ForAnyValue,
    ForAllValues,
}

/// One key tested by one operator.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    family: Family,
    negated: bool,
    if_exists: bool,
    set: Set,
    key: String,
    /// The key as the context finds it.
    name: KeyName,
    values: Vec<String>,
    /// The values compiled as patterns (string and ARN operators).
    patterns: Vec<Compiled>,
    /// The values parsed as networks (IpAddress, NotIpAddress).
    networks: Vec<Option<(IpAddr, u8)>>,
}

/// Parses an operator name: `ForAnyValue:StringLikeIfExists` and the like.
fn operator(name: &str) -> Option<(Family, bool, bool, Set)> {
    let (set, rest) = if let Some(r) = name.strip_prefix("ForAnyValue:") {
        (Set::ForAnyValue, r)
    } else if let Some(r) = name.strip_prefix("ForAllValues:") {
        (Set::ForAllValues, r)
    } else {
        (Set::Single, name)
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(b) => (b, true),
        None => (rest, false),
    };
    let (family, negated) = match base {
        "StringEquals" => (Family::String, false),
        "StringNotEquals" => (Family::String, true),
        "StringEqualsIgnoreCase" => (Family::StringIgnoreCase, false),
        "StringNotEqualsIgnoreCase" => (Family::StringIgnoreCase, true),
        "StringLike" => (Family::StringLike, false),
        "StringNotLike" => (Family::StringLike, true),
        "NumericEquals" => (Family::Numeric(Cmp::Eq), false),
        "NumericNotEquals" => (Family::Numeric(Cmp::Eq), true),
        "NumericLessThan" => (Family::Numeric(Cmp::Lt), false),
        "NumericLessThanEquals" => (Family::Numeric(Cmp::Le), false),
        "NumericGreaterThan" => (Family::Numeric(Cmp::Gt), false),
        "NumericGreaterThanEquals" => (Family::Numeric(Cmp::Ge), false),
        "DateEquals" => (Family::Date(Cmp::Eq), false),
        "DateNotEquals" => (Family::Date(Cmp::Eq), true),
        "DateLessThan" => (Family::Date(Cmp::Lt), false),
        "DateLessThanEquals" => (Family::Date(Cmp::Le), false),
        "DateGreaterThan" => (Family::Date(Cmp::Gt), false),
        "DateGreaterThanEquals" => (Family::Date(Cmp::Ge), false),
        "Bool" => (Family::Bool, false),
        "BinaryEquals" => (Family::Binary, false),
        "IpAddress" => (Family::Ip, false),
        "NotIpAddress" => (Family::Ip, true),
        "ArnEquals" | "ArnLike" => (Family::Arn, false),
        "ArnNotEquals" | "ArnNotLike" => (Family::Arn, true),
        "Null" if !if_exists && set == Set::Single => (Family::Null, false),
        _ => return None,
    };
    Some((family, negated, if_exists, set))
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Parses a `Condition` block.
pub fn parse_block(v: &Value) -> Result<Vec<Condition>, PolicyError> {
    let Value::Object(ops) = v else {
        return Err(PolicyError("Condition must be an object of condition operators".into()));
    };
    let mut out = Vec::new();
    for (op, keys) in ops {
        let (family, negated, if_exists, set) =
            operator(op).ok_or_else(|| PolicyError(format!("Invalid Condition type : {op}")))?;
        let Value::Object(keys) = keys else {
            return Err(PolicyError(format!("Condition {op} must map condition keys to values")));
        };
        for (key, values) in keys {
            let values: Vec<String> = match values {
                Value::Array(items) => items
                    .iter()
                    .map(value_text)
                    .collect::<Option<_>>()
                    .ok_or_else(|| PolicyError(format!("Condition {op} {key}: values must be strings")))?,
                single => vec![
                    value_text(single)
                        .ok_or_else(|| PolicyError(format!("Condition {op} {key}: values must be strings")))?,
                ],
            };
            if values.is_empty() {
                return Err(PolicyError(format!("Condition {op} {key} has no value")));
            }
            check_values(family, op, key, &values)?;
            let patterns = match family {
                Family::String | Family::StringIgnoreCase | Family::StringLike | Family::Arn => {
                    values.iter().map(|v| Compiled::new(v)).collect()
                }
                _ => Vec::new(),
            };
            let networks =
                if family == Family::Ip { values.iter().map(|v| parse_cidr(v)).collect() } else { Vec::new() };
            out.push(Condition {
                family,
                negated,
                if_exists,
                set,
                name: KeyName::new(key),
                key: key.clone(),
                values,
                patterns,
                networks,
            });
        }
    }
    // conditions are ANDed: the cheapest are tried first, so a failing one spares the rest
    out.sort_by_key(Condition::cost);
    Ok(out)
}

/// Values an operator could never compare are refused when the policy is written.
fn check_values(family: Family, op: &str, key: &str, values: &[String]) -> Result<(), PolicyError> {
    let bad = |v: &str| PolicyError(format!("Condition {op} {key}: '{v}' is not a valid value for this operator"));
    for v in values {
        let ok = match family {
            Family::Numeric(_) => v.parse::<f64>().is_ok(),
            Family::Date(_) => parse_date(v).is_some(),
            Family::Bool | Family::Null => v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false"),
            Family::Ip => parse_cidr(v).is_some(),
            _ => true,
        };
        if !ok {
            return Err(bad(v));
        }
    }
    Ok(())
}

impl Condition {
    /// A rough rank of what testing the condition costs: plain comparisons first, then
    /// wildcards, numbers and networks, then dates and ARNs.
    fn cost(&self) -> u8 {
        match self.family {
            Family::String | Family::StringIgnoreCase | Family::Bool | Family::Binary | Family::Null => 0,
            Family::StringLike => 1,
            Family::Numeric(_) | Family::Ip => 2,
            Family::Date(_) | Family::Arn => 3,
        }
    }

    /// Whether the condition limits a statement to fixed callers, which makes an Allow to `*`
    /// not public: a positive test of the source address, account, ARN, VPC or organization.
    #[must_use]
    pub fn fixes_the_caller(&self) -> bool {
        const KEYS: [&str; 11] = [
            "aws:sourceip",
            "aws:sourcearn",
            "aws:sourcevpc",
            "aws:sourcevpce",
            "aws:sourceaccount",
            "aws:sourceowner",
            "aws:principalaccount",
            "aws:principalarn",
            "aws:principalorgid",
            "aws:userid",
            "s3:dataaccesspointaccount",
        ];
        !self.negated
            && !self.if_exists
            && KEYS.contains(&self.name.folded())
            && self.set != Set::ForAllValues
            && match self.family {
                Family::String | Family::StringIgnoreCase => true,
                Family::StringLike | Family::Arn => self.values.iter().all(|v| !v.contains(['*', '?'])),
                Family::Ip => self.values.iter().all(|v| !v.ends_with("/0")),
                _ => false,
            }
    }

    /// Whether the condition holds for `ctx`; `vars` (2012-10-17 policies) resolves policy
    /// variables in string and ARN values.
    #[must_use]
    pub fn holds(&self, ctx: Keys<'_>, vars: bool) -> bool {
        let present = ctx.lookup(&self.name);
        if self.family == Family::Null {
            // "true": the key must be absent; "false": present (with a value)
            let absent = present.is_none_or(<[String]>::is_empty);
            return self.values.iter().any(|v| v.eq_ignore_ascii_case("true") == absent);
        }
        let Some(request_values) = present else {
            return match (self.if_exists, self.set) {
                (true, _) | (false, Set::ForAllValues) => true,
                (false, Set::ForAnyValue) => false,
                (false, Set::Single) => self.negated,
            };
        };
        let vars = vars.then_some(ctx);
        if self.family == Family::Ip {
            // each request address parsed once, whatever the number of networks (aws:SourceIp
            // once per request, by the context)
            let parsed = if self.name.folded() == "aws:sourceip" { ctx.source_ip() } else { None };
            let in_any = |request: &String| {
                parsed
                    .or_else(|| request.parse::<IpAddr>().ok())
                    .is_some_and(|ip| self.networks.iter().flatten().any(|net| in_network(*net, ip)))
            };
            let test = |request: &String| in_any(request) != self.negated;
            return match self.set {
                Set::ForAllValues => request_values.iter().all(test),
                Set::ForAnyValue => request_values.iter().any(test),
                Set::Single if request_values.is_empty() => self.negated,
                Set::Single if self.negated => !request_values.iter().any(in_any),
                Set::Single => request_values.iter().any(in_any),
            };
        }
        let matches_one = |request: &str| (0..self.values.len()).any(|i| self.compare(i, request, vars));
        let test = |request: &String| matches_one(request) != self.negated;
        match self.set {
            Set::ForAllValues => request_values.iter().all(test),
            Set::ForAnyValue => request_values.iter().any(test),
            Set::Single if request_values.is_empty() => self.negated,
            // negated: none of the request's values may match any of the policy's (NOR)
            Set::Single if self.negated => !request_values.iter().any(|r| matches_one(r)),
            Set::Single => request_values.iter().any(|r| matches_one(r)),
        }
    }

    /// The positive comparison of the policy's value `i` with one request value.
    fn compare(&self, i: usize, request: &str, vars: Option<Keys<'_>>) -> bool {
        let policy = self.values[i].as_str();
        let pattern = || self.patterns.get(i).and_then(|c| c.pattern(vars));
        match self.family {
            Family::String => pattern().and_then(|p| p.literal()).is_some_and(|p| p == request),
            Family::StringIgnoreCase => {
                pattern().and_then(|p| p.literal()).is_some_and(|p| p.to_lowercase() == request.to_lowercase())
            }
            Family::StringLike => pattern().is_some_and(|p| p.matches(request, false)),
            Family::Numeric(cmp) => match (policy.parse::<f64>(), request.parse::<f64>()) {
                (Ok(p), Ok(r)) => ordered(cmp, r.partial_cmp(&p)),
                _ => false,
            },
            Family::Date(cmp) => match (parse_date(policy), parse_date(request)) {
                (Some(p), Some(r)) => ordered(cmp, Some(r.cmp(&p))),
                _ => false,
            },
            Family::Bool => request.eq_ignore_ascii_case(policy),
            Family::Binary => policy == request,
            Family::Ip => match (self.networks.get(i).copied().flatten(), request.parse::<IpAddr>()) {
                (Some(net), Ok(ip)) => in_network(net, ip),
                _ => false,
            },
            Family::Arn => pattern().is_some_and(|p| arn_matches(&p, request)),
            Family::Null => false,
        }
    }
}

fn ordered(cmp: Cmp, o: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    matches!(
        (cmp, o),
        (Cmp::Eq, Some(Equal))
            | (Cmp::Lt, Some(Less))
            | (Cmp::Le, Some(Less | Equal))
            | (Cmp::Gt, Some(Greater))
            | (Cmp::Ge, Some(Greater | Equal))
    )
}

/// A date as IAM reads it: epoch seconds, or ISO 8601 (`2026-01-02`, `2026-01-02T03:04:05Z`,
/// with fractional seconds or an offset). Milliseconds since the epoch.
#[must_use]
pub fn parse_date(s: &str) -> Option<i64> {
    if let Ok(secs) = s.parse::<i64>() {
        return secs.checked_mul(1000);
    }
    let s = s.trim();
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut d = date.split('-');
    let (y, m, day) = (d.next()?.parse::<i64>().ok()?, d.next()?.parse::<i64>().ok()?, d.next()?.parse::<i64>().ok()?);
    if d.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let days = days_from_civil(y, m, day);
    let mut ms = days * 86_400_000;
    if let Some(t) = time {
        // the offset: Z, +hh:mm or -hh:mm
        let (clock, offset_ms) = if let Some(c) = t.strip_suffix('Z') {
            (c, 0)
        } else if let Some(i) = t.rfind(['+', '-']) {
            let (c, o) = t.split_at(i);
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let o = &o[1..];
            let (oh, om) = o.split_once(':').unwrap_or((o.get(..2)?, o.get(2..).unwrap_or("0")));
            (c, sign * (oh.parse::<i64>().ok()? * 3_600_000 + om.parse::<i64>().ok()? * 60_000))
        } else {
            (t, 0)
        };
        let mut parts = clock.split(':');
        let h = parts.next()?.parse::<i64>().ok()?;
        let mi = parts.next().map_or(Some(0), |p| p.parse::<i64>().ok())?;
        let sec = parts.next().map_or(Some(0.0), |p| p.parse::<f64>().ok())?;
        if parts.next().is_some() || h > 24 || mi > 59 || !(0.0..61.0).contains(&sec) {
            return None;
        }
        #[allow(clippy::cast_possible_truncation)]
        let sec_ms = (sec * 1000.0).round() as i64;
        ms += h * 3_600_000 + mi * 60_000 + sec_ms - offset_ms;
    }
    Some(ms)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `203.0.113.0/24`, `2001:db8::/32`, or one address.
fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, bits) = match s.split_once('/') {
        Some((a, b)) => (a, Some(b.parse::<u8>().ok()?)),
        None => (s, None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = bits.unwrap_or(max);
    (bits <= max).then_some((ip, bits))
}

fn in_network((net, bits): (IpAddr, u8), ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - u32::from(bits)) };
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - u32::from(bits)) };
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}
