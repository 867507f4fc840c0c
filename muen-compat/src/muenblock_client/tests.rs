//! The client against a small Muenblock server written here, both over the
//! crate's own channels in plain memory, driven step by step in one thread.

use std::vec::Vec;

use super::*;
use crate::block::{
    MUEN_BLOCK_STATUS_EIO, MUEN_BLOCK_STATUS_ENOTSUP, MUEN_REQUEST_CHANNEL_SIZE,
    MUEN_RESPONSE_CHANNEL_SIZE,
};
use crate::tests::{heap, Heap};
use crate::{RawRegion, NET_PROTOCOL};

const BLOCK: u64 = 512;
const BUFFER_SIZE: usize = 64 * 1024;
/// Upper bound on client/server steps for one phase (a count, not a time).
const STEPS: usize = 1000;

/// Memory for one connection: request and response channels, data buffer.
struct Connection {
    requests: Heap,
    responses: Heap,
    buffer: Heap,
}

fn connection() -> Connection {
    Connection {
        requests: heap(MUEN_REQUEST_CHANNEL_SIZE),
        responses: heap(MUEN_RESPONSE_CHANNEL_SIZE),
        buffer: heap(BUFFER_SIZE),
    }
}

type Client<'a> = MuenblockClient<&'a RawRegion, &'a RawRegion>;

/// A Muenblock server over in-memory disks: `device_offset` is a block number.
struct Server<'a> {
    requests: Reader<&'a RawRegion>,
    responses: Option<Writer<&'a RawRegion>>,
    response_region: &'a RawRegion,
    buffer: &'a RawRegion,
    disks: Vec<Vec<u8>>,
    block_length: u64,
    max_blocks: u64,
    /// Every request taken, in order.
    seen: Vec<BlockRequest>,
    /// Answer reads and writes at or beyond this block with EIO.
    fail_from_block: u64,
    /// Responses to publish before the answer to the next request of the
    /// given kind.
    injected: Vec<(u16, BlockResponse)>,
}

impl<'a> Server<'a> {
    fn new(c: &'a Connection, disk_blocks: &[u64]) -> Self {
        Self {
            requests: Reader::new(&c.requests.region, BLOCK_PROTOCOL, 32).unwrap(),
            responses: None,
            response_region: &c.responses.region,
            buffer: &c.buffer.region,
            disks: disk_blocks
                .iter()
                .map(|&n| std::vec![0u8; (n * BLOCK) as usize])
                .collect(),
            block_length: BLOCK,
            max_blocks: 4,
            seen: Vec::new(),
            fail_from_block: u64::MAX,
            injected: Vec::new(),
        }
    }

    /// Make the response channel active (the client waits for this).
    fn start(&mut self, protocol: u64, element_size: usize, epoch: u64) {
        self.responses =
            Some(Writer::init(self.response_region, protocol, element_size, epoch).unwrap());
    }

    /// Take and answer at most one request.
    fn step(&mut self) {
        let Some(responses) = self.responses.as_mut() else {
            return;
        };
        let mut raw = [0u8; 32];
        if self.requests.read(&mut raw) != ReadResult::Success {
            return;
        }
        let request: BlockRequest = bytemuck::pod_read_unaligned(&raw);
        self.seen.push(request);
        for (_, stale) in self
            .injected
            .iter()
            .filter(|(kind, _)| *kind == request.kind)
        {
            responses.write(bytemuck::bytes_of(stale)).unwrap();
        }
        self.injected.retain(|(kind, _)| *kind != request.kind);
        let status = self.answer(&request);
        let response = BlockResponse {
            kind: request.kind,
            device: request.device,
            tag: request.tag,
            status,
        };
        let responses = self.responses.as_mut().unwrap();
        responses.write(bytemuck::bytes_of(&response)).unwrap();
    }

