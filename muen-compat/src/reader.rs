//! The channel reader.

use core::sync::atomic::{fence, Ordering};

use crate::error::ChannelError;
use crate::header::{
    HEADER_SIZE, OFFSET_ELEMENTS, OFFSET_EPOCH, OFFSET_PROTOCOL, OFFSET_SIZE, OFFSET_TRANSPORT,
    OFFSET_WC, OFFSET_WSC, SHMSTREAM20_MARKER,
};
use crate::memory::SharedMemory;

/// Outcome of a read, in Muen's order (the discriminants are Muen's values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadResult {
    /// The channel's epoch is 0: no writer is active.
    Inactive = 0,
    /// Wrong transport marker or protocol, or a geometry this reader cannot
    /// accept (zero size or count, element larger than the reader's maximum,
    /// or elements that do not fit in the region).
    IncompatibleInterface = 1,
    /// The reader (re)synchronised to a new epoch, or the epoch changed during
    /// the read; no element was returned and the read counter restarts at 0.
    EpochChanged = 2,
    /// Nothing new to read.
    NoData = 3,
    /// The writer overwrote the element at the read counter (before or while
    /// it was copied), or published impossible counters. No element was
    /// returned and the read counter did not move: [`Reader::drain`] recovers.
    OverrunDetected = 4,
    /// One element was read and the read counter advanced.
    Success = 5,
}

/// One reader of a channel.
///
/// The reader copies the channel geometry once per epoch, validates it
/// against its own region, and from then on derives every offset from that
/// private copy and its private read counter, so nothing the writer stores
/// can make it access memory outside the region.
#[derive(Debug)]
pub struct Reader<M: SharedMemory> {
    mem: M,
    protocol: u64,
    max_size: usize,
    /// Epoch synchronised to; 0 when not synchronised.
    epoch: u64,
    size: usize,
    elements: u64,
    rc: u64,
    /// A [`peek`](Self::peek) returned an element not yet consumed.
    peeked: bool,
}

impl<M: SharedMemory> Reader<M> {
    /// A reader of the channel in `mem` that accepts protocol
    /// `expected_protocol` and elements of at most `max_element_size` bytes.
    /// It synchronises on the first read.
    ///
    /// Errors: a region smaller than the header, protocol 0 or a maximum
    /// element size of 0.
    pub fn new(
        mem: M,
        expected_protocol: u64,
        max_element_size: usize,
    ) -> Result<Self, ChannelError> {
        if mem.len() < HEADER_SIZE {
            return Err(ChannelError::RegionTooSmall);
        }
        if expected_protocol == 0 {
            return Err(ChannelError::InvalidProtocol);
        }
        if max_element_size == 0 {
            return Err(ChannelError::InvalidElementSize);
        }
        Ok(Self {
            mem,
            protocol: expected_protocol,
            max_size: max_element_size,
            epoch: 0,
            size: 0,
            elements: 0,
            rc: 0,
            peeked: false,
        })
    }

    /// Read the next element into `buf`.
    ///
    /// Muen's algorithm: an inactive channel gives `Inactive`; a new epoch
    /// makes the reader resynchronise (`EpochChanged` or
    /// `IncompatibleInterface`); then `NoData` if the read counter has caught
    /// up, `OverrunDetected` if `wc - rc > elements` before the copy or
    /// `wsc - rc > elements` after it (the read counter is left alone), else
    /// `Success`. The epoch is checked again last, and a change turns any
    /// result into `EpochChanged`.
    ///
    /// On `Success`, `buf[..element_size]` holds the element; a `buf` shorter
    /// than the element gets only its first `buf.len()` bytes. Pass a buffer
    /// of `max_element_size` bytes to never truncate. Only `Success` writes
    /// meaningful data to `buf`; after `OverrunDetected` its contents are
    /// unspecified.
    pub fn read(&mut self, buf: &mut [u8]) -> ReadResult {
        self.peeked = false;
        let offset = match self.prepare() {
            Ok(offset) => offset,
            Err(result) => return result,
        };
        let n = buf.len().min(self.size);
        self.mem.read_bytes(offset, &mut buf[..n]);
        let result = self.validate_and_advance();
        self.finish(result)
    }

    /// Zero-copy read, first half: the offset (from the region start) of the
    /// next element, [`element_size`](Self::element_size) bytes, after the
    /// same checks as [`read`](Self::read); or the result `read` would have
    /// returned (never `Success`).
    ///
    /// How a caller reads in place:
    /// 1. `let off = reader.peek()?;`
    /// 2. copy or parse the element at `off` through
    ///    [`memory()`](Self::memory), treating it as speculative: do not act
    ///    on it yet;
    /// 3. [`consume()`](Self::consume): `Success` means the bytes read in
    ///    step 2 were intact and the read counter advanced; act on them.
    ///    `OverrunDetected` means the writer overwrote the slot meanwhile:
    ///    discard what was read and [`drain`](Self::drain) (counting the
    ///    loss). `EpochChanged`: discard, the channel was reset.
    ///
    /// In lossless mode the reader publishes [`rc()`](Self::rc) (release)
    /// only once it no longer needs the slot, so the slot cannot change
    /// under it and `consume` will not report an overrun from an honest
    /// writer.
    pub fn peek(&mut self) -> Result<usize, ReadResult> {
        self.peeked = false;
        let offset = self.prepare()?;
        self.peeked = true;
        Ok(offset)
    }

