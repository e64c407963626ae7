//! The seeds' other systems head to head with Peer2Prompt (whitepaper
//! "Attack Economics", "Comparison to centralized breach"; "Conclusion";
//! issue 19): LLM-Tor (seed 004) and the direct provider API on the same
//! workload, relays and adversary model. What share of one user's history
//! and of everyone's an adversary links for what budget, and what each
//! system costs in latency. The whitepaper gives no number: findings, and
//! one sanity check (the direct API links by construction).

use super::super::common::{
    LEGAL_ORDER_USD, NODE_USD_PER_MONTH, by_point, loaded, mean_ci, median_ms, missing, of_point,
    source,
};
use super::super::data::{Run, ScenarioData, Session};
use super::super::{Citation, Kind, Row, Section, Source, Table, Value};
use crate::estimate::{Mean, Proportion, bootstrap, quantile, wilson};
use crate::figure::{Figure, Point, Series, Style};
use crate::summary::LEVEL;
use peer2prompt_sim::scenario::{Scenario, System};

const ID: &str = "baselines";
const TITLE: &str = "Head to head: Peer2Prompt, LLM-Tor and the direct API under one adversary";
const HEADLINE: &str =
    "share of one user's history and of all users' histories linked, against the budget";
const DIRECT: &str = "the direct API's provider links every answered session";
const LATENCY: &str = "time to first token and total latency, per system";

/// A user's history counts as exposed in blanket monitoring when at least
/// this share of its answered turns is linked.
const BLANKET: f64 = 0.5;

fn citations() -> Vec<Citation> {
    vec![
        Citation {
            source: Source::Whitepaper,
            section: "Attack Economics",
            paragraph: Some("Comparison to centralized breach"),
            quote: "In a centralized system, a single legal order or infrastructure breach \
                    exposes complete history at near-zero marginal cost per user.",
        },
        Citation {
            source: Source::Whitepaper,
            section: "Conclusion",
            paragraph: None,
            quote: "Peer2Prompt's claim is practical and limited: replace cheap mass linkage \
                    with costly targeted pursuit.",
        },
    ]
}

/// One point: a system under one adversary.
struct Contender {
    system: System,
    label: String,
    budget_usd: f64,
    sessions: Proportion,
    turns: u64,
    target: Mean,
    blanket: Proportion,
    ttft: Mean,
    /// Per answered turn (`turns.parquet`): median time to first token
    /// and to the last token, ms; `None` without turn records.
    turn: Option<(Mean, Mean)>,
}

/// The adversary's budget for one month of monitoring (the report's cost
/// model): its relays and exits at [`NODE_USD_PER_MONTH`], and one
/// [`LEGAL_ORDER_USD`] per centralized party it turns (the baselines'
/// operator, Peer2Prompt's colluding mints).
fn budget_usd(sc: &Scenario) -> f64 {
    let a = &sc.adversary;
    let p = &sc.population;
    let nodes = (a.entry_fraction_m.get() * f64::from(p.relays)).round()
        + match sc.system {
            System::Peer2prompt => (a.exit_fraction_g.get() * f64::from(p.ghosts + p.gpus)).round(),
            _ => 0.0,
        };
    let orders = match sc.system {
        System::Peer2prompt => a.mint_exit.as_ref().map_or(0, |m| m.mints),
        _ => u32::from(a.operator.is_some()),
    };
    nodes * NODE_USD_PER_MONTH + f64::from(orders) * LEGAL_ORDER_USD
}

fn label(sc: &Scenario) -> String {
    let a = &sc.adversary;
    let m = a.entry_fraction_m.get();
    match sc.system {
        System::Peer2prompt => {
            let mint = if a.mint_exit.is_some() {
                " + a mint"
            } else {
                ""
            };
            format!("Peer2Prompt: m = g = {m}{mint}")
        }
        System::LlmTor => {
            let per = sc.protocol.llm_tor.tokens_per_purchase;
            match a.operator {
                Some(_) => format!("LLM-Tor: operator + m = {m}, {per} token(s) per purchase"),
                None => format!("LLM-Tor: m = {m}, honest operator"),
            }
        }
        System::Direct => "direct API: the provider's log".into(),
    }
}

