//! DHT eclipse and poisoning (whitepaper "DHT Sybil and Eclipse Attacks";
//! "Attack Economics": "(A/(A+N))² per session"). Sybil DHT nodes with ids
//! ground near the directory's advert keys serve only the adversary's
//! adverts, so a client's view is no longer an independent sample. The
//! test is P(linked) against (A/(A+N))² from the configured counts at the
//! attacked points. The sanity checks: P(ends) against the product of each
//! client's own view shares (routes sampled from the view), and, without
//! the attack, the view share against A/(A+N). Findings: the adversary's
//! share of the views by attack and d, and the capital of each point.

use super::super::common::{
    EPOCHS_PER_MONTH, USD_PER_KEYGEN, by_point, chi_square_sanity, chi_square_test,
    cost_model_note, count, loaded, mean_ci, missing, of_point, share_of, source,
    sybil_capital_usd_per_month, sybil_nodes,
};
use super::super::data::{Run, ScenarioData, Session};
use super::super::{Citation, Kind, Row, Section, Source, Table, Value};
use crate::estimate::{Mean, Proportion, wilson};
use crate::figure::{Figure, Point, Series, Style};
use crate::summary::LEVEL;
use peer2prompt_sim::scenario::{DhtAttackKind, Scenario};
use peer2prompt_sim::views::DirectoryView;
use std::collections::BTreeMap;

const ID: &str = "dht-eclipse";
const SCENARIO: &str = "dht_eclipse";
const TITLE: &str = "DHT eclipse and poisoning against (A/(A+N))²";
const TEST: &str = "P(linked) ≈ (A_r/(A_r+N_r))·(A_g/(A_g+N_g)) under the DHT attack";
const SANITY_VIEW: &str = "P(ends) ≈ the product of each client's view shares (the sampler)";
const SANITY_FREE: &str = "Without the DHT attack, the view's adversarial share ≈ A/(A+N)";
const FIND_VIEW: &str = "The adversary's share of the clients' relay views, by attack and d";
const FIND_CAPITAL: &str = "The capital of each point";

fn citations() -> Vec<Citation> {
    vec![
        Citation {
            source: Source::Whitepaper,
            section: "Attack Economics",
            paragraph: Some("Sybil capital requirements"),
            quote: "Full-link correlation per session requires controlling both, yielding \
                    approximately (A/(A+N))² per session.",
        },
        Citation {
            source: Source::Whitepaper,
            section: "DHT Sybil and Eclipse Attacks",
            paragraph: None,
            quote: "Open DHTs are vulnerable to identity flooding.",
        },
    ]
}

/// One point: its configuration and what it measured.
struct EclipsePoint {
    attack: Option<DhtAttackKind>,
    d: u32,
    sybil_relays: u32,
    /// A_r/(A_r+N_r) and A_g/(A_g+N_g), configured.
    shares: (f64, f64),
    dht_sybils: u32,
    linked: Proportion,
    ends: Proportion,
    /// Mean over sessions of the client's view product m_v·g_v.
    view_form: f64,
    /// Mean adversarial share of the relay views and of the service views.
    relay_view: Mean,
    service_view: Mean,
    /// Sessions answered of those started.
    answered: Proportion,
    usd_per_month: f64,
    /// The part of `usd_per_month` spent grinding ids, every epoch.
    grind_usd_per_month: f64,
}

impl EclipsePoint {
    fn analytic(&self) -> f64 {
        self.shares.0 * self.shares.1
    }

    fn label(&self) -> String {
        let kind = match self.attack {
            None => "no DHT attack",
            Some(DhtAttackKind::Eclipse) => "eclipse",
            Some(DhtAttackKind::Poison) => "poison",
        };
        format!("A={} {kind}, d={}", self.sybil_relays, self.d)
    }
}

/// Each (replicate, client)'s view.
fn views_of(d: &ScenarioData, point: u32) -> BTreeMap<(u32, u32), &DirectoryView> {
    d.views
        .iter()
        .filter(|((p, _), _)| *p == point)
        .map(|((_, r), v)| ((*r, v.client), v))
        .collect()
}

/// Mean over sessions of their client's m_v·g_v.
fn view_form(ss: &[&Session], views: &BTreeMap<(u32, u32), &DirectoryView>) -> f64 {
    let products: Vec<f64> = ss
        .iter()
        .filter_map(|s| views.get(&(s.replicate, s.client)))
        .map(|v| v.relay_share() * v.service_share())
        .collect();
    products.iter().sum::<f64>() / products.len().max(1) as f64
}

