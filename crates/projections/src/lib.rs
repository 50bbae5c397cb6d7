//! # custodia-projections: the read models people and auditors look at
//!
//! Registers, KPIs and the management review pack of an ISO 28000 SMS, folded from the
//! ledger's entries, and the time travel investigators need: the state **as of** a
//! transaction time (what the system knew) and **valid at** a business time (what was true).
//!
//! It is **not** a second source of truth: everything here can be deleted and rebuilt from the
//! ledger. It does not decide or validate commands (that is `custodia-domain`), nor verify
//! the chain (that is `custodia-ledger`'s verifier); it reads entries and folds them.
//!
//! ## Main types
//!
//! * [`Record`] — one ledger entry as the fold sees it: seq, hash, `recorded_at`,
//!   `occurred_at`, and a [`Body`]: a domain [`custodia_domain::Envelope`], a *foreign* entry
//!   (a stream the domain does not know, such as `ledger/keys`: skipped), or an
//!   *undecodable* one (reported in [`Model::problems`], never fatal).
//! * [`Model`] — every register, as of a [`Position`] (tree size, last hash, latest
//!   `occurred_at`). [`Model::fold`] / [`Model::apply`] are pure and total. Rows live in
//!   [`rows`] ([`rows::RiskRow`], [`rows::IncidentRow`], …); [`query()`] filters, sorts and
//!   pages any register ([`Query`], pages of at most [`PAGE_ROWS_MAX`]).
//! * [`views`] — registers that join tables: the CAPA register, the training matrix and
//!   the risk heat map.
//! * [`kpi`] — each board KPI as a documented pure function of a model and a date, and
//!   [`kpi::Board`] with all of them. Figures are exact ([`kpi::Ratio`], whole seconds).
//! * [`review`] — [`review::ReviewPack`]: every clause 9.3 input for a period, as serde
//!   data, Markdown and HTML, with a SHA-256 digest of its RFC 8785 JSON. [`seal`] appends
//!   `review.inputs_sealed` (tree size, Merkle root, digest) through the domain's rules and
//!   later [`seal::check`]s that the pack regenerated at that tree size has the same digest.
//! * [`Projector`] — keeps a model current with a ledger [`custodia_ledger::store::Store`]:
//!   [`Projector::catch_up`], [`Projector::follow_one`] on the writer's subscription,
//!   [`Projector::rebuild`]; answers [`Projector::as_of`] and [`Projector::valid_at`] from
//!   the nearest snapshot. In-memory snapshots every few thousand entries share rows through
//!   `Arc`; persisted ones live in their own SQLite file ([`SnapshotStore`],
//!   [`SNAPSHOTS_FILE`]) with the seq and entry hash they reflect, and one whose hash does not
//!   match the ledger is deleted, never used.
//!
//! ## Time, twice
//!
//! `as_of(t)` folds the entries with `recorded_at ≤ t` — a prefix, found by binary search
//! since `recorded_at` never decreases with seq. `valid_at(t)` folds the entries whose event
//! happened by `t` (`occurred_at ≤ t`), as known now or as of a transaction time
//! ([`Projector::valid_at_as_of`]); a snapshot is its start only if everything in it
//! happened by `t`. A back-dated report is therefore valid at its date but was not known
//! as of it. KPIs and the review pack take the model and the date, so each is computable on
//! either axis.
//!
//! ## Example
//!
//! ```
//! use custodia_domain::*;
//! use custodia_ledger::entry::ChainHash;
//! use custodia_projections::{kpi, query, Body, Model, Query, Record};
//!
//! let day = |d| Timestamp::from_date(2026, 3, d).expect("a date");
//! let reported = IncidentReported {
//!     title: Text::new("Seal broken at Venlo")?,
//!     category: IncidentCategory::CargoTheft,
//!     severity: Severity::High,
//!     site: Code::new("HUB-NL")?,
//!     country: Code::new("NL")?,
//!     description: Text::new("Seal number mismatch at arrival")?,
//! };
//! let envelope = Envelope {
//!     stream: StreamId::parse("incident/INC-1")?,
//!     version: 1,
//!     occurred_at: day(1),
//!     actor: Actor::new("user:handler@acme.example")?,
//!     event: Event::IncidentReported(reported),
//! };
//! // Reported on the 1st, recorded on the 10th: a back-dated report.
//! let record = Record {
//!     seq: 0,
//!     hash: ChainHash([1; 32]),
//!     recorded_at: day(10),
//!     occurred_at: day(1),
//!     body: Body::Event(envelope),
//! };
//! let model = Model::fold([&record]);
//! let open = query(&model.incidents, &Query { status: Some("open".into()), ..Query::at(day(11)) });
//! assert_eq!(open.total, 1);
//! let per_month = kpi::incidents_per_month(&model, day(31));
//! assert_eq!((per_month[0].month.as_str(), per_month[0].count), ("2026-03", 1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The [`Projector`] does the same over a ledger store; see `tests/ledger.rs` for a SQLite
//! ledger end to end, and `benches/rebuild.rs` for the 1,000,000-entry benchmark
//! (`cargo bench -p custodia-projections --bench rebuild`).
#![warn(missing_docs)]

mod error;
mod fold;
pub mod kpi;
mod map;
mod model;
mod projector;
mod query;
mod reader;
mod record;
mod render;
pub mod review;
pub mod rows;
pub mod seal;
mod set;
mod snapshot;
pub mod views;

pub use error::{Error, Result};
pub use map::{SharedMap, MAP_CHUNK_MAX};
pub use model::{Model, Position, Problem, Table, PROBLEMS_MAX};
pub use projector::{Projector, ProjectorConfig};
pub use query::{query, Page, Query, SortKey, PAGE_ROWS_MAX};
pub use record::{Body, Record};
pub use set::{SharedSet, CHUNK_MAX};
pub use snapshot::{SnapshotInfo, SnapshotStore, SNAPSHOTS_FILE, SNAPSHOT_FORMAT};
