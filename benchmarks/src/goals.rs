//! Issue 12's goals, judged on one run's rows: the rings against the
//! classic path for the smoltcp workloads (`tcp.rs`), 64-byte rx against
//! the host ceiling (hvt), and on spt every workload on the rings against
//! classic and start-up against upstream's tender, and an idle net guest's
//! resident memory against upstream's on both. "tx within 10%" (against an
//! earlier run) is not measured here.

use crate::report::{cell, Check};
use crate::stats::Row;
use crate::tcp::{HTTP_LABEL, IN_LABEL, OUT_LABEL, PING_LABEL};
use crate::variant::Variant;
use crate::workloads::{IDLE_MEMORY, PEAK_MEMORY, TREE_RESIDENT};

/// A check that `ratio` is at least `goal` (`higher`) or at most it.
fn check(what: String, ratio: Option<f64>, goal: f64, higher: bool) -> Check {
    Check {
        what,
        ratio,
        target: if higher {
            format!(">= {goal}x")
        } else {
            format!("<= {goal}x (lower is better)")
        },
        met: ratio.is_some_and(|r| if higher { r >= goal } else { r <= goal }),
    }
}

/// Issue 12's goals for a run of `solo5-spt` (`spt`) or `solo5-hvt`.
pub fn checks(rows: &[Row], spt: bool) -> Vec<Check> {
    let rings = [Variant::Shim, Variant::RingApi];
    let bulk = if spt { 1.2 } else { 10.0 };
    let mut checks = Vec::new();
    // An idle net guest's process tree against upstream's, on both targets.
    let idle = |v| cell(rows, IDLE_MEMORY, TREE_RESIDENT, v).map(|c| c.median);
    for v in [Variant::Classic, Variant::Shim] {
        let r = match (idle(v), idle(Variant::Upstream)) {
            (Some(ours), Some(up)) if up > 0.0 => Some(ours / up),
            _ => None,
        };
        checks.push(check(
            format!(
                "resident memory per idle net guest, {} / upstream",
                v.label()
            ),
            r,
            1.25,
            false,
        ));
    }
    for v in rings {
        for (w, f, goal, higher) in [
            (IN_LABEL, "Gbit/s", bulk, true),
            (OUT_LABEL, "Gbit/s", bulk, true),
            (HTTP_LABEL, "requests/s", 1.0, true),
            (PING_LABEL, "p50 ms", 1.0, false),
        ] {
            let r = cell(rows, w, f, v).and_then(|c| c.vs_classic);
            checks.push(check(
                format!("{w} {f}, {} / classic", v.label()),
                r,
                goal,
                higher,
            ));
        }
    }
    if !spt {
        let r = cell(rows, "net rx 64 B", "frames/s", Variant::RingApi).and_then(|c| c.of_ceiling);
        checks.push(check(
            "net rx 64 B frames/s, ours, ring API / host ceiling".into(),
            r,
            0.5,
            true,
        ));
        return checks;
    }
    // spt: every workload's first figure on the rings at least classic's.
    let mut seen: Vec<&str> = Vec::new();
    for row in rows {
        if seen.contains(&row.workload.as_str())
            || [PEAK_MEMORY, IDLE_MEMORY].contains(&row.workload.as_str())
        {
            continue;
        }
        seen.push(&row.workload);
        if [IN_LABEL, OUT_LABEL, HTTP_LABEL, PING_LABEL].contains(&row.workload.as_str()) {
            continue;
        }
        for v in rings {
            let Some(c) = row.cells.iter().find(|c| c.variant == v) else {
                continue;
            };
            checks.push(check(
                format!(
                    "spt: {} {}, {} / classic",
                    row.workload,
                    row.figure,
                    v.label()
                ),
                c.vs_classic,
                1.0,
                row.higher_is_better,
            ));
        }
    }
    let startup = |v| cell(rows, "start-up (hello)", "exec to main ms", v).map(|c| c.median);
    let r = match (startup(Variant::Shim), startup(Variant::Upstream)) {
        (Some(ours), Some(up)) if up > 0.0 => Some(ours / up),
        _ => None,
    };
    checks.push(check(
        "spt: start-up exec to main, ours, rings / upstream (medians)".into(),
        r,
        1.0,
        false,
    ));
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{rows, Sample};

    fn sample(workload: &str, figure: &'static str, variant: Variant, value: f64) -> Sample {
        Sample {
            run: 0,
            workload: workload.into(),
            figure,
            higher_is_better: figure != "p50 ms",
            variant,
            value,
        }
    }

    #[test]
    fn bulk_goal_depends_on_the_target_and_spt_judges_every_workload() {
        let variants = [Variant::Classic, Variant::Shim, Variant::RingApi];
        let samples = vec![
            sample(IN_LABEL, "Gbit/s", Variant::Classic, 1.0),
            sample(IN_LABEL, "Gbit/s", Variant::Shim, 5.0),
            sample(IN_LABEL, "Gbit/s", Variant::RingApi, 12.0),
            sample("net rx 64 B", "frames/s", Variant::Classic, 10.0),
            sample("net rx 64 B", "frames/s", Variant::Shim, 9.0),
        ];
        let rows = rows(&samples, &variants);
        let met = |checks: &[Check], what: &str| {
            checks
                .iter()
                .find(|c| c.what.starts_with(what))
                .map(|c| c.met)
        };
        let hvt = checks(&rows, false);
        assert_eq!(
            met(&hvt, &format!("{IN_LABEL} Gbit/s, ours, rings")),
            Some(false)
        );
        assert_eq!(
            met(&hvt, &format!("{IN_LABEL} Gbit/s, ours, ring API")),
            Some(true)
        );
        assert_eq!(met(&hvt, "spt:"), None);
        let spt = checks(&rows, true);
        assert_eq!(
            met(&spt, &format!("{IN_LABEL} Gbit/s, ours, rings")),
            Some(true)
        );
        assert_eq!(
            met(&spt, "spt: net rx 64 B frames/s, ours, rings"),
            Some(false)
        );
        assert_eq!(met(&spt, "spt: start-up"), Some(false));
    }
}
