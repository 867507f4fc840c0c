//! The CPU state of a Muen subject: Muen starts it at CPL 0, so the
//! bindings install their own descriptor tables and trap handlers, as on
//! upstream's `solo5-hvt` ([`crate::cpu`], shared with hvt). TLS is set with
//! `wrmsr` to FS_BASE (Muen's policy allows that MSR; CR4.FSGSBASE is off
//! there), also in the runner's fast mode (CPL 3), where the runner carries
//! it out when it traps.

pub use crate::cpu::{cpl, halt_forever, init, set_fs_base};
