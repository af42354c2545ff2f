//! Target tracking on a queue reading (`scaling.queue_url`, `scaling.target_queue_per_instance`),
//! the way a worker environment scales: size for `ceil(depth / target)` instances. Out once the
//! reading has stayed above the current capacity for the scale-out window (its lowest value
//! there sets the size), in only to the largest size the reading needed over the whole
//! stabilisation window. Seconds without a fresh reading stop both: the planner never acts on a
//! reading it does not have. At zero (`scaling.min=0`, scaled in on an empty queue) there is no
//! capacity for a window to confirm anything against, and jobs wait on nobody: the first fresh
//! reading above zero orders one instance at once, as a held request wakes a web environment,
//! and the window then sizes the rest in the usual way. Not here: polling the URL (the server's
//! autoscale controller).

use sprout_model::scaling::ScalingSettings;

use super::{Band, Counts, MetricSample, thousands};

/// The new count and why, when the queue reading moves it.
pub(super) fn track(
    settings: &ScalingSettings,
    window: &[MetricSample],
    current: Counts,
    band: Band,
    (out_allowed, in_allowed): (bool, bool),
) -> Option<(u32, String)> {
    let target = settings.target_queue_per_instance.filter(|t| *t > 0.0 && settings.queue_url.is_some())?;
    let from = current.desired;
    let need = |depth: f64| ((depth / target) - 1e-9).ceil().max(0.0) as u32;
    if let Some(woken) = wake(window, current, band) {
        return Some(woken);
    }
    let readings = |n: usize| -> Option<Vec<f64>> {
        (window.len() >= n).then(|| window[window.len() - n..].iter().map(|s| s.queue_depth).collect())?
    };
    let out_n = settings.scale_out_window_s.max(1) as usize;
    if out_allowed && let Some(xs) = readings(out_n) {
        let low = xs.iter().cloned().fold(f64::INFINITY, f64::min);
        let to = band.clamp(need(low));
        if to > from {
            return Some((
                to,
                format!(
                    "queue depth at least {} over {out_n} s, target {} per instance",
                    thousands(low),
                    thousands(target)
                ),
            ));
        }
    }
    let in_n = settings.scale_in_window_s.max(1) as usize;
    if in_allowed
        && current.starting == 0
        && let Some(xs) = readings(in_n)
    {
        let high = xs.iter().cloned().fold(0.0, f64::max);
        let to = band.clamp(need(high));
        if to < from {
            return Some((
                to,
                format!(
                    "queue depth at most {} over the last {in_n} s, target {} per instance",
                    thousands(high),
                    thousands(target)
                ),
            ));
        }
    }
    None
}

