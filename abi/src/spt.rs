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

/// `SptWakeInfo::magic`: "RTW1".
pub const SPT_WAKE_INFO_MAGIC: u32 = 0x3157_5452;
/// `SptWakeInfo::features` bit: while it waits in `solo5_yield` the guest
/// may take its taps from the worker (fill its rx rings itself, switching
/// the tap set off in the worker's epoll set), send its first frames after
/// a wait straight to the tap, and ring after releasing rx slots only for
/// `HOST_SLEEPING_RX_FULL` (`docs/ring-abi.md` §9).
pub const SPT_FEATURE_GUEST_TAPS: u32 = 1;
/// epoll data of the tap set in the I/O worker's epoll set (on spt the
/// guest rewrites it when it switches the set off and on).
pub const SPT_WORKER_TAP_SET_EVENT: u64 = u64::MAX - 1;
/// epoll data of the worker's tap set in the guest's epoll set (the guest
/// adds it there itself, with [`SPT_FEATURE_GUEST_TAPS`]).
pub const SPT_TAP_SET_EVENT: u64 = 0xffff_fffc;

/// ringtender's spt wake extension, right after the ring directory's
/// entries (in the shared ring memory, so [`SptRingInfo`] and the manifest
/// keep their places for guests that predate it; a tender that predates it
/// leaves zeros there).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct SptWakeInfo {
    /// [`SPT_WAKE_INFO_MAGIC`].
    pub magic: u32,
    /// `SPT_FEATURE_*` bits.
    pub features: u32,
    /// The I/O worker's epoll set, in which the guest switches the tap set
    /// off and on (`EPOLL_CTL_MOD` only).
    pub worker_epoll: i32,
    /// The epoll set holding the worker's taps (`SPT_TAP_SET_EVENT`).
    pub tap_set: i32,
}
crate::assert_layout!(SptWakeInfo, 16, magic => 0, features => 4, worker_epoll => 8, tap_set => 12);
