//! The test unikernels on a real tender, with real files and taps: one list
//! for both targets. By default solo5-hvt on the real /dev/kvm with
//! `test_*.hvt`; with `RINGTENDER_TEST_TARGET=spt`, solo5-spt with the same
//! programs built as `test_*.spt`. Where upstream's targets differ (a guest
//! fault aborts on hvt but kills the process on spt), the test says so.

mod common;

use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use common::{run, target, unikernel, wait, NetNs, Target, TempDir};

fn guest(name: &str, extra: &[&str]) -> common::Outcome {
    let path = unikernel(name);
    let mut args = vec!["--mem=8", "--"];
    args.push(path.to_str().unwrap());
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn hello_gets_its_command_line() {
    let out = guest("hello", &["Hello_Solo5"]);
    out.assert_success();
    assert!(
        out.stdout.contains("Command line is: 'Hello_Solo5'"),
        "{out:#?}"
    );
}

#[test]
fn quiet_prints_nothing_of_solo5() {
    let out = guest("quiet", &["--solo5:quiet"]);
    out.assert_success();
    assert!(!out.stdout.contains("Solo5:"), "{out:#?}");
}

#[test]
fn exit_status_passes_through() {
    let out = guest("exitcode", &[]);
    assert_eq!(out.status, Some(42), "{out:#?}");
}

#[test]
fn long_console_write_arrives_whole() {
    let out = guest("output", &[]);
    out.assert_success();
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("abcdef"))
        .unwrap();
    assert_eq!(line.len(), 4143);
}

#[test]
fn data_is_initialised_and_writable() {
    guest("globals", &[]).assert_success();
}

#[test]
fn sse_works() {
    guest("fpu", &[]).assert_success();
}

#[test]
fn clocks_and_yield_deadlines() {
    guest("time", &[]).assert_success();
}

#[test]
fn tls_blocks_are_independent() {
    guest("tls", &[]).assert_success();
}

#[test]
fn abort_exits_255() {
    let out = guest("abort", &[]);
    assert_eq!(out.status, Some(255), "{out:#?}");
    assert!(out.stdout.contains("solo5_abort() called"), "{out:#?}");
}

fn assert_page_fault(name: &str, cr2: &str) {
    let out = guest(name, &[]);
    assert!(!out.stdout.contains("FAILURE"), "{out:#?}");
    if target() == Target::Spt {
        out.assert_killed_by(libc::SIGSEGV);
        return;
    }
    out.assert_abort();
    assert!(out.stdout.contains("Solo5: trap: type=#PF"), "{out:#?}");
    assert!(out.stdout.contains(&format!("cr2={cr2}")), "{out:#?}");
    assert!(!out.stdout.contains("FAILURE"), "{out:#?}");
}

#[test]
fn unmapped_write_traps() {
    assert_page_fault("exception", "0x400000000");
}

#[test]
fn page_zero_is_unmapped() {
    assert_page_fault("zeropage", "0x8");
}

#[test]
fn text_is_not_writable() {
    assert_page_fault("xnow", "0x");
}

#[test]
fn data_is_not_executable() {
    assert_page_fault("wnox", "0x");
}

#[test]
fn stack_is_not_executable() {
    assert_page_fault("xstack", "0x");
}

#[test]
fn tls_without_base_traps() {
    guest("notls", &[]).assert_fault();
}

/// A raw system call the tender does not allow: on spt the seccomp filter
/// kills the guest (SIGSYS, shell status 159) and the supervisor says so; on
/// hvt the `syscall` instruction traps (#UD where EFER.SCE is honoured; PVM
/// enters LSTAR, which is 0 and unmapped, so #PF) and the guest aborts.
#[test]
fn forbidden_system_call_kills_the_guest() {
    let out = guest("seccomp", &[]);
    assert!(!out.stdout.contains("FAILURE"), "{out:#?}");
    match target() {
        Target::Spt => {
            out.assert_killed_by(libc::SIGSYS);
            assert!(out.stderr.contains("Bad system call"), "{out:#?}");
        }
        Target::Hvt => {
            out.assert_abort();
            assert!(out.stdout.contains("Solo5: trap: type=#"), "{out:#?}");
        }
    }
}

#[test]
fn stack_smashing_is_detected() {
    let out = guest("ssp", &[]);
    out.assert_abort();
    assert!(out.stdout.contains("Stack corruption detected"), "{out:#?}");
}

