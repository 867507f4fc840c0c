//! Guest-virtual to guest-physical translation through the guest's own
//! 4-level page tables, read from guest memory with tender reads (the
//! debugger's `m`/`M` packets name virtual addresses).

use crate::guest_memory::GuestRam;

/// Physical-address bits of a page-table entry or of CR3.
const ADDRESS_MASK: u64 = 0x000f_ffff_ffff_f000;
const PRESENT: u64 = 1 << 0;
const PAGE_SIZE_BIT: u64 = 1 << 7;
/// Bytes of a 4 KiB page.
pub const PAGE: u64 = 0x1000;

/// Whether `va` is canonical for 48-bit linear addresses.
fn canonical(va: u64) -> bool {
    let upper = va >> 47;
    upper == 0 || upper == (1 << 17) - 1
}

/// The guest-physical address `va` maps to under the page tables at `cr3`,
/// or None if it is not mapped (or a table lies outside guest memory).
pub fn translate(ram: &GuestRam, cr3: u64, va: u64) -> Option<u64> {
    if !canonical(va) {
        return None;
    }
    let mut table = cr3 & ADDRESS_MASK;
    // Levels 3 (PML4) down to 0 (page table); levels 2 and 1 may map
    // 1 GiB and 2 MiB pages.
    for level in (0..4u32).rev() {
        let shift = 12 + 9 * level;
        let index = (va >> shift) & 0x1ff;
        let entry: u64 = ram.setup_read(table + index * 8).ok()?;
        if entry & PRESENT == 0 {
            return None;
        }
        if (level == 1 || level == 2) && entry & PAGE_SIZE_BIT != 0 {
            let offset_mask = (1u64 << shift) - 1;
            return Some((entry & ADDRESS_MASK & !offset_mask) | (va & offset_mask));
        }
        table = entry & ADDRESS_MASK;
    }
    Some(table | (va & (PAGE - 1)))
}

/// Splits `[va, va + len)` into pieces that stay within one 4 KiB page:
/// `(va, offset into the request, length)`.
pub fn page_pieces(va: u64, len: usize) -> impl Iterator<Item = (u64, usize, usize)> {
    let mut done = 0usize;
    std::iter::from_fn(move || {
        if done >= len {
            return None;
        }
        let at = va.wrapping_add(done as u64);
        let in_page = (PAGE - (at & (PAGE - 1))) as usize;
        let n = in_page.min(len - done);
        let piece = (at, done, n);
        done += n;
        Some(piece)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_4k_and_2m_pages_and_refuses_unmapped_ones() {
        let ram = GuestRam::new(8 << 20).unwrap();
        let (pml4, pdpt, pd, pt) = (0x1000u64, 0x2000u64, 0x3000u64, 0x4000u64);
        ram.setup_write(pml4, &(pdpt | 3).to_le_bytes()).unwrap();
        ram.setup_write(pdpt, &(pd | 3).to_le_bytes()).unwrap();
        // 0..2 MiB through a page table, 2..4 MiB as one large page.
        ram.setup_write(pd, &(pt | 3).to_le_bytes()).unwrap();
        ram.setup_write(pd + 8, &(0x60_0000u64 | 0x83).to_le_bytes())
            .unwrap();
        ram.setup_write(pt + 5 * 8, &(0x7000u64 | 3).to_le_bytes())
            .unwrap();
        assert_eq!(translate(&ram, pml4, 0x5123), Some(0x7123));
        assert_eq!(translate(&ram, pml4, 0x6000), None);
        assert_eq!(translate(&ram, pml4, 0x20_0042), Some(0x60_0042));
        assert_eq!(translate(&ram, pml4, 0x40_0000), None);
        assert_eq!(translate(&ram, pml4, 0x8000_0000_0000), None);
    }

    #[test]
    fn pieces_never_cross_a_page() {
        let pieces: Vec<_> = page_pieces(0xffe, 0x1004).collect();
        assert_eq!(
            pieces,
            vec![(0xffe, 0, 2), (0x1000, 2, 0x1000), (0x2000, 0x1002, 2)]
        );
        assert_eq!(page_pieces(0, 0).count(), 0);
    }
}
