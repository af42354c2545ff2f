//! Shared fixtures for the load balancer's loopback tests: small hyper backends that echo their
//! name and request headers, a running load balancer, and an HTTP/1 client.
//!
//! Not every test file uses every helper.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use sprout_lb::{LbConfig, LoadBalancer, Route, RoutingTable, Upstream};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A test instance: answers every request with its name; see `backend_service` for the paths.
pub struct Backend {
    pub name: String,
    pub addr: SocketAddr,
    /// TCP connections accepted so far.
    pub connections: Arc<AtomicUsize>,
}

impl Backend {
    pub async fn start(name: &str) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let backend = Backend { name: name.to_owned(), addr, connections: connections.clone() };
        let name = name.to_owned();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                connections.fetch_add(1, Ordering::SeqCst);
                let name = name.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| backend_service(name.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await;
                });
            }
        });
        backend
    }

    pub fn upstream(&self) -> Upstream {
        Upstream { instance: self.name.clone(), addr: self.addr }
    }

    pub fn connection_count(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// `/body` streams the request body back; `/hang` never answers; `/slow` answers after 500 ms;
/// `/ws` accepts an upgrade and echoes bytes; `/status/NNN` answers status NNN; anything else returns the backend's name and the
/// request headers, one `name: value` per line. A backend named `dying...` answers every request
/// 502, as an instance's nginx does once the app behind it has died.
async fn backend_service(
    name: String,
    mut req: Request<Incoming>,
) -> Result<Response<BoxBody<Bytes, hyper::Error>>, Infallible> {
    let response = match req.uri().path() {
        _ if name.starts_with("dying") => {
            let mut r = text(format!("{name}\nbad gateway\n"));
            *r.status_mut() = StatusCode::BAD_GATEWAY;
            r
        }
        "/body" => Response::new(req.into_body().boxed()),
        path if path.starts_with("/status/") => {
            let mut r = text(format!("{name}\n{path}\n"));
            *r.status_mut() = path["/status/".len()..].parse().ok().and_then(|c| StatusCode::from_u16(c).ok()).unwrap();
            r
        }
        "/hang" => std::future::pending().await,
        "/slow" => {
            tokio::time::sleep(Duration::from_millis(500)).await;
            text(format!("{name}\nslow done\n"))
        }
        "/ws" => {
            let on_upgrade = hyper::upgrade::on(&mut req);
            tokio::spawn(async move {
                if let Ok(upgraded) = on_upgrade.await {
                    let (mut read, mut write) = tokio::io::split(TokioIo::new(upgraded));
                    let _ = tokio::io::copy(&mut read, &mut write).await;
                }
            });
            Response::builder()
                .status(StatusCode::SWITCHING_PROTOCOLS)
                .header("connection", "upgrade")
                .header("upgrade", "echo")
                .body(Empty::new().map_err(|never| match never {}).boxed())
                .unwrap()
        }
        _ => {
            let mut body = format!("{name}\n");
            for (header, value) in req.headers() {
                body.push_str(&format!("{header}: {}\n", value.to_str().unwrap_or("?")));
            }
            text(body)
        }
    };
    let mut response = response;
    response.headers_mut().insert("x-backend", name.parse().unwrap());
    Ok(response)
}

fn text(body: String) -> Response<BoxBody<Bytes, hyper::Error>> {
    Response::new(Full::new(Bytes::from(body)).map_err(|never| match never {}).boxed())
}

pub fn route(app: &str, env: &str, upstreams: Vec<Upstream>) -> Route {
    Route {
        app: app.to_owned(),
        env: env.to_owned(),
        upstreams,
        hold: None,
        balance: None,
        https: Default::default(),
        idle_timeout: None,
        ignore_5xx: Default::default(),
    }
}

/// A running load balancer on a loopback port.
pub struct Lb {
    pub lb: Arc<LoadBalancer>,
    pub addr: SocketAddr,
    pub shutdown: CancellationToken,
    pub task: JoinHandle<std::io::Result<()>>,
}

impl Lb {
    pub async fn start(config: LbConfig, table: RoutingTable) -> Lb {
        let lb = LoadBalancer::new(config);
        lb.publish(table);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(lb.clone().serve(listener, shutdown.clone()));
        Lb { lb, addr, shutdown, task }
    }
}

/// A pooled HTTP/1 client, as a browser or curl would connect.
pub fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build(HttpConnector::new())
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    /// The backend name, first line of an echo body.
    pub fn backend(&self) -> &str {
        self.body.lines().next().unwrap_or("")
    }

    /// The value of a request header as the backend saw it.
    pub fn seen(&self, header: &str) -> Option<&str> {
        let prefix = format!("{header}: ");
        self.body.lines().skip(1).find_map(|line| line.strip_prefix(prefix.as_str()))
    }
}

pub async fn send(
    client: &Client<HttpConnector, Full<Bytes>>,
    lb: SocketAddr,
    host: &str,
    path: &str,
) -> anyhow::Result<Answer> {
    let request = Request::get(format!("http://{lb}{path}")).header("host", host).body(Full::new(Bytes::new()))?;
    let response = client.request(request).await?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok(Answer { status: parts.status, headers: parts.headers, body: String::from_utf8_lossy(&body).into_owned() })
}

pub async fn get(lb: SocketAddr, host: &str, path: &str) -> Answer {
    send(&client(), lb, host, path).await.unwrap()
}
