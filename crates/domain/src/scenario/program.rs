//! The year's content: who does what, when. Fixed programmes (roles, policy, risks, audits,
//! reviews) are scheduled up front; the parts that grow with `scale` (staff, suppliers,
//! incidents) are started day by day.

use super::{c, dec, id, role_id, t, user, Generator, ScenarioError};
use crate::event::Envelope;
use crate::ids::{roles, Actor, Code, RecordId};
use crate::kinds::*;
use crate::state::Command;
use crate::time::Timestamp;

/// The scenario runs from Monday 2025-01-06 to mid-January 2026.
const DAYS: i64 = 376;
const REGIONS: [(&str, &[&str]); 4] = [
    ("americas", &["US", "MX", "BR", "CA", "CL", "CO"]),
    (
        "europe",
        &["GB", "NL", "DE", "FR", "BE", "ES", "IT", "PL", "TR"],
    ),
    ("mea", &["AE", "SA", "EG", "ZA", "KE", "NG"]),
    (
        "apac",
        &["IN", "SG", "MY", "ID", "TH", "VN", "CN", "JP", "AU"],
    ),
];
/// Monthly cargo thefts per scale unit: baseline 40, target 32 (−20 %), December 30 (−25 %).
const THEFT_BASELINE: i64 = 40;
const THEFT_TARGET: i64 = 32;
const THEFT_FINAL: i64 = 30;

/// The people of the scenario.
pub(super) struct Cast {
    installer: Actor,
    ceo: Actor,
    coo: Actor,
    sm: Actor,
    deputy: Actor,
    auditor: Actor,
    lead: Actor,
    owners: Vec<(&'static str, Actor)>,
    handlers: Vec<(&'static str, Actor)>,
}

impl Cast {
    fn new() -> Cast {
        let owners = REGIONS
            .iter()
            .map(|(r, _)| (*r, user(&format!("risk.owner.{r}"))))
            .collect();
        let handlers = countries()
            .map(|cc| (cc, user(&format!("handler.{}", cc.to_lowercase()))))
            .collect();
        Cast {
            installer: Actor::new("service:custodia-setup").expect("actor"),
            ceo: user("amara.okafor.ceo"),
            coo: user("lars.berg.coo"),
            sm: user("sofia.reyes.security"),
            deputy: user("kenji.mori.security"),
            auditor: user("ines.duarte.audit"),
            lead: Actor::new("user:lead.auditor@certbody.example").expect("actor"),
            owners,
            handlers,
        }
    }
    fn owner(&self, region: &str) -> &Actor {
        &self
            .owners
            .iter()
            .find(|(r, _)| *r == region)
            .expect("region")
            .1
    }
    fn handler(&self, country: &str) -> &Actor {
        &self
            .handlers
            .iter()
            .find(|(c, _)| *c == country)
            .expect("country")
            .1
    }
}

fn countries() -> impl Iterator<Item = &'static str> {
    REGIONS.iter().flat_map(|(_, cs)| cs.iter().copied())
}

fn region_of(country: &str) -> &'static str {
    REGIONS
        .iter()
        .find(|(_, cs)| cs.contains(&country))
        .map(|(r, _)| *r)
        .expect("known country")
}

/// Counters for record ids.
#[derive(Default)]
struct Ids {
    incident: u32,
    supplier: u32,
    nc: u32,
    ca: u32,
    communication: u32,
    improvement: u32,
}

fn next(counter: &mut u32, prefix: &str) -> RecordId {
    *counter += 1;
    id(format!("{prefix}-{:05}", *counter))
}

pub(super) fn run<F: FnMut(&Envelope)>(g: &mut Generator<F>) -> Result<(), ScenarioError> {
    let cast = Cast::new();
    let mut ids = Ids::default();
    let thefts = theft_curve(g);
    foundations(g, &cast);
    policy_and_competence(g, &cast);
    risks_and_controls(g, &cast);
    objectives(g, &cast, &thefts);
    plans(g, &cast);
    documents(g, &cast);
    changes(g, &cast);
    gap_assessment(g, &cast, "GA-2025-02", 240, (2, 4));
    audits(g, &cast, &mut ids);
    reviews(g, &cast, &mut ids);
    for day in 0..DAYS {
        start_staff(g, &cast, day);
        start_suppliers(g, &cast, &mut ids, day);
        start_incidents(g, &cast, &mut ids, &thefts, day);
        monthly(g, &cast, &mut ids, day);
        g.run_until(g.at(day + 1, 0))?;
    }
    g.finish();
    Ok(())
}

/// Monthly cargo thefts, January to December: a noisy fall from the baseline to the final value.
fn theft_curve<F>(g: &mut Generator<F>) -> Vec<i64> {
    let s = i64::from(g.scale);
    (0..12)
        .map(|m| {
            if m == 11 {
                return THEFT_FINAL * s;
            }
            let trend = THEFT_BASELINE * s - (THEFT_BASELINE - THEFT_FINAL) * s * (m + 1) / 12;
            trend + g.rng.range(-2 * s, 2 * s)
        })
        .collect()
}

/// First scenario day of calendar month `m` (0 = January 2025).
fn month_start<F>(g: &Generator<F>, m: i64) -> i64 {
    let (y, mo) = (2025 + (m / 12) as i32, (m % 12 + 1) as u32);
    let first = Timestamp::from_date(y, mo, 1).expect("valid date");
    first.days_since(g.at(0, 0)).max(0)
}

fn role(name: &str, cmd: RoleCommand) -> Command {
    Command::Role(role_id(name), cmd)
}

fn assign(person: &Actor, area: Option<&str>) -> RoleCommand {
    RoleCommand::Assign(RoleAssignment {
        person: person.clone(),
        area: area.map(c),
    })
}

fn foundations<F: FnMut(&Envelope)>(g: &mut Generator<F>, cast: &Cast) {
    let at0 = g.at(0, 8 * 60);
    let define = |title: &str| {
        RoleCommand::Define(RoleDefined {
            title: t(title),
            responsibilities: vec![t(format!("Carry out the duties of the {title} in the SMS"))],
            authorities: vec![t(format!("Decide what ISO 28000 assigns to the {title}"))],
        })
    };
    g.schedule(
        at0,
        &cast.installer,
        role(roles::TOP_MANAGEMENT, define("top management")),
    );
    g.schedule(
        at0,
        &cast.installer,
        role(roles::TOP_MANAGEMENT, assign(&cast.ceo, None)),
    );
    let mut minute = 9 * 60;
    for name in super::ROLE_NAMES.iter().skip(1) {
        g.schedule(
            g.at(0, minute),
            &cast.ceo,
            role(name, define(&name.replace('_', " "))),
        );
        minute += 1;
    }
    let mut grants: Vec<(&str, &Actor, Option<&str>)> = vec![
        (roles::TOP_MANAGEMENT, &cast.coo, None),
        (roles::RISK_ACCEPTANCE, &cast.coo, None),
        (roles::SECURITY_MANAGER, &cast.sm, None),
        (roles::SECURITY_MANAGER, &cast.deputy, None),
        (roles::AUDITOR, &cast.auditor, None),
    ];
    for (region, owner) in &cast.owners {
        grants.push((roles::RISK_OWNER, owner, Some(region)));
        grants.push((roles::AREA_OWNER, owner, Some(region)));
    }
    for (country, handler) in &cast.handlers {
        grants.push((roles::INCIDENT_HANDLER, handler, Some(country)));
    }
    for (name, person, area) in grants {
        g.schedule(g.at(0, minute), &cast.ceo, role(name, assign(person, area)));
        minute += 1;
    }
    context_register(g, cast);
    let matrix = MatrixCommand::Define(MatrixDefined::default_5x5());
    g.schedule(
        g.at(0, 11 * 60),
        &cast.sm,
        Command::Matrix(id("default"), matrix),
    );
    gap_assessment(g, cast, "GA-2025-01", 1, (0, 2));
}

