//! The Glue Data Catalog and crawlers: the generated `GlueApi` trait over `tarn-catalog`.
//! Requests arrive type-checked and validated against botocore's `glue/2017-03-31` model. The
//! catalog keeps Glue's entities as documents in the API's own shapes, so inputs go in as the
//! JSON their shape describes and stored entities come back through the generated types.

use serde::Serialize;
use serde::de::DeserializeOwned;
use tarn_catalog::crawler::{CrawlerError, Crawlers};
use tarn_catalog::{Catalog, CatalogError};
use tarn_wire::generated::glue::{self as g, errors};
use tarn_wire::{Context, FromDoc, ServiceError, Shaped, ToDoc};

/// The Glue handler.
pub struct Glue {
    pub crawlers: Crawlers,
}

pub(crate) fn catalog_err(e: CatalogError) -> ServiceError {
    match e {
        CatalogError::EntityNotFound(m) => ServiceError::new(&errors::ENTITY_NOT_FOUND_EXCEPTION, m),
        CatalogError::AlreadyExists(m) => ServiceError::new(&errors::ALREADY_EXISTS_EXCEPTION, m),
        CatalogError::InvalidInput(m) => ServiceError::new(&errors::INVALID_INPUT_EXCEPTION, m),
        CatalogError::ConcurrentModification(m) => ServiceError::new(&errors::CONCURRENT_MODIFICATION_EXCEPTION, m),
        CatalogError::ResourceNumberLimitExceeded(m) => {
            ServiceError::new(&errors::RESOURCE_NUMBER_LIMIT_EXCEEDED_EXCEPTION, m)
        }
        CatalogError::Store(inner) => {
            tracing::error!(error = %inner, "catalog storage failure");
            ServiceError::new(&errors::INTERNAL_SERVICE_EXCEPTION, "An internal error occurred.")
        }
    }
}

fn crawler_err(e: CrawlerError) -> ServiceError {
    match e {
        CrawlerError::Catalog(c) => catalog_err(c),
        CrawlerError::Store(inner) => catalog_err(CatalogError::Store(inner)),
        CrawlerError::EntityNotFound(m) => ServiceError::new(&errors::ENTITY_NOT_FOUND_EXCEPTION, m),
        CrawlerError::AlreadyExists(m) => ServiceError::new(&errors::ALREADY_EXISTS_EXCEPTION, m),
        CrawlerError::InvalidInput(m) => ServiceError::new(&errors::INVALID_INPUT_EXCEPTION, m),
        CrawlerError::CrawlerRunning(m) => ServiceError::new(&errors::CRAWLER_RUNNING_EXCEPTION, m),
        CrawlerError::CrawlerNotRunning(m) => ServiceError::new(&errors::CRAWLER_NOT_RUNNING_EXCEPTION, m),
        CrawlerError::CrawlerStopping(m) => ServiceError::new(&errors::CRAWLER_STOPPING_EXCEPTION, m),
        CrawlerError::SchedulerTransitioning(m) => ServiceError::new(&errors::SCHEDULER_TRANSITIONING_EXCEPTION, m),
        CrawlerError::SchedulerRunning(m) => ServiceError::new(&errors::SCHEDULER_RUNNING_EXCEPTION, m),
        CrawlerError::SchedulerNotRunning(m) => ServiceError::new(&errors::SCHEDULER_NOT_RUNNING_EXCEPTION, m),
        CrawlerError::NoSchedule(m) => ServiceError::new(&errors::NO_SCHEDULE_EXCEPTION, m),
    }
}

/// A generated request (or part of one) as the catalog's own document type.
fn domain<T: DeserializeOwned>(value: impl ToDoc) -> Result<T, ServiceError> {
    serde_json::from_value(tarn_wire::to_json_value(value)).map_err(|e| {
        tracing::error!(error = %e, "a validated request does not read as the catalog's document");
        ServiceError::internal()
    })
}

/// A catalog document as the generated type of its shape.
fn api<T: Shaped + FromDoc>(value: &impl Serialize) -> Result<T, ServiceError> {
    let json = serde_json::to_value(value).map_err(|_| ServiceError::internal())?;
    tarn_wire::from_json_value(&json).inspect_err(|e| {
        tracing::error!(error = %e, "a stored catalog entity does not read as its API shape");
    })
}

fn page(max: Option<i32>) -> Option<i64> {
    max.map(i64::from)
}

