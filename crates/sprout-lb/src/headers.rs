//! Header rewriting between client and instance: hop-by-hop removal and the `X-Forwarded-*`
//! and `X-Request-Id` headers instances rely on.
//!
//! Pure functions over `HeaderMap`; nothing here does I/O.

use std::net::IpAddr;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use http::{HeaderMap, HeaderName, HeaderValue, header};

pub(crate) static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub(crate) static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub(crate) static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
pub(crate) static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Headers that describe one connection and must not be forwarded (RFC 9110 section 7.6.1),
/// plus `Keep-Alive` that older software still sends. The `Proxy-*` family goes by prefix.
const HOP_BY_HOP: [HeaderName; 5] =
    [header::CONNECTION, HeaderName::from_static("keep-alive"), header::TE, header::TRAILER, header::TRANSFER_ENCODING];

/// Removes hop-by-hop headers, including those the `Connection` header names.
///
/// `Upgrade` is removed too; callers that forward an upgrade put it back explicitly.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most requests and responses carry none: one pass over the names, comparing, and out,
    // rather than a hashed lookup per hop-by-hop name (it showed in the request path's profile).
    if !headers.keys().any(is_hop_by_hop) {
        return;
    }
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|token| HeaderName::from_bytes(token.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove(header::UPGRADE);
    // `Proxy-Authorization`, `Proxy-Connection` and friends; also a bare `Proxy` header, which
    // CGI-style apps would read as their outbound proxy ("httpoxy").
    let proxy: Vec<HeaderName> = headers
        .keys()
        .filter(|name| name.as_str() == "proxy" || name.as_str().starts_with("proxy-"))
        .cloned()
        .collect();
    for name in proxy {
        headers.remove(name);
    }
}

/// Whether `name` is one `strip_hop_by_hop` removes whatever `Connection` says.
fn is_hop_by_hop(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(name)
        || name == header::UPGRADE
        || name.as_str() == "proxy"
        || name.as_str().starts_with("proxy-")
}

/// The protocol an HTTP/1.1 request asks to upgrade to (`Connection: upgrade` + `Upgrade: x`).
pub(crate) fn requested_upgrade(headers: &HeaderMap) -> Option<HeaderValue> {
    let asks = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
    if asks { headers.get(header::UPGRADE).cloned() } else { None }
}

/// Puts back the two headers that make an upgrade after `strip_hop_by_hop` removed them.
pub(crate) fn restore_upgrade(headers: &mut HeaderMap, protocol: HeaderValue) {
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, protocol);
}

/// Adds the headers an instance needs to know who asked and how.
///
/// `X-Forwarded-For` gets the client address: appended to the list a trusted proxy sent (one
/// header, comma separated, as most frameworks parse only the first), in place of whatever any
/// other client sent. `X-Request-Id` is kept if the client sent one so a request can be traced
/// across hops.
#[cfg(test)]
pub(crate) fn add_forwarding(headers: &mut HeaderMap, client: IpAddr, trusted: bool, host: Option<&HeaderValue>) {
    add_forwarding_value(headers, &ClientAddr::new(client, trusted), host);
}

/// The client of one connection: its address as an `X-Forwarded-For` entry, whether it is a
/// trusted proxy, and whether it came over TLS (and for which name). Made once per connection,
/// not per request.
#[derive(Debug, Clone)]
pub(crate) struct ClientAddr {
    pub value: HeaderValue,
    pub trusted: bool,
    /// Over HTTPS.
    pub https: bool,
    /// The name the client asked for in its TLS handshake (SNI), lowercase.
    pub sni: Option<std::sync::Arc<str>>,
}

impl ClientAddr {
    pub fn new(client: IpAddr, trusted: bool) -> Self {
        let value = HeaderValue::try_from(client.to_string()).unwrap_or_else(|_| HeaderValue::from_static("unknown"));
        ClientAddr { value, trusted, https: false, sni: None }
    }
}

