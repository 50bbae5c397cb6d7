//! `custodia bridge nats` as a user meets it without a server: settings checked before any
//! connection (exit 2), an unreachable server named (exit 3), the help that says what is
//! published. The bridge against a real server is tested in `crates/api/tests/nats.rs`.

use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_custodia");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("CUSTODIA_NATS_URL")
        .stdin(Stdio::null())
        .output()
        .expect("the custodia binary runs")
}

/// Asserts the exit code, no panic, and one `error:` on stderr containing `needle`.
fn check(out: &Output, code: i32, needle: &str) {
    let (so, se) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{so}\nstderr:\n{se}"
    );
    assert!(!se.contains("panicked"), "{se}");
    assert!(se.starts_with("error: "), "{se}");
    assert!(se.contains(needle), "expected {needle:?} in\n{se}");
}

fn ledger() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = run(&[
        "init",
        "--data",
        data.to_str().unwrap(),
        "--name",
        "acme.example/sms",
    ]);
    assert!(out.status.success(), "{out:?}");
    tmp
}

#[test]
fn an_unreachable_server_is_named_without_its_password() {
    let tmp = ledger();
    let data = tmp.path().join("data");
    // Nothing listens on port 1 of the loopback: refused at once.
    let out = run(&[
        "bridge",
        "nats",
        "--url",
        "nats://bridge:hunter2@127.0.0.1:1",
        "--data",
        data.to_str().unwrap(),
    ]);
    check(&out, 3, "cannot reach NATS at nats://***@127.0.0.1:1");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("hunter2"));
}

#[test]
fn bad_settings_are_refused_before_connecting() {
    let tmp = ledger();
    let data = tmp.path().join("data");
    let data = data.to_str().unwrap();
    let url = "nats://127.0.0.1:1";
    let prefix = run(&[
        "bridge", "nats", "--url", url, "--data", data, "--prefix", "a.>",
    ]);
    check(&prefix, 2, "--prefix");
    let stream = run(&[
        "bridge", "nats", "--url", url, "--data", data, "--stream", "A.B",
    ]);
    check(&stream, 2, "--stream");
    let in_flight = run(&[
        "bridge",
        "nats",
        "--url",
        url,
        "--data",
        data,
        "--in-flight",
        "0",
    ]);
    check(&in_flight, 2, "--in-flight");
    let missing = tmp.path().join("nothing-here");
    let no_ledger = run(&[
        "bridge",
        "nats",
        "--url",
        url,
        "--data",
        missing.to_str().unwrap(),
    ]);
    check(&no_ledger, 2, "holds no ledger");
}

#[test]
fn help_says_what_is_published_and_how_it_resumes() {
    let out = run(&["bridge", "nats", "--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "<prefix>.<kind>",
        "Nats-Msg-Id",
        "Custodia-Seq",
        "Custodia-Stream",
        "Custodia-Type",
        "last message",
        "SIGTERM",
    ] {
        assert!(help.contains(needle), "{needle:?} missing from\n{help}");
    }
}
