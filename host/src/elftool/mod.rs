//! `solo5-elftool`: manifest generation from JSON and ELF note queries.
//!
//! Output, messages and exit codes follow upstream's tool (§3.5). Messages
//! are returned as bytes without the program name; [`main`] prints them as
//! `"<prog>: <message>"` on stderr, like `err(3)`.

pub mod gen;
pub mod json;

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use ringtender_abi::elf_note::{AbiTarget, MFT1_NOTE_ALIGN, MFT1_NOTE_MAX_SIZE, MFT1_NOTE_TYPE};
use ringtender_abi::mft::{MFT_DEV_BLOCK_BASIC, MFT_DEV_NET_BASIC, MFT_RESERVED_FIRST};

use crate::elf::{self, ElfError};
use crate::error::strerror;
use crate::manifest::Manifest;

/// Version printed in the usage text and in generated sources.
pub const VERSION: &str = concat!("ringtender-", env!("CARGO_PKG_VERSION"));

/// The usage text for program name `prog`.
pub fn usage(prog: &str) -> String {
    format!(
        "usage: {prog} COMMAND ...\n\
         {prog} version {VERSION}\n\n\
         COMMAND is:\n\
         \x20   gen-manifest SOURCE OUTPUT:\n\
         \x20       Generate application manifest from SOURCE, writing to OUTPUT.\n\
         \x20   query-abi BINARY:\n\
         \x20       Display the ABI target and version from BINARY.\n\
         \x20   query-manifest BINARY:\n\
         \x20       Display the application manifest from BINARY.\n"
    )
}

/// `"<path>: <what>"` as bytes.
fn path_msg(path: &[u8], what: &str) -> Vec<u8> {
    let mut m = path.to_vec();
    m.extend_from_slice(b": ");
    m.extend_from_slice(what.as_bytes());
    m
}

/// Reads an executable the way upstream opens and `pread`s it.
fn read_binary(binary: &Path) -> Result<Vec<u8>, Vec<u8>> {
    let name = binary.as_os_str().as_bytes();
    let mut file = std::fs::File::open(binary)
        .map_err(|e| path_msg(name, &format!("Could not open: {}", strerror(&e))))?;
    let mut data = Vec::new();
    file.read_to_end(&mut data).map_err(|_| {
        path_msg(
            name,
            &format!(
                "pread_in_full for elf header while loading note returned {} < 0",
                u64::MAX
            ),
        )
    })?;
    Ok(data)
}

fn elf_msg(binary: &Path, e: &ElfError) -> Vec<u8> {
    path_msg(binary.as_os_str().as_bytes(), &e.to_string())
}

/// `query-abi`: the JSON text printed on success.
pub fn query_abi(binary: &Path) -> Result<String, Vec<u8>> {
    let file = read_binary(binary)?;
    let abi = elf::read_abi_note(&file).map_err(|e| elf_msg(binary, &e))?;
    let target = AbiTarget::from_raw(abi.abi_target).map_or("unknown", AbiTarget::name);
    Ok(format!(
        "{{\n  \"type\": \"solo5.abi\",\n  \"target\": \"{target}\",\n  \"version\": {}\n}}\n",
        abi.abi_version
    ))
}

fn type_name(mft_type: u32) -> &'static str {
    match mft_type {
        MFT_DEV_BLOCK_BASIC => "BLOCK_BASIC",
        MFT_DEV_NET_BASIC => "NET_BASIC",
        MFT_RESERVED_FIRST => "RESERVED_FIRST",
        _ => "<undefined type>",
    }
}

/// `query-manifest`: the JSON text printed on success (bytes: names are
/// printed as stored).
pub fn query_manifest(binary: &Path) -> Result<Vec<u8>, Vec<u8>> {
    let file = read_binary(binary)?;
    let desc = elf::find_note(&file, MFT1_NOTE_TYPE, MFT1_NOTE_ALIGN, MFT1_NOTE_MAX_SIZE)
        .map_err(|e| elf_msg(binary, &e))?
        .ok_or_else(|| {
            elf_msg(
                binary,
                &ElfError::NotFound {
                    note_type: MFT1_NOTE_TYPE,
                },
            )
        })?;
    let manifest = Manifest::from_note(desc)
        .map_err(|_| path_msg(binary.as_os_str().as_bytes(), "Manifest validation failed"))?;
    let mut out =
        b"{\n  \"type\": \"solo5.manifest\",\n  \"version\": 1,\n  \"devices\": [\n".to_vec();
    let entries = manifest.entries();
    for (i, e) in entries.iter().enumerate() {
        if e.mft_type >= MFT_RESERVED_FIRST {
            continue;
        }
        out.extend_from_slice(b"    { \"name\": \"");
        out.extend_from_slice(e.name_bytes());
        out.extend_from_slice(b"\", \"type\": \"");
        out.extend_from_slice(type_name(e.mft_type).as_bytes());
        out.extend_from_slice(if i + 1 == entries.len() {
            b"\" }\n"
        } else {
            b"\" },\n"
        });
    }
    out.extend_from_slice(b"  ]\n}\n");
    Ok(out)
}

/// `gen-manifest SOURCE OUTPUT` with files, or stdin/stdout for "-".
///
/// Like upstream, OUTPUT is created before SOURCE is parsed, and what was
/// generated before an error in a device entry is still written.
fn gen_manifest_files(source: &OsString, output: &OsString) -> Result<(), Vec<u8>> {
    let src_name = source.as_bytes();
    let input = if src_name == b"-" {
        let mut v = Vec::new();
        io::stdin().read_to_end(&mut v).map_err(|e| {
            path_msg(
                src_name,
                &format!("Could not open for reading: {}", strerror(&e)),
            )
        })?;
        v
    } else {
        std::fs::read(source).map_err(|e| {
            path_msg(
                src_name,
                &format!("Could not open for reading: {}", strerror(&e)),
            )
        })?
    };
    let mut sink: Box<dyn Write> = if output.as_bytes() == b"-" {
        Box::new(io::stdout())
    } else {
        Box::new(std::fs::File::create(output).map_err(|e| {
            path_msg(
                output.as_bytes(),
                &format!("Could not open for writing: {}", strerror(&e)),
            )
        })?)
    };
    let mut text = Vec::new();
    let result = gen::generate(src_name, &input, &mut text);
    let written = sink.write_all(&text).and_then(|()| sink.flush());
    result?;
    written.map_err(|e| path_msg(output.as_bytes(), &strerror(&e)))
}

/// Runs the tool on `args` (`args[0]` is the program path); returns the exit
/// status.
pub fn main(args: &[OsString]) -> i32 {
    let prog = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map_or("solo5-elftool".into(), |n| n.to_string_lossy().into_owned());
    let command = args.get(1).map(|a| a.as_bytes());
    let result: Result<Vec<u8>, Vec<u8>> = match (command, args.len()) {
        (Some(b"gen-manifest"), 4) => gen_manifest_files(&args[2], &args[3]).map(|()| Vec::new()),
        (Some(b"query-manifest"), 3) => query_manifest(Path::new(&args[2])),
        (Some(b"query-abi"), 3) => query_abi(Path::new(&args[2])).map(String::into_bytes),
        _ => {
            eprint!("{}", usage(&prog));
            return 1;
        }
    };
    match result {
        Ok(out) => {
            let mut stdout = io::stdout().lock();
            if stdout
                .write_all(&out)
                .and_then(|()| stdout.flush())
                .is_err()
            {
                return 1;
            }
            0
        }
        Err(msg) => {
            let mut line = format!("{prog}: ").into_bytes();
            line.extend_from_slice(&msg);
            line.push(b'\n');
            // Nothing more to do if stderr is gone.
            let _ = io::stderr().write_all(&line);
            1
        }
    }
}
