//! A block device's rings: Muenblock-shaped requests (guest→host) run on the
//! backing file straight from and into guest memory, responses (host→guest)
//! carry each request's tag and status. Lossless: the host takes only as many
//! requests as it has free response slots.

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
use ringtender_muen_compat::{ReadResult, Reader, Writer};

use super::engine::{IoEngine, IoKind, IoOp};
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

/// One block device served through rings.
pub struct BlockRing {
    file: u32,
    flow: BlockFlow,
    capacity: u64,
    block_size: u64,
    requests: Reader<GuestRegion>,
    responses: Writer<GuestRegion>,
    batch: Vec<(BlockRequest, Planned)>,
    ops: Vec<IoOp>,
    results: Vec<i64>,
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
            batch: Vec::new(),
            ops: Vec::new(),
            results: Vec::new(),
        }
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

    /// Whether the guest has published requests the host has not taken and
    /// can take now (a response slot is free). With the guest's response
    /// ring full the worker may sleep: the guest rings the doorbell when it
    /// reaps.
    pub fn pending(&mut self, ram: &GuestRam) -> Result<bool, TenderError> {
        if !self.requests.has_pending_data() {
            return Ok(false);
        }
        Ok(self.responses.free_slots(self.response_rc(ram)?) > 0)
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

    /// Runs the I/O of `batch` (a flush only after everything before it);
    /// each request's status.
    fn execute(
        &mut self,
        ram: &GuestRam,
        engine: &mut dyn IoEngine,
    ) -> Result<Vec<u64>, TenderError> {
        let (invalid, io_error) = self.error_codes();
        let done = |result: i64, wanted: i64| {
            if result == wanted {
                BLOCK_STATUS_OK
            } else {
                io_error
            }
        };
        let mut status: Vec<u64> = self
            .batch
            .iter()
            .map(|(_, planned)| match planned {
                Planned::Answer(status) => *status,
                Planned::Io(_) => invalid,
            })
            .collect();
        let is_flush =
            |planned: &Planned| matches!(planned, Planned::Io(op) if op.kind == IoKind::Flush);
        let mut start = 0;
        while start < self.batch.len() {
            let flush_at = self.batch[start..]
                .iter()
                .position(|(_, planned)| is_flush(planned))
                .map(|p| start + p);
            let end = flush_at.map_or(self.batch.len(), |p| p + 1);
            self.ops.clear();
            let mut which = Vec::new();
            for (i, (_, planned)) in self.batch[start..end].iter().enumerate() {
                // A buffer the guest may not access answers EINVAL, not a tender error.
                let accessible = |op: &IoOp| {
                    ram.io_ptr(op.gpa, u64::from(op.len), op.kind == IoKind::Read)
                        .is_ok()
                };
                match planned {
                    Planned::Io(op) if op.kind != IoKind::Flush && accessible(op) => {
                        self.ops.push(*op);
                        which.push(start + i);
                    }
                    _ => {}
                }
            }
            engine.run(ram, &self.ops, false, &mut self.results)?;
            for (&i, (&result, op)) in which.iter().zip(self.results.iter().zip(&self.ops)) {
                status[i] = done(result, i64::from(op.len));
            }
            if let Some(p) = flush_at {
                engine.run(ram, &[self.flush_op()], false, &mut self.results)?;
                status[p] = done(self.results[0], 0);
            }
            start = end;
        }
        Ok(status)
    }

    /// Takes as many requests as there are free response slots, runs them,
    /// and answers each; true if any were taken (or skipped after an
    /// overrun). At most that many reads are tried, epoch changes included,
    /// so a guest republishing its channel forever cannot keep the worker
    /// here.
    pub fn pump(&mut self, ram: &GuestRam, engine: &mut dyn IoEngine) -> Result<bool, TenderError> {
        let guest_rc = self.response_rc(ram)?;
        let free = self.responses.free_slots(guest_rc);
        let rc = self.requests.rc();
        self.batch.clear();
        for _ in 0..free {
            let mut raw = [0u8; size_of::<BlockRequest>()];
            match self.requests.read(&mut raw) {
                ReadResult::Success => {}
                ReadResult::EpochChanged => continue,
                ReadResult::OverrunDetected => {
                    self.requests.drain();
                    break;
                }
                _ => break,
            }
            let req: BlockRequest = bytemuck::pod_read_unaligned(&raw);
            let planned = self.plan(&req);
            self.batch.push((req, planned));
        }
        if self.batch.is_empty() {
            // Requests skipped after an overrun are taken too: the guest
            // learns from the published counter that they will get no answer.
            let skipped = self.requests.rc() != rc;
            if skipped {
                self.publish_read_counter(ram)?;
            }
            return Ok(skipped);
        }
        let status = self.execute(ram, engine)?;
        for ((req, _), status) in self.batch.iter().zip(status) {
            let resp = BlockResponse {
                kind: req.kind,
                device: req.device,
                tag: req.tag,
                status,
            };
            self.responses
                .try_write(bytemuck::bytes_of(&resp), guest_rc)
                .map_err(|_| GuestFault::ResponseSlotVanished)?;
        }
        self.publish_read_counter(ram)?;
        Ok(true)
    }

    /// Publishes how far the request channel has been read, where the
    /// guest's bindings look for room (the ring area's host read counter).
    fn publish_read_counter(&self, ram: &GuestRam) -> Result<(), TenderError> {
        if let BlockFlow::Area { area } = self.flow {
            ram.store_u64(
                area + AREA_HOST_READ_COUNTER,
                self.requests.rc(),
                Ordering::Release,
            )?;
        }
        Ok(())
    }
}
