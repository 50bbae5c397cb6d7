//! # custodia-domain: the ISO 28000 security management system as pure decisions
//!
//! This crate *is* the SMS: every clause of ISO 28000 that must leave a record is a kind of
//! stream with typed commands, typed events, a state, and the rules an auditor expects. It is
//! what makes custodia an ISO 28000 tool rather than a generic log.
//!
//! It is **not** storage, transport or presentation. It does no I/O, reads no clock, spawns
//! nothing and knows nothing of the ledger (`crates/ledger`) — the ledger knows nothing of
//! ISO 28000 either. Time and the acting principal come in through a [`Context`]; events go out
//! as values for the caller to append.
//!
//! ## The core
//!
//! ```text
//! decide(&StreamState, Command, &Context) -> Result<Vec<Event>, Rejection>
//! evolve(StreamState, &Envelope) -> StreamState
//! ```
//!
//! * [`Command`] — one enum over every stream kind: `Command::Risk(RecordId, RiskCommand)`;
//!   [`Command::stream`] names the stream it addresses.
//! * [`Event`] — one enum over every event type (`risk.assessed`, `training.completed`, …).
//! * [`StreamState`] — one stream folded: version, clock, and a [`Body`] per kind
//!   ([`Risk`], [`Incident`], [`CorrectiveAction`], …) read through getters.
//! * [`Rejection`] — why a command was refused; every variant names the rule and the record
//!   (`risk R-0007: cannot accept before it is assessed`). Nothing is written on refusal.
//! * [`Context`] — occurred_at, actor, the actor's roles, and [`Facts`] about other streams
//!   (the matrix in force, whether a linked record exists, who owns an area).
//!
//! [`evolve`] takes the event in its [`Envelope`] rather than bare: time rules need when each
//! event happened (a containment cannot precede its incident; a screening ages), and the ledger
//! keeps that time in the envelope, not in the payload.
//!
//! ## Integration surface (what `projections`, `api` and the CLI use)
//!
//! * Per event: [`Event::event_type`] `-> &'static str`, [`Event::schema_version`] `-> u32`,
//!   [`Event::data`] `-> serde_json::Value` (the ledger's `event.data`),
//!   [`Event::stream_kind`]; the table [`EVENT_TYPES`].
//! * Reading back: [`decode`]`(event_type: &str, schema_version: u32, data: &Value) ->
//!   Result<Event, DecodeError>`, which upcasts older schema versions ([`upcast`]).
//! * [`Envelope`] `{ stream: StreamId, version: u64, occurred_at: Timestamp, actor: Actor,
//!   event: Event }` with [`Envelope::to_json`] / [`Envelope::from_json`] for the ledger's
//!   `event` object (`stream`, `version`, `type`, `schema`, `occurred_at`, `actor`, `data`).
//! * Whole-SMS state: [`Sms`] — [`Sms::fold`]`(envelopes)`, [`Sms::apply`]`(&Envelope)`,
//!   [`Sms::stream`]`(&StreamId)`, [`Sms::roles_of`]`(&Actor)`,
//!   [`Sms::context`]`(&Actor, Timestamp)`, and the write path in memory:
//!   [`Sms::decide`]`(Command, &Actor, Timestamp) -> Result<Vec<Envelope>, Rejection>`
//!   (versions follow the stream's; append them with expected version
//!   `stream(..).version()`), [`Sms::execute`] (decide and apply).
//! * Commands as JSON, for the API and CLI: [`Command::from_json`]`(&StreamId, &Value)` reads
//!   `{"action": "assess", "data": {...}}` (each kind's command enum, snake_case);
//!   [`Command::to_json`] writes it; [`command_schemas`] gives their JSON Schemas.
//! * [`Timestamp`]: microseconds since the epoch, parsed and printed only as
//!   `YYYY-MM-DDTHH:MM:SS.ffffffZ`. Value types ([`RecordId`], [`StreamId`], [`Actor`],
//!   [`Role`], [`Text`], [`Code`], [`Decimal`], [`Digest`]) validate on construction.
//! * Schemas: [`schema_files`] generates `schemas/<type>.v<N>.json` from the payload types.
//!   The drift test fails when `schemas/` differs; regenerate with
//!   `CUSTODIA_BLESS=1 cargo test -p custodia-domain --test schemas`.
//! * The reference scenario: [`scenario::generate`]`(ScenarioConfig { seed, scale }) ->
//!   Result<Vec<Envelope>, ScenarioError>` and [`scenario::generate_each`]`(config, sink) ->
//!   Result<Sms, ScenarioError>` for streaming large scales.
//!
//! Payloads obey the ledger's value rules: no floats (decimals are [`Decimal`] strings),
//! integers are `u32` or bounded `u64` (≤ 2^53−1), strings are bounded UTF-8.
//!
//! ## Clauses covered and where each rule lives
//!
//! Generic rules, for every stream, live in `state.rs` (`run`): a creating command on an
//! existing record → [`Rejection::AlreadyExists`]; any other on a missing one →
//! [`Rejection::NotFound`]; `occurred_at` before the stream's latest event →
//! [`Rejection::TimeRunsBackwards`]. Authority comes from `role.assigned` events:
//! [`Rejection::Unauthorized`] wherever a role is required. Dates a command sets (due,
//! expiry, validity) must lie after it → [`Rejection::DateNotAfter`]. A record linked to must
//! exist (`LinkMissing`) and not date from after the command (`PrecedesLink`): an action is not
//! planned before its nonconformity, a closure not before the verification it relies on, an
//! assessment not on a matrix defined later.
//!
//! | clause | streams | module | rules (rejection) |
//! |---|---|---|---|
//! | 4.1–4.4 context, parties, obligations, scope | `issue` `party` `obligation` `scope` | `kinds/org.rs` | retired issues and obligations are final (`InvalidState`); an obligation's party exists (`LinkMissing`); scope set by top management, covers ≥ 1 site (`InvalidValue`) |
//! | 5.1–5.2 policy | `policy` | `kinds/leadership.rs` | approved only by top management (`Unauthorized`); published only after approval (`PolicyNotApproved`); acknowledged once per person, only while published (`Duplicate`, `InvalidState`) |
//! | 5.3 roles | `role` | `kinds/leadership.rs`, `sms.rs` | roles managed by top management (`Unauthorized`); before anyone holds it only `top_management` itself may be set up (bootstrap), and its last holder cannot be unassigned (`InvalidState`); unassign only a holder (`UnknownItem`); role id is a role name |
//! | 6.1, 8.3 risk | `matrix` `risk` | `kinds/risk.rs` | matrix bands tile 1..=L×I (`InvalidValue`); scores within the matrix in force (`ScoreOutOfRange`), which must exist (`LinkMissing`); treat, rate residual or accept only after assessment (`RiskNotAssessed`); accept only with `risk_acceptance` (`Unauthorized`), expiry ahead and then due for review ([`Risk::review_due`]); residual ≤ inherent (`ResidualAboveInherent`), and a new inherent assessment clears the residual rating; close only with every treatment complete (`TreatmentIncomplete`) |
//! | 6.2, 9.1 objectives | `objective` | `kinds/planning.rs` | target improves on baseline (`InvalidValue`); each period measured once (`Duplicate`); achieved only when the latest measurement meets the target (`ObjectiveNotMet`) |
//! | 6.3 change | `change` | `kinds/planning.rs` | approved by someone other than the proposer (`SegregationOfDuties`); implemented only after approval (`InvalidState`) |
//! | 7.2–7.3 competence | `competence` `person` | `kinds/support.rs` | training names a required competence (`LinkMissing`), valid no longer than it allows (`InvalidValue`); recorded expired only after its validity ended (`InvalidState`) |
//! | 7.4 communication | `communication` | `kinds/support.rs` | communications to authorities are external (`InvalidValue`) |
//! | 7.5 documents | `document` | `kinds/support.rs` | revisions increase by one; approved by someone other than the issuer (`SegregationOfDuties`); withdrawn is final |
//! | 8.2, 8.4 controls | `control` | `kinds/operation.rs` | treats risks that exist (`LinkMissing`); tested only once implemented (`InvalidState`) |
//! | 8.x suppliers | `supplier` | `kinds/operation.rs` | approved or reinstated only after a passing screening (`SupplierNotScreened`) not older than its interval (`ScreeningOverdue`); a failed screening suspends a supplier in use in the same decision; tier 1–3, score 0–100, interval 30–1096 days (`InvalidValue`) |
//! | 8.5–8.6 plans, incidents | `plan` `incident` | `kinds/operation.rs` | plans approved by top management, exercised only while approved; incidents reported → triaged → contained → investigated → closed (`InvalidState`); high or critical closes only after investigation (`InvestigationRequired`); one escalation per authority (`Duplicate`) |
//! | 9.2 audit | `audit` | `kinds/evaluation.rs` | the auditor does not own the area (`AuditorNotIndependent`); only the planned auditor conducts, records findings, reports (`Unauthorized`); findings only after conduct |
//! | gap analysis, readiness | `assessment` | `kinds/evaluation.rs` | ratings 0–4 (`InvalidValue`), one per clause; complete only with ratings; readiness computed exactly |
//! | 9.3 management review | `review` | `kinds/evaluation.rs` | held only with inputs sealed and by top management (`ReviewIncomplete`, `Unauthorized`); tree size a safe integer; closed only with a decision |
//! | 10 nonconformity, corrective action, improvement | `nonconformity` `corrective_action` `improvement` | `kinds/improvement.rs` | an action needs an analysed, open nonconformity (`LinkMissing`, `InvalidState`); verified by someone other than who completed it (`SegregationOfDuties`); ineffective verification reopens it ([`CorrectiveAction::reopened`]); a nonconformity closes only with its own action verified effective (`CorrectiveActionNotEffective`, `UnknownItem`) |
//!
//! `supplier.approved` and the `improvement` stream kind extend ISO28000.md's list; no name
//! there was changed. `training.*` events live on `person` streams as listed.
//!
//! ## Schema evolution
//!
//! `risk.assessed` is at schema 2 (it names the matrix and carries score and band); stored v1
//! payloads are read as v2 on `matrix/default` definition 1, the default 5×5 matrix they were
//! made with ([`upcast`]). Tests show v1 histories fold to the same state.
//!
//! ## Reference scenario and benchmark
//!
//! [`scenario`] generates the seed's case study (GlobalLogistics, 30 countries, cargo theft
//! cut by 25 % against a 20 % objective) through [`Sms::execute`], deterministically from a
//! seed (SplitMix64). `scale` 1 is the demo year (about 6,000 events, generated in well under
//! a second); each further unit adds about 5,300 events.
//!
//! * `cargo run -p custodia-domain --example scenario -- [seed] [scale]` prints the event mix.
//! * `cargo bench -p custodia-domain --bench generate [-- events]` generates at least
//!   1,000,000 events and prints events/s.
//!
//! ## Example
//!
//! ```
//! use custodia_domain::*;
//!
//! let at = |day| Timestamp::from_date(2026, 3, day).expect("a date");
//! let (ceo, alice) = (Actor::new("user:ceo@acme.example")?, Actor::new("user:alice@acme.example")?);
//! let id = |s: &str| RecordId::new(s).expect("an id");
//! let text = |s: &str| Text::new(s).expect("text");
//! let mut sms = Sms::new();
//!
//! // Authority is data. The first top-management assignment bootstraps a new SMS.
//! for (role, who) in [(roles::TOP_MANAGEMENT, &ceo), (roles::RISK_OWNER, &alice)] {
//!     let defined = RoleDefined { title: text(role), responsibilities: vec![], authorities: vec![] };
//!     sms.execute(Command::Role(id(role), RoleCommand::Define(defined)), &ceo, at(1))?;
//!     let assignment = RoleAssignment { person: who.clone(), area: None };
//!     sms.execute(Command::Role(id(role), RoleCommand::Assign(assignment)), &ceo, at(1))?;
//! }
//! let matrix = MatrixCommand::Define(MatrixDefined::default_5x5());
//! sms.execute(Command::Matrix(id("default"), matrix), &ceo, at(1))?;
//!
//! let identified = RiskIdentified {
//!     title: text("Theft of electronics at truck stops"),
//!     threat: Threat::CargoTheft,
//!     vulnerability: text("Unguarded parking"),
//!     asset: text("Electronics loads"),
//!     node: Code::new("HUB-DE")?,
//!     owner: alice.clone(),
//! };
//! sms.execute(Command::Risk(id("R-0007"), RiskCommand::Identify(identified)), &alice, at(2))?;
//!
//! // A rule refuses, names itself and the record, and nothing is written.
//! let accept = RiskCommand::Accept(RiskAccepted { rationale: text("within appetite"), expires: None });
//! let refused = sms.execute(Command::Risk(id("R-0007"), accept), &ceo, at(3)).unwrap_err();
//! assert_eq!(refused.to_string(), "risk R-0007: cannot accept before it is assessed");
//!
//! // The rating comes from the matrix in force; the envelope is what the ledger stores.
//! let rate = Rate { likelihood: 4, impact: 5, matrix: id("default"), rationale: text("history") };
//! let written = sms.execute(Command::Risk(id("R-0007"), RiskCommand::Assess(rate)), &alice, at(3))?;
//! let envelope = &written[0];
//! assert_eq!((envelope.event.event_type(), envelope.event.schema_version(), envelope.version), ("risk.assessed", 2, 2));
//! assert_eq!(envelope.event.data()["rating"], "Critical");
//! assert_eq!(&Envelope::from_json(&envelope.to_json())?, envelope);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

mod context;
mod event;
mod ids;
mod kinds;
mod macros;
mod rejection;
pub mod scenario;
mod sms;
mod state;
mod time;
pub mod upcast;

pub use context::{Context, Facts, NoFacts};
pub use event::{
    decode, event_type, schema_files, DecodeError, Envelope, Event, EventType, SchemaFile,
    EVENT_TYPES,
};
pub use ids::{
    roles, Actor, Code, Decimal, Digest, RecordId, Role, StreamId, StreamKind, Subject, Text,
    ValueError,
};
pub use kinds::*;
pub use rejection::{Rejection, Result};
pub use sms::Sms;
pub use state::{command_schemas, decide, evolve, Body, Command, StreamState};
pub use time::{Timestamp, TimestampError, TIMESTAMP_PATTERN};
