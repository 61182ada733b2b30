//! Athena: query executions, their results, workgroups and named queries.
//!
//! An execution is a JSON record in `athena_executions` (id -> record), committed at each
//! state change (QUEUED -> RUNNING -> SUCCEEDED | FAILED | CANCELLED). It runs on a task,
//! at most [`RUNNING_MAX`] at a time; its rows stream into `<OutputLocation>/<id>.csv` (every
//! value quoted, NULL as an empty field, a header row first, as Athena writes them) through a
//! spooled upload that becomes one durable PUT, plus `<id>.csv.metadata` with the column types.
//! GetQueryResults reads that object back page by page; its NextToken is the byte offset of the
//! next row. An execution a crash interrupted is FAILED at the next start.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::Array;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use futures::StreamExt;
use object_store::ObjectStoreExt;
use redb::{ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tarn_store::{Store, StoreError};
use tokio::sync::Semaphore;

use crate::QueryError;
use crate::engine::Engine;

const EXECUTIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("athena_executions");
const WORKGROUPS: TableDefinition<&str, &[u8]> = TableDefinition::new("athena_workgroups");
const NAMED_QUERIES: TableDefinition<&str, &[u8]> = TableDefinition::new("athena_named_queries");

/// Executions running at once; later ones wait QUEUED.
pub const RUNNING_MAX: usize = 4;
pub use tarn_common::limits::athena::{LIST_PAGE_MAX, QUERY_STRING_MAX, RESULTS_PAGE_MAX};
pub const PRIMARY: &str = "primary";
const ENGINE_VERSION: &str = "Athena engine version 3";

#[derive(Debug, thiserror::Error)]
pub enum AthenaError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for AthenaError {
    fn from(e: StoreError) -> Self {
        Self::Internal(e.to_string())
    }
}

tarn_store::from_redb_errors!(AthenaError, AthenaError::from);

type Result<T, E = AthenaError> = std::result::Result<T, E>;

use tarn_store::record::json_encode as encode;

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T> {
    Ok(tarn_store::record::json_decode(bytes, "athena")?)
}

fn now_secs() -> f64 {
    (tarn_common::now_unix_nanos() / 1_000_000) as f64 / 1000.0
}

fn new_id() -> String {
    let b: [u8; 16] = rand::random();
    let h = hex::encode(b);
    format!("{}-{}-4{}-a{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}

/// A column of a result, as ColumnInfo describes it.
#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct ColumnInfo {
    pub catalog_name: String,
    pub schema_name: String,
    pub table_name: String,
    pub name: String,
    pub label: String,
    pub r#type: String,
    pub precision: i32,
    pub scale: i32,
    pub nullable: String,
    pub case_sensitive: bool,
}

/// Where an execution is in its life, as Athena names the states (and as records store them).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum QueryState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl QueryState {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "QUEUED",
            Self::Running => "RUNNING",
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::Cancelled => "CANCELLED",
        }
    }

    /// An ended execution never changes again.
    #[must_use]
    pub fn finished(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

/// Whether a workgroup takes queries.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WorkGroupState {
    Enabled,
    Disabled,
}

impl WorkGroupState {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "ENABLED",
            Self::Disabled => "DISABLED",
        }
    }
}

/// An execution as stored and as QueryExecution shows it.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Execution {
    pub id: String,
    pub query: String,
    pub statement_type: String,
    pub database: Option<String>,
    pub catalog: Option<String>,
    pub output_location: String,
    pub workgroup: String,
    pub state: QueryState,
    pub reason: Option<String>,
    pub error_type: Option<u32>,
    pub submitted: f64,
    pub completed: Option<f64>,
    pub engine_ms: u64,
    pub queue_ms: u64,
    pub scanned: u64,
    pub columns: Vec<ColumnInfo>,
    pub client_token: Option<String>,
}

