//! Which target the unikernel was linked for, and what differs between them
//! at the lowest level: how the guest ends.
//!
//! The bindings are one object for hvt and spt. The linker script
//! (`solo5_hvt.lds`, `solo5_spt.lds` or `solo5_muen.lds`, made from one
//! template) defines the absolute symbol `ringtender_target` as the ABI1
//! note's target number and keeps only that target's ABI1 note.
//!
//! The muen object is the same crates built with the `muen-only` feature:
//! the target is then fixed to muen, and the instructions only hvt and spt
//! execute (PIO `out`, `wrfsbase`, `syscall`) are left out of the object,
//! so a muen image holds nothing a Muen subject may not execute
//! (`docs/architecture.md`, "The muen target").

use ringtender_abi::elf_note::AbiTarget;

use crate::{hypercall, muen, spt};

extern "C" {
    static ringtender_target: u8;
}

/// A target the bindings can run under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// `solo5-hvt`: a KVM guest at CPL 3, talking through PIO hypercalls.
    Hvt,
    /// `solo5-spt`: a seccomp-confined process, talking through system calls.
    Spt,
    /// A Muen subject: shared-memory channels found in the subject info page.
    Muen,
}

/// The target of this link.
pub fn target() -> Target {
    if cfg!(feature = "muen-only") {
        return Target::Muen;
    }
    // SAFETY: an absolute linker-script symbol; only its address is used.
    let number = unsafe { &ringtender_target as *const u8 as usize };
    match number {
        n if n == AbiTarget::Spt as usize => Target::Spt,
        n if n == AbiTarget::Muen as usize => Target::Muen,
        _ => Target::Hvt,
    }
}

/// Ends the guest with `status`; on hvt and spt the tender's process exits
/// with it, on muen the subject halts (Muen has no exit status).
pub fn halt(status: i32) -> ! {
    crate::console::release();
    match target() {
        Target::Hvt => hypercall::halt(status),
        Target::Spt => spt::exit_group(status),
        Target::Muen => muen::halt(),
    }
}
