//! API tokens and roles.
//!
//! A token is 256 random bits, shown once when created; only its SHA-256 is stored, in
//! `api_tokens` of `DATA/api.db` (or of the ledger's PostgreSQL database), so a copy of the database does not let anyone in. A request
//! names its token as `Authorization: Bearer <token>`; the token's principal is the actor of
//! every event the request writes, and its role decides which endpoint classes it may use.

use crate::error::{ApiError, Result};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row as _, SqlitePool};
use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr as _;
use std::sync::Mutex;
use std::time::Instant;

/// The API database file in a data directory.
pub const API_DB_FILE: &str = "api.db";
/// What every token starts with, so that a leaked one is recognizable by secret scanners.
pub const TOKEN_PREFIX: &str = "cust_";

/// What a token may do. Finer authority (who may approve a policy) is SMS data, checked by the
/// domain against the token's principal; this is the coarse gate in front of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything, including writing.
    Admin,
    /// Reads and writes (commands, attested events, checkpoints).
    TopManagement,
    /// Reads and writes.
    SecurityManager,
    /// Reads and writes.
    RiskOwner,
    /// Reads, verifies and cosigns checkpoints; never writes.
    Auditor,
    /// The event stream only.
    Subscriber,
}

/// Every role, in the order the docs list them.
pub const ROLES: [Role; 6] = [
    Role::Admin,
    Role::TopManagement,
    Role::SecurityManager,
    Role::RiskOwner,
    Role::Auditor,
    Role::Subscriber,
];

/// A class of endpoints that share one rule of access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Ledger reads, proofs, checkpoints, export, the OpenAPI document.
    Read,
    /// Commands, attested events, signing a checkpoint.
    Write,
    /// Submitting a cosignature on a checkpoint.
    Cosign,
    /// The live event stream.
    Subscribe,
}

impl Role {
    /// The role's name as stored and typed: `risk_owner`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::TopManagement => "top_management",
            Role::SecurityManager => "security_manager",
            Role::RiskOwner => "risk_owner",
            Role::Auditor => "auditor",
            Role::Subscriber => "subscriber",
        }
    }

    /// Reads a role name.
    pub fn parse(name: &str) -> Option<Role> {
        ROLES.into_iter().find(|r| r.as_str() == name)
    }

    /// Whether this role may use endpoints of class `access`: the authorization table.
    pub fn may(self, access: Access) -> bool {
        use Role::*;
        match access {
            Access::Read => !matches!(self, Subscriber),
            Access::Write => matches!(self, Admin | TopManagement | SecurityManager | RiskOwner),
            Access::Cosign => matches!(self, Auditor),
            Access::Subscribe => true,
        }
    }
}

/// Who is calling: from a valid, unrevoked token.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's id (public; names it in lists and logs).
    pub token_id: String,
    /// The principal the token acts for, e.g. `user:alice@acme.example`.
    pub principal: String,
    /// The token's role.
    pub role: Role,
}

impl Caller {
    /// Refuses unless the caller's role allows `access`.
    pub fn require(&self, access: Access) -> Result<()> {
        if self.role.may(access) {
            return Ok(());
        }
        Err(ApiError::Forbidden(format!(
            "role {} may not {}",
            self.role.as_str(),
            match access {
                Access::Read => "read the ledger",
                Access::Write => "write (commands, events, checkpoints)",
                Access::Cosign => "cosign checkpoints (only auditors do)",
                Access::Subscribe => "subscribe",
            }
        )))
    }
}

/// A token as listed: never the secret.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenInfo {
    /// Public id.
    pub id: String,
    /// Principal.
    pub principal: String,
    /// Role name.
    pub role: String,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// Revocation time, if revoked.
    pub revoked_at: Option<String>,
}

/// A newly made token: the secret is here once, for the caller to hand over.
#[derive(Debug)]
pub struct NewToken {
    /// Public id.
    pub id: String,
    /// The secret bearer token. Shown once; only its hash is kept.
    pub secret: String,
}

