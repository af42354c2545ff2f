//! What a pass reads and what it decides, as data: the input (`PassInput`, `SeenInstance`,
//! `LaunchInFlight`), the controller's memory between passes (`Memory`), and the plan
//! (`PassPlan`: route, write, events, retirements, launches, snapshot, when to look again).
//! Kept apart from `pass.rs`, which is the decision itself.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sprout_model::environment::EnvironmentRecord;
use sprout_model::event::Event;
use sprout_model::options::RoutingOptions;
use sprout_model::scaling::QueueSettings;

use crate::checks::InstanceChecks;
use crate::crashloop::CrashLoops;
use crate::enhanced::Traffic;
use crate::health::ContainerObservation;
use crate::launch_failures::LaunchFailures;
use crate::reconcile::RetireReason;
use crate::snapshot::{ContainerView, EnvSnapshot};

use super::MAX_BACKOFF_S;

/// Everything one pass observed.
#[derive(Debug, Clone)]
pub struct PassInput<'a> {
    /// None: the environment is gone from the store (terminated).
    pub env: Option<&'a EnvironmentRecord>,
    /// The deploy key (version and properties) instances should run.
    pub desired_key: String,
    /// Instances the engine shows, less those being retired.
    pub instances: Vec<SeenInstance>,
    /// Launches in flight, by instance id.
    pub launching: BTreeMap<String, LaunchInFlight>,
    /// Launches that failed since the last pass: (instance, error).
    pub launch_failures: Vec<(String, String)>,
    /// Instances still being retired (draining, stopping, quarantined).
    pub retiring: usize,
    /// Instances in the load balancer's table now.
    pub serving: BTreeSet<String>,
    /// The environment's live traffic over the enhanced-health window.
    pub traffic: Traffic,
    /// Set when the engine could not be listed: nothing else was observed.
    pub engine_error: Option<String>,
    /// Set while the desired version's images are not on the engine (pulls running, a registry
    /// holding calls back): why, in words. Its launches wait; running instances are untouched.
    pub images_waiting: Option<String>,
    /// Set while the deploy's release task has not succeeded (`release`): why, in words.
    /// Launches wait and the deploy cannot finish; running instances are untouched.
    pub release_waiting: Option<String>,
    /// Instances placed on a node that is drained (a cluster engine): one lost there was moved
    /// by the operator, and is replaced without an alert.
    pub on_drained_nodes: BTreeSet<String>,
    /// What `sprout status` showed after the last pass, kept (with the engine's absence said)
    /// while the engine does not answer.
    pub previous: Option<&'a EnvSnapshot>,
    pub launch_timeout_s: u64,
    /// The controller's ordinary pace.
    pub tick: Duration,
    pub now: DateTime<Utc>,
}

/// One instance as the engine shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenInstance {
    pub id: String,
    /// Version label.
    pub version: String,
    /// Deploy key (version and properties).
    pub key: String,
    pub launched_at: i64,
    /// When its containers last started (Unix seconds); None when none has: a stopped warm
    /// instance started long after it was created is given its launch time from the start.
    pub started_at: Option<i64>,
    /// Its containers judged against its version's definition; None when the version is unknown.
    pub containers: Option<Vec<ContainerObservation>>,
    /// Its containers as `sprout status` shows them.
    pub views: Vec<ContainerView>,
    /// Where the load balancer reaches it (its web container's published port).
    pub address: Option<SocketAddr>,
    /// Its own live traffic over the enhanced-health window.
    pub traffic: Traffic,
}

/// A launch in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchInFlight {
    pub key: String,
    pub launched_at: i64,
    /// Creates its instance and leaves it stopped (the stopped warm pool).
    pub stopped: bool,
    /// When it was ordered: a wake is timed from it.
    pub ordered_at: DateTime<Utc>,
}

