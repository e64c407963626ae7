//! `report.md` and a self-contained `report.html` (figures inlined as
//! base64 PNG, so the page opens anywhere on its own).

use std::fmt::Write as _;
use std::path::Path;

use base64::Engine as _;

use super::data::Run;
use super::{Claim, Table};

fn header(run: &Run) -> String {
    format!(
        "{} reproduction set, {}, git {}",
        if run.quick { "Quick" } else { "Full" },
        run.tool,
        &run.git_commit[..run.git_commit.len().min(12)]
    )
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
            r.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | ")
        );
    }
    s
}

/// The Markdown report.
pub fn markdown(run: &Run, claims: &[Claim]) -> String {
    let mut s = String::from("# Peer2Prompt whitepaper reproduction\n\n");
    let _ = writeln!(s, "{}.\n", header(run));
    s.push_str(
        "Each section quotes a claim, gives the analytic value, the measured estimate with \
         its 95% interval, a verdict, the figure (PNG and SVG in `figures/`, with a CSV of \
         the plotted points beside each) and the scenario and seed that produced it. \
         `p2psim report DIR` rebuilds this file from the datasets.\n\n",
    );
    s.push_str("| claim | verdict |\n|---|---|\n");
    for c in claims {
        let _ = writeln!(s, "| [{}](#{}) | {} |", c.title, c.id, c.verdict);
    }
    for c in claims {
        let _ = write!(
            s,
            "\n<a id=\"{}\"></a>\n## {}\n\n> {}\n\n- **Section:** {}\n- **Analytic value:** {}\n\
             - **Measured:** {}\n- **Verdict:** {}\n- **Produced by:** {}\n\n",
            c.id, c.title, c.quote, c.section, c.analytic, c.measured, c.verdict, c.source
        );
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

/// Inline Markdown: `code` spans only (the notes use nothing else).
fn inline(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in esc(s).split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(part);
        }
    }
    out
}

/// The HTML report, figures embedded from `figures`.
pub fn html(run: &Run, claims: &[Claim], figures: &Path) -> String {
    let mut s = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Peer2Prompt whitepaper reproduction</title><style>\
         body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45}\
         table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #bbb;padding:.25rem .5rem;font-size:.9rem}\
         blockquote{border-left:4px solid #ccc;margin:0;padding:.25rem 1rem;color:#333}\
         img{max-width:100%}.v{font-weight:bold}figcaption{font-style:italic;font-size:.9rem}\
         </style></head><body>\n<h1>Peer2Prompt whitepaper reproduction</h1>\n",
    );
    let _ = writeln!(s, "<p>{}.</p>", esc(&header(run)));
    s.push_str("<table><tr><th>claim</th><th>verdict</th></tr>\n");
    for c in claims {
        let _ = writeln!(
            s,
            "<tr><td><a href=\"#{}\">{}</a></td><td>{}</td></tr>",
            c.id,
            esc(&c.title),
            c.verdict
        );
    }
    s.push_str("</table>\n");
    for c in claims {
        let _ = writeln!(
            s,
            "<section id=\"{}\"><h2>{}</h2><blockquote>{}</blockquote><ul>\
             <li><b>Section:</b> {}</li><li><b>Analytic value:</b> {}</li>\
             <li><b>Measured:</b> {}</li><li><b>Verdict:</b> <span class=\"v\">{}</span></li>\
             <li><b>Produced by:</b> {}</li></ul>",
            c.id,
            esc(&c.title),
            esc(&c.quote),
            esc(&c.section),
            inline(&c.analytic),
            inline(&c.measured),
            c.verdict,
            inline(&c.source)
        );
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
            let _ = write!(s, "<table><caption>{}</caption><tr>", esc(&t.caption));
            for h in &t.header {
                let _ = write!(s, "<th>{}</th>", esc(h));
            }
            s.push_str("</tr>\n");
            for r in &t.rows {
                s.push_str("<tr>");
                for c in r {
                    let _ = write!(s, "<td>{}</td>", esc(c));
                }
                s.push_str("</tr>\n");
            }
            s.push_str("</table>\n");
        }
        s.push_str("</section>\n");
    }
    s.push_str("</body></html>\n");
    s
}
