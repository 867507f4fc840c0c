//! `ringtender-bench`: measures every workload under every variant, runs
//! interleaved, and writes the report (`benchmarks/run.sh` drives it).
//!
//! Usage: ringtender-bench --ours TENDER --kernel BENCH.hvt|BENCH.spt
//!        --tcp-kernel RUST_TCP.hvt|RUST_TCP.spt
//!        [--upstream-tender TENDER --upstream-kernel BENCH [--upstream-runs-tcp]
//!         [--upstream-tcp-kernel RUST_TCP.spt]]
//!        [--muen-runner RUNNER --muen-kernel BENCH.muen]
//!        [--runs N] [--length-ms MS] [--out DIR] [--only TEXT] [--no-verdicts]
//!
//! `--upstream-runs-tcp`: upstream's tender also runs the TCP workloads'
//! unikernel (spt); `--upstream-tcp-kernel` gives it another build of that
//! unikernel than ours (an older tree's, to compare before and after a
//! change in the bindings). `--no-verdicts` leaves out the judgement of each figure against its goal
//! (a smoke run's figures mean nothing). `--muen-runner` and `--muen-kernel`
//! (with `--ours solo5-hvt`): the muen runner's variants beside hvt's rings,
//! which are their reference (no classic or upstream rows, no TCP workloads,
//! no goals judged).
//!
//! The tenders' names (`solo5-hvt`, `solo5-spt`) go into the report.

mod ceiling;
mod error;
mod goals;
mod guest_run;
mod machine;
mod memory;
mod netns;
mod report;
mod stats;
mod tcp;
mod traffic;
mod variant;
mod workloads;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use error::BenchError;
use report::Report;
use stats::Sample;
use variant::{Binaries, Devices, Variant};
use workloads::Context;
use workloads::PEAK_MEMORY;

/// Bytes of the benchmark's block file.
const IMAGE_BYTES: usize = 64 << 20;

struct Options {
    ours: String,
    tender: String,
    kernel: PathBuf,
    tcp_kernel: PathBuf,
    upstream: Option<(String, PathBuf)>,
    upstream_runs_tcp: bool,
    upstream_tcp_kernel: Option<PathBuf>,
    muen: Option<(String, PathBuf)>,
    runs: usize,
    length: Duration,
    out: PathBuf,
    only: Option<String>,
    verdicts: bool,
}

fn parse(args: &[String]) -> Result<Options, BenchError> {
    let mut map = BTreeMap::new();
    let mut verdicts = true;
    let mut upstream_runs_tcp = false;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--no-verdicts" {
            verdicts = false;
            continue;
        }
        if flag == "--upstream-runs-tcp" {
            upstream_runs_tcp = true;
            continue;
        }
        let value = it
            .next()
            .ok_or_else(|| BenchError::Setup(format!("{flag} needs a value")))?;
        map.insert(flag.as_str(), value.clone());
    }
    let need = |k: &str| {
        map.get(k)
            .cloned()
            .ok_or_else(|| BenchError::Setup(format!("missing {k}")))
    };
    let number = |k: &str, default: u64| -> Result<u64, BenchError> {
        map.get(k).map_or(Ok(default), |v| {
            v.parse()
                .map_err(|_| BenchError::Setup(format!("{k}: not a number")))
        })
    };
    let upstream = match (map.get("--upstream-tender"), map.get("--upstream-kernel")) {
        (Some(t), Some(k)) => Some((t.clone(), PathBuf::from(k))),
        (None, None) => None,
        _ => {
            return Err(BenchError::Setup(
                "--upstream-tender and --upstream-kernel go together".into(),
            ))
        }
    };
    let muen = match (map.get("--muen-runner"), map.get("--muen-kernel")) {
        (Some(r), Some(k)) => Some((r.clone(), PathBuf::from(k))),
        (None, None) => None,
        _ => {
            return Err(BenchError::Setup(
                "--muen-runner and --muen-kernel go together".into(),
            ))
        }
    };
    if muen.is_some() && upstream.is_some() {
        return Err(BenchError::Setup(
            "--muen-runner runs without upstream rows".into(),
        ));
    }
    let runs = number("--runs", 5)? as usize;
    if runs == 0 {
        return Err(BenchError::Setup("--runs must be at least 1".into()));
    }
    let ours = need("--ours")?;
    let file_name = |path: &String| {
        std::path::Path::new(path)
            .file_name()
            .map_or_else(|| path.clone(), |n| n.to_string_lossy().into_owned())
    };
    let tender = match &muen {
        Some((runner, _)) => format!("{} beside {}", file_name(runner), file_name(&ours)),
        None => file_name(&ours),
    };
    Ok(Options {
        ours,
        tender,
        kernel: PathBuf::from(need("--kernel")?),
        tcp_kernel: PathBuf::from(need("--tcp-kernel")?),
        upstream,
        upstream_runs_tcp,
        upstream_tcp_kernel: map.get("--upstream-tcp-kernel").map(PathBuf::from),
        muen,
        runs,
        length: Duration::from_millis(number("--length-ms", 1000)?),
        out: PathBuf::from(
            map.get("--out")
                .cloned()
                .unwrap_or_else(|| "results".into()),
        ),
        only: map.get("--only").cloned(),
        verdicts,
    })
}

