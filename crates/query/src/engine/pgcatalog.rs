//! PostgreSQL's system catalog for the PostgreSQL wire, over the Glue catalog: the `pg_catalog`
//! relations, functions and SQL forms that drivers, ORMs and BI tools use to browse a database
//! (psycopg, SQLAlchemy's inspector, pgjdbc's DatabaseMetaData, DBeaver, dbt). The relations,
//! the functions and the rewriting of PostgreSQL-only syntax (`'t'::regclass`, `= ANY(...)`,
//! `OPERATOR(pg_catalog.~)`, bare `current_user`, ...) come from `datafusion-pg-catalog`; tarn
//! gives it the catalog to describe ([`GlueInfo`]: Glue databases are schemas, tables and
//! views are relations with their columns) and the session's own functions ([`super::pgfuncs`]).
//!
//! Only sessions of the PostgreSQL wire see any of this: Athena's dialect stays Trino's.

use std::sync::{Arc, LazyLock, OnceLock};

use async_trait::async_trait;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::catalog::SchemaProvider;
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result};
use datafusion::prelude::SessionContext;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentList, FunctionArguments, Ident, ObjectName, Query,
    SelectItem, SetExpr, Statement, TableFactor, Value, Visit, VisitMut, Visitor, VisitorMut, visit_expressions_mut,
};
use datafusion_pg_catalog::pg_catalog::catalog_info::CatalogInfo;
use datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_pg_catalog::pg_catalog::{self as pgc, PgCatalogSchemaProvider, PgCatalogStaticTables};
use datafusion_pg_catalog::sql::PostgresCompatibilityParser;
use tarn_catalog::Catalog;

use super::store::Caller;
use super::tables::CATALOG_NAME;

/// The catalog as `pg_catalog` describes it, seen by one caller: the databases and tables it
/// may list (all of them for the account root).
#[derive(Clone)]
pub struct GlueInfo {
    catalog: Catalog,
    caller: Option<Arc<Caller>>,
}

impl std::fmt::Debug for GlueInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GlueInfo")
    }
}

impl GlueInfo {
    fn may(&self, action: &str, database: Option<&str>, table: Option<&str>) -> bool {
        self.caller.as_ref().is_none_or(|c| c.glue(action, database, table).is_ok())
    }

    fn databases(&self) -> Vec<String> {
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let Ok((page, next)) = self.catalog.get_databases(token.as_deref(), None) else { return names };
            names.extend(page.into_iter().map(|d| d.name).filter(|d| self.may("glue:GetDatabase", Some(d), None)));
            match next {
                Some(t) => token = Some(t),
                None => return names,
            }
        }
    }

    /// The database a schema reads: itself, or a resource link's target.
    fn resolve(&self, database: &str) -> String {
        self.catalog
            .get_database(database)
            .ok()
            .and_then(|d| super::tables::link_target(&d))
            .unwrap_or_else(|| database.to_string())
    }

    fn tables(&self, database: &str) -> Vec<String> {
        if !self.may("glue:GetTables", Some(database), None) {
            return Vec::new();
        }
        let database = &self.resolve(database);
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let Ok((page, next)) = self.catalog.get_tables(database, None, token.as_deref(), None) else {
                return names;
            };
            names.extend(page.into_iter().map(|t| t.name));
            match next {
                Some(t) => token = Some(t),
                None => return names,
            }
        }
    }

    fn table(&self, catalog: &str, database: &str, table: &str) -> Option<tarn_catalog::Table> {
        if catalog != CATALOG_NAME || !self.may("glue:GetTable", Some(database), Some(table)) {
            return None;
        }
        self.catalog.get_table(&self.resolve(database), table).ok()
    }
}

#[async_trait]
impl CatalogInfo for GlueInfo {
    async fn catalog_names(&self) -> Result<Vec<String>> {
        Ok(vec![CATALOG_NAME.to_string()])
    }

    async fn schema_names(&self, catalog: &str) -> Result<Option<Vec<String>>> {
        Ok((catalog == CATALOG_NAME).then(|| self.databases()))
    }

    async fn table_names(&self, catalog: &str, schema: &str) -> Result<Option<Vec<String>>> {
        Ok((catalog == CATALOG_NAME).then(|| self.tables(schema)))
    }

    async fn table_schema(&self, catalog: &str, schema: &str, table: &str) -> Result<Option<SchemaRef>> {
        let Some(t) = self.table(catalog, schema, table) else { return Ok(None) };
        // a column whose Glue type tarn cannot read is left out, as the table's reads leave it
        let fields: Vec<_> =
            t.columns().iter().chain(t.partition_keys.iter()).filter_map(|c| super::tables::field_of(c).ok()).collect();
        Ok(Some(Arc::new(Schema::new(fields))))
    }

    async fn table_type(&self, catalog: &str, schema: &str, table: &str) -> Result<Option<TableType>> {
        Ok(self.table(catalog, schema, table).map(|t| if t.is_view() { TableType::View } else { TableType::Base }))
    }
}

/// PostgreSQL's catalog tables that never change (pg_type, pg_proc, ...), read once.
static STATIC_TABLES: OnceLock<Arc<PgCatalogStaticTables>> = OnceLock::new();

fn static_tables() -> Result<Arc<PgCatalogStaticTables>> {
    if let Some(t) = STATIC_TABLES.get() {
        return Ok(t.clone());
    }
    let tables = Arc::new(PgCatalogStaticTables::try_new()?);
    Ok(STATIC_TABLES.get_or_init(|| tables).clone())
}

/// The `pg_catalog` schema of one statement, describing what `caller` may list.
pub fn schema(
    catalog: Catalog,
    caller: Option<Arc<Caller>>,
    load_errors: LoadErrorsView,
) -> Result<Arc<dyn SchemaProvider>> {
    let inner = PgCatalogSchemaProvider::try_new(GlueInfo { catalog, caller }, static_tables()?, EmptyContextProvider)?;
    Ok(Arc::new(PgCatalog { inner: Arc::new(inner), load_errors }))
}

/// Redshift's STL_LOAD_ERRORS as one reader sees it (`user` None: the account root, all rows).
#[derive(Debug, Clone)]
pub struct LoadErrorsView {
    pub errors: super::loaderrors::LoadErrors,
    pub user: Option<String>,
}

