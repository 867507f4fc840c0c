//! Faults an operator meets (`docs/deployment.md`), on every target and
//! engine: a tender killed with `SIGKILL` and restarted at once on the same
//! tap; a tap deleted, a block file's file system full, a block file
//! truncated under a running guest, each ending with one clear line and
//! status 1 or with an error status the guest sees; block files synced at
//! a clean exit.

mod common;

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{unikernel_for, wait, NetNs, Outcome, Target, TempDir, HANG_GUARD};

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
            // The same MAC on every start, as an orchestrator would give:
            // the namespace's neighbour cache stays right across restarts.
            "--net-mac:service0=02:00:00:00:00:02",
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
            start.elapsed() < HANG_GUARD,
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
    let rc = unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    assert_eq!(rc, 0);
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
                    let out = wait(next);
                    panic!("{target:?} {engine}: restart {round} did not attach: {out:#?}");
                }
                let answered = ns.ping("10.0.0.2", 3);
                assert_eq!(
                    answered, 3,
                    "{target:?} {engine} restart {round}: {answered} of 3 pings answered"
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
    let out = wait(second);
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "gave up without retrying"
    );
    assert_line(
        &out,
        "solo5-hvt: Could not attach interface: tap0: Device or resource busy",
    );
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
            let out = wait(child);
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

/// Every target and engine choice.
fn every_tender() -> impl Iterator<Item = (Target, &'static str)> {
    [Target::Hvt, Target::Spt]
        .into_iter()
        .flat_map(|target| ENGINES.map(|engine| (target, engine)))
}

/// Starts `kernel` with `args` on `target` (`ns`: inside that namespace),
/// stdout to `log`, and waits for "Ready".
fn start_ready(ns: Option<&NetNs>, target: Target, args: &[&str], log: &PathBuf) -> Child {
    let mut command = match ns {
        Some(ns) => ns.command(program(target)),
        None => std::process::Command::new(program(target)),
    };
    let child = command
        .args(args)
        .stdout(fs::File::create(log).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    common::wait_for_text(log, "Ready");
    child
}

/// The tender ended with status 1 and exactly the line `line`: upstream's
/// words and the system's message, nothing of Rust's.
fn assert_line(out: &Outcome, line: &str) {
    assert_eq!(out.status, Some(1), "{out:#?}");
    assert_eq!(out.stderr, format!("{line}\n"), "{out:#?}");
}

/// The guest saw the failure: it printed `failure` and exited with status
/// 1; the tender said nothing.
fn assert_guest_saw(out: &Outcome, log: &PathBuf, failure: &str, what: &str) {
    let stdout = fs::read_to_string(log).unwrap();
    assert_eq!(out.status, Some(1), "{what}: {out:#?}\n{stdout}");
    assert!(stdout.contains(failure), "{what}: {out:#?}\n{stdout}");
    assert_eq!(out.stderr, "", "{what}: {out:#?}");
}

/// `ip link del` of the tap under a guest waiting for frames: the tender
/// (on spt with rings, its I/O worker) ends with one line and status 1; a
/// classic spt guest reads the tap itself and sees an error status, as
/// under upstream's solo5-spt.
#[test]
fn tap_deleted_under_a_running_guest() {
    for (target, engine) in every_tender() {
        let ns = NetNs::new();
        ns.add_tap("tap0", None, 1500);
        let dir = TempDir::new();
        let log = dir.join("stdout");
        let kernel = unikernel_for(target, "netseq");
        let args = [
            engine,
            "--mem=8",
            "--net:service0=tap0",
            "--",
            kernel.to_str().unwrap(),
            "rx",
        ];
        let child = start_ready(Some(&ns), target, &args, &log);
        ns.exec(&["ip", "link", "del", "tap0"]);
        let out = wait(child);
        let what = format!("{target:?} {engine}");
        match (target, engine) {
            (Target::Spt, "--classic") => assert_guest_saw(&out, &log, "FAILURE: read", &what),
            (Target::Spt, _) => assert_line(
                &out,
                "solo5-spt: I/O worker: Fatal error when reading: File descriptor in bad state",
            ),
            (Target::Hvt, _) => assert_line(
                &out,
                "solo5-hvt: Fatal error when reading: File descriptor in bad state",
            ),
        }
    }
}

/// A tmpfs of `size` mounted on a directory of its own, unmounted on drop.
struct SmallFs {
    dir: TempDir,
}

impl SmallFs {
    fn new(size: &str) -> Self {
        let dir = TempDir::new();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir.0)
            .status()
            .unwrap();
        assert!(status.success(), "mount tmpfs");
        Self { dir }
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(&self.dir.0)
            .status();
    }
}

/// A block file on a full file system (a sparse 1 MiB file on a 64 KiB
/// tmpfs): the ring paths and spt's classic guest answer the write that
/// finds no space with an error status (ENOSPC), hvt's classic path ends
/// the tender with one line, as upstream's does. Either way every write
/// acknowledged before is in the file.
#[test]
fn block_file_on_a_full_file_system() {
    for (target, engine) in every_tender() {
        let fs = SmallFs::new("64k");
        let image = fs.dir.zero_file("storage.img", 1 << 20);
        let log = fs.dir.join("stdout");
        let kernel = unikernel_for(target, "blkseq");
        let block = format!("--block:storage={}", image.display());
        let args = [
            engine,
            "--mem=8",
            &block,
            "--",
            kernel.to_str().unwrap(),
            "100000",
        ];
        let child = start_ready(None, target, &args, &log);
        let out = wait(child);
        let what = format!("{target:?} {engine}");
        match (target, engine) {
            (Target::Hvt, "--classic") => assert_line(
                &out,
                "solo5-hvt: Fatal error when writing: No space left on device",
            ),
            _ => assert_guest_saw(&out, &log, "FAILURE: write", &what),
        }
        common::assert_blkseq_writes_kept(&log, &image);
    }
}

/// The block file truncated to nothing under a guest reading it: reads
/// past the new end come back short, which the ring paths and spt's
/// classic guest answer with an error status and hvt's classic path with
/// one line, ending the tender.
#[test]
fn block_file_truncated_under_a_running_guest() {
    for (target, engine) in every_tender() {
        let dir = TempDir::new();
        let image = dir.zero_file("storage.img", 1 << 20);
        let log = dir.join("stdout");
        let kernel = unikernel_for(target, "blkseq");
        let block = format!("--block:storage={}", image.display());
        let args = [
            engine,
            "--mem=8",
            &block,
            "--",
            kernel.to_str().unwrap(),
            "read",
            "1000000000000",
        ];
        let child = start_ready(None, target, &args, &log);
        fs::OpenOptions::new()
            .write(true)
            .open(&image)
            .unwrap()
            .set_len(0)
            .unwrap();
        let out = wait(child);
        let what = format!("{target:?} {engine}");
        match (target, engine) {
            (Target::Hvt, "--classic") => {
                assert_line(&out, "solo5-hvt: Fatal error: read only 0 out of 512 bytes")
            }
            _ => assert_guest_saw(&out, &log, "FAILURE: read", &what),
        }
    }
}
