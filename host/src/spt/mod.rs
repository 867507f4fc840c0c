//! `solo5-spt`: runs a Solo5 spt unikernel as a seccomp-confined process,
//! with upstream's memory layout, start-up ABI and system-call whitelist.
//!
//! The tender sets everything up, then forks: the child becomes the
//! unikernel (filter installed, jump to the entry point); the parent stays
//! as a small supervisor that forwards termination signals and ends the way
//! the guest ended, saying so when a signal killed it.
//!
//! A guest of ours that asks for rings gets them: the device I/O then runs
//! in a separate I/O worker process ([`worker`]), forked after the guest,
//! that shares only the ring memory with it; the guest keeps its taps,
//! which it serves itself while it waits in `solo5_yield`
//! (`docs/architecture.md`, "An idle guest on spt"), and its block files
//! for the blocking one-block calls (`HOST_FEATURE_BLOCK_DIRECT`).

mod error;
pub mod launch;
pub mod memory;
pub mod seccomp;
pub mod supervisor;
pub mod worker;

pub use error::Error;

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use ringtender_abi::elf_note::RING3_FLAG_RINGS;
use ringtender_abi::rings::{
    AREA_HOST_FEATURES, HOST_FEATURE_BLOCK_DIRECT, HOST_FEATURE_BLOCK_DIRECT_RING,
    SPT_BLOCK_DATA_BYTES,
};
use ringtender_abi::spt::{
    SptBootInfo, SptRingInfo, SptWakeInfo, SPT_BOOT_INFO_BASE, SPT_CMDLINE_SIZE,
    SPT_FEATURE_GUEST_TAPS, SPT_GUEST_MIN_BASE, SPT_RING_INFO_MAGIC, SPT_WAKE_INFO_MAGIC,
};
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

use crate::attach::{Device, DeviceFds};
use crate::cli::{self, RunArgs, Tender};
use crate::elf::{self, ElfImage};
use crate::error::{syscall, TenderError};
use crate::guest_memory::GuestRam;
use crate::manifest::Manifest;
use crate::poll::WaitSet;
use crate::rings::{self, RingOptions, GUEST_WAKE_EVENT};
use crate::{attach, unikernel};

use self::memory::{GuestSpace, SharedRings};
use self::seccomp::{ring_transfers_fit, BlockLimits, GuestFds, TapControl};
use self::supervisor::{Fork, Verdict};
use self::worker::WorkerPlan;

const MIB: u64 = 1 << 20;
const DEFAULT_MEM_MB: u64 = 512;
/// `personality(2)`'s READ_IMPLIES_EXEC: every readable mapping executable.
const READ_IMPLIES_EXEC: libc::c_int = 0x0040_0000;

/// Runs the tender with `args` (argv) and returns the process exit status.
pub fn main(args: Vec<String>) -> i32 {
    cli::main(Tender::Spt, &args, run)
}

/// Refuses a personality that would make all guest memory executable.
fn check_personality() -> Result<(), TenderError> {
    // SAFETY: 0xffffffff queries the personality without changing it.
    let persona = unsafe { libc::personality(0xffff_ffff) };
    if persona >= 0 && persona & READ_IMPLIES_EXEC != 0 {
        return Err(Error::ReadImpliesExec.into());
    }
    Ok(())
}

