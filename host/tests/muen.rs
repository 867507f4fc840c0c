//! `solo5-muen-runner` on real KVM.
//!
//! Until our own bindings link for muen, the guest here is a tiny CPL-0
//! subject the test compiles itself (`cc`, the muen ABI note and a manifest
//! from our `solo5-elftool`): it initialises the debug log channel as a
//! SHMStream v2 writer at Muen's fixed address, logs a few lines and halts
//! (or, built with `-DFAULT`, executes `ud2` with no IDT: a triple fault). Upstream-built `test_*.muen` programs
//! run too when `RINGTENDER_UPSTREAM_MUEN` names the directory of
//! upstream's `tests/` (built outside the repository); without it those
//! tests say so and pass.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{wait, NetNs, Outcome, TempDir};

const RUNNER: &str = env!("CARGO_BIN_EXE_solo5-muen-runner");
const ELFTOOL: &str = env!("CARGO_BIN_EXE_solo5-elftool");
/// Generous: the subject runs at CPL 0, emulated instruction by instruction
/// on this machine's KVM.
const LIMIT: Duration = Duration::from_secs(120);

const MANIFEST: &str = r#"{ "type": "solo5.manifest", "version": 1, "devices": [] }"#;

/// Muen's layout for a Solo5 subject: text at 0x200000, separate PT_NOTEs.
const LINKER_SCRIPT: &str = "ENTRY(_start)
PHDRS { text PT_LOAD FLAGS(5); rodata PT_LOAD FLAGS(4); abi PT_NOTE; mft PT_NOTE; }
SECTIONS {
  . = 0x200000;
  .text : { *(.text*) } :text
  . = ALIGN(0x1000);
  .note.solo5.abi : { *(.note.solo5.abi) } :rodata :abi
  .note.solo5.manifest : { *(.note.solo5.manifest) } :rodata :mft
  .rodata : { *(.rodata*) } :rodata
  . = ALIGN(0x1000);
  /DISCARD/ : { *(.eh_frame*) *(.note.GNU-stack) *(.comment) *(.note.gnu.*) *(.data*) *(.bss*) }
}
";

/// The subject. The channel layout is written out here from the SHMStream
/// v2 specification, independently of muen-compat.
const SUBJECT_C: &str = r#"
struct abi1_note {
    unsigned int n_namesz, n_descsz, n_type;
    char n_name[8];
    unsigned int abi_target, abi_version, reserved0, reserved1;
};
const struct abi1_note abi_note
    __attribute__((section(".note.solo5.abi"), aligned(4), used)) = {
    6, 16, 0x31494241, "Solo5", 4, 4, 0, 0
};

#define DEBUGLOG 0xffff00000UL
#define SIZE 0x20000UL
enum { TRANSPORT, EPOCH, PROTOCOL, ELSIZE, ELEMENTS, RESERVED, WSC, WC };
static volatile unsigned long *const header = (volatile unsigned long *)DEBUGLOG;

static void log_init(void)
{
    header[EPOCH] = 0;
    header[TRANSPORT] = 0x487312b6b79a9b6dUL;
    header[PROTOCOL] = 0xf00789094b6f70cfUL;
    header[ELSIZE] = 64;
    header[ELEMENTS] = (SIZE - 64) / 64;
    header[RESERVED] = 0;
    header[WSC] = 0;
    header[WC] = 0;
    __asm__ __volatile__("" ::: "memory");
    header[EPOCH] = 1;
}

static void log_line(const char *text)
{
    unsigned long wc = header[WC];
    volatile char *element =
        (volatile char *)(DEBUGLOG + 64 + (wc % header[ELEMENTS]) * 64);
    int i;
    header[WSC] = wc + 1;
    __asm__ __volatile__("" ::: "memory");
    *(volatile unsigned long *)element = 1;
    for (i = 0; i < 56; i++)
        element[8 + i] = 0;
    for (i = 0; text[i] && i < 56; i++)
        element[8 + i] = text[i];
    __asm__ __volatile__("" ::: "memory");
    header[WC] = wc + 1;
}

#ifdef ECHO
/* The net peer's channels, at gencspec's addresses: "service0|in" right
 * after ram (whose end the boot info gives), "service0|out" after it. */
#define NET_CHANNEL 0x100000UL
#define NET_ELEMENT 1516UL

/* Slot `n` of a channel: 64 bytes of header, then 1516-byte elements. */
static volatile unsigned int *slot(volatile unsigned long *channel, unsigned long n)
{
    return (volatile unsigned int *)((unsigned long)channel + 64 +
                                     (n % channel[ELEMENTS]) * NET_ELEMENT);
}

