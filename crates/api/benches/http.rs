//! Benchmarks of the API against the ledger underneath (outside the default tests):
//!
//! 1. commands over HTTP from 64 concurrent clients, against direct in-process appends from 64
//!    concurrent tasks (the issue asks for a ratio of at least 0.5);
//! 2. SSE fan-out: `subscribers` clients each receive every one of `events` entries; the lag of
//!    each delivery is the time from the entry's `recorded_at` to its arrival (p50/p99/max).
//!
//! `cargo bench -p custodia-api --bench http -- [commands] [subscribers] [events]`
//! (defaults 20000, 100, 100000: the figures; smaller ones make a quick run).

use custodia_api::auth::{ApiDb, Role};
use custodia_api::{app, AppState, Config};
use custodia_ledger::entry::Event;
use custodia_ledger::ledger::{InitOptions, Ledger};
use custodia_ledger::time::Timestamp;
use custodia_ledger::writer::{AppendRequest, Expect};
use futures_util::StreamExt as _;
use serde_json::{json, Map};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CLIENTS: usize = 64;

async fn ledger() -> (tempfile::TempDir, Arc<Ledger>, ApiDb) {
    let dir = tempfile::tempdir().unwrap();
    let options = InitOptions {
        name: "bench.example/sms".into(),
        actor: "user:root".into(),
        root_passphrase: None,
    };
    Ledger::init(dir.path(), &options).await.unwrap();
    let ledger = Arc::new(Ledger::open(dir.path()).await.unwrap());
    let db = ApiDb::open(dir.path()).await.unwrap();
    (dir, ledger, db)
}

fn draft_event(stream: &str) -> Event {
    let mut data = Map::new();
    data.insert("title".into(), json!("Security policy"));
    data.insert("content_hash".into(), json!("ab".repeat(32)));
    Event::new(
        stream,
        1,
        "policy.drafted",
        1,
        Timestamp::now(),
        "user:sm@acme.example",
        data,
    )
    .unwrap()
}

/// Appends/s with `CLIENTS` tasks appending `n` events in all, straight to the ledger.
async fn direct(n: usize) -> f64 {
    let (_dir, ledger, _) = ledger().await;
    let start = Instant::now();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let ledger = ledger.clone();
            tokio::spawn(async move {
                for i in (c..n).step_by(CLIENTS) {
                    let event = draft_event(&format!("policy/D-{i}"));
                    ledger
                        .append(AppendRequest {
                            event,
                            attestation: None,
                            expect: Expect::Exact,
                        })
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    n as f64 / start.elapsed().as_secs_f64()
}

async fn serve(state: AppState) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app(state)).await.unwrap() });
    format!("http://{addr}")
}

