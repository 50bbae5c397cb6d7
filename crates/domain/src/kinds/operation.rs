//! Clause 8: controls (`control`), suppliers (`supplier`), security plans (`plan`) and
//! incidents (`incident`).

use crate::context::Context;
use crate::event::{Envelope, Event};
use crate::ids::{roles, Code, RecordId, StreamId, StreamKind, Subject, Text};
use crate::macros::{code_enum, payload};
use crate::rejection::{Rejection, Result};
use crate::state::{invalid, Kind};
use crate::time::Timestamp;
use std::collections::BTreeSet;

const MANAGERS: &[&str] = &[roles::SECURITY_MANAGER, roles::TOP_MANAGEMENT];
/// Screening intervals outside this range are refused: under 30 days is noise, over 3 years is neglect.
pub const SCREENING_INTERVAL_DAYS: std::ops::RangeInclusive<u32> = 30..=1096;

code_enum! {
    /// Kind of control (8.2).
    pub enum ControlCategory {
        /// Fences, seals, locks, guards.
        Physical => "physical",
        /// GPS tracking, CCTV, access systems.
        Technical => "technical",
        /// Procedures, vetting, training.
        Administrative => "administrative",
    }
}
code_enum! {
    /// Outcome of a control test.
    pub enum TestResult {
        /// Worked as designed.
        Effective => "effective",
        /// Did not.
        Ineffective => "ineffective",
    }
}

payload! {
    /// `control.defined`: a control and the risks it addresses.
    pub struct ControlDefined {
        /// Title.
        pub title: Text,
        /// Kind.
        pub category: ControlCategory,
        /// What it does.
        pub description: Text,
        /// Risks it treats.
        pub risks: Vec<RecordId>,
    }
}
payload! {
    /// `control.implemented`: the control is in place.
    pub struct ControlImplemented {
        /// Evidence.
        pub evidence: Text,
    }
}
payload! {
    /// `control.tested`: the control's effectiveness was tested.
    pub struct ControlTested {
        /// Result.
        pub result: TestResult,
        /// Notes.
        pub notes: Text,
    }
}
payload! {
    /// `control.retired`: the control is no longer used.
    pub struct ControlRetired {
        /// Why.
        pub reason: Text,
    }
}

/// Commands on a `control` stream.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(
    tag = "action",
    content = "data",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum ControlCommand {
    /// Define it.
    Define(ControlDefined),
    /// Implement it.
    Implement(ControlImplemented),
    /// Test it (after implementation).
    Test(ControlTested),
    /// Retire it.
    Retire(ControlRetired),
}

/// State of one control.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Control {
    defined: bool,
    implemented: bool,
    last_result: Option<TestResult>,
    retired: bool,
}

impl Control {
    /// The latest test result.
    pub fn last_result(&self) -> Option<TestResult> {
        self.last_result
    }
}

impl Kind for Control {
    type Command = ControlCommand;
    fn decide(&self, rec: &Subject, cmd: ControlCommand, ctx: &Context<'_>) -> Result<Vec<Event>> {
        ctx.require(rec, "managing controls", MANAGERS)?;
        if self.retired {
            return Err(invalid(rec, "change it", "retired"));
        }
        let event = match cmd {
            ControlCommand::Define(p) => {
                for risk in &p.risks {
                    ctx.require_exists(rec, &StreamId::new(StreamKind::Risk, risk.clone()))?;
                }
                Event::ControlDefined(p)
            }
            ControlCommand::Implement(_) if self.implemented => {
                return Err(invalid(rec, "implement", "implemented"))
            }
            ControlCommand::Implement(p) => Event::ControlImplemented(p),
            ControlCommand::Test(_) if !self.implemented => {
                return Err(invalid(rec, "test", "not implemented"))
            }
            ControlCommand::Test(p) => Event::ControlTested(p),
            ControlCommand::Retire(p) => Event::ControlRetired(p),
        };
        Ok(vec![event])
    }
    fn apply(&mut self, env: &Envelope) {
        match &env.event {
            Event::ControlDefined(_) => self.defined = true,
            Event::ControlImplemented(_) => self.implemented = true,
            Event::ControlTested(p) => self.last_result = Some(p.result),
            Event::ControlRetired(_) => self.retired = true,
            _ => {}
        }
    }
    fn exists(&self) -> bool {
        self.defined
    }
    fn creates(cmd: &ControlCommand) -> bool {
        matches!(cmd, ControlCommand::Define(_))
    }
    fn invariant(&self) -> std::result::Result<(), String> {
        if self.last_result.is_some() && !self.implemented {
            return Err("tested before implementation".into());
        }
        Ok(())
    }
}

