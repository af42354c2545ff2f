//! One ACME order, start to certificate: the account (created on first use and kept in the
//! store, its credentials sealed with the server's key), a new order for one name, its HTTP-01
//! challenge answered by the load balancer (`sprout_lb::Challenges`) until the CA has looked,
//! then a fresh key, the CSR and the chain. Every step is bounded in time; whatever happens, the
//! challenge answer is withdrawn and nothing served changes here (the caller checks and
//! publishes the result).

use std::time::Duration;

use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount, NewOrder, OrderStatus,
    RetryPolicy,
};
use secrecy::{ExposeSecret, SecretString};
use sprout_store::AcmeRecord;

use super::AcmeError;
use crate::context::Ctx;

/// How long the CA may take to validate the challenge, then to issue.
const VALIDATION: Duration = Duration::from_secs(90);
/// How long one request to the ACME server may take.
const REQUEST: Duration = Duration::from_secs(30);

/// A certificate as the CA issued it.
pub struct Issued {
    pub chain_pem: String,
    pub key_pem: String,
}

fn account_key(directory: &str) -> String {
    format!("account {directory}")
}

fn seal_context(directory: &str) -> String {
    format!("sprout ACME account\n{directory}")
}

fn directory_error(ctx: &Ctx, e: impl std::fmt::Display) -> AcmeError {
    AcmeError::Directory { directory: ctx.acme.settings.directory.clone(), message: e.to_string() }
}

/// The account on the configured directory: the one in memory, else the stored one, else a new
/// one (stored at once).
async fn account(ctx: &Ctx) -> Result<Account, AcmeError> {
    let mut held = ctx.acme.account.lock().await;
    if let Some(account) = held.as_ref() {
        return Ok(account.clone());
    }
    let settings = &ctx.acme.settings;
    let http = crate::outbound::client(settings.ca_file.as_deref(), REQUEST)
        .map_err(|e| AcmeError::Setup(format!("--acme-ca-file: {e}")))?;
    let builder = || Account::builder_with_http(Box::new(super::http::ReqwestClient(http.clone())));
    let key = account_key(&settings.directory);
    let stored = ctx.store.list_acme_records().await?.into_iter().find(|r| r.key == key);
    let account = match stored {
        Some(record) => {
            let creds = ctx
                .registries
                .key
                .open(&record.sealed, &seal_context(&settings.directory), "the ACME account key")
                .map_err(|e| AcmeError::Setup(e.to_string()))?;
            let creds: AccountCredentials = serde_json::from_str(creds.expose_secret())
                .map_err(|e| AcmeError::Setup(format!("the stored ACME account does not read: {e}")))?;
            builder().from_credentials(creds).await.map_err(|e| directory_error(ctx, e))?
        }
        None => {
            let contact = settings.email.as_ref().map(|e| format!("mailto:{e}"));
            let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
            let new = NewAccount { contact: &contacts, terms_of_service_agreed: true, only_return_existing: false };
            let (account, creds) =
                builder().create(&new, settings.directory.clone(), None).await.map_err(|e| classify(ctx, e))?;
            let json = serde_json::to_string(&creds).map_err(|e| AcmeError::Setup(e.to_string()))?;
            let sealed = ctx.registries.key.seal(&SecretString::from(json), &seal_context(&settings.directory));
            ctx.store.put_acme_record(&AcmeRecord { key, meta: String::new(), sealed }).await?;
            tracing::info!(directory = %settings.directory, "ACME account created");
            account
        }
    };
    *held = Some(account.clone());
    Ok(account)
}

/// An error of instant-acme in words: what the CA said, or that it could not be reached.
fn classify(ctx: &Ctx, e: instant_acme::Error) -> AcmeError {
    match e {
        instant_acme::Error::Api(problem) => AcmeError::Refused(problem.to_string()),
        instant_acme::Error::Timeout(_) => AcmeError::Timeout("the order was not ready".into()),
        other => directory_error(ctx, other),
    }
}

/// Withdraws the challenge answers when the order ends, however it ends.
struct Answering<'a> {
    ctx: &'a Ctx,
    tokens: Vec<String>,
}

impl Drop for Answering<'_> {
    fn drop(&mut self) {
        for token in &self.tokens {
            self.ctx.lb.challenges().remove(token);
        }
    }
}

/// Orders a certificate for `name` and waits for it.
pub async fn obtain(ctx: &Ctx, name: &str) -> Result<Issued, AcmeError> {
    let account = account(ctx).await?;
    let identifiers = [Identifier::Dns(name.to_string())];
    let mut order = account.new_order(&NewOrder::new(&identifiers)).await.map_err(|e| classify(ctx, e))?;
    let mut answering = Answering { ctx, tokens: Vec::new() };
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz.map_err(|e| classify(ctx, e))?;
        match authz.status {
            AuthorizationStatus::Pending => {}
            AuthorizationStatus::Valid => continue,
            other => {
                return Err(AcmeError::Challenge {
                    name: name.to_string(),
                    message: format!("authorization {other:?}"),
                });
            }
        }
        let mut challenge =
            authz.challenge(ChallengeType::Http01).ok_or_else(|| AcmeError::NoHttp01(name.to_string()))?;
        let answer = challenge.key_authorization();
        ctx.lb.challenges().insert(&challenge.token, answer.as_str());
        answering.tokens.push(challenge.token.clone());
        challenge.set_ready().await.map_err(|e| classify(ctx, e))?;
    }
    let policy = RetryPolicy::new().initial_delay(Duration::from_millis(250)).backoff(1.5).timeout(VALIDATION);
    let status = match order.poll_ready(&policy).await {
        Ok(status) => status,
        Err(instant_acme::Error::Api(problem)) => {
            return Err(AcmeError::Challenge { name: name.to_string(), message: problem.to_string() });
        }
        Err(e) => return Err(classify(ctx, e)),
    };
    if status != OrderStatus::Ready {
        return Err(AcmeError::Challenge { name: name.to_string(), message: challenge_error(&mut order).await });
    }
    drop(answering);
    let key_pem = order.finalize().await.map_err(|e| classify(ctx, e))?;
    let chain_pem = order.poll_certificate(&policy).await.map_err(|e| classify(ctx, e))?;
    Ok(Issued { chain_pem, key_pem })
}

/// What the CA said about the failed challenge, in words.
async fn challenge_error(order: &mut instant_acme::Order) -> String {
    let mut said = Vec::new();
    let mut authorizations = order.authorizations();
    while let Some(Ok(authz)) = authorizations.next().await {
        for c in &authz.challenges {
            if let Some(problem) = &c.error {
                said.push(problem.detail.clone().unwrap_or_else(|| problem.to_string()));
            }
        }
    }
    if said.is_empty() { "the order became invalid".to_string() } else { said.join("; ") }
}
