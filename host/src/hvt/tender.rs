//! `solo5-hvt`: from the command line to the guest's exit status.

use std::io::Write;
use std::sync::Arc;

use kvm_ioctls::VcpuExit;
use ringtender_abi::elf_note::{RING3_FLAG_CPL3, RING3_FLAG_RINGS};
use ringtender_abi::hvt::{
    BootInfo, HVT_BOOT_INFO_BASE, HVT_CMDLINE_SIZE, HVT_FEATURE_RING_IO, HVT_GUEST_MIN_BASE,
    HVT_HYPERCALL_MAX, HVT_HYPERCALL_PIO_BASE,
};
use ringtender_abi::rings::{
    BOOT_INFO_EXT_SIZE, BOOT_INFO_RING_DIR_OFFSET, HVT_FEATURE_RT_RINGS, HVT_FEATURE_RT_SEND_PORT,
    RT_RING_SEND_PIO,
};
use ringtender_abi::solo5::SOLO5_EXIT_ABORT;

use crate::attach;
use crate::attach::{Device, DeviceFds};
use crate::cli::{self, RunArgs, Tender};
use crate::elf::{self, ElfImage};
use crate::error::{syscall, TenderError};
use crate::guest_fault::GuestFault;
use crate::guest_memory::GuestRam;
use crate::hvt::cpu::{self, GuestMode, ImageLayout};
use crate::hvt::debug::{DebugOptions, Debugger, TrapAction};
use crate::hvt::hypercall::{Hypercalls, Outcome};
use crate::hvt::kvm::Machine;
use crate::hvt::page_tables::PagePerm;
use crate::hvt::seccomp;
use crate::hvt::upstream_ring::{RingNet, UpstreamNetRing, RING_RESERVATION};
use crate::manifest::Manifest;
use crate::poll::WaitSet;
use crate::ring3::{trap, TRAP_PORT};
use crate::rings::{RingLayout, RingPoll, StartingWorker};
use crate::{rings, seccomp_rules, signals, unikernel};

const MIB: u64 = 1 << 20;
const GUEST_PAGE: u64 = 2 * MIB;
const MAX_MEM: u64 = 4096 * MIB;
const DEFAULT_MEM_MB: u64 = 512;

/// Runs the tender with `args` (argv) and returns the process exit status.
pub fn main(args: Vec<String>) -> i32 {
    cli::main(Tender::Hvt, &args, |run_args| run(run_args, None))
}

fn warn(msg: &str) {
    eprintln!("{}: {msg}", cli::program());
}

/// Rounds `--mem` as upstream: down to 2 MiB, at least 2 MiB, at most 4 GiB.
pub fn guest_mem_size(mb: u64) -> Result<u64, TenderError> {
    let requested = mb.saturating_mul(MIB);
    let mut size = requested & !(GUEST_PAGE - 1);
    if size == 0 {
        size = GUEST_PAGE;
    }
    if size > MAX_MEM {
        return Err(super::Error::MemoryTooLarge { size, max: MAX_MEM }.into());
    }
    if size != requested {
        warn(&format!("adjusting memory to {size} bytes"));
    }
    Ok(size)
}

fn image_layout(image: &ElfImage) -> ImageLayout {
    let segments = image
        .segments
        .iter()
        .map(|s| {
            let perm = if s.prot.write {
                PagePerm::UserWrite
            } else if s.prot.exec {
                PagePerm::UserExec
            } else {
                PagePerm::UserRead
            };
            (s.start..s.end, perm)
        })
        .collect();
    ImageLayout {
        segments,
        image_end: image.image_end,
    }
}

fn load_image(ram: &GuestRam, file: &[u8], image: &ElfImage) -> Result<(), TenderError> {
    for seg in &image.segments {
        let from = seg.file_offset as usize;
        ram.setup_write(seg.vaddr, &file[from..from + seg.filesz as usize])?;
    }
    Ok(())
}

