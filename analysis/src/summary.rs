//! Per-point estimates: P(ends compromised) and P(linked), each with a 95%
//! Wilson interval, next to the analytic m·g (whitepaper "Threat Model",
//! tier 3: "P(link) ≈ m·g").

use std::collections::BTreeMap;

use peer2prompt_sim::record::NetworkReplicate;
use peer2prompt_sim::scenario::{Point, RelayWeightingSpec};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::estimate::{Comparison, Proportion, compare, wilson};

/// Confidence level of every interval.
pub const LEVEL: f64 = 0.95;

/// One sweep point's estimates.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PointSummary {
    /// Sweep point index.
    pub point: u32,
    /// Swept parameters.
    pub params: BTreeMap<String, serde_json::Value>,
    /// Replicates that ran at this point.
    pub replicates: u32,
    /// Number of sessions.
    pub sessions: u64,
    /// Sessions that answered every turn.
    pub sessions_ok: u64,
    /// m as realised: adversarial relays / relays.
    pub m: f64,
    /// g as realised: adversarial exits / exits.
    pub g: f64,
    /// m·g.
    pub m_times_g: f64,
    /// Under price-driven exit selection: the share of sessions whose exit
    /// was the adversary's, as the clients' choices made it (measured).
    #[serde(default)]
    pub g_eff: Option<Proportion>,
    /// Under price-driven exit selection: the share the logit over the
    /// advertised prices predicts (a model value, not a measurement).
    #[serde(default)]
    pub g_eff_logit: Option<f64>,
    /// P(both ends adversarial).
    pub ends_compromised: Proportion,
    /// It against m·g.
    pub ends_vs_mg: Comparison,
    /// P(the adversary's matcher linked the session).
    pub linked: Proportion,
    /// It against m·g.
    pub linked_vs_mg: Comparison,
    /// Of the adversary's guesses, the share that named the right client.
    pub guess_precision: Proportion,
    /// Recall: P(linked | ends compromised).
    #[serde(default)]
    pub recall: Proportion,
    /// False links per session: wrong guesses over all sessions.
    #[serde(default)]
    pub false_links: Proportion,
    /// Identity proof-of-work hashes the adversary paid (mean per replicate).
    pub adversary_pow_hashes: f64,
    /// Key generations the adversary's identities cost, grinding included
    /// (mean per replicate).
    #[serde(default)]
    pub adversary_keygens: f64,
    /// P(linked by any channel measured).
    #[serde(default)]
    pub linked_any: Proportion,
    /// P(mint-exit linked), over sessions at a mint-colluding exit (none
    /// without a mint-exit adversary).
    #[serde(default)]
    pub mint_linked: Option<Proportion>,
    /// P(observer linked), over every session (none without observers).
    #[serde(default)]
    pub observer_linked: Option<Proportion>,
    /// Bytes sent over the network per answered turn (all traffic: the
    /// bandwidth cost of a unit of work, whatever the route rotation).
    #[serde(default)]
    pub bytes_per_turn: f64,
    /// Share of clients that caught a key-tagging mint (rejected it after
    /// their keyset audit); none without key tagging.
    #[serde(default)]
    pub key_tagging_detected: Option<Proportion>,
    /// Under bandwidth-weighted routes: the adversary's share of the
    /// relays' advertised bandwidth, m_w (mean per replicate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub m_w: Option<f64>,
}