/// Writes the boot info, then our ring extension if the guest gets rings,
/// then the manifest, then the command line: upstream's addresses when there
/// are no rings.
fn write_boot_info(
    space: &GuestSpace,
    image: &ElfImage,
    manifest: &Manifest,
    guest_args: &[String],
    wait_set: &WaitSet,
    ring_info: Option<SptRingInfo>,
) -> Result<(), TenderError> {
    let cmdline = guest_args.join(" ");
    if cmdline.len() >= SPT_CMDLINE_SIZE {
        return Err(Error::CmdlineTooLong {
            max: SPT_CMDLINE_SIZE - 1,
        }
        .into());
    }
    let mft = manifest.to_bytes();
    let ext_addr = SPT_BOOT_INFO_BASE + size_of::<SptBootInfo>() as u64;
    let mft_addr = match &ring_info {
        Some(ext) => {
            space.write(ext_addr, bytemuck::bytes_of(ext))?;
            ext_addr + size_of::<SptRingInfo>() as u64
        }
        None => ext_addr,
    };
    let cmdline_addr = mft_addr + mft.len() as u64;
    let info = SptBootInfo {
        mem_size: space.size(),
        kernel_end: image.kernel_end,
        cmdline: cmdline_addr,
        mft: mft_addr,
        epollfd: wait_set.epoll_fd(),
        timerfd: wait_set.timer_fd(),
    };
    space.write(SPT_BOOT_INFO_BASE, bytemuck::bytes_of(&info))?;
    space.write(mft_addr, &mft)?;
    let mut buf = cmdline.into_bytes();
    buf.push(0);
    Ok(space.write(cmdline_addr, &buf)?)
}

/// The rings of a guest that asked for them, set up by the tender: the
/// shared memory (directory, wake extension and host channels written), the
/// doorbell and the wake-up eventfd, the worker's epoll sets, and what the
/// worker process will serve.
struct SptRings {
    shared: SharedRings,
    doorbell_fd: i32,
    tap_control: TapControl,
    /// The guest serves its ring reads and writes itself
    /// (`HOST_FEATURE_BLOCK_DIRECT_RING`), so its filter allows their
    /// transfers.
    ring_transfers: bool,
    plan: Option<WorkerPlan>,
}

/// The `host_features` of each block device's area, in order: the guest keeps its block files for
/// the blocking one-block calls, and serves its ring reads and writes
/// itself if its filter can hold their transfers and the file's reads from
/// the page cache never wait for a slow server (a FUSE or network file
/// stays with the worker, so a held read stops only the request waiting
/// for it, not the guest).
fn block_features(devices: &[Device]) -> Vec<u64> {
    let blocks: Vec<_> = devices
        .iter()
        .filter_map(|d| match d {
            Device::Block(block) => Some(block),
            _ => None,
        })
        .collect();
    let ring_transfers = ring_transfers_fit(blocks.len());
    blocks
        .into_iter()
        .map(
            |block| match ring_transfers && reads_without_waiting(block.raw_fd()) {
                true => HOST_FEATURE_BLOCK_DIRECT | HOST_FEATURE_BLOCK_DIRECT_RING,
                false => HOST_FEATURE_BLOCK_DIRECT,
            },
        )
        .collect()
}

/// Whether reads of `fd` can be asked not to wait (`RWF_NOWAIT`): a file
/// of a local filesystem whose page cache answers a hit at once. A FUSE
/// file (its server may hold a read for as long as it likes) and other
/// files without that mode refuse the flag with `EOPNOTSUPP`; one byte
/// at offset 0 is asked, and a miss (`EAGAIN`) still says yes.
fn reads_without_waiting(fd: RawFd) -> bool {
    let mut byte = 0u8;
    let iov = libc::iovec {
        iov_base: (&raw mut byte).cast(),
        iov_len: 1,
    };
    // SAFETY: one iovec over a byte we own; the kernel writes at most it.
    let n = unsafe { libc::preadv2(fd, &iov, 1, 0, libc::RWF_NOWAIT) };
    n >= 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EOPNOTSUPP)
}

