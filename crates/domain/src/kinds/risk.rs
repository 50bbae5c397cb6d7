//! Clauses 6.1 and 8.3: the configurable risk matrix (`matrix`) and the risk register (`risk`).

use crate::context::Context;
use crate::event::{Envelope, Event};
use crate::ids::{roles, Actor, Code, RecordId, StreamId, StreamKind, Subject, Text};
use crate::macros::{code_enum, payload};
use crate::rejection::{Rejection, Result};
use crate::state::{invalid, Body, Kind};
use crate::time::Timestamp;
use std::collections::BTreeMap;

/// Largest matrix axis; a bigger grid stops being a judgement and becomes false precision.
pub const MATRIX_AXIS_MAX: usize = 10;

payload! {
    /// A rating band: scores `min_score..=max_score` carry `label`.
    pub struct Band {
        /// Label, e.g. `High`.
        pub label: Code,
        /// Lowest score in the band.
        #[schemars(range(min = 1, max = 100))]
        pub min_score: u32,
        /// Highest score in the band.
        #[schemars(range(min = 1, max = 100))]
        pub max_score: u32,
    }
}
payload! {
    /// `matrix.defined`: the risk matrix in force from now on (6.1.2).
    pub struct MatrixDefined {
        /// Likelihood labels, lowest first; their count is the likelihood axis size.
        pub likelihood: Vec<Code>,
        /// Impact labels, lowest first; their count is the impact axis size.
        pub impact: Vec<Code>,
        /// Bands over likelihood × impact, ascending, contiguous, covering 1..=size.
        pub bands: Vec<Band>,
    }
}
payload! {
    /// Which matrix definition a rating was made with: stream id and its definition number.
    pub struct MatrixRef {
        /// The matrix stream's id.
        pub id: RecordId,
        /// The definition number (1 for the first `matrix.defined` on that stream).
        #[schemars(range(min = 1, max = 1000000))]
        pub version: u32,
    }
}

impl MatrixDefined {
    /// The 5×5 matrix used when nothing else is configured, and by `risk.assessed` v1.
    pub fn default_5x5() -> MatrixDefined {
        let codes = |xs: [&str; 5]| xs.iter().map(|x| Code::new(*x).expect("label")).collect();
        let band = |label: &str, min_score, max_score| Band {
            label: Code::new(label).expect("label"),
            min_score,
            max_score,
        };
        MatrixDefined {
            likelihood: codes(["Rare", "Unlikely", "Possible", "Likely", "Almost certain"]),
            impact: codes(["Negligible", "Minor", "Moderate", "Major", "Severe"]),
            bands: vec![
                band("Low", 1, 4),
                band("Medium", 5, 9),
                band("High", 10, 16),
                band("Critical", 17, 25),
            ],
        }
    }

    /// Checks axis sizes and that bands tile 1..=likelihood×impact in ascending order.
    pub fn validate(&self) -> std::result::Result<(), String> {
        for (axis, labels) in [("likelihood", &self.likelihood), ("impact", &self.impact)] {
            if !(2..=MATRIX_AXIS_MAX).contains(&labels.len()) {
                return Err(format!(
                    "{axis} axis must have 2..={MATRIX_AXIS_MAX} labels"
                ));
            }
        }
        let mut next = 1;
        for band in &self.bands {
            if band.min_score != next || band.max_score < band.min_score {
                return Err(format!(
                    "band {} must start at {next} and not end before it",
                    band.label
                ));
            }
            next = band.max_score + 1;
        }
        let cells = (self.likelihood.len() * self.impact.len()) as u32;
        if next != cells + 1 {
            return Err(format!("bands must cover 1..={cells} exactly"));
        }
        Ok(())
    }

    /// The score and band for a likelihood and impact already checked to be in range.
    pub fn rate(&self, likelihood: u32, impact: u32) -> (u32, Code) {
        let score = likelihood * impact;
        let band = self
            .bands
            .iter()
            .find(|b| (b.min_score..=b.max_score).contains(&score));
        (
            score,
            band.map_or_else(
                || self.bands[self.bands.len() - 1].label.clone(),
                |b| b.label.clone(),
            ),
        )
    }
}

