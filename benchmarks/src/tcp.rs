//! The TCP workloads: the smoltcp unikernel (`tests/unikernels/rust/rust-tcp`)
//! at 10.0.0.2 behind its own tap, driven by real Linux clients from the
//! harness's namespace: `iperf` 2 into its sink, `curl` of a large object
//! out of it, `wrk` with a connection per request, and `ping` while it
//! sleeps in `solo5_yield` between packets. Each measurement boots a fresh
//! guest and ends it with `GET /exit` (status 0 expected).

use std::process::Command;
use std::time::Duration;

use crate::error::BenchError;
use crate::guest_run::{GuestRun, HANG_GUARD};
use crate::stats::median;
use crate::variant::Variant;
use crate::workloads::{less, more, Context, Figure, Measurement, Workload};

/// The guest's address.
pub const GUEST: &str = "10.0.0.2";
/// The host's end of the TCP tap.
pub const HOST_CIDR: &str = "10.0.0.1/24";
/// One MAC for every guest, so the host's neighbour entry stays right from
/// one guest to the next.
pub const GUEST_MAC: &str = "02:00:0a:00:00:02";
/// The interval between pings: the guest sleeps between them.
const PING_INTERVAL: &str = "0.01";
/// Pings of a full measurement (fewer for short ones, see [`ping_count`]).
const PINGS: u64 = 1000;
/// The object `curl` asks for: larger than any measurement moves; curl
/// stops at its time limit.
const OBJECT_BYTES: u64 = 64 << 30;

/// The report's labels of the TCP workloads (`--only smoltcp` selects
/// them all).
pub const IN_LABEL: &str = "smoltcp: TCP into the guest (iperf -c)";
/// See [`IN_LABEL`].
pub const OUT_LABEL: &str = "smoltcp: TCP out of the guest (curl of a large object)";
/// See [`IN_LABEL`].
pub const HTTP_LABEL: &str = "smoltcp: HTTP, a connection per request (wrk -t1 -c4)";
/// See [`IN_LABEL`].
pub const PING_LABEL: &str = "smoltcp: ping RTT, guest sleeping between pings (10 ms interval)";

/// Pings for a measurement of `length`: 1,000 for the default 1.5 s, in
/// proportion below it (at least 10).
pub fn ping_count(length: Duration) -> u64 {
    (length.as_millis() as u64 * PINGS / 1500).clamp(10, PINGS)
}

