//! Athena's (Trino's) functions over JSON text and ISO 8601 times, which CloudTrail tables and
//! most Athena examples query with: `json_extract_scalar`, `json_extract`, `json_array_length`,
//! `json_size`, `from_iso8601_timestamp` and `from_iso8601_date`.
//!
//! Also Athena's `CROSS JOIN UNNEST(array) AS t(x)`, which DataFusion cannot plan as the
//! lateral join it is, rewritten onto DataFusion's `unnest` in a projection
//! ([`rewrite_unnest`]).
//!
//! A JSON path is Trino's subset that Athena documents: `$`, then `.member`, `["member"]` (or
//! single quotes) and `[index]` steps. Text that is not JSON, or a path that finds nothing, is
//! NULL, as in Trino; a path that does not parse is an error naming it.

use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::DataType;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::ScalarUDF;
use datafusion::sql::sqlparser::ast::{
    Join, JoinOperator, Query, SetExpr, Statement, TableAlias, TableFactor, TableWithJoins, VisitMut, VisitorMut,
};
use serde_json::Value;

use super::redshift::{Function, TS};

/// One step of a JSON path.
#[derive(Debug, PartialEq)]
enum Step {
    Member(String),
    Index(usize),
}

fn bad_path(path: &str) -> DataFusionError {
    DataFusionError::Execution(format!("Invalid JSON path: '{path}'"))
}

/// Parses `$.a.b[0]["c d"]`.
fn parse_path(path: &str) -> Result<Vec<Step>> {
    let rest = path.trim().strip_prefix('$').ok_or_else(|| bad_path(path))?;
    let mut steps = Vec::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                let mut name = String::new();
                while let Some(&n) = chars.peek() {
                    if n == '.' || n == '[' {
                        break;
                    }
                    name.push(n);
                    chars.next();
                }
                if name.is_empty() {
                    return Err(bad_path(path));
                }
                steps.push(Step::Member(name));
            }
            '[' => {
                let quote = chars.peek().copied().filter(|q| *q == '"' || *q == '\'');
                if let Some(q) = quote {
                    chars.next();
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some(n) if n == q => break,
                            Some(n) => name.push(n),
                            None => return Err(bad_path(path)),
                        }
                    }
                    if chars.next() != Some(']') {
                        return Err(bad_path(path));
                    }
                    steps.push(Step::Member(name));
                } else {
                    let mut digits = String::new();
                    loop {
                        match chars.next() {
                            Some(']') => break,
                            Some(d) if d.is_ascii_digit() => digits.push(d),
                            _ => return Err(bad_path(path)),
                        }
                    }
                    steps.push(Step::Index(digits.parse().map_err(|_| bad_path(path))?));
                }
            }
            c if c.is_whitespace() => {}
            _ => return Err(bad_path(path)),
        }
    }
    Ok(steps)
}

fn find<'a>(mut v: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    for step in steps {
        v = match (step, v) {
            (Step::Member(m), Value::Object(o)) => o.get(m)?,
            (Step::Index(i), Value::Array(a)) => a.get(*i)?,
            _ => return None,
        };
    }
    Some(v)
}

/// Applies `f` to each (JSON text, parsed path) row; paths are parsed once per distinct text.
fn per_row<T>(a: &[ArrayRef], mut f: impl FnMut(&Value, &[Step]) -> Option<T>) -> Result<Vec<Option<T>>> {
    let json = a[0].as_string::<i32>();
    let paths = a.get(1).map(|p| p.as_string::<i32>());
    let mut parsed: Option<(String, Vec<Step>)> = None;
    let mut out = Vec::with_capacity(json.len());
    for i in 0..json.len() {
        if json.is_null(i) || paths.is_some_and(|p| p.is_null(i)) {
            out.push(None);
            continue;
        }
        let path = paths.map_or("$", |p| p.value(i));
        if parsed.as_ref().is_none_or(|(p, _)| p != path) {
            parsed = Some((path.to_string(), parse_path(path)?));
        }
        let steps = &parsed.as_ref().expect("parsed above").1;
        let Ok(doc) = serde_json::from_str::<Value>(json.value(i)) else {
            out.push(None);
            continue;
        };
        out.push(find(&doc, steps).and_then(|v| f(v, steps)));
    }
    Ok(out)
}

/// json_extract_scalar(json, path): the scalar the path finds, as text (strings unquoted);
/// NULL for an object, an array, JSON null or nothing.
fn run_extract_scalar(a: &[ArrayRef]) -> Result<ArrayRef> {
    let out = per_row(a, |v, _| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })?;
    Ok(Arc::new(StringArray::from(out)))
}

/// json_extract(json, path): the value the path finds, as JSON text.
fn run_extract(a: &[ArrayRef]) -> Result<ArrayRef> {
    let out = per_row(a, |v, _| Some(v.to_string()))?;
    Ok(Arc::new(StringArray::from(out)))
}

/// json_array_length(json): the length of a JSON array, NULL for anything else.
fn run_array_length(a: &[ArrayRef]) -> Result<ArrayRef> {
    let out = per_row(a, |v, _| v.as_array().map(|a| i64::try_from(a.len()).unwrap_or(i64::MAX)))?;
    Ok(Arc::new(Int64Array::from(out)))
}

