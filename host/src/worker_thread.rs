//! Starting device worker threads, each confined by its own seccomp filter.

use std::sync::mpsc;
use std::thread::JoinHandle;

use seccompiler::BpfProgram;

use crate::error::{syscall, TenderError};
use crate::{cli, seccomp_rules, signals};

/// A worker thread that could not be started.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The thread could not be created.
    #[error("{name} thread: {source}")]
    Spawn {
        /// The worker's name.
        name: String,
        /// Why.
        source: std::io::Error,
    },
    /// The thread ended before it reported its filter installed.
    #[error("{name} thread did not start")]
    NotStarted {
        /// The worker's name.
        name: String,
    },
}

/// Spawns worker `name` running `work` under `filter`, and returns once the
/// thread has installed it ([`start`], then [`Starting::confined`]).
pub fn spawn(
    name: &str,
    filter: BpfProgram,
    work: impl FnOnce() -> Result<(), TenderError> + Send + 'static,
) -> Result<JoinHandle<()>, TenderError> {
    start(name, filter, work)?.confined()
}

/// A worker thread started by [`start`] that may not have installed its
/// filter yet.
#[must_use = "the worker may still run unconfined: call confined() before the guest runs"]
pub struct Starting {
    name: String,
    handle: JoinHandle<()>,
    started: mpsc::Receiver<Result<(), TenderError>>,
}

impl Starting {
    /// Waits until the thread has installed its filter (at once if it
    /// already has): the caller's own set-up meanwhile overlaps the
    /// thread's start and confinement.
    pub fn confined(self) -> Result<JoinHandle<()>, TenderError> {
        self.started
            .recv()
            .map_err(|_| Error::NotStarted { name: self.name })??;
        Ok(self.handle)
    }
}

/// Spawns worker `name` running `work` under `filter`, and returns at once;
/// [`Starting::confined`] says when the filter is in.
///
/// The thread first blocks SIGINT and SIGTERM, so that their handler runs
/// on the vCPU thread, whose filter allows what it does; then it installs
/// `filter` on itself. Thread start-up makes system calls the filter refuses
/// (glibc's stack-guard query, the signal stack), so the filter goes in at
/// the top of `work`'s thread, not before the spawn; `work` runs only after
/// it, and the caller lets the guest run only once `confined` returned, so
/// no worker runs unfiltered once the guest runs. A worker's error ends the
/// tender with status 1, as an upstream tender's fatal error does.
pub fn start(
    name: &str,
    filter: BpfProgram,
    work: impl FnOnce() -> Result<(), TenderError> + Send + 'static,
) -> Result<Starting, TenderError> {
    let (started_tx, started_rx) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let confined = confine(&filter);
            let confined_ok = confined.is_ok();
            let _ = started_tx.send(confined);
            if !confined_ok {
                return;
            }
            if let Err(err) = work() {
                eprintln!("{}: {err}", cli::program());
                std::process::exit(1);
            }
        })
        .map_err(|source| Error::Spawn {
            name: name.into(),
            source,
        })?;
    Ok(Starting {
        name: name.into(),
        handle,
        started: started_rx,
    })
}

/// Leaves SIGINT and SIGTERM to the vCPU thread and installs `filter` on
/// the calling thread.
fn confine(filter: &BpfProgram) -> Result<(), TenderError> {
    signals::route_to_other_threads().map_err(syscall("pthread_sigmask"))?;
    Ok(seccomp_rules::install_on_this_thread(filter)?)
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn spawn_failure_names_the_worker_and_keeps_the_cause() {
        let err = TenderError::from(Error::Spawn {
            name: "ring-worker".into(),
            source: std::io::Error::from_raw_os_error(libc::EAGAIN),
        });
        assert_eq!(
            err.to_string(),
            "ring-worker thread: Resource temporarily unavailable (os error 11)"
        );
        assert!(err.source().unwrap().is::<std::io::Error>());
        let err = Error::NotStarted {
            name: "ring-worker".into(),
        };
        assert_eq!(err.to_string(), "ring-worker thread did not start");
        assert!(err.source().is_none());
    }
}