static void copy_element(volatile unsigned int *to, volatile unsigned int *from)
{
    unsigned long i;
    for (i = 0; i < NET_ELEMENT / 4; i++)
        to[i] = from[i];
}

/* Reads ECHO elements from the input channel (the peer's writer) and
 * writes each back on the output channel, Muen's reader and writer. */
static void echo(void)
{
    unsigned long ram_end = *(volatile unsigned long *)0x1000;
    volatile unsigned long *in = (volatile unsigned long *)ram_end;
    volatile unsigned long *out = (volatile unsigned long *)(ram_end + NET_CHANNEL);
    unsigned long rc = 0, wc = 0, n;

    out[EPOCH] = 0;
    out[TRANSPORT] = 0x487312b6b79a9b6dUL;
    out[PROTOCOL] = 0x7ade5c549b08e814UL;
    out[ELSIZE] = NET_ELEMENT;
    out[ELEMENTS] = (NET_CHANNEL - 64) / NET_ELEMENT;
    out[RESERVED] = 0;
    out[WSC] = 0;
    out[WC] = 0;
    __asm__ __volatile__("" ::: "memory");
    out[EPOCH] = 1;
    log_line("echoing\n");
    while (in[EPOCH] == 0 || in[PROTOCOL] != 0x7ade5c549b08e814UL ||
           in[ELSIZE] != NET_ELEMENT)
        __asm__ __volatile__("pause");
    for (n = 0; n < ECHO; n++) {
        while (in[WC] == rc)
            __asm__ __volatile__("pause");
        out[WSC] = wc + 1;
        __asm__ __volatile__("" ::: "memory");
        copy_element(slot(out, wc), slot(in, rc));
        __asm__ __volatile__("" ::: "memory");
        out[WC] = ++wc;
        rc++;
    }
}
#endif

#ifdef BLOCK
/* Muen's muenblock client, by hand: "storage|request" right after ram,
 * "storage|response" and "storage|buffer" after it. */
#define REQUEST_CHANNEL 0x8000UL
#define RESPONSE_CHANNEL 0x4000UL
#define BLOCK_PROTOCOL 0x5155684453516f3dUL
struct request {
    unsigned short kind, device;
    unsigned int tag;
    unsigned long length, device_offset, buffer_offset;
};
struct response {
    unsigned short kind, device;
    unsigned int tag;
    unsigned long status;
};
/* On the stack: the subject has no .data or .bss. */
struct client {
    volatile unsigned long *requests, *responses;
    unsigned long request_wc, response_rc;
};

/* One request, then its response's status (~0 if it answers another). */
static unsigned long call(struct client *c, unsigned short kind, unsigned int tag, unsigned long length,
                          unsigned long block, unsigned long buffer_offset)
{
    volatile struct request *r = (volatile struct request *)
        ((unsigned long)c->requests + 64 + (c->request_wc % c->requests[ELEMENTS]) * 32);
    volatile struct response *a;
    c->requests[WSC] = c->request_wc + 1;
    __asm__ __volatile__("" ::: "memory");
    r->kind = kind;
    r->device = 0;
    r->tag = tag;
    r->length = length;
    r->device_offset = block;
    r->buffer_offset = buffer_offset;
    __asm__ __volatile__("" ::: "memory");
    c->requests[WC] = ++c->request_wc;
    while (c->responses[WC] == c->response_rc)
        __asm__ __volatile__("pause");
    a = (volatile struct response *)
        ((unsigned long)c->responses + 64 + (c->response_rc % c->responses[ELEMENTS]) * 16);
    c->response_rc++;
    return a->kind == kind && a->tag == tag ? a->status : ~0UL;
}

static void log_value(const char *name, unsigned long value)
{
    char line[56], digits[20];
    int n = 0, i = 0;
    while (*name)
        line[i++] = *name++;
    line[i++] = ' ';
    do {
        digits[n++] = '0' + value % 10;
        value /= 10;
    } while (value);
    while (n)
        line[i++] = digits[--n];
    line[i++] = '\n';
    line[i] = 0;
    log_line(line);
}

/* The handshake, then block 0 read into the buffer at 0x200 and written
 * from there to block 2, a sync, and a read past the device. */
