//! The subject's 4-level page tables, as Muen's `mugenpt` builds them from
//! the policy: 4 KiB pages, only the regions of the layout mapped, read-only
//! unless writable, not executable unless executable. They live in GPA
//! space past the regions, which no virtual address maps, so the subject
//! cannot change them.
//!
//! For a subject at CPL 3 (the runner's fast mode) every page of a region
//! is also a user page, and the runner's own descriptor tables, trap stubs
//! and trap stack (`crate::ring3`) are mapped supervisor-only.

use std::collections::BTreeMap;

use crate::error::TenderError;
use crate::guest_memory::GuestRam;
use crate::hvt::page_tables::{PTE_NX, PTE_P, PTE_RW, PTE_US};
use crate::muen::layout::{Region, PAGE};
use crate::ring3::{Ring3Area, AREA_SIZE};

const ENTRIES: usize = 512;
/// Flags of the upper levels: every right, the leaf decides.
const UPPER: u64 = PTE_P | PTE_RW;

/// Page tables under construction: tables by index, index 0 the PML4.
pub struct PageTables {
    base: u64,
    tables: Vec<[u64; ENTRIES]>,
    /// Flags of the upper levels' entries.
    upper: u64,
    /// (level, parent table, parent index) → child table index.
    children: BTreeMap<(u8, usize, usize), usize>,
}

/// Who may use the regions' pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageOwner {
    /// A CPL-0 subject: supervisor pages, as Muen maps them.
    Supervisor,
    /// A CPL-3 subject: user pages.
    User,
}

/// The PTE of a page of `region` at `gpa`.
fn leaf(region: &Region, gpa: u64, owner: PageOwner) -> u64 {
    let mut pte = gpa | PTE_P;
    if owner == PageOwner::User {
        pte |= PTE_US;
    }
    if region.writable {
        pte |= PTE_RW;
    }
    if !region.executable {
        pte |= PTE_NX;
    }
    pte
}

impl PageTables {
    /// Tables mapping every region for `owner`, to be placed at GPA `base`
    /// (page aligned).
    pub fn build(base: u64, regions: &[Region], owner: PageOwner) -> Self {
        let upper = match owner {
            PageOwner::Supervisor => UPPER,
            PageOwner::User => UPPER | PTE_US,
        };
        let mut pt = Self {
            base,
            tables: vec![[0; ENTRIES]],
            upper,
            children: BTreeMap::new(),
        };
        for region in regions {
            for offset in (0..region.size).step_by(PAGE as usize) {
                pt.map(region.va + offset, leaf(region, region.gpa + offset, owner));
            }
        }
        pt
    }

    /// Maps the runner's ring-3 area (supervisor-only pages).
    pub fn map_ring3_area(&mut self, area: &Ring3Area) {
        for offset in (0..AREA_SIZE).step_by(PAGE as usize) {
            let perm = area
                .perm(area.va + offset)
                .expect("every page of the area has a permission");
            self.map(area.va + offset, (area.gpa + offset) | perm.bits());
        }
    }

    fn child(&mut self, level: u8, parent: usize, index: usize) -> usize {
        if let Some(&child) = self.children.get(&(level, parent, index)) {
            return child;
        }
        let child = self.tables.len();
        self.tables.push([0; ENTRIES]);
        self.tables[parent][index] = (self.base + child as u64 * PAGE) | self.upper;
        self.children.insert((level, parent, index), child);
        child
    }

    fn map(&mut self, va: u64, pte: u64) {
        let index = |shift: u32| ((va >> shift) as usize) & (ENTRIES - 1);
        let pdpt = self.child(4, 0, index(39));
        let pd = self.child(3, pdpt, index(30));
        let pt = self.child(2, pd, index(21));
        self.tables[pt][index(12)] = pte;
    }

    /// Bytes the tables take.
    pub fn bytes(&self) -> u64 {
        self.tables.len() as u64 * PAGE
    }

    /// GPA of the PML4 (for CR3).
    pub fn root(&self) -> u64 {
        self.base
    }

