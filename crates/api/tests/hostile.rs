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
            StatusCode::NOT_FOUND,
            "beyond",
        ),
        (
            Method::GET,
            "/v1/proofs/consistency?from=2&to=1",
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
            StatusCode::NOT_FOUND,
            "nonsense",
        ),
        (
            Method::GET,
            "/v1/streams/nonsense/X-1",
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

/// Sends raw bytes with a given Content-Type (or none) as `role`.
async fn send_typed(
    h: &Harness,
    path: &str,
    role: Role,
    content_type: Option<&str>,
    body: &[u8],
) -> common::Reply {
    use axum::http::{header, Request};
    use http_body_util::BodyExt as _;
    let mut req =
        Request::post(path).header(header::AUTHORIZATION, format!("Bearer {}", h.token(role)));
    if let Some(t) = content_type {
        req = req.header(header::CONTENT_TYPE, t);
    }
    let req = req.body(axum::body::Body::from(body.to_vec())).unwrap();
    let res = tower::ServiceExt::oneshot(h.app.clone(), req)
        .await
        .unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    common::Reply {
        status,
        headers,
        body,
    }
}

fn problem_type(reply: &common::Reply) -> String {
    reply.json()["type"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_duplicate_key_anywhere_in_a_body_is_a_422_that_names_it_and_writes_nothing() {
    let h = Harness::new().await;
    h.bootstrap().await;
    let hash = "ab".repeat(32);
    let bodies = [
        (POLICY, format!(r#"{{"action":"draft","data":{{"title":"A","title":"B","content_hash":"{hash}"}},"expected_version":0}}"#), "title"),
        (POLICY, format!(r#"{{"action":"draft","action":"draft","data":{{"title":"A","content_hash":"{hash}"}},"expected_version":0}}"#), "action"),
        ("/v1/events", r#"{"event":{"stream":"policy/P-9","stream":"policy/P-8"},"attestation":{"key":"","sig":""}}"#.to_owned(), "stream"),
        ("/v1/checkpoints/1/cosignatures", r#"{"witness":"w","witness":"v","key":"","cosignature":""}"#.to_owned(), "witness"),
    ];
    for (path, body, key) in bodies {
        let before = h.size().await;
        let role = if path.contains("cosignatures") {
            Role::Auditor
        } else {
            Role::SecurityManager
        };
        let reply = send_typed(&h, path, role, Some("application/json"), body.as_bytes()).await;
        let detail = reply.problem(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            problem_type(&reply),
            "urn:custodia:problem:duplicate-key",
            "{path}"
        );
        assert!(
            detail.contains(&format!("duplicate key \"{key}\"")),
            "{path}: {detail}"
        );
        assert_eq!(h.size().await, before, "{path}: a refused request wrote");
    }
    // Floats and unsafe integers break the ledger's value rules before any shape is read.
    let float = format!(
        r#"{{"action":"draft","data":{{"title":"A","content_hash":"{hash}"}},"expected_version":0.5}}"#
    );
    let reply = send_typed(
        &h,
        POLICY,
        Role::SecurityManager,
        Some("application/json"),
        float.as_bytes(),
    )
    .await;
    reply.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem_type(&reply), "urn:custodia:problem:json-value");
}

#[tokio::test]
async fn a_json_body_without_the_json_content_type_is_a_415_on_every_endpoint() {
    let h = Harness::new().await;
    h.bootstrap().await;
    let body = serde_json::to_vec(&draft(0)).unwrap();
    let cases = [
        (POLICY, Role::SecurityManager),
        ("/v1/events", Role::SecurityManager),
        ("/v1/checkpoints/1/cosignatures", Role::Auditor),
    ];
    for (path, role) in cases {
        for content_type in [
            None,
            Some("text/plain"),
            Some("application/jsonx"),
            Some("application/x-www-form-urlencoded"),
        ] {
            let before = h.size().await;
            let reply = send_typed(&h, path, role, content_type, &body).await;
            let detail = reply.problem(StatusCode::UNSUPPORTED_MEDIA_TYPE);
            assert!(detail.contains("application/json"), "{path}: {detail}");
            assert_eq!(h.size().await, before);
        }
    }
    // With parameters and in any case, JSON is JSON.
    let reply = send_typed(
        &h,
        POLICY,
        Role::SecurityManager,
        Some("Application/JSON; charset=utf-8"),
        &body,
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
}

#[tokio::test]
async fn numbers_in_paths_queries_and_last_event_id_must_be_canonical() {
    let h = Harness::new().await;
    for path in [
        "/v1/entries/+0",
        "/v1/entries/00",
        "/v1/checkpoints/+1",
        "/v1/checkpoints/01",
        "/v1/entries?from=+1",
        "/v1/entries?limit=010",
        "/v1/proofs/inclusion?seq=00",
        "/v1/proofs/consistency?from=1&to=+2",
        "/v1/streams/policy/P-1?from_version=01",
        "/v1/registers/risks?offset=+1",
    ] {
        let reply = h.get(path, Role::Auditor).await;
        let detail = reply.problem(StatusCode::BAD_REQUEST);
        assert!(
            detail.contains("leading zero") || detail.contains("not an unsigned decimal"),
            "{path}: {detail}"
        );
    }
    assert_eq!(
        h.get("/v1/entries/0", Role::Auditor).await.status,
        StatusCode::OK
    );
    for id in ["+5", "05", " 5", "5 ", "-1", "1e3"] {
        let req = axum::http::Request::get("/v1/events/stream")
            .header(
                "authorization",
                format!("Bearer {}", h.token(Role::Subscriber)),
            )
            .header("last-event-id", id)
            .body(axum::body::Body::empty())
            .unwrap();
        let res = tower::ServiceExt::oneshot(h.app.clone(), req)
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::BAD_REQUEST,
            "Last-Event-ID {id:?}"
        );
    }
}

#[tokio::test]
async fn as_of_and_valid_at_take_a_plain_date_as_the_end_of_that_day() {
    let h = Harness::new().await;
    h.bootstrap().await;
    let today = h.get("/v1/kpis", Role::Auditor).await.json()["tree_size"].clone();
    let far = h
        .get(
            "/v1/kpis?as_of=9999-12-31&valid_at=9999-12-31",
            Role::Auditor,
        )
        .await;
    assert_eq!(
        far.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&far.body)
    );
    assert_eq!(
        far.json()["tree_size"],
        today,
        "a date includes everything up to its end"
    );
    let before = h
        .get("/v1/registers/policies?as_of=2000-01-01", Role::Auditor)
        .await;
    assert_eq!(before.status, StatusCode::OK);
    assert_eq!(
        before.json()["tree_size"],
        0,
        "nothing was recorded by the end of 2000-01-01"
    );
    for bad in ["2026-02-30", "2026-13-01", "yesterday", "2026-1-1"] {
        let reply = h.get(&format!("/v1/kpis?as_of={bad}"), Role::Auditor).await;
        let detail = reply.problem(StatusCode::BAD_REQUEST);
        assert!(detail.contains("as_of"), "{bad}: {detail}");
    }
}

#[tokio::test]
async fn every_refusal_from_any_layer_is_a_documented_problem_type() {
    let h = Harness::new().await;
    let doc = custodia_api::openapi::build(&custodia_api::routes());
    let documented = doc["components"]["schemas"]["Problem"]["properties"]["type"]["enum"]
        .as_array()
        .unwrap()
        .clone();
    let long = format!(
        "/v1/entries?from=0&x={}",
        "a".repeat(custodia_api::extract::URI_BYTES_MAX)
    );
    let mut cases = vec![
        (
            h.send(
                Method::DELETE,
                "/v1/entries",
                Some(h.token(Role::Admin)),
                None,
            )
            .await,
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
        ),
        (
            h.send(Method::GET, "/v1/nowhere", None, None).await,
            StatusCode::NOT_FOUND,
            "not-found",
        ),
        (
            h.get(&long, Role::Auditor).await,
            StatusCode::URI_TOO_LONG,
            "uri-too-long",
        ),
    ];
    let mut req = axum::http::Request::get("/v1/entries").header(
        "authorization",
        format!("Bearer {}", h.token(Role::Auditor)),
    );
    for i in 0..=custodia_api::extract::HEADERS_MAX {
        req = req.header(format!("x-filler-{i}"), "x");
    }
    let res =
        tower::ServiceExt::oneshot(h.app.clone(), req.body(axum::body::Body::empty()).unwrap())
            .await
            .unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    cases.push((
        common::Reply {
            status,
            headers,
            body,
        },
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "headers-too-large",
    ));
    let huge = vec![b' '; BODY_BYTES_MAX + 1];
    cases.push((
        send_typed(
            &h,
            POLICY,
            Role::SecurityManager,
            Some("application/json"),
            &huge,
        )
        .await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "body-too-large",
    ));
    for (reply, status, name) in cases {
        reply.problem(status);
        let kind = problem_type(&reply);
        assert_eq!(kind, format!("urn:custodia:problem:{name}"));
        assert!(documented.contains(&Value::String(kind)), "{name}");
    }
}
