//! Every event type, its schema version, its payload encoding, decoding with upcasting, and
//! the envelope that places an event in a stream.

use crate::ids::{Actor, StreamId, StreamKind};
use crate::kinds::*;
use crate::time::Timestamp;
use schemars::schema::RootSchema;
use serde_json::{Map, Value};

/// One event type: its name, current schema version and the stream kind it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventType {
    /// The type, e.g. `risk.assessed`.
    pub name: &'static str,
    /// The current schema version.
    pub version: u32,
    /// The stream kind its events are appended to.
    pub kind: StreamKind,
}

/// Why a stored event could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// No event type has this name.
    #[error("unknown event type {0:?}")]
    UnknownType(String),
    /// The schema version is neither current nor one that can be upcast.
    #[error("{event_type}: schema version {version} is not supported (current is {current})")]
    UnsupportedVersion {
        /// The type.
        event_type: String,
        /// The version given.
        version: u32,
        /// The current version.
        current: u32,
    },
    /// The payload does not match the type's schema.
    #[error("{event_type} v{version}: payload is invalid: {message}")]
    Payload {
        /// The type.
        event_type: String,
        /// The version given.
        version: u32,
        /// What serde reported.
        message: String,
    },
    /// An envelope field is missing or malformed.
    #[error("envelope field {field}: {message}")]
    Envelope {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The event's type belongs to another stream kind than the stream it is in.
    #[error("event type {event_type} does not belong in stream {stream}")]
    WrongStream {
        /// The stream.
        stream: String,
        /// The type.
        event_type: String,
    },
}

macro_rules! events {
    ($($variant:ident($payload:ty) => $name:literal, $kind:ident, $version:literal;)*) => {
        /// A domain event: what happened, typed. Its name and payload are the contract with
        /// downstream consumers (ISO28000.md).
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum Event {
            $(#[doc = concat!("`", $name, "` (schema ", $version, ")")] $variant($payload),)*
        }

        /// Every event type with its current schema version.
        pub const EVENT_TYPES: &[EventType] = &[
            $(EventType { name: $name, version: $version, kind: StreamKind::$kind },)*
        ];

        impl Event {
            /// The type name, e.g. `risk.assessed`.
            pub fn event_type(&self) -> &'static str {
                match self { $(Event::$variant(_) => $name,)* }
            }
            /// The schema version this event is written with.
            pub fn schema_version(&self) -> u32 {
                match self { $(Event::$variant(_) => $version,)* }
            }
            /// The stream kind the event belongs to.
            pub fn stream_kind(&self) -> StreamKind {
                match self { $(Event::$variant(_) => StreamKind::$kind,)* }
            }
            /// The payload as a JSON object: the ledger's `event.data`.
            pub fn data(&self) -> Value {
                // Payloads are plain structs with string keys; serialization cannot fail.
                match self { $(Event::$variant(p) => serde_json::to_value(p),)* }
                    .expect("payloads serialize")
            }
            fn from_current(name: &str, data: Value) -> Result<Event, serde_json::Error> {
                match name {
                    $($name => serde_json::from_value::<$payload>(data).map(Event::$variant),)*
                    _ => unreachable!("name checked against EVENT_TYPES"),
                }
            }
        }

        fn current_schemas() -> Vec<(&'static str, u32, RootSchema)> {
            vec![$(($name, $version, schemars::schema_for!($payload)),)*]
        }
    };
}

