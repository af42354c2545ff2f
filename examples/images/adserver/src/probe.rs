//! `adserver --probe`: the container health check. A FROM-scratch image has no shell or curl,
//! so the binary checks itself: GET /health on localhost, exit 0 on 200, 1 otherwise.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub fn run(port: u16) -> i32 {
    match probe(port) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("adserver --probe: {e}");
            1
        }
    }
}

fn probe(port: u16) -> Result<(), String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let timeout = Duration::from_secs(2);
    let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_read_timeout(Some(timeout)).and_then(|()| s.set_write_timeout(Some(timeout))).map_err(|e| e.to_string())?;
    s.write_all(b"GET /health HTTP/1.0\r\nUser-Agent: adserver-probe\r\n\r\n").map_err(|e| format!("send: {e}"))?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).map_err(|e| format!("read: {e}"))?;
    match &head[9..12] {
        b"200" => Ok(()),
        other => Err(format!("status {}", String::from_utf8_lossy(other))),
    }
}
