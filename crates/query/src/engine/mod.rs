//! The SQL engine: [`Engine::execute`] runs one statement. Athena's Hive-style DDL and utility
//! statements are parsed here ([`ddl`]) and applied to the Glue catalog; everything else
//! (SELECT, WITH, EXPLAIN, ...) is planned by DataFusion against [`tables::GlueCatalog`], which
//! reads tables in place from their `s3://` locations through [`store::TarnRegistry`] (no HTTP
//! loopback). Results stream as Arrow record batches. Athena's executions and the PostgreSQL
//! server use it; it uses neither.

mod avg;
mod columns;
pub mod ddl;
mod decimal;
mod exec;
mod joinfilter;
mod joinsides;
pub mod loaderrors;
mod orc;
pub mod pgcatalog;
pub mod pgfuncs;
pub mod redshift;
mod shared;
pub mod store;
pub mod tables;
mod textcodec;
mod trino;
pub mod txn;

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::ScalarValue;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::cache::cache_manager::{
    CacheManagerConfig, DEFAULT_FILE_STATISTICS_MEMORY_LIMIT, DEFAULT_METADATA_CACHE_LIMIT, FileMetadataCache,
    FileStatisticsCache,
};
use datafusion::execution::cache::default_cache::DefaultCache;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_optimizer::optimizer::PhysicalOptimizer;
use datafusion::prelude::{SessionConfig, SessionContext};
use tarn_catalog::Catalog;
use tarn_objects::Objects;

use crate::{QueryError, Result};

pub use tables::CATALOG_NAME;

/// What a statement produced: rows (possibly none) with their schema.
pub struct QueryOutput {
    pub schema: SchemaRef,
    pub stream: SendableRecordBatchStream,
    /// What kind of statement ran: `DML` (a query), `DDL`, or `UTILITY`, as Athena reports.
    pub statement_type: &'static str,
    /// The registry the statement reads through: its byte count is the data scanned so far
    /// (None for statements that read no data).
    pub registry: Option<Arc<store::TarnRegistry>>,
    /// The rows a write wrote (INSERT, COPY, CTAS), for the PostgreSQL wire's command tag.
    pub rows: Option<u64>,
}

/// A join whose smaller side is estimated under both limits builds one hash table that every
/// partition probes (DataFusion's CollectLeft), instead of hash-repartitioning both sides
/// (DataFusion's defaults are 1 MB and 128 Ki rows). On the few cores tarn is meant for,
/// repartitioning a large probe side costs more than building one table: TPC-H SF1 runs
/// about 15% faster on 2 cores with these (bench/TPCH-RESULTS.md, session 7).
const COLLECT_LEFT_BYTES: usize = 64 << 20;
const COLLECT_LEFT_ROWS: usize = 2_000_000;

/// The SQL engine: shared by Athena executions, the PostgreSQL wire and `tarn sql`.
#[derive(Clone)]
pub struct Engine {
    catalog: Catalog,
    objects: Objects,
    registry: Arc<store::TarnRegistry>,
    caches: FileCaches,
    /// Whether statements are PostgreSQL's (the PostgreSQL wire): parsed in its dialect, with
    /// `pg_catalog` and its functions (see [`pgcatalog`]); else Athena's.
    postgres: bool,
    /// Redshift's STL_LOAD_ERRORS, shared by every statement of the server.
    load_errors: loaderrors::LoadErrors,
}

/// What statements share of what they learnt about files: each Parquet file's footer and page
/// index, and the statistics planning takes from them. Each entry holds the object's size and
/// last-modified time (nanoseconds) and is used only while they still match, so an object
/// written again is read again. Listings are not shared: each statement lists its tables'
/// locations afresh and sees every object written before it started.
#[derive(Clone)]
struct FileCaches {
    metadata: Arc<FileMetadataCache>,
    statistics: Arc<FileStatisticsCache>,
}

impl FileCaches {
    fn new() -> Self {
        Self {
            metadata: Arc::new(DefaultCache::new(DEFAULT_METADATA_CACHE_LIMIT).with_name("tarn file metadata")),
            statistics: Arc::new(
                DefaultCache::new(DEFAULT_FILE_STATISTICS_MEMORY_LIMIT).with_name("tarn file statistics"),
            ),
        }
    }

