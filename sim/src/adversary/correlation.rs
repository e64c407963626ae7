//! The passive observers' timing-correlation attacker (whitepaper "Threat
//! Model", tier 4).
//!
//! Method: for each service-side flow `g` (a relay → service leg), the
//! attacker takes the window of `bins` bins from `g`'s first packet and
//! compares it with every client-side flow that was active in that window
//! (give or take `max_lag`): per direction, the Pearson correlation of the
//! two packet-count series, maximised over a one-sided shift of 0 to
//! `max_lag` bins (cells reach the service after leaving the client; replies
//! reach the client after leaving the service). The pair's score is the two
//! directions' best correlations weighted by `g`'s packets in each.
//!
//! Why this: an observer of links has packet counts and times, nothing
//! inside them; onion cells are all one size, so volume over time is the
//! signal. Windowed counts are what a NetFlow-style observer keeps, are
//! robust to the reordering and jitter of per-hop delays at the scale of a
//! bin, and a sliding cross-correlation finds the unknown path latency
//! without the attacker knowing the route. A likelihood test would need the
//! delay distribution of each path, which the observer does not know.
//!
//! Cost: candidate client flows are found through a bucket index over time
//! (bucket = one window), so each service flow is compared only with flows
//! active near it, never with all `F` client flows. Work is
//! `O(G · c · bins · lags)` for `c` concurrent client flows, linear in the
//! run's length at a fixed load (bench `sim/correlation`).

use std::collections::HashMap;

use super::observer::{DOWN, FlowSummary, Side, UP};

/// Attacker parameters.
#[derive(Clone, Copy, Debug)]
pub struct CorrelationParams {
    /// Bin width, ns (as summarised).
    pub bin_ns: u64,
    /// Bins compared per service flow.
    pub bins: usize,
    /// Largest shift, bins.
    pub max_lag_bins: usize,
}

/// The score of one compared (client flow, service flow) pair; indices into
/// the flow list given to [`correlate`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PairScore {
    /// Client-side flow.
    pub client: u32,
    /// Service-side flow.
    pub service: u32,
    /// Weighted best correlation, in [-1, 1].
    pub score: f64,
}

