//! Each KPI on a small hand-built history, against a value computed by hand (the comment
//! above each expectation shows the arithmetic).

use custodia_domain::*;
use custodia_ledger::entry::ChainHash;
use custodia_projections::kpi::{self, Ratio};
use custodia_projections::{Body, Model, Record};
use std::collections::BTreeMap;

fn day(month: u32, d: u32) -> Timestamp {
    Timestamp::from_date(2026, month, d).unwrap()
}
fn hours(t: Timestamp, h: i64) -> Timestamp {
    t.plus_micros(h * 3_600_000_000)
}
fn id(s: &str) -> RecordId {
    RecordId::new(s).unwrap()
}
fn text(s: &str) -> Text {
    Text::new(s).unwrap()
}
fn code(s: &str) -> Code {
    Code::new(s).unwrap()
}
fn actor(s: &str) -> Actor {
    Actor::new(format!("user:{s}@acme.example")).unwrap()
}
fn dec(s: &str) -> Decimal {
    Decimal::new(s).unwrap()
}

/// The date every KPI below is computed at.
fn at() -> Timestamp {
    day(2, 1)
}

/// A history under construction: versions per stream are kept so the envelopes are
/// well-formed.
#[derive(Default)]
struct History {
    records: Vec<Record>,
    versions: BTreeMap<String, u64>,
}

impl History {
    fn add(
        &mut self,
        kind: StreamKind,
        record: &str,
        occurred: Timestamp,
        event: Event,
    ) -> &mut Self {
        let stream = StreamId::new(kind, id(record));
        let version = self.versions.entry(stream.to_string()).or_default();
        *version += 1;
        let seq = self.records.len() as u64;
        let envelope = Envelope {
            stream,
            version: *version,
            occurred_at: occurred,
            actor: actor("ceo"),
            event,
        };
        self.records.push(Record {
            seq,
            hash: ChainHash([seq as u8; 32]),
            recorded_at: occurred,
            occurred_at: occurred,
            body: Body::Event(envelope),
        });
        self
    }
    fn model(&self) -> Model {
        Model::fold(&self.records)
    }
}

fn reported(category: IncidentCategory, severity: Severity) -> Event {
    Event::IncidentReported(IncidentReported {
        title: text("incident"),
        category,
        severity,
        site: code("HUB-NL"),
        country: code("NL"),
        description: text("what happened"),
    })
}
fn contained() -> Event {
    Event::IncidentContained(IncidentContained {
        actions: text("secured"),
    })
}
fn closed() -> Event {
    Event::IncidentClosed(IncidentClosed {
        summary: text("done"),
    })
}

#[test]
fn incidents_per_month_by_category_and_severity() {
    use IncidentCategory::*;
    let mut h = History::default();
    h.add(
        StreamKind::Incident,
        "I1",
        day(1, 5),
        reported(CargoTheft, Severity::High),
    );
    h.add(
        StreamKind::Incident,
        "I2",
        day(1, 20),
        reported(CargoTheft, Severity::Low),
    );
    // Triage raises I2 to high: the current severity counts.
    let triaged = IncidentTriaged {
        severity: Severity::High,
        notes: text("worse"),
    };
    h.add(
        StreamKind::Incident,
        "I2",
        day(1, 21),
        Event::IncidentTriaged(triaged),
    );
    h.add(
        StreamKind::Incident,
        "I3",
        day(1, 31),
        reported(Piracy, Severity::Critical),
    );
    // After `at`: not counted.
    h.add(
        StreamKind::Incident,
        "I4",
        day(3, 1),
        reported(Piracy, Severity::Critical),
    );
    let got: Vec<_> = kpi::incidents_per_month(&h.model(), at())
        .into_iter()
        .map(|c| (c.month, c.category, c.severity, c.count))
        .collect();
    // January: I1 + I2 cargo theft high = 2; I3 piracy critical = 1.
    let want = vec![
        ("2026-01".to_owned(), CargoTheft, Severity::High, 2),
        ("2026-01".to_owned(), Piracy, Severity::Critical, 1),
    ];
    assert_eq!(got, want);
}

