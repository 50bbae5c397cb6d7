//! [`Model`]: every register, folded from [`Record`]s in ledger order.
//!
//! The fold is total: it accepts any sequence of records, including ones the domain would have
//! refused (a follow-up whose record is missing is ignored), because as-of and valid-at
//! replays feed it subsets of the history.

use crate::record::{Body, Record};
use crate::rows::*;
use custodia_domain::{Envelope, StreamKind, Timestamp};
use custodia_ledger::entry::ChainHash;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Rows by record id. Keys and rows sit behind `Arc`, in chunks shared between clones, so
/// keeping a snapshot (a clone of the model) copies a pointer per chunk; a row is copied
/// only when changed after a snapshot shared it (`Arc::make_mut`).
pub type Table<T> = crate::map::SharedMap<T>;

/// Undecodable entries kept in full; beyond this only the count grows.
pub const PROBLEMS_MAX: usize = 100;

/// An entry the fold could not read, reported rather than fatal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// The entry's seq.
    pub seq: u64,
    /// What was wrong.
    pub reason: String,
}

/// How far the model has read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Entries folded: the model reflects seqs `0..size` (a tree size).
    pub size: u64,
    /// The hash of entry `size - 1`, hex (empty at size 0).
    pub last_hash: String,
    /// The latest `occurred_at` among the entries applied that change the model (domain
    /// events and undecodable entries; not foreign ones, nor entries passed over): a model
    /// holds exactly the valid-at-`t` state of its prefix when this is `≤ t`.
    pub max_occurred: Option<Timestamp>,
}

/// Every register, as of [`Model::position`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Model {
    position: Position,
    events: u64,
    problems: Vec<Problem>,
    problem_count: u64,
    /// Context issues (4.1).
    pub issues: Table<IssueRow>,
    /// Scope statements (4.3).
    pub scopes: Table<ScopeRow>,
    /// Obligations (4.2).
    pub obligations: Table<ObligationRow>,
    /// Policies (5.2).
    pub policies: Table<PolicyRow>,
    /// Roles (5.3).
    pub roles: Table<RoleRow>,
    /// Risks (6.1, 8.3).
    pub risks: Table<RiskRow>,
    /// Objectives (6.2).
    pub objectives: Table<ObjectiveRow>,
    /// Required competences (7.2).
    pub competences: Table<CompetenceRow>,
    /// People's trainings (7.2).
    pub people: Table<PersonRow>,
    /// Documents (7.5).
    pub documents: Table<DocumentRow>,
    /// Controls (8.2).
    pub controls: Table<ControlRow>,
    /// Suppliers (8.x).
    pub suppliers: Table<SupplierRow>,
    /// Incidents (8.5).
    pub incidents: Table<IncidentRow>,
    /// Audits (9.2).
    pub audits: Table<AuditRow>,
    /// Management reviews (9.3).
    pub reviews: Table<ReviewRow>,
    /// Nonconformities (10).
    pub nonconformities: Table<NonconformityRow>,
    /// Corrective actions (10).
    pub corrective_actions: Table<CorrectiveActionRow>,
    /// Improvements (10).
    pub improvements: Table<ImprovementRow>,
    /// Interested parties (4.2).
    pub parties: Table<PartyRow>,
    /// The change log (6.3).
    pub changes: Table<ChangeRow>,
    /// The communication log (7.4).
    pub communications: Table<CommunicationRow>,
    /// Plans (8.5).
    pub plans: Table<PlanRow>,
    /// Gap analyses and readiness assessments.
    pub assessments: Table<AssessmentRow>,
}

impl Model {
    /// An empty model (nothing read).
    pub fn new() -> Model {
        Model::default()
    }

