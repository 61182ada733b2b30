//! Redshift's `STL_LOAD_ERRORS`: a row for each COPY that failed on a malformed row (which
//! file, which line and column, the value, why), readable as `stl_load_errors` (in
//! `pg_catalog`, so unqualified, as on Redshift) over the PostgreSQL wire and the Data API.
//! Kept in memory, the newest [`KEPT`] rows; a user sees their own rows, the account root all.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use datafusion::arrow::array::{ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// How many load errors are kept.
pub const KEPT: usize = 10_000;

/// One failed load, as STL_LOAD_ERRORS has it.
#[derive(Clone, Debug)]
pub struct LoadError {
    /// Who ran the COPY (the session user: an access key id).
    pub user: String,
    /// The load's query id (a counter of this process).
    pub query: i64,
    /// When, in microseconds since the epoch.
    pub start_micros: i64,
    /// The table loaded (`schema.table`).
    pub table: String,
    pub filename: String,
    /// The line in the file, from 1 (0 when not known).
    pub line_number: i64,
    pub colname: String,
    /// The column's type as Glue names it.
    pub coltype: String,
    pub raw_field_value: String,
    pub err_code: i32,
    pub err_reason: String,
}

/// The load errors of a server.
#[derive(Clone, Debug, Default)]
pub struct LoadErrors(Arc<Mutex<(i64, VecDeque<LoadError>)>>);

impl LoadErrors {
    /// Records a failed load; returns its query id.
    pub fn record(&self, mut e: LoadError) -> i64 {
        let mut all = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        all.0 += 1;
        e.query = all.0;
        let id = e.query;
        if all.1.len() >= KEPT {
            all.1.pop_front();
        }
        all.1.push_back(e);
        id
    }

    fn schema() -> SchemaRef {
        let text = |n: &str| Field::new(n, DataType::Utf8, true);
        let int = |n: &str| Field::new(n, DataType::Int32, true);
        Arc::new(Schema::new(vec![
            text("userid"),
            int("slice"),
            text("tbl"),
            Field::new("starttime", DataType::Timestamp(TimeUnit::Microsecond, None), true),
            int("session"),
            Field::new("query", DataType::Int64, true),
            text("filename"),
            Field::new("line_number", DataType::Int64, true),
            text("colname"),
            text("type"),
            int("col_length"),
            int("position"),
            text("raw_line"),
            text("raw_field_value"),
            int("err_code"),
            text("err_reason"),
        ]))
    }

    /// The rows `user` may read (None: the account root, every row), as a table.
    pub fn table(&self, user: Option<&str>) -> datafusion::error::Result<Arc<dyn datafusion::catalog::TableProvider>> {
        let rows: Vec<LoadError> = {
            let all = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            all.1.iter().filter(|e| user.is_none_or(|u| e.user == u)).cloned().collect()
        };
        let text = |f: &dyn Fn(&LoadError) -> String| -> ArrayRef {
            Arc::new(StringArray::from(rows.iter().map(|e| Some(f(e))).collect::<Vec<_>>()))
        };
        let int = |f: &dyn Fn(&LoadError) -> i32| -> ArrayRef {
            Arc::new(Int32Array::from(rows.iter().map(f).collect::<Vec<_>>()))
        };
        let columns: Vec<ArrayRef> = vec![
            text(&|e| e.user.clone()),
            int(&|_| 0),
            text(&|e| e.table.clone()),
            Arc::new(TimestampMicrosecondArray::from(rows.iter().map(|e| e.start_micros).collect::<Vec<_>>())),
            int(&|_| 0),
            Arc::new(Int64Array::from(rows.iter().map(|e| e.query).collect::<Vec<_>>())),
            text(&|e| e.filename.clone()),
            Arc::new(Int64Array::from(rows.iter().map(|e| e.line_number).collect::<Vec<_>>())),
            text(&|e| e.colname.clone()),
            text(&|e| e.coltype.clone()),
            int(&|_| 0),
            int(&|_| 0),
            text(&|_| String::new()),
            text(&|e| e.raw_field_value.clone()),
            int(&|e| e.err_code),
            text(&|e| e.err_reason.clone()),
        ];
        let schema = Self::schema();
        let batch = RecordBatch::try_new(schema.clone(), columns)?;
        Ok(Arc::new(datafusion::datasource::MemTable::try_new(schema, vec![vec![batch]])?))
    }
}

/// What an Arrow CSV or JSON reader's message says of a bad row: (line from 1, column index,
/// value, reason, Redshift's error code). Redshift's codes: 1207 a value that does not read as
/// its type, 1214 a row with the wrong number of fields, 1216 any other input error.
#[must_use]
pub fn parse_reader_error(message: &str) -> (i64, Option<usize>, String, String, i32) {
    let detail = message.trim_start_matches("Arrow error: ").trim_start_matches("Parser error: ").trim();
    let after = |key: &str| detail.find(key).map(|i| &detail[i + key.len()..]);
    let number = |s: Option<&str>| -> Option<u64> {
        let s = s?;
        let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        s[..digits].parse().ok()
    };
    // the readers count lines from 0
    let line = number(after(" at line ")).map_or(0, |n| i64::try_from(n + 1).unwrap_or(i64::MAX));
    let column = number(after(" for column ")).and_then(|n| usize::try_from(n).ok());
    // `parsing value '4.x4' as type 'Float32' for column 1`: the value between the quotes
    let value = after("parsing value ")
        .map(|rest| {
            let v = rest.split(" as type ").next().unwrap_or(rest).split(" for column ").next().unwrap_or(rest);
            v.trim().trim_matches('\'').to_string()
        })
        .unwrap_or_default();
    let reason = detail.split(" at line ").next().unwrap_or(detail).to_string();
    let code =
        if detail.contains("incorrect number of fields") || detail.contains("expected") && detail.contains("fields") {
            1214
        } else if !value.is_empty() {
            1207
        } else {
            1216
        };
    (line, column, value, reason, code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_messages_name_line_column_and_value() {
        let (line, col, value, reason, code) = parse_reader_error(
            "Parser error: Error while parsing value 'x7' as type 'Int32' for column 0 at line 2. Row data: '[x7,b]'",
        );
        assert_eq!((line, col, value.as_str(), code), (3, Some(0), "x7", 1207));
        assert!(reason.starts_with("Error while parsing value"), "{reason}");
        let (line, col, _, _, code) =
            parse_reader_error("Csv error: incorrect number of fields for line 4, expected 3 got 2");
        assert_eq!((line, col, code), (0, None, 1214));
    }

    #[test]
    fn users_see_their_own_rows_and_the_oldest_go() {
        let errors = LoadErrors::default();
        let e = |user: &str| LoadError {
            user: user.into(),
            query: 0,
            start_micros: 0,
            table: "db.t".into(),
            filename: "s3://b/k".into(),
            line_number: 2,
            colname: "id".into(),
            coltype: "int".into(),
            raw_field_value: "x".into(),
            err_code: 1207,
            err_reason: "bad".into(),
        };
        assert_eq!(errors.record(e("a")), 1);
        assert_eq!(errors.record(e("b")), 2);
        let rows =
            |u: Option<&str>| errors.0.lock().unwrap().1.iter().filter(|r| u.is_none_or(|u| r.user == u)).count();
        assert_eq!((rows(None), rows(Some("a"))), (2, 1));
        for _ in 0..KEPT {
            errors.record(e("c"));
        }
        assert_eq!(rows(None), KEPT);
        assert_eq!(rows(Some("a")), 0, "the oldest rows go first");
    }
}
