//! Glue Data Catalog over JSON 1.1 (`X-Amz-Target: AWSGlue.<Operation>`).
//!
//! Shapes follow botocore's `glue/2017-03-31` model; the catalog's own types serialize in them,
//! so most handlers parse a request, call the catalog and wrap the result.

use serde::Deserialize;
use serde_json::{Value, json};
use tarn_catalog::crawler::{CrawlerError, Crawlers};
use tarn_catalog::{CatalogError, Database, ErrorDetail, Partition, Table};

use crate::json::JsonError;

pub(crate) fn catalog_err(e: CatalogError) -> JsonError {
    if let CatalogError::Store(inner) = &e {
        tracing::error!(error = %inner, "catalog storage failure");
        return JsonError {
            status: http::StatusCode::INTERNAL_SERVER_ERROR,
            kind: "InternalServiceException",
            message: "An internal error occurred.".into(),
        };
    }
    JsonError::client(e.code(), e.to_string())
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, JsonError> {
    let body = if body.is_empty() { b"{}".as_slice() } else { body };
    serde_json::from_slice(body).map_err(|e| JsonError::client("InvalidInputException", format!("Invalid input: {e}")))
}

fn missing(member: &str) -> JsonError {
    JsonError::client(
        "InvalidInputException",
        format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ),
    )
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Req {
    catalog_id: Option<String>,
    database_name: Option<String>,
    name: Option<String>,
    table_name: Option<String>,
    database_input: Option<Database>,
    table_input: Option<Table>,
    partition_input: Option<Partition>,
    partition_input_list: Option<Vec<Partition>>,
    partition_values: Option<Vec<String>>,
    partition_value_list: Option<Vec<String>>,
    partitions_to_get: Option<Vec<PartitionValues>>,
    partitions_to_delete: Option<Vec<PartitionValues>>,
    tables_to_delete: Option<Vec<String>>,
    version_id: Option<String>,
    version_ids: Option<Vec<String>>,
    expression: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
    skip_archive: Option<bool>,
    segment: Option<Segment>,
    exclude_column_schema: Option<bool>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "PascalCase", default)]
