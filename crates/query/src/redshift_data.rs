//! Redshift's Data API on the PostgreSQL wire's engine: ExecuteStatement runs a statement in
//! the background as its caller (in PostgreSQL's dialect, with Redshift's functions, COPY and
//! UNLOAD); DescribeStatement follows it; GetStatementResult pages its rows. Rows go to a file
//! under the data dir as they stream (one JSON line of Data API fields a row), so neither a
//! statement nor a page holds more than a batch and a page in memory; a page's NextToken is the
//! byte offset of its next line. Statements (not their rows) are kept in memory, as many as
//! [`KEPT`], and are gone after a restart (AWS keeps them for 24 hours).

use std::collections::VecDeque;
use std::io::{BufRead, BufWriter, Seek, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use futures::StreamExt;
use serde_json::{Value, json};

use crate::engine::Engine;
use crate::engine::store::Caller;

/// How many statements are remembered (the oldest finished ones go first).
pub const KEPT: usize = 10_000;
/// At most this many rows, or about this many bytes, in one GetStatementResult page.
const PAGE_ROWS: usize = 10_000;
const PAGE_BYTES: usize = 4 * 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Submitted,
    Started,
    Finished,
    Aborted,
    Failed,
}

impl Status {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Submitted => "SUBMITTED",
            Status::Started => "STARTED",
            Status::Finished => "FINISHED",
            Status::Aborted => "ABORTED",
            Status::Failed => "FAILED",
        }
    }
}

/// A result column as the Data API describes it.
#[derive(Clone, Debug)]
pub struct Column {
    pub name: String,
    /// Redshift's type name (`int4`, `varchar`, `numeric`, ...).
    pub type_name: String,
    pub precision: i32,
    pub scale: i32,
}

/// One statement of the Data API.
#[derive(Clone, Debug)]
pub struct Statement {
    pub id: String,
    pub sql: String,
    pub database: String,
    pub name: Option<String>,
    pub cluster: Option<String>,
    pub workgroup: Option<String>,
    /// Who ran it (the principal's ARN): only they list and read it.
    pub owner: String,
    pub status: Status,
    pub created: f64,
    pub updated: f64,
    pub duration_ns: i64,
    pub error: Option<String>,
    pub has_result_set: bool,
    /// Rows returned (a query) or written (INSERT, COPY, CTAS); -1 when not known.
    pub rows: i64,
    pub size: i64,
    pub columns: Vec<Column>,
    cancel: Arc<tokio::sync::Notify>,
}

/// What a request about a statement can fail with.
#[derive(Debug, thiserror::Error)]
pub enum DataApiError {
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Internal(String),
}

/// The Data API's statements.
#[derive(Clone)]
pub struct RedshiftData {
    engine: Engine,
    dir: PathBuf,
    statements: Arc<Mutex<VecDeque<Statement>>>,
}

/// A page of a statement's rows: the records (each a list of Data API fields, as JSON) and
/// the token of the next page.
pub struct Page {
    pub columns: Vec<Column>,
    pub records: Vec<Value>,
    pub total: i64,
    pub next: Option<String>,
}

fn now() -> f64 {
    (tarn_common::now_unix_nanos() / 1_000_000) as f64 / 1000.0
}

impl RedshiftData {
    /// The Data API over `engine` (made PostgreSQL's here), keeping result rows under `dir`
    /// (emptied: results do not outlive a restart).
    pub fn open(engine: &Engine, dir: PathBuf) -> std::io::Result<Self> {
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        Ok(Self { engine: engine.for_postgres(), dir, statements: Arc::default() })
    }

    /// The catalog the statements run on.
    #[must_use]
    pub fn catalog(&self) -> &tarn_catalog::Catalog {
        self.engine.catalog()
    }