fn context_register<F: FnMut(&Envelope)>(g: &mut Generator<F>, cast: &Cast) {
    let scope = ScopeStatement {
        statement: t("Road, sea and air freight, warehousing and customs brokerage of electronics, pharmaceuticals and consumer goods by GlobalLogistics in 30 countries"),
        sites: countries().map(|cc| c(format!("HUB-{cc}"))).collect(),
        activities: vec![t("Road transport"), t("Ocean freight"), t("Air freight"), t("Warehousing"), t("Customs brokerage")],
        nodes: vec![c("NLRTM"), c("SGSIN"), c("AEJEA"), c("USLAX"), c("DEHAM")],
        exclusions: vec![t("Parcel last-mile delivery operated by franchise partners")],
    };
    g.schedule(
        g.at(0, 10 * 60),
        &cast.ceo,
        Command::Scope(id("sms"), ScopeCommand::Define(scope.clone())),
    );
    let mut revised = scope;
    revised.nodes.push(c("MYPKG"));
    revised.statement =
        t("As defined in January, extended to the Port Klang cross-dock opened in July");
    g.schedule(
        g.at(182, 10 * 60),
        &cast.ceo,
        Command::Scope(id("sms"), ScopeCommand::Revise(revised)),
    );
    let issues = [
        (
            "ISS-001",
            IssueOrigin::External,
            "Organized cargo crime on European highway parking",
            "Truck-stop thefts of electronics rose sharply in 2024",
        ),
        (
            "ISS-002",
            IssueOrigin::External,
            "Piracy resurgence in the Gulf of Aden",
            "Attacks on merchant vessels resumed; war-risk premiums rose",
        ),
        (
            "ISS-003",
            IssueOrigin::External,
            "EU GDP and serialization rules for pharmaceuticals",
            "Tampering must be detectable along the cold chain",
        ),
        (
            "ISS-004",
            IssueOrigin::Internal,
            "Staff turnover at hubs",
            "High turnover weakens access control and awareness",
        ),
        (
            "ISS-005",
            IssueOrigin::External,
            "ICS2 advance cargo information regime",
            "Customs expects complete pre-loading data",
        ),
        (
            "ISS-006",
            IssueOrigin::Internal,
            "Legacy TMS without event logging",
            "Shipment changes are not traceable to users",
        ),
    ];
    for (n, (key, origin, title, description)) in issues.into_iter().enumerate() {
        let p = IssueRecorded {
            title: t(title),
            origin,
            description: t(description),
        };
        g.schedule(
            g.at(1, 9 * 60 + n as i64),
            &cast.sm,
            Command::Issue(id(key), IssueCommand::Record(p)),
        );
    }
    let revise = IssueRevised {
        description: t("Thefts continue but fell after TAPA TSR parking was mandated"),
    };
    g.schedule(
        g.at(200, 9 * 60),
        &cast.sm,
        Command::Issue(id("ISS-001"), IssueCommand::Revise(revise)),
    );
    let retire = IssueRetired {
        reason: t("New TMS with full audit trail went live"),
    };
    g.schedule(
        g.at(300, 9 * 60),
        &cast.sm,
        Command::Issue(id("ISS-006"), IssueCommand::Retire(retire)),
    );
    parties(g, cast);
    obligations(g, cast);
}

fn parties<F: FnMut(&Envelope)>(g: &mut Generator<F>, cast: &Cast) {
    let parties = [
        (
            "PTY-EU-CUSTOMS",
            "EU customs authorities",
            "regulator",
            "AEO security criteria",
        ),
        (
            "PTY-US-CBP",
            "US Customs and Border Protection",
            "regulator",
            "C-TPAT minimum security criteria",
        ),
        (
            "PTY-PHARMA",
            "Key pharmaceutical customer",
            "customer",
            "GDP-compliant, tamper-evident transport",
        ),
        (
            "PTY-ELECTRONICS",
            "Key electronics customer",
            "customer",
            "TAPA FSR A warehouses and TSR 1 trucking",
        ),
        (
            "PTY-INSURER",
            "Cargo insurer",
            "insurer",
            "Theft losses reported within 24 hours",
        ),
        (
            "PTY-PORTS",
            "Port facility operators",
            "partner",
            "ISPS Code access control",
        ),
    ];
    for (n, (key, name, category, requirement)) in parties.into_iter().enumerate() {
        let p = PartyRecorded {
            name: t(name),
            category: c(category),
            requirements: vec![t(requirement)],
        };
        g.schedule(
            g.at(1, 10 * 60 + n as i64),
            &cast.sm,
            Command::Party(id(key), PartyCommand::Record(p)),
        );
    }
}

fn obligations<F: FnMut(&Envelope)>(g: &mut Generator<F>, cast: &Cast) {
    let obligations = [
        (
            "OBL-AEO",
            "Authorised Economic Operator (security and safety)",
            "AEO",
            Some("PTY-EU-CUSTOMS"),
        ),
        (
            "OBL-CTPAT",
            "Customs-Trade Partnership Against Terrorism",
            "C-TPAT",
            Some("PTY-US-CBP"),
        ),
        (
            "OBL-ISPS",
            "International Ship and Port Facility Security Code",
            "ISPS",
            Some("PTY-PORTS"),
        ),
        (
            "OBL-TAPA-FSR",
            "TAPA Facility Security Requirements",
            "TAPA FSR",
            Some("PTY-ELECTRONICS"),
        ),
        (
            "OBL-TAPA-TSR",
            "TAPA Trucking Security Requirements",
            "TAPA TSR",
            Some("PTY-ELECTRONICS"),
        ),
        (
            "OBL-GDP",
            "EU Good Distribution Practice for medicines",
            "EU GDP",
            Some("PTY-PHARMA"),
        ),
        (
            "OBL-LEGACY",
            "National bonded-warehouse licence (closed site)",
            "Customs licence",
            None,
        ),
    ];
    for (n, (key, title, source, party)) in obligations.into_iter().enumerate() {
        let at = g.at(2, 9 * 60 + n as i64);
        let p = ObligationRecorded {
            title: t(title),
            source: c(source),
            party: party.map(id),
            next_review_due: at.plus_days(90),
        };
        g.schedule(
            at,
            &cast.sm,
            Command::Obligation(id(key), ObligationCommand::Record(p)),
        );
        if key == "OBL-LEGACY" {
            let p = ObligationRetired {
                reason: t("Bonded warehouse closed"),
            };
            g.schedule(
                g.at(60, 9 * 60),
                &cast.sm,
                Command::Obligation(id(key), ObligationCommand::Retire(p)),
            );
            continue;
        }
        for quarter in 1..=3 {
            let at = g.at(2 + 90 * quarter - 3, 9 * 60 + n as i64);
            let compliant = !(key == "OBL-TAPA-TSR" && quarter == 1);
            let notes = if compliant {
                "Requirements met; evidence on file"
            } else {
                "Two lanes still without TSR-compliant parking"
            };
            let p = ObligationReviewed {
                compliant,
                notes: t(notes),
                next_review_due: at.plus_days(90),
            };
            g.schedule(
                at,
                &cast.sm,
                Command::Obligation(id(key), ObligationCommand::Review(p)),
            );
        }
    }
}

const CLAUSES: [&str; 24] = [
    "4.1", "4.2", "4.3", "4.4", "5.1", "5.2", "5.3", "6.1", "6.2", "6.3", "7.1", "7.2", "7.3",
    "7.4", "7.5", "8.1", "8.2", "8.3", "8.4", "8.5", "9.1", "9.2", "9.3", "10.2",
];

fn gap_assessment<F: FnMut(&Envelope)>(
    g: &mut Generator<F>,
    cast: &Cast,
    key: &str,
    day: i64,
    band: (i64, i64),
) {
    let start = AssessmentStarted {
        standard: c("ISO 28000:2022"),
        scope: t("The whole SMS as scoped"),
    };
    g.schedule(
        g.at(day, 9 * 60),
        &cast.sm,
        Command::Assessment(id(key), AssessmentCommand::Start(start)),
    );
    for (n, clause) in CLAUSES.iter().enumerate() {
        let rating = g.rng.range(band.0, band.1) as u32;
        let evidence = vec![t(format!("Interviews and records for clause {clause}"))];
        let p = RequirementRated {
            clause: c(*clause),
            rating,
            evidence,
        };
        let at = g.at(day + 1 + n as i64 / 6, 9 * 60 + n as i64);
        g.schedule(
            at,
            &cast.sm,
            Command::Assessment(id(key), AssessmentCommand::Rate(p)),
        );
    }
    let summary = t("Readiness against every requirement, with evidence");
    g.schedule(
        g.at(day + 6, 12 * 60),
        &cast.sm,
        Command::Assessment(id(key), AssessmentCommand::Complete { summary }),
    );
}

