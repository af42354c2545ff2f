//! One look at the engine shared by every environment's controller.
//!
//! Each controller pass needs its environment's containers (and now and then its networks).
//! Asking the engine once per environment made the engine and the server work in proportion
//! to environments × passes: at 325 instances an idle server spent 18% of its CPU listing
//! containers, and Docker walked all of them for every list. Here one list of everything this
//! server owns is taken at a time and handed, split by environment, to every controller that
//! asks while it is fresh enough for it.
//!
//! "Fresh enough" is the caller's to say (`Fresh`): a list that *started* after every change the
//! caller knows of (a launch, start or retirement of its environment that ended, an engine event
//! about its containers: each noted here with a sequence number, since two instants can be
//! equal), and no earlier than it can afford to miss a change nobody announced. Lists are taken
//! one at a time: a caller whose bound the list in flight does not meet waits for it, then takes
//! the next, which serves everyone who queued meanwhile. Only worth it while the engine's events
//! announce changes (`controller::watch`); without them controllers ask the engine themselves.
//!
//! Not here: grouping an environment's containers into instances (`observe`).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sprout_engine::{ContainerStatus, Engine, EngineError, NetworkStatus};
use sprout_model::names::{LABEL_APP, LABEL_ENV, LABEL_SERVER};
use tokio::time::Instant;

use super::observe::{ObservedInstance, group_instances};
use crate::context::EnvKey;

/// The engine's containers and networks of this server, shared by every controller.
#[derive(Debug, Default)]
pub struct SharedLook {
    containers: Shared<ContainerStatus>,
    networks: Shared<NetworkStatus>,
    /// Counts the changes noted; a list remembers the count at its start.
    sequence: AtomicU64,
    /// The count at each environment's last change.
    changes: Mutex<HashMap<EnvKey, u64>>,
    /// The count when every environment last changed as far as anyone knows: when the engine's
    /// events came back after a break, what happened meanwhile went unannounced.
    all_changed: AtomicU64,
}

/// How fresh a list must be: started after change number `after_change` was noted, and no
/// earlier than `not_before`.
#[derive(Debug, Clone, Copy)]
pub struct Fresh {
    pub after_change: u64,
    pub not_before: Instant,
}

impl Fresh {
    fn met_by(&self, (sequence, started): Started) -> bool {
        sequence >= self.after_change && started >= self.not_before
    }
}

impl SharedLook {
    /// Note that `app`/`env`'s objects on the engine changed (the engine reported an event, or
    /// this server launched, started or removed an instance): its next look starts after now.
    pub fn note_change(&self, app: &str, env: &str) {
        let mut changes = self.changes.lock().unwrap();
        let n = self.sequence.fetch_add(1, Ordering::SeqCst) + 1;
        changes.insert(EnvKey::new(app, env), n);
    }

    /// Note that anything may have changed, for every environment (`watch`, when the engine's
    /// events come back): no list taken before now serves anyone.
    pub fn note_all_changed(&self) {
        let _changes = self.changes.lock().unwrap();
        let n = self.sequence.fetch_add(1, Ordering::SeqCst) + 1;
        self.all_changed.store(n, Ordering::SeqCst);
    }

    /// The number of `app`/`env`'s last change (0 if none since this server started): a list
    /// that starts after it shows it.
    pub fn last_change(&self, app: &str, env: &str) -> u64 {
        let changes = self.changes.lock().unwrap();
        let own = changes.get(&EnvKey::new(app, env)).copied().unwrap_or(0);
        own.max(self.all_changed.load(Ordering::SeqCst))
    }

    /// Every instance of `app`/`env` the engine has for `server` (one-off instances too), from a
    /// list as `fresh` as asked; with `with_networks`, found by their networks too (see
    /// `observe::observe_environment`).
    pub async fn environment(
        &self,
        engine: &dyn Engine,
        server: &str,
        (app, env): (&str, &str),
        with_networks: bool,
        fresh: Fresh,
    ) -> Result<Vec<ObservedInstance>, EngineError> {
        let filter = BTreeMap::from([(LABEL_SERVER.to_string(), server.to_string())]);
        let key = EnvKey::new(app, env);
        let sequence = || self.sequence.load(Ordering::SeqCst);
        let containers = self.containers.of(&key, fresh, sequence, || engine.list_containers(&filter)).await?;
        let networks = if with_networks {
            self.networks.of(&key, fresh, sequence, || engine.list_networks(&filter)).await?
        } else {
            Vec::new()
        };
        Ok(group_instances(containers, networks))
    }
}

/// Objects the engine labels with their environment.
trait Labelled {
    fn labels(&self) -> &BTreeMap<String, String>;
}

impl Labelled for ContainerStatus {
    fn labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }
}

impl Labelled for NetworkStatus {
    fn labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }
}

/// The last list of one kind of object, split by environment.
type ByEnv<T> = Arc<Result<HashMap<EnvKey, Vec<T>>, EngineError>>;
/// When a list started: the change count then, and the instant.
type Started = (u64, Instant);

/// One kind of object's last list. The lock is held while a list is taken, so lists never
/// overlap and a caller queued behind one sees its result before deciding to take another.
#[derive(Debug)]
struct Shared<T> {
    /// The last list, with the change count and the instant at its start.
    last: tokio::sync::Mutex<Option<(Started, ByEnv<T>)>>,
}

