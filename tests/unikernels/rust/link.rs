//! Build script of every Rust test unikernel, the recipe of
//! `docs/porting.md`: links it like the C wrapper does (static, not PIE,
//! with the bindings' linker script from `ringtender-sync-shim`'s build
//! script), once per target: the binary named after the package is for
//! hvt, the one with `-spt` appended for spt.

fn main() {
    let lds_dir = std::env::var("DEP_RINGTENDER_SOLO5_LDS_DIR")
        .expect("ringtender-sync-shim must be a dependency");
    let package = std::env::var("CARGO_PKG_NAME").expect("CARGO_PKG_NAME");
    for (target, bin) in [("hvt", package.clone()), ("spt", format!("{package}-spt"))] {
        for arg in [
            "-nostdlib",
            "-static",
            "-no-pie",
            "-Wl,--build-id=none",
            "-Wl,-z,max-page-size=0x1000",
            "-Wl,-u,_start",
            &format!("-Wl,-T,{lds_dir}/solo5_{target}.lds"),
        ] {
            println!("cargo::rustc-link-arg-bin={bin}={arg}");
        }
    }
}
