//! Read models from `custodia-projections`, on both time axes: `as_of` (transaction time: what
//! the system knew) and `valid_at` (business time: what was true).
//!
//! One [`Projector`] per server, opened on first use (a fold of the whole ledger) with
//! in-memory snapshots, caught up with the store before each answer.

use crate::auth::{Access, Caller};
use crate::error::{ApiError, Result};
use crate::extract::{Path, Query, Uint};
use crate::AppState;
use axum::extract::State;
use axum::Json;
use custodia_domain::{Actor, Timestamp};
use custodia_projections::{
    kpi::Board, query, Model, Projector, ProjectorConfig, Query as RowQuery, SnapshotStore,
    PAGE_ROWS_MAX,
};
use schemars::gen::SchemaGenerator;
use schemars::schema::Schema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::{Mutex, OnceCell};

/// The server's projector, made on first use.
pub type SharedProjector = OnceCell<Mutex<Projector>>;

impl From<custodia_projections::Error> for ApiError {
    fn from(e: custodia_projections::Error) -> Self {
        match e {
            custodia_projections::Error::NotFound(m) => ApiError::NotFound(m),
            other => ApiError::internal(other),
        }
    }
}

/// `GET /v1/kpis` query: the two time axes.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TimeQuery {
    /// Transaction time: what the system knew then, from the entries recorded by then.
    /// RFC 3339, or `YYYY-MM-DD` for the end of that day (UTC). Default: now.
    #[serde(default)]
    #[schemars(schema_with = "instant_schema")]
    as_of: Option<String>,
    /// Business time: what was true then, from the events that occurred by then.
    /// RFC 3339, or `YYYY-MM-DD` for the end of that day (UTC). Default: now.
    #[serde(default)]
    #[schemars(schema_with = "instant_schema")]
    valid_at: Option<String>,
}

/// An instant in a query: a date-time or a date.
fn instant_schema(_: &mut SchemaGenerator) -> Schema {
    let value = json!({"anyOf": [
        {"type": "string", "format": "date-time"},
        {"type": "string", "format": "date"},
    ]});
    crate::openapi::raw(value)
}

/// A date-time in a query.
fn date_time_schema(_: &mut SchemaGenerator) -> Schema {
    crate::openapi::raw(json!({"type": "string", "format": "date-time"}))
}

/// Reads an instant as the API and `custodia replay` take it: an RFC 3339 date-time (any
/// offset; digits beyond the microsecond are dropped), or `YYYY-MM-DD` for the last
/// microsecond of that day in UTC, so that a plain date includes everything that happened
/// on it.
pub fn parse_instant(text: &str) -> std::result::Result<Timestamp, String> {
    let b = text.as_bytes();
    let plain = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if plain {
        let num = |r: std::ops::Range<usize>| text[r].parse::<u32>().unwrap_or(0);
        return Timestamp::from_date(num(0..4) as i32, num(5..7), num(8..10))
            .map(|day| day.plus_days(1).plus_micros(-1))
            .ok_or_else(|| format!("{text} is not a calendar date"));
    }
    let micros = chrono::DateTime::parse_from_rfc3339(text)
        .map_err(|e| {
            format!("{text:?} is not a date-time ({e}); expected RFC 3339 (2026-03-15T09:00:00Z) or a date (2026-03-15)")
        })?
        .timestamp_micros();
    Timestamp::from_micros(micros)
        .ok_or_else(|| format!("{text} is out of range (years 1 to 9999)"))
}

/// An optional instant parameter, or a 400 naming it.
fn time(name: &str, text: Option<&str>) -> Result<Option<Timestamp>> {
    text.map(parse_instant)
        .transpose()
        .map_err(|e| ApiError::BadRequest(format!("{name}: {e}")))
}

/// A date-time parameter (a period's bound), or a 400 naming it.
fn date_time(name: &str, text: &str) -> Result<Timestamp> {
    let micros = chrono::DateTime::parse_from_rfc3339(text)
        .map_err(|e| {
            ApiError::BadRequest(format!(
                "{name}: {text:?} is not an RFC 3339 date-time ({e})"
            ))
        })?
        .timestamp_micros();
    Timestamp::from_micros(micros)
        .ok_or_else(|| ApiError::BadRequest(format!("{name}: {text} is out of range")))
}

async fn projector(state: &AppState) -> Result<&Mutex<Projector>> {
    state
        .projector
        .get_or_try_init(|| async {
            let snapshots = SnapshotStore::in_memory().await?;
            let store = state.ledger.store().clone();
            let projector = Projector::open(store, snapshots, ProjectorConfig::default()).await?;
            Ok::<_, ApiError>(Mutex::new(projector))
        })
        .await
}

