//! How each event changes the registers, one function per group of clauses.

use crate::model::{create, update, Model, Stamp};
use crate::rows::*;
use crate::set::SharedSet;
use custodia_domain::{Envelope, Event as E, RiskAssessed};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// 4.1–4.4: issues, scope, obligations.
pub(crate) fn org(m: &mut Model, env: &Envelope, at: &Stamp<'_>) {
    match &env.event {
        E::IssueRecorded(p) => create(
            &mut m.issues,
            at,
            IssueRow {
                meta: at.meta(env),
                title: p.title.clone(),
                origin: p.origin,
                retired: None,
            },
        ),
        E::IssueRevised(_) => update(&mut m.issues, at, |_| {}),
        E::IssueRetired(_) => update(&mut m.issues, at, |r| r.retired = Some(at.occurred)),
        E::ScopeDefined(p) => create(
            &mut m.scopes,
            at,
            ScopeRow {
                meta: at.meta(env),
                statement: p.statement.clone(),
                sites: p.sites.clone(),
                revisions: 0,
            },
        ),
        E::ScopeRevised(p) => update(&mut m.scopes, at, |r| {
            r.statement = p.statement.clone();
            r.sites = p.sites.clone();
            r.revisions += 1;
        }),
        E::ObligationRecorded(p) => create(
            &mut m.obligations,
            at,
            ObligationRow {
                meta: at.meta(env),
                title: p.title.clone(),
                source: p.source.clone(),
                party: p.party.clone(),
                next_review: p.next_review_due,
                compliant: None,
                retired: None,
            },
        ),
        E::ObligationReviewed(p) => update(&mut m.obligations, at, |r| {
            r.compliant = Some(p.compliant);
            r.next_review = p.next_review_due;
        }),
        E::ObligationRetired(_) => {
            update(&mut m.obligations, at, |r| r.retired = Some(at.occurred))
        }
        _ => {}
    }
}

/// 5.1–5.3: policies and roles.
pub(crate) fn leadership(m: &mut Model, env: &Envelope, at: &Stamp<'_>) {
    let stage = |s: PolicyStage| move |r: &mut PolicyRow| r.stage = s;
    match &env.event {
        E::PolicyDrafted(p) => create(
            &mut m.policies,
            at,
            PolicyRow {
                meta: at.meta(env),
                title: p.title.clone(),
                stage: PolicyStage::Draft,
                approved_by: None,
                published: None,
                acknowledged: SharedSet::new(),
            },
        ),
        E::PolicyApproved(_) => update(&mut m.policies, at, |r| {
            r.stage = PolicyStage::Approved;
            r.approved_by = Some(env.actor.clone());
        }),
        E::PolicyPublished(_) => update(&mut m.policies, at, |r| {
            r.stage = PolicyStage::Published;
            r.published = Some(at.occurred);
        }),
        E::PolicyAcknowledged(p) => update(&mut m.policies, at, |r| {
            r.acknowledged.insert(p.person.clone());
        }),
        E::PolicySuperseded(_) => update(&mut m.policies, at, stage(PolicyStage::Superseded)),
        E::PolicyRetired(_) => update(&mut m.policies, at, stage(PolicyStage::Retired)),
        E::RoleDefined(p) => role(m, env, at, |r| r.title = Some(p.title.clone())),
        E::RoleAssigned(p) => role(m, env, at, |r| {
            r.holders.insert((p.person.clone(), p.area.clone()));
        }),
        E::RoleUnassigned(p) => role(m, env, at, |r| {
            r.holders.remove(&(p.person.clone(), p.area.clone()));
        }),
        _ => {}
    }
}

/// A role row is made by whichever role event comes first: the bootstrap may assign
/// before it defines.
fn role(m: &mut Model, env: &Envelope, at: &Stamp<'_>, change: impl FnOnce(&mut RoleRow)) {
    let blank = || RoleRow {
        meta: at.meta(env),
        title: None,
        holders: SharedSet::new(),
    };
    m.roles.insert_with(at.id, blank);
    update(&mut m.roles, at, change);
}

fn rating(p: &RiskAssessed) -> RatingView {
    RatingView {
        likelihood: p.likelihood,
        impact: p.impact,
        score: p.score,
        rating: p.rating.clone(),
    }
}

