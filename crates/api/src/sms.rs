//! The SMS as of the ledger's head: folded from the ledger at start, then kept current from
//! the writer's committed entries by one task, so commands decide against recorded history.

use crate::follow::Follower;
use custodia_domain::{Envelope, Sms, StreamKind};
use custodia_ledger::entry::Entry;
use custodia_ledger::ledger::Ledger;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, RwLock};

/// The folded SMS and how far it has read.
#[derive(Debug)]
pub struct SmsView {
    sms: RwLock<Sms>,
    /// The seq the fold will apply next: every entry below it is in `sms`.
    applied: watch::Sender<u64>,
    /// Set once the fold has reached the head it was asked about: ready stays ready.
    caught_up: AtomicBool,
    /// One past the highest seq this server has appended (0: none): a watermark the fold
    /// must pass before a decision, so each client sees what any acknowledged write did.
    appended: AtomicU64,
}

/// How long a command waits for its own entries to be folded before answering anyway.
const FOLD_WAIT: Duration = Duration::from_secs(10);

impl SmsView {
    /// Starts folding `ledger` from seq 0 in a task; the view fills as it reads.
    pub fn spawn(ledger: Arc<Ledger>) -> Arc<Self> {
        let view = Arc::new(Self {
            sms: RwLock::new(Sms::new()),
            applied: watch::channel(0).0,
            caught_up: AtomicBool::new(false),
            appended: AtomicU64::new(0),
        });
        tokio::spawn(fold(view.clone(), Follower::new(ledger, 0)));
        view
    }

    /// Read access to the SMS.
    pub async fn read(&self) -> tokio::sync::RwLockReadGuard<'_, Sms> {
        self.sms.read().await
    }

    /// The seq the fold will apply next.
    pub fn applied(&self) -> u64 {
        *self.applied.borrow()
    }

    /// Notes that this server appended the entry at `seq`.
    pub fn appended(&self, seq: u64) {
        self.appended.fetch_max(seq + 1, Ordering::AcqRel);
    }

    /// The highest seq this server has appended, if any.
    pub fn last_appended(&self) -> Option<u64> {
        self.appended.load(Ordering::Acquire).checked_sub(1)
    }

    /// Waits (bounded) until the fold holds everything a decision must see: the whole ledger
    /// as it was when the server started, and every entry this server has acknowledged.
    pub async fn settle(
        &self,
        ledger: &Ledger,
    ) -> Result<(), custodia_ledger::ledger::LedgerError> {
        if !self.caught_up.load(Ordering::Relaxed) {
            let head = ledger.size().await?;
            if head > 0 {
                self.wait_for(head - 1).await;
            }
            self.is_ready(head);
        }
        if let Some(seq) = self.last_appended() {
            self.wait_for(seq).await;
        }
        Ok(())
    }

    /// Whether the fold has once caught up with the ledger (`head` entries now).
    pub fn is_ready(&self, head: u64) -> bool {
        if self.applied() >= head {
            self.caught_up.store(true, Ordering::Relaxed);
        }
        self.caught_up.load(Ordering::Relaxed)
    }

    /// Waits until the entry at `seq` is folded, so that a caller's next command sees what
    /// its last one wrote; gives up after a bounded wait (the entry is durable either way).
    pub async fn wait_for(&self, seq: u64) {
        let mut rx = self.applied.subscribe();
        let _ = tokio::time::timeout(FOLD_WAIT, rx.wait_for(|next| *next > seq)).await;
    }

    /// Folds a run of consecutive entries under one write lock: decoding happens before the
    /// lock is taken, and deciding commands wait for the lock once per run, not once per entry.
    async fn apply(&self, entries: &[Arc<Entry>]) {
        let Some(last) = entries.last() else { return };
        let envelopes: Vec<Envelope> = entries.iter().filter_map(|e| envelope_of(e)).collect();
        if !envelopes.is_empty() {
            let mut sms = self.sms.write().await;
            for envelope in &envelopes {
                sms.apply(envelope);
            }
        }
        self.applied.send_replace(last.seq + 1);
    }
}

/// Entries folded under one write lock at most, so that deciding commands are not held off for
/// long by a large catch-up.
const FOLD_RUN_MAX: usize = 256;

/// The domain envelope an entry carries, if it is on an SMS stream. Entries of the ledger's
/// own streams (`ledger/…`, `keys/…`) are not SMS events; an SMS entry that does not decode is
/// logged and left out of the fold rather than stopping it.
pub fn envelope_of(entry: &Entry) -> Option<Envelope> {
    StreamKind::parse(entry.event.stream_kind())?;
    match Envelope::from_json(&entry.event.to_value()) {
        Ok(envelope) => Some(envelope),
        Err(e) => {
            tracing::warn!(seq = entry.seq, error = %e, "entry does not decode as an SMS event");
            None
        }
    }
}

async fn fold(view: Arc<SmsView>, mut follower: Follower) {
    let mut run = Vec::with_capacity(FOLD_RUN_MAX);
    loop {
        match follower.next().await {
            Ok(Some(entry)) => {
                run.push(entry);
                while run.len() < FOLD_RUN_MAX {
                    match follower.next_ready() {
                        Some(entry) => run.push(entry),
                        None => break,
                    }
                }
                view.apply(&run).await;
                run.clear();
            }
            Ok(None) => return,
            Err(e) => {
                tracing::error!(error = %e, "the SMS fold stopped reading the ledger");
                return;
            }
        }
    }
}