/// Where the API's tables live: `DATA/api.db` beside a SQLite ledger, or the ledger's own
/// PostgreSQL database, so that every node of a multi-node deployment sees every token.
#[derive(Debug, Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The `api_tokens` table and the API's other stored state (cosigned checkpoints).
#[derive(Debug, Clone)]
pub struct ApiDb {
    pool: Pool,
    /// Recently authenticated token hashes, so that a busy client costs no query per request.
    cache: std::sync::Arc<Mutex<HashMap<String, (Caller, Instant)>>>,
}

/// How long an authentication is trusted without asking the database again: a token revoked
/// by `custodia tokens revoke` (another process) stops working within this time; one revoked
/// through this handle stops at once.
pub const AUTH_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(5);
/// Authentications remembered at most; beyond this the cache starts over.
const AUTH_CACHE_MAX: usize = 10_000;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS api_tokens (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    principal TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS cosigned_checkpoints (
    size BIGINT NOT NULL,
    witness TEXT NOT NULL,
    witness_key TEXT NOT NULL,
    note TEXT NOT NULL,
    PRIMARY KEY (size, witness, witness_key)
);";

/// The advisory lock under which nodes starting together create the tables once.
const SCHEMA_LOCK: i64 = 0x6375_7374_6170_6931;

fn hash_token(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// `?` placeholders as PostgreSQL's `$1, $2, …` (no query here has a `?` in a literal).
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// Runs a statement on either backend; yields the rows affected.
macro_rules! execute {
    ($pool:expr, $sql:expr $(, $bind:expr)* $(,)?) => {
        match $pool {
            Pool::Sqlite(p) => sqlx::query($sql)$(.bind($bind))*.execute(p).await.map(|r| r.rows_affected()),
            Pool::Postgres(p) => sqlx::query(&numbered($sql))$(.bind($bind))*.execute(p).await.map(|r| r.rows_affected()),
        }
    };
}

/// Fetches rows on either backend, mapping each with `$map` (a closure over the row).
macro_rules! fetch {
    ($pool:expr, $sql:expr, [$($bind:expr),*], $map:expr) => {
        match $pool {
            Pool::Sqlite(p) => sqlx::query($sql)$(.bind($bind))*.fetch_all(p).await?.iter().map($map).collect::<Result<Vec<_>>>(),
            Pool::Postgres(p) => sqlx::query(&numbered($sql))$(.bind($bind))*.fetch_all(p).await?.iter().map($map).collect::<Result<Vec<_>>>(),
        }
    };
}

impl ApiDb {
    /// Opens (creating if needed) `DATA/api.db`.
    pub async fn open(dir: &Path) -> Result<Self> {
        let options = SqliteConnectOptions::new()
            .filename(dir.join(API_DB_FILE))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::raw_sql(SCHEMA).execute(&pool).await?;
        Ok(Self::with(Pool::Sqlite(pool)))
    }

    /// Opens (creating if needed) the API tables in the PostgreSQL database at `url`, the
    /// ledger's own, shared by every node.
    pub async fn open_postgres(url: &str) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        let mut tx = pool.begin().await?;
        // Two nodes starting at once would race on CREATE TABLE IF NOT EXISTS.
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(SCHEMA_LOCK)
            .execute(&mut *tx)
            .await?;
        sqlx::raw_sql(SCHEMA).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(Self::with(Pool::Postgres(pool)))
    }

    fn with(pool: Pool) -> Self {
        Self {
            pool,
            cache: std::sync::Arc::default(),
        }
    }

    /// Creates a token for `principal` with `role`; the secret is returned once.
    pub async fn create(&self, principal: &str, role: Role) -> Result<NewToken> {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let secret = format!("{TOKEN_PREFIX}{}", hex::encode(bytes));
        let mut id = [0u8; 6];
        rand::rngs::OsRng.fill_bytes(&mut id);
        let id = format!("tok_{}", hex::encode(id));
        execute!(
            &self.pool,
            "INSERT INTO api_tokens (id, hash, principal, role, created_at) VALUES (?, ?, ?, ?, ?)",
            &id,
            hash_token(&secret),
            principal,
            role.as_str(),
            custodia_ledger::time::Timestamp::now().to_string(),
        )?;
        Ok(NewToken { id, secret })
    }

    /// Every token, newest last.
    pub async fn list(&self) -> Result<Vec<TokenInfo>> {
        fetch!(
            &self.pool,
            "SELECT id, principal, role, created_at, revoked_at FROM api_tokens ORDER BY created_at, id",
            [],
            |r| {
                Ok(TokenInfo {
                    id: r.try_get("id")?,
                    principal: r.try_get("principal")?,
                    role: r.try_get("role")?,
                    created_at: r.try_get("created_at")?,
                    revoked_at: r.try_get("revoked_at")?,
                })
            }
        )
    }

    /// Revokes token `id`; false when no unrevoked token has that id.
    pub async fn revoke(&self, id: &str) -> Result<bool> {
        let done = execute!(
            &self.pool,
            "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            custodia_ledger::time::Timestamp::now().to_string(),
            id,
        )?;
        self.forget();
        Ok(done == 1)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Caller, Instant)>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn forget(&self) {
        self.cache().clear();
    }

    /// The caller a bearer secret stands for, if it is a valid, unrevoked token.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<Caller>> {
        let hash = hash_token(secret);
        if let Some((caller, at)) = self.cache().get(&hash) {
            if at.elapsed() < AUTH_CACHE_TTL {
                return Ok(Some(caller.clone()));
            }
        }
        let caller = self.lookup(&hash).await?;
        if let Some(caller) = &caller {
            let mut cache = self.cache();
            if cache.len() >= AUTH_CACHE_MAX {
                cache.clear();
            }
            cache.insert(hash, (caller.clone(), Instant::now()));
        }
        Ok(caller)
    }

    async fn lookup(&self, hash: &str) -> Result<Option<Caller>> {
        let found = fetch!(
            &self.pool,
            "SELECT id, principal, role FROM api_tokens WHERE hash = ? AND revoked_at IS NULL",
            [hash],
            |r| {
                let role: String = r.try_get("role")?;
                let role = Role::parse(&role).ok_or_else(|| {
                    ApiError::internal(format!("stored token has unknown role {role}"))
                })?;
                Ok(Caller {
                    token_id: r.try_get("id")?,
                    principal: r.try_get("principal")?,
                    role,
                })
            }
        )?;
        Ok(found.into_iter().next())
    }

    /// Stores a cosigned checkpoint note (one per size, witness and key; a later one replaces).
    pub async fn put_cosigned(
        &self,
        size: u64,
        witness: &str,
        key: &str,
        note: &str,
    ) -> Result<()> {
        execute!(
            &self.pool,
            "INSERT INTO cosigned_checkpoints (size, witness, witness_key, note) VALUES (?, ?, ?, ?) \
             ON CONFLICT (size, witness, witness_key) DO UPDATE SET note = excluded.note",
            size as i64,
            witness,
            key,
            note,
        )?;
        Ok(())
    }

    /// The cosigned notes of checkpoint `size`: (witness, key, note).
    pub async fn cosigned(&self, size: u64) -> Result<Vec<(String, String, String)>> {
        fetch!(
            &self.pool,
            "SELECT witness, witness_key, note FROM cosigned_checkpoints WHERE size = ? ORDER BY witness",
            [size as i64],
            |r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))
        )
    }
}

/// A token bucket per token: `burst` requests at once, refilled at `per_second`.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

/// Tokens remembered at most; beyond this the buckets start over (every bucket full), which
/// errs toward letting a request through rather than growing without bound.
const BUCKETS_MAX: usize = 100_000;

impl RateLimiter {
    /// A limiter allowing `burst` requests at once and `per_second` sustained, per token.
    pub fn new(per_second: u32, burst: u32) -> Self {
        Self {
            per_second: f64::from(per_second),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `token_id`'s bucket; refuses when it is empty.
    pub fn check(&self, token_id: &str) -> Result<()> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= BUCKETS_MAX && !buckets.contains_key(token_id) {
            buckets.clear();
        }
        let (level, at) = buckets
            .entry(token_id.to_owned())
            .or_insert((self.burst, now));
        let refilled =
            (*level + now.duration_since(*at).as_secs_f64() * self.per_second).min(self.burst);
        *at = now;
        if refilled < 1.0 {
            *level = refilled;
            return Err(ApiError::RateLimited(format!(
                "token {token_id} exceeded {} requests per second",
                self.per_second
            )));
        }
        *level = refilled - 1.0;
        Ok(())
    }
}
