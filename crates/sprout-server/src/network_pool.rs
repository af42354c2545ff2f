//! The instance network pool at run time: the subnets in use, a subnet reserved for each launch
//! and released when its instance's network goes, and the check at start.
//!
//! In use are this server's instance networks, other Sprout servers' on the same engine, and
//! anything else the engine has or refused a subnet for. The set is rebuilt from the engine at
//! start (a restarted server keeps its instances' subnets and hands out none of them) and looked
//! at again before the pool is declared full, so subnets freed behind the server's back (another
//! server, a network removed by hand) are found. At start the pool is refused when it overlaps a
//! route of the host or a Docker network Sprout did not create.
//!
//! Not here: which subnet is next (`sprout_plan::subnets`, pure) nor the instance's containers
//! (`instance::launch`).

pub mod routes;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use ipnet::Ipv4Net;
use sprout_engine::{Engine, EngineError, NetworkSpec, NetworkStatus};
use sprout_model::names::LABEL_MANAGED;
use sprout_plan::subnets::{
    EngineNetwork, PoolError, Route, SubnetPool, overlaps, plan_pool_overlaps, plan_subnet, suggest_pool,
};

/// Subnets one launch tries when the engine says each overlaps a network it has (another
/// server sharing the pool got there first), before it reports the engine's refusal.
const REFUSED_TRIES: usize = 8;

/// Why an instance network could not be created.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error(transparent)]
    Pool(#[from] PoolError),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Why the server refuses to start with this pool.
#[derive(Debug, thiserror::Error)]
pub enum PoolCheckError {
    #[error(
        "the instance network pool {pool} overlaps {overlaps}: instances there would be unreachable or cut the host off from those addresses; start the server with a free range, {suggestion}"
    )]
    Overlaps { pool: Ipv4Net, overlaps: String, suggestion: String },
    #[error("cannot check the instance network pool {pool} against the engine's networks: {source}")]
    Engine { pool: Ipv4Net, source: EngineError },
}

#[derive(Debug)]
pub struct NetworkPool {
    pool: SubnetPool,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// By network name; a subnet the engine refused is kept under a name of its own.
    taken: HashMap<String, Taken>,
    /// Counts changes, so a look at the engine keeps what changed while it looked.
    seq: u64,
}

#[derive(Debug, Clone, Copy)]
struct Taken {
    subnet: Ipv4Net,
    /// `seq` when it was taken or its network created.
    since: u64,
    /// Reserved for a network being created: kept whatever the engine shows meanwhile.
    creating: bool,
}

impl State {
    fn note(&mut self, name: &str, subnet: Ipv4Net, creating: bool) {
        self.seq += 1;
        self.taken.insert(name.to_string(), Taken { subnet, since: self.seq, creating });
    }
}

impl NetworkPool {
    pub fn new(pool: SubnetPool) -> Self {
        NetworkPool { pool, state: Mutex::default() }
    }

