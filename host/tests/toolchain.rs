//! Runs the installed C toolchain (`dist/bin/x86_64-solo5-none-static-*`,
//! from `sync-shim/build-dist.sh`) the way libOS build systems do: with CC
//! exported as the wrapper itself, autoconf-style probes that link without
//! `-z solo5-abi`, partial and final links with the ld wrapper, objcopy, and
//! `tests/toolchain/`'s configure script and Makefile. The unikernels they
//! build boot on the real tenders.

mod common;

use std::fs;
use std::os::unix::fs::symlink;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{repo, wait, Outcome, TempDir};

const HVT: &str = env!("CARGO_BIN_EXE_solo5-hvt");
const SPT: &str = env!("CARGO_BIN_EXE_solo5-spt");
const ELFTOOL: &str = env!("CARGO_BIN_EXE_solo5-elftool");

/// The line `tests/toolchain/hello.c` prints.
const HELLO_MESSAGE: &str = "toolchain: hello from a make-built unikernel";

/// An installed wrapper, `tool` being cc, ld or objcopy.
fn wrapper(tool: &str) -> PathBuf {
    let path = repo()
        .join("dist/bin")
        .join(format!("x86_64-solo5-none-static-{tool}"));
    assert!(
        path.is_file(),
        "{} is missing: run sync-shim/build-dist.sh (tests/run.sh does)",
        path.display()
    );
    path
}

/// Kills the process group it names when dropped, so that nothing a
/// command started (a wrapper calling itself forks without end) outlives it,
/// even when the hang guard fires.
struct GroupKiller(i32);

impl Drop for GroupKiller {
    fn drop(&mut self) {
        // SAFETY: kill(2) takes plain integers; -pgid names only the group
        // made for this command (process_group(0)), ESRCH if it is gone.
        unsafe { libc::kill(-self.0, libc::SIGKILL) };
    }
}

/// Runs `cmd` in `dir` (stdin closed) in a process group of its own, killed
/// if it outlives the tests' hang guard.
fn run_in(dir: &Path, cmd: &mut Command) -> Outcome {
    let child = cmd
        .current_dir(dir)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let _group = GroupKiller(child.id() as i32);
    wait(child)
}

/// Runs `cmd` in `dir` and asserts it succeeded.
fn run_ok(dir: &Path, cmd: &mut Command) -> Outcome {
    let out = run_in(dir, cmd);
    assert_eq!(out.status, Some(0), "{cmd:?}: {out:#?}");
    out
}

/// The ELF type (`e_type`) of `path`.
fn elf_type(path: &Path) -> u16 {
    let bytes = fs::read(path).unwrap();
    assert_eq!(&bytes[..4], b"\x7fELF", "{} is not ELF", path.display());
    u16::from_le_bytes([bytes[16], bytes[17]])
}

const ET_REL: u16 = 1;
const ET_EXEC: u16 = 2;

/// Compiles the hello unikernel and its manifest into `dir` (hello.o,
/// manifest.o) with the cc wrapper.
fn compile_hello(dir: &Path) {
    let src = repo().join("tests/toolchain");
    run_ok(
        dir,
        Command::new(ELFTOOL)
            .arg("gen-manifest")
            .arg(src.join("manifest.json"))
            .arg("manifest.c"),
    );
    run_ok(
        dir,
        Command::new(wrapper("cc"))
            .args(["-O2", "-Wall", "-Werror", "-c", "-o", "hello.o"])
            .arg(src.join("hello.c")),
    );
    run_ok(
        dir,
        Command::new(wrapper("cc")).args(["-c", "-o", "manifest.o", "manifest.c"]),
    );
}

/// Boots `kernel` on `tender` and asserts it printed the hello line and
/// exited 0.
fn assert_boots(tender: &str, kernel: &Path) {
    let out = run_in(
        kernel.parent().unwrap(),
        Command::new(tender).args(["--mem=16", "--"]).arg(kernel),
    );
    assert_eq!(
        out.status,
        Some(0),
        "{tender} {}: {out:#?}",
        kernel.display()
    );
    assert!(out.stdout.contains(HELLO_MESSAGE), "{out:#?}");
}

#[test]
fn cc_exported_as_cc_reaches_the_real_compiler() {
    let dir = TempDir::new();
    fs::write(dir.join("x.c"), "int f(void) { return 1; }\n").unwrap();
    let cc = wrapper("cc");
    run_ok(&dir.0, Command::new(&cc).env("CC", &cc).args(["-c", "x.c"]));
    assert_eq!(elf_type(&dir.join("x.o")), ET_REL);
}

#[test]
fn installing_refuses_a_wrapper_as_the_host_compiler() {
    let dir = TempDir::new();
    let out = run_in(
        &dir.0,
        Command::new(repo().join("sync-shim/toolchain/install-tools.sh"))
            .arg(dir.join("dist"))
            .env("CC", wrapper("cc")),
    );
    out.assert_error_line("is a ringtender toolchain wrapper, not a host tool");
    assert!(!dir.join("dist/bin/x86_64-solo5-none-static-cc").exists());
}