fn run_blk(sector: Option<&str>) {
    let dir = TempDir::new();
    let image = dir.zero_file("storage.img", 4 << 20);
    let block_arg = format!("--block:storage={}", image.display());
    let path = unikernel("blk");
    let mut args = vec!["--mem=8", block_arg.as_str()];
    let sector_arg = sector.map(|s| format!("--block-sector-size:storage={s}"));
    if let Some(arg) = &sector_arg {
        args.push(arg);
    }
    args.extend(["--", path.to_str().unwrap()]);
    run(&args).assert_success();
    // Every write the guest saw acknowledged is in the file.
    common::assert_blk_writes_kept(&image, sector.map_or(512, |s| s.parse().unwrap()));
}

#[test]
fn block_io_reaches_the_file() {
    run_blk(None);
}

#[test]
fn block_io_with_4k_sectors() {
    run_blk(Some("4096"));
}

fn blk_setup_error(size: u64, sector: &str, text: &str) {
    let dir = TempDir::new();
    let image = dir.zero_file("storage.img", size);
    let path = unikernel("blk");
    let out = run(&[
        &format!("--block:storage={}", image.display()),
        &format!("--block-sector-size:storage={sector}"),
        "--",
        path.to_str().unwrap(),
    ]);
    out.assert_error_line(text);
}

#[test]
fn block_file_not_sector_aligned() {
    blk_setup_error(6144, "4096", "Backing storage size must be block aligned");
}

#[test]
fn odd_sector_size() {
    blk_setup_error(4 << 20, "521", "Block size must be a multiple of 2");
}

#[test]
fn too_small_sector_size() {
    blk_setup_error(
        4 << 20,
        "256",
        "Block size must be a multiple of 2 greater than or equal 512",
    );
}

#[test]
fn sixty_three_devices() {
    let dir = TempDir::new();
    let mut args: Vec<String> = vec!["--mem=8".into()];
    for i in 0..63 {
        let image = dir.zero_file(&format!("s{i}.img"), 4096);
        args.push(format!("--block:storage{i}={}", image.display()));
    }
    args.push("--".into());
    args.push(unikernel("maxdevices").to_str().unwrap().into());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&refs).assert_success();
}

#[test]
fn declared_device_must_be_attached() {
    let path = unikernel("blk");
    let out = run(&["--", path.to_str().unwrap()]);
    assert_eq!(out.status, Some(1), "{out:#?}");
    assert!(
        out.stderr
            .contains("Device 'storage' of type BLOCK_BASIC declared but not attached."),
        "{out:#?}"
    );
    assert!(
        out.stderr
            .contains("All declared devices must be attached."),
        "{out:#?}"
    );
}

#[test]
fn undeclared_device_is_refused() {
    let dir = TempDir::new();
    let image = dir.zero_file("x.img", 4096);
    let path = unikernel("hello");
    let out = run(&[
        &format!("--block:other={}", image.display()),
        "--",
        path.to_str().unwrap(),
    ]);
    out.assert_error_line("Resource not declared in manifest: 'other'");
}

#[test]
fn missing_block_file() {
    let path = unikernel("blk");
    let out = run(&[
        "--block:storage=/nonexistent/disk.img",
        "--",
        path.to_str().unwrap(),
    ]);
    out.assert_error_line(
        "Could not open block device: /nonexistent/disk.img: No such file or directory",
    );
}

#[test]
fn unreadable_block_file() {
    let dir = TempDir::new();
    let disk = dir.zero_file("disk.img", 4096);
    fs::set_permissions(&disk, fs::Permissions::from_mode(0o400)).unwrap();
    let path = unikernel("blk");
    let out = run_as_nobody(&[
        &format!("--block:storage={}", disk.display()),
        "--",
        path.to_str().unwrap(),
    ]);
    out.assert_error_line(&format!(
        "Could not open block device: {}: Permission denied",
        disk.display()
    ));
}

#[test]
fn missing_tap() {
    let path = unikernel("net");
    let out = run(&["--net:service0=rtnotap0", "--", path.to_str().unwrap()]);
    out.assert_error_line("Could not attach interface: rtnotap0");
}

#[test]
fn version_names_the_abi() {
    let out = run(&["--version"]);
    assert_eq!(out.status, Some(0), "{out:#?}");
    assert!(out.stderr.lines().any(|l| l == "ABI version 2"), "{out:#?}");
}

#[test]
fn help_prints_usage_and_exits_1() {
    let out = run(&["--help"]);
    assert_eq!(out.status, Some(1), "{out:#?}");
    let usage = format!("usage: {}", target().program());
    assert!(out.stderr.starts_with(&usage), "{out:#?}");
}

#[test]
fn missing_kernel_operand() {
    let out = run(&["--mem=8"]);
    assert_eq!(out.status, Some(1), "{out:#?}");
    assert!(out.stderr.contains("Missing KERNEL operand"), "{out:#?}");
}

