//! smoltcp's device over the guest's net device, two ways: the ring API
//! (frames received in place in the rx ring; frames to send gathered and
//! queued in batches, one doorbell each) or the classic calls (one
//! `solo5_net_read` or `solo5_net_write` per frame).

use ringtender_abi::solo5::{SOLO5_NET_HLEN, SOLO5_R_AGAIN, SOLO5_R_OK};
use ringtender_guest::api;
use ringtender_guest::rings::{self, DeviceRings, NetRings};
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

/// Which guest API moves the frames.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `ringtender_guest::rings` (the ring API).
    Ring,
    /// `solo5_net_read` and `solo5_net_write`.
    Classic,
}

impl Api {
    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ring => "ring",
            Self::Classic => "classic",
        }
    }
}

/// Largest frame: a standard MTU's (the tests' and benchmarks' taps).
const FRAME_MAX: usize = 1500 + SOLO5_NET_HLEN;
/// Frames gathered before they go to the tx ring in one batch.
const BATCH: usize = 32;

/// Frames waiting to be queued on the tx ring.
struct Batch {
    frames: [[u8; FRAME_MAX]; BATCH],
    lengths: [usize; BATCH],
    count: usize,
}

static mut BATCH_BUFFER: Batch = Batch {
    frames: [[0; FRAME_MAX]; BATCH],
    lengths: [0; BATCH],
    count: 0,
};
static mut RX_BUFFER: [u8; FRAME_MAX] = [0; FRAME_MAX];

/// The net device `handle` as smoltcp sees it.
pub struct NetDevice {
    api: Api,
    handle: u64,
    mtu: usize,
    batch: &'static mut Batch,
    rx: &'static mut [u8; FRAME_MAX],
}

/// The device's rings. Each use takes them anew and lets go at once: a
/// frame borrowed in place stays valid until `release`, while the reply it
/// causes is queued (`rings::device` hands out no two live references).
fn net_rings(handle: u64) -> &'static mut NetRings {
    match rings::device(handle) {
        Some(DeviceRings::Net(ring)) => ring,
        _ => unreachable!("NetDevice::new checked the rings"),
    }
}

impl NetDevice {
    /// The device for `handle` with `api`; None if `api` is the ring API
    /// and the tender gave the device no rings, or its MTU is not 1500 or
    /// less.
    pub fn new(api: Api, handle: u64, mtu: usize) -> Option<Self> {
        if api == Api::Ring && !matches!(rings::device(handle), Some(DeviceRings::Net(_))) {
            return None;
        }
        if mtu + SOLO5_NET_HLEN > FRAME_MAX {
            return None;
        }
        // SAFETY: the only users of the two buffers, made once,
        // single-threaded.
        let (batch, rx) = unsafe {
            (
                &mut *core::ptr::addr_of_mut!(BATCH_BUFFER),
                &mut *core::ptr::addr_of_mut!(RX_BUFFER),
            )
        };
        Some(Self {
            api,
            handle,
            mtu,
            batch,
            rx,
        })
    }

    /// Queues the gathered frames on the tx ring (ring API), waiting for
    /// room as long as the ring is full: the host worker drains it.
    pub fn flush(&mut self) {
        self.batch.flush(self.handle);
    }
}

impl Batch {
    fn flush(&mut self, handle: u64) {
        let mut sent = 0;
        while sent < self.count {
            let frames = (sent..self.count).map(|i| &self.frames[i][..self.lengths[i]]);
            let queued = net_rings(handle).send_batch(frames);
            if queued == 0 {
                core::hint::spin_loop();
            }
            sent += queued;
        }
        self.count = 0;
    }
}

/// A received frame: in the rx ring (ring API) or copied out by
/// `solo5_net_read` into the device's buffer.
pub enum Rx<'a> {
    /// The next frame of the rx ring, borrowed when consumed.
    Ring(u64),
    /// A frame `solo5_net_read` returned.
    Classic(&'a [u8]),
}

/// Room for one frame to send.
pub struct Tx<'a> {
    api: Api,
    handle: u64,
    batch: &'a mut Batch,
}

impl phy::RxToken for Rx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        match self {
            Self::Ring(handle) => {
                // `receive` saw a frame pending; an empty one (never seen)
                // is dropped by smoltcp as malformed.
                let Some((ptr, len)) = net_rings(handle).borrow() else {
                    return f(&[]);
                };
                // SAFETY: `borrow` returned `len` bytes inside the rx ring,
                // which the host leaves alone until `release`.
                let result = f(unsafe { core::slice::from_raw_parts(ptr, len) });
                net_rings(handle).release();
                result
            }
            Self::Classic(frame) => f(frame),
        }
    }
}

impl phy::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let len = len.min(FRAME_MAX);
        if self.batch.count == BATCH {
            self.batch.flush(self.handle);
        }
        let slot = self.batch.count;
        let result = f(&mut self.batch.frames[slot][..len]);
        match self.api {
            Api::Ring => {
                self.batch.lengths[slot] = len;
                self.batch.count += 1;
            }
            Api::Classic => {
                // Under the sync shim a full tx ring answers AGAIN.
                while api::net_write(self.handle, &self.batch.frames[slot][..len]) == SOLO5_R_AGAIN
                {
                    core::hint::spin_loop();
                }
            }
        }
        result
    }
}

impl phy::Device for NetDevice {
    type RxToken<'a> = Rx<'a>;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _timestamp: Instant) -> Option<(Rx<'_>, Tx<'_>)> {
        let rx = match self.api {
            Api::Ring => {
                if !net_rings(self.handle).pending() {
                    return None;
                }
                Rx::Ring(self.handle)
            }
            Api::Classic => match api::net_read(self.handle, &mut self.rx[..]) {
                (SOLO5_R_OK, len) => Rx::Classic(&self.rx[..len]),
                _ => return None,
            },
        };
        let tx = Tx {
            api: self.api,
            handle: self.handle,
            batch: &mut *self.batch,
        };
        Some((rx, tx))
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<Tx<'_>> {
        Some(Tx {
            api: self.api,
            handle: self.handle,
            batch: &mut *self.batch,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = self.mtu + SOLO5_NET_HLEN;
        caps
    }
}
