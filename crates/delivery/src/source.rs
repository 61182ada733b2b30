//! A Kinesis data stream as a delivery stream's source: one task per delivery stream reads
//! every shard from its checkpoint (at first from the delivery stream's creation time), appends
//! the records to the buffer (durable) and then commits the checkpoints. A crash between the
//! two reads those records again: at least once. A closed shard is read to its end before its
//! children, so each partition key's order holds across a reshard.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tarn_streams::IteratorStart;

use crate::model::ShardCheckpoint;
use crate::{Inner, Runtime, load_progress, update_progress};

/// Pause between polls when every shard is caught up (AWS polls each shard about once a second).
const IDLE_POLL: Duration = Duration::from_millis(200);
/// Records read from one shard per poll.
const READ_LIMIT: usize = 10_000;

pub(crate) async fn run(inner: Arc<Inner>, rt: Arc<Runtime>) {
    let doc = rt.doc();
    let Some(src) = doc.source.clone() else { return };
    let mut checkpoints: BTreeMap<String, ShardCheckpoint> = match load_progress(&inner.store, &doc.name) {
        Ok(p) => p.shards,
        Err(err) => {
            tracing::error!(stream = %doc.name, %err, "cannot read the Kinesis checkpoints; the source stays idle");
            return;
        }
    };
    while !rt.stopped.load(Ordering::SeqCst) {
        match poll(&inner, &rt, &src.stream_name, src.start_ms, &mut checkpoints).await {
            Ok(true) => {}
            Ok(false) => tokio::time::sleep(IDLE_POLL).await,
            Err(message) => {
                tracing::warn!(stream = %doc.name, source = %src.stream_name, %message, "reading the Kinesis source failed; retrying");
                *rt.failure.lock().expect("failure lock") = Some(("UNKNOWN_ERROR".into(), message));
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Reads one page from every readable shard; returns whether anything was read.
async fn poll(
    inner: &Inner,
    rt: &Runtime,
    stream: &str,
    start_ms: i64,
    checkpoints: &mut BTreeMap<String, ShardCheckpoint>,
) -> Result<bool, String> {
    may_read(inner, rt)?;
    let desc = inner.streams.describe(stream).map_err(|e| format!("Kinesis stream {stream}: {e}"))?;
    let known: std::collections::HashSet<&str> = desc.shards.iter().map(|s| s.id.as_str()).collect();
    let mut any = false;
    for shard in &desc.shards {
        let cp = checkpoints.get(&shard.id).cloned().unwrap_or_default();
        if cp.finished {
            continue;
        }
        // parents first: a child waits until each parent still kept is read to its end
        let parent_pending = [&shard.parent_shard_id, &shard.adjacent_parent_shard_id]
            .into_iter()
            .flatten()
            .any(|p| known.contains(p.as_str()) && !checkpoints.get(p).is_some_and(|c| c.finished));
        if parent_pending {
            continue;
        }
        let start = match &cp.last_sequence_number {
            Some(seq) => IteratorStart::AfterSequenceNumber(seq.clone()),
            None => IteratorStart::AtTimestamp(start_ms),
        };
        let iterator = inner
            .streams
            .get_shard_iterator(stream, &shard.id, start)
            .map_err(|e| format!("shard {}: {e}", shard.id))?;
        let page = inner.streams.get_records(&iterator, READ_LIMIT).map_err(|e| format!("shard {}: {e}", shard.id))?;
        let mut next = cp.clone();
        if let Some(last) = page.records.last() {
            next.last_sequence_number = Some(last.sequence_number.clone());
            let data: Vec<Vec<u8>> = page.records.into_iter().map(|r| r.data).collect();
            let count = data.len() as u64;
            let bytes: u64 = data.iter().map(|d| d.len() as u64).sum();
            rt.buffer.append(data).await.map_err(|e| format!("buffering records: {e}"))?;
            rt.metrics.incoming(count, bytes);
            any = true;
        } else if shard.ending_sequence_number.is_some() && page.next_iterator.is_none() {
            next.finished = true;
        } else {
            continue;
        }
        let (doc, id, cp2) = (rt.doc(), shard.id.clone(), next.clone());
        update_progress(&inner.store, &doc.name, doc.incarnation, move |p| {
            p.shards.insert(id, cp2);
        })
        .await
        .map_err(|e| format!("recording the Kinesis checkpoint: {e}"))?;
        checkpoints.insert(shard.id.clone(), next);
    }
    Ok(any)
}

/// The source is read as its RoleARN, as Firehose reads it: the role's trust policy must let
/// Firehose in, and its policies allow reading the stream (a role the directory does not hold
/// lets the service read for the account, as crawlers and delivery do). Checked before every
/// poll, so a policy change takes effect at once; a refusal reads nothing and is reported.
fn may_read(inner: &Inner, rt: &Runtime) -> Result<(), String> {
    let Some(iam) = inner.iam.get() else { return Ok(()) };
    let doc = rt.doc();
    let Some(src) = &doc.source else { return Ok(()) };
    let denied = |why: String| {
        format!(
            "Kinesis.AccessDenied: Access was denied. Ensure that the trust policy for the provided IAM role allows \
             Firehose to assume the role, and the access policy allows reading the Kinesis stream. ({why})"
        )
    };
    let Some(who) = iam.service_role(&src.role_arn, "firehose.amazonaws.com").map_err(denied)? else { return Ok(()) };
    let mut context = tarn_iam::policy::Context::new();
    context.set("aws:SecureTransport", "true");
    // the stream's ARN as tarn names it (the region it serves, the home account)
    let (region, account) = (&inner.config.region, &inner.config.account_id);
    let arn = format!("arn:aws:kinesis:{region}:{account}:stream/{}", src.stream_name);
    for action in ["kinesis:DescribeStream", "kinesis:GetShardIterator", "kinesis:GetRecords"] {
        if !iam.authorize(&who, action, &arn, &context, None, iam.account_id()).allowed() {
            return Err(denied(format!("{} may not {action} on {arn}", who.arn)));
        }
    }
    // a stream that holds sealed records is read only with kms:Decrypt under its key
    if let Ok(stream) = inner.streams.describe(&src.stream_name)
        && !stream.sse.keys.is_empty()
        && let Some((key_arn, policy)) = inner.kms.access_of(account, &stream.sse.key_arn)
    {
        let policy = tarn_iam::policy::Policy::parse_as(&policy, tarn_iam::policy::Kind::Resource).ok();
        let encryption_context = BTreeMap::from([("aws:kinesis:arn".to_string(), arn.clone())]);
        let (op, action) = ("Decrypt", "kms:Decrypt");
        inner
            .objects
            .authorize_key(iam, &who, action, op, &key_arn, account, policy.as_ref(), &context, &encryption_context)
            .map_err(|_| denied(format!("{} may not {action} on {key_arn}", who.arn)))?;
    }
    Ok(())
}
