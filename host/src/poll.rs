//! The POLL hypercall's wait set: an epoll instance holding every tap and a
//! monotonic timerfd, as upstream's core module has it; and [`wait`], the
//! one epoll wait of every host thread.
//!
//! The epoll instances and the timer are `vmm-sys-util`'s. Waiting is ours:
//! `Epoll::wait` calls libc's `epoll_wait`, which is the `epoll_wait`
//! system call on x86_64 and `epoll_pwait` elsewhere, while the spt guest
//! calls `epoll_pwait` itself (upstream's bindings do). Waiting with
//! `epoll_pwait` everywhere keeps one wait system call in every seccomp
//! filter and in the container allow-lists (`docs/deployment.md`).

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use ringtender_abi::spt::SPT_INTERNAL_TIMERFD;
use vmm_sys_util::epoll::{ControlOperation, Epoll, EpollEvent, EventSet};
use vmm_sys_util::timerfd::TimerFd;

/// Most events one [`WaitSet::wait`] takes: 64 handles and the timer.
const MAX_EVENTS: usize = 65;

/// Waits up to `timeout_ms` (-1: without limit) for the events of `epoll`
/// and stores them in `events`; returns how many it stored. `epoll_pwait`
/// with no signal mask: `epoll_wait` as the seccomp filters allow it.
pub fn wait(epoll: &Epoll, timeout_ms: i32, events: &mut [EpollEvent]) -> io::Result<usize> {
    let max = libc::c_int::try_from(events.len()).unwrap_or(libc::c_int::MAX);
    // SAFETY: `EpollEvent` is a transparent `epoll_event`, and `events` has
    // room for `max` of them; a null signal mask leaves the mask alone.
    let rc = unsafe {
        libc::epoll_pwait(
            epoll.as_raw_fd(),
            events.as_mut_ptr().cast::<libc::epoll_event>(),
            max,
            timeout_ms,
            std::ptr::null(),
        )
    };
    usize::try_from(rc).map_err(|_| io::Error::last_os_error())
}

/// Gives the CPU to a thread of the same CPU's run queue that waits for
/// it, if there is one (`sched_yield`; returns at once otherwise): POLL's
/// hand-over to a ring worker that shares its CPU
/// (`docs/performance.md`, "Receive: where the time went").
pub fn yield_cpu() {
    // SAFETY: `sched_yield` takes no arguments and touches no memory of ours.
    unsafe { libc::sched_yield() };
}

/// Waits for input on registered descriptors or a timeout.
pub struct WaitSet {
    epoll: Epoll,
    timer: TimerFd,
    members: usize,
}

impl WaitSet {
    /// Creates the epoll instance and its timer (`CLOCK_MONOTONIC`; nobody
    /// reads it: arming it again clears its expiry).
    pub fn new() -> io::Result<Self> {
        let set = Self {
            epoll: Epoll::new()?,
            timer: TimerFd::new()?,
            members: 0,
        };
        set.watch(set.timer.as_raw_fd(), EventSet::IN, SPT_INTERNAL_TIMERFD)?;
        Ok(set)
    }

    fn watch(&self, fd: RawFd, events: EventSet, data: u64) -> io::Result<()> {
        self.epoll
            .ctl(ControlOperation::Add, fd, EpollEvent::new(events, data))
    }

    fn add_member(&mut self, fd: RawFd, events: EventSet, data: u64) -> io::Result<()> {
        self.watch(fd, events, data)?;
        self.members += 1;
        Ok(())
    }

    /// Adds `fd`, reported as `handle` when readable.
    pub fn add(&mut self, fd: RawFd, handle: u64) -> io::Result<()> {
        self.add_member(fd, EventSet::IN, handle)
    }

    /// Adds an internal descriptor (a wake-up eventfd) that ends a wait
    /// without being reported as a ready handle; `data` must be >= 64.
    pub fn add_internal(&mut self, fd: RawFd, data: u64) -> io::Result<()> {
        self.add_member(fd, EventSet::IN, data)
    }

    /// Adds an eventfd that nobody drains (the spt guest only waits on it),
    /// edge-triggered so that each write ends one wait; `data` must be >= 64.
    pub fn add_edge_triggered(&mut self, fd: RawFd, data: u64) -> io::Result<()> {
        self.add_member(fd, EventSet::IN | EventSet::EDGE_TRIGGERED, data)
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
    pub fn wait(&mut self, timeout_ns: u64) -> io::Result<(u64, i32)> {
        // Never zero: a zero expiry would disarm the timer. Setting the
        // lowest bit changes only the nanoseconds, as upstream's `ns |= 1`.
        self.timer
            .reset(Duration::from_nanos(timeout_ns | 1), None)?;
        let mut events = [EpollEvent::default(); MAX_EVENTS];
        let max = (self.members + 1).min(MAX_EVENTS);
        let n = loop {
            match wait(&self.epoll, -1, &mut events[..max]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        let mut ready = 0u64;
        let mut count = 0;
        for event in &events[..n] {
            let data = event.data();
            if data != SPT_INTERNAL_TIMERFD && data < 64 {
                ready |= 1 << data;
                count += 1;
            }
        }
        Ok((ready, count))
    }
}

#[cfg(test)]
mod tests {
    use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

    use super::*;

    #[test]
    fn a_wait_reports_readable_handles_and_ends_on_its_timer() {
        let mut set = WaitSet::new().unwrap();
        let (quiet, loud) = (
            EventFd::new(EFD_NONBLOCK).unwrap(),
            EventFd::new(EFD_NONBLOCK).unwrap(),
        );
        set.add(quiet.as_raw_fd(), 3).unwrap();
        set.add(loud.as_raw_fd(), 5).unwrap();
        loud.write(1).unwrap();
        assert_eq!(set.wait(u64::MAX).unwrap(), (1 << 5, 1));
        loud.read().unwrap();
        // A zero timeout still arms the timer (its lowest bit is set).
        assert_eq!(set.wait(0).unwrap(), (0, 0));
        assert_eq!(set.wait(1_000_000).unwrap(), (0, 0));
    }

    #[test]
    fn internal_descriptors_end_a_wait_without_a_handle() {
        let mut set = WaitSet::new().unwrap();
        let wake = EventFd::new(EFD_NONBLOCK).unwrap();
        set.add_edge_triggered(wake.as_raw_fd(), 64).unwrap();
        wake.write(1).unwrap();
        assert_eq!(set.wait(u64::MAX).unwrap(), (0, 0));
    }
}
