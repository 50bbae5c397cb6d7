//! What a decision may know besides its own stream: when, who, with which roles, and facts
//! about other streams. The domain reads no clock and no database; the caller supplies these.

use crate::ids::{Actor, Code, Role, StreamId, Subject};
use crate::rejection::Rejection;
use crate::state::StreamState;
use crate::time::Timestamp;

/// Read access to other streams, for rules that link records (a corrective action's
/// nonconformity must exist; an auditor must not own the audited area).
///
/// [`crate::Sms`] implements it over the whole folded history; tests may use [`NoFacts`] or
/// their own map.
pub trait Facts {
    /// The folded state of another stream, or `None` when it has no events.
    fn stream(&self, id: &StreamId) -> Option<&StreamState>;
    /// Whether `actor` holds a role assignment scoped to `area` (owns it).
    fn owns_area(&self, actor: &Actor, area: &Code) -> bool;
}

/// Facts for a decision that needs none: every other stream is empty.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFacts;

impl Facts for NoFacts {
    fn stream(&self, _: &StreamId) -> Option<&StreamState> {
        None
    }
    fn owns_area(&self, _: &Actor, _: &Code) -> bool {
        false
    }
}

/// The circumstances of one command: its business time, the acting principal and their roles,
/// and facts about other streams.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    occurred_at: Timestamp,
    actor: &'a Actor,
    roles: &'a [Role],
    facts: &'a dyn Facts,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("occurred_at", &self.occurred_at)
            .field("actor", &self.actor)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

impl<'a> Context<'a> {
    /// A context for `actor`, holding `roles`, acting at `occurred_at`.
    pub fn new(
        occurred_at: Timestamp,
        actor: &'a Actor,
        roles: &'a [Role],
        facts: &'a dyn Facts,
    ) -> Context<'a> {
        Context {
            occurred_at,
            actor,
            roles,
            facts,
        }
    }
    /// When the commanded change happens (valid time).
    pub fn occurred_at(&self) -> Timestamp {
        self.occurred_at
    }
    /// Who is acting.
    pub fn actor(&self) -> &Actor {
        self.actor
    }
    /// The roles the actor holds ([`crate::Sms::context`] supplies those granted by the
    /// `role.*` events folded so far).
    pub fn roles(&self) -> &[Role] {
        self.roles
    }
    /// Facts about other streams.
    pub fn facts(&self) -> &dyn Facts {
        self.facts
    }
    /// Whether the actor holds `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r.as_str() == role)
    }

    /// Refuses unless the actor holds one of `allowed` (the first is named in the error).
    pub(crate) fn require(
        &self,
        record: &Subject,
        action: &'static str,
        allowed: &[&'static str],
    ) -> Result<(), Rejection> {
        if allowed.iter().any(|role| self.has_role(role)) {
            return Ok(());
        }
        Err(Rejection::Unauthorized {
            record: record.clone(),
            action,
            role: allowed.join(" or "),
            actor: self.actor.clone(),
        })
    }

    /// Refuses a date that does not lie after this command's `occurred_at`.
    pub(crate) fn require_after(
        &self,
        record: &Subject,
        field: &'static str,
        date: Timestamp,
    ) -> Result<(), Rejection> {
        if date > self.occurred_at {
            return Ok(());
        }
        Err(Rejection::DateNotAfter {
            record: record.clone(),
            field,
            date,
            at: self.occurred_at,
        })
    }

    /// Refuses when another stream the command links to has no events.
    pub(crate) fn require_exists(
        &self,
        record: &Subject,
        link: &StreamId,
    ) -> Result<(), Rejection> {
        self.linked(record, link).map(|_| ())
    }

    /// The state of a record the command links to: it must exist and must not have been
    /// created after this command's `occurred_at`.
    pub(crate) fn linked(
        &self,
        record: &Subject,
        link: &StreamId,
    ) -> Result<&'a StreamState, Rejection> {
        let state = self.facts.stream(link).filter(|s| !s.is_empty());
        let state = state.ok_or_else(|| Rejection::LinkMissing {
            record: record.clone(),
            link: link.subject(),
        })?;
        self.not_before(record, link, state.first_occurred_at())?;
        Ok(state)
    }

    /// Refuses when `linked_at` (a time of the record at `link`) lies after this command.
    pub(crate) fn not_before(
        &self,
        record: &Subject,
        link: &StreamId,
        linked_at: Option<Timestamp>,
    ) -> Result<(), Rejection> {
        match linked_at {
            Some(linked_at) if linked_at > self.occurred_at => Err(Rejection::PrecedesLink {
                record: record.clone(),
                link: link.subject(),
                at: self.occurred_at,
                linked_at,
            }),
            _ => Ok(()),
        }
    }
}
