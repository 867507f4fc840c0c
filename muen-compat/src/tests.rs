use core::cell::Cell;
use core::sync::atomic::{AtomicU64, Ordering};
use std::vec;
use std::vec::Vec;

use crate::block::{BlockRequest, BlockResponse, BLOCK_KIND_READ};
use crate::net::{decode_net_frame, encode_net_frame, net_element_size, net_frame_len, NetError};
use crate::*;

const PROTO: u64 = 0x0123_4567_89ab_cdef;

/// A heap-backed region; the `Vec` owns the memory `region` points to and is
/// never touched through a reference while the region is in use.
pub(crate) struct Heap {
    pub(crate) region: RawRegion,
    _words: Vec<u64>,
}

pub(crate) fn heap(len: usize) -> Heap {
    let mut words = vec![0u64; len.div_ceil(8)];
    // SAFETY: the Vec's buffer is 8-aligned, `len` bytes long at least, lives
    // as long as `Heap` (moving the Vec does not move its buffer) and is only
    // accessed through the region.
    let region = unsafe { RawRegion::new(words.as_mut_ptr().cast::<u8>(), len) };
    Heap {
        region,
        _words: words,
    }
}

fn elem(seq: u64, size: usize) -> Vec<u8> {
    (0..size)
        .map(|i| (seq as u8).wrapping_add(i as u8))
        .collect()
}

fn header_bytes(mem: &impl SharedMemory) -> [u8; 64] {
    let mut b = [0u8; 64];
    mem.read_bytes(0, &mut b);
    b
}

#[test]
fn header_layout_matches_hand_built_bytes() {
    let h = heap(64 + 4 * 16);
    let mut w = Writer::init(&h.region, NET_PROTOCOL, 16, 0x1122_3344_5566_7788).unwrap();
    w.write(&[0xaa; 16]).unwrap();
    let mut expected = [0u8; 64];
    expected[0..8].copy_from_slice(&[0x6d, 0x9b, 0x9a, 0xb7, 0xb6, 0x12, 0x73, 0x48]);
    expected[8..16].copy_from_slice(&[0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]);
    expected[16..24].copy_from_slice(&[0x14, 0xe8, 0x08, 0x9b, 0x54, 0x5c, 0xde, 0x7a]);
    expected[24] = 16;
    expected[32] = 4;
    expected[48] = 1;
    expected[56] = 1;
    assert_eq!(header_bytes(&h.region), expected);
    let header = ChannelHeader {
        transport: SHMSTREAM20_MARKER,
        epoch: 0x1122_3344_5566_7788,
        protocol: NET_PROTOCOL,
        size: 16,
        elements: 4,
        reserved: 0,
        wsc: 1,
        wc: 1,
    };
    assert_eq!(bytemuck::bytes_of(&header), &expected[..]);
    let mut slot = [0u8; 16];
    h.region.read_bytes(HEADER_SIZE, &mut slot);
    assert_eq!(slot, [0xaa; 16]);
}

#[test]
fn writer_init_zeroed_leaves_the_element_area_alone() {
    let h = heap(64 + 100);
    h.region.write_bytes(0, &[0xff; 164]);
    let w = Writer::init_zeroed(&h.region, PROTO, 30, 7).unwrap();
    assert_eq!((w.elements(), w.element_size(), w.wc()), (3, 30, 0));
    let mut rest = [0u8; 100];
    h.region.read_bytes(64, &mut rest);
    assert_eq!(rest, [0xffu8; 100]);
    assert_eq!(h.region.load_acquire(OFFSET_EPOCH), 7);
    assert_eq!(h.region.load_acquire(OFFSET_ELEMENTS), 3);
    assert_eq!(h.region.load_acquire(OFFSET_RESERVED), 0);
    assert_eq!(h.region.load_acquire(OFFSET_WC), 0);
    assert_eq!(
        Writer::init_zeroed(&h.region, PROTO, 30, 0).unwrap_err(),
        ChannelError::InvalidEpoch
    );
}

