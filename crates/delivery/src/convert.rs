//! Record format conversion: JSON records (one object per Firehose record) become rows of an
//! Apache Parquet or ORC file typed by a Glue table's columns, following the OpenX JSON SerDe's
//! key matching and value coercion rules.
//!
//! `push` validates a whole record and converts it into typed values (nothing of a failing
//! record is kept); rows are buffered per column and turned into an Arrow batch every 8,192 rows
//! (or 32 MiB of input) and encoded by `parquet`'s Arrow writer (row groups cut by size) or
//! `orc-rust`'s, on a thread of the file's own while the next records are parsed.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufWriter, Write};
use std::rc::Rc;
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

use crate::json::Value;
use arrow_array::builder::{NullBufferBuilder, OffsetBufferBuilder};
use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array, Int8Array,
    Int16Array, Int32Array, Int64Array, ListArray, MapArray, RecordBatch, StringArray, StructArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{ArrowError, DataType, Field, FieldRef, Fields, Schema, SchemaRef, TimeUnit};
use parquet::arrow::{ArrowSchemaConverter, ArrowWriter};
use parquet::basic::{Compression, GzipLevel};
use parquet::file::properties::{WriterProperties, WriterVersion};

/// Error code of a record that is not JSON or not a JSON object.
pub const MALFORMED_DATA: &str = "DataFormatConversion.MalformedData";
/// Error code of a record with a value that does not convert to its column's type (including
/// numbers out of the type's range and decimals beyond their precision).
pub const TYPE_MISMATCH: &str = "DataFormatConversion.TypeMismatch";

/// Rows buffered before they become one Arrow batch.
const BATCH_ROWS: usize = 8192;
/// Input bytes buffered before the rows become a batch (keeps string offsets and memory small).
const BATCH_BYTES: usize = 32 << 20;
/// Upper bound of a Parquet row group in bytes, whatever the block size asks for.
const MAX_ROW_GROUP_BYTES: usize = 128 << 20;
/// Upper bound of a Parquet row group in rows.
const MAX_ROW_GROUP_ROWS: usize = 1 << 20;

/// The file format records are converted to.
#[derive(Clone, Debug)]
pub enum OutputFormat {
    Parquet(ParquetOptions),
    Orc(OrcOptions),
}

/// Parquet compression codecs Firehose offers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ParquetCompression {
    #[default]
    Snappy,
    Gzip,
    Uncompressed,
}

/// ORC compression codecs Firehose offers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OrcCompression {
    #[default]
    Snappy,
    Zlib,
    None,
}

/// `ParquetSerDe` settings.
#[derive(Clone, Debug, Default)]
pub struct ParquetOptions {
    pub compression: ParquetCompression,
    /// Data page size (default 1 MiB).
    pub page_size_bytes: Option<usize>,
    /// Row group size target (default 256 MiB); row groups are cut at the smaller of this,
    /// 128 MiB and a row count derived from it (at most 1 Mi rows).
    pub block_size_bytes: Option<usize>,
    pub enable_dictionary: bool,
    /// Parquet writer version 2 (data page v2) instead of 1.
    pub writer_v2: bool,
}

/// `OrcSerDe` settings.
#[derive(Clone, Debug, Default)]
pub struct OrcOptions {
    pub compression: OrcCompression,
    /// Stripe size target (default 64 MiB).
    pub stripe_size_bytes: Option<usize>,
}

/// What to convert to: the table's columns, the OpenX JSON SerDe settings and the output.
#[derive(Clone, Debug)]
pub struct ConversionSpec {
    /// `(name, glue type)` in table order.
    pub columns: Vec<(String, String)>,
    /// Match JSON keys to column (and struct field) names ignoring case.
    pub case_insensitive: bool,
    /// Column name -> the JSON key read for it.
    pub column_to_json_key: BTreeMap<String, String>,
    /// Read a JSON key `a.b` as `a_b`.
    pub dots_to_underscores: bool,
    pub output: OutputFormat,
}

/// Errors of the converter as a whole (not of one record).
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The table's columns cannot be converted to (unknown or unsupported type).
    #[error("invalid schema for format conversion: {0}")]
    Schema(String),
    /// Encoding or writing the file failed.
    #[error("writing the converted file failed: {0}")]
    Write(String),
}

/// Why one record could not be converted: an AWS-style code ([`MALFORMED_DATA`],
/// [`TYPE_MISMATCH`]) and a message naming the column and the value.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordError {
    pub code: &'static str,
    pub message: String,
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for RecordError {}

/// The Arrow schema the files get (column names as in the table, all nullable).
pub fn arrow_schema(spec: &ConversionSpec) -> Result<SchemaRef, ConvertError> {
    if spec.columns.is_empty() {
        return Err(ConvertError::Schema("the table has no columns".into()));
    }
    let mut fields = Vec::with_capacity(spec.columns.len());
    for (name, glue) in &spec.columns {
        if name.is_empty() {
            return Err(ConvertError::Schema("a column has an empty name".into()));
        }
        let dt = tarn_catalog::types::arrow_type(glue)
            .map_err(|e| ConvertError::Schema(format!("column {name} ({glue}): {e}")))?;
        Kind::of(&dt, false).map_err(|e| ConvertError::Schema(format!("column {name} ({glue}): {e}")))?;
        fields.push(Field::new(name.clone(), dt, true));
    }
    Ok(Arc::new(Schema::new(fields)))
}

/// Converts JSON records into one Parquet or ORC file written to `W`.
pub struct RecordWriter<W: Write + Send> {
    schema: SchemaRef,
    columns: Arc<[Kind]>,
    names: Names,
    opts: Opts,
    /// Buffered values, one vector per column.
    buffer: Vec<Vec<Val>>,
    buffered_rows: usize,
    buffered_bytes: usize,
    rows: u64,
    file: FileThread<W>,
}

impl<W: Write + Send + 'static> RecordWriter<W> {
    /// Checks the schema and starts the file.
    pub fn new(spec: &ConversionSpec, out: W) -> Result<Self, ConvertError> {
        let schema = arrow_schema(spec)?;
        let opts = Opts { case_insensitive: spec.case_insensitive, dots: spec.dots_to_underscores };
        let columns: Arc<[Kind]> = schema
            .fields()
            .iter()
            .map(|f| Kind::of(f.data_type(), opts.case_insensitive))
            .collect::<Result<Vec<_>, _>>()
            .map_err(ConvertError::Schema)?
            .into();
        let targets = spec.columns.iter().map(|(name, _)| json_key(spec, name)).collect();
        let names = Names::new(targets, opts.case_insensitive);
        match &spec.output {
            OutputFormat::Parquet(_) => {
                ArrowSchemaConverter::new()
                    .convert(&schema)
                    .map_err(|e| ConvertError::Schema(format!("no Parquet schema for the table: {e}")))?;
            }
            OutputFormat::Orc(_) => check_orc(spec, &schema)?,
        }
        let file = FileThread::start(out, schema.clone(), columns.clone(), spec.output.clone())?;
        let buffer = (0..columns.len()).map(|_| Vec::new()).collect();
        Ok(Self { schema, columns, names, opts, buffer, buffered_rows: 0, buffered_bytes: 0, rows: 0, file })
    }

    /// Validates and buffers one record; on Err nothing of the record is kept.
    pub fn push(&mut self, record: &[u8]) -> Result<(), RecordError> {
        let value = Value::parse(record)
            .map_err(|e| RecordError { code: MALFORMED_DATA, message: format!("The record is not valid JSON: {e}") })?;
        let Value::Object(object) = &value else {
            return Err(RecordError {
                code: MALFORMED_DATA,
                message: format!("The record is {}, not a JSON object", json_kind(&value)),
            });
        };
        let slots = self.names.resolve(object, self.opts);
        for (i, (kind, slot)) in self.columns.iter().zip(slots).enumerate() {
            let v = match slot {
                None => Ok(Val::Null),
                Some(v) => kind.coerce(v, self.opts),
            };
            match v {
                Ok(v) => self.buffer[i].push(v),
                Err(bad) => {
                    // take back the record's earlier columns
                    for column in &mut self.buffer[..i] {
                        column.pop();
                    }
                    return Err(bad.into_record_error(self.schema.field(i).name()));
                }
            }
        }
        self.rows += 1;
        self.buffered_rows += 1;
        self.buffered_bytes += record.len();
        if self.buffered_rows >= BATCH_ROWS || self.buffered_bytes >= BATCH_BYTES {
            self.flush_batch();
        }
        Ok(())
    }

    /// Rows accepted so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes buffered rows and the footer; returns the sink.
    pub fn finish(mut self) -> Result<W, ConvertError> {
        self.flush_batch();
        let mut out = self.file.finish()?;
        out.flush().map_err(|e| ConvertError::Write(e.to_string()))?;
        Ok(out)
    }

    /// Hands the buffered rows to the file's thread. A failure there ends the thread; `finish`
    /// reports it.
    fn flush_batch(&mut self) {
        if self.buffered_rows == 0 {
            return;
        }
        let columns = std::mem::replace(&mut self.buffer, (0..self.columns.len()).map(|_| Vec::new()).collect());
        self.buffered_rows = 0;
        self.buffered_bytes = 0;
        self.file.send(columns);
    }
}