/// What the controller remembers between passes. All of it can be lost: a restarted server
/// probes every instance again before it takes traffic.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Memory {
    pub checks: BTreeMap<String, InstanceChecks>,
    /// Instances announced in service (their first passing check was said).
    pub announced: BTreeSet<String>,
    /// Launches that failed in a row (reset by an instance coming into service).
    pub failures: u32,
    pub backoff_until: Option<DateTime<Utc>>,
    pub engine_down: bool,
    /// Looks at the engine that failed in a row.
    pub engine_retries: u32,
    /// Causes that keep replacing instances, with their back-off (`crashloop`).
    pub crash_loops: CrashLoops,
    /// Launches failing again and again with one error: said once, counted (`launch_failures`).
    pub launch_failures: LaunchFailures,
    /// Instances launched or started to serve, with when that was ordered, until they come
    /// into service: a wake is timed from it.
    pub wake_began: BTreeMap<String, DateTime<Utc>>,
    /// How long the last instance ordered to serve took to come into service (`hold_bound_ms`).
    /// The one part the controller also notes in the store and reads back after a restart.
    pub wake_time: Option<Duration>,
}

impl Memory {
    /// A launch failed: back off further launches, 2^n seconds up to `MAX_BACKOFF_S`.
    pub(super) fn note_failure(&mut self, now: DateTime<Utc>) -> u64 {
        self.failures += 1;
        let wait = 2u64.saturating_pow(self.failures.min(5)).min(MAX_BACKOFF_S);
        self.backoff_until = Some(now + chrono::Duration::seconds(wait as i64));
        wait
    }

    pub(super) fn forget(&mut self, id: &str) {
        self.checks.remove(id);
        self.announced.remove(id);
        self.wake_began.remove(id);
    }
}

/// What the load balancer should hold for the environment.
#[derive(Debug, Clone, PartialEq)]
pub enum RouteChange {
    /// In-service instances, and the queue bounds for requests held while none has room.
    /// `routing` is the environment's names: its host prefix (`cname`, None when it is the
    /// environment's own name) and custom domains.
    /// `load_balancer` is how its requests are spread and how long its idle clients are kept.
    Set {
        upstreams: Vec<(String, SocketAddr)>,
        queue: QueueSettings,
        routing: RoutingOptions,
        load_balancer: sprout_model::options::LoadBalancerOptions,
        /// `health.ignore_codes`: 5xx the environment's health does not count.
        ignore_codes: Vec<u16>,
    },
    /// Nothing will come into service (terminating): no instance, nothing held.
    Refuse,
    /// The environment is gone, or is a worker (no route): its host names answer 404.
    Remove,
}

/// The store write the pass asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Compare-and-set at the revision read.
    Update(Box<EnvironmentRecord>),
    /// The environment is terminated and nothing of it is left.
    Delete,
}

/// An instance to take out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retirement {
    pub id: String,
    pub reason: RetireReason,
    /// Let in-flight requests finish first (not for an unhealthy instance).
    pub drain: bool,
}

/// When to look again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    After(Duration),
    /// Nothing of the environment is left: the controller ends.
    Done,
}

/// Everything one pass should do, in the order the controller does it: publish the route, write,
/// say the events, retire and launch; then keep the snapshot and adopt the memory.
#[derive(Debug, Clone, PartialEq)]
pub struct PassPlan {
    pub route: Option<RouteChange>,
    pub write: Option<Write>,
    pub events: Vec<Event>,
    pub retire: Vec<Retirement>,
    /// Version labels to launch one instance of, each.
    pub launch: Vec<String>,
    /// How many of `launch` (the last ones) create their instance and leave it stopped.
    pub stopped_launches: usize,
    /// Stopped warm instances to start.
    pub start: Vec<String>,
    /// None: forget the snapshot (the environment is gone).
    pub snapshot: Option<EnvSnapshot>,
    pub memory: Memory,
    pub next: Next,
    /// How many of the input's launch failures were noted (said or counted): the controller
    /// forgets that many. None while the engine does not answer.
    pub launch_failures_noted: usize,
}

impl PassPlan {
    pub(super) fn wait(events: Vec<Event>, memory: Memory, after: Duration) -> PassPlan {
        PassPlan {
            route: None,
            write: None,
            events,
            retire: Vec::new(),
            launch: Vec::new(),
            stopped_launches: 0,
            start: Vec::new(),
            snapshot: None,
            memory,
            next: Next::After(after),
            launch_failures_noted: 0,
        }
    }
}
