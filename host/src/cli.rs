//! The command lines of `solo5-hvt`, `solo5-spt` and `solo5-muen-runner`,
//! with upstream's syntax and messages.

use std::sync::OnceLock;

/// Which tender a command line is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tender {
    /// `solo5-hvt`.
    Hvt,
    /// `solo5-hvt-debug`: `solo5-hvt` with the GDB stub and core dumps
    /// (`crate::hvt::debug`).
    HvtDebug,
    /// `solo5-spt`.
    Spt,
    /// `solo5-muen-runner`: a Muen environment on KVM for one Solo5 muen
    /// subject (not Muen itself, hence "runner").
    Muen,
    /// `solo5-muen-peer`: the net and block peers of a Solo5 muen subject
    /// as a process of their own, over channel files it maps (in a Linux
    /// subject of a Muen system, or beside the runner's `--channel-files`).
    MuenPeer,
}

impl Tender {
    /// The program name, as messages start with it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Hvt => "solo5-hvt",
            Self::HvtDebug => "solo5-hvt-debug",
            Self::Spt => "solo5-spt",
            Self::Muen => "solo5-muen-runner",
            Self::MuenPeer => "solo5-muen-peer",
        }
    }

    /// Whether `option` is one of this tender's.
    fn accepts(self, option: &TenderOption) -> bool {
        if self == Self::MuenPeer {
            return matches!(
                option,
                TenderOption::Engine(_)
                    | TenderOption::Net { .. }
                    | TenderOption::Block { .. }
                    | TenderOption::BlockSectorSize { .. }
                    | TenderOption::PeerChannel { .. }
            );
        }
        match option {
            TenderOption::XExecHeap => self == Self::Spt,
            TenderOption::Classic | TenderOption::NetLossy | TenderOption::NetMac { .. } => {
                self != Self::Muen
            }
            TenderOption::ExitEvent | TenderOption::Strict | TenderOption::ChannelFiles(_) => {
                self == Self::Muen
            }
            TenderOption::PeerChannel { .. } => false,
            TenderOption::Mem(_)
            | TenderOption::Engine(_)
            | TenderOption::Net { .. }
            | TenderOption::Block { .. }
            | TenderOption::BlockSectorSize { .. } => true,
        }
    }
}

static TENDER: OnceLock<Tender> = OnceLock::new();

/// Records which tender this process is (once, at the start of `main`), for
/// the messages of code both tenders share.
pub fn set_tender(tender: Tender) {
    let _ = TENDER.set(tender);
}

/// The program name of this process's tender (`solo5-hvt` unless told).
pub fn program() -> &'static str {
    TENDER.get().copied().unwrap_or(Tender::Hvt).name()
}

/// The shared `main` of the tenders: `--help`, `--version` and a missing
/// KERNEL are answered here, a run goes to `run`, and its error becomes one
/// line on stderr (plus the usage text for a bad option) and status 1.
pub fn main(
    tender: Tender,
    args: &[String],
    run: impl FnOnce(RunArgs) -> Result<i32, crate::error::TenderError>,
) -> i32 {
    set_tender(tender);
    let program = tender.name();
    let args = match with_env_options(tender, args) {
        Ok(args) => args,
        Err(msg) => {
            eprintln!("{program}: {msg}");
            eprint!("{}", usage(tender));
            return 1;
        }
    };
    match parse_command(&args) {
        Command::Help => {
            eprint!("{}", usage(tender));
            1
        }
        Command::Version => {
            eprint!("{}", version(tender));
            0
        }
        Command::MissingKernel => {
            eprintln!("{program}: Missing KERNEL operand");
            eprint!("{}", usage(tender));
            1
        }
        Command::Run(run_args) => match run(run_args) {
            Ok(status) => status,
            Err(crate::error::TenderError::Usage(msg)) => {
                eprintln!("{program}: {msg}");
                eprint!("{}", usage(tender));
                1
            }
            Err(err) => {
                eprintln!("{program}: {err}");
                1
            }
        },
    }
}

/// The environment variable whose words `solo5-hvt` and `solo5-spt` take as
/// options before the command line's, for orchestrators that build the
/// command line themselves (`docs/deployment.md`). Only ringtender's own
/// options: `--classic`, `--engine=`, `--net-lossy`.
pub const OPTIONS_ENV: &str = "RINGTENDER_OPTIONS";

