//! The classic hvt hypercalls: argument structs the guest placed in its
//! memory, read and checked by the handlers.

use std::sync::{Mutex, OnceLock};

use ringtender_abi::hvt::{HcHalt, Hypercall};
use ringtender_host::attach::Device;
use ringtender_host::guest_memory::GuestRam;
use ringtender_host::hvt::hypercall::{Hypercalls, Outcome};
use ringtender_host::poll::WaitSet;

use crate::scratch::block_device;
use crate::{take_u64, take_u8};

/// Guest RAM of the target: 64 KiB.
const RAM: u64 = 0x1_0000;
/// Where the guest's bytes go: the guest may have the host read from here on.
const GUEST_DATA: u64 = 0x1000;
/// The guest may have the host write `[WRITABLE_START, WRITABLE_END)`.
const WRITABLE_START: u64 = 0x2000;
const WRITABLE_END: u64 = 0xf000;

/// The devices (handle 1 is a block device) and the POLL wait set, once
/// per process.
fn hypercalls() -> &'static Mutex<Hypercalls> {
    static HYPERCALLS: OnceLock<Mutex<Hypercalls>> = OnceLock::new();
    HYPERCALLS.get_or_init(|| {
        Mutex::new(Hypercalls {
            devices: vec![Device::None, Device::Block(block_device("hypercall"))],
            wait_set: WaitSet::new().expect("epoll"),
            rings: None,
        })
    })
}

/// `data` = hypercall number (1 byte), argument address (8 bytes, LE), then
/// the guest memory from `GUEST_DATA` on. Runs the hypercall; it may fail
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
    let mut calls = hypercalls().lock().unwrap_or_else(|e| e.into_inner());
    match calls.dispatch(&ram, nr, gpa) {
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
