//! Typed values of the subject info page and their encoding into (and
//! decoding from) a resource's 56 data bytes, per format.
//!
//! Decoding is total: any bytes give a value (unknown kinds and contents are
//! kept as their raw numbers), so a reader of hostile bytes never fails here.

use super::layout::*;

/// The two subject info formats in use with Solo5.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SinfoFormat {
    /// Format 04 (Muen tools' `mugensinfo`): `resource_count` at 77.
    V04,
    /// Format 05 (what Solo5 v0.12.1's muen bindings check for):
    /// `resource_count` at 78, PCI ids in devices, BAR data in device
    /// memory, device port resources.
    V05,
}

impl SinfoFormat {
    /// The version byte (the magic's most significant byte).
    pub const fn version(self) -> u8 {
        match self {
            Self::V04 => 4,
            Self::V05 => 5,
        }
    }

    /// The full magic word of this format.
    pub const fn magic(self) -> u64 {
        MAGIC_BASE | (self.version() as u64) << MAGIC_VERSION_SHIFT
    }

    /// The format with this version byte.
    pub const fn from_version(version: u8) -> Option<Self> {
        match version {
            4 => Some(Self::V04),
            5 => Some(Self::V05),
            _ => None,
        }
    }

    /// Offset of `u16 resource_count` in the header.
    pub const fn resource_count_offset(self) -> usize {
        match self {
            Self::V04 => OFFSET_RESOURCE_COUNT_04,
            Self::V05 => OFFSET_RESOURCE_COUNT_05,
        }
    }
}

/// A name record: up to [`NAME_MAX`] bytes. Lookups compare the length
/// first, then the bytes, as upstream's `muen_names_equal` does.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Name {
    /// The length byte as stored (a decoded record may hold more than 63).
    len: u8,
    data: [u8; NAME_MAX],
}

impl Name {
    /// A name of `bytes`: at most 63 bytes and no NUL (upstream's C lookup
    /// compares with `strlen`, so a name with a NUL could never be found).
    pub fn new(bytes: &[u8]) -> Result<Self, NameError> {
        if bytes.len() > NAME_MAX {
            return Err(NameError::TooLong { len: bytes.len() });
        }
        if bytes.contains(&0) {
            return Err(NameError::ContainsNul);
        }
        let mut data = [0; NAME_MAX];
        data[..bytes.len()].copy_from_slice(bytes);
        Ok(Self {
            len: bytes.len() as u8,
            data,
        })
    }

    /// The name's bytes, `None` if the stored length exceeds 63 (a record
    /// no Muen tool writes).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        self.data.get(..usize::from(self.len))
    }

    /// Whether this is the name `query`: same length, same bytes.
    pub fn matches(&self, query: &[u8]) -> bool {
        self.as_bytes() == Some(query)
    }

    pub(super) fn decode(record: &[u8; NAME_SIZE]) -> Self {
        let mut data = [0; NAME_MAX];
        data.copy_from_slice(&record[NAME_OFFSET_DATA..NAME_OFFSET_DATA + NAME_MAX]);
        Self {
            len: record[NAME_OFFSET_LENGTH],
            data,
        }
    }

    pub(super) fn encode(&self, record: &mut [u8; NAME_SIZE]) {
        record.fill(0);
        record[NAME_OFFSET_LENGTH] = self.len;
        record[NAME_OFFSET_DATA..NAME_OFFSET_DATA + NAME_MAX].copy_from_slice(&self.data);
        record[NAME_OFFSET_NULL_TERM] = 0;
    }
}

impl core::fmt::Debug for Name {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.as_bytes() {
            Some(bytes) => write!(f, "\"{}\"", bytes.escape_ascii()),
            None => write!(f, "<invalid name, length {}>", self.len),
        }
    }
}

/// Why a name cannot be stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameError {
    /// More than 63 bytes.
    TooLong {
        /// Its length.
        len: usize,
    },
    /// A NUL byte inside.
    ContainsNul,
}

/// Kind of a memory region (`u8`; unknown values are kept as they are).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryKind(pub u8);

