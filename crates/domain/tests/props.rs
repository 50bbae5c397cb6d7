//! Property tests: random command sequences (random actors, times that may run backwards,
//! out-of-range values) never produce a state that breaks an invariant, and folding the
//! events they produced reproduces exactly the state `decide` saw.

mod common;
use common::*;
use custodia_domain::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

/// One random step: which command, two small parameters, who, and a time offset.
#[derive(Debug, Clone)]
struct Step {
    op: u8,
    a: u8,
    b: u8,
    who: u8,
    dt: i8,
}

fn step() -> impl Strategy<Value = Step> {
    (0u8..62, 0u8..8, 0u8..8, 0u8..16, -1i8..6).prop_map(|(op, a, b, who, dt)| Step {
        op,
        a,
        b,
        who,
        dt,
    })
}

/// Each record's life in its natural order; sequences are built from these, loosely
/// shuffled, so they reach deep states, then salted with uniformly random steps.
const LIFECYCLES: &[&[u8]] = &[
    &[0, 1, 2, 3, 4, 5, 6],
    &[7, 8, 12, 9, 10, 11],
    &[13, 14, 15, 16, 14, 17, 61],
    &[18, 19, 20, 21, 22, 21, 22, 23],
    &[24, 25, 26, 27, 27],
    &[28, 29, 30, 31, 32],
    &[33, 34, 34, 35],
    &[0, 1, 36, 37],
    &[38, 39],
    &[40, 41, 42],
    &[43, 44, 43, 44, 45],
    &[46, 47, 48, 46, 47],
    &[49, 50, 51],
    &[52, 53, 53, 54],
    &[55, 56, 57, 57, 58, 59],
    &[60],
];

fn sequence() -> impl Strategy<Value = Vec<Step>> {
    let walk = (
        0..LIFECYCLES.len(),
        prop::collection::vec(step(), 8),
        prop::collection::vec(0u32..25, 8),
    );
    (
        prop::collection::vec(walk, 1..10),
        prop::collection::vec(step(), 0..15),
    )
        .prop_map(|(walks, noise)| {
            let mut keyed: Vec<(u32, Step)> = Vec::new();
            for (life, params, jitter) in walks {
                for (n, op) in LIFECYCLES[life].iter().enumerate() {
                    let key = n as u32 * 20 + jitter[n % 8];
                    keyed.push((
                        key,
                        Step {
                            op: *op,
                            ..params[n % 8].clone()
                        },
                    ));
                }
            }
            keyed.extend(
                noise
                    .into_iter()
                    .enumerate()
                    .map(|(n, s)| (n as u32 * 4, s)),
            );
            keyed.sort_by_key(|(key, _)| *key);
            keyed.into_iter().map(|(_, s)| s).collect()
        })
}

/// Who would normally send a step's command; used three times in four.
fn natural(w: &World, op: u8) -> &Actor {
    let c = &w.cast;
    match op {
        0..=4 => &c.owner,
        5 | 41 => &c.coo,
        7..=10 | 12 => &c.handler,
        22 | 56..=58 => &c.auditor,
        25 | 30 | 31 | 38 | 39 | 44 | 46 => &c.ceo,
        27 => &c.staff,
        _ => &c.sm,
    }
}

fn who(w: &World, n: u8) -> Actor {
    let c = &w.cast;
    // Privileged actors appear more often, so sequences get deep into the state machines.
    let all = [
        &c.ceo, &c.coo, &c.sm, &c.deputy, &c.owner, &c.auditor, &c.handler, &c.staff, &c.sm,
        &c.owner, &c.handler, &c.auditor,
    ];
    all[n as usize % all.len()].clone()
}

fn severity(n: u8) -> Severity {
    Severity::ALL[n as usize % 4]
}

