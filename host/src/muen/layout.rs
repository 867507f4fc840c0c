//! The subject's address space: every region Muen's tools would map for a
//! Solo5 unikernel (`solo5-gencspec` plus the system policy), at its
//! virtual address, with its access rights and its place in the runner's
//! guest-physical memory.
//!
//! Virtual and guest-physical addresses differ: the regions are packed from
//! GPA 0 in policy order, and the page tables ([`super::page_tables`]) come
//! after the last one, where no virtual address reaches them.

use std::ops::Range;

use ringtender_abi::mft::{MFT_DEV_BLOCK_BASIC, MFT_DEV_NET_BASIC};
use ringtender_muen_compat::block::{
    MUEN_BUFFER_DEFAULT_SIZE, MUEN_REQUEST_CHANNEL_SIZE, MUEN_RESPONSE_CHANNEL_SIZE,
};
use ringtender_muen_compat::net::MUEN_NET_CHANNEL_DEFAULT_SIZE;
use ringtender_muen_compat::sinfo::MemoryKind;
use ringtender_muen_compat::subject::{
    names, BOOT_INFO_REGION_SIZE, BOOT_INFO_VA, DEBUGLOG_REGION_SIZE, DEBUGLOG_VA,
    SCHEDULING_INFO_REGION_SIZE, SCHEDULING_INFO_VA, SINFO_REGION_SIZE, SINFO_VA,
    TIMED_EVENT_REGION_SIZE, TIMED_EVENT_VA, TIME_INFO_REGION_SIZE, TIME_INFO_VA,
};

use super::Error;
use crate::elf::ElfImage;
use crate::error::TenderError;
use crate::manifest::Manifest;

/// Page size of every mapping.
pub const PAGE: u64 = 0x1000;
/// Lowest address a segment of the binary may use: above the boot info.
pub const BINARY_MIN_VA: u64 = BOOT_INFO_VA + BOOT_INFO_REGION_SIZE;
/// The binary, `ram` and the channels must end below this address (the
/// fixed pages start at [`SINFO_VA`]; 4 GiB keeps the tables small).
pub const LOW_REGIONS_END: u64 = 0x1_0000_0000;

/// What a region holds, for the runner's own use of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Part of the binary (copied from the file, or zero fill).
    Binary,
    /// `ram`.
    Ram,
    /// The boot info page.
    BootInfo,
    /// A net device's input channel (the runner's peer writes).
    NetIn,
    /// A net device's output channel (the subject writes).
    NetOut,
    /// A block device's request channel (the subject writes).
    BlockRequest,
    /// A block device's response channel (the runner's peer writes).
    BlockResponse,
    /// A block device's data buffer.
    BlockBuffer,
    /// The subject info page.
    Sinfo,
    /// The scheduling info page.
    SchedulingInfo,
    /// The timed event page.
    TimedEvent,
    /// The time info page.
    TimeInfo,
    /// The debug log channel.
    Debuglog,
}

/// One mapped region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    /// Its name in the subject info page.
    pub name: String,
    /// What it is.
    pub role: Role,
    /// Manifest handle of its device (channels and buffers).
    pub device: Option<usize>,
    /// Subject virtual address (page aligned).
    pub va: u64,
    /// Size in bytes (page aligned).
    pub size: u64,
    /// Runner guest-physical address (page aligned).
    pub gpa: u64,
    /// The subject may write it.
    pub writable: bool,
    /// The subject may execute it.
    pub executable: bool,
    /// Its memory kind in the subject info page.
    pub kind: MemoryKind,
}

impl Region {
    /// Its virtual address range.
    pub fn va_range(&self) -> Range<u64> {
        self.va..self.va + self.size
    }

    /// The GPA of subject address `va`, if this region maps it.
    pub fn translate(&self, va: u64) -> Option<u64> {
        self.va_range()
            .contains(&va)
            .then(|| self.gpa + (va - self.va))
    }
}

/// The whole subject address space.
#[derive(Debug)]
pub struct SubjectLayout {
    /// Regions in policy order (the order of the subject info page).
    pub regions: Vec<Region>,
    /// End of `ram` (the boot info's `mem_size`; RSP starts 8 below it).
    pub ram_end: u64,
    /// End of the binary, exclusive.
    pub binary_end: u64,
    /// GPA just past the last region: the page tables start here.
    pub regions_gpa_end: u64,
}

/// A manifest device, as the layout needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectDevice {
    /// Manifest handle.
    pub handle: usize,
    /// Manifest name.
    pub name: String,
    /// `MFT_DEV_*`.
    pub mft_type: u32,
}

/// The devices of `manifest`, in manifest order.
pub fn devices_of(manifest: &Manifest) -> Vec<SubjectDevice> {
    manifest
        .entries()
        .iter()
        .enumerate()
        .map(|(handle, entry)| SubjectDevice {
            handle,
            name: String::from_utf8_lossy(entry.name_bytes()).into_owned(),
            mft_type: entry.mft_type,
        })
        .collect()
}

/// Where a segment's file bytes go.
pub struct BinaryCopy {
    /// GPA of the segment's first byte.
    pub gpa: u64,
    /// The file range to copy there.
    pub file: Range<usize>,
}

struct Builder {
    regions: Vec<Region>,
    next_gpa: u64,
}

impl Builder {
    fn push(
        &mut self,
        name: String,
        role: Role,
        device: Option<usize>,
        span: Range<u64>,
        access: (bool, bool),
        kind: MemoryKind,
    ) {
        let va = span.start;
        let size = (span.end - span.start).next_multiple_of(PAGE);
        let (writable, executable) = access;
        self.regions.push(Region {
            name,
            role,
            device,
            va,
            size,
            gpa: self.next_gpa,
            writable,
            executable,
            kind,
        });
        self.next_gpa += size;
    }
}

const RO: (bool, bool) = (false, false);
const RW: (bool, bool) = (true, false);

