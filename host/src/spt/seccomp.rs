//! The spt guest's seccomp filter: upstream's whitelist, rule for rule
//! (`docs/security.md`). Anything else kills the process with SIGSYS.

use std::collections::BTreeMap;
use std::os::fd::RawFd;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use crate::error::TenderError;

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
}

fn cond(
    index: u8,
    op: SeccompCmpOp,
    value: u64,
) -> Result<SeccompCondition, seccompiler::BackendError> {
    SeccompCondition::new(index, SeccompCmpArgLen::Qword, op, value)
}

fn fd_is(fd: RawFd) -> Result<SeccompRule, seccompiler::BackendError> {
    SeccompRule::new(vec![cond(0, SeccompCmpOp::Eq, fd as u64)?])
}

fn build(fds: &GuestFds) -> Result<BpfProgram, seccompiler::Error> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    let mut writes = vec![fd_is(1)?];
    let mut reads = Vec::new();
    for &tap in &fds.taps {
        writes.push(fd_is(tap)?);
        reads.push(fd_is(tap)?);
    }
    rules.insert(libc::SYS_write, writes);
    if !reads.is_empty() {
        rules.insert(libc::SYS_read, reads);
    }
    // Each transfer is one block inside the device: count and offset bound.
    let transfers = fds
        .blocks
        .iter()
        .filter_map(|b| Some((b, b.capacity.checked_sub(b.block_size)?)))
        .map(|(b, last)| {
            SeccompRule::new(vec![
                cond(0, SeccompCmpOp::Eq, b.fd as u64)?,
                cond(2, SeccompCmpOp::Eq, b.block_size)?,
                cond(3, SeccompCmpOp::Le, last)?,
            ])
        })
        .collect::<Result<Vec<_>, _>>()?;
    if !transfers.is_empty() {
        rules.insert(libc::SYS_pread64, transfers.clone());
        rules.insert(libc::SYS_pwrite64, transfers);
    }
    rules.insert(libc::SYS_exit_group, vec![]);
    rules.insert(libc::SYS_epoll_pwait, vec![fd_is(fds.epoll)?]);
    rules.insert(libc::SYS_timerfd_settime, vec![fd_is(fds.timer)?]);
    rules.insert(
        libc::SYS_clock_gettime,
        vec![
            SeccompRule::new(vec![cond(
                0,
                SeccompCmpOp::Eq,
                libc::CLOCK_MONOTONIC as u64,
            )?])?,
            SeccompRule::new(vec![cond(
                0,
                SeccompCmpOp::Eq,
                libc::CLOCK_REALTIME as u64,
            )?])?,
        ],
    );
    rules.insert(
        libc::SYS_arch_prctl,
        vec![SeccompRule::new(vec![cond(
            0,
            SeccompCmpOp::Eq,
            ARCH_SET_FS,
        )?])?],
    );
    SeccompFilter::new(
        rules,
        SeccompAction::KillProcess,
        SeccompAction::Allow,
        TargetArch::x86_64,
    )?
    .try_into()
    .map_err(seccompiler::Error::Backend)
}

/// The compiled filter, built before the guest process is forked (building
/// allocates; installing does not).
pub fn guest_filter(fds: &GuestFds) -> Result<BpfProgram, TenderError> {
    build(fds).map_err(|e| TenderError::Setup(format!("seccomp: {e}")))
}

/// Installs `filter` on this (single-threaded) process, with no_new_privs.
pub fn install(filter: &BpfProgram) -> Result<(), TenderError> {
    seccompiler::apply_filter(filter).map_err(|e| TenderError::Setup(format!("seccomp: {e}")))
}
