//! Trails: where and which records are delivered, kept in `cloudtrail_trails` (JSON rows), and
//! the event selectors that choose the records.

use std::collections::BTreeMap;

use redb::{ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use tarn_store::{Store, StoreError};

use crate::{Audit, AuditError, Result};

const TRAILS: TableDefinition<&str, &[u8]> = TableDefinition::new("cloudtrail_trails");
/// Trails a region may have (AWS: 5).
pub const TRAILS_PER_REGION_MAX: usize = 5;

/// One basic event selector, as CloudTrail's `EventSelector`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct EventSelector {
    /// `All`, `ReadOnly` or `WriteOnly`.
    pub read_write_type: String,
    pub include_management_events: bool,
    /// (resource type, values): `AWS::S3::Object` with `arn:aws:s3` or `arn:aws:s3:::bucket/prefix`.
    pub data_resources: Vec<(String, Vec<String>)>,
    pub exclude_management_event_sources: Vec<String>,
}

impl Default for EventSelector {
    fn default() -> Self {
        Self {
            read_write_type: "All".into(),
            include_management_events: true,
            data_resources: Vec::new(),
            exclude_management_event_sources: Vec::new(),
        }
    }
}

impl EventSelector {
    /// Whether this selector takes a record.
    #[must_use]
    pub fn takes(&self, event: &Facets<'_>) -> bool {
        let rw = match self.read_write_type.as_str() {
            "ReadOnly" => event.read_only,
            "WriteOnly" => !event.read_only,
            _ => true,
        };
        if !rw {
            return false;
        }
        if event.management_event {
            return self.include_management_events
                && !self.exclude_management_event_sources.iter().any(|s| *s == event.event_source);
        }
        self.data_resources.iter().any(|(kind, values)| {
            event.resources.iter().any(|r| {
                r.kind == kind.as_str()
                    && values.iter().any(|v| v == "arn:aws:s3" || v == "arn:aws:s3:::" || r.arn.starts_with(v.as_str()))
            })
        })
    }
}

/// The members of a record that selectors and file names read, parsed from its JSON without
/// building the rest (a trail delivering data events reads every call again).
#[derive(Deserialize, Debug)]
pub struct Facets<'a> {
    #[serde(rename = "readOnly", default)]
    pub read_only: bool,
    #[serde(rename = "managementEvent", default = "yes")]
    pub management_event: bool,
    #[serde(rename = "eventSource", borrow, default)]
    pub event_source: std::borrow::Cow<'a, str>,
    #[serde(rename = "eventTime", borrow, default)]
    pub event_time: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    pub resources: Vec<ResourceFacet<'a>>,
}

/// A record's resource, as [`Facets`] reads it.
#[derive(Deserialize, Debug)]
pub struct ResourceFacet<'a> {
    #[serde(rename = "type", borrow, default)]
    pub kind: std::borrow::Cow<'a, str>,
    #[serde(rename = "ARN", borrow, default)]
    pub arn: std::borrow::Cow<'a, str>,
}

fn yes() -> bool {
    true
}

impl<'a> Facets<'a> {
    /// The facets of a record's JSON bytes.
    pub fn parse(json: &'a [u8]) -> Result<Self> {
        serde_json::from_slice(json).map_err(|e| StoreError::Corrupt(format!("an audit record: {e}")).into())
    }
}

/// A trail as kept.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Trail {
    pub name: String,
    pub account: String,
    pub region: String,
    pub bucket: String,
    pub prefix: Option<String>,
    pub multi_region: bool,
    pub include_global: bool,
    pub log_file_validation: bool,
    pub kms_key_id: Option<String>,
    pub logging: bool,
    pub custom_selectors: bool,
    pub selectors: Vec<EventSelector>,
    pub tags: BTreeMap<String, String>,
    /// Unix milliseconds of the last StartLogging / StopLogging.
    pub started_ms: Option<i64>,
    pub stopped_ms: Option<i64>,
    /// The next record to deliver.
    pub checkpoint: u64,
    pub last_delivery_ms: Option<i64>,
    pub last_delivery_error: Option<String>,
    pub latest_delivery_attempt_ms: Option<i64>,
}

impl Trail {
    #[must_use]
    pub fn arn(&self) -> String {
        format!("arn:aws:cloudtrail:{}:{}:trail/{}", self.region, self.account, self.name)
    }

