//! The ad catalogue: ads grouped by slot, loaded from JSON, and the weighted pick among a slot's
//! ads.
//!
//! Not here: counting impressions or clicks (see `stats`), HTTP (see `routes`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// One ad as the catalogue file describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ad {
    pub id: String,
    pub advertiser: String,
    pub title: String,
    pub image: String,
    /// Where a click sends the user.
    pub landing: String,
    /// Relative share of the slot's impressions.
    #[serde(default = "default_weight")]
    pub weight: u32,
}

fn default_weight() -> u32 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    slots: BTreeMap<String, Vec<Ad>>,
}

/// A slot's ads and where its weighted round-robin stands.
#[derive(Debug)]
struct Slot {
    ads: Vec<Ad>,
    current: Mutex<Vec<i64>>,
}

/// Ads by slot, ready to serve.
#[derive(Debug)]
pub struct Catalogue {
    slots: BTreeMap<String, Slot>,
}

impl Catalogue {
    /// Parse and validate a catalogue file; every problem is reported, not just the first.
    pub fn parse(text: &str) -> Result<Catalogue, String> {
        let file: CatalogueFile = serde_json::from_str(text).map_err(|e| format!("catalogue: {e}"))?;
        let mut errors = Vec::new();
        let mut ids = BTreeSet::new();
        if file.slots.is_empty() {
            errors.push("catalogue: `slots` is empty".to_string());
        }
        for (slot, ads) in &file.slots {
            if ads.is_empty() {
                errors.push(format!("catalogue: slot `{slot}` has no ads"));
            }
            for ad in ads {
                if ad.weight == 0 {
                    errors.push(format!("catalogue: ad `{}` in slot `{slot}` has weight 0", ad.id));
                }
                // Clicks name the ad by id alone, so ids must be unique across slots.
                if !ids.insert(ad.id.clone()) {
                    errors.push(format!("catalogue: ad id `{}` appears more than once", ad.id));
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors.join("\n"));
        }
        let slots = file
            .slots
            .into_iter()
            .map(|(name, ads)| {
                let current = Mutex::new(vec![0; ads.len()]);
                (name, Slot { ads, current })
            })
            .collect();
        Ok(Catalogue { slots })
    }

    pub fn slot_names(&self) -> impl Iterator<Item = &str> {
        self.slots.keys().map(String::as_str)
    }

    /// The next ad for `slot`, or `None` for an unknown slot.
    pub fn pick(&self, slot: &str) -> Option<&Ad> {
        let s = self.slots.get(slot)?;
        let weights: Vec<u32> = s.ads.iter().map(|a| a.weight).collect();
        let i = {
            let mut current = s.current.lock().unwrap_or_else(|p| p.into_inner());
            pick_smooth(&weights, &mut current)
        };
        Some(&s.ads[i])
    }

    /// The ad with `id` and the slot it belongs to.
    pub fn find(&self, id: &str) -> Option<(&str, &Ad)> {
        self.slots.iter().find_map(|(name, s)| s.ads.iter().find(|a| a.id == id).map(|a| (name.as_str(), a)))
    }
}

/// Smooth weighted round-robin (nginx's upstream algorithm): over any `sum(weights)` consecutive
/// picks each index is chosen exactly `weight` times, and heavy ads are spread out rather than
/// served in a burst. Deterministic, so the tests can state exact sequences.
pub fn pick_smooth(weights: &[u32], current: &mut [i64]) -> usize {
    let total: i64 = weights.iter().map(|&w| i64::from(w)).sum();
    let mut best = 0;
    for (i, &w) in weights.iter().enumerate() {
        current[i] += i64::from(w);
        if current[i] > current[best] {
            best = i;
        }
    }
    current[best] -= total;
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUNDLE: &str = include_str!("../../../adserver/catalogue.json");

    #[test]
    fn bundle_catalogue_parses() {
        let c = Catalogue::parse(BUNDLE).unwrap();
        assert_eq!(c.slot_names().collect::<Vec<_>>(), ["banner", "interstitial", "native"]);
        assert_eq!(c.find("nt-shoes").unwrap().0, "native");
        assert_eq!(c.find("nt-shoes").unwrap().1.weight, 1, "weight defaults to 1");
    }

    #[test]
    fn every_problem_is_reported() {
        let text = r#"{"slots": {"a": [], "b": [
            {"id": "x", "advertiser": "A", "title": "T", "image": "i", "landing": "l", "weight": 0},
            {"id": "x", "advertiser": "A", "title": "T", "image": "i", "landing": "l"}]}}"#;
        let err = Catalogue::parse(text).unwrap_err();
        assert!(err.contains("slot `a` has no ads"), "{err}");
        assert!(err.contains("weight 0"), "{err}");
        assert!(err.contains("`x` appears more than once"), "{err}");
    }

    #[test]
    fn unknown_fields_and_bad_json_are_errors() {
        assert!(Catalogue::parse(r#"{"slots": {}, "extra": 1}"#).unwrap_err().contains("unknown field"));
        assert!(Catalogue::parse("{").is_err());
        assert!(Catalogue::parse(r#"{"slots": {}}"#).unwrap_err().contains("empty"));
    }

    #[test]
    fn smooth_round_robin_spreads_heavy_ads() {
        let mut cur = vec![0; 3];
        let seq: Vec<usize> = (0..7).map(|_| pick_smooth(&[5, 1, 1], &mut cur)).collect();
        assert_eq!(seq, [0, 0, 1, 0, 2, 0, 0]);
    }

    #[test]
    fn each_ad_gets_its_weight_per_cycle() {
        let weights = [5, 3, 2];
        let mut cur = vec![0; 3];
        let mut counts = [0; 3];
        for _ in 0..10 * 4 {
            counts[pick_smooth(&weights, &mut cur)] += 1;
        }
        assert_eq!(counts, [20, 12, 8]);
    }

    #[test]
    fn pick_by_slot() {
        let c = Catalogue::parse(BUNDLE).unwrap();
        assert!(c.pick("nope").is_none());
        let ids: Vec<&str> = (0..4).map(|_| c.pick("interstitial").unwrap().id.as_str()).collect();
        assert_eq!(ids, ["in-game", "in-travel", "in-game", "in-travel"]);
    }
}
