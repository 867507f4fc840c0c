//! Samples and what the report says of them: median, range, ratios against
//! each variant's baseline (the classic variant; hvt's counterpart for the
//! muen runner's) computed pair by pair within each run, and the fraction
//! of the host ceiling.

use crate::variant::Variant;

/// One figure of one measurement.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Sample {
    /// Which run (0-based).
    pub run: usize,
    /// Workload label.
    pub workload: String,
    /// Figure name.
    pub figure: &'static str,
    /// Whether more is better.
    pub higher_is_better: bool,
    /// The variant.
    pub variant: Variant,
    /// The value.
    pub value: f64,
}

/// A variant's summary for one (workload, figure).
#[derive(Clone, Debug, serde::Serialize)]
pub struct Cell {
    /// The variant.
    pub variant: Variant,
    /// Median over runs.
    pub median: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Median of value / its baseline's value in the same run
    /// ([`Variant::baseline`]: ours, classic; for the muen runner's
    /// variants, hvt's counterpart).
    pub vs_classic: Option<f64>,
    /// Median over median of the ceiling (figures where more is better).
    pub of_ceiling: Option<f64>,
}

/// One (workload, figure) row.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Row {
    /// Workload label.
    pub workload: String,
    /// Figure name.
    pub figure: &'static str,
    /// Whether more is better.
    pub higher_is_better: bool,
    /// One cell per variant that has samples.
    pub cells: Vec<Cell>,
}

/// The median of `values` (not empty).
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Summarises `samples` into rows, in the order they first appear.
pub fn rows(samples: &[Sample], variants: &[Variant]) -> Vec<Row> {
    let mut keys: Vec<(String, &'static str, bool)> = Vec::new();
    for s in samples {
        if !keys
            .iter()
            .any(|(w, f, _)| *w == s.workload && *f == s.figure)
        {
            keys.push((s.workload.clone(), s.figure, s.higher_is_better));
        }
    }
    keys.into_iter()
        .map(|(workload, figure, higher_is_better)| {
            let of = |v: Variant| -> Vec<&Sample> {
                samples
                    .iter()
                    .filter(|s| s.workload == workload && s.figure == figure && s.variant == v)
                    .collect()
            };
            let ceiling = {
                let mut values: Vec<f64> = of(Variant::Ceiling).iter().map(|s| s.value).collect();
                (!values.is_empty()).then(|| median(&mut values))
            };
            let cells = variants
                .iter()
                .filter_map(|&variant| {
                    let mine = of(variant);
                    if mine.is_empty() {
                        return None;
                    }
                    let mut values: Vec<f64> = mine.iter().map(|s| s.value).collect();
                    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
                    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let med = median(&mut values);
                    let baseline = of(variant.baseline());
                    let mut ratios: Vec<f64> = mine
                        .iter()
                        .filter_map(|s| {
                            let c = baseline.iter().find(|c| c.run == s.run)?;
                            (c.value > 0.0).then(|| s.value / c.value)
                        })
                        .collect();
                    let vs_classic = (!ratios.is_empty() && variant != Variant::Classic)
                        .then(|| median(&mut ratios));
                    let of_ceiling = match ceiling {
                        Some(c) if higher_is_better && c > 0.0 && variant != Variant::Ceiling => {
                            Some(med / c)
                        }
                        _ => None,
                    };
                    Some(Cell {
                        variant,
                        median: med,
                        min,
                        max,
                        vs_classic,
                        of_ceiling,
                    })
                })
                .collect();
            Row {
                workload,
                figure,
                higher_is_better,
                cells,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(run: usize, variant: Variant, value: f64) -> Sample {
        Sample {
            run,
            workload: "w".into(),
            figure: "f",
            higher_is_better: true,
            variant,
            value,
        }
    }

    #[test]
    fn ratios_pair_runs_and_ceiling_uses_medians() {
        let samples = vec![
            sample(0, Variant::Classic, 10.0),
            sample(0, Variant::Shim, 100.0),
            sample(0, Variant::Ceiling, 400.0),
            sample(1, Variant::Classic, 20.0),
            sample(1, Variant::Shim, 100.0),
            sample(1, Variant::Ceiling, 400.0),
            sample(2, Variant::Classic, 5.0),
            sample(2, Variant::Shim, 120.0),
            sample(2, Variant::Ceiling, 200.0),
        ];
        let rows = rows(
            &samples,
            &[Variant::Classic, Variant::Shim, Variant::Ceiling],
        );
        assert_eq!(rows.len(), 1);
        let shim = &rows[0].cells[1];
        assert_eq!(shim.median, 100.0);
        assert_eq!((shim.min, shim.max), (100.0, 120.0));
        // Per-run ratios 10, 5, 24: the median is 10, not 100 / 10.
        assert_eq!(shim.vs_classic, Some(10.0));
        assert_eq!(shim.of_ceiling, Some(0.25));
        assert_eq!(rows[0].cells[0].vs_classic, None);
    }

    #[test]
    fn muen_variants_are_compared_with_hvts_counterpart() {
        let samples = vec![
            sample(0, Variant::Shim, 100.0),
            sample(0, Variant::RingApi, 400.0),
            sample(0, Variant::MuenShim, 50.0),
            sample(0, Variant::MuenRingApi, 200.0),
        ];
        let variants = [
            Variant::Shim,
            Variant::RingApi,
            Variant::MuenShim,
            Variant::MuenRingApi,
        ];
        let rows = rows(&samples, &variants);
        let ratio = |v| {
            rows[0]
                .cells
                .iter()
                .find(|c| c.variant == v)
                .unwrap()
                .vs_classic
        };
        assert_eq!(ratio(Variant::MuenShim), Some(0.5));
        assert_eq!(ratio(Variant::MuenRingApi), Some(0.5));
        // No classic column in a muen run: hvt's rows have no ratio.
        assert_eq!(ratio(Variant::Shim), None);
    }

    #[test]
    fn median_of_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
    }
}
