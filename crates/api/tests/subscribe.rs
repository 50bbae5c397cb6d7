//! Subscriptions over a real socket: a client that is cut off at several points and resumes
//! with Last-Event-ID ends with every entry exactly once, in order, chain-checked; a slow
//! client behind a tiny broadcast ring still misses nothing; filters filter.

mod common;

use common::Harness;
use custodia_api::auth::Role;
use custodia_api::follow::Follower;
use custodia_api::Config;
use custodia_ledger::entry::{entry_hash, ChainHash, Entry, ZERO_HASH};
use custodia_ledger::writer::WriterConfig;
use futures_util::StreamExt as _;
use serde_json::Value;
use std::time::Duration;

/// Serves the harness's router on an ephemeral port of 127.0.0.1.
async fn listen(h: &Harness) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = h.app.clone();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// One SSE message: its id and data.
struct Message {
    id: u64,
    data: String,
}

/// Reads up to `count` messages from one connection, then drops it (a disconnect).
async fn read_some(
    base: &str,
    token: &str,
    query: &str,
    last: Option<u64>,
    count: usize,
) -> Vec<Message> {
    let client = reqwest::Client::new();
    let mut req = client
        .get(format!("{base}/v1/events/stream{query}"))
        .bearer_auth(token);
    if let Some(id) = last {
        req = req.header("last-event-id", id.to_string());
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200);
    let mut body = res.bytes_stream();
    let (mut buf, mut out) = (String::new(), Vec::new());
    while out.len() < count {
        let Ok(Some(chunk)) = tokio::time::timeout(Duration::from_secs(2), body.next()).await
        else {
            break; // nothing more for now
        };
        buf.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            if let Some(m) = parse(&block) {
                out.push(m);
            }
        }
    }
    out.truncate(count);
    out
}

fn parse(block: &str) -> Option<Message> {
    let (mut id, mut data) = (None, None);
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("id: ") {
            id = v.parse().ok();
        } else if let Some(v) = line.strip_prefix("data: ") {
            data = Some(v.to_owned());
        }
    }
    Some(Message {
        id: id?,
        data: data?,
    })
}

/// Checks each entry's hash from its bytes and its link to the one before.
fn check_chain(messages: &[Message]) {
    let mut prev: ChainHash = ZERO_HASH;
    for (seq, m) in messages.iter().enumerate() {
        assert_eq!(m.id, seq as u64, "ids are seqs, in order, once each");
        let (entry, value) = Entry::parse_line(&m.data).unwrap();
        assert_eq!(entry.seq, m.id);
        assert_eq!(
            entry_hash(&value).unwrap(),
            entry.hash,
            "seq {seq}: hash does not match its bytes"
        );
        assert_eq!(entry.prev, prev, "seq {seq}: prev does not link");
        prev = entry.hash;
    }
}

/// Appends `n` policy drafts through the API, one stream each.
async fn write(h: &Harness, from: usize, n: usize) {
    for i in from..from + n {
        let data = common::draft(0)["data"].clone();
        h.command_ok(
            Role::SecurityManager,
            &format!("policy/POL-{i}"),
            "draft",
            data,
            0,
        )
        .await;
    }
}

