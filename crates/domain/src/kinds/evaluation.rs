//! Clause 9 and certification readiness: audits (`audit`), gap assessments (`assessment`) and
//! management reviews (`review`).

use crate::context::Context;
use crate::event::{Envelope, Event};
use crate::ids::{roles, Actor, Code, Decimal, Digest, RecordId, Subject, Text};
use crate::macros::{code_enum, payload};
use crate::rejection::{Rejection, Result};
use crate::state::{invalid, Kind};
use crate::time::Timestamp;
use std::collections::{BTreeMap, BTreeSet};

const MANAGERS: &[&str] = &[roles::SECURITY_MANAGER, roles::TOP_MANAGEMENT];
/// The largest integer the ledger carries (2^53 − 1).
pub const SAFE_INTEGER_MAX: u64 = (1 << 53) - 1;
/// Highest gap-assessment rating: 0 absent, 1 initial, 2 partial, 3 largely, 4 fully implemented.
pub const RATING_MAX: u32 = 4;

code_enum! {
    /// Who audits.
    pub enum AuditKind {
        /// Internal audit (9.2).
        Internal => "internal",
        /// Certification audit by an accredited body.
        Certification => "certification",
        /// Surveillance audit by the certification body.
        Surveillance => "surveillance",
    }
}
code_enum! {
    /// How serious a finding is.
    pub enum FindingGrade {
        /// Major nonconformity.
        Major => "major",
        /// Minor nonconformity.
        Minor => "minor",
        /// Observation.
        Observation => "observation",
        /// Opportunity for improvement.
        Opportunity => "opportunity",
    }
}

payload! {
    /// `audit.planned`: an audit in the programme (9.2).
    pub struct AuditPlanned {
        /// Area audited (site, process).
        pub area: Code,
        /// Kind.
        pub kind: AuditKind,
        /// Lead auditor.
        pub auditor: Actor,
        /// When it is scheduled.
        pub scheduled_for: Timestamp,
        /// Clauses in scope.
        pub criteria: Vec<Code>,
    }
}
payload! {
    /// `audit.conducted`: the audit took place.
    pub struct AuditConducted {
        /// Summary.
        pub summary: Text,
    }
}
payload! {
    /// `audit.finding_recorded`: a finding of the audit.
    pub struct AuditFinding {
        /// The finding's key within the audit.
        pub finding: RecordId,
        /// Clause concerned.
        pub clause: Code,
        /// Grade.
        pub grade: FindingGrade,
        /// What was found.
        pub description: Text,
    }
}
payload! {
    /// `audit.report_issued`: the audit report.
    pub struct AuditReport {
        /// Summary.
        pub summary: Text,
        /// Digest of the report document.
        pub content_hash: Digest,
    }
}
payload! {
    /// `audit.closed`: audit completed.
    pub struct AuditClosed {
        /// Note.
        pub note: Text,
    }
}

/// Commands on an `audit` stream.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(
    tag = "action",
    content = "data",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum AuditCommand {
    /// Plan it.
    Plan(AuditPlanned),
    /// Conduct it (the planned auditor).
    Conduct(AuditConducted),
    /// Record a finding (the planned auditor).
    RecordFinding(AuditFinding),
    /// Issue the report (the planned auditor).
    IssueReport(AuditReport),
    /// Close it.
    Close(AuditClosed),
}

/// Where an audit is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum AuditStatus {
    /// No events.
    #[default]
    Absent,
    /// Planned.
    Planned,
    /// Conducted; findings may be recorded.
    Conducted,
    /// Report issued.
    Reported,
    /// Closed.
    Closed,
}

/// State of one audit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Audit {
    status: AuditStatus,
    auditor: Option<Actor>,
    findings: BTreeMap<RecordId, FindingGrade>,
}

impl Audit {
    /// Where it is.
    pub fn status(&self) -> AuditStatus {
        self.status
    }
    /// Its findings and their grades.
    pub fn findings(&self) -> &BTreeMap<RecordId, FindingGrade> {
        &self.findings
    }
}

