//! `sprout server`: open the data directory, the store and the engine, then serve the API and
//! the load balancer and run the controllers until asked to stop.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sprout_docker::{DockerEngine, SwarmEngine};
use sprout_engine::Engine;
use sprout_lb::{LbConfig, LoadBalancer};
use sprout_store::{SqliteStore, Store};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::clock::{Clock, SystemClock};
use crate::context::{Ctx, Settings};
use crate::network_pool::NetworkPool;
use sprout_plan::subnets::{self, SubnetPool};

#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub data_dir: PathBuf,
    pub api_addr: String,
    pub http_addr: String,
    /// The API's certificate chain and key, PEM (`--api-tls-cert`, `--api-tls-key`): the API is
    /// then served over TLS only.
    pub api_tls: Option<(PathBuf, PathBuf)>,
    /// Serve the API without TLS on an address other than loopback (`--insecure-api`).
    pub insecure_api: bool,
    /// The load balancer's HTTPS address (`--https`); None: no HTTPS listener.
    pub https_addr: Option<String>,
    pub domain: Option<String>,
    /// The largest bundle accepted, in MiB (`--max-bundle-mb`); None keeps the default.
    pub max_bundle_mb: Option<u64>,
    /// Instance launches at once (`--launch-concurrency`); None: one per two cores.
    pub launch_concurrency: Option<usize>,
    /// Proxies whose `X-Forwarded-For` the load balancer believes (`--trusted-proxy`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Client connections the load balancer serves at once (`--max-connections`).
    pub max_connections: usize,
    /// Seconds a client connection may go without a request (`--client-idle-timeout`).
    pub client_idle_timeout_s: u64,
    /// Registry mirrors and the registry circuit's back-off (`--registry-mirror`,
    /// `--registry-mirror-order`, `--registry-backoff`, `--registry-backoff-max`).
    pub registries: crate::registry::RegistrySettings,
    /// The ACME directory, contact and extra CA (`--acme-directory`, `--acme-email`,
    /// `--acme-ca-file`) for domains added with `--acme`.
    pub acme: crate::acme::AcmeSettings,
    /// Where instance networks get their subnets (`--instance-network-pool`); None: the default.
    pub instance_network_pool: Option<ipnet::Ipv4Net>,
    /// Prefix length of an instance's subnet (`--instance-subnet-size`); None: the default.
    pub instance_subnet_size: Option<u8>,
    /// Where instances run (`--engine`).
    pub engine: EngineKind,
}

/// Where instances run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EngineKind {
    /// The local Docker engine.
    #[default]
    Local,
    /// The Docker Swarm the local engine manages.
    Swarm,
}

