//! `custodia append`: raw events from a JSON or JSON Lines file, the escape hatch for imports
//! and tests. Every event is read and checked before any is appended, so that a bad file
//! writes nothing.

use crate::cli::{AppendArgs, ExpectArg};
use crate::exit::{self, bad_input};
use crate::input::{list_problems, read_events, read_input, Input, PROBLEMS_SHOWN_MAX};
use crate::secrets::read_key_file;
use custodia_ledger::entry::Event;
use custodia_ledger::keys::{KeyChange, Purpose, SecretKey, GENESIS_STREAM, KEYS_STREAM};
use custodia_ledger::ledger::{load_registry, Ledger};
use custodia_ledger::store::Store;
use custodia_ledger::writer::{AppendError, AppendRequest, Expect, Receipt};
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future as _;
use std::task::Poll;

/// Appends queued at once: well below the writer's queue (8192 by default), so that queuing
/// never waits and file order is kept.
const APPEND_WINDOW: usize = 1024;
pub(crate) async fn run(args: AppendArgs) -> anyhow::Result<u8> {
    if args.key.is_some() && args.expect == ExpectArg::Next {
        return Err(bad_input(
            "--key attests each event at the version it names; use --expect exact",
        ));
    }
    let key = args.key.as_deref().map(read_key_file).transpose()?;
    let bytes = read_input(&args.file)?;
    let label = args.file.display().to_string();
    let inputs = read_events(&bytes, args.expect == ExpectArg::Next)
        .map_err(|problems| bad_input(list_problems(&label, &problems)))?;
    let ledger = super::open_ledger(&args.data).await?;
    let requests = prepare(&ledger, &inputs, key.as_ref(), args.expect)
        .await
        .map_err(|problems| bad_input(list_problems(&label, &problems)))?;
    tracing::info!(events = requests.len(), file = %label, "all events checked; appending");
    append_all(&ledger, requests).await
}

/// Checks the events against the ledger as it stands (stream versions, key authority) and
/// attests them, so that a file that would be refused halfway is refused before anything is
/// written. A concurrent writer can still move a stream on in between; the writer then
/// refuses that event with a conflict.
async fn prepare(
    ledger: &Ledger,
    inputs: &[Input],
    key: Option<&SecretKey>,
    expect: ExpectArg,
) -> Result<Vec<AppendRequest>, Vec<String>> {
    let store = &**ledger.store();
    let first_seq = ledger.size().await.map_err(|e| vec![format!("{e:#}")])?;
    let registry = load_registry(store)
        .await
        .map_err(|e| vec![format!("{e:#}")])?;
    let mut versions: HashMap<String, u64> = HashMap::new();
    let mut problems = Vec::new();
    let mut requests = Vec::with_capacity(inputs.len());
    for input in inputs {
        let event = &input.event;
        let stream = event.stream().to_owned();
        if !versions.contains_key(&stream) {
            let current = current_version(store, &stream)
                .await
                .map_err(|e| vec![format!("{e:#}")])?;
            versions.insert(stream.clone(), current);
        }
        let current = versions[&stream];
        let checked = check_authority(event, key, &registry, first_seq).and_then(|()| {
            if expect == ExpectArg::Exact && event.version() != current + 1 {
                Err(format!(
                    "stream {stream} is at version {current}; this event claims version {} \
                     (expected {})",
                    event.version(),
                    current + 1
                ))
            } else {
                Ok(())
            }
        });
        // In exact mode the file's own claim carries on, so one stale stream is reported once.
        let placed = match expect {
            ExpectArg::Exact => event.version(),
            ExpectArg::Next => current + 1,
        };
        versions.insert(stream, placed);
        match checked.and_then(|()| request(event, key, expect)) {
            Ok(r) => requests.push(r),
            Err(e) => problems.push(format!("line {}: {e}", input.line)),
        }
    }
    if problems.is_empty() {
        Ok(requests)
    } else {
        Err(problems)
    }
}

