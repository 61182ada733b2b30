//! Self-describing formats: the schema is read from a small part of the object only — the
//! Parquet footer, the ORC file tail, the Avro header.

use std::collections::HashMap;
use std::io::{self, Read};

use arrow_schema::DataType;
use serde_json::Value;

use super::classify::{Compression, FileSchema, Format, RangeRead};
use super::types::GlueType;

/// The largest footer (Parquet metadata, ORC footer) tarn reads.
const FOOTER_MAX: u64 = 64 * 1024 * 1024;
/// The first read at the end of a columnar file; most footers fit.
const TAIL_GUESS: u64 = 64 * 1024;
/// The largest Avro header tarn reads.
const AVRO_HEADER_MAX: u64 = 1024 * 1024;

fn lower(columns: impl IntoIterator<Item = (String, GlueType)>) -> Vec<(String, GlueType)> {
    columns.into_iter().map(|(n, t)| (n.to_lowercase(), t)).collect()
}

/// Reads `[size - len, size)` for a footer ending `end_gap` bytes before the end, reusing
/// `tail` (the last bytes of the object) when it already holds them.
async fn footer_bytes<R: RangeRead + ?Sized>(
    reader: &R,
    size: u64,
    tail: &[u8],
    len: u64,
    end_gap: u64,
) -> io::Result<Option<Vec<u8>>> {
    if len > FOOTER_MAX || len + end_gap > size {
        return Ok(None);
    }
    let (tail_len, len_us, gap) = (tail.len() as u64, len as usize, end_gap as usize);
    if len + end_gap <= tail_len {
        let end = tail.len() - gap;
        return Ok(Some(tail[end - len_us..end].to_vec()));
    }
    Ok(Some(reader.read_range(size - end_gap - len, size - end_gap).await?))
}

// ---- Parquet -------------------------------------------------------------------------------

/// Parquet: `PAR1` at both ends, the Thrift metadata just before the last 8 bytes.
pub async fn parquet<R: RangeRead + ?Sized>(size: u64, reader: &R) -> io::Result<Option<FileSchema>> {
    if size < 12 {
        return Ok(None);
    }
    let tail = reader.read_range(size - size.min(TAIL_GUESS), size).await?;
    let n = tail.len();
    // `PARE` (encrypted footer) cannot be read without keys
    if n < 8 || &tail[n - 4..] != b"PAR1" {
        return Ok(None);
    }
    let meta_len = u64::from(u32::from_le_bytes([tail[n - 8], tail[n - 7], tail[n - 6], tail[n - 5]]));
    let Some(meta) = footer_bytes(reader, size, &tail, meta_len, 8).await? else { return Ok(None) };
    drop(tail);
    let Ok(md) = parquet::file::metadata::ParquetMetaDataReader::decode_metadata(&meta) else { return Ok(None) };
    let file = md.file_metadata();
    let Ok(schema) = parquet::arrow::parquet_to_arrow_schema(file.schema_descr(), None) else { return Ok(None) };
    let columns = lower(schema.fields().iter().map(|f| (f.name().clone(), arrow_type(f.data_type()))));
    let rows = u64::try_from(file.num_rows()).unwrap_or(0);
    Ok(Some(FileSchema {
        format: Format::Parquet,
        compression: Compression::None,
        columns,
        record_count: rows,
        average_record_size: size.checked_div(rows).unwrap_or(0),
    }))
}

