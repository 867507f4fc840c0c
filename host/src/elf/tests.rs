//! Acceptance rules on hand-built ELF images.

use super::*;

const MB: u64 = 0x10_0000;
const MEM: u64 = 512 * MB;
const PF_RW: u32 = PF_R | PF_W;

#[derive(Clone, Copy)]
struct Ph {
    p_type: u32,
    flags: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
    memsz: u64,
    align: u64,
}

fn load(flags: u32, offset: u64, vaddr: u64, filesz: u64, memsz: u64) -> Ph {
    Ph {
        p_type: PT_LOAD,
        flags,
        offset,
        vaddr,
        filesz,
        memsz,
        align: 0x1000,
    }
}

fn note_ph(offset: u64, filesz: u64) -> Ph {
    Ph {
        p_type: PT_NOTE,
        flags: PF_R,
        offset,
        vaddr: 0,
        filesz,
        memsz: filesz,
        align: 4,
    }
}

/// An ELF64 x86_64 ET_EXEC with `phs` at offset 64, padded to `len` bytes.
fn image(entry: u64, phs: &[Ph], len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len.max(64 + 56 * phs.len())];
    f[..4].copy_from_slice(b"\x7fELF");
    f[4] = 2; // ELFCLASS64
    f[5] = 1; // little endian
    f[6] = 1; // EV_CURRENT
    f[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    f[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    f[20..24].copy_from_slice(&1u32.to_le_bytes());
    f[24..32].copy_from_slice(&entry.to_le_bytes());
    f[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
    f[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
    f[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
    f[56..58].copy_from_slice(&(phs.len() as u16).to_le_bytes());
    f[58..60].copy_from_slice(&64u16.to_le_bytes()); // e_shentsize
    for (i, ph) in phs.iter().enumerate() {
        let o = 64 + 56 * i;
        f[o..o + 4].copy_from_slice(&ph.p_type.to_le_bytes());
        f[o + 4..o + 8].copy_from_slice(&ph.flags.to_le_bytes());
        f[o + 8..o + 16].copy_from_slice(&ph.offset.to_le_bytes());
        f[o + 16..o + 24].copy_from_slice(&ph.vaddr.to_le_bytes());
        f[o + 24..o + 32].copy_from_slice(&ph.vaddr.to_le_bytes());
        f[o + 32..o + 40].copy_from_slice(&ph.filesz.to_le_bytes());
        f[o + 40..o + 48].copy_from_slice(&ph.memsz.to_le_bytes());
        f[o + 48..o + 56].copy_from_slice(&ph.align.to_le_bytes());
    }
    f
}

/// A typical hvt layout: text (X), rodata (R), data (RW), empty tdata at 0,
/// bss-only segment.
fn typical() -> Vec<Ph> {
    vec![
        load(PF_X, 0x1000, MB, 0x5000, 0x5000),
        load(PF_R, 0x6000, MB + 0x5000, 0x2000, 0x2000),
        load(PF_RW, 0x8000, MB + 0x7000, 0x100, 0x1000),
        load(PF_R, 0x9000, 0, 0, 0),
        load(PF_RW, 0x9000, MB + 0x8000, 0, 0x20_3ca0),
    ]
}

fn parse(phs: &[Ph]) -> Result<ElfImage, ElfError> {
    parse_image(&image(MB, phs, 0xa000), MEM, MB)
}

fn msg(r: Result<ElfImage, ElfError>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn accepts_typical_layout() {
    let img = parse(&typical()).unwrap();
    assert_eq!(img.entry, MB);
    assert_eq!(img.segments.len(), 3);
    assert_eq!(img.kernel_end, MB + 0x8000);
    assert_eq!(
        img.image_end,
        (MB + 0x8000 + 0x20_3ca0).next_multiple_of(0x1000)
    );
    let text = &img.segments[0];
    assert_eq!(
        (text.start, text.end, text.file_offset, text.filesz),
        (MB, MB + 0x5000, 0x1000, 0x5000)
    );
    assert_eq!(
        text.prot,
        SegmentProt {
            read: false,
            write: false,
            exec: true
        }
    );
    let data = &img.segments[2];
    assert_eq!((data.memsz, data.end), (0x1000, MB + 0x8000));
    assert_eq!(
        data.prot,
        SegmentProt {
            read: true,
            write: true,
            exec: false
        }
    );
}

#[test]
fn header_rules() {
    let good = image(MB, &typical(), 0xa000);
    assert_eq!(
        msg(parse_image(&good[..63], MEM, MB)),
        "invalid executable: elf header does not match the expected size (63 != 64)"
    );
    let load_msg = "invalid or unsupported executable (elf header invalid while loading elf)";
    let note_msg =
        "invalid executable: invalid or unsupported executable (elf header invalid while loading note)";
    let patches: &[(usize, &[u8])] = &[
        (0, b"\x7fELG"),
        (4, &[1]),                   // ELFCLASS32
        (5, &[2]),                   // big endian
        (20, &2u32.to_le_bytes()),   // e_version
        (52, &52u16.to_le_bytes()),  // e_ehsize
        (56, &0u16.to_le_bytes()),   // e_phnum
        (54, &32u16.to_le_bytes()),  // e_phentsize
        (16, &3u16.to_le_bytes()),   // ET_DYN
        (16, &1u16.to_le_bytes()),   // ET_REL
        (18, &183u16.to_le_bytes()), // EM_AARCH64
        (18, &3u16.to_le_bytes()),   // EM_386
    ];
    for (at, bytes) in patches {
        let mut f = good.clone();
        f[*at..*at + bytes.len()].copy_from_slice(bytes);
        assert_eq!(msg(parse_image(&f, MEM, MB)), load_msg, "patch at {at}");
        assert_eq!(
            find_note(&f, ABI1_NOTE_TYPE, 4, 32)
                .unwrap_err()
                .to_string(),
            note_msg
        );
    }
    // EI_OSABI and EI_ABIVERSION are ignored.
    let mut f = good.clone();
    f[7] = 9;
    f[8] = 1;
    assert!(parse_image(&f, MEM, MB).is_ok());
}

#[test]
fn truncated_program_headers() {
    let f = image(MB, &typical(), 0);
    let cut = &f[..64 + 56 * 2 + 10];
    assert_eq!(
        msg(parse_image(cut, MEM, MB)),
        "invalid executable: program header does not match the expected size (122 != 280 while loading elf)"
    );
    let mut far = f.clone();
    far[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
    assert_eq!(
        msg(parse_image(&far, MEM, MB)),
        "pread_in_full for ph_size returned 18446744073709551615 < 0 while loading elf"
    );
    assert!(find_note(&far, ABI1_NOTE_TYPE, 4, 32)
        .unwrap_err()
        .to_string()
        .ends_with("while loading note"));
}

#[test]
fn entry_range() {
    let phs = typical();
    for entry in [0, MB - 1, MEM, u64::MAX] {
        let r = parse_image(&image(entry, &phs, 0xa000), MEM, MB);
        assert_eq!(
            r.unwrap_err(),
            ElfError::EntryOutOfRange {
                entry,
                min_load: MB,
                mem_size: MEM
            }
        );
    }
    assert_eq!(
        msg(parse_image(&image(0x1000, &phs, 0xa000), MEM, MB)),
        "invalid executable: e_entry does not fall within the memory allocation range (4096 < 1048576 || 4096 >= 536870912)"
    );
    assert!(parse_image(&image(MEM - 1, &phs, 0xa000), MEM, MB).is_ok());
}

#[test]
fn skips_empty_and_non_load_segments() {
    // Only file-backed PT_LOADs are checked: the vaddr-0 tdata and the bss
    // segment below would fail every rule otherwise.
    let mut phs = typical();
    phs.push(load(PF_RW | PF_X, 0, 5, 0, u64::MAX));
    phs.push(Ph {
        p_type: 7,
        flags: PF_RW | PF_X,
        offset: 0,
        vaddr: 1,
        filesz: 8,
        memsz: 8,
        align: 3,
    });
    assert_eq!(parse(&phs).unwrap().segments.len(), 3);
}

#[test]
fn segment_placement_rules() {
    let mut low = typical();
    low[0].vaddr = MB - 0x1000;
    assert_eq!(
        msg(parse(&low)),
        "invalid executable: phdr[0].p_vaddr outside of valid memory range (1044480 < 1048576)"
    );

    let mut desc = typical();
    desc.swap(0, 1);
    assert_eq!(
        parse(&desc).unwrap_err(),
        ElfError::VaddrNotAscending {
            index: 1,
            vaddr: MB,
            previous: MB + 0x5000
        }
    );

    for align in [0, 3, 0x1800] {
        let mut bad = typical();
        bad[1].align = align;
        assert_eq!(
            parse(&bad).unwrap_err(),
            ElfError::BadAlign {
                index: 1,
                vaddr: MB + 0x5000,
                align
            }
        );
    }

    let mut big_align = typical();
    big_align[0].align = 0x20_0000;
    assert_eq!(
        parse(&big_align).unwrap_err(),
        ElfError::StartBelowMin {
            index: 0,
            start: 0,
            min_load: MB
        }
    );

    // Overlap: rodata starts inside text's aligned end.
    let mut overlap = typical();
    overlap[1].vaddr = MB + 0x4000;
    assert_eq!(
        parse(&overlap).unwrap_err(),
        ElfError::Overlap {
            index: 1,
            start: MB + 0x4000,
            end: MB + 0x5000
        }
    );
    assert_eq!(
        msg(parse(&overlap)),
        "invalid executable: phdr[1].p_vaddr_start is outside of memory range (1064960 < 1069056 (e_end))"
    );
    // Overlap through alignment: data aligned down into rodata.
    let mut overlap = typical();
    overlap[2].vaddr = MB + 0x7000 - 0x10;
    overlap[2].align = 0x2000;
    assert!(matches!(
        parse(&overlap).unwrap_err(),
        ElfError::Overlap { index: 2, .. }
    ));
}

#[test]
fn segment_size_rules() {
    let mut beyond = typical();
    beyond[2].vaddr = MEM;
    assert_eq!(
        parse(&beyond).unwrap_err(),
        ElfError::FileSegmentStart {
            index: 2,
            vaddr: MEM,
            mem_size: MEM
        }
    );

    let mut file_end = typical();
    file_end[2].vaddr = MEM - 0x80;
    assert_eq!(
        parse(&file_end).unwrap_err(),
        ElfError::FileSegmentEnd {
            index: 2,
            end: MEM + 0x80,
            mem_size: MEM
        }
    );

    let mut huge = typical();
    huge[2].filesz = u64::MAX;
    let r = parse_image(&image(MB, &huge, 0xa000), u64::MAX, MB);
    assert_eq!(
        r.unwrap_err(),
        ElfError::FileSegmentOverflow {
            index: 2,
            vaddr: MB + 0x7000,
            filesz: u64::MAX
        }
    );

    let mut shrunk = typical();
    shrunk[2].memsz = 0x80;
    assert_eq!(
        parse(&shrunk).unwrap_err(),
        ElfError::MemszBelowFilesz {
            index: 2,
            memsz: 0x80,
            filesz: 0x100
        }
    );

    let mut mem_over = typical();
    mem_over[2].memsz = u64::MAX - 0x1000;
    let r = parse_image(&image(MB, &mem_over, 0xa000), u64::MAX, MB);
    assert!(matches!(
        r.unwrap_err(),
        ElfError::MemSegmentOverflow { index: 2, .. }
    ));

    let mut align_over = typical();
    align_over[2].memsz = u64::MAX - (MB + 0x7000) - 1;
    let r = parse_image(&image(MB, &align_over, 0xa000), u64::MAX, MB);
    assert_eq!(
        r.unwrap_err(),
        ElfError::MemAlignUp {
            index: 2,
            end: u64::MAX - 1,
            align: 0x1000
        }
    );

    // Oversized: the segment's memory does not fit in guest memory.
    let mut oversized = typical();
    oversized[2].memsz = MEM;
    assert_eq!(
        msg(parse(&oversized)),
        format!(
            "invalid executable: phdr[2] program memory segment falls outside of valid range ({} (p_vaddr + p_memsz) > {MEM} (mem_size))",
            MB + 0x7000 + MEM
        )
    );
}

#[test]
fn file_contents_must_be_present() {
    let phs = typical();
    let f = image(MB, &phs, 0x8080);
    assert_eq!(
        msg(parse_image(&f, MEM, MB)),
        "phdr[2] host file segment mismatched (pread_in_full returned 128 != 256 (p_filesz))"
    );
    let mut far = phs.clone();
    far[1].offset = 1 << 63;
    assert_eq!(
        msg(parse(&far)),
        "phdr[1] pread_in_full returned 18446744073709551615"
    );
    let mut past = phs.clone();
    past[1].offset = 1 << 40;
    assert_eq!(
        parse(&past).unwrap_err(),
        ElfError::SegmentShort {
            index: 1,
            read: 0,
            filesz: 0x2000
        }
    );
}

#[test]
fn page_alignment() {
    let mut small = typical();
    small[2].align = 0x10;
    small[2].vaddr = MB + 0x7010;
    assert_eq!(
        msg(parse(&small)),
        "invalid executable: phdr[2] p_vaddr_start not aligned with architectural page size (1077264 & (4095 - 1))"
    );
    let mut end = typical();
    end[2].align = 0x10;
    assert!(parse(&end).is_ok());
    end[2].memsz = 0x800;
    assert_eq!(
        parse(&end).unwrap_err(),
        ElfError::EndNotPageAligned {
            index: 2,
            end: MB + 0x7800
        }
    );
}

#[test]
fn write_exec_rejected() {
    let mut wx = typical();
    wx[2].flags = PF_R | PF_W | PF_X;
    assert_eq!(
        msg(parse(&wx)),
        "invalid executable: phdr[2] requests WRITE and EXEC permissions"
    );
}

/// Writes a Solo5 note header at `at`.
fn put_note(f: &mut [u8], at: usize, namesz: u32, descsz: u32, n_type: u32, name: &[u8]) {
    f[at..at + 4].copy_from_slice(&namesz.to_le_bytes());
    f[at + 4..at + 8].copy_from_slice(&descsz.to_le_bytes());
    f[at + 8..at + 12].copy_from_slice(&n_type.to_le_bytes());
    f[at + 12..at + 12 + name.len()].copy_from_slice(name);
}

/// text + one PT_NOTE per `(offset, filesz)`.
fn with_notes(notes: &[(u64, u64)]) -> Vec<u8> {
    let mut phs = vec![load(PF_X, 0x1000, MB, 0x1000, 0x1000)];
    phs.extend(notes.iter().map(|&(o, s)| note_ph(o, s)));
    image(MB, &phs, 0x3000)
}

fn abi_image() -> Vec<u8> {
    let mut f = with_notes(&[(0x2000, 36), (0x2100, 20 + 4 + 8 + 104)]);
    put_note(&mut f, 0x2000, 6, 16, ABI1_NOTE_TYPE, b"Solo5\0\0\0");
    f[0x2014..0x2018].copy_from_slice(&1u32.to_le_bytes());
    f[0x2018..0x201c].copy_from_slice(&2u32.to_le_bytes());
    put_note(
        &mut f,
        0x2100,
        6,
        4 + 8 + 104,
        MFT1_NOTE_TYPE,
        b"Solo5\0\0\0",
    );
    let at = 0x2100 + 24;
    f[at..at + 4].copy_from_slice(&1u32.to_le_bytes());
    f[at + 4..at + 8].copy_from_slice(&1u32.to_le_bytes());
    f[at + 8 + 68..at + 8 + 72].copy_from_slice(&(1u32 << 30).to_le_bytes());
    f
}

#[test]
fn reads_abi_and_manifest_notes() {
    let f = abi_image();
    let abi = read_abi_note(&f).unwrap();
    assert_eq!((abi.abi_target, abi.abi_version), (1, 2));
    let desc = find_note(&f, MFT1_NOTE_TYPE, 8, 6668).unwrap().unwrap();
    assert_eq!(desc.len(), 8 + 104);
    assert_eq!(read_manifest(&f).unwrap().entries().len(), 1);
    assert_eq!(find_note(&f, 0x1234, 4, 32), Ok(None));
    assert!(!has_ring3_note(&f));
}

#[test]
fn invalid_manifest_note() {
    let mut f = abi_image();
    f[0x2100 + 24] = 2; // version
    assert_eq!(
        read_manifest(&f).unwrap_err().to_string(),
        "Solo5 manifest is invalid"
    );
}

#[test]
fn missing_notes() {
    let f = with_notes(&[]);
    assert_eq!(
        read_abi_note(&f).unwrap_err().to_string(),
        "No Solo5 ABI information found in executable"
    );
    let e = read_manifest(&f).unwrap_err();
    assert!(e.is_not_found());
    assert_eq!(e.to_string(), "No Solo5 manifest found in executable");
    assert!(!has_ring3_note(&f));
}

#[test]
fn foreign_and_short_notes_are_skipped() {
    // 12..19 bytes: skipped; other names or types: skipped.
    let mut f = with_notes(&[(0x2000, 19), (0x2040, 24), (0x2080, 36), (0x20c0, 36)]);
    put_note(&mut f, 0x2040, 8, 4, ABI1_NOTE_TYPE, b"OpenBSD\0");
    put_note(&mut f, 0x2080, 6, 16, ABI1_NOTE_TYPE, b"Solo6\0\0\0");
    put_note(&mut f, 0x20c0, 5, 16, ABI1_NOTE_TYPE, b"Solo5\0\0\0");
    assert_eq!(find_note(&f, ABI1_NOTE_TYPE, 4, 32), Ok(None));
    // Bytes after the name's NUL are not compared.
    put_note(&mut f, 0x20c0, 6, 16, ABI1_NOTE_TYPE, b"Solo5\0xy");
    assert_eq!(
        find_note(&f, ABI1_NOTE_TYPE, 4, 32).unwrap().unwrap().len(),
        16
    );
}

#[test]
fn note_segment_smaller_than_header_rejects() {
    let f = with_notes(&[(0x2000, 11)]);
    assert_eq!(
        find_note(&f, ABI1_NOTE_TYPE, 4, 32)
            .unwrap_err()
            .to_string(),
        "invalid executable: phdr[1].p_filesz note does not fall within valid size (11 < 12)"
    );
}

#[test]
fn note_size_rules() {
    let mut f = with_notes(&[(0x2000, 36)]);
    put_note(&mut f, 0x2000, 6, 0, ABI1_NOTE_TYPE, b"Solo5\0\0\0");
    assert_eq!(
        find_note(&f, ABI1_NOTE_TYPE, 4, 32)
            .unwrap_err()
            .to_string(),
        "invalid executable: phdr[1] note does not fall within valid size (0 < 1 || 0 > 32)"
    );
    put_note(&mut f, 0x2000, 6, 33, ABI1_NOTE_TYPE, b"Solo5\0\0\0");
    assert_eq!(
        find_note(&f, ABI1_NOTE_TYPE, 4, 32).unwrap_err(),
        ElfError::NoteDescSize {
            index: 1,
            descsz: 33,
            max: 32
        }
    );
    put_note(&mut f, 0x2000, 6, 20, ABI1_NOTE_TYPE, b"Solo5\0\0\0");
    assert_eq!(
        find_note(&f, ABI1_NOTE_TYPE, 4, 32)
            .unwrap_err()
            .to_string(),
        "invalid executable: phdr[1] note does not fall within valid size (36 < 40)"
    );
}

#[test]
fn buggyelf_descsz_smaller_than_padding() {
    let mut f = with_notes(&[(0x2000, 24)]);
    put_note(&mut f, 0x2000, 6, 1, MFT1_NOTE_TYPE, b"Solo5\0\0\0");
    let e = read_manifest(&f).unwrap_err();
    assert_eq!(
        e.to_string(),
        "INV_EXE: phdr[1] note does not fall within valid size (18446744073709551613 <= 0 || 18446744073709551613 > 1)"
    );
    assert!(e
        .to_string()
        .contains("note does not fall within valid size"));
    // With 4-byte alignment the same note is fine.
    assert_eq!(
        find_note(&f, MFT1_NOTE_TYPE, 4, 6668)
            .unwrap()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn note_reads_beyond_file() {
    let mut f = with_notes(&[(0x2ff0, 36)]);
    assert_eq!(
        find_note(&f, ABI1_NOTE_TYPE, 4, 32)
            .unwrap_err()
            .to_string(),
        "phdr[1] bytes read mismatches note size (16 != 20)"
    );
    f.resize(0x3000 + 8, 0);
    put_note(&mut f, 0x2ff0, 6, 16, ABI1_NOTE_TYPE, b"Solo5\0\0\0");
    assert_eq!(
        find_note(&f, ABI1_NOTE_TYPE, 4, 32).unwrap_err(),
        ElfError::NoteDataShort {
            index: 1,
            read: 4,
            size: 16
        }
    );
    let far = with_notes(&[(1 << 63, 36)]);
    assert_eq!(
        find_note(&far, ABI1_NOTE_TYPE, 4, 32)
            .unwrap_err()
            .to_string(),
        "phdr[1] pread_in_full returned 18446744073709551615"
    );
}

#[test]
fn short_abi_descriptor_reads_as_zeroes() {
    let mut f = with_notes(&[(0x2000, 24)]);
    put_note(&mut f, 0x2000, 6, 4, ABI1_NOTE_TYPE, b"Solo5\0\0\0");
    f[0x2014] = 1;
    let abi = read_abi_note(&f).unwrap();
    assert_eq!((abi.abi_target, abi.abi_version), (1, 0));
}

#[test]
fn ring3_note() {
    let mut f = with_notes(&[(0x2000, 36)]);
    put_note(&mut f, 0x2000, 6, 16, RING3_NOTE_TYPE, b"Solo5\0\0\0");
    f[0x2014] = 1;
    f[0x2018] = 1;
    assert!(has_ring3_note(&f));
    f[0x2018] = 2; // flag missing
    assert!(!has_ring3_note(&f));
    f[0x2018] = 1;
    f[0x2014] = 2; // unknown version
    assert!(!has_ring3_note(&f));
}

#[test]
fn hostile_inputs_do_not_panic() {
    let base = abi_image();
    let mut state = 0x1234_5678_9abc_def0u64;
    for _ in 0..4000 {
        let mut f = base.clone();
        for _ in 0..4 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let at = (state as usize) % 0x200.min(f.len());
            f[at] = (state >> 32) as u8;
        }
        let at = 0x2000 + (state as usize >> 40) % 0x200;
        f[at] ^= 0xff;
        let _ = parse_image(&f, MEM, MB);
        let _ = parse_image(&f, u64::MAX, 0);
        let _ = read_abi_note(&f);
        let _ = read_manifest(&f);
        let _ = has_ring3_note(&f);
        let cut = (state >> 20) as usize % f.len();
        let _ = parse_image(&f[..cut], MEM, MB);
        let _ = read_manifest(&f[..cut]);
    }
}

#[test]
fn used_extent_ends_at_the_furthest_segment_or_note() {
    let mut phs = typical();
    phs.push(note_ph(0x8100, 0x40));
    let table_end = 64 + 56 * phs.len() as u64;
    // A tail after the last segment, as debug information would be.
    let mut f = image(MB, &phs, 0x2_0000);
    f[0x9000..].fill(0xee);
    assert_eq!(used_extent(&f, 0), Err(64));
    assert_eq!(used_extent(&f, 64), Err(table_end));
    assert_eq!(used_extent(&f, table_end), Ok(0x9000));
    // What the tender parses from that prefix is what the whole file gives.
    let mut prefix = f.clone();
    prefix[0x9000..].fill(0);
    assert_eq!(parse_image(&prefix, MEM, MB), parse_image(&f, MEM, MB));
    assert_eq!(
        find_note(&prefix, 1, 4, 64).map_err(|e| e.to_string()),
        find_note(&f, 1, 4, 64).map_err(|e| e.to_string())
    );
    // A segment past the end of the file: read to the end, no further.
    phs.push(load(PF_R, 0x1_f000, MB + 0x30_0000, 0x4000, 0x4000));
    let f = image(MB, &phs, 0x2_0000);
    assert_eq!(used_extent(&f, 0x2_0000), Ok(0x2_0000));
    // Not an ELF file: read whole, for the parser to reject.
    assert_eq!(used_extent(&[7u8; 100], 100), Ok(100));
    assert_eq!(used_extent(&[7u8; 10], 0), Err(10));
}
