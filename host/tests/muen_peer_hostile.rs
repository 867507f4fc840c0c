//! Hostile subjects against the muen peers: the test plays the subject on
//! the channel files `solo5-muen-peer` serves (the same peer code as the
//! runner's), writing what no honest subject writes: headers with bad
//! epochs, counters far ahead or behind, wrong element sizes, protocols
//! and geometries, muenblock requests out of every range, a flood of
//! requests, net elements with impossible lengths. After each the peer
//! must still serve a valid request (proof of life); it never crashes or
//! hangs. Real files, a real tap in a namespace of the test's own.

mod common;

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{NetNs, PacketSocket, TempDir, HANG_GUARD};
use ringtender_muen_compat::block::{
    BlockRequest, BlockResponse, BLOCK_KIND_READ, BLOCK_KIND_WRITE, MUEN_BLOCK_STATUS_ENOTSUP,
    MUEN_BLOCK_STATUS_OK, MUEN_REQUEST_CHANNEL_SIZE, MUEN_RESPONSE_CHANNEL_SIZE,
};
use ringtender_muen_compat::net::{MUEN_NET_CHANNEL_DEFAULT_SIZE, MUEN_NET_ELEMENT_SIZE};
use ringtender_muen_compat::{
    RawRegion, ReadResult, Reader, SharedMemory, Writer, BLOCK_PROTOCOL, NET_PROTOCOL,
    OFFSET_ELEMENTS, OFFSET_EPOCH, OFFSET_PROTOCOL, OFFSET_SIZE, OFFSET_TRANSPORT, OFFSET_WC,
    OFFSET_WSC,
};

const BLOCK: u64 = 512;
const BLOCKS: u64 = 64;
const BUFFER_SIZE: usize = 0x10000;

/// A channel file mapped shared into the test, as the subject maps it.
struct Mapped {
    region: RawRegion,
    len: usize,
    _file: File,
}

impl Mapped {
    fn new(path: &Path, len: usize) -> Self {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .unwrap();
        file.set_len(len as u64).unwrap();
        // SAFETY: a fresh shared mapping of the whole file, checked below.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        assert_ne!(ptr, libc::MAP_FAILED);
        // SAFETY: the mapping is page-aligned, `len` bytes long and lives
        // until drop; this test reaches it only through the region (atomic
        // and volatile accesses), the peer from another process.
        let region = unsafe { RawRegion::new(ptr.cast(), len) };
        Self {
            region,
            len,
            _file: file,
        }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: unmaps this mapping, which nothing uses any more.
        unsafe { libc::munmap(self.region.as_ptr().cast(), self.len) };
    }
}

/// Gives the peer, which polls the channels every millisecond when idle,
/// the chance to meet what the subject just wrote. Nothing depends on it
/// having done so: the checks that follow wait as long as they must.
fn let_the_peer_look() {
    std::thread::sleep(Duration::from_millis(20));
}

/// Whether process `pid` still runs (not gone, not a zombie).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| !stat.rsplit(')').next().unwrap_or("").starts_with(" Z"))
}

/// The peer still runs; SIGTERM then ends it with its line and status 1
/// (not a crash, not a hang).
fn assert_alive_then_stop(mut peer: Child) {
    assert!(peer.try_wait().unwrap().is_none(), "the peer died");
    // SAFETY: kill(2) of our own child.
    assert_eq!(unsafe { libc::kill(peer.id() as i32, libc::SIGTERM) }, 0);
    common::wait(peer).assert_error_line("solo5-muen-peer: Exiting on signal 15");
}

/// A block device's channels and buffer, the file behind it (block `i`
/// holds byte `i`), and the peer serving them.
struct BlockSubject {
    _dir: TempDir,
    image: std::path::PathBuf,
    request: Mapped,
    response: Mapped,
    buffer: Mapped,
    peer: Child,
    epoch: std::cell::Cell<u64>,
}

