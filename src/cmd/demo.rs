//! `custodia demo`: the first five minutes. Creates a ledger, loads the reference scenario
//! (GlobalLogistics' year) through the domain into it in scenario order, verifies it, prints
//! what a security manager looks at first, and with `--serve` serves it.

use crate::exit::{self, bad_input};
use anyhow::Context as _;
use clap::Args;
use custodia_domain::scenario::{self, ScenarioConfig};
use custodia_domain::{Body, CaStatus, IncidentStatus, Sms, StreamKind, Timestamp};
use custodia_ledger::entry::Event;
use custodia_ledger::ledger::{parse_row, InitOptions, Ledger, DB_FILE, READ_ROWS_MAX};
use custodia_ledger::writer::{AppendRequest, Expect};
use std::net::SocketAddr;
use std::path::Path;

/// Risks shown in the summary.
const TOP_RISKS: usize = 5;

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    #[command(flatten)]
    data: crate::cli::DataDir,
    /// Serve the demo ledger over HTTP afterwards.
    #[arg(long)]
    serve: bool,
    /// Address to serve on, with --serve.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
}

pub(crate) async fn run(args: DemoArgs) -> anyhow::Result<u8> {
    let dir = &args.data.path;
    if dir.join(DB_FILE).exists() {
        println!(
            "{} already holds a ledger: showing it as it is",
            dir.display()
        );
    } else {
        load(dir).await?;
    }
    summarize(dir).await?;
    if args.serve {
        let token = custodia_api::auth::ApiDb::open(dir)
            .await?
            .create(
                "user:demo@globallogistics.example",
                custodia_api::auth::Role::Admin,
            )
            .await?;
        println!("\nAPI token (admin, shown once): {}", token.secret);
        // The address is printed by `serve` once bound (port 0 picks one).
        println!("try: curl -H 'Authorization: Bearer <token>' <address>/v1/checkpoints/latest");
        return super::serve::serve(&args.data, args.listen).await;
    }
    Ok(exit::OK)
}

/// Creates the ledger and appends the scenario's envelopes in their order.
async fn load(dir: &Path) -> anyhow::Result<()> {
    let options = InitOptions {
        name: "globallogistics.example/sms".into(),
        actor: "user:root".into(),
        root_passphrase: None,
    };
    Ledger::init(dir, &options).await.map_err(|e| {
        bad_input(format!(
            "creating the demo ledger in {}: {e}",
            dir.display()
        ))
    })?;
    println!(
        "created a ledger in {} (keys in {}/keys)",
        dir.display(),
        dir.display()
    );
    let envelopes = scenario::generate(ScenarioConfig::demo())
        .map_err(|e| anyhow::anyhow!("the reference scenario failed to generate: {e}"))?;
    let ledger = super::open_ledger(&dir_of(dir)).await?;
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

/// The demo keeps its ledger in a data directory.
fn dir_of(dir: &Path) -> crate::cli::DataDir {
    crate::cli::DataDir {
        path: dir.to_owned(),
        keys: None,
    }
}

/// Verifies the ledger and prints the security manager's first look, folded from the ledger
/// itself (not from the generator), as of its last event.
async fn summarize(dir: &Path) -> anyhow::Result<()> {
    let store = super::open_store(&dir_of(dir)).await?;
    let report = custodia_ledger::bundle::verify_store(&*store, None, &|_| {}).await?;
    if report.violation_count > 0 {
        anyhow::bail!(
            "the ledger does not verify: {} violations; run `custodia verify`",
            report.violation_count
        );
    }
    let sms = fold(&*store).await?;
    let at = sms
        .streams()
        .filter_map(|(_, s)| s.last_occurred_at())
        .max()
        .ok_or_else(|| bad_input(format!("{} holds no SMS events", dir.display())))?;
    println!("\nGlobalLogistics SMS as of {at}");
    print_risks(&sms);
    print_actions(&sms, at);
    print_board(&sms, at);
    let sizes = store.checkpoint_sizes().await?;
    if let Some(size) = sizes.last() {
        let note = store.checkpoint(*size).await?.unwrap_or_default();
        println!("\nlatest checkpoint (size {size}):\n{note}");
    }
    println!("verified {} entries", report.entries);
    store.close().await;
    Ok(())
}

async fn fold(store: &dyn custodia_ledger::store::Store) -> anyhow::Result<Sms> {
    let mut sms = Sms::new();
    let mut from = 0;
    loop {
        let rows = store.read(from, READ_ROWS_MAX).await?;
        for row in &rows {
            if let Some(envelope) = custodia_api::sms::envelope_of(&parse_row(row)?) {
                sms.apply(&envelope);
            }
        }
        if rows.len() < READ_ROWS_MAX as usize {
            return Ok(sms);
        }
        from += rows.len() as u64;
    }
}

fn print_risks(sms: &Sms) {
    let mut risks: Vec<(String, u32, String)> = sms
        .streams()
        .filter_map(|(id, s)| match s.body() {
            Body::Risk(r) if !r.is_closed() => {
                let rating = r.residual().or(r.inherent())?;
                Some((id.id().to_string(), rating.score, rating.rating.to_string()))
            }
            _ => None,
        })
        .collect();
    risks.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    println!("\ntop risks (current rating, residual where rated):");
    for (id, score, band) in risks.iter().take(TOP_RISKS) {
        println!("  {id:<10} score {score:>2}  {band}");
    }
}

fn print_actions(sms: &Sms, at: Timestamp) {
    let mut open = Vec::new();
    for (id, s) in sms.streams() {
        if let Body::CorrectiveAction(ca) = s.body() {
            if matches!(ca.status(), CaStatus::Open | CaStatus::Completed) {
                open.push((id.id().to_string(), ca.overdue(at), ca.reopened()));
            }
        }
    }
    open.sort();
    let overdue = open.iter().filter(|o| o.1).count();
    println!(
        "\ncorrective actions: {} open, {overdue} overdue",
        open.len()
    );
    for (id, late, reopened) in open.iter().filter(|o| o.1 || o.2 > 0) {
        let late = if *late { "overdue" } else { "" };
        let again = if *reopened > 0 {
            "reopened after an ineffective verification"
        } else {
            ""
        };
        println!("  {id:<10} {late} {again}");
    }
}

/// A small board of counts from the SMS state; the KPI board and review pack proper come from
/// the projections crate once the API serves them.
fn print_board(sms: &Sms, at: Timestamp) {
    let count = |kind: StreamKind| sms.streams().filter(|(id, _)| id.kind() == kind).count();
    let open_incidents = sms
        .streams()
        .filter(|(_, s)| matches!(s.body(), Body::Incident(i) if !matches!(i.status(), IncidentStatus::Closed)))
        .count();
    let due = sms
        .streams()
        .filter(|(_, s)| matches!(s.body(), Body::Risk(r) if r.review_due(at)))
        .count();
    println!("\nat a glance:");
    println!("  risks {} ({due} due for review)", count(StreamKind::Risk));
    println!(
        "  incidents {} ({open_incidents} open)",
        count(StreamKind::Incident)
    );
    println!("  nonconformities {}", count(StreamKind::Nonconformity));
    println!("  suppliers {}", count(StreamKind::Supplier));
    println!(
        "  audits {}, management reviews {}",
        count(StreamKind::Audit),
        count(StreamKind::Review)
    );
    println!("  events {}", sms.event_count());
}
