//! Markdown and HTML renderings of the review pack: one list of sections, two formats, so
//! the two never disagree.

use crate::kpi::{MeanDuration, Ratio};
use crate::review::ReviewPack;

struct Section {
    title: &'static str,
    lines: Vec<String>,
}

fn ratio(r: &Ratio) -> String {
    match r.percent() {
        Some(p) => format!("{}/{} ({p} %)", r.numerator, r.denominator),
        None => "n/a (nothing to measure)".into(),
    }
}

fn hours(d: &MeanDuration) -> String {
    match d.mean_seconds {
        Some(s) => format!("{:.1} h over {} incidents", s as f64 / 3600.0, d.incidents),
        None => "n/a".into(),
    }
}

fn sections(p: &ReviewPack) -> Vec<Section> {
    let mut out = vec![
        Section {
            title: "Status of actions from previous reviews",
            lines: p
                .previous_actions
                .iter()
                .map(|a| {
                    let due = a.due.map_or("no due date".into(), |d| format!("due {d}"));
                    let flag = if a.past_due { " — past due" } else { "" };
                    format!(
                        "{} / {}: {} ({}, {due}){flag}",
                        a.review, a.decision, a.text, a.owner
                    )
                })
                .collect(),
        },
        Section {
            title: "Changes in issues, obligations and scope",
            lines: p
                .context_changes
                .iter()
                .map(|c| format!("{} {} {} on {}: {}", c.kind, c.id, c.change, c.on, c.title))
                .collect(),
        },
    ];
    let c = &p.capa;
    out.push(Section {
        title: "Nonconformities and corrective actions",
        lines: vec![
            format!(
                "raised in period: {}, closed in period: {}",
                c.raised, c.closed
            ),
            format!("trend (raised per month): {:?}", c.raised_by_month),
            format!(
                "open nonconformities: {}, open actions: {}, overdue actions: {}",
                c.at_end.open_nonconformities, c.at_end.open_actions, c.at_end.overdue_actions
            ),
            format!("on-time completion: {}", ratio(&c.at_end.on_time)),
            format!("effectiveness: {}", ratio(&c.at_end.effectiveness)),
        ],
    });
    let (track, lines) = &p.objectives;
    let mut objective_lines = vec![format!(
        "on track: {}, off track: {}, not measured: {}, achieved: {}",
        track.on_track, track.off_track, track.not_measured, track.achieved
    )];
    objective_lines.extend(lines.iter().map(|o| {
        let latest = o
            .latest
            .as_ref()
            .map_or("not measured".into(), |(v, per)| format!("{v} ({per})"));
        format!(
            "{} {}: target {}, latest {latest}, {}",
            o.id, o.title, o.target, o.status
        )
    }));
    out.push(Section {
        title: "Monitoring results and objectives",
        lines: objective_lines,
    });
    out.extend(later_sections(p));
    out
}

fn later_sections(p: &ReviewPack) -> Vec<Section> {
    let a = &p.audits;
    let mut audit_lines: Vec<String> = a
        .conducted
        .iter()
        .map(|(id, area, grades)| format!("{id} ({area}): findings {grades:?}"))
        .collect();
    audit_lines.push(format!(
        "open findings: {}; programme completion: {}",
        a.open_findings,
        ratio(&a.completion)
    ));
    let i = &p.incidents;
    let mut incident_lines = vec![
        format!("incidents in period: {}", i.total),
        format!("mean time to contain: {}", hours(&i.time_to_contain)),
        format!("mean time to close: {}", hours(&i.time_to_close)),
    ];
    incident_lines.extend(i.by_month.iter().map(|c| {
        format!(
            "{} {} {}: {}",
            c.month,
            c.category.as_str(),
            c.severity.as_str(),
            c.count
        )
    }));
    let mut out = vec![
        Section {
            title: "Audit results",
            lines: audit_lines,
        },
        Section {
            title: "Incidents",
            lines: incident_lines,
        },
    ];
    out.extend(operation_sections(p));
    out
}

fn operation_sections(p: &ReviewPack) -> Vec<Section> {
    let r = &p.risks;
    let s = &p.suppliers;
    vec![
        Section {
            title: "Risk assessment results and treatment status",
            lines: vec![
                format!("open risks by inherent band: {:?}", r.ratings.inherent),
                format!("open risks by residual band: {:?}", r.ratings.residual),
                format!("high risks with a treatment: {}", ratio(&r.high_treated)),
                format!(
                    "treatments open: {}, overdue: {}",
                    r.treatments_open, r.treatments_overdue
                ),
                format!("risks identified in period: {}", r.identified),
            ],
        },
        Section {
            title: "Supplier performance",
            lines: vec![
                format!("screening coverage: {}", ratio(&s.screening)),
                format!("by status: {:?}", s.by_stage),
                format!(
                    "mean assessment score: {}",
                    s.mean_score.map_or("n/a".into(), |v| v.to_string())
                ),
            ],
        },
        Section {
            title: "Opportunities for improvement",
            lines: p
                .improvements
                .recorded
                .iter()
                .map(|(id, title)| format!("{id}: {title}"))
                .chain([format!(
                    "audit findings graded opportunity: {}",
                    p.improvements.audit_opportunities
                )])
                .collect(),
        },
    ]
}

fn heading(p: &ReviewPack) -> String {
    format!(
        "Management review inputs, {} to {} (ledger tree size {})",
        p.period.start, p.period.end, p.tree_size
    )
}

/// Markdown: a heading, then one list per input.
pub(crate) fn markdown(p: &ReviewPack) -> String {
    let mut out = format!("# {}\n", heading(p));
    for s in sections(p) {
        out.push_str(&format!("\n## {}\n\n", s.title));
        if s.lines.is_empty() {
            out.push_str("- none\n");
        }
        for line in s.lines {
            out.push_str(&format!("- {line}\n"));
        }
    }
    out
}

/// HTML: the same sections, every text escaped.
pub(crate) fn html(p: &ReviewPack) -> String {
    let mut out = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{0}</title></head><body>\n<h1>{0}</h1>\n",
        escape(&heading(p))
    );
    for s in sections(p) {
        out.push_str(&format!("<h2>{}</h2>\n<ul>\n", escape(s.title)));
        if s.lines.is_empty() {
            out.push_str("<li>none</li>\n");
        }
        for line in s.lines {
            out.push_str(&format!("<li>{}</li>\n", escape(&line)));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</body></html>\n");
    out
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
