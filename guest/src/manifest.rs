//! The manifest note of a Rust unikernel, built at compile time (C
//! unikernels get theirs from `solo5-elftool gen-manifest`).

pub use ringtender_abi::mft::{MFT_DEV_BLOCK_BASIC, MFT_DEV_NET_BASIC};

use ringtender_abi::elf_note::{MFT1_NOTE_TYPE, SOLO5_NOTE_NAME};
use ringtender_abi::mft::{MftEntry, MftHeader, MFT_NAME_SIZE, MFT_RESERVED_FIRST, MFT_VERSION};

/// The MFT1 note with `N` entries (entry 0 is the reserved one). Place it
/// with `#[link_section = ".note.solo5.manifest"] #[used]`.
#[repr(C, align(8))]
pub struct ManifestNote<const N: usize> {
    namesz: u32,
    descsz: u32,
    note_type: u32,
    name: [u8; 8],
    pad: u32,
    header: MftHeader,
    entries: [MftEntry; N],
}

const fn entry(name: &[u8], mft_type: u32) -> MftEntry {
    let mut e = MftEntry {
        name: [0; MFT_NAME_SIZE],
        mft_type,
        u: [0; 16],
        hostfd: 0,
        attached: 0,
        pad: [0; 7],
    };
    let mut i = 0;
    while i < name.len() && i < MFT_NAME_SIZE - 1 {
        e.name[i] = name[i];
        i += 1;
    }
    e
}

impl<const N: usize> ManifestNote<N> {
    /// A manifest with the reserved entry followed by `devices` (name, type);
    /// `devices.len()` must be `N - 1`.
    pub const fn new(devices: &[(&str, u32)]) -> Self {
        assert!(
            devices.len() + 1 == N,
            "N must be the number of devices plus one"
        );
        let mut entries = [entry(b"", MFT_RESERVED_FIRST); N];
        let mut i = 0;
        while i < devices.len() {
            entries[i + 1] = entry(devices[i].0.as_bytes(), devices[i].1);
            i += 1;
        }
        let mut name = [0u8; 8];
        let mut j = 0;
        while j < SOLO5_NOTE_NAME.len() {
            name[j] = SOLO5_NOTE_NAME[j];
            j += 1;
        }
        Self {
            namesz: SOLO5_NOTE_NAME.len() as u32,
            descsz: (4 + size_of::<MftHeader>() + N * size_of::<MftEntry>()) as u32,
            note_type: MFT1_NOTE_TYPE,
            name,
            pad: 0,
            header: MftHeader {
                version: MFT_VERSION,
                entries: N as u32,
            },
            entries,
        }
    }
}
