//! Devices from the manifest: through the rings when the tender set them up
//! (`rings`), else the classic way: hypercalls on hvt, system calls on the
//! tender's descriptors on spt. This is the sync shim's engine: the blocking
//! API on top of asynchronous rings. On muen, the subject's channels, found
//! by the device's name when it is acquired (`muen::net`, `muen::block`)
//! and served through `rings` like hvt's and spt's.

use ringtender_abi::hvt::{HcBlockRead, HcBlockWrite, HcNetRead, HcNetWrite, HcPoll, Hypercall};
use ringtender_abi::mft::{
    MftEntry, MftHeader, MFT_DEV_BLOCK_BASIC, MFT_DEV_NET_BASIC, MFT_NAME_SIZE,
};
use ringtender_abi::solo5::{BlockInfo, NetInfo, Solo5Result, SOLO5_NET_HLEN, SOLO5_R_EINVAL};

use ringtender_abi::solo5::{SOLO5_R_AGAIN, SOLO5_R_EUNSPEC, SOLO5_R_OK};
use ringtender_muen_compat::block::{
    BLOCK_KIND_READ, BLOCK_KIND_WRITE, BLOCK_STATUS_INVALID, BLOCK_STATUS_OK,
};

use crate::hypercall::hypercall;
use crate::platform::{target, Target};
use crate::rings::{self, BlockOp, DeviceRings};
use crate::spt;
use crate::{boot, muen};

/// The tender-completed manifest entries (read-only memory).
fn entries() -> &'static [MftEntry] {
    let mft = boot::manifest() as *const MftHeader;
    // SAFETY: the tender placed a validated manifest at `boot_info.mft` in
    // memory mapped read-only for the guest's whole life.
    unsafe {
        let count = (*mft).entries as usize;
        core::slice::from_raw_parts(mft.add(1) as *const MftEntry, count)
    }
}

fn find(name: &[u8], kind: u32) -> Option<usize> {
    let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
    if name.len() >= MFT_NAME_SIZE {
        return None;
    }
    entries()
        .iter()
        .position(|e| e.mft_type == kind && e.name_bytes() == name)
}

/// The entry of `handle` if it is a device of `kind`.
pub fn entry(handle: u64, kind: u32) -> Option<&'static MftEntry> {
    entries()
        .get(usize::try_from(handle).ok()?)
        .filter(|e| e.mft_type == kind)
}

/// Looks a network device up by name.
pub fn net_acquire(name: &[u8]) -> Option<(u64, NetInfo)> {
    let index = find(name, MFT_DEV_NET_BASIC)?;
    if target() == Target::Muen {
        return Some((index as u64, muen::net::acquire(index as u64, name)?));
    }
    let e = &entries()[index];
    Some((
        index as u64,
        NetInfo {
            mac_address: e.net_mac(),
            pad: [0; 2],
            mtu: u64::from(e.net_mtu()),
        },
    ))
}

/// Looks a block device up by name.
pub fn block_acquire(name: &[u8]) -> Option<(u64, BlockInfo)> {
    let index = find(name, MFT_DEV_BLOCK_BASIC)?;
    if target() == Target::Muen {
        return Some((index as u64, muen::block::acquire(index as u64, name)?));
    }
    let e = &entries()[index];
    Some((
        index as u64,
        BlockInfo {
            capacity: e.block_capacity(),
            block_size: u64::from(e.block_size()),
        },
    ))
}

/// The host descriptor the tender wrote into a manifest entry (spt).
fn host_fd(e: &MftEntry) -> i32 {
    e.hostfd as i32
}

/// Largest frame device `handle` takes (its MTU and the Ethernet header),
/// if it is a net device: from the manifest, or on muen from its channels.
fn frame_max(handle: u64) -> Option<usize> {
    if target() == Target::Muen {
        return match rings::device(handle)? {
            DeviceRings::Net(ring) => Some(ring.frame_max()),
            _ => None,
        };
    }
    entry(handle, MFT_DEV_NET_BASIC).map(|e| usize::from(e.net_mtu()) + SOLO5_NET_HLEN)
}

