//! `custodia replay`: the registers as they stood at a date, folded from the ledger by
//! `custodia-projections`: as of a transaction time (what the system knew then), valid at a
//! business time (what was true then), or both. Read-only: opens the store, needs no key.

use crate::exit::{self, bad_input};
use anyhow::Context as _;
use clap::builder::PossibleValuesParser;
use clap::Args;
use custodia_api::read_models::REGISTERS;
use custodia_domain::Timestamp;
use custodia_ledger::store::Store;
use custodia_projections::rows::RegisterRow;
use custodia_projections::{Model, Projector, ProjectorConfig, SnapshotStore, Table};
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// Tables fit a 100-column terminal: owners are cut to this width, and the title (the last
/// column) gets what is left of the line, but at least `TITLE_WIDTH_MIN`.
const LINE_WIDTH: usize = 100;
const OWNER_WIDTH: usize = 24;
const TITLE_WIDTH_MIN: usize = 16;

#[derive(Debug, Args)]
#[command(group(
    clap::ArgGroup::new("time").required(true).multiple(true).args(["as_of", "valid_at"])
))]
pub(crate) struct ReplayArgs {
    #[command(flatten)]
    pub(crate) data: crate::cli::DataDir,
    /// Transaction time: the registers as the ledger knew them then (entries recorded by DATE).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub(crate) as_of: Option<Timestamp>,
    /// Business time: what was true then (events that happened by DATE), as known now or, with
    /// --as-of, as known at that time.
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub(crate) valid_at: Option<Timestamp>,
    /// A register to print (repeatable); default: every register.
    #[arg(long = "register", value_name = "NAME", value_parser = PossibleValuesParser::new(REGISTERS))]
    pub(crate) registers: Vec<String>,
    /// At most this many rows per register (by id); default: all.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) limit: Option<u64>,
    /// Print one JSON document (every row in full) instead of tables.
    #[arg(long)]
    pub(crate) json: bool,
}

/// A date argument: RFC 3339, or `YYYY-MM-DD` for the end of that day in UTC (the last
/// microsecond), so that a plain date includes everything that happened on it; read as the API
/// reads `as_of` and `valid_at`.
pub(crate) fn parse_date(text: &str) -> Result<Timestamp, String> {
    custodia_api::read_models::parse_instant(text)
}

/// One register row as printed.
struct Line {
    id: String,
    status: &'static str,
    owner: Option<String>,
    due: Option<Timestamp>,
    tags: Vec<String>,
    title: Option<String>,
    row: Value,
}

/// One register as printed: its rows by id, how many there are in all.
struct Register {
    name: &'static str,
    total: usize,
    lines: Vec<Line>,
}

pub(crate) async fn run(args: ReplayArgs) -> anyhow::Result<u8> {
    let store: Arc<dyn Store> = super::open_store(&args.data).await?.into_arc();
    let genesis = store
        .read(0, 1)
        .await
        .context("reading the genesis entry")?
        .into_iter()
        .next()
        .ok_or_else(|| bad_input(format!("{} holds no entries", args.data.display())))?;
    refuse_before_genesis(&args, genesis.recorded_at_micros)?;
    let snapshots = SnapshotStore::in_memory()
        .await
        .context("preparing snapshots")?;
    let projector = Projector::open(store.clone(), snapshots, ProjectorConfig::default())
        .await
        .context("folding the ledger into the registers")?;
    let model = match (args.as_of, args.valid_at) {
        (Some(a), None) => projector.as_of(a).await,
        (None, Some(v)) => projector.valid_at(v).await,
        (Some(a), Some(v)) => projector.valid_at_as_of(v, a).await,
        // clap requires one of the two; this answers rather than panics all the same.
        (None, None) => return Err(bad_input("give --as-of DATE or --valid-at DATE")),
    }
    .context("replaying the ledger")?;
    // Statuses such as `overdue` are computed at the business date when one is given.
    let at = args.valid_at.or(args.as_of).unwrap_or(Timestamp::MAX);
    let size = model.position().size;
    let last = match size {
        0 => None,
        n => store.read(n - 1, 1).await?.into_iter().next(),
    };
    let names: Vec<&'static str> = if args.registers.is_empty() {
        REGISTERS.to_vec()
    } else {
        REGISTERS
            .iter()
            .copied()
            .filter(|r| args.registers.iter().any(|a| a == r))
            .collect()
    };
    let registers: Vec<Register> = names
        .iter()
        .map(|name| register(&model, name, at, args.limit))
        .collect::<anyhow::Result<_>>()?;
    let recorded = last
        .as_ref()
        .and_then(|r| Timestamp::from_micros(r.recorded_at_micros));
    if args.json {
        print_json(&args, &model, recorded, at, &registers);
    } else {
        print_tables(&args, &model, recorded, at, &registers, names.len() > 1);
    }
    Ok(exit::OK)
}

