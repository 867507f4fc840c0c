//! Host-side traffic through the tap, the same for every variant: a frame
//! injector (rx workloads) and a request/response client.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::error::BenchError;
use crate::netns::PacketSocket;

/// EtherType of the benchmark's frames.
pub const ETHERTYPE: u16 = 0x88b5;
/// Source MAC of the host's frames.
pub const HOST_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

/// A 64-byte frame carrying `seq` (2^64-1 is the end marker).
pub fn frame(seq: u64, size: usize) -> Vec<u8> {
    let mut f = vec![0u8; size];
    f[..6].fill(0xff);
    f[6..12].copy_from_slice(&HOST_MAC);
    f[12..14].copy_from_slice(&ETHERTYPE.to_be_bytes());
    f[14..22].copy_from_slice(&seq.to_le_bytes());
    f
}

/// Sends the end marker a few times (a full ring may drop one).
pub fn send_end_marker(tap: &str) -> Result<(), BenchError> {
    let socket = PacketSocket::bind(tap, ETHERTYPE)?;
    for _ in 0..3 {
        socket.send(&frame(u64::MAX, 64));
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// Sends 64-byte frames into `tap` as fast as one thread can for `length`;
/// returns how many the kernel accepted.
pub fn inject(tap: &str, length: Duration) -> Result<u64, BenchError> {
    let socket = PacketSocket::bind(tap, ETHERTYPE)?;
    let start = Instant::now();
    let mut sent = 0u64;
    let mut f = frame(0, 64);
    while start.elapsed() < length {
        for _ in 0..64 {
            f[14..22].copy_from_slice(&sent.to_le_bytes());
            if socket.send(&f) {
                sent += 1;
            }
        }
    }
    Ok(sent)
}

/// Round trips measured by the client.
pub struct RoundTrips {
    /// Latencies in nanoseconds.
    pub histogram: Histogram<u64>,
    /// Completed transactions.
    pub completed: u64,
    /// Requests that got no answer within 200 ms.
    pub lost: u64,
    /// How long the client ran.
    pub elapsed: Duration,
}

/// One request in flight at a time for `length`: send a 64-byte frame,
/// wait for it to come back (source MAC not ours), record the time.
pub fn request_response(tap: &str, length: Duration) -> Result<RoundTrips, BenchError> {
    spaced_request_response(tap, length, Duration::ZERO)
}

/// As [`request_response`], with `gap` of silence after each answer: with a
/// gap longer than the guest's spin in `solo5_yield` (100 us), every
/// request finds the guest asleep.
pub fn spaced_request_response(
    tap: &str,
    length: Duration,
    gap: Duration,
) -> Result<RoundTrips, BenchError> {
    let socket = PacketSocket::bind(tap, ETHERTYPE)?;
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3)
        .map_err(|e| BenchError::Setup(format!("histogram: {e}")))?;
    let mut buf = [0u8; 2048];
    let (mut completed, mut lost, mut seq) = (0u64, 0u64, 0u64);
    let start = Instant::now();
    while start.elapsed() < length {
        let request = frame(seq, 64);
        let sent = Instant::now();
        if !socket.send(&request) {
            continue;
        }
        let answered = loop {
            let left = Duration::from_millis(200).saturating_sub(sent.elapsed());
            if left.is_zero() {
                break false;
            }
            let Some(n) = socket.recv(&mut buf, left.as_millis().max(1) as i32) else {
                break false;
            };
            if n >= 22 && buf[6..12] != HOST_MAC && buf[14..22] == request[14..22] {
                break true;
            }
        };
        if answered {
            let _ = histogram.record(sent.elapsed().as_nanos() as u64);
            completed += 1;
        } else {
            lost += 1;
        }
        seq += 1;
        if !gap.is_zero() {
            std::thread::sleep(gap);
        }
    }
    Ok(RoundTrips {
        histogram,
        completed,
        lost,
        elapsed: start.elapsed(),
    })
}
