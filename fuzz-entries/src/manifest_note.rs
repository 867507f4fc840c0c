//! The MFT1 manifest note's descriptor (`struct mft`), as the tenders and
//! `solo5-elftool query-manifest` validate it.

use ringtender_abi::mft::{mft_size, MFT_MAX_ENTRIES, MFT_NAME_SIZE, MFT_RESERVED_FIRST};
use ringtender_host::manifest::Manifest;

/// Validates `data` as a manifest descriptor; an accepted one must keep
/// upstream's invariants and convert back to the same bytes.
pub fn run(data: &[u8]) {
    let Ok(manifest) = Manifest::from_note(data) else {
        return;
    };
    let entries = manifest.entries();
    assert!((1..=MFT_MAX_ENTRIES).contains(&entries.len()));
    assert_eq!(data.len(), mft_size(entries.len()));
    assert_eq!(entries[0].mft_type, MFT_RESERVED_FIRST);
    assert_eq!(manifest.to_bytes(), data, "to_bytes gives back the note");
    for (index, entry) in entries.iter().enumerate() {
        assert!(entry.name_bytes().len() < MFT_NAME_SIZE);
        assert!(manifest.get_by_index(index, entry.mft_type).is_some());
        if let Ok(name) = std::str::from_utf8(entry.name_bytes()) {
            let found = manifest
                .find_by_name(name, entry.mft_type)
                .expect("every entry is found by its name");
            assert!(found <= index);
        }
    }
}
