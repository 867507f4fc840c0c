//! I/O engines: how a ring worker runs a batch of tap or file operations
//! straight from and into guest memory.
//!
//! Two engines sit behind one trait, in the manner of Cloud Hypervisor's
//! sync/async block engines: io_uring (batched, one system call per batch,
//! operations in flight while the worker goes on, completions reaped as
//! they come; locked down with `IORING_REGISTER_RESTRICTIONS`) and a
//! portable engine of plain system calls for hosts where io_uring is
//! unavailable, which completes each operation as it starts it.
//!
//! Two ways to use them: [`IoEngine::run`] runs a batch to completion (net
//! tx and rx, whose slots are released in order right after), and
//! [`IoEngine::start`] / [`IoEngine::reap`] keep block requests in flight,
//! so that a slow `fdatasync` or a large read of one device never holds up
//! another device (`docs/architecture.md`, "The ring worker").

mod portable;
mod uring;

use std::os::fd::RawFd;

pub use portable::PortableEngine;
pub use uring::UringEngine;

use crate::error::{strerror, TenderError};
use crate::guest_memory::GuestRam;

/// What an operation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoKind {
    /// Read from the file into guest memory.
    Read,
    /// Write guest memory to the file.
    Write,
    /// `fdatasync` the file.
    Flush,
}

/// One operation of a batch.
#[derive(Clone, Copy, Debug)]
pub struct IoOp {
    /// What to do.
    pub kind: IoKind,
    /// Index of the file in the engine's file table.
    pub file: u32,
    /// Guest address of the buffer.
    pub gpa: u64,
    /// Bytes to transfer.
    pub len: u32,
    /// File offset; `None` for streams (taps).
    pub offset: Option<u64>,
}

/// A descriptor an engine runs operations on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineFile {
    /// The descriptor.
    pub fd: RawFd,
    /// A tap (a stream). The io_uring engine never registers a tap: a
    /// registered file outlives a killed tender by the ring's deferred
    /// teardown, and the tap stays busy until then (`docs/deployment.md`).
    pub stream: bool,
}

/// `io_uring_register` opcode that drops the registered files (the only
/// one the locked-down ring and the seccomp filter allow).
pub const IORING_UNREGISTER_FILES: u32 = 3;

/// Which engine the tender uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EngineChoice {
    /// io_uring if the host allows it, else portable with a notice.
    #[default]
    Auto,
    /// io_uring or fail.
    Uring,
    /// Plain system calls.
    Portable,
}

/// Result value of an operation skipped because an earlier read found the stream empty.
pub const CANCELED: i64 = -(libc::ECANCELED as i64);

/// An operation started with [`IoEngine::start`] that completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    /// The caller's token, given to [`IoEngine::start`].
    pub token: u64,
    /// Bytes transferred, or `-errno`.
    pub result: i64,
}

/// Runs batches of I/O on a fixed set of files.
pub trait IoEngine: Send {
    /// Short name for notices and benchmarks.
    fn name(&self) -> &'static str;

    /// The io_uring descriptor, for the seccomp filter.
    fn ring_fd(&self) -> Option<RawFd>;

    /// Runs `ops` and stores each one's result (bytes transferred or
    /// `-errno`) in `results`, in order. Operations on a stream are issued
    /// in order. With `until_empty` (reads of a stream), an engine may skip
    /// the operations after the first that finds nothing ([`CANCELED`]); it
    /// may also run them, so a success can follow a failure and the caller
    /// must handle gaps.
    fn run(
        &mut self,
        ram: &GuestRam,
        ops: &[IoOp],
        until_empty: bool,
        results: &mut Vec<i64>,
    ) -> Result<(), TenderError>;

    /// Starts `op` without waiting for it; its [`Completion`] carries
    /// `token` and comes out of [`IoEngine::reap`]. The io_uring engine
    /// queues it for the next [`IoEngine::submit`] (or [`IoEngine::run`])
    /// and the kernel completes it while the caller goes on; the portable
    /// engine runs it here and now. The buffer must stay guest RAM until
    /// the completion is reaped (guest RAM is never unmapped while an
    /// engine lives).
    fn start(&mut self, ram: &GuestRam, op: &IoOp, token: u64) -> Result<(), TenderError>;

    /// Issues what [`IoEngine::start`] queued; never waits for completions.
    fn submit(&mut self) -> Result<(), TenderError>;

    /// Moves every completion available now into `out`; never waits.
    fn reap(&mut self, out: &mut Vec<Completion>);

    /// Whether [`IoEngine::reap`] would find a completion now.
    fn completed(&mut self) -> bool;

    /// Operations started and not reaped yet.
    fn in_flight(&self) -> usize;

    /// Waits until at least one started operation has completed (at once
    /// if none is in flight or one is waiting to be reaped).
    fn wait(&mut self) -> Result<(), TenderError>;
}

/// Builds the engine `choice` asks for over `files`.
pub fn build(
    choice: EngineChoice,
    files: &[EngineFile],
    notice: impl Fn(&str),
) -> Result<Box<dyn IoEngine>, TenderError> {
    match choice {
        EngineChoice::Portable => Ok(Box::new(PortableEngine::new(files))),
        EngineChoice::Uring => Ok(Box::new(
            UringEngine::new(files).map_err(super::Error::UringUnavailable)?,
        )),
        EngineChoice::Auto => match UringEngine::new(files) {
            Ok(engine) => Ok(Box::new(engine)),
            Err(e) => {
                notice(&format!(
                    "io_uring unavailable ({}), using the portable I/O engine",
                    strerror(&e)
                ));
                Ok(Box::new(PortableEngine::new(files)))
            }
        },
    }
}
