//! Writes to a CPL-0 subject's read-only text. Its text is writable in the
//! page tables and read-only in its memory slot (`vcpu::text_slots`), so
//! a write there exits as `KVM_EXIT_MMIO`. Two kinds come:
//! - this host's KVM rewriting a `vmcall` it met (its hypercall quirk): a
//!   3-byte write of `0f 01 c1` at the `vmcall`'s own address, with RIP
//!   still on it. That is the subject raising a Muen event: the exit
//!   event ends the run, any other is stepped over with RAX untouched.
//! - the subject writing to its text: on Muen its page tables refuse it,
//!   so the runner injects the page fault Muen's rights give (#PF, CR2 the
//!   address written, error code 3: present, write, supervisor). KVM has
//!   already moved RIP past the writing instruction then, so the fault's
//!   RIP is the next instruction's, not the writing one's as on Muen.

use kvm_ioctls::VcpuFd;

use crate::error::TenderError;
use crate::guest_fault::GuestFault;
use crate::muen::layout::SubjectLayout;
use crate::muen::run_loop::Events;
use crate::muen::watchdog::VMCALL;

/// #PF.
const PAGE_FAULT: u8 = 14;
/// Present, write, supervisor.
const PF_PRESENT_WRITE: u32 = 3;

/// What a write to the text came to.
#[derive(Debug, PartialEq, Eq)]
pub enum TextWrite {
    /// The subject resumes (after its `vmcall`, or at its page fault).
    Resumed,
    /// The subject raised its exit event.
    ExitEvent,
}

fn kvm_err(what: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> TenderError {
    move |source| TenderError::Kvm { what, source }
}

/// Whether a write of `data` at `gpa` is KVM's rewrite of a `vmcall` at
/// `rip_gpa` (the subject's RIP, translated).
fn is_vmcall_rewrite(gpa: u64, data: &[u8], rip_gpa: Option<u64>) -> bool {
    data == VMCALL && rip_gpa == Some(gpa)
}

/// Handles the subject's write of `data` at `gpa`, which lies in its
/// read-only text.
pub fn handle(
    vcpu: &VcpuFd,
    layout: &SubjectLayout,
    events: &Events,
    gpa: u64,
    data: &[u8],
) -> Result<TextWrite, TenderError> {
    let mut regs = vcpu.get_regs().map_err(kvm_err("KVM_GET_REGS"))?;
    if is_vmcall_rewrite(gpa, data, layout.translate(regs.rip)) {
        if events.ends_run(regs.rax) {
            return Ok(TextWrite::ExitEvent);
        }
        regs.rip += VMCALL.len() as u64;
        vcpu.set_regs(&regs).map_err(kvm_err("KVM_SET_REGS"))?;
        return Ok(TextWrite::Resumed);
    }
    let va = layout
        .regions
        .iter()
        .find(|r| (r.gpa..r.gpa + r.size).contains(&gpa))
        .map(|r| r.va + (gpa - r.gpa))
        .ok_or(GuestFault::WriteOutsideSubject { gpa })?;
    let mut sregs = vcpu.get_sregs().map_err(kvm_err("KVM_GET_SREGS"))?;
    sregs.cr2 = va;
    vcpu.set_sregs(&sregs).map_err(kvm_err("KVM_SET_SREGS"))?;
    let mut state = vcpu
        .get_vcpu_events()
        .map_err(kvm_err("KVM_GET_VCPU_EVENTS"))?;
    state.exception.injected = 1;
    state.exception.nr = PAGE_FAULT;
    state.exception.has_error_code = 1;
    state.exception.error_code = PF_PRESENT_WRITE;
    vcpu.set_vcpu_events(&state)
        .map_err(kvm_err("KVM_SET_VCPU_EVENTS"))?;
    Ok(TextWrite::Resumed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_vmcall_written_over_itself_is_an_event() {
        assert!(is_vmcall_rewrite(0x1000, &VMCALL, Some(0x1000)));
        assert!(!is_vmcall_rewrite(0x1001, &VMCALL, Some(0x1000)));
        assert!(!is_vmcall_rewrite(
            0x1000,
            &[0x0f, 0x01, 0xd9],
            Some(0x1000)
        ));
        assert!(!is_vmcall_rewrite(0x1000, &VMCALL[..2], Some(0x1000)));
        assert!(!is_vmcall_rewrite(0x1000, &VMCALL, None));
    }
}
