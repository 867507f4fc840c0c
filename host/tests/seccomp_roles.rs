//! Every thread and process role's seccomp filter, evaluated by the kernel:
//! for each role the real filter is built over real descriptors (KVM vCPU,
//! epoll, timerfd, eventfds, io_uring, a block file; a datagram socket
//! stands in for a tap, the filters compare only its number), installed in
//! a forked child, and one call it needs must pass while calls it must
//! refuse kill the child with SIGSYS. Then a live hvt tender: every one of
//! its threads runs under a filter. And a filter never takes an empty
//! allow-list as "any arguments".

mod common;

use std::fs;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::process::{Command, Stdio};

use common::{unikernel_for, NetNs, Target, TempDir};
use kvm_ioctls::{Kvm, VcpuFd, VmFd};
use ringtender_host::hvt::dumpcore::{CoreFds, CORE_OPEN_FLAGS};
use ringtender_host::hvt::seccomp::{
    self as hvt, DebugFds, GdbReaderFds, NetRingFds, RingWorkerFds, VcpuFds, KVM_GET_FPU,
    KVM_GET_REGS, KVM_GET_VCPU_EVENTS, KVM_RUN, KVM_SET_GUEST_DEBUG, KVM_SET_REGS, KVM_SET_SREGS,
    KVM_SET_VCPU_EVENTS,
};
use ringtender_host::muen::seccomp as muen;
use ringtender_host::rings::engine::IORING_UNREGISTER_FILES;
use ringtender_host::seccomp_rules::{self, FilterError, Rules};
use ringtender_host::spt::seccomp::{self as spt, BlockLimits, GuestFds, TapControl, WorkerFds};
use seccompiler::BpfProgram;
use vmm_sys_util::eventfd::EventFd;

const BLOCK_SIZE: u64 = 512;
const CAPACITY: u64 = 64 * BLOCK_SIZE;

/// How a child that installed a filter and made one call ended.
#[derive(Debug, PartialEq, Eq)]
enum Ending {
    /// The call returned, and the child exited with 0 if it succeeded or
    /// else with its errno.
    Exited(i32),
    /// It was killed by this signal.
    Killed(i32),
}

const PASSED: Ending = Ending::Exited(0);
const REFUSED: Ending = Ending::Killed(libc::SIGSYS);
/// A KVM ioctl passed the filter and reached KVM, which refuses a vCPU
/// created by another process (the forked child's parent).
const REACHED_KVM: Ending = Ending::Exited(libc::EIO);

/// Forks a child that installs `filter` on itself and makes `call`; returns
/// how it ended.
fn under(filter: &BpfProgram, call: &dyn Fn() -> i64) -> Ending {
    // SAFETY: the child installs the prepared filter (no allocation) and
    // makes raw system calls before _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let code = match seccomp_rules::install_on_this_thread(filter) {
            Ok(()) if call() >= 0 => 0,
            // SAFETY: reads this thread's errno.
            Ok(()) => unsafe { *libc::__errno_location() },
            Err(_) => 255,
        };
        // SAFETY: ends the child without running the parent's atexit state.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    if libc::WIFSIGNALED(status) {
        Ending::Killed(libc::WTERMSIG(status))
    } else {
        Ending::Exited(libc::WEXITSTATUS(status))
    }
}

/// Checks each `(what, call, expected)` under `filter`.
fn check(role: &str, filter: &BpfProgram, cases: &[(&str, &dyn Fn() -> i64, Ending)]) {
    for (what, call, expected) in cases {
        assert_eq!(&under(filter, call), expected, "{role}: {what}");
    }
}

// Each helper below makes one raw system call with arguments it owns.

fn read8(fd: RawFd) -> i64 {
    let mut word = [0u8; 8];
    // SAFETY: `word` has room for 8 bytes.
    unsafe { libc::read(fd, word.as_mut_ptr().cast(), 8) as i64 }
}

fn write8(fd: RawFd) -> i64 {
    let word = 1u64.to_ne_bytes();
    // SAFETY: `word` holds 8 readable bytes.
    unsafe { libc::write(fd, word.as_ptr().cast(), 8) as i64 }
}

fn pwrite_block(fd: RawFd, offset: u64) -> i64 {
    pwrite_blocks(fd, offset, 1)
}

fn pwrite_blocks(fd: RawFd, offset: u64, blocks: u64) -> i64 {
    let data = vec![0u8; (blocks * BLOCK_SIZE) as usize];
    // SAFETY: `data` holds `data.len()` readable bytes.
    unsafe { libc::pwrite(fd, data.as_ptr().cast(), data.len(), offset as i64) as i64 }
}

fn pread_blocks(fd: RawFd, offset: u64, blocks: u64) -> i64 {
    let mut data = vec![0u8; (blocks * BLOCK_SIZE) as usize];
    // SAFETY: `data` has room for `data.len()` bytes.
    unsafe { libc::pread(fd, data.as_mut_ptr().cast(), data.len(), offset as i64) as i64 }
}

fn fdatasync(fd: RawFd) -> i64 {
    // SAFETY: no memory involved.
    i64::from(unsafe { libc::fdatasync(fd) })
}

fn epoll_add(epoll: RawFd, fd: RawFd) -> i64 {
    let mut event = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: 0,
    };
    // SAFETY: `event` is a valid epoll_event for the call.
    i64::from(unsafe { libc::epoll_ctl(epoll, libc::EPOLL_CTL_ADD, fd, &mut event) })
}

fn epoll_ctl(epoll: RawFd, op: libc::c_int, fd: RawFd) -> i64 {
    let mut event = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: 0,
    };
    // SAFETY: `event` is a valid epoll_event for the call.
    i64::from(unsafe { libc::epoll_ctl(epoll, op, fd, &mut event) })
}

fn ioctl(fd: RawFd, request: u64) -> i64 {
    // Room for any of the structures the tested requests copy out.
    let mut buf = [0u64; 128];
    // SAFETY: the requests tested write at most sizeof(kvm_sregs) < 1 KiB
    // into `buf`, or fail.
    i64::from(unsafe { libc::ioctl(fd, request as _, buf.as_mut_ptr()) })
}

fn uring_enter(ring: RawFd) -> i64 {
    // SAFETY: submits nothing and waits for nothing.
    unsafe { libc::syscall(libc::SYS_io_uring_enter, ring, 0, 0, 0, 0usize, 0) }
}

fn uring_register(ring: RawFd, opcode: u32) -> i64 {
    // SAFETY: no argument buffer (null, 0).
    unsafe { libc::syscall(libc::SYS_io_uring_register, ring, opcode, 0usize, 0) }
}

fn mmap_exec() -> i64 {
    // SAFETY: a fresh anonymous mapping, never used.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_EXEC,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        -1
    } else {
        0
    }
}

fn mmap_fixed() -> i64 {
    let mut here = [0u8; 8192];
    let page = ((here.as_mut_ptr() as usize + 4095) & !4095) as *mut libc::c_void;
    // SAFETY: only reached to be refused; it would map over this child's
    // own stack buffer, which nothing uses afterwards.
    let p = unsafe {
        libc::mmap(
            page,
            4096,
            libc::PROT_READ,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
            -1,
            0,
        )
    };
    i64::from(p == libc::MAP_FAILED)
}

fn futex_requeue() -> i64 {
    let word = 0u32;
    // SAFETY: requeues no waiter on a local word.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            &word as *const u32,
            libc::FUTEX_CMP_REQUEUE | libc::FUTEX_PRIVATE_FLAG,
            0,
            0,
            &word as *const u32,
            0,
        )
    }
}

fn sched_yield() -> i64 {
    // SAFETY: sched_yield takes no arguments and touches no memory.
    unsafe { libc::syscall(libc::SYS_sched_yield) }
}

fn clock() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is writable. Raw, so that the filter sees it (not the vDSO).
    unsafe { libc::syscall(libc::SYS_clock_gettime, libc::CLOCK_MONOTONIC, &mut ts) }
}

fn nanosleep() -> i64 {
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `zero` is a valid timespec; no remainder is asked for.
    i64::from(unsafe { libc::nanosleep(&zero, std::ptr::null_mut()) })
}

fn open_file() -> i64 {
    // SAFETY: a static path.
    i64::from(unsafe { libc::open(c"/etc/hostname".as_ptr(), libc::O_RDONLY) })
}

fn poll_one(fd: RawFd, timeout_ms: i32) -> i64 {
    let mut pollfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one pollfd we own for the duration of the call.
    i64::from(unsafe { libc::poll(&mut pollfd, 1, timeout_ms) })
}

fn kill(pid: libc::pid_t) -> i64 {
    // SAFETY: signal 0 only checks that `pid` exists.
    i64::from(unsafe { libc::kill(pid, 0) })
}

fn send8(fd: RawFd) -> i64 {
    let word = 1u64.to_ne_bytes();
    // SAFETY: `word` holds 8 readable bytes; no address.
    unsafe { libc::send(fd, word.as_ptr().cast(), 8, 0) as i64 }
}

fn recv8(fd: RawFd) -> i64 {
    let mut word = [0u8; 8];
    // SAFETY: `word` has room for 8 bytes; no address.
    unsafe { libc::recv(fd, word.as_mut_ptr().cast(), 8, libc::MSG_DONTWAIT) as i64 }
}

fn openat(dir: RawFd, name: &std::ffi::CStr, flags: i32) -> i64 {
    // SAFETY: `name` is NUL-terminated.
    i64::from(unsafe { libc::openat(dir, name.as_ptr(), flags, 0o600 as libc::c_uint) })
}

fn dup3(from: RawFd, onto: RawFd) -> i64 {
    // SAFETY: replaces a descriptor of the forked child only.
    i64::from(unsafe { libc::dup3(from, onto, libc::O_CLOEXEC) })
}

fn ftruncate(fd: RawFd) -> i64 {
    // SAFETY: no memory involved.
    i64::from(unsafe { libc::ftruncate(fd, CAPACITY as i64) })
}

fn mincore() -> i64 {
    let mut vec = [0u8; 1];
    // SAFETY: asks about the page of a local; `vec` has room for one page.
    i64::from(unsafe {
        let page = (&vec as *const _ as usize) & !0xfff;
        libc::mincore(page as *mut libc::c_void, 1, vec.as_mut_ptr())
    })
}

fn tgkill(pid: i32, tid: i32, signal: i32) -> i64 {
    // SAFETY: signal 0 only checks the thread exists; others are refused
    // before they are sent.
    unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, signal) }
}

/// Real descriptors of the kinds the tenders' threads hold.
struct Fds {
    _kvm: Kvm,
    vm: VmFd,
    vcpu: VcpuFd,
    epoll: OwnedFd,
    worker_epoll: OwnedFd,
    /// The hvt worker's nested set of taps.
    tap_set: OwnedFd,
    timer: OwnedFd,
    doorbell: EventFd,
    wake: EventFd,
    foreign: EventFd,
    uring: io_uring::IoUring,
    tap: OwnedFd,
    tap_peer: OwnedFd,
    block: fs::File,
    other_file: fs::File,
    _dir: TempDir,
}

fn owned(fd: libc::c_int) -> OwnedFd {
    assert!(fd >= 0, "{}", std::io::Error::last_os_error());
    // SAFETY: a fresh descriptor this test owns.
    unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) }
}

