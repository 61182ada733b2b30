//! A PostgreSQL session's writes: the undo journal of its open transaction block, its
//! savepoints, and its temporary tables (see docs/architecture.md, "Writes in a transaction
//! block").
//!
//! A write statement inside a block runs when it is sent and records how to take itself back
//! ([`Undo`]); ROLLBACK replays the records newest first, COMMIT forgets them and deletes what a
//! dropped managed table left behind.

use std::sync::{Arc, Mutex, PoisonError};

use futures::TryStreamExt;
use object_store::{ObjectStore, ObjectStoreExt};
use serde::{Deserialize, Serialize};
use tarn_catalog::{Database, Partition, Table};

use crate::engine::Engine;
use crate::{QueryError, Result};

/// Marks a table whose files tarn placed (no LOCATION given): DROP deletes them.
pub const MANAGED: &str = "tarn:managed";
/// Marks a temporary table, with the id of the session that owns it.
pub const TEMPORARY: &str = "tarn:temporary";

/// How to take back one write of a transaction block.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "undo", rename_all = "snake_case")]
pub enum Undo {
    /// A relation was made: drop it (a managed table with its files).
    Created { db: String, name: String },
    /// A relation was dropped or replaced: put back this definition, with its partitions.
    Replaced { db: String, table: Box<Table>, partitions: Vec<Partition> },
    /// A relation was renamed: rename it back.
    Renamed { db: String, from: String, to: String },
    /// Objects were written (INSERT, COPY): delete them.
    Added { bucket: String, keys: Vec<String> },
    /// A schema (Glue database) was made: drop it.
    SchemaCreated { name: String },
}

#[derive(Debug, Default)]
struct State {
    /// The open block's undo records, oldest first; `None` outside a block.
    block: Option<Vec<Undo>>,
    /// Savepoints of the open block: name and the journal's length when it was set.
    savepoints: Vec<(String, usize)>,
    /// Locations to empty at COMMIT (managed tables dropped in the block), each with the
    /// journal's length when recorded (a rollback past it forgets it).
    on_commit: Vec<(usize, String)>,
    /// Temporary tables: (database, name).
    temporary: Vec<(String, String)>,
}

/// One PostgreSQL session's transactional state.
#[derive(Debug)]
pub struct PgSession {
    id: String,
    /// The connection's database (the first part of PostgreSQL's three-part names).
    database: String,
    state: Mutex<State>,
}

impl PgSession {
    #[must_use]
    pub fn new(id: String, database: &str) -> Arc<Self> {
        Arc::new(Self { id, database: database.to_lowercase(), state: Mutex::default() })
    }

    /// The connection's database.
    #[must_use]
    pub fn database(&self) -> &str {
        &self.database
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The session's id, as its temporary tables carry it.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// BEGIN: a journal starts (a BEGIN inside a block keeps the open one).
    pub fn begin(&self) {
        let mut s = self.state();
        if s.block.is_none() {
            s.block = Some(Vec::new());
        }
    }

    #[must_use]
    pub fn in_block(&self) -> bool {
        self.state().block.is_some()
    }

    /// SAVEPOINT name.
    pub fn savepoint(&self, name: &str) {
        let mut s = self.state();
        let len = s.block.as_ref().map_or(0, Vec::len);
        s.savepoints.push((name.to_string(), len));
    }

    /// The newest savepoint of that name, as PostgreSQL finds it.
    #[must_use]
    pub fn savepoint_position(&self, name: &str) -> Option<usize> {
        self.state().savepoints.iter().rposition(|(n, _)| n == name)
    }

    /// RELEASE name: the savepoint and those after it go; their writes stay in the block.
    pub fn release(&self, position: usize) {
        self.state().savepoints.truncate(position);
    }

    pub(crate) fn record(&self, undo: Undo) {
        if let Some(block) = self.state().block.as_mut() {
            block.push(undo);
        }
    }

    pub(crate) fn delete_at_commit(&self, location: String) -> bool {
        let mut s = self.state();
        let Some(len) = s.block.as_ref().map(Vec::len) else { return false };
        s.on_commit.push((len, location));
        true
    }

    pub(crate) fn add_temporary(&self, db: &str, name: &str) {
        self.state().temporary.push((db.to_string(), name.to_string()));
    }

    pub(crate) fn forget_temporary(&self, db: &str, name: &str) {
        self.state().temporary.retain(|(d, n)| !(d == db && n == name));
    }

    /// The records to undo back to `len`, newest first; the block stays open.
    fn take_back_to(&self, len: usize) -> Vec<Undo> {
        let mut s = self.state();
        s.on_commit.retain(|(at, _)| *at < len);
        let Some(block) = s.block.as_mut() else { return Vec::new() };
        let mut undo = block.split_off(len.min(block.len()));
        undo.reverse();
        undo
    }
}

tokio::task_local! {
    /// The PostgreSQL session of the current task's statements (see [`Engine::in_session`]).
    static SESSION: Arc<PgSession>;
}

/// The current task's PostgreSQL session, if any.
pub(crate) fn current() -> Option<Arc<PgSession>> {
    SESSION.try_with(Clone::clone).ok()
}

impl Engine {
    /// Runs `f` (statements of this engine) in the PostgreSQL session `session`: their writes
    /// are journalled while it has a block open, their temporary tables are its.
    pub async fn in_session<F: std::future::Future>(session: Arc<PgSession>, f: F) -> F::Output {
        SESSION.scope(session, f).await
    }

