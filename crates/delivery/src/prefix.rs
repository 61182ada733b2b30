//! S3 object keys for delivered objects: Firehose's `Prefix` / `ErrorOutputPrefix` templates,
//! their create-time validation rules, and the object name format.
//!
//! Follows the Amazon Data Firehose developer guide, "Custom Prefixes for Amazon S3 Objects"
//! (semantic rules and examples), "Amazon S3 Object Name Format", and the dynamic partitioning
//! chapter:
//!
//! * A key is `<evaluated prefix><suffix>`, the suffix being
//!   `<stream name>-<stream version>-<yyyy>-<MM>-<dd>-<HH>-<mm>-<ss>-<uuid><file extension>`.
//! * Expressions have the form `!{namespace:value}` with the namespaces `timestamp` (a Java
//!   `DateTimeFormatter` pattern), `firehose` (`random-string`, `error-output-type`),
//!   `partitionKeyFromQuery` and `partitionKeyFromLambda`. The sequence `!{` may appear only as
//!   the start of such an expression.
//! * A `Prefix` without a `timestamp` expression gets `!{timestamp:yyyy/MM/dd/HH/}` appended
//!   (the default layout). Dynamically partitioned prefixes (ones using a `partitionKeyFrom*`
//!   expression) get nothing appended, as the dynamic partitioning guide's example key shows.
//! * When no `ErrorOutputPrefix` is configured (only allowed when `Prefix` has no expressions),
//!   failed records go under `<Prefix><error-output-type>/yyyy/MM/dd/HH/`; see
//!   [`default_error_prefix`] and [`object_key`].
//! * Neither prefix may be longer than 512 characters once evaluated; the API caps the
//!   configured strings at 1024 characters.
//!
//! Timestamps are formatted in the offset of the `OffsetDateTime` handed in: pass UTC (AWS's
//! default), or an instant already converted to the stream's `CustomTimeZone`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use rand::Rng;
use time::OffsetDateTime;

pub use tarn_common::limits::firehose::{EVALUATED_PREFIX_LENGTH_MAX, PREFIX_LENGTH_MAX};
/// Maximum number of `!{...}` expressions in one prefix. AWS documents no such limit; this is
/// tarn's own guard (a 1024-character prefix cannot hold many more anyway).
pub const MAX_EXPRESSIONS: usize = 50;
/// Length of the value `!{firehose:random-string}` evaluates to.
pub const RANDOM_STRING_LEN: usize = 11;

/// The `timestamp` namespace.
pub const NS_TIMESTAMP: &str = "timestamp";
/// The `firehose` namespace.
pub const NS_FIREHOSE: &str = "firehose";
/// The `partitionKeyFromQuery` namespace (inline jq parsing).
pub const NS_PARTITION_KEY_FROM_QUERY: &str = "partitionKeyFromQuery";
/// The `partitionKeyFromLambda` namespace (keys returned by the processing Lambda).
pub const NS_PARTITION_KEY_FROM_LAMBDA: &str = "partitionKeyFromLambda";

const ERROR_OUTPUT_TYPE_EXPR: &str = "!{firehose:error-output-type}";

/// A prefix that cannot be used; the message is meant to be returned to the client as the text
/// of an `InvalidArgumentException`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct PrefixError(pub String);

impl PrefixError {
    fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

/// A parsed `Prefix` or `ErrorOutputPrefix`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PrefixTemplate {
    source: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Timestamp(Vec<TsItem>),
    RandomString,
    ErrorOutputType,
    QueryKey(String),
    LambdaKey(String),
}

impl Part {
    fn namespace(&self) -> Option<&'static str> {
        match self {
            Part::Literal(_) => None,
            Part::Timestamp(_) => Some(NS_TIMESTAMP),
            Part::RandomString | Part::ErrorOutputType => Some(NS_FIREHOSE),
            Part::QueryKey(_) => Some(NS_PARTITION_KEY_FROM_QUERY),
            Part::LambdaKey(_) => Some(NS_PARTITION_KEY_FROM_LAMBDA),
        }
    }
}