fn run_client(cmd: &mut Command, ok_codes: &[i32]) -> Result<String, BenchError> {
    let what = format!("{cmd:?}");
    let out = cmd
        .output()
        .map_err(|e| BenchError::Setup(format!("{what}: {e} (is it installed?)")))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    match out.status.code() {
        Some(code) if ok_codes.contains(&code) => Ok(stdout),
        _ => Err(BenchError::Run(format!(
            "{what}: {}: {stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))),
    }
}

/// iperf 2's `-y C` report: bits per second, its last field.
pub fn parse_iperf_csv(out: &str) -> Option<f64> {
    out.lines()
        .rev()
        .find_map(|l| l.rsplit(',').next()?.trim().parse().ok())
}

/// curl's `-w '%{size_download} %{time_starttransfer} %{time_total}'`:
/// bits per second from the first byte to the end.
pub fn parse_curl(out: &str) -> Option<f64> {
    let v: Vec<f64> = out
        .split_whitespace()
        .map(|w| w.parse().ok())
        .collect::<Option<_>>()?;
    let [bytes, first, total] = v[..] else {
        return None;
    };
    (total > first).then(|| bytes * 8.0 / (total - first))
}

/// wrk's `Requests/sec:` line.
pub fn parse_wrk(out: &str) -> Option<f64> {
    out.lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:")?.trim().parse().ok())
}

/// ping's `time=T ms` of every reply, in milliseconds.
pub fn parse_ping(out: &str) -> Vec<f64> {
    out.lines()
        .filter_map(|l| {
            let t = l.split("time=").nth(1)?;
            t.split_whitespace().next()?.parse().ok()
        })
        .collect()
}

/// The `q` quantile of `values` (sorted by the call), nearest rank.
fn quantile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

fn seconds(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

impl Context {
    /// Measures a TCP workload under `variant`; None where it does not
    /// apply (the host ceiling, upstream without a tender that runs ours).
    pub fn tcp(
        &self,
        workload: Workload,
        variant: Variant,
    ) -> Result<Option<Measurement>, BenchError> {
        let Some((tender, args)) = self.binaries.tcp_command(variant, &self.devices.tcp_tap) else {
            return Ok(None);
        };
        let mut run = GuestRun::start(&tender, &args)?;
        let figures = run
            .wait_ready(HANG_GUARD)
            .and_then(|()| self.tcp_client(workload));
        // Ends the guest whatever the client did; a guest that is gone
        // already shows in its exit status.
        let _ = run_client(
            Command::new("curl").args([
                "-s",
                "-o",
                "/dev/null",
                "-m",
                &HANG_GUARD.as_secs().to_string(),
                &format!("http://{GUEST}/exit"),
            ]),
            &[0],
        );
        let done = run.finish(HANG_GUARD * 2);
        let figures = figures?;
        Ok(Some(Measurement {
            figures,
            max_rss_kib: Some(done?.max_rss_kib),
        }))
    }

    fn tcp_client(&self, workload: Workload) -> Result<Vec<Figure>, BenchError> {
        // The first reply: the host's neighbour entry and the tap in
        // service (the guest answers ARP only once it runs).
        run_client(
            Command::new("ping").args([
                "-n",
                "-q",
                "-c",
                "1",
                "-w",
                &HANG_GUARD.as_secs().to_string(),
                GUEST,
            ]),
            &[0],
        )?;
        let bad = |what: &str, out: &str| BenchError::Run(format!("{what}: no figure in {out:?}"));
        match workload {
            Workload::TcpIn => {
                let out = run_client(
                    Command::new("iperf").args([
                        "-c",
                        GUEST,
                        "-y",
                        "C",
                        "-t",
                        &seconds(self.length),
                    ]),
                    &[0],
                )?;
                let bps = parse_iperf_csv(&out).ok_or_else(|| bad("iperf", &out))?;
                Ok(vec![more("Gbit/s", bps / 1e9)])
            }
            Workload::TcpOut => {
                // Exit 28: the time limit, which ends every measurement.
                let out = run_client(
                    Command::new("curl").args([
                        "-s",
                        "-o",
                        "/dev/null",
                        "-m",
                        &seconds(self.length),
                        "-w",
                        "%{size_download} %{time_starttransfer} %{time_total}",
                        &format!("http://{GUEST}/obj/{OBJECT_BYTES}"),
                    ]),
                    &[0, 28],
                )?;
                let bps = parse_curl(&out).ok_or_else(|| bad("curl", &out))?;
                Ok(vec![more("Gbit/s", bps / 1e9)])
            }
            Workload::Http => {
                let secs = self.length.as_secs().max(1);
                let out = run_client(
                    Command::new("wrk").args([
                        "-t1",
                        "-c4",
                        &format!("-d{secs}s"),
                        "-H",
                        "Connection: close",
                        &format!("http://{GUEST}/"),
                    ]),
                    &[0],
                )?;
                let rps = parse_wrk(&out).ok_or_else(|| bad("wrk", &out))?;
                Ok(vec![more("requests/s", rps)])
            }
            Workload::PingSleeping => {
                let count = ping_count(self.length);
                // -w: a hang guard; replies are waited for however late.
                let out = run_client(
                    Command::new("ping").args([
                        "-n",
                        "-c",
                        &count.to_string(),
                        "-i",
                        PING_INTERVAL,
                        "-w",
                        &(HANG_GUARD.as_secs() + count / 100).to_string(),
                        GUEST,
                    ]),
                    &[0, 1],
                )?;
                let mut rtts = parse_ping(&out);
                if rtts.is_empty() {
                    return Err(bad("ping", &out));
                }
                let lost = count.saturating_sub(rtts.len() as u64);
                Ok(vec![
                    less("p50 ms", median(&mut rtts.clone())),
                    less("p99 ms", quantile(&mut rtts, 0.99)),
                    less("lost", lost as f64),
                ])
            }
            _ => unreachable!("not a TCP workload"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_outputs_parse() {
        let iperf = "20261130084100,10.0.0.1,35534,10.0.0.2,5001,1,0.0-3.1,70910012,181720000\n";
        assert_eq!(parse_iperf_csv(iperf), Some(181_720_000.0));
        assert_eq!(parse_curl("1000000 0.5 1.5"), Some(8e6));
        assert_eq!(parse_curl("0 0.000 0.050"), Some(0.0));
        assert_eq!(parse_curl("garbage"), None);
        let wrk = "  1737 requests in 3.18s, 195.07KB read\nRequests/sec:    545.77\n";
        assert_eq!(parse_wrk(wrk), Some(545.77));
        let ping = "64 bytes from 10.0.0.2: icmp_seq=1 ttl=64 time=0.306 ms\n\
                    64 bytes from 10.0.0.2: icmp_seq=2 ttl=64 time=1.20 ms\n\
                    --- 10.0.0.2 ping statistics ---\n";
        assert_eq!(parse_ping(ping), vec![0.306, 1.2]);
    }

    #[test]
    fn quantiles_take_the_nearest_rank() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&mut v, 0.99), 99.0);
        assert_eq!(quantile(&mut [5.0], 0.99), 5.0);
    }

    #[test]
    fn pings_follow_the_measurement_length() {
        assert_eq!(ping_count(Duration::from_millis(1500)), 1000);
        assert_eq!(ping_count(Duration::from_millis(200)), 133);
        assert_eq!(ping_count(Duration::from_millis(50)), 33);
    }
}
