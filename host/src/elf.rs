//! ELF loading and Solo5 note reading, with upstream's acceptance rules.
//!
//! Everything works on the whole executable read into memory. The ELF header
//! and program headers are decoded with goblin; the checks on top of that are
//! Solo5's (`tenders/common/elf.c`): the same rules, in the same order, with
//! the same messages (`error.rs`). Upstream reads the file
//! with `pread`; where a read would come back short or fail, the same outcome
//! is computed from the buffer's length.

use goblin::container::{Container, Ctx, Endian};
use goblin::elf::header::{
    EI_CLASS, EI_DATA, EI_VERSION, ELFCLASS64, ELFDATA2LSB, ELFMAG, EM_X86_64, ET_EXEC, EV_CURRENT,
    SELFMAG,
};
use goblin::elf::program_header::{ProgramHeader, PF_R, PF_W, PF_X, PT_LOAD, PT_NOTE};
use goblin::elf64::header::Header;
use ringtender_abi::elf_note::{
    Abi1Descriptor, Ring3Descriptor, ABI1_NOTE_ALIGN, ABI1_NOTE_MAX_SIZE, ABI1_NOTE_TYPE,
    MFT1_NOTE_ALIGN, MFT1_NOTE_MAX_SIZE, MFT1_NOTE_TYPE, RING3_FLAG_CPL3, RING3_NOTE_TYPE,
    RING3_NOTE_VERSION, SOLO5_NOTE_HEADER_SIZE, SOLO5_NOTE_NAME,
};

use crate::manifest::Manifest;

mod error;

pub use error::{ElfError, Stage};

/// Size of an ELF64 file header.
const EHDR_SIZE: u64 = 64;
/// Size of an ELF64 program header.
const PHDR_SIZE: u64 = 56;
/// Size of a bare note header (`Elf64_Nhdr`).
const NHDR_SIZE: u64 = 12;
/// Architectural page size (x86_64).
const PAGE_SIZE: u64 = 0x1000;
/// What upstream prints for a `pread` that returned -1 (`%zu` of -1).
const PREAD_FAILED: u64 = u64::MAX;

/// Memory protection requested by a segment's `p_flags`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SegmentProt {
    /// `PF_R`.
    pub read: bool,
    /// `PF_W`.
    pub write: bool,
    /// `PF_X`.
    pub exec: bool,
}

/// One accepted `PT_LOAD` segment (one with file contents).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadSegment {
    /// `p_vaddr` (= guest physical address).
    pub vaddr: u64,
    /// `p_offset`; `file[file_offset..file_offset + filesz]` is in bounds.
    pub file_offset: u64,
    /// `p_filesz` (non-zero).
    pub filesz: u64,
    /// `p_memsz` (>= `filesz`); the rest is zero-filled.
    pub memsz: u64,
    /// `p_vaddr` aligned down to `p_align` (page aligned).
    pub start: u64,
    /// `p_vaddr + p_memsz` aligned up to `p_align` (page aligned).
    pub end: u64,
    /// Protection to apply to `start..end`.
    pub prot: SegmentProt,
}

/// An executable accepted for loading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfImage {
    /// `e_entry`.
    pub entry: u64,
    /// The segments to load, in file order.
    pub segments: Vec<LoadSegment>,
    /// Highest aligned end of the loaded segments (upstream's `kernel_end`);
    /// segments without file contents (`.bss`) do not count.
    pub kernel_end: u64,
    /// Page-aligned end of every `PT_LOAD` with a non-zero `p_memsz`, `.bss`
    /// included (`u64::MAX` if that overflows).
    pub image_end: u64,
}

/// Emulates `pread_in_full(count, offset)` on a regular file of `len` bytes:
/// `None` where the kernel refuses the offset (EINVAL), else the bytes read.
fn pread_len(len: usize, offset: u64, count: u64) -> Option<u64> {
    let max = i64::MAX as u64;
    if u128::from(offset) + u128::from(count) > u128::from(max) {
        return None;
    }
    let avail = (len as u64).saturating_sub(offset);
    Some(avail.min(count))
}

/// The slice `file[offset..offset + len]`; the caller has checked the bounds.
fn slice(file: &[u8], offset: u64, len: u64) -> &[u8] {
    &file[offset as usize..(offset + len) as usize]
}

