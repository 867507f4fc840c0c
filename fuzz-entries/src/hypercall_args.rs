//! The classic hvt hypercalls: argument structs the guest placed in its
//! memory, read and checked by the handlers.

use std::os::fd::IntoRawFd;
use std::os::unix::net::UnixDatagram;
use std::sync::{Mutex, OnceLock};

use ringtender_abi::hvt::{HcHalt, Hypercall};
use ringtender_host::attach::Device;
use ringtender_host::guest_memory::GuestRam;
use ringtender_host::hvt::hypercall::{Hypercalls, Outcome};
use ringtender_host::net::NetDevice;
use ringtender_host::poll::WaitSet;
use ringtender_host::tap::Tap;

use crate::scratch::block_device;
use crate::{take_u64, take_u8};

/// Guest RAM of the target: 64 KiB.
const RAM: u64 = 0x1_0000;
/// Where the guest's bytes go: the guest may have the host read from here on.
const GUEST_DATA: u64 = 0x1000;
/// The guest may have the host write `[WRITABLE_START, WRITABLE_END)`.
const WRITABLE_START: u64 = 0x2000;
const WRITABLE_END: u64 = 0xf000;

/// A frame waiting on the net device when a hypercall runs.
const FRAME: [u8; 60] = [0xa5; 60];

/// The hypercalls' state, once per process.
struct Fixture {
    /// Handle 1 is a block device, handle 2 a net device.
    calls: Hypercalls,
    /// The net device's own socket (to drain what NET_READ left)...
    tap_side: UnixDatagram,
    /// ... and its peer, standing in for the network.
    wire_side: UnixDatagram,
}

/// The net device is one end of a datagram socket pair, attached as a tap
/// descriptor the tender inherited (`--net:NAME=@FD`), so frames keep their
/// boundaries as on a tap.
fn fixture() -> &'static Mutex<Fixture> {
    static FIXTURE: OnceLock<Mutex<Fixture>> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let (tap_side, wire_side) = UnixDatagram::pair().expect("socketpair");
        let tap_fd = tap_side.try_clone().expect("dup").into_raw_fd();
        let tap = Tap::attach(&format!("@{tap_fd}")).expect("attach the socket");
        let net = NetDevice {
            tap,
            mac: [2, 0, 0, 0, 0, 1],
        };
        tap_side.set_nonblocking(true).expect("non-blocking");
        wire_side.set_nonblocking(true).expect("non-blocking");
        Mutex::new(Fixture {
            calls: Hypercalls {
                devices: vec![
                    Device::None,
                    Device::Block(block_device("hypercall")),
                    Device::Net(net),
                ],
                wait_set: WaitSet::new().expect("epoll"),
                rings: None,
            },
            tap_side,
            wire_side,
        })
    })
}

/// Empties `socket`'s receive queue.
fn drain(socket: &UnixDatagram) {
    let mut buf = [0u8; 2048];
    while socket.recv(&mut buf).is_ok() {}
}

/// `data` = hypercall number (1 byte), argument address (8 bytes, LE), then
/// the guest memory from `GUEST_DATA` on. With one frame waiting on the net
/// device, runs the hypercall; it may fail
/// (the guest is stopped with an error) but must not panic, and only HALT
/// halts. A POLL's timeout is set to 0 so that a fuzz input cannot sleep.
pub fn run(mut data: &[u8]) {
    let nr = u32::from(take_u8(&mut data));
    let gpa = take_u64(&mut data);
    let mut ram = GuestRam::new(RAM).expect("guest RAM");
    ram.set_guest_access(vec![GUEST_DATA..RAM], vec![WRITABLE_START..WRITABLE_END]);
    let len = data.len().min((RAM - GUEST_DATA) as usize);
    ram.setup_write(GUEST_DATA, &data[..len])
        .expect("inside RAM");
    if nr == Hypercall::Poll as u32 {
        // A POLL argument outside RAM fails in the handler anyway.
        let _ = ram.setup_write(gpa, &0u64.to_ne_bytes());
    }
    let mut fixture = fixture().lock().unwrap_or_else(|e| e.into_inner());
    drain(&fixture.tap_side);
    drain(&fixture.wire_side);
    fixture.wire_side.send(&FRAME).expect("one frame fits");
    match fixture.calls.dispatch(&ram, nr, gpa) {
        Ok(Outcome::Halt(status)) => {
            assert_eq!(nr, Hypercall::Halt as u32);
            let arg: HcHalt = ram.read_pod(gpa).expect("HALT read its argument");
            assert_eq!(arg.exit_status, status);
        }
        Ok(Outcome::Continue) => assert!(Hypercall::from_raw(nr).is_some()),
        Err(e) => {
            let _ = e.to_string();
        }
    }
}
