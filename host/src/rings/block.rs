//! A block device's rings: Muenblock-shaped requests (guest→host) run on the
//! backing file straight from and into guest memory, responses (host→guest)
//! carry each request's tag and status. Lossless: the host takes only as many
//! requests as it has free response slots.
//!
//! Requests are in flight on the I/O engine while the worker serves other
//! devices ([`BlockRing::take`] starts them, [`BlockRing::complete`] answers
//! each as its completion comes, in whatever order; the guest matches
//! responses by tag). A flush is a barrier: it starts once everything taken
//! before it has completed, and nothing taken after it starts before it
//! completes.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::atomic::Ordering;

use ringtender_abi::rings::{AREA_GUEST_READ_COUNTER, AREA_HOST_READ_COUNTER};
use ringtender_muen_compat::block::{
    BlockRequest, BlockResponse, BLOCK_KIND_BLOCK_LENGTH, BLOCK_KIND_GET_SMART,
    BLOCK_KIND_MAX_BLOCKS_COUNT, BLOCK_KIND_MAX_DEVICES, BLOCK_KIND_MAX_REQUESTS,
    BLOCK_KIND_MEDIA_BLOCKS, BLOCK_KIND_READ, BLOCK_KIND_RESET, BLOCK_KIND_SYNC, BLOCK_KIND_WRITE,
    BLOCK_STATUS_INVALID, BLOCK_STATUS_IO_ERROR, BLOCK_STATUS_OK, MUEN_BLOCK_STATUS_EIO,
    MUEN_BLOCK_STATUS_ENOTSUP, MUEN_SMART_UNDEFINED,
};
use ringtender_muen_compat::{ReadResult, Reader, Writer, OFFSET_WC};

use super::engine::{Completion, IoEngine, IoKind, IoOp};
use super::region::GuestRegion;
use crate::error::TenderError;
use crate::guest_fault::GuestFault;
use crate::guest_memory::GuestRam;

/// Largest single request (bytes); larger ones get EINVAL.
const MAX_REQUEST: u64 = 1 << 20;

/// Which dialect of Muenblock a block device's channels speak.
pub enum BlockFlow {
    /// ringtender's rings (hvt, spt, `docs/ring-abi.md` §4): the device
    /// area at `area` holds the read counters (lossless), `device_offset`
    /// is a byte offset, `buffer_offset` a guest address, and the status
    /// codes are ringtender's.
    Area {
        /// Guest address of the device area.
        area: u64,
    },
    /// A Muen subject's block peer (`docs/ring-abi.md` §10): one device per
    /// channel pair, the handshake kinds answered, `device_offset` a block
    /// number, `buffer_offset` an offset into the buffer region, Muen's
    /// status codes, and no reader counters (a client keeps at most
    /// Max_Requests, one response ring, in flight).
    Muen {
        /// Guest addresses of the buffer region.
        buffer: Range<u64>,
    },
}

/// What a request needs.
#[derive(Clone, Copy)]
enum Planned {
    /// This I/O; its status follows from its result.
    Io(IoOp),
    /// No I/O: answered with this status (an error, or a handshake value).
    Answer(u64),
}

/// A request started on the engine: what it asked, and what it must
/// transfer to succeed (0 for a flush).
#[derive(Clone, Copy)]
struct Started {
    req: BlockRequest,
    len: u32,
    flush: bool,
}

/// One block device served through rings.
pub struct BlockRing {
    file: u32,
    flow: BlockFlow,
    capacity: u64,
    block_size: u64,
    requests: Reader<GuestRegion>,
    responses: Writer<GuestRegion>,
    /// Requests taken and not started yet (behind a flush), in order.
    waiting: VecDeque<(BlockRequest, IoOp)>,
    /// Requests in flight, by slot (a completion token's low half).
    started: Vec<Option<Started>>,
    /// How many of `started` are in flight.
    in_flight: usize,
    /// A flush is in flight: nothing else starts until it completes.
    flushing: bool,
}