/// Maps a random step to a command over a handful of records, so steps collide on streams.
fn command(w: &World, s: &Step, now: Timestamp) -> Command {
    let r = format!("R-{}", s.a % 3);
    let inc = format!("INC-{}", s.a % 2);
    let sup = format!("SUP-{}", s.a % 2);
    let actor = who(w, s.b);
    let later = now.plus_days(i64::from(s.b) * 10 - 5);
    match s.op {
        0 => risk(&r, risk_identified(&actor)),
        1 => risk(
            &r,
            RiskCommand::Assess(rate(u32::from(s.b), u32::from(s.a) % 6)),
        ),
        2 => risk(&r, treatment(&format!("T{}", s.b % 2), later, &actor)),
        3 => risk(
            &r,
            RiskCommand::CompleteTreatment(TreatmentCompleted {
                treatment: id(&format!("T{}", s.b % 2)),
                evidence: t("done"),
            }),
        ),
        4 => risk(
            &r,
            RiskCommand::AssessResidual(rate(u32::from(s.b), u32::from(s.a) % 6)),
        ),
        5 => risk(
            &r,
            RiskCommand::Accept(RiskAccepted {
                rationale: t("ok"),
                expires: s.b.is_multiple_of(2).then_some(later),
            }),
        ),
        6 => risk(&r, RiskCommand::Close(RiskClosed { reason: t("gone") })),
        7 => incident(&inc, incident_reported(severity(s.b))),
        8 => incident(&inc, triaged(severity(s.b))),
        9 => incident(
            &inc,
            IncidentCommand::Contain(IncidentContained {
                actions: t("secured"),
            }),
        ),
        10 => incident(
            &inc,
            IncidentCommand::Investigate(IncidentInvestigated {
                root_cause: t("x"),
                findings: t("y"),
            }),
        ),
        11 => incident(
            &inc,
            IncidentCommand::Close(IncidentClosed { summary: t("done") }),
        ),
        12 => incident(
            &inc,
            IncidentCommand::Escalate(IncidentEscalated {
                authority: Authority::ALL[s.b as usize % 5],
                reference: None,
            }),
        ),
        13 => supplier(&sup, onboarded(30 + u32::from(s.b) * 10)),
        14 => supplier(
            &sup,
            screened(if s.b.is_multiple_of(3) {
                ScreeningResult::Fail
            } else {
                ScreeningResult::Pass
            }),
        ),
        15 => supplier(&sup, SupplierCommand::Approve(reason("ok"))),
        16 => supplier(&sup, SupplierCommand::Suspend(reason("hold"))),
        17 => supplier(&sup, SupplierCommand::Reinstate(reason("cleared"))),
        18 => nc("NC-1", nc_raised()),
        19 => nc("NC-1", root_cause()),
        20 => ca("CA-1", ca_planned("NC-1", later, &actor)),
        21 => ca("CA-1", ca_completed()),
        22 => ca("CA-1", ca_verified(!s.b.is_multiple_of(3))),
        23 => nc("NC-1", nc_close("CA-1")),
        24 => policy("POL-1", policy_drafted()),
        25 => policy(
            "POL-1",
            PolicyCommand::Approve(PolicyApproved { note: None }),
        ),
        26 => policy(
            "POL-1",
            PolicyCommand::Publish(PolicyPublished { channels: vec![] }),
        ),
        27 => policy("POL-1", PolicyCommand::Acknowledge),
        28 => review("MR-1", review_scheduled(&actor)),
        29 => review("MR-1", sealed(u64::from(s.b) * 1000)),
        30 => review(
            "MR-1",
            ReviewCommand::Hold(ReviewHeld {
                attendees: vec![actor],
            }),
        ),
        31 => review(
            "MR-1",
            ReviewCommand::RecordDecision(ReviewDecision {
                decision: id(&format!("D{}", s.b % 2)),
                text: t("do"),
                owner: who(w, s.a),
                due: None,
            }),
        ),
        32 => review(
            "MR-1",
            ReviewCommand::Close(ReviewClosed { note: t("done") }),
        ),
        33 => Command::Objective(
            id("OBJ-1"),
            objective_set("40", &format!("{}", 30 + s.b), &actor),
        ),
        34 => Command::Objective(id("OBJ-1"), measured(&format!("{}", 28 + s.b))),
        35 => Command::Objective(
            id("OBJ-1"),
            ObjectiveCommand::Achieve(ObjectiveAchieved { evidence: t("x") }),
        ),
        36 => Command::Control(
            id("CTL-1"),
            ControlCommand::Define(ControlDefined {
                title: t("Seals"),
                category: ControlCategory::Physical,
                description: t("x"),
                risks: vec![id(&r)],
            }),
        ),
        37 => Command::Control(
            id("CTL-1"),
            ControlCommand::Test(ControlTested {
                result: TestResult::Effective,
                notes: t("x"),
            }),
        ),
        38 => role_assign(roles::RISK_ACCEPTANCE, &actor, None),
        39 => Command::Role(
            id(roles::RISK_ACCEPTANCE),
            RoleCommand::Unassign(RoleAssignment {
                person: actor,
                area: None,
            }),
        ),
        40..=61 => more(
            s,
            if s.a.is_multiple_of(4) {
                &w.cast.owner
            } else {
                &w.cast.auditor
            },
            later,
        ),
        _ => unreachable!("op {} is outside the strategy", s.op),
    }
}

