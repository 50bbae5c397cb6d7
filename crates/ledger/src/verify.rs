//! The verifier (LEDGER-FORMAT.md §5–§7). It walks entries in seq order in bounded memory,
//! checks every rule, and reports every violation with its seq and rule, not just the first.
//! Signatures are checked in batches on every core, with a per-signature fallback that names
//! the bad entry when a batch fails.

use crate::entry::{self, ChainHash, Entry, ZERO_HASH};
use crate::keys::{KeyChange, KeyRegistry, PublicKey, Purpose};
use crate::merkle::{self, Frontier, Hash, NodeId};
use crate::note::SignedCheckpoint;
use crate::store::Row;
use crate::time::Timestamp;
use ed25519_dalek::{Signature, VerifyingKey};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

/// Violations kept in a report; past this only the count grows, so that a wholly corrupt
/// ledger cannot exhaust memory.
pub const VIOLATIONS_KEPT_MAX: usize = 10_000;
/// Signatures verified per batch.
const SIG_BATCH: usize = 8192;

/// The rule a violation breaks (§5 numbering where there is one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// §5.1: unreadable line, wrong format or ledger, seq not contiguous.
    Format,
    /// §5.2: `prev` does not link.
    Chain,
    /// §5.3: `hash` does not recompute.
    Hash,
    /// §5.4: entry signature or signer.
    Signature,
    /// §5.5: `recorded_at` goes backwards.
    Time,
    /// §5.6: stream version not one more than before.
    Version,
    /// §5.7: attestation.
    Attestation,
    /// The line is not in the stored layout (a byte changed without changing the JSON).
    Layout,
    /// A stored column disagrees with the entry line.
    Column,
    /// A stored Merkle node disagrees with the entries.
    Tree,
    /// A checkpoint does not match the tree or its signature fails.
    Checkpoint,
    /// The trusted checkpoint is not consistent with this ledger.
    Consistency,
    /// The bundle's manifest or entry count is wrong.
    Bundle,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::Format => "format",
            Rule::Chain => "chain",
            Rule::Hash => "hash",
            Rule::Signature => "signature",
            Rule::Time => "recorded_at",
            Rule::Version => "stream version",
            Rule::Attestation => "attestation",
            Rule::Layout => "layout",
            Rule::Column => "stored column",
            Rule::Tree => "merkle tree",
            Rule::Checkpoint => "checkpoint",
            Rule::Consistency => "consistency",
            Rule::Bundle => "bundle",
        })
    }
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The entry's seq, where the violation belongs to one.
    pub seq: Option<u64>,
    /// The rule.
    pub rule: Rule,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.seq {
            Some(seq) => write!(f, "seq {seq}: {}: {}", self.rule, self.message),
            None => write!(f, "{}: {}", self.rule, self.message),
        }
    }
}

/// The outcome of a verification.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The ledger's name, from the first entry.
    pub ledger: Option<String>,
    /// Entries walked.
    pub entries: u64,
    /// Merkle root over all entries walked.
    pub root: Hash,
    /// Checkpoints whose root and signature verified.
    pub checkpoints_verified: u64,
    /// Whether a trusted checkpoint was checked and is consistent.
    pub trusted_consistent: Option<bool>,
    /// The violations kept (at most [`VIOLATIONS_KEPT_MAX`]).
    pub violations: Vec<Violation>,
    /// All violations found, kept or not.
    pub violation_count: u64,
}

impl Report {
    /// True when every rule held.
    pub fn is_ok(&self) -> bool {
        self.violation_count == 0
    }
}

struct PendingSig {
    seq: u64,
    rule: Rule,
    message: [u8; 32],
    sig: Signature,
    key: VerifyingKey,
}

/// A checkpoint to check once the walk reaches its size.
struct CheckpointCheck {
    label: String,
    note: Option<SignedCheckpoint>,
    trusted: bool,
}

/// Streams entries through every rule.
pub struct Verifier {
    report: Report,
    next_seq: u64,
    prev: ChainHash,
    last_recorded_at: Option<Timestamp>,
    registry: KeyRegistry,
    versions: HashMap<String, u64>,
    frontier: Frontier,
    pending: Vec<PendingSig>,
    checkpoints: BTreeMap<u64, Vec<CheckpointCheck>>,
    /// Nodes to keep for the trusted checkpoint's consistency proof.
    wanted_nodes: HashSet<NodeId>,
    kept_nodes: HashMap<NodeId, Hash>,
    trusted: Option<(u64, Hash)>,
}

impl Default for Verifier {
    fn default() -> Self {
        Self::new()
    }
}

