//! Shared helpers of the integration tests: locating the tender and the test
//! unikernels, running with a time limit, and network namespaces with taps.

// Compiled into each integration test binary; each uses only some helpers.
#![allow(dead_code)]

use ringtender_abi::elf_note::{Ring3Descriptor, RING3_NOTE_TYPE, SOLO5_NOTE_NAME};
use std::fs;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A tender the guest tests run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// `solo5-hvt` with `test_*.hvt`.
    Hvt,
    /// `solo5-spt` with `test_*.spt`.
    Spt,
}

impl Target {
    /// The tender's program name.
    pub fn program(self) -> &'static str {
        match self {
            Self::Hvt => "solo5-hvt",
            Self::Spt => "solo5-spt",
        }
    }
}

/// The target under test: `RINGTENDER_TEST_TARGET=spt` (tests/run.sh runs
/// the guest tests once per target), else hvt.
pub fn target() -> Target {
    match std::env::var("RINGTENDER_TEST_TARGET").as_deref() {
        Err(_) | Ok("hvt") => Target::Hvt,
        Ok("spt") => Target::Spt,
        Ok(other) => panic!("RINGTENDER_TEST_TARGET must be hvt or spt, not {other:?}"),
    }
}

/// The tender under test.
pub fn tender() -> &'static str {
    match target() {
        Target::Hvt => env!("CARGO_BIN_EXE_solo5-hvt"),
        Target::Spt => env!("CARGO_BIN_EXE_solo5-spt"),
    }
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A built test unikernel for the target under test; a missing one fails
/// the test.
pub fn unikernel(name: &str) -> PathBuf {
    unikernel_for(target(), name)
}

/// A built test unikernel for `target`; a missing one fails the test.
pub fn unikernel_for(target: Target, name: &str) -> PathBuf {
    let ext = match target {
        Target::Hvt => "hvt",
        Target::Spt => "spt",
    };
    built_unikernel(&format!("test_{name}.{ext}"))
}

/// The built test unikernel `file` (`RINGTENDER_UNIKERNELS`, else
/// build/unikernels); a missing one fails the test.
pub fn built_unikernel(file: &str) -> PathBuf {
    let dir = std::env::var_os("RINGTENDER_UNIKERNELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("build/unikernels"));
    let path = dir.join(file);
    assert!(
        path.is_file(),
        "{} is missing: run tests/run.sh (it builds the test unikernels)",
        path.display()
    );
    path
}

/// What a finished process left.
#[derive(Debug)]
pub struct Outcome {
    /// Exit status, if it exited.
    pub status: Option<i32>,
    /// Signal that killed it, if any.
    pub signal: Option<i32>,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
}

impl Outcome {
    /// Upstream's expect_success: status 0 and SUCCESS printed.
    pub fn assert_success(&self) {
        assert_eq!(self.status, Some(0), "{self:#?}");
        assert!(self.stdout.contains("SUCCESS"), "{self:#?}");
    }

    /// Upstream's expect_abort: status 255 and ABORT printed.
    pub fn assert_abort(&self) {
        assert_eq!(self.status, Some(255), "{self:#?}");
        assert!(self.stdout.contains("ABORT"), "{self:#?}");
    }

    /// A guest fault: upstream's hvt aborts (status 255, ABORT printed);
    /// on spt the guest process dies of SIGSEGV (shell status 139) and the
    /// supervisor says so.
    pub fn assert_fault(&self) {
        match target() {
            Target::Hvt => self.assert_abort(),
            Target::Spt => self.assert_killed_by(libc::SIGSEGV),
        }
    }

    /// The tender died of signal `sig` after one line saying the guest did.
    pub fn assert_killed_by(&self, sig: i32) {
        assert_eq!(self.signal, Some(sig), "{self:#?}");
        assert!(
            self.stderr
                .contains(&format!("guest killed by signal {sig} (")),
            "{self:#?}"
        );
    }

    /// Ended by SIGTERM sent to the tender: solo5-hvt exits with
    /// upstream's message and status 1; solo5-spt's supervisor passes the
    /// signal to the guest and dies of it too.
    pub fn assert_ended_by_sigterm(&self) {
        match target() {
            Target::Hvt => self.assert_error_line("Exiting on signal 15"),
            Target::Spt => self.assert_killed_by(libc::SIGTERM),
        }
    }

    /// A tender error: status 1, exactly one line on stderr containing `text`.
    pub fn assert_error_line(&self, text: &str) {
        assert_eq!(self.status, Some(1), "{self:#?}");
        assert_eq!(self.stderr.lines().count(), 1, "{self:#?}");
        assert!(self.stderr.contains(text), "expected {text:?}: {self:#?}");
    }
}

/// How long a test waits for a tender, a guest's output or a reply before
/// it calls the thing hung and fails: minutes, far beyond what any test
/// takes on a loaded machine. A hang guard only, never a performance
/// bound (those belong in `benchmarks/`).
pub const HANG_GUARD: Duration = Duration::from_secs(600);

/// Polls `done` every 10 ms until it holds (true) or [`HANG_GUARD`]
/// passed (false).
pub fn poll_until(mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > HANG_GUARD {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// Reads a child's output pipe to its end on a thread of its own, so that
/// a child writing more than a pipe holds never blocks.
fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let mut bytes = Vec::new();
            pipe.read_to_end(&mut bytes).unwrap();
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
        text
    })
}

