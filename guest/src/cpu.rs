//! What the bindings do at CPL 0, as upstream's bindings do (`cpu_init`):
//! under upstream's `solo5-hvt`, on Muen, and in the muen runner's strict
//! mode the guest starts in ring 0 with no IDT, so it installs its own GDT
//! (code 0x08, data 0x10, TSS 0x18, the selectors it was started with), a
//! TSS whose IST1 is a trap stack, and an IDT whose 32 exception gates print
//! upstream's trap line and abort. Plus the privileged instructions of the
//! CPL-0 paths: `wrmsr` to FS_BASE for TLS (upstream's way: CR4.FSGSBASE is
//! off there) and `cli; hlt` to stop.
//!
//! The control registers stay as the environment set them, as upstream's
//! bindings leave them: upstream's `solo5-hvt` and Muen (and the muen
//! runner) start the guest with CR4.OSFXSR and OSXMMEXCPT set and CR0.EM
//! clear, so the application may use SSE. The bindings themselves never do:
//! they are built for `x86_64-unknown-none` (no SSE, no red zone, as
//! upstream's `-mno-sse -mno-red-zone`), since a host may emulate ring-0
//! code without SSE support (`docs/host-notes.md`).
//!
//! At CPL 3 (our tenders, the muen runner's fast mode) the tender owns the
//! descriptor tables and reports traps itself, so [`init`] installs nothing
//! (`docs/guest-contract.md`).

use core::arch::{asm, global_asm};
use core::cell::UnsafeCell;

use ringtender_abi::solo5::SOLO5_EXIT_ABORT;

use crate::{log, platform};

/// Kernel code selector (GDT entry 1), as Muen starts the subject.
const CODE_SELECTOR: u16 = 0x08;
/// Kernel data selector (GDT entry 2).
const DATA_SELECTOR: u16 = 0x10;
/// TSS selector (GDT entries 3 and 4).
const TSS_SELECTOR: u16 = 0x18;
/// 64-bit code, present, DPL 0, readable.
const GDT_CODE: u64 = 0x00af_9b00_0000_ffff;
/// Data, present, DPL 0, writable.
const GDT_DATA: u64 = 0x00cf_9300_0000_ffff;
/// Descriptor type of an available 64-bit TSS, present.
const TSS_AVAILABLE_PRESENT: u64 = 0x89;
/// IDT gate: 64-bit interrupt gate, present, DPL 0.
const INTERRUPT_GATE: u64 = 0x8e;
/// The IST slot (1-based) of the trap stack.
const TRAP_IST: u64 = 1;
/// Exception vectors with a gate.
const VECTORS: usize = 32;
/// FS_BASE MSR.
const MSR_FS_BASE: u32 = 0xc000_0100;
const TRAP_STACK_SIZE: usize = 16 * 1024;

/// The 64-bit TSS (104 bytes, 4-byte aligned fields packed as the CPU reads them).
#[repr(C, packed(4))]
struct Tss {
    reserved0: u32,
    rsp: [u64; 3],
    reserved1: u64,
    ist: [u64; 7],
    reserved2: u64,
    reserved3: u16,
    iomap_base: u16,
}

#[repr(C, align(16))]
struct Tables {
    gdt: [u64; 5],
    idt: [[u64; 2]; VECTORS],
    tss: Tss,
    trap_stack: [u8; TRAP_STACK_SIZE],
}

struct CpuTables(UnsafeCell<Tables>);

// SAFETY: written once by `init` on the only vCPU, then read by the CPU only.
unsafe impl Sync for CpuTables {}

static TABLES: CpuTables = CpuTables(UnsafeCell::new(Tables {
    gdt: [0; 5],
    idt: [[0; 2]; VECTORS],
    tss: Tss {
        reserved0: 0,
        rsp: [0; 3],
        reserved1: 0,
        ist: [0; 7],
        reserved2: 0,
        reserved3: 0,
        iomap_base: 0,
    },
    trap_stack: [0; TRAP_STACK_SIZE],
}));

