//! The OpenAPI document describes exactly the routes that exist, and /metrics counts honestly.

mod common;

use axum::http::{Method, StatusCode};
use common::{draft, Harness};
use custodia_api::auth::Role;
use custodia_api::error::{PROBLEM_TYPES, PROBLEM_TYPE_PREFIX};
use custodia_api::routes;
use serde_json::Value;
use std::collections::BTreeSet;

/// The (method, path) pairs of a document.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.insert((method.to_uppercase(), path.clone()));
        }
    }
    out
}

/// A concrete path for a documented template.
fn concrete(template: &str) -> String {
    let path = template
        .replace("{key}", "0")
        .replace("{size}", "1")
        .replace("{kind}", "policy")
        .replace("{id}", "P-1")
        .replace("{name}", "risks");
    match path.as_str() {
        "/v1/review-pack" => format!("{path}?from=2020-01-01T00:00:00Z&to=2100-01-01T00:00:00Z"),
        "/v1/proofs/inclusion" => format!("{path}?seq=0"),
        "/v1/proofs/consistency" => format!("{path}?from=1"),
        _ => path,
    }
}

/// Whether the router has a route for this method and path (the fallback's 404 and the
/// router's 405 say it has not).
async fn routed(h: &Harness, method: Method, path: &str) -> bool {
    let body = (method == Method::POST).then(|| b"{}".to_vec());
    let reply = h.send(method, path, Some(h.token(Role::Admin)), body).await;
    let detail = String::from_utf8_lossy(&reply.body).into_owned();
    reply.status != StatusCode::METHOD_NOT_ALLOWED
        && !(reply.status == StatusCode::NOT_FOUND && detail.contains("no endpoint"))
}

#[tokio::test]
async fn the_served_document_has_every_route_of_the_router_and_no_other() {
    let h = Harness::new().await;
    let doc = h.get("/v1/openapi.json", Role::Auditor).await.json();
    let table: BTreeSet<(String, String)> = routes()
        .iter()
        .map(|r| (r.method.to_string(), r.path.clone()))
        .collect();
    assert_eq!(
        documented(&doc),
        table,
        "the document and the route table differ"
    );
    for (method, path) in documented(&doc) {
        if path == "/v1/events/stream" {
            continue; // never ends; routed, as the access tests show
        }
        let target = concrete(&path);
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        assert!(
            routed(&h, method.clone(), &target).await,
            "{method} {path} is documented but not routed"
        );
        // No method is routed on a documented path that the document does not name.
        for other in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::PATCH,
        ] {
            if documented(&doc).contains(&(other.to_string(), path.clone())) {
                continue;
            }
            assert!(
                !routed(&h, other.clone(), &target).await,
                "{other} {path} is routed but not documented"
            );
        }
    }
}

/// Every `$ref` in `value`.
fn references(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r.clone());
            }
            map.values().for_each(|v| references(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, out)),
        _ => {}
    }
}

#[test]
fn every_reference_resolves_and_no_schema_is_only_a_reference_to_itself() {
    let doc = custodia_api::openapi::build(&routes());
    assert_eq!(doc["openapi"], "3.1.0");
    let mut refs = Vec::new();
    references(&doc, &mut refs);
    assert!(!refs.is_empty());
    for target in refs {
        let pointer = target
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{target}"));
        assert!(doc.pointer(pointer).is_some(), "dangling $ref {target}");
    }
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        let own = format!("#/components/schemas/{name}");
        assert_ne!(
            schema.get("$ref"),
            Some(&Value::String(own)),
            "{name} refers only to itself"
        );
    }
}

#[test]
fn every_command_body_requires_expected_version_and_each_kind_has_its_own_path() {
    let doc = custodia_api::openapi::build(&routes());
    for kind in custodia_domain::StreamKind::ALL {
        let path = format!("/v1/streams/{}/{{id}}/commands", kind.as_str());
        let op = &doc["paths"][&path]["post"];
        let body = &op["requestBody"]["content"]["application/json"]["schema"]["$ref"];
        let pointer = body.as_str().unwrap().trim_start_matches('#');
        let schema = doc.pointer(pointer).unwrap();
        let alternatives = schema["oneOf"]
            .as_array()
            .or(schema["anyOf"].as_array())
            .unwrap_or_else(|| panic!("{path}: {schema}"));
        for alternative in alternatives {
            let required: Vec<&str> = alternative["required"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert!(
                required.contains(&"expected_version"),
                "{path}: {alternative}"
            );
            assert!(required.contains(&"action"), "{path}: {alternative}");
        }
        assert!(op["description"].as_str().unwrap().contains("risk_owner"));
        assert!(!op["description"].as_str().unwrap().contains("auditor"));
        assert!(op["responses"]["201"].is_object(), "{path}");
        assert!(op["responses"]["409"].is_object(), "{path}");
    }
}

#[test]
fn every_operation_documents_its_success_and_its_problems() {
    let doc = custodia_api::openapi::build(&routes());
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            let success = responses
                .iter()
                .find(|(s, _)| s.starts_with('2'))
                .unwrap_or_else(|| panic!("{method} {path}: no success"));
            assert!(success.1["content"].is_object(), "{method} {path}");
            assert!(responses.contains_key("default"), "{method} {path}");
            if op.get("security").is_some() {
                for status in ["401", "403", "429"] {
                    assert!(responses.contains_key(status), "{method} {path}: {status}");
                }
            }
            if op.get("requestBody").is_some() {
                for status in ["400", "413", "415", "422"] {
                    assert!(responses.contains_key(status), "{method} {path}: {status}");
                }
            }
            for p in op["parameters"].as_array().into_iter().flatten() {
                assert!(p["schema"].is_object(), "{method} {path}: {p}");
            }
        }
    }
    let inclusion = &doc["paths"]["/v1/proofs/inclusion"]["get"]["parameters"];
    let seq = inclusion
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "seq")
        .unwrap();
    assert_eq!(
        seq["required"], true,
        "seq is required: without it the answer is a 400"
    );
}

#[test]
fn every_problem_type_the_code_sends_is_documented() {
    let doc = custodia_api::openapi::build(&routes());
    let documented = &doc["components"]["schemas"]["Problem"]["properties"]["type"]["enum"];
    for t in PROBLEM_TYPES {
        let urn = format!("{PROBLEM_TYPE_PREFIX}{}", t.name);
        assert!(documented.as_array().unwrap().contains(&Value::String(urn)));
    }
    // The rules named in the handlers' sources are all in the table.
    let sources = [
        include_str!("../src/commands.rs"),
        include_str!("../src/ledger_reads.rs"),
        include_str!("../src/read_models.rs"),
        include_str!("../src/events.rs"),
        include_str!("../src/export.rs"),
        include_str!("../src/extract.rs"),
        include_str!("../src/auth.rs"),
        include_str!("../src/error.rs"),
    ];
    for source in sources {
        for part in source.split("rule(").skip(1) {
            let part = part.trim_start();
            let Some(rest) = part.strip_prefix('"') else {
                continue;
            };
            let name = rest.split('"').next().unwrap();
            assert!(
                PROBLEM_TYPES
                    .iter()
                    .any(|t| t.name == name && t.status == 422),
                "rule {name:?} is sent but not documented in PROBLEM_TYPES"
            );
        }
    }
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
