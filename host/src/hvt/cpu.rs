//! x86_64 vCPU start-up state: page tables, control and segment registers,
//! for ring-0 (upstream) and ring-3 guests (whose descriptor tables and trap
//! stubs come from `crate::ring3`).
//!
//! The ring-3 layout is specified in `docs/guest-contract.md`.

use std::ops::Range;

use kvm_bindings::{kvm_regs, kvm_segment};
use kvm_ioctls::VcpuFd;
use ringtender_abi::hvt::{
    HVT_BOOT_INFO_BASE, HVT_GUEST_MIN_BASE, HVT_HYPERCALL_MAX, HVT_HYPERCALL_PIO_BASE,
    HVT_RING_KICK_PIO_BASE,
};
use ringtender_abi::rings::RT_RING_SEND_PIO;

use crate::error::TenderError;
use crate::guest_memory::GuestRam;
use crate::hvt::page_tables::{self, PagePerm};
use crate::ring3::Ring3Area;

/// How the guest runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestMode {
    /// CPL 0 with upstream Solo5's exact start-up state (binaries without our note).
    Ring0,
    /// CPL 3 with tender-owned descriptor tables and trap stubs (our bindings).
    Ring3,
}

/// The ring-0 GDT's place (upstream's).
const GDT_BASE: u64 = 0x1000;
/// Where the ring-3 descriptor tables, stubs and trap stack live
/// (identity-mapped, supervisor only).
pub const RING3_AREA: Ring3Area = Ring3Area {
    va: 0x1000,
    gpa: 0x1000,
};
/// Ports a ring-3 guest may use: the hypercalls, the ring doorbells and the
/// rings' send port, each written with a 4-byte `out`, which needs all four
/// ports' bits clear.
const GUEST_PORTS: [Range<u16>; 2] = [
    HVT_HYPERCALL_PIO_BASE..HVT_HYPERCALL_PIO_BASE + HVT_HYPERCALL_MAX as u16 + 3,
    HVT_RING_KICK_PIO_BASE..RT_RING_SEND_PIO + 4,
];
/// Boot info, manifest and command line live in this user read-only range.
pub const BOOT_AREA: Range<u64> = HVT_BOOT_INFO_BASE..0x2_0000;

const KERNEL_CS: u16 = 0x08;

pub(crate) const CR0_PE: u64 = 1 << 0;
pub(crate) const CR0_MP: u64 = 1 << 1;
pub(crate) const CR0_ET: u64 = 1 << 4;
pub(crate) const CR0_NE: u64 = 1 << 5;
pub(crate) const CR0_WP: u64 = 1 << 16;
pub(crate) const CR0_PG: u64 = 1 << 31;
pub(crate) const CR4_PAE: u64 = 1 << 5;
pub(crate) const CR4_MCE: u64 = 1 << 6;
pub(crate) const CR4_OSFXSR: u64 = 1 << 9;
pub(crate) const CR4_OSXMMEXCPT: u64 = 1 << 10;
const CR4_FSGSBASE: u64 = 1 << 16;
pub(crate) const EFER_LME: u64 = 1 << 8;
pub(crate) const EFER_LMA: u64 = 1 << 10;
pub(crate) const EFER_NXE: u64 = 1 << 11;
pub(crate) const RFLAGS_RESERVED: u64 = 1 << 1;
const RFLAGS_IOPL3: u64 = 3 << 12;

/// The image as the page tables and access checks need it.
pub struct ImageLayout {
    /// Page-aligned `[start, end)` of each loaded segment with its permission.
    pub segments: Vec<(Range<u64>, PagePerm)>,
    /// Page-aligned end of the highest segment (heap starts above).
    pub image_end: u64,
}

