/work/main/tests/unikernels/rust/rust-tcp/target/release/deps/ringtender_abi-cc50cfd2815e7a8e.d: /work/main/abi/src/lib.rs /work/main/abi/src/elf_note.rs /work/main/abi/src/hvt.rs /work/main/abi/src/hvt_ring.rs /work/main/abi/src/mft.rs /work/main/abi/src/rings.rs /work/main/abi/src/solo5.rs /work/main/abi/src/spt.rs

/work/main/tests/unikernels/rust/rust-tcp/target/release/deps/libringtender_abi-cc50cfd2815e7a8e.rlib: /work/main/abi/src/lib.rs /work/main/abi/src/elf_note.rs /work/main/abi/src/hvt.rs /work/main/abi/src/hvt_ring.rs /work/main/abi/src/mft.rs /work/main/abi/src/rings.rs /work/main/abi/src/solo5.rs /work/main/abi/src/spt.rs

/work/main/tests/unikernels/rust/rust-tcp/target/release/deps/libringtender_abi-cc50cfd2815e7a8e.rmeta: /work/main/abi/src/lib.rs /work/main/abi/src/elf_note.rs /work/main/abi/src/hvt.rs /work/main/abi/src/hvt_ring.rs /work/main/abi/src/mft.rs /work/main/abi/src/rings.rs /work/main/abi/src/solo5.rs /work/main/abi/src/spt.rs

/work/main/abi/src/lib.rs:
/work/main/abi/src/elf_note.rs:
/work/main/abi/src/hvt.rs:
/work/main/abi/src/hvt_ring.rs:
/work/main/abi/src/mft.rs:
/work/main/abi/src/rings.rs:
/work/main/abi/src/solo5.rs:
/work/main/abi/src/spt.rs:
