//! Glue Data Catalog: databases, tables (every change a new version) and partitions.
//!
//! Each entity is a JSON document behind a version byte in its own redb table, keyed so that a
//! range scan lists a database's tables or a table's partitions in order. Every change is one
//! group-committed write, so a crash leaves either the whole change or none of it. Names of
//! databases and tables are stored in lower case, as Glue does.

pub mod crawler;
pub mod expr;
pub mod model;
pub mod types;

use redb::{ReadableTable, TableDefinition};
use tarn_store::{Store, StoreError};

pub use expr::{PartitionFilter, name_matches};
pub use model::*;

/// Database name -> [`Database`].
const DATABASES: TableDefinition<&str, &[u8]> = TableDefinition::new("glue_databases");
/// (database, table) -> current [`Table`].
const TABLES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("glue_tables");
/// (database, table, version) -> [`Table`] as of that version (the current one included).
const TABLE_VERSIONS: TableDefinition<(&str, &str, u64), &[u8]> = TableDefinition::new("glue_table_versions");
/// (database, table, partition values joined by [`VALUE_SEP`]) -> [`Partition`].
const PARTITIONS: TableDefinition<(&str, &str, &str), &[u8]> = TableDefinition::new("glue_partitions");

/// Joins partition values into one key; values cannot hold it (Glue's strings are printable).
const VALUE_SEP: char = '\u{1}';

/// Glue's limits.
use tarn_common::limits::glue as limits;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{0}")]
    EntityNotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    ConcurrentModification(String),
    #[error("{0}")]
    ResourceNumberLimitExceeded(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

tarn_store::from_redb_errors!(CatalogError, CatalogError::Store);

pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

use tarn_store::record::{json_decode as decode, json_encode as encode};

fn now_secs() -> f64 {
    // millisecond precision, as Glue reports
    (tarn_common::now_unix_nanos() / 1_000_000) as f64 / 1000.0
}

/// Checks a database or table name against Glue's NameString and returns it in lower case.
fn check_name(name: &str, what: &str) -> Result<String> {
    if name.is_empty() || name.chars().count() > limits::NAME_MAX {
        return Err(CatalogError::InvalidInput(format!(
            "1 validation error detected: Value '{name}' at '{what}' failed to satisfy constraint: Member must have length between 1 and 255"
        )));
    }
    if name.chars().any(|c| c.is_control() && c != '\t') {
        return Err(CatalogError::InvalidInput(format!(
            "1 validation error detected: Value at '{what}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\t]*"
        )));
    }
    Ok(name.to_lowercase())
}

fn check_page(max: Option<i64>, ceiling: usize) -> Result<usize> {
    match max {
        None => Ok(ceiling),
        Some(m) if m >= 1 && m as usize <= ceiling => Ok(m as usize),
        Some(m) => Err(CatalogError::InvalidInput(format!(
            "1 validation error detected: Value '{m}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and {ceiling}"
        ))),
    }
}

fn values_key(values: &[String]) -> String {
    values.join(&VALUE_SEP.to_string())
}

fn not_found_db(db: &str) -> CatalogError {
    CatalogError::EntityNotFound(format!("Database {db} not found."))
}

fn not_found_table(table: &str) -> CatalogError {
    CatalogError::EntityNotFound(format!("Table {table} not found."))
}

/// Pagination tokens are the last key returned, hex-encoded so they survive any transport.
fn token_encode(key: &str) -> String {
    key.bytes().map(|b| format!("{b:02x}")).collect()
}

fn token_decode(token: &str) -> Result<String> {
    let bad = || CatalogError::InvalidInput("Invalid pagination token".into());
    if !token.len().is_multiple_of(2) {
        return Err(bad());
    }
    let bytes: Result<Vec<u8>> =
        (0..token.len()).step_by(2).map(|i| u8::from_str_radix(&token[i..i + 2], 16).map_err(|_| bad())).collect();
    String::from_utf8(bytes?).map_err(|_| bad())
}

/// A page of results and the token for the next one.
pub type Page<T> = (Vec<T>, Option<String>);

/// The Glue Data Catalog of one account.
#[derive(Clone)]
pub struct Catalog {
    store: Store,
    account_id: String,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Catalog({})", self.account_id)
    }
}

impl Catalog {
    /// Opens the catalog, creating its tables on first start.
    pub async fn open(store: Store, account_id: &str) -> Result<Self> {
        store
            .write(|txn| {
                txn.open_table(DATABASES)?;
                txn.open_table(TABLES)?;
                txn.open_table(TABLE_VERSIONS)?;
                txn.open_table(PARTITIONS)?;
                Ok(())
            })
            .await?;
        Ok(Self { store, account_id: account_id.to_string() })
    }

    #[must_use]
    pub fn store(&self) -> &Store {
        &self.store
    }

    #[must_use]
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// Checks a CatalogId a client passed: tarn has one catalog, the account's.
    pub fn check_catalog_id(&self, catalog_id: Option<&str>) -> Result<()> {
        match catalog_id {
            Some(id) if id != self.account_id => Err(CatalogError::EntityNotFound(format!("Catalog {id} not found."))),
            _ => Ok(()),
        }
    }

    // ---- databases -------------------------------------------------------------------------

    pub async fn create_database(&self, mut input: Database) -> Result<()> {
        input.name = check_name(&input.name, "databaseInput.name")?;
        input.create_time = Some(now_secs());
        input.catalog_id = Some(self.account_id.clone());
        self.store
            .write(move |txn| {
                let mut t = txn.open_table(DATABASES)?;
                if t.get(input.name.as_str())?.is_some() {
                    return Ok(Err(CatalogError::AlreadyExists("Database already exists.".into())));
                }
                t.insert(input.name.as_str(), encode(&input).as_slice())?;
                Ok(Ok(()))
            })
            .await?
    }

