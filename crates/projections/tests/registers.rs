//! Registers through the public API: foreign and undecodable entries, snapshots that must
//! not be trusted, and filter / sort / page.

mod common;

use common::{rows, runtime, scenario, second_per_entry, Item, MemStore};
use custodia_domain::Timestamp;
use custodia_projections::rows::{IncidentRow, RegisterRow};
use custodia_projections::{
    query, Model, Page, Projector, ProjectorConfig, Query, Record, SnapshotStore, SortKey,
    PAGE_ROWS_MAX,
};

fn config() -> ProjectorConfig {
    ProjectorConfig {
        read_rows: 64,
        memory_interval_entries: 32,
        memory_snapshots_max: 8,
        persist_interval_entries: 1_000_000,
    }
}

fn domain(n: usize) -> Vec<Item> {
    scenario()[..n].iter().cloned().map(Item::Domain).collect()
}

#[test]
fn foreign_entries_are_skipped_and_undecodable_ones_reported() {
    let mut items = domain(50);
    items.insert(0, Item::Foreign);
    items.insert(10, Item::Broken);
    items.push(Item::Foreign);
    let rows = rows(&items, second_per_entry);
    let model = Model::fold(&rows.iter().map(Record::from_row).collect::<Vec<_>>());
    assert_eq!(model.position().size, 53);
    assert_eq!(model.event_count(), 50);
    let (problems, count) = model.problems();
    assert_eq!(count, 1);
    assert_eq!(problems[0].seq, 10);
    assert!(
        problems[0].reason.contains("risk.identified"),
        "{}",
        problems[0].reason
    );
}

#[test]
fn a_snapshot_from_another_chain_is_discarded() {
    let items = domain(120);
    let ours = rows(&items, second_per_entry);
    // Same events recorded a microsecond later: every hash differs.
    let theirs = rows(&items, |s| second_per_entry(s) + 1);
    runtime().block_on(async {
        let snapshots = SnapshotStore::in_memory().await.unwrap();
        let mut other = Projector::open(MemStore::new(theirs), snapshots.clone(), config())
            .await
            .unwrap();
        other.persist_now().await.unwrap();
        assert_eq!(snapshots.list().await.unwrap().len(), 1);
        let p = Projector::open(MemStore::new(ours.clone()), snapshots.clone(), config())
            .await
            .unwrap();
        let fresh = Model::fold(&ours.iter().map(Record::from_row).collect::<Vec<_>>());
        assert_eq!(p.current(), &fresh);
        assert!(
            snapshots.list().await.unwrap().is_empty(),
            "the foreign snapshot is deleted"
        );
    });
}

#[test]
fn a_matching_snapshot_is_the_starting_point() {
    let rows = rows(&domain(120), second_per_entry);
    runtime().block_on(async {
        let snapshots = SnapshotStore::in_memory().await.unwrap();
        let early = Projector::open(
            MemStore::new(rows[..60].to_vec()),
            SnapshotStore::in_memory().await.unwrap(),
            config(),
        )
        .await
        .unwrap();
        // Doctor the snapshot (same position and hash, roles emptied): if the projector
        // starts from it, the doctoring shows through; had it replayed from genesis, it
        // would not.
        let mut doctored = early.current().clone();
        doctored.roles.clear();
        snapshots.put(&doctored).await.unwrap();
        let p = Projector::open(MemStore::new(rows.clone()), snapshots, config())
            .await
            .unwrap();
        let fresh = Model::fold(&rows.iter().map(Record::from_row).collect::<Vec<_>>());
        assert_eq!(p.size(), 120);
        assert!(p.current().roles.len() < fresh.roles.len());
    });
}

fn demo_model() -> Model {
    let rows = rows(&domain(scenario().len()), second_per_entry);
    Model::fold(&rows.iter().map(Record::from_row).collect::<Vec<_>>())
}

fn all(at: Timestamp) -> Query {
    Query {
        limit: PAGE_ROWS_MAX,
        ..Query::at(at)
    }
}

