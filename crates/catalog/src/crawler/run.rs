//! One crawl: list each S3 target, classify the objects (bounded reads), group them into
//! tables, then bring the catalog in line: create tables, update changed ones (a new table
//! version), add partitions, and retire what is gone, as the crawler's policies say.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::io;

use futures::StreamExt;
use tarn_objects::{GetTarget, ListParams, Objects, ObjectsError};

use super::classify::{self, FileSchema, RangeRead};
use super::group::{self, Exclusions, GroupFile, GroupOptions, PartitionGroup, S3Path, TableGroup};
use super::types::GlueType;
use super::{Crawler, Crawlers, DeleteBehavior, RecrawlBehavior, RunControl, UpdateBehavior};
use crate::{CatalogError, Column, Database, Parameters, Partition, StorageDescriptor, Table, limits};

/// Table parameter naming the crawler that last wrote the table.
pub const UPDATED_BY: &str = "UPDATED_BY_CRAWLER";
/// Table parameter set (to epoch milliseconds) on tables whose data is gone.
pub const DEPRECATED_BY: &str = "DEPRECATED_BY_CRAWLER";

#[derive(Debug, Default, Clone)]
pub(super) struct Summary {
    pub created: i32,
    pub updated: i32,
    pub deleted: i32,
    /// Folder URLs crawled (remembered for CRAWL_NEW_FOLDERS_ONLY).
    pub folders: Vec<String>,
}

pub(super) enum Failure {
    /// Stopped by StopCrawler; the counts of what was done.
    Cancelled(Summary),
    Failed(String),
}

fn failed(e: impl std::fmt::Display) -> Failure {
    Failure::Failed(e.to_string())
}

/// The crawler's `Configuration` JSON, the parts tarn honours.
#[derive(Default)]
struct Config {
    group: GroupOptions,
    /// `CrawlerOutput.Tables.AddOrUpdateBehavior = MergeNewColumns`.
    merge_new_columns: bool,
    /// `CrawlerOutput.Partitions.AddOrUpdateBehavior = InheritFromTable`.
    inherit_from_table: bool,
    /// `CrawlerOutput.Tables.TableThreshold`.
    table_threshold: Option<u64>,
}

fn config(crawler: &Crawler) -> Result<Config, Failure> {
    let mut cfg = Config::default();
    cfg.group.table_prefix = crawler.table_prefix.clone().unwrap_or_default();
    let Some(text) = crawler.configuration.as_deref().filter(|c| !c.trim().is_empty()) else { return Ok(cfg) };
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| Failure::Failed(format!("Crawler configuration not valid: {e}")))?;
    let s = |ptr: &str| v.pointer(ptr).and_then(serde_json::Value::as_str);
    cfg.merge_new_columns = s("/CrawlerOutput/Tables/AddOrUpdateBehavior") == Some("MergeNewColumns");
    cfg.inherit_from_table = s("/CrawlerOutput/Partitions/AddOrUpdateBehavior") == Some("InheritFromTable");
    cfg.table_threshold = v.pointer("/CrawlerOutput/Tables/TableThreshold").and_then(serde_json::Value::as_u64);
    cfg.group.combine_compatible = s("/Grouping/TableGroupingPolicy") == Some("CombineCompatibleSchemas");
    cfg.group.table_level = v
        .pointer("/Grouping/TableLevelConfiguration")
        .and_then(serde_json::Value::as_u64)
        .and_then(|n| usize::try_from(n).ok());
    Ok(cfg)
}

/// Range reads of one object through [`Objects`].
struct ObjectReader<'a> {
    objects: &'a Objects,
    bucket: &'a str,
    key: &'a str,
}

impl RangeRead for ObjectReader<'_> {
    fn read_range(&self, start: u64, end: u64) -> impl Future<Output = io::Result<Vec<u8>>> + Send {
        let opened = self.objects.lookup(self.bucket, self.key, &GetTarget::Current).and_then(|found| {
            let end = end.min(found.record.size);
            if start >= end {
                return Ok(None);
            }
            Ok(Some(self.objects.open_range(&found, start, end)?))
        });
        async move {
            let Some(stream) = opened.map_err(io::Error::other)? else { return Ok(Vec::new()) };
            let mut stream = std::pin::pin!(stream);
            let mut out = Vec::with_capacity((end - start) as usize);
            while let Some(chunk) = stream.next().await {
                out.extend_from_slice(&chunk.map_err(io::Error::other)?);
            }
            Ok(out)
        }
    }
}

