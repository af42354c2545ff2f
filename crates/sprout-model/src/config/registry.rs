//! The table itself: every option, its key, range, description and Elastic Beanstalk aliases,
//! and the checks that only the whole set can make. Adding an option is one entry here (and a
//! field in `EnvOptions`); docs/options.md follows from it.

use super::{Kind, OptionDef};
use crate::options::{DeploymentPolicy, EnvOptions, MAX_DEPLOY_TIMEOUT_S, MAX_IDLE_TIMEOUT_S, MAX_LOG_RETENTION_DAYS};
use crate::scaling::{MAX_QUEUE_REQUESTS, MAX_QUEUE_WAIT_MS, MAX_WARM_POOL, MAX_WINDOW_S, Trigger};

/// Most instances one environment may ask for (the API refuses more).
pub const MAX_INSTANCES: i64 = 100;

/// A checked value as the field's type (checked values always parse; the fallback is unreachable).
fn parse<T: std::str::FromStr + Default>(v: Option<&str>) -> T {
    v.and_then(|s| s.parse().ok()).unwrap_or_default()
}

fn parse_opt<T: std::str::FromStr>(v: Option<&str>) -> Option<T> {
    v.and_then(|s| s.parse().ok())
}

/// A serde enum from its canonical name (`RequestCount`, `Average`).
fn parse_enum<T: serde::de::DeserializeOwned>(v: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(v.to_string())).ok()
}

fn name_of<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
}

/// A field of the trigger, which is created with defaults the first time one of its options
/// is set.
fn trigger(o: &mut EnvOptions) -> &mut Trigger {
    o.scaling.trigger.get_or_insert_with(Trigger::default)
}

/// A whole-number field that always has a value.
macro_rules! int {
    ($key:literal, $($f:ident).+, $min:expr, $max:expr, $unit:literal, $desc:literal, [$($alias:expr),*]) => {
        OptionDef {
            key: $key,
            kind: Kind::Int { min: $min as i64, max: $max as i64, unit: $unit },
            description: $desc,
            default_note: None,
            aliases: &[$($alias),*],
            get: |o| Some(o.$($f).+.to_string()),
            put: |o, v| o.$($f).+ = parse(v),
        }
    };
}

/// A field of the trigger (None while no trigger option is set).
macro_rules! trig {
    ($key:literal, $f:ident, $kind:expr, $desc:literal, $alias:literal, $factor:literal) => {
        OptionDef {
            key: $key,
            kind: $kind,
            description: $desc,
            default_note: Some("no trigger (set any `scaling.trigger.*` option to add one with the other fields at their trigger defaults)"),
            aliases: &[(concat!("aws:autoscaling:trigger:", $alias), $factor)],
            get: |o| o.scaling.trigger.as_ref().map(|t| t.$f.to_string()),
            put: |o, v| trigger(o).$f = v.and_then(|s| s.parse().ok()).unwrap_or(Trigger::default().$f),
        }
    };
}

pub static DEFINITIONS: &[OptionDef] = &[
    // Health check.
    OptionDef {
        key: "health.path",
        kind: Kind::UrlPath,
        description: "Path the load balancer's health check requests (GET) from each instance's web container; 2xx and 3xx pass. Changing it replaces no instance.",
        default_note: None,
        aliases: &[
            ("aws:elasticbeanstalk:application:Application Healthcheck URL", 1),
            ("aws:elasticbeanstalk:environment:process:default:HealthCheckPath", 1),
        ],
        get: |o| Some(o.health.path.clone()),
        put: |o, v| o.health.path = v.unwrap_or("/").to_string(),
    },
    int!(
        "health.interval",
        health.interval_s,
        1,
        300,
        "seconds",
        "Seconds between health checks of an in-service instance.",
        [("aws:elasticbeanstalk:environment:process:default:HealthCheckInterval", 1)]
    ),
    int!(
        "health.timeout",
        health.timeout_s,
        1,
        60,
        "seconds",
        "Seconds a health check may take before it counts as failed; at most `health.interval`.",
        [("aws:elasticbeanstalk:environment:process:default:HealthCheckTimeout", 1)]
    ),
    int!(
        "health.healthy_threshold",
        health.healthy_threshold,
        1,
        10,
        "checks",
        "Consecutive passed checks that bring an instance (back) into service.",
        [("aws:elasticbeanstalk:environment:process:default:HealthyThresholdCount", 1)]
    ),
    int!(
        "health.unhealthy_threshold",
        health.unhealthy_threshold,
        1,
        10,
        "checks",
        "Consecutive failed checks that take an in-service instance out of rotation.",
        [("aws:elasticbeanstalk:environment:process:default:UnhealthyThresholdCount", 1)]
    ),
    int!(
        "health.deregistration_delay",
        health.deregistration_delay_s,
        0,
        3600,
        "seconds",
        "Seconds an instance leaving rotation keeps serving the requests it has in flight before it is stopped.",
        [("aws:elasticbeanstalk:environment:process:default:DeregistrationTimeout", 1)]
    ),
    OptionDef {
        key: "health.ignore_codes",
        kind: Kind::StatusCodes { min: 500, max: 599 },
        description: "5xx status codes that enhanced health does not count as failed requests (an application that answers 503 on purpose when it sheds load). They still show as 5xx in metrics. Changing it replaces no instance.",
        default_note: Some("none: every 5xx counts"),
        aliases: &[],
        get: |o| {
            (!o.health.ignore_codes.is_empty())
                .then(|| o.health.ignore_codes.iter().map(u16::to_string).collect::<Vec<_>>().join(","))
        },
        put: |o, v| {
            o.health.ignore_codes =
                v.map(|s| s.split(',').filter_map(|c| c.trim().parse().ok()).collect()).unwrap_or_default()
        },
    },
    // Deployment.
    OptionDef {
        key: "deployment.policy",
        kind: Kind::Choice(&["all-at-once", "rolling", "rolling-with-additional-batch", "immutable"]),
        description: "How a new version (or new environment properties) replaces the running instances.",
        default_note: Some("rolling-with-additional-batch for more than one instance, all-at-once for one"),
        aliases: &[("aws:elasticbeanstalk:command:DeploymentPolicy", 1)],
        get: |o| {
            let flag =
                |p: DeploymentPolicy| DeploymentPolicy::FLAGS.iter().find(|(_, x)| *x == p).map(|(f, _)| f.to_string());
            o.deploy.policy.and_then(flag)
        },
        put: |o, v| o.deploy.policy = parse_opt(v),
    },
    OptionDef {
        key: "deployment.batch_size_type",
        kind: Kind::Choice(&["Percentage", "Fixed"]),
        description: "Whether `deployment.batch_size` is a percentage of the instances or a count.",
        default_note: None,
        aliases: &[("aws:elasticbeanstalk:command:BatchSizeType", 1)],
        get: |o| Some(name_of(&o.deploy.batch_size_type)),
        put: |o, v| o.deploy.batch_size_type = v.and_then(parse_enum).unwrap_or_default(),
    },
    int!(
        "deployment.batch_size",
        deploy.batch_size,
        1,
        10_000,
        "",
        "Instances per batch of a rolling deploy: a percentage (1 to 100) or a count, per `deployment.batch_size_type`.",
        [("aws:elasticbeanstalk:command:BatchSize", 1)]
    ),
    int!(
        "deployment.timeout",
        deploy.timeout_s,
        1,
        MAX_DEPLOY_TIMEOUT_S,
        "seconds",
        "Seconds a deploy may take before it is rolled back to the last good version.",
        [("aws:elasticbeanstalk:command:Timeout", 1)]
    ),
    OptionDef {
        key: "deployment.ignore_health_check",
        kind: Kind::Bool,
        description: "Count a batch as done once its instances run, without waiting for their health checks.",
        default_note: None,
        aliases: &[("aws:elasticbeanstalk:command:IgnoreHealthCheck", 1)],
        get: |o| Some(o.deploy.ignore_health_check.to_string()),
        put: |o, v| o.deploy.ignore_health_check = parse(v),
    },
    // Load balancing.
    OptionDef {
        key: "loadbalancer.algorithm",
        kind: Kind::Choice(&["least_outstanding_requests", "round_robin"]),
        description: "How the load balancer spreads requests over in-service instances: to the one with the fewest in flight (ties in turn), or each in turn whatever its load.",
        default_note: None,
        aliases: &[("aws:elasticbeanstalk:environment:process:default:LoadBalancingAlgorithmType", 1)],
        get: |o| Some(name_of(&o.load_balancer.algorithm)),
        put: |o, v| o.load_balancer.algorithm = v.and_then(parse_enum).unwrap_or_default(),
    },
    OptionDef {
        key: "loadbalancer.idle_timeout",
        kind: Kind::Int { min: 1, max: MAX_IDLE_TIMEOUT_S as i64, unit: "seconds" },
        description: "Seconds a client connection may stay open with no request before the load balancer closes it (gracefully: a response in progress finishes). Changing it replaces no instance.",
        default_note: Some("the server's `--client-idle-timeout` (60 s unless set)"),
        aliases: &[("aws:elbv2:loadbalancer:IdleTimeout", 1)],
        get: |o| o.load_balancer.idle_timeout_s.map(|n| n.to_string()),
        put: |o, v| o.load_balancer.idle_timeout_s = parse_opt(v),
    },
    // Logs.
    int!(
        "logs.retention",
        logs.retention_days,
        1,
        MAX_LOG_RETENTION_DAYS,
        "days",
        "Days the logs of a retired instance (`sprout logs --all`) are kept after its last write; then they are removed. Logs of running instances are never removed.",
        [("aws:elasticbeanstalk:cloudwatch:logs:RetentionInDays", 1)]
    ),
    OptionDef {
        key: "placement.constraints",
        kind: Kind::Constraints,
        description: "On a swarm engine, the nodes this environment's instances may run on (Swarm's constraint syntax, comma-separated; e.g. node.labels.zone==east). Instances already running stay where they are; new ones follow. Ignored by the local engine.",
        default_note: Some("none: any ready, active node"),
        aliases: &[],
        get: |o| Some(o.placement.constraints.join(",")).filter(|c| !c.is_empty()),
        put: |o, v| o.placement.constraints = v.map(|t| t.split(',').map(str::to_string).collect()).unwrap_or_default(),
    },
    // Capacity and scaling.
    OptionDef {
        key: "scaling.min",
        kind: Kind::Int { min: 0, max: MAX_INSTANCES, unit: "instances" },
        description: "Fewest instances auto-scaling keeps; the desired count is moved into the band.",
        default_note: Some("the desired count (no band)"),
        aliases: &[("aws:autoscaling:asg:MinSize", 1)],
        get: |o| o.capacity.min.map(|n| n.to_string()),
        put: |o, v| o.capacity.min = parse_opt(v),
    },
    OptionDef {
        key: "scaling.max",
        kind: Kind::Int { min: 0, max: MAX_INSTANCES, unit: "instances" },
        description: "Most instances auto-scaling may run; the desired count is moved into the band.",
        default_note: Some("the desired count (no band)"),
        aliases: &[("aws:autoscaling:asg:MaxSize", 1)],
        get: |o| o.capacity.max.map(|n| n.to_string()),
        put: |o, v| o.capacity.max = parse_opt(v),
    },
    OptionDef {
        key: "scaling.target",
        kind: Kind::Float { min: 0.0, max: 1_000_000.0, above_min: true },
        description: "Target tracking: keep requests per instance per second near this.",
        default_note: Some("no target tracking"),
        aliases: &[],
        get: |o| o.scaling.target_rps.map(|t| t.to_string()),
        put: |o, v| o.scaling.target_rps = parse_opt(v),
    },
    OptionDef {
        key: "scaling.queue_url",
        kind: Kind::HttpUrl,
        description: "A queue-depth reading for worker environments: an http:// URL whose answer (2xx) is a number, the jobs waiting. Polled every 2 seconds; `scaling.target_queue_per_instance` tracks it.",
        default_note: Some("no queue reading"),
        aliases: &[],
        get: |o| o.scaling.queue_url.clone(),
        put: |o, v| o.scaling.queue_url = v.map(String::from),
    },
    OptionDef {
        key: "scaling.target_queue_per_instance",
        kind: Kind::Float { min: 0.0, max: 1_000_000.0, above_min: true },
        description: "Target tracking on the queue reading: keep jobs waiting per instance near this (needs `scaling.queue_url`). Uses the scale-out and scale-in windows as request tracking does.",
        default_note: Some("no queue target tracking"),
        aliases: &[],
        get: |o| o.scaling.target_queue_per_instance.map(|t| t.to_string()),
        put: |o, v| o.scaling.target_queue_per_instance = parse_opt(v),
    },
    int!(
        "scaling.scale_out_window",
        scaling.scale_out_window_s,
        1,
        MAX_WINDOW_S,
        "seconds",
        "Seconds the load must stay above target before scaling out.",
        []
    ),
    OptionDef {
        key: "scaling.surge_factor",
        kind: Kind::Float { min: 0.0, max: 100.0, above_min: false },
        description: "One second at this many times the current capacity scales out at once, without waiting for the window; 0 turns it off.",
        default_note: None,
        aliases: &[],
        get: |o| Some(o.scaling.surge_factor.to_string()),
        put: |o, v| o.scaling.surge_factor = parse(v),
    },
    int!(
        "scaling.scale_in_window",
        scaling.scale_in_window_s,
        0,
        MAX_WINDOW_S,
        "seconds",
        "Stabilisation window: seconds the load must stay low before scaling in.",
        []
    ),
    int!(
        "scaling.scale_out_cooldown",
        scaling.scale_out_cooldown_s,
        0,
        MAX_WINDOW_S,
        "seconds",
        "Seconds after a scale-out before the next scale-out.",
        []
    ),
    int!(
        "scaling.scale_in_cooldown",
        scaling.scale_in_cooldown_s,
        0,
        MAX_WINDOW_S,
        "seconds",
        "Seconds after any scaling action before a scale-in.",
        [("aws:autoscaling:asg:Cooldown", 1)]
    ),
    int!(
        "scaling.warm_pool",
        scaling.warm_pool,
        0,
        MAX_WARM_POOL,
        "instances",
        "Instances of the current version kept launched, healthy and out of rotation, put in service at once on a scale-out.",
        []
    ),
    OptionDef {
        key: "scaling.warm_pool_state",
        kind: Kind::Choice(&["running", "stopped"]),
        description: "How the warm pool's instances wait: running (health-checked, put in service at once) or stopped (created and never started: no CPU; started on demand, skipping image resolution and container creation, and in service once they pass a health check).",
        default_note: None,
        aliases: &[],
        get: |o| Some(name_of(&o.scaling.warm_pool_state)),
        put: |o, v| o.scaling.warm_pool_state = v.and_then(parse_enum).unwrap_or_default(),
    },
    int!(
        "scaling.queue.max_requests",
        scaling.queue.max_requests,
        0,
        MAX_QUEUE_REQUESTS,
        "requests",
        "Requests the load balancer holds while no instance has room (capacity starting) instead of refusing them; 0 refuses at once.",
        []
    ),
    int!(
        "scaling.queue.max_wait_ms",
        scaling.queue.max_wait_ms,
        0,
        MAX_QUEUE_WAIT_MS,
        "milliseconds",
        "Longest a held request waits for an instance before it is refused (503).",
        []
    ),
    OptionDef {
        key: "scaling.instance_limit",
        kind: Kind::Int { min: 1, max: 100_000, unit: "requests" },
        description: "Requests one instance may have in flight; past it requests wait in the queue for room or for a new instance.",
        default_note: Some("no limit"),
        aliases: &[],
        get: |o| o.scaling.queue.max_in_flight_per_instance.map(|n| n.to_string()),
        put: |o, v| o.scaling.queue.max_in_flight_per_instance = parse_opt(v),
    },
    OptionDef {
        key: "scaling.trigger.measure",
        kind: Kind::Choice(&["RequestCount", "Latency", "CPUUtilization", "NetworkIn", "NetworkOut"]),
        description: "What the metric trigger measures (requests per second, response time in ms, percent of a core, bytes per second).",
        default_note: Some(
            "no trigger (set any `scaling.trigger.*` option to add one with the other fields at their trigger defaults)",
        ),
        aliases: &[("aws:autoscaling:trigger:MeasureName", 1)],
        get: |o| o.scaling.trigger.as_ref().map(|t| name_of(&t.measure)),
        put: |o, v| {
            trigger(o).measure = v.and_then(parse_enum).unwrap_or(Trigger::default().measure);
        },
    },
    OptionDef {
        key: "scaling.trigger.statistic",
        kind: Kind::Choice(&["Sum", "Average", "Minimum", "Maximum"]),
        description: "How the per-second samples of one period are combined.",
        default_note: Some(
            "no trigger (set any `scaling.trigger.*` option to add one with the other fields at their trigger defaults)",
        ),
        aliases: &[("aws:autoscaling:trigger:Statistic", 1)],
        get: |o| o.scaling.trigger.as_ref().map(|t| name_of(&t.statistic)),
        put: |o, v| {
            trigger(o).statistic = v.and_then(parse_enum).unwrap_or(Trigger::default().statistic);
        },
    },
    OptionDef {
        key: "scaling.trigger.unit",
        kind: Kind::Text,
        description: "The unit shown in scaling reasons (Count/Second, Milliseconds, Percent, Bytes).",
        default_note: Some(
            "no trigger (set any `scaling.trigger.*` option to add one with the other fields at their trigger defaults)",
        ),
        aliases: &[("aws:autoscaling:trigger:Unit", 1)],
        get: |o| o.scaling.trigger.as_ref().map(|t| t.unit.clone()),
        put: |o, v| trigger(o).unit = v.unwrap_or("Count/Second").to_string(),
    },
    trig!(
        "scaling.trigger.period",
        period_s,
        Kind::Int { min: 1, max: 3600, unit: "seconds" },
        "Seconds per period the statistic is taken over (Elastic Beanstalk's Period is in minutes and is converted).",
        "Period",
        60
    ),
    trig!(
        "scaling.trigger.breach_duration",
        breach_duration_s,
        Kind::Int { min: 1, max: 86_400, unit: "seconds" },
        "Seconds the threshold must stay breached before scaling: a whole number of periods (Elastic Beanstalk's BreachDuration is in minutes and is converted).",
        "BreachDuration",
        60
    ),
    trig!(
        "scaling.trigger.upper_threshold",
        upper_threshold,
        Kind::Float { min: 0.0, max: 1e12, above_min: false },
        "Above this the trigger adds `scaling.trigger.upper_increment` instances.",
        "UpperThreshold",
        1
    ),
    trig!(
        "scaling.trigger.lower_threshold",
        lower_threshold,
        Kind::Float { min: 0.0, max: 1e12, above_min: false },
        "Below this the trigger adds `scaling.trigger.lower_increment` instances (negative: removes).",
        "LowerThreshold",
        1
    ),
    trig!(
        "scaling.trigger.upper_increment",
        upper_increment,
        Kind::Int { min: -100, max: 100, unit: "instances" },
        "Instances added when the upper threshold is breached.",
        "UpperBreachScaleIncrement",
        1
    ),
    trig!(
        "scaling.trigger.lower_increment",
        lower_increment,
        Kind::Int { min: -100, max: 100, unit: "instances" },
        "Instances added (negative: removed) when the lower threshold is breached.",
        "LowerBreachScaleIncrement",
        1
    ),
];

