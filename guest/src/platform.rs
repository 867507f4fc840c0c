//! Which tender the unikernel was linked for, and what differs between them
//! at the lowest level: how the guest ends.
//!
//! The bindings are one object for both targets. The linker script
//! (`solo5_hvt.lds` or `solo5_spt.lds`, made from one template) defines the
//! absolute symbol `ringtender_target` as the ABI1 note's target number and
//! keeps only that target's ABI1 note.

use ringtender_abi::elf_note::AbiTarget;

use crate::{hypercall, spt};

extern "C" {
    static ringtender_target: u8;
}

/// A tender the bindings can run under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// `solo5-hvt`: a KVM guest at CPL 3, talking through PIO hypercalls.
    Hvt,
    /// `solo5-spt`: a seccomp-confined process, talking through system calls.
    Spt,
}

/// The target of this link.
pub fn target() -> Target {
    // SAFETY: an absolute linker-script symbol; only its address is used.
    let number = unsafe { &ringtender_target as *const u8 as usize };
    if number == AbiTarget::Spt as usize {
        Target::Spt
    } else {
        Target::Hvt
    }
}

/// Ends the guest with `status`; the tender's process exits with it.
pub fn halt(status: i32) -> ! {
    match target() {
        Target::Hvt => hypercall::halt(status),
        Target::Spt => spt::exit_group(status),
    }
}
