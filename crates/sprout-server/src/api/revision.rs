//! Environment writes from API requests never undo another writer's change.
//!
//! The store applies an update only to the revision it was read at (`StoreError::Stale`
//! otherwise). The controller records deploy progress and the autoscaler the desired count while
//! users deploy and scale; when one of them wrote between a request's read and its write, the
//! request is worked out again on a fresh read, as if it had arrived a moment later. Its events
//! are emitted only after its write lands, so running it again repeats nothing.

use std::future::Future;

use sprout_store::StoreError;

use super::ApiError;

/// Runs `attempt` (read, check, change, write) until its write is not stale, at most
/// `STALE_ATTEMPTS` times (then the request fails with 409): `sprout_store::retry_stale`.
pub(crate) async fn retry<T, F, Fut>(attempt: F) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    sprout_store::retry_stale(|e| matches!(e, ApiError::Store(StoreError::Stale { .. })), attempt).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use sprout_store::STALE_ATTEMPTS;

    fn stale() -> ApiError {
        ApiError::Store(StoreError::Stale { kind: "environment", name: "a/b".into() })
    }

    #[tokio::test]
    async fn a_stale_write_is_tried_again_and_other_errors_are_not() {
        let mut calls = 0;
        let out = retry(|| {
            calls += 1;
            let n = calls;
            async move { if n < 3 { Err(stale()) } else { Ok(n) } }
        })
        .await;
        assert_eq!(out.unwrap(), 3);

        let mut calls = 0;
        let out: Result<(), _> = retry(|| {
            calls += 1;
            async { Err(ApiError::NotFound("gone".into())) }
        })
        .await;
        assert!(matches!(out, Err(ApiError::NotFound(_))));
        assert_eq!(calls, 1);

        let mut calls = 0;
        let out: Result<(), _> = retry(|| {
            calls += 1;
            async { Err(stale()) }
        })
        .await;
        assert!(matches!(out, Err(ApiError::Store(StoreError::Stale { .. }))));
        assert_eq!(calls, STALE_ATTEMPTS);
    }
}
