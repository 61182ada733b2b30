//! Crawler shapes as Glue's JSON API spells them (botocore `glue` model), and the crawler
//! errors with their Glue exception names.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tarn_store::StoreError;

use crate::CatalogError;

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct S3Target {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default)]
    pub exclusions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_name: Option<String>,
    /// Files crawled per leaf folder (1-249); all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_size: Option<i32>,
    /// EventQueueArn, DlqEventQueueArn: kept, not used.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Targets; only S3 targets are crawled, the others are kept and returned as given.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct CrawlerTargets {
    #[serde(rename = "S3Targets", default)]
    pub s3_targets: Vec<S3Target>,
    #[serde(rename = "JdbcTargets", default)]
    pub jdbc_targets: Vec<Value>,
    #[serde(rename = "MongoDBTargets", default)]
    pub mongo_db_targets: Vec<Value>,
    #[serde(rename = "DynamoDBTargets", default)]
    pub dynamo_db_targets: Vec<Value>,
    #[serde(rename = "CatalogTargets", default)]
    pub catalog_targets: Vec<Value>,
    #[serde(rename = "DeltaTargets", default)]
    pub delta_targets: Vec<Value>,
    #[serde(rename = "IcebergTargets", default)]
    pub iceberg_targets: Vec<Value>,
    #[serde(rename = "HudiTargets", default)]
    pub hudi_targets: Vec<Value>,
}

impl CrawlerTargets {
    fn is_empty(&self) -> bool {
        self.s3_targets.is_empty()
            && self.jdbc_targets.is_empty()
            && self.mongo_db_targets.is_empty()
            && self.dynamo_db_targets.is_empty()
            && self.catalog_targets.is_empty()
            && self.delta_targets.is_empty()
            && self.iceberg_targets.is_empty()
            && self.hudi_targets.is_empty()
    }

    pub(crate) fn check(&self) -> Result<(), CrawlerError> {
        if self.is_empty() {
            return Err(CrawlerError::InvalidInput("Crawler targets cannot be empty.".into()));
        }
        for t in &self.s3_targets {
            let path = t.path.as_deref().unwrap_or_default();
            if super::group::S3Path::parse(path).is_none() {
                return Err(CrawlerError::InvalidInput(format!("Invalid S3 target path: {path}")));
            }
            if let Some(n) = t.sample_size
                && !(1..=249).contains(&n)
            {
                return Err(CrawlerError::InvalidInput(format!(
                    "Sample size {n} is invalid: it must be between 1 and 249."
                )));
            }
            super::group::Exclusions::new(&t.exclusions).map_err(CrawlerError::InvalidInput)?;
        }
        Ok(())
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UpdateBehavior {
    Log,
    #[default]
    UpdateInDatabase,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeleteBehavior {
    Log,
    DeleteFromDatabase,
    #[default]
    DeprecateInDatabase,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RecrawlBehavior {
    #[default]
    CrawlEverything,
    CrawlNewFoldersOnly,
    CrawlEventMode,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CrawlerState {
    #[default]
    Ready,
    Running,
    Stopping,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScheduleState {
    Scheduled,
    NotScheduled,
    Transitioning,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LastCrawlStatus {
    Succeeded,
    Cancelled,
    Failed,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct SchemaChangePolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_behavior: Option<UpdateBehavior>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_behavior: Option<DeleteBehavior>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct RecrawlPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recrawl_behavior: Option<RecrawlBehavior>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Schedule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_expression: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ScheduleState>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct LastCrawlInfo {
    pub status: LastCrawlStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_stream: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_prefix: Option<String>,
    /// Epoch seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<f64>,
}

/// A crawler as GetCrawler returns it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Crawler {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default)]
    pub targets: CrawlerTargets,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub classifiers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recrawl_policy: Option<RecrawlPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_change_policy: Option<SchemaChangePolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage_configuration: Option<Value>,
    #[serde(default)]
    pub state: CrawlerState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    /// Milliseconds since the running crawl began (0 when not running).
    #[serde(default)]
    pub crawl_elapsed_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_crawl: Option<LastCrawlInfo>,
    #[serde(default)]
    pub version: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crawler_security_configuration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lake_formation_configuration: Option<Value>,
    /// Members tarn keeps but does not interpret (CatalogId, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Crawler {
    #[must_use]
    pub fn update_behavior(&self) -> UpdateBehavior {
        self.schema_change_policy.and_then(|p| p.update_behavior).unwrap_or_default()
    }

    #[must_use]
    pub fn delete_behavior(&self) -> DeleteBehavior {
        self.schema_change_policy.and_then(|p| p.delete_behavior).unwrap_or_default()
    }

    #[must_use]
    pub fn recrawl_behavior(&self) -> RecrawlBehavior {
        self.recrawl_policy.and_then(|p| p.recrawl_behavior).unwrap_or_default()
    }

    #[must_use]
    pub fn schedule_expression(&self) -> Option<&str> {
        self.schedule.as_ref().and_then(|s| s.schedule_expression.as_deref())
    }

    #[must_use]
    pub fn is_scheduled(&self) -> bool {
        self.schedule.as_ref().is_some_and(|s| s.state == Some(ScheduleState::Scheduled))
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct CreateCrawlerRequest {
    pub name: String,
    #[serde(default)]
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub targets: CrawlerTargets,
    /// A cron expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    #[serde(default)]
    pub classifiers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_change_policy: Option<SchemaChangePolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recrawl_policy: Option<RecrawlPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage_configuration: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lake_formation_configuration: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crawler_security_configuration: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// UpdateCrawler: members given replace the crawler's; an empty Description removes it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateCrawlerRequest {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<CrawlerTargets>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classifiers: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_change_policy: Option<SchemaChangePolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recrawl_policy: Option<RecrawlPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage_configuration: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lake_formation_configuration: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crawler_security_configuration: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct GetCrawlersRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_results: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct GetCrawlersResponse {
    pub crawlers: Vec<Crawler>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ListCrawlersRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_results: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// Only crawlers carrying all these tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ListCrawlersResponse {
    pub crawler_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct BatchGetCrawlersRequest {
    pub crawler_names: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct BatchGetCrawlersResponse {
    pub crawlers: Vec<Crawler>,
    pub crawlers_not_found: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct GetCrawlerMetricsRequest {
    #[serde(default)]
    pub crawler_name_list: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_results: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct CrawlerMetrics {
    pub crawler_name: String,
    pub time_left_seconds: f64,
    pub still_estimating: bool,
    pub last_runtime_seconds: f64,
    pub median_runtime_seconds: f64,
    pub tables_created: i32,
    pub tables_updated: i32,
    pub tables_deleted: i32,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct GetCrawlerMetricsResponse {
    pub crawler_metrics_list: Vec<CrawlerMetrics>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CrawlerError {
    #[error("{0}")]
    EntityNotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    CrawlerRunning(String),
    #[error("{0}")]
    CrawlerNotRunning(String),
    #[error("{0}")]
    CrawlerStopping(String),
    #[error("{0}")]
    SchedulerTransitioning(String),
    #[error("{0}")]
    SchedulerRunning(String),
    #[error("{0}")]
    SchedulerNotRunning(String),
    #[error("{0}")]
    NoSchedule(String),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

tarn_store::from_redb_errors!(CrawlerError, CrawlerError::Store);
