//! The io_uring engine: a batch is one `io_uring_enter`, operations go
//! straight between the files and guest memory. Operations of
//! [`IoEngine::start`] stay in flight while the worker goes on (buffered
//! reads the page cache cannot serve at once, and every `fdatasync`, run
//! in the kernel's io-wq threads); their completions wait in the
//! completion queue, whose descriptor is in the worker's epoll set.
//!
//! The ring is created disabled, the block files registered, and then locked
//! with `IORING_REGISTER_RESTRICTIONS` to the three opcodes we use before it
//! is enabled. Taps are never registered: a registered file is released only
//! by the ring's deferred teardown, which after a `kill -9` of the tender
//! kept the tap busy for 20-365 ms, so a unikernel restarted at once could
//! not attach it (`docs/deployment.md`). A tap write names the tap's
//! descriptor in its SQE instead; the kernel holds the file only while the
//! write runs, and every batch is reaped before [`IoEngine::run`] returns.
//! Without taps, the ring accepts registered files only.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use io_uring::{opcode, register::Restriction, squeue, types, IoUring};

use super::{
    Completion, EngineFile, IoEngine, IoKind, IoOp, PortableEngine, IORING_UNREGISTER_FILES,
};
use crate::error::TenderError;
use crate::guest_memory::GuestRam;

/// Largest submission queue; batches larger than the queue are split.
const MAX_QUEUE_DEPTH: u32 = 256;
/// Operations one file's device puts through the ring in one pass at most:
/// a block ring's whole window (a net device's tx batch is as large).
const PER_FILE_DEPTH: u32 = ringtender_abi::rings::BLOCK_RING_ELEMENTS;
/// Smallest submission queue (a ring without files).
const MIN_QUEUE_DEPTH: u32 = 8;
/// User-data bit of the operations of [`IoEngine::run`] (the rest is the
/// operation's index in its batch); without it, a [`IoEngine::start`] token.
const RUN_BIT: u64 = 1 << 63;

/// The queue a ring over `files` needs so that one pass over every device
/// is one submission: sized to the devices rather than always the largest,
/// since the SQEs, the completion queue and the batch buffer are resident
/// memory of every tender (28 KiB for 256 entries, 12 KiB for 64).
fn queue_depth(files: &[EngineFile]) -> u32 {
    let want = u32::try_from(files.len())
        .unwrap_or(u32::MAX)
        .saturating_mul(PER_FILE_DEPTH);
    want.clamp(MIN_QUEUE_DEPTH, MAX_QUEUE_DEPTH)
        .next_power_of_two()
}

/// Runs batches through one io_uring instance.
///
/// Tap reads (a batch of rx slots) go through the ring too, one
/// `io_uring_enter` for the batch: issued with `RWF_NOWAIT`, each read
/// completes in the call, with a frame or `-EAGAIN`, in the order issued;
/// none is left armed on the tap (an early version's armed reads waited
/// for frames and stalled the worker). A frame that arrived between two reads
/// lands behind an empty slot, which the caller closes up
/// (`NetRing::pump_rx`).
///
/// Writes to the block file run as plain system calls instead, chosen by
/// measurement (`docs/ring-abi.md` §6): the file is buffered, and io_uring hands
///   buffered writes on ext4 to its io-wq worker threads; `pwrite` from the
///   worker measured 2-3x faster (4 KiB random writes at queue depth 32:
///   315k against 120-150k IOPS).
pub struct UringEngine {
    ring: IoUring,
    inline: PortableEngine,
    /// Per engine file: the descriptor of a tap (named in each SQE), or
    /// `None` for a registered file (the same index in the ring's table).
    taps: Vec<Option<RawFd>>,
    /// The operations of a batch that go through the ring, with their
    /// index in the batch (the CQE's user data).
    ring_ops: Vec<(usize, IoOp)>,
    /// The SQEs of one submission, all built before any is queued.
    entries: Vec<squeue::Entry>,
    /// Submission queue size.
    depth: usize,
    /// Completions of started operations taken off the completion queue
    /// (by a [`IoEngine::run`] meeting them) and not reaped yet.
    done: Vec<Completion>,
    /// Started operations not reaped yet.
    in_flight: usize,
    /// Started operations queued and not submitted yet.
    queued: usize,
}

impl UringEngine {
    /// Creates the ring over `files` and locks it down.
    pub fn new(files: &[EngineFile]) -> io::Result<Self> {
        Self::with_depth(files, queue_depth(files))
    }