/// Completion token of slot `slot` of block device `device` (its index
/// in the worker's list).
fn token(device: u32, slot: usize) -> u64 {
    (u64::from(device) << 32) | slot as u64
}

/// The block device and the slot a completion token names.
pub fn token_device(token: u64) -> (usize, usize) {
    ((token >> 32) as usize, (token & 0xffff_ffff) as usize)
}

impl BlockRing {
    /// Serves the channels `requests` and `responses` as `flow` says; the
    /// backing file is engine file `file`.
    pub fn new(
        flow: BlockFlow,
        file: u32,
        capacity: u64,
        block_size: u64,
        requests: Reader<GuestRegion>,
        responses: Writer<GuestRegion>,
    ) -> Self {
        Self {
            file,
            flow,
            capacity,
            block_size,
            requests,
            responses,
            waiting: VecDeque::new(),
            started: Vec::new(),
            in_flight: 0,
            flushing: false,
        }
    }

    /// Guest addresses of the response channel's write counter and of the
    /// guest's published read counter (ringtender's rings; a Muen channel
    /// has no read counter): while they differ, a completion waits for the
    /// guest to reap it, and POLL does not sleep (hvt).
    pub fn response_counters(&self) -> Option<(u64, u64)> {
        match self.flow {
            BlockFlow::Area { area } => Some((
                self.responses.memory().gpa(OFFSET_WC),
                area + AREA_GUEST_READ_COUNTER,
            )),
            BlockFlow::Muen { .. } => None,
        }
    }

    /// Requests taken and not answered yet; each holds a response slot.
    pub fn outstanding(&self) -> usize {
        self.waiting.len() + self.in_flight
    }

    /// The read counter of the guest's response reader: published in the
    /// area on ringtender's rings; on a Muen channel, which has none, taken
    /// to be caught up (a client keeps at most Max_Requests, one response
    /// ring, in flight, so it cannot be overrun).
    fn response_rc(&self, ram: &GuestRam) -> Result<u64, TenderError> {
        match self.flow {
            BlockFlow::Area { area } => {
                Ok(ram.load_u64(area + AREA_GUEST_READ_COUNTER, Ordering::Acquire)?)
            }
            BlockFlow::Muen { .. } => Ok(self.responses.wc()),
        }
    }

    /// Response slots free and not held by a request taken earlier.
    fn unclaimed_slots(&self, guest_rc: u64) -> u64 {
        self.responses
            .free_slots(guest_rc)
            .saturating_sub(self.outstanding() as u64)
    }

    /// Whether the guest has published requests the host has not taken and
    /// can take now (a response slot is free). With the guest's response
    /// ring full the worker may sleep: the guest rings the doorbell when it
    /// reaps.
    pub fn pending(&mut self, ram: &GuestRam) -> Result<bool, TenderError> {
        if !self.requests.has_pending_data() {
            return Ok(false);
        }
        Ok(self.unclaimed_slots(self.response_rc(ram)?) > 0)
    }

    /// The operation that makes the backing file durable (`fdatasync`).
    pub fn flush_op(&self) -> IoOp {
        IoOp {
            kind: IoKind::Flush,
            file: self.file,
            gpa: 0,
            len: 0,
            offset: None,
        }
    }

    /// Status codes of the flow: (invalid or unsupported, I/O error).
    fn error_codes(&self) -> (u64, u64) {
        match self.flow {
            BlockFlow::Area { .. } => (BLOCK_STATUS_INVALID, BLOCK_STATUS_IO_ERROR),
            BlockFlow::Muen { .. } => (MUEN_BLOCK_STATUS_ENOTSUP, MUEN_BLOCK_STATUS_EIO),
        }
    }

    /// Most blocks one Muen read or write may cover (Max_Blocks_Count): a
    /// request of at most [`MAX_REQUEST`] bytes that fits in the buffer.
    fn max_blocks(&self, buffer: &Range<u64>) -> u64 {
        MAX_REQUEST.min(buffer.end - buffer.start) / self.block_size
    }

