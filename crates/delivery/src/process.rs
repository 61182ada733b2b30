//! Data Firehose's built-in record processors (`ProcessingConfiguration.Processors`), as used for
//! S3 delivery with dynamic partitioning.
//!
//! Supported processor types (names as AWS's `ProcessorType` enum):
//!
//! - `Decompression` (`CompressionFormat` = `GZIP`, the default): gunzips the record, as AWS
//!   does for CloudWatch Logs subscription data.
//! - `CloudWatchLogProcessing` (`DataMessageExtraction` = `true`; needs `Decompression`): keeps
//!   only the `message` of each log event of a `DATA_MESSAGE` envelope, one per line; control
//!   messages (`CONTROL_MESSAGE`) and envelopes without log events are dropped.
//! - `RecordDeAggregation` (`SubRecordType` = `JSON` | `DELIMITED`, `Delimiter` base64-encoded):
//!   splits a record into consecutive JSON objects (optionally separated by whitespace) or on a
//!   delimiter. At most [`MAX_SUB_RECORDS`] sub-records per record: a record with more, or
//!   (JSON) one that is not a sequence of JSON objects, continues whole, as AWS does (the
//!   `MetadataExtraction` that usually follows then fails it as "Non JSON record provided").
//!   Kinesis Producer Library aggregation is not deaggregated.
//! - `MetadataExtraction` (`MetadataExtractionQuery`, `JsonParsingEngine` = `JQ-1.6`): runs the
//!   jq program (compiled once, by jaq) on each record; it must yield one object whose values
//!   are strings, numbers or booleans: the partition keys for `!{partitionKeyFromQuery:KEY}`.
//! - `AppendDelimiterToRecord` (optional `Delimiter`, base64-encoded like RecordDeAggregation's,
//!   default `"\n"`): applied when records are written, see [`Pipeline::delimiter`].
//! - `Lambda` is refused (tarn has no Lambda), unless processing is disabled.
//!
//! AWS applies the processors in a fixed order, whatever their order in the list: decompression,
//! message extraction, deaggregation, (Lambda), partition-key extraction; the delimiter is
//! appended at write time ("Deaggregation -> Data transformation via Lambda -> Partitioning
//! keys", AWS: "Apply dynamic partitioning to aggregated data").
//!
//! The jq engine is jaq (jq 1.6's language and standard library, with jaq's few documented
//! differences); numbers in partition keys are printed as jq 1.6 prints them (as doubles:
//! `1.0` -> `1`, `0.00001` -> `1e-05`). Queries cannot read the server's environment (`env` is
//! `{}`, `$ENV` is undefined), write to its stderr, or load modules. Queries are not bounded in
//! time or recursion depth: one that never ends stalls its stream's delivery. The usual query
//! shape, an object literal `{k: .a.b, y: .ts | strftime("%Y")}`, is evaluated key by key, with
//! plain paths and numeric `strftime` formats done natively (same results as jq, checked by the
//! tests); records are parsed once, with serde_json (nesting bounded at 128 levels).
//!
//! Per-record failures carry an error code for the error document written under the
//! ErrorOutputPrefix: [`METADATA_EXTRACTION_FAILED`] is AWS's; the decompression and CloudWatch
//! Logs codes are tarn's (AWS does not document them), in AWS's `Component.Reason` style.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;

use base64::Engine as _;
use jaq_core::data::JustLut;
use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars};
use jaq_json::{Num, Val};

/// Error code of a record whose partition keys could not be extracted (AWS's code).
pub const METADATA_EXTRACTION_FAILED: &str = "DynamicPartitioning.MetadataExtractionFailed";
/// Error code of a record that `Decompression` could not gunzip (tarn's code).
pub const DECOMPRESSION_FAILED: &str = "Decompression.MalformedData";
/// Error code of a decompressed record that is not a CloudWatch Logs envelope (tarn's code).
pub const CLOUDWATCH_LOGS_PROCESSING_FAILED: &str = "CloudWatchLogProcessing.MalformedData";

/// Most sub-records `RecordDeAggregation` makes of one record (AWS's cap).
pub const MAX_SUB_RECORDS: usize = 500;
/// Most bytes one record may decompress to; beyond, the record fails (a gzip bomb guard).
pub const MAX_DECOMPRESSED_BYTES: u64 = 64 << 20;
/// Longest processor parameter value (AWS: `ProcessorParameter.ParameterValue`).
const MAX_PARAMETER_VALUE_CHARS: usize = 5120;

/// The processor types of AWS's `ProcessorType` enum.
const PROCESSOR_TYPES: [&str; 6] = [
    "RecordDeAggregation",
    "Decompression",
    "CloudWatchLogProcessing",
    "Lambda",
    "MetadataExtraction",
    "AppendDelimiterToRecord",
];

/// The parameter names of AWS's `ProcessorParameterName` enum.
const PARAMETER_NAMES: [&str; 11] = [
    "LambdaArn",
    "NumberOfRetries",
    "MetadataExtractionQuery",
    "JsonParsingEngine",
    "RoleArn",
    "BufferSizeInMBs",
    "BufferIntervalInSeconds",
    "SubRecordType",
    "Delimiter",
    "CompressionFormat",
    "DataMessageExtraction",
];

/// The parameters each processor type takes.
fn parameters_of(kind: &str) -> &'static [&'static str] {
    match kind {
        "RecordDeAggregation" => &["SubRecordType", "Delimiter"],
        "Decompression" => &["CompressionFormat"],
        "CloudWatchLogProcessing" => &["DataMessageExtraction"],
        "Lambda" => &["LambdaArn", "NumberOfRetries", "RoleArn", "BufferSizeInMBs", "BufferIntervalInSeconds"],
        "MetadataExtraction" => &["MetadataExtractionQuery", "JsonParsingEngine"],
        "AppendDelimiterToRecord" => &["Delimiter"],
        _ => &[],
    }
}

/// An invalid processing configuration; becomes an `InvalidArgumentException`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Why one record could not be processed: the `errorCode` and `errorMessage` of its error
/// document.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordFailure {
    pub code: &'static str,
    pub message: String,
}

