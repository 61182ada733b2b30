//! Athena's DDL and utility statements, applied to the Glue catalog; CTAS and INSERT INTO
//! write files into the table's location and register what they wrote.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::logical_expr::{cast, col};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::TryStreamExt;
use object_store::ObjectStore;
use tarn_catalog::{CatalogError, Column, Database, Partition, SerDeInfo, StorageDescriptor, Table};

use crate::engine::ddl::{PropValue, Statement};
use crate::engine::txn::{self, MANAGED, TEMPORARY, Undo, split_location};
use crate::engine::{Engine, QueryOutput};
use crate::{QueryError, Result};

const PARQUET_SERDE: &str = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe";
const PARQUET_IN: &str = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat";
const PARQUET_OUT: &str = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat";

/// Glue's name for an Arrow type.
#[must_use]
pub fn glue_type(t: &DataType) -> String {
    match t {
        DataType::Boolean => "boolean".into(),
        DataType::Int8 => "tinyint".into(),
        DataType::Int16 | DataType::UInt8 => "smallint".into(),
        DataType::Int32 | DataType::UInt16 => "int".into(),
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => "bigint".into(),
        DataType::Float16 | DataType::Float32 => "float".into(),
        DataType::Float64 => "double".into(),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => format!("decimal({p},{s})"),
        DataType::Date32 | DataType::Date64 => "date".into(),
        DataType::Timestamp(..) => "timestamp".into(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_) => {
            "binary".into()
        }
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            format!("array<{}>", glue_type(f.data_type()))
        }
        DataType::Struct(fields) => format!(
            "struct<{}>",
            fields.iter().map(|f| format!("{}:{}", f.name(), glue_type(f.data_type()))).collect::<Vec<_>>().join(",")
        ),
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => {
                format!("map<{},{}>", glue_type(kv[0].data_type()), glue_type(kv[1].data_type()))
            }
            _ => "string".into(),
        },
        _ => "string".into(),
    }
}

fn rows(columns: &[&str], data: Vec<Vec<String>>) -> Result<QueryOutput> {
    let schema: SchemaRef =
        Arc::new(Schema::new(columns.iter().map(|c| Field::new(*c, DataType::Utf8, true)).collect::<Vec<_>>()));
    let arrays: Vec<ArrayRef> = (0..columns.len())
        .map(|i| Arc::new(StringArray::from(data.iter().map(|r| r[i].clone()).collect::<Vec<_>>())) as ArrayRef)
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| QueryError::Internal(e.to_string()))?;
    Ok(output(schema, vec![batch], "UTILITY"))
}

fn done(kind: &'static str) -> QueryOutput {
    output(Arc::new(Schema::empty()), Vec::new(), kind)
}

fn output(schema: SchemaRef, batches: Vec<RecordBatch>, kind: &'static str) -> QueryOutput {
    let stream = futures::stream::iter(batches.into_iter().map(Ok));
    QueryOutput {
        schema: schema.clone(),
        stream: Box::pin(RecordBatchStreamAdapter::new(schema, stream)),
        statement_type: kind,
        registry: None,
        rows: None,
    }
}

/// A write's answer: the rows it wrote.
fn wrote(rows: u64) -> QueryOutput {
    QueryOutput { rows: Some(rows), ..done("DML") }
}

/// The rows DataFusion's writers report (a `count` column).
fn count_of(batches: &[RecordBatch]) -> u64 {
    batches
        .iter()
        .filter_map(|b| b.column_by_name("count"))
        .filter_map(|c| c.as_any().downcast_ref::<datafusion::arrow::array::UInt64Array>())
        .flat_map(|a| a.iter().flatten())
        .sum()
}

fn ignore(result: std::result::Result<(), CatalogError>, allowed: bool) -> Result<()> {
    match result {
        Err(CatalogError::AlreadyExists(_) | CatalogError::EntityNotFound(_)) if allowed => Ok(()),
        other => Ok(other?),
    }
}

fn like(pattern: Option<&str>, name: &str) -> bool {
    pattern.is_none_or(|p| tarn_catalog::name_matches(p, name))
}

fn with_slash(s: &str) -> String {
    if s.ends_with('/') { s.to_string() } else { format!("{s}/") }
}

/// The Glue action a statement is, and the database and table it names.
fn glue_action(
    stmt: &Statement,
    db_of: &dyn Fn(&Option<String>) -> String,
) -> (&'static str, Option<String>, Option<String>) {
    let on = |action, d: &Option<String>, t: &str| (action, Some(db_of(d)), Some(t.to_string()));
    match stmt {
        Statement::CreateDatabase { name, .. } | Statement::CreateExternalSchema { name, .. } => {
            ("glue:CreateDatabase", Some(name.clone()), None)
        }
        Statement::DropDatabase { name, .. } => ("glue:DeleteDatabase", Some(name.clone()), Some("*".into())),
        Statement::CreateTable { database, table, .. } => on("glue:CreateTable", database, &table.name),
        Statement::RenameTable { database, name, .. } | Statement::Truncate { database, name } => {
            on("glue:UpdateTable", database, name)
        }
        Statement::DropTable { database, name, .. } | Statement::DropView { database, name, .. } => {
            on("glue:DeleteTable", database, name)
        }
        Statement::MsckRepair { database, name } | Statement::AddPartitions { database, name, .. } => {
            on("glue:BatchCreatePartition", database, name)
        }
        Statement::DropPartitions { database, name, .. } => on("glue:BatchDeletePartition", database, name),
        Statement::ShowDatabases { .. } => ("glue:GetDatabases", None, None),
        Statement::ShowTables { database, .. } => ("glue:GetTables", Some(db_of(database)), None),
        Statement::ShowPartitions { database, name } => on("glue:GetPartitions", database, name),
        Statement::Describe { database, name }
        | Statement::ShowColumns { database, name }
        | Statement::ShowCreateTable { database, name }
        | Statement::InsertInto { database, name, .. } => on("glue:GetTable", database, name),
        Statement::CreateView { database, name, .. } | Statement::Ctas { database, name, .. } => {
            on("glue:CreateTable", database, name)
        }
        // its reads and writes are checked as they happen
        Statement::Unload(_) => ("glue:GetTable", None, None),
        Statement::CopyFrom(c) => on("glue:GetTable", &c.database, &c.name),
    }
}

