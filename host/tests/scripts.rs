//! The repository's scripts take `--help` (usage on stdout, status 0,
//! nothing else done) and refuse a bad option with one line on stderr and
//! status 1, before doing any work.

use std::path::PathBuf;
use std::process::{Command, Output};

/// Every script a user runs, relative to the repository.
const SCRIPTS: &[&str] = &[
    ".ci/run",
    "benchmarks/run.sh",
    "sync-shim/build-dist.sh",
    "tests/demo.sh",
    "tests/run.sh",
    "tests/stress.sh",
    "tests/unikernels/build.sh",
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn script(name: &str, args: &[&str]) -> Output {
    Command::new("bash")
        .arg(repo().join(name))
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap()
}

/// One line on stderr, nothing on stdout, status 1.
fn assert_refused(name: &str, args: &[&str], expected: &str) {
    let out = script(name, args);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{name} {args:?}: {out:?}");
    assert_eq!(stderr.lines().count(), 1, "{name} {args:?}: {stderr}");
    assert!(stderr.contains(expected), "{name} {args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{name} {args:?}: {out:?}");
}

#[test]
fn every_script_takes_help() {
    for name in SCRIPTS {
        for help in ["--help", "-h"] {
            let out = script(name, &[help]);
            assert_eq!(out.status.code(), Some(0), "{name} {help}: {out:?}");
            assert!(out.stderr.is_empty(), "{name} {help}: {out:?}");
            assert!(
                text(&out.stdout).lines().count() >= 1,
                "{name} {help}: {out:?}"
            );
        }
    }
}

#[test]
fn benchmarks_help_shows_the_options() {
    let out = script("benchmarks/run.sh", &["--help"]);
    let usage = text(&out.stdout);
    for option in [
        "--target", "--quick", "--smoke", "--runs", "--only", "--help",
    ] {
        assert!(usage.contains(option), "{option} missing: {usage}");
    }
}

#[test]
fn benchmarks_option_without_value_is_one_line() {
    for option in ["--target", "--runs", "--length-ms", "--out", "--only"] {
        assert_refused(
            "benchmarks/run.sh",
            &[option],
            &format!("{option} needs a value"),
        );
    }
}

#[test]
fn benchmarks_bad_option_and_target() {
    assert_refused(
        "benchmarks/run.sh",
        &["--frobnicate"],
        "unknown option --frobnicate",
    );
    assert_refused(
        "benchmarks/run.sh",
        &["--target", "xen"],
        "--target must be hvt, spt or muen",
    );
}

#[test]
fn tests_run_takes_no_arguments() {
    assert_refused("tests/run.sh", &["--all"], "takes no arguments");
}

#[test]
fn unknown_options_are_refused_before_any_work() {
    for name in [
        ".ci/run",
        "sync-shim/build-dist.sh",
        "tests/demo.sh",
        "tests/unikernels/build.sh",
    ] {
        assert_refused(name, &["--frobnicate"], "unknown option --frobnicate");
    }
}