/// Arrow's reading of a Parquet type, named as Glue names it.
#[must_use]
pub fn arrow_type(t: &DataType) -> GlueType {
    use DataType as D;
    match t {
        D::Null => GlueType::Unknown,
        D::Boolean => GlueType::Boolean,
        D::Int8 => GlueType::TinyInt,
        D::Int16 | D::UInt8 => GlueType::SmallInt,
        D::Int32 | D::UInt16 => GlueType::Int,
        D::Int64 | D::UInt32 | D::UInt64 => GlueType::BigInt,
        D::Float16 | D::Float32 => GlueType::Float,
        D::Float64 => GlueType::Double,
        D::Utf8 | D::LargeUtf8 | D::Utf8View => GlueType::String,
        D::Binary | D::LargeBinary | D::BinaryView | D::FixedSizeBinary(_) => GlueType::Binary,
        D::Date32 | D::Date64 => GlueType::Date,
        D::Timestamp(..) => GlueType::Timestamp,
        D::Time32(_) => GlueType::Int,
        D::Time64(_) | D::Duration(_) => GlueType::BigInt,
        D::Decimal32(p, s) | D::Decimal64(p, s) | D::Decimal128(p, s) | D::Decimal256(p, s) => {
            GlueType::Decimal(u32::from(*p), u32::try_from(*s).unwrap_or(0))
        }
        D::List(f) | D::LargeList(f) | D::ListView(f) | D::LargeListView(f) | D::FixedSizeList(f, _) => {
            GlueType::Array(Box::new(arrow_type(f.data_type())))
        }
        D::Struct(fields) => {
            GlueType::Struct(fields.iter().map(|f| (f.name().clone(), arrow_type(f.data_type()))).collect())
        }
        D::Map(entries, _) => match entries.data_type() {
            D::Struct(kv) if kv.len() == 2 => {
                GlueType::Map(Box::new(arrow_type(kv[0].data_type())), Box::new(arrow_type(kv[1].data_type())))
            }
            _ => GlueType::String,
        },
        D::Dictionary(_, v) => arrow_type(v),
        D::RunEndEncoded(_, v) => arrow_type(v.data_type()),
        _ => GlueType::String,
    }
}

// ---- Avro ----------------------------------------------------------------------------------

/// Avro object container: `Obj\x01`, a metadata map holding `avro.schema`, a sync marker.
pub async fn avro<R: RangeRead + ?Sized>(probe: Vec<u8>, size: u64, reader: &R) -> io::Result<Option<FileSchema>> {
    let mut head = probe;
    let header = match avro_header(&head) {
        Some(h) => h,
        None if (head.len() as u64) < size.min(AVRO_HEADER_MAX) => {
            head = reader.read_range(0, size.min(AVRO_HEADER_MAX)).await?;
            match avro_header(&head) {
                Some(h) => h,
                None => return Ok(None),
            }
        }
        None => return Ok(None),
    };
    let Ok(schema_json) = serde_json::from_slice::<Value>(&header.schema) else { return Ok(None) };
    let mut names = HashMap::new();
    let GlueType::Struct(fields) = avro_type(&schema_json, &mut names, 0) else { return Ok(None) };
    // records: scale the first data block's count to the whole object
    let mut pos = header.len;
    let record_count = match (zigzag(&head, &mut pos), zigzag(&head, &mut pos)) {
        (Some(count), Some(bytes)) if count > 0 && bytes > 0 => {
            let block = (pos - header.len) as u64 + bytes as u64 + 16;
            let body = size.saturating_sub(header.len as u64);
            ((count as f64) * body as f64 / block as f64).round() as u64
        }
        _ => 0,
    };
    Ok(Some(FileSchema {
        format: Format::Avro { schema: String::from_utf8_lossy(&header.schema).into_owned() },
        compression: Compression::None,
        columns: lower(fields),
        record_count,
        average_record_size: size.checked_div(record_count).unwrap_or(0),
    }))
}

struct AvroHeader {
    schema: Vec<u8>,
    /// Bytes up to and including the sync marker.
    len: usize,
}

/// An Avro `long`: zig-zag varint.
fn zigzag(b: &[u8], pos: &mut usize) -> Option<i64> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*pos)?;
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some((v >> 1) as i64 ^ -((v & 1) as i64));
        }
    }
    None
}

fn avro_bytes<'a>(b: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let len = usize::try_from(zigzag(b, pos)?).ok()?;
    let out = b.get(*pos..pos.checked_add(len)?)?;
    *pos += len;
    Some(out)
}