/// Reads the ELF header and applies the acceptance rules (§4.1).
fn read_header(file: &[u8], stage: Stage) -> Result<Header, ElfError> {
    if (file.len() as u64) < EHDR_SIZE {
        return Err(ElfError::HeaderSize {
            read: file.len() as u64,
        });
    }
    let invalid = ElfError::InvalidHeader { stage };
    let ident = &file[..16];
    if &ident[..SELFMAG] != ELFMAG
        || ident[EI_CLASS] != ELFCLASS64
        || ident[EI_DATA] != ELFDATA2LSB
        || ident[EI_VERSION] != EV_CURRENT
    {
        return Err(invalid);
    }
    let header = Header::parse(&file[..EHDR_SIZE as usize]).map_err(|_| invalid.clone())?;
    if header.e_version != u32::from(EV_CURRENT)
        || u64::from(header.e_ehsize) != EHDR_SIZE
        || header.e_phnum < 1
        || u64::from(header.e_phentsize) != PHDR_SIZE
        || header.e_type != ET_EXEC
        || header.e_machine != EM_X86_64
    {
        return Err(invalid);
    }
    Ok(header)
}

/// Reads the program header table of an accepted header.
fn read_phdrs(file: &[u8], header: &Header, stage: Stage) -> Result<Vec<ProgramHeader>, ElfError> {
    let expected = u64::from(header.e_phnum) * PHDR_SIZE;
    let read = pread_len(file.len(), header.e_phoff, expected)
        .ok_or(ElfError::PhdrReadFailed { stage })?;
    if read != expected {
        return Err(ElfError::PhdrSize {
            read,
            expected,
            stage,
        });
    }
    let ctx = Ctx::new(Container::Big, Endian::Little);
    ProgramHeader::parse(
        file,
        header.e_phoff as usize,
        usize::from(header.e_phnum),
        ctx,
    )
    .map_err(|_| ElfError::PhdrSize {
        read: 0,
        expected,
        stage,
    })
}

/// How far into the file the tender reads, judged from what of `file` is
/// read so far (the rest zero): `Ok(n)` once the ELF header, program
/// headers and every `PT_LOAD` and `PT_NOTE` lie within the first `n`
/// bytes (those are all [`parse_image`] and [`find_note`] look at);
/// `Err(m)` when the first `m` bytes must be read before that can be told
/// (the program headers); `Ok(file.len())` for a file that is no valid ELF
/// (it is read whole, and the parser reports it as upstream does).
pub fn used_extent(file: &[u8], read: u64) -> Result<u64, u64> {
    let whole = file.len() as u64;
    if read < EHDR_SIZE.min(whole) {
        return Err(EHDR_SIZE.min(whole));
    }
    let Ok(header) = read_header(file, Stage::Load) else {
        return Ok(whole);
    };
    let table_end = header
        .e_phoff
        .saturating_add(u64::from(header.e_phnum) * PHDR_SIZE)
        .min(whole);
    if read < table_end {
        return Err(table_end);
    }
    let Ok(phdrs) = read_phdrs(file, &header, Stage::Load) else {
        return Ok(whole);
    };
    let used = phdrs
        .iter()
        .filter(|ph| ph.p_type == PT_LOAD || ph.p_type == PT_NOTE)
        .map(|ph| ph.p_offset.saturating_add(ph.p_filesz).min(whole))
        .fold(table_end, u64::max);
    Ok(used)
}

fn align_down(value: u64, align: u64) -> Option<u64> {
    align.is_power_of_two().then(|| value & !(align - 1))
}

fn align_up(value: u64, align: u64) -> Option<u64> {
    if !align.is_power_of_two() {
        return None;
    }
    value.checked_add(align - 1).map(|v| v & !(align - 1))
}