/// 6.1, 8.3 and 6.2: risks and objectives.
pub(crate) fn planning(m: &mut Model, env: &Envelope, at: &Stamp<'_>) {
    match &env.event {
        E::RiskIdentified(p) => create(
            &mut m.risks,
            at,
            RiskRow {
                meta: at.meta(env),
                title: p.title.clone(),
                threat: p.threat,
                node: p.node.clone(),
                owner: p.owner.clone(),
                inherent: None,
                residual: None,
                treatments: BTreeMap::new(),
                accepted: None,
                next_review: None,
                closed: None,
            },
        ),
        E::RiskAssessed(p) => update(&mut m.risks, at, |r| r.inherent = Some(rating(p))),
        E::RiskResidualAssessed(p) => update(&mut m.risks, at, |r| r.residual = Some(rating(p))),
        E::RiskTreatmentPlanned(p) => update(&mut m.risks, at, |r| {
            let view = TreatmentView {
                option: p.option,
                owner: p.owner.clone(),
                due: p.due,
                completed: None,
            };
            r.treatments.insert(p.treatment.clone(), view);
        }),
        E::RiskTreatmentCompleted(p) => update(&mut m.risks, at, |r| {
            if let Some(t) = r.treatments.get_mut(&p.treatment) {
                t.completed = Some(at.occurred);
            }
        }),
        E::RiskAccepted(p) => update(&mut m.risks, at, |r| {
            r.accepted = Some((env.actor.clone(), p.expires));
        }),
        E::RiskReviewed(p) => update(&mut m.risks, at, |r| {
            r.next_review = Some(p.next_review_due);
            // A review renews an acceptance's expiry only through the new review date.
            if let Some((_, until)) = &mut r.accepted {
                *until = until.map(|u| u.max(p.next_review_due));
            }
        }),
        E::RiskClosed(_) => update(&mut m.risks, at, |r| r.closed = Some(at.occurred)),
        _ => objective(m, env, at),
    }
}

fn objective(m: &mut Model, env: &Envelope, at: &Stamp<'_>) {
    let stage = |s: ObjectiveStage| move |r: &mut ObjectiveRow| r.stage = s;
    match &env.event {
        E::ObjectiveSet(p) => create(
            &mut m.objectives,
            at,
            ObjectiveRow {
                meta: at.meta(env),
                title: p.title.clone(),
                metric: p.metric.clone(),
                unit: p.unit.clone(),
                baseline: p.baseline.clone(),
                target: p.target.clone(),
                direction: p.direction,
                due: p.due,
                owner: p.owner.clone(),
                latest: None,
                measurements: 0,
                stage: ObjectiveStage::Active,
            },
        ),
        E::ObjectiveMeasured(p) => update(&mut m.objectives, at, |r| {
            r.latest = Some((p.period.clone(), p.value.clone(), at.occurred));
            r.measurements += 1;
        }),
        E::ObjectiveRevised(p) => update(&mut m.objectives, at, |r| {
            r.target = p.target.clone();
            r.due = p.due;
        }),
        E::ObjectiveAchieved(_) => update(&mut m.objectives, at, stage(ObjectiveStage::Achieved)),
        E::ObjectiveAbandoned(_) => update(&mut m.objectives, at, stage(ObjectiveStage::Abandoned)),
        _ => {}
    }
}

/// 7.2–7.5: competences, trainings, documents.
pub(crate) fn support(m: &mut Model, env: &Envelope, at: &Stamp<'_>) {
    match &env.event {
        E::CompetenceRequired(p) => create(
            &mut m.competences,
            at,
            CompetenceRow {
                meta: at.meta(env),
                role: p.role.clone(),
                title: p.title.clone(),
                validity_days: p.validity_days,
            },
        ),
        E::TrainingCompleted(p) => person(m, env, at, |r| {
            r.trainings
                .insert(p.competence.clone(), (p.valid_until, false));
        }),
        E::TrainingExpired(p) => person(m, env, at, |r| {
            if let Some(t) = r.trainings.get_mut(&p.competence) {
                t.1 = true;
            }
        }),
        E::DocumentIssued(p) => document_issued(m, env, at, p),
        E::DocumentApproved(p) => update(&mut m.documents, at, |r| {
            r.approved_revision = p.revision;
        }),
        E::DocumentWithdrawn(_) => {
            update(&mut m.documents, at, |r| r.withdrawn = Some(at.occurred))
        }
        _ => {}
    }
}