code_enum! {
    /// Outcome of a supplier screening (sanctions, watch lists, certifications).
    pub enum ScreeningResult {
        /// No hits; certifications valid.
        Pass => "pass",
        /// A hit or a missing certification.
        Fail => "fail",
    }
}

payload! {
    /// `supplier.onboarded`: a supplier or contractor entered the register.
    pub struct SupplierOnboarded {
        /// Legal name.
        pub name: Text,
        /// Country code.
        pub country: Code,
        /// Service category (haulier, warehouse, freight forwarder...).
        pub category: Code,
        /// How often screening must be repeated, 30..=1096 days.
        #[schemars(range(min = 30, max = 1096))]
        pub screening_interval_days: u32,
    }
}
payload! {
    /// `supplier.screened`: screened against lists and certification status.
    pub struct SupplierScreened {
        /// Outcome.
        pub result: ScreeningResult,
        /// Lists checked (sanctions, denied parties).
        pub lists: Vec<Code>,
        /// Certifications confirmed (AEO, C-TPAT, TAPA, ISO 28000).
        pub certifications: Vec<Code>,
    }
}
payload! {
    /// `supplier.tiered`: risk tier, 1 (highest) to 3.
    pub struct SupplierTiered {
        /// Tier 1..=3.
        #[schemars(range(min = 1, max = 3))]
        pub tier: u32,
        /// Why.
        pub rationale: Text,
    }
}
payload! {
    /// `supplier.assessed`: a performance or security assessment score.
    pub struct SupplierAssessed {
        /// Score 0..=100.
        #[schemars(range(min = 0, max = 100))]
        pub score: u32,
        /// Notes.
        pub notes: Text,
    }
}
payload! {
    /// `supplier.approved`, `supplier.suspended`, `supplier.reinstated`, `supplier.offboarded`.
    pub struct SupplierDecision {
        /// Why.
        pub reason: Text,
    }
}

/// Commands on a `supplier` stream.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(
    tag = "action",
    content = "data",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum SupplierCommand {
    /// Onboard it.
    Onboard(SupplierOnboarded),
    /// Record a screening.
    Screen(SupplierScreened),
    /// Set its tier.
    Tier(SupplierTiered),
    /// Record an assessment.
    Assess(SupplierAssessed),
    /// Approve it for use (needs a current passing screening).
    Approve(SupplierDecision),
    /// Suspend it.
    Suspend(SupplierDecision),
    /// Reinstate it (needs a current passing screening).
    Reinstate(SupplierDecision),
    /// Offboard it.
    Offboard(SupplierDecision),
}

/// Where a supplier is in its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SupplierStatus {
    /// No events.
    #[default]
    Absent,
    /// In the register, not approved for use.
    Onboarded,
    /// Approved for use.
    Approved,
    /// Suspended.
    Suspended,
    /// Gone.
    Offboarded,
}

/// State of one supplier.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Supplier {
    status: SupplierStatus,
    interval_days: u32,
    last_screening: Option<(Timestamp, ScreeningResult)>,
    tier: Option<u32>,
}

impl Supplier {
    /// Where it is in its life.
    pub fn status(&self) -> SupplierStatus {
        self.status
    }
    /// Whether its screening is missing or older than its interval at `at`.
    pub fn screening_overdue(&self, at: Timestamp) -> bool {
        match self.last_screening {
            None => true,
            Some((when, _)) => at.days_since(when) > i64::from(self.interval_days),
        }
    }

