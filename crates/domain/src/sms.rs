//! The whole SMS: every stream folded, plus the indexes the rules consult (who holds which
//! role, who owns which area). Pure data; the caller decides where envelopes come from.

use crate::context::{Context, Facts};
use crate::event::{Envelope, Event};
use crate::ids::{Actor, Code, Role, StreamId};
use crate::rejection::Result;
use crate::state::{decide, evolve_in_place, Body, Command, StreamState};
use crate::time::Timestamp;
use std::collections::HashMap;

/// Every stream's state, folded from envelopes in ledger order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sms {
    streams: HashMap<StreamId, StreamState>,
    roles: HashMap<Actor, Vec<Role>>,
    area_owners: HashMap<(Actor, Code), u32>,
    events: u64,
}

impl Sms {
    /// An empty SMS.
    pub fn new() -> Sms {
        Sms::default()
    }

    /// Folds envelopes (in ledger order) into whole-SMS state.
    pub fn fold<'a>(envelopes: impl IntoIterator<Item = &'a Envelope>) -> Sms {
        let mut sms = Sms::new();
        for envelope in envelopes {
            sms.apply(envelope);
        }
        sms
    }

    /// Applies one recorded envelope.
    pub fn apply(&mut self, envelope: &Envelope) {
        self.index_roles(envelope);
        let state = self.streams.entry(envelope.stream.clone()).or_default();
        evolve_in_place(state, envelope);
        self.events += 1;
    }

    /// How many envelopes were applied.
    pub fn event_count(&self) -> u64 {
        self.events
    }

    /// The state of one stream, if it has events.
    pub fn stream(&self, id: &StreamId) -> Option<&StreamState> {
        self.streams.get(id)
    }

    /// Every stream with events.
    pub fn streams(&self) -> impl Iterator<Item = (&StreamId, &StreamState)> {
        self.streams.iter()
    }

    /// The roles `actor` holds now (from `role.assigned` / `role.unassigned`).
    pub fn roles_of(&self, actor: &Actor) -> &[Role] {
        self.roles.get(actor).map_or(&[], Vec::as_slice)
    }

    /// The context for `actor` acting at `at`, with their roles and this SMS as facts.
    pub fn context<'a>(&'a self, actor: &'a Actor, at: Timestamp) -> Context<'a> {
        Context::new(at, actor, self.roles_of(actor), self)
    }

    /// Decides `command` against the current state; returns the envelopes to append
    /// (versions following the stream's), without applying them.
    pub fn decide(&self, command: Command, actor: &Actor, at: Timestamp) -> Result<Vec<Envelope>> {
        let stream = command.stream();
        let empty = StreamState::default();
        let state = self.streams.get(&stream).unwrap_or(&empty);
        let events = decide(state, command, &self.context(actor, at))?;
        let next = state.version() + 1;
        Ok(events
            .into_iter()
            .zip(next..)
            .map(|(event, version)| Envelope {
                stream: stream.clone(),
                version,
                occurred_at: at,
                actor: actor.clone(),
                event,
            })
            .collect())
    }

    /// Decides and, when accepted, applies: the in-memory equivalent of "load, decide, append".
    pub fn execute(
        &mut self,
        command: Command,
        actor: &Actor,
        at: Timestamp,
    ) -> Result<Vec<Envelope>> {
        let envelopes = self.decide(command, actor, at)?;
        for envelope in &envelopes {
            self.apply(envelope);
        }
        Ok(envelopes)
    }

    fn index_roles(&mut self, envelope: &Envelope) {
        let role = || Role::new(envelope.stream.id().as_str()).ok();
        match &envelope.event {
            Event::RoleAssigned(a) => {
                let Some(role) = role() else { return };
                let held = self.roles.entry(a.person.clone()).or_default();
                if !held.contains(&role) {
                    held.push(role);
                }
                if let Some(area) = &a.area {
                    *self
                        .area_owners
                        .entry((a.person.clone(), area.clone()))
                        .or_default() += 1;
                }
            }
            Event::RoleUnassigned(a) => {
                if let Some(area) = &a.area {
                    let key = (a.person.clone(), area.clone());
                    if let Some(n) = self.area_owners.get_mut(&key) {
                        *n -= 1;
                        if *n == 0 {
                            self.area_owners.remove(&key);
                        }
                    }
                }
                let still_held = self.still_holds(envelope, &a.person, a.area.as_ref());
                if let (false, Some(role), Some(held)) =
                    (still_held, role(), self.roles.get_mut(&a.person))
                {
                    held.retain(|r| *r != role);
                }
            }
            _ => {}
        }
    }

    /// Whether the person keeps the role through another (differently scoped) assignment.
    fn still_holds(&self, envelope: &Envelope, person: &Actor, area: Option<&Code>) -> bool {
        match self.streams.get(&envelope.stream).map(StreamState::body) {
            Some(Body::Role(r)) => r
                .holders()
                .iter()
                .any(|(p, a)| p == person && a.as_ref() != area),
            _ => false,
        }
    }
}

impl Facts for Sms {
    fn stream(&self, id: &StreamId) -> Option<&StreamState> {
        self.streams.get(id)
    }
    fn owns_area(&self, actor: &Actor, area: &Code) -> bool {
        self.area_owners
            .contains_key(&(actor.clone(), area.clone()))
    }
}
