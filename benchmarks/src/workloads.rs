//! The workloads, each measured the same way for every variant.

use std::time::Duration;

use crate::ceiling;
use crate::error::BenchError;
use crate::guest_run::{Finished, GuestRun, HANG_GUARD};
use crate::memory;
use crate::netns::tap_rx_packets;
use crate::tcp;
use crate::traffic::{self, RoundTrips};
use crate::variant::{Binaries, Devices, Variant};

/// One workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Guest sends frames of this many bytes as fast as it can.
    NetTx(usize),
    /// The host injects 64-byte frames as fast as it can.
    NetRx,
    /// Host client, guest echo, one request in flight.
    RequestResponse,
    /// As `RequestResponse`, with 2 ms between an answer and the next
    /// request: the guest sleeps in `solo5_yield` before each request.
    SleepingRequestResponse,
    /// Block I/O: request size, random or sequential, write or read, and
    /// the queue depth the ring API keeps (the blocking API always has 1).
    Block {
        /// Bytes per request.
        size: usize,
        /// Random offsets (else sequential).
        random: bool,
        /// Writes (else reads).
        write: bool,
        /// Requests in flight with the ring API.
        ring_qd: usize,
    },
    /// Hello: exec to `solo5_app_main`, and to exit.
    Startup,
    /// The smoltcp guest sinks `iperf -c` (`tcp.rs`).
    TcpIn,
    /// `curl` fetches a large object from the smoltcp guest.
    TcpOut,
    /// `wrk` with a connection per request against the smoltcp guest.
    Http,
    /// `ping` every 10 ms; the smoltcp guest sleeps in between.
    PingSleeping,
    /// An idle guest waiting for frames (`echo`): the resident memory of
    /// the tender's process tree once it has idled for a while.
    IdleMemory,
}

/// Guest memory of most workloads (MiB).
const BENCH_MEM_MB: u32 = 64;
/// Guest memory of [`Workload::IdleMemory`] (MiB), as issue 12 measured.
const IDLE_MEM_MB: u32 = 32;
/// How long [`Workload::IdleMemory`] lets the guest idle before measuring
/// (shorter when measurements are: `--quick`, `--smoke`).
const IDLE_SETTLE: Duration = Duration::from_millis(1500);

/// Silence between an answer and the next request in
/// [`Workload::SleepingRequestResponse`]: far longer than the guest's 100 us
/// spin in `solo5_yield`, so it sleeps before every request.
const SLEEP_GAP: Duration = Duration::from_millis(2);

/// Every workload, in report order.
pub const ALL: [Workload; 15] = [
    Workload::NetTx(64),
    Workload::NetTx(1514),
    Workload::NetRx,
    Workload::RequestResponse,
    Workload::SleepingRequestResponse,
    Workload::Block {
        size: 4096,
        random: true,
        write: false,
        ring_qd: 32,
    },
    Workload::Block {
        size: 4096,
        random: true,
        write: true,
        ring_qd: 32,
    },
    Workload::Block {
        size: 65536,
        random: false,
        write: false,
        ring_qd: 8,
    },
    Workload::Block {
        size: 65536,
        random: false,
        write: true,
        ring_qd: 8,
    },
    Workload::Startup,
    Workload::TcpIn,
    Workload::TcpOut,
    Workload::Http,
    Workload::PingSleeping,
    Workload::IdleMemory,
];

impl Workload {
    /// Whether it can run in the muen runner: not the TCP workloads (no
    /// smoltcp unikernel is built for muen, and a Muen subject makes its
    /// own MAC, so the runner refuses `--net-mac`).
    pub fn on_muen(self) -> bool {
        !matches!(
            self,
            Self::TcpIn | Self::TcpOut | Self::Http | Self::PingSleeping
        )
    }

