//! The ELF loader and the Solo5 notes: what the tenders and
//! `solo5-elftool query-abi`/`query-manifest` read from an executable.

use ringtender_abi::elf_note::{MFT1_NOTE_ALIGN, MFT1_NOTE_MAX_SIZE, MFT1_NOTE_TYPE};
use ringtender_host::elf;

/// Guest memory the loader checks against (hvt's smallest `--mem`).
const MEM_SIZE: u64 = 2 << 20;
/// Lowest load address (hvt's and spt's guest minimum base).
const MIN_LOAD: u64 = 0x10_0000;
const PAGE: u64 = 0x1000;

/// Runs every reader of executables on `data`: the loader's checks, the
/// ABI1, MFT1 and RNG3 notes. An accepted image must be loadable as the
/// tenders load it: every segment's file bytes inside `data`, every segment
/// inside guest memory above `MIN_LOAD`, page aligned and not overlapping.
pub fn run(data: &[u8]) {
    // The error texts are the tenders' messages: format them all.
    let _ = elf::read_abi_note(data).map_err(|e| e.to_string());
    let _ = elf::read_manifest(data).map_err(|e| e.to_string());
    let _ = elf::find_note(data, MFT1_NOTE_TYPE, MFT1_NOTE_ALIGN, MFT1_NOTE_MAX_SIZE)
        .map(|desc| assert!(desc.is_none_or(|d| d.len() <= MFT1_NOTE_MAX_SIZE)));
    let _ = elf::has_ring3_note(data);
    let image = match elf::parse_image(data, MEM_SIZE, MIN_LOAD) {
        Ok(image) => image,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    assert!((MIN_LOAD..MEM_SIZE).contains(&image.entry));
    let mut previous_end = MIN_LOAD;
    for seg in &image.segments {
        let file_end = seg.file_offset.checked_add(seg.filesz).unwrap();
        assert!(file_end <= data.len() as u64, "file bytes inside the file");
        assert!(seg.filesz > 0 && seg.filesz <= seg.memsz);
        assert!(seg.start <= seg.vaddr && seg.vaddr + seg.memsz <= seg.end);
        assert!(seg.start >= previous_end, "segments ascend without overlap");
        assert!(seg.end <= MEM_SIZE, "inside guest memory");
        assert_eq!(seg.start % PAGE, 0);
        assert_eq!(seg.end % PAGE, 0);
        assert!(!(seg.prot.write && seg.prot.exec));
        previous_end = seg.end;
    }
    assert!(image.kernel_end <= MEM_SIZE);
    assert!(image.image_end >= image.kernel_end);
}
