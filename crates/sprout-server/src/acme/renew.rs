//! The certificate controller: each look senses the ACME names (every environment's `--acme`
//! domains), the certificates held and the attempts so far; asks `sprout_plan::renewal` which
//! names to order now; orders them one after the other; records the outcome (a new certificate
//! checked, stored with its key sealed and published in one swap, so connections under way keep
//! theirs; or the error, on the name and on the certificate still served); and raises events the
//! alerts fold (`CertificateIssued`, `CertificateRenewalFailed`, `CertificateExpiring`). It
//! sleeps until the plan's next look (an hour at most) or a wake-up (a name added, a renewal
//! asked for).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sprout_model::domains::covers;
use sprout_plan::renewal::{self, Attempts, Held};
use sprout_store::{CertSource, CertificateRecord, EnvironmentRecord};
use tokio_util::sync::CancellationToken;

use crate::context::Ctx;
use crate::events::Event;

/// The longest sleep between two looks.
const MAX_IDLE: Duration = Duration::from_secs(3600);

/// Run until cancelled.
pub async fn run(ctx: Ctx, cancel: CancellationToken) {
    loop {
        // An order under way is dropped at shutdown (its challenge answers withdrawn with it).
        let looked = tokio::select! {
            () = cancel.cancelled() => return,
            looked = look(&ctx) => looked,
        };
        let wait = match looked {
            Ok(wait) => wait,
            Err(e) => {
                tracing::warn!("the certificate controller cannot read the store: {e}");
                Duration::from_secs(30)
            }
        };
        tokio::select! {
            () = cancel.cancelled() => return,
            () = ctx.acme.wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// The environments (app, env) whose domains any of `names` covers (or names).
pub fn owners(envs: &[EnvironmentRecord], names: &[String]) -> Vec<(String, String)> {
    envs.iter()
        .filter(|e| {
            e.options
                .routing
                .domains
                .iter()
                .any(|d| names.iter().any(|n| n == d || covers(n, d.trim_start_matches("*."))))
        })
        .map(|e| (e.app.clone(), e.name.clone()))
        .collect()
}

/// Raise `event` in every environment `names` belong to.
pub async fn tell(ctx: &Ctx, envs: &[EnvironmentRecord], names: &[String], event: Event) {
    for (app, env) in owners(envs, names) {
        ctx.emit(&app, Some(&env), event.clone()).await;
    }
}

fn held(certs: &[CertificateRecord]) -> Vec<Held> {
    certs.iter().map(|c| Held { names: c.names.clone(), not_before: c.not_before, not_after: c.not_after }).collect()
}

/// One look: order what is due, say what expires; how long until the next.
async fn look(ctx: &Ctx) -> Result<Duration, sprout_store::StoreError> {
    let now = ctx.clock.now();
    let envs = ctx.store.list_environments(None).await?;
    let names: BTreeSet<String> = envs.iter().flat_map(|e| e.options.routing.acme.iter().cloned()).collect();
    let names: Vec<String> = names.into_iter().collect();
    let certs = ctx.store.list_certificates().await?;
    let attempts = super::attempts(&*ctx.store).await?;
    for gone in attempts.keys().filter(|n| !names.contains(n)) {
        ctx.store.delete_acme_record(&super::name_key(gone)).await?;
    }
    let plan = renewal::plan_renewals(&names, &held(&certs), |n| attempts.get(n), now);
    for name in &plan.order {
        order_one(ctx, &envs, name, attempts.get(name).cloned().unwrap_or_default()).await?;
    }
    say_expiring(ctx, &envs, now).await?;
    let next = if plan.order.is_empty() { plan.next_look } else { Some(now) };
    Ok(next.map_or(MAX_IDLE, |t| (t - now).to_std().unwrap_or_default().clamp(Duration::from_secs(1), MAX_IDLE)))
}

/// Orders a certificate for `name` and records how it went.
async fn order_one(
    ctx: &Ctx,
    envs: &[EnvironmentRecord],
    name: &str,
    mut attempts: Attempts,
) -> Result<(), sprout_store::StoreError> {
    let started = ctx.clock.now();
    attempts.last_attempt = Some(started);
    attempts.forced = false;
    // Recorded before the order: a server stopped mid-order still waits its back-off.
    super::put_attempts(&*ctx.store, name, &attempts).await?;
    tracing::info!(name, directory = %ctx.acme.settings.directory, "ordering a certificate over ACME");
    let outcome = match super::order::obtain(ctx, name).await {
        Ok(issued) => crate::certs::check(&issued.chain_pem, &issued.key_pem, ctx.clock.now(), CertSource::Acme)
            .map(|checked| (checked, issued.key_pem))
            .map_err(|e| super::AcmeError::Unusable(e.to_string())),
        Err(e) => Err(e),
    };
    match outcome {
        Ok((checked, key_pem)) => {
            let mut record = checked.record;
            record.last_attempt = Some(started);
            crate::certs::seal_key(ctx, &mut record, &key_pem);
            ctx.store.put_certificate(&record).await?;
            // The certificates it supersedes (ACME ones for the same names) go in the same swap.
            for old in ctx.store.list_certificates().await? {
                if old.source == CertSource::Acme && old.id != record.id && old.names == record.names {
                    ctx.store.delete_certificate(&old.id).await?;
                }
            }
            crate::certs::publish_all(ctx).await?;
            attempts.failures = 0;
            attempts.last_error = None;
            super::put_attempts(&*ctx.store, name, &attempts).await?;
            let event = Event::CertificateIssued {
                names: record.names.clone(),
                not_after: record.not_after.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                issuer: record.issuer.clone(),
            };
            tell(ctx, envs, &record.names, event).await;
        }
        Err(e) => {
            let error = e.to_string();
            attempts.failures += 1;
            attempts.last_error = Some(error.clone());
            super::put_attempts(&*ctx.store, name, &attempts).await?;
            // The certificate still served for the name shows the failure in `certs list`.
            let certs = ctx.store.list_certificates().await?;
            let serving =
                certs.iter().filter(|c| c.names.iter().any(|n| covers(n, name))).max_by_key(|c| c.not_after).cloned();
            if let Some(mut cert) = serving {
                cert.last_attempt = Some(started);
                cert.last_error = Some(error.clone());
                ctx.store.put_certificate(&cert).await?;
            }
            let next = started + renewal::backoff(attempts.failures);
            let event = Event::CertificateRenewalFailed {
                name: name.to_string(),
                error,
                next_try: next.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            };
            tell(ctx, envs, &[name.to_string()], event).await;
        }
    }
    Ok(())
}

/// Raises `CertificateExpiring` for each certificate close to its end that nothing later
/// replaces, once per certificate per run.
async fn say_expiring(
    ctx: &Ctx,
    envs: &[EnvironmentRecord],
    now: DateTime<Utc>,
) -> Result<(), sprout_store::StoreError> {
    let certs = ctx.store.list_certificates().await?;
    let all = held(&certs);
    for (cert, h) in certs.iter().zip(&all) {
        if !renewal::expiring(h, &all, now) {
            continue;
        }
        let first = ctx.acme.reported.lock().unwrap().insert(cert.id.clone());
        if first {
            let event = Event::CertificateExpiring {
                names: cert.names.clone(),
                not_after: cert.not_after.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            };
            tell(ctx, envs, &cert.names, event).await;
        }
    }
    Ok(())
}

/// Asks for the renewal of `cert` now (`sprout certs renew`): each of its names that is an ACME
/// name is ordered at the controller's next look, whatever its back-off. None of them: the
/// names that are not (the certificate is uploaded, or its domains lost `--acme`).
pub async fn force(
    ctx: &Ctx,
    cert: &CertificateRecord,
) -> Result<Result<Vec<String>, Vec<String>>, sprout_store::StoreError> {
    let envs = ctx.store.list_environments(None).await?;
    let acme: BTreeSet<String> = envs.iter().flat_map(|e| e.options.routing.acme.iter().cloned()).collect();
    let mut attempts: BTreeMap<String, Attempts> = super::attempts(&*ctx.store).await?;
    let ours: Vec<String> = cert.names.iter().filter(|n| acme.contains(*n)).cloned().collect();
    if ours.is_empty() {
        return Ok(Err(cert.names.clone()));
    }
    for name in &ours {
        let a = attempts.entry(name.clone()).or_default();
        a.forced = true;
        super::put_attempts(&*ctx.store, name, a).await?;
    }
    ctx.acme.wake.notify_one();
    Ok(Ok(ours))
}
