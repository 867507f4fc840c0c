//! The muen target: the guest is a Muen subject. Everything it shares with
//! its environment is named in the subject info page ("sinfo", read through
//! `muen_compat::sinfo`): the debug log, the time info page, and per device
//! the channels of `docs/ring-abi.md` §10. There is no hypercall: the only
//! way to signal is a Muen event (`vmcall` with the event number in RAX).
//!
//! Muen starts a subject at CPL 0 with RDI = the boot info at 0x1000 and RSP
//! at the top of `ram` ([`cpu`] installs the bindings' own descriptor
//! tables). ringtender's muen runner can also start our binaries at CPL 3
//! (its fast mode); the bindings then leave the descriptor tables to the
//! runner and everything else stays the same (`docs/guest-contract.md`).

pub mod block;
pub mod clock;
pub mod console;
pub mod cpu;
pub mod net;

use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicBool, Ordering};

use ringtender_abi::elf_note::{MFT1_NOTE_TYPE, SOLO5_NOTE_HEADER_SIZE, SOLO5_NOTE_NAME};
use ringtender_abi::hvt::BootInfo;
use ringtender_abi::mft::{
    mft_size, MftEntry, MftHeader, MFT_MAX_ENTRIES, MFT_NAME_SIZE, MFT_RESERVED_FIRST, MFT_VERSION,
};
use ringtender_muen_compat::sinfo::{MemoryKind, MemoryRegion, SinfoReader};
use ringtender_muen_compat::subject::{
    names, SchedulingInfo, SCHEDULING_INFO_VA, SINFO_REGION_SIZE, SINFO_VA,
};
use ringtender_muen_compat::RawRegion;

