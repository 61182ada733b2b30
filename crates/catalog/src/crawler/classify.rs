//! Built-in classifiers: what an object holds (CSV, JSON, Parquet, Avro, ORC), how it is
//! compressed, and its columns, as Glue's built-in classifiers report them.
//!
//! Reads are bounded: a 64 KiB probe, then for text at most [`RAW_MAX`] bytes of the object,
//! decompressed to at most [`SAMPLE_MAX`] bytes; for Parquet and ORC only the footer; for Avro
//! only the header. A large object is never read whole.

use std::future::Future;
use std::io::{self, Read};

use super::columnar;
use super::types::{GlueType, merge_fields};
use crate::{Column, Parameters, SerDeInfo};

/// First read of every object: enough for magic bytes, an Avro header or a small file.
pub const PROBE_MAX: u64 = 64 * 1024;
/// Bytes of a text object read for its sample (compressed bytes when compressed).
pub const RAW_MAX: u64 = 1024 * 1024;
/// Decompressed bytes of a text sample.
pub const SAMPLE_MAX: usize = 1024 * 1024;
/// Records of a text sample that are looked at.
pub const SAMPLE_ROWS: usize = 10_000;

/// Reads byte ranges of one object.
pub trait RangeRead: Sync {
    /// Bytes `[start, end)`; `end` never exceeds the object's size.
    fn read_range(&self, start: u64, end: u64) -> impl Future<Output = io::Result<Vec<u8>>> + Send;
}

/// An in-memory object (tests, small bodies).
impl RangeRead for [u8] {
    fn read_range(&self, start: u64, end: u64) -> impl Future<Output = io::Result<Vec<u8>>> + Send {
        let out = self.get(start as usize..end as usize).map(<[u8]>::to_vec).ok_or_else(|| {
            io::Error::new(io::ErrorKind::UnexpectedEof, format!("range {start}-{end} beyond {}", self.len()))
        });
        std::future::ready(out)
    }
}

impl RangeRead for Vec<u8> {
    fn read_range(&self, start: u64, end: u64) -> impl Future<Output = io::Result<Vec<u8>>> + Send {
        self.as_slice().read_range(start, end)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Bzip2,
    Zstd,
    Snappy,
    Deflate,
}

impl Compression {
    /// The `compressionType` table parameter.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Gzip => "gzip",
            Self::Bzip2 => "bzip2",
            Self::Zstd => "zstd",
            Self::Snappy => "snappy",
            Self::Deflate => "deflate",
        }
    }

    /// From magic bytes first (they do not lie), then the key's extension.
    #[must_use]
    pub fn detect(key: &str, head: &[u8]) -> Self {
        if head.starts_with(&[0x1f, 0x8b]) {
            return Self::Gzip;
        }
        if head.len() >= 4 && head.starts_with(b"BZh") && head[3].is_ascii_digit() {
            return Self::Bzip2;
        }
        if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            return Self::Zstd;
        }
        if head.starts_with(SNAPPY_FRAMED_MAGIC) {
            return Self::Snappy;
        }
        match extension(key).as_deref() {
            Some("gz" | "gzip") => Self::Gzip,
            Some("bz2" | "bzip2") => Self::Bzip2,
            Some("zst" | "zstd") => Self::Zstd,
            Some("snappy" | "sz") => Self::Snappy,
            Some("deflate" | "zlib") => Self::Deflate,
            _ => Self::None,
        }
    }
}

const SNAPPY_FRAMED_MAGIC: &[u8] = b"\xff\x06\x00\x00sNaPpY";

fn extension(key: &str) -> Option<String> {
    let name = key.rsplit('/').next()?;
    let (_, ext) = name.rsplit_once('.')?;
    Some(ext.to_ascii_lowercase())
}

/// What a file holds, format-specific.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Format {
    Csv {
        delimiter: char,
        header: bool,
        quoted: bool,
    },
    Json,
    Parquet,
    /// `schema` is the writer's schema (JSON), as AvroSerDe wants it.
    Avro {
        schema: String,
    },
    Orc,
}

/// The classification of one file (or, merged, of a table or partition).
#[derive(Clone, Debug, PartialEq)]
pub struct FileSchema {
    pub format: Format,
    pub compression: Compression,
    pub columns: Vec<(String, GlueType)>,
    /// Records: exact for Parquet and ORC, estimated from the sample otherwise.
    pub record_count: u64,
    /// Mean size of a record in bytes (decompressed, for text).
    pub average_record_size: u64,
}

