//! Glue crawlers: definitions (their own redb table), runs (a tokio task per running crawler
//! that lists S3 targets, classifies objects, groups them into tables and writes the catalog),
//! and cron schedules.
//!
//! State machine: READY -StartCrawler-> RUNNING -StopCrawler-> STOPPING -> READY; a run ends in
//! READY with LastCrawl SUCCEEDED, CANCELLED or FAILED. Every transition is one commit; a
//! crawler found RUNNING or STOPPING at open (the process died mid-run) goes back to READY with
//! LastCrawl FAILED.

pub mod classify;
pub mod columnar;
pub mod cron;
pub mod group;
mod run;
pub mod shapes;
pub mod types;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redb::{ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tarn_objects::Objects;
use tarn_store::{Store, StoreError};

pub use shapes::*;

use crate::{Catalog, limits};

/// Crawler name -> [`Record`].
const CRAWLERS: TableDefinition<&str, &[u8]> = TableDefinition::new("glue_crawlers");
/// (crawler name, folder URL) of folders an earlier crawl has seen (CRAWL_NEW_FOLDERS_ONLY).
const CRAWLER_FOLDERS: TableDefinition<(&str, &str), ()> = TableDefinition::new("glue_crawler_folders");
/// Completed runs whose durations feed MedianRuntimeSeconds.
const RUNTIMES_KEPT: usize = 20;
/// Written into LastCrawl.ErrorMessage of a crawl a restart interrupted.
pub const INTERRUPTED: &str = "Crawl interrupted by a restart of the service.";
const LOG_GROUP: &str = "/aws-glue/crawlers";

pub type Result<T, E = CrawlerError> = std::result::Result<T, E>;

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    tarn_store::record::json_encode(value)
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    tarn_store::record::json_decode(bytes, "glue crawler")
}

fn now_secs() -> f64 {
    (tarn_common::now_unix_nanos() / 1_000_000) as f64 / 1000.0
}

/// The median of the runtimes kept (seconds; 0 with none).
fn median(runtimes: &[f64]) -> f64 {
    let mut sorted = runtimes.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => f64::midpoint(sorted[n / 2 - 1], sorted[n / 2]),
    }
}

/// Glue's `TimeLeftSeconds` and `StillEstimating` for a crawler that has run for `elapsed`
/// seconds (`None`: not running): the median of the past runs less the time already spent,
/// never below zero; with no past run to go by, or once the crawl has outlasted its median, the
/// crawler is still estimating.
fn time_left(elapsed: Option<f64>, runtimes: &[f64]) -> (f64, bool) {
    let Some(elapsed) = elapsed else { return (0.0, false) };
    if runtimes.is_empty() {
        return (0.0, true);
    }
    let left = median(runtimes) - elapsed.max(0.0);
    if left > 0.0 { ((left * 1000.0).round() / 1000.0, false) } else { (0.0, true) }
}

fn not_found(name: &str) -> CrawlerError {
    CrawlerError::EntityNotFound(format!("Crawler entry with name {name} does not exist"))
}

/// What is stored per crawler: the Glue shape plus run bookkeeping.
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
struct Record {
    crawler: Crawler,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    /// The crawl in progress.
    #[serde(default)]
    run: Option<RunInfo>,
    /// Counts of the last completed crawl.
    #[serde(default)]
    last: RunCounts,
    /// Durations (seconds) of the last completed crawls, oldest first.
    #[serde(default)]
    runtimes: Vec<f64>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
struct RunInfo {
    id: String,
    started: f64,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default)]
struct RunCounts {
    created: i32,
    updated: i32,
    deleted: i32,
}

/// Lets a running crawl be told to stop.
#[derive(Default)]
struct RunControl {
    stop: AtomicBool,
}

