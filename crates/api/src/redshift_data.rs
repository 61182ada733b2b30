//! Redshift's Data API (`RedshiftData.<Operation>`, JSON 1.1): the generated `RedshiftDataApi`
//! trait over `tarn-query`'s statements ([`tarn_query::redshift_data`]). A statement names a
//! cluster or a serverless workgroup, as AWS requires, and a database: the connection's
//! database of the PostgreSQL wire (a Glue database, the default schema). Statements run as
//! their caller; each caller lists and reads only their own.

use std::sync::Arc;

use tarn_query::redshift_data::{Column, DataApiError, RedshiftData as Statements, Statement};
use tarn_wire::generated::redshift_data::{self as r, errors};
use tarn_wire::{Context, ServiceError, Timestamp};

/// The Redshift Data API handler.
pub struct RedshiftData {
    pub statements: Statements,
    pub iam: Option<tarn_iam::Iam>,
    pub region: String,
}

fn err(e: DataApiError) -> ServiceError {
    match e {
        DataApiError::Validation(m) => ServiceError::new(&errors::VALIDATION_EXCEPTION, m),
        DataApiError::NotFound(m) => ServiceError::new(&errors::RESOURCE_NOT_FOUND_EXCEPTION, m),
        DataApiError::Internal(m) => {
            tracing::error!(error = %m, "redshift data api failure");
            ServiceError::new(&errors::INTERNAL_SERVER_EXCEPTION, "An internal error occurred.")
        }
    }
}

fn invalid(m: impl Into<String>) -> ServiceError {
    ServiceError::new(&errors::VALIDATION_EXCEPTION, m.into())
}

fn not_found(id: &str, m: &str) -> ServiceError {
    ServiceError::new(&errors::RESOURCE_NOT_FOUND_EXCEPTION, m)
        .with_field("ResourceId", tarn_wire::Doc::Str(id.to_string()))
}

/// The cluster or workgroup a request names: one of them, as AWS requires.
fn target(cluster: Option<&String>, workgroup: Option<&String>) -> Result<(), ServiceError> {
    match (cluster, workgroup) {
        (None, None) => Err(invalid("Either ClusterIdentifier or WorkgroupName must be specified.")),
        (Some(_), Some(_)) => Err(invalid("ClusterIdentifier and WorkgroupName cannot both be specified.")),
        _ => Ok(()),
    }
}

fn status(s: tarn_query::redshift_data::Status) -> r::StatusString {
    use tarn_query::redshift_data::Status as S;
    match s {
        S::Submitted => r::StatusString::Submitted,
        S::Started => r::StatusString::Started,
        S::Finished => r::StatusString::Finished,
        S::Aborted => r::StatusString::Aborted,
        S::Failed => r::StatusString::Failed,
    }
}

fn column(c: &Column) -> r::ColumnMetadata {
    r::ColumnMetadata {
        name: Some(c.name.clone()),
        label: Some(c.name.clone()),
        type_name: Some(c.type_name.clone()),
        precision: Some(c.precision),
        scale: Some(c.scale),
        nullable: Some(1),
        is_signed: Some(matches!(c.type_name.as_str(), "int2" | "int4" | "int8" | "float4" | "float8" | "numeric")),
        is_case_sensitive: Some(c.type_name == "varchar"),
        is_currency: Some(false),
        length: Some(0),
        schema_name: Some(String::new()),
        table_name: Some(String::new()),
        column_default: None,
    }
}

/// A page token of a listing: the index to start from.
fn start(token: Option<&str>) -> Result<usize, ServiceError> {
    token.map_or(Ok(0), |t| t.parse().map_err(|_| invalid("Invalid NextToken")))
}

/// One page of `items` from `token`, at most `max` (of `limit` at most) long.
fn paged<T>(
    items: Vec<T>,
    token: Option<&str>,
    max: Option<i32>,
    limit: usize,
) -> Result<(Vec<T>, Option<String>), ServiceError> {
    let from = start(token)?;
    let size = max.and_then(|m| usize::try_from(m).ok()).filter(|m| *m > 0).unwrap_or(limit).min(limit);
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(from).take(size).collect();
    let next = (from + page.len() < total).then(|| (from + page.len()).to_string());
    Ok((page, next))
}

