//! Data Firehose: delivery streams that buffer records durably, transform them and land them
//! in buckets as files (see docs/architecture.md, "Delivery (Data Firehose)").
//!
//! ```text
//! PutRecord(Batch) ─┐                      ┌─ processors (jq keys, de-aggregation)
//! Kinesis shards ───┴─> buffer (segment log) ─> flush task ─┼─ Parquet/ORC or compression ─> bucket
//!                        fsync'd before ack                 └─ failures ─> ErrorOutputPrefix
//! ```

pub mod buffer;
pub mod compress;
pub mod convert;
mod deliver;
mod json;
pub mod metrics;
pub mod model;
pub mod prefix;
pub mod process;
mod source;
mod upload;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use redb::{ReadableTable, TableDefinition};
use serde_json::{Value, json};
use tarn_catalog::Catalog;
use tarn_objects::Objects;
use tarn_store::record::{json_decode, json_encode};
use tarn_store::{DataKey, Store, StoreError};
use tarn_streams::Streams;

use crate::buffer::Buffer;
use crate::metrics::StreamMetrics;
use crate::model::{DESTINATION_ID, Destination, EncryptionDoc, KinesisSourceDoc, Progress, StreamDoc};

/// Delivery streams by name.
const STREAMS: TableDefinition<&str, &[u8]> = TableDefinition::new("firehose_streams");
/// Delivery progress by stream name.
const PROGRESS: TableDefinition<&str, &[u8]> = TableDefinition::new("firehose_progress");

/// Firehose's quotas.
use tarn_common::limits::firehose as limits;

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    ResourceInUse(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    ConcurrentModification(String),
    #[error("{0}")]
    ServiceUnavailable(String),
    /// The stream's customer managed key cannot be used (disabled, pending deletion, gone).
    #[error("{0}")]
    InvalidKmsResource(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

tarn_store::from_redb_errors!(DeliveryError, DeliveryError::Store);

/// A customer key's state as Firehose answers it.
fn kms_error(e: tarn_kms::KmsError) -> DeliveryError {
    match e {
        tarn_kms::KmsError::Store(s) => DeliveryError::Store(s),
        tarn_kms::KmsError::Disabled(m) => DeliveryError::InvalidKmsResource(format!("{m} is disabled.")),
        other => DeliveryError::InvalidKmsResource(other.to_string()),
    }
}

pub type Result<T, E = DeliveryError> = std::result::Result<T, E>;

/// Settings of the Firehose service.
#[derive(Clone, Debug)]
pub struct DeliveryConfig {
    pub region: String,
    pub account_id: String,
    /// How long a new stream reports CREATING before it is ACTIVE.
    pub activation_delay_ms: u64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            account_id: tarn_common::DEFAULT_ACCOUNT_ID.into(),
            activation_delay_ms: 300,
        }
    }
}

/// What CreateDeliveryStream asks for.
pub struct CreateRequest {
    pub name: String,
    pub stream_type: Option<String>,
    /// (KinesisStreamARN, RoleARN)
    pub kinesis_source: Option<(String, String)>,
    /// `ExtendedS3DestinationConfiguration`, or a plain `S3DestinationConfiguration` (extended here).
    pub destination: Option<Value>,
    /// (KeyType, KeyARN)
    pub encryption: Option<(String, Option<String>)>,
    pub tags: Vec<(String, Option<String>)>,
    /// Another destination type was given (Redshift, OpenSearch, ...), which tarn lacks.
    pub other_destination: Option<String>,
}

/// A running stream: its document, compiled destination, buffer and counters.
pub(crate) struct Runtime {
    pub doc: Mutex<StreamDoc>,
    pub dest: Mutex<Arc<Destination>>,
    pub buffer: Arc<Buffer>,
    pub stopped: AtomicBool,
    pub metrics: Arc<StreamMetrics>,
    /// The last delivery failure (FailureDescription), cleared by a success.
    pub failure: Mutex<Option<(String, String)>>,
    /// The delivery task and the Kinesis reader, awaited when the stream is deleted.
    pub tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Runtime {
    pub fn destination(&self) -> Arc<Destination> {
        self.dest.lock().expect("dest lock").clone()
    }

    pub fn doc(&self) -> StreamDoc {
        self.doc.lock().expect("doc lock").clone()
    }

    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.buffer.wake.notify_one();
    }
}

