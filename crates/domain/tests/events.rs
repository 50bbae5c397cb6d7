//! The integration surface: every event type is produced by `decide`, encodes to the ledger's
//! event object and decodes back to the same value; bad input decodes to a clear error; old
//! schema versions upcast and fold to the same state.

mod common;
use common::*;
use custodia_domain::scenario::{generate, ScenarioConfig};
use custodia_domain::*;
use serde_json::json;
use std::collections::BTreeSet;

/// Commands for the few types the demo year does not produce.
fn extra_events() -> Vec<Envelope> {
    let mut w = World::new();
    let (sm, ceo) = (w.cast.sm.clone(), w.cast.ceo.clone());
    w.ok(&sm, 1, policy("POL-9", policy_drafted()));
    w.ok(
        &ceo,
        2,
        policy(
            "POL-9",
            PolicyCommand::Retire(PolicyRetired {
                reason: t("merged"),
            }),
        ),
    );
    w.log
}

#[test]
fn every_event_type_and_stream_kind_is_produced_by_decide() {
    let mut envelopes = generate(ScenarioConfig::demo()).unwrap();
    envelopes.extend(extra_events());
    let types: BTreeSet<&str> = envelopes.iter().map(|e| e.event.event_type()).collect();
    let expected: BTreeSet<&str> = EVENT_TYPES.iter().map(|t| t.name).collect();
    assert_eq!(types, expected);
    let kinds: BTreeSet<StreamKind> = envelopes.iter().map(|e| e.stream.kind()).collect();
    assert_eq!(kinds, StreamKind::ALL.iter().copied().collect());
    for e in &envelopes {
        assert_eq!(
            e.event.stream_kind(),
            e.stream.kind(),
            "{}",
            e.event.event_type()
        );
    }
}

#[test]
fn event_type_names_follow_iso28000_md() {
    for t in EVENT_TYPES {
        let (kind, past) = t.name.split_once('.').unwrap();
        assert!(
            past.ends_with('d') || ["set", "sent", "held", "withdrawn"].contains(&past),
            "{} is past tense",
            t.name
        );
        assert!(
            past.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{}",
            t.name
        );
        let expected_kind = match kind {
            "training" => "person",
            other => other,
        };
        assert_eq!(t.kind.as_str(), expected_kind, "{}", t.name);
    }
    let names: BTreeSet<&str> = EVENT_TYPES.iter().map(|t| t.name).collect();
    assert_eq!(names.len(), EVENT_TYPES.len(), "no duplicates");
    for listed in [
        "issue.recorded",
        "policy.acknowledged",
        "role.unassigned",
        "matrix.defined",
        "risk.assessed",
        "risk.residual_assessed",
        "objective.measured",
        "training.completed",
        "training.expired",
        "supplier.screened",
        "incident.escalated",
        "audit.finding_recorded",
        "assessment.requirement_rated",
        "review.inputs_sealed",
        "corrective_action.verified",
        "improvement.recorded",
    ] {
        assert!(names.contains(listed), "{listed}");
    }
}

#[test]
fn envelopes_round_trip_through_the_ledger_event_object() {
    let mut envelopes = generate(ScenarioConfig::demo()).unwrap();
    envelopes.extend(extra_events());
    for e in &envelopes {
        let json = e.to_json();
        assert_eq!(json["type"], e.event.event_type());
        assert_eq!(json["schema"], e.event.schema_version());
        assert!(json["data"].is_object());
        let back = Envelope::from_json(&json).unwrap_or_else(|err| panic!("{}: {err}", e.stream));
        assert_eq!(&back, e);
        assert_eq!(
            decode(
                e.event.event_type(),
                e.event.schema_version(),
                &e.event.data()
            )
            .unwrap(),
            e.event
        );
    }
}

