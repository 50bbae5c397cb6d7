//! The projector on a real SQLite ledger: bitemporal queries on a back-dated report, live
//! following, and a sealed review pack that still proves itself after the ledger grew.

use custodia_domain::*;
use custodia_ledger::ledger::{InitOptions, Ledger};
use custodia_ledger::time::Timestamp as LedgerTime;
use custodia_ledger::writer::{AppendRequest, Expect};
use custodia_projections::review::{Period, ReviewPack};
use custodia_projections::{seal, Error, Projector, ProjectorConfig, SnapshotStore};
use std::sync::Arc;

const DAY: i64 = 86_400_000_000;

fn now() -> Timestamp {
    Timestamp::from_micros(LedgerTime::now().micros()).unwrap()
}

fn id(s: &str) -> RecordId {
    RecordId::new(s).unwrap()
}

fn text(s: &str) -> Text {
    Text::new(s).unwrap()
}

/// A ledger in a temporary directory and the SMS state that decides what goes into it.
struct Fixture {
    _dir: tempfile::TempDir,
    ledger: Arc<Ledger>,
    sms: Sms,
    ceo: Actor,
}

impl Fixture {
    async fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let options = InitOptions {
            name: "acme.example/sms".into(),
            actor: "user:ceo@acme.example".into(),
            root_passphrase: None,
        };
        Ledger::init(dir.path(), &options).await.unwrap();
        let ledger = Arc::new(Ledger::open(dir.path()).await.unwrap());
        let ceo = Actor::new("user:ceo@acme.example").unwrap();
        let mut fixture = Fixture {
            _dir: dir,
            ledger,
            sms: Sms::new(),
            ceo,
        };
        fixture.bootstrap(now().plus_micros(-60 * DAY)).await;
        fixture
    }

    /// Decides with the domain and appends what it decided; returns the last seq.
    async fn exec(&mut self, command: Command, at: Timestamp) -> u64 {
        let actor = self.ceo.clone();
        let mut seq = 0;
        for envelope in self.sms.execute(command, &actor, at).unwrap() {
            let event = custodia_ledger::entry::Event::from_value(&envelope.to_json()).unwrap();
            let request = AppendRequest {
                event,
                attestation: None,
                expect: Expect::Exact,
            };
            seq = self.ledger.append(request).await.unwrap().seq;
        }
        seq
    }

    async fn bootstrap(&mut self, at: Timestamp) {
        for role in [roles::TOP_MANAGEMENT, roles::SECURITY_MANAGER] {
            let defined = RoleDefined {
                title: text(role),
                responsibilities: vec![],
                authorities: vec![],
            };
            self.exec(Command::Role(id(role), RoleCommand::Define(defined)), at)
                .await;
            let assignment = RoleAssignment {
                person: self.ceo.clone(),
                area: None,
            };
            self.exec(Command::Role(id(role), RoleCommand::Assign(assignment)), at)
                .await;
        }
    }

    async fn report(&mut self, incident: &str, at: Timestamp) -> u64 {
        let reported = IncidentReported {
            title: text("Trailer seal broken at Venlo"),
            category: IncidentCategory::CargoTheft,
            severity: Severity::High,
            site: Code::new("HUB-NL").unwrap(),
            country: Code::new("NL").unwrap(),
            description: text("Seal number mismatch found at arrival"),
        };
        self.exec(
            Command::Incident(id(incident), IncidentCommand::Report(reported)),
            at,
        )
        .await
    }

    async fn projector(&self) -> Projector {
        let snapshots = SnapshotStore::in_memory().await.unwrap();
        Projector::open(
            self.ledger.store().clone(),
            snapshots,
            ProjectorConfig::default(),
        )
        .await
        .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_back_dated_incident_is_valid_at_its_date_but_not_known_as_of_it() {
    let mut f = Fixture::new().await;
    let incident_date = now().plus_micros(-10 * DAY);
    // What the system knew just before the report: recorded_at never decreases with seq, and
    // the clock moves on before the report is appended.
    let before_report = now();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    f.report("INC-1", incident_date).await;
    let p = f.projector().await;

    // Business time: as known now, the incident was true on its date, not the day before.
    assert!(p
        .valid_at(incident_date)
        .await
        .unwrap()
        .incidents
        .contains_key("INC-1"));
    let day_before = incident_date.plus_micros(-DAY);
    assert!(!p
        .valid_at(day_before)
        .await
        .unwrap()
        .incidents
        .contains_key("INC-1"));
    // Transaction time: on the incident date the system knew nothing of it, nor just
    // before the report was recorded; it knows it now.
    assert!(!p
        .as_of(incident_date)
        .await
        .unwrap()
        .incidents
        .contains_key("INC-1"));
    assert!(!p
        .as_of(before_report)
        .await
        .unwrap()
        .incidents
        .contains_key("INC-1"));
    assert!(p
        .as_of(now())
        .await
        .unwrap()
        .incidents
        .contains_key("INC-1"));
    // Both axes: true on its date, but not as known before the report.
    let known_before = p
        .valid_at_as_of(incident_date, before_report)
        .await
        .unwrap();
    assert!(!known_before.incidents.contains_key("INC-1"));
    // The row says when it happened and when the system learned it.
    let row = &p.current().incidents["INC-1"];
    assert_eq!(row.meta.created, incident_date);
    assert!(row.meta.learned > before_report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_projector_matches_a_rebuild_after_appends_it_followed() {
    let mut f = Fixture::new().await;
    // Subscribe before the first catch-up so no commit falls between the two.
    let mut rx = f.ledger.writer().subscribe();
    let mut live = f.projector().await;
    let base = now().plus_micros(-5 * DAY);
    for n in 0..20 {
        f.report(&format!("INC-{n}"), base.plus_micros(n * 1000))
            .await;
    }
    let size = f.ledger.size().await.unwrap();
    while live.size() < size {
        assert!(live.follow_one(&mut rx).await.unwrap());
    }
    let mut rebuilt = f.projector().await;
    rebuilt.rebuild().await.unwrap();
    assert_eq!(live.current(), rebuilt.current());
    assert_eq!(live.current().incidents.len(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projector_that_lagged_behind_its_subscription_catches_up_from_the_store() {
    use custodia_ledger::keys::SecretKey;
    use custodia_ledger::ledger::{DB_FILE, NODE_KEY_FILE};
    use custodia_ledger::store::sqlite::SqliteStore;
    use custodia_ledger::writer::WriterConfig;
    let mut f = Fixture::new().await;
    // The same ledger reopened with a subscription buffer of two entries.
    let dir = f._dir.path().to_owned();
    let store = SqliteStore::open(&dir.join(DB_FILE), false).await.unwrap();
    let key = SecretKey::read_pem(&dir.join(NODE_KEY_FILE), None).unwrap();
    let config = WriterConfig {
        broadcast_entries_max: 2,
        ..WriterConfig::default()
    };
    f.ledger = Arc::new(
        Ledger::open_store(Arc::new(store), key, config)
            .await
            .unwrap(),
    );
    let mut rx = f.ledger.writer().subscribe();
    let mut live = f.projector().await;
    let base = now().plus_micros(-5 * DAY);
    for n in 0..12 {
        f.report(&format!("INC-{n}"), base.plus_micros(n * 1000))
            .await;
    }
    // Twelve commits into a buffer of two: the first receive reports the lag, and the
    // projector reads what it missed from the store.
    assert!(live.follow_one(&mut rx).await.unwrap());
    assert_eq!(live.size(), f.ledger.size().await.unwrap());
    assert_eq!(live.current().incidents.len(), 12);
}

async fn schedule_review(f: &mut Fixture, review: &str, period: Period) {
    let scheduled = ReviewScheduled {
        period_start: period.start,
        period_end: period.end,
        scheduled_for: period.end.plus_micros(DAY),
        chair: f.ceo.clone(),
    };
    let at = period.start.plus_micros(DAY);
    f.exec(
        Command::Review(id(review), ReviewCommand::Schedule(scheduled)),
        at,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_review_pack_reproduces_its_digest_after_the_ledger_grew() {
    let mut f = Fixture::new().await;
    let period = Period {
        start: now().plus_micros(-40 * DAY),
        end: now().plus_micros(-DAY),
    };
    schedule_review(&mut f, "MR-2026-Q4", period).await;
    f.report("INC-1", period.start.plus_micros(3 * DAY)).await;
    let mut p = f.projector().await;

    let sealed = seal::seal(&f.ledger, &mut p, &id("MR-2026-Q4"), &f.ceo, now())
        .await
        .unwrap();
    assert_eq!(sealed.pack.incidents.total, 1);
    assert_eq!(
        sealed.receipt.seq, sealed.tree_size,
        "the seal is the next entry"
    );
    // Keep the domain's view in step with what the seal appended.
    f.sms.apply(
        &Envelope::from_json(
            &f.ledger
                .entry(sealed.receipt.seq)
                .await
                .unwrap()
                .unwrap()
                .event
                .to_value(),
        )
        .unwrap(),
    );

    // The ledger grows, including a back-dated incident inside the sealed period.
    f.report("INC-2", period.start.plus_micros(4 * DAY)).await;
    f.report("INC-3", now()).await;
    p.catch_up().await.unwrap();

    let review = id("MR-2026-Q4");
    let recorded = p.current().reviews["MR-2026-Q4"].sealed.clone().unwrap();
    assert_eq!(
        recorded,
        (sealed.tree_size, sealed.root.clone(), sealed.digest.clone())
    );
    let reproduced = seal::reproduce(&p, &review).await.unwrap();
    assert_eq!(
        reproduced.canonical_json().unwrap(),
        sealed.pack.canonical_json().unwrap()
    );
    let check = seal::check(&f.ledger, &p, &review).await.unwrap();
    assert!(check.holds(), "{check:?}");
    // The same period assembled from today's ledger differs: the seal is what pins it.
    let today = ReviewPack::assemble(p.current(), period);
    assert_eq!(today.incidents.total, 2);
    assert_ne!(today.digest().unwrap(), sealed.digest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealing_without_authority_is_refused_and_writes_nothing() {
    let mut f = Fixture::new().await;
    let period = Period {
        start: now().plus_micros(-40 * DAY),
        end: now().plus_micros(-DAY),
    };
    schedule_review(&mut f, "MR-1", period).await;
    let mut p = f.projector().await;
    let size = f.ledger.size().await.unwrap();
    let stranger = Actor::new("user:stranger@acme.example").unwrap();
    let refused = seal::seal(&f.ledger, &mut p, &id("MR-1"), &stranger, now())
        .await
        .unwrap_err();
    assert!(
        matches!(refused, Error::Rejected(Rejection::Unauthorized { .. })),
        "{refused}"
    );
    assert_eq!(f.ledger.size().await.unwrap(), size);
    let missing = seal::seal(&f.ledger, &mut p, &id("MR-404"), &f.ceo, now())
        .await
        .unwrap_err();
    assert!(matches!(missing, Error::NotFound(_)), "{missing}");
}