/// A SQL LIKE pattern (`%`, `_`) as the Data API's listings take them.
fn like(pattern: Option<&str>, name: &str) -> bool {
    let Some(p) = pattern else { return true };
    fn m(p: &[char], s: &[char]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some(('%', rest)) => (0..=s.len()).any(|i| m(rest, &s[i..])),
            Some(('_', rest)) => !s.is_empty() && m(rest, &s[1..]),
            Some((c, rest)) => s.first() == Some(c) && m(rest, &s[1..]),
        }
    }
    let (p, s): (Vec<char>, Vec<char>) = (p.chars().collect(), name.chars().collect());
    m(&p, &s)
}

impl RedshiftData {
    fn caller(&self, cx: &Context) -> Result<Option<Arc<tarn_query::engine::store::Caller>>, ServiceError> {
        crate::athena::query_caller(self.iam.as_ref(), cx, &self.region)
    }

    /// The databases the caller may list (Glue databases).
    fn databases(&self, cx: &Context) -> Result<Vec<String>, ServiceError> {
        let caller = self.caller(cx)?;
        let mut names = Vec::new();
        let mut token = None;
        loop {
            let (page, next) = self
                .statements
                .catalog()
                .get_databases(token.as_deref(), None)
                .map_err(|e| err(DataApiError::Internal(e.to_string())))?;
            names.extend(
                page.into_iter()
                    .map(|d| d.name)
                    .filter(|d| caller.as_ref().is_none_or(|c| c.glue("glue:GetDatabase", Some(d), None).is_ok())),
            );
            match next {
                Some(t) => token = Some(t),
                None => return Ok(names),
            }
        }
    }

    fn describe(s: &Statement) -> r::DescribeStatementResponse {
        r::DescribeStatementResponse {
            id: s.id.clone(),
            cluster_identifier: s.cluster.clone(),
            workgroup_name: s.workgroup.clone(),
            database: Some(s.database.clone()),
            created_at: Some(Timestamp::from_seconds_f64(s.created)),
            updated_at: Some(Timestamp::from_seconds_f64(s.updated)),
            duration: Some(if s.duration_ns > 0 { s.duration_ns } else { -1 }),
            error: s.error.clone(),
            has_result_set: Some(s.has_result_set),
            query_string: Some(s.sql.clone()),
            redshift_pid: Some(i64::from(std::process::id())),
            redshift_query_id: Some(0),
            result_rows: Some(s.rows),
            result_size: Some(s.size),
            status: Some(status(s.status)),
            ..r::DescribeStatementResponse::default()
        }
    }
}

impl r::RedshiftDataApi for RedshiftData {
    async fn execute_statement(
        &self,
        cx: &Context,
        input: r::ExecuteStatementInput,
    ) -> Result<r::ExecuteStatementOutput, ServiceError> {
        target(input.cluster_identifier.as_ref(), input.workgroup_name.as_ref())?;
        if input.session_id.is_some() || input.session_keep_alive_seconds.is_some() {
            return Err(invalid("tarn does not keep Data API sessions yet: send each statement on its own"));
        }
        let Some(database) = input.database.clone() else {
            return Err(invalid("Database is required"));
        };
        let params: Vec<(String, String)> =
            input.parameters.unwrap_or_default().into_iter().map(|p| (p.name, p.value)).collect();
        let sql = tarn_query::redshift_data::bind(&input.sql, &params).map_err(err)?;
        let caller = self.caller(cx)?;
        let s = self.statements.execute(
            sql,
            database,
            input.statement_name,
            input.cluster_identifier,
            input.workgroup_name,
            cx.principal_arn.clone(),
            Arc::from(cx.access_key_id.as_str()),
            caller,
        );
        Ok(r::ExecuteStatementOutput {
            id: Some(s.id.clone()),
            created_at: Some(Timestamp::from_seconds_f64(s.created)),
            cluster_identifier: s.cluster.clone(),
            workgroup_name: s.workgroup.clone(),
            database: Some(s.database.clone()),
            db_user: input.db_user,
            ..r::ExecuteStatementOutput::default()
        })
    }