impl RunControl {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

struct Inner {
    catalog: Catalog,
    objects: Objects,
    store: Store,
    /// Crawls in progress in this process.
    running: Mutex<HashMap<String, Arc<RunControl>>>,
    /// The IAM directory: a crawl acts as its crawler's Role (unset in unit tests).
    iam: std::sync::OnceLock<tarn_iam::Iam>,
    /// Tests hold crawls here (before each object read) to act on a running crawl.
    #[cfg(test)]
    gate: Mutex<Option<Arc<tokio::sync::Semaphore>>>,
}

/// The crawlers of one account.
#[derive(Clone)]
pub struct Crawlers {
    inner: Arc<Inner>,
}

fn check_length(value: &str, max: usize, what: &str) -> Result<()> {
    if value.chars().count() > max {
        return Err(CrawlerError::InvalidInput(format!(
            "1 validation error detected: Value at '{what}' failed to satisfy constraint: Member must have length less than or equal to {max}"
        )));
    }
    Ok(())
}

fn check_name(name: &str, what: &str) -> Result<()> {
    if name.is_empty() || name.chars().count() > limits::NAME_MAX || name.chars().any(|c| c.is_control() && c != '\t') {
        return Err(CrawlerError::InvalidInput(format!(
            "1 validation error detected: Value '{name}' at '{what}' failed to satisfy constraint: Member must have length between 1 and 255 and match [\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\t]*"
        )));
    }
    Ok(())
}

fn parse_schedule(expression: &str) -> Result<cron::Cron> {
    cron::Cron::parse(expression).map_err(CrawlerError::InvalidInput)
}

fn check_configuration(configuration: Option<&str>) -> Result<()> {
    if let Some(c) = configuration.filter(|c| !c.trim().is_empty()) {
        match serde_json::from_str::<serde_json::Value>(c) {
            Ok(serde_json::Value::Object(_)) => {}
            _ => {
                return Err(CrawlerError::InvalidInput(
                    "Crawler configuration not valid: it must be a JSON object.".into(),
                ));
            }
        }
    }
    Ok(())
}

/// Glue requires LOG policies for crawlers that only crawl new folders.
fn check_policies(crawler: &Crawler) -> Result<()> {
    if crawler.recrawl_behavior() == RecrawlBehavior::CrawlNewFoldersOnly
        && (crawler.update_behavior() != UpdateBehavior::Log || crawler.delete_behavior() != DeleteBehavior::Log)
    {
        return Err(CrawlerError::InvalidInput(
            "The SchemaChangePolicy for \"Crawl new folders only\" Amazon S3 target can have only LOG DeleteBehavior value and LOG UpdateBehavior value.".into(),
        ));
    }
    if crawler.recrawl_behavior() == RecrawlBehavior::CrawlEventMode {
        return Err(CrawlerError::InvalidInput(
            "CRAWL_EVENT_MODE requires an event queue, which tarn does not offer.".into(),
        ));
    }
    Ok(())
}

fn token_encode(key: &str) -> String {
    key.bytes().map(|b| format!("{b:02x}")).collect()
}

fn token_decode(token: &str) -> Result<String> {
    let bad = || CrawlerError::InvalidInput("Invalid pagination token".into());
    if !token.len().is_multiple_of(2) || !token.is_ascii() {
        return Err(bad());
    }
    let bytes: Result<Vec<u8>> =
        (0..token.len()).step_by(2).map(|i| u8::from_str_radix(&token[i..i + 2], 16).map_err(|_| bad())).collect();
    String::from_utf8(bytes?).map_err(|_| bad())
}

fn page_size(max: Option<i64>, ceiling: usize, default: usize) -> Result<usize> {
    match max {
        None => Ok(default),
        Some(m) if m >= 1 && m as usize <= ceiling => Ok(m as usize),
        Some(m) => Err(CrawlerError::InvalidInput(format!(
            "1 validation error detected: Value '{m}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and {ceiling}"
        ))),
    }
}

impl Crawlers {
    /// Crawls from now on act as their crawler's Role, as the IAM directory defines it.
    pub fn set_iam(&self, iam: tarn_iam::Iam) {
        let _ = self.inner.iam.set(iam);
    }