impl Fds {
    fn new() -> Self {
        let kvm = Kvm::new().expect("/dev/kvm");
        let vm = kvm.create_vm().unwrap();
        let vcpu = vm.create_vcpu(0).unwrap();
        let dir = TempDir::new();
        let open = |name: &str| {
            let path = dir.zero_file(name, CAPACITY);
            fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(path)
                .unwrap()
        };
        let mut pair = [0; 2];
        // SAFETY: `pair` has room for the two descriptors.
        let rc = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_DGRAM, 0, pair.as_mut_ptr()) };
        assert_eq!(rc, 0);
        // SAFETY: plain descriptor-creating calls, each checked by `owned`.
        let (epoll, worker_epoll, tap_set, timer) = unsafe {
            (
                owned(libc::epoll_create1(libc::EPOLL_CLOEXEC)),
                owned(libc::epoll_create1(libc::EPOLL_CLOEXEC)),
                owned(libc::epoll_create1(libc::EPOLL_CLOEXEC)),
                owned(libc::timerfd_create(
                    libc::CLOCK_MONOTONIC,
                    libc::TFD_CLOEXEC,
                )),
            )
        };
        Self {
            _kvm: kvm,
            vm,
            vcpu,
            epoll,
            worker_epoll,
            tap_set,
            timer,
            doorbell: EventFd::new(libc::EFD_NONBLOCK).unwrap(),
            wake: EventFd::new(libc::EFD_NONBLOCK).unwrap(),
            foreign: EventFd::new(libc::EFD_NONBLOCK).unwrap(),
            uring: io_uring::IoUring::new(8).unwrap(),
            tap: owned(pair[0]),
            tap_peer: owned(pair[1]),
            block: open("block.img"),
            other_file: open("other.img"),
            _dir: dir,
        }
    }

    fn vcpu_fd(&self) -> RawFd {
        self.vcpu.as_raw_fd()
    }

    /// The vCPU thread's descriptors: classic (devices served by
    /// hypercalls) or with our rings (devices served by the worker; the
    /// taps also by POLL and the send port).
    fn vcpu_role(&self, rings: bool) -> VcpuFds {
        VcpuFds {
            vcpu: self.vcpu_fd(),
            epoll: self.epoll.as_raw_fd(),
            timer: self.timer.as_raw_fd(),
            taps: vec![self.tap.as_raw_fd()],
            blocks: if rings {
                vec![]
            } else {
                vec![self.block.as_raw_fd()]
            },
            wake: rings.then(|| self.wake.as_raw_fd()),
            worker_doorbells: if rings {
                vec![self.doorbell.as_raw_fd()]
            } else {
                vec![]
            },
            uring: rings.then(|| self.uring.as_raw_fd()),
            tap_handoff: rings.then(|| (self.worker_epoll.as_raw_fd(), self.tap_set.as_raw_fd())),
        }
    }

    fn ring_worker_role(&self, uring: bool) -> RingWorkerFds {
        RingWorkerFds {
            doorbell: self.doorbell.as_raw_fd(),
            wake: self.wake.as_raw_fd(),
            epoll: self.worker_epoll.as_raw_fd(),
            tap_set: self.tap_set.as_raw_fd(),
            uring: uring.then(|| self.uring.as_raw_fd()),
            taps: vec![self.tap.as_raw_fd()],
            blocks: vec![self.block.as_raw_fd()],
        }
    }
}

#[test]
fn an_empty_allow_list_is_an_error_not_any_arguments() {
    let mut rules = Rules::new();
    assert!(matches!(
        rules.allow_arg_in(libc::SYS_epoll_ctl, 0, &[]),
        Err(FilterError::EmptyAllowList { call }) if call == libc::SYS_epoll_ctl
    ));
    assert!(matches!(
        rules.allow_when(libc::SYS_read, vec![]),
        Err(FilterError::EmptyAllowList { call }) if call == libc::SYS_read
    ));
    assert!(matches!(
        rules.allow_when(libc::SYS_read, vec![vec![]]),
        Err(FilterError::EmptyAllowList { call }) if call == libc::SYS_read
    ));
    // A call listed twice would let the later list replace the earlier.
    rules.allow_arg_in(libc::SYS_write, 0, &[2]).unwrap();
    assert!(matches!(
        rules.allow(&[libc::SYS_write]),
        Err(FilterError::DuplicateCall { call }) if call == libc::SYS_write
    ));
}

#[test]
fn hvt_vcpu_classic() {
    let fds = Fds::new();
    let filter = hvt::vcpu_filter(&fds.vcpu_role(false)).unwrap();
    let (vcpu, epoll, block) = (fds.vcpu_fd(), fds.epoll.as_raw_fd(), fds.block.as_raw_fd());
    let tap = fds.tap.as_raw_fd();
    check(
        "vCPU, classic",
        &filter,
        &[
            ("KVM_GET_REGS", &|| ioctl(vcpu, KVM_GET_REGS), REACHED_KVM),
            ("KVM_RUN", &|| ioctl(vcpu, KVM_RUN), REACHED_KVM),
            ("BLOCK_WRITE's pwrite", &|| pwrite_block(block, 0), PASSED),
            ("NET_WRITE's write", &|| write8(tap), PASSED),
            ("clock_gettime", &clock, PASSED),
            // No rings: the wait set's epoll is the only one, and no call
            // may change it (upstream-built guests, --classic runs).
            (
                "epoll_ctl on a foreign fd",
                &|| epoll_add(epoll, fds.foreign.as_raw_fd()),
                REFUSED,
            ),
            ("epoll_ctl on a tap", &|| epoll_add(epoll, tap), REFUSED),
            // POLL's hand-over to a ring worker: no worker, no yield.
            ("sched_yield", &sched_yield, REFUSED),
            (
                "pwrite on another file",
                &|| pwrite_block(fds.other_file.as_raw_fd(), 0),
                REFUSED,
            ),
            ("syncing at the guest's exit", &|| fdatasync(block), PASSED),
            (
                "fdatasync on another file",
                &|| fdatasync(fds.other_file.as_raw_fd()),
                REFUSED,
            ),
            (
                "KVM_CREATE_VCPU on the VM",
                &|| ioctl(fds.vm.as_raw_fd(), 0xae41),
                REFUSED,
            ),
            ("KVM_RUN on another fd", &|| ioctl(epoll, KVM_RUN), REFUSED),
            ("mmap PROT_EXEC", &mmap_exec, REFUSED),
            ("mmap MAP_FIXED", &mmap_fixed, REFUSED),
            ("futex CMP_REQUEUE", &futex_requeue, REFUSED),
            ("open", &open_file, REFUSED),
        ],
    );
}