fn eclipse_point(sc: &Scenario, d: &ScenarioData, point: u32, ss: &[&Session]) -> EclipsePoint {
    let sy = sc.adversary.sybil.clone().unwrap_or_default();
    let attack = sy.dht_attack.as_ref();
    let dht_sybils = peer2prompt_sim::adversary::dht_attack::sybil_count(sc);
    let (nr, ng) = (sc.population.relays, sc.population.ghosts);
    let views = views_of(d, point);
    let seed = 0xd47_0000 + u64::from(point);
    let mean = |f: fn(&DirectoryView) -> f64| {
        mean_ci(&views.values().map(|v| f(v)).collect::<Vec<_>>(), seed)
    };
    let summary = d.points.iter().find(|p| p.point == point);
    let (keygens, hashes) = summary.map_or((0.0, 0.0), |p| {
        (p.adversary_keygens, p.adversary_pow_hashes)
    });
    let nodes = f64::from(sybil_nodes(sc));
    let grind = keygens * USD_PER_KEYGEN * EPOCHS_PER_MONTH;
    let (kl, n) = count(ss, |s| s.linked);
    let (ke, _) = count(ss, |s| s.ends);
    let (ok, _) = count(ss, |s| s.ok);
    EclipsePoint {
        attack: attack.map(|a| a.kind),
        d: sc.protocol.disjoint_lookups,
        sybil_relays: sy.relays,
        shares: (share_of(sy.relays, nr), share_of(sy.ghosts, ng)),
        dht_sybils,
        linked: wilson(kl, n, LEVEL),
        ends: wilson(ke, n, LEVEL),
        view_form: view_form(ss, &views),
        relay_view: mean(DirectoryView::relay_share),
        service_view: mean(DirectoryView::service_share),
        answered: wilson(ok, n, LEVEL),
        // Grinding is paid again every epoch; the proof of work once.
        usd_per_month: sybil_capital_usd_per_month(nodes, hashes) + grind,
        grind_usd_per_month: grind,
    }
}

fn eclipse_points(d: &ScenarioData) -> Vec<EclipsePoint> {
    let Some(scenario) = loaded(d) else {
        return Vec::new();
    };
    let sessions = by_point(d);
    scenario
        .points
        .iter()
        .filter(|p| d.points.iter().any(|s| s.point == p.index))
        .map(|p| eclipse_point(&p.scenario, d, p.index, of_point(&sessions, p.index)))
        .collect()
}

/// The section.
pub fn section(run: &Run) -> Section {
    let planned = [
        (Kind::Test, TEST),
        (Kind::Sanity, SANITY_VIEW),
        (Kind::Sanity, SANITY_FREE),
        (Kind::Finding, FIND_VIEW),
        (Kind::Finding, FIND_CAPITAL),
    ];
    let Some(d) = run.scenario(SCENARIO) else {
        return missing(ID, TITLE, citations(), SCENARIO, &planned);
    };
    let pts = eclipse_points(d);
    Section {
        id: ID,
        title: TITLE,
        citations: citations(),
        rows: rows(&pts),
        notes: vec![format!(
            "A_r, A_g are the Sybil relays and Ghosts, N_r, N_g the honest ones; the DHT \
             Sybils are extra DHT-only nodes (per_key on each targeted advert key), their \
             ids ground to share grind_bits leading bits with the key, paying both identity \
             puzzles. A client's view is what its directory holds at the end of the run; \
             m_v and g_v are the adversary's shares of its relays and services. With d > 1 \
             paths, lookups and stores run S/Kademlia disjoint paths and a store replicates \
             to every path's closest nodes. {} The DHT Sybils' node-months are counted like \
             any Sybil's.",
            cost_model_note()
        )],
        tables: vec![table(&pts)],
        figures: figures(&pts),
        source: source(d),
    }
}

fn rows(pts: &[EclipsePoint]) -> Vec<Row> {
    let attacked: Vec<&EclipsePoint> = pts.iter().filter(|p| p.attack.is_some()).collect();
    let free: Vec<&EclipsePoint> = pts.iter().filter(|p| p.attack.is_none()).collect();
    let wp = Value::text("(A/(A+N))² per point");
    let mut rows = vec![
        chi_square_test(
            TEST,
            wp,
            &attacked
                .iter()
                .map(|p| (p.linked, p.analytic()))
                .collect::<Vec<_>>(),
        ),
        chi_square_sanity(
            SANITY_VIEW,
            Value::text("mean m_v·g_v of the sessions' clients, per point"),
            &pts.iter()
                .map(|p| (p.ends, p.view_form))
                .collect::<Vec<_>>(),
        ),
        free_view_sanity(&free),
    ];
    if pts.is_empty() {
        rows.push(Row::not_measured(Kind::Finding, FIND_VIEW, "no points"));
        rows.push(Row::not_measured(Kind::Finding, FIND_CAPITAL, "no points"));
        return rows;
    }
    rows.push(Row::finding(
        FIND_VIEW,
        Value::List(
            attacked
                .iter()
                .map(|p| {
                    let mean = p.relay_view;
                    (
                        p.label(),
                        Value::Interval {
                            mean,
                            digits: 3,
                            unit: String::new(),
                        },
                    )
                })
                .collect(),
        ),
        "Where the DHT Sybils own a key's closest nodes, a client's view holds the \
         adversary's adverts and few honest ones, so routes are no longer independent \
         samples of the network. Disjoint paths (d > 1), with stores replicated to every \
         path's closest nodes, restore the honest adverts.",
    ));
    rows.push(capital_finding(pts));
    rows
}

