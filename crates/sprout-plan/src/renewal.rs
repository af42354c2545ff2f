//! When the server orders a certificate over ACME, and when a certificate is worth an alert.
//!
//! - A name with `--acme` and no certificate covering it is ordered at once.
//! - A certificate is renewed 30 days before it expires, or at two thirds of its lifetime when
//!   that comes later (short-lived certificates: a 6-day one renews on its fourth day, a 90-day
//!   one on its sixtieth either way).
//! - A failed order waits a back-off before the next one for that name (5 minutes, doubling to
//!   12 hours): never more than one order per name per back-off window, whatever the CA says.
//!   A renewal asked for by hand (`sprout certs renew`) goes at once.
//! - A certificate that expires within `EXPIRY_WARNING` (14 days) with nothing later covering
//!   its names is worth an alert, uploaded ones included.
//!
//! Pure: time is an argument; the server keeps the attempts in the store.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Renew this long before expiry (unless two thirds of the lifetime comes later).
pub const RENEW_BEFORE: Duration = Duration::days(30);
/// The first wait after a failed order; it doubles with each failure in a row.
pub const FIRST_BACKOFF: Duration = Duration::minutes(5);
/// The longest wait between two orders for one name.
pub const MAX_BACKOFF: Duration = Duration::hours(12);
/// A certificate this close to its expiry is alerted on.
pub const EXPIRY_WARNING: Duration = Duration::days(14);

/// A certificate the server holds, as far as renewal cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub names: Vec<String>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

/// What happened to the orders for one name so far (kept in the store).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempts {
    /// When the last order was made.
    pub last_attempt: Option<DateTime<Utc>>,
    /// Failures in a row (0 after a success).
    pub failures: u32,
    /// The last failure in words; None after a success.
    pub last_error: Option<String>,
    /// A renewal asked for by hand, not yet made.
    pub forced: bool,
}

/// When a certificate is due for renewal: 30 days before expiry, or at two thirds of its
/// lifetime when that is later.
pub fn renew_at(not_before: DateTime<Utc>, not_after: DateTime<Utc>) -> DateTime<Utc> {
    let lifetime = (not_after - not_before).max(Duration::zero());
    let two_thirds = not_before + lifetime * 2 / 3;
    (not_after - RENEW_BEFORE).max(two_thirds)
}

/// The wait after `failures` failed orders in a row.
pub fn backoff(failures: u32) -> Duration {
    if failures == 0 {
        return Duration::zero();
    }
    let doublings = failures.saturating_sub(1).min(16);
    (FIRST_BACKOFF * (1i32 << doublings)).min(MAX_BACKOFF)
}

/// The certificate that serves `name` (exactly, or by a one-level wildcard): the one that
/// expires last, as the load balancer picks it.
pub fn serving<'a>(name: &str, held: &'a [Held]) -> Option<&'a Held> {
    held.iter().filter(|h| h.names.iter().any(|n| sprout_model::domains::covers(n, name))).max_by_key(|h| h.not_after)
}

/// What to do about one ACME name now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Order a certificate for it now.
    Order,
    /// Nothing before this time.
    WaitUntil(DateTime<Utc>),
}

/// Whether to order a certificate for `name` now, given what is held and the attempts so far.
pub fn decide(name: &str, held: &[Held], attempts: &Attempts, now: DateTime<Utc>) -> Decision {
    if attempts.forced {
        return Decision::Order;
    }
    let due = match serving(name, held) {
        None => now,
        Some(h) => renew_at(h.not_before, h.not_after),
    };
    let not_before_retry = match attempts.last_attempt {
        Some(last) if attempts.failures > 0 => last + backoff(attempts.failures),
        _ => due,
    };
    let when = due.max(not_before_retry);
    if when <= now { Decision::Order } else { Decision::WaitUntil(when) }
}

/// The plan for every ACME name: which to order now (in order), and when to look again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewalPlan {
    pub order: Vec<String>,
    pub next_look: Option<DateTime<Utc>>,
}

/// Plans every ACME name at once; `attempts` gives each name's (missing: never tried).
pub fn plan_renewals<'a>(
    names: &[String],
    held: &[Held],
    attempts: impl Fn(&str) -> Option<&'a Attempts>,
    now: DateTime<Utc>,
) -> RenewalPlan {
    let never = Attempts::default();
    let mut plan = RenewalPlan { order: Vec::new(), next_look: None };
    for name in names {
        match decide(name, held, attempts(name).unwrap_or(&never), now) {
            Decision::Order => plan.order.push(name.clone()),
            Decision::WaitUntil(t) => plan.next_look = Some(plan.next_look.map_or(t, |n: DateTime<Utc>| n.min(t))),
        }
    }
    plan
}