#[test]
fn hvt_vcpu_with_rings() {
    let fds = Fds::new();
    let filter = hvt::vcpu_filter(&fds.vcpu_role(true)).unwrap();
    let (ring, wake) = (fds.uring.as_raw_fd(), fds.wake.as_raw_fd());
    let (tap, worker_epoll, tap_set) = (
        fds.tap.as_raw_fd(),
        fds.worker_epoll.as_raw_fd(),
        fds.tap_set.as_raw_fd(),
    );
    fds.wake.write(1).unwrap();
    // A frame for POLL's read of the tap.
    assert_eq!(write8(fds.tap_peer.as_raw_fd()), 8);
    // Files to unregister, as the rings' engine registers its devices.
    fds.uring
        .submitter()
        .register_files(&[fds.block.as_raw_fd()])
        .unwrap();
    check(
        "vCPU, rings",
        &filter,
        &[
            ("POLL's wake-up read", &|| read8(wake), PASSED),
            (
                "stopping the worker",
                &|| write8(fds.doorbell.as_raw_fd()),
                PASSED,
            ),
            (
                "the signal handler's IORING_UNREGISTER_FILES",
                &|| uring_register(ring, IORING_UNREGISTER_FILES),
                PASSED,
            ),
            ("io_uring_enter", &|| uring_enter(ring), REFUSED),
            (
                "io_uring_register (other opcode)",
                &|| uring_register(ring, 0),
                REFUSED,
            ),
            (
                "pwrite on the worker's block file",
                &|| pwrite_block(fds.block.as_raw_fd(), 0),
                REFUSED,
            ),
            (
                "fdatasync on the worker's block file",
                &|| fdatasync(fds.block.as_raw_fd()),
                REFUSED,
            ),
            ("POLL's read of a tap", &|| read8(tap), PASSED),
            ("the send port's write to a tap", &|| write8(tap), PASSED),
            ("POLL's yield to the ring worker", &sched_yield, PASSED),
            (
                "POLL switching the tap set in the worker's epoll",
                &|| epoll_add(worker_epoll, tap_set),
                PASSED,
            ),
            (
                "epoll_ctl of a tap in the worker's epoll",
                &|| epoll_add(worker_epoll, tap),
                REFUSED,
            ),
            (
                "epoll_ctl of a tap in the tap set",
                &|| epoll_add(tap_set, tap),
                REFUSED,
            ),
            (
                "epoll_ctl on a foreign fd",
                &|| epoll_add(fds.epoll.as_raw_fd(), fds.foreign.as_raw_fd()),
                REFUSED,
            ),
            (
                "read on another descriptor",
                &|| read8(fds.foreign.as_raw_fd()),
                REFUSED,
            ),
        ],
    );
}

/// The muen runner's vCPU thread: its vCPU's run and register calls,
/// stopping the peers' worker and the signal handler's unregistering; not
/// the peers' I/O, nor any other descriptor.
#[test]
fn hvt_debug_vcpu_and_gdb_reader() {
    let fds = Fds::new();
    let dir = fs::File::open(&fds._dir.0).unwrap();
    let slot = fs::OpenOptions::new()
        .write(true)
        .open(fds._dir.zero_file("slot", CAPACITY))
        .unwrap();
    let (dir, slot) = (dir.as_raw_fd(), slot.as_raw_fd());
    let socket = fds.tap.as_raw_fd();
    let vcpu = fds.vcpu_fd();
    let debug = DebugFds {
        gdb_socket: Some(socket),
        core: Some(CoreFds { dir, slot }),
    };
    let filter = hvt::debug_vcpu_filter(&fds.vcpu_role(true), &debug).unwrap();
    let other = fds.other_file.as_raw_fd();
    check(
        "solo5-hvt-debug vCPU",
        &filter,
        &[
            ("KVM_RUN", &|| ioctl(vcpu, KVM_RUN), REACHED_KVM),
            ("KVM_GET_FPU", &|| ioctl(vcpu, KVM_GET_FPU), REACHED_KVM),
            ("KVM_SET_REGS", &|| ioctl(vcpu, KVM_SET_REGS), REACHED_KVM),
            ("KVM_SET_SREGS", &|| ioctl(vcpu, KVM_SET_SREGS), REACHED_KVM),
            (
                "KVM_SET_GUEST_DEBUG",
                &|| ioctl(vcpu, KVM_SET_GUEST_DEBUG),
                REACHED_KVM,
            ),
            ("send to GDB", &|| send8(socket), PASSED),
            (
                "send elsewhere",
                &|| send8(fds.foreign.as_raw_fd()),
                REFUSED,
            ),
            (
                "create the core file",
                &|| openat(dir, c"core.a", CORE_OPEN_FLAGS),
                PASSED,
            ),
            (
                "open a file in the core directory to read",
                &|| openat(dir, c"slot", libc::O_RDONLY),
                REFUSED,
            ),
            (
                "create a file elsewhere",
                &|| openat(libc::AT_FDCWD, c"core.b", CORE_OPEN_FLAGS),
                REFUSED,
            ),
            ("move a file onto the slot", &|| dup3(other, slot), PASSED),
            ("move a file onto another", &|| dup3(slot, other), REFUSED),
            ("write the core", &|| pwrite_block(slot, 0), PASSED),
            ("size the core", &|| ftruncate(slot), PASSED),
            ("size another file", &|| ftruncate(other), REFUSED),
            ("mincore", &mincore, PASSED),
            ("open", &open_file, REFUSED),
        ],
    );
    let plain = hvt::vcpu_filter(&fds.vcpu_role(true)).unwrap();
    check(
        "plain vCPU against the debug calls",
        &plain,
        &[
            ("KVM_GET_FPU", &|| ioctl(vcpu, KVM_GET_FPU), REFUSED),
            ("KVM_SET_REGS", &|| ioctl(vcpu, KVM_SET_REGS), REFUSED),
            (
                "KVM_SET_GUEST_DEBUG",
                &|| ioctl(vcpu, KVM_SET_GUEST_DEBUG),
                REFUSED,
            ),
            ("send", &|| send8(socket), REFUSED),
            (
                "create a core file",
                &|| openat(dir, c"core.c", CORE_OPEN_FLAGS),
                REFUSED,
            ),
            ("mincore", &mincore, REFUSED),
        ],
    );
    // SAFETY: getpid and gettid only return ids.
    let (pid, tid) = unsafe { (libc::getpid(), libc::gettid()) };
    let reader = hvt::gdb_reader_filter(&GdbReaderFds {
        socket,
        pid,
        vcpu_tid: tid,
        kick_signal: 0,
    })
    .unwrap();
    check(
        "GDB reader",
        &reader,
        &[
            (
                "receive from GDB",
                &|| recv8(socket),
                Ending::Exited(libc::EAGAIN),
            ),
            ("kick the vCPU thread", &|| tgkill(pid, tid, 0), PASSED),
            (
                "another signal to it",
                &|| tgkill(pid, tid, libc::SIGKILL),
                REFUSED,
            ),
            ("kick another thread", &|| tgkill(pid, tid + 1, 0), REFUSED),
            (
                "receive elsewhere",
                &|| recv8(fds.foreign.as_raw_fd()),
                REFUSED,
            ),
            ("send", &|| send8(socket), REFUSED),
            ("write", &|| write8(2), REFUSED),
            ("KVM_RUN", &|| ioctl(vcpu, KVM_RUN), REFUSED),
        ],
    );
}

