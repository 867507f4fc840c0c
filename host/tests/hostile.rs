//! A guest that attacks its own rings (`tests/unikernels/c/hostile`): the
//! tender never crashes or hangs, and either keeps serving the guest or
//! stops it with exit status 1 and one clear line; bad block requests are
//! refused and never touch memory outside what the guest may access, or
//! the file.

mod common;

use std::fs;
use std::time::Duration;

use common::{start_with_devices, wait};

/// How the tender treated one attack.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// The guest ran on and printed SURVIVED.
    Survived,
    /// The tender stopped it with status 1 and one line on stderr.
    Stopped(String),
}

/// Runs the hostile guest with `attack` on `engine`; returns the verdict,
/// the guest's stdout and the block file's bytes afterwards.
fn attack(engine: &str, attack: &str) -> (Verdict, String, Vec<u8>) {
    let (child, guest) = start_with_devices(&[engine], "hostile", &[attack]);
    let out = wait(child, Duration::from_secs(20));
    let stdout = fs::read_to_string(&guest.log).unwrap();
    assert_eq!(
        out.signal, None,
        "{attack}: the tender died of a signal: {out:#?}"
    );
    let verdict = match out.status {
        Some(0) if stdout.contains("SURVIVED") => Verdict::Survived,
        Some(1) => {
            assert_eq!(
                out.stderr.lines().count(),
                1,
                "{attack}: one line expected: {out:#?}\n{stdout}"
            );
            Verdict::Stopped(out.stderr.trim().to_string())
        }
        _ => panic!("{attack}: {out:#?}\n{stdout}"),
    };
    (verdict, stdout, fs::read(&guest.image).unwrap())
}

const CHANNEL_ATTACKS: [&str; 11] = [
    "tx-size",
    "tx-elements",
    "tx-protocol",
    "tx-epoch",
    "tx-wc-ahead",
    "tx-len-0",
    "tx-len-max",
    "tx-len-mtu",
    "rx-rc-ahead",
    "host-words",
    "rx-header",
];

/// Corrupted headers, counters and lengths: the guest loses its own
/// frames at worst; the tender keeps serving it.
fn channel_attacks(engine: &str) {
    for name in CHANNEL_ATTACKS {
        let (verdict, stdout, _) = attack(engine, name);
        assert_eq!(verdict, Verdict::Survived, "{engine} {name}: {stdout}");
    }
}

#[test]
fn channel_attacks_io_uring() {
    channel_attacks("--engine=uring");
}

#[test]
fn channel_attacks_portable() {
    channel_attacks("--engine=portable");
}

/// Block requests the host must refuse: buffers outside what the guest may
/// access (past its RAM, the tender's pages, its read-only boot info, an
/// address that wraps), lengths and offsets the device cannot take, an
/// unknown kind. Each is answered EINVAL (result 2), the guest runs on,
/// and the file holds only what the guest's valid writes put there.
fn block_attacks(engine: &str) {
    for name in [
        "blk-buf-past-ram",
        "blk-buf-tender",
        "blk-buf-bootinfo",
        "blk-buf-huge",
        "blk-len-huge",
        "blk-len-odd",
        "blk-past-end",
        "blk-wrap",
        "blk-kind",
    ] {
        let (verdict, stdout, data) = attack(engine, name);
        assert_eq!(verdict, Verdict::Survived, "{engine} {name}: {stdout}");
        assert!(stdout.contains("result 2\n"), "{engine} {name}: {stdout}");
        assert!(
            data[..512].iter().all(|&b| b == b'A'),
            "{engine} {name}: first block"
        );
        assert!(
            data[512..].iter().all(|&b| b == 0),
            "{engine} {name}: rest of the file"
        );
    }
    // Request counters pushed far ahead: the host treats it as an overrun
    // and resynchronises; the guest may lose requests, the tender stays up.
    let (verdict, stdout, _) = attack(engine, "blk-wc-ahead");
    assert_eq!(verdict, Verdict::Survived, "{engine}: {stdout}");
}

#[test]
fn block_attacks_io_uring() {
    block_attacks("--engine=uring");
}

#[test]
fn block_attacks_portable() {
    block_attacks("--engine=portable");
}
