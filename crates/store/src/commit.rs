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
}

impl Committer {
    pub(crate) fn start(db: Arc<redb::Database>) -> Self {
        let (jobs, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("tarn-commit".into())
            .spawn(move || run(&db, &rx))
            .expect("spawning the commit thread");
        Self { jobs }
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

fn run(db: &redb::Database, rx: &mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH_WRITES_MAX {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(db, batch);
    }
}

fn commit_batch(db: &redb::Database, batch: Vec<Job>) {
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
    for done in completions {
        done(outcome.clone());
    }
}
