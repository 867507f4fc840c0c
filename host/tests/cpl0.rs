//! Our bindings started at CPL 0, as upstream's `solo5-hvt` and Muen start
//! every guest: they install their own descriptor tables and trap handlers,
//! set TLS with `wrmsr`, say "ring 0" in the banner, and execute no SSE
//! instruction (this machine's KVM emulates ring-0 code and its emulator
//! has none of the SSE arithmetic; `docs/host-notes.md`). The tests run
//! the test unikernels upstream's hvt tests pass on upstream's tender here
//! (`docs/compatibility.md`):
//! - on our `solo5-hvt`, from a copy of the image whose RNG3 note no longer
//!   offers CPL 3: the tender then starts it at CPL 0, as it starts
//!   upstream-built images;
//! - on `solo5-muen-runner --strict`, the muen builds;
//! - on upstream v0.12.1's `solo5-hvt` when `RINGTENDER_UPSTREAM_HVT` names
//!   it (built outside the repository), skipped with a note otherwise.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::{built_unikernel, wait, without_cpl3, Outcome, TempDir};

const HVT: &str = env!("CARGO_BIN_EXE_solo5-hvt");
const RUNNER: &str = env!("CARGO_BIN_EXE_solo5-muen-runner");

/// What upstream's `tests.bats` expects of a test on hvt.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Status 0 and SUCCESS.
    Success,
    /// Status 255 and ABORT.
    Abort,
    /// A page fault at this CR2, reported in upstream's words, then ABORT.
    PageFault(&'static str),
}

/// A test unikernel, its arguments, its block device's sector size (if it
/// has one) and what it must give.
struct Case {
    name: &'static str,
    args: &'static [&'static str],
    sector: Option<usize>,
    expect: Expect,
}

/// The tests upstream-built binaries pass on upstream's `solo5-hvt` on this
/// machine that we have too (not fpu: PVM's emulator stops upstream's at
/// `mulps` as well; not net: 100,000 pings at CPL 0 overrun upstream's
/// 60 s).
const CASES: &[Case] = &[
    Case::new("hello", &["Hello_Solo5"], Expect::Success),
    Case::new("quiet", &["--solo5:quiet"], Expect::Success),
    Case::new("output", &[], Expect::Success),
    Case::new("globals", &[], Expect::Success),
    Case::new("tls", &[], Expect::Success),
    Case::new("time", &[], Expect::Success),
    Case::new("exception", &[], Expect::PageFault("0x400000000")),
    Case::new("zeropage", &[], Expect::PageFault("0x8")),
    Case::new("notls", &[], Expect::Abort),
    Case::new("ssp", &[], Expect::Abort),
    Case {
        sector: Some(512),
        ..Case::new("blk", &[], Expect::Success)
    },
    Case {
        sector: Some(4096),
        ..Case::new("blk", &[], Expect::Success)
    },
];