    /// COMMIT: the block's writes stay; dropped managed tables' files go.
    pub async fn commit(&self, session: &PgSession) -> Result<()> {
        let on_commit = {
            let mut s = session.state();
            s.block = None;
            s.savepoints.clear();
            std::mem::take(&mut s.on_commit)
        };
        for (_, location) in on_commit {
            self.delete_files(&location).await?;
        }
        Ok(())
    }

    /// ROLLBACK: the block's writes are taken back, newest first, and the block ends.
    pub async fn rollback(&self, session: &PgSession) -> Result<()> {
        let undo = session.take_back_to(0);
        {
            let mut s = session.state();
            s.block = None;
            s.savepoints.clear();
        }
        self.undo(undo).await
    }

    /// ROLLBACK TO the savepoint at `position`: the writes since it are taken back; it stays.
    pub async fn rollback_to(&self, session: &PgSession, position: usize) -> Result<()> {
        let len = {
            let mut s = session.state();
            s.savepoints.truncate(position + 1);
            s.savepoints.get(position).map_or(0, |(_, len)| *len)
        };
        self.undo(session.take_back_to(len)).await
    }

    /// The session ends: an open block rolls back, its temporary tables are dropped.
    pub async fn end_session(&self, session: &PgSession) {
        if session.in_block()
            && let Err(e) = self.rollback(session).await
        {
            tracing::warn!(error = %e, session = session.id(), "postgres wire: rolling back an ended session's block failed");
        }
        let temporary = std::mem::take(&mut session.state().temporary);
        for (db, name) in temporary {
            if let Err(e) = self.drop_relation(&db, &name).await {
                tracing::warn!(error = %e, db, name, "postgres wire: dropping a temporary table failed");
            }
        }
    }

    /// At start: drops the temporary tables of sessions a stopped server left behind.
    pub async fn drop_leftover_temporaries(&self) -> Result<usize> {
        let mut dropped = 0;
        for db in self.all_databases()? {
            let mut token = None;
            loop {
                let (page, next) = self.catalog.get_tables(&db.name, None, token.as_deref(), None)?;
                for t in page.iter().filter(|t| t.parameters.contains_key(TEMPORARY)) {
                    self.drop_relation(&db.name, &t.name).await?;
                    dropped += 1;
                }
                match next {
                    Some(t) => token = Some(t),
                    None => break,
                }
            }
        }
        Ok(dropped)
    }

    fn all_databases(&self) -> Result<Vec<Database>> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let (page, next) = self.catalog.get_databases(token.as_deref(), None)?;
            out.extend(page);
            match next {
                Some(t) => token = Some(t),
                None => return Ok(out),
            }
        }
    }

    /// Drops a relation now, a managed table with its files.
    pub(crate) async fn drop_relation(&self, db: &str, name: &str) -> Result<()> {
        let table = match self.catalog.get_table(db, name) {
            Ok(t) => t,
            Err(tarn_catalog::CatalogError::EntityNotFound(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        self.catalog.delete_table(db, name).await?;
        if table.parameters.contains_key(MANAGED)
            && let Some(location) = table.location()
        {
            self.delete_files(location).await?;
        }
        Ok(())
    }

    /// Deletes every object under a location (`s3://bucket/prefix/`), as the caller.
    pub(crate) async fn delete_files(&self, location: &str) -> Result<()> {
        let (bucket, prefix) = split_location(location)?;
        let store = self.caller_registry().bucket(&bucket);
        let keys: Vec<object_store::path::Path> = store
            .list(Some(&crate::engine::store::path_of(&prefix)))
            .map_ok(|m| m.location)
            .try_collect()
            .await
            .map_err(|e| QueryError::Data(e.to_string()))?;
        for key in keys {
            store.delete(&key).await.map_err(|e| QueryError::Data(e.to_string()))?;
        }
        Ok(())
    }

    async fn undo(&self, records: Vec<Undo>) -> Result<()> {
        let c = &self.catalog;
        for record in records {
            match record {
                Undo::Created { db, name } => self.drop_relation(&db, &name).await?,
                Undo::Replaced { db, table, partitions } => {
                    let name = table.name.clone();
                    match c.get_table(&db, &name) {
                        Ok(_) => c.update_table(&db, *table, true, None).await?,
                        Err(_) => {
                            c.create_table(&db, *table).await?;
                            for chunk in partitions.chunks(tarn_common::limits::glue::BATCH_CREATE_PARTITIONS_MAX) {
                                c.batch_create_partitions(&db, &name, chunk.to_vec()).await?;
                            }
                        }
                    }
                }
                Undo::Renamed { db, from, to } => c.rename_table(&db, &to, &from).await?,
                Undo::Added { bucket, keys } => {
                    let store = self.caller_registry().bucket(&bucket);
                    for key in keys {
                        let path =
                            object_store::path::Path::parse(&key).map_err(|e| QueryError::Internal(e.to_string()))?;
                        match store.delete(&path).await {
                            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                            Err(e) => return Err(QueryError::Data(e.to_string())),
                        }
                    }
                }
                Undo::SchemaCreated { name } => match c.delete_database(&name).await {
                    Ok(()) | Err(tarn_catalog::CatalogError::EntityNotFound(_)) => {}
                    Err(e) => return Err(e.into()),
                },
            }
        }
        Ok(())
    }
}

/// `s3://bucket/prefix` (or `s3a://`) as (bucket, prefix).
pub(crate) fn split_location(url: &str) -> Result<(String, String)> {
    let rest = url
        .strip_prefix("s3://")
        .or_else(|| url.strip_prefix("s3a://"))
        .ok_or_else(|| QueryError::User(format!("'{url}' is not an s3:// location")))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    Ok((bucket.to_string(), prefix.to_string()))
}
