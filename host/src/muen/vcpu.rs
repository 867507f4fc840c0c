//! The subject's vCPU at its first instruction, as Muen starts a "native"
//! Solo5 subject: IA-32e at CPL 0 with Muen's control registers and flat
//! segments, null GDT and IDT (Solo5 installs its own), the runner's page
//! tables, RIP at the ELF entry, RSP 8 below the end of `ram`, RDI at the
//! boot info.

use kvm_bindings::{kvm_regs, kvm_segment};
use kvm_ioctls::VcpuFd;
use ringtender_muen_compat::subject::BOOT_INFO_VA;

use crate::error::TenderError;
use crate::hvt::cpu::{
    segment, CR0_ET, CR0_MP, CR0_NE, CR0_PE, CR0_PG, CR0_WP, CR4_MCE, CR4_OSFXSR, CR4_OSXMMEXCPT,
    CR4_PAE, EFER_LMA, EFER_LME, EFER_NXE, RFLAGS_RESERVED,
};

/// Muen's native profile: PE|MP|ET|NE|WP|PG.
pub const MUEN_CR0: u64 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
/// Muen's native profile (PAE|MCE|OSFXSR) plus the Solo5 component's
/// OSXMMEXCPT; no OSXSAVE, no FSGSBASE.
pub const MUEN_CR4: u64 = CR4_PAE | CR4_MCE | CR4_OSFXSR | CR4_OSXMMEXCPT;
/// The host's EFER, which Muen's subjects run with: LME|LMA|NXE.
pub const MUEN_EFER: u64 = EFER_LME | EFER_LMA | EFER_NXE;

const CS: u16 = 0x08;
const DS: u16 = 0x10;
const TR: u16 = 0x18;
/// Code segment type: execute/read, accessed.
const TYPE_CODE: u8 = 11;
/// Data segment type: read/write, accessed.
const TYPE_DATA: u8 = 3;
/// TSS type: 64-bit busy TSS.
const TYPE_TSS_BUSY: u8 = 11;

fn kvm_err(what: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> TenderError {
    move |source| TenderError::Kvm { what, source }
}

/// Sets `vcpu` to enter `entry` with page tables at `cr3` and the stack
/// below `ram_end`.
pub fn setup(vcpu: &VcpuFd, cr3: u64, entry: u64, ram_end: u64) -> Result<(), TenderError> {
    let mut sregs = vcpu.get_sregs().map_err(kvm_err("KVM_GET_SREGS"))?;
    let unusable = kvm_segment {
        unusable: 1,
        ..Default::default()
    };
    let data = segment(DS, TYPE_DATA, 0, false);
    sregs.cs = segment(CS, TYPE_CODE, 0, true);
    (sregs.ds, sregs.es, sregs.ss) = (data, data, data);
    (sregs.fs, sregs.gs, sregs.ldt) = (unusable, unusable, unusable);
    sregs.tr = kvm_segment {
        selector: TR,
        base: 0,
        limit: 0xffff,
        type_: TYPE_TSS_BUSY,
        present: 1,
        ..Default::default()
    };
    sregs.gdt.base = 0;
    sregs.gdt.limit = 0;
    sregs.idt.base = 0;
    sregs.idt.limit = 0;
    sregs.cr0 = MUEN_CR0;
    sregs.cr3 = cr3;
    sregs.cr4 = MUEN_CR4;
    sregs.efer = MUEN_EFER;
    vcpu.set_sregs(&sregs).map_err(kvm_err("KVM_SET_SREGS"))?;
    let regs = kvm_regs {
        rip: entry,
        rsp: ram_end - 8,
        rdi: BOOT_INFO_VA,
        rflags: RFLAGS_RESERVED,
        ..Default::default()
    };
    vcpu.set_regs(&regs).map_err(kvm_err("KVM_SET_REGS"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_registers_are_muens() {
        assert_eq!(MUEN_CR0, 0x8001_0033);
        assert_eq!(MUEN_CR4, 0x660);
        assert_eq!(MUEN_EFER, 0xd00);
    }
}
