//! The tender's error type: one variant per failure a user can meet, each
//! printing upstream's wording. Every one ends the tender with exit status 1.

use std::fmt;
use std::io;

use crate::guest_memory::GuestAccessError;
use crate::seccomp_rules::FilterError;

/// A failure that stops the tender with exit status 1.
#[derive(Debug)]
pub enum TenderError {
    /// Bad command line; the usage text follows the message.
    Usage(String),
    /// The unikernel file could not be opened or read.
    KernelOpen {
        /// Path given on the command line.
        path: String,
        /// Why it could not be read (a directory: `EISDIR`).
        source: io::Error,
    },
    /// The unikernel is not an acceptable ELF image (message already formatted).
    Kernel(String),
    /// A KVM operation failed.
    Kvm {
        /// What was being done.
        what: &'static str,
        /// The ioctl's error.
        source: kvm_ioctls::Error,
    },
    /// A host resource could not be set up (message already formatted).
    Setup(String),
    /// Declared device not attached, bad block size and the like.
    Device(String),
    /// The guest passed an address or length outside what it may access.
    GuestAccess(GuestAccessError),
    /// The guest made an exit the tender does not serve (message already formatted).
    GuestExit(String),
    /// The debugger ended the session or it broke (`solo5-hvt-debug --gdb`).
    Debugger(String),
    /// A seccomp filter could not be built or installed.
    Seccomp(FilterError),
    /// Host I/O on behalf of the guest failed.
    Io {
        /// What was being done.
        what: &'static str,
        /// The system call's error.
        source: io::Error,
    },
}

impl fmt::Display for TenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(msg)
            | Self::Kernel(msg)
            | Self::Setup(msg)
            | Self::Device(msg)
            | Self::GuestExit(msg)
            | Self::Debugger(msg) => f.write_str(msg),
            Self::KernelOpen { path, source } => {
                write!(f, "{path}: Could not open: {}", strerror(source))
            }
            Self::Kvm { what, source } => write!(
                f,
                "KVM: {what} failed: {}",
                strerror(&io::Error::from_raw_os_error(source.errno()))
            ),
            Self::GuestAccess(err) => write!(f, "{err}"),
            Self::Seccomp(err) => write!(f, "seccomp: {err}"),
            Self::Io { what, source } => write!(f, "Fatal error when {what}: {}", strerror(source)),
        }
    }
}

impl std::error::Error for TenderError {}

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

impl From<FilterError> for TenderError {
    fn from(err: FilterError) -> Self {
        Self::Seccomp(err)
    }
}

impl From<GuestAccessError> for TenderError {
    fn from(err: GuestAccessError) -> Self {
        Self::GuestAccess(err)
    }
}
