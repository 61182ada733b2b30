//! The audit trail (see docs/architecture.md, "The audit trail"): every API call, as a
//! CloudTrail record, appended durably to one sealed segment log before the call is answered;
//! trails that deliver the records into buckets as gzip JSON files; LookupEvents over the log.
//!
//! The records are CloudTrail's JSON, built by `tarn-api` (which knows the callers and the
//! wire); this crate keeps, finds and delivers them.

mod deliver;
mod trail;

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use redb::TableDefinition;
use serde_json::Value;
use tarn_store::segment::SegmentLog;
use tarn_store::{DataKey, Store, StoreError};

pub use trail::{EventSelector, Facets, NewTrail, ResourceFacet, Trail, TrailStatus};

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("audit_meta");
const DATA_KEY: &str = "data-key";
/// Bytes per segment file of the log.
const SEGMENT_BYTES: u64 = 64 * 1024 * 1024;
/// The syncer's pause between fdatasyncs of the log: the most a power loss can take from the
/// trail.
const SYNC_INTERVAL: std::time::Duration = std::time::Duration::from_millis(20);
/// How long records are kept (LookupEvents' window).
pub const RETENTION_DAYS: i64 = 90;
const DAY_MS: i64 = 86_400_000;
/// LookupEvents' page size, its default and its most.
pub const LOOKUP_PAGE_MAX: usize = 50;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{0}")]
    TrailNotFound(String),
    #[error("{0}")]
    TrailAlreadyExists(String),
    #[error("{0}")]
    InvalidTrailName(String),
    #[error("{0}")]
    BucketDoesNotExist(String),
    #[error("{0}")]
    InvalidEventSelectors(String),
    #[error("{0}")]
    InvalidLookupAttributes(String),
    #[error("{0}")]
    InvalidTimeRange(String),
    #[error("{0}")]
    InvalidNextToken(String),
    #[error("{0}")]
    MaximumTrailsExceeded(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

tarn_store::from_redb_errors!(AuditError, AuditError::Store);

pub type Result<T, E = AuditError> = std::result::Result<T, E>;

/// The clock the trail reads (Unix milliseconds); tests move it.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The syncer thread's share: the segment written to since its last fdatasync, if any.
#[derive(Default)]
struct Syncer {
    pending: Mutex<Option<std::fs::File>>,
    wake: std::sync::Condvar,
}

/// The syncer: fdatasyncs the log's segment whenever records were written since its last sync,
/// at most every [`SYNC_INTERVAL`], outside the log's lock (writers go on meanwhile). Ends
/// once the trail is dropped.
fn sync_loop(syncer: &Arc<Syncer>) {
    loop {
        let file = {
            let mut pending = syncer.pending.lock().unwrap_or_else(PoisonError::into_inner);
            while pending.is_none() {
                if Arc::strong_count(syncer) == 1 {
                    return;
                }
                pending = syncer
                    .wake
                    .wait_timeout(pending, std::time::Duration::from_millis(200))
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            pending.take()
        };
        if let Some(file) = file
            && let Err(e) = file.sync_data()
        {
            tracing::error!(error = %e, "the audit trail could not be synced to disk");
        }
        std::thread::sleep(SYNC_INTERVAL);
    }
}

/// A LookupEvents question.
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    /// (attribute key, value): EventId, EventName, ReadOnly, Username, ResourceType,
    /// ResourceName, EventSource, AccessKeyId.
    pub attribute: Option<(String, String)>,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub max: usize,
    /// The record number to go on from (downwards).
    pub before: Option<u64>,
}

/// The trail of one server: its log, its trails, and who delivers them.
#[derive(Clone)]
pub struct Audit {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    region: String,
    log: Mutex<SegmentLog>,
    /// What the syncer thread shares (not the store: dropping the trail closes it).
    syncer: Arc<Syncer>,
    key: DataKey,
    clock: Clock,
    trails: RwLock<std::collections::BTreeMap<String, Trail>>,
    /// One trail change (or delivery checkpoint) at a time: the table and memory agree.
    writer: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Audit")
    }
}

impl Audit {
    /// Opens the trail in `dir` (made on first start), its key kept in `store`.
    pub async fn open(store: Store, dir: &Path, region: &str) -> Result<Self> {
        let clock: Clock = Arc::new(|| tarn_common::now_unix_nanos() / 1_000_000);
        Self::open_with_clock(store, dir, region, clock).await
    }

