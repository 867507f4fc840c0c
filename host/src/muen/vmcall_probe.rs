//! What this host's KVM does with a guest `vmcall`, probed at start-up in a
//! throwaway VM, and how the runner handles the subject's `vmcall`s then
//! (`docs/muen-runner.md`, "`vmcall` and the watchdog"). A Muen subject
//! raises its events with `vmcall`; KVM takes the instruction as its own
//! hypercall, and hosts differ:
//! - this machine's KVM (PVM) parks it: KVM_RUN re-enters the guest with
//!   RIP on the instruction until a signal is pending, so the watchdog's
//!   tick finds it there and completes it;
//! - a stock KVM completes it in the kernel (RAX ← −1000, no exit), which
//!   the runner sees only if KVM can hand every hypercall to user space
//!   (`KVM_XEN_HVM_CONFIG` with `INTERCEPT_HCALL`): then each one exits as
//!   `KVM_EXIT_XEN` and the run loop completes it as Muen would;
//! - a host that raises #UD for it (KVM's hypercall quirk off) leaves it to
//!   the subject's own handler at CPL 0 (and to `privileged` at CPL 3),
//!   unless the Xen interception is there.

use kvm_bindings::{kvm_xen_hvm_config, KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL};
use kvm_ioctls::{VcpuExit, VmFd};
use ringtender_muen_compat::sinfo::MemoryKind;
use vmm_sys_util::ioctl::ioctl_with_ref;
use vmm_sys_util::ioctl_iow_nr;

use crate::error::TenderError;
use crate::guest_memory::GuestRam;
use crate::hvt::kvm::Machine;
use crate::muen::layout::{Region, Role, PAGE};
use crate::muen::page_tables::{PageOwner, PageTables};
use crate::muen::vcpu::{self, Privilege};
use crate::muen::watchdog::{Watchdog, VMCALL};
use crate::muen::Error;

/// What the probe's `vmcall` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmcallBehaviour {
    /// KVM_RUN kept the vCPU on it until a signal came (this machine).
    Parks,
    /// It completed in the kernel without an exit, leaving `rax` (stock
    /// KVM: −1000, `-KVM_ENOSYS`).
    CompletesInKernel {
        /// RAX after it.
        rax: u64,
    },
    /// It raised an exception (the probe has no IDT: a triple fault).
    Faults,
}

/// How the runner completes the subject's `vmcall`s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmcallHandling {
    /// The watchdog's tick finds the subject parked on it (`run_loop`).
    CompleteOnTick,
    /// Each one exits as `KVM_EXIT_XEN` (`run_loop`).
    XenIntercept,
    /// KVM completes or refuses it where the runner cannot see it: the
    /// subject's events are not seen.
    Unobserved,
}

/// The probe's RAX: an event number (the highest Muen has), which is no
/// KVM hypercall.
const PROBE_RAX: u64 = 63;
/// Where the probe's code page is mapped (as a subject's text would be).
const PROBE_VA: u64 = 0x20_0000;
/// Ticks with the vCPU still on the `vmcall` after which it is parked. A
/// host that completes it does so at its first entry; more ticks only
/// allow for a vCPU thread that got no CPU in the meantime.
const PROBE_TICKS: u32 = 10;
/// KVM_CAP_XEN_HVM.
const KVM_CAP_XEN_HVM: u64 = 38;

ioctl_iow_nr!(
    KVM_XEN_HVM_CONFIG,
    kvm_bindings::KVMIO,
    0x7a,
    kvm_xen_hvm_config
);

/// The MSR Xen guests write to set up their hypercall page (Xen's own);
/// `KVM_XEN_HVM_CONFIG` wants one. A Solo5 subject never writes it, and at
/// CPL 3 it could not.
const XEN_HYPERCALL_MSR: u32 = 0x4000_0200;

