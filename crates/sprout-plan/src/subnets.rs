//! Instance subnets: every instance's network gets its IPv4 subnet from a pool Sprout manages
//! (`sprout server --instance-network-pool CIDR --instance-subnet-size N`) instead of Docker's
//! default address pools, which hold about 31 bridge networks.
//!
//! Pure: given the pool and the subnets in use, which subnet the next instance gets (the lowest
//! free one, so a restarted server and a test can predict it), how large it must be for its
//! containers, and what on the host the pool would collide with. The server keeps the subnets
//! in use (`sprout_server::network_pool`) and reads the host's routes and the engine's networks.
//!
//! The default pool, 100.80.0.0/16, lies in the shared address space of RFC 6598
//! (100.64.0.0/10): never routed on the Internet and outside Docker's default bridge pools
//! (172.17.0.0/12, 192.168.0.0/16) and Swarm's default overlay pool (10.0.0.0/8). Its first
//! /16 (100.64.0.0/16) is avoided because carrier-grade NAT and EKS custom networking commonly
//! start there; a host that uses the range anyway (Tailscale, a CGNAT uplink) is found by the
//! start check, which names the route and the flag.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// The pool instances' subnets come from unless `--instance-network-pool` says otherwise.
pub const DEFAULT_POOL: Ipv4Net = Ipv4Net::new_assert(Ipv4Addr::new(100, 80, 0, 0), 16);
/// The smallest subnet an instance gets (`--instance-subnet-size`): /28, 13 containers.
pub const DEFAULT_SUBNET_PREFIX: u8 = 28;
/// The longest prefix accepted: a /29 still holds 5 containers.
pub const MAX_SUBNET_PREFIX: u8 = 29;
/// Addresses of a subnet no container can take: the network, the bridge's gateway, broadcast.
pub const RESERVED_ADDRESSES: u64 = 3;
/// Where a free pool is looked for when the configured one collides (shared address space).
pub const SUGGESTION_SPACE: Ipv4Net = Ipv4Net::new_assert(Ipv4Addr::new(100, 64, 0, 0), 10);

/// A pool and the size of the subnets cut from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubnetPool {
    pub net: Ipv4Net,
    /// Prefix length of an ordinary instance's subnet.
    pub prefix: u8,
}

impl Default for SubnetPool {
    fn default() -> Self {
        SubnetPool { net: DEFAULT_POOL, prefix: DEFAULT_SUBNET_PREFIX }
    }
}

/// Why no subnet can be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    #[error(
        "the instance network pool {pool} is full: all {subnets} subnets of /{prefix} are in use; give Sprout a larger pool with `sprout server --instance-network-pool CIDR` (or smaller subnets with --instance-subnet-size) or remove instances"
    )]
    Exhausted { pool: Ipv4Net, subnets: u64, prefix: u8 },
    #[error(
        "--instance-subnet-size {prefix} does not fit the instance network pool {pool}: use a size from /{min} to /{MAX_SUBNET_PREFIX}"
    )]
    BadSize { pool: Ipv4Net, prefix: u8, min: u8 },
    #[error(
        "an instance of {containers} containers needs a subnet of /{needed}, larger than the instance network pool {pool}; give Sprout a larger pool with --instance-network-pool"
    )]
    TooManyContainers { pool: Ipv4Net, containers: usize, needed: u8 },
}

impl SubnetPool {
    /// A pool of `net` (its host bits cleared) cutting subnets of `/prefix`.
    pub fn new(net: Ipv4Net, prefix: u8) -> Result<SubnetPool, PoolError> {
        let net = net.trunc();
        if prefix < net.prefix_len() || prefix > MAX_SUBNET_PREFIX {
            return Err(PoolError::BadSize { pool: net, prefix, min: net.prefix_len() });
        }
        Ok(SubnetPool { net, prefix })
    }

    /// How many subnets of the configured size the pool holds.
    pub fn capacity(&self) -> u64 {
        1u64 << (self.prefix - self.net.prefix_len())
    }

    /// The subnet size for an instance of `containers` containers: the configured one, or the
    /// smallest larger one that holds them all.
    pub fn prefix_for(&self, containers: usize) -> Result<u8, PoolError> {
        let mut prefix = self.prefix;
        while size(prefix) < containers as u64 + RESERVED_ADDRESSES {
            if prefix <= self.net.prefix_len() {
                let needed = prefix.saturating_sub(1);
                return Err(PoolError::TooManyContainers { pool: self.net, containers, needed });
            }
            prefix -= 1;
        }
        Ok(prefix)
    }

    fn exhausted(&self) -> PoolError {
        PoolError::Exhausted { pool: self.net, subnets: self.capacity(), prefix: self.prefix }
    }
}

/// Addresses in a subnet of `/prefix`.
fn size(prefix: u8) -> u64 {
    1u64 << (32 - u32::from(prefix))
}

fn first(net: &Ipv4Net) -> u64 {
    u64::from(u32::from(net.network()))
}

fn last(net: &Ipv4Net) -> u64 {
    u64::from(u32::from(net.broadcast()))
}

