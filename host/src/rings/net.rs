//! A net device's rings: tx (guest→host) drained into the tap, rx
//! (host→guest) filled from the tap, both in batches, lossless.

use std::os::fd::RawFd;
use std::sync::atomic::Ordering;

use ringtender_abi::rings::{AREA_GUEST_READ_COUNTER, AREA_HOST_READ_COUNTER, AREA_RX_DROPPED};
use ringtender_abi::solo5::SOLO5_NET_HLEN;
use ringtender_muen_compat::net::{net_frame_len, net_length_offset, LENGTH_FIELD};
use ringtender_muen_compat::{ReadResult, Reader, SharedMemory, Writer};

use super::engine::{IoEngine, IoKind, IoOp};
use super::region::GuestRegion;
use crate::error::TenderError;
use crate::guest_memory::GuestRam;

/// Frames moved per batch and direction.
const BATCH: u64 = 64;

/// One net device served through rings.
pub struct NetRing {
    /// Tap descriptor (the worker's wait set watches it).
    pub tap_fd: RawFd,
    /// Whether the worker's wait set currently watches the tap.
    pub armed: bool,
    /// Whether the last rx pass found the rx ring full (tap left unread).
    rx_blocked: bool,
    /// Lossy mode: frames for a full rx ring are dropped and counted.
    lossy: bool,
    dropped: u64,
    file: u32,
    area: u64,
    frame_max: usize,
    tx: Reader<GuestRegion>,
    rx: Writer<GuestRegion>,
    ops: Vec<IoOp>,
    results: Vec<i64>,
}

impl NetRing {
    /// Serves the rings of the area at `area`, with the tap as engine file `file`.
    pub fn new(
        area: u64,
        tap_fd: RawFd,
        file: u32,
        frame_max: usize,
        tx: Reader<GuestRegion>,
        rx: Writer<GuestRegion>,
        lossy: bool,
    ) -> Self {
        Self {
            tap_fd,
            armed: false,
            rx_blocked: false,
            lossy,
            dropped: 0,
            file,
            area,
            frame_max,
            tx,
            rx,
            ops: Vec::with_capacity(BATCH as usize),
            results: Vec::with_capacity(BATCH as usize),
        }
    }

    /// Whether the guest has published frames the host has not taken.
    pub fn tx_pending(&mut self) -> bool {
        self.tx.has_pending_data()
    }

    /// Whether the tap must be watched even with a full rx ring (lossy
    /// mode drops what arrives then).
    pub fn lossy(&self) -> bool {
        self.lossy
    }

    /// Whether the rx ring was full at the last pass and now has room: the
    /// tap may hold frames that waited for the guest.
    pub fn rx_unblocked(&self, ram: &GuestRam) -> Result<bool, TenderError> {
        Ok(self.rx_blocked && self.rx_free(ram)? > 0)
    }

    /// Free rx slots (lossless: never past the guest's published read counter).
    pub fn rx_free(&self, ram: &GuestRam) -> Result<u64, TenderError> {
        let guest_rc = ram.load_u64(self.area + AREA_GUEST_READ_COUNTER, Ordering::Acquire)?;
        Ok(self.rx.free_slots(guest_rc))
    }

    /// Guest address of the host→guest channel's write counter and of the
    /// guest's read counter: readiness for POLL.
    pub fn rx_counters(&self) -> (u64, u64) {
        (
            self.rx.memory().gpa(56),
            self.area + AREA_GUEST_READ_COUNTER,
        )
    }

