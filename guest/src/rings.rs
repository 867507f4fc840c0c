//! ringtender rings, guest side (`docs/ring-abi.md`): discovery from the boot
//! info, the per-device channels, and the operations the sync shim and the
//! ring API build on. Single vCPU, no interrupts: nothing here is reentrant.
//!
//! On muen the same types serve a Muen subject's channels (`crate::muen`
//! installs them when a device is acquired): no device area, so no read
//! counters and no doorbell; Muen's writer never waits, a received frame is
//! copied out of the channel before it is lent, and block requests go
//! through slots of the muenblock buffer region (`docs/ring-abi.md` §10).

pub use ringtender_muen_compat::block::{
    BlockResponse, BLOCK_KIND_READ, BLOCK_KIND_SYNC, BLOCK_KIND_WRITE, BLOCK_STATUS_OK,
};

use core::cell::UnsafeCell;
use core::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, Ordering};

use ringtender_abi::hvt::HVT_BOOT_INFO_BASE;
use ringtender_abi::mft::{MFT_DEV_BLOCK_BASIC, MFT_DEV_NET_BASIC, MFT_MAX_ENTRIES};
use ringtender_abi::rings::{
    net_element_size, net_frame_max, RingDirEntry, RingDirHeader, AREA_GUEST_READ_COUNTER,
    AREA_GUEST_RX_OWNER, AREA_GUEST_WAITING, AREA_HOST_FEATURES, AREA_HOST_READ_COUNTER,
    AREA_HOST_RX_PASS, AREA_HOST_SLEEPING, AREA_RX_DROPPED, BLOCK_REQUEST_SIZE,
    BLOCK_RESPONSE_SIZE, BLOCK_RING_ELEMENTS, BOOT_INFO_RING_DIR_OFFSET, CHANNEL_HEADER_SIZE,
    GUEST_WAITING_INPUT, GUEST_WAITING_TX_ROOM, HOST_FEATURE_BLOCK_DIRECT,
    HOST_FEATURE_BLOCK_DIRECT_RING, HOST_SLEEPING_GENERATION_SHIFT, HOST_SLEEPING_RX_FULL,
    HVT_FEATURE_RT_RINGS, HVT_FEATURE_RT_SEND_PORT, NET_LENGTH_FIELD, RING_DIR_VERSION,
    RT_RING_DOORBELL_PIO, RT_RING_SEND_PIO, SPT_BLOCK_SLOT_BYTES,
};
use ringtender_abi::solo5::SOLO5_R_OK;
use ringtender_abi::spt::{SptWakeInfo, SPT_FEATURE_GUEST_TAPS, SPT_WAKE_INFO_MAGIC};
use ringtender_muen_compat::block::{
    BlockRequest, BLOCK_STATUS_INVALID, BLOCK_STATUS_IO_ERROR, MUEN_BLOCK_STATUS_OK,
};
use ringtender_muen_compat::muenblock_client::{DeviceInfo, TAG_IO_BASE};
use ringtender_muen_compat::net::{MUEN_FRAME_MAX, MUEN_NET_ELEMENT_SIZE};
use ringtender_muen_compat::{
    RawRegion, ReadResult, Reader, SharedMemory, Writer, BLOCK_PROTOCOL, NET_PROTOCOL, OFFSET_WC,
};

use crate::boot;
use crate::platform::{target, Target};
use crate::spt;
use crate::{rx_pace, tx_pace};

/// One net device's channels.
pub struct NetRings {
    handle: u64,
    /// The device area (read counters, doorbell flag); None on muen.
    area: Option<u64>,
    /// spt with `SPT_FEATURE_GUEST_TAPS`: the tap, which we read while we
    /// wait and write the first answers after a wait to; -1 otherwise.
    tap_fd: i32,
    frame_max: usize,
    tx: Writer<RawRegion>,
    rx: Reader<RawRegion>,
    /// muen: the frame lent by [`NetRings::borrow`], copied out of the
    /// channel (Muen's writer may overwrite a slot at any time).
    copy: [u8; MUEN_NET_ELEMENT_SIZE],
    /// muen: frames the peer overwrote before we read them.
    lost: u64,
}

/// One block device's channels.
pub struct BlockRings {
    handle: u64,
    /// The device area (read counters, doorbell flag); None on muen.
    area: Option<u64>,
    requests: Writer<RawRegion>,
    responses: Reader<RawRegion>,
    /// spt and muen: the data slots requests must point into.
    slots: Option<DataSlots>,
    /// muen: the device as the muenblock server described it.
    muen: Option<MuenBlock>,
    /// spt: the block file the tender left to the guest
    /// (`HOST_FEATURE_BLOCK_DIRECT`), for the blocking one-block calls and
    /// the ring requests the guest serves itself.
    direct: Option<DirectFile>,
    /// Flushes of ours the host side has not answered: a request submitted
    /// behind one goes to the host too, which starts nothing taken after a
    /// flush before the flush completes.
    flushes_on_ring: usize,
    /// Requests published since the doorbell was last considered: a
    /// sleeping worker is rung when we next find no completion or wait
    /// ([`BlockRings::flush_kick`]), not after every submission.
    kick_pending: bool,
}

/// spt: the block file the guest serves ring requests from itself, and the
/// geometry the host side checks requests against.
#[derive(Clone, Copy)]
struct DirectFile {
    /// The guest serves ring reads and writes too
    /// (`HOST_FEATURE_BLOCK_DIRECT_RING`), not only the blocking calls.
    ring: bool,
    fd: i32,
    block_size: u64,
    capacity: u64,
}

impl DirectFile {
    /// Whether the host side would run `op` as a read or a write: a whole
    /// number of blocks, aligned, inside the device (`docs/ring-abi.md`
    /// §4; the data slot bounds its length). Anything else goes to the
    /// host side, which answers it as it always did.
    fn serves(&self, op: &BlockOp) -> bool {
        let bs = self.block_size;
        self.ring
            && matches!(op.kind, BLOCK_KIND_READ | BLOCK_KIND_WRITE)
            && bs != 0
            && op.length > 0
            && op.length <= SPT_BLOCK_SLOT_BYTES
            && op.length.is_multiple_of(bs)
            && op.offset.is_multiple_of(bs)
            && op
                .offset
                .checked_add(op.length)
                .is_some_and(|end| end <= self.capacity)
    }

    /// Runs `op` on the file straight from or into the caller's buffer;
    /// its status as the host side would give it.
    fn serve(&self, op: &BlockOp) -> u64 {
        let write = op.kind == BLOCK_KIND_WRITE;
        let (fd, bs) = (self.fd, self.block_size);
        match spt::block_transfer_split(write, fd, bs, op.offset, op.buffer, op.length) {
            true => BLOCK_STATUS_OK,
            false => BLOCK_STATUS_IO_ERROR,
        }
    }
}

/// A muenblock device behind [`BlockRings`].
struct MuenBlock {
    info: DeviceInfo,
    /// The request channel's event, if the policy gives one.
    event: Option<u8>,
}

/// What a request going through a data slot came with.
#[derive(Clone, Copy)]
struct SlotUse {
    tag: u32,
    kind: u16,
    buffer: u64,
    length: u64,
    /// Answered without being sent (muen: refused; spt: served by the
    /// guest itself); reaped with this status.
    answered: Option<u64>,
}

