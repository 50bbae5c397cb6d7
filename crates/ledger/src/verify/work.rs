//! The checks that need nothing from the entries before: parsing, the stored layout, the hash,
//! both signatures and the stored columns. They run on every core, a chunk of entries at a
//! time, while the walk applies the sequential rules to the chunks already checked.

use super::Rule;
use crate::entry::{self, ChainHash, Entry};
use crate::keys::{KeyChange, PublicKey};
use crate::store::Row;
use crate::time::Timestamp;
use ed25519_dalek::{Signature, VerifyingKey};
use std::sync::{mpsc, Arc, Mutex};

/// One entry as it reaches the verifier.
#[derive(Debug)]
pub(super) enum Input {
    /// A bundle line.
    Line(String),
    /// A stored row.
    Row(Row),
    /// A line that could not even be read as text, with the reason.
    Bad(String),
}

/// What the sequential rules need of an entry: small, so that a chunk's payloads are freed on
/// the thread that parsed them.
pub(super) struct Summary {
    pub(super) seq: u64,
    pub(super) ledger: String,
    pub(super) prev: ChainHash,
    pub(super) hash: ChainHash,
    pub(super) recorded_at: Timestamp,
    pub(super) signer: PublicKey,
    pub(super) attester: Option<PublicKey>,
    pub(super) stream: String,
    pub(super) version: u64,
    pub(super) actor: String,
    /// The key change the entry carries, if it is a genesis or key event.
    pub(super) key_change: Result<Option<KeyChange>, String>,
}

impl Summary {
    fn of(entry: Entry) -> Self {
        let key_change = KeyChange::from_event(&entry.event);
        Self {
            seq: entry.seq,
            prev: entry.prev,
            hash: entry.hash,
            recorded_at: entry.recorded_at,
            signer: entry.signer,
            attester: entry.attestation.map(|a| a.key),
            stream: entry.event.stream().to_owned(),
            version: entry.event.version(),
            actor: entry.event.actor().to_owned(),
            key_change,
            ledger: entry.ledger,
        }
    }
}

/// What the per-entry checks found.
pub(super) struct Checked {
    /// The entry, when it could be read.
    pub(super) entry: Option<Summary>,
    /// Broken rules, for the entry's seq.
    pub(super) problems: Vec<(Rule, String)>,
}

/// A checked chunk.
pub(super) struct Done {
    pub(super) items: Vec<Checked>,
    pub(super) signatures: u64,
}

struct SigCheck {
    item: usize,
    rule: Rule,
    message: [u8; 32],
    sig: Signature,
    key: VerifyingKey,
}

/// Checks a chunk whose first entry is at position `start`.
pub(super) fn check_chunk(start: u64, inputs: Vec<Input>) -> Done {
    let mut sigs = Vec::with_capacity(inputs.len() * 2);
    let items: Vec<Checked> = inputs
        .into_iter()
        .enumerate()
        .map(|(i, input)| check_one(start + i as u64, i, input, &mut sigs))
        .collect();
    let mut done = Done {
        items,
        signatures: sigs.len() as u64,
    };
    for (item, rule) in failed_signatures(&sigs) {
        let what = if rule == Rule::Signature {
            "entry signature does not verify"
        } else {
            "attestation signature does not verify"
        };
        done.items[item].problems.push((rule, what.into()));
    }
    done
}

fn check_one(pos: u64, item: usize, input: Input, sigs: &mut Vec<SigCheck>) -> Checked {
    let mut problems = Vec::new();
    let (line, row) = match input {
        Input::Line(line) => (line, None),
        Input::Row(mut row) => (std::mem::take(&mut row.line), Some(row)),
        Input::Bad(reason) => {
            return Checked {
                entry: None,
                problems: vec![(Rule::Format, reason)],
            }
        }
    };
    // The checks on the object as read come first; then it is taken apart, without copies,
    // for the typed fields.
    if line.len() > entry::ENTRY_LINE_BYTES_MAX {
        problems.push((
            Rule::Format,
            format!(
                "unreadable entry: {}",
                entry::EntryError::LineTooLong(line.len())
            ),
        ));
        return Checked {
            entry: None,
            problems,
        };
    }
    let raw = match crate::canonical::parse_strict(line.as_bytes()) {
        Ok(raw) => raw,
        Err(e) => {
            problems.push((Rule::Format, format!("unreadable entry: {e}")));
            return Checked {
                entry: None,
                problems,
            };
        }
    };
    if entry::layout_line(&raw) != line {
        let msg = "line differs from the stored layout of its own content";
        problems.push((Rule::Layout, msg.into()));
    }
    let digest = raw.get("event").map(entry::event_digest);
    let hash = entry::entry_hash(&raw);
    let entry = match Entry::from_owned(raw) {
        Ok(entry) => entry,
        Err(e) => {
            problems.push((Rule::Format, format!("unreadable entry: {e}")));
            return Checked {
                entry: None,
                problems,
            };
        }
    };
    match hash {
        Ok(hash) if hash == entry.hash => {}
        Ok(hash) => problems.push((
            Rule::Hash,
            format!("hash {} does not recompute (got {hash})", entry.hash),
        )),
        Err(e) => problems.push((Rule::Hash, e.to_string())),
    }
    queue_signatures(item, &entry, digest, sigs, &mut problems);
    if let Some(row) = row {
        check_columns(pos, &row, &entry, &mut problems);
    }
    Checked {
        entry: Some(Summary::of(entry)),
        problems,
    }
}