#[test]
fn writer_init_zeroes_and_validates() {
    let h = heap(64 + 100);
    h.region.write_bytes(0, &[0xff; 164]);
    let w = Writer::init(&h.region, PROTO, 30, 7).unwrap();
    assert_eq!((w.elements(), w.element_size(), w.wc()), (3, 30, 0));
    let mut rest = [0xffu8; 100];
    h.region.read_bytes(64, &mut rest);
    assert_eq!(rest, [0u8; 100]);
    assert_eq!(h.region.load_acquire(OFFSET_RESERVED), 0);
    let e = |r: Result<Writer<&RawRegion>, ChannelError>| r.unwrap_err();
    assert_eq!(
        e(Writer::init(&h.region, 0, 30, 7)),
        ChannelError::InvalidProtocol
    );
    assert_eq!(
        e(Writer::init(&h.region, PROTO, 0, 7)),
        ChannelError::InvalidElementSize
    );
    assert_eq!(
        e(Writer::init(&h.region, PROTO, 30, 0)),
        ChannelError::InvalidEpoch
    );
    assert_eq!(
        e(Writer::init(&h.region, PROTO, 101, 7)),
        ChannelError::RegionTooSmall
    );
    let tiny = heap(32);
    assert_eq!(
        e(Writer::init(&tiny.region, PROTO, 1, 7)),
        ChannelError::RegionTooSmall
    );
    assert_eq!(
        Reader::new(&tiny.region, PROTO, 8).unwrap_err(),
        ChannelError::RegionTooSmall
    );
}

#[test]
fn round_trip() {
    let h = heap(64 + 8 * 24);
    let mut r = Reader::new(&h.region, PROTO, 64).unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(r.read(&mut buf), ReadResult::Inactive);
    assert!(!r.has_pending_data());
    let mut w = Writer::init(&h.region, PROTO, 24, 5).unwrap();
    for seq in 0..3 {
        w.write(&elem(seq, 24)).unwrap();
    }
    w.write(&[9, 9]).unwrap();
    assert_eq!(r.read(&mut buf), ReadResult::EpochChanged);
    assert_eq!(
        (r.element_size(), r.elements(), r.epoch()),
        (Some(24), Some(8), 5)
    );
    for seq in 0..3 {
        assert!(r.has_pending_data());
        assert_eq!(r.read(&mut buf), ReadResult::Success);
        assert_eq!(&buf[..24], &elem(seq, 24)[..]);
    }
    assert_eq!(r.read(&mut buf), ReadResult::Success);
    assert_eq!(&buf[..24], &[&[9u8, 9][..], &[0u8; 22][..]].concat()[..]);
    assert_eq!(r.rc(), 4);
    assert!(!r.has_pending_data());
    assert_eq!(r.read(&mut buf), ReadResult::NoData);
    // A short buffer gets a prefix; the element is still consumed.
    w.write(&elem(7, 24)).unwrap();
    let mut short = [0u8; 5];
    assert_eq!(r.read(&mut short), ReadResult::Success);
    assert_eq!(&short[..], &elem(7, 24)[..5]);
    assert_eq!(
        w.write(&[0; 25]),
        Err(ElementTooLarge {
            len: 25,
            element_size: 24
        })
    );
}

#[test]
fn wrap_around() {
    let h = heap(64 + 4 * 10);
    let mut w = Writer::init(&h.region, PROTO, 10, 1).unwrap();
    let mut r = Reader::new(&h.region, PROTO, 10).unwrap();
    let mut buf = [0u8; 10];
    assert_eq!(r.read(&mut buf), ReadResult::EpochChanged);
    let mut next = 0;
    for round in 0..25u64 {
        let burst = 1 + round % 4;
        for i in 0..burst {
            w.write(&elem(next + i, 10)).unwrap();
        }
        for _ in 0..burst {
            assert_eq!(r.read(&mut buf), ReadResult::Success);
            assert_eq!(&buf[..], &elem(next, 10)[..]);
            next += 1;
        }
        assert_eq!(r.read(&mut buf), ReadResult::NoData);
    }
    assert_eq!(w.wc(), next);
}

