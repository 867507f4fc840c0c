//! The subject's peers: per NET_BASIC device a tap behind `NAME|in` and
//! `NAME|out`, per BLOCK_BASIC device a muenblock server over a file behind
//! `NAME|request`, `NAME|response` and `NAME|buffer`. Both are the host's
//! ring code (`crate::rings`: the same net and block rings, worker and I/O
//! engines hvt and spt use) in its Muen flow: plain SHMStream v2 channels
//! without reader counters, the peer initialising the channels it writes
//! before the subject starts. They run on one worker thread, as hvt's ring
//! worker does.

use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ringtender_muen_compat::block::{BlockRequest, BlockResponse};
use ringtender_muen_compat::net::{MUEN_FRAME_MAX, MUEN_NET_ELEMENT_SIZE};
use ringtender_muen_compat::{
    Reader, SharedMemory, Writer, BLOCK_PROTOCOL, NET_PROTOCOL, OFFSET_EPOCH,
};
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

use std::os::fd::{AsRawFd, RawFd};

use super::Error;
use crate::attach::{Device, DeviceFds};
use crate::error::{syscall, TenderError};
use crate::guest_memory::GuestRam;
use crate::hvt::seccomp::{ring_worker_filter, RingWorkerFds};
use crate::muen::layout::{Role, SubjectLayout};
use crate::rings::engine::{self, EngineChoice, EngineFile};
use crate::rings::{
    watch_completions, worker_epoll, BlockFlow, BlockRing, GuestRegion, GuestWaiting, MuenRx,
    NetFlow, NetRing, RingShared, RingWorker, WorkerState,
};

/// How often the sleeping peers poll the subject's channels: a Muen subject
/// never notifies them (Solo5's muen bindings raise no events), and 1 ms is
/// the runner's minor frame (`clock.rs`).
pub const POLL_TICK: Duration = Duration::from_millis(1);
/// The epoch the peers give a channel they write, from the start: one past
/// the epoch it holds (1 for fresh memory), never 0. A restarted
/// `solo5-muen-peer` thus starts a new epoch, at which the subject's reader
/// resynchronises, rather than reuse the one it had.
fn fresh_epoch(channel: &GuestRegion) -> u64 {
    channel.load_acquire(OFFSET_EPOCH).wrapping_add(1).max(1)
}

/// One device's channel or buffer in the peers' memory: in the runner a
/// region of the subject's memory, in `solo5-muen-peer` a channel file it
/// maps (`channel_files`). The peers reach it only through [`GuestRam`]
/// (vm-memory's volatile and atomic access).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerRegion {
    /// What the region is for the device.
    pub role: Role,
    /// The device's handle (its index among the devices the peers serve).
    pub device: usize,
    /// Its address in the peers' memory.
    pub gpa: u64,
    /// Its size in bytes.
    pub size: u64,
}

/// The channels and buffers of every device of `layout`, where they lie in
/// the subject's memory.
pub fn subject_regions(layout: &SubjectLayout) -> Vec<PeerRegion> {
    layout
        .regions
        .iter()
        .filter_map(|r| {
            Some(PeerRegion {
                role: r.role,
                device: r.device?,
                gpa: r.gpa,
                size: r.size,
            })
        })
        .collect()
}