fn policy_and_competence<F: FnMut(&Envelope)>(g: &mut Generator<F>, cast: &Cast) {
    for (key, day, title) in [
        ("POL-001", 5, "Supply chain security policy"),
        ("POL-002", 230, "Supply chain security policy, revision 2"),
    ] {
        let draft = PolicyDrafted {
            title: t(title),
            content_hash: g.digest(),
        };
        let drafted = g.during(day);
        g.schedule(
            drafted,
            &cast.sm,
            Command::Policy(id(key), PolicyCommand::Draft(draft)),
        );
        let approve = PolicyApproved {
            note: Some(t("Approved by the executive board")),
        };
        g.schedule(
            g.at(day + 2, 10 * 60),
            &cast.ceo,
            Command::Policy(id(key), PolicyCommand::Approve(approve)),
        );
        let publish = PolicyPublished {
            channels: vec![c("intranet"), c("hub notice boards"), c("supplier portal")],
        };
        g.schedule(
            g.at(day + 3, 9 * 60),
            &cast.sm,
            Command::Policy(id(key), PolicyCommand::Publish(publish)),
        );
    }
    let supersede = PolicySuperseded { by: id("POL-002") };
    g.schedule(
        g.at(233, 9 * 60 + 5),
        &cast.ceo,
        Command::Policy(id("POL-001"), PolicyCommand::Supersede(supersede)),
    );
    let competences = [
        (
            "CMP-AWARE",
            roles::STAFF,
            "Supply chain security awareness",
            365,
        ),
        (
            "CMP-INCIDENT",
            roles::INCIDENT_HANDLER,
            "Incident response and evidence preservation",
            180,
        ),
        (
            "CMP-AUDIT",
            roles::AUDITOR,
            "ISO 28000 internal auditing",
            730,
        ),
    ];
    for (n, (key, role, title, validity_days)) in competences.into_iter().enumerate() {
        let p = CompetenceRequired {
            role: crate::ids::Role::new(role).expect("role"),
            title: t(title),
            validity_days,
        };
        g.schedule(
            g.at(3, 9 * 60 + n as i64),
            &cast.sm,
            Command::Competence(id(key), CompetenceCommand::Require(p)),
        );
    }
    handler_training(g, cast);
}

fn person_of(actor: &Actor) -> RecordId {
    let name = actor.as_str().split_once(':').map_or("", |(_, n)| n);
    id(name.split('@').next().unwrap_or(name))
}

fn training(
    g: &mut Generator<impl FnMut(&Envelope)>,
    by: &Actor,
    who: &Actor,
    competence: &str,
    at: Timestamp,
    days: i64,
) {
    let p = TrainingCompleted {
        competence: id(competence),
        valid_until: at.plus_days(days),
        evidence: t("Course attendance record and test result"),
    };
    g.schedule(
        at,
        by,
        Command::Person(person_of(who), PersonCommand::CompleteTraining(p)),
    );
}

/// Incident training lasts 180 days: most handlers renew, some let it lapse and it is recorded expired.
fn handler_training<F: FnMut(&Envelope)>(g: &mut Generator<F>, cast: &Cast) {
    for (n, (_, handler)) in cast.handlers.iter().enumerate() {
        let first = g.at(10 + n as i64 % 20, 14 * 60);
        training(g, &cast.sm, handler, "CMP-INCIDENT", first, 180);
        if g.rng.chance(80) {
            training(
                g,
                &cast.sm,
                handler,
                "CMP-INCIDENT",
                first.plus_days(175),
                180,
            );
        } else {
            let p = TrainingExpired {
                competence: id("CMP-INCIDENT"),
            };
            g.schedule(
                first.plus_days(183),
                &cast.sm,
                Command::Person(person_of(handler), PersonCommand::ExpireTraining(p)),
            );
        }
    }
    for auditor in [&cast.auditor, &cast.lead] {
        training(g, &cast.sm, auditor, "CMP-AUDIT", g.at(4, 15 * 60), 730);
    }
}

fn start_staff<F: FnMut(&Envelope)>(g: &mut Generator<F>, cast: &Cast, day: i64) {
    // Staff join over the first four weeks, 300 per scale unit.
    let total = 300 * i64::from(g.scale);
    let (from, to) = (total * day / 28, total * (day + 1) / 28);
    for n in from..to.min(total) {
        let person = user(&format!("staff.{n:06}"));
        // The staff role is defined on day 0, so joins start on day 1; HR onboarding runs
        // under the COO's authority.
        let join = g.during(day + 1);
        g.schedule(
            join,
            &cast.coo,
            role(
                roles::STAFF,
                RoleCommand::Assign(RoleAssignment {
                    person: person.clone(),
                    area: None,
                }),
            ),
        );
        if g.rng.chance(93) {
            let ack_day = day.max(8) + g.rng.range(1, 45);
            let ack = g.during(ack_day);
            g.schedule(
                ack,
                &person,
                Command::Policy(id("POL-001"), PolicyCommand::Acknowledge),
            );
        }
        if g.rng.chance(88) {
            let day = day + g.rng.range(14, 200);
            let at = g.during(day);
            training(g, &cast.sm, &person, "CMP-AWARE", at, 365);
        }
        if g.rng.chance(85) {
            let ack_day = 234 + g.rng.range(0, 90);
            let ack = g.during(ack_day);
            g.schedule(
                ack,
                &person,
                Command::Policy(id("POL-002"), PolicyCommand::Acknowledge),
            );
        }
        if n % 97 == 5 {
            let leave_day = day + 150 + g.rng.range(0, 100);
            let leave = g.during(leave_day);
            g.schedule(
                leave,
                &cast.coo,
                role(
                    roles::STAFF,
                    RoleCommand::Unassign(RoleAssignment { person, area: None }),
                ),
            );
        }
    }
}

struct RiskSeed {
    title: &'static str,
    threat: Threat,
    vulnerability: &'static str,
    asset: &'static str,
    country: &'static str,
    likelihood: u32,
    impact: u32,
    treatment: &'static str,
    control: &'static str,
}