/// Builds one Arrow batch from buffered column values.
fn build_batch(schema: &SchemaRef, kinds: &[Kind], columns: &[Vec<Val>]) -> Result<RecordBatch, ConvertError> {
    let arrays = kinds
        .iter()
        .zip(columns)
        .map(|(kind, values)| kind.build(&values.iter().collect::<Vec<_>>()))
        .collect::<Result<Vec<_>, _>>()
        .and_then(|arrays| RecordBatch::try_new(schema.clone(), arrays));
    arrays.map_err(|e| ConvertError::Write(format!("building a batch: {e}")))
}

/// The JSON key read for a column: its `column_to_json_key` entry or its name.
fn json_key(spec: &ConversionSpec, column: &str) -> String {
    if let Some(key) = spec.column_to_json_key.get(column) {
        return key.clone();
    }
    if spec.case_insensitive
        && let Some((_, key)) = spec.column_to_json_key.iter().find(|(c, _)| fold(c) == fold(column))
    {
        return key.clone();
    }
    column.to_string()
}

fn parquet_properties(p: &ParquetOptions) -> WriterProperties {
    let block = p.block_size_bytes.unwrap_or(256 << 20).max(1);
    let compression = match p.compression {
        ParquetCompression::Snappy => Compression::SNAPPY,
        ParquetCompression::Gzip => Compression::GZIP(GzipLevel::default()),
        ParquetCompression::Uncompressed => Compression::UNCOMPRESSED,
    };
    WriterProperties::builder()
        .set_compression(compression)
        .set_writer_version(if p.writer_v2 { WriterVersion::PARQUET_2_0 } else { WriterVersion::PARQUET_1_0 })
        .set_dictionary_enabled(p.enable_dictionary)
        .set_data_page_size_limit(p.page_size_bytes.unwrap_or(1 << 20).max(1))
        .set_max_row_group_bytes(Some(block.min(MAX_ROW_GROUP_BYTES)))
        // ~64 bytes a row as a guess for the row count
        .set_max_row_group_row_count(Some((block / 64).clamp(BATCH_ROWS, MAX_ROW_GROUP_ROWS)))
        .build()
}

/// orc-rust 0.9 writes only flat primitive columns (it panics on others).
fn check_orc(spec: &ConversionSpec, schema: &Schema) -> Result<(), ConvertError> {
    for (field, (_, glue)) in schema.fields().iter().zip(&spec.columns) {
        let ok = matches!(
            field.data_type(),
            DataType::Boolean
                | DataType::Int8
                | DataType::Int16
                | DataType::Int32
                | DataType::Int64
                | DataType::Float32
                | DataType::Float64
                | DataType::Utf8
                | DataType::Binary
                | DataType::Date32
                | DataType::Timestamp(_, None)
        );
        if !ok {
            return Err(ConvertError::Schema(format!(
                "column {} has type {glue}, which ORC output does not support (only boolean, tinyint, smallint, \
                 int, bigint, float, double, string, varchar, char, binary, date and timestamp); use Parquet",
                field.name()
            )));
        }
    }
    Ok(())
}

/// The file's encoder (Parquet or ORC) on a thread of its own, fed buffered columns through a
/// channel of two: it builds each batch's arrays and encodes them while the caller parses the
/// next records, so one conversion keeps two cores busy. (orc-rust's writer is not `Send`
/// either, so it is created on the thread.)
struct FileThread<W> {
    tx: Option<mpsc::SyncSender<Vec<Vec<Val>>>>,
    handle: JoinHandle<Result<W, ConvertError>>,
}

impl<W: Write + Send + 'static> FileThread<W> {
    fn start(out: W, schema: SchemaRef, kinds: Arc<[Kind]>, format: OutputFormat) -> Result<Self, ConvertError> {
        let (tx, rx) = mpsc::sync_channel::<Vec<Vec<Val>>>(2);
        let handle = std::thread::Builder::new()
            .name("tarn-file-writer".into())
            .spawn(move || match format {
                OutputFormat::Parquet(options) => {
                    let mut writer = ArrowWriter::try_new(out, schema.clone(), Some(parquet_properties(&options)))
                        .map_err(|e| ConvertError::Write(e.to_string()))?;
                    for columns in rx {
                        let batch = build_batch(&schema, &kinds, &columns)?;
                        writer.write(&batch).map_err(|e| ConvertError::Write(e.to_string()))?;
                    }
                    writer.into_inner().map_err(|e| ConvertError::Write(e.to_string()))
                }
                OutputFormat::Orc(options) => write_orc(out, &schema, &kinds, &options, rx),
            })
            .map_err(|e| ConvertError::Write(format!("cannot start the file writer thread: {e}")))?;
        Ok(Self { tx: Some(tx), handle })
    }

    /// Queues one batch's columns. A closed channel means the thread stopped on an error, which
    /// `finish` returns; later batches are dropped.
    fn send(&mut self, columns: Vec<Vec<Val>>) {
        if let Some(tx) = &self.tx
            && tx.send(columns).is_err()
        {
            self.tx = None;
        }
    }

    fn finish(mut self) -> Result<W, ConvertError> {
        self.tx = None;
        self.handle.join().map_err(|_| ConvertError::Write("the file writer panicked".into()))?
    }
}

fn write_orc<W: Write>(
    out: W,
    schema: &SchemaRef,
    kinds: &[Kind],
    options: &OrcOptions,
    rx: mpsc::Receiver<Vec<Vec<Val>>>,
) -> Result<W, ConvertError> {
    let orc_err = |e: orc_rust::error::OrcError| ConvertError::Write(format!("ORC: {e}"));
    let compression = match options.compression {
        OrcCompression::Snappy => Some(orc_rust::compression::CompressionType::Snappy),
        OrcCompression::Zlib => Some(orc_rust::compression::CompressionType::Zlib),
        OrcCompression::None => None,
    };
    let stripe = options.stripe_size_bytes.unwrap_or(64 << 20).max(1);
    let shared = Rc::new(RefCell::new(BufWriter::with_capacity(1 << 20, out)));
    let mut builder =
        orc_rust::ArrowWriterBuilder::new(SharedWrite(shared.clone()), schema.clone()).with_stripe_byte_size(stripe);
    if let Some(c) = compression {
        builder = builder.with_compression(c);
    }
    let mut writer = builder.try_build().map_err(orc_err)?;
    for columns in rx {
        writer.write(&build_batch(schema, kinds, &columns)?).map_err(orc_err)?;
    }
    writer.close().map_err(orc_err)?;
    let buffered =
        Rc::try_unwrap(shared).map_err(|_| ConvertError::Write("the ORC writer kept its output".into()))?.into_inner();
    buffered.into_inner().map_err(|e| ConvertError::Write(e.error().to_string()))
}

/// Lets the ORC thread take its output back after orc-rust's `close` consumed the writer.
struct SharedWrite<W: Write>(Rc<RefCell<BufWriter<W>>>);

impl<W: Write> Write for SharedWrite<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.0.borrow_mut().write_all(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.borrow_mut().flush()
    }
}

// ---------------------------------------------------------------------------------------------
// Key matching

#[derive(Clone, Copy)]
struct Opts {
    case_insensitive: bool,
    dots: bool,
}

