//! One row type per register. Rows are plain views of what the ledger says (no invariants of
//! their own, so fields are public); each knows its status, owner, due date and tags so the
//! generic [`crate::Query`] can filter and sort every register the same way.

use crate::set::SharedSet;
use custodia_domain::{
    Actor, Authority, Code, ControlCategory, Decimal, Direction, FindingGrade, IncidentCategory,
    IssueOrigin, NcGrade, RecordId, Role, ScreeningResult, Severity, TestResult, Text, Threat,
    Timestamp, TreatmentOption,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What every register row offers the generic query.
pub trait RegisterRow {
    /// The record id (`R-0007`).
    fn id(&self) -> &str;
    /// A short status word as of `at` (`open`, `closed`, `overdue`, …).
    fn status(&self, at: Timestamp) -> &'static str;
    /// Who answers for the record, when the register has an owner.
    fn owner(&self) -> Option<&Actor> {
        None
    }
    /// The date the record is next due (review, action, expiry), if any.
    fn due(&self) -> Option<Timestamp> {
        None
    }
    /// Words a filter can match exactly (rating, category, severity, tier, …).
    fn tags(&self) -> Vec<&str> {
        Vec::new()
    }
    /// When the latest event of the record happened.
    fn updated(&self) -> Timestamp;
}

/// Fields every row carries about its stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// The record id.
    pub id: RecordId,
    /// The stream version of the last event applied.
    pub version: u64,
    /// When the first event happened (valid time).
    pub created: Timestamp,
    /// When the latest event happened (valid time).
    pub updated: Timestamp,
    /// When the system first learned of the record (transaction time).
    pub learned: Timestamp,
}

/// A likelihood × impact rating on the matrix in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatingView {
    /// Likelihood (1..=L).
    pub likelihood: u32,
    /// Impact (1..=I).
    pub impact: u32,
    /// likelihood × impact.
    pub score: u32,
    /// The band label (`Low`, `Medium`, `High`, `Critical` on the default matrix).
    pub rating: Code,
}

impl RatingView {
    /// Whether the band is `High` or `Critical` (the bands a board watches).
    pub fn is_high(&self) -> bool {
        matches!(
            self.rating.as_str(),
            "High" | "Critical" | "high" | "critical"
        )
    }
}

/// One planned treatment of a risk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreatmentView {
    /// Mitigate, transfer or avoid.
    pub option: TreatmentOption,
    /// Who carries it out.
    pub owner: Actor,
    /// When it is due.
    pub due: Timestamp,
    /// When it was completed.
    pub completed: Option<Timestamp>,
}

/// A row of the risk register (6.1, 8.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskRow {
    /// Stream fields.
    pub meta: Meta,
    /// Title.
    pub title: Text,
    /// Threat.
    pub threat: Threat,
    /// Supply-chain node.
    pub node: Code,
    /// Risk owner.
    pub owner: Actor,
    /// Inherent rating, once assessed.
    pub inherent: Option<RatingView>,
    /// Residual rating, once assessed after treatment.
    pub residual: Option<RatingView>,
    /// Treatments by id.
    pub treatments: BTreeMap<RecordId, TreatmentView>,
    /// Who accepted the risk, and until when.
    pub accepted: Option<(Actor, Option<Timestamp>)>,
    /// The next scheduled review.
    pub next_review: Option<Timestamp>,
    /// When it was closed.
    pub closed: Option<Timestamp>,
}

/// Where a risk's treatment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TreatmentStatus {
    /// No treatment planned.
    None,
    /// At least one treatment still open.
    InProgress,
    /// Every planned treatment completed.
    Complete,
}