impl PrefixTemplate {
    /// Parses a prefix. The empty string is a valid prefix without expressions.
    pub fn parse(s: &str) -> Result<Self, PrefixError> {
        if s.chars().count() > PREFIX_LENGTH_MAX {
            return Err(PrefixError::new(format!(
                "Prefix must have length less than or equal to {PREFIX_LENGTH_MAX}."
            )));
        }
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = s;
        let mut expressions = 0usize;
        while let Some(start) = rest.find("!{") {
            literal.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                return Err(PrefixError::new(format!(
                    "Prefix expression '{}' is not terminated with '}}'. The sequence !{{ can only \
                     appear in !{{namespace:value}} expressions.",
                    &rest[start..]
                )));
            };
            let body = &after[..end];
            rest = &after[end + 1..];
            expressions += 1;
            if expressions > MAX_EXPRESSIONS {
                return Err(PrefixError::new(format!("Prefix can contain at most {MAX_EXPRESSIONS} expressions.")));
            }
            let part = parse_expression(body)?;
            if !literal.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut literal)));
            }
            parts.push(part);
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Self { source: s.to_owned(), parts })
    }

    /// The prefix as configured.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// True for the empty prefix.
    pub fn is_empty(&self) -> bool {
        self.source.is_empty()
    }

    /// True when the prefix contains at least one `!{namespace:value}` expression.
    pub fn has_expressions(&self) -> bool {
        self.parts.iter().any(|p| p.namespace().is_some())
    }

    /// True when an expression of `namespace` (e.g. `"partitionKeyFromQuery"`) is used.
    pub fn uses(&self, namespace: &str) -> bool {
        self.parts.iter().any(|p| p.namespace() == Some(namespace))
    }

    /// True when `!{firehose:error-output-type}` is used.
    pub fn has_error_output_type(&self) -> bool {
        self.parts.contains(&Part::ErrorOutputType)
    }

    /// True when a `partitionKeyFromQuery` or `partitionKeyFromLambda` expression is used.
    pub fn uses_partition_keys(&self) -> bool {
        self.uses(NS_PARTITION_KEY_FROM_QUERY) || self.uses(NS_PARTITION_KEY_FROM_LAMBDA)
    }

    /// Key names used in `partitionKeyFromQuery` expressions, in order of first appearance.
    pub fn partition_keys(&self) -> Vec<String> {
        self.keys_of(|p| match p {
            Part::QueryKey(k) => Some(k),
            _ => None,
        })
    }

    /// Key names used in `partitionKeyFromLambda` expressions, in order of first appearance.
    pub fn lambda_partition_keys(&self) -> Vec<String> {
        self.keys_of(|p| match p {
            Part::LambdaKey(k) => Some(k),
            _ => None,
        })
    }

    fn keys_of(&self, pick: impl Fn(&Part) -> Option<&String>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for k in self.parts.iter().filter_map(pick) {
            if !out.contains(k) {
                out.push(k.clone());
            }
        }
        out
    }

    /// Whether AWS appends the default `yyyy/MM/dd/HH/` layout to this (main) prefix: it does
    /// when the prefix has no `timestamp` expression, except for dynamically partitioned
    /// prefixes.
    pub fn appends_default_layout(&self) -> bool {
        !self.uses(NS_TIMESTAMP) && !self.uses_partition_keys()
    }

    /// Evaluates the prefix for one object.
    ///
    /// `ts` is the instant for `timestamp` expressions (AWS: the approximate arrival time of
    /// the oldest record in the object), formatted in its own offset. `error_type` fills
    /// `!{firehose:error-output-type}` and must be `None` for the main prefix, where using it
    /// is an error. `keys` supplies both `partitionKeyFromQuery` and `partitionKeyFromLambda`
    /// values (see [`PrefixTemplate::render_with`] to keep them apart); a missing key is an
    /// error. Every `!{firehose:random-string}` occurrence gets its own fresh 11-character
    /// value, as AWS documents. No default layout is appended here (see [`object_key`]).
    pub fn render(
        &self,
        ts: OffsetDateTime,
        error_type: Option<&str>,
        keys: &BTreeMap<String, String>,
    ) -> Result<String, PrefixError> {
        self.render_with(ts, error_type, keys, keys)
    }

    /// [`PrefixTemplate::render`] with separate maps for `partitionKeyFromQuery` and
    /// `partitionKeyFromLambda` values.
    pub fn render_with(
        &self,
        ts: OffsetDateTime,
        error_type: Option<&str>,
        query_keys: &BTreeMap<String, String>,
        lambda_keys: &BTreeMap<String, String>,
    ) -> Result<String, PrefixError> {
        let mut out = String::with_capacity(self.source.len() + 16);
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Timestamp(items) => format_timestamp(items, ts, &mut out),
                Part::RandomString => out.push_str(&random_string()),
                Part::ErrorOutputType => match error_type {
                    Some(t) => out.push_str(t),
                    None => {
                        return Err(PrefixError::new(format!(
                            "{ERROR_OUTPUT_TYPE_EXPR} can only be used in ErrorOutputPrefix."
                        )));
                    }
                },
                Part::QueryKey(k) => out.push_str(lookup(query_keys, NS_PARTITION_KEY_FROM_QUERY, k)?),
                Part::LambdaKey(k) => out.push_str(lookup(lambda_keys, NS_PARTITION_KEY_FROM_LAMBDA, k)?),
            }
        }
        if out.chars().count() > EVALUATED_PREFIX_LENGTH_MAX {
            return Err(PrefixError::new(format!(
                "The evaluated prefix is longer than {EVALUATED_PREFIX_LENGTH_MAX} characters."
            )));
        }
        Ok(out)
    }
}

impl std::fmt::Display for PrefixTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.source)
    }
}

fn lookup<'a>(keys: &'a BTreeMap<String, String>, namespace: &str, key: &str) -> Result<&'a str, PrefixError> {
    keys.get(key)
        .map(String::as_str)
        .ok_or_else(|| PrefixError::new(format!("No value for partition key '{key}' used in !{{{namespace}:{key}}}.")))
}

