//! Resharding: SplitShard, MergeShards, UpdateShardCount.
//!
//! A parent shard is first closed to appends (under its log lock, so no record can land after
//! its last one), then one commit records its EndingSequenceNumber and the children. If that
//! commit fails the parent reopens. Parents stay readable; a reader that reaches a closed
//! shard's end gets no next iterator and moves on to the children, so no record is lost or read
//! twice across the change.

use crate::{Result, ShardRecord, StreamRecord, Streams, StreamsError, sequence_number, shard_id};

fn index_of(id: &str) -> u32 {
    id.strip_prefix("shardId-").and_then(|n| n.parse().ok()).unwrap_or(0)
}

fn open_shard<'a>(rec: &'a StreamRecord, id: &str, stream: &str) -> Result<&'a ShardRecord> {
    let shard = rec
        .shards
        .iter()
        .find(|s| s.id == id)
        .ok_or_else(|| StreamsError::ResourceNotFound(format!("Could not find shard {id} in stream {stream}.")))?;
    if shard.ending_sequence_number.is_some() {
        return Err(StreamsError::InvalidArgument(format!(
            "Shard {id} in stream {stream} is closed and cannot be resharded."
        )));
    }
    Ok(shard)
}

fn child(index: u32, start: u128, end: u128, parent: &str, adjacent: Option<&str>) -> ShardRecord {
    ShardRecord {
        id: shard_id(index),
        starting_hash_key: start,
        ending_hash_key: end,
        parent_shard_id: Some(parent.to_string()),
        adjacent_parent_shard_id: adjacent.map(str::to_string),
        starting_sequence_number: sequence_number(index, 0),
        ending_sequence_number: None,
    }
}

impl Streams {
    /// Open shards across every stream of the account.
    fn open_shards_total(&self) -> Result<usize> {
        let (streams, _) = self.list(None, usize::MAX)?;
        Ok(streams.iter().map(StreamRecord::open_shards).sum())
    }

    fn check_quota(&self, extra: usize) -> Result<()> {
        let total = self.open_shards_total()? + extra;
        let limit = self.config.shard_limit as usize;
        if total > limit {
            return Err(StreamsError::LimitExceeded(format!(
                "This request would exceed the shard limit for the account {} in {}. Current Limit: {limit}. Number of additional shards that would have resulted in exceeding the limit: {}.",
                self.config.account_id,
                self.config.region,
                total - limit
            )));
        }
        Ok(())
    }

    /// Closes `parents` to appends, then commits `change`; reopens them if the commit fails.
    async fn reshard<F>(&self, stream: &str, parents: Vec<String>, change: F) -> Result<()>
    where
        F: FnOnce(&mut StreamRecord, &[(String, Option<u64>)]) -> Result<()> + Send + 'static,
    {
        let mut closed = Vec::new();
        for p in &parents {
            closed.push((p.clone(), self.shards.close(&self.store, stream, p)?));
        }
        let closed_for_commit = closed.clone();
        let result = self.update_stream(stream, move |rec| change(rec, &closed_for_commit)).await;
        if result.is_ok() {
            self.mark_updating(stream);
        } else {
            for (p, _) in &closed {
                self.shards.reopen(&self.store, stream, p)?;
            }
        }
        result
    }

    pub async fn split_shard(&self, stream: &str, shard: &str, new_starting_hash_key: &str) -> Result<()> {
        let rec = self.describe(stream)?;
        self.require_active(&rec)?;
        let parent = open_shard(&rec, shard, stream)?;
        let split: u128 = new_starting_hash_key.parse().map_err(|_| {
            StreamsError::InvalidArgument(format!(
                "NewStartingHashKey {new_starting_hash_key} is not a valid hash key."
            ))
        })?;
        if split <= parent.starting_hash_key.saturating_add(1) || split >= parent.ending_hash_key {
            return Err(StreamsError::InvalidArgument(format!(
                "NewStartingHashKey {split} used in SplitShard() on shard {shard} in stream {stream} under account {} is not both greater than one plus the shard's StartingHashKey {} and less than the shard's EndingHashKey {}.",
                self.config.account_id, parent.starting_hash_key, parent.ending_hash_key
            )));
        }
        self.check_quota(1)?;
        let (stream_name, shard_name) = (stream.to_string(), shard.to_string());
        self.reshard(stream, vec![shard.to_string()], move |rec, closed| {
            let idx = rec.shards.iter().position(|s| s.id == shard_name).expect("checked above");
            let parent = open_shard(rec, &shard_name, &stream_name)?.clone();
            let last = closed[0].1.unwrap_or(0);
            rec.shards[idx].ending_sequence_number = Some(sequence_number(index_of(&shard_name), last));
            let first = rec.next_shard_index;
            rec.shards.push(child(first, parent.starting_hash_key, split - 1, &shard_name, None));
            rec.shards.push(child(first + 1, split, parent.ending_hash_key, &shard_name, None));
            rec.next_shard_index += 2;
            Ok(())
        })
        .await
    }