/// Commands on a `matrix` stream.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(
    tag = "action",
    content = "data",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum MatrixCommand {
    /// Define (or redefine) the matrix.
    Define(MatrixDefined),
}

/// State of one matrix: its latest definition and how many there were.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matrix {
    current: Option<MatrixDefined>,
    version: u32,
}

impl Matrix {
    /// The definition in force and its number.
    pub fn current(&self) -> Option<(&MatrixDefined, u32)> {
        self.current.as_ref().map(|m| (m, self.version))
    }
}

impl Kind for Matrix {
    type Command = MatrixCommand;
    fn decide(&self, rec: &Subject, cmd: MatrixCommand, ctx: &Context<'_>) -> Result<Vec<Event>> {
        ctx.require(
            rec,
            "defining the risk matrix",
            &[roles::SECURITY_MANAGER, roles::TOP_MANAGEMENT],
        )?;
        let MatrixCommand::Define(m) = cmd;
        m.validate().map_err(|reason| Rejection::InvalidValue {
            record: rec.clone(),
            field: "matrix",
            reason,
        })?;
        Ok(vec![Event::MatrixDefined(m)])
    }
    fn apply(&mut self, env: &Envelope) {
        if let Event::MatrixDefined(m) = &env.event {
            self.current = Some(m.clone());
            self.version += 1;
        }
    }
    fn exists(&self) -> bool {
        self.current.is_some()
    }
    fn creates(_: &MatrixCommand) -> bool {
        // Redefinition is allowed: each definition is a new version of the matrix.
        false
    }
    fn may_create(_: &MatrixCommand) -> bool {
        true
    }
}

code_enum! {
    /// The supply-chain threat a risk concerns.
    pub enum Threat {
        /// Theft of cargo in transit or storage.
        CargoTheft => "cargo_theft",
        /// Contraband hidden in legitimate shipments.
        Smuggling => "smuggling",
        /// Tampering with goods or seals.
        Tampering => "tampering",
        /// Piracy and armed robbery at sea.
        Piracy => "piracy",
        /// Counterfeit goods entering the chain.
        Counterfeiting => "counterfeiting",
        /// Attacks on systems and data.
        Cyber => "cyber",
        /// Insider collusion.
        Insider => "insider",
    }
}

code_enum! {
    /// How a risk is treated (6.1.2).
    pub enum TreatmentOption {
        /// Reduce likelihood or impact.
        Mitigate => "mitigate",
        /// Share it (insurance, contract).
        Transfer => "transfer",
        /// Stop the activity.
        Avoid => "avoid",
    }
}

payload! {
    /// `risk.identified`: a security risk to an asset or process at a supply-chain node.
    pub struct RiskIdentified {
        /// Title.
        pub title: Text,
        /// The threat.
        pub threat: Threat,
        /// The weakness the threat exploits.
        pub vulnerability: Text,
        /// The asset or process at risk.
        pub asset: Text,
        /// The supply-chain node (site, lane, port).
        pub node: Code,
        /// The risk owner.
        pub owner: Actor,
    }
}
payload! {
    /// A rating on the matrix in force: `risk.assessed` (schema 2) rates inherent risk,
    /// `risk.residual_assessed` rates residual risk after treatment.
    pub struct RiskAssessed {
        /// Likelihood, 1..=matrix likelihood size.
        #[schemars(range(min = 1, max = 10))]
        pub likelihood: u32,
        /// Impact, 1..=matrix impact size.
        #[schemars(range(min = 1, max = 10))]
        pub impact: u32,
        /// Likelihood × impact.
        #[schemars(range(min = 1, max = 100))]
        pub score: u32,
        /// The matrix band the score falls in.
        pub rating: Code,
        /// The matrix the rating was made with.
        pub matrix: MatrixRef,
        /// Why these values.
        pub rationale: Text,
    }
}
payload! {
    /// `risk.assessed` schema 1, before matrices were configurable: the fixed 5×5 matrix applied.
    pub struct RiskAssessedV1 {
        /// Likelihood, 1..=5.
        #[schemars(range(min = 1, max = 5))]
        pub likelihood: u32,
        /// Impact, 1..=5.
        #[schemars(range(min = 1, max = 5))]
        pub impact: u32,
        /// Why these values.
        pub rationale: Text,
    }
}
payload! {
    /// `risk.treatment_planned`: a treatment with owner and due date (8.3).
    pub struct TreatmentPlanned {
        /// The treatment's key within the risk.
        pub treatment: RecordId,
        /// Treatment option.
        pub option: TreatmentOption,
        /// What will be done.
        pub description: Text,
        /// Who does it.
        pub owner: Actor,
        /// When it is due.
        pub due: Timestamp,
        /// Controls it relies on.
        pub controls: Vec<RecordId>,
    }
}
payload! {
    /// `risk.treatment_completed`: a planned treatment was carried out.
    pub struct TreatmentCompleted {
        /// The treatment's key.
        pub treatment: RecordId,
        /// Evidence of completion.
        pub evidence: Text,
    }
}
payload! {
    /// `risk.accepted`: someone with acceptance authority accepted the (residual) risk.
    pub struct RiskAccepted {
        /// Why the risk is acceptable.
        pub rationale: Text,
        /// When the acceptance lapses and the risk falls due for review.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub expires: Option<Timestamp>,
    }
}
payload! {
    /// `risk.reviewed`: the scheduled review happened.
    pub struct RiskReviewed {
        /// What the review concluded.
        pub notes: Text,
        /// When the next review is due.
        pub next_review_due: Timestamp,
    }
}
payload! {
    /// `risk.closed`: the risk no longer applies.
    pub struct RiskClosed {
        /// Why.
        pub reason: Text,
    }
}

