//! Debugging unikernels with Debian's GDB in batch mode.
//!
//! `solo5-hvt-debug`: the GDB stub (breakpoint, a global read, single
//! step, the x87 registers, continue to the guest's exit, Ctrl-C and a
//! memory write) for a guest of ours at CPL 3 and at CPL 0, and for an
//! upstream-built (CPL 0) guest; core files of an aborting and of a faulting guest, and of
//! upstream's test_dumpcore, which GDB loads with the unikernel; the debug
//! options' errors, and that the plain `solo5-hvt` has none of them. The
//! upstream-built guests come from `RINGTENDER_UPSTREAM_TESTS` (upstream
//! Solo5's built `tests/` directory; skipped when it is not set).
//!
//! `solo5-spt`: GDB attaches to the guest process, past the supervisor.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::{
    built_unikernel, poll_until, unikernel_for, wait, without_cpl3, Outcome, Target, TempDir,
};

const DEBUG_TENDER: &str = env!("CARGO_BIN_EXE_solo5-hvt-debug");
const PLAIN_TENDER: &str = env!("CARGO_BIN_EXE_solo5-hvt");
const SPT_TENDER: &str = env!("CARGO_BIN_EXE_solo5-spt");

/// A `solo5-hvt-debug --gdb` waiting for GDB.
struct Stub {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
    port: u16,
}

/// Starts `solo5-hvt-debug --gdb` on an ephemeral port for `kernel`, its
/// output in files under `dir`, and waits (up to the hang guard) until it
/// says where GDB connects.
fn start_stub(dir: &TempDir, kernel: &Path) -> Stub {
    let stdout = dir.join("tender.out");
    let stderr = dir.join("tender.err");
    let child = Command::new(DEBUG_TENDER)
        .args(["--gdb", "--gdb-port=0"])
        .arg(kernel)
        .stdout(fs::File::create(&stdout).unwrap())
        .stderr(fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let mut port = None;
    assert!(
        poll_until(|| {
            let text = fs::read_to_string(&stderr).unwrap_or_default();
            port = text
                .split("target remote localhost:")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .and_then(|p| p.parse().ok());
            port.is_some()
        }),
        "the stub never said where to connect"
    );
    Stub {
        child,
        stdout,
        stderr,
        port: port.unwrap(),
    }
}

/// Starts GDB in batch mode on `kernel`, connected to `port`, running
/// `commands` (in C, whatever language the unikernel's debug info names).
fn start_gdb(kernel: &Path, port: u16, commands: &[&str]) -> Child {
    let mut gdb = Command::new("gdb");
    gdb.args(["--batch", "-nx", "-ex", "set language c"])
        .arg("-ex")
        .arg(format!("target remote localhost:{port}"));
    for command in commands {
        gdb.args(["-ex", command]);
    }
    gdb.arg(kernel)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gdb (Debian's gdb package)")
}

/// The tender's outcome, with its output from its files.
fn finish(stub: Stub) -> Outcome {
    let mut outcome = wait(stub.child);
    outcome.stdout = fs::read_to_string(&stub.stdout).unwrap();
    outcome.stderr = fs::read_to_string(&stub.stderr).unwrap();
    outcome
}

/// GDB breaks at `solo5_app_main`, reads `global` (which must print
/// `value`), steps one instruction, reads the x87 control word, and
/// continues to the guest's exit.
fn break_read_step_continue(kernel: &Path, global: &str, value: &str) {
    let dir = TempDir::new();
    let stub = start_stub(&dir, kernel);
    let read = format!("print {global}");
    let gdb = wait(start_gdb(
        kernel,
        stub.port,
        &[
            "break solo5_app_main",
            "continue",
            &read,
            "stepi",
            "print $pc",
            "info registers fctrl",
            "continue",
        ],
    ));
    let tender = finish(stub);
    assert_eq!(gdb.status, Some(0), "{gdb:#?}");
    let out = &gdb.stdout;
    assert!(out.contains("Breakpoint 1, "), "{gdb:#?}");
    assert!(out.contains(value), "{gdb:#?}");
    // The step left solo5_app_main's first instruction.
    assert!(out.contains("<solo5_app_main+"), "{gdb:#?}");
    // The x87 control word as KVM's reset leaves it: GDB sees the FPU.
    assert!(out.contains("0x37f"), "{gdb:#?}");
    assert!(out.contains("exited normally"), "{gdb:#?}");
    tender.assert_success();
    assert!(
        tender
            .stderr
            .contains("Connection from debugger at 127.0.0.1"),
        "{tender:#?}"
    );
}

#[test]
fn gdb_breaks_reads_steps_and_continues_a_ring3_guest() {
    break_read_step_continue(
        &unikernel_for(Target::Hvt, "globals"),
        "*(int *)&bss_counter",
        "= 0",
    );
}

#[test]
fn gdb_breaks_reads_steps_and_continues_our_guest_at_cpl0() {
    // Our image with its RNG3 note cleared starts at CPL 0, as upstream's.
    let dir = TempDir::new();
    let kernel = without_cpl3(&dir, "test_globals.hvt");
    break_read_step_continue(&kernel, "*(int *)&bss_counter", "= 0");
}

#[test]
fn gdb_breaks_reads_steps_and_continues_an_upstream_ring0_guest() {
    let Some(dir) = std::env::var_os("RINGTENDER_UPSTREAM_TESTS") else {
        eprintln!("skipped: RINGTENDER_UPSTREAM_TESTS (upstream's tests/ directory) is not set");
        return;
    };
    let kernel = Path::new(&dir).join("test_globals/test_globals.hvt");
    assert!(kernel.is_file(), "{} is missing", kernel.display());
    break_read_step_continue(&kernel, "s", "\"RUCCESS\\n\"");
}

#[test]
fn gdb_interrupts_a_spinning_guest_and_writes_its_memory() {
    let dir = TempDir::new();
    let kernel = built_unikernel("test_gdbspin.hvt");
    let stub = start_stub(&dir, &kernel);
    let gdb = start_gdb(
        &kernel,
        stub.port,
        &[
            "continue",
            "print $pc != 0",
            "set var *(int *)&release = 1",
            "continue",
        ],
    );
    // The guest spins once it said so; GDB's Ctrl-C (SIGINT to GDB) must
    // stop it, and only then does the flag's write let it end.
    assert!(
        poll_until(|| fs::read_to_string(&stub.stdout)
            .unwrap_or_default()
            .contains("spinning")),
        "the guest never ran"
    );
    // While the guest runs, the vCPU thread and the stub's reader are each
    // under their filter.
    let threads = thread_filters(stub.child.id());
    assert!(
        threads.iter().any(|(name, _)| name == "gdb-reader"),
        "{threads:?}"
    );
    assert!(threads.iter().all(|(_, mode)| mode == "2"), "{threads:?}");
    // SAFETY: signals our own child, GDB.
    assert_eq!(unsafe { libc::kill(gdb.id() as i32, libc::SIGINT) }, 0);
    let gdb = wait(gdb);
    let tender = finish(stub);
    assert!(gdb.stdout.contains("SIGINT"), "{gdb:#?}");
    assert!(gdb.stdout.contains("exited normally"), "{gdb:#?}");
    tender.assert_success();
}

/// Each thread of process `pid`: its name and its `Seccomp:` mode.
fn thread_filters(pid: u32) -> Vec<(String, String)> {
    let field = |status: &str, key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .map(|task| {
            let status = fs::read_to_string(task.unwrap().path().join("status")).unwrap();
            (field(&status, "Name:"), field(&status, "Seccomp:"))
        })
        .collect()
}

/// Runs `solo5-hvt-debug --dumpcore=DIR kernel`; returns its outcome and
/// the core file it named.
fn dump(dir: &TempDir, kernel: &Path) -> (Outcome, PathBuf) {
    let child = Command::new(DEBUG_TENDER)
        .arg(format!("--dumpcore={}", dir.0.display()))
        .arg(kernel)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let outcome = wait(child);
    let core = dir.join(&format!("core.solo5-hvt.{pid}"));
    let line = format!(
        "solo5-hvt-debug: dumpcore: dumping guest core to: {}",
        core.display()
    );
    assert!(outcome.stderr.contains(&line), "{outcome:#?}");
    assert!(core.is_file(), "{outcome:#?}");
    (outcome, core)
}

/// GDB's backtrace and registers of `core` with `kernel`.
fn gdb_on_core(kernel: &Path, core: &Path) -> Outcome {
    let gdb = Command::new("gdb")
        .args(["--batch", "-nx", "-ex", "bt", "-ex", "info registers"])
        .arg(kernel)
        .arg(core)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gdb (Debian's gdb package)");
    let gdb = wait(gdb);
    assert_eq!(gdb.status, Some(0), "{gdb:#?}");
    assert!(gdb.stdout.contains("rip            0x"), "{gdb:#?}");
    gdb
}

#[test]
fn upstreams_test_dumpcore_leaves_its_core() {
    let Some(dir) = std::env::var_os("RINGTENDER_UPSTREAM_TESTS") else {
        eprintln!("skipped: RINGTENDER_UPSTREAM_TESTS (upstream's tests/ directory) is not set");
        return;
    };
    let kernel = Path::new(&dir).join("test_dumpcore/test_dumpcore.hvt");
    assert!(kernel.is_file(), "{} is missing", kernel.display());
    let cores = TempDir::new();
    let (tender, core) = dump(&cores, &kernel);
    assert_eq!(tender.status, Some(255), "{tender:#?}");
    let gdb = gdb_on_core(&kernel, &core);
    assert!(gdb.stdout.contains("in solo5_abort"), "{gdb:#?}");
    assert!(gdb.stdout.contains("in solo5_app_main"), "{gdb:#?}");
}

#[test]
fn an_aborting_guest_leaves_a_core_gdb_reads() {
    let dir = TempDir::new();
    let kernel = unikernel_for(Target::Hvt, "abort");
    let (tender, core) = dump(&dir, &kernel);
    assert_eq!(tender.status, Some(255), "{tender:#?}");
    assert!(tender.stderr.contains("dumpcore: dumped "), "{tender:#?}");
    let gdb = gdb_on_core(&kernel, &core);
    assert!(gdb.stdout.contains("SIGABRT"), "{gdb:#?}");
    assert!(gdb.stdout.contains("solo5_abort"), "{gdb:#?}");
    assert!(gdb.stdout.contains("in solo5_app_main"), "{gdb:#?}");
}

#[test]
fn a_faulting_guest_leaves_a_core_at_the_fault() {
    let dir = TempDir::new();
    let kernel = unikernel_for(Target::Hvt, "exception");
    let (tender, core) = dump(&dir, &kernel);
    tender.assert_abort();
    assert!(
        tender.stdout.contains("Solo5: trap: type=#PF"),
        "{tender:#?}"
    );
    let gdb = gdb_on_core(&kernel, &core);
    assert!(gdb.stdout.contains("SIGSEGV"), "{gdb:#?}");
    // The frame is the faulting instruction in the guest's own code.
    assert!(gdb.stdout.contains("#0  0x"), "{gdb:#?}");
    assert!(gdb.stdout.contains("in solo5_app_main"), "{gdb:#?}");
}

#[test]
fn debug_options_errors_are_upstreams_and_the_plain_tender_has_none() {
    let kernel = unikernel_for(Target::Hvt, "globals");
    let run = |tender: &str, args: &[&str]| {
        let child = Command::new(tender)
            .args(args)
            .arg(&kernel)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait(child)
    };
    let bad_port = run(DEBUG_TENDER, &["--gdb", "--gdb-port=65536"]);
    bad_port.assert_error_line("solo5-hvt-debug: Malformed argument to --gdb-port");
    let no_dir = run(DEBUG_TENDER, &["--dumpcore=/nonexistent/dir"]);
    no_dir.assert_error_line("solo5-hvt-debug: dumpcore: cannot open dir");
    for option in ["--gdb", "--dumpcore=/tmp"] {
        let plain = run(PLAIN_TENDER, &[option]);
        assert_eq!(plain.status, Some(1), "{plain:#?}");
        assert!(
            plain
                .stderr
                .contains(&format!("solo5-hvt: Invalid option: `{option}'")),
            "{plain:#?}"
        );
    }
    // Without a debug option it is solo5-hvt.
    run(DEBUG_TENDER, &[]).assert_success();
}

#[test]
fn gdb_attaches_to_an_spt_guest_process() {
    let dir = TempDir::new();
    let kernel = built_unikernel("test_gdbspin.spt");
    let stdout = dir.join("tender.out");
    let tender = Command::new(SPT_TENDER)
        .arg(&kernel)
        .stdout(fs::File::create(&stdout).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        poll_until(|| fs::read_to_string(&stdout)
            .unwrap_or_default()
            .contains("spinning")),
        "the guest never ran"
    );
    // The guest is the supervisor's only child (no devices: no I/O worker).
    let children = fs::read_to_string(format!("/proc/{0}/task/{0}/children", tender.id())).unwrap();
    let guest = children.split_whitespace().next().expect("a guest process");
    let gdb = Command::new("gdb")
        .args(["--batch", "-nx", "-ex", "set language c", "-p", guest])
        .args([
            "-ex",
            "bt",
            "-ex",
            "set var *(int *)&release = 1",
            "-ex",
            "detach",
        ])
        .arg(&kernel)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gdb (Debian's gdb package)");
    let gdb = wait(gdb);
    assert!(gdb.stdout.contains("in solo5_app_main"), "{gdb:#?}");
    let mut outcome = wait(tender);
    outcome.stdout = fs::read_to_string(&stdout).unwrap();
    outcome.assert_success();
}
