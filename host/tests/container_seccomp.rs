//! The tenders under a seccomp filter installed before them, as a
//! container runtime installs its profile (urunc does, before it execs
//! `solo5-hvt`): each variant (hvt and spt, rings and `--classic`) runs
//! `test_hello` and `test_blk` under the allow-list `docs/deployment.md`
//! documents for it, with the tender's own filter stacked on top and
//! nothing said about it; the same list without `seccomp` kills the
//! tender. Every other call is killed, so a call missing from the
//! documentation fails here.

mod common;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{repo, unikernel_for, wait, Outcome, Target, TempDir};
use seccompiler::{BpfProgram, TargetArch};

const HVT: &str = env!("CARGO_BIN_EXE_solo5-hvt");
const SPT: &str = env!("CARGO_BIN_EXE_solo5-spt");

/// The variants: the allow-list's name in the documentation, the tender,
/// its target and its options.
const VARIANTS: [(&str, Target, &[&str]); 4] = [
    ("hvt-rings", Target::Hvt, &[]),
    ("hvt-classic", Target::Hvt, &["--classic"]),
    ("spt-rings", Target::Spt, &[]),
    ("spt-classic", Target::Spt, &["--classic"]),
];

/// The system calls the documentation allows for `variant`: the words of
/// the fenced block after the line `<!-- allow-list VARIANT -->`.
fn documented(variant: &str) -> Vec<String> {
    let doc = std::fs::read_to_string(repo().join("docs/deployment.md")).unwrap();
    let marker = format!("<!-- allow-list {variant} -->");
    let after = doc
        .split_once(&marker)
        .unwrap_or_else(|| panic!("no {marker} in docs/deployment.md"))
        .1;
    let block = after.trim_start().strip_prefix("```text\n").unwrap();
    let block = block.split_once("```").unwrap().0;
    let calls: Vec<String> = block.split_whitespace().map(str::to_string).collect();
    assert!(calls.len() > 20, "{variant}: {calls:?}");
    calls
}

/// An allow-list filter that kills the process on any other call.
fn allow_list(calls: &[String]) -> BpfProgram {
    let filter: Vec<String> = calls
        .iter()
        .map(|call| format!("{{\"syscall\": \"{call}\"}}"))
        .collect();
    let json = format!(
        "{{\"container\": {{\"mismatch_action\": \"kill_process\", \
         \"match_action\": \"allow\", \"filter\": [{}]}}}}",
        filter.join(",")
    );
    let mut programs = seccompiler::compile_from_json(json.as_bytes(), TargetArch::x86_64).unwrap();
    programs.remove("container").unwrap()
}

/// Runs `tender` with `args` under `filter`, installed in the child between
/// fork and exec as a container runtime does.
fn run_confined(tender: &str, args: &[&str], filter: &BpfProgram) -> Outcome {
    let mut command = Command::new(tender);
    command.args(args);
    spawn_confined(command, filter)
}

/// Spawns `command` with `filter` installed between fork and exec (after
/// any change of user), and waits for it.
fn spawn_confined(mut command: Command, filter: &BpfProgram) -> Outcome {
    let filter = filter.clone();
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    // SAFETY: the hook runs in the forked child before exec; it makes two
    // system calls (prctl, seccomp) on a filter built before the fork and
    // allocates nothing.
    unsafe {
        command.pre_exec(move || {
            seccompiler::apply_filter(&filter).map_err(|e| std::io::Error::other(e.to_string()))
        });
    }
    wait(command.spawn().unwrap())
}

fn tender(target: Target) -> &'static str {
    match target {
        Target::Hvt => HVT,
        Target::Spt => SPT,
    }
}

/// `test_hello` and `test_blk` of `target` with `options` under `filter`.
fn hello_and_blk(
    target: Target,
    options: &[&str],
    filter: &BpfProgram,
    disk: &Path,
) -> [Outcome; 2] {
    let hello = unikernel_for(target, "hello");
    let blk = unikernel_for(target, "blk");
    let block = format!("--block:storage={}", disk.display());
    let mut hello_args = options.to_vec();
    hello_args.extend(["--", hello.to_str().unwrap(), "Hello_Solo5"]);
    let mut blk_args = options.to_vec();
    blk_args.extend([block.as_str(), "--", blk.to_str().unwrap()]);
    [
        run_confined(tender(target), &hello_args, filter),
        run_confined(tender(target), &blk_args, filter),
    ]
}

#[test]
fn every_variant_runs_under_its_documented_allow_list() {
    let dir = TempDir::new();
    let disk = dir.zero_file("disk.img", 1 << 20);
    for (variant, target, options) in VARIANTS {
        let filter = allow_list(&documented(variant));
        for out in hello_and_blk(target, options, &filter, &disk) {
            out.assert_success();
            // The stacked filter goes in without a word.
            assert!(out.stderr.is_empty(), "{variant}: {out:#?}");
        }
    }
}

/// Neither the stacked filters nor anything else needs a privilege: spt
/// runs as user nobody under its lists (hvt would need /dev/kvm opened).
#[test]
fn spt_stacks_its_filters_unprivileged() {
    let hello = unikernel_for(Target::Spt, "hello");
    for (variant, options) in [("spt-rings", &[][..]), ("spt-classic", &["--classic"][..])] {
        let mut command = Command::new(SPT);
        command
            .args(options)
            .args(["--", hello.to_str().unwrap(), "Hello_Solo5"])
            .uid(65534)
            .gid(65534);
        let out = spawn_confined(command, &allow_list(&documented(variant)));
        out.assert_success();
        assert!(out.stderr.is_empty(), "{variant}: {out:#?}");
    }
}

#[test]
fn a_documented_call_left_out_kills_the_tender() {
    let dir = TempDir::new();
    let disk = dir.zero_file("disk.img", 1 << 20);
    for (variant, target, options) in VARIANTS {
        let calls: Vec<String> = documented(variant)
            .into_iter()
            .filter(|call| call != "seccomp")
            .collect();
        let filter = allow_list(&calls);
        for out in hello_and_blk(target, options, &filter, &disk) {
            assert!(!out.stdout.contains("SUCCESS"), "{variant}: {out:#?}");
            let killed = out.signal == Some(libc::SIGSYS)
                || out.stderr.contains(&format!("signal {}", libc::SIGSYS));
            assert!(killed, "{variant}: {out:#?}");
        }
    }
}