/// A person has no creating event: the first training makes the row.
fn person(m: &mut Model, env: &Envelope, at: &Stamp<'_>, change: impl FnOnce(&mut PersonRow)) {
    let blank = || PersonRow {
        meta: at.meta(env),
        trainings: BTreeMap::new(),
    };
    m.people.insert_with(at.id, blank);
    update(&mut m.people, at, change);
}

/// Revision 1 creates the document; later revisions replace the title and await approval.
fn document_issued(
    m: &mut Model,
    env: &Envelope,
    at: &Stamp<'_>,
    p: &custodia_domain::DocumentIssued,
) {
    if m.documents.contains_key(at.id) {
        update(&mut m.documents, at, |r| {
            r.title = p.title.clone();
            r.revision = p.revision;
            r.issued_by = env.actor.clone();
        });
        return;
    }
    let row = DocumentRow {
        meta: at.meta(env),
        title: p.title.clone(),
        revision: p.revision,
        approved_revision: 0,
        issued_by: env.actor.clone(),
        withdrawn: None,
    };
    create(&mut m.documents, at, row);
}

/// 8.x: controls, suppliers, incidents.
pub(crate) fn operation(m: &mut Model, env: &Envelope, at: &Stamp<'_>) {
    match &env.event {
        E::ControlDefined(p) => create(
            &mut m.controls,
            at,
            ControlRow {
                meta: at.meta(env),
                title: p.title.clone(),
                category: p.category,
                risks: p.risks.clone(),
                implemented: None,
                last_test: None,
                tests: 0,
                retired: None,
            },
        ),
        E::ControlImplemented(_) => {
            update(&mut m.controls, at, |r| r.implemented = Some(at.occurred))
        }
        E::ControlTested(p) => update(&mut m.controls, at, |r| {
            r.last_test = Some((at.occurred, p.result));
            r.tests += 1;
        }),
        E::ControlRetired(_) => update(&mut m.controls, at, |r| r.retired = Some(at.occurred)),
        _ => supplier(m, env, at),
    }
}

fn supplier(m: &mut Model, env: &Envelope, at: &Stamp<'_>) {
    let stage = |s: SupplierStage| move |r: &mut SupplierRow| r.stage = s;
    match &env.event {
        E::SupplierOnboarded(p) => create(
            &mut m.suppliers,
            at,
            SupplierRow {
                meta: at.meta(env),
                name: p.name.clone(),
                country: p.country.clone(),
                category: p.category.clone(),
                stage: SupplierStage::Onboarded,
                tier: None,
                score: None,
                interval_days: p.screening_interval_days,
                screening: None,
            },
        ),
        E::SupplierScreened(p) => update(&mut m.suppliers, at, |r| {
            r.screening = Some((at.occurred, p.result));
        }),
        E::SupplierTiered(p) => update(&mut m.suppliers, at, |r| r.tier = Some(p.tier)),
        E::SupplierAssessed(p) => update(&mut m.suppliers, at, |r| r.score = Some(p.score)),
        E::SupplierApproved(_) | E::SupplierReinstated(_) => {
            update(&mut m.suppliers, at, stage(SupplierStage::Approved))
        }
        E::SupplierSuspended(_) => update(&mut m.suppliers, at, stage(SupplierStage::Suspended)),
        E::SupplierOffboarded(_) => update(&mut m.suppliers, at, stage(SupplierStage::Offboarded)),
        _ => incident(m, env, at),
    }
}

