//! Athena: the generated `AthenaApi` trait over `tarn-query`'s executions. Requests arrive
//! type-checked and validated against botocore's `athena/2017-05-18` model, in either of its
//! bindings: REST-JSON (what current SDKs send) or the JSON 1.1 `AmazonAthena.<Operation>`
//! target older ones send.

use serde_json::json;
use std::sync::Arc;
use tarn_query::athena::{Athena as Executions, AthenaError, NamedQuery, StartRequest, WorkGroupState};
use tarn_wire::generated::athena::{self as a, errors};
use tarn_wire::{Context, ServiceError, Timestamp};

/// The Athena handler.
pub struct Athena {
    pub athena: Executions,
    /// The IAM directory, for queries run as their caller.
    pub iam: Option<tarn_iam::Iam>,
    /// The region tarn serves (Glue ARNs name it).
    pub region: String,
}

/// Who a request's SQL (Athena's queries, the Data API's statements) and its reads run as:
/// None for the account root; a request whose principal is unknown is refused rather than run
/// as the root.
pub(crate) fn query_caller(
    iam: Option<&tarn_iam::Iam>,
    cx: &Context,
    region: &str,
) -> Result<Option<Arc<tarn_query::engine::store::Caller>>, ServiceError> {
    let Some(iam) = iam else { return Ok(None) };
    let Some(p) = cx.principal.get::<tarn_iam::Principal>() else {
        return Err(ServiceError::common("AccessDeniedException", 400, "the caller could not be established"));
    };
    if iam.is_home_root(p) {
        return Ok(None);
    }
    Ok(Some(Arc::new(tarn_query::engine::store::Caller {
        iam: iam.clone(),
        principal: p.clone(),
        secure: true,
        region: region.to_string(),
    })))
}

impl Athena {
    fn caller(&self, cx: &Context) -> Result<Option<Arc<tarn_query::engine::store::Caller>>, ServiceError> {
        query_caller(self.iam.as_ref(), cx, &self.region)
    }
}

fn err(e: AthenaError) -> ServiceError {
    match e {
        AthenaError::InvalidRequest(m) => ServiceError::new(&errors::INVALID_REQUEST_EXCEPTION, m),
        AthenaError::ResourceNotFound(m) => ServiceError::new(&errors::RESOURCE_NOT_FOUND_EXCEPTION, m),
        AthenaError::Internal(m) => {
            tracing::error!(error = %m, "athena failure");
            ServiceError::new(&errors::INTERNAL_SERVER_EXCEPTION, "An internal error occurred.")
        }
    }
}

/// A stored document (an execution, a workgroup) as the generated type of its shape.
fn api<T: tarn_wire::Shaped + tarn_wire::FromDoc>(value: &serde_json::Value) -> Result<T, ServiceError> {
    tarn_wire::from_json_value(value).inspect_err(|e| {
        tracing::error!(error = %e, "a stored Athena document does not read as its API shape");
    })
}

fn page(max: Option<i32>) -> Option<i64> {
    max.map(i64::from)
}

impl a::AthenaApi for Athena {
    async fn batch_get_named_query(
        &self,
        _: &Context,
        input: a::BatchGetNamedQueryInput,
    ) -> Result<a::BatchGetNamedQueryOutput, ServiceError> {
        let (mut found, mut missing) = (Vec::new(), Vec::new());
        for id in input.named_query_ids {
            match self.athena.get_named_query(&id) {
                Ok(q) => found.push(api(&serde_json::to_value(q).map_err(|_| ServiceError::internal())?)?),
                Err(e) => {
                    let e = err(e);
                    missing.push(a::UnprocessedNamedQueryId {
                        named_query_id: Some(id),
                        error_code: Some(e.code.to_string()),
                        error_message: e.message,
                    });
                }
            }
        }
        Ok(a::BatchGetNamedQueryOutput { named_queries: Some(found), unprocessed_named_query_ids: Some(missing) })
    }

