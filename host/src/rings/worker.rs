//! The ring worker: pumps every device's rings, spins a bounded time when
//! idle, then publishes `host_sleeping` and sleeps on the doorbell, the
//! taps and the I/O engine's completion queue. Block requests stay in
//! flight on the engine while it serves the other devices; each is
//! answered when its completion comes (`docs/architecture.md`, "The ring
//! worker"). It wakes a guest waiting for input when it publishes to it. On hvt
//! it runs as a thread of the tender, on spt as the worker process's main
//! loop, and in `solo5-muen-runner` as the thread of the subject's net and
//! block peers, whose subject rings no doorbell: there it also wakes every
//! tick to poll the channels.
//!
//! On hvt the vCPU thread serves net rings too while the guest waits in
//! POLL (`super::RingPoll`): each net ring is shared behind a mutex
//! ([`SharedNet`]), and the taps sit in a nested epoll set that the vCPU
//! thread takes out of the worker's wait for that time
//! (`docs/architecture.md`, "An idle guest on hvt").

use std::os::fd::AsRawFd;
use std::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ringtender_abi::rings::{
    AREA_GUEST_WAITING, AREA_HOST_SLEEPING, GUEST_WAITING_INPUT, GUEST_WAITING_TX_ROOM,
    HOST_SLEEPING, HOST_SLEEPING_GENERATION_SHIFT, HOST_SLEEPING_RX_FULL,
};
use seccompiler::BpfProgram;
use vmm_sys_util::epoll::{ControlOperation, Epoll, EpollEvent, EventSet};
use vmm_sys_util::eventfd::EventFd;

use super::block::{token_device, BlockRing};
use super::engine::{Completion, IoEngine};
use super::net::NetRing;
use crate::error::{syscall, TenderError};
use crate::guest_memory::GuestRam;

/// Sleeps so far, for `host_sleeping`'s generation bits: unique per sleep
/// (shared by every worker of the process, which only makes them sparser).
static SLEEPS: AtomicU64 = AtomicU64::new(0);

/// How long an idle worker keeps polling the rings before it sleeps.
const SPIN: Duration = Duration::from_micros(50);
/// epoll data of the doorbell.
const DOORBELL_EVENT: u64 = u64::MAX;
/// epoll data of the nested tap set in the worker's epoll set.
pub const TAP_SET_EVENT: u64 = ringtender_abi::spt::SPT_WORKER_TAP_SET_EVENT;
/// epoll data of the I/O engine's completion queue (io_uring).
const COMPLETION_EVENT: u64 = u64::MAX - 2;

/// A net device's rings, shared by the worker and (hvt) the vCPU thread.
pub type SharedNet = Arc<Mutex<NetRing>>;

/// Locks `net`. A thread that panicked holding it ends the tender, so a
/// poisoned lock only ever comes from a dying process: take it anyway.
pub fn lock_net(net: &SharedNet) -> MutexGuard<'_, NetRing> {
    net.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How the worker learns that the guest waits for input.
pub enum GuestWaiting {
    /// hvt: the vCPU thread sets this flag while it waits in POLL.
    VcpuThread(Arc<AtomicBool>),
    /// spt: the guest sets the `guest_waiting` word of its device areas
    /// while it sleeps in `solo5_yield`.
    AreaWords,
    /// A Muen subject busy-polls its channels and never waits or rings a
    /// doorbell: nothing to wake, and the sleeping worker wakes every tick
    /// to poll the subject's channels.
    Polling(Duration),
}

/// What the worker needs to wake the guest.
pub struct RingShared {
    /// Whether the guest waits.
    pub waiting: GuestWaiting,
    /// Written by the worker to wake a waiting guest.
    pub guest_wake: EventFd,
}

/// A ring worker whose thread may not have installed its filter yet.
#[must_use = "the worker may still run unconfined: call confined() before the guest runs"]
pub struct StartingWorker {
    stop: Arc<AtomicBool>,
    doorbell: Arc<EventFd>,
    thread: crate::worker_thread::Starting,
}

impl StartingWorker {
    /// Waits until the worker thread has installed its filter.
    pub fn confined(self) -> Result<RingWorker, TenderError> {
        Ok(RingWorker {
            stop: self.stop,
            doorbell: self.doorbell,
            thread: Some(self.thread.confined()?),
        })
    }
}

/// A running ring worker.
pub struct RingWorker {
    stop: Arc<AtomicBool>,
    doorbell: Arc<EventFd>,
    thread: Option<JoinHandle<()>>,
}

