//! Clause 5: security policy (`policy`) and roles (`role`). Role assignments are the data
//! that authority is made of: [`crate::Sms::roles_of`] reads them into each [`Context`].

use crate::context::Context;
use crate::event::{Envelope, Event};
use crate::ids::{roles, Actor, Code, Digest, RecordId, Role, StreamId, StreamKind, Subject, Text};
use crate::macros::payload;
use crate::rejection::{Rejection, Result};
use crate::state::{invalid, Body, Kind};
use std::collections::BTreeSet;

payload! {
    /// `policy.drafted`: a security policy text was drafted (5.2).
    pub struct PolicyDrafted {
        /// Title.
        pub title: Text,
        /// Digest of the policy document's content.
        pub content_hash: Digest,
    }
}
payload! {
    /// `policy.approved`: top management approved the draft (5.1, 5.2).
    pub struct PolicyApproved {
        /// Approval note.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub note: Option<Text>,
    }
}
payload! {
    /// `policy.published`: the approved policy was communicated.
    pub struct PolicyPublished {
        /// Channels used (intranet, notice board, supplier portal...).
        pub channels: Vec<Code>,
    }
}
payload! {
    /// `policy.acknowledged`: a person confirmed they read the policy.
    pub struct PolicyAcknowledged {
        /// Who acknowledged (the acting principal).
        pub person: Actor,
    }
}
payload! {
    /// `policy.superseded`: a newer policy replaced this one.
    pub struct PolicySuperseded {
        /// The replacing policy's id.
        pub by: RecordId,
    }
}
payload! {
    /// `policy.retired`: withdrawn without replacement.
    pub struct PolicyRetired {
        /// Why.
        pub reason: Text,
    }
}

/// Commands on a `policy` stream.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(
    tag = "action",
    content = "data",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum PolicyCommand {
    /// Draft it.
    Draft(PolicyDrafted),
    /// Approve it (top management).
    Approve(PolicyApproved),
    /// Publish it (after approval).
    Publish(PolicyPublished),
    /// Acknowledge it, as the acting person.
    Acknowledge,
    /// Replace it with another policy.
    Supersede(PolicySuperseded),
    /// Retire it.
    Retire(PolicyRetired),
}

/// Where a policy is in its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PolicyStatus {
    /// No events yet.
    #[default]
    Absent,
    /// Drafted, not approved.
    Draft,
    /// Approved by top management, not yet published.
    Approved,
    /// Published: in force.
    Published,
    /// Replaced by another policy.
    Superseded,
    /// Withdrawn.
    Retired,
}

impl PolicyStatus {
    fn name(self) -> &'static str {
        match self {
            PolicyStatus::Absent => "absent",
            PolicyStatus::Draft => "a draft",
            PolicyStatus::Approved => "approved",
            PolicyStatus::Published => "published",
            PolicyStatus::Superseded => "superseded",
            PolicyStatus::Retired => "retired",
        }
    }
}

/// State of one policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    status: PolicyStatus,
    approved_by: Option<Actor>,
    acknowledged: BTreeSet<Actor>,
}

impl Policy {
    /// Where it is in its life.
    pub fn status(&self) -> PolicyStatus {
        self.status
    }
    /// Who acknowledged it.
    pub fn acknowledged(&self) -> &BTreeSet<Actor> {
        &self.acknowledged
    }
}

impl Kind for Policy {
    type Command = PolicyCommand;
    fn decide(&self, rec: &Subject, cmd: PolicyCommand, ctx: &Context<'_>) -> Result<Vec<Event>> {
        use PolicyStatus as S;
        let managers = &[roles::SECURITY_MANAGER, roles::TOP_MANAGEMENT];
        let event = match (cmd, self.status) {
            (PolicyCommand::Draft(p), _) => {
                ctx.require(rec, "drafting policy", managers)?;
                Event::PolicyDrafted(p)
            }
            (PolicyCommand::Approve(p), S::Draft) => {
                ctx.require(rec, "approving policy", &[roles::TOP_MANAGEMENT])?;
                Event::PolicyApproved(p)
            }
            (PolicyCommand::Publish(_), S::Draft) => {
                return Err(Rejection::PolicyNotApproved {
                    record: rec.clone(),
                })
            }
            (PolicyCommand::Publish(p), S::Approved) => {
                ctx.require(rec, "publishing policy", managers)?;
                Event::PolicyPublished(p)
            }
            (PolicyCommand::Acknowledge, S::Published) => {
                if self.acknowledged.contains(ctx.actor()) {
                    let key = ctx.actor().to_string();
                    return Err(Rejection::Duplicate {
                        record: rec.clone(),
                        what: "acknowledgement by",
                        key,
                    });
                }
                Event::PolicyAcknowledged(PolicyAcknowledged {
                    person: ctx.actor().clone(),
                })
            }
            (PolicyCommand::Supersede(p), S::Published) => {
                ctx.require(rec, "superseding policy", &[roles::TOP_MANAGEMENT])?;
                ctx.require_exists(rec, &StreamId::new(StreamKind::Policy, p.by.clone()))?;
                Event::PolicySuperseded(p)
            }
            (PolicyCommand::Retire(p), S::Draft | S::Approved | S::Published) => {
                ctx.require(rec, "retiring policy", &[roles::TOP_MANAGEMENT])?;
                Event::PolicyRetired(p)
            }
            (cmd, status) => return Err(invalid(rec, policy_action(&cmd), status.name())),
        };
        Ok(vec![event])
    }
    fn apply(&mut self, env: &Envelope) {
        match &env.event {
            Event::PolicyDrafted(_) => self.status = PolicyStatus::Draft,
            Event::PolicyApproved(_) => {
                self.status = PolicyStatus::Approved;
                self.approved_by = Some(env.actor.clone());
            }
            Event::PolicyPublished(_) => self.status = PolicyStatus::Published,
            Event::PolicyAcknowledged(p) => {
                self.acknowledged.insert(p.person.clone());
            }
            Event::PolicySuperseded(_) => self.status = PolicyStatus::Superseded,
            Event::PolicyRetired(_) => self.status = PolicyStatus::Retired,
            _ => {}
        }
    }
    fn exists(&self) -> bool {
        self.status != PolicyStatus::Absent
    }
    fn creates(cmd: &PolicyCommand) -> bool {
        matches!(cmd, PolicyCommand::Draft(_))
    }
    fn invariant(&self) -> std::result::Result<(), String> {
        let published = matches!(
            self.status,
            PolicyStatus::Published | PolicyStatus::Superseded
        );
        if published && self.approved_by.is_none() {
            return Err("policy in force without approval".into());
        }
        if !published && self.status != PolicyStatus::Retired && !self.acknowledged.is_empty() {
            return Err("acknowledged before publication".into());
        }
        Ok(())
    }
}

