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
//! guest or the sender needed, measures slower. Each way's pace is the
//! fastest of its stretches since it was chosen (a preempted stretch is
//! slower, never faster). A stretch that takes longer than
//! [`STRETCH_MAX_TICKS`] is no stream and is not kept, nor is the first
//! after a change of way (the worker's drains what queued in the tap
//! meanwhile, faster than any stream keeps up).
//!
//! The guest's own way is the default: it needs no second CPU and no
//! hand-over. The worker's is tried only when the guest fell behind the
//! sender for a whole stretch (every read of its tap found a frame): a
//! guest that keeps up gains nothing from a worker, and sparse input (a
//! request, a ping) never starts a trial. A trial keeps
//! [`TRIAL_STRETCHES`] stretches; the worker's way stays only if it beat
//! ours by a quarter ([`worker_wins`]): its tap read costs what the
//! guest's own does, plus the hand-over, so it wins only where it takes
//! work off a CPU the guest needed. Each way is measured afresh after
//! [`RETRY_STRETCHES`] stretches of the other; each trial of the worker
//! that loses doubles the stretches of our own before the next (at most
//! [`RETRY_MAX`]), so a worker that keeps losing reads little of a stream.
//! One thread of execution: plain relaxed statics.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The worker reads streams (it measured clearly faster, or is on trial).
static WORKER_WAY: AtomicBool = AtomicBool::new(false);
/// The paces, ticks per frame (0: not measured yet): ours, the fastest
/// stretch since our way was last chosen; the worker's, the fastest of
/// its stretches since its way was last chosen.
static PACE_OWN: AtomicU64 = AtomicU64::new(0);
static PACE_WORKER: AtomicU64 = AtomicU64::new(0);
/// Stretches kept on the current way since it was chosen.
static STRETCHES: AtomicU64 = AtomicU64::new(0);
/// Stretches of our own before the worker is tried again: doubled each
/// time a trial loses, back to [`RETRY_STRETCHES`] when one wins.
static OWN_RETRY: AtomicU64 = AtomicU64::new(RETRY_STRETCHES);
/// The current stretch is the first since the way changed: not kept.
static WARMING: AtomicBool = AtomicBool::new(false);
/// Every look at a held tap in the current stretch found a frame: we
/// fell behind the sender, the only case the worker could help in.
static BEHIND: AtomicBool = AtomicBool::new(false);
/// Start of the current stretch (ticks, 0: none) and its frames so far.
static STRETCH_START: AtomicU64 = AtomicU64::new(0);
static STRETCH_COUNT: AtomicU64 = AtomicU64::new(0);
/// Frames per stretch: eight of the worker's batches of 64 (it publishes
/// per batch, so a shorter stretch could end right after one and look
/// faster than the worker is).
const STRETCH_FRAMES: u64 = 512;
/// A stretch longer than this (about 15 ms at 2.3 GHz: under ~35k frames
/// per second) is sparse input, not a stream, and is not kept.
const STRETCH_MAX_TICKS: u64 = 1 << 25;
/// Stretches kept on one way before the other is measured again.
const RETRY_STRETCHES: u64 = 8;
/// Most stretches of our own between two trials of the worker.
const RETRY_MAX: u64 = 128;
/// Stretches either way keeps before it is judged against the other (its
/// pace is the fastest of them: a preempted stretch is slower, never
/// faster).
const TRIAL_STRETCHES: u64 = 2;

/// Whether the worker reads streams now: a look that reads a full batch
/// from a held tap hands the taps back to it.
pub fn worker_way() -> bool {
    WORKER_WAY.load(Ordering::Relaxed)
}

/// A read of a held tap found nothing: we keep up with the sender.
pub fn tap_ran_dry() {
    BEHIND.store(false, Ordering::Relaxed);
}

/// Whether the worker's pace beats ours by a quarter (both known).
fn worker_wins(own: u64, worker: u64) -> bool {
    own != 0 && worker != 0 && worker < own - own / 4
}

/// `pace` kept into `best` (the fastest so far; 0: none); the new best.
fn keep_fastest(best: &AtomicU64, pace: u64) -> u64 {
    let old = best.load(Ordering::Relaxed);
    let new = if old == 0 { pace } else { old.min(pace) };
    best.store(new, Ordering::Relaxed);
    new
}

/// Switches ways: the new way's pace is measured afresh, from its second
/// stretch on.
fn choose(worker: bool) {
    WORKER_WAY.store(worker, Ordering::Relaxed);
    let pace = if worker { &PACE_WORKER } else { &PACE_OWN };
    pace.store(0, Ordering::Relaxed);
    STRETCHES.store(0, Ordering::Relaxed);
    STRETCH_START.store(0, Ordering::Relaxed);
    WARMING.store(true, Ordering::Relaxed);
}

/// Starts a stretch at `now`.
fn start_stretch(now: u64) {
    STRETCH_START.store(now, Ordering::Relaxed);
    STRETCH_COUNT.store(0, Ordering::Relaxed);
    BEHIND.store(true, Ordering::Relaxed);
}

/// The application consumed one received frame (spt, serving the taps).
/// Returns the way that should read the taps from now on when it changed
/// (true: the worker), for the caller to hand the taps over.
pub fn consumed() -> Option<bool> {
    let start = STRETCH_START.load(Ordering::Relaxed);
    if start != 0 {
        let count = STRETCH_COUNT.load(Ordering::Relaxed) + 1;
        if count < STRETCH_FRAMES {
            STRETCH_COUNT.store(count, Ordering::Relaxed);
            return None;
        }
    }
    // The clock only at a stretch's ends: per frame a count.
    let now = crate::clock::rdtsc();
    if start == 0 {
        start_stretch(now);
        return None;
    }
    let behind = BEHIND.load(Ordering::Relaxed);
    start_stretch(now);
    let ticks = now.wrapping_sub(start);
    if WARMING.swap(false, Ordering::Relaxed) || ticks > STRETCH_MAX_TICKS {
        return None;
    }
    let pace = (ticks / STRETCH_FRAMES).max(1);
    let stretches = STRETCHES.load(Ordering::Relaxed) + 1;
    STRETCHES.store(stretches, Ordering::Relaxed);
    let worker = worker_way();
    let next = if worker {
        let best = keep_fastest(&PACE_WORKER, pace);
        if stretches < TRIAL_STRETCHES {
            return None;
        }
        let wins = worker_wins(PACE_OWN.load(Ordering::Relaxed), best);
        if stretches == TRIAL_STRETCHES {
            let retry = OWN_RETRY.load(Ordering::Relaxed);
            let retry = if wins {
                RETRY_STRETCHES
            } else {
                (retry * 2).min(RETRY_MAX)
            };
            OWN_RETRY.store(retry, Ordering::Relaxed);
        }
        wins && !stretches.is_multiple_of(RETRY_STRETCHES)
    } else {
        let best = keep_fastest(&PACE_OWN, pace);
        let worker_pace = PACE_WORKER.load(Ordering::Relaxed);
        behind
            && (worker_pace == 0
                || stretches.is_multiple_of(OWN_RETRY.load(Ordering::Relaxed))
                || (stretches >= TRIAL_STRETCHES && worker_wins(best, worker_pace)))
    };
    if next == worker {
        return None;
    }
    choose(next);
    Some(next)
}
