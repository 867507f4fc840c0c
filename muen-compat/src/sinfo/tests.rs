//! Subject info tests. The expected bytes are written out by hand with
//! literal offsets, so they check the layout constants rather than reuse them.

use std::vec::Vec;

use super::layout::{MAX_RESOURCES, SINFO_SIZE};
use super::*;
use crate::tests::{heap, Heap, XorShift};
use crate::SharedMemory;

const MMIO_HASH: [u8; 32] = {
    let mut h = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        h[i] = 0xa0 + i as u8;
        i += 1;
    }
    h
};

/// Our own example subject: memory with fill, file+hash, W and X flags, a
/// device with its MMIO, an event and a vector.
fn example(format: SinfoFormat) -> (Vec<u8>, Vec<Resource>) {
    let ram = MemoryRegion::new(
        MemoryKind::SUBJECT,
        0x20_e000,
        0x2000_0000,
        MemoryFlags::WRITABLE,
    )
    .filled(0x5a);
    let text = MemoryRegion::new(
        MemoryKind::SUBJECT_BINARY,
        0x20_0000,
        0x6000,
        MemoryFlags::EXECUTABLE,
    )
    .from_file()
    .with_hash(MMIO_HASH);
    let device = Device {
        sid: 0x00c8,
        vendor_id: 0x8086,
        device_id: 0x100e,
        class_code: 0x0200,
        irte_start: 0x28,
        irq_start: 0x3b,
        ir_count: 2,
        flags: layout::DEV_FLAG_MSI,
        reset_method: 1,
    };
    let mmio = DeviceMemory {
        sid: 0x00c8,
        flags: MemoryFlags::WRITABLE,
        bar_flags: layout::DEVMEM_BAR_64BIT,
        bar_index: 2,
        bar_address: 0x1_fe00_0000,
        address: 0xe_0300_0000,
        size: 0x2_0000,
    };
    let mut page = [0u8; SINFO_SIZE];
    let mut w = SinfoWriter::new(&mut page, format, b"unikernel", 0x0012_3456).unwrap();
    w.add_memory(b"ram", ram).unwrap();
    w.add_memory(b"text", text).unwrap();
    w.add_device(b"nic", device).unwrap();
    w.add_device_memory(b"nic_mmio", mmio).unwrap();
    w.add_event(b"solo5_exit", 7).unwrap();
    w.add_vector(b"service0|in", 34).unwrap();
    let (device, mmio) = match format {
        SinfoFormat::V05 => (device, mmio),
        SinfoFormat::V04 => (
            Device {
                vendor_id: 0,
                device_id: 0,
                class_code: 0,
                reset_method: 0,
                ..device
            },
            DeviceMemory {
                sid: 0,
                bar_flags: 0,
                bar_index: 0,
                bar_address: 0,
                ..mmio
            },
        ),
    };
    let resource = |name: &[u8], data| Resource {
        name: Name::new(name).unwrap(),
        data,
    };
    let expected = std::vec![
        resource(b"ram", ResourceData::Memory(ram)),
        resource(b"text", ResourceData::Memory(text)),
        resource(b"nic", ResourceData::Device(device)),
        resource(b"nic_mmio", ResourceData::DeviceMemory(mmio)),
        resource(b"solo5_exit", ResourceData::Event(7)),
        resource(b"service0|in", ResourceData::Vector(34)),
    ];
    (page.to_vec(), expected)
}

/// `page` in a region of exactly [`SINFO_SIZE`] bytes (any read beyond it panics).
fn region_of(page: &[u8]) -> Heap {
    let h = heap(page.len());
    h.region.write_bytes(0, page);
    h
}

fn set(bytes: &mut [u8], offset: usize, value: &[u8]) {
    bytes[offset..offset + value.len()].copy_from_slice(value);
}

