//! The Glue Data Catalog's shapes, as its JSON API spells them (botocore's `glue` model).
//!
//! They serve three ways: the wire layer reads and writes them as JSON; the catalog stores them
//! (JSON behind a version byte, so unknown members a client sent, such as `SkewedInfo` or
//! `SchemaReference`, round-trip in `extra`); the query engine and crawlers use them as Rust.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub type Parameters = BTreeMap<String, String>;

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Column {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: Parameters,
}

impl Column {
    #[must_use]
    pub fn new(name: impl Into<String>, ty: impl Into<String>) -> Self {
        Self { name: name.into(), r#type: Some(ty.into()), ..Self::default() }
    }

    /// The column's Glue type, `string` when none was given.
    #[must_use]
    pub fn type_name(&self) -> &str {
        self.r#type.as_deref().unwrap_or("string")
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct SerDeInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serialization_library: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: Parameters,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Order {
    pub column: String,
    pub sort_order: i32,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct StorageDescriptor {
    #[serde(default)]
    pub columns: Vec<Column>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_format: Option<String>,
    #[serde(default)]
    pub compressed: bool,
    #[serde(default)]
    pub number_of_buckets: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serde_info: Option<SerDeInfo>,
    #[serde(default)]
    pub bucket_columns: Vec<String>,
    #[serde(default)]
    pub sort_columns: Vec<Order>,
    #[serde(default)]
    pub parameters: Parameters,
    #[serde(default)]
    pub stored_as_sub_directories: bool,
    /// Members tarn keeps but does not interpret (SkewedInfo, SchemaReference, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Database {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_uri: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: Parameters,
    /// Epoch seconds (Glue's JSON timestamps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog_id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Table {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_time: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_access_time: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_analyzed_time: Option<f64>,
    #[serde(default)]
    pub retention: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_descriptor: Option<StorageDescriptor>,
    #[serde(default)]
    pub partition_keys: Vec<Column>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view_original_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view_expanded_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: Parameters,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub is_registered_with_lake_formation: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Table {
    /// The table's data columns (empty when it has no storage descriptor).
    #[must_use]
    pub fn columns(&self) -> &[Column] {
        self.storage_descriptor.as_ref().map_or(&[], |sd| sd.columns.as_slice())
    }

    #[must_use]
    pub fn location(&self) -> Option<&str> {
        self.storage_descriptor.as_ref().and_then(|sd| sd.location.as_deref())
    }

    /// A table parameter, else the storage descriptor's, else its SerDe's (crawlers and Athena
    /// spread `classification`, `skip.header.line.count` and friends across all three).
    #[must_use]
    pub fn property(&self, key: &str) -> Option<&str> {
        self.parameters
            .get(key)
            .or_else(|| self.storage_descriptor.as_ref().and_then(|sd| sd.parameters.get(key)))
            .or_else(|| {
                self.storage_descriptor
                    .as_ref()
                    .and_then(|sd| sd.serde_info.as_ref())
                    .and_then(|si| si.parameters.get(key))
            })
            .map(String::as_str)
    }

    #[must_use]
    pub fn is_view(&self) -> bool {
        self.table_type.as_deref() == Some("VIRTUAL_VIEW")
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Partition {
    #[serde(default)]
    pub values: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_access_time: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_descriptor: Option<StorageDescriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: Parameters,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_analyzed_time: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog_id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Partition {
    #[must_use]
    pub fn location(&self) -> Option<&str> {
        self.storage_descriptor.as_ref().and_then(|sd| sd.location.as_deref())
    }
}

/// A version of a table, as GetTableVersions lists them.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct TableVersion {
    pub table: Table,
    pub version_id: String,
}