impl RiskRow {
    /// The treatment status.
    pub fn treatment_status(&self) -> TreatmentStatus {
        if self.treatments.is_empty() {
            TreatmentStatus::None
        } else if self.treatments.values().all(|t| t.completed.is_some()) {
            TreatmentStatus::Complete
        } else {
            TreatmentStatus::InProgress
        }
    }
    /// The review date: the scheduled review, or an acceptance's expiry when earlier.
    pub fn review_due(&self) -> Option<Timestamp> {
        let expiry = self.accepted.as_ref().and_then(|(_, until)| *until);
        match (self.next_review, expiry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
    /// Whether an open risk is past its review date at `at`.
    pub fn overdue(&self, at: Timestamp) -> bool {
        self.closed.is_none() && self.review_due().is_some_and(|due| due < at)
    }
    /// The rating that applies now: residual when assessed, else inherent.
    pub fn current_rating(&self) -> Option<&RatingView> {
        self.residual.as_ref().or(self.inherent.as_ref())
    }
}

impl RegisterRow for RiskRow {
    fn id(&self) -> &str {
        self.meta.id.as_str()
    }
    fn status(&self, at: Timestamp) -> &'static str {
        match () {
            _ if self.closed.is_some() => "closed",
            _ if self.overdue(at) => "overdue",
            _ if self.accepted.is_some() => "accepted",
            _ if self.inherent.is_none() => "identified",
            _ => "open",
        }
    }
    fn owner(&self) -> Option<&Actor> {
        Some(&self.owner)
    }
    fn due(&self) -> Option<Timestamp> {
        self.review_due()
    }
    fn tags(&self) -> Vec<&str> {
        let mut tags = vec![self.threat.as_str(), self.node.as_str()];
        tags.extend(self.current_rating().map(|r| r.rating.as_str()));
        tags
    }
    fn updated(&self) -> Timestamp {
        self.meta.updated
    }
}

/// Where an incident stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStage {
    /// Reported.
    Reported,
    /// Triaged.
    Triaged,
    /// Contained.
    Contained,
    /// Investigated.
    Investigated,
    /// Closed.
    Closed,
}

/// A row of the incident register (8.5–8.6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentRow {
    /// Stream fields; `meta.created` is when the incident happened as reported.
    pub meta: Meta,
    /// Title.
    pub title: Text,
    /// Category.
    pub category: IncidentCategory,
    /// Severity (as triaged, else as reported).
    pub severity: Severity,
    /// Site or lane.
    pub site: Code,
    /// Country.
    pub country: Code,
    /// Stage.
    pub stage: IncidentStage,
    /// When it was contained.
    pub contained: Option<Timestamp>,
    /// When it was closed.
    pub closed: Option<Timestamp>,
    /// Authorities it was escalated to.
    pub escalated_to: BTreeSet<Authority>,
    /// Handler who reported it.
    pub reporter: Actor,
}

impl RegisterRow for IncidentRow {
    fn id(&self) -> &str {
        self.meta.id.as_str()
    }
    fn status(&self, _at: Timestamp) -> &'static str {
        match self.stage {
            IncidentStage::Closed => "closed",
            _ => "open",
        }
    }
    fn owner(&self) -> Option<&Actor> {
        Some(&self.reporter)
    }
    fn tags(&self) -> Vec<&str> {
        vec![
            self.category.as_str(),
            self.severity.as_str(),
            self.site.as_str(),
            self.country.as_str(),
        ]
    }
    fn updated(&self) -> Timestamp {
        self.meta.updated
    }
}

/// A nonconformity (10), the CAPA register's subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonconformityRow {
    /// Stream fields.
    pub meta: Meta,
    /// What is wrong.
    pub description: Text,
    /// Clause not met.
    pub clause: Code,
    /// Major or minor.
    pub grade: NcGrade,
    /// When its root cause was identified.
    pub root_cause: Option<Timestamp>,
    /// Corrective actions planned for it.
    pub actions: BTreeSet<RecordId>,
    /// When it was closed.
    pub closed: Option<Timestamp>,
}

impl RegisterRow for NonconformityRow {
    fn id(&self) -> &str {
        self.meta.id.as_str()
    }
    fn status(&self, _at: Timestamp) -> &'static str {
        if self.closed.is_some() {
            "closed"
        } else {
            "open"
        }
    }
    fn tags(&self) -> Vec<&str> {
        vec![self.clause.as_str(), nc_grade(self.grade)]
    }
    fn updated(&self) -> Timestamp {
        self.meta.updated
    }
}

fn nc_grade(grade: NcGrade) -> &'static str {
    match grade {
        NcGrade::Major => "major",
        NcGrade::Minor => "minor",
    }
}

/// A corrective action (10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrectiveActionRow {
    /// Stream fields.
    pub meta: Meta,
    /// The nonconformity it corrects.
    pub nonconformity: RecordId,
    /// Who carries it out.
    pub owner: Actor,
    /// When it is due.
    pub due: Timestamp,
    /// When it was (last) completed.
    pub completed: Option<Timestamp>,
    /// Verifications, in order: when, and whether it was effective.
    pub verifications: Vec<(Timestamp, bool)>,
}