events! {
    IssueRecorded(IssueRecorded) => "issue.recorded", Issue, 1;
    IssueRevised(IssueRevised) => "issue.revised", Issue, 1;
    IssueRetired(IssueRetired) => "issue.retired", Issue, 1;
    PartyRecorded(PartyRecorded) => "party.recorded", Party, 1;
    ObligationRecorded(ObligationRecorded) => "obligation.recorded", Obligation, 1;
    ObligationReviewed(ObligationReviewed) => "obligation.reviewed", Obligation, 1;
    ObligationRetired(ObligationRetired) => "obligation.retired", Obligation, 1;
    ScopeDefined(ScopeStatement) => "scope.defined", Scope, 1;
    ScopeRevised(ScopeStatement) => "scope.revised", Scope, 1;
    PolicyDrafted(PolicyDrafted) => "policy.drafted", Policy, 1;
    PolicyApproved(PolicyApproved) => "policy.approved", Policy, 1;
    PolicyPublished(PolicyPublished) => "policy.published", Policy, 1;
    PolicyAcknowledged(PolicyAcknowledged) => "policy.acknowledged", Policy, 1;
    PolicySuperseded(PolicySuperseded) => "policy.superseded", Policy, 1;
    PolicyRetired(PolicyRetired) => "policy.retired", Policy, 1;
    RoleDefined(RoleDefined) => "role.defined", Role, 1;
    RoleAssigned(RoleAssignment) => "role.assigned", Role, 1;
    RoleUnassigned(RoleAssignment) => "role.unassigned", Role, 1;
    MatrixDefined(MatrixDefined) => "matrix.defined", Matrix, 1;
    RiskIdentified(RiskIdentified) => "risk.identified", Risk, 1;
    RiskAssessed(RiskAssessed) => "risk.assessed", Risk, 2;
    RiskTreatmentPlanned(TreatmentPlanned) => "risk.treatment_planned", Risk, 1;
    RiskTreatmentCompleted(TreatmentCompleted) => "risk.treatment_completed", Risk, 1;
    RiskResidualAssessed(RiskAssessed) => "risk.residual_assessed", Risk, 1;
    RiskAccepted(RiskAccepted) => "risk.accepted", Risk, 1;
    RiskReviewed(RiskReviewed) => "risk.reviewed", Risk, 1;
    RiskClosed(RiskClosed) => "risk.closed", Risk, 1;
    ObjectiveSet(ObjectiveSet) => "objective.set", Objective, 1;
    ObjectiveMeasured(ObjectiveMeasured) => "objective.measured", Objective, 1;
    ObjectiveRevised(ObjectiveRevised) => "objective.revised", Objective, 1;
    ObjectiveAchieved(ObjectiveAchieved) => "objective.achieved", Objective, 1;
    ObjectiveAbandoned(ObjectiveAbandoned) => "objective.abandoned", Objective, 1;
    ChangeProposed(ChangeProposed) => "change.proposed", Change, 1;
    ChangeApproved(ChangeNote) => "change.approved", Change, 1;
    ChangeImplemented(ChangeNote) => "change.implemented", Change, 1;
    CompetenceRequired(CompetenceRequired) => "competence.required", Competence, 1;
    TrainingCompleted(TrainingCompleted) => "training.completed", Person, 1;
    TrainingExpired(TrainingExpired) => "training.expired", Person, 1;
    CommunicationSent(CommunicationSent) => "communication.sent", Communication, 1;
    DocumentIssued(DocumentIssued) => "document.issued", Document, 1;
    DocumentApproved(DocumentApproved) => "document.approved", Document, 1;
    DocumentWithdrawn(DocumentWithdrawn) => "document.withdrawn", Document, 1;
    ControlDefined(ControlDefined) => "control.defined", Control, 1;
    ControlImplemented(ControlImplemented) => "control.implemented", Control, 1;
    ControlTested(ControlTested) => "control.tested", Control, 1;
    ControlRetired(ControlRetired) => "control.retired", Control, 1;
    SupplierOnboarded(SupplierOnboarded) => "supplier.onboarded", Supplier, 1;
    SupplierScreened(SupplierScreened) => "supplier.screened", Supplier, 1;
    SupplierTiered(SupplierTiered) => "supplier.tiered", Supplier, 1;
    SupplierAssessed(SupplierAssessed) => "supplier.assessed", Supplier, 1;
    SupplierApproved(SupplierDecision) => "supplier.approved", Supplier, 1;
    SupplierSuspended(SupplierDecision) => "supplier.suspended", Supplier, 1;
    SupplierReinstated(SupplierDecision) => "supplier.reinstated", Supplier, 1;
    SupplierOffboarded(SupplierDecision) => "supplier.offboarded", Supplier, 1;
    PlanApproved(PlanApproved) => "plan.approved", Plan, 1;
    PlanExercised(PlanExercised) => "plan.exercised", Plan, 1;
    PlanRevised(PlanRevised) => "plan.revised", Plan, 1;
    IncidentReported(IncidentReported) => "incident.reported", Incident, 1;
    IncidentTriaged(IncidentTriaged) => "incident.triaged", Incident, 1;
    IncidentContained(IncidentContained) => "incident.contained", Incident, 1;
    IncidentEscalated(IncidentEscalated) => "incident.escalated", Incident, 1;
    IncidentInvestigated(IncidentInvestigated) => "incident.investigated", Incident, 1;
    IncidentClosed(IncidentClosed) => "incident.closed", Incident, 1;
    AuditPlanned(AuditPlanned) => "audit.planned", Audit, 1;
    AuditConducted(AuditConducted) => "audit.conducted", Audit, 1;
    AuditFindingRecorded(AuditFinding) => "audit.finding_recorded", Audit, 1;
    AuditReportIssued(AuditReport) => "audit.report_issued", Audit, 1;
    AuditClosed(AuditClosed) => "audit.closed", Audit, 1;
    AssessmentStarted(AssessmentStarted) => "assessment.started", Assessment, 1;
    AssessmentRequirementRated(RequirementRated) => "assessment.requirement_rated", Assessment, 1;
    AssessmentCompleted(AssessmentCompleted) => "assessment.completed", Assessment, 1;
    ReviewScheduled(ReviewScheduled) => "review.scheduled", Review, 1;
    ReviewInputsSealed(ReviewInputsSealed) => "review.inputs_sealed", Review, 1;
    ReviewHeld(ReviewHeld) => "review.held", Review, 1;
    ReviewDecisionRecorded(ReviewDecision) => "review.decision_recorded", Review, 1;
    ReviewClosed(ReviewClosed) => "review.closed", Review, 1;
    NonconformityRaised(NonconformityRaised) => "nonconformity.raised", Nonconformity, 1;
    NonconformityRootCauseIdentified(RootCauseIdentified) => "nonconformity.root_cause_identified", Nonconformity, 1;
    NonconformityClosed(NonconformityClosed) => "nonconformity.closed", Nonconformity, 1;
    CorrectiveActionPlanned(CorrectiveActionPlanned) => "corrective_action.planned", CorrectiveAction, 1;
    CorrectiveActionCompleted(CorrectiveActionCompleted) => "corrective_action.completed", CorrectiveAction, 1;
    CorrectiveActionVerified(CorrectiveActionVerified) => "corrective_action.verified", CorrectiveAction, 1;
    ImprovementRecorded(ImprovementRecorded) => "improvement.recorded", Improvement, 1;
}