/// Redshift's system tables tarn keeps, in `pg_catalog` (on every search path, as Redshift's).
const SYSTEM_TABLES: [&str; 1] = ["stl_load_errors"];

/// `pg_catalog` with `pg_index`'s vector columns (`indkey`, `indoption`, `indclass`,
/// `indcollation`) as arrays, as PostgreSQL's clients use them (`unnest(indkey)`).
#[derive(Debug)]
struct PgCatalog {
    inner: Arc<dyn SchemaProvider>,
    load_errors: LoadErrorsView,
}

#[async_trait]
impl SchemaProvider for PgCatalog {
    fn table_names(&self) -> Vec<String> {
        let mut names = self.inner.table_names();
        names.extend(SYSTEM_TABLES.iter().map(|s| (*s).to_string()));
        names
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn datafusion::catalog::TableProvider>>> {
        if name.eq_ignore_ascii_case("stl_load_errors") {
            return Ok(Some(self.load_errors.errors.table(self.load_errors.user.as_deref())?));
        }
        if name.eq_ignore_ascii_case("pg_index") {
            return Ok(Some(pg_index()?));
        }
        if name.eq_ignore_ascii_case("pg_constraint") {
            return Ok(Some(pg_constraint()?));
        }
        let table = self.inner.table(name).await?;
        match table {
            Some(t) if name.eq_ignore_ascii_case("pg_class") && t.schema().index_of("reloptions").is_err() => {
                Ok(Some(with_reloptions(t)?))
            }
            Some(t) if name.eq_ignore_ascii_case("pg_namespace") => Ok(Some(with_pg_catalog(t)?)),
            Some(t) if name.eq_ignore_ascii_case("pg_settings") => Ok(Some(with_max_index_keys(t)?)),
            other => Ok(other),
        }
    }

    fn table_exist(&self, name: &str) -> bool {
        SYSTEM_TABLES.contains(&name.to_ascii_lowercase().as_str()) || self.inner.table_exist(name)
    }
}

/// Redshift's system tables named without a schema are pg_catalog's, as on Redshift.
fn qualify_system_tables(statement: &mut Statement) {
    let _ = datafusion::sql::sqlparser::ast::visit_relations_mut(statement, |name| {
        if name.0.len() == 1
            && name.0[0].as_ident().is_some_and(|i| SYSTEM_TABLES.contains(&i.value.to_ascii_lowercase().as_str()))
        {
            name.0.insert(0, datafusion::sql::sqlparser::ast::ObjectNamePart::Identifier(Ident::new("pg_catalog")));
        }
        ControlFlow::<()>::Continue(())
    });
}

/// `pg_class` with `reloptions` (a relation's storage options: none in tarn), which
/// SQLAlchemy's index reflection reads, and `relacl`.
fn with_reloptions(
    pg_class: Arc<dyn datafusion::catalog::TableProvider>,
) -> Result<Arc<dyn datafusion::catalog::TableProvider>> {
    use datafusion::arrow::datatypes::{DataType, Field};
    use datafusion::logical_expr::{LogicalPlanBuilder, cast, col, lit};
    let columns: Vec<_> = pg_class.schema().fields().iter().map(|f| col(f.name())).collect();
    let text_list = DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)));
    let plan = LogicalPlanBuilder::scan("pg_class", datafusion::datasource::provider_as_source(pg_class), None)?
        .project(columns.into_iter().chain([
            cast(lit(datafusion::common::ScalarValue::Null), text_list.clone()).alias("reloptions"),
            // no privileges are kept per relation (pgjdbc's getTablePrivileges reads it)
            cast(lit(datafusion::common::ScalarValue::Null), text_list).alias("relacl"),
        ]))?
        .build()?;
    Ok(Arc::new(datafusion::catalog::view::ViewTable::new(plan, None)))
}

/// A catalog relation with one more row: `values` by column name, NULL elsewhere.
fn with_row(
    table: Arc<dyn datafusion::catalog::TableProvider>,
    name: &str,
    values: &[(&str, datafusion::logical_expr::Expr)],
) -> Result<Arc<dyn datafusion::catalog::TableProvider>> {
    use datafusion::logical_expr::{LogicalPlanBuilder, cast, lit};
    let schema = table.schema();
    let row: Vec<_> = schema
        .fields()
        .iter()
        .map(|f| {
            let value = values
                .iter()
                .find(|(n, _)| n == f.name())
                .map_or_else(|| lit(datafusion::common::ScalarValue::Null), |(_, v)| v.clone());
            cast(value, f.data_type().clone()).alias(f.name())
        })
        .collect();
    let extra = LogicalPlanBuilder::empty(true).project(row)?.build()?;
    let plan = LogicalPlanBuilder::scan(name, datafusion::datasource::provider_as_source(table), None)?
        .union(extra)?
        .build()?;
    Ok(Arc::new(datafusion::catalog::view::ViewTable::new(plan, None)))
}

/// `pg_namespace` with `pg_catalog` itself under PostgreSQL's oid 11, which `pg_type`'s rows
/// name as their namespace (pgjdbc's type lookups join the two).
fn with_pg_catalog(
    pg_namespace: Arc<dyn datafusion::catalog::TableProvider>,
) -> Result<Arc<dyn datafusion::catalog::TableProvider>> {
    use datafusion::logical_expr::lit;
    with_row(
        pg_namespace,
        "pg_namespace",
        &[("oid", lit(PG_CATALOG_OID)), ("nspname", lit("pg_catalog")), ("nspowner", lit(10))],
    )
}

/// `pg_settings` with `max_index_keys` (32, as PostgreSQL builds it), which pgjdbc reads before
/// getImportedKeys/getExportedKeys.
fn with_max_index_keys(
    pg_settings: Arc<dyn datafusion::catalog::TableProvider>,
) -> Result<Arc<dyn datafusion::catalog::TableProvider>> {
    use datafusion::logical_expr::lit;
    with_row(
        pg_settings,
        "pg_settings",
        &[
            ("name", lit("max_index_keys")),
            ("setting", lit("32")),
            ("category", lit("Preset Options")),
            ("short_desc", lit("Shows the maximum number of index keys.")),
            ("context", lit("internal")),
            ("vartype", lit("integer")),
            ("source", lit("default")),
            ("min_val", lit("32")),
            ("max_val", lit("32")),
            ("reset_val", lit("32")),
            ("pending_restart", lit(false)),
        ],
    )
}

