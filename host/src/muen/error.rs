//! Why the muen runner could not set up the subject or its peers: [`Error`].

use std::io;

use ringtender_muen_compat::sinfo::SinfoError;
use ringtender_muen_compat::subject::BootInfoError;
use ringtender_muen_compat::ChannelError;

use super::layout::{Role, LOW_REGIONS_END};

/// A failure of the muen runner's own set-up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The vCPU's TSC runs too slowly for Solo5's muen clock.
    #[error("TSC rate {hz} Hz is too low for Solo5's muen clock (needs more than 1 GHz)")]
    TscTooSlow {
        /// The TSC rate KVM reported.
        hz: u64,
    },
    /// The MSR list for KVM_GET_MSRS could not be built.
    #[error("KVM_GET_MSRS: {0}")]
    MsrList(#[source] vmm_sys_util::fam::Error),
    /// KVM_GET_MSRS returned no value for the TSC.
    #[error("KVM: cannot read the guest TSC")]
    GuestTscUnreadable,
    /// The vmcall watchdog's signal or timer could not be set up.
    #[error("vmcall watchdog: {call}: {source}")]
    Watchdog {
        /// The call that failed.
        call: &'static str,
        /// Its error.
        source: io::Error,
    },
    /// `--mem` leaves no room for the channels below the low regions' end.
    #[error("ram of {ram_size} bytes and the channels do not fit below 0x{LOW_REGIONS_END:x}")]
    RamTooSmall {
        /// The ram size asked for.
        ram_size: u64,
    },
    /// The subject info page could not be written.
    #[error("subject info: {0}")]
    SubjectInfo(#[from] SinfoError),
    /// The boot info page could not be written.
    #[error("boot info: {0}")]
    BootInfo(#[from] BootInfoError),
    /// The layout has no region of `role` for device `handle`.
    #[error("device {handle} has no {role:?} region")]
    NoDeviceRegion {
        /// The device's handle.
        handle: usize,
        /// The region it lacks.
        role: Role,
    },
    /// A peer's channel could not be set up.
    #[error("peer channel: {0}")]
    PeerChannel(#[source] ChannelError),
    /// The start-up probe of the host's `vmcall` stopped somewhere else.
    #[error("vmcall probe: the vCPU stopped at 0x{rip:x}")]
    ProbeStopped {
        /// Where the probe's vCPU stopped.
        rip: u64,
    },
    /// The start-up probe of the host's `vmcall` met an exit it cannot read.
    #[error("vmcall probe: unexpected exit: exit_reason=0x{reason:x}")]
    ProbeExit {
        /// KVM's exit reason.
        reason: u32,
    },
    /// KVM refused the Xen hypercall interception the runner asked for.
    #[error("KVM_XEN_HVM_CONFIG: {}", crate::error::strerror(.0))]
    XenHvmConfig(#[source] io::Error),
    /// A channel file could not be created, opened or sized.
    #[error("{}: {}", .path.display(), crate::error::strerror(.source))]
    ChannelFile {
        /// The file.
        path: std::path::PathBuf,
        /// The system's error.
        source: io::Error,
    },
    /// A channel file given to the peer is empty.
    #[error("{}: channel file is empty", .0.display())]
    EmptyChannelFile(std::path::PathBuf),
    /// The channel files do not fit in the peer's address space.
    #[error("channel files too large")]
    ChannelFilesTooLarge,
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;
    use crate::error::TenderError;

    #[test]
    fn muen_errors_print_their_line_and_keep_the_cause() {
        let err = TenderError::from(Error::Watchdog {
            call: "timer_create",
            source: io::Error::from_raw_os_error(libc::EAGAIN),
        });
        assert_eq!(
            err.to_string(),
            "vmcall watchdog: timer_create: Resource temporarily unavailable (os error 11)"
        );
        assert!(err.source().unwrap().is::<io::Error>());
        let err = Error::PeerChannel(ChannelError::InvalidEpoch);
        assert_eq!(
            err.to_string(),
            "peer channel: channel epoch must be non-zero"
        );
        assert_eq!(
            err.source().unwrap().downcast_ref::<ChannelError>(),
            Some(&ChannelError::InvalidEpoch)
        );
        assert_eq!(
            Error::NoDeviceRegion {
                handle: 1,
                role: Role::Binary
            }
            .to_string(),
            "device 1 has no Binary region"
        );
    }
}
