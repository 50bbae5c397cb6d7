//! Benchmarks of the API against the ledger underneath (outside the default tests):
//!
//! 1. commands over HTTP from 64 concurrent clients, against direct in-process appends from 64
//!    concurrent tasks (the issue asks for a ratio of at least 0.5), in interleaved rounds; with
//!    the process's CPU time per operation, which the load of other processes does not move;
//! 2. SSE fan-out: `subscribers` clients each receive every one of `events` entries while 64
//!    writers append them at `rate` entries/s; the lag of each delivery is the time from the
//!    entry's `recorded_at` (taken before it is signed and committed) to the arrival of the
//!    chunk that carries it (p50/p99/max).
//!
//! `cargo bench -p custodia-api --bench http -- [commands] [subscribers] [events] [rate]`
//! (defaults 20000, 100, 100000, 0; rate 0 appends as fast as the ledger takes them, which is
//! the heaviest load: the writer, the fan-out and the subscribers share the cores).
//!
//! Everything runs in one process on the machine's cores, so the clients here are built to
//! cost little: commands go over plain keep-alive HTTP/1.1 connections with pre-built
//! requests, and subscribers read `id` and `recorded_at` without decoding each entry's JSON.
//! What is measured is the server's work, not the load generator's.

use custodia_api::auth::{ApiDb, Role};
use custodia_api::{app, AppState, Config};
use custodia_ledger::entry::Event;
use custodia_ledger::ledger::{InitOptions, Ledger};
use custodia_ledger::time::Timestamp;
use custodia_ledger::writer::{AppendRequest, Expect};
use futures_util::StreamExt as _;
use memchr::memmem;
use serde_json::{json, Map};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

// `custodia serve` runs on mimalloc; the benchmark measures the same allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

/// The process's CPU time so far (user + system, all threads), in seconds; Linux only.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces): state is the 3rd, utime the 14th.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let (user, system): (u64, u64) = (fields.next()?.parse().ok()?, fields.next()?.parse().ok()?);
    // USER_HZ is 100 on every Linux platform.
    Some((user + system) as f64 / 100.0)
}

/// A timed phase: operations per second, and the process's CPU time per operation (µs).
#[derive(Clone, Copy)]
struct Phase {
    rate: f64,
    cpu_us: Option<f64>,
}

/// Times `n` operations from `start` (wall clock and CPU time).
struct Timer(Instant, Option<f64>);

impl Timer {
    fn start() -> Self {
        Self(Instant::now(), cpu_seconds())
    }

    fn stop(self, n: usize) -> Phase {
        let cpu = self
            .1
            .zip(cpu_seconds())
            .map(|(a, b)| (b - a) * 1e6 / n as f64);
        Phase {
            rate: n as f64 / self.0.elapsed().as_secs_f64(),
            cpu_us: cpu,
        }
    }
}

/// Appends/s with `CLIENTS` tasks appending `n` events in all, straight to the ledger.
async fn direct(n: usize) -> Phase {
    let (_dir, ledger, _) = ledger().await;
    let start = Timer::start();
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
    start.stop(n)
}

async fn serve(state: AppState) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app(state)).await.unwrap() });
    addr
}

/// One keep-alive HTTP/1.1 connection that sends a request and reads its whole response, with
/// no URL parsing, header map or pool per request: the load generator shares the cores with
/// the server and should take as little of them as it can.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        Self {
            stream,
            buf: Vec::with_capacity(4096),
        }
    }

    /// POSTs `body` to `path`; panics unless the answer is 201 Created.
    async fn post(&mut self, path: &str, token: &str, body: &[u8]) {
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nhost: bench\r\nauthorization: Bearer {token}\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        self.stream.write_all(&request).await.unwrap();
        let (status, answer) = self.response().await;
        assert_eq!(status, 201, "{path}: {}", String::from_utf8_lossy(&answer));
    }

    /// Reads one response (the API answers with a Content-Length): status and body.
    async fn response(&mut self) -> (u16, Vec<u8>) {
        loop {
            if let Some(end) = memmem::find(&self.buf, b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buf[..end]).unwrap();
                let status: u16 = head.get(9..12).and_then(|s| s.parse().ok()).unwrap();
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse().ok())?
                    })
                    .expect("a Content-Length");
                let total = end + 4 + length;
                if self.buf.len() >= total {
                    let body = self.buf[end + 4..total].to_vec();
                    self.buf.drain(..total);
                    return (status, body);
                }
            }
            let n = self.stream.read_buf(&mut self.buf).await.unwrap();
            assert!(n > 0, "the server closed the connection");
        }
    }
}