static void block(void)
{
    unsigned long ram_end = *(volatile unsigned long *)0x1000;
    unsigned long blocks;
    struct client client = {
        (volatile unsigned long *)ram_end,
        (volatile unsigned long *)(ram_end + REQUEST_CHANNEL), 0, 0
    }, *c = &client;
    volatile unsigned long *requests = c->requests, *responses = c->responses;

    requests[EPOCH] = 0;
    requests[TRANSPORT] = 0x487312b6b79a9b6dUL;
    requests[PROTOCOL] = BLOCK_PROTOCOL;
    requests[ELSIZE] = 32;
    requests[ELEMENTS] = (REQUEST_CHANNEL - 64) / 32;
    requests[RESERVED] = 0;
    requests[WSC] = 0;
    requests[WC] = 0;
    __asm__ __volatile__("" ::: "memory");
    requests[EPOCH] = 1;
    while (responses[EPOCH] == 0 || responses[PROTOCOL] != BLOCK_PROTOCOL ||
           responses[ELSIZE] != 16)
        __asm__ __volatile__("pause");
    c->response_rc = responses[WC];
    log_value("reset", call(c, 0x1f, 0, 0, 0, 0));
    log_value("devices", call(c, 0x1b, 1, 0, 0, 0));
    blocks = call(c, 0x10, 10, 0, 0, 0);
    log_value("blocks", blocks);
    log_value("length", call(c, 0x11, 11, 0, 0, 0));
    log_value("max_blocks", call(c, 0x1a, 12, 0, 0, 0));
    log_value("read", call(c, 1, 0x1000, 512, 0, 0x200));
    log_value("write", call(c, 2, 0x1001, 512, 2, 0x200));
    log_value("sync", call(c, 4, 21, 0, 0, 0));
    log_value("past", call(c, 1, 0x1002, 512, blocks, 0));
}
#endif

void _start(void)
{
    log_init();
#ifdef BLOCK
    block();
    for (;;)
        __asm__ __volatile__("cli; hlt");
#endif
#ifdef ECHO
    echo();
    log_line("echoed\n");
    for (;;)
        __asm__ __volatile__("cli; hlt");
#endif
    log_line("Solo5: solo5_exit(5) called\n");
#ifdef FAULT
    __asm__ __volatile__("ud2");
#endif
    log_line("a line of exactly fifty-six characters, no NUL, no newl");
    log_line("ine\n");
    log_line("Solo5: solo5_exit(3) called\n");
    for (;;)
        __asm__ __volatile__("cli; hlt");
}
"#;

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Compiles the subject in `dir` with `defines` (`-DFAULT`).
fn build_subject(dir: &TempDir, defines: &[&str]) -> PathBuf {
    build_subject_with(dir, MANIFEST, defines)
}

