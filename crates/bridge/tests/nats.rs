//! The NATS JetStream bridge against a real server: a consumer receives every entry once, in
//! order, chain-checkable, although the bridge is killed (its task aborted mid-flight) twice
//! while the ledger grows; a republish is not stored again, inside or beyond the duplicate
//! window; a stream of other subjects or of another ledger is refused.
//!
//! Needs a NATS server with JetStream, named by `CUSTODIA_TEST_NATS_URL`: the tests are
//! ignored by default and run with `--ignored` (`.ci/run` starts a server and does so). Each test uses a stream and a
//! subject prefix of its own, deleted at the end.

use async_nats::jetstream::{self, consumer::pull};
use custodia_bridge::{
    Bridge, BridgeConfig, BridgeError, Position, HEADER_MSG_ID, HEADER_SEQ, HEADER_STREAM,
    HEADER_TYPE,
};
use custodia_ledger::entry::{entry_hash, ChainHash, Entry, Event, ZERO_HASH};
use custodia_ledger::ledger::{InitOptions, Ledger};
use custodia_ledger::time::Timestamp;
use custodia_ledger::writer::{AppendRequest, Expect};
use futures_util::StreamExt as _;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn url() -> String {
    std::env::var("CUSTODIA_TEST_NATS_URL")
        .expect("CUSTODIA_TEST_NATS_URL must name a NATS server with JetStream for these tests")
}

