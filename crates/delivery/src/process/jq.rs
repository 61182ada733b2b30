//! Partition-key extraction (`MetadataExtraction`): jq programs compiled by jaq and run on each
//! record, the fast paths for object literals, plain paths and numeric `strftime` formats, and
//! the bridge that reads a record with serde_json straight into jaq's values.

use std::collections::BTreeMap;
use std::fmt;

use jaq_core::data::JustLut;
use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars};
use jaq_json::{Num, Val};

use super::RecordFailure;
use super::config::ConfigError;

type JqFilter = jaq_core::Filter<JustLut<Val>>;

/// A compiled `MetadataExtractionQuery`.
pub(super) struct Query {
    pub(super) text: String,
    pub(super) eval: Eval,
}

/// How a query is evaluated.
pub(super) enum Eval {
    /// The whole program, whose result must be an object.
    Whole(JqFilter),
    /// An object literal `{k1: f1, ..., kn: fn}` (the usual shape of a partitioning query): each
    /// value filter is run on its own, sparing the construction and merging of objects. Same
    /// results as the whole program: one key's filter with no or several results would have made
    /// the object construction yield none or several objects.
    Fields(Vec<(String, Field)>),
}

/// Definitions placed before jaq's standard library: they replace the native filters that
/// would reach outside the record (the server's environment, its stderr) with inert ones.
const SANDBOX_DEFS: &str = "def env: {}; def debug_empty: empty; def stderr_empty: empty;";
/// Native filters dropped in favour of [`SANDBOX_DEFS`].
const SANDBOXED_NATIVES: [&str; 3] = ["env", "debug_empty", "stderr_empty"];

/// Compiles a jq program with jq's (jaq's) standard library.
pub(super) fn compile_jq(text: &str) -> Result<JqFilter, String> {
    let sandbox = jaq_core::load::parse(SANDBOX_DEFS, |p| p.defs())
        .ok_or_else(|| "internal error in the sandbox definitions".to_string())?;
    let defs = jaq_core::defs().chain(sandbox).chain(jaq_std::defs()).chain(jaq_json::defs());
    let funs = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs())
        .filter(|(name, _, _)| !SANDBOXED_NATIVES.contains(name));
    let arena = Arena::default();
    let modules =
        Loader::new(defs).load(&arena, File { code: text, path: () }).map_err(|errs| describe_load_errors(&errs))?;
    Compiler::default().with_funs(funs).compile(modules).map_err(|errs| {
        let undefined: Vec<String> = errs
            .iter()
            .flat_map(|(_, es)| es.iter())
            .map(|(name, what)| format!("undefined {} {name}", what.as_str()))
            .collect();
        undefined.join("; ")
    })
}

/// The entries `(key, value source)` of a program that is one object literal with constant keys
/// (`{a: .x, "b c": .y | f}`), else `None`.
pub(super) fn object_literal_entries(text: &str) -> Option<Vec<(String, &str)>> {
    use jaq_core::load::lex::{Lexer, StrPart, Tok, Token};
    let tokens = Lexer::new(text).lex().ok()?;
    let [Token(block, Tok::Block(inner))] = tokens.as_slice() else { return None };
    if !block.starts_with('{') {
        return None;
    }
    let (Token("}", Tok::Sym), inner) = inner.split_last()? else { return None };
    let mut entries = Vec::new();
    if inner.is_empty() {
        return Some(entries);
    }
    for entry in inner.split(|t| matches!(t, Token(",", Tok::Sym))) {
        let [key, Token(":", Tok::Sym), value @ ..] = entry else { return None };
        let key = match key {
            Token(id, Tok::Word) if !id.contains("::") => id.to_string(),
            Token(_, Tok::Str(parts)) => {
                let mut key = String::new();
                for part in parts {
                    match part {
                        StrPart::Str(s) => key.push_str(s),
                        StrPart::Char(c) => key.push(*c),
                        StrPart::Term(_) => return None,
                    }
                }
                key
            }
            _ => return None,
        };
        let (first, last) = (value.first()?, value.last()?);
        let start = jaq_core::load::span(text, first.as_str()).start;
        let end = jaq_core::load::span(text, last.as_str()).end;
        entries.push((key, &text[start..end]));
    }
    Some(entries)
}