#[test]
fn lossy_overrun_detected_and_drain_recovers() {
    let h = heap(64 + 4 * 8);
    let mut w = Writer::init(&h.region, PROTO, 8, 1).unwrap();
    let mut r = Reader::new(&h.region, PROTO, 8).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(r.read(&mut buf), ReadResult::EpochChanged);
    for seq in 0..4 {
        w.write(&elem(seq, 8)).unwrap();
    }
    // Exactly a full ring is not an overrun.
    assert_eq!(r.read(&mut buf), ReadResult::Success);
    assert_eq!(&buf[..], &elem(0, 8)[..]);
    for seq in 4..7 {
        w.write(&elem(seq, 8)).unwrap();
    }
    // wc - rc = 6 > 4: the writer lapped the reader.
    assert_eq!(r.read(&mut buf), ReadResult::OverrunDetected);
    assert_eq!(r.read(&mut buf), ReadResult::OverrunDetected);
    assert_eq!(r.rc(), 1);
    assert!(r.has_pending_data());
    r.drain();
    assert_eq!(r.rc(), 7);
    assert_eq!(r.read(&mut buf), ReadResult::NoData);
    w.write(&elem(7, 8)).unwrap();
    assert_eq!(r.read(&mut buf), ReadResult::Success);
    assert_eq!(&buf[..], &elem(7, 8)[..]);
}

#[test]
fn overrun_while_reading_in_place() {
    let h = heap(64 + 4 * 8);
    let mut w = Writer::init(&h.region, PROTO, 8, 1).unwrap();
    let mut r = Reader::new(&h.region, PROTO, 8).unwrap();
    assert_eq!(r.peek(), Err(ReadResult::EpochChanged));
    assert_eq!(r.peek(), Err(ReadResult::NoData));
    assert_eq!(r.consume(), ReadResult::NoData);
    for seq in 0..4 {
        w.write(&elem(seq, 8)).unwrap();
    }
    let off = r.peek().unwrap();
    assert_eq!(off, HEADER_SIZE);
    // The writer laps the slot being read: wsc - rc = 5 > 4.
    w.write(&elem(4, 8)).unwrap();
    assert_eq!(r.consume(), ReadResult::OverrunDetected);
    assert_eq!(r.rc(), 0);
    r.drain();
    w.write(&elem(5, 8)).unwrap();
    let off = r.peek().unwrap();
    let mut buf = [0u8; 8];
    r.memory().read_bytes(off, &mut buf);
    assert_eq!(r.consume(), ReadResult::Success);
    assert_eq!(&buf[..], &elem(5, 8)[..]);
    assert_eq!(r.consume(), ReadResult::NoData);
}

/// Memory that, on the next element copy, stores a `wsc` as a writer
/// overrunning the reader mid-copy would.
struct LapDuringCopy<'a> {
    inner: &'a RawRegion,
    wsc: Cell<Option<u64>>,
}

impl SharedMemory for LapDuringCopy<'_> {
    fn len(&self) -> usize {
        self.inner.len()
    }
    fn load_acquire(&self, offset: usize) -> u64 {
        self.inner.load_acquire(offset)
    }
    fn store_release(&self, offset: usize, value: u64) {
        self.inner.store_release(offset, value)
    }
    fn read_bytes(&self, offset: usize, buf: &mut [u8]) {
        self.inner.read_bytes(offset, buf);
        if let Some(wsc) = self.wsc.take() {
            self.inner.store_release(OFFSET_WSC, wsc);
        }
    }
    fn write_bytes(&self, offset: usize, buf: &[u8]) {
        self.inner.write_bytes(offset, buf)
    }
}

#[test]
fn overrun_during_copy_detected_by_wsc() {
    let h = heap(64 + 4 * 8);
    let mut w = Writer::init(&h.region, PROTO, 8, 1).unwrap();
    let mem = LapDuringCopy {
        inner: &h.region,
        wsc: Cell::new(None),
    };
    let mut r = Reader::new(&mem, PROTO, 8).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(r.read(&mut buf), ReadResult::EpochChanged);
    w.write(&elem(0, 8)).unwrap();
    mem.wsc.set(Some(5));
    assert_eq!(r.read(&mut buf), ReadResult::OverrunDetected);
    assert_eq!(r.rc(), 0);
    mem.wsc.set(Some(4));
    assert_eq!(r.read(&mut buf), ReadResult::Success);
}

