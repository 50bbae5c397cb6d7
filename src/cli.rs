//! The command line: every command, argument and help text, and the parsers of argument values.
//! Commands (`cmd/`) take these types; none declares arguments of its own.
// The doc comments below are clap's --help text, where `<class>:<name>` is the usual way to
// write a placeholder; rustdoc would take it for an HTML tag.
#![allow(rustdoc::invalid_html_tags)]

use clap::builder::PossibleValuesParser;
use clap::{Args, Parser, Subcommand, ValueEnum};
use custodia_api::read_models::REGISTERS;
use custodia_bridge as bridge;
use custodia_domain::Timestamp;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

const EXIT_CODES: &str = "\
Exit codes:
  0  all holds
  1  verification found violations
  2  bad usage or bad input (nothing was written)
  3  other failure (I/O, database)

Logs go to stderr (RUST_LOG or -v); results go to stdout.";

/// custodia: the system of record for an ISO 28000 security management system whose history
/// can be proved. Every change is an event, sealed into a signed, hash-chained,
/// Merkle-committed ledger that anyone can verify offline.
#[derive(Debug, Parser)]
#[command(name = "custodia", version, after_help = EXIT_CODES, propagate_version = true)]
pub(crate) struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides it.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Where the ledger is: a data directory (embedded SQLite), or a PostgreSQL URL with a key
/// directory beside it.
#[derive(Debug, Args, Clone)]
pub(crate) struct DataDir {
    /// The ledger: a data directory (ledger.db and keys/), or a postgres:// URL (several nodes
    /// share one ledger there; key files then come from --keys).
    #[arg(
        long = "data",
        value_name = "DIR|URL",
        default_value = "./custodia-data",
        env = "CUSTODIA_DATA"
    )]
    pub(crate) path: PathBuf,
    /// With a postgres:// --data: the directory of this node's key files (root.pem, node.pem).
    /// A data directory keeps them in DIR/keys.
    #[arg(long = "keys", value_name = "DIR", env = "CUSTODIA_KEYS")]
    pub(crate) keys: Option<PathBuf>,
}

/// Key files in a key directory.
pub(crate) const ROOT_KEY_NAME: &str = "root.pem";
/// The node key file in a key directory.
pub(crate) const NODE_KEY_NAME: &str = "node.pem";

/// A ledger's place, as `--data` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location {
    /// A data directory with the embedded SQLite database.
    Dir(PathBuf),
    /// A PostgreSQL database.
    Postgres(String),
}

impl DataDir {
    /// A `postgres://` (or `postgresql://`) value names a database; anything else a directory.
    pub(crate) fn location(&self) -> Location {
        match self.path.to_str() {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Location::Postgres(url.to_owned())
            }
            _ => Location::Dir(self.path.clone()),
        }
    }

    /// The directory of the key files: `--keys`, else `DIR/keys` for a data directory, else
    /// `./custodia-keys` for a database.
    pub(crate) fn key_dir(&self) -> PathBuf {
        match (&self.keys, self.location()) {
            (Some(keys), _) => keys.clone(),
            (None, Location::Dir(dir)) => dir.join("keys"),
            (None, Location::Postgres(_)) => PathBuf::from("./custodia-keys"),
        }
    }

    /// The node key file that seals this node's appends.
    pub(crate) fn node_key_file(&self) -> PathBuf {
        self.key_dir().join(NODE_KEY_NAME)
    }

    /// How to name the ledger in messages: the directory, or the URL without its password.
    pub(crate) fn display(&self) -> String {
        match self.location() {
            Location::Dir(dir) => dir.display().to_string(),
            Location::Postgres(url) => custodia_ledger::store::postgres::redact(&url),
        }
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create a ledger: root and node keys, the genesis entry, the node key's registration.
    #[command(after_help = "\
The root key (keys/root.pem) holds every power over the ledger's keys: move it offline after
init, and use --encrypt-root so that the file alone is not enough. The passphrase comes from
CUSTODIA_ROOT_PASSPHRASE, or is asked twice on a terminal.")]
    Init(InitArgs),
    /// Append raw events from a JSON file (one event object, or JSON Lines of them).
    #[command(after_help = "\
Each event is an object with members: stream (\"<kind>/<id>\"), version (the stream position it
expects; optional with --expect next), type (\"<kind>.<past_tense>\"), schema (integer),
occurred_at (any RFC 3339 date-time; normalized to UTC microseconds), actor (\"<class>:<name>\"),
data (object) and meta (optional object). Numbers must be integers within ±(2^53-1); decimals
travel as strings. Every event is checked before any is appended: one bad event and nothing is
written. Prints one JSON receipt per event, once it is durable.")]
    Append(AppendArgs),
    /// Verify a ledger's data directory or an exported bundle against every rule.
    #[command(after_help = "\
Prints every violation (seq, rule, message) and a summary; exits 1 when any rule is broken.
With --trusted-checkpoint, also proves that the ledger extends the history that checkpoint
committed to: a rewritten past is caught even if every key was stolen.")]
    Verify(VerifyArgs),
    /// Export the ledger as a bundle directory that verifies offline.
    Export(ExportArgs),
    /// Sign a checkpoint of the ledger's current Merkle tree with the node key and print it.
    Checkpoint(DataDir),
    /// Print Merkle inclusion or consistency proofs as JSON.
    #[command(subcommand)]
    Prove(ProveCommand),
    /// List, register, revoke, generate and rotate keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Serve the HTTP API (JSON under /v1, Server-Sent Events, /metrics) over a data directory.
    #[command(after_help = "\
Requests authenticate with `Authorization: Bearer <token>`; make tokens with `custodia tokens
create`. The OpenAPI document is at /v1/openapi.json.")]
    Serve(ServeArgs),
    /// The first five minutes: a ledger loaded with a year of a reference SMS, verified and
    /// summarized; `--serve` then serves it.
    #[command(after_help = "\
Creates DATA (default ./custodia-data) with the GlobalLogistics scenario, each event decided by
the domain and sealed in scenario order; prints the top risks, open and overdue corrective
actions, the KPI board, an excerpt of the latest management review pack, the latest
checkpoint and the verification result. Run again on the same DATA, it shows what is there.")]
    Demo(DemoArgs),
    /// Create, list and revoke API tokens (stored hashed in DATA/api.db).
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Print the registers as they stood at a date: as of a transaction time, valid at a
    /// business time, or both. Read-only; needs no key.
    #[command(after_help = "\
DATE is RFC 3339 (2026-03-15T09:00:00Z, any offset) or a plain date (2026-03-15), which means
the end of that day in UTC (23:59:59.999999Z), so that everything on that day is included.
--as-of folds the entries recorded by DATE: what the system knew then, as an investigator
replays it. --valid-at folds the events that happened by DATE (a back-dated report counts).
Statuses such as `overdue` are computed at --valid-at, else --as-of. The output states the
ledger size the answer corresponds to. An --as-of before the ledger's genesis entry is refused;
a --valid-at before any event gives empty registers (history may be imported back-dated).")]
    Replay(ReplayArgs),
    /// Talk to a running `custodia serve`: submit events attested with a local key file, or
    /// send domain commands.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Publish every committed entry to a message broker (NATS JetStream), resuming after a
    /// restart without gaps or duplicates.
    #[command(subcommand)]
    Bridge(BridgeCommand),
}

#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    #[command(flatten)]
    pub(crate) data: DataDir,
    /// The ledger's name: printable ASCII without spaces or '+', e.g. acme.example/sms.
    #[arg(long)]
    pub(crate) name: String,
    /// Who creates the ledger, as <class>:<name>.
    #[arg(long, default_value = "user:root")]
    pub(crate) actor: String,
    /// Encrypt the root key file with a passphrase (CUSTODIA_ROOT_PASSPHRASE or a prompt).
    #[arg(long)]
    pub(crate) encrypt_root: bool,
}

/// How an append treats each event's stream version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ExpectArg {
    /// The event's version must be the stream's next one; otherwise it is refused.
    Exact,
    /// Place each event at its stream's next version (not with --key).
    Next,
}

