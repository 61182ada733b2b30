//! The Redshift functions analysts bring to the PostgreSQL wire: GETDATE() and SYSDATE,
//! DATEADD and DATEDIFF (with Redshift's bare date parts), CONVERT_TIMEZONE, LISTAGG ... WITHIN
//! GROUP, APPROXIMATE COUNT(DISTINCT ...); NVL and NVL2 are DataFusion's. Written as rewrites
//! of the parsed statement onto DataFusion's functions where one does the same, else as UDFs.

use std::str::FromStr;
use std::sync::Arc;

use chrono::{Datelike, NaiveDateTime, TimeZone};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use datafusion::sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArgumentClause, FunctionArguments, Ident, ObjectName, Value,
};

fn function_name(f: &datafusion::sql::sqlparser::ast::Function) -> String {
    f.name.0.last().and_then(|p| p.as_ident()).map(|i| i.value.to_ascii_lowercase()).unwrap_or_default()
}

/// `APPROXIMATE COUNT(DISTINCT x)` (which no SQL parser knows) as `approx_distinct(x)`, outside
/// quotes.
#[must_use]
pub fn rewrite_text(sql: &str) -> String {
    let lower = sql.to_ascii_lowercase();
    if !lower.contains("approximate") {
        return sql.to_string();
    }
    let mut out = String::with_capacity(sql.len());
    let bytes = sql.as_bytes();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let b = bytes[i];
        if let Some(q) = quote {
            if b == q {
                quote = None;
            }
        } else if b == b'\'' || b == b'"' {
            quote = Some(b);
        } else if lower[i..].starts_with("approximate")
            && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric() && bytes[i - 1] != b'_')
        {
            let rest = lower[i + "approximate".len()..].trim_start();
            if let Some(after_count) = rest.strip_prefix("count") {
                let after_paren = after_count.trim_start().strip_prefix('(').map(str::trim_start);
                if let Some(args) = after_paren.and_then(|a| a.strip_prefix("distinct"))
                    && args.starts_with(|c: char| c.is_whitespace() || c == '(')
                {
                    out.push_str("approx_distinct(");
                    i = sql.len() - args.len();
                    continue;
                }
            }
        }
        // whole characters, so text outside ASCII passes through
        let c = sql[i..].chars().next().unwrap_or_default();
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// Rewrites one expression of a parsed statement (see the module's doc).
pub fn rewrite_expr(e: &mut Expr) {
    if matches!(e, Expr::Identifier(i) if i.quote_style.is_none() && i.value.eq_ignore_ascii_case("sysdate")) {
        *e = Expr::Function(datafusion::sql::sqlparser::ast::Function {
            name: ObjectName::from(vec![Ident::new("getdate")]),
            uses_odbc_syntax: false,
            parameters: FunctionArguments::None,
            args: FunctionArguments::List(datafusion::sql::sqlparser::ast::FunctionArgumentList {
                duplicate_treatment: None,
                args: vec![],
                clauses: vec![],
            }),
            filter: None,
            null_treatment: None,
            over: None,
            within_group: vec![],
        });
        return;
    }
    let Expr::Function(f) = e else { return };
    match function_name(f).as_str() {
        // the date part is a bare word: DATEADD(day, 1, d)
        "dateadd" | "datediff" | "date_add" | "date_diff" => {
            if let FunctionArguments::List(list) = &mut f.args
                && let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(first))) = list.args.first_mut()
                && let Expr::Identifier(part) = first
            {
                *first = Expr::Value(Value::SingleQuotedString(part.value.to_ascii_lowercase()).into());
            }
            if function_name(f) == "date_add" || function_name(f) == "date_diff" {
                let name = if function_name(f) == "date_add" { "dateadd" } else { "datediff" };
                f.name = ObjectName::from(vec![Ident::new(name)]);
            }
        }
        // LISTAGG(x [, delimiter]) [WITHIN GROUP (ORDER BY ...)]: string_agg with its order
        "listagg" => {
            f.name = ObjectName::from(vec![Ident::new("string_agg")]);
            let order = std::mem::take(&mut f.within_group);
            if let FunctionArguments::List(list) = &mut f.args {
                if list.args.len() == 1 {
                    list.args.push(FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Value(
                        Value::SingleQuotedString(String::new()).into(),
                    ))));
                }
                if !order.is_empty() {
                    list.clauses.push(FunctionArgumentClause::OrderBy(order));
                }
            }
        }
        _ => {}
    }
}

