//! Clause 4: context (`issue`), interested parties (`party`), obligations (`obligation`) and
//! scope (`scope`).

use crate::context::Context;
use crate::event::{Envelope, Event};
use crate::ids::{roles, Code, RecordId, StreamId, StreamKind, Subject, Text};
use crate::macros::{code_enum, payload};
use crate::rejection::{Rejection, Result};
use crate::state::{invalid, Kind};
use crate::time::Timestamp;

const MANAGERS: &[&str] = &[roles::SECURITY_MANAGER, roles::TOP_MANAGEMENT];

code_enum! {
    /// Whether an issue arises inside or outside the organization (4.1).
    pub enum IssueOrigin { /** Inside. */ Internal => "internal", /** Outside. */ External => "external" }
}

payload! {
    /// `issue.recorded`: an internal or external issue affecting security (4.1).
    pub struct IssueRecorded {
        /// Short title.
        pub title: Text,
        /// Internal or external.
        pub origin: IssueOrigin,
        /// What the issue is and why it matters.
        pub description: Text,
    }
}
payload! {
    /// `issue.revised`: the issue's description changed.
    pub struct IssueRevised {
        /// The new description.
        pub description: Text,
    }
}
payload! {
    /// `issue.retired`: the issue no longer applies.
    pub struct IssueRetired {
        /// Why.
        pub reason: Text,
    }
}

/// Commands on an `issue` stream.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(
    tag = "action",
    content = "data",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum IssueCommand {
    /// Record a new issue.
    Record(IssueRecorded),
    /// Revise its description.
    Revise(IssueRevised),
    /// Retire it.
    Retire(IssueRetired),
}

/// State of one context issue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Issue {
    recorded: Option<IssueRecorded>,
    retired: bool,
}

impl Issue {
    /// Whether it was retired.
    pub fn is_retired(&self) -> bool {
        self.retired
    }
}

impl Kind for Issue {
    type Command = IssueCommand;
    fn decide(&self, rec: &Subject, cmd: IssueCommand, ctx: &Context<'_>) -> Result<Vec<Event>> {
        ctx.require(rec, "recording context issues", MANAGERS)?;
        match cmd {
            IssueCommand::Record(p) => Ok(vec![Event::IssueRecorded(p)]),
            IssueCommand::Revise(_) | IssueCommand::Retire(_) if self.retired => {
                Err(invalid(rec, "change it", "retired"))
            }
            IssueCommand::Revise(p) => Ok(vec![Event::IssueRevised(p)]),
            IssueCommand::Retire(p) => Ok(vec![Event::IssueRetired(p)]),
        }
    }
    fn apply(&mut self, env: &Envelope) {
        match &env.event {
            Event::IssueRecorded(p) => self.recorded = Some(p.clone()),
            Event::IssueRevised(p) => {
                if let Some(r) = self.recorded.as_mut() {
                    r.description = p.description.clone();
                }
            }
            Event::IssueRetired(_) => self.retired = true,
            _ => {}
        }
    }
    fn exists(&self) -> bool {
        self.recorded.is_some()
    }
    fn creates(cmd: &IssueCommand) -> bool {
        matches!(cmd, IssueCommand::Record(_))
    }
}

payload! {
    /// `party.recorded`: an interested party and its security requirements (4.2).
    pub struct PartyRecorded {
        /// Name of the party (customer, regulator, customs authority, insurer...).
        pub name: Text,
        /// Its category, e.g. `customer`, `regulator`.
        pub category: Code,
        /// Its requirements relevant to security.
        pub requirements: Vec<Text>,
    }
}

/// Commands on a `party` stream.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(
    tag = "action",
    content = "data",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum PartyCommand {
    /// Record the party.
    Record(PartyRecorded),
}

/// State of one interested party.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Party {
    recorded: Option<PartyRecorded>,
}

impl Kind for Party {
    type Command = PartyCommand;
    fn decide(&self, rec: &Subject, cmd: PartyCommand, ctx: &Context<'_>) -> Result<Vec<Event>> {
        ctx.require(rec, "recording interested parties", MANAGERS)?;
        let PartyCommand::Record(p) = cmd;
        Ok(vec![Event::PartyRecorded(p)])
    }
    fn apply(&mut self, env: &Envelope) {
        if let Event::PartyRecorded(p) = &env.event {
            self.recorded = Some(p.clone());
        }
    }
    fn exists(&self) -> bool {
        self.recorded.is_some()
    }
    fn creates(_: &PartyCommand) -> bool {
        true
    }
}

payload! {
    /// `obligation.recorded`: a legal, regulatory or contractual requirement (C-TPAT, AEO, ISPS, TAPA...).
    pub struct ObligationRecorded {
        /// Short title.
        pub title: Text,
        /// The scheme or law, e.g. `AEO`, `C-TPAT`, `ISPS`, `TAPA FSR`.
        pub source: Code,
        /// The interested party that imposes it, if recorded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub party: Option<RecordId>,
        /// When it must next be reviewed.
        pub next_review_due: Timestamp,
    }
}
payload! {
    /// `obligation.reviewed`: compliance with the obligation was evaluated.
    pub struct ObligationReviewed {
        /// Whether the organization complies.
        pub compliant: bool,
        /// What was found.
        pub notes: Text,
        /// When it must next be reviewed.
        pub next_review_due: Timestamp,
    }
}
payload! {
    /// `obligation.retired`: the obligation no longer applies.
    pub struct ObligationRetired {
        /// Why.
        pub reason: Text,
    }
}

