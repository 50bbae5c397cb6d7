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
//! * [`routes`] — the route table: each route's handler and its documentation, from which both
//!   the router and the OpenAPI document ([`openapi`]) are built, so neither lacks a route.
//! * [`auth`] — [`auth::Role`], the table of who may do what ([`auth::Role::may`]), tokens.
//! * [`follow::Follower`] — a gapless cursor over stored then live entries, for subscriptions.
//! * [`error::ApiError`] — the one error type; each variant is one status and problem type, and
//!   [`error::PROBLEM_TYPES`] lists every type any layer sends (the document names them all).
//! * [`extract`] — how requests are read: [`extract::JsonBody`] (`application/json` or 415;
//!   the ledger's strict JSON, so a duplicate key is a 422 naming it), canonical numbers
//!   ([`extract::Uint`]), and the limits on the request target and header fields (414, 431).
//!
//! ## Endpoints and roles
//!
//! | class | endpoints | roles |
//! |---|---|---|
//! | public | `GET /v1/health`, `GET /v1/ready`, `GET /metrics`, `GET /v1/openapi.json` | anyone |
//! | read | `GET /v1/entries`, `/v1/entries/{seq or hash}`, `/v1/checkpoints`, `/v1/checkpoints/latest`, `/v1/checkpoints/{size}`, `/v1/proofs/inclusion`, `/v1/proofs/consistency`, `/v1/export`, `/v1/streams/{kind}/{id}`, `/v1/kpis?as_of=&valid_at=`, `/v1/registers/{name}?as_of=&valid_at=&status=&owner=&tag=&offset=&limit=`, `/v1/review-pack?from=&to=&as_of=&valid_at=` | admin, top_management, security_manager, risk_owner, auditor |
//! | write | `POST /v1/streams/<kind>/{id}/commands` (one path per stream kind), `POST /v1/events`, `POST /v1/checkpoints` | admin, top_management, security_manager, risk_owner |
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
use axum::Router;
use custodia_ledger::ledger::Ledger;
use metrics::Metrics;
use openapi::{Doc, Route};
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