/// A likelihood and impact as commanded; the domain computes score and band.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Likelihood.
    pub likelihood: u32,
    /// Impact.
    pub impact: u32,
    /// The matrix stream to rate on.
    pub matrix: RecordId,
    /// Why these values.
    pub rationale: Text,
}

/// Commands on a `risk` stream.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(
    tag = "action",
    content = "data",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum RiskCommand {
    /// Identify it.
    Identify(RiskIdentified),
    /// Rate inherent risk.
    Assess(Rate),
    /// Plan a treatment.
    PlanTreatment(TreatmentPlanned),
    /// Complete a treatment.
    CompleteTreatment(TreatmentCompleted),
    /// Rate residual risk after treatment.
    AssessResidual(Rate),
    /// Accept it.
    Accept(RiskAccepted),
    /// Review it.
    Review(RiskReviewed),
    /// Close it.
    Close(RiskClosed),
}

/// A rating as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rating {
    /// Likelihood.
    pub likelihood: u32,
    /// Impact.
    pub impact: u32,
    /// Score.
    pub score: u32,
    /// Band label.
    pub rating: Code,
    /// Matrix used.
    pub matrix: MatrixRef,
}

/// State of one risk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Risk {
    identified: Option<RiskIdentified>,
    inherent: Option<Rating>,
    residual: Option<Rating>,
    treatments: BTreeMap<RecordId, bool>,
    accepted_until: Option<Option<Timestamp>>,
    next_review_due: Option<Timestamp>,
    closed: bool,
}

impl Risk {
    /// Inherent rating, once assessed.
    pub fn inherent(&self) -> Option<&Rating> {
        self.inherent.as_ref()
    }
    /// Residual rating, once assessed.
    pub fn residual(&self) -> Option<&Rating> {
        self.residual.as_ref()
    }
    /// Treatments and whether each is complete.
    pub fn treatments(&self) -> &BTreeMap<RecordId, bool> {
        &self.treatments
    }
    /// Whether it is closed.
    pub fn is_closed(&self) -> bool {
        self.closed
    }
    /// Whether it is due for review at `at`: its review date passed or its acceptance lapsed.
    pub fn review_due(&self, at: Timestamp) -> bool {
        let lapsed = matches!(self.accepted_until, Some(Some(expiry)) if expiry <= at);
        !self.closed && (lapsed || self.next_review_due.is_some_and(|d| d <= at))
    }

