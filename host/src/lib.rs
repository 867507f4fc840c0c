//! ringtender host side: the `solo5-hvt` and `solo5-spt` tenders,
//! `solo5-muen-runner` (a Muen environment on KVM) and `solo5-elftool`.
//!
//! The binaries in `src/bin` are thin; everything they do lives in these
//! modules so that integration tests and later tenders (spt) share it.

// Guest memory permissions are lists of address ranges; a list holding one
// range is what we mean, not an array of its elements.
#![allow(clippy::single_range_in_vec_init)]

pub mod attach;
pub mod block;
pub mod cli;
pub mod elf;
pub mod elftool;
pub mod error;
pub mod guest_fault;
pub mod guest_memory;
pub mod hvt;
pub mod manifest;
pub mod muen;
pub mod net;
pub mod poll;
pub mod ring3;
pub mod rings;
pub mod seccomp_rules;
pub mod signals;
pub mod spt;
pub mod tap;
pub mod unikernel;
pub mod worker_thread;
