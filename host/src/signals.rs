//! SIGINT and SIGTERM end the tender with upstream's message
//! (`PROGRAM: Exiting on signal N`, PROGRAM the running tender's name) and
//! status 1. Worker threads block both, so the handler always runs on the
//! vCPU thread, whose seccomp filter allows what it does (`hvt::seccomp`).

use std::io;
use std::sync::atomic::{AtomicI32, Ordering};

use crate::rings::engine::IORING_UNREGISTER_FILES;

/// The rings' io_uring instance, whose registered files the handler drops
/// before exiting (-1: none).
static URING_FD: AtomicI32 = AtomicI32::new(-1);

/// Makes the handlers drop the registered files (block files) of io_uring
/// `fd` before the tender exits, rather than leave them to the ring's
/// deferred teardown (`docs/ring-abi.md` §6).
pub fn release_uring_files_on_signal(fd: i32) {
    URING_FD.store(fd, Ordering::SeqCst);
}

const MESSAGE: &[u8] = b": Exiting on signal ";

extern "C" fn on_signal(signal: libc::c_int) {
    let mut line = [0u8; 64];
    // The name was set at the start of `main`; reading it takes no lock.
    let program = crate::cli::program().as_bytes();
    let mut len = program.len();
    line[..len].copy_from_slice(program);
    line[len..len + MESSAGE.len()].copy_from_slice(MESSAGE);
    len += MESSAGE.len();
    let mut n = signal.unsigned_abs();
    let mut buf = [0u8; 10];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    line[len..len + buf.len() - i].copy_from_slice(&buf[i..]);
    len += buf.len() - i;
    line[len] = b'\n';
    len += 1;
    let uring = URING_FD.load(Ordering::SeqCst);
    // SAFETY: write(2), io_uring_register(2) and _exit(2) are plain system
    // calls, async-signal-safe; `line` is a local buffer.
    unsafe {
        libc::write(2, line.as_ptr() as *const libc::c_void, len);
        if uring >= 0 {
            libc::syscall(
                libc::SYS_io_uring_register,
                uring,
                IORING_UNREGISTER_FILES,
                std::ptr::null::<libc::c_void>(),
                0,
            );
        }
        libc::_exit(1);
    }
}

/// Blocks SIGINT and SIGTERM in the calling thread: a worker thread calls
/// this first, and the signals go to a thread that does not block them.
pub fn route_to_other_threads() -> io::Result<()> {
    // SAFETY: `set` is a local signal set, initialised by sigemptyset before
    // use; pthread_sigmask only changes the calling thread's mask.
    let rc = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut())
    };
    match rc {
        0 => Ok(()),
        errno => Err(io::Error::from_raw_os_error(errno)),
    }
}

/// Installs the handlers.
pub fn install() -> io::Result<()> {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction is valid; the handler only makes
        // async-signal-safe calls.
        let rc = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