#[test]
fn invalid_option() {
    let path = unikernel("hello");
    let out = run(&["--frobnicate", "--", path.to_str().unwrap()]);
    assert_eq!(out.status, Some(1), "{out:#?}");
    let line = format!("{}: Invalid option: `--frobnicate'", target().program());
    assert!(out.stderr.starts_with(&line), "{out:#?}");
}

#[test]
fn bad_mem_argument() {
    let path = unikernel("hello");
    run(&["--mem=lots", "--", path.to_str().unwrap()])
        .assert_error_line("Malformed argument to --mem");
}

#[test]
fn missing_kernel_file() {
    run(&["--", "/nonexistent/kernel.hvt"])
        .assert_error_line("/nonexistent/kernel.hvt: Could not open: No such file or directory");
}

#[test]
fn kernel_is_a_directory() {
    let dir = TempDir::new();
    let kernel = dir.0.display().to_string();
    run(&["--", &kernel]).assert_error_line(&format!("{kernel}: Could not open: Is a directory"));
}

#[test]
fn unreadable_kernel_file() {
    let dir = TempDir::new();
    let kernel = dir.join("kernel.hvt");
    fs::copy(unikernel("hello"), &kernel).unwrap();
    fs::set_permissions(&kernel, fs::Permissions::from_mode(0o600)).unwrap();
    let kernel = kernel.display().to_string();
    run_as_nobody(&["--", &kernel])
        .assert_error_line(&format!("{kernel}: Could not open: Permission denied"));
}

/// Runs the tender as user and group nobody (65534), for whom a mode is an
/// obstacle where root has none.
fn run_as_nobody(args: &[&str]) -> common::Outcome {
    let child = Command::new(common::tender())
        .args(args)
        .uid(65534)
        .gid(65534)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait(child)
}

#[test]
fn unikernel_cannot_be_executed_directly() {
    let err = Command::new(unikernel("hello"))
        .output()
        .expect_err("exec must fail");
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound, "{err}");
}

/// Writes `bytes` to a file in `dir` and runs it; the tender must refuse it
/// with one line and status 1, never crash.
fn assert_rejected(dir: &TempDir, name: &str, bytes: &[u8]) {
    let path = dir.join(name);
    fs::write(&path, bytes).unwrap();
    let out = run(&["--mem=8", "--", path.to_str().unwrap()]);
    assert_eq!(out.signal, None, "{name}: {out:#?}");
    assert_eq!(out.status, Some(1), "{name}: {out:#?}");
    assert_eq!(out.stderr.lines().count(), 1, "{name}: {out:#?}");
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}

fn set_u64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

/// File offsets of the program headers of type `p_type`.
fn phdrs(b: &[u8], p_type: u32) -> Vec<usize> {
    let phoff = u64_at(b, 32) as usize;
    let phnum = u16::from_le_bytes([b[56], b[57]]) as usize;
    (0..phnum)
        .map(|i| phoff + i * 56)
        .filter(|&o| u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) == p_type)
        .collect()
}

#[test]
fn broken_elf_files_are_rejected() {
    let good = fs::read(unikernel("hello")).unwrap();
    let dir = TempDir::new();
    let loads: Vec<usize> = phdrs(&good, 1)
        .into_iter()
        .filter(|&o| u64_at(&good, o + 32) != 0)
        .collect();

    assert_rejected(&dir, "truncated", &good[..100]);
    assert_rejected(
        &dir,
        "not-elf",
        b"#!/bin/sh\necho this is not a unikernel\n",
    );
    let mut b = good.clone();
    b[18] = 40; // e_machine = EM_ARM
    assert_rejected(&dir, "wrong-machine", &b);
    let mut b = good.clone();
    b[16] = 3; // e_type = ET_DYN
    assert_rejected(&dir, "pie", &b);
    let mut b = good.clone();
    set_u64(&mut b, 24, 0x10); // e_entry below the image
    assert_rejected(&dir, "entry-outside", &b);
    let mut b = good.clone();
    set_u64(&mut b, loads[0] + 40, 1 << 40); // p_memsz of the text segment
    assert_rejected(&dir, "oversized-segment", &b);
    let mut b = good.clone();
    let first_vaddr = u64_at(&b, loads[0] + 16);
    set_u64(&mut b, loads[1] + 16, first_vaddr); // second segment over the first
    set_u64(&mut b, loads[1] + 24, first_vaddr);
    assert_rejected(&dir, "overlapping-segments", &b);
    let mut b = good.clone();
    set_u64(&mut b, loads[0] + 8, good.len() as u64); // file contents past EOF
    assert_rejected(&dir, "segment-past-eof", &b);
    let mut b = good.clone();
    let notes = phdrs(&b, 4);
    let mft = notes.into_iter().find(|&o| {
        let off = u64_at(&b, o + 8) as usize;
        u32::from_le_bytes(b[off + 8..off + 12].try_into().unwrap()) == 0x3154_464d
    });
    let note = u64_at(&b, mft.unwrap() + 8) as usize;
    b[note + 4..note + 8].copy_from_slice(&1u32.to_le_bytes()); // MFT n_descsz = 1
    assert_rejected(&dir, "buggy-note", &b);
}

