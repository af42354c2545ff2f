//! A container's `secrets` (the ECS form: `name`, `valueFrom`): environment variables whose
//! values are Sprout secrets of the environment, never written in the file. `valueFrom` is
//! `sprout:NAME`; an AWS ARN (Secrets Manager, SSM) loads with a warning, and the value is then
//! the Sprout secret named like the variable, which must exist before a deploy.

use super::ctx::{Ctx, Object, field};
use super::locate::child_key;
use crate::{SecretRef, names};

pub(crate) fn secrets(ctx: &mut Ctx, obj: &Object, path: &str) -> Vec<SecretRef> {
    let Some(v) = field(obj, "secrets") else { return Vec::new() };
    let sp = child_key(path, "secrets");
    let Some(items) = ctx.array(v, &sp, "secrets", "a list of {name, valueFrom} objects") else { return Vec::new() };
    let mut out: Vec<SecretRef> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = format!("{sp}[{i}]");
        let Some(entry) = ctx.object(item, &p, "secrets") else { continue };
        ctx.unknown_keys(entry, &p, "a secret", &["name", "valueFrom"]);
        let name = ctx.req_string(entry, &p, "name", "the secret");
        let value_from = ctx.req_string(entry, &p, "valueFrom", "the secret");
        let (Some(name), Some(value_from)) = (name, value_from) else { continue };
        if let Err(m) = names::check_variable(&name, "") {
            ctx.error_hint(&child_key(&p, "name"), m, "an environment variable name, e.g. DATABASE_PASSWORD");
            continue;
        }
        if out.iter().any(|s| s.name == name) {
            ctx.error_hint(&child_key(&p, "name"), format!("the secret {name} is listed twice"), "keep one entry");
            continue;
        }
        let from = child_key(&p, "valueFrom");
        let secret = if let Some(sprout) = value_from.strip_prefix(SPROUT_PREFIX) {
            if let Err(m) = names::check_variable(sprout, "") {
                ctx.error_hint(&from, m, "`sprout:NAME`, where NAME is set with `sprout secrets set ENV NAME`");
                continue;
            }
            sprout.to_string()
        } else if value_from.starts_with("arn:") {
            ctx.warn(
                &from,
                format!("{value_from} is an AWS ARN: Sprout reads the value from its own secret {name}"),
                Some(format!("set it with `sprout secrets set ENV {name} --value-stdin`, or write `sprout:{name}`")),
            );
            name.clone()
        } else {
            ctx.error_hint(
                &from,
                format!("`valueFrom` {value_from:?} names no Sprout secret"),
                format!("write `sprout:{name}` and set it with `sprout secrets set ENV {name} --value-stdin`"),
            );
            continue;
        };
        out.push(SecretRef { name, secret });
    }
    out
}

/// What a `valueFrom` naming a Sprout secret starts with.
pub const SPROUT_PREFIX: &str = "sprout:";