impl Verifier {
    /// A verifier at seq 0.
    pub fn new() -> Self {
        Self {
            report: Report {
                root: merkle::empty_root(),
                ..Report::default()
            },
            next_seq: 0,
            prev: ZERO_HASH,
            last_recorded_at: None,
            registry: KeyRegistry::default(),
            versions: HashMap::new(),
            frontier: Frontier::new(),
            pending: Vec::with_capacity(SIG_BATCH),
            checkpoints: BTreeMap::new(),
            wanted_nodes: HashSet::new(),
            kept_nodes: HashMap::new(),
            trusted: None,
        }
    }

    /// Records a violation.
    pub fn violation(&mut self, seq: Option<u64>, rule: Rule, message: impl Into<String>) {
        self.report.violation_count += 1;
        if self.report.violations.len() < VIOLATIONS_KEPT_MAX {
            self.report.violations.push(Violation {
                seq,
                rule,
                message: message.into(),
            });
        }
    }

    /// A signed checkpoint to check when the walk reaches its size.
    pub fn expect_checkpoint(&mut self, label: &str, text: &str) {
        self.add_checkpoint(label, text, false);
    }

    /// A checkpoint the auditor already trusts; `total` is the number of entries to be walked,
    /// so that the consistency proof's nodes can be kept as they pass.
    pub fn trust_checkpoint(&mut self, label: &str, text: &str, total: u64) {
        if let Some(size) = self.add_checkpoint(label, text, true) {
            match merkle::consistency_nodes(size, total.max(size)) {
                Ok(ids) => self.wanted_nodes.extend(ids),
                Err(e) => self.violation(None, Rule::Consistency, format!("{label}: {e}")),
            }
        }
    }

    fn add_checkpoint(&mut self, label: &str, text: &str, trusted: bool) -> Option<u64> {
        match SignedCheckpoint::parse(text) {
            Ok(note) => {
                let size = note.checkpoint().size;
                if trusted {
                    self.trusted = Some((size, note.checkpoint().root));
                }
                self.checkpoints
                    .entry(size)
                    .or_default()
                    .push(CheckpointCheck {
                        label: label.to_owned(),
                        note: Some(note),
                        trusted,
                    });
                Some(size)
            }
            Err(e) => {
                self.violation(None, Rule::Checkpoint, format!("{label}: {e}"));
                None
            }
        }
    }

    /// Checks one line (bundle position `seq`, counting from 0).
    pub fn feed_line(&mut self, line: &str) -> Option<Entry> {
        let seq = self.next_seq;
        let parsed = Entry::parse_line(line);
        let (entry, raw) = match parsed {
            Ok(ok) => ok,
            Err(e) => {
                self.violation(Some(seq), Rule::Format, format!("unreadable entry: {e}"));
                self.skip_unreadable();
                return None;
            }
        };
        if entry::layout_line(&raw) != line {
            self.violation(
                Some(seq),
                Rule::Layout,
                "line differs from the stored layout of its own content",
            );
        }
        match entry::entry_hash(&raw) {
            Ok(hash) if hash == entry.hash => {}
            Ok(hash) => self.violation(
                Some(seq),
                Rule::Hash,
                format!("hash {} does not recompute (got {hash})", entry.hash),
            ),
            Err(e) => self.violation(Some(seq), Rule::Hash, e.to_string()),
        }
        self.check_entry(&entry);
        Some(entry)
    }

    /// Checks one stored row: its line, and that its columns agree with the line.
    pub fn feed_row(&mut self, row: &Row) -> Option<Entry> {
        let seq = self.next_seq;
        if row.seq != seq {
            self.violation(
                Some(seq),
                Rule::Format,
                format!("row seq column is {}", row.seq),
            );
        }
        let entry = self.feed_line(&row.line)?;
        let columns = [
            ("hash", row.hash == entry.hash),
            ("stream", row.stream == entry.event.stream()),
            ("version", row.version == entry.event.version()),
            ("type", row.event_type == entry.event.event_type()),
            (
                "recorded_at",
                row.recorded_at_micros == entry.recorded_at.micros(),
            ),
            (
                "occurred_at",
                row.occurred_at_micros == entry.event.occurred_at().micros(),
            ),
        ];
        for (name, ok) in columns {
            if !ok {
                self.violation(
                    Some(seq),
                    Rule::Column,
                    format!("column {name} disagrees with the entry"),
                );
            }
        }
        Some(entry)
    }

    /// An unreadable line still occupies its seq; the chain resumes after it.
    fn skip_unreadable(&mut self) {
        self.prev = ZERO_HASH;
        self.next_seq += 1;
        // No leaf can be computed; the tree and checkpoints after it cannot verify.
        self.frontier.push([0; 32]);
        self.report.entries += 1;
    }