#[test]
fn muen_runner_vcpu() {
    let fds = Fds::new();
    let (vcpu, ring, doorbell) = (
        fds.vcpu_fd(),
        fds.uring.as_raw_fd(),
        fds.doorbell.as_raw_fd(),
    );
    let filter = muen::vcpu_filter(&muen::VcpuFds {
        vcpu,
        worker_doorbell: Some(doorbell),
        uring: Some(ring),
    })
    .unwrap();
    fds.uring
        .submitter()
        .register_files(&[fds.block.as_raw_fd()])
        .unwrap();
    check(
        "muen vCPU",
        &filter,
        &[
            ("KVM_RUN", &|| ioctl(vcpu, KVM_RUN), REACHED_KVM),
            ("KVM_GET_REGS", &|| ioctl(vcpu, KVM_GET_REGS), REACHED_KVM),
            ("KVM_SET_REGS", &|| ioctl(vcpu, KVM_SET_REGS), REACHED_KVM),
            ("KVM_SET_SREGS", &|| ioctl(vcpu, KVM_SET_SREGS), REACHED_KVM),
            (
                "KVM_GET_VCPU_EVENTS",
                &|| ioctl(vcpu, KVM_GET_VCPU_EVENTS),
                REACHED_KVM,
            ),
            (
                "KVM_SET_VCPU_EVENTS",
                &|| ioctl(vcpu, KVM_SET_VCPU_EVENTS),
                REACHED_KVM,
            ),
            ("stopping the peers", &|| write8(doorbell), PASSED),
            (
                "the signal handler's IORING_UNREGISTER_FILES",
                &|| uring_register(ring, IORING_UNREGISTER_FILES),
                PASSED,
            ),
            ("clock_gettime", &clock, PASSED),
            (
                "write to a foreign eventfd",
                &|| write8(fds.foreign.as_raw_fd()),
                REFUSED,
            ),
            ("read of the doorbell", &|| read8(doorbell), REFUSED),
            ("io_uring_enter", &|| uring_enter(ring), REFUSED),
            (
                "pwrite on the peers' block file",
                &|| pwrite_block(fds.block.as_raw_fd(), 0),
                REFUSED,
            ),
            (
                "write on the peers' tap",
                &|| write8(fds.tap.as_raw_fd()),
                REFUSED,
            ),
            (
                "KVM_CREATE_VCPU on the VM",
                &|| ioctl(fds.vm.as_raw_fd(), 0xae41),
                REFUSED,
            ),
            (
                "KVM_RUN on another fd",
                &|| ioctl(doorbell, KVM_RUN),
                REFUSED,
            ),
            ("mmap PROT_EXEC", &mmap_exec, REFUSED),
            ("open", &open_file, REFUSED),
            ("kill", &|| kill(1), REFUSED),
        ],
    );
    // Without devices, no doorbell and no io_uring.
    let filter = muen::vcpu_filter(&muen::VcpuFds {
        vcpu,
        worker_doorbell: None,
        uring: None,
    })
    .unwrap();
    check(
        "muen vCPU, no devices",
        &filter,
        &[
            ("KVM_RUN", &|| ioctl(vcpu, KVM_RUN), REACHED_KVM),
            ("write to an eventfd", &|| write8(doorbell), REFUSED),
            (
                "io_uring_register",
                &|| uring_register(ring, IORING_UNREGISTER_FILES),
                REFUSED,
            ),
        ],
    );
}

/// The muen runner's scheduler thread only sleeps.
#[test]
fn muen_runner_scheduler() {
    let fds = Fds::new();
    let filter = muen::scheduler_filter().unwrap();
    check(
        "muen scheduler",
        &filter,
        &[
            ("nanosleep", &nanosleep, PASSED),
            ("clock_gettime", &clock, PASSED),
            (
                "write to an eventfd",
                &|| write8(fds.doorbell.as_raw_fd()),
                REFUSED,
            ),
            ("KVM_RUN", &|| ioctl(fds.vcpu_fd(), KVM_RUN), REFUSED),
            ("open", &open_file, REFUSED),
        ],
    );
}

/// `solo5-muen-peer`'s main thread only waits for the signal whose handler
/// writes its line, drops the io_uring's files and exits. (Its `pause` is
/// shown by the live peer below, whose main thread waits in it.)
#[test]
fn muen_peer_main() {
    let fds = Fds::new();
    let ring = fds.uring.as_raw_fd();
    let filter = muen::peer_main_filter(Some(ring)).unwrap();
    let empty_write = |fd: RawFd| {
        // SAFETY: writes nothing.
        unsafe { libc::write(fd, [0u8; 0].as_ptr().cast(), 0) as i64 }
    };
    check(
        "muen peer main",
        &filter,
        &[
            ("write to stderr", &|| empty_write(2), PASSED),
            (
                "drop the io_uring's files",
                &|| uring_register(ring, IORING_UNREGISTER_FILES),
                Ending::Exited(libc::ENXIO),
            ),
            ("write to stdout", &|| empty_write(1), REFUSED),
            (
                "write to the worker's doorbell",
                &|| write8(fds.doorbell.as_raw_fd()),
                REFUSED,
            ),
            ("io_uring_enter", &|| uring_enter(ring), REFUSED),
            (
                "io_uring_register, another opcode",
                &|| uring_register(ring, 0),
                REFUSED,
            ),
            (
                "pwrite on the block file",
                &|| pwrite_block(fds.block.as_raw_fd(), 0),
                REFUSED,
            ),
            ("nanosleep", &nanosleep, REFUSED),
            ("mmap", &mmap_exec, REFUSED),
            ("open", &open_file, REFUSED),
            ("kill", &|| kill(1), REFUSED),
        ],
    );
    let without_uring = muen::peer_main_filter(None).unwrap();
    check(
        "muen peer main, portable engine",
        &without_uring,
        &[(
            "io_uring_register",
            &|| uring_register(ring, IORING_UNREGISTER_FILES),
            REFUSED,
        )],
    );
}

