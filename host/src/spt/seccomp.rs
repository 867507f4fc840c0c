//! The spt processes' seccomp filters (`docs/security.md`). The guest's is
//! upstream's whitelist, rule for rule; with rings it loses every device
//! call and gains only its doorbell. The I/O worker's allows what the ring
//! pump and its engine do on the descriptors it holds, and nothing that
//! names a path or makes a socket. The supervisor's allows waiting for and
//! signalling its children and reporting on stderr. Anything else kills
//! the process (SIGSYS).

use std::collections::BTreeMap;
use std::os::fd::RawFd;

use seccompiler::{BpfProgram, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompRule};

use crate::error::TenderError;
use crate::hvt::seccomp::{allow, arg_eq, compile, mmap_without_exec, one_of};
use crate::rings::engine::IORING_UNREGISTER_FILES;

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
    /// The io_uring instance, if the engine is io_uring.
    pub uring: Option<RawFd>,
}

/// Descriptors (or pids) as the filter compares them.
fn words(values: &[i32]) -> Vec<u64> {
    values.iter().map(|&v| v as u64).collect()
}

/// Argument `index` is at most `value` (64-bit, unsigned).
fn arg_le(index: u8, value: u64) -> Result<SeccompCondition, seccompiler::BackendError> {
    SeccompCondition::new(index, SeccompCmpArgLen::Qword, SeccompCmpOp::Le, value)
}

fn build(fds: &GuestFds) -> Result<BpfProgram, seccompiler::Error> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    let writers = [&[1][..], fds.doorbell.as_slice(), &fds.taps].concat();
    rules.insert(libc::SYS_write, one_of(0, &words(&writers))?);
    if !fds.taps.is_empty() {
        rules.insert(libc::SYS_read, one_of(0, &words(&fds.taps))?);
    }
    // Each transfer is one block inside the device: count and offset bound.
    let transfers = fds
        .blocks
        .iter()
        .filter_map(|b| Some((b, b.capacity.checked_sub(b.block_size)?)))
        .map(|(b, last)| {
            SeccompRule::new(vec![
                arg_eq(0, b.fd as u64)?,
                arg_eq(2, b.block_size)?,
                arg_le(3, last)?,
            ])
        })
        .collect::<Result<Vec<_>, _>>()?;
    if !transfers.is_empty() {
        rules.insert(libc::SYS_pread64, transfers.clone());
        rules.insert(libc::SYS_pwrite64, transfers);
    }
    rules.insert(libc::SYS_exit_group, vec![]);
    rules.insert(libc::SYS_epoll_pwait, one_of(0, &words(&[fds.epoll]))?);
    rules.insert(libc::SYS_timerfd_settime, one_of(0, &words(&[fds.timer]))?);
    rules.insert(
        libc::SYS_clock_gettime,
        one_of(
            0,
            &[libc::CLOCK_MONOTONIC as u64, libc::CLOCK_REALTIME as u64],
        )?,
    );
    rules.insert(libc::SYS_arch_prctl, one_of(0, &[ARCH_SET_FS])?);
    compile(rules)
}

fn build_worker(fds: &WorkerFds) -> Result<BpfProgram, seccompiler::Error> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    let streams = [fds.devices.as_slice(), fds.eventfds.as_slice()].concat();
    rules.insert(libc::SYS_read, one_of(0, &words(&streams))?);
    rules.insert(
        libc::SYS_write,
        one_of(0, &words(&[streams, vec![2]].concat()))?,
    );
    if !fds.devices.is_empty() {
        for nr in [libc::SYS_pread64, libc::SYS_pwrite64, libc::SYS_fdatasync] {
            rules.insert(nr, one_of(0, &words(&fds.devices))?);
        }
    }
    for nr in [libc::SYS_epoll_pwait, libc::SYS_epoll_ctl] {
        rules.insert(nr, one_of(0, &words(&[fds.epoll]))?);
    }
    if let Some(ring) = fds.uring {
        rules.insert(libc::SYS_io_uring_enter, one_of(0, &words(&[ring]))?);
        // Only to drop the registered files when it ends.
        rules.insert(
            libc::SYS_io_uring_register,
            vec![SeccompRule::new(vec![
                arg_eq(0, ring as u64)?,
                arg_eq(1, u64::from(IORING_UNREGISTER_FILES))?,
            ])?],
        );
    }
    // Memory for the pump's own buffers, never executable.
    allow_runtime(&mut rules)?;
    allow(&mut rules, &[libc::SYS_mremap, libc::SYS_clock_gettime]);
    compile(rules)
}

/// What the Rust runtime of the worker and the supervisor needs:
/// non-executable memory, a signal handler's return, uncontended locks,
/// closing descriptors, and the exit path.
fn allow_runtime(rules: &mut BTreeMap<i64, Vec<SeccompRule>>) -> Result<(), seccompiler::Error> {
    rules.insert(libc::SYS_mmap, mmap_without_exec()?);
    allow(
        rules,
        &[
            libc::SYS_brk,
            libc::SYS_munmap,
            libc::SYS_madvise,
            libc::SYS_rt_sigreturn,
            libc::SYS_sigaltstack,
            libc::SYS_futex,
            libc::SYS_close,
            libc::SYS_exit,
            libc::SYS_exit_group,
        ],
    );
    Ok(())
}

fn build_supervisor(
    children: &[libc::pid_t],
    blocks: &[RawFd],
) -> Result<BpfProgram, seccompiler::Error> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    // SAFETY: getpid has no memory effects.
    let me = unsafe { libc::getpid() };
    // Signals go to the children, and to itself to die like the guest.
    let targets = [children, &[me]].concat();
    rules.insert(libc::SYS_kill, one_of(0, &words(&targets))?);
    rules.insert(libc::SYS_write, one_of(0, &[2])?);
    if !blocks.is_empty() {
        // Syncing the block files of a classic guest that exited.
        rules.insert(libc::SYS_fdatasync, one_of(0, &words(blocks))?);
    }
    allow_runtime(&mut rules)?;
    allow(
        &mut rules,
        &[
            libc::SYS_wait4,
            libc::SYS_rt_sigtimedwait,
            libc::SYS_rt_sigaction,
            libc::SYS_rt_sigprocmask,
            libc::SYS_getpid,
            libc::SYS_prlimit64,
            libc::SYS_setrlimit,
        ],
    );
    compile(rules)
}

/// The guest's compiled filter, built before the guest process is forked
/// (building allocates; installing does not).
pub fn guest_filter(fds: &GuestFds) -> Result<BpfProgram, TenderError> {
    build(fds).map_err(|e| TenderError::Setup(format!("seccomp: {e}")))
}

/// The supervisor's filter once its children run: wait for them, signal
/// them (or itself), report on stderr, exit.
pub fn supervisor_filter(
    children: &[libc::pid_t],
    blocks: &[RawFd],
) -> Result<BpfProgram, TenderError> {
    build_supervisor(children, blocks).map_err(|e| TenderError::Setup(format!("seccomp: {e}")))
}

/// The I/O worker's compiled filter.
pub fn worker_filter(fds: &WorkerFds) -> Result<BpfProgram, TenderError> {
    build_worker(fds).map_err(|e| TenderError::Setup(format!("seccomp: {e}")))
}

/// Installs `filter` on this (single-threaded) process, with no_new_privs.
pub fn install(filter: &BpfProgram) -> Result<(), TenderError> {
    seccompiler::apply_filter(filter).map_err(|e| TenderError::Setup(format!("seccomp: {e}")))
}
