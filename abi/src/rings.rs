//! ringtender's ring ABI for hvt and spt: discovery, device ring areas and
//! element geometry. The channels themselves are Muen SHMStream v2
//! (`ringtender-muen-compat`); `docs/ring-abi.md` is the specification.

use bytemuck::{Pod, Zeroable};

/// `host_features` bit: ringtender rings are set up (clear of upstream's bits).
pub const HVT_FEATURE_RT_RINGS: u32 = 1 << 16;
/// Doorbell port: a 4-byte `out` of the device handle (ioeventfd: no VM exit).
pub const RT_RING_DOORBELL_PIO: u16 = 0x601;
/// Send port (hvt, with [`HVT_FEATURE_RT_SEND_PORT`]): a 4-byte `out` of a
/// net handle exits to the vCPU thread, which sends what that device's tx
/// ring holds (at most one batch) before the guest resumes.
pub const RT_RING_SEND_PIO: u16 = 0x602;
/// `host_features` bit: the tender serves [`RT_RING_SEND_PIO`] and sets
/// [`HOST_SLEEPING_RX_FULL`] in `host_sleeping` (`docs/ring-abi.md` §6).
pub const HVT_FEATURE_RT_SEND_PORT: u32 = 1 << 17;
/// Offset, from the boot info's start, of the ring directory's guest address
/// (u64, ours: right after upstream's 56-byte `hvt_boot_info`).
pub const BOOT_INFO_RING_DIR_OFFSET: u64 = 56;
/// Size of the boot info block including our extension.
pub const BOOT_INFO_EXT_SIZE: u64 = 64;
/// Ring directory format version.
pub const RING_DIR_VERSION: u32 = 1;

/// Ring directory header; `count` [`RingDirEntry`]s follow, one per
/// manifest entry (index = handle).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct RingDirHeader {
    /// [`RING_DIR_VERSION`].
    pub version: u32,
    /// Number of entries (= manifest entries).
    pub count: u32,
}
crate::assert_layout!(RingDirHeader, 8, version => 0, count => 4);

/// Where one device's rings are. `area == 0` means no rings for that handle.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct RingDirEntry {
    /// Guest address of the device ring area (page aligned).
    pub area: u64,
    /// Manifest type of the device (`MFT_DEV_NET_BASIC`, `MFT_DEV_BLOCK_BASIC`).
    pub kind: u32,
    /// Elements in each channel.
    pub elements: u32,
    /// Offset of the guest→host channel in the area.
    pub g2h_offset: u64,
    /// Bytes of the guest→host channel region (header + elements, page rounded).
    pub g2h_bytes: u64,
    /// Offset of the host→guest channel in the area.
    pub h2g_offset: u64,
    /// Bytes of the host→guest channel region.
    pub h2g_bytes: u64,
}
crate::assert_layout!(RingDirEntry, 48, area => 0, kind => 8, elements => 12,
    g2h_offset => 16, g2h_bytes => 24, h2g_offset => 32, h2g_bytes => 40);

