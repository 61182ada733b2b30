//! Kinesis Data Streams: the control plane of streams and shards.
//!
//! A stream is a record in the `kinesis_streams` table: its mode, retention, tags and shards,
//! each shard owning a contiguous range of the 128-bit hash key space (a record's partition key
//! MD5 picks the shard). Every change is one group-committed metadata write. Records, their
//! per-shard segment logs and iterators build on this (see docs/architecture.md).

mod admin;
mod records;
mod reshard;
mod sse;

pub use admin::{CONSUMERS_MAX, ConsumerRecord, RETENTION_HOURS_MAX, RETENTION_HOURS_MIN, TAGS_MAX};
pub use sse::StreamSse;

use std::sync::Arc;

use redb::{ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use tarn_store::record::Record;
use tarn_store::{Store, StoreError};

/// Stream name -> [`StreamRecord`].
pub(crate) const STREAMS: TableDefinition<&str, &[u8]> = TableDefinition::new("kinesis_streams");

pub use tarn_common::limits::kinesis::{ON_DEMAND_INITIAL_SHARDS, RETENTION_HOURS_DEFAULT};

#[derive(Debug, thiserror::Error)]
pub enum StreamsError {
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    ResourceInUse(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    ExpiredIterator(String),
    #[error("{0}")]
    ProvisionedThroughputExceeded(String),
    /// The stream's KMS key is disabled.
    #[error("{0}")]
    KmsDisabled(String),
    /// The stream's KMS key is pending deletion.
    #[error("{0}")]
    KmsInvalidState(String),
    /// The stream's KMS key does not exist (any more).
    #[error("{0}")]
    KmsNotFound(String),
    /// Our failure, not the caller's: a record the service could not take for its own reasons.
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<redb::StorageError> for StreamsError {
    fn from(err: redb::StorageError) -> Self {
        Self::Store(err.into())
    }
}
impl From<redb::TableError> for StreamsError {
    fn from(err: redb::TableError) -> Self {
        Self::Store(err.into())
    }
}
impl From<redb::TransactionError> for StreamsError {
    fn from(err: redb::TransactionError) -> Self {
        Self::Store(err.into())
    }
}

pub type Result<T, E = StreamsError> = std::result::Result<T, E>;

pub use records::{
    IteratorStart, RECORD_BYTES_MAX, RecordsPage, StreamRecordOut, hash_key, iterator_stream, parse_sequence_number,
};

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamMode {
    Provisioned,
    OnDemand,
}

impl StreamMode {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provisioned => "PROVISIONED",
            Self::OnDemand => "ON_DEMAND",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "PROVISIONED" => Ok(Self::Provisioned),
            "ON_DEMAND" => Ok(Self::OnDemand),
            other => Err(StreamsError::Validation(format!(
                "1 validation error detected: Value '{other}' at 'streamModeDetails.streamMode' failed to satisfy constraint: Member must satisfy enum value set: [ON_DEMAND, PROVISIONED]"
            ))),
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ShardRecord {
    pub id: String,
    pub starting_hash_key: u128,
    pub ending_hash_key: u128,
    pub parent_shard_id: Option<String>,
    pub adjacent_parent_shard_id: Option<String>,
    pub starting_sequence_number: String,
    pub ending_sequence_number: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct StreamRecord {
    pub name: String,
    pub created_ns: i64,
    pub mode: StreamMode,
    pub retention_hours: u32,
    pub shards: Vec<ShardRecord>,
    pub tags: Vec<(String, String)>,
    /// Index the next shard created (by resharding) gets.
    pub next_shard_index: u32,
    /// Server-side encryption (v2, after v1's bytes).
    #[serde(skip)]
    pub sse: StreamSse,
}

impl Record for StreamRecord {
    const VERSION: u8 = 2;
    const NAME: &'static str = "kinesis stream";

    fn encode(&self) -> Vec<u8> {
        tarn_store::record::encode_extended(Self::VERSION, self, &self.sse)
    }

    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        let (mut rec, sse): (Self, StreamSse) =
            tarn_store::record::decode_extended(bytes, Self::NAME, 1, Self::VERSION)?;
        rec.sse = sse;
        Ok(rec)
    }
}

impl StreamRecord {
    #[must_use]
    pub fn open_shards(&self) -> usize {
        self.shards.iter().filter(|s| s.ending_sequence_number.is_none()).count()
    }
}

/// Stream status as clients see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamStatus {
    Creating,
    Active,
    Updating,
}

impl StreamStatus {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Creating => "CREATING",
            Self::Active => "ACTIVE",
            Self::Updating => "UPDATING",
        }
    }
}

/// Settings of the Kinesis service.
#[derive(Clone, Debug)]
pub struct StreamsConfig {
    pub region: String,
    pub account_id: String,
    /// Open shards allowed across the account's streams (AWS's default quota is 500).
    pub shard_limit: u32,
    /// How long a new stream reports CREATING before it is ACTIVE.
    pub activation_delay_ms: u64,
    /// Enforce provisioned-mode shard throughput (1 MiB/s or 1,000 records/s in, 2 MiB/s
    /// out), answering ProvisionedThroughputExceededException as Kinesis does.
    pub enforce_limits: bool,
    /// Shard log segment files roll over at this size; retention drops whole segments.
    pub segment_bytes_max: u64,
}

impl Default for StreamsConfig {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            account_id: tarn_common::DEFAULT_ACCOUNT_ID.into(),
            shard_limit: 500,
            activation_delay_ms: 300,
            enforce_limits: true,
            segment_bytes_max: 64 * 1024 * 1024,
        }
    }
}