    pub async fn merge_shards(&self, stream: &str, shard: &str, adjacent: &str) -> Result<()> {
        let rec = self.describe(stream)?;
        self.require_active(&rec)?;
        let a = open_shard(&rec, shard, stream)?;
        let b = open_shard(&rec, adjacent, stream)?;
        let adjacent_ok = a.ending_hash_key.checked_add(1) == Some(b.starting_hash_key)
            || b.ending_hash_key.checked_add(1) == Some(a.starting_hash_key);
        if !adjacent_ok {
            return Err(StreamsError::InvalidArgument(format!(
                "Shards {shard} and {adjacent} in stream {stream} are not adjacent."
            )));
        }
        let (stream_name, a_id, b_id) = (stream.to_string(), shard.to_string(), adjacent.to_string());
        self.reshard(stream, vec![shard.to_string(), adjacent.to_string()], move |rec, closed| {
            let a = open_shard(rec, &a_id, &stream_name)?.clone();
            let b = open_shard(rec, &b_id, &stream_name)?.clone();
            for (id, last) in closed {
                let i = rec.shards.iter().position(|s| &s.id == id).expect("checked above");
                rec.shards[i].ending_sequence_number = Some(sequence_number(index_of(id), last.unwrap_or(0)));
            }
            let index = rec.next_shard_index;
            rec.shards.push(child(
                index,
                a.starting_hash_key.min(b.starting_hash_key),
                a.ending_hash_key.max(b.ending_hash_key),
                &a_id,
                Some(&b_id),
            ));
            rec.next_shard_index += 1;
            Ok(())
        })
        .await
    }

    /// UpdateShardCount with UNIFORM_SCALING: every open shard closes and `target` new shards
    /// split the hash key space evenly; each child names the old shards its range overlaps.
    pub async fn update_shard_count(&self, stream: &str, target: i64) -> Result<(usize, u32)> {
        let rec = self.describe(stream)?;
        self.require_active(&rec)?;
        let current = rec.open_shards();
        let current_i = i64::try_from(current).unwrap_or(i64::MAX);
        if target < 1 {
            return Err(StreamsError::Validation(format!(
                "1 validation error detected: Value '{target}' at 'targetShardCount' failed to satisfy constraint: Member must have value greater than or equal to 1"
            )));
        }
        if target > 2 * current_i {
            return Err(StreamsError::LimitExceeded(format!(
                "UpdateShardCount cannot scale up over double your current open shard count. Current open shard count: {current}, Target shard count: {target}"
            )));
        }
        if target * 2 < current_i {
            return Err(StreamsError::LimitExceeded(format!(
                "UpdateShardCount cannot scale down below half your current open shard count. Current open shard count: {current}, Target shard count: {target}"
            )));
        }
        let target = u32::try_from(target).expect("bounded");
        self.check_quota((target as usize).saturating_sub(current))?;
        let parents: Vec<String> =
            rec.shards.iter().filter(|s| s.ending_sequence_number.is_none()).map(|s| s.id.clone()).collect();
        self.reshard(stream, parents, move |rec, closed| {
            let old: Vec<ShardRecord> =
                rec.shards.iter().filter(|s| s.ending_sequence_number.is_none()).cloned().collect();
            for (id, last) in closed {
                if let Some(s) = rec.shards.iter_mut().find(|s| &s.id == id) {
                    s.ending_sequence_number = Some(sequence_number(index_of(id), last.unwrap_or(0)));
                }
            }
            for (start, end) in crate::split_hash_space(target) {
                let overlapping: Vec<&ShardRecord> =
                    old.iter().filter(|o| o.starting_hash_key <= end && start <= o.ending_hash_key).collect();
                let parent = overlapping.first().map_or("", |s| s.id.as_str()).to_string();
                let adjacent = overlapping.get(1).map(|s| s.id.clone());
                let index = rec.next_shard_index;
                rec.shards.push(child(index, start, end, &parent, adjacent.as_deref()));
                rec.next_shard_index += 1;
            }
            Ok(())
        })
        .await?;
        Ok((current, target))
    }
}
