//! The host's IPv4 routes, for the start check of the instance network pool: every routing
//! table from `ip -4 -o route show table all` (policy tables such as Tailscale's 52 included),
//! or the main table from `/proc/net/route` where `ip` is missing.
//!
//! Not here: deciding what overlaps (`sprout_plan::subnets::plan_pool_overlaps`).

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use sprout_plan::subnets::Route;

/// Route types that reach nothing: a broadcast address, a multicast range, or a `throw` that
/// sends the lookup on to the next table.
const NOT_A_DESTINATION: [&str; 3] = ["broadcast", "multicast", "throw"];
const ROUTE_TYPES: [&str; 10] =
    ["unicast", "local", "broadcast", "multicast", "throw", "unreachable", "prohibit", "blackhole", "anycast", "nat"];

/// The host's routes, or why they cannot be read.
pub async fn read() -> Result<Vec<Route>, String> {
    match tokio::process::Command::new("ip").args(["-4", "-o", "route", "show", "table", "all"]).output().await {
        Ok(out) if out.status.success() => Ok(parse_ip_route(&String::from_utf8_lossy(&out.stdout))),
        _ => std::fs::read_to_string("/proc/net/route")
            .map(|text| parse_proc_net_route(&text))
            .map_err(|e| format!("neither `ip route` nor /proc/net/route could be read ({e})")),
    }
}

/// `ip -4 -o route show table all`: `[TYPE] PREFIX [via GW] [dev IFACE] ...`, one per line.
/// Default routes and lines without a prefix are left out.
pub fn parse_ip_route(text: &str) -> Vec<Route> {
    let mut out = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (kind, rest) = match words.first() {
            Some(w) if ROUTE_TYPES.contains(w) => (*w, &words[1..]),
            Some(_) => ("unicast", &words[..]),
            None => continue,
        };
        if NOT_A_DESTINATION.contains(&kind) {
            continue;
        }
        let Some(dest) = rest.first().and_then(|d| parse_prefix(d)) else { continue };
        let iface = rest.iter().position(|w| *w == "dev").and_then(|i| rest.get(i + 1)).unwrap_or(&"");
        out.push(Route { dest, iface: iface.to_string() });
    }
    out
}

fn parse_prefix(text: &str) -> Option<Ipv4Net> {
    if text == "default" {
        return None;
    }
    match text.split_once('/') {
        Some(_) => text.parse::<Ipv4Net>().ok().map(|n| n.trunc()),
        None => text.parse::<Ipv4Addr>().ok().map(Ipv4Net::from),
    }
}

/// `/proc/net/route`: a header, then `Iface Destination Gateway Flags ... Mask ...` with the
/// destination and mask as hexadecimal words in the host's byte order.
pub fn parse_proc_net_route(text: &str) -> Vec<Route> {
    let word = |hex: &str| u32::from_str_radix(hex, 16).ok().map(|v| Ipv4Addr::from(v.to_ne_bytes()));
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (iface, dest, mask) = (cols.first()?, word(cols.get(1)?)?, word(cols.get(7)?)?);
            let prefix = u32::from(mask).leading_ones() as u8;
            let dest = Ipv4Net::new(dest, prefix).ok()?.trunc();
            (prefix > 0).then(|| Route { dest, iface: iface.to_string() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(dest: &str, iface: &str) -> Route {
        Route { dest: dest.parse().unwrap(), iface: iface.into() }
    }

    #[test]
    fn ip_route_lines_give_every_table_but_broadcasts_and_defaults() {
        let text = "default via 192.0.2.1 dev eth0 \n\
            172.17.0.0/16 dev docker0 proto kernel scope link src 172.17.0.1 linkdown \n\
            100.64.0.0/10 dev tailscale0 table 52 \n\
            local 100.101.102.103 dev tailscale0 table local proto kernel scope host src 100.101.102.103 \n\
            broadcast 127.255.255.255 dev lo table local proto kernel scope link src 127.0.0.1 \n\
            unreachable 100.80.9.0/24 table 7 \n\
            throw 100.80.10.0/24 table 52 \n";
        assert_eq!(
            parse_ip_route(text),
            vec![
                route("172.17.0.0/16", "docker0"),
                route("100.64.0.0/10", "tailscale0"),
                route("100.101.102.103/32", "tailscale0"),
                route("100.80.9.0/24", ""),
            ]
        );
    }

    #[test]
    fn proc_net_route_words_are_in_host_byte_order() {
        let text = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
            eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
            docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n\
            eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        if cfg!(target_endian = "little") {
            assert_eq!(
                parse_proc_net_route(text),
                vec![route("172.17.0.0/16", "docker0"), route("192.0.2.0/24", "eth0")]
            );
        }
    }
}