/// Compiles the subject in `dir` with `manifest` (JSON) and `defines`.
fn build_subject_with(dir: &TempDir, manifest: &str, defines: &[&str]) -> PathBuf {
    std::fs::write(dir.join("manifest.json"), manifest).unwrap();
    let out = Command::new(ELFTOOL)
        .arg("gen-manifest")
        .arg(dir.join("manifest.json"))
        .arg(dir.join("manifest.c"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    std::fs::write(dir.join("subject.c"), SUBJECT_C).unwrap();
    std::fs::write(dir.join("link.lds"), LINKER_SCRIPT).unwrap();
    let out = Command::new("cc")
        .args([
            "-O2",
            "-ffreestanding",
            "-fno-stack-protector",
            "-fno-pic",
            "-mno-red-zone",
            "-mgeneral-regs-only",
            "-nostdlib",
            "-static",
            "-no-pie",
            "-fno-asynchronous-unwind-tables",
            "-Wl,--build-id=none",
            "-Wl,-T,link.lds",
        ])
        .args(defines)
        .args(["subject.c", "manifest.c", "-o", "subject.muen"])
        .current_dir(&dir.0)
        .output()
        .unwrap();
    assert!(out.status.success(), "cc: {}", stderr_of(&out));
    dir.join("subject.muen")
}

fn run_runner(args: &[&str]) -> Outcome {
    let child = Command::new(RUNNER)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait(child, LIMIT)
}

#[test]
fn the_debug_log_is_printed_and_its_last_exit_line_gives_the_status() {
    let dir = TempDir::new();
    let subject = build_subject(&dir, &[]);
    let out = run_runner(&["--mem=2", subject.to_str().unwrap()]);
    assert_eq!(out.status, Some(3), "{out:#?}");
    assert_eq!(
        out.stdout,
        "Solo5: solo5_exit(5) called\n\
         a line of exactly fifty-six characters, no NUL, no newline\n\
         Solo5: solo5_exit(3) called\n",
        "{out:#?}"
    );
    assert_eq!(out.stderr, "", "{out:#?}");
}

#[test]
fn a_triple_fault_is_one_line_and_status_1_after_the_log() {
    let dir = TempDir::new();
    let subject = build_subject(&dir, &["-DFAULT"]);
    let out = run_runner(&["--mem=2", subject.to_str().unwrap()]);
    out.assert_error_line("solo5-muen-runner: subject shut down (triple fault): rip=0x");
    assert_eq!(out.stdout, "Solo5: solo5_exit(5) called\n", "{out:#?}");
}

#[test]
fn bad_command_lines_and_kernels_get_one_line_and_status_1() {
    let dir = TempDir::new();
    let subject = build_subject(&dir, &[]);
    let out = run_runner(&["--classic", subject.to_str().unwrap()]);
    assert_eq!(out.status, Some(1), "{out:#?}");
    assert!(
        out.stderr.starts_with(
            "solo5-muen-runner: Invalid option: `--classic'\nusage: solo5-muen-runner"
        ),
        "{out:#?}"
    );
    common::Outcome::assert_error_line(
        &run_runner(&["/nonexistent.muen"]),
        "solo5-muen-runner: /nonexistent.muen: Could not open",
    );
    let not_elf = dir.join("junk.muen");
    std::fs::write(
        &not_elf,
        b"not an ELF file at all, but long enough for a header..........",
    )
    .unwrap();
    let out = run_runner(&[not_elf.to_str().unwrap()]);
    assert_eq!(out.status, Some(1), "{out:#?}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:#?}");
    let out = run_runner(&["--version"]);
    assert_eq!(out.status, Some(0), "{out:#?}");
    assert!(out.stderr.contains("\nABI version 4\n"), "{out:#?}");
}

#[test]
fn a_kernel_for_another_target_is_refused() {
    let dir = TempDir::new();
    let subject = build_subject(&dir, &[]);
    let mut bytes = std::fs::read(&subject).unwrap();
    // The ABI1 descriptor follows "Solo5\0\0\0"; target 4 becomes 1 (hvt).
    let at = bytes
        .windows(12)
        .position(|w| w == b"Solo5\0\0\0\x04\0\0\0")
        .expect("ABI1 note")
        + 8;
    bytes[at] = 1;
    let hvt = dir.join("subject.hvt");
    std::fs::write(&hvt, bytes).unwrap();
    run_runner(&[hvt.to_str().unwrap()])
        .assert_error_line("Executable is not for the solo5-muen-runner target");
}

/// An upstream-built `test_NAME.muen`, if `RINGTENDER_UPSTREAM_MUEN` is set.
fn upstream(name: &str) -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("RINGTENDER_UPSTREAM_MUEN") else {
        eprintln!(
            "skipped: set RINGTENDER_UPSTREAM_MUEN to upstream Solo5 v0.12.1's built tests/ \
             directory to run upstream's test_{name}.muen"
        );
        return None;
    };
    let path = Path::new(&dir).join(format!("test_{name}/test_{name}.muen"));
    assert!(path.is_file(), "{} is missing", path.display());
    Some(path)
}

#[test]
fn upstream_hello_prints_its_command_line_and_succeeds() {
    let Some(kernel) = upstream("hello") else {
        return;
    };
    let out = run_runner(&["--mem=16", kernel.to_str().unwrap(), "Hello_Solo5"]);
    out.assert_success();
    assert!(
        out.stdout.contains("Clock source: Muen PV clock"),
        "{out:#?}"
    );
}

#[test]
fn upstream_time_sleeps_on_the_scheduling_info_clock() {
    let Some(kernel) = upstream("time") else {
        return;
    };
    run_runner(&["--mem=16", kernel.to_str().unwrap()]).assert_success();
}

#[test]
fn upstream_exception_aborts() {
    let Some(kernel) = upstream("exception") else {
        return;
    };
    run_runner(&["--mem=16", kernel.to_str().unwrap()]).assert_abort();
}

const NET_MANIFEST: &str = r#"{ "type": "solo5.manifest", "version": 1,
    "devices": [ { "name": "service0", "type": "NET_BASIC" } ] }"#;