fn incident(m: &mut Model, env: &Envelope, at: &Stamp<'_>) {
    let stage = |s: IncidentStage| move |r: &mut IncidentRow| r.stage = r.stage.max(s);
    match &env.event {
        E::IncidentReported(p) => create(
            &mut m.incidents,
            at,
            IncidentRow {
                meta: at.meta(env),
                title: p.title.clone(),
                category: p.category,
                severity: p.severity,
                site: p.site.clone(),
                country: p.country.clone(),
                stage: IncidentStage::Reported,
                contained: None,
                closed: None,
                escalated_to: BTreeSet::new(),
                reporter: env.actor.clone(),
            },
        ),
        E::IncidentTriaged(p) => update(&mut m.incidents, at, |r| {
            r.severity = p.severity;
            stage(IncidentStage::Triaged)(r);
        }),
        E::IncidentContained(_) => update(&mut m.incidents, at, |r| {
            r.contained = Some(at.occurred);
            stage(IncidentStage::Contained)(r);
        }),
        E::IncidentEscalated(p) => update(&mut m.incidents, at, |r| {
            r.escalated_to.insert(p.authority);
        }),
        E::IncidentInvestigated(_) => {
            update(&mut m.incidents, at, stage(IncidentStage::Investigated))
        }
        E::IncidentClosed(_) => update(&mut m.incidents, at, |r| {
            r.closed = Some(at.occurred);
            stage(IncidentStage::Closed)(r);
        }),
        _ => {}
    }
}

/// 9.2–9.3: audits and management reviews.
pub(crate) fn evaluation(m: &mut Model, env: &Envelope, at: &Stamp<'_>) {
    let stage = |s: AuditStage| move |r: &mut AuditRow| r.stage = s;
    match &env.event {
        E::AuditPlanned(p) => create(
            &mut m.audits,
            at,
            AuditRow {
                meta: at.meta(env),
                area: p.area.clone(),
                kind: p.kind,
                auditor: p.auditor.clone(),
                scheduled_for: p.scheduled_for,
                stage: AuditStage::Planned,
                conducted: None,
                findings: BTreeMap::new(),
            },
        ),
        E::AuditConducted(_) => update(&mut m.audits, at, |r| {
            r.stage = AuditStage::Conducted;
            r.conducted = Some(at.occurred);
        }),
        E::AuditFindingRecorded(p) => update(&mut m.audits, at, |r| {
            let finding = FindingView {
                clause: p.clause.clone(),
                grade: p.grade,
                description: p.description.clone(),
                recorded: at.occurred,
            };
            r.findings.insert(p.finding.clone(), finding);
        }),
        E::AuditReportIssued(_) => update(&mut m.audits, at, stage(AuditStage::Reported)),
        E::AuditClosed(_) => update(&mut m.audits, at, stage(AuditStage::Closed)),
        _ => review(m, env, at),
    }
}

fn review(m: &mut Model, env: &Envelope, at: &Stamp<'_>) {
    match &env.event {
        E::ReviewScheduled(p) => create(
            &mut m.reviews,
            at,
            ReviewRow {
                meta: at.meta(env),
                period_start: p.period_start,
                period_end: p.period_end,
                scheduled_for: p.scheduled_for,
                chair: p.chair.clone(),
                sealed: None,
                held: None,
                decisions: BTreeMap::new(),
                closed: None,
            },
        ),
        E::ReviewInputsSealed(p) => update(&mut m.reviews, at, |r| {
            let (root, digest) = (
                p.root.as_str().to_owned(),
                p.pack_digest.as_str().to_owned(),
            );
            r.sealed = Some((p.tree_size, root, digest));
        }),
        E::ReviewHeld(_) => update(&mut m.reviews, at, |r| r.held = Some(at.occurred)),
        E::ReviewDecisionRecorded(p) => update(&mut m.reviews, at, |r| {
            let decision = DecisionView {
                text: p.text.clone(),
                owner: p.owner.clone(),
                due: p.due,
                recorded: at.occurred,
            };
            r.decisions.insert(p.decision.clone(), decision);
        }),
        E::ReviewClosed(_) => update(&mut m.reviews, at, |r| r.closed = Some(at.occurred)),
        _ => {}
    }
}