/// json_size(json, path): members of an object or elements of an array the path finds, 0 for
/// a scalar.
fn run_size(a: &[ArrayRef]) -> Result<ArrayRef> {
    let out = per_row(a, |v, _| {
        let n = match v {
            Value::Object(o) => o.len(),
            Value::Array(a) => a.len(),
            _ => 0,
        };
        Some(i64::try_from(n).unwrap_or(i64::MAX))
    })?;
    Ok(Arc::new(Int64Array::from(out)))
}

/// An ISO 8601 date-time as a UTC instant in microseconds: with an offset or `Z`, or without
/// one (read as UTC), or a date alone (its midnight).
fn iso8601_micros(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_micros());
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M%#z"] {
        if let Ok(t) = chrono::DateTime::parse_from_str(s, format) {
            return Some(t.timestamp_micros());
        }
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, format) {
            return Some(t.and_utc().timestamp_micros());
        }
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_micros())
}

fn run_from_iso8601_timestamp(a: &[ArrayRef]) -> Result<ArrayRef> {
    let text = a[0].as_string::<i32>();
    let mut out = Vec::with_capacity(text.len());
    for i in 0..text.len() {
        if text.is_null(i) {
            out.push(None);
            continue;
        }
        let micros = iso8601_micros(text.value(i)).ok_or_else(|| {
            DataFusionError::Execution(format!("Invalid format: \"{}\" is not an ISO 8601 timestamp", text.value(i)))
        })?;
        out.push(Some(micros));
    }
    Ok(Arc::new(TimestampMicrosecondArray::from(out)))
}

fn run_from_iso8601_date(a: &[ArrayRef]) -> Result<ArrayRef> {
    let text = a[0].as_string::<i32>();
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
    let mut out = Vec::with_capacity(text.len());
    for i in 0..text.len() {
        if text.is_null(i) {
            out.push(None);
            continue;
        }
        let date = chrono::NaiveDate::parse_from_str(text.value(i).trim(), "%Y-%m-%d").map_err(|_| {
            DataFusionError::Execution(format!("Invalid format: \"{}\" is not an ISO 8601 date", text.value(i)))
        })?;
        out.push(Some(i32::try_from((date - epoch).num_days()).unwrap_or(i32::MAX)));
    }
    Ok(Arc::new(Date32Array::from(out)))
}

fn text_args(n: usize) -> Option<Vec<DataType>> {
    Some(vec![DataType::Utf8; n])
}

/// The functions, for every session.
#[must_use]
pub fn udfs() -> Vec<ScalarUDF> {
    vec![
        Function::udf(
            "json_extract_scalar",
            DataType::Utf8,
            |n| (n == 2).then_some(n).and_then(text_args),
            run_extract_scalar,
        ),
        Function::udf("json_extract", DataType::Utf8, |n| (n == 2).then_some(n).and_then(text_args), run_extract),
        Function::udf(
            "json_array_length",
            DataType::Int64,
            |n| (n == 1).then_some(n).and_then(text_args),
            run_array_length,
        ),
        Function::udf("json_size", DataType::Int64, |n| (n == 2).then_some(n).and_then(text_args), run_size),
        Function::udf(
            "from_iso8601_timestamp",
            TS,
            |n| (n == 1).then_some(n).and_then(text_args),
            run_from_iso8601_timestamp,
        ),
        Function::udf(
            "from_iso8601_date",
            DataType::Date32,
            |n| (n == 1).then_some(n).and_then(text_args),
            run_from_iso8601_date,
        ),
    ]
}

/// Rewrites every `FROM r [joins] CROSS JOIN UNNEST(a, ...) AS t(x, ...)` of `statement` into
/// `FROM (SELECT *, unnest(a) AS x, ... FROM r [joins]) AS r'`, where `r'` is `r`'s alias or
/// table name, so the query's references to `r`'s columns and to `x` keep their meaning (a
/// reference through `t`, as `t.x`, does not). UNNEST with WITH ORDINALITY or without column
/// names is left as written.
pub fn rewrite_unnest(statement: &mut Statement) -> Result<()> {
    let mut rewriter = UnnestJoins { error: None };
    let _ = statement.visit(&mut rewriter);
    rewriter.error.map_or(Ok(()), Err)
}

struct UnnestJoins {
    error: Option<DataFusionError>,
}

impl VisitorMut for UnnestJoins {
    type Break = ();

    fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        if let SetExpr::Select(select) = query.body.as_mut() {
            for from in &mut select.from {
                if let Err(e) = lift_unnests(from) {
                    self.error = Some(e);
                    return ControlFlow::Break(());
                }
            }
        }
        ControlFlow::Continue(())
    }
}

/// The UNNEST a join brings, if it is one this rewrite takes: (array expressions, column names).
fn unnest_join(join: &Join) -> Option<(Vec<String>, Vec<String>)> {
    if !matches!(join.join_operator, JoinOperator::CrossJoin(_)) {
        return None;
    }
    let TableFactor::UNNEST { alias: Some(alias), array_exprs, with_offset: false, with_ordinality: false, .. } =
        &join.relation
    else {
        return None;
    };
    (alias.columns.len() == array_exprs.len()).then(|| {
        (
            array_exprs.iter().map(ToString::to_string).collect(),
            alias.columns.iter().map(|c| c.name.to_string()).collect(),
        )
    })
}

