//! The Solo5 ELF notes (ABI1, MFT1) and ringtender's ring-3 capability note.

use bytemuck::{Pod, Zeroable};

/// Note name of every Solo5 note, NUL included (`n_namesz` = 6).
pub const SOLO5_NOTE_NAME: &[u8; 6] = b"Solo5\0";
/// Size of a Solo5 note header: 12 bytes plus the name padded to 8.
pub const SOLO5_NOTE_HEADER_SIZE: usize = 20;
/// `n_type` of the ABI note ("ABI1").
pub const ABI1_NOTE_TYPE: u32 = 0x3149_4241;
/// `n_type` of the manifest note ("MFT1").
pub const MFT1_NOTE_TYPE: u32 = 0x3154_464d;
/// `n_type` of ringtender's ring-3 capability note ("RNG3").
///
/// Upstream tenders look only for ABI1 and MFT1 notes and skip this one.
pub const RING3_NOTE_TYPE: u32 = 0x3347_4e52;
/// Largest ABI1 descriptor a tender accepts.
pub const ABI1_NOTE_MAX_SIZE: usize = 32;
/// Largest MFT1 descriptor a tender accepts (4 padding bytes + 8 + 104 * 64).
pub const MFT1_NOTE_MAX_SIZE: usize = 6668;
/// Alignment of the ABI1 descriptor inside its note.
pub const ABI1_NOTE_ALIGN: usize = 4;
/// Alignment of the MFT1 descriptor (struct mft) inside its note.
pub const MFT1_NOTE_ALIGN: usize = 8;

/// `enum abi_target`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbiTarget {
    /// hardware virtualized tender (KVM).
    Hvt = 1,
    /// sandboxed process tender.
    Spt = 2,
    /// virtio (QEMU and friends).
    Virtio = 3,
    /// Muen separation kernel.
    Muen = 4,
    /// Genode.
    Genode = 5,
    /// Xen.
    Xen = 6,
}

impl AbiTarget {
    /// Decodes a raw `abi_target`.
    pub fn from_raw(raw: u32) -> Option<Self> {
        Some(match raw {
            1 => Self::Hvt,
            2 => Self::Spt,
            3 => Self::Virtio,
            4 => Self::Muen,
            5 => Self::Genode,
            6 => Self::Xen,
            _ => return None,
        })
    }

    /// The name `solo5-elftool query-abi` prints.
    pub fn name(self) -> &'static str {
        match self {
            Self::Hvt => "hvt",
            Self::Spt => "spt",
            Self::Virtio => "virtio",
            Self::Muen => "muen",
            Self::Genode => "genode",
            Self::Xen => "xen",
        }
    }
}

/// Descriptor of the ABI1 note.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct Abi1Descriptor {
    /// `enum abi_target`.
    pub abi_target: u32,
    /// ABI version of that target.
    pub abi_version: u32,
    /// Reserved, zero.
    pub reserved0: u32,
    /// Reserved, zero.
    pub reserved1: u32,
}
crate::assert_layout!(Abi1Descriptor, 16, abi_target => 0, abi_version => 4, reserved0 => 8, reserved1 => 12);

/// Current version of the ring-3 capability note.
pub const RING3_NOTE_VERSION: u32 = 1;
/// Ring-3 note flag: the bindings run at CPL 3 and use no privileged instruction.
pub const RING3_FLAG_CPL3: u32 = 1 << 0;
/// Ring-3 note flag: the bindings speak ringtender's rings (`abi::rings`).
pub const RING3_FLAG_RINGS: u32 = 1 << 1;

/// Descriptor of ringtender's ring-3 capability note ("RNG3").
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct Ring3Descriptor {
    /// [`RING3_NOTE_VERSION`].
    pub version: u32,
    /// `RING3_FLAG_*` bits.
    pub flags: u32,
    /// Reserved, zero.
    pub reserved: u64,
}
crate::assert_layout!(Ring3Descriptor, 16, version => 0, flags => 4, reserved => 8);
