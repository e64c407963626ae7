//! Passive observers (whitepaper "Threat Model", tier 4: "wide passive
//! observer", "timing/volume correlation").
//!
//! An observer watches autonomous systems: it sees every packet leaving or
//! entering a host in an observed AS, and of each packet only what a link
//! shows: the time, the size and the two endpoint addresses ([`Sighting`]).
//! With public knowledge (the advertised relays and services, and the
//! fixed onion cell size) it keeps the onion cells of two kinds of flow:
//! client side (a non-advertised address and a relay: a client's link to its
//! entry) and service side (a relay and a Ghost or GPU node: the last leg).
//! A flow is the packets between two endpoints with no gap longer than
//! `idle_gap`; it is kept as a windowed summary: packet counts per bin of
//! absolute time, per direction, stored sparsely ([`FlowSummary`]).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

use crate::engine::Host;
use crate::population::{Kind, addrs_of};
use crate::rng::{self, Purpose, Streams, entity};
use crate::scenario::{ObserverSpec, VantageSpec};
use crate::topology::Topology;

/// One packet as an observer on its path sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sighting {
    /// When it passed the vantage point, ns.
    pub at_ns: u64,
    /// Its size on the wire, bytes.
    pub size: u32,
    /// Sender address.
    pub src: SocketAddr,
    /// Receiver address.
    pub dst: SocketAddr,
}

/// Which leg of a circuit a flow is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// Between a client (non-advertised address) and a relay.
    Client,
    /// Between a relay and a service.
    Service,
}

/// Direction index in a summary: toward the service (0) or toward the
/// client (1).
pub const UP: usize = 0;
/// See [`UP`].
pub const DOWN: usize = 1;

/// A flow's windowed summary.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowSummary {
    /// Which leg.
    pub side: Side,
    /// The endpoint toward the client: the client for a client-side flow,
    /// the relay for a service-side one.
    pub near: SocketAddr,
    /// The other endpoint: the entry relay, or the service.
    pub far: SocketAddr,
    /// First packet, ns.
    pub start_ns: u64,
    /// Last packet, ns.
    pub end_ns: u64,
    /// Packets per direction ([`UP`], [`DOWN`]).
    pub packets: [u32; 2],
    /// Per direction, (absolute bin, packets) for every non-empty bin, in
    /// bin order; bin `b` covers `[b · bin_ns, (b + 1) · bin_ns)`.
    pub bins: [Vec<(u32, u16)>; 2],
}

impl FlowSummary {
    fn new(side: Side, near: SocketAddr, far: SocketAddr, at_ns: u64) -> Self {
        FlowSummary {
            side,
            near,
            far,
            start_ns: at_ns,
            end_ns: at_ns,
            packets: [0; 2],
            bins: [Vec::new(), Vec::new()],
        }
    }

    fn add(&mut self, dir: usize, bin: u32, at_ns: u64) {
        self.end_ns = at_ns;
        self.packets[dir] += 1;
        let series = &mut self.bins[dir];
        match series.last_mut() {
            Some((b, n)) if *b == bin => *n = n.saturating_add(1),
            _ => series.push((bin, 1)),
        }
    }

    /// Packets in direction `dir` in the bins that overlap `[from_ns, to_ns]`
    /// for bins `bin_ns` wide: what the flow carried while one session was
    /// open (another session on the same two endpoints adds to it).
    pub fn packets_between(&self, dir: usize, from_ns: u64, to_ns: u64, bin_ns: u64) -> u32 {
        let (lo, hi) = (from_ns / bin_ns, to_ns / bin_ns);
        self.bins[dir]
            .iter()
            .filter(|&&(b, _)| (lo..=hi).contains(&u64::from(b)))
            .map(|&(_, n)| u32::from(n))
            .sum()
    }

    /// Packets in direction `dir`, per bin, over `[from, from + len)`.
    pub fn dense(&self, dir: usize, from: i64, len: usize) -> Vec<f64> {
        let mut out = vec![0.0; len];
        let series = &self.bins[dir];
        let lo = from.max(0) as u64;
        let i = series.partition_point(|&(b, _)| u64::from(b) < lo);
        for &(b, n) in &series[i..] {
            let k = i64::from(b) - from;
            if k >= len as i64 {
                break;
            }
            out[k as usize] = f64::from(n);
        }
        out
    }
}

