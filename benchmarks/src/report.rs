//! The report: a markdown table, a JSON file and an SVG chart.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use crate::error::BenchError;
use crate::machine::Machine;
use crate::stats::{Row, Sample};
use crate::variant::Variant;

/// Everything a run produced.
#[derive(serde::Serialize)]
pub struct Report {
    /// The tender measured (`solo5-hvt` or `solo5-spt`; upstream's too).
    pub tender: String,
    /// The machine.
    pub machine: Machine,
    /// When (UTC, from `date`).
    pub date: String,
    /// Runs of every workload.
    pub runs: usize,
    /// Milliseconds each measurement ran.
    pub length_ms: u128,
    /// Variants, in column order.
    pub variants: Vec<Variant>,
    /// Every sample.
    pub samples: Vec<Sample>,
    /// The summary.
    pub rows: Vec<Row>,
    /// The targets the project set itself.
    pub checks: Vec<Check>,
    /// Measurements that failed, as (run, workload, variant, error).
    pub failures: Vec<(usize, String, Variant, String)>,
}

/// One target and whether this run met it.
#[derive(serde::Serialize)]
pub struct Check {
    /// What is compared.
    pub what: String,
    /// The measured ratio.
    pub ratio: Option<f64>,
    /// The target.
    pub target: String,
    /// Met?
    pub met: bool,
}

/// The cell of `v` in the row of `workload` and `figure`.
pub(crate) fn cell<'a>(
    rows: &'a [Row],
    workload: &str,
    figure: &str,
    v: Variant,
) -> Option<&'a crate::stats::Cell> {
    rows.iter()
        .find(|r| r.workload == workload && r.figure == figure)?
        .cells
        .iter()
        .find(|c| c.variant == v)
}

/// The project's targets for hvt (issue 5), measured.
pub fn checks(rows: &[Row]) -> Vec<Check> {
    let mut checks = Vec::new();
    let ratio = |w: &str, f: &str, v: Variant| cell(rows, w, f, v).and_then(|c| c.vs_classic);
    for v in [Variant::Shim, Variant::RingApi] {
        for w in ["net tx 64 B", "net rx 64 B"] {
            let r = ratio(w, "frames/s", v);
            checks.push(Check {
                what: format!("{w} frames/s, {} / classic", v.label()),
                ratio: r,
                target: ">= 10x".into(),
                met: r.is_some_and(|r| r >= 10.0),
            });
        }
    }
    for w in [
        "block 4 KiB random reads (QD1 blocking API; QD32 ring API)",
        "block 4 KiB random writes (QD1 blocking API; QD32 ring API)",
    ] {
        let r = ratio(w, "IOPS", Variant::RingApi);
        checks.push(Check {
            what: format!("{w}: ring API QD32 / classic QD1"),
            ratio: r,
            target: ">= 5x".into(),
            met: r.is_some_and(|r| r >= 5.0),
        });
    }
    for v in [Variant::Shim, Variant::RingApi] {
        let r = ratio("net request/response", "p50 us", v);
        checks.push(Check {
            what: format!("request/response p50, {} / classic", v.label()),
            ratio: r,
            target: "<= 1x (lower is better)".into(),
            met: r.is_some_and(|r| r <= 1.0),
        });
    }
    checks
}

/// A ratio as "12.34x", with two significant digits below 0.1x.
pub fn ratio(r: f64) -> String {
    if r > 0.0 && r < 0.1 {
        let digits = (1.0 - r.log10().floor()) as usize;
        format!("{r:.digits$}x")
    } else {
        format!("{r:.2}x")
    }
}

fn number(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// Whether the run measured the muen runner (its ratios are against hvt).
fn is_muen(report: &Report) -> bool {
    report.variants.iter().any(|v| v.is_muen())
}

/// The ratio column's heading.
fn ratio_heading(report: &Report) -> &'static str {
    if is_muen(report) {
        "x hvt"
    } else {
        "x classic"
    }
}