#[test]
fn a_filter_keeps_exactly_the_matching_rows() {
    let model = demo_model();
    let at = model.position().max_occurred.unwrap();
    let every = query(&model.risks, &all(at));
    assert_eq!(every.total as usize, model.risks.len());
    assert!(every.total > 0);
    let open = query(
        &model.risks,
        &Query {
            status: Some("open".into()),
            ..all(at)
        },
    );
    assert!(open.rows.iter().all(|r| r.status(at) == "open"));
    let count_open = model
        .risks
        .values()
        .filter(|r| r.status(at) == "open")
        .count();
    assert_eq!(open.total as usize, count_open);
    let theft = query(
        &model.incidents,
        &Query {
            tag: Some("cargo_theft".into()),
            ..all(at)
        },
    );
    assert!(theft.total > 0);
    assert!(theft
        .rows
        .iter()
        .all(|r| r.category.as_str() == "cargo_theft"));
}

#[test]
fn sorting_by_due_date_descending_puts_undated_rows_first() {
    let model = demo_model();
    let at = model.position().max_occurred.unwrap();
    let due = query(
        &model.risks,
        &Query {
            sort: SortKey::Due,
            descending: true,
            ..all(at)
        },
    );
    let dues: Vec<Option<Timestamp>> = due.rows.iter().map(|r| r.due()).collect();
    // Ascending puts undated rows last; descending reverses the whole order.
    let mut expected = dues.clone();
    expected.sort_by(|a, b| match (a, b) {
        (Some(x), Some(y)) => y.cmp(x),
        (None, Some(_)) => std::cmp::Ordering::Less,
        (Some(_), None) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    assert_eq!(dues, expected);
}

#[test]
fn pages_tile_the_result_and_a_huge_limit_is_clamped() {
    let model = demo_model();
    let at = model.position().max_occurred.unwrap();
    let page = |offset| {
        query(
            &model.incidents,
            &Query {
                offset,
                limit: 7,
                ..Query::at(at)
            },
        )
    };
    let ids = |p: &Page<IncidentRow>| {
        p.rows
            .iter()
            .map(|r| r.meta.id.as_str().to_owned())
            .collect::<Vec<_>>()
    };
    let (first, second) = (ids(&page(0)), ids(&page(7)));
    assert_eq!(first.len(), 7.min(model.incidents.len()));
    // By id, pages follow each other exactly.
    let by_id: Vec<String> = model
        .incidents
        .keys()
        .take(14)
        .map(|k| k.to_string())
        .collect();
    assert_eq!([first, second].concat(), by_id);
    let huge = query(
        &model.incidents,
        &Query {
            limit: u32::MAX,
            ..Query::at(at)
        },
    );
    assert_eq!(huge.limit, PAGE_ROWS_MAX);
    assert_eq!(
        huge.rows.len(),
        (PAGE_ROWS_MAX as usize).min(model.incidents.len())
    );
}

#[test]
fn the_demo_year_fills_every_register() {
    let model = demo_model();
    let sizes = [
        ("issues", model.issues.len()),
        ("scopes", model.scopes.len()),
        ("obligations", model.obligations.len()),
        ("policies", model.policies.len()),
        ("roles", model.roles.len()),
        ("risks", model.risks.len()),
        ("objectives", model.objectives.len()),
        ("competences", model.competences.len()),
        ("people", model.people.len()),
        ("documents", model.documents.len()),
        ("controls", model.controls.len()),
        ("suppliers", model.suppliers.len()),
        ("incidents", model.incidents.len()),
        ("audits", model.audits.len()),
        ("reviews", model.reviews.len()),
        ("nonconformities", model.nonconformities.len()),
        ("corrective_actions", model.corrective_actions.len()),
        ("improvements", model.improvements.len()),
        ("parties", model.parties.len()),
        ("changes", model.changes.len()),
        ("communications", model.communications.len()),
        ("plans", model.plans.len()),
        ("assessments", model.assessments.len()),
    ];
    let empty: Vec<_> = sizes.iter().filter(|(_, n)| *n == 0).collect();
    assert!(empty.is_empty(), "empty registers: {empty:?}");
    assert_eq!(model.problems().1, 0);
}
