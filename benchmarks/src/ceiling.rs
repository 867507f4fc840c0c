//! The physical ceiling: the same tap and file work done by a host program
//! with no guest, by the fastest means measured here and the ones the
//! tender's io_uring engine uses (io_uring for tap writes and file reads,
//! `pwrite(2)` for file writes, which io_uring hands to its io-wq threads on
//! this buffered ext4 file, `read(2)` for tap reads), so every figure can
//! be shown as a fraction of what this machine can do at all.

use std::fs::OpenOptions;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use io_uring::{opcode, types, IoUring};

use crate::error::BenchError;
use crate::netns::TapFd;
use crate::traffic::{self, RoundTrips};

fn uring(entries: u32) -> Result<IoUring, BenchError> {
    IoUring::new(entries).map_err(|e| BenchError::Setup(format!("io_uring: {e}")))
}

fn submit_wait(ring: &mut IoUring, n: usize) -> Result<(), BenchError> {
    match ring.submit_and_wait(n) {
        Ok(_) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EINTR) => Ok(()),
        Err(e) => Err(BenchError::Run(format!("io_uring_enter: {e}"))),
    }
}

/// Frames of `size` bytes written to the tap for `length`, 64 per
/// submission; returns (frames, elapsed).
pub fn tx(tap: &str, size: usize, length: Duration) -> Result<(u64, Duration), BenchError> {
    let fd = TapFd::open(tap)?;
    let mut ring = uring(256)?;
    let frame = traffic::frame(0, size);
    let start = Instant::now();
    let mut sent = 0u64;
    while start.elapsed() < length {
        {
            let mut sq = ring.submission();
            for _ in 0..64 {
                let entry =
                    opcode::Write::new(types::Fd(fd.raw()), frame.as_ptr(), size as u32).build();
                // SAFETY: `frame` outlives the batch, which is reaped below.
                unsafe { sq.push(&entry) }.map_err(|_| BenchError::Run("sq full".into()))?;
            }
        }
        submit_wait(&mut ring, 64)?;
        let mut reaped = 0;
        while reaped < 64 {
            for cqe in ring.completion() {
                reaped += 1;
                if cqe.result() == size as i32 {
                    sent += 1;
                }
            }
            if reaped < 64 {
                submit_wait(&mut ring, 64 - reaped)?;
            }
        }
    }
    Ok((sent, start.elapsed()))
}

