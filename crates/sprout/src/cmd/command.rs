//! `exec` and `run`: a command in a running container of an environment, or in a one-off
//! instance of one of its versions, with this terminal's input, output and exit code passed
//! through (the stream is `sprout_api::command`'s framing over an upgraded connection).

use std::io::{IsTerminal, Write};

use anyhow::{Result, anyhow};
use sprout_api::command::{self as wire, ExecRequest, RunRequest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Context;

#[derive(clap::Args)]
pub struct ExecArgs {
    pub env: String,
    /// Instance to run in [default: one in service]
    #[arg(long)]
    pub instance: Option<String>,
    /// Container definition to run in [default: the one on host port 80]
    #[arg(long)]
    pub container: Option<String>,
    /// Give the command a terminal
    #[arg(short = 't', long = "tty")]
    pub tty: bool,
    /// The command and its arguments, after `--`
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

#[derive(clap::Args)]
pub struct RunArgs {
    pub env: String,
    /// Container definition to run [default: the one on host port 80]
    #[arg(long)]
    pub container: Option<String>,
    /// Version to run [default: the environment's]
    #[arg(long)]
    pub version: Option<String>,
    /// Give the command a terminal
    #[arg(short = 't', long = "tty")]
    pub tty: bool,
    /// The command and its arguments, after `--`
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

pub async fn exec(c: &Context, a: ExecArgs) -> Result<u8> {
    let app = c.app()?;
    let spec = ExecRequest { instance: a.instance, container: a.container, command: a.command, tty: a.tty };
    let path = format!("/apps/{app}/environments/{}/exec?spec={}", a.env, encode(&serde_json::to_string(&spec)?));
    attach(c, &path, a.tty).await
}

pub async fn run(c: &Context, a: RunArgs) -> Result<u8> {
    let app = c.app()?;
    let spec = RunRequest { container: a.container, version: a.version, command: a.command, tty: a.tty };
    let path = format!("/apps/{app}/environments/{}/run?spec={}", a.env, encode(&serde_json::to_string(&spec)?));
    attach(c, &path, a.tty).await
}

/// Percent-encodes a query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// This terminal in raw mode while a `-t` command runs (keys go to the command as typed), and
/// back as it was afterwards.
struct RawTerminal(Option<String>);

impl RawTerminal {
    fn enter(tty: bool) -> RawTerminal {
        if !tty || !std::io::stdin().is_terminal() {
            return RawTerminal(None);
        }
        let saved = std::process::Command::new("stty").arg("-g").stdin(std::process::Stdio::inherit()).output();
        let Ok(saved) = saved.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()) else {
            return RawTerminal(None);
        };
        let _ =
            std::process::Command::new("stty").args(["raw", "-echo"]).stdin(std::process::Stdio::inherit()).status();
        RawTerminal(Some(saved))
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if let Some(saved) = &self.0 {
            let _ = std::process::Command::new("stty").arg(saved).stdin(std::process::Stdio::inherit()).status();
        }
    }
}

/// Streams this process's stdin to the command and its output here until it exits; its exit
/// code (255 when it could not be had, as `ssh` does).
async fn attach(c: &Context, path: &str, tty: bool) -> Result<u8> {
    let stream = c.client.stream(path).await?;
    let raw = RawTerminal::enter(tty);
    let (mut from_server, mut to_server) = tokio::io::split(stream);
    let input = tokio::spawn(async move {
        let mut stdin = tokio::io::stdin();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match stdin.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to_server.write_all(&wire::frame(wire::STDIN, &buf[..n])).await.is_err() {
                        return;
                    }
                }
            }
        }
        let _ = to_server.write_all(&wire::frame(wire::STDIN_EOF, b"")).await;
        let _ = to_server.flush().await;
        // The write half stays open: closing it could end the stream before the output is in.
        std::future::pending::<()>().await;
    });
    let mut frames = wire::Frames::default();
    let mut buf = vec![0u8; 64 * 1024];
    let outcome = 'stream: loop {
        let n = from_server.read(&mut buf).await.map_err(|e| anyhow!("the stream from the server broke: {e}"))?;
        if n == 0 {
            break Err(anyhow!("the server closed the stream before the command's exit code"));
        }
        frames.push(&buf[..n]);
        while let Some((kind, data)) = frames.next_frame().map_err(|e| anyhow!(e))? {
            match kind {
                wire::STDOUT => {
                    let mut out = std::io::stdout().lock();
                    out.write_all(&data)?;
                    out.flush()?;
                }
                wire::STDERR => {
                    let mut err = std::io::stderr().lock();
                    err.write_all(&data)?;
                    err.flush()?;
                }
                wire::EXIT => {
                    let code: i64 = String::from_utf8_lossy(&data).parse().unwrap_or(255);
                    break 'stream Ok(code.clamp(0, 255) as u8);
                }
                wire::ERROR => break 'stream Err(anyhow!("{}", String::from_utf8_lossy(&data))),
                _ => {}
            }
        }
    };
    input.abort();
    drop(raw);
    outcome
}
