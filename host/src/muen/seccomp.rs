//! The runner's seccomp filters, one per thread role besides the peers'
//! worker (which runs under hvt's ring worker filter, `peers`): the vCPU
//! thread (the runner's main thread) and the scheduler thread (`clock`);
//! and `solo5-muen-peer`'s main thread (`standalone_peer`), whose worker
//! runs under the same filter as the runner's peers.
//! Each thread installs its own filter on itself, the vCPU thread right
//! before the subject runs; anything else kills the process (SIGSYS).

use std::os::fd::RawFd;

use seccompiler::BpfProgram;

use crate::hvt::seccomp::{
    KVM_GET_REGS, KVM_GET_SREGS, KVM_GET_VCPU_EVENTS, KVM_RUN, KVM_SET_REGS, KVM_SET_SREGS,
    KVM_SET_VCPU_EVENTS,
};
use crate::seccomp_rules::{words, FilterError, Rules};

/// What the vCPU thread touches while the subject runs and at the end.
pub struct VcpuFds {
    /// The vCPU.
    pub vcpu: RawFd,
    /// The peers' worker doorbell, written once at the end to stop it
    /// (none without devices).
    pub worker_doorbell: Option<RawFd>,
    /// The peers' io_uring instance, whose registered files the SIGINT and
    /// SIGTERM handler drops (`crate::signals`, which runs on this thread).
    pub uring: Option<RawFd>,
}

/// The vCPU thread's filter: `KVM_RUN` and the register reads and writes of
/// `vmcall`s, trap reports and the privileged instructions it carries out,
/// the page fault it injects for a write to the text (`text_write`),
/// on its vCPU only; the debug log on stdout and errors on stderr; the
/// watchdog's tick and the signal handler's return; and the end: deleting
/// the watchdog's timer, stopping the peers' worker and joining the threads.
pub fn vcpu_filter(fds: &VcpuFds) -> Result<BpfProgram, FilterError> {
    let mut rules = Rules::new();
    rules.allow_on_fd(
        libc::SYS_ioctl,
        fds.vcpu,
        1,
        &[
            KVM_RUN,
            KVM_GET_REGS,
            KVM_SET_REGS,
            KVM_GET_SREGS,
            KVM_SET_SREGS,
            KVM_GET_VCPU_EVENTS,
            KVM_SET_VCPU_EVENTS,
        ],
    )?;
    let writers = [&[1, 2][..], fds.worker_doorbell.as_slice()].concat();
    rules.allow_arg_in(libc::SYS_write, 0, &words(&writers))?;
    if let Some(ring) = fds.uring {
        rules.allow_io_uring_unregister(ring)?;
    }
    // The watchdog's tick (`watchdog`) and the SIGINT/SIGTERM handler's
    // return (it normally exits); the watchdog's end. A timer belongs to
    // the process that made it, so the call reaches only the runner's own.
    rules.allow(&[libc::SYS_rt_sigreturn, libc::SYS_timer_delete])?;
    rules.allow_thread_runtime()?;
    rules.compile()
}

/// The scheduler thread's filter: it only sleeps between its writes to the
/// scheduling info page, which are memory writes, not calls.
pub fn scheduler_filter() -> Result<BpfProgram, FilterError> {
    let mut rules = Rules::new();
    rules.allow(&[libc::SYS_clock_nanosleep, libc::SYS_nanosleep])?;
    rules.allow_thread_runtime()?;
    rules.compile()
}

/// `solo5-muen-peer`'s main thread's filter: it waits for SIGINT or
/// SIGTERM, whose handler (`crate::signals`) writes its line to stderr,
/// drops the registered files of io_uring `uring` (if the worker has one)
/// and exits.
pub fn peer_main_filter(uring: Option<RawFd>) -> Result<BpfProgram, FilterError> {
    let mut rules = Rules::new();
    rules.allow(&[libc::SYS_pause, libc::SYS_exit_group])?;
    rules.allow_arg_in(libc::SYS_write, 0, &words(&[2]))?;
    if let Some(ring) = uring {
        rules.allow_io_uring_unregister(ring)?;
    }
    rules.compile()
}
