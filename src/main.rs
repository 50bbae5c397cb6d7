//! `custodia`: the command line of custodia. It is thin wiring over the library crates: the
//! ledger's rules live in `custodia-ledger`, ISO 28000's in `custodia-domain`, the read models
//! in `custodia-projections`, the HTTP API in `custodia-api` and the broker bridge in
//! `custodia-bridge`. This binary parses arguments, reads files and passphrases, opens stores,
//! shows progress, and turns outcomes into exit codes scripts can rely on.
//!
//! Exit codes: 0 all holds; 1 verification found violations; 2 bad usage or bad input (nothing
//! written); 3 other failure (I/O, database).

mod cli;
mod cmd;
mod exit;
mod input;
mod progress;
mod secrets;
mod shutdown;
mod text;

use clap::Parser as _;
use std::io::IsTerminal as _;
use std::process::ExitCode;

// Verification and appends allocate many small JSON values across threads; mimalloc keeps that
// cheap where the system allocator contends.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Argument errors print clap's own message; clap exits 2 for usage errors and 0 for help.
    let cli = cli::Cli::parse();
    init_tracing(cli.verbose);
    install_panic_hook();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return exit::report(anyhow::Error::new(e).context("starting the runtime")),
    };
    match runtime.block_on(cmd::run(cli.command)) {
        Ok(code) => code.into(),
        Err(e) => exit::report(e),
    }
}

/// Logs go to stderr so that stdout stays machine-readable (receipts, proofs, reports).
fn init_tracing(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info,sqlx=warn",
        2 => "debug,sqlx=info",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}

/// A panic is a bug in custodia, never an answer to bad input; if one happens anyway, the user
/// gets one clear line and exit code 3 instead of a backtrace.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        // `custodia … | head` closing the pipe early is the reader's choice, not a bug: stop
        // without a bug report (the output was not all delivered, so not with success).
        if what.contains("Broken pipe") {
            std::process::exit(i32::from(exit::FAILURE));
        }
        eprintln!(
            "error: internal error{at}: {what} (this is a bug in custodia; please report it)"
        );
        std::process::exit(i32::from(exit::FAILURE));
    }));
}
