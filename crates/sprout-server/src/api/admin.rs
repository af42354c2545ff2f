//! Server administration: `sprout admin backup FILE`. The server copies its store while it
//! keeps serving (SQLite's `VACUUM INTO`, one consistent snapshot) and sends the copy back.
//! Secrets and registry passwords stay sealed in it: restoring it on another machine needs the
//! same key (`secret.key` in the data directory, or `SPROUT_SECRET_KEY`), and the answer's
//! headers say so.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::bundle::unique_name;
use crate::context::Ctx;

/// Says, with the backup, what restoring it takes.
pub const KEY_NOTE_HEADER: &str = "x-sprout-backup-note";

pub async fn backup(State(ctx): State<Ctx>) -> Result<Response, ApiError> {
    let dir = &ctx.settings.data_dir;
    let path = dir.join(unique_name(".backup"));
    let result = async {
        ctx.store.backup(&path).await?;
        tokio::fs::File::open(&path)
            .await
            .map_err(|e| ApiError::Internal(format!("cannot read the backup {}: {e}", path.display())))
    }
    .await;
    // Open, the file stays readable after its name is gone: nothing is left behind whatever
    // becomes of the answer.
    let _ = tokio::fs::remove_file(&path).await;
    let file = result?;
    let note = format!(
        "secrets are sealed in this copy: restoring it needs this server's key ({}/{} or {})",
        dir.display(),
        crate::secrets::KEY_FILE,
        crate::secrets::KEY_ENV
    );
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(file));
    Ok((
        [
            (header::CONTENT_TYPE, "application/vnd.sqlite3".to_string()),
            (header::HeaderName::from_static(KEY_NOTE_HEADER), note),
        ],
        body,
    )
        .into_response())
}
