//! Build script of every Rust test unikernel: links it like the C wrapper
//! does (static, not PIE, with the bindings' linker script), once per
//! target: the binary named after the package is for hvt, the one with
//! `-spt` appended for spt.
use std::path::Path;

fn main() {
    let template = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../../sync-shim/toolchain/solo5.lds.in"
    );
    let text = std::fs::read_to_string(template).expect("linker script template");
    let out = std::env::var("OUT_DIR").expect("OUT_DIR");
    let package = std::env::var("CARGO_PKG_NAME").expect("CARGO_PKG_NAME");
    for (target, number, bin) in [
        ("hvt", "1", package.clone()),
        ("spt", "2", format!("{package}-spt")),
    ] {
        let lds = Path::new(&out).join(format!("solo5_{target}.lds"));
        let script = text
            .replace("@TARGET_NUMBER@", number)
            .replace("@TEXT_START@", "0x100000")
            .replace("@TARGET@", target);
        std::fs::write(&lds, script).expect("write linker script");
        for arg in [
            "-nostdlib",
            "-static",
            "-no-pie",
            "-Wl,--build-id=none",
            "-Wl,-z,max-page-size=0x1000",
            "-Wl,-u,_start",
            &format!("-Wl,-T,{}", lds.display()),
        ] {
            println!("cargo:rustc-link-arg-bin={bin}={arg}");
        }
    }
    println!("cargo:rerun-if-changed={template}");
}