    /// The label in the report.
    pub fn label(self) -> String {
        match self {
            Self::NetTx(size) => format!("net tx {size} B"),
            Self::NetRx => "net rx 64 B".into(),
            Self::RequestResponse => "net request/response".into(),
            Self::SleepingRequestResponse => "net request/response, guest sleeping".into(),
            Self::Block {
                size,
                random,
                write,
                ring_qd,
            } => format!(
                "block {} KiB {} {} (QD1 blocking API; QD{ring_qd} ring API)",
                size / 1024,
                if random { "random" } else { "sequential" },
                if write { "writes" } else { "reads" },
            ),
            Self::Startup => "start-up (hello)".into(),
            Self::TcpIn => tcp::IN_LABEL.into(),
            Self::TcpOut => tcp::OUT_LABEL.into(),
            Self::Http => tcp::HTTP_LABEL.into(),
            Self::PingSleeping => tcp::PING_LABEL.into(),
            Self::IdleMemory => IDLE_MEMORY.into(),
        }
    }
}

/// The label of [`Workload::IdleMemory`].
pub const IDLE_MEMORY: &str = "memory per idle net guest (--mem=32)";
/// The row of the tender's peak resident memory over every workload.
pub const PEAK_MEMORY: &str = "tender peak memory (any workload)";
/// The figure of [`Workload::IdleMemory`]: the tree's distinct resident pages.
pub const TREE_RESIDENT: &str = "resident MiB, process tree";

/// One measured figure.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Figure {
    /// What it is ("frames/s", "p99 us", ...).
    pub name: &'static str,
    /// Its value.
    pub value: f64,
    /// Whether more is better.
    pub higher_is_better: bool,
}

pub(crate) fn more(name: &'static str, value: f64) -> Figure {
    Figure {
        name,
        value,
        higher_is_better: true,
    }
}

pub(crate) fn less(name: &'static str, value: f64) -> Figure {
    Figure {
        name,
        value,
        higher_is_better: false,
    }
}

/// One measurement's figures and the tender's peak RSS (KiB), if a tender ran.
pub struct Measurement {
    /// The figures.
    pub figures: Vec<Figure>,
    /// The tender's peak resident set.
    pub max_rss_kib: Option<u64>,
}

/// What every measurement needs.
pub struct Context {
    /// Tenders and unikernels.
    pub binaries: Binaries,
    /// Tap and block file.
    pub devices: Devices,
    /// How long each measurement runs.
    pub length: Duration,
}

fn per_second(count: u64, elapsed: Duration) -> f64 {
    if elapsed.is_zero() {
        0.0
    } else {
        count as f64 / elapsed.as_secs_f64()
    }
}

fn latency_figures(rt: &RoundTrips) -> Vec<Figure> {
    let us = |q: f64| rt.histogram.value_at_quantile(q) as f64 / 1000.0;
    vec![
        less("p50 us", us(0.5)),
        less("p99 us", us(0.99)),
        less("p99.9 us", us(0.999)),
        less("max us", rt.histogram.max() as f64 / 1000.0),
        more("transactions/s", per_second(rt.completed, rt.elapsed)),
        less("lost requests", rt.lost as f64),
    ]
}

impl Context {
    fn start(&self, variant: Variant, args: &[String]) -> Option<Result<GuestRun, BenchError>> {
        self.start_with(variant, BENCH_MEM_MB, args)
    }

    fn start_with(
        &self,
        variant: Variant,
        mem_mb: u32,
        args: &[String],
    ) -> Option<Result<GuestRun, BenchError>> {
        let (tender, argv) = self
            .binaries
            .command(variant, &self.devices, mem_mb, args)?;
        Some(GuestRun::start(&tender, &argv))
    }

    fn limit(&self) -> Duration {
        self.length * 4 + HANG_GUARD
    }

    fn ms(&self) -> String {
        self.length.as_millis().to_string()
    }

    /// Measures `workload` under `variant`; None where it does not apply.
    pub fn measure(
        &self,
        workload: Workload,
        variant: Variant,
    ) -> Result<Option<Measurement>, BenchError> {
        match workload {
            Workload::NetTx(size) => self.net_tx(variant, size),
            Workload::NetRx => self.net_rx(variant),
            Workload::RequestResponse => self.request_response(variant, Duration::ZERO),
            Workload::SleepingRequestResponse => self.request_response(variant, SLEEP_GAP),
            Workload::Block {
                size,
                random,
                write,
                ring_qd,
            } => self.block(variant, size, random, write, ring_qd),
            Workload::Startup => self.startup(variant),
            Workload::TcpIn | Workload::TcpOut | Workload::Http | Workload::PingSleeping => {
                self.tcp(workload, variant)
            }
            Workload::IdleMemory => self.idle_memory(variant),
        }
    }

