//! solo5-spt's processes with rings: the I/O worker's seccomp filter
//! refuses to open files or make sockets; the live worker, guest and
//! supervisor are confined, the guest holds its taps and block files as
//! upstream's does (its filter bounds what it may do with them); and killing the
//! worker or the guest mid-I/O ends the pair with a clear message and loses
//! no acknowledged block write.

mod common;

use std::fs;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::{unikernel_for, wait, Outcome, Target, TempDir};
use ringtender_host::spt::seccomp::{self, WorkerFds};
use ringtender_host::spt::worker::WORKER_NAME;
use vmm_sys_util::eventfd::EventFd;

/// Forks a child that installs the worker filter and then runs `attempt`;
/// returns how the child ended (its exit status or the killing signal).
fn under_worker_filter(attempt: fn() -> i32) -> (Option<i32>, Option<i32>) {
    let doorbell = EventFd::new(0).unwrap();
    let filter = seccomp::worker_filter(&WorkerFds {
        devices: vec![],
        eventfds: vec![doorbell.as_raw_fd()],
        epoll: 0,
        tap_set: 0,
        uring: None,
    })
    .unwrap();
    // SAFETY: the child only installs the prepared filter (no allocation)
    // and makes raw system calls before _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let code = match seccomp::install(&filter) {
            Ok(()) => attempt(),
            Err(_) => 100,
        };
        // SAFETY: ends the child without running the parent's atexit state.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    if libc::WIFSIGNALED(status) {
        (None, Some(libc::WTERMSIG(status)))
    } else {
        (Some(libc::WEXITSTATUS(status)), None)
    }
}

#[test]
fn worker_filter_refuses_files_and_sockets() {
    // SAFETY: a plain system call with static arguments.
    let open = || unsafe { libc::open(c"/etc/hostname".as_ptr(), libc::O_RDONLY) };
    let openat =
        // SAFETY: a plain system call with static arguments.
        || unsafe { libc::openat(libc::AT_FDCWD, c"/etc/hostname".as_ptr(), libc::O_RDONLY) };
    // SAFETY: a plain system call with static arguments.
    let socket = || unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    // SAFETY: a plain system call with static arguments.
    let unix = || unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0) };
    // SAFETY: execve with a NULL-terminated argv of static C strings.
    let exec = || unsafe {
        let argv = [c"/bin/true".as_ptr(), std::ptr::null()];
        libc::execve(argv[0], argv.as_ptr(), std::ptr::null())
    };
    for (what, attempt) in [
        ("open", open as fn() -> i32),
        ("openat", openat),
        ("socket(AF_INET)", socket),
        ("socket(AF_UNIX)", unix),
        ("execve", exec),
    ] {
        assert_eq!(
            under_worker_filter(attempt),
            (None, Some(libc::SIGSYS)),
            "{what} must be killed"
        );
    }
    // And the filter is not simply "kill everything": what the pump does passes.
    let allowed = || {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is writable.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        7
    };
    assert_eq!(under_worker_filter(allowed), (Some(7), None));
}

/// The tender's children: (worker, guest).
fn children(tender: u32) -> (u32, u32) {
    let mut found = None;
    let mut list = String::new();
    let appeared = common::poll_until(|| {
        list = fs::read_to_string(format!("/proc/{tender}/task/{tender}/children"))
            .unwrap_or_default();
        let pids: Vec<u32> = list
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        let named = |want: bool| {
            pids.iter().copied().find(|p| {
                let comm = fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
                (comm.trim() == WORKER_NAME.to_str().unwrap()) == want
            })
        };
        found = named(true).zip(named(false));
        found.is_some()
    });
    assert!(appeared, "children of {tender}: {list:?}");
    found.unwrap()
}

fn status_field(pid: u32, field: &str) -> String {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Paths the descriptors of `pid` point to.
fn open_files(pid: u32) -> Vec<String> {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| fs::read_link(e.ok()?.path()).ok())
        .map(|p| p.display().to_string())
        .collect()
}

struct Run {
    child: Child,
    log: std::path::PathBuf,
    image: std::path::PathBuf,
    _dir: TempDir,
}

/// Starts blkseq on solo5-spt with rings and waits until it acknowledged
/// `acked` writes.
fn start_blkseq(acked: u64) -> Run {
    let dir = TempDir::new();
    let image = dir.zero_file("storage.img", 1 << 20);
    let log = dir.join("stdout");
    let child = Command::new(env!("CARGO_BIN_EXE_solo5-spt"))
        .args([
            "--mem=8",
            &format!("--block:storage={}", image.display()),
            "--",
            unikernel_for(Target::Spt, "blkseq").to_str().unwrap(),
            "100000000",
        ])
        .stdout(fs::File::create(&log).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    common::wait_for_text(&log, &format!("acked {acked}\n"));
    Run {
        child,
        log,
        image,
        _dir: dir,
    }
}

fn kill(pid: u32, sig: i32) {
    // SAFETY: kill(2) of a process of this test.
    assert_eq!(unsafe { libc::kill(pid as i32, sig) }, 0);
}

#[test]
fn live_processes_are_confined_and_the_guest_holds_its_devices() {
    let mut run = start_blkseq(100);
    let (worker, guest) = children(run.child.id());
    // The guest runs before the worker (forked after it) has confined
    // itself: the blocking block calls need no worker. Wait for each
    // filter rather than catch a process on its way to it.
    for pid in [worker, guest, run.child.id()] {
        common::poll_until(|| status_field(pid, "Seccomp:") == "2");
        assert_eq!(status_field(pid, "Seccomp:"), "2", "pid {pid}");
        assert_eq!(status_field(pid, "NoNewPrivs:"), "1", "pid {pid}");
    }
    let image = run.image.display().to_string();
    assert!(
        open_files(worker).contains(&image),
        "{:?}",
        open_files(worker)
    );
    // The guest keeps its block file (`HOST_FEATURE_BLOCK_DIRECT`): blkseq
    // writes through the blocking calls, one block each.
    let guest_files = open_files(guest);
    assert!(guest_files.contains(&image), "{guest_files:?}");
    let _ = run.child.kill();
    let _ = run.child.wait();
}

#[test]
fn killing_the_worker_mid_io_ends_the_pair() {
    let run = start_blkseq(2000);
    let (worker, guest) = children(run.child.id());
    kill(worker, libc::SIGKILL);
    let out: Outcome = wait(run.child);
    assert_eq!(out.status, Some(1), "{out:#?}");
    assert!(
        out.stderr
            .contains("I/O worker killed by signal 9 (Killed)"),
        "{out:#?}"
    );
    assert!(
        !Path::new(&format!("/proc/{guest}")).exists(),
        "guest left running"
    );
    common::assert_blkseq_writes_kept(&run.log, &run.image);
}

#[test]
fn killing_the_guest_mid_io_ends_the_pair() {
    let run = start_blkseq(2000);
    let (worker, guest) = children(run.child.id());
    kill(guest, libc::SIGKILL);
    let out: Outcome = wait(run.child);
    out.assert_killed_by(libc::SIGKILL);
    assert!(
        !Path::new(&format!("/proc/{worker}")).exists(),
        "worker left running"
    );
    common::assert_blkseq_writes_kept(&run.log, &run.image);
}