/// [`add_forwarding`] with the client already rendered by [`ClientAddr::new`].
pub(crate) fn add_forwarding_value(headers: &mut HeaderMap, client: &ClientAddr, host: Option<&HeaderValue>) {
    let (trusted, https, client) = (client.trusted, client.https, &client.value);
    let mut earlier = headers.get_all(&X_FORWARDED_FOR).iter();
    // The usual case, no proxy before us: the client address as is, without formatting.
    let forwarded_for = match earlier.next() {
        None => Some(client.clone()),
        Some(_) if !trusted => Some(client.clone()),
        Some(first) => {
            let mut list = first.as_bytes().to_vec();
            for value in earlier {
                list.extend_from_slice(b", ");
                list.extend_from_slice(value.as_bytes());
            }
            list.extend_from_slice(b", ");
            list.extend_from_slice(client.as_bytes());
            HeaderValue::from_bytes(&list).ok()
        }
    };
    if let Some(value) = forwarded_for {
        headers.insert(&X_FORWARDED_FOR, value);
    }
    let proto = if https { "https" } else { "http" };
    headers.insert(&X_FORWARDED_PROTO, HeaderValue::from_static(proto));
    if let Some(host) = host {
        headers.insert(&X_FORWARDED_HOST, host.clone());
    }
    if !headers.contains_key(&X_REQUEST_ID) {
        headers.insert(&X_REQUEST_ID, new_request_id());
    }
}

/// A cheap id, unique within this process and very likely across restarts: a per-process prefix
/// from the wall clock and pid, and a counter, as `pppppppp-nnnnnnnnnnnn` in hex. Written into a
/// stack buffer: `format!` here showed up in the request path's profile.
pub(crate) fn new_request_id() -> HeaderValue {
    // Only a seed for uniqueness across restarts, not a time anyone reads.
    #[allow(clippy::disallowed_methods)]
    static PREFIX: LazyLock<[u8; 8]> = LazyLock::new(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|since| since.subsec_nanos() ^ (since.as_secs() as u32))
            .unwrap_or(0);
        let mut prefix = [0u8; 8];
        hex_into(&mut prefix, u64::from(nanos ^ std::process::id().rotate_left(16)));
        prefix
    });
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut id = [b'-'; 21];
    id[..8].copy_from_slice(&*PREFIX);
    hex_into(&mut id[9..], n);
    HeaderValue::from_bytes(&id).unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

