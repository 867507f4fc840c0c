//! `solo5-muen-runner` on real KVM.
//!
//! Our own test unikernels built for muen (`build/unikernels/test_*.muen`)
//! run in the runner's fast mode, at CPL 3. Beside them, a tiny CPL-0
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
/// The tests' hang guard, for what a test waits on itself: generous, for the
/// subject may run at CPL 0, emulated instruction by instruction on this
/// machine's KVM, beside other load.
const LIMIT: Duration = common::HANG_GUARD;

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

/// [`LINKER_SCRIPT`] with ringtender's RNG3 note in its own PT_NOTE, for
/// the subject built with `-DCPL3`.
fn cpl3_linker_script() -> String {
    LINKER_SCRIPT
        .replace("mft PT_NOTE; }", "mft PT_NOTE; rng3 PT_NOTE; }")
        .replace(
            "  .rodata : {",
            "  .note.ringtender.ring3 : { *(.note.ringtender.ring3) } :rodata :rng3\n  .rodata : {",
        )
}

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

#ifdef CPL3
/* ringtender's RNG3 note, version 1, RING3_FLAG_CPL3 (docs/guest-contract.md). */
struct rng3_note {
    unsigned int n_namesz, n_descsz, n_type;
    char n_name[8];
    unsigned int version, flags;
    unsigned long reserved;
};
const struct rng3_note rng3_note
    __attribute__((section(".note.ringtender.ring3"), aligned(4), used)) = {
    6, 16, 0x33474e52, "Solo5", 1, 1, 0
};

#define MSR_FS_BASE 0xc0000100UL
static const unsigned long tls_word = 0x600dcafe;

static void log_hex(const char *prefix, unsigned long value)
{
    char line[56];
    int i = 0, shift;
    while (prefix[i]) {
        line[i] = prefix[i];
        i++;
    }
    for (shift = 60; shift >= 0; shift -= 4)
        line[i++] = "0123456789abcdef"[(value >> shift) & 15];
    line[i++] = '\n';
    line[i] = 0;
    log_line(line);
}

/* wrmsr to FS_BASE traps at CPL 3; the runner sets FS base and resumes
 * after it with every register as it was. */
static int wrmsr_keeps_registers(unsigned long base)
{
    unsigned long a = base & 0xffffffffUL, d = base >> 32, c = MSR_FS_BASE;
    unsigned long b = 0xb0b0, si = 0x5151, di = 0xd1d1;
    register unsigned long r8 __asm__("r8") = 0x8888;
    register unsigned long r9 __asm__("r9") = 0x9999;
    register unsigned long r10 __asm__("r10") = 0xaaaa;
    register unsigned long r11 __asm__("r11") = 0xbbbb;
    register unsigned long r12 __asm__("r12") = 0xcccc;
    register unsigned long r15 __asm__("r15") = 0xffff;
    __asm__ __volatile__("wrmsr"
                         : "+a"(a), "+d"(d), "+c"(c), "+b"(b), "+S"(si), "+D"(di),
                           "+r"(r8), "+r"(r9), "+r"(r10), "+r"(r11), "+r"(r12), "+r"(r15)
                         :
                         : "memory");
    return a == (base & 0xffffffffUL) && d == base >> 32 && c == MSR_FS_BASE &&
           b == 0xb0b0 && si == 0x5151 && di == 0xd1d1 && r8 == 0x8888 &&
           r9 == 0x9999 && r10 == 0xaaaa && r11 == 0xbbbb && r12 == 0xcccc &&
           r15 == 0xffff;
}

static void cpl3_checks(void)
{
    unsigned short cs;
    unsigned long fs_word, rax = 7;
    __asm__ __volatile__("mov %%cs, %0" : "=r"(cs));
    log_hex("cpl ", cs & 3);
#ifdef BAD_MSR
    __asm__ __volatile__("wrmsr" :: "c"(0x10), "a"(0), "d"(0));
#endif
#ifdef BAD_BASE
    __asm__ __volatile__("wrmsr" :: "c"(MSR_FS_BASE), "a"(0), "d"(0x8000));
#endif
    if (wrmsr_keeps_registers((unsigned long)&tls_word))
        log_line("wrmsr kept the registers\n");
    __asm__ __volatile__("mov %%fs:0, %0" : "=r"(fs_word));
    log_hex("fs:0 ", fs_word);
    __asm__ __volatile__("cli");
    log_line("after cli\n");
    __asm__ __volatile__("vmcall" : "+a"(rax) :: "memory");
    log_hex("after vmcall rax ", rax);
}
#endif