impl RecordFailure {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        RecordFailure { code, message: message.into() }
    }

    fn extraction(message: impl Into<String>) -> Self {
        RecordFailure::new(METADATA_EXTRACTION_FAILED, message)
    }

    /// The `!{firehose:error-output-type}` of the failed record's error object:
    /// `metadata-extraction-failed` and `decompression-failed` as AWS names them,
    /// `processing-failed` otherwise.
    pub fn error_output_type(&self) -> &'static str {
        match self.code {
            METADATA_EXTRACTION_FAILED => "metadata-extraction-failed",
            DECOMPRESSION_FAILED => "decompression-failed",
            _ => "processing-failed",
        }
    }
}

impl fmt::Display for RecordFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// One processor as configured (`Type` + `Parameters` name/value pairs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessorConfig {
    pub kind: String,
    pub parameters: Vec<(String, String)>,
}

impl ProcessorConfig {
    pub fn new(kind: impl Into<String>, parameters: &[(&str, &str)]) -> Self {
        ProcessorConfig {
            kind: kind.into(),
            parameters: parameters.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
        }
    }
}

/// How `RecordDeAggregation` splits a record.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SubRecords {
    /// Consecutive JSON objects, with or without whitespace between them.
    Json,
    /// Pieces between occurrences of the (decoded) delimiter.
    Delimited(Vec<u8>),
}

type JqFilter = jaq_core::Filter<JustLut<Val>>;

/// A compiled `MetadataExtractionQuery`.
struct Query {
    text: String,
    eval: Eval,
}

/// How a query is evaluated.
enum Eval {
    /// The whole program, whose result must be an object.
    Whole(JqFilter),
    /// An object literal `{k1: f1, ..., kn: fn}` (the usual shape of a partitioning query): each
    /// value filter is run on its own, sparing the construction and merging of objects. Same
    /// results as the whole program: one key's filter with no or several results would have made
    /// the object construction yield none or several objects.
    Fields(Vec<(String, Field)>),
}

/// What a record becomes: output records, each with its partition keys.
pub type Processed = Vec<(Vec<u8>, BTreeMap<String, String>)>;

/// The compiled pipeline of one delivery stream's destination.
pub struct Pipeline {
    enabled: bool,
    decompress: bool,
    extract_messages: bool,
    deaggregation: Option<SubRecords>,
    query: Option<Query>,
    delimiter: Option<Vec<u8>>,
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("enabled", &self.enabled)
            .field("decompress", &self.decompress)
            .field("extract_messages", &self.extract_messages)
            .field("deaggregation", &self.deaggregation)
            .field("query", &self.query.as_ref().map(|q| &q.text))
            .field("delimiter", &self.delimiter)
            .finish()
    }
}

/// The validated parameters of one processor.
struct Params<'a> {
    kind: &'a str,
    values: Vec<(&'a str, &'a str)>,
}

impl<'a> Params<'a> {
    fn validate(p: &'a ProcessorConfig) -> Result<Self, ConfigError> {
        let kind = p.kind.as_str();
        let allowed = parameters_of(kind);
        let mut values: Vec<(&str, &str)> = Vec::with_capacity(p.parameters.len());
        for (name, value) in &p.parameters {
            if !PARAMETER_NAMES.contains(&name.as_str()) {
                return Err(ConfigError(format!(
                    "Processor parameter name '{name}' is not valid; valid names: {}",
                    PARAMETER_NAMES.join(", ")
                )));
            }
            if !allowed.contains(&name.as_str()) {
                return Err(ConfigError(format!(
                    "Processor parameter {name} is not valid for processor type {kind}; \
                     valid parameters: {}",
                    allowed.join(", ")
                )));
            }
            if values.iter().any(|(n, _)| n == name) {
                return Err(ConfigError(format!(
                    "Processor parameter {name} is specified more than once for processor type \
                     {kind}"
                )));
            }
            if value.trim().is_empty() {
                return Err(ConfigError(format!(
                    "Processor parameter {name} of processor type {kind} must not be empty"
                )));
            }
            if value.chars().count() > MAX_PARAMETER_VALUE_CHARS {
                return Err(ConfigError(format!(
                    "Processor parameter {name} of processor type {kind} is longer than \
                     {MAX_PARAMETER_VALUE_CHARS} characters"
                )));
            }
            values.push((name.as_str(), value.as_str()));
        }
        Ok(Params { kind, values })
    }

    fn get(&self, name: &str) -> Option<&'a str> {
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    fn required(&self, name: &str) -> Result<&'a str, ConfigError> {
        self.get(name).ok_or_else(|| {
            ConfigError(format!("Processor parameter {name} is required for processor type {}", self.kind))
        })
    }
}

/// Decodes a base64-encoded `Delimiter` parameter.
fn decode_delimiter(kind: &str, value: &str) -> Result<Vec<u8>, ConfigError> {
    let bad = || {
        ConfigError(format!(
            "Processor parameter Delimiter of processor type {kind} must be a base64-encoded \
             string (for example IyMjIw== for ####), got '{value}'"
        ))
    };
    let bytes = base64::engine::general_purpose::STANDARD.decode(value.trim()).map_err(|_| bad())?;
    if bytes.is_empty() {
        return Err(bad());
    }
    Ok(bytes)
}

fn parse_bool(kind: &str, name: &str, value: &str) -> Result<bool, ConfigError> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(ConfigError(format!(
            "Processor parameter {name} of processor type {kind} must be true or false, got \
             '{value}'"
        )))
    }
}

/// Definitions placed before jaq's standard library: they replace the native filters that
/// would reach outside the record (the server's environment, its stderr) with inert ones.
const SANDBOX_DEFS: &str = "def env: {}; def debug_empty: empty; def stderr_empty: empty;";
/// Native filters dropped in favour of [`SANDBOX_DEFS`].
const SANDBOXED_NATIVES: [&str; 3] = ["env", "debug_empty", "stderr_empty"];

