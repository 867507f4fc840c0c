//! The POLL hypercall's wait set: an epoll instance holding every tap and a
//! monotonic timerfd, as upstream's core module has it.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use ringtender_abi::spt::SPT_INTERNAL_TIMERFD;

const NSEC_PER_SEC: u64 = 1_000_000_000;

/// Waits for input on registered descriptors or a timeout.
pub struct WaitSet {
    epoll: OwnedFd,
    timer: OwnedFd,
    members: usize,
}

fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

impl WaitSet {
    /// Creates the epoll instance and its timer.
    pub fn new() -> io::Result<Self> {
        // SAFETY: plain epoll_create1; the result is checked and owned.
        let epoll =
            unsafe { OwnedFd::from_raw_fd(check(libc::epoll_create1(libc::EPOLL_CLOEXEC))?) };
        // SAFETY: plain timerfd_create; the result is checked and owned.
        let timer = unsafe {
            OwnedFd::from_raw_fd(check(libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            ))?)
        };
        let set = Self {
            epoll,
            timer,
            members: 0,
        };
        set.add_raw(set.timer.as_raw_fd(), SPT_INTERNAL_TIMERFD)?;
        Ok(set)
    }

    fn add_raw(&self, fd: RawFd, data: u64) -> io::Result<()> {
        self.add_with(fd, libc::EPOLLIN as u32, data)
    }

    fn add_with(&self, fd: RawFd, events: u32, data: u64) -> io::Result<()> {
        let mut event = libc::epoll_event { events, u64: data };
        // SAFETY: `event` is a valid epoll_event for the duration of the call.
        check(unsafe {
            libc::epoll_ctl(self.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut event)
        })?;
        Ok(())
    }

    /// Adds `fd`, reported as `handle` when readable.
    pub fn add(&mut self, fd: RawFd, handle: u64) -> io::Result<()> {
        self.add_raw(fd, handle)?;
        self.members += 1;
        Ok(())
    }

    /// Adds an internal descriptor (a wake-up eventfd) that ends a wait
    /// without being reported as a ready handle; `data` must be >= 64.
    pub fn add_internal(&mut self, fd: RawFd, data: u64) -> io::Result<()> {
        self.add_raw(fd, data)?;
        self.members += 1;
        Ok(())
    }

    /// Adds an eventfd that nobody drains (the spt guest only waits on it),
    /// edge-triggered so that each write ends one wait; `data` must be >= 64.
    pub fn add_edge_triggered(&mut self, fd: RawFd, data: u64) -> io::Result<()> {
        self.add_with(fd, (libc::EPOLLIN | libc::EPOLLET) as u32, data)?;
        self.members += 1;
        Ok(())
    }

    /// Descriptor of the epoll instance (for the seccomp filter).
    pub fn epoll_fd(&self) -> RawFd {
        self.epoll.as_raw_fd()
    }

    /// Descriptor of the timer (for the seccomp filter).
    pub fn timer_fd(&self) -> RawFd {
        self.timer.as_raw_fd()
    }

    /// Waits up to `timeout_ns` for input; returns the set of ready handles
    /// and how many there are.
    pub fn wait(&self, timeout_ns: u64) -> io::Result<(u64, i32)> {
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: (timeout_ns / NSEC_PER_SEC) as libc::time_t,
                // Never zero: a zero it_value would disarm the timer.
                tv_nsec: ((timeout_ns % NSEC_PER_SEC) | 1) as libc::c_long,
            },
        };
        // SAFETY: `spec` is valid; the old value is not requested.
        check(unsafe {
            libc::timerfd_settime(self.timer.as_raw_fd(), 0, &spec, std::ptr::null_mut())
        })?;
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 65];
        let max = (self.members + 1).min(events.len());
        let n = loop {
            // SAFETY: `events` has room for `max` entries.
            let rc = unsafe {
                libc::epoll_pwait(
                    self.epoll.as_raw_fd(),
                    events.as_mut_ptr(),
                    max as i32,
                    -1,
                    std::ptr::null(),
                )
            };
            match check(rc) {
                Ok(n) => break n as usize,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        let mut ready = 0u64;
        let mut count = 0;
        for event in &events[..n] {
            let data = event.u64;
            if data != SPT_INTERNAL_TIMERFD && data < 64 {
                ready |= 1 << data;
                count += 1;
            }
        }
        Ok((ready, count))
    }
}
