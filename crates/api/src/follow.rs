//! Following the ledger from a seq: stored entries first, then live ones, with no gap and no
//! duplicate, in bounded memory.
//!
//! The writer broadcasts each entry after it is durable, into a ring of bounded size shared by
//! all receivers. A follower subscribes *before* it reads the store, so every entry is either
//! already stored or still to come on the ring. A follower that falls behind the ring (it
//! lagged) does not make anyone buffer more: it goes back to reading the store, a page at a
//! time, and rejoins the ring when it has caught up.

use custodia_ledger::entry::Entry;
use custodia_ledger::ledger::{parse_row, Ledger, LedgerError};
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::broadcast::{error::RecvError, Receiver};

/// Rows read from the store per page while catching up; bounds a follower's memory.
pub const CATCH_UP_ROWS_MAX: u32 = 256;

/// A cursor over the ledger from a seq on, that waits for new entries at the end.
#[derive(Debug)]
pub struct Follower {
    ledger: Arc<Ledger>,
    live: Receiver<Arc<Entry>>,
    next: u64,
    page: VecDeque<Arc<Entry>>,
    catching_up: bool,
}

impl Follower {
    /// A follower whose first entry will be `from`.
    pub fn new(ledger: Arc<Ledger>, from: u64) -> Self {
        // Subscribed before any store read: see the module doc.
        let live = ledger.writer().subscribe();
        Self {
            ledger,
            live,
            next: from,
            page: VecDeque::new(),
            catching_up: true,
        }
    }

    /// The seq of the entry [`Follower::next`] will return.
    pub fn position(&self) -> u64 {
        self.next
    }

    /// The next entry, waiting for it if the follower is at the end of the ledger. `None`
    /// when the writer has stopped.
    pub async fn next(&mut self) -> Result<Option<Arc<Entry>>, LedgerError> {
        loop {
            if let Some(entry) = self.page.pop_front() {
                self.next = entry.seq + 1;
                return Ok(Some(entry));
            }
            if self.catching_up {
                self.read_page().await?;
                continue;
            }
            match self.live.recv().await {
                Ok(entry) if entry.seq < self.next => {}
                Ok(entry) if entry.seq == self.next => {
                    self.next += 1;
                    return Ok(Some(entry));
                }
                // A gap (the ring dropped entries) or a lag: the store has them all.
                Ok(_) | Err(RecvError::Lagged(_)) => self.catching_up = true,
                Err(RecvError::Closed) => return Ok(None),
            }
        }
    }

    /// Reads one page from the store; an empty page means caught up, so go live.
    async fn read_page(&mut self) -> Result<(), LedgerError> {
        let rows = self
            .ledger
            .store()
            .read(self.next, CATCH_UP_ROWS_MAX)
            .await?;
        for (expected, row) in (self.next..).zip(rows.iter()) {
            // Stored seqs are dense; a hole would be damage, not something to skip over.
            if row.seq != expected {
                return Err(LedgerError::Stored {
                    seq: expected,
                    reason: format!("the store returned seq {} instead", row.seq),
                });
            }
            self.page.push_back(Arc::new(parse_row(row)?));
        }
        self.catching_up = !rows.is_empty();
        Ok(())
    }
}