fn fold(s: &str) -> Cow<'_, str> {
    if s.chars().any(char::is_uppercase) { Cow::Owned(s.to_lowercase()) } else { Cow::Borrowed(s) }
}

/// The names of a struct's fields (or the table's columns) and the JSON keys that reach them.
struct Names {
    /// Target key (folded when case-insensitive) -> field indexes.
    index: HashMap<String, Vec<usize>>,
    targets: Vec<String>,
    /// No two targets reach the same field (a key that equals a target reaches that field only).
    distinct: bool,
}

impl Names {
    fn new(targets: Vec<String>, case_insensitive: bool) -> Self {
        let mut index: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, t) in targets.iter().enumerate() {
            let key = if case_insensitive { fold(t).into_owned() } else { t.clone() };
            index.entry(key).or_default().push(i);
        }
        let distinct = index.values().all(|ids| ids.len() == 1);
        Self { index, targets, distinct }
    }

    /// The value of each field in `object`. When several keys reach a field, the best match
    /// wins: exact case before folded case, the key as written before dots replaced.
    /// Among equally good matches the last in the document wins (as a repeated key does).
    fn resolve<'v, 'a>(&self, object: &'v [(Cow<'a, str>, Value<'a>)], opts: Opts) -> Vec<Option<&'v Value<'a>>> {
        let mut slots: Vec<Option<(&Value<'a>, u8)>> = vec![None; self.targets.len()];
        for (position, (key, value)) in object.iter().enumerate() {
            let mut offer = |i: usize, rank: u8| {
                if slots[i].is_none_or(|(_, r)| rank >= r) {
                    slots[i] = Some((value, rank));
                }
            };
            if self.distinct && self.targets.get(position).is_some_and(|t| t == key) {
                // keys written in column order, as written: no lookup
                offer(position, 3);
            } else {
                self.matches(key, opts, 1, &mut offer);
            }
            if opts.dots && key.contains('.') {
                self.matches(&key.replace('.', "_"), opts, 0, &mut offer);
            }
        }
        slots.into_iter().map(|s| s.map(|(v, _)| v)).collect()
    }

    fn matches(&self, key: &str, opts: Opts, as_written: u8, offer: &mut impl FnMut(usize, u8)) {
        let lookup = if opts.case_insensitive { fold(key) } else { Cow::Borrowed(key) };
        if let Some(ids) = self.index.get(lookup.as_ref()) {
            for &i in ids {
                let exact = u8::from(self.targets[i] == key);
                offer(i, exact * 2 + as_written);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Types and coercion

/// A column type as the converter handles it.
enum Kind {
    Boolean,
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Utf8,
    Binary,
    Date32,
    /// Microseconds since the epoch, no time zone.
    Timestamp,
    Decimal(u8, i8),
    List(FieldRef, Box<Kind>),
    Struct(Fields, Names, Vec<Kind>),
    /// Entries field, key/value fields, key kind, value kind, sorted.
    Map(FieldRef, Fields, Box<Kind>, Box<Kind>, bool),
}

/// A converted value; dates are days and timestamps microseconds in `Int`, binary is `Str`.
#[derive(Debug, PartialEq)]
enum Val {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Dec(i128),
    List(Vec<Val>),
    Struct(Vec<Val>),
    Map(Vec<(Val, Val)>),
}

static NULL: Val = Val::Null;

/// A value that does not fit: where (innermost first) and why.
struct Bad {
    path: Vec<String>,
    message: String,
}

impl Bad {
    fn new(message: String) -> Self {
        Self { path: Vec::new(), message }
    }

    fn mismatch(v: &Value<'_>, kind: &Kind) -> Self {
        Self::new(format!("cannot convert {} to {}", preview(v), kind.name()))
    }

    fn range(v: &Value<'_>, kind: &Kind) -> Self {
        Self::new(format!("{} is out of range for {}", preview(v), kind.name()))
    }

    fn at(mut self, segment: String) -> Self {
        self.path.push(segment);
        self
    }

    fn into_record_error(self, column: &str) -> RecordError {
        let mut path = column.to_string();
        for segment in self.path.iter().rev() {
            path.push_str(segment);
        }
        RecordError { code: TYPE_MISMATCH, message: format!("column {path}: {}", self.message) }
    }
}

impl Kind {
    fn of(dt: &DataType, case_insensitive: bool) -> Result<Kind, String> {
        Ok(match dt {
            DataType::Boolean => Kind::Boolean,
            DataType::Int8 => Kind::Int8,
            DataType::Int16 => Kind::Int16,
            DataType::Int32 => Kind::Int32,
            DataType::Int64 => Kind::Int64,
            DataType::Float32 => Kind::Float32,
            DataType::Float64 => Kind::Float64,
            DataType::Utf8 => Kind::Utf8,
            DataType::Binary => Kind::Binary,
            DataType::Date32 => Kind::Date32,
            DataType::Timestamp(TimeUnit::Microsecond, None) => Kind::Timestamp,
            DataType::Decimal128(p, s) if *s >= 0 && (1..=38).contains(p) => Kind::Decimal(*p, *s),
            DataType::List(item) => Kind::List(item.clone(), Box::new(Kind::of(item.data_type(), case_insensitive)?)),
            DataType::Struct(fields) => {
                if fields.is_empty() {
                    return Err("a struct needs at least one field".into());
                }
                let kinds =
                    fields.iter().map(|f| Kind::of(f.data_type(), case_insensitive)).collect::<Result<Vec<_>, _>>()?;
                let names = Names::new(fields.iter().map(|f| f.name().clone()).collect(), case_insensitive);
                Kind::Struct(fields.clone(), names, kinds)
            }
            DataType::Map(entries, sorted) => {
                let DataType::Struct(kv) = entries.data_type() else {
                    return Err("map entries are not a struct".into());
                };
                if kv.len() != 2 {
                    return Err("map entries need a key and a value".into());
                }
                let key = Kind::of(kv[0].data_type(), case_insensitive)?;
                if matches!(key, Kind::List(..) | Kind::Struct(..) | Kind::Map(..)) {
                    return Err("map keys must be of a primitive type".into());
                }
                let value = Kind::of(kv[1].data_type(), case_insensitive)?;
                Kind::Map(entries.clone(), kv.clone(), Box::new(key), Box::new(value), *sorted)
            }
            other => return Err(format!("type {other} is not supported")),
        })
    }

    fn name(&self) -> String {
        match self {
            Kind::Boolean => "boolean".into(),
            Kind::Int8 => "tinyint".into(),
            Kind::Int16 => "smallint".into(),
            Kind::Int32 => "int".into(),
            Kind::Int64 => "bigint".into(),
            Kind::Float32 => "float".into(),
            Kind::Float64 => "double".into(),
            Kind::Utf8 => "string".into(),
            Kind::Binary => "binary".into(),
            Kind::Date32 => "date".into(),
            Kind::Timestamp => "timestamp".into(),
            Kind::Decimal(p, s) => format!("decimal({p},{s})"),
            Kind::List(..) => "array".into(),
            Kind::Struct(..) => "struct".into(),
            Kind::Map(..) => "map".into(),
        }
    }

    /// Converts a JSON value to this type, or says why it does not fit.
    fn coerce(&self, v: &Value<'_>, opts: Opts) -> Result<Val, Bad> {
        if v.is_null() {
            return Ok(Val::Null);
        }
        match self {
            Kind::Boolean => match v {
                Value::Bool(b) => Ok(Val::Bool(*b)),
                Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Ok(Val::Bool(true)),
                Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Ok(Val::Bool(false)),
                _ => Err(Bad::mismatch(v, self)),
            },
            Kind::Int8 => self.int_in(v, i8::MIN.into(), i8::MAX.into()),
            Kind::Int16 => self.int_in(v, i16::MIN.into(), i16::MAX.into()),
            Kind::Int32 => self.int_in(v, i32::MIN.into(), i32::MAX.into()),
            Kind::Int64 => self.int_in(v, i64::MIN.into(), i64::MAX.into()),
            Kind::Float32 => {
                let f = float_of(v).ok_or_else(|| Bad::mismatch(v, self))?;
                if f.is_finite() && f.abs() > f64::from(f32::MAX) {
                    return Err(Bad::range(v, self));
                }
                Ok(Val::Float(f))
            }
            Kind::Float64 => float_of(v).map(Val::Float).ok_or_else(|| Bad::mismatch(v, self)),
            Kind::Utf8 => Ok(Val::Str(match v {
                Value::String(s) => s.to_string(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                other => other.to_string(),
            })),
            Kind::Binary => match v {
                Value::String(s) => Ok(Val::Str(s.to_string())),
                _ => Err(Bad::mismatch(v, self)),
            },
            Kind::Date32 => {
                let days = match v {
                    Value::Number(_) => match int_of(v) {
                        Some(d) => i32::try_from(d).map_err(|_| Bad::range(v, self))?,
                        None => return Err(Bad::mismatch(v, self)),
                    },
                    Value::String(s) => {
                        let dt = parse_datetime(s.trim()).ok_or_else(|| Bad::mismatch(v, self))?;
                        i32::try_from(dt.days).map_err(|_| Bad::range(v, self))?
                    }
                    _ => return Err(Bad::mismatch(v, self)),
                };
                Ok(Val::Int(days.into()))
            }
            Kind::Timestamp => timestamp_of(v).map(Val::Int).ok_or_else(|| Bad::mismatch(v, self)),
            Kind::Decimal(precision, scale) => {
                let text: Cow<'_, str> = match v {
                    Value::Number(n) => Cow::Owned(n.to_string()),
                    Value::String(s) => Cow::Borrowed(s.trim()),
                    _ => return Err(Bad::mismatch(v, self)),
                };
                match parse_decimal(&text, *precision, *scale) {
                    Ok(d) => Ok(Val::Dec(d)),
                    Err(DecimalError::NotANumber) => Err(Bad::mismatch(v, self)),
                    Err(DecimalError::Overflow) => {
                        Err(Bad::new(format!("{} does not fit {}", preview(v), self.name())))
                    }
                }
            }
            Kind::List(_, item) => {
                let Value::Array(items) = v else {
                    return Err(Bad::mismatch(v, self));
                };
                let mut out = Vec::with_capacity(items.len());
                for (i, x) in items.iter().enumerate() {
                    out.push(item.coerce(x, opts).map_err(|b| b.at(format!("[{i}]")))?);
                }
                Ok(Val::List(out))
            }
            Kind::Struct(fields, names, kinds) => {
                let Value::Object(object) = v else {
                    return Err(Bad::mismatch(v, self));
                };
                let slots = names.resolve(object, opts);
                let mut out = Vec::with_capacity(kinds.len());
                for ((kind, slot), field) in kinds.iter().zip(slots).zip(fields.iter()) {
                    out.push(match slot {
                        None => Val::Null,
                        Some(x) => kind.coerce(x, opts).map_err(|b| b.at(format!(".{}", field.name())))?,
                    });
                }
                Ok(Val::Struct(out))
            }
            Kind::Map(_, _, key_kind, value_kind, _) => {
                let Value::Object(object) = v else {
                    return Err(Bad::mismatch(v, self));
                };
                // a repeated key keeps its last value, in its first place
                let mut out: Vec<(Val, Val)> = Vec::with_capacity(object.len());
                let mut seen: HashMap<&str, usize> = HashMap::new();
                for (key, x) in object {
                    let value = value_kind.coerce(x, opts).map_err(|b| b.at(format!("[{key:?}]")))?;
                    if let Some(&i) = seen.get(key.as_ref()) {
                        out[i].1 = value;
                        continue;
                    }
                    let text = Value::String(key.clone());
                    let k = key_kind.coerce(&text, opts).map_err(|b| b.at(format!(" (key {})", preview(&text))))?;
                    seen.insert(key, out.len());
                    out.push((k, value));
                }
                Ok(Val::Map(out))
            }
        }
    }

    fn int_in(&self, v: &Value<'_>, min: i128, max: i128) -> Result<Val, Bad> {
        let i = int_of(v).ok_or_else(|| Bad::mismatch(v, self))?;
        if i < min || i > max {
            return Err(Bad::range(v, self));
        }
        Ok(Val::Int(i as i64))
    }

    /// Builds the Arrow array of `values` (all converted by `coerce` of this kind).
    fn build(&self, values: &[&Val]) -> Result<ArrayRef, ArrowError> {
        fn int(v: &Val) -> Option<i64> {
            if let Val::Int(i) = v { Some(*i) } else { None }
        }
        fn float(v: &Val) -> Option<f64> {
            if let Val::Float(f) = v { Some(*f) } else { None }
        }
        fn text(v: &Val) -> Option<&str> {
            if let Val::Str(s) = v { Some(s) } else { None }
        }
        let it = values.iter().copied();
        Ok(match self {
            Kind::Boolean => {
                Arc::new(BooleanArray::from_iter(it.map(|v| if let Val::Bool(b) = v { Some(*b) } else { None })))
            }
            Kind::Int8 => Arc::new(Int8Array::from_iter(it.map(|v| int(v).map(|i| i as i8)))),
            Kind::Int16 => Arc::new(Int16Array::from_iter(it.map(|v| int(v).map(|i| i as i16)))),
            Kind::Int32 => Arc::new(Int32Array::from_iter(it.map(|v| int(v).map(|i| i as i32)))),
            Kind::Int64 => Arc::new(Int64Array::from_iter(it.map(int))),
            Kind::Float32 => Arc::new(Float32Array::from_iter(it.map(|v| float(v).map(|f| f as f32)))),
            Kind::Float64 => Arc::new(Float64Array::from_iter(it.map(float))),
            Kind::Utf8 => Arc::new(StringArray::from_iter(it.map(text))),
            Kind::Binary => Arc::new(BinaryArray::from_iter(it.map(|v| text(v).map(str::as_bytes)))),
            Kind::Date32 => Arc::new(Date32Array::from_iter(it.map(|v| int(v).map(|i| i as i32)))),
            Kind::Timestamp => Arc::new(TimestampMicrosecondArray::from_iter(it.map(int))),
            Kind::Decimal(p, s) => Arc::new(
                Decimal128Array::from_iter(it.map(|v| if let Val::Dec(d) = v { Some(*d) } else { None }))
                    .with_precision_and_scale(*p, *s)?,
            ),
            Kind::List(field, item) => {
                let mut offsets = OffsetBufferBuilder::<i32>::new(values.len());
                let mut nulls = NullBufferBuilder::new(values.len());
                let mut children = Vec::new();
                for v in it {
                    if let Val::List(items) = v {
                        offsets.push_length(items.len());
                        nulls.append_non_null();
                        children.extend(items.iter());
                    } else {
                        offsets.push_length(0);
                        nulls.append_null();
                    }
                    check_offset(children.len())?;
                }
                let child = item.build(&children)?;
                Arc::new(ListArray::try_new(field.clone(), offsets.finish(), child, nulls.finish())?)
            }
            Kind::Struct(fields, _, kinds) => {
                let mut nulls = NullBufferBuilder::new(values.len());
                for v in it.clone() {
                    nulls.append(matches!(v, Val::Struct(_)));
                }
                let mut arrays = Vec::with_capacity(kinds.len());
                for (i, kind) in kinds.iter().enumerate() {
                    let children: Vec<&Val> =
                        it.clone().map(|v| if let Val::Struct(f) = v { &f[i] } else { &NULL }).collect();
                    arrays.push(kind.build(&children)?);
                }
                Arc::new(StructArray::try_new(fields.clone(), arrays, nulls.finish())?)
            }
            Kind::Map(field, kv, key_kind, value_kind, sorted) => {
                let mut offsets = OffsetBufferBuilder::<i32>::new(values.len());
                let mut nulls = NullBufferBuilder::new(values.len());
                let (mut keys, mut vals) = (Vec::new(), Vec::new());
                for v in it {
                    if let Val::Map(entries) = v {
                        offsets.push_length(entries.len());
                        nulls.append_non_null();
                        for (k, x) in entries {
                            keys.push(k);
                            vals.push(x);
                        }
                    } else {
                        offsets.push_length(0);
                        nulls.append_null();
                    }
                    check_offset(keys.len())?;
                }
                let entries =
                    StructArray::try_new(kv.clone(), vec![key_kind.build(&keys)?, value_kind.build(&vals)?], None)?;
                Arc::new(MapArray::try_new(field.clone(), offsets.finish(), entries, nulls.finish(), *sorted)?)
            }
        })
    }
}

fn check_offset(len: usize) -> Result<(), ArrowError> {
    if len > i32::MAX as usize {
        return Err(ArrowError::ComputeError("too many nested values in one batch".into()));
    }
    Ok(())
}

/// A JSON value for a message, cut at about 100 bytes.
fn preview(v: &Value<'_>) -> String {
    let s = v.to_string();
    if s.len() <= 100 {
        return s;
    }
    let mut end = 100;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

fn json_kind(v: &Value<'_>) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn integral(f: f64) -> Option<i128> {
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 1e30).then_some(f as i128)
}

/// An integer from a JSON number or a numeric string (`12`, `"12"`, `12.0`, `"1e3"`).
fn int_of(v: &Value<'_>) -> Option<i128> {
    match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(i.into())
            } else if let Some(u) = n.as_u64() {
                Some(u.into())
            } else {
                n.as_f64().and_then(integral)
            }
        }
        Value::String(s) => {
            let t = s.trim();
            t.parse::<i128>().ok().or_else(|| t.parse::<f64>().ok().and_then(integral))
        }
        _ => None,
    }
}

fn float_of(v: &Value<'_>) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
}

/// Epoch seconds below 1e11 (and above -1e11), epoch milliseconds otherwise, as microseconds.
fn epoch_int(i: i128) -> Option<i64> {
    let micros = if i.abs() < 100_000_000_000 { i * 1_000_000 } else { i.checked_mul(1000)? };
    i64::try_from(micros).ok()
}

fn epoch_float(f: f64) -> Option<i64> {
    if !f.is_finite() {
        return None;
    }
    let micros = if f.abs() < 1e11 { f * 1e6 } else { f * 1e3 }.round();
    (micros.abs() < 9.2e18).then_some(micros as i64)
}

/// Microseconds since the epoch from an epoch number or a date-time string.
fn timestamp_of(v: &Value<'_>) -> Option<i64> {
    match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                epoch_int(i.into())
            } else if let Some(u) = n.as_u64() {
                epoch_int(u.into())
            } else {
                epoch_float(n.as_f64()?)
            }
        }
        Value::String(s) => {
            let t = s.trim();
            if let Ok(i) = t.parse::<i128>() {
                return epoch_int(i);
            }
            if let Ok(f) = t.parse::<f64>() {
                return epoch_float(f);
            }
            parse_datetime(t).map(|d| d.micros())
        }
        _ => None,
    }
}

