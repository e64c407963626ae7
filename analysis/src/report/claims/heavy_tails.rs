//! Heavy-tailed outputs (whitepaper "Ghost Node Unit Economics": quotes
//! "should include confidence margins or hard caps to avoid
//! negative-expectation jobs"). The test: one price per request without a
//! cap leaves jobs below the Ghost's realised cost. The capped half is a
//! sanity check (the cap is defined as the break-even length), and what
//! the cap costs clients is a finding.

use serde_json::Value as Json;

use super::super::common::{market_points, market_proportion, missing, source};
use super::super::data::Run;
use super::super::{Citation, Kind, Row, Section, Source, Table, Value};
use crate::estimate::Proportion;
use crate::figure::{Figure, Point, Series, Style};

const ID: &str = "heavy_tails";
const TITLE: &str = "Heavy-tailed outputs need caps or margins";
const TEST: &str = "per-request prices without a cap leave jobs below cost";
const SANITY: &str = "with the cap (the break-even length) no job is below cost";
const FINDING: &str = "answers cut by the cap, and metered per-token quotes";

fn citations() -> Vec<Citation> {
    vec![Citation {
        source: Source::Whitepaper,
        section: "Ghost Node Unit Economics",
        paragraph: None,
        quote: "If output token usage is heavy-tailed, quotes should include confidence \
                margins or hard caps to avoid negative-expectation jobs.",
    }]
}

fn form_label(params: Option<&Json>) -> &'static str {
    let form = params.and_then(|p| p.get("market.price_form"));
    match (
        form.and_then(|f| f.get("kind")).and_then(Json::as_str),
        form.and_then(|f| f.get("capped")).and_then(Json::as_bool),
    ) {
        (Some("per_request"), Some(true)) => "per request, capped",
        (Some("per_request"), _) => "per request, no cap",
        (Some("per_token"), _) => "per token (metered)",
        _ => "-",
    }
}

/// The section.
pub fn section(run: &Run) -> Section {
    let planned = [
        (Kind::Test, TEST),
        (Kind::Sanity, SANITY),
        (Kind::Finding, FINDING),
    ];
    let Some((d, m)) = run
        .scenario(ID)
        .and_then(|d| d.market.as_ref().map(|m| (d, m)))
    else {
        return missing(ID, TITLE, citations(), ID, &planned);
    };
    let mut table = Table::new(
        "Per quote form: jobs paid below realised cost and answers cut by the cap (95% Wilson).",
        &["quote form", "below realised cost", "answer truncated"],
    );
    let mut pts = Vec::new();
    let mut by_form: Vec<(&str, Proportion, Proportion)> = Vec::new();
    for (i, p) in market_points(m).iter().enumerate() {
        let label = form_label(p.get("params"));
        let (neg, cut) = (
            market_proportion(p, "negative_jobs"),
            market_proportion(p, "truncated_jobs"),
        );
        table.rows.push(vec![
            Value::text(label),
            Value::Proportion(neg),
            Value::Proportion(cut),
        ]);
        pts.push(Point::with_ci(i as f64, neg.estimate, neg.lo, neg.hi).noted(label));
        by_form.push((label, neg, cut));
    }
    let find = |l: &str| by_form.iter().find(|(f, _, _)| *f == l);
    let test = match find("per request, no cap") {
        Some((_, neg, _)) if neg.n > 0 => Row::test(
            TEST,
            Value::text("a share above 0"),
            Value::Proportion(*neg),
            "share of served jobs the client paid less for than the Ghost's API, bandwidth \
             and risk cost of what it served, with its 95% Wilson interval; consistent when \
             the interval excludes 0",
            neg.lo > 0.0,
        ),
        _ => Row::not_measured(
            Kind::Test,
            TEST,
            "no uncapped per-request point served jobs",
        ),
    };
    let sanity = match find("per request, capped") {
        Some((_, neg, _)) if neg.n > 0 => Row::sanity(
            SANITY,
            Value::text("0 jobs"),
            Value::Proportion(*neg),
            "the cap is the longest answer the price covers at the Ghost's unit cost, so no \
             served job can be below it",
            neg.k == 0,
        ),
        _ => Row::not_measured(Kind::Sanity, SANITY, "no capped point served jobs"),
    };
    let finding = {
        match (find("per request, capped"), find("per token (metered)")) {
            (Some((_, _, cut)), Some((_, metered, _))) => Row::finding(
                FINDING,
                Value::List(vec![
                    ("truncated with the cap".into(), Value::Proportion(*cut)),
                    ("metered below cost".into(), Value::Proportion(*metered)),
                ]),
                "A hard cap avoids negative-expectation jobs by cutting the answers beyond it, a \
             cost the client bears; the protocol's metered per-token quotes avoid them \
             without cutting anything, since the price follows the tokens served.",
            ),
            _ => Row::not_measured(
                Kind::Finding,
                FINDING,
                "the capped or metered point is missing",
            ),
        }
    };
    let rows = vec![test, sanity, finding];
    Section {
        id: ID,
        title: TITLE,
        citations: citations(),
        rows,
        notes: vec![
            "Ghosts at 2x quote one price per request from the mean output length (the \
             protocol's quote carries it as an input price, output free); output lengths \
             follow the BurstGPT trace's mean, P90 and P99 (within ±10%, a unit test). A job \
             is negative-expectation when the client paid less than the Ghost's API, \
             bandwidth and risk cost of what it served."
                .into(),
        ],
        tables: vec![table],
        figures: figures(pts),
        source: source(d),
    }
}

/// The figure: share of jobs below cost per quote form.
fn figures(pts: Vec<Point>) -> Vec<Figure> {
    vec![Figure {
        name: "heavy_tails".into(),
        title: "Negative-expectation jobs by quote form".into(),
        caption: "Share of jobs paid below the Ghost's realised cost (95% Wilson), per \
                  quote form."
            .into(),
        x_label: "quote form".into(),
        y_label: "share of jobs below cost".into(),
        series: vec![Series {
            label: "measured".into(),
            style: Style::Points,
            points: pts,
        }],
    }]
}
