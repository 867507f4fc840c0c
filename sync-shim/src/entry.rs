//! `_start`, the stack protector, and the panic handler.

use core::sync::atomic::{AtomicU64, Ordering};

use ringtender_abi::solo5::StartInfo;
use ringtender_guest::platform::{self, Target};
use ringtender_guest::{api, boot, log};

extern "C" {
    fn solo5_app_main(info: *const StartInfo) -> i32;
}

/// The canary of C code built with `-mstack-protector-guard=global`. Its
/// initial value flags a missing initialisation, as upstream's does.
#[no_mangle]
pub static __stack_chk_guard: AtomicU64 = AtomicU64::new(0x00de_adbe_ef0d_0a00);

/// Called by C code whose canary was overwritten.
#[no_mangle]
pub extern "C" fn __stack_chk_fail() -> ! {
    api::console_write(b"Solo5: ABORT: Stack corruption detected\n");
    platform::halt(255)
}

/// Entry point: the tender (or Muen) jumps here with its boot info (hvt's,
/// spt's or Muen's, as the linker script chose the target) in RDI. It has a
/// section of its own, which the linker script places first in `.text`:
/// Muen's `muinit` enters a resettable subject at the start of the text
/// region, right after `.interp`.
///
/// # Safety
/// Only the tender calls this, once, with its boot info.
#[no_mangle]
#[link_section = ".text.ringtender.start"]
pub unsafe extern "C" fn _start(boot_info: *const u8) -> ! {
    // SAFETY: rdtsc is allowed at CPL 3.
    let tsc = unsafe { core::arch::x86_64::_rdtsc() };
    // The second byte is zeroed so that a string overflow stops at it.
    __stack_chk_guard.store(tsc.wrapping_add(tsc << 32) & !0xff00, Ordering::Relaxed);
    // SAFETY: `boot_info` is the tender's, passed in RDI, of the layout of
    // the target this image was linked for.
    let info = unsafe {
        match platform::target() {
            Target::Hvt => boot::start_hvt(boot_info.cast()),
            Target::Spt => boot::start_spt(boot_info.cast()),
            Target::Muen => boot::start_muen(boot_info.cast()),
        }
    };
    // SAFETY: the application's entry point, with a start info that lives
    // for the rest of the program.
    let status = unsafe { solo5_app_main(&info) };
    api::exit(status)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    match info.location() {
        Some(at) => log!(Error, "Solo5: ABORT: {}:{}: panic\n", at.file(), at.line()),
        None => log!(Error, "Solo5: ABORT: panic\n"),
    }
    platform::halt(255)
}
