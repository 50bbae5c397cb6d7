//! `custodia verify` and `custodia export`.

use crate::cli::{DataDir, ExportArgs, VerifyArgs};
use crate::exit::{self, as_input};
use crate::progress;
use crate::text::hex;
use anyhow::Context as _;
use custodia_ledger::bundle;
use custodia_ledger::store::Store;
use custodia_ledger::verify::Report;
use indicatif::ProgressBar;
use std::path::Path;

/// Violations printed in text mode; the summary line always gives the total.
const VIOLATIONS_SHOWN_MAX: usize = 100;

pub(crate) async fn run(args: VerifyArgs) -> anyhow::Result<u8> {
    let trusted = args
        .trusted_checkpoint
        .as_deref()
        .map(bundle::read_trusted)
        .transpose()
        .map_err(as_input)?;
    let report = match (&args.data, &args.bundle) {
        (Some(path), _) => {
            let data = DataDir {
                path: path.clone(),
                keys: None,
            };
            verify_store(&data, trusted.as_deref()).await?
        }
        (None, Some(dir)) => verify_bundle(dir, trusted.as_deref())?,
        (None, None) => return Err(exit::bad_input("give --data DIR or --bundle DIR")),
    };
    if args.json {
        println!("{}", report_json(&report));
    } else {
        print_report(&report);
    }
    Ok(if report.is_ok() {
        exit::OK
    } else {
        exit::VIOLATIONS
    })
}

async fn verify_store(data: &DataDir, trusted: Option<&str>) -> anyhow::Result<Report> {
    let store = super::open_store(data).await?;
    let bar = whole_ledger_bar(&*store, "verifying").await?;
    let report = bundle::verify_store(&*store, trusted, &|n| bar.set_position(n))
        .await
        .with_context(|| format!("verifying the ledger in {}", data.display()))?;
    bar.finish_and_clear();
    store.close().await;
    Ok(report)
}

fn verify_bundle(dir: &Path, trusted: Option<&str>) -> anyhow::Result<Report> {
    if !dir.is_dir() {
        return Err(exit::bad_input(format!(
            "{} is not a bundle directory",
            dir.display()
        )));
    }
    let bar = match manifest_entries(dir) {
        Some(total) => progress::entries(total, "verifying"),
        None => progress::spinner("verifying"),
    };
    let report = bundle::verify_bundle(dir, trusted, &|n| bar.set_position(n))
        .with_context(|| format!("verifying the bundle in {}", dir.display()))?;
    bar.finish_and_clear();
    Ok(report)
}

/// The manifest's entry count, only to size the progress bar (the verifier checks it).
fn manifest_entries(dir: &Path) -> Option<u64> {
    let text = std::fs::read(dir.join("manifest.json")).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&text).ok()?;
    value.get("entries")?.as_u64()
}

fn print_report(report: &Report) {
    for v in report.violations.iter().take(VIOLATIONS_SHOWN_MAX) {
        println!("{v}");
    }
    if report.violation_count > VIOLATIONS_SHOWN_MAX as u64 {
        println!(
            "… {} more violations not shown (use --json for the first {})",
            report.violation_count - VIOLATIONS_SHOWN_MAX as u64,
            report.violations.len()
        );
    }
    if report.is_ok() {
        let trusted = match report.trusted_consistent {
            Some(true) => ", consistent with the trusted checkpoint",
            _ => "",
        };
        println!(
            "verified {} entries, root {}, {} checkpoints{trusted}",
            report.entries,
            hex(&report.root),
            report.checkpoints_verified
        );
    } else {
        println!(
            "FAILED: {} violations in {} entries",
            report.violation_count, report.entries
        );
    }
}

fn report_json(report: &Report) -> serde_json::Value {
    let violations: Vec<_> = report
        .violations
        .iter()
        .map(|v| {
            serde_json::json!({
                "seq": v.seq,
                "rule": v.rule.to_string(),
                "message": v.message,
            })
        })
        .collect();
    serde_json::json!({
        "ok": report.is_ok(),
        "ledger": report.ledger,
        "entries": report.entries,
        "root": hex(&report.root),
        "checkpoints_verified": report.checkpoints_verified,
        "trusted_consistent": report.trusted_consistent,
        "violation_count": report.violation_count,
        "violations": violations,
    })
}

pub(crate) async fn export(args: ExportArgs) -> anyhow::Result<u8> {
    let store = super::open_store(&args.data).await?;
    let bar = whole_ledger_bar(&*store, "exporting").await?;
    let summary = bundle::export(&*store, &args.out, &|n| bar.set_position(n))
        .await
        .with_context(|| format!("exporting to {}", args.out.display()))?;
    bar.finish_and_clear();
    store.close().await;
    println!(
        "exported {} entries and {} checkpoints to {}",
        summary.entries,
        summary.checkpoints,
        args.out.display()
    );
    for file in ["entries.jsonl", "checkpoints/", "manifest.json"] {
        println!("  {}", args.out.join(file).display());
    }
    println!(
        "verify it anywhere with: custodia verify --bundle {}",
        args.out.display()
    );
    Ok(exit::OK)
}

/// A progress bar counting up to the ledger's size in `store`.
async fn whole_ledger_bar(store: &dyn Store, verb: &str) -> anyhow::Result<ProgressBar> {
    let total = store
        .head()
        .await
        .context("reading the ledger's head")?
        .size;
    Ok(progress::entries(total, verb))
}
