//! The CPL-0 scaffolding a tender owns for a guest it runs at CPL 3, shared
//! by `solo5-hvt` and `solo5-muen-runner`: a GDT with kernel and user
//! segments and a TSS, an IDT whose every vector goes to a CPL-0 stub that
//! reports the vector with an `out` to [`TRAP_PORT`], and the trap stack the
//! stubs run on ([`trap`] reads the CPU's exception frame from it).
//!
//! Everything lives in one [`AREA_SIZE`] area, supervisor-only in the
//! guest's page tables. hvt identity-maps it at 0x1000; the muen runner maps
//! it at a virtual address of its own, apart from the subject's regions.

pub mod trap;

use std::ops::Range;

use kvm_bindings::{kvm_segment, kvm_sregs};
use ringtender_abi::hvt::HVT_TRAP_PIO;

use crate::error::TenderError;
use crate::guest_memory::GuestRam;
use crate::hvt::cpu::segment;
use crate::hvt::page_tables::PagePerm;

/// Bytes of the area: GDT and TSS, IDT, stubs, trap stack, a page each.
pub const AREA_SIZE: u64 = 0x4000;
const GDT_OFFSET: u64 = 0;
const TSS_OFFSET: u64 = 0x80;
const TSS_SIZE: u64 = 104;
/// The I/O permission bitmap covers ports below this; higher ports are denied
/// because they lie beyond the TSS limit.
const IO_BITMAP_PORTS: u16 = 0x800;
/// TSS with its I/O bitmap and the bitmap's terminating byte.
const TSS_LIMIT: u64 = TSS_SIZE + IO_BITMAP_PORTS as u64 / 8;
const IDT_OFFSET: u64 = 0x1000;
const IDT_ENTRIES: u64 = 256;
const STUBS_OFFSET: u64 = 0x2000;
const STUB_STRIDE: u64 = 16;
const TRAP_STACK_OFFSET: u64 = 0x3000;
/// Offset of the trap stack's top (TSS RSP0 and IST1) in the area.
const TRAP_STACK_TOP_OFFSET: u64 = AREA_SIZE;

/// Port the trap stubs write the vector to (one byte, from CPL 0).
pub const TRAP_PORT: u16 = HVT_TRAP_PIO;

const KERNEL_CS: u16 = 0x08;
/// User data selector (GDT entry 3, RPL 3).
pub const USER_DS: u16 = 0x18 | 3;
/// User code selector (GDT entry 4, 64-bit, RPL 3).
pub const USER_CS: u16 = 0x20 | 3;
const TSS_SEL: u16 = 0x28;
const GDT_ENTRIES: u16 = 7;

/// Where the area sits: its virtual (linear) address and its guest-physical
/// address (equal under hvt's identity mapping).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ring3Area {
    /// Linear address of its first byte (page aligned).
    pub va: u64,
    /// Guest-physical address of its first byte (page aligned).
    pub gpa: u64,
}

impl Ring3Area {
    /// Linear address of the trap stack's top: the CPU's exception frame
    /// ends there.
    pub fn trap_stack_top(&self) -> u64 {
        self.va + TRAP_STACK_TOP_OFFSET
    }

    /// The page permission of linear address `va` if the area holds it.
    pub fn perm(&self, va: u64) -> Option<PagePerm> {
        let offset = va.checked_sub(self.va).filter(|&o| o < AREA_SIZE)?;
        Some(match offset {
            STUBS_OFFSET..TRAP_STACK_OFFSET => PagePerm::SupervisorCode,
            _ => PagePerm::SupervisorData,
        })
    }

    /// Writes the GDT, the TSS (opening only `ports` to CPL 3 in its I/O
    /// permission bitmap), the IDT and the trap stubs into `ram`.
    pub fn write(&self, ram: &GuestRam, ports: &[Range<u16>]) -> Result<(), TenderError> {
        let tss = self.va + TSS_OFFSET;
        let tss_low =
            TSS_LIMIT | ((tss & 0xff_ffff) << 16) | (0x89 << 40) | (((tss >> 24) & 0xff) << 56);
        let gdt = [
            0u64,
            0x00af_9b00_0000_ffff, // kernel code, 64-bit
            0x00cf_9300_0000_ffff, // kernel data
            0x00cf_f300_0000_ffff, // user data, DPL 3
            0x00af_fb00_0000_ffff, // user code, 64-bit, DPL 3
            tss_low,
            tss >> 32,
        ];
        ram.setup_write(self.gpa + GDT_OFFSET, bytemuck::cast_slice(&gdt))?;
        ram.setup_write(self.gpa + TSS_OFFSET, &self.tss(ports))?;

        let mut idt = Vec::with_capacity(IDT_ENTRIES as usize * 2);
        let mut stubs = Vec::with_capacity((IDT_ENTRIES * STUB_STRIDE) as usize);
        for vector in 0..IDT_ENTRIES {
            let handler = self.va + STUBS_OFFSET + vector * STUB_STRIDE;
            idt.push(
                (handler & 0xffff)
                    | (u64::from(KERNEL_CS) << 16)
                    | (1 << 32) // IST1
                    | (0x8e << 40) // present, DPL 0, 64-bit interrupt gate
                    | (((handler >> 16) & 0xffff) << 48),
            );
            idt.push(handler >> 32);
            stubs.extend_from_slice(&stub(vector as u8));
            stubs.resize(((vector + 1) * STUB_STRIDE) as usize, 0xcc);
        }
        ram.setup_write(self.gpa + IDT_OFFSET, bytemuck::cast_slice(&idt))?;
        Ok(ram.setup_write(self.gpa + STUBS_OFFSET, &stubs)?)
    }