fn lift_unnests(from: &mut TableWithJoins) -> Result<()> {
    while let Some(at) = from.joins.iter().position(|j| unnest_join(j).is_some()) {
        let (arrays, names) = unnest_join(&from.joins[at]).expect("found above");
        let name = match &from.relation {
            TableFactor::Table { alias: Some(a), .. } | TableFactor::Derived { alias: Some(a), .. } => a.name.clone(),
            TableFactor::Table { name, .. } => match name.0.last().and_then(|p| p.as_ident()) {
                Some(ident) => ident.clone(),
                None => return Ok(()),
            },
            _ => return Ok(()),
        };
        let before: Vec<String> = from.joins[..at].iter().map(ToString::to_string).collect();
        let columns: Vec<String> =
            arrays.iter().zip(&names).map(|(array, column)| format!("unnest({array}) AS {column}")).collect();
        let sql = format!("SELECT *, {} FROM {} {}", columns.join(", "), from.relation, before.join(" "));
        let parsed = datafusion::sql::parser::DFParser::parse_sql(&sql)?;
        let Some(datafusion::sql::parser::Statement::Statement(statement)) = parsed.into_iter().next() else {
            return Err(DataFusionError::Plan(format!("UNNEST could not be planned: {sql}")));
        };
        let Statement::Query(subquery) = *statement else {
            return Err(DataFusionError::Plan(format!("UNNEST could not be planned: {sql}")));
        };
        from.relation = TableFactor::Derived {
            lateral: false,
            subquery,
            alias: Some(TableAlias { explicit: true, name, columns: Vec::new(), at: None }),
            sample: None,
        };
        from.joins.drain(..=at);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_as_trino_reads_them() {
        assert_eq!(parse_path("$").unwrap(), vec![]);
        assert_eq!(
            parse_path("$.a.b[2][\"c d\"]['e']").unwrap(),
            vec![
                Step::Member("a".into()),
                Step::Member("b".into()),
                Step::Index(2),
                Step::Member("c d".into()),
                Step::Member("e".into())
            ]
        );
        for bad in ["a.b", "$.", "$[x]", "$[\"a]", "$a"] {
            assert!(parse_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn scalars_objects_and_misses() {
        let doc: Value = serde_json::from_str(r#"{"a": {"b": [10, "x", true, null, {"c": 1}]}}"#).unwrap();
        let at = |p: &str| find(&doc, &parse_path(p).unwrap()).cloned();
        assert_eq!(at("$.a.b[0]"), Some(Value::from(10)));
        assert_eq!(at("$.a.b[4].c"), Some(Value::from(1)));
        assert_eq!(at("$.a.b[9]"), None);
        assert_eq!(at("$.a.missing"), None);
        assert_eq!(at("$.a.b.c"), None, "a member of an array is nothing");
    }

    #[test]
    fn cross_join_unnest_becomes_a_projection() {
        let rewrite = |sql: &str| {
            let mut parsed = datafusion::sql::parser::DFParser::parse_sql(sql).unwrap();
            let datafusion::sql::parser::Statement::Statement(statement) = parsed.pop_front().unwrap() else {
                panic!("not a statement")
            };
            let mut statement = *statement;
            rewrite_unnest(&mut statement).unwrap();
            statement.to_string()
        };
        assert_eq!(
            rewrite("SELECT r.arn FROM logs CROSS JOIN UNNEST(resources) AS t(r) WHERE eventname = 'x'"),
            "SELECT r.arn FROM (SELECT *, unnest(resources) AS r FROM logs) AS logs WHERE eventname = 'x'"
        );
        assert_eq!(
            rewrite("SELECT 1 FROM d AS x CROSS JOIN UNNEST(x.a, x.b) AS t(p, q) CROSS JOIN UNNEST(p.s) AS u(s)"),
            "SELECT 1 FROM (SELECT *, unnest(p.s) AS s FROM (SELECT *, unnest(x.a) AS p, unnest(x.b) AS q FROM d AS x) AS x) AS x"
        );
        // without column names, or with ordinality: as written
        let plain = "SELECT * FROM d CROSS JOIN UNNEST(a) AS t";
        assert_eq!(rewrite(plain), plain);
    }

    #[test]
    fn iso8601_forms() {
        let t = |s: &str| iso8601_micros(s).map(|m| m / 1_000_000);
        assert_eq!(t("2026-12-08T01:02:03Z"), Some(1_796_691_723));
        assert_eq!(t("2026-12-08T02:02:03+01:00"), Some(1_796_691_723));
        assert_eq!(t("2026-12-08T01:02:03"), Some(1_796_691_723));
        assert_eq!(t("2026-12-08T01:02:03.250Z"), Some(1_796_691_723));
        assert_eq!(t("2026-12-08"), Some(1_796_688_000));
        assert_eq!(t("yesterday"), None);
    }
}
