//! Start-up: from the tender's boot info to the application's start info.

use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

use ringtender_abi::hvt::BootInfo;
use ringtender_abi::solo5::StartInfo;
use ringtender_abi::spt::{SptBootInfo, SptRingInfo, SPT_BOOT_INFO_BASE, SPT_RING_INFO_MAGIC};

use crate::console::{self, Level};
use crate::{clock, cpu, log, mem, muen, platform, rings, spt, tls};

static HVT_BOOT_INFO: AtomicPtr<BootInfo> = AtomicPtr::new(core::ptr::null_mut());
static MANIFEST: AtomicU64 = AtomicU64::new(0);
static SPT_RING_DIR: AtomicU64 = AtomicU64::new(0);

/// The boot info `solo5-hvt` passed (read-only memory, valid for the
/// guest's life); None on spt.
pub fn hvt_info() -> Option<&'static BootInfo> {
    // SAFETY: null, or set once by `start_hvt` to the tender's boot info,
    // which lives in memory mapped read-only and never changes.
    unsafe { HVT_BOOT_INFO.load(Ordering::Relaxed).as_ref() }
}

/// The ring directory `solo5-spt` offers (0 if none); the doorbell is
/// `spt::doorbell_fd`.
pub fn spt_ring_dir() -> u64 {
    SPT_RING_DIR.load(Ordering::Relaxed)
}

/// Address of the manifest: the tender-completed one on hvt and spt, the
/// built-in one (the MFT1 note) on muen.
pub fn manifest() -> u64 {
    MANIFEST.load(Ordering::Relaxed)
}

/// The `--solo5:` options recognised at the start of the command line.
const LEVEL_OPTIONS: [(&[u8], Level); 5] = [
    (b"--solo5:quiet", Level::Error),
    (b"--solo5:error", Level::Error),
    (b"--solo5:warn", Level::Warn),
    (b"--solo5:info", Level::Info),
    (b"--solo5:debug", Level::Debug),
];

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Consumes leading `--solo5:<level>` options; returns the offset of the
/// application's part of `cmdline`.
fn parse_cmdline(cmdline: &[u8]) -> usize {
    let mut pos = 0;
    loop {
        while pos < cmdline.len() && is_space(cmdline[pos]) {
            pos += 1;
        }
        let rest = &cmdline[pos..];
        let Some((opt, level)) = LEVEL_OPTIONS.iter().find(|(opt, _)| {
            rest.starts_with(opt) && rest.get(opt.len()).is_none_or(|&b| is_space(b))
        }) else {
            return pos;
        };
        console::set_level(*level);
        pos += opt.len();
    }
}

fn c_str_len(ptr: *const u8) -> usize {
    let mut len = 0;
    // SAFETY: the tender NUL-terminates the command line inside its buffer.
    while unsafe { *ptr.add(len) } != 0 {
        len += 1;
    }
    len
}

/// Runs the bindings' start-up under `solo5-hvt` and returns what
/// `solo5_app_main` gets.
///
/// # Safety
/// `boot` must be the boot info pointer the tender passed in RDI.
pub unsafe fn start_hvt(boot: *const BootInfo) -> StartInfo {
    HVT_BOOT_INFO.store(boot as *mut BootInfo, Ordering::Relaxed);
    // SAFETY: the tender's boot info, valid for the guest's life.
    let info = unsafe { &*boot };
    MANIFEST.store(info.mft, Ordering::Relaxed);
    // Ring 0 under a tender that starts every guest there (upstream's):
    // our own descriptor tables and trap handlers first, as upstream's
    // bindings install theirs.
    cpu::init();
    tls::set_base(0);
    clock::init(info.cpu_cycle_freq);
    let target = match cpu::cpl() {
        0 => "hvt, ring 0",
        _ => "hvt, ring 3",
    };
    start(info.cmdline, info.mem_size, target)
}

/// Runs the bindings' start-up under `solo5-spt` and returns what
/// `solo5_app_main` gets.
///
/// # Safety
/// `boot` must be the boot info pointer the tender passed in RDI.
pub unsafe fn start_spt(boot: *const SptBootInfo) -> StartInfo {
    // SAFETY: the tender's boot info, valid for the guest's life.
    let info = unsafe { boot.read() };
    MANIFEST.store(info.mft, Ordering::Relaxed);
    let ext_addr = SPT_BOOT_INFO_BASE + size_of::<SptBootInfo>() as u64;
    let mut doorbell = -1;
    // Our extension sits between the boot info and the manifest; under
    // upstream's tender the manifest starts right there.
    if info.mft == ext_addr + size_of::<SptRingInfo>() as u64 {
        // SAFETY: the tender wrote the boot block up to the manifest.
        let ext = unsafe { (ext_addr as *const SptRingInfo).read() };
        if ext.magic == SPT_RING_INFO_MAGIC {
            SPT_RING_DIR.store(ext.ring_dir, Ordering::Relaxed);
            doorbell = ext.doorbell_fd;
        }
    }
    spt::init(info.epollfd, info.timerfd, doorbell);
    tls::set_base(0);
    start(info.cmdline, info.mem_size, "spt")
}

/// Runs the bindings' start-up as a Muen subject and returns what
/// `solo5_app_main` gets: the console first (so everything after it is
/// seen), then the CPU tables, the TLS base, the built-in manifest and the
/// clock, as upstream's muen bindings do.
///
/// # Safety
/// `boot` must be the boot info pointer Muen passed in RDI.
pub unsafe fn start_muen(boot: *const BootInfo) -> StartInfo {
    muen::console::init();
    muen::cpu::init();
    let ring0 = muen::cpu::cpl() == 0;
    if ring0 {
        tls::set_base(0);
    }
    let Some(mft) = muen::builtin_manifest() else {
        log!(
            Error,
            "Solo5: Built-in manifest validation failed. Aborting.\n"
        );
        platform::halt(255);
    };
    MANIFEST.store(mft, Ordering::Relaxed);
    muen::clock::init();
    // SAFETY: the caller's contract.
    let info = unsafe { muen::boot_info(boot) };
    let target = if ring0 {
        "muen, ring 0"
    } else {
        "muen, ring 3"
    };
    start(info.cmdline, info.mem_size, target)
}

/// What every target does once their boot info is read: the command line's
/// log options, the banner, the rings and the heap.
fn start(cmdline_addr: u64, mem_size: u64, target: &str) -> StartInfo {
    let cmdline_ptr = cmdline_addr as *const u8;
    // SAFETY: the tender wrote a NUL-terminated string at `cmdline`.
    let cmdline = unsafe { core::slice::from_raw_parts(cmdline_ptr, c_str_len(cmdline_ptr)) };
    let app_cmdline = cmdline_addr + parse_cmdline(cmdline) as u64;
    // The banner and memory map go out as one console write (one exit on
    // hvt instead of seven); `platform::halt` releases them on an abort.
    console::hold();
    log!(
        Info,
        "Solo5: ringtender bindings version {} ({})\n",
        env!("CARGO_PKG_VERSION"),
        target
    );
    if rings::init() {
        log!(Info, "Solo5: device I/O through ringtender rings\n");
    }
    let Some((heap_start, heap_size)) = mem::heap(mem_size) else {
        log!(Error, "Solo5: ABORT: mem.rs: Not enough memory\n");
        platform::halt(255);
    };
    mem::log_map(mem_size, heap_start);
    console::release();
    StartInfo {
        cmdline: app_cmdline,
        heap_start,
        heap_size,
    }
}