impl CorrectiveActionRow {
    /// Whether it was verified effective (the last verification said so).
    pub fn effective(&self) -> bool {
        self.verifications.last().is_some_and(|(_, ok)| *ok)
    }
    /// Whether it is still open (not verified effective).
    pub fn open(&self) -> bool {
        !self.effective()
    }
    /// Whether it is open and, at `at`, past its due date without completion.
    pub fn overdue(&self, at: Timestamp) -> bool {
        self.completed.is_none() && self.open() && self.due < at
    }
}

impl RegisterRow for CorrectiveActionRow {
    fn id(&self) -> &str {
        self.meta.id.as_str()
    }
    fn status(&self, at: Timestamp) -> &'static str {
        match () {
            _ if self.effective() => "effective",
            _ if self.overdue(at) => "overdue",
            _ if self.completed.is_some() => "completed",
            _ => "open",
        }
    }
    fn owner(&self) -> Option<&Actor> {
        Some(&self.owner)
    }
    fn due(&self) -> Option<Timestamp> {
        Some(self.due)
    }
    fn updated(&self) -> Timestamp {
        self.meta.updated
    }
}

/// Where a policy stands (5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyStage {
    /// Drafted.
    Draft,
    /// Approved by top management.
    Approved,
    /// Published.
    Published,
    /// Superseded by another.
    Superseded,
    /// Retired.
    Retired,
}

/// A row of the policy register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRow {
    /// Stream fields.
    pub meta: Meta,
    /// Title.
    pub title: Text,
    /// Stage.
    pub stage: PolicyStage,
    /// Who approved it.
    pub approved_by: Option<Actor>,
    /// When it was published.
    pub published: Option<Timestamp>,
    /// Who acknowledged it.
    pub acknowledged: SharedSet<Actor>,
}

impl RegisterRow for PolicyRow {
    fn id(&self) -> &str {
        self.meta.id.as_str()
    }
    fn status(&self, _at: Timestamp) -> &'static str {
        match self.stage {
            PolicyStage::Draft => "draft",
            PolicyStage::Approved => "approved",
            PolicyStage::Published => "published",
            PolicyStage::Superseded => "superseded",
            PolicyStage::Retired => "retired",
        }
    }
    fn owner(&self) -> Option<&Actor> {
        self.approved_by.as_ref()
    }
    fn updated(&self) -> Timestamp {
        self.meta.updated
    }
}

/// Where a supplier stands (8.x).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SupplierStage {
    /// Onboarded, not yet approved.
    Onboarded,
    /// Approved for use.
    Approved,
    /// Suspended.
    Suspended,
    /// Offboarded.
    Offboarded,
}

/// Where a supplier's screening stands at a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScreeningStatus {
    /// Never screened.
    NotScreened,
    /// The latest screening failed.
    Failed,
    /// Passed, within the supplier's interval.
    Current,
    /// Passed, but older than the interval.
    Overdue,
}

/// A row of the supplier register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplierRow {
    /// Stream fields.
    pub meta: Meta,
    /// Name.
    pub name: Text,
    /// Country.
    pub country: Code,
    /// Category.
    pub category: Code,
    /// Stage.
    pub stage: SupplierStage,
    /// Risk tier (1–3), once tiered.
    pub tier: Option<u32>,
    /// Latest assessment score (0–100).
    pub score: Option<u32>,
    /// Days a passing screening stays current.
    pub interval_days: u32,
    /// The latest screening.
    pub screening: Option<(Timestamp, ScreeningResult)>,
}

impl SupplierRow {
    /// The screening status at `at`.
    pub fn screening_status(&self, at: Timestamp) -> ScreeningStatus {
        match self.screening {
            None => ScreeningStatus::NotScreened,
            Some((_, ScreeningResult::Fail)) => ScreeningStatus::Failed,
            Some((when, ScreeningResult::Pass)) => {
                if at.days_since(when) > i64::from(self.interval_days) {
                    ScreeningStatus::Overdue
                } else {
                    ScreeningStatus::Current
                }
            }
        }
    }
    /// When the current screening runs out.
    pub fn screening_due(&self) -> Option<Timestamp> {
        self.screening
            .map(|(when, _)| when.plus_days(i64::from(self.interval_days)))
    }
}

