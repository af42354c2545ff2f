//! Registry calls through the circuit: the digest look-up a deploy makes before it is accepted,
//! and pulls, one per image across the whole server. A launch that needs an image joins the pull
//! in flight instead of starting its own; every environment waiting for it hears its start, its
//! progress (every few seconds, in layers and bytes), its end, and the registry's refusal, once.
//!
//! Each call tries the image's sources in order (a mirror, then its registry, or the other way)
//! and skips a source whose circuit holds calls back. Not here: deciding which images a version
//! needs (`images`) nor the back-off itself (`sprout_plan::registry`).

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sprout_engine::{EngineError, PullProgress};
use sprout_model::image::ImageRef;
use sprout_plan::registry::Attempt;

use super::{CallOutcome, Chosen, describe_refusal};
use crate::context::Ctx;
use crate::events::Event;

/// How often a pull's progress is said in the events of those waiting for it.
const PROGRESS_EVERY: Duration = Duration::from_secs(3);
/// After a pull failed for a reason that is not the registry's (the image is not there), the
/// wait before the next.
const RETRY_OTHER: chrono::TimeDelta = chrono::TimeDelta::seconds(30);

/// (application, environment): who waits for a pull.
pub type Waiter = (String, String);

#[derive(Debug, Default)]
struct Flight {
    waiters: BTreeSet<Waiter>,
    progress: PullProgress,
    source: String,
}

/// Why the last pull of an image did not bring it, and when the next may start.
#[derive(Debug, Clone)]
struct Held {
    cause: String,
    retry_at: DateTime<Utc>,
}

/// Pulls in flight and the last refusal of each image, across the server.
#[derive(Debug, Default)]
pub struct Pulls {
    inflight: Mutex<HashMap<String, Flight>>,
    held: Mutex<HashMap<String, Held>>,
}

/// Where a pull stands for a caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullState {
    /// Running (just started, or joined): how far it is.
    InFlight { source: String, progress: PullProgress },
    /// Not running: why, and until when nothing is tried.
    Held(String),
}

impl Pulls {
    /// Forget every hold: a credential changed, so every image is tried again at once.
    pub fn forget_holds(&self) {
        self.held.lock().unwrap().clear();
    }

    fn hold(&self, image: &str, cause: String, retry_at: DateTime<Utc>) {
        self.held.lock().unwrap().insert(image.to_string(), Held { cause, retry_at });
    }
}

/// How one call to one source ended.
enum Tried<T> {
    Done(T),
    /// The source refused the credential, did not answer, or its circuit holds calls back:
    /// the cause, and when to try again.
    Held(String, DateTime<Utc>),
    /// The registry answered that it cannot give the image, or the engine failed.
    Failed(String),
}

/// The outcome of a look-up.
#[derive(Debug)]
pub enum LookUp {
    Found(String),
    /// The registry refused access and Sprout holds no credential for it: log in first.
    NoCredential(String),
    /// A stored credential was refused, or the registry is held back or did not answer.
    Held(String),
    Failed(String),
}

fn outcome_of(err: &EngineError) -> CallOutcome {
    match err {
        EngineError::Auth { message, .. } => CallOutcome::Refused(message.clone()),
        EngineError::Transient { message, .. } => CallOutcome::Transient(message.clone()),
        _ => CallOutcome::Other,
    }
}