    fn config(&self) -> CacheManagerConfig {
        CacheManagerConfig::default()
            .with_file_metadata_cache(Some(self.metadata.clone()))
            .with_file_statistics_cache(Some(self.statistics.clone()))
    }
}

/// The PostgreSQL session user of the current task, if it has one.
pub(crate) fn session_user() -> Option<Arc<str>> {
    SESSION_USER.try_with(Clone::clone).ok()
}

tokio::task_local! {
    /// Who the statements of the current task run as (see [`Engine::as_caller`]).
    static CALLER: Option<Arc<store::Caller>>;
    /// The PostgreSQL session user of the current task (see [`Engine::as_session_user`]).
    static SESSION_USER: Arc<str>;
}

impl Engine {
    pub fn new(objects: Objects, catalog: Catalog) -> Result<Self> {
        let registry = Arc::new(store::TarnRegistry::new(objects.clone(), catalog.account_id()));
        Ok(Self {
            catalog,
            objects,
            registry,
            caches: FileCaches::new(),
            postgres: false,
            load_errors: loaderrors::LoadErrors::default(),
        })
    }

    /// The same engine for the PostgreSQL wire: statements in PostgreSQL's dialect, with
    /// PostgreSQL's catalog (see [`pgcatalog`]).
    #[must_use]
    pub fn for_postgres(&self) -> Self {
        Self { postgres: true, ..self.clone() }
    }

    #[must_use]
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    #[must_use]
    pub fn objects(&self) -> &Objects {
        &self.objects
    }

