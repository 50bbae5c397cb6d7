//! Passphrases and key files. A passphrase comes from an environment variable (for scripts) or
//! a terminal prompt (for people); it is never echoed, logged or printed.

use crate::exit::{as_input, bad_input};
use custodia_ledger::keys::{KeyError, SecretKey};
use std::io::IsTerminal as _;
use std::path::Path;
use zeroize::Zeroizing;

/// The passphrase of key files that a command reads (`--key`, `--root-key`).
pub(crate) const KEY_PASSPHRASE_ENV: &str = "CUSTODIA_KEY_PASSPHRASE";
/// The passphrase that `init --encrypt-root` encrypts the root key with.
pub(crate) const ROOT_PASSPHRASE_ENV: &str = "CUSTODIA_ROOT_PASSPHRASE";

/// A passphrase from `env`, or asked on the terminal (twice when `confirm`).
pub(crate) fn passphrase(
    env: &str,
    what: &str,
    confirm: bool,
) -> anyhow::Result<Zeroizing<String>> {
    if let Some(value) = std::env::var_os(env) {
        let value = value
            .into_string()
            .map_err(|_| bad_input(format!("{env} is not valid UTF-8")))?;
        return non_empty(Zeroizing::new(value), env);
    }
    if !std::io::stdin().is_terminal() {
        return Err(bad_input(format!(
            "{what} needs a passphrase: set {env} or run on a terminal"
        )));
    }
    let first = prompt(&format!("Passphrase for {what}: "))?;
    if confirm {
        let second = prompt("Repeat the passphrase: ")?;
        if *first != *second {
            return Err(bad_input("the two passphrases differ"));
        }
    }
    non_empty(first, "the passphrase")
}

fn prompt(text: &str) -> anyhow::Result<Zeroizing<String>> {
    rpassword::prompt_password(text)
        .map(Zeroizing::new)
        .map_err(|e| anyhow::anyhow!("reading the passphrase from the terminal: {e}"))
}

fn non_empty(pass: Zeroizing<String>, what: &str) -> anyhow::Result<Zeroizing<String>> {
    if pass.is_empty() {
        return Err(bad_input(format!("{what} is empty")));
    }
    Ok(pass)
}

/// Reads a key file given on the command line, asking for its passphrase only when the file is
/// encrypted. A file that is missing or not a key is the user's input being wrong (exit 2).
pub(crate) fn read_key_file(path: &Path) -> anyhow::Result<SecretKey> {
    match SecretKey::read_pem(path, None) {
        Ok(key) => Ok(key),
        Err(KeyError::PassphraseNeeded(_)) => {
            let what = format!("key file {}", path.display());
            let pass = passphrase(KEY_PASSPHRASE_ENV, &what, false)?;
            SecretKey::read_pem(path, Some(&pass)).map_err(as_input)
        }
        Err(e) => Err(as_input(e)),
    }
}