    async fn batch_get_query_execution(
        &self,
        _: &Context,
        input: a::BatchGetQueryExecutionInput,
    ) -> Result<a::BatchGetQueryExecutionOutput, ServiceError> {
        let (mut found, mut missing) = (Vec::new(), Vec::new());
        for id in input.query_execution_ids {
            match self.athena.get_execution(&id) {
                Ok(e) => found.push(api(&e.to_json())?),
                Err(e) => {
                    let e = err(e);
                    missing.push(a::UnprocessedQueryExecutionId {
                        query_execution_id: Some(id),
                        error_code: Some(e.code.to_string()),
                        error_message: e.message,
                    });
                }
            }
        }
        Ok(a::BatchGetQueryExecutionOutput {
            query_executions: Some(found),
            unprocessed_query_execution_ids: Some(missing),
        })
    }

    async fn create_named_query(
        &self,
        _: &Context,
        input: a::CreateNamedQueryInput,
    ) -> Result<a::CreateNamedQueryOutput, ServiceError> {
        let q = NamedQuery {
            name: input.name,
            description: input.description,
            database: input.database,
            query_string: input.query_string,
            named_query_id: String::new(),
            work_group: input.work_group,
        };
        let id = self.athena.create_named_query(q).await.map_err(err)?;
        Ok(a::CreateNamedQueryOutput { named_query_id: Some(id) })
    }

    async fn create_work_group(
        &self,
        _: &Context,
        input: a::CreateWorkGroupInput,
    ) -> Result<a::CreateWorkGroupOutput, ServiceError> {
        let configuration = input.configuration.map_or_else(|| json!({}), tarn_wire::to_json_value);
        self.athena.create_workgroup(&input.name, configuration, input.description).await.map_err(err)?;
        Ok(a::CreateWorkGroupOutput {})
    }

    async fn delete_named_query(
        &self,
        _: &Context,
        input: a::DeleteNamedQueryInput,
    ) -> Result<a::DeleteNamedQueryOutput, ServiceError> {
        self.athena.delete_named_query(&input.named_query_id).await.map_err(err)?;
        Ok(a::DeleteNamedQueryOutput {})
    }

    async fn delete_work_group(
        &self,
        _: &Context,
        input: a::DeleteWorkGroupInput,
    ) -> Result<a::DeleteWorkGroupOutput, ServiceError> {
        self.athena.delete_workgroup(&input.work_group).await.map_err(err)?;
        Ok(a::DeleteWorkGroupOutput {})
    }

    async fn get_named_query(
        &self,
        _: &Context,
        input: a::GetNamedQueryInput,
    ) -> Result<a::GetNamedQueryOutput, ServiceError> {
        let q = self.athena.get_named_query(&input.named_query_id).map_err(err)?;
        Ok(a::GetNamedQueryOutput {
            named_query: Some(api(&serde_json::to_value(q).map_err(|_| ServiceError::internal())?)?),
        })
    }

    async fn get_query_execution(
        &self,
        _: &Context,
        input: a::GetQueryExecutionInput,
    ) -> Result<a::GetQueryExecutionOutput, ServiceError> {
        let e = self.athena.get_execution(&input.query_execution_id).map_err(err)?;
        Ok(a::GetQueryExecutionOutput { query_execution: Some(api(&e.to_json())?) })
    }

    async fn get_query_results(
        &self,
        cx: &Context,
        input: a::GetQueryResultsInput,
    ) -> Result<a::GetQueryResultsOutput, ServiceError> {
        // the results are read as the caller: it needs s3:GetObject on the output location
        let caller = self.caller(cx)?;
        let (e, rows, next_token) = tarn_query::Engine::as_caller(
            caller,
            self.athena.results(&input.query_execution_id, input.next_token.as_deref(), page(input.max_results)),
        )
        .await
        .map_err(err)?;
        let columns = serde_json::to_value(&e.columns).map_err(|_| ServiceError::internal())?;
        let column_info: Vec<a::ColumnInfo> = match columns {
            serde_json::Value::Array(items) => items.iter().map(api).collect::<Result<_, _>>()?,
            _ => Vec::new(),
        };
        Ok(a::GetQueryResultsOutput {
            update_count: Some(0),
            result_set: Some(a::ResultSet {
                rows: Some(
                    rows.into_iter()
                        .map(|r| a::Row { data: Some(r.into_iter().map(|v| a::Datum { var_char_value: v }).collect()) })
                        .collect(),
                ),
                result_set_metadata: Some(a::ResultSetMetadata { column_info: Some(column_info) }),
            }),
            next_token,
        })
    }