/// Summarises the replicates of each point.
pub fn summarise(points: &[Point], results: &[NetworkReplicate]) -> Vec<PointSummary> {
    points
        .iter()
        .map(|p| {
            let rs: Vec<&NetworkReplicate> =
                results.iter().filter(|r| r.key.point == p.index).collect();
            let sessions = rs.iter().flat_map(|r| &r.sessions);
            let (mut n, mut ok, mut ends, mut linked, mut guesses, mut right) = (0, 0, 0, 0, 0, 0);
            let mut at_adversarial_exit = 0;
            let (mut any, mut mint, mut mint_n, mut obs, mut obs_n) = (0, 0, 0, 0, 0);
            let mut turns = 0u64;
            for s in sessions {
                turns += u64::from(s.turns);
                any += u64::from(s.linked_any);
                if let Some(l) = s.mint_linked {
                    mint_n += 1;
                    mint += u64::from(l);
                }
                if let Some(l) = s.observer_linked {
                    obs_n += 1;
                    obs += u64::from(l);
                }
                n += 1;
                at_adversarial_exit += u64::from(s.exit_adversarial);
                ok += u64::from(s.outcome == "ok");
                ends += u64::from(s.ends_compromised);
                linked += u64::from(s.linked);
                guesses += u64::from(s.link_guess.is_some());
                right += u64::from(s.link_guess_correct);
            }
            let k = rs.len().max(1) as f64;
            let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
            let m = rs
                .iter()
                .map(|r| ratio(r.stats.adversarial_relays, r.stats.relays))
                .sum::<f64>()
                / k;
            let g = rs
                .iter()
                .map(|r| ratio(r.stats.adversarial_exits, r.stats.exits))
                .sum::<f64>()
                / k;
            let e = wilson(ends, n, LEVEL);
            let l = wilson(linked, n, LEVEL);
            PointSummary {
                point: p.index,
                params: p.params.clone(),
                replicates: rs.len() as u32,
                sessions: n,
                sessions_ok: ok,
                m,
                g,
                m_times_g: m * g,
                g_eff: p
                    .scenario
                    .protocol
                    .exit_pricing
                    .as_ref()
                    .map(|_| wilson(at_adversarial_exit, n, LEVEL)),
                g_eff_logit: p.scenario.protocol.exit_pricing.as_ref().map(|x| {
                    let (a, e) = rs.iter().fold((0, 0), |(a, e), r| {
                        (a + r.stats.adversarial_exits, e + r.stats.exits)
                    });
                    x.logit_share(
                        a,
                        e,
                        p.scenario.protocol.price_in_usd_per_mtok,
                        p.scenario.protocol.price_out_usd_per_mtok,
                    )
                }),
                ends_vs_mg: compare(&e, m * g),
                ends_compromised: e,
                linked_vs_mg: compare(&l, m * g),
                linked: l,
                guess_precision: wilson(right, guesses, LEVEL),
                recall: wilson(linked, ends, LEVEL),
                false_links: wilson(guesses - right, n, LEVEL),
                adversary_pow_hashes: rs
                    .iter()
                    .map(|r| r.stats.adversary_pow_hashes as f64)
                    .sum::<f64>()
                    / k,
                adversary_keygens: rs
                    .iter()
                    .map(|r| r.stats.adversary_keygens as f64)
                    .sum::<f64>()
                    / k,
                linked_any: wilson(any, n, LEVEL),
                mint_linked: (mint_n > 0).then(|| wilson(mint, mint_n, LEVEL)),
                observer_linked: (obs_n > 0).then(|| wilson(obs, obs_n, LEVEL)),
                bytes_per_turn: ratio(rs.iter().map(|r| r.stats.bytes_sent).sum(), turns),
                m_w: (p.scenario.protocol.relay_weighting == RelayWeightingSpec::Bandwidth).then(
                    || {
                        rs.iter()
                            .map(|r| r.stats.adversary_relay_weight_share)
                            .sum::<f64>()
                            / k
                    },
                ),
                key_tagging_detected: p.scenario.adversary.key_tagging.is_some().then(|| {
                    wilson(
                        rs.iter().map(|r| r.stats.clients_rejecting_a_mint).sum(),
                        rs.iter().map(|r| r.stats.clients).sum(),
                        LEVEL,
                    )
                }),
            }
        })
        .collect()
}

