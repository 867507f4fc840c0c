//! Upstream Solo5's hvt net ring (PR #637), served exactly as upstream
//! defines it, so unikernels built by upstream Solo5 >= 0.11 get it here too.
//!
//! One ring in guest memory serves every net device. A worker thread drains
//! WRITE entries into tap writes and answers READ entries with commits; the
//! guest rings the doorbell (PIO 0x600, a KVM ioeventfd: no VM exit) only
//! when the worker said it is asleep (`needs_kick`).

use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kvm_ioctls::{IoEventAddress, NoDatamatch, VmFd};
use ringtender_abi::hvt::HVT_RING_KICK_PIO_BASE;
use ringtender_abi::hvt_ring::{
    HvtRingCommit, HvtRingEntry, HVT_RING_COMMITS, HVT_RING_COM_TAIL, HVT_RING_ENTRIES,
    HVT_RING_ENT_HEAD, HVT_RING_ENT_TAIL, HVT_RING_NEEDS_KICK, HVT_RING_NET_READ,
    HVT_RING_NET_WRITE, HVT_RING_SIZE,
};
use ringtender_abi::solo5::{SOLO5_R_AGAIN, SOLO5_R_EINVAL, SOLO5_R_OK};
use vmm_sys_util::eventfd::EventFd;

use crate::error::TenderError;
use crate::guest_memory::GuestRam;

/// Guest memory the tender reserves for the ring: its size rounded up to 2 MiB.
pub const RING_RESERVATION: u64 = 0x20_0000;
/// How long the worker polls an empty ring before it sleeps.
const SPIN: Duration = Duration::from_micros(50);

/// The running ring worker.
pub struct UpstreamNetRing {
    stop: Arc<AtomicBool>,
    kick: Arc<EventFd>,
    worker: Option<JoinHandle<()>>,
}

/// What the worker needs about one net device.
#[derive(Clone, Copy)]
pub struct RingNet {
    /// Manifest index.
    pub handle: u32,
    /// Tap descriptor.
    pub fd: RawFd,
}

impl UpstreamNetRing {
    /// Registers the doorbell and starts the worker for the ring at `ring_gpa`.
    pub fn start(
        vm: &VmFd,
        ram: Arc<GuestRam>,
        ring_gpa: u64,
        nets: Vec<RingNet>,
    ) -> Result<Self, TenderError> {
        let kick = EventFd::new(0).map_err(|e| TenderError::Setup(format!("eventfd: {e}")))?;
        vm.register_ioevent(
            &kick,
            &IoEventAddress::Pio(u64::from(HVT_RING_KICK_PIO_BASE)),
            NoDatamatch,
        )
        .map_err(|source| TenderError::Kvm {
            what: "KVM_IOEVENTFD",
            source,
        })?;
        let stop = Arc::new(AtomicBool::new(false));
        let kick = Arc::new(kick);
        let worker_kick = kick.clone();
        let worker_stop = stop.clone();
        let worker = crate::worker_thread::spawn("net-ring", move || {
            Worker {
                ram,
                base: ring_gpa,
                nets,
                kick: worker_kick,
                stop: worker_stop,
            }
            .run()
        })?;
        Ok(Self {
            stop,
            kick,
            worker: Some(worker),
        })
    }

    /// The doorbell descriptor (the seccomp filter lets the worker read it).
    pub fn kick_fd(&self) -> RawFd {
        self.kick.as_raw_fd()
    }

    /// Stops and joins the worker (at guest halt).
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.kick.write(1);
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

struct Worker {
    ram: Arc<GuestRam>,
    base: u64,
    nets: Vec<RingNet>,
    kick: Arc<EventFd>,
    stop: Arc<AtomicBool>,
}

fn ring_error(msg: String) -> TenderError {
    TenderError::GuestExit(msg)
}

impl Worker {
    fn load(&self, offset: u64) -> Result<u32, TenderError> {
        Ok(self.ram.load_u32(self.base + offset, Ordering::Acquire)?)
    }

    fn store(&self, offset: u64, value: u32) -> Result<(), TenderError> {
        Ok(self
            .ram
            .store_u32(self.base + offset, value, Ordering::Release)?)
    }