impl BlockSubject {
    fn start() -> Self {
        let dir = TempDir::new();
        let image = dir.join("storage.img");
        let data: Vec<u8> = (0..BLOCKS * BLOCK).map(|i| (i / BLOCK) as u8).collect();
        std::fs::write(&image, data).unwrap();
        let request = Mapped::new(&dir.join("request"), MUEN_REQUEST_CHANNEL_SIZE);
        let response = Mapped::new(&dir.join("response"), MUEN_RESPONSE_CHANNEL_SIZE);
        let buffer = Mapped::new(&dir.join("buffer"), BUFFER_SIZE);
        let option =
            |name: &str, file: &str| format!("--block-{name}:storage={}", dir.join(file).display());
        let peer = start_peer_with(
            None,
            &[
                format!("--block:storage={}", image.display()),
                option("request", "request"),
                option("response", "response"),
                option("buffer", "buffer"),
            ],
        );
        Self {
            _dir: dir,
            image,
            request,
            response,
            buffer,
            peer,
            epoch: std::cell::Cell::new(100),
        }
    }

    /// A request writer on a fresh epoch, as a subject (re)starting its
    /// client makes one.
    fn requests(&self) -> Writer<&RawRegion> {
        self.epoch.set(self.epoch.get() + 1);
        Writer::init(
            &self.request.region,
            BLOCK_PROTOCOL,
            size_of::<BlockRequest>(),
            self.epoch.get(),
        )
        .unwrap()
    }

    /// Sends each of `requests` on a fresh epoch and returns their
    /// statuses, waiting for every response however long it takes.
    fn statuses(&self, requests: &[BlockRequest]) -> Vec<u64> {
        self.statuses_on(&mut self.requests(), requests)
    }

