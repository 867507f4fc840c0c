//! `solo5-spt`: run a Solo5 spt unikernel as a seccomp-confined process.
//!
//! The C runtime calls `main` directly, without Rust's own start-up, as in
//! `solo5-hvt` (`docs/deploy.md`).
#![no_main]

/// The process's entry point.
#[no_mangle]
pub extern "C" fn main() -> std::ffi::c_int {
    std::process::exit(ringtender_host::spt::main(std::env::args().collect()))
}