    fn all(&self) -> std::sync::MutexGuard<'_, VecDeque<Statement>> {
        self.statements.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn rows_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.jsonl"))
    }

    /// A statement by id, if `owner` may see it.
    pub fn get(&self, id: &str, owner: &str) -> Result<Statement, DataApiError> {
        self.all()
            .iter()
            .find(|s| s.id == id && s.owner == owner)
            .cloned()
            .ok_or_else(|| DataApiError::NotFound("Query does not exist.".into()))
    }

    /// The caller's statements, newest first.
    pub fn list(&self, owner: &str) -> Vec<Statement> {
        self.all().iter().rev().filter(|s| s.owner == owner).cloned().collect()
    }

    fn update(&self, id: &str, f: impl FnOnce(&mut Statement)) {
        if let Some(s) = self.all().iter_mut().find(|s| s.id == id) {
            f(s);
        }
    }

    /// ExecuteStatement: the statement is SUBMITTED and runs in the background.
    #[allow(clippy::too_many_arguments)]
    pub fn execute(
        &self,
        sql: String,
        database: String,
        name: Option<String>,
        cluster: Option<String>,
        workgroup: Option<String>,
        owner: String,
        user: Arc<str>,
        caller: Option<Arc<Caller>>,
    ) -> Statement {
        let at = now();
        let statement = Statement {
            id: uuid_v4(),
            sql,
            database,
            name,
            cluster,
            workgroup,
            owner,
            status: Status::Submitted,
            created: at,
            updated: at,
            duration_ns: 0,
            error: None,
            has_result_set: false,
            rows: -1,
            size: 0,
            columns: Vec::new(),
            cancel: Arc::default(),
        };
        {
            let mut all = self.all();
            while all.len() >= KEPT {
                match all.iter().position(|s| !matches!(s.status, Status::Submitted | Status::Started)) {
                    Some(i) => {
                        if let Some(gone) = all.remove(i) {
                            let _ = std::fs::remove_file(self.rows_path(&gone.id));
                        }
                    }
                    None => break,
                }
            }
            all.push_back(statement.clone());
        }
        let this = self.clone();
        let s = statement.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            this.update(&s.id, |st| {
                st.status = Status::Started;
                st.updated = now();
            });
            let run = this.run(&s);
            let outcome = tokio::select! {
                r = Engine::as_session_user(user, Engine::as_caller(caller, run)) => Some(r),
                () = s.cancel.notified() => None,
            };
            let duration_ns = i64::try_from(started.elapsed().as_nanos()).unwrap_or(i64::MAX);
            this.update(&s.id, |st| {
                st.updated = now();
                st.duration_ns = duration_ns;
                match outcome {
                    None => st.status = Status::Aborted,
                    Some(Ok((columns, rows, size, has_result_set))) => {
                        st.status = Status::Finished;
                        st.columns = columns;
                        st.rows = rows;
                        st.size = size;
                        st.has_result_set = has_result_set;
                    }
                    Some(Err(e)) => {
                        st.status = Status::Failed;
                        st.error = Some(format!("ERROR: {e}"));
                    }
                }
            });
        });
        statement
    }

    /// Runs a statement, its rows (if any) to its file: (columns, rows, bytes, has a result set).
    async fn run(&self, s: &Statement) -> Result<(Vec<Column>, i64, i64, bool), String> {
        let out = self.engine.execute(&s.sql, Some(&s.database)).await.map_err(|e| e.to_string())?;
        if out.schema.fields().is_empty() {
            let mut stream = out.stream;
            while let Some(b) = stream.next().await {
                b.map_err(|e| e.to_string())?;
            }
            return Ok((Vec::new(), out.rows.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX)), 0, false));
        }
        let columns: Vec<Column> = out
            .schema
            .fields()
            .iter()
            .map(|f| {
                let (type_name, precision, scale) = redshift_type(f.data_type());
                Column { name: crate::pg::output_name(f.name()), type_name: type_name.into(), precision, scale }
            })
            .collect();
        let path = self.rows_path(&s.id);
        let file = std::fs::File::create(&path).map_err(|e| format!("result file: {e}"))?;
        let mut writer = BufWriter::new(file);
        let (mut rows, mut size) = (0_i64, 0_i64);
        let mut stream = out.stream;
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(|e| e.to_string())?;
            for line in records(&batch).map_err(|e| e.to_string())? {
                size += i64::try_from(line.len()).unwrap_or(i64::MAX);
                writer.write_all(line.as_bytes()).and_then(|()| writer.write_all(b"\n")).map_err(|e| e.to_string())?;
                rows += 1;
            }
        }
        writer.flush().map_err(|e| e.to_string())?;
        Ok((columns, rows, size, true))
    }

    /// CancelStatement: a running statement stops (ABORTED).
    pub fn cancel(&self, id: &str, owner: &str) -> Result<(), DataApiError> {
        let s = self.get(id, owner)?;
        if !matches!(s.status, Status::Submitted | Status::Started) {
            return Err(DataApiError::Validation(format!(
                "Could not cancel a query that is already in {} state with ID: {id}",
                s.status.as_str()
            )));
        }
        s.cancel.notify_one();
        Ok(())
    }

    /// GetStatementResult: a page of a finished statement's rows from `token` on.
    pub fn page(&self, id: &str, owner: &str, token: Option<&str>) -> Result<Page, DataApiError> {
        let s = self.get(id, owner)?;
        if s.status != Status::Finished || !s.has_result_set {
            return Err(DataApiError::Validation(
                "Query does not have result. Please check query status with DescribeStatement.".into(),
            ));
        }
        let offset: u64 = match token {
            None => 0,
            Some(t) => t.parse().map_err(|_| DataApiError::Validation("Invalid NextToken".into()))?,
        };
        let mut file = std::fs::File::open(self.rows_path(id))
            .map_err(|e| DataApiError::Internal(format!("result file of {id}: {e}")))?;
        file.seek(std::io::SeekFrom::Start(offset)).map_err(|e| DataApiError::Internal(e.to_string()))?;
        let mut reader = std::io::BufReader::new(file);
        let (mut records, mut read, mut bytes) = (Vec::new(), offset, 0_usize);
        let mut line = String::new();
        while records.len() < PAGE_ROWS && bytes < PAGE_BYTES {
            line.clear();
            let n = reader.read_line(&mut line).map_err(|e| DataApiError::Internal(e.to_string()))?;
            if n == 0 {
                break;
            }
            read += n as u64;
            bytes += n;
            records.push(serde_json::from_str(line.trim_end()).map_err(|e| DataApiError::Internal(e.to_string()))?);
        }
        let more = reader.fill_buf().map(|b| !b.is_empty()).unwrap_or(false);
        Ok(Page { columns: s.columns, records, total: s.rows, next: more.then(|| read.to_string()) })
    }
}

