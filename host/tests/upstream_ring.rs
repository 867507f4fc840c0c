//! Upstream's #637 net ring on solo5-hvt (an hvt-only protocol: the test
//! runs on hvt alone), spoken by a ring-3 guest of ours.

mod common;

use std::fs;

use common::{start_in_ns, unikernel, wait, NetNs, TempDir};

/// Upstream's #637 net ring, spoken by a ring-3 guest of ours linked with
/// `-z solo5-rings=no`: frames out through WRITE entries reach the tap, and
/// frames injected into the tap come back through READ entries in order.
#[test]
fn upstream_net_ring_spoken_by_a_guest() {
    let ns = NetNs::new();
    ns.add_tap("tap0", None, 1500);
    let dir = TempDir::new();
    let path = unikernel("net637");
    let run = |args: &[&str]| {
        let mut full = vec![
            "--mem=16",
            "--net:service0=tap0",
            "--",
            path.to_str().unwrap(),
        ];
        full.extend_from_slice(args);
        start_in_ns(&ns, &full, &dir, "Ready")
    };

    let (child, log) = run(&["tx", "100000"]);
    let out = wait(child);
    let stdout = fs::read_to_string(&log).unwrap();
    assert_eq!(out.status, Some(0), "{out:#?}\n{stdout}");
    assert_eq!(
        common::tap_stat(&ns, "tap0", "rx_packets"),
        100_000,
        "{stdout}"
    );

    let (child, log) = run(&["rx"]);
    common::inject_frames(&ns, "tap0", 20_000, 512, common::seq_frame)
        .join()
        .unwrap();
    common::inject_frames(&ns, "tap0", 1, 1, |_| common::seq_frame(u64::MAX))
        .join()
        .unwrap();
    let out = wait(child);
    let stdout = fs::read_to_string(&log).unwrap();
    assert_eq!(out.status, Some(0), "{out:#?}\n{stdout}");
    assert!(
        stdout.contains("received 20000 out-of-sequence 0"),
        "{stdout}"
    );
}
