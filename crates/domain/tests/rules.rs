//! The rules the domain enforces, as a table: each row sets up a record, sends the command the
//! rule forbids, and expects the specific rejection. `World::refuse` also checks that nothing
//! was written and the stream's state did not change.

mod common;
use common::*;
use custodia_domain::*;

type Case = (
    &'static str,
    fn(&mut World) -> Rejection,
    fn(&Rejection) -> bool,
);

macro_rules! case {
    ($rule:literal, $run:expr, $pattern:pat) => {
        ($rule, $run, |r: &Rejection| matches!(r, $pattern))
    };
}

fn assessed_risk(w: &mut World, key: &str) {
    let (owner, sm) = (w.cast.owner.clone(), w.cast.sm.clone());
    w.ok(&owner, 1, risk(key, risk_identified(&sm)));
    w.ok(&owner, 2, risk(key, RiskCommand::Assess(rate(4, 4))));
}

fn triaged_incident(w: &mut World, key: &str, severity: Severity) {
    let h = w.cast.handler.clone();
    w.ok(&h, 10, incident(key, incident_reported(severity)));
    w.ok(&h, 10, incident(key, triaged(severity)));
}

fn analysed_nc(w: &mut World, key: &str) {
    let sm = w.cast.sm.clone();
    w.ok(&sm, 1, nc(key, nc_raised()));
    w.ok(&sm, 2, nc(key, root_cause()));
}

fn completed_ca(w: &mut World) {
    let sm = w.cast.sm.clone();
    analysed_nc(w, "NC-1");
    w.ok(&sm, 3, ca("CA-1", ca_planned("NC-1", day(40), &sm)));
    w.ok(&sm, 10, ca("CA-1", ca_completed()));
}

