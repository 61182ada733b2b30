//! Kinesis Data Streams: the generated `KinesisApi` trait over `tarn-streams`. Requests arrive
//! type-checked and validated against botocore's `kinesis/2013-12-02` model; what is left here
//! is what the model cannot say (StreamName or StreamARN, iterator types and their members,
//! pagination tokens) and the mapping of domain errors to the model's error shapes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use tarn_streams::{ShardRecord, StreamMode, StreamRecord, Streams, StreamsError};
use tarn_wire::generated::kinesis::{self as k, errors};
use tarn_wire::{Context, ServiceError, Timestamp};

/// The Kinesis handler: every served operation of the model, over one `Streams`.
pub struct Kinesis {
    pub streams: Streams,
}

fn err(e: StreamsError) -> ServiceError {
    match e {
        StreamsError::ResourceNotFound(m) => ServiceError::new(&errors::RESOURCE_NOT_FOUND_EXCEPTION, m),
        StreamsError::ResourceInUse(m) => ServiceError::new(&errors::RESOURCE_IN_USE_EXCEPTION, m),
        StreamsError::LimitExceeded(m) => ServiceError::new(&errors::LIMIT_EXCEEDED_EXCEPTION, m),
        StreamsError::InvalidArgument(m) => ServiceError::new(&errors::INVALID_ARGUMENT_EXCEPTION, m),
        StreamsError::Validation(m) => ServiceError::new(&errors::VALIDATION_EXCEPTION, m),
        StreamsError::ExpiredIterator(m) => ServiceError::new(&errors::EXPIRED_ITERATOR_EXCEPTION, m),
        StreamsError::ProvisionedThroughputExceeded(m) => {
            ServiceError::new(&errors::PROVISIONED_THROUGHPUT_EXCEEDED_EXCEPTION, m)
        }
        StreamsError::KmsDisabled(m) => ServiceError::new(&errors::KMS_DISABLED_EXCEPTION, m),
        StreamsError::KmsInvalidState(m) => ServiceError::new(&errors::KMS_INVALID_STATE_EXCEPTION, m),
        StreamsError::KmsNotFound(m) => ServiceError::new(&errors::KMS_NOT_FOUND_EXCEPTION, m),
        StreamsError::Internal(m) => {
            tracing::error!(error = %m, "kinesis internal failure");
            ServiceError::internal()
        }
        StreamsError::Store(inner) => {
            tracing::error!(error = %inner, "kinesis storage failure");
            ServiceError::internal()
        }
    }
}

/// A record PutRecords could not take, as its result entry names it: the error shape's code
/// (`InternalFailure` for our own failures) and the message.
fn record_failure(e: StreamsError) -> (String, String) {
    let message = e.to_string();
    let shape = match e {
        StreamsError::InvalidArgument(_) | StreamsError::Validation(_) => &errors::INVALID_ARGUMENT_EXCEPTION,
        StreamsError::ResourceNotFound(_) => &errors::RESOURCE_NOT_FOUND_EXCEPTION,
        StreamsError::ProvisionedThroughputExceeded(_) => &errors::PROVISIONED_THROUGHPUT_EXCEEDED_EXCEPTION,
        StreamsError::KmsDisabled(_) => &errors::KMS_DISABLED_EXCEPTION,
        StreamsError::KmsInvalidState(_) => &errors::KMS_INVALID_STATE_EXCEPTION,
        StreamsError::KmsNotFound(_) => &errors::KMS_NOT_FOUND_EXCEPTION,
        StreamsError::ResourceInUse(_)
        | StreamsError::LimitExceeded(_)
        | StreamsError::ExpiredIterator(_)
        | StreamsError::Internal(_)
        | StreamsError::Store(_) => {
            tracing::error!(error = %message, "a record of PutRecords failed");
            return ("InternalFailure".into(), "Internal service failure.".into());
        }
    };
    (shape.name.to_string(), message)
}

/// A member the model leaves optional (it has alternatives) but this use of it needs, in the
/// words AWS's validation uses.
fn missing(member: &str) -> ServiceError {
    ServiceError::new(
        &errors::VALIDATION_EXCEPTION,
        format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ),
    )
}

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::new(&errors::INVALID_ARGUMENT_EXCEPTION, message)
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn limit(value: Option<i32>, default: usize) -> usize {
    value.and_then(|n| usize::try_from(n).ok()).unwrap_or(default)
}