/// Writes descriptor tables and page tables into `ram`, sets the vCPU's
/// registers to enter `entry`, and tells `ram` what the guest may access.
///
/// `mem_size` is the guest's RAM as told in the boot info; `ram` may be larger
/// (the #637 ring sits above `mem_size`), and ring-0 page tables map all of it.
pub fn setup(
    vcpu: &VcpuFd,
    ram: &mut GuestRam,
    mode: GuestMode,
    image: &ImageLayout,
    entry: u64,
    mem_size: u64,
) -> Result<(), TenderError> {
    let sregs_err = |source| TenderError::Kvm {
        what: "KVM_SET_SREGS",
        source,
    };
    let mut sregs = vcpu.get_sregs().map_err(|source| TenderError::Kvm {
        what: "KVM_GET_SREGS",
        source,
    })?;
    match mode {
        GuestMode::Ring0 => {
            page_tables::build_upstream(ram, ram.size())?;
            ram.setup_write(
                GDT_BASE,
                bytemuck::cast_slice(&[0u64, 0x00af_9900_0000_ffff, 0x00cf_9300_0000_ffff]),
            )?;
            let code = segment(KERNEL_CS, 9, 0, true);
            let data = segment(0x10, 3, 0, false);
            sregs.cs = code;
            (sregs.ds, sregs.es, sregs.fs, sregs.gs, sregs.ss) = (data, data, data, data, data);
            sregs.tr = kvm_segment {
                selector: 0,
                base: 0,
                limit: 0,
                type_: 11,
                present: 1,
                ..Default::default()
            };
            sregs.ldt = kvm_segment {
                unusable: 1,
                ..Default::default()
            };
            sregs.gdt.base = GDT_BASE;
            sregs.gdt.limit = 23;
            sregs.cr0 = CR0_PE | CR0_NE | CR0_WP | CR0_PG;
            sregs.cr3 = 0x2000;
            sregs.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
            sregs.efer = EFER_LME | EFER_LMA;
            let mut writable = vec![0..mem_size];
            for (range, perm) in &image.segments {
                if *perm != PagePerm::UserWrite {
                    ram.protect_read_only(range.start, range.end)?;
                    writable = subtract(writable, range);
                }
            }
            ram.set_guest_access(vec![0..mem_size], writable);
        }
        GuestMode::Ring3 => {
            RING3_AREA.write(ram, &GUEST_PORTS)?;
            let fine_end = image.image_end.next_multiple_of(0x20_0000);
            let cr3 = page_tables::build_ring3(ram, ram.size(), fine_end, |addr| {
                ring3_perm(image, addr)
            })?;
            RING3_AREA.enter_user(&mut sregs);
            sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
            sregs.cr3 = cr3;
            sregs.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_FSGSBASE;
            sregs.efer = EFER_LME | EFER_LMA | EFER_NXE;
            let readable = vec![BOOT_AREA.clone(), HVT_GUEST_MIN_BASE..ram.size()];
            let mut writable = vec![HVT_GUEST_MIN_BASE..ram.size()];
            for (range, perm) in &image.segments {
                if *perm != PagePerm::UserWrite {
                    writable = subtract(writable, range);
                }
            }
            ram.set_guest_access(
                crate::guest_memory::merge_ranges(readable),
                crate::guest_memory::merge_ranges(writable),
            );
        }
    }
    vcpu.set_sregs(&sregs).map_err(sregs_err)?;
    let regs = kvm_regs {
        rip: entry,
        rsp: mem_size - 8,
        rdi: HVT_BOOT_INFO_BASE,
        rflags: match mode {
            GuestMode::Ring0 => RFLAGS_RESERVED,
            GuestMode::Ring3 => RFLAGS_RESERVED | RFLAGS_IOPL3,
        },
        ..Default::default()
    };
    vcpu.set_regs(&regs).map_err(|source| TenderError::Kvm {
        what: "KVM_SET_REGS",
        source,
    })
}

/// A flat 4 GiB segment: 64-bit code (`code`) or 32-bit-default data.
pub(crate) fn segment(selector: u16, type_: u8, dpl: u8, code: bool) -> kvm_segment {
    kvm_segment {
        base: 0,
        limit: 0xffff_ffff,
        selector,
        type_,
        present: 1,
        dpl,
        db: u8::from(!code),
        s: 1,
        l: u8::from(code),
        g: 1,
        ..Default::default()
    }
}

fn ring3_perm(image: &ImageLayout, addr: u64) -> PagePerm {
    if let Some((_, perm)) = image.segments.iter().find(|(r, _)| r.contains(&addr)) {
        return *perm;
    }
    if let Some(perm) = RING3_AREA.perm(addr) {
        return perm;
    }
    match addr {
        a if BOOT_AREA.contains(&a) => PagePerm::UserRead,
        // .bss-only segments (skipped by the loader: nothing to copy), gaps,
        // heap and stack: data, never executable.
        a if a >= HVT_GUEST_MIN_BASE => PagePerm::UserWrite,
        _ => PagePerm::None,
    }
}

fn subtract(ranges: Vec<Range<u64>>, cut: &Range<u64>) -> Vec<Range<u64>> {
    let mut out = Vec::with_capacity(ranges.len() + 1);
    for r in ranges {
        if cut.end <= r.start || cut.start >= r.end {
            out.push(r);
            continue;
        }
        if r.start < cut.start {
            out.push(r.start..cut.start);
        }
        if cut.end < r.end {
            out.push(cut.end..r.end);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtract_splits_ranges() {
        assert_eq!(subtract(vec![0..100], &(10..20)), vec![0..10, 20..100]);
        assert_eq!(subtract(vec![0..100], &(0..100)), vec![]);
        assert_eq!(subtract(vec![0..10, 20..30], &(5..25)), vec![0..5, 25..30]);
    }
}