/// Scores every candidate pair among `flows`. Pairs not returned were
/// pruned: they were never active within `max_lag` of each other.
pub fn correlate(flows: &[FlowSummary], p: CorrelationParams) -> Vec<PairScore> {
    assert!(p.bins > 1 && p.bin_ns > 0, "a window needs bins");
    let window_ns = p.bin_ns * p.bins as u64;
    let lag_ns = p.bin_ns * p.max_lag_bins as u64;
    // Bucket index of client-side flows over time.
    let mut buckets: HashMap<u64, Vec<u32>> = HashMap::new();
    for (i, f) in flows.iter().enumerate() {
        if f.side == Side::Client {
            for b in f.start_ns / window_ns..=f.end_ns / window_ns {
                buckets.entry(b).or_default().push(i as u32);
            }
        }
    }
    let mut out = Vec::new();
    let mut candidates = Vec::new();
    for (gi, g) in flows.iter().enumerate() {
        if g.side != Side::Service {
            continue;
        }
        let lo = g.start_ns.saturating_sub(lag_ns);
        let hi = g.start_ns + window_ns + lag_ns;
        candidates.clear();
        for b in lo / window_ns..=hi / window_ns {
            if let Some(v) = buckets.get(&b) {
                candidates.extend_from_slice(v);
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        let g0 = (g.start_ns / p.bin_ns) as i64;
        let up = g.dense(UP, g0, p.bins);
        let down = g.dense(DOWN, g0, p.bins);
        let (w_up, w_down) = (up.iter().sum::<f64>(), down.iter().sum::<f64>());
        if w_up + w_down == 0.0 {
            continue;
        }
        for &ci in &candidates {
            let c = &flows[ci as usize];
            if c.start_ns > hi || c.end_ns < lo {
                continue;
            }
            let lags = p.max_lag_bins;
            // Up: the client sent k bins before the service received.
            let c_up = c.dense(UP, g0 - lags as i64, p.bins + lags);
            let r_up = (0..=lags)
                .map(|k| pearson(&up, &c_up[lags - k..lags - k + p.bins]))
                .fold(f64::NEG_INFINITY, f64::max);
            // Down: the client received k bins after the service sent.
            let c_down = c.dense(DOWN, g0, p.bins + lags);
            let r_down = (0..=lags)
                .map(|k| pearson(&down, &c_down[k..k + p.bins]))
                .fold(f64::NEG_INFINITY, f64::max);
            let score = (w_up * r_up + w_down * r_down) / (w_up + w_down);
            out.push(PairScore {
                client: ci,
                service: gi as u32,
                score,
            });
        }
    }
    out
}

/// For each service flow, its best-scoring client flow (ties: the earlier
/// flow), as (service flow, pair).
pub fn best_per_service(scores: &[PairScore]) -> HashMap<u32, PairScore> {
    let mut best: HashMap<u32, PairScore> = HashMap::new();
    for s in scores {
        let e = best.entry(s.service).or_insert(*s);
        if s.score > e.score || (s.score == e.score && s.client < e.client) {
            *e = *s;
        }
    }
    best
}

/// Pearson correlation; 0 when either series is constant.
fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        let (dx, dy) = (x - ma, y - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    if saa == 0.0 || sbb == 0.0 {
        0.0
    } else {
        sab / (saa * sbb).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::super::observer::{Observer, PublicKnowledge, Sighting, SummaryParams};
    use super::*;
    use std::net::SocketAddr;

    const MS: u64 = 1_000_000;

    fn addr(i: u8) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, i], 1))
    }

    /// Relays 1–4, services 9; clients are 20+.
    fn observer() -> Observer {
        Observer::new(
            None,
            PublicKnowledge::new((1..=4).map(addr).collect(), [addr(9)].into(), [], 1),
            SummaryParams {
                bin_ns: 50 * MS,
                idle_gap_ns: 5_000 * MS,
            },
        )
    }

    fn params() -> CorrelationParams {
        CorrelationParams {
            bin_ns: 50 * MS,
            bins: 64,
            max_lag_bins: 20,
        }
    }

    /// A burst pattern: packets at these ms offsets.
    fn pattern(seed: u64) -> Vec<u64> {
        let mut x = seed;
        let mut t = 0;
        (0..60)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                t += 10 + (x >> 33) % 120;
                t
            })
            .collect()
    }

    fn emit(events: &mut Vec<Sighting>, at_ms: u64, src: u8, dst: u8) {
        events.push(Sighting {
            at_ns: at_ms * MS,
            size: 1,
            src: addr(src),
            dst: addr(dst),
        });
    }

    #[test]
    fn the_true_pair_scores_highest_and_distant_flows_are_pruned() {
        let mut o = observer();
        let mut ev = Vec::new();
        // Client 20 (entry 1) talks to the service via relay 3, 300 ms
        // later; client 21 (entry 2) is active at the same time with its own
        // rhythm; client 22 is active an hour later.
        for t in pattern(1) {
            emit(&mut ev, 10_000 + t, 1, 20); // down at client
            emit(&mut ev, 10_000 + t - 300, 9, 3); // down at service
        }
        for t in pattern(2) {
            emit(&mut ev, 10_000 + t, 2, 21);
        }
        for t in pattern(1) {
            emit(&mut ev, 3_610_000 + t, 4, 22);
        }
        ev.sort_by_key(|s| s.at_ns);
        for s in ev {
            o.see(s);
        }
        let flows = o.finish();
        let scores = correlate(&flows, params());
        let who = |i: u32| flows[i as usize].near;
        // Only the two concurrent client flows were compared.
        assert_eq!(scores.len(), 2);
        let best = best_per_service(&scores);
        assert_eq!(best.len(), 1);
        let b = best.values().next().unwrap();
        assert_eq!(who(b.client), addr(20));
        assert!(b.score > 0.9, "{b:?}");
        let other = scores.iter().find(|s| who(s.client) == addr(21)).unwrap();
        assert!(other.score < 0.5, "{other:?}");
    }

    #[test]
    fn pearson_is_one_for_scaled_copies_and_zero_for_constants() {
        let a = [1.0, 3.0, 0.0, 2.0];
        let b: Vec<f64> = a.iter().map(|x| 2.0 * x + 1.0).collect();
        assert!((pearson(&a, &b) - 1.0).abs() < 1e-12);
        assert_eq!(pearson(&a, &[1.0; 4]), 0.0);
    }
}