/// PostgreSQL's oid of the `pg_catalog` namespace.
const PG_CATALOG_OID: i32 = 11;

type Batches = (SchemaRef, Vec<datafusion::arrow::array::RecordBatch>);

static PG_INDEX: OnceLock<Batches> = OnceLock::new();

/// A vector column (`int2vector`, `oidvector`: numbers separated by spaces) as a list of `T`.
fn vector_column<T: datafusion::arrow::datatypes::ArrowPrimitiveType>(
    text: &datafusion::arrow::array::StringArray,
) -> datafusion::arrow::array::ArrayRef
where
    T::Native: std::str::FromStr,
{
    use datafusion::arrow::array::{Array, ListBuilder, PrimitiveBuilder};
    let mut b = ListBuilder::new(PrimitiveBuilder::<T>::new());
    for i in 0..text.len() {
        if text.is_null(i) {
            b.append_null();
        } else {
            // `1 2` (a vector) or `{1,2}` (an array)
            let words = text.value(i).split([' ', ',', '{', '}']).filter(|w| !w.is_empty());
            b.append_value(words.map(|w| w.parse::<T::Native>().ok()));
        }
    }
    Arc::new(b.finish())
}

/// A static catalog table with its vector and array columns (`int2vector`, `oidvector`,
/// `int2[]`, `oid[]`: text in the crate's rows) as lists: `small` ones of Int16, `wide` ones of
/// Int32.
fn with_vectors(table: &Arc<pgc::ArrowTable>, small: &[&str], wide: &[&str]) -> Result<Batches> {
    use datafusion::arrow::array::{ArrayRef, AsArray, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field};
    let is_small = |name: &str| small.contains(&name);
    let vector = |name: &str| small.contains(&name) || wide.contains(&name);
    let source = table.schema();
    let fields: Vec<Field> = source
        .fields()
        .iter()
        .map(|f| {
            if vector(f.name()) && f.data_type() == &DataType::Utf8 {
                let item = if is_small(f.name()) { DataType::Int16 } else { DataType::Int32 };
                Field::new(f.name(), DataType::List(Arc::new(Field::new("item", item, true))), true)
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let mut batches = Vec::new();
    for batch in table.data() {
        let columns: Vec<ArrayRef> = source
            .fields()
            .iter()
            .zip(batch.columns())
            .map(|(f, column)| match column.as_string_opt::<i32>() {
                Some(text) if vector(f.name()) && is_small(f.name()) => {
                    vector_column::<datafusion::arrow::datatypes::Int16Type>(text)
                }
                Some(text) if vector(f.name()) => vector_column::<datafusion::arrow::datatypes::Int32Type>(text),
                _ => column.clone(),
            })
            .collect();
        batches.push(RecordBatch::try_new(schema.clone(), columns)?);
    }
    Ok((schema, batches))
}

fn pg_index_batches() -> Result<Batches> {
    with_vectors(&static_tables()?.pg_index, &["indkey", "indoption"], &["indclass", "indcollation"])
}

/// `pg_constraint` with its key arrays as lists (pgjdbc's getImportedKeys/getExportedKeys
/// read `con.conkey[pos.n]`). tarn keeps no constraints of its own: its rows are PostgreSQL's
/// system ones, which name no relation of tarn's catalog.
fn pg_constraint() -> Result<Arc<dyn datafusion::catalog::TableProvider>> {
    if PG_CONSTRAINT.get().is_none() {
        let built = with_vectors(
            &static_tables()?.pg_constraint,
            &["conkey", "confkey"],
            &["conpfeqop", "conppeqop", "conffeqop", "conexclop", "confdelsetcols"],
        )?;
        let _ = PG_CONSTRAINT.set(built);
    }
    let (schema, batches) = PG_CONSTRAINT.get().ok_or_else(|| DataFusionError::Internal("pg_constraint".into()))?;
    Ok(Arc::new(datafusion::datasource::MemTable::try_new(schema.clone(), vec![batches.clone()])?))
}

static PG_CONSTRAINT: OnceLock<Batches> = OnceLock::new();

fn pg_index() -> Result<Arc<dyn datafusion::catalog::TableProvider>> {
    if PG_INDEX.get().is_none() {
        let built = pg_index_batches()?;
        let _ = PG_INDEX.set(built);
    }
    let (schema, batches) = PG_INDEX.get().ok_or_else(|| DataFusionError::Internal("pg_index".into()))?;
    Ok(Arc::new(datafusion::datasource::MemTable::try_new(schema.clone(), vec![batches.clone()])?))
}

/// The oid of a type by name (`to_regtype`): PostgreSQL's built-in types, NULL for others.
fn type_oids() -> Result<&'static std::collections::HashMap<String, i32>> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::Int32Type;
    static OIDS: OnceLock<std::collections::HashMap<String, i32>> = OnceLock::new();
    if let Some(m) = OIDS.get() {
        return Ok(m);
    }
    let table = static_tables()?.pg_type.clone();
    let schema = table.schema();
    let (oid, name) = (schema.index_of("oid")?, schema.index_of("typname")?);
    let mut map = std::collections::HashMap::new();
    for batch in table.data() {
        let (oids, names) = (batch.column(oid), batch.column(name));
        let (Some(oids), Some(names)) = (oids.as_primitive_opt::<Int32Type>(), names.as_string_opt::<i32>()) else {
            continue;
        };
        for i in 0..oids.len() {
            if !oids.is_null(i) && !names.is_null(i) {
                map.insert(names.value(i).to_string(), oids.value(i));
            }
        }
    }
    Ok(OIDS.get_or_init(|| map))
}

/// PostgreSQL's other spellings of built-in type names.
fn type_name(name: &str) -> String {
    let name = name.trim().trim_start_matches("pg_catalog.").trim_matches('"').to_ascii_lowercase();
    let base = match name.as_str() {
        "integer" | "int" => "int4",
        "smallint" => "int2",
        "bigint" => "int8",
        "real" => "float4",
        "double precision" => "float8",
        "boolean" => "bool",
        "character varying" => "varchar",
        "character" => "bpchar",
        "decimal" => "numeric",
        "timestamp without time zone" => "timestamp",
        "timestamp with time zone" => "timestamptz",
        other => other,
    };
    base.to_string()
}

fn catalog_udfs() -> Result<Vec<datafusion::logical_expr::ScalarUDF>> {
    use datafusion::arrow::array::{Array, AsArray, BooleanArray, Int32Array};
    use datafusion::arrow::datatypes::DataType;
    use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
    let oids = type_oids()?;
    let to_regtype = create_udf(
        "to_regtype",
        vec![DataType::Utf8],
        DataType::Int32,
        Volatility::Stable,
        Arc::new(move |args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let names = arrays[0].as_string::<i32>();
            let out: Int32Array = (0..names.len())
                .map(|i| if names.is_null(i) { None } else { oids.get(&type_name(names.value(i))).copied() })
                .collect();
            Ok(ColumnarValue::Array(Arc::new(out)))
        }),
    );
    // every type tarn knows is in pg_catalog, which is on every search path
    let visible = create_udf(
        "pg_type_is_visible",
        vec![DataType::Int32],
        DataType::Boolean,
        Volatility::Stable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let out: BooleanArray = (0..arrays[0].len()).map(|i| (!arrays[0].is_null(i)).then_some(true)).collect();
            Ok(ColumnarValue::Array(Arc::new(out)))
        }),
    );
    let mut udfs = vec![to_regtype, visible, like_escape_udf()];
    // what tarn's catalog never has: indexes, and comments kept as pg_description rows
    for name in [
        "pg_get_indexdef",
        "obj_description",
        "col_description",
        "shobj_description",
        // functions are PostgreSQL's own rows of pg_proc: their signatures are not kept
        "pg_get_function_result",
        "pg_get_function_arguments",
        "pg_get_function_identity_arguments",
    ] {
        udfs.push(datafusion::logical_expr::ScalarUDF::new_from_impl(NullOf::text(name)));
    }
    for name in ["_pg_expandarray", "information_schema._pg_expandarray"] {
        udfs.push(datafusion::logical_expr::ScalarUDF::new_from_impl(NullOf::expand_array(name)));
    }
    Ok(udfs)
}

