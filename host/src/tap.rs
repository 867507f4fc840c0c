//! Linux tap devices: attaching by interface name or by inherited descriptor.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

const IFNAMSIZ: usize = 16;
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const TUNGETIFF: libc::c_ulong = 0x8004_54d2;
const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;
const SIOCETHTOOL: libc::c_ulong = 0x8946;
const ETHTOOL_SGSO: u32 = 0x24;
const ETHTOOL_SGRO: u32 = 0x2c;
/// MTU assumed for an inherited descriptor whose interface cannot be asked.
const DEFAULT_MTU: u32 = 1500;
/// How long attaching a busy tap is retried: the tap of a tender that was
/// just killed stays attached until the kernel has closed the last of its
/// files, which on spt is the I/O worker's or the guest's, and they may
/// die a moment after the process an orchestrator waits for
/// (`docs/deployment.md`).
const BUSY_RETRY: Duration = Duration::from_secs(1);
/// Pause between two attempts on a busy tap.
const BUSY_PAUSE: Duration = Duration::from_millis(5);

/// `struct ifreq` with the union members we use.
#[repr(C)]
#[derive(Default)]
struct IfReq {
    name: [u8; IFNAMSIZ],
    data: [u8; 24],
}

/// `struct ethtool_value`.
#[repr(C)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

/// An attached tap device.
pub struct Tap {
    fd: OwnedFd,
    /// MTU of the interface, Ethernet header excluded.
    pub mtu: u32,
}

impl AsRawFd for Tap {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl Tap {
    /// Attaches `spec`: an existing, up interface name, or `@FD` for a tap
    /// descriptor the caller already opened. A tap that is busy (`EBUSY`)
    /// is tried again for up to [`BUSY_RETRY`].
    pub fn attach(spec: &str) -> io::Result<Self> {
        match spec.strip_prefix('@') {
            Some(num) => Self::from_inherited_fd(num),
            None => Self::open_by_name(spec),
        }
    }

    fn from_inherited_fd(num: &str) -> io::Result<Self> {
        let fd: RawFd = num
            .parse()
            .map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
        // SAFETY: F_GETFL only queries the descriptor table.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if fd < 0 || flags < 0 {
            return Err(io::Error::from_raw_os_error(libc::EBADF));
        }
        // SAFETY: the descriptor is open (F_GETFL succeeded) and the command
        // line hands it to the tender; nothing else in this process owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: F_SETFL with flags read above plus O_NONBLOCK.
        if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut req = IfReq::default();
        // SAFETY: TUNGETIFF writes a struct ifreq, which `req` is sized for.
        let mtu = if unsafe { libc::ioctl(fd.as_raw_fd(), TUNGETIFF, &mut req) } == 0 {
            interface_mtu(&req.name).unwrap_or(DEFAULT_MTU)
        } else {
            DEFAULT_MTU
        };
        Ok(Self { fd, mtu })
    }

    fn open_by_name(name: &str) -> io::Result<Self> {
        if name.len() >= IFNAMSIZ {
            return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
        }
        let mut ifname = [0u8; IFNAMSIZ];
        ifname[..name.len()].copy_from_slice(name.as_bytes());
        let flags = interface_flags(&ifname)?;
        if flags & (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short == 0 {
            return Err(io::Error::from_raw_os_error(libc::ENETDOWN));
        }
        let start = Instant::now();
        let file = loop {
            match claim(&ifname) {
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) && start.elapsed() < BUSY_RETRY => {
                    std::thread::sleep(BUSY_PAUSE);
                }
                outcome => break outcome?,
            }
        };
        let mtu = interface_mtu(&ifname)?;
        disable_offloads(&ifname);
        Ok(Self {
            fd: file.into(),
            mtu,
        })
    }
}

/// Opens the tun device and attaches it to tap `ifname` (TUNSETIFF).
fn claim(ifname: &[u8; IFNAMSIZ]) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open("/dev/net/tun")?;
    let mut req = IfReq {
        name: *ifname,
        ..Default::default()
    };
    req.data[..2].copy_from_slice(&(IFF_TAP | IFF_NO_PI).to_ne_bytes());
    // SAFETY: TUNSETIFF reads and writes a struct ifreq, which `req` is sized for.
    if unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF, &mut req) } < 0 {
        return Err(io::Error::last_os_error());
    }
    if req.name != *ifname {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    Ok(file)
}