/// Do two networks share an address?
pub fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    first(a) <= last(b) && first(b) <= last(a)
}

/// The lowest subnet of `/prefix` in the pool that overlaps nothing in `in_use` (subnets of any
/// size, inside the pool or not: the server's own, other servers', anything the engine refused
/// a subnet for). `Exhausted` names the pool, its size and the flag.
pub fn plan_subnet(pool: &SubnetPool, prefix: u8, in_use: &[Ipv4Net]) -> Result<Ipv4Net, PoolError> {
    if prefix < pool.net.prefix_len() || prefix > 32 {
        return Err(pool.exhausted());
    }
    let step = size(prefix);
    let end = last(&pool.net);
    // Sorted by start, the larger of two with one start first: every CIDR either nests in
    // another or is apart from it, so one sweep finds the first gap.
    let mut taken: Vec<(u64, u64)> =
        in_use.iter().filter(|n| overlaps(n, &pool.net)).map(|n| (first(n), last(n))).collect();
    taken.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    let mut cursor = first(&pool.net);
    let mut i = 0;
    while cursor + step - 1 <= end {
        while i < taken.len() && taken[i].1 < cursor {
            i += 1;
        }
        match taken.get(i) {
            Some(&(start, stop)) if start < cursor + step => {
                // Past the taken block, to the next boundary of our size.
                cursor = (stop + 1).div_ceil(step) * step;
            }
            _ => {
                let addr = Ipv4Addr::from(u32::try_from(cursor).expect("inside an IPv4 pool"));
                return Ok(Ipv4Net::new(addr, prefix).expect("prefix checked above"));
            }
        }
    }
    Err(pool.exhausted())
}

/// A route in the host's main routing table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub dest: Ipv4Net,
    pub iface: String,
}

/// A network the engine has, with its IPv4 subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineNetwork {
    pub id: String,
    pub name: String,
    pub subnet: Option<Ipv4Net>,
    /// Created by Sprout (any server): its subnet is in use, not in the way.
    pub sprout: bool,
}

/// What the pool collides with on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlap {
    Route(Route),
    Network { name: String, subnet: Ipv4Net },
}

impl std::fmt::Display for Overlap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Overlap::Route(r) => write!(f, "the host's route to {} (dev {})", r.dest, r.iface),
            Overlap::Network { name, subnet } => {
                write!(f, "Docker network {name} ({subnet}), which Sprout did not create")
            }
        }
    }
}

/// Routes this short cover "everything" (a default route, a VPN's 0.0.0.0/1 and 128.0.0.0/1):
/// an instance subnet is more specific than they are, so it shadows nothing they reach.
pub const WIDEST_CHECKED_ROUTE: u8 = 8;

/// What the pool overlaps: routes of the host (but not those of a Docker bridge, whose network
/// is judged by its subnet, nor near-default ones) and Docker networks Sprout did not create.
/// Sprout's own networks in the pool are subnets in use, adopted by `plan_subnet`'s caller.
pub fn plan_pool_overlaps(pool: &SubnetPool, routes: &[Route], networks: &[EngineNetwork]) -> Vec<Overlap> {
    // Docker names a bridge network's interface br-<first 12 hex digits of its id>. Such a route
    // is Docker's: the network's subnet, if it still exists, is among `networks` and judged
    // there. Matching it to a listed network instead raced with other servers on the host that
    // create and remove networks between the route read and the list (a server then refused to
    // start because another one's instance network had just gone).
    let bridge = |iface: &str| {
        iface == "docker0"
            || iface
                .strip_prefix("br-")
                .is_some_and(|short| short.len() == 12 && short.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    let mut out: Vec<Overlap> = routes
        .iter()
        .filter(|r| r.dest.prefix_len() >= WIDEST_CHECKED_ROUTE && !bridge(&r.iface) && overlaps(&r.dest, &pool.net))
        .cloned()
        .map(Overlap::Route)
        .collect();
    out.extend(networks.iter().filter(|n| !n.sprout).filter_map(|n| {
        let subnet = n.subnet?;
        overlaps(&subnet, &pool.net).then(|| Overlap::Network { name: n.name.clone(), subnet })
    }));
    out
}

/// A pool of the same size as `pool` in the shared address space that overlaps none of
/// `avoid`, to suggest in an error; None when there is none.
pub fn suggest_pool(pool: &SubnetPool, avoid: &[Ipv4Net]) -> Option<Ipv4Net> {
    let prefix = pool.net.prefix_len().max(SUGGESTION_SPACE.prefix_len());
    let space = SubnetPool { net: SUGGESTION_SPACE, prefix };
    let mut avoid = avoid.to_vec();
    // Not the first block of the space (see the module's documentation), and not the pool.
    avoid.push(Ipv4Net::new_assert(Ipv4Addr::new(100, 64, 0, 0), 16));
    avoid.push(pool.net);
    plan_subnet(&space, prefix, &avoid).ok()
}

#[cfg(test)]
mod tests;
