//! Building blocks of every tender filter (`hvt::seccomp`, `spt::seccomp`):
//! a rule set that fails closed, the argument checks the filters use, the
//! rules every Rust thread needs after set-up, and compiling and installing
//! a filter on the calling thread.
//!
//! seccompiler reads a call with an empty rule list as "allowed whatever its
//! arguments". [`Rules`] therefore never takes an empty list: a call is
//! either allowed outright ([`Rules::allow`]) or allowed when one of a
//! non-empty list of rules matches; an empty one is [`FilterError::EmptyAllowList`]
//! when the filter is built, never a silently open call.

use std::collections::BTreeMap;
use std::fmt;
use std::os::fd::RawFd;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use crate::rings::engine::IORING_UNREGISTER_FILES;

/// A filter that could not be built or installed.
#[derive(Debug)]
pub enum FilterError {
    /// A call was to be allowed for a list of argument values (descriptors,
    /// operations) that is empty: it would have been allowed with any.
    EmptyAllowList {
        /// The system call number.
        call: i64,
    },
    /// A call was listed twice; the second list would replace the first.
    DuplicateCall {
        /// The system call number.
        call: i64,
    },
    /// seccompiler refused a condition, a rule or the filter.
    Backend(seccompiler::BackendError),
    /// The kernel refused the filter.
    Install(seccompiler::Error),
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyAllowList { call } => {
                write!(f, "empty allow-list for system call {call}")
            }
            Self::DuplicateCall { call } => write!(f, "system call {call} listed twice"),
            Self::Backend(err) => write!(f, "{err}"),
            Self::Install(err) => write!(f, "{err}"),
        }
    }
}

impl std::error::Error for FilterError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Backend(err) => Some(err),
            Self::Install(err) => Some(err),
            Self::EmptyAllowList { .. } | Self::DuplicateCall { .. } => None,
        }
    }
}

impl From<seccompiler::BackendError> for FilterError {
    fn from(err: seccompiler::BackendError) -> Self {
        Self::Backend(err)
    }
}

/// Argument `index` equals `value` (64-bit compare).
pub fn arg_eq(index: u8, value: u64) -> Result<SeccompCondition, FilterError> {
    Ok(SeccompCondition::new(
        index,
        SeccompCmpArgLen::Qword,
        SeccompCmpOp::Eq,
        value,
    )?)
}

/// Argument `index` is at most `value` (64-bit, unsigned).
pub fn arg_le(index: u8, value: u64) -> Result<SeccompCondition, FilterError> {
    Ok(SeccompCondition::new(
        index,
        SeccompCmpArgLen::Qword,
        SeccompCmpOp::Le,
        value,
    )?)
}

/// The 32-bit argument `index` has none of the bits of `mask` set.
pub fn arg_without(index: u8, mask: u64) -> Result<SeccompCondition, FilterError> {
    Ok(SeccompCondition::new(
        index,
        SeccompCmpArgLen::Dword,
        SeccompCmpOp::MaskedEq(mask),
        0,
    )?)
}

/// Descriptors (or pids) as the filter compares them.
pub fn words(values: &[i32]) -> Vec<u64> {
    values.iter().map(|&v| v as u64).collect()
}

/// `futex` operations the Rust runtime and glibc issue: waits and wakes,
/// private or not, with either clock (locks, `pthread_join`, channels).
/// No requeue, wake-op or priority-inheritance operations.
const FUTEX_OPS: [i32; 8] = [
    libc::FUTEX_WAIT,
    libc::FUTEX_WAKE,
    libc::FUTEX_WAIT_BITSET,
    libc::FUTEX_WAIT_BITSET | libc::FUTEX_CLOCK_REALTIME,
    libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
    libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
    libc::FUTEX_WAIT_BITSET | libc::FUTEX_PRIVATE_FLAG,
    libc::FUTEX_WAIT_BITSET | libc::FUTEX_PRIVATE_FLAG | libc::FUTEX_CLOCK_REALTIME,
];

/// The system calls a filter allows, and with which arguments. Anything
/// not listed kills the process (SIGSYS).
#[derive(Default)]
pub struct Rules(BTreeMap<i64, Vec<SeccompRule>>);

impl Rules {
    /// No call allowed.
    pub fn new() -> Self {
        Self::default()
    }

    fn insert(&mut self, call: i64, rules: Vec<SeccompRule>) -> Result<(), FilterError> {
        if self.0.insert(call, rules).is_some() {
            return Err(FilterError::DuplicateCall { call });
        }
        Ok(())
    }

    /// Allows each of `calls` whatever its arguments.
    pub fn allow(&mut self, calls: &[i64]) -> Result<(), FilterError> {
        calls.iter().try_for_each(|&call| self.insert(call, vec![]))
    }

    /// Allows `call` when all `conditions` of one of `alternatives` hold;
    /// no alternative is an error, never "any arguments".
    pub fn allow_when(
        &mut self,
        call: i64,
        alternatives: Vec<Vec<SeccompCondition>>,
    ) -> Result<(), FilterError> {
        if alternatives.is_empty() || alternatives.iter().any(Vec::is_empty) {
            return Err(FilterError::EmptyAllowList { call });
        }
        let rules = alternatives
            .into_iter()
            .map(SeccompRule::new)
            .collect::<Result<_, _>>()?;
        self.insert(call, rules)
    }