fn hvt_ring_worker(uring: bool) {
    let fds = Fds::new();
    let filter = hvt::ring_worker_filter(&fds.ring_worker_role(uring)).unwrap();
    let (epoll, tap_set, tap, block) = (
        fds.worker_epoll.as_raw_fd(),
        fds.tap_set.as_raw_fd(),
        fds.tap.as_raw_fd(),
        fds.block.as_raw_fd(),
    );
    let ring = fds.uring.as_raw_fd();
    let expect_uring = if uring { PASSED } else { REFUSED };
    check(
        "ring worker",
        &filter,
        &[
            (
                "arming a tap in the tap set",
                &|| epoll_add(tap_set, tap),
                PASSED,
            ),
            (
                "epoll_ctl of a tap in its own epoll",
                &|| epoll_add(epoll, tap),
                REFUSED,
            ),
            ("block pwrite", &|| pwrite_block(block, 0), PASSED),
            ("fdatasync", &|| fdatasync(block), PASSED),
            (
                "whether a frame waits on a tap (poll, no wait)",
                &|| poll_one(tap, 0),
                PASSED,
            ),
            ("poll that waits", &|| poll_one(tap, 1), REFUSED),
            ("waking the vCPU", &|| write8(fds.wake.as_raw_fd()), PASSED),
            ("io_uring_enter", &|| uring_enter(ring), expect_uring),
            ("KVM_RUN", &|| ioctl(fds.vcpu_fd(), KVM_RUN), REFUSED),
            (
                "KVM_GET_REGS",
                &|| ioctl(fds.vcpu_fd(), KVM_GET_REGS),
                REFUSED,
            ),
            (
                "epoll_ctl on a foreign fd",
                &|| epoll_add(epoll, fds.foreign.as_raw_fd()),
                REFUSED,
            ),
            (
                "epoll_ctl on the vCPU's epoll",
                &|| epoll_add(fds.epoll.as_raw_fd(), tap),
                REFUSED,
            ),
            (
                "pwrite on another file",
                &|| pwrite_block(fds.other_file.as_raw_fd(), 0),
                REFUSED,
            ),
            (
                "timerfd_settime",
                &|| {
                    // SAFETY: a zero timer spec, read only.
                    i64::from(unsafe {
                        libc::timerfd_settime(
                            fds.timer.as_raw_fd(),
                            0,
                            &std::mem::zeroed(),
                            std::ptr::null_mut(),
                        )
                    })
                },
                REFUSED,
            ),
            ("open", &open_file, REFUSED),
        ],
    );
}

#[test]
fn hvt_ring_worker_io_uring() {
    hvt_ring_worker(true);
}

#[test]
fn hvt_ring_worker_portable() {
    hvt_ring_worker(false);
}

#[test]
fn hvt_net_ring_worker() {
    let fds = Fds::new();
    let filter = hvt::net_ring_filter(&NetRingFds {
        kick: fds.doorbell.as_raw_fd(),
        taps: vec![fds.tap.as_raw_fd()],
    })
    .unwrap();
    fds.doorbell.write(1).unwrap();
    let tap = fds.tap.as_raw_fd();
    check(
        "#637 net ring worker",
        &filter,
        &[
            ("its doorbell", &|| read8(fds.doorbell.as_raw_fd()), PASSED),
            ("a tap write", &|| write8(tap), PASSED),
            ("KVM_RUN", &|| ioctl(fds.vcpu_fd(), KVM_RUN), REFUSED),
            (
                "io_uring_enter",
                &|| uring_enter(fds.uring.as_raw_fd()),
                REFUSED,
            ),
            (
                "epoll_ctl",
                &|| epoll_add(fds.epoll.as_raw_fd(), tap),
                REFUSED,
            ),
            (
                "pwrite on a block file",
                &|| pwrite_block(fds.block.as_raw_fd(), 0),
                REFUSED,
            ),
        ],
    );
}

#[test]
fn spt_guest() {
    let fds = Fds::new();
    let block = fds.block.as_raw_fd();
    let (epoll, worker_epoll, tap_set) = (
        fds.epoll.as_raw_fd(),
        fds.worker_epoll.as_raw_fd(),
        fds.tap_set.as_raw_fd(),
    );
    let tap = fds.tap.as_raw_fd();
    let guest = |rings: bool| {
        spt::guest_filter(&GuestFds {
            epoll,
            timer: fds.timer.as_raw_fd(),
            taps: vec![tap],
            blocks: vec![BlockLimits {
                fd: block,
                block_size: BLOCK_SIZE,
                capacity: CAPACITY,
            }],
            doorbell: rings.then(|| fds.doorbell.as_raw_fd()),
            tap_control: rings.then_some(TapControl {
                worker_epoll,
                tap_set,
            }),
            ring_transfers: rings,
        })
        .unwrap()
    };
    let last = CAPACITY - BLOCK_SIZE;
    check(
        "spt guest, classic",
        &guest(false),
        &[
            ("the last block", &|| pwrite_block(block, last), PASSED),
            ("past the end", &|| pwrite_block(block, last + 1), REFUSED),
            (
                "two blocks (the rings' transfers)",
                &|| pread_blocks(block, 0, 2),
                REFUSED,
            ),
            (
                "epoll_ctl on a foreign fd",
                &|| epoll_add(epoll, fds.foreign.as_raw_fd()),
                REFUSED,
            ),
            (
                "switching a tap set",
                &|| epoll_ctl(worker_epoll, libc::EPOLL_CTL_MOD, tap_set),
                REFUSED,
            ),
            ("fd 2", &|| write8(2), REFUSED),
        ],
    );
    // The tap set is in the worker's set, as the tender puts it.
    assert_eq!(epoll_add(worker_epoll, tap_set), 0);
    // A frame for the guest's tap read.
    assert_eq!(write8(fds.tap_peer.as_raw_fd()), 8);
    check(
        "spt guest, rings",
        &guest(true),
        &[
            ("its doorbell", &|| write8(fds.doorbell.as_raw_fd()), PASSED),
            ("the last block", &|| pwrite_block(block, last), PASSED),
            (
                "one block past the end",
                &|| pwrite_block(block, last + 1),
                REFUSED,
            ),
            (
                "a ring request it serves: two blocks",
                &|| pread_blocks(block, 0, 2),
                PASSED,
            ),
            (
                "the whole device in one write",
                &|| pwrite_blocks(block, 0, CAPACITY / BLOCK_SIZE),
                PASSED,
            ),
            (
                "two blocks over the end",
                &|| pwrite_blocks(block, last, 2),
                REFUSED,
            ),
            (
                "three blocks (not a power of two)",
                &|| pread_blocks(block, 0, 3),
                REFUSED,
            ),
            ("a tap read", &|| read8(tap), PASSED),
            ("a tap write", &|| write8(tap), PASSED),
            (
                "the tap set into its wait set",
                &|| epoll_ctl(epoll, libc::EPOLL_CTL_ADD, tap_set),
                PASSED,
            ),
            (
                "switching the tap set in the worker's set",
                &|| epoll_ctl(worker_epoll, libc::EPOLL_CTL_MOD, tap_set),
                PASSED,
            ),
            (
                "removing the tap set from the worker's set",
                &|| epoll_ctl(worker_epoll, libc::EPOLL_CTL_DEL, tap_set),
                REFUSED,
            ),
            (
                "adding to the worker's set",
                &|| epoll_ctl(worker_epoll, libc::EPOLL_CTL_ADD, tap),
                REFUSED,
            ),
            (
                "switching a tap in the worker's set",
                &|| epoll_ctl(worker_epoll, libc::EPOLL_CTL_MOD, tap),
                REFUSED,
            ),
            (
                "arming a tap in the tap set",
                &|| epoll_ctl(tap_set, libc::EPOLL_CTL_ADD, tap),
                REFUSED,
            ),
            (
                "switching the tap set in its wait set",
                &|| epoll_ctl(epoll, libc::EPOLL_CTL_MOD, tap_set),
                REFUSED,
            ),
            (
                "reading the doorbell",
                &|| read8(fds.doorbell.as_raw_fd()),
                REFUSED,
            ),
            (
                "reading a foreign fd",
                &|| read8(fds.foreign.as_raw_fd()),
                REFUSED,
            ),
            (
                "two blocks on another file",
                &|| pwrite_blocks(fds.other_file.as_raw_fd(), 0, 2),
                REFUSED,
            ),
        ],
    );
}

#[test]
fn spt_worker() {
    let fds = Fds::new();
    let (epoll, tap_set, tap) = (
        fds.worker_epoll.as_raw_fd(),
        fds.tap_set.as_raw_fd(),
        fds.tap.as_raw_fd(),
    );
    let filter = spt::worker_filter(&WorkerFds {
        devices: vec![tap, fds.block.as_raw_fd()],
        eventfds: vec![fds.doorbell.as_raw_fd(), fds.wake.as_raw_fd()],
        epoll,
        tap_set,
        uring: Some(fds.uring.as_raw_fd()),
    })
    .unwrap();
    check(
        "spt worker",
        &filter,
        &[
            ("arming a tap", &|| epoll_add(tap_set, tap), PASSED),
            ("a tap into its own set", &|| epoll_add(epoll, tap), REFUSED),
            (
                "io_uring_enter",
                &|| uring_enter(fds.uring.as_raw_fd()),
                PASSED,
            ),
            (
                "epoll_ctl on a foreign fd",
                &|| epoll_add(epoll, fds.foreign.as_raw_fd()),
                REFUSED,
            ),
            ("KVM_RUN", &|| ioctl(fds.vcpu_fd(), KVM_RUN), REFUSED),
            ("open", &open_file, REFUSED),
        ],
    );
}

#[test]
fn spt_supervisor() {
    let fds = Fds::new();
    let block = fds.block.as_raw_fd();
    // SAFETY: getpid has no memory effects.
    let me = unsafe { libc::getpid() };
    // The child that installs the filter is a child of this test process,
    // so the test process plays the part of one of its children here.
    let filter = spt::supervisor_filter(&[me], &[block]).unwrap();
    check(
        "spt supervisor",
        &filter,
        &[
            ("signalling a child", &|| kill(me), PASSED),
            (
                "syncing a classic guest's block file",
                &|| fdatasync(block),
                PASSED,
            ),
            ("writing it", &|| pwrite_block(block, 0), REFUSED),
            (
                "fdatasync on another file",
                &|| fdatasync(fds.other_file.as_raw_fd()),
                REFUSED,
            ),
            ("its report line", &|| write8(2), PASSED),
            ("signalling another process", &|| kill(1), REFUSED),
            ("stdout", &|| write8(1), REFUSED),
            ("open", &open_file, REFUSED),
        ],
    );
}

/// The `Seccomp:` field of every thread of `pid`, by thread name.
fn thread_seccomp(pid: u32) -> Vec<(String, String)> {
    let mut threads = Vec::new();
    for task in fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let dir = task.unwrap().path();
        let name = fs::read_to_string(dir.join("comm")).unwrap_or_default();
        let status = fs::read_to_string(dir.join("status")).unwrap_or_default();
        let mode = status
            .lines()
            .find_map(|l| l.strip_prefix("Seccomp:"))
            .map(|v| v.trim().to_string())
            .unwrap_or_default();
        threads.push((name.trim().to_string(), mode));
    }
    threads.sort();
    threads
}

/// Checks that the live tender `child` has threads named `workers` beside
/// its vCPU thread (named `main`), and that every one of its threads runs
/// under a filter; ends the tender first, so that a failure leaves no
/// tender behind.
fn assert_every_thread_filtered(mut child: std::process::Child, main: &str, workers: &[&str]) {
    let threads = thread_seccomp(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let names: Vec<&str> = threads.iter().map(|(name, _)| name.as_str()).collect();
    for name in workers.iter().chain([&main]) {
        assert!(names.contains(name), "{name}: {threads:?}");
    }
    for (name, mode) in &threads {
        assert_eq!(mode, "2", "thread {name}: {threads:?}");
    }
}

/// A live hvt tender with our rings: the vCPU thread and the ring worker
/// both run under a filter (mode 2) while the guest writes blocks.
#[test]
fn every_thread_of_a_live_hvt_tender_with_rings_is_filtered() {
    let dir = TempDir::new();
    let image = dir.zero_file("storage.img", 1 << 20);
    let log = dir.join("stdout");
    let child = Command::new(env!("CARGO_BIN_EXE_solo5-hvt"))
        .args([
            "--mem=8",
            &format!("--block:storage={}", image.display()),
            "--",
            unikernel_for(Target::Hvt, "blkseq").to_str().unwrap(),
            "100000000",
        ])
        .stdout(fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    common::wait_for_text(&log, "acked 100\n");
    assert_every_thread_filtered(child, "solo5-hvt", &["rings"]);
}

/// A live hvt tender serving upstream's #637 net ring: the vCPU thread and
/// the ring's worker both run under a filter while the guest waits for
/// frames.
#[test]
fn every_thread_of_a_live_hvt_tender_with_the_637_ring_is_filtered() {
    let ns = NetNs::new();
    ns.add_tap("tap0", None, 1500);
    let dir = TempDir::new();
    let log = dir.join("stdout");
    let child = ns
        .command(env!("CARGO_BIN_EXE_solo5-hvt"))
        .args([
            "--mem=16",
            "--net:service0=tap0",
            "--",
            unikernel_for(Target::Hvt, "net637").to_str().unwrap(),
            "rx",
        ])
        .stdout(fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    common::wait_for_text(&log, "Ready");
    assert_every_thread_filtered(child, "solo5-hvt", &["net-ring"]);
}

/// A live muen runner serving a block device: its vCPU thread, the peers'
/// worker and the scheduler all run under a filter while the subject
/// writes blocks.
#[test]
fn every_thread_of_a_live_muen_runner_is_filtered() {
    let dir = TempDir::new();
    let image = dir.zero_file("storage.img", 1 << 20);
    let log = dir.join("stdout");
    let kernel = common::built_unikernel("test_blkseq.muen");
    let child = Command::new(env!("CARGO_BIN_EXE_solo5-muen-runner"))
        .args([
            "--mem=16",
            &format!("--block:storage={}", image.display()),
            "--",
            kernel.to_str().unwrap(),
            "100000000",
        ])
        .stdout(fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    common::wait_for_text(&log, "acked 10");
    // The thread name is the program's, cut to 15 bytes.
    assert_every_thread_filtered(child, "solo5-muen-runn", &["rings", "muen-scheduler"]);
}

/// A live `solo5-muen-peer` serving a subject's block channels from the
/// runner's channel files: its main thread and its worker both run under a
/// filter while the subject writes blocks.
#[test]
fn every_thread_of_a_live_muen_peer_is_filtered() {
    let dir = TempDir::new();
    let image = dir.zero_file("storage.img", 1 << 20);
    let channels = dir.join("channels");
    fs::create_dir(&channels).unwrap();
    let log = dir.join("stdout");
    let kernel = common::built_unikernel("test_blkseq.muen");
    let mut runner = Command::new(env!("CARGO_BIN_EXE_solo5-muen-runner"))
        .args([
            "--mem=16",
            &format!("--channel-files={}", channels.display()),
            "--",
            kernel.to_str().unwrap(),
            "100000000",
        ])
        .stdout(fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    common::poll_until(|| channels.join("storage.buffer").exists());
    let file = |name: &str| channels.join(name).display().to_string();
    let peer = Command::new(env!("CARGO_BIN_EXE_solo5-muen-peer"))
        .args([
            format!("--block:storage={}", image.display()),
            format!("--block-request:storage={}", file("storage.request")),
            format!("--block-response:storage={}", file("storage.response")),
            format!("--block-buffer:storage={}", file("storage.buffer")),
        ])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    common::wait_for_text(&log, "acked 10");
    let _ = runner.kill();
    let _ = runner.wait();
    assert_every_thread_filtered(peer, "solo5-muen-peer", &["rings"]);
}

/// The spt guest's filter with every transfer size of the ring requests
/// it serves (`HOST_FEATURE_BLOCK_DIRECT_RING`) still fits the kernel's
/// 4096 instructions with the most block devices that get them (512-byte
/// sectors: eight sizes each) and the other manifest entries taps; past
/// that the tender leaves the ring requests to the worker. With the sizes
/// for all 63 devices the filter would not build (8169 instructions).
#[test]
fn spt_guest_filter_fits_its_ring_transfers() {
    let most = ringtender_abi::rings::SPT_RING_TRANSFER_DEVICES_MAX;
    assert!(spt::ring_transfers_fit(most) && !spt::ring_transfers_fit(most + 1));
    let fds = Fds::new();
    let tap = fds.tap.as_raw_fd();
    let filter = spt::guest_filter(&GuestFds {
        epoll: fds.epoll.as_raw_fd(),
        timer: fds.timer.as_raw_fd(),
        taps: vec![tap; 63 - most],
        blocks: (0..most)
            .map(|_| BlockLimits {
                fd: fds.block.as_raw_fd(),
                block_size: 512,
                capacity: 1 << 40,
            })
            .collect(),
        doorbell: Some(fds.doorbell.as_raw_fd()),
        tap_control: Some(TapControl {
            worker_epoll: fds.worker_epoll.as_raw_fd(),
            tap_set: fds.tap_set.as_raw_fd(),
        }),
        ring_transfers: true,
    });
    assert!(filter.is_ok(), "{filter:?}");
}
