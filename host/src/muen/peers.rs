//! The subject's peers: per NET_BASIC device a tap behind `NAME|in` and
//! `NAME|out`, per BLOCK_BASIC device a muenblock server over a file behind
//! `NAME|request`, `NAME|response` and `NAME|buffer`. Both are the host's
//! ring code (`crate::rings`: the same net and block rings, worker and I/O
//! engines hvt and spt use) in its Muen flow: plain SHMStream v2 channels
//! without reader counters, the peer initialising the channels it writes
//! before the subject starts. They run on one worker thread, as hvt's ring
//! worker does.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use ringtender_muen_compat::block::{BlockRequest, BlockResponse};
use ringtender_muen_compat::net::{MUEN_FRAME_MAX, MUEN_NET_ELEMENT_SIZE};
use ringtender_muen_compat::{Reader, Writer, BLOCK_PROTOCOL, NET_PROTOCOL};
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

use crate::attach::Device;
use crate::error::TenderError;
use crate::guest_memory::GuestRam;
use crate::muen::layout::{Region, Role, SubjectLayout};
use crate::rings::engine::{self, EngineChoice, EngineFile};
use crate::rings::{
    worker_epoll, BlockFlow, BlockRing, GuestRegion, GuestWaiting, MuenRx, NetFlow, NetRing,
    RingShared, RingWorker, WorkerState,
};

/// How often the sleeping peers poll the subject's channels: a Muen subject
/// never notifies them (Solo5's muen bindings raise no events), and 1 ms is
/// the runner's minor frame (`clock.rs`).
pub const POLL_TICK: Duration = Duration::from_millis(1);
/// Epoch of the channels the peers write, from the start.
const PEER_EPOCH: u64 = 1;

/// Guest memory the peers' I/O may read (what the subject sends, the block
/// buffer) and write (what it receives, the block buffer): the ranges for
/// [`GuestRam::set_guest_access`].
pub fn io_ranges(layout: &SubjectLayout) -> (Vec<Range<u64>>, Vec<Range<u64>>) {
    let ranges = |roles: &[Role]| {
        layout
            .regions
            .iter()
            .filter(|r| roles.contains(&r.role))
            .map(|r| r.gpa..r.gpa + r.size)
            .collect()
    };
    (
        ranges(&[Role::NetOut, Role::BlockBuffer]),
        ranges(&[Role::NetIn, Role::BlockBuffer]),
    )
}

fn channel<'a>(
    ram: &Arc<GuestRam>,
    layout: &'a SubjectLayout,
    role: Role,
    handle: usize,
) -> Result<(GuestRegion, &'a Region), TenderError> {
    let region = layout
        .device_region(role, handle)
        .ok_or_else(|| TenderError::Setup(format!("device {handle} has no {role:?} region")))?;
    Ok((
        GuestRegion::new(ram.clone(), region.gpa, region.size as usize),
        region,
    ))
}

fn channel_err(e: ringtender_muen_compat::ChannelError) -> TenderError {
    TenderError::Setup(format!("peer channel: {e:?}"))
}

/// Initialises the channels the peers write and starts the peers' worker
/// on the I/O engine `choice`; `None` when the subject has no devices.
pub fn start(
    ram: &Arc<GuestRam>,
    layout: &SubjectLayout,
    devices: &[Device],
    choice: EngineChoice,
    notice: impl Fn(&str),
) -> Result<Option<RingWorker>, TenderError> {
    let mut files = Vec::new();
    let mut nets = Vec::new();
    let mut blocks = Vec::new();
    for (handle, dev) in devices.iter().enumerate() {
        match dev {
            Device::Net(net) => {
                let (out, _) = channel(ram, layout, Role::NetOut, handle)?;
                let (input, _) = channel(ram, layout, Role::NetIn, handle)?;
                let tx =
                    Reader::new(out, NET_PROTOCOL, MUEN_NET_ELEMENT_SIZE).map_err(channel_err)?;
                let rx = Writer::init(input, NET_PROTOCOL, MUEN_NET_ELEMENT_SIZE, PEER_EPOCH)
                    .map_err(channel_err)?;
                nets.push(NetRing::new(
                    NetFlow::Muen(MuenRx::new(PEER_EPOCH + 1)),
                    net.raw_fd(),
                    files.len() as u32,
                    MUEN_FRAME_MAX,
                    tx,
                    rx,
                ));
                files.push(EngineFile {
                    fd: net.raw_fd(),
                    stream: true,
                });
            }
            Device::Block(block) => {
                let (request, _) = channel(ram, layout, Role::BlockRequest, handle)?;
                let (response, _) = channel(ram, layout, Role::BlockResponse, handle)?;
                let (_, buffer) = channel(ram, layout, Role::BlockBuffer, handle)?;
                let requests = Reader::new(request, BLOCK_PROTOCOL, size_of::<BlockRequest>())
                    .map_err(channel_err)?;
                let responses = Writer::init(
                    response,
                    BLOCK_PROTOCOL,
                    size_of::<BlockResponse>(),
                    PEER_EPOCH,
                )
                .map_err(channel_err)?;
                blocks.push(BlockRing::new(
                    BlockFlow::Muen {
                        buffer: buffer.gpa..buffer.gpa + buffer.size,
                    },
                    files.len() as u32,
                    block.capacity,
                    u64::from(block.block_size),
                    requests,
                    responses,
                ));
                files.push(EngineFile {
                    fd: block.raw_fd(),
                    stream: false,
                });
            }
            Device::None => {}
        }
    }
    if files.is_empty() {
        return Ok(None);
    }
    let setup = |what: &str, e: std::io::Error| TenderError::Setup(format!("{what}: {e}"));
    // No subject rings it: it is how the runner stops the worker.
    let doorbell = EventFd::new(EFD_NONBLOCK).map_err(|e| setup("eventfd", e))?;
    let epoll = worker_epoll(&doorbell).map_err(|e| setup("epoll", e))?;
    let shared = Arc::new(RingShared {
        waiting: GuestWaiting::Polling(POLL_TICK),
        guest_wake: EventFd::new(EFD_NONBLOCK).map_err(|e| setup("eventfd", e))?,
    });
    let engine = engine::build(choice, &files, notice)?;
    RingWorker::start(WorkerState {
        ram: ram.clone(),
        nets,
        blocks,
        areas: Vec::new(),
        engine,
        epoll,
        doorbell: Arc::new(doorbell),
        shared,
    })
    .map(Some)
}
