//! The channel writer.

use core::sync::atomic::{fence, Ordering};

use crate::error::{ChannelError, ElementTooLarge, WriteError};
use crate::header::{
    HEADER_SIZE, OFFSET_ELEMENTS, OFFSET_EPOCH, OFFSET_PROTOCOL, OFFSET_RESERVED, OFFSET_SIZE,
    OFFSET_TRANSPORT, OFFSET_WC, OFFSET_WSC, SHMSTREAM20_MARKER,
};
use crate::memory::SharedMemory;

/// The single writer of a channel.
///
/// The writer keeps its geometry and counters in private state and never
/// reads the header back, so a peer that scribbles over the header or the
/// elements cannot make it write outside the region.
///
/// Two modes, chosen per call:
/// - **lossy** ([`write`](Self::write)): exactly Muen's writer; a slow reader
///   is overrun and detects it;
/// - **lossless** ([`try_write`](Self::try_write), or the batch API
///   [`free_slots`](Self::free_slots) / [`slot_offset`](Self::slot_offset) /
///   [`begin`](Self::begin) / [`commit`](Self::commit)): the caller passes the
///   read counter the reader published (loaded with acquire ordering), and no
///   element the reader has not finished with is overwritten.
#[derive(Debug)]
pub struct Writer<M: SharedMemory> {
    mem: M,
    protocol: u64,
    size: usize,
    elements: u64,
    wc: u64,
}

impl<M: SharedMemory> Writer<M> {
    /// Initialise a channel in `mem` as Muen's writer does and return its writer.
    ///
    /// Sequence: epoch ← 0 (readers see the channel inactive), header and
    /// element area zeroed, transport/protocol/size set, `elements =
    /// (len - 64) / element_size`, `wsc = wc = 0`, and the epoch published
    /// last with release ordering.
    ///
    /// Errors: `protocol` or `epoch` 0, `element_size` 0, or a region that
    /// cannot hold the header and at least one element.
    pub fn init(
        mem: M,
        protocol: u64,
        element_size: usize,
        epoch: u64,
    ) -> Result<Self, ChannelError> {
        let mut writer = Self::new(mem, protocol, element_size, epoch)?;
        writer.publish(epoch, true);
        Ok(writer)
    }

    /// As [`Writer::init`] for a region whose element area is known to be
    /// all zero (memory freshly mapped for the channel, never written):
    /// the same header sequence, without writing the element area, so that
    /// its pages are not made resident before elements use them.
    pub fn init_zeroed(
        mem: M,
        protocol: u64,
        element_size: usize,
        epoch: u64,
    ) -> Result<Self, ChannelError> {
        let mut writer = Self::new(mem, protocol, element_size, epoch)?;
        writer.publish(epoch, false);
        Ok(writer)
    }

    /// Takes over as the writer of a channel another writer initialised,
    /// at write counter `wc`, without touching the header: for a channel
    /// whose two possible writers hand production to each other (spt's rx
    /// rings, `docs/ring-abi.md` §9). Errors as [`Writer::init`].
    pub fn attach(
        mem: M,
        protocol: u64,
        element_size: usize,
        wc: u64,
    ) -> Result<Self, ChannelError> {
        let mut writer = Self::new(mem, protocol, element_size, 1)?;
        writer.wc = wc;
        Ok(writer)
    }

    /// Continues at write counter `wc`, which the other writer of a shared
    /// channel left (see [`Writer::attach`]). Any value is safe for the
    /// region: slots are taken modulo the element count.
    pub fn resume_at(&mut self, wc: u64) {
        self.wc = wc;
    }

    /// Checks the parameters and sizes the channel; writes nothing.
    fn new(mem: M, protocol: u64, element_size: usize, epoch: u64) -> Result<Self, ChannelError> {
        if protocol == 0 {
            return Err(ChannelError::InvalidProtocol);
        }
        if element_size == 0 {
            return Err(ChannelError::InvalidElementSize);
        }
        if epoch == 0 {
            return Err(ChannelError::InvalidEpoch);
        }
        let elements = mem.len().saturating_sub(HEADER_SIZE) / element_size;
        if elements == 0 {
            return Err(ChannelError::RegionTooSmall);
        }
        Ok(Self {
            mem,
            protocol,
            size: element_size,
            elements: elements as u64,
            wc: 0,
        })
    }

    /// Reset the channel: readers see it inactive, then resynchronise to
    /// `epoch` with every element dropped and the counters at 0.
    ///
    /// `epoch` must differ from the current one for readers to notice.
    pub fn reset(&mut self, epoch: u64) -> Result<(), ChannelError> {
        if epoch == 0 {
            return Err(ChannelError::InvalidEpoch);
        }
        self.wc = 0;
        self.publish(epoch, true);
        Ok(())
    }

