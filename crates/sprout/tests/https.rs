//! `sprout server --https` on the real Docker engine with certificates this test makes (rcgen):
//! an uploaded certificate is served by SNI (exact and wildcard names, TLS 1.2 and 1.3, ALPN h2
//! and http/1.1); a name without a certificate fails the handshake and the listener carries on;
//! a Host that is not the SNI gets a 421; the per-environment redirect (308) and HSTS; expired,
//! mismatched and junk uploads are refused with the reason and change nothing served; the
//! certificate is served again after a restart (its key sealed in the store, in no file).
#![allow(clippy::disallowed_methods)] // end-to-end tests wait on real Docker in real time

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

/// A test CA and a leaf it signed for `names`: (CA PEM, chain PEM, key PEM).
fn issue(names: &[&str], expired: bool) -> (String, String, String) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "Sprout test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap()).unwrap();
    let mut params = rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    if expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = params.signed_by(&key, &ca).unwrap();
    (ca.pem(), format!("{}{}", leaf.pem(), ca.pem()), key.serialize_pem())
}

struct Answer {
    status: u16,
    head: String,
    alpn: Option<Vec<u8>>,
    version: Option<rustls::ProtocolVersion>,
}

/// One HTTPS request over HTTP/1.1 (or just the handshake's outcome when `alpn` asks for h2).
fn https(
    addr: &str,
    ca_pem: &str,
    sni: &str,
    host: &str,
    path: &str,
    tls12_only: bool,
    alpn: &[&[u8]],
) -> std::io::Result<Answer> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider);
    let builder = if tls12_only {
        builder.with_protocol_versions(&[&rustls::version::TLS12])
    } else {
        builder.with_safe_default_protocol_versions()
    };
    let mut config = builder.unwrap().with_root_certificates(roots).with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let name = ServerName::try_from(sni.to_string()).unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).map_err(std::io::Error::other)?;
    let sock = TcpStream::connect(addr)?;
    sock.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut tls = rustls::StreamOwned::new(conn, sock);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    let (alpn, version) = (tls.conn.alpn_protocol().map(<[u8]>::to_vec), tls.conn.protocol_version());
    if alpn.as_deref() == Some(b"h2") {
        return Ok(Answer { status: 0, head: String::new(), alpn, version });
    }
    write!(tls, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")?;
    let mut buf = Vec::new();
    if let Err(e) = tls.read_to_end(&mut buf)
        && buf.is_empty()
    {
        return Err(e);
    }
    let t = text(&buf);
    let status = t.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let head = t.split_once("\r\n\r\n").map(|(h, _)| h.to_ascii_lowercase()).unwrap_or_default();
    Ok(Answer { status, head, alpn, version })
}

fn raw_head(addr: &str, host: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    text(&buf).split_once("\r\n\r\n").map(|(h, _)| h.to_ascii_lowercase()).unwrap_or_default()
}

