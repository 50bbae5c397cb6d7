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
    (0u8..40, 0u8..8, 0u8..8, 0u8..12, -3i8..6).prop_map(|(op, a, b, who, dt)| Step {
        op,
        a,
        b,
        who,
        dt,
    })
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
                expires: (s.b % 2 == 0).then_some(later),
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
            screened(if s.b % 3 == 0 {
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
        22 => ca("CA-1", ca_verified(s.b % 3 != 0)),
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
        _ => Command::Role(
            id(roles::RISK_ACCEPTANCE),
            RoleCommand::Unassign(RoleAssignment {
                person: actor,
                area: None,
            }),
        ),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_commands_never_break_an_invariant_and_fold_back(steps in prop::collection::vec(step(), 1..200)) {
        let mut w = World::new();
        let mut now = day(1);
        for s in &steps {
            now = now.plus_micros(i64::from(s.dt) * 3_600_000_000);
            let actor = who(&w, s.who);
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