/// The bytes both formats share, at literal offsets.
fn expected_common(version: u8, count_offset: usize) -> Vec<u8> {
    let mut e = std::vec![0u8; 32720];
    set(&mut e, 0, b"muinfo\0");
    e[7] = version;
    set(&mut e, 8, &[0x56, 0x34, 0x12, 0x00]);
    e[12] = 9;
    set(&mut e, 13, b"unikernel");
    e[count_offset] = 6;
    // Resource 0 at 80: memory "ram", fill 0x5a, writable.
    set(&mut e, 80, &[1, 0, 0, 0, 3]);
    set(&mut e, 85, b"ram");
    set(&mut e, 152, &[0, 1, 1, 0x5a, 0x00]);
    set(&mut e, 160, &[0x00, 0xe0, 0x20, 0, 0, 0, 0, 0]);
    set(&mut e, 168, &[0, 0, 0, 0x20, 0, 0, 0, 0]);
    // Resource 1 at 208: memory "text", file, executable, no pattern, hash.
    set(&mut e, 208, &[1, 0, 0, 0, 4]);
    set(&mut e, 213, b"text");
    set(&mut e, 280, &[2, 2, 2, 0x00, 0x01]);
    set(&mut e, 288, &[0x00, 0x00, 0x20, 0, 0, 0, 0, 0]);
    set(&mut e, 296, &[0x00, 0x60, 0, 0, 0, 0, 0, 0]);
    set(&mut e, 304, &MMIO_HASH);
    // Resource 2 at 336: device "nic" (data format-specific).
    set(&mut e, 336, &[4, 0, 0, 0, 3]);
    set(&mut e, 341, b"nic");
    // Resource 3 at 464: device memory "nic_mmio" (data format-specific).
    set(&mut e, 464, &[5, 0, 0, 0, 8]);
    set(&mut e, 469, b"nic_mmio");
    // Resource 4 at 592: event "solo5_exit" = 7.
    set(&mut e, 592, &[2, 0, 0, 0, 10]);
    set(&mut e, 597, b"solo5_exit");
    e[664] = 7;
    // Resource 5 at 720: vector "service0|in" = 34.
    set(&mut e, 720, &[3, 0, 0, 0, 11]);
    set(&mut e, 725, b"service0|in");
    e[792] = 34;
    e
}

#[test]
fn format_04_matches_hand_written_bytes() {
    let mut e = expected_common(4, 77);
    // Device data at 408: sid, irte_start, irq_start, ir_count, flags.
    set(&mut e, 408, &[0xc8, 0x00, 0x28, 0x00, 0x3b, 2, 1]);
    // Device memory data at 536: flags, pad 7, address, size.
    e[536] = 1;
    set(&mut e, 544, &[0, 0, 0, 0x03, 0x0e, 0, 0, 0]);
    set(&mut e, 552, &[0, 0, 0x02, 0, 0, 0, 0, 0]);
    assert_eq!(example(SinfoFormat::V04).0, e);
}

#[test]
fn format_05_matches_hand_written_bytes() {
    let mut e = expected_common(5, 78);
    // Device data at 408: sid, vendor, device, class, irte_start,
    // irq_start, ir_count, flags, reset_method.
    set(
        &mut e,
        408,
        &[
            0xc8, 0x00, 0x86, 0x80, 0x0e, 0x10, 0x00, 0x02, 0x28, 0x00, 0x3b, 2, 1, 1,
        ],
    );
    // Device memory data at 536: sid, flags, bar flags, bar index, pad 3,
    // bar address, address, size.
    set(&mut e, 536, &[0xc8, 0x00, 1, 2, 2]);
    set(&mut e, 544, &[0, 0, 0, 0xfe, 1, 0, 0, 0]);
    set(&mut e, 552, &[0, 0, 0, 0x03, 0x0e, 0, 0, 0]);
    set(&mut e, 560, &[0, 0, 0x02, 0, 0, 0, 0, 0]);
    assert_eq!(example(SinfoFormat::V05).0, e);
}

#[test]
fn device_port_layout_05() {
    let mut page = [0u8; SINFO_SIZE];
    let mut w = SinfoWriter::new(&mut page, SinfoFormat::V05, b"s", 1).unwrap();
    let port = DevicePort {
        sid: 0x0108,
        bar_index: 4,
        address: 0x3f8,
        size: 8,
    };
    w.add_device_port(b"com1", port).unwrap();
    assert_eq!(page[78], 1);
    assert_eq!(page[80..85], [6, 0, 0, 0, 4]);
    assert_eq!(page[152..160], [0x08, 0x01, 4, 0, 0xf8, 0x03, 8, 0]);
    let h = region_of(&page);
    let r = SinfoReader::new(&h.region).unwrap();
    let found = r.find(b"com1", ResourceKind::DevicePort).unwrap();
    assert_eq!(found.data, ResourceData::DevicePort(port));
}

