//! Block devices of a Muen subject over muenblock (`docs/ring-abi.md` §10):
//! a manifest device NAME uses the writable channel "NAME|request" (we
//! write requests), the channel "NAME|response" (the server answers) and
//! the writable memory "NAME|buffer" that carries the data. The protocol is
//! `muen_compat::muenblock_client` (Muen's handshake; `device_offset` in
//! blocks); the device is device 0 of its channel pair, and its block size
//! and capacity are what the server said in the handshake. After writing
//! requests the client raises the event "NAME|request" if the policy gives
//! one (Muen's client does; ringtender's peer polls).
//!
//! Upstream Solo5 has no block devices on Muen.

use ringtender_abi::mft::MFT_MAX_ENTRIES;
use ringtender_abi::solo5::{BlockInfo, Solo5Result, SOLO5_R_EINVAL, SOLO5_R_EUNSPEC, SOLO5_R_OK};
use ringtender_muen_compat::block::MUEN_BLOCK_STATUS_OK;
use ringtender_muen_compat::muenblock_client::{
    DeviceInfo, IoOp, IoRequest, MuenblockClient, Progress,
};
use ringtender_muen_compat::subject::names;
use ringtender_muen_compat::{RawRegion, SharedMemory};

use super::net::channel_name;
use super::BootCell;
use crate::log;

/// How long acquiring a device waits for the server's handshake.
const HANDSHAKE_TIMEOUT_NS: u64 = 60_000_000_000;

/// One acquired device.
struct BlockDevice {
    client: MuenblockClient<RawRegion, RawRegion>,
    buffer: RawRegion,
    info: DeviceInfo,
    /// The request channel's event, if the policy gives one.
    event: Option<u8>,
    /// Requests written when the event was last raised.
    notified: u64,
}

static DEVICES: [BootCell<BlockDevice>; MFT_MAX_ENTRIES] =
    [const { BootCell::new() }; MFT_MAX_ENTRIES];

fn device(handle: u64) -> Option<&'static mut BlockDevice> {
    DEVICES.get(usize::try_from(handle).ok()?)?.get()
}

impl BlockDevice {
    /// Advances the client by one response; raises the request event first
    /// if requests went out since it was last raised.
    fn poll(&mut self) -> Option<Progress> {
        let written = self.client.requests_written();
        if written != self.notified {
            self.notified = written;
            if let Some(event) = self.event {
                super::raise_event(event);
            }
        }
        self.client.poll().ok()
    }
}

/// Sets up manifest device `handle` named `name`: finds its regions, runs
/// the handshake, and returns the geometry the server gave; None (with a
/// warning) if the policy lacks a region or the server does not answer.
pub fn acquire(handle: u64, name: &[u8]) -> Option<BlockInfo> {
    let slot = DEVICES.get(usize::try_from(handle).ok()?)?;
    let shown = core::str::from_utf8(name).unwrap_or("?");
    if let Some(dev) = slot.get() {
        return Some(block_info(dev.info));
    }
    let mut buf = [0; 64];
    let request = channel_name(&mut buf, name, names::BLOCK_REQUEST_SUFFIX.as_bytes())
        .and_then(|n| super::channel(n, true));
    let event = channel_name(&mut buf, name, names::BLOCK_REQUEST_SUFFIX.as_bytes())
        .and_then(|n| super::sinfo().and_then(|s| s.event(n)));
    let response = channel_name(&mut buf, name, names::BLOCK_RESPONSE_SUFFIX.as_bytes())
        .and_then(|n| super::channel(n, false));
    let buffer = channel_name(&mut buf, name, names::BLOCK_BUFFER_SUFFIX.as_bytes())
        .and_then(|n| super::sinfo().and_then(|s| s.memory(n)))
        .filter(|m| m.flags.writable());
    let (Some(request), Some(response), Some(buffer)) = (request, response, buffer) else {
        log!(
            Warn,
            "Solo5: Block: '{}': No muenblock request, response and buffer regions\n",
            shown
        );
        return None;
    };
    // SAFETY: the sinfo names these regions, mapped for our life.
    let (req, resp, buffer) = unsafe {
        (
            super::shared(&request),
            super::shared(&response),
            super::shared(&buffer),
        )
    };
    let client = MuenblockClient::new(req, resp).ok()?;
    let mut dev = BlockDevice {
        client,
        buffer,
        info: DeviceInfo::default(),
        event,
        notified: 0,
    };
    let deadline = super::clock::monotonic().saturating_add(HANDSHAKE_TIMEOUT_NS);
    loop {
        match dev.poll() {
            Some(Progress::Ready) => break,
            Some(_) if super::clock::monotonic() < deadline => core::hint::spin_loop(),
            _ => {
                log!(
                    Warn,
                    "Solo5: Block: '{}': muenblock server did not answer\n",
                    shown
                );
                return None;
            }
        }
    }
    let info = dev
        .client
        .device(0)
        .filter(|i| i.block_length <= dev.buffer.len() as u64);
    let Some(info) = info else {
        log!(
            Warn,
            "Solo5: Block: '{}': muenblock server offers no usable device\n",
            shown
        );
        return None;
    };
    dev.info = info;
    log!(
        Info,
        "Solo5: Block: '{}': muenblock, {} blocks of {} bytes\n",
        shown,
        info.blocks,
        info.block_length
    );
    slot.set(dev);
    Some(block_info(info))
}

fn block_info(info: DeviceInfo) -> BlockInfo {
    BlockInfo {
        // The client checked that this product fits.
        capacity: info.blocks * info.block_length,
        block_size: info.block_length,
    }
}

/// The device of `handle` and the block at `offset`, if the transfer is one
/// aligned block inside the device.
fn checked(handle: u64, offset: u64, len: usize) -> Option<(&'static mut BlockDevice, u64)> {
    let dev = device(handle)?;
    let bs = dev.info.block_length;
    let block = offset / bs;
    (len as u64 == bs && offset.is_multiple_of(bs) && block < dev.info.blocks)
        .then_some((dev, block))
}

/// One block operation through the buffer's first block, waiting for the
/// server's answer.
fn transfer(dev: &mut BlockDevice, op: IoOp, block: u64) -> Solo5Result {
    let io = IoRequest {
        op,
        device: 0,
        block,
        blocks: 1,
        buffer_offset: 0,
    };
    if dev.client.submit(io).is_err() {
        return SOLO5_R_EUNSPEC;
    }
    loop {
        match dev.poll() {
            Some(Progress::Completed(done)) if done.status == MUEN_BLOCK_STATUS_OK => {
                return SOLO5_R_OK
            }
            Some(Progress::Completed(_)) | None => return SOLO5_R_EUNSPEC,
            Some(_) => core::hint::spin_loop(),
        }
    }
}

/// Writes one block at byte `offset`.
pub fn write(handle: u64, offset: u64, data: &[u8]) -> Solo5Result {
    let Some((dev, block)) = checked(handle, offset, data.len()) else {
        return SOLO5_R_EINVAL;
    };
    dev.buffer.write_bytes(0, data);
    transfer(dev, IoOp::Write, block)
}

/// Reads one block at byte `offset`.
pub fn read(handle: u64, offset: u64, buf: &mut [u8]) -> Solo5Result {
    let Some((dev, block)) = checked(handle, offset, buf.len()) else {
        return SOLO5_R_EINVAL;
    };
    let result = transfer(dev, IoOp::Read, block);
    if result == SOLO5_R_OK {
        dev.buffer.read_bytes(0, buf);
    }
    result
}
