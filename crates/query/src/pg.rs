//! The PostgreSQL wire protocol (Redshift-style access) on the same engine as Athena.
//!
//! Log in with the access key id as user and the secret key as password (SCRAM-SHA-256); the
//! connection's database names the default Glue database (`default` when there is none by
//! that name). Simple and extended query protocols; results stream row by row in text or
//! binary as the client asks.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt8Type,
    UInt16Type, UInt32Type, UInt64Type,
};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::common::ScalarValue;
use futures::{Stream, StreamExt, stream};
use pgwire::api::auth::sasl::SASLAuthStartupHandler;
use pgwire::api::auth::sasl::scram::{ScramAuth, gen_salted_password};
use pgwire::api::auth::{AuthSource, DefaultServerParameterProvider, LoginInfo, Password, StartupHandler};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{
    DataRowEncoder, DescribePortalResponse, DescribeStatementResponse, FieldInfo, QueryResponse, Response, Tag,
};
use pgwire::api::stmt::{NoopQueryParser, StoredStatement};
use pgwire::api::{ClientInfo, METADATA_DATABASE, PgWireServerHandlers, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::data::DataRow;
use tokio::net::TcpListener;

use crate::QueryError;
use crate::engine::Engine;
use crate::engine::txn::PgSession;
use crate::pgvalues::{Interval, JsonText, Numeric, numeric_text};

/// Looks up an access key's secret (the password of the user named by the key id).
pub type SecretLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Who a session's user (an access key id, over TLS or not) runs its statements as: `Some(None)`
/// for the account root, `None` when the key no longer resolves (deleted or deactivated since
/// the session opened: its statements are refused).
pub type CallerLookup = Arc<dyn Fn(&str, bool) -> Option<Option<Arc<crate::engine::store::Caller>>> + Send + Sync>;

const SCRAM_ITERATIONS: usize = 4096;

struct Secrets(SecretLookup);

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets")
    }
}

#[async_trait]
impl AuthSource for Secrets {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        let user = login.user().unwrap_or_default();
        let Some(secret) = (self.0)(user) else {
            return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                "FATAL".into(),
                "28P01".into(),
                format!("password authentication failed for user \"{user}\""),
            ))));
        };
        let salt: [u8; 16] = rand::random();
        Ok(Password::new(Some(salt.to_vec()), gen_salted_password(&secret, &salt, SCRAM_ITERATIONS)))
    }
}

/// The query side of a connection.
pub struct Backend {
    engine: Engine,
    parser: Arc<NoopQueryParser>,
    callers: CallerLookup,
    cancels: Arc<Cancels>,
    /// Each live session's transactional state, by its process id.
    sessions: std::sync::Mutex<HashMap<i32, Arc<PgSession>>>,
}

fn pg_error(e: QueryError) -> PgWireError {
    let code = match &e {
        QueryError::User(m) if m.starts_with("cross-database references") => "0A000",
        QueryError::User(m) if m.contains("not found") => "42P01",
        QueryError::User(m) if m.starts_with("line ") => "42601",
        QueryError::User(_) => "42000",
        QueryError::AccessDenied(_) => "42501",
        QueryError::Data(_) => "XX001",
        QueryError::Internal(_) => "XX000",
    };
    PgWireError::UserError(Box::new(ErrorInfo::new("ERROR".into(), code.into(), e.to_string())))
}

fn sql_error(code: &str, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new("ERROR".into(), code.into(), message)))
}

/// When a statement must be over (the session's statement_timeout), if ever.
type Deadline = Option<tokio::time::Instant>;

/// The session's statement_timeout as a deadline from now: a number of milliseconds, or with a
/// unit (`ms`, `s`, `min`, `h`, `d`); 0 (the default) is none.
fn deadline_of<C: ClientInfo>(client: &C) -> Deadline {
    let value = client.metadata().get(&param_key("statement_timeout"))?.trim().to_ascii_lowercase();
    let digits = value.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(value.len());
    let n: f64 = value[..digits].parse().ok()?;
    let unit_ms = match value[digits..].trim() {
        "" | "ms" => 1.0,
        "s" => 1_000.0,
        "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return None,
    };
    let ms = n * unit_ms;
    (ms >= 1.0).then(|| tokio::time::Instant::now() + Duration::from_micros((ms * 1_000.0) as u64))
}

fn timed_out() -> PgWireError {
    sql_error("57014", "canceling statement due to statement timeout".into())
}

fn cancelled() -> PgWireError {
    sql_error("57014", "canceling statement due to user request".into())
}

/// Sessions' cancel signals, by the key each session was given at startup (BackendKeyData):
/// a CancelRequest on another connection with that key stops the statement running then.
#[derive(Default)]
struct Cancels(std::sync::Mutex<HashMap<(i32, bytes::Bytes), Arc<tokio::sync::Notify>>>);

impl Cancels {
    fn signal_of<C: ClientInfo>(&self, client: &C) -> Arc<tokio::sync::Notify> {
        let (pid, key) = client.pid_and_secret_key();
        let mut all = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        all.entry((pid, key.to_bytes())).or_default().clone()
    }

    /// Stops the statement the session with this key runs, if any (PostgreSQL answers a
    /// CancelRequest with nothing, whether or not it matched).
    fn cancel(&self, pid: i32, key: &pgwire::messages::startup::SecretKey) {
        let all = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(signal) = all.get(&(pid, key.to_bytes())) {
            signal.notify_waiters();
        }
    }

    fn forget<C: ClientInfo>(&self, client: &C) {
        let (pid, key) = client.pid_and_secret_key();
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&(pid, key.to_bytes()));
    }
}

struct CancelByKey(Arc<Cancels>);

#[async_trait]
impl pgwire::api::cancel::CancelHandler for CancelByKey {
    async fn on_cancel_request(&self, request: pgwire::messages::cancel::CancelRequest) {
        self.0.cancel(request.pid, &request.secret_key);
    }
}

/// What ends a statement before its end: the session's statement_timeout, or a CancelRequest
/// for the session (armed when the statement starts, so a cancel between statements stops
/// none, as PostgreSQL's).
struct Stop {
    deadline: Deadline,
    cancel: std::pin::Pin<Box<tokio::sync::futures::OwnedNotified>>,
}

impl Stop {
    /// Resolves with the error that stops the statement.
    async fn stopped(&mut self) -> PgWireError {
        let deadline = self.deadline;
        let timeout = async move {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = self.cancel.as_mut() => cancelled(),
            () = timeout => timed_out(),
        }
    }
}

/// Runs `f` until the statement is stopped.
async fn within<T>(stop: &mut Stop, f: impl std::future::Future<Output = T>) -> PgWireResult<T> {
    tokio::select! {
        biased;
        v = f => Ok(v),
        e = stop.stopped() => Err(e),
    }
}

