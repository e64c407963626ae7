//! ROC of the passive observers' correlation attacker (whitepaper "Threat
//! Model", tier 4) and its Bayesian detection rate.
//!
//! Over all `F × G` (client flow, service flow) pairs of a point's
//! replicates, `P` are true (`observer_true_pairs`) and `N = F·G − P` false.
//! Pairs the attacker pruned were never flagged at any threshold, so they
//! count as misses or correct rejections. At threshold `t`, TPR = TP(t)/P
//! and FPR = FP(t)/N; the Bayesian detection rate P(true | flagged) at the
//! workload's own base rate `P/(P+N)` is TP/(TP+FP).

use peer2prompt_sim::record::{CorrelationRecord, NetworkReplicate};
use polars::prelude::*;

use crate::dataset::frame;
use serde::{Deserialize, Serialize};

/// One threshold of a point's curve.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RocRow {
    /// Sweep point.
    pub point: u32,
    /// Pairs scoring at least this are flagged.
    pub threshold: f64,
    /// True pairs flagged.
    pub tp: u64,
    /// False pairs flagged.
    pub fp: u64,
    /// TP / P.
    pub tpr: f64,
    /// FP / N.
    pub fpr: f64,
}

/// A point's curve and its operating points.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RocSummary {
    /// Sweep point.
    pub point: u32,
    /// True pairs, P.
    pub positives: u64,
    /// False pairs, N.
    pub negatives: u64,
    /// Pairs compared (the rest were pruned by time).
    pub compared: u64,
    /// P / (P + N): the base rate of the workload.
    pub base_rate: f64,
    /// Area under the curve (pruned pairs at the bottom).
    pub auc: f64,
    /// Best TPR with FPR ≤ 10⁻³.
    pub tpr_at_fpr_1e3: f64,
    /// The threshold achieving it.
    pub threshold_at_fpr_1e3: Option<f64>,
    /// P(true | flagged) there.
    pub bdr_at_fpr_1e3: Option<f64>,
    /// The best TPR at each FPR of [`FPR_TARGETS`] that the negatives can
    /// resolve (at least one false positive allowed: `N · FPR ≥ 1`).
    #[serde(default)]
    pub operating: Vec<OperatingPoint>,
}

/// False-positive rates the flow-correlation literature reports at
/// (DeepCoFFEA near 10⁻³, ESPRESSO down to 10⁻⁶).
pub const FPR_TARGETS: [f64; 4] = [1e-3, 1e-4, 1e-5, 1e-6];

/// The best TPR with FPR at most `fpr`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct OperatingPoint {
    /// The FPR bound.
    pub fpr: f64,
    /// Best TPR within it.
    pub tpr: f64,
    /// False positives there.
    pub fp: u64,
    /// The threshold achieving it.
    pub threshold: Option<f64>,
    /// P(true | flagged) there.
    pub bdr: Option<f64>,
}

/// Most rows kept per curve (all of the first `KEEP_HEAD`, then thinned).
const MAX_ROWS: usize = 2_000;
const KEEP_HEAD: usize = 500;

/// The curve and summary of each point that has observers.
pub fn curves(results: &[NetworkReplicate]) -> (Vec<RocRow>, Vec<RocSummary>) {
    let mut points: Vec<u32> = results
        .iter()
        .filter(|r| r.stats.observer_service_flows > 0)
        .map(|r| r.key.point)
        .collect();
    points.sort_unstable();
    points.dedup();
    let mut rows = Vec::new();
    let mut sums = Vec::new();
    for p in points {
        let rs: Vec<&NetworkReplicate> = results.iter().filter(|r| r.key.point == p).collect();
        let pos: u64 = rs.iter().map(|r| r.stats.observer_true_pairs).sum();
        let all: u64 = rs
            .iter()
            .map(|r| r.stats.observer_client_flows * r.stats.observer_service_flows)
            .sum();
        let neg = all.saturating_sub(pos);
        let mut pairs: Vec<&CorrelationRecord> = rs.iter().flat_map(|r| &r.correlation).collect();
        pairs.sort_by(|a, b| b.score.total_cmp(&a.score));
        let (curve, summary) = one_curve(p, &pairs, pos, neg);
        rows.extend(curve);
        sums.push(summary);
    }
    (rows, sums)
}