/// Memory the peers' I/O may read (what the subject sends, the block
/// buffer) and write (what it receives, the block buffer): the ranges for
/// [`GuestRam::set_guest_access`].
pub fn io_ranges(regions: &[PeerRegion]) -> (Vec<Range<u64>>, Vec<Range<u64>>) {
    let ranges = |roles: &[Role]| {
        regions
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
    regions: &'a [PeerRegion],
    role: Role,
    handle: usize,
) -> Result<(GuestRegion, &'a PeerRegion), TenderError> {
    let region = regions
        .iter()
        .find(|r| r.role == role && r.device == handle)
        .ok_or(Error::NoDeviceRegion { handle, role })?;
    Ok((
        GuestRegion::new(ram.clone(), region.gpa, region.size as usize),
        region,
    ))
}

/// The muenblock server of one device: reads `request`, initialises and
/// writes `response`, moves data through the buffer at `buffer`; the file
/// is engine file `file`, of `(capacity, block_size)` bytes.
fn block_peer(
    request: GuestRegion,
    response: GuestRegion,
    buffer: Range<u64>,
    file: u32,
    (capacity, block_size): (u64, u64),
) -> Result<BlockRing, TenderError> {
    let requests = Reader::new(request, BLOCK_PROTOCOL, size_of::<BlockRequest>())
        .map_err(Error::PeerChannel)?;
    let epoch = fresh_epoch(&response);
    let responses = Writer::init(response, BLOCK_PROTOCOL, size_of::<BlockResponse>(), epoch)
        .map_err(Error::PeerChannel)?;
    Ok(BlockRing::new(
        BlockFlow::Muen { buffer },
        file,
        capacity,
        block_size,
        requests,
        responses,
    ))
}

/// The running peers.
pub struct Peers {
    /// Their worker thread.
    pub worker: RingWorker,
    /// The worker's io_uring instance, if its engine is io_uring.
    pub uring: Option<RawFd>,
}

/// How the net peers write the subject's input channels (`MuenRx`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetRxMode {
    /// At most one ring per epoch, renewed when the subject fell behind:
    /// for readers that never recover from an overrun (upstream Solo5's).
    Paced,
    /// Muen's plain writer: for readers that resynchronise after an overrun
    /// (ringtender's bindings, RNG3 note flag `RING3_FLAG_RINGS`).
    Overwrite,
}

