//! File-backed block devices and the classic BLOCK_READ/BLOCK_WRITE path.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::os::fd::AsRawFd;

use ringtender_abi::solo5::{Solo5Result, SOLO5_R_EINVAL, SOLO5_R_OK};

use crate::error::TenderError;
use crate::guest_memory::GuestRam;

/// Default sector size when none is given.
pub const DEFAULT_BLOCK_SIZE: u16 = 512;

/// A block device backed by a host file (or block device).
pub struct BlockDevice {
    file: File,
    /// Size in bytes.
    pub capacity: u64,
    /// Sector size in bytes.
    pub block_size: u16,
}

/// Checks a `--block-sector-size` value as upstream does.
pub fn valid_block_size(size: u64) -> bool {
    size >= 512 && size <= u64::from(u16::MAX) && size.is_power_of_two()
}

impl BlockDevice {
    /// Opens `path` read-write; capacity is its size.
    pub fn open(path: &str) -> io::Result<Self> {
        let mut file = OpenOptions::new().read(true).write(true).open(path)?;
        let capacity = file.seek(SeekFrom::End(0))?;
        Ok(Self {
            file,
            capacity,
            block_size: DEFAULT_BLOCK_SIZE,
        })
    }

    /// Upstream's set-up checks once the sector size is final.
    pub fn check_geometry(&self, name: &str) -> Result<(), TenderError> {
        let bs = u64::from(self.block_size);
        if !self.capacity.is_multiple_of(bs) {
            return Err(TenderError::Device(format!(
                "{name}: Backing storage size must be block aligned ({bs} bytes)"
            )));
        }
        if self.capacity < bs {
            return Err(TenderError::Device(format!(
                "{name}: Backing storage must be at least 1 block ({bs} bytes) in size"
            )));
        }
        Ok(())
    }

    /// `fdatasync`s the file: what the guest wrote survives a host crash.
    /// The tenders call it when the guest has exited.
    pub fn sync(&self) -> Result<(), TenderError> {
        self.file.sync_data().map_err(|source| TenderError::Io {
            what: "syncing",
            source,
        })
    }

    /// Host descriptor (for the seccomp filter).
    pub fn raw_fd(&self) -> i32 {
        self.file.as_raw_fd()
    }

    fn in_range(&self, offset: u64, len: u64) -> bool {
        len <= isize::MAX as u64
            && offset < self.capacity
            && offset
                .checked_add(len)
                .is_some_and(|end| end <= self.capacity)
    }

    /// BLOCK_WRITE: `len` guest bytes at `gpa` to the file at `offset`.
    pub fn write(
        &self,
        ram: &GuestRam,
        offset: u64,
        gpa: u64,
        len: u64,
    ) -> Result<Solo5Result, TenderError> {
        self.transfer(Direction::Write, ram, offset, gpa, len)
    }

    /// BLOCK_READ: `len` bytes at `offset` of the file into guest `gpa`.
    pub fn read(
        &self,
        ram: &GuestRam,
        offset: u64,
        gpa: u64,
        len: u64,
    ) -> Result<Solo5Result, TenderError> {
        self.transfer(Direction::Read, ram, offset, gpa, len)
    }

    /// One classic block transfer; a failed or short transfer is fatal, as
    /// upstream's: nothing is acknowledged that is not on the file.
    fn transfer(
        &self,
        direction: Direction,
        ram: &GuestRam,
        offset: u64,
        gpa: u64,
        len: u64,
    ) -> Result<Solo5Result, TenderError> {
        if !self.in_range(offset, len) {
            return Ok(SOLO5_R_EINVAL);
        }
        let fd = self.file.as_raw_fd();
        let (done, what, verb) = match direction {
            Direction::Write => (ram.pwrite_to_fd(fd, gpa, len, offset)?, "writing", "wrote"),
            Direction::Read => (ram.pread_from_fd(fd, gpa, len, offset)?, "reading", "read"),
        };
        let done = done.map_err(|source| TenderError::Io { what, source })?;
        if done as u64 != len {
            return Err(TenderError::ShortTransfer {
                verb,
                done: done as u64,
                len,
            });
        }
        Ok(SOLO5_R_OK)
    }
}

/// Which way a classic block transfer goes.
#[derive(Clone, Copy)]
enum Direction {
    Read,
    Write,
}