#[test]
fn epoch_change_mid_stream() {
    let h = heap(64 + 4 * 8);
    let mut w = Writer::init(&h.region, PROTO, 8, 1).unwrap();
    let mut r = Reader::new(&h.region, PROTO, 8).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(r.read(&mut buf), ReadResult::EpochChanged);
    w.write(&elem(0, 8)).unwrap();
    w.write(&elem(1, 8)).unwrap();
    assert_eq!(r.read(&mut buf), ReadResult::Success);
    w.reset(2).unwrap();
    assert_eq!(w.wc(), 0);
    w.write(&elem(10, 8)).unwrap();
    assert_eq!(r.read(&mut buf), ReadResult::EpochChanged);
    assert_eq!((r.rc(), r.epoch()), (0, 2));
    assert_eq!(r.read(&mut buf), ReadResult::Success);
    assert_eq!(&buf[..], &elem(10, 8)[..]);
    // Reset between peek and consume.
    w.write(&elem(11, 8)).unwrap();
    r.peek().unwrap();
    w.reset(3).unwrap();
    assert_eq!(r.consume(), ReadResult::EpochChanged);
    assert_eq!(r.epoch(), 0);
    // Inactive while the writer holds the epoch at 0.
    h.region.store_release(OFFSET_EPOCH, 0);
    assert_eq!(r.read(&mut buf), ReadResult::Inactive);
    assert!(!r.has_pending_data());
    h.region.store_release(OFFSET_EPOCH, 3);
    w.write(&elem(12, 8)).unwrap();
    assert!(r.has_pending_data());
    assert_eq!(r.read(&mut buf), ReadResult::Success);
    assert_eq!(&buf[..], &elem(12, 8)[..]);
    assert_eq!(w.reset(0), Err(ChannelError::InvalidEpoch));
}

#[test]
fn incompatible_interfaces() {
    let h = heap(64 + 4 * 16);
    let mut buf = [0u8; 64];
    Writer::init(&h.region, PROTO, 16, 1).unwrap();
    let mut wrong_proto = Reader::new(&h.region, NET_PROTOCOL, 16).unwrap();
    assert_eq!(
        wrong_proto.read(&mut buf),
        ReadResult::IncompatibleInterface
    );
    assert_eq!(
        wrong_proto.read(&mut buf),
        ReadResult::IncompatibleInterface
    );
    assert!(!wrong_proto.has_pending_data());
    let mut too_small = Reader::new(&h.region, PROTO, 15).unwrap();
    assert_eq!(too_small.read(&mut buf), ReadResult::IncompatibleInterface);

    let mut r = Reader::new(&h.region, PROTO, 64).unwrap();
    let cases: [(usize, u64); 6] = [
        (OFFSET_TRANSPORT, 0x5348_4d53_7472_6561),
        (OFFSET_SIZE, 0),
        (OFFSET_ELEMENTS, 0),
        (OFFSET_ELEMENTS, 5),
        (OFFSET_SIZE, 17),
        (OFFSET_SIZE, 1 << 62),
    ];
    for (epoch, (field, value)) in (10..).zip(cases) {
        Writer::init(&h.region, PROTO, 16, epoch).unwrap();
        h.region.store_release(field, value);
        assert_eq!(
            r.read(&mut buf),
            ReadResult::IncompatibleInterface,
            "{field} = {value}"
        );
        assert_eq!(r.peek(), Err(ReadResult::IncompatibleInterface));
        assert_eq!(r.element_size(), None);
    }
    // Geometry that fits exactly is accepted, even if unlike the writer's.
    h.region.store_release(OFFSET_SIZE, 32);
    h.region.store_release(OFFSET_ELEMENTS, 2);
    assert_eq!(r.read(&mut buf), ReadResult::EpochChanged);
    assert_eq!((r.element_size(), r.elements()), (Some(32), Some(2)));
}

