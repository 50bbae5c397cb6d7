//! Clause 7: competence and training (`competence`, `person`), communication
//! (`communication`) and documented information (`document`).

use crate::context::Context;
use crate::event::{Envelope, Event};
use crate::ids::{roles, Actor, Code, Digest, RecordId, Role, StreamId, StreamKind, Subject, Text};
use crate::macros::payload;
use crate::rejection::{Rejection, Result};
use crate::state::{invalid, Body, Kind};
use crate::time::Timestamp;
use std::collections::BTreeMap;

const MANAGERS: &[&str] = &[roles::SECURITY_MANAGER, roles::TOP_MANAGEMENT];
/// Longest validity a competence may have: ten years.
pub const VALIDITY_DAYS_MAX: u32 = 3660;

payload! {
    /// `competence.required`: a role needs this competence, renewed every `validity_days` (7.2).
    pub struct CompetenceRequired {
        /// The role that needs it.
        pub role: Role,
        /// What the competence is.
        pub title: Text,
        /// How long a training stays valid, 1..=3660 days.
        #[schemars(range(min = 1, max = 3660))]
        pub validity_days: u32,
    }
}

/// Commands on a `competence` stream.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(
    tag = "action",
    content = "data",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum CompetenceCommand {
    /// Require it.
    Require(CompetenceRequired),
}

/// State of one competence requirement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Competence {
    required: Option<CompetenceRequired>,
}

impl Competence {
    /// The requirement.
    pub fn requirement(&self) -> Option<&CompetenceRequired> {
        self.required.as_ref()
    }
}

impl Kind for Competence {
    type Command = CompetenceCommand;
    fn decide(
        &self,
        rec: &Subject,
        cmd: CompetenceCommand,
        ctx: &Context<'_>,
    ) -> Result<Vec<Event>> {
        ctx.require(rec, "setting competence requirements", MANAGERS)?;
        let CompetenceCommand::Require(p) = cmd;
        if !(1..=VALIDITY_DAYS_MAX).contains(&p.validity_days) {
            let reason = format!("{} is outside 1..={VALIDITY_DAYS_MAX}", p.validity_days);
            return Err(Rejection::InvalidValue {
                record: rec.clone(),
                field: "validity_days",
                reason,
            });
        }
        Ok(vec![Event::CompetenceRequired(p)])
    }
    fn apply(&mut self, env: &Envelope) {
        if let Event::CompetenceRequired(p) = &env.event {
            self.required = Some(p.clone());
        }
    }
    fn exists(&self) -> bool {
        self.required.is_some()
    }
    fn creates(_: &CompetenceCommand) -> bool {
        true
    }
}

payload! {
    /// `training.completed`: a person completed training for a competence (7.2), on a `person` stream.
    pub struct TrainingCompleted {
        /// The competence's id.
        pub competence: RecordId,
        /// Until when the training counts.
        pub valid_until: Timestamp,
        /// Certificate or attendance record.
        pub evidence: Text,
    }
}
payload! {
    /// `training.expired`: a training's validity ended without renewal.
    pub struct TrainingExpired {
        /// The competence's id.
        pub competence: RecordId,
    }
}

/// Commands on a `person` stream (the id names the person).
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(
    tag = "action",
    content = "data",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum PersonCommand {
    /// Record completed training.
    CompleteTraining(TrainingCompleted),
    /// Record that a training expired.
    ExpireTraining(TrainingExpired),
}

/// State of one person's training record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Person {
    trainings: BTreeMap<RecordId, (Timestamp, bool)>,
}

impl Person {
    /// Whether the person holds a valid training for `competence` at `at`.
    pub fn is_competent(&self, competence: &RecordId, at: Timestamp) -> bool {
        self.trainings
            .get(competence)
            .is_some_and(|(until, expired)| !expired && *until > at)
    }
}