async fn post(addr: SocketAddr, token: &str, stream: &str, body: serde_json::Value) {
    let path = format!("/v1/streams/{stream}/commands");
    let body = serde_json::to_vec(&body).unwrap();
    Conn::open(addr).await.post(&path, token, &body).await;
}

/// Commands/s with `CLIENTS` HTTP clients sending `n` policy drafts in all.
async fn over_http(n: usize) -> Phase {
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
    let addr = serve(AppState::new(ledger, db, config)).await;
    let role = json!({"title": "a role", "responsibilities": [], "authorities": []});
    post(
        addr,
        &admin,
        "role/top_management",
        json!({"action": "define", "data": role, "expected_version": 0}),
    )
    .await;
    let assign =
        |who: &str, v| json!({"action": "assign", "data": {"person": who}, "expected_version": v});
    post(
        addr,
        &admin,
        "role/top_management",
        assign("user:ceo@acme.example", 1),
    )
    .await;
    post(
        addr,
        &ceo,
        "role/security_manager",
        json!({"action": "define", "data": role, "expected_version": 0}),
    )
    .await;
    post(
        addr,
        &ceo,
        "role/security_manager",
        assign("user:sm@acme.example", 1),
    )
    .await;
    let mut conns = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        conns.push(Conn::open(addr).await);
    }
    let body = serde_json::to_vec(&json!({"action": "draft", "data": {"title": "Security policy", "content_hash": "ab".repeat(32)}, "expected_version": 0})).unwrap();
    let start = Timer::start();
    let tasks: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(c, mut conn)| {
            let (sm, body) = (sm.clone(), body.clone());
            tokio::spawn(async move {
                for i in (c..n).step_by(CLIENTS) {
                    let path = format!("/v1/streams/policy/H-{i}/commands");
                    conn.post(&path, &sm, &body).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    start.stop(n)
}

/// One subscriber: reads until it has `events` entries from seq `from` on, checking that the
/// ids run on with no gap and no duplicate; returns each one's lag (µs).
async fn subscribe(base: String, token: String, from: u64, events: usize) -> Vec<i64> {
    let res = reqwest::Client::new()
        .get(format!("{base}/v1/events/stream?from={from}&kind=policy"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let mut body = res.bytes_stream();
    let (mut buf, mut lags) = (Vec::<u8>::new(), Vec::with_capacity(events));
    let recorded = memmem::Finder::new(b"\"recorded_at\": \"");
    let mut next = from;
    while lags.len() < events {
        let chunk = body.next().await.expect("stream open").unwrap();
        // Every message in a chunk arrived when the chunk did.
        let arrived = Timestamp::now().micros();
        buf.extend_from_slice(&chunk);
        let mut at = 0;
        while let Some(end) = memmem::find(&buf[at..], b"\n\n") {
            let block = &buf[at..at + end];
            at += end + 2;
            let Some(id) = block.strip_prefix(b"id: ") else {
                continue; // a keep-alive comment
            };
            let id_end = memchr::memchr(b'\n', id).unwrap();
            let id: u64 = std::str::from_utf8(&id[..id_end]).unwrap().parse().unwrap();
            assert_eq!(id, next, "ids run on with no gap and no duplicate");
            next += 1;
            // The entry's own `recorded_at`: the stored layout puts it before the event.
            let i = recorded.find(block).expect("a recorded_at") + recorded.needle().len();
            let at_text = std::str::from_utf8(&block[i..i + 27]).unwrap();
            let recorded_at = Timestamp::parse(at_text).unwrap();
            lags.push(arrived - recorded_at.micros());
        }
        buf.drain(..at);
    }
    lags
}

/// `events` policy drafts from `CLIENTS` tasks, the i-th not before `start + i / rate` (all at
/// once when `rate` is 0); returns the rate reached.
async fn produce(ledger: Arc<Ledger>, events: usize, rate: usize) -> f64 {
    let start = tokio::time::Instant::now();
    let writers: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let ledger = ledger.clone();
            tokio::spawn(async move {
                for i in (c..events).step_by(CLIENTS) {
                    if rate > 0 {
                        let due = Duration::from_secs_f64(i as f64 / rate as f64);
                        tokio::time::sleep_until(start + due).await;
                    }
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
    events as f64 / start.elapsed().as_secs_f64()
}

/// The sorted lags of every delivery, and the append rate reached.
async fn fan_out(subscribers: usize, events: usize, rate: usize) -> (Vec<i64>, f64) {
    let (_dir, ledger, db) = ledger().await;
    let token = db
        .create("service:siem", Role::Subscriber)
        .await
        .unwrap()
        .secret;
    let from = ledger.size().await.unwrap();
    let addr = serve(AppState::new(ledger.clone(), db, Config::default())).await;
    let base = format!("http://{addr}");
    let readers: Vec<_> = (0..subscribers)
        .map(|_| tokio::spawn(subscribe(base.clone(), token.clone(), from, events)))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await; // all connected and live
    let reached = produce(ledger, events, rate).await;
    let mut lags = Vec::new();
    for r in readers {
        let got = r.await.unwrap();
        assert_eq!(got.len(), events, "every subscriber receives every event");
        lags.extend(got);
    }
    lags.sort_unstable();
    (lags, reached)
}

fn arg(n: usize, default: usize) -> usize {
    std::env::args()
        .filter(|a| !a.starts_with('-'))
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

/// Rounds of direct appends and commands over HTTP, interleaved so that both see the same
/// moments of a shared machine's load.
const ROUNDS: usize = 3;

fn cpu(p: Phase) -> String {
    p.cpu_us
        .map_or(String::new(), |us| format!(", {us:.0} µs CPU each"))
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

#[tokio::main]
async fn main() {
    let (commands, subscribers, events) = (arg(1, 20_000), arg(2, 100), arg(3, 100_000));
    let rate = arg(4, 0);
    let (mut ratios, mut cpu_ratios, mut directs) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=ROUNDS {
        let direct = direct(commands).await;
        let http = over_http(commands).await;
        println!(
            "round {round}: appends direct, {CLIENTS} tasks {:>7.0}/s{}; commands over HTTP, \
             {CLIENTS} clients {:>7.0}/s{}: ratio {:.2}",
            direct.rate,
            cpu(direct),
            http.rate,
            cpu(http),
            http.rate / direct.rate
        );
        ratios.push(http.rate / direct.rate);
        directs.push(direct.rate);
        if let (Some(d), Some(h)) = (direct.cpu_us, http.cpu_us) {
            cpu_ratios.push(d / h);
        }
    }
    let cpu_ratio = if cpu_ratios.is_empty() {
        String::new()
    } else {
        format!(
            "; CPU per direct append / CPU per command: {:.2}",
            median(cpu_ratios)
        )
    };
    println!(
        "commands over HTTP / direct appends ({commands} each, median of {ROUNDS} rounds): \
         ratio {:.2} (target >= 0.5){cpu_ratio}",
        median(ratios)
    );
    let direct = median(directs);
    let (lags, reached) = fan_out(subscribers, events, rate).await;
    let pct = |p: f64| lags[((lags.len() as f64 * p) as usize).min(lags.len() - 1)] as f64 / 1000.0;
    let asked = if rate == 0 {
        "as fast as the ledger takes them".to_owned()
    } else {
        format!("paced at {rate}/s")
    };
    println!(
        "SSE: {subscribers} subscribers x {events} events, appended at {reached:.0}/s ({asked}; \
         {:.2}x the median direct rate above): lag p50 {:.1} ms, p99 {:.1} ms (target < 250), \
         max {:.1} ms",
        reached / direct,
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
}
