//! Network devices and the classic NET_WRITE/NET_READ path.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use ringtender_abi::solo5::{Solo5Result, SOLO5_R_AGAIN, SOLO5_R_OK};

use crate::error::TenderError;
use crate::guest_memory::GuestRam;
use crate::tap::Tap;

/// A network device: a tap and its guest-visible MAC.
pub struct NetDevice {
    /// The backing tap.
    pub tap: Tap,
    /// MAC address given to the guest.
    pub mac: [u8; 6],
}

impl NetDevice {
    /// Host descriptor (for the wait set and the seccomp filter).
    pub fn raw_fd(&self) -> RawFd {
        self.tap.as_raw_fd()
    }

    /// NET_WRITE: sends the `len`-byte frame at guest `gpa`.
    pub fn write(&self, ram: &GuestRam, gpa: u64, len: u64) -> Result<Solo5Result, TenderError> {
        write_frame(ram, self.raw_fd(), gpa, len)?;
        Ok(SOLO5_R_OK)
    }

    /// NET_READ: receives one frame into the `len`-byte buffer at guest `gpa`;
    /// returns the result and the frame length.
    pub fn read(
        &self,
        ram: &GuestRam,
        gpa: u64,
        len: u64,
    ) -> Result<(Solo5Result, u64), TenderError> {
        match ram.read_from_fd(self.raw_fd(), gpa, len)? {
            Ok(0) => Ok((SOLO5_R_AGAIN, 0)),
            Ok(n) => Ok((SOLO5_R_OK, n as u64)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok((SOLO5_R_AGAIN, 0)),
            Err(source) => Err(TenderError::Io {
                what: "reading",
                source,
            }),
        }
    }
}

/// Writes the `len`-byte frame at guest `gpa` to tap `fd` in one `write`;
/// a short write is fatal, as upstream's tender has it (NET_WRITE and the
/// #637 ring's WRITE entries).
pub fn write_frame(ram: &GuestRam, fd: RawFd, gpa: u64, len: u64) -> Result<(), TenderError> {
    let done = ram
        .write_to_fd(fd, gpa, len)?
        .map_err(|source| TenderError::Io {
            what: "writing",
            source,
        })?;
    if done as u64 != len {
        return Err(TenderError::ShortTransfer {
            verb: "wrote",
            done: done as u64,
            len,
        });
    }
    Ok(())
}
