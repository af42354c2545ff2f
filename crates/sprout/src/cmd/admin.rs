//! `admin backup FILE`: a consistent copy of the server's store, taken while it serves. Secrets
//! stay encrypted in it; restoring it elsewhere needs the server's key, which the command says.

use std::path::PathBuf;

use anyhow::{Context as _, Result};

use super::Context;
use crate::output::{self, Format};

#[derive(clap::Args)]
pub struct AdminArgs {
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(clap::Subcommand)]
pub enum AdminCommand {
    /// Copy the server's database to FILE (written readable by you only)
    Backup { file: PathBuf },
}

pub async fn run(c: &Context, args: AdminArgs) -> Result<u8> {
    match args.command {
        AdminCommand::Backup { file } => {
            let (bytes, note) = c.client.download("/admin/backup", "x-sprout-backup-note").await?;
            write_private(&file, &bytes).with_context(|| format!("cannot write {}", file.display()))?;
            match c.fmt {
                Format::Json => output::json(&serde_json::json!({
                    "file": file.display().to_string(), "bytes": bytes.len(), "note": note,
                })),
                Format::Text => {
                    println!("Backup written to {} ({} bytes)", file.display(), bytes.len());
                    if let Some(note) = note {
                        eprintln!("note: {note}");
                    }
                }
            }
            Ok(0)
        }
    }
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}
