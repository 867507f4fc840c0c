//! Error types.

use core::fmt;

/// Why a [`Writer`](crate::Writer) or [`Reader`](crate::Reader) could not be set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelError {
    /// The region cannot hold the 64-byte header (plus one element, for a writer).
    RegionTooSmall,
    /// Element size 0 (or, for a reader, a maximum element size of 0).
    InvalidElementSize,
    /// Epoch 0, which means "inactive" and cannot be published by a writer.
    InvalidEpoch,
    /// Protocol id 0, which SHMStream reserves.
    InvalidProtocol,
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::RegionTooSmall => "channel region too small for the header and one element",
            Self::InvalidElementSize => "channel element size must be non-zero",
            Self::InvalidEpoch => "channel epoch must be non-zero",
            Self::InvalidProtocol => "channel protocol id must be non-zero",
        })
    }
}

impl core::error::Error for ChannelError {}

/// An element longer than the channel's element size was given to a writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ElementTooLarge {
    /// Length of the rejected element.
    pub len: usize,
    /// The channel's element size.
    pub element_size: usize,
}

impl fmt::Display for ElementTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "element of {} bytes exceeds the channel's element size {}",
            self.len, self.element_size
        )
    }
}

impl core::error::Error for ElementTooLarge {}

/// Why [`Writer::try_write`](crate::Writer::try_write) wrote nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteError {
    /// Every slot holds an element the reader has not finished with (or the
    /// reader's published counter is impossible, i.e. ahead of the writer).
    Full,
    /// The element does not fit in one slot.
    TooLarge(ElementTooLarge),
}

impl From<ElementTooLarge> for WriteError {
    fn from(e: ElementTooLarge) -> Self {
        Self::TooLarge(e)
    }
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full => f.write_str("channel full"),
            Self::TooLarge(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for WriteError {}
