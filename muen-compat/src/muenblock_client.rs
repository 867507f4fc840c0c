//! The client side of Muenblock, as a pure state machine over a request
//! [`Writer`] and a response [`Reader`]: the handshake Muen's native client
//! (`muenblock_client`) performs, then reads, writes, discards and syncs.
//!
//! Handshake, with Muen's client's tags: the request channel is initialised
//! with epoch 1; once the server's response channel is active, stale
//! responses are drained, then Reset (tag 0), Max_Devices (tag 1), and per
//! device Media_Blocks, Block_Length and Max_Blocks_Count (tags 10, 11, 12,
//! sent together). Responses are matched by kind, device and tag; any other
//! response is ignored.
//!
//! I/O: a request is split at the device's Max_Blocks_Count into chunks
//! tagged `0x1000 + n` (n counts from 0 per operation, as Muen's client
//! does). Unlike Muen's client, the next chunk is sent only after the
//! previous one's response, so a server never merges them, and
//! `device_offset` is a **block number** (docs/ring-abi.md §10 says why).
//!
//! Nothing here waits: [`MuenblockClient::poll`] handles at most one response
//! and returns. Muen's client raises the request channel's event after each
//! request; a caller that has one raises it when
//! [`requests_written`](MuenblockClient::requests_written) changes.

use core::fmt;
use core::mem::size_of;

use crate::block::{
    BlockRequest, BlockResponse, BLOCK_KIND_BLOCK_LENGTH, BLOCK_KIND_DISCARD,
    BLOCK_KIND_MAX_BLOCKS_COUNT, BLOCK_KIND_MAX_DEVICES, BLOCK_KIND_MEDIA_BLOCKS, BLOCK_KIND_READ,
    BLOCK_KIND_RESET, BLOCK_KIND_SYNC, BLOCK_KIND_WRITE, MUEN_BLOCK_STATUS_OK,
};
use crate::error::ChannelError;
use crate::memory::SharedMemory;
use crate::reader::{ReadResult, Reader};
use crate::writer::Writer;
use crate::BLOCK_PROTOCOL;

/// Epoch Muen's client gives its request channel.
pub const REQUEST_EPOCH: u64 = 1;
/// Tag of the Reset request.
pub const TAG_RESET: u32 = 0;
/// Tag of the Max_Devices request.
pub const TAG_MAX_DEVICES: u32 = 1;
/// Tag of a device's Media_Blocks request.
pub const TAG_MEDIA_BLOCKS: u32 = 10;
/// Tag of a device's Block_Length request.
pub const TAG_BLOCK_LENGTH: u32 = 11;
/// Tag of a device's Max_Blocks_Count request.
pub const TAG_MAX_BLOCKS_COUNT: u32 = 12;
/// Tag of a Sync request.
pub const TAG_SYNC: u32 = 21;
/// Tag of the first chunk of a read, write or discard.
pub const TAG_IO_BASE: u32 = 0x1000;
/// Most devices this client takes from one channel pair (Solo5's manifest
/// holds at most 64 devices); a larger Max_Devices answer is cut to it.
pub const MAX_DEVICES: usize = 64;

/// What the server told about one device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Number of blocks (Media_Blocks).
    pub blocks: u64,
    /// Block size in bytes (Block_Length): a power of two.
    pub block_length: u64,
    /// Most blocks per request (Max_Blocks_Count): at least 1.
    pub max_blocks: u64,
}

/// A block operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoOp {
    /// Device to buffer.
    Read,
    /// Buffer to device.
    Write,
    /// Discard blocks (no buffer).
    Discard,
    /// Flush the device (no blocks, no buffer).
    Sync,
}

impl IoOp {
    const fn kind(self) -> u16 {
        match self {
            Self::Read => BLOCK_KIND_READ,
            Self::Write => BLOCK_KIND_WRITE,
            Self::Discard => BLOCK_KIND_DISCARD,
            Self::Sync => BLOCK_KIND_SYNC,
        }
    }
}

/// One operation for [`MuenblockClient::submit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoRequest {
    /// What to do.
    pub op: IoOp,
    /// Device index on the channel pair.
    pub device: u16,
    /// First block (ignored for Sync).
    pub block: u64,
    /// Number of blocks, at least 1 (ignored for Sync).
    pub blocks: u64,
    /// Byte offset of the data in the shared buffer (Read and Write).
    pub buffer_offset: u64,
}

/// How an operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoCompletion {
    /// The server's status of the last chunk: `MUEN_BLOCK_STATUS_OK`, or the
    /// first error, which ends the operation.
    pub status: u64,
    /// Blocks of the chunks that completed with OK.
    pub blocks_done: u64,
}