impl Case {
    const fn new(name: &'static str, args: &'static [&'static str], expect: Expect) -> Self {
        Self {
            name,
            args,
            sector: None,
            expect,
        }
    }

    /// Runs `program` with `options`, this case's block device (a fresh
    /// file in `dir`) and `kernel`; checks the outcome, the banner (when
    /// `banner` is given and the case prints one) and the block file.
    fn check(&self, program: &str, options: &[&str], kernel: &Path, banner: Option<&str>) {
        let dir = TempDir::new();
        let image = dir.zero_file("storage.img", 4 << 20);
        let mut argv: Vec<String> = options.iter().map(|s| s.to_string()).collect();
        argv.push("--mem=16".into());
        if let Some(sector) = self.sector {
            argv.push(format!("--block:storage={}", image.display()));
            argv.push(format!("--block-sector-size:storage={sector}"));
        }
        argv.push("--".into());
        argv.push(kernel.to_str().unwrap().into());
        argv.extend(self.args.iter().map(|s| s.to_string()));
        let child = Command::new(program)
            .args(&argv)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = wait(child);
        let context = format!("{} {argv:?}", self.name);
        assert_expected(&out, self.expect, &context);
        if let (Some(banner), false) = (banner, self.args.contains(&"--solo5:quiet")) {
            let line = out
                .stdout
                .lines()
                .find(|l| l.starts_with("Solo5: ringtender bindings version "));
            assert!(
                line.is_some_and(|l| l.ends_with(banner)),
                "{context}: no '{banner}' banner: {out:#?}"
            );
        }
        if let Some(sector) = self.sector {
            common::assert_blk_writes_kept(&image, sector);
        }
    }
}

fn assert_expected(out: &Outcome, expect: Expect, context: &str) {
    assert!(!out.stdout.contains("FAILURE"), "{context}: {out:#?}");
    match expect {
        Expect::Success => {
            assert_eq!(out.status, Some(0), "{context}: {out:#?}");
            assert!(out.stdout.contains("SUCCESS"), "{context}: {out:#?}");
        }
        Expect::Abort => {
            assert_eq!(out.status, Some(255), "{context}: {out:#?}");
            assert!(out.stdout.contains("ABORT"), "{context}: {out:#?}");
        }
        Expect::PageFault(cr2) => {
            assert_expected(out, Expect::Abort, context);
            assert!(
                out.stdout.contains("Solo5: trap: type=#PF ec=0x"),
                "{context}: {out:#?}"
            );
            assert!(
                out.stdout.contains(&format!("Solo5: trap: cr2={cr2}\n")),
                "{context}: {out:#?}"
            );
            assert!(
                out.stdout.contains("Solo5: ABORT: Fatal trap\n"),
                "{context}: {out:#?}"
            );
        }
    }
}

#[test]
fn our_hvt_binaries_at_cpl0_on_our_tender() {
    let dir = TempDir::new();
    for case in CASES {
        let kernel = without_cpl3(&dir, &format!("test_{}.hvt", case.name));
        case.check(HVT, &[], &kernel, Some("(hvt, ring 0)"));
    }
}

#[test]
fn our_hvt_banner_says_ring_3_under_our_tender() {
    let kernel = built_unikernel("test_hello.hvt");
    Case::new("hello", &["Hello_Solo5"], Expect::Success).check(
        HVT,
        &[],
        &kernel,
        Some("(hvt, ring 3)"),
    );
}

/// Issue 11's strict mode: our muen binaries at CPL 0 as Muen starts
/// them, with the bindings' own tables (slow here: ring-0 code is
/// emulated).
#[test]
fn our_muen_binaries_in_the_runners_strict_mode() {
    for case in CASES {
        let kernel = built_unikernel(&format!("test_{}.muen", case.name));
        case.check(RUNNER, &["--strict"], &kernel, Some("(muen, ring 0)"));
    }
}

#[test]
fn our_hvt_binaries_on_upstreams_tender() {
    let Some(tender) = std::env::var_os("RINGTENDER_UPSTREAM_HVT") else {
        eprintln!(
            "skipped: set RINGTENDER_UPSTREAM_HVT to upstream Solo5 v0.12.1's solo5-hvt \
             (built outside the repository) to run our hvt binaries on it"
        );
        return;
    };
    let tender = tender.to_str().unwrap();
    for case in CASES {
        let kernel = built_unikernel(&format!("test_{}.hvt", case.name));
        case.check(tender, &[], &kernel, Some("(hvt, ring 0)"));
    }
}

/// Upstream builds its bindings with `-mno-sse -mno-mmx`; ours are built
/// for `x86_64-unknown-none`, `core` included. An SSE instruction in the
/// bindings would stop a guest at CPL 0 on a host that emulates ring 0.
#[test]
fn the_bindings_objects_use_no_sse_or_mmx_register() {
    for object in ["solo5_hvt.o", "solo5_muen.o"] {
        let path = common::repo().join("dist/lib").join(object);
        assert!(
            path.is_file(),
            "{} is missing: run sync-shim/build-dist.sh (tests/run.sh does)",
            path.display()
        );
        let out = Command::new("objdump")
            .args(["-d", "--no-show-raw-insn"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success(), "objdump {}", path.display());
        let text = String::from_utf8_lossy(&out.stdout);
        let vector: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("%xmm") || l.contains("%ymm") || l.contains("%mm"))
            .take(5)
            .collect();
        assert!(vector.is_empty(), "{object}: {vector:#?}");
        assert!(text.lines().count() > 1000, "{object}: too little code");
    }
}
