//! The test harness's own clean-up: network namespaces (with their taps
//! and the processes in them) that a test process killed from outside left
//! behind are removed by the next test that makes one, and a live test
//! process's namespaces are left alone.

mod common;

use common::NetNs;
use std::path::Path;
use std::process::{Child, Command, Stdio};

fn ip(args: &[&str]) {
    let status = Command::new("ip").args(args).status().unwrap();
    assert!(status.success(), "ip {args:?} failed");
}

fn exists(name: &str) -> bool {
    Path::new(&format!("/var/run/netns/{name}")).exists()
}

/// A namespace named as the harness names them, for owner `pid`, with a tap
/// and a process left running inside it; dropping the guard removes what is
/// left of it, so a failing test leaves nothing behind.
fn leave_namespace(pid: u32, n: u32) -> (NetNs, Child) {
    let name = format!("rt{pid}x{n}");
    ip(&["netns", "add", &name]);
    ip(&[
        "netns", "exec", &name, "ip", "tuntap", "add", "tap0", "mode", "tap",
    ]);
    let inside = Command::new("ip")
        .args(["netns", "exec", &name, "sleep", "1000"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (NetNs { name }, inside)
}

#[test]
fn a_dead_test_process_s_namespace_is_removed_and_a_live_one_s_kept() {
    // A "test process" that is then killed from outside.
    let mut owner = Command::new("sleep")
        .arg("1000")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let (orphan, mut orphan_inside) = leave_namespace(owner.id(), 0);
    owner.kill().unwrap();
    owner.wait().unwrap();
    // One of our own (a live owner), with a number no NetNs reaches.
    let (ours, mut ours_inside) = leave_namespace(std::process::id(), u32::MAX);

    let ns = common::NetNs::new();

    assert!(!exists(&orphan.name), "{} was left behind", orphan.name);
    let status = orphan_inside.wait().unwrap();
    assert!(
        !status.success(),
        "the process in {} was not killed: {status:?}",
        orphan.name
    );
    assert!(
        exists(&ours.name),
        "{} of a live process was removed",
        ours.name
    );
    assert!(exists(&ns.name));
    drop(ours);
    ours_inside.wait().unwrap();
}