/// Sends one frame.
pub fn net_write(handle: u64, frame: &[u8]) -> Solo5Result {
    let Some(max) = frame_max(handle) else {
        return SOLO5_R_EINVAL;
    };
    if frame.len() > max {
        return SOLO5_R_EINVAL;
    }
    if let Some(DeviceRings::Net(ring)) = rings::device(handle) {
        if ring.send(frame) {
            return SOLO5_R_OK;
        }
        // spt: like the tap write it stands for, the call waits for room
        // (hvt and muen answer AGAIN: a guest there has no cheap way to
        // sleep until the ring drains).
        if target() == Target::Spt {
            let deadline = crate::clock::monotonic().saturating_add(TX_ROOM_WAIT_NS);
            ring.wait_tx_room(deadline);
            if ring.send(frame) {
                return SOLO5_R_OK;
            }
        }
        return SOLO5_R_AGAIN;
    }
    let Some(e) = entry(handle, MFT_DEV_NET_BASIC) else {
        return SOLO5_R_EINVAL;
    };
    if target() == Target::Spt {
        return spt::net_write(host_fd(e), frame);
    }
    let mut arg = HcNetWrite {
        handle,
        data: frame.as_ptr() as u64,
        len: frame.len() as u64,
        ..Default::default()
    };
    hypercall(Hypercall::NetWrite, &mut arg);
    arg.ret
}

/// Longest a blocking send waits for tx room on spt before it answers
/// AGAIN (a worker that takes this long is stuck or starved).
const TX_ROOM_WAIT_NS: u64 = 1_000_000_000;

/// Receives one frame.
pub fn net_read(handle: u64, buf: &mut [u8]) -> (Solo5Result, usize) {
    let Some(max) = frame_max(handle) else {
        return (SOLO5_R_EINVAL, 0);
    };
    if buf.len() < max {
        return (SOLO5_R_EINVAL, 0);
    }
    if let Some(DeviceRings::Net(ring)) = rings::device(handle) {
        return match ring.receive_into(buf) {
            Some(len) => (SOLO5_R_OK, len),
            None => (SOLO5_R_AGAIN, 0),
        };
    }
    let Some(e) = entry(handle, MFT_DEV_NET_BASIC) else {
        return (SOLO5_R_EINVAL, 0);
    };
    if target() == Target::Spt {
        return spt::net_read(host_fd(e), buf);
    }
    let mut arg = HcNetRead {
        handle,
        data: buf.as_mut_ptr() as u64,
        len: buf.len() as u64,
        ..Default::default()
    };
    hypercall(Hypercall::NetRead, &mut arg);
    (arg.ret, arg.len as usize)
}

/// Block size and capacity of block device `handle`: from the manifest, or
/// on muen from the server's handshake.
fn block_geometry(handle: u64) -> Option<(u64, u64)> {
    if target() == Target::Muen {
        return match rings::device(handle)? {
            DeviceRings::Block(ring) => ring.geometry(),
            _ => None,
        };
    }
    let e = entry(handle, MFT_DEV_BLOCK_BASIC)?;
    Some((u64::from(e.block_size()), e.block_capacity()))
}

/// Whether a transfer of `len` bytes at `offset` is one aligned block
/// inside block device `handle`.
fn block_transfer_ok(handle: u64, offset: u64, len: usize) -> bool {
    let Some((bs, capacity)) = block_geometry(handle) else {
        return false;
    };
    let fits = capacity.checked_sub(bs).is_some_and(|last| offset <= last);
    bs != 0 && len as u64 == bs && offset.is_multiple_of(bs) && fits
}

/// Tag of the blocking calls' requests; ring API tags must differ. A
/// blocking call on a handle with ring API requests in flight discards
/// their completions, so a libOS uses one or the other at a time.
pub const SHIM_TAG: u32 = u32::MAX;