fn capital_finding(pts: &[EclipsePoint]) -> Row {
    let grind_share = pts
        .iter()
        .map(|p| p.grind_usd_per_month / p.usd_per_month.max(1e-12))
        .fold(0.0, f64::max);
    let meaning = format!(
        "Grinding ids near the advert keys, paid again every epoch, is at most {grind_share:.1e} \
         of a point's capital; the rest is node-months, so the DHT Sybils cost what any Sybil \
         node costs to run. The capital does not depend on d."
    );
    // One entry per Sybil count, with and without the DHT Sybils (d changes nothing).
    let mut seen: BTreeMap<(u32, u32), f64> = BTreeMap::new();
    for p in pts {
        seen.entry((p.sybil_relays, p.dht_sybils))
            .or_insert(p.usd_per_month);
    }
    Row::finding(
        FIND_CAPITAL,
        Value::List(
            seen.into_iter()
                .map(|((a, dht), usd)| {
                    (
                        format!("A={a}, {dht} DHT Sybils"),
                        Value::num(usd, 0, " USD/month"),
                    )
                })
                .collect(),
        ),
        &meaning,
    )
}

/// Without the attack every client reads every shard, so its relay view's
/// adversarial share is A_r/(A_r+N_r) up to adverts a lookup missed.
fn free_view_sanity(free: &[&EclipsePoint]) -> Row {
    if free.is_empty() {
        return Row::not_measured(Kind::Sanity, SANITY_FREE, "no point without the attack");
    }
    let worst = free
        .iter()
        .map(|p| (p.relay_view.estimate - p.shares.0).abs())
        .fold(0.0, f64::max);
    Row::sanity(
        SANITY_FREE,
        Value::text("A_r/(A_r+N_r) per point"),
        Value::num(worst, 4, " largest gap"),
        "largest |mean relay view share − A_r/(A_r+N_r)| over the points without the \
         attack, at most 0.01",
        worst <= 0.01,
    )
}

fn table(pts: &[EclipsePoint]) -> Table {
    let mut t = Table::new(
        "Per point: the configuration, the mean adversarial share of the clients' relay and \
         service views (95% bootstrap), P(ends) against the view form m_v·g_v, P(linked) \
         against (A/(A+N))² (95% Wilson), sessions answered, DHT Sybils and capital.",
        &[
            "point",
            "relay view m_v",
            "service view g_v",
            "m_v·g_v",
            "P(ends)",
            "(A/(A+N))²",
            "P(linked)",
            "answered",
            "DHT Sybils",
            "capital USD/month",
            "of which grinding",
        ],
    );
    let interval = |mean: Mean| Value::Interval {
        mean,
        digits: 3,
        unit: String::new(),
    };
    for p in pts {
        t.rows.push(vec![
            Value::text(p.label()),
            interval(p.relay_view),
            interval(p.service_view),
            Value::num(p.view_form, 4, ""),
            Value::Proportion(p.ends),
            Value::num(p.analytic(), 4, ""),
            Value::Proportion(p.linked),
            Value::Proportion(p.answered),
            Value::count(u64::from(p.dht_sybils)),
            Value::num(p.usd_per_month, 0, ""),
            Value::num(p.grind_usd_per_month, 4, ""),
        ]);
    }
    t
}

/// One series per Sybil count A against d, for the points of `kind`.
fn by_count(pts: &[&EclipsePoint], y: impl Fn(&EclipsePoint) -> (f64, f64, f64)) -> Vec<Series> {
    let mut groups: BTreeMap<u32, Vec<Point>> = BTreeMap::new();
    for p in pts {
        let (v, lo, hi) = y(p);
        groups
            .entry(p.sybil_relays)
            .or_default()
            .push(Point::with_ci(f64::from(p.d), v, lo, hi));
    }
    groups
        .into_iter()
        .map(|(a, points)| Series {
            label: format!("A={a}"),
            style: Style::Points,
            points,
        })
        .collect()
}