    fn require_screening(&self, rec: &Subject, action: &'static str, at: Timestamp) -> Result<()> {
        match self.last_screening {
            Some((_, ScreeningResult::Pass)) if !self.screening_overdue(at) => Ok(()),
            Some((when, ScreeningResult::Pass)) => Err(Rejection::ScreeningOverdue {
                record: rec.clone(),
                screened_at: when,
                interval_days: self.interval_days,
            }),
            _ => Err(Rejection::SupplierNotScreened {
                record: rec.clone(),
                action,
            }),
        }
    }
}

impl Kind for Supplier {
    type Command = SupplierCommand;
    fn decide(&self, rec: &Subject, cmd: SupplierCommand, ctx: &Context<'_>) -> Result<Vec<Event>> {
        use SupplierStatus as S;
        ctx.require(rec, "managing suppliers", MANAGERS)?;
        let at = ctx.occurred_at();
        let event = match (cmd, self.status) {
            (_, S::Offboarded) => return Err(invalid(rec, "change it", "offboarded")),
            (SupplierCommand::Onboard(p), _) => {
                if !SCREENING_INTERVAL_DAYS.contains(&p.screening_interval_days) {
                    let reason = format!("must be within {SCREENING_INTERVAL_DAYS:?}");
                    return Err(Rejection::InvalidValue {
                        record: rec.clone(),
                        field: "screening_interval_days",
                        reason,
                    });
                }
                Event::SupplierOnboarded(p)
            }
            (SupplierCommand::Screen(p), status) => {
                // A supplier in use that fails screening is suspended at once, in the same decision.
                let suspend = p.result == ScreeningResult::Fail && status == S::Approved;
                let mut events = vec![Event::SupplierScreened(p)];
                if suspend {
                    let reason =
                        Text::new("Suspended automatically: screening failed").expect("valid text");
                    events.push(Event::SupplierSuspended(SupplierDecision { reason }));
                }
                return Ok(events);
            }
            (SupplierCommand::Tier(p), _) => {
                if !(1..=3).contains(&p.tier) {
                    let reason = format!("{} is outside 1..=3", p.tier);
                    return Err(Rejection::InvalidValue {
                        record: rec.clone(),
                        field: "tier",
                        reason,
                    });
                }
                Event::SupplierTiered(p)
            }
            (SupplierCommand::Assess(p), _) => {
                if p.score > 100 {
                    let reason = format!("{} is outside 0..=100", p.score);
                    return Err(Rejection::InvalidValue {
                        record: rec.clone(),
                        field: "score",
                        reason,
                    });
                }
                Event::SupplierAssessed(p)
            }
            (SupplierCommand::Approve(p), S::Onboarded) => {
                self.require_screening(rec, "approve for use", at)?;
                Event::SupplierApproved(p)
            }
            (SupplierCommand::Suspend(p), S::Onboarded | S::Approved) => {
                Event::SupplierSuspended(p)
            }
            (SupplierCommand::Reinstate(p), S::Suspended) => {
                self.require_screening(rec, "reinstate", at)?;
                Event::SupplierReinstated(p)
            }
            (SupplierCommand::Offboard(p), _) => Event::SupplierOffboarded(p),
            (cmd, status) => return Err(invalid(rec, supplier_action(&cmd), status_name(status))),
        };
        Ok(vec![event])
    }
    fn apply(&mut self, env: &Envelope) {
        match &env.event {
            Event::SupplierOnboarded(p) => {
                self.status = SupplierStatus::Onboarded;
                self.interval_days = p.screening_interval_days;
            }
            Event::SupplierScreened(p) => self.last_screening = Some((env.occurred_at, p.result)),
            Event::SupplierTiered(p) => self.tier = Some(p.tier),
            Event::SupplierApproved(_) | Event::SupplierReinstated(_) => {
                self.status = SupplierStatus::Approved
            }
            Event::SupplierSuspended(_) => self.status = SupplierStatus::Suspended,
            Event::SupplierOffboarded(_) => self.status = SupplierStatus::Offboarded,
            _ => {}
        }
    }
    fn exists(&self) -> bool {
        self.status != SupplierStatus::Absent
    }
    fn creates(cmd: &SupplierCommand) -> bool {
        matches!(cmd, SupplierCommand::Onboard(_))
    }
    fn invariant(&self) -> std::result::Result<(), String> {
        let passed = matches!(self.last_screening, Some((_, ScreeningResult::Pass)));
        if self.status == SupplierStatus::Approved && !passed {
            return Err("approved without a passing screening".into());
        }
        Ok(())
    }
}

