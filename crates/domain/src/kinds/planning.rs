//! Clauses 6.2, 6.3 and 9.1: objectives with measurements (`objective`) and planned changes
//! to the SMS (`change`).

use crate::context::Context;
use crate::event::{Envelope, Event};
use crate::ids::{roles, Actor, Code, Decimal, Subject, Text};
use crate::macros::{code_enum, payload};
use crate::rejection::{Rejection, Result};
use crate::state::{invalid, Kind};
use crate::time::Timestamp;

const MANAGERS: &[&str] = &[roles::SECURITY_MANAGER, roles::TOP_MANAGEMENT];

code_enum! {
    /// Which way a metric must move to meet its target.
    pub enum Direction {
        /// Lower is better (incidents, losses).
        Decrease => "decrease",
        /// Higher is better (coverage, compliance).
        Increase => "increase",
    }
}

impl Direction {
    /// Whether `value` meets `target` in this direction.
    pub fn meets(self, value: &Decimal, target: &Decimal) -> bool {
        match self {
            Direction::Decrease => value.micros() <= target.micros(),
            Direction::Increase => value.micros() >= target.micros(),
        }
    }
}

payload! {
    /// `objective.set`: a measurable security objective (6.2).
    pub struct ObjectiveSet {
        /// Title.
        pub title: Text,
        /// What is measured.
        pub metric: Text,
        /// Unit of the metric.
        pub unit: Code,
        /// Value when the objective was set.
        pub baseline: Decimal,
        /// Value to reach.
        pub target: Decimal,
        /// Which way is better.
        pub direction: Direction,
        /// When the target must be reached.
        pub due: Timestamp,
        /// Who is accountable.
        pub owner: Actor,
    }
}
payload! {
    /// `objective.measured`: a measurement of the metric (9.1).
    pub struct ObjectiveMeasured {
        /// Measured value.
        pub value: Decimal,
        /// The period the value covers, e.g. `2025-03`.
        pub period: Code,
    }
}
payload! {
    /// `objective.revised`: the target or due date changed.
    pub struct ObjectiveRevised {
        /// New target.
        pub target: Decimal,
        /// New due date.
        pub due: Timestamp,
        /// Why.
        pub reason: Text,
    }
}
payload! {
    /// `objective.achieved`: the target was met.
    pub struct ObjectiveAchieved {
        /// Evidence.
        pub evidence: Text,
    }
}
payload! {
    /// `objective.abandoned`: the objective was dropped.
    pub struct ObjectiveAbandoned {
        /// Why.
        pub reason: Text,
    }
}

/// Commands on an `objective` stream.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(
    tag = "action",
    content = "data",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum ObjectiveCommand {
    /// Set it.
    Set(ObjectiveSet),
    /// Record a measurement.
    Measure(ObjectiveMeasured),
    /// Revise target or due date.
    Revise(ObjectiveRevised),
    /// Declare it achieved.
    Achieve(ObjectiveAchieved),
    /// Abandon it.
    Abandon(ObjectiveAbandoned),
}

/// State of one objective.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Objective {
    set: Option<ObjectiveSet>,
    latest: Option<Decimal>,
    periods: std::collections::BTreeSet<Code>,
    finished: Option<&'static str>,
}

impl Objective {
    /// The definition, with the current target.
    pub fn definition(&self) -> Option<&ObjectiveSet> {
        self.set.as_ref()
    }
    /// The latest measured value.
    pub fn latest(&self) -> Option<&Decimal> {
        self.latest.as_ref()
    }
    /// Whether the latest measurement meets the target.
    pub fn on_track(&self) -> bool {
        match (&self.set, &self.latest) {
            (Some(s), Some(v)) => s.direction.meets(v, &s.target),
            _ => false,
        }
    }
}