fn parse_expression(body: &str) -> Result<Part, PrefixError> {
    let invalid = |why: &str| PrefixError::new(format!("Prefix expression !{{{body}}} is invalid: {why}"));
    if body.contains("!{") {
        return Err(invalid("the sequence !{ can only appear in !{namespace:value} expressions."));
    }
    let Some((namespace, value)) = body.split_once(':') else {
        return Err(invalid("expected the form !{namespace:value}."));
    };
    if value.is_empty() {
        return Err(invalid("the value is empty."));
    }
    match namespace {
        NS_TIMESTAMP => parse_pattern(value).map(Part::Timestamp).map_err(|why| invalid(&why)),
        NS_FIREHOSE => match value {
            "random-string" => Ok(Part::RandomString),
            "error-output-type" => Ok(Part::ErrorOutputType),
            _ => Err(invalid("the firehose namespace supports only random-string and error-output-type.")),
        },
        NS_PARTITION_KEY_FROM_QUERY => Ok(Part::QueryKey(value.to_owned())),
        NS_PARTITION_KEY_FROM_LAMBDA => Ok(Part::LambdaKey(value.to_owned())),
        _ => Err(invalid(&format!(
            "unknown namespace '{namespace}'; valid namespaces are {NS_TIMESTAMP}, {NS_FIREHOSE}, \
             {NS_PARTITION_KEY_FROM_QUERY} and {NS_PARTITION_KEY_FROM_LAMBDA}."
        ))),
    }
}

/// AWS's create/update-time rules across `Prefix` and `ErrorOutputPrefix` for an S3
/// destination. `None` and the empty string both mean "not specified". Returns the first
/// violation, checked in this order:
///
/// 1. each prefix parses (syntax, namespaces, timestamp patterns, length limits);
/// 2. `Prefix` must not use `!{firehose:error-output-type}`;
/// 3. `partitionKeyFrom*` in `Prefix` needs dynamic partitioning enabled;
/// 4. `ErrorOutputPrefix` must not use `partitionKeyFrom*`;
/// 5. with dynamic partitioning, `Prefix` must be given and use a `partitionKeyFrom*`
///    expression, and `ErrorOutputPrefix` must be given;
/// 6. `ErrorOutputPrefix` must be given when `Prefix` contains expressions;
/// 7. an `ErrorOutputPrefix` with expressions must contain `!{firehose:error-output-type}`.
pub fn validate(
    prefix: Option<&str>,
    error_prefix: Option<&str>,
    dynamic_partitioning: bool,
) -> Result<(), PrefixError> {
    let parse = |field: &str, s: Option<&str>| -> Result<Option<PrefixTemplate>, PrefixError> {
        s.filter(|s| !s.is_empty())
            .map(|s| PrefixTemplate::parse(s).map_err(|e| PrefixError(format!("Invalid {field}: {}", e.0))))
            .transpose()
    };
    let prefix = parse("Prefix", prefix)?;
    let error_prefix = parse("ErrorOutputPrefix", error_prefix)?;

    if let Some(p) = &prefix {
        if p.has_error_output_type() {
            return Err(PrefixError::new(format!(
                "Prefix can't contain {ERROR_OUTPUT_TYPE_EXPR}; it can only be used in \
                 ErrorOutputPrefix."
            )));
        }
        if p.uses_partition_keys() && !dynamic_partitioning {
            return Err(PrefixError::new(
                "Dynamic Partitioning Namespaces can only be part of a prefix expression when \
                 Dynamic Partitioning is enabled.",
            ));
        }
    }
    if let Some(e) = &error_prefix
        && e.uses_partition_keys()
    {
        return Err(PrefixError::new("Dynamic Partitioning Namespaces can't be used in ErrorOutputPrefix."));
    }
    if dynamic_partitioning {
        if !prefix.as_ref().is_some_and(PrefixTemplate::uses_partition_keys) {
            return Err(PrefixError::new(format!(
                "When Dynamic Partitioning is enabled, Prefix must contain at least one \
                 !{{{NS_PARTITION_KEY_FROM_QUERY}:key}} or !{{{NS_PARTITION_KEY_FROM_LAMBDA}:key}} \
                 expression."
            )));
        }
        if error_prefix.is_none() {
            return Err(PrefixError::new("ErrorOutputPrefix must be specified when Dynamic Partitioning is enabled."));
        }
    }
    if error_prefix.is_none() && prefix.as_ref().is_some_and(PrefixTemplate::has_expressions) {
        return Err(PrefixError::new("ErrorOutputPrefix can't be null when Prefix contains expressions."));
    }
    if let Some(e) = &error_prefix
        && e.has_expressions()
        && !e.has_error_output_type()
    {
        return Err(PrefixError::new(format!(
            "ErrorOutputPrefix must contain at least one occurrence of {ERROR_OUTPUT_TYPE_EXPR} \
             when it contains expressions."
        )));
    }
    Ok(())
}

/// AWS's default time layout `yyyy/MM/dd/HH/` for `ts`, e.g. `2026/11/26/09/`.
pub fn default_layout(ts: OffsetDateTime) -> String {
    format!("{:04}/{:02}/{:02}/{:02}/", ts.year(), u8::from(ts.month()), ts.day(), ts.hour())
}

/// Where failed records go when no `ErrorOutputPrefix` is configured (allowed only when the
/// `Prefix` has no expressions): `<prefix><error-output-type>/yyyy/MM/dd/HH/`, so
/// `<error-output-type>/yyyy/MM/dd/HH/` at the bucket root when there is no `Prefix` either.
/// [`object_key`] applies this when given an expression-free template and an error type.
pub fn default_error_prefix(prefix: &str, error_type: &str, ts: OffsetDateTime) -> String {
    format!("{prefix}{error_type}/{}", default_layout(ts))
}