impl Kind for Person {
    type Command = PersonCommand;
    fn decide(&self, rec: &Subject, cmd: PersonCommand, ctx: &Context<'_>) -> Result<Vec<Event>> {
        ctx.require(rec, "recording training", MANAGERS)?;
        match cmd {
            PersonCommand::CompleteTraining(p) => {
                let validity = validity_days(rec, &p.competence, ctx)?;
                ctx.require_after(rec, "valid_until", p.valid_until)?;
                if p.valid_until > ctx.occurred_at().plus_days(i64::from(validity)) {
                    let reason = format!("exceeds the competence's validity of {validity} days");
                    return Err(Rejection::InvalidValue {
                        record: rec.clone(),
                        field: "valid_until",
                        reason,
                    });
                }
                Ok(vec![Event::TrainingCompleted(p)])
            }
            PersonCommand::ExpireTraining(p) => {
                let key = p.competence.to_string();
                match self.trainings.get(&p.competence) {
                    None => Err(Rejection::UnknownItem {
                        record: rec.clone(),
                        what: "training for",
                        key,
                    }),
                    Some((_, true)) => Err(Rejection::Duplicate {
                        record: rec.clone(),
                        what: "expiry of",
                        key,
                    }),
                    Some((until, _)) if *until > ctx.occurred_at() => {
                        Err(invalid(rec, "record expiry", "still valid"))
                    }
                    Some(_) => Ok(vec![Event::TrainingExpired(p)]),
                }
            }
        }
    }
    fn apply(&mut self, env: &Envelope) {
        match &env.event {
            Event::TrainingCompleted(p) => {
                self.trainings
                    .insert(p.competence.clone(), (p.valid_until, false));
            }
            Event::TrainingExpired(p) => {
                if let Some(t) = self.trainings.get_mut(&p.competence) {
                    t.1 = true;
                }
            }
            _ => {}
        }
    }
    fn exists(&self) -> bool {
        !self.trainings.is_empty()
    }
    fn creates(_: &PersonCommand) -> bool {
        false
    }
    fn may_create(cmd: &PersonCommand) -> bool {
        matches!(cmd, PersonCommand::CompleteTraining(_))
    }
}

fn validity_days(rec: &Subject, competence: &RecordId, ctx: &Context<'_>) -> Result<u32> {
    let link = StreamId::new(StreamKind::Competence, competence.clone());
    match ctx.linked(rec, &link)?.body() {
        Body::Competence(c) if c.exists() => Ok(c.requirement().expect("exists").validity_days),
        _ => Err(Rejection::LinkMissing {
            record: rec.clone(),
            link: link.subject(),
        }),
    }
}

payload! {
    /// `communication.sent`: what was communicated, to whom, how (7.4).
    pub struct CommunicationSent {
        /// Audience (staff group, supplier tier, authority).
        pub audience: Code,
        /// Channel (email, briefing, portal, letter).
        pub channel: Code,
        /// Subject.
        pub subject: Text,
        /// Whether it went outside the organization.
        pub external: bool,
        /// The authority addressed, for communications to authorities.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub authority: Option<Code>,
    }
}

/// Commands on a `communication` stream.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(
    tag = "action",
    content = "data",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum CommunicationCommand {
    /// Log a communication.
    Send(CommunicationSent),
}

/// State of one communication.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Communication {
    sent: Option<CommunicationSent>,
}

impl Kind for Communication {
    type Command = CommunicationCommand;
    fn decide(
        &self,
        rec: &Subject,
        cmd: CommunicationCommand,
        ctx: &Context<'_>,
    ) -> Result<Vec<Event>> {
        ctx.require(rec, "logging communications", MANAGERS)?;
        let CommunicationCommand::Send(p) = cmd;
        if p.authority.is_some() && !p.external {
            let reason = "a communication to an authority is external".to_owned();
            return Err(Rejection::InvalidValue {
                record: rec.clone(),
                field: "external",
                reason,
            });
        }
        Ok(vec![Event::CommunicationSent(p)])
    }
    fn apply(&mut self, env: &Envelope) {
        if let Event::CommunicationSent(p) = &env.event {
            self.sent = Some(p.clone());
        }
    }
    fn exists(&self) -> bool {
        self.sent.is_some()
    }
    fn creates(_: &CommunicationCommand) -> bool {
        true
    }
}

