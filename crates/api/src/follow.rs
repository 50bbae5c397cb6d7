//! Following the ledger from a seq: stored entries first, then live ones, with no gap and no
//! duplicate, in bounded memory.
//!
//! The writer broadcasts each entry after it is durable, into a ring of bounded size shared by
//! all receivers. A follower subscribes *before* it reads the store, so every entry is either
//! already stored or still to come on the ring. A follower that falls behind the ring (it
//! lagged) does not make anyone buffer more: it goes back to reading the store, a page at a
//! time, and rejoins the ring when it has caught up.
//!
//! Other nodes' appends (several servers on one PostgreSQL ledger) never pass through this
//! process's ring: a follower at the end also watches the heads the store hears of
//! ([`Store::watch_heads`](custodia_ledger::store::Store::watch_heads)), and when the head moves
//! past it without the ring delivering, it reads the store.
//!
//! Two kinds of item are followed: whole [`Entry`]s (the SMS fold) and [`Line`]s, an entry's
//! stored line with the fields subscriptions filter on. Lines are encoded once per entry by
//! [`relay_lines`] and shared by every subscriber, so a hundred subscribers do not encode
//! each entry a hundred times.

use custodia_ledger::entry::Entry;
use custodia_ledger::ledger::{parse_row, Ledger, LedgerError};
use custodia_ledger::store::Row;
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::broadcast::{self, error::RecvError, Receiver};
use tokio::sync::watch;

/// Rows read from the store per page while catching up; bounds a follower's memory.
pub const CATCH_UP_ROWS_MAX: u32 = 256;
/// Lines buffered in the relay's ring for subscribers; a slower one catches up from the store.
pub const LINES_RING_MAX: usize = 16_384;

/// Something a follower yields: it has a seq and can be read from a stored row.
pub trait Item: Sized + Send + Sync + 'static {
    /// Its seq.
    fn seq(&self) -> u64;
    /// Reads it from a stored row.
    fn from_row(row: &Row) -> Result<Self, LedgerError>;
}

impl Item for Entry {
    fn seq(&self) -> u64 {
        self.seq
    }
    fn from_row(row: &Row) -> Result<Self, LedgerError> {
        parse_row(row)
    }
}

/// An entry as subscribers receive it: the stored line, and what filters look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The entry's seq.
    pub seq: u64,
    /// Its stream, `<kind>/<id>`.
    pub stream: String,
    /// Its event type.
    pub event_type: String,
    /// The whole stored line (hash, prev, signatures), as the ledger wrote it.
    pub line: Arc<str>,
}

impl Line {
    /// The stream's kind, before the `/`.
    pub fn kind(&self) -> &str {
        self.stream.split('/').next().unwrap_or_default()
    }

    fn of(entry: &Entry) -> Self {
        Self {
            seq: entry.seq,
            stream: entry.event.stream().to_owned(),
            event_type: entry.event.event_type().to_owned(),
            line: entry.to_line().into(),
        }
    }
}

impl Item for Line {
    fn seq(&self) -> u64 {
        self.seq
    }
    fn from_row(row: &Row) -> Result<Self, LedgerError> {
        Ok(Self {
            seq: row.seq,
            stream: row.stream.clone(),
            event_type: row.event_type.clone(),
            line: row.line.as_str().into(),
        })
    }
}

/// A cursor over the ledger from a seq on, that waits for new entries at the end.
#[derive(Debug)]
pub struct Follower<T = Entry> {
    ledger: Arc<Ledger>,
    live: Receiver<Arc<T>>,
    next: u64,
    page: VecDeque<Arc<T>>,
    catching_up: bool,
    /// Heads committed by any node; asked of the store once, when the follower first waits.
    heads: Option<watch::Receiver<u64>>,
    heads_asked: bool,
}

impl Follower<Entry> {
    /// A follower of whole entries whose first will be `from`.
    pub fn new(ledger: Arc<Ledger>, from: u64) -> Self {
        // Subscribed before any store read: see the module doc.
        let live = ledger.writer().subscribe();
        Self::with(ledger, live, from)
    }
}

impl<T: Item> Follower<T> {
    /// A follower on the ring `live` (subscribed before this call reads anything).
    pub fn with(ledger: Arc<Ledger>, live: Receiver<Arc<T>>, from: u64) -> Self {
        Self {
            ledger,
            live,
            next: from,
            page: VecDeque::new(),
            catching_up: true,
            heads: None,
            heads_asked: false,
        }
    }

