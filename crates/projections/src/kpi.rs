//! The KPIs the board shows (ISO28000.md, "KPIs the board shows"), each a pure function of a
//! [`Model`] and the date `at` it is computed for. Every figure is exact: counts, exact
//! ratios ([`Ratio`]) and whole seconds, never floats, so a KPI digests the same everywhere.
//!
//! "As of any date" is the caller's choice of model: [`crate::Projector::as_of`] gives what
//! was known then, [`crate::Projector::valid_at`] what was true then; pass the same date as
//! `at`.

use crate::model::Model;
use crate::rows::*;
use custodia_domain::{Actor, IncidentCategory, RecordId, Severity, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// An exact share: `numerator` of `denominator`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ratio {
    /// How many meet the definition.
    pub numerator: u64,
    /// How many the definition is about.
    pub denominator: u64,
}

impl Ratio {
    /// Builds a ratio.
    pub fn new(numerator: u64, denominator: u64) -> Ratio {
        Ratio {
            numerator,
            denominator,
        }
    }
    /// The share in whole percent, rounded down; `None` when there is nothing to measure.
    pub fn percent(&self) -> Option<u64> {
        (self.denominator > 0).then(|| self.numerator * 100 / self.denominator)
    }
    fn count(&mut self, hit: bool) {
        self.denominator += 1;
        self.numerator += u64::from(hit);
    }
}

/// Incidents that happened in one calendar month (UTC), of one category and severity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentCount {
    /// `YYYY-MM`.
    pub month: String,
    /// Category.
    pub category: IncidentCategory,
    /// Severity (as triaged, else as reported).
    pub severity: Severity,
    /// Incidents.
    pub count: u64,
}

/// **Incidents per month by category and severity**: incidents whose reported occurrence
/// (`incident.reported`'s `occurred_at`) is on or before `at`, counted by the UTC month of
/// that date, their category, and their current severity. Sorted by month, category,
/// severity.
pub fn incidents_per_month(m: &Model, at: Timestamp) -> Vec<IncidentCount> {
    let mut counts: BTreeMap<((i64, u32), IncidentCategory, Severity), u64> = BTreeMap::new();
    for i in m.incidents.values().filter(|i| i.meta.created <= at) {
        let month = year_month(i.meta.created);
        *counts.entry((month, i.category, i.severity)).or_default() += 1;
    }
    counts
        .into_iter()
        .map(
            |(((year, month), category, severity), count)| IncidentCount {
                month: format!("{year:04}-{month:02}"),
                category,
                severity,
                count,
            },
        )
        .collect()
}

/// The UTC year and month of `t`, by arithmetic rather than formatting: the board counts
/// every incident, and printing each timestamp cost more than the rest of the KPI.
/// (Days to civil date: H. Hinnant, "chrono-Compatible Low-Level Date Algorithms".)
pub fn year_month(t: Timestamp) -> (i64, u32) {
    let days = t.micros().div_euclid(86_400_000_000) + 719_468;
    let era = days.div_euclid(146_097);
    let doe = days - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month as u32)
}

/// A mean duration over some incidents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeanDuration {
    /// Incidents measured.
    pub incidents: u64,
    /// Mean in whole seconds (rounded down); `None` when none were measured.
    pub mean_seconds: Option<u64>,
}

fn mean(durations: impl Iterator<Item = i64>) -> MeanDuration {
    let (mut n, mut total) = (0u64, 0i128);
    for d in durations {
        n += 1;
        total += i128::from(d.max(0));
    }
    let mean_micros = (n > 0).then(|| total / i128::from(n.max(1)));
    MeanDuration {
        incidents: n,
        mean_seconds: mean_micros.map(|m| u64::try_from(m / 1_000_000).unwrap_or(u64::MAX)),
    }
}

/// **Mean time to contain**: over incidents contained on or before `at`, the mean of
/// (`incident.contained` − `incident.reported`) by `occurred_at`.
pub fn mean_time_to_contain(m: &Model, at: Timestamp) -> MeanDuration {
    let span = |i: &IncidentRow| {
        i.contained
            .filter(|c| *c <= at)
            .map(|c| c.micros() - i.meta.created.micros())
    };
    mean(m.incidents.values().filter_map(|i| span(i)))
}

/// **Mean time to close**: over incidents closed on or before `at`, the mean of
/// (`incident.closed` − `incident.reported`) by `occurred_at`.
pub fn mean_time_to_close(m: &Model, at: Timestamp) -> MeanDuration {
    let span = |i: &IncidentRow| {
        i.closed
            .filter(|c| *c <= at)
            .map(|c| c.micros() - i.meta.created.micros())
    };
    mean(m.incidents.values().filter_map(|i| span(i)))
}

/// Open risks counted by band.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskRatings {
    /// By inherent band (open risks that were assessed).
    pub inherent: BTreeMap<String, u64>,
    /// By residual band (open risks whose residual was assessed).
    pub residual: BTreeMap<String, u64>,
}

