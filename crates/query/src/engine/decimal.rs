//! Decimal `+`, `-` and `*` without a per-value overflow check where no value can overflow.
//!
//! Arrow computes every `Decimal128` sum, difference and product with a checked 128-bit
//! operation per value (a branch and, for products, a call into the compiler's runtime), and
//! rescales differing scales with two more. In TPC-H's q01 that was about a third of the CPU.
//! Most decimals in tables hold values that fit in 64 bits (a Glue `decimal(15,2)` always
//! does), and when both operands of a batch do, the exact 128-bit result cannot overflow:
//! a product of two such values is below 2^126, and a sum of two values each scaled by at most
//! 10^18 is below 2^126 too. So each batch is checked once, cheaply, and computed without
//! per-value checks when it passes; otherwise arrow computes it as before. The result is the
//! same array either way: same values, same type (precision and scale as arrow gives them),
//! same nulls.
//!
//! A physical optimizer rule puts [`DecimalArithmetic`] in place of `+`, `-` and `*` on two
//! `Decimal128` operands in projections and aggregate arguments, where that arithmetic runs
//! over every row; it leaves a plan's shape and display unchanged.

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, PrimitiveArray};
use datafusion::arrow::buffer::{NullBuffer, ScalarBuffer};
use datafusion::arrow::compute::kernels::numeric;
use datafusion::arrow::datatypes::{DataType, Decimal128Type, FieldRef, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::interval_arithmetic::Interval;
use datafusion::logical_expr::sort_properties::ExprProperties;
use datafusion::logical_expr::{ColumnarValue, Operator};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::BinaryExpr;
use datafusion::physical_expr_common::datum::apply;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::aggregates::AggregateExec;
use datafusion::physical_plan::projection::{ProjectionExec, ProjectionExpr};

/// The rule: [`DecimalArithmetic`] for decimal `+`, `-`, `*` in projections and aggregates.
#[derive(Debug, Default)]
pub(crate) struct FastDecimalArithmetic;

impl PhysicalOptimizerRule for FastDecimalArithmetic {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            if let Some(projection) = node.downcast_ref::<ProjectionExec>() {
                let schema = projection.input().schema();
                let mut changed = false;
                let mut exprs = Vec::with_capacity(projection.expr().len());
                for e in projection.expr() {
                    let new = rewrite(&e.expr, &schema)?;
                    changed |= new.transformed;
                    exprs.push(ProjectionExpr { expr: new.data, alias: e.alias.clone() });
                }
                if changed {
                    let input = projection.input().clone();
                    let rebuilt = ProjectionExec::try_new_with_schema_metadata(exprs, input, &node.schema())?;
                    return Ok(Transformed::yes(Arc::new(rebuilt) as Arc<dyn ExecutionPlan>));
                }
            } else if let Some(aggregate) = node.downcast_ref::<AggregateExec>() {
                let schema = aggregate.input_schema();
                let mut changed = false;
                let mut aggr = Vec::with_capacity(aggregate.aggr_expr().len());
                for a in aggregate.aggr_expr() {
                    if a.is_reversed() {
                        // rebuilt, it would forget that it was reversed
                        aggr.push(a.clone());
                        continue;
                    }
                    let all = a.all_expressions();
                    let mut args = Vec::with_capacity(all.args.len());
                    let mut arg_changed = false;
                    for arg in all.args {
                        let new = rewrite(&arg, &schema)?;
                        arg_changed |= new.transformed;
                        args.push(new.data);
                    }
                    match arg_changed.then(|| a.with_new_expressions(args, all.order_by_exprs)).flatten() {
                        Some(new) => {
                            changed = true;
                            aggr.push(Arc::new(new));
                        }
                        None => aggr.push(a.clone()),
                    }
                }
                if changed {
                    return Ok(Transformed::yes(
                        Arc::new(aggregate.with_new_aggr_exprs(aggr)) as Arc<dyn ExecutionPlan>
                    ));
                }
            }
            Ok(Transformed::no(node))
        })
        .data()
    }

    fn name(&self) -> &str {
        "tarn_fast_decimal_arithmetic"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// `expr` with each decimal `+`, `-`, `*` (both operands `Decimal128`) made a [`DecimalArithmetic`].
fn rewrite(expr: &Arc<dyn PhysicalExpr>, schema: &Schema) -> Result<Transformed<Arc<dyn PhysicalExpr>>> {
    Arc::clone(expr).transform_up(|e| {
        let Some(binary) = e.downcast_ref::<BinaryExpr>() else {
            return Ok(Transformed::no(e));
        };
        if !matches!(binary.op(), Operator::Plus | Operator::Minus | Operator::Multiply) {
            return Ok(Transformed::no(e));
        }
        let decimal =
            |side: &Arc<dyn PhysicalExpr>| side.data_type(schema).map(|t| matches!(t, DataType::Decimal128(..)));
        if !(decimal(binary.left())? && decimal(binary.right())?) {
            return Ok(Transformed::no(e));
        }
        // (a type arrow cannot give, such as a scale past 38, fails where it is planned)
        let Ok(DataType::Decimal128(precision, scale)) = binary.data_type(schema) else {
            return Ok(Transformed::no(e));
        };
        Ok(Transformed::yes(Arc::new(DecimalArithmetic { inner: binary.clone(), precision, scale })))
    })
}

/// A decimal `+`, `-` or `*` that skips arrow's per-value overflow checks for batches whose
/// operands all fit in 64 bits (see the module's comment); arrow computes the others.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct DecimalArithmetic {
    inner: BinaryExpr,
    precision: u8,
    scale: i8,
}

