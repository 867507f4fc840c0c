//! The spt target's primitives: raw Linux system calls (no libc, no vDSO),
//! only those upstream's `solo5-spt` filter allows, each on the descriptors
//! the tender handed over in the boot info and the manifest; with rings,
//! also the write to the I/O worker's doorbell and the two `epoll_ctl`
//! calls that take the taps from the worker while the guest waits.

use core::sync::atomic::{AtomicI32, Ordering};

use ringtender_abi::solo5::{Solo5Result, SOLO5_R_AGAIN, SOLO5_R_EUNSPEC, SOLO5_R_OK};
use ringtender_abi::spt::{SPT_INTERNAL_TIMERFD, SPT_TAP_SET_EVENT, SPT_WORKER_TAP_SET_EVENT};

/// x86_64 system call numbers.
mod nr {
    pub const READ: u64 = 0;
    pub const WRITE: u64 = 1;
    pub const PREAD64: u64 = 17;
    pub const PWRITE64: u64 = 18;
    pub const ARCH_PRCTL: u64 = 158;
    pub const CLOCK_GETTIME: u64 = 228;
    pub const EXIT_GROUP: u64 = 231;
    pub const EPOLL_CTL: u64 = 233;
    pub const EPOLL_PWAIT: u64 = 281;
    pub const TIMERFD_SETTIME: u64 = 286;
}

const EINTR: i64 = 4;
const EAGAIN: i64 = 11;
const ARCH_SET_FS: u64 = 0x1002;
const EPOLL_CTL_ADD: u64 = 1;
const EPOLL_CTL_MOD: u64 = 3;
const EPOLLIN: u32 = 1;
const TFD_TIMER_ABSTIME: u64 = 1;
/// `CLOCK_MONOTONIC`: Solo5's monotonic clock is the host's.
pub const CLOCK_MONOTONIC: u64 = 1;
/// `CLOCK_REALTIME`.
pub const CLOCK_REALTIME: u64 = 0;

static EPOLL_FD: AtomicI32 = AtomicI32::new(-1);
static TIMER_FD: AtomicI32 = AtomicI32::new(-1);
static DOORBELL_FD: AtomicI32 = AtomicI32::new(-1);
static WORKER_EPOLL_FD: AtomicI32 = AtomicI32::new(-1);
static TAP_SET_FD: AtomicI32 = AtomicI32::new(-1);

/// Remembers the tender's epoll and timer descriptors (from the boot info)
/// and the rings' doorbell (-1 without rings).
pub fn init(epoll_fd: i32, timer_fd: i32, doorbell_fd: i32) {
    EPOLL_FD.store(epoll_fd, Ordering::Relaxed);
    TIMER_FD.store(timer_fd, Ordering::Relaxed);
    DOORBELL_FD.store(doorbell_fd, Ordering::Relaxed);
}

/// The rings' doorbell eventfd (-1 without rings).
pub fn doorbell_fd() -> i32 {
    DOORBELL_FD.load(Ordering::Relaxed)
}

/// Takes the worker's tap set into our epoll set (once, at start-up), so
/// that `wait` wakes for tap input; remembers the worker's epoll set, in
/// which [`watch_taps_in_worker`] switches the tap set. False if the
/// tender refused (then the worker keeps the taps).
pub fn adopt_tap_set(worker_epoll: i32, tap_set: i32) -> bool {
    let event = EpollEvent {
        events: EPOLLIN,
        data: SPT_TAP_SET_EVENT,
    };
    let ret = syscall(
        nr::EPOLL_CTL,
        [
            EPOLL_FD.load(Ordering::Relaxed) as u64,
            EPOLL_CTL_ADD,
            tap_set as u64,
            &event as *const EpollEvent as u64,
            0,
            0,
        ],
    );
    if ret != 0 {
        return false;
    }
    WORKER_EPOLL_FD.store(worker_epoll, Ordering::Relaxed);
    TAP_SET_FD.store(tap_set, Ordering::Relaxed);
    true
}