fn avro_header(b: &[u8]) -> Option<AvroHeader> {
    let mut pos = 4;
    let mut schema = None;
    loop {
        let mut count = zigzag(b, &mut pos)?;
        if count == 0 {
            break;
        }
        if count < 0 {
            count = -count;
            zigzag(b, &mut pos)?; // block size in bytes
        }
        for _ in 0..count {
            let key = avro_bytes(b, &mut pos)?;
            let value = avro_bytes(b, &mut pos)?;
            if key == b"avro.schema" {
                schema = Some(value.to_vec());
            }
        }
    }
    let len = pos + 16;
    (b.len() >= len).then_some(())?;
    Some(AvroHeader { schema: schema?, len })
}

/// An Avro schema, named as Glue names it; `names` holds the named types seen so far.
fn avro_type(v: &Value, names: &mut HashMap<String, GlueType>, depth: usize) -> GlueType {
    if depth > 64 {
        return GlueType::String;
    }
    match v {
        Value::String(name) => match name.as_str() {
            "null" => GlueType::Unknown,
            "boolean" => GlueType::Boolean,
            "int" => GlueType::Int,
            "long" => GlueType::BigInt,
            "float" => GlueType::Float,
            "double" => GlueType::Double,
            "bytes" => GlueType::Binary,
            "string" => GlueType::String,
            other => names
                .get(other)
                .or_else(|| names.get(other.rsplit('.').next().unwrap_or(other)))
                .cloned()
                .unwrap_or(GlueType::String),
        },
        Value::Array(branches) => {
            let types: Vec<GlueType> = branches
                .iter()
                .filter(|b| b.as_str() != Some("null"))
                .map(|b| avro_type(b, names, depth + 1))
                .collect();
            match types.as_slice() {
                [] => GlueType::Unknown,
                [one] => one.clone(),
                many => {
                    let inner: Vec<String> = many.iter().map(ToString::to_string).collect();
                    GlueType::Other(format!("uniontype<{}>", inner.join(",")))
                }
            }
        }
        Value::Object(o) => {
            let logical = o.get("logicalType").and_then(Value::as_str);
            let int = |k: &str| o.get(k).and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok());
            match logical {
                Some("decimal") => return GlueType::Decimal(int("precision").unwrap_or(38), int("scale").unwrap_or(0)),
                Some("date") => return GlueType::Date,
                Some(l) if l.contains("timestamp") => return GlueType::Timestamp,
                Some("uuid") => return GlueType::String,
                _ => {}
            }
            let kind = o.get("type").cloned().unwrap_or(Value::Null);
            let register = |names: &mut HashMap<String, GlueType>, t: &GlueType| {
                if let Some(name) = o.get("name").and_then(Value::as_str) {
                    names.insert(name.to_string(), t.clone());
                    if let Some(ns) = o.get("namespace").and_then(Value::as_str) {
                        names.insert(format!("{ns}.{name}"), t.clone());
                    }
                }
            };
            match kind.as_str() {
                Some("record" | "error") => {
                    let fields = o.get("fields").and_then(Value::as_array).cloned().unwrap_or_default();
                    let mut out = Vec::new();
                    for f in &fields {
                        let Some(name) = f.get("name").and_then(Value::as_str) else { continue };
                        let t = f.get("type").map_or(GlueType::String, |t| avro_type(t, names, depth + 1));
                        out.push((name.to_string(), t));
                    }
                    let t = GlueType::Struct(out);
                    register(names, &t);
                    t
                }
                Some("enum") => {
                    register(names, &GlueType::String);
                    GlueType::String
                }
                Some("fixed") => {
                    register(names, &GlueType::Binary);
                    GlueType::Binary
                }
                Some("array") => GlueType::Array(Box::new(
                    o.get("items").map_or(GlueType::String, |t| avro_type(t, names, depth + 1)),
                )),
                Some("map") => GlueType::Map(
                    Box::new(GlueType::String),
                    Box::new(o.get("values").map_or(GlueType::String, |t| avro_type(t, names, depth + 1))),
                ),
                _ => avro_type(&kind, names, depth + 1),
            }
        }
        _ => GlueType::String,
    }
}

// ---- ORC -----------------------------------------------------------------------------------

