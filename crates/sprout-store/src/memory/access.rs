//! The in-memory store's tokens, audit trail and secrets, as SQLite keeps them (migration 0007).

use chrono::{DateTime, Utc};

use super::Data;
use crate::{AuditRecord, NewAudit, SecretRecord, TokenRecord};

impl Data {
    pub(super) fn list_tokens(&self) -> Vec<TokenRecord> {
        let mut list: Vec<TokenRecord> = self.tokens.values().cloned().collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list
    }

    pub(super) fn delete_token(&mut self, name: &str) -> bool {
        let before = self.tokens.len();
        self.tokens.retain(|_, t| t.name != name);
        self.tokens.len() < before
    }

    pub(super) fn touch_token(&mut self, name: &str, at: DateTime<Utc>) {
        for t in self.tokens.values_mut().filter(|t| t.name == name) {
            t.last_used_at = Some(at);
        }
    }

    pub(super) fn append_audit(&mut self, call: &NewAudit) -> i64 {
        let id = self.audit.len() as i64 + 1;
        self.audit.push(AuditRecord { id, call: call.clone() });
        id
    }

    pub(super) fn list_audit(&self, app: Option<&str>, env: Option<&str>, limit: u32) -> Vec<AuditRecord> {
        let matching: Vec<&AuditRecord> = self
            .audit
            .iter()
            .filter(|r| app.is_none_or(|a| r.call.app.as_deref() == Some(a)))
            .filter(|r| env.is_none_or(|e| r.call.env.as_deref() == Some(e)))
            .collect();
        let skip = matching.len().saturating_sub(limit as usize);
        matching.into_iter().skip(skip).cloned().collect()
    }

    pub(super) fn put_secret(&mut self, (app, env, name): (&str, &str, &str), sealed: &[u8], at: DateTime<Utc>) -> i64 {
        let key = (app.to_string(), env.to_string(), name.to_string());
        let version = self.secrets.get(&key).map_or(1, |s| s.version + 1);
        let record = SecretRecord {
            app: app.to_string(),
            env: env.to_string(),
            name: name.to_string(),
            version,
            sealed: sealed.to_vec(),
            set_at: at,
        };
        self.secrets.insert(key, record);
        version
    }

    pub(super) fn list_secrets(&self, app: &str, env: &str) -> Vec<SecretRecord> {
        self.secrets.values().filter(|s| s.app == app && s.env == env).cloned().collect()
    }
}