    /// Whether the trail delivers a record.
    #[must_use]
    pub fn takes(&self, event: &Facets<'_>) -> bool {
        self.selectors.iter().any(|s| s.takes(event))
    }
}

/// What CreateTrail asks for.
#[derive(Clone, Debug, Default)]
pub struct NewTrail {
    pub name: String,
    pub bucket: String,
    pub prefix: Option<String>,
    pub multi_region: bool,
    pub include_global: bool,
    pub log_file_validation: bool,
    pub kms_key_id: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// GetTrailStatus.
#[derive(Clone, Debug)]
pub struct TrailStatus {
    pub logging: bool,
    pub started_ms: Option<i64>,
    pub stopped_ms: Option<i64>,
    pub last_delivery_ms: Option<i64>,
    pub last_delivery_error: Option<String>,
    pub latest_delivery_attempt_ms: Option<i64>,
}

pub(crate) fn load(store: &Store) -> Result<BTreeMap<String, Trail>> {
    let txn = store.read()?;
    let table = match txn.open_table(TRAILS) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(BTreeMap::new()),
        Err(e) => return Err(StoreError::from(e).into()),
    };
    let mut out = BTreeMap::new();
    for row in table.iter()? {
        let (k, v) = row?;
        let trail: Trail =
            serde_json::from_slice(v.value()).map_err(|e| StoreError::Corrupt(format!("trail {}: {e}", k.value())))?;
        out.insert(k.value().to_string(), trail);
    }
    Ok(out)
}

/// CloudTrail's naming rules for a trail.
fn check_name(name: &str) -> Result<()> {
    let ok_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    let edges = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
    let doubled = ["..", "._", "-_", "_-", "-.", "._", "_.", ".-", "--", "__"].iter().any(|d| name.contains(d));
    if !(3..=128).contains(&name.len()) || !ok_chars || !edges || doubled {
        return Err(AuditError::InvalidTrailName(
            "Trail name must starts with a letter or number, end with a letter or number, be between 3 and 128 characters, contain only ASCII letters, numbers, periods, underscores and dashes, and not have adjacent periods, underscores or dashes."
                .into(),
        ));
    }
    Ok(())
}

impl Audit {
    async fn put_trail(&self, trail: Trail) -> Result<()> {
        let key = trail.name.clone();
        let bytes = serde_json::to_vec(&trail).map_err(|e| StoreError::Bug(format!("trail: {e}")))?;
        self.inner
            .store
            .write(move |txn| {
                txn.open_table(TRAILS)?.insert(key.as_str(), bytes.as_slice())?;
                Ok(())
            })
            .await?;
        self.inner.trails.write().unwrap_or_else(std::sync::PoisonError::into_inner).insert(trail.name.clone(), trail);
        Ok(())
    }

    /// The trail a name or ARN names.
    pub fn trail(&self, reference: &str) -> Result<Trail> {
        let name = reference.rsplit_once(":trail/").map_or(reference, |(_, n)| n);
        self.inner.trails.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(name).cloned().ok_or_else(
            || {
                AuditError::TrailNotFound(format!(
                    "Unknown trail: {reference} for the user: {}",
                    self.trails().first().map(|t| t.account.clone()).unwrap_or_default()
                ))
            },
        )
    }

    #[must_use]
    pub fn trails(&self) -> Vec<Trail> {
        self.inner.trails.read().unwrap_or_else(std::sync::PoisonError::into_inner).values().cloned().collect()
    }