    pub fn pool(&self) -> SubnetPool {
        self.pool
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Subnets of the pool in use now (of any size), and the pool's size in subnets.
    pub fn usage(&self) -> (usize, u64) {
        let in_pool = self.lock().taken.values().filter(|t| overlaps(&t.subnet, &self.pool.net)).count();
        (in_pool, self.pool.capacity())
    }

    /// The subnet noted for a network, if any.
    pub fn subnet_of(&self, network: &str) -> Option<Ipv4Net> {
        self.lock().taken.get(network).map(|t| t.subnet)
    }

    /// Reserve the lowest free subnet for `network`, large enough for `containers`.
    pub fn reserve(&self, network: &str, containers: usize) -> Result<Ipv4Net, PoolError> {
        let prefix = self.pool.prefix_for(containers)?;
        let mut state = self.lock();
        let in_use: Vec<Ipv4Net> =
            state.taken.iter().filter(|(name, _)| name.as_str() != network).map(|(_, t)| t.subnet).collect();
        let subnet = plan_subnet(&self.pool, prefix, &in_use)?;
        state.note(network, subnet, true);
        Ok(subnet)
    }

    /// The network was released (removed, or its creation failed): its subnet is free.
    pub fn release(&self, network: &str) {
        self.lock().taken.remove(network);
    }

    /// Networks the engine has: each one's subnet is in use (the start, and `resync`).
    pub fn adopt(&self, networks: &[NetworkStatus]) {
        let mut state = self.lock();
        for n in networks {
            if let Some(subnet) = n.subnet.filter(|s| overlaps(s, &self.pool.net)) {
                let creating = state.taken.get(&n.name).is_some_and(|t| t.creating);
                state.note(&n.name, subnet, creating);
            }
        }
    }

    /// Look at the engine again: networks gone since they were noted free their subnets,
    /// networks that appeared take theirs. Reservations being created are kept.
    pub async fn resync(&self, engine: &dyn Engine) -> Result<(), EngineError> {
        let from = self.lock().seq;
        let listed = engine.list_networks(&Default::default()).await?;
        {
            let mut state = self.lock();
            state.taken.retain(|name, t| t.creating || t.since > from || listed.iter().any(|n| &n.name == name));
        }
        self.adopt(&listed);
        Ok(())
    }

    /// Create an instance network with a subnet of the pool. A subnet the engine refuses as
    /// overlapping one of its networks is noted as taken and the next one tried; the first
    /// refusal, or a full pool, has the engine's networks looked at again (once per launch).
    pub async fn create_network(
        &self,
        engine: &dyn Engine,
        spec: &NetworkSpec,
        containers: usize,
    ) -> Result<Ipv4Net, NetworkError> {
        let mut looked_again = false;
        let mut refusal = None;
        for _ in 0..REFUSED_TRIES {
            let subnet = match self.reserve(&spec.name, containers) {
                Ok(s) => s,
                Err(PoolError::Exhausted { .. }) if !looked_again => {
                    looked_again = true;
                    self.resync(engine).await?;
                    self.reserve(&spec.name, containers)?
                }
                Err(e) => return Err(e.into()),
            };
            let with_subnet = NetworkSpec { subnet: Some(subnet), ..spec.clone() };
            match engine.create_network(&with_subnet).await {
                // A network of this name exists already: this instance's own (a retried launch).
                Ok(()) | Err(EngineError::Conflict { .. }) => {
                    self.lock().note(&spec.name, subnet, false);
                    return Ok(subnet);
                }
                Err(e) if is_overlap(&e) => {
                    {
                        let mut state = self.lock();
                        state.taken.remove(&spec.name);
                        state.note(&format!("(refused by the engine) {subnet}"), subnet, false);
                    }
                    refusal = Some(e);
                    // Another server sharing the pool creates networks too: one look at the
                    // engine learns all of them, instead of one refusal each.
                    if !looked_again {
                        looked_again = true;
                        self.resync(engine).await?;
                    }
                }
                Err(e) => {
                    self.release(&spec.name);
                    return Err(e.into());
                }
            }
        }
        Err(refusal.expect("REFUSED_TRIES is not zero").into())
    }

    /// At start: refuse a pool that overlaps the host's routes or Docker networks Sprout did not
    /// create; adopt the subnets of Sprout's networks (this server's and any other's) in it.
    /// `routes` are the host's (`routes::read`). Returns how many subnets of the pool are in use.
    pub async fn check_and_adopt(&self, engine: &dyn Engine, routes: &[Route]) -> Result<usize, PoolCheckError> {
        let pool = self.pool.net;
        let networks = engine
            .list_networks(&Default::default())
            .await
            .map_err(|source| PoolCheckError::Engine { pool, source })?;
        let seen: Vec<EngineNetwork> = networks
            .iter()
            .map(|n| EngineNetwork {
                id: n.id.clone(),
                name: n.name.clone(),
                subnet: n.subnet,
                sprout: n.labels.contains_key(LABEL_MANAGED),
            })
            .collect();
        let found = plan_pool_overlaps(&self.pool, routes, &seen);
        if !found.is_empty() {
            let mut avoid: Vec<Ipv4Net> = routes.iter().map(|r| r.dest).filter(|d| d.prefix_len() > 0).collect();
            avoid.extend(seen.iter().filter_map(|n| n.subnet));
            let suggestion = match suggest_pool(&self.pool, &avoid) {
                Some(free) => format!("e.g. --instance-network-pool {free}"),
                None => "with --instance-network-pool CIDR".to_string(),
            };
            let overlaps = found.iter().map(|o| o.to_string()).collect::<Vec<_>>().join(" and ");
            return Err(PoolCheckError::Overlaps { pool, overlaps, suggestion });
        }
        self.adopt(&networks);
        Ok(self.usage().0)
    }
}

/// Docker's refusal of a subnet another network has ("Pool overlaps with other one on this
/// address space").
fn is_overlap(e: &EngineError) -> bool {
    matches!(e, EngineError::Permanent { operation: "create_network", message, .. } if message.contains("overlap"))
}

#[cfg(test)]
mod tests;