/// Runs `ioctl(request)` on a throw-away AF_INET socket with `req`.
fn socket_ioctl(request: libc::c_ulong, req: &mut IfReq) -> io::Result<()> {
    // SAFETY: plain socket(2); the result is checked and owned below.
    let sock = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if sock < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `sock` was just created and is owned by nobody else.
    let sock = unsafe { OwnedFd::from_raw_fd(sock) };
    // SAFETY: every request passed here takes a struct ifreq, which `req` is sized for.
    if unsafe { libc::ioctl(sock.as_raw_fd(), request, req as *mut IfReq) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn interface_flags(name: &[u8; IFNAMSIZ]) -> io::Result<libc::c_short> {
    let mut req = IfReq {
        name: *name,
        ..Default::default()
    };
    socket_ioctl(libc::SIOCGIFFLAGS, &mut req).map_err(|e| {
        if e.raw_os_error() == Some(libc::ENODEV) {
            io::Error::from_raw_os_error(libc::ENOENT)
        } else {
            e
        }
    })?;
    Ok(libc::c_short::from_ne_bytes([req.data[0], req.data[1]]))
}

fn interface_mtu(name: &[u8; IFNAMSIZ]) -> io::Result<u32> {
    let mut req = IfReq {
        name: *name,
        ..Default::default()
    };
    socket_ioctl(libc::SIOCGIFMTU, &mut req)?;
    Ok(i32::from_ne_bytes(req.data[..4].try_into().unwrap()) as u32)
}

/// Turns GRO and GSO off so the kernel never hands the guest an aggregated
/// frame larger than its MTU. Failures are ignored, as upstream does.
fn disable_offloads(name: &[u8; IFNAMSIZ]) {
    for cmd in [ETHTOOL_SGRO, ETHTOOL_SGSO] {
        let mut value = EthtoolValue { cmd, data: 0 };
        let mut req = IfReq {
            name: *name,
            ..Default::default()
        };
        req.data[..8].copy_from_slice(&((&mut value as *mut EthtoolValue) as u64).to_ne_bytes());
        let _ = socket_ioctl(SIOCETHTOOL, &mut req);
    }
}

/// Reads and discards up to `max` frames waiting on the tap at `fd`
/// (non-blocking); returns how many there were.
///
/// Never inlined: its 64 KiB buffer would otherwise join the caller's stack
/// frame (the worker's pump), whose stack probes make every page of it
/// resident at the first pump, in every tender, lossy or not.
#[inline(never)]
pub fn discard_frames(fd: RawFd, max: usize) -> io::Result<usize> {
    let mut buf = [0u8; 65536];
    for discarded in 0..max {
        // SAFETY: `buf` is writable for its whole length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n == 0 {
            return Ok(discarded);
        }
        if n < 0 {
            let err = io::Error::last_os_error();
            return match err.raw_os_error() {
                Some(libc::EAGAIN) => Ok(discarded),
                _ => Err(err),
            };
        }
    }
    Ok(max)
}

/// Whether a frame waits on the tap at `fd` (a poll that does not block).
pub fn frame_waiting(fd: RawFd) -> io::Result<bool> {
    let mut pollfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call; timeout 0.
    let n = unsafe { libc::poll(&mut pollfd, 1, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n > 0 && pollfd.revents & libc::POLLIN != 0)
}

/// A random locally administered unicast MAC address.
pub fn random_mac() -> io::Result<[u8; 6]> {
    let mut mac = [0u8; 6];
    File::open("/dev/urandom")?.read_exact(&mut mac)?;
    mac[0] &= 0xfe;
    mac[0] |= 0x02;
    Ok(mac)
}

/// Parses `HH:HH:HH:HH:HH:HH`.
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        let part = parts.next()?;
        if part.len() != 2 {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_parsing() {
        assert_eq!(parse_mac("02:00:0a:0B:ff:01"), Some([2, 0, 10, 11, 255, 1]));
        assert_eq!(parse_mac("02:00:0a:0b:ff"), None);
        assert_eq!(parse_mac("02:00:0a:0b:ff:01:02"), None);
        assert_eq!(parse_mac("2:00:0a:0b:ff:01"), None);
        let mac = random_mac().unwrap();
        assert_eq!(mac[0] & 3, 2);
    }

    #[test]
    fn missing_interface_is_enoent() {
        let err = Tap::attach("rtnosuchtap0").err().unwrap();
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
        let err = Tap::attach("averyveryverylongname").err().unwrap();
        assert_eq!(err.raw_os_error(), Some(libc::ENAMETOOLONG));
        let err = Tap::attach("@987").err().unwrap();
        assert_eq!(err.raw_os_error(), Some(libc::EBADF));
    }
}