#[test]
fn round_trip_both_formats() {
    for format in [SinfoFormat::V04, SinfoFormat::V05] {
        let (page, expected) = example(format);
        let h = region_of(&page);
        let r = SinfoReader::new(&h.region).unwrap();
        assert_eq!(r.format(), format);
        assert_eq!(r.tsc_khz(), 0x0012_3456);
        assert_eq!(r.subject_name().as_bytes(), Some(&b"unikernel"[..]));
        assert_eq!(r.resource_count(), expected.len());
        assert_eq!(r.resources().collect::<Vec<_>>(), expected);
        let ram = r.memory(b"ram").unwrap();
        assert_eq!((ram.address, ram.size), (0x20_e000, 0x2000_0000));
        assert!(ram.flags.writable() && !ram.flags.executable());
        assert_eq!(
            (ram.kind, ram.fill_pattern()),
            (MemoryKind::SUBJECT, Some(0x5a))
        );
        let text = r.memory(b"text").unwrap();
        assert!(!text.flags.writable() && text.flags.executable());
        assert_eq!((text.content, text.fill_pattern()), (Content::FILE, None));
        assert_eq!(r.event(b"solo5_exit"), Some(7));
        assert_eq!(r.vector(b"service0|in"), Some(34));
        assert_eq!(r.device(0x00c8).map(|d| d.irq_start), Some(0x3b));
        assert_eq!(r.device(0x00c9), None);
        // Lookups go by kind as well as name.
        assert_eq!(r.event(b"ram"), None);
        assert_eq!(r.memory(b"solo5_exit"), None);
        assert_eq!(r.memory(b"absent"), None);
    }
}

#[test]
fn reader_refuses_bad_magic_unknown_format_and_short_region() {
    let (page, _) = example(SinfoFormat::V05);
    let mut bad = page.clone();
    bad[5] = b'x';
    let h = region_of(&bad);
    assert!(matches!(
        SinfoReader::new(&h.region),
        Err(SinfoError::BadMagic { .. })
    ));
    for version in [0u8, 3, 6, 0xff] {
        let mut other = page.clone();
        other[7] = version;
        let h = region_of(&other);
        assert_eq!(
            SinfoReader::new(&h.region).err(),
            Some(SinfoError::UnknownFormat { version })
        );
    }
    let h = region_of(&page[..SINFO_SIZE - 1]);
    assert_eq!(
        SinfoReader::new(&h.region).err(),
        Some(SinfoError::RegionTooSmall {
            len: SINFO_SIZE - 1
        })
    );
}

#[test]
fn none_hole_ends_the_scan() {
    let (mut page, expected) = example(SinfoFormat::V04);
    // Resource 2 (the device) becomes NONE; the count still says 6.
    set(&mut page, 336, &[0, 0, 0, 0]);
    let h = region_of(&page);
    let r = SinfoReader::new(&h.region).unwrap();
    assert_eq!(r.resource_count(), 6);
    assert_eq!(r.resources().collect::<Vec<_>>(), expected[..2]);
    assert_eq!(r.event(b"solo5_exit"), None);
    assert!(r.memory(b"text").is_some());
}

#[test]
fn count_bounds_the_scan_and_is_clamped() {
    let (mut page, _) = example(SinfoFormat::V05);
    page[78] = 2;
    let h = region_of(&page);
    let r = SinfoReader::new(&h.region).unwrap();
    assert_eq!(r.resources().count(), 2);
    assert_eq!(r.vector(b"service0|in"), None);

    let mut full = [0u8; SINFO_SIZE];
    let mut w = SinfoWriter::new(&mut full, SinfoFormat::V04, b"s", 1).unwrap();
    for i in 0..MAX_RESOURCES {
        w.add_event(std::format!("e{i}").as_bytes(), (i % 64) as u8)
            .unwrap();
    }
    assert_eq!(w.add_event(b"one_more", 1), Err(SinfoError::Full));
    set(&mut full, 77, &[0xff, 0xff]);
    let h = region_of(&full);
    let r = SinfoReader::new(&h.region).unwrap();
    assert_eq!(r.resource_count(), MAX_RESOURCES);
    assert_eq!(r.resources().count(), MAX_RESOURCES);
    assert_eq!(r.event(b"e254"), Some(254 % 64));
}

#[test]
fn names_differing_only_in_length() {
    let mut page = [0u8; SINFO_SIZE];
    let mut w = SinfoWriter::new(&mut page, SinfoFormat::V05, b"s", 1).unwrap();
    w.add_event(b"net|in", 1).unwrap();
    w.add_event(b"net", 2).unwrap();
    w.add_event(b"ne", 3).unwrap();
    w.add_event(&[b'n'; 63], 4).unwrap();
    let h = region_of(&page);
    let r = SinfoReader::new(&h.region).unwrap();
    assert_eq!(r.event(b"net"), Some(2));
    assert_eq!(r.event(b"ne"), Some(3));
    assert_eq!(r.event(b"net|in"), Some(1));
    assert_eq!(r.event(b"n"), None);
    assert_eq!(r.event(b""), None);
    assert_eq!(r.event(&[b'n'; 63]), Some(4));
    assert_eq!(r.event(&[b'n'; 64]), None);

    // Bytes after the stored length are not part of the name (upstream
    // compares `length` bytes): "net" with junk after it is still "net".
    let mut junk = page;
    junk[80 + 128 + 4 + 4] = b'X';
    let h = region_of(&junk);
    let r = SinfoReader::new(&h.region).unwrap();
    assert_eq!(r.event(b"net"), Some(2));
    assert_eq!(r.event(b"netX"), None);

    // A stored length above 63 is no name at all.
    let mut long = page;
    long[80 + 4] = 64;
    let h = region_of(&long);
    let r = SinfoReader::new(&h.region).unwrap();
    let first = r.resources().next().unwrap();
    assert_eq!(first.name.as_bytes(), None);
    assert_eq!(r.event(b"net|in"), None);
    assert_eq!(r.event(b"net"), Some(2));
}

