//! Parquet output: the writer properties of a `ParquetSerDe` configuration and the encoding of
//! batches by `parquet`'s Arrow writer.

use std::io::Write;
use std::sync::mpsc;

use arrow_schema::{Schema, SchemaRef};
use parquet::arrow::{ArrowSchemaConverter, ArrowWriter};
use parquet::basic::{Compression, GzipLevel};
use parquet::file::properties::{WriterProperties, WriterVersion};

use super::coerce::{Kind, Val};
use super::{BATCH_ROWS, ConvertError, ParquetCompression, ParquetOptions, build_batch};

/// Upper bound of a Parquet row group in bytes, whatever the block size asks for.
const MAX_ROW_GROUP_BYTES: usize = 128 << 20;
/// Upper bound of a Parquet row group in rows.
const MAX_ROW_GROUP_ROWS: usize = 1 << 20;

/// Checks that the table's schema has a Parquet equivalent.
pub(super) fn check_parquet(schema: &Schema) -> Result<(), ConvertError> {
    ArrowSchemaConverter::new()
        .convert(schema)
        .map_err(|e| ConvertError::Schema(format!("no Parquet schema for the table: {e}")))?;
    Ok(())
}

/// Encodes the batches received on `rx` into one Parquet file written to `out`.
pub(super) fn write_parquet<W: Write + Send>(
    out: W,
    schema: &SchemaRef,
    kinds: &[Kind],
    options: &ParquetOptions,
    rx: mpsc::Receiver<Vec<Vec<Val>>>,
) -> Result<W, ConvertError> {
    let mut writer = ArrowWriter::try_new(out, schema.clone(), Some(parquet_properties(options)))
        .map_err(|e| ConvertError::Write(e.to_string()))?;
    for columns in rx {
        let batch = build_batch(schema, kinds, &columns)?;
        writer.write(&batch).map_err(|e| ConvertError::Write(e.to_string()))?;
    }
    writer.into_inner().map_err(|e| ConvertError::Write(e.to_string()))
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