#[test]
fn a_wrapper_whose_compiler_became_itself_refuses_to_run() {
    let dir = TempDir::new();
    let host_cc = dir.join("host-cc");
    let real_cc = run_ok(&dir.0, Command::new("sh").args(["-c", "command -v cc"]));
    symlink(real_cc.stdout.trim(), &host_cc).unwrap();
    run_ok(
        &dir.0,
        Command::new(repo().join("sync-shim/toolchain/install-tools.sh"))
            .arg(dir.join("dist"))
            .env("CC", &host_cc),
    );
    let cc = dir.join("dist/bin/x86_64-solo5-none-static-cc");
    fs::remove_file(&host_cc).unwrap();
    symlink(&cc, &host_cc).unwrap();
    fs::write(dir.join("x.c"), "int f(void) { return 1; }\n").unwrap();
    let out = run_in(&dir.0, Command::new(&cc).args(["-c", "x.c"]));
    out.assert_error_line("is this wrapper; reinstall with CC set to the host compiler");
}

#[test]
fn linking_without_an_abi_links_the_stub_which_no_tender_runs() {
    let dir = TempDir::new();
    fs::write(dir.join("conftest.c"), "int main(void) { return 0; }\n").unwrap();
    run_ok(
        &dir.0,
        Command::new(wrapper("cc")).args(["-o", "conftest", "conftest.c"]),
    );
    let stub = dir.join("conftest");
    assert_eq!(elf_type(&stub), ET_EXEC);
    for tender in [HVT, SPT] {
        let out = run_in(&dir.0, Command::new(tender).arg("--").arg(&stub));
        // Upstream's stub has the same shape: no note in its PT_NOTEs, and
        // upstream's tenders stop at the first empty one with this line.
        out.assert_error_line(&format!(
            "{}: invalid executable: phdr[7].p_filesz note does not fall within valid size (0 < 12)",
            stub.display()
        ));
    }
    // Its PT_INTERP keeps the host kernel from running it.
    let err = Command::new(&stub).status().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound, "{err}");
}

#[test]
fn ld_links_partially_and_finally_for_hvt_and_spt() {
    let dir = TempDir::new();
    compile_hello(&dir.0);
    let ld = wrapper("ld");
    run_ok(
        &dir.0,
        Command::new(&ld).args(["-r", "-o", "libos.o", "hello.o", "manifest.o"]),
    );
    assert_eq!(elf_type(&dir.join("libos.o")), ET_REL);
    for (abi, tender) in [("hvt", HVT), ("spt", SPT)] {
        let kernel = format!("hello.{abi}");
        run_ok(
            &dir.0,
            Command::new(&ld).args(["-z", &format!("solo5-abi={abi}"), "-o", &kernel, "libos.o"]),
        );
        assert_eq!(elf_type(&dir.join(&kernel)), ET_EXEC);
        assert_boots(tender, &dir.join(&kernel));
    }
}

#[test]
fn ld_without_an_abi_adds_no_bindings() {
    let dir = TempDir::new();
    compile_hello(&dir.0);
    let out = run_in(
        &dir.0,
        Command::new(wrapper("ld")).args(["-o", "hello", "hello.o", "manifest.o"]),
    );
    assert_ne!(out.status, Some(0), "{out:#?}");
    assert!(
        out.stderr
            .contains("undefined reference to `solo5_console_write'"),
        "{out:#?}"
    );
}

#[test]
fn objcopy_extracts_the_abi_note() {
    let dir = TempDir::new();
    compile_hello(&dir.0);
    run_ok(
        &dir.0,
        Command::new(wrapper("cc")).args([
            "-z",
            "solo5-abi=hvt",
            "-o",
            "hello.hvt",
            "hello.o",
            "manifest.o",
        ]),
    );
    run_ok(
        &dir.0,
        Command::new(wrapper("objcopy")).args([
            "-O",
            "binary",
            "--only-section=.note.solo5.abi",
            "hello.hvt",
            "abi.note",
        ]),
    );
    let note = fs::read(dir.join("abi.note")).unwrap();
    // n_namesz 6, n_descsz 16, n_type "ABI1", "Solo5\0", then abi_target hvt (1).
    assert_eq!(note.len(), 36, "{note:?}");
    assert_eq!(&note[..4], &6u32.to_le_bytes());
    assert_eq!(&note[4..8], &16u32.to_le_bytes());
    assert_eq!(&note[8..12], b"ABI1");
    assert_eq!(&note[12..18], b"Solo5\0");
    assert_eq!(&note[20..24], &1u32.to_le_bytes());
}

#[test]
fn configure_and_make_build_a_unikernel() {
    let dir = TempDir::new();
    let src = repo().join("tests/toolchain");
    let cc = wrapper("cc");
    let out = run_ok(
        &dir.0,
        Command::new("sh").arg(src.join("configure")).env("CC", &cc),
    );
    for line in [
        "checking whether the C compiler works... yes",
        "checking whether we are cross compiling... yes",
        "checking for suffix of object files... o",
        "checking for solo5.h... yes",
        "checking for solo5_console_write... yes",
        "checking for solo5_ring_net_send... yes",
        "checking for ringtender_no_such_function... no",
    ] {
        assert!(out.stdout.contains(line), "expected {line:?}: {out:#?}");
    }
    run_ok(
        &dir.0,
        Command::new("make")
            .arg("-f")
            .arg(src.join("Makefile"))
            .arg(format!("CC={}", cc.display()))
            .arg(format!("ELFTOOL={ELFTOOL}")),
    );
    assert_boots(HVT, &dir.join("hello.hvt"));
}