    /// Opens the crawlers (creating their tables on first start). Crawlers a crash left
    /// RUNNING or STOPPING go back to READY with LastCrawl FAILED.
    pub async fn open(catalog: Catalog, objects: Objects) -> Result<Self> {
        let store = catalog.store().clone();
        let now = now_secs();
        let recovered = store
            .write(move |txn| {
                txn.open_table(CRAWLER_FOLDERS)?;
                let mut t = txn.open_table(CRAWLERS)?;
                let mut stale: Vec<Record> = Vec::new();
                for entry in t.iter()? {
                    let (_, v) = entry?;
                    let rec: Record = decode(v.value())?;
                    if rec.crawler.state != CrawlerState::Ready {
                        stale.push(rec);
                    }
                }
                let names: Vec<String> = stale.iter().map(|r| r.crawler.name.clone()).collect();
                for mut rec in stale {
                    let run = rec.run.take().unwrap_or_default();
                    rec.crawler.state = CrawlerState::Ready;
                    rec.crawler.last_crawl = Some(LastCrawlInfo {
                        status: LastCrawlStatus::Failed,
                        error_message: Some(INTERRUPTED.into()),
                        log_group: Some(LOG_GROUP.into()),
                        log_stream: Some(rec.crawler.name.clone()),
                        message_prefix: Some(run.id),
                        start_time: Some(if run.started > 0.0 { run.started } else { now }),
                    });
                    t.insert(rec.crawler.name.as_str(), encode(&rec).as_slice())?;
                }
                Ok(names)
            })
            .await?;
        for name in recovered {
            tracing::warn!(crawler = %name, "crawl interrupted by a restart; crawler is READY again");
        }
        Ok(Self {
            inner: Arc::new(Inner {
                catalog,
                objects,
                store,
                running: Mutex::new(HashMap::new()),
                iam: std::sync::OnceLock::new(),
                #[cfg(test)]
                gate: Mutex::new(None),
            }),
        })
    }

    #[must_use]
    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    /// Where a crawl waits while a test holds it.
    async fn pause_point(&self) {
        #[cfg(test)]
        {
            let gate = self.inner.gate.lock().expect("gate lock").clone();
            if let Some(gate) = gate {
                let _permit = gate.acquire().await;
            }
        }
    }

    fn read_record(&self, name: &str) -> Result<Record> {
        let txn = self.inner.store.read()?;
        let t = txn.open_table(CRAWLERS)?;
        let v = t.get(name)?.ok_or_else(|| not_found(name))?;
        Ok(decode(v.value())?)
    }

    /// Runs `f` on the stored record of `name` in one commit; `f` may refuse with an error.
    async fn modify<R, F>(&self, name: &str, f: F) -> Result<R>
    where
        F: FnOnce(&mut Record) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let name = name.to_string();
        self.inner
            .store
            .write(move |txn| {
                let mut t = txn.open_table(CRAWLERS)?;
                let mut rec: Record = match t.get(name.as_str())? {
                    Some(v) => decode(v.value())?,
                    None => return Ok(Err(not_found(&name))),
                };
                #[cfg(debug_assertions)]
                let before = encode(&rec);
                let out = match f(&mut rec) {
                    Ok(out) => out,
                    Err(e) => {
                        // a refusal decides before it changes: nothing is written, and the
                        // record must say so too (a half-applied change would be a bug waiting
                        // for the day the record is written anyway)
                        #[cfg(debug_assertions)]
                        debug_assert!(before == encode(&rec), "a crawler change refused ({e}) but altered the record");
                        return Ok(Err(e));
                    }
                };
                t.insert(name.as_str(), encode(&rec).as_slice())?;
                Ok(Ok(out))
            })
            .await?
    }

    /// The crawler as Glue shows it (CrawlElapsedTime computed now).
    fn view(rec: Record) -> Crawler {
        let mut c = rec.crawler;
        c.crawl_elapsed_time = match (&rec.run, c.state) {
            (Some(run), CrawlerState::Running | CrawlerState::Stopping) => {
                ((now_secs() - run.started) * 1000.0).max(0.0) as i64
            }
            _ => 0,
        };
        c
    }

    // ---- definitions ---------------------------------------------------------------------

