//! The Glue catalog as DataFusion's catalog: databases are schemas, tables are read in place
//! from their `s3://` locations through [`crate::engine::store`].
//!
//! - Parquet tables read with the table's columns (by name, ignoring case as Athena does) and
//!   DataFusion's projection and predicate pushdown.
//! - Text tables (CSV by LazySimpleSerDe or OpenCSVSerde, JSON by the OpenX/Hive JSON SerDe)
//!   read every column as text and convert it with TRY_CAST, as Hive's SerDes do: a value that
//!   does not parse is NULL, and a short row has NULLs for its missing fields.
//! - Partitioned tables list their partitions from the catalog, keep those the query's filters
//!   allow (partition pruning), scan each partition's location and add its values as columns.
//! - ORC tables read through `crate::engine::orc`; Avro tables through DataFusion's Avro format.
//! - Views plan their SQL on use.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{CatalogProvider, SchemaProvider, Session, TableProvider};
use datafusion::common::Statistics;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::datasource::TableType;
use datafusion::datasource::file_format::avro::AvroFormat;
use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::file_format::file_compression_type::FileCompressionType;
use datafusion::datasource::file_format::json::JsonFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::file_format::{FileFormat, FileMeta};
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::datasource::physical_plan::{FileScanConfig, FileSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{Column as ColumnExpr, Literal, TryCastExpr};
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::union::UnionExec;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use datafusion::prelude::SessionContext;
use object_store::ObjectMeta;
use tarn_catalog::types::arrow_type;
use tarn_catalog::{Catalog, Partition, Table};

use crate::engine::columns::{CaseInsensitiveColumns, case_renames, spelled};
use crate::engine::store::TEXT_SCHEME;
use crate::engine::textcodec::Codec;

/// The catalog name queries see (`awsdatacatalog.db.table`), as in Athena.
pub const CATALOG_NAME: &str = "awsdatacatalog";

pub(crate) fn field_of(c: &tarn_catalog::Column) -> Result<Field> {
    let t = arrow_type(c.type_name()).map_err(|e| DataFusionError::Plan(format!("column {}: {e}", c.name)))?;
    Ok(Field::new(c.name.to_lowercase(), t, true))
}

/// How a table's files are read.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Format {
    Parquet,
    Csv,
    Json,
    Orc,
    Avro,
}

fn format_of(t: &Table) -> Result<Format> {
    let sd = t.storage_descriptor.as_ref();
    let serde = sd.and_then(|s| s.serde_info.as_ref()).and_then(|s| s.serialization_library.as_deref()).unwrap_or("");
    let input = sd.and_then(|s| s.input_format.as_deref()).unwrap_or("");
    let class = t.property("classification").unwrap_or("").to_ascii_lowercase();
    let lower = format!("{serde} {input}").to_ascii_lowercase();
    if lower.contains("parquet") || class == "parquet" {
        Ok(Format::Parquet)
    } else if lower.contains("json") || lower.contains("cloudtrail") || class == "json" {
        Ok(Format::Json)
    } else if lower.contains("lazysimpleserde")
        || lower.contains("opencsv")
        || lower.contains("textinputformat")
        || class == "csv"
    {
        Ok(Format::Csv)
    } else if lower.contains("orc") || class == "orc" {
        Ok(Format::Orc)
    } else if lower.contains("avro") || class == "avro" {
        Ok(Format::Avro)
    } else {
        Ok(Format::Parquet)
    }
}

/// Whether a table's files are Parquet.
#[must_use]
pub fn is_parquet(t: &Table) -> bool {
    matches!(format_of(t), Ok(Format::Parquet))
}

/// The codec a text table's files without a codec extension are compressed with (its
/// `compressionType`, as crawlers set it); files with one follow their extension.
fn default_codec_of(t: &Table) -> Option<Codec> {
    t.property("compressionType").and_then(Codec::of_property)
}

fn unescape_delim(s: &str) -> u8 {
    match s {
        "\\t" => b'\t',
        "\\001" | "\u{1}" => 1,
        s => s.bytes().next().unwrap_or(b','),
    }
}

