//! The vCPU loop: a halted subject ends the run with the status its log
//! announced; a watchdog tick drains the log and completes a pending
//! `vmcall` as a Muen event, as does a `KVM_EXIT_XEN` (`vmcall_probe`);
//! a CPL-0 subject's write to its text is a `vmcall` or a page fault
//! (`text_write`); a CPL-3 subject's trap is carried out or reported
//! (`privileged`); anything else ends the run with one line.

use std::io::Write;

use kvm_bindings::{KVM_EXIT_XEN, KVM_EXIT_XEN_HCALL};
use kvm_ioctls::{VcpuExit, VcpuFd};
use ringtender_abi::solo5::SOLO5_EXIT_ABORT;

use crate::error::{kvm_err, TenderError};
use crate::guest_fault::GuestFault;
use crate::guest_memory::GuestRam;
use crate::muen::console::Console;
use crate::muen::layout::SubjectLayout;
use crate::muen::privileged::{self, code_bytes, TrapOutcome};
use crate::muen::subject_info::EXIT_EVENT_NUMBER;
use crate::muen::text_write::{self, TextWrite};
use crate::muen::vcpu::Privilege;
use crate::muen::vmcall_probe::VmcallHandling;
use crate::muen::watchdog::VMCALL;
use crate::ring3::TRAP_PORT;

/// What the subject's events do, and how its `vmcall`s reach the runner.
pub struct Events {
    /// "solo5_exit" is published: its event ends the run.
    pub exit_event: bool,
    /// How the runner completes the subject's `vmcall`s on this host.
    pub vmcall: VmcallHandling,
}

impl Events {
    /// Whether a `vmcall` with `rax` raises an event that ends the run.
    pub fn ends_run(&self, rax: u64) -> bool {
        self.exit_event && rax == u64::from(EXIT_EVENT_NUMBER)
    }
}

enum Exit {
    Halt,
    Tick,
    XenHypercall,
    TextWrite(u64, [u8; 8], usize),
    Trap(u8),
    Shutdown,
    Translation,
    FailEntry(u64),
    Internal,
    Other,
}

fn rip(vcpu: &VcpuFd) -> u64 {
    vcpu.get_regs().map_or(0, |r| r.rip)
}

/// Whether the subject sits on a `vmcall` whose event ends the run; a
/// `vmcall` of any other event is completed (Muen ignores events a
/// subject has no right to and steps over the instruction).
fn handle_vmcall(
    vcpu: &VcpuFd,
    ram: &GuestRam,
    layout: &SubjectLayout,
    events: &Events,
) -> Result<bool, TenderError> {
    let mut regs = vcpu.get_regs().map_err(kvm_err("KVM_GET_REGS"))?;
    if code_bytes(ram, layout, regs.rip)? != Some(VMCALL) {
        return Ok(false);
    }
    if events.ends_run(regs.rax) {
        return Ok(true);
    }
    regs.rip += VMCALL.len() as u64;
    vcpu.set_regs(&regs).map_err(kvm_err("KVM_SET_REGS"))?;
    Ok(false)
}

/// A `vmcall` KVM handed over as `KVM_EXIT_XEN`: whether its event ends
/// the run; any other is completed as Muen does, RAX untouched (KVM sets
/// RAX to the result and steps over the instruction when the vCPU runs
/// again).
fn complete_xen_hypercall(vcpu: &mut VcpuFd, events: &Events) -> Result<bool, TenderError> {
    let run = vcpu.get_kvm_run();
    // SAFETY: exit_reason is KVM_EXIT_XEN, so the kernel filled `xen`.
    let xen = unsafe { &mut run.__bindgen_anon_1.xen };
    if xen.type_ != KVM_EXIT_XEN_HCALL {
        return Err(GuestFault::UnhandledXenExit { kind: xen.type_ }.into());
    }
    // SAFETY: the type is KVM_EXIT_XEN_HCALL, so `hcall` is the member the
    // kernel filled.
    let hcall = unsafe { &mut xen.u.hcall };
    if events.ends_run(hcall.input) {
        return Ok(true);
    }
    hcall.result = hcall.input;
    Ok(false)
}

