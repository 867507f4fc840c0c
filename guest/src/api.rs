//! The Solo5 API for Rust unikernels: the same operations as `solo5.h`,
//! with slices instead of pointer and length pairs.

pub use ringtender_abi::solo5::{
    BlockInfo, NetInfo, Solo5Result, StartInfo, SOLO5_R_AGAIN, SOLO5_R_EINVAL, SOLO5_R_EUNSPEC,
    SOLO5_R_OK,
};

use crate::{clock, console, devices, log, platform};

/// Writes to the console (best effort).
pub fn console_write(bytes: &[u8]) {
    console::write(bytes);
}

/// Exits with `status` (upstream logs it at INFO first).
pub fn exit(status: i32) -> ! {
    log!(Info, "Solo5: solo5_exit({}) called\n", status);
    platform::halt(status)
}

/// Aborts: exit status 255.
pub fn abort() -> ! {
    log!(Info, "Solo5: solo5_abort() called\n");
    platform::halt(255)
}

/// Monotonic time, nanoseconds.
pub fn clock_monotonic() -> u64 {
    clock::monotonic()
}

/// Wall-clock time, nanoseconds since the Unix epoch.
pub fn clock_wall() -> u64 {
    clock::wall()
}

/// Waits until `deadline` or network input; returns the ready handle set.
pub fn yield_until(deadline: u64) -> u64 {
    devices::yield_until(deadline)
}

/// Acquires the network device `name`.
pub fn net_acquire(name: &str) -> Option<(u64, NetInfo)> {
    devices::net_acquire(name.as_bytes())
}

/// Sends one frame.
pub fn net_write(handle: u64, frame: &[u8]) -> Solo5Result {
    devices::net_write(handle, frame)
}

/// Receives one frame into `buf`; the result and the frame length.
pub fn net_read(handle: u64, buf: &mut [u8]) -> (Solo5Result, usize) {
    devices::net_read(handle, buf)
}

/// Acquires the block device `name`.
pub fn block_acquire(name: &str) -> Option<(u64, BlockInfo)> {
    devices::block_acquire(name.as_bytes())
}

/// Writes one block at `offset`.
pub fn block_write(handle: u64, offset: u64, data: &[u8]) -> Solo5Result {
    devices::block_write(handle, offset, data)
}

/// Reads one block at `offset`.
pub fn block_read(handle: u64, offset: u64, buf: &mut [u8]) -> Solo5Result {
    devices::block_read(handle, offset, buf)
}
