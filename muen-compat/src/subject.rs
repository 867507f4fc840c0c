//! The other pages Muen maps into a Solo5 subject, at fixed virtual
//! addresses, and their layouts: scheduling info, time info, the timed
//! event page, the debug log channel and the Solo5 boot info.
//!
//! Net channels use [`crate::net`] ([`MUEN_NET_ELEMENT_SIZE`](crate::net::MUEN_NET_ELEMENT_SIZE),
//! [`NET_PROTOCOL`](crate::NET_PROTOCOL)); the subject info page is [`crate::sinfo`].

use bytemuck::{Pod, Zeroable};
use core::fmt;
use core::mem::{offset_of, size_of};
use ringtender_abi::hvt::BootInfo;

use crate::sinfo::SinfoFormat;

/// ABI version of Solo5 v0.12.1's muen bindings (ABI1 note, target muen):
/// their subject info page is format 05.
pub const MUEN_ABI_VERSION: u32 = 4;
/// The previous muen ABI version, whose subject info page is format 04.
pub const MUEN_ABI_VERSION_SINFO_04: u32 = 3;

/// The subject info format a unikernel of muen ABI `version` reads, if
/// that version is known.
pub const fn sinfo_format_for_abi(version: u32) -> Option<SinfoFormat> {
    match version {
        MUEN_ABI_VERSION => Some(SinfoFormat::V05),
        MUEN_ABI_VERSION_SINFO_04 => Some(SinfoFormat::V04),
        _ => None,
    }
}

/// Subject info page (read-only).
pub const SINFO_VA: u64 = 0xe_0000_0000;
/// Size of the subject info region (the page itself is
/// [`SINFO_SIZE`](crate::sinfo::layout::SINFO_SIZE) bytes).
pub const SINFO_REGION_SIZE: u64 = 0x8000;
/// Scheduling info page (read-only), right after the subject info region.
pub const SCHEDULING_INFO_VA: u64 = SINFO_VA + SINFO_REGION_SIZE;
/// Size of the scheduling info region.
pub const SCHEDULING_INFO_REGION_SIZE: u64 = 0x1000;
/// Timed event page (writable).
pub const TIMED_EVENT_VA: u64 = 0xe_0001_0000;
/// Size of the timed event region.
pub const TIMED_EVENT_REGION_SIZE: u64 = 0x1000;
/// Time info page (read-only channel "time_info" of Muen's `libmutime`).
pub const TIME_INFO_VA: u64 = 0xf_ffd0_0000;
/// Size of the time info region.
pub const TIME_INFO_REGION_SIZE: u64 = 0x1000;
/// Debug log channel (writer "debuglog" of Muen's `libmudebuglog`).
pub const DEBUGLOG_VA: u64 = 0xf_fff0_0000;
/// Size of the debug log channel in Muen's Solo5 policy (`logchannel_size`):
/// 2047 elements.
pub const DEBUGLOG_REGION_SIZE: u64 = 0x2_0000;
/// Solo5 boot info (passed in RDI).
pub const BOOT_INFO_VA: u64 = 0x1000;
/// Size of the boot info region.
pub const BOOT_INFO_REGION_SIZE: u64 = 0x1000;

/// Names of the subject's resources in its subject info page, as Muen's
/// policy for a Solo5 unikernel gives them (the binary's own regions are
/// named after its segments; Solo5 never looks them up).
pub mod names {
    /// The subject info page.
    pub const SINFO: &str = "sinfo";
    /// The scheduling info page.
    pub const SCHEDULING_INFO: &str = "scheduling_info";
    /// The timed event page.
    pub const TIMED_EVENT: &str = "timed_event";
    /// The time info page.
    pub const TIME_INFO: &str = "time_info";
    /// The debug log channel.
    pub const DEBUGLOG: &str = "debuglog";
    /// The Solo5 boot info page.
    pub const BOOT_INFO: &str = "boot_info";
    /// The subject's RAM (heap and stack); its end is the boot info's `mem_size`.
    pub const RAM: &str = "ram";
    /// The event a resettable unikernel's exit raises (`vmcall`).
    pub const EXIT_EVENT: &str = "solo5_exit";
    /// Suffix of a net device's input channel (the subject reads).
    pub const NET_IN_SUFFIX: &str = "|in";
    /// Suffix of a net device's output channel (the subject writes).
    pub const NET_OUT_SUFFIX: &str = "|out";
    /// Suffix of a block device's request channel (the subject writes).
    pub const BLOCK_REQUEST_SUFFIX: &str = "|request";
    /// Suffix of a block device's response channel (the subject reads).
    pub const BLOCK_RESPONSE_SUFFIX: &str = "|response";
    /// Suffix of a block device's data buffer (shared).
    pub const BLOCK_BUFFER_SUFFIX: &str = "|buffer";
}

/// The scheduling info page: the current minor frame, in TSC ticks. Solo5's
/// clock advances only when `tsc_schedule_start` changes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct SchedulingInfo {
    /// TSC at the start of the current minor frame (non-zero once running:
    /// Solo5's console stays off while it is 0).
    pub tsc_schedule_start: u64,
    /// TSC at the end of the current minor frame.
    pub tsc_schedule_end: u64,
}

/// The time info page (`libmutime`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct TimeInfo {
    /// Microseconds since 1970 at TSC 0; 0 until the time is known (Solo5
    /// waits for it to become non-zero).
    pub tsc_time_base: u64,
    /// TSC rate in Hz.
    pub tsc_tick_rate_hz: u64,
    /// Timezone offset in microseconds.
    pub timezone_microsecs: i64,
}

