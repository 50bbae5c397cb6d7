//! Progress bars on stderr for long walks, drawn only when stderr is a terminal so that logs
//! and CI output stay clean.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal as _;

/// A bar counting entries up to `total`; hidden unless stderr is a terminal.
pub(crate) fn entries(total: u64, verb: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    let template = format!("{verb} {{bar:40}} {{pos}}/{{len}} entries ({{per_sec}}, {{eta}} left)");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}

/// A bar whose total is unknown (a bundle's line count is not known before reading it).
pub(crate) fn spinner(verb: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    let template = format!("{verb} {{spinner}} {{pos}} entries ({{per_sec}})");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}