    /// A session whose default schema is `database` (Athena's QueryExecutionContext).
    pub fn context(&self, database: Option<&str>) -> Result<(Arc<SessionContext>, Arc<store::TarnRegistry>)> {
        // a registry per statement, so the bytes it reads are its own, read as its caller
        let caller = CALLER.try_with(Clone::clone).ok().flatten();
        let registry = Arc::new(
            store::TarnRegistry::new(self.objects.clone(), self.catalog.account_id())
                .as_caller(caller.clone())
                .journalling(txn::open_journal()),
        );
        let runtime: Arc<RuntimeEnv> = RuntimeEnvBuilder::new()
            .with_object_store_registry(registry.clone())
            .with_cache_manager(self.caches.config())
            .build_arc()
            .map_err(|e| QueryError::Internal(e.to_string()))?;
        let db = database.unwrap_or("default").to_lowercase();
        let mut config = SessionConfig::new()
            .with_default_catalog_and_schema(CATALOG_NAME, &db)
            .with_create_default_catalog_and_schema(false)
            // the PostgreSQL wire has PostgreSQL's information_schema (pgcatalog), not DataFusion's
            .with_information_schema(!self.postgres);
        if self.postgres {
            // TIMESTAMP WITH TIME ZONE is an instant, in UTC as the wire sends timestamptz
            config.options_mut().execution.time_zone = Some("+00:00".into());
        }
        let optimizer = &mut config.options_mut().optimizer;
        optimizer.hash_join_single_partition_threshold = COLLECT_LEFT_BYTES;
        optimizer.hash_join_single_partition_threshold_rows = COLLECT_LEFT_ROWS;
        let mut state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime)
            .with_default_features()
            .with_physical_optimizer_rules(physical_optimizer_rules());
        if self.postgres {
            state = state.with_type_planner(pgcatalog::type_planner());
        }
        let ctx = Arc::new(SessionContext::new_with_state(state.build()));
        // Athena's avg: a decimal's average keeps the decimal's type
        ctx.register_udaf(datafusion::logical_expr::AggregateUDF::from(avg::AthenaAvg::new()));
        // Athena's JSON and ISO 8601 functions, on the PostgreSQL wire too
        for udf in trino::udfs() {
            ctx.register_udf(udf);
        }
        let mut provider = tables::GlueCatalog::new(self.catalog.clone(), Arc::downgrade(&ctx));
        if self.postgres {
            pgcatalog::register(&ctx)?;
            let user = SESSION_USER.try_with(Clone::clone).unwrap_or_else(|_| Arc::from("root"));
            let connection = txn::current().map_or_else(|| db.clone(), |s| s.database().to_string());
            pgfuncs::register_session(&ctx, &db, &connection, &user);
            provider = provider
                .with_pg_catalog(pgcatalog::schema(
                    self.catalog.clone(),
                    caller.clone(),
                    self.load_errors_of(caller.as_ref()),
                )?)
                .with_information_schema(pgcatalog::InformationSchema::provider(Arc::downgrade(&ctx)));
        } else {
            pgfuncs::register(&ctx, &db);
        }
        let provider = Arc::new(provider);
        if self.postgres {
            // PostgreSQL's three-part names start with the connection's database
            let connection = txn::current().map_or_else(|| db.clone(), |s| s.database().to_string());
            if connection != CATALOG_NAME {
                ctx.register_catalog(&connection, provider.clone());
            }
        }
        ctx.register_catalog(CATALOG_NAME, provider);
        Ok((ctx, registry))
    }

    /// STL_LOAD_ERRORS as a caller reads it: the account root every row, others their own.
    fn load_errors_of(&self, caller: Option<&Arc<store::Caller>>) -> pgcatalog::LoadErrorsView {
        let user = caller.map(|_| session_user().map_or_else(String::new, |u| u.to_string()));
        pgcatalog::LoadErrorsView { errors: self.load_errors.clone(), user }
    }

    /// Runs `f` (statements of this engine) as `caller`: every S3 call its statements make is
    /// that principal's (None: the account root's).
    pub async fn as_caller<F: std::future::Future>(caller: Option<Arc<store::Caller>>, f: F) -> F::Output {
        CALLER.scope(caller, f).await
    }

    /// Runs `f` (statements of this engine) for the PostgreSQL session user `user` (what
    /// `current_user` and `session_user` answer).
    pub async fn as_session_user<F: std::future::Future>(user: Arc<str>, f: F) -> F::Output {
        SESSION_USER.scope(user, f).await
    }

    /// The logical plan of a query, in the engine's dialect.
    async fn plan(&self, ctx: &SessionContext, sql: &str) -> Result<datafusion::logical_expr::LogicalPlan> {
        let state = ctx.state();
        if self.postgres {
            let statement = pgcatalog::parse(sql)?;
            return Ok(state
                .statement_to_plan(datafusion::sql::parser::Statement::Statement(Box::new(statement)))
                .await?);
        }
        let dialect = state.config().options().sql_parser.dialect;
        let mut statement = state.sql_to_statement(sql, &dialect)?;
        if let datafusion::sql::parser::Statement::Statement(s) = &mut statement {
            trino::rewrite_unnest(s)?;
        }
        Ok(state.statement_to_plan(statement).await?)
    }

    /// [`Engine::plan`] of a query whose rows go to a client: on the PostgreSQL wire its
    /// unnamed columns get PostgreSQL's names (`count`, `?column?`; see
    /// [`pgcatalog::name_outputs`]).
    async fn plan_result(&self, ctx: &SessionContext, sql: &str) -> Result<datafusion::logical_expr::LogicalPlan> {
        if !self.postgres {
            return self.plan(ctx, sql).await;
        }
        let mut statement = pgcatalog::parse(sql)?;
        pgcatalog::name_outputs(&mut statement);
        Ok(ctx.state().statement_to_plan(datafusion::sql::parser::Statement::Statement(Box::new(statement))).await?)
    }

    /// Runs one statement with `database` as the default schema.
    pub async fn execute(&self, sql: &str, database: Option<&str>) -> Result<QueryOutput> {
        self.execute_with(sql, database, None).await
    }

    /// [`Engine::execute`], with where a CTAS without `external_location` writes.
    pub async fn execute_with(
        &self,
        sql: &str,
        database: Option<&str>,
        ctas_location: Option<&str>,
    ) -> Result<QueryOutput> {
        if let Some(stmt) = self.parse_ddl(sql, database)? {
            return self.run_statement(stmt, database, ctas_location).await;
        }
        self.query(sql, database).await
    }

    /// A DDL or utility statement in the engine's dialect (None for queries). On the
    /// PostgreSQL wire a three-part name must start with the connection's database.
    fn parse_ddl(&self, sql: &str, database: Option<&str>) -> Result<Option<ddl::Statement>> {
        if !self.postgres {
            return ddl::parse(sql).map_err(QueryError::User);
        }
        let (stmt, catalogs) = ddl::parse_postgres(sql).map_err(QueryError::User)?;
        let session = txn::current();
        let current = session.as_ref().map_or(database.unwrap_or("default"), |s| s.database());
        if let Some(other) = catalogs.iter().find(|c| !c.eq_ignore_ascii_case(current)) {
            return Err(QueryError::User(format!(
                "cross-database references are not implemented: \"{other}\" is not the connection's database \"{current}\""
            )));
        }
        Ok(stmt)
    }

    /// What a PostgreSQL transaction block refuses to run, since its ROLLBACK could not take it
    /// back (see [`txn`]): the statement's name, or None.
    #[must_use]
    pub fn refused_in_block(&self, sql: &str) -> Option<&'static str> {
        use ddl::Statement as S;
        match ddl::parse_postgres(sql).ok()?.0? {
            S::DropDatabase { .. } => Some("DROP SCHEMA"),
            S::Unload(_) => Some("UNLOAD"),
            S::MsckRepair { .. } => Some("MSCK REPAIR TABLE"),
            S::AddPartitions { .. } => Some("ALTER TABLE ... ADD PARTITION"),
            S::DropPartitions { .. } => Some("ALTER TABLE ... DROP PARTITION"),
            _ => None,
        }
    }

    /// Whether `sql` is one of the statements the engine runs itself rather than a query.
    pub fn is_statement(&self, sql: &str) -> bool {
        matches!(self.parse_ddl(sql, None), Ok(Some(_)) | Err(_))
    }

    /// A query with parameters `$1, $2, ...` (the PostgreSQL wire's extended protocol): `bind`
    /// gets the type the planned query gives each parameter (None where it leaves one open)
    /// and returns their values, which are then cast to those types. The query is planned once.
    pub async fn execute_params(
        &self,
        sql: &str,
        database: Option<&str>,
        bind: impl FnOnce(&[Option<DataType>]) -> Result<Vec<ScalarValue>>,
    ) -> Result<QueryOutput> {
        match self.parse_ddl(sql, database)? {
            // INSERT ... VALUES ($1, $2), as drivers that bind on the server send it
            Some(ddl::Statement::InsertInto { database: target, name, columns, query }) => {
                let session_db = database.unwrap_or("default").to_lowercase();
                let db = target.unwrap_or_else(|| session_db.clone());
                return self.insert_with_params(&db, &name, &columns, &query, &session_db, bind).await;
            }
            Some(_) => {
                return Err(QueryError::User(
                    "parameters ($1, ...) are only allowed in queries and INSERT, not in DDL".into(),
                ));
            }
            None => {}
        }
        let (ctx, registry) = self.context(database)?;
        let df = ctx.execute_logical_plan(self.plan_result(&ctx, sql).await?).await?;
        let params = bind(&ordered_parameter_types(df.logical_plan())?)?;
        Self::output(df.with_param_values(params)?, registry).await
    }

    async fn query(&self, sql: &str, database: Option<&str>) -> Result<QueryOutput> {
        let (ctx, registry) = self.context(database)?;
        Self::output(ctx.execute_logical_plan(self.plan_result(&ctx, sql).await?).await?, registry).await
    }

    async fn output(df: datafusion::dataframe::DataFrame, registry: Arc<store::TarnRegistry>) -> Result<QueryOutput> {
        let schema = Arc::new(df.schema().as_arrow().clone());
        let stream = df.execute_stream().await?;
        Ok(QueryOutput { schema, stream, statement_type: "DML", registry: Some(registry), rows: None })
    }

    /// The schema a query's rows will have, without running it.
    pub async fn plan_schema(&self, sql: &str, database: Option<&str>) -> Result<SchemaRef> {
        let (ctx, _) = self.context(database)?;
        let plan = self.plan_result(&ctx, sql).await?;
        Ok(Arc::new(plan.schema().as_arrow().clone()))
    }

    /// The types the query gives its parameters `$1..$n` (None where it leaves one open); no
    /// parameters for DDL.
    pub async fn parameter_types(&self, sql: &str, database: Option<&str>) -> Result<Vec<Option<DataType>>> {
        match self.parse_ddl(sql, database)? {
            Some(ddl::Statement::InsertInto { query, .. }) => {
                let (ctx, _) = self.context(database)?;
                ordered_parameter_types(&self.plan(&ctx, &query).await?)
            }
            Some(_) => Ok(Vec::new()),
            None => {
                let (ctx, _) = self.context(database)?;
                ordered_parameter_types(&self.plan(&ctx, sql).await?)
            }
        }
    }

    /// A registry resolving `s3://` URLs to tarn buckets (for writes outside a statement).
    #[must_use]
    pub fn registry(&self) -> &Arc<store::TarnRegistry> {
        &self.registry
    }

    /// The current task's caller (see [`Engine::as_caller`]); None: the account root.
    #[must_use]
    pub fn current_caller() -> Option<Arc<store::Caller>> {
        CALLER.try_with(Clone::clone).ok().flatten()
    }

    /// The registry for S3 calls of the current task: its caller's (see
    /// [`Engine::as_caller`]), else the engine's own.
    #[must_use]
    pub fn caller_registry(&self) -> Arc<store::TarnRegistry> {
        let caller = CALLER.try_with(Clone::clone).ok().flatten();
        let journal = txn::open_journal();
        if caller.is_none() && journal.is_none() {
            return self.registry.clone();
        }
        Arc::new(
            store::TarnRegistry::new(self.objects.clone(), self.catalog.account_id())
                .as_caller(caller)
                .journalling(journal),
        )
    }
}