impl Engine {
    /// Runs a parsed DDL or utility statement. `ctas_location` is where a CTAS without
    /// `external_location` writes (Athena: under the query's result location).
    pub(crate) async fn run_statement(
        &self,
        stmt: Statement,
        default_db: Option<&str>,
        ctas_location: Option<&str>,
    ) -> Result<QueryOutput> {
        let c = &self.catalog;
        let db_of = |d: &Option<String>| {
            d.clone().or_else(|| default_db.map(str::to_lowercase)).unwrap_or_else(|| "default".into())
        };
        // a statement on the catalog is the caller's Glue call, as Athena makes it
        if let Some(caller) = Engine::current_caller()
            && !matches!(stmt, Statement::Unload(_))
        {
            let (action, database, table) = glue_action(&stmt, &db_of);
            caller.glue(action, database.as_deref(), table.as_deref()).map_err(QueryError::AccessDenied)?;
        }
        match stmt {
            Statement::CreateDatabase { name, if_not_exists, comment, location, properties } => {
                let db = Database {
                    name,
                    description: comment,
                    location_uri: location,
                    parameters: properties,
                    ..Database::default()
                };
                ignore(self.create_schema(db).await?, if_not_exists)?;
                Ok(done("DDL"))
            }
            Statement::CreateExternalSchema { name, if_not_exists, database, create_database } => {
                if c.get_database(&database).is_err() {
                    if !create_database {
                        return Err(QueryError::User(format!(
                            "External database \"{database}\" not found in the data catalog \
                             (add CREATE EXTERNAL DATABASE IF NOT EXISTS to make it)"
                        )));
                    }
                    let target = Database { name: database.clone(), ..Database::default() };
                    ignore(self.create_schema(target).await?, true)?;
                }
                let mut link = Database { name, ..Database::default() };
                link.extra.insert(
                    "TargetDatabase".into(),
                    serde_json::json!({ "CatalogId": c.account_id(), "DatabaseName": database }),
                );
                ignore(self.create_schema(link).await?, if_not_exists)?;
                Ok(done("DDL"))
            }
            Statement::DropDatabase { name, if_exists, cascade } => {
                if !cascade
                    && let Ok((tables, _)) = c.get_tables(&name, None, None, Some(1))
                    && !tables.is_empty()
                {
                    return Err(QueryError::User(format!("Database {name} is not empty. One or more tables exist.")));
                }
                ignore(c.delete_database(&name).await, if_exists)?;
                Ok(done("DDL"))
            }
            Statement::CreateTable { database, mut table, if_not_exists, temporary } => {
                let db = if temporary { db_of(&None) } else { db_of(&database) };
                for col in table.columns().iter().chain(&table.partition_keys) {
                    tarn_catalog::types::arrow_type(col.type_name()).map_err(QueryError::User)?;
                }
                if self.postgres && table.location().is_none() && table.table_type.as_deref() == Some("MANAGED_TABLE") {
                    if if_not_exists && c.get_table(&db, &table.name).is_ok() {
                        return Ok(done("DDL"));
                    }
                    let location = self.managed_location(&db, &table.name).await?;
                    managed_parquet(&mut table, location);
                    if temporary {
                        mark_temporary(&mut table.parameters);
                    }
                }
                ignore(self.create_relation(&db, table, temporary).await?, if_not_exists)?;
                Ok(done("DDL"))
            }
            Statement::DropTable { database, name, if_exists } | Statement::DropView { database, name, if_exists } => {
                let db = db_of(&database);
                match c.get_table(&db, &name) {
                    Ok(table) => self.drop_table(&db, table).await?,
                    Err(e) => ignore(Err(e), if_exists)?,
                }
                Ok(done("DDL"))
            }
            Statement::Truncate { database, name } => {
                let db = db_of(&database);
                self.truncate(&db, c.get_table(&db, &name)?).await?;
                Ok(done("DDL"))
            }
            Statement::RenameTable { database, name, to } => {
                let db = db_of(&database);
                let undo = Undo::Renamed { db: db.clone(), from: name.clone(), to: to.clone() };
                self.journalled(undo, None, c.rename_table(&db, &name, &to)).await??;
                Ok(done("DDL"))
            }
            Statement::MsckRepair { database, name } => self.msck(&db_of(&database), &name).await,
            Statement::AddPartitions { database, name, if_not_exists, partitions } => {
                let db = db_of(&database);
                let table = c.get_table(&db, &name)?;
                let mut inputs = Vec::new();
                for (spec, location) in partitions {
                    let values = partition_values(&table, &spec)?;
                    let location = location.or_else(|| {
                        table.location().map(|l| {
                            let parts: Vec<String> = table
                                .partition_keys
                                .iter()
                                .zip(&values)
                                .map(|(k, v)| format!("{}={v}", k.name))
                                .collect();
                            format!("{}{}/", with_slash(l), parts.join("/"))
                        })
                    });
                    inputs.push(partition_input(&table, values, location));
                }
                let errors = c.batch_create_partitions(&db, &name, inputs).await?;
                if let Some((values, e)) = errors
                    .into_iter()
                    .find(|(_, e)| !(if_not_exists && matches!(e, tarn_catalog::CatalogError::AlreadyExists(_))))
                {
                    return Err(QueryError::User(format!("Partition {values:?}: {e}")));
                }
                Ok(done("DDL"))
            }
            Statement::DropPartitions { database, name, if_exists, partitions } => {
                let db = db_of(&database);
                let table = c.get_table(&db, &name)?;
                let values: Vec<Vec<String>> =
                    partitions.iter().map(|spec| partition_values(&table, spec)).collect::<Result<_>>()?;
                let errors = c.batch_delete_partitions(&db, &name, values, usize::MAX).await?;
                if !if_exists && let Some((values, _)) = errors.first() {
                    return Err(QueryError::User(format!("Partition {values:?} not found")));
                }
                Ok(done("DDL"))
            }
            Statement::ShowDatabases { like: pattern } => {
                let mut names = Vec::new();
                let mut token = None;
                loop {
                    let (page, next) = c.get_databases(token.as_deref(), None)?;
                    names.extend(page.into_iter().map(|d| d.name).filter(|n| like(pattern.as_deref(), n)));
                    match next {
                        Some(t) => token = Some(t),
                        None => break,
                    }
                }
                rows(&["database_name"], names.into_iter().map(|n| vec![n]).collect())
            }
            Statement::ShowTables { database, like: pattern } => {
                let db = db_of(&database);
                let mut names = Vec::new();
                let mut token = None;
                loop {
                    let (page, next) = c.get_tables(&db, pattern.as_deref(), token.as_deref(), None)?;
                    names.extend(page.into_iter().map(|t| t.name));
                    match next {
                        Some(t) => token = Some(t),
                        None => break,
                    }
                }
                rows(&["tab_name"], names.into_iter().map(|n| vec![n]).collect())
            }
            Statement::ShowPartitions { database, name } => {
                let db = db_of(&database);
                let table = c.get_table(&db, &name)?;
                if table.partition_keys.is_empty() {
                    return Err(QueryError::User(format!("Table {name} is not partitioned")));
                }
                let mut out = Vec::new();
                let mut token = None;
                loop {
                    let (page, next) = c.get_partitions(&db, &name, None, None, token.as_deref(), None)?;
                    for p in page {
                        let spec: Vec<String> = table
                            .partition_keys
                            .iter()
                            .zip(&p.values)
                            .map(|(k, v)| format!("{}={v}", k.name))
                            .collect();
                        out.push(vec![spec.join("/")]);
                    }
                    match next {
                        Some(t) => token = Some(t),
                        None => break,
                    }
                }
                rows(&["partition"], out)
            }
            Statement::Describe { database, name } => {
                let table = c.get_table(&db_of(&database), &name)?;
                let mut out: Vec<Vec<String>> = table
                    .columns()
                    .iter()
                    .chain(&table.partition_keys)
                    .map(|col| {
                        vec![col.name.clone(), col.type_name().to_string(), col.comment.clone().unwrap_or_default()]
                    })
                    .collect();
                if !table.partition_keys.is_empty() {
                    out.push(vec![String::new(), String::new(), String::new()]);
                    out.push(vec!["# Partition Information".into(), String::new(), String::new()]);
                    out.push(vec!["# col_name".into(), "data_type".into(), "comment".into()]);
                    for k in &table.partition_keys {
                        out.push(vec![
                            k.name.clone(),
                            k.type_name().to_string(),
                            k.comment.clone().unwrap_or_default(),
                        ]);
                    }
                }
                rows(&["col_name", "data_type", "comment"], out)
            }
            Statement::ShowColumns { database, name } => {
                let table = c.get_table(&db_of(&database), &name)?;
                let cols =
                    table.columns().iter().chain(&table.partition_keys).map(|col| vec![col.name.clone()]).collect();
                rows(&["field"], cols)
            }
            Statement::ShowCreateTable { database, name } => {
                let db = db_of(&database);
                let table = c.get_table(&db, &name)?;
                rows(&["createtab_stmt"], show_create(&db, &table).lines().map(|l| vec![l.to_string()]).collect())
            }
            Statement::CreateView { database, name, or_replace, query } => {
                let db = db_of(&database);
                let query = match txn::current() {
                    Some(session) if self.postgres => super::pgcatalog::without_catalog(&query, session.database()),
                    _ => query,
                };
                let schema = self.plan_schema(&query, Some(&db)).await?;
                let table = Table {
                    name: name.clone(),
                    table_type: Some("VIRTUAL_VIEW".into()),
                    view_original_text: Some(query.clone()),
                    view_expanded_text: Some(query),
                    parameters: [("presto_view".to_string(), "true".to_string())].into(),
                    storage_descriptor: Some(StorageDescriptor {
                        columns: schema
                            .fields()
                            .iter()
                            .map(|f| Column::new(f.name(), glue_type(f.data_type())))
                            .collect(),
                        ..StorageDescriptor::default()
                    }),
                    ..Table::default()
                };
                match c.get_table(&db, &name) {
                    Ok(old) if or_replace && old.is_view() => {
                        let undo = Undo::Replaced { db: db.clone(), table: Box::new(old), partitions: Vec::new() };
                        self.journalled(undo, None, c.update_table(&db, table, false, None)).await??;
                    }
                    Ok(_) => return Err(QueryError::User(format!("View {name} already exists"))),
                    Err(_) => self.create_relation(&db, table, false).await??,
                }
                Ok(done("DDL"))
            }
            Statement::Ctas { database, name, if_not_exists, properties, query, with_data, temporary } => {
                let db = if temporary { db_of(&None) } else { db_of(&database) };
                if c.get_table(&db, &name).is_ok() {
                    if if_not_exists {
                        return Ok(done("DML"));
                    }
                    return Err(QueryError::User(format!("Table {name} already exists")));
                }
                let session_db = db_of(&None);
                let ctas =
                    Ctas { props: &properties, query: &query, with_data, default_location: ctas_location, temporary };
                self.ctas(&db, &name, ctas, &session_db).await
            }
            Statement::Unload(u) => self.unload(u, default_db).await,
            Statement::CopyFrom(copy) => {
                let db = db_of(&copy.database);
                self.copy_from(&db, copy).await
            }
            Statement::InsertInto { database, name, columns, query } => {
                self.insert_into(&db_of(&database), &name, &columns, &query, &db_of(&None)).await
            }
        }
    }

    /// Registers the Hive-style partitions (`k=v/...`) found under a table's location.
    async fn msck(&self, db: &str, name: &str) -> Result<QueryOutput> {
        let table = self.catalog.get_table(db, name)?;
        if table.partition_keys.is_empty() {
            return Err(QueryError::User(format!("Table {name} is not partitioned")));
        }
        let location = table.location().ok_or_else(|| QueryError::User(format!("Table {name} has no LOCATION")))?;
        let (bucket, prefix) = split_location(location)?;
        let prefix = with_slash(&prefix);
        let store = self.caller_registry().bucket(&bucket);
        let mut found: BTreeMap<Vec<String>, String> = BTreeMap::new();
        let mut list = store.list(Some(&crate::engine::store::path_of(&prefix)));
        while let Some(meta) = list.try_next().await.map_err(|e| QueryError::Data(e.to_string()))? {
            let key = crate::engine::store::key_of(&meta.location);
            let rel = key.strip_prefix(&prefix).unwrap_or(&key);
            let dirs: Vec<&str> = rel.split('/').collect();
            if dirs.len() <= table.partition_keys.len() {
                continue;
            }
            let mut values = Vec::new();
            for (k, dir) in table.partition_keys.iter().zip(&dirs) {
                match dir.split_once('=') {
                    Some((kk, v)) if kk.eq_ignore_ascii_case(&k.name) => values.push(v.to_string()),
                    _ => break,
                }
            }
            if values.len() == table.partition_keys.len() {
                let loc = format!("s3://{bucket}/{prefix}{}/", dirs[..values.len()].join("/"));
                found.entry(values).or_insert(loc);
            }
        }
        let wanted: Vec<Vec<String>> = found.keys().cloned().collect();
        let (existing, _) = self.catalog.batch_get_partitions(db, name, &wanted)?;
        let existing: std::collections::HashSet<Vec<String>> = existing.into_iter().map(|p| p.values).collect();
        let mut out = Vec::new();
        let new: Vec<(Vec<String>, String)> = found.into_iter().filter(|(v, _)| !existing.contains(v)).collect();
        for chunk in new.chunks(tarn_common::limits::glue::BATCH_CREATE_PARTITIONS_MAX) {
            let inputs = chunk.iter().map(|(v, l)| partition_input(&table, v.clone(), Some(l.clone()))).collect();
            self.catalog.batch_create_partitions(db, name, inputs).await?;
            for (v, _) in chunk {
                let spec: Vec<String> =
                    table.partition_keys.iter().zip(v).map(|(k, v)| format!("{}={v}", k.name)).collect();
                out.push(vec![format!("Repair: Added partition to metastore {name}:{}", spec.join("/"))]);
            }
        }
        rows(&["result"], out)
    }