    fn answer(&mut self, r: &BlockRequest) -> u64 {
        let Some(disk) = self.disks.get_mut(usize::from(r.device)) else {
            return match r.kind {
                BLOCK_KIND_RESET => 0,
                BLOCK_KIND_MAX_DEVICES => self.disks.len() as u64,
                _ => MUEN_BLOCK_STATUS_ENOTSUP,
            };
        };
        let start = (r.device_offset * self.block_length) as usize;
        let end = start + r.length as usize;
        let buffer = r.buffer_offset as usize;
        match r.kind {
            BLOCK_KIND_RESET | BLOCK_KIND_SYNC => 0,
            BLOCK_KIND_MAX_DEVICES => self.disks.len() as u64,
            BLOCK_KIND_MEDIA_BLOCKS => disk.len() as u64 / BLOCK,
            BLOCK_KIND_BLOCK_LENGTH => self.block_length,
            BLOCK_KIND_MAX_BLOCKS_COUNT => self.max_blocks,
            BLOCK_KIND_READ | BLOCK_KIND_WRITE if r.device_offset >= self.fail_from_block => {
                MUEN_BLOCK_STATUS_EIO
            }
            BLOCK_KIND_READ => {
                self.buffer.write_bytes(buffer, &disk[start..end]);
                0
            }
            BLOCK_KIND_WRITE => {
                self.buffer.read_bytes(buffer, &mut disk[start..end]);
                0
            }
            _ => MUEN_BLOCK_STATUS_ENOTSUP,
        }
    }
}

/// Alternate server and client until the client reports something other
/// than `Waiting`.
fn drive(client: &mut Client<'_>, server: &mut Server<'_>) -> Result<Progress, ClientError> {
    for _ in 0..STEPS {
        server.step();
        match client.poll()? {
            Progress::Waiting => {}
            done => return Ok(done),
        }
    }
    panic!("no progress after {STEPS} steps");
}

/// A client that finished its handshake with a started server.
fn ready<'a>(c: &'a Connection, disks: &[u64]) -> (Client<'a>, Server<'a>) {
    let mut client = MuenblockClient::new(&c.requests.region, &c.responses.region).unwrap();
    let mut server = Server::new(c, disks);
    server.start(BLOCK_PROTOCOL, 16, 7);
    assert_eq!(drive(&mut client, &mut server), Ok(Progress::Ready));
    (client, server)
}

fn short(r: &BlockRequest) -> (u16, u16, u32) {
    (r.kind, r.device, r.tag)
}

#[test]
fn handshake_waits_for_the_server_then_asks_as_muen_does() {
    let c = connection();
    let mut client = MuenblockClient::new(&c.requests.region, &c.responses.region).unwrap();
    let mut server = Server::new(&c, &[64, 32]);
    for _ in 0..10 {
        assert_eq!(client.poll(), Ok(Progress::Waiting));
    }
    assert_eq!(client.requests_written(), 0);
    assert_eq!(client.device(0), None);
    server.start(BLOCK_PROTOCOL, 16, 7);
    assert_eq!(drive(&mut client, &mut server), Ok(Progress::Ready));
    let seen: Vec<_> = server.seen.iter().map(short).collect();
    assert_eq!(
        seen,
        [
            (BLOCK_KIND_RESET, 0, 0),
            (BLOCK_KIND_MAX_DEVICES, 0, 1),
            (BLOCK_KIND_MEDIA_BLOCKS, 0, 10),
            (BLOCK_KIND_BLOCK_LENGTH, 0, 11),
            (BLOCK_KIND_MAX_BLOCKS_COUNT, 0, 12),
            (BLOCK_KIND_MEDIA_BLOCKS, 1, 10),
            (BLOCK_KIND_BLOCK_LENGTH, 1, 11),
            (BLOCK_KIND_MAX_BLOCKS_COUNT, 1, 12),
        ]
    );
    assert_eq!(client.device_count(), 2);
    let expected = |blocks| DeviceInfo {
        blocks,
        block_length: BLOCK,
        max_blocks: 4,
    };
    assert_eq!(client.device(0), Some(expected(64)));
    assert_eq!(client.device(1), Some(expected(32)));
    assert_eq!(client.device(2), None);
    assert_eq!(client.requests_written(), 8);
}

