//! The format this repository publishes (`docs/ledger-format.md`) and the vectors its tests read
//! (`tests/vectors/`) are the shared ones, byte for byte. The shared copies live in `../shared`
//! beside the repository, which a clone on its own does not have: then these tests say so and
//! check nothing.

use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// The line after which the project may append notes of its own to the published format.
const APPENDIX_MARKER: &str = "<!-- Appendix: not part of the shared text -->";

/// The shared directory, or `None` (with a note on stderr) when it is not beside the repository.
fn shared() -> Option<PathBuf> {
    let dir = Path::new(ROOT).join("../shared");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "note: {} is absent; the published format is not compared with it",
            dir.display()
        );
        None
    }
}

/// The published text up to the appendix marker line, or all of it when there is none.
fn shared_part(published: &str) -> &str {
    let mut at = 0;
    for line in published.split_inclusive('\n') {
        if line.trim_end() == APPENDIX_MARKER {
            // The blank line that separates the marker from the shared text is the project's.
            return published[..at]
                .strip_suffix('\n')
                .unwrap_or(&published[..at]);
        }
        at += line.len();
    }
    published
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Every file below `dir`, as paths relative to it, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for item in std::fs::read_dir(&next).unwrap() {
            let path = item.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_published_format_is_the_shared_text() {
    let Some(shared) = shared() else { return };
    let published = String::from_utf8(read(&Path::new(ROOT).join("docs/ledger-format.md")))
        .expect("docs/ledger-format.md is UTF-8");
    let original = String::from_utf8(read(&shared.join("LEDGER-FORMAT.md"))).unwrap();
    let ours = shared_part(&published);
    if ours != original {
        let line = ours
            .lines()
            .zip(original.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| ours.lines().count().min(original.lines().count()));
        panic!(
            "docs/ledger-format.md differs from {} from line {} on: copy the shared text again \
             (notes of the project's own go below the line {APPENDIX_MARKER})",
            shared.join("LEDGER-FORMAT.md").display(),
            line + 1
        );
    }
}

#[test]
fn the_vectors_are_the_shared_ones() {
    let Some(shared) = shared() else { return };
    let (theirs, ours) = (
        shared.join("vectors"),
        Path::new(ROOT).join("tests/vectors"),
    );
    let names = files(&theirs);
    assert!(!names.is_empty(), "{} holds no vectors", theirs.display());
    assert_eq!(names, files(&ours), "the same files in tests/vectors");
    for name in names {
        assert!(
            read(&theirs.join(&name)) == read(&ours.join(&name)),
            "tests/vectors/{} differs from the shared copy",
            name.display()
        );
    }
}

#[test]
fn only_the_text_above_the_marker_is_compared() {
    let shared = "# Format\n\nThe text.\n";
    assert_eq!(shared_part(shared), shared, "no marker: the whole file");
    let with = format!("{shared}\n{APPENDIX_MARKER}\n\n## Appendix\n\nOurs.\n");
    assert_eq!(shared_part(&with), shared);
    let changed = format!("# Format\n\nAnother text.\n\n{APPENDIX_MARKER}\n");
    assert_ne!(shared_part(&changed), shared);
    // A marker quoted inside a line does not end the shared text.
    let quoted = format!("# Format\n\nSee `{APPENDIX_MARKER}`.\n");
    assert_eq!(shared_part(&quoted), quoted);
}