impl SubjectLayout {
    /// Lays out the subject of `image` with `ram_size` bytes of `ram` and
    /// the channels of every one of `devices` (the manifest's).
    pub fn new(
        image: &ElfImage,
        ram_size: u64,
        devices: &[SubjectDevice],
    ) -> Result<Self, TenderError> {
        let mut b = Builder {
            regions: Vec::new(),
            next_gpa: 0,
        };
        for seg in &image.segments {
            let name = match (seg.prot.write, seg.prot.exec) {
                (true, _) => "data",
                (false, true) => "text",
                (false, false) => "rodata",
            };
            b.push(
                name.into(),
                Role::Binary,
                None,
                seg.start..seg.end,
                (seg.prot.write, seg.prot.exec),
                MemoryKind::SUBJECT_BINARY,
            );
        }
        let binary_end = image.image_end;
        if binary_end > image.kernel_end {
            // Segments with no file contents (.bss): zero fill.
            b.push(
                "bss|fill".into(),
                Role::Binary,
                None,
                image.kernel_end..binary_end,
                RW,
                MemoryKind::SUBJECT_BINARY,
            );
        }
        let ram_end = binary_end
            .checked_add(ram_size)
            .filter(|&end| end <= LOW_REGIONS_END)
            .ok_or_else(|| ram_error(ram_size))?;
        b.push(
            names::RAM.into(),
            Role::Ram,
            None,
            binary_end..ram_end,
            RW,
            MemoryKind::SUBJECT,
        );
        b.push(
            names::BOOT_INFO.into(),
            Role::BootInfo,
            None,
            BOOT_INFO_VA..BOOT_INFO_VA + BOOT_INFO_REGION_SIZE,
            RO,
            MemoryKind::SUBJECT_SOLO5_BOOT_INFO,
        );
        let mut va = ram_end;
        let channels = [
            (
                MFT_DEV_NET_BASIC,
                &[
                    (
                        names::NET_IN_SUFFIX,
                        Role::NetIn,
                        MUEN_NET_CHANNEL_DEFAULT_SIZE,
                        RO,
                    ),
                    (
                        names::NET_OUT_SUFFIX,
                        Role::NetOut,
                        MUEN_NET_CHANNEL_DEFAULT_SIZE,
                        RW,
                    ),
                ][..],
            ),
            (
                MFT_DEV_BLOCK_BASIC,
                &[
                    (
                        names::BLOCK_REQUEST_SUFFIX,
                        Role::BlockRequest,
                        MUEN_REQUEST_CHANNEL_SIZE,
                        RW,
                    ),
                    (
                        names::BLOCK_RESPONSE_SUFFIX,
                        Role::BlockResponse,
                        MUEN_RESPONSE_CHANNEL_SIZE,
                        RO,
                    ),
                    (
                        names::BLOCK_BUFFER_SUFFIX,
                        Role::BlockBuffer,
                        MUEN_BUFFER_DEFAULT_SIZE,
                        RW,
                    ),
                ][..],
            ),
        ];
        for (mft_type, kinds) in channels {
            for dev in devices.iter().filter(|d| d.mft_type == mft_type) {
                for &(suffix, role, size, access) in kinds {
                    b.push(
                        format!("{}{suffix}", dev.name),
                        role,
                        Some(dev.handle),
                        va..va + size as u64,
                        access,
                        MemoryKind::SUBJECT_CHANNEL,
                    );
                    va += size as u64;
                }
            }
        }
        if va > LOW_REGIONS_END {
            return Err(ram_error(ram_size));
        }
        let fixed = [
            (
                names::SINFO,
                Role::Sinfo,
                SINFO_VA,
                SINFO_REGION_SIZE,
                RO,
                MemoryKind::SUBJECT_INFO,
            ),
            (
                names::SCHEDULING_INFO,
                Role::SchedulingInfo,
                SCHEDULING_INFO_VA,
                SCHEDULING_INFO_REGION_SIZE,
                RO,
                MemoryKind::SUBJECT_SCHEDULING_INFO,
            ),
            (
                names::TIMED_EVENT,
                Role::TimedEvent,
                TIMED_EVENT_VA,
                TIMED_EVENT_REGION_SIZE,
                RW,
                MemoryKind::SUBJECT_TIMED_EVENT,
            ),
            (
                names::TIME_INFO,
                Role::TimeInfo,
                TIME_INFO_VA,
                TIME_INFO_REGION_SIZE,
                RO,
                MemoryKind::SUBJECT_CHANNEL,
            ),
            (
                names::DEBUGLOG,
                Role::Debuglog,
                DEBUGLOG_VA,
                DEBUGLOG_REGION_SIZE,
                RW,
                MemoryKind::SUBJECT_CHANNEL,
            ),
        ];
        for (name, role, va, size, access, kind) in fixed {
            b.push(name.into(), role, None, va..va + size, access, kind);
        }
        Ok(Self {
            regions_gpa_end: b.next_gpa,
            regions: b.regions,
            ram_end,
            binary_end,
        })
    }

    /// The first region with `role`.
    pub fn region(&self, role: Role) -> &Region {
        self.regions
            .iter()
            .find(|r| r.role == role)
            .expect("every layout has the fixed regions")
    }

    /// The region of `role` for device `handle`.
    pub fn device_region(&self, role: Role, handle: usize) -> Option<&Region> {
        self.regions
            .iter()
            .find(|r| r.role == role && r.device == Some(handle))
    }

    /// The GPA of subject address `va`, if mapped.
    pub fn translate(&self, va: u64) -> Option<u64> {
        self.regions.iter().find_map(|r| r.translate(va))
    }

    /// Where each segment's file bytes go.
    pub fn binary_copies(&self, image: &ElfImage) -> Vec<BinaryCopy> {
        image
            .segments
            .iter()
            .filter_map(|seg| {
                let gpa = self.translate(seg.vaddr)?;
                let from = seg.file_offset as usize;
                Some(BinaryCopy {
                    gpa,
                    file: from..from + seg.filesz as usize,
                })
            })
            .collect()
    }
}