#[test]
fn decoding_bad_input_gives_a_specific_error() {
    let data = json!({"title": "t", "origin": "internal", "description": "d"});
    assert!(decode("issue.recorded", 1, &data).is_ok());
    let cases = [
        (decode("issue.exploded", 1, &data), "unknown event type"),
        (
            decode("issue.recorded", 2, &data),
            "schema version 2 is not supported",
        ),
        (
            decode("issue.recorded", 0, &data),
            "schema version 0 is not supported",
        ),
        (
            decode("issue.recorded", 1, &json!([1])),
            "data must be a JSON object",
        ),
        (
            decode(
                "issue.recorded",
                1,
                &json!({"title": "t", "origin": "internal"}),
            ),
            "missing field",
        ),
        (
            decode(
                "issue.recorded",
                1,
                &json!({"title": "t", "origin": "internal", "description": "d", "x": 1}),
            ),
            "unknown field",
        ),
        (
            decode(
                "issue.recorded",
                1,
                &json!({"title": "", "origin": "internal", "description": "d"}),
            ),
            "Text",
        ),
        (
            decode(
                "risk.assessed",
                1,
                &json!({"likelihood": 2.5, "impact": 1, "rationale": "r"}),
            ),
            "invalid",
        ),
        (
            decode(
                "risk.assessed",
                1,
                &json!({"likelihood": 6, "impact": 1, "rationale": "r"}),
            ),
            "outside 1..=5",
        ),
        (
            decode("supplier.tiered", 1, &json!({"tier": -1, "rationale": "r"})),
            "invalid",
        ),
    ];
    for (result, needle) in cases {
        let err = result.expect_err(needle).to_string();
        assert!(err.contains(needle), "{err:?} should mention {needle:?}");
    }
}

#[test]
fn envelope_decoding_checks_every_field() {
    let good = json!({
        "stream": "issue/ISS-1", "version": 1, "type": "issue.recorded", "schema": 1,
        "occurred_at": "2026-03-01T09:55:00.000000Z", "actor": "user:alice@acme.example",
        "data": {"title": "t", "origin": "internal", "description": "d"}, "meta": {"correlation": "x"}
    });
    let e = Envelope::from_json(&good).unwrap();
    assert_eq!(e.occurred_at.to_string(), "2026-03-01T09:55:00.000000Z");
    for (field, value, needle) in [
        ("stream", json!("risk"), "stream"),
        ("stream", json!("risk/R-1"), "does not belong in stream"),
        ("version", json!(0), "version"),
        ("occurred_at", json!("2026-03-01T09:55:00Z"), "occurred_at"),
        ("actor", json!("alice"), "actor"),
        ("schema", json!(-1), "schema"),
    ] {
        let mut bad = good.clone();
        bad[field] = value;
        let err = Envelope::from_json(&bad).unwrap_err().to_string();
        assert!(err.contains(needle), "{field}: {err}");
    }
}

/// `risk.assessed` v1 payloads (before matrices were configurable) decode as v2 on the
/// default matrix and fold to the same state as the v2 events the domain writes today.
#[test]
fn risk_assessed_v1_upcasts_and_folds_to_the_same_state() {
    let mut w = World::new();
    let (owner, sm) = (w.cast.owner.clone(), w.cast.sm.clone());
    w.ok(&owner, 1, risk("R-1", risk_identified(&sm)));
    w.ok(&owner, 2, risk("R-1", RiskCommand::Assess(rate(4, 3))));
    w.ok(&owner, 3, risk("R-1", treatment("T1", day(50), &owner)));
    let today: Vec<Envelope> = w.log.clone();
    let as_v1: Vec<Envelope> = today
        .iter()
        .map(|e| {
            let mut json = e.to_json();
            if e.event.event_type() == "risk.assessed" {
                let data = &json["data"];
                json["data"] = json!({"likelihood": data["likelihood"], "impact": data["impact"], "rationale": data["rationale"]});
                json["schema"] = json!(1);
            }
            Envelope::from_json(&json).unwrap()
        })
        .collect();
    assert_eq!(Sms::fold(&as_v1), Sms::fold(&today));
    let stream = risk("R-1", RiskCommand::Assess(rate(1, 1))).stream();
    let state = Sms::fold(&as_v1).stream(&stream).cloned().unwrap();
    let Body::Risk(r) = state.body() else {
        panic!()
    };
    let inherent = r.inherent().unwrap();
    assert_eq!((inherent.score, inherent.rating.as_str()), (12, "High"));
    assert_eq!(
        (inherent.matrix.id.as_str(), inherent.matrix.version),
        ("default", 1)
    );
}