impl MemoryKind {
    /// Plain subject memory (Solo5's "ram").
    pub const SUBJECT: Self = Self(0);
    /// The subject info page itself.
    pub const SUBJECT_INFO: Self = Self(1);
    /// Part of the subject's binary.
    pub const SUBJECT_BINARY: Self = Self(2);
    /// Linux zero page.
    pub const SUBJECT_ZEROPAGE: Self = Self(3);
    /// Initial ramdisk.
    pub const SUBJECT_INITRD: Self = Self(4);
    /// A channel (SHMStream region); writable for the writer side.
    pub const SUBJECT_CHANNEL: Self = Self(5);
    /// Subject state.
    pub const SUBJECT_STATE: Self = Self(6);
    /// The timed event page.
    pub const SUBJECT_TIMED_EVENT: Self = Self(7);
    /// Pending interrupts.
    pub const SUBJECT_INTERRUPTS: Self = Self(8);
    /// The scheduling info page.
    pub const SUBJECT_SCHEDULING_INFO: Self = Self(9);
    /// BIOS region.
    pub const SUBJECT_BIOS: Self = Self(10);
    /// ACPI RSDP.
    pub const SUBJECT_ACPI_RSDP: Self = Self(11);
    /// ACPI XSDT.
    pub const SUBJECT_ACPI_XSDT: Self = Self(12);
    /// ACPI FADT.
    pub const SUBJECT_ACPI_FADT: Self = Self(13);
    /// ACPI DSDT.
    pub const SUBJECT_ACPI_DSDT: Self = Self(14);
    /// Device memory mapped as plain memory.
    pub const SUBJECT_DEVICE: Self = Self(15);
    /// Solo5 boot info (`hvt_boot_info` written by `mugensolo5`).
    pub const SUBJECT_SOLO5_BOOT_INFO: Self = Self(16);
    /// Crash audit.
    pub const SUBJECT_CRASH_AUDIT: Self = Self(17);
    /// Device tree (new in 04).
    pub const SUBJECT_DEVICETREE: Self = Self(18);
    /// Kernel interface (19 since 04).
    pub const KERNEL_INTERFACE: Self = Self(19);
}

/// What initialises a memory region (`u8`; unknown values kept).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Content(pub u8);

impl Content {
    /// Not initialised.
    pub const UNINITIALIZED: Self = Self(0);
    /// Filled with the region's pattern.
    pub const FILL: Self = Self(1);
    /// Loaded from a file.
    pub const FILE: Self = Self(2);
}

/// Access flags of a memory region (`MEM_FLAG_*` bits).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryFlags(pub u8);

impl MemoryFlags {
    /// Read-only, not executable.
    pub const READ_ONLY: Self = Self(0);
    /// Writable.
    pub const WRITABLE: Self = Self(MEM_FLAG_WRITABLE);
    /// Executable.
    pub const EXECUTABLE: Self = Self(MEM_FLAG_EXECUTABLE);

    /// Whether the subject may write the region.
    pub const fn writable(self) -> bool {
        self.0 & MEM_FLAG_WRITABLE != 0
    }

    /// Whether the subject may execute the region.
    pub const fn executable(self) -> bool {
        self.0 & MEM_FLAG_EXECUTABLE != 0
    }
}

/// A memory region resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryRegion {
    /// Its kind.
    pub kind: MemoryKind,
    /// How it is initialised.
    pub content: Content,
    /// Access flags.
    pub flags: MemoryFlags,
    /// Fill byte for [`Content::FILL`], else [`NO_PATTERN`].
    pub pattern: u16,
    /// Virtual address in the subject.
    pub address: u64,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the content, all zero for none.
    pub hash: [u8; HASH_SIZE],
}

impl MemoryRegion {
    /// An uninitialised region without pattern or hash.
    pub const fn new(kind: MemoryKind, address: u64, size: u64, flags: MemoryFlags) -> Self {
        Self {
            kind,
            content: Content::UNINITIALIZED,
            flags,
            pattern: NO_PATTERN,
            address,
            size,
            hash: [0; HASH_SIZE],
        }
    }

    /// The same region, filled with `pattern`.
    pub const fn filled(mut self, pattern: u8) -> Self {
        self.content = Content::FILL;
        self.pattern = pattern as u16;
        self
    }

    /// The same region, loaded from a file.
    pub const fn from_file(mut self) -> Self {
        self.content = Content::FILE;
        self.pattern = NO_PATTERN;
        self
    }

    /// The same region with the hash of its content.
    pub const fn with_hash(mut self, hash: [u8; HASH_SIZE]) -> Self {
        self.hash = hash;
        self
    }

    /// The fill byte, if the region is filled with a valid pattern.
    pub fn fill_pattern(&self) -> Option<u8> {
        (self.content == Content::FILL)
            .then(|| u8::try_from(self.pattern).ok())
            .flatten()
    }