/// Schemas of superseded versions that stored events may still carry; [`crate::upcast`]
/// reads each of them as the current version.
fn legacy_schemas() -> Vec<(&'static str, u32, RootSchema)> {
    vec![("risk.assessed", 1, schemars::schema_for!(RiskAssessedV1))]
}

/// The event type named `name`, if any.
pub fn event_type(name: &str) -> Option<&'static EventType> {
    EVENT_TYPES.iter().find(|t| t.name == name)
}

/// Reads a stored payload back into an event, upcasting older schema versions.
pub fn decode(event_type: &str, schema_version: u32, data: &Value) -> Result<Event, DecodeError> {
    let known = self::event_type(event_type)
        .ok_or_else(|| DecodeError::UnknownType(event_type.to_owned()))?;
    let payload_error = |e: serde_json::Error| DecodeError::Payload {
        event_type: known.name.to_owned(),
        version: schema_version,
        message: e.to_string(),
    };
    if !data.is_object() {
        return Err(payload_error(serde::de::Error::custom(
            "data must be a JSON object",
        )));
    }
    let current = if schema_version == known.version {
        data.clone()
    } else if (1..known.version).contains(&schema_version) {
        crate::upcast::upcast(known.name, schema_version, data).map_err(payload_error)?
    } else {
        return Err(DecodeError::UnsupportedVersion {
            event_type: known.name.to_owned(),
            version: schema_version,
            current: known.version,
        });
    };
    Event::from_current(known.name, current).map_err(payload_error)
}

/// One JSON Schema file: `schemas/<type>.v<N>.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaFile {
    /// The event type.
    pub event_type: &'static str,
    /// The schema version.
    pub version: u32,
    /// The file's text (pretty JSON, trailing newline).
    pub text: String,
}