/// Lowest [`TimeInfo::tsc_tick_rate_hz`] Solo5's muen clock handles: its
/// multiplier `(10^9 << 32) / hz` must fit in a `u32`.
pub const SOLO5_MIN_TICK_RATE_HZ: u64 = 1_000_000_001;

/// The timed event page: the kernel raises event `event_nr` once the TSC
/// reaches `tsc_trigger_value`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct TimedEvent {
    /// TSC value that triggers the event.
    pub tsc_trigger_value: u64,
    /// Event number in bits 0..6 ([`TIMED_EVENT_NUMBER_MASK`]); the rest is padding.
    pub event_nr: u64,
}

/// Bits of [`TimedEvent::event_nr`] that hold the number.
pub const TIMED_EVENT_NUMBER_MASK: u64 = 0x3f;

/// Bytes of text in one debug log element.
pub const DEBUGLOG_TEXT_SIZE: usize = 56;

/// One debug log element (protocol [`DEBUGLOG_PROTOCOL`](crate::DEBUGLOG_PROTOCOL)):
/// a line, or 56 characters of one, NUL-padded (a full element has no NUL).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct DebuglogElement {
    /// TSC when written (Solo5 uses the minor frame's start).
    pub timestamp: u64,
    /// The text.
    pub text: [u8; DEBUGLOG_TEXT_SIZE],
}

/// Size of a debug log element.
pub const DEBUGLOG_ELEMENT_SIZE: usize = size_of::<DebuglogElement>();

impl DebuglogElement {
    /// An element of `text` (at most 56 bytes; the caller splits longer
    /// lines), NUL-padded.
    pub fn new(timestamp: u64, text: &[u8]) -> Option<Self> {
        let mut element = Self {
            timestamp,
            text: [0; DEBUGLOG_TEXT_SIZE],
        };
        element.text.get_mut(..text.len())?.copy_from_slice(text);
        Some(element)
    }

    /// The text up to its first NUL (`strnlen(text, 56)`).
    pub fn text(&self) -> &[u8] {
        let len = self
            .text
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(DEBUGLOG_TEXT_SIZE);
        &self.text[..len]
    }
}

/// Size of the boot info Muen's `mugensolo5` writes: the first five fields
/// of `hvt_boot_info` (up to `mft`; the fields after them are hvt's).
pub const MUEN_BOOT_INFO_SIZE: usize = offset_of!(BootInfo, host_features);

/// Why a boot info page cannot be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootInfoError {
    /// The command line and its NUL do not fit after the 40 bytes.
    CmdlineTooLong {
        /// Its length.
        len: usize,
        /// Longest that fits.
        max: usize,
    },
    /// The command line contains a NUL byte.
    CmdlineContainsNul,
}

impl fmt::Display for BootInfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CmdlineTooLong { len, max } => {
                write!(f, "command line of {len} bytes exceeds {max}")
            }
            Self::CmdlineContainsNul => f.write_str("command line contains a NUL byte"),
        }
    }
}

impl core::error::Error for BootInfoError {}

/// Fill `page` (the boot info region as the subject sees it at
/// [`BOOT_INFO_VA`]) as `mugensolo5` does: `mem_size` (end of "ram"),
/// `kernel_end` (last byte of the binary), `cpu_cycle_freq` 0, `cmdline`
/// pointing right after the 40 bytes, `mft` 0, then the NUL-terminated
/// command line; the rest of `page` is zeroed.
pub fn write_boot_info(
    page: &mut [u8],
    mem_size: u64,
    kernel_end: u64,
    cmdline: &[u8],
) -> Result<(), BootInfoError> {
    let max = page.len().saturating_sub(MUEN_BOOT_INFO_SIZE + 1);
    if cmdline.len() > max {
        return Err(BootInfoError::CmdlineTooLong {
            len: cmdline.len(),
            max,
        });
    }
    if cmdline.contains(&0) {
        return Err(BootInfoError::CmdlineContainsNul);
    }
    let info = BootInfo {
        mem_size,
        kernel_end,
        cpu_cycle_freq: 0,
        cmdline: BOOT_INFO_VA + MUEN_BOOT_INFO_SIZE as u64,
        mft: 0,
        ..BootInfo::default()
    };
    page.fill(0);
    page[..MUEN_BOOT_INFO_SIZE].copy_from_slice(&bytemuck::bytes_of(&info)[..MUEN_BOOT_INFO_SIZE]);
    page[MUEN_BOOT_INFO_SIZE..MUEN_BOOT_INFO_SIZE + cmdline.len()].copy_from_slice(cmdline);
    Ok(())
}

const _: () = {
    assert!(SCHEDULING_INFO_VA == 0xe_0000_8000);
    assert!(size_of::<SchedulingInfo>() == 16);
    assert!(offset_of!(SchedulingInfo, tsc_schedule_end) == 8);
    assert!(size_of::<TimeInfo>() == 24);
    assert!(offset_of!(TimeInfo, tsc_tick_rate_hz) == 8);
    assert!(offset_of!(TimeInfo, timezone_microsecs) == 16);
    assert!(size_of::<TimedEvent>() == 16);
    assert!(offset_of!(TimedEvent, event_nr) == 8);
    assert!(DEBUGLOG_ELEMENT_SIZE == 64);
    assert!(offset_of!(DebuglogElement, text) == 8);
    assert!(MUEN_BOOT_INFO_SIZE == 40);
    assert!((DEBUGLOG_REGION_SIZE as usize - crate::HEADER_SIZE) / DEBUGLOG_ELEMENT_SIZE == 2047);
};

#[cfg(test)]
mod tests;
