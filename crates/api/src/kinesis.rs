//! Kinesis Data Streams over JSON 1.1 (`X-Amz-Target: Kinesis_20131202.<Operation>`).
//!
//! DTOs follow botocore's `kinesis/2013-12-02` model: PascalCase members, timestamps as epoch
//! seconds, hash keys as decimal strings. Errors are `{"__type": ..., "message": ...}`.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use serde_json::{Value, json};
use tarn_streams::{StreamMode, StreamRecord, Streams, StreamsError};

use crate::json::JsonError;

fn err(e: StreamsError) -> JsonError {
    match e {
        StreamsError::ResourceNotFound(m) => JsonError::client("ResourceNotFoundException", m),
        StreamsError::ResourceInUse(m) => JsonError::client("ResourceInUseException", m),
        StreamsError::LimitExceeded(m) => JsonError::client("LimitExceededException", m),
        StreamsError::InvalidArgument(m) => JsonError::client("InvalidArgumentException", m),
        StreamsError::Validation(m) => JsonError::client("ValidationException", m),
        StreamsError::ExpiredIterator(m) => JsonError::client("ExpiredIteratorException", m),
        StreamsError::ProvisionedThroughputExceeded(m) => {
            JsonError::client("ProvisionedThroughputExceededException", m)
        }
        StreamsError::Store(inner) => {
            tracing::error!(error = %inner, "kinesis storage failure");
            JsonError::internal()
        }
    }
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, JsonError> {
    let body = if body.is_empty() { b"{}".as_slice() } else { body };
    serde_json::from_slice(body)
        .map_err(|e| JsonError::client("SerializationException", format!("the request body is not valid: {e}")))
}

fn epoch_seconds(ns: i64) -> Value {
    // JSON 1.1 timestamps are epoch seconds, fractional
    json!(ns as f64 / 1e9)
}

fn shard_json(s: &tarn_streams::ShardRecord) -> Value {
    let mut range = json!({ "StartingSequenceNumber": s.starting_sequence_number });
    if let Some(end) = &s.ending_sequence_number {
        range["EndingSequenceNumber"] = json!(end);
    }
    let mut v = json!({
        "ShardId": s.id,
        "HashKeyRange": {
            "StartingHashKey": s.starting_hash_key.to_string(),
            "EndingHashKey": s.ending_hash_key.to_string(),
        },
        "SequenceNumberRange": range,
    });
    if let Some(p) = &s.parent_shard_id {
        v["ParentShardId"] = json!(p);
    }
    if let Some(p) = &s.adjacent_parent_shard_id {
        v["AdjacentParentShardId"] = json!(p);
    }
    v
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ModeDetails {
    stream_mode: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateStreamInput {
    stream_name: Option<String>,
    shard_count: Option<i64>,
    stream_mode_details: Option<ModeDetails>,
    tags: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StreamRef {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    limit: Option<i64>,
    exclusive_start_shard_id: Option<String>,
    enforce_consumer_deletion: Option<bool>,
    retention_period_hours: Option<i64>,
    tags: Option<BTreeMap<String, String>>,
    tag_keys: Option<Vec<String>>,
    exclusive_start_tag_key: Option<String>,
    stream_mode_details: Option<ModeDetails>,
    consumer_name: Option<String>,
    #[serde(rename = "ConsumerARN")]
    consumer_arn: Option<String>,
    shard_to_split: Option<String>,
    new_starting_hash_key: Option<String>,
    shard_to_merge: Option<String>,
    adjacent_shard_to_merge: Option<String>,
    target_shard_count: Option<i64>,
    scaling_type: Option<String>,
}

fn consumer_json(streams: &Streams, stream: &str, c: &tarn_streams::ConsumerRecord, with_stream: bool) -> Value {
    let mut v = json!({
        "ConsumerName": c.name,
        "ConsumerARN": streams.consumer_arn(stream, c),
        "ConsumerStatus": "ACTIVE",
        "ConsumerCreationTimestamp": epoch_seconds(c.created_ns),
    });
    if with_stream {
        v["StreamARN"] = json!(streams.arn(stream));
    }
    v
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListStreamsInput {
    limit: Option<i64>,
    exclusive_start_stream_name: Option<String>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ShardFilter {
    #[serde(rename = "Type")]
    kind: String,
    shard_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListShardsInput {
    shard_filter: Option<ShardFilter>,
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    next_token: Option<String>,
    exclusive_start_shard_id: Option<String>,
    max_results: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    data: Option<String>,
    partition_key: Option<String>,
    explicit_hash_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordsEntry {
    data: Option<String>,
    partition_key: Option<String>,
    explicit_hash_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordsInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    records: Option<Vec<PutRecordsEntry>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetShardIteratorInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    shard_id: Option<String>,
    shard_iterator_type: Option<String>,
    starting_sequence_number: Option<String>,
    timestamp: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetRecordsInput {
    shard_iterator: Option<String>,
    limit: Option<i64>,
}

fn decode_data(data: Option<String>) -> Result<Vec<u8>, JsonError> {
    let data = data.ok_or_else(|| missing("data"))?;
    base64_simd::STANDARD
        .decode_to_vec(data.as_bytes())
        .map_err(|_| JsonError::client("SerializationException", "Data is not valid base64."))
}

fn limit(value: Option<i64>, default: usize, max: i64, member: &str) -> Result<usize, JsonError> {
    match value {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(usize::try_from(n).expect("positive")),
        Some(n) => Err(JsonError::client(
            "ValidationException",
            format!(
                "1 validation error detected: Value '{n}' at '{member}' failed to satisfy constraint: Member must have value between 1 and {max}"
            ),
        )),
    }
}

/// Reads a page on a blocking thread: up to 10 MiB of file reads and checksums.
async fn get_records_page(streams: &Streams, body: &[u8]) -> Result<tarn_streams::RecordsPage, JsonError> {
    let input: GetRecordsInput = parse(body)?;
    let iterator = input.shard_iterator.ok_or_else(|| missing("shardIterator"))?;
    let max = limit(input.limit, 10_000, 10_000, "limit")?;
    let streams = streams.clone();
    tokio::task::spawn_blocking(move || streams.get_records(&iterator, max))
        .await
        .map_err(|_| JsonError::internal())?
        .map_err(err)
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct RecordJson<'a> {
    sequence_number: &'a str,
    approximate_arrival_timestamp: f64,
    data: String,
    partition_key: &'a str,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetRecordsJson<'a> {
    records: Vec<RecordJson<'a>>,
    millis_behind_latest: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_shard_iterator: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    child_shards: Vec<Value>,
}

/// A ChildShard as GetRecords names it: id, parents, hash key range.
fn child_shard_json(s: &tarn_streams::ShardRecord) -> Value {
    let parents: Vec<&String> = s.parent_shard_id.iter().chain(s.adjacent_parent_shard_id.iter()).collect();
    json!({
        "ShardId": s.id,
        "ParentShards": parents,
        "HashKeyRange": {
            "StartingHashKey": s.starting_hash_key.to_string(),
            "EndingHashKey": s.ending_hash_key.to_string(),
        },
    })
}

/// GetRecords straight to JSON bytes: the hot read path, without building a value tree of up
/// to 10,000 records first.
pub async fn get_records_json(streams: &Streams, body: &[u8]) -> Result<Vec<u8>, JsonError> {
    let page = get_records_page(streams, body).await?;
    #[allow(clippy::cast_precision_loss)]
    let records = page
        .records
        .iter()
        .map(|r| RecordJson {
            sequence_number: &r.sequence_number,
            approximate_arrival_timestamp: r.arrival_ms as f64 / 1000.0,
            data: base64_simd::STANDARD.encode_to_string(&r.data),
            partition_key: &r.partition_key,
        })
        .collect();
    let out = GetRecordsJson {
        records,
        millis_behind_latest: page.millis_behind_latest,
        next_shard_iterator: page.next_iterator,
        child_shards: page.child_shards.iter().map(child_shard_json).collect(),
    };
    serde_json::to_vec(&out).map_err(|_| JsonError::internal())
}

/// Runs one Kinesis operation.
pub async fn handle(streams: &Streams, operation: &str, body: &[u8]) -> Result<Value, JsonError> {
    match operation {
        "CreateStream" => {
            let input: CreateStreamInput = parse(body)?;
            let name = input.stream_name.ok_or_else(|| missing("streamName"))?;
            let mode = input
                .stream_mode_details
                .map(|m| StreamMode::parse(&m.stream_mode))
                .transpose()
                .map_err(err)?
                .unwrap_or(StreamMode::Provisioned);
            let tags = input.tags.unwrap_or_default().into_iter().collect();
            streams.create_stream(&name, input.shard_count, mode, tags).await.map_err(err)?;
            Ok(json!({}))
        }
        "DeleteStream" => {
            let input: StreamRef = parse(body)?;
            let name = streams.resolve_name(input.stream_name.as_deref(), input.stream_arn.as_deref()).map_err(err)?;
            streams.delete_stream(&name, input.enforce_consumer_deletion.unwrap_or(false)).await.map_err(err)?;
            Ok(json!({}))
        }
        "SplitShard" => {
            let input: StreamRef = parse(body)?;
            let name = streams.resolve_name(input.stream_name.as_deref(), input.stream_arn.as_deref()).map_err(err)?;
            let shard = input.shard_to_split.ok_or_else(|| missing("shardToSplit"))?;
            let key = input.new_starting_hash_key.ok_or_else(|| missing("newStartingHashKey"))?;
            streams.split_shard(&name, &shard, &key).await.map_err(err)?;
            Ok(json!({}))
        }
        "MergeShards" => {
            let input: StreamRef = parse(body)?;
            let name = streams.resolve_name(input.stream_name.as_deref(), input.stream_arn.as_deref()).map_err(err)?;
            let a = input.shard_to_merge.ok_or_else(|| missing("shardToMerge"))?;
            let b = input.adjacent_shard_to_merge.ok_or_else(|| missing("adjacentShardToMerge"))?;
            streams.merge_shards(&name, &a, &b).await.map_err(err)?;
            Ok(json!({}))
        }
        "UpdateShardCount" => {
            let input: StreamRef = parse(body)?;
            let name = streams.resolve_name(input.stream_name.as_deref(), input.stream_arn.as_deref()).map_err(err)?;
            let target = input.target_shard_count.ok_or_else(|| missing("targetShardCount"))?;
            match input.scaling_type.as_deref() {
                Some("UNIFORM_SCALING") => {}
                Some(other) => {
                    return Err(JsonError::client(
                        "ValidationException",
                        format!(
                            "1 validation error detected: Value '{other}' at 'scalingType' failed to satisfy constraint: Member must satisfy enum value set: [UNIFORM_SCALING]"
                        ),
                    ));
                }
                None => return Err(missing("scalingType")),
            }
            let (current, target) = streams.update_shard_count(&name, target).await.map_err(err)?;
            Ok(json!({
                "StreamName": name,
                "StreamARN": streams.arn(&name),
                "CurrentShardCount": current,
                "TargetShardCount": target,
            }))
        }
        "IncreaseStreamRetentionPeriod" | "DecreaseStreamRetentionPeriod" => {
            let input: StreamRef = parse(body)?;
            let name = streams.resolve_name(input.stream_name.as_deref(), input.stream_arn.as_deref()).map_err(err)?;
            let hours = input.retention_period_hours.ok_or_else(|| missing("retentionPeriodHours"))?;
            streams.set_retention(&name, hours, operation.starts_with("Increase")).await.map_err(err)?;
            Ok(json!({}))
        }
        "AddTagsToStream" => {
            let input: StreamRef = parse(body)?;
            let name = streams.resolve_name(input.stream_name.as_deref(), input.stream_arn.as_deref()).map_err(err)?;
            let tags = input.tags.ok_or_else(|| missing("tags"))?;
            streams.add_tags(&name, tags.into_iter().collect()).await.map_err(err)?;
            Ok(json!({}))
        }
        "RemoveTagsFromStream" => {
            let input: StreamRef = parse(body)?;
            let name = streams.resolve_name(input.stream_name.as_deref(), input.stream_arn.as_deref()).map_err(err)?;
            let keys = input.tag_keys.ok_or_else(|| missing("tagKeys"))?;
            streams.remove_tags(&name, keys).await.map_err(err)?;
            Ok(json!({}))
        }
        "ListTagsForStream" => {
            let input: StreamRef = parse(body)?;
            let name = streams.resolve_name(input.stream_name.as_deref(), input.stream_arn.as_deref()).map_err(err)?;
            let max = limit(input.limit, 50, 50, "limit")?;
            let stream = streams.describe(&name).map_err(err)?;
            let after = input.exclusive_start_tag_key.as_deref();
            let mut tags: Vec<&(String, String)> =
                stream.tags.iter().filter(|(k, _)| after.is_none_or(|a| k.as_str() > a)).collect();
            let more = tags.len() > max;
            tags.truncate(max);
            Ok(json!({
                "Tags": tags.iter().map(|(k, v)| json!({ "Key": k, "Value": v })).collect::<Vec<_>>(),
                "HasMoreTags": more,
            }))
        }
        "UpdateStreamMode" => {
            let input: StreamRef = parse(body)?;
            let name = streams
                .resolve_name(None, Some(input.stream_arn.as_deref().ok_or_else(|| missing("streamARN"))?))
                .map_err(err)?;
            let mode = input.stream_mode_details.ok_or_else(|| missing("streamModeDetails"))?;
            let mode = StreamMode::parse(&mode.stream_mode).map_err(err)?;
            streams.set_mode(&name, mode).await.map_err(err)?;
            Ok(json!({}))
        }
        "RegisterStreamConsumer" => {
            let input: StreamRef = parse(body)?;
            let arn = input.stream_arn.ok_or_else(|| missing("streamARN"))?;
            let name = streams.resolve_name(None, Some(&arn)).map_err(err)?;
            let consumer_name = input.consumer_name.ok_or_else(|| missing("consumerName"))?;
            let c = streams.register_consumer(&name, &consumer_name).await.map_err(err)?;
            Ok(json!({ "Consumer": consumer_json(streams, &name, &c, false) }))
        }
        "ListStreamConsumers" => {
            let input: StreamRef = parse(body)?;
            let arn = input.stream_arn.ok_or_else(|| missing("streamARN"))?;
            let name = streams.resolve_name(None, Some(&arn)).map_err(err)?;
            let consumers = streams.list_consumers(&name).map_err(err)?;
            Ok(
                json!({ "Consumers": consumers.iter().map(|c| consumer_json(streams, &name, c, false)).collect::<Vec<_>>() }),
            )
        }
        "DescribeStreamConsumer" | "DeregisterStreamConsumer" => {
            let input: StreamRef = parse(body)?;
            let (name, consumer_name) =
                match (input.consumer_arn.as_deref(), input.stream_arn.as_deref(), input.consumer_name) {
                    (Some(carn), _, _) => streams.parse_consumer_arn(carn).map_err(err)?,
                    (None, Some(sarn), Some(c)) => (streams.resolve_name(None, Some(sarn)).map_err(err)?, c),
                    _ => {
                        return Err(JsonError::client(
                            "InvalidArgumentException",
                            "Either ConsumerARN or both StreamARN and ConsumerName must be provided.",
                        ));
                    }
                };
            if operation == "DeregisterStreamConsumer" {
                streams.deregister_consumer(&name, &consumer_name).await.map_err(err)?;
                return Ok(json!({}));
            }
            let c = streams.describe_consumer(&name, &consumer_name).map_err(err)?;
            Ok(json!({ "ConsumerDescription": consumer_json(streams, &name, &c, true) }))
        }
        "DescribeStream" => {
            let input: StreamRef = parse(body)?;
            let name = streams.resolve_name(input.stream_name.as_deref(), input.stream_arn.as_deref()).map_err(err)?;
            let max = limit(input.limit, 100, 10_000, "limit")?;
            let stream = streams.describe(&name).map_err(err)?;
            let after = input.exclusive_start_shard_id.as_deref();
            let mut shards: Vec<&tarn_streams::ShardRecord> =
                stream.shards.iter().filter(|s| after.is_none_or(|a| s.id.as_str() > a)).collect();
            let has_more = shards.len() > max;
            shards.truncate(max);
            let mut desc = description(streams, &stream);
            desc["Shards"] = Value::Array(shards.into_iter().map(shard_json).collect());
            desc["HasMoreShards"] = json!(has_more);
            Ok(json!({ "StreamDescription": desc }))
        }
        "DescribeStreamSummary" => {
            let input: StreamRef = parse(body)?;
            let name = streams.resolve_name(input.stream_name.as_deref(), input.stream_arn.as_deref()).map_err(err)?;
            let stream = streams.describe(&name).map_err(err)?;
            let mut desc = description(streams, &stream);
            desc["OpenShardCount"] = json!(stream.open_shards());
            desc["ConsumerCount"] = json!(streams.list_consumers(&name).map_err(err)?.len());
            Ok(json!({ "StreamDescriptionSummary": desc }))
        }
        "ListStreams" => {
            let input: ListStreamsInput = parse(body)?;
            let max = limit(input.limit, 100, 10_000, "limit")?;
            let after = match input.next_token.as_deref() {
                Some(token) => Some(
                    B64.decode(token)
                        .ok()
                        .and_then(|b| String::from_utf8(b).ok())
                        .ok_or_else(|| JsonError::client("InvalidArgumentException", "The NextToken is not valid."))?,
                ),
                None => input.exclusive_start_stream_name,
            };
            let (page, more) = streams.list(after.as_deref(), max).map_err(err)?;
            let mut out = json!({
                "StreamNames": page.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
                "HasMoreStreams": more,
                "StreamSummaries": page.iter().map(|s| json!({
                    "StreamName": s.name,
                    "StreamARN": streams.arn(&s.name),
                    "StreamStatus": streams.status(s).as_str(),
                    "StreamModeDetails": { "StreamMode": s.mode.as_str() },
                    "StreamCreationTimestamp": epoch_seconds(s.created_ns),
                })).collect::<Vec<_>>(),
            });
            if more && let Some(last) = page.last() {
                out["NextToken"] = json!(B64.encode(last.name.as_bytes()));
            }
            Ok(out)
        }
        "ListShards" => {
            let input: ListShardsInput = parse(body)?;
            let max = limit(input.max_results, 1000, 10_000, "maxResults")?;
            let (name, after) = match input.next_token.as_deref() {
                Some(token) => {
                    if input.stream_name.is_some() || input.stream_arn.is_some() {
                        return Err(JsonError::client(
                            "InvalidArgumentException",
                            "NextToken and StreamName cannot be provided together.",
                        ));
                    }
                    let raw = B64
                        .decode(token)
                        .ok()
                        .and_then(|b| String::from_utf8(b).ok())
                        .and_then(|s| s.split_once('\n').map(|(a, b)| (a.to_string(), b.to_string())))
                        .ok_or_else(|| JsonError::client("InvalidArgumentException", "The NextToken is not valid."))?;
                    (raw.0, Some(raw.1))
                }
                None => (
                    streams.resolve_name(input.stream_name.as_deref(), input.stream_arn.as_deref()).map_err(err)?,
                    input.exclusive_start_shard_id,
                ),
            };
            let stream = streams.describe(&name).map_err(err)?;
            // ShardFilter: AFTER_SHARD_ID starts after a shard; AT_LATEST keeps open shards;
            // the trim-horizon and timestamp filters keep every shard tarn still holds (all of
            // them are within retention), a superset of what they name
            let (after, only_open) = match input.shard_filter {
                None => (after, false),
                Some(f) => match f.kind.as_str() {
                    "AFTER_SHARD_ID" => (
                        Some(f.shard_id.ok_or_else(|| {
                            JsonError::client(
                                "InvalidArgumentException",
                                "ShardFilter of type AFTER_SHARD_ID needs a ShardId.",
                            )
                        })?),
                        false,
                    ),
                    "AT_LATEST" => (after, true),
                    "AT_TRIM_HORIZON" | "FROM_TRIM_HORIZON" | "AT_TIMESTAMP" | "FROM_TIMESTAMP" => (after, false),
                    other => {
                        return Err(JsonError::client(
                            "ValidationException",
                            format!(
                                "1 validation error detected: Value '{other}' at 'shardFilter.type' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SHARD_ID, AT_TRIM_HORIZON, FROM_TRIM_HORIZON, AT_LATEST, AT_TIMESTAMP, FROM_TIMESTAMP]"
                            ),
                        ));
                    }
                },
            };
            let mut shards: Vec<&tarn_streams::ShardRecord> = stream
                .shards
                .iter()
                .filter(|s| after.as_deref().is_none_or(|a| s.id.as_str() > a))
                .filter(|s| !only_open || s.ending_sequence_number.is_none())
                .collect();
            let more = shards.len() > max;
            shards.truncate(max);
            let mut out = json!({ "Shards": shards.iter().map(|s| shard_json(s)).collect::<Vec<_>>() });
            if more && let Some(last) = shards.last() {
                out["NextToken"] = json!(B64.encode(format!("{name}\n{}", last.id)));
            }
            Ok(out)
        }
        "PutRecord" => {
            let input: PutRecordInput = parse(body)?;
            let name = streams.resolve_name(input.stream_name.as_deref(), input.stream_arn.as_deref()).map_err(err)?;
            let key = input.partition_key.ok_or_else(|| missing("partitionKey"))?;
            let data = decode_data(input.data)?;
            let (shard, seq) =
                streams.put_record(&name, &key, input.explicit_hash_key.as_deref(), &data).await.map_err(err)?;
            Ok(json!({ "ShardId": shard, "SequenceNumber": seq, "EncryptionType": "NONE" }))
        }
        "PutRecords" => {
            let input: PutRecordsInput = parse(body)?;
            let name = streams.resolve_name(input.stream_name.as_deref(), input.stream_arn.as_deref()).map_err(err)?;
            let entries = input.records.ok_or_else(|| missing("records"))?;
            if entries.is_empty() || entries.len() > 500 {
                return Err(JsonError::client(
                    "ValidationException",
                    format!(
                        "1 validation error detected: Value '{}' at 'records' failed to satisfy constraint: Member must have length between 1 and 500",
                        entries.len()
                    ),
                ));
            }
            let mut records = Vec::with_capacity(entries.len());
            let mut total = 0usize;
            for e in entries {
                let key = e.partition_key.ok_or_else(|| missing("records.member.partitionKey"))?;
                let data = decode_data(e.data)?;
                total += data.len() + key.len();
                records.push((key, e.explicit_hash_key, data));
            }
            if total > 5 * 1024 * 1024 {
                return Err(JsonError::client("InvalidArgumentException", "Records size exceeds 5 MB limit"));
            }
            let results = streams.put_records_rerouted(&name, records).await.map_err(err)?;
            let failed = results.iter().filter(|r| r.is_err()).count();
            let records: Vec<Value> = results
                .into_iter()
                .map(|r| match r {
                    Ok((shard, seq)) => json!({ "ShardId": shard, "SequenceNumber": seq }),
                    Err((code, message)) => json!({ "ErrorCode": code, "ErrorMessage": message }),
                })
                .collect();
            Ok(json!({ "FailedRecordCount": failed, "Records": records, "EncryptionType": "NONE" }))
        }
        "GetShardIterator" => {
            let input: GetShardIteratorInput = parse(body)?;
            let name = streams.resolve_name(input.stream_name.as_deref(), input.stream_arn.as_deref()).map_err(err)?;
            let shard = input.shard_id.ok_or_else(|| missing("shardId"))?;
            let need_seq = |seq: Option<String>| {
                seq.ok_or_else(|| {
                    JsonError::client(
                        "InvalidArgumentException",
                        "StartingSequenceNumber is required for this ShardIteratorType.",
                    )
                })
            };
            let start = match input.shard_iterator_type.as_deref().ok_or_else(|| missing("shardIteratorType"))? {
                "TRIM_HORIZON" => tarn_streams::IteratorStart::TrimHorizon,
                "LATEST" => tarn_streams::IteratorStart::Latest,
                "AT_SEQUENCE_NUMBER" => {
                    tarn_streams::IteratorStart::AtSequenceNumber(need_seq(input.starting_sequence_number)?)
                }
                "AFTER_SEQUENCE_NUMBER" => {
                    tarn_streams::IteratorStart::AfterSequenceNumber(need_seq(input.starting_sequence_number)?)
                }
                "AT_TIMESTAMP" => {
                    let ts = input.timestamp.ok_or_else(|| {
                        JsonError::client(
                            "InvalidArgumentException",
                            "Timestamp is required for ShardIteratorType AT_TIMESTAMP.",
                        )
                    })?;
                    #[allow(clippy::cast_possible_truncation)]
                    tarn_streams::IteratorStart::AtTimestamp((ts * 1000.0) as i64)
                }
                other => {
                    return Err(JsonError::client(
                        "ValidationException",
                        format!(
                            "1 validation error detected: Value '{other}' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, AT_SEQUENCE_NUMBER, AT_TIMESTAMP, LATEST, TRIM_HORIZON]"
                        ),
                    ));
                }
            };
            let iterator = streams.get_shard_iterator(&name, &shard, start).map_err(err)?;
            Ok(json!({ "ShardIterator": iterator }))
        }
        "GetRecords" => {
            let page = get_records_page(streams, body).await?;
            let records: Vec<Value> = page
                .records
                .iter()
                .map(|r| {
                    json!({
                        "SequenceNumber": r.sequence_number,
                        "ApproximateArrivalTimestamp": epoch_seconds(r.arrival_ms * 1_000_000),
                        "Data": base64_simd::STANDARD.encode_to_string(&r.data),
                        "PartitionKey": r.partition_key,
                    })
                })
                .collect();
            let mut out = json!({ "Records": records, "MillisBehindLatest": page.millis_behind_latest });
            if let Some(next) = page.next_iterator {
                out["NextShardIterator"] = json!(next);
            }
            if !page.child_shards.is_empty() {
                out["ChildShards"] = Value::Array(page.child_shards.iter().map(child_shard_json).collect());
            }
            Ok(out)
        }
        other => Err(JsonError::client(
            "UnknownOperationException",
            format!("tarn does not serve Kinesis_20131202.{other} yet"),
        )),
    }
}

fn missing(member: &str) -> JsonError {
    JsonError::client(
        "ValidationException",
        format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ),
    )
}

fn description(streams: &Streams, s: &StreamRecord) -> Value {
    json!({
        "StreamName": s.name,
        "StreamARN": streams.arn(&s.name),
        "StreamStatus": streams.status(s).as_str(),
        "StreamModeDetails": { "StreamMode": s.mode.as_str() },
        "RetentionPeriodHours": s.retention_hours,
        "StreamCreationTimestamp": epoch_seconds(s.created_ns),
        "EnhancedMonitoring": [{ "ShardLevelMetrics": [] }],
        "EncryptionType": "NONE",
    })
}
