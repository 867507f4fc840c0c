//! The `vmcall` watchdog. A subject raises a Muen event with `vmcall`
//! (RAX = event number). On this machine's KVM a guest `vmcall` neither
//! completes nor exits to user space: KVM_RUN keeps re-entering the guest
//! with RIP on the instruction until a signal is pending. So a timer sends
//! the vCPU thread a signal every [`PERIOD`]; KVM_RUN then fails with
//! EINTR, and the run loop looks at the bytes at RIP ([`VMCALL`]). The
//! same tick drains the debug log.
//!
//! The timer (`timer_create`, `SIGEV_THREAD_ID`) targets only the thread
//! that creates it, so no other thread's system calls are interrupted.

use std::io;
use std::time::Duration;

use super::Error;
use crate::error::TenderError;

/// How often KVM_RUN is interrupted.
pub const PERIOD: Duration = Duration::from_millis(2);
/// The encoding of `vmcall`.
pub const VMCALL: [u8; 3] = [0x0f, 0x01, 0xc1];

extern "C" fn on_tick(_: libc::c_int) {}

fn setup_error(call: &'static str) -> TenderError {
    Error::Watchdog {
        call,
        source: io::Error::last_os_error(),
    }
    .into()
}

/// The periodic signal to the calling thread; stopped when dropped.
pub struct Watchdog {
    timer: libc::timer_t,
}

impl Watchdog {
    /// Installs the (empty) handler and starts the timer for the calling
    /// thread, which must be the vCPU's.
    pub fn start() -> Result<Self, TenderError> {
        let signal = libc::SIGRTMIN();
        // SAFETY: a zeroed sigaction is valid; the handler does nothing. No
        // SA_RESTART, so the signal ends KVM_RUN with EINTR.
        let rc = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_tick as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(setup_error("sigaction"));
        }
        // SAFETY: a zeroed sigevent is valid; the fields set describe a
        // signal to this thread.
        let mut event: libc::sigevent = unsafe { std::mem::zeroed() };
        event.sigev_notify = libc::SIGEV_THREAD_ID;
        event.sigev_signo = signal;
        // SAFETY: gettid has no preconditions.
        event.sigev_notify_thread_id = unsafe { libc::gettid() };
        let mut timer: libc::timer_t = std::ptr::null_mut();
        // SAFETY: `event` and `timer` are valid for the call.
        if unsafe { libc::timer_create(libc::CLOCK_MONOTONIC, &mut event, &mut timer) } != 0 {
            return Err(setup_error("timer_create"));
        }
        let period = libc::timespec {
            tv_sec: 0,
            tv_nsec: PERIOD.as_nanos() as libc::c_long,
        };
        let spec = libc::itimerspec {
            it_interval: period,
            it_value: period,
        };
        // SAFETY: `timer` was just created; `spec` is valid for the call.
        if unsafe { libc::timer_settime(timer, 0, &spec, std::ptr::null_mut()) } != 0 {
            let err = setup_error("timer_settime");
            // SAFETY: deleting the timer we created.
            unsafe { libc::timer_delete(timer) };
            return Err(err);
        }
        Ok(Self { timer })
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        // SAFETY: the timer is ours and deleted once.
        unsafe { libc::timer_delete(self.timer) };
    }
}
