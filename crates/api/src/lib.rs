//! # custodia-api: the HTTP API of a custodia ledger
//!
//! JSON under `/v1`, errors as RFC 9457 problem documents, Prometheus text at `/metrics`. It is
//! the edge where requests become domain commands and ledger appends: it authenticates, checks
//! the caller's role, asks the domain to decide, and appends with the expected version. It is
//! **not** where rules live (the domain decides) nor where bytes are made (the ledger seals).
//!
//! ## Main types
//!
//! * [`AppState`] — an open ledger, the API database (`DATA/api.db`: hashed tokens, cosigned
//!   checkpoints), the SMS folded from the ledger ([`sms::SmsView`]), metrics, limits.
//! * [`app`]`(state) -> Router` — every route; tests call it without a socket.
//! * [`auth`] — [`auth::Role`], the table of who may do what ([`auth::Role::may`]), tokens.
//! * [`follow::Follower`] — a gapless cursor over stored then live entries, for subscriptions.
//! * [`error::ApiError`] — the one error type; each variant is one status and problem type.
//!
//! ## Endpoints and roles
//!
//! | class | endpoints | roles |
//! |---|---|---|
//! | public | `GET /v1/health`, `GET /v1/ready`, `GET /metrics`, `GET /v1/openapi.json` | anyone |
//! | read | `GET /v1/entries`, `/v1/entries/{seq or hash}`, `/v1/checkpoints`, `/v1/checkpoints/latest`, `/v1/checkpoints/{size}`, `/v1/proofs/inclusion`, `/v1/proofs/consistency`, `/v1/export`, `/v1/streams/{kind}/{id}`, `/v1/kpis?as_of=&valid_at=`, `/v1/registers/{name}?as_of=&valid_at=&status=&owner=&tag=&offset=&limit=`, `/v1/review-pack?from=&to=&as_of=&valid_at=` | admin, top_management, security_manager, risk_owner, auditor |
//! | write | `POST /v1/streams/{kind}/{id}/commands`, `POST /v1/events`, `POST /v1/checkpoints` | admin, top_management, security_manager, risk_owner |
//! | cosign | `POST /v1/checkpoints/{size}/cosignatures` | auditor |
//! | subscribe | `GET /v1/events/stream` | every role |
//!
//! The role is the coarse gate; who may approve a policy or accept a risk is SMS data
//! (`role.assigned` events) that the domain checks against the token's principal, which is the
//! actor of every event a request writes. A body never names the actor.
//!
//! ## Known limits
//!
//! * A decision of several events (a failed screening that also suspends a supplier) is
//!   appended one event at a time: the ledger has no all-or-nothing multi-event append yet, so
//!   a conflict on a later event leaves the earlier ones recorded.
//! * A client-attested event (`POST /v1/events`) is checked for format, payload, actor, key
//!   and version, but not re-decided by the domain's rules: an event is not a command.
//! * A token revoked by another process (`custodia tokens revoke`) stops working within
//!   [`auth::AUTH_CACHE_TTL`]; the rate limit applies per token, after authentication.
//! * A request that times out (408) may still have had its write committed.
//!
//! ## Example
//!
//! A ledger, a token, and a request through the router without a socket (as the tests do);
//! `custodia serve` binds the same router to a listener.
//!
//! ```
//! use custodia_api::{app, auth::{ApiDb, Role}, AppState, Config};
//! use custodia_ledger::ledger::{InitOptions, Ledger};
//! use tower::ServiceExt as _;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let options = InitOptions { name: "acme.example/sms".into(), actor: "user:root".into(), root_passphrase: None };
//! Ledger::init(dir.path(), &options).await?;
//! let state = AppState::open(dir.path(), Config::default()).await?;
//! let token = state.db.create("user:lead@cb.example", Role::Auditor).await?;
//! let request = axum::http::Request::get("/v1/entries/0")
//!     .header("authorization", format!("Bearer {}", token.secret))
//!     .body(axum::body::Body::empty())?;
//! let response = app(state).oneshot(request).await?;
//! assert_eq!(response.status(), 200); // the genesis entry
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod auth;
mod commands;
pub mod error;
mod events;
mod export;
pub mod extract;
pub mod follow;
mod ledger_reads;
pub mod metrics;
pub mod openapi;
pub mod read_models;
pub mod sms;

use auth::{ApiDb, RateLimiter};
use axum::routing::{get, post};
use axum::Router;
use custodia_ledger::ledger::Ledger;
use metrics::Metrics;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