pub(crate) struct Inner {
    pub store: Store,
    pub objects: Objects,
    pub catalog: Catalog,
    pub streams: Streams,
    pub config: DeliveryConfig,
    running: Mutex<HashMap<String, Arc<Runtime>>>,
    /// The IAM directory: delivery acts as the stream's RoleARN (unset in unit tests).
    pub iam: std::sync::OnceLock<tarn_iam::Iam>,
    /// Keeps the data keys of buffers under customer managed keys.
    pub kms: tarn_kms::Kms,
    /// Serializes control-plane changes (create, delete, update) so checks and commits agree.
    control: tokio::sync::Mutex<()>,
}

/// The Firehose service.
#[derive(Clone)]
pub struct Delivery {
    inner: Arc<Inner>,
}

fn now_ns() -> i64 {
    tarn_common::now_unix_nanos()
}

fn validate_name(name: &str, member: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(DeliveryError::Validation(format!(
            "1 validation error detected: Value '{name}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and have length between 1 and 64"
        )))
    }
}

pub(crate) fn load_progress(store: &Store, name: &str) -> Result<Progress> {
    let txn = store.read()?;
    let table = match txn.open_table(PROGRESS) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Progress::default()),
        Err(e) => return Err(e.into()),
    };
    let Some(v) = table.get(name)? else { return Ok(Progress::default()) };
    Ok(json_decode(v.value(), "firehose progress")?)
}

/// Changes a stream's progress in one group commit (read, modify, write inside the commit),
/// only while the stream is still the incarnation the caller works for: a task finishing after
/// its stream was deleted (and perhaps created again under the name) changes nothing.
pub(crate) async fn update_progress<F>(store: &Store, name: &str, incarnation: u64, f: F) -> Result<()>
where
    F: FnOnce(&mut Progress) + Send + 'static,
{
    let name = name.to_string();
    store
        .write(move |txn| {
            let current = match txn.open_table(STREAMS)?.get(name.as_str())? {
                Some(v) => json_decode::<StreamDoc>(v.value(), "firehose stream")?,
                None => return Ok(()),
            };
            if current.incarnation != incarnation || current.deleting {
                return Ok(());
            }
            let mut table = txn.open_table(PROGRESS)?;
            let mut p: Progress = match table.get(name.as_str())? {
                Some(v) => json_decode(v.value(), "firehose progress")?,
                None => Progress::default(),
            };
            f(&mut p);
            table.insert(name.as_str(), json_encode(&p).as_slice())?;
            Ok(())
        })
        .await?;
    Ok(())
}

impl Delivery {
    /// Deliveries from now on write as their stream's RoleARN, as the IAM directory defines it.
    pub fn set_iam(&self, iam: tarn_iam::Iam) {
        let _ = self.inner.iam.set(iam);
    }

    /// The encryption context of a stream's buffer key.
    fn key_context(&self, name: &str) -> BTreeMap<String, String> {
        BTreeMap::from([("aws:firehose:arn".to_string(), self.arn(name))])
    }

    /// Opens the service and starts a delivery task (and a Kinesis reader) per stream.
    pub async fn open(
        store: Store,
        objects: Objects,
        catalog: Catalog,
        streams: Streams,
        kms: tarn_kms::Kms,
        config: DeliveryConfig,
    ) -> Result<Self> {
        // output objects used to be spooled here before they were stored; they now stream
        let _ = std::fs::remove_dir_all(store.root().join("tmp").join("firehose-spool"));
        store
            .write(|txn| {
                txn.open_table(STREAMS)?;
                txn.open_table(PROGRESS)?;
                Ok(())
            })
            .await?;
        let inner = Arc::new(Inner {
            store: store.clone(),
            objects,
            catalog,
            streams,
            config,
            running: Mutex::default(),
            iam: std::sync::OnceLock::new(),
            kms,
            control: tokio::sync::Mutex::new(()),
        });
        let delivery = Self { inner };
        let docs: Vec<StreamDoc> = {
            let txn = store.read()?;
            let table = txn.open_table(STREAMS)?;
            let mut out = Vec::new();
            for entry in table.iter()? {
                let (_, v) = entry?;
                out.push(json_decode(v.value(), "firehose stream")?);
            }
            out
        };
        for doc in docs {
            let name = doc.name.clone();
            let started = if doc.deleting { delivery.finish_delete(&doc).await } else { delivery.start(doc) };
            if let Err(err) = started {
                tracing::error!(stream = %name, %err, "firehose stream could not be started; it is left as stored");
            }
        }
        Ok(delivery)
    }

