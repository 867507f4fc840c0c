//! ringtender's rings: device ring areas above guest RAM, one worker that
//! drains them through an I/O engine, and on hvt the POLL hypercall's view
//! of them. On hvt the worker is a thread of the tender; on spt it is a
//! process of its own that shares only the ring memory with the guest
//! (`crate::spt::worker`). The protocol is `docs/ring-abi.md`; the channel
//! code is `ringtender-muen-compat`, shared with the guest.

mod block;
pub mod engine;
mod error;
mod net;
mod region;
mod worker;

use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use kvm_ioctls::{IoEventAddress, NoDatamatch, VmFd};
use ringtender_abi::mft::{MFT_DEV_BLOCK_BASIC, MFT_DEV_NET_BASIC};
use ringtender_abi::rings::{
    device_layout, net_element_size, RingDirEntry, RingDirHeader, AREA_HOST_SLEEPING,
    BLOCK_REQUEST_SIZE, BLOCK_RESPONSE_SIZE, BLOCK_RING_ELEMENTS, CHANNEL_HEADER_SIZE,
    HOST_SLEEPING_RX_FULL, NET_RING_ELEMENTS, RING_DIR_VERSION, RT_RING_DOORBELL_PIO,
};
use ringtender_abi::spt::SptWakeInfo;
use ringtender_muen_compat::{Reader, Writer, BLOCK_PROTOCOL, NET_PROTOCOL};
use vmm_sys_util::epoll::Epoll;
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

pub use self::block::{BlockFlow, BlockRing};
use self::engine::{EngineChoice, EngineFile, PortableEngine};
pub use self::error::Error;
pub use self::net::{MuenRx, NetFlow, NetRing};
pub use self::region::GuestRegion;
pub use self::worker::{
    lock_net, tap_set, watch_completions, worker_epoll, GuestWaiting, RingShared, RingWorker,
    SharedNet, StartingWorker, WorkerState,
};
use self::worker::{watch_tap_set, TAP_SET_EVENT};
use crate::attach::{Device, DeviceFds};
use crate::error::{kvm_err, syscall, TenderError};
use crate::guest_memory::GuestRam;
use crate::hvt::seccomp::{ring_worker_filter, RingWorkerFds};
use crate::poll::WaitSet;

const PAGE: u64 = 0x1000;
/// Epoch the host's channels start with (any non-zero value).
const HOST_EPOCH: u64 = 1;
/// WaitSet data of the worker's wake-up eventfd (not a handle).
pub const GUEST_WAKE_EVENT: u64 = 0xffff_fffd;

/// Where every device's rings go, decided before guest RAM is allocated.
pub struct RingLayout {
    /// Guest address of the ring directory.
    pub dir_gpa: u64,
    /// Bytes from `dir_gpa` to the end of the last area.
    pub bytes: u64,
    entries: Vec<RingDirEntry>,
}

impl RingLayout {
    /// Guest address right after the directory's entries, where spt's
    /// `SptWakeInfo` goes (the layout leaves room for it).
    pub fn dir_trailer(&self) -> u64 {
        self.dir_gpa
            + (size_of::<RingDirHeader>() + self.entries.len() * size_of::<RingDirEntry>()) as u64
    }

    /// Guest address of each block device's area.
    pub fn block_areas(&self) -> impl Iterator<Item = u64> + '_ {
        self.entries
            .iter()
            .filter(|e| e.kind == MFT_DEV_BLOCK_BASIC && e.area != 0)
            .map(|e| e.area)
    }
}