    /// Muen's rule: a filled region has a pattern (0..=255), any other has
    /// [`NO_PATTERN`].
    pub fn pattern_is_consistent(&self) -> bool {
        if self.content == Content::FILL {
            self.pattern < NO_PATTERN
        } else {
            self.pattern == NO_PATTERN
        }
    }
}

/// A PCI device resource. `vendor_id`, `device_id`, `class_code` and
/// `reset_method` exist only in format 05 (read as 0 from 04, not stored in 04).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Device {
    /// PCI source id (bus/device/function).
    pub sid: u16,
    /// PCI vendor id (05).
    pub vendor_id: u16,
    /// PCI device id (05).
    pub device_id: u16,
    /// PCI class code (05).
    pub class_code: u16,
    /// First interrupt remapping table entry.
    pub irte_start: u16,
    /// First IRQ.
    pub irq_start: u8,
    /// Number of IRQs.
    pub ir_count: u8,
    /// `DEV_FLAG_*`.
    pub flags: u8,
    /// Reset method (05): none 0, FLR 1, AF FLR 2, PM 3, bus 4.
    pub reset_method: u8,
}

/// A device MMIO region resource. `sid`, `bar_flags`, `bar_index` and
/// `bar_address` exist only in format 05.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeviceMemory {
    /// Device the region belongs to (05).
    pub sid: u16,
    /// Access flags.
    pub flags: MemoryFlags,
    /// `DEVMEM_BAR_*` (05).
    pub bar_flags: u8,
    /// BAR index (05).
    pub bar_index: u8,
    /// Physical BAR address (05).
    pub bar_address: u64,
    /// Virtual address in the subject.
    pub address: u64,
    /// Size in bytes.
    pub size: u64,
}

/// A device I/O port range resource (format 05 only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DevicePort {
    /// Device the ports belong to.
    pub sid: u16,
    /// BAR index.
    pub bar_index: u8,
    /// First port.
    pub address: u16,
    /// Number of ports.
    pub size: u16,
}

/// Kinds of resource a lookup can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceKind {
    /// [`RESOURCE_KIND_MEMORY`].
    Memory,
    /// [`RESOURCE_KIND_EVENT`].
    Event,
    /// [`RESOURCE_KIND_VECTOR`].
    Vector,
    /// [`RESOURCE_KIND_DEVICE`].
    Device,
    /// [`RESOURCE_KIND_DEVICE_MEMORY`].
    DeviceMemory,
    /// [`RESOURCE_KIND_DEVICE_PORT`] (05 only).
    DevicePort,
}

impl ResourceKind {
    /// The `u32` stored in a resource.
    pub const fn raw(self) -> u32 {
        match self {
            Self::Memory => RESOURCE_KIND_MEMORY,
            Self::Event => RESOURCE_KIND_EVENT,
            Self::Vector => RESOURCE_KIND_VECTOR,
            Self::Device => RESOURCE_KIND_DEVICE,
            Self::DeviceMemory => RESOURCE_KIND_DEVICE_MEMORY,
            Self::DevicePort => RESOURCE_KIND_DEVICE_PORT,
        }
    }

    /// Whether `format` has this kind.
    pub const fn exists_in(self, format: SinfoFormat) -> bool {
        !matches!((self, format), (Self::DevicePort, SinfoFormat::V04))
    }
}

/// The data of one resource, by kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceData {
    /// A memory region.
    Memory(MemoryRegion),
    /// An event number.
    Event(u8),
    /// A vector number.
    Vector(u8),
    /// A PCI device.
    Device(Device),
    /// A device MMIO region.
    DeviceMemory(DeviceMemory),
    /// A device port range (05).
    DevicePort(DevicePort),
    /// A kind this format does not define (not `NONE`), kept so a scan goes on
    /// past it as upstream's does.
    Unknown(u32),
}

impl ResourceData {
    /// The kind a lookup would ask for, `None` for [`ResourceData::Unknown`].
    pub const fn kind(&self) -> Option<ResourceKind> {
        Some(match self {
            Self::Memory(_) => ResourceKind::Memory,
            Self::Event(_) => ResourceKind::Event,
            Self::Vector(_) => ResourceKind::Vector,
            Self::Device(_) => ResourceKind::Device,
            Self::DeviceMemory(_) => ResourceKind::DeviceMemory,
            Self::DevicePort(_) => ResourceKind::DevicePort,
            Self::Unknown(_) => return None,
        })
    }