/// The model the two times ask for, and the date its KPIs and statuses are computed at.
async fn model(state: &AppState, q: &TimeQuery) -> Result<(Model, Timestamp)> {
    let as_of = time("as_of", q.as_of.as_deref())?;
    let valid_at = time("valid_at", q.valid_at.as_deref())?;
    let now = Timestamp::from_micros(custodia_ledger::time::Timestamp::now().micros())
        .ok_or_else(|| ApiError::internal("the clock is out of range"))?;
    let mut projector = projector(state).await?.lock().await;
    projector.catch_up().await?;
    let model = match (as_of, valid_at) {
        (None, None) => projector.current().clone(),
        (Some(a), None) => projector.as_of(a).await?,
        (None, Some(v)) => projector.valid_at(v).await?,
        (Some(a), Some(v)) => projector.valid_at_as_of(v, a).await?,
    };
    Ok((model, valid_at.or(as_of).unwrap_or(now)))
}

/// The KPI board as of the times asked.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Kpis {
    /// Entries folded into the model.
    tree_size: u64,
    /// `as_of` as given.
    as_of: Option<String>,
    /// `valid_at` as given.
    valid_at: Option<String>,
    /// Each board KPI (the projections' `kpi::Board`).
    #[schemars(schema_with = "object_schema")]
    board: Value,
}

fn object_schema(_: &mut SchemaGenerator) -> Schema {
    crate::openapi::raw(json!({"type": "object"}))
}

/// `GET /v1/kpis?as_of=&valid_at=`: the KPI board.
pub(crate) async fn kpis(
    caller: Caller,
    State(state): State<AppState>,
    Query(q): Query<TimeQuery>,
) -> Result<Json<Kpis>> {
    caller.require(Access::Read)?;
    let (model, at) = model(&state, &q).await?;
    let board = serde_json::to_value(Board::compute(&model, at)).map_err(ApiError::internal)?;
    Ok(Json(Kpis {
        tree_size: model.position().size,
        as_of: q.as_of,
        valid_at: q.valid_at,
        board,
    }))
}

/// `GET /v1/registers/{name}` query.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegisterQuery {
    /// Transaction time (see `GET /v1/kpis`).
    #[serde(default)]
    #[schemars(schema_with = "instant_schema")]
    as_of: Option<String>,
    /// Business time (see `GET /v1/kpis`).
    #[serde(default)]
    #[schemars(schema_with = "instant_schema")]
    valid_at: Option<String>,
    /// Only rows with this status word.
    status: Option<String>,
    /// Only rows owned by this actor (`<class>:<name>`).
    #[serde(default)]
    #[schemars(schema_with = "owner_schema")]
    owner: Option<Actor>,
    /// Only rows carrying this tag (rating, category, severity, …).
    tag: Option<String>,
    /// Rows to skip (default 0).
    #[serde(default)]
    offset: Uint,
    /// Rows in the page (default 50).
    #[serde(default)]
    #[schemars(schema_with = "rows_limit")]
    limit: Option<Uint>,
}

/// An actor as `Actor::new` admits it: the domain's own pattern (`\S`) lets control
/// characters through, which the actor's rules refuse.
fn owner_schema(_: &mut SchemaGenerator) -> Schema {
    crate::openapi::raw(json!({
        "type": "string",
        "minLength": 3,
        "maxLength": 256,
        "pattern": "^[a-z][a-z0-9_]*:[^\\x00-\\x20\\x7f-\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]+$",
    }))
}

fn rows_limit(_: &mut SchemaGenerator) -> Schema {
    crate::extract::uint_schema(1, u64::from(PAGE_ROWS_MAX))
}

/// A register's name in a path.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct RegisterPath {
    /// The register.
    #[schemars(schema_with = "register_name")]
    name: String,
}

fn register_name(_: &mut SchemaGenerator) -> Schema {
    crate::openapi::raw(json!({"type": "string", "enum": REGISTERS}))
}

/// A page of a register.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct RegisterPage {
    /// The register's name.
    register: String,
    /// Entries folded into the model.
    tree_size: u64,
    /// `as_of` as given.
    as_of: Option<String>,
    /// `valid_at` as given.
    valid_at: Option<String>,
    /// The page: `total` rows matching, `offset`, `limit`, and the `rows` (each as the
    /// projections' register row).
    #[schemars(schema_with = "page_schema")]
    page: Value,
}

fn page_schema(_: &mut SchemaGenerator) -> Schema {
    let value = json!({
        "type": "object",
        "required": ["total", "offset", "limit", "rows"],
        "properties": {
            "total": {"type": "integer", "minimum": 0},
            "offset": {"type": "integer", "minimum": 0},
            "limit": {"type": "integer", "minimum": 0},
            "rows": {"type": "array", "items": {"type": "object"}},
        },
    });
    crate::openapi::raw(value)
}

