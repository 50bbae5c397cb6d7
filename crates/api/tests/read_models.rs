//! KPIs from the projections, on both time axes.

mod common;

use axum::http::StatusCode;
use common::Harness;
use custodia_api::auth::Role;

#[tokio::test]
async fn the_kpi_board_answers_now_and_as_of_a_past_transaction_time() {
    let h = Harness::new().await;
    h.bootstrap().await;
    let now = h.get("/v1/kpis", Role::Auditor).await;
    assert_eq!(
        now.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&now.body)
    );
    let now = now.json();
    assert_eq!(now["tree_size"], h.size().await);
    assert!(now["board"]["capa"].is_object(), "{now}");

    // As of the moment entry 4 was recorded, the system knew entries 0..=4 (and any others
    // recorded in the same microsecond, which the ledger's order puts after it).
    let entry = h.get("/v1/entries/4", Role::Auditor).await.json();
    let at = entry["recorded_at"].as_str().unwrap();
    let past = h
        .get(&format!("/v1/kpis?as_of={at}"), Role::Auditor)
        .await
        .json();
    let size = past["tree_size"].as_u64().unwrap();
    assert!((5..=h.size().await).contains(&size), "{size}");
    assert_eq!(past["as_of"], at);

    let valid = h
        .get("/v1/kpis?valid_at=2000-01-01T00:00:00Z", Role::Auditor)
        .await
        .json();
    assert_eq!(valid["board"]["at"], "2000-01-01T00:00:00.000000Z");

    let bad = h.get("/v1/kpis?as_of=last-tuesday", Role::Auditor).await;
    assert!(bad.problem(StatusCode::BAD_REQUEST).contains("as_of"));
    h.get("/v1/kpis", Role::Subscriber)
        .await
        .problem(StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_register_pages_rows_now_and_as_of_before_they_were_recorded() {
    let h = Harness::new().await;
    h.bootstrap().await;
    let before = h.get("/v1/entries/2", Role::Auditor).await.json()["recorded_at"]
        .as_str()
        .unwrap()
        .to_owned();
    h.command_ok(
        Role::SecurityManager,
        "policy/POL-1",
        "draft",
        common::draft(0)["data"].clone(),
        0,
    )
    .await;
    let now = h.get("/v1/registers/policies", Role::Auditor).await;
    assert_eq!(
        now.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&now.body)
    );
    let now = now.json();
    assert_eq!(now["page"]["total"], 1, "{now}");
    let past = h
        .get(
            &format!("/v1/registers/policies?as_of={before}"),
            Role::Auditor,
        )
        .await
        .json();
    assert_eq!(past["page"]["total"], 0, "{past}");
    let roles = h
        .get("/v1/registers/roles?limit=1", Role::Auditor)
        .await
        .json();
    assert_eq!(roles["page"]["rows"].as_array().unwrap().len(), 1);
    assert!(h
        .get("/v1/registers/nothing", Role::Auditor)
        .await
        .problem(StatusCode::NOT_FOUND)
        .contains("risks"));
    h.get("/v1/registers/risks?limit=0", Role::Auditor)
        .await
        .problem(StatusCode::BAD_REQUEST);
    h.get("/v1/registers/risks?owner=nobody", Role::Auditor)
        .await
        .problem(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_review_pack_for_a_period_carries_its_digest_and_refuses_an_empty_period() {
    let h = Harness::new().await;
    h.bootstrap().await;
    let path = "/v1/review-pack?from=2020-01-01T00:00:00Z&to=2100-01-01T00:00:00Z";
    let pack = h.get(path, Role::Auditor).await;
    assert_eq!(
        pack.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&pack.body)
    );
    let pack = pack.json();
    assert_eq!(pack["digest"].as_str().unwrap().len(), 64, "{pack}");
    assert_eq!(pack["tree_size"], h.size().await);
    let again = h.get(path, Role::Auditor).await.json();
    assert_eq!(
        again["digest"], pack["digest"],
        "the same ledger, the same pack"
    );
    let empty = "/v1/review-pack?from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z";
    h.get(empty, Role::Auditor)
        .await
        .problem(StatusCode::BAD_REQUEST);
    h.get("/v1/review-pack", Role::Auditor)
        .await
        .problem(StatusCode::BAD_REQUEST);
}
