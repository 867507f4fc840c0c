//! `solo5_ring.h`, ringtender's ring API for C libOSes, exported with C
//! linkage over `ringtender_guest::rings`, on hvt, spt and muen (where an
//! acquired device's Muen channels are its rings; `docs/ring-abi.md` §8
//! lists what differs there).

use ringtender_abi::solo5::{Solo5Result, SOLO5_R_AGAIN, SOLO5_R_EINVAL, SOLO5_R_OK};
use ringtender_guest::devices::{block_status, SHIM_TAG};
use ringtender_guest::rings::{self, BlockOp, BlockRings, DeviceRings, NetRings};

/// `struct solo5_ring_frame`.
#[repr(C)]
pub struct RingFrame {
    data: *const u8,
    len: usize,
}

/// `struct solo5_ring_block_req`.
#[repr(C)]
pub struct RingBlockRequest {
    op: u32,
    tag: u32,
    offset: u64,
    buf: *mut u8,
    len: usize,
}

/// `struct solo5_ring_block_completion`.
#[repr(C)]
pub struct RingBlockCompletion {
    tag: u32,
    result: Solo5Result,
}

fn net(handle: u64) -> Option<&'static mut NetRings> {
    match rings::device(handle)? {
        DeviceRings::Net(ring) => Some(ring),
        _ => None,
    }
}

fn block(handle: u64) -> Option<&'static mut BlockRings> {
    match rings::device(handle)? {
        DeviceRings::Block(ring) => Some(ring),
        _ => None,
    }
}

/// `bool solo5_ring_available(solo5_handle_t h)`.
#[no_mangle]
pub extern "C" fn solo5_ring_available(handle: u64) -> bool {
    net(handle).is_some() || block(handle).is_some()
}

/// `size_t solo5_ring_net_send(solo5_handle_t h, const struct solo5_ring_frame *frames, size_t n)`.
///
/// # Safety
/// `frames` points to `n` frames, each `len` readable bytes at `data`.
#[no_mangle]
pub unsafe extern "C" fn solo5_ring_net_send(
    handle: u64,
    frames: *const RingFrame,
    n: usize,
) -> usize {
    let Some(ring) = net(handle) else {
        return 0;
    };
    if frames.is_null() || n == 0 {
        return 0;
    }
    // SAFETY: the caller passes `n` frames.
    let frames = unsafe { core::slice::from_raw_parts(frames, n) };
    ring.send_batch(frames.iter().map(|f| {
        // SAFETY: the caller passes `len` readable bytes at `data`.
        unsafe { core::slice::from_raw_parts(f.data, f.len) }
    }))
}

/// `solo5_result_t solo5_ring_net_borrow(solo5_handle_t h, const uint8_t **frame, size_t *len)`.
///
/// # Safety
/// `frame` and `len` are writable.
#[no_mangle]
pub unsafe extern "C" fn solo5_ring_net_borrow(
    handle: u64,
    frame: *mut *const u8,
    len: *mut usize,
) -> Solo5Result {
    let Some(ring) = net(handle) else {
        return SOLO5_R_EINVAL;
    };
    match ring.borrow() {
        Some((data, n)) => {
            // SAFETY: the caller passes writable out-parameters.
            unsafe {
                frame.write(data);
                len.write(n);
            }
            SOLO5_R_OK
        }
        None => SOLO5_R_AGAIN,
    }
}

/// `void solo5_ring_net_release(solo5_handle_t h)`.
#[no_mangle]
pub extern "C" fn solo5_ring_net_release(handle: u64) {
    if let Some(ring) = net(handle) {
        ring.release();
    }
}

/// `uint64_t solo5_ring_net_dropped(solo5_handle_t h)`.
#[no_mangle]
pub extern "C" fn solo5_ring_net_dropped(handle: u64) -> u64 {
    net(handle).map_or(0, |ring| ring.dropped())
}

/// `size_t solo5_ring_block_submit(solo5_handle_t h, const struct solo5_ring_block_req *reqs, size_t n)`.
///
/// # Safety
/// `reqs` points to `n` requests.
#[no_mangle]
pub unsafe extern "C" fn solo5_ring_block_submit(
    handle: u64,
    reqs: *const RingBlockRequest,
    n: usize,
) -> usize {
    let Some(ring) = block(handle) else {
        return 0;
    };
    if reqs.is_null() || n == 0 {
        return 0;
    }
    // SAFETY: the caller passes `n` requests.
    let reqs = unsafe { core::slice::from_raw_parts(reqs, n) };
    // The shim's own tag is refused: its completion would be taken for a
    // blocking call's. Requests stop there, as at a full window.
    let usable = reqs.iter().take_while(|r| r.tag != SHIM_TAG);
    ring.submit_batch(usable.map(|r| BlockOp {
        kind: r.op as u16,
        tag: r.tag,
        offset: r.offset,
        buffer: r.buf as u64,
        length: r.len as u64,
    }))
}

/// `size_t solo5_ring_block_reap(solo5_handle_t h, struct solo5_ring_block_completion *out, size_t max)`.
///
/// # Safety
/// `out` has room for `max` completions.
#[no_mangle]
pub unsafe extern "C" fn solo5_ring_block_reap(
    handle: u64,
    out: *mut RingBlockCompletion,
    max: usize,
) -> usize {
    let Some(ring) = block(handle) else {
        return 0;
    };
    let mut taken = 0;
    while taken < max {
        let Some(resp) = ring.reap() else {
            break;
        };
        // SAFETY: `taken < max` and the caller gives room for `max`.
        unsafe {
            out.add(taken).write(RingBlockCompletion {
                tag: resp.tag,
                result: block_status(resp.status),
            });
        }
        taken += 1;
    }
    taken
}

/// `size_t solo5_ring_block_window(solo5_handle_t h)`.
#[no_mangle]
pub extern "C" fn solo5_ring_block_window(handle: u64) -> usize {
    block(handle).map_or(0, |ring| ring.window() as usize)
}
