//! A minimal HTTP/1.1 client for the server's own calls that are not webhooks: the queue reading
//! (`GET scaling.queue_url`) and periodic jobs (`POST` to an instance's container). Each call
//! opens a fresh connection (`Connection: close`), has one timeout from connect to the end of the
//! answer, and keeps at most `MAX_BODY` bytes of the body. `http://` only: the server has no TLS
//! client.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The most bytes of an answer kept (a queue depth or a job's reply needs little).
const MAX_BODY: usize = 64 * 1024;

/// What came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// `http://host[:port]/path` as (authority `host:port`, path).
pub fn split_url(url: &str) -> Result<(String, String), String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("{url}: only http:// URLs are supported"))?;
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| (&rest[..i], &rest[i..]));
    if authority.is_empty() || authority.contains('@') {
        return Err(format!("{url}: give a host (and port), without credentials"));
    }
    let has_port = authority.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
    let authority = if has_port { authority.to_string() } else { format!("{authority}:80") };
    Ok((authority, path.to_string()))
}

/// One request to `authority` (`host:port`) with `headers`; the answer, or what went wrong in
/// words fit for an event.
pub async fn call(
    authority: &str,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    timeout: Duration,
) -> Result<Answer, String> {
    match tokio::time::timeout(timeout, call_inner(authority, method, path, headers)).await {
        Ok(r) => r,
        Err(_) => Err(format!("{method} {path} did not answer within {} s", timeout.as_secs_f64())),
    }
}

async fn call_inner(authority: &str, method: &str, path: &str, headers: &[(&str, String)]) -> Result<Answer, String> {
    let mut s = TcpStream::connect(authority).await.map_err(|e| format!("connect to {authority}: {e}"))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: sprout\r\nConnection: close\r\nContent-Length: 0\r\n"
    );
    for (name, value) in headers {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.map_err(|e| format!("{method} {path} to {authority}: {e}"))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).await.map_err(|e| format!("{method} {path} to {authority}: {e}"))?;
        if n == 0 || buf.len() > MAX_BODY + 16 * 1024 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    parse_answer(&buf).ok_or_else(|| format!("{method} {path} to {authority}: no HTTP answer"))
}

/// The status and body of a whole answer (a chunked body is joined).
fn parse_answer(raw: &[u8]) -> Option<Answer> {
    // Headers end at a blank line; CGI servers (busybox's httpd) pass the script's bare `\n`s on.
    let crlf = raw.windows(4).position(|w| w == b"\r\n\r\n").map(|i| (i, i + 4));
    let lf = raw.windows(2).position(|w| w == b"\n\n").map(|i| (i, i + 2));
    let (head_end, body_start) = match (crlf, lf) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b).unwrap_or((raw.len(), raw.len())),
    };
    let head = String::from_utf8_lossy(&raw[..head_end]);
    let status: u16 = head.lines().next()?.split_whitespace().nth(1)?.parse().ok()?;
    let mut body = raw[body_start..].to_vec();
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if chunked {
        body = unchunk(&body);
    }
    body.truncate(MAX_BODY);
    Some(Answer { status, body: String::from_utf8_lossy(&body).into_owned() })
}

fn unchunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..eol]);
        let Ok(size) = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16) else { break };
        if size == 0 {
            break;
        }
        let start = eol + 2;
        let end = (start + size).min(data.len());
        out.extend_from_slice(&data[start..end]);
        data = data.get(end + 2..).unwrap_or_default();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_with_a_default_port() {
        assert_eq!(
            split_url("http://127.0.0.1:9000/depth?q=1").unwrap(),
            ("127.0.0.1:9000".into(), "/depth?q=1".into())
        );
        assert_eq!(split_url("http://queue.internal").unwrap(), ("queue.internal:80".into(), "/".into()));
        assert!(split_url("https://x/").is_err());
        assert!(split_url("http://u:p@x/").is_err());
    }

    #[test]
    fn answers_parse_plain_and_chunked() {
        let a = parse_answer(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n42\n").unwrap();
        assert_eq!(a, Answer { status: 200, body: "42\n".into() });
        let a = parse_answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n17\r\n1\r\n5\r\n0\r\n\r\n")
            .unwrap();
        assert_eq!(a.body, "175");
        assert_eq!(parse_answer(b"garbage"), None);
        let cgi = parse_answer(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\n\ndone\n").unwrap();
        assert_eq!(cgi, Answer { status: 200, body: "done\n".into() });
        assert_eq!(parse_answer(b"HTTP/1.1 204 No Content\r\n").unwrap().status, 204);
    }
}
