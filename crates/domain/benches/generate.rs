//! Generates at least 1,000,000 events of the reference scenario through `decide` and reports
//! the rate. A plain binary (no harness): `cargo bench -p custodia-domain --bench generate`.
//! An optional argument sets the target event count.

use custodia_domain::scenario::{generate_each, ScenarioConfig};
use std::time::Instant;

fn main() {
    let target: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let seed = ScenarioConfig::demo().seed;
    let count = |scale| {
        generate_each(ScenarioConfig { seed, scale }, |_| {})
            .expect("generates")
            .event_count()
    };
    // The fixed programme does not grow with scale; extrapolate from the slope between scale 1
    // and 2, with one extra unit so the target is reached.
    let (one, two) = (count(1), count(2));
    let per_unit = two.saturating_sub(one).max(1);
    let scale =
        u32::try_from(target.saturating_sub(one).div_ceil(per_unit) + 2).expect("scale fits u32");
    let config = ScenarioConfig { seed, scale };
    let mut bytes = 0u64;
    let started = Instant::now();
    let sms = generate_each(config, |e| bytes += e.event.event_type().len() as u64)
        .expect("scenario generates");
    let seconds = started.elapsed().as_secs_f64();
    let events = sms.event_count();
    assert!(events >= target, "generated {events} < {target}");
    println!(
        "scenario: seed {} scale {scale}: {events} events in {seconds:.2} s",
        config.seed
    );
    println!(
        "rate: {:.0} events/s (decide + evolve, whole-SMS state; {} streams)",
        events as f64 / seconds,
        sms.streams().count()
    );
    std::hint::black_box(bytes);
}