    /// [`Audit::open`] on a given clock.
    pub async fn open_with_clock(store: Store, dir: &Path, region: &str, clock: Clock) -> Result<Self> {
        let key = store.service_data_key(META, DATA_KEY).await?;
        let trails = trail::load(&store)?;
        let dir = dir.to_path_buf();
        let log = tokio::task::spawn_blocking(move || SegmentLog::open(&dir, SEGMENT_BYTES))
            .await
            .map_err(|e| StoreError::Bug(format!("opening the audit log: {e}")))??;
        let audit = Self {
            inner: Arc::new(Inner {
                store,
                region: region.to_string(),
                log: Mutex::new(log),
                syncer: Arc::default(),
                key,
                clock,
                trails: RwLock::new(trails),
                writer: tokio::sync::Mutex::new(()),
            }),
        };
        let syncer = audit.inner.syncer.clone();
        std::thread::Builder::new()
            .name("tarn-audit-sync".into())
            .spawn(move || sync_loop(&syncer))
            .map_err(|e| StoreError::Bug(format!("starting the audit syncer: {e}")))?;
        Ok(audit)
    }

    #[must_use]
    pub fn region(&self) -> &str {
        &self.inner.region
    }

    fn now(&self) -> i64 {
        (self.inner.clock)()
    }

    /// Appends one record: written to the log (a page-cache write, under the log's lock) before
    /// this returns, so a crash of the process loses none; made durable by the syncer thread,
    /// one fdatasync for every record written meanwhile (docs/architecture.md says why the call
    /// does not wait for it).
    pub async fn record(&self, event: &Value) -> Result<()> {
        let plain = serde_json::to_vec(event).map_err(|e| StoreError::Bug(format!("audit record: {e}")))?;
        self.record_json(&plain)
    }

    /// [`Audit::record`] of a record already serialized (one JSON object).
    pub fn record_json(&self, plain: &[u8]) -> Result<()> {
        let sealed = self.seal(plain);
        let now = self.now();
        let log = &mut *self.inner.log.lock().unwrap_or_else(PoisonError::into_inner);
        log.append_unsynced(&[sealed], now)?;
        let syncer = &self.inner.syncer;
        let mut pending = syncer.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if pending.is_none() {
            // the segment to sync (a segment the log rolled away from was synced as it rolled)
            *pending = log.sync_handle();
            syncer.wake.notify_one();
        }
        Ok(())
    }

