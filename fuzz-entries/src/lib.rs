//! The entry points of ringtender's fuzz targets.
//!
//! Each module holds one target's entry function, `run(data)`: it feeds
//! `data` to one parser of untrusted input and checks what the parser
//! promises beyond "no panic". The libFuzzer targets in `fuzz/` (outside the
//! workspace, built by `cargo fuzz`) call these functions, and so does
//! `tests/corpus.rs`, which replays the committed corpus `fuzz/corpus/TARGET/`
//! in every `cargo test`. A panic, an abort or a hang is a finding.

// Guest memory permissions are lists of address ranges (as in the host crate).
#![allow(clippy::single_range_in_vec_init)]

pub mod block_requests;
pub mod channel_reader;
pub mod elf_loader;
pub mod elftool_json;
pub mod hypercall_args;
pub mod manifest_note;
mod scratch;

/// A target: its name (the directory of its corpus) and its entry function.
pub type Target = (&'static str, fn(&[u8]));

/// Every target, by name.
pub const TARGETS: &[Target] = &[
    ("block_requests", block_requests::run),
    ("channel_reader", channel_reader::run),
    ("elf_loader", elf_loader::run),
    ("elftool_json", elftool_json::run),
    ("hypercall_args", hypercall_args::run),
    ("manifest_note", manifest_note::run),
];

/// Takes `n` bytes off the front of `data` (fewer if it is shorter).
pub(crate) fn take<'a>(data: &mut &'a [u8], n: usize) -> &'a [u8] {
    let (head, tail) = data.split_at(n.min(data.len()));
    *data = tail;
    head
}

/// Takes a little-endian `u64` off the front of `data` (zero-padded).
pub(crate) fn take_u64(data: &mut &[u8]) -> u64 {
    let mut raw = [0u8; 8];
    let head = take(data, 8);
    raw[..head.len()].copy_from_slice(head);
    u64::from_le_bytes(raw)
}

/// Takes a little-endian `u16` off the front of `data` (zero-padded).
pub(crate) fn take_u16(data: &mut &[u8]) -> u16 {
    let mut raw = [0u8; 2];
    let head = take(data, 2);
    raw[..head.len()].copy_from_slice(head);
    u16::from_le_bytes(raw)
}

/// Takes one byte off the front of `data` (0 when empty).
pub(crate) fn take_u8(data: &mut &[u8]) -> u8 {
    take(data, 1).first().copied().unwrap_or(0)
}