/// A statement's batches until it is stopped: then one error (57014), and no more.
fn until(
    batches: datafusion::execution::SendableRecordBatchStream,
    stop: Stop,
) -> impl Stream<Item = PgWireResult<RecordBatch>> + Send {
    stream::unfold(Some((batches, stop)), move |state| async move {
        let (mut s, mut stop) = state?;
        match within(&mut stop, s.next()).await {
            Ok(Some(Ok(b))) => Some((Ok(b), Some((s, stop)))),
            Ok(Some(Err(e))) => Some((Err(pg_error(e.into())), Some((s, stop)))),
            Ok(None) => None,
            Err(e) => Some((Err(e), None)),
        }
    })
}

/// The session's user: the access key id it logged in with.
fn user_of<C: ClientInfo>(client: &C) -> Arc<str> {
    Arc::from(client.metadata().get(pgwire::api::METADATA_USER).map_or("", String::as_str))
}

/// Where a session keeps a run-time parameter it was SET to.
fn param_key(name: &str) -> String {
    format!("tarn.param.{name}")
}

/// The columns a session statement answers with: SHOW's one, none for the others.
fn session_fields(s: &crate::pgsession::SessionStatement) -> Vec<FieldInfo> {
    match s {
        crate::pgsession::SessionStatement::Show { name } => vec![FieldInfo::new(
            if name == "all" { "setting".to_string() } else { name.clone() },
            None,
            None,
            Type::TEXT,
            pgwire::api::results::FieldFormat::Text,
        )],
        _ => Vec::new(),
    }
}

/// A one-column text result (SHOW).
fn text_rows(column: &str, values: &[String]) -> PgWireResult<Response> {
    let header = Arc::new(vec![FieldInfo::new(
        column.to_string(),
        None,
        None,
        Type::TEXT,
        pgwire::api::results::FieldFormat::Text,
    )]);
    let mut rows = Vec::new();
    for v in values {
        let mut enc = DataRowEncoder::new(header.clone());
        enc.encode_field(&Some(v.as_str()))?;
        rows.push(Ok(enc.take_row()));
    }
    Ok(Response::Query(QueryResponse::new(header, stream::iter(rows))))
}

/// A session statement's answer (see [`crate::pgsession`]); `None` for the engine's.
/// Transaction control is [`Backend::transaction_control`]'s.
fn session_statement<C: ClientInfo>(
    client: &mut C,
    stmt: crate::pgsession::SessionStatement,
) -> PgWireResult<Response> {
    use crate::pgsession::{SessionStatement as S, default_of};
    use pgwire::messages::response::TransactionStatus as Tx;
    match stmt {
        _ if client.transaction_status() == Tx::Error => Err(aborted()),
        S::Set { name, value } => {
            if !name.is_empty() {
                match value {
                    Some(v) => client.metadata_mut().insert(param_key(&name), v),
                    None => client.metadata_mut().remove(&param_key(&name)),
                };
            }
            Ok(Response::Execution(Tag::new("SET")))
        }
        S::Reset { name } => {
            if name == "all" {
                client.metadata_mut().retain(|k, _| !k.starts_with("tarn.param."));
            } else {
                client.metadata_mut().remove(&param_key(&name));
            }
            Ok(Response::Execution(Tag::new("RESET")))
        }
        S::Show { name } if name == "all" => {
            let all: Vec<String> = crate::pgsession::DEFAULTS
                .iter()
                .map(|(n, d)| format!("{n} = {}", client.metadata().get(&param_key(n)).map_or(*d, String::as_str)))
                .collect();
            text_rows("setting", &all)
        }
        S::Show { name } => {
            // what the session SET, else what the client said at startup, else the default
            let startup = client.metadata().iter().find(|(k, _)| k.eq_ignore_ascii_case(&name)).map(|(_, v)| v.clone());
            match client
                .metadata()
                .get(&param_key(&name))
                .cloned()
                .or(startup)
                .or_else(|| default_of(&name).map(str::to_string))
            {
                Some(v) => text_rows(&name, &[v]),
                None => Err(sql_error("42704", format!("unrecognized configuration parameter \"{name}\""))),
            }
        }
        S::Discard => {
            client.metadata_mut().retain(|k, _| !k.starts_with("tarn.param."));
            Ok(Response::Execution(Tag::new("DISCARD ALL")))
        }
        S::Deallocate => Ok(Response::Execution(Tag::new("DEALLOCATE"))),
        S::Begin | S::Commit | S::Rollback | S::RollbackTo { .. } | S::Savepoint { .. } | S::Release { .. } => {
            unreachable!("transaction control is Backend::transaction_control's")
        }
    }
}

fn no_savepoint(name: &str) -> PgWireError {
    sql_error("3B001", format!("savepoint \"{name}\" does not exist"))
}

fn aborted() -> PgWireError {
    sql_error("25P02", "current transaction is aborted, commands ignored until end of transaction block".into())
}

/// Refuses what a transaction block may not run: anything after an error, and the writes a
/// block cannot take back (DROP SCHEMA, UNLOAD, partition DDL: see `engine::txn`). `in_block`
/// is the session's own record: a BEGIN earlier in the same simple query has opened the block
/// before the client's status says so.
fn transaction_allows<C: ClientInfo>(client: &C, engine: &Engine, sql: &str, in_block: bool) -> PgWireResult<()> {
    use pgwire::messages::response::TransactionStatus as Tx;
    match client.transaction_status() {
        Tx::Error => Err(aborted()),
        status if status == Tx::Transaction || in_block => match engine.refused_in_block(sql) {
            Some(what) => Err(sql_error("25001", format!("{what} cannot run inside a transaction block"))),
            None => Ok(()),
        },
        _ => Ok(()),
    }
}

fn pg_type(t: &DataType) -> Type {
    match t {
        DataType::Boolean => Type::BOOL,
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => Type::INT2,
        DataType::Int32 | DataType::UInt16 => Type::INT4,
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => Type::INT8,
        DataType::Float32 | DataType::Float16 => Type::FLOAT4,
        DataType::Float64 => Type::FLOAT8,
        DataType::Date32 => Type::DATE,
        DataType::Timestamp(_, None) => Type::TIMESTAMP,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => Type::BYTEA,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Type::TEXT,
        DataType::Decimal128(_, s) if *s >= 0 => Type::NUMERIC,
        DataType::Timestamp(_, Some(_)) => Type::TIMESTAMPTZ,
        DataType::Time32(_) | DataType::Time64(_) => Type::TIME,
        DataType::Interval(_) | DataType::Duration(_) => Type::INTERVAL,
        t if is_nested(t) => Type::JSON,
        // decimals, nested values, intervals...: their text form
        _ => Type::TEXT,
    }
}

fn fields(schema: &datafusion::arrow::datatypes::Schema, format: &Format) -> Vec<FieldInfo> {
    schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let info = FieldInfo::new(output_name(f.name()), None, None, pg_type(f.data_type()), format.format_for(i));
            match f.data_type() {
                // numeric(p, s)'s modifier, as pgjdbc's getPrecision/getScale read it
                DataType::Decimal128(p, s) if *s >= 0 => {
                    info.with_type_modifier(((i32::from(*p) << 16) | i32::from(*s)) + 4)
                }
                _ => info.with_type_modifier(-1),
            }
        })
        .collect()
}

