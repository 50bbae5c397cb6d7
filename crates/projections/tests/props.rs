//! Property tests: every way of reaching a state (as-of replay from snapshots, live
//! increments, rebuild, persisted snapshot plus tail) equals a fresh fold of the same prefix.

mod common;

use common::{rows, runtime, scenario, second_per_entry, Item, MemStore};
use custodia_domain::Timestamp;
use custodia_ledger::store::Row;
use custodia_projections::{Model, Projector, ProjectorConfig, Record, SnapshotStore};
use proptest::prelude::*;

/// Small intervals so that short histories cross many snapshots and read batches.
fn config() -> ProjectorConfig {
    ProjectorConfig {
        read_rows: 37,
        memory_interval_entries: 16,
        memory_snapshots_max: 6,
        persist_interval_entries: 50,
    }
}

/// The first `n` scenario events with foreign and undecodable entries slipped in.
fn history(n: usize, extra: &[(usize, bool)]) -> Vec<Item> {
    let mut items: Vec<Item> = scenario()[..n].iter().cloned().map(Item::Domain).collect();
    for (at, foreign) in extra {
        let item = if *foreign {
            Item::Foreign
        } else {
            Item::Broken
        };
        items.insert((*at).min(items.len()), item);
    }
    items
}

/// What a valid-at replay must equal: the prefix, with entries whose event happened after
/// `t` (by the ledger's `occurred_at`, whether or not the payload decodes) passed over.
fn fold_valid_at(rows: &[Row], t: Timestamp) -> Model {
    let mut model = Model::new();
    for row in rows {
        if row.occurred_at_micros > t.micros() {
            model.pass(row.seq, &row.hash);
        } else {
            model.apply(&Record::from_row(row));
        }
    }
    model
}

fn pick(fraction: f64, len: usize) -> usize {
    ((fraction * len as f64) as usize).min(len)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn as_of_any_k_equals_a_fresh_fold_of_the_first_k(
        n in 1usize..400,
        extra in prop::collection::vec((0usize..400, any::<bool>()), 0..6),
        ks in prop::collection::vec(0.0f64..=1.0, 1..5),
    ) {
        let rows = rows(&history(n, &extra), second_per_entry);
        let records: Vec<Record> = rows.iter().map(Record::from_row).collect();
        runtime().block_on(async {
            let store = MemStore::new(rows.clone());
            let snapshots = SnapshotStore::in_memory().await.unwrap();
            let projector = Projector::open(store, snapshots, config()).await.unwrap();
            for k in ks.iter().map(|f| pick(*f, records.len())) {
                let expected = Model::fold(&records[..k]);
                prop_assert_eq!(&projector.as_of_size(k as u64).await.unwrap(), &expected);
                // By transaction time: entry k-1 was recorded k-1 seconds after the start.
                if k > 0 {
                    let t = Timestamp::from_micros(second_per_entry(k as u64 - 1)).unwrap();
                    prop_assert_eq!(&projector.as_of(t).await.unwrap(), &expected);
                }
            }
            Ok(())
        })?;
    }

    #[test]
    fn valid_at_equals_a_fold_of_the_events_that_happened_by_then(
        n in 1usize..400,
        k in 0.0f64..=1.0,
        t in 0.0f64..=1.0,
    ) {
        let rows = rows(&history(n, &[(n / 2, true), (n / 3, false)]), second_per_entry);
        let k = pick(k, rows.len());
        let (first, last) = (scenario()[0].occurred_at, scenario()[n - 1].occurred_at);
        let span = last.micros() - first.micros();
        let t = Timestamp::from_micros(first.micros() + (span as f64 * t) as i64).unwrap();
        runtime().block_on(async {
            let store = MemStore::new(rows.clone());
            let snapshots = SnapshotStore::in_memory().await.unwrap();
            let projector = Projector::open(store, snapshots, config()).await.unwrap();
            let got = projector.valid_at_as_of_size(t, k as u64).await.unwrap();
            prop_assert_eq!(got, fold_valid_at(&rows[..k], t));
            Ok(())
        })?;
    }

    #[test]
    fn incremental_state_equals_a_rebuild(
        n in 1usize..400,
        cuts in prop::collection::vec(0.0f64..=1.0, 1..4),
    ) {
        let rows = rows(&history(n, &[(3, true), (n / 3, false)]), second_per_entry);
        let records: Vec<Record> = rows.iter().map(Record::from_row).collect();
        let mut cuts: Vec<usize> = cuts.iter().map(|c| pick(*c, rows.len())).collect();
        cuts.sort_unstable();
        runtime().block_on(async {
            let store = MemStore::new(rows[..cuts[0]].to_vec());
            let snapshots = SnapshotStore::in_memory().await.unwrap();
            let mut live = Projector::open(store.clone(), snapshots, config()).await.unwrap();
            // The ledger grows in steps; the projector applies some entries one by one (as the
            // subscription delivers them) and catches up on the rest from the store.
            let mut at = cuts[0];
            for &cut in cuts.iter().skip(1).chain([&rows.len()]) {
                store.push(rows[at..cut].to_vec());
                for record in &records[at..cut.min(at + 5)] {
                    prop_assert!(live.apply(record));
                }
                live.catch_up().await.unwrap();
                at = cut;
            }
            // A duplicate or a gap is refused, not applied.
            if let Some(last) = records.last() {
                prop_assert!(!live.apply(last));
            }
            let mut rebuilt = Projector::open(store, SnapshotStore::in_memory().await.unwrap(), config())
                .await
                .unwrap();
            rebuilt.rebuild().await.unwrap();
            prop_assert_eq!(live.current(), rebuilt.current());
            prop_assert_eq!(live.current(), &Model::fold(&records));
            Ok(())
        })?;
    }

    #[test]
    fn snapshot_plus_tail_equals_a_full_fold(n in 2usize..400, s in 0.0f64..=1.0) {
        let rows = rows(&history(n, &[(1, false)]), second_per_entry);
        let records: Vec<Record> = rows.iter().map(Record::from_row).collect();
        let s = pick(s, rows.len()).max(1);
        runtime().block_on(async {
            let snapshots = SnapshotStore::in_memory().await.unwrap();
            let early = MemStore::new(rows[..s].to_vec());
            let mut first = Projector::open(early, snapshots.clone(), config()).await.unwrap();
            first.persist_now().await.unwrap();
            let sizes: Vec<u64> = snapshots.list().await.unwrap().iter().map(|i| i.size).collect();
            prop_assert!(sizes.contains(&(s as u64)));
            let full = MemStore::new(rows.clone());
            let second = Projector::open(full, snapshots, config()).await.unwrap();
            prop_assert_eq!(second.current(), &Model::fold(&records));
            Ok(())
        })?;
    }
}
