//! Device attachment shared by the tenders: options applied in order (taps
//! and block files opened with upstream's messages), then the manifest
//! completed from what was attached.

use std::os::fd::RawFd;

use ringtender_abi::mft::{MFT_DEV_BLOCK_BASIC, MFT_DEV_NET_BASIC, MFT_RESERVED_FIRST};

use crate::block::BlockDevice;
use crate::cli::{self, OptionError, Tender, TenderOption};
use crate::error::{strerror, syscall, TenderError};
use crate::manifest::Manifest;
use crate::net::NetDevice;
use crate::rings::RingOptions;
use crate::tap::{self, Tap};

/// A manifest entry's backing device, indexed by handle.
pub enum Device {
    /// The reserved entry, or nothing attached.
    None,
    /// A network device.
    Net(NetDevice),
    /// A block device.
    Block(BlockDevice),
}

/// Host descriptors of the attached devices, for the seccomp filters.
#[derive(Default)]
pub struct DeviceFds {
    /// Tap descriptors, in handle order.
    pub taps: Vec<RawFd>,
    /// Block file descriptors, in handle order.
    pub blocks: Vec<RawFd>,
}

impl DeviceFds {
    /// The descriptors behind `devices`.
    pub fn of(devices: &[Device]) -> Self {
        let mut fds = Self::default();
        for dev in devices {
            match dev {
                Device::Net(net) => fds.taps.push(net.raw_fd()),
                Device::Block(block) => fds.blocks.push(block.raw_fd()),
                Device::None => {}
            }
        }
        fds
    }
}

/// What the command line asked for, devices attached, before the manifest
/// is completed.
pub struct Attachments {
    /// One per manifest entry (index = handle).
    pub devices: Vec<Device>,
    /// `--mem`, if given.
    pub mem_mb: Option<u64>,
    /// `--classic` (hvt).
    pub classic: bool,
    /// `--engine`, `--net-lossy` (hvt).
    pub ring_options: RingOptions,
    /// `--x-exec-heap` (spt).
    pub exec_heap: bool,
    /// `--exit-event` (muen).
    pub exit_event: bool,
    /// `--strict` (muen): the subject at CPL 0 whatever its RNG3 note says.
    pub strict: bool,
    /// `--channel-files=DIR` (muen).
    pub channel_files: Option<String>,
    macs: Vec<Option<[u8; 6]>>,
    sector_sizes: Vec<Option<u16>>,
}

fn not_declared(name: &str) -> TenderError {
    TenderError::Device(format!("Resource not declared in manifest: '{name}'"))
}

/// Applies `tender`'s options in order: opens taps and block files, records
/// the rest. The first bad one ends the tender with upstream's message.
pub fn apply_options(
    tender: Tender,
    options: &[String],
    manifest: &Manifest,
) -> Result<Attachments, TenderError> {
    let n = manifest.entries().len();
    let mut att = Attachments {
        devices: (0..n).map(|_| Device::None).collect(),
        mem_mb: None,
        classic: false,
        ring_options: RingOptions::default(),
        exec_heap: false,
        exit_event: false,
        strict: false,
        channel_files: None,
        macs: vec![None; n],
        sector_sizes: vec![None; n],
    };
    for arg in options {
        let option = cli::parse_option(tender, arg).map_err(|e| match e {
            OptionError::Invalid => TenderError::Usage(format!("Invalid option: `{arg}'")),
            OptionError::Message(msg) => TenderError::Device(msg),
        })?;
        match option {
            TenderOption::Mem(mb) => att.mem_mb = Some(mb),
            TenderOption::Classic => att.classic = true,
            TenderOption::Engine(choice) => att.ring_options.engine = choice,
            TenderOption::NetLossy => att.ring_options.net_lossy = true,
            TenderOption::XExecHeap => att.exec_heap = true,
            TenderOption::ExitEvent => att.exit_event = true,
            TenderOption::Strict => att.strict = true,
            TenderOption::ChannelFiles(dir) => att.channel_files = Some(dir),
            TenderOption::PeerChannel { .. } => {
                return Err(TenderError::Usage(format!("Invalid option: `{arg}'")))
            }
            TenderOption::Net { name, iface } => {
                let index = manifest
                    .find_by_name(&name, MFT_DEV_NET_BASIC)
                    .ok_or_else(|| not_declared(&name))?;
                att.devices[index] = Device::Net(attach_tap(&iface)?);
            }
            TenderOption::NetMac { name, mac } => {
                let index = manifest
                    .find_by_name(&name, MFT_DEV_NET_BASIC)
                    .ok_or_else(|| not_declared(&name))?;
                att.macs[index] = Some(mac);
            }
            TenderOption::Block { name, path } => {
                let index = manifest
                    .find_by_name(&name, MFT_DEV_BLOCK_BASIC)
                    .ok_or_else(|| not_declared(&name))?;
                att.devices[index] = Device::Block(open_block(&path)?);
            }
            TenderOption::BlockSectorSize { name, size } => {
                let index = manifest
                    .find_by_name(&name, MFT_DEV_BLOCK_BASIC)
                    .ok_or_else(|| not_declared(&name))?;
                att.sector_sizes[index] = Some(size as u16);
            }
        }
    }
    Ok(att)
}