async fn resume_until(
    base: &str,
    token: &str,
    query: &str,
    end: u64,
    pattern: &[usize],
) -> Vec<Message> {
    let mut got: Vec<Message> = Vec::new();
    for round in 0..1000 {
        let last = got.last().map(|m| m.id);
        if last == Some(end - 1) {
            return got;
        }
        let count = pattern[round % pattern.len()];
        got.extend(read_some(base, token, query, last, count).await);
    }
    panic!("the subscriber did not reach seq {}", end - 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_cut_off_at_several_points_resumes_with_no_gap_and_no_duplicate() {
    let h = Harness::new().await;
    h.bootstrap().await;
    write(&h, 0, 60).await;
    let base = listen(&h).await;
    let token = h.token(Role::Subscriber).to_owned();
    let end = h.size().await;
    let got = resume_until(&base, &token, "", end, &[3, 11, 1, 25, 7]).await;
    assert_eq!(got.len() as u64, end);
    check_chain(&got);
}

/// SplitMix64: cut-off points drawn at random, reproducible from the printed seed.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_cut_off_at_random_points_resumes_with_no_gap_and_no_duplicate() {
    // CUSTODIA_TEST_SEED replays a failing run; otherwise every run draws new points.
    let seed = std::env::var("CUSTODIA_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
            now.map_or(0, |d| d.as_nanos() as u64)
        });
    eprintln!("cut-off points from CUSTODIA_TEST_SEED={seed}");
    let mut state = seed;
    let h = Harness::new().await;
    h.bootstrap().await;
    write(&h, 0, 60).await;
    let base = listen(&h).await;
    let token = h.token(Role::Subscriber).to_owned();
    let end = h.size().await;
    // Each reconnect costs a round trip; four patterns keep the suite quick.
    for _ in 0..4 {
        let cuts = 1 + splitmix(&mut state) % 6;
        let pattern: Vec<usize> = (0..cuts)
            .map(|_| 1 + (splitmix(&mut state) % 30) as usize)
            .collect();
        let got = resume_until(&base, &token, "", end, &pattern).await;
        assert_eq!(got.len() as u64, end, "seed {seed}, pattern {pattern:?}");
        check_chain(&got);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_entries_arrive_while_the_subscriber_reconnects() {
    let h = Harness::new().await;
    h.bootstrap().await;
    let base = listen(&h).await;
    let token = h.token(Role::Subscriber).to_owned();
    let start = h.size().await;
    let (got, ()) = tokio::join!(
        resume_until(&base, &token, "", start + 40, &[2, 9, 4, 13]),
        write(&h, 0, 40)
    );
    assert_eq!(got.len() as u64, start + 40);
    check_chain(&got);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_that_lags_behind_a_tiny_ring_catches_up_from_the_store() {
    let writer = WriterConfig {
        broadcast_entries_max: 2,
        ..WriterConfig::default()
    };
    let h = Harness::with_writer(Config::default(), writer).await;
    h.bootstrap().await;
    let start = h.size().await;
    let mut follower = Follower::new(h.state.ledger.clone(), 0);
    for seq in 0..start {
        assert_eq!(follower.next().await.unwrap().unwrap().seq, seq);
    }
    // Now live at the end; 30 entries land while it does not read: the ring of 2 overflows.
    write(&h, 0, 30).await;
    for seq in start..start + 30 {
        let entry = tokio::time::timeout(Duration::from_secs(10), follower.next()).await;
        assert_eq!(
            entry.unwrap().unwrap().unwrap().seq,
            seq,
            "no gap, no duplicate"
        );
    }
    assert_eq!(follower.position(), start + 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_by_kind_and_type_and_starts_from_a_seq() {
    let h = Harness::new().await;
    h.bootstrap().await;
    write(&h, 0, 5).await;
    let base = listen(&h).await;
    let token = h.token(Role::Subscriber).to_owned();
    let got = read_some(&base, &token, "?kind=policy&type=policy.drafted", None, 100).await;
    assert_eq!(got.len(), 5);
    for m in &got {
        let v: Value = serde_json::from_str(&m.data).unwrap();
        assert_eq!(v["event"]["type"], "policy.drafted");
    }
    let from = got[2].id;
    let later = read_some(
        &base,
        &token,
        &format!("?from={from}&kind=policy"),
        None,
        100,
    )
    .await;
    assert_eq!(
        later.iter().map(|m| m.id).collect::<Vec<_>>(),
        got[2..].iter().map(|m| m.id).collect::<Vec<_>>()
    );
    let roles = read_some(&base, &token, "?kind=role", None, 100).await;
    for m in &roles {
        let v: Value = serde_json::from_str(&m.data).unwrap();
        assert!(
            v["event"]["stream"].as_str().unwrap().starts_with("role/"),
            "kind filter"
        );
    }
    assert!(!roles.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_miss_nothing_when_the_writer_ring_is_tiny_and_entries_land_live() {
    let writer = WriterConfig {
        broadcast_entries_max: 2,
        ..WriterConfig::default()
    };
    let h = Harness::with_writer(Config::default(), writer).await;
    h.bootstrap().await;
    let base = listen(&h).await;
    let token = h.token(Role::Subscriber).to_owned();
    let start = h.size().await;
    let (got, ()) = tokio::join!(
        resume_until(&base, &token, "", start + 40, &[1000]),
        write(&h, 0, 40)
    );
    assert_eq!(got.len() as u64, start + 40);
    check_chain(&got);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_hands_over_what_is_at_hand_without_waiting_and_nothing_more() {
    let h = Harness::new().await;
    h.bootstrap().await;
    let start = h.size().await;
    let mut follower = Follower::new(h.state.ledger.clone(), 0);
    // Stored entries come a page at a time: the first is read, the rest of the page is at hand.
    assert_eq!(follower.next().await.unwrap().unwrap().seq, 0);
    for seq in 1..start {
        assert_eq!(follower.next_ready().unwrap().seq, seq);
    }
    // At the end: nothing at hand until entries land, then each once and in order.
    assert!(follower.next_ready().is_none());
    write(&h, 0, 5).await;
    let mut got = vec![follower.next().await.unwrap().unwrap().seq];
    while got.len() < 5 {
        match follower.next_ready() {
            Some(entry) => got.push(entry.seq),
            None => got.push(follower.next().await.unwrap().unwrap().seq),
        }
    }
    assert_eq!(got, (start..start + 5).collect::<Vec<_>>());
    assert!(follower.next_ready().is_none());
    assert_eq!(follower.position(), start + 5);
}
