//! FakeEngine: an in-memory container engine that behaves like Docker (to be written).

/// In-memory engine for tests.
#[derive(Debug, Default)]
pub struct FakeEngine;
