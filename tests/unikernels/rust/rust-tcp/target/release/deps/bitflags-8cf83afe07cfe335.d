/work/main/tests/unikernels/rust/rust-tcp/target/release/deps/bitflags-8cf83afe07cfe335.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/bitflags-1.3.2/src/lib.rs

/work/main/tests/unikernels/rust/rust-tcp/target/release/deps/libbitflags-8cf83afe07cfe335.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/bitflags-1.3.2/src/lib.rs

/work/main/tests/unikernels/rust/rust-tcp/target/release/deps/libbitflags-8cf83afe07cfe335.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/bitflags-1.3.2/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/bitflags-1.3.2/src/lib.rs:
