//! The hvt tender's seccomp filters, one per thread role (`docs/security.md`):
//! the vCPU thread, the ring worker and upstream's #637 net ring worker; in
//! `solo5-hvt-debug`, the vCPU thread's wider filter and the GDB stub's
//! reader thread.
//! Each thread installs its own filter on itself once its set-up is done
//! (`crate::worker_thread` for the workers, the tender's run for the vCPU),
//! so no thread holds a call only another one needs: the vCPU cannot reach
//! io_uring nor the block files behind our rings, a worker cannot issue
//! `KVM_RUN` or any ioctl. Descriptors, ioctl numbers and operations are
//! checked by value wherever they are known. Anything else kills the
//! process (SIGSYS).

use std::os::fd::RawFd;

use kvm_bindings::{kvm_fpu, kvm_guest_debug, kvm_regs, kvm_sregs, kvm_vcpu_events};
use seccompiler::BpfProgram;

use crate::hvt::dumpcore::{CoreFds, CORE_OPEN_FLAGS};
use crate::seccomp_rules::{arg_eq, words, FilterError, Rules};

const KVMIO: u64 = 0xae;
/// `_IO(KVMIO, 0x80)`.
pub const KVM_RUN: u64 = KVMIO << 8 | 0x80;
/// `_IOR(KVMIO, 0x81, struct kvm_regs)`.
pub const KVM_GET_REGS: u64 = kvm_ior(0x81, size_of::<kvm_regs>());
/// `_IOW(KVMIO, 0x82, struct kvm_regs)`.
pub const KVM_SET_REGS: u64 = kvm_iow(0x82, size_of::<kvm_regs>());
/// `_IOR(KVMIO, 0x83, struct kvm_sregs)`.
pub const KVM_GET_SREGS: u64 = kvm_ior(0x83, size_of::<kvm_sregs>());
/// `_IOW(KVMIO, 0x84, struct kvm_sregs)`.
pub const KVM_SET_SREGS: u64 = kvm_iow(0x84, size_of::<kvm_sregs>());

/// `_IOR(KVMIO, 0x8c, struct kvm_fpu)`.
pub const KVM_GET_FPU: u64 = kvm_ior(0x8c, size_of::<kvm_fpu>());
/// `_IOW(KVMIO, 0x9b, struct kvm_guest_debug)`.
pub const KVM_SET_GUEST_DEBUG: u64 = kvm_iow(0x9b, size_of::<kvm_guest_debug>());
/// `_IOR(KVMIO, 0x9f, struct kvm_vcpu_events)`.
pub const KVM_GET_VCPU_EVENTS: u64 = kvm_ior(0x9f, size_of::<kvm_vcpu_events>());
/// `_IOW(KVMIO, 0xa0, struct kvm_vcpu_events)`.
pub const KVM_SET_VCPU_EVENTS: u64 = kvm_iow(0xa0, size_of::<kvm_vcpu_events>());

/// `_IOR(KVMIO, nr, size)`.
const fn kvm_ior(nr: u64, size: usize) -> u64 {
    (2 << 30) | ((size as u64) << 16) | (KVMIO << 8) | nr
}

/// `_IOW(KVMIO, nr, size)`.
const fn kvm_iow(nr: u64, size: usize) -> u64 {
    (1 << 30) | ((size as u64) << 16) | (KVMIO << 8) | nr
}

/// What the vCPU thread (the tender's main thread) touches while the guest
/// runs: the hypercalls, POLL, and the tender's end.
pub struct VcpuFds {
    /// The vCPU.
    pub vcpu: RawFd,
    /// The POLL wait set's epoll instance.
    pub epoll: RawFd,
    /// The POLL wait set's timer.
    pub timer: RawFd,
    /// Taps the NET hypercalls read and write, or with our rings the taps
    /// POLL reads into the rx rings and the send port writes to.
    pub taps: Vec<RawFd>,
    /// Block files the BLOCK hypercalls read and write (none with our rings).
    pub blocks: Vec<RawFd>,
    /// The ring worker's wake-up eventfd, read by POLL (our rings).
    pub wake: Option<RawFd>,
    /// Worker doorbells, written once at the end to stop the workers (and,
    /// with our rings, for tx frames the send port left).
    pub worker_doorbells: Vec<RawFd>,
    /// Our rings: the worker's epoll set and the tap set in it, which POLL
    /// switches off and on.
    pub tap_handoff: Option<(RawFd, RawFd)>,
    /// The rings' io_uring instance, whose registered files the SIGINT and
    /// SIGTERM handler drops (`crate::signals`, which runs on this thread).
    pub uring: Option<RawFd>,
}

