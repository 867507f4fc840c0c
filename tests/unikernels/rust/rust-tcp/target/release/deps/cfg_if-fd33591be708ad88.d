/work/main/tests/unikernels/rust/rust-tcp/target/release/deps/cfg_if-fd33591be708ad88.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/cfg-if-1.0.5/src/lib.rs

/work/main/tests/unikernels/rust/rust-tcp/target/release/deps/libcfg_if-fd33591be708ad88.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/cfg-if-1.0.5/src/lib.rs

/work/main/tests/unikernels/rust/rust-tcp/target/release/deps/libcfg_if-fd33591be708ad88.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/cfg-if-1.0.5/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/cfg-if-1.0.5/src/lib.rs:
