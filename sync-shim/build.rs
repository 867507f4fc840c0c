//! Makes the linker scripts of the hvt, spt and muen targets from
//! `toolchain/solo5.lds.in` (as `build-dist.sh` installs them) and tells the
//! crates that depend on this one where they are: Cargo gives a dependent's
//! build script `DEP_RINGTENDER_SOLO5_LDS_DIR` (this package `links`
//! "ringtender-solo5"), so a Rust unikernel links with
//! `-T $DEP_RINGTENDER_SOLO5_LDS_DIR/solo5_hvt.lds` whether it is built in
//! this workspace or out of tree (`docs/porting.md`).
use std::path::Path;

/// Each target: its name, its ABI1 number and where its image starts.
const TARGETS: [(&str, &str, &str); 3] = [
    ("hvt", "1", "0x100000"),
    ("spt", "2", "0x100000"),
    ("muen", "4", "0x200000"),
];

fn main() {
    // Read when the script runs, not baked in when it is compiled: cargo
    // reuses a compiled build script for the same sources in another
    // checkout sharing the target directory.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let template = Path::new(&manifest_dir).join("toolchain/solo5.lds.in");
    let text = std::fs::read_to_string(&template).expect("toolchain/solo5.lds.in");
    let out = std::env::var("OUT_DIR").expect("OUT_DIR");
    for (target, number, text_start) in TARGETS {
        let script = text
            .replace("@TARGET_NUMBER@", number)
            .replace("@TEXT_START@", text_start)
            .replace("@TARGET@", target);
        let lds = Path::new(&out).join(format!("solo5_{target}.lds"));
        std::fs::write(&lds, script).expect("write linker script");
    }
    println!("cargo::metadata=lds_dir={out}");
    println!("cargo::rerun-if-changed={}", template.display());
}