/// The points table: one row per point, swept parameters as columns (dots
/// become underscores), then the estimates.
pub fn points_frame(s: &[PointSummary]) -> PolarsResult<DataFrame> {
    let mut cols = vec![Column::new(
        "point".into(),
        s.iter().map(|p| p.point).collect::<Vec<_>>(),
    )];
    // Every swept key of any point (list sweeps may set different keys per
    // point); a point without a key has a missing value there.
    let keys: std::collections::BTreeSet<String> =
        s.iter().flat_map(|p| p.params.keys().cloned()).collect();
    for k in &keys {
        let name = k.replace('.', "_");
        let vals: Vec<Option<&serde_json::Value>> = s.iter().map(|p| p.params.get(k)).collect();
        if vals.iter().flatten().all(|v| v.is_number()) {
            cols.push(Column::new(
                name.into(),
                vals.iter()
                    .map(|v| v.and_then(serde_json::Value::as_f64))
                    .collect::<Vec<_>>(),
            ));
        } else {
            cols.push(Column::new(
                name.into(),
                vals.iter()
                    .map(|v| v.map(|v| v.to_string()))
                    .collect::<Vec<_>>(),
            ));
        }
    }
    macro_rules! col {
        ($name:literal, $f:expr) => {
            cols.push(Column::new(
                $name.into(),
                s.iter().map($f).collect::<Vec<_>>(),
            ))
        };
    }
    col!("replicates", |p| p.replicates);
    col!("sessions", |p| p.sessions);
    col!("sessions_ok", |p| p.sessions_ok);
    col!("m", |p| p.m);
    col!("g", |p| p.g);
    col!("m_times_g", |p| p.m_times_g);
    col!("g_eff", |p| p.g_eff.as_ref().map(|x| x.estimate));
    col!("g_eff_logit", |p| p.g_eff_logit);
    col!("ends_compromised", |p| p.ends_compromised.k);
    col!("p_ends_compromised", |p| p.ends_compromised.estimate);
    col!("p_ends_compromised_lo", |p| p.ends_compromised.lo);
    col!("p_ends_compromised_hi", |p| p.ends_compromised.hi);
    col!("ends_covers_mg", |p| p.ends_vs_mg.covered);
    col!("linked", |p| p.linked.k);
    col!("p_linked", |p| p.linked.estimate);
    col!("p_linked_lo", |p| p.linked.lo);
    col!("p_linked_hi", |p| p.linked.hi);
    col!("guess_precision", |p| p.guess_precision.estimate);
    col!("recall", |p| p.recall.estimate);
    col!("false_links_per_session", |p| p.false_links.estimate);
    col!("adversary_pow_hashes", |p| p.adversary_pow_hashes);
    col!("p_linked_any", |p| p.linked_any.estimate);
    col!("p_linked_any_lo", |p| p.linked_any.lo);
    col!("p_linked_any_hi", |p| p.linked_any.hi);
    col!("p_mint_linked", |p| p
        .mint_linked
        .as_ref()
        .map(|x| x.estimate));
    col!("p_observer_linked", |p| p
        .observer_linked
        .as_ref()
        .map(|x| x.estimate));
    col!("bytes_per_turn", |p| p.bytes_per_turn);
    col!("p_key_tagging_detected", |p| p
        .key_tagging_detected
        .as_ref()
        .map(|x| x.estimate));
    DataFrame::new_infer_height(cols)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn points_with_different_swept_keys_get_a_column_each_with_gaps() {
        let point = |i: u32, k: &str, v: serde_json::Value| PointSummary {
            point: i,
            params: [(k.to_owned(), v)].into(),
            ..PointSummary::default()
        };
        let df = points_frame(&[
            point(0, "protocol.cover_rate_per_s", serde_json::json!(2.0)),
            point(
                1,
                "protocol.wallet.hold",
                serde_json::json!({"kind": "none"}),
            ),
        ])
        .unwrap();
        assert_eq!(df.height(), 2);
        let cover: Vec<Option<f64>> = df
            .column("protocol_cover_rate_per_s")
            .unwrap()
            .f64()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(cover, vec![Some(2.0), None]);
        let hold = df.column("protocol_wallet_hold").unwrap();
        assert_eq!(hold.null_count(), 1);
    }
}