fn make_image(path: &std::path::Path) -> Result<(), BenchError> {
    let err = |e: std::io::Error| BenchError::Setup(format!("{}: {e}", path.display()));
    // Written 1 MiB at a time: the harness's peak RSS must stay small, for
    // a child started by vfork reports the parent's peak as its own.
    let mut out = std::io::BufWriter::new(fs::File::create(path).map_err(err)?);
    let mut chunk = vec![0u8; 1 << 20];
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..IMAGE_BYTES / chunk.len() {
        for word in chunk.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            word.copy_from_slice(&x.to_le_bytes());
        }
        out.write_all(&chunk).map_err(err)?;
    }
    out.flush().map_err(err)?;
    drop(out);
    // Written sequentially, the file sits in the page cache in large
    // folios, where one 4 KiB write dirties up to megabytes
    // (../shared/limits.md §3). Evict it and read it back 4 KiB at a time
    // without readahead, as a unikernel's random reads would bring it in.
    let file = fs::File::open(path).map_err(err)?;
    file.sync_all().map_err(err)?;
    let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
    // SAFETY: posix_fadvise on our own descriptor; advice only.
    unsafe {
        libc::posix_fadvise(fd, 0, 0, libc::POSIX_FADV_DONTNEED);
        libc::posix_fadvise(fd, 0, 0, libc::POSIX_FADV_RANDOM);
    }
    let mut block = [0u8; 4096];
    for offset in (0..IMAGE_BYTES as u64).step_by(block.len()) {
        std::os::unix::fs::FileExt::read_exact_at(&file, &mut block, offset).map_err(err)?;
    }
    Ok(())
}