fn supplier_action(cmd: &SupplierCommand) -> &'static str {
    match cmd {
        SupplierCommand::Approve(_) => "approve",
        SupplierCommand::Suspend(_) => "suspend",
        SupplierCommand::Reinstate(_) => "reinstate",
        _ => "change it",
    }
}

fn status_name(status: SupplierStatus) -> &'static str {
    match status {
        SupplierStatus::Absent => "absent",
        SupplierStatus::Onboarded => "onboarded",
        SupplierStatus::Approved => "approved",
        SupplierStatus::Suspended => "suspended",
        SupplierStatus::Offboarded => "offboarded",
    }
}

code_enum! {
    /// What a security plan is for (8.5, 8.6).
    pub enum PlanKind {
        /// Responding to incidents.
        Response => "response",
        /// Recovering operations.
        Recovery => "recovery",
        /// Continuing operations during disruption.
        Continuity => "continuity",
    }
}
code_enum! {
    /// How an exercise went.
    pub enum ExerciseOutcome {
        /// The plan worked.
        Satisfactory => "satisfactory",
        /// Gaps were found.
        NeedsImprovement => "needs_improvement",
    }
}

payload! {
    /// `plan.approved`: a revision of a security plan was approved.
    pub struct PlanApproved {
        /// Title.
        pub title: Text,
        /// Purpose.
        pub kind: PlanKind,
        /// Revision approved.
        #[schemars(range(min = 1, max = 1000000))]
        pub revision: u32,
    }
}
payload! {
    /// `plan.exercised`: the plan was tested in an exercise.
    pub struct PlanExercised {
        /// Scenario played.
        pub scenario: Text,
        /// Outcome.
        pub outcome: ExerciseOutcome,
        /// Lessons learned.
        pub lessons: Text,
    }
}
payload! {
    /// `plan.revised`: a new revision was drafted; it needs approval before use.
    pub struct PlanRevised {
        /// New revision number.
        #[schemars(range(min = 1, max = 1000000))]
        pub revision: u32,
        /// What changed.
        pub changes: Text,
    }
}

/// Commands on a `plan` stream.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(
    tag = "action",
    content = "data",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum PlanCommand {
    /// Approve a revision (the first, or the revised one).
    Approve(PlanApproved),
    /// Exercise the approved plan.
    Exercise(PlanExercised),
    /// Draft a new revision.
    Revise(PlanRevised),
}

/// State of one plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    revision: u32,
    approved: bool,
    exercises: u32,
}

impl Kind for Plan {
    type Command = PlanCommand;
    fn decide(&self, rec: &Subject, cmd: PlanCommand, ctx: &Context<'_>) -> Result<Vec<Event>> {
        let bad_revision = |expected: u32| Rejection::InvalidValue {
            record: rec.clone(),
            field: "revision",
            reason: format!("must be {expected}"),
        };
        let event = match cmd {
            PlanCommand::Approve(_) if self.approved => {
                return Err(invalid(rec, "approve", "approved"))
            }
            PlanCommand::Approve(p) => {
                ctx.require(rec, "approving plans", &[roles::TOP_MANAGEMENT])?;
                let expected = self.revision.max(1);
                if p.revision != expected {
                    return Err(bad_revision(expected));
                }
                Event::PlanApproved(p)
            }
            PlanCommand::Exercise(_) if !self.approved => {
                return Err(invalid(rec, "exercise", "not approved"))
            }
            PlanCommand::Exercise(p) => {
                ctx.require(rec, "exercising plans", MANAGERS)?;
                Event::PlanExercised(p)
            }
            PlanCommand::Revise(_) if !self.approved => {
                return Err(invalid(rec, "revise", "awaiting approval"))
            }
            PlanCommand::Revise(p) => {
                ctx.require(rec, "revising plans", MANAGERS)?;
                if p.revision != self.revision + 1 {
                    return Err(bad_revision(self.revision + 1));
                }
                Event::PlanRevised(p)
            }
        };
        Ok(vec![event])
    }
    fn apply(&mut self, env: &Envelope) {
        match &env.event {
            Event::PlanApproved(p) => {
                self.revision = p.revision;
                self.approved = true;
            }
            Event::PlanExercised(_) => self.exercises += 1,
            Event::PlanRevised(p) => {
                self.revision = p.revision;
                self.approved = false;
            }
            _ => {}
        }
    }
    fn exists(&self) -> bool {
        self.revision > 0
    }
    fn creates(_: &PlanCommand) -> bool {
        false
    }
    fn may_create(cmd: &PlanCommand) -> bool {
        matches!(cmd, PlanCommand::Approve(_))
    }
}