impl Kind for Audit {
    type Command = AuditCommand;
    fn decide(&self, rec: &Subject, cmd: AuditCommand, ctx: &Context<'_>) -> Result<Vec<Event>> {
        use AuditStatus as S;
        let event = match (cmd, self.status) {
            (AuditCommand::Plan(p), _) => {
                ctx.require(rec, "planning audits", MANAGERS)?;
                check_plan(rec, &p, ctx)?;
                Event::AuditPlanned(p)
            }
            (AuditCommand::Conduct(p), S::Planned) => {
                self.require_auditor(rec, ctx)?;
                Event::AuditConducted(p)
            }
            (AuditCommand::RecordFinding(p), S::Conducted) => {
                self.require_auditor(rec, ctx)?;
                if self.findings.contains_key(&p.finding) {
                    let key = p.finding.to_string();
                    return Err(Rejection::Duplicate {
                        record: rec.clone(),
                        what: "finding",
                        key,
                    });
                }
                Event::AuditFindingRecorded(p)
            }
            (AuditCommand::IssueReport(p), S::Conducted) => {
                self.require_auditor(rec, ctx)?;
                Event::AuditReportIssued(p)
            }
            (AuditCommand::Close(p), S::Reported) => {
                ctx.require(rec, "closing audits", MANAGERS)?;
                Event::AuditClosed(p)
            }
            (cmd, status) => return Err(invalid(rec, audit_action(&cmd), audit_status(status))),
        };
        Ok(vec![event])
    }
    fn apply(&mut self, env: &Envelope) {
        match &env.event {
            Event::AuditPlanned(p) => {
                self.status = AuditStatus::Planned;
                self.auditor = Some(p.auditor.clone());
            }
            Event::AuditConducted(_) => self.status = AuditStatus::Conducted,
            Event::AuditFindingRecorded(p) => {
                self.findings.insert(p.finding.clone(), p.grade);
            }
            Event::AuditReportIssued(_) => self.status = AuditStatus::Reported,
            Event::AuditClosed(_) => self.status = AuditStatus::Closed,
            _ => {}
        }
    }
    fn exists(&self) -> bool {
        self.status != AuditStatus::Absent
    }
    fn creates(cmd: &AuditCommand) -> bool {
        matches!(cmd, AuditCommand::Plan(_))
    }
}

/// 9.2: auditors are chosen so they do not audit their own work.
fn check_plan(rec: &Subject, p: &AuditPlanned, ctx: &Context<'_>) -> Result<()> {
    if ctx.facts().owns_area(&p.auditor, &p.area) {
        return Err(Rejection::AuditorNotIndependent {
            record: rec.clone(),
            auditor: p.auditor.clone(),
            area: p.area.to_string(),
        });
    }
    ctx.require_after(rec, "scheduled_for", p.scheduled_for)
}

impl Audit {
    fn require_auditor(&self, rec: &Subject, ctx: &Context<'_>) -> Result<()> {
        if self.auditor.as_ref() == Some(ctx.actor()) {
            return Ok(());
        }
        Err(Rejection::Unauthorized {
            record: rec.clone(),
            action: "auditing",
            role: format!(
                "planned auditor ({})",
                self.auditor
                    .as_ref()
                    .map_or("none".into(), |a| a.to_string())
            ),
            actor: ctx.actor().clone(),
        })
    }
}

fn audit_action(cmd: &AuditCommand) -> &'static str {
    match cmd {
        AuditCommand::Plan(_) => "plan",
        AuditCommand::Conduct(_) => "conduct",
        AuditCommand::RecordFinding(_) => "record a finding",
        AuditCommand::IssueReport(_) => "issue the report",
        AuditCommand::Close(_) => "close",
    }
}

fn audit_status(status: AuditStatus) -> &'static str {
    ["absent", "planned", "conducted", "reported", "closed"][status as usize]
}

payload! {
    /// `assessment.started`: a gap assessment against the standard began.
    pub struct AssessmentStarted {
        /// Standard, e.g. `ISO 28000:2022`.
        pub standard: Code,
        /// What is assessed.
        pub scope: Text,
    }
}
payload! {
    /// `assessment.requirement_rated`: one requirement rated against current practice.
    pub struct RequirementRated {
        /// Clause, e.g. `8.3`.
        pub clause: Code,
        /// 0 absent .. 4 fully implemented.
        #[schemars(range(min = 0, max = 4))]
        pub rating: u32,
        /// Evidence seen.
        pub evidence: Vec<Text>,
    }
}
payload! {
    /// `assessment.completed`: the gap assessment concluded.
    pub struct AssessmentCompleted {
        /// Summary.
        pub summary: Text,
        /// Readiness as a percentage of the maximum rating, computed by the domain, e.g. `"62.50"`.
        pub readiness_percent: Decimal,
    }
}

/// Commands on an `assessment` stream.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(
    tag = "action",
    content = "data",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum AssessmentCommand {
    /// Start it.
    Start(AssessmentStarted),
    /// Rate a requirement.
    Rate(RequirementRated),
    /// Complete it; the domain computes readiness.
    Complete {
        /// Summary.
        summary: Text,
    },
}

/// State of one gap assessment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assessment {
    started: bool,
    ratings: BTreeMap<Code, u32>,
    completed: bool,
}

