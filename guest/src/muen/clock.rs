//! The clock of a Muen subject, as upstream's bindings keep it. Monotonic
//! time is the scheduling info page's `tsc_schedule_start` scaled to
//! nanoseconds: it advances once per minor frame, and by about one
//! nanosecond (`min_delta` ticks) on every call within a frame, so two calls
//! never return the same time. The wall clock adds `time_info`'s
//! `tsc_time_base` (microseconds since 1970 at TSC 0). No `rdtsc`: Muen's
//! subject monitor would only return the end of the frame anyway.

use core::sync::atomic::{AtomicU64, Ordering};

use ringtender_muen_compat::subject::{names, TimeInfo};

use crate::log;

const NSEC_PER_SEC: u64 = 1_000_000_000;

static TIME_INFO: AtomicU64 = AtomicU64::new(0);
static MULT: AtomicU64 = AtomicU64::new(0);
static MIN_DELTA: AtomicU64 = AtomicU64::new(0);
static TIME_BASE: AtomicU64 = AtomicU64::new(0);
static TSC_BASE: AtomicU64 = AtomicU64::new(0);
static CURRENT_START: AtomicU64 = AtomicU64::new(0);

fn time_info() -> Option<TimeInfo> {
    let page = TIME_INFO.load(Ordering::Relaxed) as *const TimeInfo;
    // SAFETY: the sinfo's "time_info" region, mapped read-only for our life
    // and rewritten by Muen's time subject; a volatile read sees its values.
    (!page.is_null()).then(|| unsafe { page.read_volatile() })
}

/// Finds "time_info" and waits until the time is published, as upstream
/// does (with no time out: a subject without time cannot go on).
pub fn init() {
    let Some(region) = super::sinfo().and_then(|s| s.memory(names::TIME_INFO.as_bytes())) else {
        log!(Error, "Unable to retrieve Muen time info region\n");
        return;
    };
    TIME_INFO.store(region.address, Ordering::Relaxed);
    let info = loop {
        match time_info() {
            Some(info) if info.tsc_time_base != 0 => break info,
            _ => core::hint::spin_loop(),
        }
    };
    let hz = info.tsc_tick_rate_hz.max(1);
    // (0.32) fixed point, as upstream's; kept in 64 bits so a rate below
    // 1 GHz stays exact instead of overflowing upstream's u32.
    MULT.store(
        ((u128::from(NSEC_PER_SEC) << 32) / u128::from(hz)) as u64,
        Ordering::Relaxed,
    );
    MIN_DELTA.store(hz.div_ceil(NSEC_PER_SEC), Ordering::Relaxed);
    log!(
        Info,
        "Solo5: Clock source: Muen PV clock, TSC frequency {} Hz\n",
        hz
    );
}

/// Monotonic time in nanoseconds.
pub fn monotonic() -> u64 {
    let next_start = super::sched_start();
    let tsc_base = TSC_BASE.load(Ordering::Relaxed);
    let min_next = tsc_base.wrapping_add(MIN_DELTA.load(Ordering::Relaxed));
    let tsc_now = if next_start == CURRENT_START.load(Ordering::Relaxed) {
        min_next
    } else {
        CURRENT_START.store(next_start, Ordering::Relaxed);
        // Calls within a frame that outran the TSC (each adds `min_delta`)
        // must not make the next frame's start a step back, which the
        // wrapping difference below would turn into a leap of centuries.
        next_start.max(min_next)
    };
    let delta = tsc_now.wrapping_sub(tsc_base);
    let scaled = (u128::from(delta) * u128::from(MULT.load(Ordering::Relaxed))) >> 32;
    let time = TIME_BASE
        .load(Ordering::Relaxed)
        .wrapping_add(scaled as u64);
    TIME_BASE.store(time, Ordering::Relaxed);
    TSC_BASE.store(tsc_now, Ordering::Relaxed);
    time
}

/// Wall-clock time in nanoseconds since 1970 (0 while the time is unknown).
pub fn wall() -> u64 {
    let offset = epoch_offset();
    if offset == 0 {
        return 0;
    }
    offset.wrapping_add(monotonic())
}

/// `tsc_time_base` in nanoseconds (upstream's `tscclock_epochoffset`; it
/// seeds the MAC addresses).
pub fn epoch_offset() -> u64 {
    time_info().map_or(0, |info| info.tsc_time_base.wrapping_mul(1000))
}
