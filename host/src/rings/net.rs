//! A net device's rings: tx (guest→host) drained into the tap, rx
//! (host→guest) filled from the tap, both in batches. On ringtender's rings
//! (hvt, spt) both directions are lossless through the read counters of the
//! device area; as a Muen subject's net peer there are no such counters, and
//! the rx channel is paced by renewing its epoch ([`MuenRx`]).

use std::os::fd::RawFd;
use std::sync::atomic::{fence, Ordering};
use std::time::{Duration, Instant};

use ringtender_abi::rings::{
    AREA_GUEST_READ_COUNTER, AREA_GUEST_RX_OWNER, AREA_HOST_READ_COUNTER, AREA_HOST_RX_PASS,
    AREA_RX_DROPPED,
};
use ringtender_abi::solo5::SOLO5_NET_HLEN;
use ringtender_muen_compat::net::{net_frame_len, net_length_offset, LENGTH_FIELD};
use ringtender_muen_compat::{ReadResult, Reader, SharedMemory, Writer, OFFSET_WC};

use super::engine::{IoEngine, IoKind, IoOp};
use super::region::GuestRegion;
use crate::error::TenderError;
use crate::guest_memory::GuestRam;

/// Frames moved per batch and direction.
const BATCH: u64 = 64;
/// Tap reads of an rx batch's first look (`NetRing::pump_rx`).
const RX_PROBE: u64 = 8;

/// How long a Muen rx channel written full stays untouched before the peer
/// renews it for frames waiting in the tap ([`MuenRx`]): time for a subject
/// that fell behind (at CPL 0 on this machine, some 10 ms a frame) to read
/// what it holds.
pub const MUEN_RX_RENEWAL_IDLE: Duration = Duration::from_secs(1);

/// How the host learns what the guest has read.
pub enum NetFlow {
    /// ringtender's rings (hvt, spt): the device area at `area` holds both
    /// read counters (lossless both ways). With `lossy`, frames for a full
    /// rx ring are dropped and counted instead of left in the tap.
    Area {
        /// Guest address of the device area.
        area: u64,
        /// Drop (and count) frames for a full rx ring.
        lossy: bool,
    },
    /// A Muen subject's peer: plain SHMStream v2, no reader counters.
    Muen(MuenRx),
}

/// The rx pacing of a Muen net peer.
///
/// A Muen reader publishes nothing, so the writer cannot know how far it
/// has read, and upstream Solo5's reader never recovers from an overrun
/// (it keeps reporting it without moving its read counter). The peer
/// therefore writes at most one ring of frames per epoch, which no reader
/// can find overrun (`wc - rc` never exceeds `elements`). Once the ring is
/// written full, frames wait in the tap; when one does and the channel has
/// not been written for [`MUEN_RX_RENEWAL_IDLE`], the peer starts a new
/// epoch (every reader resynchronises at read counter 0) and goes on.
/// Frames a subject has not read by then are lost, as with any Muen writer
/// that gets ahead of its reader; and upstream's `test_net` takes an epoch
/// change met between its yield and its read for a read error.
///
/// A subject whose readers resynchronise after an overrun (ringtender's
/// bindings, RNG3 note flag `RING3_FLAG_RINGS`) needs none of this: for it
/// the peer is a plain Muen writer, as Linux `muennet` is on a real Muen,
/// and writes around the ring without waiting ([`MuenRx::overwriting`]). A
/// reader more than a ring behind loses the frames overwritten.
pub struct MuenRx {
    next_epoch: u64,
    last_write: Instant,
    overwrite: bool,
}

impl MuenRx {
    /// Pacing for a channel the peer initialised with an epoch below `next_epoch`.
    pub fn new(next_epoch: u64) -> Self {
        Self {
            next_epoch,
            last_write: Instant::now(),
            overwrite: false,
        }
    }

    /// A plain Muen writer, for a subject whose readers resynchronise
    /// after an overrun: no pacing.
    pub fn overwriting() -> Self {
        Self {
            overwrite: true,
            ..Self::new(1)
        }
    }
}

/// One net device served through rings.
pub struct NetRing {
    /// Tap descriptor (the worker's wait set watches it).
    pub tap_fd: RawFd,
    /// Whether the worker's wait set currently watches the tap.
    pub armed: bool,
    /// Whether the last rx pass found the rx ring full (tap left unread).
    rx_blocked: bool,
    /// spt: the guest may fill the rx ring itself while it waits
    /// ([`NetRing::share_rx_with_guest`]).
    guest_rx: bool,
    flow: NetFlow,
    dropped: u64,
    file: u32,
    frame_max: usize,
    tx: Reader<GuestRegion>,
    rx: Writer<GuestRegion>,
    ops: Vec<IoOp>,
    results: Vec<i64>,
    /// A frame on its way down an rx gap.
    gap: Vec<u8>,
}