/// Why the server could not start, each with what to do.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("data directory {path} is not usable: {message}; choose another with --data-dir or fix its permissions")]
    DataDir { path: String, message: String },
    #[error(
        "cannot listen for the {what} on {addr}: {message}; is another server running there? choose another address with {flag}"
    )]
    Bind { what: &'static str, addr: String, flag: &'static str, message: String },
    #[error(
        "the API would listen on {addr} without TLS: tokens and secrets would cross the network in the clear. Give it a certificate with --api-tls-cert FULLCHAIN.pem --api-tls-key KEY.pem, keep it on loopback (--api 127.0.0.1:4680, the default) behind your own TLS proxy, or pass --insecure-api if the network is yours alone"
    )]
    InsecureApi { addr: String },
    #[error("{0}")]
    ApiTls(String),
    #[error("--acme-ca-file: {0}")]
    AcmeCa(String),
    #[error("{0}")]
    Store(#[from] sprout_store::StoreError),
    #[error("{0}")]
    Engine(#[from] sprout_engine::EngineError),
    #[error("{0}")]
    Token(String),
    #[error("{0}")]
    Secrets(#[from] crate::secrets::SecretsError),
    #[error("{0}")]
    PoolSize(#[from] sprout_plan::subnets::PoolError),
    #[error("{0}")]
    Pool(#[from] crate::network_pool::PoolCheckError),
}

/// Everything `run` opened, before serving: lets tests start a server on a FakeEngine.
pub struct Started {
    pub ctx: Ctx,
    pub api: TcpListener,
    pub http: TcpListener,
    pub https: Option<TcpListener>,
    /// The API's TLS, when it has a certificate.
    pub api_tls: Option<crate::api_listener::TlsAcceptor>,
    pub admin_token: Option<String>,
}

pub fn prepare_data_dir(dir: &Path) -> Result<PathBuf, StartError> {
    let fail = |m: String| StartError::DataDir { path: dir.display().to_string(), message: m };
    std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
    let dir = dir.canonicalize().map_err(|e| fail(e.to_string()))?;
    let probe = dir.join(".write-test");
    std::fs::write(&probe, b"ok").map_err(|e| fail(format!("cannot write in it ({e})")))?;
    let _ = std::fs::remove_file(&probe);
    Ok(dir)
}

/// Only the server's user may read the data directory, the database (variables, token hashes)
/// and the admin token, whatever modes they were created with or had before: the directory
/// 0700, the files 0600.
pub fn restrict_data_dir(dir: &Path) -> Result<(), StartError> {
    use std::os::unix::fs::PermissionsExt;
    let set = |path: &Path, mode: u32| match std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StartError::DataDir {
            path: path.display().to_string(),
            message: format!("cannot restrict its mode ({e})"),
        }),
        _ => Ok(()),
    };
    set(dir, 0o700)?;
    for file in ["sprout.db", "sprout.db-wal", "sprout.db-shm", "admin.token", "server.id", crate::secrets::KEY_FILE] {
        set(&dir.join(file), 0o600)?;
    }
    Ok(())
}

/// The server id, kept in the data directory so a restarted server adopts its own instances.
fn server_id(dir: &Path) -> Result<String, StartError> {
    let path = dir.join("server.id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        let id = id.trim().to_string();
        if !id.is_empty() {
            return Ok(id);
        }
    }
    let id = crate::controller::launching::new_instance_id().replacen("i-", "s", 1);
    std::fs::write(&path, &id)
        .map_err(|e| StartError::DataDir { path: path.display().to_string(), message: e.to_string() })?;
    Ok(id)
}

async fn bind(addr: &str, what: &'static str, flag: &'static str) -> Result<TcpListener, StartError> {
    let fail = |m: String| StartError::Bind { what, addr: addr.to_string(), flag, message: m };
    let sock: SocketAddr = addr.parse().map_err(|e| fail(format!("not an address ({e})")))?;
    TcpListener::bind(sock).await.map_err(|e| fail(e.to_string()))
}

/// Open everything; serve nothing yet.
pub async fn start(
    opts: &ServerOptions,
    engine: Arc<dyn Engine>,
    clock: Arc<dyn Clock>,
) -> Result<Started, StartError> {
    let dir = prepare_data_dir(&opts.data_dir)?;
    let id = server_id(&dir)?;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("sprout.db")).await?);
    let admin_token = crate::api::auth::ensure_admin_token(&*store, &dir.join("admin.token"), clock.now())
        .await
        .map_err(StartError::Token)?;
    restrict_data_dir(&dir)?;
    let secret_key = crate::secrets::SecretKey::load(&dir)?;
    let networks = instance_networks(opts, &*engine).await?;
    let api = bind(&opts.api_addr, "API", "--api").await?;
    let api_tls = match &opts.api_tls {
        Some((cert, key)) => {
            let read = |p: &PathBuf| {
                std::fs::read_to_string(p).map_err(|e| StartError::ApiTls(format!("cannot read {}: {e}", p.display())))
            };
            let acceptor = crate::api_listener::tls_config(&read(cert)?, &read(key)?, clock.now());
            Some(acceptor.map_err(StartError::ApiTls)?)
        }
        None => None,
    };
    let loopback = api.local_addr().is_ok_and(|a| a.ip().is_loopback());
    if api_tls.is_none() && !loopback && !opts.insecure_api {
        return Err(StartError::InsecureApi { addr: opts.api_addr.clone() });
    }
    if let Some(ca) = &opts.acme.ca_file {
        crate::outbound::client(Some(ca), std::time::Duration::from_secs(30))
            .map_err(|e| StartError::AcmeCa(e.to_string()))?;
    }
    let http = bind(&opts.http_addr, "load balancer", "--http").await?;
    let https = match &opts.https_addr {
        Some(addr) => Some(bind(addr, "load balancer's HTTPS", "--https").await?),
        None => None,
    };
    let mut settings = Settings::new(dir, id);
    settings.domain = opts.domain.clone();
    if let Some(mb) = opts.max_bundle_mb {
        settings.bundle_limit_bytes = mb.saturating_mul(1024 * 1024);
    }
    if let Some(n) = opts.launch_concurrency {
        settings.launch_concurrency = n.max(1);
    }
    settings.api_addr = api.local_addr().map(|a| a.to_string()).unwrap_or_else(|_| opts.api_addr.clone());
    settings.http_addr = http.local_addr().map(|a| a.to_string()).unwrap_or_else(|_| opts.http_addr.clone());
    let lb = LoadBalancer::new(LbConfig {
        trusted_proxies: opts.trusted_proxies.clone(),
        max_connections: opts.max_connections,
        client_idle_timeout: std::time::Duration::from_secs(opts.client_idle_timeout_s),
        https_port: https.as_ref().and_then(|l| l.local_addr().ok()).map(|a| a.port()),
        ..LbConfig::default()
    });
    settings.instance_pool = networks.pool();
    let mut ctx = Ctx::new(store, engine, clock, lb, settings);
    ctx.networks = Arc::new(networks);
    ctx.acme = Arc::new(crate::acme::Acme::new(opts.acme.clone()));
    ctx.registries = Arc::new(crate::registry::Registries::new(secret_key, opts.registries.clone()));
    crate::certs::publish_all(&ctx).await?;
    Ok(Started { ctx, api, http, https, api_tls, admin_token })
}