/// Lays out the directory (room for spt's `SptWakeInfo` after its entries)
/// and one area per attached device from `base` up; each block area ends
/// with `block_data` bytes of data slots (spt).
pub fn layout(devices: &[Device], base: u64, block_data: u64) -> RingLayout {
    let dir_bytes = (size_of::<RingDirHeader>()
        + devices.len() * size_of::<RingDirEntry>()
        + size_of::<SptWakeInfo>()) as u64;
    let mut cursor = base + dir_bytes.next_multiple_of(PAGE);
    let entries = devices
        .iter()
        .map(|dev| {
            let (mut entry, size) = match dev {
                Device::Net(net) => {
                    let element = net_element_size(u64::from(net.tap.mtu));
                    device_layout(MFT_DEV_NET_BASIC, NET_RING_ELEMENTS, element, element)
                }
                Device::Block(_) => {
                    let (entry, size) = device_layout(
                        MFT_DEV_BLOCK_BASIC,
                        BLOCK_RING_ELEMENTS,
                        BLOCK_REQUEST_SIZE,
                        BLOCK_RESPONSE_SIZE,
                    );
                    (entry, size + block_data)
                }
                Device::None => return RingDirEntry::default(),
            };
            entry.area = cursor;
            cursor += size;
            entry
        })
        .collect();
    RingLayout {
        dir_gpa: base,
        bytes: cursor - base,
        entries,
    }
}

/// The rings as the vCPU thread serves them (hvt): POLL's view of them,
/// the taps while the guest waits in POLL, and the send port.
pub struct RingPoll {
    ram: Arc<GuestRam>,
    shared: Arc<RingShared>,
    vcpu_polling: Arc<AtomicBool>,
    /// Per net handle: (handle, host→guest write counter GPA, guest read counter GPA).
    rx: Vec<(u64, u64, u64)>,
    /// Per block device: (response write counter GPA, guest read counter GPA).
    completions: Vec<(u64, u64)>,
    /// Net rings with their handles, shared with the worker.
    nets: Vec<(u64, SharedNet)>,
    /// Plain `read`/`write` on the taps: the vCPU thread has no io_uring.
    engine: PortableEngine,
    /// The worker's epoll set, and the tap set in it that POLL takes out
    /// of the worker's wait (and keeps in its own wait set).
    worker_epoll: Arc<Epoll>,
    tap_set: Arc<Epoll>,
    /// The worker's doorbell, for tx frames left after the send port's batch.
    doorbell: Arc<EventFd>,
    /// Guest address of the first device area's `host_sleeping` word.
    host_sleeping: Option<u64>,
}

/// A failed wait of POLL.
pub fn polling_error(source: std::io::Error) -> TenderError {
    TenderError::Io {
        what: "polling",
        source,
    }
}

impl RingPoll {
    /// Handles whose host→guest channel holds frames the guest has not read.
    fn ready(&self) -> (u64, i32) {
        let mut set = 0;
        let mut count = 0;
        for &(handle, wc, guest_rc) in &self.rx {
            if self.unread(wc, guest_rc) {
                set |= 1 << handle;
                count += 1;
            }
        }
        (set, count)
    }

    /// Whether a block device holds a completion the guest has not reaped:
    /// POLL returns at once then (with no handle set), for the guest to
    /// reap it. The worker ends a POLL when it publishes during one, but a
    /// completion published between the guest's last look and our
    /// `vcpu_polling` woke nobody, and the guest slept until its deadline.
    fn completions_waiting(&self) -> bool {
        self.completions
            .iter()
            .any(|&(wc, guest_rc)| self.unread(wc, guest_rc))
    }

    /// Whether a channel's write counter (at guest address `wc`) differs
    /// from the guest's published read counter (at `guest_rc`): elements
    /// wait for the guest. Each word is read once; an address outside
    /// guest memory reads as 0.
    fn unread(&self, wc: u64, guest_rc: u64) -> bool {
        let wc = self.ram.load_u64(wc, Ordering::Acquire).unwrap_or(0);
        let rc = self.ram.load_u64(guest_rc, Ordering::Acquire).unwrap_or(0);
        wc != rc
    }