impl FileSchema {
    /// Glue's `classification`.
    #[must_use]
    pub fn classification(&self) -> &'static str {
        match self.format {
            Format::Csv { .. } => "csv",
            Format::Json => "json",
            Format::Parquet => "parquet",
            Format::Avro { .. } => "avro",
            Format::Orc => "orc",
        }
    }

    /// Whether two files can be one table: same format (and CSV dialect), and at least 70% of
    /// the smaller schema's columns present in the other.
    #[must_use]
    pub fn compatible(&self, other: &Self) -> bool {
        let same_format = match (&self.format, &other.format) {
            (Format::Csv { delimiter: d1, header: h1, .. }, Format::Csv { delimiter: d2, header: h2, .. }) => {
                d1 == d2 && h1 == h2
            }
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        };
        if !same_format {
            return false;
        }
        let smaller = self.columns.len().min(other.columns.len());
        if smaller == 0 {
            return true;
        }
        let common =
            self.columns.iter().filter(|(n, _)| other.columns.iter().any(|(m, _)| m.eq_ignore_ascii_case(n))).count();
        common * 10 >= smaller * 7
    }

    /// Folds `other` in: union of columns by name with widened types, summed records.
    pub fn merge(&mut self, other: &Self) {
        self.columns = merge_fields(&self.columns, &other.columns);
        if let (Format::Csv { quoted, .. }, Format::Csv { quoted: q2, .. }) = (&mut self.format, &other.format) {
            *quoted |= *q2;
        }
        let bytes = self.record_count * self.average_record_size + other.record_count * other.average_record_size;
        self.record_count += other.record_count;
        self.average_record_size = bytes.checked_div(self.record_count).unwrap_or(0);
    }

    /// The catalog columns (types rendered as Glue names).
    #[must_use]
    pub fn catalog_columns(&self) -> Vec<Column> {
        self.columns.iter().map(|(n, t)| Column::new(n.clone(), t.to_string())).collect()
    }

    #[must_use]
    pub fn input_format(&self) -> &'static str {
        match self.format {
            Format::Csv { .. } | Format::Json => "org.apache.hadoop.mapred.TextInputFormat",
            Format::Parquet => "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            Format::Avro { .. } => "org.apache.hadoop.hive.ql.io.avro.AvroContainerInputFormat",
            Format::Orc => "org.apache.hadoop.hive.ql.io.orc.OrcInputFormat",
        }
    }

    #[must_use]
    pub fn output_format(&self) -> &'static str {
        match self.format {
            Format::Csv { .. } | Format::Json => "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            Format::Parquet => "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            Format::Avro { .. } => "org.apache.hadoop.hive.ql.io.avro.AvroContainerOutputFormat",
            Format::Orc => "org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat",
        }
    }

    #[must_use]
    pub fn serde_info(&self) -> SerDeInfo {
        let mut parameters = Parameters::new();
        let library = match &self.format {
            Format::Csv { delimiter, quoted: true, .. } => {
                parameters.insert("separatorChar".into(), delimiter.to_string());
                parameters.insert("quoteChar".into(), "\"".into());
                "org.apache.hadoop.hive.serde2.OpenCSVSerde"
            }
            Format::Csv { delimiter, .. } => {
                parameters.insert("field.delim".into(), delimiter.to_string());
                "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
            }
            Format::Json => {
                let paths: Vec<&str> = self.columns.iter().map(|(n, _)| n.as_str()).collect();
                parameters.insert("paths".into(), paths.join(","));
                "org.openx.data.jsonserde.JsonSerDe"
            }
            Format::Parquet => {
                parameters.insert("serialization.format".into(), "1".into());
                "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
            }
            Format::Avro { schema } => {
                parameters.insert("avro.schema.literal".into(), schema.clone());
                "org.apache.hadoop.hive.serde2.avro.AvroSerDe"
            }
            Format::Orc => "org.apache.hadoop.hive.ql.io.orc.OrcSerde",
        };
        SerDeInfo { name: None, serialization_library: Some(library.into()), parameters }
    }

    /// The format's table parameters (`classification`, `compressionType`, `typeOfData` and
    /// the CSV dialect); statistics and crawler bookkeeping are added by the crawler.
    #[must_use]
    pub fn format_parameters(&self) -> Parameters {
        let mut p = Parameters::new();
        p.insert("classification".into(), self.classification().into());
        p.insert("compressionType".into(), self.compression.as_str().into());
        p.insert("typeOfData".into(), "file".into());
        match &self.format {
            Format::Csv { delimiter, header, quoted } => {
                p.insert("delimiter".into(), delimiter.to_string());
                p.insert("areColumnsQuoted".into(), quoted.to_string());
                p.insert("columnsOrdered".into(), "true".into());
                if *header {
                    p.insert("skip.header.line.count".into(), "1".into());
                }
            }
            Format::Avro { schema } => {
                p.insert("avro.schema.literal".into(), schema.clone());
            }
            _ => {}
        }
        p
    }
}

