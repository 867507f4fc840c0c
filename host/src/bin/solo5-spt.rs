//! `solo5-spt`: run a Solo5 spt unikernel as a seccomp-confined process.
//!
//! The C runtime calls `main` directly, without Rust's own start-up, as in
//! `solo5-hvt` (`docs/deployment.md`).
// A unit-test build keeps the test harness's own `main`.
#![cfg_attr(not(test), no_main)]

/// The process's entry point.
#[cfg(not(test))]
#[no_mangle]
pub extern "C" fn main() -> std::ffi::c_int {
    std::process::exit(ringtender_host::spt::main(std::env::args().collect()))
}
