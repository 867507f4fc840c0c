//! The hvt tender's seccomp filter, installed after set-up and before the guest runs,
//! and the helpers every tender filter is built with (`spt::seccomp` too).
//!
//! Tighter than upstream's: ioctl is limited to the vCPU's run and register
//! reads, read/write/pread64/pwrite64 to the device descriptors (and write to
//! stdout/stderr), epoll and timer calls to their own descriptors, mmap to
//! non-executable mappings. Anything else kills the process (SIGSYS).

use std::collections::BTreeMap;
use std::os::fd::RawFd;

use kvm_bindings::{kvm_regs, kvm_sregs};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use crate::error::TenderError;
use crate::rings::engine::IORING_UNREGISTER_FILES;

const KVMIO: u64 = 0xae;
const KVM_RUN: u64 = KVMIO << 8 | 0x80;

/// `_IOR(KVMIO, nr, size)`.
const fn kvm_ior(nr: u64, size: usize) -> u64 {
    (2 << 30) | ((size as u64) << 16) | (KVMIO << 8) | nr
}

/// Descriptors the running tender may use.
pub struct AllowedFds {
    /// The vCPU.
    pub vcpu: RawFd,
    /// epoll instances (the POLL wait set's; the ring worker's).
    pub epolls: Vec<RawFd>,
    /// The POLL wait set's timer.
    pub timer: RawFd,
    /// Ring doorbell eventfds (read by workers, written at shutdown).
    pub doorbells: Vec<RawFd>,
    /// io_uring instances of the ring engine.
    pub urings: Vec<RawFd>,
    /// Tap descriptors.
    pub taps: Vec<RawFd>,
    /// Block file descriptors.
    pub blocks: Vec<RawFd>,
}

/// Argument `index` equals `value` (64-bit compare).
pub fn arg_eq(index: u8, value: u64) -> Result<SeccompCondition, seccompiler::BackendError> {
    SeccompCondition::new(index, SeccompCmpArgLen::Qword, SeccompCmpOp::Eq, value)
}

/// One rule per value: argument `index` is one of `values`.
pub fn one_of(index: u8, values: &[u64]) -> Result<Vec<SeccompRule>, seccompiler::BackendError> {
    values
        .iter()
        .map(|&v| SeccompRule::new(vec![arg_eq(index, v)?]))
        .collect()
}

fn build(fds: &AllowedFds) -> Result<BpfProgram, seccompiler::Error> {
    let fd = |f: RawFd| f as u64;
    let taps: Vec<u64> = fds.taps.iter().map(|&f| fd(f)).collect();
    let blocks: Vec<u64> = fds.blocks.iter().map(|&f| fd(f)).collect();
    let doorbells: Vec<u64> = fds.doorbells.iter().map(|&f| fd(f)).collect();
    let mut writers = vec![1, 2];
    writers.extend(&taps);
    writers.extend(&doorbells);
    let mut readers = taps.clone();
    readers.extend(&doorbells);
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    rules.insert(
        libc::SYS_ioctl,
        [
            KVM_RUN,
            kvm_ior(0x81, size_of::<kvm_regs>()),
            kvm_ior(0x83, size_of::<kvm_sregs>()),
        ]
        .iter()
        .map(|&cmd| SeccompRule::new(vec![arg_eq(0, fd(fds.vcpu))?, arg_eq(1, cmd)?]))
        .collect::<Result<_, _>>()?,
    );
    rules.insert(libc::SYS_write, one_of(0, &writers)?);
    for (nr, allowed) in [
        (libc::SYS_read, &readers),
        (libc::SYS_pread64, &blocks),
        (libc::SYS_pwrite64, &blocks),
        (libc::SYS_fdatasync, &blocks),
    ] {
        if !allowed.is_empty() {
            rules.insert(nr, one_of(0, allowed)?);
        }
    }
    let epolls: Vec<u64> = fds.epolls.iter().map(|&f| fd(f)).collect();
    rules.insert(libc::SYS_epoll_pwait, one_of(0, &epolls)?);
    rules.insert(libc::SYS_epoll_ctl, one_of(0, &epolls[1..])?);
    let urings: Vec<u64> = fds.urings.iter().map(|&f| fd(f)).collect();
    if !urings.is_empty() {
        rules.insert(libc::SYS_io_uring_enter, one_of(0, &urings)?);
        // Only to drop the registered files at shutdown.
        let unregister = u64::from(IORING_UNREGISTER_FILES);
        rules.insert(
            libc::SYS_io_uring_register,
            urings
                .iter()
                .map(|&ring| SeccompRule::new(vec![arg_eq(0, ring)?, arg_eq(1, unregister)?]))
                .collect::<Result<_, _>>()?,
        );
    }
    rules.insert(libc::SYS_timerfd_settime, one_of(0, &[fd(fds.timer)])?);
    rules.insert(libc::SYS_mmap, mmap_without_exec()?);
    allow(
        &mut rules,
        &[
            libc::SYS_clock_gettime,
            libc::SYS_exit_group,
            libc::SYS_exit,
            libc::SYS_rt_sigreturn,
            libc::SYS_rt_sigprocmask,
            libc::SYS_sigaltstack,
            libc::SYS_futex,
            libc::SYS_brk,
            libc::SYS_munmap,
            libc::SYS_mremap,
            libc::SYS_madvise,
            libc::SYS_close,
        ],
    );
    compile(rules)
}

/// `mmap` allowed only without `PROT_EXEC`.
pub fn mmap_without_exec() -> Result<Vec<SeccompRule>, seccompiler::BackendError> {
    Ok(vec![SeccompRule::new(vec![SeccompCondition::new(
        2,
        SeccompCmpArgLen::Dword,
        SeccompCmpOp::MaskedEq(libc::PROT_EXEC as u64),
        0,
    )?])?])
}

/// Allows each of `calls` whatever its arguments.
pub fn allow(rules: &mut BTreeMap<i64, Vec<SeccompRule>>, calls: &[i64]) {
    for &nr in calls {
        rules.insert(nr, vec![]);
    }
}

/// Compiles `rules`: a listed call is allowed when one of its rules
/// matches (or it has none); anything else kills the process (SIGSYS).
pub fn compile(rules: BTreeMap<i64, Vec<SeccompRule>>) -> Result<BpfProgram, seccompiler::Error> {
    SeccompFilter::new(
        rules,
        SeccompAction::KillProcess,
        SeccompAction::Allow,
        TargetArch::x86_64,
    )?
    .try_into()
    .map_err(seccompiler::Error::Backend)
}

/// Installs the filter on every thread of the tender.
pub fn install(fds: &AllowedFds) -> Result<(), TenderError> {
    let program = build(fds).map_err(|e| TenderError::Setup(format!("seccomp: {e}")))?;
    seccompiler::apply_filter_all_threads(&program)
        .map_err(|e| TenderError::Setup(format!("seccomp: {e}")))
}