/// Steps over the remaining kinds: changes, documents, plans, training, gap assessment, audits.
fn more(s: &Step, auditor: &Actor, later: Timestamp) -> Command {
    let note = || ChangeNote { note: t("ok") };
    let chg = |c| Command::Change(id("CHG-1"), c);
    let doc = |c| Command::Document(id("DOC-1"), c);
    let plan = |c| Command::Plan(id("PLAN-1"), c);
    let person = |c| Command::Person(id("alice"), c);
    let ga = |c| Command::Assessment(id("GA-1"), c);
    let aud = |c| Command::Audit(id("AUD-1"), c);
    let revision = u32::from(s.b % 3) + 1;
    match s.op {
        40 => chg(ChangeCommand::Propose(ChangeProposed {
            title: t("x"),
            reason: t("y"),
            impact: t("z"),
        })),
        41 => chg(ChangeCommand::Approve(note())),
        42 => chg(ChangeCommand::Implement(note())),
        43 => doc(DocumentCommand::Issue(DocumentIssued {
            title: t("Manual"),
            revision,
            content_hash: digest(),
        })),
        44 => doc(DocumentCommand::Approve(DocumentApproved { revision })),
        45 => doc(DocumentCommand::Withdraw(DocumentWithdrawn {
            reason: t("old"),
        })),
        46 => plan(PlanCommand::Approve(PlanApproved {
            title: t("Response"),
            kind: PlanKind::Response,
            revision,
        })),
        47 => plan(PlanCommand::Exercise(PlanExercised {
            scenario: t("x"),
            outcome: ExerciseOutcome::Satisfactory,
            lessons: t("y"),
        })),
        48 => plan(PlanCommand::Revise(PlanRevised {
            revision,
            changes: t("x"),
        })),
        49 => Command::Competence(
            id("CMP-1"),
            CompetenceCommand::Require(CompetenceRequired {
                role: Role::new("staff").unwrap(),
                title: t("Awareness"),
                validity_days: u32::from(s.b) * 20,
            }),
        ),
        50 => person(PersonCommand::CompleteTraining(TrainingCompleted {
            competence: id("CMP-1"),
            valid_until: later,
            evidence: t("cert"),
        })),
        51 => person(PersonCommand::ExpireTraining(TrainingExpired {
            competence: id("CMP-1"),
        })),
        52 => ga(AssessmentCommand::Start(AssessmentStarted {
            standard: c("ISO 28000:2022"),
            scope: t("all"),
        })),
        53 => ga(AssessmentCommand::Rate(RequirementRated {
            clause: c(&format!("{}.1", s.a)),
            rating: u32::from(s.b),
            evidence: vec![],
        })),
        54 => ga(AssessmentCommand::Complete { summary: t("done") }),
        55 => aud(audit_planned(
            if s.b.is_multiple_of(2) {
                "europe"
            } else {
                "apac"
            },
            auditor,
            later,
        )),
        56 => aud(AuditCommand::Conduct(AuditConducted { summary: t("x") })),
        57 => aud(AuditCommand::RecordFinding(AuditFinding {
            finding: id(&format!("F{}", s.b % 3)),
            clause: c("8.2"),
            grade: FindingGrade::Minor,
            description: t("x"),
        })),
        58 => aud(AuditCommand::IssueReport(AuditReport {
            summary: t("x"),
            content_hash: digest(),
        })),
        59 => aud(AuditCommand::Close(AuditClosed { note: t("x") })),
        60 => Command::Matrix(
            id("default"),
            MatrixCommand::Define(MatrixDefined::default_5x5()),
        ),
        _ => supplier(
            &format!("SUP-{}", s.a % 2),
            SupplierCommand::Offboard(reason("gone")),
        ),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_commands_never_break_an_invariant_and_fold_back(steps in sequence()) {
        let mut w = World::new();
        let mut now = day(1);
        for s in &steps {
            now = now.plus_micros(i64::from(s.dt) * 3_600_000_000);
            let actor = if s.who < 12 { natural(&w, s.op).clone() } else { who(&w, s.who) };
            let cmd = command(&w, s, now);
            let stream = cmd.stream();
            // Commands travel as JSON from the API and CLI; the form round-trips.
            prop_assert_eq!(&Command::from_json(&stream, &cmd.to_json()).unwrap(), &cmd);
            let before = w.sms.stream(&stream).cloned().unwrap_or_default();
            match w.sms.decide(cmd, &actor, now) {
                Ok(envelopes) => {
                    // What decide saw, evolved by what it produced, is what the SMS folds to.
                    let expected = envelopes.iter().fold(before, evolve);
                    for e in &envelopes {
                        w.sms.apply(e);
                        w.log.push(e.clone());
                    }
                    prop_assert_eq!(w.sms.stream(&stream), Some(&expected));
                }
                Err(_) => prop_assert_eq!(w.sms.stream(&stream).cloned().unwrap_or_default(), before),
            }
            for (id, state) in w.sms.streams() {
                prop_assert!(state.check().is_ok(), "{}: {:?}", id, state.check());
            }
        }
        prop_assert_eq!(Sms::fold(&w.log), w.sms.clone());
        // Per stream: versions run 1, 2, 3... and time never runs backwards.
        let mut last: BTreeMap<String, (u64, Timestamp)> = BTreeMap::new();
        for e in &w.log {
            let entry = last.entry(e.stream.to_string()).or_insert((0, Timestamp::MIN));
            prop_assert_eq!(e.version, entry.0 + 1);
            prop_assert!(e.occurred_at >= entry.1);
            *entry = (e.version, e.occurred_at);
        }
    }
}

#[test]
fn timestamps_round_trip_for_any_instant() {
    proptest!(|(micros in Timestamp::MIN.micros()..=Timestamp::MAX.micros())| {
        let ts = Timestamp::from_micros(micros).unwrap();
        let text = ts.to_string();
        prop_assert_eq!(text.len(), 27);
        prop_assert_eq!(Timestamp::parse(&text).unwrap(), ts);
    });
}

#[test]
fn decimals_compare_like_numbers() {
    proptest!(|(a in -1_000_000_000i64..1_000_000_000, b in -1_000_000_000i64..1_000_000_000)| {
        let show = |v: i64| {
            let sign = if v < 0 { "-" } else { "" };
            format!("{sign}{}.{:03}", v.abs() / 1000, v.abs() % 1000)
        };
        let (da, db) = (dec(&show(a)), dec(&show(b)));
        prop_assert_eq!(da.micros().cmp(&db.micros()), a.cmp(&b));
    });
}
