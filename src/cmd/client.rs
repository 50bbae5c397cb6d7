//! `custodia client`: talks to a running `custodia serve` over HTTP. `submit` attests events
//! with the author's local key file (the same attestation `custodia append --key` makes:
//! LEDGER-FORMAT's author attestation over the event digest) and posts them to
//! `POST /v1/events`; `command` sends one domain command to
//! `POST /v1/streams/{kind}/{id}/commands`.
//!
//! The token is sent as a bearer credential and never printed or logged: it lives in a
//! [`Token`] whose `Debug` is redacted, and redirects are not followed, so it cannot be
//! forwarded to another host.

use crate::cli::{ClientCommand, CommandArgs, Server, SubmitArgs, Token};
use crate::exit::{self, bad_input};
use crate::input::{list_problems, read_events, read_input};
use crate::secrets::read_key_file;
use anyhow::Context as _;
use base64::Engine as _;
use serde_json::{json, Value};
use std::time::Duration;

/// How long one request may take before the client gives up (exit 3).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The largest response body read: receipts and problems are small.
const RESPONSE_BYTES_MAX: usize = 1024 * 1024;
/// The largest command file.
const COMMAND_FILE_BYTES_MAX: u64 = 1024 * 1024;

pub(crate) async fn run(command: ClientCommand) -> anyhow::Result<u8> {
    match command {
        ClientCommand::Submit(args) => submit(args).await,
        ClientCommand::Command(args) => send_command(args).await,
    }
}

/// An HTTP client for one server.
struct Api {
    http: reqwest::Client,
    base: String,
    token: Token,
}

/// A response: its status and its body as JSON (`Null` when it is not JSON).
struct Reply {
    status: reqwest::StatusCode,
    body: Value,
    text: String,
}

