//! Faults an operator meets: a tender killed with `SIGKILL` and restarted
//! at once on the same tap, on every target and engine
//! (`docs/deployment.md`); block files synced at a clean exit.

mod common;

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{unikernel_for, wait, NetNs, Target, TempDir};

/// The engine choices a guest with rings can run on.
const ENGINES: [&str; 3] = ["--engine=uring", "--engine=portable", "--classic"];

fn program(target: Target) -> &'static str {
    match target {
        Target::Hvt => env!("CARGO_BIN_EXE_solo5-hvt"),
        Target::Spt => env!("CARGO_BIN_EXE_solo5-spt"),
    }
}

/// Starts the `net` guest on `tap0` of `ns` in a process group of its own,
/// as an orchestrator would; returns the child and its stdout file.
fn start_net(
    ns: &NetNs,
    target: Target,
    engine: &str,
    dir: &TempDir,
    limit: &str,
) -> (Child, PathBuf) {
    let log = dir.join(&format!("stdout-{limit}"));
    let kernel = unikernel_for(target, "net");
    let child = ns
        .command(program(target))
        .args([
            engine,
            "--mem=8",
            "--net:service0=tap0",
            "--",
            kernel.to_str().unwrap(),
            "limit",
            limit,
        ])
        .stdout(fs::File::create(&log).unwrap())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    (child, log)
}

/// Waits until the guest serves (true) or the tender ended (false).
fn serving(child: &mut Child, log: &PathBuf) -> bool {
    let start = Instant::now();
    loop {
        if fs::read_to_string(log)
            .unwrap_or_default()
            .contains("Serving")
        {
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no Serving in {}",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `kill -9` of the tender's whole process group (on spt: supervisor, I/O
/// worker and guest), then waits for the tender.
fn kill_group(mut child: Child) {
    // SAFETY: kill(2) of the process group this test made.
    assert_eq!(
        unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) },
        0
    );
    child.wait().unwrap();
}

/// A tender killed with `SIGKILL` leaves its tap free for a tender started
/// right after it: each restart attaches the tap and answers pings.
#[test]
fn restart_right_after_kill_attaches_the_tap() {
    for target in [Target::Hvt, Target::Spt] {
        for engine in ENGINES {
            let ns = NetNs::new();
            ns.add_tap("tap0", Some("10.0.0.1/24"), 1500);
            let dir = TempDir::new();
            let (mut child, log) = start_net(&ns, target, engine, &dir, "1000000");
            assert!(
                serving(&mut child, &log),
                "{target:?} {engine}: first start"
            );
            for round in 0..3 {
                kill_group(child);
                let (mut next, next_log) =
                    start_net(&ns, target, engine, &dir, &format!("{}", 1000000 + round));
                if !serving(&mut next, &next_log) {
                    let out = wait(next, Duration::from_secs(10));
                    panic!("{target:?} {engine}: restart {round} did not attach: {out:#?}");
                }
                let ping = ns.ping("10.0.0.2", 3);
                assert!(
                    ping.contains("3 received"),
                    "{target:?} {engine} restart {round}: {ping}"
                );
                child = next;
            }
            kill_group(child);
        }
    }
}

/// A tap that a running tender holds stays busy: a second tender tries for
/// a second, then gives up with upstream's line and status 1.
#[test]
fn a_tap_held_by_a_running_tender_fails_with_upstreams_line() {
    let ns = NetNs::new();
    ns.add_tap("tap0", Some("10.0.0.1/24"), 1500);
    let dir = TempDir::new();
    let (mut first, log) = start_net(&ns, Target::Hvt, "--engine=uring", &dir, "1000000");
    assert!(serving(&mut first, &log));
    let start = Instant::now();
    let (second, _) = start_net(&ns, Target::Hvt, "--engine=uring", &dir, "1");
    let out = wait(second, Duration::from_secs(30));
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "gave up without retrying"
    );
    out.assert_error_line("solo5-hvt: Could not attach interface: tap0: Device or resource busy");
    kill_group(first);
}

/// On a clean guest exit the tender `fdatasync`s every block file before
/// it exits: hvt's tender (classic) or ring worker, spt's supervisor
/// (classic) or I/O worker. Seen with strace, on the engines whose sync is
/// a system call of its own.
#[test]
fn clean_exit_syncs_every_block_file() {
    for target in [Target::Hvt, Target::Spt] {
        for engine in ["--classic", "--engine=portable"] {
            let dir = TempDir::new();
            let image = dir.zero_file("storage.img", 1 << 20);
            let trace = dir.join("trace");
            let kernel = unikernel_for(target, "blkseq");
            let child = std::process::Command::new("strace")
                .args(["-f", "-qq", "-e", "trace=fdatasync", "-o"])
                .arg(&trace)
                .args([program(target), engine, "--mem=8"])
                .arg(format!("--block:storage={}", image.display()))
                .args(["--", kernel.to_str().unwrap(), "10"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("strace (apt-get install strace)");
            let out = wait(child, Duration::from_secs(30));
            out.assert_success();
            let trace = fs::read_to_string(&trace).unwrap();
            assert!(
                trace
                    .lines()
                    .any(|l| l.contains("fdatasync(") && l.ends_with("= 0")),
                "{target:?} {engine}: no fdatasync at exit:\n{trace}"
            );
        }
    }
}
