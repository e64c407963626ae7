//! The simulated Internet's shape: world regions joined by backbone links
//! (a petgraph graph whose shortest paths give the inter-region RTT matrix),
//! autonomous systems attached to regions, and IPv4 /16 prefixes owned by
//! ASes. Nodes are placed by [`Topology::place`].
//!
//! Backbone RTTs are rounded medians of public inter-continental ping
//! statistics (e.g. WonderNetwork city-pair pings, 2024): they set the scale
//! of latency, not any particular path.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use peer2prompt::node::NetworkInfo;
use petgraph::algo::floyd_warshall;
use petgraph::graph::UnGraph;

use crate::rng::{self, Purpose, Streams, entity};

/// World regions, in index order.
pub const REGIONS: [&str; 6] = [
    "north_america",
    "europe",
    "asia",
    "south_america",
    "oceania",
    "africa",
];

/// RTT inside each region, ms.
const INTRA_RTT_MS: [f64; 6] = [45.0, 30.0, 70.0, 60.0, 40.0, 80.0];

/// Backbone links between regions: (a, b, RTT ms).
const BACKBONE: [(usize, usize, f64); 11] = [
    (0, 1, 90.0),
    (0, 2, 160.0),
    (0, 3, 130.0),
    (0, 4, 160.0),
    (1, 2, 200.0),
    (1, 3, 200.0),
    (1, 5, 150.0),
    (2, 4, 120.0),
    (2, 5, 250.0),
    (1, 4, 280.0),
    (3, 5, 330.0),
];

/// An autonomous system.
#[derive(Clone, Debug)]
pub struct AutonomousSystem {
    /// Its number.
    pub asn: u32,
    /// Its region.
    pub region: usize,
    /// The /16 prefixes it owns, as (first, second) octets.
    pub prefixes: Vec<(u8, u8)>,
    /// Its popularity weight inside the region.
    pub weight: f64,
}

/// The world: regions, RTTs and ASes.
#[derive(Clone, Debug)]
pub struct Topology {
    /// Round-trip time between regions, ms (shortest backbone path).
    pub rtt_ms: Vec<Vec<f64>>,
    /// Share of nodes per region (normalised).
    pub region_weights: Vec<f64>,
    /// Every AS.
    pub ases: Vec<AutonomousSystem>,
    by_region: Vec<Vec<usize>>,
    prefix_asn: HashMap<(u8, u8), u32>,
    next_host: HashMap<(u8, u8), u16>,
}

/// Prefixes each AS owns.
const PREFIXES_PER_AS: usize = 4;

impl Topology {
    /// Builds the world from region weights (by name), ASes per region and
    /// the Zipf exponent of AS popularity.
    pub fn new(
        streams: &Streams,
        region_weights: &std::collections::BTreeMap<String, f64>,
        ases_per_region: u32,
        zipf: f64,
    ) -> Self {
        let mut g = UnGraph::<usize, f64>::new_undirected();
        let nodes: Vec<_> = (0..REGIONS.len()).map(|r| g.add_node(r)).collect();
        for (a, b, rtt) in BACKBONE {
            g.add_edge(nodes[a], nodes[b], rtt);
        }
        let paths = floyd_warshall(&g, |e| *e.weight()).unwrap_or_default();
        let n = REGIONS.len();
        let mut rtt_ms = vec![vec![0.0; n]; n];
        for (a, row) in rtt_ms.iter_mut().enumerate() {
            for (b, cell) in row.iter_mut().enumerate() {
                *cell = if a == b {
                    INTRA_RTT_MS[a]
                } else {
                    paths.get(&(nodes[a], nodes[b])).copied().unwrap_or(400.0)
                };
            }
        }
        let weights: Vec<f64> = REGIONS
            .iter()
            .map(|r| region_weights.get(*r).copied().unwrap_or(0.0))
            .collect();
        let total: f64 = weights.iter().sum();
        let region_weights = weights.iter().map(|w| w / total).collect();
        // Prefixes are dealt out of a shuffled list of /16s in 11.0.0.0–223.255.0.0.
        let mut rng = streams.stream(entity::WORLD, Purpose::Topology);
        let total_as = ases_per_region as usize * n;
        let mut pool: Vec<(u8, u8)> = Vec::with_capacity(total_as * PREFIXES_PER_AS);
        let picks = rng::choose(&mut rng, 213 * 256, total_as * PREFIXES_PER_AS);
        for p in picks {
            pool.push(((11 + p / 256) as u8, (p % 256) as u8));
        }
        // A fixed shuffle so AS order does not follow prefix order.
        for i in (1..pool.len()).rev() {
            let j = rng::index(&mut rng, i + 1);
            pool.swap(i, j);
        }
        let mut ases = Vec::with_capacity(total_as);
        let mut by_region = vec![Vec::new(); n];
        let mut prefix_asn = HashMap::new();
        for (r, region_ases) in by_region.iter_mut().enumerate() {
            for i in 0..ases_per_region as usize {
                let idx = ases.len();
                let asn = 64_512 + (r as u32) * 1_000 + i as u32;
                let prefixes: Vec<(u8, u8)> =
                    pool[idx * PREFIXES_PER_AS..(idx + 1) * PREFIXES_PER_AS].to_vec();
                for p in &prefixes {
                    prefix_asn.insert(*p, asn);
                }
                region_ases.push(idx);
                ases.push(AutonomousSystem {
                    asn,
                    region: r,
                    prefixes,
                    weight: 1.0 / ((i + 1) as f64).powf(zipf),
                });
            }
        }
        Topology {
            rtt_ms,
            region_weights,
            ases,
            by_region,
            prefix_asn,
            next_host: HashMap::new(),
        }
    }

