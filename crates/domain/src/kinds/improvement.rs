//! Clause 10: nonconformities (`nonconformity`), corrective actions (`corrective_action`) and
//! continual improvement (`improvement`).

use crate::context::Context;
use crate::event::{Envelope, Event};
use crate::ids::{roles, Actor, Code, RecordId, StreamId, StreamKind, Subject, Text};
use crate::macros::{code_enum, payload};
use crate::rejection::{Rejection, Result};
use crate::state::{invalid, Body, Kind};
use crate::time::Timestamp;

const MANAGERS: &[&str] = &[roles::SECURITY_MANAGER, roles::TOP_MANAGEMENT];

code_enum! {
    /// How serious a nonconformity is.
    pub enum NcGrade {
        /// Major.
        Major => "major",
        /// Minor.
        Minor => "minor",
    }
}

payload! {
    /// `nonconformity.raised`: a requirement was not met (10.2).
    pub struct NonconformityRaised {
        /// What is wrong.
        pub description: Text,
        /// Clause not met.
        pub clause: Code,
        /// Grade.
        pub grade: NcGrade,
        /// The audit it came from, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub audit: Option<RecordId>,
        /// The incident it came from, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub incident: Option<RecordId>,
    }
}
payload! {
    /// `nonconformity.root_cause_identified`: why it happened.
    pub struct RootCauseIdentified {
        /// Root cause.
        pub root_cause: Text,
        /// Method (5 whys, fishbone...).
        pub method: Code,
    }
}
payload! {
    /// `nonconformity.closed`: resolved by a corrective action verified effective.
    pub struct NonconformityClosed {
        /// The corrective action verified effective.
        pub corrective_action: RecordId,
        /// Summary.
        pub summary: Text,
    }
}

/// Commands on a `nonconformity` stream.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(
    tag = "action",
    content = "data",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum NonconformityCommand {
    /// Raise it.
    Raise(NonconformityRaised),
    /// Record its root cause.
    IdentifyRootCause(RootCauseIdentified),
    /// Close it, naming the effective corrective action.
    Close(NonconformityClosed),
}

/// State of one nonconformity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Nonconformity {
    raised: bool,
    root_cause: bool,
    closed: bool,
}

impl Nonconformity {
    /// Whether its root cause is recorded.
    pub fn has_root_cause(&self) -> bool {
        self.root_cause
    }
    /// Whether it is closed.
    pub fn is_closed(&self) -> bool {
        self.closed
    }
}

impl Kind for Nonconformity {
    type Command = NonconformityCommand;
    fn decide(
        &self,
        rec: &Subject,
        cmd: NonconformityCommand,
        ctx: &Context<'_>,
    ) -> Result<Vec<Event>> {
        ctx.require(
            rec,
            "managing nonconformities",
            &[roles::SECURITY_MANAGER, roles::AUDITOR],
        )?;
        if self.closed {
            return Err(invalid(rec, "change it", "closed"));
        }
        let event = match cmd {
            NonconformityCommand::Raise(p) => {
                let links = [
                    (StreamKind::Audit, &p.audit),
                    (StreamKind::Incident, &p.incident),
                ];
                for (kind, id) in links {
                    if let Some(id) = id {
                        ctx.require_exists(rec, &StreamId::new(kind, id.clone()))?;
                    }
                }
                Event::NonconformityRaised(p)
            }
            NonconformityCommand::IdentifyRootCause(_) if self.root_cause => {
                return Err(Rejection::Duplicate {
                    record: rec.clone(),
                    what: "root cause",
                    key: "analysis".into(),
                })
            }
            NonconformityCommand::IdentifyRootCause(p) => {
                Event::NonconformityRootCauseIdentified(p)
            }
            NonconformityCommand::Close(p) => {
                check_effective(rec, &p.corrective_action, ctx)?;
                Event::NonconformityClosed(p)
            }
        };
        Ok(vec![event])
    }
    fn apply(&mut self, env: &Envelope) {
        match &env.event {
            Event::NonconformityRaised(_) => self.raised = true,
            Event::NonconformityRootCauseIdentified(_) => self.root_cause = true,
            Event::NonconformityClosed(_) => self.closed = true,
            _ => {}
        }
    }
    fn exists(&self) -> bool {
        self.raised
    }
    fn creates(cmd: &NonconformityCommand) -> bool {
        matches!(cmd, NonconformityCommand::Raise(_))
    }
    fn invariant(&self) -> std::result::Result<(), String> {
        if self.closed && !self.root_cause {
            return Err("closed without root cause".into());
        }
        Ok(())
    }
}

