//! Delivery: each logging trail's records, after its checkpoint, as gzip JSON objects in its
//! bucket; then the checkpoint, in its own commit. A file's name derives from its first record,
//! so delivering again after a crash rewrites the same object.

use std::io::Write as _;
use std::time::Duration;

use tarn_objects::checksum::ChecksumAlgorithm;
use tarn_objects::{ChecksumInput, ObjectMeta, Objects, PutRequest, SseRequest, WriteConditions};
use tarn_store::StoreError;

use crate::{Audit, Facets, Result, Trail};

/// What a delivery read: the last record number, and the file (key, gzip bytes) if any of the
/// records is the trail's.
type Built = (u64, Option<(String, Vec<u8>)>);

/// Records read per delivered file at most.
const FILE_RECORDS_MAX: usize = 10_000;

/// `YYYY/MM/DD` and `YYYYMMDDTHHmmZ` of a record's eventTime (`2026-12-08T00:00:00Z`).
fn stamps(event_time: &str) -> (String, String) {
    let d = event_time.as_bytes();
    if d.len() < 16 || !event_time.is_ascii() {
        return ("1970/01/01".into(), "19700101T0000Z".into());
    }
    let (y, m, day, h, min) =
        (&event_time[0..4], &event_time[5..7], &event_time[8..10], &event_time[11..13], &event_time[14..16]);
    (format!("{y}/{m}/{day}"), format!("{y}{m}{day}T{h}{min}Z"))
}

/// The object key of a trail's file whose first record is `first` (CloudTrail's layout).
#[must_use]
pub fn file_key(prefix: Option<&str>, account: &str, region: &str, event_time: &str, first: u64) -> String {
    let (day, minute) = stamps(event_time);
    let prefix = prefix.map(|p| format!("{}/", p.trim_end_matches('/'))).unwrap_or_default();
    format!(
        "{prefix}AWSLogs/{account}/CloudTrail/{region}/{day}/{account}_CloudTrail_{region}_{minute}_{first:016X}.json.gz"
    )
}

impl Audit {
    /// Delivers every logging trail's new records; answers the files written.
    pub async fn deliver(&self, objects: &Objects) -> Result<usize> {
        let mut files = 0;
        for trail in self.trails() {
            if trail.logging {
                files += self.deliver_trail(objects, &trail.name).await?;
            }
        }
        Ok(files)
    }

    async fn deliver_trail(&self, objects: &Objects, name: &str) -> Result<usize> {
        let mut files = 0;
        loop {
            let trail = self.trail(name)?;
            if !trail.logging || trail.checkpoint >= self.next_record() {
                return Ok(files);
            }
            // reading, opening, filtering and compressing a file's records is CPU work: off the
            // async threads, which answer the calls being recorded
            let (this, from, chosen) = (self.clone(), trail.checkpoint, trail.clone());
            let built = tokio::task::spawn_blocking(move || this.build_file(&chosen, from))
                .await
                .map_err(|e| StoreError::Bug(format!("a trail file's builder stopped: {e}")))??;
            let Some((last, file)) = built else { return Ok(files) };
            let now = self.now();
            let delivered = file.is_some();
            if let Some((key, gz)) = file {
                let len = gz.len() as u64;
                let put = objects
                    .put_object(PutRequest {
                        bucket: trail.bucket.clone(),
                        key,
                        meta: ObjectMeta { content_type: Some("application/json".into()), ..ObjectMeta::default() },
                        body: Box::pin(futures::stream::once(async move {
                            Ok::<_, tarn_objects::BoxError>(bytes::Bytes::from(gz))
                        })),
                        declared_len: Some(len),
                        content_md5: None,
                        checksum: ChecksumInput::Compute(ChecksumAlgorithm::Crc64Nvme),
                        conditions: WriteConditions::default(),
                        sse: SseRequest::BucketDefault,
                    })
                    .await;
                if let Err(e) = put {
                    let message = e.to_string();
                    tracing::warn!(trail = name, error = %message, "a trail's delivery failed; it is retried");
                    self.change_trail(name, |t| {
                        t.latest_delivery_attempt_ms = Some(now);
                        t.last_delivery_error = Some(message);
                        Ok(())
                    })
                    .await?;
                    return Ok(files);
                }
                files += 1;
            }
            self.change_trail(name, |t| {
                t.checkpoint = t.checkpoint.max(last + 1);
                if delivered {
                    t.last_delivery_ms = Some(now);
                    t.latest_delivery_attempt_ms = Some(now);
                    t.last_delivery_error = None;
                }
                Ok(())
            })
            .await?;
        }
    }

    /// The next file of `trail` from record `from` on: (the last record read, and the file's key
    /// and gzip bytes if any record read is the trail's), or None when there is nothing new.
    /// Compressed at gzip's fastest level: a trail with data events compresses every call
    /// while the server answers them, and the files are as valid.
    fn build_file(&self, trail: &Trail, from: u64) -> Result<Option<Built>> {
        let records = self.read_bytes(from, FILE_RECORDS_MAX)?;
        let Some(&(last, _)) = records.last() else { return Ok(None) };
        let first = records[0].0;
        // the file is the taken records' own JSON, joined: nothing is parsed but the facets
        // the selectors read
        let mut body = b"{\"Records\":[".to_vec();
        let mut time: Option<String> = None;
        for (_, json) in &records {
            let facets = Facets::parse(json)?;
            if !trail.takes(&facets) {
                continue;
            }
            if time.is_some() {
                body.push(b',');
            } else {
                time = Some(facets.event_time.into_owned());
            }
            body.extend_from_slice(json);
        }
        let Some(time) = time else { return Ok(Some((last, None))) };
        body.extend_from_slice(b"]}");
        let key = file_key(trail.prefix.as_deref(), &trail.account, &trail.region, &time, first);
        let mut gz = flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 8), flate2::Compression::fast());
        gz.write_all(&body).and_then(|()| gz.flush()).map_err(StoreError::from)?;
        Ok(Some((last, Some((key, gz.finish().map_err(StoreError::from)?)))))
    }

    /// Delivers every `interval` and drops records past the retention window, until the
    /// process ends.
    pub async fn run(self, objects: Objects, interval: Duration) {
        loop {
            tokio::time::sleep(interval).await;
            if let Err(e) = self.deliver(&objects).await {
                tracing::warn!(error = %e, "trail delivery failed");
            }
            if let Err(e) = self.enforce_retention() {
                tracing::warn!(error = %e, "dropping old audit records failed");
            }
        }
    }
}
