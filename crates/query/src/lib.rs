//! SQL over the catalog and the object store, on Apache DataFusion, in three homes that can
//! each be read alone:
//!
//! - [`engine`]: the SQL engine (DDL on the Glue catalog, queries on DataFusion over the object
//!   store), shared by the other two and by `tarn sql`;
//! - [`athena`]: Athena's query executions, workgroups and named queries, on the engine;
//! - [`pg`]: the PostgreSQL wire protocol server, on the engine.
//!
//! The error type is shared: [`QueryError`] says who must act.

pub mod athena;
pub mod engine;
pub mod pg;
pub mod pgcopy;
pub mod pgsession;
mod pgvalues;
pub mod redshift_data;

use datafusion::error::DataFusionError;

pub use engine::{CATALOG_NAME, Engine, QueryOutput, ddl, is_ddl, statement_type, store, tables};

/// Why a statement failed, sorted by who must act.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The SQL does not parse, names something missing, or asks for something not allowed.
    #[error("{0}")]
    User(String),
    /// The caller may not read or write a location.
    #[error("{0}")]
    AccessDenied(String),
    /// Reading data failed (a corrupt file, say); the message names the object.
    #[error("{0}")]
    Data(String),
    /// A bug or a storage failure in tarn.
    #[error("{0}")]
    Internal(String),
}

impl QueryError {
    fn from_df(e: DataFusionError) -> Self {
        let root = e.find_root();
        let text = root.to_string();
        match root {
            DataFusionError::SQL(..) | DataFusionError::Plan(_) | DataFusionError::SchemaError(..) => {
                Self::User(clean_message(&text))
            }
            DataFusionError::NotImplemented(_) => Self::User(clean_message(&text)),
            // a bucket policy's Deny of a read or a listing (store.rs, `authorize`)
            DataFusionError::ObjectStore(e) if matches!(**e, object_store::Error::PermissionDenied { .. }) => {
                Self::AccessDenied(text)
            }
            DataFusionError::ParquetError(_) | DataFusionError::ArrowError(..) | DataFusionError::ObjectStore(_) => {
                Self::Data(clean_message(&text))
            }
            DataFusionError::External(inner) if inner.to_string().contains("s3://") => Self::Data(text),
            _ => Self::Data(clean_message(&text)),
        }
    }
}

/// DataFusion's messages, without its internal prefixes.
fn clean_message(text: &str) -> String {
    let mut s = text.trim();
    for prefix in [
        "Error during planning: ",
        "SQL error: ",
        "This feature is not implemented: ",
        "Schema error: ",
        "Execution error: ",
    ] {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest;
        }
    }
    // sqlparser: ParserError("Expected: ..., found: X at Line: 1, Column: 1") -> Athena's form
    if let Some(inner) = s.strip_prefix("ParserError(\"").and_then(|r| r.strip_suffix("\")")) {
        if let Some((msg, pos)) = inner.rsplit_once(" at Line: ")
            && let Some((line, col)) = pos.split_once(", Column: ")
        {
            return format!("line {line}:{col}: {msg}");
        }
        return inner.to_string();
    }
    s.to_string()
}

impl From<DataFusionError> for QueryError {
    fn from(e: DataFusionError) -> Self {
        Self::from_df(e)
    }
}

impl From<tarn_catalog::CatalogError> for QueryError {
    fn from(e: tarn_catalog::CatalogError) -> Self {
        match e {
            tarn_catalog::CatalogError::Store(s) => Self::Internal(s.to_string()),
            other => Self::User(other.to_string()),
        }
    }
}

pub type Result<T, E = QueryError> = std::result::Result<T, E>;