// ---- network: real taps in a namespace made for each test ----

#[test]
fn net_answers_arp_and_ping() {
    let ns = NetNs::new();
    ns.add_tap("tap0", Some("10.0.0.1/24"), 1500);
    let dir = TempDir::new();
    let path = unikernel("net");
    let (child, log) = common::start_in_ns(
        &ns,
        &[
            "--mem=8",
            "--net:service0=tap0",
            "--",
            path.to_str().unwrap(),
            "limit",
            "20",
        ],
        &dir,
        "Serving",
    );
    let ping = ns.ping("10.0.0.2", 20);
    let out = wait(child);
    let stdout = fs::read_to_string(&log).unwrap();
    assert_eq!(ping, 20, "echo replies; the guest said:\n{stdout}");
    assert_eq!(out.status, Some(0), "{out:#?}\n{stdout}");
    assert!(
        stdout.contains("Answered 20 echo requests") && stdout.contains("SUCCESS"),
        "{stdout}"
    );
}

/// SIGTERM to the tender ends the guest, says so, and frees the tap at once.
#[test]
fn sigterm_ends_the_guest_and_frees_the_tap() {
    let ns = NetNs::new();
    ns.add_tap("tap0", Some("10.0.0.1/24"), 1500);
    let dir = TempDir::new();
    let path = unikernel("net");
    let args = [
        "--mem=8",
        "--net:service0=tap0",
        "--",
        path.to_str().unwrap(),
        "limit",
        "3",
    ];
    let (child, _) = common::start_in_ns(&ns, &args, &dir, "Serving");
    // SAFETY: kill(2) of our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let out = wait(child);
    out.assert_ended_by_sigterm();
    let dir = TempDir::new();
    let (child, log) = common::start_in_ns(&ns, &args, &dir, "Serving");
    let ping = ns.ping("10.0.0.2", 3);
    let out = wait(child);
    let stdout = fs::read_to_string(&log).unwrap();
    assert_eq!(ping, 3, "echo replies; the guest said:\n{stdout}");
    assert_eq!(out.status, Some(0), "{out:#?}\n{stdout}");
}

/// Two NICs served through the rings at once, with each engine.
#[test]
fn net_two_interfaces() {
    for engine in ["--engine=uring", "--engine=portable"] {
        let ns = NetNs::new();
        ns.add_tap("tap0", Some("10.0.0.1/24"), 1500);
        ns.add_tap("tap1", Some("10.1.0.1/24"), 1500);
        let dir = TempDir::new();
        let path = unikernel("net_2if");
        let (child, log) = common::start_in_ns(
            &ns,
            &[
                engine,
                "--mem=8",
                "--net:service0=tap0",
                "--net:service1=tap1",
                "--",
                path.to_str().unwrap(),
                "limit",
                "20",
            ],
            &dir,
            "Serving",
        );
        let ping0 = ns.ping("10.0.0.2", 10);
        let ping1 = ns.ping("10.1.0.2", 10);
        let out = wait(child);
        let stdout = fs::read_to_string(&log).unwrap();
        assert_eq!(
            (ping0, ping1),
            (10, 10),
            "{engine}: echo replies; the guest said:\n{stdout}"
        );
        assert!(stdout.contains("through ringtender rings"), "{stdout}");
        assert_eq!(out.status, Some(0), "{out:#?}\n{stdout}");
    }
}

#[test]
fn net_mtu_comes_from_the_tap() {
    let ns = NetNs::new();
    ns.add_tap("tap0", None, 9000);
    let dir = TempDir::new();
    let path = unikernel("net");
    let (mut child, log) = common::start_in_ns(
        &ns,
        &[
            "--mem=8",
            "--net:service0=tap0",
            "--",
            path.to_str().unwrap(),
        ],
        &dir,
        "Serving",
    );
    let _ = child.kill();
    let _ = child.wait();
    assert!(fs::read_to_string(&log)
        .unwrap()
        .contains("service0: MTU is 9000"));
}

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;

