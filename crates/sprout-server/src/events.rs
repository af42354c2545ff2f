//! Recording typed events (`sprout_model::event::Event`): the store's row for one event. Emitted
//! in one place, `Ctx::emit`.

use chrono::{DateTime, Utc};
pub use sprout_model::event::Event;
use sprout_store::NewEvent;

/// The store's row for `event` of `app` (and environment `env`) at `at`.
pub fn record(event: &Event, app: &str, env: Option<&str>, at: DateTime<Utc>) -> NewEvent {
    NewEvent {
        app: app.to_string(),
        env: env.map(str::to_string),
        at,
        level: event.level(),
        kind: event.kind().to_string(),
        message: event.message(),
    }
}
