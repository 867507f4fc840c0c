//! Build script of every Rust test unikernel: links it like the C wrapper
//! does (static, not PIE, with the bindings' linker script).
fn main() {
    let lds = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../../sync-shim/toolchain/solo5_hvt.lds"
    );
    for arg in [
        "-nostdlib",
        "-static",
        "-no-pie",
        "-Wl,--build-id=none",
        "-Wl,-z,max-page-size=0x1000",
        "-Wl,-u,_start",
        &format!("-Wl,-T,{lds}"),
    ] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
    println!("cargo:rerun-if-changed={lds}");
}
