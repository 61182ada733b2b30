//! A hash join builds its table on the side estimated to have far fewer rows.
//!
//! DataFusion's `JoinSelection` picks the build side by estimated bytes first. Its byte
//! estimates above a join can be far off: an inner join keeps its inputs' per-column byte
//! sizes unscaled by its own (much smaller) row estimate, so a semi join over it inherits the
//! byte size of a whole table's scan. In TPC-H's q21 that made the anti join build its table on
//! 3.8M `lineitem` rows (partitioned on both sides) against 73K on the other side, about a
//! quarter of the query's time. Row estimates do not carry that error. This rule, run right
//! after `JoinSelection`, swaps a hash join whose build side is estimated to have at least
//! [`RATIO`] times the probe side's rows, when the probe side is small enough to be built once
//! for all partitions (`hash_join_single_partition_threshold_rows`, and its rows at a width per
//! column within `hash_join_single_partition_threshold`): it becomes the shared (CollectLeft)
//! build side. Joins whose inputs lack a row estimate, null-aware anti joins and
//! join types that cannot swap are left as they are.

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::statistics::{StatisticsArgs, StatisticsContext};

/// How many times the probe side's estimated rows the build side must have to be swapped
/// (Presto's threshold for flipping join sides, which DataFusion's code cites).
pub(crate) const RATIO: usize = 8;

#[derive(Debug, Default)]
pub(crate) struct BuildOnFewerRows;

impl PhysicalOptimizerRule for BuildOnFewerRows {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        if !config.optimizer.join_reordering {
            return Ok(plan);
        }
        let most = config.optimizer.hash_join_single_partition_threshold_rows;
        let most_bytes = config.optimizer.hash_join_single_partition_threshold;
        plan.transform_up(|node| {
            let Some(join) = node.downcast_ref::<HashJoinExec>() else {
                return Ok(Transformed::no(node));
            };
            let mode = *join.partition_mode();
            if !matches!(mode, PartitionMode::Partitioned | PartitionMode::CollectLeft)
                || join.null_aware
                || !join.join_type().supports_swap()
            {
                return Ok(Transformed::no(node));
            }
            let (Some(build), Some(probe)) = (rows(join.left())?, rows(join.right())?) else {
                return Ok(Transformed::no(node));
            };
            let small = probe <= most && estimated_bytes(join.right(), probe) <= most_bytes;
            if small && build >= probe.max(1).saturating_mul(RATIO) {
                return Ok(Transformed::yes(join.swap_inputs(PartitionMode::CollectLeft)?));
            }
            Ok(Transformed::no(node))
        })
        .data()
    }

    fn name(&self) -> &str {
        "build_on_fewer_rows"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// What `rows` rows of `plan`'s output take once built, roughly: each column at its type's
/// width, or 64 bytes for strings and other variable-width types. (Not DataFusion's byte
/// estimate, whose errors are what this rule works around.)
fn estimated_bytes(plan: &Arc<dyn ExecutionPlan>, rows: usize) -> usize {
    let width: usize = plan.schema().fields().iter().map(|f| f.data_type().primitive_width().unwrap_or(64)).sum();
    rows.saturating_mul(width.max(1))
}

/// The estimated row count of `plan`'s output, when there is one.
fn rows(plan: &Arc<dyn ExecutionPlan>) -> Result<Option<usize>> {
    let stats = StatisticsContext::new().compute(plan.as_ref(), &StatisticsArgs::new())?;
    Ok(stats.num_rows.get_value().copied())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::common::{JoinType, NullEquality};
    use datafusion::datasource::memory::MemorySourceConfig;
    use datafusion::physical_expr::expressions::Column;

    fn table(rows: i64) -> Arc<dyn ExecutionPlan> {
        let schema = Arc::new(Schema::new(vec![Field::new("k", DataType::Int64, false)]));
        let batch =
            RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from_iter_values(0..rows))]).unwrap();
        MemorySourceConfig::try_new_exec(&[vec![batch]], schema, None).unwrap()
    }

    fn join(build: i64, probe: i64, join_type: JoinType, mode: PartitionMode) -> Arc<dyn ExecutionPlan> {
        let on = vec![(
            Arc::new(Column::new("k", 0)) as Arc<dyn datafusion::physical_expr::PhysicalExpr>,
            Arc::new(Column::new("k", 0)) as Arc<dyn datafusion::physical_expr::PhysicalExpr>,
        )];
        let exec = HashJoinExec::try_new(
            table(build),
            table(probe),
            on,
            None,
            &join_type,
            None,
            mode,
            NullEquality::NullEqualsNothing,
            false,
        )
        .unwrap();
        Arc::new(exec)
    }

    /// (rows on the build side, the join type, the mode) after the rule
    fn after(plan: Arc<dyn ExecutionPlan>) -> (usize, JoinType, PartitionMode) {
        let plan = BuildOnFewerRows.optimize(plan, &ConfigOptions::default()).unwrap();
        let mut found = None;
        plan.apply(|node| {
            if let Some(j) = node.downcast_ref::<HashJoinExec>() {
                found = Some((rows(j.left()).unwrap().unwrap(), *j.join_type(), *j.partition_mode()));
            }
            Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
        })
        .unwrap();
        found.unwrap()
    }

    #[test]
    fn a_build_side_with_many_more_rows_is_swapped() {
        assert_eq!(
            after(join(8000, 1000, JoinType::RightAnti, PartitionMode::Partitioned)),
            (1000, JoinType::LeftAnti, PartitionMode::CollectLeft)
        );
        assert_eq!(
            after(join(8000, 1000, JoinType::Inner, PartitionMode::CollectLeft)),
            (1000, JoinType::Inner, PartitionMode::CollectLeft)
        );
        // under the ratio, or a probe side too big to build once: as DataFusion chose
        assert_eq!(
            after(join(7999, 1000, JoinType::Inner, PartitionMode::Partitioned)),
            (7999, JoinType::Inner, PartitionMode::Partitioned)
        );
        let mut config = ConfigOptions::default();
        config.optimizer.hash_join_single_partition_threshold_rows = 999;
        let plan =
            BuildOnFewerRows.optimize(join(8000, 1000, JoinType::Inner, PartitionMode::Partitioned), &config).unwrap();
        assert_eq!(rows(plan.children()[0]).unwrap(), Some(8000));
        let mut config = ConfigOptions::default();
        config.optimizer.hash_join_single_partition_threshold = 1000 * 8 - 1;
        let plan =
            BuildOnFewerRows.optimize(join(8000, 1000, JoinType::Inner, PartitionMode::Partitioned), &config).unwrap();
        assert_eq!(rows(plan.children()[0]).unwrap(), Some(8000), "1000 rows of 8 bytes are over the byte threshold");
    }
}
