//! `custodia serve`: the HTTP API over a data directory until interrupted.

use anyhow::Context as _;
use clap::Args;
use std::io::Write as _;
use std::net::SocketAddr;

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) data: crate::cli::DataDir,
    /// Address to listen on; port 0 picks a free port (printed on stdout).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub(crate) listen: SocketAddr,
}

pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<u8> {
    serve(&args.data, args.listen).await
}

/// Serves the ledger of `data` on `listen` until Ctrl-C or SIGTERM.
pub(crate) async fn serve(data: &crate::cli::DataDir, listen: SocketAddr) -> anyhow::Result<u8> {
    let ledger = super::open_ledger(data).await?;
    let db = super::open_api_db(data).await?;
    let config = custodia_api::Config::default();
    let state = custodia_api::AppState::new(std::sync::Arc::new(ledger), db, config);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let addr = listener.local_addr()?;
    // One line on stdout so that scripts (and tests) learn the port when it was 0.
    println!("listening on http://{addr}");
    std::io::stdout().flush()?;
    tracing::info!(%addr, data = %data.display(), "serving");
    axum::serve(listener, custodia_api::app(state))
        .with_graceful_shutdown(shutdown())
        .await
        .context("serving")?;
    Ok(crate::exit::OK)
}

/// Ctrl-C or SIGTERM: how a long-running command (serve, bridge) is asked to stop.
pub(crate) async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