    fn check_entry(&mut self, entry: &Entry) {
        let seq = self.next_seq;
        self.check_position(entry, seq);
        self.check_signer(entry, seq);
        self.check_stream(entry, seq);
        self.check_attestation(entry, seq);
        if let Ok(Some(change)) = KeyChange::from_event(&entry.event) {
            change.apply(&mut self.registry, seq);
        }
        self.prev = entry.hash;
        self.next_seq += 1;
        self.report.entries += 1;
        for (id, hash) in self.frontier.push(entry.hash.0) {
            if self.wanted_nodes.contains(&id) {
                self.kept_nodes.insert(id, hash);
            }
        }
        if self.pending.len() >= SIG_BATCH {
            self.flush_signatures();
        }
        self.check_due_checkpoints();
    }

    fn check_position(&mut self, entry: &Entry, seq: u64) {
        if entry.seq != seq {
            self.violation(
                Some(seq),
                Rule::Format,
                format!("entry says seq {}, expected {seq}", entry.seq),
            );
        }
        match &self.report.ledger {
            None => self.report.ledger = Some(entry.ledger.clone()),
            Some(name) if *name != entry.ledger => {
                let msg = format!("ledger {:?} differs from {name:?}", entry.ledger);
                self.violation(Some(seq), Rule::Format, msg);
            }
            Some(_) => {}
        }
        if entry.prev != self.prev {
            self.violation(
                Some(seq),
                Rule::Chain,
                "prev does not link to the previous entry's hash",
            );
        }
        if let Some(last) = self.last_recorded_at {
            if entry.recorded_at < last {
                self.violation(
                    Some(seq),
                    Rule::Time,
                    format!("recorded_at {} is before {last}", entry.recorded_at),
                );
            }
        }
        self.last_recorded_at = Some(entry.recorded_at);
    }

    fn check_signer(&mut self, entry: &Entry, seq: u64) {
        if seq == 0 {
            match KeyChange::from_event(&entry.event) {
                Ok(Some(KeyChange::Genesis { name, root_key })) => {
                    if root_key != entry.signer {
                        self.violation(
                            Some(0),
                            Rule::Signature,
                            "genesis is not signed by its root key",
                        );
                    }
                    if name != entry.ledger {
                        self.violation(
                            Some(0),
                            Rule::Format,
                            "genesis name differs from the ledger",
                        );
                    }
                }
                Ok(_) => self.violation(
                    Some(0),
                    Rule::Format,
                    "seq 0 is not a ledger.created genesis",
                ),
                Err(e) => self.violation(Some(0), Rule::Format, e),
            }
        } else if !self.registry.allows(&entry.signer, seq, Purpose::Entry) {
            let msg = format!("signer {} is not active for entries", entry.signer);
            self.violation(Some(seq), Rule::Signature, msg);
        }
        self.pending.push(PendingSig {
            seq,
            rule: Rule::Signature,
            message: entry.hash.0,
            sig: entry.sig,
            key: *entry.signer.verifying_key(),
        });
    }

    fn check_stream(&mut self, entry: &Entry, seq: u64) {
        let stream = entry.event.stream();
        let before = self.versions.get(stream).copied().unwrap_or(0);
        if entry.event.version() != before + 1 {
            let msg = format!(
                "{stream} version {} does not follow {before}",
                entry.event.version()
            );
            self.violation(Some(seq), Rule::Version, msg);
        }
        self.versions
            .insert(stream.to_owned(), entry.event.version());
    }

    fn check_attestation(&mut self, entry: &Entry, seq: u64) {
        let key_change = KeyChange::from_event(&entry.event);
        if let Err(e) = &key_change {
            self.violation(Some(seq), Rule::Format, e.clone());
        }
        let is_key_change = matches!(key_change, Ok(Some(_)));
        let Some(att) = &entry.attestation else {
            if is_key_change {
                self.violation(
                    Some(seq),
                    Rule::Attestation,
                    "key change without an admin attestation",
                );
            }
            return;
        };
        let allowed = if is_key_change {
            seq == 0 && Some(&att.key) == Some(&entry.signer)
                || self.registry.allows(&att.key, seq, Purpose::Admin)
        } else {
            self.registry.may_attest(&att.key, seq, entry.event.actor())
        };
        if !allowed {
            let msg = format!(
                "key {} may not attest this event of {}",
                att.key,
                entry.event.actor()
            );
            self.violation(Some(seq), Rule::Attestation, msg);
        }
        match entry.event.digest() {
            Ok(digest) => self.pending.push(PendingSig {
                seq,
                rule: Rule::Attestation,
                message: digest,
                sig: att.sig,
                key: *att.key.verifying_key(),
            }),
            Err(e) => self.violation(Some(seq), Rule::Attestation, e.to_string()),
        }
    }

