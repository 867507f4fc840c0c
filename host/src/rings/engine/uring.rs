//! The io_uring engine: a batch is one `io_uring_enter`, operations go
//! straight between the registered files and guest memory.
//!
//! The ring is created disabled, its files registered, and then locked with
//! `IORING_REGISTER_RESTRICTIONS` to the three opcodes we use, on registered
//! files only, before it is enabled: a compromised worker cannot use it to
//! open, connect or touch any other descriptor.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use io_uring::{opcode, register::Restriction, squeue, types, IoUring};

use super::{IoEngine, IoKind, IoOp, PortableEngine, IORING_UNREGISTER_FILES};
use crate::error::TenderError;
use crate::guest_memory::GuestRam;

/// Submission queue size; batches larger than this are split.
const QUEUE_DEPTH: u32 = 256;

/// Runs batches through one io_uring instance.
///
/// Two kinds of operation run as plain system calls instead, chosen by
/// measurement (`docs/ring-abi.md` §6):
/// - stream reads that stop at the first empty read (tap rx): io_uring
///   would issue the whole batch, and a frame arriving between two reads
///   would land behind an empty slot; for tap reads io_uring measured no
///   faster than `read()` here (limits.md §2);
/// - writes to the block file: the file is buffered, and io_uring hands
///   buffered writes on ext4 to its io-wq worker threads; `pwrite` from the
///   worker measured 2-3x faster (4 KiB random writes at queue depth 32:
///   315k against 120-150k IOPS).
pub struct UringEngine {
    ring: IoUring,
    inline: PortableEngine,
    /// The operations of a batch that go through the ring, with their
    /// index in the batch (the CQE's user data).
    ring_ops: Vec<(usize, IoOp)>,
}

impl UringEngine {
    /// Creates the ring over `files` and locks it down.
    pub fn new(files: &[RawFd]) -> io::Result<Self> {
        let ring = IoUring::builder().setup_r_disabled().build(QUEUE_DEPTH)?;
        let submitter = ring.submitter();
        submitter.register_files(files)?;
        let mut restrictions = [
            Restriction::sqe_op(opcode::Read::CODE),
            Restriction::sqe_op(opcode::Write::CODE),
            Restriction::sqe_op(opcode::Fsync::CODE),
            Restriction::sqe_flags_required(squeue::Flags::FIXED_FILE.bits()),
            Restriction::register_op(IORING_UNREGISTER_FILES as u8),
        ];
        submitter.register_restrictions(&mut restrictions)?;
        submitter.register_enable_rings()?;
        Ok(Self {
            ring,
            inline: PortableEngine::new(files),
            ring_ops: Vec::new(),
        })
    }

    fn entry(ram: &GuestRam, op: &IoOp, index: usize) -> Result<squeue::Entry, TenderError> {
        let file = types::Fixed(op.file);
        let entry = match op.kind {
            IoKind::Flush => opcode::Fsync::new(file)
                .flags(types::FsyncFlags::DATASYNC)
                .build(),
            IoKind::Read => {
                let ptr = ram.io_ptr(op.gpa, u64::from(op.len), true)?;
                opcode::Read::new(file, ptr, op.len)
                    .offset(op.offset.unwrap_or(u64::MAX))
                    .build()
            }
            IoKind::Write => {
                let ptr = ram.io_ptr(op.gpa, u64::from(op.len), false)?;
                opcode::Write::new(file, ptr, op.len)
                    .offset(op.offset.unwrap_or(u64::MAX))
                    .build()
            }
        };
        Ok(entry
            .flags(squeue::Flags::FIXED_FILE)
            .user_data(index as u64))
    }

    /// Runs `ops` (each with its index in `results`) as one submission.
    fn run_chunk(
        ring: &mut IoUring,
        ram: &GuestRam,
        ops: &[(usize, IoOp)],
        results: &mut [i64],
    ) -> Result<(), TenderError> {
        {
            let mut sq = ring.submission();
            for (index, op) in ops {
                let entry = Self::entry(ram, op, *index)?;
                // SAFETY: the buffer is guest RAM checked by `io_ptr`; guest RAM
                // stays mapped for the tender's whole life and the batch is
                // complete (all CQEs reaped) before this function returns.
                unsafe { sq.push(&entry) }
                    .map_err(|_| TenderError::Setup("io_uring queue full".into()))?;
            }
        }
        let mut done = 0;
        while done < ops.len() {
            match ring.submit_and_wait(ops.len() - done) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                Err(e) => {
                    return Err(TenderError::Io {
                        what: "submitting I/O",
                        source: e,
                    })
                }
            }
            for cqe in ring.completion() {
                results[cqe.user_data() as usize] = i64::from(cqe.result());
                done += 1;
            }
        }
        Ok(())
    }
}

impl Drop for UringEngine {
    /// Releases the registered files now, in this thread: left to the
    /// ring's teardown they are released later by a kernel worker, and a tap
    /// stays busy for a moment after the tender exits, so a unikernel
    /// restarted at once on it could not attach it.
    fn drop(&mut self) {
        let _ = self.ring.submitter().unregister_files();
    }
}

impl IoEngine for UringEngine {
    fn name(&self) -> &'static str {
        "io_uring"
    }

    fn ring_fd(&self) -> Option<RawFd> {
        Some(self.ring.as_raw_fd())
    }

    fn run(
        &mut self,
        ram: &GuestRam,
        ops: &[IoOp],
        until_empty: bool,
        results: &mut Vec<i64>,
    ) -> Result<(), TenderError> {
        if until_empty {
            return self.inline.run(ram, ops, true, results);
        }
        results.clear();
        results.resize(ops.len(), 0);
        self.ring_ops.clear();
        for (i, op) in ops.iter().enumerate() {
            let file_write = op.kind == IoKind::Write && op.offset.is_some();
            if file_write {
                results[i] = self.inline.one(ram, op)?;
            } else {
                self.ring_ops.push((i, *op));
            }
        }
        for chunk in self.ring_ops.chunks(QUEUE_DEPTH as usize) {
            Self::run_chunk(&mut self.ring, ram, chunk, results)?;
        }
        Ok(())
    }
}