/// Fields a CSV row may have past the table's columns (ignored, as Hive does); a row with
/// more fails the query with the reader's error.
const CSV_EXTRA_FIELDS: usize = 64;

/// The file format and the schema its files are read with (all text for CSV/JSON).
fn file_format(t: &Table, data_fields: &[Field]) -> Result<(Arc<dyn FileFormat>, SchemaRef, Format)> {
    let format = format_of(t)?;
    // text files are decompressed by the store as they are read (crate::engine::textcodec)
    let compression = FileCompressionType::UNCOMPRESSED;
    match format {
        Format::Parquet => {
            let parquet = NamedParquet { inner: ParquetFormat::default(), bucket: bucket_of(t) };
            Ok((Arc::new(parquet), Arc::new(Schema::new(data_fields.to_vec())), format))
        }
        Format::Csv => {
            let serde = t.storage_descriptor.as_ref().and_then(|s| s.serde_info.as_ref());
            let param = |k: &str| serde.and_then(|s| s.parameters.get(k)).map(String::as_str);
            let open_csv =
                serde.and_then(|s| s.serialization_library.as_deref()).is_some_and(|l| l.contains("OpenCSV"));
            let delim = param("field.delim")
                .or(param("separatorChar"))
                .or(t.property("delimiter"))
                .map_or(if open_csv { b',' } else { 1 }, unescape_delim);
            let skip = t.property("skip.header.line.count").and_then(|v| v.trim().parse::<u32>().ok()).unwrap_or(0);
            let mut csv = CsvFormat::default()
                .with_delimiter(delim)
                .with_has_header(skip >= 1)
                .with_truncated_rows(true)
                .with_file_compression_type(compression);
            csv = if open_csv {
                csv.with_quote(param("quoteChar").map_or(b'"', unescape_delim))
                    .with_escape(param("escapeChar").map(unescape_delim))
            } else {
                // LazySimpleSerDe does not unquote
                csv.with_quote(0)
            };
            // Hive ignores fields past the table's columns; the CSV reader refuses a row longer
            // than its schema, so the schema ends in unread columns that take them
            let text: Vec<Field> = data_fields
                .iter()
                .map(|f| Field::new(f.name(), DataType::Utf8, true))
                .chain((1..=CSV_EXTRA_FIELDS).map(|i| Field::new(format!("$tarn_extra_{i}"), DataType::Utf8, true)))
                .collect();
            Ok((Arc::new(csv), Arc::new(Schema::new(text)), format))
        }
        Format::Json => {
            // JSON values carry their types: read each column as the table types it
            let json = JsonFormat::default().with_file_compression_type(compression);
            Ok((Arc::new(json), Arc::new(Schema::new(data_fields.to_vec())), format))
        }
        Format::Orc => {
            Err(DataFusionError::Internal("ORC tables are read by crate::engine::orc, not a listing table".into()))
        }
        // Avro records carry their schema; columns are read by name as the table types them
        Format::Avro => Ok((Arc::new(AvroFormat), Arc::new(Schema::new(data_fields.to_vec())), format)),
    }
}

/// The bucket of the table's location (for messages).
fn bucket_of(t: &Table) -> String {
    t.location()
        .and_then(|l| l.split_once("://"))
        .map(|(_, rest)| rest.split('/').next().unwrap_or_default().to_string())
        .unwrap_or_default()
}

/// Parquet, with errors about a file naming the object (Athena's HIVE_CANNOT_OPEN_SPLIT), so a
/// corrupt file among thousands can be found.
#[derive(Debug)]
struct NamedParquet {
    inner: ParquetFormat,
    bucket: String,
}

impl NamedParquet {
    /// The table's schema spelled as `object` spells its columns (statistics are matched by
    /// name), and whether any column was renamed. The footer read here is cached for the scan.
    async fn as_spelled(
        &self,
        state: &dyn Session,
        store: &Arc<dyn object_store::ObjectStore>,
        table_schema: SchemaRef,
        object: &ObjectMeta,
    ) -> Result<(SchemaRef, bool)> {
        let file_schema = self
            .inner
            .infer_schema(state, store, std::slice::from_ref(object))
            .await
            .map_err(|e| self.name_err(object, e))?;
        let renames = case_renames(&table_schema, &file_schema);
        if renames.is_empty() {
            return Ok((table_schema, false));
        }
        Ok((spelled(&table_schema, &renames), true))
    }