/// What the observer knows without watching: the advertised relays and
/// services, and the size of an onion cell on the wire.
#[derive(Clone, Debug, Default)]
pub struct PublicKnowledge {
    /// Advertised relays.
    pub relays: HashSet<SocketAddr>,
    /// Advertised Ghosts and GPU nodes.
    pub services: HashSet<SocketAddr>,
    /// Every advertised address (relays, services, mints).
    pub infrastructure: HashSet<SocketAddr>,
    /// Bytes of one onion cell datagram.
    pub cell_size: u32,
}

impl PublicKnowledge {
    /// Knowledge of these advertised relays, services and other
    /// infrastructure (mints), with onion datagrams of `cell_size` bytes.
    pub fn new(
        relays: HashSet<SocketAddr>,
        services: HashSet<SocketAddr>,
        others: impl IntoIterator<Item = SocketAddr>,
        cell_size: u32,
    ) -> Self {
        let mut infrastructure: HashSet<SocketAddr> = relays.union(&services).copied().collect();
        infrastructure.extend(others);
        PublicKnowledge {
            relays,
            services,
            infrastructure,
            cell_size,
        }
    }
}

/// Summary parameters.
#[derive(Clone, Copy, Debug)]
pub struct SummaryParams {
    /// Bin width, ns.
    pub bin_ns: u64,
    /// A flow ends after this long without packets, ns.
    pub idle_gap_ns: u64,
}

/// The observers' pooled view.
#[derive(Debug)]
pub struct Observer {
    /// `None`: every AS (a global observer).
    ases: Option<HashSet<u32>>,
    knowledge: PublicKnowledge,
    params: SummaryParams,
    open: HashMap<(SocketAddr, SocketAddr), FlowSummary>,
    done: Vec<FlowSummary>,
    /// Packets seen (any kind).
    pub sightings: u64,
}

impl Observer {
    /// An observer of `ases` (`None`: all).
    pub fn new(
        ases: Option<HashSet<u32>>,
        knowledge: PublicKnowledge,
        params: SummaryParams,
    ) -> Self {
        assert!(params.bin_ns > 0, "bins must have a width");
        Observer {
            ases,
            knowledge,
            params,
            open: HashMap::new(),
            done: Vec::new(),
            sightings: 0,
        }
    }

    /// The watched ASes (`None`: all).
    pub fn watched(&self) -> Option<&HashSet<u32>> {
        self.ases.as_ref()
    }

    /// Whether a host in `asn` is watched.
    pub fn watches(&self, asn: u32) -> bool {
        self.ases.as_ref().is_none_or(|s| s.contains(&asn))
    }

    /// Adds one packet. Sightings must come in time order (the engine's).
    pub fn see(&mut self, s: Sighting) {
        self.sightings += 1;
        let k = &self.knowledge;
        if s.size != k.cell_size {
            return;
        }
        let (side, near, far, dir) = if k.relays.contains(&s.src) && k.services.contains(&s.dst) {
            (Side::Service, s.src, s.dst, UP)
        } else if k.services.contains(&s.src) && k.relays.contains(&s.dst) {
            (Side::Service, s.dst, s.src, DOWN)
        } else if !k.infrastructure.contains(&s.src) && k.relays.contains(&s.dst) {
            (Side::Client, s.src, s.dst, UP)
        } else if k.relays.contains(&s.src) && !k.infrastructure.contains(&s.dst) {
            (Side::Client, s.dst, s.src, DOWN)
        } else {
            return;
        };
        let bin = u32::try_from(s.at_ns / self.params.bin_ns).unwrap_or(u32::MAX);
        let gap = self.params.idle_gap_ns;
        let flow = self
            .open
            .entry((near, far))
            .or_insert_with(|| FlowSummary::new(side, near, far, s.at_ns));
        if s.at_ns.saturating_sub(flow.end_ns) > gap {
            let ended = std::mem::replace(flow, FlowSummary::new(side, near, far, s.at_ns));
            self.done.push(ended);
        }
        flow.add(dir, bin, s.at_ns);
    }

    /// Every flow, in a deterministic order (start, then endpoints).
    pub fn finish(mut self) -> Vec<FlowSummary> {
        self.done.extend(self.open.into_values());
        self.done.sort_by_key(|f| (f.start_ns, f.near, f.far));

        self.done
    }
}

