//! Judging one instance: healthy (in service), pending (starting), or unhealthy (to replace).
//!
//! The verdict combines the containers' state (an essential container that exited, was OOM
//! killed or fails its Docker health check condemns the instance) with the load balancer's HTTP
//! probe record. Non-essential containers may exit: run-once jobs and data containers do.

use serde::{Deserialize, Serialize};

/// What the engine shows of one container of an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerObservation {
    /// The container's name in the definition file (`nginx`, `app`).
    pub name: String,
    pub essential: bool,
    /// None when the container does not exist at all.
    pub state: Option<ObservedState>,
    /// Its memory limit in MiB (`memory` in the definition), to say what an OOM kill hit.
    pub memory_mib: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObservedState {
    Created,
    Running,
    /// Exited with this code; `oom` when the kernel killed it for memory.
    Exited {
        code: i64,
        oom: bool,
    },
    /// Docker's health check says unhealthy while running.
    RunningUnhealthy,
    /// Restarting, dead, removing, paused: not serving.
    Stuck,
}

/// The HTTP probe's record for an instance, kept by the health checker.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProbeRecord {
    /// Has any probe ever passed? An instance takes traffic only after its first pass.
    pub passed_once: bool,
    pub consecutive_failures: u32,
    /// What the last failing probe saw ("GET / returned 500", "connection refused").
    pub last_failure: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", content = "reason")]
pub enum InstanceHealth {
    /// Starting: containers up, no probe passed yet.
    Pending,
    /// In service.
    Healthy,
    /// To be replaced; the reason in words.
    Unhealthy(String),
}

impl InstanceHealth {
    pub fn is_unhealthy(&self) -> bool {
        matches!(self, InstanceHealth::Unhealthy(_))
    }
}

/// Judge an instance. `age_s` is how long ago it was launched; `launch_timeout_s` is how long
/// it may stay pending; `unhealthy_threshold` is how many consecutive failed probes take an
/// in-service instance out.
pub fn judge_instance(
    containers: &[ContainerObservation],
    probe: &ProbeRecord,
    age_s: u64,
    launch_timeout_s: u64,
    unhealthy_threshold: u32,
) -> InstanceHealth {
    for c in containers.iter().filter(|c| c.essential) {
        let why = match c.state {
            None => Some(format!("essential container {} is missing", c.name)),
            Some(ObservedState::Exited { oom: true, .. }) => Some(match c.memory_mib {
                Some(limit) => {
                    format!("essential container {} was killed for lack of memory (OOM, limit {limit} MiB)", c.name)
                }
                None => format!("essential container {} was killed for lack of memory (OOM)", c.name),
            }),
            Some(ObservedState::Exited { code, .. }) => {
                Some(format!("essential container {} exited with code {code}", c.name))
            }
            Some(ObservedState::RunningUnhealthy) => {
                Some(format!("essential container {} fails its Docker health check", c.name))
            }
            Some(ObservedState::Stuck) => Some(format!("essential container {} is not running", c.name)),
            Some(ObservedState::Created) if age_s > launch_timeout_s => {
                Some(format!("essential container {} never started", c.name))
            }
            Some(ObservedState::Created) | Some(ObservedState::Running) => None,
        };
        if let Some(why) = why {
            return InstanceHealth::Unhealthy(why);
        }
    }
    if probe.passed_once {
        if probe.consecutive_failures >= unhealthy_threshold.max(1) {
            let last = probe.last_failure.as_deref().unwrap_or("no answer");
            return InstanceHealth::Unhealthy(format!(
                "failed {} consecutive health checks: {last}",
                probe.consecutive_failures
            ));
        }
        return InstanceHealth::Healthy;
    }
    if age_s > launch_timeout_s {
        let last = probe.last_failure.as_deref().unwrap_or("no answer");
        return InstanceHealth::Unhealthy(format!(
            "did not pass a health check within {launch_timeout_s}s of launch: {last}"
        ));
    }
    InstanceHealth::Pending
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &str, essential: bool, state: Option<ObservedState>) -> ContainerObservation {
        ContainerObservation { name: name.into(), essential, state, memory_mib: None }
    }
    fn passed() -> ProbeRecord {
        ProbeRecord { passed_once: true, ..Default::default() }
    }

    #[test]
    fn running_and_probed_is_healthy() {
        let cs = [c("web", true, Some(ObservedState::Running))];
        assert_eq!(judge_instance(&cs, &passed(), 5, 120, 3), InstanceHealth::Healthy);
    }

    #[test]
    fn not_yet_probed_is_pending_until_timeout() {
        let cs = [c("web", true, Some(ObservedState::Running))];
        assert_eq!(judge_instance(&cs, &ProbeRecord::default(), 5, 120, 3), InstanceHealth::Pending);
        let h = judge_instance(&cs, &ProbeRecord::default(), 121, 120, 3);
        assert!(matches!(h, InstanceHealth::Unhealthy(ref r) if r.contains("within 120s")), "{h:?}");
    }

    #[test]
    fn non_essential_exit_is_fine_essential_exit_is_not() {
        let cs = [
            c("web", true, Some(ObservedState::Running)),
            c("job", false, Some(ObservedState::Exited { code: 0, oom: false })),
        ];
        assert_eq!(judge_instance(&cs, &passed(), 5, 120, 3), InstanceHealth::Healthy);
        let cs = [c("web", true, Some(ObservedState::Exited { code: 137, oom: false }))];
        let h = judge_instance(&cs, &passed(), 5, 120, 3);
        assert_eq!(h, InstanceHealth::Unhealthy("essential container web exited with code 137".into()));
    }

    #[test]
    fn oom_missing_and_docker_unhealthy_are_named() {
        for (state, word) in [
            (Some(ObservedState::Exited { code: 137, oom: true }), "OOM"),
            (None, "missing"),
            (Some(ObservedState::RunningUnhealthy), "Docker health check"),
            (Some(ObservedState::Stuck), "not running"),
        ] {
            let h = judge_instance(&[c("app", true, state)], &passed(), 5, 120, 3);
            assert!(matches!(h, InstanceHealth::Unhealthy(ref r) if r.contains(word)), "{h:?}");
        }
    }

    #[test]
    fn probe_failures_take_an_in_service_instance_out_at_the_threshold() {
        let cs = [c("web", true, Some(ObservedState::Running))];
        let mut p = passed();
        p.consecutive_failures = 2;
        p.last_failure = Some("GET / returned 500".into());
        assert_eq!(judge_instance(&cs, &p, 5, 120, 3), InstanceHealth::Healthy);
        p.consecutive_failures = 3;
        let h = judge_instance(&cs, &p, 5, 120, 3);
        assert!(matches!(h, InstanceHealth::Unhealthy(ref r) if r.contains("GET / returned 500")));
    }
}