/// A random UUID (version 4), as the Data API names statements.
fn uuid_v4() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// Redshift's name, precision and scale of a Glue column type (DescribeTable).
#[must_use]
pub fn glue_column_type(glue: &str) -> (String, i32, i32) {
    match tarn_catalog::types::arrow_type(glue) {
        Ok(t) => {
            let (name, p, s) = redshift_type(&t);
            (name.to_string(), p, s)
        }
        Err(_) => (glue.to_string(), 0, 0),
    }
}

/// Redshift's name of a column type, with precision and scale.
fn redshift_type(t: &DataType) -> (&'static str, i32, i32) {
    match t {
        DataType::Boolean => ("bool", 1, 0),
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => ("int2", 5, 0),
        DataType::Int32 | DataType::UInt16 => ("int4", 10, 0),
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => ("int8", 19, 0),
        DataType::Float16 | DataType::Float32 => ("float4", 8, 8),
        DataType::Float64 => ("float8", 17, 17),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => ("numeric", i32::from(*p), i32::from(*s)),
        DataType::Date32 | DataType::Date64 => ("date", 13, 0),
        DataType::Timestamp(_, None) => ("timestamp", 29, 6),
        DataType::Timestamp(_, Some(_)) => ("timestamptz", 35, 6),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => ("varchar", 65535, 0),
        _ => ("varchar", 65535, 0),
    }
}