/// The passive observer of `spec`: which ASes it watches, and the public
/// knowledge it starts from (advertised relays and services, cell size).
pub fn observer_for(
    spec: &ObserverSpec,
    topo: &Topology,
    hosts: &[Host],
    streams: &Streams,
    infrastructure: &HashSet<SocketAddr>,
) -> Observer {
    let ases = match &spec.vantage {
        VantageSpec::Global => None,
        VantageSpec::AsFraction { share } => {
            let all: Vec<u32> = topo.ases.iter().map(|a| a.asn).collect();
            let mut r = streams.stream(entity::WORLD, Purpose::Observers);
            let n = (share.get() * all.len() as f64).round() as usize;
            Some(
                rng::choose(&mut r, all.len(), n)
                    .into_iter()
                    .map(|i| all[i])
                    .collect(),
            )
        }
        VantageSpec::Ases { asns } => Some(asns.iter().copied().collect()),
        VantageSpec::Endpoints { clients, services } => {
            let of = |k: &dyn Fn(Kind) -> bool, n: u32| {
                hosts
                    .iter()
                    .filter(|h| k(h.slot.kind))
                    .take(n as usize)
                    .map(|h| h.asn)
                    .collect::<Vec<_>>()
            };
            let mut set: HashSet<u32> = of(&|k| k == Kind::Client, *clients).into_iter().collect();
            set.extend(of(&|k| k.is_service(), *services));
            Some(set)
        }
    };
    Observer::new(
        ases,
        PublicKnowledge::new(
            addrs_of(hosts, |k| k == Kind::Relay),
            addrs_of(hosts, Kind::is_service),
            infrastructure.iter().copied(),
            (peer2prompt::onion::cell::CELL_LEN + 1) as u32,
        ),
        SummaryParams {
            bin_ns: (spec.bin_ms * 1e6) as u64,
            idle_gap_ns: (spec.idle_gap_ms * 1e6) as u64,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(i: u8) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, i], 1))
    }

    fn observer() -> Observer {
        Observer::new(
            None,
            PublicKnowledge::new([addr(1), addr(2)].into(), [addr(9)].into(), [], 100),
            SummaryParams {
                bin_ns: 10,
                idle_gap_ns: 50,
            },
        )
    }

    fn see(o: &mut Observer, at_ns: u64, size: u32, src: u8, dst: u8) {
        o.see(Sighting {
            at_ns,
            size,
            src: addr(src),
            dst: addr(dst),
        });
    }

    #[test]
    fn flows_are_classified_binned_and_split_at_idle_gaps() {
        let mut o = observer();
        see(&mut o, 0, 100, 5, 1); // client 5 -> entry 1: up
        see(&mut o, 3, 100, 5, 1);
        see(&mut o, 12, 100, 1, 5); // down
        see(&mut o, 13, 60, 1, 5); // not a cell: ignored
        see(&mut o, 14, 100, 1, 2); // relay to relay: ignored
        see(&mut o, 20, 100, 2, 9); // service side, up
        see(&mut o, 200, 100, 5, 1); // after the idle gap: a new flow
        let flows = o.finish();
        assert_eq!(flows.len(), 3);
        let c = &flows[0];
        assert_eq!((c.side, c.near, c.far), (Side::Client, addr(5), addr(1)));
        assert_eq!(c.packets, [2, 1]);
        assert_eq!(c.bins[UP], vec![(0, 2)]);
        assert_eq!(c.bins[DOWN], vec![(1, 1)]);
        assert_eq!(c.dense(UP, -1, 3), vec![0.0, 2.0, 0.0]);
        assert_eq!(c.packets_between(UP, 0, 9, 10), 2);
        assert_eq!(c.packets_between(DOWN, 0, 9, 10), 0);
        assert_eq!(c.packets_between(DOWN, 10, 19, 10), 1);
        assert_eq!(
            (flows[1].side, flows[1].near, flows[1].far),
            (Side::Service, addr(2), addr(9))
        );
        assert_eq!((flows[2].start_ns, flows[2].packets), (200, [1, 0]));
    }

    #[test]
    fn a_partial_observer_watches_only_its_ases() {
        let o = Observer::new(
            Some([7].into()),
            PublicKnowledge::default(),
            SummaryParams {
                bin_ns: 1,
                idle_gap_ns: 1,
            },
        );
        assert!(o.watches(7));
        assert!(!o.watches(8));
        assert!(observer().watches(8));
    }
}