/// Starts the runner inside `ns` with `args`, its stdout to `log`.
fn spawn_in_ns(ns: &NetNs, args: &[&str], log: &Path) -> std::process::Child {
    ns.command(RUNNER)
        .args(args)
        .stdout(std::fs::File::create(log).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn the_net_peer_carries_frames_from_the_tap_through_the_subject_and_back() {
    const FRAMES: u64 = 3;
    let dir = TempDir::new();
    let subject = build_subject_with(&dir, NET_MANIFEST, &[&format!("-DECHO={FRAMES}")]);
    let ns = NetNs::new();
    ns.add_tap("tap0", None, 1500);
    let socket = common::PacketSocket::bind_in(&ns, "tap0");
    let child = spawn_in_ns(
        &ns,
        &["--mem=2", "--net:service0=tap0", subject.to_str().unwrap()],
        &dir.join("log"),
    );
    // The tap drops what is sent before the runner attached it.
    wait_for_log(&dir.join("log"), "echoing\n");
    let frames: Vec<Vec<u8>> = (0..FRAMES).map(common::seq_frame).collect();
    for frame in &frames {
        socket.send(frame);
    }
    let mut echoed = Vec::new();
    while echoed.len() < frames.len() {
        let frame = socket.recv_incoming(LIMIT).expect("an echoed frame");
        if frame[12..14] == frames[0][12..14] {
            echoed.push(frame);
        }
    }
    assert_eq!(echoed, frames);
    let out = wait(child, LIMIT);
    assert_eq!(out.status, Some(0), "{out:#?}");
    assert_eq!(
        std::fs::read_to_string(dir.join("log")).unwrap(),
        "echoing\nechoed\n"
    );
}

/// Waits until `log` holds `text`, however long the subject takes.
fn wait_for_log(log: &Path, text: &str) {
    let start = std::time::Instant::now();
    while !std::fs::read_to_string(log)
        .unwrap_or_default()
        .contains(text)
    {
        assert!(start.elapsed() < LIMIT, "no {text:?} in {}", log.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn upstream_net_answers_pings_through_the_net_peer() {
    let Some(kernel) = upstream("net") else {
        return;
    };
    let dir = TempDir::new();
    let ns = NetNs::new();
    ns.add_tap("tap0", Some("10.0.0.1/24"), 1500);
    let log = dir.join("log");
    let mut child = spawn_in_ns(
        &ns,
        &["--mem=16", "--net:service0=tap0", kernel.to_str().unwrap()],
        &log,
    );
    wait_for_log(&log, "Serving ping on 10.0.0.2");
    // Until 3 replies came back, however slow the emulated subject is (a
    // neighbour resolution that took too long makes ping give up: again).
    let start = std::time::Instant::now();
    let ping = loop {
        let ping = ns
            .command("ping")
            .args(["-c", "3", "-i", "0.2", "-w", "120", "10.0.0.2"])
            .output()
            .unwrap();
        if ping.status.success() || start.elapsed() > LIMIT {
            break ping;
        }
    };
    let _ = child.kill();
    let out = wait(child, LIMIT);
    let text = String::from_utf8_lossy(&ping.stdout);
    assert!(
        ping.status.success() && text.contains("3 received"),
        "{text}\n{out:#?}\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}

#[test]
fn the_block_peer_serves_muenblock_from_the_file() {
    const BLOCK_MANIFEST: &str = r#"{ "type": "solo5.manifest", "version": 1,
        "devices": [ { "name": "storage", "type": "BLOCK_BASIC" } ] }"#;
    let dir = TempDir::new();
    let subject = build_subject_with(&dir, BLOCK_MANIFEST, &["-DBLOCK"]);
    // 16 blocks; block i holds byte 0x40 + i.
    let image = dir.join("storage.img");
    let data: Vec<u8> = (0..16 * 512).map(|i| 0x40 + (i / 512) as u8).collect();
    std::fs::write(&image, &data).unwrap();
    let block = format!("--block:storage={}", image.display());
    let out = run_runner(&["--mem=2", &block, subject.to_str().unwrap()]);
    assert_eq!(out.status, Some(0), "{out:#?}");
    assert_eq!(
        out.stdout,
        "reset 0\ndevices 1\nblocks 16\nlength 512\nmax_blocks 2048\n\
         read 0\nwrite 0\nsync 0\npast 1\n",
        "{out:#?}"
    );
    // Block 0 was copied to block 2 (device offsets are block numbers);
    // nothing else changed.
    let mut expected = data;
    expected.copy_within(0..512, 2 * 512);
    assert!(std::fs::read(&image).unwrap() == expected);
}