#[test]
fn ratings_come_from_the_matrix_in_force_when_assessed() {
    let mut w = World::new();
    let (owner, sm) = (w.cast.owner.clone(), w.cast.sm.clone());
    w.ok(&owner, 1, risk("R-1", risk_identified(&sm)));
    w.ok(&owner, 2, risk("R-1", RiskCommand::Assess(rate(3, 3))));
    let codes = |xs: &[&str]| xs.iter().map(|x| c(x)).collect::<Vec<_>>();
    let band = |label: &str, min_score, max_score| Band {
        label: c(label),
        min_score,
        max_score,
    };
    let three = MatrixDefined {
        likelihood: codes(&["low", "medium", "high"]),
        impact: codes(&["minor", "major", "severe"]),
        bands: vec![band("Green", 1, 2), band("Amber", 3, 5), band("Red", 6, 9)],
    };
    w.ok(
        &sm,
        3,
        Command::Matrix(id("default"), MatrixCommand::Define(three)),
    );
    w.ok(
        &owner,
        4,
        risk("R-1", RiskCommand::AssessResidual(rate(3, 2))),
    );
    let stream = risk("R-1", RiskCommand::Assess(rate(1, 1))).stream();
    let Body::Risk(r) = w.sms.stream(&stream).unwrap().body() else {
        panic!()
    };
    let (i, res) = (r.inherent().unwrap(), r.residual().unwrap());
    assert_eq!((i.rating.as_str(), i.matrix.version), ("Medium", 1));
    assert_eq!(
        (res.rating.as_str(), res.matrix.version, res.score),
        ("Red", 2, 6)
    );
    let refused = w.refuse(
        &owner,
        5,
        risk("R-1", RiskCommand::AssessResidual(rate(4, 1))),
    );
    assert!(
        matches!(refused, Rejection::ScoreOutOfRange { max: 3, .. }),
        "{refused}"
    );
}

#[test]
fn a_gap_assessment_computes_readiness_exactly() {
    let mut w = World::new();
    let sm = w.cast.sm.clone();
    let cmd = |c: AssessmentCommand| Command::Assessment(id("GA-1"), c);
    w.ok(
        &sm,
        1,
        cmd(AssessmentCommand::Start(AssessmentStarted {
            standard: c("ISO 28000:2022"),
            scope: t("all"),
        })),
    );
    for (clause, rating) in [("4.1", 4), ("5.2", 1), ("8.3", 0)] {
        w.ok(
            &sm,
            2,
            cmd(AssessmentCommand::Rate(RequirementRated {
                clause: c(clause),
                rating,
                evidence: vec![],
            })),
        );
    }
    let done = w.ok(
        &sm,
        3,
        cmd(AssessmentCommand::Complete {
            summary: t("first pass"),
        }),
    );
    assert_eq!(done[0].event.data()["readiness_percent"], "41.66");
}

#[test]
fn commands_read_from_their_json_form() {
    let stream = StreamId::parse("risk/R-0007").unwrap();
    let json = json!({"action": "assess", "data": {"likelihood": 4, "impact": 5, "matrix": "default", "rationale": "history"}});
    let cmd = Command::from_json(&stream, &json).unwrap();
    assert_eq!(cmd, risk("R-0007", RiskCommand::Assess(rate(4, 5))));
    assert_eq!(cmd.to_json(), json);
    let ack = Command::from_json(
        &StreamId::parse("policy/POL-1").unwrap(),
        &json!({"action": "acknowledge"}),
    )
    .unwrap();
    assert_eq!(ack, policy("POL-1", PolicyCommand::Acknowledge));
    for bad in [
        json!({"action": "explode"}),
        json!({"action": "assess", "data": {"likelihood": 4.5, "impact": 5, "matrix": "default", "rationale": "r"}}),
        json!({"action": "assess", "data": {"likelihood": 4, "impact": 5, "matrix": "default", "rationale": "r", "x": 1}}),
        json!({"action": "assess"}),
    ] {
        assert!(Command::from_json(&stream, &bad).is_err(), "{bad}");
    }
    let kinds: Vec<StreamKind> = command_schemas().into_iter().map(|(k, _)| k).collect();
    assert_eq!(kinds, StreamKind::ALL);
}
