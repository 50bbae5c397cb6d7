//! `custodia bridge nats`: publishes every committed entry to NATS JetStream until interrupted.

use crate::exit::{self, as_input};
use anyhow::Context as _;
use clap::{Args, Subcommand};
use custodia_bridge::{self as bridge, Bridge, BridgeConfig, BridgeError};
use std::io::Write as _;
use std::time::Duration;

#[derive(Debug, Subcommand)]
pub(crate) enum BridgeCommand {
    /// Publish every committed entry to NATS JetStream, once, in seq order, and keep following
    /// the ledger.
    #[command(after_help = "\
Each entry becomes one message on subject <prefix>.<kind>, kind being the part of its stream
before '/' (genesis and key entries: <prefix>.ledger). The payload is the entry's stored line,
as GET /v1/entries serves it, so receivers can check hashes and prev links. Headers:
  Nats-Msg-Id      the entry hash (hex): the server drops a republish within its duplicate window
  Custodia-Seq     the entry's seq
  Custodia-Stream  its stream, <kind>/<id>
  Custodia-Type    its event type
  Nats-Expected-Last-Sequence  the stream sequence of the entry before: no message is stored
                   out of order, so the stream never has a hole

The JetStream stream (--stream, subjects <prefix>.>) is created if missing; one with other
subjects is refused. The stream is the only record of progress: on start, and after a NATS
failure, the bridge reads the stream's last message, checks that it is this ledger's entry, and
continues with the next seq. A crash or restart therefore loses nothing and publishes nothing
twice. It reads the ledger only (no key needed) and polls for new entries every --poll-ms.
Stop with Ctrl-C or SIGTERM. Progress is logged with -v.")]
    Nats(NatsArgs),
}

#[derive(Debug, Args)]
pub(crate) struct NatsArgs {
    #[command(flatten)]
    pub(crate) data: crate::cli::DataDir,
    /// The NATS server.
    #[arg(long, value_name = "URL", env = "CUSTODIA_NATS_URL")]
    pub(crate) url: String,
    /// Subjects are <PREFIX>.<kind>.
    #[arg(long, default_value = bridge::DEFAULT_PREFIX)]
    pub(crate) prefix: String,
    /// The JetStream stream's name.
    #[arg(long, default_value = bridge::DEFAULT_STREAM)]
    pub(crate) stream: String,
    /// The duplicate window, in seconds, of a stream the bridge creates (an existing stream
    /// keeps its own).
    #[arg(long, value_name = "SECS", default_value_t = bridge::DEFAULT_DUPLICATE_WINDOW.as_secs())]
    pub(crate) duplicate_window: u64,
    /// Unacknowledged publishes at most.
    #[arg(long, value_name = "N", default_value_t = bridge::DEFAULT_IN_FLIGHT)]
    pub(crate) in_flight: usize,
    /// Milliseconds between reads of the ledger once it is all published.
    #[arg(long, value_name = "MS", default_value_t = bridge::DEFAULT_POLL_INTERVAL.as_millis() as u64)]
    pub(crate) poll_ms: u64,
}

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
        .run(start, super::serve::shutdown())
        .await
        .context("bridging to NATS")?;
    Ok(exit::OK)
}
