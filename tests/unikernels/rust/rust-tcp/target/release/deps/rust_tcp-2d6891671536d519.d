/work/main/tests/unikernels/rust/rust-tcp/target/release/deps/rust_tcp-2d6891671536d519.d: src/main.rs src/app.rs src/app/device.rs src/app/http.rs src/app/print.rs src/app/sink.rs

/work/main/tests/unikernels/rust/rust-tcp/target/release/deps/rust_tcp-2d6891671536d519: src/main.rs src/app.rs src/app/device.rs src/app/http.rs src/app/print.rs src/app/sink.rs

src/main.rs:
src/app.rs:
src/app/device.rs:
src/app/http.rs:
src/app/print.rs:
src/app/sink.rs:
