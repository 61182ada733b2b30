//! Athena's Hive-style DDL and utility statements, parsed by hand.
//!
//! Athena runs DDL in Hive syntax (CREATE EXTERNAL TABLE, MSCK REPAIR TABLE, ALTER TABLE
//! ADD/DROP PARTITION, SHOW ..., DESCRIBE, ...) and DML in Trino syntax. [`parse`] recognises the
//! statements tarn applies to the Glue catalog itself; anything else (SELECT, WITH, EXPLAIN,
//! VALUES, ...) yields `Ok(None)` and goes to DataFusion. The query of a CTAS, a view or an
//! INSERT is kept verbatim for DataFusion to plan.
//!
//! Names of databases, tables, columns and partition keys are lower-cased, as Glue stores them.
//! String literals in the Hive statements take both SQL's `''` and Hive's backslash escapes
//! (`'\t'`, `'\001'`, `'\\'`, `'\''`); the `WITH (...)` properties of a CTAS are Trino syntax and
//! keep backslashes as written.
//!
//! `lexer` cuts a statement into tokens, `parser` reads the statements' grammar and `glue` maps
//! a Hive table definition to Glue's `Table`.

mod glue;
mod lexer;
mod parser;

use std::collections::BTreeMap;

use tarn_catalog::Table;

use parser::Parser;

/// A partition's `(key, value)` pairs, keys lower-cased, values as written.
pub type PartitionSpec = Vec<(String, String)>;

/// One DDL or utility statement. Names are lower-cased; `database` is `None` when the name was
/// not qualified (the session's database applies).
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)] // parsed once per statement; `CreateTable` carries Glue's whole Table
pub enum Statement {
    /// `CREATE DATABASE|SCHEMA [IF NOT EXISTS] n [COMMENT '..'] [LOCATION '..'] [WITH DBPROPERTIES ('k'='v', ...)]`
    CreateDatabase {
        name: String,
        if_not_exists: bool,
        comment: Option<String>,
        location: Option<String>,
        properties: BTreeMap<String, String>,
    },
    /// `DROP DATABASE|SCHEMA [IF EXISTS] n [RESTRICT|CASCADE]`
    DropDatabase { name: String, if_exists: bool, cascade: bool },
    /// `CREATE [EXTERNAL] TABLE [IF NOT EXISTS] t (columns) ...` (Hive's form, with a column
    /// list), as Glue stores it; on the PostgreSQL wire also PostgreSQL's form, and
    /// `CREATE TEMP[ORARY] TABLE` (`temporary`).
    CreateTable { database: Option<String>, table: Table, if_not_exists: bool, temporary: bool },
    /// `DROP TABLE [IF EXISTS] t`
    DropTable { database: Option<String>, name: String, if_exists: bool },
    /// `MSCK REPAIR TABLE t`
    MsckRepair { database: Option<String>, name: String },
    /// `ALTER TABLE t ADD [IF NOT EXISTS] PARTITION (k='v', ...) [LOCATION '..'] [PARTITION ...]`:
    /// each partition's (key, value) pairs as written, and its location.
    AddPartitions {
        database: Option<String>,
        name: String,
        if_not_exists: bool,
        partitions: Vec<(PartitionSpec, Option<String>)>,
    },
    /// `ALTER TABLE t DROP [IF EXISTS] PARTITION (k='v', ...)[, PARTITION (...)]`
    DropPartitions { database: Option<String>, name: String, if_exists: bool, partitions: Vec<PartitionSpec> },
    /// `SHOW DATABASES|SCHEMAS [LIKE 'pattern']`
    ShowDatabases { like: Option<String> },
    /// `SHOW TABLES [IN|FROM db] [[LIKE] 'pattern']`
    ShowTables { database: Option<String>, like: Option<String> },
    /// `SHOW PARTITIONS t`
    ShowPartitions { database: Option<String>, name: String },
    /// `DESCRIBE|DESC [EXTENDED|FORMATTED] t`
    Describe { database: Option<String>, name: String },
    /// `SHOW CREATE TABLE t`
    ShowCreateTable { database: Option<String>, name: String },
    /// `SHOW COLUMNS IN|FROM t [IN|FROM db]`
    ShowColumns { database: Option<String>, name: String },
    /// `CREATE TABLE [IF NOT EXISTS] t [WITH (k = v, ...)] AS <query> [WITH [NO] DATA]`; the
    /// property names are lower-cased, the query is the text as written.
    Ctas {
        database: Option<String>,
        name: String,
        if_not_exists: bool,
        properties: BTreeMap<String, PropValue>,
        query: String,
        with_data: bool,
        /// `CREATE TEMP[ORARY] TABLE t AS` (PostgreSQL wire).
        temporary: bool,
    },
    /// `ALTER TABLE|VIEW t RENAME TO u` (PostgreSQL wire).
    RenameTable { database: Option<String>, name: String, to: String },
    /// `TRUNCATE [TABLE] t` (PostgreSQL wire): empties a table tarn manages.
    Truncate { database: Option<String>, name: String },
    /// `CREATE [OR REPLACE] VIEW v AS <query>`
    CreateView { database: Option<String>, name: String, or_replace: bool, query: String },
    /// `DROP VIEW [IF EXISTS] v`
    DropView { database: Option<String>, name: String, if_exists: bool },
    /// Redshift Spectrum's `CREATE EXTERNAL SCHEMA [IF NOT EXISTS] s FROM DATA CATALOG DATABASE
    /// 'db' [REGION '..'] [IAM_ROLE ..] [CATALOG_ROLE ..] [CREATE EXTERNAL DATABASE IF NOT
    /// EXISTS]`: `s` names the Glue database `db` (a Glue resource link).
    CreateExternalSchema { name: String, if_not_exists: bool, database: String, create_database: bool },
    /// Redshift's `UNLOAD ('query') TO 's3://...' [IAM_ROLE ..] [FORMAT [AS] PARQUET|CSV|JSON]
    /// [PARTITION BY (c, ...) [INCLUDE]] [HEADER] [DELIMITER [AS] 'c'] [GZIP] [PARALLEL ON|OFF]
    /// [ALLOWOVERWRITE] [CLEANPATH] [MAXFILESIZE [AS] n [MB|GB]] [REGION [AS] '..'] [MANIFEST]`.
    Unload(Unload),
    /// Redshift's `COPY t [(c, ...)] FROM 's3://...' [IAM_ROLE ..] [FORMAT [AS]] CSV|JSON
    /// 'auto'|PARQUET [GZIP|BZIP2|ZSTD] [IGNOREHEADER [AS] n] [DELIMITER [AS] 'c'] [REGION ..]`.
    CopyFrom(CopyFrom),
    /// `INSERT INTO t [(c1, c2, ...)] <query>` where the query is a SELECT, a WITH or VALUES.
    InsertInto { database: Option<String>, name: String, columns: Vec<String>, query: String },
}