    fn tap(&self, handle: u32) -> Option<RawFd> {
        self.nets.iter().find(|n| n.handle == handle).map(|n| n.fd)
    }

    fn pending(&self) -> Result<bool, TenderError> {
        Ok(self.load(HVT_RING_ENT_HEAD)? != self.load(HVT_RING_ENT_TAIL)?)
    }

    /// Waits for entries: spins for [`SPIN`], then publishes `needs_kick`,
    /// fences, re-checks, and sleeps on the doorbell.
    fn wait_for_work(&self) -> Result<(), TenderError> {
        let start = Instant::now();
        while start.elapsed() < SPIN {
            if self.pending()? || self.stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            std::hint::spin_loop();
        }
        self.store(HVT_RING_NEEDS_KICK, 1)?;
        fence(Ordering::SeqCst);
        if !self.pending()? {
            // EINTR or a spurious wake-up simply re-checks the ring.
            let _ = self.kick.read();
        }
        self.store(HVT_RING_NEEDS_KICK, 0)
    }

    fn run(&self) -> Result<(), TenderError> {
        while !self.stop.load(Ordering::Relaxed) {
            self.wait_for_work()?;
            self.drain()?;
        }
        Ok(())
    }

    /// Processes every entry up to a snapshot of `ent_tail`.
    fn drain(&self) -> Result<(), TenderError> {
        let mut head = self.load(HVT_RING_ENT_HEAD)?;
        let tail = self.load(HVT_RING_ENT_TAIL)?;
        if tail.wrapping_sub(head) > HVT_RING_SIZE {
            return Err(ring_error(format!(
                "Invalid net ring index: head={head} tail={tail}"
            )));
        }
        let mut batch = 0u32;
        while head.wrapping_add(batch) != tail {
            let slot = u64::from(head.wrapping_add(batch) % HVT_RING_SIZE);
            let entry: HvtRingEntry = self
                .ram
                .setup_read(self.base + HVT_RING_ENTRIES + slot * 32)?;
            match entry.operation {
                HVT_RING_NET_WRITE => {
                    if let Some(fd) = self.tap(entry.handle) {
                        self.write_frame(fd, &entry)?;
                    }
                    batch += 1;
                }
                HVT_RING_NET_READ => {
                    head = head.wrapping_add(batch);
                    batch = 0;
                    self.store(HVT_RING_ENT_HEAD, head)?;
                    self.read_frame(&entry)?;
                    head = head.wrapping_add(1);
                    self.store(HVT_RING_ENT_HEAD, head)?;
                }
                _ => batch += 1,
            }
        }
        self.store(HVT_RING_ENT_HEAD, head.wrapping_add(batch))
    }

    fn write_frame(&self, fd: RawFd, entry: &HvtRingEntry) -> Result<(), TenderError> {
        let len = u64::from(entry.len);
        let done = self
            .ram
            .write_to_fd(fd, entry.data, len)?
            .map_err(|source| TenderError::Io {
                what: "writing",
                source,
            })?;
        if done as u64 != len {
            return Err(ring_error(format!(
                "Fatal error: wrote only {done} out of {len} bytes"
            )));
        }
        Ok(())
    }

    fn read_frame(&self, entry: &HvtRingEntry) -> Result<(), TenderError> {
        let (ret, len) = match self.tap(entry.handle) {
            None => (SOLO5_R_EINVAL, 0),
            Some(fd) => match self
                .ram
                .read_from_fd(fd, entry.data, u64::from(entry.len))?
            {
                Ok(0) => (SOLO5_R_AGAIN, 0),
                Ok(n) => (SOLO5_R_OK, n as u32),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => (SOLO5_R_AGAIN, 0),
                Err(_) => (SOLO5_R_EINVAL, 0),
            },
        };
        let tail = self.load(HVT_RING_COM_TAIL)?;
        let slot = u64::from(tail % HVT_RING_SIZE);
        let commit = HvtRingCommit {
            id: entry.id,
            ret: ret as i32,
            len,
            reserved: 0,
        };
        self.ram.setup_write(
            self.base + HVT_RING_COMMITS + slot * 16,
            bytemuck::bytes_of(&commit),
        )?;
        self.store(HVT_RING_COM_TAIL, tail.wrapping_add(1))
    }
}