    fn guest(
        &self,
        variant: Variant,
        args: &[String],
        during: impl FnOnce() -> Result<(), BenchError>,
    ) -> Option<Result<Finished, BenchError>> {
        let run = self.start(variant, args)?;
        Some(run.and_then(|mut run| {
            run.wait_ready(HANG_GUARD)?;
            during()?;
            run.finish(self.limit())
        }))
    }

    fn net_tx(&self, variant: Variant, size: usize) -> Result<Option<Measurement>, BenchError> {
        let tap = &self.devices.tap;
        let before = tap_rx_packets(tap)?;
        let gbits = |pps: f64| pps * size as f64 * 8.0 / 1e9;
        if variant == Variant::Ceiling {
            let (sent, elapsed) = ceiling::tx(tap, size, self.length)?;
            let pps = per_second(sent, elapsed);
            return Ok(Some(Measurement {
                figures: vec![more("frames/s", pps), more("Gbit/s", gbits(pps))],
                max_rss_kib: None,
            }));
        }
        let args = ["tx", variant.api(), &self.ms(), &size.to_string()].map(String::from);
        let Some(done) = self.guest(variant, &args, || Ok(())) else {
            return Ok(None);
        };
        let done = done?;
        let (sent, ns) = done.result("sent")?;
        let counted = tap_rx_packets(tap)? - before;
        let pps = per_second(counted, Duration::from_nanos(ns));
        if variant.is_muen() {
            // A Muen channel has no back pressure: the subject's writer
            // overwrites what the peer has not read yet, so what counts is
            // what reached the tap, and what the overruns lost.
            let lost = 100.0 * sent.saturating_sub(counted) as f64 / sent.max(1) as f64;
            return Ok(Some(Measurement {
                figures: vec![
                    more("frames/s", pps),
                    more("Gbit/s", gbits(pps)),
                    less("lost %", lost),
                ],
                max_rss_kib: Some(done.max_rss_kib),
            }));
        }
        if counted != sent {
            return Err(BenchError::Run(format!(
                "{}: the guest sent {sent} frames, the tap counted {counted}",
                variant.label()
            )));
        }
        Ok(Some(Measurement {
            figures: vec![more("frames/s", pps), more("Gbit/s", gbits(pps))],
            max_rss_kib: Some(done.max_rss_kib),
        }))
    }

    fn net_rx(&self, variant: Variant) -> Result<Option<Measurement>, BenchError> {
        let tap = &self.devices.tap;
        let figures = |received: u64, injected: u64, span: Duration| {
            vec![
                more("frames/s", per_second(received, span)),
                less(
                    "dropped %",
                    100.0 * injected.saturating_sub(received) as f64 / injected.max(1) as f64,
                ),
            ]
        };
        if variant == Variant::Ceiling {
            let (received, injected, span) = ceiling::rx(tap, self.length)?;
            return Ok(Some(Measurement {
                figures: figures(received, injected, span),
                max_rss_kib: None,
            }));
        }
        let limit = (self.length * 2 + Duration::from_secs(5)).as_millis();
        let args = ["rx", variant.api(), &limit.to_string()].map(String::from);
        let mut injected = 0;
        let Some(done) = self.guest(variant, &args, || {
            injected = traffic::inject(tap, self.length)?;
            traffic::send_end_marker(tap)
        }) else {
            return Ok(None);
        };
        let done = done?;
        let (received, ns) = done.result("received")?;
        Ok(Some(Measurement {
            figures: figures(received, injected, Duration::from_nanos(ns)),
            max_rss_kib: Some(done.max_rss_kib),
        }))
    }

