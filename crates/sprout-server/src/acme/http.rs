//! instant-acme's HTTP client: reqwest with rustls and the aws-lc-rs provider (`outbound`), so
//! the ACME server is reached with the system's authorities plus `--acme-ca-file`, like every
//! other HTTPS the server speaks. Bodies are small JSON documents and PEM chains: read whole.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use http_body_util::BodyExt;
use instant_acme::{BodyWrapper, BytesResponse, Error, HttpClient};

/// The largest answer read from the ACME server (a certificate chain is a few KiB).
const MAX_BODY: usize = 1 << 20;

pub struct ReqwestClient(pub reqwest::Client);

impl HttpClient for ReqwestClient {
    fn request(
        &self,
        req: http::Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, Error>> + Send>> {
        let client = self.0.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let body = match body.collect().await {
                Ok(b) => b.to_bytes(),
                Err(never) => match never {},
            };
            let mut out = client.request(parts.method, parts.uri.to_string()).body(body);
            for (name, value) in &parts.headers {
                out = out.header(name, value);
            }
            let answer = out.send().await.map_err(|e| Error::Other(Box::new(e)))?;
            let mut head = http::Response::builder().status(answer.status());
            for (name, value) in answer.headers() {
                head = head.header(name, value);
            }
            let bytes = answer.bytes().await.map_err(|e| Error::Other(Box::new(e)))?;
            if bytes.len() > MAX_BODY {
                return Err(Error::Str("the ACME server's answer is larger than 1 MiB"));
            }
            let response = head.body(BodyWrapper::from(bytes.to_vec())).map_err(Error::Http)?;
            Ok(BytesResponse::from(response))
        })
    }
}
