//! `--dumpcore=DIR` (`solo5-hvt-debug`): on the guest's abort or fatal
//! trap, an ELF core file of the guest, `DIR/core.solo5-hvt.PID`, that GDB
//! loads with the unikernel: a PT_NOTE with one NT_PRSTATUS (the vCPU's
//! registers at the abort or fault, in Linux's `user_regs_struct` layout)
//! and one PT_LOAD of guest memory at address 0 (the guest's page tables
//! map it 1:1). Only pages the host kernel reports resident (`mincore`)
//! are written; the others stay holes in a sparse file and read as zeros,
//! as pages the guest never touched are.
//!
//! The directory is opened at start-up; the file is created only when a
//! core is written. The vCPU thread's seccomp filter allows `openat` on the
//! directory with the one set of flags used here, and writes to a
//! placeholder descriptor reserved at start-up, onto which the new file is
//! moved (`dup3`), so the filter names every descriptor it allows.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileExt;

use gdbstub::common::Signal;
use kvm_bindings::{kvm_regs, kvm_sregs};

use super::debug::Error;
use crate::error::TenderError;
use crate::guest_memory::GuestRam;
use crate::hvt::debug::paging::PAGE;

/// Flags of the core file's `openat` (the filter compares them).
pub const CORE_OPEN_FLAGS: i32 = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC;
const EHDR_SIZE: usize = 64;
const PHDR_SIZE: usize = 56;
const NOTE_NAME: &[u8; 8] = b"CORE\0\0\0\0";
const NT_PRSTATUS: u32 = 1;
/// `sizeof(struct elf_prstatus)` on x86_64 Linux.
const PRSTATUS_SIZE: usize = 336;
const PRSTATUS_CURSIG: usize = 12;
const PRSTATUS_REG: usize = 112;
/// Everything before guest memory: ELF header, two program headers, the
/// note's header, name and descriptor (532 bytes, as upstream's).
pub const HEADERS_SIZE: usize = EHDR_SIZE + 2 * PHDR_SIZE + 12 + NOTE_NAME.len() + PRSTATUS_SIZE;
/// Guest memory is copied out in pieces of at most this many bytes.
const COPY_CHUNK: usize = 64 * 1024;

/// Where core files go, opened at start-up.
pub struct CoreDumper {
    path: String,
    dir: OwnedFd,
    slot: OwnedFd,
    pid: u32,
}

/// The descriptors the vCPU thread's filter names for core dumps.
#[derive(Clone, Copy, Debug)]
pub struct CoreFds {
    /// The directory (`openat`).
    pub dir: RawFd,
    /// The placeholder the core file is moved onto and written through.
    pub slot: RawFd,
}

fn warn(msg: &str) {
    eprintln!("{}: dumpcore: {msg}", crate::cli::program());
}

impl CoreDumper {
    /// Opens `dir` for core files, with upstream's messages when it is not
    /// an openable, writable directory.
    pub fn open(dir: &str) -> Result<Self, TenderError> {
        let cannot_open = || TenderError::from(Error::CoreDirUnopenable);
        let path = CString::new(dir).map_err(|_| cannot_open())?;
        // SAFETY: `path` is a NUL-terminated string that outlives the call.
        let fd = unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(cannot_open());
        }
        // SAFETY: `fd` was just opened and is owned by nothing else.
        let dir_fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: as above; access(2) only reads the string.
        if unsafe { libc::access(path.as_ptr(), libc::W_OK) } != 0 {
            return Err(Error::CoreDirNotWritable.into());
        }
        let slot = dir_fd.try_clone().map_err(Error::CoreDir)?;
        Ok(Self {
            path: dir.to_string(),
            dir: dir_fd,
            slot,
            pid: std::process::id(),
        })
    }

    /// The descriptors the filter must allow.
    pub fn fds(&self) -> CoreFds {
        CoreFds {
            dir: self.dir.as_raw_fd(),
            slot: self.slot.as_raw_fd(),
        }
    }

    /// Writes the core of `ram` with registers `regs`/`sregs` and signal
    /// `signal`, reporting progress and failures on stderr as upstream's
    /// module does (a failed dump does not change the guest's exit status).
    pub fn dump(self, ram: &GuestRam, regs: &kvm_regs, sregs: &kvm_sregs, signal: Signal) {
        let name = format!("core.solo5-hvt.{}", self.pid);
        let file = match Self::create(&self.dir, self.slot, &name) {
            Ok(file) => file,
            Err(e) => {
                warn(&format!("open({name}): {e}"));
                warn("error(s) dumping core, file may be incomplete");
                return;
            }
        };
        warn(&format!("dumping guest core to: {}/{name}", self.path));
        match write_core(&file, ram, regs, sregs, i32::from(signal.0)) {
            Ok((dumped, total)) => warn(&format!("dumped {dumped} pages of total {total} pages")),
            Err(e) => {
                warn(&format!("{e}"));
                warn("error(s) dumping core, file may be incomplete");
            }
        }
    }

    /// Creates `name` in `dir` and moves it onto the placeholder `slot_fd`.
    fn create(dir: &OwnedFd, slot_fd: OwnedFd, name: &str) -> io::Result<File> {
        let cname = CString::new(name).map_err(|_| io::ErrorKind::InvalidInput)?;
        // SAFETY: `cname` is NUL-terminated and outlives the call; the
        // directory descriptor is ours.
        let fd = unsafe {
            libc::openat(
                dir.as_raw_fd(),
                cname.as_ptr(),
                CORE_OPEN_FLAGS,
                0o600 as libc::c_uint,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just opened and is owned by nothing else.
        let opened = unsafe { OwnedFd::from_raw_fd(fd) };
        let slot = slot_fd.as_raw_fd();
        // SAFETY: dup3 replaces our own placeholder descriptor `slot`
        // (owned by `slot_fd`) with the new file; both are ours.
        if unsafe { libc::dup3(opened.as_raw_fd(), slot, libc::O_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error());
        }
        drop(opened);
        Ok(File::from(slot_fd))
    }
}

/// Writes headers, note and resident guest pages to `file`; returns the
/// pages written and the pages of guest memory.
fn write_core(
    file: &File,
    ram: &GuestRam,
    regs: &kvm_regs,
    sregs: &kvm_sregs,
    signal: i32,
) -> io::Result<(u64, u64)> {
    let size = ram.size();
    file.write_all_at(&headers(size, regs, sregs, signal), 0)?;
    let resident = ram.resident_pages()?;
    let mut buf = vec![0u8; COPY_CHUNK];
    let mut dumped = 0u64;
    let mut page = 0usize;
    while page < resident.len() {
        if !resident[page] {
            page += 1;
            continue;
        }
        let run = resident[page..]
            .iter()
            .take(COPY_CHUNK / PAGE as usize)
            .take_while(|&&r| r)
            .count();
        let gpa = page as u64 * PAGE;
        let chunk = &mut buf[..run * PAGE as usize];
        ram.copy_out(gpa, chunk)
            .map_err(|e| io::Error::other(e.to_string()))?;
        file.write_all_at(chunk, HEADERS_SIZE as u64 + gpa)?;
        dumped += run as u64;
        page += run;
    }
    file.set_len(HEADERS_SIZE as u64 + size)?;
    Ok((dumped, resident.len() as u64))
}

fn put(buf: &mut [u8], at: usize, bytes: &[u8]) {
    buf[at..at + bytes.len()].copy_from_slice(bytes);
}

/// The ELF header, PT_NOTE and PT_LOAD headers and the NT_PRSTATUS note
/// for `mem_size` bytes of guest memory.
pub fn headers(mem_size: u64, regs: &kvm_regs, sregs: &kvm_sregs, signal: i32) -> Vec<u8> {
    let mut out = vec![0u8; HEADERS_SIZE];
    // ELF header: 64-bit, little-endian, version 1, standalone OS ABI.
    put(&mut out, 0, &[0x7f, b'E', b'L', b'F', 2, 1, 1, 255]);
    put(&mut out, 16, &4u16.to_le_bytes()); // ET_CORE
    put(&mut out, 18, &62u16.to_le_bytes()); // EM_X86_64
    put(&mut out, 20, &1u32.to_le_bytes()); // EV_CURRENT
    put(&mut out, 32, &(EHDR_SIZE as u64).to_le_bytes()); // e_phoff
    put(&mut out, 52, &(EHDR_SIZE as u16).to_le_bytes());
    put(&mut out, 54, &(PHDR_SIZE as u16).to_le_bytes());
    put(&mut out, 56, &2u16.to_le_bytes()); // e_phnum
    let note_at = EHDR_SIZE + 2 * PHDR_SIZE;
    let note_size = (HEADERS_SIZE - note_at) as u64;
    // PT_NOTE.
    let ph = EHDR_SIZE;
    put(&mut out, ph, &4u32.to_le_bytes());
    put(&mut out, ph + 8, &(note_at as u64).to_le_bytes());
    put(&mut out, ph + 32, &note_size.to_le_bytes());
    put(&mut out, ph + 40, &note_size.to_le_bytes());
    // PT_LOAD of guest memory at virtual and physical address 0, RWX.
    let ph = EHDR_SIZE + PHDR_SIZE;
    put(&mut out, ph, &1u32.to_le_bytes());
    put(&mut out, ph + 4, &7u32.to_le_bytes());
    put(&mut out, ph + 8, &(HEADERS_SIZE as u64).to_le_bytes());
    put(&mut out, ph + 32, &mem_size.to_le_bytes());
    put(&mut out, ph + 40, &mem_size.to_le_bytes());
    // Note header and name.
    put(&mut out, note_at, &(NOTE_NAME.len() as u32).to_le_bytes());
    put(&mut out, note_at + 4, &(PRSTATUS_SIZE as u32).to_le_bytes());
    put(&mut out, note_at + 8, &NT_PRSTATUS.to_le_bytes());
    put(&mut out, note_at + 12, NOTE_NAME);
    let desc = note_at + 12 + NOTE_NAME.len();
    put(
        &mut out,
        desc + PRSTATUS_CURSIG,
        &(signal as u16).to_le_bytes(),
    );
    let words: [u64; 27] = user_regs(regs, sregs);
    put(&mut out, desc + PRSTATUS_REG, bytemuck::cast_slice(&words));
    out
}

/// Linux's `struct user_regs_struct` for x86_64, from KVM's registers.
fn user_regs(r: &kvm_regs, s: &kvm_sregs) -> [u64; 27] {
    [
        r.r15,
        r.r14,
        r.r13,
        r.r12,
        r.rbp,
        r.rbx,
        r.r11,
        r.r10,
        r.r9,
        r.r8,
        r.rax,
        r.rcx,
        r.rdx,
        r.rsi,
        r.rdi,
        u64::MAX, // orig_rax: not in a system call
        r.rip,
        u64::from(s.cs.selector),
        r.rflags,
        r.rsp,
        u64::from(s.ss.selector),
        s.fs.base,
        s.gs.base,
        u64::from(s.ds.selector),
        u64::from(s.es.selector),
        u64::from(s.fs.selector),
        u64::from(s.gs.selector),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_upstreams_size_and_place_registers_as_linux_does() {
        assert_eq!(HEADERS_SIZE, 532);
        let regs = kvm_regs {
            rip: 0x1234,
            rsp: 0x5678,
            r15: 0x15,
            ..Default::default()
        };
        let out = headers(0x20_0000, &regs, &kvm_sregs::default(), 6);
        assert_eq!(&out[..4], b"\x7fELF");
        let desc = EHDR_SIZE + 2 * PHDR_SIZE + 20;
        let word = |i: usize| {
            let at = desc + PRSTATUS_REG + i * 8;
            u64::from_le_bytes(out[at..at + 8].try_into().unwrap())
        };
        assert_eq!((word(0), word(16), word(19)), (0x15, 0x1234, 0x5678));
        assert_eq!(out[desc + PRSTATUS_CURSIG], 6);
        // PT_LOAD: file offset right after the headers, guest memory's size.
        let load = EHDR_SIZE + PHDR_SIZE;
        assert_eq!(out[load + 8..load + 16], (532u64).to_le_bytes());
        assert_eq!(out[load + 32..load + 40], (0x20_0000u64).to_le_bytes());
    }
}
