//! Muenblock element formats: requests (client → server channel) and
//! responses (server → client channel), both with protocol id
//! [`BLOCK_PROTOCOL`](crate::BLOCK_PROTOCOL). Data moves through a separate
//! shared buffer addressed by `buffer_offset` (on hvt and spt: guest RAM,
//! the offset being a guest physical address; see docs/ring-abi.md §4).
//!
//! Two sets of status codes live here: ringtender's own (`BLOCK_STATUS_*`,
//! used by the hvt and spt rings) and Muen's (`MUEN_BLOCK_STATUS_*`, what a
//! Muen server such as `ahci_drv` answers, for the muen target).

use bytemuck::{Pod, Zeroable};

/// Read `length` bytes at `device_offset` into the buffer.
pub const BLOCK_KIND_READ: u16 = 1;
/// Write `length` bytes from the buffer at `device_offset`.
pub const BLOCK_KIND_WRITE: u16 = 2;
/// Discard (trim) `length` bytes at `device_offset`.
pub const BLOCK_KIND_DISCARD: u16 = 3;
/// Flush everything written before to stable storage.
pub const BLOCK_KIND_SYNC: u16 = 4;
/// Muenblock: no operation.
pub const BLOCK_KIND_NONE: u16 = 0;
/// Muenblock: SMART data into the buffer; the status is a `MUEN_SMART_*` value.
pub const BLOCK_KIND_GET_SMART: u16 = 5;
/// Muenblock handshake: the status is the device's number of blocks.
pub const BLOCK_KIND_MEDIA_BLOCKS: u16 = 0x10;
/// Muenblock handshake: the status is the device's block size in bytes.
pub const BLOCK_KIND_BLOCK_LENGTH: u16 = 0x11;
/// Muenblock handshake: the status is the most requests in flight.
pub const BLOCK_KIND_MAX_REQUESTS: u16 = 0x19;
/// Muenblock handshake: the status is the most blocks one read, write or
/// discard may cover.
pub const BLOCK_KIND_MAX_BLOCKS_COUNT: u16 = 0x1a;
/// Muenblock handshake: the status is the number of devices on the channel pair.
pub const BLOCK_KIND_MAX_DEVICES: u16 = 0x1b;
/// Muenblock: answered once no earlier request is pending.
pub const BLOCK_KIND_RESET: u16 = 0x1f;

/// Success (Muenblock's value).
pub const BLOCK_STATUS_OK: u64 = 0;
/// ringtender: malformed request — unknown kind, device index out of range,
/// length or offset not a multiple of the sector size, range beyond the
/// device, or a buffer outside the shared memory. Equal to
/// `SOLO5_R_EINVAL`, so a guest can pass it through.
pub const BLOCK_STATUS_INVALID: u64 = 2;
/// ringtender: the backend's I/O failed. Equal to `SOLO5_R_EUNSPEC`.
pub const BLOCK_STATUS_IO_ERROR: u64 = 3;
/// ringtender: a well-formed request of a kind a server does not implement.
/// A guest reports it as `SOLO5_R_EUNSPEC`. ringtender's host does not use
/// it: it answers every kind but read, write and sync (discard included)
/// with [`BLOCK_STATUS_INVALID`].
pub const BLOCK_STATUS_UNSUPPORTED: u64 = 4;

/// Muen's status: success (same value as [`BLOCK_STATUS_OK`]).
pub const MUEN_BLOCK_STATUS_OK: u64 = 0;
/// Muen's status: operation not supported, or no such device.
pub const MUEN_BLOCK_STATUS_ENOTSUP: u64 = 1;
/// Muen's status: the I/O failed.
pub const MUEN_BLOCK_STATUS_EIO: u64 = 10;
/// Muen's [`BLOCK_KIND_GET_SMART`] status: healthy.
pub const MUEN_SMART_OK: u64 = 1;
/// Muen's [`BLOCK_KIND_GET_SMART`] status: a threshold is exceeded.
pub const MUEN_SMART_THRESHOLD_EXCEEDED: u64 = 2;
/// Muen's [`BLOCK_KIND_GET_SMART`] status: unknown.
pub const MUEN_SMART_UNDEFINED: u64 = 3;

/// Size of a Muenblock request channel region (client writes).
pub const MUEN_REQUEST_CHANNEL_SIZE: usize = 0x8000;
/// Requests in a [`MUEN_REQUEST_CHANNEL_SIZE`] channel.
pub const MUEN_REQUEST_CHANNEL_ELEMENTS: usize = 1022;
/// Size of a Muenblock response channel region (server writes).
pub const MUEN_RESPONSE_CHANNEL_SIZE: usize = 0x4000;
/// Responses in a [`MUEN_RESPONSE_CHANNEL_SIZE`] channel.
pub const MUEN_RESPONSE_CHANNEL_ELEMENTS: usize = 1020;
/// Size of the shared data buffer in Muen's policies (`blockdev_shm1`).
pub const MUEN_BUFFER_DEFAULT_SIZE: usize = 0x100_0000;

/// A Muenblock request, 32 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct BlockRequest {
    /// `BLOCK_KIND_*`.
    pub kind: u16,
    /// Device index on this channel pair.
    pub device: u16,
    /// Client-chosen tag, echoed in the response.
    pub tag: u32,
    /// Bytes to transfer (a multiple of the sector size; may span many sectors).
    pub length: u64,
    /// Where on the device: a byte offset on ringtender's hvt and spt rings;
    /// a block number (units of the device's block length) with Muen peers
    /// (docs/ring-abi.md §10, [`crate::muenblock_client`]).
    pub device_offset: u64,
    /// Byte offset of the data in the shared buffer.
    pub buffer_offset: u64,
}

/// A Muenblock response, 16 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct BlockResponse {
    /// Kind of the request answered.
    pub kind: u16,
    /// Device of the request answered.
    pub device: u16,
    /// Tag of the request answered.
    pub tag: u32,
    /// `BLOCK_STATUS_*`: 0 is success, anything else an error.
    pub status: u64,
}

const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<BlockRequest>() as u64 == ringtender_abi::rings::BLOCK_REQUEST_SIZE);
    assert!(offset_of!(BlockRequest, kind) == 0);
    assert!(offset_of!(BlockRequest, device) == 2);
    assert!(offset_of!(BlockRequest, tag) == 4);
    assert!(offset_of!(BlockRequest, length) == 8);
    assert!(offset_of!(BlockRequest, device_offset) == 16);
    assert!(offset_of!(BlockRequest, buffer_offset) == 24);
    assert!(size_of::<BlockResponse>() as u64 == ringtender_abi::rings::BLOCK_RESPONSE_SIZE);
    assert!(offset_of!(BlockResponse, kind) == 0);
    assert!(offset_of!(BlockResponse, device) == 2);
    assert!(offset_of!(BlockResponse, tag) == 4);
    assert!(offset_of!(BlockResponse, status) == 8);
    let header = crate::HEADER_SIZE;
    let request = size_of::<BlockRequest>();
    let response = size_of::<BlockResponse>();
    assert!((MUEN_REQUEST_CHANNEL_SIZE - header) / request == MUEN_REQUEST_CHANNEL_ELEMENTS);
    assert!((MUEN_RESPONSE_CHANNEL_SIZE - header) / response == MUEN_RESPONSE_CHANNEL_ELEMENTS);
};