/// 10.2: closure needs a corrective action for this nonconformity whose latest verification
/// found it effective.
fn check_effective(rec: &Subject, action: &RecordId, ctx: &Context<'_>) -> Result<()> {
    let link = StreamId::new(StreamKind::CorrectiveAction, action.clone());
    let state = ctx.linked(rec, &link)?;
    // The closure follows the verification, the action's latest event.
    ctx.not_before(rec, &link, state.last_occurred_at())?;
    let Body::CorrectiveAction(ca) = state.body() else {
        return Err(Rejection::LinkMissing {
            record: rec.clone(),
            link: link.subject(),
        });
    };
    if ca.nonconformity() != Some(rec.0.id()) {
        let key = action.to_string();
        return Err(Rejection::UnknownItem {
            record: rec.clone(),
            what: "corrective action",
            key,
        });
    }
    if ca.status() != CaStatus::VerifiedEffective {
        return Err(Rejection::CorrectiveActionNotEffective {
            record: rec.clone(),
            action: action.to_string(),
        });
    }
    Ok(())
}

payload! {
    /// `corrective_action.planned`: the action to remove a nonconformity's cause.
    pub struct CorrectiveActionPlanned {
        /// The nonconformity it addresses.
        pub nonconformity: RecordId,
        /// What will be done.
        pub description: Text,
        /// Who does it.
        pub owner: Actor,
        /// When it is due.
        pub due: Timestamp,
    }
}
payload! {
    /// `corrective_action.completed`: the action was carried out.
    pub struct CorrectiveActionCompleted {
        /// Evidence.
        pub evidence: Text,
    }
}
payload! {
    /// `corrective_action.verified`: its effectiveness was checked; ineffective reopens it.
    pub struct CorrectiveActionVerified {
        /// Whether it removed the cause.
        pub effective: bool,
        /// What the verifier saw.
        pub notes: Text,
    }
}

/// Commands on a `corrective_action` stream.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(
    tag = "action",
    content = "data",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum CorrectiveActionCommand {
    /// Plan it.
    Plan(CorrectiveActionPlanned),
    /// Complete it.
    Complete(CorrectiveActionCompleted),
    /// Verify it (not by whoever completed it).
    Verify(CorrectiveActionVerified),
}

/// Where a corrective action is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CaStatus {
    /// No events.
    #[default]
    Absent,
    /// Planned, or reopened after an ineffective verification.
    Open,
    /// Completed, awaiting verification.
    Completed,
    /// Verified effective.
    VerifiedEffective,
}

/// State of one corrective action.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorrectiveAction {
    status: CaStatus,
    nonconformity: Option<RecordId>,
    due: Option<Timestamp>,
    completed_by: Option<Actor>,
    reopened: u32,
}

impl CorrectiveAction {
    /// Where it is.
    pub fn status(&self) -> CaStatus {
        self.status
    }
    /// The nonconformity it addresses.
    pub fn nonconformity(&self) -> Option<&RecordId> {
        self.nonconformity.as_ref()
    }
    /// How many times an ineffective verification reopened it.
    pub fn reopened(&self) -> u32 {
        self.reopened
    }
    /// Whether it is open past its due date at `at`.
    pub fn overdue(&self, at: Timestamp) -> bool {
        self.status == CaStatus::Open && self.due.is_some_and(|d| d < at)
    }
}

