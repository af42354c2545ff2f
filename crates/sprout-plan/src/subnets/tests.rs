use super::*;

fn net(s: &str) -> Ipv4Net {
    s.parse().unwrap()
}

fn pool(s: &str, prefix: u8) -> SubnetPool {
    SubnetPool::new(net(s), prefix).unwrap()
}

#[test]
fn the_default_pool_is_clear_of_docker_and_swarm_defaults() {
    for other in ["172.17.0.0/12", "192.168.0.0/16", "10.0.0.0/8"] {
        assert!(!overlaps(&DEFAULT_POOL, &net(other)), "{other}");
    }
    assert!(SUGGESTION_SPACE.contains(&DEFAULT_POOL));
    let p = SubnetPool::default();
    assert_eq!(p.capacity(), 4096);
    assert_eq!(p.prefix_for(4), Ok(28));
}

#[test]
fn the_lowest_free_subnet_is_given() {
    let p = pool("100.80.0.0/16", 28);
    let table: &[(&[&str], &str)] = &[
        (&[], "100.80.0.0/28"),
        (&["100.80.0.0/28"], "100.80.0.16/28"),
        (&["100.80.0.16/28"], "100.80.0.0/28"),
        (&["100.80.0.0/28", "100.80.0.32/28"], "100.80.0.16/28"),
        // A larger block in use is stepped over whole, nested ones with it.
        (&["100.80.0.0/24", "100.80.0.16/28"], "100.80.1.0/28"),
        (&["100.80.0.16/28", "100.80.0.0/24"], "100.80.1.0/28"),
        // Something small in the middle of a candidate takes the whole candidate.
        (&["100.80.0.4/30"], "100.80.0.16/28"),
        (&["100.80.0.0/28", "100.80.0.20/32"], "100.80.0.32/28"),
        // Networks outside the pool do not matter; a wider one covering it does.
        (&["10.0.0.0/8", "100.79.255.240/28"], "100.80.0.0/28"),
    ];
    for (in_use, want) in table {
        let in_use: Vec<Ipv4Net> = in_use.iter().map(|s| net(s)).collect();
        assert_eq!(plan_subnet(&p, 28, &in_use), Ok(net(want)), "in use: {in_use:?}");
    }
    assert!(plan_subnet(&p, 28, &[net("100.0.0.0/8")]).is_err());
}

#[test]
fn larger_subnets_are_aligned_to_their_size() {
    let p = pool("100.80.0.0/16", 28);
    assert_eq!(plan_subnet(&p, 26, &[net("100.80.0.0/28")]), Ok(net("100.80.0.64/26")));
    assert_eq!(plan_subnet(&p, 28, &[net("100.80.0.0/26")]), Ok(net("100.80.0.64/28")));
}

#[test]
fn a_full_pool_names_itself_its_size_and_the_flag() {
    let p = pool("100.80.0.0/27", 28);
    let a = plan_subnet(&p, 28, &[]).unwrap();
    let b = plan_subnet(&p, 28, &[a]).unwrap();
    assert_eq!((a, b), (net("100.80.0.0/28"), net("100.80.0.16/28")));
    let err = plan_subnet(&p, 28, &[a, b]).unwrap_err();
    assert_eq!(err, PoolError::Exhausted { pool: net("100.80.0.0/27"), subnets: 2, prefix: 28 });
    let text = err.to_string();
    for part in ["100.80.0.0/27", "all 2 subnets of /28", "--instance-network-pool"] {
        assert!(text.contains(part), "{text}");
    }
    // Released, it is given again.
    assert_eq!(plan_subnet(&p, 28, &[b]), Ok(a));
}

#[test]
fn every_subnet_of_a_pool_is_given_once_and_never_twice() {
    let p = pool("100.80.0.0/22", 28);
    let mut given = Vec::new();
    while let Ok(s) = plan_subnet(&p, 28, &given) {
        assert!(p.net.contains(&s));
        assert!(given.iter().all(|g| !overlaps(g, &s)), "{s} given twice");
        given.push(s);
    }
    assert_eq!(given.len() as u64, p.capacity());
}