    /// Zero-copy read, second half: re-check `wsc` (acquire fence first, so
    /// every read of the slot happened before) and, if the slot was not
    /// overwritten and the epoch did not change, advance the read counter
    /// and return `Success`. See [`peek`](Self::peek).
    ///
    /// Without an outstanding successful `peek` (or after a `read`, `drain`
    /// or second `consume`), returns `NoData` and does nothing.
    pub fn consume(&mut self) -> ReadResult {
        if !self.peeked {
            return ReadResult::NoData;
        }
        self.peeked = false;
        let result = self.validate_and_advance();
        self.finish(result)
    }

    /// Whether a read would find something other than `NoData`, `Inactive`
    /// or `IncompatibleInterface`: an element, or an overrun to drain.
    /// Resynchronises to a new epoch if needed (the `EpochChanged` is
    /// absorbed; the next read starts the new epoch).
    pub fn has_pending_data(&mut self) -> bool {
        let epoch = self.mem.load_acquire(OFFSET_EPOCH);
        if epoch == 0 {
            self.epoch = 0;
            return false;
        }
        if self.epoch != epoch {
            self.peeked = false;
            self.sync(epoch);
            if self.epoch == 0 {
                return false;
            }
        }
        self.mem.load_acquire(OFFSET_WC) != self.rc
    }

    /// Skip everything written so far (`rc = wc`): how a lossy reader
    /// recovers from `OverrunDetected`. Does nothing while not synchronised.
    pub fn drain(&mut self) {
        self.peeked = false;
        if self.epoch != 0 {
            self.rc = self.mem.load_acquire(OFFSET_WC);
        }
    }

    /// The read counter: elements consumed in the current epoch (what a
    /// lossless reader publishes to its writer).
    pub fn rc(&self) -> u64 {
        self.rc
    }

    /// The epoch synchronised to, 0 if none.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Element size of the current epoch, `None` if not synchronised.
    pub fn element_size(&self) -> Option<usize> {
        (self.epoch != 0).then_some(self.size)
    }

    /// Number of slots of the current epoch, `None` if not synchronised.
    pub fn elements(&self) -> Option<u64> {
        (self.epoch != 0).then_some(self.elements)
    }

    /// The memory holding the channel, for in-place reads after
    /// [`peek`](Self::peek).
    pub fn memory(&self) -> &M {
        &self.mem
    }

    /// Checks before touching an element: epoch, synchronisation, counters.
    /// `Ok` holds the offset of the element at `rc`.
    fn prepare(&mut self) -> Result<usize, ReadResult> {
        let epoch = self.mem.load_acquire(OFFSET_EPOCH);
        if epoch == 0 {
            self.epoch = 0;
            return Err(ReadResult::Inactive);
        }
        if self.epoch != epoch {
            return Err(self.sync(epoch));
        }
        let wc = self.mem.load_acquire(OFFSET_WC);
        if wc == self.rc {
            return Err(self.finish(ReadResult::NoData));
        }
        // `rc > wc` is a protocol error of the writer: treat it as an overrun.
        if wc < self.rc || wc - self.rc > self.elements {
            return Err(self.finish(ReadResult::OverrunDetected));
        }
        let slot = (self.rc % self.elements) as usize;
        // Validated at synchronisation: `64 + size * elements <= len`.
        Ok(HEADER_SIZE + slot * self.size)
    }

    /// After the element was read: was it overwritten meanwhile?
    fn validate_and_advance(&mut self) -> ReadResult {
        fence(Ordering::Acquire);
        let wsc = self.mem.load_acquire(OFFSET_WSC);
        if wsc.wrapping_sub(self.rc) > self.elements {
            return ReadResult::OverrunDetected;
        }
        self.rc += 1;
        ReadResult::Success
    }

    /// Final epoch check: a change meanwhile overrides `result`.
    fn finish(&mut self, result: ReadResult) -> ReadResult {
        if self.mem.load_acquire(OFFSET_EPOCH) != self.epoch {
            self.epoch = 0;
            self.peeked = false;
            return ReadResult::EpochChanged;
        }
        result
    }

    /// Synchronise to `epoch` (non-zero, just loaded): copy and validate the
    /// geometry, restart the read counter.
    fn sync(&mut self, epoch: u64) -> ReadResult {
        self.epoch = 0;
        let transport = self.mem.load_acquire(OFFSET_TRANSPORT);
        let protocol = self.mem.load_acquire(OFFSET_PROTOCOL);
        let size = self.mem.load_acquire(OFFSET_SIZE);
        let elements = self.mem.load_acquire(OFFSET_ELEMENTS);
        // The fields may only change while the epoch is 0: if it moved, they
        // may be a mix of two epochs, so synchronise again on the next call.
        match self.mem.load_acquire(OFFSET_EPOCH) {
            0 => return ReadResult::Inactive,
            now if now != epoch => return ReadResult::EpochChanged,
            _ => {}
        }
        if transport != SHMSTREAM20_MARKER || protocol != self.protocol {
            return ReadResult::IncompatibleInterface;
        }
        let Some(size) = self.accept_geometry(size, elements) else {
            return ReadResult::IncompatibleInterface;
        };
        self.epoch = epoch;
        self.size = size;
        self.elements = elements;
        self.rc = 0;
        ReadResult::EpochChanged
    }

    /// The element size as `usize` if `size × elements` elements are
    /// acceptable and fit in the region after the header.
    fn accept_geometry(&self, size: u64, elements: u64) -> Option<usize> {
        let size = usize::try_from(size).ok()?;
        let count = usize::try_from(elements).ok()?;
        if size == 0 || count == 0 || size > self.max_size {
            return None;
        }
        let end = size.checked_mul(count)?.checked_add(HEADER_SIZE)?;
        (end <= self.mem.len()).then_some(size)
    }
}
