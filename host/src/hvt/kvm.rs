//! KVM: the VM, its memory slots (one per mapping of guest RAM) and its
//! one vCPU.

use std::ops::Range;

use kvm_bindings::{kvm_userspace_memory_region, KVM_MAX_CPUID_ENTRIES, KVM_MEM_READONLY};
use kvm_ioctls::{Cap, Kvm, VcpuFd, VmFd};

use super::Error;
use crate::error::{kvm_err, TenderError};
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

impl Machine {
    /// Opens /dev/kvm, creates the VM, maps `ram` at GPA 0 and creates vCPU 0
    /// with the host's supported CPUID.
    pub fn new(ram: &GuestRam) -> Result<Self, TenderError> {
        Self::with_read_only(ram, &[])
    }

    /// As [`Machine::new`], with each of `read_only` (page-aligned guest
    /// ranges, sorted) in a `KVM_MEM_READONLY` slot of its own: a guest
    /// write there exits as `KVM_EXIT_MMIO` (the muen runner's text).
    pub fn with_read_only(ram: &GuestRam, read_only: &[Range<u64>]) -> Result<Self, TenderError> {
        let kvm = Kvm::new().map_err(Error::OpenKvm)?;
        if !kvm.check_extension(Cap::UserMemory) {
            return Err(Error::MissingCapability("KVM_CAP_USER_MEMORY").into());
        }
        if !kvm.check_extension(Cap::GetTscKhz) {
            return Err(Error::MissingCapability("KVM_CAP_GET_TSC_KHZ").into());
        }
        if !read_only.is_empty() && !kvm.check_extension(Cap::ReadonlyMem) {
            return Err(Error::MissingCapability("KVM_CAP_READONLY_MEM").into());
        }
        let vm = kvm.create_vm().map_err(kvm_err("KVM_CREATE_VM"))?;
        for (slot, (gpa, size, host, ro)) in
            split_slots(ram.slots(), read_only).into_iter().enumerate()
        {
            let region = kvm_userspace_memory_region {
                slot: slot as u32,
                flags: if ro { KVM_MEM_READONLY } else { 0 },
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

/// `slots` (`(gpa, size, host)`) cut at the edges of `read_only`, each
/// piece with whether it lies in one: `(gpa, size, host, read_only)`.
fn split_slots(
    slots: Vec<(u64, u64, u64)>,
    read_only: &[Range<u64>],
) -> Vec<(u64, u64, u64, bool)> {
    let mut pieces = Vec::new();
    for (gpa, size, host) in slots {
        let end = gpa + size;
        let mut cursor = gpa;
        for ro in read_only.iter().filter(|r| r.start < end && r.end > gpa) {
            let (start, stop) = (ro.start.max(gpa), ro.end.min(end));
            if start > cursor {
                pieces.push((cursor, start - cursor, host + (cursor - gpa), false));
            }
            pieces.push((start, stop - start, host + (start - gpa), true));
            cursor = stop;
        }
        if cursor < end {
            pieces.push((cursor, end - cursor, host + (cursor - gpa), false));
        }
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_ranges_get_slots_of_their_own() {
        let slots = vec![(0, 0x10000, 0x7000_0000), (0x10000, 0x1000, 0x9000_0000)];
        assert_eq!(
            split_slots(slots, &[0x2000..0x4000, 0x8000..0x11000]),
            [
                (0, 0x2000, 0x7000_0000, false),
                (0x2000, 0x2000, 0x7000_2000, true),
                (0x4000, 0x4000, 0x7000_4000, false),
                (0x8000, 0x8000, 0x7000_8000, true),
                (0x10000, 0x1000, 0x9000_0000, true),
            ]
        );
    }
}
