//! `solo5-muen-peer`: the runner's net and block peers (`peers`, on the
//! host's ring code) as a process of their own, serving a subject's
//! channels mapped from files (`channel_files`): in a Linux subject of a
//! Muen system, the channel files its Muen driver gives it, and here the
//! files of `solo5-muen-runner --channel-files=DIR`. It runs until SIGINT
//! or SIGTERM. Its worker runs under the runner's peers' filter, its main
//! thread, which only waits for the signal, under one of its own
//! (`seccomp::peer_main_filter`).

use std::path::PathBuf;

use crate::attach::{self, Device};
use crate::cli::{self, OptionError, Tender, TenderOption};
use crate::error::{syscall, TenderError};
use crate::muen::channel_files::{self, ChannelFile};
use crate::muen::layout::Role;
use crate::muen::{peers, seccomp};
use crate::rings::engine::EngineChoice;
use crate::{seccomp_rules, signals};

/// Runs `solo5-muen-peer` with `args` (argv); returns only on an error,
/// with the exit status.
pub fn main(args: Vec<String>) -> i32 {
    cli::set_tender(Tender::MuenPeer);
    let program = Tender::MuenPeer.name();
    let options = args.get(1..).unwrap_or_default();
    if options.iter().any(|a| a == "--help") {
        eprint!("{}", cli::usage(Tender::MuenPeer));
        return 1;
    }
    if options.iter().any(|a| a == "--version") {
        eprint!("{}", cli::version(Tender::MuenPeer));
        return 0;
    }
    let err = match serve(options) {
        Ok(never) => match never {},
        Err(err) => err,
    };
    eprintln!("{program}: {err}");
    if matches!(err, TenderError::Usage(_)) {
        eprint!("{}", cli::usage(Tender::MuenPeer));
    }
    1
}

/// What the command line says about one device, by name.
struct DeviceSpec {
    name: String,
    device: Option<Device>,
    block_size: Option<u16>,
    channels: Vec<(Role, PathBuf)>,
}

/// The channels and buffer a device of each kind needs, one file each.
const NET_ROLES: [Role; 2] = [Role::NetIn, Role::NetOut];
const BLOCK_ROLES: [Role; 3] = [Role::BlockRequest, Role::BlockResponse, Role::BlockBuffer];

fn spec<'a>(specs: &'a mut Vec<DeviceSpec>, name: &str) -> &'a mut DeviceSpec {
    let index = match specs.iter().position(|s| s.name == name) {
        Some(index) => index,
        None => {
            specs.push(DeviceSpec {
                name: name.into(),
                device: None,
                block_size: None,
                channels: Vec::new(),
            });
            specs.len() - 1
        }
    };
    &mut specs[index]
}

fn device_error(name: &str, what: &str) -> TenderError {
    TenderError::Usage(format!("Device '{name}': {what}"))
}

/// Parses the options in order, attaching taps and opening block files as
/// it meets them, with the tenders' messages.
fn parse(options: &[String]) -> Result<(EngineChoice, Vec<DeviceSpec>), TenderError> {
    let mut engine = EngineChoice::default();
    let mut specs = Vec::new();
    for arg in options {
        let option = cli::parse_option(Tender::MuenPeer, arg).map_err(|e| match e {
            OptionError::Invalid => TenderError::Usage(format!("Invalid option: `{arg}'")),
            OptionError::Message(msg) => TenderError::Device(msg),
        })?;
        match option {
            TenderOption::Engine(choice) => engine = choice,
            TenderOption::Net { name, iface } => {
                let device = attach::attach_tap(&iface)?;
                spec(&mut specs, &name).device = Some(Device::Net(device));
            }
            TenderOption::Block { name, path } => {
                let device = attach::open_block(&path)?;
                spec(&mut specs, &name).device = Some(Device::Block(device));
            }
            TenderOption::BlockSectorSize { name, size } => {
                spec(&mut specs, &name).block_size = Some(size as u16);
            }
            TenderOption::PeerChannel { name, role, path } => {
                let spec = spec(&mut specs, &name);
                if spec.channels.iter().any(|(r, _)| *r == role) {
                    return Err(device_error(&name, "a channel given twice"));
                }
                spec.channels.push((role, path.into()));
            }
            _ => return Err(TenderError::Usage(format!("Invalid option: `{arg}'"))),
        }
    }
    if specs.is_empty() {
        return Err(TenderError::Usage("No device to serve".into()));
    }
    Ok((engine, specs))
}

/// Checks that each device has exactly the files its kind needs and a
/// valid geometry; the devices by handle and their channel files.
fn devices(specs: Vec<DeviceSpec>) -> Result<(Vec<Device>, Vec<ChannelFile>), TenderError> {
    let mut devices = Vec::new();
    let mut channels = Vec::new();
    for (handle, spec) in specs.into_iter().enumerate() {
        let name = &spec.name;
        let roles: &[Role] = match &spec.device {
            Some(Device::Net(_)) if spec.block_size.is_none() => &NET_ROLES,
            Some(Device::Block(_)) => &BLOCK_ROLES,
            _ => return Err(device_error(name, "give it one --net or one --block")),
        };
        let mut given: Vec<Role> = spec.channels.iter().map(|(role, _)| *role).collect();
        given.sort_by_key(|role| roles.iter().position(|r| r == role));
        if given != roles {
            return Err(device_error(
                name,
                "give it exactly the channel files of its kind",
            ));
        }
        let mut device = spec.device.expect("checked above");
        if let Device::Block(block) = &mut device {
            if let Some(size) = spec.block_size {
                block.block_size = size;
            }
            block.check_geometry(name)?;
        }
        devices.push(device);
        channels.extend(spec.channels.into_iter().map(|(role, path)| ChannelFile {
            device: handle,
            role,
            path,
        }));
    }
    Ok((devices, channels))
}

fn serve(options: &[String]) -> Result<std::convert::Infallible, TenderError> {
    let (engine, specs) = parse(options)?;
    let (devices, channels) = devices(specs)?;
    let (ram, regions) = channel_files::map(&channels)?;
    signals::install().map_err(syscall("sigaction"))?;
    // The peer cannot read the subject's ELF note: it writes paced (one
    // ring per epoch), which every reader survives, upstream's included.
    let peers = peers::start(
        &ram,
        &regions,
        &devices,
        engine,
        peers::NetRxMode::Paced,
        |text| eprintln!("{}: {text}", cli::program()),
    )?
    .expect("every device has a file or a tap");
    seccomp_rules::install_on_this_thread(&seccomp::peer_main_filter(peers.uring)?)?;
    loop {
        // SAFETY: pause(2) only waits for a signal; the handler of SIGINT
        // and SIGTERM ends the process (`signals`).
        unsafe { libc::pause() };
    }
}
