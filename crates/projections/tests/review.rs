//! The review pack on the demo year: every 9.3 input present in both renderings, a stable
//! digest, and a period that actually bounds what is counted.

mod common;

use common::{rows, scenario, second_per_entry, Item};
use custodia_domain::Timestamp;
use custodia_projections::review::{Period, ReviewPack};
use custodia_projections::{Model, Record};

fn demo() -> Model {
    let items: Vec<Item> = scenario().iter().cloned().map(Item::Domain).collect();
    let rows = rows(&items, second_per_entry);
    Model::fold(&rows.iter().map(Record::from_row).collect::<Vec<_>>())
}

const INPUTS: [&str; 9] = [
    "Status of actions from previous reviews",
    "Changes in issues, obligations and scope",
    "Nonconformities and corrective actions",
    "Monitoring results and objectives",
    "Audit results",
    "Incidents",
    "Risk assessment results and treatment status",
    "Supplier performance",
    "Opportunities for improvement",
];

#[test]
fn the_pack_renders_every_input_and_digests_stably() {
    let model = demo();
    let first = scenario()[0].occurred_at;
    let period = Period {
        start: first,
        end: first.plus_days(365),
    };
    let pack = ReviewPack::assemble(&model, period);
    let markdown = pack.to_markdown();
    let html = pack.to_html();
    for input in INPUTS {
        assert!(
            markdown.contains(&format!("## {input}")),
            "markdown lacks {input}"
        );
        assert!(
            html.contains(&format!("<h2>{input}</h2>")),
            "html lacks {input}"
        );
    }
    assert!(!html.contains("<script"), "text is escaped");
    let digest = pack.digest().unwrap();
    assert_eq!(digest.len(), 64);
    assert_eq!(
        ReviewPack::assemble(&model, period).digest().unwrap(),
        digest
    );
    // The canonical JSON round-trips into the same pack.
    let back: ReviewPack = serde_json::from_slice(&pack.canonical_json().unwrap()).unwrap();
    assert_eq!(back, pack);
}

#[test]
fn the_period_bounds_what_is_counted() {
    let model = demo();
    let first = scenario()[0].occurred_at;
    let whole = ReviewPack::assemble(
        &model,
        Period {
            start: first,
            end: first.plus_days(400),
        },
    );
    let quarter = ReviewPack::assemble(
        &model,
        Period {
            start: first,
            end: first.plus_days(90),
        },
    );
    let in_quarter = model
        .incidents
        .values()
        .filter(|i| i.meta.created < first.plus_days(90))
        .count() as u64;
    assert_eq!(quarter.incidents.total, in_quarter);
    assert!(quarter.incidents.total < whole.incidents.total);
    assert_eq!(whole.incidents.total, model.incidents.len() as u64);
    let empty = ReviewPack::assemble(
        &model,
        Period {
            start: Timestamp::MIN,
            end: Timestamp::MIN.plus_days(1),
        },
    );
    assert_eq!((empty.incidents.total, empty.capa.raised), (0, 0));
}
