//! The benchmark's network namespace: made with `ip netns`, joined by the
//! harness's main thread (so every tender it starts and every thread it
//! spawns lives there), removed on drop. Taps, their counters, and raw
//! packet sockets on them.

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::process::Command;

use crate::error::BenchError;

/// A network namespace the harness made and joined.
pub struct NetNs {
    name: String,
}

fn ip(args: &[&str]) -> Result<(), BenchError> {
    let status = Command::new("ip")
        .args(args)
        .status()
        .map_err(|e| BenchError::Setup(format!("ip {}: {e}", args.join(" "))))?;
    if status.success() {
        Ok(())
    } else {
        Err(BenchError::Setup(format!("ip {} failed", args.join(" "))))
    }
}

impl NetNs {
    /// Creates namespace `name` without IPv6 (no stray frames in the
    /// counts) and moves the calling thread into it.
    pub fn create_and_join(name: &str) -> Result<Self, BenchError> {
        // A namespace left by a killed run of the same pid: remove it quietly.
        let _ = Command::new("ip")
            .args(["netns", "del", name])
            .stderr(std::process::Stdio::null())
            .status();
        ip(&["netns", "add", name])?;
        let ns = Self { name: name.into() };
        ip(&[
            "netns",
            "exec",
            name,
            "sysctl",
            "-qw",
            "net.ipv6.conf.default.disable_ipv6=1",
        ])?;
        // The HTTP workload's clients close first, tens of thousands of
        // times to one address and port: without this, their TIME-WAIT
        // entries pile up over a run and later connections crawl.
        ip(&[
            "netns",
            "exec",
            name,
            "sysctl",
            "-qw",
            "net.ipv4.tcp_max_tw_buckets=0",
        ])?;
        ip(&["-n", name, "link", "set", "lo", "up"])?;
        let file = fs::File::open(format!("/var/run/netns/{name}"))
            .map_err(|e| BenchError::Setup(format!("open netns {name}: {e}")))?;
        // SAFETY: setns on an open namespace fd changes only this thread's
        // network namespace.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(BenchError::Setup(format!(
                "setns {name}: {}",
                io::Error::last_os_error()
            )));
        }
        Ok(ns)
    }

    /// Creates persistent tap `tap` (up, queue of 10,000 frames).
    pub fn add_tap(&self, tap: &str) -> Result<(), BenchError> {
        ip(&["-n", &self.name, "tuntap", "add", tap, "mode", "tap"])?;
        ip(&["-n", &self.name, "link", "set", tap, "txqueuelen", "10000"])?;
        ip(&["-n", &self.name, "link", "set", tap, "up"])
    }

    /// Gives `tap` the address `cidr` (the TCP workloads' host end).
    pub fn add_address(&self, tap: &str, cidr: &str) -> Result<(), BenchError> {
        ip(&["-n", &self.name, "addr", "add", cidr, "dev", tap])
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// Frames the tap's reader wrote, i.e. the host received, from
/// `/proc/thread-self/net/dev` (this thread's namespace).
pub fn tap_rx_packets(tap: &str) -> Result<u64, BenchError> {
    let dev = fs::read_to_string("/proc/thread-self/net/dev")
        .map_err(|e| BenchError::Setup(format!("/proc/thread-self/net/dev: {e}")))?;
    let line = dev
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(&format!("{tap}:")))
        .ok_or_else(|| BenchError::Setup(format!("no {tap} in /proc/thread-self/net/dev")))?;
    let f: Vec<u64> = line
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    f.get(1)
        .copied()
        .ok_or_else(|| BenchError::Setup(format!("short line for {tap}")))
}

/// A raw packet socket bound to one interface.
pub struct PacketSocket(OwnedFd);

impl PacketSocket {
    /// Binds to `ifname`, receiving only EtherType `ethertype`.
    pub fn bind(ifname: &str, ethertype: u16) -> Result<Self, BenchError> {
        let name = CString::new(ifname).map_err(|_| BenchError::Setup("tap name".into()))?;
        let proto = ethertype.to_be();
        // SAFETY: plain socket and if_nametoindex calls, results checked.
        let (fd, index) = unsafe {
            (
                libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(proto)),
                libc::if_nametoindex(name.as_ptr()),
            )
        };
        if fd < 0 || index == 0 {
            return Err(BenchError::Setup(format!(
                "packet socket on {ifname}: {}",
                io::Error::last_os_error()
            )));
        }
        // SAFETY: `fd` is a fresh socket we own.
        let socket = Self(unsafe { OwnedFd::from_raw_fd(fd) });
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid start.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = proto;
        addr.sll_ifindex = index as i32;
        // SAFETY: `addr` is a valid sockaddr_ll of the size passed.
        let rc = unsafe {
            libc::bind(
                fd,
                &addr as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if rc != 0 {
            return Err(BenchError::Setup(format!(
                "bind to {ifname}: {}",
                io::Error::last_os_error()
            )));
        }
        Ok(socket)
    }

    /// Sends one frame; false if the kernel had no buffer for it.
    pub fn send(&self, frame: &[u8]) -> bool {
        // SAFETY: `frame` is readable for its length.
        let n = unsafe { libc::send(self.0.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        n == frame.len() as isize
    }

    /// Receives one frame into `buf`, waiting at most `timeout_ms`.
    pub fn recv(&self, buf: &mut [u8], timeout_ms: i32) -> Option<usize> {
        let mut pfd = libc::pollfd {
            fd: self.0.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut pfd, 1, timeout_ms) } <= 0 {
            return None;
        }
        // SAFETY: `buf` is writable for its length.
        let n = unsafe { libc::recv(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        (n > 0).then_some(n as usize)
    }
}

/// An open tap (the ceiling measurements' host side), non-blocking.
pub struct TapFd(OwnedFd);

impl TapFd {
    /// Attaches to the persistent tap `name`.
    pub fn open(name: &str) -> Result<Self, BenchError> {
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/net/tun")
            .map_err(|e| BenchError::Setup(format!("/dev/net/tun: {e}")))?;
        let mut req = [0u8; 40];
        req[..name.len()].copy_from_slice(name.as_bytes());
        let flags = (libc::IFF_TAP | libc::IFF_NO_PI) as u16;
        req[16..18].copy_from_slice(&flags.to_ne_bytes());
        // SAFETY: TUNSETIFF reads a 40-byte ifreq, which `req` is.
        if unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, req.as_mut_ptr()) } < 0 {
            return Err(BenchError::Setup(format!(
                "attach {name}: {}",
                io::Error::last_os_error()
            )));
        }
        let fd: OwnedFd = file.into();
        // SAFETY: F_SETFL on our own descriptor.
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
        Ok(Self(fd))
    }

    /// The descriptor.
    pub fn raw(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}
