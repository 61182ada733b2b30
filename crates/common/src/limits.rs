//! The limits of every service tarn serves, as AWS documents them (a service's quotas page, its
//! API model's constraints, or its developer guide, named per module). Code that enforces a
//! limit takes it from here, so each is stated once and a reader finds them all in one place.
//! Tuning of tarn's own (buffer sizes, concurrency) stays beside the code it tunes.

/// Amazon S3 ("Amazon S3 multipart upload limits", "Working with object metadata", bucket
/// naming rules, the ListObjectsV2 and DeleteObjects references).
pub mod s3 {
    /// Largest object a single PUT may carry: 5 GiB.
    pub const PUT_OBJECT_SIZE_MAX: u64 = 5 * 1024 * 1024 * 1024;
    /// Largest object overall: 5 TiB.
    pub const OBJECT_SIZE_MAX: u64 = 5 * 1024 * 1024 * 1024 * 1024;
    /// Smallest part of a multipart upload, except the last one: 5 MiB.
    pub const PART_SIZE_MIN: u64 = 5 * 1024 * 1024;
    /// Largest part of a multipart upload: 5 GiB.
    pub const PART_SIZE_MAX: u64 = 5 * 1024 * 1024 * 1024;
    /// Part numbers run from 1 to 10,000.
    pub const PART_NUMBER_MAX: i32 = 10_000;
    /// Object keys are at most 1024 bytes of UTF-8.
    pub const KEY_LENGTH_MAX: usize = 1024;
    /// User-defined metadata (names plus values, as sent) is at most 2 KiB.
    pub const USER_METADATA_SIZE_MAX: usize = 2 * 1024;
    /// A request's header section (names plus values) is at most 8 KiB.
    pub const HEADER_SECTION_SIZE_MAX: usize = 8 * 1024;
    /// ListObjects, ListObjectVersions, ListParts and ListMultipartUploads return at most 1000
    /// entries.
    pub const LIST_PAGE_SIZE_MAX: usize = 1000;
    /// DeleteObjects takes at most 1000 keys.
    pub const DELETE_OBJECTS_KEYS_MAX: usize = 1000;
    /// Bucket names are 3 to 63 characters.
    pub const BUCKET_NAME_LENGTH_MIN: usize = 3;
    /// Bucket names are 3 to 63 characters.
    pub const BUCKET_NAME_LENGTH_MAX: usize = 63;
}

/// Signature Version 4, for every service ("Authenticating requests", "Query string
/// authentication").
pub mod sigv4 {
    /// Presigned SigV4 URLs live at most seven days.
    pub const PRESIGNED_EXPIRES_MAX_SECONDS: i64 = 604_800;
    /// Requests signed more than 15 minutes away from the server's clock are refused.
    pub const CLOCK_SKEW_MAX_SECONDS: i64 = 15 * 60;
}

/// Kinesis Data Streams ("Quotas and limits", the PutRecord and GetShardIterator references).
pub mod kinesis {
    /// A record's data plus partition key is at most 1 MiB.
    pub const RECORD_BYTES_MAX: usize = 1024 * 1024;
    /// Shard iterators expire five minutes after they are handed out.
    pub const ITERATOR_TTL_MS: i64 = 300_000;
    /// Retention runs from 24 hours (the default) to 365 days.
    pub const RETENTION_HOURS_MIN: u32 = 24;
    /// Retention runs from 24 hours (the default) to 365 days.
    pub const RETENTION_HOURS_MAX: u32 = 8760;
    /// Retention of a new stream: 24 hours.
    pub const RETENTION_HOURS_DEFAULT: u32 = 24;
    /// Shards a stream in ON_DEMAND mode starts with.
    pub const ON_DEMAND_INITIAL_SHARDS: u32 = 4;
    /// Tags per stream.
    pub const TAGS_MAX: usize = 50;
    /// Registered (enhanced fan-out) consumers per stream, AWS's default quota.
    pub const CONSUMERS_MAX: usize = 20;
}

/// Amazon Data Firehose ("Quota", "Dynamic partitioning", "Custom prefixes", the
/// PutRecordBatch reference and the API model).
pub mod firehose {
    /// Records per PutRecordBatch.
    pub const BATCH_RECORDS_MAX: usize = 500;
    /// Bytes per PutRecordBatch (sum of the records' data).
    pub const BATCH_BYTES_MAX: usize = 4 * 1024 * 1024;
    /// Bytes of one record (before base64).
    pub const RECORD_BYTES_MAX: usize = 1_024_000;
    /// Tags per delivery stream.
    pub const TAGS_MAX: usize = 50;
    /// Delivery streams per account and region.
    pub const STREAMS_MAX: usize = 5000;
    /// Characters of a configured `Prefix` or `ErrorOutputPrefix`.
    pub const PREFIX_LENGTH_MAX: usize = 1024;
    /// Characters of a prefix once evaluated.
    pub const EVALUATED_PREFIX_LENGTH_MAX: usize = 512;
    /// Partitions one stream keeps active at once (dynamic partitioning).
    pub const ACTIVE_PARTITIONS_MAX: usize = 500;
    /// Sub-records `RecordDeAggregation` makes of one record.
    pub const SUB_RECORDS_MAX: usize = 500;
    /// Characters of a processor parameter value (`ProcessorParameter.ParameterValue`).
    pub const PARAMETER_VALUE_MAX: usize = 5120;
}

/// AWS Glue Data Catalog (the API model's constraints and "AWS Glue endpoints and quotas").
pub mod glue {
    /// Characters of a database, table, column or crawler name.
    pub const NAME_MAX: usize = 255;
    /// Entries per page of GetDatabases, GetTables, GetTableVersions.
    pub const PAGE_MAX: usize = 100;
    /// Entries per page of GetPartitions.
    pub const PARTITION_PAGE_MAX: usize = 1000;
    /// Partitions per BatchCreatePartition.
    pub const BATCH_CREATE_PARTITIONS_MAX: usize = 100;
    /// Partitions per BatchGetPartition.
    pub const BATCH_GET_PARTITIONS_MAX: usize = 1000;
    /// Partitions per BatchDeletePartition.
    pub const BATCH_DELETE_PARTITIONS_MAX: usize = 25;
    /// Tables per BatchDeleteTable.
    pub const BATCH_DELETE_TABLES_MAX: usize = 100;
    /// Versions per BatchDeleteTableVersion.
    pub const BATCH_DELETE_VERSIONS_MAX: usize = 100;
    /// Characters of one partition value.
    pub const PARTITION_VALUE_MAX: usize = 1024;
    /// Crawler names per BatchGetCrawlers or GetCrawlerMetrics.
    pub const CRAWLER_NAMES_MAX: usize = 100;
}

/// Amazon Athena (the API model's constraints and "Service Quotas").
pub mod athena {
    /// Bytes of a query string.
    pub const QUERY_STRING_MAX: usize = 262_144;
    /// Rows per page of GetQueryResults.
    pub const RESULTS_PAGE_MAX: i64 = 1000;
    /// Entries per page of ListQueryExecutions, ListNamedQueries, ListWorkGroups.
    pub const LIST_PAGE_MAX: i64 = 50;
}

/// AWS Identity and Access Management ("IAM and AWS STS quotas", the API model's constraints).
pub mod iam {
    /// Access keys a user may have, active or not.
    pub const ACCESS_KEYS_PER_USER: usize = 2;
    /// Versions a customer managed policy may keep.
    pub const POLICY_VERSIONS_MAX: usize = 5;
    /// Managed policies attached to one user, group or role.
    pub const ATTACHED_POLICIES_MAX: usize = 10;
    /// Groups one user may be in.
    pub const GROUPS_PER_USER: usize = 10;
    /// Characters of a managed policy document, white space not counted.
    pub const MANAGED_POLICY_SIZE_MAX: usize = 6144;
    /// Characters of a user's inline policies together, white space not counted.
    pub const USER_INLINE_SIZE_MAX: usize = 2048;
    /// Characters of a group's inline policies together, white space not counted.
    pub const GROUP_INLINE_SIZE_MAX: usize = 5120;
    /// Characters of a role's inline policies together, white space not counted.
    pub const ROLE_INLINE_SIZE_MAX: usize = 10_240;
    /// Characters of a role's trust policy, white space not counted.
    pub const TRUST_POLICY_SIZE_MAX: usize = 2048;
    /// Tags on one user or role.
    pub const TAGS_MAX: usize = 50;
    /// Users, groups, roles and customer managed policies in one account.
    pub const USERS_MAX: usize = 5000;
    pub const GROUPS_MAX: usize = 300;
    pub const ROLES_MAX: usize = 1000;
    pub const MANAGED_POLICIES_MAX: usize = 1500;
    /// A role's MaxSessionDuration, in seconds.
    pub const SESSION_DURATION_MIN: i64 = 3600;
    pub const SESSION_DURATION_MAX: i64 = 43_200;
    /// Items per page when MaxItems is not given.
    pub const PAGE_DEFAULT: usize = 100;
    /// Characters of an inline session policy (AssumeRole's `Policy`).
    pub const SESSION_POLICY_SIZE_MAX: usize = 2048;
}

/// AWS Key Management Service.
pub mod kms {
    /// Tags a key may carry.
    pub const TAGS_MAX: usize = 50;
    /// Bytes of plaintext Encrypt takes.
    pub const PLAINTEXT_MAX: usize = 4096;
    /// Bytes GenerateDataKey's NumberOfBytes and GenerateRandom may ask for.
    pub const RANDOM_BYTES_MAX: usize = 1024;
    /// Keys ListKeys and ListAliases return at most, and by default.
    pub const LIST_LIMIT_MAX: usize = 1000;
    pub const LIST_LIMIT_DEFAULT: usize = 100;
}