#[test]
fn uploaded_certificates_are_served_by_sni_with_redirect_and_hsts() {
    require_example_images();
    let app = unique_app("https");
    let https_addr = format!("127.0.0.1:{}", free_port());
    let mut server = Server::start_with(&app, &["--https", &https_addr]);
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let bundle = hog_bundle(None);
    server.cli_ok(&["create", "prod", "--bundle", bundle.path().to_str().unwrap(), "--instances", "1"]);
    server.cli_ok(&["domains", "add", "prod", "ads.example.com", "*.ads.example.com"]);
    eventually("the environment serves its domain", 60, || {
        http_get(&server.http, "ads.example.com", "/").map(|r| r.0 == 200).unwrap_or(false)
    });

    // Before any certificate: the handshake fails (an alert), the listener stays up.
    let (ca, chain, key) = issue(&["ads.example.com", "*.ads.example.com"], false);
    assert!(https(&https_addr, &ca, "ads.example.com", "ads.example.com", "/", false, &[]).is_err());

    // Bad uploads: refused with the reason.
    let (_, _, other_key) = issue(&["ads.example.com"], false);
    let (_, old_chain, old_key) = issue(&["ads.example.com"], true);
    for (cert, key, why) in [
        (&chain, &other_key, "does not match"),
        (&old_chain, &old_key, "expired on 2021-01-01"),
        (&"not a certificate".to_string(), &key, "no PEM certificate"),
    ] {
        let out = server.cli(&["certs", "add", "--cert", &write("c.pem", cert), "--key", &write("k.pem", key)]);
        assert!(!out.status.success());
        assert!(text(&out.stderr).contains(why), "{why}: {}", text(&out.stderr));
    }
    assert!(server.cli_ok(&["certs", "list"]).contains("no certificate"));

    server.cli_ok(&["certs", "add", "--cert", &write("fullchain.pem", &chain), "--key", &write("key.pem", &key)]);
    let listed: serde_json::Value =
        serde_json::from_str(&server.cli_ok(&["certs", "list", "--output", "json"])).unwrap();
    assert_eq!(listed[0]["names"], serde_json::json!(["ads.example.com", "*.ads.example.com"]));
    assert_eq!(listed[0]["source"], "upload");
    assert!(listed[0]["issuer"].as_str().unwrap().contains("Sprout test CA"));

    let ok = https(&https_addr, &ca, "ads.example.com", "ads.example.com", "/", false, &[b"http/1.1"]).unwrap();
    assert_eq!(ok.status, 200, "{}", ok.head);
    assert!(ok.head.contains("x-instance:"), "answered by the instance: {}", ok.head);
    assert_eq!(ok.version, Some(rustls::ProtocolVersion::TLSv1_3));
    assert_eq!(ok.alpn.as_deref(), Some(&b"http/1.1"[..]));
    assert!(!ok.head.contains("strict-transport-security"), "no HSTS until asked");
    let tls12 = https(&https_addr, &ca, "eu.ads.example.com", "eu.ads.example.com:443", "/", true, &[]).unwrap();
    assert_eq!((tls12.status, tls12.version), (200, Some(rustls::ProtocolVersion::TLSv1_2)), "wildcard over TLS 1.2");
    let h2 = https(&https_addr, &ca, "ads.example.com", "ads.example.com", "/", false, &[b"h2", b"http/1.1"]).unwrap();
    assert_eq!(h2.alpn.as_deref(), Some(&b"h2"[..]), "ALPN picks h2 when offered");
    let misdirected = https(&https_addr, &ca, "ads.example.com", "eu.ads.example.com", "/", false, &[]).unwrap();
    assert_eq!(misdirected.status, 421, "{}", misdirected.head);
    assert!(
        https(&https_addr, &ca, "other.example.org", "other.example.org", "/", false, &[]).is_err(),
        "no certificate for the name: the handshake fails"
    );
    // Junk instead of a ClientHello: the connection is dropped, the listener carries on.
    {
        let mut junk = TcpStream::connect(&https_addr).unwrap();
        junk.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = junk.write_all(b"GET / HTTP/1.1\r\nHost: ads.example.com\r\n\r\n\x16\x03\x01\xff\xff");
        let _ = junk.read_to_end(&mut Vec::new());
    }
    assert_eq!(https(&https_addr, &ca, "ads.example.com", "ads.example.com", "/", false, &[]).unwrap().status, 200);

    // Redirect and HSTS, per environment.
    assert!(raw_head(&server.http, "ads.example.com", "/?from=test").starts_with("http/1.1 200"));
    server.cli_ok(&["domains", "https", "prod", "--redirect", "on", "--hsts-max-age", "600"]);
    let redirected = raw_head(&server.http, "ads.example.com", "/?from=test");
    let port = https_addr.rsplit(':').next().unwrap();
    assert!(redirected.starts_with("http/1.1 308"), "{redirected}");
    assert!(redirected.contains(&format!("location: https://ads.example.com:{port}/?from=test")), "{redirected}");
    let challenge = raw_head(&server.http, "ads.example.com", "/.well-known/acme-challenge/x");
    assert!(!challenge.starts_with("http/1.1 308"), "ACME challenges are not redirected: {challenge}");
    let hsts = https(&https_addr, &ca, "ads.example.com", "ads.example.com", "/", false, &[]).unwrap();
    assert!(hsts.head.contains("strict-transport-security: max-age=600"), "{}", hsts.head);

    // `sprout proxy --https` serves the same certificates, asked of the server (admin token).
    let (proxy_http, proxy_https) = (format!("127.0.0.1:{}", free_port()), format!("127.0.0.1:{}", free_port()));
    let _proxy = Killed(
        std::process::Command::new(BIN)
            .args(["proxy", "--listen", &proxy_http, "--https", &proxy_https, "--poll-ms", "200"])
            .env("SPROUT_URL", format!("http://{}", server.api))
            .env("SPROUT_TOKEN", server.token())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    eventually("sprout proxy serves HTTPS with the server's certificate", 30, || {
        https(&proxy_https, &ca, "eu.ads.example.com", "eu.ads.example.com", "/", false, &[])
            .is_ok_and(|a| a.status == 200 && a.head.contains("x-instance:"))
    });
    let reader: serde_json::Value =
        serde_json::from_str(&server.cli_ok(&["tokens", "create", "reader", "--scope", "read", "--output", "json"]))
            .unwrap();
    let reader = reader["token"].as_str().unwrap().to_string();
    let keys = std::process::Command::new(BIN)
        .args(["proxy", "--listen", &format!("127.0.0.1:{}", free_port()), "--https", "127.0.0.1:0"])
        .env("SPROUT_URL", format!("http://{}", server.api))
        .env("SPROUT_TOKEN", &reader)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut keys = Killed(keys);
    let said = Arc::new(std::sync::Mutex::new(String::new()));
    let (mut stderr, heard) = (keys.0.stderr.take().unwrap(), said.clone());
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf)
            && n > 0
        {
            heard.lock().unwrap().push_str(&text(&buf[..n]));
        }
    });
    eventually("a proxy with a read token is refused the keys", 30, || {
        said.lock().unwrap().contains("cannot read the certificates")
    });
    let said = said.lock().unwrap().clone();
    assert!(said.contains("scope admin"), "{said}");

    // The key is sealed in the store: in no file of the data directory in the clear, and the
    // certificate is served again after a restart.
    let key_body: String = key.lines().filter(|l| !l.starts_with("-----")).collect();
    let needle = &key_body[..40];
    for entry in walk(&server.data_dir) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(!text(&bytes).contains(needle), "the key is in the clear in {}", entry.display());
    }
    server.stop(false);
    server.spawn();
    eventually("HTTPS served again after a restart", 60, || {
        https(&https_addr, &ca, "ads.example.com", "ads.example.com", "/", false, &[]).is_ok_and(|a| a.status == 200)
    });
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Kills the server it holds when the test ends, however it ends.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_api_is_served_over_tls_and_refused_in_the_clear_off_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let free = || format!("127.0.0.1:{}", free_port());

    // Off loopback without TLS: refused at start, saying why and what to do.
    let open = std::process::Command::new(BIN)
        .args(["server", "--data-dir"])
        .arg(dir.path().join("open"))
        .args(["--api", &format!("0.0.0.0:{}", free_port()), "--http", &free()])
        .output()
        .unwrap();
    assert!(!open.status.success());
    let said = text(&open.stderr);
    assert!(
        said.contains("without TLS") && said.contains("--api-tls-cert") && said.contains("--insecure-api"),
        "{said}"
    );

    let (ca, chain, key) = issue(&["localhost"], false);
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let (cert_file, key_file, ca_file) = (write("api.pem", &chain), write("api.key", &key), write("ca.pem", &ca));
    let (_, _, wrong_key) = issue(&["localhost"], false);
    let mismatched = std::process::Command::new(BIN)
        .args(["server", "--data-dir"])
        .arg(dir.path().join("bad"))
        .args(["--api", &free(), "--http", &free(), "--api-tls-cert", &cert_file])
        .args(["--api-tls-key", &write("wrong.key", &wrong_key)])
        .output()
        .unwrap();
    assert!(!mismatched.status.success());
    assert!(text(&mismatched.stderr).contains("does not match"), "{}", text(&mismatched.stderr));

    let api = free();
    let data = dir.path().join("data");
    let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
    let _server = Killed(
        std::process::Command::new(BIN)
            .args(["server", "--data-dir"])
            .arg(&data)
            .args(["--api", &api, "--http", &free(), "--api-tls-cert", &cert_file, "--api-tls-key", &key_file])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    eventually("the API answers over TLS", 30, || {
        https(&api, &ca, "localhost", "localhost", "/healthz", false, &[]).is_ok_and(|a| a.status == 200)
    });
    assert_ne!(http_get(&api, "localhost", "/healthz").map(|r| r.0).unwrap_or(0), 200, "no plain HTTP on it");
    let port = api.rsplit(':').next().unwrap();
    let token = std::fs::read_to_string(data.join("admin.token")).unwrap();
    let cli = |ca_file: Option<&str>| {
        let mut cmd = std::process::Command::new(BIN);
        cmd.args(["tokens", "list", "--output", "json"])
            .env_remove("SPROUT_APP")
            .env("SPROUT_URL", format!("https://localhost:{port}"))
            .env("SPROUT_TOKEN", token.trim())
            .env_remove("SPROUT_CA_FILE")
            .current_dir(dir.path());
        if let Some(ca_file) = ca_file {
            cmd.env("SPROUT_CA_FILE", ca_file);
        }
        cmd.output().unwrap()
    };
    let trusted = cli(Some(&ca_file));
    assert!(trusted.status.success(), "{}", text(&trusted.stderr));
    assert!(!cli(None).status.success(), "a certificate the client does not trust is refused");
}