/// The instance network pool, checked against the host's routes and the engine's networks, with
/// the subnets of Sprout's networks in it adopted (a restarted server keeps its instances').
async fn instance_networks(opts: &ServerOptions, engine: &dyn Engine) -> Result<NetworkPool, StartError> {
    let pool = SubnetPool::new(
        opts.instance_network_pool.unwrap_or(subnets::DEFAULT_POOL),
        opts.instance_subnet_size.unwrap_or(subnets::DEFAULT_SUBNET_PREFIX),
    )?;
    let routes = crate::network_pool::routes::read().await.unwrap_or_else(|e| {
        tracing::warn!("the instance network pool {} is not checked against the host's routes: {e}", pool.net);
        Vec::new()
    });
    let networks = NetworkPool::new(pool);
    networks.check_and_adopt(engine, &routes).await?;
    Ok(networks)
}

/// Serve the API and load balancer and run the controllers until `shutdown` is cancelled.
pub async fn serve(started: Started, shutdown: CancellationToken) -> std::io::Result<()> {
    let Started { ctx, api, http, https, api_tls, .. } = started;
    let lb = tokio::spawn(ctx.lb.clone().serve_listeners(Some(http), https, shutdown.child_token()));
    let sup = tokio::spawn(crate::controller::supervise(ctx.clone(), shutdown.child_token()));
    let trim = tokio::spawn(crate::memory::run(shutdown.child_token()));
    let notify = tokio::spawn(crate::notify::deliver::run(ctx.clone(), shutdown.child_token()));
    let sweep = tokio::spawn(crate::log_sweep::run(ctx.clone(), shutdown.child_token()));
    let certs = tokio::spawn(crate::acme::renew::run(ctx.clone(), shutdown.child_token()));
    let nodes = tokio::spawn(crate::nodes::watch(ctx.clone(), shutdown.child_token()));
    let history = Arc::new(crate::console::history::History::default());
    let sample = tokio::spawn(crate::console::history::run(history.clone(), ctx.clone(), shutdown.child_token()));
    let api_router = crate::api::router(ctx.clone());
    let console = crate::console::router(ctx, api_router.clone(), api_tls.is_some(), history);
    let app = api_router.merge(console);
    crate::api_listener::serve_api_tls(api, app, api_tls, shutdown.clone(), crate::api_listener::HEADER_TIMEOUT).await;
    let _ = sup.await;
    let _ = trim.await;
    let _ = notify.await;
    let _ = sweep.await;
    let _ = certs.await;
    let _ = nodes.await;
    let _ = sample.await;
    let _ = lb.await;
    Ok(())
}

/// `sprout server`: connect to the local Docker engine and run until SIGINT or SIGTERM.
pub async fn run(opts: ServerOptions) -> Result<(), Box<dyn std::error::Error>> {
    let engine: Arc<dyn Engine> = match opts.engine {
        EngineKind::Local => Arc::new(DockerEngine::connect().await?),
        // Bundle paths are the data directory's: the swarm engine delivers what is under it.
        EngineKind::Swarm => Arc::new(SwarmEngine::connect(prepare_data_dir(&opts.data_dir)?).await?),
    };
    let started = start(&opts, engine.clone(), Arc::new(SystemClock)).await?;
    let info = engine.info().await?;
    tracing::info!("Docker {} (API {}) at {}", info.version, info.api_version, info.endpoint);
    if opts.engine == EngineKind::Swarm {
        eprintln!("  engine         {} (Docker {})", info.endpoint, info.version);
    }
    let dir = &started.ctx.settings.data_dir;
    eprintln!("sprout server: data in {}", dir.display());
    let scheme = if started.api_tls.is_some() { "https" } else { "http" };
    eprintln!("  API            {scheme}://{}", started.api.local_addr()?);
    eprintln!("  load balancer  http://{}", started.http.local_addr()?);
    if let Some(https) = &started.https {
        eprintln!("                 https://{}", https.local_addr()?);
    }
    let (in_use, capacity) = started.ctx.networks.usage();
    let pool = started.ctx.networks.pool();
    eprintln!("  subnet pool    {} (/{} per instance): {in_use} of {capacity} in use", pool.net, pool.prefix);
    if started.admin_token.is_some() {
        eprintln!("  admin token    written to {}", dir.join("admin.token").display());
    }
    let shutdown = CancellationToken::new();
    let s = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        eprintln!("sprout server: stopping (instances keep running; the next start adopts them)");
        s.cancel();
    });
    serve(started, shutdown).await?;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn the_data_directory_and_its_secrets_are_restricted_whatever_their_modes_were() {
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        for file in ["sprout.db", "sprout.db-wal", "admin.token"] {
            std::fs::write(dir.path().join(file), "x").unwrap();
            std::fs::set_permissions(dir.path().join(file), std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        restrict_data_dir(dir.path()).unwrap();
        assert_eq!(mode(dir.path()), 0o700);
        for file in ["sprout.db", "sprout.db-wal", "admin.token"] {
            assert_eq!(mode(&dir.path().join(file)), 0o600, "{file}");
        }
    }
}