/// One failed entry of a batch call, as Glue reports it.
fn detail(e: CatalogError) -> g::ErrorDetail {
    let e = catalog_err(e);
    g::ErrorDetail { error_code: Some(e.code.to_string()), error_message: e.message }
}

fn partition_errors(errors: Vec<(Vec<String>, CatalogError)>) -> Vec<g::PartitionError> {
    errors
        .into_iter()
        .map(|(values, d)| g::PartitionError { partition_values: Some(values), error_detail: Some(detail(d)) })
        .collect()
}

impl Glue {
    fn catalog(&self, catalog_id: Option<&str>) -> Result<&Catalog, ServiceError> {
        let catalog = self.crawlers.catalog();
        catalog.check_catalog_id(catalog_id).map_err(catalog_err)?;
        Ok(catalog)
    }
}

impl g::GlueApi for Glue {
    async fn batch_create_partition(
        &self,
        _: &Context,
        input: g::BatchCreatePartitionRequest,
    ) -> Result<g::BatchCreatePartitionResponse, ServiceError> {
        let c = self.catalog(input.catalog_id.as_deref())?;
        let inputs = input.partition_input_list.into_iter().map(domain).collect::<Result<Vec<_>, _>>()?;
        let errors =
            c.batch_create_partitions(&input.database_name, &input.table_name, inputs).await.map_err(catalog_err)?;
        Ok(g::BatchCreatePartitionResponse { errors: Some(partition_errors(errors)) })
    }

    async fn batch_delete_partition(
        &self,
        _: &Context,
        input: g::BatchDeletePartitionRequest,
    ) -> Result<g::BatchDeletePartitionResponse, ServiceError> {
        let c = self.catalog(input.catalog_id.as_deref())?;
        let values = input.partitions_to_delete.into_iter().map(|p| p.values).collect();
        let errors = c
            .batch_delete_partitions(
                &input.database_name,
                &input.table_name,
                values,
                tarn_common::limits::glue::BATCH_DELETE_PARTITIONS_MAX,
            )
            .await
            .map_err(catalog_err)?;
        Ok(g::BatchDeletePartitionResponse { errors: Some(partition_errors(errors)) })
    }

    async fn batch_delete_table(
        &self,
        _: &Context,
        input: g::BatchDeleteTableRequest,
    ) -> Result<g::BatchDeleteTableResponse, ServiceError> {
        let c = self.catalog(input.catalog_id.as_deref())?;
        let errors = c.batch_delete_tables(&input.database_name, input.tables_to_delete).await.map_err(catalog_err)?;
        Ok(g::BatchDeleteTableResponse {
            errors: Some(
                errors
                    .into_iter()
                    .map(|(name, d)| g::TableError { table_name: Some(name), error_detail: Some(detail(d)) })
                    .collect(),
            ),
        })
    }

    async fn batch_delete_table_version(
        &self,
        _: &Context,
        input: g::BatchDeleteTableVersionRequest,
    ) -> Result<g::BatchDeleteTableVersionResponse, ServiceError> {
        let c = self.catalog(input.catalog_id.as_deref())?;
        let errors = c
            .delete_table_versions(&input.database_name, &input.table_name, input.version_ids)
            .await
            .map_err(catalog_err)?;
        Ok(g::BatchDeleteTableVersionResponse {
            errors: Some(
                errors
                    .into_iter()
                    .map(|(version, d)| g::TableVersionError {
                        table_name: Some(input.table_name.clone()),
                        version_id: Some(version),
                        error_detail: Some(detail(d)),
                    })
                    .collect(),
            ),
        })
    }

    async fn batch_get_crawlers(
        &self,
        _: &Context,
        input: g::BatchGetCrawlersRequest,
    ) -> Result<g::BatchGetCrawlersResponse, ServiceError> {
        api(&self.crawlers.batch_get_crawlers(domain(input)?).map_err(crawler_err)?)
    }

    async fn batch_get_partition(
        &self,
        _: &Context,
        input: g::BatchGetPartitionRequest,
    ) -> Result<g::BatchGetPartitionResponse, ServiceError> {
        let c = self.catalog(input.catalog_id.as_deref())?;
        let wanted: Vec<Vec<String>> = input.partitions_to_get.into_iter().map(|p| p.values).collect();
        // partitions that do not exist are simply absent, as in Glue (UnprocessedKeys is for
        // keys Glue could not get to, which clients retry)
        let (found, _missing) =
            c.batch_get_partitions(&input.database_name, &input.table_name, &wanted).map_err(catalog_err)?;
        Ok(g::BatchGetPartitionResponse {
            partitions: Some(found.iter().map(api).collect::<Result<_, _>>()?),
            unprocessed_keys: Some(Vec::new()),
        })
    }