impl Execution {
    /// The QueryExecution shape.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut status = json!({ "State": self.state.as_str(), "SubmissionDateTime": self.submitted });
        if let Some(r) = &self.reason {
            status["StateChangeReason"] = json!(r);
        }
        if let Some(c) = self.completed {
            status["CompletionDateTime"] = json!(c);
        }
        if self.state == QueryState::Failed {
            status["AthenaError"] = json!({
                // ErrorCategory 1 = SYSTEM, 2 = USER; ErrorType 1000-1999 are the caller's errors
                "ErrorCategory": if self.error_type.is_some_and(|t| (1000..2000).contains(&t)) { 2 } else { 1 },
                "ErrorType": self.error_type.unwrap_or(0),
                "Retryable": false,
                "ErrorMessage": self.reason.clone().unwrap_or_default(),
            });
        }
        let mut ctx = json!({});
        if let Some(db) = &self.database {
            ctx["Database"] = json!(db);
        }
        ctx["Catalog"] = json!(self.catalog.clone().unwrap_or_else(|| crate::engine::CATALOG_NAME.into()));
        json!({
            "QueryExecutionId": self.id,
            "Query": self.query,
            "StatementType": self.statement_type,
            "ResultConfiguration": { "OutputLocation": self.output_location },
            "QueryExecutionContext": ctx,
            "Status": status,
            "Statistics": {
                "EngineExecutionTimeInMillis": self.engine_ms,
                "DataScannedInBytes": self.scanned,
                "TotalExecutionTimeInMillis": self.engine_ms + self.queue_ms,
                "QueryQueueTimeInMillis": self.queue_ms,
                "ServicePreProcessingTimeInMillis": 0,
                "QueryPlanningTimeInMillis": 0,
                "ServiceProcessingTimeInMillis": 0,
            },
            "WorkGroup": self.workgroup,
            "EngineVersion": { "SelectedEngineVersion": "AUTO", "EffectiveEngineVersion": ENGINE_VERSION },
        })
    }

    fn finished(&self) -> bool {
        self.state.finished()
    }
}

#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct WorkGroup {
    pub name: String,
    pub state: WorkGroupState,
    #[serde(default)]
    pub configuration: Value,
    #[serde(default)]
    pub description: Option<String>,
    pub creation_time: f64,
}

impl WorkGroup {
    fn output_location(&self) -> Option<String> {
        self.configuration["ResultConfiguration"]["OutputLocation"].as_str().map(str::to_string)
    }
    fn enforced(&self) -> bool {
        self.configuration["EnforceWorkGroupConfiguration"].as_bool().unwrap_or(true)
    }
}

#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct NamedQuery {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub database: String,
    pub query_string: String,
    #[serde(default)]
    pub named_query_id: String,
    #[serde(default)]
    pub work_group: Option<String>,
}

/// What StartQueryExecution asks for.
#[derive(Debug, Default)]
pub struct StartRequest {
    pub query: String,
    pub database: Option<String>,
    pub catalog: Option<String>,
    pub output_location: Option<String>,
    pub workgroup: Option<String>,
    pub client_token: Option<String>,
    /// Who the query runs as (its S3 reads and result writes are that principal's); None:
    /// the account root.
    pub caller: Option<Arc<crate::engine::store::Caller>>,
}

/// The Athena service.
#[derive(Clone)]
pub struct Athena {
    engine: Engine,
    store: Store,
    slots: Arc<Semaphore>,
    running: Arc<std::sync::Mutex<BTreeMap<String, tokio::task::AbortHandle>>>,
}

fn split_s3(url: &str) -> Result<(String, String)> {
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| AthenaError::InvalidRequest(format!("The S3 location provided is not valid: {url}")))?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(AthenaError::InvalidRequest(format!("The S3 location provided is not valid: {url}")));
    }
    Ok((bucket.to_string(), key.to_string()))
}

/// Athena's name for an Arrow type.
fn athena_type(t: &DataType) -> (&'static str, i32, i32) {
    match t {
        DataType::Boolean => ("boolean", 0, 0),
        DataType::Int8 => ("tinyint", 3, 0),
        DataType::Int16 => ("smallint", 5, 0),
        DataType::Int32 | DataType::UInt8 | DataType::UInt16 => ("integer", 10, 0),
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => ("bigint", 19, 0),
        DataType::Float16 | DataType::Float32 => ("float", 17, 0),
        DataType::Float64 => ("double", 17, 0),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => ("decimal", i32::from(*p), i32::from(*s)),
        DataType::Date32 | DataType::Date64 => ("date", 0, 0),
        DataType::Timestamp(..) => ("timestamp", 3, 0),
        DataType::Time32(_) | DataType::Time64(_) => ("time", 3, 0),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_) => {
            ("varbinary", 1_073_741_824, 0)
        }
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..) | DataType::ListView(_) => {
            ("array", 0, 0)
        }
        DataType::Map(..) => ("map", 0, 0),
        DataType::Struct(_) => ("row", 0, 0),
        DataType::Interval(_) | DataType::Duration(_) => ("interval day to second", 0, 0),
        _ => ("varchar", 2_147_483_647, 0),
    }
}

