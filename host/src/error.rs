//! The tender's error type: [`TenderError`] wraps each module's error enum
//! (`#[from]`, so `?` converts) and a few failures shared by every module.
//! Each variant keeps its cause as a value, reachable through
//! [`std::error::Error::source`], and its `Display` is the one line the user
//! sees, in upstream's wording where upstream prescribes it. Every one ends
//! the tender with exit status 1.

use std::io;

use crate::guest_fault::GuestFault;
use crate::guest_memory::{GuestAccessError, MemoryError};
use crate::seccomp_rules::FilterError;

/// A failure that stops the tender with exit status 1.
#[derive(Debug, thiserror::Error)]
pub enum TenderError {
    /// Bad command line; the usage text follows the message.
    #[error("{0}")]
    Usage(String),
    /// The unikernel file could not be opened or read.
    #[error("{path}: Could not open: {}", strerror(.source))]
    KernelOpen {
        /// Path given on the command line.
        path: String,
        /// Why it could not be read (a directory: `EISDIR`).
        source: io::Error,
    },
    /// The unikernel is not an acceptable ELF image (message already formatted).
    #[error("{0}")]
    Kernel(String),
    /// A KVM operation failed.
    #[error("KVM: {what} failed: {}", kvm_strerror(.source))]
    Kvm {
        /// What was being done.
        what: &'static str,
        /// The ioctl's error.
        source: kvm_ioctls::Error,
    },
    /// A system call that creates or arms a host resource (an eventfd, an
    /// epoll set, a signal handler) failed.
    #[error("{call}: {source}")]
    Syscall {
        /// The call (or resource) that failed.
        call: &'static str,
        /// Its error.
        source: io::Error,
    },
    /// Declared device not attached, bad block size and the like.
    #[error("{0}")]
    Device(String),
    /// The guest passed an address or length outside what it may access.
    #[error(transparent)]
    GuestAccess(#[from] GuestAccessError),
    /// The guest did something the tender does not serve.
    #[error(transparent)]
    Guest(#[from] GuestFault),
    /// A seccomp filter could not be built or installed.
    #[error("seccomp: {0}")]
    Seccomp(#[from] FilterError),
    /// Host I/O on behalf of the guest failed.
    #[error("Fatal error when {what}: {}", strerror(.source))]
    Io {
        /// What was being done.
        what: &'static str,
        /// The system call's error.
        source: io::Error,
    },
    /// Host I/O on behalf of the guest moved fewer bytes than asked.
    #[error("Fatal error: {verb} only {done} out of {len} bytes")]
    ShortTransfer {
        /// "read" or "wrote".
        verb: &'static str,
        /// Bytes moved.
        done: u64,
        /// Bytes asked for.
        len: u64,
    },
    /// Guest or ring memory could not be mapped, written or protected.
    #[error(transparent)]
    Memory(#[from] MemoryError),
    /// A worker thread could not be started.
    #[error(transparent)]
    WorkerThread(#[from] crate::worker_thread::Error),
    /// The ring worker or its I/O engine failed.
    #[error(transparent)]
    Rings(#[from] crate::rings::Error),
    /// hvt's KVM set-up failed.
    #[error(transparent)]
    Hvt(#[from] crate::hvt::Error),
    /// The debug tender's GDB session or core files failed.
    #[error(transparent)]
    Debug(#[from] crate::hvt::debug::Error),
    /// spt's process set-up failed.
    #[error(transparent)]
    Spt(#[from] crate::spt::Error),
    /// The muen runner's set-up failed.
    #[error(transparent)]
    Muen(#[from] crate::muen::Error),
}

/// Maps a system call's error to [`TenderError::Syscall`] naming `call`.
pub fn syscall(call: &'static str) -> impl FnOnce(io::Error) -> TenderError {
    move |source| TenderError::Syscall { call, source }
}

/// Maps a KVM ioctl's error to [`TenderError::Kvm`] naming `what`.
pub fn kvm_err(what: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> TenderError {
    move |source| TenderError::Kvm { what, source }
}

/// An I/O error as C's `strerror` prints it: the system's message without
/// Rust's " (os error N)" suffix; any other error's text unchanged.
pub fn strerror(err: &io::Error) -> String {
    let text = err.to_string();
    match err.raw_os_error() {
        Some(code) => match text.strip_suffix(&format!(" (os error {code})")) {
            Some(message) => message.to_string(),
            None => text,
        },
        None => text,
    }
}

/// A KVM ioctl's error as C's `strerror` prints its errno.
pub fn kvm_strerror(err: &kvm_ioctls::Error) -> String {
    strerror(&io::Error::from_raw_os_error(err.errno()))
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn kvm_error_prints_strerror_and_keeps_the_ioctl_error() {
        let err = kvm_err("KVM_RUN")(kvm_ioctls::Error::new(libc::EFAULT));
        assert_eq!(err.to_string(), "KVM: KVM_RUN failed: Bad address");
        let source = err.source().expect("the ioctl error is kept");
        let source = source.downcast_ref::<kvm_ioctls::Error>().unwrap();
        assert_eq!(source.errno(), libc::EFAULT);
    }

    #[test]
    fn syscall_error_names_the_call_and_keeps_the_io_error() {
        let err = syscall("epoll")(io::Error::from_raw_os_error(libc::EMFILE));
        assert_eq!(err.to_string(), "epoll: Too many open files (os error 24)");
        let source = err.source().unwrap().downcast_ref::<io::Error>().unwrap();
        assert_eq!(source.raw_os_error(), Some(libc::EMFILE));
    }

    #[test]
    fn io_error_prints_upstream_fatal_line() {
        let err = TenderError::Io {
            what: "reading block",
            source: io::Error::from_raw_os_error(libc::EIO),
        };
        assert_eq!(
            err.to_string(),
            "Fatal error when reading block: Input/output error"
        );
        assert!(err.source().unwrap().downcast_ref::<io::Error>().is_some());
        let short = TenderError::ShortTransfer {
            verb: "wrote",
            done: 3,
            len: 5,
        };
        assert_eq!(
            short.to_string(),
            "Fatal error: wrote only 3 out of 5 bytes"
        );
        assert!(short.source().is_none());
    }

    #[test]
    fn kernel_open_prints_strerror() {
        let err = TenderError::KernelOpen {
            path: "x.hvt".into(),
            source: io::Error::from_raw_os_error(libc::ENOENT),
        };
        assert_eq!(
            err.to_string(),
            "x.hvt: Could not open: No such file or directory"
        );
        assert!(err.source().is_some());
    }
}