impl Kind for Objective {
    type Command = ObjectiveCommand;
    fn decide(
        &self,
        rec: &Subject,
        cmd: ObjectiveCommand,
        ctx: &Context<'_>,
    ) -> Result<Vec<Event>> {
        ctx.require(rec, "managing objectives", MANAGERS)?;
        if let Some(state) = self.finished {
            return Err(invalid(rec, "change it", state));
        }
        let event = match cmd {
            ObjectiveCommand::Set(p) => {
                check_target(rec, p.direction, &p.baseline, &p.target)?;
                ctx.require_after(rec, "due", p.due)?;
                Event::ObjectiveSet(p)
            }
            ObjectiveCommand::Measure(p) => {
                if self.periods.contains(&p.period) {
                    let key = p.period.to_string();
                    return Err(Rejection::Duplicate {
                        record: rec.clone(),
                        what: "measurement for period",
                        key,
                    });
                }
                Event::ObjectiveMeasured(p)
            }
            ObjectiveCommand::Revise(p) => {
                let set = self.set.as_ref().expect("exists");
                check_target(rec, set.direction, &set.baseline, &p.target)?;
                ctx.require_after(rec, "due", p.due)?;
                Event::ObjectiveRevised(p)
            }
            ObjectiveCommand::Achieve(p) => {
                if !self.on_track() {
                    let target = self.set.as_ref().expect("exists").target.to_string();
                    return Err(Rejection::ObjectiveNotMet {
                        record: rec.clone(),
                        target,
                    });
                }
                Event::ObjectiveAchieved(p)
            }
            ObjectiveCommand::Abandon(p) => Event::ObjectiveAbandoned(p),
        };
        Ok(vec![event])
    }
    fn apply(&mut self, env: &Envelope) {
        match &env.event {
            Event::ObjectiveSet(p) => self.set = Some(p.clone()),
            Event::ObjectiveMeasured(p) => {
                self.latest = Some(p.value.clone());
                self.periods.insert(p.period.clone());
            }
            Event::ObjectiveRevised(p) => {
                if let Some(s) = self.set.as_mut() {
                    s.target = p.target.clone();
                    s.due = p.due;
                }
            }
            Event::ObjectiveAchieved(_) => self.finished = Some("achieved"),
            Event::ObjectiveAbandoned(_) => self.finished = Some("abandoned"),
            _ => {}
        }
    }
    fn exists(&self) -> bool {
        self.set.is_some()
    }
    fn creates(cmd: &ObjectiveCommand) -> bool {
        matches!(cmd, ObjectiveCommand::Set(_))
    }
    fn invariant(&self) -> std::result::Result<(), String> {
        if self.finished == Some("achieved") && !self.on_track() {
            return Err("achieved without a measurement meeting the target".into());
        }
        Ok(())
    }
}

/// A target must be an improvement on the baseline, in the objective's direction.
fn check_target(
    rec: &Subject,
    direction: Direction,
    baseline: &Decimal,
    target: &Decimal,
) -> Result<()> {
    let improves = match direction {
        Direction::Decrease => target.micros() < baseline.micros(),
        Direction::Increase => target.micros() > baseline.micros(),
    };
    if improves {
        return Ok(());
    }
    let reason = format!(
        "target {target} does not {} baseline {baseline}",
        direction.as_str()
    );
    Err(Rejection::InvalidValue {
        record: rec.clone(),
        field: "target",
        reason,
    })
}

payload! {
    /// `change.proposed`: a change to the SMS (6.3).
    pub struct ChangeProposed {
        /// Title.
        pub title: Text,
        /// Why it is needed.
        pub reason: Text,
        /// Expected effect on security and on the SMS.
        pub impact: Text,
    }
}
payload! {
    /// `change.approved` / `change.implemented`: a step in the change's life.
    pub struct ChangeNote {
        /// Note.
        pub note: Text,
    }
}

/// Commands on a `change` stream.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(
    tag = "action",
    content = "data",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum ChangeCommand {
    /// Propose it.
    Propose(ChangeProposed),
    /// Approve it (not by its proposer).
    Approve(ChangeNote),
    /// Implement it (after approval).
    Implement(ChangeNote),
}

/// State of one change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change {
    proposed_by: Option<Actor>,
    approved: bool,
    implemented: bool,
}

impl Kind for Change {
    type Command = ChangeCommand;
    fn decide(&self, rec: &Subject, cmd: ChangeCommand, ctx: &Context<'_>) -> Result<Vec<Event>> {
        let event = match cmd {
            ChangeCommand::Propose(p) => {
                ctx.require(rec, "proposing changes", MANAGERS)?;
                Event::ChangeProposed(p)
            }
            _ if self.implemented => return Err(invalid(rec, "change it", "implemented")),
            ChangeCommand::Approve(_) if self.approved => {
                return Err(invalid(rec, "approve", "approved"))
            }
            ChangeCommand::Approve(p) => {
                ctx.require(rec, "approving changes", MANAGERS)?;
                if self.proposed_by.as_ref() == Some(ctx.actor()) {
                    let actor = ctx.actor().clone();
                    let did = "proposed it";
                    return Err(Rejection::SegregationOfDuties {
                        record: rec.clone(),
                        action: "approval",
                        actor,
                        did,
                    });
                }
                Event::ChangeApproved(p)
            }
            ChangeCommand::Implement(_) if !self.approved => {
                return Err(invalid(rec, "implement", "not approved"))
            }
            ChangeCommand::Implement(p) => {
                ctx.require(rec, "implementing changes", MANAGERS)?;
                Event::ChangeImplemented(p)
            }
        };
        Ok(vec![event])
    }
    fn apply(&mut self, env: &Envelope) {
        match &env.event {
            Event::ChangeProposed(_) => self.proposed_by = Some(env.actor.clone()),
            Event::ChangeApproved(_) => self.approved = true,
            Event::ChangeImplemented(_) => self.implemented = true,
            _ => {}
        }
    }
    fn exists(&self) -> bool {
        self.proposed_by.is_some()
    }
    fn creates(cmd: &ChangeCommand) -> bool {
        matches!(cmd, ChangeCommand::Propose(_))
    }
    fn invariant(&self) -> std::result::Result<(), String> {
        if self.implemented && !self.approved {
            return Err("implemented without approval".into());
        }
        Ok(())
    }
}