impl<T> Default for Shared<T> {
    fn default() -> Self {
        Shared { last: tokio::sync::Mutex::new(None) }
    }
}

impl<T: Labelled + Clone> Shared<T> {
    /// `key`'s objects from a list as `fresh` as asked, taken by `fetch` when the last one is
    /// not (`sequence` reads the change count at its start). A failed list is an answer too, to
    /// everyone it is fresh enough for.
    async fn of<F, Fut>(
        &self,
        key: &EnvKey,
        fresh: Fresh,
        sequence: impl Fn() -> u64,
        fetch: F,
    ) -> Result<Vec<T>, EngineError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<T>, EngineError>>,
    {
        let mut last = self.last.lock().await;
        let list = match &*last {
            Some((started, list)) if fresh.met_by(*started) => list.clone(),
            _ => {
                let started = (sequence(), Instant::now());
                let list: ByEnv<T> = Arc::new(fetch().await.map(split));
                *last = Some((started, list.clone()));
                list
            }
        };
        drop(last);
        match &*list {
            Ok(by_env) => Ok(by_env.get(key).cloned().unwrap_or_default()),
            Err(e) => Err(e.clone()),
        }
    }
}

fn split<T: Labelled>(objects: Vec<T>) -> HashMap<EnvKey, Vec<T>> {
    let mut by_env: HashMap<EnvKey, Vec<T>> = HashMap::new();
    for o in objects {
        let (Some(app), Some(env)) = (o.labels().get(LABEL_APP), o.labels().get(LABEL_ENV)) else { continue };
        by_env.entry(EnvKey::new(app, env)).or_default().push(o);
    }
    by_env
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn container(app: &str, env: &str, name: &str) -> ContainerStatus {
        ContainerStatus {
            id: name.into(),
            name: name.into(),
            image: "busybox".into(),
            labels: BTreeMap::from([(LABEL_APP.to_string(), app.into()), (LABEL_ENV.to_string(), env.into())]),
            state: sprout_engine::ContainerState::Running,
            exit_code: None,
            oom_killed: false,
            health: None,
            ports: Vec::new(),
            ip: None,
            started_at: String::new(),
            finished_at: String::new(),
        }
    }

    #[tokio::test]
    async fn a_list_fresh_enough_is_shared_and_a_stale_one_is_taken_again() {
        let look = SharedLook::default();
        let shared = &look.containers;
        let lists = AtomicUsize::new(0);
        let fetch = || async {
            lists.fetch_add(1, Ordering::SeqCst);
            Ok(vec![container("a", "one", "c1"), container("a", "two", "c2"), container("b", "one", "c3")])
        };
        let sequence = || look.sequence.load(Ordering::SeqCst);
        let fresh = |app: &str, env: &str, not_before| Fresh { after_change: look.last_change(app, env), not_before };
        let start = Instant::now();
        let one = shared.of(&EnvKey::new("a", "one"), fresh("a", "one", start), sequence, fetch).await.unwrap();
        let two = shared.of(&EnvKey::new("a", "two"), fresh("a", "two", start), sequence, fetch).await.unwrap();
        assert_eq!((one[0].name.as_str(), two[0].name.as_str(), lists.load(Ordering::SeqCst)), ("c1", "c2", 1));
        let none = shared.of(&EnvKey::new("c", "none"), fresh("c", "none", start), sequence, fetch).await;
        assert!(none.unwrap().is_empty());
        // A caller whose environment changed after the list began gets a new list, even at the
        // same instant; the new list serves the others too.
        look.note_change("a", "one");
        shared.of(&EnvKey::new("a", "one"), fresh("a", "one", start), sequence, fetch).await.unwrap();
        assert_eq!(lists.load(Ordering::SeqCst), 2);
        shared.of(&EnvKey::new("a", "two"), fresh("a", "two", start), sequence, fetch).await.unwrap();
        shared.of(&EnvKey::new("a", "one"), fresh("a", "one", start), sequence, fetch).await.unwrap();
        assert_eq!(lists.load(Ordering::SeqCst), 2);
        // And one after anything may have changed everywhere.
        look.note_all_changed();
        shared.of(&EnvKey::new("b", "one"), fresh("b", "one", start), sequence, fetch).await.unwrap();
        assert_eq!(lists.load(Ordering::SeqCst), 3);
        // So does a caller that takes no list older than a later instant.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        shared.of(&EnvKey::new("a", "two"), fresh("a", "two", Instant::now()), sequence, fetch).await.unwrap();
        assert_eq!(lists.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn a_failed_list_is_the_answer_for_those_it_is_fresh_for() {
        let shared: Shared<ContainerStatus> = Shared::default();
        let fresh = Fresh { after_change: 0, not_before: Instant::now() };
        let failing =
            || async { Err(EngineError::Unavailable { endpoint: "fake".into(), message: "engine gone".into() }) };
        let err = shared.of(&EnvKey::new("a", "one"), fresh, || 0, failing).await.unwrap_err();
        assert!(err.to_string().contains("engine gone"), "{err}");
        let err = shared.of(&EnvKey::new("a", "two"), fresh, || 0, || async { Ok(Vec::new()) }).await.unwrap_err();
        assert!(err.to_string().contains("engine gone"), "{err}");
    }
}
