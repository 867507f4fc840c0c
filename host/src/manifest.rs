//! The application manifest: validation of the MFT1 note (§3.3), device
//! lookup, and the binary form copied into guest memory.

use std::fmt;

use ringtender_abi::mft::{
    mft_size, MftEntry, MftHeader, MFT_MAX_ENTRIES, MFT_NAME_MAX, MFT_NAME_SIZE,
    MFT_RESERVED_FIRST, MFT_VERSION,
};

/// Why a manifest was rejected (upstream gives no detail; neither do we).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ManifestError;

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Solo5 manifest is invalid")
    }
}

impl std::error::Error for ManifestError {}

/// A validated manifest: entry 0 is the reserved entry, devices follow.
#[derive(Clone, Debug)]
pub struct Manifest {
    entries: Vec<MftEntry>,
}

const HEADER_SIZE: usize = size_of::<MftHeader>();
const ENTRY_SIZE: usize = size_of::<MftEntry>();

impl Manifest {
    /// Validates the MFT1 note descriptor (`struct mft`, after the padding)
    /// with upstream's rules (`mft_validate`).
    pub fn from_note(desc: &[u8]) -> Result<Manifest, ManifestError> {
        if desc.len() < HEADER_SIZE {
            return Err(ManifestError);
        }
        let header: MftHeader = bytemuck::pod_read_unaligned(&desc[..HEADER_SIZE]);
        if header.version != MFT_VERSION {
            return Err(ManifestError);
        }
        let count = header.entries as usize;
        if count > MFT_MAX_ENTRIES || desc.len() != mft_size(count) || count < 1 {
            return Err(ManifestError);
        }
        let entries: Vec<MftEntry> = desc[HEADER_SIZE..]
            .chunks_exact(ENTRY_SIZE)
            .map(bytemuck::pod_read_unaligned)
            .collect();
        if entries[0].mft_type != MFT_RESERVED_FIRST || entries[0].name[0] != 0 {
            return Err(ManifestError);
        }
        if entries
            .iter()
            .any(|e| e.name[MFT_NAME_MAX] != 0 || e.attached != 0)
        {
            return Err(ManifestError);
        }
        Ok(Manifest { entries })
    }

    /// All entries, the reserved entry 0 included.
    pub fn entries(&self) -> &[MftEntry] {
        &self.entries
    }

    /// All entries, for the tender to fill in.
    pub fn entries_mut(&mut self) -> &mut [MftEntry] {
        &mut self.entries
    }

    /// Index of the first entry of `mft_type` named `name` (compared as C
    /// strings over at most 68 bytes).
    pub fn find_by_name(&self, name: &str, mft_type: u32) -> Option<usize> {
        let wanted = c_prefix(name.as_bytes());
        self.entries
            .iter()
            .position(|e| e.mft_type == mft_type && c_prefix(&e.name) == wanted)
    }

    /// The entry at `index` if it exists and is of `mft_type`.
    pub fn get_by_index(&self, index: usize, mft_type: u32) -> Option<&MftEntry> {
        self.entries.get(index).filter(|e| e.mft_type == mft_type)
    }

    /// Mutable form of [`Manifest::get_by_index`].
    pub fn get_by_index_mut(&mut self, index: usize, mft_type: u32) -> Option<&mut MftEntry> {
        self.entries
            .get_mut(index)
            .filter(|e| e.mft_type == mft_type)
    }

    /// The binary form (`struct mft`), as copied into guest memory.
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = MftHeader {
            version: MFT_VERSION,
            entries: self.entries.len() as u32,
        };
        let mut out = Vec::with_capacity(mft_size(self.entries.len()));
        out.extend_from_slice(bytemuck::bytes_of(&header));
        for e in &self.entries {
            out.extend_from_slice(bytemuck::bytes_of(e));
        }
        out
    }
}

