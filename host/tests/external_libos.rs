//! A Rust libOS outside ringtender's tree (`tests/external-libos/`: its own
//! workspace and lock file) follows `docs/porting.md`: copied to a
//! directory outside the repository, its guest crates named by absolute
//! path, it builds, and its hvt and spt unikernels do block I/O through the
//! ring API on the real tenders. The build fails if the guest crates stop
//! being usable out of tree or the recipe stops linking a unikernel.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{repo, wait, TempDir};

const HVT: &str = env!("CARGO_BIN_EXE_solo5-hvt");
const SPT: &str = env!("CARGO_BIN_EXE_solo5-spt");

/// Copies `tests/external-libos` into `dir` with its path dependencies
/// pointing into this repository, as an author's own crate would.
fn copy_crate(dir: &Path) {
    let source = repo().join("tests/external-libos");
    let manifest = fs::read_to_string(source.join("Cargo.toml")).unwrap();
    let absolute = format!("path = \"{}/", repo().display());
    assert!(manifest.contains("path = \"../../"), "{manifest}");
    fs::write(
        dir.join("Cargo.toml"),
        manifest.replace("path = \"../../", &absolute),
    )
    .unwrap();
    for file in ["Cargo.lock", "build.rs"] {
        fs::copy(source.join(file), dir.join(file)).unwrap();
    }
    fs::create_dir(dir.join("src")).unwrap();
    for entry in fs::read_dir(source.join("src")).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), dir.join("src").join(entry.file_name())).unwrap();
    }
}

/// Builds the copied crate with its own lock file; returns the directory
/// that holds its binaries.
fn build(dir: &Path) -> PathBuf {
    // Beside this test's own build: <target>/release/deps/<this test>.
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).unwrap().join("external-libos");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "--release", "--locked", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the out-of-tree libOS does not build:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    target.join("release")
}

/// Runs `kernel` on `tender` with a fresh block file; checks SUCCESS and
/// that the batch it wrote is in the file.
fn run(tender: &str, kernel: &Path) {
    let dir = TempDir::new();
    let disk = dir.zero_file("disk.img", 1 << 20);
    let child = Command::new(tender)
        .arg(format!("--block:storage={}", disk.display()))
        .arg("--")
        .arg(kernel)
        .arg("out of tree")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait(child);
    out.assert_success();
    assert!(
        out.stdout.contains("ringblk, command line: 'out of tree'"),
        "{out:#?}"
    );
    // The program's pattern: byte j of chunk i (4096 bytes) is i * 7 + j.
    let data = fs::read(&disk).unwrap();
    for (offset, byte) in data[..8 * 4096].iter().enumerate() {
        let (i, j) = (offset / 4096, offset % 4096);
        assert_eq!(*byte, (i * 7 + j) as u8, "{tender}: byte {offset}");
    }
}

#[test]
fn out_of_tree_rust_libos_runs_on_hvt_and_spt() {
    let dir = TempDir::new();
    copy_crate(&dir.0);
    let bin = build(&dir.0);
    run(HVT, &bin.join("ringblk"));
    run(SPT, &bin.join("ringblk-spt"));
}