#[test]
fn mean_time_to_contain_and_to_close() {
    let mut h = History::default();
    let cat = IncidentCategory::Tampering;
    h.add(
        StreamKind::Incident,
        "I1",
        day(1, 1),
        reported(cat, Severity::Low),
    );
    h.add(StreamKind::Incident, "I1", hours(day(1, 1), 6), contained());
    h.add(StreamKind::Incident, "I1", hours(day(1, 1), 30), closed());
    h.add(
        StreamKind::Incident,
        "I2",
        day(1, 2),
        reported(cat, Severity::Low),
    );
    h.add(
        StreamKind::Incident,
        "I2",
        hours(day(1, 2), 24),
        contained(),
    );
    // Contained after `at`: not measured yet.
    h.add(
        StreamKind::Incident,
        "I3",
        day(1, 30),
        reported(cat, Severity::Low),
    );
    h.add(StreamKind::Incident, "I3", day(2, 2), contained());
    let m = h.model();
    // Contain: (6 h + 24 h) / 2 = 15 h = 54,000 s over 2 incidents.
    let contain = kpi::mean_time_to_contain(&m, at());
    assert_eq!((contain.incidents, contain.mean_seconds), (2, Some(54_000)));
    // Close: only I1, 30 h = 108,000 s.
    let close = kpi::mean_time_to_close(&m, at());
    assert_eq!((close.incidents, close.mean_seconds), (1, Some(108_000)));
    // Nothing to measure: no mean, not zero.
    assert_eq!(kpi::mean_time_to_close(&m, day(1, 1)).mean_seconds, None);
}

fn identified(title: &str) -> Event {
    Event::RiskIdentified(RiskIdentified {
        title: text(title),
        threat: Threat::CargoTheft,
        vulnerability: text("unguarded parking"),
        asset: text("electronics"),
        node: code("HUB-DE"),
        owner: actor("alice"),
    })
}
fn rated(likelihood: u32, impact: u32, band: &str) -> RiskAssessed {
    RiskAssessed {
        likelihood,
        impact,
        score: likelihood * impact,
        rating: code(band),
        matrix: MatrixRef {
            id: id("default"),
            version: 1,
        },
        rationale: text("history"),
    }
}
fn treatment(t: &str, due: Timestamp) -> Event {
    Event::RiskTreatmentPlanned(TreatmentPlanned {
        treatment: id(t),
        option: TreatmentOption::Mitigate,
        description: text("guarded parking"),
        owner: actor("alice"),
        due,
        controls: vec![],
    })
}

fn risks() -> Model {
    let mut h = History::default();
    let r = StreamKind::Risk;
    h.add(r, "R1", day(1, 1), identified("R1"));
    h.add(r, "R1", day(1, 2), Event::RiskAssessed(rated(4, 3, "High")));
    h.add(r, "R1", day(1, 3), treatment("T1", day(1, 20)));
    h.add(
        r,
        "R1",
        day(1, 4),
        Event::RiskResidualAssessed(rated(1, 3, "Low")),
    );
    h.add(r, "R2", day(1, 1), identified("R2"));
    h.add(
        r,
        "R2",
        day(1, 2),
        Event::RiskAssessed(rated(5, 5, "Critical")),
    );
    h.add(r, "R3", day(1, 1), identified("R3"));
    h.add(r, "R3", day(1, 2), Event::RiskAssessed(rated(4, 4, "High")));
    h.add(
        r,
        "R3",
        day(1, 5),
        Event::RiskClosed(RiskClosed {
            reason: text("asset sold"),
        }),
    );
    h.add(r, "R4", day(1, 1), identified("R4"));
    h.add(r, "R5", day(1, 1), identified("R5"));
    h.add(
        r,
        "R5",
        day(1, 2),
        Event::RiskAssessed(rated(2, 3, "Medium")),
    );
    h.add(r, "R5", day(1, 3), treatment("T2", day(1, 20)));
    let review = RiskReviewed {
        notes: text("ok"),
        next_review_due: day(1, 25),
    };
    h.add(r, "R5", day(1, 4), Event::RiskReviewed(review));
    h.model()
}