/// The markdown report.
pub fn markdown(report: &Report) -> String {
    let m = &report.machine;
    let mut out = String::new();
    let _ = writeln!(out, "# ringtender benchmark report: {}\n", report.tender);
    let _ = writeln!(
        out,
        "Machine: {} ({} CPUs), Linux {}, /dev/kvm: {}. {}.\n",
        m.cpu, m.cpus, m.kernel, m.kvm, report.date
    );
    let _ = writeln!(
        out,
        "{} runs, each workload {} ms per variant, variants interleaved within each run. \
         Cells: median [min - max] over runs; \"{}\" is the median of the per-run \
         ratios against {}; \"of ceiling\" compares the median with \
         the host program doing the same tap or file work without a guest.\n",
        report.runs,
        report.length_ms,
        ratio_heading(report),
        if is_muen(report) {
            "solo5-hvt's rings with the same API"
        } else {
            "our classic hypercall path"
        }
    );
    if is_muen(report) {
        let _ = writeln!(
            out,
            "Muen run: the muen runner in fast mode; its classic API runs through the sync \
             shim over the channels, as hvt's does over the rings. Not run on muen: the TCP workloads (no smoltcp unikernel for muen; a Muen \
             subject makes its own MAC), upstream rows (upstream Solo5 has no muen tender) \
             and the classic hypercall path (a Muen subject has none). Net tx: a Muen \
             channel has no back pressure, so frames/s counts what reached the tap and \
             \"lost %\" what the subject's writer overwrote unread. No goals are judged.\n"
        );
    }
    if !report.checks.is_empty() {
        let _ = writeln!(
            out,
            "## Targets\n\n| target | measured | goal | met |\n| --- | --- | --- | --- |"
        );
    }
    for c in &report.checks {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            c.what,
            c.ratio.map_or("n/a".into(), ratio),
            c.target,
            if c.met { "yes" } else { "**no**" }
        );
    }
    summary(report, &mut out);
    let mut workload = String::new();
    for row in &report.rows {
        if row.workload != workload {
            workload = row.workload.clone();
            let _ = writeln!(
                out,
                "\n## {workload}\n\n| figure | variant | median | min - max | {} | of ceiling |\n| --- | --- | --- | --- | --- | --- |",
                ratio_heading(report)
            );
        }
        for c in &row.cells {
            let _ = writeln!(
                out,
                "| {}{} | {} | {} | {} - {} | {} | {} |",
                row.figure,
                if row.higher_is_better {
                    ""
                } else {
                    " (lower is better)"
                },
                c.variant.label(),
                number(c.median),
                number(c.min),
                number(c.max),
                c.vs_classic.map_or("".into(), ratio),
                c.of_ceiling
                    .map_or("".into(), |r| format!("{:.0}%", r * 100.0)),
            );
        }
    }
    if !report.failures.is_empty() {
        let _ = writeln!(out, "\n## Failed measurements\n");
        for (run, w, v, e) in &report.failures {
            let _ = writeln!(out, "- run {run}, {w}, {}: {e}", v.label());
        }
    }
    out
}

/// One line per workload (its first figure): each variant's median, and
/// its ratio against its baseline.
fn summary(report: &Report, out: &mut String) {
    let against = if is_muen(report) {
        "hvt's rings, same API"
    } else {
        "ours, classic"
    };
    let _ = write!(
        out,
        "\n## Summary (medians; ratio against {against})\n\n| workload | figure |"
    );
    for v in &report.variants {
        let _ = write!(out, " {} |", v.label());
    }
    let _ = write!(out, "\n| --- | --- |");
    for _ in &report.variants {
        let _ = write!(out, " --- |");
    }
    let _ = writeln!(out);
    let mut seen: Vec<&str> = Vec::new();
    for row in &report.rows {
        if seen.contains(&row.workload.as_str()) {
            continue;
        }
        seen.push(&row.workload);
        let _ = write!(out, "| {} | {} |", row.workload, row.figure);
        for v in &report.variants {
            let text =
                row.cells
                    .iter()
                    .find(|c| c.variant == *v)
                    .map_or(String::new(), |c| match c.vs_classic {
                        Some(r) => format!("{} ({})", number(c.median), ratio(r)),
                        None => number(c.median),
                    });
            let _ = write!(out, " {text} |");
        }
        let _ = writeln!(out);
    }
}