#[test]
fn writes_and_reads_in_chunks_of_max_blocks() {
    let c = connection();
    let (mut client, mut server) = ready(&c, &[64]);
    let data: Vec<u8> = (0..10 * BLOCK as usize).map(|i| (i % 251) as u8).collect();
    c.buffer.region.write_bytes(0x200, &data);
    let write = IoRequest {
        op: IoOp::Write,
        device: 0,
        block: 5,
        blocks: 10,
        buffer_offset: 0x200,
    };
    client.submit(write).unwrap();
    let done = drive(&mut client, &mut server).unwrap();
    assert_eq!(
        done,
        Progress::Completed(IoCompletion {
            status: 0,
            blocks_done: 10
        })
    );
    let io: Vec<_> = server.seen[5..]
        .iter()
        .map(|r| (r.tag, r.device_offset, r.length, r.buffer_offset))
        .collect();
    assert_eq!(
        io,
        [
            (0x1000, 5, 4 * BLOCK, 0x200),
            (0x1001, 9, 4 * BLOCK, 0x200 + 4 * BLOCK),
            (0x1002, 13, 2 * BLOCK, 0x200 + 8 * BLOCK),
        ]
    );
    assert_eq!(
        server.disks[0][5 * BLOCK as usize..15 * BLOCK as usize],
        data
    );

    let read = IoRequest {
        op: IoOp::Read,
        buffer_offset: 0x4000,
        ..write
    };
    client.submit(read).unwrap();
    assert!(matches!(
        drive(&mut client, &mut server),
        Ok(Progress::Completed(IoCompletion {
            status: 0,
            blocks_done: 10
        }))
    ));
    let mut back = std::vec![0u8; data.len()];
    c.buffer.region.read_bytes(0x4000, &mut back);
    assert_eq!(back, data);
    // Tags restart at 0x1000 for each operation.
    assert_eq!(server.seen[8].tag, 0x1000);

    let sync = IoRequest {
        op: IoOp::Sync,
        block: 0,
        blocks: 0,
        ..write
    };
    client.submit(sync).unwrap();
    assert!(matches!(
        drive(&mut client, &mut server),
        Ok(Progress::Completed(IoCompletion { status: 0, .. }))
    ));
    assert_eq!(
        short(server.seen.last().unwrap()),
        (BLOCK_KIND_SYNC, 0, TAG_SYNC)
    );
}

#[test]
fn an_error_status_ends_the_operation() {
    let c = connection();
    let (mut client, mut server) = ready(&c, &[64]);
    server.fail_from_block = 8;
    let read = IoRequest {
        op: IoOp::Read,
        device: 0,
        block: 0,
        blocks: 14,
        buffer_offset: 0,
    };
    client.submit(read).unwrap();
    assert_eq!(
        drive(&mut client, &mut server),
        Ok(Progress::Completed(IoCompletion {
            status: MUEN_BLOCK_STATUS_EIO,
            blocks_done: 8
        }))
    );
    // The fourth chunk was never sent; the client takes new work.
    assert_eq!(server.seen.len(), 5 + 3);
    assert_eq!(client.poll(), Ok(Progress::Ready));
    client.submit(IoRequest { blocks: 1, ..read }).unwrap();
}

#[test]
fn submit_checks_state_device_and_range() {
    let c = connection();
    let mut client = MuenblockClient::new(&c.requests.region, &c.responses.region).unwrap();
    let io = IoRequest {
        op: IoOp::Write,
        device: 0,
        block: 0,
        blocks: 1,
        buffer_offset: 0,
    };
    assert_eq!(client.submit(io), Err(ClientError::NotReady));
    let mut server = Server::new(&c, &[16]);
    server.start(BLOCK_PROTOCOL, 16, 7);
    assert_eq!(drive(&mut client, &mut server), Ok(Progress::Ready));
    assert_eq!(
        client.submit(IoRequest { device: 1, ..io }),
        Err(ClientError::NoSuchDevice { device: 1 })
    );
    for (block, blocks) in [(0, 0), (16, 1), (15, 2), (u64::MAX, 2)] {
        assert_eq!(
            client.submit(IoRequest {
                block,
                blocks,
                ..io
            }),
            Err(ClientError::InvalidRange)
        );
    }
    assert_eq!(
        client.submit(IoRequest {
            buffer_offset: u64::MAX,
            ..io
        }),
        Err(ClientError::InvalidRange)
    );
    client.submit(IoRequest { block: 15, ..io }).unwrap();
    assert_eq!(client.submit(io), Err(ClientError::Busy));
}

