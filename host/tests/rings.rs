//! The ring path on the real /dev/kvm with real taps and files: integrity
//! of a million frames guest to tap, both I/O engines, and the same guests
//! on the classic hypercall path.

mod common;

use std::fs;
use std::time::Duration;

use common::{start_in_ns, unikernel, wait, NetNs, TempDir};

const FRAMES: u64 = 1_000_000;

fn counter(ns: &NetNs, tap: &str, name: &str) -> u64 {
    let out = ns
        .command("cat")
        .arg(format!("/sys/class/net/{tap}/statistics/{name}"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// The guest sends a million sequence-numbered frames; every one reaches the
/// tap (the tap's own counter), none dropped by the ring.
fn tx_integrity(engine: &str) {
    let ns = NetNs::new();
    ns.add_tap("tap0", None, 1500);
    let dir = TempDir::new();
    let path = unikernel("netseq");
    let (child, log) = start_in_ns(
        &ns,
        &[
            engine,
            "--mem=16",
            "--net:service0=tap0",
            "--",
            path.to_str().unwrap(),
            "tx",
            &FRAMES.to_string(),
        ],
        &dir,
        "Ready",
    );
    let out = wait(child, Duration::from_secs(60));
    let stdout = fs::read_to_string(&log).unwrap();
    assert_eq!(out.status, Some(0), "{out:#?}\n{stdout}");
    assert!(stdout.contains(&format!("frames {FRAMES} ")), "{stdout}");
    assert_eq!(counter(&ns, "tap0", "rx_packets"), FRAMES, "{stdout}");
}

#[test]
fn tx_million_frames_io_uring() {
    tx_integrity("--engine=uring");
}

#[test]
fn tx_million_frames_portable() {
    tx_integrity("--engine=portable");
}

/// A 64-byte sequence-numbered frame of the netseq guest.
fn seq_frame(seq: u64) -> Vec<u8> {
    let mut f = vec![0u8; 64];
    f[..6].fill(0xff);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&[0x88, 0xb5]);
    f[14..22].copy_from_slice(&seq.to_le_bytes());
    f
}

/// A million sequence-numbered frames injected into the tap reach the
/// guest, every one, in order, none twice.
fn rx_integrity(engine: &str) {
    let ns = NetNs::new();
    ns.add_tap("tap0", None, 1500);
    ns.exec(&["ip", "link", "set", "tap0", "txqueuelen", "10000"]);
    let dir = TempDir::new();
    let path = unikernel("netseq");
    let (child, log) = start_in_ns(
        &ns,
        &[
            engine,
            "--mem=16",
            "--net:service0=tap0",
            "--",
            path.to_str().unwrap(),
            "rx",
        ],
        &dir,
        "Ready",
    );
    let injector = common::inject_frames(&ns, "tap0", FRAMES, 4096, seq_frame);
    injector.join().unwrap();
    let end = common::inject_frames(&ns, "tap0", 1, 1, |_| seq_frame(u64::MAX));
    end.join().unwrap();
    let out = wait(child, Duration::from_secs(120));
    let stdout = fs::read_to_string(&log).unwrap();
    assert_eq!(out.status, Some(0), "{out:#?}\n{stdout}");
    assert!(
        stdout.contains(&format!("received {FRAMES} gaps 0 out-of-order 0")),
        "{stdout}"
    );
    assert_eq!(counter(&ns, "tap0", "tx_dropped"), 0, "{stdout}");
}

#[test]
fn rx_million_frames_io_uring() {
    rx_integrity("--engine=uring");
}

#[test]
fn rx_million_frames_portable() {
    rx_integrity("--engine=portable");
}

/// The block test guest on each path; its writes are on the file after.
#[test]
fn block_on_every_path() {
    for mode in ["--engine=uring", "--engine=portable", "--classic"] {
        let dir = TempDir::new();
        let image = dir.zero_file("storage.img", 4 << 20);
        let path = unikernel("blk");
        let out = common::run(&[
            mode,
            "--mem=16",
            &format!("--block:storage={}", image.display()),
            "--",
            path.to_str().unwrap(),
        ]);
        out.assert_success();
        assert_eq!(
            out.stdout.contains("through ringtender rings"),
            mode != "--classic",
            "{mode}: {out:#?}"
        );
        let data = fs::read(&image).unwrap();
        assert_eq!(data[10 * 512], b'0' + 10, "{mode}");
    }
}

/// ARP and ping through the rings with the portable engine, and classic.
#[test]
fn ping_on_portable_engine_and_classic() {
    for mode in ["--engine=portable", "--classic"] {
        let ns = NetNs::new();
        ns.add_tap("tap0", Some("10.0.0.1/24"), 1500);
        let dir = TempDir::new();
        let path = unikernel("net");
        let (child, log) = start_in_ns(
            &ns,
            &[
                mode,
                "--mem=16",
                "--net:service0=tap0",
                "--",
                path.to_str().unwrap(),
                "limit",
                "10",
            ],
            &dir,
            "Serving",
        );
        let ping = ns.ping("10.0.0.2", 10);
        let out = wait(child, Duration::from_secs(20));
        let stdout = fs::read_to_string(&log).unwrap();
        assert!(ping.contains("10 received"), "{mode}: {ping}\n{stdout}");
        assert_eq!(out.status, Some(0), "{mode}: {out:#?}\n{stdout}");
    }
}
