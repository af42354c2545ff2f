//! An environment's option settings: domain types of `sprout-model`, re-exported for the
//! store's callers.

pub use sprout_model::options::*;
