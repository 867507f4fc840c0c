//! `solo5-muen-peer`, the net and block peers as a process of their own,
//! serving a subject's channels mapped from files, as it would in a Linux
//! subject of a Muen system: `solo5-muen-runner --channel-files=DIR` backs
//! each channel of the subject with a file in DIR and serves none itself,
//! and the peer maps those files. Real KVM, a real tap in a namespace of
//! the test's own, real files.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::{wait, NetNs, Outcome, TempDir};

const RUNNER: &str = env!("CARGO_BIN_EXE_solo5-muen-runner");

/// The runner's channel files for our `test_NAME.muen` run with `args`,
/// in `dir/channels`; its stdout goes to `dir/log`.
struct Subject {
    child: Child,
    channels: PathBuf,
    log: PathBuf,
}

impl Subject {
    /// Starts the runner and waits until its last channel file, `last`,
    /// is in place (each appears with its full size).
    fn start(dir: &TempDir, name: &str, args: &[&str], last: &str) -> Self {
        let channels = dir.join("channels");
        std::fs::create_dir(&channels).unwrap();
        let log = dir.join("log");
        let kernel = common::built_unikernel(&format!("test_{name}.muen"));
        let child = Command::new(RUNNER)
            .arg("--mem=16")
            .arg(format!("--channel-files={}", channels.display()))
            .arg("--")
            .arg(kernel)
            .args(args)
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        assert!(common::poll_until(|| channels.join(last).exists()));
        Self {
            child,
            channels,
            log,
        }
    }

    /// `--OPTION:DEVICE=FILE` for the channel file `DEVICE.SUFFIX`.
    fn option(&self, option: &str, device: &str, suffix: &str) -> String {
        let file = self.channels.join(format!("{device}.{suffix}"));
        format!("--{option}:{device}={}", file.display())
    }

    /// Waits for the runner; its outcome and its log.
    fn finish(self) -> (Outcome, String) {
        let out = wait(self.child);
        (out, std::fs::read_to_string(&self.log).unwrap())
    }
}

/// Ends a peer that serves until told: SIGTERM, upstream's line in its own
/// name, status 1.
fn stop_peer(peer: Child) {
    // SAFETY: kill(2) of our own child.
    assert_eq!(unsafe { libc::kill(peer.id() as i32, libc::SIGTERM) }, 0);
    let out = wait(peer);
    out.assert_error_line("solo5-muen-peer: Exiting on signal 15");
}

/// Our `test_net.muen` answers 20 pings through the standalone peer and a
/// tap in a namespace, its channels in the runner's files, then ends with
/// SUCCESS.
#[test]
fn our_net_answers_pings_through_the_standalone_peer() {
    let ns = NetNs::new();
    ns.add_tap("tap0", Some("10.0.0.1/24"), 1500);
    let dir = TempDir::new();
    let subject = Subject::start(&dir, "net", &["limit", "20"], "service0.out");
    let peer = start_peer_with(
        Some(&ns),
        &[
            "--net:service0=tap0".into(),
            subject.option("net-in", "service0", "in"),
            subject.option("net-out", "service0", "out"),
        ],
    );
    common::wait_for_text(&subject.log, "Serving");
    let ping = common::ping_until_answered(&ns, "10.0.0.2", 20);
    let (out, log) = subject.finish();
    stop_peer(peer);
    assert!(ping.contains(" 20 received"), "{ping}\n{log}");
    assert_eq!(out.status, Some(0), "{out:#?}\n{log}");
    assert!(log.contains("Answered 20 echo requests\nSUCCESS"), "{log}");
}

/// Our `test_blk.muen` reads and writes blocks through the standalone
/// peer over the runner's channel files; its writes are on the file.
#[test]
fn our_blk_succeeds_through_the_standalone_peer() {
    let dir = TempDir::new();
    let image = dir.zero_file("storage.img", 4 << 20);
    let subject = Subject::start(&dir, "blk", &[], "storage.buffer");
    let peer = start_peer_with(
        None,
        &[
            format!("--block:storage={}", image.display()),
            subject.option("block-request", "storage", "request"),
            subject.option("block-response", "storage", "response"),
            subject.option("block-buffer", "storage", "buffer"),
        ],
    );
    let (out, log) = subject.finish();
    stop_peer(peer);
    assert_eq!(out.status, Some(0), "{out:#?}\n{log}");
    assert!(log.contains("SUCCESS"), "{log}");
    common::assert_blk_writes_kept(&image, 512);
}