    /// The TSS: trap stack for RSP0 and IST1, and an I/O permission bitmap
    /// that opens only `ports`. RFLAGS.IOPL = 3 allows every port on
    /// hardware virtualization; PVM runs CPL 3 with the host's IOPL 0 and
    /// checks the bitmap.
    fn tss(&self, ports: &[Range<u16>]) -> Vec<u8> {
        let top = self.trap_stack_top().to_le_bytes();
        let mut tss = vec![0u8; TSS_LIMIT as usize + 1];
        tss[4..12].copy_from_slice(&top); // RSP0
        tss[36..44].copy_from_slice(&top); // IST1
        tss[102..104].copy_from_slice(&(TSS_SIZE as u16).to_le_bytes()); // I/O bitmap offset
        let bitmap = &mut tss[TSS_SIZE as usize..];
        bitmap.fill(0xff);
        for port in ports.iter().cloned().flatten() {
            bitmap[usize::from(port / 8)] &= !(1 << (port % 8));
        }
        tss
    }

    /// Sets `sregs` to CPL 3 with the area's GDT, TSS and IDT: CS = user
    /// code, SS = DS = ES = FS = GS = user data (bases 0).
    pub fn enter_user(&self, sregs: &mut kvm_sregs) {
        let data = segment(USER_DS, 3, 3, false);
        (sregs.ds, sregs.es, sregs.fs, sregs.gs) = (data, data, data, data);
        return_to_user(sregs);
        sregs.tr = kvm_segment {
            selector: TSS_SEL,
            base: self.va + TSS_OFFSET,
            limit: TSS_LIMIT as u32,
            type_: 11,
            present: 1,
            ..Default::default()
        };
        sregs.ldt = kvm_segment {
            unusable: 1,
            ..Default::default()
        };
        sregs.gdt.base = self.va + GDT_OFFSET;
        sregs.gdt.limit = GDT_ENTRIES * 8 - 1;
        sregs.idt.base = self.va + IDT_OFFSET;
        sregs.idt.limit = (IDT_ENTRIES * 16 - 1) as u16;
    }
}

/// Sets CS and SS of `sregs` back to the user segments, as `iretq` from a
/// trap stub would (the CPU loaded the kernel's CS and a null SS to run
/// it); the other segments, FS and GS bases included, stay as they are.
pub fn return_to_user(sregs: &mut kvm_sregs) {
    sregs.cs = segment(USER_CS, 11, 3, true);
    sregs.ss = segment(USER_DS, 3, 3, false);
}

/// The stub of `vector`: save RAX and RDX (the `out` needs them) below the
/// CPU's frame on the trap stack, write the vector to [`TRAP_PORT`], and
/// stay there. The tender reads the frame and the two registers
/// ([`trap::read`]); it either ends the guest or resumes it at CPL 3 with
/// KVM_SET_REGS/KVM_SET_SREGS.
fn stub(vector: u8) -> [u8; 11] {
    let port = TRAP_PORT.to_le_bytes();
    [
        0x50, // push rax
        0x52, // push rdx
        0xb0, vector, // mov al, vector
        0x66, 0xba, port[0], port[1], // mov dx, TRAP_PORT
        0xee,    // out dx, al
        0xeb, 0xfe, // jmp .
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_of_the_area_are_supervisor_only_and_only_the_stubs_execute() {
        let area = Ring3Area {
            va: 0x1000,
            gpa: 0x1000,
        };
        assert_eq!(area.perm(0xfff), None);
        assert_eq!(area.perm(0x1000), Some(PagePerm::SupervisorData));
        assert_eq!(area.perm(0x2000), Some(PagePerm::SupervisorData));
        assert_eq!(area.perm(0x3000), Some(PagePerm::SupervisorCode));
        assert_eq!(area.perm(0x4fff), Some(PagePerm::SupervisorData));
        assert_eq!(area.perm(0x5000), None);
        assert_eq!(area.trap_stack_top(), 0x5000);
    }

    #[test]
    fn the_tss_opens_exactly_the_given_ports() {
        let area = Ring3Area { va: 0, gpa: 0 };
        let tss = area.tss(&[0x500..0x504]);
        let bitmap = &tss[TSS_SIZE as usize..];
        assert_eq!(bitmap[0x500 / 8], 0xf0);
        assert!(bitmap
            .iter()
            .enumerate()
            .all(|(i, &b)| i == 0x500 / 8 || b == 0xff));
        assert!(area.tss(&[])[TSS_SIZE as usize..]
            .iter()
            .all(|&b| b == 0xff));
    }
}
