//! Upstream Solo5's hvt net ring (PR #637), served exactly as upstream
//! defines it, so unikernels built by upstream Solo5 >= 0.11 get it here too.
//!
//! One ring in guest memory serves every net device. A worker thread drains
//! WRITE entries into tap writes and answers READ entries with commits; the
//! guest rings the doorbell (PIO 0x600, a KVM ioeventfd: no VM exit) only
//! when the worker said it is asleep (`needs_kick`).
//!
//! Everything in the ring is the guest's to scribble over. The worker keeps
//! its own `ent_head` and `com_tail` and only publishes them; it reads
//! `ent_tail` once per pass and serves at most one ring of entries per
//! pass. Where upstream's worker ends the tender, ours answers inside the
//! protocol and keeps serving: a tail more than a ring away from the head
//! is skipped to, a WRITE that is no frame of the ring (length outside
//! 14..=2048, a buffer the guest may not have read, a handle that is no
//! net device) is taken and dropped, and a READ into a buffer the guest
//! may not have written gets an EINVAL commit.

use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kvm_ioctls::{IoEventAddress, NoDatamatch, VmFd};
use ringtender_abi::hvt::HVT_RING_KICK_PIO_BASE;
use ringtender_abi::hvt_ring::{
    HvtRingCommit, HvtRingEntry, HVT_RING_BUF_SIZE, HVT_RING_COMMITS, HVT_RING_COM_TAIL,
    HVT_RING_ENTRIES, HVT_RING_ENT_HEAD, HVT_RING_ENT_TAIL, HVT_RING_NEEDS_KICK, HVT_RING_NET_READ,
    HVT_RING_NET_WRITE, HVT_RING_SIZE,
};
use ringtender_abi::solo5::{SOLO5_NET_HLEN, SOLO5_R_AGAIN, SOLO5_R_EINVAL, SOLO5_R_OK};
use vmm_sys_util::eventfd::EventFd;

use crate::error::{syscall, TenderError};
use crate::guest_memory::GuestRam;
use crate::hvt::seccomp::{self, NetRingFds};

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
    /// Registers the doorbell and starts the worker for the ring at
    /// `ring_gpa`, under its own filter.
    pub fn start(
        vm: &VmFd,
        ram: Arc<GuestRam>,
        ring_gpa: u64,
        nets: Vec<RingNet>,
    ) -> Result<Self, TenderError> {
        let kick = EventFd::new(0).map_err(syscall("eventfd"))?;
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
        let filter = seccomp::net_ring_filter(&NetRingFds {
            kick: kick.as_raw_fd(),
            taps: nets.iter().map(|net| net.fd).collect(),
        })?;
        let worker = crate::worker_thread::spawn("net-ring", filter, move || {
            Worker {
                ram,
                base: ring_gpa,
                nets,
                kick: worker_kick,
                stop: worker_stop,
                ent_head: 0,
                com_tail: 0,
            }
            .run()
        })?;
        Ok(Self {
            stop,
            kick,
            worker: Some(worker),
        })
    }

    /// The doorbell descriptor (the vCPU writes it to stop the worker).
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
    /// The host's own `ent_head`: published to the guest, never read back.
    ent_head: u32,
    /// The host's own `com_tail`: published to the guest, never read back.
    com_tail: u32,
}

/// What the worker does with one entry.
enum EntryAction {
    /// Send the frame (a WRITE the guest may have read, on a net device).
    Write(RawFd),
    /// Answer with a commit (every READ).
    Read,
    /// Take it and do nothing: an unknown operation, a WRITE on a handle
    /// that is no net device, or one whose length is no frame of the ring
    /// (an upstream guest sends larger frames by hypercall) or whose buffer
    /// the guest may not have read.
    Skip,
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
        Ok(self.load(HVT_RING_ENT_TAIL)? != self.ent_head)
    }

    /// Publishes the host's `ent_head`.
    fn set_head(&mut self, head: u32) -> Result<(), TenderError> {
        self.ent_head = head;
        self.store(HVT_RING_ENT_HEAD, head)
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

    fn run(mut self) -> Result<(), TenderError> {
        while !self.stop.load(Ordering::Relaxed) {
            self.wait_for_work()?;
            self.drain()?;
        }
        Ok(())
    }

    /// Processes the entries up to one read of `ent_tail`: at most
    /// [`HVT_RING_SIZE`] per call, whatever the guest does meanwhile. A
    /// tail more than a ring ahead of the host's head (or behind it) names
    /// no entries the guest can have written: the host skips to it.
    fn drain(&mut self) -> Result<(), TenderError> {
        let head = self.ent_head;
        let tail = self.load(HVT_RING_ENT_TAIL)?;
        let count = tail.wrapping_sub(head);
        if count > HVT_RING_SIZE {
            return self.set_head(tail);
        }
        let mut batch = 0u32;
        for i in 0..count {
            let index = head.wrapping_add(i);
            let slot = u64::from(index % HVT_RING_SIZE);
            let entry: HvtRingEntry = self
                .ram
                .setup_read(self.base + HVT_RING_ENTRIES + slot * 32)?;
            match self.action(&entry) {
                EntryAction::Write(fd) => {
                    self.write_frame(fd, &entry)?;
                    batch += 1;
                }
                EntryAction::Skip => batch += 1,
                EntryAction::Read => {
                    // Earlier writes are done: publish them before the commit.
                    if batch > 0 {
                        self.set_head(index)?;
                        batch = 0;
                    }
                    self.read_frame(&entry)?;
                    self.set_head(index.wrapping_add(1))?;
                }
            }
        }
        if batch > 0 {
            self.set_head(tail)?;
        }
        Ok(())
    }

    fn action(&self, entry: &HvtRingEntry) -> EntryAction {
        match entry.operation {
            HVT_RING_NET_READ => EntryAction::Read,
            HVT_RING_NET_WRITE => {
                let len = entry.len;
                let frame = (SOLO5_NET_HLEN as u32..=HVT_RING_BUF_SIZE).contains(&len);
                match self.tap(entry.handle) {
                    Some(fd)
                        if frame && self.ram.check_readable(entry.data, u64::from(len)).is_ok() =>
                    {
                        EntryAction::Write(fd)
                    }
                    _ => EntryAction::Skip,
                }
            }
            _ => EntryAction::Skip,
        }
    }

    fn write_frame(&self, fd: RawFd, entry: &HvtRingEntry) -> Result<(), TenderError> {
        crate::net::write_frame(&self.ram, fd, entry.data, u64::from(entry.len))
    }

    /// Answers a READ entry: a frame from the tap, AGAIN when there is none,
    /// EINVAL for a handle that is no net device, a buffer the guest may
    /// not have written or a read error (as upstream's).
    fn read_frame(&mut self, entry: &HvtRingEntry) -> Result<(), TenderError> {
        let (ret, len) = match self.tap(entry.handle) {
            None => (SOLO5_R_EINVAL, 0),
            Some(fd) => match self.ram.read_from_fd(fd, entry.data, u64::from(entry.len)) {
                Err(_) => (SOLO5_R_EINVAL, 0),
                Ok(Ok(0)) => (SOLO5_R_AGAIN, 0),
                Ok(Ok(n)) => (SOLO5_R_OK, n as u32),
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::WouldBlock => (SOLO5_R_AGAIN, 0),
                Ok(Err(_)) => (SOLO5_R_EINVAL, 0),
            },
        };
        let slot = u64::from(self.com_tail % HVT_RING_SIZE);
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
        self.com_tail = self.com_tail.wrapping_add(1);
        self.store(HVT_RING_COM_TAIL, self.com_tail)
    }
}