impl Assessment {
    /// Ratings per clause.
    pub fn ratings(&self) -> &BTreeMap<Code, u32> {
        &self.ratings
    }
    /// Readiness as a percentage with two decimals (exact integer arithmetic).
    pub fn readiness_percent(&self) -> Decimal {
        let max = u64::from(RATING_MAX) * self.ratings.len() as u64;
        let sum: u64 = self.ratings.values().map(|r| u64::from(*r)).sum();
        let hundredths = (sum * 10_000).checked_div(max).unwrap_or(0);
        Decimal::new(format!("{}.{:02}", hundredths / 100, hundredths % 100)).expect("well-formed")
    }
}

impl Kind for Assessment {
    type Command = AssessmentCommand;
    fn decide(
        &self,
        rec: &Subject,
        cmd: AssessmentCommand,
        ctx: &Context<'_>,
    ) -> Result<Vec<Event>> {
        ctx.require(
            rec,
            "gap assessment",
            &[roles::SECURITY_MANAGER, roles::AUDITOR],
        )?;
        if self.completed {
            return Err(invalid(rec, "change it", "completed"));
        }
        let event = match cmd {
            AssessmentCommand::Start(p) => Event::AssessmentStarted(p),
            AssessmentCommand::Rate(p) => {
                if p.rating > RATING_MAX {
                    let reason = format!("{} is outside 0..={RATING_MAX}", p.rating);
                    return Err(Rejection::InvalidValue {
                        record: rec.clone(),
                        field: "rating",
                        reason,
                    });
                }
                if self.ratings.contains_key(&p.clause) {
                    let key = p.clause.to_string();
                    return Err(Rejection::Duplicate {
                        record: rec.clone(),
                        what: "rating of clause",
                        key,
                    });
                }
                Event::AssessmentRequirementRated(p)
            }
            AssessmentCommand::Complete { .. } if self.ratings.is_empty() => {
                return Err(invalid(rec, "complete", "without any requirement rated"))
            }
            AssessmentCommand::Complete { summary } => {
                let readiness_percent = self.readiness_percent();
                Event::AssessmentCompleted(AssessmentCompleted {
                    summary,
                    readiness_percent,
                })
            }
        };
        Ok(vec![event])
    }
    fn apply(&mut self, env: &Envelope) {
        match &env.event {
            Event::AssessmentStarted(_) => self.started = true,
            Event::AssessmentRequirementRated(p) => {
                self.ratings.insert(p.clause.clone(), p.rating);
            }
            Event::AssessmentCompleted(_) => self.completed = true,
            _ => {}
        }
    }
    fn exists(&self) -> bool {
        self.started
    }
    fn creates(cmd: &AssessmentCommand) -> bool {
        matches!(cmd, AssessmentCommand::Start(_))
    }
    fn invariant(&self) -> std::result::Result<(), String> {
        if self.ratings.values().any(|r| *r > RATING_MAX) {
            return Err("rating out of range".into());
        }
        if self.completed && self.ratings.is_empty() {
            return Err("completed without ratings".into());
        }
        Ok(())
    }
}

payload! {
    /// `review.scheduled`: a management review for a period (9.3).
    pub struct ReviewScheduled {
        /// Start of the period reviewed.
        pub period_start: Timestamp,
        /// End of the period reviewed.
        pub period_end: Timestamp,
        /// When the meeting is planned.
        pub scheduled_for: Timestamp,
        /// Who chairs it.
        pub chair: Actor,
    }
}
payload! {
    /// `review.inputs_sealed`: the review pack, bound to a ledger checkpoint.
    pub struct ReviewInputsSealed {
        /// Ledger tree size at the checkpoint (at most 2^53 − 1).
        #[schemars(range(min = 1, max = 9_007_199_254_740_991_i64))]
        pub tree_size: u64,
        /// Merkle root at that size.
        pub root: Digest,
        /// Digest of the pack's bytes.
        pub pack_digest: Digest,
    }
}
payload! {
    /// `review.held`: the meeting took place.
    pub struct ReviewHeld {
        /// Who attended.
        pub attendees: Vec<Actor>,
    }
}
payload! {
    /// `review.decision_recorded`: an output of the review (decision or action).
    pub struct ReviewDecision {
        /// The decision's key within the review.
        pub decision: RecordId,
        /// What was decided.
        pub text: Text,
        /// Who carries it out.
        pub owner: Actor,
        /// When it is due.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub due: Option<Timestamp>,
    }
}
payload! {
    /// `review.closed`: the review's record is complete.
    pub struct ReviewClosed {
        /// Note.
        pub note: Text,
    }
}

/// Commands on a `review` stream.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(
    tag = "action",
    content = "data",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum ReviewCommand {
    /// Schedule it.
    Schedule(ReviewScheduled),
    /// Seal the inputs.
    SealInputs(ReviewInputsSealed),
    /// Hold it (top management).
    Hold(ReviewHeld),
    /// Record a decision.
    RecordDecision(ReviewDecision),
    /// Close it.
    Close(ReviewClosed),
}