/// Runs the subject to its end; returns its exit status.
pub fn run(
    vcpu: &mut VcpuFd,
    privilege: Privilege,
    ram: &GuestRam,
    layout: &SubjectLayout,
    console: &mut Console,
    events: &Events,
) -> Result<i32, TenderError> {
    let cpl3 = matches!(privilege, Privilege::Cpl3(_));
    loop {
        let exit = match vcpu.run() {
            Ok(VcpuExit::Hlt) => Exit::Halt,
            Ok(VcpuExit::IoOut(TRAP_PORT, &[vector])) if cpl3 => Exit::Trap(vector),
            Ok(VcpuExit::Shutdown) => Exit::Shutdown,
            Ok(VcpuExit::MmioWrite(gpa, data)) if !cpl3 && data.len() <= 8 => {
                let mut bytes = [0u8; 8];
                bytes[..data.len()].copy_from_slice(data);
                Exit::TextWrite(gpa, bytes, data.len())
            }
            Ok(VcpuExit::Unsupported(KVM_EXIT_XEN))
                if events.vmcall == VmcallHandling::XenIntercept =>
            {
                Exit::XenHypercall
            }
            Ok(VcpuExit::FailEntry(reason, _)) => Exit::FailEntry(reason),
            Ok(VcpuExit::InternalError) => Exit::Internal,
            Ok(_) => Exit::Other,
            Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => Exit::Tick,
            Err(e) if e.errno() == libc::EFAULT => Exit::Translation,
            Err(source) => {
                return Err(TenderError::Kvm {
                    what: "KVM_RUN",
                    source,
                })
            }
        };
        match exit {
            Exit::Halt => return Ok(console.exit_status()),
            Exit::Tick => {
                console.drain();
                if events.vmcall == VmcallHandling::CompleteOnTick
                    && handle_vmcall(vcpu, ram, layout, events)?
                {
                    return Ok(console.exit_status());
                }
            }
            Exit::TextWrite(gpa, bytes, len) => {
                match text_write::handle(vcpu, layout, events, gpa, &bytes[..len])? {
                    TextWrite::Resumed => {}
                    TextWrite::ExitEvent => return Ok(console.exit_status()),
                }
            }
            Exit::XenHypercall => {
                if complete_xen_hypercall(vcpu, events)? {
                    return Ok(console.exit_status());
                }
            }
            Exit::Trap(vector) => {
                let Privilege::Cpl3(area) = privilege else {
                    unreachable!("only a CPL-3 subject has trap stubs")
                };
                match privileged::handle(vcpu, ram, layout, &area, vector, events)? {
                    TrapOutcome::Resumed => {}
                    TrapOutcome::Halted | TrapOutcome::ExitEvent => {
                        return Ok(console.exit_status())
                    }
                    TrapOutcome::Fatal(report) => {
                        // What the bindings' own trap handler prints at
                        // CPL 0, and its status.
                        console.drain();
                        let mut out = std::io::stdout().lock();
                        let _ = writeln!(out, "{report}Solo5: Halted").and_then(|()| out.flush());
                        return Ok(SOLO5_EXIT_ABORT);
                    }
                }
            }
            Exit::Shutdown => {
                console.drain();
                return Err(GuestFault::TripleFault { rip: rip(vcpu) }.into());
            }
            Exit::Translation => {
                return Err(GuestFault::TranslationFault { rip: rip(vcpu) }.into());
            }
            Exit::FailEntry(reason) => {
                return Err(GuestFault::EntryFailure { reason }.into());
            }
            Exit::Internal => {
                console.drain();
                let run = vcpu.get_kvm_run();
                // SAFETY: exit_reason is KVM_EXIT_INTERNAL_ERROR, so the kernel filled `internal`.
                let suberror = unsafe { run.__bindgen_anon_1.internal.suberror };
                return Err(GuestFault::InternalErrorAt {
                    suberror,
                    rip: rip(vcpu),
                }
                .into());
            }
            Exit::Other => {
                console.drain();
                let reason = vcpu.get_kvm_run().exit_reason;
                return Err(GuestFault::UnhandledExit {
                    reason,
                    rip: rip(vcpu),
                }
                .into());
            }
        }
    }
}
