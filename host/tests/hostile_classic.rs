//! Hostile guests of the classic path (solo5-hvt only: spt has no
//! hypercalls, its analogue is its seccomp filter): the `hostileclassic`
//! test unikernel, linked with `-z solo5-rings=no`, issues raw hypercalls
//! with bad argument structs, buffers, lengths, handles and block ranges,
//! and scribbles over upstream's #637 net ring, which the tender offers it.
//!
//! Upstream's tender is the reference for the hypercalls: a struct or
//! buffer the guest may not have the tender touch ends the tender with
//! status 1 and one line, "Invalid guest access: gpa=..., sz=..."; a bad
//! handle or block range is answered with SOLO5_R_EINVAL (2). On the #637
//! ring the tender answers inside the protocol (a bad WRITE is dropped, a
//! bad READ gets an EINVAL commit, impossible indices are skipped) and
//! keeps serving. Every scenario the guest survives ends with a valid call
//! of each kind, and the tap and the block file show what was done.

mod common;

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::{unikernel, NetNs, TempDir, HANG_GUARD};

/// Byte the block file is filled with before each run.
const FILL: u8 = 0x5a;
const SECTOR: usize = 512;
const FILE_SIZE: usize = 1 << 20;
/// First byte past guest RAM with `--mem=16`: 14 MiB of RAM and upstream's
/// 2 MiB ring reservation above it.
const RAM_END: u64 = 0x120_0000;

/// What one run left.
struct Run {
    status: Option<i32>,
    signal: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
    /// Frames the tender wrote to the tap.
    frames: u64,
    /// Their bytes.
    bytes: u64,
    file: Vec<u8>,
    /// Peak resident set of the tender (KiB), from wait4.
    max_rss_kib: i64,
}

impl Run {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Lines the guest printed after "hostile: ".
    fn lines(&self) -> Vec<String> {
        self.text()
            .lines()
            .filter_map(|l| l.strip_prefix("hostile: ").map(str::to_owned))
            .collect()
    }

    fn context(&self) -> String {
        let text = self.text();
        let tail = &text[text.len().saturating_sub(4000)..];
        format!(
            "status {:?} signal {:?} max RSS {} KiB\nstderr: {}\nstdout (end): {tail}",
            self.status, self.signal, self.max_rss_kib, self.stderr
        )
    }
}