/// Per client: the share of its answered turns in linked sessions.
fn per_client(ss: &[&Session]) -> Vec<f64> {
    let mut by: std::collections::BTreeMap<(u32, u32), (u64, u64)> = Default::default();
    for s in ss.iter().filter(|s| s.turns > 0) {
        let e = by.entry((s.replicate, s.client)).or_default();
        e.1 += u64::from(s.turns);
        if s.linked_any {
            e.0 += u64::from(s.turns);
        }
    }
    by.values().map(|&(k, n)| k as f64 / n as f64).collect()
}

fn contenders(d: &ScenarioData) -> Vec<Contender> {
    let Some(l) = loaded(d) else {
        return Vec::new();
    };
    let points = by_point(d);
    l.points
        .iter()
        .map(|pt| {
            let ss = of_point(&points, pt.index);
            let answered: Vec<&Session> = ss.iter().copied().filter(|s| s.turns > 0).collect();
            let linked = answered.iter().filter(|s| s.linked_any).count() as u64;
            let shares = per_client(ss);
            let exposed = shares.iter().filter(|&&x| x >= BLANKET).count() as u64;
            let seed = 0xba5e_0000 + 4 * u64::from(pt.index);
            Contender {
                system: pt.scenario.system,
                label: label(&pt.scenario),
                budget_usd: budget_usd(&pt.scenario),
                sessions: wilson(linked, answered.len() as u64, LEVEL),
                turns: answered.iter().map(|s| u64::from(s.turns)).sum(),
                target: mean_ci(&shares, seed),
                blanket: wilson(exposed, shares.len() as u64, LEVEL),
                ttft: median_ms(&answered, seed + 1, |s| s.first_token_ns),
                turn: turn_latency(d, pt.index, seed + 2),
            }
        })
        .collect()
}

/// Medians over a point's answered turns: to the first token and to the
/// last, ms (95% bootstrap).
fn turn_latency(d: &ScenarioData, point: u32, seed: u64) -> Option<(Mean, Mean)> {
    let ts: Vec<_> = d.turns.iter().filter(|((p, _), _)| *p == point).collect();
    if ts.is_empty() {
        return None;
    }
    let ms = |f: &dyn Fn(&peer2prompt_sim::record::TurnRecord) -> u64| -> Vec<f64> {
        ts.iter()
            .map(|(_, t)| f(t).saturating_sub(t.started_ns) as f64 / 1e6)
            .collect()
    };
    let med = |v: &[f64]| quantile(v, 0.5);
    Some((
        bootstrap(&ms(&|t| t.first_token_ns), med, 1000, LEVEL, seed),
        bootstrap(&ms(&|t| t.done_ns), med, 1000, LEVEL, seed + 1),
    ))
}

fn latency_value(c: &Contender) -> Value {
    match c.turn {
        Some((first, last)) => Value::List(vec![
            (
                "session's first turn".into(),
                Value::interval(c.ttft, 0, " ms"),
            ),
            ("TTFT per turn".into(), Value::interval(first, 0, " ms")),
            (
                "last token per turn".into(),
                Value::interval(last, 0, " ms"),
            ),
        ]),
        None => Value::interval(c.ttft, 0, " ms"),
    }
}

/// The section.
pub fn section(run: &Run) -> Section {
    let rows_missing = [
        (Kind::Finding, HEADLINE),
        (Kind::Sanity, DIRECT),
        (Kind::Finding, LATENCY),
    ];
    let Some(d) = run.scenario(ID) else {
        return missing(ID, TITLE, citations(), ID, &rows_missing);
    };
    let data = contenders(d);
    if data.is_empty() {
        return missing(ID, TITLE, citations(), ID, &rows_missing);
    }
    Section {
        id: ID,
        title: TITLE,
        citations: citations(),
        rows: vec![headline_row(&data), direct_row(&data), latency_row(&data)],
        notes: notes(),
        tables: vec![table(&data)],
        figures: figures(&data),
        source: source(d),
    }
}

fn headline_row(data: &[Contender]) -> Row {
    Row::finding(
        HEADLINE,
        Value::List(
            data.iter()
                .map(|c| {
                    (
                        c.label.clone(),
                        Value::List(vec![
                            ("budget".into(), Value::num(c.budget_usd, 0, " USD/month")),
                            (
                                "one user's history".into(),
                                Value::interval(c.target, 3, ""),
                            ),
                            ("users exposed".into(), Value::Proportion(c.blanket)),
                        ]),
                    )
                })
                .collect(),
        ),
        "For each system and adversary: the mean over users of the share of each user's \
         answered turns that lie in sessions linked to it by any channel the adversary holds \
         (95% bootstrap over users), and the share of users with at least half their history \
         linked (blanket monitoring, 95% Wilson), with the month's budget on the report's \
         cost model.",
    )
}

