//! Prints the reference scenario's event mix:
//! `cargo run -p custodia-domain --example scenario -- [seed] [scale]`.
//! With `SCENARIO_JSON=1` it prints the envelopes instead, one ledger event object a line.

use custodia_domain::scenario::{generate, ScenarioConfig};
use std::collections::BTreeMap;
use std::io::Write;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let seed = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(ScenarioConfig::demo().seed);
    let scale = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let started = Instant::now();
    let envelopes = match generate(ScenarioConfig { seed, scale }) {
        Ok(envelopes) => envelopes,
        Err(e) => {
            eprintln!("generation failed: {e}");
            std::process::exit(1);
        }
    };
    let elapsed = started.elapsed();
    if std::env::var_os("SCENARIO_JSON").is_some() {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        // A closed pipe (`| head`) ends the output quietly.
        let _closed = envelopes
            .iter()
            .try_for_each(|e| writeln!(out, "{}", e.to_json()))
            .and_then(|()| out.flush());
        return;
    }
    let mut by_type: BTreeMap<&str, u64> = BTreeMap::new();
    for e in &envelopes {
        *by_type.entry(e.event.event_type()).or_default() += 1;
    }
    for (t, n) in &by_type {
        println!("{n:>8}  {t}");
    }
    println!(
        "{} events, {} types, in {:.3} s",
        envelopes.len(),
        by_type.len(),
        elapsed.as_secs_f64()
    );
}