/// A catalog function whose answer is always NULL (of type `ty`) in tarn: `pg_get_indexdef`
/// and the comment functions (text, any one to three arguments), and
/// `information_schema._pg_expandarray`, PostgreSQL's set-returning function of an array's
/// elements `x` with their positions `n`, which pgjdbc's getPrimaryKeys and getIndexInfo read
/// over `pg_index.indkey`: tarn has no indexes, so pg_index has no rows and it is never called on
/// one; as a scalar of a struct type it plans those queries.
#[derive(Debug, PartialEq, Eq, Hash)]
struct NullOf {
    name: &'static str,
    signature: datafusion::logical_expr::Signature,
    ty: datafusion::arrow::datatypes::DataType,
}

impl NullOf {
    fn text(name: &'static str) -> Self {
        use datafusion::logical_expr::{Signature, TypeSignature, Volatility};
        let shapes = (1..=3).map(TypeSignature::Any).collect();
        let ty = datafusion::arrow::datatypes::DataType::Utf8;
        Self { name, signature: Signature::one_of(shapes, Volatility::Stable), ty }
    }

    fn expand_array(name: &'static str) -> Self {
        use datafusion::arrow::datatypes::{DataType, Field, Fields};
        use datafusion::logical_expr::{Signature, Volatility};
        let ty = DataType::Struct(Fields::from(vec![
            Field::new("x", DataType::Int32, true),
            Field::new("n", DataType::Int32, true),
        ]));
        Self { name, signature: Signature::any(1, Volatility::Immutable), ty }
    }
}

impl datafusion::logical_expr::ScalarUDFImpl for NullOf {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &datafusion::logical_expr::Signature {
        &self.signature
    }

    fn return_type(
        &self,
        _: &[datafusion::arrow::datatypes::DataType],
    ) -> Result<datafusion::arrow::datatypes::DataType> {
        Ok(self.ty.clone())
    }

    fn invoke_with_args(
        &self,
        _: datafusion::logical_expr::ScalarFunctionArgs,
    ) -> Result<datafusion::logical_expr::ColumnarValue> {
        Ok(datafusion::logical_expr::ColumnarValue::Scalar(datafusion::common::ScalarValue::try_from(&self.ty)?))
    }
}

/// Registers PostgreSQL's catalog functions on a statement's session (the session's own ones,
/// `version()`, `current_user` and the rest, are [`super::pgfuncs`]'s).
pub fn register(ctx: &SessionContext) -> Result<()> {
    for name in ["has_table_privilege", "has_schema_privilege", "has_database_privilege", "has_any_column_privilege"] {
        ctx.register_udf(pgc::has_privilege_udf::create_has_privilege_udf(name));
    }
    for udf in [
        pgc::create_pg_get_userbyid_udf(),
        pgc::create_pg_table_is_visible(),
        pgc::format_type::create_format_type_udf(),
        pgc::pg_get_expr_udf::create_pg_get_expr_udf(),
        pgc::create_pg_get_partkeydef_udf(),
        pgc::create_pg_relation_is_publishable_udf(),
        pgc::create_pg_get_statisticsobjdef_columns_udf(),
        pgc::create_pg_encoding_to_char_udf(),
        pgc::create_pg_relation_size_udf(),
        pgc::create_pg_total_relation_size_udf(),
        pgc::create_pg_stat_get_numscans(),
        pgc::create_pg_get_constraintdef(),
        pgc::create_pg_get_partition_ancestors_udf(),
        pgc::quote_ident_udf::create_quote_ident_udf(),
        pgc::quote_ident_udf::create_parse_ident_udf(),
        pgc::array_bounds_udf::create_array_upper_udf(),
        pgc::array_bounds_udf::create_array_lower_udf(),
    ] {
        ctx.register_udf(udf);
    }
    for udf in catalog_udfs()?.into_iter().chain(super::redshift::udfs()) {
        ctx.register_udf(udf);
    }
    ctx.register_udtf("pg_get_keywords", static_tables()?.pg_get_keywords.clone());
    pgc::generate_series_arg_coercion::CoerceIntArgsToBigInt::widen(ctx);
    Ok(())
}