    fn check_due_checkpoints(&mut self) {
        let size = self.frontier.size();
        let Some(checks) = self.checkpoints.remove(&size) else {
            return;
        };
        let root = self.frontier.root();
        for check in checks {
            self.check_checkpoint(size, &root, check);
        }
    }

    fn check_checkpoint(&mut self, size: u64, root: &Hash, check: CheckpointCheck) {
        let Some(note) = check.note else { return };
        let label = check.label;
        let name = self.report.ledger.clone().unwrap_or_default();
        if note.checkpoint().origin != name {
            self.violation(
                None,
                Rule::Checkpoint,
                format!(
                    "{label}: origin {:?} is not the ledger {name:?}",
                    note.checkpoint().origin
                ),
            );
        }
        let signed = self.registry.iter().any(|(key, _)| {
            self.registry.allows(key, size - 1, Purpose::Checkpoint)
                && note.verify(&name, key.verifying_key()).is_ok()
        });
        let rule = if check.trusted {
            Rule::Consistency
        } else {
            Rule::Checkpoint
        };
        if !signed {
            self.violation(
                None,
                rule,
                format!(
                    "{label}: no signature by a checkpoint key active at seq {}",
                    size - 1
                ),
            );
        }
        if note.checkpoint().root != *root {
            self.violation(
                None,
                rule,
                format!("{label}: root for size {size} differs from the entries' tree"),
            );
        } else if signed && !check.trusted {
            self.report.checkpoints_verified += 1;
        }
    }

    /// Verifies the queued signatures: a batch per core, then one by one where a batch fails.
    fn flush_signatures(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = pending.len().div_ceil(threads).max(1);
        let bad: Vec<usize> = std::thread::scope(|scope| {
            let handles: Vec<_> = pending
                .chunks(chunk)
                .enumerate()
                .map(|(i, part)| {
                    scope.spawn(move || {
                        failed_in(part)
                            .into_iter()
                            .map(move |j| i * chunk + j)
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        for i in bad {
            let p = &pending[i];
            let what = if p.rule == Rule::Signature {
                "entry signature"
            } else {
                "attestation signature"
            };
            self.violation(Some(p.seq), p.rule, format!("{what} does not verify"));
        }
        self.pending = pending;
        self.pending.clear();
    }

    /// Finishes the walk: flushes signatures, checks what checkpoints remain and the trusted
    /// checkpoint's consistency, and returns the report.
    pub fn finish(mut self) -> Report {
        self.flush_signatures();
        let size = self.frontier.size();
        for (at, checks) in std::mem::take(&mut self.checkpoints) {
            for check in checks {
                let rule = if check.trusted {
                    Rule::Consistency
                } else {
                    Rule::Checkpoint
                };
                self.violation(
                    None,
                    rule,
                    format!("{}: size {at} is beyond the {size} entries", check.label),
                );
            }
        }
        self.report.root = self.frontier.root();
        if let Some((m, root_m)) = self.trusted {
            let ok = m <= size && self.consistency_holds(m, size, &root_m);
            if !ok {
                self.violation(None, Rule::Consistency, format!("the trusted checkpoint of size {m} is not consistent with this ledger of {size} entries: history was rewritten"));
            }
            self.report.trusted_consistent = Some(
                ok && self
                    .report
                    .violations
                    .iter()
                    .all(|v| v.rule != Rule::Consistency),
            );
        }
        self.report
    }

    fn consistency_holds(&self, m: u64, n: u64, root_m: &Hash) -> bool {
        let proof = merkle::consistency_proof_from(m, n, |id| self.kept_nodes.get(&id).copied());
        proof.is_ok_and(|p| {
            merkle::verify_consistency(m, n, &p, root_m, &self.frontier.root()).is_ok()
        })
    }

    /// Entries walked so far.
    pub fn entries(&self) -> u64 {
        self.report.entries
    }

    /// Tree nodes the entries walked so far completed, for comparing with stored nodes.
    pub fn frontier(&self) -> &Frontier {
        &self.frontier
    }
}

/// Indices in `part` whose signature fails: one batch verification, and per signature only
/// when the batch fails.
fn failed_in(part: &[PendingSig]) -> Vec<usize> {
    let messages: Vec<&[u8]> = part.iter().map(|p| p.message.as_slice()).collect();
    let sigs: Vec<Signature> = part.iter().map(|p| p.sig).collect();
    let keys: Vec<VerifyingKey> = part.iter().map(|p| p.key).collect();
    if ed25519_dalek::verify_batch(&messages, &sigs, &keys).is_ok() {
        return Vec::new();
    }
    part.iter()
        .enumerate()
        .filter(|(_, p)| !PublicKey::from_verifying(p.key).verify(&p.message, &p.sig))
        .map(|(i, _)| i)
        .collect()
}
