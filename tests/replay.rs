//! `custodia replay`: a small ledger appended in two batches; the registers as of the end of
//! the first batch are what the SMS looked like then, and differ from the registers later.
//! On the business-time axis, `--valid-at` a plain date includes the events of that day.

mod common;
#[path = "../crates/domain/tests/common/mod.rs"]
mod domain;

use common::{ok, output};
use custodia_domain::*;
use domain::*;
use serde_json::Value;
use std::path::Path;

/// Appends envelopes as JSON Lines; returns the receipts.
fn append(data: &str, dir: &Path, name: &str, envelopes: &[Envelope]) -> Vec<Value> {
    let file = dir.join(name);
    let lines: Vec<String> = envelopes.iter().map(|e| e.to_json().to_string()).collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    ok(&["append", "--data", data, "--file", file.to_str().unwrap()])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The ledger: roles and matrix, risk R-1 identified and assessed, incident INC-1 reported
/// (first batch); then R-1 treated, re-rated and accepted, and R-2 identified (second batch).
/// Returns the data directory and the first batch's last receipt.
fn ledger(tmp: &Path) -> (String, Value) {
    let data = tmp.join("data");
    let d = data.to_str().unwrap().to_owned();
    common::init(&d);
    let mut w = World::new();
    let (owner, coo, handler) = (
        w.cast.owner.clone(),
        w.cast.coo.clone(),
        w.cast.handler.clone(),
    );
    w.ok(&owner, 4, risk("R-1", risk_identified(&owner)));
    w.ok(&owner, 5, risk("R-1", RiskCommand::Assess(rate(4, 4))));
    w.ok(
        &handler,
        6,
        incident("INC-1", incident_reported(Severity::High)),
    );
    let first = w.log.len();
    w.ok(&owner, 8, risk("R-1", treatment("T-1", day(60), &owner)));
    let done = TreatmentCompleted {
        treatment: id("T-1"),
        evidence: t("guards hired"),
    };
    w.ok(
        &owner,
        10,
        risk("R-1", RiskCommand::CompleteTreatment(done)),
    );
    w.ok(
        &owner,
        11,
        risk("R-1", RiskCommand::AssessResidual(rate(2, 2))),
    );
    let accepted = RiskAccepted {
        rationale: t("within appetite"),
        expires: Some(day(2000)),
    };
    w.ok(&coo, 12, risk("R-1", RiskCommand::Accept(accepted)));
    w.ok(&owner, 12, risk("R-2", risk_identified(&owner)));
    let receipts = append(&d, tmp, "first.jsonl", &w.log[..first]);
    let last = receipts.last().unwrap().clone();
    append(&d, tmp, "second.jsonl", &w.log[first..]);
    (d, last)
}

fn risks(doc: &Value) -> &Vec<Value> {
    doc["registers"]["risks"]["rows"].as_array().unwrap()
}

fn row<'a>(rows: &'a [Value], id: &str) -> Option<&'a Value> {
    rows.iter().find(|r| r["meta"]["id"] == id)
}

#[test]
fn replay_as_of_a_date_shows_the_registers_of_that_date() {
    let tmp = tempfile::tempdir().unwrap();
    let (d, mid) = ledger(tmp.path());
    let mid_at = mid["recorded_at"].as_str().unwrap();
    let mid_size = mid["seq"].as_u64().unwrap() + 1;

    let then: Value = serde_json::from_str(&ok(&[
        "replay",
        "--data",
        &d,
        "--as-of",
        mid_at,
        "--register",
        "risks",
        "--register",
        "incidents",
        "--json",
    ]))
    .unwrap();
    assert_eq!(then["tree_size"], mid_size, "{then:#}");
    assert_eq!(then["last_recorded_at"], mid_at);
    let r1 = row(risks(&then), "R-1").expect("R-1 was known then");
    assert_eq!(r1["status"], "open", "assessed, not yet accepted: {r1:#}");
    assert!(
        r1["accepted"].is_null() && r1["residual"].is_null(),
        "{r1:#}"
    );
    assert!(row(risks(&then), "R-2").is_none(), "R-2 came later");
    assert_eq!(then["registers"]["incidents"]["total"], 1);
    assert!(
        then["registers"].get("policies").is_none(),
        "only the registers asked for"
    );

    let later = chrono_like_now();
    let now: Value = serde_json::from_str(&ok(&[
        "replay",
        "--data",
        &d,
        "--as-of",
        &later,
        "--register",
        "risks",
        "--json",
    ]))
    .unwrap();
    assert!(now["tree_size"].as_u64().unwrap() > mid_size);
    let r1 = row(risks(&now), "R-1").unwrap();
    assert_eq!(r1["status"], "accepted", "{r1:#}");
    assert!(row(risks(&now), "R-2").is_some());
    assert_ne!(then["registers"]["risks"], now["registers"]["risks"]);

    // The tables say the same, and state the point they answer for.
    let text = ok(&["replay", "--data", &d, "--as-of", mid_at]);
    assert!(text.contains(&format!("as of {mid_at}")), "{text}");
    assert!(
        text.contains(&format!("ledger size {mid_size}: ")),
        "{text}"
    );
    assert!(text.contains("\nrisks (1 row)"), "{text}");
    let r1_line = text
        .lines()
        .find(|l| l.trim_start().starts_with("R-1 "))
        .unwrap();
    assert!(
        r1_line.contains(" open ") && r1_line.contains("Theft at truck stops"),
        "{r1_line}"
    );
    assert!(!text.contains("R-2"), "{text}");
    assert!(
        text.contains("\nempty: "),
        "empty registers are listed on one line: {text}"
    );
}