/// A result column's name as the client sees it (see `pgcatalog::name_outputs`).
pub(crate) fn output_name(name: &str) -> String {
    name.split(crate::engine::pgcatalog::NAME_END).next().unwrap_or(name).to_string()
}

fn encode_err(e: impl std::fmt::Display) -> PgWireError {
    PgWireError::ApiError(e.to_string().into())
}

/// Encodes one batch as data rows.
fn encode_batch(batch: &RecordBatch, schema: &Arc<Vec<FieldInfo>>) -> PgWireResult<Vec<DataRow>> {
    let options = FormatOptions::default().with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.f"));
    // arrays, maps and structs go out as JSON (oid 114), each value's text made once a batch
    let json: Vec<Option<Vec<Option<String>>>> = batch
        .columns()
        .iter()
        .map(|c| if is_nested(c.data_type()) { json_values(c).map(Some) } else { Ok(None) })
        .collect::<PgWireResult<_>>()?;
    let text: Vec<ArrayFormatter> = batch
        .columns()
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
        .collect::<Result<_, _>>()
        .map_err(encode_err)?;
    let mut rows = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        let mut enc = DataRowEncoder::new(schema.clone());
        for (i, col) in batch.columns().iter().enumerate() {
            if col.is_null(row) || col.data_type() == &DataType::Null {
                enc.encode_field(&None::<i32>)?;
                continue;
            }
            match col.data_type() {
                DataType::Boolean => enc.encode_field(&col.as_boolean().value(row))?,
                DataType::Int8 => enc.encode_field(&i16::from(col.as_primitive::<Int8Type>().value(row)))?,
                DataType::Int16 => enc.encode_field(&col.as_primitive::<Int16Type>().value(row))?,
                DataType::UInt8 => enc.encode_field(&i16::from(col.as_primitive::<UInt8Type>().value(row)))?,
                DataType::Int32 => enc.encode_field(&col.as_primitive::<Int32Type>().value(row))?,
                DataType::UInt16 => enc.encode_field(&i32::from(col.as_primitive::<UInt16Type>().value(row)))?,
                DataType::Int64 => enc.encode_field(&col.as_primitive::<Int64Type>().value(row))?,
                DataType::UInt32 => enc.encode_field(&i64::from(col.as_primitive::<UInt32Type>().value(row)))?,
                DataType::UInt64 => enc.encode_field(&(col.as_primitive::<UInt64Type>().value(row) as i64))?,
                DataType::Float32 => enc.encode_field(&col.as_primitive::<Float32Type>().value(row))?,
                DataType::Float64 => enc.encode_field(&col.as_primitive::<Float64Type>().value(row))?,
                DataType::Date32 => {
                    let days = col.as_primitive::<Date32Type>().value(row);
                    let date = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
                        .and_then(|d| d.checked_add_signed(chrono::Duration::days(i64::from(days))))
                        .ok_or_else(|| encode_err("date out of range"))?;
                    enc.encode_field(&date)?;
                }
                DataType::Timestamp(unit, zone) => {
                    let micros = match unit {
                        TimeUnit::Second => col.as_primitive::<TimestampSecondType>().value(row) * 1_000_000,
                        TimeUnit::Millisecond => col.as_primitive::<TimestampMillisecondType>().value(row) * 1000,
                        TimeUnit::Microsecond => col.as_primitive::<TimestampMicrosecondType>().value(row),
                        TimeUnit::Nanosecond => col.as_primitive::<TimestampNanosecondType>().value(row) / 1000,
                    };
                    let ts = chrono::DateTime::from_timestamp_micros(micros)
                        .ok_or_else(|| encode_err("timestamp out of range"))?;
                    // with a zone the value is an instant (timestamptz, sent in UTC)
                    if zone.is_some() {
                        enc.encode_field(&ts)?;
                    } else {
                        enc.encode_field(&ts.naive_utc())?;
                    }
                }
                DataType::Time32(_) | DataType::Time64(_) => {
                    let nanos: i64 = match col.data_type() {
                        DataType::Time32(TimeUnit::Second) => {
                            i64::from(col.as_primitive::<datafusion::arrow::datatypes::Time32SecondType>().value(row))
                                * 1_000_000_000
                        }
                        DataType::Time32(_) => {
                            i64::from(
                                col.as_primitive::<datafusion::arrow::datatypes::Time32MillisecondType>().value(row),
                            ) * 1_000_000
                        }
                        DataType::Time64(TimeUnit::Microsecond) => {
                            col.as_primitive::<datafusion::arrow::datatypes::Time64MicrosecondType>().value(row) * 1000
                        }
                        _ => col.as_primitive::<datafusion::arrow::datatypes::Time64NanosecondType>().value(row),
                    };
                    let (secs, sub) = (nanos.div_euclid(1_000_000_000), nanos.rem_euclid(1_000_000_000));
                    let time = u32::try_from(secs)
                        .ok()
                        .zip(u32::try_from(sub).ok())
                        .and_then(|(s, n)| chrono::NaiveTime::from_num_seconds_from_midnight_opt(s, n))
                        .ok_or_else(|| encode_err("time out of range"))?;
                    enc.encode_field(&time)?;
                }
                DataType::Interval(_) | DataType::Duration(_) => {
                    enc.encode_field(
                        &interval_at(col.as_ref(), row).ok_or_else(|| encode_err("interval out of range"))?,
                    )?;
                }
                DataType::Binary => enc.encode_field(&col.as_binary::<i32>().value(row))?,
                DataType::LargeBinary => enc.encode_field(&col.as_binary::<i64>().value(row))?,
                DataType::BinaryView => enc.encode_field(&col.as_binary_view().value(row))?,
                DataType::Decimal128(_, s) if *s >= 0 => {
                    let v = col.as_primitive::<datafusion::arrow::datatypes::Decimal128Type>().value(row);
                    enc.encode_field(&Numeric { text: text[i].value(row).to_string(), value: v, scale: *s })?;
                }
                DataType::Utf8 => enc.encode_field(&col.as_string::<i32>().value(row))?,
                DataType::LargeUtf8 => enc.encode_field(&col.as_string::<i64>().value(row))?,
                DataType::Utf8View => enc.encode_field(&col.as_string_view().value(row))?,
                t if is_nested(t) => {
                    let value = json[i].as_ref().and_then(|v| v[row].clone()).unwrap_or_else(|| "null".into());
                    enc.encode_field(&JsonText(value))?;
                }
                _ => enc.encode_field(&text[i].value(row).to_string())?,
            }
        }
        rows.push(enc.take_row());
    }
    Ok(rows)
}

