//! Why the debug tender's GDB stub or core dumps failed: [`Error`].

use std::io;

use gdbstub::stub::GdbStubError;

use crate::error::TenderError;

/// A failure of `solo5-hvt-debug`'s options, GDB session or core files.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `--gdb-port=` is not a port number.
    #[error("Malformed argument to --gdb-port")]
    MalformedPort,
    /// The GDB socket could not be listened on, accepted or set up.
    #[error("GDB: {step}: {source}")]
    Socket {
        /// What failed ("bind failed", "accept failed"...).
        step: &'static str,
        /// Its error.
        source: io::Error,
    },
    /// The GDB connection could not be cloned for the reader thread.
    #[error("GDB: {0}")]
    CloneSocket(#[source] io::Error),
    /// The GDB protocol broke.
    #[error("GDB: {0}")]
    Protocol(#[source] Box<GdbStubError<TenderError, io::Error>>),
    /// The connection closed while the stub waited for a command.
    #[error("GDB: Exiting as we could not receive the next command from the debugger.")]
    ConnectionLost,
    /// GDB killed the guest.
    #[error("Debugger asked us to quit")]
    Quit,
    /// `--dumpcore=` is not a directory that can be opened.
    #[error("dumpcore: cannot open dir")]
    CoreDirUnopenable,
    /// `--dumpcore=` names a directory we may not write to.
    #[error("dumpcore: dir not writable")]
    CoreDirNotWritable,
    /// The core directory's descriptor could not be duplicated.
    #[error("dumpcore: {0}")]
    CoreDir(#[source] io::Error),
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn debug_errors_print_upstream_lines_and_keep_the_cause() {
        let err = TenderError::from(Error::Socket {
            step: "bind failed",
            source: io::Error::from_raw_os_error(libc::EADDRINUSE),
        });
        assert_eq!(
            err.to_string(),
            "GDB: bind failed: Address already in use (os error 98)"
        );
        assert!(err.source().unwrap().is::<io::Error>());
        assert_eq!(
            Error::MalformedPort.to_string(),
            "Malformed argument to --gdb-port"
        );
        assert_eq!(
            Error::CoreDirUnopenable.to_string(),
            "dumpcore: cannot open dir"
        );
        assert!(Error::Quit.source().is_none());
    }
}