/// The full key of a delivered object, `<evaluated prefix><suffix>`.
///
/// * Main objects (`error_type == None`): `template` is the `Prefix` (an empty template when
///   none is configured). It is evaluated, and the default `yyyy/MM/dd/HH/` layout is
///   appended unless it has a `timestamp` or partition key expression (see
///   [`PrefixTemplate::appends_default_layout`]); e.g. `logs/` gives `logs/2026/11/26/09/`.
/// * Failed records (`error_type == Some(t)`): `template` is the `ErrorOutputPrefix` or,
///   when none is configured, the `Prefix`. A template with expressions is evaluated as is;
///   one without gets `<t>/yyyy/MM/dd/HH/` appended ([`default_error_prefix`]).
///
/// The suffix is `<stream_name>-<stream_version>-<yyyy-MM-dd-HH-mm-ss>-<uuid><extension>`,
/// the uuid a random version-4 UUID and `extension` chosen by the caller (`".gz"`,
/// `".parquet"`, `""`, a configured `FileExtension`, ...).
pub fn object_key(
    template: &PrefixTemplate,
    stream_name: &str,
    stream_version: u64,
    ts: OffsetDateTime,
    error_type: Option<&str>,
    keys: &BTreeMap<String, String>,
    extension: &str,
) -> Result<String, PrefixError> {
    let mut key = match error_type {
        Some(t) if !template.has_expressions() => default_error_prefix(template.as_str(), t, ts),
        _ => {
            let mut p = template.render(ts, error_type, keys)?;
            if error_type.is_none() && template.appends_default_layout() {
                p.push_str(&default_layout(ts));
            }
            p
        }
    };
    let _ = write!(
        key,
        "{stream_name}-{stream_version}-{:04}-{:02}-{:02}-{:02}-{:02}-{:02}-{}{extension}",
        ts.year(),
        u8::from(ts.month()),
        ts.day(),
        ts.hour(),
        ts.minute(),
        ts.second(),
        uuid_v4()
    );
    Ok(key)
}

/// 11 random lowercase hexadecimal characters, the shape of AWS's documented examples
/// (`5abf82daaa5`).
fn random_string() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut rng = rand::rng();
    (0..RANDOM_STRING_LEN).map(|_| char::from(HEX[rng.random_range(0..16)])).collect()
}

/// A random (version 4) UUID in its hyphenated lowercase form.
fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

// ---------------------------------------------------------------------------------------------
// Java DateTimeFormatter patterns
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum TsItem {
    Literal(String),
    Field { letter: char, count: usize },
}

/// Parses a `DateTimeFormatter` pattern: runs of ASCII letters are fields, text in single
/// quotes is literal (`''` is a quote), `[` `]` delimit optional sections (always printed, as
/// every field is available), `#` `{` `}` are reserved, anything else is literal.
fn parse_pattern(pattern: &str) -> Result<Vec<TsItem>, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut items = Vec::new();
    let mut lit = String::new();
    let mut optional_depth = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            let mut j = i + 1;
            loop {
                match chars.get(j) {
                    None => return Err(format!("unterminated quote in pattern '{pattern}'.")),
                    Some('\'') if chars.get(j + 1) == Some(&'\'') => {
                        lit.push('\'');
                        j += 2;
                    }
                    Some('\'') => {
                        j += 1;
                        break;
                    }
                    Some(&other) => {
                        lit.push(other);
                        j += 1;
                    }
                }
            }
            // `''` outside a quoted section is a single quote: the loop above handled it as an
            // empty quoted section, so add it here.
            if j == i + 2 {
                lit.push('\'');
            }
            i = j;
        } else if c.is_ascii_alphabetic() {
            let count = chars[i..].iter().take_while(|&&x| x == c).count();
            check_field(c, count).map_err(|why| format!("{why} (pattern '{pattern}')."))?;
            if !lit.is_empty() {
                items.push(TsItem::Literal(std::mem::take(&mut lit)));
            }
            items.push(TsItem::Field { letter: c, count });
            i += count;
        } else {
            match c {
                '#' | '{' | '}' => {
                    return Err(format!("pattern '{pattern}' uses the reserved character '{c}'."));
                }
                '[' => optional_depth += 1,
                ']' => {
                    if optional_depth == 0 {
                        return Err(format!("pattern '{pattern}' contains ']' without a previous '['."));
                    }
                    optional_depth -= 1;
                }
                _ => lit.push(c),
            }
            i += 1;
        }
    }
    if !lit.is_empty() {
        items.push(TsItem::Literal(lit));
    }
    Ok(items)
}

