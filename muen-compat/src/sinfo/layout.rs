//! Every offset and number of the Muen subject info page (formats 04 and 05),
//! in one place. The page is little endian and packed; offsets are in bytes
//! from the start of the page, of a resource, or of a resource's data.

/// Total size of the subject info structure (the region is 0x8000 bytes).
pub const SINFO_SIZE: usize = OFFSET_RESOURCES + MAX_RESOURCES * RESOURCE_SIZE;

/// The magic without its version byte: "muinfo" in the low six bytes, then 0.
pub const MAGIC_BASE: u64 = 0x0000_6f66_6e69_756d;
/// Bits of the magic that must equal [`MAGIC_BASE`].
pub const MAGIC_BASE_MASK: u64 = 0x00ff_ffff_ffff_ffff;
/// The format version is the magic's most significant byte.
pub const MAGIC_VERSION_SHIFT: u32 = 56;

/// Header: `u64 magic`.
pub const OFFSET_MAGIC: usize = 0;
/// Header: `u32 tsc_khz`.
pub const OFFSET_TSC_KHZ: usize = 8;
/// Header: the subject's name (a [`NAME_SIZE`]-byte name record).
pub const OFFSET_SUBJECT_NAME: usize = 12;
/// Header, format 04: `u16 resource_count` (then one pad byte).
pub const OFFSET_RESOURCE_COUNT_04: usize = 77;
/// Header, format 05: `u16 resource_count` (after one pad byte).
pub const OFFSET_RESOURCE_COUNT_05: usize = 78;
/// Header: the resource array.
pub const OFFSET_RESOURCES: usize = 80;

/// Number of slots in the resource array.
pub const MAX_RESOURCES: usize = 255;
/// Size of one resource.
pub const RESOURCE_SIZE: usize = 128;

/// Name record: `u8 length` (0..=[`NAME_MAX`]).
pub const NAME_OFFSET_LENGTH: usize = 0;
/// Name record: `char data[63]`, zero after `length`.
pub const NAME_OFFSET_DATA: usize = 1;
/// Name record: a zero byte that terminates a 63-byte name.
pub const NAME_OFFSET_NULL_TERM: usize = 64;
/// Size of a name record.
pub const NAME_SIZE: usize = 65;
/// Longest name.
pub const NAME_MAX: usize = 63;

/// Resource: `u32 kind` (`RESOURCE_KIND_*`).
pub const RES_OFFSET_KIND: usize = 0;
/// Resource: its name record.
pub const RES_OFFSET_NAME: usize = 4;
/// Resource: the kind's data (after 3 pad bytes).
pub const RES_OFFSET_DATA: usize = 72;
/// Size of a resource's data (the largest variant, a memory region).
pub const RES_DATA_SIZE: usize = RESOURCE_SIZE - RES_OFFSET_DATA;

/// Resource kind: empty slot; the first one ends the list.
pub const RESOURCE_KIND_NONE: u32 = 0;
/// Resource kind: memory region.
pub const RESOURCE_KIND_MEMORY: u32 = 1;
/// Resource kind: event (a `vmcall` number the subject may raise).
pub const RESOURCE_KIND_EVENT: u32 = 2;
/// Resource kind: vector (an interrupt the subject receives).
pub const RESOURCE_KIND_VECTOR: u32 = 3;
/// Resource kind: PCI device.
pub const RESOURCE_KIND_DEVICE: u32 = 4;
/// Resource kind: device MMIO region.
pub const RESOURCE_KIND_DEVICE_MEMORY: u32 = 5;
/// Resource kind: device I/O port range (format 05 only).
pub const RESOURCE_KIND_DEVICE_PORT: u32 = 6;

/// Memory data: `u8 kind` (a [`MemoryKind`](super::MemoryKind)).
pub const MEM_OFFSET_KIND: usize = 0;
/// Memory data: `u8 content` (a [`Content`](super::Content)).
pub const MEM_OFFSET_CONTENT: usize = 1;
/// Memory data: `u8 flags` (`MEM_FLAG_*`).
pub const MEM_OFFSET_FLAGS: usize = 2;
/// Memory data: `u16 pattern`, unaligned ([`NO_PATTERN`] or the fill byte).
pub const MEM_OFFSET_PATTERN: usize = 3;
/// Memory data: `u64 address`, the subject's virtual address.
pub const MEM_OFFSET_ADDRESS: usize = 8;
/// Memory data: `u64 size`.
pub const MEM_OFFSET_SIZE: usize = 16;
/// Memory data: SHA-256 of the content, all zero for none.
pub const MEM_OFFSET_HASH: usize = 24;
/// Size of the hash.
pub const HASH_SIZE: usize = 32;
/// Pattern value meaning "no fill pattern".
pub const NO_PATTERN: u16 = 256;
/// Memory flag: the subject may write the region.
pub const MEM_FLAG_WRITABLE: u8 = 1 << 0;
/// Memory flag: the subject may execute the region.
pub const MEM_FLAG_EXECUTABLE: u8 = 1 << 1;

