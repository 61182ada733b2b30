//! Stream settings: retention, tags, stream mode, and enhanced fan-out consumers.

use redb::{ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use tarn_store::record::Record;

use crate::{Result, STREAMS, StreamMode, StreamRecord, Streams, StreamsError};

/// (stream, consumer name) -> [`ConsumerRecord`].
pub(crate) const CONSUMERS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("kinesis_consumers");

pub use tarn_common::limits::kinesis::{CONSUMERS_MAX, RETENTION_HOURS_MAX, RETENTION_HOURS_MIN, TAGS_MAX};

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct ConsumerRecord {
    pub name: String,
    pub created_ns: i64,
}

impl Record for ConsumerRecord {
    const VERSION: u8 = 1;
    const NAME: &'static str = "kinesis consumer";
}

impl Streams {
    /// Reads, changes and writes one stream in one commit; `change` must check before it mutates.
    pub(crate) async fn update_stream<T, F>(&self, name: &str, change: F) -> Result<T>
    where
        F: FnOnce(&mut StreamRecord) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let name = name.to_string();
        let this = self.clone();
        self.store
            .write(move |txn| {
                let mut table = txn.open_table(STREAMS)?;
                let Some(value) = table.get(name.as_str())? else {
                    return Ok(Err(this.not_found(&name)));
                };
                let mut rec = StreamRecord::decode(value.value())?;
                drop(value);
                match change(&mut rec) {
                    Ok(out) => {
                        table.insert(name.as_str(), rec.encode().as_slice())?;
                        Ok(Ok(out))
                    }
                    Err(StreamsError::Store(e)) => Err(e),
                    Err(e) => Ok(Err(e)),
                }
            })
            .await?
    }

    pub async fn set_retention(&self, name: &str, hours: i64, increase: bool) -> Result<()> {
        if hours < i64::from(RETENTION_HOURS_MIN) {
            return Err(StreamsError::InvalidArgument(format!(
                "Minimum allowed retention period is {RETENTION_HOURS_MIN} hours. Requested retention period ({hours} hours) is too short."
            )));
        }
        if hours > i64::from(RETENTION_HOURS_MAX) {
            return Err(StreamsError::InvalidArgument(format!(
                "Maximum allowed retention period is {RETENTION_HOURS_MAX} hours. Requested retention period ({hours} hours) is too long."
            )));
        }
        let hours = u32::try_from(hours).expect("bounded above");
        let stream = name.to_string();
        self.update_stream(name, move |rec| {
            if increase && hours < rec.retention_hours {
                return Err(StreamsError::InvalidArgument(format!(
                    "Requested retention period ({hours} hours) for stream {stream} can not be shorter than existing retention period ({} hours). Use DecreaseRetentionPeriod API.",
                    rec.retention_hours
                )));
            }
            if !increase && hours > rec.retention_hours {
                return Err(StreamsError::InvalidArgument(format!(
                    "Requested retention period ({hours} hours) for stream {stream} can not be longer than existing retention period ({} hours). Use IncreaseRetentionPeriod API.",
                    rec.retention_hours
                )));
            }
            rec.retention_hours = hours;
            Ok(())
        })
        .await
    }

    pub async fn add_tags(&self, name: &str, tags: Vec<(String, String)>) -> Result<()> {
        for (k, v) in &tags {
            if k.is_empty() || k.len() > 128 || v.len() > 256 {
                return Err(StreamsError::InvalidArgument(format!(
                    "Tag key must be 1 to 128 characters and value at most 256: {k}"
                )));
            }
        }
        self.update_stream(name, move |rec| {
            let mut merged = rec.tags.clone();
            for (k, v) in tags {
                match merged.iter_mut().find(|(mk, _)| *mk == k) {
                    Some(slot) => slot.1 = v,
                    None => merged.push((k, v)),
                }
            }
            if merged.len() > TAGS_MAX {
                return Err(StreamsError::InvalidArgument(format!("A stream cannot have more than {TAGS_MAX} tags.")));
            }
            merged.sort();
            rec.tags = merged;
            Ok(())
        })
        .await
    }

    pub async fn remove_tags(&self, name: &str, keys: Vec<String>) -> Result<()> {
        self.update_stream(name, move |rec| {
            rec.tags.retain(|(k, _)| !keys.contains(k));
            Ok(())
        })
        .await
    }

    pub async fn set_mode(&self, name: &str, mode: StreamMode) -> Result<()> {
        self.require_active(&self.describe(name)?)?;
        let stream = name.to_string();
        let result = self
            .update_stream(name, move |rec| {
                if rec.mode == mode {
                    return Err(StreamsError::ResourceInUse(format!(
                        "Stream {stream} is already in {} mode.",
                        mode.as_str()
                    )));
                }
                rec.mode = mode;
                Ok(())
            })
            .await;
        if result.is_ok() {
            self.mark_updating(name);
        }
        result
    }

    #[must_use]
    pub fn consumer_arn(&self, stream: &str, consumer: &ConsumerRecord) -> String {
        format!("{}/consumer/{}:{}", self.arn(stream), consumer.name, consumer.created_ns / 1_000_000_000)
    }

    pub async fn register_consumer(&self, stream: &str, consumer: &str) -> Result<ConsumerRecord> {
        if consumer.is_empty()
            || consumer.len() > 128
            || !consumer.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        {
            return Err(StreamsError::Validation(format!(
                "1 validation error detected: Value '{consumer}' at 'consumerName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
            )));
        }
        self.describe(stream)?;
        let (stream, consumer) = (stream.to_string(), consumer.to_string());
        let account = self.config.account_id.clone();
        self.store
            .write(move |txn| {
                let mut table = txn.open_table(CONSUMERS)?;
                if table.get((stream.as_str(), consumer.as_str()))?.is_some() {
                    return Ok(Err(StreamsError::ResourceInUse(format!(
                        "Consumer {consumer} under stream {stream} in account {account} already exists."
                    ))));
                }
                let count = table
                    .range((stream.as_str(), "")..)?
                    .take_while(|e| e.as_ref().is_ok_and(|(k, _)| k.value().0 == stream))
                    .count();
                if count >= CONSUMERS_MAX {
                    return Ok(Err(StreamsError::LimitExceeded(format!(
                        "Stream {stream} already has {CONSUMERS_MAX} consumers."
                    ))));
                }
                let rec = ConsumerRecord { name: consumer.clone(), created_ns: tarn_common::now_unix_nanos() };
                table.insert((stream.as_str(), consumer.as_str()), rec.encode().as_slice())?;
                Ok(Ok(rec))
            })
            .await?
    }

    pub fn list_consumers(&self, stream: &str) -> Result<Vec<ConsumerRecord>> {
        self.describe(stream)?;
        let txn = self.store.read()?;
        let table = txn.open_table(CONSUMERS)?;
        let mut out = Vec::new();
        for entry in table.range((stream, "")..)? {
            let (k, v) = entry?;
            if k.value().0 != stream {
                break;
            }
            out.push(ConsumerRecord::decode(v.value())?);
        }
        Ok(out)
    }

    pub fn describe_consumer(&self, stream: &str, consumer: &str) -> Result<ConsumerRecord> {
        let txn = self.store.read()?;
        let table = txn.open_table(CONSUMERS)?;
        let value = table.get((stream, consumer))?.ok_or_else(|| {
            StreamsError::ResourceNotFound(format!(
                "Consumer {consumer} under stream {stream} in account {} not found.",
                self.config.account_id
            ))
        })?;
        Ok(ConsumerRecord::decode(value.value())?)
    }

    pub async fn deregister_consumer(&self, stream: &str, consumer: &str) -> Result<()> {
        self.describe_consumer(stream, consumer)?;
        let (stream, consumer) = (stream.to_string(), consumer.to_string());
        self.store
            .write(move |txn| {
                txn.open_table(CONSUMERS)?.remove((stream.as_str(), consumer.as_str()))?;
                Ok(())
            })
            .await?;
        Ok(())
    }

    /// (stream, consumer) named by a consumer ARN.
    pub fn parse_consumer_arn(&self, arn: &str) -> Result<(String, String)> {
        let bad = || StreamsError::InvalidArgument(format!("ConsumerARN {arn} is not valid."));
        let rest = arn
            .strip_prefix(&format!("arn:aws:kinesis:{}:{}:stream/", self.config.region, self.config.account_id))
            .ok_or_else(bad)?;
        let (stream, consumer) = rest.split_once("/consumer/").ok_or_else(bad)?;
        let (consumer, _) = consumer.rsplit_once(':').ok_or_else(bad)?;
        Ok((stream.to_string(), consumer.to_string()))
    }
}
