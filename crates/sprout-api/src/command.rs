//! One-off commands over the API (`sprout exec`, `sprout run`): the requests, and the framing of
//! the upgraded connection that carries the process's input, output and exit code.
//!
//! `POST /apps/{app}/environments/{env}/exec?spec=JSON` (an `ExecRequest`) or `.../run?spec=JSON`
//! (a `RunRequest`), with `Connection: Upgrade` and `Upgrade: sprout-stream`. Errors found before
//! the process starts (no such instance or container, a refused launch) are ordinary JSON
//! errors; otherwise the server answers `101 Switching Protocols` and both sides then exchange
//! frames on the connection: one kind byte, the payload's length as 4 bytes big-endian, the
//! payload. The client sends `STDIN` and then `STDIN_EOF`; the server sends `STDOUT` and `STDERR`
//! as the process writes them, then one `EXIT` (the exit code, in decimal) or `ERROR` (a message),
//! and closes.

use serde::{Deserialize, Serialize};

/// The `Upgrade` header's protocol name.
pub const PROTOCOL: &str = "sprout-stream";

/// Frame kinds.
pub const STDIN: u8 = b'i';
pub const STDIN_EOF: u8 = b'e';
pub const STDOUT: u8 = b'o';
pub const STDERR: u8 = b'r';
pub const EXIT: u8 = b'x';
pub const ERROR: u8 = b'!';
/// The most bytes one frame carries; longer writes are cut into several frames.
pub const MAX_FRAME: usize = 64 * 1024;

/// `sprout exec ENV [--instance I] [--container C] [-t] -- CMD...`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecRequest {
    /// Default: an in-service instance (else any running one).
    #[serde(default)]
    pub instance: Option<String>,
    /// A container definition's name; default: the one on host port 80 (else the first).
    #[serde(default)]
    pub container: Option<String>,
    pub command: Vec<String>,
    #[serde(default)]
    pub tty: bool,
}

/// `sprout run ENV [--container C] [--version V] [-t] -- CMD ARGS...`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// Default: the one on host port 80 (else the first).
    #[serde(default)]
    pub container: Option<String>,
    /// Default: the environment's version.
    #[serde(default)]
    pub version: Option<String>,
    pub command: Vec<String>,
    #[serde(default)]
    pub tty: bool,
}

/// One frame, encoded.
pub fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + payload.len());
    out.push(kind);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Frames cut from a byte stream as it arrives.
#[derive(Debug, Default)]
pub struct Frames {
    buf: Vec<u8>,
}

impl Frames {
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next whole frame, if one has arrived; an error for a frame longer than `MAX_FRAME`
    /// (not this protocol).
    pub fn next_frame(&mut self) -> Result<Option<(u8, Vec<u8>)>, String> {
        if self.buf.len() < 5 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if len > MAX_FRAME {
            return Err(format!("a frame of {len} bytes is longer than {MAX_FRAME}: not a {PROTOCOL} stream"));
        }
        if self.buf.len() < 5 + len {
            return Ok(None);
        }
        let kind = self.buf[0];
        let payload = self.buf[5..5 + len].to_vec();
        self.buf.drain(..5 + len);
        Ok(Some((kind, payload)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_come_out_as_they_went_in_whatever_the_cuts() {
        let mut wire = frame(STDOUT, b"hello");
        wire.extend(frame(STDIN_EOF, b""));
        wire.extend(frame(EXIT, b"3"));
        for cut in 0..wire.len() {
            let mut f = Frames::default();
            let mut got = Vec::new();
            for part in [&wire[..cut], &wire[cut..]] {
                f.push(part);
                while let Some(fr) = f.next_frame().unwrap() {
                    got.push(fr);
                }
            }
            assert_eq!(got, vec![(STDOUT, b"hello".to_vec()), (STDIN_EOF, vec![]), (EXIT, b"3".to_vec())]);
        }
        let mut f = Frames::default();
        f.push(&[STDOUT, 0xff, 0, 0, 0]);
        assert!(f.next_frame().is_err());
    }
}