    fn buffer_dir(&self, doc: &StreamDoc) -> std::path::PathBuf {
        self.inner.store.log_dir(&["firehose", &format!("{}.{}", doc.name, doc.incarnation)])
    }

    /// The buffer's data key as the master key wraps it, opened from its customer key if one
    /// keeps it.
    fn master_wrapped(&self, name: &str, e: &EncryptionDoc) -> Result<Vec<u8>> {
        let damaged = || StoreError::Corrupt(format!("stream {name} has a damaged data key"));
        match &e.kms_blob {
            Some(blob) => {
                let blob = hex::decode(blob).map_err(|_| damaged())?;
                let (plain, _) = self.inner.kms.open_blob(&blob, &self.key_context(name)).map_err(kms_error)?;
                Ok(plain)
            }
            None => Ok(hex::decode(&e.wrapped_key).map_err(|_| damaged())?),
        }
    }

    fn data_key(&self, doc: &StreamDoc) -> Result<Option<DataKey>> {
        let wrapped = match (&doc.encryption, &doc.source_buffer_key) {
            (Some(e), _) => self.master_wrapped(&doc.name, e)?,
            (None, Some(k)) => hex::decode(k)
                .map_err(|_| StoreError::Corrupt(format!("stream {} has a damaged data key", doc.name)))?,
            (None, None) => return Ok(None),
        };
        Ok(Some(self.inner.store.master_key().unwrap_data_key(&wrapped)?))
    }

    /// A put to a buffer kept by a customer key needs the key usable now; a buffer that
    /// started without its key (the key was disabled then) gets it back here.
    fn ready_to_seal(&self, rt: &Runtime, doc: &StreamDoc) -> Result<()> {
        let Some(e) = doc.encryption.as_ref().filter(|e| e.status == "ENABLED") else { return Ok(()) };
        let Some(blob) = &e.kms_blob else { return Ok(()) };
        let blob = hex::decode(blob)
            .map_err(|_| StoreError::Corrupt(format!("stream {} has a damaged data key", doc.name)))?;
        self.inner.kms.blob_key_usable(&blob).map_err(kms_error)?;
        if !rt.buffer.has_key() {
            rt.buffer.set_sealing(self.data_key(doc)?, true);
        }
        Ok(())
    }

    /// Starts the tasks of a stored stream.
    fn start(&self, doc: StreamDoc) -> Result<()> {
        let dest = Destination::parse(&doc.destination)?;
        let progress = load_progress(&self.inner.store, &doc.name)?;
        // a customer key that cannot be used now leaves the buffer keyless: puts are refused
        // until it can (`ready_to_seal`), delivery of sealed records waits for it
        let key = match self.data_key(&doc) {
            Ok(key) => key,
            Err(DeliveryError::InvalidKmsResource(m)) => {
                tracing::warn!(stream = %doc.name, reason = %m, "the buffer's customer key cannot be used now");
                None
            }
            Err(e) => return Err(e),
        };
        let seal = doc.encryption.as_ref().is_some_and(|e| e.status == "ENABLED") || doc.source_buffer_key.is_some();
        let buffer = Buffer::open(&self.buffer_dir(&doc), progress.delivered, key, seal)?;
        let rt = Arc::new(Runtime {
            doc: Mutex::new(doc.clone()),
            dest: Mutex::new(Arc::new(dest)),
            buffer: Arc::new(buffer),
            stopped: AtomicBool::new(false),
            metrics: Arc::new(StreamMetrics::default()),
            failure: Mutex::new(None),
            tasks: Mutex::default(),
        });
        self.inner.running.lock().expect("running lock").insert(doc.name.clone(), rt.clone());
        let mut tasks = vec![tokio::spawn(deliver::run(self.inner.clone(), rt.clone()))];
        if doc.source.is_some() {
            tasks.push(tokio::spawn(source::run(self.inner.clone(), rt.clone())));
        }
        *rt.tasks.lock().expect("tasks lock") = tasks;
        Ok(())
    }

    fn runtime(&self, name: &str) -> Result<Arc<Runtime>> {
        self.inner.running.lock().expect("running lock").get(name).cloned().ok_or_else(|| self.not_found(name))
    }

