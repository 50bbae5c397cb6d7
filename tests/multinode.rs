//! Several `custodia serve` nodes on one PostgreSQL ledger: two server processes, each with its
//! own node key, take commands from 32 concurrent clients on overlapping streams; one node is
//! killed with SIGKILL half-way and its clients move to the other. Afterwards the ledger is one
//! valid chain, every acknowledged entry is in it exactly once, no stream version is taken
//! twice, and a subscriber on the surviving node saw every entry of both nodes, promptly.
//!
//! Needs a server: `CUSTODIA_TEST_POSTGRES_URL=postgres://… cargo test --test multinode --
//! --ignored` (scripts/ci-postgres.sh prints such a URL). Each run works
//! in a database of its own, dropped at the end.

mod common;
#[path = "../crates/domain/tests/common/mod.rs"]
mod domain;

use common::{check, ok, output, token, Server};
use custodia_domain::*;
use domain::{actor, day, id, role_assign, role_define, t};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CLIENTS: usize = 32;
/// Acknowledged appends each client makes.
const ROUNDS: usize = 20;
/// Streams the clients share (so that they race for versions).
const STREAMS: usize = 8;

/// A fresh database on the test server; dropped when this guard is.
struct Database {
    admin: String,
    name: String,
    url: String,
}

impl Database {
    async fn create() -> Database {
        let admin = std::env::var("CUSTODIA_TEST_POSTGRES_URL")
            .ok()
            .filter(|url| !url.is_empty())
            .expect("CUSTODIA_TEST_POSTGRES_URL must name a PostgreSQL server for this test");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("custodia_multinode_{}_{nanos}", std::process::id());
        let pool = sqlx::PgPool::connect(&admin).await.unwrap();
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let (server, _) = admin.rsplit_once('/').expect("a URL with a database");
        let url = format!("{server}/{name}");
        Database { admin, name, url }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        // Best effort, from a thread of its own: Drop cannot await.
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(pool) = sqlx::PgPool::connect(&admin).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::raw_sql(&sql).execute(&pool).await;
                }
            });
        })
        .join();
    }
}

/// Posts `command` at `expected`; the reply's status and body.
async fn post(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    command: &Command,
    expected: u64,
) -> reqwest::Result<(u16, Value)> {
    let mut body = command.to_json();
    body["expected_version"] = json!(expected);
    body["occurred_at"] = json!(day(1).to_string());
    let res = http
        .post(format!("{base}/v1/streams/{}/commands", command.stream()))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    let status = res.status().as_u16();
    Ok((status, res.json().await?))
}

async fn version(http: &reqwest::Client, base: &str, token: &str, stream: &str) -> Option<u64> {
    let res = http
        .get(format!("{base}/v1/streams/{stream}"))
        .bearer_auth(token)
        .send()
        .await
        .ok()?;
    let body: Value = res.json().await.ok()?;
    body["version"].as_u64()
}

fn obligation(n: usize, cmd: ObligationCommand) -> Command {
    Command::Obligation(id(&format!("O-{n}")), cmd)
}

fn review(round: usize) -> ObligationCommand {
    ObligationCommand::Review(ObligationReviewed {
        compliant: !round.is_multiple_of(5),
        notes: t("quarterly check"),
        next_review_due: day(400),
    })
}

/// Roles, and the shared obligations, set up through node `base`.
async fn setup(http: &reqwest::Client, base: &str, url: &str) {
    let admin = token(url, "service:setup", "admin");
    let ceo = token(url, &actor("ceo").to_string(), "top_management");
    let sm = token(url, &actor("sm").to_string(), "security_manager");
    let steps = [
        (&admin, role_define(roles::TOP_MANAGEMENT)),
        (
            &admin,
            role_assign(roles::TOP_MANAGEMENT, &actor("ceo"), None),
        ),
        (&ceo, role_define(roles::SECURITY_MANAGER)),
        (
            &ceo,
            role_assign(roles::SECURITY_MANAGER, &actor("sm"), None),
        ),
    ];
    let mut versions: HashMap<String, u64> = HashMap::new();
    for (token, command) in steps {
        let v = versions.entry(command.stream().to_string()).or_default();
        let (status, reply) = post(http, base, token, &command, *v).await.unwrap();
        assert_eq!(status, 201, "{reply}");
        *v += 1;
    }
    for n in 0..STREAMS {
        let record = ObligationCommand::Record(ObligationRecorded {
            title: t("AEO security criteria"),
            source: domain::c("AEO"),
            party: None,
            next_review_due: day(90),
        });
        let (status, reply) = post(http, base, &sm, &obligation(n, record), 0)
            .await
            .unwrap();
        assert_eq!(status, 201, "{reply}");
    }
}

/// An acknowledged append as the client saw it.
#[derive(Debug, Clone)]
struct Ack {
    seq: u64,
    hash: String,
    stream: String,
    version: u64,
    node: usize,
    at: Instant,
}