/// `args` with the options of [`OPTIONS_ENV`] (none for the muen runner)
/// after the program name, or the message naming a word that is not one
/// of those options.
fn with_env_options(tender: Tender, args: &[String]) -> Result<Vec<String>, String> {
    let mut all = args.to_vec();
    let value = match std::env::var_os(OPTIONS_ENV) {
        Some(value) if tender != Tender::Muen && !all.is_empty() => value,
        _ => return Ok(all),
    };
    let value = value.to_string_lossy();
    let words = value.split_whitespace().map(|word| match word {
        "--classic" | "--net-lossy" => Ok(word.to_string()),
        _ if word.starts_with("--engine=") => Ok(word.to_string()),
        _ => Err(format!("{OPTIONS_ENV}: Invalid option: `{word}'")),
    });
    let words = words.collect::<Result<Vec<_>, _>>()?;
    all.splice(1..1, words);
    Ok(all)
}

/// What the first pass over the arguments found.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    /// `--help`: print usage, exit 1.
    Help,
    /// `--version`: print version, exit 0.
    Version,
    /// No KERNEL operand.
    MissingKernel,
    /// Run KERNEL.
    Run(RunArgs),
}

/// Arguments of a run.
#[derive(Debug, PartialEq, Eq)]
pub struct RunArgs {
    /// Tender options, in order.
    pub options: Vec<String>,
    /// Path of the unikernel.
    pub kernel: String,
    /// Everything after the kernel: the guest command line.
    pub guest_args: Vec<String>,
}

/// One tender option.
#[derive(Debug, PartialEq, Eq)]
pub enum TenderOption {
    /// `--mem=MB`.
    Mem(u64),
    /// `--net:NAME=IFACE` or `--net:NAME=@FD`.
    Net {
        /// Manifest name.
        name: String,
        /// Interface name or `@FD`.
        iface: String,
    },
    /// `--net-mac:NAME=HWADDR`.
    NetMac {
        /// Manifest name.
        name: String,
        /// The address.
        mac: [u8; 6],
    },
    /// `--block:NAME=PATH`.
    Block {
        /// Manifest name.
        name: String,
        /// Backing file.
        path: String,
    },
    /// `--block-sector-size:NAME=SIZE`.
    BlockSectorSize {
        /// Manifest name.
        name: String,
        /// Sector size in bytes.
        size: u64,
    },
    /// `--classic`: serve devices through hypercalls only, no rings.
    Classic,
    /// `--engine=uring|portable`: force the rings' I/O engine.
    Engine(crate::rings::engine::EngineChoice),
    /// `--net-lossy`: drop frames for a full rx ring instead of leaving them
    /// queued in the tap, and count them.
    NetLossy,
    /// `--x-exec-heap` (spt): map the heap and stack executable.
    XExecHeap,
    /// `--exit-event` (muen): publish the "solo5_exit" event, so the
    /// subject ends with a `vmcall`, as a resettable unikernel on Muen does.
    ExitEvent,
    /// `--strict` (muen): start the subject at CPL 0 exactly as Muen does,
    /// also when it is one of our own binaries (which run at CPL 3 by
    /// default).
    Strict,
    /// `--channel-files=DIR` (muen): back each device's channels and
    /// buffer with a file the runner creates in DIR, and leave serving them
    /// to `solo5-muen-peer`.
    ChannelFiles(String),
    /// `--net-in:NAME=FILE` and the like (`solo5-muen-peer`): the file of
    /// one of device NAME's channels or its buffer.
    PeerChannel {
        /// Device name.
        name: String,
        /// Which channel or buffer (by the subject's region it is).
        role: crate::muen::layout::Role,
        /// The file to map.
        path: String,
    },
}

/// `solo5-muen-peer`'s channel options, with the subject region each names.
pub const PEER_CHANNEL_OPTIONS: [(&str, crate::muen::layout::Role); 5] = {
    use crate::muen::layout::Role;
    [
        ("--net-in:", Role::NetIn),
        ("--net-out:", Role::NetOut),
        ("--block-request:", Role::BlockRequest),
        ("--block-response:", Role::BlockResponse),
        ("--block-buffer:", Role::BlockBuffer),
    ]
};

