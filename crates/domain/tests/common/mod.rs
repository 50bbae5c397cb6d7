//! A small SMS for tests: roles assigned, the default matrix defined, and helpers that run
//! commands through the public API and check that a refusal writes nothing.
#![allow(dead_code, unreachable_pub)]

use custodia_domain::*;

pub fn actor(name: &str) -> Actor {
    Actor::new(format!("user:{name}@acme.example")).unwrap()
}
pub fn t(s: &str) -> Text {
    Text::new(s).unwrap()
}
pub fn c(s: &str) -> Code {
    Code::new(s).unwrap()
}
pub fn id(s: &str) -> RecordId {
    RecordId::new(s).unwrap()
}
pub fn dec(s: &str) -> Decimal {
    Decimal::new(s).unwrap()
}
pub fn digest() -> Digest {
    Digest::new("ab".repeat(32)).unwrap()
}

/// The people of the test SMS.
pub struct Cast {
    pub ceo: Actor,
    pub coo: Actor,
    pub sm: Actor,
    pub deputy: Actor,
    pub owner: Actor,
    pub auditor: Actor,
    pub handler: Actor,
    pub staff: Actor,
}

pub struct World {
    pub sms: Sms,
    pub cast: Cast,
    pub log: Vec<Envelope>,
}

pub fn day(n: i64) -> Timestamp {
    Timestamp::from_date(2026, 1, 1).unwrap().plus_days(n)
}

impl World {
    pub fn new() -> World {
        let cast = Cast {
            ceo: actor("ceo"),
            coo: actor("coo"),
            sm: actor("sm"),
            deputy: actor("deputy"),
            owner: actor("owner"),
            auditor: actor("auditor"),
            handler: actor("handler"),
            staff: actor("staff"),
        };
        let mut w = World {
            sms: Sms::new(),
            cast,
            log: Vec::new(),
        };
        let installer = Actor::new("service:setup").unwrap();
        w.ok(&installer, 0, role_define(roles::TOP_MANAGEMENT));
        w.ok(
            &installer,
            0,
            role_assign(roles::TOP_MANAGEMENT, &w.cast.ceo.clone(), None),
        );
        let grants = [
            (roles::TOP_MANAGEMENT, w.cast.coo.clone(), None),
            (roles::RISK_ACCEPTANCE, w.cast.coo.clone(), None),
            (roles::SECURITY_MANAGER, w.cast.sm.clone(), None),
            (roles::SECURITY_MANAGER, w.cast.deputy.clone(), None),
            (roles::RISK_OWNER, w.cast.owner.clone(), Some("europe")),
            (roles::AREA_OWNER, w.cast.owner.clone(), Some("europe")),
            (roles::AUDITOR, w.cast.auditor.clone(), None),
            (roles::INCIDENT_HANDLER, w.cast.handler.clone(), Some("NL")),
            (roles::STAFF, w.cast.staff.clone(), None),
        ];
        let ceo = w.cast.ceo.clone();
        for (role, person, area) in grants {
            if w.sms
                .stream(&Command::Role(id(role), RoleCommand::Define(role_defined())).stream())
                .is_none()
            {
                w.ok(&ceo, 0, role_define(role));
            }
            w.ok(&ceo, 0, role_assign(role, &person, area));
        }
        let sm = w.cast.sm.clone();
        w.ok(
            &sm,
            0,
            Command::Matrix(
                id("default"),
                MatrixCommand::Define(MatrixDefined::default_5x5()),
            ),
        );
        w
    }

    /// Runs a command that must be accepted.
    pub fn ok(&mut self, actor: &Actor, at: i64, command: Command) -> Vec<Envelope> {
        let envelopes = self
            .sms
            .execute(command.clone(), actor, day(at))
            .unwrap_or_else(|e| panic!("{command:?} by {actor} was refused: {e}"));
        self.log.extend(envelopes.iter().cloned());
        envelopes
    }

    /// Runs a command that must be refused; asserts that nothing changed.
    pub fn refuse(&mut self, actor: &Actor, at: i64, command: Command) -> Rejection {
        let stream = command.stream();
        let before = self.sms.stream(&stream).cloned();
        let count = self.sms.event_count();
        let result = self.sms.execute(command.clone(), actor, day(at));
        assert_eq!(
            self.sms.event_count(),
            count,
            "a refused command wrote events"
        );
        assert_eq!(
            self.sms.stream(&stream).cloned(),
            before,
            "a refused command changed state"
        );
        match result {
            Err(rejection) => rejection,
            Ok(events) => panic!("{command:?} was accepted: {events:?}"),
        }
    }
}

pub fn role_defined() -> RoleDefined {
    RoleDefined {
        title: t("a role"),
        responsibilities: vec![t("duties")],
        authorities: vec![t("decisions")],
    }
}
pub fn role_define(role: &str) -> Command {
    Command::Role(id(role), RoleCommand::Define(role_defined()))
}
pub fn role_assign(role: &str, person: &Actor, area: Option<&str>) -> Command {
    Command::Role(
        id(role),
        RoleCommand::Assign(RoleAssignment {
            person: person.clone(),
            area: area.map(c),
        }),
    )
}

