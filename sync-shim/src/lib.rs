//! The C API of `solo5.h` and of ringtender's `solo5_ring.h`, exported with C linkage over `ringtender-guest`,
//! plus the entry point, the stack protector and the ELF notes every
//! unikernel built with these bindings carries.
//!
//! C libOSes get it as `solo5_hvt.o` (see `build-dist.sh`); Rust unikernels
//! depend on this crate and define `solo5_app_main`.
#![no_std]

mod entry;
mod libc_mem;
mod notes;
mod solo5_api;
mod solo5_ring_api;
