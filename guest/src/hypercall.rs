//! The hvt hypercall primitive: `outl` to port 0x500 + n with the argument
//! struct's address in EAX.

use ringtender_abi::hvt::{HcHalt, Hypercall, HVT_HYPERCALL_PIO_BASE};

/// Issues hypercall `call` with its argument struct `arg`.
///
/// The struct lives on the caller's stack or in static memory, which the
/// tender maps below 4 GiB, so its address fits EAX.
pub fn hypercall<T>(call: Hypercall, arg: &mut T) {
    let port = HVT_HYPERCALL_PIO_BASE + call as u16;
    // The tender reads and writes only `*arg`, which we borrow mutably for
    // the duration; `pio_out`'s memory clobber orders the struct's accesses
    // around the exit.
    pio_out(port, arg as *mut T as u64 as u32);
}

/// `out dx, eax`: how hvt's guest exits to its tender (hypercalls and the
/// ring doorbell).
#[cfg(not(feature = "muen-only"))]
pub fn pio_out(port: u16, value: u32) {
    // SAFETY: the tender opens exactly its hypercall and doorbell ports to
    // us (TSS I/O bitmap) and reads at most the memory the value points to.
    unsafe {
        core::arch::asm!("out dx, eax", in("dx") port, in("eax") value, options(nostack, preserves_flags));
    }
}

/// The muen object has no port I/O (a Muen subject has no ports); no muen
/// path reaches this.
#[cfg(feature = "muen-only")]
pub fn pio_out(_port: u16, _value: u32) {
    crate::muen::cpu::halt_forever()
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
