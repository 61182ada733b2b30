//! ORC output: the column types orc-rust can write, and the encoding of batches by its Arrow
//! writer into a sink it hands back.

use std::cell::RefCell;
use std::io::{BufWriter, Write};
use std::rc::Rc;
use std::sync::mpsc;

use arrow_schema::{DataType, Schema, SchemaRef};

use super::coerce::{Kind, Val};
use super::{ConversionSpec, ConvertError, OrcCompression, OrcOptions, build_batch};

/// orc-rust 0.9 writes only flat primitive columns (it panics on others).
pub(super) fn check_orc(spec: &ConversionSpec, schema: &Schema) -> Result<(), ConvertError> {
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

/// Encodes the batches received on `rx` into one ORC file written to `out`.
pub(super) fn write_orc<W: Write>(
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