/// Block data through slots of memory the host side sees: on spt the I/O
/// worker sees only the shared ring memory, so the slots lie at the end of
/// the device's area; on muen the server sees only the muenblock buffer
/// region, which holds them. A request's wire tag is its slot; the
/// caller's tag and buffer wait here for its completion.
struct DataSlots {
    /// Guest address of slot 0.
    base: u64,
    /// What the request names as slot 0's buffer: its guest address on
    /// spt, its offset in the buffer region (0) on muen.
    wire_base: u64,
    /// Bytes from one slot to the next.
    stride: u64,
    /// Most bytes one request may move.
    capacity: u64,
    /// Slots (at most [`BLOCK_RING_ELEMENTS`]).
    count: usize,
    used: [Option<SlotUse>; BLOCK_RING_ELEMENTS as usize],
    /// Indices of the free slots, a stack of `free_len`: a request takes
    /// and a completion gives back a slot without a look at every slot
    /// (on spt a 4 KiB read the guest serves itself costs about a
    /// microsecond, and each look at 64 slots a tenth of that).
    free: [u8; BLOCK_RING_ELEMENTS as usize],
    free_len: usize,
    /// Indices of the slots whose request was answered without being sent,
    /// a stack of `answered_len`, reaped first.
    answered: [u8; BLOCK_RING_ELEMENTS as usize],
    answered_len: usize,
}

impl DataSlots {
    /// `count` slots of `stride` bytes from guest address `base`, named
    /// `wire_base` onwards in requests, each moving at most `capacity`.
    fn new(base: u64, wire_base: u64, stride: u64, capacity: u64, count: usize) -> Self {
        let mut free = [0u8; BLOCK_RING_ELEMENTS as usize];
        // Slot 0 on top.
        for (slot, index) in free[..count].iter_mut().zip((0..count).rev()) {
            *slot = index as u8;
        }
        Self {
            base,
            wire_base,
            stride,
            capacity,
            count,
            used: [None; BLOCK_RING_ELEMENTS as usize],
            free,
            free_len: count,
            answered: [0; BLOCK_RING_ELEMENTS as usize],
            answered_len: 0,
        }
    }

    /// The slot the next request takes, if one is free.
    fn free(&self) -> Option<usize> {
        let top = self.free_len.checked_sub(1)?;
        Some(usize::from(self.free[top]))
    }

    /// Gives the slot [`free`](Self::free) named to a request.
    fn occupy(&mut self, index: usize, used: SlotUse) {
        self.free_len -= 1;
        if used.answered.is_some() {
            self.answered[self.answered_len] = index as u8;
            self.answered_len += 1;
        }
        self.used[index] = Some(used);
    }

    /// Ends the request in slot `index` (a response for it came), if the
    /// slot holds one that `matches`.
    fn release(&mut self, index: usize, matches: impl Fn(&SlotUse) -> bool) -> Option<SlotUse> {
        let used = self.used[..self.count]
            .get_mut(index)
            .filter(|u| u.as_ref().is_some_and(&matches))
            .and_then(Option::take)?;
        self.free[self.free_len] = index as u8;
        self.free_len += 1;
        Some(used)
    }

    /// Ends a request answered without being sent, if one waits.
    fn release_answered(&mut self) -> Option<SlotUse> {
        self.answered_len = self.answered_len.checked_sub(1)?;
        let index = usize::from(self.answered[self.answered_len]);
        self.release(index, |u| u.answered.is_some())
    }

    fn in_use(&self) -> usize {
        self.count - self.free_len
    }
}

fn copy(from: u64, to: u64, len: u64) {
    // SAFETY: one side is a data slot of the tender's ring memory, the other
    // a buffer the API's caller passed for `len` bytes.
    unsafe { core::ptr::copy_nonoverlapping(from as *const u8, to as *mut u8, len as usize) }
}

/// One block request of the ring API.
#[derive(Clone, Copy, Debug)]
pub struct BlockOp {
    /// `BLOCK_KIND_READ`, `BLOCK_KIND_WRITE` or `BLOCK_KIND_SYNC` (flush:
    /// every write completed before it is on stable storage).
    pub kind: u16,
    /// The caller's tag, echoed in the completion.
    pub tag: u32,
    /// Byte offset on the device (a multiple of the block size).
    pub offset: u64,
    /// Guest address of the data.
    pub buffer: u64,
    /// Bytes: a multiple of the block size, one or many blocks.
    pub length: u64,
}

/// A device's rings.
// The table of these is static and never moved, and a `no_std` guest has
// no allocator to box the block variant's slot table with.
#[allow(clippy::large_enum_variant)]
// A `u8` tag with `None` first makes the table's initial value all zero
// bytes, so it goes to .bss (left to the niche layout it was 140 KiB of
// .data, loaded by the tender and resident in every guest).
#[repr(u8)]
pub enum DeviceRings {
    /// No rings: the classic hypercalls serve it.
    None,
    /// A net device.
    Net(NetRings),
    /// A block device.
    Block(BlockRings),
}

struct Table(UnsafeCell<[DeviceRings; MFT_MAX_ENTRIES]>);

// SAFETY: the guest has one vCPU and no interrupts; the table is only ever
// used from that one thread of execution.
unsafe impl Sync for Table {}

const NO_RINGS: DeviceRings = DeviceRings::None;
static TABLE: Table = Table(UnsafeCell::new([NO_RINGS; MFT_MAX_ENTRIES]));

/// The rings of `handle`, if it is a valid handle.
pub fn device(handle: u64) -> Option<&'static mut DeviceRings> {
    // SAFETY: single thread of execution (see `Table`); callers never hold
    // two references to the same entry at once.
    let table = unsafe { &mut *TABLE.0.get() };
    table.get_mut(usize::try_from(handle).ok()?)
}

fn load(addr: u64) -> u64 {
    // SAFETY: `addr` is an 8-aligned word of a ring area the tender mapped for us.
    unsafe { AtomicU64::from_ptr(addr as *mut u64) }.load(Ordering::Acquire)
}

fn store(addr: u64, value: u64) {
    // SAFETY: as in `load`; the word is one the guest owns.
    unsafe { AtomicU64::from_ptr(addr as *mut u64) }.store(value, Ordering::Release)
}

/// Looks at a full tx ring before a blocking send sleeps
/// ([`NetRings::wait_tx_room`]): the worker takes a batch in tens of
/// microseconds when it has a CPU.
const TX_ROOM_LOOKS: u32 = 2000;

/// hvt: the tender serves the send port (`HVT_FEATURE_RT_SEND_PORT`).
static SEND_PORT: AtomicBool = AtomicBool::new(false);
/// spt: we serve our taps while we wait (`SPT_FEATURE_GUEST_TAPS`).
static GUEST_TAPS: AtomicBool = AtomicBool::new(false);
/// spt: we hold the taps (`rx_owner` set, the tap set off in the worker's
/// epoll set) between [`take_taps`] and [`hand_taps_back`]: past a wait
/// whose input was sparse, until a look at a tap finds a stream.
static TAPS_HELD: AtomicBool = AtomicBool::new(false);
/// The device areas of the net rings we serve the taps of (0: none), kept
/// apart from the table so that a ring's own methods can hand the taps
/// back.
static TAP_AREAS: [AtomicU64; MFT_MAX_ENTRIES] = [const { AtomicU64::new(0) }; MFT_MAX_ENTRIES];
/// Sends left that may take the send port (hvt) or go straight to the tap
/// (spt) rather than ring the doorbell, after a wait.
static SEND_EXITS: AtomicU32 = AtomicU32::new(0);
/// Most frames read from one tap per look at an empty ring (the worker's
/// batch).
const TAP_BATCH: u64 = 64;
/// Frames read from each tap right after a wait: one, as the classic
/// path's `read` after its wake-up. Reading on until the tap is empty
/// cost a `read` per wait that found nothing (the frame that woke us is
/// most often alone), before the answer; the caller's next look at the
/// empty ring reads the rest, as the classic guest's next `read` does
/// (`docs/performance.md`, "spt: request/response").
const TAP_READS_AFTER_WAIT: u64 = 1;
/// How many sends after each POLL hypercall take the send port when the
/// worker sleeps. The guest was just woken by the vCPU thread, which has
/// the tap at hand: one exit (~40 µs from ring 3 here) sends the answer,
/// where the doorbell would wake the worker on another CPU (45-120 µs).
/// Past these, a guest that goes on sending (a stream starting) rings the
/// doorbell, so the worker wakes and takes over without exits.
const SEND_EXITS_AFTER_POLL: u32 = 4;

