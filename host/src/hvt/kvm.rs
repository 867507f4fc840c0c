//! KVM: the VM, its memory slots (one per mapping of guest RAM) and its
//! one vCPU.

use kvm_bindings::{kvm_userspace_memory_region, KVM_MAX_CPUID_ENTRIES};
use kvm_ioctls::{Cap, Kvm, VcpuFd, VmFd};

use crate::error::TenderError;
use crate::guest_memory::GuestRam;

/// A KVM virtual machine with guest RAM in its slots and vCPU 0.
pub struct Machine {
    /// The VM (kept for ioeventfd registration).
    pub vm: VmFd,
    /// The only vCPU.
    pub vcpu: VcpuFd,
    /// TSC frequency the guest sees, in Hz.
    pub tsc_hz: u64,
    /// KVM_CAP_IOEVENTFD: doorbells can be served in the kernel.
    pub ioeventfd: bool,
}

fn kvm_err(what: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> TenderError {
    move |source| TenderError::Kvm { what, source }
}

impl Machine {
    /// Opens /dev/kvm, creates the VM, maps `ram` at GPA 0 and creates vCPU 0
    /// with the host's supported CPUID.
    pub fn new(ram: &GuestRam) -> Result<Self, TenderError> {
        let kvm =
            Kvm::new().map_err(|e| TenderError::Setup(format!("Could not open: /dev/kvm: {e}")))?;
        if !kvm.check_extension(Cap::UserMemory) {
            return Err(TenderError::Setup(
                "KVM: host does not support KVM_CAP_USER_MEMORY".into(),
            ));
        }
        if !kvm.check_extension(Cap::GetTscKhz) {
            return Err(TenderError::Setup(
                "KVM: host does not support KVM_CAP_GET_TSC_KHZ".into(),
            ));
        }
        let vm = kvm.create_vm().map_err(kvm_err("KVM_CREATE_VM"))?;
        for (slot, (gpa, size, host)) in ram.slots().into_iter().enumerate() {
            let region = kvm_userspace_memory_region {
                slot: slot as u32,
                flags: 0,
                guest_phys_addr: gpa,
                memory_size: size,
                userspace_addr: host,
            };
            // SAFETY: the region is one of guest RAM's own mappings, which
            // live as long as the tender process (GuestRam is never dropped
            // before exit), and the slots do not overlap.
            unsafe { vm.set_user_memory_region(region) }
                .map_err(kvm_err("KVM_SET_USER_MEMORY_REGION"))?;
        }
        let vcpu = vm.create_vcpu(0).map_err(kvm_err("KVM_CREATE_VCPU"))?;
        let cpuid = kvm
            .get_supported_cpuid(KVM_MAX_CPUID_ENTRIES)
            .map_err(kvm_err("KVM_GET_SUPPORTED_CPUID"))?;
        vcpu.set_cpuid2(&cpuid).map_err(kvm_err("KVM_SET_CPUID2"))?;
        let tsc_khz = vcpu.get_tsc_khz().map_err(|e| {
            if e.errno() == libc::EIO {
                TenderError::Setup("KVM: host TSC is unstable, cannot continue".into())
            } else {
                TenderError::Kvm {
                    what: "KVM_GET_TSC_KHZ",
                    source: e,
                }
            }
        })?;
        Ok(Self {
            ioeventfd: kvm.check_extension(Cap::Ioeventfd),
            vm,
            vcpu,
            tsc_hz: u64::from(tsc_khz) * 1000,
        })
    }
}
