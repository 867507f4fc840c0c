//! Why the ELF loader rejects an executable: [`ElfError`], whose
//! `Display` is upstream's message for each case (`tenders/common/elf.c`).

use std::fmt;

use ringtender_abi::elf_note::{ABI1_NOTE_TYPE, MFT1_NOTE_TYPE, SOLO5_NOTE_HEADER_SIZE};

use super::{EHDR_SIZE, NHDR_SIZE, PAGE_SIZE, PREAD_FAILED};

/// Which upstream routine a header error comes from; the messages differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// `elf_load`: loading the segments.
    Load,
    /// `elf_load_note`: looking for a note.
    Note,
}

impl Stage {
    fn as_str(self) -> &'static str {
        match self {
            Stage::Load => "elf",
            Stage::Note => "note",
        }
    }
}

/// Why an executable was rejected.
///
/// `Display` gives upstream's message without the leading `"<file>: "`,
/// which the caller adds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ElfError {
    /// The file is shorter than an ELF64 header.
    HeaderSize {
        /// Bytes available.
        read: u64,
    },
    /// The ELF header fails the acceptance rules (§4.1).
    InvalidHeader {
        /// Where the header was checked.
        stage: Stage,
    },
    /// The program header table starts beyond the largest file offset.
    PhdrReadFailed {
        /// Where the table was read.
        stage: Stage,
    },
    /// The program header table is cut short by the end of the file.
    PhdrSize {
        /// Bytes available.
        read: u64,
        /// Bytes wanted (`e_phnum * 56`).
        expected: u64,
        /// Where the table was read.
        stage: Stage,
    },
    /// `e_entry` is below the load base or not below the memory size.
    EntryOutOfRange {
        /// `e_entry`.
        entry: u64,
        /// Lowest load address.
        min_load: u64,
        /// Guest memory size.
        mem_size: u64,
    },
    /// A segment starts below the load base.
    VaddrBelowMin {
        /// Program header index.
        index: u16,
        /// `p_vaddr`.
        vaddr: u64,
        /// Lowest load address.
        min_load: u64,
    },
    /// Segments are not sorted by `p_vaddr`.
    VaddrNotAscending {
        /// Program header index.
        index: u16,
        /// `p_vaddr`.
        vaddr: u64,
        /// `p_vaddr` of the previous loaded segment.
        previous: u64,
    },
    /// `p_align` is not a non-zero power of two.
    BadAlign {
        /// Program header index.
        index: u16,
        /// `p_vaddr`.
        vaddr: u64,
        /// `p_align`.
        align: u64,
    },
    /// The aligned-down segment start is below the load base.
    StartBelowMin {
        /// Program header index.
        index: u16,
        /// Aligned start.
        start: u64,
        /// Lowest load address.
        min_load: u64,
    },
    /// The segment overlaps an earlier one.
    Overlap {
        /// Program header index.
        index: u16,
        /// Aligned start.
        start: u64,
        /// End of the segments so far.
        end: u64,
    },
    /// `p_vaddr` is not below the memory size.
    FileSegmentStart {
        /// Program header index.
        index: u16,
        /// `p_vaddr`.
        vaddr: u64,
        /// Guest memory size.
        mem_size: u64,
    },
    /// `p_vaddr + p_filesz` overflows.
    FileSegmentOverflow {
        /// Program header index.
        index: u16,
        /// `p_vaddr`.
        vaddr: u64,
        /// `p_filesz`.
        filesz: u64,
    },
    /// `p_vaddr + p_filesz` is beyond the memory size.
    FileSegmentEnd {
        /// Program header index.
        index: u16,
        /// `p_vaddr + p_filesz`.
        end: u64,
        /// Guest memory size.
        mem_size: u64,
    },
    /// `p_memsz < p_filesz`.
    MemszBelowFilesz {
        /// Program header index.
        index: u16,
        /// `p_memsz`.
        memsz: u64,
        /// `p_filesz`.
        filesz: u64,
    },
    /// `p_vaddr + p_memsz` overflows.
    MemSegmentOverflow {
        /// Program header index.
        index: u16,
        /// `p_vaddr`.
        vaddr: u64,
        /// `p_memsz`.
        memsz: u64,
    },
    /// Aligning `p_vaddr + p_memsz` up overflows.
    MemAlignUp {
        /// Program header index.
        index: u16,
        /// `p_vaddr + p_memsz`.
        end: u64,
        /// `p_align`.
        align: u64,
    },
    /// The aligned segment end is beyond the memory size.
    MemSegmentEnd {
        /// Program header index.
        index: u16,
        /// Aligned end.
        end: u64,
        /// Guest memory size.
        mem_size: u64,
    },
    /// The segment's file range starts beyond the largest file offset.
    SegmentReadFailed {
        /// Program header index.
        index: u16,
    },
    /// The segment's file contents are cut short by the end of the file.
    SegmentShort {
        /// Program header index.
        index: u16,
        /// Bytes available.
        read: u64,
        /// `p_filesz`.
        filesz: u64,
    },
    /// The aligned start is not page aligned.
    StartNotPageAligned {
        /// Program header index.
        index: u16,
        /// Aligned start.
        start: u64,
    },
    /// The aligned end is not page aligned.
    EndNotPageAligned {
        /// Program header index.
        index: u16,
        /// Aligned end.
        end: u64,
    },
    /// The segment is both writable and executable.
    WriteExec {
        /// Program header index.
        index: u16,
    },
    /// A `PT_NOTE` is smaller than a note header.
    NoteSegmentTooSmall {
        /// Program header index.
        index: u16,
        /// `p_filesz`.
        filesz: u64,
    },
    /// A note header starts beyond the largest file offset.
    NoteHeaderReadFailed {
        /// Program header index.
        index: u16,
    },
    /// A note header is cut short by the end of the file.
    NoteHeaderShort {
        /// Program header index.
        index: u16,
        /// Bytes available.
        read: u64,
    },
    /// `n_descsz` is 0 or above the limit for this note type.
    NoteDescSize {
        /// Program header index.
        index: u16,
        /// `n_descsz`.
        descsz: u32,
        /// Limit.
        max: u64,
    },
    /// The note does not fit in its `PT_NOTE`.
    NoteFileSize {
        /// Program header index.
        index: u16,
        /// `p_filesz`.
        filesz: u64,
        /// Header plus `n_descsz`.
        needed: u64,
    },
    /// The descriptor is smaller than its alignment padding (buggyelf).
    NoteAlignedSize {
        /// Program header index.
        index: u16,
        /// `n_descsz` minus the padding, wrapped as upstream computes it.
        size: u64,
        /// `n_descsz`.
        descsz: u32,
    },
    /// The descriptor starts beyond the largest file offset.
    NoteDataReadFailed {
        /// Program header index.
        index: u16,
    },
    /// The descriptor is cut short by the end of the file.
    NoteDataShort {
        /// Program header index.
        index: u16,
        /// Bytes available.
        read: u64,
        /// Bytes wanted.
        size: u64,
    },
    /// The executable has no Solo5 note of this type.
    NotFound {
        /// The `n_type` looked for.
        note_type: u32,
    },
    /// The manifest note fails validation (§3.3).
    InvalidManifest,
}