impl NetRing {
    /// Serves the channels `tx` and `rx` as `flow` says, with the tap as
    /// engine file `file`; frames of at most `frame_max` bytes.
    pub fn new(
        flow: NetFlow,
        tap_fd: RawFd,
        file: u32,
        frame_max: usize,
        tx: Reader<GuestRegion>,
        rx: Writer<GuestRegion>,
    ) -> Self {
        Self {
            tap_fd,
            armed: false,
            rx_blocked: false,
            guest_rx: false,
            flow,
            dropped: 0,
            file,
            frame_max,
            tx,
            rx,
            ops: Vec::with_capacity(BATCH as usize),
            results: Vec::with_capacity(BATCH as usize),
            gap: Vec::new(),
        }
    }

    /// Lets the guest take the rx ring over while it waits (spt, with
    /// `SPT_FEATURE_GUEST_TAPS`): every look at or fill of the ring is
    /// then a pass bracketed by `rx_pass`, skipped while the guest's
    /// `rx_owner` is set (`docs/architecture.md`, "An idle guest on spt").
    pub fn share_rx_with_guest(&mut self) {
        self.guest_rx = true;
    }

    /// Starts a pass over the rx ring: true if the worker may touch it.
    /// With a guest that shares it: sets `rx_pass`, fences, and reads the
    /// guest's `rx_owner`; while the guest owns the ring the pass ends at
    /// once. Taking the ring back, it continues at the write counter the
    /// guest left, read once and taken only if consistent with the guest's
    /// read counter (at most a ring ahead of it): a guest that scribbles
    /// either keeps our own counter and loses its own input, nothing else.
    fn begin_rx_pass(&mut self, ram: &GuestRam) -> Result<bool, TenderError> {
        let Some(area) = self.shared_rx_area() else {
            return Ok(true);
        };
        ram.store_u64(area + AREA_HOST_RX_PASS, 1, Ordering::SeqCst)?;
        fence(Ordering::SeqCst);
        if ram.load_u64(area + AREA_GUEST_RX_OWNER, Ordering::SeqCst)? != 0 {
            ram.store_u64(area + AREA_HOST_RX_PASS, 0, Ordering::Release)?;
            return Ok(false);
        }
        let wc = ram.load_u64(self.rx.memory().gpa(OFFSET_WC), Ordering::Acquire)?;
        let guest_rc = ram.load_u64(area + AREA_GUEST_READ_COUNTER, Ordering::Acquire)?;
        if wc.wrapping_sub(guest_rc) <= self.rx.elements() {
            self.rx.resume_at(wc);
        }
        Ok(true)
    }

    /// Whether the guest fills the rx ring itself now (its `rx_owner`; a
    /// hint, read without a pass: the worker only decides by it whether
    /// the tap set stays in its wait).
    pub fn guest_owns_rx(&self, ram: &GuestRam) -> Result<bool, TenderError> {
        match self.shared_rx_area() {
            Some(area) => Ok(ram.load_u64(area + AREA_GUEST_RX_OWNER, Ordering::SeqCst)? != 0),
            None => Ok(false),
        }
    }

    /// Ends a pass [`NetRing::begin_rx_pass`] allowed.
    fn end_rx_pass(&self, ram: &GuestRam) -> Result<(), TenderError> {
        match self.shared_rx_area() {
            Some(area) => Ok(ram.store_u64(area + AREA_HOST_RX_PASS, 0, Ordering::Release)?),
            None => Ok(()),
        }
    }

    /// The device area whose `rx_owner`/`rx_pass` words bracket our rx
    /// passes: only for a ring the guest may fill itself.
    fn shared_rx_area(&self) -> Option<u64> {
        match self.flow {
            NetFlow::Area { area, .. } if self.guest_rx => Some(area),
            _ => None,
        }
    }

    /// Whether the guest has published frames the host has not taken.
    pub fn tx_pending(&mut self) -> bool {
        self.tx.has_pending_data()
    }

    /// Whether the tap must be watched even with a full rx ring (lossy
    /// mode drops what arrives then).
    pub fn lossy(&self) -> bool {
        matches!(self.flow, NetFlow::Area { lossy: true, .. })
    }

