//! The public Solo5 guest API types (`solo5.h`).

use bytemuck::{Pod, Zeroable};

/// `solo5_result_t`: the result of every device call.
pub type Solo5Result = u32;
/// The operation succeeded.
pub const SOLO5_R_OK: Solo5Result = 0;
/// The operation would block; try again later.
pub const SOLO5_R_AGAIN: Solo5Result = 1;
/// Invalid argument.
pub const SOLO5_R_EINVAL: Solo5Result = 2;
/// Unspecified error.
pub const SOLO5_R_EUNSPEC: Solo5Result = 3;

/// Exit status of a successful guest.
pub const SOLO5_EXIT_SUCCESS: i32 = 0;
/// Exit status of a failed guest.
pub const SOLO5_EXIT_FAILURE: i32 = 1;
/// Exit status of an aborted guest (`solo5_abort`, trap, stack smashing).
pub const SOLO5_EXIT_ABORT: i32 = 255;

/// Length of an Ethernet MAC address.
pub const SOLO5_NET_ALEN: usize = 6;
/// Length of an Ethernet header.
pub const SOLO5_NET_HLEN: usize = 14;

/// `struct solo5_start_info`, passed to `solo5_app_main`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct StartInfo {
    /// Guest address of the NUL-terminated application command line.
    pub cmdline: u64,
    /// Start of the heap (page aligned).
    pub heap_start: u64,
    /// Size of the heap in bytes; the initial stack lives at its top.
    pub heap_size: u64,
}
crate::assert_layout!(StartInfo, 24, cmdline => 0, heap_start => 8, heap_size => 16);

/// `struct solo5_net_info`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct NetInfo {
    /// MAC address of the guest's interface.
    pub mac_address: [u8; SOLO5_NET_ALEN],
    /// Padding to the natural C layout.
    pub pad: [u8; 2],
    /// MTU, excluding the Ethernet header.
    pub mtu: u64,
}
crate::assert_layout!(NetInfo, 16, mac_address => 0, mtu => 8);

/// `struct solo5_block_info`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct BlockInfo {
    /// Capacity of the device in bytes.
    pub capacity: u64,
    /// Block (sector) size in bytes.
    pub block_size: u64,
}
crate::assert_layout!(BlockInfo, 16, capacity => 0, block_size => 8);
