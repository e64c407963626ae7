//! How much memory a network run will need, estimated before it starts
//! from the measured per-node model, so that a run that cannot fit is
//! refused instead of taking the machine down.
//!
//! The model is a least-squares fit of peak RSS per node against the node
//! count N, measured on bench_10k's proportions (one replicate, one
//! thread, 300 s warm-up plus 600 s): 290 KB at 1,000 nodes, 283 KB at
//! 2,000, 357 KB at 4,000 and 498 KB at 10,000 (issue 21's table). Per
//! node it is `PER_NODE_BYTES + PER_NODE_PER_NODE_BYTES × N`: the second
//! term is the state every node keeps about every other (its directory
//! copies of adverts), which makes the whole O(N²).
//!
//! Scenarios that bound directory refreshes (`protocol.directory_lookups`)
//! use a second fit, on the scaling study's scenarios (`scenarios/scale/`:
//! the same proportions, 300 s warm-up plus 600 s, 8 lookups at once),
//! measured after adverts became shared copies and lookups, queries in
//! flight, roles and drained queues were made compact (issue 21; one
//! thread, `elide_crypto`, which peaks like `full`): 137.6 MB at 1,000
//! nodes, 238.2 MB at 2,000, 496.9 MB at 4,000 and 1,336.3 MB at 10,000.
//! Less a 50 MB process (what a 27-node run peaks at), the fit is per node
//! `BOUNDED_PER_NODE_BYTES + BOUNDED_PER_DOUBLING_BYTES × log2(N / 1000)`
//! (routing tables, lookup depth), plus the directories at the height of
//! the warm-up's refreshes: every reader (Ghost, GPU, mint, client) holds
//! and indexes every Ghost, GPU and mint advert and its relay sample at
//! once, `DIRECTORY_ENTRY_BYTES` each, which grows as readers × adverts,
//! O(N²) ([`directory_entries`]). Least squares with that term fixed is
//! within 4.2% of each measurement. The term is a twentieth of the peak
//! at 10,000 nodes but most of it at 100,000 when every reader reads every
//! exit: such runs passed 19.4 GB (and 20.3 GB with the index a tenth of
//! its first size) while their refreshes still grew, where a fit on the
//! per-node terms alone said 17.1 GB. Readers that sample the exits
//! (`protocol.exit_shards_read`, as `scale_100k` does) hold as many as a
//! 10,000-node reader. Beyond 10,000 nodes it is an extrapolation.

use super::{Loaded, Scenario};

/// The fit's constant term per node, bytes (252.8 KB).
pub const PER_NODE_BYTES: f64 = 252.8e3;
/// The fit's slope per node, bytes per node of the network (24.5 B).
pub const PER_NODE_PER_NODE_BYTES: f64 = 24.51;
/// What the process needs before any node (binary, allocator, buffers).
pub const PROCESS_BYTES: f64 = 64e6;
/// Bounded refreshes: the fit's bytes per node at 1,000 nodes (74.3 KB).
pub const BOUNDED_PER_NODE_BYTES: f64 = 74.25e3;
/// Bounded refreshes: bytes per node added by each doubling of N (7.0 KB).
pub const BOUNDED_PER_DOUBLING_BYTES: f64 = 7.04e3;
/// Bytes a refreshing reader's directory spends per advert it holds: the
/// shared copy's pointer in a vector grown by doubling, and the index
/// slot (49 B in a table of a power of two at most 7/8 full) of the
/// measured runs. The index is now a table of bare 4 B positions, about
/// 5 B a slot (`node/directory.rs`), so this errs high until the peaks are
/// measured again.
pub const DIRECTORY_ENTRY_BYTES: f64 = 86.0;
/// Bounded refreshes: the process before any node (a 27-node run's peak).
pub const BOUNDED_PROCESS_BYTES: f64 = 50e6;

/// A run's estimated peak memory.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryEstimate {
    /// Nodes of the largest point.
    pub nodes: u64,
    /// Peak bytes of one replicate of the largest point.
    pub per_replicate: f64,
    /// Replicates that run at once.
    pub parallel: u64,
    /// Peak bytes of the whole run.
    pub total: f64,
    /// The fields that drive it, with the largest point's values.
    pub drivers: Vec<(String, u64)>,
}

/// Nodes of scenario `s`: every role of the population, and the
/// adversary's DHT Sybils.
pub fn nodes(s: &Scenario) -> u64 {
    let p = &s.population;
    let sybils = u64::from(crate::adversary::dht_attack::sybil_count(s));
    [p.relays, p.ghosts, p.gpus, p.mints, p.clients]
        .iter()
        .map(|&n| u64::from(n))
        .sum::<u64>()
        + sybils
}

/// Peak bytes of one replicate of a network of `n` nodes.
pub fn replicate_bytes(n: u64) -> f64 {
    let n = n as f64;
    n * (PER_NODE_BYTES + PER_NODE_PER_NODE_BYTES * n)
}

/// Directory readers of `s` and the adverts each holds after a refresh:
/// its relay shards' share of the relays, its exit shards' share of the
/// Ghosts and GPU nodes, and every mint.
pub fn directory_entries(s: &Scenario) -> (f64, f64) {
    let p = &s.population;
    let readers = [p.ghosts, p.gpus, p.mints, p.clients]
        .iter()
        .map(|&n| f64::from(n))
        .sum::<f64>();
    let relays = f64::from(p.relays) * share_read(s.protocol.relay_shards_read, s.protocol.shards);
    let exits = (f64::from(p.ghosts) + f64::from(p.gpus))
        * share_read(s.protocol.exit_shards_read, s.protocol.service_shards);
    (readers, relays + exits + f64::from(p.mints))
}