/// Runs a filter on a value: its single result.
fn run_jq(filter: &JqFilter, input: Val) -> Result<Val, RecordFailure> {
    let ctx = Ctx::<JustLut<Val>>::new(&filter.lut, Vars::new([]));
    let mut outputs = filter.id.run((ctx, input));
    let failed = |e: jaq_core::Exn<'_, Val>| match e.get_err() {
        Ok(err) => RecordFailure::extraction(format!("jq query failed: {err}")),
        Err(_) => RecordFailure::extraction("jq query halted"),
    };
    let value = match outputs.next() {
        None => return Err(RecordFailure::extraction("jq query produced no result")),
        Some(Err(e)) => return Err(failed(e)),
        Some(Ok(v)) => v,
    };
    match outputs.next() {
        None => Ok(value),
        Some(Err(e)) => Err(failed(e)),
        Some(Ok(_)) => Err(RecordFailure::extraction("jq query produced more than one result")),
    }
}

/// A partition key value as a string: strings as they are, numbers and booleans as jq prints
/// them.
fn render_key_value(key: &str, value: &Val) -> Result<String, RecordFailure> {
    let rendered = match value {
        Val::TStr(b) | Val::BStr(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Val::Bool(b) => Some(b.to_string()),
        Val::Num(n) => render_num(n),
        Val::Null | Val::Arr(_) | Val::Obj(_) => None,
    };
    rendered.ok_or_else(|| {
        RecordFailure::extraction(format!(
            "partition key {key} is {}; partition keys must be strings, numbers or booleans",
            match value {
                Val::Num(_) => "NaN",
                other => type_name(other),
            }
        ))
    })
}

impl Query {
    pub(super) fn compile(text: &str) -> Result<Query, ConfigError> {
        let whole =
            compile_jq(text).map_err(|e| ConfigError(format!("Invalid MetadataExtractionQuery '{text}': {e}")))?;
        let fields = object_literal_entries(text).and_then(|entries| {
            entries.into_iter().map(|(key, value)| Some((key, Field::compile(value)?))).collect::<Option<Vec<_>>>()
        });
        let eval = match fields {
            Some(fields) => Eval::Fields(fields),
            None => Eval::Whole(whole),
        };
        Ok(Query { text: text.to_string(), eval })
    }

    /// Runs the query on one record: its partition keys.
    pub(super) fn extract(&self, record: &[u8]) -> Result<BTreeMap<String, String>, RecordFailure> {
        let input = parse_json(record).ok_or_else(|| RecordFailure::extraction("Non JSON record provided"))?;
        self.extract_value(input)
    }

    /// Runs the query on one parsed record: its partition keys.
    pub(super) fn extract_value(&self, input: Val) -> Result<BTreeMap<String, String>, RecordFailure> {
        let mut keys = BTreeMap::new();
        match &self.eval {
            Eval::Fields(fields) => {
                for (key, field) in fields {
                    keys.insert(key.clone(), field.render(key, &input)?);
                }
            }
            Eval::Whole(filter) => {
                let value = run_jq(filter, input)?;
                let Val::Obj(object) = value else {
                    return Err(RecordFailure::extraction(format!(
                        "jq query must produce an object of partition keys, got {}",
                        type_name(&value)
                    )));
                };
                for (key, value) in object.iter() {
                    let key = match key {
                        Val::TStr(b) | Val::BStr(b) => String::from_utf8_lossy(b).into_owned(),
                        other => {
                            return Err(RecordFailure::extraction(format!(
                                "partition key names must be strings, got {}",
                                type_name(other)
                            )));
                        }
                    };
                    let value = render_key_value(&key, value)?;
                    keys.insert(key, value);
                }
            }
        }
        Ok(keys)
    }
}

/// The value of one key of an object-literal query.
pub(super) enum Field {
    /// A plain path `.a.b.c`, evaluated directly on the record (jq's semantics: indexing null
    /// gives null, indexing anything else but an object is an error).
    Path(Vec<String>),
    /// `.a.b | strftime("%Y/%m")` with only numeric fields in the format: formatted directly when
    /// the path leads to a Unix time in the range [`format_time`] handles, else by jq.
    Strftime { path: Vec<String>, format: Vec<TimeItem>, jq: JqFilter },
    /// Any other jq expression.
    Jq(JqFilter),
}

/// A piece of a `strftime` format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum TimeItem {
    Literal(String),
    /// `%Y`
    Year,
    /// `%y`
    YearOfCentury,
    /// `%m`
    Month,
    /// `%d`
    Day,
    /// `%j`
    DayOfYear,
    /// `%H`
    Hour,
    /// `%M`
    Minute,
    /// `%S`
    Second,
}