/// An interval or duration value as PostgreSQL's interval (nanoseconds truncated to
/// microseconds, as PostgreSQL keeps them).
fn interval_at(col: &dyn Array, row: usize) -> Option<Interval> {
    use datafusion::arrow::datatypes::{
        DurationMicrosecondType, DurationMillisecondType, DurationNanosecondType, DurationSecondType,
        IntervalDayTimeType, IntervalMonthDayNanoType, IntervalUnit, IntervalYearMonthType,
    };
    // a duration (a timestamp difference) in days and time, as PostgreSQL's justify_hours gives it
    let duration = |micros: Option<i64>| {
        micros.map(|m| Interval {
            months: 0,
            days: i32::try_from(m / 86_400_000_000).unwrap_or(i32::MAX),
            micros: m % 86_400_000_000,
        })
    };
    match col.data_type() {
        DataType::Interval(IntervalUnit::YearMonth) => {
            Some(Interval { months: col.as_primitive::<IntervalYearMonthType>().value(row), days: 0, micros: 0 })
        }
        DataType::Interval(IntervalUnit::DayTime) => {
            let v = col.as_primitive::<IntervalDayTimeType>().value(row);
            Some(Interval { months: 0, days: v.days, micros: i64::from(v.milliseconds) * 1000 })
        }
        DataType::Interval(IntervalUnit::MonthDayNano) => {
            let v = col.as_primitive::<IntervalMonthDayNanoType>().value(row);
            Some(Interval { months: v.months, days: v.days, micros: v.nanoseconds / 1000 })
        }
        DataType::Duration(TimeUnit::Second) => {
            duration(col.as_primitive::<DurationSecondType>().value(row).checked_mul(1_000_000))
        }
        DataType::Duration(TimeUnit::Millisecond) => {
            duration(col.as_primitive::<DurationMillisecondType>().value(row).checked_mul(1000))
        }
        DataType::Duration(TimeUnit::Microsecond) => {
            duration(Some(col.as_primitive::<DurationMicrosecondType>().value(row)))
        }
        DataType::Duration(TimeUnit::Nanosecond) => {
            duration(Some(col.as_primitive::<DurationNanosecondType>().value(row) / 1000))
        }
        _ => None,
    }
}

/// Arrays, maps and structs: values PostgreSQL's clients read as JSON.
fn is_nested(t: &DataType) -> bool {
    matches!(
        t,
        DataType::List(_)
            | DataType::LargeList(_)
            | DataType::FixedSizeList(..)
            | DataType::ListView(_)
            | DataType::Struct(_)
            | DataType::Map(..)
    )
}

/// A nested column's values as JSON text (lists as arrays, structs and maps as objects), one a
/// row, None for NULL: Arrow's JSON writer, one column at a time.
fn json_values(col: &datafusion::arrow::array::ArrayRef) -> PgWireResult<Vec<Option<String>>> {
    use datafusion::arrow::datatypes::{Field, Schema};
    let schema = Arc::new(Schema::new(vec![Field::new("v", col.data_type().clone(), true)]));
    let batch = RecordBatch::try_new(schema, vec![col.clone()]).map_err(encode_err)?;
    let mut out = Vec::new();
    let mut writer = datafusion::arrow::json::LineDelimitedWriter::new(&mut out);
    writer.write(&batch).map_err(encode_err)?;
    writer.finish().map_err(encode_err)?;
    drop(writer);
    let text = String::from_utf8(out).map_err(encode_err)?;
    let mut values: Vec<Option<String>> = text
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line)
                .ok()
                .and_then(|mut row| row.get_mut("v").map(serde_json::Value::take))
                .map(|v| v.to_string())
        })
        .collect();
    values.resize(col.len(), None);
    Ok(values)
}

fn default_database<C: ClientInfo>(engine: &Engine, client: &C) -> Option<String> {
    let db = client.metadata().get(METADATA_DATABASE)?;
    engine.catalog().get_database(db).ok().map(|d| d.name)
}

/// The PostgreSQL epoch (2000-01-01) in days and microseconds since the Unix epoch.
const PG_EPOCH_DAYS: i32 = 10_957;
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// PostgreSQL's command tag for a statement that returns no rows: `INSERT 0 n`, `COPY n`,
/// `SELECT n` for CREATE TABLE AS, `CREATE TABLE`, `DROP VIEW`, ... (drivers read the count:
/// JDBC's executeUpdate, psycopg's rowcount).
fn command_tag(sql: &str, rows: Option<u64>) -> Tag {
    let words: Vec<String> = sql.split_whitespace().take(3).map(str::to_ascii_uppercase).collect();
    let word = |i: usize| words.get(i).map_or("", String::as_str);
    let n = usize::try_from(rows.unwrap_or(0)).unwrap_or(usize::MAX);
    match word(0) {
        "INSERT" => Tag::new("INSERT").with_oid(0).with_rows(n),
        "COPY" => Tag::new("COPY").with_rows(n),
        "CREATE" if rows.is_some() => Tag::new("SELECT").with_rows(n),
        "CREATE" | "DROP" | "ALTER" => {
            let object = match (word(1), word(2)) {
                ("OR", _) => "VIEW",
                ("TEMP" | "TEMPORARY" | "UNLOGGED", _) | ("EXTERNAL", "TABLE") => "TABLE",
                ("EXTERNAL", "SCHEMA") | ("DATABASE", _) => "SCHEMA",
                (o, _) => o.trim_matches(|c: char| !c.is_ascii_alphabetic()),
            };
            Tag::new(&format!("{} {object}", word(0)))
        }
        "TRUNCATE" => Tag::new("TRUNCATE TABLE"),
        other => Tag::new(other.trim_end_matches(';')),
    }
}