/// ORC: the last byte is the PostScript's length; the PostScript (never compressed) gives the
/// footer's length and compression; the footer lists the types and the row count.
pub async fn orc<R: RangeRead + ?Sized>(size: u64, reader: &R) -> io::Result<Option<FileSchema>> {
    if size < 4 {
        return Ok(None);
    }
    let tail = reader.read_range(size - size.min(TAIL_GUESS), size).await?;
    let Some(&ps_len) = tail.last() else { return Ok(None) };
    let ps_len = usize::from(ps_len);
    if ps_len + 1 > tail.len() {
        return Ok(None);
    }
    let ps = &tail[tail.len() - 1 - ps_len..tail.len() - 1];
    let mut footer_len = 0u64;
    let mut compression = 0u64;
    let mut magic_ok = false;
    let mut pb = Pb { b: ps, pos: 0 };
    while let Some((field, value)) = pb.next_field() {
        match (field, value) {
            (1, PbValue::Varint(v)) => footer_len = v,
            (2, PbValue::Varint(v)) => compression = v,
            (8000, PbValue::Bytes(b)) => magic_ok = b == b"ORC",
            _ => {}
        }
    }
    if !magic_ok {
        return Ok(None);
    }
    let Some(raw) = footer_bytes(reader, size, &tail, footer_len, 1 + ps_len as u64).await? else { return Ok(None) };
    drop(tail);
    let Some(footer) = orc_decompress(compression, &raw) else { return Ok(None) };
    let mut types: Vec<OrcType> = Vec::new();
    let mut rows = 0u64;
    let mut pb = Pb { b: &footer, pos: 0 };
    while let Some((field, value)) = pb.next_field() {
        match (field, value) {
            (4, PbValue::Bytes(b)) => types.push(OrcType::parse(b)),
            (6, PbValue::Varint(v)) => rows = v,
            _ => {}
        }
    }
    let Some(GlueType::Struct(fields)) = orc_glue_type(&types, 0, 0) else { return Ok(None) };
    Ok(Some(FileSchema {
        format: Format::Orc,
        compression: Compression::None,
        columns: lower(fields),
        record_count: rows,
        average_record_size: size.checked_div(rows).unwrap_or(0),
    }))
}

/// ORC's compression framing: chunks behind 3-byte headers (length << 1 | is-original).
fn orc_decompress(codec: u64, raw: &[u8]) -> Option<Vec<u8>> {
    if codec == 0 {
        return Some(raw.to_vec());
    }
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < raw.len() {
        let h = raw.get(pos..pos + 3)?;
        let header = usize::from(h[0]) | usize::from(h[1]) << 8 | usize::from(h[2]) << 16;
        pos += 3;
        let chunk = raw.get(pos..pos + (header >> 1))?;
        pos += header >> 1;
        if header & 1 == 1 {
            out.extend_from_slice(chunk);
            continue;
        }
        let limit = FOOTER_MAX;
        match codec {
            1 => {
                flate2::read::DeflateDecoder::new(chunk).take(limit).read_to_end(&mut out).ok()?;
            }
            2 => out.extend_from_slice(&snap::raw::Decoder::new().decompress_vec(chunk).ok()?),
            5 => {
                zstd::stream::read::Decoder::new(chunk).ok()?.take(limit).read_to_end(&mut out).ok()?;
            }
            // LZO and LZ4 are not read
            _ => return None,
        }
        if out.len() as u64 > FOOTER_MAX {
            return None;
        }
    }
    Some(out)
}

#[derive(Default)]
struct OrcType {
    kind: u64,
    subtypes: Vec<usize>,
    field_names: Vec<String>,
    max_length: Option<u64>,
    precision: Option<u64>,
    scale: Option<u64>,
}