/// Lets the next sends take the send port (after a POLL hypercall) or
/// the tap (spt, after a wait in which we served the taps).
pub fn after_poll() {
    if SEND_PORT.load(Ordering::Relaxed) || GUEST_TAPS.load(Ordering::Relaxed) {
        SEND_EXITS.store(SEND_EXITS_AFTER_POLL, Ordering::Relaxed);
    }
}

/// Takes one send of the budget [`after_poll`] gave, if any is left.
fn take_send_budget() -> bool {
    let budget = SEND_EXITS.load(Ordering::Relaxed);
    if budget == 0 {
        return false;
    }
    SEND_EXITS.store(budget - 1, Ordering::Relaxed);
    true
}

/// Whether we serve our taps while we wait (spt, `SPT_FEATURE_GUEST_TAPS`).
pub fn guest_taps() -> bool {
    GUEST_TAPS.load(Ordering::Relaxed)
}

/// The net rings we serve the taps of.
fn tap_rings() -> impl Iterator<Item = &'static mut NetRings> {
    // SAFETY: single thread of execution (see `Table`); each entry is
    // lent once, and callers hold no other reference into the table.
    let table = unsafe { &mut *TABLE.0.get() };
    table.iter_mut().filter_map(|device| match device {
        DeviceRings::Net(ring) if ring.tap_fd >= 0 => Some(ring),
        _ => None,
    })
}

/// The device areas of the net rings we serve the taps of.
fn tap_areas() -> impl Iterator<Item = u64> {
    TAP_AREAS
        .iter()
        .map(|area| area.load(Ordering::Relaxed))
        .filter(|&area| area != 0)
}

/// Whether we hold the taps now (we kept them after a wait).
pub fn taps_held() -> bool {
    TAPS_HELD.load(Ordering::Relaxed)
}

/// Takes the rx rings over from the worker before a wait
/// (`docs/architecture.md`, "An idle guest on spt"): sets `rx_owner` in
/// each net area, fences, switches the tap set off in the worker's epoll
/// set, and waits for a pass of the worker over a ring (bounded: one
/// batch of reads) to end. From here the worker leaves the rings and the
/// taps wake only us. Nothing to do if we still hold them.
pub fn take_taps() {
    if taps_held() {
        return;
    }
    TAPS_HELD.store(true, Ordering::Relaxed);
    for area in tap_areas() {
        store(area + AREA_GUEST_RX_OWNER, 1);
    }
    fence(Ordering::SeqCst);
    spt::watch_taps_in_worker(false);
    for area in tap_areas() {
        while load(area + AREA_HOST_RX_PASS) != 0 {
            core::hint::spin_loop();
        }
    }
}

/// After a wait (`fill`: it found the rx rings empty): reads one frame of
/// each tap into its rx ring ([`TAP_READS_AFTER_WAIT`]). We keep the taps,
/// so the next wait needs no hand-over, nor does a frame that arrives
/// while we run wake the worker: we read it at our next look at an empty
/// ring ([`NetRings::pending`], [`NetRings::receive_into`]), or at our
/// next wait. Only while the worker reads streams ([`rx_pace`]) do rings
/// the worker filled or a full ring hand them back ([`hand_taps_back`]),
/// as does a failed read always; the worker then reads the taps while we
/// work.
pub fn after_wait(fill: bool) {
    tx_pace::after_wait();
    let mut sparse = fill;
    for ring in tap_rings() {
        if fill {
            sparse &= ring.fill_from_tap(TAP_READS_AFTER_WAIT);
        }
    }
    if !guest_taps() || (!sparse && rx_pace::worker_way()) {
        hand_taps_back();
    }
}

/// The application consumed a received frame: [`rx_pace`] counts it, and
/// when it chooses the other way for receive streams the taps change
/// hands here (taken back while we run, with the hand-over of a wait: the
/// worker's frames already in a ring stay ahead of any we read).
fn consumed() {
    match rx_pace::consumed() {
        Some(true) => hand_taps_back(),
        Some(false) if guest_taps() => take_taps(),
        _ => {}
    }
}

/// Gives rings and taps back to the worker: `rx_owner` cleared, the tap
/// set switched on again in the worker's epoll set (which re-polls it: a
/// frame left in a tap wakes the worker).
pub fn hand_taps_back() {
    if !TAPS_HELD.swap(false, Ordering::Relaxed) {
        return;
    }
    for area in tap_areas() {
        store(area + AREA_GUEST_RX_OWNER, 0);
    }
    fence(Ordering::SeqCst);
    spt::watch_taps_in_worker(true);
}

/// The host's `host_sleeping` word of `area`, after a fence (so our last
/// store is visible before we read its flag).
fn host_sleeping(area: u64) -> u64 {
    fence(Ordering::SeqCst);
    load(area + AREA_HOST_SLEEPING)
}

/// Rings the doorbell: a PIO write on hvt, an eventfd write on spt.
fn ring_doorbell(handle: u64) {
    if target() == Target::Spt {
        spt::ring_doorbell();
    } else {
        // The tender serves the doorbell with an ioeventfd and reads nothing else.
        crate::hypercall::pio_out(RT_RING_DOORBELL_PIO, handle as u32);
    }
}

/// The worker sleep (`host_sleeping`'s generation) we last rang for.
static RUNG_FOR: AtomicU64 = AtomicU64::new(0);

/// Whether a worker whose `host_sleeping` reads `sleeping` still needs the
/// doorbell: it sleeps, and we have not rung for this sleep yet (one
/// worker serves every device, so one ring per sleep is enough). Counts
/// the ring as done.
fn doorbell_due(sleeping: u64) -> bool {
    let generation = sleeping >> HOST_SLEEPING_GENERATION_SHIFT;
    if sleeping == 0 {
        return false;
    }
    if generation == 0 {
        // A tender without generations: ring every time.
        return true;
    }
    if RUNG_FOR.load(Ordering::Relaxed) == generation {
        return false;
    }
    RUNG_FOR.store(generation, Ordering::Relaxed);
    true
}

/// Rings the doorbell of `area` if the host worker sleeps and was not rung
/// for this sleep yet; nothing on muen (no area: the peer polls).
fn kick_if_sleeping(area: Option<u64>, handle: u64) {
    if area.is_some_and(|area| doorbell_due(host_sleeping(area))) {
        ring_doorbell(handle);
    }
}

/// After queuing frames: if the worker sleeps, the send port (right after
/// a POLL, while the budget lasts) or the doorbell.
/// Nothing on muen (no area: the peer polls).
fn kick_send(area: Option<u64>, handle: u64) {
    let Some(sleeping) = area.map(host_sleeping).filter(|&s| s != 0) else {
        return;
    };
    if SEND_PORT.load(Ordering::Relaxed) && take_send_budget() {
        // An exit: the vCPU thread sends the ring's frames before we resume.
        crate::hypercall::pio_out(RT_RING_SEND_PIO, handle as u32);
    } else if doorbell_due(sleeping) {
        ring_doorbell(handle);
    }
}

/// After releasing rx slots: only a worker that waits for room in this rx
/// ring needs the doorbell (any other sleeps on the tap too), if it says
/// so: with the send port's protocol (hvt), the guest taps' protocol (spt)
/// or sleep counts in `host_sleeping` (the same tender, hvt or spt); an
/// older tender gets it whenever it sleeps. Such a worker gets it only when
/// the guest's release leaves half of the ring or nothing unread (`unread`
/// of `elements`): it waits only with a full ring, so the releases that
/// follow pass through both marks one by one, and a guest that drains the
/// ring rings once or twice per full ring instead of once per frame until
/// the worker is up (on hvt each ring an exit; `docs/performance.md`,
/// "Receive: where the time went").
fn kick_release(area: u64, handle: u64, unread: u64, elements: u64) {
    let sleeping = host_sleeping(area);
    let says_rx_full = SEND_PORT.load(Ordering::Relaxed)
        || GUEST_TAPS.load(Ordering::Relaxed)
        || sleeping >> HOST_SLEEPING_GENERATION_SHIFT != 0;
    let wanted = if says_rx_full {
        sleeping & HOST_SLEEPING_RX_FULL != 0 && (unread == elements / 2 || unread == 0)
    } else {
        sleeping != 0
    };
    if wanted && doorbell_due(sleeping) {
        ring_doorbell(handle);
    }
}

