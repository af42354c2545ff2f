//! `docker exec`: a command run inside a running container, its output collected until it ends
//! or its timeout passes. A command still running at the timeout is left to the container's stop
//! (Docker has no call to kill one exec'd process); the caller stops the container next anyway.

use std::time::Duration;

use bollard::exec::{CreateExecOptions, StartExecResults};
use futures_util::StreamExt;
use sprout_engine::{EXEC_OUTPUT_MAX, ExecOutput, Result};

use crate::DockerEngine;
use crate::error::classify;

impl DockerEngine {
    pub(crate) async fn exec_in(&self, name: &str, argv: &[String], timeout: Duration) -> Result<ExecOutput> {
        let options = CreateExecOptions {
            cmd: Some(argv.to_vec()),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let created = self
            .docker
            .create_exec(name, options)
            .await
            .map_err(|e| classify(e, self.target("exec", "container", name)))?;
        let mut output = String::new();
        let mut timed_out = false;
        let run = async {
            match self.docker.start_exec(&created.id, None).await {
                Ok(StartExecResults::Attached { output: mut stream, .. }) => {
                    while let Some(chunk) = stream.next().await {
                        match chunk {
                            Ok(c) => keep(&mut output, &c.to_string()),
                            Err(e) => {
                                keep(&mut output, &format!("\n(output ended: {e})\n"));
                                break;
                            }
                        }
                    }
                    Ok(())
                }
                Ok(StartExecResults::Detached) => Ok(()),
                Err(e) => Err(classify(e, self.target("exec", "container", name))),
            }
        };
        match tokio::time::timeout(timeout, run).await {
            Ok(r) => r?,
            Err(_) => timed_out = true,
        }
        let exit_code = if timed_out {
            None
        } else {
            // The stream ends when the process does; Docker may take a moment to record its code.
            let mut code = None;
            for _ in 0..20 {
                match self.docker.inspect_exec(&created.id).await {
                    Ok(i) if i.running == Some(true) => tokio::time::sleep(Duration::from_millis(50)).await,
                    Ok(i) => {
                        code = i.exit_code;
                        break;
                    }
                    Err(e) => return Err(classify(e, self.target("inspect_exec", "container", name))),
                }
            }
            code
        };
        Ok(ExecOutput { output, exit_code, timed_out })
    }
}

/// Append `text` to `out`, keeping at most `EXEC_OUTPUT_MAX` bytes (the start).
fn keep(out: &mut String, text: &str) {
    let room = EXEC_OUTPUT_MAX.saturating_sub(out.len());
    if text.len() <= room {
        out.push_str(text);
    } else {
        let mut cut = room;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&text[..cut]);
    }
}