fn setup_rings(
    devices: &[Device],
    mem_size: u64,
    options: RingOptions,
    wait_set: &mut WaitSet,
) -> Result<SptRings, TenderError> {
    let layout = rings::layout(devices, mem_size, SPT_BLOCK_DATA_BYTES);
    let shared = SharedRings::create(layout.dir_gpa, layout.bytes)?;
    let ram = Arc::new(GuestRam::shared(
        layout.dir_gpa,
        layout.bytes,
        shared.file().map_err(syscall("memfd"))?,
    )?);
    let features = block_features(devices);
    let ring_transfers = features
        .iter()
        .any(|f| f & HOST_FEATURE_BLOCK_DIRECT_RING != 0);
    let devices = rings::build(&ram, &layout, devices, options)?;
    for (area, features) in layout.block_areas().zip(features) {
        ram.store_u64(area + AREA_HOST_FEATURES, features, Ordering::Relaxed)?;
    }
    let doorbell = EventFd::new(EFD_NONBLOCK).map_err(syscall("eventfd"))?;
    let wake = EventFd::new(EFD_NONBLOCK).map_err(syscall("eventfd"))?;
    wait_set
        .add_edge_triggered(wake.as_raw_fd(), GUEST_WAKE_EVENT)
        .map_err(syscall("epoll"))?;
    // Made here, before the forks, so that guest and worker share them.
    let epoll = rings::worker_epoll(&doorbell).map_err(syscall("epoll"))?;
    let tap_set = rings::tap_set(&epoll).map_err(syscall("epoll"))?;
    let tap_control = TapControl {
        worker_epoll: epoll.as_raw_fd(),
        tap_set: tap_set.as_raw_fd(),
    };
    let wake_info = SptWakeInfo {
        magic: SPT_WAKE_INFO_MAGIC,
        features: SPT_FEATURE_GUEST_TAPS,
        worker_epoll: tap_control.worker_epoll,
        tap_set: tap_control.tap_set,
    };
    ram.setup_write(layout.dir_trailer(), bytemuck::bytes_of(&wake_info))?;
    for net in &devices.nets {
        rings::lock_net(net).share_rx_with_guest();
    }
    Ok(SptRings {
        shared,
        doorbell_fd: doorbell.as_raw_fd(),
        tap_control,
        ring_transfers,
        plan: Some(WorkerPlan {
            ram,
            devices,
            options,
            doorbell,
            wake,
            epoll,
            tap_set,
        }),
    })
}