/// DataFusion's physical optimizer rules with tarn's: hash joins built on the side with far
/// fewer rows, right after DataFusion chooses join sides; identical subplans shared, before the
/// pushdown of join filters (which would make their copies differ); the join-key filter over
/// scans, once those filters are in place; fast decimal arithmetic, last.
fn physical_optimizer_rules() -> Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> {
    let mut rules = PhysicalOptimizer::new().rules;
    if let Some(selection) = rules.iter().position(|r| r.name() == "join_selection") {
        rules.insert(selection + 1, Arc::new(joinsides::BuildOnFewerRows));
    }
    // after the pushdown of join filters, copies would differ: without it, nothing is shared
    if let Some(post_pushdown) = rules.iter().position(|r| r.name() == "FilterPushdown(Post)") {
        rules.insert(post_pushdown, Arc::new(shared::ShareIdenticalSubplans));
    }
    rules.push(Arc::new(joinfilter::FilterJoinKeysAtScan));
    rules.push(Arc::new(decimal::FastDecimalArithmetic));
    rules
}

/// The types a plan gives `$1..$n`, in order (None where it leaves one open).
fn ordered_parameter_types(plan: &datafusion::logical_expr::LogicalPlan) -> Result<Vec<Option<DataType>>> {
    let types = plan.get_parameter_types()?;
    let count = types.keys().filter_map(|k| k.strip_prefix('$')?.parse::<usize>().ok()).max().unwrap_or(0);
    Ok((1..=count).map(|i| types.get(&format!("${i}")).cloned().flatten()).collect())
}

/// Athena's StatementType of `sql`: `DML` for queries, CTAS and INSERT INTO, `DDL` for
/// statements that change the catalog, `UTILITY` for SHOW and DESCRIBE.
#[must_use]
pub fn statement_type(sql: &str) -> &'static str {
    use ddl::Statement as S;
    match ddl::parse(sql) {
        Ok(Some(S::Ctas { .. } | S::InsertInto { .. } | S::Unload(_) | S::CopyFrom(_))) | Ok(None) | Err(_) => "DML",
        Ok(Some(
            S::ShowDatabases { .. }
            | S::ShowTables { .. }
            | S::ShowPartitions { .. }
            | S::Describe { .. }
            | S::ShowCreateTable { .. }
            | S::ShowColumns { .. },
        )) => "UTILITY",
        Ok(Some(_)) => "DDL",
    }
}

/// Whether `sql` is one of the statements tarn runs itself (DDL and utility statements).
#[must_use]
pub fn is_ddl(sql: &str) -> bool {
    matches!(ddl::parse(sql), Ok(Some(_)))
}

#[cfg(test)]
mod conformance;
#[cfg(test)]
mod tests;
