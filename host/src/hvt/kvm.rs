//! KVM: the VM, its one memory slot and its one vCPU.

use kvm_bindings::{kvm_userspace_memory_region, KVM_MAX_CPUID_ENTRIES};
use kvm_ioctls::{Cap, Kvm, VcpuFd, VmFd};

use super::Error;
use crate::error::{kvm_err, TenderError};
use crate::guest_memory::GuestRam;

/// A KVM virtual machine with guest RAM in slot 0 and vCPU 0.
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

impl Machine {
    /// Opens /dev/kvm, creates the VM, maps `ram` at GPA 0 and creates vCPU 0
    /// with the host's supported CPUID.
    pub fn new(ram: &GuestRam) -> Result<Self, TenderError> {
        let kvm = Kvm::new().map_err(Error::OpenKvm)?;
        if !kvm.check_extension(Cap::UserMemory) {
            return Err(Error::MissingCapability("KVM_CAP_USER_MEMORY").into());
        }
        if !kvm.check_extension(Cap::GetTscKhz) {
            return Err(Error::MissingCapability("KVM_CAP_GET_TSC_KHZ").into());
        }
        let vm = kvm.create_vm().map_err(kvm_err("KVM_CREATE_VM"))?;
        let region = kvm_userspace_memory_region {
            slot: 0,
            flags: 0,
            guest_phys_addr: 0,
            memory_size: ram.size(),
            userspace_addr: ram.host_base(),
        };
        // SAFETY: the region is guest RAM's own mapping, which lives as long as
        // the tender process (GuestRam is never dropped before exit), and no
        // other slot overlaps it.
        unsafe { vm.set_user_memory_region(region) }
            .map_err(kvm_err("KVM_SET_USER_MEMORY_REGION"))?;
        let vcpu = vm.create_vcpu(0).map_err(kvm_err("KVM_CREATE_VCPU"))?;
        let cpuid = kvm
            .get_supported_cpuid(KVM_MAX_CPUID_ENTRIES)
            .map_err(kvm_err("KVM_GET_SUPPORTED_CPUID"))?;
        vcpu.set_cpuid2(&cpuid).map_err(kvm_err("KVM_SET_CPUID2"))?;
        let tsc_khz = vcpu.get_tsc_khz().map_err(|e| {
            if e.errno() == libc::EIO {
                Error::UnstableTsc(e).into()
            } else {
                kvm_err("KVM_GET_TSC_KHZ")(e)
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