/// Everything the worker thread owns.
pub struct WorkerState {
    /// The I/O engine. Declared (so dropped) before `ram`: dropping it
    /// waits for the operations in flight, whose buffers are guest RAM.
    pub engine: Box<dyn IoEngine>,
    /// Guest RAM.
    pub ram: Arc<GuestRam>,
    /// Net devices.
    pub nets: Vec<SharedNet>,
    /// Block devices.
    pub blocks: Vec<BlockRing>,
    /// Device areas (for `host_sleeping`).
    pub areas: Vec<u64>,
    /// The worker's epoll instance: the doorbell, and the taps or the set
    /// that holds them.
    pub epoll: Arc<Epoll>,
    /// hvt: the nested epoll set the taps are in, itself in `epoll`
    /// ([`tap_set`]); None: the taps are in `epoll` itself.
    pub tap_set: Option<Arc<Epoll>>,
    /// The guest's doorbell (KVM ioeventfd).
    pub doorbell: Arc<EventFd>,
    /// Shared with the vCPU thread.
    pub shared: Arc<RingShared>,
}

/// Creates the worker's epoll instance watching `doorbell`.
pub fn worker_epoll(doorbell: &EventFd) -> std::io::Result<Epoll> {
    let epoll = Epoll::new()?;
    epoll.ctl(
        ControlOperation::Add,
        doorbell.as_raw_fd(),
        EpollEvent::new(EventSet::IN, DOORBELL_EVENT),
    )?;
    Ok(epoll)
}

/// Adds the completion queue of `engine`, if it has one, to the worker's
/// epoll set (an io_uring descriptor is readable while completions wait).
/// Separate from [`worker_epoll`] because spt's tender makes that set
/// before the fork and the worker builds its engine after it.
pub fn watch_completions(epoll: &Epoll, engine: &dyn IoEngine) -> std::io::Result<()> {
    if let Some(ring) = engine.ring_fd() {
        epoll.ctl(
            ControlOperation::Add,
            ring,
            EpollEvent::new(EventSet::IN, COMPLETION_EVENT),
        )?;
    }
    Ok(())
}

/// Creates the (empty) epoll set the worker puts its taps in, watched from
/// `worker_epoll` as [`TAP_SET_EVENT`].
pub fn tap_set(worker_epoll: &Epoll) -> std::io::Result<Epoll> {
    let set = Epoll::new()?;
    worker_epoll.ctl(
        ControlOperation::Add,
        set.as_raw_fd(),
        EpollEvent::new(EventSet::IN, TAP_SET_EVENT),
    )?;
    Ok(set)
}

/// Makes the worker's epoll set report the tap set's input (`watch`) or
/// ignore it (the vCPU thread, around a POLL; the worker may be asleep in
/// that set meanwhile, which epoll allows).
pub fn watch_tap_set(worker_epoll: &Epoll, set: &Epoll, watch: bool) -> std::io::Result<()> {
    worker_epoll.ctl(
        ControlOperation::Modify,
        set.as_raw_fd(),
        EpollEvent::new(readable_if(watch), TAP_SET_EVENT),
    )
}

/// The events of a descriptor watched for input (`watch`) or not.
fn readable_if(watch: bool) -> EventSet {
    if watch {
        EventSet::IN
    } else {
        EventSet::empty()
    }
}

impl RingWorker {
    /// Starts the worker thread, which installs `filter` on itself first,
    /// and returns once it has.
    pub fn start(state: WorkerState, filter: BpfProgram) -> Result<Self, TenderError> {
        Self::launch(state, filter)?.confined()
    }

    /// Starts the worker thread, which installs `filter` on itself before
    /// it touches the rings, and returns at once.
    pub fn launch(state: WorkerState, filter: BpfProgram) -> Result<StartingWorker, TenderError> {
        let stop = Arc::new(AtomicBool::new(false));
        let doorbell = state.doorbell.clone();
        let thread_stop = stop.clone();
        let thread = crate::worker_thread::start("rings", filter, move || state.run(&thread_stop))?;
        Ok(StartingWorker {
            stop,
            doorbell,
            thread,
        })
    }