impl DecimalArithmetic {
    /// The fast path, or None where it does not apply (an operand that does not fit in 64
    /// bits, a rescale by more than 10^18, a null scalar, or two scalars).
    fn fast(&self, lhs: &ColumnarValue, rhs: &ColumnarValue) -> Option<ArrayRef> {
        let (l, ls) = operand(lhs)?;
        let (r, rs) = operand(rhs)?;
        let len = match (&l, &r) {
            (Operand::Array(a, _), _) | (_, Operand::Array(a, _)) => a.len(),
            _ => return None,
        };
        if !l.fits_i64() || !r.fits_i64() {
            return None;
        }
        let values: Vec<i128> = match self.inner.op() {
            Operator::Multiply => binary(&l, &r, len, |a, b| a * b),
            op => {
                let target = ls.max(rs);
                let lm = power_of_ten(target.checked_sub(ls)?)?;
                let rm = power_of_ten(target.checked_sub(rs)?)?;
                match (op, lm, rm) {
                    (Operator::Plus, 1, 1) => binary(&l, &r, len, |a, b| a + b),
                    (Operator::Minus, 1, 1) => binary(&l, &r, len, |a, b| a - b),
                    (Operator::Plus, _, _) => binary(&l, &r, len, |a, b| a * lm + b * rm),
                    (Operator::Minus, _, _) => binary(&l, &r, len, |a, b| a * lm - b * rm),
                    _ => return None,
                }
            }
        };
        let nulls = NullBuffer::union(l.nulls(), r.nulls());
        let array = PrimitiveArray::<Decimal128Type>::new(ScalarBuffer::from(values), nulls)
            .with_precision_and_scale(self.precision, self.scale)
            .ok()?;
        Some(Arc::new(array))
    }
}

/// One side of the operation: a batch's values, or one value for every row.
enum Operand<'a> {
    Array(&'a [i128], Option<&'a NullBuffer>),
    Scalar(i128),
}

impl Operand<'_> {
    fn fits_i64(&self) -> bool {
        match self {
            // one pass, no early exit, so that it vectorises
            Self::Array(values, _) => values.iter().fold(true, |ok, &v| ok & (v as i64 as i128 == v)),
            Self::Scalar(v) => *v as i64 as i128 == *v,
        }
    }

    fn nulls(&self) -> Option<&NullBuffer> {
        match self {
            Self::Array(_, nulls) => *nulls,
            Self::Scalar(_) => None,
        }
    }
}

/// The values and scale of a `Decimal128` operand; None for a null scalar or another type.
fn operand(value: &ColumnarValue) -> Option<(Operand<'_>, i8)> {
    match value {
        ColumnarValue::Array(array) => {
            let DataType::Decimal128(_, scale) = array.data_type() else { return None };
            let decimals = array.as_primitive_opt::<Decimal128Type>()?;
            Some((Operand::Array(decimals.values(), decimals.nulls()), *scale))
        }
        ColumnarValue::Scalar(ScalarValue::Decimal128(Some(v), _, scale)) => Some((Operand::Scalar(*v), *scale)),
        ColumnarValue::Scalar(_) => None,
    }
}

/// `f` over both operands, each value first narrowed to 64 bits (callers have checked that
/// every value fits), so that products are one widening multiply.
fn binary(l: &Operand, r: &Operand, len: usize, f: impl Fn(i128, i128) -> i128) -> Vec<i128> {
    let narrow = |v: i128| v as i64 as i128;
    match (l, r) {
        (Operand::Array(a, _), Operand::Array(b, _)) => {
            a.iter().zip(b.iter()).map(|(&x, &y)| f(narrow(x), narrow(y))).collect()
        }
        (Operand::Array(a, _), Operand::Scalar(y)) => {
            let y = narrow(*y);
            a.iter().map(|&x| f(narrow(x), y)).collect()
        }
        (Operand::Scalar(x), Operand::Array(b, _)) => {
            let x = narrow(*x);
            b.iter().map(|&y| f(x, narrow(y))).collect()
        }
        (Operand::Scalar(x), Operand::Scalar(y)) => vec![f(narrow(*x), narrow(*y)); len],
    }
}