fn ram_error(ram_size: u64) -> TenderError {
    Error::RamTooSmall { ram_size }.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elf::{LoadSegment, SegmentProt};

    fn image() -> ElfImage {
        let seg = |start: u64, end: u64, write: bool, exec: bool| LoadSegment {
            vaddr: start,
            file_offset: 0x1000,
            filesz: 0x10,
            memsz: end - start,
            start,
            end,
            prot: SegmentProt {
                read: true,
                write,
                exec,
            },
        };
        ElfImage {
            entry: 0x20_0020,
            segments: vec![
                seg(0x20_0000, 0x20_6000, false, true),
                seg(0x20_6000, 0x20_8000, false, false),
                seg(0x20_8000, 0x20_9000, true, false),
            ],
            kernel_end: 0x20_9000,
            image_end: 0x20_e000,
        }
    }

    #[test]
    fn regions_follow_gencspec_and_the_policy() {
        let devices: Vec<SubjectDevice> = [
            ("service0", MFT_DEV_NET_BASIC),
            ("storage", MFT_DEV_BLOCK_BASIC),
            ("service1", MFT_DEV_NET_BASIC),
        ]
        .iter()
        .enumerate()
        .map(|(i, (name, mft_type))| SubjectDevice {
            handle: i + 1,
            name: name.to_string(),
            mft_type: *mft_type,
        })
        .collect();
        let layout = SubjectLayout::new(&image(), 0x2000_0000, &devices).unwrap();
        let got: Vec<(&str, u64, u64, bool, bool)> = layout
            .regions
            .iter()
            .map(|r| (r.name.as_str(), r.va, r.size, r.writable, r.executable))
            .collect();
        assert_eq!(
            got,
            vec![
                ("text", 0x20_0000, 0x6000, false, true),
                ("rodata", 0x20_6000, 0x2000, false, false),
                ("data", 0x20_8000, 0x1000, true, false),
                ("bss|fill", 0x20_9000, 0x5000, true, false),
                ("ram", 0x20_e000, 0x2000_0000, true, false),
                ("boot_info", 0x1000, 0x1000, false, false),
                // gencspec's addresses for test_net_2if (muen.md §4).
                ("service0|in", 0x2020_e000, 0x10_0000, false, false),
                ("service0|out", 0x2030_e000, 0x10_0000, true, false),
                ("service1|in", 0x2040_e000, 0x10_0000, false, false),
                ("service1|out", 0x2050_e000, 0x10_0000, true, false),
                ("storage|request", 0x2060_e000, 0x8000, true, false),
                ("storage|response", 0x2061_6000, 0x4000, false, false),
                ("storage|buffer", 0x2061_a000, 0x100_0000, true, false),
                ("sinfo", 0xe_0000_0000, 0x8000, false, false),
                ("scheduling_info", 0xe_0000_8000, 0x1000, false, false),
                ("timed_event", 0xe_0001_0000, 0x1000, true, false),
                ("time_info", 0xf_ffd0_0000, 0x1000, false, false),
                ("debuglog", 0xf_fff0_0000, 0x2_0000, true, false),
            ]
        );
        assert_eq!(layout.ram_end, 0x2020_e000);
        // Packed from GPA 0 in order, no overlaps.
        let mut gpa = 0;
        for r in &layout.regions {
            assert_eq!(r.gpa, gpa, "{}", r.name);
            gpa += r.size;
        }
        assert_eq!(layout.regions_gpa_end, gpa);
        assert_eq!(layout.translate(0x20_0020), Some(0x20));
        assert_eq!(layout.translate(0), None);
    }

    #[test]
    fn ram_that_reaches_the_fixed_pages_is_refused() {
        assert!(SubjectLayout::new(&image(), LOW_REGIONS_END, &[]).is_err());
    }
}