/// The privilege level the guest runs at (CS's RPL).
pub fn cpl() -> u8 {
    let cs: u16;
    // SAFETY: reading CS has no side effect and is allowed at any CPL.
    unsafe { asm!("mov {:x}, cs", out(reg) cs, options(nomem, nostack, preserves_flags)) };
    (cs & 3) as u8
}

/// A descriptor-table pointer as `lgdt`/`lidt` read it.
#[repr(C, packed)]
struct TablePointer {
    limit: u16,
    base: u64,
}

/// Installs the GDT, TSS and IDT at CPL 0; nothing at CPL 3.
pub fn init() {
    if cpl() != 0 {
        return;
    }
    let tables = TABLES.0.get();
    // SAFETY: start-up on the only vCPU; nothing else uses the tables yet.
    let t = unsafe { &mut *tables };
    let tss = core::ptr::addr_of!(t.tss) as u64;
    let stack_top = core::ptr::addr_of!(t.trap_stack) as u64 + TRAP_STACK_SIZE as u64;
    t.tss.ist[TRAP_IST as usize - 1] = stack_top;
    // No I/O permission bitmap: it would start past the TSS's limit.
    t.tss.iomap_base = size_of::<Tss>() as u16;
    t.gdt[1] = GDT_CODE;
    t.gdt[2] = GDT_DATA;
    t.gdt[3] = (size_of::<Tss>() as u64 - 1)
        | (tss & 0xff_ffff) << 16
        | TSS_AVAILABLE_PRESENT << 40
        | (tss >> 24 & 0xff) << 56;
    t.gdt[4] = tss >> 32;
    // SAFETY: the table of stub addresses comes from `global_asm!` below.
    let stubs = unsafe { &ringtender_trap_stubs };
    for (gate, &stub) in t.idt.iter_mut().zip(stubs.iter()) {
        gate[0] = (stub & 0xffff)
            | u64::from(CODE_SELECTOR) << 16
            | TRAP_IST << 32
            | INTERRUPT_GATE << 40
            | (stub >> 16 & 0xffff) << 48;
        gate[1] = stub >> 32;
    }
    let gdt = TablePointer {
        limit: (size_of::<[u64; 5]>() - 1) as u16,
        base: core::ptr::addr_of!(t.gdt) as u64,
    };
    let idt = TablePointer {
        limit: (size_of::<[[u64; 2]; VECTORS]>() - 1) as u16,
        base: core::ptr::addr_of!(t.idt) as u64,
    };
    // SAFETY: CPL 0. The new GDT has the selectors the CPU already holds
    // (code 0x08, data 0x10), so reloading CS by a far return and the data
    // segments keeps the flat 64-bit model; the TSS descriptor points to a
    // TSS that lives for the guest's life; every IDT gate points to a stub
    // below, on the trap stack.
    unsafe {
        asm!(
            "lgdt [{gdt}]",
            "push {code}",
            "lea {tmp}, [rip + 2f]",
            "push {tmp}",
            "retfq",
            "2:",
            "mov ds, {data:x}",
            "mov es, {data:x}",
            "mov ss, {data:x}",
            "ltr {tss:x}",
            "lidt [{idt}]",
            gdt = in(reg) &gdt,
            idt = in(reg) &idt,
            code = in(reg) u64::from(CODE_SELECTOR),
            data = in(reg) DATA_SELECTOR,
            tss = in(reg) TSS_SELECTOR,
            tmp = out(reg) _,
        );
    }
}

/// Sets the FS base (the TLS thread pointer) with `wrmsr`.
pub fn set_fs_base(base: u64) {
    // SAFETY: at CPL 0 (and in Muen's policy for Solo5 subjects) the guest
    // may write FS_BASE; it changes only this vCPU's FS base. At CPL 3 only
    // the muen runner's fast mode uses it: the runner carries the
    // instruction out when it traps.
    unsafe {
        asm!("wrmsr", in("ecx") MSR_FS_BASE, in("eax") base as u32, in("edx") (base >> 32) as u32,
            options(nostack, preserves_flags));
    }
}

/// Stops the vCPU for good: `cli; hlt`, and again should it ever wake.
pub fn halt_forever() -> ! {
    loop {
        // SAFETY: stops this vCPU; nothing runs after it.
        unsafe { asm!("cli", "hlt", options(nomem, nostack)) };
    }
}