/// Event and vector data: `u8 number` (the rest is zero).
pub const NUMBER_OFFSET: usize = 0;
/// Largest event number Muen's kernel accepts (6 bits).
pub const MAX_EVENT_NUMBER: u8 = 63;

/// Device data, 04: `u16 sid`.
pub const DEV04_OFFSET_SID: usize = 0;
/// Device data, 04: `u16 irte_start`.
pub const DEV04_OFFSET_IRTE_START: usize = 2;
/// Device data, 04: `u8 irq_start`.
pub const DEV04_OFFSET_IRQ_START: usize = 4;
/// Device data, 04: `u8 ir_count`.
pub const DEV04_OFFSET_IR_COUNT: usize = 5;
/// Device data, 04: `u8 flags` (`DEV_FLAG_*`).
pub const DEV04_OFFSET_FLAGS: usize = 6;

/// Device data, 05: `u16 sid`.
pub const DEV05_OFFSET_SID: usize = 0;
/// Device data, 05: `u16 vendor_id`.
pub const DEV05_OFFSET_VENDOR: usize = 2;
/// Device data, 05: `u16 device_id`.
pub const DEV05_OFFSET_DEVICE: usize = 4;
/// Device data, 05: `u16 class_code`.
pub const DEV05_OFFSET_CLASS: usize = 6;
/// Device data, 05: `u16 irte_start`.
pub const DEV05_OFFSET_IRTE_START: usize = 8;
/// Device data, 05: `u8 irq_start`.
pub const DEV05_OFFSET_IRQ_START: usize = 10;
/// Device data, 05: `u8 ir_count`.
pub const DEV05_OFFSET_IR_COUNT: usize = 11;
/// Device data, 05: `u8 flags` (`DEV_FLAG_*`).
pub const DEV05_OFFSET_FLAGS: usize = 12;
/// Device data, 05: `u8 reset_method`.
pub const DEV05_OFFSET_RESET_METHOD: usize = 13;
/// Device flag: MSI capable.
pub const DEV_FLAG_MSI: u8 = 1 << 0;

/// Device memory data, 04: `u8 flags` (`MEM_FLAG_*`).
pub const DEVMEM04_OFFSET_FLAGS: usize = 0;
/// Device memory data, 04: `u64 address`.
pub const DEVMEM04_OFFSET_ADDRESS: usize = 8;
/// Device memory data, 04: `u64 size`.
pub const DEVMEM04_OFFSET_SIZE: usize = 16;

/// Device memory data, 05: `u16 sid`.
pub const DEVMEM05_OFFSET_SID: usize = 0;
/// Device memory data, 05: `u8 flags` (`MEM_FLAG_*`).
pub const DEVMEM05_OFFSET_FLAGS: usize = 2;
/// Device memory data, 05: BAR configuration `u8 io_mem_flags`.
pub const DEVMEM05_OFFSET_BAR_FLAGS: usize = 3;
/// Device memory data, 05: BAR configuration `u8 bar_idx`.
pub const DEVMEM05_OFFSET_BAR_INDEX: usize = 4;
/// Device memory data, 05: BAR configuration `u64 bar_address`.
pub const DEVMEM05_OFFSET_BAR_ADDRESS: usize = 8;
/// Device memory data, 05: `u64 address`.
pub const DEVMEM05_OFFSET_ADDRESS: usize = 16;
/// Device memory data, 05: `u64 size`.
pub const DEVMEM05_OFFSET_SIZE: usize = 24;
/// BAR flag (05): prefetchable.
pub const DEVMEM_BAR_PREFETCHABLE: u8 = 1 << 0;
/// BAR flag (05): 64-bit BAR.
pub const DEVMEM_BAR_64BIT: u8 = 1 << 1;

/// Device port data (05): `u16 sid`.
pub const DEVPORT_OFFSET_SID: usize = 0;
/// Device port data (05): `u8 bar_idx`.
pub const DEVPORT_OFFSET_BAR_INDEX: usize = 2;
/// Device port data (05): `u16 address` (first port).
pub const DEVPORT_OFFSET_ADDRESS: usize = 4;
/// Device port data (05): `u16 size` (number of ports).
pub const DEVPORT_OFFSET_SIZE: usize = 6;

const _: () = {
    assert!(SINFO_SIZE == 32720);
    assert!(OFFSET_SUBJECT_NAME + NAME_SIZE == 77);
    assert!(RES_OFFSET_NAME + NAME_SIZE + 3 == RES_OFFSET_DATA);
    assert!(RES_DATA_SIZE == 56);
    assert!(MEM_OFFSET_HASH + HASH_SIZE == RES_DATA_SIZE);
    assert!(DEVMEM05_OFFSET_SIZE + 8 <= RES_DATA_SIZE);
};