    async fn create_crawler(
        &self,
        _: &Context,
        input: g::CreateCrawlerRequest,
    ) -> Result<g::CreateCrawlerResponse, ServiceError> {
        self.crawlers.create_crawler(domain(input)?).await.map_err(crawler_err)?;
        Ok(g::CreateCrawlerResponse {})
    }

    async fn create_database(
        &self,
        _: &Context,
        input: g::CreateDatabaseRequest,
    ) -> Result<g::CreateDatabaseResponse, ServiceError> {
        let c = self.catalog(input.catalog_id.as_deref())?;
        c.create_database(domain(input.database_input)?).await.map_err(catalog_err)?;
        Ok(g::CreateDatabaseResponse {})
    }

    async fn create_partition(
        &self,
        _: &Context,
        input: g::CreatePartitionRequest,
    ) -> Result<g::CreatePartitionResponse, ServiceError> {
        let c = self.catalog(input.catalog_id.as_deref())?;
        c.create_partition(&input.database_name, &input.table_name, domain(input.partition_input)?)
            .await
            .map_err(catalog_err)?;
        Ok(g::CreatePartitionResponse {})
    }

    async fn create_table(
        &self,
        _: &Context,
        input: g::CreateTableRequest,
    ) -> Result<g::CreateTableResponse, ServiceError> {
        let c = self.catalog(input.catalog_id.as_deref())?;
        let table = input.table_input.ok_or_else(|| missing("tableInput"))?;
        c.create_table(&input.database_name, domain(table)?).await.map_err(catalog_err)?;
        Ok(g::CreateTableResponse {})
    }

    async fn delete_crawler(
        &self,
        _: &Context,
        input: g::DeleteCrawlerRequest,
    ) -> Result<g::DeleteCrawlerResponse, ServiceError> {
        self.crawlers.delete_crawler(&input.name).await.map_err(crawler_err)?;
        Ok(g::DeleteCrawlerResponse {})
    }

    async fn delete_database(
        &self,
        _: &Context,
        input: g::DeleteDatabaseRequest,
    ) -> Result<g::DeleteDatabaseResponse, ServiceError> {
        let c = self.catalog(input.catalog_id.as_deref())?;
        c.delete_database(&input.name).await.map_err(catalog_err)?;
        Ok(g::DeleteDatabaseResponse {})
    }

    async fn delete_partition(
        &self,
        _: &Context,
        input: g::DeletePartitionRequest,
    ) -> Result<g::DeletePartitionResponse, ServiceError> {
        let c = self.catalog(input.catalog_id.as_deref())?;
        c.delete_partition(&input.database_name, &input.table_name, input.partition_values)
            .await
            .map_err(catalog_err)?;
        Ok(g::DeletePartitionResponse {})
    }

    async fn delete_table(
        &self,
        _: &Context,
        input: g::DeleteTableRequest,
    ) -> Result<g::DeleteTableResponse, ServiceError> {
        let c = self.catalog(input.catalog_id.as_deref())?;
        c.delete_table(&input.database_name, &input.name).await.map_err(catalog_err)?;
        Ok(g::DeleteTableResponse {})
    }

    async fn delete_table_version(
        &self,
        _: &Context,
        input: g::DeleteTableVersionRequest,
    ) -> Result<g::DeleteTableVersionResponse, ServiceError> {
        let c = self.catalog(input.catalog_id.as_deref())?;
        let errors = c
            .delete_table_versions(&input.database_name, &input.table_name, vec![input.version_id])
            .await
            .map_err(catalog_err)?;
        // the batch operation's per-version error is this operation's error
        if let Some((_, e)) = errors.into_iter().next() {
            return Err(catalog_err(e));
        }
        Ok(g::DeleteTableVersionResponse {})
    }

    async fn get_crawler(
        &self,
        _: &Context,
        input: g::GetCrawlerRequest,
    ) -> Result<g::GetCrawlerResponse, ServiceError> {
        let crawler = self.crawlers.get_crawler(&input.name).map_err(crawler_err)?;
        Ok(g::GetCrawlerResponse { crawler: Some(api(&crawler)?) })
    }

    async fn get_crawler_metrics(
        &self,
        _: &Context,
        input: g::GetCrawlerMetricsRequest,
    ) -> Result<g::GetCrawlerMetricsResponse, ServiceError> {
        api(&self.crawlers.get_crawler_metrics(domain(input)?).map_err(crawler_err)?)
    }