/// The 56-digit sequence number of record `n` in shard `shard_index`: decimal, zero-padded, so
/// sequence numbers of one shard sort as strings and as big integers alike.
#[must_use]
pub fn sequence_number(shard_index: u32, n: u64) -> String {
    format!("49{shard_index:010}{n:044}")
}

/// `shardId-000000000007`.
#[must_use]
pub fn shard_id(index: u32) -> String {
    format!("shardId-{index:012}")
}

/// Splits the 128-bit hash key space into `count` contiguous ranges, as AWS does for a new
/// stream: equal widths, the last one running to 2^128 - 1.
#[must_use]
pub fn split_hash_space(count: u32) -> Vec<(u128, u128)> {
    let count = u128::from(count.max(1));
    let width = u128::MAX / count;
    (0..count).map(|i| (i * width, if i + 1 == count { u128::MAX } else { (i + 1) * width - 1 })).collect()
}

/// The Kinesis service.
#[derive(Clone)]
pub struct Streams {
    store: Store,
    config: StreamsConfig,
    shards: Arc<records::ShardLogs>,
    /// Streams resharded recently: name -> until when (ns) they report UPDATING.
    updating: Arc<std::sync::Mutex<std::collections::HashMap<String, i64>>>,
    keyring: Arc<sse::Keyring>,
}

impl Streams {
    /// Opens the service, creating its table on first start.
    pub async fn open(store: Store, config: StreamsConfig) -> Result<Self> {
        store
            .write(|txn| {
                txn.open_table(STREAMS)?;
                txn.open_table(admin::CONSUMERS)?;
                Ok(())
            })
            .await?;
        let shards = Arc::new(records::ShardLogs::new(config.segment_bytes_max));
        let streams = Self { store, config, shards, updating: Arc::default(), keyring: Arc::default() };
        streams.remove_orphan_logs()?;
        Ok(streams)
    }

    /// Drops records older than each stream's retention period: whole segment files whose
    /// newest record has expired (the segment being written is kept). Returns files removed.
    pub fn enforce_retention(&self) -> Result<usize> {
        self.enforce_retention_at(tarn_common::now_unix_nanos() / 1_000_000)
    }

    /// [`Streams::enforce_retention`] as if the time were `now_ms`.
    pub fn enforce_retention_at(&self, now_ms: i64) -> Result<usize> {
        let (streams, _) = self.list(None, usize::MAX)?;
        let mut removed = 0;
        for stream in streams {
            let cutoff = now_ms - i64::from(stream.retention_hours) * 3_600_000;
            for shard in &stream.shards {
                removed += self.shards.drop_older_than(
                    &self.store,
                    &stream.name,
                    &shard.id,
                    shard.ending_sequence_number.is_some(),
                    cutoff,
                )?;
            }
        }
        Ok(removed)
    }