    /// Checks one request; what it needs.
    fn plan(&self, req: &BlockRequest) -> Planned {
        let (invalid, _) = self.error_codes();
        let kind = match (&self.flow, req.kind) {
            // One device per Muen channel pair.
            (BlockFlow::Muen { .. }, _) if req.device != 0 => return Planned::Answer(invalid),
            (_, BLOCK_KIND_READ) => IoKind::Read,
            (_, BLOCK_KIND_WRITE) => IoKind::Write,
            (_, BLOCK_KIND_SYNC) => return Planned::Io(self.flush_op()),
            (BlockFlow::Area { .. }, _) => return Planned::Answer(invalid),
            (BlockFlow::Muen { buffer }, kind) => {
                return Planned::Answer(match kind {
                    BLOCK_KIND_RESET => BLOCK_STATUS_OK,
                    BLOCK_KIND_MAX_DEVICES => 1,
                    BLOCK_KIND_MEDIA_BLOCKS => self.capacity / self.block_size,
                    BLOCK_KIND_BLOCK_LENGTH => self.block_size,
                    BLOCK_KIND_MAX_BLOCKS_COUNT => self.max_blocks(buffer),
                    BLOCK_KIND_MAX_REQUESTS => self.responses.elements(),
                    BLOCK_KIND_GET_SMART => MUEN_SMART_UNDEFINED,
                    _ => invalid,
                })
            }
        };
        let (offset, gpa) = match &self.flow {
            BlockFlow::Area { .. } => (Some(req.device_offset), Some(req.buffer_offset)),
            BlockFlow::Muen { buffer } => (
                req.device_offset.checked_mul(self.block_size),
                req.buffer_offset
                    .checked_add(req.length)
                    .filter(|&end| end <= buffer.end - buffer.start)
                    .map(|_| buffer.start + req.buffer_offset),
            ),
        };
        let (Some(offset), Some(gpa)) = (offset, gpa) else {
            return Planned::Answer(invalid);
        };
        let len = req.length;
        let aligned = len > 0
            && len.is_multiple_of(self.block_size)
            && offset.is_multiple_of(self.block_size);
        let in_range = offset
            .checked_add(len)
            .is_some_and(|end| end <= self.capacity);
        if !(aligned && in_range && len <= MAX_REQUEST) {
            return Planned::Answer(invalid);
        }
        Planned::Io(IoOp {
            kind,
            file: self.file,
            gpa,
            len: len as u32,
            offset: Some(offset),
        })
    }

    /// Writes the response to `req`.
    fn respond(
        &mut self,
        ram: &GuestRam,
        req: &BlockRequest,
        status: u64,
    ) -> Result<(), TenderError> {
        let resp = BlockResponse {
            kind: req.kind,
            device: req.device,
            tag: req.tag,
            status,
        };
        let guest_rc = self.response_rc(ram)?;
        self.responses
            .try_write(bytemuck::bytes_of(&resp), guest_rc)
            .map_err(|_| GuestFault::ResponseSlotVanished)?;
        Ok(())
    }

    /// Starts what waits, in order, as far as the flush barrier allows;
    /// true if any request was answered here (a buffer the guest may not
    /// access answers EINVAL, not a tender error).
    fn launch(
        &mut self,
        ram: &GuestRam,
        engine: &mut dyn IoEngine,
        device: u32,
    ) -> Result<bool, TenderError> {
        let mut answered = false;
        while let Some(&(req, op)) = self.waiting.front() {
            let flush = op.kind == IoKind::Flush;
            if self.flushing || (flush && self.in_flight > 0) {
                break;
            }
            self.waiting.pop_front();
            let writes_guest = op.kind == IoKind::Read;
            if !flush && ram.io_ptr(op.gpa, u64::from(op.len), writes_guest).is_err() {
                let (invalid, _) = self.error_codes();
                self.respond(ram, &req, invalid)?;
                answered = true;
                continue;
            }
            let slot = match self.started.iter().position(Option::is_none) {
                Some(slot) => slot,
                None => {
                    self.started.push(None);
                    self.started.len() - 1
                }
            };
            engine.start(ram, &op, token(device, slot))?;
            self.started[slot] = Some(Started {
                req,
                len: if flush { 0 } else { op.len },
                flush,
            });
            self.in_flight += 1;
            self.flushing = flush;
        }
        Ok(answered)
    }