    async fn get_crawlers(
        &self,
        _: &Context,
        input: g::GetCrawlersRequest,
    ) -> Result<g::GetCrawlersResponse, ServiceError> {
        api(&self.crawlers.get_crawlers(domain(input)?).map_err(crawler_err)?)
    }

    async fn get_database(
        &self,
        _: &Context,
        input: g::GetDatabaseRequest,
    ) -> Result<g::GetDatabaseResponse, ServiceError> {
        let c = self.catalog(input.catalog_id.as_deref())?;
        Ok(g::GetDatabaseResponse { database: Some(api(&c.get_database(&input.name).map_err(catalog_err)?)?) })
    }

    async fn get_databases(
        &self,
        _: &Context,
        input: g::GetDatabasesRequest,
    ) -> Result<g::GetDatabasesResponse, ServiceError> {
        let c = self.catalog(input.catalog_id.as_deref())?;
        let (dbs, next_token) =
            c.get_databases(input.next_token.as_deref(), page(input.max_results)).map_err(catalog_err)?;
        Ok(g::GetDatabasesResponse { database_list: dbs.iter().map(api).collect::<Result<_, _>>()?, next_token })
    }

    async fn get_partition(
        &self,
        _: &Context,
        input: g::GetPartitionRequest,
    ) -> Result<g::GetPartitionResponse, ServiceError> {
        let c = self.catalog(input.catalog_id.as_deref())?;
        let p =
            c.get_partition(&input.database_name, &input.table_name, &input.partition_values).map_err(catalog_err)?;
        Ok(g::GetPartitionResponse { partition: Some(api(&p)?) })
    }

    async fn get_partitions(
        &self,
        _: &Context,
        input: g::GetPartitionsRequest,
    ) -> Result<g::GetPartitionsResponse, ServiceError> {
        let c = self.catalog(input.catalog_id.as_deref())?;
        let segment = input
            .segment
            .as_ref()
            .map(|s| (u32::try_from(s.segment_number).unwrap_or(0), u32::try_from(s.total_segments).unwrap_or(1)));
        let (mut parts, next_token) = c
            .get_partitions(
                &input.database_name,
                &input.table_name,
                input.expression.as_deref(),
                segment,
                input.next_token.as_deref(),
                page(input.max_results),
            )
            .map_err(catalog_err)?;
        if input.exclude_column_schema == Some(true) {
            for p in &mut parts {
                if let Some(sd) = p.storage_descriptor.as_mut() {
                    sd.columns.clear();
                }
            }
        }
        Ok(g::GetPartitionsResponse { partitions: Some(parts.iter().map(api).collect::<Result<_, _>>()?), next_token })
    }

    async fn get_table(&self, _: &Context, input: g::GetTableRequest) -> Result<g::GetTableResponse, ServiceError> {
        let c = self.catalog(input.catalog_id.as_deref())?;
        let table = c.get_table(&input.database_name, &input.name).map_err(catalog_err)?;
        Ok(g::GetTableResponse { table: Some(api(&table)?) })
    }

    async fn get_table_version(
        &self,
        _: &Context,
        input: g::GetTableVersionRequest,
    ) -> Result<g::GetTableVersionResponse, ServiceError> {
        let c = self.catalog(input.catalog_id.as_deref())?;
        let v = c
            .get_table_version(&input.database_name, &input.table_name, input.version_id.as_deref())
            .map_err(catalog_err)?;
        Ok(g::GetTableVersionResponse { table_version: Some(api(&v)?) })
    }

    async fn get_table_versions(
        &self,
        _: &Context,
        input: g::GetTableVersionsRequest,
    ) -> Result<g::GetTableVersionsResponse, ServiceError> {
        let c = self.catalog(input.catalog_id.as_deref())?;
        let (versions, next_token) = c
            .get_table_versions(
                &input.database_name,
                &input.table_name,
                input.next_token.as_deref(),
                page(input.max_results),
            )
            .map_err(catalog_err)?;
        Ok(g::GetTableVersionsResponse {
            table_versions: Some(versions.iter().map(api).collect::<Result<_, _>>()?),
            next_token,
        })
    }