/// A bar chart of "x classic" (log scale) for the first figure of every
/// workload.
pub fn svg(report: &Report) -> String {
    let colours = [
        (Variant::Upstream, "#9e9e9e"),
        (Variant::Shim, "#1f77b4"),
        (Variant::RingApi, "#2ca02c"),
        (Variant::Ceiling, "#ff7f0e"),
        (Variant::MuenShim, "#9467bd"),
        (Variant::MuenRingApi, "#8c564b"),
    ];
    let against = if is_muen(report) {
        "hvt's rings with the same API"
    } else {
        "our classic hypercall path"
    };
    let mut rows: Vec<&Row> = Vec::new();
    for r in &report.rows {
        if !rows.iter().any(|x| x.workload == r.workload) {
            rows.push(r);
        }
    }
    let (left, bar, gap, width) = (420.0, 12.0, 14.0, 900.0);
    let scale =
        |ratio: f64| ((ratio.max(0.01).log10() + 2.0) / 5.0 * (width - left - 40.0)).max(0.0);
    let mut body = String::new();
    let mut y = 40.0;
    for row in &rows {
        let _ = writeln!(
            body,
            r#"<text x="{}" y="{}" text-anchor="end" font-size="11">{} ({})</text>"#,
            left - 6.0,
            y + bar,
            xml(&row.workload),
            xml(row.figure)
        );
        for (variant, colour) in colours {
            let Some(c) = row.cells.iter().find(|c| c.variant == variant) else {
                continue;
            };
            let Some(ratio) = c.vs_classic else { continue };
            let _ = writeln!(
                body,
                r#"<rect x="{left}" y="{y}" width="{:.1}" height="{bar}" fill="{colour}"/><text x="{:.1}" y="{:.1}" font-size="10">{}</text>"#,
                scale(ratio),
                left + scale(ratio) + 3.0,
                y + bar - 2.0,
                self::ratio(ratio)
            );
            y += bar + 2.0;
        }
        y += gap;
    }
    let one = left + scale(1.0);
    let mut legend = String::new();
    // Three entries a line, for the variants this run measured.
    let shown = colours.iter().filter(|(v, _)| report.variants.contains(v));
    let mut lines = 0.0;
    for (i, (variant, colour)) in shown.enumerate() {
        let x = 20.0 + (i % 3) as f64 * 290.0;
        let top = y + (i / 3) as f64 * 16.0;
        lines = (i / 3 + 1) as f64;
        let _ = write!(
            legend,
            r#"<rect x="{x}" y="{:.0}" width="10" height="10" fill="{colour}"/><text x="{}" y="{:.0}" font-size="11">{}</text>"#,
            top + 10.0,
            x + 14.0,
            top + 19.0,
            xml(variant.label())
        );
    }
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{:.0}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="20" y="20" font-size="14">Each variant against {against} (log scale; 1x at the line; latency rows: lower is better)</text>
<line x1="{one:.1}" y1="30" x2="{one:.1}" y2="{:.0}" stroke="black" stroke-dasharray="3,3"/>
{body}{legend}
</svg>
"#,
        y + 24.0 + lines * 16.0,
        y
    )
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Writes report.md, report.json and chart.svg into `dir`.
pub fn write(report: &Report, dir: &Path) -> Result<(), BenchError> {
    let err = |e: std::io::Error| BenchError::Report(format!("{}: {e}", dir.display()));
    fs::create_dir_all(dir).map_err(err)?;
    fs::write(dir.join("report.md"), markdown(report)).map_err(err)?;
    let json = serde_json::to_string_pretty(report)
        .map_err(|e| BenchError::Report(format!("json: {e}")))?;
    fs::write(dir.join("report.json"), json).map_err(err)?;
    fs::write(dir.join("chart.svg"), svg(report)).map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::ratio;

    #[test]
    fn small_ratios_keep_two_significant_digits() {
        assert_eq!(ratio(23.456), "23.46x");
        assert_eq!(ratio(0.0026), "0.0026x");
        assert_eq!(ratio(0.05), "0.050x");
        assert_eq!(ratio(0.0), "0.00x");
    }
}