/// One client: `ROUNDS` acknowledged reviews of its stream, retrying stale versions, moving to
/// node 0 when its node stops answering.
async fn client(
    i: usize,
    bases: Arc<Vec<String>>,
    token: String,
    killed: Arc<AtomicBool>,
    acks: Arc<Mutex<Vec<Ack>>>,
    done: Arc<AtomicUsize>,
) -> (usize, usize) {
    let http = reqwest::Client::new();
    let n = i % STREAMS;
    let stream = format!("obligation/O-{n}");
    let mut node = i % bases.len();
    let (mut conflicts, mut lost) = (0, 0);
    let mut round = 0;
    while round < ROUNDS {
        if node != 0 && killed.load(Ordering::SeqCst) {
            node = 0;
        }
        let Some(expected) = version(&http, &bases[node], &token, &stream).await else {
            node = 0;
            continue;
        };
        match post(
            &http,
            &bases[node],
            &token,
            &obligation(n, review(round)),
            expected,
        )
        .await
        {
            Ok((201, reply)) => {
                let entry = &reply["entries"][0];
                acks.lock().unwrap().push(Ack {
                    seq: entry["seq"].as_u64().unwrap(),
                    hash: entry["hash"].as_str().unwrap().to_owned(),
                    stream: stream.clone(),
                    version: entry["version"].as_u64().unwrap(),
                    node,
                    at: Instant::now(),
                });
                done.fetch_add(1, Ordering::SeqCst);
                round += 1;
            }
            Ok((409, _)) => conflicts += 1,
            // Not expected with a token per client, but a limit is not a failure.
            Ok((429, _)) => tokio::time::sleep(Duration::from_millis(100)).await,
            Ok((status, reply)) => panic!("client {i}: {status} {reply}"),
            // The node died under this request: it may or may not have committed; it was not
            // acknowledged, so nothing is expected of it.
            Err(_) => {
                lost += 1;
                node = 0;
            }
        }
    }
    (conflicts, lost)
}