/// What [`MuenblockClient::poll`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The handshake or an operation is under way; poll again.
    Waiting,
    /// Handshake done, no operation pending: [`submit`](MuenblockClient::submit) may be called.
    Ready,
    /// The operation submitted last has ended; the client is ready again.
    Completed(IoCompletion),
}

/// Why the client stopped or refused an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientError {
    /// A channel could not be set up.
    Channel(ChannelError),
    /// The response channel has the wrong transport, protocol or element size.
    IncompatibleInterface,
    /// The server reset or deactivated its response channel after the
    /// handshake began: what was in flight is lost.
    ServerRestarted,
    /// The server overran the response channel.
    Overrun,
    /// The server described a device that cannot be used (block length 0 or
    /// not a power of two, Max_Blocks_Count 0, or a size beyond 2^64 bytes).
    BadDeviceInfo {
        /// The device.
        device: u16,
        /// What the server said.
        info: DeviceInfo,
    },
    /// [`submit`](MuenblockClient::submit) before the handshake finished.
    NotReady,
    /// [`submit`](MuenblockClient::submit) while an operation is pending.
    Busy,
    /// No such device on the channel pair.
    NoSuchDevice {
        /// The device asked for.
        device: u16,
    },
    /// Zero blocks, a range beyond the device, or a buffer range beyond 2^64.
    InvalidRange,
}

impl From<ChannelError> for ClientError {
    fn from(e: ChannelError) -> Self {
        Self::Channel(e)
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Channel(e) => write!(f, "muenblock channel: {e}"),
            Self::IncompatibleInterface => f.write_str("muenblock response channel incompatible"),
            Self::ServerRestarted => f.write_str("muenblock server restarted its channel"),
            Self::Overrun => f.write_str("muenblock server overran the response channel"),
            Self::BadDeviceInfo { device, info } => write!(
                f,
                "muenblock device {device}: unusable geometry ({} blocks of {} bytes, {} per request)",
                info.blocks, info.block_length, info.max_blocks
            ),
            Self::NotReady => f.write_str("muenblock handshake not finished"),
            Self::Busy => f.write_str("muenblock operation already pending"),
            Self::NoSuchDevice { device } => write!(f, "no muenblock device {device}"),
            Self::InvalidRange => f.write_str("muenblock request range invalid"),
        }
    }
}

impl core::error::Error for ClientError {}

/// Answers still missing for one device during the handshake.
#[derive(Clone, Copy, Debug, Default)]
struct PendingInfo {
    blocks: Option<u64>,
    block_length: Option<u64>,
    max_blocks: Option<u64>,
}

/// An operation in flight: one chunk at a time.
#[derive(Clone, Copy, Debug)]
struct InFlight {
    io: IoRequest,
    /// Chunks sent so far (the current one included).
    chunks: u32,
    /// Blocks of the chunks answered OK.
    done: u64,
    /// Blocks of the current chunk.
    current: u64,
}

#[derive(Clone, Copy, Debug)]
enum State {
    WaitServer,
    AwaitReset,
    AwaitMaxDevices,
    AwaitDeviceInfo { device: u16, pending: PendingInfo },
    Ready,
    Io(InFlight),
    Failed(ClientError),
}

/// A Muenblock client over one request/response channel pair.
#[derive(Debug)]
pub struct MuenblockClient<Req: SharedMemory, Resp: SharedMemory> {
    requests: Writer<Req>,
    responses: Reader<Resp>,
    state: State,
    devices: [DeviceInfo; MAX_DEVICES],
    device_count: u16,
}

impl<Req: SharedMemory, Resp: SharedMemory> MuenblockClient<Req, Resp> {
    /// Initialise the request channel in `requests` (epoch 1) and prepare to
    /// read the server's responses from `responses`.
    pub fn new(requests: Req, responses: Resp) -> Result<Self, ClientError> {
        Ok(Self {
            requests: Writer::init(
                requests,
                BLOCK_PROTOCOL,
                size_of::<BlockRequest>(),
                REQUEST_EPOCH,
            )?,
            responses: Reader::new(responses, BLOCK_PROTOCOL, size_of::<BlockResponse>())?,
            state: State::WaitServer,
            devices: [DeviceInfo::default(); MAX_DEVICES],
            device_count: 0,
        })
    }

    /// Advance: handle at most one response. An error is final: every later
    /// call returns it again.
    pub fn poll(&mut self) -> Result<Progress, ClientError> {
        let result = self.step();
        if let Err(e) = result {
            self.state = State::Failed(e);
        }
        result
    }

