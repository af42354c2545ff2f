//! Certificates over ACME against a real ACME server: Debian's `pebble` (Let's Encrypt's test
//! server; scripts/ensure-deps installs it), started here on loopback with its own CA, its
//! HTTP-01 port pointed at Sprout's plain-HTTP listener, and `pebble-challtestsrv` as its DNS
//! (every name is 127.0.0.1 unless the test says otherwise).
//!
//! `domains add --acme` gets a certificate issued and served over `--https` (checked with a
//! rustls client trusting pebble's issuing root, from pebble's management endpoint); `certs
//! renew` replaces it with a new one without a restart; a challenge that fails (the name now
//! resolves where Sprout is not) is reported in `certs list`, in the events and as one `warning`
//! to an `https://` webhook (a TLS receiver this test runs, trusted through SPROUT_CA_FILE),
//! while the certificate already served stays served; fixing the name renews it and the alert
//! resolves; an ACME directory that answers garbage is an error in words, and nothing served
//! changes. With pebble issuing 30-second certificates, one is renewed on its own (at two
//! thirds of its life) and HTTPS is served throughout.
#![allow(clippy::disallowed_methods)] // end-to-end: real processes in real time

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// A CA of the test's own and a leaf for loopback (pebble's and the receiver's listeners).
struct TestCa {
    ca_pem: String,
    leaf_pem: String,
    key_pem: String,
}

fn loopback_ca() -> TestCa {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "Sprout ACME test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap()).unwrap();
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = params.signed_by(&key, &ca).unwrap();
    TestCa { ca_pem: ca.pem(), leaf_pem: leaf.pem(), key_pem: key.serialize_pem() }
}

/// Child processes of the test, killed when it ends.
struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_for_port(addr: &str, what: &str) {
    eventually(what, 30, || TcpStream::connect(addr).is_ok());
}

/// A rustls client trusting `ca_pem` only.
fn client_config(ca_pem: &str) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// GET over TLS trusting `ca_pem`: the status, the body and the server's leaf certificate.
fn tls_get(addr: &str, ca_pem: &str, name: &str, path: &str) -> std::io::Result<(u16, String, Vec<u8>)> {
    let server_name = ServerName::try_from(name.to_string()).unwrap();
    let conn = rustls::ClientConnection::new(client_config(ca_pem), server_name).map_err(std::io::Error::other)?;
    let sock = TcpStream::connect(addr)?;
    sock.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut tls = rustls::StreamOwned::new(conn, sock);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    let leaf = tls.conn.peer_certificates().and_then(|c| c.first()).map(|c| c.to_vec()).unwrap_or_default();
    write!(tls, "GET {path} HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n")?;
    let mut buf = Vec::new();
    if let Err(e) = tls.read_to_end(&mut buf)
        && buf.is_empty()
    {
        return Err(e);
    }
    let t = text(&buf);
    let status = t.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = t.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((status, body, leaf))
}

/// pebble and its DNS, on loopback ports of their own.
struct Pebble {
    dir: String,
    management: String,
    dns_management: String,
    ca: TestCa,
}

impl Pebble {
    fn directory(port: u16) -> String {
        format!("https://127.0.0.1:{port}/dir")
    }

