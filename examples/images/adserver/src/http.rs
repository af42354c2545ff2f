//! Just enough HTTP/1.1 for the example: parse a request head, skip a body, write a response,
//! and decide whether the connection stays open (nginx keeps upstream connections alive).
//!
//! Not here: routing (see `routes`) or the accept loop (see `server`).

use std::io::{self, BufRead, Read, Write};

/// Longest request head accepted; ad requests are small, anything bigger is abuse.
const MAX_HEAD: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The request target as sent (path and query), for the access log.
    pub target: String,
    pub path: String,
    /// Decoded `key=value` pairs from the query string, in order.
    pub query: Vec<(String, String)>,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The client sent something that is not an HTTP/1.x request: answer 400 and close.
    Bad(&'static str),
    /// The head is bigger than `MAX_HEAD`: answer 431 and close.
    TooLarge,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// HTTP/1.1 stays open unless told to close; HTTP/1.0 closes unless told to keep alive.
    pub fn keep_alive(&self) -> bool {
        let conn = self.header("connection").map(str::to_ascii_lowercase);
        let has = |t: &str| conn.as_deref().is_some_and(|c| c.split(',').any(|p| p.trim() == t));
        if self.minor_version >= 1 { !has("close") } else { has("keep-alive") }
    }

    pub fn content_length(&self) -> Result<u64, ParseError> {
        match self.header("content-length") {
            None => Ok(0),
            Some(v) => v.trim().parse().map_err(|_| ParseError::Bad("invalid content-length")),
        }
    }
}

/// Parse a request head (request line and headers, without the blank line).
pub fn parse_head(head: &str) -> Result<Request, ParseError> {
    let mut lines = head.split("\r\n").flat_map(|l| l.split('\n'));
    let line = lines.next().ok_or(ParseError::Bad("empty request"))?;
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::Bad("malformed request line"));
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ParseError::Bad("malformed method"));
    }
    let minor_version = match version {
        "HTTP/1.1" => 1,
        "HTTP/1.0" => 0,
        _ => return Err(ParseError::Bad("unsupported HTTP version")),
    };
    if !target.starts_with('/') {
        return Err(ParseError::Bad("request target must be a path"));
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, parse_query(q)),
        None => (target, Vec::new()),
    };
    let mut headers = Vec::new();
    for l in lines.filter(|l| !l.is_empty()) {
        let (name, value) = l.split_once(':').ok_or(ParseError::Bad("malformed header"))?;
        if name.is_empty() || name.contains(' ') {
            return Err(ParseError::Bad("malformed header name"));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    Ok(Request {
        method: method.to_string(),
        target: target.to_string(),
        path: percent_decode(path),
        query,
        minor_version,
        headers,
    })
}

pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(&k.replace('+', " ")), percent_decode(&v.replace('+', " ")))
        })
        .collect()
}

/// `%XX` decoding; invalid escapes are kept as they are rather than rejected.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let hex = |c: u8| (c as char).to_digit(16);
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Read the next request head. `Ok(None)` means the client closed the connection cleanly
/// between requests (the normal end of a keep-alive connection).
pub fn read_request(r: &mut impl BufRead) -> io::Result<Option<Result<Request, ParseError>>> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        let n = Read::take(&mut *r, (MAX_HEAD + 1 - head.len().min(MAX_HEAD)) as u64).read_line(&mut line)?;
        if n == 0 {
            return if head.is_empty() { Ok(None) } else { Err(io::ErrorKind::UnexpectedEof.into()) };
        }
        // RFC 9112 says to ignore blank lines before a request line.
        if head.is_empty() && line.trim().is_empty() {
            continue;
        }
        if line == "\r\n" || line == "\n" {
            return Ok(Some(parse_head(&head)));
        }
        head.push_str(&line);
        if head.len() > MAX_HEAD {
            return Ok(Some(Err(ParseError::TooLarge)));
        }
    }
}