#[test]
fn writer_refuses_what_muen_cannot_hold() {
    let mut page = [0u8; SINFO_SIZE];
    assert_eq!(
        SinfoWriter::new(&mut page, SinfoFormat::V04, &[b'a'; 64], 1).err(),
        Some(SinfoError::Name(NameError::TooLong { len: 64 }))
    );
    let mut w = SinfoWriter::new(&mut page, SinfoFormat::V04, &[b'a'; 63], 1).unwrap();
    assert_eq!(
        w.add_vector(&[b'v'; 64], 1),
        Err(SinfoError::Name(NameError::TooLong { len: 64 }))
    );
    assert_eq!(
        w.add_vector(b"a\0b", 1),
        Err(SinfoError::Name(NameError::ContainsNul))
    );
    assert_eq!(
        w.add_event(b"e", 64),
        Err(SinfoError::EventNumberOutOfRange { number: 64 })
    );
    assert_eq!(
        w.add_device_port(b"p", DevicePort::default()),
        Err(SinfoError::KindNotInFormat {
            kind: 6,
            format: SinfoFormat::V04
        })
    );
    let mut bad = MemoryRegion::new(MemoryKind::SUBJECT, 0, 0x1000, MemoryFlags::READ_ONLY);
    bad.pattern = 0;
    assert_eq!(
        w.add_memory(b"m", bad),
        Err(SinfoError::InconsistentPattern { pattern: 0 })
    );
    bad.content = Content::FILL;
    bad.pattern = 256;
    assert_eq!(
        w.add_memory(b"m", bad),
        Err(SinfoError::InconsistentPattern { pattern: 256 })
    );
    // Refusals leave the page as it was: nothing was added.
    assert_eq!(w.resource_count(), 0);
    assert_eq!(page[77..80], [0, 0, 0]);
    assert_eq!(page[80..], [0u8; SINFO_SIZE - 80]);
}

/// Exercise every reader entry point on `page`.
fn read_everything(page: &[u8], rng: &mut XorShift) {
    let h = region_of(page);
    let Ok(r) = SinfoReader::new(&h.region) else {
        return;
    };
    let _ = (r.tsc_khz(), r.subject_name().as_bytes(), r.format());
    assert!(r.resources().count() <= r.resource_count());
    assert!(r.resource_count() <= MAX_RESOURCES);
    for resource in r.resources() {
        if let (Some(name), Some(kind)) = (resource.name.as_bytes(), resource.data.kind()) {
            assert!(r.find(name, kind).is_some());
        }
    }
    let mut query = [0u8; 70];
    let len = rng.below(71) as usize;
    query[..len].iter_mut().for_each(|b| *b = rng.next() as u8);
    let _ = (
        r.memory(&query[..len]),
        r.event(&query[..len]),
        r.vector(&query[..len]),
        r.device(rng.next() as u16),
    );
}

#[test]
fn hostile_bytes_never_panic_or_escape() {
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let (valid, _) = example(SinfoFormat::V05);
    let mut page = std::vec![0u8; SINFO_SIZE];
    for round in 0..300 {
        match round % 3 {
            // Random bytes behind a valid magic, random count.
            0 => {
                page.iter_mut().for_each(|b| *b = rng.next() as u8);
                let format = [SinfoFormat::V04, SinfoFormat::V05][round % 2];
                set(&mut page, 0, &format.magic().to_le_bytes());
            }
            // A valid page with some bytes garbled.
            1 => {
                page.copy_from_slice(&valid);
                for _ in 0..1 + rng.below(64) {
                    let at = 8 + rng.below((SINFO_SIZE - 8) as u64) as usize;
                    page[at] = rng.next() as u8;
                }
            }
            // Pure noise (mostly refused by the magic check).
            _ => page.iter_mut().for_each(|b| *b = rng.next() as u8),
        }
        read_everything(&page, &mut rng);
    }
}
