//! The hvt hypercall primitive: `outl` to port 0x500 + n with the argument
//! struct's address in EAX.

use ringtender_abi::hvt::{HcHalt, Hypercall, HVT_HYPERCALL_PIO_BASE};

/// Issues hypercall `call` with its argument struct `arg`.
///
/// The struct lives on the caller's stack or in static memory, which the
/// tender maps below 4 GiB, so its address fits EAX.
pub fn hypercall<T>(call: Hypercall, arg: &mut T) {
    let port = HVT_HYPERCALL_PIO_BASE + call as u16;
    let addr = arg as *mut T as u64;
    // SAFETY: `out` to a hypercall port is allowed at CPL 3 by the TSS I/O
    // bitmap; the tender reads and writes only `*arg`, which we borrow
    // mutably for the duration, and the default memory clobber orders
    // the struct's accesses around the exit.
    unsafe {
        core::arch::asm!("out dx, eax", in("dx") port, in("eax") addr as u32, options(nostack, preserves_flags));
    }
}

/// Ends the guest with `status`; the tender's process exits with it.
pub fn halt(status: i32) -> ! {
    let mut arg = HcHalt {
        cookie: 0,
        exit_status: status,
        pad: 0,
    };
    hypercall(Hypercall::Halt, &mut arg);
    loop {
        core::hint::spin_loop();
    }
}