/// Area offset of the guest-owned word: the guest's read counter of the
/// host→guest channel (u64).
pub const AREA_GUEST_READ_COUNTER: u64 = 0;
/// Area offset of the guest-owned `guest_waiting` word (u64, spt): non-zero
/// while the guest sleeps, so that the worker writes the wake-up eventfd:
/// when it publishes (any non-zero value, [`GUEST_WAITING_INPUT`] in
/// `solo5_yield`), and when it took frames from this device's tx channel
/// ([`GUEST_WAITING_TX_ROOM`]).
pub const AREA_GUEST_WAITING: u64 = 8;
/// Area offset of the guest-owned `rx_owner` word (u64, net, spt with
/// [`crate::spt::SPT_FEATURE_GUEST_TAPS`]): non-zero while the guest itself
/// fills its host→guest channel from the tap (it waits in `solo5_yield`);
/// the worker then leaves that channel alone (`docs/ring-abi.md` §9).
pub const AREA_GUEST_RX_OWNER: u64 = 16;
/// `guest_waiting` value: the guest sleeps in `solo5_yield` for input.
pub const GUEST_WAITING_INPUT: u64 = 1;
/// `guest_waiting` bit (net devices): the guest sleeps until the worker
/// takes frames from this device's full tx channel (a blocking
/// `solo5_net_write`).
pub const GUEST_WAITING_TX_ROOM: u64 = 2;
/// Area offset of the host-owned word: the host's read counter of the
/// guest→host channel (u64).
pub const AREA_HOST_READ_COUNTER: u64 = 64;
/// Area offset of the host-owned `host_sleeping` word (u64): non-zero when the
/// guest must ring the doorbell after publishing.
pub const AREA_HOST_SLEEPING: u64 = 72;
/// `host_sleeping` bit: the worker sleeps.
pub const HOST_SLEEPING: u64 = 1;
/// `host_sleeping` bit, set with [`HOST_SLEEPING`]: the worker left frames
/// in the tap for want of room in this device's rx ring and waits for the
/// guest to release some (the guest rings the doorbell after a release
/// only then, when the tender offers [`HVT_FEATURE_RT_SEND_PORT`]).
pub const HOST_SLEEPING_RX_FULL: u64 = 2;
/// Where the worker's sleep count starts in `host_sleeping` (bits 8-63,
/// non-zero while it sleeps): each sleep has its own, so a guest rings the
/// doorbell once per sleep rather than after every publish until the
/// worker runs again (a tender that leaves these bits clear is rung after
/// every publish that finds it sleeping).
pub const HOST_SLEEPING_GENERATION_SHIFT: u32 = 8;
/// Area offset of the host-owned rx drop counter (u64): frames the host
/// dropped because the host→guest channel was full (lossy mode only).
pub const AREA_RX_DROPPED: u64 = 80;
/// Area offset of the host-owned `rx_pass` word (u64, net, spt): non-zero
/// while the worker looks at or fills this device's host→guest channel; a
/// guest taking the channel over waits until it is clear.
pub const AREA_HOST_RX_PASS: u64 = 88;
/// Area offset of the host-owned `host_features` word of a block device
/// (u64, spt): what else the tender offers for this device.
pub const AREA_HOST_FEATURES: u64 = 96;
/// `host_features` bit (spt, block devices): the guest process holds the
/// block file too, and its seccomp filter lets it `pread64`/`pwrite64` one
/// block inside the device (as upstream's `solo5-spt` does), for the
/// blocking `solo5_block_read`/`solo5_block_write`. The guest makes such a
/// call only once none of its ring requests on the device is in flight.
pub const HOST_FEATURE_BLOCK_DIRECT: u64 = 1;
/// `host_features` bit (spt, block devices, with
/// [`HOST_FEATURE_BLOCK_DIRECT`]): the guest's filter also lets it
/// `pread64`/`pwrite64` a power of two of blocks up to a data slot
/// ([`SPT_BLOCK_SLOT_BYTES`]) inside the device, and the guest serves the
/// ring API's reads and writes on it itself. Given to every block device
/// of a guest with at most [`SPT_RING_TRANSFER_DEVICES_MAX`] of them (each
/// size is a rule of its own, and a filter holds at most 4096
/// instructions).
pub const HOST_FEATURE_BLOCK_DIRECT_RING: u64 = 2;
/// Most block devices a guest may have for [`HOST_FEATURE_BLOCK_DIRECT_RING`].
pub const SPT_RING_TRANSFER_DEVICES_MAX: usize = 8;
/// Offset of the first channel in a device area.
pub const AREA_CHANNELS: u64 = 0x1000;

/// Elements per channel for net devices.
pub const NET_RING_ELEMENTS: u32 = 256;
/// Elements per channel for block devices (the in-flight window).
pub const BLOCK_RING_ELEMENTS: u32 = 64;
/// Bytes of one data slot of a block area on spt. There the worker process
/// sees only the shared ring memory, so each block area ends with
/// `BLOCK_RING_ELEMENTS` slots right after its host→guest channel, and
/// requests point into them (the guest copies through them).
pub const SPT_BLOCK_SLOT_BYTES: u64 = 0x1_0000;
/// Bytes of a block area's data slots on spt.
pub const SPT_BLOCK_DATA_BYTES: u64 = SPT_BLOCK_SLOT_BYTES * BLOCK_RING_ELEMENTS as u64;
/// Size of a block request element.
pub const BLOCK_REQUEST_SIZE: u64 = 32;
/// Size of a block response element.
pub const BLOCK_RESPONSE_SIZE: u64 = 16;
/// SHMStream header size.
pub const CHANNEL_HEADER_SIZE: u64 = 64;

/// Bytes of an Ethernet header (a net element's frame holds it and the MTU).
pub const ETHERNET_HEADER_SIZE: u64 = 14;
/// Bytes of the little-endian `u16` frame length that ends a net element.
pub const NET_LENGTH_FIELD: u64 = 2;

/// The largest frame of a net device with `mtu`: the MTU and the Ethernet
/// header.
pub const fn net_frame_max(mtu: u64) -> u64 {
    mtu + ETHERNET_HEADER_SIZE
}

/// Net element size for an MTU: the largest frame followed by its length;
/// 1516 bytes for MTU 1500, as Muen's.
pub const fn net_element_size(mtu: u64) -> u64 {
    net_frame_max(mtu) + NET_LENGTH_FIELD
}

/// Bytes of a channel region with `elements` elements of `size`, page rounded.
pub const fn channel_bytes(size: u64, elements: u64) -> u64 {
    (CHANNEL_HEADER_SIZE + size * elements).next_multiple_of(0x1000)
}

/// Lays out one device's area; returns its directory entry with `area = 0`
/// (the tender fills in the address) and the area's total size.
pub const fn device_layout(
    kind: u32,
    elements: u32,
    g2h_size: u64,
    h2g_size: u64,
) -> (RingDirEntry, u64) {
    let g2h_bytes = channel_bytes(g2h_size, elements as u64);
    let h2g_bytes = channel_bytes(h2g_size, elements as u64);
    let entry = RingDirEntry {
        area: 0,
        kind,
        elements,
        g2h_offset: AREA_CHANNELS,
        g2h_bytes,
        h2g_offset: AREA_CHANNELS + g2h_bytes,
        h2g_bytes,
    };
    (entry, AREA_CHANNELS + g2h_bytes + h2g_bytes)
}