impl RegisterRow for SupplierRow {
    fn id(&self) -> &str {
        self.meta.id.as_str()
    }
    fn status(&self, _at: Timestamp) -> &'static str {
        match self.stage {
            SupplierStage::Onboarded => "onboarded",
            SupplierStage::Approved => "approved",
            SupplierStage::Suspended => "suspended",
            SupplierStage::Offboarded => "offboarded",
        }
    }
    fn due(&self) -> Option<Timestamp> {
        self.screening_due()
    }
    fn tags(&self) -> Vec<&str> {
        vec![self.country.as_str(), self.category.as_str()]
    }
    fn updated(&self) -> Timestamp {
        self.meta.updated
    }
}

/// Where an audit stands (9.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditStage {
    /// Planned.
    Planned,
    /// Conducted.
    Conducted,
    /// Report issued.
    Reported,
    /// Closed.
    Closed,
}

/// A finding of an audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingView {
    /// Clause.
    pub clause: Code,
    /// Grade.
    pub grade: FindingGrade,
    /// What was found.
    pub description: Text,
    /// When it was recorded.
    pub recorded: Timestamp,
}

/// A row of the audit programme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    /// Stream fields.
    pub meta: Meta,
    /// Area audited.
    pub area: Code,
    /// Internal, certification or surveillance.
    pub kind: custodia_domain::AuditKind,
    /// The auditor.
    pub auditor: Actor,
    /// When it is scheduled.
    pub scheduled_for: Timestamp,
    /// Stage.
    pub stage: AuditStage,
    /// When it was conducted.
    pub conducted: Option<Timestamp>,
    /// Findings by id.
    pub findings: BTreeMap<RecordId, FindingView>,
}

impl AuditRow {
    /// Findings still open: those of an audit not yet closed. Opportunities are not findings
    /// to close.
    pub fn open_findings(&self) -> impl Iterator<Item = (&RecordId, &FindingView)> {
        let open = self.stage != AuditStage::Closed;
        self.findings
            .iter()
            .filter(move |(_, f)| open && f.grade != FindingGrade::Opportunity)
    }
}

impl RegisterRow for AuditRow {
    fn id(&self) -> &str {
        self.meta.id.as_str()
    }
    fn status(&self, at: Timestamp) -> &'static str {
        match self.stage {
            AuditStage::Planned if self.scheduled_for < at => "overdue",
            AuditStage::Planned => "planned",
            AuditStage::Conducted => "conducted",
            AuditStage::Reported => "reported",
            AuditStage::Closed => "closed",
        }
    }
    fn owner(&self) -> Option<&Actor> {
        Some(&self.auditor)
    }
    fn due(&self) -> Option<Timestamp> {
        Some(self.scheduled_for)
    }
    fn tags(&self) -> Vec<&str> {
        vec![self.area.as_str(), self.kind.as_str()]
    }
    fn updated(&self) -> Timestamp {
        self.meta.updated
    }
}

/// Where an objective stands (6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectiveStage {
    /// Being pursued.
    Active,
    /// Achieved.
    Achieved,
    /// Abandoned.
    Abandoned,
}

/// A row of the objectives register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectiveRow {
    /// Stream fields.
    pub meta: Meta,
    /// Title.
    pub title: Text,
    /// Metric.
    pub metric: Text,
    /// Unit.
    pub unit: Code,
    /// Baseline.
    pub baseline: Decimal,
    /// Target.
    pub target: Decimal,
    /// Whether lower or higher is better.
    pub direction: Direction,
    /// Due date.
    pub due: Timestamp,
    /// Owner.
    pub owner: Actor,
    /// Latest measurement: period, value, when.
    pub latest: Option<(Code, Decimal, Timestamp)>,
    /// Number of measurements.
    pub measurements: u32,
    /// Stage.
    pub stage: ObjectiveStage,
}

