use super::*;
use crate::tests::heap;
use crate::{ReadResult, Reader, Writer, DEBUGLOG_PROTOCOL};

#[test]
fn boot_info_as_mugensolo5_writes_it() {
    let mut page = [0xffu8; 0x1000];
    write_boot_info(&mut page, 0x2020_e000, 0x20_dfff, b"Hello_Solo5").unwrap();
    let mut expected = [0u8; 0x1000];
    expected[0..8].copy_from_slice(&[0x00, 0xe0, 0x20, 0x20, 0, 0, 0, 0]);
    expected[8..16].copy_from_slice(&[0xff, 0xdf, 0x20, 0, 0, 0, 0, 0]);
    expected[24..32].copy_from_slice(&[0x28, 0x10, 0, 0, 0, 0, 0, 0]);
    expected[40..51].copy_from_slice(b"Hello_Solo5");
    assert_eq!(page, expected);

    let longest = [b'x'; 0x1000 - 41];
    assert!(write_boot_info(&mut page, 0, 0, &longest).is_ok());
    assert_eq!(page[0xfff], 0);
    assert_eq!(
        write_boot_info(&mut page, 0, 0, &[b'x'; 0x1000 - 40]),
        Err(BootInfoError::CmdlineTooLong {
            len: 0x1000 - 40,
            max: 0x1000 - 41
        })
    );
    assert_eq!(
        write_boot_info(&mut page, 0, 0, b"a\0b"),
        Err(BootInfoError::CmdlineContainsNul)
    );
}

#[test]
fn debuglog_elements_through_a_channel() {
    let h = heap(DEBUGLOG_REGION_SIZE as usize);
    let mut w = Writer::init(&h.region, DEBUGLOG_PROTOCOL, DEBUGLOG_ELEMENT_SIZE, 0x1234).unwrap();
    assert_eq!(w.elements(), 2047);
    let full = [b'f'; DEBUGLOG_TEXT_SIZE];
    for (ts, text) in [(7u64, &b"Solo5: Halted"[..]), (8, &full[..])] {
        let element = DebuglogElement::new(ts, text).unwrap();
        w.write(bytemuck::bytes_of(&element)).unwrap();
    }
    assert_eq!(
        DebuglogElement::new(9, &[b'x'; DEBUGLOG_TEXT_SIZE + 1]),
        None
    );

    let mut r = Reader::new(&h.region, DEBUGLOG_PROTOCOL, DEBUGLOG_ELEMENT_SIZE).unwrap();
    let mut raw = [0u8; DEBUGLOG_ELEMENT_SIZE];
    assert_eq!(r.read(&mut raw), ReadResult::EpochChanged);
    assert_eq!(r.read(&mut raw), ReadResult::Success);
    assert_eq!(raw[0], 7);
    assert_eq!(&raw[8..21], b"Solo5: Halted");
    let first: DebuglogElement = bytemuck::pod_read_unaligned(&raw);
    assert_eq!(first.text(), b"Solo5: Halted");
    assert_eq!(r.read(&mut raw), ReadResult::Success);
    let second: DebuglogElement = bytemuck::pod_read_unaligned(&raw);
    assert_eq!((second.timestamp, second.text()), (8, &full[..]));
}

#[test]
fn fixed_addresses() {
    // The values Muen's tools and libraries use, written out.
    assert_eq!(SINFO_VA, 0xe_0000_0000);
    assert_eq!(SCHEDULING_INFO_VA, 0xe_0000_8000);
    assert_eq!(TIMED_EVENT_VA, 0xe_0001_0000);
    assert_eq!(TIME_INFO_VA, 0xf_ffd0_0000);
    assert_eq!(DEBUGLOG_VA, 0xf_fff0_0000);
    assert_eq!(BOOT_INFO_VA, 0x1000);
    let sched = SchedulingInfo {
        tsc_schedule_start: 0x0102_0304_0506_0708,
        tsc_schedule_end: 0x1112_1314_1516_1718,
    };
    assert_eq!(bytemuck::bytes_of(&sched)[..2], [0x08, 0x07]);
    assert_eq!(bytemuck::bytes_of(&sched)[8..10], [0x18, 0x17]);
    let timed = TimedEvent {
        tsc_trigger_value: 1,
        event_nr: 63,
    };
    assert_eq!(bytemuck::bytes_of(&timed)[8], 63);
    assert_eq!(timed.event_nr & TIMED_EVENT_NUMBER_MASK, 63);
}