fn region(area: u64, offset: u64, size: u64, elements: u64) -> RawRegion {
    // SAFETY: the tender laid out this region inside memory mapped
    // read-write for us, and nothing else in the guest uses it.
    unsafe {
        RawRegion::new(
            (area + offset) as *mut u8,
            (CHANNEL_HEADER_SIZE + size * elements) as usize,
        )
    }
}

/// Tells the worker whether the guest sleeps waiting for input (spt), in
/// every device area; a fence follows so the worker's next look sees it.
pub fn set_waiting(waiting: bool) {
    // SAFETY: single thread of execution (see `Table`); a shared look.
    let table = unsafe { &*TABLE.0.get() };
    for device in table {
        let area = match device {
            DeviceRings::Net(ring) => ring.area,
            DeviceRings::Block(ring) => ring.area,
            DeviceRings::None => None,
        };
        if let Some(area) = area {
            store(
                area + AREA_GUEST_WAITING,
                u64::from(waiting) * GUEST_WAITING_INPUT,
            );
        }
    }
    fence(Ordering::SeqCst);
}

/// Rings the doorbell for block requests whose kick was deferred
/// ([`BlockRings::flush_kick`]): before the guest waits.
pub fn flush_kicks() {
    // SAFETY: single thread of execution (see `Table`); no other reference
    // to the table is live while yield runs.
    let table = unsafe { &mut *TABLE.0.get() };
    for device in table {
        if let DeviceRings::Block(ring) = device {
            ring.flush_kick();
        }
    }
}

/// Whether a block device holds a completion the guest has not reaped:
/// `solo5_yield` returns at once then, for the caller to reap it. A
/// completion the worker published before the guest said it waits wakes
/// nobody (the worker rings the wake-up only for a waiting guest), so a
/// wait that did not look first slept until its deadline.
pub fn completions_waiting() -> bool {
    // SAFETY: single thread of execution (see `Table`); no other reference
    // to the table is live while yield runs.
    let table = unsafe { &mut *TABLE.0.get() };
    table.iter_mut().any(|device| match device {
        DeviceRings::Block(ring) => ring.completion_waiting(),
        _ => false,
    })
}

/// Whether the worker sleeps until we make room in a full rx ring
/// (`HOST_SLEEPING_RX_FULL` in a net device's area): our releases rang it
/// at the ring's half and empty marks, so a wait for its input is a wait
/// for its wake-up, and on hvt a spin for it keeps it off the CPU when it
/// shares ours (`docs/performance.md`, "Receive: where the time went").
pub fn host_awaits_rx_room() -> bool {
    // SAFETY: single thread of execution (see `Table`); a shared look.
    let table = unsafe { &*TABLE.0.get() };
    table.iter().any(|device| match device {
        DeviceRings::Net(ring) => ring
            .area
            .is_some_and(|area| host_sleeping(area) & HOST_SLEEPING_RX_FULL != 0),
        _ => false,
    })
}

/// Whether any device is served through rings.
pub fn any() -> bool {
    // SAFETY: single thread of execution (see `Table`); a shared look.
    let table = unsafe { &*TABLE.0.get() };
    table.iter().any(|d| !matches!(d, DeviceRings::None))
}

/// Initialises the guest→host channel of `e` (we write it) and attaches to
/// its host→guest channel (the host wrote it), with elements of the given
/// sizes; None if the tender's layout does not fit them.
fn channels(
    e: &RingDirEntry,
    protocol: u64,
    g2h_size: u64,
    h2g_size: u64,
    epoch: u64,
) -> Option<(Writer<RawRegion>, Reader<RawRegion>)> {
    let elements = u64::from(e.elements);
    // The tender hands the areas over zero-filled (ring-abi.md §2): the
    // element area needs no clearing, and stays untouched until used.
    let writer = Writer::init_zeroed(
        region(e.area, e.g2h_offset, g2h_size, elements),
        protocol,
        g2h_size as usize,
        epoch,
    )
    .ok()?;
    let reader = Reader::new(
        region(e.area, e.h2g_offset, h2g_size, elements),
        protocol,
        h2g_size as usize,
    )
    .ok()?;
    Some((writer, reader))
}

/// spt: reads the wake extension after the directory's `count` entries
/// and, if the tender offers `SPT_FEATURE_GUEST_TAPS`, adds its tap set to
/// our epoll set; [`GUEST_TAPS`] says whether that worked.
fn adopt_taps(dir: u64, count: u32) {
    let at = dir
        + size_of::<RingDirHeader>() as u64
        + u64::from(count) * size_of::<RingDirEntry>() as u64;
    // SAFETY: the tender lays the directory out with room for the wake
    // extension after its entries, in memory mapped for us (zeros under a
    // tender that predates it).
    let info = unsafe { (at as *const SptWakeInfo).read_unaligned() };
    let offered = info.magic == SPT_WAKE_INFO_MAGIC
        && info.features & SPT_FEATURE_GUEST_TAPS != 0
        && spt::adopt_tap_set(info.worker_epoll, info.tap_set);
    GUEST_TAPS.store(offered, Ordering::Relaxed);
}

/// Sets up the rings the tender offers; false if it offers none.
pub fn init() -> bool {
    let dir = match boot::hvt_info() {
        Some(info) if info.host_features & HVT_FEATURE_RT_RINGS != 0 => {
            SEND_PORT.store(
                info.host_features & HVT_FEATURE_RT_SEND_PORT != 0,
                Ordering::Relaxed,
            );
            load(HVT_BOOT_INFO_BASE + BOOT_INFO_RING_DIR_OFFSET)
        }
        Some(_) => 0,
        None => boot::spt_ring_dir(),
    };
    if dir == 0 {
        return false;
    }
    // SAFETY: the tender wrote the directory at `dir` in memory mapped for us.
    let header = unsafe { (dir as *const RingDirHeader).read() };
    if header.version != RING_DIR_VERSION {
        return false;
    }
    if target() == Target::Spt {
        adopt_taps(dir, header.count);
    }
    let epoch = crate::clock::monotonic() | 1;
    for handle in 0..(header.count as usize).min(MFT_MAX_ENTRIES) {
        // SAFETY: `count` entries follow the header.
        let e: RingDirEntry = unsafe {
            ((dir + size_of::<RingDirHeader>() as u64) as *const RingDirEntry)
                .add(handle)
                .read()
        };
        if e.area == 0 {
            continue;
        }
        let Some(slot) = device(handle as u64) else {
            continue;
        };
        let handle = handle as u64;
        *slot = match e.kind {
            MFT_DEV_NET_BASIC => {
                let Some(entry) = crate::devices::entry(handle, MFT_DEV_NET_BASIC) else {
                    continue;
                };
                let mtu = u64::from(entry.net_mtu());
                let frame_max = net_frame_max(mtu) as usize;
                let size = net_element_size(mtu);
                let Some((tx, rx)) = channels(&e, NET_PROTOCOL, size, size, epoch) else {
                    continue;
                };
                let tap_fd = match GUEST_TAPS.load(Ordering::Relaxed) {
                    true => entry.hostfd as i32,
                    false => -1,
                };
                if tap_fd >= 0 {
                    TAP_AREAS[handle as usize].store(e.area, Ordering::Relaxed);
                }
                DeviceRings::Net(NetRings {
                    handle,
                    area: Some(e.area),
                    tap_fd,
                    frame_max,
                    tx,
                    rx,
                    copy: [0; MUEN_NET_ELEMENT_SIZE],
                    lost: 0,
                })
            }
            MFT_DEV_BLOCK_BASIC => {
                let Some((requests, responses)) = channels(
                    &e,
                    BLOCK_PROTOCOL,
                    BLOCK_REQUEST_SIZE,
                    BLOCK_RESPONSE_SIZE,
                    epoch,
                ) else {
                    continue;
                };
                let slots = (target() == Target::Spt).then(|| {
                    let base = e.area + e.h2g_offset + e.h2g_bytes;
                    DataSlots::new(
                        base,
                        base,
                        SPT_BLOCK_SLOT_BYTES,
                        SPT_BLOCK_SLOT_BYTES,
                        BLOCK_RING_ELEMENTS as usize,
                    )
                });
                DeviceRings::Block(BlockRings {
                    handle,
                    area: Some(e.area),
                    requests,
                    responses,
                    slots,
                    muen: None,
                    kick_pending: false,
                    direct: direct_file(handle, e.area),
                    flushes_on_ring: 0,
                })
            }
            _ => DeviceRings::None,
        };
    }
    true
}