    /// Whether the worker is up, or about to be: `host_sleeping` in the
    /// first device area is clear, or says it waits for room in a full rx
    /// ring, which the guest's releases rang it for before the ring ran
    /// dry. A guest that scribbles the word gets at most a needless
    /// `sched_yield` per POLL.
    fn worker_due(&self) -> bool {
        self.host_sleeping.is_some_and(|word| {
            self.ram
                .load_u64(word, Ordering::SeqCst)
                .is_ok_and(|sleeping| sleeping == 0 || sleeping & HOST_SLEEPING_RX_FULL != 0)
        })
    }

    /// POLL with rings: returns at once if a ring has input, else sleeps
    /// until a tap has input, the worker publishes, or the timeout passes.
    /// For that time this thread alone watches the taps: it takes the tap
    /// set out of the worker's wait, and on waking reads what the taps hold
    /// into the rx rings itself (one batch per device), so a frame for a
    /// waiting guest takes one wake-up, this thread's.
    pub fn poll(
        &mut self,
        wait_set: &mut WaitSet,
        timeout_ns: u64,
    ) -> Result<(u64, i32), TenderError> {
        let ready = self.ready();
        if ready.1 > 0 || timeout_ns == 0 || self.completions_waiting() {
            return Ok(ready);
        }
        if self.worker_due() {
            // A worker that shares our CPU waits for it to fill the rings:
            // let it run first rather than read the taps ourselves.
            crate::poll::yield_cpu();
            let ready = self.ready();
            if ready.1 > 0 {
                return Ok(ready);
            }
        }
        self.vcpu_polling.store(true, Ordering::SeqCst);
        watch_tap_set(&self.worker_epoll, &self.tap_set, false).map_err(polling_error)?;
        fence(Ordering::SeqCst);
        if self.ready().1 == 0 && !self.completions_waiting() {
            wait_set.wait(timeout_ns).map_err(polling_error)?;
            for (_, net) in &self.nets {
                lock_net(net).pump_rx(&self.ram, &mut self.engine)?;
            }
        }
        self.vcpu_polling.store(false, Ordering::SeqCst);
        watch_tap_set(&self.worker_epoll, &self.tap_set, true).map_err(polling_error)?;
        let _ = self.shared.guest_wake.read();
        Ok(self.ready())
    }

    /// The send port: sends one batch of what net device `handle`'s tx
    /// ring holds with plain writes, before the guest resumes; anything
    /// left is the worker's (doorbell). Any other handle is ignored, as
    /// the doorbell ignores its value.
    pub fn send(&mut self, handle: u64) -> Result<(), TenderError> {
        let Some((_, net)) = self.nets.iter().find(|(h, _)| *h == handle) else {
            return Ok(());
        };
        let mut net = lock_net(net);
        net.pump_tx(&self.ram, &mut self.engine)?;
        if net.tx_pending() {
            let _ = self.doorbell.write(1);
        }
        Ok(())
    }
}

/// Descriptors of the running rings the vCPU thread's filter names.
pub struct RingFds {
    /// The guest's doorbell (the vCPU rings it to stop the worker, and
    /// for tx frames the send port leaves).
    pub doorbell: RawFd,
    /// The worker's wake-up eventfd (POLL reads it).
    pub wake: RawFd,
    /// The worker's epoll set, in which POLL switches the tap set off and on.
    pub worker_epoll: RawFd,
    /// The nested epoll set of the taps (in the worker's set and POLL's).
    pub tap_set: RawFd,
    /// The taps, which POLL reads and the send port writes.
    pub taps: Vec<RawFd>,
    /// The io_uring instance, if any (the signal handler drops its files).
    pub uring: Option<RawFd>,
}

/// How the rings are served (from the command line).
#[derive(Clone, Copy, Debug, Default)]
pub struct RingOptions {
    /// The I/O engine.
    pub engine: EngineChoice,
    /// Drop (and count) frames for full rx rings instead of leaving them
    /// in the tap.
    pub net_lossy: bool,
}

