//! `report.md` and a self-contained `report.html` (figures inlined as
//! base64 PNG), and the only place values become text.

use std::fmt::Write as _;
use std::path::Path;

use base64::Engine as _;

use super::data::Run;
use super::{Citation, Kind, Outcome, ResultLine, Row, Section, Source, Table, Value};

fn pct(p: f64) -> String {
    format!("{:.2}%", p * 100.0)
}

/// A value as text.
pub fn value(v: &Value) -> String {
    match v {
        Value::None => "-".into(),
        Value::Text(s) => s.clone(),
        Value::Number {
            value,
            digits,
            unit,
        } => {
            if value.is_finite() {
                format!("{value:.digits$}{unit}")
            } else {
                "-".into()
            }
        }
        Value::Percent(p) => pct(*p),
        Value::Proportion(p) if p.n == 0 => "- (none to count)".into(),
        Value::Interval { mean, .. } if mean.n == 0 => "- (no data)".into(),
        Value::Proportion(p) => format!(
            "{} [{}, {}] ({} of {})",
            pct(p.estimate),
            pct(p.lo),
            pct(p.hi),
            p.k,
            p.n
        ),
        Value::Interval { mean, digits, unit } => {
            let f = |x: f64| {
                if x.is_finite() {
                    format!("{x:.digits$}")
                } else {
                    "∞".into()
                }
            };
            format!(
                "{}{unit} [{}, {}]",
                f(mean.estimate),
                f(mean.lo),
                f(mean.hi)
            )
        }
        Value::ChiSquare { stat, dof, p } => format!("χ² = {stat:.2} on {dof} dof, p = {p:.3}"),
        Value::Ratio(r) => {
            if r.is_finite() {
                format!("{r:.2}x")
            } else {
                "-".into()
            }
        }
        Value::List(items) => items
            .iter()
            .map(|(k, v)| format!("{k}: {}", value(v)))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// A value for a summary table: long lists cut to their first items.
fn brief(v: &Value) -> Value {
    const ITEMS: usize = 3;
    match v {
        Value::List(items) if items.len() > ITEMS => {
            let mut head: Vec<(String, Value)> = items[..ITEMS].to_vec();
            head.push((
                format!("… {} more", items.len() - ITEMS),
                Value::text("in the section"),
            ));
            Value::List(head)
        }
        other => other.clone(),
    }
}

/// A row's outcome in words.
pub fn outcome(kind: Kind, o: Outcome) -> &'static str {
    match (kind, o) {
        (_, Outcome::NotMeasured) => "not measured",
        (_, Outcome::Consistent) => "consistent",
        (_, Outcome::Inconsistent) => "inconsistent",
        (_, Outcome::Holds) => "holds",
        (_, Outcome::Broken) => "BROKEN",
        (_, Outcome::Measured) => "measured",
    }
}

fn kind_heading(k: Kind) -> (&'static str, &'static str) {
    match k {
        Kind::Test => (
            "Tests of whitepaper claims",
            "A quantity the protocol and its adversary produced, against the whitepaper's \
             value through a confidence interval: these can fail.",
        ),
        Kind::Sanity => (
            "Sanity checks of the testbed",
            "Identities that hold by construction when the testbed is right (samplers, \
             arithmetic, definitions). Welcome, but not reproductions of anything.",
        ),
        Kind::Finding => (
            "Findings",
            "Measurements with intervals and no closed form to test against: what they \
             mean is said beside them, and they carry no verdict.",
        ),
    }
}

fn citation(c: &Citation) -> String {
    let text = match c.source {
        Source::Whitepaper => "whitepaper",
        Source::DesignNotes => "design notes (not the whitepaper)",
    };
    let at = match c.paragraph {
        Some(p) => format!("\"{}\", paragraph \"{p}\"", c.section),
        None => format!("\"{}\"", c.section),
    };
    format!("{text}, {at}")
}

/// Every row, flattened.
pub fn results(sections: &[Section]) -> Vec<ResultLine> {
    sections
        .iter()
        .flat_map(|s| {
            s.rows.iter().map(|r| ResultLine {
                section: s.id.to_owned(),
                kind: r.kind,
                name: r.name.clone(),
                outcome: r.outcome,
                measured: value(&r.measured),
            })
        })
        .collect()
}

fn header(run: &Run) -> String {
    format!(
        "{} reproduction set, {}, git {}",
        if run.quick { "Quick" } else { "Full" },
        run.tool,
        crate::manifest::short_commit(&run.git_commit)
    )
}

/// The rows of `kind` across sections, as one summary table.
fn summary(sections: &[Section], kind: Kind) -> Table {
    let (title, _) = kind_heading(kind);
    let header: &[&str] = match kind {
        Kind::Finding => &["section", "finding", "measured", "result"],
        _ => &["section", "row", "expected", "measured", "result"],
    };
    let mut t = Table::new(title, header);
    for s in sections {
        for r in s.rows.iter().filter(|r| r.kind == kind) {
            let mut cells = vec![Value::text(format!("[{}](#{})", s.title, s.id))];
            cells.push(Value::text(r.name.clone()));
            if kind != Kind::Finding {
                cells.push(r.expected.clone());
            }
            cells.push(brief(&r.measured));
            cells.push(Value::text(outcome(r.kind, r.outcome)));
            t.rows.push(cells);
        }
    }
    t
}

fn md_table(t: &Table) -> String {
    let esc = |s: &str| s.replace('|', "\\|");
    let mut s = format!("*{}*\n\n", t.caption);
    let _ = writeln!(
        s,
        "| {} |",
        t.header
            .iter()
            .map(|h| esc(h))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(s, "|{}", "---|".repeat(t.header.len()));
    for r in &t.rows {
        let _ = writeln!(
            s,
            "| {} |",
            r.iter()
                .map(|c| esc(&value(c)))
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    s
}

fn md_row(r: &Row) -> String {
    let kind = match r.kind {
        Kind::Test => "Test",
        Kind::Sanity => "Sanity check",
        Kind::Finding => "Finding",
    };
    let mut s = format!("- **{kind}: {}** — {}", r.name, outcome(r.kind, r.outcome));
    if r.kind != Kind::Finding {
        let _ = write!(s, "; expected {}", value(&r.expected));
    }
    let _ = write!(s, "; measured {}. ", value(&r.measured));
    s.push_str(match (r.kind, r.outcome) {
        (_, Outcome::NotMeasured) => "Why: ",
        (Kind::Finding, _) => "What it means: ",
        _ => "Method: ",
    });
    s.push_str(&r.method);
    s.push('\n');
    s
}

/// The Markdown report.
pub fn markdown(run: &Run, sections: &[Section]) -> String {
    let mut s = String::from("# Peer2Prompt whitepaper reproduction\n\n");
    let _ = writeln!(s, "{}.\n", header(run));
    s.push_str(
        "Every row below is one of three kinds, kept apart: a **test** of a whitepaper \
         claim (it can fail), a **sanity check** of the testbed (it holds by \
         construction), or a **finding** (a measurement with no closed form). Each section \
         quotes the text it rests on, with its heading; figures are in `figures/` as PNG \
         and SVG with a CSV of the plotted points beside each. `p2psim report DIR` \
         rebuilds this file from the datasets.\n\n",
    );
    for k in [Kind::Test, Kind::Sanity, Kind::Finding] {
        let (_, blurb) = kind_heading(k);
        let _ = writeln!(s, "{blurb}\n");
        s.push_str(&md_table(&summary(sections, k)));
        s.push('\n');
    }
    for c in sections {
        let _ = write!(s, "\n<a id=\"{}\"></a>\n## {}\n\n", c.id, c.title);
        for q in &c.citations {
            let _ = write!(s, "> {}\n>\n> — {}\n\n", q.quote, citation(q));
        }
        for r in &c.rows {
            s.push_str(&md_row(r));
        }
        let _ = write!(s, "- **Produced by:** {}\n\n", c.source);
        for n in &c.notes {
            let _ = write!(s, "{n}\n\n");
        }
        for f in &c.figures {
            let _ = write!(
                s,
                "![{}](figures/{}.png)\n\n*Figure: {}* ([SVG](figures/{}.svg), \
                 [data](figures/{}.csv))\n\n",
                f.title, f.name, f.caption, f.name, f.name
            );
        }
        for t in &c.tables {
            s.push_str(&md_table(t));
            s.push('\n');
        }
    }
    s
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Inline Markdown: `code` spans and `[text](#anchor)` links.
fn inline(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in esc(s).split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(&links(part));
        }
    }
    out
}

/// `[text](#anchor)` to an HTML link (already escaped text).
fn links(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(open) = rest.find('[') {
        let Some(mid) = rest[open..].find("](#").map(|m| open + m) else {
            break;
        };
        let Some(close) = rest[mid..].find(')').map(|c| mid + c) else {
            break;
        };
        out.push_str(&rest[..open]);
        let _ = write!(
            out,
            "<a href=\"#{}\">{}</a>",
            &rest[mid + 3..close],
            &rest[open + 1..mid]
        );
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

fn html_table(s: &mut String, t: &Table) {
    let _ = write!(s, "<table><caption>{}</caption><tr>", esc(&t.caption));
    for h in &t.header {
        let _ = write!(s, "<th>{}</th>", esc(h));
    }
    s.push_str("</tr>\n");
    for r in &t.rows {
        s.push_str("<tr>");
        for c in r {
            let text = value(c);
            let class = match text.as_str() {
                "consistent" | "holds" => " class=\"ok\"",
                "inconsistent" | "BROKEN" => " class=\"bad\"",
                _ => "",
            };
            let _ = write!(s, "<td{class}>{}</td>", inline(&text));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table>\n");
}

fn html_row(s: &mut String, r: &Row) {
    let kind = match r.kind {
        Kind::Test => "Test",
        Kind::Sanity => "Sanity check",
        Kind::Finding => "Finding",
    };
    let _ = write!(
        s,
        "<li><b>{kind}: {}</b> — <span class=\"v\">{}</span>",
        esc(&r.name),
        outcome(r.kind, r.outcome)
    );
    if r.kind != Kind::Finding {
        let _ = write!(s, "; expected {}", inline(&value(&r.expected)));
    }
    let label = match (r.kind, r.outcome) {
        (_, Outcome::NotMeasured) => "Why",
        (Kind::Finding, _) => "What it means",
        _ => "Method",
    };
    let _ = writeln!(
        s,
        "; measured {}.<br><small>{label}: {}</small></li>",
        inline(&value(&r.measured)),
        inline(&r.method)
    );
}

/// The HTML report, figures embedded from `figures`.
pub fn html(run: &Run, sections: &[Section], figures: &Path) -> String {
    let mut s = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Peer2Prompt whitepaper reproduction</title><style>\
         body{font-family:sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem;line-height:1.45}\
         table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #bbb;padding:.25rem .5rem;font-size:.9rem;vertical-align:top}\
         caption{text-align:left;font-weight:bold;padding:.25rem 0}\
         blockquote{border-left:4px solid #ccc;margin:0 0 .5rem;padding:.25rem 1rem;color:#333}\
         blockquote footer{font-size:.85rem;color:#666}\
         td.ok{background:#e8f5e9}td.bad{background:#fdecea}\
         img{max-width:100%}.v{font-weight:bold}figcaption{font-style:italic;font-size:.9rem}\
         </style></head><body>\n<h1>Peer2Prompt whitepaper reproduction</h1>\n",
    );
    let _ = writeln!(s, "<p>{}.</p>", esc(&header(run)));
    for k in [Kind::Test, Kind::Sanity, Kind::Finding] {
        let (_, blurb) = kind_heading(k);
        let _ = writeln!(s, "<p>{}</p>", esc(blurb));
        html_table(&mut s, &summary(sections, k));
    }
    for c in sections {
        let _ = writeln!(s, "<section id=\"{}\"><h2>{}</h2>", c.id, esc(c.title));
        for q in &c.citations {
            let _ = writeln!(
                s,
                "<blockquote>{}<footer>— {}</footer></blockquote>",
                esc(q.quote),
                esc(&citation(q))
            );
        }
        s.push_str("<ul>");
        for r in &c.rows {
            html_row(&mut s, r);
        }
        let _ = writeln!(s, "<li><b>Produced by:</b> {}</li></ul>", inline(&c.source));
        for n in &c.notes {
            let _ = writeln!(s, "<p>{}</p>", inline(n));
        }
        for f in &c.figures {
            let png = std::fs::read(figures.join(format!("{}.png", f.name))).unwrap_or_default();
            let _ = writeln!(
                s,
                "<figure><img alt=\"{}\" src=\"data:image/png;base64,{}\"><figcaption>{}</figcaption></figure>",
                esc(&f.title),
                base64::engine::general_purpose::STANDARD.encode(png),
                esc(&f.caption)
            );
        }
        for t in &c.tables {
            html_table(&mut s, t);
        }
        s.push_str("</section>\n");
    }
    s.push_str("</body></html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::wilson;

    #[test]
    fn values_render_with_their_units_and_intervals() {
        assert_eq!(value(&Value::num(1.234, 2, " ms")), "1.23 ms");
        assert_eq!(value(&Value::Percent(0.5)), "50.00%");
        assert_eq!(
            value(&Value::Proportion(wilson(10, 100, 0.95))),
            "10.00% [5.52%, 17.44%] (10 of 100)"
        );
        assert_eq!(value(&Value::Ratio(f64::NAN)), "-");
        assert_eq!(
            value(&Value::Proportion(wilson(0, 0, 0.95))),
            "- (none to count)"
        );
        assert_eq!(
            value(&Value::ChiSquare {
                stat: 3.0,
                dof: 2,
                p: 0.2231
            }),
            "χ² = 3.00 on 2 dof, p = 0.223"
        );
        assert_eq!(
            links("see [a b](#x) and [c](#y)."),
            "see <a href=\"#x\">a b</a> and <a href=\"#y\">c</a>."
        );
    }
}