/// Checks an executable for loading into `mem_size` bytes of guest memory,
/// no segment below `min_load` (upstream `elf_load`, §4.2).
///
/// Nothing is copied: the caller copies each segment's file bytes to its
/// `vaddr` in zeroed guest memory and applies `prot` to `start..end`.
pub fn parse_image(file: &[u8], mem_size: u64, min_load: u64) -> Result<ElfImage, ElfError> {
    let header = read_header(file, Stage::Load)?;
    let entry = header.e_entry;
    if entry < min_load || entry >= mem_size {
        return Err(ElfError::EntryOutOfRange {
            entry,
            min_load,
            mem_size,
        });
    }
    let phdrs = read_phdrs(file, &header, Stage::Load)?;

    let mut segments = Vec::new();
    let mut e_end = 0u64;
    let mut last_vaddr = 0u64;
    for (i, ph) in phdrs.iter().enumerate() {
        // e_phnum is a u16, so is every index.
        let index = i as u16;
        if ph.p_type != PT_LOAD || ph.p_filesz == 0 {
            continue;
        }
        let (vaddr, filesz, memsz, align) = (ph.p_vaddr, ph.p_filesz, ph.p_memsz, ph.p_align);
        if vaddr < min_load {
            return Err(ElfError::VaddrBelowMin {
                index,
                vaddr,
                min_load,
            });
        }
        if vaddr < last_vaddr {
            return Err(ElfError::VaddrNotAscending {
                index,
                vaddr,
                previous: last_vaddr,
            });
        }
        last_vaddr = vaddr;
        let start = align_down(vaddr, align).ok_or(ElfError::BadAlign {
            index,
            vaddr,
            align,
        })?;
        if start < min_load {
            return Err(ElfError::StartBelowMin {
                index,
                start,
                min_load,
            });
        }
        if start < e_end {
            return Err(ElfError::Overlap {
                index,
                start,
                end: e_end,
            });
        }
        if vaddr >= mem_size {
            return Err(ElfError::FileSegmentStart {
                index,
                vaddr,
                mem_size,
            });
        }
        let file_end = vaddr
            .checked_add(filesz)
            .ok_or(ElfError::FileSegmentOverflow {
                index,
                vaddr,
                filesz,
            })?;
        if file_end > mem_size {
            return Err(ElfError::FileSegmentEnd {
                index,
                end: file_end,
                mem_size,
            });
        }
        if memsz < filesz {
            return Err(ElfError::MemszBelowFilesz {
                index,
                memsz,
                filesz,
            });
        }
        let mem_end = vaddr
            .checked_add(memsz)
            .ok_or(ElfError::MemSegmentOverflow {
                index,
                vaddr,
                memsz,
            })?;
        let end = align_up(mem_end, align).ok_or(ElfError::MemAlignUp {
            index,
            end: mem_end,
            align,
        })?;
        if end > mem_size {
            return Err(ElfError::MemSegmentEnd {
                index,
                end,
                mem_size,
            });
        }
        e_end = e_end.max(end);
        let read = pread_len(file.len(), ph.p_offset, filesz)
            .ok_or(ElfError::SegmentReadFailed { index })?;
        if read != filesz {
            return Err(ElfError::SegmentShort {
                index,
                read,
                filesz,
            });
        }
        if start & (PAGE_SIZE - 1) != 0 {
            return Err(ElfError::StartNotPageAligned { index, start });
        }
        if end & (PAGE_SIZE - 1) != 0 {
            return Err(ElfError::EndNotPageAligned { index, end });
        }
        let prot = SegmentProt {
            read: ph.p_flags & PF_R != 0,
            write: ph.p_flags & PF_W != 0,
            exec: ph.p_flags & PF_X != 0,
        };
        if prot.write && prot.exec {
            return Err(ElfError::WriteExec { index });
        }
        segments.push(LoadSegment {
            vaddr,
            file_offset: ph.p_offset,
            filesz,
            memsz,
            start,
            end,
            prot,
        });
    }

    let image_end = phdrs
        .iter()
        .filter(|ph| ph.p_type == PT_LOAD && ph.p_memsz != 0)
        .map(|ph| {
            ph.p_vaddr
                .checked_add(ph.p_memsz)
                .and_then(|e| align_up(e, PAGE_SIZE))
        })
        .try_fold(e_end, |acc, end| end.map(|e| acc.max(e)))
        .unwrap_or(u64::MAX);
    Ok(ElfImage {
        entry,
        segments,
        kernel_end: e_end,
        image_end,
    })
}

