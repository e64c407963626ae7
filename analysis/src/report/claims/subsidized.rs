//! Subsidized surveillance, where m·g fails: the adversary prices its exits
//! below cost, clients choose exits by the prices they fetch from the
//! services' adverts (whitepaper "GPU Node Competition": clients choose by
//! price), so its exits carry more sessions than its share g of exits.
//! Tests: m·g against what the adversary linked, at the honest price and
//! when it subsidizes. Sanity: both ends ≈ m·g_eff, g_eff measured from the
//! same sessions. Finding: g_eff against the price, with the market's.

use serde_json::Value as Json;

use super::super::common::{
    by_point, chi_square_sanity, chi_square_test, count, market_points, market_proportion, missing,
    of_point, source,
};
use super::super::data::Run;
use super::super::{Citation, Kind, Row, Section, Source, Table, Value};
use crate::estimate::{Proportion, wilson};
use crate::figure::{Figure, Point, Series, Style};
use crate::summary::LEVEL;

const ID: &str = "subsidized";
const TITLE: &str = "Subsidized surveillance: where P(link) ≈ m·g fails";
const NETWORK: &str = "subsidized_exits";
const MARKET: &str = "subsidized_market";
const TEST_HONEST: &str = "P(linked) ≈ m·g when the adversary prices like everyone";
const TEST_SUBSIDY: &str = "P(linked) ≈ m·g when the adversary prices below the others";
const SANITY: &str = "P(ends compromised) ≈ m·g_eff, g_eff measured from the same sessions";
const FINDING: &str = "the adversary's share of exit choices g_eff against its price";

fn citations() -> Vec<Citation> {
    vec![
        Citation {
            source: Source::Whitepaper,
            section: "Threat Model Tiers",
            paragraph: Some("Tier 3: Partial Collusion"),
            quote: "If ingress-candidate malicious fraction is m and Ghost malicious fraction \
                    is g",
        },
        Citation {
            source: Source::Whitepaper,
            section: "GPU Node Competition",
            paragraph: None,
            quote: "GPU nodes serve open models and quote prices similarly. Clients choose by \
                    utility:",
        },
    ]
}

/// A price factor in a point's parameters (network or market scenario).
fn factor_of(params: &std::collections::BTreeMap<String, Json>) -> (f64, f64) {
    let net = params.get("protocol.exit_pricing");
    let adv = net
        .and_then(|s| s.get("adversary_factor"))
        .or_else(|| {
            params
                .get("market.adversary.strategy")
                .and_then(|s| s.get("factor"))
        })
        .and_then(Json::as_f64)
        .unwrap_or(f64::NAN);
    let honest = net
        .and_then(|s| s.get("honest_factor"))
        .and_then(Json::as_f64)
        .unwrap_or(2.0);
    (adv, honest)
}

struct PricePoint {
    factor: f64,
    subsidized: bool,
    m: f64,
    g: f64,
    g_eff: Proportion,
    g_logit: Option<f64>,
    linked: Proportion,
    ends: Proportion,
}

/// The section.
pub fn section(run: &Run) -> Section {
    let planned = [
        (Kind::Test, TEST_HONEST),
        (Kind::Test, TEST_SUBSIDY),
        (Kind::Sanity, SANITY),
        (Kind::Finding, FINDING),
    ];
    let Some(w) = run.scenario(NETWORK) else {
        return missing(ID, TITLE, citations(), NETWORK, &planned);
    };
    let sessions = by_point(w);
    let data: Vec<PricePoint> = w
        .points
        .iter()
        .map(|p| {
            let ss = of_point(&sessions, p.point);
            let (adv, n) = count(ss, |s| s.exit_adversarial);
            let (linked, _) = count(ss, |s| s.linked);
            let (ends, _) = count(ss, |s| s.ends);
            let (factor, honest) = factor_of(&p.params);
            PricePoint {
                factor,
                subsidized: factor < honest,
                m: p.m,
                g: p.g,
                g_eff: wilson(adv, n, LEVEL),
                g_logit: p.g_eff_logit,
                linked: wilson(linked, n, LEVEL),
                ends: wilson(ends, n, LEVEL),
            }
        })
        .collect();
    let pairs = |subsidized: bool| -> Vec<(Proportion, f64)> {
        data.iter()
            .filter(|p| p.subsidized == subsidized)
            .map(|p| (p.linked, p.m * p.g))
            .collect()
    };
    let mg = Value::text("m·g, g the adversary's share of exits");
    let mut market = Vec::new();
    if let Some(m) = run.scenario(MARKET).and_then(|d| d.market.as_ref()) {
        for p in market_points(m) {
            let params: std::collections::BTreeMap<String, Json> = p
                .get("params")
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_default();
            market.push((factor_of(&params).0, market_proportion(&p, "g_eff")));
        }
    }
    let rows = vec![
        chi_square_test(TEST_HONEST, mg.clone(), &pairs(false)),
        chi_square_test(TEST_SUBSIDY, mg, &pairs(true)),
        chi_square_sanity(
            SANITY,
            Value::text("m·g_eff per point"),
            &data
                .iter()
                .map(|p| (p.ends, p.m * p.g_eff.estimate))
                .collect::<Vec<_>>(),
        ),
        finding(&data, &market),
    ];
    Section {
        id: ID,
        title: TITLE,
        citations: citations(),
        rows,
        notes: vec![
            "Every exit advertises its prices behind its advert's commitment (the adversary's \
             at a factor of upstream cost, honest ones at 2x). A client fetches each \
             service's capabilities over the DHT's encrypted request, checks them against \
             the commitment, and weights exits by the multinomial logit of the price of a \
             reference job (the protocol's price choice); nothing is handed to clients by \
             the simulator. g_eff is the share of sessions whose exit was the adversary's; \
             the logit's prediction from the advertised prices is drawn beside it."
                .into(),
            "Below cost the adversary pays for its share: `subsidized_market` reports its \
             losses per point (market.json, adversary_profit_usd), and measures the same \
             share among market jobs, where clients also weigh willingness to pay and \
             capacity."
                .into(),
        ],
        tables: vec![table(&data)],
        figures: figures(&data, &market),
        source: match run.scenario(MARKET) {
            Some(m) => format!("{}; {}", source(w), source(m)),
            None => source(w),
        },
    }
}