    async fn describe_statement(
        &self,
        cx: &Context,
        input: r::DescribeStatementRequest,
    ) -> Result<r::DescribeStatementResponse, ServiceError> {
        let s = self
            .statements
            .get(&input.id, &cx.principal_arn)
            .map_err(|_| not_found(&input.id, "Query does not exist."))?;
        Ok(Self::describe(&s))
    }

    async fn get_statement_result(
        &self,
        cx: &Context,
        input: r::GetStatementResultRequest,
    ) -> Result<r::GetStatementResultResponse, ServiceError> {
        let page = match self.statements.page(&input.id, &cx.principal_arn, input.next_token.as_deref()) {
            Err(DataApiError::NotFound(m)) => return Err(not_found(&input.id, &m)),
            other => other.map_err(err)?,
        };
        let field = |v: &serde_json::Value| r::Field {
            is_null: v.get("isNull").and_then(serde_json::Value::as_bool),
            boolean_value: v.get("booleanValue").and_then(serde_json::Value::as_bool),
            long_value: v.get("longValue").and_then(serde_json::Value::as_i64),
            double_value: v.get("doubleValue").and_then(serde_json::Value::as_f64),
            string_value: v.get("stringValue").and_then(serde_json::Value::as_str).map(str::to_string),
            blob_value: None,
        };
        let records = page
            .records
            .iter()
            .map(|row| row.as_array().map(|cells| cells.iter().map(field).collect()).unwrap_or_default())
            .collect();
        Ok(r::GetStatementResultResponse {
            column_metadata: Some(page.columns.iter().map(column).collect()),
            next_token: page.next,
            records,
            total_num_rows: Some(page.total),
        })
    }

    async fn cancel_statement(
        &self,
        cx: &Context,
        input: r::CancelStatementRequest,
    ) -> Result<r::CancelStatementResponse, ServiceError> {
        match self.statements.cancel(&input.id, &cx.principal_arn) {
            Err(DataApiError::NotFound(m)) => Err(not_found(&input.id, &m)),
            other => other.map_err(err).map(|()| r::CancelStatementResponse { status: Some(true) }),
        }
    }

    async fn list_statements(
        &self,
        cx: &Context,
        input: r::ListStatementsRequest,
    ) -> Result<r::ListStatementsResponse, ServiceError> {
        let want = input.status.filter(|s| *s != r::StatusString::All);
        let all: Vec<Statement> = self
            .statements
            .list(&cx.principal_arn)
            .into_iter()
            .filter(|s| {
                input.statement_name.as_deref().is_none_or(|p| s.name.as_deref().is_some_and(|n| n.starts_with(p)))
            })
            .filter(|s| want.as_ref().is_none_or(|w| *w == status(s.status)))
            .collect();
        let (page, next) = paged(all, input.next_token.as_deref(), input.max_results, 100)?;
        let statements = page
            .into_iter()
            .map(|s| r::StatementData {
                id: s.id,
                created_at: Some(Timestamp::from_seconds_f64(s.created)),
                updated_at: Some(Timestamp::from_seconds_f64(s.updated)),
                query_string: Some(s.sql),
                statement_name: s.name,
                status: Some(status(s.status)),
                is_batch_statement: Some(false),
                ..r::StatementData::default()
            })
            .collect();
        Ok(r::ListStatementsResponse { next_token: next, statements })
    }

    async fn list_databases(
        &self,
        cx: &Context,
        input: r::ListDatabasesRequest,
    ) -> Result<r::ListDatabasesResponse, ServiceError> {
        target(input.cluster_identifier.as_ref(), input.workgroup_name.as_ref())?;
        let (page, next) = paged(self.databases(cx)?, input.next_token.as_deref(), input.max_results, 1000)?;
        Ok(r::ListDatabasesResponse { databases: Some(page), next_token: next })
    }