fn folder_of(rel: &str) -> &str {
    &rel[..rel.rfind('/').map_or(0, |p| p + 1)]
}

fn now_millis() -> i64 {
    tarn_common::now_unix_nanos() / 1_000_000
}

struct Ctx<'a> {
    crawlers: &'a Crawlers,
    crawler: &'a Crawler,
    control: &'a RunControl,
    run_id: &'a str,
    cfg: Config,
    summary: Summary,
    /// Names of the tables this crawl found (after renames).
    produced: HashSet<String>,
    /// The crawler's Role as a Glue session, when the directory has that role.
    access: Option<(tarn_iam::Iam, tarn_iam::Principal)>,
}

pub(super) async fn crawl(
    crawlers: &Crawlers,
    crawler: &Crawler,
    control: &RunControl,
    run_id: &str,
    seen: &HashSet<String>,
) -> Result<Summary, Failure> {
    let cfg = config(crawler)?;
    let access = match (crawlers.inner.iam.get(), crawler.role.as_deref()) {
        (Some(iam), Some(role)) => {
            iam.service_role(role, "glue.amazonaws.com").map_err(Failure::Failed)?.map(|p| (iam.clone(), p))
        }
        _ => None,
    };
    let mut ctx =
        Ctx { crawlers, crawler, control, run_id, cfg, summary: Summary::default(), produced: HashSet::new(), access };
    ctx.run(seen).await?;
    Ok(ctx.summary)
}

