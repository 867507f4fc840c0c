//! The supervisor: the tender's original process, which forks the guest
//! (and with rings, then the I/O worker), forwards termination signals to
//! the guest, and ends as the guest ended: the same exit status, or death by
//! the same signal after one line saying what happened (a seccomp kill, a
//! fault, a signal from outside). A failed or killed worker takes the guest
//! down with it and ends the tender with status 1.

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
/// forks. The child gets the original mask back from [`unblock_watched`].
pub fn fork() -> Result<Fork, TenderError> {
    let set = watched();
    // SAFETY: changes this thread's signal mask only.
    unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    // SAFETY: the tender is single-threaded here (spt starts no threads), so
    // the child may run any code.
    match unsafe { libc::fork() } {
        -1 => Err(super::Error::Fork(io::Error::last_os_error()).into()),
        0 => Ok(Fork::Child),
        pid => Ok(Fork::Parent(pid)),
    }
}

/// In a child: dies with the supervisor (SIGKILL). The watched signals stay
/// blocked until the child calls [`unblock_watched`], once it handles them
/// (a SIGTERM that came before is then delivered, not lost or fatal).
pub fn child_setup(supervisor: libc::pid_t) {
    // SAFETY: prctl and getppid have no memory effects.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::getppid() != supervisor {
            // The supervisor is already gone.
            libc::_exit(1);
        }
    }
}

/// Unblocks the signals [`fork`] blocked, in a child.
pub fn unblock_watched() {
    let set = watched();
    // SAFETY: changes this thread's signal mask only.
    unsafe { libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
}

/// Kills `child` (SIGKILL) and reaps it: the guest, when its worker could
/// not be forked.
pub fn kill_and_reap(child: libc::pid_t) {
    kill(child, libc::SIGKILL);
    let mut status = 0;
    // SAFETY: waitpid writes the child's status into `status`.
    unsafe { libc::waitpid(child, &mut status, 0) };
}

/// How a child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// It exited with this status.
    Exited(i32),
    /// A signal killed it.
    Killed(libc::c_int),
}

/// How the tender ends, once the guest and its worker have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Exit with this status.
    Exit(i32),
    /// Die of this signal, after saying so ([`die_like`]).
    DieLike(libc::c_int),
}

fn decode(status: libc::c_int) -> Ending {
    if libc::WIFSIGNALED(status) {
        Ending::Killed(libc::WTERMSIG(status))
    } else {
        Ending::Exited(libc::WEXITSTATUS(status))
    }
}

fn kill(pid: libc::pid_t, sig: libc::c_int) {
    // SAFETY: kill has no memory effects.
    unsafe { libc::kill(pid, sig) };
}

/// Waits for the guest and its I/O worker (spt rings), forwarding
/// termination signals to the guest. When the guest ends, the worker is
/// told to finish (SIGTERM); when the worker ends first, it failed or was
/// killed, so the guest is killed and the tender ends with status 1.
pub fn wait(guest: libc::pid_t, worker: Option<libc::pid_t>) -> Result<Verdict, TenderError> {
    let set = watched();
    let mut guest_end = None;
    let mut worker_end = worker.is_none().then_some(Ending::Exited(0));
    let mut worker_failed = false;
    loop {
        loop {
            let mut status = 0;
            // SAFETY: waitpid writes the status word only.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                break;
            }
            let ending = decode(status);
            if pid == guest {
                guest_end = Some(ending);
                if let (Some(worker), None) = (worker, worker_end) {
                    kill(worker, libc::SIGTERM);
                }
            } else if Some(pid) == worker {
                worker_end = Some(ending);
                if ending != Ending::Exited(0) {
                    worker_failed = true;
                    if let Ending::Killed(sig) = ending {
                        eprintln!(
                            "{}: I/O worker killed by signal {sig} ({})",
                            cli::program(),
                            describe(sig)
                        );
                    }
                }
                if guest_end.is_none() {
                    worker_failed = true;
                    kill(guest, libc::SIGKILL);
                }
            }
        }
        match (guest_end, worker_end) {
            (Some(_), Some(_)) if worker_failed => return Ok(Verdict::Exit(1)),
            (Some(Ending::Exited(status)), Some(_)) => return Ok(Verdict::Exit(status)),
            (Some(Ending::Killed(sig)), Some(_)) => return Ok(Verdict::DieLike(sig)),
            _ => {}
        }
        // SAFETY: waits for one of the blocked signals in `set`.
        let sig = unsafe { libc::sigwaitinfo(&set, std::ptr::null_mut()) };
        if sig < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return Err(super::Error::WaitSignal(io::Error::last_os_error()).into());
        }
        if FORWARDED.contains(&sig) && guest_end.is_none() {
            kill(guest, sig);
        }
    }
}

/// What a signal that killed a process means, for the report.
/// (Our own table: libc's `strsignal` may load locale files, which the
/// supervisor's filter refuses.)
fn describe(sig: libc::c_int) -> &'static str {
    match sig {
        libc::SIGSYS => "Bad system call: one its seccomp filter does not allow",
        libc::SIGSEGV => "Segmentation fault: it touched memory it may not",
        libc::SIGBUS => "Bus error",
        libc::SIGILL => "Illegal instruction",
        libc::SIGFPE => "Floating point exception",
        libc::SIGABRT => "Aborted",
        libc::SIGKILL => "Killed",
        libc::SIGTERM => "Terminated",
        libc::SIGINT => "Interrupt",
        libc::SIGHUP => "Hangup",
        _ => "a signal",
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