    /// The worker's doorbell, which [`RingWorker::stop`] writes (for the
    /// stopping thread's seccomp filter).
    pub fn doorbell_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&*self.doorbell)
    }

    /// Stops the worker after it finished what the guest had submitted.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.doorbell.write(1);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl WorkerState {
    /// Serves the rings until `stop` is set and the doorbell rung, then
    /// finishes what the guest had submitted and `fdatasync`s every block
    /// file.
    pub fn run(mut self, stop: &AtomicBool) -> Result<(), TenderError> {
        let taps = self.taps_epoll();
        for (i, net) in self.nets.iter().enumerate() {
            let mut net = lock_net(net);
            taps.ctl(
                ControlOperation::Add,
                net.tap_fd,
                EpollEvent::new(EventSet::IN, i as u64),
            )
            .map_err(syscall("epoll"))?;
            net.armed = true;
        }
        loop {
            let progress = self.pump()?;
            if stop.load(Ordering::SeqCst) {
                // Finish what the guest submitted before it halted.
                while self.pump()? || self.engine.in_flight() > 0 {
                    self.engine.wait()?;
                }
                return self.sync_blocks();
            }
            // A full rx ring is the guest's to drain: it rings us at its
            // half and empty marks, and a spin would only take the CPU
            // it drains on when we share one.
            if progress || (!self.awaits_rx_room() && self.spin()?) {
                continue;
            }
            self.sleep()?;
        }
    }

    /// One pass over every ring; true if anything moved. Each device's
    /// share of a pass is bounded (a batch of tx and of rx frames, a ring
    /// of block requests, epoch changes and overruns included), so a guest
    /// that keeps one channel busy with nonsense cannot starve the others.
    /// Block requests are started, not waited for: the pass answers those
    /// whose completions have come, whatever the others still do.
    fn pump(&mut self) -> Result<bool, TenderError> {
        let mut progress = false;
        let mut published = false;
        for net in &self.nets {
            let mut net = lock_net(net);
            progress |= net.pump_tx(&self.ram, self.engine.as_mut())?;
            published |= net.pump_rx(&self.ram, self.engine.as_mut())?;
        }
        for (device, block) in self.blocks.iter_mut().enumerate() {
            let before = block.outstanding();
            published |= block.take(&self.ram, self.engine.as_mut(), device as u32)?;
            progress |= block.outstanding() != before;
        }
        self.engine.submit()?;
        published |= self.answer_completions()?;
        if published || progress {
            fence(Ordering::SeqCst);
            let waiting = self.guest_waiting()?;
            // Taken tx frames only matter to a guest waiting for tx room.
            let wanted = if published {
                waiting != 0
            } else {
                waiting & GUEST_WAITING_TX_ROOM != 0
            };
            if wanted {
                let _ = self.shared.guest_wake.write(1);
            }
        }
        Ok(progress || published)
    }

    /// Answers the block requests whose operations completed; true if any.
    fn answer_completions(&mut self) -> Result<bool, TenderError> {
        let mut done: Vec<Completion> = Vec::new();
        self.engine.reap(&mut done);
        if done.is_empty() {
            return Ok(false);
        }
        for completion in &done {
            let (device, slot) = token_device(completion.token);
            self.blocks[device].complete(
                &self.ram,
                self.engine.as_mut(),
                device as u32,
                slot,
                completion.result,
            )?;
        }
        // What waited behind a flush may have started.
        self.engine.submit()?;
        Ok(true)
    }

    /// `fdatasync`s every block file: once the guest is gone, what it
    /// wrote survives a host crash, flushed or not.
    fn sync_blocks(&mut self) -> Result<(), TenderError> {
        let mut results = Vec::new();
        for block in &self.blocks {
            self.engine
                .run(&self.ram, &[block.flush_op()], false, &mut results)?;
            if let Some(&errno @ ..0) = results.first() {
                return Err(TenderError::Io {
                    what: "syncing",
                    source: std::io::Error::from_raw_os_error(-errno as i32),
                });
            }
        }
        Ok(())
    }

    /// How the guest waits: the `guest_waiting` words of every area or'ed
    /// together (spt), `GUEST_WAITING_INPUT` for a vCPU thread in POLL
    /// (hvt), 0 when it does not.
    fn guest_waiting(&self) -> Result<u64, TenderError> {
        match &self.shared.waiting {
            GuestWaiting::VcpuThread(flag) => {
                Ok(u64::from(flag.load(Ordering::SeqCst)) * GUEST_WAITING_INPUT)
            }
            GuestWaiting::AreaWords => {
                let mut waiting = 0;
                for &area in &self.areas {
                    waiting |= self
                        .ram
                        .load_u64(area + AREA_GUEST_WAITING, Ordering::SeqCst)?;
                }
                Ok(waiting)
            }
            GuestWaiting::Polling(_) => Ok(0),
        }
    }

    /// Whether the guest gave us work, or an operation completed, that we
    /// can see without a system call.
    fn guest_pending(&mut self) -> Result<bool, TenderError> {
        if self.engine.completed() {
            return Ok(true);
        }
        for net in &self.nets {
            let mut net = lock_net(net);
            if net.tx_pending() || net.rx_unblocked(&self.ram)? {
                return Ok(true);
            }
        }
        for block in &mut self.blocks {
            if block.pending(&self.ram)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether some net device's rx ring was full at the last pass, its
    /// frames left in the tap until the guest makes room.
    fn awaits_rx_room(&self) -> bool {
        self.nets.iter().any(|net| lock_net(net).rx_full_noted())
    }

    /// Polls the rings for [`SPIN`]; true if work showed up.
    fn spin(&mut self) -> Result<bool, TenderError> {
        let start = Instant::now();
        while start.elapsed() < SPIN {
            if self.guest_pending()? {
                return Ok(true);
            }
            std::hint::spin_loop();
        }
        Ok(false)
    }

    fn set_sleeping(&self, value: u64) -> Result<(), TenderError> {
        for &area in &self.areas {
            self.ram
                .store_u64(area + AREA_HOST_SLEEPING, value, Ordering::SeqCst)?;
        }
        Ok(())
    }

    /// Whether the guest fills some net ring's rx itself (spt).
    fn guest_owns_rx(&self) -> Result<bool, TenderError> {
        for net in &self.nets {
            if lock_net(net).guest_owns_rx(&self.ram)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// spt, before sleeping: while the guest serves its taps (it switched
    /// the tap set off in our set for its wait), the set stays off, so that
    /// a guest that keeps `rx_owner` set while leaving the set on cannot
    /// make a frame it does not read wake us over and over. Switched off,
    /// then `rx_owner` looked at again: a guest that gave the rings back
    /// meanwhile switches the set on after its store (so after our switch),
    /// or we see its store and switch the set on ourselves
    /// (`docs/architecture.md`, "An idle guest on spt").
    fn leave_taps_to_guest(&self) -> Result<(), TenderError> {
        let Some(set) = &self.tap_set else {
            return Ok(());
        };
        if !self.guest_owns_rx()? {
            return Ok(());
        }
        watch_tap_set(&self.epoll, set, false).map_err(syscall("epoll"))?;
        fence(Ordering::SeqCst);
        if !self.guest_owns_rx()? {
            watch_tap_set(&self.epoll, set, true).map_err(syscall("epoll"))?;
        }
        Ok(())
    }

    /// The epoll set the taps are in.
    fn taps_epoll(&self) -> &Epoll {
        self.tap_set.as_ref().unwrap_or(&self.epoll)
    }

    /// Publishes `host_sleeping` (with [`HOST_SLEEPING_RX_FULL`] in the
    /// areas of net devices whose rx ring is full), re-checks, and waits
    /// for the doorbell, a tap whose rx ring has room, or (polling a Muen
    /// subject) the tick. A guest that releases rx slots after our look at
    /// a full ring sees the bit and rings; one that did before is seen by
    /// the re-check (both sides store, fence, then load).
    fn sleep(&mut self) -> Result<(), TenderError> {
        // Generations wrap after 2^56 sleeps: never 0 while sleeping.
        let generation =
            (SLEEPS.fetch_add(1, Ordering::Relaxed) + 1) << HOST_SLEEPING_GENERATION_SHIFT;
        self.set_sleeping(HOST_SLEEPING | generation)?;
        for net in &self.nets {
            let mut net = lock_net(net);
            if let (true, Some(area)) = (net.note_rx_full(&self.ram)?, net.area()) {
                self.ram.store_u64(
                    area + AREA_HOST_SLEEPING,
                    HOST_SLEEPING | HOST_SLEEPING_RX_FULL | generation,
                    Ordering::SeqCst,
                )?;
            }
        }
        fence(Ordering::SeqCst);
        if !self.guest_pending()? {
            let taps = self.taps_epoll();
            for (i, net) in self.nets.iter().enumerate() {
                let mut net = lock_net(net);
                let want = !net.rx_full_noted();
                if want != net.armed {
                    let event = EpollEvent::new(readable_if(want), i as u64);
                    taps.ctl(ControlOperation::Modify, net.tap_fd, event)
                        .map_err(syscall("epoll"))?;
                    net.armed = want;
                }
            }
            self.leave_taps_to_guest()?;
            let timeout = match self.shared.waiting {
                GuestWaiting::Polling(tick) => tick.as_millis().clamp(1, 1000) as libc::c_int,
                _ => -1,
            };
            let mut events = [EpollEvent::default(); 8];
            // Whatever ended the wait (EINTR too), the loop looks again.
            let _ = crate::poll::wait(&self.epoll, timeout, &mut events);
        }
        self.set_sleeping(0)?;
        let _ = self.doorbell.read();
        Ok(())
    }
}