fn check_field(letter: char, count: usize) -> Result<(), String> {
    let max = match letter {
        'y' | 'u' | 'n' | 'A' | 'N' => 19,
        'G' | 'M' | 'L' | 'Q' | 'q' | 'E' | 'X' | 'x' | 'Z' => 5,
        'S' => 9,
        'D' => 3,
        'd' | 'h' | 'H' | 'k' | 'K' | 'm' | 's' => 2,
        'a' => 1,
        'Y' | 'w' | 'W' | 'e' | 'c' | 'F' | 'V' | 'v' | 'z' | 'O' | 'B' | 'g' | 'p' => {
            return Err(format!("unsupported pattern letter '{letter}'"));
        }
        _ => return Err(format!("unknown pattern letter '{letter}'")),
    };
    if count > max {
        return Err(format!("too many pattern letters '{letter}'"));
    }
    Ok(())
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

fn format_timestamp(items: &[TsItem], ts: OffsetDateTime, out: &mut String) {
    for item in items {
        match item {
            TsItem::Literal(s) => out.push_str(s),
            TsItem::Field { letter, count } => format_field(*letter, *count, ts, out),
        }
    }
}

/// Appends `value`, zero-padded to `width` digits (sign excluded).
fn push_padded(out: &mut String, value: i64, width: usize) {
    if value < 0 {
        out.push('-');
    }
    let _ = write!(out, "{:0width$}", value.unsigned_abs());
}

/// A number field: one letter prints the plain value, more letters pad to that width.
fn push_number(out: &mut String, value: i64, count: usize) {
    push_padded(out, value, count);
}

/// Text fields (month, weekday, era, quarter): 1-3 letters short, 4 full, 5 narrow.
fn push_text(out: &mut String, full: &str, count: usize) {
    let take = match count {
        4 => full.len(),
        5 => 1,
        _ => 3.min(full.len()),
    };
    out.push_str(&full[..take]);
}

fn format_field(letter: char, count: usize, ts: OffsetDateTime, out: &mut String) {
    let year = i64::from(ts.year());
    let month = u8::from(ts.month());
    let hour = ts.hour();
    let nanos = ts.nanosecond();
    let nano_of_day = (i64::from(hour) * 3600 + i64::from(ts.minute()) * 60 + i64::from(ts.second())) * 1_000_000_000
        + i64::from(nanos);
    match letter {
        'y' | 'u' => {
            // 'y' is year-of-era, 'u' the proleptic year.
            let value = if letter == 'y' && year <= 0 { 1 - year } else { year };
            if count == 2 {
                push_padded(out, value.rem_euclid(100), 2);
            } else {
                push_number(out, value, count);
            }
        }
        'G' => {
            let (short, full) = if year > 0 { ("AD", "Anno Domini") } else { ("BC", "Before Christ") };
            match count {
                4 => out.push_str(full),
                5 => out.push_str(&short[..1]),
                _ => out.push_str(short),
            }
        }
        'Q' | 'q' => {
            let quarter = (month - 1) / 3 + 1;
            match count {
                1 | 2 => push_number(out, i64::from(quarter), count),
                3 => {
                    let _ = write!(out, "Q{quarter}");
                }
                4 => {
                    out.push_str(["1st quarter", "2nd quarter", "3rd quarter", "4th quarter"][usize::from(quarter - 1)])
                }
                _ => {
                    let _ = write!(out, "{quarter}");
                }
            }
        }
        'M' | 'L' => match count {
            1 | 2 => push_number(out, i64::from(month), count),
            _ => push_text(out, MONTHS[usize::from(month - 1)], count),
        },
        'd' => push_number(out, i64::from(ts.day()), count),
        'D' => push_number(out, i64::from(ts.ordinal()), count),
        'E' => push_text(out, WEEKDAYS[usize::from(ts.weekday().number_days_from_monday())], count),
        'a' => out.push_str(if hour < 12 { "AM" } else { "PM" }),
        'H' => push_number(out, i64::from(hour), count),
        'k' => push_number(out, if hour == 0 { 24 } else { i64::from(hour) }, count),
        'K' => push_number(out, i64::from(hour % 12), count),
        'h' => push_number(out, if hour.is_multiple_of(12) { 12 } else { i64::from(hour % 12) }, count),
        'm' => push_number(out, i64::from(ts.minute()), count),
        's' => push_number(out, i64::from(ts.second()), count),
        'S' => {
            let digits = format!("{nanos:09}");
            out.push_str(&digits[..count]);
        }
        'n' => push_number(out, i64::from(nanos), count),
        'A' => push_number(out, nano_of_day / 1_000_000, count),
        'N' => push_number(out, nano_of_day, count),
        'X' | 'x' | 'Z' => format_offset(letter, count, ts.offset().whole_seconds(), out),
        _ => {}
    }
}

/// Offset fields as Java prints them: `X` uses `Z` for a zero offset, `x` and `Z` print digits.
fn format_offset(letter: char, count: usize, total: i32, out: &mut String) {
    if letter == 'Z' && count == 4 {
        // Localized offset: GMT, GMT+8, GMT+05:30.
        out.push_str("GMT");
        if total != 0 {
            let sign = if total < 0 { '-' } else { '+' };
            let abs = total.unsigned_abs();
            let _ = write!(out, "{sign}{:02}:{:02}", abs / 3600, abs / 60 % 60);
            if !abs.is_multiple_of(60) {
                let _ = write!(out, ":{:02}", abs % 60);
            }
        }
        return;
    }
    // (colon separator, minutes always printed, seconds printed when non-zero)
    let (colon, minutes_always, seconds) = match (letter, count) {
        ('Z', 5) => (true, true, true),
        ('Z', _) => (false, true, false),
        (_, 1) => (false, false, false),
        (_, 2) => (false, true, false),
        (_, 3) => (true, true, false),
        (_, 4) => (false, true, true),
        _ => (true, true, true),
    };
    if total == 0 && (letter == 'X' || (letter == 'Z' && count == 5)) {
        out.push('Z');
        return;
    }
    let sign = if total < 0 { '-' } else { '+' };
    let abs = total.unsigned_abs();
    let (h, m, s) = (abs / 3600, abs / 60 % 60, abs % 60);
    let sep = if colon { ":" } else { "" };
    let _ = write!(out, "{sign}{h:02}");
    if minutes_always || m != 0 {
        let _ = write!(out, "{sep}{m:02}");
    }
    if seconds && s != 0 {
        let _ = write!(out, "{sep}{s:02}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn ts() -> OffsetDateTime {
        datetime!(2026-11-26 09:05:07.123456789 UTC)
    }

    fn no_keys() -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    fn render(p: &str) -> String {
        PrefixTemplate::parse(p).unwrap().render(ts(), None, &no_keys()).unwrap()
    }

    fn parse_err(p: &str) -> String {
        PrefixTemplate::parse(p).unwrap_err().0
    }

    #[test]
    fn parses_literals_and_expressions() {
        let t = PrefixTemplate::parse("logs/").unwrap();
        assert!(!t.has_expressions());
        assert_eq!(t.as_str(), "logs/");
        assert!(PrefixTemplate::parse("").unwrap().is_empty());
        // A lone `!`, `{` or `}` is literal text.
        assert!(!PrefixTemplate::parse("a!b{c}d").unwrap().has_expressions());

        let t = PrefixTemplate::parse(
            "p/!{timestamp:yyyy}/!{firehose:random-string}/!{partitionKeyFromQuery:cid}/\
             !{partitionKeyFromLambda:dev}/!{partitionKeyFromQuery:cid}",
        )
        .unwrap();
        assert!(t.has_expressions());
        for ns in [NS_TIMESTAMP, NS_FIREHOSE, NS_PARTITION_KEY_FROM_QUERY, NS_PARTITION_KEY_FROM_LAMBDA] {
            assert!(t.uses(ns), "{ns}");
        }
        assert!(!t.uses("other"));
        assert!(!t.has_error_output_type());
        assert_eq!(t.partition_keys(), vec!["cid".to_owned()]);
        assert_eq!(t.lambda_partition_keys(), vec!["dev".to_owned()]);
        assert!(PrefixTemplate::parse("!{firehose:error-output-type}").unwrap().has_error_output_type());
    }

    #[test]
    fn rejects_malformed_prefixes() {
        assert!(parse_err("a/!{bogus:x}/").contains("unknown namespace"));
        assert!(parse_err("a/!{timestamp}/").contains("namespace:value"));
        assert!(parse_err("a/!{timestamp:yyyy").contains("not terminated"));
        assert!(parse_err("!{timestamp:}").contains("empty"));
        assert!(parse_err("!{firehose:uuid}").contains("random-string"));
        assert!(parse_err("!{timestamp:!{x}").contains("!{"));
        assert!(parse_err("!{Timestamp:yyyy}").contains("unknown namespace"));
        assert!(parse_err(&"a".repeat(1025)).contains("1024"));
        assert!(PrefixTemplate::parse(&"a".repeat(1024)).is_ok());
        assert!(parse_err(&"!{timestamp:y}".repeat(51)).contains("50"));
        assert!(PrefixTemplate::parse(&"!{timestamp:y}".repeat(50)).is_ok());
        // Timestamp patterns are checked at parse time.
        assert!(parse_err("!{timestamp:yyyy-bb}").contains("unknown pattern letter 'b'"));
        assert!(parse_err("!{timestamp:'year}").contains("unterminated quote"));
        assert!(parse_err("!{timestamp:ddd}").contains("too many"));
        assert!(parse_err("!{timestamp:HHH}").contains("too many"));
        assert!(parse_err("!{timestamp:yyyy#}").contains("reserved"));
        assert!(parse_err("!{timestamp:yyyy]}").contains("']'"));
    }

    #[test]
    fn renders_timestamp_patterns() {
        assert_eq!(render("!{timestamp:yyyy}"), "2026");
        assert_eq!(render("!{timestamp:yy}"), "26");
        assert_eq!(render("!{timestamp:yyyy/MM/dd/HH/}"), "2026/11/26/09/");
        assert_eq!(render("!{timestamp:yyyy-MM-dd HH:mm:ss.SSS}"), "2026-11-26 09:05:07.123");
        assert_eq!(render("!{timestamp:yyyy_MM.dd}"), "2026_11.26");
        assert_eq!(render("!{timestamp:M/d/H/m/s}"), "11/26/9/5/7");
        assert_eq!(render("!{timestamp:S SSSSSSSSS}"), "1 123456789");
        assert_eq!(render("!{timestamp:MMM MMMM EEE EEEE a hh}"), "Nov November Thu Thursday AM 09");
        assert_eq!(render("!{timestamp:D DDD Q QQQ G uuuu}"), "330 330 4 Q4 AD 2026");
        assert_eq!(render("!{timestamp:X xx Z ZZZZZ}"), "Z +0000 +0000 Z");
        assert_eq!(render("!{timestamp:yyyy[-MM]}"), "2026-11");
        // Quoted literal text, AWS's own example shape, and escaped quotes.
        assert_eq!(
            render("myErrorPrefix/!{timestamp:'year='yyyy'/month='MM'/day='dd'/hour='HH}/"),
            "myErrorPrefix/year=2026/month=11/day=26/hour=09/"
        );
        assert_eq!(render("!{timestamp:yyyy'-'MM'-'dd}"), "2026-11-26");
        assert_eq!(render("!{timestamp:'o''clock' HH''}"), "o'clock 09'");
        // Every timestamp expression uses the same instant.
        assert_eq!(render("dt=!{timestamp:yyyy-MM-dd}/h=!{timestamp:HH}/"), "dt=2026-11-26/h=09/");
        // PM / 12-hour / clock hours.
        let t = PrefixTemplate::parse("!{timestamp:h a k K H}").unwrap();
        let out = t.render(datetime!(2026-01-02 00:30 UTC), None, &no_keys()).unwrap();
        assert_eq!(out, "12 AM 24 0 0");
        let out = t.render(datetime!(2026-01-02 13:30 UTC), None, &no_keys()).unwrap();
        assert_eq!(out, "1 PM 13 1 13");
        // The instant's own offset is used (a CustomTimeZone applied by the caller).
        let t = PrefixTemplate::parse("!{timestamp:yyyy-MM-dd HH XXX}").unwrap();
        let out = t.render(datetime!(2026-11-26 23:00 +09:00), None, &no_keys()).unwrap();
        assert_eq!(out, "2026-11-26 23 +09:00");
    }

    #[test]
    fn random_string_is_11_chars_and_fresh_per_occurrence() {
        let t = PrefixTemplate::parse("a/!{firehose:random-string}/!{firehose:random-string}/").unwrap();
        let out = t.render(ts(), None, &no_keys()).unwrap();
        let segs: Vec<&str> = out.split('/').collect();
        assert_eq!(segs.len(), 4);
        for s in &segs[1..3] {
            assert_eq!(s.len(), RANDOM_STRING_LEN);
            assert!(s.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        }
        // AWS: "every instance evaluates to a new random string".
        assert_ne!(segs[1], segs[2]);
        assert_ne!(out, t.render(ts(), None, &no_keys()).unwrap());
    }

    #[test]
    fn renders_partition_keys_and_error_type() {
        let t = PrefixTemplate::parse(
            "customer_id=!{partitionKeyFromQuery:customer_id}/device=!{partitionKeyFromLambda:device}/",
        )
        .unwrap();
        let mut keys = BTreeMap::new();
        keys.insert("customer_id".to_owned(), "1234567890".to_owned());
        keys.insert("device".to_owned(), "mobile".to_owned());
        assert_eq!(t.render(ts(), None, &keys).unwrap(), "customer_id=1234567890/device=mobile/");
        // Separate maps per namespace.
        let mut lambda = BTreeMap::new();
        lambda.insert("device".to_owned(), "tablet".to_owned());
        assert_eq!(t.render_with(ts(), None, &keys, &lambda).unwrap(), "customer_id=1234567890/device=tablet/");
        keys.remove("device");
        let err = t.render(ts(), None, &keys).unwrap_err();
        assert!(err.0.contains("'device'"), "{err}");

        let e = PrefixTemplate::parse("myPrefix/result=!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}").unwrap();
        assert_eq!(
            e.render(ts(), Some("processing-failed"), &no_keys()).unwrap(),
            "myPrefix/result=processing-failed/2026/11/26"
        );
        assert!(e.render(ts(), None, &no_keys()).is_err());

        // Evaluated prefixes are capped at 512 characters.
        let mut long = BTreeMap::new();
        long.insert("k".to_owned(), "v".repeat(600));
        let t = PrefixTemplate::parse("!{partitionKeyFromQuery:k}/").unwrap();
        assert!(t.render(ts(), None, &long).unwrap_err().0.contains("512"));
    }

    #[test]
    fn validation_rules() {
        let ok = |p: Option<&str>, e: Option<&str>, dp: bool| validate(p, e, dp);
        let err = |p: Option<&str>, e: Option<&str>, dp: bool| validate(p, e, dp).unwrap_err().0;

        // Valid configurations.
        assert!(ok(None, None, false).is_ok());
        assert!(ok(Some(""), Some(""), false).is_ok());
        assert!(ok(Some("logs/"), None, false).is_ok());
        assert!(ok(None, Some("fail/!{firehose:error-output-type}/"), false).is_ok());
        assert!(ok(Some("logs/"), Some("errors/"), false).is_ok());
        assert!(
            ok(Some("a/!{timestamp:yyyy}/"), Some("e/!{firehose:error-output-type}/!{timestamp:yyyy}/"), false).is_ok()
        );
        assert!(ok(Some("c=!{partitionKeyFromQuery:c}/"), Some("e/!{firehose:error-output-type}/"), true).is_ok());
        assert!(ok(Some("c=!{partitionKeyFromLambda:c}/"), Some("errors/"), true).is_ok());

        // Syntax errors name the field.
        assert!(err(Some("!{nope:x}"), None, false).starts_with("Invalid Prefix:"));
        assert!(err(Some("logs/"), Some("!{firehose:bad}"), false).starts_with("Invalid ErrorOutputPrefix:"));
        // error-output-type is not allowed in Prefix.
        assert!(
            err(Some("a/!{firehose:error-output-type}/"), Some("e/!{firehose:error-output-type}"), false)
                .contains("Prefix can't contain")
        );
        // Partition keys need dynamic partitioning.
        assert!(
            err(Some("c=!{partitionKeyFromQuery:c}/"), Some("e/!{firehose:error-output-type}/"), false)
                .contains("when Dynamic Partitioning is enabled")
        );
        // ...and are never allowed in ErrorOutputPrefix.
        assert!(
            err(
                Some("c=!{partitionKeyFromQuery:c}/"),
                Some("e/!{firehose:error-output-type}/!{partitionKeyFromQuery:c}/"),
                true
            )
            .contains("can't be used in ErrorOutputPrefix")
        );
        // Dynamic partitioning needs a partition key in Prefix...
        assert!(
            err(Some("a/!{timestamp:yyyy}/"), Some("e/!{firehose:error-output-type}/"), true).contains("at least one")
        );
        assert!(err(None, Some("e/!{firehose:error-output-type}/"), true).contains("at least one"));
        // ...and an ErrorOutputPrefix.
        assert!(err(Some("c=!{partitionKeyFromQuery:c}/"), None, true).contains("ErrorOutputPrefix must be specified"));
        // Expressions in Prefix require an ErrorOutputPrefix.
        assert!(err(Some("!{timestamp:yyyy/MM/dd}"), None, false).contains("ErrorOutputPrefix can't be null"));
        assert!(err(Some("!{firehose:random-string}/"), Some(""), false).contains("ErrorOutputPrefix can't be null"));
        // An ErrorOutputPrefix with expressions must use error-output-type.
        assert!(err(Some("logs/"), Some("e/!{timestamp:yyyy}/"), false).contains("at least one occurrence"));
    }

    fn assert_suffix(rest: &str, stream: &str, version: u64, ext: &str) {
        let head = format!("{stream}-{version}-2026-11-26-09-05-07-");
        let uuid =
            rest.strip_prefix(&head).and_then(|r| r.strip_suffix(ext)).unwrap_or_else(|| panic!("bad suffix {rest}"));
        let groups: Vec<&str> = uuid.split('-').collect();
        assert_eq!(groups.iter().map(|g| g.len()).collect::<Vec<_>>(), vec![8, 4, 4, 4, 12], "{uuid}");
        assert!(uuid.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
        assert_eq!(&groups[2][..1], "4");
        assert!(matches!(&groups[3][..1], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn object_keys() {
        let keys = no_keys();
        // No prefix: default layout at the bucket root.
        let t = PrefixTemplate::default();
        let k = object_key(&t, "my-stream", 1, ts(), None, &keys, "").unwrap();
        let rest = k.strip_prefix("2026/11/26/09/").unwrap();
        assert_suffix(rest, "my-stream", 1, "");

        // A literal prefix gets the layout appended by plain concatenation.
        let t = PrefixTemplate::parse("logs/").unwrap();
        let k = object_key(&t, "s", 3, ts(), None, &keys, ".gz").unwrap();
        assert_suffix(k.strip_prefix("logs/2026/11/26/09/").unwrap(), "s", 3, ".gz");
        let t = PrefixTemplate::parse("legacy").unwrap();
        let k = object_key(&t, "s", 3, ts(), None, &keys, "").unwrap();
        assert!(k.starts_with("legacy2026/11/26/09/s-3-"), "{k}");

        // A timestamp expression replaces the default layout.
        let t = PrefixTemplate::parse("y=!{timestamp:yyyy}/").unwrap();
        let k = object_key(&t, "s", 2, ts(), None, &keys, ".parquet").unwrap();
        assert_suffix(k.strip_prefix("y=2026/").unwrap(), "s", 2, ".parquet");

        // A prefix without timestamp expression still gets it ("Semantic rules")...
        let t = PrefixTemplate::parse("r/!{firehose:random-string}/").unwrap();
        let k = object_key(&t, "s", 2, ts(), None, &keys, "").unwrap();
        assert_eq!(&k[2 + RANDOM_STRING_LEN..2 + RANDOM_STRING_LEN + 15], "/2026/11/26/09/");

        // ...but a dynamically partitioned one does not.
        let t = PrefixTemplate::parse("c=!{partitionKeyFromQuery:c}/").unwrap();
        let mut pk = BTreeMap::new();
        pk.insert("c".to_owned(), "42".to_owned());
        let k = object_key(&t, "s", 7, ts(), None, &pk, ".snappy").unwrap();
        assert_suffix(k.strip_prefix("c=42/").unwrap(), "s", 7, ".snappy");
        assert!(object_key(&t, "s", 7, ts(), None, &keys, "").is_err());

        // Failed records with a configured ErrorOutputPrefix: evaluated as is.
        let e = PrefixTemplate::parse("fail/!{firehose:error-output-type}/!{timestamp:yyyy}/").unwrap();
        let k = object_key(&e, "s", 1, ts(), Some("format-conversion-failed"), &keys, "").unwrap();
        assert_suffix(k.strip_prefix("fail/format-conversion-failed/2026/").unwrap(), "s", 1, "");

        // Without one: the (expression-free) Prefix, the error type, then the layout.
        let p = PrefixTemplate::parse("logs/").unwrap();
        let k = object_key(&p, "s", 1, ts(), Some("processing-failed"), &keys, "").unwrap();
        assert_suffix(k.strip_prefix("logs/processing-failed/2026/11/26/09/").unwrap(), "s", 1, "");
        let k = object_key(&PrefixTemplate::default(), "s", 1, ts(), Some("processing-failed"), &keys, "").unwrap();
        assert!(k.starts_with("processing-failed/2026/11/26/09/s-1-"), "{k}");

        // Two keys for the same instant differ by their UUID.
        let a = object_key(&p, "s", 1, ts(), None, &keys, "").unwrap();
        let b = object_key(&p, "s", 1, ts(), None, &keys, "").unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn default_layouts() {
        assert_eq!(default_layout(ts()), "2026/11/26/09/");
        assert_eq!(default_layout(datetime!(2027-01-02 00:00 UTC)), "2027/01/02/00/");
        assert_eq!(default_error_prefix("", "processing-failed", ts()), "processing-failed/2026/11/26/09/");
        assert_eq!(
            default_error_prefix("myFirehosePrefix/", "processing-failed", ts()),
            "myFirehosePrefix/processing-failed/2026/11/26/09/"
        );
    }
}