/// 10: nonconformities, corrective actions, improvements.
pub(crate) fn improvement(m: &mut Model, env: &Envelope, at: &Stamp<'_>) {
    match &env.event {
        E::NonconformityRaised(p) => create(
            &mut m.nonconformities,
            at,
            NonconformityRow {
                meta: at.meta(env),
                description: p.description.clone(),
                clause: p.clause.clone(),
                grade: p.grade,
                root_cause: None,
                actions: BTreeSet::new(),
                closed: None,
            },
        ),
        E::NonconformityRootCauseIdentified(_) => update(&mut m.nonconformities, at, |r| {
            r.root_cause = Some(at.occurred);
        }),
        E::NonconformityClosed(_) => {
            update(&mut m.nonconformities, at, |r| r.closed = Some(at.occurred))
        }
        E::CorrectiveActionPlanned(p) => corrective_action_planned(m, env, at, p),
        E::CorrectiveActionCompleted(_) => update(&mut m.corrective_actions, at, |r| {
            r.completed = Some(at.occurred);
        }),
        E::CorrectiveActionVerified(p) => update(&mut m.corrective_actions, at, |r| {
            r.verifications.push((at.occurred, p.effective));
            // An ineffective verification reopens the action: it must be completed again.
            if !p.effective {
                r.completed = None;
            }
        }),
        E::ImprovementRecorded(p) => create(
            &mut m.improvements,
            at,
            ImprovementRow {
                meta: at.meta(env),
                title: p.title.clone(),
                source: p.source.clone(),
            },
        ),
        _ => {}
    }
}

fn corrective_action_planned(
    m: &mut Model,
    env: &Envelope,
    at: &Stamp<'_>,
    p: &custodia_domain::CorrectiveActionPlanned,
) {
    let row = CorrectiveActionRow {
        meta: at.meta(env),
        nonconformity: p.nonconformity.clone(),
        owner: p.owner.clone(),
        due: p.due,
        completed: None,
        verifications: Vec::new(),
    };
    create(&mut m.corrective_actions, at, row);
    if let Some(nc) = m.nonconformities.get_mut(p.nonconformity.as_str()) {
        Arc::make_mut(nc).actions.insert(env.stream.id().clone());
    }
}

/// Parties, changes, communications, plans and assessments.
pub(crate) fn logs(m: &mut Model, env: &Envelope, at: &Stamp<'_>) {
    match &env.event {
        E::PartyRecorded(p) => create(
            &mut m.parties,
            at,
            PartyRow {
                meta: at.meta(env),
                name: p.name.clone(),
                category: p.category.clone(),
                requirements: p.requirements.len() as u32,
            },
        ),
        E::ChangeProposed(p) => create(
            &mut m.changes,
            at,
            ChangeRow {
                meta: at.meta(env),
                title: p.title.clone(),
                proposed_by: env.actor.clone(),
                approved: None,
                implemented: None,
            },
        ),
        E::ChangeApproved(_) => update(&mut m.changes, at, |r| {
            r.approved = Some((at.occurred, env.actor.clone()));
        }),
        E::ChangeImplemented(_) => {
            update(&mut m.changes, at, |r| r.implemented = Some(at.occurred))
        }
        E::CommunicationSent(p) => create(
            &mut m.communications,
            at,
            CommunicationRow {
                meta: at.meta(env),
                audience: p.audience.clone(),
                channel: p.channel.clone(),
                subject: p.subject.clone(),
                external: p.external,
                authority: p.authority.clone(),
            },
        ),
        _ => plans_and_assessments(m, env, at),
    }
}

fn plans_and_assessments(m: &mut Model, env: &Envelope, at: &Stamp<'_>) {
    match &env.event {
        E::PlanApproved(p) => {
            let row = PlanRow {
                meta: at.meta(env),
                title: p.title.clone(),
                kind: p.kind,
                revision: p.revision,
                exercises: 0,
                last_exercise: None,
            };
            // Approval also follows a revision: the row exists then, and keeps its history.
            if m.plans.contains_key(at.id) {
                update(&mut m.plans, at, |r| r.revision = p.revision);
            } else {
                create(&mut m.plans, at, row);
            }
        }
        E::PlanExercised(p) => update(&mut m.plans, at, |r| {
            r.exercises += 1;
            r.last_exercise = Some((at.occurred, p.outcome));
        }),
        E::PlanRevised(p) => update(&mut m.plans, at, |r| r.revision = p.revision),
        E::AssessmentStarted(p) => create(
            &mut m.assessments,
            at,
            AssessmentRow {
                meta: at.meta(env),
                standard: p.standard.clone(),
                ratings: BTreeMap::new(),
                completed: None,
            },
        ),
        E::AssessmentRequirementRated(p) => update(&mut m.assessments, at, |r| {
            r.ratings.insert(p.clause.clone(), p.rating);
        }),
        E::AssessmentCompleted(p) => update(&mut m.assessments, at, |r| {
            r.completed = Some((at.occurred, p.readiness_percent.clone()));
        }),
        _ => {}
    }
}
