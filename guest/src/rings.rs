//! ringtender rings, guest side (`docs/ring-abi.md`): discovery from the boot
//! info, the per-device channels, and the operations the sync shim and the
//! ring API build on. Single vCPU, no interrupts: nothing here is reentrant.

use core::cell::UnsafeCell;
use core::sync::atomic::{fence, AtomicU64, Ordering};

use ringtender_abi::hvt::HVT_BOOT_INFO_BASE;
use ringtender_abi::mft::{MFT_DEV_BLOCK_BASIC, MFT_DEV_NET_BASIC, MFT_MAX_ENTRIES};
use ringtender_abi::rings::{
    RingDirEntry, RingDirHeader, AREA_GUEST_READ_COUNTER, AREA_HOST_READ_COUNTER,
    AREA_HOST_SLEEPING, BLOCK_REQUEST_SIZE, BLOCK_RESPONSE_SIZE, BOOT_INFO_RING_DIR_OFFSET,
    CHANNEL_HEADER_SIZE, HVT_FEATURE_RT_RINGS, RING_DIR_VERSION, RT_RING_DOORBELL_PIO,
};
use ringtender_muen_compat::block::{BlockRequest, BlockResponse};
use ringtender_muen_compat::{
    RawRegion, ReadResult, Reader, SharedMemory, Writer, BLOCK_PROTOCOL, NET_PROTOCOL,
};

use crate::boot;

/// One net device's channels.
pub struct NetRings {
    area: u64,
    frame_max: usize,
    tx: Writer<RawRegion>,
    rx: Reader<RawRegion>,
}

/// One block device's channels.
pub struct BlockRings {
    area: u64,
    requests: Writer<RawRegion>,
    responses: Reader<RawRegion>,
    next_tag: u32,
}

/// A device's rings.
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
/// so our last store is visible before we read its flag).
fn kick_if_sleeping(area: u64, handle: u64) {
    fence(Ordering::SeqCst);
    if load(area + AREA_HOST_SLEEPING) != 0 {
        // SAFETY: the doorbell port is open to us in the TSS I/O bitmap; the
        // tender serves it with an ioeventfd and reads nothing else.
        unsafe {
            core::arch::asm!("out dx, eax", in("dx") RT_RING_DOORBELL_PIO, in("eax") handle as u32,
                options(nostack, preserves_flags));
        }
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

/// Whether any device is served through rings.
pub fn any() -> bool {
    // SAFETY: single thread of execution (see `Table`); a shared look.
    let table = unsafe { &*TABLE.0.get() };
    table.iter().any(|d| !matches!(d, DeviceRings::None))
}

/// Sets up the rings the tender offers; false if it offers none.
pub fn init() -> bool {
    let info = boot::info();
    if info.host_features & HVT_FEATURE_RT_RINGS == 0 {
        return false;
    }
    let dir = load(HVT_BOOT_INFO_BASE + BOOT_INFO_RING_DIR_OFFSET);
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
        let elements = u64::from(e.elements);
        let Some(slot) = device(handle as u64) else {
            continue;
        };
        *slot = match e.kind {
            MFT_DEV_NET_BASIC => {
                let Some(entry) = crate::devices::entry(handle as u64, MFT_DEV_NET_BASIC) else {
                    continue;
                };
                let frame_max = usize::from(entry.net_mtu()) + 14;
                let size = frame_max as u64 + 2;
                let (Ok(tx), Ok(rx)) = (
                    Writer::init(
                        region(e.area, e.g2h_offset, size, elements),
                        NET_PROTOCOL,
                        size as usize,
                        epoch,
                    ),
                    Reader::new(
                        region(e.area, e.h2g_offset, size, elements),
                        NET_PROTOCOL,
                        size as usize,
                    ),
                ) else {
                    continue;
                };
                DeviceRings::Net(NetRings {
                    area: e.area,
                    frame_max,
                    tx,
                    rx,
                })
            }
            MFT_DEV_BLOCK_BASIC => {
                let (Ok(requests), Ok(responses)) = (
                    Writer::init(
                        region(e.area, e.g2h_offset, BLOCK_REQUEST_SIZE, elements),
                        BLOCK_PROTOCOL,
                        BLOCK_REQUEST_SIZE as usize,
                        epoch,
                    ),
                    Reader::new(
                        region(e.area, e.h2g_offset, BLOCK_RESPONSE_SIZE, elements),
                        BLOCK_PROTOCOL,
                        BLOCK_RESPONSE_SIZE as usize,
                    ),
                ) else {
                    continue;
                };
                DeviceRings::Block(BlockRings {
                    area: e.area,
                    requests,
                    responses,
                    next_tag: 0,
                })
            }
            _ => DeviceRings::None,
        };
    }
    true
}

impl NetRings {
    /// Queues one frame for sending; false if the tx ring is full.
    pub fn send(&mut self, handle: u64, frame: &[u8]) -> bool {
        let host_rc = load(self.area + AREA_HOST_READ_COUNTER);
        if frame.len() > self.frame_max || self.tx.free_slots(host_rc) == 0 {
            kick_if_sleeping(self.area, handle);
            return false;
        }
        let slot = self.tx.slot_offset(0);
        self.tx.begin(1);
        self.tx.memory().write_bytes(slot, frame);
        self.tx
            .memory()
            .write_bytes(slot + self.frame_max, &(frame.len() as u16).to_le_bytes());
        self.tx.commit(1);
        kick_if_sleeping(self.area, handle);
        true
    }

    /// Lends the next received frame to `f` (no copy), then releases it.
    /// None if nothing is pending.
    pub fn receive<R>(
        &mut self,
        handle: u64,
        f: impl FnOnce(&RawRegion, usize, usize) -> R,
    ) -> Option<R> {
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
        let result = f(self.rx.memory(), offset, len);
        let valid = self.rx.consume() == ReadResult::Success;
        store(self.area + AREA_GUEST_READ_COUNTER, self.rx.rc());
        kick_if_sleeping(self.area, handle);
        valid.then_some(result)
    }

    /// Whether a received frame is waiting.
    pub fn pending(&mut self) -> bool {
        self.rx.has_pending_data()
    }
}

impl BlockRings {
    /// Free request slots (the in-flight window left).
    pub fn free(&self) -> u64 {
        self.requests
            .free_slots(load(self.area + AREA_HOST_READ_COUNTER))
    }

    /// Submits one request; returns its tag, or None if the window is full.
    pub fn submit(
        &mut self,
        handle: u64,
        kind: u16,
        offset: u64,
        buffer: u64,
        length: u64,
    ) -> Option<u32> {
        if self.free() == 0 {
            return None;
        }
        let tag = self.next_tag;
        self.next_tag = self.next_tag.wrapping_add(1);
        let req = BlockRequest {
            kind,
            device: handle as u16,
            tag,
            length,
            device_offset: offset,
            buffer_offset: buffer,
        };
        self.requests
            .try_write(
                bytemuck::bytes_of(&req),
                load(self.area + AREA_HOST_READ_COUNTER),
            )
            .ok()?;
        kick_if_sleeping(self.area, handle);
        Some(tag)
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
        Some(bytemuck::pod_read_unaligned(&raw))
    }
}
