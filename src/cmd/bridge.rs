//! `custodia bridge nats`: publishes every committed entry to NATS JetStream until interrupted.

use crate::cli::{BridgeCommand, NatsArgs};
use crate::exit::{self, as_input};
use anyhow::Context as _;
use custodia_bridge::{self as bridge, Bridge, BridgeConfig, BridgeError};
use std::io::Write as _;
use std::time::Duration;

pub(crate) async fn run(command: BridgeCommand) -> anyhow::Result<u8> {
    match command {
        BridgeCommand::Nats(args) => nats(args).await,
    }
}

async fn nats(args: NatsArgs) -> anyhow::Result<u8> {
    let mut config = BridgeConfig::new(args.url);
    config.prefix = args.prefix;
    config.stream = args.stream;
    config.duplicate_window = Duration::from_secs(args.duplicate_window);
    config.in_flight = args.in_flight;
    config.poll_interval = Duration::from_millis(args.poll_ms);
    // Settings first: a typo is the user's mistake (exit 2), found before any connection.
    config.check().map_err(as_input)?;
    let store = super::open_store(&args.data).await?;
    let bridge = Bridge::connect(store.into_arc(), config).await?;
    let start = bridge.position().await.map_err(|e| match e {
        // The stream on the server does not fit this ledger or these settings.
        BridgeError::StreamMismatch { .. } | BridgeError::Foreign { .. } => as_input(e),
        e => anyhow::Error::new(e),
    })?;
    let config = bridge.config();
    // One line on stdout, like `serve`, so that scripts know it is running and from where.
    println!(
        "bridging to {} stream {} (subjects {}) from seq {}",
        bridge::redact(&config.url),
        config.stream,
        config.subjects(),
        start.next
    );
    std::io::stdout().flush()?;
    tracing::info!(seq = start.next, stream_seq = start.stream_last, "starting");
    bridge
        .run(start, crate::shutdown::requested())
        .await
        .context("bridging to NATS")?;
    Ok(exit::OK)
}
