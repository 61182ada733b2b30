//! One run of a subplan that a statement uses twice.
//!
//! A `WITH` clause referenced twice (TPC-H's q15: `revenue0`, in the query and in its scalar
//! subquery) is planned as two identical physical subtrees, and DataFusion runs both.
//! [`ShareIdenticalSubplans`] finds such subtrees and puts a [`SharedSubplanExec`] over each
//! copy, all copies of one subtree sharing one [`SharedResults`]. Each copy decides once, when
//! its first partition starts, what it does for all of its partitions: the first copy to start
//! runs the subtree and keeps the batches it passes on; a copy that starts after that run
//! finished every partition replays them; any other copy runs itself. A copy never mixes
//! replayed and run partitions (the partitions of one run depend on each other: a hash join's
//! partitions wait for each other's build, a round-robin repartition spreads rows by arrival),
//! and never waits on another copy, so no plan order can deadlock it.
//!
//! Memory: the kept batches count against the statement's memory pool, each buffer once
//! (an aggregate hands out slices of one batch), and stop at [`KEEP_LIMIT`] per subtree; past
//! it, when the pool refuses, or when the keeping run stops short (an error, a consumer that
//! stops early), what was kept is freed and every copy that starts later runs itself, as
//! without this rule. What is kept lives until the statement ends.
//!
//! Which subtrees: the largest ones that appear at least twice, read Parquet tables, aggregate,
//! are built only of DataFusion operators whose display names every input to their result (see
//! [`SHAREABLE`]; the key is that display with every node's schema and the scans' buckets), and
//! hold no volatile expression (`random()` runs once per use) and no scalar subquery (it
//! displays alike whatever it computes). Only aggregating subtrees, because their results are
//! small and worth keeping, while a shared scan (q21 reads `lineitem` alike twice) would be
//! kept whole, mostly by two copies running at once, and would no longer take the join filters
//! that skip most of its rows. The rule runs before the pushdown of join filters, and a
//! [`SharedSubplanExec`] takes no filters from above, so each copy computes exactly the same
//! rows; filters that joins inside a copy push into it stay inside it and change nothing it
//! returns.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use datafusion::arrow::array::{ArrayData, RecordBatch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode, TreeNodeRecursion};
use datafusion::common::{Result, internal_err};
use datafusion::datasource::physical_plan::{FileScanConfig, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryPool, MemoryReservation};
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::scalar_subquery::ScalarSubqueryExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::metrics::{Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, PlanProperties, displayable,
};
use futures::{Stream, StreamExt};

/// The most one shared subtree keeps, over all its partitions.
pub(crate) const KEEP_LIMIT: usize = 64 << 20;

/// Operators whose display shows everything that decides their output, so that two subtrees
/// that display alike compute alike. Anything else (a scalar subquery, a recursive query's
/// work table, an operator of another crate) keeps its subtree unshared.
const SHAREABLE: &[&str] = &[
    "DataSourceExec",
    "FilterExec",
    "ProjectionExec",
    "AggregateExec",
    "RepartitionExec",
    "CoalescePartitionsExec",
    "CoalesceBatchesExec",
    "CooperativeExec",
    "HashJoinExec",
    "NestedLoopJoinExec",
    "CrossJoinExec",
    "SortMergeJoinExec",
    "SortExec",
    "SortPreservingMergeExec",
    "UnionExec",
    "InterleaveExec",
    "GlobalLimitExec",
    "LocalLimitExec",
    "BoundedWindowAggExec",
    "WindowAggExec",
];

/// The rule: a [`SharedSubplanExec`] over every copy of each largest repeated subtree.
#[derive(Debug, Default)]
pub(crate) struct ShareIdenticalSubplans;

/// What the rule learns of one node on its walk.
struct Seen {
    node: Arc<dyn ExecutionPlan>,
    /// The display of the whole subtree (with its schema): equal keys, equal results.
    key: String,
    size: usize,
    /// Indices (into the walk) of the node's ancestors.
    ancestors: Vec<usize>,
}