/// Redshift's date parts, as DATEADD and DATEDIFF spell them.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Part {
    Year,
    Quarter,
    Month,
    Week,
    Day,
    Hour,
    Minute,
    Second,
    Millisecond,
    Microsecond,
}

fn part(name: &str) -> Result<Part> {
    Ok(match name.trim().to_ascii_lowercase().as_str() {
        "year" | "years" | "y" | "yr" | "yrs" | "yy" | "yyyy" => Part::Year,
        "quarter" | "quarters" | "qtr" | "qtrs" | "q" => Part::Quarter,
        "month" | "months" | "mon" | "mons" | "mm" => Part::Month,
        "week" | "weeks" | "w" | "wk" | "wks" => Part::Week,
        "day" | "days" | "d" | "dd" => Part::Day,
        "hour" | "hours" | "h" | "hr" | "hrs" | "hh" => Part::Hour,
        "minute" | "minutes" | "m" | "min" | "mins" | "mi" => Part::Minute,
        "second" | "seconds" | "s" | "sec" | "secs" | "ss" => Part::Second,
        "millisecond" | "milliseconds" | "ms" | "msec" | "msecs" => Part::Millisecond,
        "microsecond" | "microseconds" | "us" | "usec" | "usecs" => Part::Microsecond,
        other => {
            return Err(DataFusionError::Plan(format!("\"{other}\" is not a date part DATEADD and DATEDIFF know")));
        }
    })
}

fn naive(micros: i64) -> Result<NaiveDateTime> {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|d| d.naive_utc())
        .ok_or_else(|| DataFusionError::Execution("timestamp out of range".into()))
}

fn add_months(t: NaiveDateTime, months: i64) -> Option<NaiveDateTime> {
    let total = i64::from(t.year()) * 12 + i64::from(t.month0()) + months;
    let (year, month0) = (i32::try_from(total.div_euclid(12)).ok()?, u32::try_from(total.rem_euclid(12)).ok()?);
    // the day is kept, or the month's last day (Jan 31 + 1 month = Feb 28/29)
    let mut day = t.day();
    loop {
        if let Some(d) = chrono::NaiveDate::from_ymd_opt(year, month0 + 1, day) {
            return Some(d.and_time(t.time()));
        }
        day = day.checked_sub(1)?;
    }
}

fn dateadd(p: Part, n: i64, t: NaiveDateTime) -> Option<NaiveDateTime> {
    let d = |x| t.checked_add_signed(x);
    match p {
        Part::Year => add_months(t, n.checked_mul(12)?),
        Part::Quarter => add_months(t, n.checked_mul(3)?),
        Part::Month => add_months(t, n),
        Part::Week => d(chrono::Duration::try_weeks(n)?),
        Part::Day => d(chrono::Duration::try_days(n)?),
        Part::Hour => d(chrono::Duration::try_hours(n)?),
        Part::Minute => d(chrono::Duration::try_minutes(n)?),
        Part::Second => d(chrono::Duration::try_seconds(n)?),
        Part::Millisecond => d(chrono::Duration::try_milliseconds(n)?),
        Part::Microsecond => d(chrono::Duration::microseconds(n)),
    }
}

/// DATEDIFF as Redshift counts it: the boundaries of `p` crossed from `a` to `b`.
fn datediff(p: Part, a: NaiveDateTime, b: NaiveDateTime) -> i64 {
    let months = |t: NaiveDateTime| i64::from(t.year()) * 12 + i64::from(t.month0());
    let days = |t: NaiveDateTime| i64::from(t.date().num_days_from_ce());
    let secs = |t: NaiveDateTime| t.and_utc().timestamp();
    match p {
        Part::Year => i64::from(b.year() - a.year()),
        Part::Quarter => months(b).div_euclid(3) - months(a).div_euclid(3),
        Part::Month => months(b) - months(a),
        // weeks start on Monday
        Part::Week => {
            let monday = |t: NaiveDateTime| days(t) - i64::from(t.weekday().num_days_from_monday());
            (monday(b) - monday(a)) / 7
        }
        Part::Day => days(b) - days(a),
        Part::Hour => secs(b).div_euclid(3600) - secs(a).div_euclid(3600),
        Part::Minute => secs(b).div_euclid(60) - secs(a).div_euclid(60),
        Part::Second => secs(b) - secs(a),
        Part::Millisecond => b.and_utc().timestamp_millis() - a.and_utc().timestamp_millis(),
        Part::Microsecond => b.and_utc().timestamp_micros() - a.and_utc().timestamp_micros(),
    }
}

