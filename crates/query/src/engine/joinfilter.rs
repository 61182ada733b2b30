//! Join keys filtered right after the Parquet scan.
//!
//! A hash join publishes what its build side holds (key bounds and a hash lookup) as a
//! dynamic filter, which DataFusion pushes into the Parquet scans of the probe side, through
//! projections, other joins and aggregations on those keys. With row-level pushdown off (its
//! default, and tarn's: static predicates evaluated while decoding cost more than they save on
//! scattered rows) the scan only uses that filter to skip row groups, so every probe row still
//! flows through repartitions, aggregations and joins above it before the join drops it.
//!
//! This rule puts a filter on those dynamic conjuncts directly over each such scan. Where a
//! join keeps few keys (TPC-H q17's 204 parts, q18's 57 orders) most rows stop there. Where
//! it keeps most, a lookup per row would only repeat the join's own work, so the filter
//! watches what it drops and lets batches through unlooked-at while it drops little, trying
//! again every so often (a filter can tighten as the query runs).

use std::collections::HashMap;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use datafusion::arrow::array::{BooleanArray, RecordBatch};
use datafusion::arrow::compute::BatchCoalescer;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode, TreeNodeRecursion};
use datafusion::common::{Result, internal_err, plan_err};
use datafusion::datasource::physical_plan::{FileScanConfig, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{Column, DynamicFilterPhysicalExpr};
use datafusion::physical_expr::utils::{conjunction, split_conjunction};
use datafusion::physical_expr_common::physical_expr::snapshot_generation;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::metrics::{BaselineMetrics, Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet};
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use futures::{Stream, StreamExt};

/// Adds a [`JoinKeyFilterExec`] of the dynamic join filters over every Parquet scan that
/// received any (over the scan's own `FilterExec` where it has one).
#[derive(Debug, Default)]
pub struct FilterJoinKeysAtScan;

impl PhysicalOptimizerRule for FilterJoinKeysAtScan {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        if config.execution.parquet.pushdown_filters || !config.optimizer.enable_dynamic_filter_pushdown {
            // the scan filters rows itself, or there is nothing to filter on
            return Ok(plan);
        }
        plan.transform_down(|node| {
            let filter = node.downcast_ref::<FilterExec>();
            if filter.is_some_and(|f| f.fetch().is_some()) {
                // filtering below a row limit would change which rows it keeps
                return Ok(Transformed::new(node, false, TreeNodeRecursion::Jump));
            }
            // over a scan's own filter when it has one: its static predicates are cheaper
            // and leave fewer rows to look up
            let (scan, kept) = match filter {
                Some(f) => (f.input(), f.projection().as_deref()),
                None => (&node, None),
            };
            let Some(dynamic) = dynamic_filter_of(scan, kept, &node.schema()) else {
                return Ok(Transformed::no(node));
            };
            let filtered: Arc<dyn ExecutionPlan> = Arc::new(JoinKeyFilterExec::new(dynamic, node));
            // the scan below is done: do not visit it again
            Ok(Transformed::new(filtered, true, TreeNodeRecursion::Jump))
        })
        .data()
    }

    fn name(&self) -> &str {
        "filter_join_keys_at_scan"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The conjunction of the dynamic conjuncts of a Parquet scan's predicate, over the columns
/// of `out` (the scan's output, or what a filter above keeps of it: `kept`, indices into the
/// scan's output). None when there are none, or the scan stops at a row limit (filtering
/// after a limit would return fewer rows than asked for).
fn dynamic_filter_of(
    scan: &Arc<dyn ExecutionPlan>,
    kept: Option<&[usize]>,
    out: &Schema,
) -> Option<Arc<dyn PhysicalExpr>> {
    let exec = scan.downcast_ref::<DataSourceExec>()?;
    let config = exec.data_source().downcast_ref::<FileScanConfig>()?;
    if config.limit.is_some() {
        return None;
    }
    let source = config.file_source();
    if !source.is::<ParquetSource>() {
        return None;
    }
    let predicate = source.filter()?;
    // the predicate names the table's columns (by index); the scan outputs its projection,
    // which may compute or rename columns: only columns it passes through plainly can be
    // filtered on (a computed `k + 1 AS k` is not the table's `k`)
    let passed: HashMap<usize, usize> = match source.projection() {
        Some(projection) => projection
            .iter()
            .enumerate()
            .filter_map(|(out, p)| p.expr.downcast_ref::<Column>().map(|c| (c.index(), out)))
            .collect(),
        None => (0..scan.schema().fields().len()).map(|i| (i, i)).collect(),
    };
    let output_of = |table_index: usize| {
        let out = *passed.get(&table_index)?;
        match kept {
            Some(kept) => kept.iter().position(|&k| k == out),
            None => Some(out),
        }
    };
    let dynamic: Vec<Arc<dyn PhysicalExpr>> = split_conjunction(&predicate)
        .into_iter()
        .filter(|c| c.exists(|e| Ok(e.is::<DynamicFilterPhysicalExpr>())).unwrap_or(false))
        // a conjunct on a column not passed through stays with the scan's pruning
        .filter_map(|c| {
            Arc::clone(c)
                .transform_down(|e| match e.downcast_ref::<Column>() {
                    Some(col) => match output_of(col.index()) {
                        Some(at) => Ok(Transformed::yes(
                            Arc::new(Column::new(out.field(at).name(), at)) as Arc<dyn PhysicalExpr>
                        )),
                        None => plan_err!("column {} is not passed through", col.name()),
                    },
                    None => Ok(Transformed::no(e)),
                })
                .data()
                .ok()
        })
        .collect();
    (!dynamic.is_empty()).then(|| conjunction(dynamic))
}

/// Rows a filter must have looked at before judging whether it is worth its lookups.
const JUDGE_ROWS: usize = 32 * 1024;
/// A filter keeping more than this share of the rows it looked at is not worth its lookups.
const KEEP_SHARE_MAX: f64 = 0.9;
/// Batches let through unlooked-at before the filter looks again.
const PASS_BATCHES: usize = 32;

/// Drops the rows a dynamic join filter rejects, while doing so is worth it (see the module).
#[derive(Debug)]
pub struct JoinKeyFilterExec {
    predicate: Arc<dyn PhysicalExpr>,
    input: Arc<dyn ExecutionPlan>,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl JoinKeyFilterExec {
    fn new(predicate: Arc<dyn PhysicalExpr>, input: Arc<dyn ExecutionPlan>) -> Self {
        // dropping rows keeps the input's partitioning, order and equivalences
        let properties = Arc::clone(input.properties());
        Self { predicate, input, properties, metrics: ExecutionPlanMetricsSet::new() }
    }
}

impl DisplayAs for JoinKeyFilterExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "JoinKeyFilterExec: {}", self.predicate)
    }
}