/// Appends a batch's rows as result CSV: each value quoted, NULL as an empty field.
fn format_batch(
    batch: &datafusion::arrow::array::RecordBatch,
    options: &FormatOptions<'_>,
    text: &mut String,
) -> std::result::Result<(), QueryError> {
    let formatters: Vec<ArrayFormatter> = batch
        .columns()
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), options))
        .collect::<std::result::Result<_, _>>()
        .map_err(|x| QueryError::Internal(x.to_string()))?;
    for row in 0..batch.num_rows() {
        for (i, f) in formatters.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            if batch.column(i).is_null(row) {
                continue;
            }
            quote(&f.value(row).to_string(), text);
        }
        text.push('\n');
    }
    Ok(())
}

fn quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
}

/// Parses rows of the result CSV from `buf`; returns the rows and the bytes they used.
/// A row is complete only when its line end is in `buf` (or `eof`).
fn parse_rows(buf: &[u8], max: usize, eof: bool) -> (Vec<Vec<Option<String>>>, usize) {
    let mut rows = Vec::new();
    let mut pos = 0;
    'rows: while rows.len() < max && pos < buf.len() {
        let mut row = Vec::new();
        let mut i = pos;
        loop {
            // one field
            if buf.get(i) == Some(&b'"') {
                let mut val = Vec::new();
                i += 1;
                loop {
                    match buf.get(i) {
                        None => break 'rows,
                        Some(b'"') if buf.get(i + 1) == Some(&b'"') => {
                            val.push(b'"');
                            i += 2;
                        }
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(&c) => {
                            val.push(c);
                            i += 1;
                        }
                    }
                }
                row.push(Some(String::from_utf8_lossy(&val).into_owned()));
            } else {
                row.push(None);
            }
            match buf.get(i) {
                Some(b',') => i += 1,
                Some(b'\n') => {
                    rows.push(row);
                    pos = i + 1;
                    continue 'rows;
                }
                None if eof => {
                    rows.push(row);
                    pos = i;
                    break 'rows;
                }
                _ => break 'rows,
            }
        }
    }
    (rows, pos)
}

impl Athena {
    pub async fn open(engine: Engine, store: Store) -> Result<Self> {
        let interrupted = store
            .write(|txn| {
                txn.open_table(WORKGROUPS)?;
                txn.open_table(NAMED_QUERIES)?;
                let mut t = txn.open_table(EXECUTIONS)?;
                let mut fix = Vec::new();
                for entry in t.iter()? {
                    let (k, v) = entry?;
                    if let Ok(mut e) = decode::<Execution>(v.value())
                        && !e.finished()
                    {
                        e.state = QueryState::Failed;
                        e.reason = Some("The query was interrupted by a restart of tarn.".into());
                        e.error_type = Some(0);
                        e.completed = Some(now_secs());
                        fix.push((k.value().to_string(), e));
                    }
                }
                let n = fix.len();
                for (k, e) in fix {
                    t.insert(k.as_str(), encode(&e).as_slice())?;
                }
                Ok(n)
            })
            .await?;
        if interrupted > 0 {
            tracing::warn!(interrupted, "athena executions interrupted by a restart marked FAILED");
        }
        Ok(Self { engine, store, slots: Arc::new(Semaphore::new(RUNNING_MAX)), running: Arc::default() })
    }

    #[must_use]
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    async fn save(&self, e: &Execution) -> Result<()> {
        let bytes = encode(e);
        let id = e.id.clone();
        self.store
            .write(move |txn| {
                txn.open_table(EXECUTIONS)?.insert(id.as_str(), bytes.as_slice())?;
                Ok(())
            })
            .await?;
        Ok(())
    }

    pub fn get_execution(&self, id: &str) -> Result<Execution> {
        let txn = self.store.read()?;
        let t = txn.open_table(EXECUTIONS)?;
        let v = t.get(id)?.ok_or_else(|| AthenaError::InvalidRequest(format!("QueryExecution {id} was not found")))?;
        decode(v.value())
    }

