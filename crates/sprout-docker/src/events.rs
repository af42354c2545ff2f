//! Docker's event stream, as `EngineEvent`s: what happens to the containers whose labels match
//! (`die`, `oom`, `start`, `destroy`, `health_status: ...`), with their labels, as it happens.
//!
//! Not here: what the server does with them (it wakes the environment's controller).

use std::collections::{BTreeMap, HashMap};

use bollard::Docker;
use bollard::query_parameters::EventsOptions;
use futures_util::StreamExt;
use sprout_engine::{EngineEvent, EventStream, LabelFilter};

use crate::error::{Target, classify};

/// Container events of containers carrying every label of `filter`, from now on. The stream
/// ends with an error when the daemon goes away (or bollard's request timeout cuts it).
pub(crate) fn stream(docker: &Docker, endpoint: &str, filter: &LabelFilter) -> EventStream {
    // Only what changes a container's state (Docker matches `health_status` without a colon by
    // prefix, so "health_status: healthy" is included).
    let actions = sprout_engine::STATE_ACTIONS.iter().map(|a| a.to_string()).collect();
    let mut filters: HashMap<String, Vec<String>> =
        HashMap::from([("type".to_string(), vec!["container".to_string()]), ("event".to_string(), actions)]);
    if !filter.is_empty() {
        filters.insert("label".to_string(), filter.iter().map(|(k, v)| format!("{k}={v}")).collect());
    }
    let options = EventsOptions { filters: Some(filters), ..Default::default() };
    let endpoint = endpoint.to_string();
    docker
        .events(Some(options))
        .map(move |item| {
            let target = Target { operation: "events", kind: "engine", name: "", endpoint: &endpoint };
            let message = item.map_err(|e| classify(e, target))?;
            let actor = message.actor.unwrap_or_default();
            // A container's attributes are its labels, plus its name and image.
            let labels: BTreeMap<String, String> = actor.attributes.unwrap_or_default().into_iter().collect();
            Ok(EngineEvent { action: message.action.unwrap_or_default(), labels })
        })
        .boxed()
}
