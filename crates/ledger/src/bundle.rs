//! Export bundles (LEDGER-FORMAT.md §7) and the two walks of the verifier: over a store and
//! over a bundle directory.

use crate::entry::ENTRY_LINE_BYTES_MAX;
use crate::ledger::READ_ROWS_MAX;
use crate::store::{Store, StoreError};
use crate::verify::{Report, Rule, Verifier};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

/// The bundle format name.
pub const BUNDLE_FORMAT: &str = "custodia.bundle/1";

/// A bundle or verification failure that stops the walk (violations go in the report).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// A file of the bundle could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The output directory is not empty; an export never overwrites.
    #[error("{0} exists and is not empty; choose a new directory")]
    NotEmpty(PathBuf),
    /// A trusted checkpoint file could not be read.
    #[error("trusted checkpoint {path}: {reason}")]
    Trusted {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BundleError + '_ {
    move |source| BundleError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    /// Entries written.
    pub entries: u64,
    /// Checkpoints written.
    pub checkpoints: u64,
}

/// Writes the store's entries and checkpoints as a bundle in `out` (a new or empty directory).
/// `progress` is called with the number of entries written so far.
pub async fn export(
    store: &dyn Store,
    out: &Path,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<ExportSummary, BundleError> {
    if out.exists() && std::fs::read_dir(out).map_err(io(out))?.next().is_some() {
        return Err(BundleError::NotEmpty(out.to_owned()));
    }
    std::fs::create_dir_all(out.join("checkpoints")).map_err(io(out))?;
    let head = store.head().await?;
    let name = store.meta("name").await?.unwrap_or_default();
    let path = out.join("entries.jsonl");
    let file = std::fs::File::create(&path).map_err(io(&path))?;
    let mut writer = std::io::BufWriter::new(file);
    let mut written = 0u64;
    while written < head.size {
        let rows = store.read(written, READ_ROWS_MAX).await?;
        if rows.is_empty() {
            break;
        }
        for row in rows.iter().take_while(|r| r.seq < head.size) {
            writer.write_all(row.line.as_bytes()).map_err(io(&path))?;
            writer.write_all(b"\n").map_err(io(&path))?;
            written += 1;
        }
        progress(written);
    }
    writer.flush().map_err(io(&path))?;
    let mut checkpoints = 0;
    for size in store.checkpoint_sizes().await? {
        if size > written {
            continue;
        }
        if let Some(note) = store.checkpoint(size).await? {
            let path = out.join("checkpoints").join(size.to_string());
            std::fs::write(&path, note).map_err(io(&path))?;
            checkpoints += 1;
        }
    }
    let manifest = serde_json::json!({
        "format": BUNDLE_FORMAT,
        "ledger": name,
        "entries": written,
        "tool": concat!("custodia ", env!("CARGO_PKG_VERSION")),
        "exported_at": crate::time::Timestamp::now().to_string(),
    });
    let path = out.join("manifest.json");
    let text = serde_json::to_string_pretty(&manifest).unwrap_or_default();
    std::fs::write(&path, text + "\n").map_err(io(&path))?;
    Ok(ExportSummary {
        entries: written,
        checkpoints,
    })
}

/// Reads a trusted checkpoint file.
pub fn read_trusted(path: &Path) -> Result<String, BundleError> {
    let bytes = std::fs::read(path).map_err(|e| BundleError::Trusted {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    String::from_utf8(bytes).map_err(|_| BundleError::Trusted {
        path: path.to_owned(),
        reason: "not UTF-8 text".into(),
    })
}

/// Verifies a store: every entry, every stored column, every stored tree node, every stored
/// checkpoint, and a trusted checkpoint if given.
pub async fn verify_store(
    store: &dyn Store,
    trusted: Option<&str>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Report, BundleError> {
    let head = store.head().await?;
    let mut verifier = Verifier::new();
    for size in store.checkpoint_sizes().await? {
        if let Some(note) = store.checkpoint(size).await? {
            let label = format!("stored checkpoint {size}");
            check_checkpoint_size(&mut verifier, &label, Some(size), &note);
            verifier.expect_checkpoint(&label, &note);
        }
    }
    if let Some(text) = trusted {
        verifier.trust_checkpoint("trusted checkpoint", text, head.size);
    }
    match store.scan() {
        // The workers read their own chunks: no row passes through the async driver.
        Some(scan) => {
            while verifier.fed() < head.size {
                // A head far past the rows (a seq rewritten to a huge value) would have the
                // scan walk every empty position up to it; the reads by seq skip the gap.
                if verifier.scan_missing() > SCAN_MISSING_MAX {
                    feed_read(store, &mut verifier, head.size, progress).await?;
                    break;
                }
                let end = head.size.min(verifier.fed() + u64::from(READ_ROWS_MAX));
                if !verifier.feed_scan(&scan, end) {
                    break;
                }
                progress(verifier.fed());
                // Feeding blocks while the workers are busy; between steps, as between reads,
                // the runtime's other tasks get their turn.
                tokio::task::yield_now().await;
            }
        }
        None => feed_read(store, &mut verifier, head.size, progress).await?,
    }
    if verifier.fed() != head.size {
        let msg = format!(
            "{} entries read, the head says {}",
            verifier.fed(),
            head.size
        );
        verifier.violation(None, Rule::Format, msg);
    }
    Ok(verifier.finish_reading()?)
}

/// Positions without a row after which a verification stops scanning by position.
const SCAN_MISSING_MAX: u64 = 1 << 16;

/// Feeds the verifier the rows `store.read` returns, batch by batch, up to `size`.
async fn feed_read(
    store: &dyn Store,
    verifier: &mut Verifier,
    size: u64,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(), BundleError> {
    // Rows are read by seq and fed by position: after a row whose seq is past its position
    // (rows missing, or a seq rewritten), the next read starts past that seq, so that no row
    // is read twice.
    let mut from = verifier.fed();
    while verifier.fed() < size {
        let start = verifier.fed();
        let rows = store.read(from.max(start), READ_ROWS_MAX).await?;
        let Some(last) = rows.last() else {
            break;
        };
        from = last.seq.saturating_add(1);
        // The nodes these positions complete, as stored, to compare as the walk builds them.
        let ids = crate::verify::nodes_completed_by(start, start + rows.len() as u64);
        let stored = store.nodes(&ids).await?;
        verifier.feed_rows(rows, ids.into_iter().zip(stored).collect());
        progress(verifier.fed());
    }
    Ok(())
}

/// Verifies a bundle directory: manifest, every entry line, every checkpoint file, and a
/// trusted checkpoint if given.
pub fn verify_bundle(
    dir: &Path,
    trusted: Option<&str>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Report, BundleError> {
    let mut verifier = Verifier::new();
    let manifest_entries = read_manifest(dir, &mut verifier);
    let checkpoints = dir.join("checkpoints");
    if checkpoints.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(&checkpoints)
            .map_err(io(&checkpoints))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        for path in files {
            let label = format!(
                "checkpoints/{}",
                path.file_name().unwrap_or_default().to_string_lossy()
            );
            match std::fs::read(&path).map(String::from_utf8) {
                Ok(Ok(text)) => {
                    let named = path
                        .file_name()
                        .and_then(|n| n.to_str())
                        .and_then(|n| n.parse().ok());
                    check_checkpoint_size(&mut verifier, &label, named, &text);
                    verifier.expect_checkpoint(&label, &text);
                }
                _ => verifier.violation(None, Rule::Checkpoint, format!("{label}: unreadable")),
            }
        }
    }
    if let Some(text) = trusted {
        verifier.trust_checkpoint("trusted checkpoint", text, manifest_entries.unwrap_or(0));
    }
    let path = dir.join("entries.jsonl");
    let file = std::fs::File::open(&path).map_err(io(&path))?;
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut reader)
            .take(ENTRY_LINE_BYTES_MAX as u64 + 2)
            .read_until(b'\n', &mut line)
            .map_err(io(&path))?;
        if n == 0 {
            break;
        }
        feed_bundle_line(&mut verifier, &mut reader, &mut line, &path)?;
        if verifier.fed().is_multiple_of(4096) {
            progress(verifier.fed());
        }
    }
    progress(verifier.fed());
    if let Some(expected) = manifest_entries {
        if expected != verifier.fed() {
            let msg = format!(
                "manifest says {expected} entries, entries.jsonl holds {}",
                verifier.fed()
            );
            verifier.violation(None, Rule::Bundle, msg);
        }
    }
    Ok(verifier.finish())
}

fn feed_bundle_line(
    verifier: &mut Verifier,
    reader: &mut impl BufRead,
    line: &mut Vec<u8>,
    path: &Path,
) -> Result<(), BundleError> {
    let seq = verifier.fed();
    if line.last() != Some(&b'\n') {
        if line.len() > ENTRY_LINE_BYTES_MAX {
            // Skip the rest of an overlong line without holding it in memory.
            let mut sink = Vec::new();
            while reader.read_until(b'\n', &mut sink).map_err(io(path))? > 0 {
                if sink.last() == Some(&b'\n') {
                    break;
                }
                sink.clear();
            }
            verifier.feed_unreadable(format!("line is longer than {ENTRY_LINE_BYTES_MAX} bytes"));
            return Ok(());
        }
        verifier.violation(
            Some(seq),
            Rule::Bundle,
            "last line has no newline: the bundle is truncated",
        );
    } else {
        line.pop();
    }
    match String::from_utf8(std::mem::take(line)) {
        Ok(text) => verifier.feed_line(text),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            verifier.feed_unreadable(format!("not UTF-8 at byte {at}"));
        }
    }
    Ok(())
}

/// A checkpoint is filed under its tree size; a note filed under another size was moved.
fn check_checkpoint_size(verifier: &mut Verifier, label: &str, named: Option<u64>, text: &str) {
    let size = text.lines().nth(1).and_then(|l| l.parse::<u64>().ok());
    if named.is_none() || named != size {
        verifier.violation(
            None,
            Rule::Checkpoint,
            format!("{label}: filed under a size that is not the checkpoint's tree size"),
        );
    }
}

fn read_manifest(dir: &Path, verifier: &mut Verifier) -> Option<u64> {
    let path = dir.join("manifest.json");
    let text = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) => {
            verifier.violation(None, Rule::Bundle, format!("manifest.json: {e}"));
            return None;
        }
    };
    let value = match crate::canonical::parse_strict(&text) {
        Ok(v) => v,
        Err(e) => {
            verifier.violation(None, Rule::Bundle, format!("manifest.json: {e}"));
            return None;
        }
    };
    if value.get("format").and_then(|f| f.as_str()) != Some(BUNDLE_FORMAT) {
        verifier.violation(
            None,
            Rule::Bundle,
            format!("manifest.json: format is not {BUNDLE_FORMAT:?}"),
        );
    }
    let entries = value.get("entries").and_then(|e| e.as_u64());
    if entries.is_none() {
        verifier.violation(None, Rule::Bundle, "manifest.json: entries must be a count");
    }
    entries
}
