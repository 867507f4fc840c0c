//! The spt processes' seccomp filters (`docs/security.md`). The guest's is
//! upstream's whitelist, rule for rule; with rings it keeps its taps (to
//! serve them while it waits) and its block calls (one block, or a power
//! of two of blocks up to a data slot for the ring requests it serves), and gains its
//! doorbell and two `epoll_ctl` calls on the worker's epoll sets. The I/O worker's allows what the ring
//! pump and its engine do on the descriptors it holds, and nothing that
//! names a path or makes a socket. The supervisor's allows waiting for and
//! signalling its children and reporting on stderr. Anything else kills
//! the process (SIGSYS).

use std::os::fd::RawFd;

use ringtender_abi::rings::{SPT_BLOCK_SLOT_BYTES, SPT_RING_TRANSFER_DEVICES_MAX};
use seccompiler::BpfProgram;

use crate::error::TenderError;
use crate::seccomp_rules::{self, arg_eq, arg_le, words, FilterError, Rules};

const ARCH_SET_FS: u64 = 0x1002;

/// One attached block device, as the filter bounds its transfers.
pub struct BlockLimits {
    /// The backing file's descriptor.
    pub fd: RawFd,
    /// Bytes per transfer (the block size).
    pub block_size: u64,
    /// Capacity in bytes.
    pub capacity: u64,
}

/// What the guest process may touch.
pub struct GuestFds {
    /// epoll instance of `solo5_yield`.
    pub epoll: RawFd,
    /// Its timer.
    pub timer: RawFd,
    /// Tap descriptors.
    pub taps: Vec<RawFd>,
    /// Block devices.
    pub blocks: Vec<BlockLimits>,
    /// The rings' doorbell eventfd (written), when the worker serves the
    /// devices instead.
    pub doorbell: Option<RawFd>,
    /// With rings: the worker's epoll sets the guest may switch its taps in.
    pub tap_control: Option<TapControl>,
    /// The block transfers of the ring requests the guest serves itself
    /// are allowed too (`HOST_FEATURE_BLOCK_DIRECT_RING`): a power of two
    /// of blocks up to a data slot.
    pub ring_transfers: bool,
}

/// Whether a guest with rings and `block_devices` block devices serves
/// its ring reads and writes itself (`HOST_FEATURE_BLOCK_DIRECT_RING`): a
/// filter with every transfer size of 63 devices would exceed the kernel's
/// 4096 instructions.
pub fn ring_transfers_fit(block_devices: usize) -> bool {
    block_devices <= SPT_RING_TRANSFER_DEVICES_MAX
}

/// The two `epoll_ctl` calls a guest with rings may make
/// (`docs/architecture.md`, "An idle guest on spt").
pub struct TapControl {
    /// The worker's epoll set: the guest switches `tap_set` off and on in
    /// it (`EPOLL_CTL_MOD` of `tap_set` only).
    pub worker_epoll: RawFd,
    /// The nested epoll set of the taps.
    pub tap_set: RawFd,
}

/// What the I/O worker may touch.
pub struct WorkerFds {
    /// Taps and block files.
    pub devices: Vec<RawFd>,
    /// The doorbell (read, and written by the SIGTERM handler) and the
    /// guest's wake-up eventfd (written).
    pub eventfds: Vec<RawFd>,
    /// The worker's epoll instance.
    pub epoll: RawFd,
    /// The nested epoll set the worker arms its taps in.
    pub tap_set: RawFd,
    /// The io_uring instance, if the engine is io_uring.
    pub uring: Option<RawFd>,
}

/// The transfer sizes the guest's filter allows on block device `b`: the
/// block size (upstream's rule), and with `rings` (ring transfers) each power of two of
/// blocks up to a data slot (`SPT_BLOCK_SLOT_BYTES`, the longest ring
/// request on spt) that fits in the device.
fn transfer_sizes(b: &BlockLimits, rings: bool) -> impl Iterator<Item = u64> + '_ {
    let slot = if rings { SPT_BLOCK_SLOT_BYTES } else { 0 };
    let largest = b.capacity.min(slot.max(b.block_size));
    core::iter::successors(Some(b.block_size), |size| size.checked_mul(2))
        .take_while(move |&size| size != 0 && size <= largest)
}