impl Api {
    fn new(server: &Server) -> anyhow::Result<Api> {
        let url = reqwest::Url::parse(&server.url)
            .map_err(|e| bad_input(format!("--url {}: {e}", server.url)))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(bad_input(format!(
                "--url {}: expected http://HOST:PORT or https://HOST",
                server.url
            )));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad_input(format!(
                "--url {}: give the base URL only, without query or fragment",
                server.url
            )));
        }
        let token = server.token.secret();
        if token.is_empty() || !token.chars().all(|c| c.is_ascii_graphic()) {
            return Err(bad_input(
                "--token (or CUSTODIA_TOKEN): a token is printable ASCII without spaces, as \
                 `custodia tokens create` prints it (the value is not shown here)",
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("custodia/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client")?;
        Ok(Api {
            http,
            base: url.as_str().trim_end_matches('/').to_owned(),
            token: server.token.clone(),
        })
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Reply> {
        let url = format!("{}{path}", self.base);
        let mut request = self
            .http
            .request(method.clone(), &url)
            .bearer_auth(self.token.secret());
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(serde_json::to_vec(body)?);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {url}: no answer"))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .with_context(|| format!("{method} {url}: reading the answer"))?;
        let bytes = &bytes[..bytes.len().min(RESPONSE_BYTES_MAX)];
        Ok(Reply {
            status,
            body: serde_json::from_slice(bytes).unwrap_or(Value::Null),
            text: String::from_utf8_lossy(bytes).into_owned(),
        })
    }
}

/// The error for a response that is not the success expected: a refusal (4xx) is the
/// user's to fix (exit 2); anything else is a failure (exit 3).
fn refused(what: &str, reply: &Reply) -> anyhow::Error {
    let status = reply.status;
    let message = match reply.body.get("detail").and_then(Value::as_str) {
        Some(detail) => {
            let title = reply
                .body
                .get("title")
                .and_then(Value::as_str)
                .or(status.canonical_reason())
                .unwrap_or("");
            let rule = reply
                .body
                .get("type")
                .and_then(Value::as_str)
                .map(|t| t.rsplit(':').next().unwrap_or(t));
            let rule = rule.map_or(String::new(), |r| format!(" [rule {r}]"));
            format!(
                "{what}: refused: {} {title}{rule}: {detail}",
                status.as_u16()
            )
        }
        None => format!(
            "{what}: unexpected answer {status}: {}",
            crate::text::short(reply.text.trim(), 200)
        ),
    };
    if status.is_client_error() {
        bad_input(message)
    } else {
        anyhow::anyhow!(message)
    }
}

/// Prints one receipt line per entry of a `{"stream", "entries": […]}` answer, in the
/// form `custodia append` prints.
fn print_receipts(reply: &Value) -> anyhow::Result<()> {
    let stream = reply.get("stream").cloned().unwrap_or(Value::Null);
    let entries = reply
        .get("entries")
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow::anyhow!("the server's answer carries no receipts: {reply}"))?;
    for e in entries {
        println!(
            "{}",
            json!({"seq": e["seq"], "hash": e["hash"], "stream": stream,
                   "version": e["version"], "recorded_at": e["recorded_at"]})
        );
    }
    Ok(())
}

async fn submit(args: SubmitArgs) -> anyhow::Result<u8> {
    let api = Api::new(&args.server)?;
    let key = read_key_file(&args.key)?;
    let bytes = read_input(&args.file)?;
    let label = args.file.display().to_string();
    let inputs = read_events(&bytes, false)
        .map_err(|problems| bad_input(list_problems(&label, &problems)))?;
    // Every event is attested before the first is sent, so a local problem sends nothing.
    let mut bodies = Vec::with_capacity(inputs.len());
    let mut problems = Vec::new();
    for input in &inputs {
        match input.event.attest(&key) {
            Ok(att) => bodies.push(json!({
                "event": input.event.to_value(),
                "attestation": {
                    "key": att.key.to_base64(),
                    "sig": base64::engine::general_purpose::STANDARD.encode(att.sig.to_bytes()),
                },
            })),
            Err(e) => problems.push(format!("line {}: {e}", input.line)),
        }
    }
    if !problems.is_empty() {
        return Err(bad_input(list_problems(&label, &problems)));
    }
    tracing::info!(events = bodies.len(), key = %key.public(), "submitting attested events");
    for (n, (input, body)) in inputs.iter().zip(&bodies).enumerate() {
        let reply = api
            .send(reqwest::Method::POST, "/v1/events", Some(body))
            .await?;
        if reply.status != reqwest::StatusCode::CREATED {
            let what = format!(
                "{label} line {} ({} v{})",
                input.line,
                input.event.stream(),
                input.event.version()
            );
            let later = inputs.len() - n - 1;
            return Err(refused(&what, &reply).context(format!(
                "{n} event(s) accepted before it; {later} after it not sent"
            )));
        }
        print_receipts(&reply.body)?;
    }
    Ok(exit::OK)
}

async fn send_command(args: CommandArgs) -> anyhow::Result<u8> {
    let api = Api::new(&args.server)?;
    let stream = custodia_domain::StreamId::parse(&format!("{}/{}", args.kind, args.id))
        .map_err(|e| bad_input(format!("--kind {} --id {}: {e}", args.kind, args.id)))?;
    let bytes = read_input(&args.file)?;
    if bytes.len() as u64 > COMMAND_FILE_BYTES_MAX {
        return Err(bad_input(format!(
            "{}: a command file holds at most {COMMAND_FILE_BYTES_MAX} bytes",
            args.file.display()
        )));
    }
    let mut body = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => map,
        Ok(_) => {
            return Err(bad_input(format!(
                "{}: expected a JSON object {{\"action\": …, \"data\": …}}",
                args.file.display()
            )))
        }
        Err(e) => return Err(bad_input(format!("{}: {e}", args.file.display()))),
    };
    const MEMBERS: [&str; 4] = ["action", "data", "occurred_at", "expected_version"];
    if let Some(unknown) = body.keys().find(|k| !MEMBERS.contains(&k.as_str())) {
        return Err(bad_input(format!(
            "{}: unknown member \"{unknown}\" (allowed: {}; the actor is the token's principal)",
            args.file.display(),
            MEMBERS.join(", ")
        )));
    }
    if !body.get("action").is_some_and(Value::is_string) {
        return Err(bad_input(format!(
            "{}: member \"action\" must be a string such as \"assess\"",
            args.file.display()
        )));
    }
    let path = format!(
        "/v1/streams/{}/{}",
        stream.kind().as_str(),
        stream.id().as_str()
    );
    let expected = match (args.expect_version, body.get("expected_version")) {
        (Some(n), _) => n,
        (None, Some(v)) => v.as_u64().ok_or_else(|| {
            bad_input(format!(
                "{}: member \"expected_version\" must be an integer from 0",
                args.file.display()
            ))
        })?,
        (None, None) => {
            let reply = api.send(reqwest::Method::GET, &path, None).await?;
            if reply.status != reqwest::StatusCode::OK {
                return Err(refused(&format!("reading {stream}"), &reply));
            }
            reply.body["version"].as_u64().unwrap_or(0)
        }
    };
    body.insert("expected_version".into(), json!(expected));
    let reply = api
        .send(
            reqwest::Method::POST,
            &format!("{path}/commands"),
            Some(&Value::Object(body)),
        )
        .await?;
    if reply.status != reqwest::StatusCode::CREATED {
        return Err(refused(&format!("command on {stream}"), &reply));
    }
    print_receipts(&reply.body)?;
    Ok(exit::OK)
}
