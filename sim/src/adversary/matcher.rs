//! The entry–exit matcher (whitepaper "Threat Model", tier 3: colluding entry
//! and exit "correlate timing").
//!
//! For every exit flow, the adversary looks for the entry flow whose cell
//! times, shifted by one constant lag, line up with the exit's: candidate
//! lags come from entry cells up to `max_lag` before the exit's first cell;
//! the score of a lag is the share of the exit's cells that have an entry
//! cell within `tolerance` of their shifted time. The best-scoring entry flow
//! is the guess if its score reaches `min_score`. Cell counts enter through
//! the score: an entry flow with fewer cells cannot align with them all.
//! Concurrent circuits at the same entries are what confuses it.
//!
//! Only pooled observations are used; ground truth scores the guess later.

use std::collections::BTreeSet;

use super::pool::{FlowKey, Pool};

/// Matcher parameters.
#[derive(Clone, Copy, Debug)]
pub struct MatcherParams {
    /// Largest lag, ns.
    pub max_lag_ns: u64,
    /// Alignment tolerance, ns.
    pub tolerance_ns: u64,
    /// Least score for a guess.
    pub min_score: f64,
}

impl From<&crate::scenario::MatcherSpec> for MatcherParams {
    fn from(m: &crate::scenario::MatcherSpec) -> Self {
        MatcherParams {
            max_lag_ns: (m.max_lag_ms * 1e6) as u64,
            tolerance_ns: (m.tolerance_ms * 1e6) as u64,
            min_score: m.min_score.get(),
        }
    }
}

/// The adversary's guess for one exit flow.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Guess {
    /// The entry flow it matched.
    pub entry: FlowKey,
    /// Its score.
    pub score: f64,
}

/// Exit cells used for scoring.
pub const SCORED_CELLS: usize = 64;
/// Candidate lags tried per entry flow.
const LAGS_PER_FLOW: usize = 16;

/// Every entry cell by time, and the flows they belong to.
struct EntryIndex<'a> {
    keys: Vec<FlowKey>,
    cells: Vec<(u64, u32)>,
    pool: &'a Pool,
}

impl<'a> EntryIndex<'a> {
    fn new(pool: &'a Pool) -> Self {
        let keys: Vec<FlowKey> = pool.entries.keys().copied().collect();
        let mut cells: Vec<(u64, u32)> = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            for &t in &pool.entries[k].times {
                cells.push((t, i as u32));
            }
        }
        cells.sort_unstable();
        EntryIndex { keys, cells, pool }
    }

    /// Entry flows with a cell in `[x0 - max_lag, x0]`, in key order.
    fn candidates(&self, x0: u64, max_lag_ns: u64) -> BTreeSet<u32> {
        let lo = x0.saturating_sub(max_lag_ns);
        let from = self.cells.partition_point(|c| c.0 < lo);
        let to = self.cells.partition_point(|c| c.0 <= x0);
        self.cells[from..to].iter().map(|c| c.1).collect()
    }

    fn times(&self, fi: u32) -> &'a [u64] {
        &self.pool.entries[&self.keys[fi as usize]].times
    }
}

/// Matches every exit flow; exit flows with no guess are absent.
pub fn match_all(pool: &Pool, p: MatcherParams) -> Vec<(FlowKey, Guess)> {
    let index = EntryIndex::new(pool);
    let mut out = Vec::new();
    for (xk, x) in &pool.exits {
        let Some(&x0) = x.times.first() else {
            continue;
        };
        let xs = &x.times[..x.times.len().min(SCORED_CELLS)];
        let mut best: Option<(f64, u64, u32)> = None;
        for fi in index.candidates(x0, p.max_lag_ns) {
            if let Some((score, lag)) = best_lag(index.times(fi), xs, p)
                && best.is_none_or(|(s, l, _)| score > s || (score == s && lag < l))
            {
                best = Some((score, lag, fi));
            }
        }
        if let Some((score, _, fi)) = best
            && score >= p.min_score
        {
            out.push((
                *xk,
                Guess {
                    entry: index.keys[fi as usize],
                    score,
                },
            ));
        }
    }
    out
}

