//! Bandwidth inflation against tier 3 (whitepaper "Threat Model Tiers",
//! "Tier 3: Partial Collusion"; bandwidth weighting is the route policy's,
//! "Route Construction"): with bandwidth-weighted routes, an adversary whose
//! relays advertise k times their bandwidth holds the entry with its share
//! of advertised weight, m_w = k·A·b / (k·A·b + Σ honest b), not its share
//! m of the relays. Tested: P(linked) against m_w·g and against m·g as the
//! whitepaper states it; P(ends) against m_w·g is the sampler's sanity
//! check. No advert is checked against measured throughput (the
//! whitepaper's "proof-of-bandwidth" is out of scope here).

use super::super::common::{chi_square_sanity, chi_square_test, missing, param_f64, source};
use super::super::data::Run;
use super::super::{Citation, Kind, Section, Source, Table, Value};
use crate::estimate::Proportion;
use crate::figure::{Figure, Point, Series, Style};

const ID: &str = "bandwidth-inflation";
const TITLE: &str = "Bandwidth inflation: m·g becomes m_w·g";
const SCENARIO: &str = "bandwidth_inflation";
const TEST_MW: &str = "P(linked) ≈ m_w·g, m_w the adversary's share of advertised bandwidth";
const TEST_MG: &str = "P(linked) ≈ m·g under bandwidth-weighted routes and inflated adverts";
const SANITY: &str = "P(ends compromised) ≈ m_w·g (the weighted route sampler)";
const FACTOR: &str = "adversary.advertised_bandwidth_factor";

fn citations() -> Vec<Citation> {
    vec![Citation {
        source: Source::Whitepaper,
        section: "Threat Model Tiers",
        paragraph: Some("Tier 3: Partial Collusion"),
        quote: "simple first-order link probability per session is approximately \
                P(link) ≈ m·g, assuming independent route sampling and no global timing \
                oracle.",
    }]
}

/// One point's measurements.
struct Inflated {
    k: f64,
    m: f64,
    m_w: f64,
    g: f64,
    linked: Proportion,
    ends: Proportion,
}

/// The section.
pub fn section(run: &Run) -> Section {
    let planned = [
        (Kind::Test, TEST_MW),
        (Kind::Test, TEST_MG),
        (Kind::Sanity, SANITY),
    ];
    let Some(d) = run.scenario(SCENARIO) else {
        return missing(ID, TITLE, citations(), SCENARIO, &planned);
    };
    let ps: Vec<Inflated> = d
        .points
        .iter()
        .map(|p| Inflated {
            k: param_f64(p, FACTOR).unwrap_or(1.0),
            m: p.m,
            m_w: p.m_w.unwrap_or(p.m),
            g: p.g,
            linked: p.linked,
            ends: p.ends_compromised,
        })
        .collect();
    let against = |f: fn(&Inflated) -> Proportion, w: fn(&Inflated) -> f64| -> Vec<_> {
        ps.iter().map(|p| (f(p), w(p) * p.g)).collect()
    };
    let rows = vec![
        chi_square_test(
            TEST_MW,
            Value::text("m_w·g at each point"),
            &against(|p| p.linked, |p| p.m_w),
        ),
        chi_square_test(
            TEST_MG,
            Value::text("m·g at each point"),
            &against(|p| p.linked, |p| p.m),
        ),
        chi_square_sanity(
            SANITY,
            Value::text("m_w·g at each point"),
            &against(|p| p.ends, |p| p.m_w),
        ),
    ];
    Section {
        id: ID,
        title: TITLE,
        citations: citations(),
        rows,
        notes: vec![
            "m_w is computed from the adverts the run published: the adversary's relays' \
             advertised bandwidth over all relays' (mean over replicates). Clients pick the \
             entry by advertised weight among the relays of their directory view, after the \
             exit and subject to the route's diversity rules, so m_w·g is first order too."
                .into(),
            "Out of scope: a proof-of-bandwidth check (relays measuring a neighbour's \
             throughput before believing its advert); nothing here caps an advert."
                .into(),
        ],
        tables: vec![table(&ps)],
        figures: vec![figure(&ps)],
        source: source(d),
    }
}

fn table(ps: &[Inflated]) -> Table {
    let mut t = Table::new(
        "Per inflation factor k: the adversary's share of relays m and of advertised \
         bandwidth m_w, g, P(linked) and P(ends compromised) (95% Wilson), m_w·g and m·g.",
        &["k", "m", "m_w", "g", "P(linked)", "P(ends)", "m_w·g", "m·g"],
    );
    for p in ps {
        t.rows.push(vec![
            Value::num(p.k, 1, "x"),
            Value::num(p.m, 3, ""),
            Value::num(p.m_w, 3, ""),
            Value::num(p.g, 3, ""),
            Value::Proportion(p.linked),
            Value::Proportion(p.ends),
            Value::num(p.m_w * p.g, 4, ""),
            Value::num(p.m * p.g, 4, ""),
        ]);
    }
    t
}

fn figure(ps: &[Inflated]) -> Figure {
    let line = |label: &str, style: Style, f: fn(&Inflated) -> f64| Series {
        label: label.into(),
        style,
        points: ps.iter().map(|p| Point::at(p.k, f(p) * p.g)).collect(),
    };
    Figure {
        name: "bandwidth_inflation".into(),
        title: "P(linked) against the adversary's advertised-bandwidth factor".into(),
        caption: "Share of sessions the adversary's matcher linked (95% Wilson) per inflation \
                  factor k, beside m_w·g (its share of advertised bandwidth times g) and the \
                  whitepaper's m·g."
            .into(),
        x_label: "advertised bandwidth factor k".into(),
        y_label: "share of sessions".into(),
        series: vec![
            Series {
                label: "linked (measured)".into(),
                style: Style::Points,
                points: ps
                    .iter()
                    .map(|p| Point::with_ci(p.k, p.linked.estimate, p.linked.lo, p.linked.hi))
                    .collect(),
            },
            line("m_w·g", Style::Points, |p| p.m_w),
            line("m·g", Style::Dashed, |p| p.m),
        ],
    }
}
