//! Why spt could not set up or supervise the guest process: [`Error`].

use std::io;

use crate::error::strerror;

/// A failure of spt's own set-up (memory, personality, processes).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The process runs with READ_IMPLIES_EXEC, which would make all guest
    /// memory executable.
    #[error("Refusing to run with READ_IMPLIES_EXEC personality")]
    ReadImpliesExec,
    /// The guest's arguments do not fit the boot info's command line.
    #[error("Guest command line too long (max={max} characters)")]
    CmdlineTooLong {
        /// The most characters it holds.
        max: usize,
    },
    /// `--mem` leaves no room above the host's low mappings.
    #[error("Guest memory size too small")]
    MemoryTooSmall,
    /// Something is already mapped where guest memory must go.
    #[error("Maximum guest memory size ({mb} MB) exceeded.")]
    MemoryTooLarge {
        /// The size asked for, in MiB.
        mb: u64,
        /// The mapping's error (EEXIST).
        source: io::Error,
    },
    /// Guest memory could not be mapped.
    #[error("Error allocating guest memory: {}", strerror(.0))]
    AllocateMemory(#[source] io::Error),
    /// The tender's own write fell outside guest memory.
    #[error("guest address 0x{addr:x} outside guest memory")]
    OutsideMemory {
        /// Where the write was to go.
        addr: u64,
    },
    /// Protecting the loaded image failed.
    #[error("mprotect: {}", strerror(.0))]
    Protect(#[source] io::Error),
    /// The rings' memory file could not be made.
    #[error("ring memory: {call}: {}", strerror(.source))]
    RingMemory {
        /// The call that failed.
        call: &'static str,
        /// Its error.
        source: io::Error,
    },
    /// The rings could not be mapped into the guest process.
    #[error("Could not map ring memory at 0x{base:x}: {}", strerror(.source))]
    MapRings {
        /// Their guest address.
        base: u64,
        /// The mapping's error.
        source: io::Error,
    },
    /// The supervisor or worker process could not be forked.
    #[error("fork: {}", strerror(.0))]
    Fork(#[source] io::Error),
    /// The supervisor's wait for signals failed.
    #[error("sigwaitinfo: {0}")]
    WaitSignal(#[source] io::Error),
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;
    use crate::error::TenderError;

    #[test]
    fn spt_errors_print_upstream_lines_and_keep_the_cause() {
        let err = TenderError::from(Error::MemoryTooLarge {
            mb: 4096,
            source: io::Error::from_raw_os_error(libc::EEXIST),
        });
        assert_eq!(
            err.to_string(),
            "Maximum guest memory size (4096 MB) exceeded."
        );
        assert_eq!(
            err.source()
                .unwrap()
                .downcast_ref::<io::Error>()
                .unwrap()
                .raw_os_error(),
            Some(libc::EEXIST)
        );
        let err = Error::RingMemory {
            call: "ftruncate",
            source: io::Error::from_raw_os_error(libc::EFBIG),
        };
        assert_eq!(err.to_string(), "ring memory: ftruncate: File too large");
        assert!(err.source().unwrap().is::<io::Error>());
        assert_eq!(
            Error::ReadImpliesExec.to_string(),
            "Refusing to run with READ_IMPLIES_EXEC personality"
        );
    }
}