pub(crate) const TS: DataType = DataType::Timestamp(TimeUnit::Microsecond, None);

fn timestamps(v: &datafusion::arrow::array::ArrayRef) -> Result<TimestampMicrosecondArray> {
    let cast = datafusion::arrow::compute::cast(v, &TS)?;
    Ok(cast.as_primitive::<TimestampMicrosecondType>().clone())
}

/// A Redshift function: its arguments coerced to the types it takes (dates and timestamps of
/// any unit to microseconds, integers to BIGINT), then run on whole arrays. Functions are one
/// by name.
#[derive(Debug)]
pub(crate) struct Function {
    name: &'static str,
    signature: datafusion::logical_expr::Signature,
    returns: DataType,
    /// The types it takes with this many arguments; None: not with this many.
    takes: fn(usize) -> Option<Vec<DataType>>,
    run: fn(&[ArrayRef]) -> Result<ArrayRef>,
}

impl PartialEq for Function {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Function {}

impl std::hash::Hash for Function {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl Function {
    /// A UDF of `name`: its argument types by count (`takes`), coerced to before `run` sees
    /// whole arrays, and what it returns.
    pub(crate) fn udf(
        name: &'static str,
        returns: DataType,
        takes: fn(usize) -> Option<Vec<DataType>>,
        run: fn(&[ArrayRef]) -> Result<ArrayRef>,
    ) -> ScalarUDF {
        let signature = datafusion::logical_expr::Signature::user_defined(Volatility::Immutable);
        ScalarUDF::new_from_impl(Self { name, signature, returns, takes, run })
    }
}

impl datafusion::logical_expr::ScalarUDFImpl for Function {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &datafusion::logical_expr::Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(self.returns.clone())
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        (self.takes)(args.len()).ok_or_else(|| {
            DataFusionError::Plan(format!("{} does not take {} arguments", self.name.to_uppercase(), args.len()))
        })
    }