/// A transaction time before the ledger began is a mistake, not an empty answer. (A business
/// time before any event is a fair question: history may be imported back-dated, so the
/// registers are simply empty then.)
fn refuse_before_genesis(args: &ReplayArgs, recorded_micros: i64) -> anyhow::Result<()> {
    if let Some(a) = args.as_of.filter(|a| a.micros() < recorded_micros) {
        let genesis = Timestamp::from_micros(recorded_micros)
            .map_or(recorded_micros.to_string(), |t| t.to_string());
        return Err(bad_input(format!(
            "--as-of {a} is before the ledger began: its genesis entry was recorded at {genesis}"
        )));
    }
    Ok(())
}

fn register(
    model: &Model,
    name: &'static str,
    at: Timestamp,
    limit: Option<u64>,
) -> anyhow::Result<Register> {
    macro_rules! registers {
        ($($field:ident),*) => {
            match name {
                $(stringify!($field) => lines(&model.$field, at, limit)?,)*
                other => anyhow::bail!("register {other} has no table here"),
            }
        };
    }
    let (total, lines) = registers!(
        obligations,
        policies,
        roles,
        risks,
        objectives,
        documents,
        controls,
        suppliers,
        incidents,
        audits,
        reviews,
        nonconformities,
        corrective_actions,
        parties,
        changes,
        communications,
        plans,
        assessments
    );
    Ok(Register { name, total, lines })
}