/// The best constant lag between an entry flow's cell times `e` and the
/// later flow `xs` (an exit's, or a middle relay's): lags from entry cells
/// up to `max_lag` before `xs[0]` (the first [`LAGS_PER_FLOW`]), scored by
/// the share of `xs` with an entry cell within `tolerance` of its shifted
/// time; the highest score, then the shortest lag.
pub fn best_lag(e: &[u64], xs: &[u64], p: MatcherParams) -> Option<(f64, u64)> {
    let &x0 = xs.first()?;
    let lo = x0.saturating_sub(p.max_lag_ns);
    let start = e.partition_point(|&t| t < lo);
    let end = e.partition_point(|&t| t <= x0);
    let mut best: Option<(f64, u64)> = None;
    for &ej in e[start..end].iter().take(LAGS_PER_FLOW) {
        let lag = x0 - ej;
        let aligned = xs
            .iter()
            .filter(|&&xi| has_within(e, xi.saturating_sub(lag), p.tolerance_ns))
            .count();
        let score = aligned as f64 / xs.len() as f64;
        if best.is_none_or(|(s, l)| score > s || (score == s && lag < l)) {
            best = Some((score, lag));
        }
    }
    best
}

/// The random-guess baseline: for every exit flow, a uniformly random
/// entry flow among those active in the lag window before it (the same
/// candidates the timing matcher weighs), scored 1/candidates. It uses the
/// pool and its own randomness, nothing else.
pub fn guess_randomly(
    pool: &Pool,
    p: MatcherParams,
    rng: &mut impl rand_core::Rng,
) -> Vec<(FlowKey, Guess)> {
    let index = EntryIndex::new(pool);
    let mut out = Vec::new();
    for (xk, x) in &pool.exits {
        let Some(&x0) = x.times.first() else {
            continue;
        };
        let cands: Vec<u32> = index.candidates(x0, p.max_lag_ns).into_iter().collect();
        if cands.is_empty() {
            continue;
        }
        let fi = cands[crate::rng::index(rng, cands.len())];
        out.push((
            *xk,
            Guess {
                entry: index.keys[fi as usize],
                score: 1.0 / cands.len() as f64,
            },
        ));
    }
    out
}

/// Whether sorted `times` has a value within `tol` of `t`.
fn has_within(times: &[u64], t: u64, tol: u64) -> bool {
    let i = times.partition_point(|&v| v < t.saturating_sub(tol));
    times.get(i).is_some_and(|&v| v <= t + tol)
}

#[cfg(test)]
mod tests {
    use super::super::pool::{EntryFlow, ExitFlow};
    use super::*;
    use std::net::SocketAddr;

    fn addr(i: u8) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, i], 1))
    }

    const MS: u64 = 1_000_000;

    #[test]
    fn the_flow_with_the_same_rhythm_wins() {
        let mut pool = Pool::default();
        let rhythm = [0u64, 5, 7, 30, 31, 80];
        // Two concurrent entry flows with different rhythms.
        pool.entries.insert(
            (1, 1),
            EntryFlow {
                client: Some(addr(1)),
                times: rhythm.iter().map(|t| (1000 + t) * MS).collect(),
            },
        );
        pool.entries.insert(
            (2, 1),
            EntryFlow {
                client: Some(addr(2)),
                times: [0u64, 20, 40, 60, 80, 100]
                    .iter()
                    .map(|t| (1001 + t) * MS)
                    .collect(),
            },
        );
        // The exit sees flow 1's rhythm 150 ms later, minus the first cell
        // (consumed by the middle hop), with a little jitter.
        pool.exits.insert(
            (9, 4),
            ExitFlow {
                times: rhythm[1..]
                    .iter()
                    .enumerate()
                    .map(|(i, t)| (1150 + t) * MS + (i as u64 % 2) * MS)
                    .collect(),
            },
        );
        let p = MatcherParams {
            max_lag_ns: 2_000 * MS,
            tolerance_ns: 3 * MS,
            min_score: 0.8,
        };
        let g = match_all(&pool, p);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].1.entry, (1, 1));
        assert_eq!(g[0].1.score, 1.0);
        // Too strict a threshold: no guess rather than a wrong one.
        let none = match_all(
            &pool,
            MatcherParams {
                tolerance_ns: 0,
                min_score: 1.0,
                ..p
            },
        );
        assert!(none.is_empty());
    }
}