#[test]
fn risks_by_inherent_and_residual_rating() {
    let got = kpi::risks_by_rating(&risks());
    // Open and assessed: R1 High, R2 Critical, R5 Medium (R3 closed, R4 unassessed).
    let inherent: BTreeMap<String, u64> = [("Critical", 1), ("High", 1), ("Medium", 1)]
        .map(|(k, v)| (k.to_owned(), v))
        .into();
    assert_eq!(got.inherent, inherent);
    // Residual assessed only on R1.
    assert_eq!(got.residual, [("Low".to_owned(), 1)].into());
}

#[test]
fn share_of_high_risks_with_an_active_treatment() {
    // High or critical and open: R1 (treated) and R2 (not); R5 is medium, R3 closed.
    assert_eq!(kpi::high_risks_treated(&risks()), Ratio::new(1, 2));
}

#[test]
fn reviews_overdue_for_risks_obligations_and_management() {
    let mut h = History::default();
    let recorded = |due| ObligationRecorded {
        title: text("AEO"),
        source: code("AEO"),
        party: None,
        next_review_due: due,
    };
    h.add(
        StreamKind::Obligation,
        "O1",
        day(1, 1),
        Event::ObligationRecorded(recorded(day(1, 15))),
    );
    h.add(
        StreamKind::Obligation,
        "O2",
        day(1, 1),
        Event::ObligationRecorded(recorded(day(3, 1))),
    );
    let scheduled = |on| ReviewScheduled {
        period_start: day(1, 1),
        period_end: day(1, 2),
        scheduled_for: on,
        chair: actor("ceo"),
    };
    h.add(
        StreamKind::Review,
        "MR1",
        day(1, 1),
        Event::ReviewScheduled(scheduled(day(1, 20))),
    );
    h.add(
        StreamKind::Review,
        "MR2",
        day(1, 1),
        Event::ReviewScheduled(scheduled(day(2, 20))),
    );
    let mut m = h.model();
    m.risks = risks().risks;
    let got = kpi::reviews_overdue(&m, at());
    // R5's review was due Jan 25; O1 was due Jan 15; MR1 was scheduled Jan 20 and not held.
    assert_eq!((got.risks, got.obligations, got.management), (1, 1, 1));
}

#[test]
fn capa_open_overdue_on_time_and_effectiveness() {
    let mut h = History::default();
    let (nc, ca) = (StreamKind::Nonconformity, StreamKind::CorrectiveAction);
    let raised = NonconformityRaised {
        description: text("seal log gaps"),
        clause: code("8.2"),
        grade: NcGrade::Minor,
        audit: None,
        incident: None,
    };
    h.add(
        nc,
        "NC1",
        day(1, 1),
        Event::NonconformityRaised(raised.clone()),
    );
    h.add(nc, "NC2", day(1, 1), Event::NonconformityRaised(raised));
    let planned = |n: &str, due| {
        Event::CorrectiveActionPlanned(CorrectiveActionPlanned {
            nonconformity: id(n),
            description: text("fix"),
            owner: actor("bob"),
            due,
        })
    };
    let completed = || {
        Event::CorrectiveActionCompleted(CorrectiveActionCompleted {
            evidence: text("done"),
        })
    };
    let verified = |effective| {
        Event::CorrectiveActionVerified(CorrectiveActionVerified {
            effective,
            notes: text("checked"),
        })
    };
    h.add(ca, "CA1", day(1, 2), planned("NC2", day(1, 10)));
    h.add(ca, "CA1", day(1, 8), completed());
    h.add(ca, "CA1", day(1, 9), verified(true));
    h.add(
        nc,
        "NC2",
        day(1, 10),
        Event::NonconformityClosed(NonconformityClosed {
            corrective_action: id("CA1"),
            summary: text("ok"),
        }),
    );
    h.add(ca, "CA2", day(1, 2), planned("NC1", day(1, 10)));
    h.add(ca, "CA2", day(1, 12), completed());
    h.add(ca, "CA2", day(1, 13), verified(false));
    h.add(ca, "CA3", day(1, 2), planned("NC1", day(3, 1)));
    let got = kpi::capa(&h.model(), at());
    // NC1 open; CA2 (reopened by an ineffective verification) and CA3 open; CA2 overdue
    // (due Jan 10, not completed again); completed now: CA1 only, on time (Jan 8 ≤ Jan 10);
    // verifications: 1 effective of 2.
    assert_eq!(got.open_nonconformities, 1);
    assert_eq!((got.open_actions, got.overdue_actions), (2, 1));
    assert_eq!(got.on_time, Ratio::new(1, 1));
    assert_eq!(got.effectiveness, Ratio::new(1, 2));
    assert_eq!(got.effectiveness.percent(), Some(50));
}