/// The type planner that lets `::regclass`, `::regtype` and the other oid aliases parse.
#[must_use]
pub fn type_planner() -> Arc<dyn datafusion::logical_expr::planner::TypePlanner> {
    Arc::new(pgc::oid_type_planner::PgOidTypePlanner)
}

static PARSER: LazyLock<PostgresCompatibilityParser> = LazyLock::new(PostgresCompatibilityParser::new);

/// Parses one statement in PostgreSQL's dialect, rewritten into what DataFusion plans.
pub fn parse(sql: &str) -> Result<Statement> {
    let sql = &super::redshift::rewrite_text(sql);
    let sql = &regproc_literals(sql);
    let mut statements = match PARSER.parse(sql) {
        Ok(statements) => statements,
        Err(e) => {
            // the rewriting parser loses positions: the plain parser's error says where
            let dialect = datafusion::sql::sqlparser::dialect::PostgreSqlDialect {};
            datafusion::sql::parser::DFParser::parse_sql_with_dialect(sql, &dialect)?;
            return Err(DataFusionError::SQL(Box::new(e), None));
        }
    };
    let mut statement = match statements.len() {
        1 => statements.remove(0),
        0 => return Err(DataFusionError::Plan("no statement to run".into())),
        _ => return Err(DataFusionError::Plan("one statement at a time: several were given".into())),
    };
    let _ = VisitMut::visit(&mut statement, &mut CatalogSubqueries);
    qualify_system_tables(&mut statement);
    let _ = visit_expressions_mut(&mut statement, |e| {
        super::redshift::rewrite_expr(e);
        like_with_escape(e);
        subscripts(e);
        table_is_visible(e);
        dot_fields(e);
        ControlFlow::<()>::Continue(())
    });
    Ok(statement)
}

/// `'pg_catalog.array_in'::regproc` as the function's name (`'array_in'`): tarn's `pg_type`
/// keeps `typinput` and the other function columns as names, which a regproc compares as
/// (pgjdbc's type cache asks `typinput = 'pg_catalog.array_in'::regproc`).
fn regproc_literals(sql: &str) -> std::borrow::Cow<'_, str> {
    const CAST: &str = "'::regproc";
    let lower = sql.to_ascii_lowercase();
    if !lower.contains(CAST) {
        return std::borrow::Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len());
    let mut rest = 0;
    let mut from = 0;
    while let Some(at) = lower[from..].find(CAST).map(|i| i + from) {
        // the literal's opening quote
        let Some(open) = sql[rest..at].rfind('\'').map(|i| i + rest) else { break };
        let name = &sql[open + 1..at];
        let name = name.strip_prefix("pg_catalog.").unwrap_or(name);
        out.push_str(&sql[rest..open]);
        out.push('\'');
        out.push_str(name);
        out.push('\'');
        rest = at + CAST.len();
        from = rest;
    }
    out.push_str(&sql[rest..]);
    std::borrow::Cow::Owned(out)
}

/// `(expr).field`, PostgreSQL's access to a field of a composite value (pgjdbc reads
/// `(information_schema._pg_expandarray(i.indkey)).n`): the field named as DataFusion takes it.
fn dot_fields(e: &mut Expr) {
    use datafusion::sql::sqlparser::ast::AccessExpr;
    let Expr::CompoundFieldAccess { root, access_chain } = e else { return };
    // `t.col[i]` is a column of a relation, not a field
    if matches!(root.as_ref(), Expr::Identifier(_) | Expr::CompoundIdentifier(_)) {
        return;
    }
    for access in access_chain.iter_mut() {
        if let AccessExpr::Dot(field) = access
            && let Expr::Identifier(ident) = field
        {
            *field = Expr::value(Value::SingleQuotedString(ident.value.to_ascii_lowercase()));
        }
    }
}

/// Whether a relation is one of PostgreSQL's catalog's.
fn is_catalog_relation(name: &ObjectName) -> bool {
    let parts: Vec<String> = name.0.iter().filter_map(|p| p.as_ident().map(|i| i.value.to_ascii_lowercase())).collect();
    match parts.as_slice() {
        [schema, _] => schema == "pg_catalog" || schema == "information_schema",
        [table] => table.starts_with("pg_"),
        _ => false,
    }
}

/// A scalar subquery over catalog relations that refers to the query around it (SQLAlchemy's
/// column reflection asks each column's collation and identity this way): DataFusion plans a
/// correlated scalar subquery only when it aggregates, and tarn's catalog has no collations,
/// defaults or sequences to find, so the subquery's value is NULL. Only in a SELECT list: a
/// filter keeps its meaning.
struct CatalogSubqueries;

impl VisitorMut for CatalogSubqueries {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        if let SetExpr::Select(select) = query.body.as_mut() {
            for item in &mut select.projection {
                let (SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. }) = item else { continue };
                let _ = visit_expressions_mut(expr, |e| {
                    if let Expr::Subquery(q) = e
                        && correlated_catalog_subquery(q)
                    {
                        *e = Expr::Value(Value::Null.with_empty_span());
                    }
                    ControlFlow::<()>::Continue(())
                });
            }
        }
        ControlFlow::Continue(())
    }
}

/// Whether `q` reads only catalog relations and names a column of a relation it does not read.
fn correlated_catalog_subquery(q: &Query) -> bool {
    let SetExpr::Select(select) = q.body.as_ref() else { return false };
    let mut own: Vec<String> = Vec::new();
    for twj in &select.from {
        for factor in std::iter::once(&twj.relation).chain(twj.joins.iter().map(|j| &j.relation)) {
            let TableFactor::Table { name, alias, .. } = factor else { return false };
            if !is_catalog_relation(name) {
                return false;
            }
            own.push(name.to_string().to_ascii_lowercase());
            if let Some(last) = name.0.last().and_then(|p| p.as_ident()) {
                own.push(last.value.to_ascii_lowercase());
            }
            if let Some(a) = alias {
                own.push(a.name.value.to_ascii_lowercase());
            }
        }
    }
    if own.is_empty() {
        return false;
    }
    let mut outer = false;
    let _ = q.visit(&mut OuterColumns { own: &own, found: &mut outer });
    outer
}

