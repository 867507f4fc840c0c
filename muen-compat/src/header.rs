//! The 64-byte SHMStream v2 channel header and the protocol identifiers.

use bytemuck::{Pod, Zeroable};

/// `Transport` value of an SHMStream v2 channel ("SHMStream20=").
pub const SHMSTREAM20_MARKER: u64 = 0x487312b6b79a9b6d;
/// Size of the channel header; elements start at this offset.
pub const HEADER_SIZE: usize = ringtender_abi::rings::CHANNEL_HEADER_SIZE as usize;
/// Protocol id of Muen net channels (Ethernet frames, see [`crate::net`]).
pub const NET_PROTOCOL: u64 = 0x7ade5c549b08e814;
/// Protocol id of Muenblock channels (requests and responses, see [`crate::block`]).
pub const BLOCK_PROTOCOL: u64 = 0x5155684453516f3d;
/// Protocol id of Muen's debug log channel (64-byte console elements).
pub const DEBUGLOG_PROTOCOL: u64 = 0xf00789094b6f70cf;

/// Offset of [`ChannelHeader::transport`].
pub const OFFSET_TRANSPORT: usize = 0;
/// Offset of [`ChannelHeader::epoch`].
pub const OFFSET_EPOCH: usize = 8;
/// Offset of [`ChannelHeader::protocol`].
pub const OFFSET_PROTOCOL: usize = 16;
/// Offset of [`ChannelHeader::size`].
pub const OFFSET_SIZE: usize = 24;
/// Offset of [`ChannelHeader::elements`].
pub const OFFSET_ELEMENTS: usize = 32;
/// Offset of [`ChannelHeader::reserved`].
pub const OFFSET_RESERVED: usize = 40;
/// Offset of [`ChannelHeader::wsc`].
pub const OFFSET_WSC: usize = 48;
/// Offset of [`ChannelHeader::wc`].
pub const OFFSET_WC: usize = 56;

/// SHMStream v2 channel header, eight `u64` in machine byte order.
///
/// This type documents the layout and serves tests and tools that build or
/// inspect a header as bytes. [`Writer`](crate::Writer) and
/// [`Reader`](crate::Reader) never hold one: they access each field as a
/// single atomic `u64` at the `OFFSET_*` constants.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct ChannelHeader {
    /// [`SHMSTREAM20_MARKER`] (may be 0 while the channel is inactive).
    pub transport: u64,
    /// Writer-chosen, changed on every writer reset; 0 means inactive.
    pub epoch: u64,
    /// Element protocol id, used by readers to detect mismatches.
    pub protocol: u64,
    /// Element size in bytes.
    pub size: u64,
    /// Number of elements in the ring.
    pub elements: u64,
    /// Zero.
    pub reserved: u64,
    /// Write-start counter: set to `wc + n` before `n` elements are written.
    pub wsc: u64,
    /// Write counter: number of elements completely written since the epoch began.
    pub wc: u64,
}

const _: () = {
    assert!(core::mem::size_of::<ChannelHeader>() == HEADER_SIZE);
    assert!(core::mem::offset_of!(ChannelHeader, transport) == OFFSET_TRANSPORT);
    assert!(core::mem::offset_of!(ChannelHeader, epoch) == OFFSET_EPOCH);
    assert!(core::mem::offset_of!(ChannelHeader, protocol) == OFFSET_PROTOCOL);
    assert!(core::mem::offset_of!(ChannelHeader, size) == OFFSET_SIZE);
    assert!(core::mem::offset_of!(ChannelHeader, elements) == OFFSET_ELEMENTS);
    assert!(core::mem::offset_of!(ChannelHeader, reserved) == OFFSET_RESERVED);
    assert!(core::mem::offset_of!(ChannelHeader, wsc) == OFFSET_WSC);
    assert!(core::mem::offset_of!(ChannelHeader, wc) == OFFSET_WC);
};