/// Makes the I/O worker's epoll set report tap input (`watch`) or not
/// (while we wait and serve the taps ourselves).
pub fn watch_taps_in_worker(watch: bool) {
    let event = EpollEvent {
        events: if watch { EPOLLIN } else { 0 },
        data: SPT_WORKER_TAP_SET_EVENT,
    };
    syscall(
        nr::EPOLL_CTL,
        [
            WORKER_EPOLL_FD.load(Ordering::Relaxed) as u64,
            EPOLL_CTL_MOD,
            TAP_SET_FD.load(Ordering::Relaxed) as u64,
            &event as *const EpollEvent as u64,
            0,
            0,
        ],
    );
}

/// Reads one frame from tap `fd` into `len` bytes at `addr` (a slot of an
/// rx ring); its length, or None when none is waiting (or on error).
pub fn tap_read_into(fd: i32, addr: u64, len: usize) -> TapRead {
    match syscall(nr::READ, [fd as u64, addr, len as u64, 0, 0, 0]) {
        n if n > 0 => TapRead::Frame(n as usize),
        0 => TapRead::Empty,
        n if n == -EAGAIN => TapRead::Empty,
        _ => TapRead::Failed,
    }
}

/// What one read of a tap found.
pub enum TapRead {
    /// A frame of this many bytes.
    Frame(usize),
    /// Nothing waiting.
    Empty,
    /// The tap failed (deleted under us, for one): the worker, which reads
    /// it from now on, reports the error and ends the tender.
    Failed,
}

/// Rings the I/O worker's doorbell: one eventfd write.
pub fn ring_doorbell() {
    let one = 1u64.to_ne_bytes();
    syscall(
        nr::WRITE,
        [doorbell_fd() as u64, one.as_ptr() as u64, 8, 0, 0, 0],
    );
}