/// **Risks by rating (inherent, residual)**: open (not closed) risks counted by the band of
/// their inherent rating, and separately by the band of their residual rating when one was
/// assessed.
pub fn risks_by_rating(m: &Model) -> RiskRatings {
    let mut out = RiskRatings::default();
    for r in m.risks.values().filter(|r| r.closed.is_none()) {
        if let Some(i) = &r.inherent {
            *out.inherent
                .entry(i.rating.as_str().to_owned())
                .or_default() += 1;
        }
        if let Some(x) = &r.residual {
            *out.residual
                .entry(x.rating.as_str().to_owned())
                .or_default() += 1;
        }
    }
    out
}

/// **Share of high risks with an active treatment**: among open risks whose inherent band is
/// `High` or `Critical`, those with at least one treatment planned (in progress or
/// completed).
pub fn high_risks_treated(m: &Model) -> Ratio {
    let mut ratio = Ratio::default();
    let high = |r: &&std::sync::Arc<RiskRow>| {
        r.closed.is_none() && r.inherent.as_ref().is_some_and(RatingView::is_high)
    };
    for r in m.risks.values().filter(high) {
        ratio.count(!r.treatments.is_empty());
    }
    ratio
}

/// Reviews past their date.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewsOverdue {
    /// Open risks whose review date (next review, or an acceptance's expiry) is before `at`.
    pub risks: u64,
    /// Obligations not retired whose next review is before `at`.
    pub obligations: u64,
    /// Management reviews scheduled before `at` and not yet held.
    pub management: u64,
}

/// **Reviews overdue**: see [`ReviewsOverdue`]'s fields.
pub fn reviews_overdue(m: &Model, at: Timestamp) -> ReviewsOverdue {
    let count = |n: usize| n as u64;
    ReviewsOverdue {
        risks: count(m.risks.values().filter(|r| r.overdue(at)).count()),
        obligations: count(
            m.obligations
                .values()
                .filter(|o| o.retired.is_none() && o.next_review < at)
                .count(),
        ),
        management: count(
            m.reviews
                .values()
                .filter(|r| r.held.is_none() && r.scheduled_for < at)
                .count(),
        ),
    }
}

/// The CAPA figures (clause 10).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capa {
    /// Nonconformities raised and not closed.
    pub open_nonconformities: u64,
    /// Corrective actions not verified effective.
    pub open_actions: u64,
    /// Open corrective actions, not completed, due before `at`.
    pub overdue_actions: u64,
    /// Of completed corrective actions, those completed on or before their due date.
    pub on_time: Ratio,
    /// Of verifications recorded, those that found the action effective.
    pub effectiveness: Ratio,
}

/// **CAPA open, overdue, on-time closure rate, effectiveness rate**: see [`Capa`]'s fields.
/// Completion is the latest one (an ineffective verification reopens an action).
pub fn capa(m: &Model, at: Timestamp) -> Capa {
    let mut out = Capa {
        open_nonconformities: m
            .nonconformities
            .values()
            .filter(|n| n.closed.is_none())
            .count() as u64,
        ..Capa::default()
    };
    for a in m.corrective_actions.values() {
        out.open_actions += u64::from(a.open());
        out.overdue_actions += u64::from(a.overdue(at));
        if let Some(done) = a.completed {
            out.on_time.count(done <= a.due);
        }
        for (_, effective) in &a.verifications {
            out.effectiveness.count(*effective);
        }
    }
    out
}

/// Objectives by track.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectiveTrack {
    /// Active, measured, and either meeting the target already or improving on the baseline
    /// with the due date not yet passed.
    pub on_track: u64,
    /// Active, measured, and neither of the above.
    pub off_track: u64,
    /// Active with no measurement yet.
    pub not_measured: u64,
    /// Achieved.
    pub achieved: u64,
}

/// **Objectives on/off track**: see [`ObjectiveTrack`]'s fields (abandoned ones are left
/// out).
pub fn objectives(m: &Model, at: Timestamp) -> ObjectiveTrack {
    let mut out = ObjectiveTrack::default();
    for o in m.objectives.values() {
        match (o.stage, &o.latest) {
            (ObjectiveStage::Achieved, _) => out.achieved += 1,
            (ObjectiveStage::Abandoned, _) => {}
            (ObjectiveStage::Active, None) => out.not_measured += 1,
            (ObjectiveStage::Active, Some((_, value, _))) => {
                let on = o.meets_target(value) || (o.improves(value) && at <= o.due);
                *(if on {
                    &mut out.on_track
                } else {
                    &mut out.off_track
                }) += 1;
            }
        }
    }
    out
}

/// **Supplier screening coverage**: of suppliers not offboarded, those whose latest
/// screening passed and is within their screening interval at `at`.
pub fn supplier_screening(m: &Model, at: Timestamp) -> Ratio {
    let mut ratio = Ratio::default();
    let active = |s: &&std::sync::Arc<SupplierRow>| s.stage != SupplierStage::Offboarded;
    for s in m.suppliers.values().filter(active) {
        ratio.count(s.screening_status(at) == ScreeningStatus::Current);
    }
    ratio
}

/// The person record of an actor: the local part of its name (`user:alice@acme.example`
/// → `alice`), the convention the domain's scenario uses for `person/<id>` streams.
pub fn person_id(actor: &Actor) -> &str {
    let name = actor.as_str().split_once(':').map_or("", |(_, n)| n);
    name.split('@').next().unwrap_or(name)
}

