//! Exit codes and how errors become them.

use custodia_ledger::bundle::BundleError;
use custodia_ledger::entry::EntryError;
use custodia_ledger::keys::KeyError;
use custodia_ledger::ledger::LedgerError;
use custodia_ledger::store::StoreError;
use custodia_ledger::writer::AppendError;
use std::fmt;
use std::process::ExitCode;

/// Everything held.
pub(crate) const OK: u8 = 0;
/// Verification found violations.
pub(crate) const VIOLATIONS: u8 = 1;
/// Bad usage or bad input; nothing was written.
pub(crate) const BAD_INPUT: u8 = 2;
/// Another failure: I/O, database.
pub(crate) const FAILURE: u8 = 3;

/// Marks an error as the user's input being wrong (exit 2) rather than the machine (exit 3).
#[derive(Debug)]
pub(crate) struct BadInput(String);

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// A bad-input error with this message.
pub(crate) fn bad_input(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(BadInput(message.into()))
}

/// Marks any error as bad input, keeping its whole message.
pub(crate) fn as_input(e: impl Into<anyhow::Error>) -> anyhow::Error {
    bad_input(format!("{:#}", e.into()))
}

/// Prints `error: …` on stderr and returns the exit code for it.
pub(crate) fn report(e: anyhow::Error) -> ExitCode {
    eprintln!("error: {e:#}");
    ExitCode::from(code_of(&e))
}

/// 2 when anything in the chain says the input was wrong, else 3.
pub(crate) fn code_of(e: &anyhow::Error) -> u8 {
    if e.chain().any(is_input_error) {
        BAD_INPUT
    } else {
        FAILURE
    }
}

/// Library errors that mean the request was refused as given, not that the machine failed.
/// Transparent wrappers hide their inner error from the source chain, so they are unwrapped here.
fn is_input_error(e: &(dyn std::error::Error + 'static)) -> bool {
    if e.is::<BadInput>() || e.is::<EntryError>() {
        return true;
    }
    if let Some(e) = e.downcast_ref::<LedgerError>() {
        return ledger_input(e);
    }
    if let Some(e) = e.downcast_ref::<KeyError>() {
        return key_input(e);
    }
    if let Some(e) = e.downcast_ref::<AppendError>() {
        return append_input(e);
    }
    if let Some(e) = e.downcast_ref::<StoreError>() {
        return store_input(e);
    }
    if let Some(e) = e.downcast_ref::<BundleError>() {
        return match e {
            BundleError::Store(s) => store_input(s),
            other => matches!(
                other,
                BundleError::NotEmpty(_) | BundleError::Trusted { .. }
            ),
        };
    }
    false
}

fn ledger_input(e: &LedgerError) -> bool {
    match e {
        LedgerError::Key(k) => key_input(k),
        LedgerError::Append(a) => append_input(a),
        LedgerError::Store(s) => store_input(s),
        other => matches!(
            other,
            LedgerError::Entry(_) | LedgerError::Range(_) | LedgerError::DataDir { .. }
        ),
    }
}

fn key_input(e: &KeyError) -> bool {
    !matches!(e, KeyError::Io { .. })
}

fn append_input(e: &AppendError) -> bool {
    !matches!(e, AppendError::Store(_) | AppendError::Closed)
}

fn store_input(e: &StoreError) -> bool {
    matches!(e, StoreError::Refused(_) | StoreError::Conflict(_))
}
