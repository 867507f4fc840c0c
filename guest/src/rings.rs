//! ringtender rings, guest side (`docs/ring-abi.md`): discovery from the boot
//! info, the per-device channels, and the operations the sync shim and the
//! ring API build on. Single vCPU, no interrupts: nothing here is reentrant.

use core::cell::UnsafeCell;
use core::sync::atomic::{fence, AtomicU64, Ordering};

use ringtender_abi::hvt::HVT_BOOT_INFO_BASE;
use ringtender_abi::mft::{MFT_DEV_BLOCK_BASIC, MFT_DEV_NET_BASIC, MFT_MAX_ENTRIES};
use ringtender_abi::rings::{
    RingDirEntry, RingDirHeader, AREA_GUEST_READ_COUNTER, AREA_GUEST_WAITING,
    AREA_HOST_READ_COUNTER, AREA_HOST_SLEEPING, AREA_RX_DROPPED, BLOCK_REQUEST_SIZE,
    BLOCK_RESPONSE_SIZE, BLOCK_RING_ELEMENTS, BOOT_INFO_RING_DIR_OFFSET, CHANNEL_HEADER_SIZE,
    HVT_FEATURE_RT_RINGS, RING_DIR_VERSION, RT_RING_DOORBELL_PIO, SPT_BLOCK_SLOT_BYTES,
};
use ringtender_muen_compat::block::{
    BlockRequest, BlockResponse, BLOCK_KIND_READ, BLOCK_KIND_WRITE, BLOCK_STATUS_OK,
};
use ringtender_muen_compat::{
    RawRegion, ReadResult, Reader, SharedMemory, Writer, BLOCK_PROTOCOL, NET_PROTOCOL,
};

use crate::boot;
use crate::platform::{target, Target};
use crate::spt;

/// One net device's channels.
pub struct NetRings {
    handle: u64,
    area: u64,
    frame_max: usize,
    tx: Writer<RawRegion>,
    rx: Reader<RawRegion>,
}

/// One block device's channels.
pub struct BlockRings {
    handle: u64,
    area: u64,
    requests: Writer<RawRegion>,
    responses: Reader<RawRegion>,
    /// spt: the area's data slots, which requests must point into.
    slots: Option<DataSlots>,
}

/// What a request going through a data slot came with.
#[derive(Clone, Copy)]
struct SlotUse {
    tag: u32,
    kind: u16,
    buffer: u64,
    length: u64,
}