    /// Sends the frames the guest queued, at most [`BATCH`] elements or
    /// epoch changes per call (a guest that republishes its channel forever
    /// gets one bounded share of the worker's round, like any other
    /// device); true if the guest's channel moved (frames sent, or elements
    /// taken and ignored).
    pub fn pump_tx(
        &mut self,
        ram: &GuestRam,
        engine: &mut dyn IoEngine,
    ) -> Result<bool, TenderError> {
        let rc = self.tx.rc();
        self.ops.clear();
        for _ in 0..BATCH {
            let offset = match self.tx.peek() {
                Ok(offset) => offset,
                Err(ReadResult::EpochChanged) => continue,
                Err(ReadResult::OverrunDetected) => {
                    // Only a guest ignoring our read counter gets here; its frames are its loss.
                    self.tx.drain();
                    break;
                }
                Err(_) => break,
            };
            // The length field ends the element, whose size is the channel's:
            // a guest may have made it smaller than ours.
            let size = self.tx.element_size().unwrap_or(0);
            let len = net_length_offset(size).and_then(|at| {
                let mut raw = [0u8; LENGTH_FIELD];
                SharedMemory::read_bytes(self.tx.memory(), offset + at, &mut raw);
                net_frame_len(size, raw).ok()
            });
            match self.tx.consume() {
                ReadResult::Success => {}
                ReadResult::OverrunDetected => {
                    // The guest's write started counter says the slot
                    // changed under us: its frames are its loss.
                    self.tx.drain();
                    break;
                }
                _ => continue,
            }
            if let Some(len @ SOLO5_NET_HLEN..) = len {
                self.ops.push(IoOp {
                    kind: IoKind::Write,
                    file: self.file,
                    gpa: self.tx.memory().gpa(offset),
                    len: len as u32,
                    offset: None,
                });
            }
        }
        if self.ops.is_empty() && self.tx.rc() == rc {
            return Ok(false);
        }
        engine.run(ram, &self.ops, false, &mut self.results)?;
        for (op, &result) in self.ops.iter().zip(&self.results) {
            if result < 0 {
                return Err(TenderError::Io {
                    what: "writing",
                    source: std::io::Error::from_raw_os_error(-result as i32),
                });
            }
            if result != i64::from(op.len) {
                return Err(TenderError::GuestExit(format!(
                    "Fatal error: wrote only {result} out of {} bytes",
                    op.len
                )));
            }
        }
        ram.store_u64(
            self.area + AREA_HOST_READ_COUNTER,
            self.tx.rc(),
            Ordering::Release,
        )?;
        Ok(true)
    }

    /// Lossy mode with a full rx ring: reads a batch of waiting frames off
    /// the tap, drops them and publishes the count at `AREA_RX_DROPPED`.
    fn drop_rx(&mut self, ram: &GuestRam) -> Result<(), TenderError> {
        let n = crate::tap::discard_frames(self.tap_fd, BATCH as usize).map_err(|source| {
            TenderError::Io {
                what: "reading",
                source,
            }
        })?;
        if n > 0 {
            self.dropped += n as u64;
            ram.store_u64(self.area + AREA_RX_DROPPED, self.dropped, Ordering::Release)?;
        }
        Ok(())
    }

    /// Reads frames from the tap into free rx slots; true if any arrived.
    pub fn pump_rx(
        &mut self,
        ram: &GuestRam,
        engine: &mut dyn IoEngine,
    ) -> Result<bool, TenderError> {
        let free = self.rx_free(ram)?.min(BATCH);
        self.rx_blocked = free == 0;
        if free == 0 {
            if self.lossy {
                self.drop_rx(ram)?;
            }
            return Ok(false);
        }
        self.rx.begin(free);
        self.ops.clear();
        for i in 0..free {
            self.ops.push(IoOp {
                kind: IoKind::Read,
                file: self.file,
                gpa: self.rx.memory().gpa(self.rx.slot_offset(i)),
                len: self.frame_max as u32,
                offset: None,
            });
        }
        engine.run(ram, &self.ops, true, &mut self.results)?;
        let mut filled = 0u64;
        for &result in &self.results {
            let len = match result {
                n if n > 0 => n as usize,
                e if e == 0 || e == -i64::from(libc::EAGAIN) || e == super::engine::CANCELED => {
                    break
                }
                e => {
                    return Err(TenderError::Io {
                        what: "reading",
                        source: std::io::Error::from_raw_os_error(-e as i32),
                    })
                }
            };
            let slot = self.rx.slot_offset(filled);
            SharedMemory::write_bytes(
                self.rx.memory(),
                slot + self.frame_max,
                &(len as u16).to_le_bytes(),
            );
            filled += 1;
        }
        self.rx.commit(filled);
        Ok(filled > 0)
    }
}
