//! Event files as `custodia append` and `custodia client submit` read them: one event object,
//! or JSON Lines of them, from a file or stdin. Every event is read and checked before any is
//! used, and every problem is named by its line, so that a bad file writes nothing.

use crate::exit::bad_input;
use anyhow::Context as _;
use custodia_ledger::canonical;
use custodia_ledger::entry::Event;
use custodia_ledger::time::Timestamp;
use serde_json::{Map, Value};
use std::io::Read as _;
use std::path::Path;

/// The largest input file: events are at most 60 KiB each, and every event of a file is held
/// in memory so that all are checked before any is written. Split larger imports.
const FILE_BYTES_MAX: u64 = 64 * 1024 * 1024;
/// The most events one file may hold.
const EVENTS_PER_FILE_MAX: usize = 100_000;
/// Problems listed before the rest are only counted.
pub(crate) const PROBLEMS_SHOWN_MAX: usize = 20;

/// One event read from the file, with the line it starts on.
pub(crate) struct Input {
    pub(crate) line: usize,
    pub(crate) event: Event,
}

/// The message for a file refused for `problems`: the first few, and how many more.
pub(crate) fn list_problems(label: &str, problems: &[String]) -> String {
    let mut text = format!(
        "{label}: {} problem(s); nothing was written",
        problems.len()
    );
    for p in problems.iter().take(PROBLEMS_SHOWN_MAX) {
        text.push_str("\n  ");
        text.push_str(p);
    }
    if problems.len() > PROBLEMS_SHOWN_MAX {
        text.push_str(&format!(
            "\n  … and {} more",
            problems.len() - PROBLEMS_SHOWN_MAX
        ));
    }
    text
}

/// The bytes of `path` ("-" is stdin), refused beyond [`FILE_BYTES_MAX`].
pub(crate) fn read_input(path: &Path) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let read = if path == Path::new("-") {
        std::io::stdin()
            .take(FILE_BYTES_MAX + 1)
            .read_to_end(&mut bytes)
    } else {
        let file = std::fs::File::open(path)
            .map_err(|e| bad_input(format!("cannot read {}: {e}", path.display())))?;
        file.take(FILE_BYTES_MAX + 1).read_to_end(&mut bytes)
    };
    read.with_context(|| format!("reading {}", path.display()))?;
    if bytes.len() as u64 > FILE_BYTES_MAX {
        return Err(bad_input(format!(
            "{} is larger than {FILE_BYTES_MAX} bytes; split it into several files",
            path.display()
        )));
    }
    Ok(bytes)
}

/// Reads one event object, or JSON Lines of them. The file is JSON Lines when its first
/// non-blank line is a whole object (`{…}`); otherwise it is one pretty-printed document.
/// Returns every problem found, each naming its line.
pub(crate) fn read_events(bytes: &[u8], next: bool) -> Result<Vec<Input>, Vec<String>> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| vec![format!("not UTF-8 text (at byte {})", e.valid_up_to())])?;
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let Some(&(first_no, first)) = lines.first() else {
        return Err(vec!["holds no events".into()]);
    };
    let first = first.trim();
    let one_per_line = first.starts_with('{') && first.ends_with('}');
    let documents: Vec<(usize, &[u8])> = if one_per_line {
        lines.iter().map(|&(n, l)| (n, l.as_bytes())).collect()
    } else {
        vec![(first_no, bytes)]
    };
    if documents.len() > EVENTS_PER_FILE_MAX {
        return Err(vec![format!(
            "holds {} events; the limit is {EVENTS_PER_FILE_MAX} per file",
            documents.len()
        )]);
    }
    let mut inputs = Vec::with_capacity(documents.len());
    let mut problems = Vec::new();
    for (line, doc) in documents {
        let parsed = canonical::parse_strict(doc)
            .map_err(|e| position_in(&e.to_string(), one_per_line))
            .and_then(|value| event_from(&value, next));
        match parsed {
            Ok(event) => inputs.push(Input { line, event }),
            Err(e) => problems.push(format!("line {line}: {e}")),
        }
    }
    if problems.is_empty() {
        Ok(inputs)
    } else {
        Err(problems)
    }
}

/// In JSON Lines each document is one line, so the parser's "line 1" is the line already named.
fn position_in(message: &str, one_per_line: bool) -> String {
    if one_per_line {
        message.replace(" at line 1 column ", " at column ")
    } else {
        message.to_owned()
    }
}

/// Builds an event from the file's object form; every member's rule is checked here.
fn event_from(value: &Value, next: bool) -> Result<Event, String> {
    const MEMBERS: [&str; 8] = custodia_ledger::entry::EVENT_MEMBERS;
    let obj = value
        .as_object()
        .ok_or("expected an event object ({\"stream\": …, \"type\": …, …})")?;
    if let Some(unknown) = obj.keys().find(|k| !MEMBERS.contains(&k.as_str())) {
        return Err(format!(
            "unknown member \"{unknown}\" (allowed: {})",
            MEMBERS.join(", ")
        ));
    }
    let version = match obj.get("version") {
        None if next => 1,
        None => return Err("member \"version\" is missing (needed unless --expect next)".into()),
        Some(_) => integer(obj, "version")?,
    };
    let occurred_at = Timestamp::normalize(text(obj, "occurred_at")?)
        .map_err(|e| format!("member \"occurred_at\": {e}"))?;
    let event = Event::new(
        text(obj, "stream")?,
        version,
        text(obj, "type")?,
        integer(obj, "schema")?,
        occurred_at,
        text(obj, "actor")?,
        object(obj, "data")?.ok_or("member \"data\" is missing")?,
    )
    .map_err(|e| e.to_string())?;
    match object(obj, "meta")? {
        Some(meta) if !meta.is_empty() => event.with_meta(meta).map_err(|e| e.to_string()),
        _ => Ok(event),
    }
}

fn text<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a str, String> {
    match obj.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(format!(
            "member \"{name}\" must be a string, not {}",
            kind(other)
        )),
        None => Err(format!("member \"{name}\" is missing")),
    }
}

fn integer(obj: &Map<String, Value>, name: &str) -> Result<u64, String> {
    match obj.get(name) {
        Some(Value::Number(n)) => n
            .as_u64()
            .filter(|&v| v >= 1)
            .ok_or_else(|| format!("member \"{name}\" must be an integer from 1, not {n}")),
        Some(other) => Err(format!(
            "member \"{name}\" must be an integer, not {}",
            kind(other)
        )),
        None => Err(format!("member \"{name}\" is missing")),
    }
}

fn object(obj: &Map<String, Value>, name: &str) -> Result<Option<Map<String, Value>>, String> {
    match obj.get(name) {
        Some(Value::Object(m)) => Ok(Some(m.clone())),
        Some(other) => Err(format!(
            "member \"{name}\" must be an object, not {}",
            kind(other)
        )),
        None => Ok(None),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
