//! The GDB remote stub of `solo5-hvt-debug --gdb`, on the `gdbstub` crate's
//! state machine, driven from the vCPU thread.
//!
//! While the guest is stopped, the stub holds a snapshot of the vCPU's
//! registers ([`GuestTarget`]); GDB reads and changes the snapshot, and the
//! vCPU gets it back when GDB resumes the guest. Memory goes through the
//! guest's page tables ([`paging`]) and the tender's guest-memory accessors,
//! never through a reference into guest RAM. Software breakpoints are int3
//! bytes the stub plants; single steps set RFLAGS.TF (ring-3 guests: the
//! tender's IDT reports #BP and #DB like any trap) or ask KVM for them
//! (ring-0 guests: `KVM_SET_GUEST_DEBUG`).
//!
//! One reader thread owns the socket's receiving side and hands every byte
//! to the vCPU thread over a channel; while the guest runs, it also kicks
//! the vCPU thread with [`kick_signal`], whose handler sets the vCPU's
//! `immediate_exit`, so `KVM_RUN` returns and the vCPU thread sees GDB's
//! Ctrl-C.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::Arc;

use gdbstub::common::Signal;
use gdbstub::conn::Connection;
use gdbstub::stub::state_machine::GdbStubStateMachine;
use gdbstub::stub::{DisconnectReason, GdbStub, GdbStubError, SingleThreadStopReason};
use gdbstub::target::ext::base::singlethread::{
    SingleThreadBase, SingleThreadResume, SingleThreadResumeOps, SingleThreadSingleStep,
    SingleThreadSingleStepOps,
};
use gdbstub::target::ext::base::BaseOps;
use gdbstub::target::ext::breakpoints::{
    Breakpoints, BreakpointsOps, SwBreakpoint, SwBreakpointOps,
};
use gdbstub::target::{Target, TargetError, TargetResult};
use gdbstub_arch::x86::reg::X86_64CoreRegs;
use gdbstub_arch::x86::X86_64_SSE;
use kvm_bindings::{
    kvm_fpu, kvm_guest_debug, kvm_regs, kvm_sregs, KVM_GUESTDBG_ENABLE, KVM_GUESTDBG_SINGLESTEP,
    KVM_GUESTDBG_USE_SW_BP,
};
use kvm_ioctls::VcpuFd;

use super::Error;
use crate::error::{syscall, TenderError};
use crate::guest_memory::GuestRam;
use crate::hvt::cpu::GuestMode;
use crate::hvt::debug::paging::{self, page_pieces};
use crate::hvt::seccomp::{self as hvt_seccomp, GdbReaderFds};
use crate::worker_thread;

/// A stop as GDB hears of it.
pub type StopReason = SingleThreadStopReason<u64>;

const INT3: u8 = 0xcc;
/// RFLAGS.TF: trap after the next instruction.
pub const RFLAGS_TF: u64 = 1 << 8;

/// The signal that kicks the vCPU thread out of `KVM_RUN`.
pub fn kick_signal() -> i32 {
    libc::SIGRTMIN()
}

/// The vCPU's `kvm_run.immediate_exit`, which the kick's handler sets.
static IMMEDIATE_EXIT: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());

extern "C" fn on_kick(_signal: libc::c_int) {
    let flag = IMMEDIATE_EXIT.load(Ordering::SeqCst);
    if !flag.is_null() {
        // SAFETY: the pointer is the vCPU's kvm_run mapping, which lives as
        // long as the process (the vCPU is never dropped while the guest
        // can run); a volatile byte store is what KVM documents for it.
        unsafe { flag.write_volatile(1) };
    }
}