    fn rate(&self, rec: &Subject, rate: &Rate, ctx: &Context<'_>) -> Result<Rating> {
        let link = StreamId::new(StreamKind::Matrix, rate.matrix.clone());
        let state = ctx.linked(rec, &link)?;
        // The definition in force is the latest; it must already be in force at occurred_at.
        ctx.not_before(rec, &link, state.last_occurred_at())?;
        let Body::Matrix(m) = state.body() else {
            return Err(Rejection::LinkMissing {
                record: rec.clone(),
                link: link.subject(),
            });
        };
        let Some((def, version)) = m.current() else {
            return Err(Rejection::LinkMissing {
                record: rec.clone(),
                link: link.subject(),
            });
        };
        rating_on(
            rec,
            def,
            MatrixRef {
                id: rate.matrix.clone(),
                version,
            },
            rate,
        )
    }
}

/// Rates on a given matrix definition, refusing scores outside its axes.
pub(crate) fn rating_on(
    rec: &Subject,
    def: &MatrixDefined,
    matrix: MatrixRef,
    rate: &Rate,
) -> Result<Rating> {
    for (field, value, max) in [
        ("likelihood", rate.likelihood, def.likelihood.len()),
        ("impact", rate.impact, def.impact.len()),
    ] {
        if value == 0 || value as usize > max {
            let matrix = format!("{}@v{}", matrix.id, matrix.version);
            return Err(Rejection::ScoreOutOfRange {
                record: rec.clone(),
                field,
                value,
                max: max as u32,
                matrix,
            });
        }
    }
    let (score, rating) = def.rate(rate.likelihood, rate.impact);
    Ok(Rating {
        likelihood: rate.likelihood,
        impact: rate.impact,
        score,
        rating,
        matrix,
    })
}

fn assessed(r: Rating, rationale: Text) -> RiskAssessed {
    RiskAssessed {
        likelihood: r.likelihood,
        impact: r.impact,
        score: r.score,
        rating: r.rating,
        matrix: r.matrix,
        rationale,
    }
}

fn rating_of(p: &RiskAssessed) -> Rating {
    Rating {
        likelihood: p.likelihood,
        impact: p.impact,
        score: p.score,
        rating: p.rating.clone(),
        matrix: p.matrix.clone(),
    }
}

