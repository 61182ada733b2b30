//! Record format conversion: JSON records (one object per Firehose record) become rows of an
//! Apache Parquet or ORC file typed by a Glue table's columns, following the OpenX JSON SerDe's
//! key matching and value coercion rules.
//!
//! `push` validates a whole record and converts it into typed values (nothing of a failing
//! record is kept); rows are buffered per column and turned into an Arrow batch every 8,192 rows
//! (or 32 MiB of input) and encoded by `parquet`'s Arrow writer (row groups cut by size) or
//! `orc-rust`'s, on a thread of the file's own while the next records are parsed.
//!
//! `coerce` matches JSON keys to columns and converts values to the columns' types, `parquet`
//! and `orc` encode the files.

mod coerce;
mod orc;
mod parquet;

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

use crate::json::Value;
use arrow_array::RecordBatch;
use arrow_schema::{Field, Schema, SchemaRef};

use coerce::{Kind, Names, Opts, Val, fold, json_kind};
use orc::{check_orc, write_orc};
use parquet::{check_parquet, write_parquet};

/// Error code of a record that is not JSON or not a JSON object.
pub const MALFORMED_DATA: &str = "DataFormatConversion.MalformedData";
/// Error code of a record with a value that does not convert to its column's type (including
/// numbers out of the type's range and decimals beyond their precision).
pub const TYPE_MISMATCH: &str = "DataFormatConversion.TypeMismatch";

/// Rows buffered before they become one Arrow batch.
const BATCH_ROWS: usize = 8192;
/// Input bytes buffered before the rows become a batch (keeps string offsets and memory small).
const BATCH_BYTES: usize = 32 << 20;

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
            OutputFormat::Parquet(_) => check_parquet(&schema)?,
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
                OutputFormat::Parquet(options) => write_parquet(out, &schema, &kinds, &options, rx),
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

#[cfg(test)]
mod tests;