#[test]
fn lossless_never_overwrites_unread() {
    let h = heap(64 + 4 * 8);
    let mut w = Writer::init(&h.region, PROTO, 8, 1).unwrap();
    let mut r = Reader::new(&h.region, PROTO, 8).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(r.read(&mut buf), ReadResult::EpochChanged);
    assert_eq!(w.free_slots(0), 4);
    for seq in 0..4 {
        w.try_write(&elem(seq, 8), r.rc()).unwrap();
    }
    assert_eq!(w.try_write(&elem(4, 8), r.rc()), Err(WriteError::Full));
    assert_eq!(w.free_slots(r.rc()), 0);
    // Impossible read counters: ahead of the writer, or more than a ring behind.
    assert_eq!(w.free_slots(5), 0);
    assert_eq!(w.try_write(&elem(4, 8), u64::MAX), Err(WriteError::Full));
    w.write(&[0; 8]).unwrap();
    assert_eq!(w.free_slots(0), 0);
    w.reset(2).unwrap();
    assert_eq!(r.read(&mut buf), ReadResult::EpochChanged);

    let mut next_w = 0u64;
    let mut next_r = 0u64;
    let mut rng = XorShift(42);
    while next_r < 1000 {
        for _ in 0..rng.below(6) {
            match w.try_write(&elem(next_w, 8), r.rc()) {
                Ok(()) => next_w += 1,
                Err(WriteError::Full) => assert_eq!(w.wc() - r.rc(), 4),
                Err(e) => panic!("{e}"),
            }
        }
        for _ in 0..rng.below(6) {
            match r.read(&mut buf) {
                ReadResult::Success => {
                    assert_eq!(&buf[..], &elem(next_r, 8)[..]);
                    next_r += 1;
                }
                ReadResult::NoData => assert_eq!(next_r, next_w),
                other => panic!("{other:?}"),
            }
        }
    }
    assert_eq!(
        w.try_write(&[0; 9], 0),
        Err(WriteError::TooLarge(ElementTooLarge {
            len: 9,
            element_size: 8
        }))
    );
}

#[test]
fn batch_in_place_production() {
    let h = heap(64 + 5 * 12);
    let mut w = Writer::init(&h.region, PROTO, 12, 1).unwrap();
    let mut r = Reader::new(&h.region, PROTO, 12).unwrap();
    assert_eq!(r.peek(), Err(ReadResult::EpochChanged));
    let mut seq = 0u64;
    for _ in 0..20 {
        let n = w.free_slots(r.rc()).min(3);
        w.begin(n);
        for i in 0..n {
            w.memory().write_bytes(w.slot_offset(i), &elem(seq + i, 12));
        }
        assert_eq!(h.region.load_acquire(OFFSET_WSC), w.wc() + n);
        w.commit(n);
        assert_eq!(h.region.load_acquire(OFFSET_WC), w.wc());
        for _ in 0..2 {
            let off = r.peek().unwrap();
            let mut buf = [0u8; 12];
            r.memory().read_bytes(off, &mut buf);
            assert_eq!(r.consume(), ReadResult::Success);
            assert_eq!(&buf[..], &elem(r.rc() - 1, 12)[..]);
        }
        seq += n;
    }
    assert_eq!(w.wc(), seq);
}

#[test]
fn hostile_counters_and_geometry_after_sync() {
    let h = heap(64 + 4 * 8);
    let mut w = Writer::init(&h.region, PROTO, 8, 1).unwrap();
    let mut r = Reader::new(&h.region, PROTO, 8).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(r.read(&mut buf), ReadResult::EpochChanged);
    w.write(&elem(0, 8)).unwrap();
    w.write(&elem(1, 8)).unwrap();
    assert_eq!(r.read(&mut buf), ReadResult::Success);
    assert_eq!(r.read(&mut buf), ReadResult::Success);
    // wc moves backwards: rc > wc is a protocol error, reported as overrun.
    h.region.store_release(OFFSET_WC, 1);
    assert_eq!(r.read(&mut buf), ReadResult::OverrunDetected);
    assert_eq!(r.peek(), Err(ReadResult::OverrunDetected));
    assert!(r.has_pending_data());
    r.drain();
    assert_eq!(r.rc(), 1);
    // wc jumps far ahead.
    h.region.store_release(OFFSET_WC, u64::MAX);
    assert_eq!(r.read(&mut buf), ReadResult::OverrunDetected);
    r.drain();
    assert_eq!(r.read(&mut buf), ReadResult::NoData);
    // wsc below rc (a lie) is an overrun, not a wrapped small distance.
    h.region.store_release(OFFSET_WC, 2);
    h.region.store_release(OFFSET_WSC, 0);
    r.drain();
    h.region.store_release(OFFSET_WC, 3);
    assert_eq!(r.read(&mut buf), ReadResult::OverrunDetected);
    h.region.store_release(OFFSET_WSC, 3);
    // Geometry rewritten after synchronisation is ignored until the next epoch.
    h.region.store_release(OFFSET_SIZE, u64::MAX);
    h.region.store_release(OFFSET_ELEMENTS, u64::MAX);
    assert_eq!(r.read(&mut buf), ReadResult::Success);
    assert_eq!((r.element_size(), r.elements()), (Some(8), Some(4)));
    h.region.store_release(OFFSET_EPOCH, 9);
    assert_eq!(r.read(&mut buf), ReadResult::IncompatibleInterface);
}

