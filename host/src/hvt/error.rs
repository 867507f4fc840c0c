//! Why hvt could not set up its KVM machine: [`Error`].

use crate::error::kvm_strerror;

/// A failure of hvt's own set-up (KVM capabilities, memory size, boot info).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// /dev/kvm could not be opened.
    #[error("Could not open: /dev/kvm: {}", kvm_strerror(.0))]
    OpenKvm(#[source] kvm_ioctls::Error),
    /// The host's KVM lacks a capability hvt needs.
    #[error("KVM: host does not support {0}")]
    MissingCapability(&'static str),
    /// KVM_GET_TSC_KHZ failed with EIO: the host TSC is not stable.
    #[error("KVM: host TSC is unstable, cannot continue")]
    UnstableTsc(#[source] kvm_ioctls::Error),
    /// `--mem` asks for more than hvt's largest guest.
    #[error("guest memory size {size} bytes exceeds the max size {max} bytes")]
    MemoryTooLarge {
        /// The size asked for, rounded.
        size: u64,
        /// The largest size.
        max: u64,
    },
    /// The guest's arguments do not fit the boot info's command line.
    #[error("Guest command line too long (max={max} characters)")]
    CmdlineTooLong {
        /// The most characters it holds.
        max: usize,
    },
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;
    use crate::error::TenderError;

    #[test]
    fn kvm_open_failure_prints_strerror_and_keeps_the_ioctl_error() {
        let err = TenderError::from(Error::OpenKvm(kvm_ioctls::Error::new(libc::ENOENT)));
        assert_eq!(
            err.to_string(),
            "Could not open: /dev/kvm: No such file or directory"
        );
        let source = err.source().unwrap();
        assert_eq!(
            source.downcast_ref::<kvm_ioctls::Error>().unwrap().errno(),
            libc::ENOENT
        );
    }

    #[test]
    fn set_up_refusals_print_upstream_lines() {
        assert_eq!(
            Error::MissingCapability("KVM_CAP_USER_MEMORY").to_string(),
            "KVM: host does not support KVM_CAP_USER_MEMORY"
        );
        assert_eq!(
            Error::CmdlineTooLong { max: 8191 }.to_string(),
            "Guest command line too long (max=8191 characters)"
        );
        let tsc = Error::UnstableTsc(kvm_ioctls::Error::new(libc::EIO));
        assert_eq!(
            tsc.to_string(),
            "KVM: host TSC is unstable, cannot continue"
        );
        assert!(tsc.source().is_some());
    }
}