    fn not_found(&self, name: &str) -> DeliveryError {
        DeliveryError::ResourceNotFound(format!(
            "Firehose {name} under account {} not found.",
            self.inner.config.account_id
        ))
    }

    #[must_use]
    pub fn arn(&self, name: &str) -> String {
        format!("arn:aws:firehose:{}:{}:deliverystream/{name}", self.inner.config.region, self.inner.config.account_id)
    }

    fn status(&self, doc: &StreamDoc) -> &'static str {
        let age_ms = (now_ns() - doc.created_ns) / 1_000_000;
        if doc.deleting {
            "DELETING"
        } else if u64::try_from(age_ms).unwrap_or(0) < self.inner.config.activation_delay_ms {
            "CREATING"
        } else {
            "ACTIVE"
        }
    }

    /// CreateDeliveryStream; returns the stream's ARN.
    pub async fn create(&self, req: CreateRequest) -> Result<String> {
        validate_name(&req.name, "deliveryStreamName")?;
        if let Some(other) = &req.other_destination {
            return Err(DeliveryError::InvalidArgument(format!(
                "{other} is not supported by tarn: use ExtendedS3DestinationConfiguration or S3DestinationConfiguration."
            )));
        }
        let stream_type = req.stream_type.clone().unwrap_or_else(|| "DirectPut".into());
        let source = match (stream_type.as_str(), &req.kinesis_source) {
            ("DirectPut", None) => None,
            ("DirectPut", Some(_)) => {
                return Err(DeliveryError::InvalidArgument(
                    "KinesisStreamSourceConfiguration is only allowed for DeliveryStreamType KinesisStreamAsSource."
                        .into(),
                ));
            }
            ("KinesisStreamAsSource", None) => {
                return Err(DeliveryError::InvalidArgument(
                    "KinesisStreamSourceConfiguration is required for DeliveryStreamType KinesisStreamAsSource.".into(),
                ));
            }
            ("KinesisStreamAsSource", Some((arn, role))) => {
                let stream_name =
                    arn.rsplit_once(":stream/").map(|(_, n)| n.to_string()).filter(|n| !n.is_empty()).ok_or_else(
                        || {
                            DeliveryError::InvalidArgument(format!(
                                "KinesisStreamARN {arn} is not a valid Kinesis stream ARN."
                            ))
                        },
                    )?;
                self.inner
                    .streams
                    .describe(&stream_name)
                    .map_err(|_| DeliveryError::InvalidArgument(format!("Kinesis stream {arn} does not exist.")))?;
                if req.encryption.is_some() {
                    return Err(DeliveryError::InvalidArgument(
                        "DeliveryStreamEncryptionConfigurationInput is not supported for KinesisStreamAsSource: the source stream's own encryption applies."
                            .into(),
                    ));
                }
                Some(KinesisSourceDoc {
                    stream_arn: arn.clone(),
                    stream_name,
                    role_arn: role.clone(),
                    start_ms: now_ns() / 1_000_000,
                })
            }
            (other, _) => {
                return Err(DeliveryError::InvalidArgument(format!(
                    "DeliveryStreamType {other} is not supported by tarn (DirectPut, KinesisStreamAsSource)."
                )));
            }
        };
        let destination = req.destination.clone().ok_or_else(|| {
            DeliveryError::InvalidArgument(
                "A destination configuration (ExtendedS3DestinationConfiguration) is required.".into(),
            )
        })?;
        if !destination.is_object() {
            return Err(DeliveryError::InvalidArgument("The destination configuration must be an object.".into()));
        }
        let destination = model::with_defaults(destination);
        Destination::parse(&destination)?;
        let tags = check_tags(&req.tags, &BTreeMap::new())?;
        let encryption = match &req.encryption {
            Some((key_type, key_arn)) => {
                Some(self.new_encryption(&req.name, key_type, key_arn.as_deref(), None).await?)
            }
            None => None,
        };
        let _guard = self.inner.control.lock().await;
        {
            let running = self.inner.running.lock().expect("running lock");
            if running.contains_key(&req.name) {
                return Err(DeliveryError::ResourceInUse(format!(
                    "Firehose {} under accountId {} already exists",
                    req.name, self.inner.config.account_id
                )));
            }
            if running.len() >= limits::STREAMS_MAX {
                return Err(DeliveryError::LimitExceeded(format!(
                    "You have already consumed your firehose quota of {} hoses. Firehose names: ...",
                    limits::STREAMS_MAX
                )));
            }
        }
        let now = now_ns();
        let source_buffer_key = source.is_some().then(|| hex::encode(self.inner.store.master_key().new_data_key().1));
        let doc = StreamDoc {
            name: req.name.clone(),
            incarnation: u64::try_from(now).unwrap_or(0),
            stream_type,
            version_id: 1,
            created_ns: now,
            updated_ns: now,
            source,
            destination,
            tags,
            encryption,
            source_buffer_key,
            deleting: false,
        };
        let record = json_encode(&doc);
        let name = doc.name.clone();
        self.inner
            .store
            .write(move |txn| {
                txn.open_table(STREAMS)?.insert(name.as_str(), record.as_slice())?;
                txn.open_table(PROGRESS)?.insert(name.as_str(), json_encode(&Progress::default()).as_slice())?;
                Ok(())
            })
            .await?;
        self.start(doc)?;
        Ok(self.arn(&req.name))
    }

    /// The encryption a stream asks for, keeping `existing` (the buffer's data key, master-
    /// wrapped) when there is one, so records sealed under it stay readable, else a new key.
    /// A customer key must exist and be enabled; it then keeps the wrapped key.
    async fn new_encryption(
        &self,
        name: &str,
        key_type: &str,
        key_arn: Option<&str>,
        existing: Option<Vec<u8>>,
    ) -> Result<EncryptionDoc> {
        match key_type {
            "AWS_OWNED_CMK" if key_arn.is_some() => {
                return Err(DeliveryError::InvalidArgument(
                    "KeyARN must not be given when KeyType is AWS_OWNED_CMK.".into(),
                ));
            }
            "AWS_OWNED_CMK" => {}
            "CUSTOMER_MANAGED_CMK" if key_arn.is_none() => {
                return Err(DeliveryError::InvalidArgument(
                    "KeyARN is required when KeyType is CUSTOMER_MANAGED_CMK.".into(),
                ));
            }
            "CUSTOMER_MANAGED_CMK" => {}
            other => {
                return Err(DeliveryError::Validation(format!(
                    "1 validation error detected: Value '{other}' at 'deliveryStreamEncryptionConfigurationInput.keyType' failed to satisfy constraint: Member must satisfy enum value set: [AWS_OWNED_CMK, CUSTOMER_MANAGED_CMK]"
                )));
            }
        }
        let wrapped = existing.unwrap_or_else(|| self.inner.store.master_key().new_data_key().1);
        let kms_blob = match key_arn.filter(|_| key_type == "CUSTOMER_MANAGED_CMK") {
            Some(arn) => {
                let kms = &self.inner.kms;
                let account = &self.inner.config.account_id;
                let arn = kms.encryption_key_arn(account, arn).await.map_err(kms_error)?;
                let (blob, _) =
                    kms.encrypt(account, &arn, &wrapped, &self.key_context(name)).await.map_err(kms_error)?;
                Some(hex::encode(blob))
            }
            None => None,
        };
        Ok(EncryptionDoc {
            key_type: key_type.to_string(),
            key_arn: key_arn.map(str::to_string),
            status: "ENABLED".into(),
            wrapped_key: if kms_blob.is_some() { String::new() } else { hex::encode(wrapped) },
            kms_blob,
        })
    }

    /// Writes a changed document and makes the running stream use it.
    async fn save(&self, rt: &Runtime, doc: StreamDoc) -> Result<()> {
        let record = json_encode(&doc);
        let name = doc.name.clone();
        self.inner
            .store
            .write(move |txn| {
                txn.open_table(STREAMS)?.insert(name.as_str(), record.as_slice())?;
                Ok(())
            })
            .await?;
        *rt.doc.lock().expect("doc lock") = doc;
        Ok(())
    }

    /// DescribeDeliveryStream, in the API's shape.
    pub fn describe(&self, name: &str) -> Result<Value> {
        validate_name(name, "deliveryStreamName")?;
        let rt = self.runtime(name)?;
        let doc = rt.doc();
        let mut d = json!({
            "DeliveryStreamName": doc.name,
            "DeliveryStreamARN": self.arn(&doc.name),
            "DeliveryStreamStatus": self.status(&doc),
            "DeliveryStreamType": doc.stream_type,
            "VersionId": doc.version_id.to_string(),
            "CreateTimestamp": doc.created_ns as f64 / 1e9,
            "HasMoreDestinations": false,
            "Destinations": [{
                "DestinationId": DESTINATION_ID,
                "ExtendedS3DestinationDescription": doc.destination,
                "S3DestinationDescription": plain_s3_description(&doc.destination),
            }],
        });
        if doc.version_id > 1 {
            d["LastUpdateTimestamp"] = json!(doc.updated_ns as f64 / 1e9);
        }
        d["DeliveryStreamEncryptionConfiguration"] = match &doc.encryption {
            Some(e) => {
                let mut v = json!({ "KeyType": e.key_type, "Status": e.status });
                if let Some(arn) = &e.key_arn {
                    v["KeyARN"] = json!(arn);
                }
                v
            }
            None => json!({ "Status": "DISABLED" }),
        };
        if let Some(src) = &doc.source {
            d["Source"] = json!({ "KinesisStreamSourceDescription": {
                "KinesisStreamARN": src.stream_arn,
                "RoleARN": src.role_arn,
                "DeliveryStartTimestamp": src.start_ms as f64 / 1e3,
            }});
        }
        if let Some((kind, details)) = rt.failure.lock().expect("failure lock").clone() {
            d["FailureDescription"] = json!({ "Type": kind, "Details": details });
        }
        Ok(d)
    }

    /// ListDeliveryStreams: names in order after `exclusive_start`, and whether more follow.
    pub fn list(
        &self,
        limit: usize,
        stream_type: Option<&str>,
        exclusive_start: Option<&str>,
    ) -> Result<(Vec<String>, bool)> {
        let running = self.inner.running.lock().expect("running lock");
        let mut names: Vec<String> = running
            .iter()
            .filter(|(_, rt)| stream_type.is_none_or(|t| rt.doc().stream_type == t))
            .map(|(n, _)| n.clone())
            .filter(|n| exclusive_start.is_none_or(|s| n.as_str() > s))
            .collect();
        names.sort();
        let more = names.len() > limit;
        names.truncate(limit);
        Ok((names, more))
    }

    /// DeleteDeliveryStream: the stream stops; what is still buffered is dropped, as in AWS.
    pub async fn delete(&self, name: &str) -> Result<()> {
        validate_name(name, "deliveryStreamName")?;
        let _guard = self.inner.control.lock().await;
        let rt = self.runtime(name)?;
        let mut doc = rt.doc();
        doc.deleting = true;
        self.save(&rt, doc.clone()).await?;
        rt.stop();
        self.inner.running.lock().expect("running lock").remove(name);
        // a flush in flight finishes (its progress write is ignored) before the buffer goes
        let tasks = std::mem::take(&mut *rt.tasks.lock().expect("tasks lock"));
        for t in tasks {
            let _ = t.await;
        }
        self.finish_delete(&doc).await
    }

    async fn finish_delete(&self, doc: &StreamDoc) -> Result<()> {
        let dir = self.buffer_dir(doc);
        if let Err(err) = std::fs::remove_dir_all(&dir)
            && err.kind() != std::io::ErrorKind::NotFound
        {
            return Err(StoreError::from(err).into());
        }
        let name = doc.name.clone();
        let incarnation = doc.incarnation;
        self.inner
            .store
            .write(move |txn| {
                let mut streams = txn.open_table(STREAMS)?;
                // a stream of the same name created since is not this one
                let same = match streams.get(name.as_str())? {
                    Some(v) => json_decode::<StreamDoc>(v.value(), "firehose stream")?.incarnation == incarnation,
                    None => false,
                };
                if same {
                    streams.remove(name.as_str())?;
                    txn.open_table(PROGRESS)?.remove(name.as_str())?;
                }
                Ok(())
            })
            .await?;
        Ok(())
    }

    /// UpdateDestination with an `ExtendedS3DestinationUpdate` (or a plain `S3DestinationUpdate`).
    pub async fn update_destination(
        &self,
        name: &str,
        current_version: &str,
        destination_id: &str,
        update: &Value,
    ) -> Result<()> {
        validate_name(name, "deliveryStreamName")?;
        let _guard = self.inner.control.lock().await;
        let rt = self.runtime(name)?;
        let mut doc = rt.doc();
        if destination_id != DESTINATION_ID {
            return Err(DeliveryError::InvalidArgument(format!(
                "Destination Id {destination_id} not found for Firehose {name}."
            )));
        }
        if current_version != doc.version_id.to_string() {
            return Err(DeliveryError::ConcurrentModification(format!(
                "Cannot update firehose: {name} since the current version id: {} and specified version id: {current_version} do not match",
                doc.version_id
            )));
        }
        if !update.is_object() {
            return Err(DeliveryError::InvalidArgument("The destination update must be an object.".into()));
        }
        let merged = model::with_defaults(model::merge_update(&doc.destination, update));
        let dest = Destination::parse(&merged)?;
        doc.destination = merged;
        doc.version_id += 1;
        doc.updated_ns = now_ns();
        self.save(&rt, doc).await?;
        *rt.dest.lock().expect("dest lock") = Arc::new(dest);
        rt.buffer.wake.notify_one();
        Ok(())
    }

    /// PutRecord / PutRecordBatch: the records are durable in the stream's buffer before this
    /// returns. Returns the record ids and whether the buffer is encrypted.
    pub async fn put(&self, name: &str, records: Vec<Vec<u8>>) -> Result<(Vec<String>, bool)> {
        validate_name(name, "deliveryStreamName")?;
        let rt = self.runtime(name)?;
        let doc = rt.doc();
        if doc.stream_type != "DirectPut" {
            return Err(DeliveryError::InvalidArgument(format!(
                "This operation is not permitted on KinesisStreamAsSource type delivery stream {name}."
            )));
        }
        if self.status(&doc) != "ACTIVE" {
            return Err(DeliveryError::ResourceNotFound(format!(
                "Firehose {name} under account {} is not ACTIVE: it is {}.",
                self.inner.config.account_id,
                self.status(&doc)
            )));
        }
        for r in &records {
            if r.len() > limits::RECORD_BYTES_MAX {
                return Err(DeliveryError::Validation(format!(
                    "1 validation error detected: Value at 'record.data' failed to satisfy constraint: Member must have length less than or equal to {}",
                    limits::RECORD_BYTES_MAX
                )));
            }
        }
        let bytes: u64 = records.iter().map(|r| r.len() as u64).sum();
        let count = records.len() as u64;
        let encrypted = doc.encryption.as_ref().is_some_and(|e| e.status == "ENABLED");
        self.ready_to_seal(&rt, &doc)?;
        let numbered = rt.buffer.append(records).await?;
        rt.metrics.incoming(count, bytes);
        let ids = numbered.iter().map(|&(n, _)| record_id(doc.incarnation, n)).collect();
        Ok((ids, encrypted))
    }

    /// TagDeliveryStream.
    pub async fn tag(&self, name: &str, tags: &[(String, Option<String>)]) -> Result<()> {
        validate_name(name, "deliveryStreamName")?;
        let _guard = self.inner.control.lock().await;
        let rt = self.runtime(name)?;
        let mut doc = rt.doc();
        doc.tags = check_tags(tags, &doc.tags)?;
        self.save(&rt, doc).await
    }

    /// UntagDeliveryStream.
    pub async fn untag(&self, name: &str, keys: &[String]) -> Result<()> {
        validate_name(name, "deliveryStreamName")?;
        if keys.is_empty() || keys.len() > limits::TAGS_MAX {
            return Err(DeliveryError::Validation(
                "1 validation error detected: Value at 'tagKeys' failed to satisfy constraint: Member must have length between 1 and 50".into(),
            ));
        }
        let _guard = self.inner.control.lock().await;
        let rt = self.runtime(name)?;
        let mut doc = rt.doc();
        for k in keys {
            doc.tags.remove(k);
        }
        self.save(&rt, doc).await
    }

    /// ListTagsForDeliveryStream: tags after `exclusive_start` in key order, and whether more follow.
    pub fn list_tags(
        &self,
        name: &str,
        exclusive_start: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<(String, String)>, bool)> {
        validate_name(name, "deliveryStreamName")?;
        let rt = self.runtime(name)?;
        let doc = rt.doc();
        let mut tags: Vec<(String, String)> =
            doc.tags.into_iter().filter(|(k, _)| exclusive_start.is_none_or(|s| k.as_str() > s)).collect();
        let more = tags.len() > limit;
        tags.truncate(limit);
        Ok((tags, more))
    }

    /// A DirectPut stream and its document: only those encrypt their buffer.
    fn encryptable(&self, name: &str) -> Result<(Arc<Runtime>, StreamDoc)> {
        validate_name(name, "deliveryStreamName")?;
        let rt = self.runtime(name)?;
        let doc = rt.doc();
        if doc.stream_type != "DirectPut" {
            return Err(DeliveryError::InvalidArgument(format!(
                "Encryption is not supported for delivery stream {name} of type {}: the source stream's encryption applies.",
                doc.stream_type
            )));
        }
        Ok((rt, doc))
    }

    /// StartDeliveryStreamEncryption: new records are sealed in the buffer.
    pub async fn start_encryption(&self, name: &str, key: Option<(String, Option<String>)>) -> Result<()> {
        let _guard = self.inner.control.lock().await;
        let (rt, mut doc) = self.encryptable(name)?;
        let (key_type, key_arn) = key.unwrap_or_else(|| ("AWS_OWNED_CMK".into(), None));
        // keep an existing data key: records sealed under it must stay readable
        let existing = match &doc.encryption {
            Some(e) => Some(self.master_wrapped(name, e)?),
            None => None,
        };
        doc.encryption = Some(self.new_encryption(name, &key_type, key_arn.as_deref(), existing).await?);
        let key = self.data_key(&doc)?;
        self.save(&rt, doc).await?;
        rt.buffer.set_sealing(key, true);
        Ok(())
    }

    /// StopDeliveryStreamEncryption: new records are stored plain; sealed ones stay readable.
    pub async fn stop_encryption(&self, name: &str) -> Result<()> {
        let _guard = self.inner.control.lock().await;
        let (rt, mut doc) = self.encryptable(name)?;
        if let Some(e) = doc.encryption.as_mut() {
            e.status = "DISABLED".into();
        }
        self.save(&rt, doc).await?;
        rt.buffer.set_sealing(None, false);
        Ok(())
    }

    /// Delivery metrics of every stream, in Prometheus text.
    #[must_use]
    pub fn render_metrics(&self) -> String {
        let running: Vec<(String, Arc<Runtime>)> = {
            let r = self.inner.running.lock().expect("running lock");
            let mut v: Vec<_> = r.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        };
        let now_ms = now_ns() / 1_000_000;
        let rows: Vec<(String, Arc<StreamMetrics>, buffer::Pending)> =
            running.into_iter().map(|(n, rt)| (n, rt.metrics.clone(), rt.buffer.pending())).collect();
        metrics::render(&rows, now_ms)
    }
}