fn mode(m: StreamMode) -> k::StreamModeDetails {
    k::StreamModeDetails {
        stream_mode: match m {
            StreamMode::Provisioned => k::StreamMode::Provisioned,
            StreamMode::OnDemand => k::StreamMode::OnDemand,
        },
    }
}

fn encryption(s: &StreamRecord) -> k::EncryptionType {
    encryption_type(s.sse.enabled)
}

fn encryption_type(sealed: bool) -> k::EncryptionType {
    if sealed { k::EncryptionType::Kms } else { k::EncryptionType::None }
}

fn status(streams: &Streams, s: &StreamRecord) -> k::StreamStatus {
    match streams.status(s) {
        tarn_streams::StreamStatus::Creating => k::StreamStatus::Creating,
        tarn_streams::StreamStatus::Active => k::StreamStatus::Active,
        tarn_streams::StreamStatus::Updating => k::StreamStatus::Updating,
    }
}

fn hash_range(s: &ShardRecord) -> k::HashKeyRange {
    k::HashKeyRange {
        starting_hash_key: s.starting_hash_key.to_string(),
        ending_hash_key: s.ending_hash_key.to_string(),
    }
}

fn shard(s: &ShardRecord) -> k::Shard {
    k::Shard {
        shard_id: s.id.clone(),
        parent_shard_id: s.parent_shard_id.clone(),
        adjacent_parent_shard_id: s.adjacent_parent_shard_id.clone(),
        hash_key_range: hash_range(s),
        sequence_number_range: k::SequenceNumberRange {
            starting_sequence_number: s.starting_sequence_number.clone(),
            ending_sequence_number: s.ending_sequence_number.clone(),
        },
    }
}

fn child_shard(s: &ShardRecord) -> k::ChildShard {
    k::ChildShard {
        shard_id: s.id.clone(),
        parent_shards: s.parent_shard_id.iter().chain(s.adjacent_parent_shard_id.iter()).cloned().collect(),
        hash_key_range: hash_range(s),
    }
}

fn created(ns: i64) -> Timestamp {
    Timestamp::from_nanos(i128::from(ns))
}

fn no_monitoring() -> Vec<k::EnhancedMetrics> {
    vec![k::EnhancedMetrics { shard_level_metrics: Some(Vec::new()) }]
}

fn consumer(streams: &Streams, stream: &str, c: &tarn_streams::ConsumerRecord) -> k::Consumer {
    k::Consumer {
        consumer_name: c.name.clone(),
        consumer_arn: streams.consumer_arn(stream, c),
        consumer_status: k::ConsumerStatus::Active,
        consumer_creation_timestamp: created(c.created_ns),
    }
}

fn token(text: &str) -> Result<String, ServiceError> {
    B64.decode(text).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(|| invalid("The NextToken is not valid."))
}

impl Kinesis {
    fn name(&self, name: Option<&str>, arn: Option<&str>) -> Result<String, ServiceError> {
        self.streams.resolve_name(name, arn).map_err(err)
    }
}

impl k::KinesisApi for Kinesis {
    async fn add_tags_to_stream(&self, _: &Context, input: k::AddTagsToStreamInput) -> Result<(), ServiceError> {
        let name = self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
        self.streams.add_tags(&name, input.tags.into_iter().collect()).await.map_err(err)
    }

    async fn create_stream(&self, _: &Context, input: k::CreateStreamInput) -> Result<(), ServiceError> {
        let mode = match input.stream_mode_details.map(|d| d.stream_mode) {
            Some(k::StreamMode::OnDemand) => StreamMode::OnDemand,
            Some(k::StreamMode::Provisioned) | None => StreamMode::Provisioned,
        };
        let tags = input.tags.unwrap_or_default().into_iter().collect();
        self.streams.create_stream(&input.stream_name, input.shard_count.map(i64::from), mode, tags).await.map_err(err)
    }

    async fn decrease_stream_retention_period(
        &self,
        _: &Context,
        input: k::DecreaseStreamRetentionPeriodInput,
    ) -> Result<(), ServiceError> {
        let name = self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
        self.streams.set_retention(&name, i64::from(input.retention_period_hours), false).await.map_err(err)
    }

    async fn delete_stream(&self, _: &Context, input: k::DeleteStreamInput) -> Result<(), ServiceError> {
        let name = self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
        self.streams.delete_stream(&name, input.enforce_consumer_deletion.unwrap_or(false)).await.map_err(err)
    }

