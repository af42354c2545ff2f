//! A minimal HTTP/1.1 GET and POST client: one request per connection (`Connection: close`), read to the
//! end. Enough to poll a stats endpoint every few seconds; not a general client (no TLS, no
//! chunked decoding, no redirects).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// `http://host[:port]/path` split up.
#[derive(Debug, PartialEq, Eq)]
pub struct Url {
    pub host: String,
    pub port: u16,
    pub path: String,
}

pub fn parse_url(url: &str) -> Result<Url, String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("{url}: only http:// URLs are supported"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().map_err(|_| format!("{url}: bad port `{p}`"))?),
        None => (authority, 80),
    };
    if host.is_empty() {
        return Err(format!("{url}: no host"));
    }
    Ok(Url { host: host.to_string(), port, path: path.to_string() })
}

/// GET `url`; the status code and body.
pub fn get(url: &Url, timeout: Duration) -> Result<(u16, Vec<u8>), String> {
    request("GET", url, b"", timeout)
}

/// POST `body` (JSON) to `url`; the status code and body.
pub fn post(url: &Url, body: &[u8], timeout: Duration) -> Result<(u16, Vec<u8>), String> {
    request("POST", url, body, timeout)
}

fn request(method: &str, url: &Url, body: &[u8], timeout: Duration) -> Result<(u16, Vec<u8>), String> {
    let addrs = (url.host.as_str(), url.port).to_socket_addrs().map_err(|e| format!("resolve {}: {e}", url.host))?;
    let mut last = format!("{} resolved to no address", url.host);
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = format!("connect {addr}: {e}"),
        }
    }
    let mut s = stream.ok_or(last)?;
    s.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    let length = if body.is_empty() {
        String::new()
    } else {
        format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len())
    };
    let req = format!(
        "{method} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: sprout-example-monitor\r\n{length}Connection: close\r\n\r\n",
        url.path, url.host
    );
    s.write_all(req.as_bytes()).and_then(|_| s.write_all(body)).map_err(|e| format!("send: {e}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| format!("read: {e}"))?;
    parse_response(&raw)
}

pub fn parse_response(raw: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("incomplete response head")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line `{}`", head.lines().next().unwrap_or("")))?;
    Ok((status, raw[end + 4..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("http://app:8080/stats").unwrap(),
            Url { host: "app".into(), port: 8080, path: "/stats".into() }
        );
        assert_eq!(parse_url("http://app").unwrap(), Url { host: "app".into(), port: 80, path: "/".into() });
        assert!(parse_url("https://app/").is_err());
        assert!(parse_url("http://app:x/").is_err());
        assert!(parse_url("http:///x").is_err());
    }

    #[test]
    fn responses() {
        assert_eq!(parse_response(b"HTTP/1.1 200 OK\r\nA: b\r\n\r\n{}").unwrap(), (200, b"{}".to_vec()));
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n").is_err());
        assert!(parse_response(b"garbage\r\n\r\n").is_err());
    }
}
