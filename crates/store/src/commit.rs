//! Group commit: every metadata write goes through one thread that gathers whatever writes are
//! waiting, applies them in a single redb write transaction and commits it with one fsync.
//!
//! fsync costs milliseconds on these disks; while one commit is on the disk, new writes queue,
//! and the next commit takes them all. So N concurrent writers share one fsync instead of paying
//! N, and a write is acknowledged only once its batch is durable.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::mpsc;

use tokio::sync::oneshot;

use crate::StoreError;

/// Largest number of writes applied in one transaction.
const BATCH_WRITES_MAX: usize = 4096;

type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;
type Job = Box<dyn FnOnce(&redb::WriteTransaction) -> (bool, Completion) + Send>;

/// Handle to the group-commit thread.
#[derive(Clone)]
pub struct Committer {
    jobs: mpsc::Sender<Job>,
    stats: Arc<CommitStats>,
    thread: Arc<std::sync::Mutex<Option<std::thread::JoinHandle<()>>>>,
}

/// Counters of the group-commit thread: how many transactions carried how many writes.
#[derive(Default, Debug)]
pub struct CommitStats {
    /// Transactions committed (one fsync each).
    pub commits: std::sync::atomic::AtomicU64,
    /// Writes those transactions carried.
    pub writes: std::sync::atomic::AtomicU64,
}

impl Committer {
    pub(crate) fn start(db: Arc<redb::Database>) -> Self {
        let (jobs, rx) = mpsc::channel::<Job>();
        let stats = Arc::new(CommitStats::default());
        let thread_stats = stats.clone();
        let thread = std::thread::Builder::new()
            .name("tarn-commit".into())
            .spawn(move || run(&db, &rx, &thread_stats))
            .expect("spawning the commit thread");
        Self { jobs, stats, thread: Arc::new(std::sync::Mutex::new(Some(thread))) }
    }

    /// Stops taking jobs and waits until the commit thread has finished the queued ones and
    /// released the database, so the data dir can be opened again in this process.
    pub(crate) fn shutdown(&mut self) {
        let (closed, _) = mpsc::channel();
        drop(std::mem::replace(&mut self.jobs, closed));
        let handle = self.thread.lock().map(|mut t| t.take()).unwrap_or(None);
        if let Some(handle) = handle
            && handle.thread().id() != std::thread::current().id()
        {
            let _ = handle.join();
        }
    }

    /// (transactions committed, writes committed) since start.
    #[must_use]
    pub fn stats(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.stats.commits.load(Relaxed), self.stats.writes.load(Relaxed))
    }

    pub(crate) async fn submit<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&redb::WriteTransaction) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |txn| {
            let result = f(txn);
            let abort = result.is_err();
            let done: Completion = Box::new(move |commit: Result<(), String>| {
                let out = match (commit, result) {
                    (_, Err(err)) => Err(err),
                    (Err(err), Ok(_)) => Err(StoreError::Aborted(err)),
                    (Ok(()), Ok(value)) => Ok(value),
                };
                let _ = tx.send(out);
            });
            (abort, done)
        });
        self.jobs.send(job).map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}

fn run(db: &redb::Database, rx: &mpsc::Receiver<Job>, stats: &CommitStats) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH_WRITES_MAX {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(db, batch, stats);
    }
}

/// Applies and commits one batch. The counters move before any writer hears back, so a
/// client that reads the metrics after its write was acknowledged sees that write counted.
fn commit_batch(db: &redb::Database, batch: Vec<Job>, stats: &CommitStats) {
    let size = batch.len();
    let txn = match db.begin_write() {
        Ok(txn) => txn,
        Err(err) => {
            // dropping the jobs unblocks their callers with an error
            tracing::error!(%err, size, "cannot begin write transaction");
            drop(batch);
            return;
        }
    };
    let mut completions = Vec::with_capacity(size);
    let mut abort_reason = None;
    for job in batch {
        match std::panic::catch_unwind(AssertUnwindSafe(|| job(&txn))) {
            Ok((abort, done)) => {
                if abort && abort_reason.is_none() {
                    abort_reason = Some("another write in the same batch failed".to_string());
                }
                completions.push(done);
            }
            Err(_) => {
                abort_reason = Some("a write in the batch panicked (a bug)".to_string());
            }
        }
    }
    let outcome = match abort_reason {
        Some(reason) => {
            let _ = txn.abort();
            tracing::error!(%reason, size, "write batch aborted");
            Err(reason)
        }
        None => txn.commit().map_err(|err| {
            tracing::error!(%err, size, "write batch commit failed");
            err.to_string()
        }),
    };
    if outcome.is_ok() {
        stats.commits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        stats.writes.fetch_add(size as u64, std::sync::atomic::Ordering::Relaxed);
    }
    for done in completions {
        done(outcome.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes that arrive while a commit is on the disk are applied together in the next one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn waiting_writes_share_one_commit() {
        const TABLE: redb::TableDefinition<u64, u64> = redb::TableDefinition::new("t");
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(redb::Database::create(dir.path().join("db")).unwrap());
        let committer = Committer::start(db.clone());
        // the first write holds the commit thread long enough for the others to queue
        let gate = committer.clone();
        let first = tokio::spawn(async move {
            gate.submit(|txn| {
                std::thread::sleep(std::time::Duration::from_millis(200));
                txn.open_table(TABLE)?.insert(0, 0)?;
                Ok(())
            })
            .await
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let mut waiting = Vec::new();
        for i in 1..=50u64 {
            let c = committer.clone();
            waiting.push(tokio::spawn(async move {
                c.submit(move |txn| {
                    txn.open_table(TABLE)?.insert(i, i * 10)?;
                    Ok(i)
                })
                .await
            }));
        }
        first.await.unwrap().unwrap();
        for (i, w) in waiting.into_iter().enumerate() {
            assert_eq!(w.await.unwrap().unwrap(), i as u64 + 1);
        }
        let (commits, writes) = committer.stats();
        assert_eq!(writes, 51);
        assert!(commits <= 3, "50 queued writes should share a commit, took {commits}");
        use redb::ReadableDatabase as _;
        let table = db.begin_read().unwrap().open_table(TABLE).unwrap();
        assert_eq!(table.get(50).unwrap().unwrap().value(), 500);
    }

    /// A write whose closure fails aborts its batch; nothing of the batch is visible.
    #[tokio::test]
    async fn a_failed_write_aborts_nothing_else_later() {
        const TABLE: redb::TableDefinition<u64, u64> = redb::TableDefinition::new("t");
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(redb::Database::create(dir.path().join("db")).unwrap());
        let committer = Committer::start(db.clone());
        let failed =
            committer.submit(|_txn| -> Result<(), StoreError> { Err(StoreError::Bug("injected".into())) }).await;
        assert!(matches!(failed, Err(StoreError::Bug(_))));
        committer
            .submit(|txn| {
                txn.open_table(TABLE)?.insert(1, 1)?;
                Ok(())
            })
            .await
            .unwrap();
        use redb::ReadableDatabase as _;
        assert_eq!(db.begin_read().unwrap().open_table(TABLE).unwrap().get(1).unwrap().unwrap().value(), 1);
    }
}
