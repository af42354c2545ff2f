//! 5xx answers an environment's health does not count (`health.ignore_codes`): the codes, as
//! the routing table carries them, and the mask a series checks on the request path.
//!
//! The answers still count as 5xx everywhere; a series only counts them a second time as
//! ignorable, so enhanced health can take them out and graphs still show them.

use std::sync::atomic::{AtomicU64, Ordering};

/// A set of codes from 500 to 599, one bit each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Ignored5xx(u128);

impl Ignored5xx {
    /// The set of `codes`; codes outside 500-599 are not 5xx and are left out.
    pub fn from_codes(codes: &[u16]) -> Self {
        Self(codes.iter().filter(|c| (500..600).contains(*c)).fold(0, |bits, c| bits | 1 << (c - 500)))
    }

    pub fn codes(self) -> Vec<u16> {
        (0..100u16).filter(|i| self.0 & 1 << i != 0).map(|i| 500 + i).collect()
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// The set a series checks, changed when a table is published.
#[derive(Default)]
pub(crate) struct IgnoredMask([AtomicU64; 2]);

impl IgnoredMask {
    pub(crate) fn set(&self, codes: Ignored5xx) {
        self.0[0].store(codes.0 as u64, Ordering::Relaxed);
        self.0[1].store((codes.0 >> 64) as u64, Ordering::Relaxed);
    }

    /// Whether `status` (any code) is one of the set. Costs nothing for codes below 500.
    #[inline]
    pub(crate) fn contains(&self, status: u16) -> bool {
        let Some(i) = status.checked_sub(500).filter(|i| *i < 100) else { return false };
        self.0[usize::from(i / 64)].load(Ordering::Relaxed) & 1 << (i % 64) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_only_5xx_match() {
        let set = Ignored5xx::from_codes(&[503, 599, 500, 404]);
        assert_eq!(set.codes(), [500, 503, 599]);
        let mask = IgnoredMask::default();
        mask.set(set);
        assert!(mask.contains(503) && mask.contains(599) && mask.contains(500));
        assert!(!mask.contains(502) && !mask.contains(404) && !mask.contains(200) && !mask.contains(600));
    }
}