    /// Folds records in ledger order.
    pub fn fold<'a>(records: impl IntoIterator<Item = &'a Record>) -> Model {
        let mut model = Model::new();
        for record in records {
            model.apply(record);
        }
        model
    }

    /// Where the model stands.
    pub fn position(&self) -> &Position {
        &self.position
    }

    /// Domain events applied.
    pub fn event_count(&self) -> u64 {
        self.events
    }

    /// The first [`PROBLEMS_MAX`] undecodable entries, and how many there were in all.
    pub fn problems(&self) -> (&[Problem], u64) {
        (&self.problems, self.problem_count)
    }

    /// Applies one record: its event when it carries one, and in every case the position.
    pub fn apply(&mut self, record: &Record) {
        match &record.body {
            Body::Event(envelope) => self.apply_event(envelope, record.recorded_at),
            Body::Foreign => {}
            Body::Undecodable(reason) => self.report(record.seq, reason),
        }
        self.advance(record);
    }

    /// Moves the position past `record` without applying its event: what a valid-at replay
    /// does with an entry whose event happened after the date asked about.
    pub fn pass(&mut self, seq: u64, hash: &ChainHash) {
        self.position.size = seq + 1;
        self.position.last_hash = hash.to_hex();
    }

    fn advance(&mut self, record: &Record) {
        self.pass(record.seq, &record.hash);
        // A foreign entry changes nothing, so its date must not disqualify this model as the
        // valid-at start for earlier dates (the genesis entry is dated when the ledger began).
        if !matches!(record.body, Body::Foreign) {
            let at = Some(record.occurred_at);
            self.position.max_occurred = self.position.max_occurred.max(at);
        }
    }

    fn report(&mut self, seq: u64, reason: &str) {
        tracing::warn!(seq, reason, "projections: entry cannot be decoded; skipped");
        self.problem_count += 1;
        if self.problems.len() < PROBLEMS_MAX {
            self.problems.push(Problem {
                seq,
                reason: reason.to_owned(),
            });
        }
    }

    fn apply_event(&mut self, env: &Envelope, learned: Timestamp) {
        self.events += 1;
        let at = Stamp {
            id: env.stream.id().as_str(),
            version: env.version,
            occurred: env.occurred_at,
            learned,
        };
        match env.stream.kind() {
            StreamKind::Issue | StreamKind::Scope | StreamKind::Obligation => {
                crate::fold::org(self, env, &at)
            }
            StreamKind::Policy | StreamKind::Role => crate::fold::leadership(self, env, &at),
            StreamKind::Risk | StreamKind::Objective => crate::fold::planning(self, env, &at),
            StreamKind::Competence | StreamKind::Person | StreamKind::Document => {
                crate::fold::support(self, env, &at)
            }
            StreamKind::Control | StreamKind::Supplier | StreamKind::Incident => {
                crate::fold::operation(self, env, &at)
            }
            StreamKind::Audit | StreamKind::Review => crate::fold::evaluation(self, env, &at),
            StreamKind::Nonconformity | StreamKind::CorrectiveAction | StreamKind::Improvement => {
                crate::fold::improvement(self, env, &at)
            }
            StreamKind::Party
            | StreamKind::Change
            | StreamKind::Communication
            | StreamKind::Plan
            | StreamKind::Assessment => crate::fold::logs(self, env, &at),
            // The risk matrix has no register: ratings carry their band already. Its events
            // still count and move the position.
            _ => {}
        }
    }
}

/// Where and when an event lands: what every row's [`Meta`] needs.
pub(crate) struct Stamp<'a> {
    pub(crate) id: &'a str,
    pub(crate) version: u64,
    pub(crate) occurred: Timestamp,
    pub(crate) learned: Timestamp,
}

impl Stamp<'_> {
    /// Meta for a record created by this event.
    pub(crate) fn meta(&self, env: &Envelope) -> Meta {
        Meta {
            id: env.stream.id().clone(),
            version: self.version,
            created: self.occurred,
            updated: self.occurred,
            learned: self.learned,
        }
    }
}

/// A row that carries [`Meta`], so follow-up events can touch it generically.
pub(crate) trait HasMeta {
    fn meta_mut(&mut self) -> &mut Meta;
}

macro_rules! has_meta {
    ($($t:ty),*) => { $(impl HasMeta for $t { fn meta_mut(&mut self) -> &mut Meta { &mut self.meta } })* };
}
has_meta!(
    IssueRow,
    ScopeRow,
    ObligationRow,
    PolicyRow,
    RoleRow,
    RiskRow,
    ObjectiveRow,
    CompetenceRow,
    PersonRow,
    DocumentRow,
    ControlRow,
    SupplierRow,
    IncidentRow,
    AuditRow,
    ReviewRow,
    NonconformityRow,
    CorrectiveActionRow,
    ImprovementRow,
    PartyRow,
    ChangeRow,
    CommunicationRow,
    PlanRow,
    AssessmentRow
);

/// Inserts a row created by an event (replacing nothing: a second creation is ignored, as
/// the domain refuses it).
pub(crate) fn create<T: Clone>(table: &mut Table<T>, at: &Stamp<'_>, row: T) {
    table.insert_with(at.id, || row);
}

/// Changes an existing row and stamps its meta; a follow-up to a missing record is ignored.
pub(crate) fn update<T: Clone + HasMeta>(
    table: &mut Table<T>,
    at: &Stamp<'_>,
    change: impl FnOnce(&mut T),
) {
    if let Some(row) = table.get_mut(at.id) {
        let row = Arc::make_mut(row);
        let meta = row.meta_mut();
        meta.version = at.version;
        meta.updated = meta.updated.max(at.occurred);
        change(row);
    }
}