/// xorshift64: deterministic pseudo-random numbers for the fuzz loops.
pub(crate) struct XorShift(pub(crate) u64);

impl XorShift {
    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn hostile_writer_never_panics_or_escapes() {
    const LEN: usize = 64 + 7 * 24 + 5;
    let h = heap(LEN);
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut w = Writer::init(&h.region, PROTO, 24, 1).unwrap();
    let mut r = Reader::new(&h.region, PROTO, 40).unwrap();
    let mut buf = [0u8; 64];
    let mut successes = 0;
    for _ in 0..200_000 {
        match rng.below(10) {
            0..=2 => {
                let field = 8 * rng.below(8) as usize;
                let rc = r.rc();
                let value = match rng.below(14) {
                    0 => 0,
                    1 => 1,
                    2 => rng.below(64),
                    3 => u64::MAX,
                    4 => u64::MAX - rng.below(8),
                    5 => 1 << 63,
                    6 => LEN as u64,
                    7 => SHMSTREAM20_MARKER,
                    8 => PROTO,
                    9 => rc.wrapping_add(rng.below(10)),
                    10 => rc.wrapping_sub(1),
                    11 => rc.wrapping_add(1 << 40),
                    12 => r.epoch(),
                    _ => rng.next(),
                };
                h.region.store_release(field, value);
            }
            3 => {
                let len = rng.below(w.element_size() as u64 + 1) as usize;
                w.write(&elem(rng.next(), len)).unwrap();
            }
            4 => {
                let len = rng.below(50) as usize;
                let _ = w.try_write(&elem(rng.next(), len), rng.next());
                assert!(w.free_slots(rng.next()) <= w.elements());
            }
            5 => {
                let epoch = 1 + rng.below(3);
                let size = 1 + rng.below(48) as usize;
                w = Writer::init(&h.region, PROTO, size, epoch).unwrap();
            }
            6 => {
                let n = rng.below(65) as usize;
                if r.read(&mut buf[..n]) == ReadResult::Success {
                    successes += 1;
                }
            }
            7 => {
                if let Ok(off) = r.peek() {
                    let size = r.element_size().unwrap();
                    assert!(size <= 40 && off + size <= LEN);
                    r.memory().read_bytes(off, &mut buf[..size]);
                    if rng.below(2) == 0 {
                        w.write(&[]).unwrap();
                    }
                }
                let _ = r.consume();
            }
            8 => {
                r.has_pending_data();
            }
            _ => r.drain(),
        }
        if let (Some(size), Some(elements)) = (r.element_size(), r.elements()) {
            assert!(64 + size as u64 * elements <= LEN as u64);
        }
    }
    assert!(successes > 0);
}

#[test]
fn net_elements() {
    assert_eq!(net_element_size(1514), 1516);
    let mut element = [0xffu8; 1516];
    encode_net_frame(&mut element, &[1, 2, 3]).unwrap();
    assert_eq!(&element[..3], &[1, 2, 3]);
    assert!(element[3..1514].iter().all(|&b| b == 0));
    assert_eq!(&element[1514..], &[3, 0]);
    assert_eq!(decode_net_frame(&element).unwrap(), &[1, 2, 3]);
    encode_net_frame(&mut element, &[7; 1514]).unwrap();
    assert_eq!(&element[1514..], &1514u16.to_le_bytes());
    assert_eq!(decode_net_frame(&element).unwrap().len(), 1514);
    let too_long = NetError::FrameTooLong {
        len: 1515,
        frame_max: 1514,
    };
    assert_eq!(encode_net_frame(&mut element, &[0; 1515]), Err(too_long));
    element[1514..].copy_from_slice(&1515u16.to_le_bytes());
    assert_eq!(decode_net_frame(&element), Err(too_long));
    assert_eq!(
        net_frame_len(1516, [0xff, 0xff]).unwrap_err(),
        NetError::FrameTooLong {
            len: 0xffff,
            frame_max: 1514
        }
    );
    assert_eq!(decode_net_frame(&[0]), Err(NetError::ElementTooSmall));
    assert_eq!(
        encode_net_frame(&mut [], &[]),
        Err(NetError::ElementTooSmall)
    );
    let mut empty = [9u8; 2];
    encode_net_frame(&mut empty, &[]).unwrap();
    assert_eq!(decode_net_frame(&empty).unwrap(), &[] as &[u8]);
}

#[test]
fn block_elements() {
    let req = BlockRequest {
        kind: BLOCK_KIND_READ,
        device: 0x0203,
        tag: 0x0405_0607,
        length: 0x1000,
        device_offset: 0x2000,
        buffer_offset: 0x3000,
    };
    let bytes = bytemuck::bytes_of(&req);
    assert_eq!(&bytes[..8], &[1, 0, 3, 2, 7, 6, 5, 4]);
    assert_eq!(&bytes[8..16], &0x1000u64.to_le_bytes());
    assert_eq!(&bytes[24..32], &0x3000u64.to_le_bytes());
    let resp = BlockResponse {
        kind: BLOCK_KIND_READ,
        device: 0,
        tag: 9,
        status: block::BLOCK_STATUS_IO_ERROR,
    };
    assert_eq!(
        bytemuck::bytes_of(&resp),
        &[1, 0, 0, 0, 9, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]
    );
    // Requests travel through a channel unchanged.
    let h = heap(64 + 1022 * 32);
    let mut w = Writer::init(&h.region, BLOCK_PROTOCOL, 32, 1).unwrap();
    assert_eq!(w.elements(), 1022);
    let mut r = Reader::new(&h.region, BLOCK_PROTOCOL, 32).unwrap();
    let mut out = BlockRequest::default();
    assert_eq!(
        r.read(bytemuck::bytes_of_mut(&mut out)),
        ReadResult::EpochChanged
    );
    w.write(bytes).unwrap();
    assert_eq!(
        r.read(bytemuck::bytes_of_mut(&mut out)),
        ReadResult::Success
    );
    assert_eq!(out, req);
}

fn backoff(spins: &mut u32) {
    *spins += 1;
    if spins.is_multiple_of(64) {
        std::thread::yield_now();
    } else {
        core::hint::spin_loop();
    }
}

#[test]
fn two_threads_lossless_million() {
    const N: u64 = 1_000_000;
    let h = heap(64 + 64 * 16);
    let ack = AtomicU64::new(0);
    let mut w = Writer::init(&h.region, PROTO, 16, 1).unwrap();
    let mut r = Reader::new(&h.region, PROTO, 16).unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut spins = 0;
            for seq in 0..N {
                let mut element = [0u8; 16];
                element[..8].copy_from_slice(&seq.to_le_bytes());
                element[8..].copy_from_slice(&(!seq).to_le_bytes());
                loop {
                    match w.try_write(&element, ack.load(Ordering::Acquire)) {
                        Ok(()) => break,
                        Err(WriteError::Full) => backoff(&mut spins),
                        Err(e) => panic!("{e}"),
                    }
                }
            }
        });
        s.spawn(|| {
            let mut spins = 0;
            let mut expected = 0u64;
            let mut buf = [0u8; 16];
            while expected < N {
                match r.read(&mut buf) {
                    ReadResult::Success => {
                        let seq = u64::from_le_bytes(buf[..8].try_into().unwrap());
                        let check = u64::from_le_bytes(buf[8..].try_into().unwrap());
                        assert_eq!((seq, check), (expected, !expected));
                        expected += 1;
                        ack.store(r.rc(), Ordering::Release);
                    }
                    ReadResult::NoData | ReadResult::EpochChanged => backoff(&mut spins),
                    other => panic!("{other:?} at {expected}"),
                }
            }
            assert_eq!(r.rc(), N);
        });
    });
    assert_eq!(w.wc(), N);
    assert_eq!(r.read(&mut [0u8; 16]), ReadResult::NoData);
}