    async fn list_schemas(
        &self,
        cx: &Context,
        input: r::ListSchemasRequest,
    ) -> Result<r::ListSchemasResponse, ServiceError> {
        target(input.cluster_identifier.as_ref(), input.workgroup_name.as_ref())?;
        // a database's schemas: the Glue databases (one catalog), and PostgreSQL's own
        let mut schemas: Vec<String> = self.databases(cx)?;
        schemas.extend(["information_schema".to_string(), "pg_catalog".to_string()]);
        schemas.retain(|s| like(input.schema_pattern.as_deref(), s));
        schemas.sort();
        let (page, next) = paged(schemas, input.next_token.as_deref(), input.max_results, 1000)?;
        Ok(r::ListSchemasResponse { schemas: Some(page), next_token: next })
    }

    async fn list_tables(
        &self,
        cx: &Context,
        input: r::ListTablesRequest,
    ) -> Result<r::ListTablesResponse, ServiceError> {
        target(input.cluster_identifier.as_ref(), input.workgroup_name.as_ref())?;
        let caller = self.caller(cx)?;
        let mut tables = Vec::new();
        for schema in self.databases(cx)?.into_iter().filter(|s| like(input.schema_pattern.as_deref(), s)) {
            if caller.as_ref().is_some_and(|c| c.glue("glue:GetTables", Some(&schema), None).is_err()) {
                continue;
            }
            let mut token = None;
            loop {
                let (page, next) = self
                    .statements
                    .catalog()
                    .get_tables(&schema, None, token.as_deref(), None)
                    .map_err(|e| err(DataApiError::Internal(e.to_string())))?;
                tables.extend(page.into_iter().filter(|t| like(input.table_pattern.as_deref(), &t.name)).map(|t| {
                    r::TableMember {
                        r#type: Some(if t.is_view() { "VIEW" } else { "TABLE" }.to_string()),
                        name: Some(t.name),
                        schema: Some(schema.clone()),
                    }
                }));
                match next {
                    Some(t) => token = Some(t),
                    None => break,
                }
            }
        }
        let (page, next) = paged(tables, input.next_token.as_deref(), input.max_results, 1000)?;
        Ok(r::ListTablesResponse { tables: Some(page), next_token: next })
    }

    async fn describe_table(
        &self,
        cx: &Context,
        input: r::DescribeTableRequest,
    ) -> Result<r::DescribeTableResponse, ServiceError> {
        target(input.cluster_identifier.as_ref(), input.workgroup_name.as_ref())?;
        let schema = input.schema.clone().unwrap_or_else(|| input.database.clone());
        let Some(name) = input.table.clone() else {
            return Ok(r::DescribeTableResponse::default());
        };
        if let Some(c) = self.caller(cx)?
            && c.glue("glue:GetTable", Some(&schema), Some(&name)).is_err()
        {
            return Err(ServiceError::common(
                "AccessDeniedException",
                400,
                format!("not authorized to describe {schema}.{name}"),
            ));
        }
        let table = self
            .statements
            .catalog()
            .get_table(&schema, &name)
            .map_err(|_| not_found(&name, "Table does not exist."))?;
        let columns: Vec<r::ColumnMetadata> = table
            .columns()
            .iter()
            .chain(&table.partition_keys)
            .map(|c| {
                let (type_name, precision, scale) = tarn_query::redshift_data::glue_column_type(c.type_name());
                r::ColumnMetadata {
                    name: Some(c.name.clone()),
                    label: Some(c.name.clone()),
                    type_name: Some(type_name),
                    precision: Some(precision),
                    scale: Some(scale),
                    nullable: Some(1),
                    schema_name: Some(schema.clone()),
                    table_name: Some(name.clone()),
                    column_default: None,
                    ..r::ColumnMetadata::default()
                }
            })
            .collect();
        let (page, next) = paged(columns, input.next_token.as_deref(), input.max_results, 1000)?;
        Ok(r::DescribeTableResponse { column_list: Some(page), next_token: next, table_name: Some(name) })
    }
}