#[test]
fn stale_and_foreign_responses_are_ignored() {
    let c = connection();
    let mut client = MuenblockClient::new(&c.requests.region, &c.responses.region).unwrap();
    let mut server = Server::new(&c, &[16]);
    // A response already in the channel when the client first sees it is drained.
    server.start(BLOCK_PROTOCOL, 16, 7);
    let old = BlockResponse {
        kind: BLOCK_KIND_RESET,
        device: 0,
        tag: TAG_RESET,
        status: 0,
    };
    let responses = server.responses.as_mut().unwrap();
    responses.write(bytemuck::bytes_of(&old)).unwrap();
    assert_eq!(client.poll(), Ok(Progress::Waiting));
    assert_eq!(client.requests_written(), 1);
    // The old answer was drained: the client still waits for its Reset.
    assert_eq!(client.poll(), Ok(Progress::Waiting));
    assert_eq!(client.requests_written(), 1);
    // Before the real Max_Devices answer: one with a wrong tag, one of a
    // wrong kind, each claiming 9 devices.
    server.injected = std::vec![
        (
            BLOCK_KIND_MAX_DEVICES,
            BlockResponse {
                kind: BLOCK_KIND_MAX_DEVICES,
                device: 0,
                tag: 99,
                status: 9,
            }
        ),
        (
            BLOCK_KIND_MAX_DEVICES,
            BlockResponse {
                kind: BLOCK_KIND_MEDIA_BLOCKS,
                device: 0,
                tag: TAG_MAX_DEVICES,
                status: 9,
            }
        ),
    ];
    assert_eq!(drive(&mut client, &mut server), Ok(Progress::Ready));
    assert_eq!(client.device_count(), 1);
    assert_eq!(server.seen.len(), 5);

    // During I/O, a response for another tag does not complete the operation.
    server.injected = std::vec![(
        BLOCK_KIND_READ,
        BlockResponse {
            kind: BLOCK_KIND_READ,
            device: 0,
            tag: 0x1001,
            status: MUEN_BLOCK_STATUS_EIO,
        }
    )];
    let read = IoRequest {
        op: IoOp::Read,
        device: 0,
        block: 0,
        blocks: 1,
        buffer_offset: 0,
    };
    client.submit(read).unwrap();
    assert_eq!(
        drive(&mut client, &mut server),
        Ok(Progress::Completed(IoCompletion {
            status: 0,
            blocks_done: 1
        }))
    );
}

#[test]
fn unusable_device_geometry_is_refused() {
    for (block_length, max_blocks) in [(0, 4), (500, 4), (BLOCK, 0)] {
        let c = connection();
        let mut client = MuenblockClient::new(&c.requests.region, &c.responses.region).unwrap();
        let mut server = Server::new(&c, &[16]);
        server.block_length = block_length;
        server.max_blocks = max_blocks;
        server.start(BLOCK_PROTOCOL, 16, 7);
        let err = drive(&mut client, &mut server).unwrap_err();
        assert!(matches!(err, ClientError::BadDeviceInfo { device: 0, .. }));
        assert_eq!(client.poll(), Err(err));
    }
}

#[test]
fn server_restart_and_incompatible_channels_stop_the_client() {
    let c = connection();
    let (mut client, mut server) = ready(&c, &[16]);
    server.start(BLOCK_PROTOCOL, 16, 8);
    assert_eq!(client.poll(), Err(ClientError::ServerRestarted));
    assert_eq!(client.poll(), Err(ClientError::ServerRestarted));

    for (protocol, size) in [(NET_PROTOCOL, 16), (BLOCK_PROTOCOL, 8)] {
        let c = connection();
        let mut client = MuenblockClient::new(&c.requests.region, &c.responses.region).unwrap();
        let mut server = Server::new(&c, &[16]);
        server.start(protocol, size, 7);
        assert_eq!(
            drive(&mut client, &mut server),
            Err(ClientError::IncompatibleInterface)
        );
    }
}

#[test]
fn the_channels_are_handed_over_only_after_the_handshake() {
    let c = connection();
    let client = MuenblockClient::new(&c.requests.region, &c.responses.region).unwrap();
    assert!(client.into_channels().is_none(), "before the handshake");
    let (client, _server) = ready(&c, &[64]);
    let (requests, mut responses) = client.into_channels().expect("after the handshake");
    // Positioned after the handshake: its requests written, its responses read.
    assert_eq!(requests.wc(), 5);
    assert!(!responses.has_pending_data());
}