    fn name_err(&self, object: &ObjectMeta, e: DataFusionError) -> DataFusionError {
        let key = crate::engine::store::key_of(&object.location);
        DataFusionError::Execution(format!(
            "HIVE_CANNOT_OPEN_SPLIT: Error opening Hive split s3://{}/{key}: {}",
            self.bucket,
            e.find_root()
        ))
    }
}

#[async_trait]
impl FileFormat for NamedParquet {
    fn get_ext(&self) -> String {
        self.inner.get_ext()
    }

    fn get_ext_with_compression(&self, c: &FileCompressionType) -> Result<String> {
        self.inner.get_ext_with_compression(c)
    }

    fn compression_type(&self) -> Option<FileCompressionType> {
        self.inner.compression_type()
    }

    async fn infer_schema(
        &self,
        state: &dyn Session,
        store: &Arc<dyn object_store::ObjectStore>,
        objects: &[ObjectMeta],
    ) -> Result<SchemaRef> {
        self.inner.infer_schema(state, store, objects).await
    }

    async fn infer_stats(
        &self,
        state: &dyn Session,
        store: &Arc<dyn object_store::ObjectStore>,
        table_schema: SchemaRef,
        object: &ObjectMeta,
    ) -> Result<Statistics> {
        let (table_schema, _) = self.as_spelled(state, store, table_schema, object).await?;
        self.inner.infer_stats(state, store, table_schema, object).await.map_err(|e| self.name_err(object, e))
    }

    async fn infer_stats_and_ordering(
        &self,
        state: &dyn Session,
        store: &Arc<dyn object_store::ObjectStore>,
        table_schema: SchemaRef,
        object: &ObjectMeta,
    ) -> Result<FileMeta> {
        let (table_schema, renamed) = self.as_spelled(state, store, table_schema, object).await?;
        if renamed {
            // an ordering would name the file's spelling: claim none
            let statistics = self.inner.infer_stats(state, store, table_schema, object).await;
            return Ok(FileMeta::new(statistics.map_err(|e| self.name_err(object, e))?));
        }
        self.inner
            .infer_stats_and_ordering(state, store, table_schema, object)
            .await
            .map_err(|e| self.name_err(object, e))
    }

    async fn create_physical_plan(&self, state: &dyn Session, conf: FileScanConfig) -> Result<Arc<dyn ExecutionPlan>> {
        self.inner.create_physical_plan(state, conf).await
    }

    fn file_source(&self, table_schema: TableSchema) -> Arc<dyn FileSource> {
        self.inner.file_source(table_schema)
    }
}

/// Whether a table reads CloudTrail log files (`com.amazon.emr.cloudtrail.CloudTrailInputFormat`).
fn is_cloudtrail(t: &Table) -> bool {
    let input = t.storage_descriptor.as_ref().and_then(|s| s.input_format.as_deref()).unwrap_or("");
    input.to_ascii_lowercase().contains("cloudtrail")
}

/// A CloudTrail table's location in the store that reads log files as rows
/// ([`crate::engine::store::CLOUDTRAIL_SCHEME`]).
fn cloudtrail_url(location: &str) -> Result<ListingTableUrl> {
    let Some((_, rest)) = location.split_once("://") else {
        return location_url(location);
    };
    location_url(&format!("{}://{rest}", crate::engine::store::CLOUDTRAIL_SCHEME))
}

/// Every folder under `url` (itself included) that holds files, as listing URLs.
async fn folders_with_files(state: &dyn Session, url: &ListingTableUrl) -> Result<Vec<ListingTableUrl>> {
    let store = state.runtime_env().object_store(url)?;
    let mut keys = store.list(Some(url.prefix()));
    let mut folders = std::collections::BTreeSet::new();
    while let Some(meta) = futures::StreamExt::next(&mut keys).await {
        let location = meta?.location;
        if let Some((folder, _)) = location.as_ref().rsplit_once('/') {
            folders.insert(folder.to_string());
        }
    }
    let base = url.as_str().split_once("://").map_or("", |(scheme, _)| scheme).to_string();
    let bucket = url.get_url().host_str().unwrap_or_default().to_string();
    folders.into_iter().map(|f| ListingTableUrl::parse(format!("{base}://{bucket}/{f}/"))).collect()
}