    /// The seq of the item [`Follower::next`] will return.
    pub fn position(&self) -> u64 {
        self.next
    }

    /// The next item, waiting for it if the follower is at the end of the ledger. `None`
    /// when the ring has closed (the writer stopped).
    pub async fn next(&mut self) -> Result<Option<Arc<T>>, LedgerError> {
        loop {
            if let Some(item) = self.page.pop_front() {
                self.next = item.seq() + 1;
                return Ok(Some(item));
            }
            if self.catching_up {
                self.read_page().await?;
                continue;
            }
            if !self.heads_asked {
                // Marked only once answered: a call cancelled here asks again next time.
                self.heads = self.ledger.store().watch_heads().await?;
                self.heads_asked = true;
                // Entries committed elsewhere before the watch began are in the store.
                self.catching_up = true;
                continue;
            }
            let received = match &mut self.heads {
                None => self.live.recv().await,
                Some(heads) => tokio::select! {
                    biased;
                    received = self.live.recv() => received,
                    changed = heads.changed() => {
                        match changed {
                            // Another node committed past us: the store has it.
                            Ok(()) if *heads.borrow_and_update() > self.next => {
                                self.catching_up = true;
                            }
                            Ok(()) => {}
                            // The watch ended (store closing): the ring alone remains.
                            Err(_) => self.heads = None,
                        }
                        continue;
                    }
                },
            };
            match received {
                Ok(item) if item.seq() < self.next => {}
                Ok(item) if item.seq() == self.next => {
                    self.next += 1;
                    return Ok(Some(item));
                }
                // A gap (the ring dropped items) or a lag: the store has them all.
                Ok(_) | Err(RecvError::Lagged(_)) => self.catching_up = true,
                Err(RecvError::Closed) => return Ok(None),
            }
        }
    }

    /// The next item if it is at hand without waiting or reading the store: the rest of the
    /// page read last, or what the live ring already holds. `None` when [`Follower::next`]
    /// would have to wait, read a page, or report that the ring closed.
    pub fn next_ready(&mut self) -> Option<Arc<T>> {
        use tokio::sync::broadcast::error::TryRecvError;
        loop {
            if let Some(item) = self.page.pop_front() {
                self.next = item.seq() + 1;
                return Some(item);
            }
            if self.catching_up {
                return None;
            }
            match self.live.try_recv() {
                Ok(item) if item.seq() < self.next => {}
                Ok(item) if item.seq() == self.next => {
                    self.next += 1;
                    return Some(item);
                }
                Ok(_) | Err(TryRecvError::Lagged(_)) => {
                    self.catching_up = true;
                    return None;
                }
                Err(TryRecvError::Empty | TryRecvError::Closed) => return None,
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
            self.page.push_back(Arc::new(T::from_row(row)?));
        }
        self.catching_up = !rows.is_empty();
        Ok(())
    }
}

/// Starts the task that encodes each committed entry's line once and rebroadcasts it; returns
/// the ring's sender (subscribe to it for [`Follower::with`]).
///
/// The relay is itself a [`Follower`] from the head it finds at start: if it ever lags behind
/// the writer's ring it reads the store, so it forwards every entry, in order, and a
/// subscriber waiting at the end is never left without one that was committed.
pub fn relay_lines(ledger: Arc<Ledger>) -> broadcast::Sender<Arc<Line>> {
    let (lines, _) = broadcast::channel(LINES_RING_MAX);
    let out = lines.clone();
    tokio::spawn(async move {
        let from = match ledger.size().await {
            Ok(size) => size,
            Err(e) => return tracing::error!(error = %e, "the line relay could not start"),
        };
        let mut follower = Follower::new(ledger, from);
        loop {
            match follower.next().await {
                // No subscriber is not an error: the line is simply not needed, nor encoded
                // (one subscribing now finds the entry in the store, which already holds it).
                Ok(Some(entry)) if out.receiver_count() == 0 => drop(entry),
                Ok(Some(entry)) => drop(out.send(Arc::new(Line::of(&entry)))),
                Ok(None) => return,
                Err(e) => return tracing::error!(error = %e, "the line relay stopped"),
            }
        }
    });
    lines
}