/// A bound parameter as a value of the type the query gives it: text-format values are cast
/// from their text, binary ones decoded by their PostgreSQL type first.
fn parameter_value(
    raw: Option<&[u8]>,
    binary: bool,
    pg: &Type,
    target: Option<&DataType>,
    index: usize,
) -> Result<ScalarValue, QueryError> {
    let bad = |what: String| QueryError::User(format!("parameter ${}: {what}", index + 1));
    let value = match raw {
        None => return ScalarValue::try_from(target.unwrap_or(&DataType::Utf8)).map_err(|e| bad(e.to_string())),
        Some(bytes) if !binary || is_text_type(pg) => {
            let text = String::from_utf8(bytes.to_vec()).map_err(|_| bad("not valid UTF-8".into()))?;
            ScalarValue::Utf8(Some(without_zone(text, target)))
        }
        Some(bytes) => {
            let fixed = |n: usize| -> Result<&[u8], QueryError> {
                (bytes.len() == n)
                    .then_some(bytes)
                    .ok_or_else(|| bad(format!("{} bytes for {}", bytes.len(), pg.name())))
            };
            match *pg {
                Type::BOOL => ScalarValue::Boolean(Some(fixed(1)?[0] != 0)),
                Type::INT2 => ScalarValue::Int16(Some(i16::from_be_bytes(fixed(2)?.try_into().expect("2 bytes")))),
                Type::INT4 => ScalarValue::Int32(Some(i32::from_be_bytes(fixed(4)?.try_into().expect("4 bytes")))),
                Type::INT8 => ScalarValue::Int64(Some(i64::from_be_bytes(fixed(8)?.try_into().expect("8 bytes")))),
                Type::FLOAT4 => ScalarValue::Float32(Some(f32::from_be_bytes(fixed(4)?.try_into().expect("4 bytes")))),
                Type::FLOAT8 => ScalarValue::Float64(Some(f64::from_be_bytes(fixed(8)?.try_into().expect("8 bytes")))),
                Type::DATE => {
                    let days = i32::from_be_bytes(fixed(4)?.try_into().expect("4 bytes"));
                    ScalarValue::Date32(Some(
                        days.checked_add(PG_EPOCH_DAYS).ok_or_else(|| bad("date out of range".into()))?,
                    ))
                }
                Type::TIMESTAMP | Type::TIMESTAMPTZ => {
                    let micros = i64::from_be_bytes(fixed(8)?.try_into().expect("8 bytes"));
                    let micros =
                        micros.checked_add(PG_EPOCH_MICROS).ok_or_else(|| bad("timestamp out of range".into()))?;
                    let zone = (*pg == Type::TIMESTAMPTZ).then(|| Arc::from("+00:00"));
                    ScalarValue::TimestampMicrosecond(Some(micros), zone)
                }
                Type::BYTEA => ScalarValue::Binary(Some(bytes.to_vec())),
                Type::INTERVAL => {
                    let i = Interval::from_binary(bytes)
                        .ok_or_else(|| bad(format!("{} bytes for interval", bytes.len())))?;
                    let nanos = i.micros.checked_mul(1000).ok_or_else(|| bad("interval out of range".into()))?;
                    ScalarValue::IntervalMonthDayNano(Some(datafusion::arrow::datatypes::IntervalMonthDayNano::new(
                        i.months, i.days, nanos,
                    )))
                }
                Type::NUMERIC => {
                    let (text, scale) = numeric_text(bytes).ok_or_else(|| bad("a malformed binary numeric".into()))?;
                    let value = ScalarValue::Utf8(Some(text));
                    let t = target.cloned().unwrap_or(DataType::Decimal128(38, scale.min(38) as i8));
                    return value.cast_to(&t).map_err(|e| bad(format!("cannot be read as {t}: {e}")));
                }
                _ => {
                    return Err(bad(format!(
                        "binary {} values are not supported; send this parameter as text",
                        pg.name()
                    )));
                }
            }
        }
    };
    match target {
        Some(t) if value.data_type() != *t => value.cast_to(t).map_err(|e| bad(format!("cannot be read as {t}: {e}"))),
        _ => Ok(value),
    }
}

/// A date or a timestamp without time zone read from text drops a trailing zone offset, as
/// PostgreSQL does (pgjdbc sends `setDate` as `2024-01-02 +00` and `setTimestamp` as
/// `2024-01-02 03:04:05-05`, in the JVM's zone, with the type left open).
fn without_zone(text: String, target: Option<&DataType>) -> String {
    let cut = match target {
        Some(DataType::Date32 | DataType::Date64) => text.trim().find(' ').map(|i| text.trim()[..i].to_string()),
        Some(DataType::Timestamp(_, None)) => {
            let t = text.trim();
            // the offset starts at the last sign after the time of day
            t.find([' ', 'T'])
                .and_then(|time| t[time..].rfind(['+', '-']).map(|sign| t[..time + sign].trim_end().to_string()))
        }
        _ => None,
    };
    cut.unwrap_or(text)
}

fn is_text_type(pg: &Type) -> bool {
    matches!(*pg, Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN | Type::JSON)
}

/// Each parameter's type as the client declared it, else as the query implies (text when
/// it does not say).
fn parameter_pg_types(declared: &[Option<Type>], inferred: &[Option<DataType>]) -> Vec<Type> {
    (0..declared.len().max(inferred.len()))
        .map(|i| match declared.get(i).cloned().flatten().filter(|t| *t != Type::UNKNOWN) {
            Some(t) => t,
            None => inferred.get(i).cloned().flatten().map_or(Type::TEXT, |t| pg_type(&t)),
        })
        .collect()
}

impl Backend {
    /// The principal a session's statements run as: its user's, looked up again for each
    /// statement so a key revoked since the session opened stops working.
    fn caller_of<C: ClientInfo>(&self, client: &C) -> PgWireResult<Option<Arc<crate::engine::store::Caller>>> {
        let user = client.metadata().get(pgwire::api::METADATA_USER).cloned().unwrap_or_default();
        (self.callers)(&user, client.is_secure()).ok_or_else(|| {
            PgWireError::UserError(Box::new(ErrorInfo::new(
                "FATAL".to_owned(),
                "28000".to_owned(),
                format!("the access key {user} is no longer valid"),
            )))
        })
    }

    /// The session's transactional state (journal, savepoints, temporary tables).
    fn session_of<C: ClientInfo>(&self, client: &C) -> Arc<PgSession> {
        let (pid, _) = client.pid_and_secret_key();
        let mut all = self.sessions.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let database = client.metadata().get(METADATA_DATABASE).map_or("default", String::as_str);
        all.entry(pid)
            .or_insert_with(|| {
                PgSession::new(format!("{pid}-{}", tarn_common::now_unix_nanos()), database, self.engine.journal_dir())
            })
            .clone()
    }