/// Waits for `child` with wait4 (at most [`HANG_GUARD`], else kills it and
/// fails); its status and peak RSS in KiB.
fn wait_rusage(child: Child) -> (ExitStatus, i64) {
    let pid = child.id() as libc::pid_t;
    let start = Instant::now();
    loop {
        let mut status = 0;
        // SAFETY: rusage is plain data, all-zero is valid.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: wait4 on our own child with valid out-pointers.
        let rc = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        assert!(rc >= 0, "wait4: {}", std::io::Error::last_os_error());
        if rc == pid {
            return (ExitStatus::from_raw(status), usage.ru_maxrss);
        }
        if start.elapsed() > HANG_GUARD {
            // SAFETY: kill and reap our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            panic!("no end after {HANG_GUARD:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs `scenario` with `--mem=MEM`, a fresh tap and a block file of [`FILL`].
fn run_with(scenario: &str, mem: u32) -> Run {
    let ns = NetNs::new();
    ns.add_tap("tap0", None, 1500);
    let dir = TempDir::new();
    let image = dir.join("storage.img");
    fs::write(&image, vec![FILL; FILE_SIZE]).unwrap();
    let (out, err) = (dir.join("stdout"), dir.join("stderr"));
    let child = ns
        .command(common::tender())
        .args([
            &format!("--mem={mem}"),
            "--net:service0=tap0",
            &format!("--block:storage={}", image.display()),
            "--",
            unikernel("hostileclassic").to_str().unwrap(),
            scenario,
        ])
        .stdout(Stdio::from(fs::File::create(&out).unwrap()))
        .stderr(Stdio::from(fs::File::create(&err).unwrap()))
        .spawn()
        .unwrap();
    let (status, max_rss_kib) = wait_rusage(child);
    Run {
        status: status.code(),
        signal: status.signal(),
        stdout: fs::read(&out).unwrap(),
        stderr: fs::read_to_string(&err).unwrap(),
        frames: common::tap_stat(&ns, "tap0", "rx_packets"),
        bytes: common::tap_stat(&ns, "tap0", "rx_bytes"),
        file: fs::read(&image).unwrap(),
        max_rss_kib,
    }
}

fn run(scenario: &str) -> Run {
    run_with(scenario, 16)
}

/// The guest's call in `scenario` ends the tender: status 1 and one line
/// on stderr containing every part of `line`; nothing reached the tap or
/// the block file.
fn fatal(scenario: &str, line: &[&str]) {
    let run = run(scenario);
    let context = format!("{scenario}: {}", run.context());
    assert_eq!(run.signal, None, "{context}");
    assert_eq!(run.status, Some(1), "{context}");
    assert_eq!(run.stderr.lines().count(), 1, "{context}");
    for part in line {
        assert!(run.stderr.contains(part), "expected {part:?}: {context}");
    }
    assert!(
        run.lines().contains(&format!("scenario {scenario}")),
        "{context}"
    );
    assert!(!run.text().contains("CHECK FAILED"), "{context}");
    assert_eq!(run.frames, 0, "{context}");
    assert!(
        run.file.iter().all(|&b| b == FILL),
        "file changed: {context}"
    );
}

/// The valid calls that end every scenario the guest survives.
const ALIVE: &[&str] = &[
    "PUTS alive",
    "WALLTIME after 2020: yes",
    "POLL with timeout 0: status 0",
    "NET_WRITE of a 60-byte frame: status 0",
    "BLOCK_WRITE of sector 7: status 0",
    "BLOCK_READ of sector 7: status 0",
    "sector 7 read back: yes",
    "NET_READ with no frame waiting: status 1",
];

/// The guest survives `scenario`: status 0, SURVIVED, nothing on stderr,
/// every line of `lines` and [`ALIVE`] printed, `frames` frames on the tap,
/// sector 7 written by the proof of life and every other byte of the
/// file [`FILL`] but those of `changed` (offset, bytes).
fn survives(run: &Run, scenario: &str, lines: &[&str], frames: u64, changed: &[(usize, &[u8])]) {
    let context = format!("{scenario}: {}", run.context());
    assert_eq!(run.signal, None, "{context}");
    assert_eq!(run.status, Some(0), "{context}");
    assert!(run.stderr.is_empty(), "{context}");
    assert!(run.text().contains("\nSURVIVED\n"), "{context}");
    assert!(!run.text().contains("CHECK FAILED"), "{context}");
    let printed = run.lines();
    for line in lines.iter().chain(ALIVE) {
        assert!(
            printed.iter().any(|p| p == line),
            "missing {line:?}: {context}"
        );
    }
    assert_eq!(run.frames, frames, "tap frames: {context}");
    let mut expect = vec![FILL; FILE_SIZE];
    expect[7 * SECTOR..8 * SECTOR].fill(b'H');
    for (offset, bytes) in changed {
        expect[*offset..offset + bytes.len()].copy_from_slice(bytes);
    }
    assert!(run.file == expect, "block file: {context}");
}

fn gpa(addr: u64, size: u64) -> String {
    format!("Invalid guest access: gpa=0x{addr:x}, sz={size}")
}

#[test]
fn argument_struct_outside_ram() {
    fatal("arg-outside", &[&gpa(0xffff_fff0, 16)]);
}

#[test]
fn poll_struct_outside_ram() {
    fatal("poll-outside", &[&gpa(0xffff_ffe8, 24)]);
}

#[test]
fn argument_struct_straddling_the_end_of_ram() {
    fatal("arg-straddle", &[&gpa(RAM_END - 8, 16)]);
}

/// WALLTIME's result may not be written over the GDT.
#[test]
fn argument_struct_on_tender_page() {
    fatal("arg-tender", &[&gpa(0x1000, 8)]);
}

#[test]
fn argument_struct_on_page_tables() {
    fatal("arg-pagetables", &[&gpa(0x2_0000, 40)]);
}

/// POLL's struct on the boot info, which the guest may read but not have
/// written: refused when the result is written back.
#[test]
fn argument_struct_on_read_only_boot_info() {
    fatal("arg-boot", &[&gpa(0x1_0000, 24)]);
}

#[test]
fn buffer_outside_ram() {
    fatal("data-outside", &[&gpa(1 << 40, 60)]);
}

#[test]
fn buffer_wrapping_around() {
    fatal("data-wrap", &[&gpa(u64::MAX - 7, 16)]);
}

#[test]
fn buffer_straddling_the_end_of_ram() {
    fatal("data-straddle", &[&gpa(RAM_END - 256, 512)]);
}

#[test]
fn buffer_on_page_tables() {
    fatal("data-tender", &[&gpa(0x2_0000, 512)]);
}

#[test]
fn read_into_guest_code() {
    fatal("data-code", &["Invalid guest access: gpa=0x", ", sz=2048"]);
}

#[test]
fn puts_of_one_gib() {
    fatal("puts-1g", &[&gpa(0x10_0000, 1 << 30)]);
}

#[test]
fn halt_cookie_past_the_end_of_ram() {
    fatal("halt-cookie", &[&gpa(RAM_END - 100, 512)]);
}

#[test]
fn hypercall_zero() {
    fatal("nr0", &["Invalid guest hypercall: num=0"]);
}

/// Port 0x509 is closed to a ring-3 guest by the TSS I/O bitmap: the
/// `out` faults (#GP) and the tender reports the trap, status 255.
#[test]
fn port_past_the_hypercalls() {
    let run = run("port-past");
    let context = run.context();
    assert_eq!(run.status, Some(255), "{context}");
    assert!(run.stderr.is_empty(), "{context}");
    assert!(run.text().contains("Solo5: ABORT"), "{context}");
    assert!(run.text().contains("trap: type=#GP"), "{context}");
    assert!(!run.text().contains("CHECK FAILED"), "{context}");
}

#[test]
fn one_byte_hypercall() {
    fatal("port-byte", &["Invalid guest port access: port=0x502"]);
}

/// The tap refuses a frame of 0 bytes: fatal, as upstream's write error.
#[test]
fn net_write_of_zero_bytes() {
    fatal("net-len0", &["Fatal error when writing"]);
}

/// Bad handles (reserved, out of range, of the other kind) and block
/// ranges past the capacity or overflowing get EINVAL; an odd offset and
/// length within the capacity is done as asked, as upstream's tender does
/// (the bindings check alignment).
#[test]
fn bad_handles_and_ranges_get_einval() {
    let run = run("einval");
    survives(
        &run,
        "einval",
        &[
            "BLOCK_WRITE handle 0: status 2",
            "BLOCK_WRITE handle 99: status 2",
            "BLOCK_WRITE handle 2^63: status 2",
            "BLOCK_WRITE net handle: status 2",
            "BLOCK_READ handle 0: status 2",
            "BLOCK_READ net handle: status 2",
            "NET_WRITE handle 0: status 2",
            "NET_WRITE block handle: status 2",
            "NET_WRITE handle 2^32: status 2",
            "NET_READ handle 0: status 2",
            "NET_READ block handle: status 2",
            "BLOCK_WRITE at the capacity: status 2",
            "BLOCK_WRITE of 1024 at the last sector: status 2",
            "BLOCK_WRITE at 2^64 - 512: status 2",
            "BLOCK_WRITE of 2^63 bytes: status 2",
            "BLOCK_READ at 2^63: status 2",
            "BLOCK_WRITE of 3 bytes at offset 1: status 0",
            "NET_READ into 0 bytes: status 1",
        ],
        1,
        &[(1, b"abc")],
    );
}

/// Frames longer than the MTU, up to 70,000 bytes, are written to the tap
/// as asked, as upstream's tender does (the tap takes them); the tender
/// goes on.
#[test]
fn net_write_longer_than_the_mtu() {
    let run = run("net-len-big");
    survives(
        &run,
        "net-len-big",
        &[
            "NET_WRITE of 1515 bytes: status 0",
            "NET_WRITE of 9000 bytes: status 0",
            "NET_WRITE of 65536 bytes: status 0",
            "NET_WRITE of 70000 bytes: status 0",
        ],
        5,
        &[],
    );
    assert_eq!(
        run.bytes,
        1515 + 9000 + 65536 + 70000 + 60,
        "{}",
        run.context()
    );
}

/// PUTS of all guest RAM above 1 MiB (143 MiB with `--mem=144`) reaches
/// stdout whole, and the tender's peak RSS stays far below it: the bytes
/// go from guest memory to stdout without a host buffer of their size.
#[test]
fn puts_of_all_guest_ram_uses_no_buffer_of_its_size() {
    const MEM_MIB: u64 = 144;
    const BEFORE: &[u8] = b"hostile: PUTS of all guest RAM above 1 MiB\n";
    let mut run = run_with("puts-ram", MEM_MIB as u32);
    let len = (MEM_MIB << 20) - 0x10_0000;
    // Take the copy of RAM (which holds the guest's strings) out of stdout.
    let start = run
        .stdout
        .windows(BEFORE.len())
        .position(|w| w == BEFORE)
        .expect("no PUTS line")
        + BEFORE.len();
    assert!(run.stdout.len() - start > len as usize, "{}", run.context());
    run.stdout.drain(start..start + len as usize);
    survives(
        &run,
        "puts-ram",
        &["PUTS of all guest RAM above 1 MiB", "after the big PUTS"],
        1,
        &[],
    );
    assert!(
        (run.max_rss_kib as u64) < (len >> 10) / 2,
        "peak RSS {} KiB for a PUTS of {} KiB",
        run.max_rss_kib,
        len >> 10
    );
}

/// Lines the #637 proof of life prints besides [`ALIVE`].
const RING_ALIVE: [&str; 2] = ["ring: valid frame taken: yes", "ring: valid READ: status 1"];

/// A #637 scenario the guest survives: `frames` valid frames of its own
/// and the proof of life's two (ring, hypercall) are all that reach the tap.
fn ring_survives(scenario: &str, lines: &[&str], frames: u64) {
    let run = run(scenario);
    let all: Vec<&str> = lines.iter().copied().chain(RING_ALIVE).collect();
    survives(&run, scenario, &all, frames + 2, &[]);
}

/// ent_tail more than a ring ahead of the host's head, then behind it:
/// no entries the guest can have written; the host skips to the tail.
#[test]
fn ring_tail_far_ahead_and_behind() {
    ring_survives(
        "ring-tail",
        &[
            "host skipped to a tail 5000 ahead: yes",
            "host skipped to a tail 1 behind: yes",
        ],
        0,
    );
}

/// The host-written ent_head and com_tail overwritten: the host keeps its
/// own and publishes them again.
#[test]
fn ring_host_words_overwritten() {
    ring_survives(
        "ring-host-words",
        &[
            "host put its own ent_head back: yes",
            "host put its own com_tail back: yes",
            "ring: READ after com_tail was overwritten: status 1",
        ],
        1,
    );
}

/// WRITE entries of 0, 13, 2049, 65535 and 2^32 - 1 bytes are no frames
/// of the ring and are dropped; a READ of 2^32 - 1 bytes gets EINVAL, one
/// of 0 bytes AGAIN.
#[test]
fn ring_bad_lengths() {
    ring_survives(
        "ring-len",
        &[
            "host took the bad lengths: yes",
            "ring: READ of 2^32 - 1 bytes: status 2",
            "ring: READ of 0 bytes: status 1",
        ],
        0,
    );
}

/// WRITE buffers outside RAM, straddling its end, on tender pages or
/// wrapping are dropped; READs into the page tables, the code or past the
/// end of RAM get EINVAL.
#[test]
fn ring_bad_buffers() {
    ring_survives(
        "ring-buf",
        &[
            "host took the bad buffers: yes",
            "ring: READ into 0x20000 (page tables): status 2",
            "ring: READ into the code: status 2",
            "ring: READ into the last 30 bytes of RAM: status 2",
        ],
        0,
    );
}

/// Unknown operations and WRITEs on handles that are no net device are
/// dropped; READs on them get EINVAL.
#[test]
fn ring_bad_operations_and_handles() {
    ring_survives(
        "ring-op",
        &[
            "host took the bad entries: yes",
            "ring: READ on handle 0: status 2",
            "ring: READ on the block handle: status 2",
        ],
        0,
    );
}

/// Kicks of 4, 2 and 1 bytes with garbage values and no entries.
#[test]
fn ring_garbage_kicks() {
    ring_survives("ring-kick", &[], 0);
}
