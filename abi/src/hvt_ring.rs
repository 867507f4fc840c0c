//! Upstream Solo5's hvt net ring (PR #637, `hvt_ring.h`), served unchanged so
//! unikernels built by upstream Solo5 >= 0.11 get it on our tender too.

use bytemuck::{Pod, Zeroable};

/// Slots in each of the entry and commit arrays.
pub const HVT_RING_SIZE: u32 = 1024;
/// Size of the guest's per-slot write buffer (frames above it use the hypercall).
pub const HVT_RING_BUF_SIZE: u32 = 2048;
/// Entry operation: send the frame at `data`.
pub const HVT_RING_NET_WRITE: u32 = 1;
/// Entry operation: receive a frame into `data`; the host posts a commit.
pub const HVT_RING_NET_READ: u32 = 2;

/// `struct hvt_ring_entry`, written by the guest.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct HvtRingEntry {
    /// `HVT_RING_NET_WRITE` or `HVT_RING_NET_READ`.
    pub operation: u32,
    /// Manifest index of the net device.
    pub handle: u32,
    /// Guest address of the frame or buffer.
    pub data: u64,
    /// Frame length, or buffer size.
    pub len: u32,
    /// Guest counter, informational.
    pub id: u32,
    /// Reserved.
    pub reserved: u64,
}
crate::assert_layout!(HvtRingEntry, 32, operation => 0, handle => 4, data => 8, len => 16, id => 20);

/// `struct hvt_ring_commit`, written by the host for each READ entry.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct HvtRingCommit {
    /// The entry's id.
    pub id: u32,
    /// `solo5_result_t`.
    pub ret: i32,
    /// Frame length.
    pub len: u32,
    /// Reserved.
    pub reserved: u32,
}
crate::assert_layout!(HvtRingCommit, 16, id => 0, ret => 4, len => 8);

/// Offset of `ent_tail` (u32, guest-written).
pub const HVT_RING_ENT_TAIL: u64 = 0;
/// Offset of `com_head` (u32, guest-written).
pub const HVT_RING_COM_HEAD: u64 = 4;
/// Offset of `ent_head` (u32, host-written).
pub const HVT_RING_ENT_HEAD: u64 = 64;
/// Offset of `com_tail` (u32, host-written).
pub const HVT_RING_COM_TAIL: u64 = 68;
/// Offset of `needs_kick` (u32, host-written).
pub const HVT_RING_NEEDS_KICK: u64 = 72;
/// Offset of `entries[HVT_RING_SIZE]`.
pub const HVT_RING_ENTRIES: u64 = 128;
/// Offset of `commits[HVT_RING_SIZE]`.
pub const HVT_RING_COMMITS: u64 = HVT_RING_ENTRIES + HVT_RING_SIZE as u64 * 32;
/// `sizeof(struct hvt_ring)`.
pub const HVT_RING_BYTES: u64 = HVT_RING_COMMITS + HVT_RING_SIZE as u64 * 16;
const _: () = assert!(HVT_RING_COMMITS == 32896 && HVT_RING_BYTES == 49280);
