//! Reading an instance's response head and chunk lines for the direct path: which framing the
//! body has (RFC 9112 section 6.3) and whether the connection may be kept. Pure functions over
//! bytes; the I/O is in `direct.rs`.

use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode, Version, header};

use super::{DirectError, MAX_HEADERS, fail};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    Length(u64),
    /// Chunked: the state of the decoder.
    Chunked(Chunk),
    UntilClose,
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Chunk {
    Size,
    Data(u64),
    DataEnd,
    Trailer,
}

pub(super) enum Parsed {
    /// A 1xx other than 101: skip its head and read on.
    Informational(usize),
    Final(usize, Response<()>, Framing, bool),
}

pub(super) fn parse_head(buf: &[u8], head_request: bool) -> Result<Option<Parsed>, DirectError> {
    // Left uninitialised: zeroing 128 headers (4 KiB) cost more than parsing a small head.
    let mut headers = [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut []);
    let config = httparse::ParserConfig::default();
    let len = match config.parse_response_with_uninit_headers(&mut parsed, buf, &mut headers) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(fail(format!("malformed response head: {e}"))),
    };
    let code = parsed.code.unwrap_or(0);
    let status = StatusCode::from_u16(code).map_err(|_| fail("invalid status code"))?;
    if status == StatusCode::SWITCHING_PROTOCOLS {
        return Err(fail("101 Switching Protocols to a request that asked for no upgrade"));
    }
    if status.is_informational() {
        return Ok(Some(Parsed::Informational(len)));
    }
    let http11 = parsed.version == Some(1);
    let mut map = HeaderMap::with_capacity(parsed.headers.len());
    let mut chunked = false;
    let mut has_te = false;
    let mut length: Option<u64> = None;
    let mut close = !http11;
    for h in parsed.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| fail("invalid header name"))?;
        let value = HeaderValue::from_bytes(h.value).map_err(|_| fail("invalid header value"))?;
        if name == header::TRANSFER_ENCODING {
            has_te = true;
            chunked = last_token_is(h.value, b"chunked");
        } else if name == header::CONTENT_LENGTH {
            let n = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| fail("invalid Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(fail("conflicting Content-Length values"));
            }
            length = Some(n);
        } else if name == header::CONNECTION {
            if has_token(h.value, b"close") {
                close = true;
            } else if !http11 && has_token(h.value, b"keep-alive") {
                close = false;
            }
        }
        map.append(name, value);
    }
    let framing = if head_request || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
        Framing::Done
    } else if has_te {
        // RFC 9112 6.3: Transfer-Encoding wins, and Content-Length must not be passed on.
        map.remove(header::CONTENT_LENGTH);
        if chunked { Framing::Chunked(Chunk::Size) } else { Framing::UntilClose }
    } else {
        length.map_or(Framing::UntilClose, Framing::Length)
    };
    let keep_alive = !close && framing != Framing::UntilClose;
    let mut response = Response::new(());
    *response.status_mut() = status;
    *response.version_mut() = Version::HTTP_11;
    *response.headers_mut() = map;
    Ok(Some(Parsed::Final(len, response, framing, keep_alive)))
}

fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(|t| t.trim_ascii())
}

fn has_token(value: &[u8], token: &[u8]) -> bool {
    tokens(value).any(|t| t.eq_ignore_ascii_case(token))
}

fn last_token_is(value: &[u8], token: &[u8]) -> bool {
    tokens(value).last().is_some_and(|t| t.eq_ignore_ascii_case(token))
}

/// The size of a chunk from its line, ignoring extensions (`1a;name=value`).
pub(super) fn chunk_size(line: &[u8]) -> Option<u64> {
    let digits = line.split(|&b| b == b';').next()?.trim_ascii();
    if digits.is_empty() || digits.len() > 15 {
        return None;
    }
    let text = std::str::from_utf8(digits).ok()?;
    u64::from_str_radix(text, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_follows_rfc_9112() {
        let framing = |head: &str, head_request: bool| match parse_head(head.as_bytes(), head_request) {
            Ok(Some(Parsed::Final(_, response, framing, keep_alive))) => {
                (response.status().as_u16(), framing, keep_alive)
            }
            Ok(Some(Parsed::Informational(_))) => (100, Framing::Done, false),
            Ok(None) => (0, Framing::Done, false),
            Err(_) => (502, Framing::Done, false),
        };
        assert_eq!(framing("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false), (200, Framing::Length(5), true));
        assert_eq!(framing("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true), (200, Framing::Done, true));
        assert_eq!(framing("HTTP/1.1 204 No Content\r\n\r\n", false), (204, Framing::Done, true));
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n\r\n", false),
            (200, Framing::Chunked(Chunk::Size), true)
        );
        assert_eq!(framing("HTTP/1.1 200 OK\r\n\r\n", false), (200, Framing::UntilClose, false));
        let close = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n";
        assert!(!framing(close, false).2, "Connection: close is not kept");
        let http10 = "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n";
        assert!(!framing(http10, false).2, "HTTP/1.0 is not kept");
        assert_eq!(framing("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", false).0, 502);
        assert_eq!(framing("HTTP/1.1 101 Switching\r\n\r\n", false).0, 502);
        assert_eq!(framing("HTTP/1.1 100 Continue\r\n\r\n", false).0, 100);
        assert_eq!(framing("HTTP/1.1 200 OK\r\nContent-Le", false).0, 0);
        assert_eq!(framing("garbage\r\n\r\n", false).0, 502);
    }

    #[test]
    fn chunk_sizes() {
        assert_eq!(chunk_size(b"1a"), Some(26));
        assert_eq!(chunk_size(b"0"), Some(0));
        assert_eq!(chunk_size(b"ff;ext=1"), Some(255));
        assert_eq!(chunk_size(b""), None);
        assert_eq!(chunk_size(b"zz"), None);
        assert_eq!(chunk_size(b"ffffffffffffffffff"), None);
    }
}