fn run(args: RunArgs) -> Result<i32, TenderError> {
    let kernel = args.kernel.as_str();
    let (file, mut manifest) = unikernel::read(Tender::Spt, kernel)?;
    let mut att = attach::apply_options(Tender::Spt, &args.options, &manifest)?;
    let mem_size = att.mem_mb.unwrap_or(DEFAULT_MEM_MB).saturating_mul(MIB);
    let image = elf::parse_image(&file, mem_size, SPT_GUEST_MIN_BASE)
        .map_err(unikernel::kernel_error(kernel))?;
    attach::complete_manifest(&mut manifest, &mut att)?;
    check_personality()?;
    if att.exec_heap {
        eprintln!(
            "{}: WARNING: The heap and stack will be executable.",
            cli::program()
        );
    }

    let has_device = att.devices.iter().any(|d| !matches!(d, Device::None));
    let want_rings = elf::ring3_flags(&file) & RING3_FLAG_RINGS != 0 && has_device && !att.classic;

    let mut wait_set = WaitSet::new().map_err(syscall("epoll"))?;
    let mut rings = match want_rings {
        true => Some(setup_rings(
            &att.devices,
            mem_size,
            att.ring_options,
            &mut wait_set,
        )?),
        false => None,
    };
    let mut fds = GuestFds {
        epoll: wait_set.epoll_fd(),
        timer: wait_set.timer_fd(),
        taps: Vec::new(),
        blocks: Vec::new(),
        doorbell: rings.as_ref().map(|r| r.doorbell_fd),
        tap_control: rings.as_ref().map(|r| TapControl {
            worker_epoll: r.tap_control.worker_epoll,
            tap_set: r.tap_control.tap_set,
        }),
        ring_transfers: rings.as_ref().is_some_and(|r| r.ring_transfers),
    };
    // With rings the worker holds the devices too; the guest keeps its
    // taps, outside its wait set (it watches them through the tap set), and
    // its block files, for the blocking one-block calls
    // (`HOST_FEATURE_BLOCK_DIRECT`).
    for (index, dev) in att.devices.iter().enumerate() {
        match dev {
            Device::Net(net) => {
                if rings.is_none() {
                    wait_set
                        .add(net.raw_fd(), index as u64)
                        .map_err(syscall("epoll"))?;
                }
                fds.taps.push(net.raw_fd());
            }
            Device::Block(block) => fds.blocks.push(BlockLimits {
                fd: block.raw_fd(),
                block_size: u64::from(block.block_size),
                capacity: block.capacity,
            }),
            Device::None => {}
        }
    }
    let space = GuestSpace::map(mem_size, att.exec_heap)?;
    space.load(&file, &image)?;
    // Freed before the forks: otherwise the supervisor, the guest and the
    // worker would each keep a resident copy of the file.
    drop(file);
    let ring_info = rings.as_ref().map(|r| SptRingInfo {
        magic: SPT_RING_INFO_MAGIC,
        doorbell_fd: r.doorbell_fd,
        ring_dir: r.shared.base(),
    });
    write_boot_info(
        &space,
        &image,
        &manifest,
        &args.guest_args,
        &wait_set,
        ring_info,
    )?;
    let filter = seccomp::guest_filter(&fds)?;

    // SAFETY: getpid has no memory effects.
    let supervisor_pid = unsafe { libc::getpid() };
    // The guest first: it starts while the supervisor forks the worker,
    // which confines itself before it touches the rings (the guest's
    // doorbell kicks wait in the eventfd meanwhile).
    let child = match supervisor::fork()? {
        Fork::Child => {
            supervisor::child_setup(supervisor_pid);
            // The guest takes signals as they come (their default actions).
            supervisor::unblock_watched();
            // The guest's view of the rings, at the addresses the directory
            // gives.
            if let Some(r) = &rings {
                if let Err(err) = r.shared.map_for_guest() {
                    eprintln!("{}: {err}", cli::program());
                    // SAFETY: ends the child at once, as a failed exec would.
                    unsafe { libc::_exit(1) };
                }
            }
            // Open for the guest's life (`launch` never returns); with rings
            // it serves its taps while it waits and makes the blocking
            // one-block calls itself.
            let _guest_devices: Vec<Device> = att.devices;
            if let Err(err) = seccomp::install(&filter) {
                eprintln!("{}: {err}", cli::program());
                // SAFETY: ends the child at once, as a failed exec would.
                unsafe { libc::_exit(1) };
            }
            // SAFETY: the image is loaded, the boot info written and the
            // filter installed; this process is the guest from here on.
            unsafe { launch::launch(image.entry, mem_size) }
        }
        Fork::Parent(child) => child,
    };
    let worker_pid = match rings.as_mut() {
        Some(r) => match supervisor::fork() {
            Ok(Fork::Child) => {
                supervisor::child_setup(supervisor_pid);
                // The worker sees only the ring memory: the guest's image,
                // inherited from the fork, would stay resident here too.
                drop(space);
                let plan = r.plan.take().expect("the worker takes its plan once");
                worker::run(plan)
            }
            Ok(Fork::Parent(pid)) => Some(pid),
            Err(err) => {
                supervisor::kill_and_reap(child);
                return Err(err);
            }
        },
        None => None,
    };
    // The guest and the worker have their own copies of the
    // memory and descriptors. Without rings the supervisor keeps
    // the block files, to sync them when the guest has exited (the
    // worker syncs those it serves).
    drop(space);
    let blocks: Vec<Device> = match rings {
        Some(_) => Vec::new(),
        None => att
            .devices
            .into_iter()
            .filter(|d| matches!(d, Device::Block(_)))
            .collect(),
    };
    drop(wait_set);
    drop(rings);
    let children: Vec<libc::pid_t> = [Some(child), worker_pid].into_iter().flatten().collect();
    let block_fds = DeviceFds::of(&blocks).blocks;
    seccomp::install(&seccomp::supervisor_filter(&children, &block_fds)?)?;
    match supervisor::wait(child, worker_pid)? {
        Verdict::Exit(status) => {
            attach::sync_blocks(&blocks)?;
            Ok(status)
        }
        Verdict::DieLike(sig) => supervisor::die_like(sig),
    }
}