struct OuterColumns<'a> {
    own: &'a [String],
    found: &'a mut bool,
}

impl Visitor for OuterColumns<'_> {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if let Expr::CompoundIdentifier(idents) = expr
            && idents.len() > 1
        {
            let qualifier =
                idents[..idents.len() - 1].iter().map(|i| i.value.to_ascii_lowercase()).collect::<Vec<_>>().join(".");
            if !self.own.contains(&qualifier) {
                *self.found = true;
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }
}

/// `x LIKE p ESCAPE 'c'` with an escape other than backslash (SQLAlchemy escapes with `/`):
/// DataFusion's LIKE knows only backslash, so the pattern is rewritten to it at run time
/// (`tarn_like_escape`).
fn like_with_escape(e: &mut Expr) {
    let (Expr::Like { pattern, escape_char, .. } | Expr::ILike { pattern, escape_char, .. }) = e else { return };
    let Some(Value::SingleQuotedString(c)) = escape_char.as_ref().map(|v| &v.value) else { return };
    if c == "\\" {
        return;
    }
    let escape = Expr::Value(Value::SingleQuotedString(c.clone()).with_empty_span());
    let original = std::mem::replace(pattern.as_mut(), Expr::Value(Value::Null.with_empty_span()));
    **pattern = Expr::Function(Function {
        name: ObjectName::from(vec![Ident::new(LIKE_ESCAPE)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: vec![
                FunctionArg::Unnamed(FunctionArgExpr::Expr(original)),
                FunctionArg::Unnamed(FunctionArgExpr::Expr(escape)),
            ],
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    });
    *escape_char = None;
}

const LIKE_ESCAPE: &str = "tarn_like_escape";

/// `generate_subscripts(a, 1)` (a set-returning function beside `unnest(a)` in pgjdbc's and
/// SQLAlchemy's index queries) as `unnest(range(1, cardinality(a) + 1))`: DataFusion unnests
/// the two side by side.
fn subscripts(e: &mut Expr) {
    let Expr::Function(f) = e else { return };
    if !f.name.0.last().and_then(|p| p.as_ident()).is_some_and(|i| i.value.eq_ignore_ascii_case("generate_subscripts"))
    {
        return;
    }
    let FunctionArguments::List(list) = &f.args else { return };
    let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(array))) = list.args.first() else { return };
    let array = array.clone();
    let Ok(mut template) =
        datafusion::sql::sqlparser::parser::Parser::new(&datafusion::sql::sqlparser::dialect::PostgreSqlDialect {})
            .try_with_sql("unnest(range(1, CAST(cardinality(tarn_subscripted) AS BIGINT) + 1))")
            .and_then(|mut p| p.parse_expr())
    else {
        return;
    };
    let _ = visit_expressions_mut(&mut template, |x| {
        if matches!(x, Expr::Identifier(i) if i.value == "tarn_subscripted") {
            *x = array.clone();
        }
        ControlFlow::<()>::Continue(())
    });
    *e = template;
}

/// `pg_table_is_visible(oid)` as PostgreSQL means it: the relation's schema is on the search
/// path (the session's schema, or pg_catalog), so an unqualified name finds it. SQLAlchemy's
/// `get_table_names()` without a schema lists exactly those.
fn table_is_visible(e: &mut Expr) {
    let Expr::Function(f) = e else { return };
    if !f.name.0.last().and_then(|p| p.as_ident()).is_some_and(|i| i.value.eq_ignore_ascii_case("pg_table_is_visible"))
    {
        return;
    }
    let FunctionArguments::List(list) = &f.args else { return };
    let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(oid))) = list.args.first() else { return };
    let oid = oid.clone();
    let Ok(mut template) =
        datafusion::sql::sqlparser::parser::Parser::new(&datafusion::sql::sqlparser::dialect::PostgreSqlDialect {})
            .try_with_sql(
                "tarn_visible_oid IN (SELECT tarn_v.oid FROM pg_catalog.pg_class tarn_v \
                 JOIN pg_catalog.pg_namespace tarn_n ON tarn_v.relnamespace = tarn_n.oid \
                 WHERE tarn_n.nspname IN ('pg_catalog', current_schema()))",
            )
            .and_then(|mut p| p.parse_expr())
    else {
        return;
    };
    let _ = visit_expressions_mut(&mut template, |x| {
        if matches!(x, Expr::Identifier(i) if i.value == "tarn_visible_oid") {
            *x = oid.clone();
        }
        ControlFlow::<()>::Continue(())
    });
    *e = Expr::Nested(Box::new(template));
}

/// A LIKE pattern written with escape character `escape`, in backslash form.
#[must_use]
pub fn like_pattern_with_backslash(pattern: &str, escape: char) -> String {
    let mut out = String::with_capacity(pattern.len() + 4);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == escape {
            out.push('\\');
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else if c == '\\' {
            out.push_str("\\\\");
        } else {
            out.push(c);
        }
    }
    out
}

