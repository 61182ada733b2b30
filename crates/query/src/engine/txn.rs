//! A PostgreSQL session's writes: the undo journal of its open transaction block, its
//! savepoints, and its temporary tables (see docs/architecture.md, "Writes in a transaction
//! block").
//!
//! A write statement inside a block records how to take itself back ([`Undo`]) in a journal
//! file, fsync'd before the write is done; ROLLBACK replays the records newest first, COMMIT
//! forgets them (after a `commit` line is on disk) and deletes what a dropped managed table left
//! behind. At start, [`Engine::recover_journals`] rolls back the blocks a killed server left open.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use futures::TryStreamExt;
use object_store::{ObjectStore, ObjectStoreExt};
use serde::{Deserialize, Serialize};
use tarn_catalog::{Database, Partition, Table};

use crate::engine::Engine;
use crate::engine::store::WriteJournal;
use crate::{QueryError, Result};

/// Marks a table whose files tarn placed (no LOCATION given): DROP deletes them.
pub const MANAGED: &str = "tarn:managed";
/// Marks a temporary table, with the id of the session that owns it.
pub const TEMPORARY: &str = "tarn:temporary";

/// How to take back one write of a transaction block. Each is safe to run whether or not its
/// write happened, and to run twice (a crash can stop a rollback halfway).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Undo {
    /// A relation is being made: drop it (a managed table with its files) if it exists and was
    /// made at or after the record.
    Created { db: String, name: String },
    /// A relation is being dropped or replaced: put back this definition, with its partitions.
    Replaced { db: String, table: Box<Table>, partitions: Vec<Partition> },
    /// A relation is being renamed: rename it back if the new name exists and the old does not.
    Renamed { db: String, from: String, to: String },
    /// Objects are being written (INSERT, COPY, CTAS): delete them.
    Added { bucket: String, keys: Vec<String> },
    /// A schema (Glue database) is being made: drop it if it was made at or after the record.
    SchemaCreated { name: String },
}

/// One journalled write.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Record {
    undo: Undo,
    /// When the record was written (Unix milliseconds): a relation or schema made at or after
    /// it is the block's.
    since: u64,
    /// A folder to empty at COMMIT (a managed table dropped or truncated in the block).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    at_commit: Option<String>,
}

/// One line of a journal file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Line {
    Undo(Record),
    /// The last record's statement failed before it changed anything.
    Forget,
    /// A ROLLBACK TO took back the records past `len`.
    Truncate {
        len: usize,
    },
    /// COMMIT: the block's writes stay.
    Commit,
}

/// A block's journal file.
#[derive(Debug)]
struct JournalFile {
    path: PathBuf,
    file: std::fs::File,
}

#[derive(Debug, Default)]
struct State {
    /// The open block's undo records, oldest first; `None` outside a block.
    block: Option<Vec<Record>>,
    /// The open block's journal file, made at its first record.
    file: Option<JournalFile>,
    /// Blocks this session has begun (each journal file is named by one).
    blocks: u64,
    /// Savepoints of the open block: name and the journal's length when it was set.
    savepoints: Vec<(String, usize)>,
    /// Temporary tables: (database, name).
    temporary: Vec<(String, String)>,
}

/// One PostgreSQL session's transactional state.
#[derive(Debug)]
pub struct PgSession {
    id: String,
    /// The connection's database (the first part of PostgreSQL's three-part names).
    database: String,
    /// Where its blocks' journals are written.
    journal_dir: PathBuf,
    state: Mutex<State>,
}

fn now_ms() -> u64 {
    u64::try_from(tarn_common::now_unix_nanos() / 1_000_000).unwrap_or(u64::MAX)
}

fn io_error(path: &Path, e: &std::io::Error) -> QueryError {
    QueryError::Internal(format!("transaction journal {}: {e}", path.display()))
}

