//! [`Projector`]: keeps the [`Model`] up to date with a ledger store, and answers as-of and
//! valid-at questions from the nearest snapshot.

use crate::error::{Error, Result};
use crate::model::Model;
use crate::reader::{Reader, Step};
use crate::record::Record;
use crate::snapshot::SnapshotStore;
use custodia_domain::Timestamp;
use custodia_ledger::entry::Entry;
use custodia_ledger::store::{Row, Store};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// Limits and spacing of the projector's work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProjectorConfig {
    /// Rows read from the store per call.
    pub read_rows: u32,
    /// An in-memory snapshot is kept every this many entries.
    pub memory_interval_entries: u64,
    /// In-memory snapshots kept at most; beyond it every other one is dropped (the spacing
    /// doubles), so memory stays bounded on any ledger.
    pub memory_snapshots_max: usize,
    /// A snapshot is persisted every this many entries (and at the end of a rebuild).
    pub persist_interval_entries: u64,
}

impl Default for ProjectorConfig {
    fn default() -> Self {
        ProjectorConfig {
            read_rows: custodia_ledger::ledger::READ_ROWS_MAX,
            memory_interval_entries: 2048,
            memory_snapshots_max: 1024,
            // A multiple of the memory interval, so a persisted snapshot never sits just above an
            // in-memory one (where loading it would cost more than the replay it saves).
            persist_interval_entries: 128 * 2048,
        }
    }
}

/// Folds a ledger store into the read models and keeps them current.
pub struct Projector {
    store: Arc<dyn Store>,
    snapshots: SnapshotStore,
    config: ProjectorConfig,
    current: Model,
    /// In-memory snapshots by tree size; cheap because rows are shared (`Arc`).
    memory: BTreeMap<u64, Arc<Model>>,
    persisting: Vec<JoinHandle<Result<()>>>,
}

impl std::fmt::Debug for Projector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Projector")
            .field("position", self.current.position())
            .field("memory_snapshots", &self.memory.len())
            .finish_non_exhaustive()
    }
}

impl Projector {
    /// A projector at the newest trustworthy persisted snapshot (or empty), caught up with
    /// the store.
    pub async fn open(
        store: Arc<dyn Store>,
        snapshots: SnapshotStore,
        config: ProjectorConfig,
    ) -> Result<Projector> {
        let mut projector = Projector {
            store,
            snapshots,
            config,
            current: Model::new(),
            memory: BTreeMap::new(),
            persisting: Vec::new(),
        };
        if let Some(model) = projector.persisted_at_most(u64::MAX).await? {
            projector.current = model;
        }
        projector.catch_up().await?;
        Ok(projector)
    }

    /// The read models as of the last entry folded.
    pub fn current(&self) -> &Model {
        &self.current
    }

    /// Tree size folded so far.
    pub fn size(&self) -> u64 {
        self.current.position().size
    }

    /// Forgets everything and folds the whole ledger again; persists the result.
    pub async fn rebuild(&mut self) -> Result<u64> {
        self.current = Model::new();
        self.memory.clear();
        let applied = self.catch_up().await?;
        self.persist_now().await?;
        Ok(applied)
    }

    /// Folds every entry the store holds beyond the position; returns how many.
    pub async fn catch_up(&mut self) -> Result<u64> {
        let start = self.size();
        let mut reader = Reader::new(self.store.clone(), self.config.read_rows, start, u64::MAX);
        while let Some(steps) = reader.batch().await? {
            for step in &steps {
                if let Step::Apply(record) = step {
                    self.apply(record);
                }
            }
        }
        self.finish_persisting().await?;
        Ok(self.size() - start)
    }

    /// Applies the next record; one out of order (already folded, or a gap) is not applied,
    /// and the return says so.
    pub fn apply(&mut self, record: &Record) -> bool {
        if record.seq != self.size() {
            return false;
        }
        self.current.apply(record);
        let size = self.size();
        if size.is_multiple_of(self.config.memory_interval_entries.max(1)) {
            self.remember();
        }
        if size.is_multiple_of(self.config.persist_interval_entries.max(1)) {
            self.persist_in_background();
        }
        true
    }