/// Read and drop a request body of `len` bytes so the next request on the connection parses.
pub fn skip_body(r: &mut impl BufRead, len: u64) -> io::Result<()> {
    let copied = io::copy(&mut Read::take(&mut *r, len), &mut io::sink())?;
    if copied < len { Err(io::ErrorKind::UnexpectedEof.into()) } else { Ok(()) }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        let mut body = serde_json::to_vec(value).unwrap_or_default();
        body.push(b'\n');
        Response { status, headers: vec![("Content-Type".into(), "application/json".into())], body }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Write status line, headers and (unless `head_only`) the body.
    pub fn write_to(&self, w: &mut impl Write, keep_alive: bool, head_only: bool) -> io::Result<()> {
        let mut out = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (k, v) in &self.headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        out.push_str(if keep_alive { "Connection: keep-alive\r\n\r\n" } else { "Connection: close\r\n\r\n" });
        let mut buf = out.into_bytes();
        if !head_only {
            buf.extend_from_slice(&self.body);
        }
        // One write per response: fewer syscalls and no Nagle stall between head and body.
        w.write_all(&buf)?;
        w.flush()
    }
}

pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        302 => "Found",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    #[test]
    fn parses_request_line_query_and_headers() {
        let r = parse_head("GET /ad?slot=banner&x=a%20b+c HTTP/1.1\r\nHost: app\r\nX-Forwarded-For: 10.0.0.1").unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/ad");
        assert_eq!(r.query_param("slot"), Some("banner"));
        assert_eq!(r.query_param("x"), Some("a b c"));
        assert_eq!(r.header("host"), Some("app"));
        assert_eq!(r.header("x-forwarded-for"), Some("10.0.0.1"));
        assert!(r.keep_alive());
    }

    #[test]
    fn keep_alive_rules() {
        let ka = |h: &str| parse_head(h).unwrap().keep_alive();
        assert!(!ka("GET / HTTP/1.1\r\nConnection: close"));
        assert!(!ka("GET / HTTP/1.0"));
        assert!(ka("GET / HTTP/1.0\r\nConnection: Keep-Alive"));
        assert!(!ka("GET / HTTP/1.1\r\nConnection: upgrade, close"));
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(parse_head("GET /"), Err(ParseError::Bad("malformed request line")));
        assert_eq!(parse_head("GET / HTTP/2.0"), Err(ParseError::Bad("unsupported HTTP version")));
        assert_eq!(parse_head("get / HTTP/1.1"), Err(ParseError::Bad("malformed method")));
        assert_eq!(parse_head("GET http://x/ HTTP/1.1"), Err(ParseError::Bad("request target must be a path")));
        assert_eq!(parse_head("GET / HTTP/1.1\r\nno colon"), Err(ParseError::Bad("malformed header")));
    }

    #[test]
    fn percent_decoding_keeps_invalid_escapes() {
        assert_eq!(percent_decode("a%2Fb"), "a/b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn reads_pipelined_requests_and_skips_bodies() {
        let wire = "\r\nPOST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /health HTTP/1.1\r\n\r\n";
        let mut r = BufReader::new(wire.as_bytes());
        let first = read_request(&mut r).unwrap().unwrap().unwrap();
        assert_eq!(first.method, "POST");
        skip_body(&mut r, first.content_length().unwrap()).unwrap();
        let second = read_request(&mut r).unwrap().unwrap().unwrap();
        assert_eq!(second.path, "/health");
        assert!(read_request(&mut r).unwrap().is_none(), "clean EOF between requests");
    }

    #[test]
    fn oversized_head_is_refused() {
        let wire = format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        let mut r = BufReader::new(wire.as_bytes());
        assert_eq!(read_request(&mut r).unwrap().unwrap(), Err(ParseError::TooLarge));
    }

    #[test]
    fn response_framing() {
        let mut out = Vec::new();
        Response::json(200, &serde_json::json!({"ok": true}))
            .with_header("X-Instance", "i-1")
            .write_to(&mut out, true, false)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(text.contains("X-Instance: i-1\r\n"));
        assert!(text.contains("Content-Length: 12\r\nConnection: keep-alive\r\n\r\n{\"ok\":true}\n"));
    }
}