fn run_peer(args: &[&str]) -> Outcome {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    wait(start_peer_with(None, &args))
}

/// A file of `size` zero bytes named `name` in `dir`, as a path string.
fn zero_file(dir: &TempDir, name: &str, size: u64) -> String {
    dir.zero_file(name, size).display().to_string()
}

/// Bad command lines and files get one line and status 1, before the peer
/// serves anything.
#[test]
fn bad_peer_command_lines_get_one_line_and_status_1() {
    let dir = TempDir::new();
    let image = zero_file(&dir, "storage.img", 1 << 20);
    let request = zero_file(&dir, "request", 0x8000);
    let response = zero_file(&dir, "response", 0x4000);
    let buffer = zero_file(&dir, "buffer", 1 << 20);
    let empty = zero_file(&dir, "empty", 0);
    let missing = dir.join("missing").display().to_string();
    let block = format!("--block:storage={image}");
    let req = format!("--block-request:storage={request}");
    let resp = format!("--block-response:storage={response}");
    let buf = format!("--block-buffer:storage={buffer}");
    let missing_buf = format!("--block-buffer:storage={missing}");
    let empty_buf = format!("--block-buffer:storage={empty}");
    let cases: [(Vec<&str>, String); 7] = [
        (vec![], "solo5-muen-peer: No device to serve".into()),
        (
            vec!["--mem=16"],
            "solo5-muen-peer: Invalid option: `--mem=16'".into(),
        ),
        (
            vec![&block, &req, &resp],
            "solo5-muen-peer: Device 'storage': give it exactly the channel files of its kind"
                .into(),
        ),
        (
            vec![&req, &resp, &buf],
            "solo5-muen-peer: Device 'storage': give it one --net or one --block".into(),
        ),
        (
            vec![&block, &req, &resp, &req],
            "solo5-muen-peer: Device 'storage': a channel given twice".into(),
        ),
        (
            vec![&block, &req, &resp, &missing_buf],
            format!("solo5-muen-peer: {missing}: No such file or directory"),
        ),
        (
            vec![&block, &req, &resp, &empty_buf],
            format!("solo5-muen-peer: {empty}: channel file is empty"),
        ),
    ];
    for (args, line) in cases {
        let out = run_peer(&args);
        assert_eq!(out.status, Some(1), "{args:?}: {out:#?}");
        assert_eq!(out.stderr.lines().next(), Some(line.as_str()), "{out:#?}");
    }
}

/// The runner with `--channel-files` refuses devices of its own and never
/// overwrites a file.
#[test]
fn the_runners_channel_files_are_its_own_and_new() {
    let dir = TempDir::new();
    let kernel = common::built_unikernel("test_blk.muen");
    let image = zero_file(&dir, "storage.img", 1 << 20);
    let channels = dir.join("channels");
    std::fs::create_dir(&channels).unwrap();
    let files = format!("--channel-files={}", channels.display());
    let run = |extra: &[&str]| {
        let mut args = vec!["--mem=16", &files];
        args.extend_from_slice(extra);
        args.push(kernel.to_str().unwrap());
        wait(
            Command::new(RUNNER)
                .args(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        )
    };
    run(&[&format!("--block:storage={image}")]).assert_error_line(
        "solo5-muen-runner: --channel-files: solo5-muen-peer serves the devices, not --net or --block",
    );
    let existing: &Path = &channels.join("storage.response");
    std::fs::write(existing, b"keep").unwrap();
    run(&[]).assert_error_line(&format!(
        "solo5-muen-runner: {}: File exists",
        existing.display()
    ));
    assert_eq!(std::fs::read(existing).unwrap(), b"keep");
}

/// Starts the peer with `args`, inside `ns` if given.
fn start_peer_with(ns: Option<&NetNs>, args: &[String]) -> Child {
    common::start_muen_peer(ns, args, Stdio::piped())
}