impl Kind for CorrectiveAction {
    type Command = CorrectiveActionCommand;
    fn decide(
        &self,
        rec: &Subject,
        cmd: CorrectiveActionCommand,
        ctx: &Context<'_>,
    ) -> Result<Vec<Event>> {
        use CaStatus as S;
        let event = match (cmd, self.status) {
            (CorrectiveActionCommand::Plan(p), _) => {
                ctx.require(rec, "planning corrective actions", MANAGERS)?;
                check_plan(rec, &p, ctx)?;
                Event::CorrectiveActionPlanned(p)
            }
            (CorrectiveActionCommand::Complete(p), S::Open) => {
                ctx.require(rec, "completing corrective actions", MANAGERS)?;
                Event::CorrectiveActionCompleted(p)
            }
            (CorrectiveActionCommand::Verify(p), S::Completed) => {
                ctx.require(
                    rec,
                    "verifying corrective actions",
                    &[roles::AUDITOR, roles::SECURITY_MANAGER],
                )?;
                if self.completed_by.as_ref() == Some(ctx.actor()) {
                    let actor = ctx.actor().clone();
                    let did = "completed it";
                    return Err(Rejection::SegregationOfDuties {
                        record: rec.clone(),
                        action: "verification",
                        actor,
                        did,
                    });
                }
                Event::CorrectiveActionVerified(p)
            }
            (cmd, status) => {
                let action = match cmd {
                    CorrectiveActionCommand::Plan(_) => "plan",
                    CorrectiveActionCommand::Complete(_) => "complete",
                    CorrectiveActionCommand::Verify(_) => "verify",
                };
                let state = match status {
                    S::Absent => "absent",
                    S::Open => "open",
                    S::Completed => "completed",
                    S::VerifiedEffective => "verified effective",
                };
                return Err(invalid(rec, action, state));
            }
        };
        Ok(vec![event])
    }
    fn apply(&mut self, env: &Envelope) {
        match &env.event {
            Event::CorrectiveActionPlanned(p) => {
                self.status = CaStatus::Open;
                self.nonconformity = Some(p.nonconformity.clone());
                self.due = Some(p.due);
            }
            Event::CorrectiveActionCompleted(_) => {
                self.status = CaStatus::Completed;
                self.completed_by = Some(env.actor.clone());
            }
            Event::CorrectiveActionVerified(p) if p.effective => {
                self.status = CaStatus::VerifiedEffective
            }
            Event::CorrectiveActionVerified(_) => {
                self.status = CaStatus::Open;
                self.reopened += 1;
            }
            _ => {}
        }
    }
    fn exists(&self) -> bool {
        self.status != CaStatus::Absent
    }
    fn creates(cmd: &CorrectiveActionCommand) -> bool {
        matches!(cmd, CorrectiveActionCommand::Plan(_))
    }
}

/// 10.2 a)–c): act on the cause, so the nonconformity must exist, be open and have its root
/// cause identified before an action is planned.
fn check_plan(rec: &Subject, p: &CorrectiveActionPlanned, ctx: &Context<'_>) -> Result<()> {
    let link = StreamId::new(StreamKind::Nonconformity, p.nonconformity.clone());
    match ctx.linked(rec, &link)?.body() {
        Body::Nonconformity(nc) if nc.exists() => {
            if nc.is_closed() {
                return Err(invalid(rec, "plan for its nonconformity", "closed"));
            }
            if !nc.has_root_cause() {
                return Err(invalid(
                    rec,
                    "plan before the root cause is identified",
                    "unanalysed",
                ));
            }
        }
        _ => {
            return Err(Rejection::LinkMissing {
                record: rec.clone(),
                link: link.subject(),
            })
        }
    }
    ctx.require_after(rec, "due", p.due)
}

payload! {
    /// `improvement.recorded`: an opportunity for improvement taken up (10.1).
    pub struct ImprovementRecorded {
        /// Title.
        pub title: Text,
        /// What will improve.
        pub description: Text,
        /// Where it came from (review, audit, incident lessons).
        pub source: Code,
    }
}

/// Commands on an `improvement` stream.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(
    tag = "action",
    content = "data",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum ImprovementCommand {
    /// Record it.
    Record(ImprovementRecorded),
}

/// State of one improvement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Improvement {
    recorded: bool,
}

impl Kind for Improvement {
    type Command = ImprovementCommand;
    fn decide(
        &self,
        rec: &Subject,
        cmd: ImprovementCommand,
        ctx: &Context<'_>,
    ) -> Result<Vec<Event>> {
        ctx.require(rec, "recording improvements", MANAGERS)?;
        let ImprovementCommand::Record(p) = cmd;
        Ok(vec![Event::ImprovementRecorded(p)])
    }
    fn apply(&mut self, env: &Envelope) {
        if let Event::ImprovementRecorded(_) = &env.event {
            self.recorded = true;
        }
    }
    fn exists(&self) -> bool {
        self.recorded
    }
    fn creates(_: &ImprovementCommand) -> bool {
        true
    }
}
