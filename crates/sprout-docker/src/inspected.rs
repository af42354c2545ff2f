//! Inspections of running containers, kept while the engine's list shows them unchanged.
//!
//! A controller pass lists its environment's containers every second, and the list lacks what
//! Sprout judges by (exit code, OOM kill, Docker's health verdict, the container's address), so
//! every container used to be inspected on every pass: with hundreds of instances, hundreds of
//! inspections a second for answers that do not change while a container runs. A running
//! container's inspection is kept while its list entry says the same thing (running, and the
//! same health verdict in `Status`); any other state is inspected afresh.
//!
//! Not here: what is inspected and how it is converted (`convert`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use bollard::models::{ContainerSummary, ContainerSummaryStateEnum};
use sprout_engine::{ContainerState, ContainerStatus};

/// Entries no list has shown for this long are dropped (their containers are gone).
const FORGET_AFTER: Duration = Duration::from_secs(60);

/// What of a list entry, unchanged, means a running container's inspection still holds: its
/// id, that it runs, and Docker's health verdict (`Up 5 minutes (healthy)`: the time moves, the
/// verdict in brackets is what matters). None for a container in any other state.
pub(crate) fn fingerprint(summary: &ContainerSummary) -> Option<String> {
    if summary.state != Some(ContainerSummaryStateEnum::RUNNING) {
        return None;
    }
    let status = summary.status.as_deref().unwrap_or("");
    let verdict = status.rfind('(').map(|i| &status[i..]).unwrap_or("");
    Some(format!("{}|{verdict}", summary.id.as_deref()?))
}

#[derive(Debug, Default)]
pub(crate) struct Inspected {
    kept: Mutex<HashMap<String, (ContainerStatus, tokio::time::Instant)>>,
}

impl Inspected {
    /// The kept inspection for this list entry, if it still holds.
    pub fn get(&self, summary: &ContainerSummary) -> Option<ContainerStatus> {
        let key = fingerprint(summary)?;
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        let (status, seen) = kept.get_mut(&key)?;
        *seen = tokio::time::Instant::now();
        Some(status.clone())
    }

    /// Keep an inspection made for this list entry (only of a running container).
    pub fn keep(&self, summary: &ContainerSummary, status: &ContainerStatus) {
        let Some(key) = fingerprint(summary).filter(|_| status.state == ContainerState::Running) else { return };
        let now = tokio::time::Instant::now();
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.retain(|_, (_, seen)| now.duration_since(*seen) < FORGET_AFTER);
        kept.insert(key, (status.clone(), now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(state: ContainerSummaryStateEnum, status: &str) -> ContainerSummary {
        ContainerSummary {
            id: Some("abc".into()),
            state: Some(state),
            status: Some(status.into()),
            ..Default::default()
        }
    }

    fn running() -> ContainerStatus {
        ContainerStatus {
            id: "abc".into(),
            name: "web".into(),
            image: "web:1".into(),
            labels: Default::default(),
            state: ContainerState::Running,
            exit_code: None,
            oom_killed: false,
            health: None,
            ports: Vec::new(),
            ip: None,
            started_at: "2026-11-30T00:00:00Z".into(),
            finished_at: String::new(),
        }
    }

    #[test]
    fn a_running_containers_inspection_holds_while_its_verdict_does() {
        let kept = Inspected::default();
        let up = summary(ContainerSummaryStateEnum::RUNNING, "Up 3 seconds (health: starting)");
        assert_eq!(kept.get(&up), None);
        kept.keep(&up, &running());
        let later = summary(ContainerSummaryStateEnum::RUNNING, "Up 2 minutes (health: starting)");
        assert_eq!(kept.get(&later), Some(running()));
        // A new verdict, or a container that stopped, is inspected again.
        assert_eq!(kept.get(&summary(ContainerSummaryStateEnum::RUNNING, "Up 2 minutes (healthy)")), None);
        assert_eq!(kept.get(&summary(ContainerSummaryStateEnum::EXITED, "Exited (137) 1 second ago")), None);
        let exited = ContainerStatus { state: ContainerState::Exited, ..running() };
        let gone = summary(ContainerSummaryStateEnum::EXITED, "Exited (137) 1 second ago");
        kept.keep(&gone, &exited);
        assert_eq!(kept.get(&gone), None);
    }
}
