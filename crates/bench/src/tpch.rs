//! `tarn-bench tpch-gen`: TPC-H data as Parquet (one file per table), for bench/tpch.sh.

use std::path::Path;

use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use tpchgen::generators::{
    CustomerGenerator, LineItemGenerator, NationGenerator, OrderGenerator, PartGenerator, PartSuppGenerator,
    RegionGenerator, SupplierGenerator,
};
use tpchgen_arrow::arrow::array::RecordBatch;
use tpchgen_arrow::arrow::datatypes::SchemaRef;
use tpchgen_arrow::{
    CustomerArrow, LineItemArrow, NationArrow, OrderArrow, PartArrow, PartSuppArrow, RegionArrow, SupplierArrow,
};

fn write<I: Iterator<Item = Result<RecordBatch, tpchgen_arrow::arrow::error::ArrowError>>>(
    dir: &Path,
    name: &str,
    schema: SchemaRef,
    batches: I,
) -> Result<u64, String> {
    let table_dir = dir.join(name);
    std::fs::create_dir_all(&table_dir).map_err(|e| e.to_string())?;
    let path = table_dir.join("part-0.parquet");
    let file = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let props = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
    let mut w = ArrowWriter::try_new(file, schema, Some(props)).map_err(|e| e.to_string())?;
    let mut rows = 0;
    for b in batches {
        let b = b.map_err(|e| e.to_string())?;
        rows += b.num_rows() as u64;
        w.write(&b).map_err(|e: parquet::errors::ParquetError| e.to_string())?;
    }
    w.close().map_err(|e| e.to_string())?;
    Ok(rows)
}

/// Writes the 8 tables at scale factor `sf` under `dir/<table>/part-0.parquet`.
pub fn generate(sf: f64, dir: &Path) -> Result<(), String> {
    macro_rules! table {
        ($name:literal, $arrow:ident, $gen:ident) => {{
            let started = std::time::Instant::now();
            let rows = write(dir, $name, $arrow::schema_ref(), $arrow::new($gen::new(sf, 1, 1)))?;
            eprintln!("{}: {rows} rows in {:.1}s", $name, started.elapsed().as_secs_f64());
        }};
    }
    table!("nation", NationArrow, NationGenerator);
    table!("region", RegionArrow, RegionGenerator);
    table!("part", PartArrow, PartGenerator);
    table!("supplier", SupplierArrow, SupplierGenerator);
    table!("partsupp", PartSuppArrow, PartSuppGenerator);
    table!("customer", CustomerArrow, CustomerGenerator);
    table!("orders", OrderArrow, OrderGenerator);
    table!("lineitem", LineItemArrow, LineItemGenerator);
    Ok(())
}