    /// Removes the logs of streams the metadata no longer has (a crash between DeleteStream's
    /// commit and the removal of its files), so a new stream of the same name starts empty.
    fn remove_orphan_logs(&self) -> Result<()> {
        let root = self.store.log_dir(&["streams"]);
        let Ok(entries) = std::fs::read_dir(&root) else { return Ok(()) };
        let txn = self.store.read()?;
        let table = txn.open_table(STREAMS)?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if table.get(name.as_str())?.is_none() {
                tracing::info!(stream = %name, "removing the logs of a deleted stream");
                self.shards.remove_stream(&self.store, &name)?;
            }
        }
        Ok(())
    }

    #[must_use]
    pub fn config(&self) -> &StreamsConfig {
        &self.config
    }

    #[must_use]
    pub fn arn(&self, name: &str) -> String {
        format!("arn:aws:kinesis:{}:{}:stream/{name}", self.config.region, self.config.account_id)
    }

    #[must_use]
    pub fn status(&self, stream: &StreamRecord) -> StreamStatus {
        let now = tarn_common::now_unix_nanos();
        let age_ms = (now - stream.created_ns) / 1_000_000;
        if u64::try_from(age_ms).unwrap_or(0) < self.config.activation_delay_ms {
            return StreamStatus::Creating;
        }
        let updating = self.updating.lock().expect("updating lock").get(&stream.name).is_some_and(|&until| until > now);
        if updating { StreamStatus::Updating } else { StreamStatus::Active }
    }

    /// Marks a stream UPDATING for the activation delay (after a reshard). Transient: a restart
    /// finds every stream ACTIVE, as the reshard itself was one atomic commit.
    pub(crate) fn mark_updating(&self, name: &str) {
        let until =
            tarn_common::now_unix_nanos() + i64::try_from(self.config.activation_delay_ms).unwrap_or(0) * 1_000_000;
        self.updating.lock().expect("updating lock").insert(name.to_string(), until);
    }

    /// Resharding needs an ACTIVE stream, as in Kinesis.
    pub(crate) fn require_active(&self, stream: &StreamRecord) -> Result<()> {
        match self.status(stream) {
            StreamStatus::Active => Ok(()),
            other => Err(StreamsError::ResourceInUse(format!(
                "Stream {} under account {} not ACTIVE, instead in state {}",
                stream.name,
                self.config.account_id,
                other.as_str()
            ))),
        }
    }

    pub(crate) fn not_found(&self, name: &str) -> StreamsError {
        StreamsError::ResourceNotFound(format!("Stream {name} under account {} not found.", self.config.account_id))
    }

    /// Resolves a stream named by StreamName or StreamARN.
    pub fn resolve_name(&self, name: Option<&str>, arn: Option<&str>) -> Result<String> {
        match (name, arn) {
            (Some(name), _) => {
                validate_stream_name(name)?;
                Ok(name.to_string())
            }
            (None, Some(arn)) => {
                let prefix = format!("arn:aws:kinesis:{}:{}:stream/", self.config.region, self.config.account_id);
                arn.strip_prefix(&prefix).filter(|n| validate_stream_name(n).is_ok()).map(str::to_string).ok_or_else(
                    || {
                        StreamsError::InvalidArgument(format!(
                            "StreamARN {arn} is not a stream of this account and region."
                        ))
                    },
                )
            }
            (None, None) => {
                Err(StreamsError::InvalidArgument("Either StreamName or StreamARN should be provided.".into()))
            }
        }
    }

    /// CreateStream: validates everything, including the account's shard quota, before
    /// anything is allocated.
    pub async fn create_stream(
        &self,
        name: &str,
        shard_count: Option<i64>,
        mode: StreamMode,
        tags: Vec<(String, String)>,
    ) -> Result<()> {
        validate_stream_name(name)?;
        let count = match (mode, shard_count) {
            (StreamMode::Provisioned, None) => {
                return Err(StreamsError::InvalidArgument(
                    "ShardCount is required for streams in PROVISIONED mode.".into(),
                ));
            }
            (StreamMode::Provisioned, Some(n)) if n < 1 => {
                return Err(StreamsError::Validation(format!(
                    "1 validation error detected: Value '{n}' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1"
                )));
            }
            (StreamMode::Provisioned, Some(n)) => n,
            (StreamMode::OnDemand, Some(_)) => {
                return Err(StreamsError::InvalidArgument(
                    "ShardCount cannot be specified for streams in ON_DEMAND mode.".into(),
                ));
            }
            (StreamMode::OnDemand, None) => i64::from(ON_DEMAND_INITIAL_SHARDS),
        };
        if tags.len() > 50 {
            return Err(StreamsError::InvalidArgument("A stream can have at most 50 tags.".into()));
        }
        let limit = i64::from(self.config.shard_limit);
        if count > limit {
            return Err(self.shard_limit_error(count - limit));
        }
        let count = u32::try_from(count).expect("bounded by the shard limit");
        let name = name.to_string();
        let account = self.config.account_id.clone();
        let this = self.clone();
        self.store
            .write(move |txn| {
                let mut table = txn.open_table(STREAMS)?;
                if table.get(name.as_str())?.is_some() {
                    return Ok(Err(StreamsError::ResourceInUse(format!(
                        "Stream {name} under account {account} already exists."
                    ))));
                }
                let mut open = 0i64;
                for entry in table.iter()? {
                    let (_, v) = entry?;
                    open += i64::try_from(StreamRecord::decode(v.value())?.open_shards()).unwrap_or(i64::MAX);
                }
                let over = open + i64::from(count) - limit;
                if over > 0 {
                    return Ok(Err(this.shard_limit_error(over)));
                }
                let shards = split_hash_space(count)
                    .into_iter()
                    .zip(0u32..)
                    .map(|((start, end), i)| ShardRecord {
                        id: shard_id(i),
                        starting_hash_key: start,
                        ending_hash_key: end,
                        parent_shard_id: None,
                        adjacent_parent_shard_id: None,
                        starting_sequence_number: sequence_number(i, 0),
                        ending_sequence_number: None,
                    })
                    .collect();
                let rec = StreamRecord {
                    name: name.clone(),
                    created_ns: tarn_common::now_unix_nanos(),
                    mode,
                    retention_hours: RETENTION_HOURS_DEFAULT,
                    shards,
                    tags,
                    next_shard_index: count,
                    sse: StreamSse::default(),
                };
                table.insert(name.as_str(), rec.encode().as_slice())?;
                Ok(Ok(()))
            })
            .await?
    }

    fn shard_limit_error(&self, over: i64) -> StreamsError {
        StreamsError::LimitExceeded(format!(
            "This request would exceed the shard limit for the account {} in {}. Current Limit: {}. Number of additional shards that would have resulted in exceeding the limit: {over}. Contact AWS Support to request an increase in the shard limit.",
            self.config.account_id, self.config.region, self.config.shard_limit
        ))
    }

    pub fn describe(&self, name: &str) -> Result<StreamRecord> {
        let txn = self.store.read()?;
        let table = txn.open_table(STREAMS)?;
        let value = table.get(name)?.ok_or_else(|| self.not_found(name))?;
        Ok(StreamRecord::decode(value.value())?)
    }

    /// Stream names in order, after `exclusive_start`, at most `limit`; plus whether more exist.
    pub fn list(&self, exclusive_start: Option<&str>, limit: usize) -> Result<(Vec<StreamRecord>, bool)> {
        let txn = self.store.read()?;
        let table = txn.open_table(STREAMS)?;
        let mut out = Vec::new();
        let mut more = false;
        for entry in table.iter()? {
            let (k, v) = entry?;
            if exclusive_start.is_some_and(|s| k.value() <= s) {
                continue;
            }
            if out.len() == limit {
                more = true;
                break;
            }
            out.push(StreamRecord::decode(v.value())?);
        }
        Ok((out, more))
    }

    /// DeleteStream. A stream with registered consumers is deleted only when
    /// `enforce_consumer_deletion` says so (its consumers go with it).
    pub async fn delete_stream(&self, name: &str, enforce_consumer_deletion: bool) -> Result<()> {
        let owned = name.to_string();
        let this = self.clone();
        self.store
            .write(move |txn| {
                let consumers: Vec<String> = {
                    let table = txn.open_table(admin::CONSUMERS)?;
                    let mut names = Vec::new();
                    for entry in table.range((owned.as_str(), "")..)? {
                        let (k, _) = entry?;
                        if k.value().0 != owned {
                            break;
                        }
                        names.push(k.value().1.to_string());
                    }
                    names
                };
                let mut table = txn.open_table(STREAMS)?;
                if table.get(owned.as_str())?.is_none() {
                    return Ok(Err(this.not_found(&owned)));
                }
                if !consumers.is_empty() && !enforce_consumer_deletion {
                    return Ok(Err(StreamsError::ResourceInUse(format!(
                        "Stream {owned} has {} registered consumers; set EnforceConsumerDeletion to delete them with the stream.",
                        consumers.len()
                    ))));
                }
                table.remove(owned.as_str())?;
                drop(table);
                let mut table = txn.open_table(admin::CONSUMERS)?;
                for c in &consumers {
                    table.remove((owned.as_str(), c.as_str()))?;
                }
                Ok(Ok(()))
            })
            .await??;
        // the stream is gone from the metadata; its records go with it
        self.shards.remove_stream(&self.store, name)
    }
}