    /// As [`BlockSubject::statuses`], on `writer`'s epoch.
    fn statuses_on(&self, writer: &mut Writer<&RawRegion>, requests: &[BlockRequest]) -> Vec<u64> {
        let mut responses = Reader::new(
            &self.response.region,
            BLOCK_PROTOCOL,
            size_of::<BlockResponse>(),
        )
        .unwrap();
        let mut raw = [0u8; size_of::<BlockResponse>()];
        // Start past every response already there, once the peer has
        // initialised its channel.
        let start = Instant::now();
        loop {
            match responses.read(&mut raw) {
                ReadResult::NoData => break,
                ReadResult::Success | ReadResult::EpochChanged => {}
                ReadResult::OverrunDetected => responses.drain(),
                _ => {
                    assert!(start.elapsed() < HANG_GUARD, "no response channel");
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
        let mut statuses = Vec::new();
        for request in requests {
            writer.write(bytemuck::bytes_of(request)).unwrap();
            let start = Instant::now();
            let response = loop {
                match responses.read(&mut raw) {
                    ReadResult::Success => {
                        let response: BlockResponse = bytemuck::pod_read_unaligned(&raw);
                        if response.tag == request.tag {
                            break response;
                        }
                    }
                    ReadResult::OverrunDetected => responses.drain(),
                    _ => {
                        assert!(running(self.peer.id()), "the peer died");
                        assert!(start.elapsed() < HANG_GUARD, "no response to {request:?}");
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            };
            assert_eq!(
                (response.kind, response.device),
                (request.kind, request.device)
            );
            statuses.push(response.status);
        }
        statuses
    }

    /// Proof of life: block 3 read into the buffer's start, on a fresh
    /// epoch.
    fn assert_serves(&self) {
        self.assert_serves_on(&mut self.requests());
    }

    /// Proof of life on `writer`'s epoch.
    fn assert_serves_on(&self, writer: &mut Writer<&RawRegion>) {
        self.buffer.region.write_bytes(0, &[0xee; BLOCK as usize]);
        let read = BlockRequest {
            kind: BLOCK_KIND_READ,
            device: 0,
            tag: 0xa11e,
            length: BLOCK,
            device_offset: 3,
            buffer_offset: 0,
        };
        assert_eq!(self.statuses_on(writer, &[read]), [MUEN_BLOCK_STATUS_OK]);
        let mut back = [0u8; BLOCK as usize];
        self.buffer.region.read_bytes(0, &mut back);
        assert!(back.iter().all(|&b| b == 3), "block 3 read back wrong");
    }
}

/// A request header as a hostile subject writes it, field by field.
fn write_header(region: &RawRegion, fields: &[(usize, u64)]) {
    for &(offset, value) in fields {
        region.store_release(offset, value);
    }
}

/// Request channels with bad epochs, counters far ahead or behind, and
/// wrong transports, protocols, element sizes and geometries: the peer
/// takes none of it, reads nothing outside the channel, and serves the
/// next valid client.
/// A peer whose test thread ends (as every thread of a test process killed
/// from outside does) is killed with it: outside a namespace nothing else
/// would stop it serving.
#[test]
fn a_peer_dies_with_the_test_thread_that_started_it() {
    let subject = std::thread::spawn(BlockSubject::start).join().unwrap();
    let out = common::wait(subject.peer);
    assert_eq!(out.signal, Some(libc::SIGKILL), "{out:#?}");
}

#[test]
fn hostile_request_channel_headers_leave_the_peer_serving() {
    let subject = BlockSubject::start();
    subject.assert_serves();
    let valid = |epoch: u64| {
        [
            (OFFSET_EPOCH, 0),
            (OFFSET_TRANSPORT, ringtender_muen_compat::SHMSTREAM20_MARKER),
            (OFFSET_PROTOCOL, BLOCK_PROTOCOL),
            (OFFSET_SIZE, size_of::<BlockRequest>() as u64),
            (OFFSET_ELEMENTS, 1022),
            (OFFSET_WSC, 0),
            (OFFSET_WC, 0),
            (OFFSET_EPOCH, epoch),
        ]
    };
    let far = 1u64 << 62;
    let cases: Vec<(&str, Vec<(usize, u64)>)> = vec![
        ("wrong transport", vec![(OFFSET_TRANSPORT, 0x1234)]),
        ("wrong protocol", vec![(OFFSET_PROTOCOL, NET_PROTOCOL)]),
        ("element size 0", vec![(OFFSET_SIZE, 0)]),
        ("element size 31", vec![(OFFSET_SIZE, 31)]),
        ("element size huge", vec![(OFFSET_SIZE, u64::MAX)]),
        ("elements 0", vec![(OFFSET_ELEMENTS, 0)]),
        ("elements past the channel", vec![(OFFSET_ELEMENTS, 1023)]),
        ("elements huge", vec![(OFFSET_ELEMENTS, u64::MAX)]),
        (
            "size times elements overflows",
            vec![(OFFSET_SIZE, 1 << 33), (OFFSET_ELEMENTS, 1 << 33)],
        ),
        (
            "wsc and wc far ahead",
            vec![(OFFSET_WSC, far), (OFFSET_WC, far)],
        ),
        ("wc ahead of wsc", vec![(OFFSET_WSC, 3), (OFFSET_WC, 900)]),
        (
            "wsc far ahead of wc",
            vec![(OFFSET_WSC, far), (OFFSET_WC, 5)],
        ),
        (
            "counters at the top",
            vec![(OFFSET_WSC, u64::MAX), (OFFSET_WC, u64::MAX)],
        ),
        (
            "elements huge, counters far ahead",
            vec![
                (OFFSET_ELEMENTS, u64::MAX),
                (OFFSET_WSC, far),
                (OFFSET_WC, far),
            ],
        ),
        (
            "one element past the channel, all written",
            vec![
                (OFFSET_ELEMENTS, 1023),
                (OFFSET_WSC, 1023),
                (OFFSET_WC, 1023),
            ],
        ),
    ];
    for (what, fields) in cases {
        let mut header = valid(7).to_vec();
        // The bad fields before the epoch is published, and again after.
        header.splice(7..7, fields.iter().copied());
        header.extend(fields.iter().copied());
        write_header(&subject.request.region, &header);
        let_the_peer_look();
        subject.assert_serves();
        eprintln!("survived: {what}");
    }
    // Counters that go back within an epoch, and an epoch that churns.
    let mut requests = subject.requests();
    for _ in 0..5 {
        requests.write(&[0u8; 32]).unwrap();
    }
    write_header(&subject.request.region, &[(OFFSET_WSC, 1), (OFFSET_WC, 1)]);
    let_the_peer_look();
    for epoch in 0..2000u64 {
        write_header(
            &subject.request.region,
            &[(OFFSET_EPOCH, epoch % 3), (OFFSET_WC, epoch * 7919)],
        );
    }
    let_the_peer_look();
    subject.assert_serves();
    assert_alive_then_stop(subject.peer);
}

/// Muenblock requests out of every range get Muen's "not supported", and
/// neither the file nor the buffer around their ranges changes.
#[test]
fn hostile_muenblock_requests_are_refused() {
    let subject = BlockSubject::start();
    let image_before = std::fs::read(&subject.image).unwrap();
    let write = BlockRequest {
        kind: BLOCK_KIND_WRITE,
        device: 0,
        tag: 1,
        length: BLOCK,
        device_offset: 0,
        buffer_offset: 0,
    };
    let buffer = BUFFER_SIZE as u64;
    let bad: Vec<BlockRequest> = [
        (BLOCKS, BLOCK, 0),
        (BLOCKS - 1, 2 * BLOCK, 0),
        (u64::MAX / BLOCK, BLOCK, 0),
        (u64::MAX, BLOCK, 0),
        (0, u64::MAX, 0),
        (0, 1 << 40, 0),
        (0, BLOCK - 1, 0),
        (0, 0, 0),
        (0, BLOCK, buffer - BLOCK + 1),
        (0, BLOCK, buffer),
        (0, BLOCK, u64::MAX - BLOCK + 1),
        (0, 2 * BLOCK, u64::MAX - BLOCK + 1),
        (0, u64::MAX - 10, 11),
    ]
    .iter()
    .enumerate()
    .flat_map(|(i, &(device_offset, length, buffer_offset))| {
        [BLOCK_KIND_WRITE, BLOCK_KIND_READ].map(|kind| BlockRequest {
            kind,
            tag: 0x100 + 2 * i as u32 + u32::from(kind == BLOCK_KIND_READ),
            device_offset,
            length,
            buffer_offset,
            ..write
        })
    })
    .chain([
        BlockRequest {
            device: 7,
            tag: 0x200,
            ..write
        },
        BlockRequest {
            kind: 0xffff,
            tag: 0x201,
            ..write
        },
    ])
    .collect();
    let marker = vec![0x5a; BUFFER_SIZE];
    subject.buffer.region.write_bytes(0, &marker);
    let statuses = subject.statuses(&bad);
    for (request, status) in bad.iter().zip(&statuses) {
        assert_eq!(*status, MUEN_BLOCK_STATUS_ENOTSUP, "{request:?}");
    }
    let mut after = vec![0u8; BUFFER_SIZE];
    subject.buffer.region.read_bytes(0, &mut after);
    assert!(after == marker, "a refused read wrote the buffer");
    assert!(
        std::fs::read(&subject.image).unwrap() == image_before,
        "a refused write reached the file"
    );
    subject.assert_serves();
    assert_alive_then_stop(subject.peer);
}

/// A subject that floods the request channel, overrunning the peer's
/// reader again and again and never reading a response, takes a bounded
/// share of the peer, which recovers on the same epoch: a request sent
/// after the flood is answered. (An overrun reader skips to the writer's
/// counter, as Muen's channels have it, so a request written while the
/// peer was still behind is lost with the flood; the subject sends it
/// again, as often as it takes.)
#[test]
fn a_flooding_subject_leaves_the_peer_serving() {
    let subject = BlockSubject::start();
    let mut requests = subject.requests();
    subject.assert_serves_on(&mut requests);
    let read = BlockRequest {
        kind: BLOCK_KIND_READ,
        device: 0,
        tag: 0,
        length: BLOCK,
        device_offset: 1,
        buffer_offset: BLOCK,
    };
    // Tags that are never the proof of life's.
    for n in 0..300_000u32 {
        let tag = 0x8000_0000 | n;
        requests
            .write(bytemuck::bytes_of(&BlockRequest { tag, ..read }))
            .unwrap();
    }
    let mut responses = Reader::new(
        &subject.response.region,
        BLOCK_PROTOCOL,
        size_of::<BlockResponse>(),
    )
    .unwrap();
    let mut raw = [0u8; size_of::<BlockResponse>()];
    let start = Instant::now();
    let mut tag = 0x1000;
    'sent: loop {
        if !running(subject.peer.id()) {
            panic!("the peer died: {:#?}", common::wait(subject.peer));
        }
        assert!(
            start.elapsed() < HANG_GUARD,
            "the peer never answered again"
        );
        tag += 1;
        requests
            .write(bytemuck::bytes_of(&BlockRequest { tag, ..read }))
            .unwrap();
        let sent = Instant::now();
        while sent.elapsed() < Duration::from_millis(200) {
            match responses.read(&mut raw) {
                ReadResult::Success => {
                    let response: BlockResponse = bytemuck::pod_read_unaligned(&raw);
                    if (0x1001..=tag).contains(&response.tag) {
                        assert_eq!(response.status, MUEN_BLOCK_STATUS_OK);
                        break 'sent;
                    }
                }
                ReadResult::OverrunDetected => responses.drain(),
                ReadResult::EpochChanged => {}
                _ => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    }
    assert_alive_then_stop(subject.peer);
}

/// Net elements of impossible lengths and a channel whose element size is
/// not Muen's, from the subject: the peer sends none of them, and the next
/// valid frame reaches the tap; frames from the tap still reach the
/// subject's input channel.
#[test]
fn hostile_net_elements_leave_the_peer_serving() {
    let ns = NetNs::new();
    ns.add_tap("tap0", None, 1500);
    let socket = PacketSocket::bind_in(&ns, "tap0");
    let dir = TempDir::new();
    let size = MUEN_NET_CHANNEL_DEFAULT_SIZE;
    let input = Mapped::new(&dir.join("in"), size);
    let output = Mapped::new(&dir.join("out"), size);
    let peer = start_peer_with(
        Some(&ns),
        &[
            "--net:service0=tap0".into(),
            format!("--net-in:service0={}", dir.join("in").display()),
            format!("--net-out:service0={}", dir.join("out").display()),
        ],
    );
    let element = |len: u16, seq: u64| {
        let mut element = vec![0u8; MUEN_NET_ELEMENT_SIZE];
        let frame = common::seq_frame(seq);
        element[..frame.len()].copy_from_slice(&frame);
        element[MUEN_NET_ELEMENT_SIZE - 2..].copy_from_slice(&len.to_le_bytes());
        element
    };
    let frame_len = common::seq_frame(0).len() as u16;
    let mut frames = Writer::init(&output.region, NET_PROTOCOL, MUEN_NET_ELEMENT_SIZE, 9).unwrap();
    for (seq, len) in [(1, 0xffff), (2, 1515), (3, 0), (4, 13)] {
        frames.write(&element(len, seq)).unwrap();
    }
    // A channel whose elements are smaller than Muen's, the length field
    // where the peer does not look for it.
    let mut small = Writer::init(&output.region, NET_PROTOCOL, 1500, 10).unwrap();
    small.write(&[0xff; 1500]).unwrap();
    let_the_peer_look();
    let mut frames = Writer::init(&output.region, NET_PROTOCOL, MUEN_NET_ELEMENT_SIZE, 11).unwrap();
    frames.write(&element(frame_len, 5)).unwrap();
    let frame = loop {
        let frame = socket.recv_incoming(HANG_GUARD).expect("the valid frame");
        if frame[12..14] == common::seq_frame(0)[12..14] {
            break frame;
        }
    };
    assert_eq!(
        frame,
        common::seq_frame(5),
        "a hostile element reached the tap first"
    );
    // Nothing else was written to the tap (the kernel would drop what the
    // socket never sees: counted, though).
    let written: u64 = ["rx_packets", "rx_dropped", "rx_errors"]
        .iter()
        .map(|counter| common::tap_stat(&ns, "tap0", counter))
        .sum();
    assert_eq!(written, 1, "the peer wrote a hostile element to the tap");
    // And the other direction: a frame from the tap reaches the subject.
    let mut reader = Reader::new(&input.region, NET_PROTOCOL, MUEN_NET_ELEMENT_SIZE).unwrap();
    assert!(socket.send(&common::seq_frame(6)));
    let mut raw = vec![0u8; MUEN_NET_ELEMENT_SIZE];
    let start = Instant::now();
    loop {
        match reader.read(&mut raw) {
            ReadResult::Success if raw[..frame_len as usize] == common::seq_frame(6)[..] => break,
            ReadResult::OverrunDetected => reader.drain(),
            _ => {
                assert!(start.elapsed() < HANG_GUARD, "no frame from the tap");
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
    assert_alive_then_stop(peer);
}

/// Starts the peer with `args`, inside `ns` if given.
fn start_peer_with(ns: Option<&NetNs>, args: &[String]) -> Child {
    common::start_muen_peer(ns, args, Stdio::null())
}