fn kvm_err(what: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> TenderError {
    move |source| TenderError::Kvm { what, source }
}

/// Runs `vmcall; hlt` with RAX = [`PROBE_RAX`] at CPL 0 in a VM of its own
/// (one writable, executable code page under page tables of its own, the
/// subject's CPU state), and says what the `vmcall` did.
pub fn probe() -> Result<VmcallBehaviour, TenderError> {
    const HLT: u8 = 0xf4;
    let code = Region {
        name: "probe".into(),
        role: Role::Binary,
        device: None,
        va: PROBE_VA,
        size: PAGE,
        gpa: 0,
        writable: true,
        executable: true,
        kind: MemoryKind::SUBJECT_BINARY,
    };
    let tables = PageTables::build(PAGE, &[code], PageOwner::Supervisor);
    let ram = GuestRam::new(tables.root() + tables.bytes())?;
    ram.setup_write(0, &[VMCALL[0], VMCALL[1], VMCALL[2], HLT])?;
    tables.write(&ram)?;
    let mut machine = Machine::new(&ram)?;
    let vcpu = &mut machine.vcpu;
    vcpu::setup(
        vcpu,
        &ram,
        Privilege::Cpl0,
        tables.root(),
        PROBE_VA,
        PROBE_VA + PAGE,
    )?;
    let mut regs = vcpu.get_regs().map_err(kvm_err("KVM_GET_REGS"))?;
    regs.rax = PROBE_RAX;
    vcpu.set_regs(&regs).map_err(kvm_err("KVM_SET_REGS"))?;
    let _watchdog = Watchdog::start()?;
    let mut parked = 0;
    loop {
        match vcpu.run() {
            Ok(VcpuExit::Hlt) => {
                let regs = vcpu.get_regs().map_err(kvm_err("KVM_GET_REGS"))?;
                return Ok(VmcallBehaviour::CompletesInKernel { rax: regs.rax });
            }
            Ok(VcpuExit::Shutdown) => return Ok(VmcallBehaviour::Faults),
            Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => {
                let regs = vcpu.get_regs().map_err(kvm_err("KVM_GET_REGS"))?;
                if regs.rip != PROBE_VA {
                    return Err(Error::ProbeStopped { rip: regs.rip }.into());
                }
                parked += 1;
                if parked == PROBE_TICKS {
                    return Ok(VmcallBehaviour::Parks);
                }
            }
            Ok(_) => {
                let reason = vcpu.get_kvm_run().exit_reason;
                return Err(Error::ProbeExit { reason }.into());
            }
            Err(source) => {
                return Err(TenderError::Kvm {
                    what: "KVM_RUN",
                    source,
                })
            }
        }
    }
}

/// The handling for a host whose `vmcall` behaves as `behaviour`, and
/// which can (`xen_intercept`) hand every hypercall to user space.
pub fn choose(behaviour: VmcallBehaviour, xen_intercept: bool) -> VmcallHandling {
    match behaviour {
        VmcallBehaviour::Parks => VmcallHandling::CompleteOnTick,
        VmcallBehaviour::CompletesInKernel { .. } | VmcallBehaviour::Faults if xen_intercept => {
            VmcallHandling::XenIntercept
        }
        VmcallBehaviour::CompletesInKernel { .. } | VmcallBehaviour::Faults => {
            VmcallHandling::Unobserved
        }
    }
}

/// Whether `vm`'s KVM can hand every hypercall to user space.
fn xen_intercept_available(vm: &VmFd) -> bool {
    let flags = vm.check_extension_raw(KVM_CAP_XEN_HVM as _);
    flags > 0 && (flags as u32) & KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL != 0
}

fn enable_xen_intercept(vm: &VmFd) -> Result<(), TenderError> {
    let config = kvm_xen_hvm_config {
        flags: KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
        msr: XEN_HYPERCALL_MSR,
        ..Default::default()
    };
    // SAFETY: KVM_XEN_HVM_CONFIG reads a kvm_xen_hvm_config, which
    // `config` is, for the duration of the call.
    let rc = unsafe { ioctl_with_ref(vm, KVM_XEN_HVM_CONFIG(), &config) };
    if rc != 0 {
        return Err(Error::XenHvmConfig(std::io::Error::last_os_error()).into());
    }
    Ok(())
}

/// Probes the host and sets `machine` up for the handling it needs. Says
/// nothing unless the subject's events would go unseen while the exit
/// event is published (`exit_event`): then one line on stderr, and the
/// subject still ends at the `hlt` Solo5 follows its `vmcall` with.
pub fn set_up(machine: &Machine, exit_event: bool) -> Result<VmcallHandling, TenderError> {
    let handling = choose(probe()?, xen_intercept_available(&machine.vm));
    match handling {
        VmcallHandling::XenIntercept => enable_xen_intercept(&machine.vm)?,
        VmcallHandling::Unobserved if exit_event => eprintln!(
            "{}: warning: this host's KVM completes vmcall itself and cannot report it; \
             the exit event is not seen",
            crate::cli::program()
        ),
        _ => {}
    }
    Ok(handling)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_behaviour_gets_its_handling() {
        use VmcallBehaviour::*;
        use VmcallHandling::*;
        let stock = CompletesInKernel {
            rax: -1000i64 as u64,
        };
        for (behaviour, xen, handling) in [
            (Parks, false, CompleteOnTick),
            (Parks, true, CompleteOnTick),
            (stock, true, XenIntercept),
            (stock, false, Unobserved),
            (Faults, true, XenIntercept),
            (Faults, false, Unobserved),
        ] {
            assert_eq!(choose(behaviour, xen), handling, "{behaviour:?}, {xen}");
        }
    }
}