/// spt: the I/O worker sees only the shared ring memory, so block data goes
/// through slots at the end of the device's area. A request's tag is its
/// slot; the caller's tag and buffer wait here for its completion.
struct DataSlots {
    base: u64,
    used: [Option<SlotUse>; BLOCK_RING_ELEMENTS as usize],
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

/// Rings the doorbell of `area` if the host worker sleeps (after a fence,
/// so our last store is visible before we read its flag): a PIO write on
/// hvt, an eventfd write on spt.
fn kick_if_sleeping(area: u64, handle: u64) {
    fence(Ordering::SeqCst);
    if load(area + AREA_HOST_SLEEPING) == 0 {
        return;
    }
    if target() == Target::Spt {
        spt::ring_doorbell();
    } else {
        // The tender serves the doorbell with an ioeventfd and reads nothing else.
        crate::hypercall::pio_out(RT_RING_DOORBELL_PIO, handle as u32);
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
            DeviceRings::None => continue,
        };
        store(area + AREA_GUEST_WAITING, u64::from(waiting));
    }
    fence(Ordering::SeqCst);
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

/// Sets up the rings the tender offers; false if it offers none.
pub fn init() -> bool {
    let dir = match boot::hvt_info() {
        Some(info) if info.host_features & HVT_FEATURE_RT_RINGS != 0 => {
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
                let frame_max = usize::from(entry.net_mtu()) + 14;
                let size = frame_max as u64 + 2;
                let Some((tx, rx)) = channels(&e, NET_PROTOCOL, size, size, epoch) else {
                    continue;
                };
                DeviceRings::Net(NetRings {
                    handle,
                    area: e.area,
                    frame_max,
                    tx,
                    rx,
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
                let slots = (target() == Target::Spt).then(|| DataSlots {
                    base: e.area + e.h2g_offset + e.h2g_bytes,
                    used: [None; BLOCK_RING_ELEMENTS as usize],
                });
                DeviceRings::Block(BlockRings {
                    handle,
                    area: e.area,
                    requests,
                    responses,
                    slots,
                })
            }
            _ => DeviceRings::None,
        };
    }
    true
}

impl NetRings {
    /// Queues one frame for sending; false if the tx ring is full.
    pub fn send(&mut self, frame: &[u8]) -> bool {
        self.send_batch([frame]) == 1
    }

    /// Queues frames in order until one does not fit (ring full or frame
    /// too long), publishes them at once and rings the doorbell at most
    /// once; returns how many were queued.
    pub fn send_batch<'a>(&mut self, frames: impl IntoIterator<Item = &'a [u8]>) -> usize {
        let free = self.tx.free_slots(load(self.area + AREA_HOST_READ_COUNTER));
        let mut frames = frames.into_iter().peekable();
        if free == 0 || frames.peek().is_none() {
            kick_if_sleeping(self.area, self.handle);
            return 0;
        }
        // Announce every free slot before writing any (SHMStream: wsc
        // covers what is being written); publish only what was written.
        self.tx.begin(free);
        let mut queued = 0u64;
        for frame in frames {
            if queued == free || frame.len() > self.frame_max {
                break;
            }
            let slot = self.tx.slot_offset(queued);
            self.tx.memory().write_bytes(slot, frame);
            self.tx
                .memory()
                .write_bytes(slot + self.frame_max, &(frame.len() as u16).to_le_bytes());
            queued += 1;
        }
        self.tx.commit(queued);
        kick_if_sleeping(self.area, self.handle);
        queued as usize
    }

    /// The next received frame, in place in the rx ring (address, length),
    /// or None if nothing is pending. The host does not touch it until
    /// [`NetRings::release`]: it never writes past the published read
    /// counter, lossy mode included (it drops new frames instead).
    pub fn borrow(&mut self) -> Option<(*const u8, usize)> {
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

    /// Gives the frame of the last [`NetRings::borrow`] back to the host.
    pub fn release(&mut self) {
        self.rx.consume();
        store(self.area + AREA_GUEST_READ_COUNTER, self.rx.rc());
        kick_if_sleeping(self.area, self.handle);
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
    /// only; always 0 in lossless mode).
    pub fn dropped(&self) -> u64 {
        load(self.area + AREA_RX_DROPPED)
    }

    /// Whether a received frame is waiting.
    pub fn pending(&mut self) -> bool {
        self.rx.has_pending_data()
    }
}

impl BlockRings {
    /// Requests that can be in flight at once.
    pub fn window(&self) -> u64 {
        self.requests.elements()
    }

    /// Free request slots (the in-flight window left).
    pub fn free(&self) -> u64 {
        self.requests
            .free_slots(load(self.area + AREA_HOST_READ_COUNTER))
    }

    /// Submits requests in order until the window is full, publishing each
    /// and ringing the doorbell at most once; returns how many went in. On
    /// spt a request longer than a data slot (`SPT_BLOCK_SLOT_BYTES`) also
    /// stops the batch.
    pub fn submit_batch(&mut self, requests: impl IntoIterator<Item = BlockOp>) -> usize {
        let mut submitted = 0;
        for op in requests {
            let (tag, buffer, slot) = match &self.slots {
                None => (op.tag, op.buffer, None),
                // Check the window before copying into a slot.
                Some(_) if self.free() == 0 => break,
                Some(slots) => {
                    let free = slots.used.iter().position(Option::is_none);
                    let Some(index) = free.filter(|_| op.length <= SPT_BLOCK_SLOT_BYTES) else {
                        break;
                    };
                    let addr = slots.base + index as u64 * SPT_BLOCK_SLOT_BYTES;
                    if op.kind == BLOCK_KIND_WRITE {
                        copy(op.buffer, addr, op.length);
                    }
                    (index as u32, addr, Some(index))
                }
            };
            let req = BlockRequest {
                kind: op.kind,
                device: self.handle as u16,
                tag,
                length: op.length,
                device_offset: op.offset,
                buffer_offset: buffer,
            };
            let host_rc = load(self.area + AREA_HOST_READ_COUNTER);
            if self
                .requests
                .try_write(bytemuck::bytes_of(&req), host_rc)
                .is_err()
            {
                break;
            }
            if let (Some(slots), Some(index)) = (&mut self.slots, slot) {
                slots.used[index] = Some(SlotUse {
                    tag: op.tag,
                    kind: op.kind,
                    buffer: op.buffer,
                    length: op.length,
                });
            }
            submitted += 1;
        }
        kick_if_sleeping(self.area, self.handle);
        submitted
    }

    /// Takes one completion if there is one.
    pub fn reap(&mut self) -> Option<BlockResponse> {
        let mut raw = [0u8; size_of::<BlockResponse>()];
        loop {
            match self.responses.read(&mut raw) {
                ReadResult::Success => break,
                ReadResult::EpochChanged => continue,
                ReadResult::OverrunDetected => {
                    self.responses.drain();
                    return None;
                }
                _ => return None,
            }
        }
        store(self.area + AREA_GUEST_READ_COUNTER, self.responses.rc());
        // A worker that found our response ring full sleeps until we reap.
        kick_if_sleeping(self.area, self.handle);
        let mut resp: BlockResponse = bytemuck::pod_read_unaligned(&raw);
        if let Some(slots) = &mut self.slots {
            let used = slots.used.get_mut(resp.tag as usize).and_then(Option::take);
            if let Some(used) = used {
                let addr = slots.base + u64::from(resp.tag) * SPT_BLOCK_SLOT_BYTES;
                if used.kind == BLOCK_KIND_READ && resp.status == BLOCK_STATUS_OK {
                    copy(addr, used.buffer, used.length);
                }
                resp.tag = used.tag;
            }
        }
        Some(resp)
    }
}