#[derive(Debug, Args)]
pub(crate) struct AppendArgs {
    #[command(flatten)]
    pub(crate) data: DataDir,
    /// The JSON or JSON Lines file of events ("-" reads stdin).
    #[arg(long, value_name = "FILE")]
    pub(crate) file: PathBuf,
    /// Attest every event with this key file (passphrase from CUSTODIA_KEY_PASSPHRASE or a
    /// prompt); implies --expect exact.
    #[arg(long, value_name = "KEYFILE")]
    pub(crate) key: Option<PathBuf>,
    /// Version handling.
    #[arg(long, value_enum, default_value_t = ExpectArg::Exact)]
    pub(crate) expect: ExpectArg,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["data", "bundle"])))]
pub(crate) struct VerifyArgs {
    /// Verify the ledger in this data directory or postgres:// database (every entry, stored
    /// column and tree node).
    #[arg(long = "data", value_name = "DIR|URL")]
    pub(crate) data: Option<PathBuf>,
    /// Verify an exported bundle directory.
    #[arg(long, value_name = "DIR")]
    pub(crate) bundle: Option<PathBuf>,
    /// A signed checkpoint you already trust (e.g. from an earlier audit).
    #[arg(long, value_name = "FILE")]
    pub(crate) trusted_checkpoint: Option<PathBuf>,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    pub(crate) data: DataDir,
    /// A new or empty directory for the bundle.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ProveCommand {
    /// Prove that entry SEQ is in the tree of SIZE entries.
    Inclusion {
        #[command(flatten)]
        data: DataDir,
        /// The entry's seq.
        #[arg(long)]
        seq: u64,
        /// The tree size (default: the whole ledger).
        #[arg(long)]
        size: Option<u64>,
    },
    /// Prove that the tree of FROM entries is a prefix of the tree of TO entries.
    Consistency {
        #[command(flatten)]
        data: DataDir,
        /// The older tree size.
        #[arg(long)]
        from: u64,
        /// The newer tree size (default: the whole ledger).
        #[arg(long)]
        to: Option<u64>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// List every key the ledger has registered.
    List(DataDir),
    /// Register a key, attested by the root key.
    Register(RegisterArgs),
    /// Revoke a key, attested by the root key.
    Revoke(RevokeArgs),
    /// Generate a new key file (mode 0600) and print its public key.
    Generate {
        /// The new key file; an existing file is never overwritten.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Encrypt it with a passphrase (CUSTODIA_KEY_PASSPHRASE or a prompt).
        #[arg(long)]
        encrypt: bool,
    },
    /// Replace the node key: generate, register, revoke the old one, swap the key files.
    #[command(after_help = "\
The old key is kept as keys/node-<timestamp>.pem.revoked; keys/node.pem becomes the new key.")]
    Rotate(RootArgs),
}

/// The data directory and the root key that attests key changes.
#[derive(Debug, Args)]
pub(crate) struct RootArgs {
    #[command(flatten)]
    pub(crate) data: DataDir,
    /// The ledger's root key file (passphrase from CUSTODIA_KEY_PASSPHRASE or a prompt).
    #[arg(long, value_name = "FILE")]
    pub(crate) root_key: PathBuf,
    /// Who is accountable for the change, as <class>:<name>.
    #[arg(long = "by", value_name = "ACTOR", default_value = "user:root")]
    pub(crate) by: String,
}

#[derive(Debug, Args)]
pub(crate) struct RegisterArgs {
    #[command(flatten)]
    pub(crate) root: RootArgs,
    /// The public key, base64 of its 32 bytes (as `keys generate` prints it).
    #[arg(long, value_name = "PUBKEY_B64")]
    pub(crate) key: String,
    /// What it may do: entry, checkpoint, attest, admin (comma separated).
    #[arg(long, value_delimiter = ',', required = true)]
    pub(crate) purposes: Vec<String>,
    /// The actor it may attest for, or '*' for any.
    #[arg(long)]
    pub(crate) actor: String,
    /// A human label.
    #[arg(long)]
    pub(crate) label: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct RevokeArgs {
    #[command(flatten)]
    pub(crate) root: RootArgs,
    /// The public key to revoke, base64.
    #[arg(long, value_name = "PUBKEY_B64")]
    pub(crate) key: String,
    /// Why it is revoked (recorded in the ledger).
    #[arg(long)]
    pub(crate) reason: String,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) data: DataDir,
    /// Address to listen on; port 0 picks a free port (printed on stdout).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub(crate) listen: SocketAddr,
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    #[command(flatten)]
    pub(crate) data: DataDir,
    /// Serve the demo ledger over HTTP afterwards.
    #[arg(long)]
    pub(crate) serve: bool,
    /// Address to serve on, with --serve.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub(crate) listen: SocketAddr,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokensCommand {
    /// Create a token for a principal with a role; prints the secret once.
    #[command(after_help = "\
Roles: admin, top_management, security_manager, risk_owner (read and write), auditor (read,
verify, cosign checkpoints; never write), subscriber (the event stream only). The principal is
the actor recorded in every event written with the token. Only the token's SHA-256 is stored:
keep the printed secret, it cannot be shown again.")]
    Create(CreateArgs),
    /// List tokens (id, principal, role, created, revoked); never the secrets.
    List(DataDir),
    /// Revoke a token by its id.
    Revoke {
        #[command(flatten)]
        data: DataDir,
        /// The token's id, as `tokens list` prints it (tok_…).
        #[arg(long)]
        id: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    #[command(flatten)]
    pub(crate) data: DataDir,
    /// Who the token acts for, as <class>:<name> (e.g. user:alice@acme.example).
    #[arg(long)]
    pub(crate) principal: String,
    /// What it may do: admin, top_management, security_manager, risk_owner, auditor, subscriber.
    #[arg(long)]
    pub(crate) role: String,
}

#[derive(Debug, Args)]
#[command(group(
    clap::ArgGroup::new("time").required(true).multiple(true).args(["as_of", "valid_at"])
))]
pub(crate) struct ReplayArgs {
    #[command(flatten)]
    pub(crate) data: DataDir,
    /// Transaction time: the registers as the ledger knew them then (entries recorded by DATE).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub(crate) as_of: Option<Timestamp>,
    /// Business time: what was true then (events that happened by DATE), as known now or, with
    /// --as-of, as known at that time.
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub(crate) valid_at: Option<Timestamp>,
    /// A register to print (repeatable); default: every register.
    #[arg(long = "register", value_name = "NAME", value_parser = PossibleValuesParser::new(REGISTERS))]
    pub(crate) registers: Vec<String>,
    /// At most this many rows per register (by id); default: all.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) limit: Option<u64>,
    /// Print one JSON document (every row in full) instead of tables.
    #[arg(long)]
    pub(crate) json: bool,
}