async fn post(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    stream: &str,
    body: serde_json::Value,
) {
    let res = http
        .post(format!("{base}/v1/streams/{stream}/commands"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        201,
        "{}",
        res.text().await.unwrap_or_default()
    );
}

/// Commands/s with `CLIENTS` HTTP clients sending `n` policy drafts in all.
async fn over_http(n: usize) -> f64 {
    let (_dir, ledger, db) = ledger().await;
    let config = Config {
        rate_per_second: 1_000_000,
        rate_burst: 1_000_000,
        ..Config::default()
    };
    let admin = db
        .create("service:setup", Role::Admin)
        .await
        .unwrap()
        .secret;
    let ceo = db
        .create("user:ceo@acme.example", Role::TopManagement)
        .await
        .unwrap()
        .secret;
    let sm = db
        .create("user:sm@acme.example", Role::SecurityManager)
        .await
        .unwrap()
        .secret;
    let base = serve(AppState::new(ledger, db, config)).await;
    let http = reqwest::Client::new();
    let role = json!({"title": "a role", "responsibilities": [], "authorities": []});
    post(
        &http,
        &base,
        &admin,
        "role/top_management",
        json!({"action": "define", "data": role, "expected_version": 0}),
    )
    .await;
    let assign =
        |who: &str, v| json!({"action": "assign", "data": {"person": who}, "expected_version": v});
    post(
        &http,
        &base,
        &admin,
        "role/top_management",
        assign("user:ceo@acme.example", 1),
    )
    .await;
    post(
        &http,
        &base,
        &ceo,
        "role/security_manager",
        json!({"action": "define", "data": role, "expected_version": 0}),
    )
    .await;
    post(
        &http,
        &base,
        &ceo,
        "role/security_manager",
        assign("user:sm@acme.example", 1),
    )
    .await;
    let start = Instant::now();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (http, base, sm) = (http.clone(), base.clone(), sm.clone());
            tokio::spawn(async move {
                for i in (c..n).step_by(CLIENTS) {
                    let body = json!({"action": "draft", "data": {"title": "Security policy", "content_hash": "ab".repeat(32)}, "expected_version": 0});
                    post(&http, &base, &sm, &format!("policy/H-{i}"), body).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// One subscriber: reads until it has `events` entries from seq `from`; returns the lags (µs).
async fn subscribe(base: String, token: String, from: u64, events: usize) -> Vec<i64> {
    let res = reqwest::Client::new()
        .get(format!("{base}/v1/events/stream?from={from}&kind=policy"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let mut body = res.bytes_stream();
    let (mut buf, mut lags) = (Vec::<u8>::new(), Vec::with_capacity(events));
    while lags.len() < events {
        let chunk = body.next().await.expect("stream open").unwrap();
        buf.extend_from_slice(&chunk);
        while let Some(end) = buf.windows(2).position(|w| w == b"\n\n") {
            let block: Vec<u8> = buf.drain(..end + 2).collect();
            let block = String::from_utf8_lossy(&block);
            if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: ")) {
                let v: serde_json::Value = serde_json::from_str(data).unwrap();
                let at = Timestamp::parse(v["recorded_at"].as_str().unwrap()).unwrap();
                lags.push(Timestamp::now().micros() - at.micros());
            }
        }
    }
    lags
}

async fn fan_out(subscribers: usize, events: usize) -> Vec<i64> {
    let (_dir, ledger, db) = ledger().await;
    let token = db
        .create("service:siem", Role::Subscriber)
        .await
        .unwrap()
        .secret;
    let from = ledger.size().await.unwrap();
    let base = serve(AppState::new(ledger.clone(), db, Config::default())).await;
    let readers: Vec<_> = (0..subscribers)
        .map(|_| tokio::spawn(subscribe(base.clone(), token.clone(), from, events)))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await; // all connected and live
    let writers: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let ledger = ledger.clone();
            tokio::spawn(async move {
                for i in (c..events).step_by(CLIENTS) {
                    let event = draft_event(&format!("policy/S-{i}"));
                    ledger
                        .append(AppendRequest {
                            event,
                            attestation: None,
                            expect: Expect::Exact,
                        })
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    let mut lags = Vec::new();
    for r in readers {
        let got = r.await.unwrap();
        assert_eq!(got.len(), events, "every subscriber receives every event");
        lags.extend(got);
    }
    lags.sort_unstable();
    lags
}

fn arg(n: usize, default: usize) -> usize {
    std::env::args()
        .filter(|a| !a.starts_with('-'))
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let (commands, subscribers, events) = (arg(1, 20_000), arg(2, 100), arg(3, 100_000));
    let direct = direct(commands).await;
    let http = over_http(commands).await;
    println!("appends direct, {CLIENTS} tasks:     {direct:>9.0}/s ({commands} events)");
    println!(
        "commands over HTTP, {CLIENTS} clients: {http:>9.0}/s  ratio {:.2} (target >= 0.5)",
        http / direct
    );
    let lags = fan_out(subscribers, events).await;
    let pct = |p: f64| lags[((lags.len() as f64 * p) as usize).min(lags.len() - 1)] as f64 / 1000.0;
    println!(
        "SSE: {subscribers} subscribers x {events} events: lag p50 {:.1} ms, p99 {:.1} ms (target < 250), max {:.1} ms",
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
}
