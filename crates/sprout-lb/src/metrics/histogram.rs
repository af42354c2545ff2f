//! The latency histogram: log-linear buckets over microseconds, live (atomics) and closed (a
//! sparse list of counts), with percentiles read from the closed form.
//!
//! Buckets are exact below 8 µs; above, each power of two is cut into 8 equal slices, so any
//! value lands in a bucket at most 12.5% wide and a percentile read at the bucket's midpoint is
//! off by at most about 6%. 240 buckets reach 2^32 µs (71 minutes); anything longer is clamped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Number of buckets.
pub const BUCKETS: usize = 240;

/// The bucket a latency in microseconds falls in.
pub fn bucket_of(micros: u64) -> usize {
    let v = micros.min(u64::from(u32::MAX));
    if v < 8 {
        return v as usize;
    }
    let exponent = 63 - v.leading_zeros() as usize;
    let slice = ((v >> (exponent - 3)) & 7) as usize;
    (exponent - 2) * 8 + slice
}

/// The half-open range `[low, high)` of microseconds a bucket holds.
pub fn bucket_bounds(index: usize) -> (u64, u64) {
    if index < 8 {
        return (index as u64, index as u64 + 1);
    }
    let exponent = index / 8 + 2;
    let slice = (index % 8) as u64;
    ((8 + slice) << (exponent - 3), (9 + slice) << (exponent - 3))
}

/// Live counts for the current second, written by the request path.
pub(crate) struct LiveHistogram {
    counts: Box<[AtomicU64; BUCKETS]>,
    sum_micros: AtomicU64,
}

impl Default for LiveHistogram {
    fn default() -> Self {
        Self { counts: Box::new(std::array::from_fn(|_| AtomicU64::new(0))), sum_micros: AtomicU64::new(0) }
    }
}

impl LiveHistogram {
    pub(crate) fn record(&self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.counts[bucket_of(micros)].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Takes the counts so far and zeroes them. A request recorded during the take lands in
    /// either this second or the next, never in neither.
    pub(crate) fn take(&self) -> Histogram {
        let counts = self
            .counts
            .iter()
            .enumerate()
            .filter_map(|(index, count)| {
                let n = count.swap(0, Ordering::Relaxed);
                (n > 0).then_some((index as u16, n))
            })
            .collect();
        Histogram { counts, sum_micros: self.sum_micros.swap(0, Ordering::Relaxed) }
    }
}

/// Latencies of a span of time: (bucket, count) pairs in bucket order, only non-zero ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    counts: Vec<(u16, u64)>,
    sum_micros: u64,
}

impl Histogram {
    /// A histogram of the given latencies (for tests and tools).
    pub fn from_latencies(latencies: impl IntoIterator<Item = Duration>) -> Self {
        let live = LiveHistogram::default();
        for latency in latencies {
            live.record(latency);
        }
        live.take()
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().map(|(_, n)| n).sum()
    }

    pub fn sum(&self) -> Duration {
        Duration::from_micros(self.sum_micros)
    }

    /// Non-zero buckets as (upper bound in microseconds, count), in order.
    pub fn buckets(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.counts.iter().map(|(index, n)| (bucket_bounds(usize::from(*index)).1, *n))
    }

    /// Adds another histogram's counts to this one.
    pub fn merge(&mut self, other: &Histogram) {
        if other.counts.is_empty() {
            return;
        }
        let mut merged = Vec::with_capacity(self.counts.len() + other.counts.len());
        let (mut i, mut j) = (0, 0);
        let (a, b) = (&self.counts, &other.counts);
        while i < a.len() || j < b.len() {
            let next = match (a.get(i), b.get(j)) {
                (Some(x), Some(y)) if x.0 == y.0 => {
                    i += 1;
                    j += 1;
                    (x.0, x.1 + y.1)
                }
                (Some(x), Some(y)) if x.0 < y.0 => {
                    i += 1;
                    *x
                }
                (Some(x), None) => {
                    i += 1;
                    *x
                }
                (_, Some(y)) => {
                    j += 1;
                    *y
                }
                (None, None) => break,
            };
            merged.push(next);
        }
        self.counts = merged;
        self.sum_micros += other.sum_micros;
    }

    /// The latency below which a fraction `q` (0.0 to 1.0) of requests fell, read at the middle
    /// of its bucket; None when there were no requests.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        // The rank of the request that marks the quantile, 1-based: p50 of 10 is the 5th.
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (index, n) in &self.counts {
            seen += n;
            if seen >= rank {
                let (low, high) = bucket_bounds(usize::from(*index));
                return Some(Duration::from_micros(low + (high - low) / 2));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_bounded() {
        let mut previous_high = 0;
        for index in 0..BUCKETS {
            let (low, high) = bucket_bounds(index);
            assert_eq!(low, previous_high, "bucket {index}");
            assert!(high > low);
            assert_eq!(bucket_of(low), index);
            assert_eq!(bucket_of(high - 1), index);
            // Never wider than 1/8 of its low end (beyond the exact small buckets).
            if low >= 8 {
                assert!((high - low) * 8 <= low, "bucket {index}: {low}..{high}");
            }
            previous_high = high;
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn quantiles_of_a_known_spread() {
        // 1..=1000 ms, one request each.
        let h = Histogram::from_latencies((1..=1000).map(Duration::from_millis));
        assert_eq!(h.count(), 1000);
        for (q, want_ms) in [(0.1, 100.0), (0.5, 500.0), (0.99, 990.0), (0.999, 999.0)] {
            let got = h.quantile(q).unwrap().as_secs_f64() * 1000.0;
            assert!((got - want_ms).abs() / want_ms < 0.07, "q{q}: got {got} ms, want about {want_ms}");
        }
        assert_eq!(Histogram::default().quantile(0.5), None);
    }

    #[test]
    fn merge_adds_counts_bucket_by_bucket() {
        let mut a = Histogram::from_latencies([Duration::from_micros(5), Duration::from_millis(3)]);
        let b = Histogram::from_latencies([Duration::from_millis(3), Duration::from_secs(2)]);
        a.merge(&b);
        assert_eq!(a.count(), 4);
        assert_eq!(a.buckets().count(), 3);
        assert_eq!(a.sum(), Duration::from_micros(5 + 3000 + 3000 + 2_000_000));
        let both = Histogram::from_latencies([5, 3000, 3000, 2_000_000].map(Duration::from_micros));
        assert_eq!(a, both);
    }
}