/// spt: block device `handle`'s file, if the tender left it to the guest
/// for the blocking calls (`HOST_FEATURE_BLOCK_DIRECT` in its area at
/// `area`), and whether the guest serves its ring reads and writes too
/// (`HOST_FEATURE_BLOCK_DIRECT_RING`).
fn direct_file(handle: u64, area: u64) -> Option<DirectFile> {
    let features = load(area + AREA_HOST_FEATURES);
    if target() != Target::Spt || features & HOST_FEATURE_BLOCK_DIRECT == 0 {
        return None;
    }
    let entry = crate::devices::entry(handle, MFT_DEV_BLOCK_BASIC)?;
    Some(DirectFile {
        ring: features & HOST_FEATURE_BLOCK_DIRECT_RING != 0,
        fd: entry.hostfd as i32,
        block_size: u64::from(entry.block_size()),
        capacity: entry.block_capacity(),
    })
}

/// Serves manifest device `handle` through `rings` (muen: when the device
/// is acquired); false if `handle` is not a valid handle.
pub fn install(handle: u64, rings: DeviceRings) -> bool {
    match device(handle) {
        Some(slot) => {
            *slot = rings;
            true
        }
        None => false,
    }
}

impl NetRings {
    /// A Muen net device (`docs/ring-abi.md` §10): we write `tx` ("NAME|out"),
    /// the peer writes `rx` ("NAME|in"), Muen's 1516-byte elements.
    pub fn muen(handle: u64, tx: Writer<RawRegion>, rx: Reader<RawRegion>) -> Self {
        Self {
            handle,
            area: None,
            tap_fd: -1,
            frame_max: MUEN_FRAME_MAX,
            tx,
            rx,
            copy: [0; MUEN_NET_ELEMENT_SIZE],
            lost: 0,
        }
    }

    /// Largest frame the device takes, in bytes.
    pub fn frame_max(&self) -> usize {
        self.frame_max
    }

    /// Queues one frame for sending; false if the tx ring is full.
    pub fn send(&mut self, frame: &[u8]) -> bool {
        self.send_batch([frame]) == 1
    }

    /// Free tx slots (on muen the ring is never full).
    fn tx_free(&self) -> u64 {
        match self.area {
            Some(area) => self.tx.free_slots(load(area + AREA_HOST_READ_COUNTER)),
            None => self.tx.elements(),
        }
    }

    /// spt: waits until the tx ring has room, looking at it for a while
    /// and then sleeping until the worker took frames from it (it writes
    /// the wake-up eventfd when `guest_waiting` has
    /// `GUEST_WAITING_TX_ROOM`). A spinning guest takes the CPU the worker
    /// needs to make room when the two share one; sleeping hands it over.
    /// The ring is full, so the worker is awake or about to be (it looks
    /// at the ring after publishing `host_sleeping`, we rang after our
    /// last publish). Returns at the latest at `deadline` (monotonic ns).
    pub fn wait_tx_room(&mut self, deadline: u64) {
        let Some(area) = self.area else {
            return;
        };
        for _ in 0..TX_ROOM_LOOKS {
            if self.may_queue() {
                return;
            }
            core::hint::spin_loop();
        }
        // Held taps would end this wait at once whenever a frame came:
        // the worker, awake for the full ring, reads them meanwhile.
        hand_taps_back();
        while !self.may_queue() && crate::clock::monotonic() < deadline {
            store(area + AREA_GUEST_WAITING, GUEST_WAITING_TX_ROOM);
            fence(Ordering::SeqCst);
            if !self.may_queue() {
                spt::wait(deadline, 1);
            }
            store(area + AREA_GUEST_WAITING, 0);
        }
    }

    /// What a blocking send waits for ([`NetRings::wait_tx_room`]): a
    /// free slot; once we took the sends over from a worker that fell
    /// behind (spt, [`tx_pace::taken_over`]), a drained ring, after which the
    /// frame goes straight to the tap. Waiting for one slot there would
    /// queue every later frame behind the worker again.
    fn may_queue(&self) -> bool {
        if tx_pace::taken_over() && self.direct_capable() {
            self.tx_drained()
        } else {
            self.tx_free() > 0
        }
    }