    /// Start `io`. Only when [`poll`](Self::poll) said `Ready` or `Completed`.
    pub fn submit(&mut self, io: IoRequest) -> Result<(), ClientError> {
        match self.state {
            State::Ready => {}
            State::Io(_) => return Err(ClientError::Busy),
            State::Failed(e) => return Err(e),
            _ => return Err(ClientError::NotReady),
        }
        let info = self
            .device(io.device)
            .ok_or(ClientError::NoSuchDevice { device: io.device })?;
        if io.op != IoOp::Sync {
            let end = io.block.checked_add(io.blocks);
            let bytes = io.blocks.checked_mul(info.block_length);
            let buffer_end = bytes.and_then(|b| io.buffer_offset.checked_add(b));
            if io.blocks == 0 || end.is_none_or(|end| end > info.blocks) || buffer_end.is_none() {
                return Err(ClientError::InvalidRange);
            }
        }
        let mut flight = InFlight {
            io,
            chunks: 0,
            done: 0,
            current: 0,
        };
        self.send_chunk(&mut flight, info);
        self.state = State::Io(flight);
        Ok(())
    }

    /// Number of devices the server reported (at most [`MAX_DEVICES`]).
    pub fn device_count(&self) -> u16 {
        self.device_count
    }

    /// What the server told about `device`, once the handshake is done.
    pub fn device(&self, device: u16) -> Option<DeviceInfo> {
        if !matches!(self.state, State::Ready | State::Io(_)) || device >= self.device_count {
            return None;
        }
        self.devices.get(usize::from(device)).copied()
    }

    /// The channels, once the handshake is done and no operation is
    /// pending, for a caller that runs many requests at once itself (the
    /// guest's ring API: its own tags, [`TAG_IO_BASE`] up); None otherwise.
    pub fn into_channels(self) -> Option<(Writer<Req>, Reader<Resp>)> {
        matches!(self.state, State::Ready).then_some((self.requests, self.responses))
    }

    /// Requests written since the request channel was initialised.
    pub fn requests_written(&self) -> u64 {
        self.requests.wc()
    }

    fn step(&mut self) -> Result<Progress, ClientError> {
        match self.state {
            State::Failed(e) => return Err(e),
            State::WaitServer => return self.wait_server(),
            _ => {}
        }
        let mut raw = [0u8; size_of::<BlockResponse>()];
        match self.responses.read(&mut raw) {
            ReadResult::Success => {}
            ReadResult::NoData => return Ok(self.idle_progress()),
            ReadResult::Inactive | ReadResult::EpochChanged => {
                return Err(ClientError::ServerRestarted)
            }
            ReadResult::OverrunDetected => return Err(ClientError::Overrun),
            ReadResult::IncompatibleInterface => return Err(ClientError::IncompatibleInterface),
        }
        let response: BlockResponse = bytemuck::pod_read_unaligned(&raw);
        self.handle(response)
    }

    fn idle_progress(&self) -> Progress {
        match self.state {
            State::Ready => Progress::Ready,
            _ => Progress::Waiting,
        }
    }

    /// Until the server's response channel is active: then drain what it
    /// holds and send Reset.
    fn wait_server(&mut self) -> Result<Progress, ClientError> {
        let mut raw = [0u8; size_of::<BlockResponse>()];
        match self.responses.read(&mut raw) {
            ReadResult::IncompatibleInterface => Err(ClientError::IncompatibleInterface),
            ReadResult::EpochChanged if self.responses.epoch() != 0 => {
                if self.responses.element_size() != Some(size_of::<BlockResponse>()) {
                    return Err(ClientError::IncompatibleInterface);
                }
                self.responses.drain();
                self.send(BLOCK_KIND_RESET, 0, TAG_RESET);
                self.state = State::AwaitReset;
                Ok(Progress::Waiting)
            }
            _ => Ok(Progress::Waiting),
        }
    }