/// Initialises the channels the peers write and starts the peers' worker
/// on the I/O engine `choice`, serving `devices` (by handle) over their
/// `regions` in `ram`, net peers writing as `rx_mode` says; `None` when
/// there are no devices.
pub fn start(
    ram: &Arc<GuestRam>,
    regions: &[PeerRegion],
    devices: &[Device],
    choice: EngineChoice,
    rx_mode: NetRxMode,
    notice: impl Fn(&str),
) -> Result<Option<Peers>, TenderError> {
    let mut files = Vec::new();
    let mut nets = Vec::new();
    let mut blocks = Vec::new();
    for (handle, dev) in devices.iter().enumerate() {
        match dev {
            Device::Net(net) => {
                let (out, _) = channel(ram, regions, Role::NetOut, handle)?;
                let (input, _) = channel(ram, regions, Role::NetIn, handle)?;
                let tx = Reader::new(out, NET_PROTOCOL, MUEN_NET_ELEMENT_SIZE)
                    .map_err(Error::PeerChannel)?;
                let epoch = fresh_epoch(&input);
                let rx = Writer::init(input, NET_PROTOCOL, MUEN_NET_ELEMENT_SIZE, epoch)
                    .map_err(Error::PeerChannel)?;
                let pacing = match rx_mode {
                    NetRxMode::Paced => MuenRx::new(epoch.wrapping_add(1).max(1)),
                    NetRxMode::Overwrite => MuenRx::overwriting(),
                };
                nets.push(Arc::new(Mutex::new(NetRing::new(
                    NetFlow::Muen(pacing),
                    net.raw_fd(),
                    files.len() as u32,
                    MUEN_FRAME_MAX,
                    tx,
                    rx,
                ))));
                files.push(EngineFile {
                    fd: net.raw_fd(),
                    stream: true,
                });
            }
            Device::Block(block) => {
                let (request, _) = channel(ram, regions, Role::BlockRequest, handle)?;
                let (response, _) = channel(ram, regions, Role::BlockResponse, handle)?;
                let (_, buffer) = channel(ram, regions, Role::BlockBuffer, handle)?;
                blocks.push(block_peer(
                    request,
                    response,
                    buffer.gpa..buffer.gpa + buffer.size,
                    files.len() as u32,
                    (block.capacity, u64::from(block.block_size)),
                )?);
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
    // No subject rings it: it is how the runner stops the worker.
    let doorbell = EventFd::new(EFD_NONBLOCK).map_err(syscall("eventfd"))?;
    let shared = Arc::new(RingShared {
        waiting: GuestWaiting::Polling(POLL_TICK),
        guest_wake: EventFd::new(EFD_NONBLOCK).map_err(syscall("eventfd"))?,
    });
    let engine = engine::build(choice, &files, notice)?;
    let epoll = worker_epoll(&doorbell).map_err(syscall("epoll"))?;
    watch_completions(&epoll, engine.as_ref()).map_err(syscall("epoll"))?;
    if let Some(uring) = engine.ring_fd() {
        // As on hvt: a signal's exit drops the ring's registered block files.
        crate::signals::release_uring_files_on_signal(uring);
    }
    // hvt's ring worker filter: the peers make the same calls.
    let device_fds = DeviceFds::of(devices);
    let filter = ring_worker_filter(&RingWorkerFds {
        doorbell: doorbell.as_raw_fd(),
        wake: shared.guest_wake.as_raw_fd(),
        epoll: epoll.as_raw_fd(),
        tap_set: epoll.as_raw_fd(),
        uring: engine.ring_fd(),
        taps: device_fds.taps,
        blocks: device_fds.blocks,
    })?;
    let uring = engine.ring_fd();
    RingWorker::start(
        WorkerState {
            ram: ram.clone(),
            nets,
            blocks,
            areas: Vec::new(),
            engine,
            epoll: Arc::new(epoll),
            tap_set: None,
            doorbell: Arc::new(doorbell),
            shared,
        },
        filter,
    )
    .map(|worker| Some(Peers { worker, uring }))
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    use ringtender_muen_compat::block::{
        BLOCK_KIND_DISCARD, BLOCK_KIND_GET_SMART, BLOCK_KIND_MAX_REQUESTS, BLOCK_KIND_READ,
        MUEN_BLOCK_STATUS_EIO, MUEN_BLOCK_STATUS_ENOTSUP, MUEN_BLOCK_STATUS_OK,
        MUEN_RESPONSE_CHANNEL_ELEMENTS, MUEN_SMART_UNDEFINED,
    };
    use ringtender_muen_compat::muenblock_client::{
        self, DeviceInfo, IoRequest, MuenblockClient, Progress,
    };
    use ringtender_muen_compat::{ReadResult, SharedMemory};

    use super::*;
    use crate::rings::engine::{IoEngine, PortableEngine, UringEngine};

    const BLOCK: u64 = 512;
    const BLOCKS: u64 = 64;
    /// Guest addresses of the request and response channels and the buffer.
    const REQUEST: u64 = 0;
    const RESPONSE: u64 = 0x8000;
    const BUFFER: Range<u64> = 0x10000..0x20000;

    struct Peer {
        ram: Arc<GuestRam>,
        ring: BlockRing,
        engine: Box<dyn IoEngine>,
        file: std::path::PathBuf,
        _open: std::fs::File,
    }

    /// A block peer over a fresh file of [`BLOCKS`] blocks, whose block `i`
    /// holds byte `i`, on `engine` (true: io_uring); the file opened
    /// read-write or, for `read_only`, read-only.
    fn peer(name: &str, uring: bool, read_only: bool) -> Peer {
        let file = std::env::temp_dir().join(format!(
            "ringtender-muenblock-{name}-{}",
            std::process::id()
        ));
        let data: Vec<u8> = (0..BLOCKS * BLOCK).map(|i| (i / BLOCK) as u8).collect();
        std::fs::write(&file, data).unwrap();
        let open = std::fs::OpenOptions::new()
            .read(true)
            .write(!read_only)
            .open(&file)
            .unwrap();
        let mut ram = GuestRam::new(BUFFER.end).unwrap();
        ram.set_guest_access(vec![BUFFER], vec![BUFFER]);
        let ram = Arc::new(ram);
        let region = |at: u64, size: usize| GuestRegion::new(ram.clone(), at, size);
        let ring = block_peer(
            region(REQUEST, 0x8000),
            region(RESPONSE, 0x4000),
            BUFFER,
            0,
            (BLOCKS * BLOCK, BLOCK),
        )
        .unwrap();
        let files = [EngineFile {
            fd: open.as_raw_fd(),
            stream: false,
        }];
        let engine: Box<dyn IoEngine> = if uring {
            Box::new(UringEngine::new(&files).unwrap())
        } else {
            Box::new(PortableEngine::new(&files))
        };
        Peer {
            ram,
            ring,
            engine,
            file,
            _open: open,
        }
    }

    impl Drop for Peer {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.file);
        }
    }

    impl Peer {
        fn client(&self) -> MuenblockClient<GuestRegion, GuestRegion> {
            MuenblockClient::new(
                GuestRegion::new(self.ram.clone(), REQUEST, 0x8000),
                GuestRegion::new(self.ram.clone(), RESPONSE, 0x4000),
            )
            .unwrap()
        }

        /// Polls the client and pumps the peer until the client says more
        /// than `Waiting` (a bounded number of rounds).
        fn drive(&mut self, client: &mut MuenblockClient<GuestRegion, GuestRegion>) -> Progress {
            for _ in 0..100 {
                match client.poll().unwrap() {
                    Progress::Waiting => {}
                    progress => return progress,
                }
                self.ring.pump(&self.ram, self.engine.as_mut()).unwrap();
            }
            panic!("the client got no answer");
        }
    }

    fn muens_client_does_io_through_the_peer(uring: bool) {
        let mut peer = peer(if uring { "uring" } else { "portable" }, uring, false);
        let mut client = peer.client();
        assert_eq!(peer.drive(&mut client), Progress::Ready);
        assert_eq!(client.device_count(), 1);
        assert_eq!(
            client.device(0),
            Some(DeviceInfo {
                blocks: BLOCKS,
                block_length: BLOCK,
                max_blocks: (1 << 20).min(BUFFER.end - BUFFER.start) / BLOCK,
            })
        );
        // Write blocks 3..6 from buffer offset 0x100: device_offset is a
        // block number, buffer_offset an offset into the buffer.
        let pattern: Vec<u8> = (0..3 * BLOCK).map(|i| (i % 251) as u8 ^ 0x5a).collect();
        peer.ram
            .setup_write(BUFFER.start + 0x100, &pattern)
            .unwrap();
        let write = IoRequest {
            op: muenblock_client::IoOp::Write,
            device: 0,
            block: 3,
            blocks: 3,
            buffer_offset: 0x100,
        };
        client.submit(write).unwrap();
        let Progress::Completed(done) = peer.drive(&mut client) else {
            panic!("write did not complete");
        };
        assert_eq!((done.status, done.blocks_done), (MUEN_BLOCK_STATUS_OK, 3));
        let file = std::fs::read(&peer.file).unwrap();
        assert_eq!(&file[3 * BLOCK as usize..6 * BLOCK as usize], &pattern[..]);
        assert!(file[..3 * BLOCK as usize].iter().all(|&b| b < 3));
        assert!(file[6 * BLOCK as usize..].iter().all(|&b| b >= 6));
        // Read blocks 5..7 back to the buffer's end.
        let at = BUFFER.end - BUFFER.start - 2 * BLOCK;
        client
            .submit(IoRequest {
                op: muenblock_client::IoOp::Read,
                block: 5,
                blocks: 2,
                buffer_offset: at,
                ..write
            })
            .unwrap();
        let Progress::Completed(done) = peer.drive(&mut client) else {
            panic!("read did not complete");
        };
        assert_eq!((done.status, done.blocks_done), (MUEN_BLOCK_STATUS_OK, 2));
        let mut back = vec![0u8; 2 * BLOCK as usize];
        peer.ram.copy_out(BUFFER.start + at, &mut back).unwrap();
        assert_eq!(&back[..BLOCK as usize], &pattern[2 * BLOCK as usize..]);
        assert!(back[BLOCK as usize..].iter().all(|&b| b == 6));
        client
            .submit(IoRequest {
                op: muenblock_client::IoOp::Sync,
                ..write
            })
            .unwrap();
        let Progress::Completed(done) = peer.drive(&mut client) else {
            panic!("sync did not complete");
        };
        assert_eq!(done.status, MUEN_BLOCK_STATUS_OK);
    }

    #[test]
    fn muens_client_does_io_through_the_peer_portable() {
        muens_client_does_io_through_the_peer(false);
    }

    #[test]
    fn muens_client_does_io_through_the_peer_uring() {
        if UringEngine::new(&[]).is_err() {
            eprintln!("skipped: io_uring unavailable");
            return;
        }
        muens_client_does_io_through_the_peer(true);
    }

    /// Sends `request` on a raw request channel and returns the status of
    /// the one response.
    fn status_of(
        peer: &mut Peer,
        requests: &mut Writer<GuestRegion>,
        request: BlockRequest,
    ) -> u64 {
        let mut responses = Reader::new(
            GuestRegion::new(peer.ram.clone(), RESPONSE, 0x4000),
            BLOCK_PROTOCOL,
            size_of::<BlockResponse>(),
        )
        .unwrap();
        // Synchronise, skip the responses of earlier calls.
        let mut raw = [0u8; size_of::<BlockResponse>()];
        assert_eq!(responses.read(&mut raw), ReadResult::EpochChanged);
        responses.drain();
        requests.write(bytemuck::bytes_of(&request)).unwrap();
        assert!(peer.ring.pump(&peer.ram, peer.engine.as_mut()).unwrap());
        assert_eq!(responses.read(&mut raw), ReadResult::Success);
        let response: BlockResponse = bytemuck::pod_read_unaligned(&raw);
        assert_eq!(
            (response.kind, response.device, response.tag),
            (request.kind, request.device, request.tag)
        );
        response.status
    }

    fn raw_requests(peer: &Peer) -> Writer<GuestRegion> {
        Writer::init(
            GuestRegion::new(peer.ram.clone(), REQUEST, 0x8000),
            BLOCK_PROTOCOL,
            size_of::<BlockRequest>(),
            1,
        )
        .unwrap()
    }

    #[test]
    fn bad_and_unsupported_requests_get_muens_status_codes() {
        let mut peer = peer("bad", false, false);
        let mut requests = raw_requests(&peer);
        let read = BlockRequest {
            kind: BLOCK_KIND_READ,
            device: 0,
            tag: 0x1000,
            length: BLOCK,
            device_offset: 0,
            buffer_offset: 0,
        };
        let cases = [
            (read, MUEN_BLOCK_STATUS_OK),
            (
                BlockRequest { device: 1, ..read },
                MUEN_BLOCK_STATUS_ENOTSUP,
            ),
            // Past the device, past the buffer, not whole blocks, none.
            (
                BlockRequest {
                    device_offset: BLOCKS,
                    ..read
                },
                MUEN_BLOCK_STATUS_ENOTSUP,
            ),
            (
                BlockRequest {
                    device_offset: u64::MAX / 2,
                    ..read
                },
                MUEN_BLOCK_STATUS_ENOTSUP,
            ),
            (
                BlockRequest {
                    buffer_offset: BUFFER.end - BUFFER.start - BLOCK + 1,
                    ..read
                },
                MUEN_BLOCK_STATUS_ENOTSUP,
            ),
            (
                BlockRequest {
                    buffer_offset: u64::MAX,
                    ..read
                },
                MUEN_BLOCK_STATUS_ENOTSUP,
            ),
            (
                BlockRequest {
                    length: BLOCK + 1,
                    ..read
                },
                MUEN_BLOCK_STATUS_ENOTSUP,
            ),
            (
                BlockRequest { length: 0, ..read },
                MUEN_BLOCK_STATUS_ENOTSUP,
            ),
            (
                BlockRequest {
                    kind: BLOCK_KIND_DISCARD,
                    ..read
                },
                MUEN_BLOCK_STATUS_ENOTSUP,
            ),
            (
                BlockRequest { kind: 0x77, ..read },
                MUEN_BLOCK_STATUS_ENOTSUP,
            ),
            (
                BlockRequest {
                    kind: BLOCK_KIND_GET_SMART,
                    ..read
                },
                MUEN_SMART_UNDEFINED,
            ),
            (
                BlockRequest {
                    kind: BLOCK_KIND_MAX_REQUESTS,
                    ..read
                },
                MUEN_RESPONSE_CHANNEL_ELEMENTS as u64,
            ),
        ];
        for (request, status) in cases {
            assert_eq!(
                status_of(&mut peer, &mut requests, request),
                status,
                "{request:?}"
            );
        }
        // Nothing the refused requests named was read into the buffer.
        let mut buffer = vec![0u8; (BUFFER.end - BUFFER.start) as usize];
        SharedMemory::read_bytes(
            &GuestRegion::new(peer.ram.clone(), BUFFER.start, buffer.len()),
            0,
            &mut buffer,
        );
        assert!(buffer.iter().all(|&b| b == 0));
    }

    #[test]
    fn a_failed_write_is_muens_eio() {
        let mut peer = peer("eio", false, true);
        let mut requests = raw_requests(&peer);
        let write = BlockRequest {
            kind: ringtender_muen_compat::block::BLOCK_KIND_WRITE,
            device: 0,
            tag: 0x1000,
            length: BLOCK,
            device_offset: 1,
            buffer_offset: 0,
        };
        assert_eq!(
            status_of(&mut peer, &mut requests, write),
            MUEN_BLOCK_STATUS_EIO
        );
    }
}
