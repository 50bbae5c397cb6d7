//! `custodia client` against `custodia serve` on an ephemeral port: events attested with a
//! local key file land with their attestation; a refused request prints the server's problem,
//! exits 2 and writes nothing; an unreachable server exits 3; the token is never printed.

mod common;
#[path = "../crates/domain/tests/common/mod.rs"]
mod domain;

use base64::Engine as _;
use common::{ok, stderr, token, Server};
use custodia_domain::*;
use domain::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Output;

/// `custodia ARGS` with the token in CUSTODIA_TOKEN, as users are told to pass it.
fn custodia(args: &[&str], token: Option<&str>) -> Output {
    let mut cmd = common::command(args);
    if let Some(token) = token {
        cmd.env("CUSTODIA_TOKEN", token);
    }
    cmd.output().unwrap()
}

async fn entries(base: &str, reader: &str) -> Vec<Value> {
    let page: Value = reqwest::Client::new()
        .get(format!("{base}/v1/entries?from=0&limit=1000"))
        .bearer_auth(reader)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["entries"].as_array().unwrap().clone()
}

fn jsonl(path: &Path, envelopes: &[&Envelope]) {
    let lines: Vec<String> = envelopes.iter().map(|e| e.to_json().to_string()).collect();
    std::fs::write(path, lines.join("\n")).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_lands_attested_events_and_a_refusal_prints_the_problem_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    ok(&["init", "--data", d, "--name", "acme.example/sms"]);
    let alice_file = tmp.path().join("alice.pem");
    let alice = ok(&["keys", "generate", "--out", alice_file.to_str().unwrap()]);
    let alice = alice.trim();
    let root = data.join("keys/root.pem");
    ok(&[
        "keys",
        "register",
        "--data",
        d,
        "--root-key",
        root.to_str().unwrap(),
        "--key",
        alice,
        "--purposes",
        "attest",
        "--actor",
        "user:owner@acme.example",
    ]);
    let bob_file = tmp.path().join("bob.pem");
    ok(&["keys", "generate", "--out", bob_file.to_str().unwrap()]);
    let owner_token = token(d, "user:owner@acme.example", "risk_owner");
    let reader = token(d, "user:lead@cb.example", "auditor");

    let mut w = World::new();
    let (owner, handler) = (w.cast.owner.clone(), w.cast.handler.clone());
    let identified = w.ok(&owner, 4, risk("R-1", risk_identified(&owner)));
    let assessed = w.ok(&owner, 5, risk("R-1", RiskCommand::Assess(rate(4, 4))));
    let planned = w.ok(&owner, 6, risk("R-1", treatment("T-1", day(60), &owner)));
    let reported = w.ok(
        &handler,
        6,
        incident("INC-1", incident_reported(Severity::High)),
    );
    let events = tmp.path().join("events.jsonl");
    jsonl(&events, &[&identified[0], &assessed[0]]);

    let server = Server::serve(d);
    server.ready().await;
    let base = server.base.clone();
    let before = entries(&base, &reader).await.len();
    let file = events.to_str().unwrap();
    let key = alice_file.to_str().unwrap();
    let out = custodia(
        &[
            "client", "submit", "--url", &base, "--key", key, "--file", file,
        ],
        Some(&owner_token),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let receipts: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(receipts.len(), 2, "{stdout}");
    assert_eq!(receipts[0]["seq"], before as u64);
    assert_eq!(receipts[1]["stream"], "risk/R-1");
    assert_eq!(receipts[1]["version"], 2);
    assert!(!stdout.contains(&owner_token) && !stderr(&out).contains(&owner_token));

    // Read back: each entry carries alice's attestation, which verifies over the event digest.
    let all = entries(&base, &reader).await;
    assert_eq!(all.len(), before + 2);
    for (entry, receipt) in all[before..].iter().zip(&receipts) {
        assert_eq!(entry["hash"], receipt["hash"]);
        assert_eq!(entry["attestation"]["key"], alice);
        let event = custodia_ledger::entry::Event::from_value(&entry["event"]).unwrap();
        let sig = base64::engine::general_purpose::STANDARD
            .decode(entry["attestation"]["sig"].as_str().unwrap())
            .unwrap();
        let sig = ed25519_dalek::Signature::from_slice(&sig).unwrap();
        let key = custodia_ledger::keys::PublicKey::from_base64(alice).unwrap();
        assert!(key.verify(&event.digest().unwrap(), &sig));
    }

    // Refusals: each prints the problem, exits 2, and writes nothing.
    let next = tmp.path().join("next.jsonl");
    jsonl(&next, &[&planned[0]]);
    let next = next.to_str().unwrap();
    let foreign = tmp.path().join("foreign.jsonl");
    jsonl(&foreign, &[&reported[0]]);
    let foreign = foreign.to_str().unwrap();
    let bob = bob_file.to_str().unwrap();
    let refusals: [(&str, &str, &str, &[&str]); 4] = [
        (
            "an unregistered key",
            bob,
            next,
            &["422", "rule attestation", "may not attest"],
        ),
        ("a bad token", key, next, &["401", "rule unauthenticated"]),
        (
            "another actor's event",
            key,
            foreign,
            &["403", "not the token's principal"],
        ),
        (
            "a stale version",
            key,
            events.to_str().unwrap(),
            &["409", "stale-version"],
        ),
    ];
    for (case, key, file, says) in refusals {
        let token = if case == "a bad token" {
            "cust_not-a-token"
        } else {
            &owner_token
        };
        let out = custodia(
            &[
                "client", "submit", "--url", &base, "--key", key, "--file", file,
            ],
            Some(token),
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{case}: {err}");
        for s in says {
            assert!(err.contains(s), "{case}: {s:?} missing from {err}");
        }
        assert!(out.stdout.is_empty(), "{case}: printed a receipt");
        assert!(!err.contains(&owner_token), "{case}: the token was printed");
        assert_eq!(
            entries(&base, &reader).await.len(),
            before + 2,
            "{case} wrote"
        );
    }

    // A forged signature (alice's key named, bob's signature) is refused the same way.
    let event = custodia_ledger::entry::Event::from_value(&planned[0].to_json()).unwrap();
    let bob_key = custodia_ledger::keys::SecretKey::read_pem(&bob_file, None).unwrap();
    let forged = event.attest(&bob_key).unwrap();
    let body = json!({"event": event.to_value(), "attestation": {"key": alice,
        "sig": base64::engine::general_purpose::STANDARD.encode(forged.sig.to_bytes())}});
    let res = reqwest::Client::new()
        .post(format!("{base}/v1/events"))
        .bearer_auth(&owner_token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let problem: Value = res.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("does not verify"),
        "{problem}"
    );
    assert_eq!(entries(&base, &reader).await.len(), before + 2);

    // The token from --token works too; a server that is not there is exit 3.
    let out = custodia(
        &[
            "client",
            "submit",
            "--url",
            &base,
            "--token",
            &owner_token,
            "--key",
            key,
            "--file",
            next,
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(entries(&base, &reader).await.len(), before + 3);
    let out = custodia(
        &[
            "client",
            "submit",
            "--url",
            "http://127.0.0.1:9",
            "--key",
            key,
            "--file",
            next,
        ],
        Some(&owner_token),
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let out = custodia(
        &[
            "client",
            "submit",
            "--url",
            "ftp://example",
            "--key",
            key,
            "--file",
            next,
        ],
        Some(&owner_token),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--url"));
    // A malformed token is refused without being repeated.
    let odd = format!("{owner_token} x");
    let out = custodia(
        &[
            "client", "submit", "--url", &base, "--key", key, "--file", next,
        ],
        Some(&odd),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("CUSTODIA_TOKEN") && !stderr(&out).contains(&owner_token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_reads_or_takes_the_expected_version_and_prints_refusals() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    ok(&["init", "--data", d, "--name", "acme.example/sms"]);
    let setup = token(d, "service:setup", "admin");
    let server = Server::serve(d);
    server.ready().await;
    let base = server.base.clone();

    let define = role_define(roles::TOP_MANAGEMENT);
    let stream = define.stream();
    let (kind, id) = (stream.kind().as_str(), stream.id().as_str().to_owned());
    let file = tmp.path().join("define.json");
    std::fs::write(&file, define.to_json().to_string()).unwrap();
    let f = file.to_str().unwrap();
    let run = |extra: &[&str], file: &str| {
        let mut args = vec![
            "client", "command", "--url", &base, "--kind", kind, "--id", &id,
        ];
        args.extend_from_slice(&["--file", file]);
        args.extend_from_slice(extra);
        custodia(&args, Some(&setup))
    };
    // No --expect-version: the current version (0) is read first.
    let out = run(&[], f);
    assert!(out.status.success(), "{}", stderr(&out));
    let receipt: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(receipt["stream"], stream.to_string());
    assert_eq!(receipt["version"], 1);
    // A stale expected version is a conflict; the same command again breaks a domain rule.
    let out = run(&["--expect-version", "0"], f);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("409"), "{}", stderr(&out));
    let out = run(&[], f);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("rule domain-rule"),
        "{}",
        stderr(&out)
    );
    // A file naming its actor is refused before anything is sent.
    let mut body = define.to_json();
    body["actor"] = json!("user:mallory@acme.example");
    std::fs::write(&file, body.to_string()).unwrap();
    let out = run(&[], f);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("\"actor\""), "{}", stderr(&out));

    let assign = role_assign(roles::TOP_MANAGEMENT, &actor("ceo"), None);
    std::fs::write(&file, assign.to_json().to_string()).unwrap();
    let out = run(&["--expect-version", "1"], f);
    assert!(out.status.success(), "{}", stderr(&out));
    let receipt: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(receipt["version"], 2);
}