/// An option the tender could not accept.
#[derive(Debug, PartialEq, Eq)]
pub enum OptionError {
    /// Unknown or malformed option: "Invalid option" plus usage.
    Invalid,
    /// A specific message (no usage).
    Message(String),
}

/// First pass: finds `--help`, `--version` and the KERNEL operand.
pub fn parse_command(args: &[String]) -> Command {
    let mut options = Vec::new();
    let mut iter = args.iter().skip(1);
    while let Some(arg) = iter.next() {
        if arg == "--" {
            return match iter.next() {
                Some(kernel) => run(options, kernel, iter),
                None => Command::MissingKernel,
            };
        }
        if !arg.starts_with('-') {
            return run(options, arg, iter);
        }
        match arg.as_str() {
            "--help" => return Command::Help,
            "--version" => return Command::Version,
            _ => options.push(arg.clone()),
        }
    }
    Command::MissingKernel
}

fn run<'a>(options: Vec<String>, kernel: &str, rest: impl Iterator<Item = &'a String>) -> Command {
    Command::Run(RunArgs {
        options,
        kernel: kernel.to_string(),
        guest_args: rest.cloned().collect(),
    })
}

fn valid_name(name: &str) -> bool {
    (1..=ringtender_abi::mft::MFT_NAME_MAX).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Splits `PREFIX NAME=VALUE` with a valid NAME.
fn name_value<'a>(arg: &'a str, prefix: &str) -> Option<Result<(&'a str, &'a str), OptionError>> {
    let rest = arg.strip_prefix(prefix)?;
    let parsed = rest
        .split_once('=')
        .filter(|(name, value)| valid_name(name) && !value.is_empty())
        .ok_or(OptionError::Invalid);
    Some(parsed)
}

/// Parses one option of `tender`.
pub fn parse_option(tender: Tender, arg: &str) -> Result<TenderOption, OptionError> {
    let option = parse_any_option(arg)?;
    if tender.accepts(&option) {
        Ok(option)
    } else {
        Err(OptionError::Invalid)
    }
}

fn parse_any_option(arg: &str) -> Result<TenderOption, OptionError> {
    // Upstream compares the first 13 characters only.
    if arg.starts_with("--x-exec-heap") {
        return Ok(TenderOption::XExecHeap);
    }
    if let Some(value) = arg.strip_prefix("--mem=") {
        return match value.parse::<u64>() {
            Ok(mb) if mb > 0 && mb < (1 << 44) => Ok(TenderOption::Mem(mb)),
            _ => Err(OptionError::Message("Malformed argument to --mem".into())),
        };
    }
    if arg == "--classic" {
        return Ok(TenderOption::Classic);
    }
    if arg == "--exit-event" {
        return Ok(TenderOption::ExitEvent);
    }
    if arg == "--strict" {
        return Ok(TenderOption::Strict);
    }
    if let Some(dir) = arg.strip_prefix("--channel-files=") {
        if dir.is_empty() {
            return Err(OptionError::Invalid);
        }
        return Ok(TenderOption::ChannelFiles(dir.into()));
    }
    for (prefix, role) in PEER_CHANNEL_OPTIONS {
        if let Some(parsed) = name_value(arg, prefix) {
            let (name, path) = parsed?;
            return Ok(TenderOption::PeerChannel {
                name: name.into(),
                role,
                path: path.into(),
            });
        }
    }
    if arg == "--net-lossy" {
        return Ok(TenderOption::NetLossy);
    }
    if let Some(value) = arg.strip_prefix("--engine=") {
        use crate::rings::engine::EngineChoice;
        return match value {
            "uring" => Ok(TenderOption::Engine(EngineChoice::Uring)),
            "portable" => Ok(TenderOption::Engine(EngineChoice::Portable)),
            _ => Err(OptionError::Invalid),
        };
    }
    if let Some(parsed) = name_value(arg, "--net-mac:") {
        let (name, value) = parsed?;
        let mac = crate::tap::parse_mac(value)
            .ok_or_else(|| OptionError::Message(format!("Malformed mac address: {value}")))?;
        return Ok(TenderOption::NetMac {
            name: name.into(),
            mac,
        });
    }
    if let Some(parsed) = name_value(arg, "--net:") {
        let (name, iface) = parsed?;
        if iface.len() > 19 {
            return Err(OptionError::Invalid);
        }
        return Ok(TenderOption::Net {
            name: name.into(),
            iface: iface.into(),
        });
    }
    if let Some(parsed) = name_value(arg, "--block-sector-size:") {
        let (name, value) = parsed?;
        let size = value.parse::<u64>().map_err(|_| OptionError::Invalid)?;
        if !crate::block::valid_block_size(size) {
            return Err(OptionError::Message(
                "Block size must be a multiple of 2 greater than or equal 512".into(),
            ));
        }
        return Ok(TenderOption::BlockSectorSize {
            name: name.into(),
            size,
        });
    }
    if let Some(parsed) = name_value(arg, "--block:") {
        let (name, path) = parsed?;
        if path.len() > 4096 || path.contains(char::is_whitespace) {
            return Err(OptionError::Invalid);
        }
        return Ok(TenderOption::Block {
            name: name.into(),
            path: path.into(),
        });
    }
    Err(OptionError::Invalid)
}

/// `solo5-hvt`'s usage text for the program `$name` with the extra
/// module names `$modules` and the lines of their options `$options`.
macro_rules! hvt_usage {
    ($name:literal, $modules:literal, $options:literal) => {
        concat!(
            "usage: ",
            $name,
            " [ CORE OPTIONS ] [ MODULE OPTIONS ] [ -- ] KERNEL [ ARGS ]
KERNEL is the filename of the unikernel to run.
ARGS are optional arguments passed to KERNEL.
Core options:
  [ --mem=512 ] (guest memory in MB)
  [ --classic ] (serve devices through hypercalls only, no rings)
  [ --engine=uring|portable ] (I/O engine of the rings; default io_uring if available)
  [ --net-lossy ] (drop and count frames arriving while a guest's receive ring is full)
    --help (display this help)
    --version (display version information)
Compiled-in modules: net block",
            $modules,
            "
Compiled-in module options:
  [ --net:NAME=IFACE | @NN ] (attach tap at IFACE or at fd @NN as network NAME)
  [ --net-mac:NAME=HWADDR ] (set HWADDR for network NAME)
  [ --block:NAME=PATH ] (attach block device/file at PATH as block storage NAME)
  [ --block-sector-size:NAME=SIZE ] (set the sector size of block storage NAME)
",
            $options,
            "Environment:
  [ RINGTENDER_OPTIONS=\"--classic --engine=uring|portable --net-lossy\" ] (options taken before the command line's)
"
        )
    };
}

/// The `--help` text of `tender`.
pub fn usage(tender: Tender) -> &'static str {
    match tender {
        Tender::Hvt => hvt_usage!("solo5-hvt", "", ""),
        Tender::HvtDebug => hvt_usage!(
            "solo5-hvt-debug",
            " gdb dumpcore",
            "  [ --gdb ] (wait for GDB before the guest's first instruction)
  [ --gdb-port=1234 ] (TCP port on 127.0.0.1 the GDB stub listens on)
  [ --dumpcore=DIR ] (write a core file of the guest into DIR on abort or fatal trap)
"
        ),
        Tender::Spt => spt_usage(),
        Tender::Muen => muen_usage(),
        Tender::MuenPeer => muen_peer_usage(),
    }
}

fn muen_usage() -> &'static str {
    "usage: solo5-muen-runner [ CORE OPTIONS ] [ MODULE OPTIONS ] [ -- ] KERNEL [ ARGS ]
KERNEL is the filename of the Solo5 muen unikernel to run as a Muen subject on KVM.
ARGS are optional arguments passed to KERNEL (its boot parameters).
Core options:
  [ --mem=512 ] (size of the subject's \"ram\" region in MB)
  [ --exit-event ] (publish the \"solo5_exit\" event: the subject ends with vmcall)
  [ --strict ] (start the subject at CPL 0 as Muen does, also one built with ringtender's
      bindings, which otherwise runs at CPL 3; slow where ring-0 code is emulated)
  [ --engine=uring|portable ] (I/O engine of the net and block peers; default io_uring if available)
  [ --channel-files=DIR ] (create the devices' channels as files in DIR, served by solo5-muen-peer)
    --help (display this help)
    --version (display version information)
Compiled-in modules: net block
Compiled-in module options:
  [ --net:NAME=IFACE | @NN ] (serve the channels of network NAME from tap IFACE or fd @NN)
  [ --block:NAME=PATH ] (serve muenblock device NAME from the file at PATH)
  [ --block-sector-size:NAME=SIZE ] (set the block length of device NAME)
"
}

fn muen_peer_usage() -> &'static str {
    "usage: solo5-muen-peer [ --engine=uring|portable ] DEVICE OPTIONS...
Serves the net and block channels of a Solo5 muen subject, mapped from files
(a Muen Linux subject's channel files, or solo5-muen-runner --channel-files).
Runs until SIGINT or SIGTERM.
Net device NAME (all three options):
    --net:NAME=IFACE | @NN (tap the frames go to and come from)
    --net-in:NAME=FILE (the subject's NAME|in channel: the peer writes it)
    --net-out:NAME=FILE (the subject's NAME|out channel: the peer reads it)
Block device NAME (all four options):
    --block:NAME=PATH (the file served as the device)
  [ --block-sector-size:NAME=SIZE ] (its block length; default 512)
    --block-request:NAME=FILE (the subject's NAME|request channel)
    --block-response:NAME=FILE (the subject's NAME|response channel)
    --block-buffer:NAME=FILE (the subject's NAME|buffer region)
    --help (display this help)
    --version (display version information)
"
}

fn spt_usage() -> &'static str {
    "usage: solo5-spt [ CORE OPTIONS ] [ MODULE OPTIONS ] [ -- ] KERNEL [ ARGS ]
KERNEL is the filename of the unikernel to run.
ARGS are optional arguments passed to KERNEL.
Core options:
  [ --mem=512 ] (guest memory in MB)
    --help (display this help)
    --version (display version information)
  [ --classic ] (the guest makes its own device system calls, no rings)
  [ --engine=uring|portable ] (I/O engine of the rings; default io_uring if available)
  [ --net-lossy ] (drop and count frames arriving while a guest's receive ring is full)
Compiled-in modules: core net block
Compiled-in module options:
  [ --x-exec-heap ] (make the heap and stack executable; dangerous, not recommended)
  [ --net:NAME=IFACE | @NN ] (attach tap at IFACE or at fd @NN as network NAME)
  [ --net-mac:NAME=HWADDR ] (set HWADDR for network NAME)
  [ --block:NAME=PATH ] (attach block device/file at PATH as block storage NAME)
  [ --block-sector-size:NAME=SIZE ] (set the sector size of block storage NAME)
Environment:
  [ RINGTENDER_OPTIONS=\"--classic --engine=uring|portable --net-lossy\" ] (options taken before the command line's)
"
}

/// The `--version` text; orchestrators parse the `ABI version` line.
pub fn version(tender: Tender) -> String {
    let (abi, kind) = match tender {
        Tender::Hvt | Tender::HvtDebug => (ringtender_abi::hvt::HVT_ABI_VERSION, " tender"),
        Tender::Spt => (ringtender_abi::spt::SPT_ABI_VERSION, " tender"),
        Tender::Muen | Tender::MuenPeer => (ringtender_muen_compat::subject::MUEN_ABI_VERSION, ""),
    };
    format!(
        "{}{kind}, version ringtender-{}\nABI version {abi}\n",
        tender.name(),
        env!("CARGO_PKG_VERSION"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn first_pass_finds_kernel_and_guest_args() {
        let cmd = parse_command(&args(&["hvt", "--mem=8", "k.hvt", "--x", "y"]));
        assert_eq!(
            cmd,
            Command::Run(RunArgs {
                options: args(&["--mem=8"]),
                kernel: "k.hvt".into(),
                guest_args: args(&["--x", "y"])
            })
        );
        let cmd = parse_command(&args(&["hvt", "--", "-k.hvt"]));
        assert!(matches!(cmd, Command::Run(r) if r.kernel == "-k.hvt"));
        assert_eq!(
            parse_command(&args(&["hvt", "--mem=8"])),
            Command::MissingKernel
        );
        assert_eq!(
            parse_command(&args(&["hvt", "--version", "k"])),
            Command::Version
        );
        assert_eq!(parse_command(&args(&["hvt", "--help"])), Command::Help);
    }

    #[test]
    fn options_parse_as_upstream() {
        assert_eq!(
            parse_option(Tender::Hvt, "--mem=16"),
            Ok(TenderOption::Mem(16))
        );
        assert!(matches!(
            parse_option(Tender::Hvt, "--mem=0"),
            Err(OptionError::Message(_))
        ));
        assert!(matches!(
            parse_option(Tender::Hvt, "--mem=x"),
            Err(OptionError::Message(_))
        ));
        assert_eq!(
            parse_option(Tender::Hvt, "--net:service0=tap100"),
            Ok(TenderOption::Net {
                name: "service0".into(),
                iface: "tap100".into()
            })
        );
        assert_eq!(
            parse_option(Tender::Hvt, "--net:bad-name=tap0"),
            Err(OptionError::Invalid)
        );
        assert_eq!(
            parse_option(Tender::Hvt, "--block-sector-size:storage=4096"),
            Ok(TenderOption::BlockSectorSize {
                name: "storage".into(),
                size: 4096
            })
        );
        assert!(matches!(
            parse_option(Tender::Hvt, "--block-sector-size:storage=521"),
            Err(OptionError::Message(_))
        ));
        assert!(matches!(
            parse_option(Tender::Hvt, "--block-sector-size:storage=256"),
            Err(OptionError::Message(_))
        ));
        assert_eq!(
            parse_option(Tender::Hvt, "--bogus"),
            Err(OptionError::Invalid)
        );
        assert!(version(Tender::Hvt).contains("\nABI version 2\n"));
        assert!(version(Tender::Spt).starts_with("solo5-spt tender"));
    }

    #[test]
    fn options_belong_to_their_tender() {
        assert_eq!(
            parse_option(Tender::Spt, "--x-exec-heap"),
            Ok(TenderOption::XExecHeap)
        );
        assert_eq!(
            parse_option(Tender::Hvt, "--x-exec-heap"),
            Err(OptionError::Invalid)
        );
        assert_eq!(
            parse_option(Tender::Spt, "--classic"),
            Ok(TenderOption::Classic)
        );
        assert_eq!(
            parse_option(Tender::Spt, "--block:storage=/x.img"),
            Ok(TenderOption::Block {
                name: "storage".into(),
                path: "/x.img".into()
            })
        );
        assert_eq!(
            parse_option(Tender::Muen, "--exit-event"),
            Ok(TenderOption::ExitEvent)
        );
        assert_eq!(
            parse_option(Tender::Hvt, "--exit-event"),
            Err(OptionError::Invalid)
        );
        assert_eq!(
            parse_option(Tender::Muen, "--strict"),
            Ok(TenderOption::Strict)
        );
        for tender in [Tender::Hvt, Tender::Spt] {
            assert_eq!(parse_option(tender, "--strict"), Err(OptionError::Invalid));
        }
        assert_eq!(
            parse_option(Tender::Muen, "--engine=portable"),
            Ok(TenderOption::Engine(
                crate::rings::engine::EngineChoice::Portable
            ))
        );
        for ring_option in ["--classic", "--net-lossy"] {
            assert_eq!(
                parse_option(Tender::Muen, ring_option),
                Err(OptionError::Invalid)
            );
        }
        assert_eq!(
            parse_option(Tender::Muen, "--net-mac:service0=02:00:00:00:00:01"),
            Err(OptionError::Invalid)
        );
        assert_eq!(
            parse_option(Tender::Muen, "--block-sector-size:storage=4096"),
            Ok(TenderOption::BlockSectorSize {
                name: "storage".into(),
                size: 4096
            })
        );
        assert!(version(Tender::Muen).starts_with("solo5-muen-runner, version"));
        assert_eq!(
            parse_option(Tender::Muen, "--channel-files=/run/x"),
            Ok(TenderOption::ChannelFiles("/run/x".into()))
        );
        assert_eq!(
            parse_option(Tender::Hvt, "--channel-files=/run/x"),
            Err(OptionError::Invalid)
        );
        assert_eq!(
            parse_option(Tender::MuenPeer, "--block-response:storage=/muenfs/r"),
            Ok(TenderOption::PeerChannel {
                name: "storage".into(),
                role: crate::muen::layout::Role::BlockResponse,
                path: "/muenfs/r".into()
            })
        );
        for not_the_peers in ["--net-in:service0=/f", "--mem=16", "--exit-event"] {
            let tender = if not_the_peers.starts_with("--net-in") {
                Tender::Muen
            } else {
                Tender::MuenPeer
            };
            assert_eq!(
                parse_option(tender, not_the_peers),
                Err(OptionError::Invalid)
            );
        }
    }
}