/// StreamName: 1 to 128 characters of `[a-zA-Z0-9_.-]`.
pub fn validate_stream_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 128
        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
    {
        return Err(StreamsError::Validation(format!(
            "1 validation error detected: Value '{name}' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records older than the retention period go, a whole segment at a time; newer ones stay.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn retention_drops_expired_segments() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let config = StreamsConfig { segment_bytes_max: 2048, enforce_limits: false, ..StreamsConfig::default() };
        let streams = Streams::open(store, config).await.unwrap();
        streams.create_stream("r", Some(1), StreamMode::Provisioned, Vec::new()).await.unwrap();
        for i in 0..50 {
            streams.put_record("r", "key", None, format!("record {i} {}", "x".repeat(100)).as_bytes()).await.unwrap();
        }
        let segments = || std::fs::read_dir(dir.path().join("streams/r/shardId-000000000000")).unwrap().count();
        let before = segments();
        assert!(before > 2, "small segments roll over ({before})");
        // nothing has expired yet
        assert_eq!(streams.enforce_retention().unwrap(), 0);
        // a day and a minute later, every finished segment has
        let later = tarn_common::now_unix_nanos() / 1_000_000 + 24 * 3_600_000 + 60_000;
        let removed = streams.enforce_retention_at(later).unwrap();
        assert_eq!(removed, before - 1, "all but the segment being written");
        assert_eq!(segments(), 1);
        let it = streams.get_shard_iterator("r", "shardId-000000000000", IteratorStart::TrimHorizon).unwrap();
        let page = streams.get_records(&it, 1000).unwrap();
        assert!(!page.records.is_empty() && page.records.len() < 50, "only the newest segment's records remain");
        assert!(page.records.last().unwrap().data.starts_with(b"record 49 "));
    }

    #[test]
    fn a_v1_stream_record_reads_as_unencrypted_and_v2_keeps_its_keys() {
        let mut rec = StreamRecord {
            name: "s".into(),
            created_ns: 7,
            mode: StreamMode::Provisioned,
            retention_hours: 24,
            shards: Vec::new(),
            tags: vec![("k".into(), "v".into())],
            next_shard_index: 3,
            sse: StreamSse::default(),
        };
        // what tarn wrote before streams could be encrypted: version 1 and the base alone
        let v1 = tarn_store::record::encode_extended(1, &rec, &());
        let old = StreamRecord::decode(&v1).unwrap();
        assert_eq!((old.name.as_str(), old.next_shard_index, old.tags.len()), ("s", 3, 1));
        assert_eq!(old.sse, StreamSse::default());
        rec.sse = StreamSse { enabled: true, key_id: "alias/a".into(), key_arn: "arn".into(), keys: vec![vec![1, 2]] };
        assert_eq!(StreamRecord::decode(&rec.encode()).unwrap().sse, rec.sse);
    }

    #[test]
    fn hash_space_is_covered_without_gaps() {
        for n in [1u32, 2, 3, 4, 7, 500] {
            let ranges = split_hash_space(n);
            assert_eq!(ranges.len(), n as usize);
            assert_eq!(ranges[0].0, 0);
            assert_eq!(ranges.last().unwrap().1, u128::MAX);
            for w in ranges.windows(2) {
                assert_eq!(w[0].1 + 1, w[1].0, "contiguous for {n}");
            }
        }
    }

    #[test]
    fn sequence_numbers_sort_as_strings_and_numbers() {
        let a = sequence_number(3, 9);
        let b = sequence_number(3, 10);
        assert_eq!(a.len(), 56);
        assert!(a < b);
        // equal lengths, so string order is numeric order
        assert_eq!(a.len(), b.len());
        assert!(a.bytes().all(|c| c.is_ascii_digit()));
    }

    #[test]
    fn stream_names() {
        assert!(validate_stream_name("clicks_2026.v1-a").is_ok());
        assert!(validate_stream_name("").is_err());
        assert!(validate_stream_name("has space").is_err());
        assert!(validate_stream_name(&"a".repeat(129)).is_err());
    }
}
