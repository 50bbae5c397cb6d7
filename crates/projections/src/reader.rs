//! Reading ledger rows ahead of the fold: batches are read and decoded on other tasks while
//! the fold applies the previous one, so the store, the JSON decoding and the fold overlap.

use crate::error::{Error, Result};
use crate::record::Record;
use custodia_ledger::entry::ChainHash;
use custodia_ledger::store::Store;
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// Batches in flight at most: enough to keep two cores busy, few enough to bound memory
/// (`AHEAD × read_rows` decoded entries).
const AHEAD: usize = 3;

/// One entry, ready for the fold.
// Most steps are records; boxing them would add an allocation per entry.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Step {
    /// Apply this record.
    Apply(Record),
    /// Move the position past this entry without decoding it (a valid-at replay's entry
    /// from after the date).
    Pass(u64, ChainHash),
}

/// Rows `from..to` in order, decoded ahead.
pub(crate) struct Reader {
    store: Arc<dyn Store>,
    limit: u32,
    next: u64,
    to: u64,
    /// Entries whose `occurred_at` (µs) is above this are passed, not decoded.
    occurred_max: i64,
    pending: VecDeque<JoinHandle<Result<Vec<Step>>>>,
    exhausted: bool,
}

impl Reader {
    /// Reads `from..to` (`to = u64::MAX`: to the end of the store).
    pub(crate) fn new(store: Arc<dyn Store>, limit: u32, from: u64, to: u64) -> Reader {
        Reader {
            store,
            limit: limit.max(1),
            next: from,
            to,
            occurred_max: i64::MAX,
            pending: VecDeque::new(),
            exhausted: false,
        }
    }

    /// Passes over entries that happened after `micros` instead of decoding them.
    pub(crate) fn occurred_by(mut self, micros: i64) -> Reader {
        self.occurred_max = micros;
        self
    }

    /// The next batch, or `None` at the end.
    pub(crate) async fn batch(&mut self) -> Result<Option<Vec<Step>>> {
        self.fill();
        let Some(task) = self.pending.pop_front() else {
            return Ok(None);
        };
        let steps = task
            .await
            .map_err(|e| Error::Task(format!("reading the ledger: {e}")))??;
        if steps.len() < self.limit as usize {
            // A short batch is the end of the store: drop what was read past it.
            self.exhausted = true;
            self.pending.clear();
        }
        Ok((!steps.is_empty()).then_some(steps))
    }

    fn fill(&mut self) {
        while !self.exhausted && self.pending.len() < AHEAD && self.next < self.to {
            let limit = (self.to - self.next).min(u64::from(self.limit)) as u32;
            let (store, from, max) = (self.store.clone(), self.next, self.occurred_max);
            self.pending.push_back(tokio::spawn(async move {
                read(&*store, from, limit, max).await
            }));
            self.next += u64::from(limit);
            if limit < self.limit {
                self.exhausted = true;
            }
        }
    }
}

async fn read(store: &dyn Store, from: u64, limit: u32, occurred_max: i64) -> Result<Vec<Step>> {
    let rows = store.read(from, limit).await?;
    let mut steps = Vec::with_capacity(rows.len());
    for (expected, row) in (from..).zip(&rows) {
        if row.seq != expected {
            return Err(Error::NotFound(format!(
                "the store returned seq {} where {expected} was expected",
                row.seq
            )));
        }
        steps.push(if row.occurred_at_micros > occurred_max {
            Step::Pass(row.seq, row.hash)
        } else {
            Step::Apply(Record::from_row(row))
        });
    }
    Ok(steps)
}