#[test]
fn two_threads_lossless_batched_net_frames_in_place() {
    const N: u64 = 100_000;
    let size = net_element_size(1514);
    let h = heap(64 + 32 * size);
    let ack = AtomicU64::new(0);
    let mut w = Writer::init(&h.region, NET_PROTOCOL, size, 1).unwrap();
    let mut r = Reader::new(&h.region, NET_PROTOCOL, size).unwrap();
    let frame = |seq: u64| {
        let len = 14 + (seq % 1501) as usize;
        (0..len)
            .map(|i| (seq.wrapping_mul(31) as u8) ^ (i as u8))
            .collect::<Vec<u8>>()
    };
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut spins = 0;
            let mut element = vec![0u8; size];
            let mut seq = 0;
            while seq < N {
                let n = w
                    .free_slots(ack.load(Ordering::Acquire))
                    .min(N - seq)
                    .min(8);
                if n == 0 {
                    backoff(&mut spins);
                    continue;
                }
                w.begin(n);
                for i in 0..n {
                    encode_net_frame(&mut element, &frame(seq + i)).unwrap();
                    w.memory().write_bytes(w.slot_offset(i), &element);
                }
                w.commit(n);
                seq += n;
            }
        });
        s.spawn(|| {
            let mut spins = 0;
            let mut expected = 0u64;
            let mut element = vec![0u8; size];
            while expected < N {
                match r.peek() {
                    Ok(off) => {
                        r.memory().read_bytes(off, &mut element);
                        assert_eq!(r.consume(), ReadResult::Success);
                        assert_eq!(decode_net_frame(&element).unwrap(), &frame(expected)[..]);
                        expected += 1;
                        ack.store(r.rc(), Ordering::Release);
                    }
                    Err(ReadResult::NoData | ReadResult::EpochChanged) => backoff(&mut spins),
                    Err(other) => panic!("{other:?} at {expected}"),
                }
            }
        });
    });
    assert_eq!(w.wc(), N);
}