code_enum! {
    /// What kind of security incident.
    pub enum IncidentCategory {
        /// Cargo stolen.
        CargoTheft => "cargo_theft",
        /// Contraband found.
        Smuggling => "smuggling",
        /// Goods or seals tampered with.
        Tampering => "tampering",
        /// Attack at sea.
        Piracy => "piracy",
        /// Unauthorized access to a site or vehicle.
        UnauthorizedAccess => "unauthorized_access",
        /// Attack on systems.
        Cyber => "cyber",
    }
}
code_enum! {
    /// How bad an incident is.
    pub enum Severity {
        /// Low.
        Low => "low",
        /// Medium.
        Medium => "medium",
        /// High: closes only with an investigation.
        High => "high",
        /// Critical: closes only with an investigation.
        Critical => "critical",
    }
}
code_enum! {
    /// Who an incident was escalated to.
    pub enum Authority {
        /// Customs.
        Customs => "customs",
        /// Police.
        Police => "police",
        /// Coast guard or navy.
        CoastGuard => "coast_guard",
        /// A regulator.
        Regulator => "regulator",
        /// The insurer.
        Insurer => "insurer",
    }
}

payload! {
    /// `incident.reported`: a security incident (8.5).
    pub struct IncidentReported {
        /// Title.
        pub title: Text,
        /// Category.
        pub category: IncidentCategory,
        /// Initial severity.
        pub severity: Severity,
        /// Site or lane.
        pub site: Code,
        /// Country code.
        pub country: Code,
        /// What happened.
        pub description: Text,
    }
}
payload! {
    /// `incident.triaged`: severity confirmed or changed.
    pub struct IncidentTriaged {
        /// Severity after triage.
        pub severity: Severity,
        /// Notes.
        pub notes: Text,
    }
}
payload! {
    /// `incident.contained`: the incident stopped spreading.
    pub struct IncidentContained {
        /// What was done.
        pub actions: Text,
    }
}
payload! {
    /// `incident.escalated`: reported to an authority (customs, police...).
    pub struct IncidentEscalated {
        /// The authority.
        pub authority: Authority,
        /// Their case reference.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub reference: Option<Code>,
    }
}
payload! {
    /// `incident.investigated`: root cause found.
    pub struct IncidentInvestigated {
        /// Root cause.
        pub root_cause: Text,
        /// Findings.
        pub findings: Text,
    }
}
payload! {
    /// `incident.closed`: handled.
    pub struct IncidentClosed {
        /// Summary.
        pub summary: Text,
    }
}

/// Commands on an `incident` stream.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(
    tag = "action",
    content = "data",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum IncidentCommand {
    /// Report it.
    Report(IncidentReported),
    /// Triage it.
    Triage(IncidentTriaged),
    /// Contain it (after triage).
    Contain(IncidentContained),
    /// Escalate to an authority.
    Escalate(IncidentEscalated),
    /// Record the investigation (after containment).
    Investigate(IncidentInvestigated),
    /// Close it.
    Close(IncidentClosed),
}

/// Where an incident is in its handling.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum IncidentStatus {
    /// No events.
    #[default]
    Absent,
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

impl IncidentStatus {
    fn name(self) -> &'static str {
        [
            "absent",
            "reported",
            "triaged",
            "contained",
            "investigated",
            "closed",
        ][self as usize]
    }
}

/// State of one incident.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Incident {
    status: IncidentStatus,
    severity: Option<Severity>,
    category: Option<IncidentCategory>,
    escalated_to: BTreeSet<Authority>,
    investigated: bool,
}