/// A text table's location in the store that decodes compressed files
/// ([`crate::engine::store::TEXT_SCHEME`]).
fn text_url(location: &str, default: Option<Codec>) -> Result<ListingTableUrl> {
    let Some((_, rest)) = location.split_once("://") else {
        return location_url(location);
    };
    let scheme = match default {
        Some(codec) => format!("{TEXT_SCHEME}-{}", codec.name()),
        None => TEXT_SCHEME.to_string(),
    };
    location_url(&format!("{scheme}://{rest}"))
}

/// Whether a text scan reads any compressed file.
fn reads_compressed(plan: &Arc<dyn ExecutionPlan>, default: Option<Codec>) -> bool {
    if default.is_some() {
        return true;
    }
    let compressed = |config: &FileScanConfig| {
        config
            .file_groups
            .iter()
            .flat_map(|g| g.files())
            .any(|f| !matches!(Codec::of_key(&crate::engine::store::key_of(&f.object_meta.location)), Ok(None)))
    };
    plan.exists(|node| {
        Ok(node
            .downcast_ref::<DataSourceExec>()
            .and_then(|e| e.data_source().downcast_ref::<FileScanConfig>())
            .is_some_and(compressed))
    })
    .unwrap_or(true)
}

/// A scan of compressed text files, each read whole by one partition: DataFusion would split
/// a large text file into byte ranges read in parallel, which a compressed file cannot serve.
/// The scan is this node's own, not its child, so the optimizer cannot split it.
#[derive(Debug)]
struct WholeFiles {
    inner: Arc<dyn ExecutionPlan>,
}

impl DisplayAs for WholeFiles {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "WholeFiles: ")?;
        self.inner.fmt_as(t, f)
    }
}

impl ExecutionPlan for WholeFiles {
    fn name(&self) -> &'static str {
        "WholeFiles"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.inner.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        if !children.is_empty() {
            return Err(DataFusionError::Internal("WholeFiles has no children".into()));
        }
        Ok(self)
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<datafusion::execution::TaskContext>,
    ) -> Result<datafusion::execution::SendableRecordBatchStream> {
        self.inner.execute(partition, context)
    }

    fn metrics(&self) -> Option<datafusion::physical_plan::metrics::MetricsSet> {
        self.inner.metrics()
    }
}

fn location_url(location: &str) -> Result<ListingTableUrl> {
    let loc = if location.ends_with('/') { location.to_string() } else { format!("{location}/") };
    ListingTableUrl::parse(&loc)
}

/// A Glue table as a DataFusion table.
#[derive(Debug)]
pub struct GlueTable {
    table: Table,
    schema: SchemaRef,
    data_fields: Vec<Field>,
    partition_fields: Vec<Field>,
    catalog: Catalog,
    database: String,
}

impl GlueTable {
    pub fn new(catalog: Catalog, database: &str, table: Table) -> Result<Self> {
        let mut data_fields: Vec<Field> = table.columns().iter().map(field_of).collect::<Result<_>>()?;
        if matches!(format_of(&table), Ok(Format::Parquet)) {
            // Parquet strings decode straight into string views (as DataFusion reads Parquet by
            // default): no copy into contiguous buffers, and faster comparisons in filters
            for f in &mut data_fields {
                if f.data_type() == &DataType::Utf8 {
                    *f = f.clone().with_data_type(DataType::Utf8View);
                }
            }
        }
        let partition_fields: Vec<Field> = table.partition_keys.iter().map(field_of).collect::<Result<_>>()?;
        let schema = Arc::new(Schema::new([data_fields.clone(), partition_fields.clone()].concat()));
        Ok(Self { table, schema, data_fields, partition_fields, catalog, database: database.to_string() })
    }

