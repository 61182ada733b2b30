//! ORC tables (`OrcSerde`, what a crawler classifies as `orc`, what Firehose writes with its
//! ORC serializer): each file under a location is one partition of a streaming scan, read by
//! orc-rust's async Arrow reader straight from the object store: the tail first, then only the
//! stripes' streams of the columns the query needs. A file's columns meet the table's by name,
//! ignoring case as Athena does; they are cast to the table's types, and a column the file lacks
//! reads as NULL. Filters run above the scan (ORC carries no statistics DataFusion uses here).

use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::array::{RecordBatch, RecordBatchOptions, new_null_array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::catalog::Session;
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};
use orc_rust::ArrowReaderBuilder;
use orc_rust::projection::ProjectionMask;
use orc_rust::reader::AsyncChunkReader;

/// The scan of the ORC files under `location`, producing `fields` (table columns, in order).
pub(crate) async fn scan(
    state: &dyn Session,
    location: &ListingTableUrl,
    bucket: &str,
    fields: Vec<Field>,
    limit: Option<usize>,
) -> Result<Arc<dyn ExecutionPlan>> {
    let schema: SchemaRef = Arc::new(Schema::new(fields));
    let store = state.runtime_env().object_store(location)?;
    let mut files: Vec<ObjectMeta> = store.list(Some(location.prefix())).try_collect().await?;
    // Hive skips hidden files (`_SUCCESS`, `.crc`) and empty ones
    files.retain(|f| {
        let name = f.location.filename().unwrap_or_default();
        f.size > 0 && !name.starts_with('_') && !name.starts_with('.')
    });
    files.sort_by(|a, b| a.location.cmp(&b.location));
    if files.is_empty() {
        return Ok(Arc::new(EmptyExec::new(schema)));
    }
    let partitions: Vec<Arc<dyn PartitionStream>> = files
        .into_iter()
        .map(|meta| {
            Arc::new(OrcFile { store: store.clone(), meta, bucket: bucket.to_string(), schema: schema.clone() })
                as Arc<dyn PartitionStream>
        })
        .collect();
    Ok(Arc::new(StreamingTableExec::try_new(schema, partitions, None, [], false, limit)?))
}

#[derive(Debug, Clone)]
struct OrcFile {
    store: Arc<dyn ObjectStore>,
    meta: ObjectMeta,
    bucket: String,
    schema: SchemaRef,
}

impl OrcFile {
    /// Errors name the object, as Athena's HIVE_CANNOT_OPEN_SPLIT does.
    fn named(&self, e: impl std::fmt::Display) -> DataFusionError {
        DataFusionError::Execution(format!(
            "HIVE_CANNOT_OPEN_SPLIT: Error opening Hive split s3://{}/{}: {e}",
            self.bucket,
            crate::engine::store::key_of(&self.meta.location)
        ))
    }

    async fn open(self: Arc<Self>) -> Result<impl futures::Stream<Item = Result<RecordBatch>> + Send> {
        let reader = ObjectReader { store: self.store.clone(), path: self.meta.location.clone(), size: self.meta.size };
        let builder = ArrowReaderBuilder::try_new_async(reader).await.map_err(|e| self.named(e))?;
        let file_schema = builder.schema();
        // the file column each table column reads: its own name, else its spelling in the file
        // (the rule Parquet tables follow)
        let mut renames = crate::engine::columns::case_renames(&self.schema, &file_schema);
        let sources: Vec<Option<String>> = self
            .schema
            .fields()
            .iter()
            .map(|f| {
                renames
                    .remove(f.name())
                    .or_else(|| file_schema.field_with_name(f.name()).ok().map(|_| f.name().clone()))
            })
            .collect();
        let names: Vec<&str> = sources.iter().flatten().map(String::as_str).collect();
        let mask = ProjectionMask::named_roots(builder.file_metadata().root_data_type(), &names);
        let stream = builder.with_projection(mask).with_batch_size(8192).build_async();
        let this = self.clone();
        Ok(stream.map(move |batch| {
            let batch = batch.map_err(|e| this.named(e))?;
            this.conform(&batch, &sources)
        }))
    }

    /// A file's batch as the table's columns.
    fn conform(&self, batch: &RecordBatch, sources: &[Option<String>]) -> Result<RecordBatch> {
        let rows = batch.num_rows();
        let columns = self
            .schema
            .fields()
            .iter()
            .zip(sources)
            .map(|(field, source)| match source.as_deref().and_then(|name| batch.column_by_name(name)) {
                Some(column) if column.data_type() == field.data_type() => Ok(column.clone()),
                Some(column) => cast(column, field.data_type()).map_err(|e| {
                    self.named(format!(
                        "column {} ({}) cannot be read as {}: {e}",
                        field.name(),
                        column.data_type(),
                        field.data_type()
                    ))
                }),
                None => Ok(new_null_array(field.data_type(), rows)),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )?)
    }
}

impl PartitionStream for OrcFile {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let stream = futures::stream::once(Arc::new(self.clone()).open()).try_flatten();
        Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), stream))
    }
}

/// Ranged reads of one object, as orc-rust asks for them.
struct ObjectReader {
    store: Arc<dyn ObjectStore>,
    path: Path,
    size: u64,
}

impl AsyncChunkReader for ObjectReader {
    fn len(&mut self) -> BoxFuture<'_, std::io::Result<u64>> {
        let size = self.size;
        async move { Ok(size) }.boxed()
    }

    fn get_bytes(&mut self, offset_from_start: u64, length: u64) -> BoxFuture<'_, std::io::Result<Bytes>> {
        let (store, path) = (self.store.clone(), self.path.clone());
        async move {
            let end = offset_from_start.checked_add(length).ok_or_else(|| std::io::Error::other("range overflow"))?;
            store.get_range(&path, offset_from_start..end).await.map_err(std::io::Error::other)
        }
        .boxed()
    }
}
