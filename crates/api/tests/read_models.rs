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
