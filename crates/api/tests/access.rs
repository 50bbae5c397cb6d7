//! The authorization matrix: every endpoint class × every role, allowed or refused as the
//! table says; a refused request writes nothing; no token, no entry.

mod common;

use axum::http::{Method, StatusCode};
use common::{attested_draft, draft, principal, Harness};
use custodia_api::auth::{Role, ROLES};
use custodia_ledger::keys::SecretKey;
use custodia_ledger::note::{cosign, SignedCheckpoint};
use serde_json::json;

/// The table, written out rather than read from the code it checks. Columns follow `ROLES`:
/// admin, top_management, security_manager, risk_owner, auditor, subscriber.
const READ: [bool; 6] = [true, true, true, true, true, false];
const WRITE: [bool; 6] = [true, true, true, true, false, false];
const COSIGN: [bool; 6] = [false, false, false, false, true, false];
const SUBSCRIBE: [bool; 6] = [true; 6];

const READS: &[&str] = &[
    "/v1/entries?from=0&limit=5",
    "/v1/entries/0",
    "/v1/checkpoints",
    "/v1/checkpoints/latest",
    "/v1/proofs/inclusion?seq=0",
    "/v1/proofs/consistency?from=1",
    "/v1/export",
    "/v1/streams/role/top_management",
    "/v1/kpis",
    "/v1/registers/risks",
    "/v1/review-pack?from=2020-01-01T00:00:00Z&to=2100-01-01T00:00:00Z",
];

async fn signed_checkpoint(h: &Harness) -> SignedCheckpoint {
    let reply = h
        .post("/v1/checkpoints", Role::SecurityManager, &json!({}))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    SignedCheckpoint::parse(reply.json()["note"].as_str().unwrap()).unwrap()
}