    /// Makes the `default` database when the catalog has none, as Athena's catalog always has
    /// one: SQL clients connect to it, and DDL without a database lands there.
    pub async fn ensure_default_database(&self) -> Result<()> {
        if self.get_database("default").is_ok() {
            return Ok(());
        }
        let db = Database {
            name: "default".into(),
            description: Some("Default database".into()),
            location_uri: None,
            parameters: Parameters::default(),
            create_time: None,
            catalog_id: None,
            extra: serde_json::Map::new(),
        };
        match self.create_database(db).await {
            Ok(()) | Err(CatalogError::AlreadyExists(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub fn get_database(&self, name: &str) -> Result<Database> {
        let name = name.to_lowercase();
        let txn = self.store.read()?;
        let t = txn.open_table(DATABASES)?;
        let v = t.get(name.as_str())?.ok_or_else(|| not_found_db(&name))?;
        Ok(decode(v.value(), "glue database")?)
    }

    pub fn get_databases(&self, token: Option<&str>, max: Option<i64>) -> Result<Page<Database>> {
        let max = check_page(max, limits::PAGE_MAX)?;
        let after = token.map(token_decode).transpose()?;
        let txn = self.store.read()?;
        let t = txn.open_table(DATABASES)?;
        let mut out = Vec::new();
        let iter = match &after {
            Some(a) => t.range::<&str>((std::ops::Bound::Excluded(a.as_str()), std::ops::Bound::Unbounded))?,
            None => t.range::<&str>(..)?,
        };
        for entry in iter {
            let (_, v) = entry?;
            if out.len() == max {
                let last = out.last().map(|d: &Database| d.name.clone()).unwrap_or_default();
                return Ok((out, Some(token_encode(&last))));
            }
            out.push(decode::<Database>(v.value(), "glue database")?);
        }
        Ok((out, None))
    }

    pub async fn update_database(&self, name: &str, mut input: Database) -> Result<()> {
        let name = name.to_lowercase();
        let new_name = check_name(&input.name, "databaseInput.name")?;
        if new_name != name {
            return Err(CatalogError::InvalidInput("Database name cannot be changed.".into()));
        }
        input.name = new_name;
        self.store
            .write(move |txn| {
                let mut t = txn.open_table(DATABASES)?;
                let old: Database = match t.get(name.as_str())? {
                    Some(v) => decode(v.value(), "glue database")?,
                    None => return Ok(Err(not_found_db(&name))),
                };
                input.create_time = old.create_time;
                input.catalog_id = old.catalog_id;
                t.insert(name.as_str(), encode(&input).as_slice())?;
                Ok(Ok(()))
            })
            .await?
    }

    /// Deletes a database with all its tables, their versions and partitions.
    pub async fn delete_database(&self, name: &str) -> Result<()> {
        let name = name.to_lowercase();
        self.store
            .write(move |txn| {
                let mut dbs = txn.open_table(DATABASES)?;
                if dbs.remove(name.as_str())?.is_none() {
                    return Ok(Err(not_found_db(&name)));
                }
                let mut tables = txn.open_table(TABLES)?;
                let names: Vec<String> = tables
                    .range((name.as_str(), "")..)?
                    .map_while(|e| e.ok())
                    .take_while(|(k, _)| k.value().0 == name)
                    .map(|(k, _)| k.value().1.to_string())
                    .collect();
                for table in names {
                    tables.remove((name.as_str(), table.as_str()))?;
                    remove_table_children(txn, &name, &table)?;
                }
                Ok(Ok(()))
            })
            .await?
    }

    // ---- tables ----------------------------------------------------------------------------

    fn table_input(&self, db: &str, mut input: Table) -> Result<Table> {
        input.name = check_name(&input.name, "tableInput.name")?;
        input.database_name = Some(db.to_string());
        input.catalog_id = Some(self.account_id.clone());
        input.is_registered_with_lake_formation = false;
        for c in input.partition_keys.iter().chain(input.columns()) {
            if c.name.is_empty() || c.name.chars().count() > limits::NAME_MAX {
                return Err(CatalogError::InvalidInput(format!(
                    "1 validation error detected: Value '{}' at 'tableInput.storageDescriptor.columns.member.name' failed to satisfy constraint: Member must have length between 1 and 255",
                    c.name
                )));
            }
        }
        Ok(input)
    }

    pub async fn create_table(&self, db: &str, input: Table) -> Result<()> {
        let db = db.to_lowercase();
        let mut table = self.table_input(&db, input)?;
        let now = now_secs();
        table.create_time = Some(now);
        table.update_time = Some(now);
        table.created_by.get_or_insert_with(|| format!("arn:aws:iam::{}:root", self.account_id));
        table.version_id = Some("0".into());
        self.store
            .write(move |txn| {
                if txn.open_table(DATABASES)?.get(db.as_str())?.is_none() {
                    return Ok(Err(not_found_db(&db)));
                }
                let mut t = txn.open_table(TABLES)?;
                let key = (db.as_str(), table.name.as_str());
                if t.get(key)?.is_some() {
                    return Ok(Err(CatalogError::AlreadyExists("Table already exists.".into())));
                }
                // a table made again after a delete starts its history afresh
                remove_table_children(txn, &db, &table.name)?;
                let bytes = encode(&table);
                t.insert(key, bytes.as_slice())?;
                txn.open_table(TABLE_VERSIONS)?.insert((db.as_str(), table.name.as_str(), 0), bytes.as_slice())?;
                Ok(Ok(()))
            })
            .await?
    }

    pub fn get_table(&self, db: &str, name: &str) -> Result<Table> {
        let (db, name) = (db.to_lowercase(), name.to_lowercase());
        let txn = self.store.read()?;
        if txn.open_table(DATABASES)?.get(db.as_str())?.is_none() {
            return Err(not_found_db(&db));
        }
        let t = txn.open_table(TABLES)?;
        let v = t.get((db.as_str(), name.as_str()))?.ok_or_else(|| not_found_table(&name))?;
        Ok(decode(v.value(), "glue table")?)
    }

    /// Tables of `db` whose names match `expression` (see [`name_matches`]), in name order.
    pub fn get_tables(
        &self,
        db: &str,
        expression: Option<&str>,
        token: Option<&str>,
        max: Option<i64>,
    ) -> Result<Page<Table>> {
        let db = db.to_lowercase();
        let max = check_page(max, limits::PAGE_MAX)?;
        let after = token.map(token_decode).transpose()?;
        let txn = self.store.read()?;
        if txn.open_table(DATABASES)?.get(db.as_str())?.is_none() {
            return Err(not_found_db(&db));
        }
        let t = txn.open_table(TABLES)?;
        let start = after.as_deref().unwrap_or("");
        let mut out: Vec<Table> = Vec::new();
        for entry in t.range((db.as_str(), start)..)? {
            let (k, v) = entry?;
            let (kdb, name) = k.value();
            if kdb != db {
                break;
            }
            if after.as_deref() == Some(name) {
                continue;
            }
            if expression.is_some_and(|e| !e.is_empty() && !name_matches(e, name)) {
                continue;
            }
            if out.len() == max {
                let last = out.last().map(|t| t.name.clone()).unwrap_or_default();
                return Ok((out, Some(token_encode(&last))));
            }
            out.push(decode(v.value(), "glue table")?);
        }
        Ok((out, None))
    }

    /// Replaces a table's definition; unless `skip_archive`, the old one stays as a version.
    /// `expected_version`, when given, must be the current version (optimistic concurrency).
    pub async fn update_table(
        &self,
        db: &str,
        input: Table,
        skip_archive: bool,
        expected_version: Option<String>,
    ) -> Result<()> {
        let db = db.to_lowercase();
        let mut table = self.table_input(&db, input)?;
        self.store
            .write(move |txn| {
                let mut t = txn.open_table(TABLES)?;
                let key = (db.as_str(), table.name.as_str());
                let old: Table = match t.get(key)? {
                    Some(v) => decode(v.value(), "glue table")?,
                    None => return Ok(Err(not_found_table(&table.name))),
                };
                let old_version: u64 = old.version_id.as_deref().and_then(|v| v.parse().ok()).unwrap_or(0);
                if let Some(expected) = expected_version
                    && expected != old_version.to_string()
                {
                    return Ok(Err(CatalogError::ConcurrentModification(format!(
                        "Update table failed due to concurrent modifications: version {expected} is not the current version {old_version}."
                    ))));
                }
                let version = if skip_archive { old_version } else { old_version + 1 };
                table.create_time = old.create_time;
                table.created_by = old.created_by;
                table.update_time = Some(now_secs());
                table.version_id = Some(version.to_string());
                let bytes = encode(&table);
                t.insert(key, bytes.as_slice())?;
                txn.open_table(TABLE_VERSIONS)?.insert((db.as_str(), table.name.as_str(), version), bytes.as_slice())?;
                Ok(Ok(()))
            })
            .await?
    }

    pub async fn delete_table(&self, db: &str, name: &str) -> Result<()> {
        let (db, name) = (db.to_lowercase(), name.to_lowercase());
        self.store
            .write(move |txn| {
                if txn.open_table(DATABASES)?.get(db.as_str())?.is_none() {
                    return Ok(Err(not_found_db(&db)));
                }
                if txn.open_table(TABLES)?.remove((db.as_str(), name.as_str()))?.is_none() {
                    return Ok(Err(not_found_table(&name)));
                }
                remove_table_children(txn, &db, &name)?;
                Ok(Ok(()))
            })
            .await?
    }

    /// Renames a table or view of `db` in one transaction, with its partitions (PostgreSQL's
    /// `ALTER TABLE t RENAME TO u`; Glue has no rename). The definition keeps its location and
    /// version; its version history stays with the old name's and is removed with it.
    pub async fn rename_table(&self, db: &str, from: &str, to: &str) -> Result<()> {
        let (db, from, to) = (db.to_lowercase(), from.to_lowercase(), to.to_lowercase());
        if to.is_empty() || to.chars().count() > limits::NAME_MAX {
            return Err(CatalogError::InvalidInput(format!("Invalid table name: {to}")));
        }
        self.store
            .write(move |txn| {
                if txn.open_table(DATABASES)?.get(db.as_str())?.is_none() {
                    return Ok(Err(not_found_db(&db)));
                }
                let mut t = txn.open_table(TABLES)?;
                let mut table: Table = match t.get((db.as_str(), from.as_str()))? {
                    Some(v) => decode(v.value(), "glue table")?,
                    None => return Ok(Err(not_found_table(&from))),
                };
                if t.get((db.as_str(), to.as_str()))?.is_some() {
                    return Ok(Err(CatalogError::AlreadyExists("Table already exists.".into())));
                }
                table.name = to.clone();
                table.update_time = Some(now_secs());
                t.remove((db.as_str(), from.as_str()))?;
                remove_table_children(txn, &db, &to)?;
                let bytes = encode(&table);
                t.insert((db.as_str(), to.as_str()), bytes.as_slice())?;
                let version: u64 = table.version_id.as_deref().and_then(|v| v.parse().ok()).unwrap_or(0);
                txn.open_table(TABLE_VERSIONS)?.insert((db.as_str(), to.as_str(), version), bytes.as_slice())?;
                let moved: Vec<(String, Partition)> = txn
                    .open_table(PARTITIONS)?
                    .range((db.as_str(), from.as_str(), "")..)?
                    .map_while(|e| e.ok())
                    .take_while(|(k, _)| k.value().0 == db && k.value().1 == from)
                    .map(|(k, v)| Ok((k.value().2.to_string(), decode::<Partition>(v.value(), "glue partition")?)))
                    .collect::<Result<_, StoreError>>()?;
                remove_table_children(txn, &db, &from)?;
                let mut parts = txn.open_table(PARTITIONS)?;
                for (key, mut p) in moved {
                    p.table_name = Some(to.clone());
                    parts.insert((db.as_str(), to.as_str(), key.as_str()), encode(&p).as_slice())?;
                }
                Ok(Ok(()))
            })
            .await?
    }

    /// Deletes tables by name; returns a (name, error) for each that failed.
    pub async fn batch_delete_tables(&self, db: &str, names: Vec<String>) -> Result<Vec<(String, CatalogError)>> {
        if names.len() > limits::BATCH_DELETE_TABLES_MAX {
            return Err(CatalogError::InvalidInput(format!(
                "1 validation error detected: Value at 'tablesToDelete' failed to satisfy constraint: Member must have length less than or equal to {}",
                limits::BATCH_DELETE_TABLES_MAX
            )));
        }
        let mut errors = Vec::new();
        for name in names {
            if let Err(e) = self.delete_table(db, &name).await {
                if let CatalogError::Store(_) = e {
                    return Err(e);
                }
                errors.push((name, e));
            }
        }
        Ok(errors)
    }

    /// Versions of a table, newest first.
    pub fn get_table_versions(
        &self,
        db: &str,
        name: &str,
        token: Option<&str>,
        max: Option<i64>,
    ) -> Result<Page<TableVersion>> {
        let (db, name) = (db.to_lowercase(), name.to_lowercase());
        let max = check_page(max, limits::PAGE_MAX)?;
        let before: Option<u64> = token
            .map(token_decode)
            .transpose()?
            .map(|t| t.parse().map_err(|_| CatalogError::InvalidInput("Invalid pagination token".into())))
            .transpose()?;
        self.get_table(&db, &name)?;
        let txn = self.store.read()?;
        let t = txn.open_table(TABLE_VERSIONS)?;
        let upper = before.unwrap_or(u64::MAX);
        let mut out = Vec::new();
        for entry in t.range((db.as_str(), name.as_str(), 0)..(db.as_str(), name.as_str(), upper))?.rev() {
            let (k, v) = entry?;
            let version = k.value().2;
            if out.len() == max {
                let last = out.last().map(|v: &TableVersion| v.version_id.clone()).unwrap_or_default();
                return Ok((out, Some(token_encode(&last))));
            }
            let table: Table = decode(v.value(), "glue table version")?;
            out.push(TableVersion { version_id: version.to_string(), table });
        }
        Ok((out, None))
    }

    /// One version of a table; the current one when `version` is None.
    pub fn get_table_version(&self, db: &str, name: &str, version: Option<&str>) -> Result<TableVersion> {
        let current = self.get_table(db, name)?;
        let Some(version) = version else {
            let version_id = current.version_id.clone().unwrap_or_else(|| "0".into());
            return Ok(TableVersion { table: current, version_id });
        };
        let n: u64 =
            version.parse().map_err(|_| CatalogError::InvalidInput(format!("Invalid table version id: {version}")))?;
        let (db, name) = (db.to_lowercase(), name.to_lowercase());
        let txn = self.store.read()?;
        let t = txn.open_table(TABLE_VERSIONS)?;
        let v = t
            .get((db.as_str(), name.as_str(), n))?
            .ok_or_else(|| CatalogError::EntityNotFound(format!("Version {version} of table {name} not found.")))?;
        Ok(TableVersion { table: decode(v.value(), "glue table version")?, version_id: n.to_string() })
    }

    /// Deletes archived versions; the current version cannot be deleted.
    pub async fn delete_table_versions(
        &self,
        db: &str,
        name: &str,
        versions: Vec<String>,
    ) -> Result<Vec<(String, CatalogError)>> {
        if versions.len() > limits::BATCH_DELETE_VERSIONS_MAX {
            return Err(CatalogError::InvalidInput(format!(
                "1 validation error detected: Value at 'versionIds' failed to satisfy constraint: Member must have length less than or equal to {}",
                limits::BATCH_DELETE_VERSIONS_MAX
            )));
        }
        let current = self.get_table(db, name)?;
        let (db, name) = (db.to_lowercase(), name.to_lowercase());
        let current_version = current.version_id.unwrap_or_else(|| "0".into());
        self.store
            .write(move |txn| {
                let mut t = txn.open_table(TABLE_VERSIONS)?;
                let mut errors = Vec::new();
                for v in versions {
                    if v == current_version {
                        let e = CatalogError::InvalidInput("The current version of a table cannot be deleted.".into());
                        errors.push((v.clone(), e));
                        continue;
                    }
                    match v.parse::<u64>() {
                        Ok(n) if t.remove((db.as_str(), name.as_str(), n))?.is_some() => {}
                        _ => {
                            let e = CatalogError::EntityNotFound(format!("Version {v} of table {name} not found."));
                            errors.push((v.clone(), e));
                        }
                    }
                }
                Ok(Ok(errors))
            })
            .await?
    }

    // ---- partitions ------------------------------------------------------------------------

    fn partition_input(table: &Table, db: &str, mut input: Partition) -> Result<Partition> {
        if input.values.len() != table.partition_keys.len() {
            return Err(CatalogError::InvalidInput(
                "The number of partition keys do not match the number of partition values".into(),
            ));
        }
        if let Some(v) = input.values.iter().find(|v| v.is_empty() || v.chars().count() > limits::PARTITION_VALUE_MAX) {
            return Err(CatalogError::InvalidInput(format!(
                "1 validation error detected: Value '{v}' at 'partitionInput.values.member' failed to satisfy constraint: Member must have length between 1 and 1024"
            )));
        }
        if input.values.iter().any(|v| v.contains(VALUE_SEP)) {
            return Err(CatalogError::InvalidInput("Partition values may not contain control characters.".into()));
        }
        input.database_name = Some(db.to_string());
        input.table_name = Some(table.name.clone());
        input.catalog_id = table.catalog_id.clone();
        Ok(input)
    }

    /// Creates partitions; returns one error per partition that could not be made (it already
    /// exists, or its values do not fit the table). Duplicates within the call count once.
    pub async fn batch_create_partitions(
        &self,
        db: &str,
        table: &str,
        inputs: Vec<Partition>,
    ) -> Result<Vec<(Vec<String>, CatalogError)>> {
        if inputs.len() > limits::BATCH_CREATE_PARTITIONS_MAX {
            return Err(CatalogError::InvalidInput(format!(
                "1 validation error detected: Value at 'partitionInputList' failed to satisfy constraint: Member must have length less than or equal to {}",
                limits::BATCH_CREATE_PARTITIONS_MAX
            )));
        }
        let t = self.get_table(db, table)?;
        let db = db.to_lowercase();
        let mut errors = Vec::new();
        let mut ok = Vec::new();
        let now = now_secs();
        for input in inputs {
            let values = input.values.clone();
            match Self::partition_input(&t, &db, input) {
                Ok(mut p) => {
                    p.creation_time = Some(now);
                    ok.push(p);
                }
                Err(e) => errors.push((values, e)),
            }
        }
        let name = t.name.clone();
        let more = self
            .store
            .write(move |txn| {
                let mut parts = txn.open_table(PARTITIONS)?;
                let mut errors = Vec::new();
                for p in ok {
                    let key = values_key(&p.values);
                    if parts.get((db.as_str(), name.as_str(), key.as_str()))?.is_some() {
                        errors
                            .push((p.values.clone(), CatalogError::AlreadyExists("Partition already exists.".into())));
                        continue;
                    }
                    parts.insert((db.as_str(), name.as_str(), key.as_str()), encode(&p).as_slice())?;
                }
                Ok(errors)
            })
            .await?;
        errors.extend(more);
        Ok(errors)
    }

    pub async fn create_partition(&self, db: &str, table: &str, input: Partition) -> Result<()> {
        let mut errors = self.batch_create_partitions(db, table, vec![input]).await?;
        match errors.pop() {
            None => Ok(()),
            Some((_, e)) => Err(e),
        }
    }

    pub fn get_partition(&self, db: &str, table: &str, values: &[String]) -> Result<Partition> {
        let t = self.get_table(db, table)?;
        let db = db.to_lowercase();
        let txn = self.store.read()?;
        let parts = txn.open_table(PARTITIONS)?;
        let key = values_key(values);
        let v = parts
            .get((db.as_str(), t.name.as_str(), key.as_str()))?
            .ok_or_else(|| CatalogError::EntityNotFound("Cannot find partition.".into()))?;
        Ok(decode(v.value(), "glue partition")?)
    }

    /// Partitions passing `expression`, in order of their values; `segment` is
    /// (SegmentNumber, TotalSegments) for parallel scans.
    pub fn get_partitions(
        &self,
        db: &str,
        table: &str,
        expression: Option<&str>,
        segment: Option<(u32, u32)>,
        token: Option<&str>,
        max: Option<i64>,
    ) -> Result<Page<Partition>> {
        let t = self.get_table(db, table)?;
        let db = db.to_lowercase();
        let max = check_page(max, limits::PARTITION_PAGE_MAX)?;
        let filter = match expression.filter(|e| !e.trim().is_empty()) {
            Some(e) => Some(PartitionFilter::parse(e, &t.partition_keys).map_err(CatalogError::InvalidInput)?),
            None => None,
        };
        if let Some((n, total)) = segment
            && (total == 0 || total > 10 || n >= total)
        {
            return Err(CatalogError::InvalidInput(
                "Invalid segment: SegmentNumber must be less than TotalSegments (1-10).".into(),
            ));
        }
        let after = token.map(token_decode).transpose()?;
        let txn = self.store.read()?;
        let parts = txn.open_table(PARTITIONS)?;
        let start = after.as_deref().unwrap_or("");
        let mut out: Vec<Partition> = Vec::new();
        let mut last_key = String::new();
        for entry in parts.range((db.as_str(), t.name.as_str(), start)..)? {
            let (k, v) = entry?;
            let (kdb, ktable, key) = k.value();
            if kdb != db || ktable != t.name {
                break;
            }
            if after.as_deref() == Some(key) {
                continue;
            }
            if let Some((n, total)) = segment
                && fnv(key) % u64::from(total) != u64::from(n)
            {
                continue;
            }
            let p: Partition = decode(v.value(), "glue partition")?;
            if filter.as_ref().is_some_and(|f| !f.matches(&p.values)) {
                continue;
            }
            if out.len() == max {
                return Ok((out, Some(token_encode(&last_key))));
            }
            last_key = key.to_string();
            out.push(p);
        }
        Ok((out, None))
    }

    /// Partitions by values; returns those found and the values not found.
    pub fn batch_get_partitions(
        &self,
        db: &str,
        table: &str,
        values: &[Vec<String>],
    ) -> Result<(Vec<Partition>, Vec<Vec<String>>)> {
        if values.len() > limits::BATCH_GET_PARTITIONS_MAX {
            return Err(CatalogError::InvalidInput(format!(
                "1 validation error detected: Value at 'partitionsToGet' failed to satisfy constraint: Member must have length less than or equal to {}",
                limits::BATCH_GET_PARTITIONS_MAX
            )));
        }
        let t = self.get_table(db, table)?;
        let db = db.to_lowercase();
        let txn = self.store.read()?;
        let parts = txn.open_table(PARTITIONS)?;
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for v in values {
            let key = values_key(v);
            match parts.get((db.as_str(), t.name.as_str(), key.as_str()))? {
                Some(bytes) => found.push(decode(bytes.value(), "glue partition")?),
                None => missing.push(v.clone()),
            }
        }
        Ok((found, missing))
    }

    pub async fn update_partition(&self, db: &str, table: &str, values: Vec<String>, input: Partition) -> Result<()> {
        let t = self.get_table(db, table)?;
        let db = db.to_lowercase();
        let mut p = Self::partition_input(&t, &db, input)?;
        let name = t.name.clone();
        self.store
            .write(move |txn| {
                let mut parts = txn.open_table(PARTITIONS)?;
                let old_key = values_key(&values);
                let old: Partition = match parts.remove((db.as_str(), name.as_str(), old_key.as_str()))? {
                    Some(v) => decode(v.value(), "glue partition")?,
                    None => return Ok(Err(CatalogError::EntityNotFound("Cannot find partition.".into()))),
                };
                p.creation_time = old.creation_time;
                let key = values_key(&p.values);
                if key != old_key && parts.get((db.as_str(), name.as_str(), key.as_str()))?.is_some() {
                    return Ok(Err(CatalogError::AlreadyExists("Partition already exists.".into())));
                }
                parts.insert((db.as_str(), name.as_str(), key.as_str()), encode(&p).as_slice())?;
                Ok(Ok(()))
            })
            .await?
    }

    /// Deletes partitions by values; returns those that were not found.
    pub async fn batch_delete_partitions(
        &self,
        db: &str,
        table: &str,
        values: Vec<Vec<String>>,
        limit: usize,
    ) -> Result<Vec<(Vec<String>, CatalogError)>> {
        if values.len() > limit {
            return Err(CatalogError::InvalidInput(format!(
                "1 validation error detected: Value at 'partitionsToDelete' failed to satisfy constraint: Member must have length less than or equal to {limit}"
            )));
        }
        let t = self.get_table(db, table)?;
        let db = db.to_lowercase();
        let name = t.name.clone();
        self.store
            .write(move |txn| {
                let mut parts = txn.open_table(PARTITIONS)?;
                let mut errors = Vec::new();
                for v in values {
                    let key = values_key(&v);
                    if parts.remove((db.as_str(), name.as_str(), key.as_str()))?.is_none() {
                        errors.push((v, CatalogError::EntityNotFound("Cannot find partition.".into())));
                    }
                }
                Ok(errors)
            })
            .await
            .map_err(Into::into)
    }

    pub async fn delete_partition(&self, db: &str, table: &str, values: Vec<String>) -> Result<()> {
        let mut errors = self.batch_delete_partitions(db, table, vec![values], 1).await?;
        match errors.pop() {
            None => Ok(()),
            Some((_, e)) => Err(e),
        }
    }
}

/// FNV-1a, for stable partition segments.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// Removes a table's versions and partitions.
fn remove_table_children(txn: &redb::WriteTransaction, db: &str, table: &str) -> Result<(), StoreError> {
    let mut versions = txn.open_table(TABLE_VERSIONS)?;
    let keys: Vec<u64> = versions
        .range((db, table, 0)..=(db, table, u64::MAX))?
        .map(|e| e.map(|(k, _)| k.value().2))
        .collect::<Result<_, _>>()?;
    for k in keys {
        versions.remove((db, table, k))?;
    }
    let mut parts = txn.open_table(PARTITIONS)?;
    let keys: Vec<String> = parts
        .range((db, table, "")..)?
        .map_while(|e| e.ok())
        .take_while(|(k, _)| k.value().0 == db && k.value().1 == table)
        .map(|(k, _)| k.value().2.to_string())
        .collect();
    for k in keys {
        parts.remove((db, table, k.as_str()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