/// The share of `shards` a reader reads, `read` of them (all if unset),
/// bounded as the directory's shard samples are.
fn share_read(read: Option<u16>, shards: u16) -> f64 {
    let shards = shards.max(1);
    f64::from(read.unwrap_or(shards).clamp(1, shards)) / f64::from(shards)
}

/// Peak bytes of one replicate of `s`, whose directory refreshes are
/// bounded (`protocol.directory_lookups`).
pub fn bounded_replicate_bytes(s: &Scenario) -> f64 {
    let n = nodes(s);
    let doublings = (n.max(1) as f64 / 1_000.0).log2().max(0.0);
    let (readers, entries) = directory_entries(s);
    n as f64 * (BOUNDED_PER_NODE_BYTES + BOUNDED_PER_DOUBLING_BYTES * doublings)
        + readers * entries * DIRECTORY_ENTRY_BYTES
}

/// The estimate for running `loaded` with `threads` worker threads;
/// `None` for a market scenario (no network is built).
pub fn estimate(loaded: &Loaded, threads: usize) -> Option<MemoryEstimate> {
    if loaded.base.market.is_some() {
        return None;
    }
    let largest = loaded
        .points
        .iter()
        .map(|p| &p.scenario)
        .max_by_key(|s| nodes(s))
        .unwrap_or(&loaded.base);
    let n = nodes(largest);
    let jobs = loaded.points.len() as u64 * u64::from(loaded.base.replications);
    let parallel = (threads.max(1) as u64).min(jobs.max(1));
    let bounded = largest.protocol.directory_lookups.is_some();
    let (per_replicate, process) = if bounded {
        (bounded_replicate_bytes(largest), BOUNDED_PROCESS_BYTES)
    } else {
        (replicate_bytes(n), PROCESS_BYTES)
    };
    let p = &largest.population;
    let mut drivers = vec![
        ("population.relays".to_owned(), u64::from(p.relays)),
        ("population.clients".to_owned(), u64::from(p.clients)),
        ("population.ghosts".to_owned(), u64::from(p.ghosts)),
        ("population.gpus".to_owned(), u64::from(p.gpus)),
        ("population.mints".to_owned(), u64::from(p.mints)),
        ("replicates at once (--threads)".to_owned(), parallel),
    ];
    if let Some(l) = largest.protocol.directory_lookups {
        drivers.push(("protocol.directory_lookups".to_owned(), u64::from(l)));
    }
    Some(MemoryEstimate {
        nodes: n,
        per_replicate,
        parallel,
        total: process + parallel as f64 * per_replicate,
        drivers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_reproduces_its_measurements() {
        for (n, measured_kb) in [
            (1_000u64, 290.0),
            (2_000, 283.0),
            (4_000, 357.0),
            (10_000, 498.0),
        ] {
            let kb = replicate_bytes(n) / n as f64 / 1e3;
            assert!(
                (kb - measured_kb).abs() / measured_kb < 0.1,
                "{n}: {kb} vs {measured_kb}"
            );
        }
    }

    fn scale(name: &str, text: &str) -> Scenario {
        crate::scenario::load_str(std::path::Path::new(name), text)
            .unwrap()
            .base
    }

    #[test]
    fn the_bounded_model_reproduces_its_measurements() {
        for (name, text, measured_mb) in [
            (
                "1k",
                include_str!("../../../scenarios/scale/scale_1k.yaml"),
                137.6,
            ),
            (
                "2k",
                include_str!("../../../scenarios/scale/scale_2k.yaml"),
                238.2,
            ),
            (
                "4k",
                include_str!("../../../scenarios/scale/scale_4k.yaml"),
                496.9,
            ),
            (
                "10k",
                include_str!("../../../scenarios/scale/scale_10k.yaml"),
                1_336.3,
            ),
        ] {
            let s = scale(name, text);
            let mb = (BOUNDED_PROCESS_BYTES + bounded_replicate_bytes(&s)) / 1e6;
            assert!(
                (mb - measured_mb).abs() / measured_mb < 0.05,
                "{name}: {mb} vs {measured_mb}"
            );
        }
    }

    #[test]
    fn the_bounded_model_is_above_what_100k_runs_reading_every_exit_reached() {
        let mut s = scale(
            "100k",
            include_str!("../../../scenarios/scale/scale_100k.yaml"),
        );
        assert_eq!(nodes(&s), 100_000);
        assert_eq!(s.protocol.exit_shards_read, Some(12));
        // Each reader holds about 800 relays, 1,000 of the 10,000 exits and
        // every mint.
        let (readers, entries) = directory_entries(&s);
        assert_eq!(readers, 20_040.0);
        assert!((entries - 1_840.0).abs() < 1.0, "{entries}");
        let sampled = BOUNDED_PROCESS_BYTES + bounded_replicate_bytes(&s);
        assert!(sampled < 20e9, "{sampled}");
        // Reading every exit, runs passed 19.4 GB, still growing, when
        // they were stopped.
        s.protocol.exit_shards_read = None;
        let (_, every) = directory_entries(&s);
        assert!((every - 10_840.0).abs() < 1.0, "{every}");
        let total = BOUNDED_PROCESS_BYTES + bounded_replicate_bytes(&s);
        assert!(total > 19.4e9, "{total}");
        // Still far below the unbounded model.
        assert!(total * 5.0 < replicate_bytes(100_000), "{total}");
    }

    #[test]
    fn fifty_million_relays_need_far_more_than_any_machine() {
        assert!(replicate_bytes(50_000_000) > 1e15);
    }
}
