//! Read models folded from the ledger (placeholder doc; replaced below).
#![warn(missing_docs)]

mod error;
mod fold;
pub mod kpi;
mod model;
mod projector;
mod query;
mod reader;
mod record;
mod render;
pub mod review;
pub mod rows;
pub mod seal;
mod snapshot;

pub use error::{Error, Result};
pub use model::{Model, Position, Problem, Table, PROBLEMS_MAX};
pub use projector::{Projector, ProjectorConfig};
pub use query::{query, Page, Query, SortKey, PAGE_ROWS_MAX};
pub use record::{Body, Record};
pub use snapshot::{SnapshotInfo, SnapshotStore, SNAPSHOTS_FILE, SNAPSHOT_FORMAT};