/// One block request through the ring, waiting for its own completion
/// (the one place the shim spins: a block completion is due).
fn block_via_ring(
    ring: &mut rings::BlockRings,
    kind: u16,
    offset: u64,
    buf: u64,
    len: usize,
) -> Solo5Result {
    let op = BlockOp {
        kind,
        tag: SHIM_TAG,
        offset,
        buffer: buf,
        length: len as u64,
    };
    while ring.submit_batch([op]) == 0 {
        // Window full of ring API requests: the host answers them.
        core::hint::spin_loop();
    }
    loop {
        match ring.reap() {
            Some(resp) if resp.tag == SHIM_TAG => return block_status(resp.status),
            Some(_) => {}
            None => core::hint::spin_loop(),
        }
    }
}

/// The Solo5 result for a block response status.
pub fn block_status(status: u64) -> Solo5Result {
    match status {
        BLOCK_STATUS_OK => SOLO5_R_OK,
        BLOCK_STATUS_INVALID => SOLO5_R_EINVAL,
        _ => SOLO5_R_EUNSPEC,
    }
}

/// Writes one block.
pub fn block_write(handle: u64, offset: u64, data: &[u8]) -> Solo5Result {
    block_io(
        BLOCK_KIND_WRITE,
        handle,
        offset,
        data.as_ptr() as u64,
        data.len(),
    )
}

/// Reads one block.
pub fn block_read(handle: u64, offset: u64, buf: &mut [u8]) -> Solo5Result {
    block_io(
        BLOCK_KIND_READ,
        handle,
        offset,
        buf.as_mut_ptr() as u64,
        buf.len(),
    )
}

/// One block transfer of `len` bytes at guest address `buf`, checked as
/// the API requires, through the ring if there is one, else the classic way.
fn block_io(kind: u16, handle: u64, offset: u64, buf: u64, len: usize) -> Solo5Result {
    if !block_transfer_ok(handle, offset, len) {
        return SOLO5_R_EINVAL;
    }
    let ring = match rings::device(handle) {
        Some(DeviceRings::Block(ring)) => Some(ring),
        _ => None,
    };
    let Some(e) = entry(handle, MFT_DEV_BLOCK_BASIC) else {
        return match ring {
            // muen: the subject's channels are the only way.
            Some(ring) => block_via_ring(ring, kind, offset, buf, len),
            None => SOLO5_R_EINVAL,
        };
    };
    // spt with a block file of our own: one system call beats a round trip
    // through the I/O worker (`docs/performance.md`), once every ring
    // request before it has completed.
    match ring {
        Some(ring) if ring.direct() => ring.quiesce(),
        Some(ring) => return block_via_ring(ring, kind, offset, buf, len),
        None => {}
    }
    if target() == Target::Spt {
        return spt::block_io(kind == BLOCK_KIND_WRITE, host_fd(e), offset, buf, len);
    }
    let len = len as u64;
    if kind == BLOCK_KIND_WRITE {
        let mut arg = HcBlockWrite {
            handle,
            offset,
            data: buf,
            len,
            ..Default::default()
        };
        hypercall(Hypercall::BlockWrite, &mut arg);
        arg.ret
    } else {
        let mut arg = HcBlockRead {
            handle,
            offset,
            data: buf,
            len,
            ..Default::default()
        };
        hypercall(Hypercall::BlockRead, &mut arg);
        arg.ret
    }
}

/// How long `yield_until` keeps looking at the rings before it makes the
/// POLL hypercall. An exit costs tens of microseconds where guest code runs
/// natively (`docs/ring-abi.md` section 5), so under a stream of input a
/// short look saves one exit per batch; an idle guest pays this once per
/// sleep. Not on spt when we serve our taps while we wait
/// (`SPT_FEATURE_GUEST_TAPS`): there the wait is a few plain system calls
/// and we read the input ourselves, while the spin took the CPU the peer
/// needs to send it and left the taps to the worker, whom a frame arriving
/// then woke on another CPU (`docs/performance.md`, "TCP workloads").
const POLL_SPIN_NS: u64 = 100_000;

/// Looks at the rings between two clock reads while `yield_until` spins:
/// on spt the clock is a system call (~0.3-0.5 µs, no vDSO under the
/// guest's filter), a look a few loads; reading it every time made the
/// spin ~300 system calls.
const LOOKS_PER_CLOCK_READ: u32 = 32;

