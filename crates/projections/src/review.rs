//! The management review pack (clause 9.3): every input ISO28000.md lists, for a period,
//! assembled from a [`Model`]; rendered as Markdown and HTML; digested (SHA-256 of its
//! RFC 8785 canonical JSON) so that a `review.inputs_sealed` event can prove later which pack
//! management saw.
//!
//! The pack is a pure function of the model and the period: regenerated from the model as of
//! the sealed tree size, it is the same bytes, whatever was appended since.

use crate::error::{Error, Result};
use crate::kpi::{self, Capa, MeanDuration, ObjectiveTrack, Ratio, RiskRatings};
use crate::model::Model;
use crate::rows::*;
use custodia_domain::{FindingGrade, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;

/// The period a review covers: `start ≤ occurred_at < end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    /// First instant inside.
    pub start: Timestamp,
    /// First instant after.
    pub end: Timestamp,
}

impl Period {
    /// Whether `t` lies in the period.
    pub fn contains(&self, t: Timestamp) -> bool {
        self.start <= t && t < self.end
    }
}

/// An action decided at an earlier review, and where it stands at the period's end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousAction {
    /// The review that decided it.
    pub review: String,
    /// The decision id.
    pub decision: String,
    /// What was decided.
    pub text: String,
    /// Who carries it out.
    pub owner: String,
    /// When it is due.
    pub due: Option<Timestamp>,
    /// Due before the period's end (no completion event exists for decisions, so an action
    /// past its date is reported for management to confirm).
    pub past_due: bool,
}

/// A change in the period to an issue, obligation or the scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextChange {
    /// `issue`, `obligation` or `scope`.
    pub kind: String,
    /// Record id.
    pub id: String,
    /// Title or statement.
    pub title: String,
    /// `recorded`, `revised` or `retired`.
    pub change: String,
    /// When.
    pub on: Timestamp,
}

/// Nonconformities and corrective actions (10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapaSection {
    /// Figures at the period's end.
    pub at_end: Capa,
    /// Nonconformities raised in the period.
    pub raised: u64,
    /// Nonconformities closed in the period.
    pub closed: u64,
    /// Raised per month (`YYYY-MM`) in the period: the trend.
    pub raised_by_month: BTreeMap<String, u64>,
}

/// An objective and how it stands (6.2, 9.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectiveLine {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Target.
    pub target: String,
    /// Latest measured value and period.
    pub latest: Option<(String, String)>,
    /// `active`, `achieved` or `abandoned`.
    pub status: String,
}

/// Audit results (9.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditSection {
    /// Audits conducted in the period, with their findings counted by grade.
    pub conducted: Vec<(String, String, BTreeMap<String, u64>)>,
    /// Findings still open at the period's end.
    pub open_findings: u64,
    /// Programme completion at the period's end.
    pub completion: Ratio,
}

/// Incidents (8.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentSection {
    /// Incidents in the period by month, category and severity.
    pub by_month: Vec<kpi::IncidentCount>,
    /// Incidents in the period.
    pub total: u64,
    /// Mean time to contain (all incidents contained by the period's end).
    pub time_to_contain: MeanDuration,
    /// Mean time to close.
    pub time_to_close: MeanDuration,
}

/// Risk assessment results and treatment status (6.1, 8.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskSection {
    /// Open risks by band.
    pub ratings: RiskRatings,
    /// High risks with a treatment.
    pub high_treated: Ratio,
    /// Treatments not completed.
    pub treatments_open: u64,
    /// Treatments not completed and past due at the period's end.
    pub treatments_overdue: u64,
    /// Risks assessed (created) in the period.
    pub identified: u64,
}

/// Supplier performance (8.x).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplierSection {
    /// Screening coverage at the period's end.
    pub screening: Ratio,
    /// Suppliers by stage.
    pub by_stage: BTreeMap<String, u64>,
    /// Mean assessment score (rounded down) of assessed, active suppliers.
    pub mean_score: Option<u64>,
}

/// Opportunities for improvement (10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImprovementSection {
    /// Improvements recorded in the period: id and title.
    pub recorded: Vec<(String, String)>,
    /// Audit findings graded `opportunity` in the period.
    pub audit_opportunities: u64,
}