/// What a Redshift COPY loads, and from where.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct CopyFrom {
    pub database: Option<String>,
    pub name: String,
    pub columns: Vec<String>,
    pub from: String,
    /// `csv`, `json` or `parquet`.
    pub format: String,
    /// `gzip`, `bzip2` or `zstd`.
    pub compression: Option<String>,
    pub ignore_header: usize,
    pub delimiter: Option<String>,
}

/// What a Redshift UNLOAD writes, and how.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Unload {
    pub query: String,
    pub to: String,
    /// `parquet`, `csv` or `json`.
    pub format: String,
    pub partition_by: Vec<String>,
    /// The partition columns also stay in the files (`PARTITION BY (..) INCLUDE`).
    pub include: bool,
    pub header: bool,
    pub delimiter: Option<String>,
    pub gzip: bool,
    pub parallel: bool,
    pub allow_overwrite: bool,
    pub manifest: bool,
}

/// A value of a CTAS `WITH (...)` property.
#[derive(Clone, Debug, PartialEq)]
pub enum PropValue {
    /// `'text'` (with `''` unescaped).
    Str(String),
    /// A number as written (`16`, `-1`, `0.5`).
    Num(String),
    /// `true` / `false`.
    Bool(bool),
    /// `ARRAY['a', 'b']`.
    Array(Vec<String>),
}

/// Parses one statement. `Ok(None)` when the statement is not one of [`Statement`]'s (SELECT,
/// WITH, EXPLAIN, VALUES, ...): the caller gives it to DataFusion. `Err` names the problem and
/// where it is (`line 1:23: ...`).
pub fn parse(sql: &str) -> Result<Option<Statement>, String> {
    Parser::new(sql).statement()
}

/// [`parse`] with PostgreSQL's forms too (the PostgreSQL wire): also returns the first parts of
/// the statement's three-part names (`db.schema.relation`), which must name the connection's
/// database.
pub fn parse_postgres(sql: &str) -> Result<(Option<Statement>, Vec<String>), String> {
    let mut parser = Parser::new(sql);
    parser.postgres = true;
    let stmt = parser.statement()?;
    Ok((stmt, parser.catalogs))
}

#[cfg(test)]
mod tests;