fn date() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn run(options: Options) -> Result<Report, BenchError> {
    let work = std::env::temp_dir().join(format!("ringtender-bench-{}", std::process::id()));
    fs::create_dir_all(&work).map_err(|e| BenchError::Setup(format!("{}: {e}", work.display())))?;
    let image = work.join("storage.img");
    make_image(&image)?;
    let ns = netns::NetNs::create_and_join(&format!("rtbench{}", std::process::id()))?;
    ns.add_tap("tap0")?;
    ns.add_tap("tap1")?;
    ns.add_address("tap1", tcp::HOST_CIDR)?;
    let muen = options.muen.is_some();
    let mut variants = Vec::new();
    if options.upstream.is_some() {
        variants.push(Variant::Upstream);
    }
    if muen {
        variants.extend([
            Variant::Shim,
            Variant::RingApi,
            Variant::MuenShim,
            Variant::MuenRingApi,
            Variant::Ceiling,
        ]);
    } else {
        variants.extend([
            Variant::Classic,
            Variant::Shim,
            Variant::RingApi,
            Variant::Ceiling,
        ]);
    }
    let ctx = Context {
        binaries: Binaries {
            ours: options.ours,
            ours_kernel: options.kernel,
            upstream: options.upstream,
            tcp_kernel: options.tcp_kernel,
            upstream_runs_tcp: options.upstream_runs_tcp,
            upstream_tcp_kernel: options.upstream_tcp_kernel,
            muen: options.muen,
        },
        devices: Devices {
            tap: "tap0".into(),
            image,
            sector: 4096,
            tcp_tap: "tap1".into(),
        },
        length: options.length,
    };
    let selected: Vec<workloads::Workload> = workloads::ALL
        .into_iter()
        .filter(|w| {
            (!muen || w.on_muen())
                && options
                    .only
                    .as_ref()
                    .is_none_or(|t| w.label().contains(t.as_str()))
        })
        .collect();
    if selected.is_empty() {
        return Err(BenchError::Setup("--only matches no workload".into()));
    }
    let mut samples = Vec::new();
    let mut failures = Vec::new();
    let total = options.runs * selected.len();
    for run in 0..options.runs {
        let mut peak_rss: BTreeMap<usize, u64> = BTreeMap::new();
        for (w, &workload) in selected.iter().enumerate() {
            let label = workload.label();
            eprint!(
                "[{:>3}/{total}] run {}: {label}:",
                run * selected.len() + w + 1,
                run + 1
            );
            for (vi, &variant) in variants.iter().enumerate() {
                match ctx.measure(workload, variant) {
                    Ok(Some(m)) => {
                        if let Some(first) = m.figures.first() {
                            eprint!(
                                " {} {} {};",
                                variant.label(),
                                report_number(first.value),
                                first.name
                            );
                        }
                        if let Some(rss) = m.max_rss_kib {
                            let e = peak_rss.entry(vi).or_default();
                            *e = (*e).max(rss);
                        }
                        for f in m.figures {
                            samples.push(Sample {
                                run,
                                workload: label.clone(),
                                figure: f.name,
                                higher_is_better: f.higher_is_better,
                                variant,
                                value: f.value,
                            });
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        eprint!(" {} FAILED;", variant.label());
                        failures.push((run, label.clone(), variant, e.to_string()));
                    }
                }
                let _ = std::io::stderr().flush();
            }
            eprintln!();
        }
        for (vi, rss) in peak_rss {
            samples.push(Sample {
                run,
                workload: PEAK_MEMORY.into(),
                figure: "peak RSS MiB",
                higher_is_better: false,
                variant: variants[vi],
                value: rss as f64 / 1024.0,
            });
        }
    }
    drop(ns);
    let _ = fs::remove_dir_all(&work);
    let rows = stats::rows(&samples, &variants);
    // The goals judge hvt's and spt's rings against their classic path; a
    // muen run has no classic column and sets itself none. The project's
    // first targets (10x tx and rx, 5x block) are hvt's, whose classic path
    // pays a VM exit per operation; spt's goal is every workload at least
    // classic's (`goals.rs`).
    let mut checks = Vec::new();
    if !muen {
        let spt = options.tender.ends_with("spt");
        if !spt {
            checks = report::checks(&rows);
        }
        checks.extend(goals::checks(&rows, spt));
    }
    Ok(Report {
        tender: options.tender,
        machine: machine::Machine::describe(),
        date: date(),
        runs: options.runs,
        length_ms: options.length.as_millis(),
        variants,
        samples,
        rows,
        checks,
        failures,
    })
}

fn report_number(v: f64) -> String {
    if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.2}")
    }
}

/// Each figure against its goal, on stderr.
fn print_verdicts(report: &Report) {
    eprintln!("\nTargets:");
    for c in &report.checks {
        eprintln!(
            "  {}: {} (goal {}){}",
            c.what,
            c.ratio.map_or("n/a".into(), report::ratio),
            c.target,
            if c.met { "" } else { "  NOT MET" }
        );
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = parse(&args).and_then(|options| {
        let out = options.out.clone();
        let verdicts = options.verdicts;
        let report = run(options)?;
        report::write(&report, &out)?;
        Ok((report, out, verdicts))
    });
    match result {
        Ok((report, out, verdicts)) => {
            if verdicts && !report.checks.is_empty() {
                print_verdicts(&report);
            }
            eprintln!(
                "report written to {}/report.{{md,json}} and chart.svg",
                out.display()
            );
            if report.failures.is_empty() {
                ExitCode::SUCCESS
            } else {
                eprintln!(
                    "{} measurements failed (listed in the report)",
                    report.failures.len()
                );
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("ringtender-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