/// Commands on an `obligation` stream.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(
    tag = "action",
    content = "data",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum ObligationCommand {
    /// Record it.
    Record(ObligationRecorded),
    /// Review compliance.
    Review(ObligationReviewed),
    /// Retire it.
    Retire(ObligationRetired),
}

/// State of one obligation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Obligation {
    recorded: bool,
    retired: bool,
    next_review_due: Option<Timestamp>,
    compliant: Option<bool>,
}

impl Obligation {
    /// Whether its review is overdue at `at`.
    pub fn review_overdue(&self, at: Timestamp) -> bool {
        !self.retired && self.next_review_due.is_some_and(|due| due < at)
    }
}

impl Kind for Obligation {
    type Command = ObligationCommand;
    fn decide(
        &self,
        rec: &Subject,
        cmd: ObligationCommand,
        ctx: &Context<'_>,
    ) -> Result<Vec<Event>> {
        ctx.require(rec, "maintaining obligations", MANAGERS)?;
        if self.retired {
            return Err(invalid(rec, "change it", "retired"));
        }
        match cmd {
            ObligationCommand::Record(p) => {
                if let Some(party) = &p.party {
                    let link = StreamId::new(StreamKind::Party, party.clone());
                    ctx.require_exists(rec, &link)?;
                }
                ctx.require_after(rec, "next_review_due", p.next_review_due)?;
                Ok(vec![Event::ObligationRecorded(p)])
            }
            ObligationCommand::Review(p) => {
                ctx.require_after(rec, "next_review_due", p.next_review_due)?;
                Ok(vec![Event::ObligationReviewed(p)])
            }
            ObligationCommand::Retire(p) => Ok(vec![Event::ObligationRetired(p)]),
        }
    }
    fn apply(&mut self, env: &Envelope) {
        match &env.event {
            Event::ObligationRecorded(p) => {
                self.recorded = true;
                self.next_review_due = Some(p.next_review_due);
            }
            Event::ObligationReviewed(p) => {
                self.next_review_due = Some(p.next_review_due);
                self.compliant = Some(p.compliant);
            }
            Event::ObligationRetired(_) => self.retired = true,
            _ => {}
        }
    }
    fn exists(&self) -> bool {
        self.recorded
    }
    fn creates(cmd: &ObligationCommand) -> bool {
        matches!(cmd, ObligationCommand::Record(_))
    }
}

payload! {
    /// `scope.defined` / `scope.revised`: the SMS's boundaries (4.3).
    pub struct ScopeStatement {
        /// The scope statement as people read it.
        pub statement: Text,
        /// Sites covered.
        pub sites: Vec<Code>,
        /// Activities covered (transport, warehousing, customs brokerage...).
        pub activities: Vec<Text>,
        /// Supply-chain nodes covered (ports, hubs, cross-docks).
        pub nodes: Vec<Code>,
        /// What is excluded, with justification.
        pub exclusions: Vec<Text>,
    }
}

/// Commands on a `scope` stream.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(
    tag = "action",
    content = "data",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum ScopeCommand {
    /// Define the scope.
    Define(ScopeStatement),
    /// Revise it.
    Revise(ScopeStatement),
}

/// State of the scope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    current: Option<ScopeStatement>,
    revisions: u32,
}

impl Scope {
    /// The statement in force.
    pub fn current(&self) -> Option<&ScopeStatement> {
        self.current.as_ref()
    }
}

impl Kind for Scope {
    type Command = ScopeCommand;
    fn decide(&self, rec: &Subject, cmd: ScopeCommand, ctx: &Context<'_>) -> Result<Vec<Event>> {
        ctx.require(rec, "setting the SMS scope", &[roles::TOP_MANAGEMENT])?;
        let (ScopeCommand::Define(p) | ScopeCommand::Revise(p)) = &cmd;
        if p.sites.is_empty() {
            let reason = "a scope covers at least one site".to_owned();
            return Err(Rejection::InvalidValue {
                record: rec.clone(),
                field: "sites",
                reason,
            });
        }
        Ok(vec![match cmd {
            ScopeCommand::Define(p) => Event::ScopeDefined(p),
            ScopeCommand::Revise(p) => Event::ScopeRevised(p),
        }])
    }
    fn apply(&mut self, env: &Envelope) {
        match &env.event {
            Event::ScopeDefined(p) => self.current = Some(p.clone()),
            Event::ScopeRevised(p) => {
                self.current = Some(p.clone());
                self.revisions += 1;
            }
            _ => {}
        }
    }
    fn exists(&self) -> bool {
        self.current.is_some()
    }
    fn creates(cmd: &ScopeCommand) -> bool {
        matches!(cmd, ScopeCommand::Define(_))
    }
}