#[test]
fn subnets_grow_with_the_containers_they_must_hold() {
    let p = pool("100.80.0.0/16", 28);
    assert_eq!(p.prefix_for(1), Ok(28));
    assert_eq!(p.prefix_for(13), Ok(28));
    assert_eq!(p.prefix_for(14), Ok(27));
    assert_eq!(p.prefix_for(32), Ok(26));
    let tiny = pool("100.80.0.0/28", 28);
    let err = tiny.prefix_for(20).unwrap_err();
    assert!(err.to_string().contains("needs a subnet of /27"), "{err}");
}

#[test]
fn sizes_that_do_not_fit_the_pool_are_refused() {
    assert!(SubnetPool::new(net("100.80.0.0/16"), 12).is_err());
    assert!(SubnetPool::new(net("100.80.0.0/16"), 30).is_err());
    assert_eq!(SubnetPool::new(net("100.80.0.5/16"), 28).unwrap().net, net("100.80.0.0/16"));
    let err = SubnetPool::new(net("100.80.0.0/16"), 12).unwrap_err().to_string();
    assert!(err.contains("/16 to /29"), "{err}");
}

fn route(dest: &str, iface: &str) -> Route {
    Route { dest: net(dest), iface: iface.into() }
}

fn network(id: &str, name: &str, subnet: &str, sprout: bool) -> EngineNetwork {
    EngineNetwork { id: id.into(), name: name.into(), subnet: Some(net(subnet)), sprout }
}

#[test]
fn the_pool_overlaps_what_the_host_routes_and_what_others_created() {
    let p = SubnetPool::default();
    let routes = vec![
        route("0.0.0.0/0", "eth0"),
        route("0.0.0.0/1", "tun0"),
        route("192.0.2.0/24", "eth0"),
        route("100.64.0.0/10", "tailscale0"),
        route("100.80.0.0/28", "br-0123456789ab"),
        route("100.80.0.16/28", "br-ffffffffffff"),
    ];
    let networks = vec![
        network("0123456789abcdef", "sprout-shop-prod-i-1", "100.80.0.0/28", true),
        network("aaaa", "mine", "100.80.4.0/24", false),
        network("bbbb", "elsewhere", "172.18.0.0/16", false),
    ];
    let found = plan_pool_overlaps(&p, &routes, &networks);
    assert_eq!(
        found,
        vec![
            Overlap::Route(route("100.64.0.0/10", "tailscale0")),
            // Docker's bridges (br-<12 hex>) are judged by their networks, listed or gone.
            Overlap::Network { name: "mine".into(), subnet: net("100.80.4.0/24") },
        ]
    );
    assert_eq!(found[0].to_string(), "the host's route to 100.64.0.0/10 (dev tailscale0)");
    assert!(plan_pool_overlaps(&p, &routes[..3], &networks[..1]).is_empty());
}

#[test]
fn a_free_pool_of_the_same_size_is_suggested() {
    let p = SubnetPool::default();
    let s = suggest_pool(&p, &[net("100.81.0.0/16")]).unwrap();
    assert_eq!(s, net("100.65.0.0/16"));
    assert_eq!(suggest_pool(&p, &[net("100.64.0.0/10")]), None);
}

proptest::proptest! {
    /// Whatever is in use (subnets of mixed sizes, in the pool or around it), the subnet given
    /// overlaps none of it, lies in the pool, and no lower subnet of its size was free.
    #[test]
    fn the_subnet_given_is_free_and_the_lowest(
        used in proptest::collection::vec((0u32..1024, 22u8..=30), 0..40),
        prefix in 26u8..=29,
    ) {
        let p = pool("100.80.0.0/22", 28);
        let base = u32::from(p.net.network()) - 256;
        let in_use: Vec<Ipv4Net> =
            used.iter().map(|(off, len)| Ipv4Net::new(Ipv4Addr::from(base + off * 2), *len).unwrap().trunc()).collect();
        let free = |s: &Ipv4Net| in_use.iter().all(|u| !overlaps(u, s));
        let lowest = p.net.subnets(prefix).unwrap().find(free);
        match plan_subnet(&p, prefix, &in_use) {
            Ok(s) => {
                proptest::prop_assert!(p.net.contains(&s) && free(&s));
                proptest::prop_assert_eq!(Some(s), lowest);
            }
            Err(_) => proptest::prop_assert_eq!(lowest, None),
        }
    }
}
