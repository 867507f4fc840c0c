//! The hvt tender ABI (`hvt_abi.h`) for x86_64, plus ringtender's ring-3 additions.

use bytemuck::{Pod, Zeroable};

/// `HVT_ABI_VERSION`.
pub const HVT_ABI_VERSION: u32 = 2;
/// Lowest address an ELF segment may be loaded at.
pub const HVT_GUEST_MIN_BASE: u64 = 0x10_0000;
/// Hypercall `n` is an `outl` to port `HVT_HYPERCALL_PIO_BASE + n`.
pub const HVT_HYPERCALL_PIO_BASE: u16 = 0x500;
/// Doorbell port of the upstream (#637) net ring.
pub const HVT_RING_KICK_PIO_BASE: u16 = 0x600;
/// Size of the command line buffer, NUL included.
pub const HVT_CMDLINE_SIZE: usize = 8192;
/// Largest halt cookie (trap frame) the tender reads.
pub const HVT_HALT_COOKIE_MAX: usize = 512;
/// `host_features` bit: the #637 net ring is active.
pub const HVT_FEATURE_RING_IO: u32 = 1 << 0;
/// Guest address of the boot info block.
pub const HVT_BOOT_INFO_BASE: u64 = 0x1_0000;

/// Port a ring-3 guest's trap stubs (tender-provided, CPL 0) write the vector to.
///
/// Ours, not upstream's: the tender then reads the CPU's exception frame from
/// the trap stack and reports the trap as upstream's bindings would.
pub const HVT_TRAP_PIO: u16 = 0x5f0;

/// Hypercall numbers (`enum hvt_hypercall`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hypercall {
    /// Wall clock time.
    Walltime = 1,
    /// Console output.
    Puts = 2,
    /// Wait for network input or a timeout.
    Poll = 3,
    /// Write one block.
    BlockWrite = 4,
    /// Read one block.
    BlockRead = 5,
    /// Send one frame.
    NetWrite = 6,
    /// Receive one frame.
    NetRead = 7,
    /// Exit the guest.
    Halt = 8,
}

/// One past the highest hypercall number.
pub const HVT_HYPERCALL_MAX: u32 = 9;

impl Hypercall {
    /// Decodes a hypercall number.
    pub fn from_raw(raw: u32) -> Option<Self> {
        Some(match raw {
            1 => Self::Walltime,
            2 => Self::Puts,
            3 => Self::Poll,
            4 => Self::BlockWrite,
            5 => Self::BlockRead,
            6 => Self::NetWrite,
            7 => Self::NetRead,
            8 => Self::Halt,
            _ => return None,
        })
    }
}

/// `struct hvt_hc_walltime`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct HcWalltime {
    /// OUT: nanoseconds since the Unix epoch.
    pub nsecs: u64,
}
crate::assert_layout!(HcWalltime, 8, nsecs => 0);

/// `struct hvt_hc_puts`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct HcPuts {
    /// IN: guest address of the bytes.
    pub data: u64,
    /// IN: number of bytes.
    pub len: u64,
}
crate::assert_layout!(HcPuts, 16, data => 0, len => 8);

/// `struct hvt_hc_poll`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct HcPoll {
    /// IN: relative timeout in nanoseconds.
    pub timeout_nsecs: u64,
    /// OUT: handles ready for input.
    pub ready_set: u64,
    /// OUT: number of ready handles.
    pub ret: i32,
    /// Tail padding.
    pub pad: u32,
}
crate::assert_layout!(HcPoll, 24, timeout_nsecs => 0, ready_set => 8, ret => 16);

/// `struct hvt_hc_block_write`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct HcBlockWrite {
    /// IN: manifest index of the device.
    pub handle: u64,
    /// IN: byte offset.
    pub offset: u64,
    /// IN: guest address of the data.
    pub data: u64,
    /// IN: number of bytes.
    pub len: u64,
    /// OUT: `solo5_result_t`.
    pub ret: u32,
    /// Tail padding.
    pub pad: u32,
}
crate::assert_layout!(HcBlockWrite, 40, handle => 0, offset => 8, data => 16, len => 24, ret => 32);

/// `struct hvt_hc_block_read`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct HcBlockRead {
    /// IN: manifest index of the device.
    pub handle: u64,
    /// IN: byte offset.
    pub offset: u64,
    /// IN: guest address of the buffer.
    pub data: u64,
    /// IN/OUT: number of bytes.
    pub len: u64,
    /// OUT: `solo5_result_t`.
    pub ret: u32,
    /// Tail padding.
    pub pad: u32,
}
crate::assert_layout!(HcBlockRead, 40, handle => 0, offset => 8, data => 16, len => 24, ret => 32);

/// `struct hvt_hc_net_write`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct HcNetWrite {
    /// IN: manifest index of the device.
    pub handle: u64,
    /// IN: guest address of the frame.
    pub data: u64,
    /// IN: frame length.
    pub len: u64,
    /// OUT: `solo5_result_t`.
    pub ret: u32,
    /// Tail padding.
    pub pad: u32,
}
crate::assert_layout!(HcNetWrite, 32, handle => 0, data => 8, len => 16, ret => 24);

/// `struct hvt_hc_net_read`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct HcNetRead {
    /// IN: manifest index of the device.
    pub handle: u64,
    /// IN: guest address of the buffer.
    pub data: u64,
    /// IN: buffer size; OUT: frame length.
    pub len: u64,
    /// OUT: `solo5_result_t`.
    pub ret: u32,
    /// Tail padding.
    pub pad: u32,
}
crate::assert_layout!(HcNetRead, 32, handle => 0, data => 8, len => 16, ret => 24);

/// `struct hvt_hc_halt`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct HcHalt {
    /// IN: guest address of a trap frame ([`TrapRegs`]) or 0.
    pub cookie: u64,
    /// IN: exit status.
    pub exit_status: i32,
    /// Tail padding.
    pub pad: u32,
}
crate::assert_layout!(HcHalt, 16, cookie => 0, exit_status => 8);

/// `struct hvt_boot_info`, passed in RDI.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct BootInfo {
    /// Guest-usable memory size in bytes.
    pub mem_size: u64,
    /// End of the loaded ELF image (page aligned).
    pub kernel_end: u64,
    /// TSC frequency in Hz.
    pub cpu_cycle_freq: u64,
    /// Guest address of the NUL-terminated command line.
    pub cmdline: u64,
    /// Guest address of the manifest copy.
    pub mft: u64,
    /// `HVT_FEATURE_*` bits offered by the tender.
    pub host_features: u32,
    /// Unused; always 0.
    pub guest_features: u32,
    /// Guest address of the #637 net ring, or 0.
    pub net_ring: u64,
}
crate::assert_layout!(BootInfo, 56, mem_size => 0, kernel_end => 8, cpu_cycle_freq => 16,
    cmdline => 24, mft => 32, host_features => 40, guest_features => 44, net_ring => 48);

/// `struct x86_trap_regs`: the halt cookie of a fatal trap.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct TrapRegs {
    /// Faulting address (#PF).
    pub cr2: u64,
    /// Error code.
    pub ec: u64,
    /// Faulting instruction.
    pub rip: u64,
    /// Code segment.
    pub cs: u64,
    /// Flags.
    pub rflags: u64,
    /// Stack pointer.
    pub rsp: u64,
    /// Stack segment.
    pub ss: u64,
}
crate::assert_layout!(TrapRegs, 56, cr2 => 0, ec => 8, rip => 16, cs => 24, rflags => 32, rsp => 40, ss => 48);