/// Installs the kick's handler on this (the vCPU) thread's process and
/// points it at `vcpu`'s `immediate_exit`.
fn install_kick(vcpu: &mut VcpuFd) -> Result<(), TenderError> {
    IMMEDIATE_EXIT.store(
        std::ptr::addr_of_mut!(vcpu.get_kvm_run().immediate_exit),
        Ordering::SeqCst,
    );
    // SAFETY: a zeroed sigaction with a plain handler, no SA_RESTART (the
    // point is to interrupt KVM_RUN) and an empty mask.
    let rc = unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_kick as extern "C" fn(libc::c_int) as usize;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(kick_signal(), &action, std::ptr::null_mut())
    };
    if rc != 0 {
        return Err(syscall("sigaction")(io::Error::last_os_error()));
    }
    Ok(())
}

/// The guest as GDB sees it while it is stopped.
pub struct GuestTarget {
    ram: Arc<GuestRam>,
    /// General registers, given back to the vCPU on resume.
    pub regs: kvm_regs,
    /// Special registers (CR3 for translation; segments).
    pub sregs: kvm_sregs,
    /// x87 and SSE state (shown to GDB, not written back).
    fpu: kvm_fpu,
    /// Planted breakpoints: virtual address -> (physical address, the byte
    /// the int3 replaced).
    breakpoints: BTreeMap<u64, (u64, u8)>,
    /// The last resume asked for a single step.
    pub stepping: bool,
    /// `regs` differ from the vCPU's (GDB wrote them, or a ring-3 trap's
    /// frame was put back) and go back on resume.
    pub regs_changed: bool,
}

impl GuestTarget {
    /// Whether a breakpoint the stub planted sits at `va`.
    pub fn has_breakpoint(&self, va: u64) -> bool {
        self.breakpoints.contains_key(&va)
    }

    fn translate(&self, va: u64) -> Option<u64> {
        paging::translate(&self.ram, self.sregs.cr3, va)
    }
}

impl Target for GuestTarget {
    type Arch = X86_64_SSE;
    type Error = TenderError;

    fn base_ops(&mut self) -> BaseOps<'_, Self::Arch, Self::Error> {
        BaseOps::SingleThread(self)
    }

    fn support_breakpoints(&mut self) -> Option<BreakpointsOps<'_, Self>> {
        Some(self)
    }
}

impl SingleThreadBase for GuestTarget {
    fn read_registers(&mut self, out: &mut X86_64CoreRegs) -> TargetResult<(), Self> {
        let r = &self.regs;
        out.regs = [
            r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.rsp, r.r8, r.r9, r.r10, r.r11,
            r.r12, r.r13, r.r14, r.r15,
        ];
        out.rip = r.rip;
        out.eflags = r.rflags as u32;
        let f = &self.fpu;
        for (st, fpr) in out.st.iter_mut().zip(&f.fpr) {
            st.copy_from_slice(&fpr[..10]);
        }
        for (xmm, bytes) in out.xmm.iter_mut().zip(&f.xmm) {
            *xmm = u128::from_le_bytes(*bytes);
        }
        out.mxcsr = f.mxcsr;
        out.fpu.fctrl = u32::from(f.fcw);
        out.fpu.fstat = u32::from(f.fsw);
        out.fpu.ftag = full_tag_word(f.ftwx);
        out.fpu.fop = u32::from(f.last_opcode);
        out.fpu.fioff = f.last_ip as u32;
        out.fpu.fooff = f.last_dp as u32;
        let s = &self.sregs;
        let seg = &mut out.segments;
        (seg.cs, seg.ss, seg.ds, seg.es, seg.fs, seg.gs) = (
            u32::from(s.cs.selector),
            u32::from(s.ss.selector),
            u32::from(s.ds.selector),
            u32::from(s.es.selector),
            u32::from(s.fs.selector),
            u32::from(s.gs.selector),
        );
        Ok(())
    }

    fn write_registers(&mut self, new: &X86_64CoreRegs) -> TargetResult<(), Self> {
        let r = &mut self.regs;
        [
            r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.rsp, r.r8, r.r9, r.r10, r.r11,
            r.r12, r.r13, r.r14, r.r15,
        ] = new.regs;
        r.rip = new.rip;
        r.rflags = (r.rflags & !0xffff_ffff) | u64::from(new.eflags);
        self.regs_changed = true;
        // Segment selectors stay: loading one takes a descriptor, which a
        // register write cannot give. The x87 and SSE registers stay too.
        Ok(())
    }

    fn read_addrs(&mut self, start: u64, data: &mut [u8]) -> TargetResult<usize, Self> {
        let mut done = 0;
        for (va, offset, len) in page_pieces(start, data.len()) {
            let piece = &mut data[offset..offset + len];
            match self.translate(va) {
                Some(gpa) if self.ram.copy_out(gpa, piece).is_ok() => done += len,
                _ => break,
            }
        }
        if done == 0 && !data.is_empty() {
            return Err(TargetError::NonFatal);
        }
        // GDB sees the bytes its breakpoints replaced.
        for (&va, &(_, byte)) in self
            .breakpoints
            .range(start..start.saturating_add(done as u64))
        {
            data[(va - start) as usize] = byte;
        }
        Ok(done)
    }

    fn write_addrs(&mut self, start: u64, data: &[u8]) -> TargetResult<(), Self> {
        for (va, offset, len) in page_pieces(start, data.len()) {
            let gpa = self.translate(va).ok_or(TargetError::NonFatal)?;
            let mut piece = data[offset..offset + len].to_vec();
            // A write over a planted breakpoint changes the byte it
            // restores; the int3 stays.
            for (&bp, saved) in self.breakpoints.range_mut(va..va + len as u64) {
                let i = (bp - va) as usize;
                saved.1 = piece[i];
                piece[i] = INT3;
            }
            self.ram
                .setup_write(gpa, &piece)
                .map_err(|_| TargetError::NonFatal)?;
        }
        Ok(())
    }

    fn support_resume(&mut self) -> Option<SingleThreadResumeOps<'_, Self>> {
        Some(self)
    }
}

impl SingleThreadResume for GuestTarget {
    fn resume(&mut self, _signal: Option<Signal>) -> Result<(), Self::Error> {
        self.stepping = false;
        Ok(())
    }

    fn support_single_step(&mut self) -> Option<SingleThreadSingleStepOps<'_, Self>> {
        Some(self)
    }
}

impl SingleThreadSingleStep for GuestTarget {
    fn step(&mut self, _signal: Option<Signal>) -> Result<(), Self::Error> {
        self.stepping = true;
        Ok(())
    }
}

impl Breakpoints for GuestTarget {
    fn support_sw_breakpoint(&mut self) -> Option<SwBreakpointOps<'_, Self>> {
        Some(self)
    }
}

impl SwBreakpoint for GuestTarget {
    fn add_sw_breakpoint(&mut self, va: u64, _kind: usize) -> TargetResult<bool, Self> {
        if self.breakpoints.contains_key(&va) {
            return Ok(true);
        }
        let Some(gpa) = self.translate(va) else {
            return Ok(false);
        };
        let mut byte = [0u8];
        if self.ram.copy_out(gpa, &mut byte).is_err() || self.ram.setup_write(gpa, &[INT3]).is_err()
        {
            return Ok(false);
        }
        self.breakpoints.insert(va, (gpa, byte[0]));
        Ok(true)
    }

    fn remove_sw_breakpoint(&mut self, va: u64, _kind: usize) -> TargetResult<bool, Self> {
        let Some((gpa, byte)) = self.breakpoints.remove(&va) else {
            return Ok(false);
        };
        Ok(self.ram.setup_write(gpa, &[byte]).is_ok())
    }
}

/// The x87 tag word GDB expects (two bits per register, 3 = empty) from
/// FXSAVE's abridged one (one bit per register, 1 = in use); a register in
/// use reads as "valid".
fn full_tag_word(abridged: u8) -> u32 {
    (0..8)
        .filter(|i| abridged & (1 << i) == 0)
        .fold(0, |tags, i| tags | (3 << (2 * i)))
}

/// The socket's sending side, buffered per packet.
struct Wire {
    stream: TcpStream,
    out: Vec<u8>,
}

impl Connection for Wire {
    type Error = io::Error;

    fn write(&mut self, byte: u8) -> Result<(), Self::Error> {
        self.out.push(byte);
        Ok(())
    }

    fn write_all(&mut self, buf: &[u8]) -> Result<(), Self::Error> {
        self.out.extend_from_slice(buf);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        let result = Write::write_all(&mut self.stream, &self.out);
        self.out.clear();
        result
    }
}

type StateMachine = GdbStubStateMachine<'static, GuestTarget, Wire>;

fn protocol_error(e: GdbStubError<TenderError, io::Error>) -> TenderError {
    Error::Protocol(Box::new(e)).into()
}

fn warn(msg: &str) {
    eprintln!("{}: {msg}", crate::cli::program());
}

/// A connected debugger.
pub struct GdbSession {
    /// The protocol, running (the guest runs) between stops; None once GDB
    /// detached or the guest ended.
    state: Option<StateMachine>,
    /// The stopped guest's state.
    pub target: GuestTarget,
    /// The snapshot's special registers differ from the vCPU's (a ring-3
    /// trap's stop) and go back on resume.
    sregs_changed: bool,
    incoming: Receiver<u8>,
    running: Arc<AtomicBool>,
    mode: GuestMode,
    socket: RawFd,
}

impl GdbSession {
    /// Listens on 127.0.0.1:`port`, waits for GDB, and serves it until it
    /// resumes the guest for the first time (the guest's first instruction
    /// has not run yet).
    pub fn start(
        port: u16,
        vcpu: &mut VcpuFd,
        ram: Arc<GuestRam>,
        mode: GuestMode,
    ) -> Result<Self, TenderError> {
        let setup = |step, source| Error::Socket { step, source };
        let listener = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
            .map_err(|e| setup("bind failed", e))?;
        let port = listener
            .local_addr()
            .map_err(|e| setup("bind failed", e))?
            .port();
        warn("Waiting for a debugger. Connect to it like this:");
        warn(&format!(
            "\tgdb --ex=\"target remote localhost:{port}\" KERNEL"
        ));
        let (stream, peer) = listener.accept().map_err(|e| setup("accept failed", e))?;
        drop(listener);
        stream
            .set_nodelay(true)
            .map_err(|e| setup("setsockopt(TCP_NODELAY) failed", e))?;
        warn(&format!("Connection from debugger at {}", peer.ip()));

        install_kick(vcpu)?;
        let running = Arc::new(AtomicBool::new(false));
        let incoming = start_reader(&stream, running.clone())?;
        let target = GuestTarget {
            ram,
            regs: kvm_regs::default(),
            sregs: kvm_sregs::default(),
            fpu: kvm_fpu::default(),
            breakpoints: BTreeMap::new(),
            stepping: false,
            regs_changed: false,
        };
        let mut session = Self {
            state: None,
            target,
            sregs_changed: false,
            incoming,
            running,
            mode,
            socket: stream.as_raw_fd(),
        };
        session.load(vcpu)?;
        let wire = Wire {
            stream,
            out: Vec::new(),
        };
        let idle = GdbStub::new(wire)
            .run_state_machine(&mut session.target)
            .map_err(protocol_error)?;
        session.serve(idle, vcpu)?;
        Ok(session)
    }

    /// GDB's socket (the vCPU thread sends on it).
    pub fn socket(&self) -> RawFd {
        self.socket
    }

    /// Whether GDB still follows the guest.
    pub fn attached(&self) -> bool {
        self.state.is_some()
    }

    /// Loads the vCPU's registers into the snapshot.
    pub fn load(&mut self, vcpu: &VcpuFd) -> Result<(), TenderError> {
        self.target.regs = vcpu.get_regs().map_err(|source| TenderError::Kvm {
            what: "KVM_GET_REGS",
            source,
        })?;
        self.target.sregs = vcpu.get_sregs().map_err(|source| TenderError::Kvm {
            what: "KVM_GET_SREGS",
            source,
        })?;
        self.target.fpu = vcpu.get_fpu().map_err(|source| TenderError::Kvm {
            what: "KVM_GET_FPU",
            source,
        })?;
        Ok(())
    }

    /// Reports a stop (the snapshot already holds the guest's state at it)
    /// and serves GDB until it resumes the guest. `sregs_changed`: the
    /// snapshot's special registers differ from the vCPU's and go back too.
    /// Without GDB (it detached) the guest just goes on.
    pub fn stop(
        &mut self,
        vcpu: &mut VcpuFd,
        reason: StopReason,
        sregs_changed: bool,
    ) -> Result<(), TenderError> {
        let Some(GdbStubStateMachine::Running(running)) = self.state.take() else {
            return Ok(());
        };
        self.running.store(false, Ordering::SeqCst);
        self.sregs_changed = sregs_changed;
        let next = running
            .report_stop(&mut self.target, reason)
            .map_err(protocol_error)?;
        self.serve(next, vcpu)
    }

    /// After `KVM_RUN` was interrupted: takes what GDB sent meanwhile, and
    /// stops the guest if it was a Ctrl-C.
    pub fn poll_interrupt(&mut self, vcpu: &mut VcpuFd) -> Result<(), TenderError> {
        vcpu.set_kvm_immediate_exit(0);
        loop {
            let byte = match self.incoming.try_recv() {
                Ok(byte) => byte,
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return Ok(()),
            };
            let Some(GdbStubStateMachine::Running(running)) = self.state.take() else {
                return Ok(());
            };
            match running
                .incoming_data(&mut self.target, byte)
                .map_err(protocol_error)?
            {
                GdbStubStateMachine::CtrlCInterrupt(interrupt) => {
                    self.running.store(false, Ordering::SeqCst);
                    self.load(vcpu)?;
                    let next = interrupt
                        .interrupt_handled(
                            &mut self.target,
                            Some(StopReason::Signal(Signal::SIGINT)),
                        )
                        .map_err(protocol_error)?;
                    return self.serve(next, vcpu);
                }
                other => self.state = Some(other),
            }
        }
    }

    /// Tells GDB the guest ended: exit status `status`, or killed by
    /// `signal` (a tender error).
    pub fn ended(&mut self, reason: StopReason) {
        self.running.store(false, Ordering::SeqCst);
        if let Some(GdbStubStateMachine::Running(running)) = self.state.take() {
            // The guest is gone whatever GDB does with this.
            let _ = running.report_stop(&mut self.target, reason);
        }
    }

    /// Serves GDB from `state` until it resumes the guest (then gives the
    /// snapshot back to the vCPU) or leaves.
    fn serve(&mut self, mut state: StateMachine, vcpu: &mut VcpuFd) -> Result<(), TenderError> {
        loop {
            state = match state {
                GdbStubStateMachine::Idle(idle) => {
                    let Ok(byte) = self.incoming.recv() else {
                        return Err(Error::ConnectionLost.into());
                    };
                    idle.incoming_data(&mut self.target, byte)
                        .map_err(protocol_error)?
                }
                GdbStubStateMachine::CtrlCInterrupt(interrupt) => interrupt
                    .interrupt_handled(&mut self.target, None::<StopReason>)
                    .map_err(protocol_error)?,
                GdbStubStateMachine::Running(running) => {
                    self.state = Some(GdbStubStateMachine::Running(running));
                    self.resume(vcpu)?;
                    self.running.store(true, Ordering::SeqCst);
                    return Ok(());
                }
                GdbStubStateMachine::Disconnected(gone) => {
                    return match gone.get_reason() {
                        DisconnectReason::Kill => Err(Error::Quit.into()),
                        _ => {
                            warn("Debugger detached");
                            self.target.stepping = false;
                            self.resume(vcpu)
                        }
                    };
                }
            };
        }
    }

    /// Gives the snapshot back to the vCPU, with single-stepping as GDB
    /// asked (and KVM's debugging off once GDB is gone).
    fn resume(&mut self, vcpu: &mut VcpuFd) -> Result<(), TenderError> {
        let step = self.target.stepping;
        if std::mem::take(&mut self.sregs_changed) {
            vcpu.set_sregs(&self.target.sregs)
                .map_err(|source| TenderError::Kvm {
                    what: "KVM_SET_SREGS",
                    source,
                })?;
        }
        match self.mode {
            GuestMode::Ring3 => {
                let rflags = self.target.regs.rflags & !RFLAGS_TF;
                let rflags = if step { rflags | RFLAGS_TF } else { rflags };
                if rflags != self.target.regs.rflags {
                    self.target.regs.rflags = rflags;
                    self.target.regs_changed = true;
                }
            }
            GuestMode::Ring0 => {
                let mut control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP;
                if self.state.is_none() {
                    control = 0;
                } else if step {
                    control |= KVM_GUESTDBG_SINGLESTEP;
                }
                let debug = kvm_guest_debug {
                    control,
                    ..Default::default()
                };
                vcpu.set_guest_debug(&debug)
                    .map_err(|source| TenderError::Kvm {
                        what: "KVM_SET_GUEST_DEBUG",
                        source,
                    })?;
            }
        }
        if !std::mem::take(&mut self.target.regs_changed) {
            return Ok(());
        }
        vcpu.set_regs(&self.target.regs)
            .map_err(|source| TenderError::Kvm {
                what: "KVM_SET_REGS",
                source,
            })
    }
}

impl Drop for GdbSession {
    /// A kick arriving after this (GDB's last bytes) finds no vCPU to stop:
    /// the vCPU, and its `kvm_run`, go after the session.
    fn drop(&mut self) {
        IMMEDIATE_EXIT.store(std::ptr::null_mut(), Ordering::SeqCst);
    }
}

/// Starts the thread that reads GDB's bytes from `stream` into the
/// returned channel, kicking the vCPU thread (this one) when bytes arrive
/// while the guest runs.
fn start_reader(stream: &TcpStream, running: Arc<AtomicBool>) -> Result<Receiver<u8>, TenderError> {
    let mut reader = stream.try_clone().map_err(Error::CloneSocket)?;
    // SAFETY: getpid and gettid only return this process's and thread's ids.
    let (pid, vcpu_tid) = unsafe { (libc::getpid(), libc::gettid()) };
    let filter = hvt_seccomp::gdb_reader_filter(&GdbReaderFds {
        socket: reader.as_raw_fd(),
        pid,
        vcpu_tid,
        kick_signal: kick_signal(),
    })?;
    let (tx, rx) = mpsc::channel();
    worker_thread::spawn("gdb-reader", filter, move || {
        let mut buf = [0u8; 4096];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Ok(()),
            };
            if buf[..n].iter().any(|&b| tx.send(b).is_err()) {
                return Ok(());
            }
            if running.load(Ordering::SeqCst) {
                // SAFETY: tgkill sends the kick, whose handler is installed,
                // to the vCPU thread of this process.
                unsafe {
                    libc::syscall(libc::SYS_tgkill, pid, vcpu_tid, kick_signal());
                }
            }
        }
    })?;
    Ok(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_words_mark_unused_registers_empty() {
        assert_eq!(full_tag_word(0xff), 0);
        assert_eq!(full_tag_word(0), 0xffff);
        assert_eq!(full_tag_word(0b1111_1110), 0b11);
    }
}