    /// Whether the rx ring was full at the last pass and the guest has
    /// since drained half of it: the tap may hold frames that waited for
    /// it. Less room is not worth a pass: a guest that releases past the
    /// half mark after our `HOST_SLEEPING_RX_FULL` rings us there (or at
    /// the empty mark), so a worker that sleeps with less is woken with a
    /// half ring to refill in one batch rather than a slot at a time.
    pub fn rx_unblocked(&self, ram: &GuestRam) -> Result<bool, TenderError> {
        Ok(self.rx_blocked && self.rx_free(ram)? >= self.rx.elements().div_ceil(2))
    }

    /// Guest address of the device area (ringtender's rings only).
    pub fn area(&self) -> Option<u64> {
        match self.flow {
            NetFlow::Area { area, .. } => Some(area),
            NetFlow::Muen(_) => None,
        }
    }

    /// The worker's look before it sleeps: true if the rx ring is full and
    /// frames must wait in the tap (lossy mode never lets them wait); a
    /// full ring counts as blocked for [`NetRing::rx_unblocked`], and only
    /// a full one: the guest rings for room only after the
    /// `HOST_SLEEPING_RX_FULL` this look decides, so a ring the guest
    /// drained a little since the last pass keeps its tap watched.
    /// A ring the guest fills itself (it waits) is never full for us, and
    /// its tap must stay armed: the guest waits on it through the tap set.
    pub fn note_rx_full(&mut self, ram: &GuestRam) -> Result<bool, TenderError> {
        if !self.begin_rx_pass(ram)? {
            self.rx_blocked = false;
            return Ok(false);
        }
        let full = !self.lossy() && self.rx_free(ram)? == 0;
        self.end_rx_pass(ram)?;
        self.rx_blocked = full;
        Ok(full)
    }

    /// Whether frames wait in the tap for room in a full rx ring: the tap
    /// must not be watched (its input would wake the watcher for nothing).
    pub fn rx_full_noted(&self) -> bool {
        self.rx_blocked && !self.lossy()
    }

    /// Free rx slots: never past the guest's published read counter on
    /// ringtender's rings; on a Muen channel what is left of the epoch's ring.
    pub fn rx_free(&self, ram: &GuestRam) -> Result<u64, TenderError> {
        match self.flow {
            NetFlow::Area { area, .. } => {
                let guest_rc = ram.load_u64(area + AREA_GUEST_READ_COUNTER, Ordering::Acquire)?;
                Ok(self.rx.free_slots(guest_rc))
            }
            NetFlow::Muen(MuenRx {
                overwrite: true, ..
            }) => Ok(self.rx.elements()),
            NetFlow::Muen(_) => Ok(self.rx.elements().saturating_sub(self.rx.wc())),
        }
    }

    /// A Muen rx channel written full: renews it (new epoch, empty ring)
    /// when a frame waits in the tap and the channel has been left alone
    /// for [`MUEN_RX_RENEWAL_IDLE`]; the free slots after that.
    fn renew_muen_rx(&mut self) -> Result<u64, TenderError> {
        let NetFlow::Muen(pacing) = &mut self.flow else {
            return Ok(0);
        };
        if pacing.last_write.elapsed() < MUEN_RX_RENEWAL_IDLE
            || !crate::tap::frame_waiting(self.tap_fd).map_err(|source| TenderError::Io {
                what: "polling",
                source,
            })?
        {
            return Ok(0);
        }
        self.rx
            .reset(pacing.next_epoch)
            .expect("renewal epochs are never 0");
        pacing.next_epoch = pacing.next_epoch.wrapping_add(1).max(1);
        Ok(self.rx.elements())
    }

    /// Guest address of the host→guest channel's write counter and of the
    /// guest's read counter: readiness for POLL (ringtender's rings only).
    pub fn rx_counters(&self) -> Option<(u64, u64)> {
        match self.flow {
            NetFlow::Area { area, .. } => Some((
                self.rx.memory().gpa(OFFSET_WC),
                area + AREA_GUEST_READ_COUNTER,
            )),
            NetFlow::Muen(_) => None,
        }
    }