/// A date argument: RFC 3339, or `YYYY-MM-DD` for the end of that day in UTC (the last
/// microsecond), so that a plain date includes everything that happened on it; read as the API
/// reads `as_of` and `valid_at`.
pub(crate) fn parse_date(text: &str) -> Result<Timestamp, String> {
    custodia_api::read_models::parse_instant(text)
}

#[derive(Debug, Subcommand)]
pub(crate) enum ClientCommand {
    /// Attest events with a local key file and submit them to a running server.
    #[command(after_help = "\
Each event of FILE (one JSON object, or JSON Lines, as for `custodia append`) is checked, then
attested with KEYFILE (Ed25519 over the event digest, LEDGER-FORMAT §3) and sent to
POST /v1/events in file order. The event's actor must be the token's principal, its version the
stream's next, and the key registered to attest for that actor. Prints one JSON receipt per
accepted event; the first refusal is printed (status, rule, detail) and nothing after it is sent.
Exit 2 when the server refused a request (4xx), 3 when it could not be reached or failed (5xx).")]
    Submit(SubmitArgs),
    /// Send one domain command to a running server.
    #[command(after_help = "\
FILE holds {\"action\": \"assess\", \"data\": {…}} and optionally \"occurred_at\" (RFC 3339, not in
the future). The actor is the token's principal. Without --expect-version the stream's current
version is read from the server first (a concurrent writer then gets the conflict, not you).
Prints one JSON receipt per entry the command recorded.")]
    Command(CommandArgs),
}

