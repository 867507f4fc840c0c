//! The two pages that tell the subject about itself: the subject info page
//! (what `mugensinfo` writes for the policy of [`SubjectLayout`]) and the
//! Solo5 boot info (what `mugensolo5` writes: `ram`'s end, the binary's end,
//! the command line).

use ringtender_muen_compat::sinfo::layout::SINFO_SIZE;
use ringtender_muen_compat::sinfo::{MemoryFlags, MemoryRegion, SinfoFormat, SinfoWriter};
use ringtender_muen_compat::subject::{names, write_boot_info};

use super::Error;
use crate::error::TenderError;
use crate::guest_memory::GuestRam;
use crate::muen::layout::{Role, SubjectLayout};

/// The subject's name (Muen's Solo5 policy calls it "unikernel"; Solo5
/// seeds its MAC addresses with it).
pub const SUBJECT_NAME: &[u8] = b"unikernel";
/// Event number of "solo5_exit" when published (the mirage policy's vmcall id 0).
pub const EXIT_EVENT_NUMBER: u8 = 0;

/// The subject info page for `layout`: every region in policy order, then
/// the "solo5_exit" event if `exit_event`.
pub fn sinfo_page(
    layout: &SubjectLayout,
    format: SinfoFormat,
    tsc_khz: u32,
    exit_event: bool,
) -> Result<Box<[u8; SINFO_SIZE]>, TenderError> {
    let mut page = Box::new([0u8; SINFO_SIZE]);
    let mut writer =
        SinfoWriter::new(&mut page, format, SUBJECT_NAME, tsc_khz).map_err(Error::SubjectInfo)?;
    for region in &layout.regions {
        let mut flags = MemoryFlags::READ_ONLY.0;
        if region.writable {
            flags |= MemoryFlags::WRITABLE.0;
        }
        if region.executable {
            flags |= MemoryFlags::EXECUTABLE.0;
        }
        let mut memory = MemoryRegion::new(region.kind, region.va, region.size, MemoryFlags(flags));
        if region.role == Role::Binary {
            memory = if region.name.ends_with("|fill") {
                memory.filled(0)
            } else {
                memory.from_file()
            };
        }
        writer
            .add_memory(region.name.as_bytes(), memory)
            .map_err(Error::SubjectInfo)?;
    }
    if exit_event {
        writer
            .add_event(names::EXIT_EVENT.as_bytes(), EXIT_EVENT_NUMBER)
            .map_err(Error::SubjectInfo)?;
    }
    Ok(page)
}

/// Writes the boot info page for `layout` and the command line `cmdline`.
pub fn write_boot_page(
    ram: &GuestRam,
    layout: &SubjectLayout,
    cmdline: &str,
) -> Result<(), TenderError> {
    let region = layout.region(Role::BootInfo);
    let mut page = vec![0u8; region.size as usize];
    write_boot_info(
        &mut page,
        layout.ram_end,
        layout.binary_end - 1,
        cmdline.as_bytes(),
    )
    .map_err(Error::BootInfo)?;
    Ok(ram.setup_write(region.gpa, &page)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elf::ElfImage;
    use crate::rings::GuestRegion;
    use ringtender_muen_compat::sinfo::{ResourceKind, SinfoReader};
    use std::sync::Arc;

    #[test]
    fn sinfo_lists_every_region_by_name_with_its_rights() {
        let image = ElfImage {
            entry: 0x20_0000,
            segments: Vec::new(),
            kernel_end: 0x20_1000,
            image_end: 0x20_1000,
        };
        let layout = SubjectLayout::new(&image, 0x10_0000, &[]).unwrap();
        for (format, exit_event) in [(SinfoFormat::V05, true), (SinfoFormat::V04, false)] {
            let page = sinfo_page(&layout, format, 2_000_000, exit_event).unwrap();
            let ram = GuestRam::new(0x8000).unwrap();
            ram.setup_write(0, &page[..]).unwrap();
            let mem = GuestRegion::new(Arc::new(ram), 0, SINFO_SIZE);
            let reader = SinfoReader::new(mem).unwrap();
            assert_eq!(reader.format(), format);
            assert_eq!(reader.tsc_khz(), 2_000_000);
            assert_eq!(reader.resource_count(), 7 + usize::from(exit_event));
            let debuglog = reader.memory(b"debuglog").unwrap();
            assert_eq!(debuglog.address, 0xf_fff0_0000);
            assert!(debuglog.flags.writable());
            let ram = reader.memory(b"ram").unwrap();
            assert_eq!((ram.address, ram.size), (0x20_1000, 0x10_0000));
            assert!(!reader.memory(b"sinfo").unwrap().flags.writable());
            assert_eq!(
                reader.event(b"solo5_exit"),
                exit_event.then_some(EXIT_EVENT_NUMBER)
            );
            assert!(reader.find(b"ram", ResourceKind::Event).is_none());
        }
    }
}
