//! Which application versions a lifecycle policy deletes: the oldest beyond the maximum count,
//! and any older than the maximum age, but never one that is in use.
//!
//! Pure: versions, what is in use, the policy and `now` in, labels to delete out. "In use" is
//! decided by the caller (a version an environment runs, the last good version of any
//! environment, any label a deploy in flight mentions); this module only guarantees that no
//! such label is ever selected. Not here: deleting anything.

use std::collections::BTreeSet;

/// One version, as the policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionAge {
    pub label: String,
    /// Creation time, unix seconds.
    pub created_at: i64,
}

/// The policy: `None` limits nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LifecycleLimits {
    pub max_count: Option<u32>,
    pub max_age_days: Option<u32>,
}

/// Labels to delete, oldest first. `versions` may come in any order; ties in `created_at` are
/// broken by input position (earlier in the input counts as newer, as the store lists them).
///
/// As Elastic Beanstalk counts: the newest `max_count` versions are kept (in use or not), and
/// older ones go unless in use; so the version just created is never deleted by the count,
/// and in-use versions may take the total above it.
pub fn decide_version_deletions(
    versions: &[VersionAge],
    in_use: &BTreeSet<String>,
    limits: LifecycleLimits,
    now: i64,
) -> Vec<String> {
    // A stable sort keeps input order among equal times.
    let mut newest_first: Vec<&VersionAge> = versions.iter().collect();
    newest_first.sort_by_key(|v| std::cmp::Reverse(v.created_at));

    let too_old = |v: &VersionAge| match limits.max_age_days {
        Some(days) => now.saturating_sub(v.created_at) > i64::from(days) * 86_400,
        None => false,
    };
    let mut delete = Vec::new();
    for (rank, v) in newest_first.into_iter().enumerate() {
        if in_use.contains(&v.label) {
            continue;
        }
        let over_count = limits.max_count.is_some_and(|max| rank as u64 >= u64::from(max));
        if over_count || too_old(v) {
            delete.push(v.label.clone());
        }
    }
    delete.reverse();
    delete
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DAY: i64 = 86_400;

    fn versions(ages_days: &[(&str, i64)]) -> Vec<VersionAge> {
        ages_days.iter().map(|(l, d)| VersionAge { label: l.to_string(), created_at: 100 * DAY - d * DAY }).collect()
    }

    fn used(labels: &[&str]) -> BTreeSet<String> {
        labels.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn table() {
        let now = 100 * DAY;
        // v1 oldest (50 days) .. v5 newest (today).
        let vs = versions(&[("v5", 0), ("v4", 5), ("v3", 10), ("v2", 40), ("v1", 50)]);
        let cases: &[(&str, LifecycleLimits, &[&str], &[&str])] = &[
            ("no policy keeps everything", LifecycleLimits::default(), &[], &[]),
            (
                "count 3 deletes the two oldest",
                LifecycleLimits { max_count: Some(3), max_age_days: None },
                &[],
                &["v1", "v2"],
            ),
            ("count 5 is exactly enough", LifecycleLimits { max_count: Some(5), max_age_days: None }, &[], &[]),
            (
                "age 30 deletes older than 30 days",
                LifecycleLimits { max_count: None, max_age_days: Some(30) },
                &[],
                &["v1", "v2"],
            ),
            (
                "age boundary: exactly 10 days is kept",
                LifecycleLimits { max_count: None, max_age_days: Some(10) },
                &[],
                &["v1", "v2"],
            ),
            (
                "in use is never deleted by age",
                LifecycleLimits { max_count: None, max_age_days: Some(1) },
                &["v1"],
                &["v2", "v3", "v4"],
            ),
            (
                "in use beyond the count is kept",
                LifecycleLimits { max_count: Some(2), max_age_days: None },
                &["v1"],
                &["v2", "v3"],
            ),
            (
                "in use within the count takes its place",
                LifecycleLimits { max_count: Some(2), max_age_days: None },
                &["v4"],
                &["v1", "v2", "v3"],
            ),
            (
                "more in use than the count: only unused go",
                LifecycleLimits { max_count: Some(1), max_age_days: None },
                &["v1", "v2", "v5"],
                &["v3", "v4"],
            ),
            (
                "count 0 deletes all unused",
                LifecycleLimits { max_count: Some(0), max_age_days: None },
                &["v3"],
                &["v1", "v2", "v4", "v5"],
            ),
            ("both limits combine", LifecycleLimits { max_count: Some(4), max_age_days: Some(45) }, &[], &["v1"]),
            (
                "a label in use that is not a version changes nothing",
                LifecycleLimits { max_count: Some(3), max_age_days: None },
                &["ghost"],
                &["v1", "v2"],
            ),
        ];
        for (name, limits, in_use, want) in cases {
            let got = decide_version_deletions(&vs, &used(in_use), *limits, now);
            assert_eq!(got, want.to_vec(), "{name}");
        }
    }

    #[test]
    fn equal_times_keep_the_one_listed_first() {
        let vs = vec![VersionAge { label: "b".into(), created_at: 5 }, VersionAge { label: "a".into(), created_at: 5 }];
        // Input is newest first as the store lists it: "b" is newer, so "a" goes.
        let got = decide_version_deletions(
            &vs,
            &BTreeSet::new(),
            LifecycleLimits { max_count: Some(1), max_age_days: None },
            10,
        );
        assert_eq!(got, vec!["a".to_string()]);
    }

    proptest! {
        #[test]
        fn never_deletes_in_use_and_respects_the_count(
            ages in proptest::collection::vec(0i64..400, 0..40),
            use_mask in proptest::collection::vec(any::<bool>(), 40),
            max_count in proptest::option::of(0u32..20),
            max_age_days in proptest::option::of(0u32..365),
        ) {
            let vs: Vec<VersionAge> = ages.iter().enumerate()
                .map(|(i, d)| VersionAge { label: format!("v{i}"), created_at: 1000 * DAY - d * DAY })
                .collect();
            let in_use: BTreeSet<String> = vs.iter().zip(&use_mask).filter(|(_, u)| **u).map(|(v, _)| v.label.clone()).collect();
            let limits = LifecycleLimits { max_count, max_age_days };
            let deleted = decide_version_deletions(&vs, &in_use, limits, 1000 * DAY);
            for d in &deleted {
                prop_assert!(!in_use.contains(d), "deleted {} which is in use", d);
            }
            let unique: BTreeSet<&String> = deleted.iter().collect();
            prop_assert_eq!(unique.len(), deleted.len(), "each label at most once");
            let remaining = vs.len() - deleted.len();
            if let Some(max) = max_count {
                prop_assert!(remaining <= max as usize + in_use.len());
                // The newest `max` are never deleted for their count; only age can take them.
                let mut by_age: Vec<&VersionAge> = vs.iter().collect();
                by_age.sort_by_key(|v| std::cmp::Reverse(v.created_at));
                for v in by_age.iter().take(max as usize) {
                    let old = max_age_days.is_some_and(|d| 1000 * DAY - v.created_at > i64::from(d) * DAY);
                    prop_assert!(old || !deleted.contains(&v.label), "{} is among the newest {} yet deleted", v.label, max);
                }
            }
            if let Some(days) = max_age_days {
                for v in &vs {
                    let old = 1000 * DAY - v.created_at > i64::from(days) * DAY;
                    if old && !in_use.contains(&v.label) {
                        prop_assert!(deleted.contains(&v.label), "{} is too old yet kept", v.label);
                    }
                }
            }
            if limits == LifecycleLimits::default() {
                prop_assert!(deleted.is_empty());
            }
        }
    }
}
