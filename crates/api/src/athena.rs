//! Athena over JSON 1.1 (`X-Amz-Target: AmazonAthena.<Operation>`), per botocore's
//! `athena/2017-05-18` model.

use serde::Deserialize;
use serde_json::{Value, json};
use tarn_query::athena::{Athena, AthenaError, NamedQuery, StartRequest};

use crate::json::JsonError;

fn err(e: AthenaError) -> JsonError {
    if let AthenaError::Internal(m) = &e {
        tracing::error!(error = %m, "athena failure");
        return JsonError {
            status: http::StatusCode::INTERNAL_SERVER_ERROR,
            kind: "InternalServerException",
            message: "An internal error occurred.".into(),
        };
    }
    JsonError::client(e.code(), e.to_string())
}

fn missing(member: &str) -> JsonError {
    JsonError::client(
        "InvalidRequestException",
        format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ),
    )
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Req {
    query_string: Option<String>,
    client_request_token: Option<String>,
    query_execution_context: Option<Context>,
    result_configuration: Option<ResultConfiguration>,
    work_group: Option<String>,
    query_execution_id: Option<String>,
    query_execution_ids: Option<Vec<String>>,
    next_token: Option<String>,
    max_results: Option<i64>,
    name: Option<String>,
    description: Option<String>,
    configuration: Option<Value>,
    configuration_updates: Option<Value>,
    state: Option<String>,
    database: Option<String>,
    named_query_id: Option<String>,
    named_query_ids: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Context {
    database: Option<String>,
    catalog: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct ResultConfiguration {
    output_location: Option<String>,
}

fn parse(body: &[u8]) -> Result<Req, JsonError> {
    let body = if body.is_empty() { b"{}".as_slice() } else { body };
    serde_json::from_slice(body)
        .map_err(|e| JsonError::client("InvalidRequestException", format!("Invalid input: {e}")))
}

fn with_token(mut v: Value, token: Option<String>) -> Value {
    if let Some(t) = token {
        v["NextToken"] = json!(t);
    }
    v
}

pub async fn handle(athena: &Athena, operation: &str, body: &[u8]) -> Result<Value, JsonError> {
    let req = parse(body)?;
    match operation {
        "StartQueryExecution" => {
            let ctx = req.query_execution_context.unwrap_or_default();
            let id = athena
                .start(StartRequest {
                    query: req.query_string.ok_or_else(|| missing("queryString"))?,
                    database: ctx.database,
                    catalog: ctx.catalog,
                    output_location: req.result_configuration.and_then(|r| r.output_location),
                    workgroup: req.work_group,
                    client_token: req.client_request_token,
                })
                .await
                .map_err(err)?;
            Ok(json!({ "QueryExecutionId": id }))
        }
        "GetQueryExecution" => {
            let id = req.query_execution_id.ok_or_else(|| missing("queryExecutionId"))?;
            Ok(json!({ "QueryExecution": athena.get_execution(&id).map_err(err)?.to_json() }))
        }
        "BatchGetQueryExecution" => {
            let ids = req.query_execution_ids.ok_or_else(|| missing("queryExecutionIds"))?;
            if ids.is_empty() || ids.len() > 50 {
                return Err(JsonError::client(
                    "InvalidRequestException",
                    "1 validation error detected: Value at 'queryExecutionIds' failed to satisfy constraint: Member must have length between 1 and 50",
                ));
            }
            let (mut found, mut missing) = (Vec::new(), Vec::new());
            for id in ids {
                match athena.get_execution(&id) {
                    Ok(e) => found.push(e.to_json()),
                    Err(e) => missing.push(json!({
                        "QueryExecutionId": id, "ErrorCode": e.code(), "ErrorMessage": e.to_string()
                    })),
                }
            }
            Ok(json!({ "QueryExecutions": found, "UnprocessedQueryExecutionIds": missing }))
        }
        "ListQueryExecutions" => {
            let (ids, token) =
                athena.list(req.work_group.as_deref(), req.next_token.as_deref(), req.max_results).map_err(err)?;
            Ok(with_token(json!({ "QueryExecutionIds": ids }), token))
        }
        "StopQueryExecution" => {
            let id = req.query_execution_id.ok_or_else(|| missing("queryExecutionId"))?;
            athena.stop(&id).await.map_err(err)?;
            Ok(json!({}))
        }
        "GetQueryResults" => {
            let id = req.query_execution_id.ok_or_else(|| missing("queryExecutionId"))?;
            let (e, rows, token) =
                athena.results(&id, req.next_token.as_deref(), req.max_results).await.map_err(err)?;
            let rows: Vec<Value> = rows
                .into_iter()
                .map(|r| {
                    let data: Vec<Value> = r
                        .into_iter()
                        .map(|v| match v {
                            Some(s) => json!({ "VarCharValue": s }),
                            None => json!({}),
                        })
                        .collect();
                    json!({ "Data": data })
                })
                .collect();
            let out = json!({
                "UpdateCount": 0,
                "ResultSet": { "Rows": rows, "ResultSetMetadata": { "ColumnInfo": e.columns } },
            });
            Ok(with_token(out, token))
        }
        "CreateWorkGroup" => {
            let name = req.name.ok_or_else(|| missing("name"))?;
            athena
                .create_workgroup(&name, req.configuration.unwrap_or(json!({})), req.description)
                .await
                .map_err(err)?;
            Ok(json!({}))
        }
        "GetWorkGroup" => {
            let name = req.work_group.ok_or_else(|| missing("workGroup"))?;
            Ok(json!({ "WorkGroup": athena.get_workgroup(&name).map_err(err)? }))
        }
        "UpdateWorkGroup" => {
            let name = req.work_group.ok_or_else(|| missing("workGroup"))?;
            athena.update_workgroup(&name, req.state, req.description, req.configuration_updates).await.map_err(err)?;
            Ok(json!({}))
        }
        "DeleteWorkGroup" => {
            let name = req.work_group.ok_or_else(|| missing("workGroup"))?;
            athena.delete_workgroup(&name).await.map_err(err)?;
            Ok(json!({}))
        }
        "ListWorkGroups" => {
            let groups: Vec<Value> = athena
                .list_workgroups()
                .map_err(err)?
                .into_iter()
                .map(|w| {
                    json!({
                        "Name": w.name, "State": w.state, "Description": w.description.unwrap_or_default(),
                        "CreationTime": w.creation_time,
                        "EngineVersion": { "SelectedEngineVersion": "AUTO", "EffectiveEngineVersion": "Athena engine version 3" },
                    })
                })
                .collect();
            Ok(json!({ "WorkGroups": groups }))
        }
        "CreateNamedQuery" => {
            let q = NamedQuery {
                name: req.name.ok_or_else(|| missing("name"))?,
                description: req.description,
                database: req.database.ok_or_else(|| missing("database"))?,
                query_string: req.query_string.ok_or_else(|| missing("queryString"))?,
                named_query_id: String::new(),
                work_group: req.work_group,
            };
            let id = athena.create_named_query(q).await.map_err(err)?;
            Ok(json!({ "NamedQueryId": id }))
        }
        "GetNamedQuery" => {
            let id = req.named_query_id.ok_or_else(|| missing("namedQueryId"))?;
            Ok(json!({ "NamedQuery": athena.get_named_query(&id).map_err(err)? }))
        }
        "BatchGetNamedQuery" => {
            let ids = req.named_query_ids.ok_or_else(|| missing("namedQueryIds"))?;
            let (mut found, mut missing) = (Vec::new(), Vec::new());
            for id in ids {
                match athena.get_named_query(&id) {
                    Ok(q) => found.push(serde_json::to_value(q).unwrap_or(Value::Null)),
                    Err(e) => missing.push(json!({
                        "NamedQueryId": id, "ErrorCode": e.code(), "ErrorMessage": e.to_string()
                    })),
                }
            }
            Ok(json!({ "NamedQueries": found, "UnprocessedNamedQueryIds": missing }))
        }
        "ListNamedQueries" => {
            Ok(json!({ "NamedQueryIds": athena.list_named_queries(req.work_group.as_deref()).map_err(err)? }))
        }
        "DeleteNamedQuery" => {
            let id = req.named_query_id.ok_or_else(|| missing("namedQueryId"))?;
            athena.delete_named_query(&id).await.map_err(err)?;
            Ok(json!({}))
        }
        other => {
            Err(JsonError::client("UnknownOperationException", format!("tarn does not serve AmazonAthena.{other}")))
        }
    }
}