/// A plain path `.a.b.c` (identifiers only).
pub(super) fn plain_path(text: &str) -> Option<Vec<String>> {
    let rest = text.trim().strip_prefix('.')?;
    rest.split('.')
        .map(|name| {
            let mut chars = name.chars();
            let first = chars.next()?;
            let ident =
                (first.is_ascii_alphabetic() || first == '_') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
            ident.then(|| name.to_string())
        })
        .collect()
}

/// A `strftime` format made only of the numeric fields [`TimeItem`] knows.
fn time_format(format: &str) -> Option<Vec<TimeItem>> {
    let mut items = Vec::new();
    let mut literal = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            literal.push(c);
            continue;
        }
        let item = match chars.next()? {
            '%' => {
                literal.push('%');
                continue;
            }
            'Y' => TimeItem::Year,
            'y' => TimeItem::YearOfCentury,
            'm' => TimeItem::Month,
            'd' => TimeItem::Day,
            'j' => TimeItem::DayOfYear,
            'H' => TimeItem::Hour,
            'M' => TimeItem::Minute,
            'S' => TimeItem::Second,
            _ => return None,
        };
        if !literal.is_empty() {
            items.push(TimeItem::Literal(std::mem::take(&mut literal)));
        }
        items.push(item);
    }
    if !literal.is_empty() {
        items.push(TimeItem::Literal(literal));
    }
    Some(items)
}

/// `path | strftime("format")` with a plain path and a constant format.
pub(super) fn path_strftime(text: &str) -> Option<(Vec<String>, Vec<TimeItem>)> {
    use jaq_core::load::lex::{Lexer, StrPart, Tok, Token};
    let tokens = Lexer::new(text).lex().ok()?;
    let [.., Token(pipe, Tok::Sym), Token("strftime", Tok::Word), Token(args, Tok::Block(args_tokens))] =
        tokens.as_slice()
    else {
        return None;
    };
    if *pipe != "|" || !args.starts_with('(') {
        return None;
    }
    let [Token(_, Tok::Str(parts)), Token(")", Tok::Sym)] = args_tokens.as_slice() else { return None };
    let mut format = String::new();
    for part in parts {
        match part {
            StrPart::Str(s) => format.push_str(s),
            StrPart::Char(c) => format.push(*c),
            StrPart::Term(_) => return None,
        }
    }
    let path = plain_path(&text[..jaq_core::load::span(text, pipe).start])?;
    Some((path, time_format(&format)?))
}