    /// CreateTrail: checked against the bucket (`exists`), stopped until StartLogging, taking
    /// management events of both kinds; its delivery starts at the log's end.
    pub async fn create_trail(&self, account: &str, new: NewTrail, bucket_exists: bool) -> Result<Trail> {
        check_name(&new.name)?;
        if !bucket_exists {
            return Err(AuditError::BucketDoesNotExist(format!("S3 bucket {} does not exist.", new.bucket)));
        }
        let _w = self.inner.writer.lock().await;
        if self.inner.trails.read().unwrap_or_else(std::sync::PoisonError::into_inner).contains_key(&new.name) {
            return Err(AuditError::TrailAlreadyExists(format!(
                "Trail {} already exists for customer: {account}",
                new.name
            )));
        }
        if self.trails().len() >= TRAILS_PER_REGION_MAX {
            return Err(AuditError::MaximumTrailsExceeded(format!(
                "User: {account} already has {TRAILS_PER_REGION_MAX} trails in {}.",
                self.inner.region
            )));
        }
        let trail = Trail {
            name: new.name,
            account: account.to_string(),
            region: self.inner.region.clone(),
            bucket: new.bucket,
            prefix: new.prefix.filter(|p| !p.is_empty()),
            multi_region: new.multi_region,
            include_global: new.include_global,
            log_file_validation: new.log_file_validation,
            kms_key_id: new.kms_key_id,
            logging: false,
            custom_selectors: false,
            selectors: vec![EventSelector::default()],
            tags: new.tags,
            started_ms: None,
            stopped_ms: None,
            checkpoint: self.next_record(),
            last_delivery_ms: None,
            last_delivery_error: None,
            latest_delivery_attempt_ms: None,
        };
        self.put_trail(trail.clone()).await?;
        Ok(trail)
    }

    /// Changes a trail under the writer's lock (read fresh, so changes never cross).
    pub async fn change_trail(&self, reference: &str, change: impl FnOnce(&mut Trail) -> Result<()>) -> Result<Trail> {
        let _w = self.inner.writer.lock().await;
        let mut trail = self.trail(reference)?;
        change(&mut trail)?;
        self.put_trail(trail.clone()).await?;
        Ok(trail)
    }

    pub async fn delete_trail(&self, reference: &str) -> Result<()> {
        let _w = self.inner.writer.lock().await;
        let name = self.trail(reference)?.name;
        let key = name.clone();
        self.inner
            .store
            .write(move |txn| {
                txn.open_table(TRAILS)?.remove(key.as_str())?;
                Ok(())
            })
            .await?;
        self.inner.trails.write().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&name);
        Ok(())
    }

    /// StartLogging / StopLogging. Starting delivers from now on (records made while a trail
    /// was stopped are not its).
    pub async fn set_logging(&self, reference: &str, logging: bool) -> Result<Trail> {
        let now = self.now();
        let next = self.next_record();
        self.change_trail(reference, |t| {
            if logging && !t.logging {
                t.checkpoint = next;
                t.started_ms = Some(now);
            }
            if !logging && t.logging {
                t.stopped_ms = Some(now);
            }
            t.logging = logging;
            Ok(())
        })
        .await
    }

    pub fn status(&self, reference: &str) -> Result<TrailStatus> {
        let t = self.trail(reference)?;
        Ok(TrailStatus {
            logging: t.logging,
            started_ms: t.started_ms,
            stopped_ms: t.stopped_ms,
            last_delivery_ms: t.last_delivery_ms,
            last_delivery_error: t.last_delivery_error,
            latest_delivery_attempt_ms: t.latest_delivery_attempt_ms,
        })
    }

    /// PutEventSelectors: up to 5 selectors, data resources of S3 objects only.
    pub async fn put_selectors(&self, reference: &str, selectors: Vec<EventSelector>) -> Result<Trail> {
        if selectors.is_empty() || selectors.len() > 5 {
            return Err(AuditError::InvalidEventSelectors("A trail can have between 1 and 5 event selectors.".into()));
        }
        for s in &selectors {
            if !matches!(s.read_write_type.as_str(), "All" | "ReadOnly" | "WriteOnly") {
                return Err(AuditError::InvalidEventSelectors(format!(
                    "Value {} for ReadWriteType is invalid.",
                    s.read_write_type
                )));
            }
            for (kind, values) in &s.data_resources {
                if kind != "AWS::S3::Object" {
                    return Err(AuditError::InvalidEventSelectors(format!(
                        "Value {kind} for DataResources.Type is invalid: tarn records data events of AWS::S3::Object"
                    )));
                }
                if let Some(bad) = values.iter().find(|v| !v.starts_with("arn:aws:s3")) {
                    return Err(AuditError::InvalidEventSelectors(format!(
                        "Value {bad} for DataResources.Values is invalid."
                    )));
                }
            }
        }
        self.change_trail(reference, |t| {
            t.selectors = selectors;
            t.custom_selectors = true;
            Ok(())
        })
        .await
    }
}
