//! Rust TCP unikernel: smoltcp on the guest's net device `service0`, at
//! 10.0.0.2/24. It answers ping, sinks TCP on port 5001 (an iperf 2
//! server's part: accept, discard, count) and serves HTTP on port 80
//! (`GET /` a small page, `GET /obj/N` N bytes of a pattern, byte `i`
//! being `i % 251`; `GET /exit` ends the unikernel with status 0).
//!
//! Command line: `ring` moves frames through the ring API (received in
//! place, sent in batches), `classic` through `solo5_net_read/write`.
//! Prints `Ready` once listening, `sink: N bytes` when a sink connection
//! ends and `SUCCESS` after `GET /exit`. Idle, it sleeps in `solo5_yield`
//! (at most 10 ms).

mod device;
mod http;
mod print;
mod sink;

use ringtender_abi::mft::MFT_DEV_NET_BASIC;
use ringtender_guest::api::{self, StartInfo};
use ringtender_guest::manifest::ManifestNote;
use ringtender_sync_shim as _;
use smoltcp::iface::{Config, Interface, PollResult, SocketSet, SocketStorage};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, IpCidr, Ipv4Address};

use device::{Api, NetDevice};
use print::println;

#[used]
#[link_section = ".note.solo5.manifest"]
static MANIFEST: ManifestNote<2> = ManifestNote::new(&[("service0", MFT_DEV_NET_BASIC)]);

/// The guest's address on the tap's subnet.
const ADDRESS: Ipv4Address = Ipv4Address::new(10, 0, 0, 2);
/// Longest sleep in `solo5_yield` when smoltcp has no earlier deadline.
const IDLE_NS: u64 = 10_000_000;
/// Rounds of sending (one segment per socket each) before received
/// frames are looked at again.
const EGRESS_ROUNDS: usize = 64;
/// How long the unikernel keeps serving after `GET /exit` (its response's
/// closing handshake).
const EXIT_GRACE_NS: u64 = 1_000_000_000;

const SOCKETS: usize = http::SOCKETS + sink::SOCKETS;
static mut SOCKET_STORAGE: [SocketStorage<'static>; SOCKETS] = [SocketStorage::EMPTY; SOCKETS];

fn now() -> Instant {
    Instant::from_micros((api::clock_monotonic() / 1000) as i64)
}

fn fail(why: &str) -> i32 {
    println!("FAILURE: {why}");
    1
}

/// The application's entry point.
#[no_mangle]
pub extern "C" fn solo5_app_main(info: &StartInfo) -> i32 {
    // SAFETY: the bindings pass a NUL-terminated command line.
    let cmdline = unsafe { core::ffi::CStr::from_ptr(info.cmdline as *const core::ffi::c_char) };
    let api = match cmdline.to_bytes() {
        b"ring" => Api::Ring,
        b"classic" => Api::Classic,
        _ => return fail("usage: rust-tcp ring|classic"),
    };
    let Some((handle, net)) = api::net_acquire("service0") else {
        return fail("net_acquire(service0)");
    };
    let Some(mut dev) = NetDevice::new(api, handle, net.mtu as usize) else {
        return fail("no rings for service0 (the ring API needs a tender that offers them)");
    };
    let mut config = Config::new(EthernetAddress(net.mac_address).into());
    config.random_seed = api::clock_wall();
    let mut iface = Interface::new(config, &mut dev, now());
    iface.update_ip_addrs(|addrs| {
        let _ = addrs.push(IpCidr::new(ADDRESS.into(), 24));
    });
    // SAFETY: the only user of SOCKET_STORAGE, single-threaded.
    let storage = unsafe { &mut *core::ptr::addr_of_mut!(SOCKET_STORAGE) };
    let mut sockets = SocketSet::new(&mut storage[..]);
    let mut http = http::Server::new(&mut sockets);
    let mut sink = sink::Sink::new(&mut sockets);
    println!("Ready: rust-tcp at {ADDRESS}, {} API", api.name());
    let mut exit_at = None;
    loop {
        let t = now();
        // Every frame received, then one segment per socket.
        iface.poll(t, &mut dev, &mut sockets);
        // More segments, as long as the sockets have some and the
        // application fills them, gathered into batches for the tx ring.
        for _ in 0..EGRESS_ROUNDS {
            let served = http.serve(&mut sockets);
            sink.serve(&mut sockets);
            if iface.poll_egress(t, &mut dev, &mut sockets) == PollResult::None && !served {
                break;
            }
        }
        dev.flush();
        let clock = api::clock_monotonic();
        if http.exit_requested() && exit_at.is_none() {
            exit_at = Some(clock + EXIT_GRACE_NS);
        }
        match exit_at {
            Some(at) if clock >= at || http.idle(&sockets) => break,
            _ => {}
        }
        let delay = iface
            .poll_delay(t, &sockets)
            .map_or(IDLE_NS, |d| d.total_micros() * 1000)
            .min(IDLE_NS);
        if delay > 0 {
            api::yield_until(clock + delay);
        }
    }
    println!("SUCCESS");
    0
}