    pub async fn create_crawler(&self, req: CreateCrawlerRequest) -> Result<()> {
        check_name(&req.name, "name")?;
        if req.role.is_empty() {
            return Err(CrawlerError::InvalidInput("Role is required.".into()));
        }
        if let Some(db) = &req.database_name {
            check_name(db, "databaseName")?;
        }
        check_length(req.description.as_deref().unwrap_or_default(), 2048, "description")?;
        check_length(req.table_prefix.as_deref().unwrap_or_default(), 128, "tablePrefix")?;
        req.targets.check()?;
        check_configuration(req.configuration.as_deref())?;
        if req.tags.len() > 50 {
            return Err(CrawlerError::InvalidInput("A crawler can have at most 50 tags.".into()));
        }
        let schedule = match req.schedule.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(expr) => {
                parse_schedule(expr)?;
                Some(Schedule { schedule_expression: Some(expr.to_string()), state: Some(ScheduleState::Scheduled) })
            }
            None => None,
        };
        let now = now_secs();
        let recrawl = req.recrawl_policy.unwrap_or_default().recrawl_behavior.unwrap_or_default();
        // new-folders-only crawlers default to (and must have) LOG policies
        let log_default = recrawl == RecrawlBehavior::CrawlNewFoldersOnly;
        let policy = req.schema_change_policy.unwrap_or_default();
        let crawler = Crawler {
            name: req.name.clone(),
            role: Some(req.role),
            targets: req.targets,
            database_name: req.database_name,
            description: req.description,
            classifiers: req.classifiers,
            recrawl_policy: Some(RecrawlPolicy { recrawl_behavior: Some(recrawl) }),
            schema_change_policy: Some(SchemaChangePolicy {
                update_behavior: Some(policy.update_behavior.unwrap_or(if log_default {
                    UpdateBehavior::Log
                } else {
                    UpdateBehavior::UpdateInDatabase
                })),
                delete_behavior: Some(policy.delete_behavior.unwrap_or(if log_default {
                    DeleteBehavior::Log
                } else {
                    DeleteBehavior::DeprecateInDatabase
                })),
            }),
            lineage_configuration: Some(
                req.lineage_configuration.unwrap_or_else(|| serde_json::json!({"CrawlerLineageSettings": "DISABLE"})),
            ),
            state: CrawlerState::Ready,
            table_prefix: req.table_prefix,
            schedule,
            crawl_elapsed_time: 0,
            creation_time: Some(now),
            last_updated: Some(now),
            last_crawl: None,
            version: 1,
            configuration: req.configuration,
            crawler_security_configuration: req.crawler_security_configuration,
            lake_formation_configuration: Some(
                req.lake_formation_configuration
                    .unwrap_or_else(|| serde_json::json!({"UseLakeFormationCredentials": false, "AccountId": ""})),
            ),
            extra: req.extra,
        };
        check_policies(&crawler)?;
        let rec = Record { crawler, tags: req.tags, ..Record::default() };
        let name = req.name;
        self.inner
            .store
            .write(move |txn| {
                let mut t = txn.open_table(CRAWLERS)?;
                if t.get(name.as_str())?.is_some() {
                    return Ok(Err(CrawlerError::AlreadyExists(format!("Crawler with name {name} already exists"))));
                }
                t.insert(name.as_str(), encode(&rec).as_slice())?;
                Ok(Ok(()))
            })
            .await?
    }

    pub fn get_crawler(&self, name: &str) -> Result<Crawler> {
        Ok(Self::view(self.read_record(name)?))
    }

    /// Records in name order after `after`, at most `max`, keeping those `keep` accepts; the
    /// token is set when more may follow.
    fn scan(
        &self,
        after: Option<&str>,
        max: usize,
        keep: impl Fn(&Record) -> bool,
    ) -> Result<(Vec<Record>, Option<String>)> {
        let txn = self.inner.store.read()?;
        let t = txn.open_table(CRAWLERS)?;
        let iter = match after {
            Some(a) => t.range::<&str>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded))?,
            None => t.range::<&str>(..)?,
        };
        let mut out: Vec<Record> = Vec::new();
        for entry in iter {
            let (_, v) = entry?;
            let rec: Record = decode(v.value())?;
            if !keep(&rec) {
                continue;
            }
            if out.len() == max {
                let last = out.last().map(|r| r.crawler.name.clone()).unwrap_or_default();
                return Ok((out, Some(token_encode(&last))));
            }
            out.push(rec);
        }
        Ok((out, None))
    }

    pub fn get_crawlers(&self, req: GetCrawlersRequest) -> Result<GetCrawlersResponse> {
        let max = page_size(req.max_results, 1000, 100)?;
        let after = req.next_token.as_deref().map(token_decode).transpose()?;
        let (recs, next_token) = self.scan(after.as_deref(), max, |_| true)?;
        Ok(GetCrawlersResponse { crawlers: recs.into_iter().map(Self::view).collect(), next_token })
    }

    pub fn list_crawlers(&self, req: ListCrawlersRequest) -> Result<ListCrawlersResponse> {
        let max = page_size(req.max_results, 1000, 100)?;
        let after = req.next_token.as_deref().map(token_decode).transpose()?;
        let tags = req.tags;
        let (recs, next_token) =
            self.scan(after.as_deref(), max, |r| tags.iter().all(|(k, v)| r.tags.get(k) == Some(v)))?;
        Ok(ListCrawlersResponse { crawler_names: recs.into_iter().map(|r| r.crawler.name).collect(), next_token })
    }

    pub fn batch_get_crawlers(&self, req: BatchGetCrawlersRequest) -> Result<BatchGetCrawlersResponse> {
        if req.crawler_names.len() > limits::CRAWLER_NAMES_MAX {
            return Err(CrawlerError::InvalidInput(format!(
                "at most {} crawler names at once",
                limits::CRAWLER_NAMES_MAX
            )));
        }
        let mut out = BatchGetCrawlersResponse::default();
        for name in req.crawler_names {
            match self.read_record(&name) {
                Ok(rec) => out.crawlers.push(Self::view(rec)),
                Err(CrawlerError::EntityNotFound(_)) => out.crawlers_not_found.push(name),
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The crawler's tags (as CreateCrawler set them).
    pub fn crawler_tags(&self, name: &str) -> Result<BTreeMap<String, String>> {
        Ok(self.read_record(name)?.tags)
    }

    pub async fn update_crawler(&self, req: UpdateCrawlerRequest) -> Result<()> {
        check_name(&req.name, "name")?;
        if let Some(t) = &req.targets {
            t.check()?;
        }
        if let Some(db) = &req.database_name {
            check_name(db, "databaseName")?;
        }
        check_length(req.description.as_deref().unwrap_or_default(), 2048, "description")?;
        check_length(req.table_prefix.as_deref().unwrap_or_default(), 128, "tablePrefix")?;
        check_configuration(req.configuration.as_deref())?;
        let schedule = match req.schedule.as_deref().map(str::trim) {
            Some("") => Some(None),
            Some(expr) => {
                parse_schedule(expr)?;
                Some(Some(expr.to_string()))
            }
            None => None,
        };
        let name = req.name.clone();
        self.modify(&name, move |rec| {
            let c = &mut rec.crawler;
            if c.state != CrawlerState::Ready {
                return Err(CrawlerError::CrawlerRunning(format!("Crawler with name {} has already started", c.name)));
            }
            let mut next = c.clone();
            if let Some(v) = req.role {
                next.role = Some(v);
            }
            if let Some(v) = req.database_name {
                next.database_name = Some(v);
            }
            if let Some(v) = req.description {
                next.description = (!v.is_empty()).then_some(v);
            }
            if let Some(v) = req.targets {
                next.targets = v;
            }
            if let Some(v) = req.classifiers {
                next.classifiers = v;
            }
            if let Some(v) = req.table_prefix {
                next.table_prefix = Some(v);
            }
            if let Some(v) = req.schema_change_policy {
                let old = next.schema_change_policy.unwrap_or_default();
                next.schema_change_policy = Some(SchemaChangePolicy {
                    update_behavior: v.update_behavior.or(old.update_behavior),
                    delete_behavior: v.delete_behavior.or(old.delete_behavior),
                });
            }
            if let Some(v) = req.recrawl_policy {
                next.recrawl_policy = Some(v);
            }
            if let Some(v) = req.lineage_configuration {
                next.lineage_configuration = Some(v);
            }
            if let Some(v) = req.lake_formation_configuration {
                next.lake_formation_configuration = Some(v);
            }
            if let Some(v) = req.configuration {
                next.configuration = (!v.is_empty()).then_some(v);
            }
            if let Some(v) = req.crawler_security_configuration {
                next.crawler_security_configuration = Some(v);
            }
            match schedule {
                Some(None) => next.schedule = None,
                Some(Some(expr)) => {
                    next.schedule =
                        Some(Schedule { schedule_expression: Some(expr), state: Some(ScheduleState::Scheduled) });
                }
                None => {}
            }
            next.extra.extend(req.extra);
            check_policies(&next)?;
            next.version += 1;
            next.last_updated = Some(now_secs());
            *c = next;
            Ok(())
        })
        .await
    }

    pub async fn delete_crawler(&self, name: &str) -> Result<()> {
        let name = name.to_string();
        self.inner
            .store
            .write(move |txn| {
                let mut t = txn.open_table(CRAWLERS)?;
                let rec: Record = match t.get(name.as_str())? {
                    Some(v) => decode(v.value())?,
                    None => return Ok(Err(not_found(&name))),
                };
                if rec.crawler.state != CrawlerState::Ready {
                    return Ok(Err(CrawlerError::CrawlerRunning(format!(
                        "Crawler with name {name} is running and cannot be deleted"
                    ))));
                }
                t.remove(name.as_str())?;
                let mut folders = txn.open_table(CRAWLER_FOLDERS)?;
                let keys: Vec<String> = folders
                    .range((name.as_str(), "")..)?
                    .map_while(|e| e.ok())
                    .take_while(|(k, _)| k.value().0 == name)
                    .map(|(k, _)| k.value().1.to_string())
                    .collect();
                for k in keys {
                    folders.remove((name.as_str(), k.as_str()))?;
                }
                Ok(Ok(()))
            })
            .await?
    }

    // ---- runs ----------------------------------------------------------------------------

    /// Starts a crawl in a background task; CrawlerRunningException unless READY.
    pub async fn start_crawler(&self, name: &str) -> Result<()> {
        let running = || CrawlerError::CrawlerRunning(format!("Crawler with name {name} has already started"));
        let control = Arc::new(RunControl::default());
        {
            let mut map = self.inner.running.lock().expect("crawler registry lock");
            if map.contains_key(name) {
                return Err(running());
            }
            map.insert(name.to_string(), control.clone());
        }
        let run = RunInfo { id: run_id(), started: now_secs() };
        let info = run.clone();
        let started = self
            .modify(name, move |rec| {
                if rec.crawler.state != CrawlerState::Ready {
                    return Err(CrawlerError::CrawlerRunning(format!(
                        "Crawler with name {} has already started",
                        rec.crawler.name
                    )));
                }
                rec.crawler.state = CrawlerState::Running;
                rec.run = Some(info);
                Ok(rec.crawler.clone())
            })
            .await;
        let crawler = match started {
            Ok(c) => c,
            Err(e) => {
                self.inner.running.lock().expect("crawler registry lock").remove(name);
                return Err(e);
            }
        };
        tracing::info!(crawler = %name, run = %run.id, "crawl started");
        let this = self.clone();
        tokio::spawn(async move { this.supervise(crawler, run, control).await });
        Ok(())
    }

    /// Runs one crawl to its end and records the outcome.
    async fn supervise(self, crawler: Crawler, run: RunInfo, control: Arc<RunControl>) {
        let name = crawler.name.clone();
        let seen = match self.seen_folders(&name) {
            Ok(s) => s,
            Err(e) => {
                self.finish(&name, &run, Err(run::Failure::Failed(e.to_string()))).await;
                return;
            }
        };
        let this = self.clone();
        let task_control = control.clone();
        let task_run = run.id.clone();
        let task = tokio::spawn(async move { run::crawl(&this, &crawler, &task_control, &task_run, &seen).await });
        let outcome = match task.await {
            Ok(outcome) => outcome,
            Err(e) => Err(run::Failure::Failed(format!("Internal error: the crawl task failed: {e}"))),
        };
        self.finish(&name, &run, outcome).await;
    }

    fn seen_folders(&self, name: &str) -> Result<HashSet<String>> {
        let txn = self.inner.store.read()?;
        let t = txn.open_table(CRAWLER_FOLDERS)?;
        let mut out = HashSet::new();
        for entry in t.range((name, "")..)? {
            let (k, _) = entry?;
            let (crawler, folder) = k.value();
            if crawler != name {
                break;
            }
            out.insert(folder.to_string());
        }
        Ok(out)
    }

    async fn finish(&self, name: &str, run: &RunInfo, outcome: Result<run::Summary, run::Failure>) {
        // leave the registry first: a start racing this commit sees RUNNING in the record
        self.inner.running.lock().expect("crawler registry lock").remove(name);
        let runtime = (now_secs() - run.started).max(0.0);
        let (status, error, counts, folders) = match outcome {
            Ok(s) => {
                let counts = RunCounts { created: s.created, updated: s.updated, deleted: s.deleted };
                (LastCrawlStatus::Succeeded, None, counts, s.folders)
            }
            Err(run::Failure::Cancelled(partial)) => {
                let counts = RunCounts { created: partial.created, updated: partial.updated, deleted: partial.deleted };
                (LastCrawlStatus::Cancelled, None, counts, Vec::new())
            }
            Err(run::Failure::Failed(msg)) => (LastCrawlStatus::Failed, Some(msg), RunCounts::default(), Vec::new()),
        };
        match status {
            LastCrawlStatus::Failed => tracing::warn!(crawler = %name, run = %run.id, error = ?error, "crawl failed"),
            _ => {
                tracing::info!(crawler = %name, run = %run.id, ?status, created = counts.created, updated = counts.updated, deleted = counts.deleted, runtime, "crawl ended")
            }
        }
        let info = LastCrawlInfo {
            status,
            // Glue's DescriptionString: at most 2048 characters
            error_message: error.map(|e| e.chars().take(2048).collect()),
            log_group: Some(LOG_GROUP.into()),
            log_stream: Some(name.to_string()),
            message_prefix: Some(run.id.clone()),
            start_time: Some(run.started),
        };
        let key = name.to_string();
        let result = self
            .inner
            .store
            .write(move |txn| {
                let mut t = txn.open_table(CRAWLERS)?;
                let Some(v) = t.get(key.as_str())? else { return Ok(()) };
                let mut rec: Record = decode(v.value())?;
                drop(v);
                rec.crawler.state = CrawlerState::Ready;
                rec.crawler.last_crawl = Some(info);
                rec.run = None;
                rec.last = counts;
                rec.runtimes.push(runtime);
                if rec.runtimes.len() > RUNTIMES_KEPT {
                    rec.runtimes.remove(0);
                }
                t.insert(key.as_str(), encode(&rec).as_slice())?;
                let mut seen = txn.open_table(CRAWLER_FOLDERS)?;
                for f in &folders {
                    seen.insert((key.as_str(), f.as_str()), ())?;
                }
                Ok(())
            })
            .await;
        if let Err(e) = result {
            // the record stays RUNNING; the next start of the process repairs it
            tracing::error!(crawler = %name, error = %e, "could not record the end of a crawl");
        }
    }

    /// Asks a running crawl to stop: RUNNING -> STOPPING; the crawl ends CANCELLED at its next
    /// check.
    pub async fn stop_crawler(&self, name: &str) -> Result<()> {
        self.modify(name, |rec| match rec.crawler.state {
            CrawlerState::Ready => {
                Err(CrawlerError::CrawlerNotRunning(format!("Crawler with name {} has not started", rec.crawler.name)))
            }
            CrawlerState::Stopping => Err(CrawlerError::CrawlerStopping(format!(
                "Crawler with name {} is already stopping",
                rec.crawler.name
            ))),
            CrawlerState::Running => {
                rec.crawler.state = CrawlerState::Stopping;
                Ok(())
            }
        })
        .await?;
        if let Some(control) = self.inner.running.lock().expect("crawler registry lock").get(name) {
            control.stop.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    pub fn get_crawler_metrics(&self, req: GetCrawlerMetricsRequest) -> Result<GetCrawlerMetricsResponse> {
        let max = page_size(req.max_results, 1000, 100)?;
        if req.crawler_name_list.len() > limits::CRAWLER_NAMES_MAX {
            return Err(CrawlerError::InvalidInput(format!(
                "at most {} crawler names at once",
                limits::CRAWLER_NAMES_MAX
            )));
        }
        let after = req.next_token.as_deref().map(token_decode).transpose()?;
        let wanted: HashSet<String> = req.crawler_name_list.into_iter().collect();
        let (recs, next_token) =
            self.scan(after.as_deref(), max, |r| wanted.is_empty() || wanted.contains(&r.crawler.name))?;
        let now = now_secs();
        let crawler_metrics_list = recs
            .into_iter()
            .map(|r| {
                let median = median(&r.runtimes);
                let running = r.crawler.state != CrawlerState::Ready;
                let (time_left_seconds, still_estimating) =
                    time_left(running.then(|| r.run.as_ref().map_or(0.0, |run| now - run.started)), &r.runtimes);
                CrawlerMetrics {
                    crawler_name: r.crawler.name,
                    time_left_seconds,
                    still_estimating,
                    last_runtime_seconds: r.runtimes.last().copied().unwrap_or(0.0),
                    median_runtime_seconds: median,
                    tables_created: r.last.created,
                    tables_updated: r.last.updated,
                    tables_deleted: r.last.deleted,
                }
            })
            .collect();
        Ok(GetCrawlerMetricsResponse { crawler_metrics_list, next_token })
    }

    // ---- schedules -----------------------------------------------------------------------

    /// Sets (or, with an empty expression, removes) the crawler's schedule.
    pub async fn update_crawler_schedule(&self, name: &str, schedule: Option<&str>) -> Result<()> {
        let expr = schedule.map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        if let Some(e) = &expr {
            parse_schedule(e)?;
        }
        self.modify(name, move |rec| {
            let c = &mut rec.crawler;
            c.schedule = expr.map(|e| Schedule {
                schedule_expression: Some(e),
                state: Some(c.schedule.as_ref().and_then(|s| s.state).unwrap_or(ScheduleState::Scheduled)),
            });
            c.version += 1;
            c.last_updated = Some(now_secs());
            Ok(())
        })
        .await
    }

    pub async fn start_crawler_schedule(&self, name: &str) -> Result<()> {
        self.modify(name, |rec| {
            let n = rec.crawler.name.clone();
            match &mut rec.crawler.schedule {
                Some(s) if s.schedule_expression.is_some() => match s.state {
                    Some(ScheduleState::Scheduled) => {
                        Err(CrawlerError::SchedulerRunning(format!("Schedule of crawler {n} is already running")))
                    }
                    Some(ScheduleState::Transitioning) => {
                        Err(CrawlerError::SchedulerTransitioning(format!("Schedule of crawler {n} is transitioning")))
                    }
                    _ => {
                        s.state = Some(ScheduleState::Scheduled);
                        Ok(())
                    }
                },
                _ => Err(CrawlerError::NoSchedule(format!("Crawler {n} has no schedule"))),
            }
        })
        .await
    }

    pub async fn stop_crawler_schedule(&self, name: &str) -> Result<()> {
        self.modify(name, |rec| {
            let n = rec.crawler.name.clone();
            match &mut rec.crawler.schedule {
                Some(s) if s.state == Some(ScheduleState::Scheduled) => {
                    s.state = Some(ScheduleState::NotScheduled);
                    Ok(())
                }
                Some(s) if s.state == Some(ScheduleState::Transitioning) => {
                    Err(CrawlerError::SchedulerTransitioning(format!("Schedule of crawler {n} is transitioning")))
                }
                _ => Err(CrawlerError::SchedulerNotRunning(format!("Schedule of crawler {n} is not running"))),
            }
        })
        .await
    }

    /// Starts every scheduled crawler with a fire time in `(from, to]` (Unix seconds) that is
    /// not already running; returns the names started.
    pub async fn start_due(&self, from: i64, to: i64) -> Result<Vec<String>> {
        let (recs, _) = self.scan(None, usize::MAX, |r| r.crawler.is_scheduled())?;
        let mut started = Vec::new();
        for rec in recs {
            let Some(expr) = rec.crawler.schedule_expression() else { continue };
            let Ok(cron) = cron::Cron::parse(expr) else { continue };
            if cron.next_after(from).is_none_or(|t| t > to) {
                continue;
            }
            match self.start_crawler(&rec.crawler.name).await {
                Ok(()) => started.push(rec.crawler.name.clone()),
                Err(CrawlerError::CrawlerRunning(_)) => {
                    tracing::info!(crawler = %rec.crawler.name, "scheduled crawl skipped: the crawler is still running");
                }
                Err(e) => tracing::warn!(crawler = %rec.crawler.name, error = %e, "scheduled crawl did not start"),
            }
        }
        Ok(started)
    }

    /// The scheduler: wakes at each minute boundary and starts the crawlers due. Spawn it
    /// once per process; it never returns.
    pub async fn run_scheduler(self) {
        let now = || tarn_common::now_unix_nanos().div_euclid(1_000_000_000);
        let mut last = now();
        loop {
            let nanos = tarn_common::now_unix_nanos();
            let into_minute = nanos.rem_euclid(60_000_000_000);
            // a little past the boundary, so the clock reads the new minute
            let wait = Duration::from_nanos((60_000_000_000 - into_minute) as u64) + Duration::from_millis(50);
            tokio::time::sleep(wait).await;
            let current = now();
            if let Err(e) = self.start_due(last, current).await {
                tracing::warn!(error = %e, "crawler scheduler could not read the crawlers");
            }
            last = current;
        }
    }
}

/// A run id, as Glue's LastCrawl.MessagePrefix (a UUID).
fn run_id() -> String {
    let n = tarn_common::now_unix_nanos() as u128;
    let r: u128 = (n.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)) ^ u128::from(std::process::id());
    let h = format!("{r:032x}");
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

#[cfg(test)]
mod tests;