    fn with_depth(files: &[EngineFile], depth: u32) -> io::Result<Self> {
        let ring = IoUring::builder().setup_r_disabled().build(depth)?;
        let submitter = ring.submitter();
        // Taps leave their slot empty (-1): sparse tables are allowed.
        let table: Vec<RawFd> = files
            .iter()
            .map(|f| if f.stream { -1 } else { f.fd })
            .collect();
        submitter.register_files(&table)?;
        let any_tap = files.iter().any(|f| f.stream);
        let fixed = squeue::Flags::FIXED_FILE.bits();
        let mut restrictions = [
            Restriction::sqe_op(opcode::Read::CODE),
            Restriction::sqe_op(opcode::Write::CODE),
            Restriction::sqe_op(opcode::Fsync::CODE),
            if any_tap {
                Restriction::sqe_flags_allowed(fixed)
            } else {
                Restriction::sqe_flags_required(fixed)
            },
            Restriction::register_op(IORING_UNREGISTER_FILES as u8),
        ];
        submitter.register_restrictions(&mut restrictions)?;
        submitter.register_enable_rings()?;
        Ok(Self {
            ring,
            inline: PortableEngine::new(files),
            taps: files.iter().map(|f| f.stream.then_some(f.fd)).collect(),
            ring_ops: Vec::new(),
            entries: Vec::with_capacity(depth as usize),
            depth: depth as usize,
            done: Vec::new(),
            in_flight: 0,
            queued: 0,
        })
    }

    fn entry(
        &self,
        ram: &GuestRam,
        op: &IoOp,
        user_data: u64,
    ) -> Result<squeue::Entry, TenderError> {
        // A registered file is named by its index and FIXED_FILE (what
        // `types::Fixed` does), a tap by its descriptor.
        let (fd, flags) = match self.taps[op.file as usize] {
            Some(fd) => (fd, squeue::Flags::empty()),
            None => (op.file as RawFd, squeue::Flags::FIXED_FILE),
        };
        let file = types::Fd(fd);
        let entry = match op.kind {
            IoKind::Flush => opcode::Fsync::new(file)
                .flags(types::FsyncFlags::DATASYNC)
                .build(),
            IoKind::Read => {
                let ptr = ram.io_ptr(op.gpa, u64::from(op.len), true)?;
                // A stream read must not wait: without RWF_NOWAIT io_uring
                // arms a poll on an empty tap (non-blocking or not) and
                // the batch waits for frames.
                let flags = if op.offset.is_none() {
                    libc::RWF_NOWAIT
                } else {
                    0
                };
                opcode::Read::new(file, ptr, op.len)
                    .offset(op.offset.unwrap_or(u64::MAX))
                    .rw_flags(flags)
                    .build()
            }
            IoKind::Write => {
                let ptr = ram.io_ptr(op.gpa, u64::from(op.len), false)?;
                opcode::Write::new(file, ptr, op.len)
                    .offset(op.offset.unwrap_or(u64::MAX))
                    .build()
            }
        };
        Ok(entry.flags(flags).user_data(user_data))
    }

    /// Runs `ops` (each with its index in `results`) as one submission.
    ///
    /// Every SQE is built before any is queued, and all are queued at once
    /// or none: an operation that cannot be issued leaves nothing behind in
    /// the submission queue, so a later batch never reaps a completion that
    /// belongs to this one. Returns only once every queued SQE completed.
    fn run_chunk(
        &mut self,
        ram: &GuestRam,
        ops: &[(usize, IoOp)],
        results: &mut [i64],
    ) -> Result<(), TenderError> {
        self.entries.clear();
        for (index, op) in ops {
            let entry = self.entry(ram, op, *index as u64 | RUN_BIT)?;
            self.entries.push(entry);
        }
        // SAFETY: each buffer is guest RAM checked by `io_ptr`; guest RAM
        // stays mapped for the tender's whole life and the batch is
        // complete (all CQEs reaped) before this function returns.
        unsafe { self.ring.submission().push_multiple(&self.entries) }
            .map_err(|_| crate::rings::Error::QueueFull)?;
        let mut done = 0;
        while done < ops.len() {
            self.enter(ops.len() - done)?;
            for cqe in self.ring.completion() {
                let result = i64::from(cqe.result());
                match cqe.user_data() {
                    index @ RUN_BIT.. => {
                        results[(index & !RUN_BIT) as usize] = result;
                        done += 1;
                    }
                    token => self.done.push(Completion { token, result }),
                }
            }
        }
        Ok(())
    }

    /// Submits what is queued and waits for `want` completions (any).
    fn enter(&mut self, want: usize) -> Result<(), TenderError> {
        match self.ring.submit_and_wait(want) {
            Ok(_) => {
                self.queued = 0;
                Ok(())
            }
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => Ok(()),
            Err(e) => Err(TenderError::Io {
                what: "submitting I/O",
                source: e,
            }),
        }
    }

    /// Moves the completion queue's entries into `done`.
    fn take_completions(&mut self) {
        for cqe in self.ring.completion() {
            self.done.push(Completion {
                token: cqe.user_data(),
                result: i64::from(cqe.result()),
            });
        }
    }
}

impl Drop for UringEngine {
    /// Waits for the operations still in flight (their buffers are guest
    /// RAM, which must outlive them), then releases the registered block
    /// files now, in this thread, rather than in the ring's deferred
    /// teardown.
    fn drop(&mut self) {
        let mut reaped = Vec::new();
        loop {
            self.reap(&mut reaped);
            if self.in_flight == 0 || self.wait().is_err() {
                break;
            }
        }
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
        // Every read of a stream batch is issued: see the type's notes.
        _until_empty: bool,
        results: &mut Vec<i64>,
    ) -> Result<(), TenderError> {
        // The batch must have the submission queue to itself.
        self.submit()?;
        results.clear();
        results.resize(ops.len(), 0);
        let mut ring_ops = std::mem::take(&mut self.ring_ops);
        ring_ops.clear();
        for (i, op) in ops.iter().enumerate() {
            let file_write = op.kind == IoKind::Write && op.offset.is_some();
            if file_write {
                results[i] = self.inline.one(ram, op)?;
            } else {
                ring_ops.push((i, *op));
            }
        }
        let outcome = ring_ops
            .chunks(self.depth)
            .try_for_each(|chunk| self.run_chunk(ram, chunk, results));
        self.ring_ops = ring_ops;
        outcome
    }

