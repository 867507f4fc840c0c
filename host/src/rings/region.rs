//! A channel region in guest memory, reached through `GuestRam` (vm-memory
//! atomics and volatile copies; never a Rust reference into guest memory).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use ringtender_muen_compat::SharedMemory;

use crate::guest_memory::GuestRam;

/// `[base, base + len)` of guest RAM holding one channel. The tender places
/// it, so it always lies inside guest RAM; the channel code keeps every
/// access inside `len` whatever the guest writes.
pub struct GuestRegion {
    ram: Arc<GuestRam>,
    base: u64,
    len: usize,
}

impl GuestRegion {
    /// The region `[base, base + len)`.
    pub fn new(ram: Arc<GuestRam>, base: u64, len: usize) -> Self {
        Self { ram, base, len }
    }

    /// Guest address of `offset`.
    pub fn gpa(&self, offset: usize) -> u64 {
        self.base + offset as u64
    }
}

const INSIDE: &str = "channel region lies inside guest RAM";

impl SharedMemory for GuestRegion {
    fn len(&self) -> usize {
        self.len
    }

    fn load_acquire(&self, offset: usize) -> u64 {
        self.ram
            .load_u64(self.gpa(offset), Ordering::Acquire)
            .expect(INSIDE)
    }

    fn store_release(&self, offset: usize, value: u64) {
        self.ram
            .store_u64(self.gpa(offset), value, Ordering::Release)
            .expect(INSIDE)
    }

    fn read_bytes(&self, offset: usize, buf: &mut [u8]) {
        self.ram.copy_out(self.gpa(offset), buf).expect(INSIDE)
    }

    fn write_bytes(&self, offset: usize, buf: &[u8]) {
        self.ram.setup_write(self.gpa(offset), buf).expect(INSIDE)
    }
}
