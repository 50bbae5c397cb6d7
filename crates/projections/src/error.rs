//! The one error type of the crate.

use custodia_ledger::ledger::LedgerError;
use custodia_ledger::store::StoreError;
use custodia_ledger::writer::AppendError;

/// Why a projection could not be built or answered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading the ledger's store failed.
    #[error("ledger store: {0}")]
    Store(#[from] StoreError),
    /// A ledger operation (root, stream, entry) failed.
    #[error("ledger: {0}")]
    Ledger(#[from] LedgerError),
    /// Appending the sealing event failed.
    #[error("append: {0}")]
    Append(#[from] AppendError),
    /// An event could not be made into a ledger entry.
    #[error("entry: {0}")]
    Entry(#[from] custodia_ledger::entry::EntryError),
    /// A stored event of the review stream could not be decoded.
    #[error("decode: {0}")]
    Decode(#[from] custodia_domain::DecodeError),
    /// The snapshot database failed.
    #[error("snapshot database, while {doing}: {source}")]
    Snapshots {
        /// What the snapshot store was doing.
        doing: &'static str,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// A stored snapshot could not be read back or written.
    #[error("snapshot at size {size}: {reason}")]
    SnapshotFormat {
        /// The snapshot's tree size.
        size: u64,
        /// What was wrong.
        reason: String,
    },
    /// A background task (a read ahead, a snapshot write) panicked or was cancelled.
    #[error("background task: {0}")]
    Task(String),
    /// A position, date or record asked about does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The domain refused the command (e.g. sealing a review that is not scheduled).
    #[error("{0}")]
    Rejected(#[from] custodia_domain::Rejection),
    /// The review pack could not be encoded canonically.
    #[error("review pack: {0}")]
    Pack(String),
}

/// Result of this crate's fallible calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;
