//! `solo5-spt`: runs a Solo5 spt unikernel as a seccomp-confined process,
//! with upstream's memory layout, start-up ABI and system-call whitelist.
//!
//! The tender sets everything up, then forks: the child becomes the
//! unikernel (filter installed, jump to the entry point); the parent stays
//! as a small supervisor that forwards termination signals and ends the way
//! the guest ended, saying so when a signal killed it.

pub mod launch;
pub mod memory;
pub mod seccomp;
pub mod supervisor;

use ringtender_abi::elf_note::AbiTarget;
use ringtender_abi::spt::{
    SptBootInfo, SPT_ABI_VERSION, SPT_BOOT_INFO_BASE, SPT_CMDLINE_SIZE, SPT_GUEST_MIN_BASE,
};

use crate::attach;
use crate::cli::{self, RunArgs, Tender};
use crate::elf::{self, ElfImage};
use crate::error::TenderError;
use crate::hypercall::Device;
use crate::manifest::Manifest;
use crate::poll::WaitSet;

use self::memory::GuestSpace;
use self::seccomp::{BlockLimits, GuestFds};
use self::supervisor::{Ending, Fork};

const MIB: u64 = 1 << 20;
const DEFAULT_MEM_MB: u64 = 512;
/// `personality(2)`'s READ_IMPLIES_EXEC: every readable mapping executable.
const READ_IMPLIES_EXEC: libc::c_int = 0x0040_0000;

/// Runs the tender with `args` (argv) and returns the process exit status.
pub fn main(args: Vec<String>) -> i32 {
    cli::main(Tender::Spt, &args, run)
}

fn kernel_error(kernel: &str) -> impl Fn(elf::ElfError) -> TenderError + '_ {
    move |e| TenderError::Kernel(format!("{kernel}: {e}"))
}

/// Reads and checks the unikernel: an spt executable of our ABI version.
fn read_kernel(kernel: &str) -> Result<(Vec<u8>, Manifest), TenderError> {
    let file = std::fs::read(kernel).map_err(|_| TenderError::KernelOpen {
        path: kernel.to_string(),
    })?;
    let abi = elf::read_abi_note(&file).map_err(kernel_error(kernel))?;
    if abi.abi_target != AbiTarget::Spt as u32 {
        return Err(TenderError::Kernel(format!(
            "{kernel}: Executable is not for the solo5-spt target"
        )));
    }
    if abi.abi_version != SPT_ABI_VERSION {
        return Err(TenderError::Kernel(format!(
            "{kernel}: Executable requests unsupported ABI version {}",
            abi.abi_version
        )));
    }
    let manifest = elf::read_manifest(&file).map_err(kernel_error(kernel))?;
    Ok((file, manifest))
}

/// Refuses a personality that would make all guest memory executable.
fn check_personality() -> Result<(), TenderError> {
    // SAFETY: 0xffffffff queries the personality without changing it.
    let persona = unsafe { libc::personality(0xffff_ffff) };
    if persona >= 0 && persona & READ_IMPLIES_EXEC != 0 {
        return Err(TenderError::Setup(
            "Refusing to run with READ_IMPLIES_EXEC personality".into(),
        ));
    }
    Ok(())
}

/// Writes the boot info, the manifest right after it and the command line
/// after that, at upstream's addresses.
fn write_boot_info(
    space: &GuestSpace,
    image: &ElfImage,
    manifest: &Manifest,
    guest_args: &[String],
    wait_set: &WaitSet,
) -> Result<(), TenderError> {
    let cmdline = guest_args.join(" ");
    if cmdline.len() >= SPT_CMDLINE_SIZE {
        return Err(TenderError::Setup(format!(
            "Guest command line too long (max={} characters)",
            SPT_CMDLINE_SIZE - 1
        )));
    }
    let mft = manifest.to_bytes();
    let mft_addr = SPT_BOOT_INFO_BASE + size_of::<SptBootInfo>() as u64;
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
    space.write(cmdline_addr, &buf)
}

fn run(args: RunArgs) -> Result<i32, TenderError> {
    let kernel = args.kernel.as_str();
    let (file, mut manifest) = read_kernel(kernel)?;
    let mut att = attach::apply_options(Tender::Spt, &args.options, &manifest)?;
    let mem_size = att.mem_mb.unwrap_or(DEFAULT_MEM_MB).saturating_mul(MIB);
    let image =
        elf::parse_image(&file, mem_size, SPT_GUEST_MIN_BASE).map_err(kernel_error(kernel))?;
    attach::complete_manifest(&mut manifest, &mut att)?;
    check_personality()?;
    if att.exec_heap {
        eprintln!(
            "{}: WARNING: The heap and stack will be executable.",
            cli::program()
        );
    }

    let mut wait_set = WaitSet::new().map_err(|e| TenderError::Setup(format!("epoll: {e}")))?;
    let mut fds = GuestFds {
        epoll: wait_set.epoll_fd(),
        timer: wait_set.timer_fd(),
        taps: Vec::new(),
        blocks: Vec::new(),
    };
    for (index, dev) in att.devices.iter().enumerate() {
        match dev {
            Device::Net(net) => {
                wait_set
                    .add(net.raw_fd(), index as u64)
                    .map_err(|e| TenderError::Setup(format!("epoll: {e}")))?;
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
    write_boot_info(&space, &image, &manifest, &args.guest_args, &wait_set)?;
    let filter = seccomp::guest_filter(&fds)?;

    // SAFETY: getpid has no memory effects.
    let supervisor_pid = unsafe { libc::getpid() };
    match supervisor::fork()? {
        Fork::Child => {
            supervisor::child_setup(supervisor_pid);
            if let Err(err) = seccomp::install(&filter) {
                eprintln!("{}: {err}", cli::program());
                // SAFETY: ends the child at once, as a failed exec would.
                unsafe { libc::_exit(1) };
            }
            // SAFETY: the image is loaded, the boot info written and the
            // filter installed; this process is the guest from here on.
            unsafe { launch::launch(image.entry, mem_size) }
        }
        Fork::Parent(child) => {
            // The guest has its own copies of the memory and descriptors.
            drop(space);
            drop(att);
            drop(wait_set);
            match supervisor::wait(child)? {
                Ending::Exited(status) => Ok(status),
                Ending::Killed(sig) => supervisor::die_like(sig),
            }
        }
    }
}