/// Classifies one object of `size` bytes; `None` when no built-in classifier recognizes it.
pub async fn classify<R: RangeRead + ?Sized>(key: &str, size: u64, reader: &R) -> io::Result<Option<FileSchema>> {
    if size == 0 {
        return Ok(None);
    }
    let probe = reader.read_range(0, size.min(PROBE_MAX)).await?;
    if probe.starts_with(b"PAR1") {
        return columnar::parquet(size, reader).await;
    }
    if probe.starts_with(b"ORC") {
        return columnar::orc(size, reader).await;
    }
    if probe.starts_with(b"Obj\x01") {
        return columnar::avro(probe, size, reader).await;
    }
    let mut raw = probe;
    if size > raw.len() as u64 {
        let more = reader.read_range(raw.len() as u64, size.min(RAW_MAX)).await?;
        raw.extend_from_slice(&more);
    }
    let key = key.to_string();
    // decompression and parsing take milliseconds of CPU: keep them off the async workers
    tokio::task::spawn_blocking(move || Ok(classify_text(&key, &raw, size)))
        .await
        .map_err(|e| io::Error::other(format!("classifier task failed: {e}")))?
}

/// Classifies the first `raw.len()` bytes of a text object of `size` bytes.
#[must_use]
pub fn classify_text(key: &str, raw: &[u8], size: u64) -> Option<FileSchema> {
    let compression = Compression::detect(key, raw);
    let sample = decompress(compression, raw, SAMPLE_MAX);
    let complete = sample.eof && raw.len() as u64 >= size;
    let mut bytes = sample.bytes.as_slice();
    if bytes.starts_with(b"\xef\xbb\xbf") {
        bytes = &bytes[3..];
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        // a sample cut inside a character: keep what is whole
        Err(e) if e.error_len().is_none() && !complete => std::str::from_utf8(&bytes[..e.valid_up_to()]).ok()?,
        Err(_) => return None,
    };
    if text.contains('\0') {
        return None;
    }
    let (text, sample_complete) = if complete {
        (text, true)
    } else {
        // drop the last, likely partial, line
        match text.rfind('\n') {
            Some(i) => (&text[..=i], false),
            None => return None,
        }
    };
    let starts_json = text.trim_start().starts_with(['{', '[']);
    let mut schema = if starts_json { json(text, sample_complete) } else { None };
    if schema.is_none() {
        schema = csv(text);
    }
    let (format, columns, records, parsed) = schema?;
    let records = records.max(1);
    let average = parsed.max(1) as f64 / records as f64;
    let record_count = if sample_complete && parsed >= text.trim_end().len() {
        records as u64
    } else {
        // the object's decompressed size, scaled from the share of it the sample covers
        let total = if sample_complete {
            text.len() as f64
        } else {
            text.len() as f64 * size as f64 / sample.consumed.max(1) as f64
        };
        (total / average).round() as u64
    };
    Some(FileSchema { format, compression, columns, record_count, average_record_size: average.round() as u64 })
}

struct Sample {
    bytes: Vec<u8>,
    /// The decompressed stream ended (as opposed to the cap or a truncated input).
    eof: bool,
    /// Input bytes consumed to produce `bytes`.
    consumed: usize,
}

/// Counts the bytes a decoder pulls from its input.
struct Counting<'a> {
    inner: &'a [u8],
    pos: usize,
}