/// Opens tap `name` inside `ns` from this process (as an orchestrator
/// would) and returns the descriptor.
fn open_tap_in(ns: &NetNs, name: &str) -> OwnedFd {
    let name = name.to_string();
    ns.on_thread(move || {
        let tun = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/net/tun")
            .unwrap();
        let mut req = [0u8; 40];
        req[..name.len()].copy_from_slice(name.as_bytes());
        // IFF_TAP | IFF_NO_PI
        req[16..18].copy_from_slice(&(0x0002i16 | 0x1000).to_ne_bytes());
        // SAFETY: TUNSETIFF takes a struct ifreq (40 bytes), which `req` is.
        let rc = unsafe { libc::ioctl(tun.as_raw_fd(), TUNSETIFF, req.as_mut_ptr()) };
        assert_eq!(rc, 0, "TUNSETIFF: {}", std::io::Error::last_os_error());
        OwnedFd::from(tun)
    })
    .join()
    .unwrap()
}

#[test]
fn net_inherited_tap_descriptor() {
    let ns = NetNs::new();
    ns.add_tap("tap0", Some("10.0.0.1/24"), 1500);
    let tap = open_tap_in(&ns, "tap0");
    let raw = tap.as_raw_fd();
    let dir = TempDir::new();
    let log = dir.join("stdout");
    let path = unikernel("net");
    let arg = format!("--net:service0=@{raw}");
    let mut cmd = Command::new(common::tender());
    cmd.args(["--mem=8", &arg, "--", path.to_str().unwrap(), "limit", "5"])
        .stdout(fs::File::create(&log).unwrap())
        .stderr(Stdio::piped());
    // SAFETY: between fork and exec, only fcntl (async-signal-safe) runs.
    unsafe {
        cmd.pre_exec(move || {
            libc::fcntl(raw, libc::F_SETFD, 0);
            Ok(())
        });
    }
    let child = cmd.spawn().unwrap();
    drop(tap);
    common::wait_for_text(&log, "Serving");
    let ping = ns.ping("10.0.0.2", 5);
    let out = wait(child);
    let stdout = fs::read_to_string(&log).unwrap();
    assert_eq!(ping, 5, "echo replies; the guest said:\n{stdout}");
    assert_eq!(out.status, Some(0), "{out:#?}\n{stdout}");
    assert!(stdout.contains("service0: MTU is 1500"), "{stdout}");
}

// ---- Rust unikernels, linked through the guest crate ----

#[test]
fn rust_hello() {
    let out = guest("rust_hello", &["Hello_Solo5"]);
    out.assert_success();
    assert!(
        out.stdout
            .contains("Hello from Rust, command line: 'Hello_Solo5'"),
        "{out:#?}"
    );
}

#[test]
fn rust_block_patterns_and_refusals() {
    let dir = TempDir::new();
    let image = dir.zero_file("storage.img", 1 << 20);
    let path = unikernel("rust_blk");
    run(&[
        "--mem=8",
        &format!("--block:storage={}", image.display()),
        "--",
        path.to_str().unwrap(),
    ])
    .assert_success();
    let data = fs::read(&image).unwrap();
    assert_eq!(data[7 * 512 + 5], (7 * 31 + 5) as u8);
}

/// `RINGTENDER_OPTIONS` (for orchestrators that build the command line):
/// its options count as given before the command line's; any other word
/// is refused with upstream's "Invalid option" and the usage.
#[test]
fn options_from_the_environment() {
    let dir = TempDir::new();
    let disk = dir.zero_file("disk.img", 1 << 20);
    let path = unikernel("blk");
    let block = format!("--block:storage={}", disk.display());
    let run_with = |value: &str| {
        let args = [block.as_str(), "--", path.to_str().unwrap()];
        let child = Command::new(common::tender())
            .env("RINGTENDER_OPTIONS", value)
            .args(common::engine_option(&args))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait(child)
    };
    const RINGS_BANNER: &str = "device I/O through ringtender rings";
    let rings = run_with("");
    rings.assert_success();
    assert!(rings.stdout.contains(RINGS_BANNER), "{rings:#?}");
    let classic = run_with(" --classic\t--net-lossy ");
    classic.assert_success();
    assert!(!classic.stdout.contains(RINGS_BANNER), "{classic:#?}");
    let refused = run_with("--classic --mem=8");
    assert_eq!(refused.status, Some(1), "{refused:#?}");
    let first = format!(
        "{}: RINGTENDER_OPTIONS: Invalid option: `--mem=8'\nusage: ",
        target().program()
    );
    assert!(refused.stderr.starts_with(&first), "{refused:#?}");
}
