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