impl Read for Counting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.inner.len() - self.pos);
        buf[..n].copy_from_slice(&self.inner[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Decompresses at most `cap` bytes from the start of `raw` (which may end mid-stream).
fn decompress(compression: Compression, raw: &[u8], cap: usize) -> Sample {
    let mut input = Counting { inner: raw, pos: 0 };
    let mut out = Vec::new();
    let eof = match compression {
        Compression::None => {
            let n = raw.len().min(cap);
            out.extend_from_slice(&raw[..n]);
            input.pos = n;
            n == raw.len()
        }
        Compression::Gzip => drain(flate2::read::MultiGzDecoder::new(&mut input), &mut out, cap),
        Compression::Deflate => drain(flate2::read::ZlibDecoder::new(&mut input), &mut out, cap),
        Compression::Bzip2 => drain(bzip2::read::MultiBzDecoder::new(&mut input), &mut out, cap),
        Compression::Zstd => match zstd::stream::read::Decoder::new(&mut input) {
            Ok(d) => drain(d, &mut out, cap),
            Err(_) => false,
        },
        Compression::Snappy if raw.starts_with(SNAPPY_FRAMED_MAGIC) => {
            drain(snap::read::FrameDecoder::new(&mut input), &mut out, cap)
        }
        Compression::Snappy => hadoop_snappy(&mut input, &mut out, cap),
    };
    Sample { bytes: out, eof, consumed: input.pos }
}

/// Reads `r` into `out` up to `cap` bytes; true when the stream ended cleanly before the cap.
fn drain(mut r: impl Read, out: &mut Vec<u8>, cap: usize) -> bool {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if out.len() >= cap {
            out.truncate(cap);
            return false;
        }
        match r.read(&mut buf) {
            Ok(0) => return true,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // a sample cut mid-stream: keep what decoded
            Err(_) => return false,
        }
    }
}

/// Hadoop's block-framed snappy (`.snappy` written by Hadoop's SnappyCodec): blocks of
/// (uncompressed length, then chunks of (compressed length, raw snappy bytes)), big-endian.
fn hadoop_snappy(input: &mut Counting<'_>, out: &mut Vec<u8>, cap: usize) -> bool {
    let data = input.inner;
    let be32 = |at: usize| data.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
    let mut pos = 0;
    let mut decoder = snap::raw::Decoder::new();
    while pos < data.len() {
        let Some(block_len) = be32(pos) else { return false };
        pos += 4;
        let mut produced = 0;
        while produced < block_len {
            let Some(chunk_len) = be32(pos) else { return false };
            pos += 4;
            let Some(chunk) = data.get(pos..pos + chunk_len) else { return false };
            pos += chunk_len;
            input.pos = pos;
            let Ok(plain) = decoder.decompress_vec(chunk) else { return false };
            produced += plain.len();
            out.extend_from_slice(&plain);
            if out.len() >= cap {
                out.truncate(cap);
                return false;
            }
        }
    }
    true
}

// ---- scalar inference ------------------------------------------------------------------------

/// The type of one text value (a CSV cell), as Glue's CSV classifier reads it: empty is null.
#[must_use]
pub fn infer_scalar(value: &str) -> GlueType {
    let v = value.trim();
    if v.is_empty() {
        return GlueType::Unknown;
    }
    if v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false") {
        return GlueType::Boolean;
    }
    let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return if v.parse::<i64>().is_ok() { GlueType::BigInt } else { GlueType::Double };
    }
    if is_decimal_number(digits) {
        return GlueType::Double;
    }
    if is_date(v) {
        return GlueType::Date;
    }
    if is_timestamp(v) {
        return GlueType::Timestamp;
    }
    GlueType::String
}

/// `1.5`, `.5`, `1.`, `1e10`, `2.5E-3` (no `inf`/`nan`, which Rust would accept).
fn is_decimal_number(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = digits(int) && digits(frac) && !(int.is_empty() && frac.is_empty());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok && (mantissa.contains('.') || exponent.is_some())
}

/// `YYYY-MM-DD` with a plausible month and day.
fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let t = &s[r];
        if t.bytes().all(|c| c.is_ascii_digit()) { t.parse().ok() } else { None }
    };
    matches!((num(0..4), num(5..7), num(8..10)), (Some(_), Some(m), Some(d)) if (1..=12).contains(&m) && (1..=31).contains(&d))
}

/// `YYYY-MM-DD HH:MM:SS[.fffffffff]`, the form Hive's text SerDe reads as a timestamp.
fn is_timestamp(s: &str) -> bool {
    if s.len() < 19 || !s.is_char_boundary(10) || !s.is_char_boundary(19) || !is_date(&s[..10]) {
        return false;
    }
    let b = s.as_bytes();
    if b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return false;
    }
    let two = |i: usize| b[i].is_ascii_digit() && b[i + 1].is_ascii_digit();
    if !(two(11) && two(14) && two(17)) {
        return false;
    }
    let hour = (b[11] - b'0') * 10 + (b[12] - b'0');
    let minute = (b[14] - b'0') * 10 + (b[15] - b'0');
    let second = (b[17] - b'0') * 10 + (b[18] - b'0');
    if hour > 23 || minute > 59 || second > 60 {
        return false;
    }
    match &s[19..] {
        "" => true,
        frac => {
            frac.len() >= 2
                && frac.len() <= 10
                && frac.starts_with('.')
                && frac[1..].bytes().all(|c| c.is_ascii_digit())
        }
    }
}

/// A text sample's reading: format, columns, records and the bytes they took.
type Parsed = (Format, Vec<(String, GlueType)>, usize, usize);

// ---- CSV -----------------------------------------------------------------------------------

const DELIMITERS: [char; 5] = [',', '\t', '|', ';', '\u{1}'];

/// One parsed CSV record.
struct Record {
    fields: Vec<String>,
    quoted: bool,
}

/// Splits `text` into records (RFC 4180 quoting; quoted fields may hold delimiters, doubled
/// quotes and newlines). Stops after `max` records; also returns the bytes parsed.
fn parse_csv(text: &str, delimiter: char, max: usize) -> (Vec<Record>, usize) {
    let mut records = Vec::new();
    let mut chars = text.char_indices().peekable();
    while chars.peek().is_some() && records.len() < max {
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut quoted_any = false;
        let mut at_field_start = true;
        let mut in_quotes = false;
        loop {
            let Some((_, c)) = chars.next() else {
                fields.push(std::mem::take(&mut field));
                break;
            };
            if in_quotes {
                if c == '"' {
                    if chars.peek().is_some_and(|&(_, n)| n == '"') {
                        chars.next();
                        field.push('"');
                    } else {
                        in_quotes = false;
                    }
                } else {
                    field.push(c);
                }
                continue;
            }
            match c {
                '"' if at_field_start => {
                    in_quotes = true;
                    quoted_any = true;
                    at_field_start = false;
                }
                '\n' => {
                    if field.ends_with('\r') {
                        field.pop();
                    }
                    fields.push(std::mem::take(&mut field));
                    break;
                }
                c if c == delimiter => {
                    fields.push(std::mem::take(&mut field));
                    at_field_start = true;
                }
                c => {
                    field.push(c);
                    at_field_start = false;
                }
            }
        }
        // skip blank lines
        if fields.len() == 1 && fields[0].trim().is_empty() {
            continue;
        }
        records.push(Record { fields, quoted: quoted_any });
    }
    let end = chars.peek().map_or(text.len(), |&(i, _)| i);
    (records, end)
}

/// The most common field count among `records` and the share of records that have it.
fn consistency(records: &[Record]) -> (usize, f64) {
    let mut counts: std::collections::BTreeMap<usize, usize> = std::collections::BTreeMap::new();
    for r in records {
        *counts.entry(r.fields.len()).or_default() += 1;
    }
    let (mode, n) = counts.into_iter().max_by_key(|&(len, n)| (n, len)).unwrap_or((0, 0));
    (mode, n as f64 / records.len().max(1) as f64)
}

/// Glue's built-in CSV classifier: a delimiter among `, \t | ; ^A` that splits rows into a
/// consistent number (at least two) of columns, at least two rows, header detection.
fn csv(text: &str) -> Option<Parsed> {
    let mut best: Option<(char, usize, f64)> = None;
    for d in DELIMITERS {
        if !text.contains(d) {
            continue;
        }
        let (probe, _) = parse_csv(text, d, 200);
        let (columns, share) = consistency(&probe);
        if columns < 2 || share < 0.9 {
            continue;
        }
        if best.is_none_or(|(_, c, s)| share > s || (share == s && columns > c)) {
            best = Some((d, columns, share));
        }
    }
    fn cell(r: &Record, i: usize) -> &str {
        r.fields.get(i).map_or("", String::as_str)
    }
    let (delimiter, mut width, _) = best?;
    let (records, parsed) = parse_csv(text, delimiter, SAMPLE_ROWS);
    if records.len() < 2 {
        return None;
    }
    let quoted = records.iter().any(|r| r.quoted);
    // a trailing delimiter on every line makes an always-empty last column: drop it
    if records.iter().all(|r| r.fields.len() < width || r.fields[width - 1].trim().is_empty()) {
        width -= 1;
        if width < 2 {
            return None;
        }
    }
    let column_types = |rows: &[Record]| -> Vec<GlueType> {
        (0..width).map(|i| rows.iter().fold(GlueType::Unknown, |t, r| t.widen(&infer_scalar(cell(r, i))))).collect()
    };
    let header = has_header(&records, width);
    let (names, data): (Vec<String>, &[Record]) = if header {
        ((0..width).map(|i| cell(&records[0], i).trim().to_lowercase()).collect(), &records[1..])
    } else {
        ((0..width).map(|i| format!("col{i}")).collect(), &records[..])
    };
    let types = column_types(data);
    let columns = names.into_iter().zip(types).collect();
    Some((Format::Csv { delimiter, header, quoted }, columns, data.len(), parsed))
}

/// Glue's header heuristics: every field of the first row is a string (non-empty, under 150
/// characters, unique); and the row differs from the data: some column below is not a string,
/// or (all strings) the first row looks like identifiers while the data does not.
fn has_header(records: &[Record], width: usize) -> bool {
    let first = &records[0];
    let data = &records[1..];
    let names: Vec<&str> = (0..width).map(|i| first.fields.get(i).map_or("", |f| f.trim())).collect();
    let name_ok = |n: &&str| !n.is_empty() && n.chars().count() < 150 && infer_scalar(n) == GlueType::String;
    if !names.iter().all(name_ok) {
        return false;
    }
    let mut seen = std::collections::HashSet::new();
    if !names.iter().all(|n| seen.insert(n.to_lowercase())) {
        return false;
    }
    let data_types: Vec<GlueType> = (0..width)
        .map(|i| {
            data.iter()
                .fold(GlueType::Unknown, |t, r| t.widen(&infer_scalar(r.fields.get(i).map_or("", String::as_str))))
        })
        .collect();
    if data_types.iter().any(|t| !matches!(t, GlueType::String | GlueType::Unknown)) {
        return true;
    }
    let identifier = |s: &str| {
        let mut chars = s.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if !names.iter().all(|n| identifier(n)) {
        return false;
    }
    let values =
        |i: usize| data.iter().filter_map(move |r| r.fields.get(i)).map(|v| v.trim()).filter(|v| !v.is_empty());
    let repeats = (0..width).any(|i| values(i).any(|v| v.eq_ignore_ascii_case(names[i])));
    let differs = (0..width).any(|i| values(i).next().is_some() && values(i).all(|v| !identifier(v)));
    !repeats && differs
}

// ---- JSON ----------------------------------------------------------------------------------

/// The type of a JSON value, inferred while parsing (no tree is built; keys keep their order).
struct Inferred(GlueType);

impl<'de> serde::Deserialize<'de> for Inferred {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(InferVisitor).map(Inferred)
    }
}

