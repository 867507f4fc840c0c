//! Access to the memory holding a channel.

use core::ptr;
use core::sync::atomic::{AtomicU64, Ordering};

/// A region of shared memory holding one channel (header + elements); offsets
/// are relative to the region start, which is 8-byte aligned.
///
/// Implementations must never form a Rust reference to memory the peer can
/// write: header words are accessed atomically, element bytes with volatile
/// (or equivalent) copies. [`Writer`](crate::Writer) and
/// [`Reader`](crate::Reader) only call these methods with 8-aligned, in-bounds
/// offsets for the `u64` accessors and in-bounds ranges for the byte copies;
/// an implementation may panic on anything else.
pub trait SharedMemory {
    /// Size of the region in bytes.
    fn len(&self) -> usize;

    /// Whether the region is empty (no channel fits).
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Atomic load with acquire ordering of the `u64` at `offset` (8-aligned).
    fn load_acquire(&self, offset: usize) -> u64;

    /// Atomic store with release ordering of `value` to the `u64` at `offset` (8-aligned).
    fn store_release(&self, offset: usize, value: u64);

    /// Copy `buf.len()` bytes starting at `offset` into `buf`.
    fn read_bytes(&self, offset: usize, buf: &mut [u8]);

    /// Copy `buf` into the region starting at `offset`.
    fn write_bytes(&self, offset: usize, buf: &[u8]);
}

impl<T: SharedMemory + ?Sized> SharedMemory for &T {
    fn len(&self) -> usize {
        (**self).len()
    }
    fn load_acquire(&self, offset: usize) -> u64 {
        (**self).load_acquire(offset)
    }
    fn store_release(&self, offset: usize, value: u64) {
        (**self).store_release(offset, value)
    }
    fn read_bytes(&self, offset: usize, buf: &mut [u8]) {
        (**self).read_bytes(offset, buf)
    }
    fn write_bytes(&self, offset: usize, buf: &[u8]) {
        (**self).write_bytes(offset, buf)
    }
}

/// Shared memory reached through a raw pointer: the guest's own mapping of a
/// channel (or, in tests, a heap buffer).
///
/// Every access is bounds-checked (a failed check panics), header words go
/// through [`AtomicU64`], element bytes through volatile accesses, so no
/// Rust reference to the region is ever formed.
#[derive(Debug)]
pub struct RawRegion {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: a `RawRegion` is only a pointer and a length; every access through
// it is atomic (header words) or volatile (element bytes), never through a
// reference, so sharing it between threads introduces no access that the
// channel protocol itself does not already have to tolerate.
unsafe impl Send for RawRegion {}
// SAFETY: as for `Send`: all methods take `&self` and access the memory only
// atomically or volatilely.
unsafe impl Sync for RawRegion {}

impl RawRegion {
    /// Wrap `len` bytes of shared memory starting at `ptr`.
    ///
    /// # Safety
    /// - `ptr` is non-null, 8-byte aligned and valid for reads and writes of
    ///   `len` bytes for as long as the returned value (or anything built on
    ///   it) is used;
    /// - nothing in this program accesses that memory through a Rust
    ///   reference meanwhile; other parties (another thread, the tender, a
    ///   Muen subject) access it only with atomic or volatile operations, or
    ///   from outside this program's memory model (another address space).
    pub unsafe fn new(ptr: *mut u8, len: usize) -> Self {
        debug_assert!(!ptr.is_null() && ptr.align_offset(8) == 0);
        Self { ptr, len }
    }

    /// Start of the region, for a caller that needs the address (e.g. to
    /// hand a slot to a device model).
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }

    fn check_range(&self, offset: usize, len: usize) {
        assert!(
            offset.checked_add(len).is_some_and(|end| end <= self.len),
            "RawRegion access out of bounds"
        );
    }

    fn word(&self, offset: usize) -> &AtomicU64 {
        assert!(offset.is_multiple_of(8), "RawRegion: unaligned u64 access");
        self.check_range(offset, 8);
        // SAFETY: `offset + 8 <= len` and `ptr` is 8-aligned (constructor
        // contract), so the pointer is in bounds and 8-aligned; the memory is
        // valid for the lifetime of `self` and, per the constructor contract,
        // only accessed atomically or volatilely, which `AtomicU64::from_ptr`
        // requires.
        unsafe { AtomicU64::from_ptr(self.ptr.add(offset).cast::<u64>()) }
    }
}

impl SharedMemory for RawRegion {
    fn len(&self) -> usize {
        self.len
    }

    fn load_acquire(&self, offset: usize) -> u64 {
        self.word(offset).load(Ordering::Acquire)
    }

    fn store_release(&self, offset: usize, value: u64) {
        self.word(offset).store(value, Ordering::Release)
    }

    fn read_bytes(&self, offset: usize, buf: &mut [u8]) {
        self.check_range(offset, buf.len());
        // SAFETY: `offset + buf.len() <= len` was checked, so `src` and every
        // `src + i` below with `i < buf.len()` stay inside the region.
        let src = unsafe { self.ptr.add(offset) };
        let mut i = 0;
        let n = buf.len();
        while i < n && !(src as usize + i).is_multiple_of(8) {
            // SAFETY: `i < n`, so in bounds (see above); byte reads need no alignment.
            buf[i] = unsafe { ptr::read_volatile(src.add(i)) };
            i += 1;
        }
        while n - i >= 8 {
            // SAFETY: `i + 8 <= n`, so in bounds; `src + i` is 8-aligned by
            // the loop above and `i` advances in steps of 8.
            let word = unsafe { ptr::read_volatile(src.add(i).cast::<u64>()) };
            buf[i..i + 8].copy_from_slice(&word.to_ne_bytes());
            i += 8;
        }
        while i < n {
            // SAFETY: `i < n`, so in bounds.
            buf[i] = unsafe { ptr::read_volatile(src.add(i)) };
            i += 1;
        }
    }

    fn write_bytes(&self, offset: usize, buf: &[u8]) {
        self.check_range(offset, buf.len());
        // SAFETY: `offset + buf.len() <= len` was checked, so `dst` and every
        // `dst + i` below with `i < buf.len()` stay inside the region.
        let dst = unsafe { self.ptr.add(offset) };
        let mut i = 0;
        let n = buf.len();
        while i < n && !(dst as usize + i).is_multiple_of(8) {
            // SAFETY: `i < n`, so in bounds.
            unsafe { ptr::write_volatile(dst.add(i), buf[i]) };
            i += 1;
        }
        while n - i >= 8 {
            let mut word = [0u8; 8];
            word.copy_from_slice(&buf[i..i + 8]);
            // SAFETY: `i + 8 <= n`, so in bounds; `dst + i` is 8-aligned by
            // the loop above and `i` advances in steps of 8.
            unsafe { ptr::write_volatile(dst.add(i).cast::<u64>(), u64::from_ne_bytes(word)) };
            i += 8;
        }
        while i < n {
            // SAFETY: `i < n`, so in bounds.
            unsafe { ptr::write_volatile(dst.add(i), buf[i]) };
            i += 1;
        }
    }
}
