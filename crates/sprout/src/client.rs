//! The API client every subcommand but `server` and `validate` uses: JSON over HTTP with the
//! bearer token, and errors that say what the server said and what to do.

use anyhow::{Result, anyhow, bail};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub struct Client {
    http: reqwest::Client,
    url: String,
    token: Option<String>,
}

/// A PEM file of certificate authorities to trust for an `https://` server URL, beside the
/// system's (a server whose API certificate a private CA signed).
pub const CA_FILE_ENV: &str = "SPROUT_CA_FILE";

impl Client {
    /// A client of the server at `url` (`http://` or `https://`).
    pub fn new(url: &str, token: Option<String>) -> Result<Self> {
        let mut builder = reqwest::Client::builder().connect_timeout(std::time::Duration::from_secs(5));
        if let Some(path) = std::env::var_os(CA_FILE_ENV) {
            let pem = std::fs::read(&path)
                .map_err(|e| anyhow!("cannot read {CA_FILE_ENV}={}: {e}", path.to_string_lossy()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| anyhow!("{CA_FILE_ENV}={} holds no PEM certificate: {e}", path.to_string_lossy()))?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder.build().map_err(|e| anyhow!("cannot set up the HTTP client: {e}"))?;
        Ok(Client { http, url: url.to_string(), token })
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.send(Method::GET, path, None, None).await
    }

    pub async fn post<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T> {
        self.send(Method::POST, path, Some(serde_json::to_value(body)?), None).await
    }

    pub async fn put<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T> {
        self.send(Method::PUT, path, Some(serde_json::to_value(body)?), None).await
    }

    pub async fn patch<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T> {
        self.send(Method::PATCH, path, Some(serde_json::to_value(body)?), None).await
    }

    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.send(Method::DELETE, path, None, None).await
    }

    pub async fn upload<T: DeserializeOwned>(&self, path: &str, archive: Vec<u8>) -> Result<T> {
        self.send(Method::POST, path, None, Some(archive)).await
    }

    /// POSTs to `path` and returns the answer's bytes and the header `note` (if any).
    pub async fn download(&self, path: &str, note: &str) -> Result<(Vec<u8>, Option<String>)> {
        let url = format!("{}/api/v1{path}", self.url);
        let mut req = self.http.post(&url);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.map_err(|e| anyhow!("request POST {url} failed: {e}"))?;
        let status = resp.status();
        let header = resp.headers().get(note).and_then(|v| v.to_str().ok()).map(String::from);
        let bytes = resp.bytes().await.map_err(|e| anyhow!("the answer from {url} did not arrive whole: {e}"))?;
        if status.is_success() {
            return Ok((bytes.to_vec(), header));
        }
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        bail!("{}", body["error"].as_str().map(String::from).unwrap_or_else(|| format!("{status}")))
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        json: Option<Value>,
        raw: Option<Vec<u8>>,
    ) -> Result<T> {
        let url = format!("{}/api/v1{path}", self.url);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(j) = json {
            req = req.json(&j);
        }
        if let Some(r) = raw {
            req = req.header("content-type", "application/x-tar").body(r);
        }
        let resp = req.send().await.map_err(|e| {
            if e.is_connect() {
                anyhow!("cannot reach the Sprout server at {}: is `sprout server` running? (set SPROUT_URL or --url to point elsewhere)", self.url)
            } else {
                anyhow!("request {method} {url} failed: {e}")
            }
        })?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if status.is_success() {
            return serde_json::from_str(&text).map_err(|e| anyhow!("unexpected answer from {url}: {e}"));
        }
        Err(self.explain(status, &text))
    }

    /// What an error answer says, with the hints that apply.
    fn explain(&self, status: StatusCode, text: &str) -> anyhow::Error {
        let body: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        let mut msg = body["error"].as_str().map(String::from).unwrap_or_else(|| format!("{status}: {text}"));
        if let Some(diags) = body["diagnostics"].as_array() {
            for d in diags {
                if let Ok(d) = serde_json::from_value::<sprout_model::Diagnostic>(d.clone()) {
                    msg.push_str(&format!("\n  {d}"));
                }
            }
        }
        if let Some(h) = body["hint"].as_str() {
            msg.push_str(&format!("\n  hint: {h}"));
        }
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            msg = format!(
                "the server refused the upload as too large ({msg})\n  hint: the limit is set with `sprout server --max-bundle-mb N` (default 512); leave large files out of the bundle"
            );
        }
        if status == StatusCode::UNAUTHORIZED && self.token.is_none() {
            msg.push_str(
                "\n  no token given: set SPROUT_TOKEN (the server writes its admin token to DATA_DIR/admin.token)",
            );
        }
        anyhow!(msg)
    }

    /// POSTs to `path` asking to upgrade the connection to a process stream
    /// (`sprout_api::command`); the connection once the server switched.
    pub async fn stream(&self, path: &str) -> Result<reqwest::Upgraded> {
        let url = format!("{}/api/v1{path}", self.url);
        let mut req = self
            .http
            .post(&url)
            .header(reqwest::header::CONNECTION, "upgrade")
            .header(reqwest::header::UPGRADE, sprout_api::command::PROTOCOL);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.map_err(|e| {
            if e.is_connect() {
                anyhow!("cannot reach the Sprout server at {}: is `sprout server` running?", self.url)
            } else {
                anyhow!("request POST {url} failed: {e}")
            }
        })?;
        let status = resp.status();
        if status == StatusCode::SWITCHING_PROTOCOLS {
            return resp
                .upgrade()
                .await
                .map_err(|e| anyhow!("the server switched protocols but the stream broke: {e}"));
        }
        let text = resp.text().await.unwrap_or_default();
        Err(self.explain(status, &text))
    }
}