payload! {
    /// `document.issued`: a revision of a controlled document (7.5).
    pub struct DocumentIssued {
        /// Title.
        pub title: Text,
        /// Revision number, increasing from 1.
        #[schemars(range(min = 1, max = 1000000))]
        pub revision: u32,
        /// Digest of the content.
        pub content_hash: Digest,
    }
}
payload! {
    /// `document.approved`: a revision was approved for use.
    pub struct DocumentApproved {
        /// The revision approved.
        #[schemars(range(min = 1, max = 1000000))]
        pub revision: u32,
    }
}
payload! {
    /// `document.withdrawn`: the document is no longer valid.
    pub struct DocumentWithdrawn {
        /// Why.
        pub reason: Text,
    }
}

/// Commands on a `document` stream.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(
    tag = "action",
    content = "data",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum DocumentCommand {
    /// Issue a revision.
    Issue(DocumentIssued),
    /// Approve the current revision (not by its issuer).
    Approve(DocumentApproved),
    /// Withdraw it.
    Withdraw(DocumentWithdrawn),
}

/// State of one controlled document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    revision: u32,
    issued_by: Option<Actor>,
    approved_revision: u32,
    withdrawn: bool,
}

impl Document {
    /// The current revision and whether it is approved.
    pub fn revision(&self) -> (u32, bool) {
        (self.revision, self.approved_revision == self.revision)
    }
}

impl Kind for Document {
    type Command = DocumentCommand;
    fn decide(&self, rec: &Subject, cmd: DocumentCommand, ctx: &Context<'_>) -> Result<Vec<Event>> {
        ctx.require(rec, "controlling documents", MANAGERS)?;
        if self.withdrawn {
            return Err(invalid(rec, "change it", "withdrawn"));
        }
        let event = match cmd {
            DocumentCommand::Issue(p) => {
                if p.revision != self.revision + 1 {
                    let reason = format!("next revision must be {}", self.revision + 1);
                    return Err(Rejection::InvalidValue {
                        record: rec.clone(),
                        field: "revision",
                        reason,
                    });
                }
                Event::DocumentIssued(p)
            }
            DocumentCommand::Approve(p) => {
                self.check_approval(rec, &p, ctx)?;
                Event::DocumentApproved(p)
            }
            DocumentCommand::Withdraw(p) => Event::DocumentWithdrawn(p),
        };
        Ok(vec![event])
    }
    fn apply(&mut self, env: &Envelope) {
        match &env.event {
            Event::DocumentIssued(p) => {
                self.revision = p.revision;
                self.issued_by = Some(env.actor.clone());
            }
            Event::DocumentApproved(p) => self.approved_revision = p.revision,
            Event::DocumentWithdrawn(_) => self.withdrawn = true,
            _ => {}
        }
    }
    fn exists(&self) -> bool {
        self.revision > 0
    }
    fn creates(_: &DocumentCommand) -> bool {
        false
    }
    fn may_create(cmd: &DocumentCommand) -> bool {
        matches!(cmd, DocumentCommand::Issue(_))
    }
}

impl Document {
    fn check_approval(&self, rec: &Subject, p: &DocumentApproved, ctx: &Context<'_>) -> Result<()> {
        if p.revision != self.revision {
            let key = format!("revision {}", p.revision);
            return Err(Rejection::UnknownItem {
                record: rec.clone(),
                what: "current",
                key,
            });
        }
        if self.approved_revision == self.revision {
            return Err(invalid(rec, "approve", "already approved"));
        }
        if self.issued_by.as_ref() == Some(ctx.actor()) {
            let actor = ctx.actor().clone();
            return Err(Rejection::SegregationOfDuties {
                record: rec.clone(),
                action: "approval",
                actor,
                did: "issued it",
            });
        }
        Ok(())
    }
}
