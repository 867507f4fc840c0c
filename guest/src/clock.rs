//! Clocks. On hvt, the TSC clock (upstream's tscclock): monotonic
//! nanoseconds from `rdtsc` scaled by a 32-bit multiplier, and the wall clock
//! by hypercall. On spt, the host's `CLOCK_MONOTONIC` and `CLOCK_REALTIME`.
//! On muen, Muen's scheduling and time info pages (`muen::clock`).

use core::sync::atomic::{AtomicU64, Ordering};

use ringtender_abi::hvt::{HcWalltime, Hypercall};

use crate::hypercall::hypercall;
use crate::platform::{target, Target};
use crate::{muen, spt};

static MULT: AtomicU64 = AtomicU64::new(0);
static SHIFT: AtomicU64 = AtomicU64::new(0);
static TSC_BASE: AtomicU64 = AtomicU64::new(0);
static TIME_BASE: AtomicU64 = AtomicU64::new(0);

const NSEC_PER_SEC: u128 = 1_000_000_000;

/// The time-stamp counter: ticks at a constant rate, read without a
/// system call on every target that allows it (hvt, spt).
pub fn rdtsc() -> u64 {
    // SAFETY: rdtsc is allowed at CPL 3 (CR4.TSD is clear) and has no side effects.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// `(a * b) >> shift` with a 128-bit intermediate.
fn mul64_32(a: u64, b: u64, shift: u64) -> u64 {
    ((u128::from(a) * u128::from(b)) >> shift) as u64
}

/// Sets the TSC clock up for a TSC of `freq` Hz (hvt).
pub fn init(freq: u64) {
    let freq = u128::from(freq.max(1));
    let mut shift = 32u64;
    let mult = loop {
        let mult = (NSEC_PER_SEC << shift) / freq;
        if mult <= u128::from(u32::MAX) || shift == 0 {
            break mult as u64;
        }
        shift -= 1;
    };
    MULT.store(mult, Ordering::Relaxed);
    SHIFT.store(shift, Ordering::Relaxed);
    let tsc = rdtsc();
    TSC_BASE.store(tsc, Ordering::Relaxed);
    TIME_BASE.store(mul64_32(tsc, mult, shift), Ordering::Relaxed);
}

/// Monotonic time in nanoseconds.
pub fn monotonic() -> u64 {
    match target() {
        Target::Hvt => tsc_monotonic(),
        Target::Spt => spt::clock(spt::CLOCK_MONOTONIC),
        Target::Muen => muen::clock::monotonic(),
    }
}

fn tsc_monotonic() -> u64 {
    let now = rdtsc();
    let delta = now.wrapping_sub(TSC_BASE.load(Ordering::Relaxed));
    let time = TIME_BASE.load(Ordering::Relaxed)
        + mul64_32(
            delta,
            MULT.load(Ordering::Relaxed),
            SHIFT.load(Ordering::Relaxed),
        );
    TSC_BASE.store(now, Ordering::Relaxed);
    TIME_BASE.store(time, Ordering::Relaxed);
    time
}

/// Wall-clock time in nanoseconds since the Unix epoch.
pub fn wall() -> u64 {
    match target() {
        Target::Hvt => {
            let mut arg = HcWalltime::default();
            hypercall(Hypercall::Walltime, &mut arg);
            arg.nsecs
        }
        Target::Spt => spt::clock(spt::CLOCK_REALTIME),
        Target::Muen => muen::clock::wall(),
    }
}
