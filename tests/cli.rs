//! The `custodia` binary as a user meets it: commands run in temporary directories, asserting
//! exit codes, what is printed, and that refused input writes nothing.

mod common;

use common::{check, output, output_env, stdout, NAME};
use custodia_ledger::merkle;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/events.jsonl");

/// A data directory in a temporary directory.
struct Fixture {
    tmp: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        Self {
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    /// A fixture with a ledger holding genesis, the node key and the five example events.
    fn with_events() -> Self {
        let f = Self::new();
        check(&f.cmd(&["init", "--name", NAME]), 0, "created ledger");
        check(&f.cmd(&["append", "--file", EXAMPLES]), 0, "\"seq\":6");
        f
    }

    fn data(&self) -> String {
        self.path("data").display().to_string()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn p(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    /// Runs a command that takes `--data`.
    fn cmd(&self, args: &[&str]) -> Output {
        self.cmd_env(args, &[])
    }

    fn cmd_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let data = self.data();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--data", &data]);
        output_env(&all, env)
    }

    fn write(&self, name: &str, text: &str) -> String {
        std::fs::write(self.path(name), text).unwrap();
        self.p(name)
    }

    /// The ledger's size, as `verify --data --json` reports it (needs no key).
    fn size(&self) -> u64 {
        let out = self.cmd(&["verify", "--json"]);
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        report["entries"].as_u64().unwrap()
    }

    fn export(&self, out: &str) -> String {
        let dir = self.p(out);
        check(&self.cmd(&["export", "--out", &dir]), 0, "exported");
        dir
    }
}

fn event_line(stream: &str, version: &str, data: &str) -> String {
    format!(
        r#"{{"stream": "{stream}", "version": {version}, "type": "risk.noted", "schema": 1, "occurred_at": "2026-03-01T10:00:00+01:00", "actor": "user:alice@acme.example", "data": {data}}}"#
    )
}

#[test]
fn init_append_checkpoint_export_and_verify_the_bundle() {
    let f = Fixture::with_events();
    let out = f.cmd(&["checkpoint"]);
    check(&out, 0, &format!("{NAME}\n7\n"));
    let bundle = f.export("bundle");
    let out = output(&["verify", "--bundle", &bundle]);
    check(&out, 0, "verified 7 entries, root ");
    assert!(stdout(&out).contains(", 1 checkpoints"), "{}", stdout(&out));
    let out = output(&["verify", "--bundle", &bundle, "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["entries"], 7);
}

#[test]
fn receipts_are_json_with_seq_hash_stream_version_and_recorded_at() {
    let f = Fixture::new();
    check(&f.cmd(&["init", "--name", NAME]), 0, "root key");
    let out = f.cmd(&["append", "--file", EXAMPLES]);
    check(&out, 0, "policy/SP-001");
    let receipts: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seqs: Vec<u64> = receipts
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [2, 3, 4, 5, 6], "file order is kept");
    assert_eq!(receipts[1]["stream"], "policy/SP-001");
    assert_eq!(receipts[1]["version"], 2);
    assert_eq!(receipts[1]["hash"].as_str().unwrap().len(), 64);
    assert_eq!(receipts[1]["recorded_at"].as_str().unwrap().len(), 27);
}

#[test]
fn a_one_byte_change_in_the_exported_entries_fails_naming_its_seq() {
    let f = Fixture::with_events();
    let bundle = f.export("bundle");
    let path = Path::new(&bundle).join("entries.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[4] = lines[4].replacen("Container seal", "Container seaL", 1);
    assert_ne!(lines[4], text.lines().nth(4).unwrap());
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let out = output(&["verify", "--bundle", &bundle]);
    check(&out, 1, "seq 4: ");
    assert!(stdout(&out).contains("FAILED: "), "{}", stdout(&out));
}

#[test]
fn a_trusted_checkpoint_is_checked_for_consistency() {
    let f = Fixture::with_events();
    let note = stdout(&f.cmd(&["checkpoint"]));
    let trusted = f.write("trusted", &note);
    check(
        &f.cmd(&["append", "--file", EXAMPLES, "--expect", "next"]),
        0,
        "\"seq\":11",
    );
    let out = f.cmd(&["verify", "--trusted-checkpoint", &trusted]);
    check(&out, 0, "consistent with the trusted checkpoint");
    let bundle = f.export("bundle");
    let out = output(&[
        "verify",
        "--bundle",
        &bundle,
        "--trusted-checkpoint",
        &trusted,
    ]);
    check(&out, 0, "verified 12 entries");

    // A checkpoint of another ledger with the same name does not fit this history.
    let other = Fixture::with_events();
    let foreign = f.write("foreign", &stdout(&other.cmd(&["checkpoint"])));
    let out = output(&[
        "verify",
        "--bundle",
        &bundle,
        "--trusted-checkpoint",
        &foreign,
    ]);
    check(&out, 1, "consistency: ");
}

#[test]
fn inclusion_and_consistency_proofs_verify() {
    let f = Fixture::with_events();
    for seq in 0..7u64 {
        let out = f.cmd(&["prove", "inclusion", "--seq", &seq.to_string()]);
        check(&out, 0, "leaf_index");
        let proof: Value = serde_json::from_slice(&out.stdout).unwrap();
        let leaf = merkle::leaf_hash(&hash(&proof["entry_hash"]));
        let hashes: Vec<merkle::Hash> = proof["hashes"]
            .as_array()
            .unwrap()
            .iter()
            .map(hash)
            .collect();
        assert_eq!(proof["tree_size"], 7);
        merkle::verify_inclusion(&leaf, seq, 7, &hashes, &hash(&proof["root"])).unwrap();
    }
    let out = f.cmd(&["prove", "consistency", "--from", "3", "--to", "6"]);
    check(&out, 0, "first_root");
    let proof: Value = serde_json::from_slice(&out.stdout).unwrap();
    let hashes: Vec<merkle::Hash> = proof["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(hash)
        .collect();
    let (first, second) = (hash(&proof["first_root"]), hash(&proof["second_root"]));
    merkle::verify_consistency(3, 6, &hashes, &first, &second).unwrap();
}

fn hash(value: &Value) -> merkle::Hash {
    let text = value.as_str().unwrap();
    assert_eq!(text, text.to_lowercase());
    let bytes: Vec<u8> = (0..64)
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect();
    bytes.try_into().unwrap()
}

#[test]
fn proofs_out_of_range_are_refused_with_exit_2() {
    let f = Fixture::with_events();
    check(
        &f.cmd(&["prove", "inclusion", "--seq", "7"]),
        2,
        "--seq 7 is not in a tree of 7",
    );
    check(
        &f.cmd(&["prove", "inclusion", "--seq", "1", "--size", "8"]),
        2,
        "beyond the ledger's 7 entries",
    );
    check(
        &f.cmd(&["prove", "consistency", "--from", "5", "--to", "4"]),
        2,
        "--from 5 is larger",
    );
    check(
        &f.cmd(&["prove", "consistency", "--from", "9"]),
        2,
        "--from",
    );
}

#[test]
fn keys_rotate_then_append_then_verify() {
    let f = Fixture::with_events();
    let root = f.p("data/keys/root.pem");
    let out = f.cmd(&["keys", "rotate", "--root-key", &root]);
    check(&out, 0, "new node key");
    let retired: Vec<_> = std::fs::read_dir(f.path("data/keys"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pem.revoked"))
        .collect();
    assert_eq!(retired.len(), 1, "the old node key is kept, marked revoked");
    let line = event_line("risk/R-1", "1", "{}");
    let events = f.write("one.jsonl", &line);
    check(&f.cmd(&["append", "--file", &events]), 0, "\"seq\":9");
    check(&f.cmd(&["checkpoint"]), 0, &format!("{NAME}\n10\n"));
    check(&f.cmd(&["verify"]), 0, "verified 10 entries");
    let out = f.cmd(&["keys", "list"]);
    check(&out, 0, "revoked_at=seq 8");
}

#[test]
fn register_a_key_and_attest_events_with_it() {
    let f = Fixture::with_events();
    let key_file = f.p("alice.pem");
    let out = output(&["keys", "generate", "--out", &key_file]);
    check(&out, 0, "=");
    let public = stdout(&out).trim().to_owned();
    let root = f.p("data/keys/root.pem");
    let args = ["keys", "register", "--root-key", &root, "--key", &public];
    let out = f.cmd(
        &[
            &args[..],
            &["--purposes", "attest", "--actor", "user:alice@acme.example"],
        ]
        .concat(),
    );
    check(&out, 0, "registered");
    let events = f.write("a.jsonl", &event_line("risk/R-1", "1", "{}"));
    check(
        &f.cmd(&["append", "--file", &events, "--key", &key_file]),
        0,
        "\"seq\":8",
    );
    check(&f.cmd(&["verify"]), 0, "verified 9 entries");

    // A key that is not registered for the actor is refused before anything is written.
    let stranger = f.p("stranger.pem");
    check(&output(&["keys", "generate", "--out", &stranger]), 0, "=");
    let events = f.write("b.jsonl", &event_line("risk/R-1", "2", "{}"));
    let out = f.cmd(&["append", "--file", &events, "--key", &stranger]);
    check(
        &out,
        2,
        "is not registered to attest events of user:alice@acme.example",
    );
    assert_eq!(f.size(), 9);
}

#[test]
fn bad_events_are_refused_with_exit_2_and_nothing_is_written() {
    let f = Fixture::with_events();
    let good = event_line("risk/R-1", "1", "{}");
    let big = format!(r#"{{"text": "{}"}}"#, "x".repeat(61 * 1024));
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "malformed line",
            format!("{good}\n{{\"stream\": oops\n"),
            "line 2: invalid JSON",
        ),
        (
            "float",
            event_line("risk/R-2", "1", r#"{"cost": 12.5}"#),
            "decimals travel as strings",
        ),
        (
            "out of range",
            event_line("risk/R-2", "1", r#"{"n": 9007199254740992}"#),
            "outside ±(2^53−1)",
        ),
        (
            "version as string",
            event_line("risk/R-2", r#""1""#, "{}"),
            "\"version\" must be an integer",
        ),
        (
            "oversized",
            event_line("risk/R-2", "1", &big),
            "the limit is 61440",
        ),
        ("bad stream", event_line("Risk", "1", "{}"), "event.stream"),
        (
            "stale version",
            format!("{good}\n{}", event_line("policy/SP-001", "1", "{}")),
            "line 2: stream policy/SP-001 is at version 2",
        ),
        (
            "duplicate key",
            r#"{"stream": "risk/R-3", "stream": "risk/R-4"}"#.into(),
            "duplicate key",
        ),
        ("empty", "\n".into(), "holds no events"),
        (
            "key change unattested",
            event_line("ledger/keys", "2", "{}"),
            "ledger/keys",
        ),
    ];
    for (what, content, needle) in cases {
        let file = f.write("bad.jsonl", &content);
        let out = f.cmd(&["append", "--file", &file]);
        check(&out, 2, needle);
        assert!(stdout(&out).is_empty(), "{what}: no receipt");
        assert_eq!(f.size(), 7, "{what}: nothing was written");
    }
}

#[test]
fn an_unknown_entry_format_in_a_bundle_fails_naming_its_seq() {
    let f = Fixture::with_events();
    let bundle = f.export("bundle");
    let path = Path::new(&bundle).join("entries.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let changed: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 3 {
                l.replace("custodia.entry/1", "custodia.entry/2")
            } else {
                l.to_owned()
            }
        })
        .collect();
    std::fs::write(&path, changed.join("\n") + "\n").unwrap();
    let out = output(&["verify", "--bundle", &bundle]);
    check(
        &out,
        1,
        "seq 3: format: unreadable entry: member \"format\": unknown format",
    );
}

#[test]
fn a_truncated_bundle_fails() {
    let f = Fixture::with_events();
    let bundle = f.export("bundle");
    let path = Path::new(&bundle).join("entries.jsonl");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 50]).unwrap();
    let out = output(&["verify", "--bundle", &bundle]);
    check(
        &out,
        1,
        "seq 6: bundle: last line has no newline: the bundle is truncated",
    );
}

#[test]
fn a_corrupted_database_gets_a_clear_error() {
    let f = Fixture::with_events();
    // Garbage over the database and its write-ahead log (which holds recent pages until
    // SQLite checkpoints it, so garbage over the main file alone may not even be read).
    for name in ["data/ledger.db", "data/ledger.db-wal"] {
        let path = f.path(name);
        let len = std::fs::metadata(&path).map_or(4096, |m| m.len() as usize);
        let garbage: Vec<u8> = (0..len).map(|i| (i * 7 + 13) as u8).collect();
        std::fs::write(&path, garbage).unwrap();
    }
    check(&f.cmd(&["verify"]), 3, "damaged or not a SQLite database");
    let events = f.write("a.jsonl", &event_line("risk/R-1", "1", "{}"));
    check(
        &f.cmd(&["append", "--file", &events]),
        3,
        "damaged or not a SQLite database",
    );
    check(
        &f.cmd(&["keys", "list"]),
        3,
        "damaged or not a SQLite database",
    );
}

#[test]
fn a_missing_node_key_file_is_named_and_nothing_is_written() {
    let f = Fixture::with_events();
    std::fs::remove_file(f.path("data/keys/node.pem")).unwrap();
    let events = f.write("a.jsonl", &event_line("risk/R-1", "1", "{}"));
    check(
        &f.cmd(&["append", "--file", &events]),
        3,
        "keys/node.pem is missing",
    );
    check(&f.cmd(&["checkpoint"]), 3, "keys/node.pem is missing");
    assert_eq!(f.size(), 7);
}

#[test]
fn an_encrypted_root_key_needs_the_right_passphrase() {
    let f = Fixture::new();
    let pass = [("CUSTODIA_ROOT_PASSPHRASE", "correct horse")];
    check(
        &f.cmd_env(&["init", "--name", NAME, "--encrypt-root"], &pass),
        0,
        "root key",
    );
    let pem = std::fs::read_to_string(f.path("data/keys/root.pem")).unwrap();
    assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    let key = stdout(&output(&["keys", "generate", "--out", &f.p("k.pem")]));
    let root = f.p("data/keys/root.pem");
    let args = [
        "keys",
        "register",
        "--root-key",
        &root,
        "--key",
        key.trim(),
        "--purposes",
        "attest",
        "--actor",
        "*",
    ];
    let wrong = [("CUSTODIA_KEY_PASSPHRASE", "wrong")];
    check(&f.cmd_env(&args, &wrong), 2, "wrong passphrase");
    check(&f.cmd(&args), 2, "set CUSTODIA_KEY_PASSPHRASE");
    assert_eq!(f.size(), 2);
    let right = [("CUSTODIA_KEY_PASSPHRASE", "correct horse")];
    check(&f.cmd_env(&args, &right), 0, "registered");
    assert_eq!(f.size(), 3);
}

#[test]
fn init_with_encrypt_root_and_no_passphrase_writes_nothing() {
    let f = Fixture::new();
    let out = f.cmd(&["init", "--name", NAME, "--encrypt-root"]);
    check(&out, 2, "set CUSTODIA_ROOT_PASSPHRASE or run on a terminal");
    assert!(!f.path("data").exists());
    let out = f.cmd(&["init", "--name", "acme example", "--actor", "user:ceo"]);
    check(&out, 2, "is not a ledger name");
    let out = f.cmd(&["init", "--name", NAME, "--actor", "ceo"]);
    check(&out, 2, "--actor");
    assert!(!f.path("data").exists());
}

#[test]
fn a_root_key_that_is_not_the_ledgers_admin_key_is_refused() {
    let f = Fixture::with_events();
    let other = f.p("other-root.pem");
    let key = stdout(&output(&["keys", "generate", "--out", &other]));
    for root in [other.clone(), f.p("data/keys/node.pem")] {
        let args = [
            "keys",
            "register",
            "--root-key",
            &root,
            "--key",
            key.trim(),
            "--purposes",
            "entry",
            "--actor",
            "*",
        ];
        check(
            &f.cmd(&args),
            2,
            "is not an active admin key of this ledger",
        );
        let args = ["keys", "rotate", "--root-key", &root];
        check(
            &f.cmd(&args),
            2,
            "is not an active admin key of this ledger",
        );
    }
    let missing = f.p("no-such-key.pem");
    let args = [
        "keys",
        "revoke",
        "--root-key",
        &missing,
        "--key",
        key.trim(),
        "--reason",
        "x",
    ];
    check(&f.cmd(&args), 2, "no-such-key.pem");
    let events = f.write("a.jsonl", &event_line("risk/R-1", "1", "{}"));
    check(
        &f.cmd(&["append", "--file", &events, "--key", &missing]),
        2,
        "no-such-key.pem",
    );
    assert_eq!(f.size(), 7);
    assert!(
        f.path("data/keys/node.pem").exists(),
        "no key file was moved"
    );
}

#[test]
fn usage_errors_exit_2_and_help_documents_exit_codes() {
    let out = output(&["--help"]);
    check(&out, 0, "2  bad usage or bad input");
    for sub in [
        "init",
        "append",
        "verify",
        "export",
        "checkpoint",
        "prove",
        "keys",
    ] {
        check(&output(&[sub, "--help"]), 0, "Usage: custodia");
    }
    check(&output(&["verify"]), 2, "--data");
    let f = Fixture::new();
    check(&f.cmd(&["checkpoint"]), 2, "holds no ledger");
    let f = Fixture::with_events();
    let dir = f.export("bundle");
    check(&f.cmd(&["export", "--out", &dir]), 2, "is not empty");
    check(
        &f.cmd(&["init", "--name", NAME]),
        2,
        "already holds a ledger",
    );
}

#[test]
fn many_events_keep_file_order_across_group_commits() {
    let f = Fixture::new();
    check(&f.cmd(&["init", "--name", NAME]), 0, "created ledger");
    let lines: Vec<String> = (0..1500)
        .map(|i| event_line(&format!("risk/R-{}", i % 3), &(i / 3 + 1).to_string(), "{}"))
        .collect();
    let file = f.write("many.jsonl", &(lines.join("\n") + "\n"));
    let out = f.cmd(&["append", "--file", &file]);
    check(&out, 0, "\"seq\":1501");
    let seqs: Vec<u64> = stdout(&out)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, (2..1502).collect::<Vec<u64>>());
    check(&f.cmd(&["verify"]), 0, "verified 1502 entries");
}
