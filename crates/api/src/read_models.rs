//! Read models from `custodia-projections`, on both time axes: `as_of` (transaction time: what
//! the system knew) and `valid_at` (business time: what was true).
//!
//! One [`Projector`] per server, opened on first use (a fold of the whole ledger) with
//! in-memory snapshots, caught up with the store before each answer.

use crate::auth::{Access, Caller};
use crate::error::{ApiError, Result};
use crate::extract::Path;
use crate::extract::Query;
use crate::AppState;
use axum::extract::State;
use axum::Json;
use custodia_domain::Timestamp;
use custodia_projections::{
    kpi::Board, query, Model, Projector, ProjectorConfig, Query as RowQuery, SnapshotStore,
    PAGE_ROWS_MAX,
};
use serde::Deserialize;
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TimeQuery {
    /// Transaction time: entries recorded by then (RFC 3339).
    as_of: Option<String>,
    /// Business time: events that happened by then (RFC 3339).
    valid_at: Option<String>,
}

fn time(name: &str, text: Option<&str>) -> Result<Option<Timestamp>> {
    let Some(text) = text else { return Ok(None) };
    let micros = custodia_ledger::time::Timestamp::normalize(text)
        .map_err(|e| ApiError::BadRequest(format!("{name}: {e}")))?
        .micros();
    Timestamp::from_micros(micros)
        .map(Some)
        .ok_or_else(|| ApiError::BadRequest(format!("{name}: out of range")))
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

/// `GET /v1/kpis?as_of=&valid_at=`: the KPI board.
pub(crate) async fn kpis(
    caller: Caller,
    State(state): State<AppState>,
    Query(q): Query<TimeQuery>,
) -> Result<Json<Value>> {
    caller.require(Access::Read)?;
    let (model, at) = model(&state, &q).await?;
    let board = Board::compute(&model, at);
    let position = model.position();
    Ok(Json(json!({
        "tree_size": position.size,
        "as_of": q.as_of,
        "valid_at": q.valid_at,
        "board": board,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegisterQuery {
    as_of: Option<String>,
    valid_at: Option<String>,
    /// Only rows with this status word.
    status: Option<String>,
    /// Only rows owned by this actor.
    owner: Option<String>,
    /// Only rows carrying this tag (rating, category, severity, …).
    tag: Option<String>,
    #[serde(default)]
    offset: u64,
    limit: Option<u32>,
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
    Path(name): Path<String>,
    Query(q): Query<RegisterQuery>,
) -> Result<Json<Value>> {
    caller.require(Access::Read)?;
    if !REGISTERS.contains(&name.as_str()) {
        return Err(ApiError::NotFound(format!(
            "no register {name:?}; registers are {}",
            REGISTERS.join(", ")
        )));
    }
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > PAGE_ROWS_MAX {
        return Err(ApiError::BadRequest(format!(
            "limit must be from 1 to {PAGE_ROWS_MAX}"
        )));
    }
    let owner = q
        .owner
        .as_deref()
        .map(custodia_domain::Actor::new)
        .transpose()
        .map_err(|e| ApiError::BadRequest(format!("owner: {e}")))?;
    let times = TimeQuery {
        as_of: q.as_of.clone(),
        valid_at: q.valid_at.clone(),
    };
    let (model, at) = model(&state, &times).await?;
    let rows = RowQuery {
        status: q.status,
        owner,
        tag: q.tag,
        offset: q.offset,
        limit,
        ..RowQuery::at(at)
    };
    let page = page(&model, &name, &rows)?;
    Ok(Json(json!({
        "register": name,
        "tree_size": model.position().size,
        "as_of": q.as_of,
        "valid_at": q.valid_at,
        "page": page,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PackQuery {
    /// First instant of the period (RFC 3339).
    from: String,
    /// First instant after it.
    to: String,
    as_of: Option<String>,
    valid_at: Option<String>,
}

/// `GET /v1/review-pack?from=&to=&as_of=&valid_at=`: the management review pack (clause
/// 9.3 inputs) for a period, with the SHA-256 digest a `review.inputs_sealed` event binds.
pub(crate) async fn review_pack(
    caller: Caller,
    State(state): State<AppState>,
    Query(q): Query<PackQuery>,
) -> Result<Json<Value>> {
    caller.require(Access::Read)?;
    let start =
        time("from", Some(&q.from))?.ok_or_else(|| ApiError::BadRequest("from: missing".into()))?;
    let end = time("to", Some(&q.to))?.ok_or_else(|| ApiError::BadRequest("to: missing".into()))?;
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
    Ok(Json(json!({
        "tree_size": model.position().size,
        "as_of": q.as_of,
        "valid_at": q.valid_at,
        "digest": digest,
        "pack": pack,
    })))
}