impl ObjectiveRow {
    /// Whether `value` meets the target in the objective's direction.
    pub fn meets_target(&self, value: &Decimal) -> bool {
        match self.direction {
            Direction::Decrease => value.micros() <= self.target.micros(),
            Direction::Increase => value.micros() >= self.target.micros(),
        }
    }
    /// Whether `value` improves on the baseline in the objective's direction.
    pub fn improves(&self, value: &Decimal) -> bool {
        match self.direction {
            Direction::Decrease => value.micros() < self.baseline.micros(),
            Direction::Increase => value.micros() > self.baseline.micros(),
        }
    }
}

impl RegisterRow for ObjectiveRow {
    fn id(&self) -> &str {
        self.meta.id.as_str()
    }
    fn status(&self, _at: Timestamp) -> &'static str {
        match self.stage {
            ObjectiveStage::Active => "active",
            ObjectiveStage::Achieved => "achieved",
            ObjectiveStage::Abandoned => "abandoned",
        }
    }
    fn owner(&self) -> Option<&Actor> {
        Some(&self.owner)
    }
    fn due(&self) -> Option<Timestamp> {
        Some(self.due)
    }
    fn updated(&self) -> Timestamp {
        self.meta.updated
    }
}

/// A row of the control register (8.2, 8.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlRow {
    /// Stream fields.
    pub meta: Meta,
    /// Title.
    pub title: Text,
    /// Physical, technical or administrative.
    pub category: ControlCategory,
    /// Risks it treats.
    pub risks: Vec<RecordId>,
    /// When it was implemented.
    pub implemented: Option<Timestamp>,
    /// Latest test: when and the result.
    pub last_test: Option<(Timestamp, TestResult)>,
    /// Tests run.
    pub tests: u32,
    /// When it was retired.
    pub retired: Option<Timestamp>,
}

impl RegisterRow for ControlRow {
    fn id(&self) -> &str {
        self.meta.id.as_str()
    }
    fn status(&self, _at: Timestamp) -> &'static str {
        match (self.retired, self.implemented, self.last_test) {
            (Some(_), _, _) => "retired",
            (None, None, _) => "defined",
            (None, Some(_), Some((_, TestResult::Ineffective))) => "ineffective",
            (None, Some(_), Some((_, TestResult::Effective))) => "effective",
            (None, Some(_), None) => "implemented",
        }
    }
    fn tags(&self) -> Vec<&str> {
        let category = match self.category {
            ControlCategory::Physical => "physical",
            ControlCategory::Technical => "technical",
            ControlCategory::Administrative => "administrative",
        };
        vec![category]
    }
    fn updated(&self) -> Timestamp {
        self.meta.updated
    }
}

/// A row of the obligations register (4.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObligationRow {
    /// Stream fields.
    pub meta: Meta,
    /// Title.
    pub title: Text,
    /// Source (C-TPAT, AEO, ISPS, …).
    pub source: Code,
    /// The interested party it comes from.
    pub party: Option<RecordId>,
    /// Next review.
    pub next_review: Timestamp,
    /// Latest compliance verdict.
    pub compliant: Option<bool>,
    /// When it was retired.
    pub retired: Option<Timestamp>,
}

impl RegisterRow for ObligationRow {
    fn id(&self) -> &str {
        self.meta.id.as_str()
    }
    fn status(&self, at: Timestamp) -> &'static str {
        match () {
            _ if self.retired.is_some() => "retired",
            _ if self.next_review < at => "overdue",
            _ if self.compliant == Some(false) => "noncompliant",
            _ => "current",
        }
    }
    fn due(&self) -> Option<Timestamp> {
        Some(self.next_review)
    }
    fn tags(&self) -> Vec<&str> {
        vec![self.source.as_str()]
    }
    fn updated(&self) -> Timestamp {
        self.meta.updated
    }
}

/// A row of the document register (7.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentRow {
    /// Stream fields.
    pub meta: Meta,
    /// Title.
    pub title: Text,
    /// Latest revision issued.
    pub revision: u32,
    /// Latest revision approved (0: none).
    pub approved_revision: u32,
    /// Who issued the latest revision.
    pub issued_by: Actor,
    /// When it was withdrawn.
    pub withdrawn: Option<Timestamp>,
}

impl RegisterRow for DocumentRow {
    fn id(&self) -> &str {
        self.meta.id.as_str()
    }
    fn status(&self, _at: Timestamp) -> &'static str {
        match () {
            _ if self.withdrawn.is_some() => "withdrawn",
            _ if self.approved_revision == self.revision => "approved",
            _ => "awaiting_approval",
        }
    }
    fn owner(&self) -> Option<&Actor> {
        Some(&self.issued_by)
    }
    fn updated(&self) -> Timestamp {
        self.meta.updated
    }
}

