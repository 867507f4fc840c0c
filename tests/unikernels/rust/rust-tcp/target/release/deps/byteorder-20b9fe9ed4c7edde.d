/work/main/tests/unikernels/rust/rust-tcp/target/release/deps/byteorder-20b9fe9ed4c7edde.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/byteorder-1.5.0/src/lib.rs

/work/main/tests/unikernels/rust/rust-tcp/target/release/deps/libbyteorder-20b9fe9ed4c7edde.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/byteorder-1.5.0/src/lib.rs

/work/main/tests/unikernels/rust/rust-tcp/target/release/deps/libbyteorder-20b9fe9ed4c7edde.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/byteorder-1.5.0/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/byteorder-1.5.0/src/lib.rs:
