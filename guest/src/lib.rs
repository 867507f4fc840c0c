//! ringtender's guest bindings for the hvt, spt and muen targets, in
//! `no_std` Rust.
//!
//! On hvt the guest runs at CPL 3 under our tender (see
//! `docs/guest-contract.md`): it never executes a privileged instruction.
//! The tender owns page tables, descriptor tables and trap reporting; the
//! guest talks to it through PIO hypercalls. Started at CPL 0 (upstream's
//! tender, Muen), the bindings set up their own descriptor tables and trap
//! handlers as upstream's do ([`cpu`]). On spt the guest is a Linux process confined by seccomp and
//! talks to the host through the few system calls its filter allows. One
//! object serves both; [`platform`] tells which one this link is for. On
//! muen the guest is a Muen subject that finds its channels in the subject
//! info page ([`muen`]); its object is built with the `muen-only` feature.
//!
//! This crate is the platform layer; `ringtender-sync-shim` exports the C API
//! of `solo5.h` on top of it, and Rust unikernels use [`api`] directly.
#![no_std]

pub mod api;
pub mod boot;
pub mod clock;
pub mod console;
pub mod cpu;
pub mod devices;
pub mod hypercall;
pub mod manifest;
pub mod mem;
pub mod muen;
pub mod platform;
pub mod rings;
pub mod rx_pace;
pub mod spt;
pub mod tls;
pub mod tx_pace;
