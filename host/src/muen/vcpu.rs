//! The subject's vCPU at its first instruction, as Muen starts a "native"
//! Solo5 subject: IA-32e at CPL 0 with Muen's control registers and flat
//! segments, null GDT and IDT (Solo5 installs its own), the runner's page
//! tables, RIP at the ELF entry, RSP 8 below the end of `ram`, RDI at the
//! boot info.
//!
//! Our own binaries (the RNG3 note with `RING3_FLAG_CPL3`) may start at
//! CPL 3 instead, with the same registers: on this machine's PVM KVM ring-0
//! guest code is emulated and the emulator rejects SSE, which Rust's `core`
//! uses everywhere. The runner then owns a GDT, TSS and IDT
//! ([`crate::ring3`]) at [`RING3_AREA_VA`], outside every region of the
//! subject, and carries out the privileged instructions the bindings still
//! execute (`super::privileged`).

use std::ops::Range;

use kvm_bindings::{kvm_regs, kvm_segment, kvm_sregs};
use kvm_ioctls::VcpuFd;
use ringtender_abi::elf_note::RING3_FLAG_CPL3;
use ringtender_muen_compat::subject::BOOT_INFO_VA;

use crate::error::{kvm_err, TenderError};
use crate::guest_memory::GuestRam;
use crate::hvt::cpu::{
    segment, CR0_ET, CR0_MP, CR0_NE, CR0_PE, CR0_PG, CR0_WP, CR4_MCE, CR4_OSFXSR, CR4_OSXMMEXCPT,
    CR4_PAE, EFER_LMA, EFER_LME, EFER_NXE, RFLAGS_RESERVED,
};
use crate::muen::layout::{Region, Role, SubjectLayout};
use crate::muen::page_tables::{PageOwner, PageTables};
use crate::ring3::{Ring3Area, AREA_SIZE};

/// Muen's native profile: PE|MP|ET|NE|WP|PG.
pub const MUEN_CR0: u64 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
/// Muen's native profile (PAE|MCE|OSFXSR) plus the Solo5 component's
/// OSXMMEXCPT; no OSXSAVE, no FSGSBASE.
pub const MUEN_CR4: u64 = CR4_PAE | CR4_MCE | CR4_OSFXSR | CR4_OSXMMEXCPT;
/// The host's EFER, which Muen's subjects run with: LME|LMA|NXE.
pub const MUEN_EFER: u64 = EFER_LME | EFER_LMA | EFER_NXE;

/// Where a CPL-3 subject's descriptor tables, trap stubs and trap stack
/// are mapped (supervisor-only): between the subject info pages
/// (0xe_0000_0000) and `time_info` (0xf_ffd0_0000), where Muen's tools
/// place nothing.
pub const RING3_AREA_VA: u64 = 0xf_0000_0000;

/// The privilege level the subject runs at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Privilege {
    /// CPL 0, exactly as Muen starts a subject (strict).
    Cpl0,
    /// CPL 3 under the runner's descriptor tables in `Ring3Area` (fast).
    Cpl3(Ring3Area),
}

const CS: u16 = 0x08;
const DS: u16 = 0x10;
const TR: u16 = 0x18;
/// Code segment type: execute/read, accessed.
const TYPE_CODE: u8 = 11;
/// Data segment type: read/write, accessed.
const TYPE_DATA: u8 = 3;
/// TSS type: 64-bit busy TSS.
const TYPE_TSS_BUSY: u8 = 11;

/// Muen's segments: CS 0x08, DS/ES/SS 0x10, TR 0x18, FS/GS/LDTR unusable,
/// null GDT and IDT.
fn muen_segments(sregs: &mut kvm_sregs) {
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
}

/// Whether `region` is read-only text: part of the binary, executable, not
/// writable (where a `vmcall` can be).
fn read_only_text(region: &Region) -> bool {
    region.role == Role::Binary && region.executable && !region.writable
}

/// The guest-physical ranges of a CPL-0 subject's read-only text, which the
/// runner puts in read-only memory slots (`text_write`); none at CPL 3.
pub fn text_slots(layout: &SubjectLayout, privilege: Privilege) -> Vec<Range<u64>> {
    if privilege != Privilege::Cpl0 {
        return Vec::new();
    }
    layout
        .regions
        .iter()
        .filter(|r| read_only_text(r))
        .map(|r| r.gpa..r.gpa + r.size)
        .collect()
}

/// The subject's privilege (CPL 3 for binaries whose RNG3 note says so)
/// and its page tables. A CPL-3 subject's ring-3 area sits in GPA space
/// right after the regions, the tables after it. At CPL 0 the read-only
/// text is writable in the page tables and read-only in its memory slot
/// instead ([`text_slots`]), so that this host's KVM reports its rewrite
/// of a `vmcall` there and the runner sees the subject's other writes
/// there, which it turns into the page fault Muen gives (`text_write`).
pub fn address_space(layout: &SubjectLayout, ring3_flags: u32) -> (Privilege, PageTables) {
    let regions_end = layout.regions_gpa_end;
    if ring3_flags & RING3_FLAG_CPL3 == 0 {
        let regions: Vec<Region> = layout
            .regions
            .iter()
            .map(|r| Region {
                writable: r.writable || read_only_text(r),
                ..r.clone()
            })
            .collect();
        let tables = PageTables::build(regions_end, &regions, PageOwner::Supervisor);
        return (Privilege::Cpl0, tables);
    }
    let area = Ring3Area {
        va: RING3_AREA_VA,
        gpa: regions_end,
    };
    let mut tables = PageTables::build(regions_end + AREA_SIZE, &layout.regions, PageOwner::User);
    tables.map_ring3_area(&area);
    (Privilege::Cpl3(area), tables)
}

/// Sets `vcpu` (and, at CPL 3, the ring-3 area in `ram`) to enter `entry` at `privilege` with page tables at `cr3`
/// and the stack below `ram_end`.
pub fn setup(
    vcpu: &VcpuFd,
    ram: &GuestRam,
    privilege: Privilege,
    cr3: u64,
    entry: u64,
    ram_end: u64,
) -> Result<(), TenderError> {
    let mut sregs = vcpu.get_sregs().map_err(kvm_err("KVM_GET_SREGS"))?;
    match privilege {
        Privilege::Cpl0 => muen_segments(&mut sregs),
        // IOPL stays 0 (RFLAGS below): no port and no `cli` for the subject.
        Privilege::Cpl3(area) => {
            // No port for the subject: its trap stubs' `out` runs at CPL 0.
            area.write(ram, &[])?;
            area.enter_user(&mut sregs);
        }
    }
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
