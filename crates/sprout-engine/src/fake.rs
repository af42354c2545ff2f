//! FakeEngine: an in-memory container engine that behaves like Docker, for fast controller tests.
//!
//! It keeps images, networks and containers behind one mutex, walks containers through Docker's
//! state machine (Created -> Running -> Exited) with exit codes, the OOM flag and health, hands
//! out deterministic ids and ephemeral host ports from 40000, records every call, and injects the
//! failures that hurt in production: auth-failing pulls, stops that hang, an engine that is down.
//! Waiting (stop timeouts) uses `tokio::time`, so tests run with paused time.
//!
//! Not here: real processes, real ports or real images; nothing listens on the published ports.
//! Clones share one world (the state sits behind an `Arc`), so a test keeps a clone to drive the
//! hooks while a controller owns another.

mod engine;
mod state;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, MutexGuard};

use crate::{ContainerSpec, ContainerState, ContainerStatus, DockerHealth, EngineError, NetworkStatus};
use state::{DEFAULT_IMAGE_SIZE, PullFailure, State, StopBehaviour};

/// Wall-clock time the fake's clock starts at (2025-01-01T00:00:00Z), so timestamps are stable.
const EPOCH_UNIX_SECS: u64 = 1_735_689_600;

/// In-memory engine for tests. Cheap to clone; clones share state.
#[derive(Debug, Clone)]
pub struct FakeEngine {
    state: Arc<Mutex<State>>,
    /// The fake's timestamps are this instant plus `tokio::time` elapsed, so paused-time tests
    /// see `started_at` move with the virtual clock.
    epoch: tokio::time::Instant,
}