/// `s` up to its first NUL and at most [`MFT_NAME_SIZE`] bytes, as `strncmp`
/// sees it.
fn c_prefix(s: &[u8]) -> &[u8] {
    let s = &s[..s.len().min(MFT_NAME_SIZE)];
    let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringtender_abi::mft::{MFT_DEV_BLOCK_BASIC, MFT_DEV_NET_BASIC};

    fn entry(name: &str, mft_type: u32) -> MftEntry {
        let mut e: MftEntry = bytemuck::Zeroable::zeroed();
        e.name[..name.len()].copy_from_slice(name.as_bytes());
        e.mft_type = mft_type;
        e
    }

    fn build(version: u32, count: u32, entries: &[MftEntry]) -> Vec<u8> {
        let mut v = bytemuck::bytes_of(&MftHeader {
            version,
            entries: count,
        })
        .to_vec();
        for e in entries {
            v.extend_from_slice(bytemuck::bytes_of(e));
        }
        v
    }

    fn good() -> Vec<MftEntry> {
        vec![
            entry("", MFT_RESERVED_FIRST),
            entry("net0", MFT_DEV_NET_BASIC),
            entry("disk", MFT_DEV_BLOCK_BASIC),
        ]
    }

    #[test]
    fn accepts_valid_and_round_trips() {
        let bytes = build(1, 3, &good());
        let m = Manifest::from_note(&bytes).unwrap();
        assert_eq!(m.entries().len(), 3);
        assert_eq!(m.to_bytes(), bytes);
        assert_eq!(m.find_by_name("disk", MFT_DEV_BLOCK_BASIC), Some(2));
        assert_eq!(m.find_by_name("disk", MFT_DEV_NET_BASIC), None);
        assert_eq!(m.find_by_name("dis", MFT_DEV_BLOCK_BASIC), None);
        assert!(m.get_by_index(1, MFT_DEV_NET_BASIC).is_some());
        assert!(m.get_by_index(1, MFT_DEV_BLOCK_BASIC).is_none());
        assert!(m.get_by_index(3, MFT_DEV_BLOCK_BASIC).is_none());
    }

    #[test]
    fn entries_mut_changes_binary_form() {
        let mut m = Manifest::from_note(&build(1, 3, &good())).unwrap();
        m.entries_mut()[1].attached = 1;
        m.entries_mut()[1].set_net_mtu(1500);
        let bytes = m.to_bytes();
        assert_eq!(bytes[8 + 104 + 96], 1);
        assert_eq!(&bytes[8 + 104 + 78..8 + 104 + 80], &1500u16.to_le_bytes());
    }

    #[test]
    fn rejects_each_rule() {
        let e = good();
        // Too short for the header.
        assert!(Manifest::from_note(&[1, 0, 0, 0]).is_err());
        // Wrong version.
        assert!(Manifest::from_note(&build(2, 3, &e)).is_err());
        // More than 64 entries.
        let many = vec![entry("", MFT_RESERVED_FIRST); 65];
        assert_eq!(
            Manifest::from_note(&build(1, 65, &many)).unwrap_err(),
            ManifestError
        );
        let mut max = vec![entry("", MFT_RESERVED_FIRST)];
        max.extend((1..64).map(|i| entry(&format!("d{i}"), MFT_DEV_BLOCK_BASIC)));
        assert!(Manifest::from_note(&build(1, 64, &max)).is_ok());
        // Size mismatch either way.
        assert!(Manifest::from_note(&build(1, 2, &e)).is_err());
        assert!(Manifest::from_note(&build(1, 4, &e)).is_err());
        // No entries.
        assert!(Manifest::from_note(&build(1, 0, &[])).is_err());
        // Entry 0 not reserved, or named.
        assert!(Manifest::from_note(&build(1, 1, &[entry("", MFT_DEV_NET_BASIC)])).is_err());
        assert!(Manifest::from_note(&build(1, 1, &[entry("x", MFT_RESERVED_FIRST)])).is_err());
        // Unterminated name.
        let mut bad = e.clone();
        bad[2].name = [b'a'; MFT_NAME_SIZE];
        assert!(Manifest::from_note(&build(1, 3, &bad)).is_err());
        // Already attached.
        let mut bad = e.clone();
        bad[1].attached = 1;
        assert!(Manifest::from_note(&build(1, 3, &bad)).is_err());
    }

    #[test]
    fn error_message() {
        assert_eq!(ManifestError.to_string(), "Solo5 manifest is invalid");
    }
}