    fn invoke_with_args(&self, args: datafusion::logical_expr::ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        Ok(ColumnarValue::Array((self.run)(&arrays)?))
    }
}

fn run_dateadd(a: &[ArrayRef]) -> Result<ArrayRef> {
    let (parts, ns, ts) =
        (a[0].as_string::<i32>(), a[1].as_primitive::<datafusion::arrow::datatypes::Int64Type>(), timestamps(&a[2])?);
    let mut out = Vec::with_capacity(ts.len());
    for i in 0..ts.len() {
        if parts.is_null(i) || ns.is_null(i) || ts.is_null(i) {
            out.push(None);
            continue;
        }
        let t = dateadd(part(parts.value(i))?, ns.value(i), naive(ts.value(i))?)
            .ok_or_else(|| DataFusionError::Execution("DATEADD: out of range".into()))?;
        out.push(Some(t.and_utc().timestamp_micros()));
    }
    Ok(Arc::new(TimestampMicrosecondArray::from(out)))
}

fn run_datediff(a: &[ArrayRef]) -> Result<ArrayRef> {
    let (parts, from, to) = (a[0].as_string::<i32>(), timestamps(&a[1])?, timestamps(&a[2])?);
    let mut out = Vec::with_capacity(from.len());
    for i in 0..from.len() {
        if parts.is_null(i) || from.is_null(i) || to.is_null(i) {
            out.push(None);
            continue;
        }
        out.push(Some(datediff(part(parts.value(i))?, naive(from.value(i))?, naive(to.value(i))?)));
    }
    Ok(Arc::new(Int64Array::from(out)))
}

fn zone(name: &str) -> Result<datafusion::arrow::array::timezone::Tz> {
    datafusion::arrow::array::timezone::Tz::from_str(name.trim())
        .map_err(|e| DataFusionError::Execution(format!("CONVERT_TIMEZONE: unknown time zone \"{name}\": {e}")))
}

/// CONVERT_TIMEZONE(['source',] 'target', timestamp): a timestamp read in the source zone (UTC
/// when not given), as the target zone's clock shows it. Zones are IANA names or offsets.
fn run_convert_timezone(a: &[ArrayRef]) -> Result<ArrayRef> {
    let (source, target, ts) = match a {
        [target, ts] => (None, target.as_string::<i32>(), timestamps(ts)?),
        [source, target, ts] => (Some(source.as_string::<i32>()), target.as_string::<i32>(), timestamps(ts)?),
        _ => return Err(DataFusionError::Plan("CONVERT_TIMEZONE takes two or three arguments".into())),
    };
    let mut out = Vec::with_capacity(ts.len());
    for i in 0..ts.len() {
        if ts.is_null(i) || target.is_null(i) || source.is_some_and(|s| s.is_null(i)) {
            out.push(None);
            continue;
        }
        let from = zone(source.map_or("UTC", |s| s.value(i)))?;
        let to = zone(target.value(i))?;
        let instant = from
            .from_local_datetime(&naive(ts.value(i))?)
            .earliest()
            .ok_or_else(|| DataFusionError::Execution("CONVERT_TIMEZONE: no such local time".into()))?;
        out.push(Some(instant.with_timezone(&to).naive_local().and_utc().timestamp_micros()));
    }
    Ok(Arc::new(TimestampMicrosecondArray::from(out)))
}

/// The UDFs the rewrites call.
pub fn udfs() -> Vec<ScalarUDF> {
    let getdate = create_udf(
        "getdate",
        vec![],
        TS,
        Volatility::Stable,
        Arc::new(|_: &[ColumnarValue]| {
            let now = chrono::Utc::now().timestamp_micros();
            Ok(ColumnarValue::Scalar(datafusion::common::ScalarValue::TimestampMicrosecond(Some(now), None)))
        }),
    );
    vec![
        getdate,
        Function::udf("dateadd", TS, |n| (n == 3).then(|| vec![DataType::Utf8, DataType::Int64, TS]), run_dateadd),
        Function::udf("datediff", DataType::Int64, |n| (n == 3).then(|| vec![DataType::Utf8, TS, TS]), run_datediff),
        Function::udf(
            "convert_timezone",
            TS,
            |n| match n {
                2 => Some(vec![DataType::Utf8, TS]),
                3 => Some(vec![DataType::Utf8, DataType::Utf8, TS]),
                _ => None,
            },
            run_convert_timezone,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn approximate_count_distinct() {
        assert_eq!(
            rewrite_text("SELECT APPROXIMATE COUNT ( DISTINCT user_id ) FROM t WHERE s = 'approximate count(distinct'"),
            "SELECT approx_distinct( user_id ) FROM t WHERE s = 'approximate count(distinct'"
        );
        assert_eq!(rewrite_text("select approximated from t"), "select approximated from t");
    }

    #[test]
    fn date_arithmetic_as_redshift_counts() {
        assert_eq!(dateadd(Part::Month, 1, t("2024-01-31 10:00:00")), Some(t("2024-02-29 10:00:00")));
        assert_eq!(dateadd(Part::Day, -1, t("2024-03-01 00:00:00")), Some(t("2024-02-29 00:00:00")));
        assert_eq!(dateadd(Part::Quarter, 1, t("2024-11-15 00:00:00")), Some(t("2025-02-15 00:00:00")));
        // boundaries crossed, not whole units elapsed
        assert_eq!(datediff(Part::Year, t("2020-12-31 23:59:59"), t("2021-01-01 00:00:00")), 1);
        assert_eq!(datediff(Part::Day, t("2024-01-01 23:00:00"), t("2024-01-02 01:00:00")), 1);
        assert_eq!(datediff(Part::Hour, t("2024-01-01 10:59:00"), t("2024-01-01 11:01:00")), 1);
        assert_eq!(datediff(Part::Week, t("2024-01-07 00:00:00"), t("2024-01-08 00:00:00")), 1);
        assert_eq!(datediff(Part::Month, t("2024-03-01 00:00:00"), t("2024-01-31 00:00:00")), -2);
        assert_eq!(part("qtr").unwrap(), Part::Quarter);
        assert!(part("fortnight").is_err());
    }
}