/// The host side of every device's rings, channels initialised.
pub struct RingDevices {
    /// Net devices.
    pub nets: Vec<SharedNet>,
    /// Block devices.
    pub blocks: Vec<BlockRing>,
    /// Device areas.
    pub areas: Vec<u64>,
    /// The engine's file table: taps and block files, in device order.
    pub files: Vec<EngineFile>,
    /// Per net handle: (handle, host→guest write counter, guest read counter).
    rx: Vec<(u64, u64, u64)>,
    /// Per block device: (response write counter, guest read counter).
    completions: Vec<(u64, u64)>,
}

/// Writes the ring directory and creates the host's side of each device's
/// channels in `ram` (guest RAM on hvt, the shared ring memory on spt).
///
/// The areas must still be as mapped, all zero (`docs/ring-abi.md` §2): the
/// channels are initialised without clearing their element areas, so that
/// an idle device's slots never become resident.
pub fn build(
    ram: &Arc<GuestRam>,
    plan: &RingLayout,
    devices: &[Device],
    options: RingOptions,
) -> Result<RingDevices, TenderError> {
    let header = RingDirHeader {
        version: RING_DIR_VERSION,
        count: plan.entries.len() as u32,
    };
    ram.setup_write(plan.dir_gpa, bytemuck::bytes_of(&header))?;
    ram.setup_write(
        plan.dir_gpa + size_of::<RingDirHeader>() as u64,
        bytemuck::cast_slice(&plan.entries),
    )?;

    let mut files = Vec::new();
    let mut nets = Vec::new();
    let mut blocks = Vec::new();
    let mut rx = Vec::new();
    let mut completions = Vec::new();
    let mut areas = Vec::new();
    for (handle, (dev, entry)) in devices.iter().zip(&plan.entries).enumerate() {
        if entry.area == 0 {
            continue;
        }
        areas.push(entry.area);
        let elements = u64::from(entry.elements);
        let region = |offset: u64, size: u64| {
            GuestRegion::new(
                ram.clone(),
                entry.area + offset,
                (CHANNEL_HEADER_SIZE + size * elements) as usize,
            )
        };
        match dev {
            Device::Net(net) => {
                let element = net_element_size(u64::from(net.tap.mtu));
                let tx = Reader::new(
                    region(entry.g2h_offset, element),
                    NET_PROTOCOL,
                    element as usize,
                )
                .map_err(Error::Channel)?;
                let rx_writer = Writer::init_zeroed(
                    region(entry.h2g_offset, element),
                    NET_PROTOCOL,
                    element as usize,
                    HOST_EPOCH,
                )
                .map_err(Error::Channel)?;
                let flow = NetFlow::Area {
                    area: entry.area,
                    lossy: options.net_lossy,
                };
                let ring = NetRing::new(
                    flow,
                    net.raw_fd(),
                    files.len() as u32,
                    element as usize - 2,
                    tx,
                    rx_writer,
                );
                let (wc, guest_rc) = ring.rx_counters().expect("an area's ring has counters");
                rx.push((handle as u64, wc, guest_rc));
                files.push(EngineFile {
                    fd: net.raw_fd(),
                    stream: true,
                });
                nets.push(Arc::new(Mutex::new(ring)));
            }
            Device::Block(block) => {
                let requests = Reader::new(
                    region(entry.g2h_offset, BLOCK_REQUEST_SIZE),
                    BLOCK_PROTOCOL,
                    BLOCK_REQUEST_SIZE as usize,
                )
                .map_err(Error::Channel)?;
                let responses = Writer::init_zeroed(
                    region(entry.h2g_offset, BLOCK_RESPONSE_SIZE),
                    BLOCK_PROTOCOL,
                    BLOCK_RESPONSE_SIZE as usize,
                    HOST_EPOCH,
                )
                .map_err(Error::Channel)?;
                let ring = BlockRing::new(
                    BlockFlow::Area { area: entry.area },
                    files.len() as u32,
                    block.capacity,
                    u64::from(block.block_size),
                    requests,
                    responses,
                );
                completions.extend(ring.response_counters());
                blocks.push(ring);
                files.push(EngineFile {
                    fd: block.raw_fd(),
                    stream: false,
                });
            }
            Device::None => {}
        }
    }

    Ok(RingDevices {
        nets,
        blocks,
        areas,
        files,
        rx,
        completions,
    })
}

