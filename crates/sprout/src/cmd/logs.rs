//! `logs`: an environment's logs per instance and container (the engine's log and the
//! `awseb-logs-*` files), following them, including retired instances (`--all`), or written
//! into a tar (`--bundle`, like `eb logs --all`).

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use serde_json::Value;

use super::Context;
use crate::output::{self, Format};

#[derive(clap::Args)]
pub struct LogsArgs {
    pub env: Option<String>,
    /// Only this instance
    #[arg(long)]
    pub instance: Option<String>,
    /// Only this container (its name in the definition file)
    #[arg(long)]
    pub container: Option<String>,
    /// Lines per log
    #[arg(long, default_value_t = 100)]
    pub tail: usize,
    /// Keep printing new lines
    #[arg(long, short = 'f', conflicts_with = "bundle")]
    pub follow: bool,
    /// Include instances that are gone (their saved logs)
    #[arg(long)]
    pub all: bool,
    /// Write every log of the environment, in full, into this tar file
    #[arg(long, value_name = "FILE.tar")]
    pub bundle: Option<PathBuf>,
}

type Key = (String, String, String);

fn key(c: &Value) -> Key {
    let s = |k: &str| c[k].as_str().unwrap_or("").to_string();
    (s("instance"), s("container"), s("source"))
}

fn query(args: &LogsArgs, tail: usize, all: bool) -> String {
    let mut q = format!("tail={tail}&all={all}");
    if let Some(i) = &args.instance {
        q.push_str(&format!("&instance={i}"));
    }
    if let Some(c) = &args.container {
        q.push_str(&format!("&container={c}"));
    }
    q
}

pub async fn run(c: &Context, args: LogsArgs) -> Result<u8> {
    let app = c.app()?;
    let env = c.env(args.env.clone())?;
    let path = format!("/apps/{app}/environments/{env}/logs");
    if let Some(file) = &args.bundle {
        let view: Value = c.client.get(&format!("{path}?{}", query(&args, 100_000, true))).await?;
        let n = write_bundle(file, &env, &view)?;
        match c.fmt {
            Format::Json => output::json(&serde_json::json!({"bundle": file, "files": n})),
            Format::Text => println!("Wrote {n} log file(s) of {app}/{env} to {}", file.display()),
        }
        return Ok(0);
    }
    let view: Value = c.client.get(&format!("{path}?{}", query(&args, args.tail, args.all))).await?;
    let chunks = view["logs"].as_array().cloned().unwrap_or_default();
    if c.fmt == Format::Json && !args.follow {
        output::json(&view);
        return Ok(0);
    }
    if chunks.is_empty() {
        eprintln!(
            "No logs for {app}/{env}{}",
            if args.all { "" } else { " from running instances (--all includes instances that are gone)" }
        );
    }
    let mut seen: HashMap<Key, Vec<String>> = HashMap::new();
    for ch in &chunks {
        let (i, ctn, src) = key(ch);
        let text = ch["text"].as_str().unwrap_or("");
        let gone = if ch["live"].as_bool() == Some(false) { ", gone" } else { "" };
        println!("==> {i}/{ctn} ({src}{gone}) <==");
        print!("{text}");
        if !text.is_empty() && !text.ends_with('\n') {
            println!();
        }
        seen.insert(key(ch), text.lines().map(String::from).collect());
    }
    if !args.follow {
        return Ok(0);
    }
    // Following: until interrupted (Ctrl-C) or the server stops answering.
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let view: Value = c.client.get(&format!("{path}?{}", query(&args, 200, false))).await?;
        for ch in view["logs"].as_array().into_iter().flatten() {
            let k = key(ch);
            let lines: Vec<String> = ch["text"].as_str().unwrap_or("").lines().map(String::from).collect();
            let old = seen.get(&k).map(Vec::as_slice).unwrap_or(&[]);
            for l in &lines[overlap(old, &lines)..] {
                println!("{}/{} | {l}", k.0, k.1);
            }
            seen.insert(k, lines);
        }
    }
}

/// How many leading lines of `new` were already printed: the longest suffix of `old` that is
/// a prefix of `new` (a tail window moves on as lines are appended).
fn overlap(old: &[String], new: &[String]) -> usize {
    (0..=old.len().min(new.len())).rev().find(|&k| old[old.len() - k..] == new[..k]).unwrap_or(0)
}

/// Every chunk as a file `ENV/INSTANCE/<path>` (`sprout_server::logs::write_bundle`, which the
/// console's download writes too).
fn write_bundle(file: &std::path::Path, env: &str, view: &Value) -> Result<usize> {
    let chunks: Vec<sprout_server::logs::LogChunk> =
        serde_json::from_value(view["logs"].clone()).context("unexpected answer: no logs")?;
    let out = std::fs::File::create(file).with_context(|| format!("cannot create {}", file.display()))?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    sprout_server::logs::write_bundle(out, env, &chunks, now)
        .with_context(|| format!("cannot write {}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::overlap;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn overlap_finds_what_was_printed() {
        assert_eq!(overlap(&v(&["a", "b", "c"]), &v(&["b", "c", "d"])), 2);
        assert_eq!(overlap(&v(&["a", "b"]), &v(&["a", "b"])), 2);
        assert_eq!(overlap(&v(&[]), &v(&["a"])), 0);
        assert_eq!(overlap(&v(&["x"]), &v(&["a", "b"])), 0);
        // Repeated lines: the longest match wins, so nothing is printed twice.
        assert_eq!(overlap(&v(&["a", "a"]), &v(&["a", "a", "b"])), 2);
    }
}
