//! The spt I/O worker: a process of its own, forked by the tender after
//! the guest (which boots meanwhile), that serves the guest's rings. It
//! shares only the ring memory (a memfd) with the guest, holds the tap and
//! block descriptors, runs the same ring pump and I/O engines as hvt's
//! worker thread, and confines itself with its own seccomp filter before it
//! reads the rings: it cannot open files or sockets.
//!
//! SIGTERM (from the supervisor, once the guest has ended) makes it finish
//! what the guest submitted and exit 0. Any error ends it with one line and
//! status 1, which the supervisor turns into the end of the guest too.

use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;

use vmm_sys_util::epoll::Epoll;
use vmm_sys_util::eventfd::EventFd;

use super::seccomp::{self, WorkerFds};
use super::supervisor;
use crate::cli;
use crate::error::{syscall, TenderError};
use crate::guest_memory::GuestRam;
use crate::rings::engine;
use crate::rings::{
    watch_completions, GuestWaiting, RingDevices, RingOptions, RingShared, WorkerState,
};

/// Set by SIGTERM: finish and exit.
static STOP: AtomicBool = AtomicBool::new(false);
/// The doorbell, which the SIGTERM handler rings to end a sleep.
static DOORBELL: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_sigterm(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
    let one = 1u64.to_ne_bytes();
    // SAFETY: write(2) is async-signal-safe; `one` is 8 readable bytes.
    unsafe {
        libc::write(
            DOORBELL.load(Ordering::SeqCst),
            one.as_ptr().cast(),
            one.len(),
        )
    };
}

/// Takes SIGTERM as "finish and exit"; ignores the terminal's SIGINT and
/// SIGHUP, which reach the whole process group (the supervisor forwards
/// them to the guest, whose end stops the worker in order).
fn install_signals(doorbell: RawFd) -> Result<(), TenderError> {
    DOORBELL.store(doorbell, Ordering::SeqCst);
    // SAFETY: installs a handler that only touches atomics and write(2),
    // and ignores two signals; no other thread exists.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigterm as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(libc::SIGTERM, &action, std::ptr::null_mut()) != 0 {
            return Err(syscall("sigaction")(std::io::Error::last_os_error()));
        }
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
    }
    Ok(())
}

/// What the worker process serves.
pub struct WorkerPlan {
    /// The shared ring memory, at the guest's addresses.
    pub ram: Arc<GuestRam>,
    /// The devices' rings (channels initialised by the tender).
    pub devices: RingDevices,
    /// Engine choice and net mode.
    pub options: RingOptions,
    /// The guest's doorbell (the worker reads it).
    pub doorbell: EventFd,
    /// The guest's wake-up eventfd (the worker writes it).
    pub wake: EventFd,
    /// The worker's epoll set (the doorbell and `tap_set`), made by the
    /// tender so that the guest shares it: the guest switches `tap_set`
    /// off in it while it waits and serves the taps itself.
    pub epoll: Epoll,
    /// The nested epoll set the worker arms its taps in.
    pub tap_set: Epoll,
}

/// The worker's process name, as `ps` and `/proc/PID/comm` show it.
pub const WORKER_NAME: &std::ffi::CStr = c"solo5-spt-io";

fn serve(plan: WorkerPlan) -> Result<(), TenderError> {
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes.
    unsafe { libc::prctl(libc::PR_SET_NAME, WORKER_NAME.as_ptr()) };
    install_signals(plan.doorbell.as_raw_fd())?;
    // Only now: a SIGTERM the supervisor sent before (a guest that ended at
    // once) must reach the handler, not kill the worker unhandled.
    supervisor::unblock_watched();
    let engine = engine::build(plan.options.engine, &plan.devices.files, |msg| {
        eprintln!("{}: {msg}", cli::program())
    })?;
    watch_completions(&plan.epoll, engine.as_ref()).map_err(syscall("epoll"))?;
    let fds = WorkerFds {
        devices: plan.devices.files.iter().map(|f| f.fd).collect(),
        eventfds: vec![plan.doorbell.as_raw_fd(), plan.wake.as_raw_fd()],
        epoll: plan.epoll.as_raw_fd(),
        tap_set: plan.tap_set.as_raw_fd(),
        uring: engine.ring_fd(),
    };
    seccomp::install(&seccomp::worker_filter(&fds)?)?;
    let state = WorkerState {
        ram: plan.ram,
        nets: plan.devices.nets,
        blocks: plan.devices.blocks,
        areas: plan.devices.areas,
        engine,
        epoll: Arc::new(plan.epoll),
        tap_set: Some(Arc::new(plan.tap_set)),
        doorbell: Arc::new(plan.doorbell),
        shared: Arc::new(RingShared {
            waiting: GuestWaiting::AreaWords,
            guest_wake: plan.wake,
        }),
    };
    state.run(&STOP)
}

/// Runs the worker in this (freshly forked) process and exits.
pub fn run(plan: WorkerPlan) -> ! {
    match serve(plan) {
        Ok(()) => std::process::exit(0),
        Err(err) => {
            eprintln!("{}: I/O worker: {err}", cli::program());
            std::process::exit(1)
        }
    }
}