    /// Queues frames in order until one does not fit (ring full or frame
    /// too long), publishes them at once and rings the doorbell at most
    /// once; returns how many were queued.
    /// On muen the ring is never full: Muen's writer overwrites what the
    /// peer has not read (at most one ring's worth is queued per call).
    pub fn send_batch<'a>(&mut self, frames: impl IntoIterator<Item = &'a [u8]>) -> usize {
        let mut frames = frames.into_iter().peekable();
        let mut direct = 0;
        while let Some(&frame) = frames.peek() {
            // A failed write leaves the frame to the ring (and the worker).
            if !self.may_send_direct(frame) || spt::net_write(self.tap_fd, frame) != SOLO5_R_OK {
                break;
            }
            frames.next();
            direct += 1;
            tx_pace::sent_direct();
        }
        // Once we took the stream over, nothing more is queued until the
        // ring drained: the sends after go straight to the tap (a frame
        // the tap refused then goes to the ring, and the worker).
        let free = if tx_pace::taken_over() && self.direct_capable() && !self.tx_drained() {
            0
        } else {
            self.tx_free()
        };
        // Nothing published, nothing to ring for: a worker that went to
        // sleep saw every frame published before (it publishes
        // `host_sleeping`, fences, then looks at the ring; we publish,
        // fence, then look at `host_sleeping`). A guest retrying on a full
        // ring used to ring on every try, one system call each on spt.
        if free == 0 || frames.peek().is_none() {
            if free == 0 && frames.peek().is_some() && self.direct_capable() {
                // The worker is the bottleneck: we take the stream from
                // its next drain of the ring if we write faster.
                tx_pace::found_full(self.area.map_or(0, |a| load(a + AREA_HOST_READ_COUNTER)));
            }
            return direct;
        }
        tx_pace::queued(free == self.tx.elements());
        // Announce every free slot before writing any (SHMStream: wsc
        // covers what is being written); publish only what was written. On
        // muen, where the peer's reader takes an announced slot for one
        // being overwritten, each frame is announced and published alone.
        let per_frame = self.area.is_none();
        if !per_frame {
            self.tx.begin(free);
        }
        let mut queued = 0u64;
        for frame in frames {
            if queued == free || frame.len() > self.frame_max {
                break;
            }
            if per_frame {
                self.tx.begin(1);
            }
            let slot = self.tx.slot_offset(if per_frame { 0 } else { queued });
            self.tx.memory().write_bytes(slot, frame);
            self.tx
                .memory()
                .write_bytes(slot + self.frame_max, &(frame.len() as u16).to_le_bytes());
            if per_frame {
                self.tx.commit(1);
            }
            queued += 1;
        }
        if !per_frame {
            self.tx.commit(queued);
        }
        kick_send(self.area, self.handle);
        direct + queued as usize
    }

    /// spt, while we serve our taps (`SPT_FEATURE_GUEST_TAPS`): whether
    /// `frame` may go straight to the tap with our own `write` instead of
    /// the tx ring. It may once the worker has written every frame of the
    /// ring ([`NetRings::tx_drained`]), so nothing queued before it is
    /// overtaken, and either the worker fell behind our sends since our
    /// last wait and writes slower than we do ([`tx_pace::taken_over`]), or it
    /// sleeps and waking it is not worth it: the first four sends after a
    /// wait (an answer), or a stream whose own pace is unknown or faster
    /// than the worker's ([`tx_pace`]). A worker's tap write costs more
    /// than ours on spt (`docs/performance.md`, "spt tx: where the time
    /// goes"): it wins only where it takes other work's place on our CPU.
    fn may_send_direct(&self, frame: &[u8]) -> bool {
        let Some(area) = self.area.filter(|_| self.direct_capable()) else {
            return false;
        };
        frame.len() <= self.frame_max
            && self.tx_drained()
            && (tx_pace::taken_over()
                || (load(area + AREA_HOST_SLEEPING) != 0
                    && (!tx_pace::prefer_ring() || take_send_budget())))
    }

    /// spt: we hold this ring's tap and serve our taps, so a frame can go
    /// straight to it.
    fn direct_capable(&self) -> bool {
        self.tap_fd >= 0 && self.area.is_some() && guest_taps()
    }

    /// Whether the worker has written every frame we queued:
    /// `host_read_counter` (which it publishes after its writes completed)
    /// equals our write counter.
    fn tx_drained(&self) -> bool {
        self.area
            .is_some_and(|area| load(area + AREA_HOST_READ_COUNTER) == self.tx.wc())
    }

    /// spt, while we own the rx ring (between [`take_taps`] and
    /// [`hand_taps_back`]): reads up to `limit` frames (at most a batch)
    /// from the tap into free rx slots, as the worker would, and publishes
    /// them. We continue at the write counter the worker left in the
    /// header. Whether the input may be sparse: a read found the tap empty
    /// before the batch or the ring's room ended, or `limit` stopped the
    /// reads short of both; false once a read failed, after which we serve
    /// no tap again (the worker reads it and reports it).
    fn fill_from_tap(&mut self, limit: u64) -> bool {
        let mem = self.rx.memory();
        let wc = mem.load_acquire(OFFSET_WC);
        let size = self.frame_max + NET_LENGTH_FIELD as usize;
        let Ok(mut writer) = Writer::attach(mem, NET_PROTOCOL, size, wc) else {
            return false;
        };
        let free = writer.free_slots(self.rx.rc()).min(TAP_BATCH);
        if free == 0 {
            return false;
        }
        let wanted = free.min(limit);
        writer.begin(wanted);
        let mut filled = 0;
        while filled < wanted {
            let slot = writer.slot_offset(filled);
            let addr = mem.as_ptr() as u64 + slot as u64;
            let len = match spt::tap_read_into(self.tap_fd, addr, self.frame_max) {
                spt::TapRead::Frame(len) => len,
                spt::TapRead::Empty => {
                    rx_pace::tap_ran_dry();
                    break;
                }
                spt::TapRead::Failed => {
                    // We stop serving the taps for good; our caller hands
                    // them back (a short batch is not "sparse" here).
                    GUEST_TAPS.store(false, Ordering::Relaxed);
                    break;
                }
            };
            mem.write_bytes(slot + self.frame_max, &(len as u16).to_le_bytes());
            filled += 1;
        }
        writer.commit(filled);
        if filled < wanted {
            // wsc back to wc: it covers only what was written.
            writer.begin(0);
        }
        filled < free && guest_taps()
    }

    /// The next received frame, in place in the rx ring (address, length),
    /// or None if nothing is pending. The host does not touch it until
    /// [`NetRings::release`]: it never writes past the published read
    /// counter, lossy mode included (it drops new frames instead). On muen
    /// the frame is a copy taken out of the channel (Muen's writer does not
    /// wait for its reader), valid until `release`.
    pub fn borrow(&mut self) -> Option<(*const u8, usize)> {
        if self.area.is_none() {
            return self.borrow_copy();
        }
        self.fill_if_held();
        let offset = loop {
            match self.rx.peek() {
                Ok(offset) => break offset,
                Err(ReadResult::EpochChanged) => continue,
                Err(ReadResult::OverrunDetected) => self.rx.drain(),
                Err(_) => return None,
            }
        };
        let mut raw = [0u8; 2];
        self.rx
            .memory()
            .read_bytes(offset + self.frame_max, &mut raw);
        let len = usize::from(u16::from_le_bytes(raw)).min(self.frame_max);
        // SAFETY: `offset + len` lies inside the channel region (`peek`
        // returns an element offset; `len` is clamped to the frame area).
        Some((unsafe { self.rx.memory().as_ptr().add(offset) }, len))
    }

    /// muen: copies the next intact frame out of the channel. An overrun
    /// skips to the peer's newest frame (SHMStream's RC := WC) and counts
    /// what it skipped; an element whose length is beyond the frame area
    /// is dropped.
    fn borrow_copy(&mut self) -> Option<(*const u8, usize)> {
        loop {
            match self.rx.read(&mut self.copy) {
                ReadResult::Success => {}
                ReadResult::EpochChanged => continue,
                ReadResult::OverrunDetected => {
                    let rc = self.rx.rc();
                    self.rx.drain();
                    self.lost = self.lost.wrapping_add(self.rx.rc().wrapping_sub(rc));
                    continue;
                }
                _ => return None,
            }
            let raw = [self.copy[self.frame_max], self.copy[self.frame_max + 1]];
            let len = usize::from(u16::from_le_bytes(raw));
            if len <= self.frame_max {
                return Some((self.copy.as_ptr(), len));
            }
        }
    }

    /// Gives the frame of the last [`NetRings::borrow`] back to the host
    /// (on muen the copy was taken already: nothing to give back).
    pub fn release(&mut self) {
        let Some(area) = self.area else {
            return;
        };
        self.rx.consume();
        let rc = self.rx.rc();
        store(area + AREA_GUEST_READ_COUNTER, rc);
        let unread = self.rx.memory().load_acquire(OFFSET_WC).wrapping_sub(rc);
        let elements = self.rx.elements().unwrap_or(0);
        kick_release(area, self.handle, unread, elements);
        if self.tap_fd >= 0 && guest_taps() {
            consumed();
        }
    }

    /// Receives the next frame into `buf` (at least [`NetRings::frame_max`]
    /// bytes: the sync shim's `solo5_net_read`); its length, or None if
    /// nothing is pending. spt, while we hold the taps and read streams
    /// ourselves ([`rx_pace`]): with the rx ring empty, one `read` of the
    /// tap straight into `buf`, as the classic path's, with no slot
    /// between (frames in the ring are older and go first). Otherwise the
    /// ring's next frame, copied.
    pub fn receive_into(&mut self, buf: &mut [u8]) -> Option<usize> {
        if self.tap_fd >= 0 && taps_held() && !rx_pace::worker_way() && !self.rx.has_pending_data()
        {
            let len = self.frame_max.min(buf.len());
            match spt::tap_read_into(self.tap_fd, buf.as_mut_ptr() as u64, len) {
                spt::TapRead::Frame(len) => {
                    after_poll();
                    consumed();
                    return Some(len);
                }
                spt::TapRead::Empty => {
                    rx_pace::tap_ran_dry();
                    return None;
                }
                spt::TapRead::Failed => {
                    // As in `fill_from_tap`: the worker reads it from now
                    // on and reports it.
                    GUEST_TAPS.store(false, Ordering::Relaxed);
                    hand_taps_back();
                }
            }
        }
        self.receive(|frame| {
            buf[..frame.len()].copy_from_slice(frame);
            frame.len()
        })
    }

    /// Lends the next received frame to `f` (no copy), then releases it.
    /// None if nothing is pending.
    pub fn receive<R>(&mut self, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        let (ptr, len) = self.borrow()?;
        // SAFETY: `borrow` returned `len` bytes inside the rx channel, which
        // the host leaves alone until `release`.
        let result = f(unsafe { core::slice::from_raw_parts(ptr, len) });
        self.release();
        Some(result)
    }

    /// Frames the host dropped because this rx ring was full (lossy mode
    /// only; always 0 in lossless mode). On muen: frames the peer overwrote
    /// before we read them.
    pub fn dropped(&self) -> u64 {
        match self.area {
            Some(area) => load(area + AREA_RX_DROPPED),
            None => self.lost,
        }
    }

    /// Whether the rx ring holds a received frame (no tap read).
    pub fn holds_input(&mut self) -> bool {
        self.rx.has_pending_data()
    }

    /// Whether a received frame is waiting.
    pub fn pending(&mut self) -> bool {
        self.fill_if_held();
        self.rx.has_pending_data()
    }

    /// spt: an empty rx ring while we hold the taps (past a wait, see
    /// [`after_wait`]) is filled from the tap by us, as in a wait: the
    /// worker does not read it now. Input we read ourselves renews the
    /// budget of sends straight to the tap, as a wait does ([`after_poll`]):
    /// the answer to it need not wake the worker either. A full batch is a
    /// stream: the taps go back to the worker, which reads them while we
    /// work.
    fn fill_if_held(&mut self) {
        if self.tap_fd >= 0 && taps_held() && !self.rx.has_pending_data() {
            if !self.fill_from_tap(TAP_BATCH) && (rx_pace::worker_way() || !guest_taps()) {
                hand_taps_back();
            }
            if self.rx.has_pending_data() {
                after_poll();
            }
        }
    }
}

