//! `custodia demo`: the first five minutes. Creates a ledger, loads the reference scenario
//! (GlobalLogistics' year) through the domain into it in scenario order, verifies it, prints
//! what a security manager looks at first, and with `--serve` serves it.

use crate::cli::{DataDir, DemoArgs, Location};
use crate::exit::{self, bad_input};
use crate::text::short;
use anyhow::Context as _;
use custodia_domain::scenario::{self, ScenarioConfig};
use custodia_domain::Timestamp;
use custodia_ledger::entry::Event;
use custodia_ledger::ledger::{InitOptions, Ledger};
use custodia_ledger::store::Store;
use custodia_ledger::writer::{AppendRequest, Expect};
use custodia_projections::kpi::{Board, MeanDuration, Ratio};
use custodia_projections::review::{Period, ReviewPack};
use custodia_projections::rows::{CorrectiveActionRow, RiskRow};
use custodia_projections::{Model, Projector};
use std::sync::Arc;

/// Risks shown in the summary.
const TOP_RISKS: usize = 5;
/// Corrective actions listed by name; the rest are counted.
const LIST_MAX: usize = 8;
/// The summary fits a 100-column terminal.
const WIDTH: usize = 99;

pub(crate) async fn run(args: DemoArgs) -> anyhow::Result<u8> {
    let data = &args.data;
    if super::holds_ledger(data).await? {
        println!(
            "{} already holds a ledger: showing it as it is",
            data.display()
        );
    } else {
        load(data).await?;
    }
    summarize(data).await?;
    if args.serve {
        let token = super::open_api_db(data)
            .await?
            .create(
                "user:demo@globallogistics.example",
                custodia_api::auth::Role::Admin,
            )
            .await?;
        println!("\nAPI token (admin, shown once): {}", token.secret);
        // The address is printed by `serve` once bound (port 0 picks one).
        println!("try: curl -H 'Authorization: Bearer <token>' <address>/v1/checkpoints/latest");
        return super::serve::serve(data, args.listen).await;
    }
    Ok(exit::OK)
}