/// 10^exp for a rescale of at most 18 digits (a 64-bit value times it stays below 2^125).
fn power_of_ten(exp: i8) -> Option<i128> {
    (0..=18).contains(&exp).then(|| 10i128.pow(exp as u32))
}

impl fmt::Display for DecimalArithmetic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl PhysicalExpr for DecimalArithmetic {
    fn return_field(&self, input_schema: &Schema) -> Result<FieldRef> {
        self.inner.return_field(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let lhs = self.inner.left().evaluate(batch)?;
        let rhs = self.inner.right().evaluate(batch)?;
        if let Some(array) = self.fast(&lhs, &rhs) {
            return Ok(ColumnarValue::Array(array));
        }
        // arrow's kernels, as BinaryExpr calls them (decimal arithmetic is checked in all of them)
        match self.inner.op() {
            Operator::Plus => apply(&lhs, &rhs, numeric::add),
            Operator::Minus => apply(&lhs, &rhs, numeric::sub),
            _ => apply(&lhs, &rhs, numeric::mul),
        }
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![self.inner.left(), self.inner.right()]
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn PhysicalExpr>>) -> Result<Arc<dyn PhysicalExpr>> {
        let [left, right]: [Arc<dyn PhysicalExpr>; 2] = children.try_into().map_err(|_| {
            datafusion::common::DataFusionError::Internal("decimal arithmetic takes two operands".into())
        })?;
        let inner = BinaryExpr::new(left, *self.inner.op(), right);
        Ok(Arc::new(Self { inner, precision: self.precision, scale: self.scale }))
    }

    fn evaluate_bounds(&self, children: &[&Interval]) -> Result<Interval> {
        self.inner.evaluate_bounds(children)
    }

    fn get_properties(&self, children: &[ExprProperties]) -> Result<ExprProperties> {
        self.inner.get_properties(children)
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt_sql(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Decimal128Array;
    use datafusion::arrow::datatypes::Field;
    use datafusion::physical_expr::expressions::{Column, Literal};
    use datafusion::physical_plan::empty::EmptyExec;
    use rand::{Rng, SeedableRng};

    fn decimals(rng: &mut rand::rngs::StdRng, len: usize, p: u8, s: i8, wide: bool) -> ArrayRef {
        let limit = 10i128.pow(u32::from(p)) - 1;
        let values = (0..len).map(|i| {
            if i % 7 == 3 {
                return None;
            }
            let v = if wide {
                rng.random_range(-limit..=limit)
            } else {
                i128::from(rng.random::<i32>()) % limit.min(i128::from(i32::MAX))
            };
            Some(v)
        });
        Arc::new(Decimal128Array::from_iter(values).with_precision_and_scale(p, s).unwrap())
    }

    fn batch(l: ArrayRef, r: ArrayRef) -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("l", l.data_type().clone(), true),
            Field::new("r", r.data_type().clone(), true),
        ]);
        RecordBatch::try_new(Arc::new(schema), vec![l, r]).unwrap()
    }

    /// Both as arrow computes them (BinaryExpr) and as DecimalArithmetic does; they must agree,
    /// errors included.
    fn both(
        left: Arc<dyn PhysicalExpr>,
        op: Operator,
        right: Arc<dyn PhysicalExpr>,
        batch: &RecordBatch,
    ) -> Option<(Result<ArrayRef>, Result<ArrayRef>)> {
        let binary = BinaryExpr::new(left, op, right);
        if binary.data_type(batch.schema_ref()).is_err() {
            // no result type: DataFusion does not plan it
            let rewritten = rewrite(&(Arc::new(binary) as Arc<dyn PhysicalExpr>), batch.schema_ref()).unwrap();
            assert!(!rewritten.transformed);
            return None;
        }
        let rewritten = rewrite(&(Arc::new(binary.clone()) as Arc<dyn PhysicalExpr>), batch.schema_ref()).unwrap();
        assert!(rewritten.transformed, "{binary} is rewritten");
        assert!(rewritten.data.downcast_ref::<DecimalArithmetic>().is_some());
        assert_eq!(rewritten.data.to_string(), binary.to_string(), "display unchanged");
        let n = batch.num_rows();
        let arrow = binary.evaluate(batch).and_then(|v| v.into_array(n));
        let ours = rewritten.data.evaluate(batch).and_then(|v| v.into_array(n));
        Some((arrow, ours))
    }

