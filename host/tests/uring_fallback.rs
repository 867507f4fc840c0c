//! Where io_uring is unavailable (here: `kernel.io_uring_disabled = 2`, as an
//! administrator or a container would set it), the rings fall back to the
//! portable engine with a one-line notice, and `--engine=uring` fails with a
//! clear error. Its own test binary: cargo runs test binaries one at a time,
//! so no other test sees the machine-wide setting.

mod common;

use std::fs;

use common::{start_with_devices, wait};

const SYSCTL: &str = "/proc/sys/kernel/io_uring_disabled";

/// Sets the sysctl for its lifetime, restoring the old value on drop.
struct IoUringDisabled(String);

impl IoUringDisabled {
    fn set() -> Self {
        let old = fs::read_to_string(SYSCTL).unwrap_or_else(|e| panic!("{SYSCTL}: {e}"));
        fs::write(SYSCTL, "2").unwrap_or_else(|e| panic!("writing {SYSCTL}: {e}"));
        Self(old.trim().to_string())
    }
}

impl Drop for IoUringDisabled {
    fn drop(&mut self) {
        let _ = fs::write(SYSCTL, &self.0);
    }
}

#[test]
fn portable_engine_takes_over_where_io_uring_is_disabled() {
    let _disabled = IoUringDisabled::set();

    let (child, guest) = start_with_devices(&[], "ringapi", &["block", "8", "2000", "3"]);
    let out = wait(child);
    let stdout = fs::read_to_string(&guest.log).unwrap();
    assert_eq!(out.status, Some(0), "{out:#?}\n{stdout}");
    assert!(stdout.contains("SUCCESS"), "{stdout}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:#?}");
    assert!(
        out.stderr.contains(
            "io_uring unavailable (Operation not permitted), using the portable I/O engine"
        ),
        "{out:#?}"
    );

    let out = common::run(&[
        "--engine=uring",
        "--mem=16",
        "--",
        common::unikernel("hello").to_str().unwrap(),
        "Hello_Solo5",
    ]);
    // No devices: no rings, so no io_uring to miss.
    out.assert_success();

    let ns = common::NetNs::new();
    ns.add_tap("tap0", None, 1500);
    let out = wait(
        ns.command(common::tender())
            .args([
                "--engine=uring",
                "--mem=16",
                "--net:service0=tap0",
                "--",
                common::unikernel("net").to_str().unwrap(),
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    out.assert_error_line("io_uring unavailable: Operation not permitted\n");
}