    /// The scan of one location, producing the data columns in `projection` (indices into the
    /// data fields), converted to the table's types.
    async fn scan_location(
        &self,
        state: &dyn Session,
        location: &str,
        projection: &[usize],
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if format_of(&self.table)? == Format::Orc {
            let fields = projection.iter().map(|&i| self.data_fields[i].clone()).collect();
            return crate::engine::orc::scan(state, &location_url(location)?, &bucket_of(&self.table), fields, limit)
                .await;
        }
        let (format, file_schema, kind) = file_format(&self.table, &self.data_fields)?;
        let ext = String::new();
        let options = ListingOptions::new(format).with_file_extension(ext);
        let text = matches!(kind, Format::Csv | Format::Json);
        let default_codec = default_codec_of(&self.table);
        let mut config = if is_cloudtrail(&self.table) {
            // CloudTrail's files lie in region/YYYY/MM/DD folders under the table's location:
            // every folder that holds files is read (a listing table reads one folder's files)
            let url = cloudtrail_url(location)?;
            let urls = folders_with_files(state, &url).await?;
            if urls.is_empty() { ListingTableConfig::new(url) } else { ListingTableConfig::new_with_multi_paths(urls) }
        } else if text {
            ListingTableConfig::new(text_url(location, default_codec)?)
        } else {
            ListingTableConfig::new(location_url(location)?)
        };
        config = config.with_listing_options(options).with_schema(file_schema.clone());
        if kind == Format::Parquet {
            config = config.with_expr_adapter_factory(Arc::new(CaseInsensitiveColumns));
        }
        let listing = ListingTable::try_new(config)?;
        let proj = projection.to_vec();
        if kind == Format::Parquet {
            return listing.scan(state, Some(&proj), filters, limit).await;
        }
        let mut plan = listing.scan(state, Some(&proj), &[], limit).await?;
        if text && reads_compressed(&plan, default_codec) {
            plan = Arc::new(WholeFiles { inner: plan });
        }
        let input_schema = plan.schema();
        let exprs: Vec<(Arc<dyn PhysicalExpr>, String)> = proj
            .iter()
            .enumerate()
            .map(|(i, &col)| {
                let target = &self.data_fields[col];
                let column: Arc<dyn PhysicalExpr> = Arc::new(ColumnExpr::new(input_schema.field(i).name(), i));
                let expr: Arc<dyn PhysicalExpr> = if file_schema.field(col).data_type() == target.data_type() {
                    column
                } else {
                    Arc::new(TryCastExpr::new(column, target.data_type().clone()))
                };
                (expr, target.name().clone())
            })
            .collect();
        Ok(Arc::new(ProjectionExec::try_new(exprs, plan)?))
    }

    /// Partitions the filters allow, evaluating the filters that use only partition keys on
    /// each partition's values.
    fn pruned_partitions(&self, state: &dyn Session, filters: &[Expr]) -> Result<Vec<(Partition, Vec<ScalarValue>)>> {
        let key_schema = Arc::new(Schema::new(self.partition_fields.clone()));
        let df_schema = DFSchema::try_from(key_schema.as_ref().clone())?;
        let key_names: Vec<&str> = self.partition_fields.iter().map(|f| f.name().as_str()).collect();
        let usable: Vec<Arc<dyn PhysicalExpr>> = filters
            .iter()
            .filter(|f| f.column_refs().iter().all(|c| key_names.contains(&c.name.as_str())))
            .map(|f| state.create_physical_expr(f.clone(), &df_schema))
            .collect::<Result<_>>()?;
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let (page, next) = self
                .catalog
                .get_partitions(&self.database, &self.table.name, None, None, token.as_deref(), None)
                .map_err(|e| DataFusionError::External(Box::new(e)))?;
            for p in page {
                let values: Vec<ScalarValue> = self
                    .partition_fields
                    .iter()
                    .zip(&p.values)
                    .map(|(f, v)| {
                        let text = ScalarValue::Utf8(Some(v.clone()));
                        if v == "__HIVE_DEFAULT_PARTITION__" {
                            ScalarValue::try_from(f.data_type())
                        } else {
                            Ok(text.cast_to(f.data_type()).unwrap_or(ScalarValue::try_from(f.data_type())?))
                        }
                    })
                    .collect::<Result<_>>()?;
                if !usable.is_empty() {
                    let columns: Vec<ArrayRef> = values.iter().map(|v| v.to_array()).collect::<Result<_>>()?;
                    let batch = RecordBatch::try_new(key_schema.clone(), columns)?;
                    let mut keep = true;
                    for f in &usable {
                        let result = f.evaluate(&batch)?.into_array(1)?;
                        let b = result.as_any().downcast_ref::<datafusion::arrow::array::BooleanArray>();
                        if !b.is_some_and(|b| b.is_valid(0) && b.value(0)) {
                            keep = false;
                            break;
                        }
                    }
                    if !keep {
                        continue;
                    }
                }
                out.push((p, values));
            }
            match next {
                Some(t) => token = Some(t),
                None => return Ok(out),
            }
        }
    }
}