/// Compiles a jq program with jq's (jaq's) standard library.
fn compile_jq(text: &str) -> Result<JqFilter, String> {
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
fn object_literal_entries(text: &str) -> Option<Vec<(String, &str)>> {
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
    fn compile(text: &str) -> Result<Query, ConfigError> {
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
    fn extract(&self, record: &[u8]) -> Result<BTreeMap<String, String>, RecordFailure> {
        let input = parse_json(record).ok_or_else(|| RecordFailure::extraction("Non JSON record provided"))?;
        self.extract_value(input)
    }

    /// Runs the query on one parsed record: its partition keys.
    fn extract_value(&self, input: Val) -> Result<BTreeMap<String, String>, RecordFailure> {
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
enum Field {
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
enum TimeItem {
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
fn plain_path(text: &str) -> Option<Vec<String>> {
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
fn path_strftime(text: &str) -> Option<(Vec<String>, Vec<TimeItem>)> {
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
    fn compile(text: &str) -> Option<Field> {
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
    fn render(&self, key: &str, input: &Val) -> Result<String, RecordFailure> {
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
fn parse_json(data: &[u8]) -> Option<Val> {
    let mut de = serde_json::Deserializer::from_slice(data);
    let value = serde::de::DeserializeSeed::deserialize(ValSeed, &mut de).ok()?;
    de.end().ok()?;
    Some(value)
}

/// A jq value read with serde.
struct JsonVal(Val);

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

/// Splits `data` into consecutive JSON objects, each with its parsed form `T`; `None` when it
/// is not such a sequence or has more than [`MAX_SUB_RECORDS`] of them.
fn split_json<T: serde::de::DeserializeOwned>(data: &[u8]) -> Option<Vec<(&[u8], T)>> {
    let mut stream = serde_json::Deserializer::from_slice(data).into_iter::<T>();
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(skip) = data[at..].iter().position(|b| !b" \t\r\n".contains(b)) {
        let start = at + skip;
        if data[start] != b'{' || out.len() == MAX_SUB_RECORDS {
            return None;
        }
        let value = stream.next()?.ok()?;
        at = stream.byte_offset();
        out.push((&data[start..at], value));
    }
    if out.is_empty() { None } else { Some(out) }
}

/// Splits `data` on `delimiter`, leaving out empty pieces; `None` when there are more than
/// [`MAX_SUB_RECORDS`] pieces.
fn split_delimited<'a>(data: &'a [u8], delimiter: &[u8]) -> Option<Vec<&'a [u8]>> {
    let mut out = Vec::new();
    let mut push = |piece: &'a [u8]| {
        if piece.is_empty() {
            return true;
        }
        out.push(piece);
        out.len() <= MAX_SUB_RECORDS
    };
    let (first, rest) = (delimiter[0], &delimiter[1..]);
    let mut start = 0;
    let mut i = 0;
    while i + delimiter.len() <= data.len() {
        if data[i] == first && data[i + 1..i + delimiter.len()] == *rest {
            if !push(&data[start..i]) {
                return None;
            }
            i += delimiter.len();
            start = i;
        } else {
            i += 1;
        }
    }
    if !push(&data[start..]) {
        return None;
    }
    Some(out)
}

fn gunzip(data: &[u8]) -> Result<Vec<u8>, RecordFailure> {
    let mut out = Vec::with_capacity(data.len().saturating_mul(4).min(1 << 20));
    flate2::read::MultiGzDecoder::new(data).take(MAX_DECOMPRESSED_BYTES + 1).read_to_end(&mut out).map_err(|e| {
        RecordFailure::new(DECOMPRESSION_FAILED, format!("Unable to decompress the record as GZIP: {e}"))
    })?;
    if out.len() as u64 > MAX_DECOMPRESSED_BYTES {
        return Err(RecordFailure::new(
            DECOMPRESSION_FAILED,
            format!("The record decompresses to more than {MAX_DECOMPRESSED_BYTES} bytes"),
        ));
    }
    Ok(out)
}

#[derive(serde::Deserialize)]
struct CloudWatchLogsEnvelope {
    #[serde(rename = "messageType")]
    message_type: String,
    #[serde(rename = "logEvents", default)]
    log_events: Vec<CloudWatchLogEvent>,
}

#[derive(serde::Deserialize)]
struct CloudWatchLogEvent {
    message: String,
}

/// The messages of a CloudWatch Logs subscription envelope, one per line; `None` for a control
/// message or an envelope without log events.
fn cloudwatch_messages(data: &[u8]) -> Result<Option<Vec<u8>>, RecordFailure> {
    let envelope: CloudWatchLogsEnvelope = serde_json::from_slice(data).map_err(|e| {
        RecordFailure::new(
            CLOUDWATCH_LOGS_PROCESSING_FAILED,
            format!("The record is not a CloudWatch Logs subscription message: {e}"),
        )
    })?;
    match envelope.message_type.as_str() {
        "DATA_MESSAGE" => {}
        "CONTROL_MESSAGE" => return Ok(None),
        other => {
            return Err(RecordFailure::new(
                CLOUDWATCH_LOGS_PROCESSING_FAILED,
                format!("Unknown CloudWatch Logs messageType '{other}'"),
            ));
        }
    }
    if envelope.log_events.is_empty() {
        return Ok(None);
    }
    let len = envelope.log_events.iter().map(|e| e.message.len() + 1).sum();
    let mut out = Vec::with_capacity(len);
    for (i, event) in envelope.log_events.iter().enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        out.extend_from_slice(event.message.as_bytes());
    }
    Ok(Some(out))
}

impl Pipeline {
    /// Validates and compiles: unknown types or parameters, parameters of another type,
    /// duplicates, blank values, missing required parameters, a bad jq program, Lambda ->
    /// [`ConfigError`]. `enabled` = `ProcessingConfiguration.Enabled`; a disabled configuration
    /// is still validated (Lambda is then accepted, since it is never invoked) but
    /// [`Pipeline::apply`] passes records through and no delimiter is appended.
    pub fn new(enabled: bool, processors: &[ProcessorConfig]) -> Result<Self, ConfigError> {
        let mut pipeline = Pipeline {
            enabled,
            decompress: false,
            extract_messages: false,
            deaggregation: None,
            query: None,
            delimiter: None,
        };
        let mut seen: Vec<&str> = Vec::new();
        let mut cloudwatch = false;
        for p in processors {
            let kind = p.kind.as_str();
            if !PROCESSOR_TYPES.contains(&kind) {
                return Err(ConfigError(format!(
                    "Processor type '{kind}' is not valid; valid types: {}",
                    PROCESSOR_TYPES.join(", ")
                )));
            }
            if seen.contains(&kind) {
                return Err(ConfigError(format!("Processor type {kind} is specified more than once")));
            }
            seen.push(kind);
            let params = Params::validate(p)?;
            match kind {
                "Lambda" => {
                    params.required("LambdaArn")?;
                    if enabled {
                        return Err(ConfigError(
                            "Processor type Lambda is not supported: tarn has no Lambda to invoke; \
                             remove the Lambda processor or disable the processing configuration"
                                .into(),
                        ));
                    }
                }
                "Decompression" => {
                    let format = params.get("CompressionFormat").unwrap_or("GZIP");
                    if format != "GZIP" {
                        return Err(ConfigError(format!(
                            "Processor parameter CompressionFormat of processor type Decompression \
                             must be GZIP, got '{format}'"
                        )));
                    }
                    pipeline.decompress = true;
                }
                "CloudWatchLogProcessing" => {
                    let value = params.required("DataMessageExtraction")?;
                    pipeline.extract_messages = parse_bool(kind, "DataMessageExtraction", value)?;
                    cloudwatch = true;
                }
                "RecordDeAggregation" => {
                    pipeline.deaggregation = Some(match params.required("SubRecordType")? {
                        "JSON" => SubRecords::Json,
                        "DELIMITED" => {
                            let delimiter = params.get("Delimiter").ok_or_else(|| {
                                ConfigError(
                                    "Processor parameter Delimiter is required for processor type \
                                     RecordDeAggregation when SubRecordType is DELIMITED"
                                        .into(),
                                )
                            })?;
                            SubRecords::Delimited(decode_delimiter(kind, delimiter)?)
                        }
                        other => {
                            return Err(ConfigError(format!(
                                "Processor parameter SubRecordType of processor type \
                                 RecordDeAggregation must be JSON or DELIMITED, got '{other}'"
                            )));
                        }
                    });
                }
                "MetadataExtraction" => {
                    let engine = params.get("JsonParsingEngine").unwrap_or("JQ-1.6");
                    if engine != "JQ-1.6" {
                        return Err(ConfigError(format!(
                            "Processor parameter JsonParsingEngine of processor type \
                             MetadataExtraction must be JQ-1.6, got '{engine}'"
                        )));
                    }
                    pipeline.query = Some(Query::compile(params.required("MetadataExtractionQuery")?)?);
                }
                "AppendDelimiterToRecord" => {
                    pipeline.delimiter = Some(match params.get("Delimiter") {
                        Some(value) => decode_delimiter(kind, value)?,
                        None => b"\n".to_vec(),
                    });
                }
                _ => unreachable!("processor types are checked above"),
            }
        }
        if cloudwatch && !pipeline.decompress {
            return Err(ConfigError(
                "Processor type CloudWatchLogProcessing requires a Decompression processor".into(),
            ));
        }
        Ok(pipeline)
    }

    /// Whether records get partition keys (an enabled `MetadataExtraction`).
    pub fn extracts_keys(&self) -> bool {
        self.enabled && self.query.is_some()
    }

    /// The partition keys every record gets, when the query says so statically (an object
    /// literal with constant keys, the usual shape); `None` without `MetadataExtraction` or when
    /// only running the query tells.
    pub fn partition_key_names(&self) -> Option<Vec<String>> {
        match &self.query.as_ref()?.eval {
            Eval::Fields(fields) => {
                let mut names: Vec<String> = fields.iter().map(|(k, _)| k.clone()).collect();
                names.sort();
                names.dedup();
                Some(names)
            }
            Eval::Whole(_) => None,
        }
    }

    /// The `MetadataExtractionQuery` (also when processing is disabled).
    pub fn query(&self) -> Option<&str> {
        self.query.as_ref().map(|q| q.text.as_str())
    }

    /// Whether [`Pipeline::apply`] would hand every record back unchanged, with no keys (the
    /// delivery task then skips it and its copy).
    #[must_use]
    pub fn passes_through(&self) -> bool {
        !self.enabled
            || (!self.decompress && !self.extract_messages && self.deaggregation.is_none() && self.query.is_none())
    }

    /// Applies everything but the delimiter to one incoming record: 0..n output records, each
    /// with its partition keys (empty without `MetadataExtraction`), or a failure for the whole
    /// record (a sub-record that fails fails the record it came from).
    pub fn apply(&self, record: &[u8]) -> Result<Processed, RecordFailure> {
        if !self.enabled {
            return Ok(vec![(record.to_vec(), BTreeMap::new())]);
        }
        let decompressed;
        let mut data = record;
        if self.decompress {
            decompressed = gunzip(data)?;
            data = &decompressed;
        }
        let messages;
        if self.extract_messages {
            match cloudwatch_messages(data)? {
                Some(m) => {
                    messages = m;
                    data = &messages;
                }
                None => return Ok(Vec::new()),
            }
        }
        let keys = |piece: &[u8]| match &self.query {
            Some(q) => q.extract(piece),
            None => Ok(BTreeMap::new()),
        };
        let whole = |data: &[u8]| Ok(vec![(data.to_vec(), keys(data)?)]);
        match (&self.deaggregation, &self.query) {
            (None, _) => whole(data),
            (Some(SubRecords::Json), Some(q)) => match split_json::<JsonVal>(data) {
                // parsed once, for the split and the query
                Some(pieces) => pieces.into_iter().map(|(p, v)| Ok((p.to_vec(), q.extract_value(v.0)?))).collect(),
                None => whole(data),
            },
            (Some(SubRecords::Json), None) => match split_json::<serde::de::IgnoredAny>(data) {
                Some(pieces) => Ok(pieces.into_iter().map(|(p, _)| (p.to_vec(), BTreeMap::new())).collect()),
                None => whole(data),
            },
            (Some(SubRecords::Delimited(delimiter)), _) => match split_delimited(data, delimiter) {
                Some(pieces) => pieces.into_iter().map(|p| Ok((p.to_vec(), keys(p)?))).collect(),
                None => whole(data),
            },
        }
    }

    /// The delimiter to append after each record when writing, if `AppendDelimiterToRecord` is
    /// on.
    pub fn delimiter(&self) -> Option<&[u8]> {
        if self.enabled { self.delimiter.as_deref() } else { None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn extraction(query: &str) -> Pipeline {
        Pipeline::new(
            true,
            &[ProcessorConfig::new(
                "MetadataExtraction",
                &[("MetadataExtractionQuery", query), ("JsonParsingEngine", "JQ-1.6")],
            )],
        )
        .unwrap()
    }

    fn keys(p: &Pipeline, record: &str) -> Result<Vec<(String, String)>, RecordFailure> {
        let out = p.apply(record.as_bytes())?;
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, record.as_bytes());
        Ok(out[0].1.clone().into_iter().collect())
    }

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn config_error(enabled: bool, processors: &[ProcessorConfig]) -> String {
        Pipeline::new(enabled, processors).unwrap_err().0
    }

    fn records(out: Vec<(Vec<u8>, BTreeMap<String, String>)>) -> Vec<String> {
        out.into_iter().map(|(r, _)| String::from_utf8(r).unwrap()).collect()
    }

    #[test]
    fn pipeline_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Pipeline>();
    }

    #[test]
    fn extracts_nested_fields_and_time() {
        let p = extraction(
            r#"{customer_id: .customer_id, device: .type.device, year: .ts | strftime("%Y"), hour: .ts | strftime("%H")}"#,
        );
        assert!(p.extracts_keys());
        let record = r#"{"type":{"device":"mobile"},"customer_id":"1234567890","ts":1565382027}"#;
        assert_eq!(
            keys(&p, record).unwrap(),
            kv(&[("customer_id", "1234567890"), ("device", "mobile"), ("hour", "20"), ("year", "2019")])
        );
    }

    #[test]
    fn numbers_and_booleans_are_rendered_as_json_text() {
        let p = extraction("{n: .n, f: .f, b: .b, d: .f * 2, big: .big, e: .e, neg: .neg}");
        let record = r#"{"n":42,"f":1.5,"b":true,"big":123456789012345678901234567890,"e":1e3,"neg":-0.25}"#;
        assert_eq!(
            keys(&p, record).unwrap(),
            kv(&[
                ("b", "true"),
                ("big", "123456789012345680000000000000"),
                ("d", "3"),
                ("e", "1000"),
                ("f", "1.5"),
                ("n", "42"),
                ("neg", "-0.25"),
            ])
        );
        let p = extraction("{ok: (.x > 1), flag: .flag}");
        assert_eq!(keys(&p, r#"{"x":2,"flag":false}"#).unwrap(), kv(&[("flag", "false"), ("ok", "true")]));
        // jq 1.6 prints numbers as doubles
        let p = extraction("{v: .v}");
        for (v, want) in [
            ("0", "0"),
            ("-7", "-7"),
            ("0.1", "0.1"),
            ("0.0001", "0.0001"),
            ("0.00001", "1e-05"),
            ("1.5e300", "1.5e+300"),
            ("1e15", "1000000000000000"),
            ("1e16", "1e+16"),
            ("12345678901234567", "12345678901234568"),
            ("12345678901234567890", "12345678901234567000"),
            ("1565382027", "1565382027"),
            ("1565382027.25", "1565382027.25"),
        ] {
            assert_eq!(keys(&p, &format!(r#"{{"v":{v}}}"#)).unwrap(), kv(&[("v", want)]), "{v}");
        }
        let p = extraction("{inf: infinite, ninf: -infinite, lit: 2.50}");
        assert_eq!(
            keys(&p, "{}").unwrap(),
            kv(&[("inf", "1.7976931348623157e+308"), ("lit", "2.5"), ("ninf", "-1.7976931348623157e+308")])
        );
    }

    #[test]
    fn std_functions_work() {
        let p = extraction(
            r#"{y: (.ts | split("-")[0]), up: (.name | ascii_upcase), len: (.tags | length), sum: (.a + .b), j: (.tags | join("_")), t: (.name | test("^b"))}"#,
        );
        let record = r#"{"ts":"2024-05-06T07:08:09Z","name":"bob","tags":["x","y"],"a":2,"b":3}"#;
        assert_eq!(
            keys(&p, record).unwrap(),
            kv(&[("j", "x_y"), ("len", "2"), ("sum", "5"), ("t", "true"), ("up", "BOB"), ("y", "2024")])
        );
        let p =
            extraction(r#"{d: (.ts | fromdateiso8601 | strftime("%Y/%m/%d")), m: (.ms / 1000 | floor | tostring)}"#);
        assert_eq!(
            keys(&p, r#"{"ts":"2024-05-06T07:08:09Z","ms":1700000000123}"#).unwrap(),
            kv(&[("d", "2024/05/06"), ("m", "1700000000")])
        );
    }

    #[test]
    fn extraction_failures() {
        let p = extraction("{customer_id: .customer_id}");
        let fail = |record: &str| {
            let e = p.apply(record.as_bytes()).unwrap_err();
            assert_eq!(e.code, METADATA_EXTRACTION_FAILED);
            e.message
        };
        assert_eq!(fail("not json"), "Non JSON record provided");
        assert_eq!(p.apply(b"x").unwrap_err().error_output_type(), "metadata-extraction-failed");
        assert_eq!(fail(r#"{"a":1}{"a":2}"#), "Non JSON record provided");
        assert_eq!(fail(""), "Non JSON record provided");
        // nesting is bounded: a hostile record cannot exhaust the stack
        assert_eq!(fail(&format!("{}{}", "[".repeat(100_000), "]".repeat(100_000))), "Non JSON record provided");
        assert!(fail(r#"{"other":1}"#).contains("null"), "missing key -> null");
        assert!(fail(r#"{"customer_id":{"x":1}}"#).contains("an object"));
        assert!(fail(r#"{"customer_id":[1]}"#).contains("an array"));
        assert!(fail(r#"[1,2]"#).contains("jq query failed"), "indexing an array with a key");
        // trailing whitespace after the object is fine
        assert_eq!(keys(&p, "{\"customer_id\":\"a\"}\n").unwrap(), kv(&[("customer_id", "a")]));

        let non_object = extraction(".customer_id");
        let e = non_object.apply(br#"{"customer_id":"a"}"#).unwrap_err();
        assert!(e.message.contains("must produce an object"), "{e}");
        let none = extraction("empty");
        assert!(none.apply(b"{}").unwrap_err().message.contains("no result"));
        let many = extraction("{a: .a}, {a: .a}");
        assert!(many.apply(br#"{"a":1}"#).unwrap_err().message.contains("more than one"));
        let errors = extraction(r#"{a: error("boom")}"#);
        assert!(errors.apply(b"{}").unwrap_err().message.contains("boom"));
        let halts = extraction("halt");
        assert_eq!(halts.apply(b"{}").unwrap_err().message, "jq query halted");
        let nan = extraction("{a: nan}");
        assert!(nan.apply(b"{}").unwrap_err().message.contains("NaN"));
    }

    #[test]
    fn object_literal_fast_path() {
        let entries = |q: &str| {
            object_literal_entries(q).map(|e| e.into_iter().map(|(k, v)| (k, v.to_string())).collect::<Vec<_>>())
        };
        assert_eq!(
            entries(
                r#"{customer_id: .customer_id, "the year": .ts | strftime("%Y"), "a\tb": [.x, .y] | join(","), if: 1}"#
            ),
            Some(vec![
                ("customer_id".into(), ".customer_id".into()),
                ("the year".into(), r#".ts | strftime("%Y")"#.into()),
                ("a\tb".into(), r#"[.x, .y] | join(",")"#.into()),
                ("if".into(), "1".into()),
            ])
        );
        assert_eq!(entries(" { } "), Some(vec![]));
        for other in [
            "{(.k): .v}",
            r#"{"\(.k)": .v}"#,
            "{a}",
            "{$__loc__}",
            "{a: .a} | .",
            "{a: .a} + {b: .b}",
            "def f: .a; {a: f}",
            ".",
            "[.a]",
            "{a: .a,}",
        ] {
            assert_eq!(entries(other), None, "{other}");
        }

        // both ways of evaluating give the same keys and the same failures
        let queries = [
            "{a: .a, b: .b.c, n: (.n + 1), s: (.s | ascii_downcase)}",
            "{a: .a, b: .missing}",
            "{a: .a, many: (.n, .n)}",
            "{a: .a, none: empty}",
            "{a: .a, bad: (.s | error)}",
            r#"{"x y": .a, a: .b}"#,
            "{a: .a, a: .n}",
            "{}",
        ];
        let records = [r#"{"a":"A","b":{"c":true},"n":1.5,"s":"MiXeD"}"#, r#"{"a":1}"#, "[]", "null"];
        for q in queries {
            let fast = Query::compile(q).unwrap();
            assert!(matches!(fast.eval, Eval::Fields(_)), "{q}");
            let whole = Query { text: q.into(), eval: Eval::Whole(compile_jq(q).unwrap()) };
            for r in records {
                let (f, w) = (fast.extract(r.as_bytes()), whole.extract(r.as_bytes()));
                match (&f, &w) {
                    (Ok(_), Ok(_)) => assert_eq!(f, w, "{q} on {r}"),
                    (Err(a), Err(b)) => assert_eq!(a.code, b.code, "{q} on {r}"),
                    _ => panic!("{q} on {r}: {f:?} vs {w:?}"),
                }
            }
        }
        let p = extraction("{a: .a, b: .b}");
        assert_eq!(p.partition_key_names(), Some(vec!["a".to_string(), "b".to_string()]));
        assert!(p.apply(br#"{"a":"x"}"#).unwrap_err().message.contains("partition key b is null"));
        assert_eq!(extraction("{a: .a} + {b: .b}").partition_key_names(), None);
        assert_eq!(Pipeline::new(true, &[]).unwrap().partition_key_names(), None);
        let p = extraction("{a: .a, n: (.n, .n)}");
        assert!(p.apply(br#"{"a":"x","n":1}"#).unwrap_err().message.contains("more than one result"));
    }

    #[test]
    fn strftime_fast_path_matches_jq() {
        assert_eq!(plain_path(" .a.b_2 "), Some(vec!["a".into(), "b_2".into()]));
        for not_plain in [".", ".a.", ".a[0]", ".\"a\"", "..", ".a | .b", "a", ".a?", ".2x"] {
            assert_eq!(plain_path(not_plain), None, "{not_plain}");
        }
        assert_eq!(
            path_strftime(r#".event.ts|strftime("%Y/%m/%d %H:%M:%S %j %y 100%%")"#).map(|(p, f)| (p, f.len())),
            Some((vec!["event".into(), "ts".into()], 16))
        );
        assert!(path_strftime(r#".ts | strftime("%A")"#).is_none(), "unknown specifier: jq formats it");
        assert!(path_strftime(r#".ts | strftime(.fmt)"#).is_none());
        assert!(path_strftime(r#".ts | todate | strftime("%Y")"#).is_none());

        let formats = [
            "%Y",
            "%m",
            "%d",
            "%H",
            "%M",
            "%S",
            "%j",
            "%y",
            "year=%Y/month=%m/day=%d/hour=%H",
            "%Y-%m-%dT%H:%M:%SZ %%",
        ];
        let values = [
            "0",
            "1565382027",
            "1565382027.999",
            "951782400",
            "4102444799",
            "253402300799",
            "253402300800",
            "-1",
            "-86400.5",
            "\"2019-08-09\"",
            "null",
            "[2019,7,9,20,20,27,5,220]",
            "true",
        ];
        for format in formats {
            let text = format!(r#".ts | strftime("{format}")"#);
            let fast = Field::compile(&text).unwrap();
            assert!(matches!(fast, Field::Strftime { .. }), "{text}");
            let jq = Field::Jq(compile_jq(&text).unwrap());
            for v in values {
                let input = parse_json(format!(r#"{{"ts":{v}}}"#).as_bytes()).unwrap();
                let (a, b) = (fast.render("k", &input), jq.render("k", &input));
                assert_eq!(a, b, "{text} on {v}");
            }
        }
        let p = extraction(
            r#"{year: .ts | strftime("%Y"), month: .ts|strftime("%m"), day: .ts | strftime("%d"), hour: .ts | strftime("%H")}"#,
        );
        assert_eq!(
            keys(&p, r#"{"ts":1565382027}"#).unwrap(),
            kv(&[("day", "09"), ("hour", "20"), ("month", "08"), ("year", "2019")])
        );
    }

    #[test]
    fn query_is_sandboxed() {
        let p = extraction("{n: (env | length), d: (1 | debug | tostring), s: (2 | stderr | tostring)}");
        assert_eq!(keys(&p, "{}").unwrap(), kv(&[("d", "1"), ("n", "0"), ("s", "2")]));
        let e = config_error(
            true,
            &[ProcessorConfig::new("MetadataExtraction", &[("MetadataExtractionQuery", "{a: $ENV.HOME}")])],
        );
        assert!(e.contains("undefined variable"), "{e}");
        let e = config_error(
            true,
            &[ProcessorConfig::new(
                "MetadataExtraction",
                &[("MetadataExtractionQuery", r#"include "/etc/passwd"; {a: 1}"#)],
            )],
        );
        assert!(e.contains("Invalid MetadataExtractionQuery"), "{e}");
    }

    #[test]
    fn config_errors() {
        let meta = |query: &str, engine: &str| {
            ProcessorConfig::new(
                "MetadataExtraction",
                &[("MetadataExtractionQuery", query), ("JsonParsingEngine", engine)],
            )
        };
        let e = config_error(true, &[meta("{a: .a", "JQ-1.6")]);
        assert!(e.starts_with("Invalid MetadataExtractionQuery '{a: .a'"), "{e}");
        let e = config_error(true, &[meta("{a: nosuchfunction}", "JQ-1.6")]);
        assert!(e.contains("undefined filter nosuchfunction"), "{e}");
        let e = config_error(true, &[meta("{a: .a}", "JQ-1.5")]);
        assert!(e.contains("must be JQ-1.6"), "{e}");
        let e = config_error(true, &[ProcessorConfig::new("MetadataExtraction", &[])]);
        assert!(e.contains("MetadataExtractionQuery is required"), "{e}");
        let e = config_error(true, &[meta("  ", "JQ-1.6")]);
        assert!(e.contains("must not be empty"), "{e}");

        let lambda = ProcessorConfig::new(
            "Lambda",
            &[("LambdaArn", "arn:aws:lambda:us-east-1:123456789012:function:f"), ("NumberOfRetries", "3")],
        );
        let e = config_error(true, std::slice::from_ref(&lambda));
        assert!(e.contains("Lambda is not supported"), "{e}");
        // a disabled configuration never invokes it
        let p = Pipeline::new(false, &[lambda]).unwrap();
        assert_eq!(p.apply(b"x").unwrap(), vec![(b"x".to_vec(), BTreeMap::new())]);

        let e = config_error(true, &[ProcessorConfig::new("Uppercase", &[])]);
        assert!(e.contains("Processor type 'Uppercase' is not valid"), "{e}");
        let e = config_error(true, &[ProcessorConfig::new("AppendDelimiterToRecord", &[("Separator", "Cg==")])]);
        assert!(e.contains("name 'Separator' is not valid"), "{e}");
        let e = config_error(true, &[ProcessorConfig::new("AppendDelimiterToRecord", &[("SubRecordType", "JSON")])]);
        assert!(e.contains("not valid for processor type AppendDelimiterToRecord"), "{e}");
        let e = config_error(
            true,
            &[
                ProcessorConfig::new("AppendDelimiterToRecord", &[]),
                ProcessorConfig::new("AppendDelimiterToRecord", &[]),
            ],
        );
        assert!(e.contains("more than once"), "{e}");
        let e = config_error(
            true,
            &[ProcessorConfig::new("RecordDeAggregation", &[("SubRecordType", "JSON"), ("SubRecordType", "JSON")])],
        );
        assert!(e.contains("more than once"), "{e}");
        let e = config_error(true, &[ProcessorConfig::new("RecordDeAggregation", &[("SubRecordType", "CSV")])]);
        assert!(e.contains("must be JSON or DELIMITED"), "{e}");
        let e = config_error(true, &[ProcessorConfig::new("RecordDeAggregation", &[("SubRecordType", "DELIMITED")])]);
        assert!(e.contains("Delimiter is required"), "{e}");
        let e = config_error(
            true,
            &[ProcessorConfig::new("RecordDeAggregation", &[("SubRecordType", "DELIMITED"), ("Delimiter", "##!")])],
        );
        assert!(e.contains("base64"), "{e}");
        let e = config_error(
            true,
            &[ProcessorConfig::new("CloudWatchLogProcessing", &[("DataMessageExtraction", "true")])],
        );
        assert!(e.contains("requires a Decompression processor"), "{e}");
        let e = config_error(true, &[ProcessorConfig::new("Decompression", &[("CompressionFormat", "ZIP")])]);
        assert!(e.contains("must be GZIP"), "{e}");
        // validated even when disabled
        let e = config_error(false, &[meta("{a:", "JQ-1.6")]);
        assert!(e.contains("Invalid MetadataExtractionQuery"), "{e}");
    }

    #[test]
    fn json_deaggregation() {
        let p = Pipeline::new(
            true,
            &[
                // listed after MetadataExtraction: AWS's order applies regardless
                ProcessorConfig::new("MetadataExtraction", &[("MetadataExtractionQuery", "{a: .a}")]),
                ProcessorConfig::new("RecordDeAggregation", &[("SubRecordType", "JSON")]),
            ],
        )
        .unwrap();
        let out = p.apply(b"{\"a\":1}{\"a\":2}\n{\"a\":3}\r\n \t{\"a\":\"x}{\"}\n").unwrap();
        let got: Vec<(String, String)> =
            out.into_iter().map(|(r, k)| (String::from_utf8(r).unwrap(), k["a"].clone())).collect();
        assert_eq!(
            got,
            vec![
                (r#"{"a":1}"#.into(), "1".into()),
                (r#"{"a":2}"#.into(), "2".into()),
                (r#"{"a":3}"#.into(), "3".into()),
                (r#"{"a":"x}{"}"#.into(), "x}{".into()),
            ]
        );
        // not a sequence of objects: the record continues whole and extraction fails it
        for bad in [&br#"{"a":1}{"a":"#[..], br#"{"a":1} 2"#, b"", b"  "] {
            let e = p.apply(bad).unwrap_err();
            assert_eq!(e.message, "Non JSON record provided");
        }
        // an array of objects is not split (AWS: not a valid input); `.a` fails on it
        let e = p.apply(br#"[{"a":1},{"a":2}]"#).unwrap_err();
        assert_eq!(e.code, METADATA_EXTRACTION_FAILED);
        assert!(e.message.contains("cannot index"), "{e}");
        // without extraction, deaggregation alone
        let p =
            Pipeline::new(true, &[ProcessorConfig::new("RecordDeAggregation", &[("SubRecordType", "JSON")])]).unwrap();
        assert!(!p.extracts_keys());
        assert_eq!(records(p.apply(br#"{"a":1} {"b":[2]}"#).unwrap()), [r#"{"a":1}"#, r#"{"b":[2]}"#]);
        assert_eq!(records(p.apply(b"not json").unwrap()), ["not json"]);
        // at most 500 sub-records; beyond, the record is left whole
        let many = r#"{"a":1}"#.repeat(MAX_SUB_RECORDS);
        assert_eq!(p.apply(many.as_bytes()).unwrap().len(), MAX_SUB_RECORDS);
        let too_many = r#"{"a":1}"#.repeat(MAX_SUB_RECORDS + 1);
        assert_eq!(records(p.apply(too_many.as_bytes()).unwrap()), [too_many]);
    }

    #[test]
    fn delimited_deaggregation() {
        // "IyMjIw==" is "####", AWS's example
        let p = Pipeline::new(
            true,
            &[ProcessorConfig::new(
                "RecordDeAggregation",
                &[("SubRecordType", "DELIMITED"), ("Delimiter", "IyMjIw==")],
            )],
        )
        .unwrap();
        assert_eq!(records(p.apply(b"a####b#c########d####").unwrap()), ["a", "b#c", "d"]);
        assert_eq!(records(p.apply(b"no delimiter").unwrap()), ["no delimiter"]);
        assert!(p.apply(b"####").unwrap().is_empty());
        let with_keys = Pipeline::new(
            true,
            &[
                ProcessorConfig::new("RecordDeAggregation", &[("SubRecordType", "DELIMITED"), ("Delimiter", "fA==")]),
                ProcessorConfig::new("MetadataExtraction", &[("MetadataExtractionQuery", "{k: .k}")]),
            ],
        )
        .unwrap();
        let out = with_keys.apply(br#"{"k":"x"}|{"k":"y"}"#).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].1["k"].as_str(), out[1].1["k"].as_str()), ("x", "y"));
        // one bad sub-record fails the record
        assert!(with_keys.apply(br#"{"k":"x"}|oops"#).is_err());
        let too_many = "x|".repeat(MAX_SUB_RECORDS + 1);
        let p = Pipeline::new(
            true,
            &[ProcessorConfig::new("RecordDeAggregation", &[("SubRecordType", "DELIMITED"), ("Delimiter", "fA==")])],
        )
        .unwrap();
        assert_eq!(p.apply(too_many.as_bytes()).unwrap().len(), 1);
    }

    #[test]
    fn append_delimiter() {
        let p = Pipeline::new(true, &[ProcessorConfig::new("AppendDelimiterToRecord", &[])]).unwrap();
        assert_eq!(p.delimiter(), Some(&b"\n"[..]));
        assert_eq!(records(p.apply(b"abc").unwrap()), ["abc"], "the delimiter is appended at write time");
        let p =
            Pipeline::new(true, &[ProcessorConfig::new("AppendDelimiterToRecord", &[("Delimiter", "LA==")])]).unwrap();
        assert_eq!(p.delimiter(), Some(&b","[..]));
        let p = Pipeline::new(true, &[]).unwrap();
        assert_eq!(p.delimiter(), None);
    }

    #[test]
    fn disabled_passes_records_through() {
        let processors = [
            ProcessorConfig::new("RecordDeAggregation", &[("SubRecordType", "JSON")]),
            ProcessorConfig::new("MetadataExtraction", &[("MetadataExtractionQuery", "{a: .a}")]),
            ProcessorConfig::new("AppendDelimiterToRecord", &[]),
        ];
        let p = Pipeline::new(false, &processors).unwrap();
        assert!(!p.extracts_keys());
        assert_eq!(p.delimiter(), None);
        assert_eq!(p.query(), Some("{a: .a}"));
        let record = b"{\"a\":1}{\"a\":2} not even json";
        assert_eq!(p.apply(record).unwrap(), vec![(record.to_vec(), BTreeMap::new())]);
        let p = Pipeline::new(true, &[]).unwrap();
        assert_eq!(p.apply(record).unwrap(), vec![(record.to_vec(), BTreeMap::new())]);
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn cloudwatch_logs_decompression_and_message_extraction() {
        let envelope = r#"{"messageType":"DATA_MESSAGE","owner":"111111111111","logGroup":"g","logStream":"s",
            "subscriptionFilters":["f"],"logEvents":[
            {"id":"1","timestamp":1432826855000,"message":"{\"user\":\"a\"}"},
            {"id":"2","timestamp":1432826855000,"message":"{\"user\":\"b\"}"}]}"#;
        let decompress = ProcessorConfig::new("Decompression", &[("CompressionFormat", "GZIP")]);
        let p = Pipeline::new(true, std::slice::from_ref(&decompress)).unwrap();
        assert_eq!(records(p.apply(&gzip(envelope.as_bytes())).unwrap()), [envelope]);
        let e = p.apply(b"plain").unwrap_err();
        assert_eq!(e.code, DECOMPRESSION_FAILED);
        assert_eq!(e.error_output_type(), "decompression-failed");

        let p = Pipeline::new(
            true,
            &[
                ProcessorConfig::new("MetadataExtraction", &[("MetadataExtractionQuery", "{user: .user}")]),
                ProcessorConfig::new("RecordDeAggregation", &[("SubRecordType", "JSON")]),
                ProcessorConfig::new("CloudWatchLogProcessing", &[("DataMessageExtraction", "true")]),
                decompress.clone(),
            ],
        )
        .unwrap();
        let out = p.apply(&gzip(envelope.as_bytes())).unwrap();
        let got: Vec<(String, String)> =
            out.into_iter().map(|(r, k)| (String::from_utf8(r).unwrap(), k["user"].clone())).collect();
        assert_eq!(got, vec![(r#"{"user":"a"}"#.into(), "a".into()), (r#"{"user":"b"}"#.into(), "b".into())]);
        let control = r#"{"messageType":"CONTROL_MESSAGE","logEvents":[{"id":"","timestamp":1,"message":"CWL CONTROL MESSAGE"}]}"#;
        assert!(p.apply(&gzip(control.as_bytes())).unwrap().is_empty());
        let e = p.apply(&gzip(b"{\"a\":1}")).unwrap_err();
        assert_eq!(e.code, CLOUDWATCH_LOGS_PROCESSING_FAILED);

        let extraction_only = Pipeline::new(
            true,
            &[decompress, ProcessorConfig::new("CloudWatchLogProcessing", &[("DataMessageExtraction", "true")])],
        )
        .unwrap();
        assert_eq!(
            records(extraction_only.apply(&gzip(envelope.as_bytes())).unwrap()),
            ["{\"user\":\"a\"}\n{\"user\":\"b\"}"]
        );
    }
}
