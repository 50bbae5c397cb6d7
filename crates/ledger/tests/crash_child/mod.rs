//! The crash tests' two halves. The parent re-runs its own test in a child process, lets it
//! append for a while, kills it with SIGKILL and collects what it acknowledged; the child
//! prints one line per acknowledged append.

use custodia_ledger::writer::Receipt;
use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Runs `test` of this test binary (`--ignored` too when it is an ignored test) with `env` set,
/// kills it with SIGKILL after `after`, and returns the (seq, hash) of every append the child
/// acknowledged before it died.
pub(crate) fn run_and_kill(
    test: &str,
    ignored: bool,
    env: (&str, &str),
    after: Duration,
) -> Vec<(u64, String)> {
    let mut args = vec![test, "--exact", "--nocapture", "--test-threads=1"];
    if ignored {
        args.push("--ignored");
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(args)
        .env(env.0, env.1)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter_map(|line| {
                let mut parts = line.strip_prefix("ACK ")?.split(' ');
                Some((parts.next()?.parse().ok()?, parts.next()?.to_owned()))
            })
            .collect::<Vec<_>>()
    });
    std::thread::sleep(after);
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    reader.join().unwrap()
}

/// In the child: tells the parent that `receipt`'s append is durable, before the next one.
pub(crate) fn acknowledge(receipt: &Receipt) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "ACK {} {}", receipt.seq, receipt.hash).unwrap();
    out.flush().unwrap();
}
