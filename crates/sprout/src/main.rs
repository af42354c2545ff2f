//! `sprout`: the server (`sprout server`) and every client command, which talk to it over the
//! REST API. Verbs follow the Elastic Beanstalk CLI so its users feel at home.
// The CLI stamps version labels and log bundles with the wall clock; it runs no controller.
#![allow(clippy::disallowed_methods)]

mod client;
mod cmd;
mod config;
mod output;
mod pack;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "sprout", version, about = "Run multi-container Docker applications on your own machines")]
struct Cli {
    /// Sprout server URL [default: .sprout/config.yml, else http://127.0.0.1:4680]
    #[arg(long, global = true, env = "SPROUT_URL")]
    url: Option<String>,
    /// API token [default: the local server's admin.token]
    #[arg(long, global = true, env = "SPROUT_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Application name [default: from .sprout/config.yml]
    #[arg(long, global = true, env = "SPROUT_APP")]
    app: Option<String>,
    /// Output format
    #[arg(long, short = 'o', global = true, value_enum, default_value = "text")]
    output: output::Choice,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the control plane and load balancer with the embedded database
    Server {
        /// Data directory (database, bundles, logs, admin.token) [default: ~/.local/share/sprout]
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// API address
        #[arg(long, default_value = "127.0.0.1:4680")]
        api: String,
        /// Load balancer address
        #[arg(long, default_value = "127.0.0.1:8080")]
        http: String,
        /// The API's TLS certificate chain (PEM); with --api-tls-key the API speaks HTTPS only
        #[arg(long, value_name = "FULLCHAIN.pem", requires = "api_tls_key")]
        api_tls_cert: Option<PathBuf>,
        /// The API certificate's private key (PEM)
        #[arg(long, value_name = "KEY.pem", requires = "api_tls_cert")]
        api_tls_key: Option<PathBuf>,
        /// Allow an --api address other than loopback without TLS (tokens would cross the
        /// network in the clear)
        #[arg(long)]
        insecure_api: bool,
        /// Load balancer HTTPS address (certificates from `sprout certs`, chosen by SNI)
        #[arg(long, value_name = "ADDR")]
        https: Option<String>,
        /// ACME directory that certificates of `domains add --acme` names come from
        #[arg(long, value_name = "URL", default_value = sprout_server::acme::LETS_ENCRYPT)]
        acme_directory: String,
        /// Contact given to the ACME CA for the account (expiry notices, problems)
        #[arg(long, value_name = "EMAIL")]
        acme_email: Option<String>,
        /// Certificate authorities (PEM) to trust for the ACME directory, beside the system's
        /// (a private or test CA such as pebble's)
        #[arg(long, value_name = "PEM")]
        acme_ca_file: Option<PathBuf>,
        /// Extra domain environments answer under (ENV.APP.DOMAIN), beside ENV.APP.localhost
        #[arg(long)]
        domain: Option<String>,
        /// The largest bundle (tar or zip) accepted, in MiB
        #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u64).range(1..))]
        max_bundle_mb: u64,
        /// Instance launches at once across the server (the engine's work is CPU-bound)
        /// [default: one per two cores, at least one]
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        launch_concurrency: Option<u64>,
        /// A proxy in front of the load balancer (address or CIDR, repeatable) whose
        /// X-Forwarded-For is kept and extended; from any other client it is replaced
        #[arg(long = "trusted-proxy", value_name = "CIDR")]
        trusted_proxies: Vec<ipnet::IpNet>,
        /// Client connections the load balancer serves at once; more wait until one closes
        #[arg(long, default_value_t = sprout_lb::DEFAULT_MAX_CONNECTIONS as u64, value_parser = clap::value_parser!(u64).range(1..))]
        max_connections: u64,
        /// Seconds a client connection may stay open without a request (HTTP/1 keep-alive and
        /// HTTP/2 alike); it is then closed gracefully
        #[arg(long, value_name = "SECONDS", default_value_t = sprout_lb::DEFAULT_CLIENT_IDLE_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..=3600))]
        client_idle_timeout: u64,
        #[command(flatten)]
        registry: cmd::registry::ServerRegistryArgs,
        /// IPv4 range Sprout cuts instance networks' subnets from (must overlap no route of the
        /// host and no Docker network; see docs/networks.md)
        #[arg(long, value_name = "CIDR", default_value_t = sprout_plan::subnets::DEFAULT_POOL)]
        instance_network_pool: ipnet::Ipv4Net,
        /// Prefix length of an instance network's subnet (28: 13 containers); instances with
        /// more containers get a larger one
        #[arg(long, value_name = "BITS", default_value_t = sprout_plan::subnets::DEFAULT_SUBNET_PREFIX, value_parser = clap::value_parser!(u8).range(8..=29))]
        instance_subnet_size: u8,
        /// Where instances run: the local Docker engine, or the Docker Swarm this engine manages
        /// (each instance's containers on one node; docs/swarm.md)
        #[arg(long, value_parser = ["local", "swarm"], default_value = "local")]
        engine: String,
    },
    /// Check a Dockerrun.aws.json (a file or a bundle directory)
    Validate { path: PathBuf },
    /// Record the application name (and server URL) for this directory in .sprout/config.yml
    Init {
        app: String,
        /// Environment that `sprout deploy` targets by default
        #[arg(long)]
        environment: Option<String>,
    },
    /// Create an environment running a bundle and wait until it is Ready
    Create(cmd::env::CreateArgs),
    /// Deploy a bundle (or an existing version) to an environment and wait until it is Ready
    Deploy(cmd::env::DeployArgs),
    /// Run a command in a running container of an environment (like `eb ssh` then `docker
    /// exec`): stdin, stdout, stderr and the exit code pass through
    Exec(cmd::command::ExecArgs),
    /// Run a command in a one-off instance of the environment's version (its variables and
    /// secrets), removed afterwards: stdin, stdout, stderr and the exit code pass through
    Run(cmd::command::RunArgs),
    /// Stop the deploy in progress and roll back to the last good version
    Abort(cmd::abort::AbortArgs),
    /// Show an environment: version, status, health, instances and their ports
    Status { env: Option<String> },
    /// Show enhanced health: per instance status, requests/s, 2xx-5xx, latency, CPU, memory
    Health(cmd::health::HealthArgs),
    /// Show an environment's events
    Events {
        env: Option<String>,
        /// Keep printing new events
        #[arg(long, short = 'f')]
        follow: bool,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Show an environment's logs: per instance and container; --follow, --all, --bundle
    Logs(cmd::logs::LogsArgs),
    /// List environments
    List,
    /// List application versions; delete one; show or set the lifecycle policy
    Versions(cmd::versions::VersionsArgs),
    /// Set an environment's instance count, or the band auto-scaling moves inside
    Scale(cmd::scale::ScaleArgs),
    /// Scheduled actions: set the band at times, in your time zone
    Schedule(cmd::schedule::ScheduleArgs),
    /// Periodic jobs of the deployed version's cron.yaml: next runs and last results
    Cron(cmd::cron::CronArgs),
    /// What an application's containers may reach on the host (administrators)
    Policy(cmd::policy::PolicyArgs),
    /// Create a new environment with the same version, options, variables and instance count
    Clone {
        source: String,
        /// Name of the new environment
        name: String,
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        #[arg(long)]
        no_wait: bool,
    },
    /// Environment options (get, set, unset, edit) and saved configurations (save, list, show,
    /// delete, put); keys in docs/options.md
    Config(cmd::config::ConfigArgs),
    /// Set environment properties (KEY=VALUE; KEY= removes one); instances are replaced
    Setenv {
        env: String,
        #[arg(value_name = "KEY=VALUE", required = true)]
        assignments: Vec<String>,
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        #[arg(long)]
        no_wait: bool,
    },
    /// Print environment properties
    Printenv { env: String },
    /// Exchange two environments' host names (blue/green), with no failed request
    Swap {
        source: String,
        /// The environment whose host name SOURCE takes
        destination: String,
    },
    /// Run the load balancer as its own process, fed by the server's routing table; it keeps
    /// serving while the server restarts
    Proxy(cmd::proxy::ProxyArgs),
    /// Registry credentials: login, list, logout, import a Docker config.json
    Registry(cmd::registry::RegistryArgs),
    /// API tokens scoped for CI and people: create, list, revoke
    Tokens(cmd::tokens::TokensArgs),
    /// Environment secrets, stored encrypted and never shown: set, list, unset
    Secrets(cmd::secrets::SecretsArgs),
    /// Custom domains an environment answers to (exact or *.wildcard): add, list, remove
    Domains(cmd::domains::DomainsArgs),
    /// TLS certificates the HTTPS listener serves: add (upload), list, remove
    Certs(cmd::certs::CertsArgs),
    /// Every change made through the API: who (which token), what, when, how it ended
    Audit {
        /// Only this environment's
        #[arg(long)]
        env: Option<String>,
        /// How many of the newest to show
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// The nodes of the swarm the server runs instances on: state, availability, instances,
    /// reserved memory (`sprout server --engine swarm`)
    Nodes,
    /// Server administration: backups
    Admin(cmd::admin::AdminArgs),
    /// Webhooks that hear about incidents (and, if asked, planned changes): add, list, remove, test, log
    Notify(cmd::notify::NotifyArgs),
    /// Terminate an environment: stop and remove its instances
    Terminate {
        env: String,
        /// Required: terminating is not undoable
        #[arg(long)]
        force: bool,
        /// Return at once instead of waiting for the instances to be gone
        #[arg(long)]
        no_wait: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SPROUT_LOG")
                .unwrap_or_else(|_| "warn,sprout_server=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    match rt.block_on(dispatch(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<u8> {
    let fmt = cli.output.format();
    let yaml = cli.output == output::Choice::Yaml;
    if yaml && !matches!(cli.command, Command::Config(_)) {
        anyhow::bail!("--output yaml is for `sprout config`; other commands print text or --output json");
    }
    match cli.command {
        Command::Server {
            data_dir,
            api,
            http,
            https,
            api_tls_cert,
            api_tls_key,
            insecure_api,
            acme_directory,
            acme_email,
            acme_ca_file,
            domain,
            max_bundle_mb,
            launch_concurrency,
            trusted_proxies,
            max_connections,
            client_idle_timeout,
            registry,
            instance_network_pool,
            instance_subnet_size,
            engine,
        } => {
            let opts = sprout_server::ServerOptions {
                data_dir: data_dir.unwrap_or_else(config::default_data_dir),
                api_addr: api,
                http_addr: http,
                https_addr: https,
                api_tls: api_tls_cert.zip(api_tls_key),
                insecure_api,
                domain,
                max_bundle_mb: Some(max_bundle_mb),
                launch_concurrency: launch_concurrency.map(|n| n as usize),
                trusted_proxies,
                max_connections: max_connections as usize,
                client_idle_timeout_s: client_idle_timeout,
                registries: registry.settings()?,
                instance_network_pool: Some(instance_network_pool),
                instance_subnet_size: Some(instance_subnet_size),
                acme: sprout_server::acme::AcmeSettings {
                    directory: acme_directory,
                    email: acme_email,
                    ca_file: acme_ca_file,
                },
                engine: if engine == "swarm" {
                    sprout_server::EngineKind::Swarm
                } else {
                    sprout_server::EngineKind::Local
                },
            };
            sprout_server::run(opts).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(0)
        }
        Command::Validate { path } => Ok(validate::run(&path, fmt == output::Format::Json)? as u8),
        Command::Init { app, environment } => cmd::init::init(cli.url, app, environment, fmt),
        command => {
            let r = config::resolve(cli.url, cli.token, cli.app)?;
            let c = cmd::Context { client: client::Client::new(&r.url, r.token.clone())?, resolved: r, fmt };
            match command {
                Command::Create(a) => cmd::env::create(&c, a).await,
                Command::Deploy(a) => cmd::env::deploy(&c, a).await,
                Command::Abort(a) => cmd::abort::abort(&c, a).await,
                Command::Exec(a) => cmd::command::exec(&c, a).await,
                Command::Run(a) => cmd::command::run(&c, a).await,
                Command::Status { env } => cmd::env::status(&c, env).await,
                Command::Health(a) => cmd::health::run(&c, a).await,
                Command::Events { env, follow, limit } => cmd::events::events(&c, env, follow, limit).await,
                Command::Logs(a) => cmd::logs::run(&c, a).await,
                Command::List => cmd::env::list(&c).await,
                Command::Versions(a) => cmd::versions::run(&c, a).await,
                Command::Scale(a) => cmd::scale::run(&c, a).await,
                Command::Schedule(a) => cmd::schedule::run(&c, a).await,
                Command::Cron(a) => cmd::cron::run(&c, a).await,
                Command::Policy(a) => cmd::policy::run(&c, a).await,
                Command::Registry(a) => cmd::registry::run(&c, a).await,
                Command::Tokens(a) => cmd::tokens::run(&c, a).await,
                Command::Secrets(a) => cmd::secrets::run(&c, a).await,
                Command::Domains(a) => cmd::domains::run(&c, a).await,
                Command::Certs(a) => cmd::certs::run(&c, a).await,
                Command::Audit { env, limit } => cmd::tokens::audit(&c, env, limit).await,
                Command::Admin(a) => cmd::admin::run(&c, a).await,
                Command::Nodes => cmd::nodes::run(&c).await,
                Command::Notify(a) => cmd::notify::run(&c, a).await,
                Command::Clone { source, name, timeout, no_wait } => {
                    cmd::clone::clone(&c, source, name, timeout, no_wait).await
                }
                Command::Setenv { env, assignments, timeout, no_wait } => {
                    cmd::setenv::setenv(&c, env, assignments, timeout, no_wait).await
                }
                Command::Config(a) => cmd::config::run(&c, a, yaml).await,
                Command::Printenv { env } => cmd::setenv::printenv(&c, env).await,
                Command::Swap { source, destination } => cmd::swap::swap(&c, source, destination).await,
                Command::Terminate { env, force, no_wait } => cmd::env::terminate(&c, env, force, no_wait).await,
                Command::Proxy(a) => cmd::proxy::run(&c, a).await,
                Command::Server { .. } | Command::Validate { .. } | Command::Init { .. } => unreachable!(),
            }
        }
    }
}