fn one_curve(
    point: u32,
    sorted: &[&CorrelationRecord],
    pos: u64,
    neg: u64,
) -> (Vec<RocRow>, RocSummary) {
    let rate = |k: u64, n: u64| if n == 0 { 0.0 } else { k as f64 / n as f64 };
    let mut full = Vec::new();
    let (mut tp, mut fp) = (0u64, 0u64);
    let mut i = 0;
    while i < sorted.len() {
        let t = sorted[i].score;
        while i < sorted.len() && sorted[i].score == t {
            tp += u64::from(sorted[i].truth);
            fp += u64::from(!sorted[i].truth);
            i += 1;
        }
        full.push(RocRow {
            point,
            threshold: t,
            tp,
            fp,
            tpr: rate(tp, pos),
            fpr: rate(fp, neg),
        });
    }
    // Area: trapezoids from (0, 0) through the curve to (1, 1) (pruned
    // pairs are flagged only at the very bottom).
    let mut auc = 0.0;
    let (mut x, mut y) = (0.0, 0.0);
    for r in full.iter().chain(std::iter::once(&RocRow {
        point,
        threshold: f64::NEG_INFINITY,
        tp: pos,
        fp: neg,
        tpr: 1.0,
        fpr: 1.0,
    })) {
        auc += (r.fpr - x) * (r.tpr + y) / 2.0;
        (x, y) = (r.fpr, r.tpr);
    }
    let best = |bound: f64| {
        full.iter().filter(|r| r.fpr <= bound).max_by(|a, b| {
            a.tpr
                .total_cmp(&b.tpr)
                .then(b.threshold.total_cmp(&a.threshold))
        })
    };
    let bdr = |r: &RocRow| (r.tp + r.fp > 0).then(|| rate(r.tp, r.tp + r.fp));
    let operating = FPR_TARGETS
        .iter()
        .filter(|&&f| neg as f64 * f >= 1.0)
        .map(|&f| {
            let r = best(f);
            OperatingPoint {
                fpr: f,
                tpr: r.map_or(0.0, |r| r.tpr),
                fp: r.map_or(0, |r| r.fp),
                threshold: r.map(|r| r.threshold),
                bdr: r.and_then(bdr),
            }
        })
        .collect();
    let at = best(1e-3);
    let summary = RocSummary {
        point,
        positives: pos,
        negatives: neg,
        compared: sorted.len() as u64,
        base_rate: rate(pos, pos + neg),
        auc,
        tpr_at_fpr_1e3: at.map_or(0.0, |r| r.tpr),
        threshold_at_fpr_1e3: at.map(|r| r.threshold),
        bdr_at_fpr_1e3: at.and_then(bdr),
        operating,
    };
    let step = (full.len() / MAX_ROWS).max(1);
    let last = full.len().saturating_sub(1);
    let kept = full
        .into_iter()
        .enumerate()
        .filter(|(i, _)| *i < KEEP_HEAD || i % step == 0 || *i == last)
        .map(|(_, r)| r)
        .collect();
    (kept, summary)
}

/// `roc.parquet`: one row per (point, threshold).
pub fn roc_frame(rows: &[RocRow]) -> PolarsResult<DataFrame> {
    frame!(rows;
        "point" => |r| r.point,
        "threshold" => |r| r.threshold,
        "tp" => |r| r.tp,
        "fp" => |r| r.fp,
        "tpr" => |r| r.tpr,
        "fpr" => |r| r.fpr,
    )
}

/// `correlation.parquet`: every compared pair with its truth label.
pub fn correlation_frame(results: &[NetworkReplicate]) -> PolarsResult<DataFrame> {
    let rows: Vec<&CorrelationRecord> = results.iter().flat_map(|r| &r.correlation).collect();
    frame!(rows;
        "point" => |r| r.point,
        "replicate" => |r| r.replicate,
        "client_flow" => |r| r.client_flow,
        "service_flow" => |r| r.service_flow,
        "client_flow_start_ns" => |r| r.client_flow_start_ns,
        "service_flow_start_ns" => |r| r.service_flow_start_ns,
        "score" => |r| r.score,
        "truth" => |r| r.truth,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn rec(score: f64, truth: bool) -> CorrelationRecord {
        CorrelationRecord {
            point: 0,
            replicate: 0,
            client_flow: 0,
            service_flow: 0,
            client_flow_start_ns: 0,
            service_flow_start_ns: 0,
            score,
            truth,
        }
    }

    #[test]
    fn a_perfect_separation_has_auc_one_and_full_tpr_at_zero_fpr() {
        let pairs = [rec(0.9, true), rec(0.8, true), rec(0.1, false)];
        let refs: Vec<&CorrelationRecord> = pairs.iter().collect();
        let (rows, s) = one_curve(0, &refs, 2, 1_000_000);
        assert_eq!(rows.len(), 3);
        assert_eq!((rows[1].tp, rows[1].fp, rows[1].tpr), (2, 0, 1.0));
        assert!((s.auc - 1.0).abs() < 1e-9, "{}", s.auc);
        assert_eq!(s.tpr_at_fpr_1e3, 1.0);
        assert_eq!(s.threshold_at_fpr_1e3, Some(0.1));
        // One false alarm among a million is under 1e-3: still flagged, and
        // the detection rate counts it.
        assert_eq!(s.bdr_at_fpr_1e3, Some(2.0 / 3.0));
        // A million negatives resolve every target down to 10⁻⁶.
        let fprs: Vec<f64> = s.operating.iter().map(|o| o.fpr).collect();
        assert_eq!(fprs, FPR_TARGETS.to_vec());
        assert!(s.operating.iter().all(|o| o.tpr == 1.0 && o.fp <= 1));
        // One false positive in a million is exactly 10⁻⁶: within the bound.
        assert_eq!(s.operating[3].fp, 1);
        // With 5,000 negatives only 10⁻³ is resolvable.
        let (_, few) = one_curve(0, &refs, 2, 5_000);
        assert_eq!(few.operating.len(), 1);
    }

    #[test]
    fn pruned_true_pairs_cap_the_tpr_and_random_scores_give_auc_near_half() {
        // 4 true pairs, one of them pruned (never scored).
        let pairs = [
            rec(0.5, true),
            rec(0.5, false),
            rec(0.2, true),
            rec(0.2, false),
        ];
        let mut refs: Vec<&CorrelationRecord> = pairs.iter().collect();
        refs.sort_by(|a, b| b.score.total_cmp(&a.score));
        let (rows, s) = one_curve(0, &refs, 3, 2);
        assert_eq!(rows.last().unwrap().tpr, 2.0 / 3.0);
        assert!((s.auc - 0.5).abs() < 0.2, "{}", s.auc);
        assert_eq!(s.base_rate, 0.6);
    }
}
