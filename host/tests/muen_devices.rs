//! Our test unikernels built for muen against `solo5-muen-runner`'s peers,
//! through the ring API and in bulk: the ring API's block and net calls
//! (`ringapi`), and a million frames each way (`netseq`'s windowed modes),
//! with taps in network namespaces and block files of their own.
//!
//! Muen's channels have no flow control and a Muen reader publishes
//! nothing, so the million-frame tests keep an end-to-end window at the
//! test level, as a protocol above Muen's channels would on a real Muen
//! (`docs/muen-runner.md`): the receiver acknowledges in frames of its own
//! (EtherType 0x88B6, the count received in the sequence field) and the
//! sender keeps at most [`WINDOW`] frames beyond the last acknowledgement
//! in flight, well under the 691 frames a channel holds.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use common::{wait, NetNs, PacketSocket, TempDir, HANG_GUARD};

const RUNNER: &str = env!("CARGO_BIN_EXE_solo5-muen-runner");
/// Frames each way in the integrity tests (fast mode).
const FRAMES: u64 = 1_000_000;
/// Frames each way in strict mode, where the subject's ring 0 is emulated
/// on hosts like the development machine: far more than one channel holds,
/// so the window is what keeps them intact.
const STRICT_FRAMES: u64 = 20_000;
/// Frames a sender keeps beyond the last acknowledgement.
const WINDOW: u64 = 256;
/// A receiver acknowledges every this many frames.
const ACK_EVERY: u64 = 32;
/// Frames the ring API tests send or inject without a window: fewer than
/// one channel holds (691), so no timing can make the reader overrun.
const UNDER_ONE_CHANNEL: u64 = 500;

/// Our `test_NAME.muen` (built by tests/unikernels/build.sh).
fn ours(name: &str) -> PathBuf {
    common::built_unikernel(&format!("test_{name}.muen"))
}

/// A runner the test started: killed if the test fails before waiting for
/// it (a busy-polling subject would spin on).
struct Runner(Option<Child>);