/// Upstream's names of the exception vectors.
const TRAP_NAMES: [&str; VECTORS] = [
    "#DE", "#DB", "#NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#9", "#TS", "#NP", "#SS",
    "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE", "#21", "#22", "#23", "#24", "#25",
    "#26", "#27", "#28", "#29", "#30", "#31",
];

/// What a trap stub leaves on the trap stack: the vector, the error code
/// (0 if the CPU pushes none), then the CPU's frame.
#[repr(C)]
struct TrapFrame {
    vector: u64,
    error_code: u64,
    rip: u64,
    cs: u64,
    rflags: u64,
    rsp: u64,
    ss: u64,
}

/// Reports a trap in upstream's words and aborts.
extern "C" fn trap(frame: &TrapFrame, cr2: u64) -> ! {
    let name = TRAP_NAMES
        .get(frame.vector as usize)
        .copied()
        .unwrap_or("#??");
    log!(
        Info,
        "Solo5: trap: type={} ec=0x{:x} rip=0x{:x} rsp=0x{:x} rflags=0x{:x}\n",
        name,
        frame.error_code,
        frame.rip,
        frame.rsp,
        frame.rflags
    );
    if frame.vector == 14 {
        log!(Info, "Solo5: trap: cr2=0x{:x}\n", cr2);
    }
    log!(Error, "Solo5: ABORT: Fatal trap\n");
    platform::halt(SOLO5_EXIT_ABORT)
}

extern "C" {
    /// Addresses of the 32 stubs, from `global_asm!` below.
    static ringtender_trap_stubs: [u64; VECTORS];
}

// One stub per exception vector: push a zero where the CPU pushes no error
// code, push the vector, then the common part passes the frame and CR2 to
// `trap` on an aligned stack (the trap stack, IST1).
global_asm!(
    ".macro RT_TRAP_STUB vec, has_ec",
    "ringtender_trap_\\vec:",
    ".if \\has_ec == 0",
    "push 0",
    ".endif",
    "push \\vec",
    "jmp ringtender_trap_common",
    ".endm",
    ".pushsection .text.ringtender.traps, \"ax\"",
    "ringtender_trap_common:",
    "cld",
    "mov rdi, rsp",
    "mov rsi, cr2",
    "and rsp, -16",
    "call {trap}",
    "ud2",
    "RT_TRAP_STUB 0, 0", "RT_TRAP_STUB 1, 0", "RT_TRAP_STUB 2, 0", "RT_TRAP_STUB 3, 0",
    "RT_TRAP_STUB 4, 0", "RT_TRAP_STUB 5, 0", "RT_TRAP_STUB 6, 0", "RT_TRAP_STUB 7, 0",
    "RT_TRAP_STUB 8, 1", "RT_TRAP_STUB 9, 0", "RT_TRAP_STUB 10, 1", "RT_TRAP_STUB 11, 1",
    "RT_TRAP_STUB 12, 1", "RT_TRAP_STUB 13, 1", "RT_TRAP_STUB 14, 1", "RT_TRAP_STUB 15, 0",
    "RT_TRAP_STUB 16, 0", "RT_TRAP_STUB 17, 1", "RT_TRAP_STUB 18, 0", "RT_TRAP_STUB 19, 0",
    "RT_TRAP_STUB 20, 0", "RT_TRAP_STUB 21, 1", "RT_TRAP_STUB 22, 0", "RT_TRAP_STUB 23, 0",
    "RT_TRAP_STUB 24, 0", "RT_TRAP_STUB 25, 0", "RT_TRAP_STUB 26, 0", "RT_TRAP_STUB 27, 0",
    "RT_TRAP_STUB 28, 0", "RT_TRAP_STUB 29, 1", "RT_TRAP_STUB 30, 1", "RT_TRAP_STUB 31, 0",
    ".popsection",
    ".pushsection .data.rel.ro.ringtender_trap_stubs, \"aw\"",
    ".balign 8",
    ".globl ringtender_trap_stubs",
    "ringtender_trap_stubs:",
    ".irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31",
    ".quad ringtender_trap_\\vec",
    ".endr",
    ".popsection",
    trap = sym trap,
);
