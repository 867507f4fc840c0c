//! Guest RAM: allocation, and every access the host makes to it.
//!
//! The host never forms a Rust reference into guest memory. Tender set-up
//! writes go through vm-memory's `Bytes` API; accesses made on the guest's
//! behalf (hypercall arguments, I/O buffers) are first checked against the
//! ranges the guest itself may read or write, so a hostile guest cannot make
//! the host touch memory outside its RAM, its page tables or its text.

use std::fmt;
use std::io;
use std::ops::Range;
use std::os::fd::RawFd;
use std::sync::atomic::Ordering;

use bytemuck::Pod;
use vm_memory::mmap::MmapRegionBuilder;
use vm_memory::{
    Bytes, GuestAddress, GuestMemoryBackend, GuestMemoryMmap, GuestMemoryRegion, GuestRegionMmap,
    MmapRegion,
};

/// Guest or ring memory could not be set up by the tender.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// Guest RAM could not be mapped.
    #[error("Could not allocate guest memory: {0}")]
    Allocate(#[source] vm_memory::mmap::FromRangesError),
    /// The shared ring memory file could not be mapped.
    #[error("Could not map ring memory: {0}")]
    MapRings(#[source] vm_memory::mmap::FromRangesError),
    /// The tender's own write (image, boot info) fell outside guest RAM.
    #[error("guest memory write at 0x{gpa:x}: {source}")]
    Write {
        /// Where the write was to go.
        gpa: u64,
        /// vm-memory's error.
        source: vm_memory::GuestMemoryError,
    },
    /// The range to write-protect is not inside guest RAM.
    #[error("mprotect: {0}")]
    ProtectRange(#[source] GuestAccessError),
    /// `mprotect` refused.
    #[error("mprotect: {0}")]
    Protect(#[source] io::Error),
    /// A mapping of memory backed by files could not be made.
    #[error("Could not allocate guest memory: {0}")]
    MapFile(#[source] vm_memory::mmap::MmapRegionError),
    /// A file to back guest memory could not be sized.
    #[error("Could not allocate guest memory: {0}")]
    FileSize(#[source] io::Error),
    /// A file's range is out of order, empty or beyond the memory's end.
    #[error("Could not allocate guest memory: file range at 0x{gpa:x} misplaced")]
    FileMisplaced {
        /// Where the file was to be mapped.
        gpa: u64,
    },
    /// The mappings do not form one guest memory.
    #[error("Could not allocate guest memory: {0}")]
    Regions(#[source] vm_memory::GuestRegionCollectionError),
}

/// An access the guest asked for that falls outside what it may touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestAccessError {
    /// Guest address of the access.
    pub gpa: u64,
    /// Length of the access.
    pub len: u64,
}

impl fmt::Display for GuestAccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Invalid guest access: gpa=0x{:x}, sz={}",
            self.gpa, self.len
        )
    }
}

impl std::error::Error for GuestAccessError {}

/// A file mapped shared into [`GuestRam::with_files`]'s memory.
pub struct SharedFile {
    /// Where its first byte lies in guest memory.
    pub gpa: u64,
    /// The file, mapped for its whole length.
    pub file: std::fs::File,
    /// Mapped writable; else read-only, and nothing may write there (a
    /// write would fault the process): the channels a peer only reads,
    /// which a Muen Linux subject gets as read-only files.
    pub writable: bool,
}

/// Guest RAM, mapped at guest physical address 0.
pub struct GuestRam {
    mem: GuestMemoryMmap,
    size: u64,
    guest_readable: Vec<Range<u64>>,
    guest_writable: Vec<Range<u64>>,
}

impl GuestRam {
    /// Maps `size` bytes of zero-filled anonymous memory.
    ///
    /// Until [`GuestRam::set_guest_access`] is called the guest may access nothing.
    pub fn new(size: u64) -> Result<Self, MemoryError> {
        let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), size as usize)])
            .map_err(MemoryError::Allocate)?;
        Ok(Self {
            mem,
            size,
            guest_readable: Vec::new(),
            guest_writable: Vec::new(),
        })
    }

    /// Maps `file` (the spt rings' memfd, `size` bytes) shared at guest
    /// address `base`: the spt worker's whole view of the guest, all of
    /// which the guest may have it read and write.
    pub fn shared(base: u64, size: u64, file: std::fs::File) -> Result<Self, MemoryError> {
        let range = (
            GuestAddress(base),
            size as usize,
            Some(vm_memory::FileOffset::new(file, 0)),
        );
        let mem = GuestMemoryMmap::<()>::from_ranges_with_files([range])
            .map_err(MemoryError::MapRings)?;
        Ok(Self {
            mem,
            size: base + size,
            guest_readable: vec![base..base + size],
            guest_writable: vec![base..base + size],
        })
    }

    /// Maps `size` bytes of guest memory from 0 in which each of `files`
    /// (page-aligned, sorted, not overlapping) backs its own range, mapped
    /// shared for the file's whole length, and zero-filled anonymous memory
    /// fills the gaps: the muen runner's subject with its channels in files
    /// another process serves, or `solo5-muen-peer`'s view of the channel
    /// files it maps. The guest may access nothing until
    /// [`GuestRam::set_guest_access`].
    pub fn with_files(size: u64, files: Vec<SharedFile>) -> Result<Self, MemoryError> {
        let region = |gpa: u64, mapping: Result<MmapRegion<()>, _>| {
            let mapping = mapping.map_err(MemoryError::MapFile)?;
            GuestRegionMmap::new(mapping, GuestAddress(gpa))
                .ok_or(MemoryError::FileMisplaced { gpa })
        };
        let mut regions = Vec::new();
        let mut cursor = 0;
        for shared in files {
            let (gpa, len) = (
                shared.gpa,
                shared.file.metadata().map_err(MemoryError::FileSize)?.len(),
            );
            if gpa < cursor || gpa.checked_add(len).is_none_or(|end| end > size) || len == 0 {
                return Err(MemoryError::FileMisplaced { gpa });
            }
            if gpa > cursor {
                regions.push(region(cursor, MmapRegion::new((gpa - cursor) as usize))?);
            }
            let prot = if shared.writable {
                libc::PROT_READ | libc::PROT_WRITE
            } else {
                libc::PROT_READ
            };
            let mapping = MmapRegionBuilder::new(len as usize)
                .with_file_offset(vm_memory::FileOffset::new(shared.file, 0))
                .with_mmap_prot(prot)
                .with_mmap_flags(libc::MAP_NORESERVE | libc::MAP_SHARED)
                .build();
            regions.push(region(gpa, mapping)?);
            cursor = gpa + len;
        }
        if cursor < size {
            regions.push(region(cursor, MmapRegion::new((size - cursor) as usize))?);
        }
        let mem = GuestMemoryMmap::from_regions(regions).map_err(MemoryError::Regions)?;
        Ok(Self {
            mem,
            size,
            guest_readable: Vec::new(),
            guest_writable: Vec::new(),
        })
    }

    /// Guest address just past the mapped memory: the size of guest RAM,
    /// which starts at 0 (for shared ring memory, the end of the rings).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The mappings that make up guest memory, one KVM memory slot each:
    /// `(guest address, size, host address)`, in address order.
    pub fn slots(&self) -> Vec<(u64, u64, u64)> {
        self.mem
            .iter()
            .map(|region| {
                let host = self
                    .mem
                    .get_host_address(region.start_addr())
                    .expect("a region's start is mapped");
                (region.start_addr().0, region.len(), host as u64)
            })
            .collect()
    }

    /// Sets the ranges the guest may make the host read from and write to.
    pub fn set_guest_access(&mut self, readable: Vec<Range<u64>>, writable: Vec<Range<u64>>) {
        self.guest_readable = readable;
        self.guest_writable = writable;
    }

    /// Tender set-up write (not on the guest's behalf): `bytes` at `gpa`.
    pub fn setup_write(&self, gpa: u64, bytes: &[u8]) -> Result<(), MemoryError> {
        self.mem
            .write_slice(bytes, GuestAddress(gpa))
            .map_err(|source| MemoryError::Write { gpa, source })
    }

    /// Tender read of guest memory that is not on the guest's behalf (trap frames).
    pub fn setup_read<T: Pod>(&self, gpa: u64) -> Result<T, GuestAccessError> {
        let mut value = T::zeroed();
        self.mem
            .read_slice(bytemuck::bytes_of_mut(&mut value), GuestAddress(gpa))
            .map_err(|_| GuestAccessError {
                gpa,
                len: size_of::<T>() as u64,
            })?;
        Ok(value)
    }

    /// Adds `range` (tender-placed ring memory) to what the guest may access.
    pub fn add_guest_range(&mut self, range: Range<u64>) {
        self.guest_readable =
            merge_ranges([self.guest_readable.clone(), vec![range.clone()]].concat());
        self.guest_writable = merge_ranges([self.guest_writable.clone(), vec![range]].concat());
    }

    /// Tender copy out of guest memory at a tender-chosen address (ring headers
    /// and elements at offsets the tender derived from its own geometry).
    pub fn copy_out(&self, gpa: u64, buf: &mut [u8]) -> Result<(), GuestAccessError> {
        let len = buf.len() as u64;
        self.mem
            .read_slice(buf, GuestAddress(gpa))
            .map_err(|_| GuestAccessError { gpa, len })
    }

    /// Atomic load of a tender-placed shared u64 (ring counters).
    pub fn load_u64(&self, gpa: u64, order: Ordering) -> Result<u64, GuestAccessError> {
        self.mem
            .load(GuestAddress(gpa), order)
            .map_err(|_| GuestAccessError { gpa, len: 8 })
    }

    /// Atomic store to a tender-placed shared u64 (ring counters).
    pub fn store_u64(&self, gpa: u64, value: u64, order: Ordering) -> Result<(), GuestAccessError> {
        self.mem
            .store(value, GuestAddress(gpa), order)
            .map_err(|_| GuestAccessError { gpa, len: 8 })
    }

    /// Host address of `[gpa, gpa+len)` for an I/O submission (io_uring),
    /// after checking the guest may have it read (`write_to_guest == false`)
    /// or written (`true`). The pointer stays valid for the tender's life.
    pub fn io_ptr(
        &self,
        gpa: u64,
        len: u64,
        write_to_guest: bool,
    ) -> Result<*mut u8, GuestAccessError> {
        if write_to_guest {
            self.check_writable(gpa, len)?;
        } else {
            self.check_readable(gpa, len)?;
        }
        self.host_ptr(gpa, len)
    }

    /// Atomic load of a tender-placed shared word (ring indices). `gpa` must be
    /// 4-byte aligned and inside guest RAM; it is chosen by the tender, not the guest.
    pub fn load_u32(&self, gpa: u64, order: Ordering) -> Result<u32, GuestAccessError> {
        self.mem
            .load(GuestAddress(gpa), order)
            .map_err(|_| GuestAccessError { gpa, len: 4 })
    }

    /// Atomic store to a tender-placed shared word (ring indices).
    pub fn store_u32(&self, gpa: u64, value: u32, order: Ordering) -> Result<(), GuestAccessError> {
        self.mem
            .store(value, GuestAddress(gpa), order)
            .map_err(|_| GuestAccessError { gpa, len: 4 })
    }

    /// Checks that the guest may have the host read `len` bytes at `gpa`.
    pub fn check_readable(&self, gpa: u64, len: u64) -> Result<(), GuestAccessError> {
        check_in(&self.guest_readable, gpa, len)
    }

    /// Checks that the guest may have the host write `len` bytes at `gpa`.
    pub fn check_writable(&self, gpa: u64, len: u64) -> Result<(), GuestAccessError> {
        check_in(&self.guest_writable, gpa, len)
    }

    /// Reads a `T` the guest placed at `gpa` (hypercall argument).
    pub fn read_pod<T: Pod>(&self, gpa: u64) -> Result<T, GuestAccessError> {
        self.check_readable(gpa, size_of::<T>() as u64)?;
        self.setup_read(gpa)
    }

    /// Writes `value` to `gpa` on the guest's behalf (hypercall result).
    pub fn write_pod<T: Pod>(&self, gpa: u64, value: &T) -> Result<(), GuestAccessError> {
        let len = size_of::<T>() as u64;
        self.check_writable(gpa, len)?;
        self.mem
            .write_slice(bytemuck::bytes_of(value), GuestAddress(gpa))
            .map_err(|_| GuestAccessError { gpa, len })
    }

    /// Copies guest bytes at `gpa` into a host buffer (after a readable check).
    pub fn read_bytes(&self, gpa: u64, buf: &mut [u8]) -> Result<(), GuestAccessError> {
        let len = buf.len() as u64;
        self.check_readable(gpa, len)?;
        self.mem
            .read_slice(buf, GuestAddress(gpa))
            .map_err(|_| GuestAccessError { gpa, len })
    }

    /// `write(fd, guest[gpa..gpa+len])`: guest memory out to a host descriptor.
    pub fn write_to_fd(
        &self,
        fd: RawFd,
        gpa: u64,
        len: u64,
    ) -> Result<io::Result<usize>, GuestAccessError> {
        let ptr = self.io_ptr(gpa, len, false)?;
        // SAFETY: `ptr..ptr+len` lies inside our live guest mapping (checked by
        // io_ptr); write(2) only reads it, and the guest cannot unmap it.
        let n = unsafe { libc::write(fd, ptr as *const libc::c_void, len as usize) };
        Ok(syscall_result(n))
    }

    /// `read(fd, guest[gpa..gpa+len])`: a host descriptor into guest memory.
    pub fn read_from_fd(
        &self,
        fd: RawFd,
        gpa: u64,
        len: u64,
    ) -> Result<io::Result<usize>, GuestAccessError> {
        let ptr = self.io_ptr(gpa, len, true)?;
        // SAFETY: the range is inside our guest mapping and guest-writable
        // (checked above); the kernel writes at most `len` bytes there.
        let n = unsafe { libc::read(fd, ptr as *mut libc::c_void, len as usize) };
        Ok(syscall_result(n))
    }

    /// `pwrite(fd, guest[gpa..gpa+len], offset)`.
    pub fn pwrite_to_fd(
        &self,
        fd: RawFd,
        gpa: u64,
        len: u64,
        offset: u64,
    ) -> Result<io::Result<usize>, GuestAccessError> {
        let ptr = self.io_ptr(gpa, len, false)?;
        // SAFETY: as in write_to_fd; pwrite(2) only reads the range.
        let n = unsafe {
            libc::pwrite(
                fd,
                ptr as *const libc::c_void,
                len as usize,
                offset as libc::off_t,
            )
        };
        Ok(syscall_result(n))
    }

    /// `pread(fd, guest[gpa..gpa+len], offset)`.
    pub fn pread_from_fd(
        &self,
        fd: RawFd,
        gpa: u64,
        len: u64,
        offset: u64,
    ) -> Result<io::Result<usize>, GuestAccessError> {
        let ptr = self.io_ptr(gpa, len, true)?;
        // SAFETY: as in read_from_fd; pread(2) writes at most `len` bytes.
        let n = unsafe {
            libc::pread(
                fd,
                ptr as *mut libc::c_void,
                len as usize,
                offset as libc::off_t,
            )
        };
        Ok(syscall_result(n))
    }

    /// Makes `[start, end)` read-only in the host mapping (upstream's W^X for
    /// ring-0 guests: a guest write there then fails in KVM).
    pub fn protect_read_only(&self, start: u64, end: u64) -> Result<(), MemoryError> {
        self.protect(start, end, libc::PROT_READ)
    }

    /// Makes all of guest memory writable again in the host mapping: a
    /// debugger writes breakpoints into text (`solo5-hvt-debug --gdb`).
    pub fn unprotect_all(&self) -> Result<(), MemoryError> {
        self.protect(0, self.size, libc::PROT_READ | libc::PROT_WRITE)
    }

    /// Which 4 KiB pages of guest memory the host kernel has resident
    /// (`mincore`): the pages the guest or the tender ever touched.
    pub fn resident_pages(&self) -> io::Result<Vec<bool>> {
        let pages = self.size.div_ceil(0x1000) as usize;
        let mut vec = vec![0u8; pages];
        let ptr = self
            .host_ptr(0, self.size)
            .map_err(|e| io::Error::other(e.to_string()))?;
        // SAFETY: `ptr..ptr+size` is our own page-aligned guest mapping;
        // mincore only writes one byte per page into `vec`, which has room
        // for every page.
        let rc = unsafe {
            libc::mincore(
                ptr as *mut libc::c_void,
                self.size as usize,
                vec.as_mut_ptr(),
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(vec.into_iter().map(|v| v & 1 != 0).collect())
    }

    fn protect(&self, start: u64, end: u64, prot: libc::c_int) -> Result<(), MemoryError> {
        let ptr = self
            .host_ptr(start, end - start)
            .map_err(MemoryError::ProtectRange)?;
        // SAFETY: page-aligned range inside our own mapping; only protection
        // bits change, and the host never writes there while it is read-only.
        let rc = unsafe { libc::mprotect(ptr as *mut libc::c_void, (end - start) as usize, prot) };
        if rc != 0 {
            return Err(MemoryError::Protect(io::Error::last_os_error()));
        }
        Ok(())
    }

    fn host_ptr(&self, gpa: u64, len: u64) -> Result<*mut u8, GuestAccessError> {
        let err = GuestAccessError { gpa, len };
        let slice = self
            .mem
            .get_slice(GuestAddress(gpa), len as usize)
            .map_err(|_| err)?;
        Ok(slice.ptr_guard_mut().as_ptr())
    }
}

fn check_in(ranges: &[Range<u64>], gpa: u64, len: u64) -> Result<(), GuestAccessError> {
    let err = GuestAccessError { gpa, len };
    let end = gpa.checked_add(len).ok_or(err)?;
    if ranges.iter().any(|r| r.start <= gpa && end <= r.end) {
        Ok(())
    } else {
        Err(err)
    }
}

fn syscall_result(n: isize) -> io::Result<usize> {
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Merges adjacent or overlapping ranges (input sorted by start).
pub fn merge_ranges(mut ranges: Vec<Range<u64>>) -> Vec<Range<u64>> {
    ranges.sort_by_key(|r| r.start);
    let mut out: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
    for r in ranges.into_iter().filter(|r| r.start < r.end) {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_checks_refuse_out_of_range_and_overflow() {
        let mut ram = GuestRam::new(4 << 20).unwrap();
        ram.set_guest_access(vec![0x1000..0x2000], vec![0x1800..0x2000]);
        assert!(ram.check_readable(0x1000, 0x1000).is_ok());
        assert!(ram.check_readable(0x1000, 0x1001).is_err());
        assert!(ram.check_readable(u64::MAX, 2).is_err());
        assert!(ram.check_writable(0x1000, 8).is_err());
        assert!(ram.write_pod(0x1ff8, &7u64).is_ok());
        assert_eq!(ram.read_pod::<u64>(0x1ff8).unwrap(), 7);
        assert!(ram.write_pod(0x1ffc, &7u64).is_err());
    }

    #[test]
    fn memory_errors_name_the_step_and_keep_the_cause() {
        use std::error::Error as _;
        let ram = GuestRam::new(1 << 20).unwrap();
        let err = ram.setup_write((1 << 20) - 4, &[0; 8]).unwrap_err();
        assert!(matches!(err, MemoryError::Write { gpa, .. } if gpa == (1 << 20) - 4));
        assert!(err
            .to_string()
            .starts_with("guest memory write at 0xffffc: "));
        assert!(err.source().unwrap().is::<vm_memory::GuestMemoryError>());
        let err = ram.protect_read_only(0, 2 << 20).unwrap_err();
        assert!(matches!(err, MemoryError::ProtectRange(_)));
        assert!(err.source().unwrap().is::<GuestAccessError>());
        let err = MemoryError::Protect(io::Error::from_raw_os_error(libc::ENOMEM));
        assert_eq!(
            crate::error::TenderError::from(err).to_string(),
            "mprotect: Cannot allocate memory (os error 12)"
        );
    }

    #[test]
    fn merge_joins_touching_ranges() {
        assert_eq!(merge_ranges(vec![5..8, 0..2, 2..4, 7..9]), vec![0..4, 5..9]);
    }
}