struct InferVisitor;

impl<'de> serde::de::Visitor<'de> for InferVisitor {
    type Value = GlueType;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<GlueType, E> {
        Ok(GlueType::Boolean)
    }
    fn visit_i64<E>(self, _: i64) -> Result<GlueType, E> {
        Ok(GlueType::BigInt)
    }
    fn visit_u64<E>(self, v: u64) -> Result<GlueType, E> {
        Ok(if i64::try_from(v).is_ok() { GlueType::BigInt } else { GlueType::Double })
    }
    fn visit_f64<E>(self, _: f64) -> Result<GlueType, E> {
        Ok(GlueType::Double)
    }
    fn visit_str<E>(self, _: &str) -> Result<GlueType, E> {
        Ok(GlueType::String)
    }
    fn visit_unit<E>(self) -> Result<GlueType, E> {
        Ok(GlueType::Unknown)
    }
    fn visit_none<E>(self) -> Result<GlueType, E> {
        Ok(GlueType::Unknown)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<GlueType, A::Error> {
        let mut element = GlueType::Unknown;
        while let Some(Inferred(t)) = seq.next_element()? {
            element = element.widen(&t);
        }
        Ok(GlueType::Array(Box::new(element)))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<GlueType, A::Error> {
        let mut fields: Vec<(String, GlueType)> = Vec::new();
        while let Some((key, Inferred(t))) = map.next_entry::<String, Inferred>()? {
            match fields.iter_mut().find(|(n, _)| *n == key) {
                Some((_, existing)) => *existing = existing.widen(&t),
                None => fields.push((key, t)),
            }
        }
        Ok(GlueType::Struct(fields))
    }
}

/// JSON documents or JSON Lines: every record an object (its keys become columns), or a
/// top-level array (one column `array`, as Glue's JSON classifier without a JsonPath does).
fn json(text: &str, complete: bool) -> Option<Parsed> {
    let mut merged = GlueType::Unknown;
    let mut records = 0usize;
    let mut parsed = 0usize;
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Inferred>();
    loop {
        match stream.next() {
            None => break,
            Some(Ok(Inferred(t))) => {
                if !matches!(t, GlueType::Struct(_) | GlueType::Array(_)) {
                    return None;
                }
                merged = merged.widen(&t);
                records += 1;
                parsed = stream.byte_offset();
                if records >= SAMPLE_ROWS {
                    break;
                }
            }
            // a document cut by the end of the sample
            Some(Err(e)) if e.is_eof() && !complete && records > 0 => break,
            Some(Err(_)) => return None,
        }
    }
    let columns = match merged {
        GlueType::Struct(fields) => {
            // keys that differ only in case are one Hive column
            let lowered: Vec<(String, GlueType)> = fields.into_iter().map(|(n, t)| (n.to_lowercase(), t)).collect();
            merge_fields(&[], &lowered)
        }
        t @ GlueType::Array(_) => vec![("array".to_string(), t)],
        _ => return None,
    };
    if columns.is_empty() {
        return None;
    }
    Some((Format::Json, columns, records, parsed))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn names_types(s: &FileSchema) -> Vec<(String, String)> {
        s.columns.iter().map(|(n, t)| (n.clone(), t.to_string())).collect()
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(a, b)| ((*a).to_string(), (*b).to_string())).collect()
    }

    #[test]
    fn scalars() {
        assert_eq!(infer_scalar("42"), GlueType::BigInt);
        assert_eq!(infer_scalar("-7"), GlueType::BigInt);
        assert_eq!(infer_scalar("99999999999999999999"), GlueType::Double);
        assert_eq!(infer_scalar("2.5e-3"), GlueType::Double);
        assert_eq!(infer_scalar(".5"), GlueType::Double);
        assert_eq!(infer_scalar("inf"), GlueType::String);
        assert_eq!(infer_scalar("TRUE"), GlueType::Boolean);
        assert_eq!(infer_scalar("2026-11-26"), GlueType::Date);
        assert_eq!(infer_scalar("2026-13-26"), GlueType::String);
        assert_eq!(infer_scalar("2026-11-26 10:11:12.345"), GlueType::Timestamp);
        assert_eq!(infer_scalar("2026-11-26T10:11:12Z"), GlueType::String);
        assert_eq!(infer_scalar(" "), GlueType::Unknown);
    }

    #[tokio::test]
    async fn csv_with_header() {
        let body = b"id,name,price,sold_at,active\n1,apple,1.5,2026-01-02 03:04:05,true\n2,pear,2,2026-01-03 00:00:00,false\n3,,,,\n".to_vec();
        let s = classify("data/fruit.csv", body.len() as u64, &body).await.unwrap().unwrap();
        assert_eq!(s.classification(), "csv");
        assert_eq!(s.format, Format::Csv { delimiter: ',', header: true, quoted: false });
        assert_eq!(
            names_types(&s),
            pairs(&[
                ("id", "bigint"),
                ("name", "string"),
                ("price", "double"),
                ("sold_at", "timestamp"),
                ("active", "boolean")
            ])
        );
        assert_eq!(s.record_count, 3);
        let p = s.format_parameters();
        assert_eq!(p["skip.header.line.count"], "1");
        assert_eq!(p["delimiter"], ",");
        assert_eq!(p["compressionType"], "none");
        assert_eq!(s.serde_info().parameters["field.delim"], ",");
        assert_eq!(s.input_format(), "org.apache.hadoop.mapred.TextInputFormat");
    }

    #[tokio::test]
    async fn csv_without_header_and_other_delimiters() {
        let body = b"1|alpha|2.5\n2|beta|3\n3|gamma|4\n".to_vec();
        let s = classify("x.txt", body.len() as u64, &body).await.unwrap().unwrap();
        assert_eq!(s.format, Format::Csv { delimiter: '|', header: false, quoted: false });
        assert_eq!(names_types(&s), pairs(&[("col0", "bigint"), ("col1", "string"), ("col2", "double")]));
        assert!(!s.format_parameters().contains_key("skip.header.line.count"));

        // all strings, same shape: no header (Glue cannot tell)
        let body = b"alice\tparis\nbob\tlondon\ncarol\toslo\n".to_vec();
        let s = classify("p.tsv", body.len() as u64, &body).await.unwrap().unwrap();
        assert_eq!(s.format, Format::Csv { delimiter: '\t', header: false, quoted: false });

        // all strings, but the first row is identifiers and the data is not
        let body = b"full_name;city\nAlice Smith;New York\nBob Jones;Los Angeles\n".to_vec();
        let s = classify("p.csv", body.len() as u64, &body).await.unwrap().unwrap();
        assert_eq!(s.format, Format::Csv { delimiter: ';', header: true, quoted: false });
        assert_eq!(names_types(&s), pairs(&[("full_name", "string"), ("city", "string")]));

        // quoted fields with delimiters and newlines: OpenCSVSerde
        let body = b"a,b\n\"x, y\",1\n\"multi\nline\",2\n".to_vec();
        let s = classify("q.csv", body.len() as u64, &body).await.unwrap().unwrap();
        assert_eq!(s.format, Format::Csv { delimiter: ',', header: true, quoted: true });
        assert_eq!(s.record_count, 2);
        assert_eq!(s.serde_info().serialization_library.as_deref(), Some("org.apache.hadoop.hive.serde2.OpenCSVSerde"));

        // a trailing delimiter on every line is not a column
        let body = b"k,v,\na,1,\nb,2,\n".to_vec();
        let s = classify("t.csv", body.len() as u64, &body).await.unwrap().unwrap();
        assert_eq!(names_types(&s), pairs(&[("k", "string"), ("v", "bigint")]));

        // one column or one line: not CSV
        let body = b"just one column\nof text\n".to_vec();
        assert!(classify("n.txt", body.len() as u64, &body).await.unwrap().is_none());
        let body = b"a,b,c\n".to_vec();
        assert!(classify("n.csv", body.len() as u64, &body).await.unwrap().is_none());
        let body = vec![0u8, 1, 2, 3, 255, 254];
        assert!(classify("bin", body.len() as u64, &body).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn compressed_csv() {
        let plain = b"id,amount\n1,2.5\n2,3.5\n";
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(plain).unwrap();
        let gz = gz.finish().unwrap();
        // gzip is found by its magic whatever the name
        let s = classify("a/part-0000", gz.len() as u64, &gz).await.unwrap().unwrap();
        assert_eq!(s.compression, Compression::Gzip);
        assert_eq!(names_types(&s), pairs(&[("id", "bigint"), ("amount", "double")]));
        assert_eq!(s.format_parameters()["compressionType"], "gzip");

        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        bz.write_all(plain).unwrap();
        let bz = bz.finish().unwrap();
        let s = classify("a/x.csv.bz2", bz.len() as u64, &bz).await.unwrap().unwrap();
        assert_eq!((s.compression, s.record_count), (Compression::Bzip2, 2));

        let zs = zstd::stream::encode_all(&plain[..], 3).unwrap();
        let s = classify("a/x.csv.zst", zs.len() as u64, &zs).await.unwrap().unwrap();
        assert_eq!(s.compression, Compression::Zstd);

        let mut framed = snap::write::FrameEncoder::new(Vec::new());
        framed.write_all(plain).unwrap();
        let framed = framed.into_inner().unwrap();
        let s = classify("a/x.csv.sz", framed.len() as u64, &framed).await.unwrap().unwrap();
        assert_eq!(s.compression, Compression::Snappy);

        let block = snap::raw::Encoder::new().compress_vec(plain).unwrap();
        let mut hadoop = (plain.len() as u32).to_be_bytes().to_vec();
        hadoop.extend_from_slice(&(block.len() as u32).to_be_bytes());
        hadoop.extend_from_slice(&block);
        let s = classify("a/x.csv.snappy", hadoop.len() as u64, &hadoop).await.unwrap().unwrap();
        assert_eq!((s.compression, s.record_count), (Compression::Snappy, 2));
    }

    #[tokio::test]
    async fn large_csv_is_sampled() {
        // 3 MiB of gzip'd rows: only the first MiB (decompressed) is looked at
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        writeln!(gz, "n,label").unwrap();
        let mut rows = 0u64;
        let mut written = 0usize;
        while written < 3 * 1024 * 1024 {
            let line = format!("{rows},label-{}\n", rows % 97);
            written += line.len();
            gz.write_all(line.as_bytes()).unwrap();
            rows += 1;
        }
        let gz = gz.finish().unwrap();
        let s = classify("big.csv.gz", gz.len() as u64, &gz).await.unwrap().unwrap();
        assert_eq!(names_types(&s), pairs(&[("n", "bigint"), ("label", "string")]));
        // estimated from the sample, within a factor of two of the truth
        assert!(s.record_count > rows / 2 && s.record_count < rows * 2, "{} vs {rows}", s.record_count);
    }

    #[tokio::test]
    async fn json_lines_with_nested_fields() {
        let body = br#"{"id": 1, "user": {"name": "a", "age": 30}, "tags": ["x"], "score": 1}
{"id": 2, "user": {"name": "b", "email": "b@x"}, "tags": [], "score": 2.5, "Extra": null}
{"id": 3, "user": {"name": "c", "age": 31.5}, "tags": ["y", "z"], "score": 3, "ok": true}
"#
        .to_vec();
        let s = classify("events/2026/e.json", body.len() as u64, &body).await.unwrap().unwrap();
        assert_eq!(s.classification(), "json");
        assert_eq!(
            names_types(&s),
            pairs(&[
                ("id", "bigint"),
                ("user", "struct<name:string,age:double,email:string>"),
                ("tags", "array<string>"),
                ("score", "double"),
                ("extra", "string"),
                ("ok", "boolean"),
            ])
        );
        assert_eq!(s.record_count, 3);
        assert_eq!(s.serde_info().serialization_library.as_deref(), Some("org.openx.data.jsonserde.JsonSerDe"));
        assert_eq!(s.serde_info().parameters["paths"], "id,user,tags,score,extra,ok");

        // a pretty-printed document is one record
        let body = b"{\n  \"a\": {\"b\": [1, 2]},\n  \"c\": \"d\"\n}\n".to_vec();
        let s = classify("doc.json", body.len() as u64, &body).await.unwrap().unwrap();
        assert_eq!(names_types(&s), pairs(&[("a", "struct<b:array<bigint>>"), ("c", "string")]));

        // a top-level array is one column
        let body = br#"[{"a": 1}, {"a": 2, "b": "x"}]"#.to_vec();
        let s = classify("arr.json", body.len() as u64, &body).await.unwrap().unwrap();
        assert_eq!(names_types(&s), pairs(&[("array", "array<struct<a:bigint,b:string>>")]));

        // broken JSON is not JSON (and not CSV either)
        let body = b"{\"a\": 1\n".to_vec();
        assert!(classify("bad.json", body.len() as u64, &body).await.unwrap().is_none());
    }

    #[test]
    fn merge_and_compatibility() {
        let a = classify_text("a.csv", b"id,name\n1,x\n2,y\n", 16).unwrap();
        let b = classify_text("b.csv", b"id,name,total\n3,z,1.5\n", 22).unwrap();
        let c = classify_text("c.csv", b"order,sku\n3,z\n", 14).unwrap();
        assert!(a.compatible(&b));
        assert!(!a.compatible(&c));
        let mut m = a.clone();
        m.merge(&b);
        assert_eq!(names_types(&m), pairs(&[("id", "bigint"), ("name", "string"), ("total", "double")]));
        assert_eq!(m.record_count, 3);
        let j = classify_text("j.json", b"{\"id\": 1, \"name\": \"x\"}\n", 24).unwrap();
        assert!(!a.compatible(&j));
    }
}