/// Runs the unikernel of `args`; `debug`: `solo5-hvt-debug`'s modules.
pub(crate) fn run(args: RunArgs, debug: Option<DebugOptions>) -> Result<i32, TenderError> {
    let kernel = args.kernel.as_str();
    let (file, mut manifest) = unikernel::read(Tender::Hvt, kernel)?;

    let mut att = attach::apply_options(Tender::Hvt, &args.options, &manifest)?;
    let ring3 = elf::ring3_flags(&file);
    let mode = if ring3 & RING3_FLAG_CPL3 != 0 {
        GuestMode::Ring3
    } else {
        GuestMode::Ring0
    };
    let has_net = att.devices.iter().any(|d| matches!(d, Device::Net(_)));
    let has_device = att.devices.iter().any(|d| !matches!(d, Device::None));
    let want_rings = ring3 & RING3_FLAG_RINGS != 0 && has_device && !att.classic;
    let rings_bytes = want_rings.then(|| rings::layout(&att.devices, 0, 0).bytes);
    let layout = MemoryLayout::new(
        guest_mem_size(att.mem_mb.unwrap_or(DEFAULT_MEM_MB))?,
        !want_rings && has_net && !att.classic,
        rings_bytes,
    );
    let image = elf::parse_image(&file, layout.guest_mem, HVT_GUEST_MIN_BASE)
        .map_err(unikernel::kernel_error(kernel))?;
    attach::complete_manifest(&mut manifest, &mut att)?;

    let mut ram = GuestRam::new(layout.alloc)?;
    let mut machine = Machine::new(&ram)?;
    load_image(&ram, &file, &image)?;
    // The file's copy is loaded: freeing it now keeps it out of the
    // tender's resident memory for the guest's lifetime.
    drop(file);
    cpu::setup(
        &machine.vcpu,
        &mut ram,
        mode,
        &image_layout(&image),
        image.entry,
        layout.guest_mem,
    )?;
    let ram = Arc::new(ram);
    let mut debugger = debug
        .map(|options| Debugger::start(options, &mut machine.vcpu, &ram, mode))
        .transpose()?;
    let nets: Vec<RingNet> = att
        .devices
        .iter()
        .enumerate()
        .filter_map(|(index, dev)| match dev {
            Device::Net(net) => Some(RingNet {
                handle: index as u32,
                fd: net.raw_fd(),
            }),
            _ => None,
        })
        .collect();
    let net_ring = match layout.upstream_ring {
        Some(gpa) if machine.ioeventfd => Some((
            gpa,
            UpstreamNetRing::start(&machine.vm, ram.clone(), gpa, nets)?,
        )),
        Some(_) => {
            warn("KVM_CAP_IOEVENTFD not available, falling back to hypercalls");
            None
        }
        None => None,
    };

    let mut wait_set = WaitSet::new().map_err(syscall("epoll"))?;
    let ring_plan: Option<RingLayout> = layout
        .rings
        .map(|base| rings::layout(&att.devices, base, 0));
    let rings = match &ring_plan {
        Some(plan) => Some(rings::start(
            ram.clone(),
            plan,
            &att.devices,
            &machine.vm,
            att.ring_options,
            &mut wait_set,
            warn,
        )?),
        None => None,
    };
    let boot = BootParams {
        mem_size: layout.guest_mem,
        tsc_hz: machine.tsc_hz,
        net_ring: net_ring.as_ref().map(|(gpa, _)| *gpa),
        ring_dir: ring_plan.as_ref().map(|plan| plan.dir_gpa),
    };
    write_boot_info(&ram, &image, &manifest, &args.guest_args, &boot)?;

    if let Some((_, _, ring_fds)) = &rings {
        if let Some(uring) = ring_fds.uring {
            signals::release_uring_files_on_signal(uring);
        }
    } else {
        for (index, dev) in att.devices.iter().enumerate() {
            if let Device::Net(net) = dev {
                wait_set
                    .add(net.raw_fd(), index as u64)
                    .map_err(syscall("epoll"))?;
            }
        }
    }
    // With our rings the worker serves the devices; the vCPU only the
    // taps, while the guest waits in POLL and through the send port.
    let ring_fds = rings.as_ref().map(|(_, _, fds)| fds);
    let classic = match ring_fds {
        Some(fds) => DeviceFds {
            taps: fds.taps.clone(),
            ..DeviceFds::default()
        },
        None => DeviceFds::of(&att.devices),
    };
    let vcpu_fds = seccomp::VcpuFds {
        vcpu: std::os::fd::AsRawFd::as_raw_fd(&machine.vcpu),
        epoll: wait_set.epoll_fd(),
        timer: wait_set.timer_fd(),
        taps: classic.taps,
        blocks: classic.blocks,
        tap_handoff: ring_fds.map(|fds| (fds.worker_epoll, fds.tap_set)),
        wake: ring_fds.map(|fds| fds.wake),
        worker_doorbells: ring_fds
            .map(|fds| fds.doorbell)
            .into_iter()
            .chain(net_ring.iter().map(|(_, ring)| ring.kick_fd()))
            .collect(),
        uring: ring_fds.and_then(|fds| fds.uring),
    };
    let vcpu_filter = match &debugger {
        Some(debugger) => debugger.vcpu_filter(&vcpu_fds)?,
        None => seccomp::vcpu_filter(&vcpu_fds)?,
    };
    let (ring_worker, ring_poll): (Option<_>, Option<RingPoll>) = match rings {
        Some((worker, poll, _)) => (Some(worker), Some(poll)),
        None => (None, None),
    };
    let mut calls = Hypercalls {
        devices: att.devices,
        wait_set,
        rings: ring_poll,
    };
    signals::install().map_err(syscall("sigaction"))?;
    // This thread's filter goes in right before the guest runs. The ring
    // worker has been starting meanwhile and installs its own before it
    // touches the rings; the guest runs only once it has.
    seccomp_rules::install_on_this_thread(&vcpu_filter)?;
    let ring_worker = ring_worker.map(StartingWorker::confined).transpose()?;
    let status = run_loop(&mut machine, &ram, &mut calls, mode, debugger.as_mut());
    if let Some(debugger) = debugger.as_mut() {
        debugger.finish(&status);
    }
    if let Some((_, ring)) = net_ring {
        ring.stop();
    }
    match ring_worker {
        // The worker syncs the block files it served when it stops.
        Some(worker) => worker.stop(),
        None if status.is_ok() => attach::sync_blocks(&calls.devices)?,
        None => {}
    }
    status
}

/// Guest RAM as told to the guest, the allocation behind it, and what sits
/// above the guest's RAM: upstream's #637 net ring (ring-0 guests, as
/// upstream v0.11 places it) or ringtender's ring areas (our guests).
struct MemoryLayout {
    guest_mem: u64,
    alloc: u64,
    upstream_ring: Option<u64>,
    rings: Option<u64>,
}

impl MemoryLayout {
    fn new(guest_mem: u64, want_upstream_ring: bool, rings_bytes: Option<u64>) -> Self {
        let extra = match (want_upstream_ring, rings_bytes) {
            (_, Some(bytes)) => bytes.next_multiple_of(GUEST_PAGE),
            (true, None) => RING_RESERVATION,
            (false, None) => 0,
        };
        if extra == 0 {
            return Self {
                guest_mem,
                alloc: guest_mem,
                upstream_ring: None,
                rings: None,
            };
        }
        if guest_mem < 2 * extra {
            warn("Not enough guest memory for ring allocation, falling back to hypercalls");
            return Self {
                guest_mem,
                alloc: guest_mem,
                upstream_ring: None,
                rings: None,
            };
        }
        let alloc = (guest_mem + extra).min(MAX_MEM);
        let guest_mem = alloc - extra;
        let base = Some(guest_mem);
        if rings_bytes.is_some() {
            Self {
                guest_mem,
                alloc,
                upstream_ring: None,
                rings: base,
            }
        } else {
            Self {
                guest_mem,
                alloc,
                upstream_ring: base,
                rings: None,
            }
        }
    }
}

/// Boot info values that come from the machine rather than the image.
struct BootParams {
    mem_size: u64,
    tsc_hz: u64,
    net_ring: Option<u64>,
    ring_dir: Option<u64>,
}

fn write_boot_info(
    ram: &GuestRam,
    image: &ElfImage,
    manifest: &Manifest,
    guest_args: &[String],
    boot: &BootParams,
) -> Result<(), TenderError> {
    let mft = manifest.to_bytes();
    // With our rings the boot info grows by the ring directory's address and
    // the manifest moves after it; otherwise upstream's exact positions.
    let boot_info_size = match boot.ring_dir {
        Some(_) => BOOT_INFO_EXT_SIZE,
        None => size_of::<BootInfo>() as u64,
    };
    let mft_gpa = HVT_BOOT_INFO_BASE + boot_info_size;
    let cmdline_gpa = mft_gpa + mft.len() as u64;
    let cmdline = guest_args.join(" ");
    if cmdline.len() >= HVT_CMDLINE_SIZE {
        return Err(super::Error::CmdlineTooLong {
            max: HVT_CMDLINE_SIZE - 1,
        }
        .into());
    }
    let info = BootInfo {
        mem_size: boot.mem_size,
        kernel_end: image.kernel_end,
        cpu_cycle_freq: boot.tsc_hz,
        cmdline: cmdline_gpa,
        mft: mft_gpa,
        host_features: match (boot.net_ring, boot.ring_dir) {
            (Some(_), _) => HVT_FEATURE_RING_IO,
            (None, Some(_)) => HVT_FEATURE_RT_RINGS | HVT_FEATURE_RT_SEND_PORT,
            (None, None) => 0,
        },
        guest_features: 0,
        net_ring: boot.net_ring.unwrap_or(0),
    };
    ram.setup_write(HVT_BOOT_INFO_BASE, bytemuck::bytes_of(&info))?;
    if let Some(dir) = boot.ring_dir {
        ram.setup_write(
            HVT_BOOT_INFO_BASE + BOOT_INFO_RING_DIR_OFFSET,
            &dir.to_le_bytes(),
        )?;
    }
    ram.setup_write(mft_gpa, &mft)?;
    let mut buf = cmdline.into_bytes();
    buf.push(0);
    Ok(ram.setup_write(cmdline_gpa, &buf)?)
}