    #[test]
    fn agrees_with_arrow_over_types_scales_nulls_and_scalars() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let types = [(15u8, 2i8), (23, 2), (20, 0), (38, 4), (10, -2), (38, 20)];
        for wide in [false, true] {
            for &(p1, s1) in &types {
                for &(p2, s2) in &types {
                    let l = decimals(&mut rng, 1000, p1, s1, wide);
                    let r = decimals(&mut rng, 1000, p2, s2, wide);
                    let b = batch(l.clone(), r.clone());
                    let col = |name: &str, i| Arc::new(Column::new(name, i)) as Arc<dyn PhysicalExpr>;
                    let lit =
                        Arc::new(Literal::new(ScalarValue::Decimal128(Some(123), p2, s2))) as Arc<dyn PhysicalExpr>;
                    for op in [Operator::Plus, Operator::Minus, Operator::Multiply] {
                        for (left, right) in
                            [(col("l", 0), col("r", 1)), (col("l", 0), lit.clone()), (lit.clone(), col("l", 0))]
                        {
                            let Some((arrow, ours)) = both(left, op, right, &b) else { continue };
                            match (arrow, ours) {
                                (Ok(a), Ok(o)) => assert_eq!(a.to_data(), o.to_data(), "{p1},{s1} {op} {p2},{s2}"),
                                (Err(_), Err(_)) => {}
                                (a, o) => panic!("{p1},{s1} {op} {p2},{s2}: arrow {a:?}, ours {o:?}"),
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn values_that_fit_in_64_bits_take_the_fast_path() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(8);
        let price = decimals(&mut rng, 100, 15, 2, true);
        let big = Arc::new(
            Decimal128Array::from(vec![Some(i128::from(i64::MAX) + 1); 100]).with_precision_and_scale(38, 0).unwrap(),
        ) as ArrayRef;
        for op in [Operator::Plus, Operator::Minus, Operator::Multiply] {
            let expr = DecimalArithmetic {
                inner: BinaryExpr::new(Arc::new(Column::new("l", 0)), op, Arc::new(Column::new("r", 1))),
                precision: 38,
                scale: 4,
            };
            let one = ColumnarValue::Scalar(ScalarValue::Decimal128(Some(1), 20, 0));
            let price = ColumnarValue::Array(price.clone());
            assert!(expr.fast(&price, &price).is_some() && expr.fast(&one, &price).is_some(), "{op}");
            assert!(expr.fast(&price, &ColumnarValue::Array(big.clone())).is_none(), "{op}: past 64 bits");
            assert!(expr.fast(&one, &one).is_none(), "{op}: two scalars");
        }
    }

    #[test]
    fn overflow_is_still_an_error() {
        let big = Arc::new(
            Decimal128Array::from(vec![Some(10i128.pow(37)), Some(1)]).with_precision_and_scale(38, 0).unwrap(),
        ) as ArrayRef;
        let b = batch(big.clone(), big);
        let (arrow, ours) =
            both(Arc::new(Column::new("l", 0)), Operator::Multiply, Arc::new(Column::new("r", 1)), &b).unwrap();
        assert!(arrow.is_err() && ours.is_err(), "10^37 * 10^37 overflows: {ours:?}");
    }

    #[test]
    fn the_rule_reaches_projections() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("price", DataType::Decimal128(15, 2), false),
            Field::new("discount", DataType::Decimal128(15, 2), false),
            Field::new("n", DataType::Int64, false),
        ]));
        let input = Arc::new(EmptyExec::new(schema.clone()));
        let product = Arc::new(BinaryExpr::new(
            Arc::new(Column::new("price", 0)),
            Operator::Multiply,
            Arc::new(Column::new("discount", 1)),
        ));
        let ints =
            Arc::new(BinaryExpr::new(Arc::new(Column::new("n", 2)), Operator::Plus, Arc::new(Column::new("n", 2))));
        let projection = ProjectionExec::try_new(
            vec![ProjectionExpr { expr: product, alias: "p".into() }, ProjectionExpr { expr: ints, alias: "m".into() }],
            input,
        )
        .unwrap();
        let before = projection.schema();
        let plan = FastDecimalArithmetic.optimize(Arc::new(projection), &ConfigOptions::default()).unwrap();
        let projection = plan.downcast_ref::<ProjectionExec>().unwrap();
        assert!(
            projection.expr()[0].expr.downcast_ref::<DecimalArithmetic>().is_some(),
            "the decimal product is replaced"
        );
        assert!(projection.expr()[1].expr.downcast_ref::<BinaryExpr>().is_some(), "integer arithmetic is left alone");
        assert_eq!(plan.schema(), before);
    }
}
