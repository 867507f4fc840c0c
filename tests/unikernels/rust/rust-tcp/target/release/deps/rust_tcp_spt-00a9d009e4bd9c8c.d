/work/main/tests/unikernels/rust/rust-tcp/target/release/deps/rust_tcp_spt-00a9d009e4bd9c8c.d: src/spt.rs src/app.rs src/app/device.rs src/app/http.rs src/app/print.rs src/app/sink.rs

/work/main/tests/unikernels/rust/rust-tcp/target/release/deps/rust_tcp_spt-00a9d009e4bd9c8c: src/spt.rs src/app.rs src/app/device.rs src/app/http.rs src/app/print.rs src/app/sink.rs

src/spt.rs:
src/app.rs:
src/app/device.rs:
src/app/http.rs:
src/app/print.rs:
src/app/sink.rs:
