//! The eight classic hvt hypercalls.
//!
//! Each handler reads its argument struct from guest memory once, checks
//! every address and length before use, and writes the results back.

use ringtender_abi::hvt::{
    HcBlockRead, HcBlockWrite, HcHalt, HcNetRead, HcNetWrite, HcPoll, HcPuts, HcWalltime,
    Hypercall, HVT_HALT_COOKIE_MAX,
};
use ringtender_abi::solo5::{Solo5Result, SOLO5_R_EINVAL};

use crate::attach::Device;
use crate::block::BlockDevice;
use crate::error::TenderError;
use crate::guest_fault::GuestFault;
use crate::guest_memory::GuestRam;
use crate::net::NetDevice;
use crate::poll::WaitSet;
use crate::rings::{polling_error, RingPoll};

/// What the run loop does after a hypercall.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Resume the guest.
    Continue,
    /// The guest halted with this status.
    Halt(i32),
}

/// Serves hypercalls for one guest.
pub struct Hypercalls {
    /// Devices by manifest index.
    pub devices: Vec<Device>,
    /// Wait set for POLL.
    pub wait_set: WaitSet,
    /// With rings, POLL looks at them instead of the taps.
    pub rings: Option<RingPoll>,
}

impl Hypercalls {
    fn has_net(&self) -> bool {
        self.devices.iter().any(|d| matches!(d, Device::Net(_)))
    }

    fn has_block(&self) -> bool {
        self.devices.iter().any(|d| matches!(d, Device::Block(_)))
    }

    fn net(&self, handle: u64) -> Option<&NetDevice> {
        match self.devices.get(usize::try_from(handle).ok()?) {
            Some(Device::Net(dev)) => Some(dev),
            _ => None,
        }
    }

    fn block(&self, handle: u64) -> Option<&BlockDevice> {
        match self.devices.get(usize::try_from(handle).ok()?) {
            Some(Device::Block(dev)) => Some(dev),
            _ => None,
        }
    }

    /// Runs hypercall `nr` with its argument struct at guest `gpa`.
    pub fn dispatch(&mut self, ram: &GuestRam, nr: u32, gpa: u64) -> Result<Outcome, TenderError> {
        let invalid = || TenderError::from(GuestFault::InvalidHypercall { nr });
        let call = Hypercall::from_raw(nr).ok_or_else(invalid)?;
        match call {
            Hypercall::Walltime => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64);
                ram.write_pod(gpa, &HcWalltime { nsecs: now })?;
            }
            Hypercall::Puts => {
                let arg: HcPuts = ram.read_pod(gpa)?;
                console_write(ram, arg.data, arg.len)?;
            }
            Hypercall::Poll => {
                let mut arg: HcPoll = ram.read_pod(gpa)?;
                let (ready, count) = match &mut self.rings {
                    Some(rings) => rings.poll(&mut self.wait_set, arg.timeout_nsecs)?,
                    None => self
                        .wait_set
                        .wait(arg.timeout_nsecs)
                        .map_err(polling_error)?,
                };
                arg.ready_set = ready;
                arg.ret = count;
                ram.write_pod(gpa, &arg)?;
            }
            Hypercall::BlockWrite => {
                if !self.has_block() {
                    return Err(invalid());
                }
                let mut arg: HcBlockWrite = ram.read_pod(gpa)?;
                arg.ret = match self.block(arg.handle) {
                    Some(dev) => dev.write(ram, arg.offset, arg.data, arg.len)?,
                    None => SOLO5_R_EINVAL,
                };
                ram.write_pod(gpa, &arg)?;
            }
            Hypercall::BlockRead => {
                if !self.has_block() {
                    return Err(invalid());
                }
                let mut arg: HcBlockRead = ram.read_pod(gpa)?;
                arg.ret = match self.block(arg.handle) {
                    Some(dev) => dev.read(ram, arg.offset, arg.data, arg.len)?,
                    None => SOLO5_R_EINVAL,
                };
                ram.write_pod(gpa, &arg)?;
            }
            Hypercall::NetWrite => {
                if !self.has_net() {
                    return Err(invalid());
                }
                let mut arg: HcNetWrite = ram.read_pod(gpa)?;
                arg.ret = match self.net(arg.handle) {
                    Some(dev) => dev.write(ram, arg.data, arg.len)?,
                    None => SOLO5_R_EINVAL,
                };
                ram.write_pod(gpa, &arg)?;
            }
            Hypercall::NetRead => {
                if !self.has_net() {
                    return Err(invalid());
                }
                let mut arg: HcNetRead = ram.read_pod(gpa)?;
                let (ret, len): (Solo5Result, u64) = match self.net(arg.handle) {
                    Some(dev) => dev.read(ram, arg.data, arg.len)?,
                    None => (SOLO5_R_EINVAL, 0),
                };
                arg.ret = ret;
                arg.len = len;
                ram.write_pod(gpa, &arg)?;
            }
            Hypercall::Halt => {
                let arg: HcHalt = ram.read_pod(gpa)?;
                if arg.cookie != 0 {
                    ram.check_readable(arg.cookie, HVT_HALT_COOKIE_MAX as u64)?;
                }
                return Ok(Outcome::Halt(arg.exit_status));
            }
        }
        Ok(Outcome::Continue)
    }
}

/// PUTS: the guest's `len` bytes at `data` to stdout, written by the kernel
/// straight from guest memory (no host buffer, whatever the length), after
/// one check that the guest may have them read. Console output is best
/// effort, as upstream's: a failed write ends the output, not the guest.
fn console_write(ram: &GuestRam, data: u64, len: u64) -> Result<(), TenderError> {
    ram.check_readable(data, len)?;
    let mut done = 0;
    while done < len {
        match ram.write_to_fd(libc::STDOUT_FILENO, data + done, len - done)? {
            Ok(0) => break,
            Ok(n) => done += n as u64,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    Ok(())
}