fn policy_action(cmd: &PolicyCommand) -> &'static str {
    match cmd {
        PolicyCommand::Draft(_) => "draft",
        PolicyCommand::Approve(_) => "approve",
        PolicyCommand::Publish(_) => "publish",
        PolicyCommand::Acknowledge => "acknowledge",
        PolicyCommand::Supersede(_) => "supersede",
        PolicyCommand::Retire(_) => "retire",
    }
}

payload! {
    /// `role.defined`: a security role, its responsibilities and authorities (5.3).
    pub struct RoleDefined {
        /// Title people use.
        pub title: Text,
        /// What the holder is responsible for.
        pub responsibilities: Vec<Text>,
        /// What the holder may decide.
        pub authorities: Vec<Text>,
    }
}
payload! {
    /// `role.assigned` / `role.unassigned`: a person gains or loses the role, optionally for one area.
    pub struct RoleAssignment {
        /// The person.
        pub person: Actor,
        /// The area (site, region, process) the assignment is limited to. Holding any role for
        /// an area makes the person responsible for it, so they may not audit it (9.2).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub area: Option<Code>,
    }
}

/// Commands on a `role` stream; the stream id is the role name.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(
    tag = "action",
    content = "data",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum RoleCommand {
    /// Define the role.
    Define(RoleDefined),
    /// Assign it.
    Assign(RoleAssignment),
    /// Take it away.
    Unassign(RoleAssignment),
}

/// State of one role: who holds it, where.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleState {
    defined: bool,
    holders: BTreeSet<(Actor, Option<Code>)>,
    ever_held: bool,
}

impl RoleState {
    /// Current holders, each with the area their assignment is limited to.
    pub fn holders(&self) -> &BTreeSet<(Actor, Option<Code>)> {
        &self.holders
    }
}

impl Kind for RoleState {
    type Command = RoleCommand;
    fn decide(&self, rec: &Subject, cmd: RoleCommand, ctx: &Context<'_>) -> Result<Vec<Event>> {
        if Role::new(rec.0.id().as_str()).is_err() {
            let reason = "a role's id must match [a-z][a-z0-9_]*".to_owned();
            return Err(Rejection::InvalidValue {
                record: rec.clone(),
                field: "id",
                reason,
            });
        }
        if !bootstrapping(rec, ctx) {
            ctx.require(rec, "managing roles", &[roles::TOP_MANAGEMENT])?;
        }
        let event = match cmd {
            RoleCommand::Define(p) => Event::RoleDefined(p),
            RoleCommand::Assign(p) => {
                if self.holders.contains(&(p.person.clone(), p.area.clone())) {
                    let key = p.person.to_string();
                    return Err(Rejection::Duplicate {
                        record: rec.clone(),
                        what: "assignment of",
                        key,
                    });
                }
                Event::RoleAssigned(p)
            }
            RoleCommand::Unassign(p) => {
                if !self.holders.contains(&(p.person.clone(), p.area.clone())) {
                    let key = p.person.to_string();
                    return Err(Rejection::UnknownItem {
                        record: rec.clone(),
                        what: "holder",
                        key,
                    });
                }
                if rec.0.id().as_str() == roles::TOP_MANAGEMENT && self.holders.len() == 1 {
                    // Authority must not lapse: someone always holds top management.
                    return Err(invalid(
                        rec,
                        "unassign the last top-management holder",
                        "held by one person",
                    ));
                }
                Event::RoleUnassigned(p)
            }
        };
        Ok(vec![event])
    }
    fn apply(&mut self, env: &Envelope) {
        match &env.event {
            Event::RoleDefined(_) => self.defined = true,
            Event::RoleAssigned(p) => {
                self.holders.insert((p.person.clone(), p.area.clone()));
                self.ever_held = true;
            }
            Event::RoleUnassigned(p) => {
                self.holders.remove(&(p.person.clone(), p.area.clone()));
            }
            _ => {}
        }
    }
    fn exists(&self) -> bool {
        self.defined
    }
    fn creates(cmd: &RoleCommand) -> bool {
        matches!(cmd, RoleCommand::Define(_))
    }
}

/// A new SMS has no top management yet. Until someone first holds it, the `top_management`
/// role (and only it) may be set up by whoever installs the system; the ledger records who.
/// Once held it never lapses (the last holder cannot be unassigned), so this cannot reopen.
fn bootstrapping(rec: &Subject, ctx: &Context<'_>) -> bool {
    if rec.0.id().as_str() != roles::TOP_MANAGEMENT {
        return false;
    }
    match ctx.facts().stream(&rec.0).map(|s| s.body()) {
        Some(Body::Role(role)) => !role.ever_held,
        _ => true,
    }
}