impl PhysicalOptimizerRule for ShareIdenticalSubplans {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        let mut seen = Vec::new();
        walk(&plan, &mut Vec::new(), &mut seen)?;
        let mut groups: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, s) in seen.iter().enumerate() {
            if !s.key.is_empty() {
                groups.entry(s.key.as_str()).or_default().push(i);
            }
        }
        let mut groups: Vec<Vec<usize>> = groups.into_values().filter(|g| g.len() > 1).collect();
        if groups.is_empty() {
            return Ok(plan);
        }
        // largest subtrees first; a copy inside a chosen one is shared with it already
        groups.sort_by_key(|g| (std::cmp::Reverse(seen[g[0]].size), g[0]));
        let mut chosen: HashSet<usize> = HashSet::new();
        let mut shares: HashMap<*const (), (Arc<SharedResults>, usize)> = HashMap::new();
        let mut subplans = 0;
        for group in groups {
            let free: Vec<usize> =
                group.into_iter().filter(|&i| !seen[i].ancestors.iter().any(|a| chosen.contains(a))).collect();
            if free.len() < 2 {
                continue;
            }
            let partitions = seen[free[0]].node.output_partitioning().partition_count();
            let results = Arc::new(SharedResults::new(subplans + 1, partitions, KEEP_LIMIT));
            subplans += 1;
            for (copy, i) in free.into_iter().enumerate() {
                chosen.insert(i);
                shares.insert(Arc::as_ptr(&seen[i].node).cast::<()>(), (Arc::clone(&results), copy));
            }
        }
        if shares.is_empty() {
            return Ok(plan);
        }
        drop(seen);
        plan.transform_down(|node| match shares.get(&Arc::as_ptr(&node).cast::<()>()) {
            Some((results, copy)) => {
                let shared: Arc<dyn ExecutionPlan> = Arc::new(SharedSubplanExec::new(node, Arc::clone(results), *copy));
                Ok(Transformed::new(shared, true, TreeNodeRecursion::Jump))
            }
            None => Ok(Transformed::no(node)),
        })
        .data()
    }

    fn name(&self) -> &str {
        "share_identical_subplans"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Records `node` and its subtree in `seen` (pre-order). Returns (size, shareable, reads a
/// table, aggregates, the object store URLs of its scans).
fn walk(
    node: &Arc<dyn ExecutionPlan>,
    ancestors: &mut Vec<usize>,
    seen: &mut Vec<Seen>,
) -> Result<(usize, bool, bool, bool, String)> {
    let index = seen.len();
    seen.push(Seen { node: Arc::clone(node), key: String::new(), size: 0, ancestors: ancestors.clone() });
    ancestors.push(index);
    let mut size = 1;
    let mut shareable = SHAREABLE.contains(&node.name()) && !volatile_or_subquery(node)?;
    let scan = node.downcast_ref::<DataSourceExec>();
    // a scan's display leaves out its bucket (the object store URL): that goes in the key
    let mut sources = String::new();
    if let Some(scan) = scan {
        match scan.data_source().downcast_ref::<FileScanConfig>() {
            // Parquet only: a text scan's display leaves out its delimiter, quoting and codec
            Some(files) if files.file_source().downcast_ref::<ParquetSource>().is_some() => {
                sources = format!("{}\n", files.object_store_url);
            }
            // VALUES and other in-memory sources display their sizes, not their values
            _ => shareable = false,
        }
    }
    let mut reads = scan.is_some();
    let mut aggregates = node.name() == "AggregateExec";
    for child in node.children() {
        let (s, sh, r, a, urls) = walk(child, ancestors, seen)?;
        size += s;
        shareable &= sh;
        reads |= r;
        aggregates |= a;
        sources.push_str(&urls);
    }
    ancestors.pop();
    if shareable && reads && aggregates {
        let display = displayable(node.as_ref()).set_show_schema(true).indent(true).to_string();
        seen[index].key = format!("{display}\n{sources}");
    }
    seen[index].size = size;
    Ok((size, shareable, reads, aggregates, sources))
}

/// Whether any expression of `node` (not its children) is volatile or a scalar subquery (which
/// displays the same whatever it runs until it has run).
fn volatile_or_subquery(node: &Arc<dyn ExecutionPlan>) -> Result<bool> {
    let mut found = false;
    node.apply_expressions(&mut |e| {
        found |= e.exists(|x| Ok(x.is_volatile_node() || x.downcast_ref::<ScalarSubqueryExpr>().is_some()))?;
        Ok(if found { TreeNodeRecursion::Stop } else { TreeNodeRecursion::Continue })
    })?;
    Ok(found)
}

/// The batches of one shared subtree and which copy does what.
#[derive(Debug)]
pub(crate) struct SharedResults {
    /// Numbers the shared subtrees of a plan, for its display.
    id: usize,
    /// The most the kept batches may hold, in bytes.
    limit: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// What each copy (by its number) decided at its first partition.
    roles: HashMap<usize, Role>,
    /// Per partition, the keeping run's batches once that partition ended.
    kept: Vec<Option<Vec<RecordBatch>>>,
    finished: usize,
    /// The keeping run stopped short (an error, a consumer that stopped early, the memory
    /// limit): from now on every copy runs itself.
    closed: bool,
    /// The buffers the kept batches hold, counted once each (an aggregate hands out slices of
    /// one large batch).
    buffers: HashSet<usize>,
    bytes: usize,
    reservation: Option<MemoryReservation>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Keep,
    Replay,
    Run,
}

impl SharedResults {
    fn new(id: usize, partitions: usize, limit: usize) -> Self {
        let state = State { kept: vec![None; partitions], ..State::default() };
        Self { id, limit, state: Mutex::new(state) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The role of copy `copy`, decided at its first call.
    fn role(&self, copy: usize) -> Role {
        let mut state = self.state();
        if let Some(role) = state.roles.get(&copy) {
            return *role;
        }
        let keeping = state.roles.values().any(|r| *r == Role::Keep);
        let role = if state.closed {
            Role::Run
        } else if state.finished == state.kept.len() {
            Role::Replay
        } else if keeping {
            Role::Run
        } else {
            Role::Keep
        };
        state.roles.insert(copy, role);
        role
    }

    /// Counts `batch` against the limit and the statement's pool; false (and keeping closed)
    /// when it does not fit or keeping was closed already.
    fn admit(&self, batch: &RecordBatch, pool: &Arc<dyn MemoryPool>) -> bool {
        let mut state = self.state();
        if state.closed {
            return false;
        }
        let mut fresh = 0;
        for column in batch.columns() {
            count_buffers(&column.to_data(), &mut state.buffers, &mut fresh);
        }
        let fits = state.bytes + fresh <= self.limit
            && state
                .reservation
                .get_or_insert_with(|| MemoryConsumer::new(format!("SharedSubplanExec[{}]", self.id)).register(pool))
                .try_grow(fresh)
                .is_ok();
        if fits {
            state.bytes += fresh;
        } else {
            close(&mut state);
        }
        fits
    }

    fn finish(&self, partition: usize, batches: Vec<RecordBatch>) {
        let mut state = self.state();
        if !state.closed && state.kept[partition].is_none() {
            state.kept[partition] = Some(batches);
            state.finished += 1;
        }
    }

    fn close(&self) {
        close(&mut self.state());
    }
}

/// Stops keeping for good: what was kept is freed and every copy that starts runs itself.
fn close(state: &mut State) {
    state.closed = true;
    state.kept.iter_mut().for_each(|k| *k = None);
    state.finished = 0;
    state.buffers.clear();
    state.bytes = 0;
    state.reservation = None;
}

/// Adds to `bytes` the capacity of each buffer of `data` (and its children) not in `seen`.
fn count_buffers(data: &ArrayData, seen: &mut HashSet<usize>, bytes: &mut usize) {
    let nulls = data.nulls().map(|n| n.buffer());
    for buffer in data.buffers().iter().chain(nulls) {
        if seen.insert(buffer.data_ptr().as_ptr() as usize) {
            *bytes += buffer.capacity();
        }
    }
    for child in data.child_data() {
        count_buffers(child, seen, bytes);
    }
}

/// One copy of a shared subtree: keeps, replays or runs it (see the module's comment).
#[derive(Debug)]
pub(crate) struct SharedSubplanExec {
    input: Arc<dyn ExecutionPlan>,
    results: Arc<SharedResults>,
    /// This copy's number among the copies of its subtree.
    copy: usize,
    metrics: ExecutionPlanMetricsSet,
}

impl SharedSubplanExec {
    fn new(input: Arc<dyn ExecutionPlan>, results: Arc<SharedResults>, copy: usize) -> Self {
        Self { input, results, copy, metrics: ExecutionPlanMetricsSet::new() }
    }
}

impl DisplayAs for SharedSubplanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "SharedSubplanExec: subplan={}", self.results.id)
    }
}

impl ExecutionPlan for SharedSubplanExec {
    fn name(&self) -> &'static str {
        "SharedSubplanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn with_new_children(self: Arc<Self>, mut children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        if children.len() != 1 {
            return internal_err!("SharedSubplanExec takes one input, got {}", children.len());
        }
        Ok(Arc::new(Self::new(children.swap_remove(0), Arc::clone(&self.results), self.copy)))
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        if partition >= self.input.output_partitioning().partition_count() {
            return internal_err!("SharedSubplanExec has no partition {partition}");
        }
        let replayed = MetricBuilder::new(&self.metrics).counter("batches_replayed", partition);
        let kept = MetricBuilder::new(&self.metrics).counter("batches_kept", partition);
        match self.results.role(self.copy) {
            Role::Replay => {
                let batches = self.results.state().kept[partition].clone().unwrap_or_default();
                replayed.add(batches.len());
                let batches: Vec<Result<RecordBatch>> = batches.into_iter().map(Ok).collect();
                Ok(Box::pin(RecordBatchStreamAdapter::new(self.schema(), futures::stream::iter(batches))))
            }
            Role::Run => self.input.execute(partition, context),
            Role::Keep => {
                let input = match self.input.execute(partition, Arc::clone(&context)) {
                    Ok(input) => input,
                    Err(e) => {
                        self.results.close();
                        return Err(e);
                    }
                };
                Ok(Box::pin(KeepingStream {
                    schema: self.schema(),
                    input,
                    results: Arc::clone(&self.results),
                    pool: Arc::clone(context.memory_pool()),
                    partition,
                    keeping: Some(Vec::new()),
                    kept,
                }))
            }
        }
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// A partition's stream that keeps each batch it passes on.
struct KeepingStream {
    schema: SchemaRef,
    input: SendableRecordBatchStream,
    results: Arc<SharedResults>,
    pool: Arc<dyn MemoryPool>,
    partition: usize,
    /// What is kept so far; None once keeping stopped or the partition ended.
    keeping: Option<Vec<RecordBatch>>,
    kept: Count,
}

impl Stream for KeepingStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = self.input.poll_next_unpin(cx);
        match &next {
            Poll::Ready(Some(Ok(batch))) if self.keeping.is_some() => {
                if self.results.admit(batch, &self.pool) {
                    self.kept.add(1);
                    if let Some(batches) = self.keeping.as_mut() {
                        batches.push(batch.clone());
                    }
                } else {
                    self.keeping = None;
                }
            }
            Poll::Ready(Some(Err(_))) if self.keeping.is_some() => {
                self.keeping = None;
                self.results.close();
            }
            Poll::Ready(None) if self.keeping.is_some() => {
                let batches = self.keeping.take().unwrap_or_default();
                self.results.finish(self.partition, batches);
            }
            _ => {}
        }
        next
    }
}

