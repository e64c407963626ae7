//! Claims about the linkage channels beyond colluding entry and exit:
//! mint-exit collusion, wide passive observers (tier 4), and all channels
//! together (whitepaper "Threat Model").

use super::claims::{by_point, chi_square_verdict, ci, latencies_ms, missing, param, pct, source};
use super::data::{Run, Session};
use super::{Claim, Table, Verdict};
use crate::estimate::{bootstrap, quantile, wilson};
use crate::figure::{Figure, Point, Series, Style};
use crate::summary::LEVEL;

/// A human label for a point from the parameters its scenario sweeps.
fn label(p: &crate::summary::PointSummary) -> String {
    let get = |k: &str| p.params.get(k);
    let mut parts = Vec::new();
    if let Some(h) = get("protocol.wallet.hold") {
        match h.get("kind").and_then(|k| k.as_str()) {
            Some("exponential") => parts.push(format!(
                "hold ~exp({} s)",
                h.get("mean_s").map(|v| v.to_string()).unwrap_or_default()
            )),
            Some("none") | None => parts.push("no mitigation".into()),
            Some(k) => parts.push(format!("hold {k}")),
        }
    }
    if get("protocol.wallet.swap_before_spend").and_then(|v| v.as_bool()) == Some(true) {
        parts.push("swap before spend".into());
    }
    if let Some(k) = get("population.mints").and_then(|v| v.as_u64()) {
        parts.push(format!("{k} mints, 1 colluding"));
    }
    if let Some(b) = get("protocol.mint_batch_s").and_then(|v| v.as_f64()) {
        parts.push(format!("mint batches every {b} s"));
    }
    if let Some(l) = get("protocol.lightning") {
        match l.get("kind").and_then(|k| k.as_str()) {
            Some("candidates") => parts.push(format!(
                "Lightning set of {}",
                l.get("size").map(|v| v.to_string()).unwrap_or_default()
            )),
            Some(k) => parts.push(format!("Lightning {k}")),
            None => {}
        }
    }
    let delay = get("protocol.hop_delay_ms")
        .and_then(|v| v.as_array())
        .and_then(|a| a.get(1))
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0);
    let cover = get("protocol.cover_rate_per_s")
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0);
    let rotate = get("protocol.rotate_after_turns").and_then(|v| v.as_u64());
    if let Some(k) = rotate {
        parts.push(format!("route rotation every {k} turn(s)"));
    } else if get("protocol.hop_delay_ms").is_some() || get("protocol.cover_rate_per_s").is_some() {
        parts.push(match (delay > 0.0, cover > 0.0) {
            (false, false) => "no defence".into(),
            (true, false) => format!("delays ≤{delay} ms/hop"),
            (false, true) => format!("cover {cover}/s"),
            (true, true) => format!("delays ≤{delay} ms + cover {cover}/s"),
        });
    }
    if parts.is_empty() {
        format!("point {}", p.point)
    } else {
        parts.join(", ")
    }
}

fn median_ms(ss: &[&Session], seed: u64, end: impl Fn(&Session) -> Option<u64>) -> (f64, f64, f64) {
    let b = bootstrap(
        &latencies_ms(ss, end),
        |v| quantile(v, 0.5),
        1000,
        LEVEL,
        seed,
    );
    (b.estimate, b.lo, b.hi)
}

// ----- Tier 4: passive observers ---------------------------------------------

