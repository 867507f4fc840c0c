//! The portable engine: one plain system call per operation.

use std::os::fd::RawFd;

use super::{Completion, EngineFile, IoEngine, IoKind, IoOp, CANCELED};
use crate::error::TenderError;
use crate::guest_memory::GuestRam;

/// Runs operations one by one with read/write/pread/pwrite/fdatasync.
/// An operation "started" runs to its end in [`IoEngine::start`] (Cloud
/// Hypervisor's synchronous engine does the same), so on this engine a
/// slow block operation still holds up the worker.
pub struct PortableEngine {
    files: Vec<RawFd>,
    done: Vec<Completion>,
}

impl PortableEngine {
    /// An engine over `files`.
    pub fn new(files: &[EngineFile]) -> Self {
        Self {
            files: files.iter().map(|f| f.fd).collect(),
            done: Vec::new(),
        }
    }

    /// Runs one operation; its result (bytes or `-errno`).
    pub fn one(&self, ram: &GuestRam, op: &IoOp) -> Result<i64, TenderError> {
        let fd = self.files[op.file as usize];
        let len = u64::from(op.len);
        let outcome = match (op.kind, op.offset) {
            (IoKind::Read, None) => ram.read_from_fd(fd, op.gpa, len)?,
            (IoKind::Read, Some(off)) => ram.pread_from_fd(fd, op.gpa, len, off)?,
            (IoKind::Write, None) => ram.write_to_fd(fd, op.gpa, len)?,
            (IoKind::Write, Some(off)) => ram.pwrite_to_fd(fd, op.gpa, len, off)?,
            (IoKind::Flush, _) => {
                // SAFETY: fdatasync on a descriptor the engine was given; no memory involved.
                let rc = unsafe { libc::fdatasync(fd) };
                if rc == 0 {
                    Ok(0)
                } else {
                    Err(std::io::Error::last_os_error())
                }
            }
        };
        Ok(match outcome {
            Ok(n) => n as i64,
            Err(e) => -i64::from(e.raw_os_error().unwrap_or(libc::EIO)),
        })
    }
}

impl IoEngine for PortableEngine {
    fn name(&self) -> &'static str {
        "portable"
    }

    fn ring_fd(&self) -> Option<RawFd> {
        None
    }

    fn run(
        &mut self,
        ram: &GuestRam,
        ops: &[IoOp],
        until_empty: bool,
        results: &mut Vec<i64>,
    ) -> Result<(), TenderError> {
        results.clear();
        for op in ops {
            if until_empty && results.last().is_some_and(|&r| r <= 0) {
                results.push(CANCELED);
                continue;
            }
            let result = self.one(ram, op)?;
            results.push(result);
        }
        Ok(())
    }

    fn start(&mut self, ram: &GuestRam, op: &IoOp, token: u64) -> Result<(), TenderError> {
        let result = self.one(ram, op)?;
        self.done.push(Completion { token, result });
        Ok(())
    }

    fn submit(&mut self) -> Result<(), TenderError> {
        Ok(())
    }

    fn reap(&mut self, out: &mut Vec<Completion>) {
        out.append(&mut self.done);
    }

    fn completed(&mut self) -> bool {
        !self.done.is_empty()
    }

    fn in_flight(&self) -> usize {
        self.done.len()
    }

    fn wait(&mut self) -> Result<(), TenderError> {
        Ok(())
    }
}