    /// CTAS into `db.name`. On the PostgreSQL wire the query's unqualified names are the
    /// session's (`session_db`, where its temporary tables are too); Athena's are the target's.
    async fn ctas(&self, db: &str, name: &str, ctas: Ctas<'_>, session_db: &str) -> Result<QueryOutput> {
        let Ctas { props, query, with_data, default_location, temporary } = ctas;
        let text = |k: &str| match props.get(k) {
            Some(PropValue::Str(s) | PropValue::Num(s)) => Some(s.clone()),
            _ => None,
        };
        let format = text("format").unwrap_or_else(|| "PARQUET".into()).to_ascii_uppercase();
        if format != "PARQUET" {
            return Err(QueryError::User(format!("CTAS format '{format}' is not supported yet; use PARQUET")));
        }
        let partitioned_by: Vec<String> = match props.get("partitioned_by") {
            Some(PropValue::Array(a)) => a.iter().map(|s| s.to_lowercase()).collect(),
            _ => Vec::new(),
        };
        let mut managed = false;
        let location = match text("external_location") {
            Some(l) => with_slash(&l),
            None => match (self.catalog.get_database(db)?.location_uri, default_location) {
                (Some(base), _) if !temporary => format!("{}{name}/", with_slash(&base)),
                (_, Some(base)) if !temporary => with_slash(base),
                _ if self.postgres => {
                    managed = true;
                    self.managed_location(db, name).await?
                }
                _ => {
                    return Err(QueryError::User(
                        "CTAS needs a location: give WITH (external_location = 's3://...') or a database LOCATION"
                            .into(),
                    ));
                }
            },
        };
        let (bucket, prefix) = split_location(&location)?;
        let store = self.caller_registry().bucket(&bucket);
        let mut existing = store.list(Some(&crate::engine::store::path_of(&prefix)));
        if existing.try_next().await.map_err(|e| QueryError::Data(e.to_string()))?.is_some() {
            return Err(QueryError::User(format!(
                "HIVE_PATH_ALREADY_EXISTS: Target directory for table '{db}.{name}' already exists: {location}. You may need to manually clean the data at location '{location}' before retrying."
            )));
        }
        let (ctx, _) = self.context(Some(if self.postgres { session_db } else { db }))?;
        let df = ctx.execute_logical_plan(self.plan(&ctx, query).await?).await?;
        let schema = df.schema().as_arrow().clone();
        for p in &partitioned_by {
            if schema.field_with_name(p).is_err() {
                return Err(QueryError::User(format!("Partition column {p} is not in the query's columns")));
            }
        }
        // partition columns go last, as Athena requires
        let data_cols: Vec<&Field> =
            schema.fields().iter().map(AsRef::as_ref).filter(|f| !partitioned_by.contains(f.name())).collect();
        let table = Table {
            name: name.to_string(),
            table_type: Some("EXTERNAL_TABLE".into()),
            parameters: [
                ("classification".to_string(), "parquet".to_string()),
                ("EXTERNAL".to_string(), "TRUE".to_string()),
            ]
            .into(),
            storage_descriptor: Some(StorageDescriptor {
                columns: data_cols.iter().map(|f| Column::new(f.name(), glue_type(f.data_type()))).collect(),
                location: Some(location.clone()),
                input_format: Some(PARQUET_IN.into()),
                output_format: Some(PARQUET_OUT.into()),
                serde_info: Some(SerDeInfo {
                    serialization_library: Some(PARQUET_SERDE.into()),
                    ..SerDeInfo::default()
                }),
                ..StorageDescriptor::default()
            }),
            partition_keys: partitioned_by
                .iter()
                .filter_map(|p| schema.field_with_name(p).ok())
                .map(|f| Column::new(f.name(), glue_type(f.data_type())))
                .collect(),
            ..Table::default()
        };
        let mut table = table;
        if managed {
            table.parameters.insert(MANAGED.into(), "true".into());
        }
        if temporary {
            mark_temporary(&mut table.parameters);
        }
        let mut rows = 0;
        if with_data {
            let options = DataFrameWriteOptions::new().with_partition_by(partitioned_by.clone());
            match df.write_parquet(&location, options, None).await {
                Ok(counts) => rows = count_of(&counts),
                Err(e) => {
                    if managed {
                        self.delete_files(&location).await?;
                    }
                    return Err(e.into());
                }
            }
        }
        if let Err(e) = self.create_relation(db, table, temporary).await? {
            if managed {
                self.delete_files(&location).await?;
            }
            return Err(e.into());
        }
        if !partitioned_by.is_empty() {
            self.msck(db, name).await?;
        }
        Ok(wrote(rows))
    }