/// Every input of clause 9.3 for one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewPack {
    /// The period covered.
    pub period: Period,
    /// Tree size of the ledger the pack was assembled from.
    pub tree_size: u64,
    /// Status of actions from previous reviews.
    pub previous_actions: Vec<PreviousAction>,
    /// Changes in issues, obligations and scope.
    pub context_changes: Vec<ContextChange>,
    /// Nonconformities and corrective actions.
    pub capa: CapaSection,
    /// Monitoring results and objective status.
    pub objectives: (ObjectiveTrack, Vec<ObjectiveLine>),
    /// Audit results.
    pub audits: AuditSection,
    /// Incidents.
    pub incidents: IncidentSection,
    /// Risk assessment results and treatment status.
    pub risks: RiskSection,
    /// Supplier performance.
    pub suppliers: SupplierSection,
    /// Opportunities for improvement.
    pub improvements: ImprovementSection,
}

impl ReviewPack {
    /// Assembles the pack for `period` from `model` (statuses at the period's end).
    pub fn assemble(model: &Model, period: Period) -> ReviewPack {
        ReviewPack {
            period,
            tree_size: model.position().size,
            previous_actions: previous_actions(model, period),
            context_changes: context_changes(model, period),
            capa: capa(model, period),
            objectives: objectives(model, period),
            audits: audits(model, period),
            incidents: incidents(model, period),
            risks: risks(model, period),
            suppliers: suppliers(model, period),
            improvements: improvements(model, period),
        }
    }

    /// The RFC 8785 canonical JSON of the pack: the bytes the digest is over.
    pub fn canonical_json(&self) -> Result<Vec<u8>> {
        let value = serde_json::to_value(self).map_err(|e| Error::Pack(e.to_string()))?;
        custodia_ledger::canonical::jcs(&value).map_err(|e| Error::Pack(e.to_string()))
    }

    /// SHA-256 of [`ReviewPack::canonical_json`], lowercase hex (a domain `Digest`).
    pub fn digest(&self) -> Result<String> {
        Ok(hex::encode(Sha256::digest(self.canonical_json()?)))
    }

    /// A readable Markdown rendering.
    pub fn to_markdown(&self) -> String {
        crate::render::markdown(self)
    }

    /// A self-contained HTML rendering (text escaped).
    pub fn to_html(&self) -> String {
        crate::render::html(self)
    }
}

fn previous_actions(m: &Model, p: Period) -> Vec<PreviousAction> {
    let mut out = Vec::new();
    for r in m.reviews.values() {
        for (id, d) in r.decisions.iter().filter(|(_, d)| d.recorded < p.start) {
            out.push(PreviousAction {
                review: r.meta.id.as_str().to_owned(),
                decision: id.as_str().to_owned(),
                text: d.text.as_str().to_owned(),
                owner: d.owner.as_str().to_owned(),
                due: d.due,
                past_due: d.due.is_some_and(|due| due < p.end),
            });
        }
    }
    out
}

fn change(meta: &Meta, retired: Option<Timestamp>, p: Period) -> Option<(&'static str, Timestamp)> {
    match () {
        _ if retired.is_some_and(|t| p.contains(t)) => retired.map(|t| ("retired", t)),
        _ if p.contains(meta.created) => Some(("recorded", meta.created)),
        _ if p.contains(meta.updated) => Some(("revised", meta.updated)),
        _ => None,
    }
}

fn context_changes(m: &Model, p: Period) -> Vec<ContextChange> {
    let line =
        |kind: &str, meta: &Meta, title: &str, (what, on): (&str, Timestamp)| ContextChange {
            kind: kind.to_owned(),
            id: meta.id.as_str().to_owned(),
            title: title.to_owned(),
            change: what.to_owned(),
            on,
        };
    let issues = m.issues.values().filter_map(|r| {
        change(&r.meta, r.retired, p).map(|c| line("issue", &r.meta, r.title.as_str(), c))
    });
    let obligations = m.obligations.values().filter_map(|r| {
        change(&r.meta, r.retired, p).map(|c| line("obligation", &r.meta, r.title.as_str(), c))
    });
    let scopes = m.scopes.values().filter_map(|r| {
        change(&r.meta, None, p).map(|c| line("scope", &r.meta, r.statement.as_str(), c))
    });
    issues.chain(obligations).chain(scopes).collect()
}

fn month(t: Timestamp) -> String {
    let (year, month) = kpi::year_month(t);
    format!("{year:04}-{month:02}")
}