/// What the ring worker thread touches (our rings).
pub struct RingWorkerFds {
    /// The guest's doorbell (read).
    pub doorbell: RawFd,
    /// The vCPU's wake-up eventfd (written).
    pub wake: RawFd,
    /// The worker's epoll instance (the doorbell and the taps, or the tap set).
    pub epoll: RawFd,
    /// The epoll set the taps are in: `epoll` itself, or (hvt) the nested
    /// tap set.
    pub tap_set: RawFd,
    /// The io_uring instance, if the engine is io_uring.
    pub uring: Option<RawFd>,
    /// Tap descriptors.
    pub taps: Vec<RawFd>,
    /// Block file descriptors.
    pub blocks: Vec<RawFd>,
}

/// What upstream's #637 net ring worker thread touches.
pub struct NetRingFds {
    /// Its doorbell (read).
    pub kick: RawFd,
    /// Tap descriptors.
    pub taps: Vec<RawFd>,
}

/// The vCPU thread's filter: `KVM_RUN` and the register reads of trap
/// reports on its vCPU, the classic hypercalls' calls on the devices they
/// serve (and syncing the block files when the guest has exited), console
/// and error output, and what the tender's end and the signal handler need.
pub fn vcpu_filter(fds: &VcpuFds) -> Result<BpfProgram, FilterError> {
    vcpu_rules(fds, None)?.compile()
}

/// What the vCPU thread of `solo5-hvt-debug` touches beyond `VcpuFds`.
#[derive(Clone, Copy, Debug, Default)]
pub struct DebugFds {
    /// GDB's socket (`--gdb`): replies are sent on it.
    pub gdb_socket: Option<RawFd>,
    /// The core directory and the placeholder the core file is moved onto
    /// (`--dumpcore`).
    pub core: Option<CoreFds>,
}

/// The vCPU thread's filter in `solo5-hvt-debug`: `vcpu_filter`'s calls
/// and, with `--gdb`, reading the x87/SSE state, writing GDB's snapshot of
/// the registers back,
/// `KVM_SET_GUEST_DEBUG` and sending on GDB's socket; with `--dumpcore`,
/// creating the core file in its directory (`openat` with the one set of
/// flags), moving it onto the placeholder (`dup3`), `mincore` and writing
/// and sizing the placeholder.
pub fn debug_vcpu_filter(fds: &VcpuFds, debug: &DebugFds) -> Result<BpfProgram, FilterError> {
    vcpu_rules(fds, Some(debug))?.compile()
}

fn vcpu_rules(fds: &VcpuFds, debug: Option<&DebugFds>) -> Result<Rules, FilterError> {
    let debug = debug.copied().unwrap_or_default();
    let mut rules = Rules::new();
    let mut vcpu_ioctls = vec![KVM_RUN, KVM_GET_REGS, KVM_GET_SREGS];
    if let Some(socket) = debug.gdb_socket {
        vcpu_ioctls.extend([
            KVM_GET_FPU,
            KVM_SET_REGS,
            KVM_SET_SREGS,
            KVM_SET_GUEST_DEBUG,
        ]);
        rules.allow_arg_in(libc::SYS_sendto, 0, &words(&[socket]))?;
    }
    rules.allow_on_fd(libc::SYS_ioctl, fds.vcpu, 1, &vcpu_ioctls)?;
    let writers = [&[1, 2][..], &fds.taps, &fds.worker_doorbells].concat();
    rules.allow_arg_in(libc::SYS_write, 0, &words(&writers))?;
    let readers = [&fds.taps[..], fds.wake.as_slice()].concat();
    if !readers.is_empty() {
        rules.allow_arg_in(libc::SYS_read, 0, &words(&readers))?;
    }
    // BLOCK_READ, BLOCK_WRITE, and syncing at the guest's exit; the core
    // file is written with pwrite64 too.
    let core_slot = debug.core.map(|core| core.slot);
    rules.allow_block_io(&[&fds.blocks[..], core_slot.as_slice()].concat())?;
    if let Some(core) = debug.core {
        rules.allow_when(
            libc::SYS_openat,
            vec![vec![
                arg_eq(0, core.dir as u64)?,
                arg_eq(2, CORE_OPEN_FLAGS as u64)?,
            ]],
        )?;
        rules.allow_arg_in(libc::SYS_dup3, 1, &words(&[core.slot]))?;
        rules.allow_arg_in(libc::SYS_ftruncate, 0, &words(&[core.slot]))?;
        rules.allow(&[libc::SYS_mincore])?;
    }
    rules.allow_arg_in(libc::SYS_epoll_pwait, 0, &words(&[fds.epoll]))?;
    if let Some((worker_epoll, tap_set)) = fds.tap_handoff {
        rules.allow_epoll_ctl(worker_epoll, &[tap_set])?;
        // POLL gives the CPU to a worker that is up before it waits.
        rules.allow(&[libc::SYS_sched_yield])?;
    }
    rules.allow_arg_in(libc::SYS_timerfd_settime, 0, &words(&[fds.timer]))?;
    if let Some(ring) = fds.uring {
        rules.allow_io_uring_unregister(ring)?;
    }
    // The SIGINT/SIGTERM handler's return (it normally exits), and the
    // debugger's kick's.
    rules.allow(&[libc::SYS_rt_sigreturn])?;
    rules.allow_thread_runtime()?;
    Ok(rules)
}