/// The writer runs free (lossy) until the reader has taken `WANTED` elements;
/// every element the reader accepts must be whole and newer than the last.
#[test]
fn two_threads_lossy_never_returns_torn_elements() {
    const WANTED: u64 = 50_000;
    const WORDS: usize = 8;
    let h = heap(64 + 4 * WORDS * 8);
    let mut w = Writer::init(&h.region, PROTO, WORDS * 8, 1).unwrap();
    let mut r = Reader::new(&h.region, PROTO, WORDS * 8).unwrap();
    let stop = AtomicU64::new(0);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut seq = 0u64;
            while stop.load(Ordering::Relaxed) == 0 {
                seq += 1;
                let element: Vec<u8> = (0..WORDS).flat_map(|_| seq.to_le_bytes()).collect();
                w.write(&element).unwrap();
                if seq.is_multiple_of(1024) {
                    std::thread::yield_now();
                }
            }
        });
        s.spawn(|| {
            let mut buf = [0u8; WORDS * 8];
            let (mut last, mut got) = (0u64, 0u64);
            while got < WANTED {
                match r.read(&mut buf) {
                    ReadResult::Success => {
                        let first = u64::from_le_bytes(buf[..8].try_into().unwrap());
                        assert!(buf.chunks(8).all(|c| c == first.to_le_bytes()), "torn");
                        assert!(first > last, "{first} after {last}");
                        last = first;
                        got += 1;
                    }
                    ReadResult::OverrunDetected => r.drain(),
                    ReadResult::NoData | ReadResult::EpochChanged => core::hint::spin_loop(),
                    other => panic!("{other:?}"),
                }
            }
            stop.store(1, Ordering::Relaxed);
        });
    });
}