/// A batch's rows as JSON lines of Data API fields: integers as `longValue`, floats as
/// `doubleValue`, booleans as `booleanValue`, NULL as `isNull`, the rest (decimals, dates,
/// timestamps, text, nested values) as `stringValue` in PostgreSQL's text form.
fn records(batch: &RecordBatch) -> Result<Vec<String>, datafusion::arrow::error::ArrowError> {
    let options = FormatOptions::default().with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.f"));
    let formatters: Vec<ArrayFormatter> =
        batch.columns().iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &options)).collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        let fields: Vec<Value> = batch
            .columns()
            .iter()
            .zip(&formatters)
            .map(|(c, f)| {
                if c.is_null(row) {
                    return json!({"isNull": true});
                }
                match c.data_type() {
                    DataType::Boolean => json!({"booleanValue": c.as_boolean().value(row)}),
                    DataType::Int8 => json!({"longValue": c.as_primitive::<Int8Type>().value(row)}),
                    DataType::Int16 => json!({"longValue": c.as_primitive::<Int16Type>().value(row)}),
                    DataType::Int32 => json!({"longValue": c.as_primitive::<Int32Type>().value(row)}),
                    DataType::Int64 => json!({"longValue": c.as_primitive::<Int64Type>().value(row)}),
                    DataType::Float32 => json!({"doubleValue": c.as_primitive::<Float32Type>().value(row)}),
                    DataType::Float64 => json!({"doubleValue": c.as_primitive::<Float64Type>().value(row)}),
                    _ => json!({"stringValue": f.value(row).to_string()}),
                }
            })
            .collect();
        out.push(Value::Array(fields).to_string());
    }
    Ok(out)
}

/// The Data API's `:name` parameters of `sql` replaced by their values as SQL string literals
/// (outside quotes and comments; `::` casts stay). A name the SQL uses and the request does
/// not give is a validation error, as AWS answers.
pub fn bind(sql: &str, params: &[(String, String)]) -> Result<String, DataApiError> {
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\'' | b'"' => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] != c {
                    i += 1;
                }
                i = (i + 1).min(b.len());
                out.push_str(&sql[start..i]);
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                let start = i;
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                out.push_str(&sql[start..i]);
            }
            b':' if b.get(i + 1) == Some(&b':') => {
                out.push_str("::");
                i += 2;
            }
            b':' if b.get(i + 1).is_some_and(|n| n.is_ascii_alphabetic() || *n == b'_') => {
                let start = i + 1;
                let mut end = start;
                while end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'_') {
                    end += 1;
                }
                let name = &sql[start..end];
                let Some((_, value)) = params.iter().find(|(n, _)| n == name) else {
                    return Err(DataApiError::Validation(format!("Parameter {name} is missing a value")));
                };
                out.push('\'');
                out.push_str(&value.replace('\'', "''"));
                out.push('\'');
                i = end;
            }
            _ => {
                let ch = sql[i..].chars().next().unwrap_or(' ');
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_become_literals_outside_quotes() {
        let p = vec![("id".to_string(), "7".to_string()), ("name".to_string(), "O'Brien".to_string())];
        assert_eq!(
            bind("SELECT * FROM t WHERE id = :id AND name = :name AND x::int = 1 AND s = ':id' -- :nope", &p).unwrap(),
            "SELECT * FROM t WHERE id = '7' AND name = 'O''Brien' AND x::int = 1 AND s = ':id' -- :nope"
        );
        assert!(matches!(bind("SELECT :missing", &p), Err(DataApiError::Validation(_))));
    }

    #[test]
    fn uuids_are_version_4() {
        let id = uuid_v4();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
    }
}