    fn seal(&self, plain: &[u8]) -> Vec<u8> {
        let mut prefix = [0u8; 8];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut prefix);
        let mut out = prefix.to_vec();
        self.inner.key.seal_chunk(prefix, 0, true, plain, &mut out);
        out
    }

    fn open_record(&self, payload: &[u8]) -> Result<Value> {
        let body = self.open_bytes(payload)?;
        serde_json::from_slice(&body).map_err(|e| StoreError::Corrupt(format!("an audit record: {e}")).into())
    }

    /// A stored record's JSON bytes.
    fn open_bytes(&self, payload: &[u8]) -> Result<Vec<u8>> {
        if payload.len() < 8 {
            return Err(StoreError::Corrupt("an audit record shorter than its nonce".into()).into());
        }
        let prefix: [u8; 8] = payload[..8].try_into().expect("8 bytes");
        let mut body = payload[8..].to_vec();
        self.inner.key.open_chunk(prefix, 0, true, &mut body)?;
        Ok(body)
    }

    /// [`Audit::read`] as each record's JSON bytes, unparsed.
    pub(crate) fn read_bytes(&self, from: u64, max: usize) -> Result<Vec<(u64, Vec<u8>)>> {
        let records = self.inner.log.lock().unwrap_or_else(PoisonError::into_inner).read(from, max, 64 << 20)?;
        records.into_iter().map(|r| Ok((r.n, self.open_bytes(&r.payload)?))).collect()
    }

    /// Records `[from, from + max)` of the log, opened: (record number, record).
    pub(crate) fn read(&self, from: u64, max: usize) -> Result<Vec<(u64, Value)>> {
        let records = self.inner.log.lock().unwrap_or_else(PoisonError::into_inner).read(from, max, 64 << 20)?;
        records.into_iter().map(|r| Ok((r.n, self.open_record(&r.payload)?))).collect()
    }

    /// The number the next record will get.
    #[must_use]
    pub fn next_record(&self) -> u64 {
        self.inner.log.lock().unwrap_or_else(PoisonError::into_inner).next_n()
    }

    /// Drops whole segments older than the retention window.
    pub fn enforce_retention(&self) -> Result<usize> {
        let cutoff = self.now() - RETENTION_DAYS * DAY_MS;
        Ok(self.inner.log.lock().unwrap_or_else(PoisonError::into_inner).drop_older_than(cutoff)?)
    }

    /// LookupEvents: management events, newest first, and the number to go on from.
    pub fn lookup(&self, q: &Lookup) -> Result<(Vec<Value>, Option<u64>)> {
        if let (Some(s), Some(e)) = (q.start_ms, q.end_ms)
            && s > e
        {
            return Err(AuditError::InvalidTimeRange("Start time must be before end time.".into()));
        }
        let window_start = self.now() - RETENTION_DAYS * DAY_MS;
        let (first, end) = {
            let log = self.inner.log.lock().unwrap_or_else(PoisonError::into_inner);
            let start = q.start_ms.unwrap_or(window_start).max(window_start);
            let first = log.first_at_or_after(start).max(log.first_n());
            let end = match q.end_ms {
                // records up to and including end_ms
                Some(e) => log.first_at_or_after(e.saturating_add(1)),
                None => log.next_n(),
            };
            (first, end)
        };
        let mut top = q.before.map_or(end, |b| b.min(end));
        let max = q.max.clamp(1, LOOKUP_PAGE_MAX);
        let mut out = Vec::new();
        const CHUNK: u64 = 256;
        while top > first && out.len() < max {
            let from = top.saturating_sub(CHUNK).max(first);
            let chunk = self.read(from, usize::try_from(top - from).unwrap_or(usize::MAX))?;
            for (n, event) in chunk.into_iter().rev() {
                if out.len() == max {
                    return Ok((out, Some(n + 1)));
                }
                if is_management(&event) && matches(&event, q.attribute.as_ref()) {
                    out.push(event);
                }
                top = n;
            }
            top = from.min(top);
        }
        Ok((out, None))
    }
}

/// Whether a record is a management event (LookupEvents shows only those).
#[must_use]
pub fn is_management(event: &Value) -> bool {
    event.get("managementEvent").and_then(Value::as_bool).unwrap_or(true)
}

/// Whether a record meets a LookupEvents attribute.
fn matches(event: &Value, attribute: Option<&(String, String)>) -> bool {
    let Some((key, value)) = attribute else { return true };
    let text = |v: Option<&Value>| v.and_then(Value::as_str).is_some_and(|s| s == value);
    match key.as_str() {
        "EventId" => text(event.get("eventID")),
        "EventName" => text(event.get("eventName")),
        "EventSource" => text(event.get("eventSource")),
        "ReadOnly" => event.get("readOnly").and_then(Value::as_bool).is_some_and(|b| b.to_string() == *value),
        "Username" => text(Some(&Value::String(username(event).unwrap_or_default()))),
        "AccessKeyId" => text(event.pointer("/userIdentity/accessKeyId")),
        "ResourceType" | "ResourceName" => {
            let field = if key == "ResourceType" { "type" } else { "ARN" };
            event.get("resources").and_then(Value::as_array).is_some_and(|rs| {
                rs.iter().any(|r| {
                    r.get(field).and_then(Value::as_str).is_some_and(|s| {
                        s == value || (field == "ARN" && s.rsplit(['/', ':']).next() == Some(value.as_str()))
                    })
                })
            })
        }
        _ => false,
    }
}

/// LookupEvents' Username of a record: the user's name, `root`, or the role session's name.
#[must_use]
pub fn username(event: &Value) -> Option<String> {
    let identity = event.get("userIdentity")?;
    match identity.get("type").and_then(Value::as_str)? {
        "Root" => Some("root".into()),
        "IAMUser" => identity.get("userName").and_then(Value::as_str).map(str::to_string),
        "AssumedRole" => {
            identity.get("arn").and_then(Value::as_str).and_then(|a| a.rsplit('/').next()).map(str::to_string)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