    /// The session is over: an open block rolls back, temporary tables go.
    async fn end_session<C: ClientInfo>(&self, client: &C) {
        let (pid, _) = client.pid_and_secret_key();
        let session = self.sessions.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&pid);
        if let Some(session) = session {
            let caller = (self.callers)(&user_of(client), client.is_secure()).flatten();
            Engine::as_caller(caller, self.engine.end_session(&session)).await;
        }
    }

    /// BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE and ROLLBACK TO: the ReadyForQuery status
    /// pgwire reports, and the block's journal (see `engine::txn`).
    async fn transaction_control<C: ClientInfo>(
        &self,
        client: &mut C,
        stmt: crate::pgsession::SessionStatement,
        sql: &str,
    ) -> PgWireResult<Response> {
        use crate::pgsession::SessionStatement as S;
        use pgwire::messages::response::TransactionStatus as Tx;
        let session = self.session_of(client);
        let status = client.transaction_status();
        let caller = (self.callers)(&user_of(client), client.is_secure()).flatten();
        let undone = |r: crate::Result<()>| {
            r.map_err(|e| sql_error("XX000", format!("rolling back the transaction's writes failed: {e}")))
        };
        match stmt {
            S::Begin if status == Tx::Idle => {
                session.begin();
                Ok(Response::TransactionStart(Tag::new("BEGIN")))
            }
            // already in one: PostgreSQL warns and goes on
            S::Begin => Ok(Response::Execution(Tag::new("BEGIN"))),
            S::Commit if status == Tx::Error => {
                undone(Engine::as_caller(caller, self.engine.rollback(&session)).await)?;
                Ok(Response::TransactionEnd(Tag::new("ROLLBACK")))
            }
            S::Commit => {
                Engine::as_caller(caller, self.engine.commit(&session)).await.map_err(pg_error)?;
                Ok(Response::TransactionEnd(Tag::new("COMMIT")))
            }
            S::Rollback => {
                undone(Engine::as_caller(caller, self.engine.rollback(&session)).await)?;
                Ok(Response::TransactionEnd(Tag::new("ROLLBACK")))
            }
            S::RollbackTo { .. } | S::Savepoint { .. } | S::Release { .. } if status == Tx::Idle => Err(sql_error(
                "25P01",
                format!(
                    "{} can only be used in transaction blocks",
                    sql.split_whitespace().next().unwrap_or_default().to_ascii_uppercase()
                ),
            )),
            S::RollbackTo { name } => match session.savepoint_position(&name) {
                Some(i) => {
                    undone(Engine::as_caller(caller, self.engine.rollback_to(&session, i)).await)?;
                    Ok(Response::TransactionStart(Tag::new("ROLLBACK")))
                }
                None => Err(no_savepoint(&name)),
            },
            _ if status == Tx::Error => Err(aborted()),
            S::Savepoint { name } => {
                session.savepoint(&name);
                Ok(Response::Execution(Tag::new("SAVEPOINT")))
            }
            S::Release { name } => match session.savepoint_position(&name) {
                Some(i) => {
                    session.release(i);
                    Ok(Response::Execution(Tag::new("RELEASE")))
                }
                None => Err(no_savepoint(&name)),
            },
            other => session_statement(client, other),
        }
    }

    /// A session statement (transaction control, SET/SHOW, ...) or None for the engine's.
    async fn session_statement<C: ClientInfo>(&self, client: &mut C, sql: &str) -> Option<PgWireResult<Response>> {
        let stmt = crate::pgsession::parse(sql)?;
        Some(self.transaction_control(client, stmt, sql).await)
    }

    /// Runs a statement of the engine's as the session's caller and user, in its session.
    async fn run_in_session<C: ClientInfo, F: std::future::Future<Output = PgWireResult<Response>>>(
        &self,
        client: &C,
        run: F,
    ) -> PgWireResult<Response> {
        let caller = self.caller_of(client)?;
        let session = self.session_of(client);
        Engine::in_session(session, Engine::as_session_user(user_of(client), Engine::as_caller(caller, run))).await
    }

    /// `COPY ... TO STDOUT`: the query's rows in COPY's text or CSV format, streamed (a read,
    /// so allowed in a transaction block).
    async fn copy_out<C: ClientInfo>(
        &self,
        client: &C,
        copy: Result<crate::pgcopy::CopyOut, crate::pgcopy::Refusal>,
        database: Option<&str>,
    ) -> PgWireResult<Response> {
        use pgwire::messages::copy::CopyData;
        use pgwire::messages::response::TransactionStatus as Tx;
        let copy = copy.map_err(|(code, message)| sql_error(code, message))?;
        if client.transaction_status() == Tx::Error {
            return Err(aborted());
        }
        let caller = self.caller_of(client)?;
        let mut stop = self.stop_of(client);
        let query = within(&mut stop, self.engine.execute(&copy.query, database));
        let out =
            Engine::as_session_user(user_of(client), Engine::as_caller(caller, query)).await?.map_err(pg_error)?;
        if out.schema.fields().is_empty() {
            return Err(sql_error("0A000", "COPY copies the rows of a query or a table, not a statement's".into()));
        }
        let names: Vec<String> = out.schema.fields().iter().map(|f| output_name(f.name())).collect();
        // the header goes out with the first row, so COPY's row count is the rows'
        let header = Arc::new(std::sync::Mutex::new(copy.header_line(&names)));
        let unsent = header.clone();
        let copy = Arc::new(copy);
        let rows = until(out.stream, stop).flat_map(
            move |batch| -> std::pin::Pin<Box<dyn Stream<Item = PgWireResult<CopyData>> + Send>> {
                let lines = batch.and_then(|b| copy.lines(&b).map_err(encode_err));
                match lines {
                    Ok(mut lines) => {
                        if let Some(first) = lines.first_mut()
                            && let Some(h) = header.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
                        {
                            first.insert_str(0, &h);
                        }
                        Box::pin(stream::iter(lines.into_iter().map(|l| Ok(CopyData::new(bytes::Bytes::from(l))))))
                    }
                    Err(e) => Box::pin(stream::iter(vec![Err(e)])),
                }
            },
        );
        // no rows: the header alone
        let last = stream::once(async move { unsent.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() })
            .filter_map(|h| async move { h.map(|h| Ok(CopyData::new(bytes::Bytes::from(h)))) });
        let data = rows.chain(last);
        Ok(Response::CopyOut(pgwire::api::results::CopyResponse::new(0, names.len(), data)))
    }

    /// What stops the statement the session starts now.
    fn stop_of<C: ClientInfo>(&self, client: &C) -> Stop {
        Stop { deadline: deadline_of(client), cancel: Box::pin(self.cancels.signal_of(client).notified_owned()) }
    }

    async fn run(&self, sql: &str, database: Option<&str>, format: &Format, mut stop: Stop) -> PgWireResult<Response> {
        let out = within(&mut stop, self.engine.execute(sql, database)).await?.map_err(pg_error)?;
        Self::respond(sql, out, format, stop).await
    }

    /// A portal with parameters: each value decoded by its type (as the client declared it, or
    /// as the query implies) and cast to the query's type for it.
    async fn run_portal(
        &self,
        sql: &str,
        database: Option<&str>,
        portal: &Portal<<Self as ExtendedQueryHandler>::Statement>,
        mut stop: Stop,
    ) -> PgWireResult<Response> {
        let out = within(
            &mut stop,
            self.engine.execute_params(sql, database, |inferred| {
                let types = parameter_pg_types(&portal.statement.parameter_types, inferred);
                let text = Type::TEXT;
                portal
                    .parameters
                    .iter()
                    .enumerate()
                    .map(|(i, raw)| {
                        let pg = types.get(i).unwrap_or(&text);
                        let binary = portal.parameter_format.is_binary(i);
                        parameter_value(raw.as_deref(), binary, pg, inferred.get(i).and_then(Option::as_ref), i)
                    })
                    .collect()
            }),
        )
        .await?
        .map_err(pg_error)?;
        Self::respond(sql, out, &portal.result_column_format, stop).await
    }

    async fn respond(
        sql: &str,
        out: crate::engine::QueryOutput,
        format: &Format,
        stop: Stop,
    ) -> PgWireResult<Response> {
        let batches = until(out.stream, stop);
        if out.schema.fields().is_empty() {
            // DDL: drain, then a command tag
            let mut s = Box::pin(batches);
            while let Some(b) = s.next().await {
                b?;
            }
            return Ok(Response::Execution(command_tag(sql, out.rows)));
        }
        let header = Arc::new(fields(&out.schema, format));
        let h = header.clone();
        let rows =
            batches.flat_map(move |batch| -> std::pin::Pin<Box<dyn Stream<Item = PgWireResult<DataRow>> + Send>> {
                match batch {
                    Err(e) => Box::pin(stream::iter(vec![Err(e)])),
                    Ok(b) => match encode_batch(&b, &h) {
                        Ok(rows) => Box::pin(stream::iter(rows.into_iter().map(Ok))),
                        Err(e) => Box::pin(stream::iter(vec![Err(e)])),
                    },
                }
            });
        Ok(Response::Query(QueryResponse::new(header, rows)))
    }

    async fn describe(&self, sql: &str, database: Option<&str>, format: &Format) -> PgWireResult<Vec<FieldInfo>> {
        if self.engine.is_statement(sql) {
            return Ok(Vec::new());
        }
        let schema = self.engine.plan_schema(sql, database).await.map_err(pg_error)?;
        Ok(fields(&schema, format))
    }
}