impl SchemaFile {
    /// The file name, e.g. `risk.assessed.v2.json`.
    pub fn file_name(&self) -> String {
        format!("{}.v{}.json", self.event_type, self.version)
    }
}

/// Every schema, current and legacy, generated from the Rust types.
pub fn schema_files() -> Vec<SchemaFile> {
    let mut all = current_schemas();
    all.extend(legacy_schemas());
    all.into_iter()
        .map(|(event_type, version, mut schema)| {
            let meta = schema.schema.metadata();
            meta.title = Some(event_type.to_owned());
            meta.id = Some(format!(
                "https://custodia.dev/schemas/{event_type}.v{version}.json"
            ));
            let mut value = serde_json::to_value(&schema).expect("schemas serialize");
            integral_numbers(&mut value);
            let text = serde_json::to_string_pretty(&value).expect("schemas serialize") + "\n";
            SchemaFile {
                event_type,
                version,
                text,
            }
        })
        .collect()
}

/// schemars writes bounds as floats (`"maximum": 9007199254740991.0`); validators that parse
/// with plain f64 may round such a bound, so whole numbers are written as integers.
fn integral_numbers(value: &mut Value) {
    match value {
        Value::Number(n) => {
            if let Some(f) = n
                .as_f64()
                .filter(|f| n.is_f64() && f.fract() == 0.0 && f.abs() < 9.1e15)
            {
                *n = serde_json::Number::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers),
        Value::Object(map) => map.values_mut().for_each(integral_numbers),
        _ => {}
    }
}

/// An event in its place: stream, position, business time and accountable actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The stream, e.g. `risk/R-0007`.
    pub stream: StreamId,
    /// Position in the stream: 1 for the first event, then +1.
    pub version: u64,
    /// When it happened (valid time).
    pub occurred_at: Timestamp,
    /// Who is accountable.
    pub actor: Actor,
    /// What happened.
    pub event: Event,
}

impl Envelope {
    /// The ledger's `event` object without `meta`: stream, version, type, schema,
    /// occurred_at, actor, data.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("stream".into(), Value::String(self.stream.to_string()));
        m.insert("version".into(), Value::from(self.version));
        m.insert("type".into(), Value::String(self.event.event_type().into()));
        m.insert("schema".into(), Value::from(self.event.schema_version()));
        m.insert(
            "occurred_at".into(),
            Value::String(self.occurred_at.to_string()),
        );
        m.insert("actor".into(), Value::String(self.actor.to_string()));
        m.insert("data".into(), self.event.data());
        Value::Object(m)
    }

    /// Reads a ledger `event` object (extra members such as `meta` are ignored).
    pub fn from_json(value: &Value) -> Result<Envelope, DecodeError> {
        let stream = StreamId::parse(str_field(value, "stream")?).map_err(|e| bad("stream", e))?;
        let version = value
            .get("version")
            .and_then(Value::as_u64)
            .filter(|v| *v >= 1);
        let version = version.ok_or_else(|| bad("version", "must be an integer >= 1"))?;
        let schema = value
            .get("schema")
            .and_then(Value::as_u64)
            .and_then(|v| u32::try_from(v).ok());
        let schema = schema.ok_or_else(|| bad("schema", "must be a positive integer"))?;
        let occurred_at = Timestamp::parse(str_field(value, "occurred_at")?)
            .map_err(|e| bad("occurred_at", e))?;
        let actor = Actor::new(str_field(value, "actor")?).map_err(|e| bad("actor", e))?;
        let data = value.get("data").ok_or_else(|| bad("data", "missing"))?;
        let event = decode(str_field(value, "type")?, schema, data)?;
        if event.stream_kind() != stream.kind() {
            let (stream, event_type) = (stream.to_string(), event.event_type().to_owned());
            return Err(DecodeError::WrongStream { stream, event_type });
        }
        Ok(Envelope {
            stream,
            version,
            occurred_at,
            actor,
            event,
        })
    }
}

fn bad(field: &'static str, message: impl ToString) -> DecodeError {
    DecodeError::Envelope {
        field,
        message: message.to_string(),
    }
}

fn str_field<'a>(value: &'a Value, field: &'static str) -> Result<&'a str, DecodeError> {
    value
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| bad(field, "must be a string"))
}