impl RecordBatchStream for KeepingStream {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
}

impl Drop for KeepingStream {
    fn drop(&mut self) {
        // stopped before its end (a limit above, a failed statement): the run is not whole
        if self.keeping.take().is_some() {
            self.results.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::datasource::memory::MemorySourceConfig;
    use datafusion::physical_plan::collect_partitioned;
    use futures::TryStreamExt;

    fn source() -> Arc<dyn ExecutionPlan> {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
        let batch = |from: i64| {
            RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from_iter_values(from..from + 100))])
                .unwrap()
        };
        MemorySourceConfig::try_new_exec(&[vec![batch(0), batch(100)], vec![batch(200)]], schema.clone(), None).unwrap()
    }

    /// `n` copies of one two-partition subtree sharing results, keeping at most `limit` bytes.
    fn copies(n: usize, limit: usize) -> Vec<Arc<SharedSubplanExec>> {
        let results = Arc::new(SharedResults::new(1, 2, limit));
        (0..n).map(|copy| Arc::new(SharedSubplanExec::new(source(), Arc::clone(&results), copy))).collect()
    }

    fn count(plan: &SharedSubplanExec, name: &str) -> usize {
        plan.metrics().unwrap().sum_by_name(name).map_or(0, |v| v.as_usize())
    }

    async fn partition(plan: &Arc<SharedSubplanExec>, p: usize) -> Vec<RecordBatch> {
        plan.execute(p, Arc::new(TaskContext::default())).unwrap().try_collect().await.unwrap()
    }

    #[tokio::test]
    async fn later_copies_replay_the_first() {
        let c = copies(3, KEEP_LIMIT);
        let ctx = Arc::new(TaskContext::default());
        let first = collect_partitioned(c[0].clone(), ctx.clone()).await.unwrap();
        for copy in &c[1..] {
            assert_eq!(collect_partitioned(copy.clone(), ctx.clone()).await.unwrap(), first);
            assert_eq!((count(copy, "batches_kept"), count(copy, "batches_replayed")), (0, 3));
        }
        assert_eq!((count(&c[0], "batches_kept"), count(&c[0], "batches_replayed")), (3, 0));
        // three batches of 100 values: their buffers, each counted once
        assert!(c[0].results.state().bytes >= 2400);
    }

    #[tokio::test]
    async fn past_the_limit_each_copy_runs_itself() {
        // less than one batch of 100 values
        let c = copies(2, 100);
        let ctx = Arc::new(TaskContext::default());
        let first = collect_partitioned(c[0].clone(), ctx.clone()).await.unwrap();
        assert_eq!(collect_partitioned(c[1].clone(), ctx).await.unwrap(), first);
        assert_eq!(count(&c[1], "batches_replayed"), 0);
        let state = c[0].results.state();
        assert!(state.closed && state.bytes == 0 && state.reservation.is_none(), "nothing stays kept or counted");
    }

    #[tokio::test]
    async fn a_copy_never_mixes_replayed_and_run_partitions() {
        let c = copies(3, KEEP_LIMIT);
        // copy 0 keeps partition 0 whole; partition 1 has not started
        let p0 = partition(&c[0], 0).await;
        // copy 1 starts meanwhile: it runs itself, for both partitions, even once copy 0 is done
        assert_eq!(partition(&c[1], 0).await, p0);
        let p1 = partition(&c[0], 1).await;
        assert_eq!(partition(&c[1], 1).await, p1);
        assert_eq!(count(&c[1], "batches_replayed"), 0);
        // copy 2 starts after copy 0 finished both: it replays both
        assert_eq!((partition(&c[2], 0).await, partition(&c[2], 1).await), (p0, p1));
        assert_eq!(count(&c[2], "batches_replayed"), 3);
    }

    #[tokio::test]
    async fn a_run_stopped_early_is_not_replayed() {
        let c = copies(2, KEEP_LIMIT);
        let mut running = c[0].execute(0, Arc::new(TaskContext::default())).unwrap();
        let one = running.try_next().await.unwrap().unwrap();
        drop(running);
        let p0 = partition(&c[1], 0).await;
        assert_eq!((p0.len(), &p0[0]), (2, &one));
        assert_eq!(count(&c[1], "batches_replayed"), 0);
        assert!(c[0].results.state().closed);
    }
}
