//! Net devices of a Muen subject, byte-exact with upstream's muen bindings
//! and Linux `muennet`: a manifest device NAME uses the writable channel
//! "NAME|out" (we write it, epoch = the minor frame's start) and the channel
//! "NAME|in" (the peer writes it), protocol `NET_PROTOCOL`, elements of
//! 1514 bytes of frame and a little-endian u16 length. Writes are Muen's
//! lossy writes. Unlike upstream's reader, ours resynchronises after an
//! overrun (read counter := write counter), dropping what was overwritten,
//! instead of reporting the overrun forever.
//!
//! An acquired device is served by `crate::rings` (`NetRings::muen`), so
//! the classic calls and the ring API use the same channels.

use core::sync::atomic::{AtomicU32, Ordering};

use ringtender_abi::solo5::NetInfo;
use ringtender_muen_compat::net::MUEN_NET_ELEMENT_SIZE;
use ringtender_muen_compat::subject::names;
use ringtender_muen_compat::{Reader, Writer, NET_PROTOCOL};

use crate::log;
use crate::rings::{self, DeviceRings, NetRings};

/// Muen net's MTU.
const MTU: u64 = 1500;

/// `NAME` followed by `suffix`, in `buf`; None if it cannot be an sinfo name.
pub(super) fn channel_name<'a>(
    buf: &'a mut [u8; 64],
    name: &[u8],
    suffix: &[u8],
) -> Option<&'a [u8]> {
    let len = name.len() + suffix.len();
    let out = buf.get_mut(..len)?;
    out[..name.len()].copy_from_slice(name);
    out[name.len()..].copy_from_slice(suffix);
    Some(out)
}

/// Sets up manifest device `handle` named `name` on its channels, as
/// upstream's `muen_net_dev_init` checks them; None (with upstream's
/// warning) if the policy does not give them.
pub fn acquire(handle: u64, name: &[u8]) -> Option<NetInfo> {
    let shown = core::str::from_utf8(name).unwrap_or("?");
    if !matches!(rings::device(handle)?, DeviceRings::None) {
        log!(Warn, "Solo5: Net: Device '{}' already acquired\n", shown);
        return None;
    }
    let mut buf = [0; 64];
    let Some(out) = channel_name(&mut buf, name, names::NET_OUT_SUFFIX.as_bytes())
        .and_then(|n| super::channel(n, true))
    else {
        log!(
            Warn,
            "Solo5: Net: '{}': No writable output channel\n",
            shown
        );
        return None;
    };
    let Some(input) = channel_name(&mut buf, name, names::NET_IN_SUFFIX.as_bytes())
        .and_then(|n| super::channel(n, false))
    else {
        log!(Warn, "Solo5: Net: '{}': No input channel\n", shown);
        return None;
    };
    let epoch = super::epoch();
    // SAFETY: the sinfo names these channels, mapped for our life.
    let (out_memory, in_memory) = unsafe { (super::shared(&out), super::shared(&input)) };
    let writer = Writer::init(out_memory, NET_PROTOCOL, MUEN_NET_ELEMENT_SIZE, epoch).ok()?;
    let reader = Reader::new(in_memory, NET_PROTOCOL, MUEN_NET_ELEMENT_SIZE).ok()?;
    log!(
        Info,
        "Solo5: Net: '{}': Muen shared memory stream, protocol 0x{:x}\n",
        shown,
        NET_PROTOCOL
    );
    log!(
        Info,
        "Solo5: Net: '{}': Output channel @ 0x{:x}, size 0x{:x}, epoch 0x{:x}\n",
        shown,
        out.address,
        out.size,
        epoch
    );
    log!(
        Info,
        "Solo5: Net: '{}': Input  channel @ 0x{:x}, size 0x{:x}\n",
        shown,
        input.address,
        input.size
    );
    let mac = mac_address();
    log!(
        Info,
        "Solo5: Net: '{}': Using MAC address {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}\n",
        shown,
        mac[0],
        mac[1],
        mac[2],
        mac[3],
        mac[4],
        mac[5]
    );
    rings::install(
        handle,
        DeviceRings::Net(NetRings::muen(handle, writer, reader)),
    );
    Some(NetInfo {
        mac_address: mac,
        pad: [0; 2],
        mtu: MTU,
    })
}

/// Upstream's MAC address: the subject name's first 6 bytes XOR-ed with the
/// minor frame's start and end and the epoch offset, rotated by a counter
/// that advances per device; locally administered, unicast.
fn mac_address() -> [u8; 6] {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let counter = COUNTER.load(Ordering::Relaxed);
    COUNTER.store((counter + 1) % 64, Ordering::Relaxed);
    let sched = super::scheduling_info();
    let mut data = (sched.tsc_schedule_start << 32) | sched.tsc_schedule_end;
    data ^= super::clock::epoch_offset();
    data = data.rotate_left(counter).wrapping_add(u64::from(counter));
    let name = super::sinfo().map(|s| s.subject_name());
    let subject = name.as_ref().and_then(|n| n.as_bytes()).unwrap_or(&[]);
    let mut mac = [0u8; 6];
    for (i, byte) in mac.iter_mut().enumerate() {
        *byte = subject.get(i).copied().unwrap_or(0) ^ (data >> (i * 8)) as u8;
    }
    mac[0] = (mac[0] & 0xfe) | 0x02;
    mac
}

/// Waits until `deadline` or input, polling the input channels with
/// `pause` in between, as upstream does (Muen gives a Solo5 subject no
/// interrupt to wait for); returns the ready handle set.
pub fn yield_until(deadline: u64) -> u64 {
    loop {
        let ready = crate::devices::ring_ready();
        if ready != 0 {
            return ready;
        }
        core::hint::spin_loop();
        if super::clock::monotonic() >= deadline {
            return 0;
        }
    }
}
