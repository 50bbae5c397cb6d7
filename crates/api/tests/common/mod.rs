//! A ledger in a temporary directory, a token for every role, and calls through the router
//! without a socket.
#![allow(dead_code, unreachable_pub)]

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use custodia_api::auth::{ApiDb, Role, ROLES};
use custodia_api::{app, AppState, Config};
use custodia_ledger::ledger::{InitOptions, Ledger};
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt as _;

/// The principal each role's token acts for.
pub fn principal(role: Role) -> &'static str {
    match role {
        Role::Admin => "service:setup",
        Role::TopManagement => "user:ceo@acme.example",
        Role::SecurityManager => "user:sm@acme.example",
        Role::RiskOwner => "user:owner@acme.example",
        Role::Auditor => "user:external-auditor@cb.example",
        Role::Subscriber => "service:siem",
    }
}

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub state: AppState,
    pub app: Router,
    pub tokens: Vec<(Role, String)>,
}

/// What came back.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    /// Asserts an RFC 9457 problem document with this status; returns its detail.
    pub fn problem(&self, status: StatusCode) -> String {
        assert_eq!(
            self.status,
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(
            self.headers[header::CONTENT_TYPE],
            "application/problem+json",
            "a problem document"
        );
        let p = self.json();
        assert_eq!(p["status"], status.as_u16());
        assert!(p["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("urn:custodia:problem:")));
        p["detail"].as_str().expect("a detail").to_owned()
    }
}

impl Harness {
    pub async fn new() -> Harness {
        Self::with_config(Config::default()).await
    }

    pub async fn with_config(config: Config) -> Harness {
        Self::with_writer(config, custodia_ledger::writer::WriterConfig::default()).await
    }

    /// A harness whose writer has these limits (a small broadcast ring makes subscribers lag).
    pub async fn with_writer(
        config: Config,
        writer: custodia_ledger::writer::WriterConfig,
    ) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let options = InitOptions {
            name: "acme.example/sms".into(),
            actor: "user:root".into(),
            root_passphrase: None,
        };
        Ledger::init(dir.path(), &options).await.unwrap();
        let store =
            custodia_ledger::store::sqlite::SqliteStore::open(&dir.path().join("ledger.db"), false)
                .await
                .unwrap();
        let node =
            custodia_ledger::keys::SecretKey::read_pem(&dir.path().join("keys/node.pem"), None)
                .unwrap();
        let ledger = Arc::new(
            Ledger::open_store(Arc::new(store), node, writer)
                .await
                .unwrap(),
        );
        let db = ApiDb::open(dir.path()).await.unwrap();
        let mut tokens = Vec::new();
        for role in ROLES {
            tokens.push((role, db.create(principal(role), role).await.unwrap().secret));
        }
        let state = AppState::new(ledger, db, config);
        let app = app(state.clone());
        let h = Harness {
            dir,
            state,
            app,
            tokens,
        };
        h.wait_ready().await;
        h
    }

    /// Waits (bounded) until `/v1/ready` answers 200: the SMS fold caught up.
    pub async fn wait_ready(&self) {
        for _ in 0..400 {
            if self.send(Method::GET, "/v1/ready", None, None).await.status == StatusCode::OK {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("the API did not become ready in 10 s");
    }

    pub fn token(&self, role: Role) -> &str {
        &self.tokens.iter().find(|(r, _)| *r == role).unwrap().1
    }

    pub async fn size(&self) -> u64 {
        self.state.ledger.size().await.unwrap()
    }

    /// Sends a request with an optional bearer token and raw body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let req = req.body(body.map_or_else(Body::empty, Body::from)).unwrap();
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, role: Role) -> Reply {
        self.send(Method::GET, path, Some(self.token(role)), None)
            .await
    }

    pub async fn post(&self, path: &str, role: Role, body: &Value) -> Reply {
        let bytes = serde_json::to_vec(body).unwrap();
        self.send(Method::POST, path, Some(self.token(role)), Some(bytes))
            .await
    }

    /// Posts a command and asserts it was recorded.
    pub async fn command_ok(
        &self,
        role: Role,
        stream: &str,
        action: &str,
        data: Value,
        expected: u64,
    ) -> Value {
        let body = json!({"action": action, "data": data, "expected_version": expected});
        let reply = self
            .post(&format!("/v1/streams/{stream}/commands"), role, &body)
            .await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "{stream} {action}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        reply.json()
    }

    /// Bootstraps the SMS over the API: top management held by the CEO, and the security
    /// manager role held by every principal whose token may write.
    pub async fn bootstrap(&self) {
        let define = json!({"title": "a role", "responsibilities": [], "authorities": []});
        self.command_ok(
            Role::Admin,
            "role/top_management",
            "define",
            define.clone(),
            0,
        )
        .await;
        let ceo = json!({"person": principal(Role::TopManagement), "area": null});
        self.command_ok(Role::Admin, "role/top_management", "assign", ceo, 1)
            .await;
        self.command_ok(
            Role::TopManagement,
            "role/security_manager",
            "define",
            define,
            0,
        )
        .await;
        let writers = [
            Role::Admin,
            Role::TopManagement,
            Role::SecurityManager,
            Role::RiskOwner,
        ];
        for (version, role) in (1..).zip(writers) {
            let who = json!({"person": principal(role), "area": null});
            self.command_ok(
                Role::TopManagement,
                "role/security_manager",
                "assign",
                who,
                version,
            )
            .await;
        }
    }
}

/// A policy draft's command body.
pub fn draft(expected: u64) -> Value {
    json!({"action": "draft", "data": {"title": "Security policy", "content_hash": "ab".repeat(32)},
           "expected_version": expected})
}

/// Registers `key` to attest events of `actor`, attested by the ledger's root key (what
/// `custodia keys register --purposes attest` does).
pub async fn register_attest_key(h: &Harness, key: &custodia_ledger::keys::PublicKey, actor: &str) {
    use custodia_ledger::entry::Event;
    use custodia_ledger::keys::{KeyChange, Purpose, SecretKey, KEYS_STREAM};
    use custodia_ledger::writer::{AppendRequest, Expect};
    let root = SecretKey::read_pem(&h.dir.path().join("keys/root.pem"), None).unwrap();
    let version = h.state.ledger.stream(KEYS_STREAM).await.unwrap().len() as u64 + 1;
    let data = KeyChange::registration_data(key, actor, &[Purpose::Attest], Some("author"));
    let now = custodia_ledger::time::Timestamp::now();
    let event = Event::new(
        KEYS_STREAM,
        version,
        "key.registered",
        1,
        now,
        "user:root",
        data,
    )
    .unwrap();
    let attestation = Some(event.attest(&root).unwrap());
    let request = AppendRequest {
        event,
        attestation,
        expect: Expect::Exact,
    };
    h.state.ledger.append(request).await.unwrap();
}

/// A `policy.drafted` event object at `version`, by `actor`, and its attestation by `key`.
pub fn attested_draft(
    policy: &str,
    version: u64,
    actor: &str,
    key: &custodia_ledger::keys::SecretKey,
) -> Value {
    use base64::Engine as _;
    let event = json!({
        "stream": format!("policy/{policy}"), "version": version, "type": "policy.drafted",
        "schema": 1, "occurred_at": custodia_ledger::time::Timestamp::now().to_string(),
        "actor": actor, "data": {"title": "Security policy", "content_hash": "cd".repeat(32)},
    });
    let digest = custodia_ledger::entry::event_digest(&event).unwrap();
    let sig = key.sign(&digest);
    let b64 = base64::engine::general_purpose::STANDARD;
    json!({"event": event, "attestation": {"key": key.public().to_base64(), "sig": b64.encode(sig.to_bytes())}})
}
