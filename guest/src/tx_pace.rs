//! spt: which way a stream of sends goes, the guest's own `write` to its
//! tap or the tx ring and the I/O worker, by how fast each goes
//! (`docs/architecture.md`, "An idle guest on spt", Sends;
//! `docs/performance.md`, "spt tx: where the time goes").
//!
//! Paces are TSC ticks per frame (read without a system call). Our own is
//! the fastest of our last [`PACE_RUNS`] runs of [`PACE_FRAMES`] sends we
//! wrote to the tap ourselves with no wait between them: it includes
//! whatever else we did between the sends, the work a worker would take
//! off our CPU, and a run the host preempted us in is slower, never
//! faster; it is known once there were that many runs. The worker's is
//! its pace over the last stretch of at least [`WORKER_FRAMES`] frames
//! taken while every send found the ring full (it was the bottleneck): it
//! publishes its read counter once per batch of up to 64 frames, so a
//! shorter stretch could end right after a batch and look faster than the
//! worker is. One thread of execution: plain relaxed statics.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The worker fell behind our sends since our last wait and writes slower
/// than we do: once it has written what the ring holds, our sends go
/// straight to the tap whether or not it sleeps.
static TAKEN_OVER: AtomicBool = AtomicBool::new(false);
/// Our last runs' paces, ticks per frame (0: none yet).
static PACE_OWN: [AtomicU64; PACE_RUNS] = [const { AtomicU64::new(0) }; PACE_RUNS];
/// The worker's pace over its last stretch, ticks per frame (0: none yet).
static PACE_WORKER: AtomicU64 = AtomicU64::new(0);
/// Runs measured so far (the next slot of [`PACE_OWN`]).
static OWN_RUNS: AtomicU64 = AtomicU64::new(0);
/// The worker's stretches measured so far.
static STRETCHES: AtomicU64 = AtomicU64::new(0);
/// Start of the current run of our own sends (ticks) and its length.
static RUN_START: AtomicU64 = AtomicU64::new(0);
static RUN_FRAMES: AtomicU64 = AtomicU64::new(0);
/// Start of the current stretch of sends that found the ring full (ticks,
/// 0: none) and the worker's read counter then.
static FULL_START: AtomicU64 = AtomicU64::new(0);
static FULL_RC: AtomicU64 = AtomicU64::new(0);
/// Sends per run of our own.
const PACE_FRAMES: u64 = 32;
/// Runs of our own kept.
const PACE_RUNS: usize = 4;
/// Least frames per stretch of the worker's: eight of its batches.
const WORKER_FRAMES: u64 = 512;
/// Every this many stretches the worker kept, we measure our own pace
/// again (a pace measured slow once, say in a run the host preempted us
/// in, would otherwise keep a stream on the slower way for good).
const RETRY_STRETCHES: u64 = 8;

/// The fastest of our own last runs (0: none recorded).
fn fastest_own() -> u64 {
    PACE_OWN
        .iter()
        .map(|p| p.load(Ordering::Relaxed))
        .filter(|&p| p != 0)
        .min()
        .unwrap_or(0)
}

/// Whether our own pace is known ([`PACE_RUNS`] runs measured).
fn own_known() -> bool {
    OWN_RUNS.load(Ordering::Relaxed) >= PACE_RUNS as u64
}

/// Whether we took the stream over from a worker slower than us since
/// our last wait.
pub fn taken_over() -> bool {
    TAKEN_OVER.load(Ordering::Relaxed)
}

/// A stream should go through the worker: we know our own pace, and the
/// worker's is unknown (try it) or faster.
pub fn prefer_ring() -> bool {
    let worker = PACE_WORKER.load(Ordering::Relaxed);
    own_known() && (worker == 0 || worker < fastest_own())
}

/// We waited: the take-over ends, and so do the current run and stretch
/// (the wait is neither's).
pub fn after_wait() {
    TAKEN_OVER.store(false, Ordering::Relaxed);
    RUN_FRAMES.store(0, Ordering::Relaxed);
    FULL_START.store(0, Ordering::Relaxed);
}

/// We wrote a frame to the tap ourselves.
pub fn sent_direct() {
    let frames = RUN_FRAMES.load(Ordering::Relaxed);
    let now = crate::clock::rdtsc();
    if frames == 0 {
        RUN_START.store(now, Ordering::Relaxed);
    } else if frames == PACE_FRAMES {
        let start = RUN_START.load(Ordering::Relaxed);
        let run = OWN_RUNS.fetch_add(1, Ordering::Relaxed);
        let pace = (now.wrapping_sub(start) / PACE_FRAMES).max(1);
        PACE_OWN[run as usize % PACE_RUNS].store(pace, Ordering::Relaxed);
        RUN_START.store(now, Ordering::Relaxed);
        RUN_FRAMES.store(1, Ordering::Relaxed);
        if prefer_ring() {
            // Taken over before our own pace was known (again): the
            // worker was faster after all.
            TAKEN_OVER.store(false, Ordering::Relaxed);
        }
        return;
    }
    RUN_FRAMES.store(frames + 1, Ordering::Relaxed);
}

/// A send queues on the ring: our run ends, and the worker's stretch too
/// if the ring was `drained` (the worker may have idled).
pub fn queued(drained: bool) {
    RUN_FRAMES.store(0, Ordering::Relaxed);
    if drained {
        FULL_START.store(0, Ordering::Relaxed);
    }
}

/// A send found the ring full with the worker's read counter at `rc`:
/// measures the worker's pace over full stretches, and takes the stream
/// over once the worker is the slower (or our own pace is unknown).
pub fn found_full(rc: u64) {
    RUN_FRAMES.store(0, Ordering::Relaxed);
    let now = crate::clock::rdtsc();
    let start = FULL_START.load(Ordering::Relaxed);
    if start == 0 {
        FULL_START.store(now, Ordering::Relaxed);
        FULL_RC.store(rc, Ordering::Relaxed);
        return;
    }
    let taken = rc.wrapping_sub(FULL_RC.load(Ordering::Relaxed));
    if taken < WORKER_FRAMES {
        return;
    }
    let pace = (now.wrapping_sub(start) / taken).max(1);
    PACE_WORKER.store(pace, Ordering::Relaxed);
    FULL_START.store(now, Ordering::Relaxed);
    FULL_RC.store(rc, Ordering::Relaxed);
    let stretch = STRETCHES.fetch_add(1, Ordering::Relaxed) + 1;
    if stretch.is_multiple_of(RETRY_STRETCHES) {
        // Our own pace is measured afresh; [`sent_direct`] gives the
        // stream back if the worker is still the faster.
        OWN_RUNS.store(0, Ordering::Relaxed);
    }
    if !prefer_ring() {
        TAKEN_OVER.store(true, Ordering::Relaxed);
    }
}