/// AWS's record ids are long opaque strings; tarn's name the stream incarnation and position.
fn record_id(incarnation: u64, n: u64) -> String {
    format!("{incarnation:016x}{n:016x}{:032x}", u128::from(incarnation) << 64 | u128::from(n))
}

fn check_tags(
    new: &[(String, Option<String>)],
    current: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>> {
    let mut out = current.clone();
    for (k, v) in new {
        if k.is_empty() || k.chars().count() > 128 || k.starts_with("aws:") {
            return Err(DeliveryError::InvalidArgument(format!(
                "Tag key '{k}' is not valid: keys are 1 to 128 characters and may not start with 'aws:'."
            )));
        }
        let v = v.clone().unwrap_or_default();
        if v.chars().count() > 256 {
            return Err(DeliveryError::InvalidArgument(format!(
                "The value of tag '{k}' is longer than 256 characters."
            )));
        }
        out.insert(k.clone(), v);
    }
    if out.len() > limits::TAGS_MAX {
        return Err(DeliveryError::LimitExceeded(format!(
            "A delivery stream can have at most {} tags; this request would give it {}.",
            limits::TAGS_MAX,
            out.len()
        )));
    }
    Ok(out)
}

/// The plain `S3DestinationDescription` AWS also returns for an extended destination.
fn plain_s3_description(extended: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for k in [
        "RoleARN",
        "BucketARN",
        "Prefix",
        "ErrorOutputPrefix",
        "BufferingHints",
        "CompressionFormat",
        "EncryptionConfiguration",
        "CloudWatchLoggingOptions",
    ] {
        if let Some(v) = extended.get(k) {
            out.insert(k.to_string(), v.clone());
        }
    }
    Value::Object(out)
}
