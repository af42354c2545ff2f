//! Pull progress: Docker's pull stream says, per layer, "Pulling fs layer", "Downloading" with
//! bytes, "Download complete", "Pull complete" or "Already exists"; this tallies them into one
//! `PullProgress` for the whole image.
//!
//! Not here: the pull call itself (`lib.rs`) nor deciding when to say progress (the server).

use std::collections::BTreeMap;

use sprout_engine::PullProgress;

#[derive(Debug, Default, Clone, Copy)]
struct Layer {
    total: u64,
    current: u64,
    done: bool,
}

/// The layers of one pull, as its stream reports them.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    layers: BTreeMap<String, Layer>,
}

impl Tally {
    /// Folds one message in; returns the new progress when it changed anything.
    pub fn note(&mut self, id: Option<&str>, status: &str, current: Option<i64>, total: Option<i64>) -> bool {
        let Some(id) = id.filter(|id| !id.is_empty()) else { return false };
        // Messages about the image as a whole carry its tag or digest as id, not a layer's.
        let layer_status = matches!(
            status,
            "Pulling fs layer"
                | "Waiting"
                | "Downloading"
                | "Verifying Checksum"
                | "Download complete"
                | "Extracting"
                | "Pull complete"
                | "Already exists"
        );
        if !layer_status {
            return false;
        }
        let layer = self.layers.entry(id.to_string()).or_default();
        let before = *layer;
        match status {
            "Downloading" => {
                layer.total = total.map_or(layer.total, |t| t.max(0) as u64);
                layer.current = current.map_or(layer.current, |c| c.max(0) as u64);
            }
            "Download complete" | "Extracting" => layer.current = layer.total,
            "Pull complete" | "Already exists" => {
                layer.current = layer.total;
                layer.done = true;
            }
            _ => {}
        }
        before.done != layer.done
            || before.current != layer.current
            || before.total != layer.total
            || status == "Pulling fs layer"
    }

    pub fn progress(&self) -> PullProgress {
        PullProgress {
            layers: self.layers.len() as u32,
            layers_done: self.layers.values().filter(|l| l.done).count() as u32,
            bytes: self.layers.values().map(|l| l.total).sum(),
            bytes_done: self.layers.values().map(|l| l.current).sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pull_stream_tallies_into_layers_and_bytes() {
        let mut t = Tally::default();
        assert!(!t.note(Some("2"), "Pulling from adserver/app", None, None));
        assert!(t.note(Some("a"), "Pulling fs layer", None, None));
        assert!(t.note(Some("b"), "Already exists", None, None));
        assert!(t.note(Some("a"), "Downloading", Some(100), Some(400)));
        assert_eq!(t.progress(), PullProgress { layers: 2, layers_done: 1, bytes: 400, bytes_done: 100 });
        assert!(t.note(Some("a"), "Download complete", None, None));
        assert!(t.note(Some("a"), "Pull complete", None, None));
        assert!(!t.note(None, "Digest: sha256:abc", None, None));
        assert_eq!(t.progress(), PullProgress { layers: 2, layers_done: 2, bytes: 400, bytes_done: 400 });
    }
}
