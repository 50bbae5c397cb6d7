//! Registers through the public API: foreign and undecodable entries, snapshots that must
//! not be trusted, and filter / sort / page.

mod common;

use common::{rows, runtime, scenario, second_per_entry, Item, MemStore};
use custodia_domain::Timestamp;
use custodia_projections::rows::RegisterRow;
use custodia_projections::{
    query, Model, Projector, ProjectorConfig, Query, Record, SnapshotStore, SortKey, PAGE_ROWS_MAX,
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

#[test]
fn registers_filter_sort_and_page() {
    let rows = rows(&domain(scenario().len()), second_per_entry);
    let model = Model::fold(&rows.iter().map(Record::from_row).collect::<Vec<_>>());
    let at = model.position().max_occurred.unwrap();
    let all = query(
        &model.risks,
        &Query {
            limit: PAGE_ROWS_MAX,
            ..Query::at(at)
        },
    );
    assert_eq!(all.total as usize, model.risks.len());
    assert!(all.total > 0);

    // A filter keeps exactly the rows that match it.
    let open = query(
        &model.risks,
        &Query {
            status: Some("open".into()),
            limit: PAGE_ROWS_MAX,
            ..Query::at(at)
        },
    );
    assert!(open.rows.iter().all(|r| r.status(at) == "open"));
    let count_open = model
        .risks
        .values()
        .filter(|r| r.status(at) == "open")
        .count();
    assert_eq!(open.total as usize, count_open);

    // Sorted by due date descending; rows without one come last in ascending order.
    let due = query(
        &model.risks,
        &Query {
            sort: SortKey::Due,
            descending: true,
            limit: PAGE_ROWS_MAX,
            ..Query::at(at)
        },
    );
    let dues: Vec<Option<Timestamp>> = due.rows.iter().map(|r| r.due()).collect();
    let mut sorted = dues.clone();
    sorted.sort_by(|a, b| match (a, b) {
        (Some(x), Some(y)) => y.cmp(x),
        (None, Some(_)) => std::cmp::Ordering::Less,
        (Some(_), None) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    assert_eq!(dues, sorted);

    // Pages tile the result without overlap; a huge limit is clamped.
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
    let (first, second) = (page(0), page(7));
    assert_eq!(first.rows.len(), 7.min(model.incidents.len()));
    let ids = |p: &custodia_projections::Page<_>| {
        p.rows
            .iter()
            .map(|r: &custodia_projections::rows::IncidentRow| r.meta.id.clone())
            .collect::<Vec<_>>()
    };
    assert!(ids(&first).iter().all(|id| !ids(&second).contains(id)));
    let huge = query(
        &model.incidents,
        &Query {
            limit: u32::MAX,
            ..Query::at(at)
        },
    );
    assert_eq!(huge.limit, PAGE_ROWS_MAX);

    // Tag filter: incidents of one category.
    let theft = query(
        &model.incidents,
        &Query {
            tag: Some("cargo_theft".into()),
            limit: PAGE_ROWS_MAX,
            ..Query::at(at)
        },
    );
    assert!(theft
        .rows
        .iter()
        .all(|r| r.category.as_str() == "cargo_theft"));
}

#[test]
fn the_demo_year_fills_every_register() {
    let rows = rows(&domain(scenario().len()), second_per_entry);
    let model = Model::fold(&rows.iter().map(Record::from_row).collect::<Vec<_>>());
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
