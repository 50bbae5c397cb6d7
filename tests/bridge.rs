//! `custodia bridge nats` as a user meets it without a server: settings checked before any
//! connection (exit 2), an unreachable server named (exit 3), the help that says what is
//! published. With `CUSTODIA_TEST_NATS_URL` and `--ignored`, also the process
//! killed with SIGKILL twice while the ledger grows, then every entry in the stream once, in
//! order (the library is tested in more depth in `crates/bridge/tests/nats.rs`).

mod common;

use common::{check, output};

fn ledger() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    common::init(tmp.path().join("data").to_str().unwrap());
    tmp
}

#[test]
fn an_unreachable_server_is_named_without_its_password() {
    let tmp = ledger();
    let data = tmp.path().join("data");
    // Nothing listens on port 1 of the loopback: refused at once.
    let out = output(&[
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
    let prefix = output(&[
        "bridge", "nats", "--url", url, "--data", data, "--prefix", "a.>",
    ]);
    check(&prefix, 2, "--prefix");
    let stream = output(&[
        "bridge", "nats", "--url", url, "--data", data, "--stream", "A.B",
    ]);
    check(&stream, 2, "--stream");
    let in_flight = output(&[
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
    let no_ledger = output(&[
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
    let out = output(&["bridge", "nats", "--help"]);
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

mod with_server {
    use super::{common, ledger, output};
    use custodia_ledger::entry::{Entry, ZERO_HASH};
    use std::io::{BufRead as _, BufReader};
    use std::path::Path;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    fn url() -> String {
        std::env::var("CUSTODIA_TEST_NATS_URL")
            .expect("CUSTODIA_TEST_NATS_URL must name a NATS server with JetStream")
    }

    /// Appends `n` events numbered from `first` over three streams, through the binary.
    fn append(dir: &Path, data: &str, first: u64, n: u64) {
        let file = dir.join(format!("events-{first}.jsonl"));
        let mut lines = String::new();
        for i in first..first + n {
            let stream = ["risk/R-1", "supplier/S-1", "incident/I-1"][(i % 3) as usize];
            let kind = stream.split('/').next().unwrap();
            lines.push_str(&format!(
                "{{\"stream\": \"{stream}\", \"type\": \"{kind}.noted\", \"schema\": 1, \
                 \"occurred_at\": \"2026-03-05T09:15:00Z\", \"actor\": \"user:tester\", \
                 \"data\": {{\"n\": {i}}}}}\n"
            ));
        }
        std::fs::write(&file, lines).unwrap();
        let out = output(&[
            "append",
            "--data",
            data,
            "--file",
            file.to_str().unwrap(),
            "--expect",
            "next",
        ]);
        assert!(out.status.success(), "{out:?}");
    }

    /// Starts the bridge and waits for its first line on stdout.
    fn start(data: &str, stream: &str, prefix: &str) -> Child {
        let mut child = common::command(&["bridge", "nats", "--url", &url(), "--data", data])
            .args(["--stream", stream, "--prefix", prefix])
            .args(["--in-flight", "2", "--poll-ms", "10"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("bridging to "), "{line:?}");
        child
    }

    /// The stream's messages, in stream order.
    async fn messages(js: &async_nats::jetstream::Context, stream: &str) -> Vec<(String, String)> {
        let mut s = js.get_stream(stream).await.unwrap();
        let last = s.info().await.unwrap().state.last_sequence;
        let mut out = Vec::new();
        for seq in 1..=last {
            let m = s.get_raw_message(seq).await.unwrap();
            out.push((
                m.subject.to_string(),
                String::from_utf8(m.payload.to_vec()).unwrap(),
            ));
        }
        out
    }

    async fn count(js: &async_nats::jetstream::Context, stream: &str) -> u64 {
        match js.get_stream(stream).await {
            Ok(mut s) => s.info().await.unwrap().state.messages,
            Err(_) => 0,
        }
    }

    async fn until_count(js: &async_nats::jetstream::Context, stream: &str, at_least: u64) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while count(js, stream).await < at_least {
            assert!(
                Instant::now() < deadline,
                "the stream never held {at_least} messages"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs NATS JetStream: CUSTODIA_TEST_NATS_URL, run with --ignored (.ci/run does)"]
    async fn sigkilled_twice_every_entry_once_in_order() {
        let tmp = ledger();
        let data = tmp.path().join("data");
        let data = data.to_str().unwrap();
        let id = format!(
            "{}_{}",
            std::process::id(),
            Instant::now().elapsed().as_nanos()
        );
        let (stream, prefix) = (format!("TEST_CLI_{id}"), format!("test_cli_{id}"));
        let js = async_nats::jetstream::new(async_nats::connect(url()).await.unwrap());
        append(tmp.path(), data, 0, 50);

        let mut total = 52; // genesis and the node key's registration, then the events
        let mut bridge = start(data, &stream, &prefix);
        for round in 0..2 {
            // Appends while it runs, then a kill part-way, then appends while it is down.
            append(tmp.path(), data, total, 100);
            total += 100;
            until_count(&js, &stream, total - 60).await;
            bridge.kill().unwrap(); // SIGKILL
            bridge.wait().unwrap();
            append(tmp.path(), data, total, 40);
            total += 40;
            assert!(
                count(&js, &stream).await < total,
                "round {round}: killed part-way"
            );
            bridge = start(data, &stream, &prefix);
        }
        until_count(&js, &stream, total).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _ = Command::new("kill").arg(bridge.id().to_string()).status(); // SIGTERM
        let status = bridge.wait().unwrap();
        assert!(status.success(), "a clean stop on SIGTERM: {status:?}");

        let got = messages(&js, &stream).await;
        assert_eq!(got.len() as u64, total, "each entry once");
        let mut prev = ZERO_HASH;
        for (seq, (subject, line)) in got.iter().enumerate() {
            let (entry, _) = Entry::parse_line(line).unwrap();
            assert_eq!(entry.seq, seq as u64, "in seq order");
            assert_eq!(entry.prev, prev, "seq {seq}: chained");
            assert_eq!(subject, &format!("{prefix}.{}", entry.event.stream_kind()));
            prev = entry.hash;
        }
        let _ = js.delete_stream(&stream).await;
    }
}