    /// Block writes run here, as in [`IoEngine::run`] (measured faster
    /// than io_uring's io-wq for buffered writes); everything else is
    /// queued for the next submission.
    fn start(&mut self, ram: &GuestRam, op: &IoOp, token: u64) -> Result<(), TenderError> {
        debug_assert_eq!(token & RUN_BIT, 0, "start tokens leave the top bit clear");
        if op.kind == IoKind::Write && op.offset.is_some() {
            let result = self.inline.one(ram, op)?;
            self.done.push(Completion { token, result });
            self.in_flight += 1;
            return Ok(());
        }
        let entry = self.entry(ram, op, token)?;
        if self.ring.submission().is_full() {
            self.submit()?;
        }
        // SAFETY: the buffer is guest RAM checked by `io_ptr`; guest RAM
        // stays mapped for the tender's whole life, and dropping the
        // engine waits for every operation in flight.
        unsafe { self.ring.submission().push(&entry) }
            .map_err(|_| crate::rings::Error::QueueFull)?;
        self.queued += 1;
        self.in_flight += 1;
        Ok(())
    }

    fn submit(&mut self) -> Result<(), TenderError> {
        if self.queued > 0 {
            self.enter(0)?;
        }
        Ok(())
    }

    fn reap(&mut self, out: &mut Vec<Completion>) {
        self.take_completions();
        self.in_flight -= self.done.len();
        out.append(&mut self.done);
    }

    fn completed(&mut self) -> bool {
        !self.done.is_empty() || !self.ring.completion().is_empty()
    }

    fn in_flight(&self) -> usize {
        self.in_flight
    }

    fn wait(&mut self) -> Result<(), TenderError> {
        if self.in_flight == 0 || self.completed() {
            return self.submit();
        }
        self.enter(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const DATA: &[u8] = b"0123456789abcdefghijklmnopqrstuv";

    fn data_file() -> std::fs::File {
        let path = std::env::temp_dir().join(format!("ringtender-uring-{}", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        file.write_all(DATA).unwrap();
        file
    }

    fn read(gpa: u64, offset: u64, len: u32) -> IoOp {
        IoOp {
            kind: IoKind::Read,
            file: 0,
            gpa,
            len,
            offset: Some(offset),
        }
    }

    /// A batch whose third operation cannot be issued (a buffer the guest
    /// may not have written) fails without running the two before it, and
    /// the next batch on the same ring sees only its own completions.
    #[test]
    fn the_queue_fits_one_pass_over_the_devices() {
        let file = |stream| EngineFile { fd: 0, stream };
        assert_eq!(queue_depth(&[]), MIN_QUEUE_DEPTH);
        assert_eq!(queue_depth(&[file(true)]), 64);
        assert_eq!(queue_depth(&[file(true), file(false)]), 128);
        assert_eq!(queue_depth(&[file(true), file(false), file(false)]), 256);
        assert_eq!(queue_depth(&[file(false); 63]), MAX_QUEUE_DEPTH);
    }

    #[test]
    fn a_batch_that_cannot_be_issued_leaves_nothing_queued() {
        let file = data_file();
        let mut ram = GuestRam::new(1 << 20).unwrap();
        ram.set_guest_access(vec![0..0x10000], vec![0..0x10000]);
        let files = [EngineFile {
            fd: file.as_raw_fd(),
            stream: false,
        }];
        let mut engine = UringEngine::with_depth(&files, 4).unwrap();
        let mut results = Vec::new();
        let bad = [read(0x1000, 0, 4), read(0x2000, 4, 4), read(0x20000, 0, 4)];
        assert!(engine.run(&ram, &bad, false, &mut results).is_err());

        // More operations than the ring holds: split into chunks.
        let good: Vec<IoOp> = (0..6).map(|i| read(0x3000 + i * 8, i * 4, 4)).collect();
        engine.run(&ram, &good, false, &mut results).unwrap();
        assert_eq!(results, vec![4; 6]);
        for i in 0..6u64 {
            let mut got = [0u8; 4];
            ram.read_bytes(0x3000 + i * 8, &mut got).unwrap();
            assert_eq!(&got, &DATA[i as usize * 4..i as usize * 4 + 4]);
        }
        // The failed batch's reads never ran.
        for gpa in [0x1000, 0x2000] {
            let mut got = [0u8; 4];
            ram.read_bytes(gpa, &mut got).unwrap();
            assert_eq!(got, [0; 4], "a read of the failed batch ran at 0x{gpa:x}");
        }
    }
}