fn queue_signatures(
    item: usize,
    entry: &Entry,
    digest: Option<Result<[u8; 32], entry::EntryError>>,
    sigs: &mut Vec<SigCheck>,
    problems: &mut Vec<(Rule, String)>,
) {
    sigs.push(SigCheck {
        item,
        rule: Rule::Signature,
        message: entry.hash.0,
        sig: entry.sig,
        key: *entry.signer.verifying_key(),
    });
    let Some(att) = &entry.attestation else {
        return;
    };
    match digest.unwrap_or(Err(entry::EntryError::Unknown("event".into()))) {
        Ok(digest) => sigs.push(SigCheck {
            item,
            rule: Rule::Attestation,
            message: digest,
            sig: att.sig,
            key: *att.key.verifying_key(),
        }),
        Err(e) => problems.push((Rule::Attestation, e.to_string())),
    }
}

fn check_columns(pos: u64, row: &Row, entry: &Entry, problems: &mut Vec<(Rule, String)>) {
    let columns = [
        ("seq", row.seq == pos),
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
            let msg = format!("column {name} disagrees with the entry");
            problems.push((Rule::Column, msg));
        }
    }
}

/// Items whose signature fails: one batch verification, and one by one only when it fails.
fn failed_signatures(sigs: &[SigCheck]) -> Vec<(usize, Rule)> {
    if sigs.is_empty() {
        return Vec::new();
    }
    let messages: Vec<&[u8]> = sigs.iter().map(|s| s.message.as_slice()).collect();
    let signatures: Vec<Signature> = sigs.iter().map(|s| s.sig).collect();
    let keys: Vec<VerifyingKey> = sigs.iter().map(|s| s.key).collect();
    if ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok() {
        return Vec::new();
    }
    sigs.iter()
        .filter(|s| {
            let key = crate::keys::PublicKey::from_verifying(s.key);
            !key.verify(&s.message, &s.sig)
        })
        .map(|s| (s.item, s.rule))
        .collect()
}

type Job = (u64, Vec<Input>, mpsc::Sender<Done>);

/// One thread per core, fed through a short queue so that memory stays bounded.
pub(super) struct Pool {
    jobs: Option<mpsc::SyncSender<Job>>,
    workers: Vec<std::thread::JoinHandle<()>>,
}

impl Pool {
    pub(super) fn start() -> Self {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let (jobs, queue) = mpsc::sync_channel::<Job>(threads);
        let queue = Arc::new(Mutex::new(queue));
        let workers = (0..threads)
            .map(|_| {
                let queue = queue.clone();
                std::thread::spawn(move || loop {
                    let job = match queue.lock() {
                        Ok(q) => q.recv(),
                        Err(_) => return,
                    };
                    let Ok((start, inputs, reply)) = job else {
                        return;
                    };
                    // The walk may have stopped listening; the result is then not needed.
                    let _ = reply.send(check_chunk(start, inputs));
                })
            })
            .collect();
        Self {
            jobs: Some(jobs),
            workers,
        }
    }

    /// Queues a chunk (waiting while the queue is full) and returns where its result arrives.
    pub(super) fn submit(&self, start: u64, inputs: Vec<Input>) -> mpsc::Receiver<Done> {
        let (reply, result) = mpsc::channel();
        let unsent = match &self.jobs {
            Some(jobs) => jobs.send((start, inputs, reply)).err().map(|e| e.0),
            None => Some((start, inputs, reply)),
        };
        // No worker left (one panicked): check here rather than lose the chunk.
        if let Some((start, inputs, reply)) = unsent {
            let _ = reply.send(check_chunk(start, inputs));
        }
        result
    }

    /// The number of worker threads.
    pub(super) fn threads(&self) -> usize {
        self.workers.len()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        drop(self.jobs.take());
        for worker in std::mem::take(&mut self.workers) {
            let _ = worker.join();
        }
    }
}