fn capa(m: &Model, p: Period) -> CapaSection {
    let mut raised_by_month = BTreeMap::new();
    let mut raised = 0;
    for n in m
        .nonconformities
        .values()
        .filter(|n| p.contains(n.meta.created))
    {
        raised += 1;
        *raised_by_month.entry(month(n.meta.created)).or_default() += 1;
    }
    let closed = m
        .nonconformities
        .values()
        .filter(|n| n.closed.is_some_and(|t| p.contains(t)))
        .count() as u64;
    CapaSection {
        at_end: kpi::capa(m, p.end),
        raised,
        closed,
        raised_by_month,
    }
}

fn objectives(m: &Model, p: Period) -> (ObjectiveTrack, Vec<ObjectiveLine>) {
    let lines =
        m.objectives
            .values()
            .map(|o| ObjectiveLine {
                id: o.meta.id.as_str().to_owned(),
                title: o.title.as_str().to_owned(),
                target: o.target.as_str().to_owned(),
                latest: o.latest.as_ref().map(|(period, value, _)| {
                    (value.as_str().to_owned(), period.as_str().to_owned())
                }),
                status: o.status(p.end).to_owned(),
            })
            .collect();
    (kpi::objectives(m, p.end), lines)
}

fn audits(m: &Model, p: Period) -> AuditSection {
    let conducted = m
        .audits
        .values()
        .filter(|a| a.conducted.is_some_and(|t| p.contains(t)))
        .map(|a| {
            let mut grades = BTreeMap::new();
            for f in a.findings.values() {
                *grades.entry(f.grade.as_str().to_owned()).or_default() += 1;
            }
            (
                a.meta.id.as_str().to_owned(),
                a.area.as_str().to_owned(),
                grades,
            )
        })
        .collect();
    AuditSection {
        conducted,
        open_findings: m
            .audits
            .values()
            .map(|a| a.open_findings().count() as u64)
            .sum(),
        completion: kpi::audit_completion(m, p.end),
    }
}

fn incidents(m: &Model, p: Period) -> IncidentSection {
    let by_month: Vec<_> = kpi::incidents_per_month(m, p.end)
        .into_iter()
        .filter(|c| c.month >= month(p.start) && c.month <= month(p.end))
        .collect();
    IncidentSection {
        total: m
            .incidents
            .values()
            .filter(|i| p.contains(i.meta.created))
            .count() as u64,
        by_month,
        time_to_contain: kpi::mean_time_to_contain(m, p.end),
        time_to_close: kpi::mean_time_to_close(m, p.end),
    }
}

fn risks(m: &Model, p: Period) -> RiskSection {
    let treatments = m
        .risks
        .values()
        .filter(|r| r.closed.is_none())
        .flat_map(|r| r.treatments.values())
        .filter(|t| t.completed.is_none());
    let (mut open, mut overdue) = (0, 0);
    for t in treatments {
        open += 1;
        overdue += u64::from(t.due < p.end);
    }
    RiskSection {
        ratings: kpi::risks_by_rating(m),
        high_treated: kpi::high_risks_treated(m),
        treatments_open: open,
        treatments_overdue: overdue,
        identified: m
            .risks
            .values()
            .filter(|r| p.contains(r.meta.created))
            .count() as u64,
    }
}

fn suppliers(m: &Model, p: Period) -> SupplierSection {
    let mut by_stage = BTreeMap::new();
    let (mut scored, mut total) = (0u64, 0u64);
    for s in m.suppliers.values() {
        *by_stage.entry(s.status(p.end).to_owned()).or_default() += 1;
        if let (Some(score), false) = (s.score, s.stage == SupplierStage::Offboarded) {
            scored += 1;
            total += u64::from(score);
        }
    }
    SupplierSection {
        screening: kpi::supplier_screening(m, p.end),
        by_stage,
        mean_score: (scored > 0).then(|| total / scored.max(1)),
    }
}

fn improvements(m: &Model, p: Period) -> ImprovementSection {
    let recorded = m
        .improvements
        .values()
        .filter(|i| p.contains(i.meta.created))
        .map(|i| (i.meta.id.as_str().to_owned(), i.title.as_str().to_owned()))
        .collect();
    let audit_opportunities = m
        .audits
        .values()
        .flat_map(|a| a.findings.values())
        .filter(|f| f.grade == FindingGrade::Opportunity && p.contains(f.recorded))
        .count() as u64;
    ImprovementSection {
        recorded,
        audit_opportunities,
    }
}