    /// Redshift's UNLOAD: the query's rows written as Parquet, CSV or JSON under `TO`: one file
    /// (Redshift's name for it: `0000_part_00`, or `000` with PARALLEL OFF) or, partitioned,
    /// Hive-style folders; refused when the destination holds objects, unless ALLOWOVERWRITE.
    async fn unload(&self, u: crate::engine::ddl::Unload, db: Option<&str>) -> Result<QueryOutput> {
        use datafusion::common::config::{CsvOptions, JsonOptions, TableParquetOptions};
        use datafusion::common::parsers::CompressionTypeVariant;
        let (bucket, prefix) = split_location(&u.to)?;
        let store = self.caller_registry().bucket(&bucket);
        if !u.allow_overwrite {
            // TO is a key prefix (s3://b/out/part_ covers out/part_000)
            if !keys_under(&store, &prefix).await?.is_empty() {
                return Err(QueryError::User(
                    "Specified unload destination on S3 is not empty. Consider using a different bucket / prefix, \
                     manually removing the target files in S3, or using the ALLOWOVERWRITE option."
                        .into(),
                ));
            }
        }
        let (ctx, _) = self.context(db)?;
        if u.include {
            ctx.sql("SET datafusion.execution.keep_partition_by_columns = true").await?;
        }
        let df = ctx.execute_logical_plan(self.plan(&ctx, &u.query).await?).await?;
        for p in &u.partition_by {
            if df.schema().as_arrow().field_with_name(p).is_err() {
                return Err(QueryError::User(format!("PARTITION BY column {p} is not in the query's columns")));
            }
        }
        let partitioned = !u.partition_by.is_empty();
        let extension = match (u.format.as_str(), u.gzip) {
            ("parquet", _) => ".parquet",
            (_, true) => ".gz",
            _ => "",
        };
        let target = if partitioned {
            with_slash(&u.to)
        } else {
            format!("{}{}{extension}", u.to, if u.parallel { "0000_part_00" } else { "000" })
        };
        let options = DataFrameWriteOptions::new()
            .with_partition_by(u.partition_by.clone())
            .with_single_file_output(!partitioned);
        let compression = if u.gzip { CompressionTypeVariant::GZIP } else { CompressionTypeVariant::UNCOMPRESSED };
        match u.format.as_str() {
            "parquet" => {
                df.write_parquet(&target, options, None::<TableParquetOptions>).await?;
            }
            "json" => {
                let json = JsonOptions { compression, ..JsonOptions::default() };
                df.write_json(&target, options, Some(json)).await?;
            }
            _ => {
                let delimiter = u.delimiter.as_deref().unwrap_or(",");
                let [d] = delimiter.as_bytes() else {
                    return Err(QueryError::User("DELIMITER must be one character".into()));
                };
                let csv =
                    CsvOptions::default().with_has_header(u.header).with_delimiter(*d).with_compression(compression);
                df.write_csv(&target, options, Some(csv)).await?;
            }
        }
        if u.manifest {
            let entries: Vec<serde_json::Value> = keys_under(&store, &prefix)
                .await?
                .into_iter()
                .filter(|meta| !meta.location.as_ref().ends_with("manifest"))
                .map(|meta| {
                    serde_json::json!({
                        "url": format!("s3://{bucket}/{}", meta.location),
                        "meta": { "content_length": meta.size },
                    })
                })
                .collect();
            let body = serde_json::to_vec_pretty(&serde_json::json!({ "entries": entries }))
                .map_err(|e| QueryError::Internal(e.to_string()))?;
            let manifest = crate::engine::store::path_of(&format!("{prefix}manifest"));
            object_store::ObjectStoreExt::put(store.as_ref(), &manifest, body.into())
                .await
                .map_err(|e| QueryError::Data(e.to_string()))?;
        }
        Ok(done("DML"))
    }

    /// Redshift's COPY from S3 into a Parquet table: the files under the prefix read with the
    /// table's column types (CSV and text by position, JSON by name, Parquet by name), every row
    /// checked before anything is written (a malformed row fails the COPY, which then leaves no
    /// rows), then written as new files of the table.
    async fn copy_from(&self, db: &str, copy: crate::engine::ddl::CopyFrom) -> Result<QueryOutput> {
        use datafusion::datasource::file_format::file_compression_type::FileCompressionType;
        let table = self.catalog.get_table(db, &copy.name)?;
        let targets: Vec<&Column> = table.columns().iter().chain(&table.partition_keys).collect();
        let names: Vec<String> = if copy.columns.is_empty() {
            targets.iter().map(|c| c.name.clone()).collect()
        } else {
            copy.columns.clone()
        };
        let mut fields = Vec::new();
        for n in &names {
            let column = targets.iter().find(|c| c.name.eq_ignore_ascii_case(n)).ok_or_else(|| {
                QueryError::User(format!("column \"{n}\" of relation \"{}\" does not exist", copy.name))
            })?;
            let t = tarn_catalog::types::arrow_type(column.type_name()).map_err(QueryError::User)?;
            fields.push(Field::new(&column.name, t, true));
        }
        let schema = Schema::new(fields);
        // FROM names a key prefix: the files are the keys under it
        let (bucket, prefix) = split_location(&copy.from)?;
        let store = self.caller_registry().bucket(&bucket);
        let files: Vec<String> = keys_under(&store, &prefix)
            .await?
            .into_iter()
            .filter(|meta| meta.size > 0)
            .map(|meta| format!("s3://{bucket}/{}", meta.location))
            .collect();
        if files.is_empty() {
            return Err(QueryError::User(format!("The specified S3 prefix '{prefix}' does not exist")));
        }
        let from = files;
        let compression = match copy.compression.as_deref() {
            Some("gzip") => FileCompressionType::GZIP,
            Some("bzip2") => FileCompressionType::BZIP2,
            Some("zstd") => FileCompressionType::ZSTD,
            _ => FileCompressionType::UNCOMPRESSED,
        };
        let (ctx, _) = self.context(Some(db))?;
        let df = self.copy_source(&ctx, &copy, &schema, &from, compression).await?;
        // every row is read once before any is written: a malformed one fails the COPY whole
        let mut rows = 0usize;
        let mut check = df.clone().execute_stream().await?;
        loop {
            match check.try_next().await {
                Ok(Some(batch)) => rows += batch.num_rows(),
                Ok(None) => break,
                Err(e) => {
                    let (file, message) =
                        self.find_bad_row(db, &copy, &schema, &from, compression, e.to_string()).await;
                    self.record_load_error(db, &copy.name, &schema, &file, &message);
                    return Err(QueryError::User(load_error(&copy.name, &message)));
                }
            }
        }
        if rows == 0 {
            return Ok(done("DML"));
        }
        self.insert_df(db, &copy.name, &names, df).await
    }

