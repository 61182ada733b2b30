//! ListObjects (v1 and v2) and ListObjectVersions: keys in UTF-8 byte order, `prefix`,
//! `delimiter` roll-up into common prefixes, and resumable pages.

use tarn_store::record::Record;

use crate::record::{self, CURRENT, NULL_VERSIONS, ObjectRecord, VERSIONS, parse_version_id, version_rank};
use crate::{Objects, ObjectsError, Result};

#[derive(Clone, Debug, Default)]
pub struct ListParams {
    pub prefix: String,
    pub delimiter: Option<String>,
    /// List only entries after this key or common prefix (marker, start-after, continuation).
    pub after: Option<String>,
    pub max_keys: usize,
}

#[derive(Clone, Debug)]
pub struct ListedObject {
    pub key: String,
    pub record: ObjectRecord,
}

#[derive(Clone, Debug, Default)]
pub struct ListPage {
    pub objects: Vec<ListedObject>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    /// The last key or common prefix returned, when truncated.
    pub next_marker: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct VersionsParams {
    pub prefix: String,
    pub delimiter: Option<String>,
    pub key_marker: Option<String>,
    pub version_id_marker: Option<String>,
    pub max_keys: usize,
}

#[derive(Clone, Debug, Default)]
pub struct VersionsPage {
    /// (key, version, is latest)
    pub versions: Vec<(String, ObjectRecord, bool)>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    pub next_key_marker: Option<String>,
    pub next_version_id_marker: Option<String>,
}

/// The common prefix `key` rolls up into, if any.
pub(crate) fn common_prefix<'k>(key: &'k str, prefix: &str, delimiter: Option<&str>) -> Option<&'k str> {
    let delimiter = delimiter.filter(|d| !d.is_empty())?;
    let rest = &key[prefix.len()..];
    rest.find(delimiter).map(|pos| &key[..prefix.len() + pos + delimiter.len()])
}

/// A key greater than every key that starts with `prefix` (as far as listing needs).
pub(crate) fn skip_past(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

impl Objects {
    pub fn list_objects(&self, bucket: &str, params: &ListParams) -> Result<ListPage> {
        let txn = self.store.read()?;
        if txn.open_table(record::BUCKETS)?.get(bucket)?.is_none() {
            return Err(ObjectsError::NoSuchBucket);
        }
        let table = txn.open_table(CURRENT)?;
        let mut page = ListPage::default();
        let prefix = params.prefix.as_str();
        let after = params.after.as_deref();
        let mut cursor = match after {
            Some(a) if a > prefix => a.to_string(),
            _ => prefix.to_string(),
        };
        let mut last: Option<String> = None;
        'seek: loop {
            for entry in table.range((bucket, cursor.as_str())..)? {
                let (k, v) = entry?;
                let (b, key) = k.value();
                if b != bucket || !key.starts_with(prefix) {
                    break 'seek;
                }
                if after.is_some_and(|a| key <= a) {
                    continue;
                }
                if let Some(cp) = common_prefix(key, prefix, params.delimiter.as_deref()) {
                    if after.is_none_or(|a| cp > a) {
                        if page.objects.len() + page.common_prefixes.len() == params.max_keys {
                            page.is_truncated = true;
                            break 'seek;
                        }
                        page.common_prefixes.push(cp.to_string());
                        last = Some(cp.to_string());
                    }
                    cursor = skip_past(cp);
                    continue 'seek;
                }
                if page.objects.len() + page.common_prefixes.len() == params.max_keys {
                    page.is_truncated = true;
                    break 'seek;
                }
                page.objects.push(ListedObject { key: key.to_string(), record: ObjectRecord::decode(v.value())? });
                last = Some(key.to_string());
            }
            break;
        }
        if page.is_truncated {
            page.next_marker = last;
        }
        Ok(page)
    }

    pub fn list_object_versions(&self, bucket: &str, params: &VersionsParams) -> Result<VersionsPage> {
        let txn = self.store.read()?;
        if txn.open_table(record::BUCKETS)?.get(bucket)?.is_none() {
            return Err(ObjectsError::NoSuchBucket);
        }
        let table = txn.open_table(VERSIONS)?;
        let prefix = params.prefix.as_str();
        let key_marker = params.key_marker.as_deref().filter(|k| !k.is_empty());
        // Resume inside the marker key's versions when a version-id marker is given.
        let marker_rank = match (key_marker, params.version_id_marker.as_deref().filter(|v| !v.is_empty())) {
            (Some(key), Some("null")) => {
                let nulls = txn.open_table(NULL_VERSIONS)?;
                nulls.get((bucket, key))?.map(|v| version_rank(v.value()))
            }
            (Some(_), Some(id)) => Some(version_rank(
                parse_version_id(id)
                    .ok_or_else(|| ObjectsError::InvalidArgument("Invalid version id specified".into()))?,
            )),
            (None, Some(_)) => {
                return Err(ObjectsError::InvalidArgument(
                    "A version-id marker cannot be specified without a key marker.".into(),
                ));
            }
            _ => None,
        };
        let mut page = VersionsPage::default();
        let mut cursor = match key_marker {
            Some(k) if k > prefix => k.to_string(),
            _ => prefix.to_string(),
        };
        let mut previous_key: Option<String> = key_marker.filter(|_| marker_rank.is_some()).map(str::to_string);
        let mut last: Option<(String, Option<String>)> = None;
        let count = |page: &VersionsPage| page.versions.len() + page.common_prefixes.len();
        'seek: loop {
            for entry in table.range((bucket, cursor.as_str(), 0)..)? {
                let (k, v) = entry?;
                let (b, key, rank) = k.value();
                if b != bucket || !key.starts_with(prefix) {
                    break 'seek;
                }
                if let Some(marker) = key_marker {
                    let skip = match marker_rank {
                        Some(mr) => key < marker || (key == marker && rank <= mr),
                        None => key <= marker,
                    };
                    if skip {
                        continue;
                    }
                }
                if let Some(cp) = common_prefix(key, prefix, params.delimiter.as_deref()) {
                    if key_marker.is_none_or(|m| cp > m) {
                        if count(&page) == params.max_keys {
                            page.is_truncated = true;
                            break 'seek;
                        }
                        page.common_prefixes.push(cp.to_string());
                        last = Some((cp.to_string(), None));
                    }
                    cursor = skip_past(cp);
                    continue 'seek;
                }
                if count(&page) == params.max_keys {
                    page.is_truncated = true;
                    break 'seek;
                }
                let is_latest = previous_key.as_deref() != Some(key);
                previous_key = Some(key.to_string());
                let rec = ObjectRecord::decode(v.value())?;
                last = Some((key.to_string(), Some(rec.version_id_str().to_string())));
                page.versions.push((key.to_string(), rec, is_latest));
            }
            break;
        }
        if page.is_truncated
            && let Some((key, version)) = last
        {
            page.next_key_marker = Some(key);
            page.next_version_id_marker = version;
        }
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_prefixes() {
        assert_eq!(common_prefix("a/b/c", "", Some("/")), Some("a/"));
        assert_eq!(common_prefix("a/b/c", "a/", Some("/")), Some("a/b/"));
        assert_eq!(common_prefix("a/b", "a/", Some("/")), None);
        assert_eq!(common_prefix("a/b", "", None), None);
        assert_eq!(common_prefix("a--b--c", "", Some("--")), Some("a--"));
        assert!(skip_past("a/").as_str() > "a/zzzz");
    }
}