/// Formats a Unix time (seconds) with `format`, if it falls between 1970 and the end of the range of
/// the date library jaq uses (9999-12-30T22:00:00Z).
fn format_time(value: &Val, format: &[TimeItem]) -> Option<String> {
    use std::fmt::Write as _;
    let seconds = match value {
        Val::Num(Num::Int(i)) => i64::try_from(*i).ok()?,
        Val::Num(Num::Float(x)) if x.is_finite() => x.floor() as i64,
        _ => return None,
    };
    if !(0..253_402_207_200).contains(&seconds) {
        return None;
    }
    let t = time::OffsetDateTime::from_unix_timestamp(seconds).ok()?;
    let mut out = String::with_capacity(16);
    for item in format {
        let _ = match item {
            TimeItem::Literal(s) => out.write_str(s),
            TimeItem::Year => write!(out, "{:04}", t.year()),
            TimeItem::YearOfCentury => write!(out, "{:02}", t.year() % 100),
            TimeItem::Month => write!(out, "{:02}", u8::from(t.month())),
            TimeItem::Day => write!(out, "{:02}", t.day()),
            TimeItem::DayOfYear => write!(out, "{:03}", t.ordinal()),
            TimeItem::Hour => write!(out, "{:02}", t.hour()),
            TimeItem::Minute => write!(out, "{:02}", t.minute()),
            TimeItem::Second => write!(out, "{:02}", t.second()),
        };
    }
    Some(out)
}

impl Field {
    pub(super) fn compile(text: &str) -> Option<Field> {
        if let Some(path) = plain_path(text) {
            return Some(Field::Path(path));
        }
        let jq = compile_jq(text).ok()?;
        Some(match path_strftime(text) {
            Some((path, format)) => Field::Strftime { path, format, jq },
            None => Field::Jq(jq),
        })
    }

    /// The field's value for one record, rendered.
    pub(super) fn render(&self, key: &str, input: &Val) -> Result<String, RecordFailure> {
        match self {
            Field::Path(path) => render_key_value(key, follow_path(input, path)?.unwrap_or(&Val::Null)),
            Field::Strftime { path, format, jq } => {
                match follow_path(input, path).ok().flatten().and_then(|v| format_time(v, format)) {
                    Some(formatted) => Ok(formatted),
                    None => render_key_value(key, &run_jq(jq, input.clone())?),
                }
            }
            Field::Jq(jq) => render_key_value(key, &run_jq(jq, input.clone())?),
        }
    }
}

/// Follows a plain path through a record; `None` where jq gives null.
fn follow_path<'v>(mut value: &'v Val, path: &[String]) -> Result<Option<&'v Val>, RecordFailure> {
    for name in path {
        value = match value {
            Val::Obj(object) => {
                let found = if object.len() <= 16 {
                    object
                        .iter()
                        .find(|(k, _)| matches!(k, Val::TStr(b) if b.as_ref() == name.as_bytes()))
                        .map(|(_, v)| v)
                } else {
                    object.get(&Val::utf8_str(name.clone().into_bytes()))
                };
                match found {
                    Some(v) => v,
                    None => return Ok(None),
                }
            }
            Val::Null => return Ok(None),
            other => {
                return Err(RecordFailure::extraction(format!(
                    "jq query failed: cannot index {} with \"{name}\"",
                    type_name(other)
                )));
            }
        };
    }
    Ok(Some(value))
}

fn describe_load_errors<P>(errs: &jaq_core::load::Errors<&str, P>) -> String {
    use jaq_core::load::Error;
    let mut parts = Vec::new();
    for (_, err) in errs {
        match err {
            Error::Io(es) => parts.extend(es.iter().map(|(path, e)| format!("{path}: {e}"))),
            Error::Lex(es) => {
                parts.extend(es.iter().map(|(expect, at)| format!("expected {} at '{}'", expect.as_str(), snippet(at))))
            }
            Error::Parse(es) => parts.extend(es.iter().map(|(expect, at)| {
                if at.is_empty() {
                    format!("expected {} at end of input", expect.as_str())
                } else {
                    format!("expected {} at '{}'", expect.as_str(), snippet(at))
                }
            })),
        }
    }
    if parts.is_empty() { "syntax error".into() } else { parts.join("; ") }
}

/// The first few characters of the rest of a program, for error messages.
fn snippet(s: &str) -> String {
    let mut out: String = s.chars().take(20).collect();
    if out.len() < s.len() {
        out.push_str("...");
    }
    out
}