#[test]
fn objectives_on_and_off_track() {
    let mut h = History::default();
    let o = StreamKind::Objective;
    let set = |due| {
        Event::ObjectiveSet(ObjectiveSet {
            title: text("cut cargo theft"),
            metric: text("thefts"),
            unit: code("count"),
            baseline: dec("100"),
            target: dec("80"),
            direction: Direction::Decrease,
            due,
            owner: actor("alice"),
        })
    };
    let measured = |v: &str| {
        Event::ObjectiveMeasured(ObjectiveMeasured {
            value: dec(v),
            period: code("2026-01"),
        })
    };
    for name in ["O1", "O2", "O3", "O4", "O5", "O6"] {
        h.add(o, name, day(1, 1), set(day(6, 1)));
    }
    h.add(o, "O1", day(1, 20), measured("75"));
    h.add(o, "O2", day(1, 20), measured("90"));
    h.add(o, "O3", day(1, 20), measured("110"));
    h.add(o, "O5", day(1, 20), measured("70"));
    h.add(
        o,
        "O5",
        day(1, 21),
        Event::ObjectiveAchieved(ObjectiveAchieved {
            evidence: text("report"),
        }),
    );
    h.add(
        o,
        "O6",
        day(1, 21),
        Event::ObjectiveAbandoned(ObjectiveAbandoned {
            reason: text("moot"),
        }),
    );
    let got = kpi::objectives(&h.model(), at());
    // O1 meets 80 (75); O2 improves on 100 (90) and is not yet due; O3 worsens (110);
    // O4 unmeasured; O5 achieved; O6 abandoned, left out.
    assert_eq!(
        (got.on_track, got.off_track, got.not_measured, got.achieved),
        (2, 1, 1, 1)
    );
    // After the due date, improving is no longer enough: O2 goes off track.
    assert_eq!(kpi::objectives(&h.model(), day(7, 1)).off_track, 2);
}

#[test]
fn supplier_screening_coverage() {
    let mut h = History::default();
    let s = StreamKind::Supplier;
    let onboard = |days| {
        Event::SupplierOnboarded(SupplierOnboarded {
            name: text("Carrier"),
            country: code("NL"),
            category: code("carrier"),
            screening_interval_days: days,
        })
    };
    let screened = |result| {
        Event::SupplierScreened(SupplierScreened {
            result,
            lists: vec![],
            certifications: vec![],
        })
    };
    for (name, days) in [
        ("S1", 365),
        ("S2", 30),
        ("S3", 365),
        ("S4", 365),
        ("S5", 365),
    ] {
        h.add(s, name, day(1, 1), onboard(days));
    }
    h.add(s, "S1", day(1, 1), screened(ScreeningResult::Pass));
    h.add(s, "S2", day(1, 1), screened(ScreeningResult::Pass));
    h.add(s, "S3", day(1, 1), screened(ScreeningResult::Fail));
    h.add(s, "S5", day(1, 1), screened(ScreeningResult::Pass));
    h.add(
        s,
        "S5",
        day(1, 2),
        Event::SupplierOffboarded(SupplierDecision {
            reason: text("ended"),
        }),
    );
    // Not offboarded: S1–S4. Current: S1 only (S2's 30 days ran out on Jan 31; S3 failed;
    // S4 never screened).
    assert_eq!(kpi::supplier_screening(&h.model(), at()), Ratio::new(1, 4));
}

fn people() -> History {
    let mut h = History::default();
    let assign = |who: &str| {
        Event::RoleAssigned(RoleAssignment {
            person: actor(who),
            area: None,
        })
    };
    let define = |t: &str| {
        Event::RoleDefined(RoleDefined {
            title: text(t),
            responsibilities: vec![],
            authorities: vec![],
        })
    };
    h.add(StreamKind::Role, "staff", day(1, 1), define("staff"));
    h.add(StreamKind::Role, "staff", day(1, 1), assign("alice"));
    h.add(StreamKind::Role, "staff", day(1, 1), assign("bob"));
    h.add(StreamKind::Role, "auditor", day(1, 1), define("auditor"));
    h.add(StreamKind::Role, "auditor", day(1, 1), assign("carol"));
    h
}

