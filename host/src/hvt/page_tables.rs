//! Guest page tables, identity mapped, built by the tender in guest RAM.
//!
//! Two layouts: upstream's (ring-0 guests: 2 MiB pages, first 2 MiB in 4 KiB
//! pages, no user bit, no NX) and ours for ring-3 guests (4 KiB pages over the
//! image with per-segment permissions, user bit, NX, tables not mapped).

use crate::error::TenderError;
use crate::guest_memory::GuestRam;

/// Page present.
pub const PTE_P: u64 = 1 << 0;
/// Page writable.
pub const PTE_RW: u64 = 1 << 1;
/// Page accessible from CPL 3.
pub const PTE_US: u64 = 1 << 2;
/// Large page (in a page directory entry: 2 MiB).
pub const PTE_PS: u64 = 1 << 7;
/// Not executable (needs EFER.NXE).
pub const PTE_NX: u64 = 1 << 63;

const PAGE: u64 = 0x1000;
const HUGE: u64 = 0x20_0000;
/// Page directories cover 4 GiB, the most guest RAM hvt allows.
const PD_COUNT: u64 = 4;

/// Permissions of one 4 KiB page of a ring-3 guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PagePerm {
    /// Not mapped.
    None,
    /// CPL 0 only, read-write, not executable (GDT, TSS, trap stack).
    SupervisorData,
    /// CPL 0 only, read-only, executable (trap stubs).
    SupervisorCode,
    /// User, read-only, not executable.
    UserRead,
    /// User, read-only, executable.
    UserExec,
    /// User, read-write, not executable.
    UserWrite,
}

impl PagePerm {
    /// The PTE flag bits of the permission.
    pub fn bits(self) -> u64 {
        match self {
            Self::None => 0,
            Self::SupervisorData => PTE_P | PTE_RW | PTE_NX,
            Self::SupervisorCode => PTE_P,
            Self::UserRead => PTE_P | PTE_US | PTE_NX,
            Self::UserExec => PTE_P | PTE_US,
            Self::UserWrite => PTE_P | PTE_RW | PTE_US | PTE_NX,
        }
    }
}

fn write_table(ram: &GuestRam, gpa: u64, entries: &[u64]) -> Result<(), TenderError> {
    Ok(ram.setup_write(gpa, bytemuck::cast_slice(entries))?)
}

/// Builds upstream's tables at 0x2000 (PML4), 0x3000 (PDPT), 0x4000-0x7fff
/// (PDs), 0x8000 (PT for the first 2 MiB), covering `mapped_size` bytes.
pub fn build_upstream(ram: &GuestRam, mapped_size: u64) -> Result<(), TenderError> {
    const PML4: u64 = 0x2000;
    const PDPT: u64 = 0x3000;
    const PD: u64 = 0x4000;
    const PT0: u64 = 0x8000;
    write_table(ram, PML4, &[PDPT | PTE_P | PTE_RW])?;
    let pdpt: Vec<u64> = (0..PD_COUNT)
        .map(|i| (PD + i * PAGE) | PTE_P | PTE_RW)
        .collect();
    write_table(ram, PDPT, &pdpt)?;
    let pt0: Vec<u64> = (0..512u64)
        .map(|i| {
            let addr = i * PAGE;
            match addr {
                0..0x10000 => 0,
                0x10000..0x100000 => addr | PTE_P,
                _ => addr | PTE_P | PTE_RW,
            }
        })
        .collect();
    write_table(ram, PT0, &pt0)?;
    let pd: Vec<u64> = (0..mapped_size / HUGE)
        .map(|i| {
            if i == 0 {
                PT0 | PTE_P | PTE_RW
            } else {
                (i * HUGE) | PTE_P | PTE_RW | PTE_PS
            }
        })
        .collect();
    write_table(ram, PD, &pd)
}

/// Where the ring-3 tables live: supervisor-only low memory, never mapped.
pub const RING3_TABLES_BASE: u64 = 0x2_0000;
/// End of the area available for ring-3 page tables.
pub const RING3_TABLES_END: u64 = 0x10_0000;

/// Builds ring-3 tables at [`RING3_TABLES_BASE`]: 4 KiB pages with `perm(page)`
/// below `fine_end` (2 MiB aligned), user read-write no-exec 2 MiB pages from
/// there up to `mem_size`. Returns the PML4 address for CR3.
pub fn build_ring3(
    ram: &GuestRam,
    mem_size: u64,
    fine_end: u64,
    perm: impl Fn(u64) -> PagePerm,
) -> Result<u64, TenderError> {
    let pml4 = RING3_TABLES_BASE;
    let pdpt = pml4 + PAGE;
    let pd = pdpt + PAGE;
    let pts = pd + PD_COUNT * PAGE;
    let pt_count = fine_end / HUGE;
    if pts + pt_count * PAGE > RING3_TABLES_END {
        return Err(TenderError::Kernel(
            "Executable image too large to map".into(),
        ));
    }
    let upper = PTE_P | PTE_RW | PTE_US;
    write_table(ram, pml4, &[pdpt | upper])?;
    let pdpt_entries: Vec<u64> = (0..PD_COUNT).map(|i| (pd + i * PAGE) | upper).collect();
    write_table(ram, pdpt, &pdpt_entries)?;
    let pd_entries: Vec<u64> = (0..mem_size / HUGE)
        .map(|i| {
            if i < pt_count {
                (pts + i * PAGE) | upper
            } else {
                (i * HUGE) | PTE_PS | PagePerm::UserWrite.bits()
            }
        })
        .collect();
    write_table(ram, pd, &pd_entries)?;
    for t in 0..pt_count {
        let entries: Vec<u64> = (0..512u64)
            .map(|i| {
                let addr = t * HUGE + i * PAGE;
                let bits = perm(addr).bits();
                if bits == 0 {
                    0
                } else {
                    addr | bits
                }
            })
            .collect();
        write_table(ram, pts + t * PAGE, &entries)?;
    }
    Ok(pml4)
}