impl OrcType {
    fn parse(b: &[u8]) -> Self {
        let mut t = Self::default();
        let mut pb = Pb { b, pos: 0 };
        while let Some((field, value)) = pb.next_field() {
            match (field, value) {
                (1, PbValue::Varint(v)) => t.kind = v,
                (2, PbValue::Varint(v)) => t.subtypes.push(v as usize),
                (2, PbValue::Bytes(packed)) => {
                    let mut p = Pb { b: packed, pos: 0 };
                    while let Some(v) = p.varint() {
                        t.subtypes.push(v as usize);
                    }
                }
                (3, PbValue::Bytes(name)) => t.field_names.push(String::from_utf8_lossy(name).into_owned()),
                (4, PbValue::Varint(v)) => t.max_length = Some(v),
                (5, PbValue::Varint(v)) => t.precision = Some(v),
                (6, PbValue::Varint(v)) => t.scale = Some(v),
                _ => {}
            }
        }
        t
    }
}

fn orc_glue_type(types: &[OrcType], id: usize, depth: usize) -> Option<GlueType> {
    if depth > 64 {
        return None;
    }
    let t = types.get(id)?;
    let sub = |i: usize| t.subtypes.get(i).and_then(|&s| orc_glue_type(types, s, depth + 1));
    Some(match t.kind {
        0 => GlueType::Boolean,
        1 => GlueType::TinyInt,
        2 => GlueType::SmallInt,
        3 => GlueType::Int,
        4 => GlueType::BigInt,
        5 => GlueType::Float,
        6 => GlueType::Double,
        7 => GlueType::String,
        8 => GlueType::Binary,
        9 | 18 => GlueType::Timestamp,
        10 => GlueType::Array(Box::new(sub(0)?)),
        11 => GlueType::Map(Box::new(sub(0)?), Box::new(sub(1)?)),
        12 => {
            let mut fields = Vec::new();
            for (i, name) in t.field_names.iter().enumerate() {
                fields.push((name.clone(), sub(i)?));
            }
            GlueType::Struct(fields)
        }
        13 => {
            let inner: Option<Vec<String>> = (0..t.subtypes.len()).map(|i| sub(i).map(|s| s.to_string())).collect();
            GlueType::Other(format!("uniontype<{}>", inner?.join(",")))
        }
        14 => GlueType::Decimal(
            t.precision.map_or(38, |p| p as u32),
            t.scale.map_or(if t.precision.is_some() { 0 } else { 10 }, |s| s as u32),
        ),
        15 => GlueType::Date,
        16 => GlueType::Other(format!("varchar({})", t.max_length.unwrap_or(65535))),
        17 => GlueType::Other(format!("char({})", t.max_length.unwrap_or(255))),
        _ => return None,
    })
}

/// A minimal protobuf reader: fields of one message, in order.
struct Pb<'a> {
    b: &'a [u8],
    pos: usize,
}

enum PbValue<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