impl BlockRings {
    /// A muenblock device (`docs/ring-abi.md` §10) after the handshake: we
    /// write `requests`, the server writes `responses`, and the data moves
    /// through `buffer` (guest address and bytes), cut into slots of which
    /// no two touch, so a merging server (Muen's `ahci_drv` merges requests
    /// contiguous on the device and in the buffer) never merges ours: it
    /// would add byte lengths to our block numbers.
    pub fn muen(
        handle: u64,
        requests: Writer<RawRegion>,
        responses: Reader<RawRegion>,
        buffer: (u64, u64),
        info: DeviceInfo,
        event: Option<u8>,
    ) -> Self {
        let (base, bytes) = buffer;
        let bs = info.block_length;
        let slots = (bytes / (2 * bs)).clamp(1, u64::from(BLOCK_RING_ELEMENTS));
        let stride = bytes / slots / bs * bs;
        let gap = if slots > 1 { bs } else { 0 };
        let capacity = (stride - gap).min(info.max_blocks.saturating_mul(bs));
        Self {
            handle,
            area: None,
            requests,
            responses,
            slots: Some(DataSlots::new(base, 0, stride, capacity, slots as usize)),
            muen: Some(MuenBlock { info, event }),
            direct: None,
            flushes_on_ring: 0,
            kick_pending: false,
        }
    }

    /// spt: whether the blocking one-block calls may make their system
    /// call on the block file themselves (`HOST_FEATURE_BLOCK_DIRECT`),
    /// after [`quiesce`](Self::quiesce).
    pub fn direct(&self) -> bool {
        self.direct.is_some()
    }

    /// Waits until none of our requests is in flight, reaping (and
    /// discarding, as a blocking call always has) their completions: what
    /// the host side does for them is done before we go on.
    pub fn quiesce(&mut self) {
        while self.slots.as_ref().is_some_and(|s| s.in_use() > 0) {
            if self.reap().is_none() {
                core::hint::spin_loop();
            }
        }
    }

    /// muen: the device's block size and capacity in bytes, as the server
    /// said (on hvt and spt the manifest holds them).
    pub fn geometry(&self) -> Option<(u64, u64)> {
        let info = self.muen.as_ref()?.info;
        Some((info.block_length, info.blocks * info.block_length))
    }

    /// Most bytes one request may move: a data slot on spt and muen,
    /// otherwise the host's limit (1 MiB, `docs/ring-abi.md` §4).
    pub fn max_request(&self) -> Option<u64> {
        self.slots.as_ref().map(|s| s.capacity)
    }

    /// Requests that can be in flight at once.
    pub fn window(&self) -> u64 {
        match &self.slots {
            Some(slots) if self.muen.is_some() => slots.count as u64,
            _ => self.requests.elements(),
        }
    }

    /// Free request slots (the in-flight window left).
    pub fn free(&self) -> u64 {
        let ring = self.area.map(|area| {
            self.requests
                .free_slots(load(area + AREA_HOST_READ_COUNTER))
        });
        let slots = self
            .slots
            .as_ref()
            .map(|slots| (slots.count - slots.in_use()) as u64);
        match (ring, slots) {
            (Some(ring), Some(slots)) => ring.min(slots),
            (ring, slots) => ring.or(slots).unwrap_or(0),
        }
    }

    /// spt: the status of `op` if the guest serves it itself: a read or
    /// write the host side would run, with no flush of ours before it
    /// still on the ring (the flush's barrier).
    fn serve_directly(&self, op: &BlockOp) -> Option<u64> {
        let file = self.direct.as_ref()?;
        (self.flushes_on_ring == 0 && file.serves(op)).then(|| file.serve(op))
    }

    /// muen: the status a request gets without being sent, if it must be
    /// refused (the server would refuse it too, with Muen's code, which is
    /// not `SOLO5_R_EINVAL`).
    fn refusal(&self, op: &BlockOp) -> Option<u64> {
        let info = self.muen.as_ref()?.info;
        let bs = info.block_length;
        let valid = match op.kind {
            BLOCK_KIND_SYNC => true,
            BLOCK_KIND_READ | BLOCK_KIND_WRITE => {
                let end = op.offset.checked_add(op.length);
                op.length > 0
                    && op.length.is_multiple_of(bs)
                    && op.offset.is_multiple_of(bs)
                    && end.is_some_and(|end| end <= info.blocks * bs)
            }
            _ => false,
        };
        (!valid).then_some(BLOCK_STATUS_INVALID)
    }

    /// The request `op` goes out as, through data slot `index` if there are
    /// slots.
    fn wire_request(&self, op: &BlockOp, index: Option<usize>) -> BlockRequest {
        let Some(index) = index else {
            return BlockRequest {
                kind: op.kind,
                device: self.handle as u16,
                tag: op.tag,
                length: op.length,
                device_offset: op.offset,
                buffer_offset: op.buffer,
            };
        };
        let slots = self
            .slots
            .as_ref()
            .expect("a slot index comes from the slots");
        let buffer = slots.wire_base + index as u64 * slots.stride;
        match &self.muen {
            // Device 0 of its channel pair; the offset in blocks (§10).
            Some(muen) => BlockRequest {
                kind: op.kind,
                device: 0,
                tag: TAG_IO_BASE + index as u32,
                length: if op.kind == BLOCK_KIND_SYNC {
                    0
                } else {
                    op.length
                },
                device_offset: if op.kind == BLOCK_KIND_SYNC {
                    0
                } else {
                    op.offset / muen.info.block_length
                },
                buffer_offset: if op.kind == BLOCK_KIND_SYNC {
                    0
                } else {
                    buffer
                },
            },
            None => BlockRequest {
                kind: op.kind,
                device: self.handle as u16,
                tag: index as u32,
                length: op.length,
                device_offset: op.offset,
                buffer_offset: buffer,
            },
        }
    }