fn like_escape_udf() -> datafusion::logical_expr::ScalarUDF {
    use datafusion::arrow::array::{Array, AsArray, StringArray};
    use datafusion::arrow::datatypes::DataType;
    use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
    create_udf(
        LIKE_ESCAPE,
        vec![DataType::Utf8, DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let (patterns, escapes) = (arrays[0].as_string::<i32>(), arrays[1].as_string::<i32>());
            let out: StringArray = (0..patterns.len())
                .map(|i| {
                    if patterns.is_null(i) {
                        return None;
                    }
                    let escape = if escapes.is_null(i) { None } else { escapes.value(i).chars().next() };
                    Some(match escape {
                        Some(c) if c != '\\' => like_pattern_with_backslash(patterns.value(i), c),
                        _ => patterns.value(i).to_string(),
                    })
                })
                .collect();
            Ok(ColumnarValue::Array(Arc::new(out)))
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_say_where() {
        let e = parse("SELEC oops").unwrap_err().to_string();
        assert!(e.contains("Line: 1, Column: 1"), "{e}");
    }

    #[test]
    fn regproc_literals_become_function_names() {
        assert_eq!(
            super::regproc_literals("SELECT typinput='pg_catalog.array_in'::regproc AS a, 'x'::REGPROC, 'y'::text"),
            "SELECT typinput='array_in' AS a, 'x', 'y'::text"
        );
        assert_eq!(super::regproc_literals("SELECT 1"), "SELECT 1");
    }

    #[test]
    fn like_escapes_become_backslashes() {
        assert_eq!(like_pattern_with_backslash("pg/_%", '/'), "pg\\_%");
        assert_eq!(like_pattern_with_backslash("a//b", '/'), "a\\/b");
        assert_eq!(like_pattern_with_backslash("a\\b", '/'), "a\\\\b");
        let s = parse("SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname NOT LIKE 'pg/_' || '%' ESCAPE '/'")
            .unwrap()
            .to_string();
        assert!(s.contains("tarn_like_escape('pg/_' || '%', '/')") && !s.contains("ESCAPE"), "{s}");
    }

    #[test]
    fn correlated_catalog_subqueries_in_a_select_list_are_null() {
        let s = parse(
            "SELECT a.attname, CASE WHEN (SELECT t.typcollation FROM pg_catalog.pg_type t WHERE t.oid = a.atttypid) \
             != 0 THEN 1 END, (SELECT count(*) FROM pg_catalog.pg_type) AS n FROM pg_catalog.pg_attribute a \
             WHERE a.attrelid IN (SELECT c.oid FROM pg_catalog.pg_class c WHERE c.oid = a.attrelid)",
        )
        .unwrap()
        .to_string();
        assert!(s.contains("CASE WHEN (NULL <> 0)") || s.contains("CASE WHEN NULL <> 0"), "{s}");
        // an uncorrelated one, and one in a filter, stay
        assert!(s.contains("(SELECT count(*) FROM pg_catalog.pg_type"), "{s}");
        assert!(s.contains("WHERE c.oid = a.attrelid"), "{s}");
    }
}

/// PostgreSQL's `information_schema` views (schemata, tables, columns, views) over
/// `pg_catalog`, with the SQL standard's type names (`integer`, `character varying`, `numeric`,
/// `timestamp without time zone`, ...), as dbt's adapter and BI tools read them. Each view is
/// planned when a statement names it, on the statement's own session.
#[derive(Debug)]
pub struct InformationSchema {
    ctx: std::sync::Weak<SessionContext>,
}

impl InformationSchema {
    #[must_use]
    pub fn provider(ctx: std::sync::Weak<SessionContext>) -> Arc<dyn SchemaProvider> {
        Arc::new(Self { ctx })
    }
}

/// The standard's name of a PostgreSQL type (`pg_type.typname`), as `data_type` shows it.
const STANDARD_TYPE: &str = "CASE t.typname \
    WHEN 'int2' THEN 'smallint' WHEN 'int4' THEN 'integer' WHEN 'int8' THEN 'bigint' \
    WHEN 'float4' THEN 'real' WHEN 'float8' THEN 'double precision' WHEN 'bool' THEN 'boolean' \
    WHEN 'varchar' THEN 'character varying' WHEN 'bpchar' THEN 'character' \
    WHEN 'timestamp' THEN 'timestamp without time zone' WHEN 'timestamptz' THEN 'timestamp with time zone' \
    WHEN 'time' THEN 'time without time zone' WHEN 'timetz' THEN 'time with time zone' \
    WHEN 'numeric' THEN 'numeric' WHEN 'text' THEN 'text' WHEN 'date' THEN 'date' WHEN 'bytea' THEN 'bytea' \
    WHEN 'interval' THEN 'interval' WHEN 'json' THEN 'json' WHEN 'jsonb' THEN 'jsonb' \
    ELSE CASE WHEN t.typname LIKE '\\_%' THEN 'ARRAY' ELSE 'USER-DEFINED' END END";

fn information_schema_sql(view: &str) -> Option<String> {
    let relations = "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON c.relnamespace = n.oid \
                     WHERE c.relkind IN ('r', 'v', 'm', 'f', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')";
    Some(match view {
        "schemata" => "SELECT current_database() AS catalog_name, nspname AS schema_name, \
             CAST(current_user AS VARCHAR) AS schema_owner, CAST(NULL AS VARCHAR) AS default_character_set_catalog, \
             CAST(NULL AS VARCHAR) AS default_character_set_schema, CAST(NULL AS VARCHAR) AS default_character_set_name, \
             CAST(NULL AS VARCHAR) AS sql_path FROM pg_catalog.pg_namespace"
            .to_string(),
        "tables" => format!(
            "SELECT current_database() AS table_catalog, n.nspname AS table_schema, c.relname AS table_name, \
             CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'f' THEN 'FOREIGN' ELSE 'BASE TABLE' END AS table_type, \
             CAST(NULL AS VARCHAR) AS self_referencing_column_name, CAST(NULL AS VARCHAR) AS reference_generation, \
             CAST(NULL AS VARCHAR) AS user_defined_type_catalog, CAST(NULL AS VARCHAR) AS user_defined_type_schema, \
             CAST(NULL AS VARCHAR) AS user_defined_type_name, \
             CASE c.relkind WHEN 'r' THEN 'YES' ELSE 'NO' END AS is_insertable_into, 'NO' AS is_typed, \
             CAST(NULL AS VARCHAR) AS commit_action {relations}"
        ),
        "views" => format!(
            "SELECT current_database() AS table_catalog, n.nspname AS table_schema, c.relname AS table_name, \
             CAST(NULL AS VARCHAR) AS view_definition, 'NONE' AS check_option, 'NO' AS is_updatable, \
             'NO' AS is_insertable_into, 'NO' AS is_trigger_updatable, 'NO' AS is_trigger_deletable, \
             'NO' AS is_trigger_insertable_into {relations} AND c.relkind = 'v'"
        ),
        "columns" => format!(
            "SELECT current_database() AS table_catalog, n.nspname AS table_schema, c.relname AS table_name, \
             a.attname AS column_name, CAST(a.attnum AS INT) AS ordinal_position, \
             CAST(NULL AS VARCHAR) AS column_default, CASE WHEN a.attnotnull THEN 'NO' ELSE 'YES' END AS is_nullable, \
             {STANDARD_TYPE} AS data_type, \
             CAST(NULL AS INT) AS character_maximum_length, CAST(NULL AS INT) AS character_octet_length, \
             CAST(CASE t.typname WHEN 'int2' THEN 16 WHEN 'int4' THEN 32 WHEN 'int8' THEN 64 \
                WHEN 'float4' THEN 24 WHEN 'float8' THEN 53 END AS INT) AS numeric_precision, \
             CAST(CASE WHEN t.typname IN ('int2', 'int4', 'int8', 'float4', 'float8') THEN 2 END AS INT) AS numeric_precision_radix, \
             CAST(CASE WHEN t.typname IN ('int2', 'int4', 'int8') THEN 0 END AS INT) AS numeric_scale, \
             CAST(NULL AS INT) AS datetime_precision, CAST(NULL AS VARCHAR) AS interval_type, \
             CAST(NULL AS VARCHAR) AS udt_catalog, CAST(NULL AS VARCHAR) AS udt_schema, t.typname AS udt_name, \
             'NO' AS is_identity, 'NEVER' AS is_generated, 'YES' AS is_updatable \
             FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON a.attrelid = c.oid \
             JOIN pg_catalog.pg_namespace n ON c.relnamespace = n.oid \
             JOIN pg_catalog.pg_type t ON a.atttypid = t.oid \
             WHERE a.attnum > 0 AND c.relkind IN ('r', 'v', 'm', 'f', 'p') \
             AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
        ),
        _ => return None,
    })
}

const INFORMATION_SCHEMA_VIEWS: [&str; 4] = ["schemata", "tables", "columns", "views"];

#[async_trait]
impl SchemaProvider for InformationSchema {
    fn table_names(&self) -> Vec<String> {
        INFORMATION_SCHEMA_VIEWS.iter().map(|s| (*s).to_string()).collect()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn datafusion::catalog::TableProvider>>> {
        let Some(sql) = information_schema_sql(&name.to_ascii_lowercase()) else { return Ok(None) };
        let Some(ctx) = self.ctx.upgrade() else {
            return Err(DataFusionError::Internal("query context is gone".into()));
        };
        let plan = ctx
            .state()
            .statement_to_plan(datafusion::sql::parser::Statement::Statement(Box::new(parse(&sql)?)))
            .await?;
        Ok(Some(Arc::new(datafusion::catalog::view::ViewTable::new(plan, Some(sql)))))
    }

    fn table_exist(&self, name: &str) -> bool {
        INFORMATION_SCHEMA_VIEWS.contains(&name.to_ascii_lowercase().as_str())
    }
}

/// A view's query as the PostgreSQL wire stores it: three-part names that start with the
/// connection's database (what dbt writes) lose that part, so the view reads the same from
/// Athena and from other databases' sessions. The text as given when it does not parse.
#[must_use]
pub fn without_catalog(sql: &str, database: &str) -> String {
    let dialect = datafusion::sql::sqlparser::dialect::PostgreSqlDialect {};
    let Ok(mut statements) = datafusion::sql::sqlparser::parser::Parser::parse_sql(&dialect, sql) else {
        return sql.to_string();
    };
    if statements.len() != 1 {
        return sql.to_string();
    }
    let mut statement = statements.remove(0);
    let mut changed = false;
    let _ = datafusion::sql::sqlparser::ast::visit_relations_mut(&mut statement, |name| {
        if name.0.len() == 3 && name.0[0].as_ident().is_some_and(|i| i.value.eq_ignore_ascii_case(database)) {
            name.0.remove(0);
            changed = true;
        }
        ControlFlow::<()>::Continue(())
    });
    if changed { statement.to_string() } else { sql.to_string() }
}

/// What ends an output column's name that tarn made unique (see [`name_outputs`]); the wire
/// shows the name up to it.
pub const NAME_END: char = '\u{1}';

/// Names the unnamed columns of a query's outermost SELECT as PostgreSQL does: a function call
/// by the function (`count`), a column by itself, a CASE `case`, anything else `?column?`.
/// PostgreSQL allows two columns of one name and DataFusion does not, so each name made here
/// ends with [`NAME_END`] and the column's position, which the wire drops.
pub fn name_outputs(statement: &mut Statement) {
    let Statement::Query(query) = statement else { return };
    let SetExpr::Select(select) = query.body.as_mut() else { return };
    for (i, item) in select.projection.iter_mut().enumerate() {
        let SelectItem::UnnamedExpr(expr) = item else { continue };
        let Some(name) = output_name(expr) else { continue };
        let alias = Ident::with_quote('"', format!("{name}{NAME_END}{i}"));
        *item = SelectItem::ExprWithAlias { expr: expr.clone(), alias };
    }
}

/// PostgreSQL's name of an unnamed output expression; None where DataFusion's name is already
/// PostgreSQL's (a column).
fn output_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => None,
        Expr::Nested(inner) => Some(output_name(inner).unwrap_or_else(|| column_name(inner))),
        Expr::Cast { expr: inner, .. } => match inner.as_ref() {
            Expr::Identifier(_) | Expr::CompoundIdentifier(_) => Some(column_name(inner)),
            other => output_name(other),
        },
        Expr::Function(f) => {
            f.name.0.last().and_then(|p| p.as_ident()).map(|i| i.value.to_ascii_lowercase()).or(Some("?column?".into()))
        }
        Expr::Case { .. } => Some("case".into()),
        _ => Some("?column?".into()),
    }
}

/// A column reference's own name (its last part).
fn column_name(expr: &Expr) -> String {
    match expr {
        Expr::Identifier(i) => i.value.clone(),
        Expr::CompoundIdentifier(parts) => parts.last().map_or_else(|| "?column?".into(), |i| i.value.clone()),
        _ => "?column?".into(),
    }
}
