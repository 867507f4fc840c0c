//! The spt guest's memory: one fixed anonymous mapping in the tender's own
//! address space from `SPT_HOST_MEM_BASE` up to the guest's memory size, so
//! that guest addresses are host addresses (upstream's layout). Page 0 to
//! `SPT_HOST_MEM_BASE` stays unmapped. With rings, the ring memory (a memfd
//! shared with the I/O worker) is mapped right above it.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use ringtender_abi::spt::SPT_HOST_MEM_BASE;

use super::Error;
use crate::elf::{ElfImage, SegmentProt};

/// The guest's mapping.
pub struct GuestSpace {
    size: u64,
}

fn prot_bits(prot: SegmentProt) -> libc::c_int {
    let mut bits = libc::PROT_NONE;
    if prot.read {
        bits |= libc::PROT_READ;
    }
    if prot.write {
        bits |= libc::PROT_WRITE;
    }
    if prot.exec {
        bits |= libc::PROT_EXEC;
    }
    bits
}

impl GuestSpace {
    /// Maps `[SPT_HOST_MEM_BASE, mem_size)` read-write (and executable with
    /// `exec_heap`), failing rather than replacing anything already there.
    pub fn map(mem_size: u64, exec_heap: bool) -> Result<Self, Error> {
        let len = mem_size
            .checked_sub(SPT_HOST_MEM_BASE)
            .filter(|&len| len > 0)
            .ok_or(Error::MemoryTooSmall)?;
        let mut prot = libc::PROT_READ | libc::PROT_WRITE;
        if exec_heap {
            prot |= libc::PROT_EXEC;
        }
        map_fixed(SPT_HOST_MEM_BASE, len, prot, None).map_err(|source| {
            if source.raw_os_error() == Some(libc::EEXIST) {
                Error::MemoryTooLarge {
                    mb: mem_size >> 20,
                    source,
                }
            } else {
                Error::AllocateMemory(source)
            }
        })?;
        Ok(Self { size: mem_size })
    }

    /// The guest's memory size (the end of the mapping).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Copies `bytes` to guest address `addr`, inside the mapping.
    pub fn write(&self, addr: u64, bytes: &[u8]) -> Result<(), Error> {
        let end = addr.checked_add(bytes.len() as u64);
        if addr < SPT_HOST_MEM_BASE || end.is_none_or(|end| end > self.size) {
            return Err(Error::OutsideMemory { addr });
        }
        // SAFETY: `addr..addr + len` lies inside our writable mapping (checked
        // above); no guest code runs yet, so nothing else touches it.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), addr as *mut u8, bytes.len());
        }
        Ok(())
    }

    /// Copies each segment's file bytes to its address and gives it its
    /// protection, as upstream's loader does with `mprotect`.
    pub fn load(&self, file: &[u8], image: &ElfImage) -> Result<(), Error> {
        for seg in &image.segments {
            let from = seg.file_offset as usize;
            self.write(seg.vaddr, &file[from..from + seg.filesz as usize])?;
        }
        for seg in &image.segments {
            // SAFETY: `start..end` is page aligned and inside the mapping
            // (the loader checked both); changing its protection affects
            // only guest memory.
            let rc = unsafe {
                libc::mprotect(
                    seg.start as *mut libc::c_void,
                    (seg.end - seg.start) as usize,
                    prot_bits(seg.prot),
                )
            };
            if rc != 0 {
                return Err(Error::Protect(io::Error::last_os_error()));
            }
        }
        Ok(())
    }
}

/// Maps `len` bytes at exactly `addr`, never over an existing mapping:
/// private anonymous memory, or `fd` shared.
fn map_fixed(addr: u64, len: u64, prot: libc::c_int, fd: Option<RawFd>) -> io::Result<()> {
    let flags = libc::MAP_FIXED_NOREPLACE
        | match fd {
            Some(_) => libc::MAP_SHARED,
            None => libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
        };
    // SAFETY: a new mapping at a fixed address that MAP_FIXED_NOREPLACE
    // refuses to place over any existing mapping, so nothing is replaced.
    let got = unsafe {
        libc::mmap(
            addr as *mut libc::c_void,
            len as usize,
            prot,
            flags,
            fd.unwrap_or(-1),
            0,
        )
    };
    if got == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    if got as u64 != addr {
        // A kernel without MAP_FIXED_NOREPLACE put it elsewhere.
        unmap(got as u64, len);
        return Err(io::Error::other("not at the fixed address"));
    }
    Ok(())
}

/// Unmaps `addr..addr + len`, a mapping made here that nothing refers into.
fn unmap(addr: u64, len: u64) {
    // SAFETY: per the above; a failure leaves the mapping, which is harmless.
    unsafe { libc::munmap(addr as *mut libc::c_void, len as usize) };
}

impl Drop for GuestSpace {
    /// Unmaps the guest (in the supervisor once the guest process has its
    /// own copy, and in the I/O worker, which never touches it).
    fn drop(&mut self) {
        unmap(SPT_HOST_MEM_BASE, self.size - SPT_HOST_MEM_BASE);
    }
}

/// The rings' shared memory: a memfd the guest maps at the directory's
/// address and the worker maps wherever (through `GuestRam::shared`).
pub struct SharedRings {
    memfd: OwnedFd,
    base: u64,
    len: u64,
}

impl SharedRings {
    /// Creates a zero-filled memfd of `len` bytes for rings at `base`.
    pub fn create(base: u64, len: u64) -> Result<Self, Error> {
        let fail = |call| Error::RingMemory {
            call,
            source: io::Error::last_os_error(),
        };
        // SAFETY: memfd_create with a static NUL-terminated name; the result
        // is checked and owned.
        let fd = unsafe { libc::memfd_create(c"ringtender-rings".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(fail("memfd_create"));
        }
        // SAFETY: `fd` is a new descriptor nobody else owns.
        let memfd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: ftruncate on our memfd.
        if unsafe { libc::ftruncate(memfd.as_raw_fd(), len as libc::off_t) } != 0 {
            return Err(fail("ftruncate"));
        }
        Ok(Self { memfd, base, len })
    }

    /// Guest address of the ring directory (the start of the rings).
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Another handle on the memfd (for the worker's mapping).
    pub fn file(&self) -> io::Result<File> {
        Ok(File::from(self.memfd.try_clone()?))
    }

    /// Maps the rings shared and read-write at their guest address, in the
    /// guest process (refusing to replace anything mapped there).
    pub fn map_for_guest(&self) -> Result<(), Error> {
        let prot = libc::PROT_READ | libc::PROT_WRITE;
        map_fixed(self.base, self.len, prot, Some(self.memfd.as_raw_fd())).map_err(|source| {
            Error::MapRings {
                base: self.base,
                source,
            }
        })
    }
}