/// State of one management review.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Review {
    scheduled: bool,
    sealed: bool,
    held: bool,
    decisions: BTreeSet<RecordId>,
    closed: bool,
}

impl Review {
    /// Decisions recorded.
    pub fn decisions(&self) -> &BTreeSet<RecordId> {
        &self.decisions
    }
}

impl Kind for Review {
    type Command = ReviewCommand;
    fn decide(&self, rec: &Subject, cmd: ReviewCommand, ctx: &Context<'_>) -> Result<Vec<Event>> {
        if self.closed {
            return Err(invalid(rec, "change it", "closed"));
        }
        let incomplete = |rule| Rejection::ReviewIncomplete {
            record: rec.clone(),
            rule,
        };
        let event = match cmd {
            ReviewCommand::Schedule(p) => {
                ctx.require(rec, "scheduling reviews", MANAGERS)?;
                check_schedule(rec, &p, ctx)?;
                Event::ReviewScheduled(p)
            }
            ReviewCommand::SealInputs(_) | ReviewCommand::Hold(_) if self.held => {
                return Err(invalid(rec, "seal inputs or hold", "held"))
            }
            ReviewCommand::SealInputs(p) => {
                ctx.require(rec, "sealing review inputs", MANAGERS)?;
                check_seal(rec, &p)?;
                Event::ReviewInputsSealed(p)
            }
            ReviewCommand::Hold(_) if !self.sealed => {
                return Err(incomplete("cannot hold before its inputs are sealed"))
            }
            ReviewCommand::Hold(p) => {
                ctx.require(rec, "holding management reviews", &[roles::TOP_MANAGEMENT])?;
                Event::ReviewHeld(p)
            }
            ReviewCommand::RecordDecision(_) if !self.held => {
                return Err(invalid(rec, "record a decision", "not held"))
            }
            ReviewCommand::RecordDecision(p) => {
                ctx.require(rec, "recording review decisions", &[roles::TOP_MANAGEMENT])?;
                self.check_decision(rec, &p, ctx)?;
                Event::ReviewDecisionRecorded(p)
            }
            ReviewCommand::Close(_) if self.decisions.is_empty() => {
                return Err(incomplete("cannot close without a recorded decision"))
            }
            ReviewCommand::Close(p) => {
                ctx.require(rec, "closing reviews", MANAGERS)?;
                Event::ReviewClosed(p)
            }
        };
        Ok(vec![event])
    }
    fn apply(&mut self, env: &Envelope) {
        match &env.event {
            Event::ReviewScheduled(_) => self.scheduled = true,
            Event::ReviewInputsSealed(_) => self.sealed = true,
            Event::ReviewHeld(_) => self.held = true,
            Event::ReviewDecisionRecorded(p) => {
                self.decisions.insert(p.decision.clone());
            }
            Event::ReviewClosed(_) => self.closed = true,
            _ => {}
        }
    }
    fn exists(&self) -> bool {
        self.scheduled
    }
    fn creates(cmd: &ReviewCommand) -> bool {
        matches!(cmd, ReviewCommand::Schedule(_))
    }
    fn invariant(&self) -> std::result::Result<(), String> {
        if self.held && !self.sealed {
            return Err("held without sealed inputs".into());
        }
        if self.closed && self.decisions.is_empty() {
            return Err("closed without decisions".into());
        }
        Ok(())
    }
}

fn check_schedule(rec: &Subject, p: &ReviewScheduled, ctx: &Context<'_>) -> Result<()> {
    if p.period_start >= p.period_end {
        let reason = format!(
            "period_start {} is not before period_end {}",
            p.period_start, p.period_end
        );
        return Err(Rejection::InvalidValue {
            record: rec.clone(),
            field: "period",
            reason,
        });
    }
    ctx.require_after(rec, "scheduled_for", p.scheduled_for)
}

fn check_seal(rec: &Subject, p: &ReviewInputsSealed) -> Result<()> {
    if p.tree_size == 0 || p.tree_size > SAFE_INTEGER_MAX {
        let reason = format!("{} is outside 1..=2^53-1", p.tree_size);
        return Err(Rejection::InvalidValue {
            record: rec.clone(),
            field: "tree_size",
            reason,
        });
    }
    Ok(())
}

impl Review {
    fn check_decision(&self, rec: &Subject, p: &ReviewDecision, ctx: &Context<'_>) -> Result<()> {
        if self.decisions.contains(&p.decision) {
            let key = p.decision.to_string();
            return Err(Rejection::Duplicate {
                record: rec.clone(),
                what: "decision",
                key,
            });
        }
        match p.due {
            Some(due) => ctx.require_after(rec, "due", due),
            None => Ok(()),
        }
    }
}