/// The rows of a table by id, at most `limit`, with the generic register fields.
fn lines<T: RegisterRow + Serialize>(
    table: &Table<T>,
    at: Timestamp,
    limit: Option<u64>,
) -> anyhow::Result<(usize, Vec<Line>)> {
    let mut rows: Vec<&T> = table.values().map(|r| &**r).collect();
    rows.sort_by(|a, b| a.id().cmp(b.id()));
    let total = rows.len();
    let lines = rows
        .into_iter()
        .take(limit.map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX)))
        .map(|r| {
            let row = serde_json::to_value(r).context("encoding a row")?;
            // Registers name their records differently; a corrective action by its
            // nonconformity.
            let title = ["title", "name", "subject", "statement", "description"]
                .iter()
                .find_map(|k| row.get(*k).and_then(Value::as_str))
                .map(str::to_owned)
                .or_else(|| {
                    let nc = row.get("nonconformity").and_then(Value::as_str)?;
                    Some(format!("corrects {nc}"))
                });
            Ok(Line {
                id: r.id().to_owned(),
                status: r.status(at),
                owner: r.owner().map(|o| o.as_str().to_owned()),
                due: r.due(),
                tags: r.tags().into_iter().map(str::to_owned).collect(),
                title,
                row,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    Ok((total, lines))
}

fn print_json(
    args: &ReplayArgs,
    model: &Model,
    recorded: Option<Timestamp>,
    at: Timestamp,
    registers: &[Register],
) {
    let mut out = serde_json::Map::new();
    for r in registers {
        let rows: Vec<Value> = r
            .lines
            .iter()
            .map(|l| {
                let mut row = l.row.clone();
                if let Value::Object(m) = &mut row {
                    m.insert("status".into(), json!(l.status));
                }
                row
            })
            .collect();
        out.insert(r.name.into(), json!({"total": r.total, "rows": rows}));
    }
    let position = model.position();
    let doc = json!({
        "as_of": args.as_of,
        "valid_at": args.valid_at,
        "statuses_at": at,
        "tree_size": position.size,
        "last_hash": position.last_hash,
        "last_recorded_at": recorded,
        "registers": out,
    });
    println!("{doc:#}");
}

fn print_tables(
    args: &ReplayArgs,
    model: &Model,
    recorded: Option<Timestamp>,
    at: Timestamp,
    registers: &[Register],
    skip_empty: bool,
) {
    let when = match (args.as_of, args.valid_at) {
        (Some(a), None) => format!("as of {a} (what the ledger knew then)"),
        (None, Some(v)) => format!("valid at {v} (what was true then, as known now)"),
        (Some(a), Some(v)) => format!("valid at {v}, as known at {a}"),
        (None, None) => String::new(),
    };
    let p = model.position();
    println!("registers {when}");
    match (p.size, recorded) {
        (0, _) => println!("ledger size 0: no entry"),
        (n, Some(r)) => {
            println!("ledger size {n}: seq 0 to {}, the last recorded {r}", n - 1);
            println!("last entry hash {}", p.last_hash);
        }
        (n, None) => println!("ledger size {n}"),
    }
    println!("statuses computed at {at}");
    let mut empty = Vec::new();
    for r in registers {
        if r.total == 0 && skip_empty {
            empty.push(r.name);
            continue;
        }
        print_table(r);
    }
    if !empty.is_empty() {
        println!("\nempty: {}", empty.join(", "));
    }
}

fn print_table(r: &Register) {
    let rows = if r.total == 1 { "row" } else { "rows" };
    let shown = if r.lines.len() < r.total {
        format!("{} {rows}, first {} by id", r.total, r.lines.len())
    } else {
        format!("{} {rows}", r.total)
    };
    println!("\n{} ({shown})", r.name.replace('_', " "));
    if r.lines.is_empty() {
        println!("  (none)");
        return;
    }
    let header = ["id", "status", "owner", "due", "tags", "title"];
    let cells: Vec<[String; 6]> = r
        .lines
        .iter()
        .map(|l| {
            [
                l.id.clone(),
                l.status.to_owned(),
                short(l.owner.as_deref().unwrap_or("-"), OWNER_WIDTH),
                l.due.map_or("-".into(), |d| d.to_string()[..10].to_owned()),
                l.tags.join(" "),
                l.title.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    // The title comes last and gets what is left of the line.
    let used: usize = 2 + widths[..5].iter().map(|w| w + 1).sum::<usize>();
    let title_width = LINE_WIDTH.saturating_sub(used).max(TITLE_WIDTH_MIN);
    let print = |row: &[String]| {
        let mut text = String::from(" ");
        for (i, (c, w)) in row.iter().zip(widths).enumerate() {
            text.push(' ');
            if i + 1 == row.len() {
                text.push_str(&short(c, title_width));
            } else {
                text.push_str(c);
                text.push_str(&" ".repeat(w.saturating_sub(c.chars().count())));
            }
        }
        println!("{}", text.trim_end());
    };
    print(&header.map(str::to_owned));
    for row in &cells {
        print(row);
    }
}

/// `text` cut to `width` characters, with an ellipsis when cut.
pub(crate) fn short(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_date_is_the_end_of_that_day_in_utc() {
        let t = parse_date("2026-03-15").unwrap();
        assert_eq!(t.to_string(), "2026-03-15T23:59:59.999999Z");
        let t = parse_date("2026-03-15T10:00:00+02:00").unwrap();
        assert_eq!(t.to_string(), "2026-03-15T08:00:00.000000Z");
        for bad in [
            "2026-02-30",
            "2026-13-01",
            "15/03/2026",
            "2026-03-15T25:00:00Z",
            "",
        ] {
            assert!(parse_date(bad).is_err(), "{bad} was accepted");
        }
    }

    proptest::proptest! {
        /// Any instant in the ledger's form reads back as itself, and its calendar date alone
        /// means the last microsecond of that day: never before the instant, and before the
        /// next day begins.
        #[test]
        fn a_date_covers_every_instant_of_its_day(micros in -62_135_596_800_000_000i64..253_402_214_400_000_000) {
            let t = Timestamp::from_micros(micros).unwrap();
            let text = t.to_string();
            proptest::prop_assert_eq!(parse_date(&text).unwrap(), t);
            let end = parse_date(&text[..10]).unwrap();
            proptest::prop_assert!(end >= t);
            proptest::prop_assert!(end.micros() - t.micros() < 86_400_000_000);
            proptest::prop_assert_eq!(&end.to_string()[..10], &text[..10]);
        }
    }

    #[test]
    fn short_cuts_on_characters_not_bytes() {
        assert_eq!(short("Zürich hub", 20), "Zürich hub");
        assert_eq!(short("Zürich hub", 4), "Zür…");
    }
}