    /// Sends the frames the guest queued, at most [`BATCH`] elements or
    /// epoch changes per call (a guest that republishes its channel forever
    /// gets one bounded share of the worker's round, like any other
    /// device); true if the guest's channel moved (frames sent, or elements
    /// taken and ignored).
    pub fn pump_tx(
        &mut self,
        ram: &GuestRam,
        engine: &mut dyn IoEngine,
    ) -> Result<bool, TenderError> {
        let rc = self.tx.rc();
        self.ops.clear();
        for _ in 0..BATCH {
            let offset = match self.tx.peek() {
                Ok(offset) => offset,
                Err(ReadResult::EpochChanged) => continue,
                Err(ReadResult::OverrunDetected) => {
                    // Only a guest ignoring our read counter gets here; its frames are its loss.
                    self.tx.drain();
                    break;
                }
                Err(_) => break,
            };
            // The length field ends the element, whose size is the channel's:
            // a guest may have made it smaller than ours.
            let size = self.tx.element_size().unwrap_or(0);
            let len = net_length_offset(size).and_then(|at| {
                let mut raw = [0u8; LENGTH_FIELD];
                SharedMemory::read_bytes(self.tx.memory(), offset + at, &mut raw);
                net_frame_len(size, raw).ok()
            });
            match self.tx.consume() {
                ReadResult::Success => {}
                ReadResult::OverrunDetected => {
                    // The guest's write started counter says the slot
                    // changed under us: its frames are its loss.
                    self.tx.drain();
                    break;
                }
                _ => continue,
            }
            if let Some(len @ SOLO5_NET_HLEN..) = len {
                self.ops.push(IoOp {
                    kind: IoKind::Write,
                    file: self.file,
                    gpa: self.tx.memory().gpa(offset),
                    len: len as u32,
                    offset: None,
                });
            }
        }
        if self.ops.is_empty() && self.tx.rc() == rc {
            return Ok(false);
        }
        engine.run(ram, &self.ops, false, &mut self.results)?;
        for (op, &result) in self.ops.iter().zip(&self.results) {
            if result < 0 {
                return Err(TenderError::Io {
                    what: "writing",
                    source: std::io::Error::from_raw_os_error(-result as i32),
                });
            }
            if result != i64::from(op.len) {
                return Err(TenderError::ShortTransfer {
                    verb: "wrote",
                    done: result as u64,
                    len: u64::from(op.len),
                });
            }
        }
        if let NetFlow::Area { area, .. } = self.flow {
            ram.store_u64(
                area + AREA_HOST_READ_COUNTER,
                self.tx.rc(),
                Ordering::Release,
            )?;
        }
        Ok(true)
    }

    /// Lossy mode with a full rx ring: reads a batch of waiting frames off
    /// the tap, drops them and publishes the count at `AREA_RX_DROPPED`.
    fn drop_rx(&mut self, ram: &GuestRam, area: u64) -> Result<(), TenderError> {
        let n = crate::tap::discard_frames(self.tap_fd, BATCH as usize).map_err(|source| {
            TenderError::Io {
                what: "reading",
                source,
            }
        })?;
        if n > 0 {
            self.dropped += n as u64;
            ram.store_u64(area + AREA_RX_DROPPED, self.dropped, Ordering::Release)?;
        }
        Ok(())
    }

    /// Reads frames from the tap into free rx slots; true if any arrived.
    /// Nothing while the guest fills the ring itself.
    pub fn pump_rx(
        &mut self,
        ram: &GuestRam,
        engine: &mut dyn IoEngine,
    ) -> Result<bool, TenderError> {
        if !self.begin_rx_pass(ram)? {
            self.rx_blocked = false;
            return Ok(false);
        }
        let filled = self.fill_rx(ram, engine);
        self.end_rx_pass(ram)?;
        filled
    }

