//! The Muen subject info page ("sinfo"), formats 04 and 05.
//!
//! Muen maps one read-only page of subject information into every subject,
//! at [`SINFO_VA`](crate::subject::SINFO_VA): the subject's name, the TSC
//! rate, and a list of up to 255 named resources (memory regions, events,
//! vectors, devices). Solo5's muen bindings find their channels in it by
//! name ("debuglog", "`<dev>|in`", "`<dev>|out`", ...).
//!
//! - [`layout`]: every offset and number of the page;
//! - [`SinfoReader`]: lookups over [`SharedMemory`](crate::SharedMemory),
//!   hardened against any bytes;
//! - [`SinfoWriter`]: produces the page a Muen system would give a subject
//!   (what the muen runner maps).

pub mod layout;
mod reader;
mod types;
mod writer;

#[cfg(test)]
mod tests;

use core::fmt;

pub use reader::{Resources, SinfoReader};
pub use types::{
    Content, Device, DeviceMemory, DevicePort, MemoryFlags, MemoryKind, MemoryRegion, Name,
    NameError, Resource, ResourceData, ResourceKind, SinfoFormat,
};
pub use writer::SinfoWriter;

/// Why a subject info page could not be read or built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SinfoError {
    /// The region is smaller than the page's 32720 bytes.
    RegionTooSmall {
        /// The region's length.
        len: usize,
    },
    /// The magic is not "muinfo" with a version byte.
    BadMagic {
        /// The magic found.
        magic: u64,
    },
    /// "muinfo" with a version other than 04 and 05.
    UnknownFormat {
        /// The version byte found.
        version: u8,
    },
    /// A name that cannot be stored.
    Name(NameError),
    /// All 255 resource slots are used.
    Full,
    /// A resource kind the page's format does not have (device ports in 04).
    KindNotInFormat {
        /// The kind (`RESOURCE_KIND_*`).
        kind: u32,
        /// The page's format.
        format: SinfoFormat,
    },
    /// An event number above 63.
    EventNumberOutOfRange {
        /// The number given.
        number: u8,
    },
    /// A memory region whose pattern does not agree with its content.
    InconsistentPattern {
        /// The pattern given.
        pattern: u16,
    },
}

impl From<NameError> for SinfoError {
    fn from(e: NameError) -> Self {
        Self::Name(e)
    }
}

impl fmt::Display for SinfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RegionTooSmall { len } => write!(
                f,
                "subject info region of {len} bytes is smaller than {}",
                layout::SINFO_SIZE
            ),
            Self::BadMagic { magic } => write!(f, "bad subject info magic {magic:#018x}"),
            Self::UnknownFormat { version } => {
                write!(f, "unknown subject info format {version:02}")
            }
            Self::Name(NameError::TooLong { len }) => write!(
                f,
                "name of {len} bytes exceeds the {} allowed",
                layout::NAME_MAX
            ),
            Self::Name(NameError::ContainsNul) => f.write_str("name contains a NUL byte"),
            Self::Full => write!(
                f,
                "subject info already holds {} resources",
                layout::MAX_RESOURCES
            ),
            Self::KindNotInFormat { kind, format } => write!(
                f,
                "resource kind {kind} does not exist in subject info format {:02}",
                format.version()
            ),
            Self::EventNumberOutOfRange { number } => write!(
                f,
                "event number {number} exceeds {}",
                layout::MAX_EVENT_NUMBER
            ),
            Self::InconsistentPattern { pattern } => write!(
                f,
                "memory pattern {pattern} does not agree with the region's content"
            ),
        }
    }
}

impl core::error::Error for SinfoError {}