impl Drop for Runner {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts the runner in `ns` on our `test_NAME.muen` with `options` and
/// `args` (`--mem=16`, the engine `RINGTENDER_TEST_ENGINE` names), once
/// the subject printed "Ready"; the runner and its stdout.
fn start(
    ns: &NetNs,
    dir: &TempDir,
    options: &[&str],
    name: &str,
    args: &[&str],
) -> (Runner, PathBuf) {
    let kernel = ours(name);
    let mut argv = vec!["--mem=16"];
    argv.extend_from_slice(options);
    argv.push("--");
    argv.push(kernel.to_str().unwrap());
    argv.extend_from_slice(args);
    let log = dir.join(&format!("{name}.log"));
    let child = ns
        .command(RUNNER)
        .args(common::engine_option(&argv))
        .args(&argv)
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let runner = Runner(Some(child));
    common::wait_for_text(&log, "Ready");
    (runner, log)
}

/// Waits for `runner`; it must have succeeded. Its stdout.
fn succeeded(mut runner: Runner, log: &Path) -> String {
    let out = wait(runner.0.take().expect("waited for once"));
    let stdout = std::fs::read_to_string(log).unwrap();
    assert_eq!(out.status, Some(0), "{out:#?}\n{stdout}");
    assert!(stdout.contains("SUCCESS"), "{out:#?}\n{stdout}");
    stdout
}

/// Length of netseq's patterned frame `seq`.
fn pattern_len(seq: u64) -> usize {
    64 + ((seq * 13) % 1451) as usize
}

/// netseq's patterned frame `seq`: sequence number at 14, then bytes
/// `seq * 31 + i`.
fn pattern_frame(seq: u64) -> Vec<u8> {
    let mut f = common::seq_frame(seq);
    f.resize(pattern_len(seq), 0);
    for (i, b) in f.iter_mut().enumerate().skip(22) {
        *b = (seq.wrapping_mul(31) as usize + i) as u8;
    }
    f
}

const ETHERTYPE_SEQ: [u8; 2] = [0x88, 0xb5];
const ETHERTYPE_ACK: [u8; 2] = [0x88, 0xb6];

/// An acknowledgement of `count` frames.
fn ack_frame(count: u64) -> Vec<u8> {
    let mut f = common::seq_frame(count);
    f[12..14].copy_from_slice(&ETHERTYPE_ACK);
    f
}

fn seq_of(frame: &[u8]) -> u64 {
    u64::from_le_bytes(frame[14..22].try_into().unwrap())
}

/// The next frame of EtherType `ethertype` the subject sent, however long it
/// takes (the tests' hang guard ends a subject that sends nothing).
fn next_from_subject(socket: &PacketSocket, ethertype: [u8; 2], what: &str, log: &Path) -> Vec<u8> {
    loop {
        let frame = socket.recv_incoming(HANG_GUARD).unwrap_or_else(|| {
            let stdout = std::fs::read_to_string(log).unwrap_or_default();
            panic!("no {what} for {HANG_GUARD:?} (the tests' hang guard):\n{stdout}")
        });
        if frame.len() >= 22 && frame[12..14] == ethertype {
            return frame;
        }
    }
}

/// A million patterned frames from the subject (`netseq txack`) all reach
/// the tap in order, none lost, none twice, each intact; the test
/// acknowledges every [`ACK_EVERY`] and the subject keeps at most
/// [`WINDOW`] unacknowledged.
#[test]
fn a_million_frames_from_the_subject_reach_the_tap_in_order_and_intact() {
    frames_from_the_subject_reach_the_tap(&[], FRAMES);
}

/// The same at CPL 0 (`--strict`), with [`STRICT_FRAMES`].
#[test]
fn frames_from_the_subject_reach_the_tap_in_strict_mode() {
    frames_from_the_subject_reach_the_tap(&["--strict"], STRICT_FRAMES);
}

fn frames_from_the_subject_reach_the_tap(mode: &[&str], frames_total: u64) {
    let ns = NetNs::new();
    ns.add_tap("tap0", None, 1500);
    let socket = PacketSocket::bind_in(&ns, "tap0");
    // A window of the largest frames, with the kernel's overhead, waits
    // in the socket while the test checks.
    socket.grow_receive_buffer(16 << 20);
    let dir = TempDir::new();
    let (window, frames) = (WINDOW.to_string(), frames_total.to_string());
    let (child, log) = start(
        &ns,
        &dir,
        &[mode, &["--net:service0=tap0"]].concat(),
        "netseq",
        &["txack", &frames, &window],
    );
    for seq in 0..frames_total {
        let frame = next_from_subject(&socket, ETHERTYPE_SEQ, &format!("frame {seq}"), &log);
        assert_eq!(seq_of(&frame), seq, "frames lost, repeated or reordered");
        // Past the addresses (the source is the subject's MAC).
        assert_eq!(frame[12..], pattern_frame(seq)[12..], "frame {seq} damaged");
        let received = seq + 1;
        if received % ACK_EVERY == 0 || received == frames_total {
            assert!(socket.send(&ack_frame(received)), "the runner is gone");
        }
    }
    let stdout = succeeded(child, &log);
    assert!(
        stdout.contains(&format!("frames {frames_total} acked {frames_total} ")),
        "{stdout}"
    );
    assert!(
        socket.recv_incoming(std::time::Duration::ZERO).is_none(),
        "a frame after the last"
    );
}

/// A million patterned frames injected into the tap all reach the subject
/// (`netseq rxack`) in order, none lost, none twice, each intact; the
/// subject acknowledges every [`ACK_EVERY`] and the test keeps at most
/// [`WINDOW`] unacknowledged.
#[test]
fn a_million_frames_reach_the_subject_in_order_and_intact() {
    frames_reach_the_subject(&[], FRAMES);
}

/// The same at CPL 0 (`--strict`), with [`STRICT_FRAMES`].
#[test]
fn frames_reach_the_subject_in_strict_mode() {
    frames_reach_the_subject(&["--strict"], STRICT_FRAMES);
}

fn frames_reach_the_subject(mode: &[&str], frames_total: u64) {
    let ns = NetNs::new();
    ns.add_tap("tap0", None, 1500);
    let socket = PacketSocket::bind_in(&ns, "tap0");
    let dir = TempDir::new();
    let every = ACK_EVERY.to_string();
    let (child, log) = start(
        &ns,
        &dir,
        &[mode, &["--net:service0=tap0"]].concat(),
        "netseq",
        &["rxack", &every],
    );
    let mut acked = 0;
    // The frames, then the end marker.
    for sent in 0..=frames_total {
        while sent - acked >= WINDOW {
            let ack = next_from_subject(&socket, ETHERTYPE_ACK, "acknowledgement", &log);
            acked = acked.max(seq_of(&ack));
        }
        let frame = if sent < frames_total {
            pattern_frame(sent)
        } else {
            common::seq_frame(u64::MAX)
        };
        assert!(socket.send(&frame), "the runner is gone");
    }
    let stdout = succeeded(child, &log);
    assert!(
        stdout.contains(&format!(
            "received {frames_total} gaps 0 out-of-order 0 corrupt 0"
        )),
        "{stdout}"
    );
    assert_eq!(common::tap_stat(&ns, "tap0", "tx_dropped"), 0, "{stdout}");
}

/// The ring API guest (`ringapi`) with `args`, `service0` on a tap of its
/// own and `storage` on a fresh 1 MiB file (`--block-sector-size` from
/// `sector`); the namespace, its stdout and the file.
fn ringapi(
    mode: &[&str],
    sector: Option<&str>,
    args: &[&str],
) -> (NetNs, String, PathBuf, TempDir) {
    let ns = NetNs::new();
    ns.add_tap("tap0", None, 1500);
    let dir = TempDir::new();
    let image = dir.zero_file("storage.img", 1 << 20);
    let block = format!("--block:storage={}", image.display());
    let sector = sector.map(|s| format!("--block-sector-size:storage={s}"));
    let mut options = mode.to_vec();
    options.extend(["--net:service0=tap0", block.as_str()]);
    options.extend(sector.as_deref());
    let (child, log) = start(&ns, &dir, &options, "ringapi", args);
    let stdout = succeeded(child, &log);
    (ns, stdout, image, dir)
}

/// Random reads, writes of 1 to 8 blocks and flushes through the ring API
/// at queue depths 1 and 64 (many muenblock requests in flight, with
/// tags), with 512- and 4096-byte blocks: every read checked by the
/// subject, every acknowledged write on the file afterwards, and a request
/// past the end refused with `SOLO5_R_EINVAL`.
#[test]
fn ring_api_block_requests_in_flight_together() {
    for (sector, size) in [(None, 512), (Some("4096"), 4096)] {
        for qd in ["1", "64"] {
            let (_ns, stdout, image, _dir) = ringapi(&[], sector, &["block", qd, "20000", "42"]);
            assert!(stdout.contains("ops 20000 "), "{stdout}");
            assert!(!stdout.contains("flushes 0 "), "{stdout}");
            assert_eq!(
                common::ringapi_file_digest(&image, size),
                common::ringapi_printed_digest(&stdout),
                "qd {qd}, {size}-byte blocks"
            );
        }
    }
}

/// The same at CPL 0 (`--strict`), at queue depth 64 with 512-byte blocks
/// and 2000 requests (ring 0 is emulated on hosts like the development
/// machine).
#[test]
fn ring_api_block_requests_in_flight_together_in_strict_mode() {
    let (_ns, stdout, image, _dir) = ringapi(&["--strict"], None, &["block", "64", "2000", "42"]);
    assert!(stdout.contains("ops 2000 "), "{stdout}");
    assert!(!stdout.contains("flushes 0 "), "{stdout}");
    assert_eq!(
        common::ringapi_file_digest(&image, 512),
        common::ringapi_printed_digest(&stdout)
    );
}

/// Net and block at once through the ring API: frames sent in batches
/// while block requests run at queue depth 32; every frame on the tap.
#[test]
fn ring_api_net_and_block_at_once() {
    let frames = UNDER_ONE_CHANNEL.to_string();
    let (ns, stdout, image, _dir) = ringapi(&[], None, &["mixed", &frames, "20000", "7"]);
    assert!(stdout.contains(&format!("frames {frames}\n")), "{stdout}");
    assert_eq!(
        common::tap_stat(&ns, "tap0", "rx_packets"),
        UNDER_ONE_CHANNEL,
        "{stdout}"
    );
    assert_eq!(
        common::ringapi_file_digest(&image, 512),
        common::ringapi_printed_digest(&stdout)
    );
}

/// Frames borrowed through the ring API (`solo5_ring_net_borrow`, a copy
/// on muen): every injected frame, in order, then the end marker; none
/// dropped.
#[test]
fn ring_api_borrows_every_frame() {
    let ns = NetNs::new();
    ns.add_tap("tap0", None, 1500);
    let dir = TempDir::new();
    let image = dir.zero_file("storage.img", 1 << 20);
    let block = format!("--block:storage={}", image.display());
    let (child, log) = start(
        &ns,
        &dir,
        &["--net:service0=tap0", &block],
        "ringapi",
        &["rx", "0"],
    );
    let injected = UNDER_ONE_CHANNEL;
    common::inject_frames(&ns, "tap0", injected, injected, common::seq_frame)
        .join()
        .unwrap();
    common::inject_frames(&ns, "tap0", 1, 1, |_| common::seq_frame(u64::MAX))
        .join()
        .unwrap();
    let stdout = succeeded(child, &log);
    assert!(
        stdout.contains(&format!(
            "received {injected} gaps 0 out-of-order 0 dropped 0"
        )),
        "{stdout}"
    );
}
