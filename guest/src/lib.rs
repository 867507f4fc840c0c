//! ringtender's guest bindings for the hvt target, in `no_std` Rust.
//!
//! The guest runs at CPL 3 (see `docs/guest-contract.md`): it never executes
//! a privileged instruction. The tender owns page tables, descriptor tables
//! and trap reporting; the guest talks to it through PIO hypercalls.
//!
//! This crate is the platform layer; `ringtender-sync-shim` exports the C API
//! of `solo5.h` on top of it, and Rust unikernels use [`api`] directly.
#![no_std]

pub mod api;
pub mod boot;
pub mod clock;
pub mod console;
pub mod devices;
pub mod hypercall;
pub mod manifest;
pub mod mem;
pub mod rings;
pub mod tls;