/// Request bodies larger than this are refused with 413 (the largest event is 60 KiB).
pub const BODY_BYTES_MAX: usize = 256 * 1024;
/// Entries in one page of `GET /v1/entries` at most.
pub const PAGE_ENTRIES_MAX: u32 = 1000;

/// Limits of a server.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// A request (other than the event stream and the export) that takes longer gets a 408.
    pub request_timeout: Duration,
    /// Sustained requests per second per token.
    pub rate_per_second: u32,
    /// Requests one token may send at once before the rate applies.
    pub rate_burst: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            rate_per_second: 200,
            rate_burst: 400,
        }
    }
}

/// What every handler shares; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The ledger.
    pub ledger: Arc<Ledger>,
    /// Tokens and cosigned checkpoints.
    pub db: ApiDb,
    /// The SMS as of the ledger's head.
    pub sms: Arc<sms::SmsView>,
    /// Counters and gauges.
    pub metrics: Arc<Metrics>,
    /// Requests per token.
    pub rate: Arc<RateLimiter>,
    /// Limits.
    pub config: Config,
    /// Read models (KPIs), folded on first use.
    pub projector: Arc<read_models::SharedProjector>,
    /// Committed entries' lines, encoded once for every subscriber.
    pub lines: tokio::sync::broadcast::Sender<Arc<follow::Line>>,
}

impl AppState {
    /// Opens the ledger in `dir` (sealing with its node key) and the API database beside it,
    /// and starts folding the SMS.
    pub async fn open(dir: &Path, config: Config) -> error::Result<Self> {
        let ledger = Arc::new(Ledger::open(dir).await?);
        let db = ApiDb::open(dir).await?;
        Ok(Self::new(ledger, db, config))
    }

    /// A state over an open ledger and API database.
    pub fn new(ledger: Arc<Ledger>, db: ApiDb, config: Config) -> Self {
        Self {
            sms: sms::SmsView::spawn(ledger.clone()),
            lines: follow::relay_lines(ledger.clone()),
            ledger,
            db,
            metrics: Arc::default(),
            rate: Arc::new(RateLimiter::new(config.rate_per_second, config.rate_burst)),
            config,
            projector: Arc::default(),
        }
    }
}

/// Every route of the API over `state`.
pub fn app(state: AppState) -> Router {
    let timed = Router::new()
        .route("/v1/health", get(ledger_reads::health))
        .route("/v1/ready", get(ledger_reads::ready))
        .route("/metrics", get(ledger_reads::metrics))
        .route("/v1/openapi.json", get(openapi::document))
        .route("/v1/entries", get(ledger_reads::entries))
        .route("/v1/entries/{key}", get(ledger_reads::entry))
        .route(
            "/v1/checkpoints",
            get(ledger_reads::checkpoints).post(ledger_reads::sign_checkpoint),
        )
        .route(
            "/v1/checkpoints/latest",
            get(ledger_reads::latest_checkpoint),
        )
        .route("/v1/checkpoints/{size}", get(ledger_reads::checkpoint))
        .route(
            "/v1/checkpoints/{size}/cosignatures",
            post(ledger_reads::cosign),
        )
        .route("/v1/proofs/inclusion", get(ledger_reads::inclusion))
        .route("/v1/proofs/consistency", get(ledger_reads::consistency))
        .route("/v1/streams/{kind}/{id}", get(commands::stream))
        .route("/v1/streams/{kind}/{id}/commands", post(commands::command))
        .route("/v1/events", post(commands::attested))
        .route("/v1/kpis", get(read_models::kpis))
        .route("/v1/registers/{name}", get(read_models::register))
        .route("/v1/review-pack", get(read_models::review_pack))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            state.config.request_timeout,
        ));
    // Long by nature: a subscription lasts as long as the client wants; an export as long as
    // the ledger is large. Both are bounded in memory instead.
    let untimed = Router::new()
        .route("/v1/events/stream", get(events::stream))
        .route("/v1/export", get(export::export));
    timed
        .merge(untimed)
        .fallback(not_found)
        .layer(RequestBodyLimitLayer::new(BODY_BYTES_MAX))
        .layer(axum::middleware::from_fn(extract::problems_everywhere))
        .with_state(state)
}

async fn not_found(uri: axum::http::Uri) -> error::ApiError {
    error::ApiError::NotFound(format!("no endpoint at {}", uri.path()))
}