impl ExecutionPlan for JoinKeyFilterExec {
    fn name(&self) -> &'static str {
        "JoinKeyFilterExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        f(&self.predicate)
    }

    fn with_new_children(self: Arc<Self>, mut children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        if children.len() != 1 {
            return internal_err!("JoinKeyFilterExec takes one input, got {}", children.len());
        }
        Ok(Arc::new(Self::new(Arc::clone(&self.predicate), children.swap_remove(0))))
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, Arc::clone(&context))?;
        let schema = input.schema();
        let batch_size = context.session_config().batch_size();
        Ok(Box::pin(JoinKeyFilterStream {
            coalescer: BatchCoalescer::new(Arc::clone(&schema), batch_size)
                // a batch that is mostly kept goes on as it is, uncopied
                .with_biggest_coalesce_batch_size(Some(batch_size / 2)),
            schema,
            input,
            predicate: Arc::clone(&self.predicate),
            judge: Judge::default(),
            generation: None,
            baseline: BaselineMetrics::new(&self.metrics, partition),
            rows_dropped: MetricBuilder::new(&self.metrics).counter("rows_dropped", partition),
            rows_unlooked: MetricBuilder::new(&self.metrics).counter("rows_let_through_unlooked", partition),
            done: false,
        }))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// Whether the next batch is looked at, from what the filter dropped so far.
