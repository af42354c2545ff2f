//! The HTTP health probe: `GET <path>` against an instance's web port, passing on 2xx or 3xx.
//!
//! Written on a raw TCP stream rather than a pooled client because a probe must open a fresh
//! connection (a pooled one would hide a container that stopped accepting) and read only the
//! status line.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How the health checker reaches instances: real HTTP in the server, scripted in tests (where
/// FakeEngine's published ports lead nowhere).
#[async_trait::async_trait]
pub trait Prober: Send + Sync + 'static {
    async fn probe(&self, addr: SocketAddr, path: &str, timeout: Duration) -> Result<(), String>;
}

/// The real prober: an HTTP GET on a fresh connection.
#[derive(Debug, Default, Clone, Copy)]
pub struct HttpProber;

#[async_trait::async_trait]
impl Prober for HttpProber {
    async fn probe(&self, addr: SocketAddr, path: &str, timeout: Duration) -> Result<(), String> {
        probe(addr, path, timeout).await
    }
}

/// Probe once. `Ok(())` when the instance answered 2xx or 3xx; otherwise what went wrong, in
/// words fit for an event ("GET / returned 500", "connection refused").
pub async fn probe(addr: SocketAddr, path: &str, timeout: Duration) -> Result<(), String> {
    match tokio::time::timeout(timeout, probe_inner(addr, path)).await {
        Ok(r) => r,
        Err(_) => Err(format!("GET {path} timed out after {}ms", timeout.as_millis())),
    }
}

async fn probe_inner(addr: SocketAddr, path: &str) -> Result<(), String> {
    let mut s = TcpStream::connect(addr).await.map_err(|e| format!("GET {path}: connect to {addr}: {e}"))?;
    let req =
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: sprout-health\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.map_err(|e| format!("GET {path}: {e}"))?;
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 256];
    while !buf.windows(2).any(|w| w == b"\r\n") && buf.len() < 4096 {
        let n = s.read(&mut chunk).await.map_err(|e| format!("GET {path}: {e}"))?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let line = String::from_utf8_lossy(&buf);
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("GET {path}: no HTTP status line in the answer"))?;
    if (200..400).contains(&status) { Ok(()) } else { Err(format!("GET {path} returned {status}")) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    async fn server(answer: &'static str) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let mut b = [0u8; 1024];
                let _ = s.read(&mut b).await;
                let _ = s.write_all(answer.as_bytes()).await;
            }
        });
        addr
    }

    #[tokio::test]
    async fn passes_on_200_fails_on_500_and_refused() {
        let ok = server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
        assert_eq!(probe(ok, "/", Duration::from_secs(2)).await, Ok(()));
        let bad = server("HTTP/1.1 500 Oops\r\n\r\n").await;
        assert_eq!(probe(bad, "/", Duration::from_secs(2)).await, Err("GET / returned 500".into()));
        let closed = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap()
        };
        assert!(probe(closed, "/", Duration::from_secs(2)).await.unwrap_err().contains("connect"));
    }
}