/// A parsed `yyyy-MM-dd[( |T)HH:mm[:ss[.fffffffff]]][Z|UTC|±HH[:mm]]`.
#[derive(Debug, PartialEq)]
struct DateTime {
    /// Days since the epoch of the date as written.
    days: i64,
    /// Seconds since midnight as written.
    seconds: i64,
    nanos: i64,
    /// Offset east of UTC in seconds.
    offset: i64,
}

impl DateTime {
    fn micros(&self) -> i64 {
        (self.days * 86_400 + self.seconds - self.offset) * 1_000_000 + self.nanos / 1000
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, min: usize, max: usize) -> Option<i64> {
        let start = self.i;
        let mut n = 0i64;
        while self.i < self.b.len() && self.i - start < max && self.b[self.i].is_ascii_digit() {
            n = n * 10 + i64::from(self.b[self.i] - b'0');
            self.i += 1;
        }
        (self.i - start >= min).then_some(n)
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn done(&self) -> bool {
        self.i == self.b.len()
    }
}

fn parse_datetime(s: &str) -> Option<DateTime> {
    let mut c = Cursor { b: s.as_bytes(), i: 0 };
    let year = c.digits(4, 4)?;
    if !c.eat(b'-') {
        return None;
    }
    let month = c.digits(1, 2)?;
    if !c.eat(b'-') {
        return None;
    }
    let day = c.digits(1, 2)?;
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date = time::Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?).ok()?;
    let days = i64::from(date.to_julian_day()) - 2_440_588;
    let mut dt = DateTime { days, seconds: 0, nanos: 0, offset: 0 };
    if c.done() {
        return Some(dt);
    }
    if !(c.eat(b'T') || c.eat(b't') || c.eat(b' ')) {
        return None;
    }
    let hour = c.digits(1, 2)?;
    if !c.eat(b':') {
        return None;
    }
    let minute = c.digits(2, 2)?;
    let mut second = 0;
    if c.eat(b':') {
        second = c.digits(2, 2)?;
        if c.eat(b'.') || c.eat(b',') {
            let start = c.i;
            let n = c.digits(1, 9)?;
            let len = c.i - start;
            dt.nanos = n * 10i64.pow(9 - len as u32);
            // digits beyond nanoseconds are dropped
            while c.peek().is_some_and(|b| b.is_ascii_digit()) {
                c.i += 1;
            }
        }
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    dt.seconds = hour * 3600 + minute * 60 + second;
    c.eat(b' ');
    if c.eat(b'Z') || c.eat(b'z') {
        // UTC
    } else if s[c.i..].eq_ignore_ascii_case("utc") {
        c.i = c.b.len();
    } else if let Some(sign @ (b'+' | b'-')) = c.peek() {
        c.i += 1;
        let oh = c.digits(2, 2)?;
        c.eat(b':');
        let om = if c.done() { 0 } else { c.digits(2, 2)? };
        if oh > 18 || om > 59 {
            return None;
        }
        let offset = oh * 3600 + om * 60;
        dt.offset = if sign == b'-' { -offset } else { offset };
    }
    c.done().then_some(dt)
}

#[derive(Debug, PartialEq)]
enum DecimalError {
    NotANumber,
    Overflow,
}

/// The unscaled value of a decimal literal (`-12.345`, `1e3`) at `scale`, rounded half away
/// from zero (Hive's HALF_UP), or Overflow when it needs more than `precision` digits.
fn parse_decimal(text: &str, precision: u8, scale: i8) -> Result<i128, DecimalError> {
    let b = text.as_bytes();
    let mut i = 0;
    let negative = match b.first() {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    // significant digits (no leading zeros), digits after the point
    let mut digits: Vec<u8> = Vec::new();
    let (mut fraction, mut any_digit, mut point) = (0i64, false, false);
    while i < b.len() {
        match b[i] {
            c @ b'0'..=b'9' => {
                any_digit = true;
                if !(digits.is_empty() && c == b'0') {
                    digits.push(c - b'0');
                }
                if point {
                    fraction += 1;
                }
            }
            b'.' if !point => point = true,
            _ => break,
        }
        i += 1;
    }
    if !any_digit {
        return Err(DecimalError::NotANumber);
    }
    let mut exponent = 0i64;
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        let negative_exponent = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            exponent = (exponent * 10 + i64::from(b[i] - b'0')).min(1_000_000);
            i += 1;
        }
        if i == start {
            return Err(DecimalError::NotANumber);
        }
        if negative_exponent {
            exponent = -exponent;
        }
    }
    if i != b.len() {
        return Err(DecimalError::NotANumber);
    }
    let to_int = |d: &[u8]| d.iter().fold(0i128, |acc, &x| acc * 10 + i128::from(x));
    // value * 10^scale = digits * 10^shift
    let shift = exponent - fraction + i64::from(scale);
    let value = if digits.is_empty() {
        0
    } else if shift >= 0 {
        if digits.len() as i64 + shift > 38 {
            return Err(DecimalError::Overflow);
        }
        to_int(&digits) * 10i128.pow(shift as u32)
    } else if -shift > digits.len() as i64 {
        0
    } else {
        let keep = digits.len() - (-shift) as usize;
        if keep > 38 {
            return Err(DecimalError::Overflow);
        }
        to_int(&digits[..keep]) + i128::from(digits[keep] >= 5)
    };
    if value >= 10i128.pow(u32::from(precision)) {
        return Err(DecimalError::Overflow);
    }
    Ok(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{
        Date32Type, Decimal128Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
        TimestampMicrosecondType, TimestampNanosecondType,
    };
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    fn spec(columns: &[(&str, &str)], output: OutputFormat) -> ConversionSpec {
        ConversionSpec {
            columns: columns.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect(),
            case_insensitive: true,
            column_to_json_key: BTreeMap::new(),
            dots_to_underscores: false,
            output,
        }
    }

    fn parquet() -> OutputFormat {
        OutputFormat::Parquet(ParquetOptions::default())
    }

    fn convert(spec: &ConversionSpec, records: &[&str]) -> (Vec<u8>, Vec<Result<(), RecordError>>) {
        let mut w = RecordWriter::new(spec, Vec::new()).unwrap();
        let results = records.iter().map(|r| w.push(r.as_bytes())).collect();
        (w.finish().unwrap(), results)
    }

    fn read_parquet(file: Vec<u8>) -> Vec<RecordBatch> {
        ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(file))
            .unwrap()
            .build()
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
    }

