//! The SHMStream v2 channel reader against a hostile writer: one that
//! stores anything anywhere in the region, also while the reader works.

use std::cell::{Cell, RefCell};

use ringtender_muen_compat::{ReadResult, Reader, SharedMemory, BLOCK_PROTOCOL, HEADER_SIZE};

use crate::{take, take_u64, take_u8};

/// A channel region in a heap buffer whose writer is the fuzz input.
///
/// Every access the reader makes is checked (8-aligned words, in-bounds
/// ranges) and a bad one panics; stores scheduled by the input happen
/// between the reader's loads.
struct HostileMemory {
    bytes: RefCell<Vec<u8>>,
    /// Loads made so far.
    loads: Cell<u64>,
    /// Writer stores still to come: (at load number, offset, value).
    scheduled: RefCell<Vec<(u64, usize, u64)>>,
}

impl HostileMemory {
    fn check(&self, offset: usize, len: usize) {
        assert!(
            offset
                .checked_add(len)
                .is_some_and(|end| end <= self.bytes.borrow().len()),
            "access out of the region: {offset}+{len}"
        );
    }

    fn store(&self, offset: usize, value: u64) {
        self.bytes.borrow_mut()[offset..offset + 8].copy_from_slice(&value.to_ne_bytes());
    }
}

impl SharedMemory for HostileMemory {
    fn len(&self) -> usize {
        self.bytes.borrow().len()
    }

    fn load_acquire(&self, offset: usize) -> u64 {
        assert_eq!(offset % 8, 0, "unaligned word");
        self.check(offset, 8);
        let now = self.loads.get() + 1;
        self.loads.set(now);
        let due: Vec<_> = {
            let mut scheduled = self.scheduled.borrow_mut();
            let due = scheduled.iter().filter(|s| s.0 <= now).copied().collect();
            scheduled.retain(|s| s.0 > now);
            due
        };
        for (_, at, value) in due {
            self.store(at, value);
        }
        let mut word = [0u8; 8];
        word.copy_from_slice(&self.bytes.borrow()[offset..offset + 8]);
        u64::from_ne_bytes(word)
    }

    fn store_release(&self, _offset: usize, _value: u64) {
        panic!("a reader never stores to the channel");
    }

    fn read_bytes(&self, offset: usize, buf: &mut [u8]) {
        self.check(offset, buf.len());
        buf.copy_from_slice(&self.bytes.borrow()[offset..offset + buf.len()]);
    }

    fn write_bytes(&self, _offset: usize, _buf: &[u8]) {
        panic!("a reader never writes to the channel");
    }
}

/// `data` = region size (64 + 8 × byte), the reader's maximum element size
/// (1 + byte), the region's initial bytes, then operations: reads, peeks
/// and consumes, drains, pending checks, and writer stores made at once or
/// after a number of the reader's loads.
///
/// Checks: no access outside the region (and no store), no element larger
/// than the maximum or past the region, `Success` only with a synchronised
/// geometry that fits.
pub fn run(mut data: &[u8]) {
    let len = HEADER_SIZE + 8 * usize::from(take_u8(&mut data));
    let max = 1 + usize::from(take_u8(&mut data));
    let mut bytes = take(&mut data, len).to_vec();
    bytes.resize(len, 0);
    let mem = HostileMemory {
        bytes: RefCell::new(bytes),
        loads: Cell::new(0),
        scheduled: RefCell::new(Vec::new()),
    };
    let mut reader = Reader::new(&mem, BLOCK_PROTOCOL, max).expect("valid reader");
    let mut buf = vec![0u8; 2 * max];
    while !data.is_empty() {
        match take_u8(&mut data) % 7 {
            0 => {
                let n = usize::from(take_u8(&mut data)).min(buf.len());
                if reader.read(&mut buf[..n]) == ReadResult::Success {
                    assert!(reader.element_size().is_some());
                }
            }
            1 => {
                if let Ok(offset) = reader.peek() {
                    let size = reader.element_size().expect("synchronised");
                    assert!(offset >= HEADER_SIZE);
                    mem.read_bytes(offset, &mut buf[..size]);
                }
            }
            2 => {
                let _ = reader.consume();
            }
            3 => reader.drain(),
            4 => {
                let _ = reader.has_pending_data();
            }
            op => {
                let offset = 8 * (usize::from(take_u8(&mut data)) % (len / 8));
                let value = take_u64(&mut data);
                if op == 5 {
                    mem.store(offset, value);
                } else {
                    let at = mem.loads.get() + 1 + u64::from(take_u8(&mut data) % 8);
                    mem.scheduled.borrow_mut().push((at, offset, value));
                }
            }
        }
        if let (Some(size), Some(elements)) = (reader.element_size(), reader.elements()) {
            assert!(size >= 1 && size <= max);
            let end = (size as u64).checked_mul(elements).unwrap() + HEADER_SIZE as u64;
            assert!(end <= len as u64, "geometry fits the region");
        }
    }
}
