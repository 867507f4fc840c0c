//! `solo5-hvt`: run a Solo5 hvt unikernel on KVM.
//!
//! The C runtime calls `main` directly: Rust's own start-up (a `poll` of
//! the standard descriptors, `SIGPIPE` ignored, a stack overflow handler on
//! an alternate signal stack for every thread) would add system calls that
//! a container's seccomp profile must then allow (`docs/deployment.md`).
// A unit-test build keeps the test harness's own `main`.
#![cfg_attr(not(test), no_main)]

/// The process's entry point.
#[cfg(not(test))]
#[no_mangle]
pub extern "C" fn main() -> std::ffi::c_int {
    std::process::exit(ringtender_host::hvt::tender::main(
        std::env::args().collect(),
    ))
}
