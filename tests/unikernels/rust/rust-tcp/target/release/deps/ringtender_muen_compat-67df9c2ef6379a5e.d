/work/main/tests/unikernels/rust/rust-tcp/target/release/deps/ringtender_muen_compat-67df9c2ef6379a5e.d: /work/main/muen-compat/src/lib.rs /work/main/muen-compat/src/block.rs /work/main/muen-compat/src/error.rs /work/main/muen-compat/src/header.rs /work/main/muen-compat/src/memory.rs /work/main/muen-compat/src/muenblock_client.rs /work/main/muen-compat/src/net.rs /work/main/muen-compat/src/reader.rs /work/main/muen-compat/src/sinfo/mod.rs /work/main/muen-compat/src/sinfo/layout.rs /work/main/muen-compat/src/sinfo/reader.rs /work/main/muen-compat/src/sinfo/types.rs /work/main/muen-compat/src/sinfo/writer.rs /work/main/muen-compat/src/subject.rs /work/main/muen-compat/src/writer.rs

/work/main/tests/unikernels/rust/rust-tcp/target/release/deps/libringtender_muen_compat-67df9c2ef6379a5e.rlib: /work/main/muen-compat/src/lib.rs /work/main/muen-compat/src/block.rs /work/main/muen-compat/src/error.rs /work/main/muen-compat/src/header.rs /work/main/muen-compat/src/memory.rs /work/main/muen-compat/src/muenblock_client.rs /work/main/muen-compat/src/net.rs /work/main/muen-compat/src/reader.rs /work/main/muen-compat/src/sinfo/mod.rs /work/main/muen-compat/src/sinfo/layout.rs /work/main/muen-compat/src/sinfo/reader.rs /work/main/muen-compat/src/sinfo/types.rs /work/main/muen-compat/src/sinfo/writer.rs /work/main/muen-compat/src/subject.rs /work/main/muen-compat/src/writer.rs

/work/main/tests/unikernels/rust/rust-tcp/target/release/deps/libringtender_muen_compat-67df9c2ef6379a5e.rmeta: /work/main/muen-compat/src/lib.rs /work/main/muen-compat/src/block.rs /work/main/muen-compat/src/error.rs /work/main/muen-compat/src/header.rs /work/main/muen-compat/src/memory.rs /work/main/muen-compat/src/muenblock_client.rs /work/main/muen-compat/src/net.rs /work/main/muen-compat/src/reader.rs /work/main/muen-compat/src/sinfo/mod.rs /work/main/muen-compat/src/sinfo/layout.rs /work/main/muen-compat/src/sinfo/reader.rs /work/main/muen-compat/src/sinfo/types.rs /work/main/muen-compat/src/sinfo/writer.rs /work/main/muen-compat/src/subject.rs /work/main/muen-compat/src/writer.rs

/work/main/muen-compat/src/lib.rs:
/work/main/muen-compat/src/block.rs:
/work/main/muen-compat/src/error.rs:
/work/main/muen-compat/src/header.rs:
/work/main/muen-compat/src/memory.rs:
/work/main/muen-compat/src/muenblock_client.rs:
/work/main/muen-compat/src/net.rs:
/work/main/muen-compat/src/reader.rs:
/work/main/muen-compat/src/sinfo/mod.rs:
/work/main/muen-compat/src/sinfo/layout.rs:
/work/main/muen-compat/src/sinfo/reader.rs:
/work/main/muen-compat/src/sinfo/types.rs:
/work/main/muen-compat/src/sinfo/writer.rs:
/work/main/muen-compat/src/subject.rs:
/work/main/muen-compat/src/writer.rs:
