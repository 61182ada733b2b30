//! The services tarn serves, from which model, and which of their operations.

pub struct ServiceConfig {
    /// The generated module (`crates/wire/src/generated/<module>.rs`).
    pub module: &'static str,
    /// The model file in `crates/wire/models/`.
    pub model: &'static str,
    /// The generated handler trait.
    pub trait_name: &'static str,
    /// `X-Amz-Target` prefixes answered besides the model's own: a service that moved to
    /// REST-JSON keeps the JSON 1.1 binding older SDKs send.
    pub extra_target_prefixes: &'static [&'static str],
    /// How the service answers constraint violations: code, status, message key, and
    /// further members.
    pub validation: Validation,
    /// The operations tarn serves; the generated trait has one method each.
    pub served: &'static [&'static str],
}

pub struct Validation {
    pub code: &'static str,
    pub status: u16,
    pub message_key: &'static str,
    pub fields: &'static [(&'static str, &'static str)],
}

/// Kinesis, Firehose and Glue answer violations with Coral's ValidationException; Athena
/// with its own InvalidRequestException carrying `AthenaErrorCode: INVALID_INPUT` (measured
/// against Athena); query-protocol services with `ValidationError`.
const VALIDATION_EXCEPTION: Validation =
    Validation { code: "ValidationException", status: 400, message_key: "message", fields: &[] };

pub const SERVICES: &[ServiceConfig] = &[
    ServiceConfig {
        module: "athena",
        model: "athena-2017-05-18.json.gz",
        trait_name: "AthenaApi",
        extra_target_prefixes: &["AmazonAthena"],
        validation: Validation {
            code: "InvalidRequestException",
            status: 400,
            message_key: "Message",
            fields: &[("AthenaErrorCode", "INVALID_INPUT"), ("ErrorCode", "INVALID_INPUT")],
        },
        served: &[
            "BatchGetNamedQuery",
            "BatchGetQueryExecution",
            "CreateNamedQuery",
            "CreateWorkGroup",
            "DeleteNamedQuery",
            "DeleteWorkGroup",
            "GetNamedQuery",
            "GetQueryExecution",
            "GetQueryResults",
            "GetWorkGroup",
            "ListNamedQueries",
            "ListQueryExecutions",
            "ListWorkGroups",
            "StartQueryExecution",
            "StopQueryExecution",
            "UpdateWorkGroup",
        ],
    },
    ServiceConfig {
        module: "firehose",
        model: "firehose-2015-08-04.json.gz",
        trait_name: "FirehoseApi",
        extra_target_prefixes: &[],
        validation: VALIDATION_EXCEPTION,
        served: &[
            "CreateDeliveryStream",
            "DeleteDeliveryStream",
            "DescribeDeliveryStream",
            "ListDeliveryStreams",
            "ListTagsForDeliveryStream",
            "PutRecord",
            "PutRecordBatch",
            "StartDeliveryStreamEncryption",
            "StopDeliveryStreamEncryption",
            "TagDeliveryStream",
            "UntagDeliveryStream",
            "UpdateDestination",
        ],
    },
    ServiceConfig {
        module: "glue",
        model: "glue-2017-03-31.json.gz",
        trait_name: "GlueApi",
        extra_target_prefixes: &[],
        validation: Validation { code: "ValidationException", status: 400, message_key: "Message", fields: &[] },
        served: &[
            "BatchCreatePartition",
            "BatchDeletePartition",
            "BatchDeleteTable",
            "BatchDeleteTableVersion",
            "BatchGetCrawlers",
            "BatchGetPartition",
            "CreateCrawler",
            "CreateDatabase",
            "CreatePartition",
            "CreateTable",
            "DeleteCrawler",
            "DeleteDatabase",
            "DeletePartition",
            "DeleteTable",
            "DeleteTableVersion",
            "GetCrawler",
            "GetCrawlerMetrics",
            "GetCrawlers",
            "GetDatabase",
            "GetDatabases",
            "GetPartition",
            "GetPartitions",
            "GetTable",
            "GetTableVersion",
            "GetTableVersions",
            "GetTables",
            "ListCrawlers",
            "StartCrawler",
            "StartCrawlerSchedule",
            "StopCrawler",
            "StopCrawlerSchedule",
            "UpdateCrawler",
            "UpdateCrawlerSchedule",
            "UpdateDatabase",
            "UpdatePartition",
            "UpdateTable",
        ],
    },
    ServiceConfig {
        module: "kinesis",
        model: "kinesis-2013-12-02.json.gz",
        trait_name: "KinesisApi",
        extra_target_prefixes: &[],
        validation: VALIDATION_EXCEPTION,
        served: &[
            "AddTagsToStream",
            "CreateStream",
            "DecreaseStreamRetentionPeriod",
            "DeleteStream",
            "DeregisterStreamConsumer",
            "DescribeStream",
            "DescribeStreamConsumer",
            "DescribeStreamSummary",
            "GetRecords",
            "GetShardIterator",
            "IncreaseStreamRetentionPeriod",
            "ListShards",
            "ListStreamConsumers",
            "ListStreams",
            "ListTagsForStream",
            "MergeShards",
            "PutRecord",
            "PutRecords",
            "RegisterStreamConsumer",
            "RemoveTagsFromStream",
            "SplitShard",
            "UpdateShardCount",
            "UpdateStreamMode",
        ],
    },
    ServiceConfig {
        module: "sts",
        model: "sts-2011-06-15.json.gz",
        trait_name: "StsApi",
        extra_target_prefixes: &[],
        validation: Validation { code: "ValidationError", status: 400, message_key: "Message", fields: &[] },
        served: &["GetCallerIdentity"],
    },
];