fn type_name(v: &Val) -> &'static str {
    match v {
        Val::Null => "null",
        Val::Bool(_) => "a boolean",
        Val::Num(_) => "a number",
        Val::TStr(_) | Val::BStr(_) => "a string",
        Val::Arr(_) => "an array",
        Val::Obj(_) => "an object",
    }
}

/// Parses one JSON document (surrounding whitespace allowed) into a jq value; `None` when it
/// is not JSON. serde_json rather than jaq's own reader: it is faster, strict (no comments, NaN
/// or invalid UTF-8) and bounds nesting (128 levels), so a hostile record cannot exhaust the
/// stack. Numbers are integers or doubles, as in jq 1.6 (integers beyond 64 bits are doubles).
pub(super) fn parse_json(data: &[u8]) -> Option<Val> {
    let mut de = serde_json::Deserializer::from_slice(data);
    let value = serde::de::DeserializeSeed::deserialize(ValSeed, &mut de).ok()?;
    de.end().ok()?;
    Some(value)
}

/// A jq value read with serde.
pub(super) struct JsonVal(pub(super) Val);

impl<'de> serde::Deserialize<'de> for JsonVal {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::DeserializeSeed::deserialize(ValSeed, d).map(JsonVal)
    }
}

/// Builds a jaq [`Val`] straight from serde's events.
#[derive(Clone, Copy)]
struct ValSeed;

impl<'de> serde::de::DeserializeSeed<'de> for ValSeed {
    type Value = Val;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Val, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for ValSeed {
    type Value = Val;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Val, E> {
        Ok(Val::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Val, E> {
        Ok(Val::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Val, E> {
        Ok(Val::Num(Num::from_integral(i)))
    }

    fn visit_u64<E>(self, i: u64) -> Result<Val, E> {
        Ok(Val::Num(Num::from_integral(i)))
    }

    fn visit_f64<E>(self, x: f64) -> Result<Val, E> {
        Ok(Val::Num(Num::Float(x)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Val, E> {
        Ok(Val::utf8_str(s.as_bytes().to_vec()))
    }

    fn visit_string<E>(self, s: String) -> Result<Val, E> {
        Ok(Val::utf8_str(s.into_bytes()))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Val, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Val::Arr(items.into()))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Val, A::Error> {
        let mut object = jaq_json::Map::default();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(self)?;
            object.insert(Val::utf8_str(key.into_bytes()), value);
        }
        Ok(Val::obj(object))
    }
}

/// A number as jq 1.6 prints it (AWS's engine): as a double in its shortest round-trip form,
/// plain unless the decimal exponent is below -4 or more than 15 past the digits (`1e-05`,
/// `1e+17`, `12345678901234567000`), infinities as the largest double; `None` for NaN (which jq
/// prints as null).
fn render_num(n: &Num) -> Option<String> {
    let x = match n {
        Num::Int(i) => *i as f64,
        Num::Float(x) => *x,
        Num::BigInt(_) | Num::Dec(_) => n.to_string().parse::<f64>().ok()?,
    };
    if x.is_nan() {
        return None;
    }
    let x = x.clamp(-f64::MAX, f64::MAX);
    // shortest round-trip digits d1.d2d3...e<exp>
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e')?;
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let ndigits = digits.len() as i64;
    let decpt = exp.parse::<i64>().ok()? + 1; // x = 0.d1d2... * 10^decpt
    let mut out = String::with_capacity(24);
    if x.is_sign_negative() {
        out.push('-');
    }
    if decpt <= -4 || decpt > ndigits + 15 {
        out.push_str(&digits[..1]);
        if ndigits > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = decpt - 1;
        out.push_str(&format!("e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs()));
    } else if decpt <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-decpt) as usize));
        out.push_str(&digits);
    } else if decpt >= ndigits {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (decpt - ndigits) as usize));
    } else {
        out.push_str(&digits[..decpt as usize]);
        out.push('.');
        out.push_str(&digits[decpt as usize..]);
    }
    Some(out)
}