/// Runs `call` against the source `host` if its circuit lets it, and reports the outcome.
async fn through_circuit<T, F, Fut>(
    ctx: &Ctx,
    host: &str,
    chosen: &Chosen,
    waiters: &BTreeSet<Waiter>,
    call: F,
) -> Tried<T>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<T, EngineError>>,
{
    let reg = &ctx.registries;
    let key = chosen.circuit_key(host);
    let now = ctx.clock.now();
    match reg.decide(&key, now) {
        Attempt::Go => {}
        Attempt::Busy => {
            let cause = format!("waiting for the answer of a call to registry {host} that is out");
            return Tried::Held(cause, now);
        }
        Attempt::Wait { until, why } => {
            return Tried::Held(describe_refusal(host, &chosen.username, &why, until), until);
        }
    }
    let result = call().await;
    let now = ctx.clock.now();
    let outcome = match &result {
        Ok(_) => CallOutcome::Accepted,
        Err(e) => outcome_of(e),
    };
    let next = reg.report(&*ctx.store, &key, now, &outcome).await;
    match (result, next) {
        (Ok(v), _) => Tried::Done(v),
        (Err(e), Some((until, opened))) => {
            if let (CallOutcome::Refused(message), true) = (&outcome, opened) {
                // Said once per opening of the circuit: one log line, one event per waiting
                // environment, never one per instance.
                tracing::warn!(registry = host, user = %chosen.username, "registry refused the credential: {message}");
                let event = Event::RegistryRefused {
                    registry: host.to_string(),
                    user: chosen.username.clone(),
                    at: super::clock_time(now),
                    next_try: super::clock_time(until),
                    message: message.clone(),
                };
                for (app, env) in waiters {
                    ctx.emit(app, Some(env), event.clone()).await;
                }
            }
            let refusal = ctx.registries.refusal_of(&key, now);
            let cause = refusal
                .map_or_else(|| e.to_string(), |(why, until)| describe_refusal(host, &chosen.username, &why, until));
            Tried::Held(cause, until)
        }
        (Err(e), None) => Tried::Failed(e.to_string()),
    }
}

/// Asks the image's registry (or its mirror) for the image's digest: the existence check a
/// deploy makes before it is accepted. `waiters` hear a refusal that opens a circuit.
pub async fn look_up(ctx: &Ctx, app: &str, config: Option<&str>, image: &str, waiters: &BTreeSet<Waiter>) -> LookUp {
    let parsed = ImageRef::parse(image);
    let mut last = LookUp::Failed(format!("no registry to ask about {image}"));
    for source in ctx.registries.settings.sources(&parsed.registry) {
        let chosen = match ctx.registries.credential(&*ctx.store, &source, app, config).await {
            Ok(c) => c,
            Err(e) => return LookUp::Failed(e.to_string()),
        };
        let reference = if source == parsed.registry { image.to_string() } else { parsed.in_registry(&source) };
        let auth = chosen.auth.clone();
        let tried =
            through_circuit(ctx, &source, &chosen, waiters, || ctx.engine.registry_digest(&reference, auth.as_ref()))
                .await;
        last = match tried {
            Tried::Done(digest) => return LookUp::Found(digest),
            Tried::Held(cause, _) if chosen.key.is_none() && cause.contains("refused") => LookUp::NoCredential(cause),
            Tried::Held(cause, _) => LookUp::Held(cause),
            Tried::Failed(message) => LookUp::Failed(message),
        };
    }
    last
}

/// Where the pull of `image` stands for `waiter`: joined if one is in flight, started if none
/// is and nothing holds it back, else why not. `image` may name an image by digest.
pub fn ensure(ctx: &Ctx, waiter: Waiter, config: Option<String>, image: &str) -> PullState {
    let pulls = &ctx.registries.pulls;
    let mut inflight = pulls.inflight.lock().unwrap();
    if let Some(f) = inflight.get_mut(image) {
        f.waiters.insert(waiter);
        return PullState::InFlight { source: f.source.clone(), progress: f.progress };
    }
    if let Some(h) = pulls.held.lock().unwrap().get(image)
        && ctx.clock.now() < h.retry_at
    {
        return PullState::Held(h.cause.clone());
    }
    let source = ImageRef::parse(image).registry;
    inflight.insert(
        image.to_string(),
        Flight { waiters: BTreeSet::from([waiter.clone()]), progress: PullProgress::default(), source: source.clone() },
    );
    drop(inflight);
    let (ctx2, image2) = (ctx.clone(), image.to_string());
    tokio::spawn(async move { run_pull(&ctx2, &waiter.0, config.as_deref(), &image2).await });
    PullState::InFlight { source, progress: PullProgress::default() }
}

fn waiters_of(ctx: &Ctx, image: &str) -> BTreeSet<Waiter> {
    ctx.registries.pulls.inflight.lock().unwrap().get(image).map(|f| f.waiters.clone()).unwrap_or_default()
}

async fn say(ctx: &Ctx, image: &str, event: Event) {
    for (app, env) in waiters_of(ctx, image) {
        ctx.emit(&app, Some(&env), event.clone()).await;
    }
}