#[async_trait]
impl SimpleQueryHandler for Backend {
    async fn on_query<C>(&self, client: &mut C, query: pgwire::messages::simplequery::Query) -> PgWireResult<()>
    where
        C: ClientInfo
            + pgwire::api::ClientPortalStore
            + futures::Sink<pgwire::messages::PgWireBackendMessage>
            + Unpin
            + Send
            + Sync,
        C::PortalStore: pgwire::api::store::PortalStore,
        C::Error: std::fmt::Debug,
        PgWireError: From<<C as futures::Sink<pgwire::messages::PgWireBackendMessage>>::Error>,
    {
        // ROLLBACK TO a savepoint takes a failed transaction back to where it was (nothing
        // was written since: transactions only read); the status is set before the query
        // runs, as the ReadyForQuery that ends it reports it
        use pgwire::messages::response::TransactionStatus as Tx;
        if client.transaction_status() == Tx::Error
            && let Some(crate::pgsession::SessionStatement::RollbackTo { name }) = crate::pgsession::parse(&query.query)
            && self.session_of(client).savepoint_position(&name).is_some()
        {
            client.set_transaction_status(Tx::Transaction);
        }
        self._on_query(client, query).await
    }

    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let db = default_database(&self.engine, client);
        let statements = crate::pgsession::split(query);
        if statements.is_empty() {
            return Ok(vec![Response::EmptyQuery]);
        }
        // each statement in turn; the first that fails ends the query, as PostgreSQL's do
        let mut out = Vec::with_capacity(statements.len());
        for sql in statements {
            let answer = if let Some(copy) = crate::pgcopy::parse(sql) {
                self.copy_out(client, copy, db.as_deref()).await
            } else {
                match self.session_statement(client, sql).await {
                    Some(answer) => answer,
                    None => match transaction_allows(client, &self.engine, sql, self.session_of(client).in_block()) {
                        Err(e) => Err(e),
                        Ok(()) => {
                            let run = self.run(sql, db.as_deref(), &Format::UnifiedText, self.stop_of(client));
                            self.run_in_session(client, run).await
                        }
                    },
                }
            };
            match answer {
                Ok(r) => out.push(r),
                Err(PgWireError::UserError(info)) => {
                    out.push(Response::Error(info));
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl ExtendedQueryHandler for Backend {
    type Statement = String;
    type QueryParser = NoopQueryParser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        self.parser.clone()
    }

    async fn on_execute<C>(&self, client: &mut C, message: pgwire::messages::extendedquery::Execute) -> PgWireResult<()>
    where
        C: ClientInfo
            + pgwire::api::ClientPortalStore
            + futures::Sink<pgwire::messages::PgWireBackendMessage>
            + Unpin
            + Send
            + Sync,
        C::PortalStore: pgwire::api::store::PortalStore<Statement = Self::Statement>,
        C::Error: std::fmt::Debug,
        PgWireError: From<<C as futures::Sink<pgwire::messages::PgWireBackendMessage>>::Error>,
    {
        // ROLLBACK TO a savepoint out of a failed block, as on_query does for the simple
        // protocol (pgjdbc sends it, and its autosave, as an extended query)
        use pgwire::api::store::{Entry, PortalStore};
        use pgwire::messages::response::TransactionStatus as Tx;
        if client.transaction_status() == Tx::Error {
            let name = message.name.as_deref().unwrap_or(pgwire::api::DEFAULT_NAME);
            let sql = match client.portal_store().get_portal(name) {
                Some(Entry::Value(portal)) => Some(portal.statement.statement.clone()),
                _ => None,
            };
            if let Some(crate::pgsession::SessionStatement::RollbackTo { name }) =
                sql.as_deref().and_then(crate::pgsession::parse)
                && self.session_of(client).savepoint_position(&name).is_some()
            {
                client.set_transaction_status(Tx::Transaction);
            }
        }
        self._on_execute(client, message).await
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let db = default_database(&self.engine, client);
        let sql = portal.statement.statement.trim().trim_end_matches(';');
        if sql.trim().is_empty() {
            return Ok(Response::EmptyQuery);
        }
        if let Some(copy) = crate::pgcopy::parse(sql) {
            return self.copy_out(client, copy, db.as_deref()).await;
        }
        if let Some(answer) = self.session_statement(client, sql).await {
            return answer;
        }
        transaction_allows(client, &self.engine, sql, self.session_of(client).in_block())?;
        if portal.parameter_len() > 0 {
            let run = self.run_portal(sql, db.as_deref(), portal, self.stop_of(client));
            return self.run_in_session(client, run).await;
        }
        let run = self.run(sql, db.as_deref(), &portal.result_column_format, self.stop_of(client));
        self.run_in_session(client, run).await
    }

    async fn do_describe_statement<C>(
        &self,
        client: &mut C,
        stmt: &StoredStatement<Self::Statement>,
    ) -> PgWireResult<DescribeStatementResponse>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let db = default_database(&self.engine, client);
        let sql = stmt.statement.trim().trim_end_matches(';');
        if let Some(s) = crate::pgsession::parse(sql) {
            return Ok(DescribeStatementResponse::new(Vec::new(), session_fields(&s)));
        }
        if crate::pgcopy::parse(sql).is_some() {
            return Ok(DescribeStatementResponse::new(Vec::new(), Vec::new()));
        }
        let inferred = if sql.contains('$') {
            self.engine.parameter_types(sql, db.as_deref()).await.map_err(pg_error)?
        } else {
            Vec::new()
        };
        let params = parameter_pg_types(&stmt.parameter_types, &inferred);
        // formats are the Bind's to choose: a statement's description says text, as PostgreSQL's
        let fields = self.describe(sql, db.as_deref(), &Format::UnifiedText).await?;
        Ok(DescribeStatementResponse::new(params, fields))
    }

    async fn do_describe_portal<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
    ) -> PgWireResult<DescribePortalResponse>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let db = default_database(&self.engine, client);
        if let Some(s) = crate::pgsession::parse(portal.statement.statement.trim()) {
            return Ok(DescribePortalResponse::new(session_fields(&s)));
        }
        if crate::pgcopy::parse(portal.statement.statement.trim()).is_some() {
            return Ok(DescribePortalResponse::new(Vec::new()));
        }
        let fields = self
            .describe(
                portal.statement.statement.trim().trim_end_matches(';'),
                db.as_deref(),
                &portal.result_column_format,
            )
            .await?;
        Ok(DescribePortalResponse::new(fields))
    }
}

struct Handlers {
    backend: Arc<Backend>,
    secrets: SecretLookup,
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.backend.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.backend.clone()
    }

    fn cancel_handler(&self) -> Arc<impl pgwire::api::cancel::CancelHandler> {
        Arc::new(CancelByKey(self.backend.cancels.clone()))
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        let mut scram = ScramAuth::new(Arc::new(Secrets(self.secrets.clone())));
        scram.set_iterations(SCRAM_ITERATIONS);
        let mut params = DefaultServerParameterProvider::default();
        params.server_version = "16.0 (tarn)".into();
        Arc::new(SASLAuthStartupHandler::new(Arc::new(params)).with_scram(scram))
    }
}

