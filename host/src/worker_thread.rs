//! Starting device worker threads.

use std::sync::mpsc;
use std::thread::JoinHandle;

use crate::cli;
use crate::error::TenderError;

/// Spawns worker `name` running `work`, and returns once the thread runs.
///
/// Thread start-up makes system calls the seccomp filter refuses (glibc's
/// stack-guard query, the signal stack), so every worker must be running
/// before the filter goes in. A worker's error ends the tender with status 1,
/// as an upstream tender's fatal error does.
pub fn spawn(
    name: &str,
    work: impl FnOnce() -> Result<(), TenderError> + Send + 'static,
) -> Result<JoinHandle<()>, TenderError> {
    let (started_tx, started_rx) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let _ = started_tx.send(());
            if let Err(err) = work() {
                eprintln!("{}: {err}", cli::program());
                std::process::exit(1);
            }
        })
        .map_err(|e| TenderError::Setup(format!("{name} thread: {e}")))?;
    started_rx
        .recv()
        .map_err(|_| TenderError::Setup(format!("{name} thread did not start")))?;
    Ok(handle)
}
