//! The uniform core: [`decide`] and [`evolve`] over one stream, dispatched to its kind.

use crate::context::Context;
use crate::event::{Envelope, Event};
use crate::ids::{RecordId, StreamId, StreamKind, Subject};
use crate::kinds::*;
use crate::rejection::{Rejection, Result};
use crate::time::Timestamp;
use std::fmt;

/// What every stream kind implements; the generic checks (existence, time order) live in
/// [`decide`] so each kind states only its own rules.
pub(crate) trait Kind: Default + Clone + PartialEq + fmt::Debug {
    /// The kind's commands.
    type Command;
    /// The kind's own rules.
    fn decide(&self, rec: &Subject, cmd: Self::Command, ctx: &Context<'_>) -> Result<Vec<Event>>;
    /// Applies one of the kind's events.
    fn apply(&mut self, env: &Envelope);
    /// Whether the record has been created.
    fn exists(&self) -> bool;
    /// Whether the command creates the record (refused when it exists).
    fn creates(cmd: &Self::Command) -> bool;
    /// Whether the command may run on a record that does not exist yet.
    fn may_create(cmd: &Self::Command) -> bool {
        Self::creates(cmd)
    }
    /// Checks the state's invariants; used by property tests and [`StreamState::check`].
    fn invariant(&self) -> std::result::Result<(), String> {
        Ok(())
    }
}

/// A refusal for a step the record's state machine does not allow now.
pub(crate) fn invalid(rec: &Subject, action: &'static str, state: &'static str) -> Rejection {
    Rejection::InvalidState {
        record: rec.clone(),
        action,
        state,
    }
}

macro_rules! kinds {
    ($($variant:ident($state:ty, $cmd:ty)),* $(,)?) => {
        /// The kind-specific part of a stream's state.
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum Body {
            /// No events yet.
            #[default]
            Empty,
            $(#[doc = concat!("A `", stringify!($variant), "` stream.")] $variant($state),)*
        }

        /// A command addressed to one record: `Command::Risk(id, RiskCommand::Assess(..))`.
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum Command {
            $(#[doc = concat!("A command to a `", stringify!($variant), "` record.")] $variant(RecordId, $cmd),)*
        }

        impl Command {
            /// The stream the command is addressed to.
            pub fn stream(&self) -> StreamId {
                match self { $(Command::$variant(id, _) => StreamId::new(StreamKind::$variant, id.clone()),)* }
            }

            /// Reads a command for `stream` from its JSON form, `{"action": "assess", "data": {...}}`
            /// (the kind's command enum, adjacently tagged, snake_case).
            pub fn from_json(stream: &StreamId, value: &serde_json::Value) -> Result<Command, serde_json::Error> {
                let id = stream.id().clone();
                match stream.kind() {
                    $(StreamKind::$variant => {
                        <$cmd as serde::Deserialize>::deserialize(value).map(|c| Command::$variant(id, c))
                    })*
                }
            }

            /// The command's JSON form (without its stream), as [`Command::from_json`] reads it.
            pub fn to_json(&self) -> serde_json::Value {
                // Commands are plain data with string keys; serialization cannot fail.
                match self { $(Command::$variant(_, c) => serde_json::to_value(c),)* }.expect("commands serialize")
            }
        }

        /// The JSON Schema of each stream kind's commands, for API documentation.
        pub fn command_schemas() -> Vec<(StreamKind, schemars::schema::RootSchema)> {
            vec![$((StreamKind::$variant, schemars::schema_for!($cmd)),)*]
        }

        fn dispatch(state: &StreamState, command: Command, ctx: &Context<'_>) -> Result<Vec<Event>> {
            match command {
                $(Command::$variant(id, cmd) => {
                    let rec = StreamId::new(StreamKind::$variant, id).subject();
                    match &state.body {
                        Body::$variant(s) => run(s, state, &rec, cmd, ctx),
                        Body::Empty => run(&<$state>::default(), state, &rec, cmd, ctx),
                        _ => Err(Rejection::StreamMismatch { record: rec }),
                    }
                })*
            }
        }

        fn apply_body(body: &mut Body, env: &Envelope) {
            match env.stream.kind() {
                $(StreamKind::$variant => {
                    if let Body::Empty = body {
                        *body = Body::$variant(<$state>::default());
                    }
                    if let Body::$variant(s) = body {
                        s.apply(env);
                    }
                })*
            }
        }

        fn check_body(body: &Body) -> std::result::Result<(), String> {
            match body {
                Body::Empty => Ok(()),
                $(Body::$variant(s) => s.invariant(),)*
            }
        }
    };
}

kinds! {
    Issue(Issue, IssueCommand),
    Party(Party, PartyCommand),
    Obligation(Obligation, ObligationCommand),
    Scope(Scope, ScopeCommand),
    Policy(Policy, PolicyCommand),
    Role(RoleState, RoleCommand),
    Matrix(Matrix, MatrixCommand),
    Risk(Risk, RiskCommand),
    Objective(Objective, ObjectiveCommand),
    Change(Change, ChangeCommand),
    Competence(Competence, CompetenceCommand),
    Person(Person, PersonCommand),
    Communication(Communication, CommunicationCommand),
    Document(Document, DocumentCommand),
    Control(Control, ControlCommand),
    Supplier(Supplier, SupplierCommand),
    Plan(Plan, PlanCommand),
    Incident(Incident, IncidentCommand),
    Audit(Audit, AuditCommand),
    Assessment(Assessment, AssessmentCommand),
    Review(Review, ReviewCommand),
    Nonconformity(Nonconformity, NonconformityCommand),
    CorrectiveAction(CorrectiveAction, CorrectiveActionCommand),
    Improvement(Improvement, ImprovementCommand),
}

/// The rules every stream shares, then the kind's own.
fn run<K: Kind>(
    kind: &K,
    state: &StreamState,
    rec: &Subject,
    cmd: K::Command,
    ctx: &Context<'_>,
) -> Result<Vec<Event>> {
    if K::creates(&cmd) && kind.exists() {
        return Err(Rejection::AlreadyExists {
            record: rec.clone(),
        });
    }
    if !K::may_create(&cmd) && !kind.exists() {
        return Err(Rejection::NotFound {
            record: rec.clone(),
        });
    }
    if let Some(previous) = state.last_occurred_at.filter(|p| ctx.occurred_at() < *p) {
        return Err(Rejection::TimeRunsBackwards {
            record: rec.clone(),
            at: ctx.occurred_at(),
            previous,
        });
    }
    kind.decide(rec, cmd, ctx)
}

/// The folded state of one stream: its position, its clock and its kind's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamState {
    version: u64,
    first_occurred_at: Option<Timestamp>,
    last_occurred_at: Option<Timestamp>,
    body: Body,
}

impl StreamState {
    /// The version of the last event applied (0 for an empty stream); the next append
    /// expects this version.
    pub fn version(&self) -> u64 {
        self.version
    }
    /// When the first event happened: records linking to this one may not precede it.
    pub fn first_occurred_at(&self) -> Option<Timestamp> {
        self.first_occurred_at
    }
    /// When the latest event happened; later commands may not precede it.
    pub fn last_occurred_at(&self) -> Option<Timestamp> {
        self.last_occurred_at
    }
    /// The kind-specific state.
    pub fn body(&self) -> &Body {
        &self.body
    }
    /// Whether no event was applied yet.
    pub fn is_empty(&self) -> bool {
        self.version == 0
    }
    /// Checks the kind's invariants (what no sequence of accepted commands may break).
    pub fn check(&self) -> std::result::Result<(), String> {
        check_body(&self.body)
    }
}

/// Decides what a command on one stream produces, or why it is refused.
///
/// `state` is the stream's folded state ([`StreamState::default`] for a new stream). Nothing
/// is written either way: the caller appends the events (at `state.version() + 1`, …).
pub fn decide(state: &StreamState, command: Command, ctx: &Context<'_>) -> Result<Vec<Event>> {
    dispatch(state, command, ctx)
}

/// Applies one recorded event to its stream's state.
///
/// It takes the event in its [`Envelope`] rather than bare: the time rules need when each
/// event happened (a containment cannot precede its incident; a screening ages) and the
/// ledger keeps that time in the envelope, not in the payload.
pub fn evolve(mut state: StreamState, envelope: &Envelope) -> StreamState {
    evolve_in_place(&mut state, envelope);
    state
}

/// Applies in place; what [`crate::Sms`] uses to avoid moving states around.
pub(crate) fn evolve_in_place(state: &mut StreamState, envelope: &Envelope) {
    apply_body(&mut state.body, envelope);
    state.version = envelope.version;
    let at = envelope.occurred_at;
    state.first_occurred_at = Some(state.first_occurred_at.map_or(at, |first| first.min(at)));
    state.last_occurred_at = state.last_occurred_at.max(Some(at));
}
