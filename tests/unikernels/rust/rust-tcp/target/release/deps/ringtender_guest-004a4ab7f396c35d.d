/work/main/tests/unikernels/rust/rust-tcp/target/release/deps/ringtender_guest-004a4ab7f396c35d.d: /work/main/guest/src/lib.rs /work/main/guest/src/api.rs /work/main/guest/src/boot.rs /work/main/guest/src/clock.rs /work/main/guest/src/console.rs /work/main/guest/src/cpu.rs /work/main/guest/src/devices.rs /work/main/guest/src/hypercall.rs /work/main/guest/src/manifest.rs /work/main/guest/src/mem.rs /work/main/guest/src/muen/mod.rs /work/main/guest/src/muen/block.rs /work/main/guest/src/muen/clock.rs /work/main/guest/src/muen/console.rs /work/main/guest/src/muen/cpu.rs /work/main/guest/src/muen/net.rs /work/main/guest/src/platform.rs /work/main/guest/src/rings.rs /work/main/guest/src/spt.rs /work/main/guest/src/tls.rs

/work/main/tests/unikernels/rust/rust-tcp/target/release/deps/libringtender_guest-004a4ab7f396c35d.rlib: /work/main/guest/src/lib.rs /work/main/guest/src/api.rs /work/main/guest/src/boot.rs /work/main/guest/src/clock.rs /work/main/guest/src/console.rs /work/main/guest/src/cpu.rs /work/main/guest/src/devices.rs /work/main/guest/src/hypercall.rs /work/main/guest/src/manifest.rs /work/main/guest/src/mem.rs /work/main/guest/src/muen/mod.rs /work/main/guest/src/muen/block.rs /work/main/guest/src/muen/clock.rs /work/main/guest/src/muen/console.rs /work/main/guest/src/muen/cpu.rs /work/main/guest/src/muen/net.rs /work/main/guest/src/platform.rs /work/main/guest/src/rings.rs /work/main/guest/src/spt.rs /work/main/guest/src/tls.rs

/work/main/tests/unikernels/rust/rust-tcp/target/release/deps/libringtender_guest-004a4ab7f396c35d.rmeta: /work/main/guest/src/lib.rs /work/main/guest/src/api.rs /work/main/guest/src/boot.rs /work/main/guest/src/clock.rs /work/main/guest/src/console.rs /work/main/guest/src/cpu.rs /work/main/guest/src/devices.rs /work/main/guest/src/hypercall.rs /work/main/guest/src/manifest.rs /work/main/guest/src/mem.rs /work/main/guest/src/muen/mod.rs /work/main/guest/src/muen/block.rs /work/main/guest/src/muen/clock.rs /work/main/guest/src/muen/console.rs /work/main/guest/src/muen/cpu.rs /work/main/guest/src/muen/net.rs /work/main/guest/src/platform.rs /work/main/guest/src/rings.rs /work/main/guest/src/spt.rs /work/main/guest/src/tls.rs

/work/main/guest/src/lib.rs:
/work/main/guest/src/api.rs:
/work/main/guest/src/boot.rs:
/work/main/guest/src/clock.rs:
/work/main/guest/src/console.rs:
/work/main/guest/src/cpu.rs:
/work/main/guest/src/devices.rs:
/work/main/guest/src/hypercall.rs:
/work/main/guest/src/manifest.rs:
/work/main/guest/src/mem.rs:
/work/main/guest/src/muen/mod.rs:
/work/main/guest/src/muen/block.rs:
/work/main/guest/src/muen/clock.rs:
/work/main/guest/src/muen/console.rs:
/work/main/guest/src/muen/cpu.rs:
/work/main/guest/src/muen/net.rs:
/work/main/guest/src/platform.rs:
/work/main/guest/src/rings.rs:
/work/main/guest/src/spt.rs:
/work/main/guest/src/tls.rs:

# env-dep:CARGO_PKG_VERSION=0.1.0