fn check_authority(
    event: &Event,
    key: Option<&SecretKey>,
    registry: &custodia_ledger::keys::KeyRegistry,
    seq: u64,
) -> Result<(), String> {
    if event.stream() == GENESIS_STREAM {
        return Err(format!(
            "stream {GENESIS_STREAM} holds only the genesis entry"
        ));
    }
    let is_key_change = event.stream() == KEYS_STREAM;
    if is_key_change {
        KeyChange::from_event(event)?;
    }
    match key {
        None if is_key_change => Err(format!(
            "events of {KEYS_STREAM} must be attested by an admin key (use `custodia keys`)"
        )),
        None => Ok(()),
        Some(key) if is_key_change && !registry.allows(&key.public(), seq, Purpose::Admin) => {
            Err(format!("key {} is not an active admin key", key.public()))
        }
        Some(key) if !is_key_change && !registry.may_attest(&key.public(), seq, event.actor()) => {
            Err(format!(
                "key {} is not registered to attest events of {}",
                key.public(),
                event.actor()
            ))
        }
        Some(_) => Ok(()),
    }
}

fn request(
    event: &Event,
    key: Option<&SecretKey>,
    expect: ExpectArg,
) -> Result<AppendRequest, String> {
    let attestation = key
        .map(|k| event.attest(k))
        .transpose()
        .map_err(|e| e.to_string())?;
    Ok(AppendRequest {
        event: event.clone(),
        attestation,
        expect: match expect {
            ExpectArg::Exact => Expect::Exact,
            ExpectArg::Next => Expect::Next,
        },
    })
}

/// The stream's current version, by exponential then binary search over stream rows: a few
/// small reads however long the stream is.
async fn current_version(store: &dyn Store, stream: &str) -> anyhow::Result<u64> {
    let exists = |v: u64| async move {
        let rows = store.stream_rows(stream, v, 1).await?;
        anyhow::Ok(rows.first().is_some_and(|r| r.version == v))
    };
    let (mut lo, mut hi) = (0u64, 1u64);
    while exists(hi).await? {
        lo = hi;
        hi = hi.saturating_mul(2);
    }
    // Versions are contiguous from 1: lo exists (or is 0), hi does not.
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if exists(mid).await? {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

/// Appends in file order and prints each receipt once it is durable.
async fn append_all(ledger: &Ledger, requests: Vec<AppendRequest>) -> anyhow::Result<u8> {
    let streams: Vec<String> = requests
        .iter()
        .map(|r| r.event.stream().to_owned())
        .collect();
    let mut outcomes = Vec::with_capacity(requests.len());
    for window in requests.chunks(APPEND_WINDOW) {
        outcomes.extend(append_window(ledger, window).await);
    }
    let mut failures = Vec::new();
    for (i, (outcome, stream)) in outcomes.into_iter().zip(streams).enumerate() {
        match outcome {
            Ok(receipt) => println!("{}", receipt_json(&receipt, &stream)),
            Err(e) => failures.push((i + 1, e)),
        }
    }
    let Some((_, first)) = failures.first() else {
        return Ok(exit::OK);
    };
    let mut text = format!("{} event(s) were not appended:", failures.len());
    for (n, e) in failures.iter().take(PROBLEMS_SHOWN_MAX) {
        text.push_str(&format!("\n  event {n}: {e}"));
    }
    // The first failure decides the exit code: a refusal (2) or a storage failure (3).
    if exit::code_of(&anyhow::Error::new(first.clone())) == exit::BAD_INPUT {
        Err(bad_input(text))
    } else {
        Err(anyhow::anyhow!(text))
    }
}

/// Queues a window of appends at once so that they share group commits, in file order: every
/// future is first polled in index order, and each first poll puts its request on the writer's
/// queue (the queue is first-in first-out and larger than the window, so no send waits).
/// `join_all` does not promise that order for many futures, hence this loop.
async fn append_window(
    ledger: &Ledger,
    window: &[AppendRequest],
) -> Vec<Result<Receipt, AppendError>> {
    let mut futures: Vec<_> = window
        .iter()
        .map(|r| Box::pin(ledger.append(r.clone())))
        .collect();
    let mut results: Vec<Option<Result<Receipt, AppendError>>> = vec![None; window.len()];
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, slot) in futures.iter_mut().zip(results.iter_mut()) {
            if slot.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(outcome) => *slot = Some(outcome),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    results.into_iter().flatten().collect()
}

fn receipt_json(receipt: &Receipt, stream: &str) -> Value {
    serde_json::json!({
        "seq": receipt.seq,
        "hash": receipt.hash.to_hex(),
        "stream": stream,
        "version": receipt.version,
        "recorded_at": receipt.recorded_at.to_string(),
    })
}