/// An instant after everything appended: now, in RFC 3339 with an offset, as a user would
/// type it.
fn chrono_like_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 60;
    let t = Timestamp::from_micros(secs * 1_000_000)
        .unwrap()
        .to_string();
    // 2026-12-01T18:30:00.000000Z → 2026-12-01T19:30:00+01:00
    let hour: u32 = t[11..13].parse().unwrap();
    if hour < 23 {
        format!("{}T{:02}{}+01:00", &t[..10], hour + 1, &t[13..19])
    } else {
        format!("{}Z", &t[..19])
    }
}

#[test]
fn replay_valid_at_a_plain_date_includes_that_whole_day() {
    let tmp = tempfile::tempdir().unwrap();
    let (d, mid) = ledger(tmp.path());
    // day(11) is 2026-01-12: the residual rating happened that day, the acceptance the next.
    let doc: Value = serde_json::from_str(&ok(&[
        "replay",
        "--data",
        &d,
        "--valid-at",
        "2026-01-12",
        "--register",
        "risks",
        "--json",
    ]))
    .unwrap();
    assert_eq!(doc["statuses_at"], "2026-01-12T23:59:59.999999Z");
    let r1 = row(risks(&doc), "R-1").unwrap();
    assert!(!r1["residual"].is_null(), "rated on the 12th: {r1:#}");
    assert_eq!(r1["status"], "open", "accepted only on the 13th: {r1:#}");
    assert!(row(risks(&doc), "R-2").is_none());

    // Valid at the 13th, but as known at the end of the first batch: only that batch.
    let mid_at = mid["recorded_at"].as_str().unwrap();
    let doc: Value = serde_json::from_str(&ok(&[
        "replay",
        "--data",
        &d,
        "--valid-at",
        "2026-01-13",
        "--as-of",
        mid_at,
        "--register",
        "risks",
        "--json",
    ]))
    .unwrap();
    let r1 = row(risks(&doc), "R-1").unwrap();
    assert!(
        r1["residual"].is_null() && r1["accepted"].is_null(),
        "{r1:#}"
    );
    let text = ok(&[
        "replay",
        "--data",
        &d,
        "--valid-at",
        "2026-01-13",
        "--as-of",
        mid_at,
    ]);
    assert!(
        text.contains("valid at 2026-01-13T23:59:59.999999Z, as known at"),
        "{text}"
    );
}

#[test]
fn replay_refuses_bad_dates_unknown_registers_and_dates_before_genesis() {
    let tmp = tempfile::tempdir().unwrap();
    let (d, _) = ledger(tmp.path());
    let cases: [(&[&str], &str); 6] = [
        (&["--as-of", "2026-02-30"], "not a calendar date"),
        (&["--as-of", "yesterday"], "--as-of"),
        (&["--as-of", "2020-01-01"], "before the ledger began"),
        (&["--as-of", "2030-01-01", "--register", "kpis"], "kpis"),
        (&[], "--as-of"),
        (&["--as-of", "2030-01-01", "--limit", "0"], "--limit"),
    ];
    for (extra, says) in cases {
        let mut args = vec!["replay", "--data", &d];
        args.extend_from_slice(extra);
        let out = output(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(says), "{extra:?}: {err}");
        assert!(out.stdout.is_empty(), "{extra:?} printed a result");
    }
    let missing = tmp.path().join("nothing-here");
    let out = output(&[
        "replay",
        "--data",
        missing.to_str().unwrap(),
        "--as-of",
        "2030-01-01",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds no ledger"));
}