/// **Training coverage per role**: for each role that requires at least one competence,
/// the pairs (holder, required competence) where the holder's training for it is valid at
/// `at` (not recorded expired, `valid_until` ≥ `at`), out of all such pairs.
pub fn training_coverage(m: &Model, at: Timestamp) -> BTreeMap<String, Ratio> {
    let mut required: BTreeMap<&str, Vec<&RecordId>> = BTreeMap::new();
    for c in m.competences.values() {
        required
            .entry(c.role.as_str())
            .or_default()
            .push(&c.meta.id);
    }
    let mut out = BTreeMap::new();
    for (role, competences) in required {
        let mut ratio = Ratio::default();
        let holders = m.roles.get(role).map(|r| r.people()).unwrap_or_default();
        for person in holders {
            let row = m.people.get(person_id(person));
            for c in &competences {
                ratio.count(row.is_some_and(|p| p.trained(c, at)));
            }
        }
        out.insert(role.to_owned(), ratio);
    }
    out
}

/// People holding at least one role: the population a policy must reach.
pub fn staff(m: &Model) -> BTreeSet<&Actor> {
    m.roles
        .values()
        .flat_map(|r| r.holders.iter().map(|(person, _)| person))
        .collect()
}

/// **Policy acknowledgement coverage**: for each published policy, the people holding at
/// least one role who acknowledged it, out of all people holding a role.
pub fn policy_acknowledgement(m: &Model) -> BTreeMap<String, Ratio> {
    let staff = staff(m);
    let published = |p: &&std::sync::Arc<PolicyRow>| p.stage == PolicyStage::Published;
    m.policies
        .values()
        .filter(published)
        .map(|p| {
            let acknowledged = common(staff.iter().copied(), p.acknowledged.iter());
            let ratio = Ratio::new(acknowledged, staff.len() as u64);
            (p.meta.id.as_str().to_owned(), ratio)
        })
        .collect()
}

/// How many items two ascending sequences share: one linear merge, no lookups (the staff
/// and the acknowledgements of a large SMS are both tens of thousands long).
fn common<'a>(a: impl Iterator<Item = &'a Actor>, b: impl Iterator<Item = &'a Actor>) -> u64 {
    let (mut a, mut b) = (a.peekable(), b.peekable());
    let mut n = 0;
    while let (Some(x), Some(y)) = (a.peek(), b.peek()) {
        match x.cmp(y) {
            std::cmp::Ordering::Less => {
                a.next();
            }
            std::cmp::Ordering::Greater => {
                b.next();
            }
            std::cmp::Ordering::Equal => {
                n += 1;
                a.next();
                b.next();
            }
        }
    }
    n
}

/// **Audit programme completion**: of audits scheduled on or before `at`, those conducted
/// (conducted, reported or closed).
pub fn audit_completion(m: &Model, at: Timestamp) -> Ratio {
    let mut ratio = Ratio::default();
    for a in m.audits.values().filter(|a| a.scheduled_for <= at) {
        ratio.count(a.stage != AuditStage::Planned);
    }
    ratio
}

/// The whole board, computed at one date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Board {
    /// The date the KPIs are computed at.
    pub at: Timestamp,
    /// [`incidents_per_month`].
    pub incidents_per_month: Vec<IncidentCount>,
    /// [`mean_time_to_contain`].
    pub mean_time_to_contain: MeanDuration,
    /// [`mean_time_to_close`].
    pub mean_time_to_close: MeanDuration,
    /// [`risks_by_rating`].
    pub risks_by_rating: RiskRatings,
    /// [`high_risks_treated`].
    pub high_risks_treated: Ratio,
    /// [`reviews_overdue`].
    pub reviews_overdue: ReviewsOverdue,
    /// [`capa`].
    pub capa: Capa,
    /// [`objectives`].
    pub objectives: ObjectiveTrack,
    /// [`supplier_screening`].
    pub supplier_screening: Ratio,
    /// [`training_coverage`].
    pub training_coverage: BTreeMap<String, Ratio>,
    /// [`policy_acknowledgement`].
    pub policy_acknowledgement: BTreeMap<String, Ratio>,
    /// [`audit_completion`].
    pub audit_completion: Ratio,
}

impl Board {
    /// Every KPI of `m` at `at`.
    pub fn compute(m: &Model, at: Timestamp) -> Board {
        Board {
            at,
            incidents_per_month: incidents_per_month(m, at),
            mean_time_to_contain: mean_time_to_contain(m, at),
            mean_time_to_close: mean_time_to_close(m, at),
            risks_by_rating: risks_by_rating(m),
            high_risks_treated: high_risks_treated(m),
            reviews_overdue: reviews_overdue(m, at),
            capa: capa(m, at),
            objectives: objectives(m, at),
            supplier_screening: supplier_screening(m, at),
            training_coverage: training_coverage(m, at),
            policy_acknowledgement: policy_acknowledgement(m),
            audit_completion: audit_completion(m, at),
        }
    }
}
