//! Reporting a ring-3 guest's fatal trap in upstream's style.
//!
//! A trap stub (see `cpu.rs`) writes the vector to `HVT_TRAP_PIO`; the CPU's
//! exception frame sits just below the trap stack top. The tender reads it
//! from guest memory (KVM's RSP at that exit may be stale under PVM).

use kvm_ioctls::VcpuFd;
use ringtender_abi::hvt::TrapRegs;

use crate::error::TenderError;
use crate::guest_memory::GuestRam;
use crate::hvt::cpu::TRAP_STACK_TOP;

/// Upstream's trap mnemonics, by vector.
const TRAP_NAMES: [&str; 32] = [
    "#DE", "#DB", "#NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#CSO", "#TS", "#NP", "#SS",
    "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "#22", "#23", "#24", "#25",
    "#26", "#27", "#HV", "#VC", "#SX", "#31",
];

/// Vectors for which the CPU pushes an error code.
fn has_error_code(vector: u8) -> bool {
    matches!(vector, 8 | 10..=14 | 17 | 21 | 29 | 30)
}

/// Reads the exception frame of `vector` and returns the register block
/// (upstream's `x86_trap_regs`) and the report lines.
pub fn report(
    vcpu: &VcpuFd,
    ram: &GuestRam,
    vector: u8,
) -> Result<(TrapRegs, String), TenderError> {
    let words = if has_error_code(vector) { 6 } else { 5 };
    let frame_base = TRAP_STACK_TOP - words * 8;
    let mut frame = [0u64; 6];
    for (i, word) in frame.iter_mut().take(words as usize).enumerate() {
        *word = ram.setup_read(frame_base + i as u64 * 8)?;
    }
    let (ec, rest) = if has_error_code(vector) {
        (frame[0], &frame[1..])
    } else {
        (0, &frame[..5])
    };
    let cr2 = vcpu
        .get_sregs()
        .map_err(|source| TenderError::Kvm {
            what: "KVM_GET_SREGS",
            source,
        })?
        .cr2;
    let regs = TrapRegs {
        cr2,
        ec,
        rip: rest[0],
        cs: rest[1],
        rflags: rest[2],
        rsp: rest[3],
        ss: rest[4],
    };
    let name = TRAP_NAMES.get(vector as usize).copied().unwrap_or("#INTR");
    let mut text = format!(
        "Solo5: trap: type={name} ec=0x{:x} rip=0x{:x} rsp=0x{:x} rflags=0x{:x}\n",
        regs.ec, regs.rip, regs.rsp, regs.rflags
    );
    if vector == 14 {
        text.push_str(&format!("Solo5: trap: cr2=0x{:x}\n", regs.cr2));
    }
    text.push_str("Solo5: ABORT: Fatal trap\n");
    Ok((regs, text))
}
