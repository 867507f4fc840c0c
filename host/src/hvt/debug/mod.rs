//! `solo5-hvt-debug`: `solo5-hvt` with upstream's two debug modules, a GDB
//! remote stub (`--gdb`, `--gdb-port=N`, [`gdb`]) and core files on abort
//! or fatal trap (`--dumpcore=DIR`, `crate::hvt::dumpcore`).
//!
//! The modules are compiled into the one crate and switched on at run time
//! by the debug binary only: `solo5-hvt`'s command line rejects their
//! options, so it never listens on a socket nor widens its vCPU thread's
//! seccomp filter ([`Debugger::vcpu_filter`] is the debug one).

mod error;
pub mod gdb;
pub mod paging;

pub use error::Error;

use std::sync::Arc;

use gdbstub::common::Signal;
use kvm_bindings::{kvm_regs, kvm_sregs, KVM_INTERNAL_ERROR_EMULATION};
use kvm_ioctls::VcpuFd;
use ringtender_abi::hvt::HcHalt;
use ringtender_abi::solo5::SOLO5_EXIT_ABORT;
use seccompiler::BpfProgram;

use crate::cli::{self, Tender};
use crate::error::TenderError;
use crate::guest_memory::GuestRam;
use crate::hvt::cpu::{self, GuestMode};
use crate::hvt::dumpcore::CoreDumper;
use crate::hvt::seccomp::{self, DebugFds, VcpuFds};
use crate::hvt::tender;
use crate::ring3::return_to_user;
use crate::ring3::trap::{self, Trap, VECTOR_GP, VECTOR_PF, VECTOR_UD};
use gdb::{GdbSession, StopReason, RFLAGS_TF};

/// Upstream's default port.
const DEFAULT_GDB_PORT: u16 = 1234;
const VECTOR_DB: u8 = 1;
const VECTOR_BP: u8 = 3;
const VECTOR_DE: u8 = 0;

/// Runs `solo5-hvt-debug` with `args` (argv) and returns the exit status.
pub fn main(args: Vec<String>) -> i32 {
    cli::main(Tender::HvtDebug, &args, |mut run_args| {
        let options = DebugOptions::take_from(&mut run_args.options)?;
        tender::run(run_args, Some(options))
    })
}

/// The debug modules' options.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DebugOptions {
    /// `--gdb`.
    pub gdb: bool,
    /// `--gdb-port=N`.
    pub gdb_port: u16,
    /// `--dumpcore=DIR`.
    pub dumpcore: Option<String>,
}

impl DebugOptions {
    /// Takes the debug modules' options out of `options`, leaving the
    /// others to `solo5-hvt`'s parser.
    pub fn take_from(options: &mut Vec<String>) -> Result<Self, TenderError> {
        let mut found = Self {
            gdb_port: DEFAULT_GDB_PORT,
            ..Self::default()
        };
        let mut error = None;
        options.retain(|arg| {
            if arg == "--gdb" {
                found.gdb = true;
            } else if let Some(port) = arg.strip_prefix("--gdb-port=") {
                match port.parse::<u16>() {
                    Ok(port) => found.gdb_port = port,
                    Err(_) => {
                        error.get_or_insert_with(|| TenderError::from(Error::MalformedPort));
                    }
                }
            } else if let Some(dir) = arg.strip_prefix("--dumpcore=") {
                found.dumpcore = Some(dir.to_string());
            } else {
                return true;
            }
            false
        });
        match error {
            Some(e) => Err(e),
            None => Ok(found),
        }
    }
}

/// What becomes of a ring-3 guest's trap.
#[derive(Debug, PartialEq, Eq)]
pub enum TrapAction {
    /// It was GDB's (a breakpoint or a step): the guest goes on.
    Resume,
    /// The guest ends with a fatal trap.
    Fatal,
}

/// The debug modules of one run.
pub struct Debugger {
    gdb: Option<GdbSession>,
    core: Option<CoreDumper>,
}

/// The signal a trap of `vector` is reported with (to GDB, in a core file).
fn signal_of(vector: u8) -> Signal {
    match vector {
        VECTOR_DE => Signal::SIGFPE,
        VECTOR_DB | VECTOR_BP => Signal::SIGTRAP,
        VECTOR_UD => Signal::SIGILL,
        VECTOR_GP | VECTOR_PF => Signal::SIGSEGV,
        _ => Signal::SIGBUS,
    }
}

fn kvm_error(what: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> TenderError {
    move |source| TenderError::Kvm { what, source }
}

/// The vCPU's registers with a ring-3 trap's frame put back: the guest's
/// state at the instruction that trapped, at CPL 3.
fn registers_at_trap(vcpu: &VcpuFd, trap: &Trap) -> Result<(kvm_regs, kvm_sregs), TenderError> {
    let mut regs = vcpu.get_regs().map_err(kvm_error("KVM_GET_REGS"))?;
    let mut sregs = vcpu.get_sregs().map_err(kvm_error("KVM_GET_SREGS"))?;
    regs.rax = trap.rax;
    regs.rdx = trap.rdx;
    regs.rip = trap.rip;
    regs.rsp = trap.rsp;
    regs.rflags = trap.rflags & !RFLAGS_TF;
    return_to_user(&mut sregs);
    Ok((regs, sregs))
}

impl Debugger {
    /// Opens the core directory, and with `--gdb` waits for GDB and lets it
    /// look at the guest before its first instruction.
    pub fn start(
        options: DebugOptions,
        vcpu: &mut VcpuFd,
        ram: &Arc<GuestRam>,
        mode: GuestMode,
    ) -> Result<Self, TenderError> {
        let core = options
            .dumpcore
            .as_deref()
            .map(CoreDumper::open)
            .transpose()?;
        let gdb = match options.gdb {
            true => {
                // Breakpoints go into text a ring-0 guest has read-only.
                ram.unprotect_all()?;
                Some(GdbSession::start(
                    options.gdb_port,
                    vcpu,
                    ram.clone(),
                    mode,
                )?)
            }
            false => None,
        };
        Ok(Self { gdb, core })
    }

    /// The vCPU thread's filter with what the modules need.
    pub fn vcpu_filter(&self, fds: &VcpuFds) -> Result<BpfProgram, TenderError> {
        let debug = DebugFds {
            gdb_socket: self.gdb.as_ref().map(GdbSession::socket),
            core: self.core.as_ref().map(CoreDumper::fds),
        };
        Ok(seccomp::debug_vcpu_filter(fds, &debug)?)
    }

    fn attached_gdb(&mut self) -> Option<&mut GdbSession> {
        self.gdb.as_mut().filter(|gdb| gdb.attached())
    }

    /// `KVM_RUN` was interrupted: GDB may have sent a Ctrl-C.
    pub fn on_interrupt(&mut self, vcpu: &mut VcpuFd) -> Result<(), TenderError> {
        match self.gdb.as_mut() {
            Some(gdb) => gdb.poll_interrupt(vcpu),
            None => Ok(()),
        }
    }

    /// `KVM_EXIT_DEBUG` (ring-0 guests): a breakpoint or a step.
    pub fn on_debug_exit(&mut self, vcpu: &mut VcpuFd, exception: u32) -> Result<(), TenderError> {
        let Some(gdb) = self.attached_gdb() else {
            return Ok(());
        };
        gdb.load(vcpu)?;
        let rip = gdb.target.regs.rip;
        let reason = match exception {
            3 if gdb.target.has_breakpoint(rip) => StopReason::SwBreak(()),
            3 if gdb.target.has_breakpoint(rip.wrapping_sub(1)) => {
                gdb.target.regs.rip = rip - 1;
                gdb.target.regs_changed = true;
                StopReason::SwBreak(())
            }
            1 if gdb.target.stepping => StopReason::DoneStep,
            _ => StopReason::Signal(Signal::SIGTRAP),
        };
        gdb.stop(vcpu, reason, false)
    }

    /// `KVM_EXIT_INTERNAL_ERROR`: where ring-0 code runs in KVM's
    /// instruction emulator (PVM hosts), the emulator cannot run an int3
    /// in long mode and fails on it; at a breakpoint GDB planted, that is
    /// the breakpoint's hit. Returns whether it was (the guest goes on).
    pub fn on_internal_error(&mut self, vcpu: &mut VcpuFd) -> Result<bool, TenderError> {
        let suberror = {
            let run = vcpu.get_kvm_run();
            // SAFETY: exit_reason is KVM_EXIT_INTERNAL_ERROR, so the kernel
            // filled `internal`.
            unsafe { run.__bindgen_anon_1.internal.suberror }
        };
        let Some(gdb) = self.attached_gdb() else {
            return Ok(false);
        };
        if suberror != KVM_INTERNAL_ERROR_EMULATION {
            return Ok(false);
        }
        gdb.load(vcpu)?;
        if !gdb.target.has_breakpoint(gdb.target.regs.rip) {
            return Ok(false);
        }
        gdb.stop(vcpu, StopReason::SwBreak(()), false)?;
        Ok(true)
    }

    /// A ring-3 guest's trap of `vector`: GDB's breakpoints and steps stop
    /// the guest for GDB and resume it; any other trap is fatal, after GDB
    /// (if attached) has seen the guest at the faulting instruction.
    pub fn on_trap(
        &mut self,
        vcpu: &mut VcpuFd,
        ram: &GuestRam,
        vector: u8,
    ) -> Result<TrapAction, TenderError> {
        let Some(gdb) = self.attached_gdb() else {
            return Ok(TrapAction::Fatal);
        };
        let trap = trap::read(&cpu::RING3_AREA, ram, vector)?;
        if !trap.from_user() {
            return Ok(TrapAction::Fatal);
        }
        let (regs, sregs) = registers_at_trap(vcpu, &trap)?;
        gdb.target.regs = regs;
        gdb.target.sregs = sregs;
        gdb.target.regs_changed = true;
        let (reason, action) = match vector {
            VECTOR_BP if gdb.target.has_breakpoint(trap.rip.wrapping_sub(1)) => {
                gdb.target.regs.rip = trap.rip - 1;
                (StopReason::SwBreak(()), TrapAction::Resume)
            }
            VECTOR_DB if gdb.target.stepping => (StopReason::DoneStep, TrapAction::Resume),
            VECTOR_BP | VECTOR_DB => (StopReason::Signal(Signal::SIGTRAP), TrapAction::Resume),
            other => (StopReason::Signal(signal_of(other)), TrapAction::Fatal),
        };
        gdb.stop(vcpu, reason, true)?;
        Ok(action)
    }

    /// The guest halted with `status` through the HALT hypercall whose
    /// argument is at `halt_gpa`: on abort, the core file, with the trap
    /// frame a ring-0 guest's trap handler passed as the cookie.
    pub fn on_halt(&mut self, vcpu: &VcpuFd, ram: &GuestRam, status: i32, halt_gpa: u64) {
        if status != SOLO5_EXIT_ABORT {
            return;
        }
        let Some(core) = self.core.take() else {
            return;
        };
        let (Ok(mut regs), Ok(mut sregs)) = (vcpu.get_regs(), vcpu.get_sregs()) else {
            eprintln!(
                "{}: dumpcore: Could not retrieve guest state",
                cli::program()
            );
            return;
        };
        let frame = ram
            .read_pod::<HcHalt>(halt_gpa)
            .ok()
            .filter(|halt| halt.cookie != 0)
            .and_then(|halt| ram.read_pod::<[u64; 7]>(halt.cookie).ok());
        let signal = match frame {
            // struct x86_trap_regs: cr2, ec, rip, cs, rflags, rsp, ss.
            Some([_, _, rip, cs, rflags, rsp, ss]) => {
                (regs.rip, regs.rflags, regs.rsp) = (rip, rflags, rsp);
                (sregs.cs.selector, sregs.ss.selector) = (cs as u16, ss as u16);
                Signal::SIGSEGV
            }
            None => Signal::SIGABRT,
        };
        core.dump(ram, &regs, &sregs, signal);
    }

    /// A ring-3 guest's fatal trap of `vector` (already reported): the core
    /// file, with the registers at the faulting instruction.
    pub fn on_fatal_trap(&mut self, vcpu: &VcpuFd, ram: &GuestRam, vector: u8) {
        let Some(core) = self.core.take() else {
            return;
        };
        match trap::read(&cpu::RING3_AREA, ram, vector)
            .and_then(|trap| registers_at_trap(vcpu, &trap))
        {
            Ok((regs, sregs)) => core.dump(ram, &regs, &sregs, signal_of(vector)),
            Err(_) => eprintln!(
                "{}: dumpcore: Could not retrieve guest state",
                cli::program()
            ),
        }
    }

    /// The guest ended: GDB hears its exit status, or that a tender error
    /// killed it.
    pub fn finish(&mut self, status: &Result<i32, TenderError>) {
        if let Some(gdb) = self.gdb.as_mut() {
            gdb.ended(match status {
                Ok(code) => StopReason::Exited(*code as u8),
                Err(_) => StopReason::Terminated(Signal::SIGKILL),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn debug_options_are_taken_and_the_rest_left() {
        let mut options = args(&[
            "--mem=8",
            "--gdb",
            "--gdb-port=0",
            "--dumpcore=/d",
            "--classic",
        ]);
        let found = DebugOptions::take_from(&mut options).unwrap();
        assert_eq!(options, args(&["--mem=8", "--classic"]));
        assert_eq!(
            found,
            DebugOptions {
                gdb: true,
                gdb_port: 0,
                dumpcore: Some("/d".into())
            }
        );
        let mut none = args(&["--mem=8"]);
        assert_eq!(DebugOptions::take_from(&mut none).unwrap().gdb_port, 1234);
        for bad in ["--gdb-port=65536", "--gdb-port=-1", "--gdb-port="] {
            assert!(DebugOptions::take_from(&mut args(&[bad])).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_debug_tender_names_itself_and_its_modules() {
        let usage = cli::usage(Tender::HvtDebug);
        assert!(usage.starts_with("usage: solo5-hvt-debug "));
        assert!(usage.contains("Compiled-in modules: net block gdb dumpcore\n"));
        assert!(usage.contains("--dumpcore=DIR"));
        assert!(!cli::usage(Tender::Hvt).contains("gdb"));
        assert!(cli::version(Tender::HvtDebug).starts_with("solo5-hvt-debug tender, "));
    }
}