/// Reads the event stream of node `base` from seq 0, noting when each seq arrived, until
/// `stop` is set and `until` seqs arrived.
async fn subscriber(
    base: String,
    token: String,
    arrived: Arc<Mutex<BTreeMap<u64, Instant>>>,
) -> Vec<u64> {
    let http = reqwest::Client::new();
    let mut res = http
        .get(format!("{base}/v1/events/stream?from=0"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (mut buffer, mut seqs) = (String::new(), Vec::new());
    while let Ok(Some(chunk)) = res.chunk().await {
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = buffer.find('\n') {
            let line: String = buffer.drain(..=end).collect();
            if let Some(id) = line.strip_prefix("id:") {
                let seq: u64 = id.trim().parse().unwrap();
                arrived.lock().unwrap().insert(seq, Instant::now());
                seqs.push(seq);
            }
        }
    }
    seqs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: CUSTODIA_TEST_POSTGRES_URL, run with --ignored (.ci/run does)"]
async fn two_nodes_one_chain_and_a_node_killed_mid_load() {
    let db = Database::create().await;
    let keys = tempfile::tempdir().unwrap();
    let (k1, k2) = (keys.path().join("node1"), keys.path().join("node2"));
    let k1s = k1.to_str().unwrap();
    ok(&[
        "init",
        "--data",
        &db.url,
        "--keys",
        k1s,
        "--name",
        "acme.example/sms",
    ]);
    std::fs::create_dir_all(&k2).unwrap();
    let node2_key = k2.join("node.pem");
    let public = ok(&["keys", "generate", "--out", node2_key.to_str().unwrap()]);
    let root = k1.join("root.pem");
    ok(&[
        "keys",
        "register",
        "--data",
        &db.url,
        "--keys",
        k1s,
        "--root-key",
        root.to_str().unwrap(),
        "--key",
        public.trim(),
        "--purposes",
        "entry,checkpoint",
        "--actor",
        "*",
        "--label",
        "node-2",
    ]);

    let serve = |keys: &Path| {
        Server::start(&["serve", "--data", &db.url, "--keys", keys.to_str().unwrap()])
    };
    let mut nodes = vec![serve(&k1), serve(&k2)];
    let bases = Arc::new(nodes.iter().map(|n| n.base.clone()).collect::<Vec<_>>());
    let http = reqwest::Client::new();
    // Set up through node 1 so that node 0 learns it from the database alone.
    setup(&http, &bases[1], &db.url).await;
    // A token per client, as 32 separate clients would have (rate limits are per token).
    let sm = actor("sm").to_string();
    let tokens: Vec<String> = (0..CLIENTS)
        .map(|_| token(&db.url, &sm, "security_manager"))
        .collect();
    let watcher = token(&db.url, "service:siem", "subscriber");
    let arrived = Arc::new(Mutex::new(BTreeMap::new()));
    let subscription = tokio::spawn(subscriber(bases[0].clone(), watcher, arrived.clone()));

    // Promptly, on a quiet ledger: an entry node 1 commits reaches node 0's subscriber on a
    // notification, not on the periodic head read (up to 2 s), nor on node 0's next append.
    let mut quiet_lags = Vec::new();
    for probe in 0..3 {
        let expected = version(&http, &bases[1], &tokens[0], "obligation/O-0")
            .await
            .unwrap();
        let command = obligation(0, review(probe));
        let (status, reply) = post(&http, &bases[1], &tokens[0], &command, expected)
            .await
            .unwrap();
        assert_eq!(status, 201, "{reply}");
        let (seq, acked) = (reply["entries"][0]["seq"].as_u64().unwrap(), Instant::now());
        let lag = loop {
            if let Some(at) = arrived.lock().unwrap().get(&seq) {
                break at.saturating_duration_since(acked);
            }
            assert!(
                acked.elapsed() < Duration::from_secs(10),
                "seq {seq} from node 1 never reached node 0's subscriber"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        quiet_lags.push(lag);
    }
    assert!(
        quiet_lags
            .iter()
            .all(|lag| *lag < Duration::from_millis(500)),
        "node 1's entries reached node 0's subscriber after {quiet_lags:?}"
    );

    let (killed, done) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
    );
    let acks = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            tokio::spawn(client(
                i,
                bases.clone(),
                tokens[i].clone(),
                killed.clone(),
                acks.clone(),
                done.clone(),
            ))
        })
        .collect();
    // Half-way, node 1 dies as in a crash.
    let half = CLIENTS * ROUNDS / 2;
    let started = Instant::now();
    while done.load(Ordering::SeqCst) < half {
        assert!(started.elapsed() < Duration::from_secs(300), "load stalled");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    nodes[1].kill();
    let killed_at = Instant::now();
    killed.store(true, Ordering::SeqCst);
    let (mut conflicts, mut lost) = (0, 0);
    for c in clients {
        let (c, l) = c.await.unwrap();
        conflicts += c;
        lost += l;
    }
    let acks = acks.lock().unwrap().clone();
    assert_eq!(acks.len(), CLIENTS * ROUNDS);

    // One valid chain.
    check(&output(&["verify", "--data", &db.url]), 0, "verified");

    // Every acknowledgement is in it, once; no stream version twice.
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let rows: Vec<(i64, Vec<u8>, String, i64)> =
        sqlx::query_as("SELECT seq, hash, stream, version FROM entries ORDER BY seq")
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    let stored: HashMap<u64, (String, String, u64)> = rows
        .iter()
        .map(|(seq, hash, stream, version)| {
            let hash: String = hash.iter().map(|b| format!("{b:02x}")).collect();
            (*seq as u64, (hash, stream.clone(), *version as u64))
        })
        .collect();
    assert_eq!(stored.len(), rows.len());
    assert!(
        rows.iter().enumerate().all(|(i, r)| r.0 == i as i64),
        "seqs are dense"
    );
    let mut versions = HashSet::new();
    for (_, _, stream, version) in &rows {
        assert!(
            versions.insert((stream.clone(), *version)),
            "{stream} v{version} twice"
        );
    }
    let mut acked = HashSet::new();
    for a in &acks {
        assert!(acked.insert(a.seq), "seq {} acknowledged twice", a.seq);
        assert_eq!(
            stored.get(&a.seq),
            Some(&(a.hash.clone(), a.stream.clone(), a.version)),
            "acknowledged {a:?} is not stored as acknowledged"
        );
    }
    let by_node = |n| acks.iter().filter(|a| a.node == n).count();
    let after_kill = acks.iter().filter(|a| a.at > killed_at).count();
    assert!(
        by_node(1) > 0,
        "node 1 acknowledged appends before it was killed"
    );
    assert!(after_kill > 0, "node 0 carried on after node 1 was killed");

    // The subscriber on node 0 receives every entry, node 1's included, in order.
    let size = rows.len() as u64;
    let waiting = Instant::now();
    while arrived.lock().unwrap().len() < size as usize {
        assert!(
            waiting.elapsed() < Duration::from_secs(30),
            "the subscriber on node 0 has {} of {size} entries",
            arrived.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(nodes);
    let seqs = subscription.await.unwrap();
    assert_eq!(
        seqs,
        (0..size).collect::<Vec<_>>(),
        "every entry once, in order"
    );
    // Under load too.
    let arrived = arrived.lock().unwrap();
    let mut lags: Vec<Duration> = acks
        .iter()
        .filter(|a| a.node == 1)
        .map(|a| arrived[&a.seq].saturating_duration_since(a.at))
        .collect();
    lags.sort();
    let median = lags[lags.len() / 2];
    println!(
        "{} acks ({} by node 1, {after_kill} after the kill), {conflicts} stale versions retried, \
         {lost} requests lost with node 1; node 1's entries reached node 0's subscriber after \
         {median:?} (median), {:?} (max) under load, {quiet_lags:?} when quiet",
        acks.len(),
        by_node(1),
        lags.last().unwrap()
    );
    assert!(median < Duration::from_millis(500), "median lag {median:?}");
}