/// Every route of the API, with its documentation: the router and the OpenAPI document are
/// both built from this table, so neither has a route the other lacks.
pub fn routes() -> Vec<Route> {
    use auth::Access::{Cosign, Read, Subscribe, Write};
    let problem = |statuses: &[u16]| statuses.to_vec();
    let mut routes = vec![
        Route::get("/v1/health", ledger_reads::health, Doc::public("The process is up.").ok::<ledger_reads::Health>()),
        Route::get(
            "/v1/ready",
            ledger_reads::ready,
            Doc::public("The store answers and the SMS fold caught up.")
                .ok::<ledger_reads::Ready>()
                .problems(&problem(&[503])),
        ),
        Route::get(
            "/metrics",
            ledger_reads::metrics,
            Doc::public("Prometheus text: entries, appends, rejections, subscribers.")
                .ok_media("text/plain", serde_json::json!({"type": "string"})),
        ),
        Route::get(
            "/v1/openapi.json",
            openapi::document,
            Doc::public("This document (OpenAPI 3.1).")
                .ok_media("application/json", serde_json::json!({"type": "object"})),
        ),
        Route::get(
            "/v1/entries",
            ledger_reads::entries,
            Doc::with(Read, "A page of entries by seq.")
                .query::<ledger_reads::PageQuery>()
                .ok::<ledger_reads::EntriesPage>(),
        ),
        Route::get(
            "/v1/entries/{key}",
            ledger_reads::entry,
            Doc::with(Read, "One entry, by seq or by hash.")
                .path::<ledger_reads::EntryPath>()
                .ok::<ledger_reads::EntryLine>()
                .problems(&[404]),
        ),
        Route::get(
            "/v1/checkpoints",
            ledger_reads::checkpoints,
            Doc::with(Read, "The sizes with a signed checkpoint.")
                .ok::<ledger_reads::CheckpointSizes>(),
        ),
        Route::post(
            "/v1/checkpoints",
            ledger_reads::sign_checkpoint,
            Doc::with(Write, "Sign a checkpoint of the current tree with the node key.")
                .ok::<ledger_reads::CheckpointView>()
                .problems(&[422]),
        ),
        Route::get(
            "/v1/checkpoints/latest",
            ledger_reads::latest_checkpoint,
            Doc::with(Read, "The latest checkpoint and its cosignatures.")
                .ok::<ledger_reads::CheckpointView>()
                .problems(&[404]),
        ),
        Route::get(
            "/v1/checkpoints/{size}",
            ledger_reads::checkpoint,
            Doc::with(Read, "The checkpoint of a size and its cosignatures.")
                .path::<ledger_reads::SizePath>()
                .ok::<ledger_reads::CheckpointView>()
                .problems(&[404]),
        ),
        Route::post(
            "/v1/checkpoints/{size}/cosignatures",
            ledger_reads::cosign,
            Doc::with(Cosign, "Submit a C2SP tlog-cosignature/v1 line on a stored checkpoint.")
                .path::<ledger_reads::SizePath>()
                .body::<ledger_reads::Cosignature>()
                .ok::<ledger_reads::CosignatureAccepted>()
                .problems(&[404]),
        ),
        Route::get(
            "/v1/proofs/inclusion",
            ledger_reads::inclusion,
            Doc::with(Read, "An RFC 9162 inclusion proof of an entry in a tree.")
                .query::<ledger_reads::InclusionQuery>()
                .ok::<ledger_reads::InclusionView>()
                .problems(&[404]),
        ),
        Route::get(
            "/v1/proofs/consistency",
            ledger_reads::consistency,
            Doc::with(Read, "An RFC 9162 consistency proof between two tree sizes.")
                .describe("`from` larger than `to` is a 400; a size beyond the ledger a 404.")
                .query::<ledger_reads::ConsistencyQuery>()
                .ok::<ledger_reads::ConsistencyView>()
                .problems(&[404]),
        ),
        Route::get(
            "/v1/export",
            export::export,
            Doc::with(Read, "The export bundle as a tar stream (`custodia verify --bundle` reads it).")
                .ok_media("application/x-tar", serde_json::json!({"type": "string", "format": "binary"})),
        )
        .untimed(),
        Route::get(
            "/v1/streams/{kind}/{id}",
            commands::stream,
            Doc::with(Read, "A stream's version and its entries (at most 1000, from `from_version`).")
                .path::<commands::StreamPath>()
                .query::<commands::StreamQuery>()
                .ok::<commands::StreamPage>(),
        ),
        Route::post(
            "/v1/events",
            commands::attested,
            Doc::with(Write, "Record a client-attested event, checked and sealed.")
                .describe("The event must be the stream's next version, its actor the token's principal, \
                           its key registered to attest for that actor.")
                .body::<commands::AttestedBody>()
                .created::<commands::Recorded>()
                .problems(&[409]),
        ),
        Route::get(
            "/v1/events/stream",
            events::stream,
            Doc::with(Subscribe, "Server-Sent Events of committed entries, gapless, resumable.")
                .describe("Each message: `id` the seq, `event: entry`, `data` the entry's stored line.")
                .query::<events::StreamQuery>()
                .header(
                    "Last-Event-ID",
                    serde_json::json!({"type": "string", "pattern": "^(0|[1-9][0-9]{0,18})$"}),
                    "Resume after this seq (canonical decimal); wins over `from`.",
                )
                .ok_media("text/event-stream", serde_json::json!({"type": "string"})),
        )
        .untimed(),
        Route::get(
            "/v1/kpis",
            read_models::kpis,
            Doc::with(Read, "The KPI board, as of a transaction time and a business time.")
                .query::<read_models::TimeQuery>()
                .ok::<read_models::Kpis>(),
        ),
        Route::get(
            "/v1/registers/{name}",
            read_models::register,
            Doc::with(Read, "A page of one register, filtered, at both times.")
                .path::<read_models::RegisterPath>()
                .query::<read_models::RegisterQuery>()
                .ok::<read_models::RegisterPage>()
                .problems(&[404]),
        ),
        Route::get(
            "/v1/review-pack",
            read_models::review_pack,
            Doc::with(Read, "The management review pack (clause 9.3 inputs) of a period, with its digest.")
                .describe("`from` must be before `to`, or it is a 400.")
                .query::<read_models::PackQuery>()
                .ok::<read_models::ReviewPackView>(),
        ),
    ];
    routes.extend(
        custodia_domain::StreamKind::ALL
            .iter()
            .map(|k| commands::route(*k)),
    );
    routes
}

/// The OpenAPI document, built once.
pub(crate) static DOCUMENT: std::sync::LazyLock<serde_json::Value> =
    std::sync::LazyLock::new(|| openapi::build(&routes()));

/// Every route of the API over `state`.
pub fn app(state: AppState) -> Router {
    let (mut timed, mut untimed) = (Router::new(), Router::new());
    for route in routes() {
        if route.timed {
            timed = timed.route(&route.path, route.handler);
        } else {
            untimed = untimed.route(&route.path, route.handler);
        }
    }
    // Long by nature: a subscription lasts as long as the client wants; an export as long as
    // the ledger is large. Both are bounded in memory instead.
    let timed = timed.layer(TimeoutLayer::with_status_code(
        axum::http::StatusCode::REQUEST_TIMEOUT,
        state.config.request_timeout,
    ));
    timed
        .merge(untimed)
        .fallback(not_found)
        .layer(RequestBodyLimitLayer::new(BODY_BYTES_MAX))
        .layer(axum::middleware::from_fn(extract::problems_everywhere))
        .layer(axum::middleware::from_fn(extract::limits))
        .with_state(state)
}

async fn not_found(uri: axum::http::Uri) -> error::ApiError {
    error::ApiError::NotFound(format!("no endpoint at {}", uri.path()))
}