fn build(fds: &GuestFds) -> Result<BpfProgram, FilterError> {
    let mut rules = Rules::new();
    // The filter tries the values in order: the taps first, as every
    // frame the guest sends goes through one (its doorbell and console
    // writes are rare).
    let writers = [&fds.taps, fds.doorbell.as_slice(), &[1][..]].concat();
    rules.allow_arg_in(libc::SYS_write, 0, &words(&writers))?;
    if !fds.taps.is_empty() {
        rules.allow_arg_in(libc::SYS_read, 0, &words(&fds.taps))?;
    }
    // Each transfer lies inside the device, count and offset bound: one
    // block (the classic calls, tried first), or a power of two of blocks
    // up to a data slot (the ring API's requests the guest serves itself,
    // which it splits into such transfers).
    let rings = fds.ring_transfers;
    let transfers = fds
        .blocks
        .iter()
        .flat_map(|b| transfer_sizes(b, rings).map(move |size| (b, size)))
        .map(|(b, size)| {
            Ok(vec![
                arg_eq(0, b.fd as u64)?,
                arg_eq(2, size)?,
                arg_le(3, b.capacity - size)?,
            ])
        })
        .collect::<Result<Vec<_>, FilterError>>()?;
    if !transfers.is_empty() {
        rules.allow_when(libc::SYS_pread64, transfers.clone())?;
        rules.allow_when(libc::SYS_pwrite64, transfers)?;
    }
    rules.allow(&[libc::SYS_exit_group])?;
    rules.allow_arg_in(libc::SYS_epoll_pwait, 0, &words(&[fds.epoll]))?;
    if let Some(control) = &fds.tap_control {
        // Adding the tap set to its own wait set (once), and switching it
        // off and on in the worker's: nothing else, on nothing else.
        let tap_set = control.tap_set as u64;
        rules.allow_when(
            libc::SYS_epoll_ctl,
            vec![
                vec![
                    arg_eq(0, fds.epoll as u64)?,
                    arg_eq(1, libc::EPOLL_CTL_ADD as u64)?,
                    arg_eq(2, tap_set)?,
                ],
                vec![
                    arg_eq(0, control.worker_epoll as u64)?,
                    arg_eq(1, libc::EPOLL_CTL_MOD as u64)?,
                    arg_eq(2, tap_set)?,
                ],
            ],
        )?;
    }
    rules.allow_arg_in(libc::SYS_timerfd_settime, 0, &words(&[fds.timer]))?;
    rules.allow_arg_in(
        libc::SYS_clock_gettime,
        0,
        &words(&[libc::CLOCK_MONOTONIC, libc::CLOCK_REALTIME]),
    )?;
    rules.allow_arg_in(libc::SYS_arch_prctl, 0, &[ARCH_SET_FS])?;
    rules.compile()
}

fn build_worker(fds: &WorkerFds) -> Result<BpfProgram, FilterError> {
    let mut rules = Rules::new();
    let streams = [fds.devices.as_slice(), fds.eventfds.as_slice()].concat();
    rules.allow_arg_in(libc::SYS_read, 0, &words(&streams))?;
    rules.allow_arg_in(libc::SYS_write, 0, &words(&[streams, vec![2]].concat()))?;
    rules.allow_block_io(&fds.devices)?;
    // Arming and disarming a tap in the tap set; switching the tap set in
    // its own set (off while the guest serves the taps).
    let mut controls = fds
        .devices
        .iter()
        .map(|&fd| Ok(vec![arg_eq(0, fds.tap_set as u64)?, arg_eq(2, fd as u64)?]))
        .collect::<Result<Vec<_>, FilterError>>()?;
    controls.push(vec![
        arg_eq(0, fds.epoll as u64)?,
        arg_eq(1, libc::EPOLL_CTL_MOD as u64)?,
        arg_eq(2, fds.tap_set as u64)?,
    ]);
    rules.allow_when(libc::SYS_epoll_ctl, controls)?;
    rules.allow_arg_in(libc::SYS_epoll_pwait, 0, &words(&[fds.epoll]))?;
    if let Some(ring) = fds.uring {
        rules.allow_io_uring(ring)?;
    }
    // The SIGTERM handler's return.
    rules.allow(&[libc::SYS_rt_sigreturn])?;
    rules.allow_thread_runtime()?;
    rules.compile()
}

fn build_supervisor(children: &[libc::pid_t], blocks: &[RawFd]) -> Result<BpfProgram, FilterError> {
    let mut rules = Rules::new();
    // SAFETY: getpid has no memory effects.
    let me = unsafe { libc::getpid() };
    // Signals go to the children, and to itself to die like the guest.
    let targets = [children, &[me]].concat();
    rules.allow_arg_in(libc::SYS_kill, 0, &words(&targets))?;
    rules.allow_arg_in(libc::SYS_write, 0, &[2])?;
    if !blocks.is_empty() {
        // Syncing the block files of a classic guest that exited.
        rules.allow_arg_in(libc::SYS_fdatasync, 0, &words(blocks))?;
    }
    rules.allow_thread_runtime()?;
    rules.allow(&[
        libc::SYS_wait4,
        libc::SYS_rt_sigtimedwait,
        libc::SYS_rt_sigaction,
        libc::SYS_rt_sigreturn,
        libc::SYS_getpid,
        libc::SYS_prlimit64,
        libc::SYS_setrlimit,
    ])?;
    rules.compile()
}

/// The guest's compiled filter, built before the guest process is forked
/// (building allocates; installing does not).
pub fn guest_filter(fds: &GuestFds) -> Result<BpfProgram, TenderError> {
    Ok(build(fds)?)
}

/// The supervisor's filter once its children run: wait for them, signal
/// them (or itself), report on stderr, exit.
pub fn supervisor_filter(
    children: &[libc::pid_t],
    blocks: &[RawFd],
) -> Result<BpfProgram, TenderError> {
    Ok(build_supervisor(children, blocks)?)
}

/// The I/O worker's compiled filter.
pub fn worker_filter(fds: &WorkerFds) -> Result<BpfProgram, TenderError> {
    Ok(build_worker(fds)?)
}

/// Installs `filter` on this (single-threaded) process, with no_new_privs.
pub fn install(filter: &BpfProgram) -> Result<(), TenderError> {
    Ok(seccomp_rules::install_on_this_thread(filter)?)
}