impl PgSession {
    #[must_use]
    pub fn new(id: String, database: &str, journal_dir: PathBuf) -> Arc<Self> {
        Arc::new(Self { id, database: database.to_lowercase(), journal_dir, state: Mutex::default() })
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
            s.blocks += 1;
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

    /// Appends a line to the open block's journal, on disk before this returns.
    fn append(&self, s: &mut State, line: &Line) -> Result<()> {
        if s.file.is_none() {
            let path = self.journal_dir.join(format!("{}-{}.log", self.id, s.blocks));
            std::fs::create_dir_all(&self.journal_dir).map_err(|e| io_error(&self.journal_dir, &e))?;
            let file =
                std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(|e| io_error(&path, &e))?;
            // the file's name must be on disk too, or a crash could lose the whole journal
            std::fs::File::open(&self.journal_dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| io_error(&self.journal_dir, &e))?;
            s.file = Some(JournalFile { path, file });
        }
        let Some(journal) = s.file.as_mut() else { return Ok(()) };
        let mut bytes = serde_json::to_vec(line).map_err(|e| QueryError::Internal(e.to_string()))?;
        bytes.push(b'\n');
        journal.file.write_all(&bytes).and_then(|()| journal.file.sync_data()).map_err(|e| io_error(&journal.path, &e))
    }

    /// Journals `undo` before its write is done (nothing outside a block).
    fn push(&self, undo: Undo, at_commit: Option<String>) -> Result<()> {
        let mut s = self.state();
        if s.block.is_none() {
            return Ok(());
        }
        let record = Record { undo, since: now_ms(), at_commit };
        let line = Line::Undo(record);
        self.append(&mut s, &line)?;
        let Line::Undo(record) = line else { unreachable!("built above") };
        if let Some(block) = s.block.as_mut() {
            block.push(record);
        }
        Ok(())
    }

    /// [`Self::push`] off the async workers (it waits for the disk).
    pub(crate) async fn write_ahead(self: &Arc<Self>, undo: Undo, at_commit: Option<String>) -> Result<()> {
        if !self.in_block() {
            return Ok(());
        }
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.push(undo, at_commit))
            .await
            .map_err(|e| QueryError::Internal(e.to_string()))?
    }

    /// The statement of the newest record failed before it changed anything: the record goes.
    pub(crate) fn forget(&self) -> Result<()> {
        let mut s = self.state();
        if s.block.as_ref().is_none_or(Vec::is_empty) {
            return Ok(());
        }
        self.append(&mut s, &Line::Forget)?;
        if let Some(block) = s.block.as_mut() {
            block.pop();
        }
        Ok(())
    }

    pub(crate) fn add_temporary(&self, db: &str, name: &str) {
        self.state().temporary.push((db.to_string(), name.to_string()));
    }

    pub(crate) fn forget_temporary(&self, db: &str, name: &str) {
        self.state().temporary.retain(|(d, n)| !(d == db && n == name));
    }

    /// The records to undo back to `len`, newest first; they stay journalled until
    /// [`Self::truncated`] says they were undone.
    fn records_after(&self, len: usize) -> Vec<(Undo, u64)> {
        let s = self.state();
        let Some(block) = s.block.as_ref() else { return Vec::new() };
        block.iter().skip(len).rev().map(|r| (r.undo.clone(), r.since)).collect()
    }

    /// The records past `len` were undone.
    fn truncated(&self, len: usize) -> Result<()> {
        let mut s = self.state();
        let Some(block) = s.block.as_ref() else { return Ok(()) };
        if block.len() <= len {
            return Ok(());
        }
        if s.file.is_some() {
            self.append(&mut s, &Line::Truncate { len })?;
        }
        if let Some(block) = s.block.as_mut() {
            block.truncate(len);
        }
        Ok(())
    }

    /// The block ends: its journal file goes (after `last` is on disk, when given).
    fn end_block(&self, last: Option<&Line>) -> Result<Vec<String>> {
        let mut s = self.state();
        if let (Some(line), true) = (last, s.file.is_some()) {
            self.append(&mut s, line)?;
        }
        let at_commit = s.block.take().unwrap_or_default().into_iter().filter_map(|r| r.at_commit).collect();
        s.savepoints.clear();
        if let Some(journal) = s.file.take() {
            drop(journal.file);
            std::fs::remove_file(&journal.path).map_err(|e| io_error(&journal.path, &e))?;
        }
        Ok(at_commit)
    }
}

/// The session of a statement's object-store writes: each object is journalled before it is
/// written.
#[async_trait::async_trait]
impl WriteJournal for Arc<PgSession> {
    async fn will_write(&self, bucket: &str, key: &str) -> std::result::Result<(), String> {
        self.write_ahead(Undo::Added { bucket: bucket.to_string(), keys: vec![key.to_string()] }, None)
            .await
            .map_err(|e| e.to_string())
    }
}

