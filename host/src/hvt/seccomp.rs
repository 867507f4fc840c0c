//! The hvt tender's seccomp filters, one per thread role (`docs/security.md`):
//! the vCPU thread, the ring worker and upstream's #637 net ring worker.
//! Each thread installs its own filter on itself once its set-up is done
//! (`crate::worker_thread` for the workers, the tender's run for the vCPU),
//! so no thread holds a call only another one needs: the vCPU cannot reach
//! io_uring nor the block files behind our rings, a worker cannot issue
//! `KVM_RUN` or any ioctl. Descriptors, ioctl numbers and operations are
//! checked by value wherever they are known. Anything else kills the
//! process (SIGSYS).

use std::os::fd::RawFd;

use kvm_bindings::{kvm_regs, kvm_sregs, kvm_vcpu_events};
use seccompiler::BpfProgram;

use crate::seccomp_rules::{words, FilterError, Rules};

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
    /// Taps the NET hypercalls read and write (none with our rings).
    pub taps: Vec<RawFd>,
    /// Block files the BLOCK hypercalls read and write (none with our rings).
    pub blocks: Vec<RawFd>,
    /// The ring worker's wake-up eventfd, read by POLL (our rings).
    pub wake: Option<RawFd>,
    /// Worker doorbells, written once at the end to stop the workers.
    pub worker_doorbells: Vec<RawFd>,
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
    /// The worker's epoll instance (the doorbell and the taps).
    pub epoll: RawFd,
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
    let mut rules = Rules::new();
    rules.allow_on_fd(
        libc::SYS_ioctl,
        fds.vcpu,
        1,
        &[KVM_RUN, KVM_GET_REGS, KVM_GET_SREGS],
    )?;
    let writers = [&[1, 2][..], &fds.taps, &fds.worker_doorbells].concat();
    rules.allow_arg_in(libc::SYS_write, 0, &words(&writers))?;
    let readers = [&fds.taps[..], fds.wake.as_slice()].concat();
    if !readers.is_empty() {
        rules.allow_arg_in(libc::SYS_read, 0, &words(&readers))?;
    }
    // BLOCK_READ, BLOCK_WRITE, and syncing at the guest's exit.
    rules.allow_block_io(&fds.blocks)?;
    rules.allow_arg_in(libc::SYS_epoll_pwait, 0, &words(&[fds.epoll]))?;
    rules.allow_arg_in(libc::SYS_timerfd_settime, 0, &words(&[fds.timer]))?;
    if let Some(ring) = fds.uring {
        rules.allow_io_uring_unregister(ring)?;
    }
    // The SIGINT/SIGTERM handler's return (it normally exits).
    rules.allow(&[libc::SYS_rt_sigreturn])?;
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
    // Arming and disarming a tap in its own epoll set.
    rules.allow_epoll_ctl(fds.epoll, &fds.taps)?;
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