    async fn deregister_stream_consumer(
        &self,
        _: &Context,
        input: k::DeregisterStreamConsumerInput,
    ) -> Result<(), ServiceError> {
        let (stream, consumer) =
            self.consumer_of(input.consumer_arn.as_deref(), input.stream_arn.as_deref(), input.consumer_name)?;
        self.streams.deregister_consumer(&stream, &consumer).await.map_err(err)
    }

    async fn describe_stream(
        &self,
        _: &Context,
        input: k::DescribeStreamInput,
    ) -> Result<k::DescribeStreamOutput, ServiceError> {
        let name = self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
        let max = limit(input.limit, 100);
        let stream = self.streams.describe(&name).map_err(err)?;
        let after = input.exclusive_start_shard_id.as_deref();
        let mut shards: Vec<&ShardRecord> =
            stream.shards.iter().filter(|s| after.is_none_or(|a| s.id.as_str() > a)).collect();
        let has_more_shards = shards.len() > max;
        shards.truncate(max);
        Ok(k::DescribeStreamOutput {
            stream_description: k::StreamDescription {
                stream_name: stream.name.clone(),
                stream_arn: self.streams.arn(&stream.name),
                stream_status: status(&self.streams, &stream),
                stream_mode_details: Some(mode(stream.mode)),
                retention_period_hours: i32::try_from(stream.retention_hours).unwrap_or(i32::MAX),
                stream_creation_timestamp: created(stream.created_ns),
                enhanced_monitoring: no_monitoring(),
                encryption_type: Some(encryption(&stream)),
                key_id: stream.sse.enabled.then(|| stream.sse.key_id.clone()),
                shards: shards.into_iter().map(shard).collect(),
                has_more_shards,
            },
        })
    }

    async fn describe_stream_consumer(
        &self,
        _: &Context,
        input: k::DescribeStreamConsumerInput,
    ) -> Result<k::DescribeStreamConsumerOutput, ServiceError> {
        let (stream, name) =
            self.consumer_of(input.consumer_arn.as_deref(), input.stream_arn.as_deref(), input.consumer_name)?;
        let c = self.streams.describe_consumer(&stream, &name).map_err(err)?;
        let k::Consumer { consumer_name, consumer_arn, consumer_status, consumer_creation_timestamp } =
            consumer(&self.streams, &stream, &c);
        Ok(k::DescribeStreamConsumerOutput {
            consumer_description: k::ConsumerDescription {
                consumer_name,
                consumer_arn,
                consumer_status,
                consumer_creation_timestamp,
                stream_arn: self.streams.arn(&stream),
            },
        })
    }

    async fn describe_stream_summary(
        &self,
        _: &Context,
        input: k::DescribeStreamSummaryInput,
    ) -> Result<k::DescribeStreamSummaryOutput, ServiceError> {
        let name = self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
        let stream = self.streams.describe(&name).map_err(err)?;
        let consumers = self.streams.list_consumers(&name).map_err(err)?;
        Ok(k::DescribeStreamSummaryOutput {
            stream_description_summary: k::StreamDescriptionSummary {
                stream_name: stream.name.clone(),
                stream_arn: self.streams.arn(&stream.name),
                stream_status: status(&self.streams, &stream),
                stream_mode_details: Some(mode(stream.mode)),
                retention_period_hours: i32::try_from(stream.retention_hours).unwrap_or(i32::MAX),
                stream_creation_timestamp: created(stream.created_ns),
                enhanced_monitoring: no_monitoring(),
                encryption_type: Some(encryption(&stream)),
                key_id: stream.sse.enabled.then(|| stream.sse.key_id.clone()),
                open_shard_count: count(stream.open_shards()),
                consumer_count: Some(count(consumers.len())),
                ..Default::default()
            },
        })
    }

