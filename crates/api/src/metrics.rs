//! A few honest numbers in the Prometheus text format: what was appended, what was refused,
//! who is listening. Counters count since the process started; gauges are read when scraped.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters and gauges the handlers move.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Entries appended through this API.
    pub appends: AtomicU64,
    /// Commands and events refused (4xx after authentication), by any rule.
    pub rejections: AtomicU64,
    /// Appends refused because the stream moved on.
    pub conflicts: AtomicU64,
    /// Event stream subscribers connected now.
    pub subscribers: AtomicU64,
    /// Cosignatures accepted.
    pub cosignatures: AtomicU64,
}

/// Adds one to `counter`.
pub fn inc(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Holds one subscriber in the gauge until dropped, however the stream ends.
#[derive(Debug)]
pub struct SubscriberGuard(pub std::sync::Arc<Metrics>);

impl Drop for SubscriberGuard {
    fn drop(&mut self) {
        self.0.subscribers.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    /// Counts a subscriber in until the guard drops.
    pub fn subscriber(self: &std::sync::Arc<Self>) -> SubscriberGuard {
        inc(&self.subscribers);
        SubscriberGuard(self.clone())
    }

    /// The exposition text, given the ledger's size and the seq the SMS fold has reached.
    pub fn render(&self, entries: u64, folded: u64) -> String {
        let mut out = String::new();
        let mut put = |name: &str, kind: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        put(
            "custodia_ledger_entries",
            "gauge",
            "Entries in the ledger.",
            entries,
        );
        put(
            "custodia_sms_folded_entries",
            "gauge",
            "Entries folded into the SMS state the API decides on.",
            folded,
        );
        put(
            "custodia_appends_total",
            "counter",
            "Entries appended through the API.",
            get(&self.appends),
        );
        put(
            "custodia_rejections_total",
            "counter",
            "Commands and events refused by a rule.",
            get(&self.rejections),
        );
        put(
            "custodia_conflicts_total",
            "counter",
            "Appends refused for a stale expected version.",
            get(&self.conflicts),
        );
        put(
            "custodia_subscribers",
            "gauge",
            "Event stream subscribers connected.",
            get(&self.subscribers),
        );
        put(
            "custodia_cosignatures_total",
            "counter",
            "Checkpoint cosignatures accepted.",
            get(&self.cosignatures),
        );
        out
    }
}