#[test]
fn training_coverage_per_role() {
    let mut h = people();
    let require = |t: &str| {
        Event::CompetenceRequired(CompetenceRequired {
            role: Role::new("staff").unwrap(),
            title: text(t),
            validity_days: 365,
        })
    };
    h.add(
        StreamKind::Competence,
        "C1",
        day(1, 1),
        require("awareness"),
    );
    h.add(StreamKind::Competence, "C2", day(1, 1), require("seals"));
    let trained = |c: &str, until| {
        Event::TrainingCompleted(TrainingCompleted {
            competence: id(c),
            valid_until: until,
            evidence: text("cert"),
        })
    };
    h.add(
        StreamKind::Person,
        "alice",
        day(1, 2),
        trained("C1", day(12, 1)),
    );
    h.add(
        StreamKind::Person,
        "alice",
        day(1, 2),
        trained("C2", day(12, 1)),
    );
    h.add(
        StreamKind::Person,
        "alice",
        day(1, 3),
        Event::TrainingExpired(TrainingExpired {
            competence: id("C2"),
        }),
    );
    h.add(
        StreamKind::Person,
        "bob",
        day(1, 2),
        trained("C1", day(1, 15)),
    );
    let got = kpi::training_coverage(&h.model(), at());
    // staff: 2 holders × 2 competences = 4 pairs; valid on Feb 1: alice/C1 only (alice/C2
    // recorded expired, bob/C1 ran out Jan 15, bob/C2 never). The auditor role requires none.
    assert_eq!(got, [("staff".to_owned(), Ratio::new(1, 4))].into());
}

#[test]
fn policy_acknowledgement_coverage() {
    let mut h = people();
    let p = StreamKind::Policy;
    let drafted = || {
        Event::PolicyDrafted(PolicyDrafted {
            title: text("Security policy"),
            content_hash: Digest::new("ab".repeat(32)).unwrap(),
        })
    };
    h.add(p, "P1", day(1, 1), drafted());
    h.add(
        p,
        "P1",
        day(1, 2),
        Event::PolicyApproved(PolicyApproved { note: None }),
    );
    h.add(
        p,
        "P1",
        day(1, 3),
        Event::PolicyPublished(PolicyPublished {
            channels: vec![code("intranet")],
        }),
    );
    for who in ["alice", "dave"] {
        h.add(
            p,
            "P1",
            day(1, 4),
            Event::PolicyAcknowledged(PolicyAcknowledged { person: actor(who) }),
        );
    }
    h.add(p, "P2", day(1, 1), drafted());
    // Staff: alice, bob, carol (role holders). Of them only alice acknowledged (dave holds
    // no role); P2 is not published, so not measured.
    let got = kpi::policy_acknowledgement(&h.model());
    assert_eq!(got, [("P1".to_owned(), Ratio::new(1, 3))].into());
}

#[test]
fn audit_programme_completion() {
    let mut h = History::default();
    let a = StreamKind::Audit;
    let plan = |on| {
        Event::AuditPlanned(AuditPlanned {
            area: code("europe"),
            kind: AuditKind::Internal,
            auditor: actor("carol"),
            scheduled_for: on,
            criteria: vec![],
        })
    };
    h.add(a, "A1", day(1, 1), plan(day(1, 10)));
    h.add(
        a,
        "A1",
        day(1, 10),
        Event::AuditConducted(AuditConducted {
            summary: text("fine"),
        }),
    );
    h.add(a, "A2", day(1, 1), plan(day(1, 20)));
    h.add(a, "A3", day(1, 1), plan(day(3, 1)));
    // Due by Feb 1: A1 (conducted) and A2 (not); A3 is not due yet.
    assert_eq!(kpi::audit_completion(&h.model(), at()), Ratio::new(1, 2));
}