/// Writes the low `out.len()` hex digits of `n` into `out`, most significant first.
fn hex_into(out: &mut [u8], mut n: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for byte in out.iter_mut().rev() {
        *byte = DIGITS[(n & 0xf) as usize];
        n >>= 4;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn strips_hop_by_hop_and_connection_named() {
        let mut headers = map(&[
            ("connection", "keep-alive, X-Secret-Hop"),
            ("keep-alive", "timeout=5"),
            ("x-secret-hop", "1"),
            ("te", "trailers"),
            ("trailer", "x-checksum"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("proxy-authorization", "Basic x"),
            ("proxy-connection", "keep-alive"),
            ("proxy", "http://evil.example"),
            ("proxy-anything", "x"),
            ("accept", "*/*"),
        ]);
        strip_hop_by_hop(&mut headers);
        let left: Vec<_> = headers.keys().map(|name| name.as_str()).collect();
        assert_eq!(left, ["accept"]);

        // Each one alone is found too (the quick scan must not miss what the full pass removes).
        for name in ["keep-alive", "te", "trailer", "upgrade", "proxy", "proxy-authorization"] {
            let mut headers = map(&[(name, "x"), ("accept", "*/*")]);
            strip_hop_by_hop(&mut headers);
            assert!(!headers.contains_key(name), "{name} was forwarded");
        }
        let mut plain = map(&[("accept", "*/*"), ("user-agent", "t"), ("x-proxy", "kept")]);
        strip_hop_by_hop(&mut plain);
        assert_eq!(plain.len(), 3);
    }

    proptest::proptest! {
        /// Whatever mix of headers comes in (hop-by-hop ones, `Proxy-*`, ones a `Connection`
        /// header names, ordinary ones, repeated or not), what goes out is exactly the ordinary
        /// ones that no `Connection` header named, with their values: the quick scan at the
        /// top of `strip_hop_by_hop` never lets one through nor drops one.
        #[test]
        fn only_end_to_end_headers_are_forwarded(
            picks in proptest::collection::vec((0usize..12, 0usize..3), 0..10),
            named in proptest::collection::vec(0usize..12, 0..3),
        ) {
            const NAMES: [&str; 12] = [
                "accept", "x-app", "x-proxy", "user-agent", "keep-alive", "te", "trailer",
                "transfer-encoding", "upgrade", "proxy", "proxy-authorization", "x-hop",
            ];
            let mut pairs: Vec<(&str, String)> = picks.iter().map(|&(n, v)| (NAMES[n], format!("v{v}"))).collect();
            if !named.is_empty() {
                let tokens: Vec<&str> = named.iter().map(|&n| NAMES[n]).collect();
                pairs.push(("connection", tokens.join(", ")));
            }
            let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (*n, v.as_str())).collect();
            let mut headers = map(&borrowed);
            strip_hop_by_hop(&mut headers);

            // RFC 9110 7.6.1's list, `Keep-Alive`, the `Proxy` family and what `Connection` names.
            let dropped = |name: &str| {
                ["connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade", "proxy"].contains(&name)
                    || name.starts_with("proxy-")
                    || named.iter().any(|&n| NAMES[n] == name)
            };
            let expected: Vec<(&str, &str)> = borrowed.iter().copied().filter(|(n, _)| !dropped(n)).collect();
            let mut kept: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.to_str().unwrap())).collect();
            let mut expected_sorted = expected.clone();
            kept.sort();
            expected_sorted.sort();
            proptest::prop_assert_eq!(kept, expected_sorted);
        }
    }

    #[test]
    fn detects_upgrade() {
        let headers = map(&[("connection", "keep-alive, Upgrade"), ("upgrade", "websocket")]);
        assert_eq!(requested_upgrade(&headers).unwrap(), "websocket");
        assert!(requested_upgrade(&map(&[("upgrade", "websocket")])).is_none());
    }

    #[test]
    fn a_trusted_proxy_s_forwarded_for_is_extended_and_the_request_id_kept() {
        let mut headers =
            map(&[("x-forwarded-for", "10.0.0.1"), ("x-forwarded-for", "10.0.0.2"), ("x-request-id", "abc")]);
        let host = HeaderValue::from_static("app.example:8080");
        add_forwarding(&mut headers, "192.0.2.7".parse().unwrap(), true, Some(&host));
        assert_eq!(headers["x-forwarded-for"], "10.0.0.1, 10.0.0.2, 192.0.2.7");
        assert_eq!(headers.get_all("x-forwarded-for").iter().count(), 1);
        assert_eq!(headers["x-forwarded-proto"], "http");
        assert_eq!(headers["x-forwarded-host"], "app.example:8080");
        assert_eq!(headers["x-request-id"], "abc");
    }

    #[test]
    fn any_other_client_s_forwarded_for_is_replaced_by_its_own_address() {
        let mut headers = map(&[("x-forwarded-for", "203.0.113.66"), ("x-forwarded-for", "10.0.0.2")]);
        add_forwarding(&mut headers, "192.0.2.7".parse().unwrap(), false, None);
        assert_eq!(headers["x-forwarded-for"], "192.0.2.7");
        assert_eq!(headers.get_all("x-forwarded-for").iter().count(), 1);
    }

    #[test]
    fn forwarded_proto_says_how_the_client_came_whatever_it_claimed() {
        let mut plain = map(&[("x-forwarded-proto", "https")]);
        add_forwarding(&mut plain, "192.0.2.7".parse().unwrap(), false, None);
        assert_eq!(plain["x-forwarded-proto"], "http");
        let mut tls = map(&[("x-forwarded-proto", "http")]);
        let client = ClientAddr { https: true, ..ClientAddr::new("192.0.2.7".parse().unwrap(), false) };
        add_forwarding_value(&mut tls, &client, None);
        assert_eq!(tls["x-forwarded-proto"], "https");
        assert_eq!(tls.get_all("x-forwarded-proto").iter().count(), 1);
    }

    #[test]
    fn request_ids_differ() {
        let mut headers = HeaderMap::new();
        add_forwarding(&mut headers, "::1".parse().unwrap(), false, None);
        assert_eq!(headers["x-forwarded-for"], "::1");
        assert_ne!(new_request_id(), new_request_id());
    }

    #[test]
    fn request_id_shape() {
        let id = new_request_id();
        let id = id.to_str().unwrap();
        assert_eq!(id.len(), 21, "{id}");
        assert_eq!(&id[8..9], "-");
        assert!(id.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit()), "{id}");
        let mut out = [0u8; 4];
        hex_into(&mut out, 0x1_beef);
        assert_eq!(&out, b"beef");
    }
}