fn rules() -> Vec<Case> {
    vec![
        // 5.2 policy
        case!(
            "policy is published only after approval",
            |w| {
                let sm = w.cast.sm.clone();
                w.ok(&sm, 1, policy("POL-1", policy_drafted()));
                w.refuse(
                    &sm,
                    2,
                    policy(
                        "POL-1",
                        PolicyCommand::Publish(PolicyPublished {
                            channels: vec![c("intranet")],
                        }),
                    ),
                )
            },
            Rejection::PolicyNotApproved { .. }
        ),
        case!(
            "policy is approved only by top management",
            |w| {
                let sm = w.cast.sm.clone();
                w.ok(&sm, 1, policy("POL-1", policy_drafted()));
                w.refuse(
                    &sm,
                    2,
                    policy(
                        "POL-1",
                        PolicyCommand::Approve(PolicyApproved { note: None }),
                    ),
                )
            },
            Rejection::Unauthorized { .. }
        ),
        case!(
            "a person acknowledges a policy once",
            |w| {
                let (sm, ceo, staff) =
                    (w.cast.sm.clone(), w.cast.ceo.clone(), w.cast.staff.clone());
                w.ok(&sm, 1, policy("POL-1", policy_drafted()));
                w.ok(
                    &ceo,
                    2,
                    policy(
                        "POL-1",
                        PolicyCommand::Approve(PolicyApproved { note: None }),
                    ),
                );
                w.ok(
                    &sm,
                    3,
                    policy(
                        "POL-1",
                        PolicyCommand::Publish(PolicyPublished { channels: vec![] }),
                    ),
                );
                w.ok(&staff, 4, policy("POL-1", PolicyCommand::Acknowledge));
                w.refuse(&staff, 5, policy("POL-1", PolicyCommand::Acknowledge))
            },
            Rejection::Duplicate { .. }
        ),
        case!(
            "a draft policy cannot be acknowledged",
            |w| {
                let (sm, staff) = (w.cast.sm.clone(), w.cast.staff.clone());
                w.ok(&sm, 1, policy("POL-1", policy_drafted()));
                w.refuse(&staff, 2, policy("POL-1", PolicyCommand::Acknowledge))
            },
            Rejection::InvalidState { .. }
        ),
        // 5.3 roles
        case!(
            "roles are assigned only by top management once it exists",
            |w| {
                let sm = w.cast.sm.clone();
                w.refuse(&sm, 1, role_assign(roles::AUDITOR, &actor("mallory"), None))
            },
            Rejection::Unauthorized { .. }
        ),
        case!(
            "a role id is a role name",
            |w| {
                let ceo = w.cast.ceo.clone();
                w.refuse(&ceo, 1, role_define("Not-A-Role"))
            },
            Rejection::InvalidValue { field: "id", .. }
        ),
        case!(
            "only a holder can be unassigned",
            |w| {
                let ceo = w.cast.ceo.clone();
                w.refuse(
                    &ceo,
                    1,
                    Command::Role(
                        id(roles::AUDITOR),
                        RoleCommand::Unassign(RoleAssignment {
                            person: actor("nobody"),
                            area: None,
                        }),
                    ),
                )
            },
            Rejection::UnknownItem { .. }
        ),
        // 6.1 matrix and risk
        case!(
            "matrix bands tile the score range",
            |w| {
                let sm = w.cast.sm.clone();
                let mut m = MatrixDefined::default_5x5();
                m.bands.pop();
                w.refuse(
                    &sm,
                    1,
                    Command::Matrix(id("default"), MatrixCommand::Define(m)),
                )
            },
            Rejection::InvalidValue {
                field: "matrix",
                ..
            }
        ),
        case!(
            "a risk is accepted only after assessment",
            |w| {
                let (owner, sm, coo) =
                    (w.cast.owner.clone(), w.cast.sm.clone(), w.cast.coo.clone());
                w.ok(&owner, 1, risk("R-0007", risk_identified(&sm)));
                let r = w.refuse(
                    &coo,
                    2,
                    risk(
                        "R-0007",
                        RiskCommand::Accept(RiskAccepted {
                            rationale: t("fine"),
                            expires: None,
                        }),
                    ),
                );
                assert_eq!(
                    r.to_string(),
                    "risk R-0007: cannot accept before it is assessed"
                );
                r
            },
            Rejection::RiskNotAssessed {
                action: "accept",
                ..
            }
        ),
        case!(
            "a risk is accepted only with acceptance authority",
            |w| {
                assessed_risk(w, "R-1");
                let sm = w.cast.sm.clone();
                w.refuse(
                    &sm,
                    3,
                    risk(
                        "R-1",
                        RiskCommand::Accept(RiskAccepted {
                            rationale: t("fine"),
                            expires: None,
                        }),
                    ),
                )
            },
            Rejection::Unauthorized { .. }
        ),
        case!(
            "an acceptance expires in the future",
            |w| {
                assessed_risk(w, "R-1");
                let coo = w.cast.coo.clone();
                w.refuse(
                    &coo,
                    3,
                    risk(
                        "R-1",
                        RiskCommand::Accept(RiskAccepted {
                            rationale: t("fine"),
                            expires: Some(day(2)),
                        }),
                    ),
                )
            },
            Rejection::DateNotAfter {
                field: "expires",
                ..
            }
        ),
        case!(
            "a risk cannot close while a treatment is incomplete",
            |w| {
                assessed_risk(w, "R-1");
                let (owner, sm) = (w.cast.owner.clone(), w.cast.sm.clone());
                w.ok(&owner, 3, risk("R-1", treatment("T1", day(60), &owner)));
                w.refuse(
                    &sm,
                    4,
                    risk("R-1", RiskCommand::Close(RiskClosed { reason: t("done") })),
                )
            },
            Rejection::TreatmentIncomplete { .. }
        ),
        case!(
            "treatment is planned only after assessment",
            |w| {
                let (owner, sm) = (w.cast.owner.clone(), w.cast.sm.clone());
                w.ok(&owner, 1, risk("R-1", risk_identified(&sm)));
                w.refuse(&owner, 2, risk("R-1", treatment("T1", day(60), &owner)))
            },
            Rejection::RiskNotAssessed { .. }
        ),
        case!(
            "a treatment key is used once",
            |w| {
                assessed_risk(w, "R-1");
                let owner = w.cast.owner.clone();
                w.ok(&owner, 3, risk("R-1", treatment("T1", day(60), &owner)));
                w.refuse(&owner, 4, risk("R-1", treatment("T1", day(60), &owner)))
            },
            Rejection::Duplicate { .. }
        ),
        case!(
            "only a planned treatment can be completed",
            |w| {
                assessed_risk(w, "R-1");
                let owner = w.cast.owner.clone();
                w.refuse(
                    &owner,
                    3,
                    risk(
                        "R-1",
                        RiskCommand::CompleteTreatment(TreatmentCompleted {
                            treatment: id("T9"),
                            evidence: t("x"),
                        }),
                    ),
                )
            },
            Rejection::UnknownItem { .. }
        ),
        case!(
            "a treatment's due date lies ahead",
            |w| {
                assessed_risk(w, "R-1");
                let owner = w.cast.owner.clone();
                w.refuse(&owner, 3, risk("R-1", treatment("T1", day(3), &owner)))
            },
            Rejection::DateNotAfter { field: "due", .. }
        ),
        case!(
            "residual risk cannot exceed inherent risk",
            |w| {
                assessed_risk(w, "R-1");
                let owner = w.cast.owner.clone();
                w.refuse(
                    &owner,
                    3,
                    risk("R-1", RiskCommand::AssessResidual(rate(5, 5))),
                )
            },
            Rejection::ResidualAboveInherent {
                residual: 25,
                inherent: 16,
                ..
            }
        ),
        case!(
            "scores lie within the matrix in force",
            |w| {
                let (owner, sm) = (w.cast.owner.clone(), w.cast.sm.clone());
                w.ok(&owner, 1, risk("R-1", risk_identified(&sm)));
                w.refuse(&owner, 2, risk("R-1", RiskCommand::Assess(rate(6, 1))))
            },
            Rejection::ScoreOutOfRange {
                field: "likelihood",
                value: 6,
                max: 5,
                ..
            }
        ),
        case!(
            "an assessment names a matrix that exists",
            |w| {
                let (owner, sm) = (w.cast.owner.clone(), w.cast.sm.clone());
                w.ok(&owner, 1, risk("R-1", risk_identified(&sm)));
                let rate = Rate {
                    matrix: id("nope"),
                    ..rate(2, 2)
                };
                w.refuse(&owner, 2, risk("R-1", RiskCommand::Assess(rate)))
            },
            Rejection::LinkMissing { .. }
        ),
        case!(
            "a risk is identified once",
            |w| {
                assessed_risk(w, "R-1");
                let (owner, sm) = (w.cast.owner.clone(), w.cast.sm.clone());
                w.refuse(&owner, 3, risk("R-1", risk_identified(&sm)))
            },
            Rejection::AlreadyExists { .. }
        ),
        case!(
            "a risk must exist to be assessed",
            |w| {
                let owner = w.cast.owner.clone();
                w.refuse(&owner, 1, risk("R-404", RiskCommand::Assess(rate(2, 2))))
            },
            Rejection::NotFound { .. }
        ),
        case!(
            "only risk owners and the security manager assess",
            |w| {
                let (owner, sm, staff) = (
                    w.cast.owner.clone(),
                    w.cast.sm.clone(),
                    w.cast.staff.clone(),
                );
                w.ok(&owner, 1, risk("R-1", risk_identified(&sm)));
                w.refuse(&staff, 2, risk("R-1", RiskCommand::Assess(rate(2, 2))))
            },
            Rejection::Unauthorized { .. }
        ),
        case!(
            "a closed risk stays closed",
            |w| {
                assessed_risk(w, "R-1");
                let (sm, owner) = (w.cast.sm.clone(), w.cast.owner.clone());
                w.ok(
                    &sm,
                    3,
                    risk("R-1", RiskCommand::Close(RiskClosed { reason: t("gone") })),
                );
                w.refuse(&owner, 4, risk("R-1", RiskCommand::Assess(rate(1, 1))))
            },
            Rejection::InvalidState { .. }
        ),
        // time
        case!(
            "a follow-up cannot precede the event it follows",
            |w| {
                let h = w.cast.handler.clone();
                w.ok(&h, 10, incident("INC-1", incident_reported(Severity::Low)));
                w.refuse(&h, 9, incident("INC-1", triaged(Severity::Low)))
            },
            Rejection::TimeRunsBackwards { .. }
        ),
        case!(
            "containment cannot precede its incident",
            |w| {
                triaged_incident(w, "INC-1", Severity::Low);
                let h = w.cast.handler.clone();
                w.refuse(
                    &h,
                    8,
                    incident(
                        "INC-1",
                        IncidentCommand::Contain(IncidentContained {
                            actions: t("secured"),
                        }),
                    ),
                )
            },
            Rejection::TimeRunsBackwards { .. }
        ),
        // 8.5 incidents
        case!(
            "an incident is contained only after triage",
            |w| {
                let h = w.cast.handler.clone();
                w.ok(&h, 10, incident("INC-1", incident_reported(Severity::Low)));
                w.refuse(
                    &h,
                    11,
                    incident(
                        "INC-1",
                        IncidentCommand::Contain(IncidentContained {
                            actions: t("secured"),
                        }),
                    ),
                )
            },
            Rejection::InvalidState { .. }
        ),
        case!(
            "a high-severity incident closes only after investigation",
            |w| {
                triaged_incident(w, "INC-1", Severity::High);
                let (h, sm) = (w.cast.handler.clone(), w.cast.sm.clone());
                w.ok(
                    &h,
                    11,
                    incident(
                        "INC-1",
                        IncidentCommand::Contain(IncidentContained {
                            actions: t("secured"),
                        }),
                    ),
                );
                w.refuse(
                    &sm,
                    12,
                    incident(
                        "INC-1",
                        IncidentCommand::Close(IncidentClosed { summary: t("done") }),
                    ),
                )
            },
            Rejection::InvestigationRequired {
                severity: "high",
                ..
            }
        ),
        case!(
            "an incident is escalated to an authority once",
            |w| {
                triaged_incident(w, "INC-1", Severity::Medium);
                let h = w.cast.handler.clone();
                let esc = || {
                    incident(
                        "INC-1",
                        IncidentCommand::Escalate(IncidentEscalated {
                            authority: Authority::Customs,
                            reference: None,
                        }),
                    )
                };
                w.ok(&h, 11, esc());
                w.refuse(&h, 12, esc())
            },
            Rejection::Duplicate { .. }
        ),
        case!(
            "staff without the incident role cannot handle incidents",
            |w| {
                let staff = w.cast.staff.clone();
                w.refuse(
                    &staff,
                    10,
                    incident("INC-1", incident_reported(Severity::Low)),
                )
            },
            Rejection::Unauthorized { .. }
        ),
        // 8.x suppliers
        case!(
            "a supplier is approved only after a passing screening",
            |w| {
                let sm = w.cast.sm.clone();
                w.ok(&sm, 1, supplier("SUP-1", onboarded(365)));
                w.ok(&sm, 2, supplier("SUP-1", screened(ScreeningResult::Fail)));
                w.refuse(
                    &sm,
                    3,
                    supplier("SUP-1", SupplierCommand::Approve(reason("ok"))),
                )
            },
            Rejection::SupplierNotScreened { .. }
        ),
        case!(
            "a screening older than the interval is overdue",
            |w| {
                let sm = w.cast.sm.clone();
                w.ok(&sm, 1, supplier("SUP-1", onboarded(30)));
                w.ok(&sm, 2, supplier("SUP-1", screened(ScreeningResult::Pass)));
                w.refuse(
                    &sm,
                    40,
                    supplier("SUP-1", SupplierCommand::Approve(reason("ok"))),
                )
            },
            Rejection::ScreeningOverdue {
                interval_days: 30,
                ..
            }
        ),
        case!(
            "a suspended supplier is reinstated only with a passing screening",
            |w| {
                let sm = w.cast.sm.clone();
                w.ok(&sm, 1, supplier("SUP-1", onboarded(365)));
                w.ok(
                    &sm,
                    2,
                    supplier("SUP-1", SupplierCommand::Suspend(reason("investigation"))),
                );
                w.refuse(
                    &sm,
                    3,
                    supplier("SUP-1", SupplierCommand::Reinstate(reason("cleared"))),
                )
            },
            Rejection::SupplierNotScreened { .. }
        ),
        case!(
            "supplier tiers are 1 to 3",
            |w| {
                let sm = w.cast.sm.clone();
                w.ok(&sm, 1, supplier("SUP-1", onboarded(365)));
                w.refuse(
                    &sm,
                    2,
                    supplier(
                        "SUP-1",
                        SupplierCommand::Tier(SupplierTiered {
                            tier: 4,
                            rationale: t("x"),
                        }),
                    ),
                )
            },
            Rejection::InvalidValue { field: "tier", .. }
        ),
        case!(
            "supplier scores are 0 to 100",
            |w| {
                let sm = w.cast.sm.clone();
                w.ok(&sm, 1, supplier("SUP-1", onboarded(365)));
                w.refuse(
                    &sm,
                    2,
                    supplier(
                        "SUP-1",
                        SupplierCommand::Assess(SupplierAssessed {
                            score: 101,
                            notes: t("x"),
                        }),
                    ),
                )
            },
            Rejection::InvalidValue { field: "score", .. }
        ),
        case!(
            "a screening interval is 30 to 1096 days",
            |w| {
                let sm = w.cast.sm.clone();
                w.refuse(&sm, 1, supplier("SUP-1", onboarded(5)))
            },
            Rejection::InvalidValue {
                field: "screening_interval_days",
                ..
            }
        ),
        case!(
            "an offboarded supplier stays offboarded",
            |w| {
                let sm = w.cast.sm.clone();
                w.ok(&sm, 1, supplier("SUP-1", onboarded(365)));
                w.ok(
                    &sm,
                    2,
                    supplier("SUP-1", SupplierCommand::Offboard(reason("gone"))),
                );
                w.refuse(&sm, 3, supplier("SUP-1", screened(ScreeningResult::Pass)))
            },
            Rejection::InvalidState { .. }
        ),
        // 9.2 audit
        case!(
            "an auditor does not audit an area they own",
            |w| {
                let (sm, owner) = (w.cast.sm.clone(), w.cast.owner.clone());
                w.refuse(
                    &sm,
                    1,
                    audit("AUD-1", audit_planned("europe", &owner, day(20))),
                )
            },
            Rejection::AuditorNotIndependent { .. }
        ),
        case!(
            "only the planned auditor conducts the audit",
            |w| {
                let (sm, auditor) = (w.cast.sm.clone(), w.cast.auditor.clone());
                w.ok(
                    &sm,
                    1,
                    audit("AUD-1", audit_planned("europe", &auditor, day(20))),
                );
                w.refuse(
                    &sm,
                    20,
                    audit(
                        "AUD-1",
                        AuditCommand::Conduct(AuditConducted { summary: t("x") }),
                    ),
                )
            },
            Rejection::Unauthorized { .. }
        ),
        case!(
            "findings are recorded only once the audit is conducted",
            |w| {
                let (sm, auditor) = (w.cast.sm.clone(), w.cast.auditor.clone());
                w.ok(
                    &sm,
                    1,
                    audit("AUD-1", audit_planned("europe", &auditor, day(20))),
                );
                let f = AuditFinding {
                    finding: id("F1"),
                    clause: c("8.2"),
                    grade: FindingGrade::Minor,
                    description: t("x"),
                };
                w.refuse(&auditor, 2, audit("AUD-1", AuditCommand::RecordFinding(f)))
            },
            Rejection::InvalidState { .. }
        ),
        case!(
            "an audit is scheduled ahead",
            |w| {
                let (sm, auditor) = (w.cast.sm.clone(), w.cast.auditor.clone());
                w.refuse(
                    &sm,
                    5,
                    audit("AUD-1", audit_planned("europe", &auditor, day(1))),
                )
            },
            Rejection::DateNotAfter {
                field: "scheduled_for",
                ..
            }
        ),
        // 10 nonconformity and corrective action
        case!(
            "a nonconformity closes only after its action is verified effective",
            |w| {
                completed_ca(w);
                let sm = w.cast.sm.clone();
                w.refuse(&sm, 11, nc("NC-1", nc_close("CA-1")))
            },
            Rejection::CorrectiveActionNotEffective { .. }
        ),
        case!(
            "an ineffective verification reopens the action, so the nonconformity stays open",
            |w| {
                completed_ca(w);
                let (sm, auditor) = (w.cast.sm.clone(), w.cast.auditor.clone());
                w.ok(&auditor, 12, ca("CA-1", ca_verified(false)));
                let stream = ca("CA-1", ca_completed()).stream();
                let Some(Body::CorrectiveAction(state)) =
                    w.sms.stream(&stream).map(StreamState::body)
                else {
                    panic!("no CA")
                };
                assert_eq!((state.status(), state.reopened()), (CaStatus::Open, 1));
                w.refuse(&sm, 13, nc("NC-1", nc_close("CA-1")))
            },
            Rejection::CorrectiveActionNotEffective { .. }
        ),
        case!(
            "a nonconformity closes with its own corrective action",
            |w| {
                completed_ca(w);
                let (sm, auditor) = (w.cast.sm.clone(), w.cast.auditor.clone());
                w.ok(&auditor, 12, ca("CA-1", ca_verified(true)));
                analysed_nc_at(w, "NC-2");
                w.refuse(&sm, 13, nc("NC-2", nc_close("CA-1")))
            },
            Rejection::UnknownItem { .. }
        ),
        case!(
            "an action is verified by someone other than who completed it",
            |w| {
                completed_ca(w);
                let sm = w.cast.sm.clone();
                w.refuse(&sm, 12, ca("CA-1", ca_verified(true)))
            },
            Rejection::SegregationOfDuties { .. }
        ),
        case!(
            "an action is planned only after the root cause is identified",
            |w| {
                let sm = w.cast.sm.clone();
                w.ok(&sm, 1, nc("NC-1", nc_raised()));
                w.refuse(&sm, 2, ca("CA-1", ca_planned("NC-1", day(40), &sm)))
            },
            Rejection::InvalidState { .. }
        ),
        case!(
            "an action addresses a nonconformity that exists",
            |w| {
                let sm = w.cast.sm.clone();
                w.refuse(&sm, 2, ca("CA-1", ca_planned("NC-404", day(40), &sm)))
            },
            Rejection::LinkMissing { .. }
        ),
        case!(
            "a nonconformity's source audit exists",
            |w| {
                let sm = w.cast.sm.clone();
                let NonconformityCommand::Raise(mut p) = nc_raised() else {
                    unreachable!()
                };
                p.audit = Some(id("AUD-404"));
                w.refuse(&sm, 1, nc("NC-1", NonconformityCommand::Raise(p)))
            },
            Rejection::LinkMissing { .. }
        ),
        // 6.2 objectives
        case!(
            "an objective is achieved only when a measurement meets the target",
            |w| {
                let sm = w.cast.sm.clone();
                w.ok(
                    &sm,
                    1,
                    Command::Objective(id("OBJ-1"), objective_set("40", "32", &sm)),
                );
                w.ok(&sm, 30, Command::Objective(id("OBJ-1"), measured("33.5")));
                w.refuse(
                    &sm,
                    31,
                    Command::Objective(
                        id("OBJ-1"),
                        ObjectiveCommand::Achieve(ObjectiveAchieved { evidence: t("x") }),
                    ),
                )
            },
            Rejection::ObjectiveNotMet { .. }
        ),
        case!(
            "a period is measured once",
            |w| {
                let sm = w.cast.sm.clone();
                w.ok(
                    &sm,
                    1,
                    Command::Objective(id("OBJ-1"), objective_set("40", "32", &sm)),
                );
                w.ok(&sm, 30, Command::Objective(id("OBJ-1"), measured("35")));
                w.refuse(&sm, 31, Command::Objective(id("OBJ-1"), measured("31")))
            },
            Rejection::Duplicate { .. }
        ),
        case!(
            "before top management exists, only top management can be set up",
            |w| {
                w.sms = Sms::new();
                let installer = Actor::new("service:setup").unwrap();
                w.refuse(&installer, 0, role_define(roles::AUDITOR))
            },
            Rejection::Unauthorized { .. }
        ),
        case!(
            "the last top-management holder cannot be unassigned",
            |w| {
                let (ceo, coo) = (w.cast.ceo.clone(), w.cast.coo.clone());
                let unassign = |who: &Actor| {
                    Command::Role(
                        id(roles::TOP_MANAGEMENT),
                        RoleCommand::Unassign(RoleAssignment {
                            person: who.clone(),
                            area: None,
                        }),
                    )
                };
                w.ok(&ceo, 1, unassign(&coo));
                w.refuse(&ceo, 2, unassign(&ceo))
            },
            Rejection::InvalidState { .. }
        ),
        case!(
            "an action cannot be planned before its nonconformity was raised",
            |w| {
                let sm = w.cast.sm.clone();
                w.ok(&sm, 5, nc("NC-1", nc_raised()));
                w.ok(&sm, 6, nc("NC-1", root_cause()));
                w.refuse(&sm, 3, ca("CA-1", ca_planned("NC-1", day(40), &sm)))
            },
            Rejection::PrecedesLink { .. }
        ),
        case!(
            "a nonconformity closes after its action was verified",
            |w| {
                completed_ca(w);
                let (sm, auditor) = (w.cast.sm.clone(), w.cast.auditor.clone());
                w.ok(&auditor, 12, ca("CA-1", ca_verified(true)));
                w.refuse(&sm, 11, nc("NC-1", nc_close("CA-1")))
            },
            Rejection::PrecedesLink { .. }
        ),
        case!(
            "an assessment uses the matrix in force when it was made",
            |w| {
                let (owner, sm) = (w.cast.owner.clone(), w.cast.sm.clone());
                w.ok(&owner, 1, risk("R-1", risk_identified(&sm)));
                w.ok(
                    &sm,
                    10,
                    Command::Matrix(
                        id("default"),
                        MatrixCommand::Define(MatrixDefined::default_5x5()),
                    ),
                );
                w.refuse(&owner, 5, risk("R-1", RiskCommand::Assess(rate(2, 2))))
            },
            Rejection::PrecedesLink { .. }
        ),
        case!(
            "a target improves on the baseline",
            |w| {
                let sm = w.cast.sm.clone();
                w.refuse(
                    &sm,
                    1,
                    Command::Objective(id("OBJ-1"), objective_set("40", "45", &sm)),
                )
            },
            Rejection::InvalidValue {
                field: "target",
                ..
            }
        ),
        // 6.3, 7.5 maker and checker
        case!(
            "a change is approved by someone other than its proposer",
            |w| {
                let sm = w.cast.sm.clone();
                w.ok(
                    &sm,
                    1,
                    Command::Change(
                        id("CHG-1"),
                        ChangeCommand::Propose(ChangeProposed {
                            title: t("x"),
                            reason: t("y"),
                            impact: t("z"),
                        }),
                    ),
                );
                w.refuse(
                    &sm,
                    2,
                    Command::Change(
                        id("CHG-1"),
                        ChangeCommand::Approve(ChangeNote { note: t("ok") }),
                    ),
                )
            },
            Rejection::SegregationOfDuties { .. }
        ),
        case!(
            "a change is implemented only after approval",
            |w| {
                let sm = w.cast.sm.clone();
                w.ok(
                    &sm,
                    1,
                    Command::Change(
                        id("CHG-1"),
                        ChangeCommand::Propose(ChangeProposed {
                            title: t("x"),
                            reason: t("y"),
                            impact: t("z"),
                        }),
                    ),
                );
                w.refuse(
                    &sm,
                    2,
                    Command::Change(
                        id("CHG-1"),
                        ChangeCommand::Implement(ChangeNote { note: t("done") }),
                    ),
                )
            },
            Rejection::InvalidState { .. }
        ),
        case!(
            "a document is approved by someone other than its issuer",
            |w| {
                let sm = w.cast.sm.clone();
                w.ok(
                    &sm,
                    1,
                    Command::Document(
                        id("DOC-1"),
                        DocumentCommand::Issue(DocumentIssued {
                            title: t("Manual"),
                            revision: 1,
                            content_hash: digest(),
                        }),
                    ),
                );
                w.refuse(
                    &sm,
                    2,
                    Command::Document(
                        id("DOC-1"),
                        DocumentCommand::Approve(DocumentApproved { revision: 1 }),
                    ),
                )
            },
            Rejection::SegregationOfDuties { .. }
        ),
        case!(
            "document revisions increase by one",
            |w| {
                let sm = w.cast.sm.clone();
                w.refuse(
                    &sm,
                    1,
                    Command::Document(
                        id("DOC-1"),
                        DocumentCommand::Issue(DocumentIssued {
                            title: t("Manual"),
                            revision: 2,
                            content_hash: digest(),
                        }),
                    ),
                )
            },
            Rejection::InvalidValue {
                field: "revision",
                ..
            }
        ),
        // 7.2 competence
        case!(
            "a training is valid no longer than its competence allows",
            |w| {
                let sm = w.cast.sm.clone();
                w.ok(
                    &sm,
                    1,
                    Command::Competence(
                        id("CMP-1"),
                        CompetenceCommand::Require(CompetenceRequired {
                            role: Role::new("staff").unwrap(),
                            title: t("Awareness"),
                            validity_days: 365,
                        }),
                    ),
                );
                let p = TrainingCompleted {
                    competence: id("CMP-1"),
                    valid_until: day(500),
                    evidence: t("cert"),
                };
                w.refuse(
                    &sm,
                    2,
                    Command::Person(id("alice"), PersonCommand::CompleteTraining(p)),
                )
            },
            Rejection::InvalidValue {
                field: "valid_until",
                ..
            }
        ),
        case!(
            "a training names a required competence",
            |w| {
                let sm = w.cast.sm.clone();
                let p = TrainingCompleted {
                    competence: id("CMP-404"),
                    valid_until: day(100),
                    evidence: t("cert"),
                };
                w.refuse(
                    &sm,
                    2,
                    Command::Person(id("alice"), PersonCommand::CompleteTraining(p)),
                )
            },
            Rejection::LinkMissing { .. }
        ),
        case!(
            "a training expires only once its validity ended",
            |w| {
                let sm = w.cast.sm.clone();
                w.ok(
                    &sm,
                    1,
                    Command::Competence(
                        id("CMP-1"),
                        CompetenceCommand::Require(CompetenceRequired {
                            role: Role::new("staff").unwrap(),
                            title: t("Awareness"),
                            validity_days: 365,
                        }),
                    ),
                );
                let p = TrainingCompleted {
                    competence: id("CMP-1"),
                    valid_until: day(100),
                    evidence: t("cert"),
                };
                w.ok(
                    &sm,
                    2,
                    Command::Person(id("alice"), PersonCommand::CompleteTraining(p)),
                );
                w.refuse(
                    &sm,
                    50,
                    Command::Person(
                        id("alice"),
                        PersonCommand::ExpireTraining(TrainingExpired {
                            competence: id("CMP-1"),
                        }),
                    ),
                )
            },
            Rejection::InvalidState { .. }
        ),
        case!(
            "a competence's validity is 1 to 3660 days",
            |w| {
                let sm = w.cast.sm.clone();
                w.refuse(
                    &sm,
                    1,
                    Command::Competence(
                        id("CMP-1"),
                        CompetenceCommand::Require(CompetenceRequired {
                            role: Role::new("staff").unwrap(),
                            title: t("Awareness"),
                            validity_days: 0,
                        }),
                    ),
                )
            },
            Rejection::InvalidValue {
                field: "validity_days",
                ..
            }
        ),
        // 9.3 management review
        case!(
            "a review is held only with its inputs sealed",
            |w| {
                let (sm, ceo) = (w.cast.sm.clone(), w.cast.ceo.clone());
                w.ok(&sm, 1, review("MR-1", review_scheduled(&ceo)));
                w.refuse(
                    &ceo,
                    30,
                    review(
                        "MR-1",
                        ReviewCommand::Hold(ReviewHeld {
                            attendees: vec![ceo.clone()],
                        }),
                    ),
                )
            },
            Rejection::ReviewIncomplete { .. }
        ),
        case!(
            "a review closes only with a decision",
            |w| {
                let (sm, ceo) = (w.cast.sm.clone(), w.cast.ceo.clone());
                w.ok(&sm, 1, review("MR-1", review_scheduled(&ceo)));
                w.ok(&sm, 29, review("MR-1", sealed(42)));
                w.ok(
                    &ceo,
                    30,
                    review(
                        "MR-1",
                        ReviewCommand::Hold(ReviewHeld {
                            attendees: vec![ceo.clone()],
                        }),
                    ),
                );
                w.refuse(
                    &sm,
                    31,
                    review("MR-1", ReviewCommand::Close(ReviewClosed { note: t("x") })),
                )
            },
            Rejection::ReviewIncomplete { .. }
        ),
        case!(
            "a review is held by top management",
            |w| {
                let (sm, ceo) = (w.cast.sm.clone(), w.cast.ceo.clone());
                w.ok(&sm, 1, review("MR-1", review_scheduled(&ceo)));
                w.ok(&sm, 29, review("MR-1", sealed(42)));
                w.refuse(
                    &sm,
                    30,
                    review(
                        "MR-1",
                        ReviewCommand::Hold(ReviewHeld {
                            attendees: vec![sm.clone()],
                        }),
                    ),
                )
            },
            Rejection::Unauthorized { .. }
        ),
        case!(
            "a sealed tree size is a safe integer",
            |w| {
                let (sm, ceo) = (w.cast.sm.clone(), w.cast.ceo.clone());
                w.ok(&sm, 1, review("MR-1", review_scheduled(&ceo)));
                w.refuse(&sm, 29, review("MR-1", sealed(1 << 53)))
            },
            Rejection::InvalidValue {
                field: "tree_size",
                ..
            }
        ),
        case!(
            "a review period starts before it ends",
            |w| {
                let (sm, ceo) = (w.cast.sm.clone(), w.cast.ceo.clone());
                let ReviewCommand::Schedule(mut p) = review_scheduled(&ceo) else {
                    unreachable!()
                };
                p.period_end = p.period_start;
                w.refuse(&sm, 1, review("MR-1", ReviewCommand::Schedule(p)))
            },
            Rejection::InvalidValue {
                field: "period",
                ..
            }
        ),
        // gap assessment, scope, plans, controls, communication
        case!(
            "a requirement is rated 0 to 4",
            |w| {
                let sm = w.cast.sm.clone();
                w.ok(
                    &sm,
                    1,
                    Command::Assessment(
                        id("GA-1"),
                        AssessmentCommand::Start(AssessmentStarted {
                            standard: c("ISO 28000:2022"),
                            scope: t("all"),
                        }),
                    ),
                );
                w.refuse(
                    &sm,
                    2,
                    Command::Assessment(
                        id("GA-1"),
                        AssessmentCommand::Rate(RequirementRated {
                            clause: c("4.1"),
                            rating: 5,
                            evidence: vec![],
                        }),
                    ),
                )
            },
            Rejection::InvalidValue {
                field: "rating",
                ..
            }
        ),
        case!(
            "an assessment completes only with a rating",
            |w| {
                let sm = w.cast.sm.clone();
                w.ok(
                    &sm,
                    1,
                    Command::Assessment(
                        id("GA-1"),
                        AssessmentCommand::Start(AssessmentStarted {
                            standard: c("ISO 28000:2022"),
                            scope: t("all"),
                        }),
                    ),
                );
                w.refuse(
                    &sm,
                    2,
                    Command::Assessment(
                        id("GA-1"),
                        AssessmentCommand::Complete { summary: t("x") },
                    ),
                )
            },
            Rejection::InvalidState { .. }
        ),
        case!(
            "a scope covers at least one site",
            |w| {
                let ceo = w.cast.ceo.clone();
                let p = ScopeStatement {
                    statement: t("x"),
                    sites: vec![],
                    activities: vec![],
                    nodes: vec![],
                    exclusions: vec![],
                };
                w.refuse(&ceo, 1, Command::Scope(id("sms"), ScopeCommand::Define(p)))
            },
            Rejection::InvalidValue { field: "sites", .. }
        ),
        case!(
            "a plan is exercised only once approved",
            |w| {
                let (sm, ceo) = (w.cast.sm.clone(), w.cast.ceo.clone());
                w.ok(
                    &ceo,
                    1,
                    Command::Plan(
                        id("PLAN-1"),
                        PlanCommand::Approve(PlanApproved {
                            title: t("Response"),
                            kind: PlanKind::Response,
                            revision: 1,
                        }),
                    ),
                );
                w.ok(
                    &sm,
                    2,
                    Command::Plan(
                        id("PLAN-1"),
                        PlanCommand::Revise(PlanRevised {
                            revision: 2,
                            changes: t("x"),
                        }),
                    ),
                );
                w.refuse(
                    &sm,
                    3,
                    Command::Plan(
                        id("PLAN-1"),
                        PlanCommand::Exercise(PlanExercised {
                            scenario: t("x"),
                            outcome: ExerciseOutcome::Satisfactory,
                            lessons: t("y"),
                        }),
                    ),
                )
            },
            Rejection::InvalidState { .. }
        ),
        case!(
            "a control is tested only once implemented",
            |w| {
                let sm = w.cast.sm.clone();
                w.ok(
                    &sm,
                    1,
                    Command::Control(
                        id("CTL-1"),
                        ControlCommand::Define(ControlDefined {
                            title: t("Seals"),
                            category: ControlCategory::Physical,
                            description: t("x"),
                            risks: vec![],
                        }),
                    ),
                );
                w.refuse(
                    &sm,
                    2,
                    Command::Control(
                        id("CTL-1"),
                        ControlCommand::Test(ControlTested {
                            result: TestResult::Effective,
                            notes: t("x"),
                        }),
                    ),
                )
            },
            Rejection::InvalidState { .. }
        ),
        case!(
            "a control treats risks that exist",
            |w| {
                let sm = w.cast.sm.clone();
                w.refuse(
                    &sm,
                    1,
                    Command::Control(
                        id("CTL-1"),
                        ControlCommand::Define(ControlDefined {
                            title: t("Seals"),
                            category: ControlCategory::Physical,
                            description: t("x"),
                            risks: vec![id("R-404")],
                        }),
                    ),
                )
            },
            Rejection::LinkMissing { .. }
        ),
        case!(
            "a communication to an authority is external",
            |w| {
                let sm = w.cast.sm.clone();
                let p = CommunicationSent {
                    audience: c("customs"),
                    channel: c("letter"),
                    subject: t("x"),
                    external: false,
                    authority: Some(c("customs")),
                };
                w.refuse(
                    &sm,
                    1,
                    Command::Communication(id("COM-1"), CommunicationCommand::Send(p)),
                )
            },
            Rejection::InvalidValue {
                field: "external",
                ..
            }
        ),
        case!(
            "a retired issue is not revised",
            |w| {
                let sm = w.cast.sm.clone();
                w.ok(
                    &sm,
                    1,
                    Command::Issue(
                        id("ISS-1"),
                        IssueCommand::Record(IssueRecorded {
                            title: t("x"),
                            origin: IssueOrigin::External,
                            description: t("y"),
                        }),
                    ),
                );
                w.ok(
                    &sm,
                    2,
                    Command::Issue(
                        id("ISS-1"),
                        IssueCommand::Retire(IssueRetired { reason: t("z") }),
                    ),
                );
                w.refuse(
                    &sm,
                    3,
                    Command::Issue(
                        id("ISS-1"),
                        IssueCommand::Revise(IssueRevised {
                            description: t("w"),
                        }),
                    ),
                )
            },
            Rejection::InvalidState { .. }
        ),
        case!(
            "an obligation's party exists",
            |w| {
                let sm = w.cast.sm.clone();
                let p = ObligationRecorded {
                    title: t("AEO"),
                    source: c("AEO"),
                    party: Some(id("PTY-404")),
                    next_review_due: day(90),
                };
                w.refuse(
                    &sm,
                    1,
                    Command::Obligation(id("OBL-1"), ObligationCommand::Record(p)),
                )
            },
            Rejection::LinkMissing { .. }
        ),
    ]
}