impl Default for FakeEngine {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeEngine {
    pub fn new() -> Self {
        FakeEngine { state: Arc::new(Mutex::new(State::new())), epoch: tokio::time::Instant::now() }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock should not hide its own failure behind a
        // poisoned-mutex panic in every later call.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current fake time as RFC 3339.
    fn now(&self) -> String {
        let elapsed = self.epoch.elapsed();
        state::rfc3339(EPOCH_UNIX_SECS + elapsed.as_secs(), elapsed.subsec_nanos())
    }

    // ---- images and pulls ----

    /// Make an image present locally (as if built or pulled earlier).
    pub fn add_image(&self, image: &str) {
        self.lock().add_image(image, DEFAULT_IMAGE_SIZE);
    }

    /// Make an image present with a given size, for image-size reports.
    pub fn add_image_with_size(&self, image: &str, size_bytes: u64) {
        self.lock().add_image(image, size_bytes);
    }

    /// Let `pull_image` succeed for this image (the registry has it, with a digest).
    pub fn make_pullable(&self, image: &str) {
        self.lock().add_pullable(image, DEFAULT_IMAGE_SIZE);
    }

    /// The registry at `host` wants this user and password for every pull and look-up; any
    /// other credential, or none, is refused (`Auth`), as a registry after a password change.
    pub fn require_registry_login(&self, host: &str, user: &str, password: &str) {
        self.lock().registry_logins.insert(host.to_string(), (user.to_string(), password.to_string()));
    }

    /// While set, the registry at `host` does not answer: pulls and look-ups fail `Transient`.
    pub fn set_registry_down(&self, host: &str, down: bool) {
        let mut state = self.lock();
        if down {
            state.registries_down.insert(host.to_string());
        } else {
            state.registries_down.remove(host);
        }
    }

    /// The repository digests of a local image (`NAME@sha256:...`), empty for a local build.
    pub fn repo_digests(&self, image: &str) -> Vec<String> {
        self.lock().find_image(image).map(|i| i.repo_digests.clone()).unwrap_or_default()
    }

    /// Every pull of `image` fails with `Pull` carrying `message`, until `clear_pull_failure`.
    pub fn fail_pull(&self, image: &str, message: &str) {
        let failure = PullFailure::Other(message.to_string());
        self.lock().pull_failures.insert(state::normalize_image(image), failure);
    }

    /// Every pull of `image` fails with `Auth`, as a registry does after a password change.
    pub fn fail_pull_auth(&self, image: &str) {
        let message = "unauthorized: authentication required".to_string();
        self.lock().pull_failures.insert(state::normalize_image(image), PullFailure::Auth(message));
    }

    pub fn clear_pull_failure(&self, image: &str) {
        self.lock().pull_failures.remove(&state::normalize_image(image));
    }

    /// Delete a local image (as `docker rmi` would), so the next deploy must pull.
    pub fn remove_image(&self, image: &str) {
        self.lock().images.remove(&state::normalize_image(image));
    }

    /// Local images, normalized to `name:tag`.
    pub fn images(&self) -> Vec<String> {
        self.lock().images.keys().cloned().collect()
    }

    // ---- containers ----

    /// The container's process exits by itself with `code`.
    pub fn exit_container(&self, name: &str, code: i64) {
        let now = self.now();
        if let Some(c) = self.lock().containers.get_mut(name) {
            c.exit(code, now);
        }
    }

    /// The kernel kills the container for exceeding its memory limit (exit 137, OOMKilled).
    pub fn oom_kill(&self, name: &str) {
        let now = self.now();
        if let Some(c) = self.lock().containers.get_mut(name) {
            c.exit(137, now);
            c.oom_killed = true;
        }
    }

    /// Set Docker's own health verdict (only meaningful for containers with a healthcheck).
    pub fn set_docker_health(&self, name: &str, health: DockerHealth) {
        if let Some(c) = self.lock().containers.get_mut(name) {
            c.health = Some(health);
        }
    }

    /// The container ignores SIGTERM: `stop_container` waits the whole timeout, then kills it.
    pub fn hang_on_stop(&self, name: &str) {
        self.lock().stop_behaviour.insert(name.to_string(), StopBehaviour::IgnoreTerm);
    }

    /// The container can be neither stopped nor killed: `stop_container` waits the timeout and
    /// returns `StopFailed` with `message` (e.g. "Cannot allocate memory"); it keeps running.
    pub fn fail_stop(&self, name: &str, message: &str) {
        let behaviour = StopBehaviour::Unkillable(message.to_string());
        self.lock().stop_behaviour.insert(name.to_string(), behaviour);
    }

    /// The container stops normally again.
    pub fn clear_stop_behaviour(&self, name: &str) {
        self.lock().stop_behaviour.remove(name);
    }

    /// Append a line to the container's log.
    pub fn push_log(&self, name: &str, line: &str) {
        if let Some(c) = self.lock().containers.get_mut(name) {
            c.logs.push(line.to_string());
        }
    }

    /// Every container, running or not, sorted by name.
    pub fn containers(&self) -> Vec<ContainerStatus> {
        self.lock().containers.values().map(|c| c.status()).collect()
    }

    pub fn container(&self, name: &str) -> Option<ContainerStatus> {
        self.lock().containers.get(name).map(|c| c.status())
    }

    /// The spec a container was created from, to assert on env, binds, ports and so on.
    pub fn container_spec(&self, name: &str) -> Option<ContainerSpec> {
        self.lock().containers.get(name).map(|c| c.spec.clone())
    }

    /// Names of running containers, sorted.
    pub fn running(&self) -> Vec<String> {
        let state = self.lock();
        let running = state.containers.values().filter(|c| c.state == ContainerState::Running);
        running.map(|c| c.spec.name.clone()).collect()
    }

    // ---- networks, engine-wide failures and the call log ----

    /// Every network, sorted by name.
    pub fn networks(&self) -> Vec<NetworkStatus> {
        self.lock().list_networks(&Default::default())
    }

    /// While set, every call returns `Unavailable`, as when the daemon is down.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.lock().unavailable = unavailable;
    }

    /// From now on the engine cannot run privileged containers, for this reason (as a swarm
    /// engine): `privileged_refusal` answers it.
    pub fn refuse_privileged(&self, why: &str) {
        self.lock().privileged_refusal = Some(why.to_string());
    }

    /// The next call of `operation` (a trait method name, e.g. "start_container") on `name` (the
    /// container, network or image it names) fails with `error`. Queued errors fire in order.
    pub fn fail_next(&self, operation: &str, name: &str, error: EngineError) {
        let key = (operation.to_string(), name.to_string());
        self.lock().injected.entry(key).or_default().push_back(error);
    }

    /// Every call so far, in order, as "operation object" (e.g. "create_container sprout-a-b-i1-web").
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    /// Calls whose text starts with `prefix`, e.g. `calls_matching("pull_image")`.
    pub fn calls_matching(&self, prefix: &str) -> Vec<String> {
        self.lock().calls.iter().filter(|c| c.starts_with(prefix)).cloned().collect()
    }

    pub fn clear_calls(&self) {
        self.lock().calls.clear();
    }
}