fn direct_row(data: &[Contender]) -> Row {
    let direct: Vec<&Contender> = data.iter().filter(|c| c.system == System::Direct).collect();
    let Some(c) = direct.first() else {
        return Row::not_measured(Kind::Sanity, DIRECT, "no direct-API point");
    };
    Row::sanity(
        DIRECT,
        Value::Percent(1.0),
        Value::Proportion(c.sessions),
        "By construction: every request names its account, and the provider's attacker \
         attributes each logged prompt to that account. A share under 100% would mean the \
         log or its scoring lost requests.",
        c.sessions.n > 0 && c.sessions.k == c.sessions.n,
    )
}

fn latency_row(data: &[Contender]) -> Row {
    Row::finding(
        LATENCY,
        Value::List(
            data.iter()
                .map(|c| (c.label.clone(), latency_value(c)))
                .collect(),
        ),
        "Median time from a session's start to the first token of its first turn (95% \
         bootstrap): everything a user waits for before the answer starts, setup included. \
         Sessions differ by system: Peer2Prompt's is a pinned route to one service (quote, \
         circuit build and first payment), LLM-Tor's a circuit to the proxy (circuit build, \
         and a purchase when no token is left), the direct API's a conversation. Per turn \
         (`turns.parquet`): the median time from a turn's start to its first and to its \
         last token, over every answered turn.",
    )
}

fn table(data: &[Contender]) -> Table {
    let mut t = Table::new(
        "Per point: the month's budget on the cost model, answered sessions and turns, \
         sessions linked by any channel (95% Wilson), the mean share of one user's history \
         linked (95% bootstrap over users), users with at least half their history linked \
         (95% Wilson), the median time to the first token of a session's first turn, and \
         per answered turn the median times to its first and last token (ms, 95% \
         bootstrap).",
        &[
            "system and adversary",
            "budget (USD/month)",
            "sessions",
            "turns",
            "sessions linked",
            "one user's history",
            "users exposed",
            "TTFT median",
            "TTFT per turn",
            "last token per turn",
        ],
    );
    for c in data {
        t.rows.push(vec![
            Value::text(c.label.clone()),
            Value::num(c.budget_usd, 0, ""),
            Value::count(c.sessions.n),
            Value::count(c.turns),
            Value::Proportion(c.sessions),
            Value::interval(c.target, 3, ""),
            Value::Proportion(c.blanket),
            Value::interval(c.ttft, 0, ""),
            c.turn
                .map_or(Value::None, |(f, _)| Value::interval(f, 0, "")),
            c.turn
                .map_or(Value::None, |(_, l)| Value::interval(l, 0, "")),
        ]);
    }
    t
}

fn notes() -> Vec<String> {
    vec![
        format!(
            "Cost model (an assumption, not a measurement): each relay or exit the adversary \
             runs costs {NODE_USD_PER_MONTH} USD a month; turning a centralized party (the \
             direct API's provider, LLM-Tor's proxy, a Peer2Prompt mint) by a legal order \
             or a breach costs {LEGAL_ORDER_USD} USD once. The whitepaper calls that cost \
             \"near-zero\" per user; only its order of magnitude matters here."
        ),
        "Adversaries. Peer2Prompt: colluding relays and exits (fractions m = g) with the \
         entry–exit matcher, and the only mint colluding with those exits (the mint-exit \
         attacker). LLM-Tor: its operator sees every prompt and response, the circuit's last \
         relay, and each purchase and issuance with the account; blind signatures hide \
         which issuance a token came from, so it attributes a circuit's first redemption to \
         the latest issuance within 60 s (purchase timing); with colluding relays it also \
         runs the entry–exit matcher through the proxy. Direct API: the provider's own \
         log, which a subpoena hands over. Under legal compulsion the LLM-Tor operator \
         hands over the same logs: the operator points measure what they yield."
            .into(),
        "Price per request. Peer2Prompt's quotes are the scenario's price (5 and 20 USD per \
         million input and output tokens), twice the Ghost's provider cost (gpt-4o's list \
         price, 2.5 and 10), the whitepaper's worked example: a premium of 2× by \
         configuration. The direct API pays the list price. LLM-Tor's seed states no credit \
         price, so its premium is not measured."
            .into(),
        "Not modelled: the LLM-Tor moderation API (it sees what the proxy sees), stylometry \
         in prompts (every system leaks it equally), and Tor's guard nodes (LLM-Tor's \
         circuits draw a fresh entry each time, as Peer2Prompt's do here)."
            .into(),
    ]
}

