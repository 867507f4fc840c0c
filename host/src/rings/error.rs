//! Why the shared rings could not be set up or served: [`Error`].

use ringtender_muen_compat::ChannelError;

use crate::error::strerror;

/// A failure of the ring worker, its channels or its I/O engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A device's channel in the ring area could not be set up.
    #[error("ring channel: {0}")]
    Channel(#[from] ChannelError),
    /// `--io-engine=uring` was asked for and io_uring could not be set up.
    #[error("io_uring unavailable: {}", strerror(.0))]
    UringUnavailable(#[source] std::io::Error),
    /// More operations were pushed than the submission queue holds.
    #[error("io_uring queue full")]
    QueueFull,
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;
    use crate::error::TenderError;

    #[test]
    fn ring_errors_print_their_cause_and_keep_it() {
        let err = TenderError::from(Error::from(ChannelError::RegionTooSmall));
        assert_eq!(
            err.to_string(),
            "ring channel: channel region too small for the header and one element"
        );
        assert_eq!(
            err.source().unwrap().downcast_ref::<ChannelError>(),
            Some(&ChannelError::RegionTooSmall)
        );
        let err = Error::UringUnavailable(std::io::Error::from_raw_os_error(libc::EPERM));
        assert_eq!(
            err.to_string(),
            "io_uring unavailable: Operation not permitted"
        );
        assert!(err.source().unwrap().is::<std::io::Error>());
    }
}
