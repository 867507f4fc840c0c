//! The spt tender ABI (`spt_abi.h`).

use bytemuck::{Pod, Zeroable};

/// `SPT_ABI_VERSION`.
pub const SPT_ABI_VERSION: u32 = 2;
/// Lowest address an ELF segment may be loaded at.
pub const SPT_GUEST_MIN_BASE: u64 = 0x10_0000;
/// Start of the guest's mapping in the tender's address space.
pub const SPT_HOST_MEM_BASE: u64 = 0x1_0000;
/// Address of the boot info block.
pub const SPT_BOOT_INFO_BASE: u64 = 0x1_1000;
/// Size of the command line buffer, NUL included.
pub const SPT_CMDLINE_SIZE: usize = 8192;
/// epoll data value of the internal timerfd.
pub const SPT_INTERNAL_TIMERFD: u64 = 0xffff_fffe;

/// `struct spt_boot_info`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct SptBootInfo {
    /// Guest memory size in bytes.
    pub mem_size: u64,
    /// End of the loaded ELF image.
    pub kernel_end: u64,
    /// Address of the command line.
    pub cmdline: u64,
    /// Address of the manifest copy.
    pub mft: u64,
    /// epoll descriptor for `solo5_yield`.
    pub epollfd: i32,
    /// timerfd for `solo5_yield`.
    pub timerfd: i32,
}
crate::assert_layout!(SptBootInfo, 40, mem_size => 0, kernel_end => 8, cmdline => 16, mft => 24, epollfd => 32, timerfd => 36);

/// `SptRingInfo::magic`: "RTR1".
pub const SPT_RING_INFO_MAGIC: u32 = 0x3152_5452;

/// ringtender's extension of the spt boot info, present when the tender
/// serves the guest's devices through rings: it sits right after
/// [`SptBootInfo`] and the manifest moves after it. Upstream's tender puts
/// the manifest there (its first word is the manifest version, never the
/// magic), so a guest finds the extension only under our tender.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct SptRingInfo {
    /// [`SPT_RING_INFO_MAGIC`].
    pub magic: u32,
    /// eventfd the guest writes (8 bytes) to wake the I/O worker.
    pub doorbell_fd: i32,
    /// Address of the ring directory (in memory shared with the worker).
    pub ring_dir: u64,
}
crate::assert_layout!(SptRingInfo, 16, magic => 0, doorbell_fd => 4, ring_dir => 8);
