//! Muen SHMStream v2 channels, shared by ringtender's guest bindings and tenders.
//!
//! A channel is one region of shared memory: a 64-byte [`ChannelHeader`]
//! followed by `elements × size` bytes of fixed-size elements. It has exactly
//! one [`Writer`] and any number of independent [`Reader`]s; the layout and the
//! algorithms are byte-for-byte those of Muen's SHMStream v2, so a channel
//! written here is readable by a Muen reader and vice versa.
//!
//! On top of that, ringtender adds a *lossless* mode (docs/ring-abi.md §3): the
//! reader publishes its read counter in a word outside the channel and the
//! writer refuses to overwrite elements the reader has not finished with
//! ([`Writer::try_write`], [`Writer::free_slots`]). Where that word lives is up
//! to the caller; this crate only takes its value.
//!
//! All memory access goes through the [`SharedMemory`] trait, so the same code
//! runs in the guest (its own memory, [`RawRegion`]) and in the tender (guest
//! memory reached through `vm-memory`, never through a Rust reference). The
//! reader trusts nothing in the region: whatever the writer stores, it never
//! accesses memory outside the region and never panics.
//!
//! The element formats of Muen net ([`net`]) and Muenblock ([`block`]) live
//! here too, and, for the muen target, the other layouts a Muen subject
//! shares with its environment: the subject info page ([`sinfo`]), the
//! pages at fixed addresses ([`subject`]), and a Muenblock client
//! ([`muenblock_client`]).
#![no_std]

#[cfg(test)]
extern crate std;

pub mod block;
mod error;
mod header;
mod memory;
pub mod muenblock_client;
pub mod net;
mod reader;
pub mod sinfo;
pub mod subject;
mod writer;

#[cfg(test)]
mod tests;

pub use error::{ChannelError, ElementTooLarge, WriteError};
pub use header::{
    ChannelHeader, BLOCK_PROTOCOL, DEBUGLOG_PROTOCOL, HEADER_SIZE, NET_PROTOCOL, OFFSET_ELEMENTS,
    OFFSET_EPOCH, OFFSET_PROTOCOL, OFFSET_RESERVED, OFFSET_SIZE, OFFSET_TRANSPORT, OFFSET_WC,
    OFFSET_WSC, SHMSTREAM20_MARKER,
};
pub use memory::{RawRegion, SharedMemory};
pub use reader::{ReadResult, Reader};
pub use writer::Writer;