impl Kind for Risk {
    type Command = RiskCommand;
    fn decide(&self, rec: &Subject, cmd: RiskCommand, ctx: &Context<'_>) -> Result<Vec<Event>> {
        if self.closed {
            return Err(invalid(rec, "change it", "closed"));
        }
        let assessors = &[roles::RISK_OWNER, roles::SECURITY_MANAGER];
        let not_assessed = |action| Rejection::RiskNotAssessed {
            record: rec.clone(),
            action,
        };
        let event = match cmd {
            RiskCommand::Identify(p) => {
                ctx.require(rec, "identifying risks", assessors)?;
                Event::RiskIdentified(p)
            }
            RiskCommand::Assess(rate) => {
                ctx.require(rec, "assessing risks", assessors)?;
                Event::RiskAssessed(assessed(self.rate(rec, &rate, ctx)?, rate.rationale))
            }
            RiskCommand::PlanTreatment(p) => {
                ctx.require(rec, "planning treatment", assessors)?;
                self.inherent
                    .as_ref()
                    .ok_or_else(|| not_assessed("plan treatment"))?;
                self.check_new_treatment(rec, &p, ctx)?;
                Event::RiskTreatmentPlanned(p)
            }
            RiskCommand::CompleteTreatment(p) => {
                ctx.require(rec, "completing treatment", assessors)?;
                self.check_completion(rec, &p)?;
                Event::RiskTreatmentCompleted(p)
            }
            RiskCommand::AssessResidual(rate) => {
                ctx.require(rec, "assessing risks", assessors)?;
                Event::RiskResidualAssessed(self.residual_rating(rec, rate, ctx)?)
            }
            RiskCommand::Accept(p) => {
                self.inherent
                    .as_ref()
                    .ok_or_else(|| not_assessed("accept"))?;
                ctx.require(rec, "accepting risk", &[roles::RISK_ACCEPTANCE])?;
                if let Some(expires) = p.expires {
                    ctx.require_after(rec, "expires", expires)?;
                }
                Event::RiskAccepted(p)
            }
            RiskCommand::Review(p) => {
                ctx.require(rec, "reviewing risks", assessors)?;
                ctx.require_after(rec, "next_review_due", p.next_review_due)?;
                Event::RiskReviewed(p)
            }
            RiskCommand::Close(p) => {
                ctx.require(rec, "closing risks", &[roles::SECURITY_MANAGER])?;
                if let Some((open, _)) = self.treatments.iter().find(|(_, done)| !**done) {
                    return Err(Rejection::TreatmentIncomplete {
                        record: rec.clone(),
                        treatment: open.to_string(),
                    });
                }
                Event::RiskClosed(p)
            }
        };
        Ok(vec![event])
    }
    fn apply(&mut self, env: &Envelope) {
        match &env.event {
            Event::RiskIdentified(p) => self.identified = Some(p.clone()),
            Event::RiskAssessed(p) => {
                // A residual rating is relative to the inherent one it followed; a new
                // inherent assessment makes it stale, so residual must be rated again.
                self.inherent = Some(rating_of(p));
                self.residual = None;
            }
            Event::RiskTreatmentPlanned(p) => {
                self.treatments.insert(p.treatment.clone(), false);
            }
            Event::RiskTreatmentCompleted(p) => {
                self.treatments.insert(p.treatment.clone(), true);
            }
            Event::RiskResidualAssessed(p) => self.residual = Some(rating_of(p)),
            Event::RiskAccepted(p) => self.accepted_until = Some(p.expires),
            Event::RiskReviewed(p) => self.next_review_due = Some(p.next_review_due),
            Event::RiskClosed(_) => self.closed = true,
            _ => {}
        }
    }
    fn exists(&self) -> bool {
        self.identified.is_some()
    }
    fn creates(cmd: &RiskCommand) -> bool {
        matches!(cmd, RiskCommand::Identify(_))
    }
    fn invariant(&self) -> std::result::Result<(), String> {
        if self.accepted_until.is_some() && self.inherent.is_none() {
            return Err("accepted without assessment".into());
        }
        if !self.treatments.is_empty() && self.inherent.is_none() {
            return Err("treated without assessment".into());
        }
        if self.closed && self.treatments.values().any(|done| !done) {
            return Err("closed with an incomplete treatment".into());
        }
        match (&self.inherent, &self.residual) {
            (None, Some(_)) => Err("residual without inherent rating".into()),
            (Some(i), Some(r)) if r.score > i.score => Err("residual above inherent".into()),
            _ => Ok(()),
        }
    }
}

impl Risk {
    fn residual_rating(
        &self,
        rec: &Subject,
        rate: Rate,
        ctx: &Context<'_>,
    ) -> Result<RiskAssessed> {
        let inherent = self
            .inherent
            .as_ref()
            .ok_or_else(|| Rejection::RiskNotAssessed {
                record: rec.clone(),
                action: "rate residual risk",
            })?;
        let residual = self.rate(rec, &rate, ctx)?;
        if residual.score > inherent.score {
            let (residual, inherent) = (residual.score, inherent.score);
            return Err(Rejection::ResidualAboveInherent {
                record: rec.clone(),
                residual,
                inherent,
            });
        }
        Ok(assessed(residual, rate.rationale))
    }

    fn check_new_treatment(
        &self,
        rec: &Subject,
        p: &TreatmentPlanned,
        ctx: &Context<'_>,
    ) -> Result<()> {
        if self.treatments.contains_key(&p.treatment) {
            let key = p.treatment.to_string();
            return Err(Rejection::Duplicate {
                record: rec.clone(),
                what: "treatment",
                key,
            });
        }
        ctx.require_after(rec, "due", p.due)?;
        for control in &p.controls {
            ctx.require_exists(rec, &StreamId::new(StreamKind::Control, control.clone()))?;
        }
        Ok(())
    }

    fn check_completion(&self, rec: &Subject, p: &TreatmentCompleted) -> Result<()> {
        let key = p.treatment.to_string();
        match self.treatments.get(&p.treatment) {
            None => Err(Rejection::UnknownItem {
                record: rec.clone(),
                what: "treatment",
                key,
            }),
            Some(true) => Err(Rejection::Duplicate {
                record: rec.clone(),
                what: "completion of treatment",
                key,
            }),
            Some(false) => Ok(()),
        }
    }
}