/// Every register by its name in the URL: the projections' tables that can be queried
/// (issues, scopes, competences, people and improvements cannot be yet).
pub const REGISTERS: &[&str] = &[
    "obligations",
    "policies",
    "roles",
    "risks",
    "objectives",
    "documents",
    "controls",
    "suppliers",
    "incidents",
    "audits",
    "reviews",
    "nonconformities",
    "corrective_actions",
    "parties",
    "changes",
    "communications",
    "plans",
    "assessments",
];

fn page(model: &Model, name: &str, q: &RowQuery) -> Result<Value> {
    macro_rules! registers {
        ($($field:ident),*) => {
            match name {
                $(stringify!($field) => serde_json::to_value(query(&model.$field, q)),)*
                _ => return Err(ApiError::NotFound(format!(
                    "no register {name:?}; registers are {}", REGISTERS.join(", ")
                ))),
            }
        };
    }
    let value = registers!(
        obligations,
        policies,
        roles,
        risks,
        objectives,
        documents,
        controls,
        suppliers,
        incidents,
        audits,
        reviews,
        nonconformities,
        corrective_actions,
        parties,
        changes,
        communications,
        plans,
        assessments
    );
    value.map_err(ApiError::internal)
}

/// `GET /v1/registers/{name}?as_of=&valid_at=&status=&owner=&tag=&offset=&limit=`: a page of
/// one register.
pub(crate) async fn register(
    caller: Caller,
    State(state): State<AppState>,
    Path(RegisterPath { name }): Path<RegisterPath>,
    Query(q): Query<RegisterQuery>,
) -> Result<Json<RegisterPage>> {
    caller.require(Access::Read)?;
    if !REGISTERS.contains(&name.as_str()) {
        return Err(ApiError::NotFound(format!(
            "no register {name:?}; registers are {}",
            REGISTERS.join(", ")
        )));
    }
    let limit = q.limit.map_or(50, |l| l.0);
    if limit == 0 || limit > u64::from(PAGE_ROWS_MAX) {
        return Err(ApiError::BadRequest(format!(
            "limit must be from 1 to {PAGE_ROWS_MAX}"
        )));
    }
    let times = TimeQuery {
        as_of: q.as_of.clone(),
        valid_at: q.valid_at.clone(),
    };
    let (model, at) = model(&state, &times).await?;
    let rows = RowQuery {
        status: q.status,
        owner: q.owner,
        tag: q.tag,
        offset: q.offset.0,
        limit: limit as u32,
        ..RowQuery::at(at)
    };
    let page = page(&model, &name, &rows)?;
    Ok(Json(RegisterPage {
        register: name,
        tree_size: model.position().size,
        as_of: q.as_of,
        valid_at: q.valid_at,
        page,
    }))
}

/// `GET /v1/review-pack` query.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PackQuery {
    /// First instant of the period (RFC 3339).
    #[schemars(schema_with = "date_time_schema")]
    from: String,
    /// First instant after it (RFC 3339), later than `from`.
    #[schemars(schema_with = "date_time_schema")]
    to: String,
    /// Transaction time (see `GET /v1/kpis`).
    #[serde(default)]
    #[schemars(schema_with = "instant_schema")]
    as_of: Option<String>,
    /// Business time (see `GET /v1/kpis`).
    #[serde(default)]
    #[schemars(schema_with = "instant_schema")]
    valid_at: Option<String>,
}

/// The management review pack of a period.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ReviewPackView {
    /// Entries folded into the model.
    tree_size: u64,
    /// `as_of` as given.
    as_of: Option<String>,
    /// `valid_at` as given.
    valid_at: Option<String>,
    /// SHA-256 of the pack's canonical bytes, the digest a `review.inputs_sealed` event binds.
    digest: String,
    /// The clause 9.3 inputs (the projections' `review::ReviewPack`).
    #[schemars(schema_with = "object_schema")]
    pack: Value,
}

/// `GET /v1/review-pack?from=&to=&as_of=&valid_at=`: the management review pack (clause
/// 9.3 inputs) for a period, with the SHA-256 digest a `review.inputs_sealed` event binds.
pub(crate) async fn review_pack(
    caller: Caller,
    State(state): State<AppState>,
    Query(q): Query<PackQuery>,
) -> Result<Json<ReviewPackView>> {
    caller.require(Access::Read)?;
    let start = date_time("from", &q.from)?;
    let end = date_time("to", &q.to)?;
    if start >= end {
        return Err(ApiError::BadRequest("from must be before to".into()));
    }
    let times = TimeQuery {
        as_of: q.as_of.clone(),
        valid_at: q.valid_at.clone(),
    };
    let (model, _) = model(&state, &times).await?;
    let period = custodia_projections::review::Period { start, end };
    let pack = custodia_projections::review::ReviewPack::assemble(&model, period);
    let digest = pack.digest()?;
    Ok(Json(ReviewPackView {
        tree_size: model.position().size,
        as_of: q.as_of,
        valid_at: q.valid_at,
        digest,
        pack: serde_json::to_value(pack).map_err(ApiError::internal)?,
    }))
}