    /// Handles one message from the writer's subscription ([`custodia_ledger::writer::Writer::subscribe`]):
    /// applies the entry, or catches up from the store when the subscription lagged or an
    /// entry arrives ahead of the position. Returns `false` once the writer has stopped.
    ///
    /// Subscribe *before* the first catch-up so no commit falls between the two.
    pub async fn follow_one(&mut self, rx: &mut broadcast::Receiver<Arc<Entry>>) -> Result<bool> {
        match rx.recv().await {
            Ok(entry) if entry.seq < self.size() => Ok(true),
            Ok(entry) if entry.seq == self.size() => {
                self.apply(&Record::from_entry(&entry));
                Ok(true)
            }
            Ok(_) => self.catch_up().await.map(|_| true),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::info!(
                    missed,
                    "projections: subscription lagged; reading the store"
                );
                self.catch_up().await.map(|_| true)
            }
            Err(broadcast::error::RecvError::Closed) => Ok(false),
        }
    }

    /// Follows the subscription until the writer stops, then persists a snapshot so a
    /// restart resumes from here.
    pub async fn follow(&mut self, mut rx: broadcast::Receiver<Arc<Entry>>) -> Result<()> {
        while self.follow_one(&mut rx).await? {}
        self.persist_now().await
    }

    fn remember(&mut self) {
        self.memory
            .insert(self.size(), Arc::new(self.current.clone()));
        if self.memory.len() > self.config.memory_snapshots_max.max(2) {
            let keep: Vec<u64> = self.memory.keys().copied().step_by(2).collect();
            self.memory.retain(|size, _| keep.contains(size));
        }
    }

    fn persist_in_background(&mut self) {
        // The clone shares rows, so it is cheap; encoding runs beside the fold.
        let model = self.current.clone();
        let snapshots = self.snapshots.clone();
        self.persisting
            .push(tokio::spawn(async move { snapshots.put(&model).await }));
    }

    async fn finish_persisting(&mut self) -> Result<()> {
        for task in self.persisting.drain(..) {
            task.await
                .map_err(|e| Error::Task(format!("writing a snapshot: {e}")))??;
        }
        Ok(())
    }

    /// Persists the current model now.
    pub async fn persist_now(&mut self) -> Result<()> {
        self.finish_persisting().await?;
        if self.size() > 0 {
            self.snapshots.put(&self.current).await?;
        }
        Ok(())
    }

    /// The tree size the system knew at transaction time `t`: entries with
    /// `recorded_at ≤ t`. `recorded_at` never decreases with seq, so this is a binary
    /// search over the folded prefix.
    pub async fn size_at(&self, t: Timestamp) -> Result<u64> {
        let (mut lo, mut hi) = (0u64, self.size());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let row = self.row(mid).await?;
            if row.recorded_at_micros <= t.micros() {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    async fn row(&self, seq: u64) -> Result<Row> {
        let rows = self.store.read(seq, 1).await?;
        rows.into_iter()
            .next()
            .filter(|r| r.seq == seq)
            .ok_or_else(|| Error::NotFound(format!("seq {seq} is not in the ledger")))
    }

    /// What the system knew at transaction time `t` (`recorded_at ≤ t`).
    pub async fn as_of(&self, t: Timestamp) -> Result<Model> {
        let size = self.size_at(t).await?;
        self.as_of_size(size).await
    }

    /// The models folded from the first `size` entries, starting from the nearest snapshot.
    pub async fn as_of_size(&self, size: u64) -> Result<Model> {
        self.check_size(size)?;
        if size == self.size() {
            return Ok(self.current.clone());
        }
        let mut model = self.nearest(size, |_| true).await?;
        self.replay(&mut model, size, i64::MAX).await?;
        Ok(model)
    }

    /// What was true at business time `t` (`occurred_at ≤ t`), as known now.
    pub async fn valid_at(&self, t: Timestamp) -> Result<Model> {
        self.valid_at_as_of_size(t, self.size()).await
    }

    /// What was true at business time `t`, as known at transaction time `known_at`.
    pub async fn valid_at_as_of(&self, t: Timestamp, known_at: Timestamp) -> Result<Model> {
        let size = self.size_at(known_at).await?;
        self.valid_at_as_of_size(t, size).await
    }

    /// What was true at `t` according to the first `size` entries. A snapshot serves as the
    /// start only when every event in it happened by `t`; the tail is filtered by
    /// `occurred_at` before it is decoded.
    pub async fn valid_at_as_of_size(&self, t: Timestamp, size: u64) -> Result<Model> {
        self.check_size(size)?;
        let by_t = |m: &Model| m.position().max_occurred.is_none_or(|o| o <= t);
        let mut model = self.nearest(size, by_t).await?;
        self.replay(&mut model, size, t.micros()).await?;
        Ok(model)
    }

    fn check_size(&self, size: u64) -> Result<()> {
        if size > self.size() {
            return Err(Error::NotFound(format!(
                "tree size {size} is beyond the {} entries folded",
                self.size()
            )));
        }
        Ok(())
    }

    /// Folds entries `model.size..size` into `model`; entries that happened after
    /// `occurred_max` (µs) only move the position.
    async fn replay(&self, model: &mut Model, size: u64, occurred_max: i64) -> Result<()> {
        let from = model.position().size;
        let mut reader = Reader::new(self.store.clone(), self.config.read_rows, from, size)
            .occurred_by(occurred_max);
        while let Some(steps) = reader.batch().await? {
            for step in &steps {
                match step {
                    Step::Apply(record) => model.apply(record),
                    Step::Pass(seq, hash) => model.pass(*seq, hash),
                }
            }
        }
        if model.position().size < size {
            let at = model.position().size;
            return Err(Error::NotFound(format!("seq {at} is not in the ledger")));
        }
        Ok(())
    }

    /// The best starting point for a replay to `size`: the largest snapshot (in memory, or
    /// persisted and verified) at or below it that `fits`; else an empty model.
    async fn nearest(&self, size: u64, fits: impl Fn(&Model) -> bool) -> Result<Model> {
        let in_memory = self
            .memory
            .range(..=size)
            .rev()
            .find(|(_, m)| fits(m))
            .map(|(_, m)| (**m).clone());
        let floor = in_memory.as_ref().map_or(0, |m| m.position().size);
        // Decoding a persisted snapshot costs far more than replaying one memory interval,
        // so it is worth it only when it saves more than that.
        let worth = floor + self.config.memory_interval_entries;
        let persisted = if size > worth {
            self.persisted_between(worth, size, &fits).await?
        } else {
            None
        };
        Ok(persisted.or(in_memory).unwrap_or_default())
    }

    async fn persisted_at_most(&self, size: u64) -> Result<Option<Model>> {
        self.persisted_between(0, size, &|_: &Model| true).await
    }

    /// The largest persisted snapshot in `(floor, size]` that `fits` and whose entry hash
    /// matches the ledger; one that does not match is deleted, never used.
    async fn persisted_between(
        &self,
        floor: u64,
        size: u64,
        fits: &impl Fn(&Model) -> bool,
    ) -> Result<Option<Model>> {
        let infos = self.snapshots.list().await?;
        for info in infos
            .iter()
            .rev()
            .filter(|i| i.size > floor && i.size <= size)
        {
            let head = self.store.read(info.size - 1, 1).await?;
            let matches = head
                .first()
                .is_some_and(|r| r.seq == info.size - 1 && r.hash.to_hex() == info.entry_hash);
            if !matches {
                tracing::warn!(
                    size = info.size,
                    "projections: snapshot does not match the ledger; discarded"
                );
                self.snapshots.delete(info.size).await?;
                continue;
            }
            match self.snapshots.load(info.size).await {
                Ok(Some(model)) if fits(&model) => return Ok(Some(model)),
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(size = info.size, error = %e, "projections: snapshot unreadable; skipped")
                }
            }
        }
        Ok(None)
    }
}