fn finding(data: &[PricePoint], market: &[(f64, Proportion)]) -> Row {
    if data.is_empty() {
        return Row::not_measured(Kind::Finding, FINDING, "no points");
    }
    let mut v: Vec<(String, Value)> = data
        .iter()
        .map(|p| {
            (
                format!("{}x, sessions", p.factor),
                Value::Proportion(p.g_eff),
            )
        })
        .collect();
    v.extend(
        market
            .iter()
            .map(|(f, g)| (format!("{f}x, market jobs"), Value::Proportion(*g))),
    );
    Row::finding(
        FINDING,
        Value::List(v),
        "An adversary that undercuts the market's price draws far more than its share g of \
         exit choices, so the linked share follows m·g_eff, not m·g: the estimate's \
         \"independent route sampling\" fails once selection follows price, and the \
         adversary buys linkage with its subsidy.",
    )
}

fn table(data: &[PricePoint]) -> Table {
    let mut t = Table::new(
        "Per adversary price factor: g, g_eff measured from sessions (95% Wilson) and the \
         logit's prediction, m·g and m·g_eff, P(linked) and P(ends compromised).",
        &[
            "adversary price",
            "g",
            "g_eff (sessions)",
            "g_eff (logit)",
            "m·g",
            "m·g_eff",
            "P(linked)",
            "P(ends)",
        ],
    );
    for p in data {
        t.rows.push(vec![
            Value::Ratio(p.factor),
            Value::num(p.g, 3, ""),
            Value::Proportion(p.g_eff),
            p.g_logit.map_or(Value::None, |g| Value::num(g, 3, "")),
            Value::num(p.m * p.g, 4, ""),
            Value::num(p.m * p.g_eff.estimate, 4, ""),
            Value::Proportion(p.linked),
            Value::Proportion(p.ends),
        ]);
    }
    t
}

fn figures(data: &[PricePoint], market: &[(f64, Proportion)]) -> Vec<Figure> {
    let ci = |x: f64, p: &Proportion| Point::with_ci(x, p.estimate, p.lo, p.hi);
    let hi = data
        .iter()
        .map(|p| p.linked.hi.max(p.m * p.g_eff.estimate))
        .fold(0.0, f64::max);
    vec![
        Figure {
            name: "subsidized_g_eff".into(),
            title: "Effective exit share against price".into(),
            caption: "The adversary's share of exit choices against its price (multiple of \
                      upstream cost; honest exits at 2x): measured among network sessions \
                      and among market jobs (95% Wilson), and the logit's prediction from \
                      the advertised prices."
                .into(),
            x_label: "adversary's price / upstream cost".into(),
            y_label: "g_eff".into(),
            series: vec![
                Series {
                    label: "logit over advertised prices".into(),
                    style: Style::Line,
                    points: data
                        .iter()
                        .filter_map(|p| p.g_logit.map(|g| Point::at(p.factor, g)))
                        .collect(),
                },
                Series {
                    label: "network sessions".into(),
                    style: Style::Points,
                    points: data.iter().map(|p| ci(p.factor, &p.g_eff)).collect(),
                },
                Series {
                    label: "market jobs".into(),
                    style: Style::Points,
                    points: market.iter().map(|(f, g)| ci(*f, g)).collect(),
                },
            ],
        },
        Figure {
            name: "subsidized_link".into(),
            title: "P(linked) against m·g_eff and m·g".into(),
            caption: "Share of sessions the adversary linked (95% Wilson) against m·g_eff \
                      (g_eff measured), with the identity line, and the same measurements \
                      against the whitepaper's m·g."
                .into(),
            x_label: "m·g_eff (or m·g)".into(),
            y_label: "P(linked)".into(),
            series: vec![
                Series {
                    label: "against m·g_eff".into(),
                    style: Style::Points,
                    points: data
                        .iter()
                        .map(|p| {
                            ci(p.m * p.g_eff.estimate, &p.linked).noted(format!("{}x", p.factor))
                        })
                        .collect(),
                },
                Series {
                    label: "y = x".into(),
                    style: Style::Line,
                    points: vec![Point::at(0.0, 0.0), Point::at(hi, hi)],
                },
                Series {
                    label: "against m·g".into(),
                    style: Style::Points,
                    points: data.iter().map(|p| ci(p.m * p.g, &p.linked)).collect(),
                },
            ],
        },
    ]
}