void _start(void)
{
    log_init();
#ifdef CPL3
    cpl3_checks();
#endif
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
#ifdef VMCALL
    {
        unsigned long rax = VMCALL;
        log_line("Solo5: solo5_exit(7) called\n");
        __asm__ __volatile__("vmcall" : "+a"(rax) :: "memory");
        log_line(rax == VMCALL ? "after vmcall rax kept\n" : "after vmcall rax changed\n");
        log_line("Solo5: solo5_exit(9) called\n");
        for (;;)
            __asm__ __volatile__("cli; hlt");
    }
#endif
#ifdef WRITE_TEXT
    *(volatile unsigned char *)_start = 0xc3;
    log_line("wrote the text\n");
#endif
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

/// Compiles the subject in `dir` with `defines` (`-DFAULT`; `-DCPL3` with
/// the RNG3 note and the CPL-3 checks, plus `-DBAD_MSR` or `-DBAD_BASE`).
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
    let script = if defines.contains(&"-DCPL3") {
        cpl3_linker_script()
    } else {
        LINKER_SCRIPT.to_string()
    };
    std::fs::write(dir.join("link.lds"), script).unwrap();
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

/// Runs the runner with `args` (and the engine `RINGTENDER_TEST_ENGINE`
/// names, if set), for at most [`LIMIT`].
fn run_runner(args: &[&str]) -> Outcome {
    let child = Command::new(RUNNER)
        .args(common::engine_option(args))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait(child)
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

/// A CPL-0 subject's `vmcall` in its read-only text raises the exit event
/// when it is published: the run ends there, with the log's status. (This
/// host's KVM rewrites the `vmcall` in place; with the text read-only in
/// the page tables that rewrite was a page fault, here a triple fault.)
#[test]
fn a_cpl0_subjects_vmcall_in_its_text_raises_the_exit_event() {
    let dir = TempDir::new();
    let subject = build_subject(&dir, &["-DVMCALL=0"]);
    let out = run_runner(&["--mem=2", "--exit-event", subject.to_str().unwrap()]);
    assert_eq!(out.status, Some(7), "{out:#?}");
    assert!(!out.stdout.contains("after vmcall"), "{out:#?}");
    assert_eq!(out.stderr, "", "{out:#?}");
}

/// A CPL-0 subject's `vmcall` of an event it has no right to is stepped
/// over, RAX untouched, as Muen does.
#[test]
fn a_cpl0_subjects_vmcall_of_another_event_is_stepped_over() {
    let dir = TempDir::new();
    let subject = build_subject(&dir, &["-DVMCALL=5"]);
    let out = run_runner(&["--mem=2", "--exit-event", subject.to_str().unwrap()]);
    assert_eq!(out.status, Some(9), "{out:#?}");
    assert!(out.stdout.contains("after vmcall rax kept\n"), "{out:#?}");
}

/// A CPL-0 subject's write to its text faults, as Muen's rights make it:
/// it never goes on (this subject has no IDT: a triple fault).
#[test]
fn a_cpl0_subjects_write_to_its_text_faults() {
    let dir = TempDir::new();
    let subject = build_subject(&dir, &["-DWRITE_TEXT"]);
    let out = run_runner(&["--mem=2", subject.to_str().unwrap()]);
    out.assert_error_line("solo5-muen-runner: subject shut down (triple fault): rip=0x");
    assert!(!out.stdout.contains("wrote the text"), "{out:#?}");
}

/// With the RNG3 note the subject runs at CPL 3, and what it traps on is
/// carried out: `wrmsr` to FS_BASE (every register kept, FS base set),
/// `cli` stepped over, `hlt` the end. `vmcall` at CPL 3 does not reach the
/// runner on this machine (KVM completes it, RAX -1); the subject goes on
/// after it either way.
#[test]
fn a_cpl3_subjects_privileged_instructions_are_carried_out() {
    let dir = TempDir::new();
    let subject = build_subject(&dir, &["-DCPL3"]);
    let out = run_runner(&["--mem=2", subject.to_str().unwrap()]);
    assert_eq!(out.status, Some(3), "{out:#?}");
    let (before, after) = out
        .stdout
        .split_once("after vmcall rax ")
        .unwrap_or_else(|| panic!("{out:#?}"));
    assert_eq!(
        before,
        "cpl 0000000000000003\n\
         wrmsr kept the registers\n\
         fs:0 00000000600dcafe\n\
         after cli\n",
        "{out:#?}"
    );
    assert!(
        after.ends_with(
            "\nSolo5: solo5_exit(5) called\n\
             a line of exactly fifty-six characters, no NUL, no newline\n\
             Solo5: solo5_exit(3) called\n"
        ),
        "{out:#?}"
    );
    assert_eq!(out.stderr, "", "{out:#?}");
}

/// A `wrmsr` Muen's policy does not allow (another MSR, or FS_BASE with a
/// non-canonical base) is the #GP a CPU gives: reported, status 255.
#[test]
fn a_cpl3_subjects_other_wrmsr_is_a_fatal_gp() {
    for define in ["-DBAD_MSR", "-DBAD_BASE"] {
        let dir = TempDir::new();
        let subject = build_subject(&dir, &["-DCPL3", define]);
        let out = run_runner(&["--mem=2", subject.to_str().unwrap()]);
        assert_eq!(out.status, Some(255), "{define}: {out:#?}");
        assert!(
            out.stdout
                .starts_with("cpl 0000000000000003\nSolo5: trap: type=#GP ec=0x0 rip=0x"),
            "{define}: {out:#?}"
        );
        assert!(
            out.stdout
                .ends_with("Solo5: ABORT: Fatal trap\nSolo5: Halted\n"),
            "{define}: {out:#?}"
        );
        assert_eq!(out.stderr, "", "{define}: {out:#?}");
    }
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

/// Upstream's `test_hello.muen` with the exit event published ends at its
/// `vmcall` with its status, no trap.
#[test]
fn upstream_hello_ends_at_its_exit_event() {
    let Some(kernel) = upstream("hello") else {
        return;
    };
    let out = run_runner(&[
        "--mem=16",
        "--exit-event",
        kernel.to_str().unwrap(),
        "Hello_Solo5",
    ]);
    out.assert_success();
    assert!(!out.stdout.contains("trap"), "{out:#?}");
}

/// Upstream's `test_xnow.muen` writes to its text: the page fault Muen
/// gives (error code 3, CR2 in the text), and Solo5 aborts.
#[test]
fn upstream_xnow_gets_muens_page_fault() {
    let Some(kernel) = upstream("xnow") else {
        return;
    };
    let out = run_runner(&["--mem=16", kernel.to_str().unwrap()]);
    out.assert_abort();
    assert!(
        out.stdout.contains("Solo5: trap: type=#PF ec=0x3 "),
        "{out:#?}"
    );
    assert!(out.stdout.contains("Solo5: trap: cr2=0x20"), "{out:#?}");
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

/// Starts the runner inside `ns` with `args` (and the engine
/// `RINGTENDER_TEST_ENGINE` names, if set), its stdout to `log`.
fn spawn_in_ns(ns: &NetNs, args: &[&str], log: &Path) -> std::process::Child {
    ns.command(RUNNER)
        .args(common::engine_option(args))
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
        assert!(socket.send(frame), "the tap has no reader");
    }
    let mut echoed = Vec::new();
    while echoed.len() < frames.len() {
        let frame = socket.recv_incoming(LIMIT).expect("an echoed frame");
        if frame[12..14] == frames[0][12..14] {
            echoed.push(frame);
        }
    }
    assert_eq!(echoed, frames);
    let out = wait(child);
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
    let ping = common::ping_until_answered(&ns, "10.0.0.2", 3);
    let _ = child.kill();
    let out = wait(child);
    assert!(
        ping.contains("3 received"),
        "{ping}\n{out:#?}\n{}",
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

/// Our own `test_NAME.muen` (built by tests/unikernels/build.sh); a missing
/// one fails the test.
fn ours(name: &str) -> PathBuf {
    common::built_unikernel(&format!("test_{name}.muen"))
}

fn run_ours(options: &[&str], name: &str, args: &[&str]) -> Outcome {
    let kernel = ours(name);
    let mut argv = vec!["--mem=16"];
    argv.extend_from_slice(options);
    argv.push("--");
    argv.push(kernel.to_str().unwrap());
    argv.extend_from_slice(args);
    run_runner(&argv)
}

/// Ours run at CPL 3 unless `--strict` is given (`host/tests/cpl0.rs`): at
/// CPL 0 this machine's KVM emulates every instruction of the subject.
#[test]
fn our_hello_runs_at_cpl3_and_succeeds() {
    let out = run_ours(&[], "hello", &["Hello_Solo5"]);
    out.assert_success();
    assert!(
        out.stdout.contains("Command line is: 'Hello_Solo5'"),
        "{out:#?}"
    );
    assert!(out.stdout.ends_with("Solo5: Halted\n"), "{out:#?}");
    assert_eq!(out.stderr, "", "{out:#?}");
}

/// test_time bounds its sleeps from below only.
#[test]
fn our_simple_tests_succeed_at_cpl3() {
    for name in ["quiet", "globals", "output", "fpu", "time"] {
        run_ours(&[], name, &[]).assert_success();
    }
}

/// `solo5_set_tls_base` is a `wrmsr` to FS_BASE, which traps at CPL 3 and
/// which the runner carries out.
#[test]
fn tls_bases_set_with_wrmsr_work_at_cpl3() {
    run_ours(&[], "tls", &[]).assert_success();
}

#[test]
fn our_exit_status_and_abort_come_through_at_cpl3() {
    let out = run_ours(&[], "exitcode", &[]);
    assert_eq!(out.status, Some(42), "{out:#?}");
    let out = run_ours(&[], "abort", &[]);
    assert_eq!(out.status, Some(255), "{out:#?}");
    assert!(out.stdout.contains("solo5_abort() called"), "{out:#?}");
}

/// With the exit event published, Solo5's exit raises it with `vmcall`
/// before `cli; hlt`; the run ends with the logged status either way.
#[test]
fn the_exit_event_ends_a_cpl3_subject_with_its_status() {
    let out = run_ours(&["--exit-event"], "exitcode", &[]);
    assert_eq!(out.status, Some(42), "{out:#?}");
    assert!(out.stdout.ends_with("Solo5: Halted\n"), "{out:#?}");
}

/// A fault at CPL 3 goes to the runner's stubs: reported in upstream's
/// words, then "Solo5: Halted" and status 255, as the bindings' own
/// handler does at CPL 0.
#[test]
fn faults_at_cpl3_are_reported_and_abort() {
    for (name, cr2) in [
        ("exception", "0x400000000"),
        ("zeropage", "0x8"),
        ("notls", "0x"),
        ("xnow", "0x"),
        ("wnox", "0x"),
        ("xstack", "0x"),
    ] {
        let out = run_ours(&[], name, &[]);
        out.assert_abort();
        assert!(!out.stdout.contains("FAILURE"), "{out:#?}");
        assert!(
            out.stdout.contains("Solo5: trap: type=#PF ec=0x"),
            "{out:#?}"
        );
        assert!(
            out.stdout.contains(&format!("Solo5: trap: cr2={cr2}")),
            "{out:#?}"
        );
        assert!(
            out.stdout
                .ends_with("Solo5: ABORT: Fatal trap\nSolo5: Halted\n"),
            "{out:#?}"
        );
        assert_eq!(out.stderr, "", "{out:#?}");
    }
}

#[test]
fn stack_smashing_is_caught_at_cpl3() {
    let out = run_ours(&[], "ssp", &[]);
    out.assert_abort();
    assert!(out.stdout.contains("Stack corruption detected"), "{out:#?}");
}

/// Our `test_blk.muen` with the block peer: every 10th block written and
/// read back, the last block, and refusals; its writes are on the file.
fn our_blk_through_the_block_peer(sector: Option<&str>) {
    let dir = TempDir::new();
    let image = dir.zero_file("storage.img", 4 << 20);
    let block = format!("--block:storage={}", image.display());
    let sector_option = sector.map(|s| format!("--block-sector-size:storage={s}"));
    let mut options = vec![block.as_str()];
    options.extend(sector_option.as_deref());
    let out = run_ours(&options, "blk", &[]);
    out.assert_success();
    assert_eq!(out.stderr, "", "{out:#?}");
    common::assert_blk_writes_kept(&image, sector.map_or(512, |s| s.parse().unwrap()));
}

#[test]
fn our_blk_succeeds_through_the_block_peer() {
    our_blk_through_the_block_peer(None);
}

#[test]
fn our_blk_succeeds_through_the_block_peer_with_4k_sectors() {
    our_blk_through_the_block_peer(Some("4096"));
}

/// Starts our `test_NAME.muen` with `options` and `args` inside `ns`
/// (`--mem=16`), once it logged `ready`; the child and its log.
fn start_ours_in_ns(
    ns: &NetNs,
    dir: &TempDir,
    options: &[&str],
    name: &str,
    args: &[&str],
    ready: &str,
) -> (std::process::Child, PathBuf) {
    let kernel = ours(name);
    let mut argv = vec!["--mem=16"];
    argv.extend_from_slice(options);
    argv.push("--");
    argv.push(kernel.to_str().unwrap());
    argv.extend_from_slice(args);
    let log = dir.join("log");
    let child = spawn_in_ns(ns, &argv, &log);
    wait_for_log(&log, ready);
    (child, log)
}

/// Our `test_net.muen` answers ARP and 20 pings on 10.0.0.2 through the
/// net peer and a tap, then ends with SUCCESS (fast mode).
#[test]
fn our_net_answers_pings_through_the_net_peer() {
    net_answers_pings(&[]);
}

/// The same at CPL 0, as Muen starts the subject (`--strict`).
#[test]
fn our_net_answers_pings_in_strict_mode() {
    net_answers_pings(&["--strict"]);
}

fn net_answers_pings(mode: &[&str]) {
    let ns = NetNs::new();
    ns.add_tap("tap0", Some("10.0.0.1/24"), 1500);
    let dir = TempDir::new();
    let (child, log) = start_ours_in_ns(
        &ns,
        &dir,
        &[mode, &["--net:service0=tap0"]].concat(),
        "net",
        &["limit", "20"],
        "Serving",
    );
    let ping = common::ping_until_answered(&ns, "10.0.0.2", 20);
    let out = wait(child);
    let stdout = std::fs::read_to_string(&log).unwrap();
    assert!(ping.contains(" 20 received"), "{ping}\n{stdout}");
    assert_eq!(out.status, Some(0), "{out:#?}\n{stdout}");
    assert!(
        stdout.contains("Answered 20 echo requests\nSUCCESS"),
        "{stdout}"
    );
}

/// Our `test_net_2if.muen` on two taps: 10 pings answered on each.
#[test]
fn our_net_2if_answers_on_both_interfaces() {
    let ns = NetNs::new();
    ns.add_tap("tap0", Some("10.0.0.1/24"), 1500);
    ns.add_tap("tap1", Some("10.1.0.1/24"), 1500);
    let dir = TempDir::new();
    let (child, log) = start_ours_in_ns(
        &ns,
        &dir,
        &["--net:service0=tap0", "--net:service1=tap1"],
        "net_2if",
        &["limit", "20"],
        "Serving",
    );
    let ping0 = common::ping_until_answered(&ns, "10.0.0.2", 10);
    let ping1 = common::ping_until_answered(&ns, "10.1.0.2", 10);
    let out = wait(child);
    let stdout = std::fs::read_to_string(&log).unwrap();
    assert!(
        ping0.contains(" 10 received") && ping1.contains(" 10 received"),
        "{ping0}\n{ping1}\n{stdout}"
    );
    assert_eq!(out.status, Some(0), "{out:#?}\n{stdout}");
    assert!(stdout.contains("SUCCESS"), "{stdout}");
}

/// As many frames as one Muen net channel holds (1 MiB of 1516-byte
/// elements less the header): the most a writer can put in flight that no
/// reader can find overrun, whatever the timing (Muen's channels have no
/// flow control; docs/muen-runner.md). The million-frame tests with an
/// end-to-end window are in `muen_devices.rs`.
const ONE_CHANNEL_OF_FRAMES: u64 = ((1 << 20) - 64) / 1516;

/// Our `test_netseq.muen` sends one channel of sequence-numbered frames;
/// the net peer puts every one on the tap (fast mode).
#[test]
fn our_netseq_frames_all_reach_the_tap() {
    netseq_frames_reach_the_tap(&[]);
}

/// The same at CPL 0 (`--strict`).
#[test]
fn our_netseq_frames_all_reach_the_tap_in_strict_mode() {
    netseq_frames_reach_the_tap(&["--strict"]);
}

fn netseq_frames_reach_the_tap(mode: &[&str]) {
    let ns = NetNs::new();
    ns.add_tap("tap0", None, 1500);
    let dir = TempDir::new();
    let frames = ONE_CHANNEL_OF_FRAMES.to_string();
    let (child, log) = start_ours_in_ns(
        &ns,
        &dir,
        &[mode, &["--net:service0=tap0"]].concat(),
        "netseq",
        &["tx", &frames],
        "Ready",
    );
    let out = wait(child);
    let stdout = std::fs::read_to_string(&log).unwrap();
    assert_eq!(out.status, Some(0), "{out:#?}\n{stdout}");
    assert!(stdout.contains(&format!("frames {frames} ")), "{stdout}");
    assert_eq!(
        common::tap_stat(&ns, "tap0", "rx_packets"),
        ONE_CHANNEL_OF_FRAMES,
        "{stdout}"
    );
}

/// Our `test_blkseq.muen` writes 2000 sequence-numbered blocks and reads
/// 2000 through the block peer; every acknowledged write is on the file
/// (fast mode).
#[test]
fn our_blkseq_writes_are_all_on_the_file() {
    blkseq_writes_kept(&[]);
}

/// The same at CPL 0 (`--strict`).
#[test]
fn our_blkseq_writes_are_all_on_the_file_in_strict_mode() {
    blkseq_writes_kept(&["--strict"]);
}

fn blkseq_writes_kept(mode: &[&str]) {
    let dir = TempDir::new();
    let image = dir.zero_file("storage.img", 1 << 20);
    let block = format!("--block:storage={}", image.display());
    let options = [mode, &[block.as_str()]].concat();
    let out = run_ours(&options, "blkseq", &["2000"]);
    out.assert_success();
    assert!(out.stdout.contains("acked 2000"), "{out:#?}");
    let log = dir.join("log");
    std::fs::write(&log, &out.stdout).unwrap();
    common::assert_blkseq_writes_kept(&log, &image);
    run_ours(&options, "blkseq", &["read", "2000"]).assert_success();
}

/// SIGTERM ends the runner with upstream's message under the runner's own
/// name and status 1, as upstream's tenders end. (Not checked here: the
/// file against the log, since the debug log the runner drains
/// periodically may lag behind the subject when the signal comes.)
#[test]
fn sigterm_ends_the_runner_in_its_own_name() {
    let dir = TempDir::new();
    let image = dir.zero_file("storage.img", 1 << 20);
    let block = format!("--block:storage={}", image.display());
    let kernel = ours("blkseq");
    let args = [
        "--mem=16",
        &block,
        "--",
        kernel.to_str().unwrap(),
        "100000000",
    ];
    let log = dir.join("log");
    let child = Command::new(RUNNER)
        .args(common::engine_option(&args))
        .args(args)
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_log(&log, "acked 10");
    // SAFETY: kill(2) of our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let out = wait(child);
    out.assert_error_line("solo5-muen-runner: Exiting on signal 15");
    assert!(!out.stderr.contains("solo5-hvt"), "{out:#?}");
}