impl ElfError {
    /// True for [`ElfError::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, ElfError::NotFound { .. })
    }
}

const INV_EXE: &str = "invalid executable";

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ElfError::*;
        match *self {
            HeaderSize { read } => write!(
                f,
                "{INV_EXE}: elf header does not match the expected size ({read} != {EHDR_SIZE})"
            ),
            InvalidHeader { stage: Stage::Load } => write!(
                f,
                "invalid or unsupported executable (elf header invalid while loading elf)"
            ),
            InvalidHeader { stage: Stage::Note } => write!(
                f,
                "{INV_EXE}: invalid or unsupported executable (elf header invalid while loading note)"
            ),
            PhdrReadFailed { stage } => write!(
                f,
                "pread_in_full for ph_size returned {PREAD_FAILED} < 0 while loading {}",
                stage.as_str()
            ),
            PhdrSize { read, expected, stage } => write!(
                f,
                "{INV_EXE}: program header does not match the expected size ({read} != {expected} while loading {})",
                stage.as_str()
            ),
            EntryOutOfRange { entry, min_load, mem_size } => write!(
                f,
                "{INV_EXE}: e_entry does not fall within the memory allocation range ({entry} < {min_load} || {entry} >= {mem_size})"
            ),
            VaddrBelowMin { index, vaddr, min_load } => write!(
                f,
                "{INV_EXE}: phdr[{index}].p_vaddr outside of valid memory range ({vaddr} < {min_load})"
            ),
            VaddrNotAscending { index, vaddr, previous } => write!(
                f,
                "{INV_EXE}: phdr[{index}].p_vaddr is not in ascending order ({vaddr} < {previous})"
            ),
            BadAlign { index, vaddr, align } => write!(
                f,
                "{INV_EXE}: phdr[{index}].p_vaddr is outside of memory range (align_down with {vaddr} (p_vaddr) and {align} (p_align) failed)"
            ),
            StartBelowMin { index, start, min_load } => write!(
                f,
                "{INV_EXE}: phdr[{index}].p_vaddr_start is outside of memory range ({start} < {min_load} (p_min_loadaddr))"
            ),
            Overlap { index, start, end } => write!(
                f,
                "{INV_EXE}: phdr[{index}].p_vaddr_start is outside of memory range ({start} < {end} (e_end))"
            ),
            FileSegmentStart { index, vaddr, mem_size } => write!(
                f,
                "{INV_EXE}: phdr[{index}] program file segment falls outside of valid range ({vaddr} >= {mem_size} (mem_size))"
            ),
            FileSegmentOverflow { index, vaddr, filesz } => write!(
                f,
                "{INV_EXE}: phdr[{index}] program file segment falls outside of valid range ({vaddr} (p_vaddr) + {filesz} (p_filesz) overflow)"
            ),
            FileSegmentEnd { index, end, mem_size } => write!(
                f,
                "{INV_EXE}: phdr[{index}] program file segment falls outside of valid range ({end} (p_vaddr + p_filesz) > {mem_size} (mem_size))"
            ),
            MemszBelowFilesz { index, memsz, filesz } => write!(
                f,
                "{INV_EXE}: phdr[{index}] program memory segment falls outside of valid range ({memsz} (p_memsz) < {filesz} (p_filesz))"
            ),
            MemSegmentOverflow { index, vaddr, memsz } => write!(
                f,
                "{INV_EXE}: phdr[{index}] program memory segment falls outside of valid range ({vaddr} (p_vaddr) + {memsz} (p_memsz) overflow)"
            ),
            MemAlignUp { index, end, align } => write!(
                f,
                "{INV_EXE}: phdr[{index}] program memory segment falls outside of valid range (align_up with {end} (p_vaddr_end) and {align} (p_align) failed)"
            ),
            MemSegmentEnd { index, end, mem_size } => write!(
                f,
                "{INV_EXE}: phdr[{index}] program memory segment falls outside of valid range ({end} (p_vaddr + p_memsz) > {mem_size} (mem_size))"
            ),
            SegmentReadFailed { index } => {
                write!(f, "phdr[{index}] pread_in_full returned {PREAD_FAILED}")
            }
            SegmentShort { index, read, filesz } => write!(
                f,
                "phdr[{index}] host file segment mismatched (pread_in_full returned {read} != {filesz} (p_filesz))"
            ),
            StartNotPageAligned { index, start } => write!(
                f,
                "{INV_EXE}: phdr[{index}] p_vaddr_start not aligned with architectural page size ({start} & ({} - 1))",
                PAGE_SIZE - 1
            ),
            EndNotPageAligned { index, end } => write!(
                f,
                "{INV_EXE}: phdr[{index}] p_vaddr_end not aligned with architectural page size ({end} & ({} - 1))",
                PAGE_SIZE - 1
            ),
            WriteExec { index } => {
                write!(f, "{INV_EXE}: phdr[{index}] requests WRITE and EXEC permissions")
            }
            NoteSegmentTooSmall { index, filesz } => write!(
                f,
                "{INV_EXE}: phdr[{index}].p_filesz note does not fall within valid size ({filesz} < {NHDR_SIZE})"
            ),
            NoteHeaderReadFailed { index } => {
                write!(f, "phdr[{index}] pread_in_full returned {PREAD_FAILED}")
            }
            NoteHeaderShort { index, read } => write!(
                f,
                "phdr[{index}] bytes read mismatches note size ({read} != {SOLO5_NOTE_HEADER_SIZE})"
            ),
            NoteDescSize { index, descsz, max } => write!(
                f,
                "{INV_EXE}: phdr[{index}] note does not fall within valid size ({descsz} < 1 || {descsz} > {max})"
            ),
            NoteFileSize { index, filesz, needed } => write!(
                f,
                "{INV_EXE}: phdr[{index}] note does not fall within valid size ({filesz} < {needed})"
            ),
            // Upstream prints the macro's name here, not its value.
            NoteAlignedSize { index, size, descsz } => write!(
                f,
                "INV_EXE: phdr[{index}] note does not fall within valid size ({size} <= 0 || {size} > {descsz})"
            ),
            NoteDataReadFailed { index } => write!(
                f,
                "phdr[{index}] pread_in_full for note_data returned {PREAD_FAILED} < 0"
            ),
            NoteDataShort { index, read, size } => write!(
                f,
                "phdr[{index}] bytes read mismatches note size ({read} != {size})"
            ),
            NotFound { note_type: ABI1_NOTE_TYPE } => {
                write!(f, "No Solo5 ABI information found in executable")
            }
            NotFound { note_type: MFT1_NOTE_TYPE } => {
                write!(f, "No Solo5 manifest found in executable")
            }
            NotFound { note_type } => {
                write!(f, "No Solo5 note of type {note_type:#x} found in executable")
            }
            InvalidManifest => write!(f, "Solo5 manifest is invalid"),
        }
    }
}

impl std::error::Error for ElfError {}