fn read_frames(fd: &TapFd, until: &AtomicBool) -> (u64, Option<Instant>, Option<Instant>) {
    let mut buf = [0u8; 2048];
    let (mut received, mut first, mut last) = (0u64, None, None);
    let mut idle_after_stop = 0;
    loop {
        // SAFETY: `buf` is writable for its length.
        let n = unsafe { libc::read(fd.raw(), buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 22 && buf[12..14] == traffic::ETHERTYPE.to_be_bytes() {
            let now = Instant::now();
            first.get_or_insert(now);
            last = Some(now);
            received += 1;
            continue;
        }
        if n > 0 {
            continue;
        }
        if until.load(Ordering::Acquire) {
            idle_after_stop += 1;
            if idle_after_stop > 100 {
                return (received, first, last);
            }
        }
        let mut pfd = libc::pollfd {
            fd: fd.raw(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut pfd, 1, 1) };
    }
}

/// Frames injected into the tap for `length` and read back by the host;
/// returns (received, injected, time from first to last frame).
pub fn rx(tap: &str, length: Duration) -> Result<(u64, u64, Duration), BenchError> {
    let fd = TapFd::open(tap)?;
    let done = Arc::new(AtomicBool::new(false));
    let injector_done = done.clone();
    let name = tap.to_string();
    let injector = std::thread::spawn(move || {
        let sent = traffic::inject(&name, length);
        injector_done.store(true, Ordering::Release);
        sent
    });
    let (received, first, last) = read_frames(&fd, &done);
    let injected = injector
        .join()
        .map_err(|_| BenchError::Run("injector panicked".into()))??;
    let span = match (first, last) {
        (Some(a), Some(b)) => b - a,
        _ => Duration::ZERO,
    };
    Ok((received, injected, span))
}

/// Request/response against a host echo on the tap's other end.
pub fn request_response(tap: &str, length: Duration) -> Result<RoundTrips, BenchError> {
    let fd = TapFd::open(tap)?;
    let stop = Arc::new(AtomicBool::new(false));
    let echo_stop = stop.clone();
    let echo = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while !echo_stop.load(Ordering::Acquire) {
            // SAFETY: `buf` is writable for its length.
            let n = unsafe { libc::read(fd.raw(), buf.as_mut_ptr().cast(), buf.len()) };
            if n >= 22 && buf[12..14] == traffic::ETHERTYPE.to_be_bytes() {
                let src: [u8; 6] = buf[6..12].try_into().unwrap_or_default();
                buf.copy_within(0..6, 6);
                buf[..6].copy_from_slice(&src);
                buf[6] = 0x02;
                buf[11] = 0x02;
                // SAFETY: `buf` holds `n` readable bytes.
                unsafe { libc::write(fd.raw(), buf.as_ptr().cast(), n as usize) };
            } else if n <= 0 {
                let mut pfd = libc::pollfd {
                    fd: fd.raw(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd.
                unsafe { libc::poll(&mut pfd, 1, 10) };
            }
        }
    });
    let result = traffic::request_response(tap, length);
    stop.store(true, Ordering::Release);
    let _ = echo.join();
    result
}

/// `size`-byte writes with `pwrite(2)` for `length` (queue depth means
/// nothing to a buffered write: it completes in the call).
fn pwrite_loop(
    file: &std::fs::File,
    slots: u64,
    random: bool,
    size: usize,
    length: Duration,
) -> Result<(u64, Duration), BenchError> {
    use std::os::unix::fs::FileExt;
    let buffer = vec![0x5au8; size];
    let (mut rng, mut ops) = (88_172_645_463_325_252u64, 0u64);
    let start = Instant::now();
    while start.elapsed() < length {
        let slot = if random {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % slots
        } else {
            ops % slots
        };
        file.write_all_at(&buffer, slot * size as u64)
            .map_err(|e| BenchError::Run(format!("pwrite: {e}")))?;
        ops += 1;
    }
    Ok((ops, start.elapsed()))
}

/// `size`-byte reads (io_uring, `qd` in flight) or writes (`pwrite`) on
/// `image` for `length`, at random or sequential offsets; returns
/// (operations, elapsed).
pub fn block(
    image: &Path,
    qd: usize,
    random: bool,
    write: bool,
    size: usize,
    length: Duration,
) -> Result<(u64, Duration), BenchError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(image)
        .map_err(|e| BenchError::Setup(format!("{}: {e}", image.display())))?;
    let slots = file
        .metadata()
        .map_err(|e| BenchError::Setup(format!("{}: {e}", image.display())))?
        .len()
        / size as u64;
    if write {
        return pwrite_loop(&file, slots, random, size, length);
    }
    let mut buffers = vec![vec![0x5au8; size]; qd];
    let mut ring = uring(qd.next_power_of_two() as u32)?;
    let (mut rng, mut seq) = (88_172_645_463_325_252u64, 0u64);
    let mut next_offset = || {
        if random {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % slots) * size as u64
        } else {
            seq += 1;
            ((seq - 1) % slots) * size as u64
        }
    };
    let mut submit = |ring: &mut IoUring, slot: usize| -> Result<(), BenchError> {
        let fd = types::Fd(file.as_raw_fd());
        let buf = buffers[slot].as_mut_ptr();
        let offset = next_offset();
        let entry = opcode::Read::new(fd, buf, size as u32)
            .offset(offset)
            .build()
            .user_data(slot as u64);
        // SAFETY: the buffer lives until the harness reaps its completion.
        unsafe { ring.submission().push(&entry) }.map_err(|_| BenchError::Run("sq full".into()))
    };
    let start = Instant::now();
    for slot in 0..qd {
        submit(&mut ring, slot)?;
    }
    let (mut ops, mut inflight) = (0u64, qd);
    while inflight > 0 {
        submit_wait(&mut ring, 1)?;
        let done: Vec<(u64, i32)> = ring
            .completion()
            .map(|c| (c.user_data(), c.result()))
            .collect();
        for (slot, result) in done {
            if result != size as i32 {
                return Err(BenchError::Run(format!("block I/O returned {result}")));
            }
            ops += 1;
            inflight -= 1;
            if start.elapsed() < length {
                submit(&mut ring, slot as usize)?;
                inflight += 1;
            }
        }
    }
    Ok((ops, start.elapsed()))
}
