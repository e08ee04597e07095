//! Summaries of timed samples within one run, and of one figure across runs.

/// Mean, median and 99th percentile of one run's round-trip times, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Latency {
    /// Arithmetic mean.
    pub(crate) mean_us: f64,
    /// 50th percentile (nearest rank).
    pub(crate) p50_us: f64,
    /// 99th percentile (nearest rank).
    pub(crate) p99_us: f64,
}

impl Latency {
    /// Summarises samples given in nanoseconds; sorts them in place. `None` for no samples.
    pub(crate) fn from_ns(samples: &mut [u64]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let sum: u128 = samples.iter().map(|&s| u128::from(s)).sum();
        let mean_ns = sum as f64 / samples.len() as f64;
        Some(Self {
            mean_us: mean_ns / 1e3,
            p50_us: percentile(samples, 50.0) as f64 / 1e3,
            p99_us: percentile(samples, 99.0) as f64 / 1e3,
        })
    }
}

/// Nearest-rank percentile of sorted samples: the smallest sample with at least `p`% of the
/// samples at or below it.
fn percentile(sorted: &[u64], p: f64) -> u64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// One figure over several runs: median, minimum and maximum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Spread {
    /// Median of the runs (mean of the two middle runs for an even count).
    pub(crate) median: f64,
    /// Smallest run.
    pub(crate) min: f64,
    /// Largest run.
    pub(crate) max: f64,
    /// Number of runs.
    pub(crate) runs: usize,
}

impl Spread {
    /// Summarises per-run values; `None` for no values.
    pub(crate) fn of(values: &[f64]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Self {
            median,
            min: v[0],
            max: v[n - 1],
            runs: n,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_of_one_to_hundred_microseconds() {
        let mut samples: Vec<u64> = (1..=100).rev().map(|us| us * 1000).collect();
        let lat = Latency::from_ns(&mut samples).expect("non-empty");
        assert_eq!(lat.p50_us, 50.0);
        assert_eq!(lat.p99_us, 99.0);
        assert!((lat.mean_us - 50.5).abs() < 1e-9);
    }

    #[test]
    fn latency_of_no_samples_is_none() {
        assert_eq!(Latency::from_ns(&mut []), None);
    }

    #[test]
    fn spread_median_odd_and_even() {
        let odd = Spread::of(&[3.0, 1.0, 2.0]).expect("non-empty");
        assert_eq!((odd.median, odd.min, odd.max, odd.runs), (2.0, 1.0, 3.0, 3));
        let even = Spread::of(&[4.0, 1.0, 2.0, 3.0]).expect("non-empty");
        assert_eq!(even.median, 2.5);
    }
}
