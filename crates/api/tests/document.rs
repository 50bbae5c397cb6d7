//! The OpenAPI document describes the routes that exist, and /metrics counts honestly.

mod common;

use axum::http::{Method, StatusCode};
use common::{draft, Harness};
use custodia_api::auth::Role;
use custodia_api::openapi::{build, ENDPOINTS};

#[tokio::test]
async fn every_documented_endpoint_is_routed_with_its_method() {
    let h = Harness::new().await;
    for e in ENDPOINTS {
        let path = e
            .path
            .replace("{key}", "0")
            .replace("{size}", "1")
            .replace("{kind}", "policy")
            .replace("{id}", "P-1")
            .replace("{name}", "risks");
        let path = if path == "/v1/review-pack" {
            "/v1/review-pack?from=2020-01-01T00:00:00Z&to=2100-01-01T00:00:00Z".to_owned()
        } else {
            path
        };
        if path == "/v1/events/stream" {
            continue; // never ends; routed, as the access tests show
        }
        let method = Method::from_bytes(e.method.to_uppercase().as_bytes()).unwrap();
        let body = (method == Method::POST).then(|| b"{}".to_vec());
        let reply = h
            .send(method, &path, Some(h.token(Role::Admin)), body)
            .await;
        let routed = reply.status != StatusCode::METHOD_NOT_ALLOWED
            && !(reply.status == StatusCode::NOT_FOUND
                && String::from_utf8_lossy(&reply.body).contains("no endpoint"));
        assert!(routed, "{} {path}: {:?}", e.method, reply.status);
    }
}

#[tokio::test]
async fn the_document_is_openapi_3_1_with_every_command_schema_and_no_dangling_reference() {
    let doc = build();
    assert_eq!(doc["openapi"], "3.1.0");
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for kind in [
        "risk",
        "incident",
        "policy",
        "corrective_action",
        "review",
        "nonconformity",
    ] {
        assert!(
            schemas.contains_key(&format!("{kind}Command")),
            "{kind}Command"
        );
    }
    let text = doc.to_string();
    for part in text.split("\"$ref\":\"").skip(1) {
        let target = part.split('"').next().unwrap();
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{target}"));
        assert!(schemas.contains_key(name), "dangling $ref {target}");
    }
    let path = &doc["paths"]["/v1/streams/{kind}/{id}/commands"]["post"];
    assert!(path["description"].as_str().unwrap().contains("risk_owner"));
    assert!(!path["description"].as_str().unwrap().contains("auditor"));
}

#[tokio::test]
async fn metrics_count_appends_refusals_conflicts_and_entries() {
    let h = Harness::new().await;
    h.bootstrap().await;
    let path = "/v1/streams/policy/POL-1/commands";
    assert_eq!(
        h.post(path, Role::SecurityManager, &draft(0)).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        h.post(path, Role::SecurityManager, &draft(0)).await.status,
        StatusCode::CONFLICT
    );
    let approve =
        serde_json::json!({"action": "approve", "data": {"note": null}, "expected_version": 1});
    assert_eq!(
        h.post(path, Role::SecurityManager, &approve).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let reply = h.send(Method::GET, "/metrics", None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let text = String::from_utf8(reply.body).unwrap();
    let value = |name: &str| -> u64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} in {text}"));
        line.split(' ').nth(1).unwrap().parse().unwrap()
    };
    // The bootstrap wrote 7 entries through the API, the draft one more.
    assert_eq!(value("custodia_appends_total"), 8);
    assert_eq!(value("custodia_conflicts_total"), 1);
    assert_eq!(value("custodia_rejections_total"), 1);
    assert_eq!(value("custodia_ledger_entries"), h.size().await);
    assert_eq!(value("custodia_subscribers"), 0);
}