    /// Publishes the channel under `epoch`; `zero_elements` clears the
    /// element area first (not needed over memory known to be zero).
    fn publish(&mut self, epoch: u64, zero_elements: bool) {
        let mem = &self.mem;
        mem.store_release(OFFSET_EPOCH, 0);
        for offset in (0..HEADER_SIZE).step_by(8) {
            if offset != OFFSET_EPOCH {
                mem.store_release(offset, 0);
            }
        }
        const ZEROES: [u8; 256] = [0; 256];
        let mut offset = HEADER_SIZE;
        let end = if zero_elements { mem.len() } else { offset };
        while offset < end {
            let n = (end - offset).min(ZEROES.len());
            mem.write_bytes(offset, &ZEROES[..n]);
            offset += n;
        }
        mem.store_release(OFFSET_TRANSPORT, SHMSTREAM20_MARKER);
        mem.store_release(OFFSET_PROTOCOL, self.protocol);
        mem.store_release(OFFSET_SIZE, self.size as u64);
        mem.store_release(OFFSET_ELEMENTS, self.elements);
        mem.store_release(OFFSET_RESERVED, 0);
        mem.store_release(OFFSET_WSC, 0);
        mem.store_release(OFFSET_WC, 0);
        mem.store_release(OFFSET_EPOCH, epoch);
    }

    /// Write one element, lossy (Muen's algorithm): `wsc = wc + 1`, copy into
    /// slot `wc mod elements`, `wc = wc + 1`. Overwrites the oldest element
    /// whether or not a reader has seen it.
    ///
    /// An element shorter than [`element_size`](Self::element_size) is
    /// zero-padded; a longer one is refused and nothing is written.
    pub fn write(&mut self, element: &[u8]) -> Result<(), ElementTooLarge> {
        self.check_len(element)?;
        self.begin(1);
        self.fill_slot(0, element);
        self.commit(1);
        Ok(())
    }

    /// Write one element, lossless: only if the slot it goes to no longer
    /// holds an element the reader is working on, i.e. `wc - read_counter <
    /// elements`.
    ///
    /// `read_counter` is the reader's published counter, loaded with acquire
    /// ordering (so the reader's accesses to the freed slots happen before
    /// this write). A counter ahead of `wc` can only come from a broken or
    /// hostile reader and is reported as [`WriteError::Full`].
    pub fn try_write(&mut self, element: &[u8], read_counter: u64) -> Result<(), WriteError> {
        self.check_len(element)?;
        if self.free_slots(read_counter) == 0 {
            return Err(WriteError::Full);
        }
        self.begin(1);
        self.fill_slot(0, element);
        self.commit(1);
        Ok(())
    }

    fn check_len(&self, element: &[u8]) -> Result<(), ElementTooLarge> {
        if element.len() > self.size {
            return Err(ElementTooLarge {
                len: element.len(),
                element_size: self.size,
            });
        }
        Ok(())
    }

    fn fill_slot(&self, index: u64, element: &[u8]) {
        const ZEROES: [u8; 64] = [0; 64];
        let offset = self.slot_offset(index);
        self.mem.write_bytes(offset, element);
        let mut pad = element.len();
        while pad < self.size {
            let n = (self.size - pad).min(ZEROES.len());
            self.mem.write_bytes(offset + pad, &ZEROES[..n]);
            pad += n;
        }
    }

    /// Number of slots that may be written without overwriting an element
    /// the reader has not finished with: `elements - (wc - read_counter)`,
    /// or 0 if `read_counter` is ahead of `wc` or more than a ring behind
    /// (impossible for a well-behaved reader in lossless mode).
    pub fn free_slots(&self, read_counter: u64) -> u64 {
        match self.wc.checked_sub(read_counter) {
            Some(used) => self.elements.saturating_sub(used),
            None => 0,
        }
    }

    /// Offset, from the region start, of the slot of element `wc + index`.
    ///
    /// Zero-copy production of `n` elements (the ordering contract):
    /// 1. `n = min(wanted, free_slots(read_counter))` in lossless mode
    ///    (`n <= elements` in lossy mode);
    /// 2. [`begin(n)`](Self::begin) — before touching any of the slots;
    /// 3. write each element `i < n` in place at `slot_offset(i)` through
    ///    [`memory()`](Self::memory), `element_size()` bytes each;
    /// 4. [`commit(n)`](Self::commit) — publishes them with release ordering.
    ///
    /// `slot_offset` is relative to the current `wc`, so call it between
    /// `begin` and `commit`, not after.
    pub fn slot_offset(&self, index: u64) -> usize {
        let slot = self.wc.wrapping_add(index) % self.elements;
        // `elements * size <= len - 64` (from `init`), so this cannot overflow.
        HEADER_SIZE + slot as usize * self.size
    }

    /// Announce that the next `n` elements are about to be written: stores
    /// `wsc = wc + n`, then a release fence so that the announcement is
    /// visible no later than any byte written to those slots (what lets a
    /// lossy reader detect that it was overrun while copying).
    pub fn begin(&mut self, n: u64) {
        self.mem.store_release(OFFSET_WSC, self.wc.wrapping_add(n));
        fence(Ordering::Release);
    }

    /// Publish the `n` elements announced by [`begin`](Self::begin):
    /// `wc = wc + n` with release ordering, after every byte of them.
    pub fn commit(&mut self, n: u64) {
        self.wc = self.wc.wrapping_add(n);
        self.mem.store_release(OFFSET_WC, self.wc);
    }

    /// Elements written since the current epoch began.
    pub fn wc(&self) -> u64 {
        self.wc
    }

    /// Number of slots in the ring.
    pub fn elements(&self) -> u64 {
        self.elements
    }

    /// Size of one element in bytes.
    pub fn element_size(&self) -> usize {
        self.size
    }

    /// The channel's protocol id.
    pub fn protocol(&self) -> u64 {
        self.protocol
    }

    /// The memory holding the channel, for in-place production of elements.
    pub fn memory(&self) -> &M {
        &self.mem
    }
}