const RISKS: [RiskSeed; 10] = [
    RiskSeed {
        title: "Theft of electronics from trucks at unsecured parking",
        threat: Threat::CargoTheft,
        vulnerability: "Drivers rest at unguarded truck stops",
        asset: "High-value electronics loads",
        country: "DE",
        likelihood: 5,
        impact: 4,
        treatment: "Mandate TAPA TSR secure parking and two-driver teams",
        control: "CTL-PARKING",
    },
    RiskSeed {
        title: "Warehouse theft by organized groups",
        threat: Threat::CargoTheft,
        vulnerability: "Perimeter without intrusion detection",
        asset: "Consumer goods inventory",
        country: "US",
        likelihood: 4,
        impact: 4,
        treatment: "Install intrusion detection and CCTV analytics",
        control: "CTL-CCTV",
    },
    RiskSeed {
        title: "Hijacking of trucks on Mexican highways",
        threat: Threat::CargoTheft,
        vulnerability: "Predictable routes and schedules",
        asset: "Electronics in transit",
        country: "MX",
        likelihood: 5,
        impact: 5,
        treatment: "GPS tracking with geofence alerts and armed escort on red lanes",
        control: "CTL-GPS",
    },
    RiskSeed {
        title: "Narcotics smuggled in containers through Rotterdam",
        threat: Threat::Smuggling,
        vulnerability: "Seal integrity not checked at transshipment",
        asset: "Ocean containers",
        country: "NL",
        likelihood: 3,
        impact: 5,
        treatment: "Seal verification and container inspection at transshipment",
        control: "CTL-SEALS",
    },
    RiskSeed {
        title: "Tampering with temperature-controlled pharmaceuticals",
        threat: Threat::Tampering,
        vulnerability: "Cold-chain packages opened at cross-docks",
        asset: "Pharmaceutical shipments",
        country: "IN",
        likelihood: 3,
        impact: 5,
        treatment: "Tamper-evident packaging and data loggers",
        control: "CTL-TAMPER",
    },
    RiskSeed {
        title: "Piracy in the Gulf of Aden",
        threat: Threat::Piracy,
        vulnerability: "Vessels transit the high-risk area",
        asset: "Chartered vessels and cargo",
        country: "AE",
        likelihood: 3,
        impact: 5,
        treatment: "BMP5 measures, convoy transit and armed guards",
        control: "CTL-BMP",
    },
    RiskSeed {
        title: "Armed robbery in the Strait of Malacca",
        threat: Threat::Piracy,
        vulnerability: "Slow steaming at night in narrow lanes",
        asset: "Feeder vessels",
        country: "SG",
        likelihood: 3,
        impact: 4,
        treatment: "Avoid night transits; reroute feeders",
        control: "CTL-BMP",
    },
    RiskSeed {
        title: "Counterfeit electronics inserted by subcontractors",
        threat: Threat::Counterfeiting,
        vulnerability: "Unscreened subcontracted hauliers",
        asset: "Electronics supply chain",
        country: "CN",
        likelihood: 3,
        impact: 4,
        treatment: "Screen and tier all subcontractors",
        control: "CTL-VETTING",
    },
    RiskSeed {
        title: "Insider collusion at cross-docks",
        threat: Threat::Insider,
        vulnerability: "No background checks for temporary staff",
        asset: "Cross-dock operations",
        country: "BR",
        likelihood: 4,
        impact: 3,
        treatment: "Background checks and rotation of duties",
        control: "CTL-VETTING",
    },
    RiskSeed {
        title: "GPS jamming and TMS compromise",
        threat: Threat::Cyber,
        vulnerability: "Unauthenticated telematics",
        asset: "Tracking and dispatch systems",
        country: "GB",
        likelihood: 3,
        impact: 4,
        treatment: "Jamming detection and TMS hardening",
        control: "CTL-GPS",
    },
];

const CONTROLS: [(&str, ControlCategory, &str); 8] = [
    (
        "CTL-PARKING",
        ControlCategory::Physical,
        "TAPA TSR secure parking",
    ),
    (
        "CTL-CCTV",
        ControlCategory::Technical,
        "Intrusion detection and CCTV analytics",
    ),
    (
        "CTL-GPS",
        ControlCategory::Technical,
        "GPS tracking with geofence and jamming alerts",
    ),
    (
        "CTL-SEALS",
        ControlCategory::Physical,
        "ISO 17712 high-security seals with verification",
    ),
    (
        "CTL-TAMPER",
        ControlCategory::Physical,
        "Tamper-evident packaging with data loggers",
    ),
    (
        "CTL-BMP",
        ControlCategory::Administrative,
        "Maritime security measures (BMP5)",
    ),
    (
        "CTL-VETTING",
        ControlCategory::Administrative,
        "Personnel and subcontractor vetting",
    ),
    (
        "CTL-ESCORT",
        ControlCategory::Physical,
        "Armed escort for Malacca night transits",
    ),
];

fn risks_and_controls<F: FnMut(&Envelope)>(g: &mut Generator<F>, cast: &Cast) {
    let extra = 8 * (i64::from(g.scale) - 1);
    let all: Vec<&'static str> = countries().collect();
    for n in 0..RISKS.len() as i64 + extra {
        let seed = &RISKS[n as usize % RISKS.len()];
        let country = if n < RISKS.len() as i64 {
            seed.country
        } else {
            *g.rng.pick(&all)
        };
        identify_and_assess(g, cast, n, seed, country);
    }
    for (n, (key, category, title)) in CONTROLS.iter().enumerate() {
        let risks = RISKS
            .iter()
            .enumerate()
            .filter(|(_, r)| r.control == *key)
            .map(|(i, _)| risk_id(i as i64))
            .collect();
        let p = ControlDefined {
            title: t(*title),
            category: *category,
            description: t(format!("{title}, applied across the network")),
            risks,
        };
        g.schedule(
            g.at(21, 9 * 60 + n as i64),
            &cast.sm,
            Command::Control(id(*key), ControlCommand::Define(p)),
        );
        let implemented = 30 + 7 * n as i64;
        let p = ControlImplemented {
            evidence: t("Rollout report signed off by site managers"),
        };
        g.schedule(
            g.at(implemented, 16 * 60),
            &cast.sm,
            Command::Control(id(*key), ControlCommand::Implement(p)),
        );
        if *key == "CTL-ESCORT" {
            let p = ControlRetired {
                reason: t("Night transits ended; measure folded into routing rules"),
            };
            g.schedule(
                g.at(implemented + 100, 9 * 60),
                &cast.sm,
                Command::Control(id(*key), ControlCommand::Retire(p)),
            );
            continue;
        }
        for quarter in 1..=3 {
            let ineffective = *key == "CTL-SEALS" && quarter == 1;
            let result = if ineffective {
                TestResult::Ineffective
            } else {
                TestResult::Effective
            };
            let notes = if ineffective {
                "Seal numbers not checked at two transshipment points"
            } else {
                "Sample test passed"
            };
            let p = ControlTested {
                result,
                notes: t(notes),
            };
            g.schedule(
                g.at(implemented + 90 * quarter, 11 * 60),
                &cast.deputy,
                Command::Control(id(*key), ControlCommand::Test(p)),
            );
        }
    }
}

fn risk_id(n: i64) -> RecordId {
    id(format!("R-{:04}", n + 1))
}

fn identify_and_assess<F: FnMut(&Envelope)>(
    g: &mut Generator<F>,
    cast: &Cast,
    n: i64,
    seed: &RiskSeed,
    country: &str,
) {
    let key = risk_id(n);
    let owner = cast.owner(region_of(country)).clone();
    let cmd = |c: RiskCommand| Command::Risk(key.clone(), c);
    let p = RiskIdentified {
        title: t(seed.title),
        threat: seed.threat,
        vulnerability: t(seed.vulnerability),
        asset: t(seed.asset),
        node: c(format!("HUB-{country}")),
        owner: owner.clone(),
    };
    // Base risks come first; the scaled ones after the controls they rely on exist (day 21).
    let day = if n < RISKS.len() as i64 {
        14 + n % 5
    } else {
        22 + n % 5
    };
    g.schedule(g.at(day, 9 * 60), &owner, cmd(RiskCommand::Identify(p)));
    let rate = |likelihood, impact, why: &str| Rate {
        likelihood,
        impact,
        matrix: id("default"),
        rationale: t(why),
    };
    let inherent = rate(
        seed.likelihood,
        seed.impact,
        "Incident history and threat intelligence for the node",
    );
    g.schedule(
        g.at(day + 3, 10 * 60),
        &owner,
        cmd(RiskCommand::Assess(inherent)),
    );
    let due = g.at(day + 60 + n % 90, 17 * 60);
    let controls = if n < RISKS.len() as i64 {
        vec![]
    } else {
        vec![id(seed.control)]
    };
    let option = if seed.threat == Threat::Piracy && seed.country == "SG" {
        TreatmentOption::Avoid
    } else {
        TreatmentOption::Mitigate
    };
    let plan = TreatmentPlanned {
        treatment: id("T1"),
        option,
        description: t(seed.treatment),
        owner: owner.clone(),
        due,
        controls,
    };
    g.schedule(
        g.at(day + 5, 10 * 60),
        &owner,
        cmd(RiskCommand::PlanTreatment(plan)),
    );
    // One treatment per scale unit stays open all year: the register shows it as active.
    if n % 10 == 9 {
        return;
    }
    let done = due.plus_days(-g.rng.range(1, 20));
    let complete = TreatmentCompleted {
        treatment: id("T1"),
        evidence: t("Implementation verified on site"),
    };
    g.schedule(done, &owner, cmd(RiskCommand::CompleteTreatment(complete)));
    let residual = rate(
        seed.likelihood.saturating_sub(2).max(1),
        seed.impact.saturating_sub(1).max(1),
        "After treatment",
    );
    g.schedule(
        done.plus_days(2),
        &owner,
        cmd(RiskCommand::AssessResidual(residual)),
    );
    if option == TreatmentOption::Avoid {
        let close = RiskClosed {
            reason: t("Activity avoided: feeders rerouted away from night transits"),
        };
        g.schedule(done.plus_days(10), &cast.sm, cmd(RiskCommand::Close(close)));
        return;
    }
    let accepted = done.plus_days(5);
    let accept = RiskAccepted {
        rationale: t("Residual risk within appetite"),
        expires: Some(accepted.plus_days(180)),
    };
    g.schedule(accepted, &cast.coo, cmd(RiskCommand::Accept(accept)));
    let mut review = done.plus_days(90);
    while review < g.at(DAYS, 0) {
        let p = RiskReviewed {
            notes: t("No change in threat level; controls effective"),
            next_review_due: review.plus_days(90),
        };
        g.schedule(review, &owner, cmd(RiskCommand::Review(p)));
        review = review.plus_days(90);
    }
}