/// What one vCPU exit asks of the tender, copied out of `kvm_run`.
enum Exit {
    Hypercall { nr: u32, gpa: u64 },
    RingSend(u64),
    Trap(u8),
    Debug(u32),
    BadPort(u16),
    Retry,
    Translation,
    FailEntry(u64),
    Internal,
    Other,
}

fn run_loop(
    machine: &mut Machine,
    ram: &GuestRam,
    calls: &mut Hypercalls,
    mode: GuestMode,
    mut debugger: Option<&mut Debugger>,
) -> Result<i32, TenderError> {
    let hypercall_ports = HVT_HYPERCALL_PIO_BASE..HVT_HYPERCALL_PIO_BASE + HVT_HYPERCALL_MAX as u16;
    loop {
        let exit = match machine.vcpu.run() {
            Ok(VcpuExit::IoOut(port, data)) => {
                if port == TRAP_PORT && mode == GuestMode::Ring3 && data.len() == 1 {
                    Exit::Trap(data[0])
                } else if port == RT_RING_SEND_PIO && data.len() == 4 && calls.rings.is_some() {
                    Exit::RingSend(u64::from(u32::from_le_bytes(data.try_into().unwrap())))
                } else if hypercall_ports.contains(&port) && data.len() == 4 {
                    let gpa = u64::from(u32::from_le_bytes(data.try_into().unwrap()));
                    Exit::Hypercall {
                        nr: u32::from(port - HVT_HYPERCALL_PIO_BASE),
                        gpa,
                    }
                } else {
                    Exit::BadPort(port)
                }
            }
            Ok(VcpuExit::IoIn(port, _)) => Exit::BadPort(port),
            Ok(VcpuExit::FailEntry(reason, _)) => Exit::FailEntry(reason),
            Ok(VcpuExit::Debug(arch)) if debugger.is_some() => Exit::Debug(arch.exception),
            Ok(VcpuExit::InternalError) => Exit::Internal,
            Ok(_) => Exit::Other,
            Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => Exit::Retry,
            Err(e) if e.errno() == libc::EFAULT => Exit::Translation,
            Err(source) => {
                return Err(TenderError::Kvm {
                    what: "KVM_RUN",
                    source,
                })
            }
        };
        match exit {
            Exit::Retry => {
                if let Some(debugger) = debugger.as_deref_mut() {
                    debugger.on_interrupt(&mut machine.vcpu)?;
                }
            }
            Exit::Debug(exception) => {
                if let Some(debugger) = debugger.as_deref_mut() {
                    debugger.on_debug_exit(&mut machine.vcpu, exception)?;
                }
            }
            Exit::Hypercall { nr, gpa } => {
                if let Outcome::Halt(status) = calls.dispatch(ram, nr, gpa)? {
                    if let Some(debugger) = debugger {
                        debugger.on_halt(&machine.vcpu, ram, status, gpa);
                    }
                    return Ok(status);
                }
            }
            Exit::RingSend(handle) => {
                if let Some(rings) = &mut calls.rings {
                    rings.send(handle)?;
                }
            }
            Exit::Trap(vector) => {
                if let Some(debugger) = debugger.as_deref_mut() {
                    if debugger.on_trap(&mut machine.vcpu, ram, vector)? == TrapAction::Resume {
                        continue;
                    }
                }
                let text = trap::report(&machine.vcpu, &cpu::RING3_AREA, ram, vector)?;
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
                if let Some(debugger) = debugger {
                    debugger.on_fatal_trap(&machine.vcpu, ram, vector);
                }
                return Ok(SOLO5_EXIT_ABORT);
            }
            Exit::BadPort(port) => {
                return Err(GuestFault::InvalidPort { port }.into());
            }
            Exit::Translation => {
                let rip = machine.vcpu.get_regs().map_or(0, |r| r.rip);
                return Err(GuestFault::TranslationFault { rip }.into());
            }
            Exit::FailEntry(reason) => {
                return Err(GuestFault::EntryFailure { reason }.into());
            }
            Exit::Internal => {
                if let Some(debugger) = debugger.as_deref_mut() {
                    if debugger.on_internal_error(&mut machine.vcpu)? {
                        continue;
                    }
                }
                let run = machine.vcpu.get_kvm_run();
                // SAFETY: exit_reason is KVM_EXIT_INTERNAL_ERROR, so the kernel filled `internal`.
                let suberror = unsafe { run.__bindgen_anon_1.internal.suberror };
                return Err(GuestFault::InternalError { suberror }.into());
            }
            Exit::Other => {
                let reason = machine.vcpu.get_kvm_run().exit_reason;
                let rip = machine.vcpu.get_regs().map_or(0, |r| r.rip);
                return Err(GuestFault::UnhandledExit { reason, rip }.into());
            }
        }
    }
}
