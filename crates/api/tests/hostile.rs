//! Hostile input: each gets the right 4xx problem document, writes nothing, and never a 500.

mod common;

use axum::http::{Method, StatusCode};
use common::{attested_draft, draft, principal, Harness};
use custodia_api::auth::Role;
use custodia_api::{Config, BODY_BYTES_MAX};
use custodia_ledger::keys::SecretKey;
use serde_json::{json, Value};

const POLICY: &str = "/v1/streams/policy/POL-1/commands";

/// Sends raw bytes as `role` and asserts the problem status, that the detail mentions
/// `says`, and that nothing was written.
async fn check(
    h: &Harness,
    method: Method,
    path: &str,
    body: Option<Vec<u8>>,
    status: StatusCode,
    says: &str,
) {
    let before = h.size().await;
    let reply = h
        .send(method, path, Some(h.token(Role::SecurityManager)), body)
        .await;
    let detail = reply.problem(status);
    assert!(
        detail.contains(says),
        "{path}: detail {detail:?} does not mention {says:?}"
    );
    assert_eq!(h.size().await, before, "{path}: a refused request wrote");
}

fn bytes(v: &Value) -> Option<Vec<u8>> {
    Some(serde_json::to_vec(v).unwrap())
}

#[tokio::test]
async fn malformed_and_mistyped_command_bodies_are_refused_and_name_the_problem() {
    let h = Harness::new().await;
    h.bootstrap().await;
    let hash = "ab".repeat(32);
    let cases: Vec<(Option<Vec<u8>>, StatusCode, &str)> = vec![
        (
            Some(b"{\"action\":".to_vec()),
            StatusCode::BAD_REQUEST,
            "not valid JSON",
        ),
        (
            Some(b"".to_vec()),
            StatusCode::BAD_REQUEST,
            "not valid JSON",
        ),
        (
            Some(b"\xff\xfe".to_vec()),
            StatusCode::BAD_REQUEST,
            "not valid JSON",
        ),
        (
            bytes(&json!([1, 2])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid type",
        ),
        (
            bytes(&json!({"action": 5, "expected_version": 0})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid type",
        ),
        (
            bytes(&json!({"action": "draft", "expected_version": "zero"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid type",
        ),
        (
            bytes(&json!({"action": "draft", "expected_version": -1})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid value",
        ),
        (
            bytes(&json!({"action": "draft", "data": {"title": "t", "content_hash": hash}})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "expected_version",
        ),
        (
            bytes(
                &json!({"action": "draft", "data": {"title": "t", "content_hash": hash}, "expected_version": 0, "colour": "red"}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown field `colour`",
        ),
        (
            bytes(
                &json!({"action": "draft", "data": {"title": "t", "content_hash": hash, "colour": "red"}, "expected_version": 0}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "colour",
        ),
        (
            bytes(
                &json!({"action": "draft", "data": {"title": 7, "content_hash": hash}, "expected_version": 0}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "policy/POL-1",
        ),
        (
            bytes(
                &json!({"action": "draft", "data": {"title": "t", "content_hash": "not hex"}, "expected_version": 0}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "policy/POL-1",
        ),
        (
            bytes(&json!({"action": "explode", "expected_version": 0})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "explode",
        ),
        (
            bytes(
                &json!({"action": "draft", "data": {"title": "t", "content_hash": hash}, "expected_version": 0, "actor": "user:ceo@acme.example"}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "actor",
        ),
        (
            bytes(
                &json!({"action": "draft", "data": {"title": "t", "content_hash": hash}, "expected_version": 0, "occurred_at": "2999-01-01T00:00:00Z"}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "future",
        ),
        (
            bytes(
                &json!({"action": "draft", "data": {"title": "t", "content_hash": hash}, "expected_version": 0, "occurred_at": "yesterday"}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "occurred_at",
        ),
    ];
    for (body, status, says) in cases {
        check(&h, Method::POST, POLICY, body, status, says).await;
    }
}

#[tokio::test]
async fn an_actor_in_the_body_is_refused_even_when_it_is_the_callers_own() {
    let h = Harness::new().await;
    h.bootstrap().await;
    let mut body = draft(0);
    body["actor"] = json!(principal(Role::SecurityManager));
    let detail = h
        .post(POLICY, Role::SecurityManager, &body)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(detail.contains("token's principal"), "{detail}");
    // The recorded actor is the token's principal.
    let reply = h.post(POLICY, Role::SecurityManager, &draft(0)).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let seq = reply.json()["entries"][0]["seq"].as_u64().unwrap();
    let entry = h
        .get(&format!("/v1/entries/{seq}"), Role::Auditor)
        .await
        .json();
    assert_eq!(entry["event"]["actor"], principal(Role::SecurityManager));
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413_and_writes_nothing() {
    let h = Harness::new().await;
    h.bootstrap().await;
    let mut huge = draft(0);
    huge["data"]["title"] = json!("x".repeat(BODY_BYTES_MAX));
    check(
        &h,
        Method::POST,
        POLICY,
        bytes(&huge),
        StatusCode::PAYLOAD_TOO_LARGE,
        "limit",
    )
    .await;
    let event = json!({"event": {"pad": "x".repeat(BODY_BYTES_MAX)}, "attestation": {"key": "", "sig": ""}});
    check(
        &h,
        Method::POST,
        "/v1/events",
        bytes(&event),
        StatusCode::PAYLOAD_TOO_LARGE,
        "limit",
    )
    .await;
}

#[tokio::test]
async fn stale_expected_versions_are_conflicts_and_domain_rules_are_named() {
    let h = Harness::new().await;
    h.bootstrap().await;
    h.command_ok(
        Role::SecurityManager,
        "policy/POL-1",
        "draft",
        draft(0)["data"].clone(),
        0,
    )
    .await;
    for stale in [0, 2, 7] {
        let body = json!({"action": "approve", "data": {"note": null}, "expected_version": stale});
        let before = h.size().await;
        let detail = h
            .post(POLICY, Role::TopManagement, &body)
            .await
            .problem(StatusCode::CONFLICT);
        assert!(
            detail.contains("expected version") && detail.contains("at version 1"),
            "{detail}"
        );
        assert_eq!(h.size().await, before);
    }
    // The security manager holds no top_management role in the SMS: the domain refuses.
    let body = json!({"action": "approve", "data": {"note": null}, "expected_version": 1});
    check(
        &h,
        Method::POST,
        POLICY,
        bytes(&body),
        StatusCode::UNPROCESSABLE_ENTITY,
        "requires the top_management role",
    )
    .await;
    // Publishing before approval breaks the policy's rule.
    let body = json!({"action": "publish", "data": {"channels": []}, "expected_version": 1});
    let says = "policy POL-1: cannot publish before it is approved";
    check(
        &h,
        Method::POST,
        POLICY,
        bytes(&body),
        StatusCode::UNPROCESSABLE_ENTITY,
        says,
    )
    .await;
}

#[tokio::test]
async fn forged_attestations_are_refused_and_write_nothing() {
    let h = Harness::new().await;
    h.bootstrap().await;
    let registered = SecretKey::generate();
    let stranger = SecretKey::generate();
    let me = principal(Role::SecurityManager);
    common::register_attest_key(&h, &registered.public(), me).await;

    let unregistered = attested_draft("P-1", 1, me, &stranger);
    check(
        &h,
        Method::POST,
        "/v1/events",
        bytes(&unregistered),
        StatusCode::UNPROCESSABLE_ENTITY,
        "attestation",
    )
    .await;
    let mut tampered = attested_draft("P-1", 1, me, &registered);
    tampered["event"]["data"]["title"] = json!("Another policy");
    check(
        &h,
        Method::POST,
        "/v1/events",
        bytes(&tampered),
        StatusCode::UNPROCESSABLE_ENTITY,
        "attestation",
    )
    .await;
    let mut swapped = attested_draft("P-1", 1, me, &stranger);
    swapped["attestation"]["key"] = json!(registered.public().to_base64());
    check(
        &h,
        Method::POST,
        "/v1/events",
        bytes(&swapped),
        StatusCode::UNPROCESSABLE_ENTITY,
        "attestation",
    )
    .await;
    let mut garbage = attested_draft("P-1", 1, me, &registered);
    garbage["attestation"]["sig"] = json!("!!!");
    check(
        &h,
        Method::POST,
        "/v1/events",
        bytes(&garbage),
        StatusCode::UNPROCESSABLE_ENTITY,
        "attestation.sig",
    )
    .await;
    let someone_else = attested_draft("P-1", 1, principal(Role::TopManagement), &registered);
    check(
        &h,
        Method::POST,
        "/v1/events",
        bytes(&someone_else),
        StatusCode::FORBIDDEN,
        "principal",
    )
    .await;
    let mut wrong_payload = attested_draft("P-1", 1, me, &registered);
    wrong_payload["event"]["data"] = json!({"title": "t"});
    check(
        &h,
        Method::POST,
        "/v1/events",
        bytes(&wrong_payload),
        StatusCode::UNPROCESSABLE_ENTITY,
        "event",
    )
    .await;
    let stale = attested_draft("P-1", 3, me, &registered);
    check(
        &h,
        Method::POST,
        "/v1/events",
        bytes(&stale),
        StatusCode::CONFLICT,
        "expected version",
    )
    .await;
    let mut extra = attested_draft("P-1", 1, me, &registered);
    extra["actor"] = json!(me);
    check(
        &h,
        Method::POST,
        "/v1/events",
        bytes(&extra),
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown field",
    )
    .await;

    let good = attested_draft("P-1", 1, me, &registered);
    let reply = h.post("/v1/events", Role::SecurityManager, &good).await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
}

#[tokio::test]
async fn bad_paths_queries_and_methods_are_problems_not_500s() {
    let h = Harness::new().await;
    let cases = [
        (
            Method::GET,
            "/v1/entries?limit=abc",
            StatusCode::BAD_REQUEST,
            "limit",
        ),
        (
            Method::GET,
            "/v1/entries?limit=0",
            StatusCode::BAD_REQUEST,
            "limit",
        ),
        (
            Method::GET,
            "/v1/entries?limit=100000",
            StatusCode::BAD_REQUEST,
            "limit",
        ),
        (
            Method::GET,
            "/v1/entries?sort=desc",
            StatusCode::BAD_REQUEST,
            "sort",
        ),
        (
            Method::GET,
            "/v1/entries/zzz",
            StatusCode::BAD_REQUEST,
            "zzz",
        ),
        (
            Method::GET,
            "/v1/entries/99999",
            StatusCode::NOT_FOUND,
            "99999",
        ),
        (
            Method::GET,
            &format!("/v1/entries/{}", "0".repeat(64)),
            StatusCode::NOT_FOUND,
            "no entry",
        ),
        (
            Method::GET,
            &format!("/v1/entries/{}", "Z".repeat(64)),
            StatusCode::BAD_REQUEST,
            "hex",
        ),
        (
            Method::GET,
            "/v1/checkpoints/18446744073709551616",
            StatusCode::BAD_REQUEST,
            "",
        ),
        (
            Method::GET,
            "/v1/checkpoints/5",
            StatusCode::NOT_FOUND,
            "size 5",
        ),
        (
            Method::GET,
            "/v1/proofs/inclusion?seq=50",
            StatusCode::NOT_FOUND,
            "seq 50",
        ),
        (
            Method::GET,
            "/v1/proofs/inclusion",
            StatusCode::BAD_REQUEST,
            "seq",
        ),
        (
            Method::GET,
            "/v1/proofs/consistency?from=9",
            StatusCode::BAD_REQUEST,
            "larger",
        ),
        (
            Method::GET,
            "/v1/proofs/consistency?from=1&to=900",
            StatusCode::NOT_FOUND,
            "beyond",
        ),
        (
            Method::POST,
            "/v1/streams/nonsense/X-1/commands",
            StatusCode::BAD_REQUEST,
            "nonsense",
        ),
        (
            Method::GET,
            "/v1/nowhere",
            StatusCode::NOT_FOUND,
            "/v1/nowhere",
        ),
        (
            Method::DELETE,
            "/v1/entries",
            StatusCode::METHOD_NOT_ALLOWED,
            "method",
        ),
    ];
    for (method, path, status, says) in cases {
        let body = (method == Method::POST).then(|| serde_json::to_vec(&draft(0)).unwrap());
        check(&h, method, path, body, status, says).await;
    }
    let req = axum::http::Request::get("/v1/events/stream")
        .header(
            "authorization",
            format!("Bearer {}", h.token(Role::Subscriber)),
        )
        .header("last-event-id", "yesterday")
        .body(axum::body::Body::empty())
        .unwrap();
    let res = tower::ServiceExt::oneshot(h.app.clone(), req)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_token_over_its_rate_is_told_to_wait_and_others_are_not() {
    let config = Config {
        rate_per_second: 1,
        rate_burst: 3,
        ..Config::default()
    };
    let h = Harness::with_config(config).await;
    for _ in 0..3 {
        assert_eq!(
            h.get("/v1/entries", Role::Auditor).await.status,
            StatusCode::OK
        );
    }
    let reply = h.get("/v1/entries", Role::Auditor).await;
    reply.problem(StatusCode::TOO_MANY_REQUESTS);
    assert!(reply.headers.contains_key("retry-after"));
    assert_eq!(
        h.get("/v1/entries", Role::Admin).await.status,
        StatusCode::OK
    );
}