    /// Starts pebble (ACME on `port`) validating HTTP-01 on `http_port`.
    /// `validity_s`: the lifetime of the certificates it issues (None: pebble's five years).
    fn start(
        dir: &Path,
        ca: TestCa,
        (port, http_port): (u16, u16),
        validity_s: Option<u64>,
        procs: &mut Procs,
    ) -> Pebble {
        std::fs::write(dir.join("pebble-cert.pem"), &ca.leaf_pem).unwrap();
        std::fs::write(dir.join("pebble-key.pem"), &ca.key_pem).unwrap();
        let (management, dns, dns_management) = (free_port(), free_port(), free_port());
        let mut config = serde_json::json!({ "pebble": {
            "listenAddress": format!("127.0.0.1:{port}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": dir.join("pebble-cert.pem"),
            "privateKey": dir.join("pebble-key.pem"),
            "httpPort": http_port,
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        }});
        if let Some(s) = validity_s {
            config["pebble"]["certificateValidityPeriod"] = s.into();
        }
        std::fs::write(dir.join("pebble.json"), config.to_string()).unwrap();
        let log = |name: &str| std::fs::File::create(dir.join(name)).unwrap();
        let dns_addr = format!("127.0.0.1:{dns}");
        let challtest = Command::new("pebble-challtestsrv")
            .args(["-dns01", &dns_addr, "-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-management", &format!("127.0.0.1:{dns_management}"), "-defaultIPv4", "127.0.0.1"])
            // No AAAA answers: pebble would dial ::1 first, where Sprout does not listen.
            .args(["-defaultIPv6", ""])
            .stdout(log("challtestsrv.log"))
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble-challtestsrv is installed (scripts/ensure-deps installs Debian's pebble)");
        procs.0.push(challtest);
        wait_for_port(&format!("127.0.0.1:{dns_management}"), "pebble-challtestsrv listens");
        let pebble = Command::new("pebble")
            .arg("-config")
            .arg(dir.join("pebble.json"))
            .args(["-dnsserver", &dns_addr])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            // Every order is validated afresh: a renewal after the name moved must fail.
            .env("PEBBLE_AUTHZREUSE", "0")
            .stdout(log("pebble.log"))
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble is installed (scripts/ensure-deps installs Debian's pebble)");
        procs.0.push(pebble);
        wait_for_port(&format!("127.0.0.1:{port}"), "pebble listens");
        Pebble {
            dir: dir.display().to_string(),
            management: format!("127.0.0.1:{management}"),
            dns_management: format!("127.0.0.1:{dns_management}"),
            ca,
        }
    }

    /// pebble's issuing root (regenerated at each start), from its management endpoint.
    fn root(&self) -> String {
        let (status, body, _) = tls_get(&self.management, &self.ca.ca_pem, "127.0.0.1", "/roots/0").unwrap();
        assert_eq!(status, 200, "pebble's root: {body}");
        body
    }

    /// Makes `host` resolve to `addr` in pebble's DNS (None: back to 127.0.0.1).
    fn resolve(&self, host: &str, addr: Option<&str>) {
        let (path, body) = match addr {
            Some(a) => ("/add-a", serde_json::json!({ "host": host, "addresses": [a] })),
            None => ("/clear-a", serde_json::json!({ "host": host })),
        };
        let body = body.to_string();
        let mut s = TcpStream::connect(&self.dns_management).unwrap();
        write!(
            s,
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        assert!(out.starts_with("HTTP/1.1 200"), "challtestsrv {path}: {out}");
    }
}

/// A webhook receiver over HTTPS (a certificate for 127.0.0.1 from the test's CA): answers 200
/// to every POST and keeps the JSON bodies.
struct TlsReceiver {
    port: u16,
    got: Arc<Mutex<Vec<serde_json::Value>>>,
    stop: Arc<AtomicBool>,
}

impl TlsReceiver {
    fn start(ca: &TestCa) -> TlsReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(ca.leaf_pem.as_bytes()).map(Result::unwrap).collect();
        let key = PrivateKeyDer::from_pem_slice(ca.key_pem.as_bytes()).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        let config = Arc::new(config);
        let (got, stop) = (Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicBool::new(false)));
        let (got2, stop2) = (got.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                let Ok((sock, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                sock.set_nonblocking(false).unwrap();
                sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let conn = rustls::ServerConnection::new(config.clone()).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, sock);
                if let Some(body) = read_post(&mut tls) {
                    got2.lock().unwrap().push(body);
                    let _ = tls.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                }
            }
        });
        TlsReceiver { port, got, stop }
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}/hook", self.port)
    }

    fn received(&self) -> Vec<serde_json::Value> {
        self.got.lock().unwrap().clone()
    }
}

impl Drop for TlsReceiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn read_post(s: &mut impl Read) -> Option<serde_json::Value> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    let len: usize = head.lines().find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))?;
    let mut raw = buf[end + 4..].to_vec();
    while raw.len() < len {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&chunk[..n]);
    }
    serde_json::from_slice(&raw).ok()
}

fn acme_certs(server: &Server) -> Vec<serde_json::Value> {
    let list: Vec<serde_json::Value> =
        serde_json::from_str(&server.cli_ok(&["certs", "list", "--output", "json"])).unwrap();
    list.into_iter().filter(|c| c["source"] == "acme").collect()
}

