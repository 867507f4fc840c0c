/work/main/tests/unikernels/rust/rust-tcp/target/release/deps/stable_deref_trait-15fe6b846322aa2d.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/stable_deref_trait-1.2.1/src/lib.rs

/work/main/tests/unikernels/rust/rust-tcp/target/release/deps/libstable_deref_trait-15fe6b846322aa2d.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/stable_deref_trait-1.2.1/src/lib.rs

/work/main/tests/unikernels/rust/rust-tcp/target/release/deps/libstable_deref_trait-15fe6b846322aa2d.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/stable_deref_trait-1.2.1/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/stable_deref_trait-1.2.1/src/lib.rs:
