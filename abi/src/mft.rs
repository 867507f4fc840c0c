//! The Solo5 application manifest in its binary form (`mft_abi.h`).

use bytemuck::{Pod, Zeroable};

/// Manifest format version.
pub const MFT_VERSION: u32 = 1;
/// Most entries a manifest holds, reserved entry 0 included.
pub const MFT_MAX_ENTRIES: usize = 64;
/// Size of an entry's name field, NUL included.
pub const MFT_NAME_SIZE: usize = 68;
/// Longest device name.
pub const MFT_NAME_MAX: usize = 67;

/// `mft_type`: a block device.
pub const MFT_DEV_BLOCK_BASIC: u32 = 1;
/// `mft_type`: a network device.
pub const MFT_DEV_NET_BASIC: u32 = 2;
/// `mft_type` of the first (reserved) entry; every type at or above it is reserved.
pub const MFT_RESERVED_FIRST: u32 = 1 << 30;

/// `struct mft` header; `entries` copies of [`MftEntry`] follow.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct MftHeader {
    /// [`MFT_VERSION`].
    pub version: u32,
    /// Number of entries that follow.
    pub entries: u32,
}
crate::assert_layout!(MftHeader, 8, version => 0, entries => 4);

/// `struct mft_entry` (104 bytes).
///
/// The C union `u` is kept as raw bytes with typed accessors: block devices
/// use capacity (u64 @72) and block_size (u16 @80); net devices mac (@72) and
/// mtu (u16 @78).
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct MftEntry {
    /// NUL-terminated device name.
    pub name: [u8; MFT_NAME_SIZE],
    /// `mft_type`.
    pub mft_type: u32,
    /// The device union, filled by the tender.
    pub u: [u8; 16],
    /// Host descriptor of the backing tap or file (spt uses it directly).
    pub hostfd: u64,
    /// Set by the tender once the device is attached; false in the ELF.
    pub attached: u8,
    /// Tail padding.
    pub pad: [u8; 7],
}
crate::assert_layout!(MftEntry, 104, name => 0, mft_type => 68, u => 72, hostfd => 88, attached => 96);

impl MftEntry {
    /// The name up to its first NUL.
    pub fn name_bytes(&self) -> &[u8] {
        let end = self
            .name
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(MFT_NAME_SIZE);
        &self.name[..end]
    }

    /// Block device capacity in bytes.
    pub fn block_capacity(&self) -> u64 {
        u64::from_le_bytes(self.u[0..8].try_into().unwrap())
    }

    /// Sets the block device capacity.
    pub fn set_block_capacity(&mut self, capacity: u64) {
        self.u[0..8].copy_from_slice(&capacity.to_le_bytes());
    }

    /// Block device sector size in bytes.
    pub fn block_size(&self) -> u16 {
        u16::from_le_bytes([self.u[8], self.u[9]])
    }

    /// Sets the block device sector size.
    pub fn set_block_size(&mut self, size: u16) {
        self.u[8..10].copy_from_slice(&size.to_le_bytes());
    }

    /// Network device MAC address.
    pub fn net_mac(&self) -> [u8; 6] {
        self.u[0..6].try_into().unwrap()
    }

    /// Sets the network device MAC address.
    pub fn set_net_mac(&mut self, mac: [u8; 6]) {
        self.u[0..6].copy_from_slice(&mac);
    }

    /// Network device MTU (Ethernet header excluded).
    pub fn net_mtu(&self) -> u16 {
        u16::from_le_bytes([self.u[6], self.u[7]])
    }

    /// Sets the network device MTU.
    pub fn set_net_mtu(&mut self, mtu: u16) {
        self.u[6..8].copy_from_slice(&mtu.to_le_bytes());
    }
}

/// Size in bytes of a manifest with `entries` entries.
pub const fn mft_size(entries: usize) -> usize {
    core::mem::size_of::<MftHeader>() + entries * core::mem::size_of::<MftEntry>()
}