fn refused(reply: &common::Reply, allowed: bool, what: &str) {
    if allowed {
        assert!(
            !matches!(
                reply.status,
                StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED
            ),
            "{what}: refused but the table allows it: {}",
            String::from_utf8_lossy(&reply.body)
        );
    } else {
        reply.problem(StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn every_role_reads_only_what_the_table_allows() {
    let h = Harness::new().await;
    h.bootstrap().await;
    signed_checkpoint(&h).await;
    for (i, role) in ROLES.into_iter().enumerate() {
        for path in READS {
            let reply = h.get(path, role).await;
            refused(&reply, READ[i], &format!("{} GET {path}", role.as_str()));
            if READ[i] {
                assert_eq!(reply.status, StatusCode::OK, "{} GET {path}", role.as_str());
            }
        }
    }
}

#[tokio::test]
async fn every_role_writes_only_what_the_table_allows_and_a_refusal_writes_nothing() {
    let h = Harness::new().await;
    h.bootstrap().await;
    let author = SecretKey::generate();
    for (i, role) in ROLES.into_iter().enumerate() {
        common::register_attest_key(&h, &author.public(), principal(role)).await;
        let before = h.size().await;
        let path = format!("/v1/streams/policy/POL-{}/commands", role.as_str());
        let reply = h.post(&path, role, &draft(0)).await;
        refused(&reply, WRITE[i], &format!("{} command", role.as_str()));
        assert_eq!(
            h.size().await,
            before + u64::from(WRITE[i]),
            "{} command",
            role.as_str()
        );

        let before = h.size().await;
        let event = attested_draft(&format!("A-{}", role.as_str()), 1, principal(role), &author);
        let reply = h.post("/v1/events", role, &event).await;
        refused(
            &reply,
            WRITE[i],
            &format!("{} attested event", role.as_str()),
        );
        assert_eq!(
            h.size().await,
            before + u64::from(WRITE[i]),
            "{} attested event",
            role.as_str()
        );

        let reply = h.post("/v1/checkpoints", role, &json!({})).await;
        refused(&reply, WRITE[i], &format!("{} checkpoint", role.as_str()));
    }
}

#[tokio::test]
async fn only_auditors_cosign_and_a_refused_cosignature_is_not_kept() {
    let h = Harness::new().await;
    h.bootstrap().await;
    let checkpoint = signed_checkpoint(&h).await;
    let size = checkpoint.checkpoint().size;
    let witness = SecretKey::generate();
    let line = cosign(
        checkpoint.checkpoint(),
        "cb.example/witness",
        witness.signing_key(),
        1_700_000_000,
    )
    .unwrap();
    let body = json!({"witness": "cb.example/witness", "key": witness.public().to_base64(), "cosignature": line.to_string()});
    let path = format!("/v1/checkpoints/{size}/cosignatures");
    for (i, role) in ROLES.into_iter().enumerate() {
        let kept = |reply: &common::Reply| reply.json()["cosignatures"].as_array().unwrap().len();
        let before = kept(
            &h.get(&path.replace("/cosignatures", ""), Role::Auditor)
                .await,
        );
        let reply = h.post(&path, role, &body).await;
        refused(&reply, COSIGN[i], &format!("{} cosign", role.as_str()));
        if COSIGN[i] {
            assert_eq!(reply.status, StatusCode::OK);
            assert_eq!(reply.json()["timestamp"], 1_700_000_000u64);
        } else {
            let after = kept(
                &h.get(&path.replace("/cosignatures", ""), Role::Auditor)
                    .await,
            );
            assert_eq!(after, before, "a refused cosignature was kept");
        }
    }
    let stored = h
        .get(&format!("/v1/checkpoints/{size}"), Role::Auditor)
        .await
        .json();
    let note = stored["cosignatures"][0]["note"].as_str().unwrap();
    let cosigned = SignedCheckpoint::parse(note).unwrap();
    cosigned
        .verify_cosignature("cb.example/witness", witness.public().verifying_key())
        .unwrap();
}

#[tokio::test]
async fn every_role_may_subscribe_and_no_token_may_not() {
    let h = Harness::new().await;
    for (i, role) in ROLES.into_iter().enumerate() {
        let req = axum::http::Request::get("/v1/events/stream?from=0")
            .header("authorization", format!("Bearer {}", h.token(role)))
            .body(axum::body::Body::empty())
            .unwrap();
        // The stream never ends: only the head of the response is read.
        let res = tower::ServiceExt::oneshot(h.app.clone(), req)
            .await
            .unwrap();
        assert!(SUBSCRIBE[i]);
        assert_eq!(res.status(), StatusCode::OK, "{}", role.as_str());
        assert_eq!(res.headers()["content-type"], "text/event-stream");
    }
    let reply = h.send(Method::GET, "/v1/events/stream", None, None).await;
    reply.problem(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn without_a_valid_token_nothing_but_the_public_endpoints_answers() {
    let h = Harness::new().await;
    for path in ["/v1/health", "/v1/ready", "/metrics", "/v1/openapi.json"] {
        let reply = h.send(Method::GET, path, None, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
    }
    let revoked = h
        .state
        .db
        .create("user:gone@acme.example", Role::Admin)
        .await
        .unwrap();
    assert!(h.state.db.revoke(&revoked.id).await.unwrap());
    let before = h.size().await;
    for token in [
        None,
        Some("cust_wrong"),
        Some(""),
        Some(revoked.secret.as_str()),
    ] {
        for path in READS {
            let reply = h.send(Method::GET, path, token, None).await;
            reply.problem(StatusCode::UNAUTHORIZED);
        }
        let body = serde_json::to_vec(&draft(0)).unwrap();
        let reply = h
            .send(
                Method::POST,
                "/v1/streams/policy/POL-1/commands",
                token,
                Some(body),
            )
            .await;
        let detail = reply.problem(StatusCode::UNAUTHORIZED);
        assert!(!detail.contains("cust_"), "a token is echoed: {detail}");
    }
    assert_eq!(h.size().await, before);
}
