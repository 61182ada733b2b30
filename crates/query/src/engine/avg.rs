//! `avg` as Athena computes it: the average of a `decimal(p,s)` is a `decimal(p,s)`, rounded
//! half away from zero (Trino's rule), where DataFusion answers `decimal(p+4,s+4)`. Every other
//! type averages as DataFusion does (a `double`).
//!
//! DataFusion's own accumulators do the work at their wider scale; only the final values are
//! rounded, so partial states, merges and sliding windows are DataFusion's.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, Decimal128Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue};
use datafusion::functions_aggregate::average::Avg;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, EmitTo, GroupsAccumulator, ReversedUDAF, Signature,
};

/// The `avg` (and `mean`) tarn registers in place of DataFusion's.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct AthenaAvg {
    inner: Avg,
}

impl AthenaAvg {
    pub fn new() -> Self {
        Self { inner: Avg::new() }
    }

    /// The type DataFusion's avg answers for `input`, and whether tarn rounds it (to
    /// [`AggregateUDFImpl::return_type`]).
    fn rounding(&self, input: &DataType) -> Result<(DataType, bool)> {
        let wide = self.inner.return_type(std::slice::from_ref(input))?;
        let rounds = matches!((input, &wide), (DataType::Decimal128(_, s), DataType::Decimal128(_, ws)) if ws > s);
        Ok((wide, rounds))
    }

    /// `args` asking DataFusion's avg for its own (wider) type, and whether tarn rounds it.
    fn wide_args<'a>(&self, args: &AccumulatorArgs<'a>) -> Result<(AccumulatorArgs<'a>, bool)> {
        let (wide, rounds) = self.rounding(args.expr_fields[0].data_type())?;
        let field: FieldRef = Arc::new(Field::new(args.return_field.name(), wide, true));
        Ok((AccumulatorArgs { return_field: field, ..*args }, rounds))
    }
}

impl Default for AthenaAvg {
    fn default() -> Self {
        Self::new()
    }
}

impl AggregateUDFImpl for AthenaAvg {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match &arg_types[0] {
            d @ DataType::Decimal128(..) => Ok(d.clone()),
            _ => self.inner.return_type(arg_types),
        }
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let (wide, rounds) = self.wide_args(&args)?;
        let inner = self.inner.accumulator(wide)?;
        Ok(if rounds { Box::new(Rounded { inner, to: args.return_field.data_type().clone() }) } else { inner })
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let (wide, _) = self.rounding(args.input_fields[0].data_type())?;
        let field: FieldRef = Arc::new(Field::new(args.return_field.name(), wide, true));
        self.inner.state_fields(StateFieldsArgs { return_field: field, ..args })
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        self.wide_args(&args).is_ok_and(|(wide, _)| self.inner.groups_accumulator_supported(wide))
    }

    fn create_groups_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn GroupsAccumulator>> {
        let (wide, rounds) = self.wide_args(&args)?;
        let inner = self.inner.create_groups_accumulator(wide)?;
        Ok(if rounds { Box::new(RoundedGroups { inner, to: args.return_field.data_type().clone() }) } else { inner })
    }

    fn reverse_expr(&self) -> ReversedUDAF {
        ReversedUDAF::Identical
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }
}

/// `v` (a decimal of scale `from`) at scale `to` (<= `from`), rounded half away from zero.
fn round_half_away(v: i128, from: i8, to: i8) -> i128 {
    let div = 10i128.pow(u32::try_from(from - to).unwrap_or(0));
    let (q, r) = (v / div, v % div);
    if r.abs() * 2 >= div { q + v.signum() } else { q }
}

/// Decimal128 values of `array` (of DataFusion's wider type) at `to`.
fn rounded_array(array: &ArrayRef, to: &DataType) -> Result<ArrayRef> {
    let (DataType::Decimal128(p, s), DataType::Decimal128(_, from)) = (to, array.data_type()) else {
        return Ok(Arc::clone(array));
    };
    let from = *from;
    let wide = array.as_any().downcast_ref::<Decimal128Array>().expect("a Decimal128 type is a Decimal128Array");
    let out: Decimal128Array = wide.unary(|v| round_half_away(v, from, *s));
    Ok(Arc::new(out.with_precision_and_scale(*p, *s)?))
}

struct Rounded {
    inner: Box<dyn Accumulator>,
    /// The input's decimal type, which the average is rounded to.
    to: DataType,
}

impl std::fmt::Debug for Rounded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Rounded({:?} to {})", self.inner, self.to)
    }
}

impl Accumulator for Rounded {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.inner.update_batch(values)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let DataType::Decimal128(p, s) = self.to else { return self.inner.evaluate() };
        Ok(match self.inner.evaluate()? {
            ScalarValue::Decimal128(v, _, from) => {
                ScalarValue::Decimal128(v.map(|v| round_half_away(v, from, s)), p, s)
            }
            other => other,
        })
    }

    fn size(&self) -> usize {
        self.inner.size() + std::mem::size_of::<Self>()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.inner.state()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.inner.merge_batch(states)
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.inner.retract_batch(values)
    }

    fn supports_retract_batch(&self) -> bool {
        self.inner.supports_retract_batch()
    }
}

struct RoundedGroups {
    inner: Box<dyn GroupsAccumulator>,
    /// The input's decimal type, which the averages are rounded to.
    to: DataType,
}

impl GroupsAccumulator for RoundedGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.inner.update_batch(values, group_indices, opt_filter, total_num_groups)
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        rounded_array(&self.inner.evaluate(emit_to)?, &self.to)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        self.inner.state(emit_to)
    }

    fn merge_batch(&mut self, values: &[ArrayRef], group_indices: &[usize], total_num_groups: usize) -> Result<()> {
        self.inner.merge_batch(values, group_indices, total_num_groups)
    }

    fn convert_to_state(&self, values: &[ArrayRef], opt_filter: Option<&BooleanArray>) -> Result<Vec<ArrayRef>> {
        self.inner.convert_to_state(values, opt_filter)
    }

    fn size(&self) -> usize {
        self.inner.size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_half_away_from_zero() {
        // 1.666666 -> 1.67, 1.665000 -> 1.67, 1.664999 -> 1.66, and the same below zero
        for (v, want) in [(1_666_666, 167), (1_665_000, 167), (1_664_999, 166), (0, 0)] {
            assert_eq!(round_half_away(v, 6, 2), want);
            assert_eq!(round_half_away(-v, 6, 2), -want);
        }
        assert_eq!(round_half_away(123, 2, 2), 123);
    }
}
