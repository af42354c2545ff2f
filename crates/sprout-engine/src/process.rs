//! Processes attached to: a command run in a running container (`docker exec`) or a container's
//! main process (`docker attach`), with their output as it comes and their input, for
//! `sprout exec` and `sprout run`.

use std::pin::Pin;

/// A command to run in a running container.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecSpec {
    pub command: Vec<String>,
    /// Give the command a terminal (its output then comes as one stream).
    pub tty: bool,
    /// Keep its standard input open for what the caller sends.
    pub stdin: bool,
}

/// Which of a process's streams a chunk of output came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputKind {
    Stdout,
    Stderr,
}

/// A chunk of a process's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputChunk {
    pub kind: OutputKind,
    pub data: Vec<u8>,
}

/// A process attached to: its output until it ends, and its standard input (shut it down to
/// close the process's input).
pub struct Attached {
    pub output: futures_util::stream::BoxStream<'static, crate::Result<OutputChunk>>,
    pub input: Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
}

impl std::fmt::Debug for Attached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Attached")
    }
}