    /// Takes as many requests as there are unclaimed response slots,
    /// answers those that need no I/O and starts the others on `engine`
    /// (its completions name this device as `device`); true if any request
    /// was answered here. At most that many reads are tried, epoch changes
    /// included, so a guest republishing its channel forever cannot keep
    /// the worker here.
    pub fn take(
        &mut self,
        ram: &GuestRam,
        engine: &mut dyn IoEngine,
        device: u32,
    ) -> Result<bool, TenderError> {
        let free = self.unclaimed_slots(self.response_rc(ram)?);
        let (epoch, rc) = (self.requests.epoch(), self.requests.rc());
        let mut answered = false;
        let mut taken = false;
        for _ in 0..free {
            let mut raw = [0u8; size_of::<BlockRequest>()];
            match self.requests.read(&mut raw) {
                ReadResult::Success => taken = true,
                ReadResult::EpochChanged => continue,
                ReadResult::OverrunDetected => {
                    self.requests.drain();
                    break;
                }
                _ => break,
            }
            let req: BlockRequest = bytemuck::pod_read_unaligned(&raw);
            match self.plan(&req) {
                Planned::Answer(status) => {
                    self.respond(ram, &req, status)?;
                    answered = true;
                }
                Planned::Io(op) => self.waiting.push_back((req, op)),
            }
        }
        // Requests taken, or skipped after an overrun or an epoch change
        // (the read counter alone cannot tell: a new epoch may bring it back
        // to the value it had, and requests taken must still be started).
        if !taken && (self.requests.epoch(), self.requests.rc()) == (epoch, rc) {
            return Ok(false);
        }
        if let BlockFlow::Area { area } = self.flow {
            ram.store_u64(
                area + AREA_HOST_READ_COUNTER,
                self.requests.rc(),
                Ordering::Release,
            )?;
        }
        Ok(self.launch(ram, engine, device)? || answered)
    }

    /// Answers the request in `slot`, whose operation ended with `result`,
    /// and starts what waited behind it.
    pub fn complete(
        &mut self,
        ram: &GuestRam,
        engine: &mut dyn IoEngine,
        device: u32,
        slot: usize,
        result: i64,
    ) -> Result<(), TenderError> {
        let started = self
            .started
            .get_mut(slot)
            .and_then(Option::take)
            .expect("a completion names a request in flight");
        self.in_flight -= 1;
        if started.flush {
            self.flushing = false;
        }
        let (_, io_error) = self.error_codes();
        let status = if result == i64::from(started.len) {
            BLOCK_STATUS_OK
        } else {
            io_error
        };
        self.respond(ram, &started.req, status)?;
        self.launch(ram, engine, device)?;
        Ok(())
    }

    /// Takes, runs and answers what the guest submitted, waiting for every
    /// completion: a single device with the engine to itself (the fuzz
    /// entries and the peers' unit tests); true if anything was taken.
    pub fn pump(&mut self, ram: &GuestRam, engine: &mut dyn IoEngine) -> Result<bool, TenderError> {
        let before = self.requests.rc();
        let answered = self.take(ram, engine, 0)?;
        let mut done: Vec<Completion> = Vec::new();
        while self.outstanding() > 0 {
            engine.submit()?;
            engine.wait()?;
            engine.reap(&mut done);
            for completion in done.drain(..) {
                let (_, slot) = token_device(completion.token);
                self.complete(ram, engine, 0, slot, completion.result)?;
            }
        }
        Ok(answered || self.requests.rc() != before)
    }
}