/// Whether `cert` is worth an expiry alert at `now`: it expires within `EXPIRY_WARNING` (or has
/// expired) and some of its names have nothing later to serve them.
pub fn expiring(cert: &Held, held: &[Held], now: DateTime<Utc>) -> bool {
    cert.not_after - now <= EXPIRY_WARNING
        && cert.names.iter().any(|n| {
            let name = n.trim_start_matches("*.");
            // A wildcard's own coverage is checked on a name it covers.
            let probe = if n.starts_with("*.") { format!("x.{name}") } else { name.to_string() };
            serving(&probe, held).is_none_or(|best| best.not_after <= cert.not_after)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }
    const DAY: i64 = 86_400;

    fn cert(name: &str, from: i64, to: i64) -> Held {
        Held { names: vec![name.to_string()], not_before: t(from), not_after: t(to) }
    }

    #[test]
    fn renews_thirty_days_before_expiry_or_at_two_thirds_for_short_lives() {
        assert_eq!(renew_at(t(0), t(90 * DAY)), t(60 * DAY));
        assert_eq!(renew_at(t(0), t(365 * DAY)), t(335 * DAY), "a year: 30 days before");
        assert_eq!(renew_at(t(0), t(6 * DAY)), t(4 * DAY), "six days: at two thirds");
        assert_eq!(renew_at(t(0), t(30)), t(20), "30 seconds: at 20");
    }

    #[test]
    fn a_name_without_a_certificate_is_ordered_at_once() {
        assert_eq!(decide("a.example.com", &[], &Attempts::default(), t(0)), Decision::Order);
        let other = [cert("b.example.com", 0, 90 * DAY)];
        assert_eq!(decide("a.example.com", &other, &Attempts::default(), t(0)), Decision::Order);
    }

    #[test]
    fn a_valid_certificate_waits_for_its_renewal_time() {
        let held = [cert("a.example.com", 0, 90 * DAY)];
        let attempts = Attempts { last_attempt: Some(t(0)), ..Attempts::default() };
        assert_eq!(decide("a.example.com", &held, &attempts, t(DAY)), Decision::WaitUntil(t(60 * DAY)));
        assert_eq!(decide("a.example.com", &held, &attempts, t(60 * DAY)), Decision::Order);
        let wild = [cert("*.example.com", 0, 90 * DAY)];
        assert_eq!(decide("a.example.com", &wild, &attempts, t(DAY)), Decision::WaitUntil(t(60 * DAY)));
    }

    #[test]
    fn the_later_certificate_decides() {
        let held = [cert("a.example.com", 0, 90 * DAY), cert("a.example.com", 59 * DAY, 149 * DAY)];
        assert_eq!(
            decide("a.example.com", &held, &Attempts::default(), t(60 * DAY)),
            Decision::WaitUntil(t(119 * DAY))
        );
    }

    #[test]
    fn failures_back_off_doubling_to_a_bound_one_order_per_window() {
        let b: Vec<i64> = (0..=10).map(|n| backoff(n).num_minutes()).collect();
        assert_eq!(b, vec![0, 5, 10, 20, 40, 80, 160, 320, 640, 720, 720]);
        let failed =
            Attempts { last_attempt: Some(t(100)), failures: 3, last_error: Some("refused".into()), forced: false };
        assert_eq!(decide("a.example.com", &[], &failed, t(101)), Decision::WaitUntil(t(100 + 20 * 60)));
        assert_eq!(decide("a.example.com", &[], &failed, t(100 + 20 * 60)), Decision::Order);
        // A renewal that failed: the back-off and the due time, whichever is later.
        let held = [cert("a.example.com", 0, 90 * DAY)];
        let renewing = Attempts { last_attempt: Some(t(60 * DAY)), failures: 1, ..failed.clone() };
        assert_eq!(decide("a.example.com", &held, &renewing, t(60 * DAY + 1)), Decision::WaitUntil(t(60 * DAY + 300)));
    }

    #[test]
    fn a_renewal_asked_for_by_hand_goes_at_once() {
        let held = [cert("a.example.com", 0, 90 * DAY)];
        let forced = Attempts { last_attempt: Some(t(10)), failures: 4, last_error: None, forced: true };
        assert_eq!(decide("a.example.com", &held, &forced, t(11)), Decision::Order);
    }

    #[test]
    fn the_plan_orders_what_is_due_and_says_when_to_look_again() {
        let held = [cert("a.example.com", 0, 90 * DAY), cert("b.example.com", 0, 30 * DAY)];
        let names: Vec<String> = ["a.example.com", "b.example.com", "c.example.com"].map(String::from).to_vec();
        let c_failed = Attempts { last_attempt: Some(t(20 * DAY - 10)), failures: 1, ..Attempts::default() };
        let plan = plan_renewals(&names, &held, |n| (n == "c.example.com").then_some(&c_failed), t(20 * DAY));
        assert_eq!(plan.order, vec!["b.example.com".to_string()], "b renews at 20 days, c backs off");
        assert_eq!(plan.next_look, Some(t(20 * DAY + 290)), "c's back-off ends before a is due");
        let later = plan_renewals(&names, &held, |_| None, t(0));
        assert_eq!(later.order, vec!["c.example.com".to_string()]);
        assert_eq!(later.next_look, Some(t(20 * DAY)));
    }

    #[test]
    fn expiry_alerts_only_for_names_nothing_later_serves() {
        let old = cert("a.example.com", 0, 90 * DAY);
        assert!(!expiring(&old, std::slice::from_ref(&old), t(75 * DAY)));
        assert!(expiring(&old, std::slice::from_ref(&old), t(77 * DAY)));
        assert!(expiring(&old, std::slice::from_ref(&old), t(91 * DAY)), "expired counts");
        let renewed = cert("a.example.com", 60 * DAY, 150 * DAY);
        assert!(!expiring(&old, &[old.clone(), renewed], t(80 * DAY)));
        let wild = cert("*.example.com", 0, 10 * DAY);
        assert!(expiring(&wild, std::slice::from_ref(&wild), t(0)));
    }
}