fn objectives<F: FnMut(&Envelope)>(g: &mut Generator<F>, cast: &Cast, thefts: &[i64]) {
    let s = i64::from(g.scale);
    let set = |title: &str,
               metric: &str,
               unit: &str,
               baseline: i64,
               target: i64,
               direction,
               due: Timestamp,
               owner: &Actor| ObjectiveSet {
        title: t(title),
        metric: t(metric),
        unit: c(unit),
        baseline: dec(baseline),
        target: dec(target),
        direction,
        due,
        owner: owner.clone(),
    };
    let year_end = g.at(359, 23 * 60);
    let theft = set(
        "Cut cargo theft by 20 % within a year",
        "Cargo theft incidents per month, network-wide",
        "incidents/month",
        THEFT_BASELINE * s,
        THEFT_TARGET * s,
        Direction::Decrease,
        year_end,
        &cast.sm,
    );
    g.schedule(
        g.at(15, 9 * 60),
        &cast.sm,
        Command::Objective(id("OBJ-THEFT"), ObjectiveCommand::Set(theft)),
    );
    for (m, value) in thefts.iter().enumerate() {
        let at = g.at(month_start(g, m as i64 + 1) + 2, 9 * 60);
        let p = ObjectiveMeasured {
            value: dec(*value),
            period: c(format!("2025-{:02}", m + 1)),
        };
        g.schedule(
            at,
            &cast.sm,
            Command::Objective(id("OBJ-THEFT"), ObjectiveCommand::Measure(p)),
        );
    }
    let evidence = t(format!(
        "Cargo thefts fell from {} to {} a month: −25 % against a −20 % target",
        THEFT_BASELINE * s,
        THEFT_FINAL * s
    ));
    g.schedule(
        g.at(month_start(g, 12) + 3, 9 * 60),
        &cast.sm,
        Command::Objective(
            id("OBJ-THEFT"),
            ObjectiveCommand::Achieve(ObjectiveAchieved { evidence }),
        ),
    );
    let screen = set(
        "Screen every active supplier",
        "Share of active suppliers with a current passing screening",
        "percent",
        62,
        100,
        Direction::Increase,
        year_end,
        &cast.sm,
    );
    quarterly(g, cast, "OBJ-SCREEN", screen, &[74, 88, 97, 100]);
    g.schedule(
        g.at(month_start(g, 12) + 3, 10 * 60),
        &cast.sm,
        Command::Objective(
            id("OBJ-SCREEN"),
            ObjectiveCommand::Achieve(ObjectiveAchieved {
                evidence: t("All active suppliers screened"),
            }),
        ),
    );
    let train = set(
        "Train 95 % of staff in security awareness",
        "Share of staff with valid awareness training",
        "percent",
        35,
        95,
        Direction::Increase,
        year_end,
        &cast.sm,
    );
    quarterly(g, cast, "OBJ-TRAIN", train, &[52, 77, 89, 91]);
    let revise = ObjectiveRevised {
        target: dec(95),
        due: g.at(448, 23 * 60),
        reason: t("New hires in Q4 delayed coverage; deadline moved to end of Q1"),
    };
    g.schedule(
        g.at(month_start(g, 12) + 4, 9 * 60),
        &cast.sm,
        Command::Objective(id("OBJ-TRAIN"), ObjectiveCommand::Revise(revise)),
    );
    let seals = set(
        "Fit e-seals on all pharma lanes",
        "Share of pharma lanes with electronic seals",
        "percent",
        0,
        80,
        Direction::Increase,
        year_end,
        &cast.sm,
    );
    g.schedule(
        g.at(16, 9 * 60),
        &cast.sm,
        Command::Objective(id("OBJ-ESEAL"), ObjectiveCommand::Set(seals)),
    );
    let abandon = ObjectiveAbandoned {
        reason: t("Vendor withdrew; replaced by data-logger packaging under change CHG-002"),
    };
    g.schedule(
        g.at(170, 9 * 60),
        &cast.sm,
        Command::Objective(id("OBJ-ESEAL"), ObjectiveCommand::Abandon(abandon)),
    );
}

fn quarterly<F: FnMut(&Envelope)>(
    g: &mut Generator<F>,
    cast: &Cast,
    key: &str,
    set: ObjectiveSet,
    values: &[i64],
) {
    g.schedule(
        g.at(16, 9 * 60),
        &cast.sm,
        Command::Objective(id(key), ObjectiveCommand::Set(set)),
    );
    for (q, value) in values.iter().enumerate() {
        let p = ObjectiveMeasured {
            value: dec(*value),
            period: c(format!("2025-Q{}", q + 1)),
        };
        let at = g.at(month_start(g, 3 * q as i64 + 3) + 3, 9 * 60);
        g.schedule(
            at,
            &cast.sm,
            Command::Objective(id(key), ObjectiveCommand::Measure(p)),
        );
    }
}