    /// Decode the data of a resource of `raw_kind` (not NONE) in `format`.
    pub(super) fn decode(format: SinfoFormat, raw_kind: u32, d: &[u8; RES_DATA_SIZE]) -> Self {
        match raw_kind {
            RESOURCE_KIND_MEMORY => Self::Memory(MemoryRegion {
                kind: MemoryKind(d[MEM_OFFSET_KIND]),
                content: Content(d[MEM_OFFSET_CONTENT]),
                flags: MemoryFlags(d[MEM_OFFSET_FLAGS]),
                pattern: get_u16(d, MEM_OFFSET_PATTERN),
                address: get_u64(d, MEM_OFFSET_ADDRESS),
                size: get_u64(d, MEM_OFFSET_SIZE),
                hash: get_array(d, MEM_OFFSET_HASH),
            }),
            RESOURCE_KIND_EVENT => Self::Event(d[NUMBER_OFFSET]),
            RESOURCE_KIND_VECTOR => Self::Vector(d[NUMBER_OFFSET]),
            RESOURCE_KIND_DEVICE => Self::Device(match format {
                SinfoFormat::V04 => Device {
                    sid: get_u16(d, DEV04_OFFSET_SID),
                    irte_start: get_u16(d, DEV04_OFFSET_IRTE_START),
                    irq_start: d[DEV04_OFFSET_IRQ_START],
                    ir_count: d[DEV04_OFFSET_IR_COUNT],
                    flags: d[DEV04_OFFSET_FLAGS],
                    ..Device::default()
                },
                SinfoFormat::V05 => Device {
                    sid: get_u16(d, DEV05_OFFSET_SID),
                    vendor_id: get_u16(d, DEV05_OFFSET_VENDOR),
                    device_id: get_u16(d, DEV05_OFFSET_DEVICE),
                    class_code: get_u16(d, DEV05_OFFSET_CLASS),
                    irte_start: get_u16(d, DEV05_OFFSET_IRTE_START),
                    irq_start: d[DEV05_OFFSET_IRQ_START],
                    ir_count: d[DEV05_OFFSET_IR_COUNT],
                    flags: d[DEV05_OFFSET_FLAGS],
                    reset_method: d[DEV05_OFFSET_RESET_METHOD],
                },
            }),
            RESOURCE_KIND_DEVICE_MEMORY => Self::DeviceMemory(match format {
                SinfoFormat::V04 => DeviceMemory {
                    flags: MemoryFlags(d[DEVMEM04_OFFSET_FLAGS]),
                    address: get_u64(d, DEVMEM04_OFFSET_ADDRESS),
                    size: get_u64(d, DEVMEM04_OFFSET_SIZE),
                    ..DeviceMemory::default()
                },
                SinfoFormat::V05 => DeviceMemory {
                    sid: get_u16(d, DEVMEM05_OFFSET_SID),
                    flags: MemoryFlags(d[DEVMEM05_OFFSET_FLAGS]),
                    bar_flags: d[DEVMEM05_OFFSET_BAR_FLAGS],
                    bar_index: d[DEVMEM05_OFFSET_BAR_INDEX],
                    bar_address: get_u64(d, DEVMEM05_OFFSET_BAR_ADDRESS),
                    address: get_u64(d, DEVMEM05_OFFSET_ADDRESS),
                    size: get_u64(d, DEVMEM05_OFFSET_SIZE),
                },
            }),
            RESOURCE_KIND_DEVICE_PORT if format == SinfoFormat::V05 => {
                Self::DevicePort(DevicePort {
                    sid: get_u16(d, DEVPORT_OFFSET_SID),
                    bar_index: d[DEVPORT_OFFSET_BAR_INDEX],
                    address: get_u16(d, DEVPORT_OFFSET_ADDRESS),
                    size: get_u16(d, DEVPORT_OFFSET_SIZE),
                })
            }
            other => Self::Unknown(other),
        }
    }