fn analysed_nc_at(w: &mut World, key: &str) {
    let sm = w.cast.sm.clone();
    w.ok(&sm, 12, nc(key, nc_raised()));
    w.ok(&sm, 12, nc(key, root_cause()));
}

#[test]
fn every_rule_refuses_with_its_own_rejection_and_writes_nothing() {
    let mut failures = Vec::new();
    let cases = rules();
    for (rule, run, expect) in &cases {
        let mut world = World::new();
        let rejection = run(&mut world);
        if !expect(&rejection) {
            failures.push(format!("{rule}: got {rejection:?}"));
        }
        // The message names the record as `<kind> <id>`.
        let message = rejection.to_string();
        assert!(
            message
                .split(':')
                .next()
                .is_some_and(|subject| subject.contains(' ')),
            "{rule}: {message}"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(cases.len() >= 60, "{} rules", cases.len());
}

#[test]
fn decide_refuses_a_state_of_another_kind() {
    let world = World::new();
    let role_state = world
        .sms
        .stream(&role_define(roles::AUDITOR).stream())
        .unwrap();
    let sm = world.cast.sm.clone();
    let ctx = world.sms.context(&sm, day(1));
    let r = decide(
        role_state,
        risk("R-1", RiskCommand::Assess(rate(1, 1))),
        &ctx,
    )
    .unwrap_err();
    assert!(matches!(r, Rejection::StreamMismatch { .. }), "{r}");
}

#[test]
fn acceptance_expiry_makes_a_risk_due_for_review() {
    let mut w = World::new();
    assessed_risk(&mut w, "R-1");
    let coo = w.cast.coo.clone();
    w.ok(
        &coo,
        3,
        risk(
            "R-1",
            RiskCommand::Accept(RiskAccepted {
                rationale: t("ok"),
                expires: Some(day(100)),
            }),
        ),
    );
    let Some(Body::Risk(r)) = w
        .sms
        .stream(&risk("R-1", RiskCommand::Assess(rate(1, 1))).stream())
        .map(StreamState::body)
    else {
        panic!()
    };
    assert!(!r.review_due(day(99)));
    assert!(r.review_due(day(100)));
}

#[test]
fn a_failed_screening_suspends_a_supplier_in_use() {
    let mut w = World::new();
    let sm = w.cast.sm.clone();
    w.ok(&sm, 1, supplier("SUP-1", onboarded(365)));
    w.ok(&sm, 2, supplier("SUP-1", screened(ScreeningResult::Pass)));
    w.ok(
        &sm,
        3,
        supplier("SUP-1", SupplierCommand::Approve(reason("ok"))),
    );
    let written = w.ok(&sm, 4, supplier("SUP-1", screened(ScreeningResult::Fail)));
    let types: Vec<&str> = written.iter().map(|e| e.event.event_type()).collect();
    assert_eq!(types, ["supplier.screened", "supplier.suspended"]);
    assert_eq!(
        written.iter().map(|e| e.version).collect::<Vec<_>>(),
        [4, 5]
    );
    let Some(Body::Supplier(s)) = w
        .sms
        .stream(&supplier("SUP-1", onboarded(365)).stream())
        .map(StreamState::body)
    else {
        panic!()
    };
    assert_eq!(s.status(), SupplierStatus::Suspended);
}

#[test]
fn unassigning_a_role_removes_the_authority() {
    let mut w = World::new();
    let (ceo, coo) = (w.cast.ceo.clone(), w.cast.coo.clone());
    assert!(w
        .sms
        .roles_of(&coo)
        .iter()
        .any(|r| r.as_str() == roles::RISK_ACCEPTANCE));
    w.ok(
        &ceo,
        1,
        Command::Role(
            id(roles::RISK_ACCEPTANCE),
            RoleCommand::Unassign(RoleAssignment {
                person: coo.clone(),
                area: None,
            }),
        ),
    );
    assert!(!w
        .sms
        .roles_of(&coo)
        .iter()
        .any(|r| r.as_str() == roles::RISK_ACCEPTANCE));
    assessed_risk(&mut w, "R-1");
    let r = w.refuse(
        &coo,
        3,
        risk(
            "R-1",
            RiskCommand::Accept(RiskAccepted {
                rationale: t("ok"),
                expires: None,
            }),
        ),
    );
    assert!(matches!(r, Rejection::Unauthorized { .. }));
}