/// PostgreSQL's words for a session ended by a shutdown (`57P01 admin_shutdown`).
pub const ADMIN_SHUTDOWN: &str = "terminating connection due to administrator command";

/// A client has this long to finish its startup and authentication.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Serves the PostgreSQL wire protocol on `listener` until `shutdown` resolves. Then it accepts
/// no new connection (as PostgreSQL's shutdown does), lets every session finish what it is on (a
/// simple query, or an extended-query pipeline through its Sync: a query in flight runs to its
/// end and its rows reach the client), ends each session with `FATAL 57P01` and returns once
/// all have ended or `drain` has passed (the sessions still running then are dropped).
pub async fn serve(
    listener: TcpListener,
    engine: Engine,
    secrets: SecretLookup,
    callers: CallerLookup,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
    tls: Option<pgwire::tokio::TlsAcceptor>,
) {
    let backend = Backend {
        engine: engine.for_postgres(),
        parser: Arc::new(NoopQueryParser::new()),
        callers,
        cancels: Arc::default(),
        sessions: std::sync::Mutex::default(),
    };
    let handlers = Arc::new(Handlers { backend: Arc::new(backend), secrets });
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let mut sessions = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let socket = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((socket, _)) => socket,
                Err(e) => {
                    tracing::warn!(error = %e, "postgres wire: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            // reap ended sessions so the set holds only live ones
            Some(_) = sessions.join_next(), if !sessions.is_empty() => continue,
        };
        sessions.spawn(session(socket, handlers.clone(), stopping.clone(), tls.clone()));
    }
    drop(listener);
    let _ = stop.send(true);
    let open = sessions.len();
    if open > 0 {
        tracing::info!(sessions = open, "postgres wire: ending sessions");
    }
    let all_ended = async { while sessions.join_next().await.is_some() {} };
    if tokio::time::timeout(drain, all_ended).await.is_err() {
        tracing::warn!(
            sessions = sessions.len(),
            ?drain,
            "postgres wire: sessions still running after the drain limit; dropping them"
        );
        sessions.abort_all();
    }
}

/// Resolves once the server stops (or its signal is gone).
async fn stopped(stopping: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stop| *stop).await;
}

/// One connection: pgwire's message loop, with a way out between messages when the server
/// stops.
async fn session(
    tcp: tokio::net::TcpStream,
    handlers: Arc<Handlers>,
    mut stopping: tokio::sync::watch::Receiver<bool>,
    tls: Option<pgwire::tokio::TlsAcceptor>,
) {
    use pgwire::api::PgWireConnectionState as State;
    use pgwire::api::{ErrorHandler, PgWireServerHandlers as _};
    use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

    let startup_timeout = tokio::time::sleep(STARTUP_TIMEOUT);
    tokio::pin!(startup_timeout);
    let negotiated = tokio::select! {
        () = &mut startup_timeout => return,
        // an SSLRequest is answered with TLS when a certificate is configured, else refused
        s = pgwire::tokio::server::negotiate_tls(tcp, tls) => s,
    };
    let mut socket = match negotiated {
        Ok(Some(socket)) => socket,
        Ok(None) => return,
        Err(e) => {
            tracing::debug!(error = %e, "postgres wire: negotiation failed");
            return;
        }
    };
    let startup = handlers.startup_handler();
    let simple = handlers.simple_query_handler();
    let extended = handlers.extended_query_handler();
    let copy = handlers.copy_handler();
    let cancel = handlers.cancel_handler();
    let errors = handlers.error_handler();
    // inside an extended-query pipeline (Parse, Bind, Execute, ... up to its Sync) a session is
    // not idle: it ends only once the Sync is answered, so a client never misses the
    // ReadyForQuery of a pipeline it has sent
    let mut in_pipeline = false;
    loop {
        let starting = matches!(socket.state(), State::AwaitingStartup | State::AuthenticationInProgress);
        let msg = tokio::select! {
            biased;
            () = stopped(&mut stopping), if !in_pipeline => {
                let fatal = ErrorInfo::new("FATAL".into(), "57P01".into(), ADMIN_SHUTDOWN.into());
                if let Err(e) = futures::SinkExt::send(&mut socket, PgWireBackendMessage::ErrorResponse(fatal.into())).await {
                    tracing::debug!(error = %e, "postgres wire: could not tell a session it ends");
                }
                break;
            }
            () = &mut startup_timeout, if starting => break,
            msg = socket.next() => msg,
        };
        let Some(Ok(msg)) = msg else { break };
        // Terminate: the client is leaving and waits for the socket to close
        if matches!(msg, PgWireFrontendMessage::Terminate(_)) {
            break;
        }
        let is_extended = match socket.state() {
            State::CopyInProgress(extended) => extended,
            _ => msg.is_extended_query(),
        };
        let is_cancel = matches!(msg, PgWireFrontendMessage::CancelRequest(_));
        in_pipeline = match &msg {
            PgWireFrontendMessage::Sync(_) | PgWireFrontendMessage::Query(_) => false,
            m if m.is_extended_query() => true,
            _ => in_pipeline,
        };
        let result = pgwire::tokio::server::process_message(
            msg,
            &mut socket,
            startup.clone(),
            simple.clone(),
            extended.clone(),
            copy.clone(),
            cancel.clone(),
        )
        .await;
        if let Err(mut e) = result {
            errors.on_error(&socket, &mut e);
            let fatal = e.is_fatal();
            if let Err(e) = pgwire::tokio::server::process_error(&mut socket, e, is_extended).await {
                tracing::debug!(error = %e, "postgres wire connection ended");
                break;
            }
            if fatal {
                break;
            }
        }
        if is_cancel {
            break;
        }
    }
    handlers.backend.cancels.forget(&socket);
    handlers.backend.end_session(&socket).await;
}

#[cfg(test)]
mod tests {
    #[test]
    fn zones_after_dates_and_timestamps_are_dropped() {
        use datafusion::arrow::datatypes::{DataType, TimeUnit};
        let date = Some(&DataType::Date32);
        let ts = DataType::Timestamp(TimeUnit::Microsecond, None);
        assert_eq!(super::without_zone("2024-01-02 +00".into(), date), "2024-01-02");
        assert_eq!(super::without_zone("2024-01-02".into(), date), "2024-01-02");
        assert_eq!(super::without_zone("2024-01-02 03:04:05-05".into(), Some(&ts)), "2024-01-02 03:04:05");
        assert_eq!(super::without_zone("2024-06-30 23:59:58.5+05:30".into(), Some(&ts)), "2024-06-30 23:59:58.5");
        assert_eq!(super::without_zone("2024-01-02 03:04:05".into(), Some(&ts)), "2024-01-02 03:04:05");
        assert_eq!(super::without_zone("2024-01-02".into(), Some(&ts)), "2024-01-02");
        let tz = DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into()));
        assert_eq!(super::without_zone("2024-01-02 03:04:05-05".into(), Some(&tz)), "2024-01-02 03:04:05-05");
    }
}