/// Net handles whose rx ring holds a frame (on muen: whose input channel
/// holds a frame or an overrun to skip). On spt an empty ring whose tap we
/// hold is filled from the tap first (`NetRings::pending`).
pub fn ring_ready() -> u64 {
    ready_rings(|ring| ring.pending())
}

/// Net handles whose rx ring holds a frame, without reading a tap we hold.
fn ring_ready_in_memory() -> u64 {
    ready_rings(|ring| ring.holds_input())
}

/// Net handles whose rings `holds` says hold input.
fn ready_rings(mut holds: impl FnMut(&mut rings::NetRings) -> bool) -> u64 {
    let mut ready = 0;
    for handle in 0..entries().len() as u64 {
        if let Some(DeviceRings::Net(ring)) = rings::device(handle) {
            if holds(ring) {
                ready |= 1 << handle;
            }
        }
    }
    ready
}

/// Waits until `deadline` (monotonic ns), network input or a block
/// completion of the ring API (returned with no handle set: the caller
/// reaps); returns the set of handles ready for input. Rings are looked
/// at first; the POLL
/// hypercall (which the host ends as soon as a ring has input), or on spt
/// the tender's epoll set, only when nothing is ready.
pub fn yield_until(deadline: u64) -> u64 {
    if target() == Target::Muen {
        return muen::net::yield_until(deadline);
    }
    rings::flush_kicks();
    let mut now = crate::clock::monotonic();
    // Without rings there is nothing to look at: straight to POLL.
    let with_rings = rings::any();
    let serving_taps = with_rings && rings::guest_taps();
    // No spin either for a worker that waits for room in a full rx ring:
    // our releases rang it, and on hvt the POLL lets it have the CPU.
    let spin_ns = if with_rings && !serving_taps && !rings::host_awaits_rx_room() {
        POLL_SPIN_NS
    } else {
        0
    };
    let spin_end = deadline.min(now.saturating_add(spin_ns));
    // Serving our taps, the look leaves them alone: the caller most often
    // just read them empty, and the wait below reports their input at
    // once, as the classic path's wait does (a `read` here cost one system
    // call per wait, `docs/performance.md`, "spt: request/response").
    let mut ready = if serving_taps {
        ring_ready_in_memory()
    } else {
        ring_ready()
    };
    let mut looks = 0u32;
    loop {
        if ready != 0 || rings::completions_waiting() {
            return ready;
        }
        if now >= spin_end {
            break;
        }
        core::hint::spin_loop();
        looks = looks.wrapping_add(1);
        if looks.is_multiple_of(LOOKS_PER_CLOCK_READ) {
            now = crate::clock::monotonic();
        }
        ready = ring_ready();
    }
    if target() == Target::Spt {
        if !with_rings {
            let nets = entries()
                .iter()
                .filter(|e| e.mft_type == MFT_DEV_NET_BASIC)
                .count();
            return spt::wait(deadline, nets);
        }
        // The worker writes the wake-up eventfd (in the epoll set beside
        // the timer) when it publishes while we wait. With the guest taps
        // protocol the taps' input wakes us instead of the worker, and we
        // read it into the rx rings ourselves (`rings::take_taps`).
        let taps = rings::guest_taps();
        rings::set_waiting(true);
        // Held taps were looked at just now (`ring_ready` above) and no
        // worker fills the rings meanwhile.
        let held = taps && rings::taps_held();
        if taps {
            rings::take_taps();
        }
        let mut ready = if held { 0 } else { ring_ready() };
        // A block completion published before we said we wait rang
        // nothing: look after saying it (`rings::completions_waiting`).
        if ready == 0 && !rings::completions_waiting() {
            // Events: the timer, the wake-up eventfd and the tap set.
            spt::wait(deadline, 2);
        }
        if taps {
            rings::after_wait(ready == 0);
            rings::after_poll();
        }
        rings::set_waiting(false);
        if ready == 0 {
            ready = ring_ready();
        }
        return ready;
    }
    let mut arg = HcPoll {
        timeout_nsecs: deadline.saturating_sub(now),
        ..Default::default()
    };
    hypercall(Hypercall::Poll, &mut arg);
    rings::after_poll();
    arg.ready_set
}