/// Finds the first Solo5 note of `note_type` (upstream `elf_load_note`, §4.3).
///
/// Only the note at the start of each `PT_NOTE` is looked at. Returns the
/// descriptor after `align` padding (`align` must be a non-zero power of two),
/// `Ok(None)` if there is no such note, or an error where upstream rejects
/// the executable.
pub fn find_note(
    file: &[u8],
    note_type: u32,
    align: usize,
    max_size: usize,
) -> Result<Option<&[u8]>, ElfError> {
    assert!(
        align.is_power_of_two(),
        "note alignment must be a power of two"
    );
    let header = read_header(file, Stage::Note)?;
    let phdrs = read_phdrs(file, &header, Stage::Note)?;
    let nhdr_size = SOLO5_NOTE_HEADER_SIZE as u64;
    for (i, ph) in phdrs.iter().enumerate() {
        let index = i as u16;
        if ph.p_type != PT_NOTE {
            continue;
        }
        if ph.p_filesz < NHDR_SIZE {
            return Err(ElfError::NoteSegmentTooSmall {
                index,
                filesz: ph.p_filesz,
            });
        }
        if ph.p_filesz < nhdr_size {
            continue;
        }
        let read = pread_len(file.len(), ph.p_offset, nhdr_size)
            .ok_or(ElfError::NoteHeaderReadFailed { index })?;
        if read != nhdr_size {
            return Err(ElfError::NoteHeaderShort { index, read });
        }
        let nhdr = slice(file, ph.p_offset, nhdr_size);
        let word =
            |at: usize| u32::from_le_bytes([nhdr[at], nhdr[at + 1], nhdr[at + 2], nhdr[at + 3]]);
        let (namesz, descsz, n_type) = (word(0), word(4), word(8));
        // Upstream compares the name with strncmp: bytes after the NUL do not matter.
        if namesz as usize != SOLO5_NOTE_NAME.len() || nhdr[12..18] != SOLO5_NOTE_NAME[..] {
            continue;
        }
        if n_type != note_type {
            continue;
        }
        if descsz < 1 || descsz as usize > max_size {
            return Err(ElfError::NoteDescSize {
                index,
                descsz,
                max: max_size as u64,
            });
        }
        let needed = nhdr_size + u64::from(descsz);
        if ph.p_filesz < needed {
            return Err(ElfError::NoteFileSize {
                index,
                filesz: ph.p_filesz,
                needed,
            });
        }
        let desc_offset = (nhdr_size).next_multiple_of(align as u64);
        let pad = desc_offset - nhdr_size;
        let size = u64::from(descsz).wrapping_sub(pad);
        if size == 0 || size > u64::from(descsz) {
            return Err(ElfError::NoteAlignedSize {
                index,
                size,
                descsz,
            });
        }
        let offset = ph
            .p_offset
            .checked_add(desc_offset)
            .ok_or(ElfError::NoteDataReadFailed { index })?;
        let read =
            pread_len(file.len(), offset, size).ok_or(ElfError::NoteDataReadFailed { index })?;
        if read != size {
            return Err(ElfError::NoteDataShort { index, read, size });
        }
        return Ok(Some(slice(file, offset, size)));
    }
    Ok(None)
}

/// Reads the ABI1 note. A descriptor shorter than 16 bytes reads as zeroes
/// past its end.
pub fn read_abi_note(file: &[u8]) -> Result<Abi1Descriptor, ElfError> {
    let desc = find_note(file, ABI1_NOTE_TYPE, ABI1_NOTE_ALIGN, ABI1_NOTE_MAX_SIZE)?.ok_or(
        ElfError::NotFound {
            note_type: ABI1_NOTE_TYPE,
        },
    )?;
    let mut raw = [0u8; size_of::<Abi1Descriptor>()];
    let n = desc.len().min(raw.len());
    raw[..n].copy_from_slice(&desc[..n]);
    Ok(bytemuck::pod_read_unaligned(&raw))
}

/// Reads and validates the MFT1 note (the tender's order: not found, then
/// invalid).
pub fn read_manifest(file: &[u8]) -> Result<Manifest, ElfError> {
    let desc = find_note(file, MFT1_NOTE_TYPE, MFT1_NOTE_ALIGN, MFT1_NOTE_MAX_SIZE)?.ok_or(
        ElfError::NotFound {
            note_type: MFT1_NOTE_TYPE,
        },
    )?;
    Manifest::from_note(desc).map_err(|_| ElfError::InvalidManifest)
}

/// True if the executable carries ringtender's ring-3 note (version 1 with
/// [`RING3_FLAG_CPL3`]). A malformed executable or note counts as absent.
pub fn has_ring3_note(file: &[u8]) -> bool {
    ring3_flags(file) & RING3_FLAG_CPL3 != 0
}

/// The flags of a valid RNG3 note (`RING3_FLAG_*`), or 0 without one.
pub fn ring3_flags(file: &[u8]) -> u32 {
    let size = size_of::<Ring3Descriptor>();
    match find_note(file, RING3_NOTE_TYPE, 4, size) {
        Ok(Some(desc)) if desc.len() == size => {
            let d: Ring3Descriptor = bytemuck::pod_read_unaligned(desc);
            if d.version == RING3_NOTE_VERSION && d.flags & RING3_FLAG_CPL3 != 0 {
                d.flags
            } else {
                0
            }
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests;
