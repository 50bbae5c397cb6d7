//! What the fold consumes: one ledger entry, decoded into a domain [`Envelope`] when it carries
//! a domain event, or marked as foreign or undecodable.

use custodia_domain::{Envelope, StreamKind, Timestamp};
use custodia_ledger::entry::{ChainHash, Entry};
use custodia_ledger::store::Row;

/// One ledger entry as the fold sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The entry's seq (0 for genesis).
    pub seq: u64,
    /// The entry's chain hash.
    pub hash: ChainHash,
    /// When the ledger recorded it (transaction time).
    pub recorded_at: Timestamp,
    /// When the event happened (valid time), as the ledger's entry states it — also for
    /// entries that do not decode, so valid-at filtering treats every entry alike.
    pub occurred_at: Timestamp,
    /// What the entry carries.
    pub body: Body,
}

/// What a ledger entry carries, for the read models.
// Records are transient (decoded, applied, dropped) and nearly all carry an event, so boxing
// the large variant would cost an allocation per entry for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// A domain event.
    Event(Envelope),
    /// An entry of a stream the domain does not know (`ledger/genesis`, `ledger/keys`, …):
    /// the position moves on, nothing else changes.
    Foreign,
    /// A domain stream whose event could not be read back; reported, never fatal.
    Undecodable(String),
}

impl Record {
    /// Decodes a stored row: the stream kind first (cheap), the JSON line only when the
    /// stream is a domain one.
    pub fn from_row(row: &Row) -> Record {
        let body = if is_domain_stream(&row.stream) {
            decode_line(&row.line)
        } else {
            Body::Foreign
        };
        Record {
            seq: row.seq,
            hash: row.hash,
            recorded_at: micros(row.recorded_at_micros),
            occurred_at: micros(row.occurred_at_micros),
            body,
        }
    }

    /// Decodes a committed entry as the writer publishes it.
    pub fn from_entry(entry: &Entry) -> Record {
        let body = if is_domain_stream(entry.event.stream()) {
            match Envelope::from_json(&entry.event.to_value()) {
                Ok(envelope) => Body::Event(envelope),
                Err(e) => Body::Undecodable(e.to_string()),
            }
        } else {
            Body::Foreign
        };
        Record {
            seq: entry.seq,
            hash: entry.hash,
            recorded_at: micros(entry.recorded_at.micros()),
            occurred_at: micros(entry.event.occurred_at().micros()),
            body,
        }
    }
}

/// Whether the stream's kind (the part before `/`) is one the domain knows.
fn is_domain_stream(stream: &str) -> bool {
    let kind = stream.split_once('/').map_or(stream, |(kind, _)| kind);
    StreamKind::parse(kind).is_some()
}

fn decode_line(line: &str) -> Body {
    let value: serde_json::Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return Body::Undecodable(format!("entry line: {e}")),
    };
    match value.get("event").map(Envelope::from_json) {
        Some(Ok(envelope)) => Body::Event(envelope),
        Some(Err(e)) => Body::Undecodable(e.to_string()),
        None => Body::Undecodable("entry has no event".into()),
    }
}

/// A ledger time in the domain's type. Both are microseconds since the epoch; a value the
/// domain cannot represent (outside its years) is clamped rather than fatal.
pub(crate) fn micros(value: i64) -> Timestamp {
    Timestamp::from_micros(value).unwrap_or(if value < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}