impl Incident {
    /// Where it is in its handling.
    pub fn status(&self) -> IncidentStatus {
        self.status
    }
    /// Its current severity.
    pub fn severity(&self) -> Option<Severity> {
        self.severity
    }
    /// Authorities it was escalated to.
    pub fn escalated_to(&self) -> &BTreeSet<Authority> {
        &self.escalated_to
    }
}

impl Kind for Incident {
    type Command = IncidentCommand;
    fn decide(&self, rec: &Subject, cmd: IncidentCommand, ctx: &Context<'_>) -> Result<Vec<Event>> {
        use IncidentStatus as S;
        ctx.require(
            rec,
            "handling incidents",
            &[roles::INCIDENT_HANDLER, roles::SECURITY_MANAGER],
        )?;
        let event = match (cmd, self.status) {
            (_, S::Closed) => return Err(invalid(rec, "change it", "closed")),
            (IncidentCommand::Report(p), _) => Event::IncidentReported(p),
            (IncidentCommand::Triage(p), S::Reported) => Event::IncidentTriaged(p),
            (IncidentCommand::Contain(p), S::Triaged) => Event::IncidentContained(p),
            (IncidentCommand::Escalate(p), _) => {
                if self.escalated_to.contains(&p.authority) {
                    let key = p.authority.as_str().to_owned();
                    return Err(Rejection::Duplicate {
                        record: rec.clone(),
                        what: "escalation to",
                        key,
                    });
                }
                Event::IncidentEscalated(p)
            }
            (IncidentCommand::Investigate(p), S::Contained) => Event::IncidentInvestigated(p),
            (IncidentCommand::Close(p), S::Contained | S::Investigated) => {
                self.check_close(rec, ctx)?;
                Event::IncidentClosed(p)
            }
            (cmd, status) => return Err(invalid(rec, incident_action(&cmd), status.name())),
        };
        Ok(vec![event])
    }
    fn apply(&mut self, env: &Envelope) {
        match &env.event {
            Event::IncidentReported(p) => {
                self.status = IncidentStatus::Reported;
                self.severity = Some(p.severity);
                self.category = Some(p.category);
            }
            Event::IncidentTriaged(p) => {
                self.status = IncidentStatus::Triaged;
                self.severity = Some(p.severity);
            }
            Event::IncidentContained(_) => self.status = IncidentStatus::Contained,
            Event::IncidentEscalated(p) => {
                self.escalated_to.insert(p.authority);
            }
            Event::IncidentInvestigated(_) => {
                self.status = IncidentStatus::Investigated;
                self.investigated = true;
            }
            Event::IncidentClosed(_) => self.status = IncidentStatus::Closed,
            _ => {}
        }
    }
    fn exists(&self) -> bool {
        self.status != IncidentStatus::Absent
    }
    fn creates(cmd: &IncidentCommand) -> bool {
        matches!(cmd, IncidentCommand::Report(_))
    }
    fn invariant(&self) -> std::result::Result<(), String> {
        let high = self.severity >= Some(Severity::High);
        if self.status == IncidentStatus::Closed && high && !self.investigated {
            return Err("high-severity incident closed without investigation".into());
        }
        Ok(())
    }
}

impl Incident {
    fn check_close(&self, rec: &Subject, ctx: &Context<'_>) -> Result<()> {
        ctx.require(rec, "closing incidents", &[roles::SECURITY_MANAGER])?;
        let severity = self.severity.unwrap_or(Severity::Low);
        if severity >= Severity::High && !self.investigated {
            return Err(Rejection::InvestigationRequired {
                record: rec.clone(),
                severity: severity.as_str(),
            });
        }
        Ok(())
    }
}

fn incident_action(cmd: &IncidentCommand) -> &'static str {
    match cmd {
        IncidentCommand::Report(_) => "report",
        IncidentCommand::Triage(_) => "triage",
        IncidentCommand::Contain(_) => "contain",
        IncidentCommand::Escalate(_) => "escalate",
        IncidentCommand::Investigate(_) => "investigate",
        IncidentCommand::Close(_) => "close",
    }
}