/// Writes the directory, creates the host's channels, registers the doorbell
/// and starts the worker thread (hvt) under its own filter, without waiting
/// for it: [`StartingWorker::confined`] does, before the guest runs. The
/// vCPU's wait set gets the worker's wake-up fd.
pub fn start(
    ram: Arc<GuestRam>,
    plan: &RingLayout,
    devices: &[Device],
    vm: &VmFd,
    options: RingOptions,
    wait_set: &mut WaitSet,
    notice: impl Fn(&str),
) -> Result<(StartingWorker, RingPoll, RingFds), TenderError> {
    let RingDevices {
        nets,
        blocks,
        areas,
        files,
        rx,
        completions,
    } = build(&ram, plan, devices, options)?;
    let doorbell = EventFd::new(EFD_NONBLOCK).map_err(syscall("eventfd"))?;
    vm.register_ioevent(
        &doorbell,
        &IoEventAddress::Pio(u64::from(RT_RING_DOORBELL_PIO)),
        NoDatamatch,
    )
    .map_err(kvm_err("KVM_IOEVENTFD"))?;
    let vcpu_polling = Arc::new(AtomicBool::new(false));
    let shared = Arc::new(RingShared {
        waiting: GuestWaiting::VcpuThread(vcpu_polling.clone()),
        guest_wake: EventFd::new(EFD_NONBLOCK).map_err(syscall("eventfd"))?,
    });
    wait_set
        .add_internal(shared.guest_wake.as_raw_fd(), GUEST_WAKE_EVENT)
        .map_err(syscall("epoll"))?;
    let engine = engine::build(options.engine, &files, notice)?;
    let epoll = Arc::new(worker_epoll(&doorbell).map_err(syscall("epoll"))?);
    watch_completions(&epoll, engine.as_ref()).map_err(syscall("epoll"))?;
    let taps = Arc::new(tap_set(&epoll).map_err(syscall("epoll"))?);
    wait_set
        .add_internal(taps.as_raw_fd(), TAP_SET_EVENT)
        .map_err(syscall("epoll"))?;
    let device_fds = DeviceFds::of(devices);
    let fds = RingFds {
        doorbell: doorbell.as_raw_fd(),
        wake: shared.guest_wake.as_raw_fd(),
        uring: engine.ring_fd(),
        worker_epoll: epoll.as_raw_fd(),
        tap_set: taps.as_raw_fd(),
        taps: device_fds.taps.clone(),
    };
    let filter = ring_worker_filter(&RingWorkerFds {
        doorbell: fds.doorbell,
        wake: fds.wake,
        epoll: epoll.as_raw_fd(),
        tap_set: taps.as_raw_fd(),
        uring: fds.uring,
        taps: device_fds.taps,
        blocks: device_fds.blocks,
    })?;
    let doorbell = Arc::new(doorbell);
    let poll = RingPoll {
        ram: ram.clone(),
        shared: shared.clone(),
        vcpu_polling,
        nets: rx.iter().map(|r| r.0).zip(nets.iter().cloned()).collect(),
        rx,
        completions,
        engine: PortableEngine::new(&files),
        worker_epoll: epoll.clone(),
        tap_set: taps.clone(),
        doorbell: doorbell.clone(),
        host_sleeping: areas.first().map(|area| area + AREA_HOST_SLEEPING),
    };
    let worker = RingWorker::launch(
        WorkerState {
            ram,
            nets,
            blocks,
            areas,
            engine,
            epoll,
            tap_set: Some(taps),
            doorbell,
            shared,
        },
        filter,
    )?;
    Ok((worker, poll, fds))
}