    /// Allows `call` when argument `index` is one of `values`; an empty
    /// `values` is an error, never "any arguments".
    pub fn allow_arg_in(
        &mut self,
        call: i64,
        index: u8,
        values: &[u64],
    ) -> Result<(), FilterError> {
        let alternatives = values
            .iter()
            .map(|&v| Ok(vec![arg_eq(index, v)?]))
            .collect::<Result<_, FilterError>>()?;
        self.allow_when(call, alternatives)
    }

    /// Allows `call` when argument 0 is `fd` and argument `index` is one of
    /// `values` (an ioctl on one device, an operation on one descriptor).
    pub fn allow_on_fd(
        &mut self,
        call: i64,
        fd: i32,
        index: u8,
        values: &[u64],
    ) -> Result<(), FilterError> {
        let alternatives = values
            .iter()
            .map(|&v| Ok(vec![arg_eq(0, fd as u64)?, arg_eq(index, v)?]))
            .collect::<Result<_, FilterError>>()?;
        self.allow_when(call, alternatives)
    }

    /// Allows `epoll_ctl` on `epoll` only for the descriptors in `watched`
    /// (nothing if there are none).
    pub fn allow_epoll_ctl(&mut self, epoll: RawFd, watched: &[RawFd]) -> Result<(), FilterError> {
        if watched.is_empty() {
            return Ok(());
        }
        let alternatives = watched
            .iter()
            .map(|&fd| Ok(vec![arg_eq(0, epoll as u64)?, arg_eq(2, fd as u64)?]))
            .collect::<Result<_, FilterError>>()?;
        self.allow_when(libc::SYS_epoll_ctl, alternatives)
    }

    /// Allows `pread64`, `pwrite64` and `fdatasync` on the descriptors in
    /// `files` (nothing if there are none).
    pub fn allow_block_io(&mut self, files: &[RawFd]) -> Result<(), FilterError> {
        if files.is_empty() {
            return Ok(());
        }
        for call in [libc::SYS_pread64, libc::SYS_pwrite64, libc::SYS_fdatasync] {
            self.allow_arg_in(call, 0, &words(files))?;
        }
        Ok(())
    }

    /// Allows `io_uring_register` on `ring` only to drop its registered
    /// files (at the end, and in the SIGINT/SIGTERM handler).
    pub fn allow_io_uring_unregister(&mut self, ring: RawFd) -> Result<(), FilterError> {
        self.allow_on_fd(
            libc::SYS_io_uring_register,
            ring,
            1,
            &[u64::from(IORING_UNREGISTER_FILES)],
        )
    }

    /// Allows submitting to and reaping from `ring`, and dropping its files.
    pub fn allow_io_uring(&mut self, ring: RawFd) -> Result<(), FilterError> {
        self.allow_arg_in(libc::SYS_io_uring_enter, 0, &[ring as u64])?;
        self.allow_io_uring_unregister(ring)
    }

    /// What a Rust thread needs once its set-up is done: memory that is
    /// never executable nor placed over an existing mapping, growing it in
    /// place or moved, returning it; waits and wakes on locks; the monotonic
    /// and wall clocks; the signal stack and mask, which thread exit resets;
    /// closing its descriptors and exiting.
    pub fn allow_thread_runtime(&mut self) -> Result<(), FilterError> {
        self.allow_when(
            libc::SYS_mmap,
            vec![vec![
                arg_without(2, libc::PROT_EXEC as u64)?,
                arg_without(3, libc::MAP_FIXED as u64)?,
            ]],
        )?;
        // glibc grows a thread's malloc arena by making more of its
        // reserved heap writable (seen killing the muen peers' worker under
        // a flood of requests); never executable.
        self.allow_when(
            libc::SYS_mprotect,
            vec![vec![arg_without(2, libc::PROT_EXEC as u64)?]],
        )?;
        self.allow_arg_in(libc::SYS_mremap, 3, &[libc::MREMAP_MAYMOVE as u64])?;
        self.allow_arg_in(libc::SYS_madvise, 2, &[libc::MADV_DONTNEED as u64])?;
        self.allow_arg_in(libc::SYS_futex, 1, &words(&FUTEX_OPS))?;
        self.allow_arg_in(
            libc::SYS_clock_gettime,
            0,
            &words(&[libc::CLOCK_MONOTONIC, libc::CLOCK_REALTIME]),
        )?;
        self.allow(&[
            libc::SYS_munmap,
            libc::SYS_brk,
            libc::SYS_sigaltstack,
            libc::SYS_rt_sigprocmask,
            libc::SYS_close,
            libc::SYS_exit,
            libc::SYS_exit_group,
        ])
    }

    /// Compiles the rules for x86_64: a listed call is allowed when one of
    /// its rules matches (or it is allowed outright); anything else kills
    /// the process (SIGSYS).
    pub fn compile(self) -> Result<BpfProgram, FilterError> {
        Ok(SeccompFilter::new(
            self.0,
            SeccompAction::KillProcess,
            SeccompAction::Allow,
            TargetArch::x86_64,
        )?
        .try_into()?)
    }
}

/// Installs `filter` on the calling thread only, with `no_new_privs`; the
/// process's other threads keep theirs.
pub fn install_on_this_thread(filter: &BpfProgram) -> Result<(), FilterError> {
    seccompiler::apply_filter(filter).map_err(FilterError::Install)
}
