//! A block device's rings: Muenblock-shaped requests (guest→host) run on the
//! backing file straight from and into guest memory, responses (host→guest)
//! carry each request's tag and status. Lossless: the host takes only as many
//! requests as it has free response slots.

use std::sync::atomic::Ordering;

use ringtender_abi::rings::{AREA_GUEST_READ_COUNTER, AREA_HOST_READ_COUNTER};
use ringtender_muen_compat::block::{
    BlockRequest, BlockResponse, BLOCK_KIND_READ, BLOCK_KIND_SYNC, BLOCK_KIND_WRITE,
    BLOCK_STATUS_INVALID, BLOCK_STATUS_IO_ERROR, BLOCK_STATUS_OK,
};
use ringtender_muen_compat::{ReadResult, Reader, Writer};

use super::engine::{IoEngine, IoKind, IoOp};
use super::region::GuestRegion;
use crate::error::TenderError;
use crate::guest_memory::GuestRam;

/// Largest single request (bytes); larger ones get EINVAL.
const MAX_REQUEST: u64 = 1 << 20;

/// One block device served through rings.
pub struct BlockRing {
    file: u32,
    area: u64,
    capacity: u64,
    block_size: u64,
    requests: Reader<GuestRegion>,
    responses: Writer<GuestRegion>,
    batch: Vec<(BlockRequest, Option<IoOp>)>,
    ops: Vec<IoOp>,
    results: Vec<i64>,
}

impl BlockRing {
    /// Serves the rings of the area at `area`; the backing file is engine file `file`.
    pub fn new(
        area: u64,
        file: u32,
        capacity: u64,
        block_size: u64,
        requests: Reader<GuestRegion>,
        responses: Writer<GuestRegion>,
    ) -> Self {
        Self {
            file,
            area,
            capacity,
            block_size,
            requests,
            responses,
            batch: Vec::new(),
            ops: Vec::new(),
            results: Vec::new(),
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
        let guest_rc = ram.load_u64(self.area + AREA_GUEST_READ_COUNTER, Ordering::Acquire)?;
        Ok(self.responses.free_slots(guest_rc) > 0)
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

    /// Checks one request; the I/O it needs, or None when it is answered
    /// without I/O (EINVAL).
    fn plan(&self, req: &BlockRequest) -> Option<IoOp> {
        let kind = match req.kind {
            BLOCK_KIND_READ => IoKind::Read,
            BLOCK_KIND_WRITE => IoKind::Write,
            BLOCK_KIND_SYNC => return Some(self.flush_op()),
            _ => return None,
        };
        let (offset, len) = (req.device_offset, req.length);
        let aligned = len > 0 && len % self.block_size == 0 && offset % self.block_size == 0;
        let in_range = offset
            .checked_add(len)
            .is_some_and(|end| end <= self.capacity);
        (aligned && in_range && len <= MAX_REQUEST).then_some(IoOp {
            kind,
            file: self.file,
            gpa: req.buffer_offset,
            len: len as u32,
            offset: Some(offset),
        })
    }

    /// Runs the I/O of `batch` (a flush only after everything before it).
    fn execute(
        &mut self,
        ram: &GuestRam,
        engine: &mut dyn IoEngine,
    ) -> Result<Vec<u64>, TenderError> {
        let mut status = vec![BLOCK_STATUS_INVALID; self.batch.len()];
        let mut start = 0;
        while start < self.batch.len() {
            let flush_at = self.batch[start..]
                .iter()
                .position(|(_, op)| op.is_some_and(|op| op.kind == IoKind::Flush))
                .map(|p| start + p);
            let end = flush_at.map_or(self.batch.len(), |p| p + 1);
            self.ops.clear();
            let mut which = Vec::new();
            for (i, (_, op)) in self.batch[start..end].iter().enumerate() {
                // A buffer the guest may not access answers EINVAL, not a tender error.
                let accessible = |op: &IoOp| {
                    ram.io_ptr(op.gpa, u64::from(op.len), op.kind == IoKind::Read)
                        .is_ok()
                };
                match op {
                    Some(op) if op.kind != IoKind::Flush && accessible(op) => {
                        self.ops.push(*op);
                        which.push(start + i);
                    }
                    _ => {}
                }
            }
            engine.run(ram, &self.ops, false, &mut self.results)?;
            for (&i, (&result, op)) in which.iter().zip(self.results.iter().zip(&self.ops)) {
                status[i] = if result == i64::from(op.len) {
                    BLOCK_STATUS_OK
                } else {
                    BLOCK_STATUS_IO_ERROR
                };
            }
            if let Some(p) = flush_at {
                let flush = [self.batch[p].1.unwrap()];
                engine.run(ram, &flush, false, &mut self.results)?;
                status[p] = if self.results[0] == 0 {
                    BLOCK_STATUS_OK
                } else {
                    BLOCK_STATUS_IO_ERROR
                };
            }
            start = end;
        }
        Ok(status)
    }

    /// Takes as many requests as there are free response slots, runs them,
    /// and answers each; true if any were taken. At most that many reads
    /// are tried, epoch changes included, so a guest republishing its
    /// channel forever cannot keep the worker here.
    pub fn pump(&mut self, ram: &GuestRam, engine: &mut dyn IoEngine) -> Result<bool, TenderError> {
        let guest_rc = ram.load_u64(self.area + AREA_GUEST_READ_COUNTER, Ordering::Acquire)?;
        let free = self.responses.free_slots(guest_rc);
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
            let op = self.plan(&req);
            self.batch.push((req, op));
        }
        if self.batch.is_empty() {
            return Ok(false);
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
                .map_err(|_| TenderError::GuestExit("block ring: response slot vanished".into()))?;
        }
        ram.store_u64(
            self.area + AREA_HOST_READ_COUNTER,
            self.requests.rc(),
            Ordering::Release,
        )?;
        Ok(true)
    }
}