/// A role and who holds it (5.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleRow {
    /// Stream fields.
    pub meta: Meta,
    /// Title.
    pub title: Option<Text>,
    /// Holders, each optionally scoped to an area.
    pub holders: SharedSet<(Actor, Option<Code>)>,
}

impl RoleRow {
    /// Distinct people holding the role.
    pub fn people(&self) -> BTreeSet<&Actor> {
        self.holders.iter().map(|(p, _)| p).collect()
    }
}

impl RegisterRow for RoleRow {
    fn id(&self) -> &str {
        self.meta.id.as_str()
    }
    fn status(&self, _at: Timestamp) -> &'static str {
        if self.holders.is_empty() {
            "vacant"
        } else {
            "held"
        }
    }
    fn updated(&self) -> Timestamp {
        self.meta.updated
    }
}

/// A competence a role requires (7.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompetenceRow {
    /// Stream fields.
    pub meta: Meta,
    /// The role that requires it.
    pub role: Role,
    /// Title.
    pub title: Text,
    /// How long a training stays valid.
    pub validity_days: u32,
}

/// A person's training record (7.2): per competence, valid until when, and whether it was
/// recorded expired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRow {
    /// Stream fields.
    pub meta: Meta,
    /// Per competence: valid until, and whether recorded expired.
    pub trainings: BTreeMap<RecordId, (Timestamp, bool)>,
}

impl PersonRow {
    /// Whether the person holds a valid training for `competence` at `at`.
    pub fn trained(&self, competence: &RecordId, at: Timestamp) -> bool {
        self.trainings
            .get(competence)
            .is_some_and(|(until, expired)| !expired && at <= *until)
    }
}

/// A row of the context register (4.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueRow {
    /// Stream fields.
    pub meta: Meta,
    /// Title.
    pub title: Text,
    /// Internal or external.
    pub origin: IssueOrigin,
    /// When it was retired.
    pub retired: Option<Timestamp>,
}

/// The scope statement (4.3) and its revisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeRow {
    /// Stream fields.
    pub meta: Meta,
    /// The statement in force.
    pub statement: Text,
    /// Sites covered.
    pub sites: Vec<Code>,
    /// Revisions after the definition.
    pub revisions: u32,
}

/// A management review (9.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewRow {
    /// Stream fields.
    pub meta: Meta,
    /// Period start.
    pub period_start: Timestamp,
    /// Period end.
    pub period_end: Timestamp,
    /// When it is scheduled.
    pub scheduled_for: Timestamp,
    /// Chair.
    pub chair: Actor,
    /// Sealed inputs: tree size, root, pack digest.
    pub sealed: Option<(u64, String, String)>,
    /// When it was held.
    pub held: Option<Timestamp>,
    /// Decisions by id.
    pub decisions: BTreeMap<RecordId, DecisionView>,
    /// When it was closed.
    pub closed: Option<Timestamp>,
}

/// A decision of a management review: an action for someone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionView {
    /// What was decided.
    pub text: Text,
    /// Who carries it out.
    pub owner: Actor,
    /// When it is due.
    pub due: Option<Timestamp>,
    /// When it was recorded.
    pub recorded: Timestamp,
}

impl RegisterRow for ReviewRow {
    fn id(&self) -> &str {
        self.meta.id.as_str()
    }
    fn status(&self, at: Timestamp) -> &'static str {
        match () {
            _ if self.closed.is_some() => "closed",
            _ if self.held.is_some() => "held",
            _ if self.scheduled_for < at => "overdue",
            _ if self.sealed.is_some() => "sealed",
            _ => "scheduled",
        }
    }
    fn owner(&self) -> Option<&Actor> {
        Some(&self.chair)
    }
    fn due(&self) -> Option<Timestamp> {
        Some(self.scheduled_for)
    }
    fn updated(&self) -> Timestamp {
        self.meta.updated
    }
}

/// An opportunity for improvement (10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImprovementRow {
    /// Stream fields.
    pub meta: Meta,
    /// Title.
    pub title: Text,
    /// Where it came from.
    pub source: Code,
}