#[async_trait]
impl TableProvider for GlueTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        // pruning and Parquet row-group skipping are best-effort; DataFusion filters again
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let n_data = self.data_fields.len();
        let all: Vec<usize> = (0..self.schema.fields().len()).collect();
        let projection = projection.unwrap_or(&all);
        let data_proj: Vec<usize> = projection.iter().copied().filter(|&i| i < n_data).collect();
        let data_names: Vec<&str> = self.data_fields.iter().map(|f| f.name().as_str()).collect();
        let data_filters: Vec<Expr> = filters
            .iter()
            .filter(|f| f.column_refs().iter().all(|c| data_names.contains(&c.name.as_str())))
            .cloned()
            .collect();
        let location = self.table.location().unwrap_or_default().to_string();
        if self.partition_fields.is_empty() {
            if location.is_empty() {
                return Err(DataFusionError::Plan(format!("table {} has no LOCATION", self.table.name)));
            }
            return self.scan_location(state, &location, &data_proj, &data_filters, limit).await;
        }
        let projected = Arc::new(self.schema.project(projection)?);
        let partitions = self.pruned_partitions(state, filters)?;
        let mut inputs: Vec<Arc<dyn ExecutionPlan>> = Vec::new();
        for (p, values) in partitions {
            let Some(loc) = p.location().map(str::to_string).or_else(|| default_location(&location, &self.table, &p))
            else {
                continue;
            };
            let inner = self.scan_location(state, &loc, &data_proj, &data_filters, limit).await?;
            let inner_schema = inner.schema();
            let mut exprs: Vec<(Arc<dyn PhysicalExpr>, String)> = Vec::new();
            let mut data_pos = 0;
            for &i in projection {
                if i < n_data {
                    exprs.push((
                        Arc::new(ColumnExpr::new(inner_schema.field(data_pos).name(), data_pos)),
                        self.schema.field(i).name().clone(),
                    ));
                    data_pos += 1;
                } else {
                    exprs.push((
                        Arc::new(Literal::new(values[i - n_data].clone())),
                        self.schema.field(i).name().clone(),
                    ));
                }
            }
            inputs.push(Arc::new(ProjectionExec::try_new(exprs, inner)?));
        }
        if inputs.is_empty() {
            return Ok(Arc::new(EmptyExec::new(projected)));
        }
        UnionExec::try_new(inputs)
    }
}

/// A partition without its own location lives under the table's, Hive-style.
fn default_location(table_location: &str, table: &Table, p: &Partition) -> Option<String> {
    if table_location.is_empty() {
        return None;
    }
    let base = table_location.trim_end_matches('/');
    let parts: Vec<String> =
        table.partition_keys.iter().zip(&p.values).map(|(k, v)| format!("{}={v}", k.name)).collect();
    Some(format!("{base}/{}/", parts.join("/")))
}

/// One Glue database as a DataFusion schema.
#[derive(Debug)]
pub struct GlueSchema {
    catalog: Catalog,
    database: String,
    ctx: Weak<SessionContext>,
}