/// Passive observers: ROC per defence, TPR at FPR = 1e-3 against the
/// defences' latency and bandwidth costs.
pub fn observers(run: &Run) -> Claim {
    let (id, title) = (
        "observers",
        "Tier 4: a wide passive observer against delays and cover traffic",
    );
    let quote = "Low-latency onion systems are vulnerable to advanced traffic analysis. \
                 Peer2Prompt can raise cost with padding and jitter, but cannot eliminate this \
                 class without heavy latency overhead.";
    let section = "Threat Model Tiers (tier 4); Traffic Analysis Countermeasures";
    let Some(d) = run.scenario("observers") else {
        return missing(id, title, quote, section, "observers");
    };
    let points = by_point(d);
    let mut rows = Vec::new();
    let mut curves = Vec::new();
    let mut tradeoff = Vec::new();
    let mut base: Option<(f64, f64)> = None;
    let mut measured = Vec::new();
    for p in &d.points {
        let ss = points.get(&p.point).map(Vec::as_slice).unwrap_or(&[]);
        let name = label(p);
        let (k, n) = (
            ss.iter()
                .filter(|s| s.observer_linked == Some(true))
                .count() as u64,
            ss.iter().filter(|s| s.observer_linked.is_some()).count() as u64,
        );
        let linked = wilson(k, n, LEVEL);
        let (ttft, ttft_lo, ttft_hi) =
            median_ms(ss, 0x0b5e_0000 + u64::from(p.point), |s| s.first_token_ns);
        let bytes = p.bytes_per_turn;
        let (b_ttft, b_bytes) = *base.get_or_insert((ttft, bytes));
        let ratio = |x: f64, b: f64| if b > 0.0 { x / b } else { f64::NAN };
        let roc = d.observers.iter().find(|o| o.point == p.point);
        let tpr = roc.map_or(f64::NAN, |o| o.tpr_at_fpr_1e3);
        let fmt_opt = |v: Option<f64>| v.map_or_else(|| "-".into(), pct);
        rows.push(vec![
            name.clone(),
            n.to_string(),
            ci(&linked),
            roc.map_or("-".into(), |o| pct(o.tpr_at_fpr_1e3)),
            fmt_opt(roc.and_then(|o| o.bdr_at_fpr_1e3)),
            roc.map_or("-".into(), |o| format!("{:.4}", o.auc)),
            roc.map_or("-".into(), |o| format!("{:.2e}", o.base_rate)),
            format!("{ttft:.0} [{ttft_lo:.0}, {ttft_hi:.0}]"),
            format!("{:.2}x", ratio(ttft, b_ttft)),
            format!("{:.0}", bytes / 1e3),
            format!("{:.2}x", ratio(bytes, b_bytes)),
        ]);
        measured.push(format!(
            "{name}: {} of sessions linked, TPR {} at FPR 1e-3, TTFT {:.2}x, bandwidth {:.2}x",
            pct(linked.estimate),
            if tpr.is_nan() { "-".into() } else { pct(tpr) },
            ratio(ttft, b_ttft),
            ratio(bytes, b_bytes)
        ));
        let pts: Vec<Point> = d
            .roc
            .iter()
            .filter(|r| r.point == p.point && r.fpr > 0.0)
            .map(|r| Point::at(r.fpr.log10(), r.tpr))
            .collect();
        if !pts.is_empty() {
            curves.push(Series {
                label: name.clone(),
                style: Style::Line,
                points: pts,
            });
        }
        if tpr.is_finite() {
            tradeoff.push(
                Point::at(ratio(ttft, b_ttft), tpr)
                    .noted(format!("{name} (bw {:.1}x)", ratio(bytes, b_bytes))),
            );
        }
    }
    let mut figures = Vec::new();
    if !curves.is_empty() {
        figures.push(Figure {
            name: "observers_roc".into(),
            title: "Passive observer: ROC of the correlation attacker".into(),
            caption: "True-positive rate against false-positive rate (log10) over all \
                      client-side x service-side flow pairs, per defence; pairs pruned by \
                      time count as rejected."
                .into(),
            x_label: "log10 false-positive rate".into(),
            y_label: "true-positive rate".into(),
            series: curves,
        });
    }
    if !tradeoff.is_empty() {
        figures.push(Figure {
            name: "observers_tradeoff".into(),
            title: "Detection at FPR 1e-3 against the defence's latency cost".into(),
            caption: "TPR at FPR = 1e-3 against median time to first token relative to no \
                      defence; labels give the bandwidth relative to no defence."
                .into(),
            x_label: "TTFT relative to no defence".into(),
            y_label: "TPR at FPR = 1e-3".into(),
            series: vec![Series {
                label: "defence".into(),
                style: Style::Points,
                points: tradeoff,
            }],
        });
    }
    Claim {
        id: id.into(),
        title: title.into(),
        quote: quote.into(),
        section: section.into(),
        analytic: "none (qualitative: defences raise cost but cannot eliminate the attack)".into(),
        measured: measured.join("; "),
        verdict: Verdict::NotAnalytic,
        notes: vec![
            "The observer sees, on the links it watches, each packet's time, size and \
             endpoints, nothing else. Knowing the advertised relays and services and the \
             onion cell size, it keeps the cells of client-side flows (a client and its \
             entry) and service-side flows (last relay and service), splits flows at 1 s \
             idle gaps and summarises each as packet counts per 50 ms bin and direction. \
             For each service-side flow it correlates (Pearson) the first 128 bins with \
             every client-side flow active nearby, maximising over a one-sided shift up to \
             1.5 s, per direction; the score weights the two directions by packets. \
             Candidates come from a time-bucket index, so cost grows with concurrency, not \
             with the square of the run (bench `sim/correlation`)."
                .into(),
            "Per pair: TPR and FPR over all F x G pairs (true pairs: both flows carry one \
             session at the same time). The Bayesian detection rate is P(true | flagged) \
             at the workload's own base rate, which is tiny: most flagged pairs are false \
             even at FPR = 1e-3. Per session, `observer_linked` is the attacker's strategy \
             of naming, for each service-side flow, its best-scoring client flow when the \
             score reaches the operating threshold: far more effective than thresholding \
             pairs, since only the best candidate needs to be right."
                .into(),
            "Defences: bounded uniform random delays at every relay hop (both directions), \
             client cover cells (Poisson) dropped at the last relay, which pad the \
             client's upstream only (the streamed answer, which dominates the volume, is \
             not padded), and route rotation after every turn (each turn a fresh route \
             and service, so the observer sees shorter flows). Fixed-size cells are \
             always on. Costs: median time to first token and bytes sent over the whole \
             network per answered turn, against no defence."
                .into(),
        ],
        tables: vec![Table {
            caption: "Per defence: sessions linked at the operating point (95% Wilson), the \
                      pair ROC at FPR = 1e-3, AUC, base rate, median TTFT (ms, 95% \
                      bootstrap) and bandwidth (kB sent over the network per answered turn)."
                .into(),
            header: [
                "defence",
                "sessions",
                "observer linked",
                "TPR @ FPR 1e-3",
                "BDR @ FPR 1e-3",
                "AUC",
                "base rate",
                "TTFT median",
                "TTFT vs none",
                "kB/turn",
                "bandwidth vs none",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        }],
        figures,
        source: source(d),
    }
}

// ----- Mint-exit collusion -----------------------------------------------------

/// Mint-exit anonymity (effective set size) against hold periods and each
/// mitigation.
pub fn mint_exit(run: &Run) -> Claim {
    let (id, title) = ("mint_exit", "Mint-exit collusion and its mitigations");
    let quote = "Failure to implement these mitigations reduces the anonymity set to users \
                 who minted matching denominations within the correlation window.";
    let section = "Threat Model: Mint-Exit Collusion; Token Lifecycle (mitigations)";
    let Some(d) = run.scenario("mint_exit") else {
        return missing(id, title, quote, section, "mint_exit");
    };
    let points = by_point(d);
    let (mut rows, mut med, mut p10, mut linked_pts, mut measured) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut by_mitigation = Vec::new();
    for p in &d.points {
        let ss = points.get(&p.point).map(Vec::as_slice).unwrap_or(&[]);
        let name = label(p);
        let eff: Vec<f64> = ss
            .iter()
            .filter_map(|s| s.mint_entropy_bits.map(f64::exp2))
            .collect();
        let attributed = ss.iter().filter(|s| s.mint_candidates.is_some()).count();
        let named_nobody = ss.iter().filter(|s| s.mint_candidates == Some(0)).count();
        let (k, n) = (
            ss.iter().filter(|s| s.mint_linked == Some(true)).count() as u64,
            ss.iter().filter(|s| s.mint_linked.is_some()).count() as u64,
        );
        let linked = wilson(k, n, LEVEL);
        let ok = wilson(
            ss.iter().filter(|s| s.ok).count() as u64,
            ss.len() as u64,
            LEVEL,
        );
        let m = bootstrap(
            &eff,
            |v| quantile(v, 0.5),
            1000,
            LEVEL,
            0x3e70_0000 + u64::from(p.point),
        );
        let q10 = quantile(&eff, 0.1);
        let hold = p
            .params
            .get("protocol.wallet.hold")
            .and_then(|h| h.get("mean_s"))
            .and_then(|v| v.as_f64())
            .or_else(|| {
                p.params
                    .get("protocol.wallet.hold")
                    .filter(|h| h.get("kind").and_then(|k| k.as_str()) == Some("none"))
                    .map(|_| 0.0)
            });
        if let Some(h) = hold
            && !eff.is_empty()
        {
            med.push(Point::with_ci(h, m.estimate, m.lo, m.hi));
            p10.push(Point::at(h, q10));
            linked_pts.push(Point::with_ci(h, linked.estimate, linked.lo, linked.hi));
        }
        if !eff.is_empty() {
            by_mitigation.push(
                Point::with_ci(by_mitigation.len() as f64, m.estimate, m.lo, m.hi)
                    .noted(name.clone()),
            );
        }
        let med_txt = if eff.is_empty() {
            "no payer named".to_owned()
        } else {
            format!("{:.1} [{:.1}, {:.1}]", m.estimate, m.lo, m.hi)
        };
        rows.push(vec![
            name.clone(),
            attributed.to_string(),
            named_nobody.to_string(),
            med_txt.clone(),
            if eff.is_empty() {
                "-".into()
            } else {
                format!("{q10:.1}")
            },
            ci(&linked),
            pct(ok.estimate),
        ]);
        measured.push(format!(
            "{name}: effective set {med_txt}, P(named) {}",
            pct(linked.estimate)
        ));
    }
    let mut figures = Vec::new();
    if !med.is_empty() {
        figures.push(Figure {
            name: "mint_exit_hold".into(),
            title: "Mint-exit anonymity against the hold period".into(),
            caption: "Effective anonymity set 2^H of the attacker's payer distribution per \
                      paid session (median with 95% bootstrap interval, and 10th percentile) \
                      against the mean of an exponential hold between minting and first \
                      spend; the attacker's window and timing scale grow with the hold."
                .into(),
            x_label: "mean hold period (s)".into(),
            y_label: "effective anonymity set (payers)".into(),
            series: vec![
                Series {
                    label: "median".into(),
                    style: Style::Points,
                    points: med,
                },
                Series {
                    label: "10th percentile".into(),
                    style: Style::Dashed,
                    points: p10,
                },
            ],
        });
        figures.push(Figure {
            name: "mint_exit_linked".into(),
            title: "Mint-exit attacker naming the right payer against the hold period".into(),
            caption: "Share of paid sessions at colluding exits whose payer the attacker \
                      named correctly (95% Wilson)."
                .into(),
            x_label: "mean hold period (s)".into(),
            y_label: "P(mint-exit linked)".into(),
            series: vec![Series {
                label: "P(named correctly)".into(),
                style: Style::Points,
                points: linked_pts,
            }],
        });
    }
    if !by_mitigation.is_empty() {
        figures.push(Figure {
            name: "mint_exit_mitigations".into(),
            title: "Mint-exit anonymity per mitigation".into(),
            caption: "Median effective anonymity set (95% bootstrap) per scenario point; \
                      Lightning that hides the payer names nobody and is not plotted."
                .into(),
            x_label: "scenario point".into(),
            y_label: "effective anonymity set (payers)".into(),
            series: vec![Series {
                label: "median effective set".into(),
                style: Style::Points,
                points: by_mitigation,
            }],
        });
    }
    Claim {
        id: id.into(),
        title: title.into(),
        quote: quote.into(),
        section: section.into(),
        analytic: "none (the anonymity set is bounded by the funding events in the window)".into(),
        measured: measured.join("; "),
        verdict: Verdict::NotAnalytic,
        notes: vec![
            "The colluding mint pools its operator log (Lightning fundings with what \
             Lightning revealed, issuances, swaps with their inputs and output \
             denominations) with the colluding Ghosts' received payments. For each payment \
             the attacker walks back: operations in the window that signed its \
             denominations, the inputs those swaps revealed, to issuances and their \
             fundings. Candidate fundings are weighted by exp(-(payment - issuance) / \
             recency): the attacker knows wallets spend soon after minting and, for the \
             hold points, knows the hold policy's scale. The effective set is 2^H of the \
             resulting payer distribution; a session counts as linked when the most \
             probable payer is its client."
                .into(),
            "Multi-mint distribution is modelled across the population: each client \
             funds and pays at one mint drawn at random, so with k mints the colluding one \
             sees about 1/k of the clients (and a smaller anonymity set among them). One \
             wallet splitting its own funds over several mints (wallet-side mint rotation) \
             is not implemented in the protocol client and is not measured. Standard \
             denominations are always on: amounts split into powers of two, as in Cashu."
                .into(),
            "Sessions answered: the hold periods cost availability here, because these \
             wallets are small (60 sat, topped up when low) and a turn whose funds are \
             still held fails instead of waiting; a wallet with a float larger than its \
             spending over the hold period would not fail."
                .into(),
        ],
        tables: vec![Table {
            caption: "Per point: paid sessions attributed, of which naming nobody (hidden \
                      Lightning); median (95% bootstrap) and 10th-percentile effective set; \
                      P(named correctly) (95% Wilson); sessions answered in full."
                .into(),
            header: [
                "mitigation",
                "attributed",
                "no payer named",
                "effective set, median",
                "effective set, p10",
                "P(named correctly)",
                "answered",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        }],
        figures,
        source: source(d),
    }
}

// ----- All channels together ---------------------------------------------------

/// P(linked by any channel) against m·g, with colluding ends, a colluding
/// mint and partial passive observers all present.
pub fn combined(run: &Run) -> Claim {
    let (id, title) = (
        "combined",
        "Combined linkage: entry-exit, mint-exit and observers",
    );
    let quote = "simple first-order link probability per session is approximately \
                 P(link) ≈ m·g, assuming independent route sampling and no global timing \
                 oracle.";
    let section = "Threat Model Tiers (tier 3 and beyond)";
    let Some(d) = run.scenario("combined") else {
        return missing(id, title, quote, section, "combined");
    };
    let points = by_point(d);
    let (mut rows, mut ends, mut any, mut mg, mut measured) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for p in &d.points {
        let ss = points.get(&p.point).map(Vec::as_slice).unwrap_or(&[]);
        let n = ss.len() as u64;
        let share = |f: &dyn Fn(&Session) -> bool| {
            wilson(ss.iter().filter(|s| f(s)).count() as u64, n, LEVEL)
        };
        let e = share(&|s| s.ends);
        let l = share(&|s| s.linked);
        let m = share(&|s| s.mint_linked == Some(true));
        let o = share(&|s| s.observer_linked == Some(true));
        let a = share(&|s| s.linked_any);
        let x = p.m_times_g;
        ends.push(Point::with_ci(x, l.estimate, l.lo, l.hi));
        any.push(Point::with_ci(x, a.estimate, a.lo, a.hi));
        mg.push(Point::at(x, x));
        rows.push(vec![
            format!("{:.3}", x),
            param(p, "adversary.entry_fraction_m"),
            n.to_string(),
            ci(&e),
            ci(&l),
            ci(&m),
            ci(&o),
            ci(&a),
            format!("{:.1}x", a.estimate / x.max(f64::MIN_POSITIVE)),
        ]);
        measured.push(format!(
            "m·g = {x:.3}: P(linked_any) {} vs entry-exit {}",
            pct(a.estimate),
            pct(l.estimate)
        ));
    }
    Claim {
        id: id.into(),
        title: title.into(),
        quote: quote.into(),
        section: section.into(),
        analytic: "m·g for the entry-exit channel alone".into(),
        measured: measured.join("; "),
        verdict: Verdict::NotAnalytic,
        notes: vec![
            "The same sessions face three channels at once: the entry-exit timing matcher \
             (fractions m and g), a mint colluding with the adversary's exits, and passive \
             observers watching a share of the ASes. P(linked_any) is the share of sessions \
             linked by at least one; m·g describes the first alone, so once the other \
             channels exist it is a lower bound, not an estimate."
                .into(),
        ],
        tables: vec![Table {
            caption: "Per point: P(ends compromised), and the share of all sessions linked \
                      by each channel and by any (95% Wilson), and P(linked_any) / m·g."
                .into(),
            header: [
                "m·g",
                "m = g",
                "sessions",
                "ends compromised",
                "entry-exit linked",
                "mint-exit linked",
                "observer linked",
                "linked (any)",
                "any / m·g",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        }],
        figures: vec![Figure {
            name: "combined_linkage".into(),
            title: "Linkage by any channel against m·g".into(),
            caption: "Share of sessions linked by the entry-exit matcher alone and by any \
                      channel (with a colluding mint and partial observers), 95% Wilson \
                      bars, against the whitepaper's m·g (dashed)."
                .into(),
            x_label: "m·g".into(),
            y_label: "P(linked)".into(),
            series: vec![
                Series {
                    label: "entry-exit matcher".into(),
                    style: Style::Points,
                    points: ends,
                },
                Series {
                    label: "any channel".into(),
                    style: Style::Points,
                    points: any,
                },
                Series {
                    label: "m·g".into(),
                    style: Style::Dashed,
                    points: mg,
                },
            ],
        }],
        source: source(d),
    }
}

// ----- Key tagging ---------------------------------------------------------------

/// Detection of per-user key tagging by wallets that audit keysets.
pub fn key_tagging(run: &Run) -> Claim {
    let (id, title) = (
        "key_tagging",
        "Key tagging caught by the keyset audit: 1 - (1 - p)^2",
    );
    let quote = "Verify ecash proofs against mint keysets and enforce settlement policy.";
    let section = "Ghost Node Function; Payment Layer (mint keysets)";
    let Some(d) = run.scenario("key_tagging") else {
        return missing(id, title, quote, section, "key_tagging");
    };
    let (mut rows, mut pts, mut curve, mut pairs) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for p in &d.points {
        let Some(det) = p.key_tagging_detected else {
            continue;
        };
        let share: f64 = param(p, "adversary.key_tagging.share")
            .parse()
            .unwrap_or(f64::NAN);
        let analytic = 1.0 - (1.0 - share).powi(2);
        let cp = crate::estimate::clopper_pearson(det.k, det.n, LEVEL);
        rows.push(vec![
            format!("{share}"),
            pct(analytic),
            ci(&det),
            if cp.lo <= analytic && analytic <= cp.hi {
                "yes".into()
            } else {
                "no".into()
            },
        ]);
        pts.push(Point::with_ci(share, det.estimate, det.lo, det.hi));
        pairs.push((det, analytic));
    }
    for i in 0..=50 {
        let x = f64::from(i) / 50.0;
        curve.push(Point::at(x, 1.0 - (1.0 - x).powi(2)));
    }
    let (stat, dof, pv, verdict) = chi_square_verdict(&pairs);
    let covered = rows.iter().filter(|r| r[3] == "yes").count();
    Claim {
        id: id.into(),
        title: title.into(),
        quote: quote.into(),
        section: section.into(),
        analytic: "P(detect) = 1 - (1 - p)^2 for a share p of key requests tagged and two \
                   fetches compared"
            .into(),
        measured: format!(
            "{covered} of {} points' 95% Clopper–Pearson intervals cover 1 - (1 - p)^2; \
             χ² = {stat:.2} on {dof} dof, p = {pv:.3}",
            rows.len()
        ),
        verdict,
        notes: vec![
            "A tagging mint answers a share p of requests for its keys with a private \
             keyset (one per requesting circuit), so that ecash it later issues under that \
             keyset identifies the requester when spent. A wallet with the audit fetches \
             the keys a second time over a fresh circuit and rejects the mint if the \
             answers differ; they differ unless both requests were answered honestly. \
             Without the audit, tagged ecash fails at services, which verify against the \
             public keysets (a protocol test)."
                .into(),
        ],
        tables: vec![Table {
            caption: "Per tagged share p: the analytic detection probability and the share \
                      of clients that rejected the mint (95% Wilson)."
                .into(),
            header: [
                "p",
                "1 - (1 - p)^2",
                "clients detecting",
                "covered (95% CP)",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        }],
        figures: vec![Figure {
            name: "key_tagging".into(),
            title: "Keyset audit catching a tagging mint".into(),
            caption: "Share of clients that rejected the mint (95% Wilson) against the \
                      share of key requests it tagged, with 1 - (1 - p)^2."
                .into(),
            x_label: "share of key requests tagged, p".into(),
            y_label: "P(client detects the tagging)".into(),
            series: vec![
                Series {
                    label: "measured".into(),
                    style: Style::Points,
                    points: pts,
                },
                Series {
                    label: "1 - (1 - p)^2".into(),
                    style: Style::Line,
                    points: curve,
                },
            ],
        }],
        source: source(d),
    }
}
