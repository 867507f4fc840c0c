//! `solo5-muen-runner`: the environment a Muen system gives a Solo5
//! subject, on KVM, for one unikernel built for the muen target. It is not
//! Muen: it lays the subject out as Muen's tools would (`layout`), maps it
//! with its own page tables (`page_tables`), writes the subject info and
//! boot info pages (`subject_info`), starts the vCPU as Muen does
//! (`vcpu`), plays the scheduler for the clock (`clock`), prints the debug
//! log (`console`), and completes `vmcall`s as its host's KVM allows, which
//! it probes at start-up (`vmcall_probe`, `watchdog`, `run_loop`). Each of its threads runs under a seccomp
//! filter of its own (`seccomp`). Our own binaries run at CPL 3 under the
//! runner's descriptor tables, which carries out the privileged
//! instructions they trap on (`privileged`). `docs/muen-runner.md` describes it.

pub mod channel_files;
pub mod clock;
pub mod console;
mod error;
pub mod layout;
pub mod page_tables;
pub mod peers;
pub mod privileged;
pub mod run_loop;
pub mod seccomp;
pub mod standalone_peer;
pub mod subject_info;
pub mod text_write;
pub mod vcpu;
pub mod vmcall_probe;
pub mod watchdog;

pub use error::Error;

use std::os::fd::AsRawFd;
use std::sync::Arc;

use ringtender_abi::elf_note::RING3_FLAG_RINGS;
use ringtender_muen_compat::subject::sinfo_format_for_abi;

use crate::attach::{self, Device};
use crate::cli::{self, RunArgs, Tender};
use crate::error::{syscall, TenderError};
use crate::guest_memory::GuestRam;
use crate::hvt::kvm::Machine;
use crate::rings::GuestRegion;
use crate::{elf, seccomp_rules, signals, unikernel};

use self::layout::{devices_of, Role, SubjectLayout, BINARY_MIN_VA, LOW_REGIONS_END};

const MIB: u64 = 1 << 20;
/// `ram` when `--mem` is not given, as on the tenders (and gencspec).
const DEFAULT_RAM_MB: u64 = 512;

/// Runs the runner with `args` (argv) and returns the process exit status.
pub fn main(args: Vec<String>) -> i32 {
    cli::main(Tender::Muen, &args, run)
}

fn region_memory(ram: &Arc<GuestRam>, layout: &SubjectLayout, role: Role) -> GuestRegion {
    let region = layout.region(role);
    GuestRegion::new(ram.clone(), region.gpa, region.size as usize)
}

fn run(args: RunArgs) -> Result<i32, TenderError> {
    let kernel = args.kernel.as_str();
    let uk = unikernel::read_unikernel(Tender::Muen, kernel)?;
    let format =
        sinfo_format_for_abi(uk.abi_version).expect("read_unikernel accepts only known versions");
    let mut manifest = uk.manifest;
    let mut att = attach::apply_options(Tender::Muen, &args.options, &manifest)?;
    let ram_size = att.mem_mb.unwrap_or(DEFAULT_RAM_MB).saturating_mul(MIB);
    let image = elf::parse_image(&uk.file, LOW_REGIONS_END, BINARY_MIN_VA)
        .map_err(unikernel::kernel_error(kernel))?;
    match &att.channel_files {
        None => attach::complete_manifest(&mut manifest, &mut att)?,
        Some(_) if att.devices.iter().any(|d| !matches!(d, Device::None)) => {
            return Err(TenderError::Device(
                "--channel-files: solo5-muen-peer serves the devices, not --net or --block".into(),
            ))
        }
        Some(_) => {}
    }

    let layout = SubjectLayout::new(&image, ram_size, &devices_of(&manifest))?;
    let note_flags = elf::ring3_flags(&uk.file);
    // Strict: as Muen starts every subject, whatever the RNG3 note offers.
    let ring3_flags = if att.strict { 0 } else { note_flags };
    let (privilege, tables) = vcpu::address_space(&layout, ring3_flags);
    // The peer's writer follows what the bindings can read, at any privilege.
    let rx_mode = if note_flags & RING3_FLAG_RINGS != 0 {
        peers::NetRxMode::Overwrite
    } else {
        peers::NetRxMode::Paced
    };
    let memory_size = tables.root() + tables.bytes();
    let mut ram = match &att.channel_files {
        None => GuestRam::new(memory_size)?,
        Some(dir) => GuestRam::with_files(memory_size, channel_files::create(dir, &layout)?)?,
    };
    let peer_regions = peers::subject_regions(&layout);
    let (readable, writable) = peers::io_ranges(&peer_regions);
    ram.set_guest_access(readable, writable);
    let mut machine = Machine::with_read_only(&ram, &vcpu::text_slots(&layout, privilege))?;
    let vmcall = vmcall_probe::set_up(&machine, att.exit_event)?;
    for copy in layout.binary_copies(&image) {
        ram.setup_write(copy.gpa, &uk.file[copy.file])?;
    }
    tables.write(&ram)?;
    subject_info::write_boot_page(&ram, &layout, &args.guest_args.join(" "))?;
    let tsc_khz = u32::try_from(machine.tsc_hz / 1000).unwrap_or(u32::MAX);
    let sinfo = subject_info::sinfo_page(&layout, format, tsc_khz, att.exit_event)?;
    ram.setup_write(layout.region(Role::Sinfo).gpa, &sinfo[..])?;
    let tsc = clock::GuestTsc::measure(&machine.vcpu, machine.tsc_hz)?;
    let scheduling_gpa = layout.region(Role::SchedulingInfo).gpa;
    clock::init_pages(
        &ram,
        &tsc,
        layout.region(Role::TimeInfo).gpa,
        scheduling_gpa,
    )?;
    vcpu::setup(
        &machine.vcpu,
        &ram,
        privilege,
        tables.root(),
        image.entry,
        layout.ram_end,
    )?;

    let ram = Arc::new(ram);
    let mut console = console::Console::new(region_memory(&ram, &layout, Role::Debuglog));
    // With --channel-files, solo5-muen-peer serves the channels.
    let peers = peers::start(
        &ram,
        &peer_regions,
        &att.devices,
        att.ring_options.engine,
        rx_mode,
        |text| eprintln!("{}: {text}", cli::program()),
    )?;
    signals::install().map_err(syscall("sigaction"))?;
    let scheduler = clock::Scheduler::start(ram.clone(), tsc, scheduling_gpa)?;
    let watchdog = watchdog::Watchdog::start()?;
    let events = run_loop::Events {
        exit_event: att.exit_event,
        vmcall,
    };
    let vcpu_filter = seccomp::vcpu_filter(&seccomp::VcpuFds {
        vcpu: machine.vcpu.as_raw_fd(),
        worker_doorbell: peers.as_ref().map(|p| p.worker.doorbell_fd()),
        uring: peers.as_ref().and_then(|p| p.uring),
    })?;
    // The other threads installed theirs when they started.
    seccomp_rules::install_on_this_thread(&vcpu_filter)?;
    let status = run_loop::run(
        &mut machine.vcpu,
        privilege,
        &ram,
        &layout,
        &mut console,
        &events,
    );
    drop(watchdog);
    if let Some(peers) = peers {
        peers.worker.stop();
    }
    scheduler.stop();
    status
}