    pub fn get_workgroup(&self, name: &str) -> Result<WorkGroup> {
        let txn = self.store.read()?;
        let t = txn.open_table(WORKGROUPS)?;
        match t.get(name)? {
            Some(v) => decode(v.value()),
            None if name == PRIMARY => Ok(WorkGroup {
                name: PRIMARY.into(),
                state: WorkGroupState::Enabled,
                configuration: json!({ "EnforceWorkGroupConfiguration": false }),
                description: None,
                creation_time: 0.0,
            }),
            None => Err(AthenaError::InvalidRequest(format!("WorkGroup {name} is not found."))),
        }
    }

    /// Starts an execution; returns its id.
    pub async fn start(&self, req: StartRequest) -> Result<String> {
        if req.query.trim().is_empty() || req.query.len() > QUERY_STRING_MAX {
            return Err(AthenaError::InvalidRequest(format!(
                "1 validation error detected: Value at 'queryString' failed to satisfy constraint: Member must have length between 1 and {QUERY_STRING_MAX}"
            )));
        }
        let wg_name = req.workgroup.clone().unwrap_or_else(|| PRIMARY.into());
        let wg = self.get_workgroup(&wg_name)?;
        if wg.state != WorkGroupState::Enabled {
            return Err(AthenaError::InvalidRequest(format!("WorkGroup {wg_name} is disabled.")));
        }
        // idempotency: the same token returns the same execution
        if let Some(token) = &req.client_token {
            let txn = self.store.read()?;
            let t = txn.open_table(EXECUTIONS)?;
            for entry in t.iter()? {
                let (_, v) = entry?;
                if let Ok(e) = decode::<Execution>(v.value())
                    && e.client_token.as_deref() == Some(token)
                {
                    return Ok(e.id);
                }
            }
        }
        let base = match (wg.enforced(), wg.output_location(), req.output_location.clone()) {
            (true, Some(w), _) => w,
            (_, _, Some(r)) => r,
            (_, Some(w), None) => w,
            (_, None, None) => {
                return Err(AthenaError::InvalidRequest(
                    "No output location provided. An output location is required either through the Workgroup result configuration setting or as an API input."
                        .into(),
                ));
            }
        };
        split_s3(&base)?;
        let id = new_id();
        // Athena writes query results as .csv and DDL/utility output as .txt
        let statement_type = crate::engine::statement_type(&req.query);
        let ext = if statement_type == "DML" { "csv" } else { "txt" };
        let output_location = format!("{}/{id}.{ext}", base.trim_end_matches('/'));
        let e = Execution {
            id: id.clone(),
            query: req.query,
            statement_type: statement_type.into(),
            database: req.database,
            catalog: req.catalog,
            output_location,
            workgroup: wg_name,
            state: QueryState::Queued,
            reason: None,
            error_type: None,
            submitted: now_secs(),
            completed: None,
            engine_ms: 0,
            queue_ms: 0,
            scanned: 0,
            columns: Vec::new(),
            client_token: req.client_token,
        };
        self.save(&e).await?;
        let this = self.clone();
        let caller = req.caller;
        let task = tokio::spawn(async move {
            Engine::as_caller(caller, this.run(e)).await;
        });
        if let Ok(mut running) = self.running.lock() {
            running.insert(id.clone(), task.abort_handle());
        }
        Ok(id)
    }

    async fn run(&self, mut e: Execution) {
        let queued = Instant::now();
        let Ok(_permit) = self.slots.clone().acquire_owned().await else { return };
        e.queue_ms = queued.elapsed().as_millis() as u64;
        e.state = QueryState::Running;
        if let Err(err) = self.save(&e).await {
            tracing::error!(%err, "saving an athena execution failed");
        }
        let started = Instant::now();
        let result = self.execute_into(&mut e).await;
        e.engine_ms = started.elapsed().as_millis() as u64;
        e.completed = Some(now_secs());
        match result {
            Ok(()) => e.state = QueryState::Succeeded,
            Err(err) => {
                e.state = QueryState::Failed;
                e.error_type = Some(match &err {
                    QueryError::User(_) | QueryError::AccessDenied(_) => 1000,
                    QueryError::Data(_) => 1002,
                    QueryError::Internal(_) => 0,
                });
                e.reason = Some(err.to_string());
            }
        }
        if let Ok(mut running) = self.running.lock() {
            running.remove(&e.id);
        }
        // a StopQueryExecution that landed meanwhile wins
        if let Ok(current) = self.get_execution(&e.id)
            && current.state == QueryState::Cancelled
        {
            return;
        }
        if let Err(err) = self.save(&e).await {
            tracing::error!(%err, "saving an athena execution failed");
        }
    }

