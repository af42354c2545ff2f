//! The server's settings: where its data lives, its id, the names environments answer to, and
//! the timings that shape the controllers. Plain data, set once at start.

use std::path::PathBuf;
use std::time::Duration;

/// Settings that shape the controllers.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    /// This server's id, stamped on every object it creates.
    pub server_id: String,
    /// Extra domain environments answer under, beside `ENV.APP.localhost`.
    pub domain: Option<String>,
    /// The address the load balancer listens on (to print URLs).
    pub http_addr: String,
    /// The address the API listens on (notifications link to the environment's console page
    /// there).
    pub api_addr: String,
    /// How long a launched instance may take to pass its first probe.
    pub launch_timeout_s: u64,
    /// How long an instance leaving rotation keeps serving its in-flight requests.
    pub drain: Duration,
    /// SIGTERM to SIGKILL.
    pub stop_timeout: Duration,
    /// Default time a deploy may take before it is rolled back.
    pub deploy_timeout_s: u64,
    pub tick: Duration,
    pub bundle_limit_bytes: u64,
    /// Instance launches running at once across the server (the rest queue, counted as
    /// capacity to come). Default: one per two cores, at least one. Measured on two cores
    /// (docs/scaling.md): one launch at a time brings the first added instance into service
    /// 0.9 s sooner than two at a time, for the same instance-seconds of capacity over four.
    pub launch_concurrency: usize,
    /// Where instance networks get their subnets (`--instance-network-pool`,
    /// `--instance-subnet-size`).
    pub instance_pool: sprout_plan::subnets::SubnetPool,
}

impl Settings {
    pub fn new(data_dir: PathBuf, server_id: String) -> Self {
        Settings {
            data_dir,
            server_id,
            domain: None,
            http_addr: "127.0.0.1:8080".into(),
            api_addr: "127.0.0.1:4680".into(),
            launch_timeout_s: 120,
            drain: Duration::from_secs(2),
            stop_timeout: Duration::from_secs(10),
            deploy_timeout_s: 600,
            tick: Duration::from_secs(1),
            bundle_limit_bytes: 512 * 1024 * 1024,
            launch_concurrency: (std::thread::available_parallelism().map_or(2, |n| n.get()) / 2).max(1),
            instance_pool: Default::default(),
        }
    }
    pub fn bundles_dir(&self) -> PathBuf {
        self.data_dir.join("bundles")
    }
    pub fn instance_dir(&self, app: &str, env: &str, instance: &str) -> PathBuf {
        self.data_dir.join("instances").join(app).join(env).join(instance)
    }
    /// The environment's page in the web console, for links in notifications.
    pub fn console_url(&self, app: &str, env: &str) -> String {
        format!("http://{}/console/apps/{app}/environments/{env}", self.api_addr)
    }
    /// Host names an environment answers to.
    pub fn hostnames(&self, app: &str, env: &str) -> Vec<String> {
        let mut h = vec![format!("{env}.{app}.localhost")];
        if let Some(d) = &self.domain {
            h.push(format!("{env}.{app}.{d}"));
        }
        h
    }
    pub fn url(&self, app: &str, env: &str) -> String {
        let port = self.http_addr.rsplit(':').next().unwrap_or("80");
        format!("http://{env}.{app}.localhost:{port}/")
    }
}
