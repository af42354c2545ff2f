//! Parsed definitions by version label, parsed once per controller: versions are immutable, so
//! the stored Dockerrun never needs parsing again. A version the store does not have, or whose
//! definition does not parse, is remembered as unknown (its instances are replaced); a store
//! error is not remembered, so the next pass asks again.

use std::collections::HashMap;
use std::sync::Arc;

use sprout_model::Dockerrun;
use sprout_store::{Store, StoreError};

#[derive(Default)]
pub struct Definitions(HashMap<String, Option<Arc<Dockerrun>>>);

impl Definitions {
    pub async fn get(&mut self, store: &dyn Store, app: &str, version: &str) -> Option<Arc<Dockerrun>> {
        if let Some(d) = self.0.get(version) {
            return d.clone();
        }
        let def = match store.get_version(app, version).await {
            Ok(v) => match serde_json::from_str::<Dockerrun>(&v.definition) {
                Ok(d) => Some(Arc::new(d)),
                Err(e) => {
                    tracing::warn!(app, version, "stored definition does not parse: {e}");
                    None
                }
            },
            Err(StoreError::NotFound { .. }) => None,
            Err(_) => return None,
        };
        self.0.insert(version.to_string(), def.clone());
        def
    }
}