    fn handle(&mut self, response: BlockResponse) -> Result<Progress, ClientError> {
        let BlockResponse {
            kind,
            device,
            tag,
            status,
        } = response;
        match self.state {
            State::AwaitReset if kind == BLOCK_KIND_RESET && tag == TAG_RESET => {
                self.send(BLOCK_KIND_MAX_DEVICES, 0, TAG_MAX_DEVICES);
                self.state = State::AwaitMaxDevices;
            }
            State::AwaitMaxDevices if kind == BLOCK_KIND_MAX_DEVICES && tag == TAG_MAX_DEVICES => {
                self.device_count = status.min(MAX_DEVICES as u64) as u16;
                self.start_device(0);
            }
            State::AwaitDeviceInfo {
                device: current,
                mut pending,
            } if device == current => {
                let slot = match (kind, tag) {
                    (BLOCK_KIND_MEDIA_BLOCKS, TAG_MEDIA_BLOCKS) => &mut pending.blocks,
                    (BLOCK_KIND_BLOCK_LENGTH, TAG_BLOCK_LENGTH) => &mut pending.block_length,
                    (BLOCK_KIND_MAX_BLOCKS_COUNT, TAG_MAX_BLOCKS_COUNT) => &mut pending.max_blocks,
                    _ => return Ok(Progress::Waiting),
                };
                *slot = Some(status);
                if let PendingInfo {
                    blocks: Some(blocks),
                    block_length: Some(block_length),
                    max_blocks: Some(max_blocks),
                } = pending
                {
                    let info = DeviceInfo {
                        blocks,
                        block_length,
                        max_blocks,
                    };
                    if !usable(info) {
                        return Err(ClientError::BadDeviceInfo { device, info });
                    }
                    self.devices[usize::from(device)] = info;
                    self.start_device(device + 1);
                } else {
                    self.state = State::AwaitDeviceInfo {
                        device: current,
                        pending,
                    };
                }
            }
            State::Io(mut flight)
                if kind == flight.io.op.kind()
                    && device == flight.io.device
                    && tag == chunk_tag(flight.io.op, flight.chunks - 1) =>
            {
                if status != MUEN_BLOCK_STATUS_OK || flight.io.op == IoOp::Sync {
                    return Ok(self.complete(status, flight.done));
                }
                flight.done += flight.current;
                if flight.done == flight.io.blocks {
                    return Ok(self.complete(status, flight.done));
                }
                let info = self.devices[usize::from(flight.io.device)];
                self.send_chunk(&mut flight, info);
                self.state = State::Io(flight);
            }
            // Anything else is stale or not ours: ignored.
            _ => {}
        }
        Ok(self.idle_progress())
    }

    fn complete(&mut self, status: u64, blocks_done: u64) -> Progress {
        self.state = State::Ready;
        Progress::Completed(IoCompletion {
            status,
            blocks_done,
        })
    }

    /// Ask about `device`, or finish the handshake if there is none.
    fn start_device(&mut self, device: u16) {
        if device >= self.device_count {
            self.state = State::Ready;
            return;
        }
        self.send(BLOCK_KIND_MEDIA_BLOCKS, device, TAG_MEDIA_BLOCKS);
        self.send(BLOCK_KIND_BLOCK_LENGTH, device, TAG_BLOCK_LENGTH);
        self.send(BLOCK_KIND_MAX_BLOCKS_COUNT, device, TAG_MAX_BLOCKS_COUNT);
        self.state = State::AwaitDeviceInfo {
            device,
            pending: PendingInfo::default(),
        };
    }

    /// Send the next chunk of `flight` (the whole request for Sync).
    fn send_chunk(&mut self, flight: &mut InFlight, info: DeviceInfo) {
        let io = flight.io;
        let request = if io.op == IoOp::Sync {
            BlockRequest {
                kind: BLOCK_KIND_SYNC,
                device: io.device,
                tag: TAG_SYNC,
                ..BlockRequest::default()
            }
        } else {
            // Checked by `submit`: the range is inside the device, so none of
            // these overflow.
            flight.current = (io.blocks - flight.done).min(info.max_blocks);
            let offset = flight.done * info.block_length;
            BlockRequest {
                kind: io.op.kind(),
                device: io.device,
                tag: chunk_tag(io.op, flight.chunks),
                length: flight.current * info.block_length,
                device_offset: io.block + flight.done,
                buffer_offset: match io.op {
                    IoOp::Discard => 0,
                    _ => io.buffer_offset + offset,
                },
            }
        };
        flight.chunks += 1;
        self.write(&request);
    }

    fn send(&mut self, kind: u16, device: u16, tag: u32) {
        self.write(&BlockRequest {
            kind,
            device,
            tag,
            ..BlockRequest::default()
        });
    }

    fn write(&mut self, request: &BlockRequest) {
        // The element is exactly the channel's element size, so the writer
        // cannot refuse it.
        let written = self.requests.write(bytemuck::bytes_of(request));
        debug_assert!(written.is_ok());
    }
}

/// Tag of chunk `n` of an operation.
fn chunk_tag(op: IoOp, n: u32) -> u32 {
    match op {
        IoOp::Sync => TAG_SYNC,
        _ => TAG_IO_BASE.wrapping_add(n),
    }
}

/// Whether a device's geometry can be used.
fn usable(info: DeviceInfo) -> bool {
    info.block_length.is_power_of_two()
        && info.max_blocks != 0
        && info.blocks.checked_mul(info.block_length).is_some()
}

#[cfg(test)]
mod tests;