/// A stream name and subject prefix no other run or test uses.
fn unique_config(tag: &str) -> BridgeConfig {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let id = format!(
        "{}_{}_{}",
        std::process::id(),
        nanos % 1_000_000_000_000,
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut config = BridgeConfig::new(url());
    config.prefix = format!("test_{tag}_{id}");
    config.stream = format!("TEST_{}_{id}", tag.to_uppercase());
    config.poll_interval = Duration::from_millis(20);
    config
}

async fn ledger(dir: &std::path::Path, name: &str) -> Arc<Ledger> {
    let options = InitOptions {
        name: name.into(),
        actor: "user:root".into(),
        root_passphrase: None,
    };
    Ledger::init(dir, &options).await.unwrap();
    Arc::new(Ledger::open(dir).await.unwrap())
}

/// Appends `n` events spread over several streams of several kinds, the `i`-th being number
/// `first + i`; pauses `pause` between appends.
async fn append(ledger: &Ledger, first: u64, n: u64, pause: Duration) {
    const STREAMS: [&str; 5] = [
        "risk/R-1",
        "supplier/S-1",
        "risk/R-2",
        "incident/I-1",
        "supplier/S-2",
    ];
    for i in first..first + n {
        let stream = STREAMS[(i % STREAMS.len() as u64) as usize];
        let kind = stream.split('/').next().unwrap();
        let mut data = serde_json::Map::new();
        data.insert("n".into(), i.into());
        let event = Event::new(
            stream,
            1,
            &format!("{kind}.noted"),
            1,
            Timestamp::now(),
            "user:tester",
            data,
        )
        .unwrap();
        ledger
            .append(AppendRequest {
                event,
                attestation: None,
                expect: Expect::Next,
            })
            .await
            .unwrap();
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    }
}

/// One message as the consumer received it.
#[derive(Debug, Clone)]
struct Got {
    subject: String,
    headers: HashMap<String, String>,
    payload: String,
}

/// A durable pull consumer of every message of the stream, from the first; collects and acks.
async fn consume(js: &jetstream::Context, stream: &str) -> Arc<Mutex<Vec<Got>>> {
    let consumer: jetstream::consumer::PullConsumer = js
        .get_stream(stream)
        .await
        .unwrap()
        .create_consumer(pull::Config {
            durable_name: Some("test_consumer".into()),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            deliver_policy: jetstream::consumer::DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .unwrap();
    let got = Arc::new(Mutex::new(Vec::new()));
    let out = got.clone();
    tokio::spawn(async move {
        let mut messages = consumer.messages().await.unwrap();
        while let Some(message) = messages.next().await {
            let message = message.unwrap();
            let headers = message
                .headers
                .as_ref()
                .map(|h| {
                    h.iter()
                        .map(|(k, v)| (k.to_string(), v[0].as_str().to_owned()))
                        .collect()
                })
                .unwrap_or_default();
            out.lock().unwrap().push(Got {
                subject: message.subject.to_string(),
                headers,
                payload: String::from_utf8(message.payload.to_vec()).unwrap(),
            });
            message.ack().await.unwrap();
        }
    });
    got
}

/// Starts a bridge task from the stream's own position.
async fn start(ledger: &Ledger, config: &BridgeConfig) -> tokio::task::JoinHandle<()> {
    let bridge = Bridge::connect(ledger.store().clone(), config.clone())
        .await
        .unwrap();
    let from = bridge.position().await.unwrap();
    tokio::spawn(async move {
        bridge
            .run(from, std::future::pending())
            .await
            .expect("the bridge stopped with an error");
    })
}

async fn stream_messages(js: &jetstream::Context, stream: &str) -> u64 {
    js.get_stream(stream)
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .state
        .messages
}

/// Waits (bounded) until `done` holds.
async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Asserts that `got` is the whole ledger, each entry once, in seq order, with the headers,
/// subject and chain links receivers rely on.
async fn assert_whole_ledger(ledger: &Ledger, config: &BridgeConfig, got: &[Got]) {
    let size = ledger.size().await.unwrap();
    assert_eq!(got.len() as u64, size, "one message per entry, no more");
    let rows = ledger.store().read(0, size as u32).await.unwrap();
    let mut prev: ChainHash = ZERO_HASH;
    let mut versions: HashMap<String, u64> = HashMap::new();
    for (seq, (message, row)) in got.iter().zip(&rows).enumerate() {
        assert_eq!(
            message.payload, row.line,
            "seq {seq}: the stored line, verbatim"
        );
        let (entry, value) = Entry::parse_line(&message.payload).unwrap();
        assert_eq!(entry.seq, seq as u64, "global seq order");
        assert_eq!(entry_hash(&value).unwrap(), entry.hash, "seq {seq}: hash");
        assert_eq!(
            entry.prev, prev,
            "seq {seq}: prev links to the message before"
        );
        prev = entry.hash;
        let stream = entry.event.stream();
        let version = versions.entry(stream.to_owned()).or_default();
        assert_eq!(entry.event.version(), *version + 1, "{stream}: in order");
        *version += 1;
        assert_eq!(message.subject, config.subject(entry.event.stream_kind()));
        let h = |k: &str| message.headers.get(k).map(String::as_str);
        assert_eq!(h(HEADER_MSG_ID), Some(entry.hash.to_hex().as_str()));
        assert_eq!(h(HEADER_SEQ), Some(seq.to_string().as_str()));
        assert_eq!(h(HEADER_STREAM), Some(stream));
        assert_eq!(h(HEADER_TYPE), Some(entry.event.event_type()));
    }
    let kinds: std::collections::BTreeSet<_> = got.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(
        kinds.len(),
        4,
        "ledger, risk, supplier and incident subjects: {kinds:?}"
    );
}

async fn delete(js: &jetstream::Context, stream: &str) {
    let _ = js.delete_stream(stream).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs NATS JetStream: CUSTODIA_TEST_NATS_URL, run with --ignored (.ci/run does)"]
async fn every_entry_once_in_order_across_bridge_kills() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger(dir.path(), "acme.example/sms").await;
    append(&ledger, 0, 40, Duration::ZERO).await;
    let mut config = unique_config("restart");
    // A small window of unacknowledged publishes, so that a kill finds some in flight.
    config.in_flight = 4;

    let first = start(&ledger, &config).await;
    let probe = Bridge::connect(ledger.store().clone(), config.clone())
        .await
        .unwrap();
    let js = probe.jetstream().clone();
    let got = consume(&js, &config.stream).await;

    // The ledger grows while the bridge runs; the bridge is killed mid-way, twice.
    let writer = {
        let ledger = ledger.clone();
        tokio::spawn(async move { append(&ledger, 40, 200, Duration::from_millis(2)).await })
    };
    until("the first bridge to publish 80 entries", async || {
        stream_messages(&js, &config.stream).await >= 80
    })
    .await;
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    let at_kill = stream_messages(&js, &config.stream).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        ledger.size().await.unwrap() > at_kill,
        "the ledger grew while the bridge was down"
    );

    let second = start(&ledger, &config).await;
    until("the second bridge to publish 160 entries", async || {
        stream_messages(&js, &config.stream).await >= 160
    })
    .await;
    second.abort();
    assert!(second.await.unwrap_err().is_cancelled());
    writer.await.unwrap();
    append(&ledger, 240, 30, Duration::ZERO).await;

    let third = start(&ledger, &config).await;
    let size = ledger.size().await.unwrap();
    until("the consumer to receive every entry", async || {
        got.lock().unwrap().len() as u64 >= size
    })
    .await;
    // Anything extra (a duplicate) would arrive now.
    tokio::time::sleep(Duration::from_millis(300)).await;
    third.abort();
    let got = got.lock().unwrap().clone();
    assert_whole_ledger(&ledger, &config, &got).await;
    assert_eq!(stream_messages(&js, &config.stream).await, size);
    delete(&js, &config.stream).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs NATS JetStream: CUSTODIA_TEST_NATS_URL, run with --ignored (.ci/run does)"]
async fn a_republish_is_not_stored_again() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger(dir.path(), "acme.example/sms").await;
    append(&ledger, 0, 25, Duration::ZERO).await;
    let mut config = unique_config("dedupe");
    config.duplicate_window = Duration::from_millis(500);
    let bridge = Bridge::connect(ledger.store().clone(), config.clone())
        .await
        .unwrap();
    let js = bridge.jetstream().clone();
    let start = bridge.position().await.unwrap();
    assert_eq!(
        start,
        Position {
            next: 0,
            stream_last: 0
        }
    );
    let size = ledger.size().await.unwrap();
    let done = bridge.publish_page(start, 1000).await.unwrap();
    assert_eq!((done.entries, done.duplicates), (size, 0));
    assert_eq!(
        done.position,
        Position {
            next: size,
            stream_last: size
        }
    );
    let got = consume(&js, &config.stream).await;
    until("the consumer to receive every entry", async || {
        got.lock().unwrap().len() as u64 >= size
    })
    .await;

    // Within the window: every entry is acknowledged as already stored.
    let again = bridge.publish_page(start, 1000).await.unwrap();
    assert_eq!((again.entries, again.duplicates), (size, size));
    assert_eq!(again.position, done.position);

    // Beyond it: the stale expected sequence refuses the first one.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let from = Position {
        next: 5,
        stream_last: 5,
    };
    match bridge.publish_page(from, 1000).await {
        Err(BridgeError::Publish {
            seq: 5,
            out_of_order: true,
            ..
        }) => {}
        other => panic!("expected the republish of seq 5 to be refused, got {other:?}"),
    }
    // The position read back from the stream is still the end of the ledger.
    assert_eq!(bridge.position().await.unwrap(), done.position);

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stream_messages(&js, &config.stream).await, size);
    let got = got.lock().unwrap().clone();
    assert_whole_ledger(&ledger, &config, &got).await;
    delete(&js, &config.stream).await;
}

