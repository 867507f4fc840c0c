//! Links each binary as a Solo5 unikernel (docs/porting.md): static, not
//! PIE, no standard libraries, with the linker script of its target, which
//! `ringtender-sync-shim` makes and names in DEP_RINGTENDER_SOLO5_LDS_DIR.

fn main() {
    let lds_dir = std::env::var("DEP_RINGTENDER_SOLO5_LDS_DIR")
        .expect("ringtender-sync-shim must be a dependency");
    for (target, bin) in [("hvt", "ringblk"), ("spt", "ringblk-spt")] {
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