struct PartitionValues {
    values: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Segment {
    segment_number: u32,
    total_segments: u32,
}

impl Req {
    fn db(&self) -> Result<&str, JsonError> {
        self.database_name.as_deref().ok_or_else(|| missing("databaseName"))
    }
    fn table(&self) -> Result<&str, JsonError> {
        self.table_name.as_deref().ok_or_else(|| missing("tableName"))
    }
    fn name(&self) -> Result<&str, JsonError> {
        self.name.as_deref().ok_or_else(|| missing("name"))
    }
}

fn value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn with_token(mut v: Value, token: Option<String>) -> Value {
    if let Some(t) = token {
        v["NextToken"] = json!(t);
    }
    v
}

fn partition_errors(errors: Vec<(Vec<String>, ErrorDetail)>) -> Value {
    Value::Array(
        errors.into_iter().map(|(values, d)| json!({ "PartitionValues": values, "ErrorDetail": value(&d) })).collect(),
    )
}

fn crawler_err(e: CrawlerError) -> JsonError {
    match e {
        CrawlerError::Catalog(c) => catalog_err(c),
        CrawlerError::Store(inner) => catalog_err(CatalogError::Store(inner)),
        other => JsonError::client(other.code(), other.to_string()),
    }
}

fn parse_as<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, JsonError> {
    parse(body)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct NameReq {
    name: Option<String>,
    crawler_name: Option<String>,
    schedule: Option<String>,
}

/// The crawler operations; None when `operation` is not one.
async fn crawler_op(crawlers: &Crawlers, operation: &str, body: &[u8]) -> Option<Result<Value, JsonError>> {
    let e = crawler_err;
    let name = |r: &NameReq| -> Result<String, JsonError> {
        r.name.clone().or_else(|| r.crawler_name.clone()).ok_or_else(|| missing("name"))
    };
    let result = async {
        match operation {
            "CreateCrawler" => {
                crawlers.create_crawler(parse_as(body)?).await.map_err(e)?;
                Ok(json!({}))
            }
            "UpdateCrawler" => {
                crawlers.update_crawler(parse_as(body)?).await.map_err(e)?;
                Ok(json!({}))
            }
            "GetCrawler" => {
                let r: NameReq = parse_as(body)?;
                Ok(json!({ "Crawler": value(&crawlers.get_crawler(&name(&r)?).map_err(e)?) }))
            }
            "GetCrawlers" => Ok(value(&crawlers.get_crawlers(parse_as(body)?).map_err(e)?)),
            "ListCrawlers" => Ok(value(&crawlers.list_crawlers(parse_as(body)?).map_err(e)?)),
            "BatchGetCrawlers" => Ok(value(&crawlers.batch_get_crawlers(parse_as(body)?).map_err(e)?)),
            "GetCrawlerMetrics" => Ok(value(&crawlers.get_crawler_metrics(parse_as(body)?).map_err(e)?)),
            "DeleteCrawler" => {
                let r: NameReq = parse_as(body)?;
                crawlers.delete_crawler(&name(&r)?).await.map_err(e)?;
                Ok(json!({}))
            }
            "StartCrawler" => {
                let r: NameReq = parse_as(body)?;
                crawlers.start_crawler(&name(&r)?).await.map_err(e)?;
                Ok(json!({}))
            }
            "StopCrawler" => {
                let r: NameReq = parse_as(body)?;
                crawlers.stop_crawler(&name(&r)?).await.map_err(e)?;
                Ok(json!({}))
            }
            "UpdateCrawlerSchedule" => {
                let r: NameReq = parse_as(body)?;
                crawlers.update_crawler_schedule(&name(&r)?, r.schedule.as_deref()).await.map_err(e)?;
                Ok(json!({}))
            }
            "StartCrawlerSchedule" => {
                let r: NameReq = parse_as(body)?;
                crawlers.start_crawler_schedule(&name(&r)?).await.map_err(e)?;
                Ok(json!({}))
            }
            "StopCrawlerSchedule" => {
                let r: NameReq = parse_as(body)?;
                crawlers.stop_crawler_schedule(&name(&r)?).await.map_err(e)?;
                Ok(json!({}))
            }
            _ => Err(JsonError::client("UnknownOperationException", String::new())),
        }
    }
    .await;
    match result {
        Err(err) if err.kind == "UnknownOperationException" && err.message.is_empty() => None,
        other => Some(other),
    }
}

pub async fn handle(crawlers: &Crawlers, operation: &str, body: &[u8]) -> Result<Value, JsonError> {
    if let Some(result) = crawler_op(crawlers, operation, body).await {
        return result;
    }
    let catalog = crawlers.catalog();
    let req: Req = parse(body)?;
    catalog.check_catalog_id(req.catalog_id.as_deref()).map_err(catalog_err)?;
    let c = catalog;
    let e = catalog_err;
    match operation {
        "CreateDatabase" => {
            let input = req.database_input.ok_or_else(|| missing("databaseInput"))?;
            c.create_database(input).await.map_err(e)?;
            Ok(json!({}))
        }
        "GetDatabase" => Ok(json!({ "Database": value(&c.get_database(req.name()?).map_err(e)?) })),
        "GetDatabases" => {
            let (dbs, token) = c.get_databases(req.next_token.as_deref(), req.max_results).map_err(e)?;
            Ok(with_token(json!({ "DatabaseList": value(&dbs) }), token))
        }
        "UpdateDatabase" => {
            let name = req.name()?.to_string();
            let input = req.database_input.ok_or_else(|| missing("databaseInput"))?;
            c.update_database(&name, input).await.map_err(e)?;
            Ok(json!({}))
        }
        "DeleteDatabase" => {
            c.delete_database(req.name()?).await.map_err(e)?;
            Ok(json!({}))
        }
        "CreateTable" => {
            let db = req.db()?.to_string();
            let input = req.table_input.ok_or_else(|| missing("tableInput"))?;
            c.create_table(&db, input).await.map_err(e)?;
            Ok(json!({}))
        }
        "GetTable" => Ok(json!({ "Table": value(&c.get_table(req.db()?, req.name()?).map_err(e)?) })),
        "GetTables" => {
            let (tables, token) = c
                .get_tables(req.db()?, req.expression.as_deref(), req.next_token.as_deref(), req.max_results)
                .map_err(e)?;
            Ok(with_token(json!({ "TableList": value(&tables) }), token))
        }
        "UpdateTable" => {
            let db = req.db()?.to_string();
            let input = req.table_input.ok_or_else(|| missing("tableInput"))?;
            c.update_table(&db, input, req.skip_archive.unwrap_or(false), req.version_id).await.map_err(e)?;
            Ok(json!({}))
        }
        "DeleteTable" => {
            c.delete_table(req.db()?, req.name()?).await.map_err(e)?;
            Ok(json!({}))
        }
        "BatchDeleteTable" => {
            let names = req.tables_to_delete.clone().ok_or_else(|| missing("tablesToDelete"))?;
            let errors = c.batch_delete_tables(req.db()?, names).await.map_err(e)?;
            let errors: Vec<Value> =
                errors.into_iter().map(|(name, d)| json!({ "TableName": name, "ErrorDetail": value(&d) })).collect();
            Ok(json!({ "Errors": errors }))
        }
        "GetTableVersions" => {
            let (versions, token) =
                c.get_table_versions(req.db()?, req.table()?, req.next_token.as_deref(), req.max_results).map_err(e)?;
            Ok(with_token(json!({ "TableVersions": value(&versions) }), token))
        }
        "GetTableVersion" => {
            let v = c.get_table_version(req.db()?, req.table()?, req.version_id.as_deref()).map_err(e)?;
            Ok(json!({ "TableVersion": value(&v) }))
        }
        "DeleteTableVersion" | "BatchDeleteTableVersion" => {
            let versions = if operation == "DeleteTableVersion" {
                vec![req.version_id.clone().ok_or_else(|| missing("versionId"))?]
            } else {
                req.version_ids.clone().ok_or_else(|| missing("versionIds"))?
            };
            let errors = c.delete_table_versions(req.db()?, req.table()?, versions).await.map_err(e)?;
            if operation == "DeleteTableVersion" {
                if let Some((_, d)) = errors.into_iter().next() {
                    let kind = if d.error_code == "InvalidInputException" {
                        "InvalidInputException"
                    } else {
                        "EntityNotFoundException"
                    };
                    return Err(JsonError::client(kind, d.error_message));
                }
                return Ok(json!({}));
            }
            let table = req.table()?.to_string();
            let errors: Vec<Value> = errors
                .into_iter()
                .map(|(v, d)| json!({ "TableName": table, "VersionId": v, "ErrorDetail": value(&d) }))
                .collect();
            Ok(json!({ "Errors": errors }))
        }
        "CreatePartition" => {
            let input = req.partition_input.clone().ok_or_else(|| missing("partitionInput"))?;
            c.create_partition(req.db()?, req.table()?, input).await.map_err(e)?;
            Ok(json!({}))
        }
        "BatchCreatePartition" => {
            let inputs = req.partition_input_list.clone().ok_or_else(|| missing("partitionInputList"))?;
            let errors = c.batch_create_partitions(req.db()?, req.table()?, inputs).await.map_err(e)?;
            Ok(json!({ "Errors": partition_errors(errors) }))
        }
        "GetPartition" => {
            let values = req.partition_values.clone().ok_or_else(|| missing("partitionValues"))?;
            Ok(json!({ "Partition": value(&c.get_partition(req.db()?, req.table()?, &values).map_err(e)?) }))
        }
        "GetPartitions" => {
            let segment = req.segment.as_ref().map(|s| (s.segment_number, s.total_segments));
            let (mut parts, token) = c
                .get_partitions(
                    req.db()?,
                    req.table()?,
                    req.expression.as_deref(),
                    segment,
                    req.next_token.as_deref(),
                    req.max_results,
                )
                .map_err(e)?;
            if req.exclude_column_schema == Some(true) {
                for p in &mut parts {
                    if let Some(sd) = p.storage_descriptor.as_mut() {
                        sd.columns.clear();
                    }
                }
            }
            Ok(with_token(json!({ "Partitions": value(&parts) }), token))
        }
        "BatchGetPartition" => {
            let wanted: Vec<Vec<String>> = req
                .partitions_to_get
                .clone()
                .ok_or_else(|| missing("partitionsToGet"))?
                .into_iter()
                .map(|p| p.values)
                .collect();
            // partitions that do not exist are simply absent, as in Glue (UnprocessedKeys is
            // for keys Glue could not get to, which clients retry)
            let (found, _missing) = c.batch_get_partitions(req.db()?, req.table()?, &wanted).map_err(e)?;
            Ok(json!({ "Partitions": value(&found), "UnprocessedKeys": [] }))
        }
        "UpdatePartition" => {
            let values = req.partition_value_list.clone().ok_or_else(|| missing("partitionValueList"))?;
            let input = req.partition_input.clone().ok_or_else(|| missing("partitionInput"))?;
            c.update_partition(req.db()?, req.table()?, values, input).await.map_err(e)?;
            Ok(json!({}))
        }
        "DeletePartition" => {
            let values = req.partition_values.clone().ok_or_else(|| missing("partitionValues"))?;
            c.delete_partition(req.db()?, req.table()?, values).await.map_err(e)?;
            Ok(json!({}))
        }
        "BatchDeletePartition" => {
            let values: Vec<Vec<String>> = req
                .partitions_to_delete
                .clone()
                .ok_or_else(|| missing("partitionsToDelete"))?
                .into_iter()
                .map(|p| p.values)
                .collect();
            let errors = c
                .batch_delete_partitions(
                    req.db()?,
                    req.table()?,
                    values,
                    tarn_catalog::limits::BATCH_DELETE_PARTITIONS_MAX,
                )
                .await
                .map_err(e)?;
            Ok(json!({ "Errors": partition_errors(errors) }))
        }
        other => Err(JsonError::client("UnknownOperationException", format!("tarn does not serve AWSGlue.{other}"))),
    }
}
