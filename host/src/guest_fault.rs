//! What a guest did that the tender does not serve: [`GuestFault`], one
//! variant per kind of exit or request, each printing upstream's line.

/// A guest exit or request the tender refuses; the tender ends with status 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuestFault {
    /// A hypercall number no tender serves (or one this tender does not).
    #[error("Invalid guest hypercall: num={nr}")]
    InvalidHypercall {
        /// The number the guest used.
        nr: u32,
    },
    /// An I/O port access outside the hypercall ports.
    #[error("Invalid guest port access: port=0x{port:x}")]
    InvalidPort {
        /// The port the guest used.
        port: u16,
    },
    /// A guest-physical address KVM could not translate (no memory there).
    #[error("KVM: host/guest translation fault: rip=0x{rip:x}")]
    TranslationFault {
        /// The guest's instruction pointer.
        rip: u64,
    },
    /// KVM could not enter the guest (bad vCPU state).
    #[error("KVM: entry failure: hw_entry_failure_reason=0x{reason:x}")]
    EntryFailure {
        /// The hardware's entry failure reason.
        reason: u64,
    },
    /// KVM stopped the guest with an internal error (an emulation failure).
    #[error("KVM: internal error exit: suberror=0x{suberror:x}")]
    InternalError {
        /// KVM's suberror code.
        suberror: u32,
    },
    /// As [`GuestFault::InternalError`], with where the guest was (muen runner).
    #[error("KVM: internal error exit: suberror=0x{suberror:x}, rip=0x{rip:x}")]
    InternalErrorAt {
        /// KVM's suberror code.
        suberror: u32,
        /// The guest's instruction pointer.
        rip: u64,
    },
    /// A KVM exit the tender does not handle.
    #[error("KVM: unhandled exit: exit_reason=0x{reason:x}, rip=0x{rip:x}")]
    UnhandledExit {
        /// KVM's exit reason.
        reason: u32,
        /// The guest's instruction pointer.
        rip: u64,
    },
    /// The subject triple-faulted (muen runner).
    #[error("subject shut down (triple fault): rip=0x{rip:x}")]
    TripleFault {
        /// The guest's instruction pointer.
        rip: u64,
    },
    /// A CPL-0 subject wrote to guest-physical memory outside every region
    /// of its layout (muen runner, read-only text slot).
    #[error("KVM: write outside the subject: gpa=0x{gpa:x}")]
    WriteOutsideSubject {
        /// The address written.
        gpa: u64,
    },
    /// A Xen exit other than a hypercall (muen runner's vmcall interception).
    #[error("KVM: unhandled Xen exit: type={kind}")]
    UnhandledXenExit {
        /// KVM's Xen exit type.
        kind: u32,
    },
    /// The guest moved the block response ring's counters while the worker
    /// was writing a response into a slot it had found free.
    #[error("block ring: response slot vanished")]
    ResponseSlotVanished,
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;
    use crate::error::TenderError;

    #[test]
    fn faults_print_upstream_lines_through_tender_error() {
        let cases = [
            (
                GuestFault::InvalidHypercall { nr: 99 },
                "Invalid guest hypercall: num=99",
            ),
            (
                GuestFault::InvalidPort { port: 0x3f8 },
                "Invalid guest port access: port=0x3f8",
            ),
            (
                GuestFault::TranslationFault { rip: 0x10_0000 },
                "KVM: host/guest translation fault: rip=0x100000",
            ),
            (
                GuestFault::UnhandledExit {
                    reason: 0x11,
                    rip: 0xabc,
                },
                "KVM: unhandled exit: exit_reason=0x11, rip=0xabc",
            ),
            (
                GuestFault::InternalErrorAt {
                    suberror: 1,
                    rip: 0x20,
                },
                "KVM: internal error exit: suberror=0x1, rip=0x20",
            ),
        ];
        for (fault, line) in cases {
            let err = TenderError::from(fault.clone());
            assert_eq!(err.to_string(), line);
            assert!(matches!(&err, TenderError::Guest(f) if *f == fault));
            // The fault is the cause itself: nothing below it.
            assert!(err.source().is_none());
        }
    }
}