impl Ctx<'_> {
    fn check(&self) -> Result<(), Failure> {
        if self.control.stopping() {
            return Err(Failure::Cancelled(Summary { folders: Vec::new(), ..self.summary.clone() }));
        }
        Ok(())
    }

    fn catalog(&self) -> &crate::Catalog {
        &self.crawlers.inner.catalog
    }

    async fn run(&mut self, seen: &HashSet<String>) -> Result<(), Failure> {
        let db = self
            .crawler
            .database_name
            .clone()
            .ok_or_else(|| Failure::Failed("The crawler has no DatabaseName to write tables to.".into()))?;
        self.ensure_database(&db).await?;
        let incremental = self.crawler.recrawl_behavior() == RecrawlBehavior::CrawlNewFoldersOnly;
        let mut plans: Vec<TableGroup> = Vec::new();
        let mut includes: Vec<S3Path> = Vec::new();
        let mut folders: HashSet<String> = HashSet::new();
        for target in &self.crawler.targets.s3_targets {
            self.check()?;
            let path = target.path.as_deref().unwrap_or_default();
            let include =
                S3Path::parse(path).ok_or_else(|| Failure::Failed(format!("Invalid S3 target path: {path}")))?;
            let exclusions = Exclusions::new(&target.exclusions).map_err(failed)?;
            let mut listed = self.list(&include, &exclusions)?;
            if incremental {
                listed.retain(|(rel, _)| !seen.contains(&include.url(folder_of(rel))));
            }
            folders.extend(listed.iter().map(|(rel, _)| include.url(folder_of(rel))));
            let sample = target.sample_size.and_then(|n| usize::try_from(n).ok());
            let mut files = self.classify_all(&include, listed, sample).await?;
            if incremental {
                files = self.assign_to_existing(&db, &include, files, &mut plans)?;
            }
            plans.extend(group::group(&include, &files, &self.cfg.group));
            includes.push(include);
        }
        // names must be unique across targets too
        let mut names = HashSet::new();
        for p in &mut plans {
            if !names.insert(p.name.clone()) {
                p.name = format!("{}_{:08x}", p.name, group::fnv32(&p.location));
                names.insert(p.name.clone());
            }
        }
        if let Some(threshold) = self.cfg.table_threshold {
            let new =
                plans.iter().filter(|p| p.schema.is_some() && self.catalog().get_table(&db, &p.name).is_err()).count();
            if new as u64 > threshold {
                return Err(Failure::Failed(format!(
                    "The number of tables detected by crawler: {new} is greater than the table threshold value provided: {threshold}."
                )));
            }
        }
        for plan in plans {
            self.check()?;
            self.apply(&db, plan, incremental).await?;
        }
        if !incremental {
            self.retire_missing(&db, &includes).await?;
        }
        let mut folders: Vec<String> = folders.into_iter().collect();
        folders.sort();
        self.summary.folders = folders;
        Ok(())
    }

    /// Glue creates the crawler's database when it is missing.
    async fn ensure_database(&self, db: &str) -> Result<(), Failure> {
        match self.catalog().get_database(db) {
            Ok(_) => Ok(()),
            Err(CatalogError::EntityNotFound(_)) => {
                match self.catalog().create_database(Database { name: db.to_string(), ..Database::default() }).await {
                    Ok(()) | Err(CatalogError::AlreadyExists(_)) => Ok(()),
                    Err(e) => Err(failed(e)),
                }
            }
            Err(e) => Err(failed(e)),
        }
    }

    /// Keys under the include path (relative to it) with their sizes, without hidden and
    /// excluded objects.
    /// Whether the crawler's Role may do `action` on the bucket or one of its objects; a
    /// refusal fails the crawl with S3's words, as Glue reports it.
    fn allowed(&self, action: &str, bucket: &str, key: Option<&str>, prefix: Option<&str>) -> Result<(), Failure> {
        let Some((iam, who)) = &self.access else { return Ok(()) };
        let mut context = tarn_iam::policy::Context::new();
        context.set("aws:SecureTransport", "true").set("aws:CalledVia", "glue.amazonaws.com");
        if let Some(p) = prefix {
            context.set("s3:prefix", p);
        }
        self.crawlers.inner.objects.authorize_as(iam, who, action, bucket, key, &context).map_err(|_| {
            let path = key.map_or_else(|| format!("s3://{bucket}"), |k| format!("s3://{bucket}/{k}"));
            Failure::Failed(format!(
                "Access Denied (Service: Amazon S3; Status Code: 403; Error Code: AccessDenied): {} is not authorized to perform: {action} on {path}",
                who.arn
            ))
        })
    }

    /// An SSE-KMS object is read only if the Role may also kms:Decrypt under its key, as S3
    /// asks of any reader.
    fn may_open(&self, bucket: &str, key: &str, sse: &tarn_objects::Sse) -> Result<(), Failure> {
        let Some((iam, who)) = &self.access else { return Ok(()) };
        let mut context = tarn_iam::policy::Context::new();
        context.set("aws:SecureTransport", "true").set("aws:CalledVia", "glue.amazonaws.com");
        self.crawlers.inner.objects.authorize_read_key(iam, who, sse, &context).map_err(|why| {
            Failure::Failed(format!(
                "Access Denied (Service: Amazon S3; Status Code: 403; Error Code: AccessDenied): {why} (reading s3://{bucket}/{key})"
            ))
        })
    }

    fn list(&self, include: &S3Path, exclusions: &Exclusions) -> Result<Vec<(String, u64)>, Failure> {
        let objects = &self.crawlers.inner.objects;
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        self.allowed("s3:ListBucket", &include.bucket, None, Some(&include.prefix))?;
        loop {
            self.check()?;
            let params =
                ListParams { prefix: include.prefix.clone(), delimiter: None, after: after.take(), max_keys: 1000 };
            let page = objects.list_objects(&include.bucket, &params).map_err(|e| match e {
                ObjectsError::NoSuchBucket => {
                    Failure::Failed(format!("The specified bucket does not exist: {}", include.bucket))
                }
                e => failed(e),
            })?;
            for o in page.objects {
                let rel = &o.key[include.prefix.len()..];
                if group::is_hidden(rel, o.record.size) || exclusions.excludes(rel) {
                    continue;
                }
                self.allowed("s3:GetObject", &include.bucket, Some(&o.key), None)?;
                self.may_open(&include.bucket, &o.key, &o.record.sse)?;
                out.push((rel.to_string(), o.record.size));
            }
            if !page.is_truncated || page.next_marker.is_none() {
                return Ok(out);
            }
            after = page.next_marker;
        }
    }

    /// Classifies up to `sample` files per folder (all without it); files no classifier
    /// recognizes are left out, as are folders where none was recognized.
    async fn classify_all(
        &self,
        include: &S3Path,
        listed: Vec<(String, u64)>,
        sample: Option<usize>,
    ) -> Result<Vec<GroupFile>, Failure> {
        let objects = &self.crawlers.inner.objects;
        let mut by_folder: BTreeMap<String, Vec<(String, u64)>> = BTreeMap::new();
        for (rel, size) in listed {
            by_folder.entry(folder_of(&rel).to_string()).or_default().push((rel, size));
        }
        let mut out = Vec::new();
        for (_, files) in by_folder {
            let mut folder_files = Vec::new();
            let mut recognized = false;
            for (n, (rel, size)) in files.into_iter().enumerate() {
                if sample.is_some_and(|s| n >= s) {
                    folder_files.push(GroupFile { rel, size, schema: None });
                    continue;
                }
                self.crawlers.pause_point().await;
                self.check()?;
                let key = format!("{}{rel}", include.prefix);
                let reader = ObjectReader { objects, bucket: &include.bucket, key: &key };
                match classify::classify(&key, size, &reader).await {
                    Ok(Some(schema)) => {
                        recognized = true;
                        folder_files.push(GroupFile { rel, size, schema: Some(schema) });
                    }
                    Ok(None) => tracing::debug!(key = %key, "no classifier recognizes the object; skipped"),
                    Err(e) => tracing::warn!(key = %key, error = %e, "object could not be read; skipped"),
                }
            }
            if recognized {
                out.extend(folder_files);
            }
        }
        Ok(out)
    }

    /// Tables in `db` this crawler wrote.
    fn crawler_tables(&self, db: &str) -> Result<Vec<Table>, Failure> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let (page, next) = self.catalog().get_tables(db, None, token.as_deref(), None).map_err(failed)?;
            out.extend(page.into_iter().filter(|t| t.property(UPDATED_BY) == Some(self.crawler.name.as_str())));
            match next {
                Some(t) => token = Some(t),
                None => return Ok(out),
            }
        }
    }

    /// CRAWL_NEW_FOLDERS_ONLY: new files under a partitioned table this crawler made become
    /// new partitions of it (a plan per table); files under its unpartitioned tables are
    /// already covered. Returns the files that belong to no existing table.
    fn assign_to_existing(
        &self,
        db: &str,
        include: &S3Path,
        files: Vec<GroupFile>,
        plans: &mut Vec<TableGroup>,
    ) -> Result<Vec<GroupFile>, Failure> {
        let tables = self.crawler_tables(db)?;
        let mut rest = Vec::new();
        let mut grown: BTreeMap<String, TableGroup> = BTreeMap::new();
        for f in files {
            let url = include.url(&f.rel);
            let owner = tables.iter().find(|t| t.location().is_some_and(|l| l.ends_with('/') && url.starts_with(l)));
            let Some(table) = owner else {
                rest.push(f);
                continue;
            };
            let location = table.location().unwrap_or_default();
            let keys = &table.partition_keys;
            let mut segments: Vec<&str> = url[location.len()..].split('/').collect();
            segments.pop();
            if keys.is_empty() || segments.len() != keys.len() {
                continue;
            }
            let values: Vec<String> = segments
                .iter()
                .zip(keys)
                .map(|(s, k)| match group::hive(s) {
                    Some((name, v)) if name.eq_ignore_ascii_case(&k.name) => v.to_string(),
                    _ => (*s).to_string(),
                })
                .collect();
            let folder = folder_of(&f.rel).to_string();
            let plan = grown.entry(table.name.clone()).or_insert_with(|| TableGroup {
                name: table.name.clone(),
                root: String::new(),
                location: location.to_string(),
                partition_keys: keys.iter().map(|k| k.name.clone()).collect(),
                partitions: Vec::new(),
                schema: None,
                objects: 0,
                bytes: 0,
                sampled_bytes: 0,
                folders: Vec::new(),
            });
            let part = match plan.partitions.iter().position(|p| p.values == values) {
                Some(i) => &mut plan.partitions[i],
                None => {
                    plan.partitions.push(PartitionGroup {
                        values,
                        location: include.url(&folder),
                        folder,
                        schema: None,
                        objects: 0,
                        bytes: 0,
                        sampled_bytes: 0,
                    });
                    plan.partitions.last_mut().expect("just pushed")
                }
            };
            part.objects += 1;
            part.bytes += f.size;
            plan.objects += 1;
            plan.bytes += f.size;
            if let Some(s) = &f.schema {
                part.sampled_bytes += f.size;
                plan.sampled_bytes += f.size;
                merge_into(&mut part.schema, s);
                merge_into(&mut plan.schema, s);
            }
        }
        plans.extend(grown.into_values());
        Ok(rest)
    }

    fn parameters(&self, schema: &FileSchema, objects: u64, bytes: u64, sampled: u64) -> Parameters {
        let mut p = schema.format_parameters();
        let records = if sampled > 0 {
            (schema.record_count as f64 * bytes as f64 / sampled as f64).round() as u64
        } else {
            schema.record_count
        };
        p.insert("averageRecordSize".into(), schema.average_record_size.to_string());
        p.insert("objectCount".into(), objects.to_string());
        p.insert("recordCount".into(), records.to_string());
        p.insert("sizeKey".into(), bytes.to_string());
        p.insert("CrawlerSchemaDeserializerVersion".into(), "1.0".into());
        p.insert("CrawlerSchemaSerializerVersion".into(), "1.0".into());
        p.insert(UPDATED_BY.into(), self.crawler.name.clone());
        p
    }

    fn storage(schema: &FileSchema, columns: Vec<Column>, location: &str, parameters: Parameters) -> StorageDescriptor {
        let serde_schema = FileSchema {
            columns: columns.iter().map(|c| (c.name.clone(), GlueType::parse(c.type_name()))).collect(),
            ..schema.clone()
        };
        StorageDescriptor {
            columns,
            location: Some(location.to_string()),
            input_format: Some(schema.input_format().into()),
            output_format: Some(schema.output_format().into()),
            compressed: schema.compression != classify::Compression::None,
            number_of_buckets: -1,
            serde_info: Some(serde_schema.serde_info()),
            bucket_columns: Vec::new(),
            sort_columns: Vec::new(),
            parameters,
            stored_as_sub_directories: false,
            extra: serde_json::Map::new(),
        }
    }

    /// The table a plan describes, on top of `existing` (kept: description, owner, user
    /// parameters, partition key types) when there is one.
    fn table_for(&self, name: &str, plan: &TableGroup, schema: &FileSchema, existing: Option<&Table>) -> Table {
        let mut columns = schema.catalog_columns();
        if self.cfg.merge_new_columns
            && let Some(old) = existing
        {
            let mut merged: Vec<Column> = old.columns().to_vec();
            for c in columns {
                if !merged.iter().any(|m| m.name.eq_ignore_ascii_case(&c.name)) {
                    merged.push(c);
                }
            }
            columns = merged;
        }
        let params = self.parameters(schema, plan.objects, plan.bytes, plan.sampled_bytes);
        let sd = Self::storage(schema, columns, &plan.location, params.clone());
        let partition_keys = plan
            .partition_keys
            .iter()
            .map(|k| {
                existing
                    .and_then(|t| t.partition_keys.iter().find(|c| c.name.eq_ignore_ascii_case(k)).cloned())
                    .unwrap_or_else(|| Column::new(k.clone(), "string"))
            })
            .collect();
        let mut table = existing.cloned().unwrap_or_else(|| Table {
            owner: Some("owner".into()),
            retention: 0,
            table_type: Some("EXTERNAL_TABLE".into()),
            ..Table::default()
        });
        table.name = name.to_string();
        table.storage_descriptor = Some(sd);
        table.partition_keys = partition_keys;
        table.parameters.remove(DEPRECATED_BY);
        table.parameters.extend(params);
        table.parameters.insert("CRAWL_RUN_ID".into(), self.run_id.to_string());
        table
    }

    async fn apply(&mut self, db: &str, plan: TableGroup, incremental: bool) -> Result<(), Failure> {
        let Some(schema) = plan.schema.clone() else { return Ok(()) };
        let catalog = self.catalog().clone();
        let mut name = plan.name.clone();
        let mut existing = match catalog.get_table(db, &name) {
            Ok(t) => Some(t),
            Err(CatalogError::EntityNotFound(_)) => None,
            Err(e) => return Err(failed(e)),
        };
        if existing.as_ref().is_some_and(|t| t.location() != Some(plan.location.as_str())) {
            // the name is taken by a table of other data: Glue adds a hash of the location
            name = format!("{name}_{:08x}", group::fnv32(&plan.location));
            existing = match catalog.get_table(db, &name) {
                Ok(t) if t.location() == Some(plan.location.as_str()) => Some(t),
                Ok(_) => return Err(Failure::Failed(format!("Table names for {} are all taken.", plan.location))),
                Err(CatalogError::EntityNotFound(_)) => None,
                Err(e) => return Err(failed(e)),
            };
        }
        self.produced.insert(name.clone());
        let table = match existing {
            None => {
                let table = self.table_for(&name, &plan, &schema, None);
                match catalog.create_table(db, table.clone()).await {
                    Ok(()) => {
                        tracing::info!(crawler = %self.crawler.name, table = %name, location = %plan.location, "table created");
                        self.summary.created += 1;
                    }
                    Err(CatalogError::AlreadyExists(_)) => {}
                    Err(e) => return Err(failed(e)),
                }
                table
            }
            Some(old) if incremental => old,
            Some(old) => {
                let next = self.table_for(&name, &plan, &schema, Some(&old));
                let changed = schema_changed(&old, &next);
                let apply_change = changed && self.crawler.update_behavior() == UpdateBehavior::UpdateInDatabase;
                // data back under a deprecated table: it is current again
                let revive = !changed && old.parameters.contains_key(DEPRECATED_BY);
                if apply_change || revive {
                    catalog.update_table(db, next.clone(), false, None).await.map_err(failed)?;
                    tracing::info!(crawler = %self.crawler.name, table = %name, "table updated");
                    self.summary.updated += 1;
                    next
                } else {
                    if changed {
                        tracing::info!(crawler = %self.crawler.name, table = %name, "schema change found, not applied (UpdateBehavior LOG)");
                    }
                    old
                }
            }
        };
        self.sync_partitions(db, &name, &table, &plan, incremental).await
    }

    async fn sync_partitions(
        &mut self,
        db: &str,
        name: &str,
        table: &Table,
        plan: &TableGroup,
        incremental: bool,
    ) -> Result<(), Failure> {
        if plan.partition_keys.is_empty() {
            return Ok(());
        }
        if table.partition_keys.len() != plan.partition_keys.len() {
            tracing::info!(crawler = %self.crawler.name, table = %name, "partition keys differ from the table's; partitions not added");
            return Ok(());
        }
        let catalog = self.catalog().clone();
        let mut existing: HashMap<Vec<String>, Partition> = HashMap::new();
        let mut token: Option<String> = None;
        loop {
            let (page, next) = catalog
                .get_partitions(db, name, None, None, token.as_deref(), Some(limits::PARTITION_PAGE_MAX as i64))
                .map_err(failed)?;
            existing.extend(page.into_iter().map(|p| (p.values.clone(), p)));
            match next {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        let table_columns = table.columns().to_vec();
        let partition_of = |p: &PartitionGroup| -> Partition {
            let schema = p.schema.as_ref().or(plan.schema.as_ref()).expect("plans with partitions have a schema");
            let columns = if self.cfg.inherit_from_table { table_columns.clone() } else { schema.catalog_columns() };
            let params = self.parameters(schema, p.objects, p.bytes, p.sampled_bytes);
            Partition {
                values: p.values.clone(),
                storage_descriptor: Some(Self::storage(schema, columns, &p.location, params)),
                ..Partition::default()
            }
        };
        let new: Vec<Partition> =
            plan.partitions.iter().filter(|p| !existing.contains_key(&p.values)).map(partition_of).collect();
        for chunk in new.chunks(limits::BATCH_CREATE_PARTITIONS_MAX) {
            self.check()?;
            let errors = catalog.batch_create_partitions(db, name, chunk.to_vec()).await.map_err(failed)?;
            for (values, e) in errors.iter().filter(|(_, e)| !matches!(e, CatalogError::AlreadyExists(_))) {
                tracing::warn!(crawler = %self.crawler.name, table = %name, ?values, error = %e, "partition not created");
            }
        }
        if incremental {
            return Ok(());
        }
        if self.crawler.update_behavior() == UpdateBehavior::UpdateInDatabase {
            for p in plan.partitions.iter().filter(|p| existing.contains_key(&p.values)) {
                let old = &existing[&p.values];
                let next = partition_of(p);
                let old_columns = old.storage_descriptor.as_ref().map(|sd| sd.columns.as_slice()).unwrap_or_default();
                let new_columns = next.storage_descriptor.as_ref().map(|sd| sd.columns.as_slice()).unwrap_or_default();
                if old_columns != new_columns {
                    self.check()?;
                    catalog.update_partition(db, name, p.values.clone(), next).await.map_err(failed)?;
                }
            }
        }
        if self.crawler.delete_behavior() == DeleteBehavior::DeleteFromDatabase {
            let present: HashSet<&Vec<String>> = plan.partitions.iter().map(|p| &p.values).collect();
            let gone: Vec<Vec<String>> = existing.keys().filter(|v| !present.contains(v)).cloned().collect();
            for chunk in gone.chunks(limits::BATCH_DELETE_PARTITIONS_MAX) {
                self.check()?;
                catalog
                    .batch_delete_partitions(db, name, chunk.to_vec(), limits::BATCH_DELETE_PARTITIONS_MAX)
                    .await
                    .map_err(failed)?;
            }
        }
        Ok(())
    }

    /// Tables this crawler wrote under its targets that the crawl no longer found.
    async fn retire_missing(&mut self, db: &str, includes: &[S3Path]) -> Result<(), Failure> {
        let catalog = self.catalog().clone();
        for t in self.crawler_tables(db)? {
            if self.produced.contains(&t.name) {
                continue;
            }
            let Some(location) = t.location() else { continue };
            if !includes.iter().any(|inc| location.starts_with(&inc.url(""))) {
                continue;
            }
            self.check()?;
            match self.crawler.delete_behavior() {
                DeleteBehavior::Log => {
                    tracing::info!(crawler = %self.crawler.name, table = %t.name, "table's data is gone (DeleteBehavior LOG)");
                }
                DeleteBehavior::DeleteFromDatabase => {
                    match catalog.delete_table(db, &t.name).await {
                        Ok(()) | Err(CatalogError::EntityNotFound(_)) => {}
                        Err(e) => return Err(failed(e)),
                    }
                    self.summary.deleted += 1;
                }
                DeleteBehavior::DeprecateInDatabase => {
                    if t.parameters.contains_key(DEPRECATED_BY) {
                        continue;
                    }
                    let mut next = t.clone();
                    let stamp = now_millis().to_string();
                    next.parameters.insert(DEPRECATED_BY.into(), stamp.clone());
                    if let Some(sd) = &mut next.storage_descriptor {
                        sd.parameters.insert(DEPRECATED_BY.into(), stamp);
                    }
                    catalog.update_table(db, next, false, None).await.map_err(failed)?;
                    self.summary.deleted += 1;
                }
            }
        }
        Ok(())
    }
}

fn merge_into(slot: &mut Option<FileSchema>, s: &FileSchema) {
    match slot {
        Some(m) => m.merge(s),
        None => *slot = Some(s.clone()),
    }
}

/// Whether what a reader of the table depends on changed: columns, partition keys, formats,
/// SerDe, or the format parameters.
fn schema_changed(old: &Table, new: &Table) -> bool {
    let sd = |t: &Table| {
        t.storage_descriptor.as_ref().map(|sd| {
            (
                sd.columns.iter().map(|c| (c.name.to_lowercase(), c.type_name().to_string())).collect::<Vec<_>>(),
                sd.input_format.clone(),
                sd.output_format.clone(),
                sd.serde_info.clone(),
                sd.location.clone(),
            )
        })
    };
    let keys = |t: &Table| t.partition_keys.iter().map(|c| c.name.to_lowercase()).collect::<Vec<_>>();
    let format_keys = ["classification", "compressionType", "delimiter", "skip.header.line.count", "areColumnsQuoted"];
    let params_changed = format_keys.iter().any(|k| old.parameters.get(*k) != new.parameters.get(*k));
    sd(old) != sd(new) || keys(old) != keys(new) || params_changed
}
