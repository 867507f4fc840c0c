//! spt: who reads a receive stream from the taps, the guest itself (it
//! holds them, `rings::take_taps`) or the I/O worker, by how fast each way
//! delivers frames to the application (`docs/architecture.md`, "An idle
//! guest on spt", Holding the taps; `docs/performance.md`, "spt rx: where
//! the time goes"). The receive side of [`crate::tx_pace`].
//!
//! A pace is TSC ticks per frame the application consumed (read without a
//! system call), over a stretch of [`STRETCH_FRAMES`] frames consumed one
//! way: the application's own work between frames and any wait included,
//! so a way that makes the guest wait for its input, or takes a CPU the
//! guest or the sender needed, measures slower. A stretch that takes
//! longer than [`STRETCH_MAX_TICKS`] is no stream (input that sparse is
//! the sender's pace, not ours) and is not kept, so sparse input (a
//! request, a ping) never starts a trial of the other way. The guest's
//! own way is the default: it needs no second CPU and no hand-over. The
//! worker's is tried once the guest's pace is known, and chosen only if
//! it beats the guest's by a quarter ([`worker_wins`]): its tap read costs
//! what the guest's own does, plus the hand-over, so it wins only where
//! it takes work off a CPU the guest needed. Each way is measured afresh
//! every [`RETRY_STRETCHES`] stretches of the other, so one measurement
//! taken under a passing load keeps no stream on the slower way for good.
//! One thread of execution: plain relaxed statics.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The worker reads streams (it measured clearly faster, or is on trial).
static WORKER_WAY: AtomicBool = AtomicBool::new(false);
/// The paces, ticks per frame (0: not measured yet).
static PACE_OWN: AtomicU64 = AtomicU64::new(0);
static PACE_WORKER: AtomicU64 = AtomicU64::new(0);
/// Stretches measured on the current way since it was chosen.
static STRETCHES: AtomicU64 = AtomicU64::new(0);
/// Start of the current stretch (ticks, 0: none) and its frames so far.
static STRETCH_START: AtomicU64 = AtomicU64::new(0);
static STRETCH_COUNT: AtomicU64 = AtomicU64::new(0);
/// Frames per stretch: eight of the worker's batches of 64 (it publishes
/// per batch, so a shorter stretch could end right after one and look
/// faster than the worker is).
const STRETCH_FRAMES: u64 = 512;
/// A stretch longer than this (about 10 ms at 2-3 GHz: under ~50k frames
/// per second) is sparse input, not a stream, and is not kept.
const STRETCH_MAX_TICKS: u64 = 1 << 25;
/// Stretches on one way before the other is measured again.
const RETRY_STRETCHES: u64 = 8;

/// Whether the worker reads receive streams now: a look that reads a
/// full batch from a held tap hands the taps back to it.
pub fn worker_way() -> bool {
    WORKER_WAY.load(Ordering::Relaxed)
}

/// Whether the worker's pace beats ours by a quarter (both known).
fn worker_wins(own: u64, worker: u64) -> bool {
    own != 0 && worker != 0 && worker < own - own / 4
}

/// Switches ways: the next stretch is the new way's.
fn choose(worker: bool) {
    WORKER_WAY.store(worker, Ordering::Relaxed);
    STRETCHES.store(0, Ordering::Relaxed);
    STRETCH_START.store(0, Ordering::Relaxed);
}

/// The application consumed one received frame (spt, serving the taps).
/// Returns the way that should read the taps from now on when it changed
/// (true: the worker), for the caller to hand the taps over.
pub fn consumed() -> Option<bool> {
    let now = crate::clock::rdtsc();
    let start = STRETCH_START.load(Ordering::Relaxed);
    if start == 0 {
        STRETCH_START.store(now, Ordering::Relaxed);
        STRETCH_COUNT.store(0, Ordering::Relaxed);
        return None;
    }
    let count = STRETCH_COUNT.load(Ordering::Relaxed) + 1;
    if count < STRETCH_FRAMES {
        STRETCH_COUNT.store(count, Ordering::Relaxed);
        return None;
    }
    STRETCH_START.store(now, Ordering::Relaxed);
    STRETCH_COUNT.store(0, Ordering::Relaxed);
    let ticks = now.wrapping_sub(start);
    if ticks > STRETCH_MAX_TICKS {
        return None;
    }
    let pace = (ticks / STRETCH_FRAMES).max(1);
    let worker = worker_way();
    let stretches = STRETCHES.load(Ordering::Relaxed) + 1;
    STRETCHES.store(stretches, Ordering::Relaxed);
    let retry = stretches.is_multiple_of(RETRY_STRETCHES);
    let next = if worker {
        PACE_WORKER.store(pace, Ordering::Relaxed);
        worker_wins(PACE_OWN.load(Ordering::Relaxed), pace) && !retry
    } else {
        PACE_OWN.store(pace, Ordering::Relaxed);
        let worker_pace = PACE_WORKER.load(Ordering::Relaxed);
        worker_pace == 0 || retry || worker_wins(pace, worker_pace)
    };
    if next == worker {
        return None;
    }
    choose(next);
    Some(next)
}