    fn one_batch(file: Vec<u8>) -> RecordBatch {
        let mut batches = read_parquet(file);
        assert_eq!(batches.len(), 1);
        batches.remove(0)
    }

    fn col<'a>(batch: &'a RecordBatch, name: &str) -> &'a ArrayRef {
        batch.column_by_name(name).unwrap()
    }

    fn micros(s: &str) -> i64 {
        parse_datetime(s).unwrap().micros()
    }

    const ALL: &[(&str, &str)] = &[
        ("b", "boolean"),
        ("t", "tinyint"),
        ("s", "smallint"),
        ("i", "int"),
        ("l", "bigint"),
        ("f", "float"),
        ("d", "double"),
        ("str", "string"),
        ("v", "varchar(10)"),
        ("dt", "date"),
        ("ts", "timestamp"),
        ("dec", "decimal(10,2)"),
        ("bin", "binary"),
    ];

    #[test]
    fn primitive_types_round_trip_through_parquet() {
        let records = [
            r#"{"b":true,"t":-5,"s":300,"i":70000,"l":9000000000,"f":1.5,"d":2.25,"str":"hé","v":"x",
                "dt":"2024-02-29","ts":"2024-02-29T12:34:56.789Z","dec":12.345,"bin":"raw"}"#,
            r#"{"b":"FALSE","t":"7","s":"-2","i":"12","l":"1e3","f":"3.5","d":"-0.5","str":42,"v":true,
                "dt":19000,"ts":1700000000,"dec":"-0.005","bin":""}"#,
            r#"{"b":null,"ts":1700000000123,"str":{"z":1,"a":[1,2]},"dec":"99999999.99"}"#,
            "{}",
        ];
        let (file, results) = convert(&spec(ALL, parquet()), &records);
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        let batch = one_batch(file);
        assert_eq!(batch.num_rows(), 4);

        let b = col(&batch, "b").as_boolean();
        assert!(b.value(0) && !b.value(1) && b.is_null(2) && b.is_null(3));
        let t = col(&batch, "t").as_primitive::<Int8Type>();
        assert_eq!((t.value(0), t.value(1)), (-5, 7));
        let s = col(&batch, "s").as_primitive::<Int16Type>();
        assert_eq!((s.value(0), s.value(1)), (300, -2));
        let i = col(&batch, "i").as_primitive::<Int32Type>();
        assert_eq!((i.value(0), i.value(1)), (70000, 12));
        assert!(i.is_null(2));
        let l = col(&batch, "l").as_primitive::<Int64Type>();
        assert_eq!((l.value(0), l.value(1)), (9_000_000_000, 1000));
        let f = col(&batch, "f").as_primitive::<Float32Type>();
        assert_eq!((f.value(0), f.value(1)), (1.5, 3.5));
        let d = col(&batch, "d").as_primitive::<Float64Type>();
        assert_eq!((d.value(0), d.value(1)), (2.25, -0.5));
        let st = col(&batch, "str").as_string::<i32>();
        assert_eq!(st.value(0), "hé");
        assert_eq!(st.value(1), "42");
        assert_eq!(st.value(2), r#"{"a":[1,2],"z":1}"#);
        assert!(st.is_null(3));
        let v = col(&batch, "v").as_string::<i32>();
        assert_eq!((v.value(0), v.value(1)), ("x", "true"));
        let dt = col(&batch, "dt").as_primitive::<Date32Type>();
        assert_eq!((dt.value(0), dt.value(1)), (19782, 19000));
        let ts = col(&batch, "ts").as_primitive::<TimestampMicrosecondType>();
        assert_eq!(ts.value(0), 1_709_210_096_789_000);
        assert_eq!(ts.value(1), 1_700_000_000_000_000);
        assert_eq!(ts.value(2), 1_700_000_000_123_000);
        let dec = col(&batch, "dec").as_primitive::<Decimal128Type>();
        assert_eq!(dec.data_type(), &DataType::Decimal128(10, 2));
        assert_eq!((dec.value(0), dec.value(1), dec.value(2)), (1235, -1, 9_999_999_999));
        let bin = col(&batch, "bin").as_binary::<i32>();
        assert_eq!((bin.value(0), bin.value(1)), (&b"raw"[..], &b""[..]));
        assert!(bin.is_null(2));
    }

    #[test]
    fn nested_types_round_trip_through_parquet() {
        let columns = [
            ("st", "struct<a:int,Inner:struct<x:string>,tags:array<string>>"),
            ("arr", "array<struct<x:double>>"),
            ("m", "map<string,bigint>"),
            ("mi", "map<int,array<int>>"),
        ];
        let records = [
            r#"{"st":{"A":1,"inner":{"X":"deep"},"tags":["p","q"],"extra":0},"arr":[{"x":1.5},null,{}],
                "m":{"k1":1,"k2":"2"},"mi":{"7":[1,null]}}"#,
            r#"{"st":null,"arr":[],"m":{},"mi":null}"#,
        ];
        let (file, results) = convert(&spec(&columns, parquet()), &records);
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        let batch = one_batch(file);

        let st = col(&batch, "st").as_struct();
        assert!(st.is_valid(0) && st.is_null(1));
        assert_eq!(st.column_by_name("a").unwrap().as_primitive::<Int32Type>().value(0), 1);
        let inner = st.column_by_name("Inner").unwrap().as_struct();
        assert_eq!(inner.column_by_name("x").unwrap().as_string::<i32>().value(0), "deep");
        let tags = st.column_by_name("tags").unwrap().as_list::<i32>();
        let tags0 = tags.value(0);
        let tags0 = tags0.as_string::<i32>();
        assert_eq!((tags0.len(), tags0.value(0), tags0.value(1)), (2, "p", "q"));

        let arr = col(&batch, "arr").as_list::<i32>();
        let first = arr.value(0);
        let first = first.as_struct();
        assert_eq!(first.len(), 3);
        assert!(first.is_valid(0) && first.is_null(1) && first.is_valid(2));
        let x = first.column(0).as_primitive::<Float64Type>();
        assert_eq!(x.value(0), 1.5);
        assert!(x.is_null(2));
        assert_eq!(arr.value(1).len(), 0);
        assert!(arr.is_valid(1));

        let m: &MapArray = col(&batch, "m").as_map();
        let m0 = m.value(0);
        assert_eq!(m0.column(0).as_string::<i32>().value(0), "k1");
        assert_eq!(m0.column(1).as_primitive::<Int64Type>().values().to_vec(), vec![1, 2]);
        assert_eq!(m.value(1).len(), 0);

        let mi = col(&batch, "mi").as_map();
        let mi0 = mi.value(0);
        assert_eq!(mi0.column(0).as_primitive::<Int32Type>().value(0), 7);
        let lists = mi0.column(1).as_list::<i32>();
        let l0 = lists.value(0);
        let l0 = l0.as_primitive::<Int32Type>();
        assert!(l0.value(0) == 1 && l0.is_null(1));
        assert!(mi.is_null(1));
    }

    #[test]
    fn keys_match_case_insensitively_renamed_and_with_dots() {
        let mut s = spec(&[("userid", "int"), ("ts", "string"), ("a_b", "string"), ("x", "string")], parquet());
        s.column_to_json_key.insert("ts".into(), "timestamp".into());
        s.dots_to_underscores = true;
        let (file, _) = convert(
            &s,
            &[
                r#"{"UserId":5,"TimeStamp":"t1","a.b":"dotted","X":"upper","x":"lower"}"#,
                r#"{"userid":6,"ts":"ignored","a_b":"plain","a.b":"dotted"}"#,
            ],
        );
        let batch = one_batch(file);
        assert_eq!(col(&batch, "userid").as_primitive::<Int32Type>().values().to_vec(), vec![5, 6]);
        let ts = col(&batch, "ts").as_string::<i32>();
        assert!(ts.value(0) == "t1" && ts.is_null(1));
        let ab = col(&batch, "a_b").as_string::<i32>();
        assert_eq!((ab.value(0), ab.value(1)), ("dotted", "plain"));
        assert_eq!(col(&batch, "x").as_string::<i32>().value(0), "lower");

        // case-sensitive and without dot conversion
        let mut s = spec(&[("userid", "int"), ("a_b", "string")], parquet());
        s.case_insensitive = false;
        let (file, _) = convert(&s, &[r#"{"UserId":5,"a.b":"dotted"}"#]);
        let batch = one_batch(file);
        assert!(col(&batch, "userid").is_null(0) && col(&batch, "a_b").is_null(0));

        // keys in column order take a shortcut; the best match still wins wherever it is, and
        // a repeated key keeps its last value
        let s = spec(&[("id", "int"), ("name", "string")], parquet());
        let (file, _) = convert(
            &s,
            &[
                r#"{"id":1,"name":"a","ID":9,"Name":"z"}"#,
                r#"{"ID":9,"Name":"z","id":2,"name":"b"}"#,
                r#"{"id":1,"id":3,"name":"c"}"#,
                r#"{"name":"d","id":4}"#,
            ],
        );
        let batch = one_batch(file);
        assert_eq!(col(&batch, "id").as_primitive::<Int32Type>().values().to_vec(), vec![1, 2, 3, 4]);
        let names = col(&batch, "name").as_string::<i32>();
        assert_eq!((0..4).map(|i| names.value(i)).collect::<Vec<_>>(), ["a", "b", "c", "d"]);
    }

    #[test]
    fn bad_records_are_rejected_and_not_written() {
        let columns = [
            ("i", "int"),
            ("t", "tinyint"),
            ("s", "string"),
            ("st", "struct<a:int>"),
            ("dec", "decimal(4,2)"),
            ("dt", "date"),
            ("ts", "timestamp"),
            ("arr", "array<int>"),
            ("bin", "binary"),
            ("m", "map<int,string>"),
            ("b", "boolean"),
        ];
        let good = r#"{"i":1}"#;
        let bad: &[(&str, &str, &str)] = &[
            ("not json", MALFORMED_DATA, "not valid JSON"),
            ("[1,2]", MALFORMED_DATA, "an array"),
            ("\"s\"", MALFORMED_DATA, "a string"),
            ("12", MALFORMED_DATA, "a number"),
            (r#"{"i":1} {"i":2}"#, MALFORMED_DATA, "not valid JSON"),
            (r#"{"i":"abc"}"#, TYPE_MISMATCH, "column i: cannot convert \"abc\" to int"),
            (r#"{"i":1.5}"#, TYPE_MISMATCH, "column i"),
            (r#"{"i":true}"#, TYPE_MISMATCH, "column i"),
            (r#"{"t":300}"#, TYPE_MISMATCH, "300 is out of range for tinyint"),
            (r#"{"s":{"a":1}, "i":"x"}"#, TYPE_MISMATCH, "column i"),
            (r#"{"st":[1]}"#, TYPE_MISMATCH, "column st"),
            (r#"{"st":{"A":"x"}}"#, TYPE_MISMATCH, "column st.a: cannot convert \"x\" to int"),
            (r#"{"dec":123.45}"#, TYPE_MISMATCH, "does not fit decimal(4,2)"),
            (r#"{"dec":"12a"}"#, TYPE_MISMATCH, "column dec"),
            (r#"{"dt":"2023-02-29"}"#, TYPE_MISMATCH, "column dt"),
            (r#"{"dt":"yesterday"}"#, TYPE_MISMATCH, "column dt"),
            (r#"{"ts":"2024-01-01 25:00:00"}"#, TYPE_MISMATCH, "column ts"),
            (r#"{"ts":true}"#, TYPE_MISMATCH, "column ts"),
            (r#"{"arr":[1,"x"]}"#, TYPE_MISMATCH, "column arr[1]"),
            (r#"{"arr":1}"#, TYPE_MISMATCH, "column arr"),
            (r#"{"bin":5}"#, TYPE_MISMATCH, "column bin"),
            (r#"{"m":{"x":"v"}}"#, TYPE_MISMATCH, "column m (key \"x\")"),
            (r#"{"b":1}"#, TYPE_MISMATCH, "column b"),
        ];
        let mut w = RecordWriter::new(&spec(&columns, parquet()), Vec::new()).unwrap();
        w.push(good.as_bytes()).unwrap();
        for (record, code, text) in bad {
            let err = w.push(record.as_bytes()).unwrap_err();
            assert_eq!(err.code, *code, "{record}: {err:?}");
            assert!(err.message.contains(text), "{record}: {}", err.message);
        }
        w.push(good.as_bytes()).unwrap();
        assert_eq!(w.rows(), 2);
        let batch = one_batch(w.finish().unwrap());
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(col(&batch, "i").as_primitive::<Int32Type>().values().to_vec(), vec![1, 1]);
        assert_eq!(col(&batch, "st").null_count(), 2);
    }

    #[test]
    fn many_rows_make_several_batches_and_row_groups() {
        let options = ParquetOptions { block_size_bytes: Some(256 << 10), ..Default::default() };
        let s = spec(&[("n", "bigint"), ("name", "string")], OutputFormat::Parquet(options));
        let mut w = RecordWriter::new(&s, Vec::new()).unwrap();
        for n in 0..50_000 {
            w.push(format!(r#"{{"n":{n},"name":"row number {n} with some text"}}"#).as_bytes()).unwrap();
        }
        assert_eq!(w.rows(), 50_000);
        let file = w.finish().unwrap();
        let reader = SerializedFileReader::new(bytes::Bytes::from(file.clone())).unwrap();
        assert!(reader.metadata().num_row_groups() > 1, "{}", reader.metadata().num_row_groups());
        let mut expected = 0i64;
        for batch in read_parquet(file) {
            for &n in col(&batch, "n").as_primitive::<Int64Type>().values() {
                assert_eq!(n, expected);
                expected += 1;
            }
        }
        assert_eq!(expected, 50_000);
    }

    #[test]
    fn parquet_options_are_applied() {
        for (compression, expected) in [
            (ParquetCompression::Gzip, "GZIP"),
            (ParquetCompression::Uncompressed, "UNCOMPRESSED"),
            (ParquetCompression::Snappy, "SNAPPY"),
        ] {
            let options = ParquetOptions {
                compression,
                page_size_bytes: Some(64 << 10),
                enable_dictionary: true,
                writer_v2: compression == ParquetCompression::Gzip,
                ..Default::default()
            };
            let s = spec(&[("a", "string")], OutputFormat::Parquet(options));
            let (file, _) = convert(&s, &[r#"{"a":"x"}"#, r#"{"a":"y"}"#]);
            let reader = SerializedFileReader::new(bytes::Bytes::from(file.clone())).unwrap();
            let codec = reader.metadata().row_group(0).column(0).compression();
            assert!(format!("{codec:?}").starts_with(expected), "{codec:?}");
            let batch = one_batch(file);
            assert_eq!(col(&batch, "a").as_string::<i32>().value(1), "y");
        }
    }

    #[test]
    fn the_writer_is_send() {
        fn send<T: Send>() {}
        send::<RecordWriter<std::fs::File>>();
    }

    #[test]
    fn an_empty_file_is_valid() {
        let (file, _) = convert(&spec(&[("a", "int")], parquet()), &[]);
        assert!(read_parquet(file).iter().all(|b| b.num_rows() == 0));
        let (file, _) = convert(&spec(&[("a", "int")], OutputFormat::Orc(OrcOptions::default())), &[]);
        let reader = orc_rust::ArrowReaderBuilder::try_new(bytes::Bytes::from(file)).unwrap().build();
        assert_eq!(reader.total_row_count(), 0);
        // a writer dropped unfinished does not hang
        let mut w =
            RecordWriter::new(&spec(&[("a", "int")], OutputFormat::Orc(OrcOptions::default())), Vec::new()).unwrap();
        w.push(br#"{"a":1}"#).unwrap();
        drop(w);
    }

    #[test]
    fn nested_keys_follow_the_same_rules() {
        let mut s = spec(&[("st", "struct<a_b:int,m:map<string,int>>")], parquet());
        s.dots_to_underscores = true;
        let (file, results) = convert(&s, &[r#"{"ST":{"A.B":1,"m":{"K.x":2}}}"#]);
        assert!(results[0].is_ok());
        let batch = one_batch(file);
        let st = col(&batch, "st").as_struct();
        assert_eq!(st.column(0).as_primitive::<Int32Type>().value(0), 1);
        let m = st.column(1).as_map().value(0);
        assert_eq!(m.column(0).as_string::<i32>().value(0), "K.x");
    }

    #[test]
    fn schema_errors() {
        let bad = spec(&[("a", "nonsense")], parquet());
        assert!(matches!(RecordWriter::new(&bad, Vec::new()), Err(ConvertError::Schema(_))));
        assert!(matches!(arrow_schema(&spec(&[], parquet())), Err(ConvertError::Schema(_))));
        assert!(matches!(
            arrow_schema(&spec(&[("m", "map<array<int>,int>")], parquet())),
            Err(ConvertError::Schema(_))
        ));
        let orc = OutputFormat::Orc(OrcOptions::default());
        for t in ["decimal(10,2)", "array<int>", "struct<a:int>", "map<string,int>"] {
            match RecordWriter::new(&spec(&[("a", "int"), ("c", t)], orc.clone()), Vec::new()) {
                Err(ConvertError::Schema(m)) => assert!(m.contains("column c"), "{m}"),
                _ => panic!("{t} accepted for ORC"),
            }
        }
        let schema = arrow_schema(&spec(ALL, parquet())).unwrap();
        assert_eq!(schema.fields().len(), ALL.len());
        assert!(schema.fields().iter().all(|f| f.is_nullable()));
    }

    #[test]
    fn orc_round_trip() {
        let columns: Vec<(&str, &str)> = ALL.iter().copied().filter(|(n, _)| *n != "dec").collect();
        for compression in [OrcCompression::Snappy, OrcCompression::Zlib, OrcCompression::None] {
            let s = spec(&columns, OutputFormat::Orc(OrcOptions { compression, stripe_size_bytes: None }));
            let mut w = RecordWriter::new(&s, Vec::new()).unwrap();
            w.push(
                br#"{"b":true,"t":1,"s":2,"i":3,"l":4,"f":1.5,"d":2.5,"str":"a","v":"b","dt":"1970-01-02",
                    "ts":"2024-01-01T00:00:00+01:00","bin":"z"}"#,
            )
            .unwrap();
            assert!(w.push(br#"{"i":"x"}"#).is_err());
            for n in 0..20_000 {
                w.push(format!(r#"{{"i":{n}}}"#).as_bytes()).unwrap();
            }
            let file = w.finish().unwrap();
            let reader = orc_rust::ArrowReaderBuilder::try_new(bytes::Bytes::from(file)).unwrap().build();
            let batches = reader.collect::<Result<Vec<_>, _>>().unwrap();
            assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 20_001);
            let batch = &batches[0];
            assert!(col(batch, "b").as_boolean().value(0));
            assert_eq!(col(batch, "t").as_primitive::<Int8Type>().value(0), 1);
            assert_eq!(col(batch, "s").as_primitive::<Int16Type>().value(0), 2);
            let i = col(batch, "i").as_primitive::<Int32Type>();
            assert_eq!((i.value(0), i.value(1), i.value(2)), (3, 0, 1));
            assert_eq!(col(batch, "l").as_primitive::<Int64Type>().value(0), 4);
            assert!(col(batch, "l").is_null(1));
            assert_eq!(col(batch, "f").as_primitive::<Float32Type>().value(0), 1.5);
            assert_eq!(col(batch, "d").as_primitive::<Float64Type>().value(0), 2.5);
            assert_eq!(col(batch, "str").as_string::<i32>().value(0), "a");
            assert_eq!(col(batch, "dt").as_primitive::<Date32Type>().value(0), 1);
            let ts = col(batch, "ts");
            let ts = match ts.data_type() {
                DataType::Timestamp(TimeUnit::Nanosecond, _) => {
                    ts.as_primitive::<TimestampNanosecondType>().value(0) / 1000
                }
                _ => ts.as_primitive::<TimestampMicrosecondType>().value(0),
            };
            assert_eq!(ts, micros("2023-12-31T23:00:00Z"));
            assert_eq!(col(batch, "bin").as_binary::<i32>().value(0), b"z");
        }
    }

    #[test]
    fn timestamps_parse_like_openx() {
        assert_eq!(micros("1970-01-01"), 0);
        assert_eq!(micros("1970-01-01T00:00:01Z"), 1_000_000);
        assert_eq!(micros("1970-01-01 00:00:01.5"), 1_500_000);
        assert_eq!(micros("1970-01-01T01:00:00+01:00"), 0);
        assert_eq!(micros("1970-01-01T01:00:00+0100"), 0);
        assert_eq!(micros("1969-12-31T23:00:00-01"), 0);
        assert_eq!(micros("1970-01-01 00:00:00.123456789 UTC"), 123_456);
        assert_eq!(micros("1970-1-2T00:00"), 86_400_000_000);
        for bad in ["1970-01-01T", "1970-13-01", "70-01-01", "1970-01-01T00:00:60", "1970-01-01 00:00 +25:00"] {
            assert!(parse_datetime(bad).is_none(), "{bad}");
        }
        let ts = |v: serde_json::Value| {
            let text = v.to_string();
            timestamp_of(&Value::parse(text.as_bytes()).unwrap())
        };
        assert_eq!(ts(serde_json::json!(1)), Some(1_000_000));
        assert_eq!(ts(serde_json::json!(99_999_999_999i64)), Some(99_999_999_999_000_000));
        assert_eq!(ts(serde_json::json!(100_000_000_000i64)), Some(100_000_000_000_000));
        assert_eq!(ts(serde_json::json!(-5)), Some(-5_000_000));
        assert_eq!(ts(serde_json::json!(1.25)), Some(1_250_000));
        assert_eq!(ts(serde_json::json!("1700000000")), Some(1_700_000_000_000_000));
        assert_eq!(ts(serde_json::json!("2024-01-01")), Some(1_704_067_200_000_000));
        assert_eq!(ts(serde_json::json!(u64::MAX)), None);
    }

    #[test]
    fn decimals_round_half_up_and_check_precision() {
        let d = |s: &str| parse_decimal(s, 10, 2);
        assert_eq!(d("12.345"), Ok(1235));
        assert_eq!(d("-12.345"), Ok(-1235));
        assert_eq!(d("12.344"), Ok(1234));
        assert_eq!(d("0.005"), Ok(1));
        assert_eq!(d("0.004"), Ok(0));
        assert_eq!(d("1e3"), Ok(100_000));
        assert_eq!(d("1.5E-1"), Ok(15));
        assert_eq!(d("000.10"), Ok(10));
        assert_eq!(d(".5"), Ok(50));
        assert_eq!(d("0"), Ok(0));
        assert_eq!(d("1e-400"), Ok(0));
        assert_eq!(d("99999999.99"), Ok(9_999_999_999));
        assert_eq!(d("99999999.995"), Err(DecimalError::Overflow));
        assert_eq!(d("1e300"), Err(DecimalError::Overflow));
        for bad in ["", "-", ".", "1e", "1.2.3", "abc", "1 2", "NaN"] {
            assert_eq!(d(bad), Err(DecimalError::NotANumber), "{bad}");
        }
        assert_eq!(parse_decimal("12345678901234567890123456789012345678", 38, 0).map(|v| v > 0), Ok(true));
        assert_eq!(parse_decimal("5", 3, 3), Err(DecimalError::Overflow));
        assert_eq!(parse_decimal("0.5", 3, 3), Ok(500));
    }
}