    /// Runs the statement and writes its rows to the output location.
    async fn execute_into(&self, e: &mut Execution) -> std::result::Result<(), QueryError> {
        let ctas_base = format!("{}/tables/{}/", e.output_location.rsplit_once('/').map_or("", |(b, _)| b), e.id);
        let mut out = self.engine.execute_with(&e.query, e.database.as_deref(), Some(&ctas_base)).await?;
        e.statement_type = out.statement_type.into();
        let db = e.database.clone().unwrap_or_default();
        e.columns = out
            .schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let (t, p, s) = athena_type(f.data_type());
                // Athena names an unnamed expression `_col<i>`
                let plain = !f.name().is_empty() && f.name().chars().all(|c| c.is_alphanumeric() || c == '_');
                let name = if plain { f.name().clone() } else { format!("_col{i}") };
                ColumnInfo {
                    catalog_name: "hive".into(),
                    schema_name: db.clone(),
                    table_name: String::new(),
                    name: name.clone(),
                    label: name,
                    r#type: t.into(),
                    precision: p,
                    scale: s,
                    nullable: if f.is_nullable() { "UNKNOWN".into() } else { "NOT_NULL".into() },
                    case_sensitive: t == "varchar",
                }
            })
            .collect();
        let (bucket, key) = split_s3(&e.output_location).map_err(|x| QueryError::User(x.to_string()))?;
        // the results are written as the query's caller
        let store = self.engine.caller_registry().bucket(&bucket);
        let path = crate::engine::store::path_of(&key);
        let mut upload = store.put_multipart(&path).await.map_err(|x| QueryError::User(x.to_string()))?;
        let mut text = String::new();
        // a header row for queries only: DDL and utility output (SHOW, DESCRIBE) has none
        if e.statement_type == "DML" && !e.columns.is_empty() {
            for (i, c) in e.columns.iter().enumerate() {
                if i > 0 {
                    text.push(',');
                }
                quote(&c.name, &mut text);
            }
            text.push('\n');
        }
        let options = FormatOptions::default()
            .with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.3f"))
            .with_timestamp_tz_format(Some("%Y-%m-%d %H:%M:%S%.3f %Z"));
        while let Some(batch) = out.stream.next().await {
            let batch = batch?;
            format_batch(&batch, &options, &mut text)?;
            if text.len() >= 1 << 20 {
                upload
                    .put_part(std::mem::take(&mut text).into())
                    .await
                    .map_err(|x| QueryError::Internal(x.to_string()))?;
            }
        }
        if !text.is_empty() {
            upload.put_part(text.into()).await.map_err(|x| QueryError::Internal(x.to_string()))?;
        }
        upload.complete().await.map_err(|x| QueryError::Internal(x.to_string()))?;
        let metadata = serde_json::to_vec(&json!({ "ColumnInfo": e.columns })).unwrap_or_default();
        store
            .put(&crate::engine::store::path_of(&format!("{key}.metadata")), metadata.into())
            .await
            .map_err(|x| QueryError::Internal(x.to_string()))?;
        e.scanned = out.registry.as_ref().map_or(0, |r| r.scanned());
        Ok(())
    }

    pub async fn stop(&self, id: &str) -> Result<()> {
        let mut e = self.get_execution(id)?;
        if e.finished() {
            return Ok(());
        }
        if let Ok(mut running) = self.running.lock()
            && let Some(handle) = running.remove(id)
        {
            handle.abort();
        }
        e.state = QueryState::Cancelled;
        e.reason = Some("Query cancelled by user".into());
        e.completed = Some(now_secs());
        self.save(&e).await
    }

    /// One page of results: (rows, next token). The header row comes first on the first page.
    pub async fn results(
        &self,
        id: &str,
        token: Option<&str>,
        max: Option<i64>,
    ) -> Result<(Execution, Vec<Vec<Option<String>>>, Option<String>)> {
        let e = self.get_execution(id)?;
        match e.state {
            QueryState::Succeeded => {}
            QueryState::Failed => {
                return Err(AthenaError::InvalidRequest(e.reason.clone().unwrap_or_else(|| "Query failed".into())));
            }
            other => {
                return Err(AthenaError::InvalidRequest(format!(
                    "Query has not yet finished. Current state: {}",
                    other.as_str()
                )));
            }
        }
        let max = match max {
            None => RESULTS_PAGE_MAX as usize,
            Some(m) if (1..=RESULTS_PAGE_MAX).contains(&m) => m as usize,
            Some(m) => {
                return Err(AthenaError::InvalidRequest(format!(
                    "1 validation error detected: Value '{m}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000"
                )));
            }
        };
        let mut offset: u64 = match token {
            None => 0,
            Some(t) => t.parse().map_err(|_| AthenaError::InvalidRequest("The NextToken is not valid.".into()))?,
        };
        let (bucket, key) = split_s3(&e.output_location)?;
        // read as the caller of GetQueryResults (see Engine::as_caller)
        let store = self.engine.caller_registry().bucket(&bucket);
        let path = crate::engine::store::path_of(&key);
        let size = store
            .head(&path)
            .await
            .map_err(|x| AthenaError::InvalidRequest(format!("The query results are not available: {x}")))?
            .size;
        let mut rows = Vec::new();
        let mut buf: Vec<u8> = Vec::new();
        let mut read_to = offset;
        while rows.len() < max && offset < size {
            if read_to < size {
                let end = (read_to + (256 << 10)).min(size);
                let chunk =
                    store.get_range(&path, read_to..end).await.map_err(|x| AthenaError::Internal(x.to_string()))?;
                buf.extend_from_slice(&chunk);
                read_to = end;
            }
            let (mut got, used) = parse_rows(&buf, max - rows.len(), read_to >= size);
            if got.is_empty() && read_to >= size {
                break;
            }
            rows.append(&mut got);
            buf.drain(..used);
            offset += used as u64;
        }
        let next = (offset < size).then(|| offset.to_string());
        Ok((e, rows, next))
    }

    /// Execution ids of a workgroup, newest first.
    pub fn list(
        &self,
        workgroup: Option<&str>,
        token: Option<&str>,
        max: Option<i64>,
    ) -> Result<(Vec<String>, Option<String>)> {
        let wg = workgroup.unwrap_or(PRIMARY);
        self.get_workgroup(wg)?;
        let max = max.filter(|m| (1..=LIST_PAGE_MAX).contains(m)).unwrap_or(LIST_PAGE_MAX) as usize;
        let skip: usize = token.and_then(|t| t.parse().ok()).unwrap_or(0);
        let txn = self.store.read()?;
        let t = txn.open_table(EXECUTIONS)?;
        let mut all: Vec<(f64, String)> = Vec::new();
        for entry in t.iter()? {
            let (_, v) = entry?;
            let e: Execution = decode(v.value())?;
            if e.workgroup == wg {
                all.push((e.submitted, e.id));
            }
        }
        all.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let page: Vec<String> = all.iter().skip(skip).take(max).map(|(_, id)| id.clone()).collect();
        let next = (skip + page.len() < all.len()).then(|| (skip + page.len()).to_string());
        Ok((page, next))
    }

    pub async fn create_workgroup(&self, name: &str, configuration: Value, description: Option<String>) -> Result<()> {
        if name.is_empty() || name.len() > 128 || !name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return Err(AthenaError::InvalidRequest(format!(
                "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9._-]{{1,128}}"
            )));
        }
        let wg = WorkGroup {
            name: name.to_string(),
            state: WorkGroupState::Enabled,
            configuration,
            description,
            creation_time: now_secs(),
        };
        let bytes = encode(&wg);
        let name = name.to_string();
        self.store
            .write(move |txn| {
                let mut t = txn.open_table(WORKGROUPS)?;
                if name == PRIMARY || t.get(name.as_str())?.is_some() {
                    return Ok(Err(AthenaError::InvalidRequest("WorkGroup is already created".into())));
                }
                t.insert(name.as_str(), bytes.as_slice())?;
                Ok(Ok(()))
            })
            .await?
    }

    pub async fn update_workgroup(
        &self,
        name: &str,
        state: Option<WorkGroupState>,
        description: Option<String>,
        config: Option<Value>,
    ) -> Result<()> {
        let mut wg = self.get_workgroup(name)?;
        if let Some(s) = state {
            wg.state = s;
        }
        if description.is_some() {
            wg.description = description;
        }
        if let Some(Value::Object(updates)) = config {
            if !wg.configuration.is_object() {
                wg.configuration = json!({});
            }
            for (k, v) in updates {
                let k = k.strip_suffix("Updates").unwrap_or(&k).to_string();
                wg.configuration[k] = v;
            }
        }
        let bytes = encode(&wg);
        let name = name.to_string();
        self.store
            .write(move |txn| {
                txn.open_table(WORKGROUPS)?.insert(name.as_str(), bytes.as_slice())?;
                Ok(())
            })
            .await?;
        Ok(())
    }

    pub async fn delete_workgroup(&self, name: &str) -> Result<()> {
        if name == PRIMARY {
            return Err(AthenaError::InvalidRequest("The primary workgroup cannot be deleted.".into()));
        }
        let name = name.to_string();
        self.store
            .write(move |txn| {
                if txn.open_table(WORKGROUPS)?.remove(name.as_str())?.is_none() {
                    return Ok(Err(AthenaError::InvalidRequest(format!("WorkGroup {name} is not found."))));
                }
                Ok(Ok(()))
            })
            .await?
    }

    pub fn list_workgroups(&self) -> Result<Vec<WorkGroup>> {
        let txn = self.store.read()?;
        let t = txn.open_table(WORKGROUPS)?;
        let mut out = vec![self.get_workgroup(PRIMARY)?];
        for entry in t.iter()? {
            let (k, v) = entry?;
            if k.value() != PRIMARY {
                out.push(decode(v.value())?);
            }
        }
        Ok(out)
    }

    pub async fn create_named_query(&self, mut q: NamedQuery) -> Result<String> {
        if q.name.is_empty() || q.query_string.is_empty() || q.database.is_empty() {
            return Err(AthenaError::InvalidRequest("Name, Database and QueryString are required.".into()));
        }
        self.get_workgroup(q.work_group.as_deref().unwrap_or(PRIMARY))?;
        q.named_query_id = new_id();
        q.work_group.get_or_insert_with(|| PRIMARY.into());
        let id = q.named_query_id.clone();
        let bytes = encode(&q);
        let key = id.clone();
        self.store
            .write(move |txn| {
                txn.open_table(NAMED_QUERIES)?.insert(key.as_str(), bytes.as_slice())?;
                Ok(())
            })
            .await?;
        Ok(id)
    }

    pub fn get_named_query(&self, id: &str) -> Result<NamedQuery> {
        let txn = self.store.read()?;
        let t = txn.open_table(NAMED_QUERIES)?;
        let v = t.get(id)?.ok_or_else(|| AthenaError::InvalidRequest(format!("NamedQuery {id} was not found")))?;
        decode(v.value())
    }

    pub fn list_named_queries(&self, workgroup: Option<&str>) -> Result<Vec<String>> {
        let wg = workgroup.unwrap_or(PRIMARY);
        let txn = self.store.read()?;
        let t = txn.open_table(NAMED_QUERIES)?;
        let mut out = Vec::new();
        for entry in t.iter()? {
            let (k, v) = entry?;
            let q: NamedQuery = decode(v.value())?;
            if q.work_group.as_deref().unwrap_or(PRIMARY) == wg {
                out.push(k.value().to_string());
            }
        }
        Ok(out)
    }

    pub async fn delete_named_query(&self, id: &str) -> Result<()> {
        let id = id.to_string();
        self.store
            .write(move |txn| {
                txn.open_table(NAMED_QUERIES)?.remove(id.as_str())?;
                Ok(())
            })
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_csv_round_trips() {
        let text = "\"a\",\"b\"\n\"x, \"\"y\"\"\",\n,\"multi\nline\"\n";
        let (rows, used) = parse_rows(text.as_bytes(), 10, true);
        assert_eq!(used, text.len());
        assert_eq!(rows[0], vec![Some("a".into()), Some("b".into())]);
        assert_eq!(rows[1], vec![Some("x, \"y\"".into()), None]);
        assert_eq!(rows[2], vec![None, Some("multi\nline".into())]);
        // an incomplete last row waits for more bytes
        let (rows, used) = parse_rows(&text.as_bytes()[..text.len() - 3], 10, false);
        assert_eq!(rows.len(), 2);
        assert_eq!(&text[used..used + 1], ",");
        let mut q = String::new();
        quote("say \"hi\"", &mut q);
        assert_eq!(q, "\"say \"\"hi\"\"\"");
    }
}