    /// What COPY reads: `files` in the statement's format, with the table's columns.
    async fn copy_source(
        &self,
        ctx: &datafusion::prelude::SessionContext,
        copy: &crate::engine::ddl::CopyFrom,
        schema: &Schema,
        files: &[String],
        compression: datafusion::datasource::file_format::file_compression_type::FileCompressionType,
    ) -> Result<datafusion::dataframe::DataFrame> {
        use datafusion::prelude::{CsvReadOptions, JsonReadOptions, ParquetReadOptions};
        let schema = schema.clone();
        let df = match copy.format.as_str() {
            "parquet" => {
                let df = ctx
                    .read_parquet(files.to_vec(), ParquetReadOptions { file_extension: "", ..Default::default() })
                    .await?;
                let cols: Vec<_> = schema
                    .fields()
                    .iter()
                    .map(|f| {
                        cast(col(format!("\"{}\"", f.name().replace('"', "\"\""))), f.data_type().clone())
                            .alias(f.name())
                    })
                    .collect();
                df.select(cols)?
            }
            "json" => {
                let options = JsonReadOptions {
                    schema: Some(&schema),
                    file_extension: "",
                    file_compression_type: compression,
                    ..Default::default()
                };
                ctx.read_json(files.to_vec(), options).await?
            }
            _ => {
                let delimiter = copy.delimiter.as_deref().unwrap_or(",");
                let [d] = delimiter.as_bytes() else {
                    return Err(QueryError::User("DELIMITER must be one character".into()));
                };
                if copy.ignore_header > 1 {
                    return Err(QueryError::User("IGNOREHEADER above 1 is not supported".into()));
                }
                let options = CsvReadOptions::new()
                    .schema(&schema)
                    .has_header(copy.ignore_header == 1)
                    .delimiter(*d)
                    .file_extension("")
                    .file_compression_type(compression);
                ctx.read_csv(files.to_vec(), options).await?
            }
        };
        Ok(df)
    }

    /// Where a failed COPY's bad row is: each file read again alone, front to back in one
    /// partition (a split scan counts lines from its range's start), until one fails. Only on
    /// the error path; the file and the reader's message, or all files and `first` when no file
    /// fails alone.
    async fn find_bad_row(
        &self,
        db: &str,
        copy: &crate::engine::ddl::CopyFrom,
        schema: &Schema,
        files: &[String],
        compression: datafusion::datasource::file_format::file_compression_type::FileCompressionType,
        first: String,
    ) -> (Vec<String>, String) {
        for file in files {
            let Ok((ctx, _)) = self.context(Some(db)) else { break };
            ctx.state_ref().write().config_mut().options_mut().optimizer.repartition_file_scans = false;
            let Ok(df) = self.copy_source(&ctx, copy, schema, std::slice::from_ref(file), compression).await else {
                continue;
            };
            let Ok(mut stream) = df.execute_stream().await else { continue };
            loop {
                match stream.try_next().await {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => return (vec![file.clone()], e.to_string()),
                }
            }
        }
        (files.to_vec(), first)
    }

    /// `INSERT INTO t [(cols)] <query with $1, $2, ...>`: the query planned with its
    /// parameters' types, bound, then written as INSERT writes (the caller's GetTable first,
    /// as every statement on the catalog).
    pub(crate) async fn insert_with_params(
        &self,
        db: &str,
        name: &str,
        columns: &[String],
        query: &str,
        session_db: &str,
        bind: impl FnOnce(&[Option<DataType>]) -> Result<Vec<datafusion::common::ScalarValue>>,
    ) -> Result<QueryOutput> {
        if let Some(caller) = Engine::current_caller() {
            caller.glue("glue:GetTable", Some(db), Some(name)).map_err(QueryError::AccessDenied)?;
        }
        let df = self.insert_source(db, query, session_db).await?;
        let types = super::ordered_parameter_types(df.logical_plan())?;
        let df = df.with_param_values(bind(&types)?)?;
        self.insert_df(db, name, columns, df).await
    }

    /// The rows an INSERT writes: its query, planned where its unqualified names are (the
    /// session's database on the PostgreSQL wire, the target's for Athena).
    async fn insert_source(&self, db: &str, query: &str, session_db: &str) -> Result<datafusion::dataframe::DataFrame> {
        let (ctx, _) = self.context(Some(if self.postgres { session_db } else { db }))?;
        Ok(ctx.execute_logical_plan(self.plan(&ctx, query).await?).await?)
    }

    /// A failed COPY's row of STL_LOAD_ERRORS: its file (the one the bad row is in, else the
    /// prefix's files), line, column and value, as the reader's message names them.
    fn record_load_error(&self, db: &str, table: &str, schema: &Schema, files: &[String], message: &str) {
        let (line_number, column, value, reason, err_code) = crate::engine::loaderrors::parse_reader_error(message);
        let field = column.and_then(|i| schema.fields().get(i));
        let user = super::session_user().map_or_else(String::new, |u| u.to_string());
        self.load_errors.record(crate::engine::loaderrors::LoadError {
            user,
            query: 0,
            start_micros: tarn_common::now_unix_nanos() / 1_000,
            table: format!("{db}.{table}"),
            filename: if files.len() == 1 { files[0].clone() } else { files.join(",") },
            line_number,
            colname: field.map_or_else(String::new, |f| f.name().clone()),
            coltype: field.map_or_else(String::new, |f| glue_type(f.data_type())),
            raw_field_value: value,
            err_code,
            err_reason: reason,
        });
    }