#[derive(Debug, Default)]
struct Judge {
    /// Batches still to let through unlooked-at.
    passing: usize,
    looked: usize,
    kept: usize,
}

impl Judge {
    fn look(&mut self) -> bool {
        if self.passing == 0 {
            return true;
        }
        self.passing -= 1;
        false
    }

    fn saw(&mut self, rows: usize, kept: usize) {
        self.looked += rows;
        self.kept += kept;
        if self.looked >= JUDGE_ROWS {
            if self.kept as f64 > self.looked as f64 * KEEP_SHARE_MAX {
                self.passing = PASS_BATCHES;
            }
            self.looked = 0;
            self.kept = 0;
        }
    }
}

struct JoinKeyFilterStream {
    schema: SchemaRef,
    input: SendableRecordBatchStream,
    predicate: Arc<dyn PhysicalExpr>,
    coalescer: BatchCoalescer,
    judge: Judge,
    /// The filter's state the judge's counts are about (a join may publish its filter after
    /// the first batches went by; a TopK tightens its own).
    generation: Option<u64>,
    baseline: BaselineMetrics,
    rows_dropped: Count,
    rows_unlooked: Count,
    done: bool,
}

impl JoinKeyFilterStream {
    fn push(&mut self, batch: RecordBatch) -> Result<()> {
        let _timer = self.baseline.elapsed_compute().timer();
        let rows = batch.num_rows();
        let generation = snapshot_generation(&self.predicate);
        if self.generation != Some(generation) {
            self.generation = Some(generation);
            self.judge = Judge::default();
        }
        if !self.judge.look() {
            self.rows_unlooked.add(rows);
            return Ok(self.coalescer.push_batch(batch)?);
        }
        let mask = self.predicate.evaluate(&batch)?.into_array(rows)?;
        let Some(mask) = mask.as_any().downcast_ref::<BooleanArray>() else {
            return internal_err!("join key filter {} is not boolean", self.predicate);
        };
        let kept = mask.true_count();
        self.judge.saw(rows, kept);
        self.rows_dropped.add(rows - kept);
        if kept == rows {
            return Ok(self.coalescer.push_batch(batch)?);
        }
        Ok(self.coalescer.push_batch_with_filter(batch, mask)?)
    }
}

impl JoinKeyFilterStream {
    /// Ends the stream with `e`: nothing buffered is returned after an error.
    fn fail(&mut self, e: datafusion::error::DataFusionError) -> Poll<Option<Result<RecordBatch>>> {
        self.done = true;
        self.coalescer = BatchCoalescer::new(Arc::clone(&self.schema), 1);
        Poll::Ready(Some(Err(e)))
    }
}

impl Stream for JoinKeyFilterStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(batch) = self.coalescer.next_completed_batch() {
                return self.baseline.record_poll(Poll::Ready(Some(Ok(batch))));
            }
            if self.done {
                return self.baseline.record_poll(Poll::Ready(None));
            }
            match ready!(self.input.poll_next_unpin(cx)) {
                Some(Ok(batch)) => {
                    if let Err(e) = self.push(batch) {
                        return self.fail(e);
                    }
                }
                Some(Err(e)) => return self.fail(e),
                None => {
                    self.done = true;
                    self.coalescer.finish_buffered_batch()?;
                }
            }
        }
    }
}

impl RecordBatchStream for JoinKeyFilterStream {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_keeping_most_rows_is_let_be_and_tried_again() {
        let mut j = Judge::default();
        // dropping half: looked at every time
        for _ in 0..2 * JUDGE_ROWS / 8192 {
            assert!(j.look());
            j.saw(8192, 4096);
        }
        // keeping 95%: once judged, the next PASS_BATCHES batches go unlooked-at
        for _ in 0..JUDGE_ROWS / 8192 {
            assert!(j.look());
            j.saw(8192, 8192 * 95 / 100);
        }
        for _ in 0..PASS_BATCHES {
            assert!(!j.look());
        }
        // then it looks again, and a filter that has tightened is used again
        assert!(j.look());
        j.saw(JUDGE_ROWS, 10);
        assert!(j.look());
    }
}