/// An interested party (4.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartyRow {
    /// Stream fields.
    pub meta: Meta,
    /// Name.
    pub name: Text,
    /// Category (customer, customs, insurer, …).
    pub category: Code,
    /// Requirements stated.
    pub requirements: u32,
}

impl RegisterRow for PartyRow {
    fn id(&self) -> &str {
        self.meta.id.as_str()
    }
    fn status(&self, _at: Timestamp) -> &'static str {
        "recorded"
    }
    fn tags(&self) -> Vec<&str> {
        vec![self.category.as_str()]
    }
    fn updated(&self) -> Timestamp {
        self.meta.updated
    }
}

/// A planned change to the SMS (6.3): one line of the change log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRow {
    /// Stream fields.
    pub meta: Meta,
    /// Title.
    pub title: Text,
    /// Who proposed it.
    pub proposed_by: Actor,
    /// When and by whom it was approved.
    pub approved: Option<(Timestamp, Actor)>,
    /// When it was implemented.
    pub implemented: Option<Timestamp>,
}

impl RegisterRow for ChangeRow {
    fn id(&self) -> &str {
        self.meta.id.as_str()
    }
    fn status(&self, _at: Timestamp) -> &'static str {
        match (&self.approved, self.implemented) {
            (_, Some(_)) => "implemented",
            (Some(_), None) => "approved",
            (None, None) => "proposed",
        }
    }
    fn owner(&self) -> Option<&Actor> {
        Some(&self.proposed_by)
    }
    fn updated(&self) -> Timestamp {
        self.meta.updated
    }
}

/// A communication sent (7.4): one line of the communication log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommunicationRow {
    /// Stream fields; `meta.created` is when it was sent.
    pub meta: Meta,
    /// Audience.
    pub audience: Code,
    /// Channel.
    pub channel: Code,
    /// Subject.
    pub subject: Text,
    /// Outside the organization.
    pub external: bool,
    /// The authority addressed, if any.
    pub authority: Option<Code>,
}

impl RegisterRow for CommunicationRow {
    fn id(&self) -> &str {
        self.meta.id.as_str()
    }
    fn status(&self, _at: Timestamp) -> &'static str {
        if self.external {
            "external"
        } else {
            "internal"
        }
    }
    fn tags(&self) -> Vec<&str> {
        let mut tags = vec![self.audience.as_str(), self.channel.as_str()];
        tags.extend(self.authority.as_ref().map(Code::as_str));
        tags
    }
    fn updated(&self) -> Timestamp {
        self.meta.updated
    }
}

/// A security, response, recovery or continuity plan (8.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRow {
    /// Stream fields.
    pub meta: Meta,
    /// Title.
    pub title: Text,
    /// Response, recovery or continuity.
    pub kind: custodia_domain::PlanKind,
    /// Revision in force.
    pub revision: u32,
    /// Exercises run.
    pub exercises: u32,
    /// The latest exercise: when and its outcome.
    pub last_exercise: Option<(Timestamp, custodia_domain::ExerciseOutcome)>,
}

impl RegisterRow for PlanRow {
    fn id(&self) -> &str {
        self.meta.id.as_str()
    }
    fn status(&self, _at: Timestamp) -> &'static str {
        if self.exercises == 0 {
            "not_exercised"
        } else {
            "exercised"
        }
    }
    fn tags(&self) -> Vec<&str> {
        vec![self.kind.as_str()]
    }
    fn updated(&self) -> Timestamp {
        self.meta.updated
    }
}

/// A gap analysis or readiness assessment: clause ratings (0–4) and the result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssessmentRow {
    /// Stream fields.
    pub meta: Meta,
    /// The standard assessed against.
    pub standard: Code,
    /// Rating per clause.
    pub ratings: BTreeMap<Code, u32>,
    /// When it was completed, and the readiness it reported (percent).
    pub completed: Option<(Timestamp, Decimal)>,
}

impl RegisterRow for AssessmentRow {
    fn id(&self) -> &str {
        self.meta.id.as_str()
    }
    fn status(&self, _at: Timestamp) -> &'static str {
        if self.completed.is_some() {
            "completed"
        } else {
            "in_progress"
        }
    }
    fn updated(&self) -> Timestamp {
        self.meta.updated
    }
}