/// A journal file read back: its records in force, and whether it reached COMMIT.
fn replay(path: &Path) -> Result<(Vec<Record>, bool)> {
    let file = std::fs::File::open(path).map_err(|e| io_error(path, &e))?;
    let mut records = Vec::new();
    let mut committed = false;
    for line in std::io::BufReader::new(file).split(b'\n') {
        let line = line.map_err(|e| io_error(path, &e))?;
        // a torn last line: the crash hit its append, so its write had not begun
        let Ok(line) = serde_json::from_slice::<Line>(&line) else { break };
        match line {
            Line::Undo(r) => records.push(r),
            Line::Forget => {
                records.pop();
            }
            Line::Truncate { len } => records.truncate(len),
            Line::Commit => committed = true,
        }
    }
    Ok((records, committed))
}

tokio::task_local! {
    /// The PostgreSQL session of the current task's statements (see [`Engine::in_session`]).
    static SESSION: Arc<PgSession>;
}

/// The current task's PostgreSQL session, if any.
pub(crate) fn current() -> Option<Arc<PgSession>> {
    SESSION.try_with(Clone::clone).ok()
}

/// The current task's session while it has a block open: its statements' object writes are
/// journalled (see [`WriteJournal`]).
pub(crate) fn open_journal() -> Option<Arc<dyn WriteJournal>> {
    current().filter(|s| s.in_block()).map(|s| Arc::new(s) as Arc<dyn WriteJournal>)
}

impl Engine {
    /// Runs `f` (statements of this engine) in the PostgreSQL session `session`: their writes
    /// are journalled while it has a block open, their temporary tables are its.
    pub async fn in_session<F: std::future::Future>(session: Arc<PgSession>, f: F) -> F::Output {
        SESSION.scope(session, f).await
    }

    /// COMMIT: the block's writes stay (a `commit` line on disk before this returns); dropped
    /// managed tables' files go.
    pub async fn commit(&self, session: &PgSession) -> Result<()> {
        for location in session.end_block(Some(&Line::Commit))? {
            self.delete_files(&location).await?;
        }
        Ok(())
    }

    /// ROLLBACK: the block's writes are taken back, newest first, and the block ends. If the
    /// undo fails, the journal file stays for the next start to finish.
    pub async fn rollback(&self, session: &PgSession) -> Result<()> {
        let undone = self.undo_records(session.records_after(0)).await;
        if undone.is_err() {
            let mut s = session.state();
            s.block = None;
            s.savepoints.clear();
            s.file = None;
            return undone;
        }
        session.end_block(None)?;
        Ok(())
    }

    /// ROLLBACK TO the savepoint at `position`: the writes since it are taken back; it stays.
    pub async fn rollback_to(&self, session: &PgSession, position: usize) -> Result<()> {
        let len = {
            let mut s = session.state();
            s.savepoints.truncate(position + 1);
            s.savepoints.get(position).map_or(0, |(_, len)| *len)
        };
        self.undo_records(session.records_after(len)).await?;
        session.truncated(len)
    }

    /// Runs `write` (a catalog change), journalled first as `undo` when inside a block (with a
    /// folder to empty at COMMIT); a write that fails takes its record back. The outer error is
    /// the journal's.
    pub(crate) async fn journalled<T, E>(
        &self,
        undo: Undo,
        at_commit: Option<String>,
        write: impl Future<Output = std::result::Result<T, E>>,
    ) -> Result<std::result::Result<T, E>> {
        let Some(session) = current().filter(|s| s.in_block()) else { return Ok(write.await) };
        session.write_ahead(undo, at_commit).await?;
        let out = write.await;
        if out.is_err() {
            session.forget()?;
        }
        Ok(out)
    }

    /// Where PostgreSQL sessions write their blocks' journals.
    #[must_use]
    pub fn journal_dir(&self) -> PathBuf {
        self.objects.store().root().join("pg-journal")
    }

