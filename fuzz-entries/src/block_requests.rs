//! The block ring's request decoder: what the host does with the requests a
//! guest publishes on a block device's request channel.

use std::sync::{Arc, OnceLock};

use ringtender_abi::rings::{AREA_CHANNELS, AREA_GUEST_READ_COUNTER};
use ringtender_host::attach::Device;
use ringtender_host::guest_memory::GuestRam;
use ringtender_host::rings::engine::PortableEngine;
use ringtender_host::rings::{self, RingOptions};

use crate::scratch::block_device;
use crate::{take, take_u16, take_u64};

/// Guest RAM below the rings: 64 KiB; the ring directory follows.
const RAM: u64 = 0x1_0000;
/// The guest may have the host read from here on (buffers of writes)...
const READABLE_START: u64 = 0x1000;
/// ... and write from here on (buffers of reads), rings included.
const WRITABLE_START: u64 = 0x4000;
/// Rounds of guest stores and host pumps per input.
const MAX_ROUNDS: usize = 8;

/// Handle 1 is the block device, once per process.
fn devices() -> &'static [Device] {
    static DEVICES: OnceLock<Vec<Device>> = OnceLock::new();
    DEVICES.get_or_init(|| vec![Device::None, Device::Block(block_device("block-ring"))])
}

/// `data` = the guest's read counter of the response channel (8 bytes, LE),
/// then rounds of: an offset into the device's ring area (2 bytes, LE,
/// from the request channel's start, wrapping in the area), a length
/// (2 bytes), that many bytes stored there; then the host takes and answers
/// what it finds. The host sets the rings up as the tenders do, with the
/// portable engine on a scratch file. Errors (the guest is stopped) are
/// fine; panics and hangs are not.
pub fn run(mut data: &[u8]) {
    let plan = rings::layout(devices(), RAM, 0);
    let size = RAM + plan.bytes;
    let mut ram = GuestRam::new(size).expect("guest RAM");
    ram.set_guest_access(vec![READABLE_START..size], vec![WRITABLE_START..size]);
    let ram = Arc::new(ram);
    let options = RingOptions {
        engine: rings::engine::EngineChoice::Portable,
        net_lossy: false,
    };
    let mut built = rings::build(&ram, &plan, devices(), options).expect("rings");
    let area = built.areas[0];
    let area_len = size - area - AREA_CHANNELS;
    let mut engine = PortableEngine::new(&built.files);
    let block = &mut built.blocks[0];
    let guest_rc = take_u64(&mut data);
    ram.store_u64(
        area + AREA_GUEST_READ_COUNTER,
        guest_rc,
        std::sync::atomic::Ordering::Release,
    )
    .expect("inside the area");
    for _ in 0..MAX_ROUNDS {
        if data.is_empty() {
            break;
        }
        let offset = u64::from(take_u16(&mut data)) % area_len;
        let len = usize::from(take_u16(&mut data));
        let bytes = take(&mut data, len);
        let room = (area_len - offset) as usize;
        ram.setup_write(
            area + AREA_CHANNELS + offset,
            &bytes[..bytes.len().min(room)],
        )
        .expect("inside the area");
        let _ = block.pending(&ram);
        if let Err(e) = block.pump(&ram, &mut engine) {
            let _ = e.to_string();
            return;
        }
    }
}
