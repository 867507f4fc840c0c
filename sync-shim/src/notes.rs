//! The ELF notes and the fake interpreter every unikernel carries: ABI1
//! (hvt or spt, version 2; muen, version 4), our RNG3 (runs at CPL 3, speaks rings), the
//! OpenBSD ident note, and `.interp` so the host refuses to exec the file
//! directly.
//!
//! Both targets' ABI1 notes are here, in sections named after the target;
//! the linker script keeps the one of its target as `.note.solo5.abi` and
//! discards the other.

use ringtender_abi::elf_note::{
    Abi1Descriptor, AbiTarget, Ring3Descriptor, ABI1_NOTE_TYPE, RING3_FLAG_CPL3, RING3_FLAG_RINGS,
    RING3_NOTE_TYPE, RING3_NOTE_VERSION, SOLO5_NOTE_NAME,
};
use ringtender_abi::hvt::HVT_ABI_VERSION;
use ringtender_abi::spt::SPT_ABI_VERSION;
use ringtender_muen_compat::subject::MUEN_ABI_VERSION;

/// A note with an 8-byte name field and a descriptor `D`.
#[repr(C, align(4))]
struct Note<D> {
    namesz: u32,
    descsz: u32,
    note_type: u32,
    name: [u8; 8],
    desc: D,
}

const fn solo5_name() -> [u8; 8] {
    let mut name = [0u8; 8];
    let mut i = 0;
    while i < SOLO5_NOTE_NAME.len() {
        name[i] = SOLO5_NOTE_NAME[i];
        i += 1;
    }
    name
}

const fn abi1_note(target: AbiTarget, version: u32) -> Note<Abi1Descriptor> {
    Note {
        namesz: SOLO5_NOTE_NAME.len() as u32,
        descsz: size_of::<Abi1Descriptor>() as u32,
        note_type: ABI1_NOTE_TYPE,
        name: solo5_name(),
        desc: Abi1Descriptor {
            abi_target: target as u32,
            abi_version: version,
            reserved0: 0,
            reserved1: 0,
        },
    }
}

#[used]
#[link_section = ".note.solo5.abi.hvt"]
static ABI1_NOTE_HVT: Note<Abi1Descriptor> = abi1_note(AbiTarget::Hvt, HVT_ABI_VERSION);

#[used]
#[link_section = ".note.solo5.abi.spt"]
static ABI1_NOTE_SPT: Note<Abi1Descriptor> = abi1_note(AbiTarget::Spt, SPT_ABI_VERSION);

#[used]
#[link_section = ".note.solo5.abi.muen"]
static ABI1_NOTE_MUEN: Note<Abi1Descriptor> = abi1_note(AbiTarget::Muen, MUEN_ABI_VERSION);

/// The RNG3 descriptor as bytes: a note descriptor starts 4-aligned, right
/// after the name, so its u64 field must not pull in 8-byte alignment.
const fn ring3_descriptor(version: u32, flags: u32) -> [u8; size_of::<Ring3Descriptor>()] {
    let mut desc = [0u8; size_of::<Ring3Descriptor>()];
    let (v, f) = (version.to_le_bytes(), flags.to_le_bytes());
    let mut i = 0;
    while i < 4 {
        desc[i] = v[i];
        desc[4 + i] = f[i];
        i += 1;
    }
    desc
}

/// Our bindings run at CPL 3 and speak ringtender's rings: on hvt and spt
/// the tender's ring areas, on muen the ring API over Muen's channels with
/// readers that resynchronise after an overrun (`docs/guest-contract.md`).
const RING3_FLAGS: u32 = RING3_FLAG_CPL3 | RING3_FLAG_RINGS;

#[used]
#[link_section = ".note.ringtender.ring3"]
static RING3_NOTE: Note<[u8; size_of::<Ring3Descriptor>()]> = Note {
    namesz: SOLO5_NOTE_NAME.len() as u32,
    descsz: size_of::<Ring3Descriptor>() as u32,
    note_type: RING3_NOTE_TYPE,
    name: solo5_name(),
    desc: ring3_descriptor(RING3_NOTE_VERSION, RING3_FLAGS),
};

#[used]
#[link_section = ".note.solo5.not_openbsd"]
static OPENBSD_NOTE: Note<u32> = Note {
    namesz: 8,
    descsz: 4,
    note_type: 1,
    name: *b"OpenBSD\0",
    desc: 0,
};

#[used]
#[link_section = ".interp"]
static INTERP: [u8; 24] = *b"/nonexistent/solo5/\0\0\0\0\0";