    async fn insert_into(
        &self,
        db: &str,
        name: &str,
        columns: &[String],
        query: &str,
        session_db: &str,
    ) -> Result<QueryOutput> {
        let df = self.insert_source(db, query, session_db).await?;
        self.insert_df(db, name, columns, df).await
    }

    /// Writes a DataFrame's rows into a Parquet table, its columns named by `columns` (all the
    /// table's, in order, when empty); the table's other columns are NULL.
    async fn insert_df(
        &self,
        db: &str,
        name: &str,
        columns: &[String],
        df: datafusion::dataframe::DataFrame,
    ) -> Result<QueryOutput> {
        let table = self.catalog.get_table(db, name)?;
        if table.is_view() {
            return Err(QueryError::User(format!("{name} is a view; INSERT INTO needs a table")));
        }
        let location =
            table.location().ok_or_else(|| QueryError::User(format!("Table {name} has no LOCATION")))?.to_string();
        let format_ok = crate::engine::tables::is_parquet(&table);
        if !format_ok {
            return Err(QueryError::User("INSERT INTO writes Parquet tables only for now".into()));
        }
        let targets: Vec<&Column> = table.columns().iter().chain(&table.partition_keys).collect();
        let names: Vec<String> =
            if columns.is_empty() { targets.iter().map(|c| c.name.clone()).collect() } else { columns.to_vec() };
        if names.len() != df.schema().fields().len() {
            return Err(QueryError::User(format!(
                "Insert query has {} columns but the target list has {}",
                df.schema().fields().len(),
                names.len()
            )));
        }
        let source: Vec<String> = df.schema().fields().iter().map(|f| f.name().clone()).collect();
        let mut exprs = Vec::new();
        for target in &targets {
            let t = tarn_catalog::types::arrow_type(target.type_name()).map_err(QueryError::User)?;
            let e = match names.iter().position(|n| n.eq_ignore_ascii_case(&target.name)) {
                Some(i) => cast(col(format!("\"{}\"", source[i].replace('"', "\"\""))), t),
                None => cast(datafusion::logical_expr::lit(datafusion::common::ScalarValue::Null), t),
            };
            exprs.push(e.alias(&target.name));
        }
        let df = df.select(exprs)?;
        let keys: Vec<String> = table.partition_keys.iter().map(|k| k.name.clone()).collect();
        let out = with_slash(&location);
        let options = DataFrameWriteOptions::new().with_partition_by(keys.clone());
        // new files get fresh names, so earlier data stays; inside a transaction block each is
        // journalled before it is written (the statement's registry, `txn::open_journal`)
        let rows = count_of(&df.write_parquet(&out, options, None).await?);
        if !keys.is_empty() {
            self.msck(db, name).await?;
        }
        Ok(wrote(rows))
    }
}

impl Engine {
    /// Where a table the PostgreSQL wire manages keeps its files: under the account's
    /// warehouse bucket (made on first use), a fresh folder per table.
    async fn managed_location(&self, db: &str, name: &str) -> Result<String> {
        let account = self.catalog.account_id().to_string();
        let bucket = format!("tarn-warehouse-{account}");
        if self.objects.bucket(&bucket).is_err() {
            match self.objects.create_bucket(&bucket).await {
                Ok(()) | Err(tarn_objects::ObjectsError::BucketAlreadyOwnedByYou) => {}
                Err(e) => return Err(QueryError::Internal(format!("the warehouse bucket {bucket}: {e}"))),
            }
        }
        let id: u64 = rand::random();
        Ok(format!("s3://{bucket}/{db}/{name}-{id:016x}/"))
    }

    /// Makes a schema (a Glue database), which a transaction block's journal can take back.
    async fn create_schema(&self, db: Database) -> Result<std::result::Result<(), CatalogError>> {
        let undo = Undo::SchemaCreated { name: db.name.clone() };
        self.journalled(undo, None, self.catalog.create_database(db)).await
    }

    /// Makes a relation, which a block's journal can take back; a temporary table is the
    /// session's.
    async fn create_relation(
        &self,
        db: &str,
        table: Table,
        temporary: bool,
    ) -> Result<std::result::Result<(), CatalogError>> {
        let name = table.name.clone();
        let undo = Undo::Created { db: db.to_string(), name: name.clone() };
        let made = self.journalled(undo, None, self.catalog.create_table(db, table)).await?;
        if made.is_ok()
            && temporary
            && let Some(session) = txn::current()
        {
            session.add_temporary(db, &name);
        }
        Ok(made)
    }

    /// DROP TABLE|VIEW: the definition goes now; a managed table's files go too, at COMMIT
    /// when inside a block (whose ROLLBACK puts the definition back).
    async fn drop_table(&self, db: &str, table: Table) -> Result<()> {
        let session = txn::current();
        let in_block = session.as_ref().is_some_and(|s| s.in_block());
        let mut partitions = Vec::new();
        if in_block && !table.partition_keys.is_empty() {
            let mut token = None;
            loop {
                let (page, next) = self.catalog.get_partitions(db, &table.name, None, None, token.as_deref(), None)?;
                partitions.extend(page);
                match next {
                    Some(t) => token = Some(t),
                    None => break,
                }
            }
        }
        let location = table.location().filter(|_| table.parameters.contains_key(MANAGED)).map(str::to_string);
        let name = table.name.clone();
        let undo = Undo::Replaced { db: db.to_string(), table: Box::new(table), partitions };
        // a managed table's files go at COMMIT inside a block, now outside one
        self.journalled(undo, location.clone(), self.catalog.delete_table(db, &name)).await??;
        if let Some(session) = &session {
            session.forget_temporary(db, &name);
        }
        if !in_block && let Some(location) = location {
            self.delete_files(&location).await?;
        }
        Ok(())
    }

