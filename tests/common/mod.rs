//! What the binary's end-to-end tests share: running `custodia` as a user would (no terminal,
//! none of the caller's settings), checking what it printed, starting `custodia serve` on a
//! free port, and making tokens. Each test file uses part of it.
#![allow(dead_code)]

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// The binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_custodia");
/// The name the tests give their ledgers.
pub(crate) const NAME: &str = "acme.example/sms";

/// Settings a developer's shell may hold that would change what the binary does.
const CALLER_SETTINGS: [&str; 7] = [
    "RUST_LOG",
    "CUSTODIA_DATA",
    "CUSTODIA_KEYS",
    "CUSTODIA_KEY_PASSPHRASE",
    "CUSTODIA_ROOT_PASSPHRASE",
    "CUSTODIA_TOKEN",
    "CUSTODIA_NATS_URL",
];

/// `custodia ARGS` with stdin closed and none of the caller's settings.
pub(crate) fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args).stdin(Stdio::null());
    for name in CALLER_SETTINGS {
        cmd.env_remove(name);
    }
    cmd
}

/// Runs `custodia ARGS` to its end.
pub(crate) fn output(args: &[&str]) -> Output {
    output_env(args, &[])
}

/// Runs `custodia ARGS` to its end with these environment variables set.
pub(crate) fn output_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = command(args);
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd.output().expect("the custodia binary runs")
}

/// Runs `custodia ARGS`, asserts that it succeeded, and returns its stdout.
pub(crate) fn ok(args: &[&str]) -> String {
    let out = output(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

pub(crate) fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts the exit code, no panic, `needle` in what was printed, and for a refusal or a
/// failure (2, 3) one `error:` message on stderr.
pub(crate) fn check(out: &Output, code: i32, needle: &str) {
    let (so, se) = (stdout(out), stderr(out));
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{so}\nstderr:\n{se}"
    );
    assert!(!se.contains("panicked"), "{se}");
    assert!(
        so.contains(needle) || se.contains(needle),
        "expected {needle:?} in\nstdout:\n{so}\nstderr:\n{se}"
    );
    if code >= 2 {
        assert!(se.starts_with("error: "), "{se}");
    }
}

/// `custodia init` of a ledger named [`NAME`] at `data` (a directory or a postgres:// URL).
pub(crate) fn init(data: &str) {
    ok(&["init", "--data", data, "--name", NAME]);
}

/// A new API token for `principal` with `role` on the ledger at `data`.
pub(crate) fn token(data: &str, principal: &str, role: &str) -> String {
    let args = ["tokens", "create", "--data", data];
    ok(&[&args[..], &["--principal", principal, "--role", role]].concat())
        .trim()
        .to_owned()
}

/// A `custodia serve` process on a free port of 127.0.0.1, killed when dropped.
pub(crate) struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`, as the server printed it.
    pub(crate) base: String,
}

impl Server {
    /// Serves the ledger in `data`.
    pub(crate) fn serve(data: &str) -> Server {
        Server::start(&["serve", "--data", data])
    }

    /// Runs `custodia ARGS --listen 127.0.0.1:0` and reads the address it prints once bound.
    pub(crate) fn start(args: &[&str]) -> Server {
        let mut child = command(args)
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("the custodia binary starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("the address line, got {line:?}"))
            .to_owned();
        Server { child, base }
    }

    /// Waits (10 s at most) until the server says it is ready.
    pub(crate) async fn ready(&self) {
        let http = reqwest::Client::new();
        for _ in 0..200 {
            let ready = http.get(format!("{}/v1/ready", self.base)).send().await;
            if ready.is_ok_and(|r| r.status() == 200) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no shutdown, no flushing, as a crash.
    pub(crate) fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
