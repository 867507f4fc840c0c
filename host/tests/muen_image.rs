//! The test unikernels built for muen (`test_*.muen`, from
//! `tests/unikernels/build.sh`): Muen's layout (text at 0x200000, a 32-byte
//! `.interp` first, `_start` right after it), the ABI1 note Muen's tools
//! expect (target muen, version 4), and no instruction a Muen subject has
//! no use for or may not execute: port I/O (Muen gives a Solo5 subject no
//! ports), `cpuid` (trapped to the subject monitor), the FS/GS base
//! instructions (CR4.FSGSBASE is off under Muen) and system calls. The
//! disassembly is the real `objdump`'s, over every executable section.

use std::path::PathBuf;
use std::process::Command;

use goblin::elf::program_header::PT_LOAD;
use goblin::elf::Elf;
use ringtender_abi::elf_note::AbiTarget;
use ringtender_host::elf::read_abi_note;
use ringtender_muen_compat::subject::MUEN_ABI_VERSION;

/// Where Muen's tools expect a Solo5 subject's text.
const TEXT_START: u64 = 0x20_0000;
/// `.interp` occupies this many bytes before `_start`.
const INTERP_SIZE: u64 = 32;

/// Mnemonics that must not appear in a muen image.
const FORBIDDEN: &[&str] = &[
    "in", "ins", "insb", "insw", "insd", "out", "outs", "outsb", "outsw", "outsd", "cpuid",
    "wrfsbase", "wrgsbase", "rdfsbase", "rdgsbase", "syscall", "sysenter",
];

/// The C tests the muen target must build, at least.
const REQUIRED: &[&str] = &[
    "hello", "quiet", "globals", "tls", "time", "exitcode", "abort", "blk", "net",
];

fn unikernels_dir() -> PathBuf {
    std::env::var_os("RINGTENDER_UNIKERNELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .unwrap()
                .join("build/unikernels")
        })
}

fn muen_images() -> Vec<PathBuf> {
    let dir = unikernels_dir();
    let mut images: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (run tests/unikernels/build.sh)", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "muen"))
        .collect();
    images.sort();
    for name in REQUIRED {
        let path = dir.join(format!("test_{name}.muen"));
        assert!(path.is_file(), "{} is missing", path.display());
    }
    images
}

/// Every instruction of `image` that uses a forbidden mnemonic, as
/// "function: instruction".
fn forbidden_instructions(image: &PathBuf) -> Vec<String> {
    let out = Command::new("objdump")
        .args(["-d", "-M", "intel", "--no-show-raw-insn"])
        .arg(image)
        .output()
        .expect("run objdump");
    assert!(
        out.status.success(),
        "objdump failed on {}",
        image.display()
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut function = String::new();
    let mut found = Vec::new();
    for line in text.lines() {
        if let Some(label) = line.strip_suffix(">:") {
            function = label.rsplit('<').next().unwrap_or_default().to_string();
            continue;
        }
        // "  200020:\tmnemonic operands"
        let Some((_, insn)) = line.split_once(":\t") else {
            continue;
        };
        let mnemonic = insn
            .split_whitespace()
            .find(|word| !matches!(*word, "rep" | "repz" | "repnz" | "lock" | "data16"));
        if mnemonic.is_some_and(|m| FORBIDDEN.contains(&m)) {
            found.push(format!("{function}: {}", insn.trim()));
        }
    }
    found
}

#[test]
fn muen_images_have_no_forbidden_instructions() {
    let images = muen_images();
    let mut bad = Vec::new();
    for image in &images {
        for insn in forbidden_instructions(image) {
            bad.push(format!("{}: {insn}", image.display()));
        }
    }
    assert!(
        bad.is_empty(),
        "instructions a Muen subject may not execute:\n{}",
        bad.join("\n")
    );
}

#[test]
fn muen_images_have_muens_layout_and_abi_note() {
    for image in muen_images() {
        let file = std::fs::read(&image).unwrap();
        let elf = Elf::parse(&file).unwrap();
        let shown = image.display();
        let first_load = elf
            .program_headers
            .iter()
            .find(|ph| ph.p_type == PT_LOAD)
            .unwrap();
        assert_eq!(first_load.p_vaddr, TEXT_START, "{shown}: text address");
        assert!(first_load.is_executable(), "{shown}: first segment is text");
        let interp = elf
            .section_headers
            .iter()
            .find(|sh| elf.shdr_strtab.get_at(sh.sh_name) == Some(".interp"))
            .unwrap_or_else(|| panic!("{shown}: no .interp"));
        assert_eq!(
            (interp.sh_addr, interp.sh_size),
            (TEXT_START, INTERP_SIZE),
            "{shown}: .interp"
        );
        assert_eq!(elf.entry, TEXT_START + INTERP_SIZE, "{shown}: entry");
        let start = elf
            .syms
            .iter()
            .find(|sym| elf.strtab.get_at(sym.st_name) == Some("_start"))
            .unwrap_or_else(|| panic!("{shown}: no _start"));
        assert_eq!(start.st_value, elf.entry, "{shown}: _start is the entry");
        let abi = read_abi_note(&file).unwrap();
        assert_eq!(
            (abi.abi_target, abi.abi_version),
            (AbiTarget::Muen as u32, MUEN_ABI_VERSION),
            "{shown}: ABI1 note"
        );
    }
}
