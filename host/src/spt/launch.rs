//! The jump into an spt guest: the process becomes the unikernel.

use ringtender_abi::spt::SPT_BOOT_INFO_BASE;

/// Jumps to `entry` with the stack at `mem_size - 8` and the boot info's
/// address in RDI, as upstream's tender does. Never returns.
///
/// # Safety
/// The guest image must be loaded at `entry`, its boot info written at
/// `SPT_BOOT_INFO_BASE`, and `mem_size` be the end of its writable mapping.
/// Nothing of the tender may be needed again in this process.
pub unsafe fn launch(entry: u64, mem_size: u64) -> ! {
    let stack = mem_size - 8;
    // SAFETY: per the caller's contract; the guest owns the process from here.
    unsafe {
        core::arch::asm!(
            "mov rsp, {stack}",
            "xor ebp, ebp",
            "jmp {entry}",
            stack = in(reg) stack,
            entry = in(reg) entry,
            in("rdi") SPT_BOOT_INFO_BASE,
            options(noreturn),
        )
    }
}