    /// TRUNCATE of a managed table: it moves to a fresh, empty folder (one catalog write); the
    /// old folder's files go now, or at COMMIT inside a block (whose ROLLBACK puts the old
    /// definition back). An external table's files are its bucket's: refused, as Redshift
    /// refuses it for external tables.
    async fn truncate(&self, db: &str, table: Table) -> Result<()> {
        if table.is_view() {
            return Err(QueryError::User(format!("\"{}\" is not a table", table.name)));
        }
        let Some(old_location) = table.location().filter(|_| table.parameters.contains_key(MANAGED)) else {
            return Err(QueryError::User(format!(
                "TRUNCATE empties tables tarn manages (made without a LOCATION); {} is external: delete its files in its bucket",
                table.name
            )));
        };
        if !table.partition_keys.is_empty() {
            return Err(QueryError::User(format!(
                "TRUNCATE of a partitioned table ({}) is not supported yet",
                table.name
            )));
        }
        let old_location = old_location.to_string();
        let mut emptied = table.clone();
        let location = self.managed_location(db, &table.name).await?;
        if let Some(sd) = emptied.storage_descriptor.as_mut() {
            sd.location = Some(location);
        }
        let in_block = txn::current().is_some_and(|s| s.in_block());
        let undo = Undo::Replaced { db: db.to_string(), table: Box::new(table), partitions: Vec::new() };
        let emptying = self.catalog.update_table(db, emptied, true, None);
        self.journalled(undo, Some(old_location.clone()), emptying).await??;
        if !in_block {
            self.delete_files(&old_location).await?;
        }
        Ok(())
    }
}

/// What a CTAS asks for besides its name.
struct Ctas<'a> {
    props: &'a BTreeMap<String, PropValue>,
    query: &'a str,
    with_data: bool,
    /// Where it writes without `external_location` (Athena: under the query's result location).
    default_location: Option<&'a str>,
    temporary: bool,
}

/// A table the PostgreSQL wire manages: Parquet files at `location`, deleted with the table.
fn managed_parquet(table: &mut Table, location: String) {
    let sd = table.storage_descriptor.get_or_insert_with(StorageDescriptor::default);
    sd.location = Some(location);
    sd.input_format = Some(PARQUET_IN.into());
    sd.output_format = Some(PARQUET_OUT.into());
    sd.serde_info = Some(SerDeInfo { serialization_library: Some(PARQUET_SERDE.into()), ..SerDeInfo::default() });
    table.table_type = Some("EXTERNAL_TABLE".into());
    table.parameters.insert("classification".into(), "parquet".into());
    table.parameters.insert("EXTERNAL".into(), "TRUE".into());
    table.parameters.insert(MANAGED.into(), "true".into());
}

/// Marks a table temporary, owned by the current PostgreSQL session.
fn mark_temporary(parameters: &mut BTreeMap<String, String>) {
    let owner = txn::current().map(|s| s.id().to_string()).unwrap_or_default();
    parameters.insert(TEMPORARY.into(), owner);
}

/// The objects whose keys start with `prefix` (a key prefix, as COPY and UNLOAD name S3: `out/part_`
/// covers `out/part_000`): its folder listed, the keys filtered.
async fn keys_under(store: &crate::engine::store::BucketStore, prefix: &str) -> Result<Vec<object_store::ObjectMeta>> {
    let folder = prefix.rfind('/').map_or("", |i| &prefix[..i]);
    let mut listing = store.list(Some(&crate::engine::store::path_of(folder)));
    let mut out = Vec::new();
    while let Some(meta) = listing.try_next().await.map_err(|e| QueryError::Data(e.to_string()))? {
        if meta.location.as_ref().starts_with(prefix) {
            out.push(meta);
        }
    }
    Ok(out)
}

/// A failed load as Redshift words it, with the file's line counted from 1 (Arrow's CSV
/// reader counts from 0).
fn load_error(table: &str, error: &str) -> String {
    let detail = error.trim_start_matches("Arrow error: ").trim_start_matches("Parser error: ");
    let detail = match detail.find(" at line ") {
        Some(at) => {
            let rest = &detail[at + " at line ".len()..];
            let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
            match rest[..digits].parse::<u64>() {
                Ok(n) => format!("{} at line {}{}", &detail[..at], n + 1, &rest[digits..]),
                Err(_) => detail.to_string(),
            }
        }
        None => detail.to_string(),
    };
    format!("Load into table '{table}' failed; no rows were loaded: {detail}")
}

fn partition_values(table: &Table, spec: &[(String, String)]) -> Result<Vec<String>> {
    table
        .partition_keys
        .iter()
        .map(|k| {
            spec.iter().find(|(n, _)| n.eq_ignore_ascii_case(&k.name)).map(|(_, v)| v.clone()).ok_or_else(|| {
                QueryError::User(format!("Partition key {} is missing from the PARTITION clause", k.name))
            })
        })
        .collect()
}

fn partition_input(table: &Table, values: Vec<String>, location: Option<String>) -> Partition {
    let mut sd = table.storage_descriptor.clone().unwrap_or_default();
    sd.location = location;
    Partition { values, storage_descriptor: Some(sd), ..Partition::default() }
}

fn show_create(db: &str, t: &Table) -> String {
    let cols =
        |cs: &[Column]| cs.iter().map(|c| format!("  `{}` {}", c.name, c.type_name())).collect::<Vec<_>>().join(",\n");
    let mut s = format!("CREATE EXTERNAL TABLE `{db}`.`{}`(\n{})\n", t.name, cols(t.columns()));
    if !t.partition_keys.is_empty() {
        s.push_str(&format!("PARTITIONED BY (\n{})\n", cols(&t.partition_keys)));
    }
    if let Some(sd) = &t.storage_descriptor {
        if let Some(lib) = sd.serde_info.as_ref().and_then(|s| s.serialization_library.as_deref()) {
            s.push_str(&format!("ROW FORMAT SERDE\n  '{lib}'\n"));
        }
        if let (Some(i), Some(o)) = (&sd.input_format, &sd.output_format) {
            s.push_str(&format!("STORED AS INPUTFORMAT\n  '{i}'\nOUTPUTFORMAT\n  '{o}'\n"));
        }
        if let Some(l) = &sd.location {
            s.push_str(&format!("LOCATION\n  '{l}'\n"));
        }
    }
    if !t.parameters.is_empty() {
        let props: Vec<String> = t.parameters.iter().map(|(k, v)| format!("  '{k}'='{v}'")).collect();
        s.push_str(&format!("TBLPROPERTIES (\n{})", props.join(",\n")));
    }
    s
}