fn plans<F: FnMut(&Envelope)>(g: &mut Generator<F>, cast: &Cast) {
    for (n, (key, kind, title)) in [
        (
            "PLAN-RESPONSE",
            PlanKind::Response,
            "Security incident response plan",
        ),
        ("PLAN-RECOVERY", PlanKind::Recovery, "Hub recovery plan"),
        (
            "PLAN-CONTINUITY",
            PlanKind::Continuity,
            "Supply chain continuity plan",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let cmd = |c: PlanCommand| Command::Plan(id(key), c);
        let approve = |revision| PlanApproved {
            title: t(title),
            kind,
            revision,
        };
        g.schedule(
            g.at(30, 10 * 60 + n as i64),
            &cast.ceo,
            cmd(PlanCommand::Approve(approve(1))),
        );
        for (day, scenario) in [
            (90, "Hijacked truck with pharma load"),
            (210, "Port closure after security incident"),
        ] {
            let outcome = if day == 90 && n == 0 {
                ExerciseOutcome::NeedsImprovement
            } else {
                ExerciseOutcome::Satisfactory
            };
            let p = PlanExercised {
                scenario: t(scenario),
                outcome,
                lessons: t("Escalation contacts updated; timings met"),
            };
            g.schedule(
                g.at(day + n as i64, 14 * 60),
                &cast.sm,
                cmd(PlanCommand::Exercise(p)),
            );
        }
        if n == 0 {
            let p = PlanRevised {
                revision: 2,
                changes: t("Customs and police escalation matrix per country"),
            };
            g.schedule(g.at(215, 9 * 60), &cast.sm, cmd(PlanCommand::Revise(p)));
            g.schedule(
                g.at(225, 9 * 60),
                &cast.ceo,
                cmd(PlanCommand::Approve(approve(2))),
            );
            let p = PlanExercised {
                scenario: t("Smuggling find at a bonded warehouse"),
                outcome: ExerciseOutcome::Satisfactory,
                lessons: t("Customs notified within one hour"),
            };
            g.schedule(g.at(300, 14 * 60), &cast.sm, cmd(PlanCommand::Exercise(p)));
        }
    }
}

fn documents<F: FnMut(&Envelope)>(g: &mut Generator<F>, cast: &Cast) {
    let docs = [
        "Security manual",
        "Risk assessment procedure",
        "Incident management procedure",
        "Supplier security procedure",
        "Access control procedure",
        "Seal control procedure",
        "Internal audit procedure",
        "Document control procedure",
    ];
    for (n, title) in docs.iter().enumerate() {
        let key = id(format!("DOC-{:03}", n + 1));
        let issue = |g: &mut Generator<F>, revision| DocumentIssued {
            title: t(*title),
            revision,
            content_hash: g.digest(),
        };
        let p = issue(g, 1);
        g.schedule(
            g.at(6 + n as i64, 9 * 60),
            &cast.sm,
            Command::Document(key.clone(), DocumentCommand::Issue(p)),
        );
        g.schedule(
            g.at(7 + n as i64, 9 * 60),
            &cast.ceo,
            Command::Document(
                key.clone(),
                DocumentCommand::Approve(DocumentApproved { revision: 1 }),
            ),
        );
        if n == 5 {
            let p = issue(g, 2);
            g.schedule(
                g.at(120, 9 * 60),
                &cast.sm,
                Command::Document(key.clone(), DocumentCommand::Issue(p)),
            );
            g.schedule(
                g.at(122, 9 * 60),
                &cast.deputy,
                Command::Document(
                    key.clone(),
                    DocumentCommand::Approve(DocumentApproved { revision: 2 }),
                ),
            );
        }
        if n == 7 {
            let p = DocumentWithdrawn {
                reason: t("Merged into the security manual"),
            };
            g.schedule(
                g.at(250, 9 * 60),
                &cast.sm,
                Command::Document(key, DocumentCommand::Withdraw(p)),
            );
        }
    }
}

fn changes<F: FnMut(&Envelope)>(g: &mut Generator<F>, cast: &Cast) {
    let changes = [
        (
            "CHG-001",
            40,
            "Mandate TAPA TSR level 1 for all electronics lanes",
        ),
        (
            "CHG-002",
            165,
            "Replace e-seal project with data-logger packaging for pharma",
        ),
        ("CHG-003", 260, "Move the incident register into custodia"),
    ];
    for (key, day, title) in changes {
        let p = ChangeProposed {
            title: t(title),
            reason: t("Risk treatment and audit findings"),
            impact: t("Procedures, training and supplier contracts change"),
        };
        g.schedule(
            g.at(day, 9 * 60),
            &cast.sm,
            Command::Change(id(key), ChangeCommand::Propose(p)),
        );
        g.schedule(
            g.at(day + 5, 9 * 60),
            &cast.coo,
            Command::Change(
                id(key),
                ChangeCommand::Approve(ChangeNote {
                    note: t("Approved with budget"),
                }),
            ),
        );
        g.schedule(
            g.at(day + 45, 9 * 60),
            &cast.sm,
            Command::Change(
                id(key),
                ChangeCommand::Implement(ChangeNote {
                    note: t("Rolled out and communicated"),
                }),
            ),
        );
    }
}

/// Schedules a nonconformity's whole CAPA chain from `raised`; returns nothing because each
/// step is placed strictly after the one it depends on.
fn capa<F: FnMut(&Envelope)>(
    g: &mut Generator<F>,
    cast: &Cast,
    ids: &mut Ids,
    raised: Timestamp,
    raiser: &Actor,
    p: NonconformityRaised,
) {
    let nc = next(&mut ids.nc, "NC");
    let ca = next(&mut ids.ca, "CA");
    let ca_index = ids.ca;
    let ncc = |c: NonconformityCommand| Command::Nonconformity(nc.clone(), c);
    let cac = |c: CorrectiveActionCommand| Command::CorrectiveAction(ca.clone(), c);
    g.schedule(raised, raiser, ncc(NonconformityCommand::Raise(p)));
    let rc = RootCauseIdentified {
        root_cause: t("Procedure not followed because the step was not trained at the site"),
        method: c("5 whys"),
    };
    g.schedule(
        raised.plus_days(5),
        &cast.sm,
        ncc(NonconformityCommand::IdentifyRootCause(rc)),
    );
    let planned = raised.plus_days(7);
    let due = planned.plus_days(g.rng.range(30, 60));
    let plan = CorrectiveActionPlanned {
        nonconformity: nc.clone(),
        description: t("Retrain site staff and add the step to the checklist"),
        owner: cast.sm.clone(),
        due,
    };
    g.schedule(planned, &cast.sm, cac(CorrectiveActionCommand::Plan(plan)));
    // Every sixth action is never completed and shows as overdue; every sixth (offset) is late.
    let completed = match ca_index % 6 {
        4 => return,
        2 => due.plus_days(g.rng.range(10, 30)),
        _ => due.plus_days(-g.rng.range(1, 20)).max(planned.plus_days(1)),
    };
    let done = |text: &str| CorrectiveActionCompleted { evidence: t(text) };
    g.schedule(
        completed,
        &cast.sm,
        cac(CorrectiveActionCommand::Complete(done(
            "Training records and updated checklist",
        ))),
    );
    let mut verified = completed.plus_days(g.rng.range(7, 14));
    if ca_index == 1 {
        // The reference case of an ineffective action: verification reopens it, it is reworked.
        let v = CorrectiveActionVerified {
            effective: false,
            notes: t("Same gap found again on a follow-up visit"),
        };
        g.schedule(
            verified,
            &cast.auditor,
            cac(CorrectiveActionCommand::Verify(v)),
        );
        let rework = verified.plus_days(20);
        g.schedule(
            rework,
            &cast.sm,
            cac(CorrectiveActionCommand::Complete(done(
                "Checklist enforced in the WMS; supervisors sign off",
            ))),
        );
        verified = rework.plus_days(10);
    }
    let v = CorrectiveActionVerified {
        effective: true,
        notes: t("No recurrence in sampled records"),
    };
    g.schedule(
        verified,
        &cast.auditor,
        cac(CorrectiveActionCommand::Verify(v)),
    );
    let close = NonconformityClosed {
        corrective_action: ca,
        summary: t("Cause removed; action verified effective"),
    };
    g.schedule(
        verified.plus_days(2),
        &cast.sm,
        ncc(NonconformityCommand::Close(close)),
    );
}

fn audits<F: FnMut(&Envelope)>(g: &mut Generator<F>, cast: &Cast, ids: &mut Ids) {
    for (q, (region, _)) in REGIONS.iter().enumerate() {
        let q = q as i64;
        let key = id(format!("AUD-2025-Q{}", q + 1));
        audit(
            g,
            cast,
            ids,
            key,
            (20 + 90 * q, 35 + 90 * q),
            region,
            AuditKind::Internal,
            &cast.auditor,
        );
    }
    audit(
        g,
        cast,
        ids,
        id("AUD-2025-CERT"),
        (200, 280),
        "sms",
        AuditKind::Certification,
        &cast.lead,
    );
}

#[allow(clippy::too_many_arguments)]
fn audit<F: FnMut(&Envelope)>(
    g: &mut Generator<F>,
    cast: &Cast,
    ids: &mut Ids,
    key: RecordId,
    (planned, held): (i64, i64),
    area: &str,
    kind: AuditKind,
    auditor: &Actor,
) {
    let cmd = |c: AuditCommand| Command::Audit(key.clone(), c);
    let scheduled_for = g.at(held, 9 * 60);
    let criteria = CLAUSES.iter().step_by(3).map(|x| c(*x)).collect();
    let p = AuditPlanned {
        area: c(area),
        kind,
        auditor: auditor.clone(),
        scheduled_for,
        criteria,
    };
    g.schedule(g.at(planned, 9 * 60), &cast.sm, cmd(AuditCommand::Plan(p)));
    g.schedule(
        scheduled_for,
        auditor,
        cmd(AuditCommand::Conduct(AuditConducted {
            summary: t("Interviews, site walk and record sampling"),
        })),
    );
    let grades = [
        FindingGrade::Major,
        FindingGrade::Minor,
        FindingGrade::Observation,
        FindingGrade::Opportunity,
    ];
    let count = if kind == AuditKind::Internal {
        g.rng.range(2, 4)
    } else {
        4
    };
    let mut found = Vec::new();
    for n in 0..count {
        let grade = if kind == AuditKind::Internal {
            *g.rng.pick(&grades)
        } else {
            grades[(n as usize + 1).min(3)]
        };
        let clause = c(*g.rng.pick(&CLAUSES));
        let p = AuditFinding {
            finding: id(format!("F{}", n + 1)),
            clause: clause.clone(),
            grade,
            description: t(format!(
                "Evidence for clause {clause} incomplete at sampled sites"
            )),
        };
        g.schedule(
            g.at(held + 1, 10 * 60 + n),
            auditor,
            cmd(AuditCommand::RecordFinding(p)),
        );
        found.push((grade, clause));
    }
    let report = AuditReport {
        summary: t("Findings as recorded; SMS broadly effective"),
        content_hash: g.digest(),
    };
    g.schedule(
        g.at(held + 3, 9 * 60),
        auditor,
        cmd(AuditCommand::IssueReport(report)),
    );
    g.schedule(
        g.at(held + 10, 9 * 60),
        &cast.sm,
        cmd(AuditCommand::Close(AuditClosed {
            note: t("Nonconformities raised; programme updated"),
        })),
    );
    let raiser = if kind == AuditKind::Internal {
        &cast.auditor
    } else {
        &cast.sm
    };
    for (n, (grade, clause)) in found.into_iter().enumerate() {
        let at = g.at(held + 4, 9 * 60 + n as i64);
        let nc_grade = match grade {
            FindingGrade::Major => NcGrade::Major,
            FindingGrade::Minor => NcGrade::Minor,
            _ => {
                let p = ImprovementRecorded {
                    title: t(format!("Improve practice for clause {clause}")),
                    description: t("Taken from an audit observation"),
                    source: c("audit"),
                };
                g.schedule(
                    at,
                    &cast.sm,
                    Command::Improvement(
                        next(&mut ids.improvement, "IMP"),
                        ImprovementCommand::Record(p),
                    ),
                );
                continue;
            }
        };
        let p = NonconformityRaised {
            description: t(format!("Audit finding against clause {clause}")),
            clause,
            grade: nc_grade,
            audit: Some(key.clone()),
            incident: None,
        };
        capa(g, cast, ids, at, raiser, p);
    }
}

fn reviews<F: FnMut(&Envelope)>(g: &mut Generator<F>, cast: &Cast, ids: &mut Ids) {
    for (key, (scheduled, sealed, held), (from, to)) in [
        ("MR-2025-H1", (150, 170, 172), (0, 176)),
        ("MR-2025-H2", (330, 352, 354), (176, 360)),
    ] {
        let cmd = |c: ReviewCommand| Command::Review(id(key), c);
        let p = ReviewScheduled {
            period_start: g.at(from, 0),
            period_end: g.at(to, 0),
            scheduled_for: g.at(held, 10 * 60),
            chair: cast.ceo.clone(),
        };
        g.schedule(
            g.at(scheduled, 9 * 60),
            &cast.sm,
            cmd(ReviewCommand::Schedule(p)),
        );
        g.schedule_seal(g.at(sealed, 17 * 60), &cast.sm, id(key));
        let attendees = vec![
            cast.ceo.clone(),
            cast.coo.clone(),
            cast.sm.clone(),
            cast.auditor.clone(),
        ];
        g.schedule(
            g.at(held, 10 * 60),
            &cast.ceo,
            cmd(ReviewCommand::Hold(ReviewHeld { attendees })),
        );
        let decisions = [
            ("D1", "Fund GPS geofencing on all red lanes", &cast.coo),
            (
                "D2",
                "Close overdue corrective actions before the next review",
                &cast.sm,
            ),
            (
                "D3",
                "Extend supplier screening to tier-2 subcontractors",
                &cast.sm,
            ),
        ];
        for (n, (d, text, owner)) in decisions.into_iter().enumerate() {
            let at = g.at(held, 11 * 60 + n as i64);
            let p = ReviewDecision {
                decision: id(d),
                text: t(text),
                owner: owner.clone(),
                due: Some(at.plus_days(90)),
            };
            g.schedule(at, &cast.ceo, cmd(ReviewCommand::RecordDecision(p)));
        }
        let p = ImprovementRecorded {
            title: t("Extend screening to subcontractors"),
            description: t("Management review decision"),
            source: c("management review"),
        };
        g.schedule(
            g.at(held + 1, 9 * 60),
            &cast.sm,
            Command::Improvement(
                next(&mut ids.improvement, "IMP"),
                ImprovementCommand::Record(p),
            ),
        );
        g.schedule(
            g.at(held + 4, 9 * 60),
            &cast.sm,
            cmd(ReviewCommand::Close(ReviewClosed {
                note: t("Minutes approved"),
            })),
        );
    }
}

const SUPPLIER_CATEGORIES: [&str; 5] = [
    "haulier",
    "warehouse",
    "freight forwarder",
    "customs broker",
    "security services",
];
const CERTIFICATIONS: [&str; 4] = ["AEO", "C-TPAT", "TAPA FSR", "ISO 28000"];

fn start_suppliers<F: FnMut(&Envelope)>(
    g: &mut Generator<F>,
    cast: &Cast,
    ids: &mut Ids,
    day: i64,
) {
    let total = 40 * i64::from(g.scale);
    // Onboarding runs from day 3 to day 333.
    for _ in (0..total).filter(|i| 3 + i * 330 / total == day) {
        let key = next(&mut ids.supplier, "SUP");
        supplier(g, cast, key, day);
    }
}

fn supplier<F: FnMut(&Envelope)>(g: &mut Generator<F>, cast: &Cast, key: RecordId, day: i64) {
    let cmd = |c: SupplierCommand| Command::Supplier(key.clone(), c);
    let all: Vec<&str> = countries().collect();
    let tier = if g.rng.chance(20) {
        1
    } else if g.rng.chance(50) {
        2
    } else {
        3
    };
    let interval = [180, 365, 730][tier as usize - 1];
    let onboard = SupplierOnboarded {
        name: t(format!("Supplier {key}")),
        country: c(*g.rng.pick(&all)),
        category: c(*g.rng.pick(&SUPPLIER_CATEGORIES)),
        screening_interval_days: interval,
    };
    let at = g.during(day);
    g.schedule(at, &cast.sm, cmd(SupplierCommand::Onboard(onboard)));
    let certifications: Vec<Code> = CERTIFICATIONS
        .iter()
        .filter(|_| g.rng.chance(40))
        .map(|x| c(*x))
        .collect();
    let screen = |result, certifications: &[Code]| SupplierScreened {
        result,
        lists: vec![c("UN sanctions"), c("EU sanctions"), c("OFAC SDN")],
        certifications: certifications.to_vec(),
    };
    let reason = |text: &str| SupplierDecision { reason: t(text) };
    let mut step = at.plus_days(1);
    if g.rng.chance(5) {
        g.schedule(
            step,
            &cast.sm,
            cmd(SupplierCommand::Screen(screen(
                ScreeningResult::Fail,
                &certifications,
            ))),
        );
        if g.rng.chance(50) {
            g.schedule(
                step.plus_days(5),
                &cast.sm,
                cmd(SupplierCommand::Offboard(reason(
                    "Sanctions list match confirmed",
                ))),
            );
            return;
        }
        step = step.plus_days(12);
    }
    g.schedule(
        step,
        &cast.sm,
        cmd(SupplierCommand::Screen(screen(
            ScreeningResult::Pass,
            &certifications,
        ))),
    );
    let tiered = SupplierTiered {
        tier,
        rationale: t(
            ["High-value lanes", "Regular volumes", "Occasional services"][tier as usize - 1],
        ),
    };
    g.schedule(
        step.plus_days(1),
        &cast.sm,
        cmd(SupplierCommand::Tier(tiered)),
    );
    g.schedule(
        step.plus_days(2),
        &cast.sm,
        cmd(SupplierCommand::Approve(reason(
            "Screening passed; contract security annex signed",
        ))),
    );
    let assessed = step.plus_days(g.rng.range(60, 120));
    let score = g.rng.range(55, 98) as u32;
    g.schedule(
        assessed,
        &cast.deputy,
        cmd(SupplierCommand::Assess(SupplierAssessed {
            score,
            notes: t("On-site security assessment"),
        })),
    );
    if g.rng.chance(3) {
        let suspended = assessed.plus_days(10);
        g.schedule(
            suspended,
            &cast.sm,
            cmd(SupplierCommand::Suspend(reason(
                "Driver involved in a theft under investigation",
            ))),
        );
        g.schedule(
            suspended.plus_days(20),
            &cast.sm,
            cmd(SupplierCommand::Screen(screen(
                ScreeningResult::Pass,
                &certifications,
            ))),
        );
        g.schedule(
            suspended.plus_days(21),
            &cast.sm,
            cmd(SupplierCommand::Reinstate(reason(
                "Driver removed; rescreened",
            ))),
        );
        step = suspended.plus_days(20);
    }
    let rescreen = step.plus_days(i64::from(interval) - 10);
    if rescreen < assessed {
        return;
    }
    g.schedule(
        rescreen,
        &cast.sm,
        cmd(SupplierCommand::Screen(screen(
            ScreeningResult::Pass,
            &certifications,
        ))),
    );
}

fn start_incidents<F: FnMut(&Envelope)>(
    g: &mut Generator<F>,
    cast: &Cast,
    ids: &mut Ids,
    thefts: &[i64],
    day: i64,
) {
    let Some(m) = (0..12).find(|m| month_start(g, *m) == day) else {
        return;
    };
    // Day 0 is set-up day: handlers hold their roles from its morning, so incidents start on day 1.
    let (from, to) = (month_start(g, m).max(1), month_start(g, m + 1));
    let s = i64::from(g.scale);
    let mut plan: Vec<(Timestamp, IncidentCategory)> = Vec::new();
    let counts = [
        (IncidentCategory::CargoTheft, thefts[m as usize]),
        (IncidentCategory::Smuggling, 3 * s),
        (IncidentCategory::Tampering, 2 * s),
        (IncidentCategory::Piracy, 1 + s / 4),
        (IncidentCategory::UnauthorizedAccess, 2 * s),
        (IncidentCategory::Cyber, (s + 2) / 3),
    ];
    for (category, count) in counts {
        for _ in 0..count {
            let (day, minute) = (g.rng.range(from, to - 1), g.rng.range(0, 24 * 60 - 1));
            let at = g.at(day, minute);
            plan.push((at, category));
        }
    }
    plan.sort();
    for (at, category) in plan {
        let key = next(&mut ids.incident, "INC");
        incident(g, cast, ids, key, at, category);
    }
}

fn severity_for<F>(g: &mut Generator<F>, category: IncidentCategory) -> Severity {
    use IncidentCategory as I;
    let roll = g.rng.below(100);
    match category {
        I::Smuggling | I::Piracy => {
            if roll < 65 {
                Severity::High
            } else {
                Severity::Critical
            }
        }
        I::CargoTheft | I::Tampering => {
            if roll < 10 {
                Severity::Low
            } else if roll < 70 {
                Severity::Medium
            } else {
                Severity::High
            }
        }
        I::UnauthorizedAccess | I::Cyber => {
            if roll < 50 {
                Severity::Low
            } else {
                Severity::Medium
            }
        }
    }
}

fn authorities_for<F>(g: &mut Generator<F>, category: IncidentCategory) -> Vec<Authority> {
    use IncidentCategory as I;
    match category {
        I::Smuggling => vec![Authority::Customs, Authority::Police],
        I::Tampering if g.rng.chance(50) => vec![Authority::Customs],
        I::Tampering => vec![Authority::Regulator],
        I::CargoTheft if g.rng.chance(80) => vec![Authority::Police, Authority::Insurer],
        I::Piracy => vec![Authority::CoastGuard, Authority::Insurer],
        _ => vec![],
    }
}

fn incident<F: FnMut(&Envelope)>(
    g: &mut Generator<F>,
    cast: &Cast,
    ids: &mut Ids,
    key: RecordId,
    at: Timestamp,
    category: IncidentCategory,
) {
    let all: Vec<&'static str> = countries().collect();
    let country = *g.rng.pick(&all);
    let handler = cast.handler(country).clone();
    let cmd = |c: IncidentCommand| Command::Incident(key.clone(), c);
    let severity = severity_for(g, category);
    let title = format!("{} at HUB-{country}", category.as_str().replace('_', " "));
    let p = IncidentReported {
        title: t(title.clone()),
        category,
        severity,
        site: c(format!("HUB-{country}")),
        country: c(country),
        description: t(format!("{title}, reported by the site")),
    };
    g.schedule(at, &handler, cmd(IncidentCommand::Report(p)));
    let triaged = at.plus_micros(g.rng.range(15, 180) * 60_000_000);
    g.schedule(
        triaged,
        &handler,
        cmd(IncidentCommand::Triage(IncidentTriaged {
            severity,
            notes: t("Severity confirmed with the security manager"),
        })),
    );
    let mut step = triaged;
    for authority in authorities_for(g, category) {
        step = step.plus_micros(g.rng.range(30, 240) * 60_000_000);
        let reference = Some(c(format!("{}-{key}", authority.as_str().to_uppercase())));
        g.schedule(
            step,
            &handler,
            cmd(IncidentCommand::Escalate(IncidentEscalated {
                authority,
                reference,
            })),
        );
        let note = CommunicationSent {
            audience: c(authority.as_str()),
            channel: c("official report"),
            subject: t(format!("Report of {title}")),
            external: true,
            authority: Some(c(authority.as_str())),
        };
        g.schedule(
            step.plus_micros(300_000_000),
            &cast.sm,
            Command::Communication(
                next(&mut ids.communication, "COM"),
                CommunicationCommand::Send(note),
            ),
        );
    }
    let contained = step.plus_micros(g.rng.range(60, 36 * 60) * 60_000_000);
    g.schedule(
        contained,
        &handler,
        cmd(IncidentCommand::Contain(IncidentContained {
            actions: t("Site secured, evidence preserved, shipment traced"),
        })),
    );
    let mut last = contained;
    let investigate = severity >= Severity::High || g.rng.chance(25);
    if investigate {
        last = contained.plus_days(g.rng.range(2, 14));
        let p = IncidentInvestigated {
            root_cause: t("Route and timing known to outsiders"),
            findings: t("Control gaps identified; see corrective actions"),
        };
        g.schedule(last, &handler, cmd(IncidentCommand::Investigate(p)));
    }
    let closed = last.plus_days(g.rng.range(1, 10));
    g.schedule(
        closed,
        &cast.sm,
        cmd(IncidentCommand::Close(IncidentClosed {
            summary: t("Handled; lessons shared"),
        })),
    );
    if investigate && severity >= Severity::High && g.rng.chance(12) {
        let p = NonconformityRaised {
            description: t(format!("Control failure behind {key}")),
            clause: c("8.2"),
            grade: NcGrade::Minor,
            audit: None,
            incident: Some(key.clone()),
        };
        capa(g, cast, ids, last.plus_days(1), &cast.sm, p);
    }
}

fn monthly<F: FnMut(&Envelope)>(g: &mut Generator<F>, cast: &Cast, ids: &mut Ids, day: i64) {
    if !(0..12).any(|m| month_start(g, m) + 1 == day) {
        return;
    }
    let p = CommunicationSent {
        audience: c("all staff"),
        channel: c("intranet bulletin"),
        subject: t("Monthly security bulletin: incidents, lessons, reminders"),
        external: false,
        authority: None,
    };
    let at = g.at(day, 8 * 60);
    g.schedule(
        at,
        &cast.sm,
        Command::Communication(
            next(&mut ids.communication, "COM"),
            CommunicationCommand::Send(p),
        ),
    );
    if day == month_start(g, 2) + 1 {
        let p = CommunicationSent {
            audience: c("suppliers"),
            channel: c("supplier portal"),
            subject: t("New security requirements in supplier contracts"),
            external: true,
            authority: None,
        };
        g.schedule(
            at.plus_micros(60_000_000),
            &cast.sm,
            Command::Communication(
                next(&mut ids.communication, "COM"),
                CommunicationCommand::Send(p),
            ),
        );
    }
}
