//! The privileged instructions a CPL-3 subject still executes, carried out
//! by the runner as Muen would. At CPL 3 (the runner's fast mode) `wrmsr`
//! to FS_BASE, `cli` and `hlt` raise #GP and reach the runner's stubs
//! (`crate::ring3`). `vmcall` at CPL 3 does not: on this machine KVM
//! completes it in the kernel (RAX ← -1, -KVM_EPERM, RIP past it), which
//! is what Muen does with an event but the exit, and the subject's `cli;
//! hlt` right after the exit event ends the run anyway. Should a host raise
//! #UD or #GP for it instead, it is carried out here as a Muen event. Any
//! other trap is the subject's fault and is reported as upstream's bindings
//! report it.

use kvm_ioctls::VcpuFd;

use crate::error::{kvm_err, TenderError};
use crate::guest_memory::GuestRam;
use crate::muen::layout::SubjectLayout;
use crate::muen::run_loop::Events;
use crate::muen::watchdog::VMCALL;
use crate::ring3::trap::{self, Trap, VECTOR_GP, VECTOR_UD};
use crate::ring3::{return_to_user, Ring3Area};

const WRMSR: [u8; 2] = [0x0f, 0x30];
const CLI: u8 = 0xfa;
const HLT: u8 = 0xf4;
/// FS_BASE, the one MSR Muen's policy lets a Solo5 subject write.
const MSR_FS_BASE: u32 = 0xc000_0100;

/// What a CPL-3 subject's trap came to.
#[derive(Debug, PartialEq, Eq)]
pub enum TrapOutcome {
    /// Carried out; the subject goes on after the instruction.
    Resumed,
    /// `hlt`: the subject has stopped.
    Halted,
    /// `vmcall` of the published `solo5_exit` event.
    ExitEvent,
    /// Any other trap: upstream's report of it (the subject aborted).
    Fatal(String),
}

/// The `N` bytes of subject code at `va`, or None where a byte is not
/// mapped.
pub fn code_bytes<const N: usize>(
    ram: &GuestRam,
    layout: &SubjectLayout,
    va: u64,
) -> Result<Option<[u8; N]>, TenderError> {
    let mut bytes = [0u8; N];
    for (i, byte) in bytes.iter_mut().enumerate() {
        let Some(gpa) = layout.translate(va.wrapping_add(i as u64)) else {
            return Ok(None);
        };
        let mut one = [0u8; 1];
        ram.copy_out(gpa, &mut one)?;
        *byte = one[0];
    }
    Ok(Some(bytes))
}

/// Whether `base` is a canonical 48-bit address (else `wrmsr` faults).
fn canonical(base: u64) -> bool {
    let upper = base >> 47;
    upper == 0 || upper == (1 << 17) - 1
}

/// Resumes the subject at CPL 3 after the instruction at the trap (`len`
/// bytes), with the registers the trap saved and, if given, a new FS base.
fn resume(vcpu: &VcpuFd, trap: &Trap, len: u64, fs_base: Option<u64>) -> Result<(), TenderError> {
    let mut sregs = vcpu.get_sregs().map_err(kvm_err("KVM_GET_SREGS"))?;
    return_to_user(&mut sregs);
    if let Some(base) = fs_base {
        sregs.fs.base = base;
    }
    vcpu.set_sregs(&sregs).map_err(kvm_err("KVM_SET_SREGS"))?;
    let mut regs = vcpu.get_regs().map_err(kvm_err("KVM_GET_REGS"))?;
    regs.rax = trap.rax;
    regs.rdx = trap.rdx;
    regs.rip = trap.rip + len;
    regs.rsp = trap.rsp;
    regs.rflags = trap.rflags;
    vcpu.set_regs(&regs).map_err(kvm_err("KVM_SET_REGS"))
}

/// Handles the trap of `vector` whose stub just reported it.
pub fn handle(
    vcpu: &VcpuFd,
    ram: &GuestRam,
    layout: &SubjectLayout,
    area: &Ring3Area,
    vector: u8,
    events: &Events,
) -> Result<TrapOutcome, TenderError> {
    let trap = trap::read(area, ram, vector)?;
    if trap.from_user() && (vector == VECTOR_GP || vector == VECTOR_UD) {
        let code: [u8; 3] = code_bytes(ram, layout, trap.rip)?.unwrap_or_default();
        if code == VMCALL {
            if events.ends_run(trap.rax) {
                return Ok(TrapOutcome::ExitEvent);
            }
            resume(vcpu, &trap, VMCALL.len() as u64, None)?;
            return Ok(TrapOutcome::Resumed);
        }
        if vector == VECTOR_GP {
            if code[..2] == WRMSR {
                let rcx = vcpu.get_regs().map_err(kvm_err("KVM_GET_REGS"))?.rcx;
                let base = (trap.rdx << 32) | (trap.rax & 0xffff_ffff);
                if rcx as u32 == MSR_FS_BASE && canonical(base) {
                    resume(vcpu, &trap, WRMSR.len() as u64, Some(base))?;
                    return Ok(TrapOutcome::Resumed);
                }
            } else if code[0] == CLI {
                // IF is already clear and stays so.
                resume(vcpu, &trap, 1, None)?;
                return Ok(TrapOutcome::Resumed);
            } else if code[0] == HLT {
                return Ok(TrapOutcome::Halted);
            }
        }
    }
    Ok(TrapOutcome::Fatal(trap.report(trap::cr2(vcpu)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_addresses() {
        assert!(canonical(0));
        assert!(canonical(0x7fff_ffff_ffff));
        assert!(canonical(0xffff_8000_0000_0000));
        assert!(!canonical(0x8000_0000_0000));
        assert!(!canonical(0x0001_0000_0000_0000));
    }
}
