//! Columns of a table meet a file's columns by name ignoring case, as Athena reads them: the
//! renames, and the expression adapter Parquet scans use (ORC scans use the renames too).

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::{Fields, Schema, SchemaRef};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::error::Result;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column as ColumnExpr;
use datafusion::physical_expr_adapter::{
    DefaultPhysicalExprAdapterFactory, PhysicalExprAdapter, PhysicalExprAdapterFactory,
};

/// Parquet files meet the table's columns by name ignoring case, as Athena reads them: Spark
/// and pandas keep the case a column was given (`userId`), Glue and Hive lowercase it. A table
/// column missing from a file under its own name reads the file's one column that differs from
/// it only in case (none when two do, or when another table column claims the same spelling).
#[derive(Debug)]
pub(crate) struct CaseInsensitiveColumns;

impl PhysicalExprAdapterFactory for CaseInsensitiveColumns {
    fn create(&self, logical: SchemaRef, physical: SchemaRef) -> Result<Arc<dyn PhysicalExprAdapter>> {
        let renames = case_renames(&logical, &physical);
        if renames.is_empty() {
            return DefaultPhysicalExprAdapterFactory.create(logical, physical);
        }
        // the default adapter (casts, missing columns as NULL) over the table's columns spelled
        // as the file spells them; expressions are renamed to match before it rewrites them
        let inner = DefaultPhysicalExprAdapterFactory.create(spelled(&logical, &renames), physical)?;
        Ok(Arc::new(RenamedColumns { renames, inner }))
    }
}

/// Table column name -> the file's spelling, for the table columns a file has only in another
/// case (see [`CaseInsensitiveColumns`]).
pub(crate) fn case_renames(table: &Schema, file: &Schema) -> HashMap<String, String> {
    let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    let mut renames = HashMap::new();
    for t in table.fields() {
        if file.field_with_name(t.name()).is_ok() {
            continue;
        }
        let mut in_file = file.fields().iter().filter(|f| same(f.name(), t.name()));
        if let (Some(f), None) = (in_file.next(), in_file.next())
            && table.fields().iter().filter(|x| same(x.name(), f.name())).count() == 1
        {
            renames.insert(t.name().clone(), f.name().clone());
        }
    }
    renames
}

/// The table's schema with its columns spelled as one file spells them.
pub(crate) fn spelled(table: &Schema, renames: &HashMap<String, String>) -> SchemaRef {
    let fields: Fields = table
        .fields()
        .iter()
        .map(|f| match renames.get(f.name()) {
            Some(name) => Arc::new(f.as_ref().clone().with_name(name)),
            None => f.clone(),
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, table.metadata().clone()))
}

#[derive(Debug)]
struct RenamedColumns {
    /// Table column name -> the file's spelling.
    renames: HashMap<String, String>,
    inner: Arc<dyn PhysicalExprAdapter>,
}

impl PhysicalExprAdapter for RenamedColumns {
    fn rewrite(&self, expr: Arc<dyn PhysicalExpr>) -> Result<Arc<dyn PhysicalExpr>> {
        let renamed = expr
            .transform(|e| {
                if let Some(c) = e.downcast_ref::<ColumnExpr>()
                    && let Some(name) = self.renames.get(c.name())
                {
                    return Ok(Transformed::yes(Arc::new(ColumnExpr::new(name, c.index())) as Arc<dyn PhysicalExpr>));
                }
                Ok(Transformed::no(e))
            })?
            .data;
        self.inner.rewrite(renamed)
    }
}
