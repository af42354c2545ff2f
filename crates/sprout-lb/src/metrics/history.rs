//! One series' closed seconds and minutes, kept sparse: a second in which nothing happened is
//! not stored, and readers get it back as an empty second.
//!
//! Every series closes a second every second, routed or not, busy or idle. Stored densely, a
//! series held 900 seconds (about 120 KB) and then 1 440 minutes, whatever its traffic: with
//! hundreds of instances on a host that was tens of megabytes for idle series alone, growing for
//! the first 24 hours of the server's life. Sparse, an idle series costs a few words.

use std::collections::VecDeque;

use super::{MINUTES_KEPT, SECONDS_KEPT, Second};

#[derive(Default)]
pub(super) struct History {
    /// Closed seconds in which something happened, oldest first, within the last `SECONDS_KEPT`.
    seconds: VecDeque<Second>,
    /// One-minute buckets of older seconds in which something happened, oldest first.
    minutes: VecDeque<Second>,
    /// The first second closed (the series began), and the last.
    began: Option<i64>,
    closed: Option<i64>,
    /// Everything since the series began (for Prometheus counters).
    pub(super) totals: Second,
    pub(super) last_active: i64,
}

impl Second {
    /// Nothing happened in it: no request, none in flight, no byte, no failed connection.
    fn is_idle(&self) -> bool {
        self.requests == 0
            && self.status == [0; 5]
            && self.ignored_5xx == 0
            && self.bytes_in == 0
            && self.bytes_out == 0
            && self.connect_errors == 0
            && self.in_flight == 0
            && self.latency.count() == 0
    }

    fn empty(at: i64, span_s: u32) -> Second {
        Second { at, span_s, ..Second::default() }
    }
}

impl History {
    /// The first second still kept at one-second resolution, once any closed.
    fn window_start(&self) -> Option<i64> {
        self.closed.map(|closed| closed - SECONDS_KEPT as i64 + 1)
    }

    /// Keep the second just closed; fold seconds that leave the window into minutes.
    pub(super) fn close(&mut self, second: Second) {
        let at = second.at;
        if second.requests > 0 || second.in_flight > 0 {
            self.last_active = at;
        }
        self.began.get_or_insert(at);
        self.closed = Some(at);
        self.totals.merge(&second);
        if !second.is_idle() {
            self.seconds.push_back(second);
        }
        let window_start = self.window_start().unwrap_or(at);
        while self.seconds.front().is_some_and(|s| s.at < window_start) {
            let old = self.seconds.pop_front().expect("checked above");
            let minute_start = old.at - old.at.rem_euclid(60);
            match self.minutes.back_mut() {
                Some(minute) if minute.at == minute_start => {
                    minute.merge(&old);
                    minute.span_s += old.span_s;
                }
                _ => self.minutes.push_back(Second { at: minute_start, ..old }),
            }
        }
        let oldest_minute = window_start - (MINUTES_KEPT * 60) as i64;
        while self.minutes.front().is_some_and(|m| m.at < oldest_minute - oldest_minute.rem_euclid(60)) {
            self.minutes.pop_front();
        }
    }

    /// The closed seconds after `after` (and since the series began), one per second, oldest
    /// first.
    pub(super) fn seconds_since(&self, after: i64) -> Vec<Second> {
        let (Some(began), Some(closed), Some(window_start)) = (self.began, self.closed, self.window_start()) else {
            return Vec::new();
        };
        let first = (after + 1).max(began).max(window_start);
        let mut kept = self.seconds.range(self.seconds.partition_point(|s| s.at < first)..).peekable();
        let mut out = Vec::with_capacity(usize::try_from(closed - first + 1).unwrap_or(0));
        for at in first..=closed {
            match kept.next_if(|s| s.at == at) {
                Some(s) => out.push(s.clone()),
                None => out.push(Second::empty(at, 1)),
            }
        }
        out
    }

    /// The one-minute buckets older than the seconds' window (and since the series began), one
    /// per minute, up to 24 hours, oldest first.
    pub(super) fn minutes(&self) -> Vec<Second> {
        let (Some(began), Some(window_start)) = (self.began, self.window_start()) else { return Vec::new() };
        let from = began.max(window_start - (MINUTES_KEPT * 60) as i64);
        if from >= window_start {
            return Vec::new();
        }
        let mut kept = self.minutes.iter().skip_while(|m| m.at + 60 <= from).peekable();
        let mut out = Vec::new();
        let mut minute = from - from.rem_euclid(60);
        while minute < window_start {
            match kept.next_if(|m| m.at == minute) {
                Some(m) => out.push(m.clone()),
                None => {
                    // Only the part of the minute the series lived and the window left.
                    let span = window_start.min(minute + 60) - from.max(minute);
                    out.push(Second::empty(minute, u32::try_from(span).unwrap_or(60)));
                }
            }
            minute += 60;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A minute boundary.
    const T0: i64 = 1_800_000_000;

    fn busy(at: i64, requests: u64) -> Second {
        Second { at, span_s: 1, requests, status: [0, requests, 0, 0, 0], ..Second::default() }
    }

    #[test]
    fn idle_seconds_are_not_stored_but_read_back_as_empty_ones() {
        let mut h = History::default();
        for at in T0..T0 + 2 * SECONDS_KEPT as i64 {
            h.close(if at == T0 + 1500 { busy(at, 7) } else { Second::empty(at, 1) });
        }
        assert_eq!((h.seconds.len(), h.minutes.len()), (1, 0), "only the busy second is stored");
        let seconds = h.seconds_since(0);
        assert_eq!(seconds.len(), SECONDS_KEPT);
        assert_eq!(seconds[0].at, T0 + SECONDS_KEPT as i64);
        assert!(seconds.windows(2).all(|w| w[1].at == w[0].at + 1), "one per second");
        let busy_one: Vec<&Second> = seconds.iter().filter(|s| s.requests > 0).collect();
        assert_eq!((busy_one.len(), busy_one[0].at, busy_one[0].requests), (1, T0 + 1500, 7));
        // The minutes before the window: every one, empty, from the series' start.
        let minutes = h.minutes();
        assert_eq!(minutes.len(), SECONDS_KEPT / 60);
        assert!(minutes.iter().all(|m| m.requests == 0 && m.span_s == 60));
        assert_eq!(minutes[0].at, T0);
    }

    #[test]
    fn a_busy_second_leaving_the_window_lands_in_its_minute() {
        let mut h = History::default();
        h.close(busy(T0 + 30, 2));
        for at in T0 + 31..T0 + 31 + SECONDS_KEPT as i64 {
            h.close(Second::empty(at, 1));
        }
        let minutes = h.minutes();
        assert_eq!(minutes.len(), 1);
        assert_eq!((minutes[0].at, minutes[0].requests), (T0, 2));
        assert!(h.seconds_since(0).iter().all(|s| s.requests == 0));
        // A series begun mid-minute reads back from its first second, not before.
        assert_eq!(h.seconds_since(0)[0].at, T0 + 31);
    }
}