    async fn get_tables(&self, _: &Context, input: g::GetTablesRequest) -> Result<g::GetTablesResponse, ServiceError> {
        let c = self.catalog(input.catalog_id.as_deref())?;
        let (tables, next_token) = c
            .get_tables(
                &input.database_name,
                input.expression.as_deref(),
                input.next_token.as_deref(),
                page(input.max_results),
            )
            .map_err(catalog_err)?;
        Ok(g::GetTablesResponse { table_list: Some(tables.iter().map(api).collect::<Result<_, _>>()?), next_token })
    }

    async fn list_crawlers(
        &self,
        _: &Context,
        input: g::ListCrawlersRequest,
    ) -> Result<g::ListCrawlersResponse, ServiceError> {
        api(&self.crawlers.list_crawlers(domain(input)?).map_err(crawler_err)?)
    }

    async fn start_crawler(
        &self,
        _: &Context,
        input: g::StartCrawlerRequest,
    ) -> Result<g::StartCrawlerResponse, ServiceError> {
        self.crawlers.start_crawler(&input.name).await.map_err(crawler_err)?;
        Ok(g::StartCrawlerResponse {})
    }

    async fn start_crawler_schedule(
        &self,
        _: &Context,
        input: g::StartCrawlerScheduleRequest,
    ) -> Result<g::StartCrawlerScheduleResponse, ServiceError> {
        self.crawlers.start_crawler_schedule(&input.crawler_name).await.map_err(crawler_err)?;
        Ok(g::StartCrawlerScheduleResponse {})
    }

    async fn stop_crawler(
        &self,
        _: &Context,
        input: g::StopCrawlerRequest,
    ) -> Result<g::StopCrawlerResponse, ServiceError> {
        self.crawlers.stop_crawler(&input.name).await.map_err(crawler_err)?;
        Ok(g::StopCrawlerResponse {})
    }

    async fn stop_crawler_schedule(
        &self,
        _: &Context,
        input: g::StopCrawlerScheduleRequest,
    ) -> Result<g::StopCrawlerScheduleResponse, ServiceError> {
        self.crawlers.stop_crawler_schedule(&input.crawler_name).await.map_err(crawler_err)?;
        Ok(g::StopCrawlerScheduleResponse {})
    }

    async fn update_crawler(
        &self,
        _: &Context,
        input: g::UpdateCrawlerRequest,
    ) -> Result<g::UpdateCrawlerResponse, ServiceError> {
        self.crawlers.update_crawler(domain(input)?).await.map_err(crawler_err)?;
        Ok(g::UpdateCrawlerResponse {})
    }

    async fn update_crawler_schedule(
        &self,
        _: &Context,
        input: g::UpdateCrawlerScheduleRequest,
    ) -> Result<g::UpdateCrawlerScheduleResponse, ServiceError> {
        self.crawlers
            .update_crawler_schedule(&input.crawler_name, input.schedule.as_deref())
            .await
            .map_err(crawler_err)?;
        Ok(g::UpdateCrawlerScheduleResponse {})
    }

    async fn update_database(
        &self,
        _: &Context,
        input: g::UpdateDatabaseRequest,
    ) -> Result<g::UpdateDatabaseResponse, ServiceError> {
        let c = self.catalog(input.catalog_id.as_deref())?;
        c.update_database(&input.name, domain(input.database_input)?).await.map_err(catalog_err)?;
        Ok(g::UpdateDatabaseResponse {})
    }

    async fn update_partition(
        &self,
        _: &Context,
        input: g::UpdatePartitionRequest,
    ) -> Result<g::UpdatePartitionResponse, ServiceError> {
        let c = self.catalog(input.catalog_id.as_deref())?;
        c.update_partition(
            &input.database_name,
            &input.table_name,
            input.partition_value_list,
            domain(input.partition_input)?,
        )
        .await
        .map_err(catalog_err)?;
        Ok(g::UpdatePartitionResponse {})
    }

    async fn update_table(
        &self,
        _: &Context,
        input: g::UpdateTableRequest,
    ) -> Result<g::UpdateTableResponse, ServiceError> {
        let c = self.catalog(input.catalog_id.as_deref())?;
        let table = input.table_input.ok_or_else(|| missing("tableInput"))?;
        c.update_table(&input.database_name, domain(table)?, input.skip_archive.unwrap_or(false), input.version_id)
            .await
            .map_err(catalog_err)?;
        Ok(g::UpdateTableResponse {})
    }
}

/// A member the model leaves optional (it has alternatives tarn does not serve yet) but tarn
/// needs, in the words of Glue's validation.
fn missing(member: &str) -> ServiceError {
    ServiceError::validation(
        &g::MODEL.validation,
        format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ),
    )
}