    /// At start, before sessions are served: the journals of blocks a killed server left are
    /// finished — rolled back, or for a block that reached COMMIT, its folders emptied. Returns
    /// how many blocks were rolled back.
    pub async fn recover_journals(&self) -> Result<usize> {
        let dir = self.journal_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(io_error(&dir, &e)),
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "log"))
            .collect();
        paths.sort();
        let mut rolled_back = 0;
        for path in paths {
            let (records, committed) = replay(&path)?;
            let finished = if committed {
                let mut done = Ok(());
                for location in records.into_iter().filter_map(|r| r.at_commit) {
                    done = done.and(self.delete_files(&location).await);
                }
                done
            } else {
                tracing::info!(journal = %path.display(), records = records.len(), "rolling back a transaction block a stopped server left open");
                rolled_back += 1;
                self.undo_records(records.into_iter().rev().map(|r| (r.undo, r.since)).collect()).await
            };
            match finished {
                Ok(()) => std::fs::remove_file(&path).map_err(|e| io_error(&path, &e))?,
                // kept aside for a person to look at; the server still starts
                Err(e) => {
                    tracing::error!(journal = %path.display(), error = %e, "a transaction block left open could not be rolled back whole; its journal is kept as .failed");
                    std::fs::rename(&path, path.with_extension("failed")).map_err(|e| io_error(&path, &e))?;
                }
            }
        }
        Ok(rolled_back)
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

    /// Takes back journalled writes, in the order given (newest first); each `(undo, since)`.
    /// A record that cannot be undone does not stop the others; the first error is returned.
    async fn undo_records(&self, records: Vec<(Undo, u64)>) -> Result<()> {
        let mut first_error = None;
        for (record, since) in records {
            if let Err(e) = self.undo_one(record, since).await {
                tracing::warn!(error = %e, "undoing a write of a transaction block failed");
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    async fn undo_one(&self, record: Undo, since: u64) -> Result<()> {
        let c = &self.catalog;
        // CreateTime is in seconds with milliseconds
        let made_since = |create_time: Option<f64>| create_time.is_some_and(|t| (t * 1000.0).round() >= since as f64);
        match record {
            Undo::Created { db, name } => match c.get_table(&db, &name) {
                Ok(t) if made_since(t.create_time) => self.drop_relation(&db, &name).await?,
                _ => {}
            },
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
            Undo::Renamed { db, from, to } => {
                if c.get_table(&db, &to).is_ok() && c.get_table(&db, &from).is_err() {
                    c.rename_table(&db, &to, &from).await?;
                }
            }
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
            Undo::SchemaCreated { name } => match c.get_database(&name) {
                Ok(d) if made_since(d.create_time) => match c.delete_database(&name).await {
                    Ok(()) | Err(tarn_catalog::CatalogError::EntityNotFound(_)) => {}
                    Err(e) => return Err(e.into()),
                },
                _ => {}
            },
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

#[cfg(test)]
mod tests {
    use super::*;

    fn created(name: &str) -> Line {
        Line::Undo(Record { undo: Undo::Created { db: "d".into(), name: name.into() }, since: 1, at_commit: None })
    }

    fn names(records: &[Record]) -> Vec<String> {
        records
            .iter()
            .map(|r| match &r.undo {
                Undo::Created { name, .. } => name.clone(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    fn write(lines: &[Line], tail: &[u8]) -> tempfile::TempPath {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        for line in lines {
            serde_json::to_writer(&mut file, line).unwrap();
            file.write_all(b"\n").unwrap();
        }
        file.write_all(tail).unwrap();
        file.into_temp_path()
    }

    #[test]
    fn replay_applies_forget_and_truncate_and_ignores_a_torn_last_line() {
        let lines = [created("a"), created("b"), Line::Forget, created("c"), created("d"), Line::Truncate { len: 2 }];
        let path = write(&lines, br#"{"op":"undo","undo":{"kind":"crea"#);
        let (records, committed) = replay(&path).unwrap();
        assert_eq!(names(&records), ["a", "c"]);
        assert!(!committed);

        let path = write(&[created("a"), Line::Commit], b"");
        let (records, committed) = replay(&path).unwrap();
        assert_eq!(names(&records), ["a"]);
        assert!(committed);
    }

    #[test]
    fn a_session_journals_only_inside_a_block_and_removes_the_file_when_it_ends() {
        let dir = tempfile::tempdir().unwrap();
        let session = PgSession::new("s1".into(), "default", dir.path().to_path_buf());
        session.push(Undo::SchemaCreated { name: "x".into() }, None).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).map(Iterator::count).unwrap_or(0), 0, "no block, no journal");
        session.begin();
        session.push(Undo::Created { db: "d".into(), name: "t".into() }, Some("s3://b/t/".into())).unwrap();
        session.push(Undo::Created { db: "d".into(), name: "u".into() }, None).unwrap();
        session.forget().unwrap();
        let path = dir.path().join("s1-1.log");
        let (records, _) = replay(&path).unwrap();
        assert_eq!(names(&records), ["t"]);
        assert_eq!(records[0].at_commit.as_deref(), Some("s3://b/t/"));
        let at_commit = session.end_block(Some(&Line::Commit)).unwrap();
        assert_eq!(at_commit, ["s3://b/t/"]);
        assert!(!path.exists());
        // the next block writes a journal of its own
        session.begin();
        session.push(Undo::SchemaCreated { name: "y".into() }, None).unwrap();
        assert!(dir.path().join("s1-2.log").exists());
    }
}