#[test]
fn acme_certificates_are_issued_served_renewed_and_a_failed_renewal_keeps_the_served_one() {
    require_example_images();
    let tmp = tempfile::tempdir().unwrap();
    let mut procs = Procs(Vec::new());
    let acme_port = free_port();
    let https_addr = format!("127.0.0.1:{}", free_port());
    let hooks_ca = loopback_ca();
    std::fs::write(tmp.path().join("hooks-ca.pem"), &hooks_ca.ca_pem).unwrap();
    // pebble's listener certificate comes from a CA of the test's, which the server trusts for
    // the directory; pebble's port must be known before the server starts, and Sprout's HTTP
    // port before pebble does.
    let pebble_listener = loopback_ca();
    let pebble_ca_file = tmp.path().join("pebble-listener-ca.pem");
    std::fs::write(&pebble_ca_file, &pebble_listener.ca_pem).unwrap();
    let app = unique_app("acme");
    let directory = Pebble::directory(acme_port);
    let pebble_dir = tmp.path().join("pebble");
    std::fs::create_dir_all(&pebble_dir).unwrap();
    let hooks_ca_file = tmp.path().join("hooks-ca.pem");
    let mut server = Server::start_with_env(
        &app,
        &[
            "--https",
            &https_addr,
            "--acme-directory",
            &directory,
            "--acme-email",
            "ops@example.com",
            "--acme-ca-file",
            pebble_ca_file.to_str().unwrap(),
        ],
        &[("SPROUT_CA_FILE", hooks_ca_file.to_str().unwrap())],
    );
    let http_port: u16 = server.http.rsplit(':').next().unwrap().parse().unwrap();
    let pebble = Pebble::start(&pebble_dir, pebble_listener, (acme_port, http_port), None, &mut procs);

    let bundle = hog_bundle(None);
    server.cli_ok(&["create", "prod", "--bundle", bundle.path().to_str().unwrap(), "--instances", "1"]);
    let receiver = TlsReceiver::start(&hooks_ca);
    server.cli_ok(&["notify", "add", "prod", "--webhook", &receiver.url()]);

    // Issued and served.
    let out = server.cli(&["domains", "add", "prod", "*.wild.example.com", "--acme"]);
    assert!(!out.status.success() && text(&out.stderr).contains("DNS-01"), "{}", text(&out.stderr));
    server.cli_ok(&["domains", "add", "prod", "ads.example.com", "--acme"]);
    assert!(server.cli_ok(&["domains", "list"]).contains("acme"));
    let explain = |server: &Server| {
        format!(
            "certs list:\n{}\nserver log:\n{}\npebble log:\n{}",
            server.cli_ok(&["certs", "list"]),
            tail(&server.log(), 30),
            tail(&std::fs::read_to_string(format!("{}/pebble.log", pebble.dir)).unwrap_or_default(), 30)
        )
    };
    let issued = {
        let mut found = None;
        for _ in 0..120 {
            if let Some(c) = acme_certs(&server).into_iter().next() {
                found = Some(c);
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        found.unwrap_or_else(|| panic!("no certificate issued within 60 s; {}", explain(&server)))
    };
    assert_eq!(issued["names"], serde_json::json!(["ads.example.com"]));
    assert!(issued["issuer"].as_str().unwrap().to_lowercase().contains("pebble"), "{issued}");
    let root = pebble.root();
    eventually("the environment serves its domain", 60, || {
        http_get(&server.http, "ads.example.com", "/").map(|r| r.0 == 200).unwrap_or(false)
    });
    let (status, _, first_leaf) = tls_get(&https_addr, &root, "ads.example.com", "/").expect("served over HTTPS");
    assert_eq!(status, 200);
    assert!(!first_leaf.is_empty());

    // Renewed by hand: a new certificate, served without a restart, the old one gone.
    let id = issued["id"].as_str().unwrap().to_string();
    server.cli_ok(&["certs", "renew", &id]);
    let mut second_leaf = Vec::new();
    eventually("the renewed certificate is served", 60, || {
        second_leaf = tls_get(&https_addr, &root, "ads.example.com", "/").map(|r| r.2).unwrap_or_default();
        !second_leaf.is_empty() && second_leaf != first_leaf
    });
    let certs = acme_certs(&server);
    assert_eq!(certs.len(), 1, "the renewed certificate replaced the old one: {certs:?}");
    assert_ne!(certs[0]["id"], issued["id"]);

    // The name now resolves where Sprout is not: the challenge fails, the served one stays.
    pebble.resolve("ads.example.com", Some("127.0.0.2"));
    let id = certs[0]["id"].as_str().unwrap().to_string();
    server.cli_ok(&["certs", "renew", &id]);
    eventually("the failed renewal shows in certs list", 90, || {
        acme_certs(&server).first().is_some_and(|c| c["last_error"].as_str().is_some_and(|e| !e.is_empty()))
    });
    let listed = server.cli_ok(&["certs", "list"]);
    assert!(listed.contains("last renewal attempt") && listed.contains("challenge"), "{listed}");
    assert!(listed.contains("failed (1 in a row)"), "{listed}");
    let (status, _, leaf) = tls_get(&https_addr, &root, "ads.example.com", "/").unwrap();
    assert_eq!((status, leaf == second_leaf), (200, true), "the certificate served is unchanged");
    let events = server.cli_ok(&["events", "prod"]);
    assert!(events.contains("CertificateRenewalFailed") || events.contains("Could not obtain"), "{events}");
    eventually("one warning reaches the https:// webhook", 30, || {
        receiver.received().iter().any(|b| b["severity"] == "warning")
    });
    let warnings: Vec<_> = receiver.received().into_iter().filter(|b| b["severity"] == "warning").collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0]["message"].as_str().unwrap().contains("ads.example.com"), "{warnings:?}");

    // Fixed: renewed, and the alert resolves.
    pebble.resolve("ads.example.com", None);
    server.cli_ok(&["certs", "renew", &id]);
    eventually("a new certificate after the fix", 60, || {
        tls_get(&https_addr, &root, "ads.example.com", "/").is_ok_and(|r| r.2 != second_leaf)
    });
    eventually("the alert resolves", 30, || receiver.received().iter().any(|b| b["severity"] == "resolved"));
    assert!(acme_certs(&server)[0]["last_error"].is_null());

    // A directory that answers garbage: an error in words, the certificate still served.
    let junk = TcpListener::bind("127.0.0.1:0").unwrap();
    let junk_addr = junk.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut s in junk.incoming().flatten() {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nnot acme\n");
        }
    });
    let (_, _, served) = tls_get(&https_addr, &root, "ads.example.com", "/").unwrap();
    server.stop(false);
    let junk_dir = format!("https://{junk_addr}/dir");
    let at = server.extra_args.iter().position(|a| a == "--acme-directory").unwrap();
    server.extra_args[at + 1] = junk_dir.clone();
    server.spawn();
    let id = acme_certs(&server)[0]["id"].as_str().unwrap().to_string();
    server.cli_ok(&["certs", "renew", &id]);
    eventually("the garbage directory is reported", 60, || {
        acme_certs(&server)[0]["last_error"].as_str().is_some_and(|e| e.contains(&junk_addr.to_string()))
    });
    let (status, _, leaf) = tls_get(&https_addr, &root, "ads.example.com", "/").unwrap();
    assert_eq!((status, leaf == served), (200, true), "served after a restart, unchanged: {}", explain(&server));
    server.cli_ok(&["terminate", "prod", "--force"]);
}