#[test]
fn the_training_matrix_shows_each_holder_on_each_required_competence() {
    use custodia_projections::views::{training_matrix, TrainingStatus::*};
    let mut h = people();
    let require = |t: &str| {
        Event::CompetenceRequired(CompetenceRequired {
            role: Role::new("staff").unwrap(),
            title: text(t),
            validity_days: 365,
        })
    };
    h.add(
        StreamKind::Competence,
        "C1",
        day(1, 1),
        require("awareness"),
    );
    let trained = |until| {
        Event::TrainingCompleted(TrainingCompleted {
            competence: id("C1"),
            valid_until: until,
            evidence: text("cert"),
        })
    };
    h.add(StreamKind::Person, "alice", day(1, 2), trained(day(12, 1)));
    h.add(StreamKind::Person, "bob", day(1, 2), trained(day(1, 15)));
    let cells: Vec<_> = training_matrix(&h.model(), at())
        .into_iter()
        .map(|c| {
            (
                c.person.as_str().to_owned(),
                c.competence.as_str().to_owned(),
                c.status,
            )
        })
        .collect();
    let who = |s: &str| format!("user:{s}@acme.example");
    assert_eq!(
        cells,
        vec![
            (who("alice"), "C1".to_owned(), Valid),
            (who("bob"), "C1".to_owned(), Expired)
        ]
    );
}

#[test]
fn the_heat_map_counts_open_risks_per_cell() {
    use custodia_projections::views::risk_heat_map;
    let cells: Vec<_> = risk_heat_map(&risks())
        .into_iter()
        .map(|c| (c.likelihood, c.impact, c.inherent, c.residual))
        .collect();
    // R1 inherent 4×3, residual 1×3; R2 5×5; R5 2×3; R3 is closed.
    assert_eq!(
        cells,
        vec![(1, 3, 0, 1), (2, 3, 1, 0), (4, 3, 1, 0), (5, 5, 1, 0)]
    );
}

#[test]
fn the_capa_register_joins_actions_and_pages_like_any_register() {
    use custodia_projections::views::capa_register;
    use custodia_projections::{query, Query};
    let mut h = History::default();
    let raised = NonconformityRaised {
        description: text("seal log gaps"),
        clause: code("8.2"),
        grade: NcGrade::Minor,
        audit: None,
        incident: None,
    };
    for nc in ["NC1", "NC2"] {
        h.add(
            StreamKind::Nonconformity,
            nc,
            day(1, 1),
            Event::NonconformityRaised(raised.clone()),
        );
    }
    let planned = Event::CorrectiveActionPlanned(CorrectiveActionPlanned {
        nonconformity: id("NC1"),
        description: text("fix"),
        owner: actor("bob"),
        due: day(1, 10),
    });
    h.add(StreamKind::CorrectiveAction, "CA1", day(1, 2), planned);
    let register = capa_register(&h.model());
    let overdue = query(
        &register,
        &Query {
            status: Some("overdue".into()),
            ..Query::at(at())
        },
    );
    // NC1's action was due Jan 10 and is not done; NC2 has no action yet.
    assert_eq!(
        overdue
            .rows
            .iter()
            .map(|l| l.nonconformity.meta.id.as_str())
            .collect::<Vec<_>>(),
        ["NC1"]
    );
    let waiting = query(
        &register,
        &Query {
            status: Some("awaiting_action".into()),
            ..Query::at(at())
        },
    );
    assert_eq!(waiting.total, 1);
}

#[test]
fn year_month_agrees_with_the_printed_timestamp() {
    // Month edges, leap days, centuries and the epoch, against the domain's own printing.
    let mut dates = vec![
        Timestamp::from_micros(0).unwrap(),
        Timestamp::MIN,
        Timestamp::MAX,
    ];
    for (y, m, d) in [
        (2024, 2, 29),
        (2000, 2, 29),
        (1900, 3, 1),
        (2026, 12, 31),
        (2027, 1, 1),
        (1969, 12, 31),
    ] {
        let t = Timestamp::from_date(y, m, d).unwrap();
        dates.extend([t, t.plus_micros(-1), t.plus_micros(86_399_999_999)]);
    }
    for t in dates {
        let (year, month) = kpi::year_month(t);
        assert_eq!(format!("{year:04}-{month:02}"), t.to_string()[..7], "{t}");
    }
}
