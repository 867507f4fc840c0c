//! The supervisor: the tender's original process, which forks the guest,
//! forwards termination signals to it, and ends as the guest ended: the
//! same exit status, or death by the same signal after one line saying what
//! happened (a seccomp kill, a fault, a signal from outside).

use std::io;

use crate::cli;
use crate::error::TenderError;

/// Signals the supervisor passes on to the guest.
const FORWARDED: [libc::c_int; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

fn sigset(signals: &[libc::c_int]) -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset initialise and fill a local sigset_t.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &sig in signals {
            libc::sigaddset(&mut set, sig);
        }
        set
    }
}

fn watched() -> libc::sigset_t {
    let mut signals = FORWARDED.to_vec();
    signals.push(libc::SIGCHLD);
    sigset(&signals)
}

/// A forked child.
pub enum Fork {
    /// In the child.
    Child,
    /// In the parent: the child's pid.
    Parent(libc::pid_t),
}

/// Blocks the watched signals (so none is lost between fork and wait) and
/// forks. The child gets the original mask back from [`child_setup`].
pub fn fork() -> Result<Fork, TenderError> {
    let set = watched();
    // SAFETY: changes this thread's signal mask only.
    unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    // SAFETY: the tender is single-threaded here (spt starts no threads), so
    // the child may run any code.
    match unsafe { libc::fork() } {
        -1 => Err(TenderError::Setup(format!(
            "fork: {}",
            crate::attach::strerror(&io::Error::last_os_error())
        ))),
        0 => Ok(Fork::Child),
        pid => Ok(Fork::Parent(pid)),
    }
}

/// In a child: dies with the supervisor (SIGKILL), and unblocks signals.
pub fn child_setup(supervisor: libc::pid_t) {
    // SAFETY: prctl and getppid have no memory effects.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::getppid() != supervisor {
            // The supervisor is already gone.
            libc::_exit(1);
        }
    }
    let set = watched();
    // SAFETY: changes this thread's signal mask only.
    unsafe { libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
}

/// How a child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// It exited with this status.
    Exited(i32),
    /// A signal killed it.
    Killed(libc::c_int),
}

/// Waits for `child`, forwarding termination signals to it.
pub fn wait(child: libc::pid_t) -> Result<Ending, TenderError> {
    let set = watched();
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes the status word only.
        match unsafe { libc::waitpid(child, &mut status, libc::WNOHANG) } {
            0 => {}
            pid if pid == child => {
                return Ok(if libc::WIFSIGNALED(status) {
                    Ending::Killed(libc::WTERMSIG(status))
                } else {
                    Ending::Exited(libc::WEXITSTATUS(status))
                });
            }
            _ => {
                let err = io::Error::last_os_error();
                return Err(TenderError::Setup(format!("waitpid: {err}")));
            }
        }
        // SAFETY: waits for one of the blocked signals in `set`.
        let sig = unsafe { libc::sigwaitinfo(&set, std::ptr::null_mut()) };
        if FORWARDED.contains(&sig) {
            // SAFETY: kill has no memory effects.
            unsafe { libc::kill(child, sig) };
        }
    }
}

/// What a signal that killed the guest means, for the report.
fn describe(sig: libc::c_int) -> String {
    match sig {
        libc::SIGSYS => {
            "Bad system call: the guest made a system call its seccomp filter does not allow".into()
        }
        libc::SIGSEGV => "Segmentation fault: the guest touched memory it may not".into(),
        _ => {
            // SAFETY: strsignal returns a static or thread-local string.
            let text = unsafe { std::ffi::CStr::from_ptr(libc::strsignal(sig)) };
            text.to_string_lossy().into_owned()
        }
    }
}

/// Reports that the guest was killed by `sig`, then dies of the same signal
/// (without a core dump of the supervisor), so that whoever waits for the
/// tender sees what upstream's single-process tender shows.
pub fn die_like(sig: libc::c_int) -> ! {
    eprintln!(
        "{}: guest killed by signal {sig} ({})",
        cli::program(),
        describe(sig)
    );
    let no_core = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: resets this process's disposition of `sig`, drops core dumps,
    // unblocks `sig` and sends it to ourselves; no memory is shared.
    unsafe {
        libc::setrlimit(libc::RLIMIT_CORE, &no_core);
        libc::signal(sig, libc::SIG_DFL);
        let set = sigset(&[sig]);
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::kill(libc::getpid(), sig);
    }
    std::process::exit(128 + sig)
}