fn series(data: &[Contender], system: System, y: &dyn Fn(&Contender) -> Point) -> Series {
    let mut points: Vec<Point> = data
        .iter()
        .filter(|c| c.system == system && c.target.n > 0)
        .map(y)
        .collect();
    points.sort_by(|a, b| a.x.total_cmp(&b.x));
    let label = match system {
        System::Peer2prompt => "Peer2Prompt",
        System::LlmTor => "LLM-Tor",
        System::Direct => "direct API",
    };
    Series {
        label: label.into(),
        style: Style::Points,
        points,
    }
}

fn figures(data: &[Contender]) -> Vec<Figure> {
    let x = |c: &Contender| c.budget_usd.max(1.0).log10();
    let target = |c: &Contender| Point::with_ci(x(c), c.target.estimate, c.target.lo, c.target.hi);
    let blanket =
        |c: &Contender| Point::with_ci(x(c), c.blanket.estimate, c.blanket.lo, c.blanket.hi);
    let systems = [System::Peer2prompt, System::LlmTor, System::Direct];
    vec![
        Figure {
            name: "baselines_history_vs_budget".into(),
            title: "Share of one user's history linked against the adversary's budget".into(),
            caption: "Mean share of a user's answered turns linked (95% bootstrap over \
                      users) against log10 of the adversary's monthly budget on the \
                      report's cost model, per system. The direct API's provider links \
                      everything for one legal order; LLM-Tor's operator links by purchase \
                      timing and, with colluding relays, by entry–exit matching; \
                      Peer2Prompt's adversary buys relays, exits and a mint."
                .into(),
            x_label: "log10 budget (USD per month)".into(),
            y_label: "share of one user's history linked".into(),
            series: systems.iter().map(|&s| series(data, s, &target)).collect(),
        },
        Figure {
            name: "baselines_blanket_vs_budget".into(),
            title: "Blanket monitoring: users with half their history linked".into(),
            caption: "Share of users with at least half of their answered turns linked (95% \
                      Wilson) against log10 of the adversary's monthly budget, per system."
                .into(),
            x_label: "log10 budget (USD per month)".into(),
            y_label: "users with half their history linked".into(),
            series: systems.iter().map(|&s| series(data, s, &blanket)).collect(),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(system: &str, m: f64, extra: &str) -> Scenario {
        let text = format!(
            "name: t\nseed: 1\nsystem: {system}\npopulation: {{relays: 30, ghosts: 6, gpus: 0, clients: 3}}\n\
             workload: {{duration_s: 60, sessions_per_client_per_hour: 60, prompt_tokens: {{kind: fixed, value: 10}}, output_tokens: {{kind: fixed, value: 10}}}}\n\
             adversary: {{entry_fraction_m: {m}, exit_fraction_g: {m}{extra}}}\n"
        );
        peer2prompt_sim::scenario::load_str(std::path::Path::new("t.yaml"), &text)
            .expect("scenario")
            .base
    }

    #[test]
    fn budgets_follow_the_cost_model() {
        // 3 relays and 1 exit (round(0.1 * 6)), and one mint order.
        let p2p = scenario("peer2prompt", 0.1, ", mint_exit: {mints: 1}");
        assert_eq!(budget_usd(&p2p), 4.0 * NODE_USD_PER_MONTH + LEGAL_ORDER_USD);
        // LLM-Tor: relays only, and one order for the operator.
        let tor = scenario("llm_tor", 0.1, ", operator: {purchase_window_s: 60}");
        assert_eq!(budget_usd(&tor), 3.0 * NODE_USD_PER_MONTH + LEGAL_ORDER_USD);
        let direct = scenario("direct", 0.0, ", operator: {purchase_window_s: 60}");
        assert_eq!(budget_usd(&direct), LEGAL_ORDER_USD);
    }

    #[test]
    fn history_shares_weight_turns_per_user() {
        let s = |client, turns, linked_any| Session {
            client,
            turns,
            linked_any,
            ..Session::default()
        };
        let ss = [s(0, 3, true), s(0, 1, false), s(1, 2, false), s(1, 0, true)];
        let refs: Vec<&Session> = ss.iter().collect();
        assert_eq!(per_client(&refs), vec![0.75, 0.0]);
    }
}