#[async_trait]
impl SchemaProvider for GlueSchema {
    fn table_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let Ok((page, next)) = self.catalog.get_tables(&self.database, None, token.as_deref(), None) else {
                return names;
            };
            names.extend(page.into_iter().map(|t| t.name));
            match next {
                Some(t) => token = Some(t),
                None => return names,
            }
        }
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        // reading a table is a GetTable of the caller's, as Athena makes it
        if let Some(caller) = crate::engine::Engine::current_caller() {
            caller
                .glue("glue:GetTable", Some(&self.database), Some(name))
                .map_err(|m| DataFusionError::External(Box::new(crate::QueryError::AccessDenied(m))))?;
        }
        let table = match self.catalog.get_table(&self.database, name) {
            Ok(t) => t,
            Err(tarn_catalog::CatalogError::EntityNotFound(_)) => return Ok(None),
            Err(e) => return Err(DataFusionError::External(Box::new(e))),
        };
        if table.is_view() {
            let sql = table.view_original_text.clone().unwrap_or_default();
            let Some(ctx) = self.ctx.upgrade() else {
                return Err(DataFusionError::Internal("query context is gone".into()));
            };
            let plan = ctx.state().create_logical_plan(&sql).await?;
            return Ok(Some(Arc::new(datafusion::catalog::view::ViewTable::new(plan, Some(sql)))));
        }
        Ok(Some(Arc::new(GlueTable::new(self.catalog.clone(), &self.database, table)?)))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.catalog.get_table(&self.database, name).is_ok()
    }
}

/// The database a Glue resource link names (`TargetDatabase` in this account's catalog), as
/// Redshift Spectrum's external schemas are made.
#[must_use]
pub fn link_target(db: &tarn_catalog::Database) -> Option<String> {
    let target = db.extra.get("TargetDatabase")?;
    let catalog = target.get("CatalogId").and_then(|v| v.as_str());
    if catalog.is_some_and(|c| Some(c) != db.catalog_id.as_deref()) {
        return None;
    }
    target.get("DatabaseName")?.as_str().map(str::to_lowercase)
}

/// The account's Glue catalog as a DataFusion catalog.
#[derive(Debug)]
pub struct GlueCatalog {
    catalog: Catalog,
    ctx: Weak<SessionContext>,
    schemas: std::sync::Mutex<HashMap<String, Arc<GlueSchema>>>,
    /// PostgreSQL's `pg_catalog`, for statements of the PostgreSQL wire.
    pg_catalog: Option<Arc<dyn SchemaProvider>>,
    /// PostgreSQL's `information_schema`, for statements of the PostgreSQL wire.
    information_schema: Option<Arc<dyn SchemaProvider>>,
}

impl GlueCatalog {
    #[must_use]
    pub fn new(catalog: Catalog, ctx: Weak<SessionContext>) -> Self {
        Self { catalog, ctx, schemas: std::sync::Mutex::default(), pg_catalog: None, information_schema: None }
    }

    /// The catalog with PostgreSQL's `pg_catalog` schema beside the Glue databases.
    #[must_use]
    pub fn with_pg_catalog(self, pg_catalog: Arc<dyn SchemaProvider>) -> Self {
        Self { pg_catalog: Some(pg_catalog), ..self }
    }

    /// The catalog with PostgreSQL's `information_schema` beside the Glue databases.
    #[must_use]
    pub fn with_information_schema(self, information_schema: Arc<dyn SchemaProvider>) -> Self {
        Self { information_schema: Some(information_schema), ..self }
    }
}

impl CatalogProvider for GlueCatalog {
    fn schema_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let Ok((page, next)) = self.catalog.get_databases(token.as_deref(), None) else { return names };
            names.extend(page.into_iter().map(|d| d.name));
            match next {
                Some(t) => token = Some(t),
                None => return names,
            }
        }
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        let name = name.to_lowercase();
        if name == "pg_catalog"
            && let Some(pg) = &self.pg_catalog
        {
            return Some(pg.clone());
        }
        if name == "information_schema"
            && let Some(schema) = &self.information_schema
        {
            return Some(schema.clone());
        }
        // a resource link (Redshift Spectrum's external schema) reads its target's tables
        let name = link_target(&self.catalog.get_database(&name).ok()?).unwrap_or(name);
        let mut schemas = self.schemas.lock().ok()?;
        let s = schemas
            .entry(name.clone())
            .or_insert_with(|| {
                Arc::new(GlueSchema { catalog: self.catalog.clone(), database: name, ctx: self.ctx.clone() })
            })
            .clone();
        Some(s)
    }
}