    /// Submits requests in order until the window is full, publishing each
    /// and ringing the doorbell at most once; returns how many went in. On
    /// spt and muen a request longer than a data slot
    /// ([`max_request`](Self::max_request)) also stops the batch. On muen
    /// a request the server would refuse (out of range, not whole blocks,
    /// an unknown kind) is answered `BLOCK_STATUS_INVALID` without being
    /// sent, and the request channel's event is raised after the batch if
    /// the policy gives one. On spt with the block file
    /// (`HOST_FEATURE_BLOCK_DIRECT`) a read or write the worker would run
    /// is served here, by the guest's own `pread64`/`pwrite64` from or
    /// into the caller's buffer, and its completion waits in its slot to
    /// be reaped: on spt the worker's read costs what the guest's own
    /// does, plus the hand-off and the slot copy (`docs/performance.md`,
    /// "Block requests on spt"). Flushes, refusals, and every request
    /// behind a flush still on the ring go to the worker.
    pub fn submit_batch(&mut self, requests: impl IntoIterator<Item = BlockOp>) -> usize {
        let mut submitted = 0;
        // Requests published on the ring (not answered here).
        let mut sent = false;
        for op in requests {
            let refused = self.refusal(&op);
            let slot = match &self.slots {
                None => None,
                // Check the window before copying into a slot.
                Some(_) if self.free() == 0 => break,
                Some(slots) => {
                    let too_long = refused.is_none() && op.length > slots.capacity;
                    let Some(index) = slots.free().filter(|_| !too_long) else {
                        break;
                    };
                    Some(index)
                }
            };
            // Answered here without being sent: refused, or (spt) served
            // by the guest itself.
            let answered = match (refused, slot) {
                (None, Some(_)) => self.serve_directly(&op),
                (refused, _) => refused,
            };
            if answered.is_none() {
                if let (Some(slots), Some(index), BLOCK_KIND_WRITE) = (&self.slots, slot, op.kind) {
                    copy(
                        op.buffer,
                        slots.base + index as u64 * slots.stride,
                        op.length,
                    );
                }
                let req = self.wire_request(&op, slot);
                let written = match self.area {
                    Some(area) => self
                        .requests
                        .try_write(
                            bytemuck::bytes_of(&req),
                            load(area + AREA_HOST_READ_COUNTER),
                        )
                        .is_ok(),
                    // At most one slot per request in flight, far fewer than
                    // the request and response channels hold.
                    None => self.requests.write(bytemuck::bytes_of(&req)).is_ok(),
                };
                if !written {
                    break;
                }
                if op.kind == BLOCK_KIND_SYNC && self.direct.is_some() {
                    self.flushes_on_ring += 1;
                }
                sent = true;
            }
            if let (Some(slots), Some(index)) = (&mut self.slots, slot) {
                slots.occupy(
                    index,
                    SlotUse {
                        tag: op.tag,
                        kind: op.kind,
                        buffer: op.buffer,
                        length: op.length,
                        answered,
                    },
                );
            }
            submitted += 1;
        }
        self.kick_pending |= sent;
        if let Some(event) = self.muen.as_ref().and_then(|m| m.event) {
            if submitted > 0 {
                crate::muen::raise_event(event);
            }
        }
        submitted
    }

    /// Rings the doorbell for requests submitted since the last look if the
    /// worker sleeps. Deferred from the submission to the moment the guest
    /// would wait for them (a reap that finds nothing, `solo5_yield`): a
    /// guest submitting one request per call woke the worker for the
    /// first, and on a shared CPU the worker took it over for one request
    /// and its 50 µs spin, then slept again before the next (~2 requests
    /// per wake-up at queue depth 32 on spt). A request is never seen done
    /// before a reap, so the deferral delays nothing anyone can observe
    /// but the start of the I/O; an exiting guest's requests are finished
    /// by the worker anyway.
    pub fn flush_kick(&mut self) {
        if core::mem::take(&mut self.kick_pending) {
            kick_if_sleeping(self.area, self.handle);
        }
    }

    /// The completion of a request answered without being sent (muen:
    /// refused; spt: served by the guest), if one waits.
    fn reap_answered(&mut self) -> Option<BlockResponse> {
        let used = self.slots.as_mut()?.release_answered()?;
        Some(BlockResponse {
            kind: used.kind,
            device: self.handle as u16,
            tag: used.tag,
            status: used.answered.unwrap_or(BLOCK_STATUS_INVALID),
        })
    }

    /// Whether a completion waits to be reaped (a response in the ring, or
    /// a request answered without being sent), without taking it.
    pub fn completion_waiting(&mut self) -> bool {
        let answered = self.slots.as_ref().is_some_and(|s| s.answered_len > 0);
        answered || self.responses.has_pending_data()
    }

    /// Takes one completion if there is one.
    pub fn reap(&mut self) -> Option<BlockResponse> {
        if let Some(answered) = self.reap_answered() {
            return Some(answered);
        }
        let mut raw = [0u8; size_of::<BlockResponse>()];
        // A response that matches no request in flight (stale, or not ours)
        // is skipped; a bounded number per call.
        for _ in 0..=BLOCK_RING_ELEMENTS {
            loop {
                match self.responses.read(&mut raw) {
                    ReadResult::Success => break,
                    ReadResult::EpochChanged => continue,
                    ReadResult::OverrunDetected => {
                        self.responses.drain();
                        self.flush_kick();
                        return None;
                    }
                    _ => {
                        self.flush_kick();
                        return None;
                    }
                }
            }
            if let Some(area) = self.area {
                store(area + AREA_GUEST_READ_COUNTER, self.responses.rc());
                // A worker that found our response ring full sleeps until
                // we reap, with requests of ours untaken (it publishes its
                // read counter after answering them). Once it took them
                // all, our reaping gives it nothing to do: ringing then
                // woke it for nothing after every sleep (a ping-pong of
                // wake-ups at queue depth 32 on spt).
                if load(area + AREA_HOST_READ_COUNTER) != self.requests.wc() {
                    kick_if_sleeping(self.area, self.handle);
                }
            }
            let resp: BlockResponse = bytemuck::pod_read_unaligned(&raw);
            if let Some(resp) = self.complete(resp) {
                return Some(resp);
            }
        }
        None
    }

    /// The caller's completion for a response from the host side: through
    /// its data slot (a read's data copied out, the caller's tag back, on
    /// muen Muen's status as ringtender's), or as it came without slots.
    /// None for a response that matches no request in flight.
    fn complete(&mut self, mut resp: BlockResponse) -> Option<BlockResponse> {
        let muen = self.muen.is_some();
        let Some(slots) = &mut self.slots else {
            return Some(resp);
        };
        let index = if muen {
            resp.tag.wrapping_sub(TAG_IO_BASE) as usize
        } else {
            resp.tag as usize
        };
        let used = slots.release(index, |u| {
            u.answered.is_none() && (!muen || u.kind == resp.kind)
        });
        let Some(used) = used else {
            // spt's worker answers every request it was given; keep its
            // answer as it came. On muen a stray response is skipped.
            return (!muen).then_some(resp);
        };
        if muen {
            resp.status = match resp.status {
                MUEN_BLOCK_STATUS_OK => BLOCK_STATUS_OK,
                _ => BLOCK_STATUS_IO_ERROR,
            };
            resp.device = self.handle as u16;
        }
        if used.kind == BLOCK_KIND_READ && resp.status == BLOCK_STATUS_OK {
            copy(
                slots.base + index as u64 * slots.stride,
                used.buffer,
                used.length,
            );
        }
        if used.kind == BLOCK_KIND_SYNC && self.direct.is_some() {
            self.flushes_on_ring -= 1;
        }
        resp.tag = used.tag;
        Some(resp)
    }
}