    /// Writes the tables into `ram` at their base.
    pub fn write(&self, ram: &GuestRam) -> Result<(), TenderError> {
        for (i, table) in self.tables.iter().enumerate() {
            ram.setup_write(self.base + i as u64 * PAGE, bytemuck::cast_slice(table))?;
        }
        Ok(())
    }

    /// The PTE mapping `va`, if any (for tests and the walk below).
    pub fn lookup(&self, va: u64) -> Option<u64> {
        let index = |shift: u32| ((va >> shift) as usize) & (ENTRIES - 1);
        let pdpt = *self.children.get(&(4, 0, index(39)))?;
        let pd = *self.children.get(&(3, pdpt, index(30)))?;
        let pt = *self.children.get(&(2, pd, index(21)))?;
        Some(self.tables[pt][index(12)]).filter(|pte| pte & PTE_P != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::muen::layout::Role;
    use ringtender_muen_compat::sinfo::MemoryKind;

    fn region(va: u64, size: u64, gpa: u64, writable: bool, executable: bool) -> Region {
        Region {
            name: "r".into(),
            role: Role::Ram,
            device: None,
            va,
            size,
            gpa,
            writable,
            executable,
            kind: MemoryKind::SUBJECT,
        }
    }

    #[test]
    fn leaves_carry_the_regions_rights_and_nothing_else_is_mapped() {
        let regions = [
            region(0x20_0000, 0x2000, 0x0, false, true),
            region(0x20_2000, 0x1000, 0x2000, true, false),
            region(0xf_fff0_0000, 0x2_0000, 0x3000, true, false),
            region(0x1000, 0x1000, 0x2_3000, false, false),
        ];
        let pt = PageTables::build(0x10_0000, &regions, PageOwner::Supervisor);
        assert_eq!(pt.lookup(0x20_0000), Some(PTE_P));
        assert_eq!(pt.lookup(0x20_1000), Some(0x1000 | PTE_P));
        assert_eq!(pt.lookup(0x20_2000), Some(0x2000 | PTE_P | PTE_RW | PTE_NX));
        assert_eq!(
            pt.lookup(0xf_fff1_f000),
            Some(0x2_2000 | PTE_P | PTE_RW | PTE_NX)
        );
        assert_eq!(pt.lookup(0x1000), Some(0x2_3000 | PTE_P | PTE_NX));
        assert_eq!(pt.lookup(0), None);
        assert_eq!(pt.lookup(0x20_3000), None);
        assert_eq!(pt.lookup(0xf_fff2_0000), None);
        // PML4, one PDPT, two PDs (0..1G, 63G..64G), three PTs (0..2M,
        // 2M..4M, the debug log's).
        assert_eq!(pt.bytes(), 7 * PAGE);
        assert_eq!(pt.tables[0][0], (0x10_0000 + PAGE) | UPPER);
    }

    #[test]
    fn a_user_subject_gets_user_pages_and_the_ring3_area_stays_supervisor() {
        let regions = [
            region(0x20_0000, 0x1000, 0x0, false, true),
            region(0x20_1000, 0x1000, 0x1000, true, false),
        ];
        let area = Ring3Area {
            va: 0xf_0000_0000,
            gpa: 0x2000,
        };
        let mut pt = PageTables::build(0x10_0000, &regions, PageOwner::User);
        pt.map_ring3_area(&area);
        assert_eq!(pt.lookup(0x20_0000), Some(PTE_P | PTE_US));
        assert_eq!(
            pt.lookup(0x20_1000),
            Some(0x1000 | PTE_P | PTE_RW | PTE_US | PTE_NX)
        );
        // GDT/TSS, IDT: data; stubs: code; trap stack: data; none user.
        assert_eq!(
            pt.lookup(0xf_0000_0000),
            Some(0x2000 | PTE_P | PTE_RW | PTE_NX)
        );
        assert_eq!(pt.lookup(0xf_0000_2000), Some(0x4000 | PTE_P));
        assert_eq!(
            pt.lookup(0xf_0000_3000),
            Some(0x5000 | PTE_P | PTE_RW | PTE_NX)
        );
        assert_eq!(pt.lookup(0xf_0000_4000), None);
        assert_eq!(pt.tables[0][0], (0x10_0000 + PAGE) | UPPER | PTE_US);
    }
}