    async fn get_work_group(
        &self,
        _: &Context,
        input: a::GetWorkGroupInput,
    ) -> Result<a::GetWorkGroupOutput, ServiceError> {
        let wg = self.athena.get_workgroup(&input.work_group).map_err(err)?;
        Ok(a::GetWorkGroupOutput {
            work_group: Some(api(&serde_json::to_value(wg).map_err(|_| ServiceError::internal())?)?),
        })
    }

    async fn list_named_queries(
        &self,
        _: &Context,
        input: a::ListNamedQueriesInput,
    ) -> Result<a::ListNamedQueriesOutput, ServiceError> {
        let ids = self.athena.list_named_queries(input.work_group.as_deref()).map_err(err)?;
        Ok(a::ListNamedQueriesOutput { named_query_ids: Some(ids), next_token: None })
    }

    async fn list_query_executions(
        &self,
        _: &Context,
        input: a::ListQueryExecutionsInput,
    ) -> Result<a::ListQueryExecutionsOutput, ServiceError> {
        let (ids, next_token) = self
            .athena
            .list(input.work_group.as_deref(), input.next_token.as_deref(), page(input.max_results))
            .map_err(err)?;
        Ok(a::ListQueryExecutionsOutput { query_execution_ids: Some(ids), next_token })
    }

    async fn list_work_groups(
        &self,
        _: &Context,
        _input: a::ListWorkGroupsInput,
    ) -> Result<a::ListWorkGroupsOutput, ServiceError> {
        let groups = self.athena.list_workgroups().map_err(err)?;
        Ok(a::ListWorkGroupsOutput {
            work_groups: Some(
                groups
                    .into_iter()
                    .map(|w| a::WorkGroupSummary {
                        state: Some(match w.state {
                            WorkGroupState::Enabled => a::WorkGroupState::Enabled,
                            WorkGroupState::Disabled => a::WorkGroupState::Disabled,
                        }),
                        description: Some(w.description.unwrap_or_default()),
                        creation_time: Some(Timestamp::from_seconds_f64(w.creation_time)),
                        engine_version: Some(a::EngineVersion {
                            selected_engine_version: Some("AUTO".into()),
                            effective_engine_version: Some("Athena engine version 3".into()),
                        }),
                        name: Some(w.name),
                        identity_center_application_arn: None,
                    })
                    .collect(),
            ),
            next_token: None,
        })
    }

    async fn start_query_execution(
        &self,
        cx: &Context,
        input: a::StartQueryExecutionInput,
    ) -> Result<a::StartQueryExecutionOutput, ServiceError> {
        let ctx = input.query_execution_context.unwrap_or_default();
        // the query reads and writes buckets as its caller
        let caller = self.caller(cx)?;
        let id = self
            .athena
            .start(StartRequest {
                query: input.query_string,
                database: ctx.database,
                catalog: ctx.catalog,
                output_location: input.result_configuration.and_then(|r| r.output_location),
                workgroup: input.work_group,
                client_token: input.client_request_token,
                caller,
            })
            .await
            .map_err(err)?;
        Ok(a::StartQueryExecutionOutput { query_execution_id: Some(id) })
    }

    async fn stop_query_execution(
        &self,
        _: &Context,
        input: a::StopQueryExecutionInput,
    ) -> Result<a::StopQueryExecutionOutput, ServiceError> {
        self.athena.stop(&input.query_execution_id).await.map_err(err)?;
        Ok(a::StopQueryExecutionOutput {})
    }

    async fn update_work_group(
        &self,
        _: &Context,
        input: a::UpdateWorkGroupInput,
    ) -> Result<a::UpdateWorkGroupOutput, ServiceError> {
        self.athena
            .update_workgroup(
                &input.work_group,
                input.state.map(|s| match s {
                    a::WorkGroupState::Enabled => WorkGroupState::Enabled,
                    a::WorkGroupState::Disabled => WorkGroupState::Disabled,
                }),
                input.description,
                input.configuration_updates.map(tarn_wire::to_json_value),
            )
            .await
            .map_err(err)?;
        Ok(a::UpdateWorkGroupOutput {})
    }
}