    /// Places one node: a region by weight, an AS by popularity, one of its
    /// prefixes, and the next free host address in it. Draws only from `rng`.
    pub fn place(&mut self, rng: &mut impl rand_core::Rng) -> (usize, u32, SocketAddr) {
        let region = pick_weighted(rng, &self.region_weights);
        let in_region = &self.by_region[region];
        let w: Vec<f64> = in_region.iter().map(|&a| self.ases[a].weight).collect();
        let a = &self.ases[in_region[pick_weighted(rng, &w)]];
        let prefix = a.prefixes[rng::index(rng, a.prefixes.len())];
        let host = self.next_host.entry(prefix).or_insert(0);
        *host = host.wrapping_add(1);
        assert!(*host != 0, "a /16 ran out of addresses");
        let [x, y] = host.to_be_bytes();
        let addr = SocketAddr::from(([prefix.0, prefix.1, x, y], 9000));
        (region, a.asn, addr)
    }

    /// The ASN table the protocol's route selection uses.
    pub fn asn_table(&self) -> AsnTable {
        AsnTable {
            prefix_asn: self.prefix_asn.clone(),
        }
    }
}

/// Maps addresses to their AS (the simulator's [`NetworkInfo`]).
#[derive(Clone, Debug)]
pub struct AsnTable {
    prefix_asn: HashMap<(u8, u8), u32>,
}

impl NetworkInfo for AsnTable {
    fn asn(&self, addr: SocketAddr) -> u32 {
        match addr.ip() {
            IpAddr::V4(v4) => {
                let o = v4.octets();
                self.prefix_asn.get(&(o[0], o[1])).copied().unwrap_or(0)
            }
            IpAddr::V6(_) => 0,
        }
    }
}

/// An index drawn with probability proportional to `w` (all finite, some > 0).
pub fn pick_weighted(rng: &mut impl rand_core::Rng, w: &[f64]) -> usize {
    let total: f64 = w.iter().sum();
    let mut x = rng::unit(rng) * total;
    for (i, wi) in w.iter().enumerate() {
        if x < *wi {
            return i;
        }
        x -= wi;
    }
    w.iter().rposition(|v| *v > 0.0).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world() -> Topology {
        let weights = REGIONS.iter().map(|r| (r.to_string(), 1.0)).collect();
        Topology::new(&Streams::new(1), &weights, 5, 1.0)
    }

    #[test]
    fn rtt_matrix_is_symmetric_and_obeys_the_triangle_inequality() {
        let t = world();
        let n = REGIONS.len();
        for a in 0..n {
            for b in 0..n {
                assert_eq!(t.rtt_ms[a][b], t.rtt_ms[b][a]);
                if a != b {
                    for c in 0..n {
                        if c != a && c != b {
                            assert!(t.rtt_ms[a][b] <= t.rtt_ms[a][c] + t.rtt_ms[c][b] + 1e-9);
                        }
                    }
                }
            }
        }
        // South America to Oceania has no direct link: routed via North America.
        assert_eq!(t.rtt_ms[3][4], 130.0 + 160.0);
    }

    #[test]
    fn placement_gives_distinct_addresses_and_known_asns() {
        let mut t = world();
        let table = t.asn_table();
        let mut r = Streams::new(2).stream(0, Purpose::Placement);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2000 {
            let (region, asn, addr) = t.place(&mut r);
            assert!(seen.insert(addr));
            assert_eq!(table.asn(addr), asn);
            assert_eq!(t.ases.iter().find(|a| a.asn == asn).unwrap().region, region);
        }
    }
}