/// System call `n` with six arguments; the raw result (negative errno on error).
#[cfg(not(feature = "muen-only"))]
fn syscall(n: u64, args: [u64; 6]) -> i64 {
    let ret: i64;
    // SAFETY: the `syscall` instruction with the kernel's register
    // convention; it clobbers rcx and r11 only. Each caller passes
    // arguments whose pointers cover what the call reads or writes.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") n as i64 => ret,
            in("rdi") args[0], in("rsi") args[1], in("rdx") args[2],
            in("r10") args[3], in("r8") args[4], in("r9") args[5],
            lateout("rcx") _, lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// The muen object makes no system calls (a Muen subject runs on no
/// kernel); no muen path reaches this.
#[cfg(feature = "muen-only")]
fn syscall(_n: u64, _args: [u64; 6]) -> i64 {
    crate::muen::cpu::halt_forever()
}

/// Writes to the console (standard output), best effort.
pub fn console_write(bytes: &[u8]) {
    syscall(
        nr::WRITE,
        [1, bytes.as_ptr() as u64, bytes.len() as u64, 0, 0, 0],
    );
}

/// `exit_group(status)`.
pub fn exit_group(status: i32) -> ! {
    syscall(nr::EXIT_GROUP, [status as u64, 0, 0, 0, 0, 0]);
    loop {
        core::hint::spin_loop();
    }
}

/// Nanoseconds of clock `clock_id`; the tender's filter allows only
/// `CLOCK_MONOTONIC` and `CLOCK_REALTIME`, which cannot fail.
pub fn clock(clock_id: u64) -> u64 {
    let mut ts = [0i64; 2];
    syscall(
        nr::CLOCK_GETTIME,
        [clock_id, ts.as_mut_ptr() as u64, 0, 0, 0, 0],
    );
    (ts[0] as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts[1] as u64)
}

/// Sets the FS base (TLS thread pointer).
pub fn set_fs_base(base: u64) {
    syscall(nr::ARCH_PRCTL, [ARCH_SET_FS, base, 0, 0, 0, 0]);
}

/// Sends one frame on tap `fd`: OK only if the whole frame went out.
pub fn net_write(fd: i32, frame: &[u8]) -> Solo5Result {
    let n = syscall(
        nr::WRITE,
        [
            fd as u64,
            frame.as_ptr() as u64,
            frame.len() as u64,
            0,
            0,
            0,
        ],
    );
    if n == frame.len() as i64 {
        SOLO5_R_OK
    } else {
        SOLO5_R_EUNSPEC
    }
}

/// Receives one frame from tap `fd`: AGAIN when none is waiting.
pub fn net_read(fd: i32, buf: &mut [u8]) -> (Solo5Result, usize) {
    let n = syscall(
        nr::READ,
        [
            fd as u64,
            buf.as_mut_ptr() as u64,
            buf.len() as u64,
            0,
            0,
            0,
        ],
    );
    match n {
        n if n >= 0 => (SOLO5_R_OK, n as usize),
        n if n == -EAGAIN => (SOLO5_R_AGAIN, 0),
        _ => (SOLO5_R_EUNSPEC, 0),
    }
}

/// `pwrite64` (`write`) or `pread64` of `len` bytes at `buf` and `offset`
/// on block file `fd`: OK only if all of them moved.
pub fn block_io(write: bool, fd: i32, offset: u64, buf: u64, len: usize) -> Solo5Result {
    if block_transfer(write, fd, offset, buf, len as u64) {
        SOLO5_R_OK
    } else {
        SOLO5_R_EUNSPEC
    }
}

/// One `pwrite64` (`write`) or `pread64` of `len` bytes; true if all of
/// them moved.
fn block_transfer(write: bool, fd: i32, offset: u64, buf: u64, len: u64) -> bool {
    let call = if write { nr::PWRITE64 } else { nr::PREAD64 };
    syscall(call, [fd as u64, buf, len, offset, 0, 0]) == len as i64
}

/// A ring API transfer of `len` bytes (whole blocks of `block_size`) the
/// guest serves itself, in the largest pieces the guest's filter allows: a
/// power of two of blocks each (`docs/security.md`), so 64 KiB of 4 KiB
/// blocks is one system call and 7 blocks three. True if every byte moved.
pub fn block_transfer_split(
    write: bool,
    fd: i32,
    block_size: u64,
    offset: u64,
    buf: u64,
    len: u64,
) -> bool {
    let mut done = 0;
    while done < len {
        let blocks = (len - done) / block_size;
        let piece = block_size << (u64::BITS - 1 - blocks.leading_zeros());
        if !block_transfer(write, fd, offset + done, buf + done, piece) {
            return false;
        }
        done += piece;
    }
    true
}

/// One `struct epoll_event` as x86_64 packs it.
#[repr(C, packed)]
#[derive(Clone, Copy)]
struct EpollEvent {
    events: u32,
    data: u64,
}

/// Sleeps until `deadline` (monotonic ns) or input on a tap the tender put
/// in its epoll set; returns the ready handles. `devices` is how many taps
/// there are (the epoll set holds them and the timer).
pub fn wait(deadline: u64, devices: usize) -> u64 {
    // struct itimerspec: no interval, then the absolute expiry.
    let mut spec = [0u64; 4];
    spec[2] = deadline / 1_000_000_000;
    // An absolute deadline of zero would disarm the timer instead.
    spec[3] = (deadline % 1_000_000_000) | 1;
    syscall(
        nr::TIMERFD_SETTIME,
        [
            TIMER_FD.load(Ordering::Relaxed) as u64,
            TFD_TIMER_ABSTIME,
            spec.as_ptr() as u64,
            0,
            0,
            0,
        ],
    );
    let mut events = [EpollEvent { events: 0, data: 0 }; 64];
    let max = (devices + 1).min(events.len());
    let n = loop {
        let n = syscall(
            nr::EPOLL_PWAIT,
            [
                EPOLL_FD.load(Ordering::Relaxed) as u64,
                events.as_mut_ptr() as u64,
                max as u64,
                u64::MAX,
                0,
                0,
            ],
        );
        if n != -EINTR {
            break n;
        }
    };
    let mut ready = 0u64;
    for event in events.iter().take(n.max(0) as usize) {
        let data = event.data;
        if data != SPT_INTERNAL_TIMERFD && data < 64 {
            ready |= 1 << data;
        }
    }
    ready
}