#[test]
fn a_short_lived_certificate_is_renewed_on_its_own_at_two_thirds_of_its_life() {
    require_example_images();
    let tmp = tempfile::tempdir().unwrap();
    let mut procs = Procs(Vec::new());
    let acme_port = free_port();
    let https_addr = format!("127.0.0.1:{}", free_port());
    let listener_ca = loopback_ca();
    let ca_file = tmp.path().join("pebble-listener-ca.pem");
    std::fs::write(&ca_file, &listener_ca.ca_pem).unwrap();
    let directory = Pebble::directory(acme_port);
    let app = unique_app("acme-short");
    let server = Server::start_with(
        &app,
        &["--https", &https_addr, "--acme-directory", &directory, "--acme-ca-file", ca_file.to_str().unwrap()],
    );
    let http_port: u16 = server.http.rsplit(':').next().unwrap().parse().unwrap();
    // Certificates that live 30 s: renewed at 20 s, before they expire, with no one asking.
    let pebble = Pebble::start(tmp.path(), listener_ca, (acme_port, http_port), Some(30), &mut procs);
    let bundle = hog_bundle(None);
    server.cli_ok(&["create", "prod", "--bundle", bundle.path().to_str().unwrap(), "--instances", "1"]);
    server.cli_ok(&["domains", "add", "prod", "short.example.com", "--acme"]);
    let root = pebble.root();
    let mut first = Vec::new();
    eventually("the first certificate is served", 60, || {
        first = tls_get(&https_addr, &root, "short.example.com", "/").map(|r| r.2).unwrap_or_default();
        !first.is_empty()
    });
    let issued = acme_certs(&server);
    let lifetime = |c: &serde_json::Value| {
        let t = |k: &str| chrono::DateTime::parse_from_rfc3339(c[k].as_str().unwrap()).unwrap();
        (t("not_after") - t("not_before")).num_seconds()
    };
    assert!(lifetime(&issued[0]) <= 31, "pebble issued a short-lived certificate: {issued:?}");
    // Every answer along the way is over a valid certificate (the client checks its dates).
    eventually("a renewed certificate is served, before the first expires", 40, || {
        let (status, _, leaf) = tls_get(&https_addr, &root, "short.example.com", "/").expect("always served");
        assert_eq!(status, 200);
        leaf != first
    });
    let renewed = acme_certs(&server);
    assert!(renewed.iter().all(|c| c["id"] != issued[0]["id"]), "the first one was replaced: {renewed:?}");
    assert!(renewed.iter().all(|c| c["last_error"].is_null()), "{renewed:?}");
    server.cli_ok(&["terminate", "prod", "--force"]);
}