    async fn get_records(&self, _: &Context, input: k::GetRecordsInput) -> Result<k::GetRecordsOutput, ServiceError> {
        let max = limit(input.limit, 10_000);
        let streams = self.streams.clone();
        // up to 10 MiB of file reads and checksums: off the async threads
        let page = tokio::task::spawn_blocking(move || streams.get_records(&input.shard_iterator, max))
            .await
            .map_err(|_| ServiceError::internal())?
            .map_err(err)?;
        Ok(k::GetRecordsOutput {
            records: page
                .records
                .into_iter()
                .map(|r| k::Record {
                    sequence_number: r.sequence_number,
                    approximate_arrival_timestamp: Some(Timestamp::from_millis(r.arrival_ms)),
                    data: r.data,
                    partition_key: Some(r.partition_key),
                    encryption_type: r.encrypted.then_some(k::EncryptionType::Kms),
                })
                .collect(),
            millis_behind_latest: Some(page.millis_behind_latest),
            next_shard_iterator: page.next_iterator,
            child_shards: (!page.child_shards.is_empty()).then(|| page.child_shards.iter().map(child_shard).collect()),
        })
    }

    async fn get_shard_iterator(
        &self,
        _: &Context,
        input: k::GetShardIteratorInput,
    ) -> Result<k::GetShardIteratorOutput, ServiceError> {
        let name = self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
        let need_seq = |seq: Option<String>| {
            seq.ok_or_else(|| invalid("StartingSequenceNumber is required for this ShardIteratorType."))
        };
        let start = match input.shard_iterator_type {
            k::ShardIteratorType::TrimHorizon => tarn_streams::IteratorStart::TrimHorizon,
            k::ShardIteratorType::Latest => tarn_streams::IteratorStart::Latest,
            k::ShardIteratorType::AtSequenceNumber => {
                tarn_streams::IteratorStart::AtSequenceNumber(need_seq(input.starting_sequence_number)?)
            }
            k::ShardIteratorType::AfterSequenceNumber => {
                tarn_streams::IteratorStart::AfterSequenceNumber(need_seq(input.starting_sequence_number)?)
            }
            k::ShardIteratorType::AtTimestamp => {
                let ts = input
                    .timestamp
                    .ok_or_else(|| invalid("Timestamp is required for ShardIteratorType AT_TIMESTAMP."))?;
                tarn_streams::IteratorStart::AtTimestamp(ts.millis())
            }
        };
        let iterator = self.streams.get_shard_iterator(&name, &input.shard_id, start).map_err(err)?;
        Ok(k::GetShardIteratorOutput { shard_iterator: Some(iterator) })
    }

    async fn increase_stream_retention_period(
        &self,
        _: &Context,
        input: k::IncreaseStreamRetentionPeriodInput,
    ) -> Result<(), ServiceError> {
        let name = self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
        self.streams.set_retention(&name, i64::from(input.retention_period_hours), true).await.map_err(err)
    }

