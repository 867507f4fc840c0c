//! Starting device worker threads, each confined by its own seccomp filter.

use std::sync::mpsc;
use std::thread::JoinHandle;

use seccompiler::BpfProgram;

use crate::error::TenderError;
use crate::{cli, seccomp_rules, signals};

/// Spawns worker `name` running `work` under `filter`, and returns once the
/// thread has installed it.
///
/// The thread first blocks SIGINT and SIGTERM, so that their handler runs
/// on the vCPU thread, whose filter allows what it does; then it installs
/// `filter` on itself. Thread start-up makes system calls the filter refuses
/// (glibc's stack-guard query, the signal stack), so the filter goes in at
/// the top of `work`'s thread, not before the spawn; and since this returns
/// only after, no worker runs unfiltered once the guest runs. A worker's
/// error ends the tender with status 1, as an upstream tender's fatal error
/// does.
pub fn spawn(
    name: &str,
    filter: BpfProgram,
    work: impl FnOnce() -> Result<(), TenderError> + Send + 'static,
) -> Result<JoinHandle<()>, TenderError> {
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
        .map_err(|e| TenderError::Setup(format!("{name} thread: {e}")))?;
    started_rx
        .recv()
        .map_err(|_| TenderError::Setup(format!("{name} thread did not start")))??;
    Ok(handle)
}

/// Leaves SIGINT and SIGTERM to the vCPU thread and installs `filter` on
/// the calling thread.
fn confine(filter: &BpfProgram) -> Result<(), TenderError> {
    signals::route_to_other_threads()
        .map_err(|e| TenderError::Setup(format!("pthread_sigmask: {e}")))?;
    Ok(seccomp_rules::install_on_this_thread(filter)?)
}
