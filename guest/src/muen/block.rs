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
//! After the handshake the device is served by `crate::rings`
//! (`BlockRings::muen`): the classic calls and the ring API put their
//! requests in flight on the same channels, with tags of our own, the data
//! through slots of the buffer.
//!
//! Upstream Solo5 has no block devices on Muen.

use ringtender_abi::solo5::BlockInfo;
use ringtender_muen_compat::muenblock_client::{DeviceInfo, MuenblockClient, Progress};
use ringtender_muen_compat::subject::names;

use super::net::channel_name;
use crate::log;
use crate::rings::{self, BlockRings, DeviceRings};

/// How long acquiring a device waits for the server's handshake.
const HANDSHAKE_TIMEOUT_NS: u64 = 60_000_000_000;

/// Sets up manifest device `handle` named `name`: finds its regions, runs
/// the handshake, and returns the geometry the server gave; None (with a
/// warning) if the policy lacks a region or the server does not answer.
pub fn acquire(handle: u64, name: &[u8]) -> Option<BlockInfo> {
    let shown = core::str::from_utf8(name).unwrap_or("?");
    match rings::device(handle)? {
        DeviceRings::Block(ring) => return ring.geometry().map(block_info_of),
        DeviceRings::Net(_) => return None,
        DeviceRings::None => {}
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
    let (req, resp) = unsafe { (super::shared(&request), super::shared(&response)) };
    let mut client = MuenblockClient::new(req, resp).ok()?;
    let deadline = super::clock::monotonic().saturating_add(HANDSHAKE_TIMEOUT_NS);
    let mut notified = 0;
    loop {
        // Muen's client raises the request channel's event after writing.
        if client.requests_written() != notified {
            notified = client.requests_written();
            if let Some(event) = event {
                super::raise_event(event);
            }
        }
        match client.poll() {
            Ok(Progress::Ready) => break,
            Ok(_) if super::clock::monotonic() < deadline => core::hint::spin_loop(),
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
    let info = client.device(0).filter(|i| i.block_length <= buffer.size);
    let (Some(info), Some((requests, responses))) = (info, client.into_channels()) else {
        log!(
            Warn,
            "Solo5: Block: '{}': muenblock server offers no usable device\n",
            shown
        );
        return None;
    };
    log!(
        Info,
        "Solo5: Block: '{}': muenblock, {} blocks of {} bytes\n",
        shown,
        info.blocks,
        info.block_length
    );
    let ring = BlockRings::muen(
        handle,
        requests,
        responses,
        (buffer.address, buffer.size),
        info,
        event,
    );
    rings::install(handle, DeviceRings::Block(ring));
    Some(block_info(info))
}

fn block_info(info: DeviceInfo) -> BlockInfo {
    // The client checked that this product fits.
    block_info_of((info.block_length, info.blocks * info.block_length))
}

fn block_info_of((block_size, capacity): (u64, u64)) -> BlockInfo {
    BlockInfo {
        capacity,
        block_size,
    }
}