    async fn list_shards(&self, _: &Context, input: k::ListShardsInput) -> Result<k::ListShardsOutput, ServiceError> {
        let max = limit(input.max_results, 1000);
        let (name, after) = match input.next_token.as_deref() {
            Some(t) => {
                if input.stream_name.is_some() || input.stream_arn.is_some() {
                    return Err(invalid("NextToken and StreamName cannot be provided together."));
                }
                let raw = token(t)?;
                let (name, after) = raw.split_once('\n').ok_or_else(|| invalid("The NextToken is not valid."))?;
                (name.to_string(), Some(after.to_string()))
            }
            None => {
                (self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?, input.exclusive_start_shard_id)
            }
        };
        let stream = self.streams.describe(&name).map_err(err)?;
        // AFTER_SHARD_ID starts after a shard; AT_LATEST keeps open shards; the trim-horizon
        // and timestamp filters keep every shard tarn still holds (all are within retention),
        // a superset of what they name
        let (after, only_open) = match input.shard_filter {
            None => (after, false),
            Some(f) => match f.r#type {
                k::ShardFilterType::AfterShardId => (
                    Some(f.shard_id.ok_or_else(|| invalid("ShardFilter of type AFTER_SHARD_ID needs a ShardId."))?),
                    false,
                ),
                k::ShardFilterType::AtLatest => (after, true),
                k::ShardFilterType::AtTrimHorizon
                | k::ShardFilterType::FromTrimHorizon
                | k::ShardFilterType::AtTimestamp
                | k::ShardFilterType::FromTimestamp => (after, false),
            },
        };
        let mut shards: Vec<&ShardRecord> = stream
            .shards
            .iter()
            .filter(|s| after.as_deref().is_none_or(|a| s.id.as_str() > a))
            .filter(|s| !only_open || s.ending_sequence_number.is_none())
            .collect();
        let more = shards.len() > max;
        shards.truncate(max);
        let next_token = if more { shards.last().map(|last| B64.encode(format!("{name}\n{}", last.id))) } else { None };
        Ok(k::ListShardsOutput { shards: Some(shards.into_iter().map(shard).collect()), next_token })
    }

    async fn list_stream_consumers(
        &self,
        _: &Context,
        input: k::ListStreamConsumersInput,
    ) -> Result<k::ListStreamConsumersOutput, ServiceError> {
        let name = self.name(None, Some(&input.stream_arn))?;
        let consumers = self.streams.list_consumers(&name).map_err(err)?;
        Ok(k::ListStreamConsumersOutput {
            consumers: Some(consumers.iter().map(|c| consumer(&self.streams, &name, c)).collect()),
            next_token: None,
        })
    }

    async fn list_streams(
        &self,
        _: &Context,
        input: k::ListStreamsInput,
    ) -> Result<k::ListStreamsOutput, ServiceError> {
        let max = limit(input.limit, 100);
        let after = match input.next_token.as_deref() {
            Some(t) => Some(token(t)?),
            None => input.exclusive_start_stream_name,
        };
        let (page, more) = self.streams.list(after.as_deref(), max).map_err(err)?;
        let next_token = if more { page.last().map(|last| B64.encode(last.name.as_bytes())) } else { None };
        Ok(k::ListStreamsOutput {
            stream_names: page.iter().map(|s| s.name.clone()).collect(),
            has_more_streams: more,
            stream_summaries: Some(
                page.iter()
                    .map(|s| k::StreamSummary {
                        stream_name: s.name.clone(),
                        stream_arn: self.streams.arn(&s.name),
                        stream_status: status(&self.streams, s),
                        stream_mode_details: Some(mode(s.mode)),
                        stream_creation_timestamp: Some(created(s.created_ns)),
                    })
                    .collect(),
            ),
            next_token,
        })
    }

    async fn list_tags_for_stream(
        &self,
        _: &Context,
        input: k::ListTagsForStreamInput,
    ) -> Result<k::ListTagsForStreamOutput, ServiceError> {
        let name = self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
        let max = limit(input.limit, 50);
        let stream = self.streams.describe(&name).map_err(err)?;
        let after = input.exclusive_start_tag_key.as_deref();
        let mut tags: Vec<&(String, String)> =
            stream.tags.iter().filter(|(key, _)| after.is_none_or(|a| key.as_str() > a)).collect();
        let has_more_tags = tags.len() > max;
        tags.truncate(max);
        Ok(k::ListTagsForStreamOutput {
            tags: tags
                .into_iter()
                .map(|(key, value)| k::Tag { key: key.clone(), value: Some(value.clone()) })
                .collect(),
            has_more_tags,
        })
    }

    async fn merge_shards(&self, _: &Context, input: k::MergeShardsInput) -> Result<(), ServiceError> {
        let name = self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
        self.streams.merge_shards(&name, &input.shard_to_merge, &input.adjacent_shard_to_merge).await.map_err(err)
    }

    async fn put_record(&self, _: &Context, input: k::PutRecordInput) -> Result<k::PutRecordOutput, ServiceError> {
        let name = self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
        let key = input.partition_key.ok_or_else(|| missing("partitionKey"))?;
        let (shard_id, sequence_number, sealed) =
            self.streams.put_record(&name, &key, input.explicit_hash_key.as_deref(), &input.data).await.map_err(err)?;
        Ok(k::PutRecordOutput { shard_id, sequence_number, encryption_type: Some(encryption_type(sealed)) })
    }

    async fn put_records(&self, _: &Context, input: k::PutRecordsInput) -> Result<k::PutRecordsOutput, ServiceError> {
        let name = self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
        let mut records = Vec::with_capacity(input.records.len());
        let mut total = 0usize;
        for (i, e) in input.records.into_iter().enumerate() {
            let key = e.partition_key.ok_or_else(|| missing(&format!("records.{}.member.partitionKey", i + 1)))?;
            total += e.data.len() + key.len();
            records.push((key, e.explicit_hash_key, e.data));
        }
        if total > 5 * 1024 * 1024 {
            return Err(invalid("Records size exceeds 5 MB limit"));
        }
        let (results, sealed) = self.streams.put_records_rerouted(&name, records).await.map_err(err)?;
        let failed = results.iter().filter(|r| r.is_err()).count();
        Ok(k::PutRecordsOutput {
            failed_record_count: Some(count(failed)),
            records: results
                .into_iter()
                .map(|r| match r {
                    Ok((shard_id, sequence_number)) => k::PutRecordsResultEntry {
                        shard_id: Some(shard_id),
                        sequence_number: Some(sequence_number),
                        ..Default::default()
                    },
                    Err(e) => {
                        let (code, message) = record_failure(e);
                        k::PutRecordsResultEntry {
                            error_code: Some(code),
                            error_message: Some(message),
                            ..Default::default()
                        }
                    }
                })
                .collect(),
            encryption_type: Some(encryption_type(sealed)),
        })
    }

    async fn register_stream_consumer(
        &self,
        _: &Context,
        input: k::RegisterStreamConsumerInput,
    ) -> Result<k::RegisterStreamConsumerOutput, ServiceError> {
        let name = self.name(None, Some(&input.stream_arn))?;
        let c = self.streams.register_consumer(&name, &input.consumer_name).await.map_err(err)?;
        Ok(k::RegisterStreamConsumerOutput { consumer: consumer(&self.streams, &name, &c) })
    }

    async fn remove_tags_from_stream(
        &self,
        _: &Context,
        input: k::RemoveTagsFromStreamInput,
    ) -> Result<(), ServiceError> {
        let name = self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
        self.streams.remove_tags(&name, input.tag_keys).await.map_err(err)
    }

    async fn split_shard(&self, _: &Context, input: k::SplitShardInput) -> Result<(), ServiceError> {
        let name = self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
        self.streams.split_shard(&name, &input.shard_to_split, &input.new_starting_hash_key).await.map_err(err)
    }

    async fn update_shard_count(
        &self,
        _: &Context,
        input: k::UpdateShardCountInput,
    ) -> Result<k::UpdateShardCountOutput, ServiceError> {
        let name = self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
        let k::ScalingType::UniformScaling = input.scaling_type;
        let (current, target) =
            self.streams.update_shard_count(&name, i64::from(input.target_shard_count)).await.map_err(err)?;
        Ok(k::UpdateShardCountOutput {
            stream_arn: Some(self.streams.arn(&name)),
            stream_name: Some(name),
            current_shard_count: Some(count(current)),
            target_shard_count: Some(i32::try_from(target).unwrap_or(i32::MAX)),
        })
    }

    async fn start_stream_encryption(
        &self,
        _: &Context,
        input: k::StartStreamEncryptionInput,
    ) -> Result<(), ServiceError> {
        let name = self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
        if input.encryption_type != k::EncryptionType::Kms {
            return Err(invalid("EncryptionType must be KMS to start stream encryption."));
        }
        self.streams.start_encryption(&name, &input.key_id).await.map_err(err)
    }

    async fn stop_stream_encryption(
        &self,
        _: &Context,
        input: k::StopStreamEncryptionInput,
    ) -> Result<(), ServiceError> {
        let name = self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
        if input.encryption_type != k::EncryptionType::Kms {
            return Err(invalid("EncryptionType must be KMS to stop stream encryption."));
        }
        self.streams.stop_encryption(&name).await.map_err(err)
    }

    async fn update_stream_mode(&self, _: &Context, input: k::UpdateStreamModeInput) -> Result<(), ServiceError> {
        let name = self.name(None, Some(&input.stream_arn))?;
        let mode = match input.stream_mode_details.stream_mode {
            k::StreamMode::OnDemand => StreamMode::OnDemand,
            k::StreamMode::Provisioned => StreamMode::Provisioned,
        };
        self.streams.set_mode(&name, mode).await.map_err(err)
    }
}

impl Kinesis {
    /// A consumer named by its ARN, or by its stream's ARN and its name.
    fn consumer_of(
        &self,
        consumer_arn: Option<&str>,
        stream_arn: Option<&str>,
        consumer_name: Option<String>,
    ) -> Result<(String, String), ServiceError> {
        match (consumer_arn, stream_arn, consumer_name) {
            (Some(arn), _, _) => self.streams.parse_consumer_arn(arn).map_err(err),
            (None, Some(arn), Some(name)) => Ok((self.name(None, Some(arn))?, name)),
            _ => Err(invalid("Either ConsumerARN or both StreamARN and ConsumerName must be provided.")),
        }
    }
}