impl<'a> Pb<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = *self.b.get(self.pos)?;
            self.pos += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn next_field(&mut self) -> Option<(u64, PbValue<'a>)> {
        let key = self.varint()?;
        let value = match key & 7 {
            0 => PbValue::Varint(self.varint()?),
            1 => {
                self.pos = self.pos.checked_add(8).filter(|&p| p <= self.b.len())?;
                PbValue::Fixed
            }
            2 => {
                let len = usize::try_from(self.varint()?).ok()?;
                let out = self.b.get(self.pos..self.pos.checked_add(len)?)?;
                self.pos += len;
                PbValue::Bytes(out)
            }
            5 => {
                self.pos = self.pos.checked_add(4).filter(|&p| p <= self.b.len())?;
                PbValue::Fixed
            }
            _ => return None,
        };
        Some((key >> 3, value))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use arrow_array::builder::{ListBuilder, StringBuilder};
    use arrow_array::{
        ArrayRef, Decimal128Array, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray, StructArray,
        TimestampMicrosecondArray,
    };
    use arrow_schema::Field;

    use super::super::classify::classify;
    use super::*;

    fn names_types(s: &FileSchema) -> Vec<(String, String)> {
        s.columns.iter().map(|(n, t)| (n.clone(), t.to_string())).collect()
    }

    pub(crate) fn parquet_file(rows: usize, extra_column: bool) -> Vec<u8> {
        let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..rows as i64));
        let names: ArrayRef = Arc::new(StringArray::from_iter_values((0..rows).map(|i| format!("n{i}"))));
        let price: ArrayRef = Arc::new(
            Decimal128Array::from_iter_values((0..rows).map(|i| i as i128 * 100))
                .with_precision_and_scale(10, 2)
                .unwrap(),
        );
        let at: ArrayRef = Arc::new(TimestampMicrosecondArray::from_iter_values((0..rows).map(|i| i as i64)));
        let mut tags = ListBuilder::new(StringBuilder::new());
        for i in 0..rows {
            tags.values().append_value(format!("t{i}"));
            tags.append(true);
        }
        let tags: ArrayRef = Arc::new(tags.finish());
        let point: ArrayRef = Arc::new(StructArray::from(vec![
            (
                Arc::new(Field::new("x", DataType::Int32, false)),
                Arc::new(Int32Array::from_iter_values(0..rows as i32)) as ArrayRef,
            ),
            (
                Arc::new(Field::new("y", DataType::Float64, false)),
                Arc::new(Float64Array::from_iter_values((0..rows).map(|i| i as f64))) as ArrayRef,
            ),
        ]));
        let mut columns =
            vec![("Id", ids), ("name", names), ("price", price), ("at", at), ("tags", tags), ("point", point)];
        if extra_column {
            columns.push(("extra", Arc::new(StringArray::from_iter_values((0..rows).map(|_| "e"))) as ArrayRef));
        }
        let batch = RecordBatch::try_from_iter(columns).unwrap();
        let mut out = Vec::new();
        let mut w = parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        out
    }

    /// Reads served from memory, counting the bytes handed out.
    struct Counted(Vec<u8>, std::sync::atomic::AtomicU64);

    impl RangeRead for Counted {
        fn read_range(&self, start: u64, end: u64) -> impl std::future::Future<Output = io::Result<Vec<u8>>> + Send {
            self.1.fetch_add(end - start, std::sync::atomic::Ordering::Relaxed);
            self.0.read_range(start, end)
        }
    }

    #[tokio::test]
    async fn parquet_footer_only() {
        let file = parquet_file(50_000, false);
        assert!(file.len() as u64 > 3 * TAIL_GUESS, "{}", file.len());
        let reader = Counted(file.clone(), 0.into());
        let s = classify("t/part-0.snappy.parquet", file.len() as u64, &reader).await.unwrap().unwrap();
        assert_eq!(s.classification(), "parquet");
        assert_eq!(
            names_types(&s),
            [
                ("id", "bigint"),
                ("name", "string"),
                ("price", "decimal(10,2)"),
                ("at", "timestamp"),
                ("tags", "array<string>"),
                ("point", "struct<x:int,y:double>"),
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        assert_eq!(s.record_count, 50_000);
        // the probe and the tail, not the whole file
        assert!(reader.1.into_inner() <= PROBE_TOTAL, "read too much");
        assert_eq!(
            s.serde_info().serialization_library.as_deref(),
            Some("org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe")
        );
        assert_eq!(s.input_format(), "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat");

        // a truncated file is not Parquet
        let cut = file[..file.len() - 100].to_vec();
        assert!(classify("t/x.parquet", cut.len() as u64, &cut).await.unwrap().is_none());
    }

    const PROBE_TOTAL: u64 = super::super::classify::PROBE_MAX + TAIL_GUESS;

    fn zz(v: i64) -> Vec<u8> {
        let mut n = ((v << 1) ^ (v >> 63)) as u64;
        let mut out = Vec::new();
        loop {
            if n < 0x80 {
                out.push(n as u8);
                return out;
            }
            out.push((n as u8 & 0x7f) | 0x80);
            n >>= 7;
        }
    }

    #[tokio::test]
    async fn avro_header() {
        let schema = r#"{"type":"record","name":"Event","namespace":"x","fields":[
            {"name":"Id","type":"long"},
            {"name":"name","type":["null","string"]},
            {"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},
            {"name":"day","type":{"type":"int","logicalType":"date"}},
            {"name":"inner","type":{"type":"record","name":"Inner","fields":[{"name":"a","type":"int"}]}},
            {"name":"again","type":"x.Inner"},
            {"name":"tags","type":{"type":"array","items":"string"}},
            {"name":"attrs","type":{"type":"map","values":"double"}}]}"#;
        let mut file = b"Obj\x01".to_vec();
        file.extend(zz(2));
        for (k, v) in [("avro.codec", "null".as_bytes()), ("avro.schema", schema.as_bytes())] {
            file.extend(zz(k.len() as i64));
            file.extend_from_slice(k.as_bytes());
            file.extend(zz(v.len() as i64));
            file.extend_from_slice(v);
        }
        file.extend(zz(0));
        file.extend_from_slice(&[7u8; 16]);
        file.extend(zz(10));
        file.extend(zz(100));
        file.extend_from_slice(&[0u8; 100]);
        file.extend_from_slice(&[7u8; 16]);
        let s = classify("a/x.avro", file.len() as u64, &file).await.unwrap().unwrap();
        assert_eq!(s.classification(), "avro");
        assert_eq!(
            names_types(&s),
            [
                ("id", "bigint"),
                ("name", "string"),
                ("amount", "decimal(9,2)"),
                ("day", "date"),
                ("inner", "struct<a:int>"),
                ("again", "struct<a:int>"),
                ("tags", "array<string>"),
                ("attrs", "map<string,double>"),
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        assert_eq!(s.record_count, 10);
        assert!(s.format_parameters()["avro.schema.literal"].contains("Event"));
    }

    fn pb_varint(mut n: u64, out: &mut Vec<u8>) {
        while n >= 0x80 {
            out.push((n as u8 & 0x7f) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
    }

    fn pb_field(field: u64, wire: u64, out: &mut Vec<u8>) {
        pb_varint(field << 3 | wire, out);
    }

    fn pb_bytes(field: u64, b: &[u8], out: &mut Vec<u8>) {
        pb_field(field, 2, out);
        pb_varint(b.len() as u64, out);
        out.extend_from_slice(b);
    }

    fn orc_type(kind: u64, subtypes: &[u64], names: &[&str]) -> Vec<u8> {
        let mut t = Vec::new();
        pb_field(1, 0, &mut t);
        pb_varint(kind, &mut t);
        if !subtypes.is_empty() {
            let mut packed = Vec::new();
            for s in subtypes {
                pb_varint(*s, &mut packed);
            }
            pb_bytes(2, &packed, &mut t);
        }
        for n in names {
            pb_bytes(3, n.as_bytes(), &mut t);
        }
        t
    }

    #[tokio::test]
    async fn orc_tail() {
        let mut footer = Vec::new();
        for t in [
            orc_type(12, &[1, 2, 3], &["Id", "name", "scores"]),
            orc_type(4, &[], &[]),
            orc_type(7, &[], &[]),
            orc_type(10, &[4], &[]),
            orc_type(6, &[], &[]),
        ] {
            pb_bytes(4, &t, &mut footer);
        }
        pb_field(6, 0, &mut footer);
        pb_varint(1234, &mut footer);
        // zlib-framed footer: one compressed chunk
        let mut deflated = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut deflated, &footer).unwrap();
        let deflated = deflated.finish().unwrap();
        let header = (deflated.len() << 1) as u32;
        let mut framed = vec![header as u8, (header >> 8) as u8, (header >> 16) as u8];
        framed.extend_from_slice(&deflated);

        let mut ps = Vec::new();
        pb_field(1, 0, &mut ps);
        pb_varint(framed.len() as u64, &mut ps);
        pb_field(2, 0, &mut ps);
        pb_varint(1, &mut ps);
        pb_bytes(8000, b"ORC", &mut ps);
        let mut file = b"ORC".to_vec();
        file.extend_from_slice(&[0u8; 1000]); // stripes
        file.extend_from_slice(&framed);
        file.extend_from_slice(&ps);
        file.push(ps.len() as u8);
        let s = classify("o/x.orc", file.len() as u64, &file).await.unwrap().unwrap();
        assert_eq!(s.classification(), "orc");
        assert_eq!(
            names_types(&s),
            [("id", "bigint"), ("name", "string"), ("scores", "array<double>")]
                .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        assert_eq!(s.record_count, 1234);
    }
}