#[tokio::test]
#[ignore = "needs NATS JetStream: CUSTODIA_TEST_NATS_URL, run with --ignored (.ci/run does)"]
async fn a_stream_with_other_subjects_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger(dir.path(), "acme.example/sms").await;
    let config = unique_config("mismatch");
    let bridge = Bridge::connect(ledger.store().clone(), config.clone())
        .await
        .unwrap();
    let js = bridge.jetstream().clone();
    js.create_stream(jetstream::stream::Config {
        name: config.stream.clone(),
        subjects: vec![format!("{}.risk", config.prefix)],
        ..Default::default()
    })
    .await
    .unwrap();
    let e = bridge.position().await.unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, BridgeError::StreamMismatch { .. }), "{text}");
    assert!(text.contains(&config.stream), "names the stream: {text}");
    assert!(text.contains(&format!("{}.>", config.prefix)), "{text}");
    assert_eq!(
        stream_messages(&js, &config.stream).await,
        0,
        "nothing published"
    );
    delete(&js, &config.stream).await;
}

#[tokio::test]
#[ignore = "needs NATS JetStream: CUSTODIA_TEST_NATS_URL, run with --ignored (.ci/run does)"]
async fn a_stream_of_another_ledger_is_refused() {
    let config = unique_config("foreign");
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = ledger(a_dir.path(), "a.example/sms").await;
    append(&a, 0, 5, Duration::ZERO).await;
    let bridge = Bridge::connect(a.store().clone(), config.clone())
        .await
        .unwrap();
    let js = bridge.jetstream().clone();
    let at = bridge.position().await.unwrap();
    bridge.publish_page(at, 1000).await.unwrap();
    let published = stream_messages(&js, &config.stream).await;

    let b = ledger(b_dir.path(), "b.example/sms").await;
    append(&b, 0, 10, Duration::ZERO).await;
    let other = Bridge::connect(b.store().clone(), config.clone())
        .await
        .unwrap();
    let e = other.position().await.unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, BridgeError::Foreign { .. }), "{text}");
    assert!(text.contains("another ledger"), "{text}");
    assert_eq!(stream_messages(&js, &config.stream).await, published);
    delete(&js, &config.stream).await;
}