    /// One batch of tap reads into free rx slots (within a pass).
    fn fill_rx(&mut self, ram: &GuestRam, engine: &mut dyn IoEngine) -> Result<bool, TenderError> {
        let mut free = self.rx_free(ram)?;
        if free == 0 {
            free = self.renew_muen_rx()?;
        }
        let free = free.min(BATCH);
        self.rx_blocked = free == 0;
        if free == 0 {
            if let NetFlow::Area { area, lossy: true } = self.flow {
                self.drop_rx(ram, area)?;
            }
            return Ok(false);
        }
        self.rx.begin(free);
        let mut filled = 0u64;
        let mut issued = 0u64;
        while issued < free {
            // A first look of RX_PROBE reads, the rest only if each found a
            // frame: an engine that issues every read of a batch makes at
            // most RX_PROBE of them on an empty tap.
            let count = if issued == 0 {
                free.min(RX_PROBE)
            } else {
                free - issued
            };
            let before = filled;
            self.ops.clear();
            for i in issued..issued + count {
                self.ops.push(IoOp {
                    kind: IoKind::Read,
                    file: self.file,
                    gpa: self.rx.memory().gpa(self.rx.slot_offset(i)),
                    len: self.frame_max as u32,
                    offset: None,
                });
            }
            engine.run(ram, &self.ops, true, &mut self.results)?;
            for (k, &result) in self.results.iter().enumerate() {
                let len = match result {
                    n if n > 0 => (n as usize).min(self.frame_max),
                    e if e == 0
                        || e == -i64::from(libc::EAGAIN)
                        || e == super::engine::CANCELED =>
                    {
                        continue
                    }
                    e => {
                        return Err(TenderError::Io {
                            what: "reading",
                            source: std::io::Error::from_raw_os_error(-e as i32),
                        })
                    }
                };
                let read = issued + k as u64;
                let slot = self.rx.slot_offset(filled);
                if read != filled {
                    // An engine that issued every read: a frame came after
                    // a read that found the tap empty. Close the gap (ring
                    // order is tap order: the reads ran one after the other).
                    self.gap.resize(len, 0);
                    let from = self.rx.slot_offset(read);
                    SharedMemory::read_bytes(self.rx.memory(), from, &mut self.gap);
                    SharedMemory::write_bytes(self.rx.memory(), slot, &self.gap);
                }
                SharedMemory::write_bytes(
                    self.rx.memory(),
                    slot + self.frame_max,
                    &(len as u16).to_le_bytes(),
                );
                filled += 1;
            }
            issued += count;
            if filled - before < count {
                break;
            }
        }
        self.rx.commit(filled);
        if filled < free {
            // wsc back to wc: it covers only what was written (a Muen
            // reader takes an announced slot for one being overwritten).
            self.rx.begin(0);
        }
        if let (NetFlow::Muen(pacing), 1..) = (&mut self.flow, filled) {
            pacing.last_write = Instant::now();
        }
        Ok(filled > 0)
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::sync::Arc;

    use ringtender_abi::rings::{net_element_size, CHANNEL_HEADER_SIZE, NET_RING_ELEMENTS};
    use ringtender_muen_compat::NET_PROTOCOL;

    use super::*;
    use crate::rings::engine::{EngineFile, PortableEngine};

    const AREA: u64 = 0x1000;
    const TX: u64 = 0x2000;
    const MTU: u64 = 1500;

    /// A socket pair whose first end plays the tap: one message a read.
    fn tap_pair() -> (OwnedFd, OwnedFd) {
        let (a, b) = std::os::unix::net::UnixDatagram::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        (a.into(), b.into())
    }

    /// A full rx ring wakes the worker for a half ring, not a slot: until
    /// the guest has released half of it (where it rings a sleeping
    /// worker), the ring counts as blocked.
    #[test]
    fn a_full_rx_ring_is_unblocked_by_half_a_ring() {
        let element = net_element_size(MTU);
        let elements = u64::from(NET_RING_ELEMENTS);
        let channel = CHANNEL_HEADER_SIZE + element * elements;
        let rx_at = TX + channel;
        let size = (rx_at + channel).next_multiple_of(0x1000) + 0x1000;
        let mut ram = GuestRam::new(size.next_power_of_two()).unwrap();
        ram.set_guest_access(vec![0..size], vec![0..size]);
        let ram = Arc::new(ram);
        let region = |at: u64| GuestRegion::new(ram.clone(), at, channel as usize);
        let tx = Reader::new(region(TX), NET_PROTOCOL, element as usize).unwrap();
        let rx = Writer::init_zeroed(region(rx_at), NET_PROTOCOL, element as usize, 1).unwrap();
        let (tap, peer) = tap_pair();
        let flow = NetFlow::Area {
            area: AREA,
            lossy: false,
        };
        let mut net = NetRing::new(flow, tap.as_raw_fd(), 0, element as usize - 2, tx, rx);
        let mut engine = PortableEngine::new(&[EngineFile {
            fd: tap.as_raw_fd(),
            stream: true,
        }]);
        let peer = std::os::unix::net::UnixDatagram::from(peer);
        for i in 0..elements + 8 {
            peer.send(&[i as u8; 64]).unwrap();
        }
        while net.pump_rx(&ram, &mut engine).unwrap() {}
        assert!(net.note_rx_full(&ram).unwrap(), "the ring should be full");
        let release = |count: u64| {
            ram.store_u64(AREA + AREA_GUEST_READ_COUNTER, count, Ordering::Release)
                .unwrap();
        };
        for released in [1, elements / 2 - 1] {
            release(released);
            assert!(
                !net.rx_unblocked(&ram).unwrap(),
                "unblocked after {released} of {elements} slots released"
            );
        }
        release(elements / 2);
        assert!(net.rx_unblocked(&ram).unwrap());
        // The next pass takes the frames that waited, half a ring at most.
        assert!(net.pump_rx(&ram, &mut engine).unwrap());
        assert!(!net.rx_unblocked(&ram).unwrap());
    }
}