/// At zero with no instance serving or starting, the latest reading above zero orders one
/// instance (within the band), whatever the window and the scale-out cooldown say: nothing runs
/// the jobs meanwhile, so waiting would only delay the first of them.
fn wake(window: &[MetricSample], current: Counts, band: Band) -> Option<(u32, String)> {
    let depth = window.last()?.queue_depth.filter(|d| *d > 0.0)?;
    if current.desired > 0 || current.in_service > 0 || current.starting > 0 || band.max == 0 {
        return None;
    }
    let to = band.clamp(1).max(1);
    Some((to, format!("queue depth {} with no instance running: woken at once", thousands(depth))))
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn settings() -> ScalingSettings {
        ScalingSettings {
            queue_url: Some("http://127.0.0.1:9/depth".into()),
            target_queue_per_instance: Some(10.0),
            scale_out_window_s: 3,
            scale_in_window_s: 5,
            ..Default::default()
        }
    }

    fn window(depths: &[Option<f64>]) -> Vec<MetricSample> {
        depths
            .iter()
            .enumerate()
            .map(|(i, d)| MetricSample {
                at: Utc.timestamp_opt(1_000 + i as i64, 0).unwrap(),
                queue_depth: *d,
                ..Default::default()
            })
            .collect()
    }

    fn counts(desired: u32) -> Counts {
        Counts { desired, in_service: desired, starting: 0 }
    }

    const BAND: Band = Band { min: 1, max: 5 };

    #[test]
    fn scales_out_to_the_depth_the_whole_window_showed() {
        let w = window(&[Some(5.0), Some(45.0), Some(31.0), Some(60.0)]);
        let (to, why) = track(&settings(), &w, counts(1), BAND, (true, true)).unwrap();
        assert_eq!(to, 4, "lowest of the last 3 is 31: 4 instances at 10 each");
        assert!(why.contains("queue depth at least 31"), "{why}");
    }

    #[test]
    fn clamps_to_the_band_and_waits_for_a_full_window() {
        let w = window(&[Some(500.0), Some(500.0), Some(500.0)]);
        assert_eq!(track(&settings(), &w, counts(1), BAND, (true, true)).unwrap().0, 5);
        let short = window(&[Some(500.0), Some(500.0)]);
        assert_eq!(track(&settings(), &short, counts(1), BAND, (true, true)), None);
    }

    #[test]
    fn a_missing_reading_stops_both_ways() {
        let w = window(&[Some(90.0), None, Some(90.0)]);
        assert_eq!(track(&settings(), &w, counts(1), BAND, (true, true)), None);
        let w = window(&[Some(0.0), Some(0.0), None, Some(0.0), Some(0.0)]);
        assert_eq!(track(&settings(), &w, counts(3), BAND, (true, true)), None);
    }

    #[test]
    fn scales_in_to_the_largest_need_of_the_stabilisation_window() {
        let w = window(&[Some(25.0), Some(3.0), Some(0.0), Some(0.0), Some(0.0)]);
        let (to, why) = track(&settings(), &w, counts(5), BAND, (true, true)).unwrap();
        assert_eq!(to, 3);
        assert!(why.contains("at most 25"), "{why}");
        assert_eq!(track(&settings(), &w, counts(5), BAND, (true, false)), None, "cooldown");
        let starting = Counts { desired: 5, in_service: 4, starting: 1 };
        assert_eq!(track(&settings(), &w, starting, BAND, (true, true)), None, "capacity still starting");
    }

    #[test]
    fn at_zero_the_first_reading_above_zero_wakes_one_instance_at_once() {
        let band = Band { min: 0, max: 5 };
        let zero = Counts::default();
        // One reading, far short of the 3 s window, and a scale-out cooldown still running.
        let w = window(&[None, Some(0.0), Some(45.0)]);
        let (to, why) = track(&settings(), &w, zero, band, (false, true)).unwrap();
        assert_eq!(to, 1, "one instance at once; the window sizes the rest");
        assert_eq!(why, "queue depth 45 with no instance running: woken at once");
        // The window then orders the rest as usual.
        let w = window(&[Some(45.0), Some(45.0), Some(45.0)]);
        assert_eq!(track(&settings(), &w, counts(1), band, (true, true)).unwrap().0, 5);
    }

    #[test]
    fn an_empty_or_stale_reading_or_an_instance_on_its_way_wakes_nothing() {
        let band = Band { min: 0, max: 5 };
        let zero = Counts::default();
        assert_eq!(track(&settings(), &window(&[Some(0.0), Some(0.0), Some(0.0)]), zero, band, (true, true)), None);
        assert_eq!(track(&settings(), &window(&[Some(9.0), Some(9.0), None]), zero, band, (true, true)), None);
        let ordered = Counts { desired: 1, in_service: 0, starting: 1 };
        assert_eq!(track(&settings(), &window(&[Some(9.0)]), ordered, band, (true, true)), None);
        let off = Band { min: 0, max: 0 };
        assert_eq!(track(&settings(), &window(&[Some(9.0)]), zero, off, (true, true)), None, "turned off on purpose");
    }

    #[test]
    fn an_idle_queue_scales_in_to_zero_when_the_band_allows() {
        let band = Band { min: 0, max: 5 };
        let w = window(&[Some(0.0); 5]);
        let (to, why) = track(&settings(), &w, counts(1), band, (true, true)).unwrap();
        assert_eq!(to, 0);
        assert!(why.contains("at most 0"), "{why}");
    }

    #[test]
    fn without_a_url_or_target_nothing_moves() {
        let w = window(&[Some(90.0); 5]);
        let mut s = settings();
        s.queue_url = None;
        assert_eq!(track(&s, &w, counts(1), BAND, (true, true)), None);
        let mut s = settings();
        s.target_queue_per_instance = None;
        assert_eq!(track(&s, &w, counts(1), BAND, (true, true)), None);
    }
}
