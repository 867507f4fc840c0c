//! Thread-local storage, x86_64 variant II: the TLS block is followed by the
//! thread pointer, which points to itself. The base goes in FS.

use crate::platform::{target, Target};
use crate::{cpu, muen, spt};

extern "C" {
    static _stdata: u8;
    static _ltdata: u8;
    static _ltbss: u8;
}

fn tdata_len() -> usize {
    // SAFETY: linker-script symbol whose address is a length.
    unsafe { &_ltdata as *const u8 as usize }
}

fn tbss_len() -> usize {
    // SAFETY: linker-script symbol whose address is a length.
    unsafe { &_ltbss as *const u8 as usize }
}

/// Bytes of a TLS block: .tdata, .tbss and the thread pointer word.
pub fn size() -> usize {
    tdata_len() + tbss_len() + size_of::<u64>()
}

/// Thread pointer of the block at `tls`.
pub fn tp_offset(tls: usize) -> usize {
    tls + tdata_len() + tbss_len()
}

/// Initialises the block at `tls`: copies .tdata and sets the self pointer.
///
/// # Safety
/// `tls` must point to [`size`] writable, zero-filled bytes.
pub unsafe fn init(tls: usize) {
    let tp = tp_offset(tls);
    // SAFETY: the caller gives us `size()` writable bytes at `tls`; .tdata is
    // `tdata_len()` readable bytes at `_stdata`.
    unsafe {
        core::ptr::copy_nonoverlapping(&_stdata as *const u8, tls as *mut u8, tdata_len());
        (tp as *mut u64).write_unaligned(tp as u64);
    }
}

/// Sets the FS base (TLS thread pointer): `wrfsbase` on hvt at CPL 3 (our
/// tender sets CR4.FSGSBASE), `wrmsr` on hvt at CPL 0 (upstream's tender,
/// as upstream's bindings do), `arch_prctl` on spt (what upstream's filter
/// allows), `wrmsr` on muen.
pub fn set_base(base: u64) {
    match target() {
        Target::Hvt if cpu::cpl() == 0 => cpu::set_fs_base(base),
        Target::Hvt => wrfsbase(base),
        Target::Spt => spt::set_fs_base(base),
        Target::Muen => muen::cpu::set_fs_base(base),
    }
}

/// `wrfsbase` (hvt: the tender sets CR4.FSGSBASE).
#[cfg(not(feature = "muen-only"))]
fn wrfsbase(base: u64) {
    // SAFETY: wrfsbase only changes this thread's FS base; CR4.FSGSBASE is
    // set by the tender. A bad base faults on use, which the tender reports.
    unsafe { core::arch::asm!("wrfsbase {}", in(reg) base, options(nostack, preserves_flags)) }
}

/// The muen object has no `wrfsbase` (Muen leaves CR4.FSGSBASE clear); no
/// muen path reaches this.
#[cfg(feature = "muen-only")]
fn wrfsbase(_base: u64) {
    crate::muen::cpu::halt_forever()
}