/// Waits for `child` to exit. One still running after [`HANG_GUARD`] is
/// killed and fails the test with what it wrote (its stdout file too, when
/// stdout went to a file rather than a pipe).
pub fn wait(mut child: Child) -> Outcome {
    let stdout_file = match child.stdout {
        Some(_) => None,
        None => fs::read_link(format!("/proc/{}/fd/1", child.id())).ok(),
    };
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let mut status = None;
    let hung = !poll_until(|| {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    if hung {
        let _ = child.kill();
        status = Some(child.wait().unwrap());
    }
    let status = status.unwrap();
    let outcome = Outcome {
        status: status.code(),
        signal: status.signal(),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    };
    if hung {
        let file = stdout_file
            .filter(|path| path.is_file())
            .map(|path| fs::read_to_string(&path).unwrap_or_default())
            .unwrap_or_default();
        panic!(
            "still running after {HANG_GUARD:?} (the tests' hang guard), killed: \
             {outcome:#?}\nits stdout file:\n{file}"
        );
    }
    outcome
}

/// `--engine=E` when `RINGTENDER_TEST_ENGINE=E` is set (tests/run.sh runs
/// the guest tests once per engine), ahead of `args`, so that an engine a
/// test names itself wins; nothing for `--help` and `--version`.
pub fn engine_option(args: &[&str]) -> Option<String> {
    let engine = std::env::var("RINGTENDER_TEST_ENGINE").ok()?;
    match args.first() {
        None | Some(&"--help") | Some(&"--version") => None,
        Some(_) => Some(format!("--engine={engine}")),
    }
}

/// Runs the tender with `args` until it exits.
pub fn run(args: &[&str]) -> Outcome {
    let child = Command::new(tender())
        .args(engine_option(args))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait(child)
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}x{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

impl TempDir {
    /// Creates a fresh directory.
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(unique("ringtender-test-"));
        fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    /// A path inside the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Creates a file of `size` zero bytes.
    pub fn zero_file(&self, name: &str, size: u64) -> PathBuf {
        let path = self.join(name);
        let file = fs::File::create(&path).unwrap();
        file.set_len(size).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn sh(cmd: &[&str]) {
    let status = Command::new(cmd[0]).args(&cmd[1..]).status().unwrap();
    assert!(status.success(), "{cmd:?} failed");
}

/// A network namespace made for one test, removed (with its taps) on drop;
/// whatever still runs inside it then (a tender left behind by a failed
/// assertion) is killed first, so a failing test leaves nothing running.
pub struct NetNs {
    /// Its name.
    pub name: String,
}

impl NetNs {
    /// Creates the namespace with loopback up and without IPv6, so the
    /// kernel sends no frames of its own through the taps.
    pub fn new() -> Self {
        remove_orphaned_namespaces();
        let name = unique("rt");
        sh(&["ip", "netns", "add", &name]);
        let ns = Self { name };
        ns.exec(&["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
        ns.exec(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    /// Runs a command inside the namespace; it must succeed.
    pub fn exec(&self, cmd: &[&str]) {
        let mut full = vec!["ip", "netns", "exec", &self.name];
        full.extend_from_slice(cmd);
        sh(&full);
    }

    /// Runs `f` on a thread of its own that joined the namespace.
    pub fn on_thread<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        use std::os::fd::AsRawFd;
        let netns = fs::File::open(format!("/var/run/netns/{}", self.name)).unwrap();
        std::thread::spawn(move || {
            // SAFETY: setns(2) with a namespace descriptor we opened; it
            // moves only the calling thread, which is ours.
            let rc = unsafe { libc::setns(netns.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
    }

    /// Waits until the kernel put the namespace's taps in service once the
    /// tender attached them: it does so late on a busy machine (linkwatch,
    /// under the RTNL lock) and drops what is sent before (the tap reports
    /// "state DOWN" until then). A change of link state then takes the
    /// RTNL lock after linkwatch let go of it.
    fn wait_for_taps_in_service(&self) {
        let mut links = String::new();
        let in_service = poll_until(|| {
            let out = self
                .command("ip")
                .args(["-o", "link", "show"])
                .output()
                .unwrap();
            links = String::from_utf8_lossy(&out.stdout).into_owned();
            !links.contains(" state DOWN ")
        });
        assert!(in_service, "taps never in service: {links}");
        self.exec(&["ip", "link", "set", "lo", "up"]);
    }

    /// A command that will run inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name, program]);
        cmd
    }

    /// Creates tap `name`, up, with `addr` (CIDR) if given, `mtu`, and a
    /// queue of 10,000 frames (room for the injectors' windows). With an
    /// address, the kernel asks for a neighbour's MAC address once a second
    /// for as long as [`HANG_GUARD`] (not three times, its default), so a
    /// guest slow to answer ARP on a loaded machine is not reported
    /// unreachable.
    pub fn add_tap(&self, name: &str, addr: Option<&str>, mtu: u32) {
        self.exec(&["ip", "tuntap", "add", name, "mode", "tap"]);
        self.exec(&["ip", "link", "set", name, "mtu", &mtu.to_string()]);
        self.exec(&["ip", "link", "set", name, "txqueuelen", "10000"]);
        if let Some(addr) = addr {
            self.exec(&["ip", "addr", "add", addr, "dev", name]);
            let probes = HANG_GUARD.as_secs().to_string();
            for kind in ["mcast_solicit", "ucast_solicit"] {
                let setting = format!("net.ipv4.neigh.{name}.{kind}={probes}");
                self.exec(&["sysctl", "-qw", &setting]);
            }
        }
        self.exec(&["ip", "link", "set", name, "up"]);
    }

    /// Sends `count` ICMP echo requests to `addr` from inside the
    /// namespace, each with its own payload, and waits for every reply
    /// however late (at most [`HANG_GUARD`]); how many of the requests got
    /// a reply carrying their payload back.
    pub fn ping(&self, addr: &str, count: u16) -> u16 {
        self.wait_for_taps_in_service();
        let addr: std::net::Ipv4Addr = addr.parse().unwrap();
        self.on_thread(move || {
            let socket = IcmpSocket::new();
            let id = COUNTER.fetch_add(1, Ordering::Relaxed) as u16;
            for seq in 0..count {
                socket.send_echo(addr, id, seq);
            }
            let mut answered = vec![false; count.into()];
            let mut left = count;
            poll_until(|| {
                while let Some(seq) = socket.recv_echo_reply(id) {
                    let slot = &mut answered[usize::from(seq)];
                    if !*slot {
                        *slot = true;
                        left -= 1;
                    }
                }
                left == 0
            });
            count - left
        })
        .join()
        .unwrap()
    }
}

/// A raw ICMP socket in the calling thread's network namespace.
struct IcmpSocket(std::os::fd::OwnedFd);

impl IcmpSocket {
    const ECHO_REQUEST: u8 = 8;
    const ECHO_REPLY: u8 = 0;

    fn new() -> Self {
        use std::os::fd::FromRawFd;
        let flags = libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
        // SAFETY: a plain socket call; the result is checked.
        let fd = unsafe { libc::socket(libc::AF_INET, flags, libc::IPPROTO_ICMP) };
        assert!(
            fd >= 0,
            "raw ICMP socket: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: `fd` is a fresh socket we own.
        Self(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
    }

    /// The echo message `kind` with `id`, `seq` and a payload made of both.
    fn message(kind: u8, id: u16, seq: u16) -> Vec<u8> {
        let mut m = vec![kind, 0, 0, 0];
        m.extend_from_slice(&id.to_be_bytes());
        m.extend_from_slice(&seq.to_be_bytes());
        m.extend((0..56u16).map(|i| (seq ^ id).wrapping_add(i) as u8));
        let sum = m
            .chunks(2)
            .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
            .sum::<u32>();
        let sum = (sum & 0xffff) + (sum >> 16);
        let sum = !((sum & 0xffff) + (sum >> 16)) as u16;
        m[2..4].copy_from_slice(&sum.to_be_bytes());
        m
    }

    fn send_echo(&self, to: std::net::Ipv4Addr, id: u16, seq: u16) {
        use std::os::fd::AsRawFd;
        let request = Self::message(Self::ECHO_REQUEST, id, seq);
        // SAFETY: sockaddr_in is plain data; all-zero is a valid start.
        let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        addr.sin_family = libc::AF_INET as u16;
        addr.sin_addr.s_addr = u32::from(to).to_be();
        // SAFETY: `request` is readable for its length and `addr` is a
        // valid sockaddr_in of the size passed.
        let n = unsafe {
            libc::sendto(
                self.0.as_raw_fd(),
                request.as_ptr().cast(),
                request.len(),
                0,
                &addr as *const libc::sockaddr_in as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_in>() as u32,
            )
        };
        assert_eq!(
            n,
            request.len() as isize,
            "{}",
            std::io::Error::last_os_error()
        );
    }

    /// The sequence number of one waiting echo reply to `id` whose payload
    /// is the request's; None when nothing (more) is waiting. Other ICMP
    /// messages are skipped.
    fn recv_echo_reply(&self, id: u16) -> Option<u16> {
        use std::os::fd::AsRawFd;
        let mut packet = [0u8; 1500];
        loop {
            // SAFETY: `packet` is writable for its length.
            let n = unsafe {
                libc::recv(
                    self.0.as_raw_fd(),
                    packet.as_mut_ptr().cast(),
                    packet.len(),
                    0,
                )
            };
            if n < 0 {
                let err = std::io::Error::last_os_error();
                assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock, "recv: {err}");
                return None;
            }
            // The raw socket hands over the IP header too.
            let packet = &packet[..n as usize];
            let icmp = &packet[usize::from(packet[0] & 0xf) * 4..];
            let seq = u16::from_be_bytes([icmp[6], icmp[7]]);
            if icmp == Self::message(Self::ECHO_REPLY, id, seq).as_slice() {
                return Some(seq);
            }
        }
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        remove_namespace(&self.name);
    }
}

/// Kills whatever runs in namespace `name` and removes it (with its taps).
fn remove_namespace(name: &str) {
    if let Ok(out) = Command::new("ip").args(["netns", "pids", name]).output() {
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            if let Ok(pid) = pid.parse::<libc::pid_t>() {
                // SAFETY: kill has no memory effects; the pid was just
                // listed as a process in a namespace the tests made.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
    let _ = Command::new("ip").args(["netns", "del", name]).status();
}

/// Removes the namespaces of test processes that are gone: one killed from
/// outside (a CI time-out, a ^C) never ran its `NetNs` drops, and left its
/// namespaces, their taps and the tenders in them behind. A namespace is
/// ours if its name is [`unique`]'s `rt<pid>x<n>`; it is an orphan if no
/// process `pid` exists (a reused pid leaves it for a later sweep).
fn remove_orphaned_namespaces() {
    let Ok(entries) = fs::read_dir("/var/run/netns") else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let owner = name
            .strip_prefix("rt")
            .and_then(|rest| rest.split_once('x'))
            .and_then(|(pid, n)| {
                n.parse::<u32>().ok()?;
                pid.parse::<u32>().ok()
            });
        if let Some(pid) = owner {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                remove_namespace(&name);
            }
        }
    }
}

/// Starts the tender inside `ns` with stdout to a file, waits until the
/// guest prints `ready`, and returns the child and the file. A tender that
/// exits first fails the test with what it wrote.
pub fn start_in_ns(ns: &NetNs, args: &[&str], dir: &TempDir, ready: &str) -> (Child, PathBuf) {
    let log = dir.join(&unique("stdout-"));
    let mut child = ns
        .command(tender())
        .args(engine_option(args))
        .args(args)
        .stdout(fs::File::create(&log).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut exited = false;
    poll_until(|| {
        exited = child.try_wait().unwrap().is_some();
        exited || contains(&log, ready)
    });
    if !contains(&log, ready) {
        let what = if exited {
            "exited"
        } else {
            let _ = child.kill();
            "was killed after the tests' hang guard"
        };
        let out = wait(child);
        let stdout = fs::read_to_string(&log).unwrap_or_default();
        panic!("the tender {what} before printing {ready:?}: {out:#?}\nits stdout:\n{stdout}");
    }
    (child, log)
}

/// What a guest started by [`start_with_devices`] runs with: a namespace
/// of its own with tap `tap0` as `service0`, a fresh 1 MiB zero file as
/// `storage`, and its stdout.
pub struct GuestDevices {
    /// The guest's stdout.
    pub log: PathBuf,
    /// The block file.
    pub image: PathBuf,
    /// The namespace (removed on drop).
    pub ns: NetNs,
    /// Holds the file and the log.
    pub dir: TempDir,
}

/// Starts unikernel `kernel` with `guest_args` and the tender `options`
/// (`--mem=16` and the two devices added); returns once it printed "Ready".
pub fn start_with_devices(
    options: &[&str],
    kernel: &str,
    guest_args: &[&str],
) -> (Child, GuestDevices) {
    let ns = NetNs::new();
    ns.add_tap("tap0", None, 1500);
    let dir = TempDir::new();
    let image = dir.zero_file("storage.img", 1 << 20);
    let path = unikernel(kernel);
    let block = format!("--block:storage={}", image.display());
    let mut args = options.to_vec();
    args.extend_from_slice(&[
        "--mem=16",
        "--net:service0=tap0",
        &block,
        "--",
        path.to_str().unwrap(),
    ]);
    args.extend_from_slice(guest_args);
    let (child, log) = start_in_ns(&ns, &args, &dir, "Ready");
    (
        child,
        GuestDevices {
            log,
            image,
            ns,
            dir,
        },
    )
}

fn contains(path: &Path, text: &str) -> bool {
    fs::read_to_string(path).unwrap_or_default().contains(text)
}

/// Polls `path` until it contains `text`.
pub fn wait_for_text(path: &Path, text: &str) {
    if !poll_until(|| contains(path, text)) {
        let now = fs::read_to_string(path).unwrap_or_default();
        panic!(
            "no {text:?} in {} after {HANG_GUARD:?} (the tests' hang guard):\n{now}",
            path.display()
        );
    }
}

/// Sends frames into tap `tap` of `ns` from the host side (an `AF_PACKET`
/// socket bound to it, from a thread that joined the namespace), so that
/// the tender reads them from the tap. `frame(i)` builds frame `i`. Pacing
/// keeps at most `window` frames queued in the tap (its `tx_packets` counts
/// the frames the tender took), so the kernel drops none when the tap's
/// `txqueuelen` is larger than `window`. A tender that takes no frame for
/// [`HANG_GUARD`] while the window is full fails the test; one that is gone
/// (the tap has no reader) ends the injection early.
pub fn inject_frames(
    ns: &NetNs,
    tap: &str,
    count: u64,
    window: u64,
    frame: impl Fn(u64) -> Vec<u8> + Send + 'static,
) -> std::thread::JoinHandle<()> {
    let tap = tap.to_string();
    ns.on_thread(move || {
        let socket = PacketSocket::bind(&tap);
        // The kernel sends frames of its own through the tap too (IPv6
        // neighbour discovery), so count from here and never below zero.
        let base = tap_counter(&tap, TapCounter::TxPackets);
        let mut sent = 0;
        let (mut last_taken, mut last_progress) = (0, Instant::now());
        while sent < count {
            let taken = tap_counter(&tap, TapCounter::TxPackets) - base;
            if taken != last_taken {
                (last_taken, last_progress) = (taken, Instant::now());
            }
            if sent.saturating_sub(taken) >= window {
                assert!(
                    last_progress.elapsed() < HANG_GUARD,
                    "{tap}: the tender took {taken} of {sent} frames sent and no more for \
                     {HANG_GUARD:?} (the tests' hang guard); the tap dropped {}",
                    tap_counter(&tap, TapCounter::TxDropped)
                );
                std::thread::sleep(Duration::from_micros(50));
                continue;
            }
            let burst = (count - sent).min(256);
            for i in sent..sent + burst {
                if !socket.send(&frame(i)) {
                    return; // The tender is gone; the test judges how it ended.
                }
            }
            sent += burst;
        }
    })
}

/// Counters of a tap in `/proc/thread-self/net/dev` (the calling thread's
/// network namespace).
#[derive(Clone, Copy)]
pub enum TapCounter {
    /// Frames the tender wrote into the tap.
    RxPackets,
    /// Frames the tap delivered to its reader (the tender).
    TxPackets,
    /// Frames the kernel dropped because the tap's queue was full.
    TxDropped,
}

/// Reads one counter of `tap` in the calling thread's namespace.
pub fn tap_counter(tap: &str, which: TapCounter) -> u64 {
    let dev = fs::read_to_string("/proc/thread-self/net/dev").unwrap();
    let line = dev
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(&format!("{tap}:")))
        .unwrap_or_else(|| panic!("no {tap} in /proc/thread-self/net/dev"));
    let fields: Vec<u64> = line
        .split_whitespace()
        .map(|f| f.parse().unwrap())
        .collect();
    // rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes packets errs drop ...
    match which {
        TapCounter::RxPackets => fields[1],
        TapCounter::TxPackets => fields[9],
        TapCounter::TxDropped => fields[11],
    }
}

/// A raw packet socket bound to one interface.
pub struct PacketSocket(std::os::fd::OwnedFd);

impl PacketSocket {
    /// A packet socket on `ifname` of `ns` that also receives every frame
    /// (made from a thread that joins the namespace; the socket stays in it).
    pub fn bind_in(ns: &NetNs, ifname: &str) -> Self {
        use std::os::fd::AsRawFd;
        let netns = fs::File::open(format!("/var/run/netns/{}", ns.name)).unwrap();
        let ifname = ifname.to_string();
        std::thread::spawn(move || {
            // SAFETY: setns on an open namespace fd affects only this thread.
            let rc = unsafe { libc::setns(netns.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0);
            Self::bind_for(&ifname, (libc::ETH_P_ALL as u16).to_be())
        })
        .join()
        .unwrap()
    }

    /// The next frame that came in from the interface's other end (the
    /// tender's writes to its tap), none within `limit`.
    pub fn recv_incoming(&self, limit: Duration) -> Option<Vec<u8>> {
        use std::os::fd::AsRawFd;
        let start = Instant::now();
        let fd = self.0.as_raw_fd();
        while start.elapsed() < limit {
            let mut pollfd = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd for the duration of the call.
            if unsafe { libc::poll(&mut pollfd, 1, 100) } <= 0 {
                continue;
            }
            let mut buf = vec![0u8; 65536];
            // SAFETY: sockaddr_ll is plain data; all-zero is a valid start.
            let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            let mut addr_len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            // SAFETY: `buf` and `addr` are writable for the lengths passed.
            let n = unsafe {
                libc::recvfrom(
                    fd,
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                    (&mut addr as *mut libc::sockaddr_ll).cast(),
                    &mut addr_len,
                )
            };
            if n > 0 && addr.sll_pkttype != libc::PACKET_OUTGOING {
                buf.truncate(n as usize);
                return Some(buf);
            }
        }
        None
    }

    fn bind(ifname: &str) -> Self {
        Self::bind_for(ifname, 0)
    }

    /// Bound to `ifname`, receiving frames of `protocol` (network order; 0: none).
    fn bind_for(ifname: &str, protocol: u16) -> Self {
        use std::os::fd::FromRawFd;
        let name = std::ffi::CString::new(ifname).unwrap();
        // SAFETY: plain socket and if_nametoindex calls, results checked.
        let (fd, index) = unsafe {
            (
                libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(protocol)),
                libc::if_nametoindex(name.as_ptr()),
            )
        };
        assert!(fd >= 0 && index != 0, "packet socket on {ifname}");
        // SAFETY: `fd` is a fresh socket we own.
        let socket = Self(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) });
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid start.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_ifindex = index as i32;
        addr.sll_protocol = protocol;
        // SAFETY: `addr` is a valid sockaddr_ll of the size passed.
        let rc = unsafe {
            libc::bind(
                fd,
                &addr as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        assert_eq!(rc, 0, "bind to {ifname}");
        // Straight to the tap's driver, past its queueing discipline: the
        // kernel puts that in service only when it gets round to the
        // carrier the tender's attach raised (linkwatch, under the RTNL
        // lock, late on a busy machine), and drops what comes before,
        // counted as tx_dropped.
        let one: libc::c_int = 1;
        // SAFETY: `one` is a valid c_int of the size passed.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_PACKET,
                libc::PACKET_QDISC_BYPASS,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as u32,
            )
        };
        assert_eq!(rc, 0, "PACKET_QDISC_BYPASS on {ifname}");
        socket
    }

    /// Lets `bytes` of frames wait in the socket (`SO_RCVBUFFORCE`, as
    /// root): a test that reads a burst of frames after the fact loses none
    /// to the default buffer.
    pub fn grow_receive_buffer(&self, bytes: libc::c_int) {
        use std::os::fd::AsRawFd;
        // SAFETY: `bytes` is a valid c_int of the size passed.
        let rc = unsafe {
            libc::setsockopt(
                self.0.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                (&bytes as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as u32,
            )
        };
        assert_eq!(rc, 0, "SO_RCVBUFFORCE: {}", std::io::Error::last_os_error());
    }

    /// Sends `frame`; false when the tap has no reader (its carrier is
    /// off: the tender is gone), which past the queueing discipline is
    /// the only reason for ENOBUFS.
    pub fn send(&self, frame: &[u8]) -> bool {
        use std::os::fd::AsRawFd;
        // SAFETY: `frame` is readable for its length.
        let n = unsafe { libc::send(self.0.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        if n == frame.len() as isize {
            return true;
        }
        let err = std::io::Error::last_os_error();
        assert_eq!(err.raw_os_error(), Some(libc::ENOBUFS), "send: {err}");
        false
    }
}

/// A tap's statistics counter `name` (in `/sys/class/net`), read inside `ns`.
pub fn tap_stat(ns: &NetNs, tap: &str, name: &str) -> u64 {
    let out = ns
        .command("cat")
        .arg(format!("/sys/class/net/{tap}/statistics/{name}"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// The byte the blk guest writes at offset `i` of block `block`.
fn blk_pattern(block: u64, i: usize) -> u8 {
    b'0' + ((block + i as u64) % 64) as u8
}

/// The blk guest's writes are on `image` (blocks of `block_size` bytes):
/// its pattern in blocks 0, 10, 20 and the last, block 5 never written.
pub fn assert_blk_writes_kept(image: &Path, block_size: usize) {
    let data = fs::read(image).unwrap();
    let last = (data.len() / block_size) as u64 - 1;
    for block in [0u64, 10, 20, last] {
        let start = block as usize * block_size;
        for i in [0, 1, block_size - 1] {
            assert_eq!(
                data[start + i],
                blk_pattern(block, i),
                "block {block} byte {i}"
            );
        }
    }
    assert_eq!(data[block_size * 5], 0, "block 5 was never written");
}

/// A 64-byte sequence-numbered frame of the netseq guest.
pub fn seq_frame(seq: u64) -> Vec<u8> {
    let mut f = vec![0u8; 64];
    f[..6].fill(0xff);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&[0x88, 0xb5]);
    f[14..22].copy_from_slice(&seq.to_le_bytes());
    f
}

/// Every write the guest saw acknowledged is on the file, and nothing else
/// is: blkseq's write `i` fills block `i % blocks` with `i`, so each of its
/// blocks holds, in every word, the last acknowledged number written there
/// (zero if none was), or the write submitted after the last acknowledged
/// one (`last + 1`, done but not yet reported) if it goes there; never a
/// torn block, an older or a later number. The blocks past the guest's
/// range stay zero.
pub fn assert_blkseq_writes_kept(log: &Path, image: &Path) {
    const BLOCK: usize = 512;
    let text = fs::read_to_string(log).unwrap();
    let last: u64 = text
        .lines()
        .filter_map(|l| l.strip_prefix("acked "))
        .filter_map(|n| n.parse().ok())
        .max()
        .unwrap();
    let submitted = last + 1;
    let data = fs::read(image).unwrap();
    let total = (data.len() / BLOCK) as u64;
    let blocks = total.min(256);
    for block in 0..total {
        let bytes = &data[block as usize * BLOCK..][..BLOCK];
        let words: Vec<u64> = bytes
            .chunks(8)
            .map(|w| u64::from_le_bytes(w.try_into().unwrap()))
            .collect();
        let found = words[0];
        assert!(
            words.iter().all(|&w| w == found),
            "block {block} is torn: {words:?}"
        );
        if block >= blocks {
            assert_eq!(found, 0, "block {block} is past the guest's range");
            continue;
        }
        let acked = (1..=last).rev().find(|i| i % blocks == block).unwrap_or(0);
        let allowed = [
            Some(acked),
            (submitted % blocks == block).then_some(submitted),
        ];
        assert!(
            allowed.contains(&Some(found)),
            "block {block}: last acknowledged write there {acked}, file holds {found} \
             (last acknowledged {last})"
        );
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The digest the ringapi guest prints, computed from the file: each block
/// must hold exactly what the guest's last acknowledged write put there
/// (block number, version, then the version's words) or be all zeroes.
pub fn ringapi_file_digest(image: &std::path::Path, block_size: usize) -> u64 {
    let data = fs::read(image).unwrap();
    let mut digest = 0u64;
    for (b, block) in data.chunks(block_size).take(1024).enumerate() {
        let words: Vec<u64> = block
            .chunks(8)
            .map(|w| u64::from_le_bytes(w.try_into().unwrap()))
            .collect();
        let b = b as u64;
        let version = words[1];
        for (i, &w) in words.iter().enumerate() {
            let i = i as u64;
            let want = match (version, i) {
                (0, _) => 0,
                (_, 0) => b,
                (_, 1) => version,
                _ => splitmix((b << 40) ^ (version << 12) ^ i),
            };
            assert_eq!(w, want, "block {b} word {i} of {}", image.display());
        }
        digest = splitmix(digest ^ (b << 32 | version));
    }
    digest
}

/// The digest the ringapi guest printed (its "digest N" line).
pub fn ringapi_printed_digest(stdout: &str) -> u64 {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("digest "))
        .unwrap_or_else(|| panic!("no digest: {stdout}"))
        .parse()
        .unwrap()
}

/// A copy (in `dir`) of our hvt image `file` whose RNG3 note offers nothing
/// (flags 0): what a tender that does not know the note sees. Our tender
/// starts it at CPL 0 with upstream's page tables and no rings.
pub fn without_cpl3(dir: &TempDir, file: &str) -> PathBuf {
    let mut bytes = std::fs::read(built_unikernel(file)).unwrap();
    let mut header = Vec::new();
    header.extend_from_slice(&(SOLO5_NOTE_NAME.len() as u32).to_le_bytes());
    header.extend_from_slice(&(size_of::<Ring3Descriptor>() as u32).to_le_bytes());
    header.extend_from_slice(&RING3_NOTE_TYPE.to_le_bytes());
    header.extend_from_slice(SOLO5_NOTE_NAME);
    header.resize(header.len().next_multiple_of(4), 0);
    let at = bytes
        .windows(header.len())
        .position(|w| w == header)
        .unwrap_or_else(|| panic!("{file} has no RNG3 note"))
        + header.len();
    // The descriptor: version, then flags.
    bytes[at + 4..at + 8].fill(0);
    let path = dir.join(file);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Pings `addr` from `ns` until `count` replies came back, however slow
/// the subject is: each ping waits up to [`HANG_GUARD`] for its replies, and a
/// ping that gave up (a neighbour resolution that took too long) is run
/// again. The last ping's output.
pub fn ping_until_answered(ns: &NetNs, addr: &str, count: u32) -> String {
    let start = std::time::Instant::now();
    let deadline = HANG_GUARD.as_secs().to_string();
    loop {
        let ping = ns
            .command("ping")
            .args(["-c", &count.to_string(), "-i", "0.2", "-w", &deadline, addr])
            .output()
            .unwrap();
        if ping.status.success() || start.elapsed() > HANG_GUARD {
            return String::from_utf8_lossy(&ping.stdout).into_owned();
        }
    }
}

/// Starts `solo5-muen-peer` with `args` (and the engine
/// `RINGTENDER_TEST_ENGINE` names), inside `ns` if given, its stdout to
/// `stdout` and its stderr piped. It is killed when the test's thread ends,
/// so a test process killed from outside leaves no peer serving on (outside
/// a namespace, nothing else would stop it).
pub fn start_muen_peer(ns: Option<&NetNs>, args: &[String], stdout: Stdio) -> Child {
    use std::os::unix::process::CommandExt;
    const PEER: &str = env!("CARGO_BIN_EXE_solo5-muen-peer");
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut command = match ns {
        Some(ns) => ns.command(PEER),
        None => Command::new(PEER),
    };
    // SAFETY: prctl is async-signal-safe and touches no memory of the
    // parent's; `ip netns exec` keeps the setting across its exec.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    command
        .args(engine_option(&argv))
        .args(args)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Voluntary context switches of `task`'s `/proc` directory: each time it
/// went to sleep, so each wake-up it had.
pub fn voluntary_switches(task: &std::path::Path) -> Option<u64> {
    let status = fs::read_to_string(task.join("status")).ok()?;
    let line = status
        .lines()
        .find(|l| l.starts_with("voluntary_ctxt_switches:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Voluntary context switches of the tender's ring worker: on hvt its
/// thread named "rings", on spt its child process "solo5-spt-io". None if
/// it is gone.
pub fn worker_switches(tender: u32) -> Option<u64> {
    let tasks: Vec<std::path::PathBuf> = match target() {
        Target::Hvt => fs::read_dir(format!("/proc/{tender}/task"))
            .ok()?
            .filter_map(|t| Some(t.ok()?.path()))
            .collect(),
        Target::Spt => fs::read_to_string(format!("/proc/{tender}/task/{tender}/children"))
            .ok()?
            .split_whitespace()
            .map(|pid| format!("/proc/{pid}").into())
            .collect(),
    };
    let name = match target() {
        Target::Hvt => "rings",
        Target::Spt => "solo5-spt-io",
    };
    let task = tasks
        .into_iter()
        .find(|dir| fs::read_to_string(dir.join("comm")).is_ok_and(|comm| comm.trim() == name))?;
    voluntary_switches(&task)
}