/// An API token; its `Debug` never shows it.
#[derive(Clone)]
pub(crate) struct Token(String);

impl Token {
    /// The secret, for the `Authorization` header only.
    pub(crate) fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

// Parsing never fails: clap's message for an invalid value would repeat the value, so the
// token is checked in `cmd::client`, whose messages do not.
impl std::str::FromStr for Token {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Token(s.trim().to_owned()))
    }
}

/// Where the server is and how to authenticate.
#[derive(Debug, Args)]
pub(crate) struct Server {
    /// The server's base URL, e.g. http://127.0.0.1:8080 (https works too).
    #[arg(long, value_name = "URL")]
    pub(crate) url: String,
    /// The API token (from `custodia tokens create`). Prefer the environment variable: a
    /// command line is visible to other users of the machine.
    #[arg(
        long,
        env = "CUSTODIA_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub(crate) token: Token,
}

#[derive(Debug, Args)]
pub(crate) struct SubmitArgs {
    #[command(flatten)]
    pub(crate) server: Server,
    /// The author's key file (passphrase from CUSTODIA_KEY_PASSPHRASE or a prompt).
    #[arg(long, value_name = "KEYFILE")]
    pub(crate) key: PathBuf,
    /// The JSON or JSON Lines file of events ("-" reads stdin).
    #[arg(long, value_name = "FILE")]
    pub(crate) file: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct CommandArgs {
    #[command(flatten)]
    pub(crate) server: Server,
    /// The stream kind, e.g. risk.
    #[arg(long, value_name = "KIND")]
    pub(crate) kind: String,
    /// The record id, e.g. R-0007.
    #[arg(long, value_name = "ID")]
    pub(crate) id: String,
    /// The command file ("-" reads stdin).
    #[arg(long, value_name = "FILE")]
    pub(crate) file: PathBuf,
    /// The stream version you decided on (0 for a new record).
    #[arg(long, value_name = "N")]
    pub(crate) expect_version: Option<u64>,
}

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
    pub(crate) data: DataDir,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_date_is_the_end_of_that_day_in_utc() {
        let t = parse_date("2026-03-15").unwrap();
        assert_eq!(t.to_string(), "2026-03-15T23:59:59.999999Z");
        let t = parse_date("2026-03-15T10:00:00+02:00").unwrap();
        assert_eq!(t.to_string(), "2026-03-15T08:00:00.000000Z");
        for bad in [
            "2026-02-30",
            "2026-13-01",
            "15/03/2026",
            "2026-03-15T25:00:00Z",
            "",
        ] {
            assert!(parse_date(bad).is_err(), "{bad} was accepted");
        }
    }

    proptest::proptest! {
        /// Any instant in the ledger's form reads back as itself, and its calendar date alone
        /// means the last microsecond of that day: never before the instant, and before the
        /// next day begins.
        #[test]
        fn a_date_covers_every_instant_of_its_day(micros in -62_135_596_800_000_000i64..253_402_214_400_000_000) {
            let t = Timestamp::from_micros(micros).unwrap();
            let text = t.to_string();
            proptest::prop_assert_eq!(parse_date(&text).unwrap(), t);
            let end = parse_date(&text[..10]).unwrap();
            proptest::prop_assert!(end >= t);
            proptest::prop_assert!(end.micros() - t.micros() < 86_400_000_000);
            proptest::prop_assert_eq!(&end.to_string()[..10], &text[..10]);
        }
    }
}
