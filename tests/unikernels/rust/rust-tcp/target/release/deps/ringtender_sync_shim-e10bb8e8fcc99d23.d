/work/main/tests/unikernels/rust/rust-tcp/target/release/deps/ringtender_sync_shim-e10bb8e8fcc99d23.d: /work/main/sync-shim/src/lib.rs /work/main/sync-shim/src/entry.rs /work/main/sync-shim/src/libc_mem.rs /work/main/sync-shim/src/notes.rs /work/main/sync-shim/src/solo5_api.rs /work/main/sync-shim/src/solo5_ring_api.rs

/work/main/tests/unikernels/rust/rust-tcp/target/release/deps/libringtender_sync_shim-e10bb8e8fcc99d23.a: /work/main/sync-shim/src/lib.rs /work/main/sync-shim/src/entry.rs /work/main/sync-shim/src/libc_mem.rs /work/main/sync-shim/src/notes.rs /work/main/sync-shim/src/solo5_api.rs /work/main/sync-shim/src/solo5_ring_api.rs

/work/main/tests/unikernels/rust/rust-tcp/target/release/deps/libringtender_sync_shim-e10bb8e8fcc99d23.rlib: /work/main/sync-shim/src/lib.rs /work/main/sync-shim/src/entry.rs /work/main/sync-shim/src/libc_mem.rs /work/main/sync-shim/src/notes.rs /work/main/sync-shim/src/solo5_api.rs /work/main/sync-shim/src/solo5_ring_api.rs

/work/main/sync-shim/src/lib.rs:
/work/main/sync-shim/src/entry.rs:
/work/main/sync-shim/src/libc_mem.rs:
/work/main/sync-shim/src/notes.rs:
/work/main/sync-shim/src/solo5_api.rs:
/work/main/sync-shim/src/solo5_ring_api.rs:
