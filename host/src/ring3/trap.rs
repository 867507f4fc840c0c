//! A ring-3 guest's trap, as its stub leaves it: the stub (see `mod.rs`)
//! writes the vector to [`super::TRAP_PORT`]; the CPU's exception frame sits
//! just below the trap stack's top, RAX and RDX (saved by the stub) below
//! the frame. The tender reads them from guest memory (KVM's RSP at that
//! exit may be stale under PVM) and reports a fatal trap in upstream's
//! style.

use kvm_ioctls::VcpuFd;

use crate::error::TenderError;
use crate::guest_memory::GuestRam;
use crate::ring3::Ring3Area;

/// Upstream's trap mnemonics, by vector.
const TRAP_NAMES: [&str; 32] = [
    "#DE", "#DB", "#NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#CSO", "#TS", "#NP", "#SS",
    "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "#22", "#23", "#24", "#25",
    "#26", "#27", "#HV", "#VC", "#SX", "#31",
];
/// Page fault: its report adds CR2.
pub const VECTOR_PF: u8 = 14;
/// General protection fault: what a privileged instruction at CPL 3 raises.
pub const VECTOR_GP: u8 = 13;
/// Invalid opcode.
pub const VECTOR_UD: u8 = 6;

/// Vectors for which the CPU pushes an error code.
fn has_error_code(vector: u8) -> bool {
    matches!(vector, 8 | 10..=14 | 17 | 21 | 29 | 30)
}

/// A trap: the CPU's exception frame and the registers the stub saved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trap {
    /// Exception vector.
    pub vector: u8,
    /// Error code (0 for vectors without one).
    pub ec: u64,
    /// Faulting instruction.
    pub rip: u64,
    /// Code segment at the fault.
    pub cs: u64,
    /// Flags at the fault.
    pub rflags: u64,
    /// Stack pointer at the fault.
    pub rsp: u64,
    /// Stack segment at the fault.
    pub ss: u64,
    /// RAX at the fault.
    pub rax: u64,
    /// RDX at the fault.
    pub rdx: u64,
}

impl Trap {
    /// Whether the fault happened at CPL 3 (the guest's own code).
    pub fn from_user(&self) -> bool {
        self.cs & 3 == 3
    }

    /// Upstream's report of a fatal trap (`cr2` is used for #PF only).
    pub fn report(&self, cr2: u64) -> String {
        let name = TRAP_NAMES
            .get(usize::from(self.vector))
            .copied()
            .unwrap_or("#INTR");
        let mut text = format!(
            "Solo5: trap: type={name} ec=0x{:x} rip=0x{:x} rsp=0x{:x} rflags=0x{:x}\n",
            self.ec, self.rip, self.rsp, self.rflags
        );
        if self.vector == VECTOR_PF {
            text.push_str(&format!("Solo5: trap: cr2=0x{cr2:x}\n"));
        }
        text.push_str("Solo5: ABORT: Fatal trap\n");
        text
    }
}

/// Reads the trap of `vector` from the trap stack of `area`.
pub fn read(area: &Ring3Area, ram: &GuestRam, vector: u8) -> Result<Trap, TenderError> {
    // Frame words from the top down: ss, rsp, rflags, cs, rip, [ec]; then
    // the stub's rax and rdx.
    let frame_words = if has_error_code(vector) { 6 } else { 5 };
    let top = area.gpa + (area.trap_stack_top() - area.va);
    let word = |i: u64| -> Result<u64, TenderError> { Ok(ram.setup_read(top - i * 8)?) };
    let ec = if has_error_code(vector) { word(6)? } else { 0 };
    Ok(Trap {
        vector,
        ec,
        rip: word(5)?,
        cs: word(4)?,
        rflags: word(3)?,
        rsp: word(2)?,
        ss: word(1)?,
        rax: word(frame_words + 1)?,
        rdx: word(frame_words + 2)?,
    })
}

/// The vCPU's CR2 (the faulting address of a #PF).
pub fn cr2(vcpu: &VcpuFd) -> Result<u64, TenderError> {
    Ok(vcpu
        .get_sregs()
        .map_err(|source| TenderError::Kvm {
            what: "KVM_GET_SREGS",
            source,
        })?
        .cr2)
}

/// Reads the trap of `vector` and returns upstream's report of it.
pub fn report(
    vcpu: &VcpuFd,
    area: &Ring3Area,
    ram: &GuestRam,
    vector: u8,
) -> Result<String, TenderError> {
    Ok(read(area, ram, vector)?.report(cr2(vcpu)?))
}