    /// Encode into zeroed data bytes `d` for `format`; `false` if the format
    /// has no such kind (nothing written then).
    pub(super) fn encode(&self, format: SinfoFormat, d: &mut [u8; RES_DATA_SIZE]) -> bool {
        match (self, format) {
            (Self::Memory(m), _) => {
                d[MEM_OFFSET_KIND] = m.kind.0;
                d[MEM_OFFSET_CONTENT] = m.content.0;
                d[MEM_OFFSET_FLAGS] = m.flags.0;
                put(d, MEM_OFFSET_PATTERN, &m.pattern.to_le_bytes());
                put(d, MEM_OFFSET_ADDRESS, &m.address.to_le_bytes());
                put(d, MEM_OFFSET_SIZE, &m.size.to_le_bytes());
                put(d, MEM_OFFSET_HASH, &m.hash);
            }
            (Self::Event(n) | Self::Vector(n), _) => d[NUMBER_OFFSET] = *n,
            (Self::Device(v), SinfoFormat::V04) => {
                put(d, DEV04_OFFSET_SID, &v.sid.to_le_bytes());
                put(d, DEV04_OFFSET_IRTE_START, &v.irte_start.to_le_bytes());
                d[DEV04_OFFSET_IRQ_START] = v.irq_start;
                d[DEV04_OFFSET_IR_COUNT] = v.ir_count;
                d[DEV04_OFFSET_FLAGS] = v.flags;
            }
            (Self::Device(v), SinfoFormat::V05) => {
                put(d, DEV05_OFFSET_SID, &v.sid.to_le_bytes());
                put(d, DEV05_OFFSET_VENDOR, &v.vendor_id.to_le_bytes());
                put(d, DEV05_OFFSET_DEVICE, &v.device_id.to_le_bytes());
                put(d, DEV05_OFFSET_CLASS, &v.class_code.to_le_bytes());
                put(d, DEV05_OFFSET_IRTE_START, &v.irte_start.to_le_bytes());
                d[DEV05_OFFSET_IRQ_START] = v.irq_start;
                d[DEV05_OFFSET_IR_COUNT] = v.ir_count;
                d[DEV05_OFFSET_FLAGS] = v.flags;
                d[DEV05_OFFSET_RESET_METHOD] = v.reset_method;
            }
            (Self::DeviceMemory(v), SinfoFormat::V04) => {
                d[DEVMEM04_OFFSET_FLAGS] = v.flags.0;
                put(d, DEVMEM04_OFFSET_ADDRESS, &v.address.to_le_bytes());
                put(d, DEVMEM04_OFFSET_SIZE, &v.size.to_le_bytes());
            }
            (Self::DeviceMemory(v), SinfoFormat::V05) => {
                put(d, DEVMEM05_OFFSET_SID, &v.sid.to_le_bytes());
                d[DEVMEM05_OFFSET_FLAGS] = v.flags.0;
                d[DEVMEM05_OFFSET_BAR_FLAGS] = v.bar_flags;
                d[DEVMEM05_OFFSET_BAR_INDEX] = v.bar_index;
                put(d, DEVMEM05_OFFSET_BAR_ADDRESS, &v.bar_address.to_le_bytes());
                put(d, DEVMEM05_OFFSET_ADDRESS, &v.address.to_le_bytes());
                put(d, DEVMEM05_OFFSET_SIZE, &v.size.to_le_bytes());
            }
            (Self::DevicePort(v), SinfoFormat::V05) => {
                put(d, DEVPORT_OFFSET_SID, &v.sid.to_le_bytes());
                d[DEVPORT_OFFSET_BAR_INDEX] = v.bar_index;
                put(d, DEVPORT_OFFSET_ADDRESS, &v.address.to_le_bytes());
                put(d, DEVPORT_OFFSET_SIZE, &v.size.to_le_bytes());
            }
            (Self::DevicePort(_), SinfoFormat::V04) | (Self::Unknown(_), _) => return false,
        }
        true
    }
}

/// One resource: its name and data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resource {
    /// Its name.
    pub name: Name,
    /// Its data.
    pub data: ResourceData,
}

/// `N` bytes of `bytes` at `offset`.
pub(super) fn get_array<const N: usize>(bytes: &[u8], offset: usize) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&bytes[offset..offset + N]);
    out
}

/// The little-endian `u16` at `offset`.
pub(super) fn get_u16(bytes: &[u8], offset: usize) -> u16 {
    u16::from_le_bytes(get_array(bytes, offset))
}

/// The little-endian `u64` at `offset`.
pub(super) fn get_u64(bytes: &[u8], offset: usize) -> u64 {
    u64::from_le_bytes(get_array(bytes, offset))
}

/// Store `value` at `offset`.
pub(super) fn put(bytes: &mut [u8], offset: usize, value: &[u8]) {
    bytes[offset..offset + value.len()].copy_from_slice(value);
}