/// Creates the ledger and appends the scenario's envelopes in their order.
async fn load(data: &DataDir) -> anyhow::Result<()> {
    let options = InitOptions {
        name: "globallogistics.example/sms".into(),
        actor: "user:root".into(),
        root_passphrase: None,
    };
    match data.location() {
        Location::Dir(dir) => {
            Ledger::init(&dir, &options).await.map_err(|e| {
                bad_input(format!(
                    "creating the demo ledger in {}: {e}",
                    dir.display()
                ))
            })?;
        }
        Location::Postgres(url) => {
            super::create_on_postgres(&url, data, &options).await?;
        }
    }
    println!(
        "created a ledger in {} (keys in {})",
        data.display(),
        data.key_dir().display()
    );
    let envelopes = scenario::generate(ScenarioConfig::demo())
        .map_err(|e| anyhow::anyhow!("the reference scenario failed to generate: {e}"))?;
    let ledger = super::open_ledger(data).await?;
    let bar = crate::progress::entries(envelopes.len() as u64, "loading");
    // One at a time, in scenario order: `Expect::Exact` would refuse anything out of place,
    // and a few thousand durable commits take seconds. (Submitting many at once through a
    // buffered stream was tried and did not keep the order into the writer's queue.)
    for envelope in &envelopes {
        let event = Event::from_owned(envelope.to_json())?;
        let request = AppendRequest {
            event,
            attestation: None,
            expect: Expect::Exact,
        };
        let stream = envelope.stream.to_string();
        ledger
            .append(request)
            .await
            .with_context(|| format!("loading the scenario: {stream} v{}", envelope.version))?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    ledger.checkpoint().await.context("signing a checkpoint")?;
    println!(
        "loaded {} scenario events through the domain",
        envelopes.len()
    );
    Ok(())
}

/// Verifies the ledger and prints the security manager's first look, from the read models
/// folded from the ledger itself (not from the generator), as of its latest event.
async fn summarize(data: &DataDir) -> anyhow::Result<()> {
    let store = super::open_store(data).await?;
    let report = custodia_ledger::bundle::verify_store(&*store, None, &|_| {}).await?;
    if report.violation_count > 0 {
        anyhow::bail!(
            "the ledger does not verify: {} violations; run `custodia verify`",
            report.violation_count
        );
    }
    let store: Arc<dyn Store> = store.into_arc();
    let projector = super::fold(store.clone()).await?;
    let model = projector.current();
    let at = model
        .position()
        .max_occurred
        .filter(|_| model.event_count() > 0)
        .ok_or_else(|| bad_input(format!("{} holds no SMS events", data.display())))?;
    println!(
        "\nGlobalLogistics SMS as of {at} (ledger size {})",
        model.position().size
    );
    print_risks(model);
    print_actions(model, at);
    print_board(&Board::compute(model, at));
    print_pack(&projector).await?;
    let sizes = store.checkpoint_sizes().await?;
    if let Some(size) = sizes.last() {
        let note = store.checkpoint(*size).await?.unwrap_or_default();
        println!("\nlatest checkpoint (size {size}):\n{note}");
    }
    println!("verified {} entries", report.entries);
    Ok(())
}

fn print_risks(model: &Model) {
    let mut risks: Vec<&RiskRow> = model
        .risks
        .values()
        .map(|r| &**r)
        .filter(|r| r.closed.is_none() && r.current_rating().is_some())
        .collect();
    let score = |r: &RiskRow| r.current_rating().map_or(0, |x| x.score);
    risks.sort_by(|a, b| score(b).cmp(&score(a)).then(a.meta.id.cmp(&b.meta.id)));
    println!("\ntop risks (current rating: residual where assessed, else inherent):");
    for r in risks.iter().take(TOP_RISKS) {
        if let Some(rating) = r.current_rating() {
            let line = format!(
                "  {:<10} score {:>2}  {:<8}  {}",
                r.meta.id.as_str(),
                rating.score,
                rating.rating.as_str(),
                r.title.as_str()
            );
            println!("{}", short(&line, WIDTH));
        }
    }
}

fn print_actions(model: &Model, at: Timestamp) {
    let mut open: Vec<&CorrectiveActionRow> = model
        .corrective_actions
        .values()
        .map(|a| &**a)
        .filter(|a| a.open())
        .collect();
    open.sort_by(|a, b| a.meta.id.cmp(&b.meta.id));
    let overdue = open.iter().filter(|a| a.overdue(at)).count();
    println!(
        "\ncorrective actions: {} open, {overdue} overdue",
        open.len()
    );
    let notable: Vec<String> = open
        .iter()
        .filter(|a| a.overdue(at) || a.verifications.iter().any(|(_, ok)| !ok))
        .map(|a| {
            let late = if a.overdue(at) { "overdue" } else { "" };
            let again = if a.verifications.iter().any(|(_, ok)| !ok) {
                "reopened after an ineffective verification"
            } else {
                ""
            };
            let due = a.due.to_string();
            format!(
                "  {:<10} due {}  {late:<7} {again}",
                a.meta.id.as_str(),
                &due[..10]
            )
        })
        .collect();
    for line in notable.iter().take(LIST_MAX) {
        println!("{}", line.trim_end());
    }
    if notable.len() > LIST_MAX {
        println!("  … and {} more", notable.len() - LIST_MAX);
    }
}

fn ratio(r: &Ratio) -> String {
    match r.percent() {
        Some(p) => format!("{}/{} ({p} %)", r.numerator, r.denominator),
        None => "n/a".into(),
    }
}

fn hours(d: &MeanDuration) -> String {
    match d.mean_seconds {
        Some(s) => format!("{:.1} h ({} incidents)", s as f64 / 3600.0, d.incidents),
        None => "n/a".into(),
    }
}

fn mean_hours(d: &MeanDuration) -> String {
    d.mean_seconds
        .map_or("n/a".into(), |s| format!("{:.1} h", s as f64 / 3600.0))
}

fn bands(counts: &std::collections::BTreeMap<String, u64>) -> String {
    if counts.is_empty() {
        return "none".into();
    }
    let parts: Vec<String> = counts.iter().map(|(b, n)| format!("{b} {n}")).collect();
    parts.join(", ")
}

/// The sum of several ratios of `what`, and the lowest of them by share.
fn overall(map: &std::collections::BTreeMap<String, Ratio>, what: &str) -> String {
    let total = map.values().fold(Ratio::default(), |t, r| {
        Ratio::new(t.numerator + r.numerator, t.denominator + r.denominator)
    });
    let lowest = map
        .iter()
        .filter(|(_, r)| r.denominator > 0)
        .min_by_key(|(_, r)| (r.numerator * 1000 / r.denominator, r.denominator));
    match lowest {
        Some((name, r)) if map.len() > 1 => format!(
            "{} over {} {what}; lowest {name} {}",
            ratio(&total),
            map.len(),
            ratio(r)
        ),
        Some((name, _)) => format!("{} ({name})", ratio(&total)),
        None => format!("n/a (no {what})"),
    }
}

/// The KPI board of `custodia-projections`, one line per KPI.
fn print_board(b: &Board) {
    println!("\nKPI board:");
    let months: std::collections::BTreeMap<&str, u64> =
        b.incidents_per_month
            .iter()
            .fold(Default::default(), |mut m, c| {
                *m.entry(c.month.as_str()).or_default() += c.count;
                m
            });
    let all: u64 = months.values().sum();
    let recent: Vec<String> = months
        .iter()
        .rev()
        .take(3)
        .rev()
        .map(|(m, n)| format!("{m}: {n}"))
        .collect();
    let lines = [
        format!(
            "incidents per month (latest 3): {} ({all} in all)",
            recent.join(", ")
        ),
        format!(
            "mean time to contain {}, to close {}",
            hours(&b.mean_time_to_contain),
            hours(&b.mean_time_to_close)
        ),
        format!(
            "open risks by inherent band: {}",
            bands(&b.risks_by_rating.inherent)
        ),
        format!(
            "open risks by residual band: {}",
            bands(&b.risks_by_rating.residual)
        ),
        format!(
            "high risks with a treatment: {}",
            ratio(&b.high_risks_treated)
        ),
        format!(
            "reviews overdue: {} risks, {} obligations, {} management reviews",
            b.reviews_overdue.risks, b.reviews_overdue.obligations, b.reviews_overdue.management
        ),
        format!(
            "nonconformities open {}; actions open {}, overdue {}; on time {}; effective {}",
            b.capa.open_nonconformities,
            b.capa.open_actions,
            b.capa.overdue_actions,
            ratio(&b.capa.on_time),
            ratio(&b.capa.effectiveness)
        ),
        format!(
            "objectives: {} on track, {} off track, {} not measured, {} achieved",
            b.objectives.on_track,
            b.objectives.off_track,
            b.objectives.not_measured,
            b.objectives.achieved
        ),
        format!(
            "supplier screening coverage: {}",
            ratio(&b.supplier_screening)
        ),
        format!(
            "training coverage: {}",
            overall(&b.training_coverage, "roles")
        ),
        format!(
            "policy acknowledgement: {}",
            overall(&b.policy_acknowledgement, "policies")
        ),
        format!("audit programme completion: {}", ratio(&b.audit_completion)),
    ];
    for line in lines {
        println!("{}", short(&format!("  {line}"), WIDTH));
    }
}

/// An excerpt of the latest management review's pack (clause 9.3 inputs): assembled as of
/// the tree size its inputs were sealed at when they were (what management saw), else now.
async fn print_pack(projector: &Projector) -> anyhow::Result<()> {
    let model = projector.current();
    let Some(review) = model
        .reviews
        .values()
        .max_by(|a, b| (a.period_end, &a.meta.id).cmp(&(b.period_end, &b.meta.id)))
    else {
        println!("\nno management review yet");
        return Ok(());
    };
    let sealed = review
        .sealed
        .as_ref()
        .map(|s| s.0)
        .filter(|size| *size > 0 && *size <= projector.size());
    let seen = match sealed {
        Some(size) => projector.as_of_size(size).await?,
        None => model.clone(),
    };
    let period = Period {
        start: review.period_start,
        end: review.period_end,
    };
    let p = ReviewPack::assemble(&seen, period);
    let basis = match sealed {
        Some(size) => format!("inputs sealed at ledger size {size}"),
        None => "inputs not sealed yet: as of now".into(),
    };
    let day = |t: Timestamp| t.to_string()[..10].to_owned();
    println!(
        "\nlatest management review pack (excerpt): {}, period {} to {}",
        review.meta.id.as_str(),
        day(period.start),
        day(period.end)
    );
    println!("  {basis}");
    let past_due = p.previous_actions.iter().filter(|a| a.past_due).count();
    let c = &p.capa;
    let (track, _) = &p.objectives;
    let lines = [
        format!(
            "actions from previous reviews: {} ({past_due} past due); context changes: {}",
            p.previous_actions.len(),
            p.context_changes.len()
        ),
        format!(
            "nonconformities: {} raised, {} closed; at the end {} open, actions {} open ({} overdue)",
            c.raised,
            c.closed,
            c.at_end.open_nonconformities,
            c.at_end.open_actions,
            c.at_end.overdue_actions
        ),
        format!(
            "objectives: {} on track, {} off track, {} not measured, {} achieved",
            track.on_track, track.off_track, track.not_measured, track.achieved
        ),
        format!(
            "audits conducted: {}; open findings {}; programme completion {}",
            p.audits.conducted.len(),
            p.audits.open_findings,
            ratio(&p.audits.completion)
        ),
        format!(
            "incidents: {} in period; mean time to contain {}, to close {} (all to date)",
            p.incidents.total,
            mean_hours(&p.incidents.time_to_contain),
            mean_hours(&p.incidents.time_to_close)
        ),
        format!(
            "risks: {} identified in period; treatments {} open, {} overdue; high risks treated {}",
            p.risks.identified,
            p.risks.treatments_open,
            p.risks.treatments_overdue,
            ratio(&p.risks.high_treated)
        ),
        format!(
            "suppliers: screening {}; mean assessment score {}",
            ratio(&p.suppliers.screening),
            p.suppliers
                .mean_score
                .map_or("n/a".into(), |s| s.to_string())
        ),
        format!(
            "improvements recorded: {}; audit findings graded opportunity: {}",
            p.improvements.recorded.len(),
            p.improvements.audit_opportunities
        ),
        format!("pack digest (SHA-256): {}", p.digest()?),
    ];
    for line in lines {
        println!("{}", short(&format!("  {line}"), WIDTH));
    }
    Ok(())
}