pub fn risk(key: &str, cmd: RiskCommand) -> Command {
    Command::Risk(id(key), cmd)
}
pub fn risk_identified(owner: &Actor) -> RiskCommand {
    RiskCommand::Identify(RiskIdentified {
        title: t("Theft at truck stops"),
        threat: Threat::CargoTheft,
        vulnerability: t("Unguarded parking"),
        asset: t("Electronics loads"),
        node: c("HUB-DE"),
        owner: owner.clone(),
    })
}
pub fn rate(likelihood: u32, impact: u32) -> Rate {
    Rate {
        likelihood,
        impact,
        matrix: id("default"),
        rationale: t("history"),
    }
}
pub fn treatment(key: &str, due: Timestamp, owner: &Actor) -> RiskCommand {
    RiskCommand::PlanTreatment(TreatmentPlanned {
        treatment: id(key),
        option: TreatmentOption::Mitigate,
        description: t("Secure parking"),
        owner: owner.clone(),
        due,
        controls: vec![],
    })
}
pub fn incident(key: &str, cmd: IncidentCommand) -> Command {
    Command::Incident(id(key), cmd)
}
pub fn incident_reported(severity: Severity) -> IncidentCommand {
    IncidentCommand::Report(IncidentReported {
        title: t("Trailer stolen"),
        category: IncidentCategory::CargoTheft,
        severity,
        site: c("HUB-NL"),
        country: c("NL"),
        description: t("Trailer taken from the yard"),
    })
}
pub fn triaged(severity: Severity) -> IncidentCommand {
    IncidentCommand::Triage(IncidentTriaged {
        severity,
        notes: t("confirmed"),
    })
}
pub fn supplier(key: &str, cmd: SupplierCommand) -> Command {
    Command::Supplier(id(key), cmd)
}
pub fn onboarded(interval: u32) -> SupplierCommand {
    SupplierCommand::Onboard(SupplierOnboarded {
        name: t("Haulier BV"),
        country: c("NL"),
        category: c("haulier"),
        screening_interval_days: interval,
    })
}
pub fn screened(result: ScreeningResult) -> SupplierCommand {
    SupplierCommand::Screen(SupplierScreened {
        result,
        lists: vec![c("EU sanctions")],
        certifications: vec![c("AEO")],
    })
}
pub fn reason(s: &str) -> SupplierDecision {
    SupplierDecision { reason: t(s) }
}
pub fn nc(key: &str, cmd: NonconformityCommand) -> Command {
    Command::Nonconformity(id(key), cmd)
}
pub fn nc_raised() -> NonconformityCommand {
    NonconformityCommand::Raise(NonconformityRaised {
        description: t("Seal checks skipped"),
        clause: c("8.2"),
        grade: NcGrade::Minor,
        audit: None,
        incident: None,
    })
}
pub fn root_cause() -> NonconformityCommand {
    NonconformityCommand::IdentifyRootCause(RootCauseIdentified {
        root_cause: t("Not trained"),
        method: c("5 whys"),
    })
}
pub fn ca(key: &str, cmd: CorrectiveActionCommand) -> Command {
    Command::CorrectiveAction(id(key), cmd)
}
pub fn ca_planned(nc: &str, due: Timestamp, owner: &Actor) -> CorrectiveActionCommand {
    CorrectiveActionCommand::Plan(CorrectiveActionPlanned {
        nonconformity: id(nc),
        description: t("Retrain"),
        owner: owner.clone(),
        due,
    })
}
pub fn ca_completed() -> CorrectiveActionCommand {
    CorrectiveActionCommand::Complete(CorrectiveActionCompleted {
        evidence: t("records"),
    })
}
pub fn ca_verified(effective: bool) -> CorrectiveActionCommand {
    CorrectiveActionCommand::Verify(CorrectiveActionVerified {
        effective,
        notes: t("checked"),
    })
}
pub fn nc_close(ca: &str) -> NonconformityCommand {
    NonconformityCommand::Close(NonconformityClosed {
        corrective_action: id(ca),
        summary: t("done"),
    })
}
pub fn audit(key: &str, cmd: AuditCommand) -> Command {
    Command::Audit(id(key), cmd)
}
pub fn audit_planned(area: &str, auditor: &Actor, scheduled_for: Timestamp) -> AuditCommand {
    AuditCommand::Plan(AuditPlanned {
        area: c(area),
        kind: AuditKind::Internal,
        auditor: auditor.clone(),
        scheduled_for,
        criteria: vec![c("8.2")],
    })
}
pub fn policy(key: &str, cmd: PolicyCommand) -> Command {
    Command::Policy(id(key), cmd)
}
pub fn policy_drafted() -> PolicyCommand {
    PolicyCommand::Draft(PolicyDrafted {
        title: t("Security policy"),
        content_hash: digest(),
    })
}
pub fn review(key: &str, cmd: ReviewCommand) -> Command {
    Command::Review(id(key), cmd)
}
pub fn review_scheduled(chair: &Actor) -> ReviewCommand {
    ReviewCommand::Schedule(ReviewScheduled {
        period_start: day(-180),
        period_end: day(0),
        scheduled_for: day(30),
        chair: chair.clone(),
    })
}
pub fn sealed(tree_size: u64) -> ReviewCommand {
    ReviewCommand::SealInputs(ReviewInputsSealed {
        tree_size,
        root: digest(),
        pack_digest: digest(),
    })
}
pub fn objective_set(baseline: &str, target: &str, owner: &Actor) -> ObjectiveCommand {
    ObjectiveCommand::Set(ObjectiveSet {
        title: t("Cut cargo theft by 20 %"),
        metric: t("Cargo thefts per month"),
        unit: c("incidents/month"),
        baseline: dec(baseline),
        target: dec(target),
        direction: Direction::Decrease,
        due: day(365),
        owner: owner.clone(),
    })
}
pub fn measured(value: &str) -> ObjectiveCommand {
    ObjectiveCommand::Measure(ObjectiveMeasured {
        value: dec(value),
        period: c("2026-01"),
    })
}
