//! Writes a bulk load's pages to disk while the load goes on.
//!
//! A load in rollback-journal mode hands SQLite's pages to the kernel with
//! `pwrite` as its page cache spills; with gigabytes of RAM the kernel keeps
//! them all dirty (it starts writing back at 10% of memory, or after 30 s),
//! so the commit's `fsync` then wrote the whole file at once: ~1 s of a
//! 1M-row import's tail spent waiting on the disk with both cores idle.
//! A helper thread calls `fdatasync` on the file every few hundred
//! milliseconds instead, so the disk writes while the load computes and
//! the commit finds little left. Syncing the database file early never
//! changes what a crash leaves: SQLite writes a page to it only after the
//! journal holding the page's old content is synced, and it syncs the file
//! itself at commit as before.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the helper syncs: short enough that little is dirty at the
/// commit, long enough that each call has megabytes to write.
pub(crate) const PERIOD: Duration = Duration::from_millis(400);

/// The helper thread; dropping it stops the thread at once and joins it.
pub(crate) struct Writeback {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    syncs: Arc<AtomicU64>,
}

impl Writeback {
    /// Starts syncing the file at `path` every `period`. `None` when the file
    /// cannot be opened or the thread cannot start: the load then runs as
    /// before and the commit writes everything.
    pub(crate) fn start(path: &Path, period: Duration) -> Option<Writeback> {
        let file = match File::open(path) {
            Ok(file) => file,
            Err(e) => {
                tracing::debug!(error = %e, "no early writeback: cannot open the database file");
                return None;
            }
        };
        let (stop, stopped) = mpsc::channel::<()>();
        let syncs = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&syncs);
        let thread = std::thread::Builder::new()
            .name("leadgen-writeback".into())
            .spawn(move || {
                // Only a timeout syncs: a message or a dropped sender stops.
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(period) {
                    if let Err(e) = file.sync_data() {
                        // SQLite's own sync at commit reports what matters.
                        tracing::debug!(error = %e, "early writeback failed; stopping it");
                        return;
                    }
                    counted.fetch_add(1, Ordering::Relaxed);
                }
            })
            .ok()?;
        Some(Writeback {
            stop: Some(stop),
            thread: Some(thread),
            syncs,
        })
    }

    /// How many syncs the helper has made.
    #[cfg(test)]
    fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }
}

impl Drop for Writeback {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        tracing::debug!(
            syncs = self.syncs.load(Ordering::Relaxed),
            "early writeback stopped"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::time::Instant;

    #[test]
    fn the_helper_syncs_the_file_while_it_runs() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("db");
        let mut file = File::create(&path).expect("creating the file");
        let writeback = Writeback::start(&path, Duration::from_millis(5)).expect("starting");
        let deadline = Instant::now() + Duration::from_secs(30);
        while writeback.syncs() < 3 && Instant::now() < deadline {
            file.write_all(&[7; 4096]).expect("writing");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(writeback.syncs() >= 3, "synced {} times", writeback.syncs());
    }

    #[test]
    fn dropping_it_stops_the_helper_without_waiting_out_the_period() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("db");
        File::create(&path).expect("creating the file");
        // With a day's period, a drop that waited for the next tick would
        // hang this test; it returns at once and no sync has happened.
        let writeback = Writeback::start(&path, Duration::from_secs(86_400)).expect("starting");
        assert_eq!(writeback.syncs(), 0);
        drop(writeback);
    }

    #[test]
    fn a_missing_file_starts_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(Writeback::start(&dir.path().join("absent"), PERIOD).is_none());
    }
}