/// A flat line per Sybil count A at `y(A's point)`, across the d measured.
fn reference(pts: &[&EclipsePoint], name: &str, y: impl Fn(&EclipsePoint) -> f64) -> Vec<Series> {
    let (lo, hi) = pts.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
        (lo.min(f64::from(p.d)), hi.max(f64::from(p.d)))
    });
    let mut by_a: BTreeMap<u32, f64> = BTreeMap::new();
    for p in pts {
        by_a.insert(p.sybil_relays, y(p));
    }
    by_a.into_iter()
        .map(|(a, v)| Series {
            label: format!("{name}, A={a}"),
            style: Style::Line,
            points: vec![Point::at(lo, v), Point::at(hi, v)],
        })
        .collect()
}

/// The view and P(linked) figures of one attack kind: three Sybil counts
/// and their three reference lines fit the palette.
fn kind_figures(pts: &[EclipsePoint], kind: DhtAttackKind, name: &str) -> Vec<Figure> {
    let of: Vec<&EclipsePoint> = pts.iter().filter(|p| p.attack == Some(kind)).collect();
    if of.is_empty() {
        return Vec::new();
    }
    let mut view = by_count(&of, |p| {
        (p.relay_view.estimate, p.relay_view.lo, p.relay_view.hi)
    });
    view.extend(reference(&of, "A/(A+N)", |p| p.shares.0));
    let mut linked = by_count(&of, |p| (p.linked.estimate, p.linked.lo, p.linked.hi));
    linked.extend(reference(&of, "(A/(A+N))²", EclipsePoint::analytic));
    vec![
        Figure {
            name: format!("dht_{name}_view"),
            title: format!("The adversary's share of the clients' relay views ({name})"),
            caption: format!(
                "Under {name}: the mean adversarial share of the relays in each client's \
                 directory against the disjoint lookup paths d, per Sybil count A (bars: 95% \
                 bootstrap); the lines are A/(A+N), the share without the attack."
            ),
            x_label: "disjoint lookup paths d".into(),
            y_label: "adversarial share of the relay view".into(),
            series: view,
        },
        Figure {
            name: format!("dht_{name}_linked"),
            title: format!("P(linked) under DHT {name}"),
            caption: format!(
                "Under {name}: the share of sessions the adversary's matcher linked against \
                 d, per Sybil count A (bars: 95% Wilson); the lines are the whitepaper's \
                 (A/(A+N))² for each A."
            ),
            x_label: "disjoint lookup paths d".into(),
            y_label: "P(linked) per session".into(),
            series: linked,
        },
    ]
}

fn figures(pts: &[EclipsePoint]) -> Vec<Figure> {
    let mut out = kind_figures(pts, DhtAttackKind::Eclipse, "eclipse");
    out.extend(kind_figures(pts, DhtAttackKind::Poison, "poison"));
    out
}

#[cfg(test)]
mod tests {
    use super::super::super::Outcome;
    use super::*;

    fn view(client: u32, relays: u32, bad_r: u32, services: u32, bad_s: u32) -> DirectoryView {
        DirectoryView {
            client,
            relays,
            adversarial_relays: bad_r,
            services,
            adversarial_services: bad_s,
        }
    }

    #[test]
    fn the_view_form_weights_each_client_by_its_sessions() {
        let (a, b) = (view(1, 10, 10, 4, 2), view(2, 10, 0, 4, 4));
        let views: BTreeMap<(u32, u32), &DirectoryView> =
            [((0, 1), &a), ((0, 2), &b)].into_iter().collect();
        let s = |client| Session {
            client,
            ..Session::default()
        };
        let ss = [s(1), s(1), s(1), s(2)];
        let refs: Vec<&Session> = ss.iter().collect();
        // Three sessions at 1·0.5, one at 0·1.
        assert!((view_form(&refs, &views) - 0.375).abs() < 1e-12);
    }

    #[test]
    fn the_free_view_sanity_fails_on_a_skewed_view() {
        let p = |share: f64| EclipsePoint {
            attack: None,
            d: 1,
            sybil_relays: 20,
            shares: (0.2, 0.2),
            dht_sybils: 0,
            linked: wilson(1, 10, LEVEL),
            ends: wilson(1, 10, LEVEL),
            view_form: 0.04,
            relay_view: mean_ci(&[share], 1),
            service_view: mean_ci(&[0.2], 1),
            answered: wilson(10, 10, LEVEL),
            usd_per_month: 0.0,
            grind_usd_per_month: 0.0,
        };
        let (good, bad) = (p(0.2), p(0.5));
        assert_eq!(free_view_sanity(&[&good]).outcome, Outcome::Holds);
        assert_eq!(free_view_sanity(&[&bad]).outcome, Outcome::Broken);
    }
}