/// One pull: each source in turn until one gives the image; then the flight ends, its waiters
/// are woken, and a hold is kept if none gave it.
async fn run_pull(ctx: &Ctx, app: &str, config: Option<&str>, image: &str) {
    let parsed = ImageRef::parse(image);
    let by_digest = parsed.suffix.starts_with('@');
    let mut held: Option<(String, DateTime<Utc>)> = None;
    for source in ctx.registries.settings.sources(&parsed.registry) {
        let chosen = match ctx.registries.credential(&*ctx.store, &source, app, config).await {
            Ok(c) => c,
            Err(e) => {
                held = Some((e.to_string(), ctx.clock.now() + RETRY_OTHER));
                continue;
            }
        };
        let reference = if source == parsed.registry { image.to_string() } else { parsed.in_registry(&source) };
        if let Some(f) = ctx.registries.pulls.inflight.lock().unwrap().get_mut(image) {
            f.source = source.clone();
        }
        let started = tokio::time::Instant::now();
        let last_said = Mutex::new(started);
        let (progress_ctx, progress_image) = (ctx.clone(), image.to_string());
        let report = move |p: PullProgress| {
            if let Some(f) = progress_ctx.registries.pulls.inflight.lock().unwrap().get_mut(&progress_image) {
                f.progress = p;
            }
            let mut last = last_said.lock().unwrap();
            if last.elapsed() >= PROGRESS_EVERY {
                *last = tokio::time::Instant::now();
                let (ctx, image) = (progress_ctx.clone(), progress_image.clone());
                tokio::spawn(async move {
                    let event = Event::ImagePullProgress {
                        image: image.clone(),
                        layers_done: p.layers_done,
                        layers: p.layers,
                        bytes_done: p.bytes_done,
                        bytes: p.bytes,
                    };
                    say(&ctx, &image, event).await;
                });
            }
        };
        let waiters = waiters_of(ctx, image);
        let auth = chosen.auth.clone();
        let tried = through_circuit(ctx, &source, &chosen, &waiters, || async {
            say(ctx, image, Event::ImagePullStarted { image: image.to_string(), source: source.clone() }).await;
            ctx.engine.pull_image_reporting(&reference, auth.as_ref(), &report).await
        })
        .await;
        match tried {
            Tried::Done(()) => {
                if reference != image
                    && !by_digest
                    && let Err(e) = ctx.engine.tag_image(&reference, image).await
                {
                    held = Some((
                        format!("pulled {reference} but cannot name it {image}: {e}"),
                        ctx.clock.now() + RETRY_OTHER,
                    ));
                    continue;
                }
                let status = ctx.engine.inspect_image(image).await.unwrap_or_default();
                let digest = status.repo_digests.first().and_then(|d| d.split_once('@')).map(|(_, d)| d.to_string());
                let millis = started.elapsed().as_millis() as u64;
                let event = Event::ImagePulled {
                    image: image.to_string(),
                    digest: digest.unwrap_or_else(|| "no digest".into()),
                    size_bytes: status.size_bytes,
                    millis,
                };
                say(ctx, image, event).await;
                finish(ctx, image, None);
                return;
            }
            Tried::Held(cause, until) => held = Some((cause, until)),
            Tried::Failed(message) => {
                let retry_at = ctx.clock.now() + RETRY_OTHER;
                let event = Event::ImagePullFailed {
                    image: image.to_string(),
                    error: message.clone(),
                    retry_at: super::clock_time(retry_at),
                };
                say(ctx, image, event).await;
                held = Some((format!("the pull of {image} failed: {message}"), retry_at));
            }
        }
    }
    finish(ctx, image, held);
}

/// The flight of `image` ends; its waiters look again at once.
fn finish(ctx: &Ctx, image: &str, held: Option<(String, DateTime<Utc>)>) {
    let flight = ctx.registries.pulls.inflight.lock().unwrap().remove(image);
    if let Some((cause, retry_at)) = held {
        ctx.registries.pulls.hold(image, cause, retry_at);
    } else {
        ctx.registries.pulls.held.lock().unwrap().remove(image);
    }
    for (app, env) in flight.map(|f| f.waiters).unwrap_or_default() {
        ctx.wake(&app, &env);
    }
}