/// Attaches tap `iface` (a name or `@FD`), with upstream's message.
pub fn attach_tap(iface: &str) -> Result<NetDevice, TenderError> {
    let tap = Tap::attach(iface).map_err(|e| {
        TenderError::Device(format!(
            "Could not attach interface: {iface}: {}",
            strerror(&e)
        ))
    })?;
    Ok(NetDevice { tap, mac: [0; 6] })
}

/// Opens the block file at `path`, with upstream's message.
pub fn open_block(path: &str) -> Result<BlockDevice, TenderError> {
    BlockDevice::open(path).map_err(|e| {
        TenderError::Device(format!(
            "Could not open block device: {path}: {}",
            strerror(&e)
        ))
    })
}

/// `fdatasync`s the backing file of every block device (at the guest's
/// exit, classic path).
pub fn sync_blocks(devices: &[Device]) -> Result<(), TenderError> {
    for dev in devices {
        if let Device::Block(block) = dev {
            block.sync()?;
        }
    }
    Ok(())
}

/// Completes the manifest from the attached devices; every declared device
/// must be attached.
pub fn complete_manifest(
    manifest: &mut Manifest,
    att: &mut Attachments,
) -> Result<(), TenderError> {
    let mut missing = Vec::new();
    for (index, entry) in manifest.entries_mut().iter_mut().enumerate() {
        if entry.mft_type >= MFT_RESERVED_FIRST {
            continue;
        }
        let name = String::from_utf8_lossy(entry.name_bytes()).into_owned();
        match &mut att.devices[index] {
            Device::Net(dev) => {
                dev.mac = match att.macs[index] {
                    Some(mac) => mac,
                    None => tap::random_mac().map_err(syscall("/dev/urandom"))?,
                };
                entry.set_net_mac(dev.mac);
                entry.set_net_mtu(dev.tap.mtu.min(u32::from(u16::MAX)) as u16);
                entry.hostfd = dev.raw_fd() as u64;
                entry.attached = 1;
            }
            Device::Block(dev) => {
                if let Some(size) = att.sector_sizes[index] {
                    dev.block_size = size;
                }
                dev.check_geometry(&name)?;
                entry.set_block_capacity(dev.capacity);
                entry.set_block_size(dev.block_size);
                entry.hostfd = dev.raw_fd() as u64;
                entry.attached = 1;
            }
            Device::None => {
                let kind = if entry.mft_type == MFT_DEV_NET_BASIC {
                    "NET_BASIC"
                } else {
                    "BLOCK_BASIC"
                };
                missing.push(format!(
                    "Device '{name}' of type {kind} declared but not attached."
                ));
            }
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    for line in &missing {
        eprintln!("{}: {line}", cli::program());
    }
    Err(TenderError::Device(
        "All declared devices must be attached. See --help for syntax.".into(),
    ))
}