/// What the GDB stub's reader thread touches.
#[derive(Clone, Copy, Debug)]
pub struct GdbReaderFds {
    /// GDB's socket (received from).
    pub socket: RawFd,
    /// This process.
    pub pid: i32,
    /// The vCPU thread, which the reader kicks.
    pub vcpu_tid: i32,
    /// The kick's signal.
    pub kick_signal: i32,
}

/// The GDB stub's reader thread's filter: receiving on GDB's socket,
/// kicking the vCPU thread with the one signal, and its channel to it.
pub fn gdb_reader_filter(fds: &GdbReaderFds) -> Result<BpfProgram, FilterError> {
    let mut rules = Rules::new();
    rules.allow_arg_in(libc::SYS_recvfrom, 0, &words(&[fds.socket]))?;
    rules.allow_when(
        libc::SYS_tgkill,
        vec![vec![
            arg_eq(0, fds.pid as u64)?,
            arg_eq(1, fds.vcpu_tid as u64)?,
            arg_eq(2, fds.kick_signal as u64)?,
        ]],
    )?;
    rules.allow_thread_runtime()?;
    rules.compile()
}

/// The ring worker's filter: its io_uring, its epoll set and the taps in
/// it, the doorbell and wake-up eventfds, the devices it serves (portable
/// engine and buffered writes), and its one error line.
pub fn ring_worker_filter(fds: &RingWorkerFds) -> Result<BpfProgram, FilterError> {
    let mut rules = Rules::new();
    let readers = [&[fds.doorbell][..], &fds.taps].concat();
    rules.allow_arg_in(libc::SYS_read, 0, &words(&readers))?;
    let writers = [&[fds.wake, 2][..], &fds.taps].concat();
    rules.allow_arg_in(libc::SYS_write, 0, &words(&writers))?;
    rules.allow_block_io(&fds.blocks)?;
    rules.allow_arg_in(libc::SYS_epoll_pwait, 0, &words(&[fds.epoll]))?;
    // Arming and disarming a tap in the set it is in.
    rules.allow_epoll_ctl(fds.tap_set, &fds.taps)?;
    // Whether a frame waits on a tap (`tap::frame_waiting`, the muen net
    // peer's epoch renewal): one descriptor, no waiting.
    rules.allow_when(libc::SYS_poll, vec![vec![arg_eq(1, 1)?, arg_eq(2, 0)?]])?;
    if let Some(ring) = fds.uring {
        rules.allow_io_uring(ring)?;
    }
    rules.allow_thread_runtime()?;
    rules.compile()
}

/// The #637 net ring worker's filter: its doorbell, reads and writes on the
/// taps, and its one error line.
pub fn net_ring_filter(fds: &NetRingFds) -> Result<BpfProgram, FilterError> {
    let mut rules = Rules::new();
    let readers = [&[fds.kick][..], &fds.taps].concat();
    rules.allow_arg_in(libc::SYS_read, 0, &words(&readers))?;
    let writers = [&[2][..], &fds.taps].concat();
    rules.allow_arg_in(libc::SYS_write, 0, &words(&writers))?;
    rules.allow_thread_runtime()?;
    rules.compile()
}