/// A value set once (during start-up, or when a device is acquired)
/// before anything reads it. The guest has one vCPU and no interrupts, so
/// there is never a concurrent access. Unset, it is all zero bytes, so a
/// table of them lands in `.bss`, not in the image.
pub(crate) struct BootCell<T> {
    set: AtomicBool,
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: single vCPU, no interrupts: the cell is only used from the one
// thread of execution.
unsafe impl<T> Sync for BootCell<T> {}

impl<T> BootCell<T> {
    pub(crate) const fn new() -> Self {
        Self {
            set: AtomicBool::new(false),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// Stores `value`; a cell is set at most once (a second value is dropped).
    pub(crate) fn set(&'static self, value: T) {
        if self.set.load(Ordering::Relaxed) {
            return;
        }
        // SAFETY: see the `Sync` impl; the cell is unset, so no reference
        // from `get` exists.
        unsafe { (*self.value.get()).write(value) };
        self.set.store(true, Ordering::Relaxed);
    }

    // The `&mut` out of a shared static is this cell's purpose; the
    // single-vCPU rule above is what makes it sound.
    #[allow(clippy::mut_from_ref)]
    pub(crate) fn get(&'static self) -> Option<&'static mut T> {
        // SAFETY: see the `Sync` impl; set cells hold an initialised value,
        // and callers never hold two references to one cell at once.
        self.set
            .load(Ordering::Relaxed)
            .then(|| unsafe { (*self.value.get()).assume_init_mut() })
    }
}

/// Padding before `struct mft` in the MFT1 descriptor (it is 8-aligned).
const MFT1_PAD: usize = 4;
/// Offset of `struct mft` from the start of the MFT1 note.
const MFT1_DESC_OFFSET: u64 = (SOLO5_NOTE_HEADER_SIZE + MFT1_PAD) as u64;

static SINFO: BootCell<SinfoReader<RawRegion>> = BootCell::new();

/// The subject info page, if its magic is one of formats 04 and 05.
pub fn sinfo() -> Option<&'static SinfoReader<RawRegion>> {
    if SINFO.get().is_none() {
        // SAFETY: Muen maps the subject info region read-only at SINFO_VA in
        // every subject; the reader only reads it.
        let region = unsafe { RawRegion::new(SINFO_VA as *mut u8, SINFO_REGION_SIZE as usize) };
        SINFO.set(SinfoReader::new(region).ok()?);
    }
    SINFO.get().map(|r| &*r)
}

/// The memory region `name` if it is a channel (writable if `writable`).
pub fn channel(name: &[u8], writable: bool) -> Option<MemoryRegion> {
    let region = sinfo()?.memory(name)?;
    (region.kind == MemoryKind::SUBJECT_CHANNEL && (!writable || region.flags.writable()))
        .then_some(region)
}

/// Shared memory of a region the sinfo names.
///
/// # Safety
/// `region` comes from the subject info page: Muen maps it at its address
/// for the subject's life, and nothing else in the guest uses it.
pub unsafe fn shared(region: &MemoryRegion) -> RawRegion {
    // SAFETY: the caller's contract.
    unsafe { RawRegion::new(region.address as *mut u8, region.size as usize) }
}

/// The scheduling info page: the current minor frame.
pub fn scheduling_info() -> SchedulingInfo {
    let page = SCHEDULING_INFO_VA as *const SchedulingInfo;
    // SAFETY: Muen maps the scheduling info page read-only at this address
    // in every subject and rewrites it between minor frames; a volatile
    // read sees the current values.
    unsafe { page.read_volatile() }
}

/// The start of the current minor frame in TSC ticks (Solo5's channel
/// epochs and its clock come from it).
pub fn sched_start() -> u64 {
    scheduling_info().tsc_schedule_start
}

/// A channel epoch as Solo5's muen bindings choose it: the minor frame's
/// start, or 1 before the first frame (0 would leave the channel inactive).
pub fn epoch() -> u64 {
    sched_start().max(1)
}

/// Raises Muen event `number`: `vmcall` with the number in RAX. Muen
/// resumes the subject after the instruction (an unknown number is ignored).
pub fn raise_event(number: u8) {
    // SAFETY: vmcall exits to the kernel, which handles the event and
    // advances RIP; it changes no guest memory. Muen leaves every register
    // as it was, but KVM, where the runner plays Muen, completes a vmcall
    // itself with a status in RAX (-1000 at CPL 0 on Intel, -1 at CPL 3),
    // so RAX counts as clobbered.
    unsafe {
        core::arch::asm!("vmcall", inout("rax") u64::from(number) => _, options(nostack));
    }
}

/// Ends the subject as upstream does: "Solo5: Halted", the `solo5_exit`
/// event if the policy gives one (e.g. to reset the subject), then `cli;
/// hlt` for good.
pub fn halt() -> ! {
    console::write(b"Solo5: Halted\n");
    if let Some(event) = sinfo().and_then(|s| s.event(names::EXIT_EVENT.as_bytes())) {
        raise_event(event);
    }
    cpu::halt_forever()
}

/// What the bindings read from Muen's boot info (`mugensolo5` writes the
/// first 40 bytes of `hvt_boot_info`; the bytes after them are the command
/// line, not hvt's later fields).
pub struct MuenBootInfo {
    /// End of `ram`: the stack starts there.
    pub mem_size: u64,
    /// Address of the NUL-terminated command line.
    pub cmdline: u64,
}

/// Reads the boot info at `boot`.
///
/// # Safety
/// `boot` is the boot info address Muen passed in RDI.
pub unsafe fn boot_info(boot: *const BootInfo) -> MuenBootInfo {
    // SAFETY: the caller's contract; only fields in the first 40 bytes.
    unsafe {
        MuenBootInfo {
            mem_size: core::ptr::addr_of!((*boot).mem_size).read(),
            cmdline: core::ptr::addr_of!((*boot).cmdline).read(),
        }
    }
}

extern "C" {
    /// The MFT1 note (`.note.solo5.manifest`), from the linker script.
    static ringtender_manifest_note: u8;
}

/// The address of the built-in manifest (`struct mft` in the MFT1 note:
/// Muen has no tender to hand one over), after upstream's `mft_validate`
/// checks; None if the note is not a valid manifest.
pub fn builtin_manifest() -> Option<u64> {
    // A linker-script symbol; only its address is used.
    let note = core::ptr::addr_of!(ringtender_manifest_note) as u64;
    // SAFETY: the note section lies in the image's read-only data, at least
    // a header long when it holds a manifest; every read below stays inside
    // the size the note's own header gives.
    let word = |offset: u64| unsafe { ((note + offset) as *const u32).read_unaligned() };
    let (namesz, descsz, note_type) = (word(0), word(4), word(8));
    let mft = note + MFT1_DESC_OFFSET;
    // SAFETY: as above; the name is 8 bytes after the 12-byte header.
    let name = unsafe { ((note + 12) as *const [u8; 6]).read() };
    if namesz as usize != SOLO5_NOTE_NAME.len()
        || name != *SOLO5_NOTE_NAME
        || note_type != MFT1_NOTE_TYPE
    {
        return None;
    }
    // SAFETY: the descriptor holds at least the header when descsz says so.
    let header = (descsz as usize >= MFT1_PAD + size_of::<MftHeader>())
        .then(|| unsafe { (mft as *const MftHeader).read() })?;
    let count = header.entries as usize;
    if header.version != MFT_VERSION
        || count == 0
        || count > MFT_MAX_ENTRIES
        || descsz as usize != MFT1_PAD + mft_size(count)
    {
        return None;
    }
    // SAFETY: descsz covers `count` entries after the header.
    let entries = unsafe {
        core::slice::from_raw_parts((mft as *const MftHeader).add(1).cast::<MftEntry>(), count)
    };
    let reserved_first = entries[0].mft_type == MFT_RESERVED_FIRST && entries[0].name[0] == 0;
    let names_ok = entries
        .iter()
        .all(|e| e.name[MFT_NAME_SIZE - 1] == 0 && e.attached == 0);
    (reserved_first && names_ok).then_some(mft)
}