    /// Request/response with `gap` between an answer and the next request.
    fn request_response(
        &self,
        variant: Variant,
        gap: Duration,
    ) -> Result<Option<Measurement>, BenchError> {
        let tap = &self.devices.tap;
        if variant == Variant::Ceiling {
            // The host echo blocks between requests anyway: one ceiling row.
            if !gap.is_zero() {
                return Ok(None);
            }
            let rt = ceiling::request_response(tap, self.length)?;
            return Ok(Some(Measurement {
                figures: latency_figures(&rt),
                max_rss_kib: None,
            }));
        }
        let args = ["echo", variant.api(), "5000"].map(String::from);
        let mut trips = None;
        let Some(done) = self.guest(variant, &args, || {
            trips = Some(traffic::spaced_request_response(tap, self.length, gap)?);
            traffic::send_end_marker(tap)
        }) else {
            return Ok(None);
        };
        let done = done?;
        let rt = trips.ok_or_else(|| BenchError::Run("no round trips".into()))?;
        Ok(Some(Measurement {
            figures: latency_figures(&rt),
            max_rss_kib: Some(done.max_rss_kib),
        }))
    }

    fn block(
        &self,
        variant: Variant,
        size: usize,
        random: bool,
        write: bool,
        ring_qd: usize,
    ) -> Result<Option<Measurement>, BenchError> {
        let figures = |ops: u64, elapsed: Duration| {
            let iops = per_second(ops, elapsed);
            vec![more("IOPS", iops), more("MB/s", iops * size as f64 / 1e6)]
        };
        if variant == Variant::Ceiling {
            let (ops, elapsed) = ceiling::block(
                &self.devices.image,
                ring_qd,
                random,
                write,
                size,
                self.length,
            )?;
            return Ok(Some(Measurement {
                figures: figures(ops, elapsed),
                max_rss_kib: None,
            }));
        }
        let qd = if variant.ring_api() { ring_qd } else { 1 };
        let args = [
            "blk",
            variant.api(),
            &qd.to_string(),
            &self.ms(),
            if random { "rand" } else { "seq" },
            if write { "write" } else { "read" },
            &size.to_string(),
        ]
        .map(String::from);
        let Some(done) = self.guest(variant, &args, || Ok(())) else {
            return Ok(None);
        };
        let done = done?;
        let (ops, ns) = done.result("ops")?;
        Ok(Some(Measurement {
            figures: figures(ops, Duration::from_nanos(ns)),
            max_rss_kib: Some(done.max_rss_kib),
        }))
    }

    fn startup(&self, variant: Variant) -> Result<Option<Measurement>, BenchError> {
        if variant == Variant::Ceiling || variant.ring_api() {
            return Ok(None);
        }
        let Some(run) = self.start(variant, &["hello".to_string()]) else {
            return Ok(None);
        };
        let run = run?;
        let started_wall = run.started_wall_ns;
        let done = run.finish(self.limit())?;
        let (wall, _) = done.result("wall")?;
        Ok(Some(Measurement {
            figures: vec![
                less(
                    "exec to main ms",
                    wall.saturating_sub(started_wall) as f64 / 1e6,
                ),
                less("exec to exit ms", done.elapsed.as_secs_f64() * 1e3),
            ],
            max_rss_kib: Some(done.max_rss_kib),
        }))
    }

    /// The echo guest (classic API: the sync shim on the rings) idles
    /// waiting for frames; after [`IDLE_SETTLE`] the tender's process
    /// tree is measured, then the guest ends by itself.
    fn idle_memory(&self, variant: Variant) -> Result<Option<Measurement>, BenchError> {
        if variant == Variant::Ceiling || variant.ring_api() {
            return Ok(None);
        }
        let settle = self.length.min(IDLE_SETTLE);
        // Time enough for the measurement however late "Ready" reached us
        // on a loaded machine: the guest must still run while it is taken.
        let quiet_ms = (settle * 2 + Duration::from_secs(2)).as_millis();
        let args = ["echo", "classic", &quiet_ms.to_string()].map(String::from);
        let Some(run) = self.start_with(variant, IDLE_MEM_MB, &args) else {
            return Ok(None);
        };
        let mut run = run?;
        run.wait_ready(HANG_GUARD)?;
        std::thread::sleep(settle);
        let memory = memory::measure(run.pid());
        let done = run.finish(self.limit())?;
        let memory = memory?;
        Ok(Some(Measurement {
            figures: vec![
                less(TREE_RESIDENT, memory.resident_kib as f64 / 1024.0),
                less("PSS MiB, sum", memory.pss_kib as f64 / 1024.0),
            ],
            max_rss_kib: Some(done.max_rss_kib),
        }))
    }
}
