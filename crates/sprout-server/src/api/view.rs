//! The view every environment call answers with: the stored environment and the latest
//! snapshot its controller observed (health, causes, instances).

use sprout_api::EnvView;
use sprout_plan::snapshot::Colour;
use sprout_store::EnvironmentRecord;

use crate::context::Ctx;

pub fn view(ctx: &Ctx, e: &EnvironmentRecord) -> EnvView {
    let snap = ctx.snapshots.lock().unwrap().get(&e.id()).cloned();
    let (health, causes, instances) = match snap {
        Some(s) => (s.colour, s.causes, s.instances),
        None => (Colour::Grey, vec!["not observed yet".to_string()], Vec::new()),
    };
    EnvView {
        app: e.app.clone(),
        name: e.name.clone(),
        tier: e.options.tier,
        status: e.status,
        health,
        causes,
        version: e.version_label.clone(),
        last_good_version: e.last_good_version.clone(),
        desired_instances: e.desired_instances,
        in_service: instances.iter().filter(|i| i.in_service).count(),
        last_error: e.last_error.clone(),
        url: ctx.settings.url(&e.app, e.options.routing.prefix(&e.name)),
        hostnames: ctx.settings.hostnames(&e.app, e.options.routing.prefix(&e.name)),
        variables: e.variables.clone(),
        deploy_deadline: e.deploy_deadline,
        created_at: e.created_at,
        updated_at: e.updated_at,
        instances,
        release: sprout_plan::release::ReleaseRun::read(e),
    }
}