/// A trigger whose every field is back at its default was cleared option by option: remove it.
pub(super) fn drop_default_trigger(o: &mut EnvOptions) {
    if o.scaling.trigger.as_ref().is_some_and(|t| *t == Trigger::default())
        && !o.sources.keys().any(|k| k.starts_with("scaling.trigger."))
    {
        o.scaling.trigger = None;
    }
}

/// What only the whole set can tell: the band, the batch size against its type, the health
/// check timeout against its interval, and every scaling rule.
pub(super) fn check_whole(o: &EnvOptions) -> Result<(), String> {
    if let (Some(min), Some(max)) = (o.capacity.min, o.capacity.max)
        && min > max
    {
        return Err(format!(
            "scaling.min {min} is above scaling.max {max}: give both (e.g. scaling.min=1 scaling.max=4)"
        ));
    }
    if o.deploy.batch_size_type == crate::options::BatchSizeType::Percentage && o.deploy.batch_size > 100 {
        return Err(format!(
            "deployment.batch_size {} is out of range for a Percentage batch: give 1 to 100, or set deployment.batch_size_type=Fixed",
            o.deploy.batch_size
        ));
    }
    if o.health.timeout_s > o.health.interval_s {
        return Err(format!(
            "health.timeout {} s is longer than health.interval {} s: give a timeout of at most the interval (e.g. health.interval=10 health.timeout=5)",
            o.health.timeout_s, o.health.interval_s
        ));
    }
    o.scaling.validate().map_err(|e| {
        let key = match e.field.as_str() {
            "trigger.breach_duration_s" => "scaling.trigger.breach_duration".to_string(),
            "trigger.lower_threshold" => "scaling.trigger.lower_threshold".to_string(),
            other => format!("scaling.{}", other.trim_end_matches("_s")),
        };
        format!("{key}: {}", e.message)
    })
}
